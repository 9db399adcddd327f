/*
 * sqlite_jobs.c - the daemon's asynchronous jobs in the SQLite back end.
 *
 * A job is held through a lease, as an execution is: claiming writes the handle's random token
 * (tsl_store_owner.token) and a lease end into the row, inside a write transaction, so two
 * workers never hold one job; heartbeat and finish act only when the row still carries the
 * caller's token. Nothing needs to notice a dead worker: a Running job whose lease ended is
 * claimable again, which is what makes jobs survive kill -9 and restarts (at the price of
 * running the job again: the work must be idempotent, as a batch forecast is).
 */
#include "store/sqlite_be.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "tsloop/mem.h"

#define JOB_COLS                                                                                   \
    "id, kind, endpoint, status, request, result, error, who, attempts, lease_until_ms, "          \
    "created_ms, coalesce(started_ms, 0), coalesce(ended_ms, 0)"

static const char SQL_JOB_INSERT[] =
    "INSERT INTO jobs(kind, endpoint, status, request, who, created_ms) "
    "VALUES (?1, ?2, 'Queued', ?3, ?4, ?5)";
static const char SQL_JOB_GET[] = "SELECT " JOB_COLS " FROM jobs WHERE id = ?1";
static const char SQL_JOB_NEXT[] =
    "SELECT id FROM jobs WHERE (?1 IS NULL OR kind = ?1) AND (status = 'Queued' OR "
    "(status = 'Running' AND lease_until_ms < ?2)) ORDER BY id LIMIT 1";
static const char SQL_JOB_TAKE[] =
    "UPDATE jobs SET status = 'Running', owner = ?2, lease_until_ms = ?3, attempts = attempts + 1, "
    "started_ms = coalesce(started_ms, ?4) WHERE id = ?1";
static const char SQL_JOB_OWNER[] = "SELECT status, owner FROM jobs WHERE id = ?1";
static const char SQL_JOB_RENEW[] = "UPDATE jobs SET lease_until_ms = ?2 WHERE id = ?1";
static const char SQL_JOB_END[] =
    "UPDATE jobs SET status = ?2, result = ?3, error = ?4, ended_ms = ?5, owner = NULL, "
    "lease_until_ms = 0 WHERE id = ?1";

/* A job row (JOB_COLS) into j. */
static void read_job(sqlite3_stmt *st, tsl_store_job *j) {
    static const char *const names[] = {"Queued", "Running", "Failed", "Succeeded"};
    const char *status = (const char *)sqlite3_column_text(st, 3);
    j->id = sqlite3_column_int64(st, 0);
    j->kind = tsl_sq_col_str(st, 1);
    j->endpoint = tsl_sq_col_str(st, 2);
    j->status = TSL_JOB_QUEUED;
    for (int k = 0; k < 4; k++)
        if (status && !strcmp(status, names[k])) j->status = (tsl_job_status)k;
    j->request = tsl_sq_col_str(st, 4);
    j->result = tsl_sq_col_str(st, 5);
    j->error = tsl_sq_col_str(st, 6);
    j->who = tsl_sq_col_str(st, 7);
    j->attempts = sqlite3_column_int(st, 8);
    j->lease_until_ms = sqlite3_column_int64(st, 9);
    j->created_ms = sqlite3_column_int64(st, 10);
    j->started_ms = sqlite3_column_int64(st, 11);
    j->ended_ms = sqlite3_column_int64(st, 12);
}

typedef struct job_ctx {
    const char *kind, *endpoint, *request, *who, *result, *error;
    int64_t id;
    tsl_store_job *out;
    int found;
} job_ctx;

/* Drops a partial result after a rollback. */
static void job_clear(void *vctx) {
    job_ctx *c = vctx;
    if (c->out) tsl_store_job_release(c->out);
    c->found = 0;
}

/* Reads job c->id into c->out; TSL_ENOTFOUND when there is none. */
static tsl_err job_read(sq *q, job_ctx *c, tsl_diag *d) {
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_JOB_GET, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, c->id);
    if ((err = tsl_sq_step(q, st, &row, d))) return err;
    if (!row) return tsl_diag_set(d, TSL_ENOTFOUND, "no job %lld", (long long)c->id);
    read_job(st, c->out);
    sqlite3_reset(st);
    return TSL_OK;
}

/* The transaction of tsl_sq_job_create. */
static tsl_err create_body(sq *q, void *vctx, tsl_diag *d) {
    job_ctx *c = vctx;
    sqlite3_stmt *st;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_JOB_INSERT, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, c->kind);
    tsl_sq_bind_text(q, st, 2, c->endpoint);
    tsl_sq_bind_text(q, st, 3, c->request);
    tsl_sq_bind_text(q, st, 4, c->who);
    tsl_sq_bind_int(q, st, 5, tsl_sto_now(q->s));
    if ((err = tsl_sq_exec(q, st, d))) return err;
    c->id = sqlite3_last_insert_rowid(q->db);
    char subject[48];
    snprintf(subject, sizeof subject, "job:%lld", (long long)c->id);
    return tsl_sq_event_own(q, "job.created", subject,
                            tsl_sto_json("{s:I, s:s, s:s?, s:s}", "job", (json_int_t)c->id, "kind",
                                         c->kind, "endpoint", c->endpoint, "who", c->who),
                            d);
}

tsl_err tsl_sq_job_create(tsl_store *s, const char *kind, const char *endpoint, const char *request,
                          const char *who, int64_t *id, tsl_diag *d) {
    job_ctx c = {.kind = kind, .endpoint = endpoint, .request = request, .who = who};
    tsl_err err = tsl_sq_tx(sq_of(s), 1, create_body, NULL, &c, d);
    if (!err) *id = c.id;
    return err;
}

/* The transaction of tsl_sq_job_get. */
static tsl_err get_body(sq *q, void *vctx, tsl_diag *d) {
    return job_read(q, vctx, d);
}

tsl_err tsl_sq_job_get(tsl_store *s, int64_t id, tsl_store_job *out, tsl_diag *d) {
    job_ctx c = {.id = id, .out = out};
    return tsl_sq_tx(sq_of(s), 0, get_body, job_clear, &c, d);
}

/* The transaction of tsl_sq_job_claim. */
static tsl_err claim_body(sq *q, void *vctx, tsl_diag *d) {
    job_ctx *c = vctx;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    int64_t now = tsl_sto_now(q->s);
    if ((err = tsl_sq_prepare(q, SQL_JOB_NEXT, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, c->kind);
    tsl_sq_bind_int(q, st, 2, now);
    if ((err = tsl_sq_step(q, st, &row, d))) return err;
    if (!row) return TSL_OK;
    c->id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if ((err = tsl_sq_prepare(q, SQL_JOB_TAKE, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, c->id);
    tsl_sq_bind_text(q, st, 2, q->s->self.token);
    tsl_sq_bind_int(q, st, 3, now + q->s->lease_ms);
    tsl_sq_bind_int(q, st, 4, now);
    if ((err = tsl_sq_exec(q, st, d))) return err;
    if ((err = job_read(q, c, d))) return err;
    c->found = 1;
    return TSL_OK;
}

tsl_err tsl_sq_job_claim(tsl_store *s, const char *kind, tsl_store_job *out, int *claimed,
                         tsl_diag *d) {
    tsl_store_job got = {0};
    job_ctx c = {.kind = kind, .out = &got};
    tsl_err err = tsl_sq_tx(sq_of(s), 1, claim_body, job_clear, &c, d);
    if (err) return err;
    *claimed = c.found;
    if (c.found) *out = got;
    return TSL_OK;
}

/* Checks that this handle holds job c->id (Running, its token). */
static tsl_err check_holder(sq *q, job_ctx *c, tsl_diag *d) {
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_JOB_OWNER, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, c->id);
    if ((err = tsl_sq_step(q, st, &row, d))) return err;
    if (!row) return tsl_diag_set(d, TSL_ENOTFOUND, "no job %lld", (long long)c->id);
    const char *status = (const char *)sqlite3_column_text(st, 0);
    const char *owner = (const char *)sqlite3_column_text(st, 1);
    int mine = status && !strcmp(status, "Running") && owner && !strcmp(owner, q->s->self.token);
    sqlite3_reset(st);
    if (!mine)
        return tsl_diag_set(d, TSL_ECONFLICT,
                            "job %lld is not held by this worker (its lease expired and another "
                            "took it, or it ended)",
                            (long long)c->id);
    return TSL_OK;
}

/* The transaction of tsl_sq_job_heartbeat. */
static tsl_err heartbeat_body(sq *q, void *vctx, tsl_diag *d) {
    job_ctx *c = vctx;
    sqlite3_stmt *st;
    tsl_err err;
    if ((err = check_holder(q, c, d))) return err;
    if ((err = tsl_sq_prepare(q, SQL_JOB_RENEW, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, c->id);
    tsl_sq_bind_int(q, st, 2, tsl_sto_now(q->s) + q->s->lease_ms);
    return tsl_sq_exec(q, st, d);
}

tsl_err tsl_sq_job_heartbeat(tsl_store *s, int64_t id, tsl_diag *d) {
    job_ctx c = {.id = id};
    return tsl_sq_tx(sq_of(s), 1, heartbeat_body, NULL, &c, d);
}

/* The transaction of tsl_sq_job_finish. */
static tsl_err finish_body(sq *q, void *vctx, tsl_diag *d) {
    job_ctx *c = vctx;
    sqlite3_stmt *st;
    tsl_err err;
    if ((err = check_holder(q, c, d))) return err;
    if ((err = tsl_sq_prepare(q, SQL_JOB_END, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, c->id);
    tsl_sq_bind_text(q, st, 2, c->error ? "Failed" : "Succeeded");
    tsl_sq_bind_text(q, st, 3, c->error ? NULL : c->result);
    tsl_sq_bind_text(q, st, 4, c->error);
    tsl_sq_bind_int(q, st, 5, tsl_sto_now(q->s));
    if ((err = tsl_sq_exec(q, st, d))) return err;
    char subject[48];
    snprintf(subject, sizeof subject, "job:%lld", (long long)c->id);
    return tsl_sq_event_own(q, "job.finished", subject,
                            tsl_sto_json("{s:I, s:s, s:s?}", "job", (json_int_t)c->id, "status",
                                         c->error ? "Failed" : "Succeeded", "error", c->error),
                            d);
}

tsl_err tsl_sq_job_finish(tsl_store *s, int64_t id, const char *result, const char *error,
                          tsl_diag *d) {
    job_ctx c = {.id = id, .result = result, .error = error};
    return tsl_sq_tx(sq_of(s), 1, finish_body, NULL, &c, d);
}

static const char SQL_JOB_COUNTS[] = "SELECT status, count(*) FROM jobs GROUP BY status";
static const char SQL_EXEC_COUNTS[] = "SELECT status, count(*) FROM executions GROUP BY status";

typedef struct counts_ctx {
    uint64_t *jobs, *execs;
} counts_ctx;

/* Drops partial counts after a rollback. */
static void counts_clear(void *vctx) {
    counts_ctx *c = vctx;
    memset(c->jobs, 0, 4 * sizeof *c->jobs);
    memset(c->execs, 0, 6 * sizeof *c->execs);
}

/* Adds the (status, count) rows of sql to counts, statuses named as in names (n). */
static tsl_err count_rows(sq *q, const char *sql, const char *const *names, size_t n,
                          uint64_t *counts, tsl_diag *d) {
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, sql, &st, d))) return err;
    while (!(err = tsl_sq_step(q, st, &row, d)) && row) {
        const char *status = (const char *)sqlite3_column_text(st, 0);
        for (size_t k = 0; k < n; k++)
            if (status && !strcmp(status, names[k]))
                counts[k] += (uint64_t)sqlite3_column_int64(st, 1);
    }
    return err;
}

/* The transaction of tsl_sq_status_counts. */
static tsl_err counts_body(sq *q, void *vctx, tsl_diag *d) {
    counts_ctx *c = vctx;
    static const char *const jobs[] = {"Queued", "Running", "Failed", "Succeeded"};
    static const char *const execs[] = {"Queued",  "Executing", "Stopping",
                                        "Stopped", "Failed",    "Succeeded"};
    tsl_err err = count_rows(q, SQL_JOB_COUNTS, jobs, 4, c->jobs, d);
    if (!err) err = count_rows(q, SQL_EXEC_COUNTS, execs, 6, c->execs, d);
    return err;
}

tsl_err tsl_sq_status_counts(tsl_store *s, uint64_t jobs[4], uint64_t executions[6], tsl_diag *d) {
    counts_ctx c = {jobs, executions};
    counts_clear(&c);
    return tsl_sq_tx(sq_of(s), 0, counts_body, counts_clear, &c, d);
}
