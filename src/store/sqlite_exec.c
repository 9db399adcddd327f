/*
 * sqlite_exec.c - persisted pipeline executions in the SQLite back end: requests with dedupe
 * keys, claiming by workers, steps and their attempts, leases, stops and crash recovery.
 *
 * The rules live in store.h; this file keeps them with three devices:
 * - Exclusion. "At most one active and one queued execution per forecaster" is checked by the
 *   request and claim transactions and enforced again by two partial unique indexes, so two
 *   workers racing on another back end would get a constraint error, never a second run.
 *   Every operation here is one write transaction (BEGIN IMMEDIATE), so claims are serialised.
 * - Ownership. A claimed execution records its worker (a per-handle token, plus host, boot id,
 *   pid and process start time) and a lease expiry. Step and heartbeat calls check the token
 *   and push the lease; a worker that finds its token gone must drop the work.
 * - Recovery. Every claim first sweeps the executions held by workers that are gone
 *   (tsl_sto_owner_dead): a running attempt becomes a failed one, and the execution retries
 *   that step under its retry policy, resumes after its last completed step, stops (when a
 *   stop was pending) or fails with the reason. Because the sweep and the claim are one
 *   transaction, an execution is never both recovered and lost, nor run twice.
 */
#include "store/sqlite_be.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsloop/mem.h"

#define EXEC_COLS                                                                                  \
    "id, forecaster, status, trigger, dedupe_key, params, who, reason, created_ms, started_ms, "   \
    "ended_ms, not_before_ms, owner, owner_host, owner_boot, owner_pid, owner_start, "             \
    "lease_until_ms, requests, recoveries, retry_max, retry_first_ms, retry_factor, "              \
    "retry_cap_ms"

static const char SQL_EXEC_GET[] = "SELECT " EXEC_COLS " FROM executions WHERE id = ?1";
static const char SQL_EXEC_LIST[] = "SELECT " EXEC_COLS " FROM executions "
                                    "WHERE ?1 IS NULL OR forecaster = ?1 ORDER BY id DESC LIMIT ?2";
static const char SQL_STEPS_OF[] =
    "SELECT name, status, next_retry_ms, output, length(output_blob) FROM execution_steps "
    "WHERE execution_id = ?1 ORDER BY seq";
static const char SQL_ATTEMPTS_OF[] =
    "SELECT number, status, started_ms, ended_ms, error, worker FROM step_attempts "
    "WHERE execution_id = ?1 AND name = ?2 ORDER BY number";

/* ---- reading ---- */

/* What the checks need of an execution. */
typedef struct xstate {
    int64_t id;
    tsl_exec_status status;
    int held; /* some worker holds it */
    int mine; /* this handle holds it */
    char forecaster[TSL_STORE_NAME_MAX + 1];
    char worker[300]; /* "host:pid" of the holder */
    char host[256], boot[40];
    int64_t pid, start, lease_until;
    int recoveries;
    tsl_store_retry retry;
} xstate;

/* Reads an execution row (EXEC_COLS) into x. */
static tsl_err read_state(sq *q, sqlite3_stmt *st, xstate *x, tsl_diag *d) {
    memset(x, 0, sizeof *x);
    x->id = sqlite3_column_int64(st, 0);
    tsl_strlcpy(x->forecaster, (const char *)sqlite3_column_text(st, 1), sizeof x->forecaster);
    if (tsl_sto_exec_status_parse((const char *)sqlite3_column_text(st, 2), &x->status))
        return tsl_diag_set(d, TSL_ECORRUPT, "store %s: execution %lld has an unknown status",
                            q->s->location, (long long)x->id);
    const char *owner = (const char *)sqlite3_column_text(st, 12);
    x->held = owner != NULL;
    x->mine = owner && !strcmp(owner, q->s->self.token);
    if (x->held) {
        const char *host = (const char *)sqlite3_column_text(st, 13);
        const char *boot = (const char *)sqlite3_column_text(st, 14);
        tsl_strlcpy(x->host, host ? host : "", sizeof x->host);
        tsl_strlcpy(x->boot, boot ? boot : "", sizeof x->boot);
        x->pid = sqlite3_column_int64(st, 15);
        x->start = sqlite3_column_int64(st, 16);
        x->lease_until = sqlite3_column_int64(st, 17);
        snprintf(x->worker, sizeof x->worker, "%s:%lld", x->host, (long long)x->pid);
    }
    x->recoveries = sqlite3_column_int(st, 19);
    x->retry.max_attempts = sqlite3_column_int(st, 20);
    x->retry.first_delay_ms = sqlite3_column_int64(st, 21);
    x->retry.factor = sqlite3_column_double(st, 22);
    x->retry.max_delay_ms = sqlite3_column_int64(st, 23);
    return TSL_OK;
}

/* The state of execution id, or TSL_ENOTFOUND. */
static tsl_err load_state(sq *q, int64_t id, xstate *x, tsl_diag *d) {
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_EXEC_GET, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, id);
    if ((err = tsl_sq_step(q, st, &row, d))) return err;
    if (!row)
        return tsl_diag_set(d, TSL_ENOTFOUND, "store %s: no execution %lld", q->s->location,
                            (long long)id);
    err = read_state(q, st, x, d);
    sqlite3_reset(st);
    return err;
}

/* Reads the steps and attempts of execution e->id into e. */
static tsl_err read_steps(sq *q, tsl_store_exec *e, tsl_diag *d) {
    sqlite3_stmt *st, *at;
    int row = 0;
    tsl_err err;
    size_t cap = 0;
    if ((err = tsl_sq_prepare(q, SQL_STEPS_OF, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, e->id);
    while (!(err = tsl_sq_step(q, st, &row, d)) && row) {
        e->steps = sq_grow(e->steps, &cap, e->nsteps, sizeof *e->steps);
        tsl_store_step *sp = &e->steps[e->nsteps++];
        memset(sp, 0, sizeof *sp);
        sp->name = tsl_sq_col_str(st, 0);
        if (tsl_sto_step_status_parse((const char *)sqlite3_column_text(st, 1), &sp->status)) {
            sqlite3_reset(st);
            return tsl_diag_set(d, TSL_ECORRUPT,
                                "store %s: execution %lld: a step has an unknown "
                                "status",
                                q->s->location, (long long)e->id);
        }
        sp->next_retry_ms = sqlite3_column_int64(st, 2);
        sp->output = tsl_sq_col_str(st, 3);
        sp->output_blob_len = (size_t)sqlite3_column_int64(st, 4);
    }
    if (err) return err;
    for (size_t i = 0; i < e->nsteps; i++) {
        tsl_store_step *sp = &e->steps[i];
        size_t acap = 0;
        if ((err = tsl_sq_prepare(q, SQL_ATTEMPTS_OF, &at, d))) return err;
        tsl_sq_bind_int(q, at, 1, e->id);
        tsl_sq_bind_text(q, at, 2, sp->name);
        while (!(err = tsl_sq_step(q, at, &row, d)) && row) {
            sp->attempts = sq_grow(sp->attempts, &acap, sp->nattempts, sizeof *sp->attempts);
            tsl_store_attempt *a = &sp->attempts[sp->nattempts++];
            memset(a, 0, sizeof *a);
            a->number = sqlite3_column_int(at, 0);
            if (tsl_sto_step_status_parse((const char *)sqlite3_column_text(at, 1), &a->status))
                a->status = TSL_STEP_FAILED;
            a->started_ms = sqlite3_column_int64(at, 2);
            a->ended_ms = sqlite3_column_int64(at, 3);
            a->error = tsl_sq_col_str(at, 4);
            a->worker = tsl_sq_col_str(at, 5);
        }
        if (err) return err;
    }
    return TSL_OK;
}

/* Reads an execution row (EXEC_COLS) and its steps into e. */
static tsl_err read_exec(sq *q, sqlite3_stmt *st, tsl_store_exec *e, tsl_diag *d) {
    xstate x;
    tsl_err err = read_state(q, st, &x, d);
    if (err) return err;
    memset(e, 0, sizeof *e);
    e->id = x.id;
    e->forecaster = tsl_sq_col_str(st, 1);
    e->status = x.status;
    e->trigger = tsl_sq_col_str(st, 3);
    e->dedupe_key = tsl_sq_col_str(st, 4);
    e->params = tsl_sq_col_str(st, 5);
    e->who = tsl_sq_col_str(st, 6);
    e->reason = tsl_sq_col_str(st, 7);
    e->created_ms = sqlite3_column_int64(st, 8);
    e->started_ms = sqlite3_column_int64(st, 9);
    e->ended_ms = sqlite3_column_int64(st, 10);
    e->not_before_ms = sqlite3_column_int64(st, 11);
    if (x.held) {
        e->owner = tsl_strdup(x.worker);
        e->lease_until_ms = x.lease_until;
        e->owner_dead = tsl_sto_owner_dead(q->s, x.host, x.boot, x.pid, x.start, x.lease_until,
                                           tsl_sto_now(q->s));
    }
    e->requests = sqlite3_column_int(st, 18);
    e->recoveries = x.recoveries;
    e->retry = x.retry;
    return TSL_OK;
}

/* Reads execution id completely into e. */
static tsl_err get_exec(sq *q, int64_t id, tsl_store_exec *e, tsl_diag *d) {
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_EXEC_GET, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, id);
    if ((err = tsl_sq_step(q, st, &row, d))) return err;
    if (!row)
        return tsl_diag_set(d, TSL_ENOTFOUND, "store %s: no execution %lld", q->s->location,
                            (long long)id);
    err = read_exec(q, st, e, d);
    sqlite3_reset(st);
    if (!err) err = read_steps(q, e, d);
    return err;
}

/* ---- changing ---- */

static const char SQL_EXEC_STATUS[] =
    "UPDATE executions SET status = ?2, reason = coalesce(?3, reason) WHERE id = ?1";
static const char SQL_EXEC_END[] =
    "UPDATE executions SET status = ?2, reason = ?3, ended_ms = ?4, owner = NULL, "
    "owner_host = NULL, owner_boot = NULL, owner_pid = NULL, owner_start = NULL, "
    "lease_until_ms = NULL WHERE id = ?1";
static const char SQL_EXEC_RELEASE[] =
    "UPDATE executions SET owner = NULL, owner_host = NULL, owner_boot = NULL, owner_pid = NULL, "
    "owner_start = NULL, lease_until_ms = NULL, not_before_ms = ?2, "
    "recoveries = recoveries + ?3 WHERE id = ?1";
static const char SQL_EXEC_TAKE[] =
    "UPDATE executions SET status = 'Executing', started_ms = coalesce(started_ms, ?2), "
    "owner = ?3, owner_host = ?4, owner_boot = ?5, owner_pid = ?6, owner_start = ?7, "
    "lease_until_ms = ?8 WHERE id = ?1";
static const char SQL_EXEC_LEASE[] = "UPDATE executions SET lease_until_ms = ?2 WHERE id = ?1";
static const char SQL_RUNNING_ATTEMPT[] =
    "SELECT name, number FROM step_attempts WHERE execution_id = ?1 AND status = 'Running'";
static const char SQL_ATTEMPT_END[] =
    "UPDATE step_attempts SET status = ?4, ended_ms = ?5, error = ?6 "
    "WHERE execution_id = ?1 AND name = ?2 AND number = ?3";
static const char SQL_STEP_END[] =
    "UPDATE execution_steps SET status = ?3, next_retry_ms = ?4 WHERE execution_id = ?1 AND "
    "name = ?2";

/* Records execution.status for a change from `from` to `to`. */
static tsl_err status_event(sq *q, const xstate *x, tsl_exec_status from, tsl_exec_status to,
                            const char *reason, tsl_diag *d) {
    char subject[64];
    snprintf(subject, sizeof subject, "execution:%lld", (long long)x->id);
    return tsl_sq_event_own(q, "execution.status", subject,
                            tsl_sto_json("{s:I, s:s, s:s, s:s, s:s?}", "execution",
                                         (json_int_t)x->id, "forecaster", x->forecaster, "from",
                                         tsl_exec_status_name(from), "to", tsl_exec_status_name(to),
                                         "reason", reason),
                            d);
}

/* Ends execution x with terminal status `to`, releasing it. */
static tsl_err end_exec(sq *q, const xstate *x, tsl_exec_status to, const char *reason,
                        tsl_diag *d) {
    sqlite3_stmt *st;
    tsl_err err;
    if (!tsl_sto_exec_transition_ok(x->status, to))
        return tsl_diag_set(d, TSL_ECONFLICT, "store %s: execution %lld cannot go from %s to %s",
                            q->s->location, (long long)x->id, tsl_exec_status_name(x->status),
                            tsl_exec_status_name(to));
    if ((err = tsl_sq_prepare(q, SQL_EXEC_END, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, x->id);
    tsl_sq_bind_text(q, st, 2, tsl_exec_status_name(to));
    tsl_sq_bind_text(q, st, 3, reason);
    tsl_sq_bind_int(q, st, 4, tsl_sto_now(q->s));
    if ((err = tsl_sq_exec(q, st, d))) return err;
    return status_event(q, x, x->status, to, reason, d);
}

/* Releases execution x (no worker holds it) until not_before; counts a recovery when
 * recovered. */
static tsl_err release(sq *q, const xstate *x, int64_t not_before, int recovered, tsl_diag *d) {
    sqlite3_stmt *st;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_EXEC_RELEASE, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, x->id);
    tsl_sq_bind_int(q, st, 2, not_before);
    tsl_sq_bind_int(q, st, 3, recovered);
    return tsl_sq_exec(q, st, d);
}

/* Pushes x's lease one lease period past now. */
static tsl_err renew(sq *q, const xstate *x, tsl_diag *d) {
    sqlite3_stmt *st;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_EXEC_LEASE, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, x->id);
    tsl_sq_bind_int(q, st, 2, tsl_sto_now(q->s) + q->s->lease_ms);
    return tsl_sq_exec(q, st, d);
}

/* The running attempt of x, if any: *found, its step name (cap bytes) and number. */
static tsl_err running_attempt(sq *q, int64_t id, int *found, char *name, size_t cap, int *number,
                               tsl_diag *d) {
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_RUNNING_ATTEMPT, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, id);
    if ((err = tsl_sq_step(q, st, &row, d))) return err;
    *found = row;
    if (row) {
        tsl_strlcpy(name, (const char *)sqlite3_column_text(st, 0), cap);
        *number = sqlite3_column_int(st, 1);
    }
    sqlite3_reset(st);
    return TSL_OK;
}

/* Ends attempt `number` of step `step` with status (and error), and the step likewise. */
static tsl_err end_attempt(sq *q, int64_t id, const char *step, int number, tsl_step_status status,
                           const char *error, int64_t next_retry, tsl_diag *d) {
    sqlite3_stmt *st;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_ATTEMPT_END, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, id);
    tsl_sq_bind_text(q, st, 2, step);
    tsl_sq_bind_int(q, st, 3, number);
    tsl_sq_bind_text(q, st, 4, tsl_step_status_name(status));
    tsl_sq_bind_int(q, st, 5, tsl_sto_now(q->s));
    tsl_sq_bind_text(q, st, 6, error);
    if ((err = tsl_sq_exec(q, st, d))) return err;
    if ((err = tsl_sq_prepare(q, SQL_STEP_END, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, id);
    tsl_sq_bind_text(q, st, 2, step);
    tsl_sq_bind_text(q, st, 3, tsl_step_status_name(status));
    tsl_sq_bind_int(q, st, 4, next_retry);
    return tsl_sq_exec(q, st, d);
}

/* TSL_ECONFLICT unless this handle holds x. */
static tsl_err require_mine(sq *q, const xstate *x, tsl_diag *d) {
    if (x->mine && (x->status == TSL_EXEC_EXECUTING || x->status == TSL_EXEC_STOPPING))
        return TSL_OK;
    if (tsl_exec_status_terminal(x->status))
        return tsl_diag_set(d, TSL_ECONFLICT, "store %s: execution %lld already ended (%s)",
                            q->s->location, (long long)x->id, tsl_exec_status_name(x->status));
    if (x->held)
        return tsl_diag_set(d, TSL_ECONFLICT,
                            "store %s: execution %lld is held by worker %s, not this one",
                            q->s->location, (long long)x->id, x->worker);
    return tsl_diag_set(d, TSL_ECONFLICT,
                        "store %s: execution %lld is not held by this worker (%s; it was "
                        "released or recovered)",
                        q->s->location, (long long)x->id, tsl_exec_status_name(x->status));
}

/* ---- recovery ---- */

static const char SQL_HELD[] =
    "SELECT id FROM executions WHERE status IN ('Executing', 'Stopping') AND owner IS NOT NULL "
    "ORDER BY id";

/* Takes back execution x, whose worker is gone (see store.h). */
static tsl_err recover_one(sq *q, const xstate *x, tsl_diag *d) {
    char step[TSL_STORE_NAME_MAX + 1] = {0}, msg[512], reason[768], subject[64];
    const char *outcome;
    int running = 0, number = 0;
    int64_t now = tsl_sto_now(q->s), retry_at = 0;
    tsl_err err;
    const char *how = x->lease_until <= now ? "its lease expired" : "its process is gone";
    if ((err = running_attempt(q, x->id, &running, step, sizeof step, &number, d))) return err;
    if (running) {
        snprintf(msg, sizeof msg, "worker %s died during attempt %d of step '%s' (%s)", x->worker,
                 number, step, how);
        if ((err = end_attempt(q, x->id, step, number, TSL_STEP_FAILED, msg, 0, d))) return err;
    } else {
        snprintf(msg, sizeof msg, "worker %s died between steps (%s)", x->worker, how);
    }
    if (x->status == TSL_EXEC_STOPPING) {
        snprintf(reason, sizeof reason, "stop requested; %s", msg);
        err = end_exec(q, x, TSL_EXEC_STOPPED, reason, d);
        outcome = "stopped";
    } else if (running && number < x->retry.max_attempts) {
        retry_at = now + tsl_sto_retry_delay(&x->retry, number);
        if (!(err = release(q, x, retry_at, 1, d))) {
            sqlite3_stmt *st;
            if (!(err = tsl_sq_prepare(q, SQL_STEP_END, &st, d))) {
                tsl_sq_bind_int(q, st, 1, x->id);
                tsl_sq_bind_text(q, st, 2, step);
                tsl_sq_bind_text(q, st, 3, tsl_step_status_name(TSL_STEP_FAILED));
                tsl_sq_bind_int(q, st, 4, retry_at);
                err = tsl_sq_exec(q, st, d);
            }
        }
        outcome = "retry";
    } else if (running) {
        snprintf(reason, sizeof reason, "step '%s' failed after %d attempts: %s", step, number,
                 msg);
        err = end_exec(q, x, TSL_EXEC_FAILED, reason, d);
        outcome = "failed";
    } else if (x->recoveries + 1 >= x->retry.max_attempts) {
        snprintf(reason, sizeof reason, "workers died %d times between steps; the last: %s",
                 x->recoveries + 1, msg);
        err = end_exec(q, x, TSL_EXEC_FAILED, reason, d);
        outcome = "failed";
    } else {
        err = release(q, x, now, 1, d);
        outcome = "resume";
    }
    if (err) return err;
    snprintf(subject, sizeof subject, "execution:%lld", (long long)x->id);
    return tsl_sq_event_own(q, "execution.recovered", subject,
                            tsl_sto_json("{s:I, s:s, s:s, s:s, s:s, s:I}", "execution",
                                         (json_int_t)x->id, "forecaster", x->forecaster, "worker",
                                         x->worker, "reason", msg, "outcome", outcome,
                                         "retry_at_ms", (json_int_t)retry_at),
                            d);
}

/* Recovers every execution whose worker is gone; *n counts them. */
static tsl_err recover_all(sq *q, size_t *n, tsl_diag *d) {
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    int64_t *ids = NULL;
    size_t nids = 0, cap = 0;
    *n = 0;
    if ((err = tsl_sq_prepare(q, SQL_HELD, &st, d))) return err;
    while (!(err = tsl_sq_step(q, st, &row, d)) && row) {
        ids = sq_grow(ids, &cap, nids, sizeof *ids);
        ids[nids++] = sqlite3_column_int64(st, 0);
    }
    int64_t now = tsl_sto_now(q->s);
    for (size_t i = 0; !err && i < nids; i++) {
        xstate x;
        if ((err = load_state(q, ids[i], &x, d))) break;
        if (!x.held || x.mine) continue;
        if (!tsl_sto_owner_dead(q->s, x.host, x.boot, x.pid, x.start, x.lease_until, now)) continue;
        if ((err = recover_one(q, &x, d))) break;
        (*n)++;
    }
    tsl_free(ids);
    return err;
}

typedef struct recover_ctx {
    size_t n;
} recover_ctx;

/* The transaction of tsl_sq_exec_recover. */
static tsl_err recover_body(sq *q, void *vctx, tsl_diag *d) {
    recover_ctx *c = vctx;
    return recover_all(q, &c->n, d);
}

tsl_err tsl_sq_exec_recover(tsl_store *s, size_t *recovered, tsl_diag *d) {
    recover_ctx c = {0};
    tsl_err err = tsl_sq_tx(sq_of(s), 1, recover_body, NULL, &c, d);
    if (!err) *recovered = c.n;
    return err;
}

/* ---- requests ---- */

static const char SQL_REQ_FIND[] =
    "SELECT execution_id FROM execution_requests WHERE forecaster = ?1 AND dedupe_key = ?2";
static const char SQL_EXEC_QUEUED[] =
    "SELECT id FROM executions WHERE forecaster = ?1 AND status = 'Queued'";
static const char SQL_EXEC_ACTIVE[] =
    "SELECT id FROM executions WHERE forecaster = ?1 AND status IN ('Executing', 'Stopping')";
static const char SQL_EXEC_MERGE[] = "UPDATE executions SET requests = requests + 1 WHERE id = ?1";
static const char SQL_EXEC_INSERT[] =
    "INSERT INTO executions(forecaster, status, trigger, dedupe_key, params, who, created_ms, "
    "retry_max, retry_first_ms, retry_factor, retry_cap_ms) "
    "VALUES (?1, 'Queued', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
static const char SQL_REQ_INSERT[] =
    "INSERT INTO execution_requests(execution_id, forecaster, dedupe_key, trigger, who, params, "
    "at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

/* The id of the single execution st (bound) finds, or 0. */
static tsl_err find_id(sq *q, sqlite3_stmt *st, int64_t *id, tsl_diag *d) {
    int row = 0;
    tsl_err err = tsl_sq_step(q, st, &row, d);
    *id = 0;
    if (err) return err;
    if (row) *id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return TSL_OK;
}

typedef struct request_ctx {
    const tsl_exec_request *r;
    int64_t id;
    tsl_exec_outcome how;
} request_ctx;

/* The transaction of tsl_sq_exec_request: a known key, else joining the queued execution,
 * else a new one (queued behind the active one, if any); the request row and the events. */
static tsl_err request_body(sq *q, void *vctx, tsl_diag *d) {
    request_ctx *c = vctx;
    const tsl_exec_request *r = c->r;
    sqlite3_stmt *st;
    tsl_err err;
    int64_t now = tsl_sto_now(q->s), queued = 0, active = 0;
    char subject[64];
    if ((err = tsl_sq_prepare(q, SQL_REQ_FIND, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, r->forecaster);
    tsl_sq_bind_text(q, st, 2, r->dedupe_key);
    if ((err = find_id(q, st, &c->id, d))) return err;
    if (c->id) {
        c->how = TSL_EXEC_DUPLICATE;
        return TSL_OK;
    }
    if ((err = tsl_sq_prepare(q, SQL_EXEC_QUEUED, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, r->forecaster);
    if ((err = find_id(q, st, &queued, d))) return err;
    if (queued) {
        c->id = queued;
        c->how = TSL_EXEC_MERGED;
        if ((err = tsl_sq_prepare(q, SQL_EXEC_MERGE, &st, d))) return err;
        tsl_sq_bind_int(q, st, 1, queued);
        if ((err = tsl_sq_exec(q, st, d))) return err;
    } else {
        if ((err = tsl_sq_prepare(q, SQL_EXEC_ACTIVE, &st, d))) return err;
        tsl_sq_bind_text(q, st, 1, r->forecaster);
        if ((err = find_id(q, st, &active, d))) return err;
        c->how = active ? TSL_EXEC_BEHIND : TSL_EXEC_NEW;
        if ((err = tsl_sq_prepare(q, SQL_EXEC_INSERT, &st, d))) return err;
        tsl_sq_bind_text(q, st, 1, r->forecaster);
        tsl_sq_bind_text(q, st, 2, r->trigger);
        tsl_sq_bind_text(q, st, 3, r->dedupe_key);
        tsl_sq_bind_text(q, st, 4, r->params);
        tsl_sq_bind_text(q, st, 5, r->who);
        tsl_sq_bind_int(q, st, 6, now);
        tsl_sq_bind_int(q, st, 7, r->retry.max_attempts);
        tsl_sq_bind_int(q, st, 8, r->retry.first_delay_ms);
        tsl_sq_bind_double(q, st, 9, r->retry.factor);
        tsl_sq_bind_int(q, st, 10, r->retry.max_delay_ms);
        if ((err = tsl_sq_exec(q, st, d))) return err;
        c->id = sqlite3_last_insert_rowid(q->db);
    }
    if ((err = tsl_sq_prepare(q, SQL_REQ_INSERT, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, c->id);
    tsl_sq_bind_text(q, st, 2, r->forecaster);
    tsl_sq_bind_text(q, st, 3, r->dedupe_key);
    tsl_sq_bind_text(q, st, 4, r->trigger);
    tsl_sq_bind_text(q, st, 5, r->who);
    tsl_sq_bind_text(q, st, 6, r->params);
    tsl_sq_bind_int(q, st, 7, now);
    if ((err = tsl_sq_exec(q, st, d))) return err;
    static const char *const outcome[] = {"new", "behind", "duplicate", "merged"};
    snprintf(subject, sizeof subject, "execution:%lld", (long long)c->id);
    if ((err = tsl_sq_event_own(q, "execution.requested", subject,
                                tsl_sto_json("{s:I, s:s, s:s, s:s, s:s, s:s}", "execution",
                                             (json_int_t)c->id, "forecaster", r->forecaster,
                                             "trigger", r->trigger, "dedupe_key", r->dedupe_key,
                                             "who", r->who, "outcome", outcome[c->how]),
                                d)))
        return err;
    if (c->how == TSL_EXEC_MERGED) return TSL_OK;
    xstate x;
    memset(&x, 0, sizeof x);
    x.id = c->id;
    tsl_strlcpy(x.forecaster, r->forecaster, sizeof x.forecaster);
    return tsl_sq_event_own(q, "execution.status", subject,
                            tsl_sto_json("{s:I, s:s, s:n, s:s}", "execution", (json_int_t)x.id,
                                         "forecaster", x.forecaster, "from", "to",
                                         tsl_exec_status_name(TSL_EXEC_QUEUED)),
                            d);
}

tsl_err tsl_sq_exec_request(tsl_store *s, const tsl_exec_request *r, int64_t *id,
                            tsl_exec_outcome *how, tsl_diag *d) {
    request_ctx c = {r, 0, TSL_EXEC_NEW};
    tsl_err err = tsl_sq_tx(sq_of(s), 1, request_body, NULL, &c, d);
    if (err) return err;
    *id = c.id;
    *how = c.how;
    return TSL_OK;
}

/* ---- reading executions ---- */

typedef struct get_ctx {
    int64_t id;
    tsl_store_exec *out;
} get_ctx;

/* Drops a partial execution after a rollback. */
static void get_clear(void *vctx) {
    get_ctx *c = vctx;
    tsl_store_exec_release(c->out);
}

/* The transaction of tsl_sq_exec_get. */
static tsl_err get_body(sq *q, void *vctx, tsl_diag *d) {
    get_ctx *c = vctx;
    return get_exec(q, c->id, c->out, d);
}

tsl_err tsl_sq_exec_get(tsl_store *s, int64_t id, tsl_store_exec *out, tsl_diag *d) {
    get_ctx c = {id, out};
    return tsl_sq_tx(sq_of(s), 0, get_body, get_clear, &c, d);
}

typedef struct list_ctx {
    const char *forecaster;
    size_t limit;
    tsl_store_exec *v;
    size_t n, cap;
} list_ctx;

/* Drops a partial listing after a rollback. */
static void list_clear(void *vctx) {
    list_ctx *c = vctx;
    tsl_store_exec_list_free(c->v, c->n);
    c->v = NULL;
    c->n = c->cap = 0;
}

/* The transaction of tsl_sq_exec_list. */
static tsl_err list_body(sq *q, void *vctx, tsl_diag *d) {
    list_ctx *c = vctx;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_EXEC_LIST, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, c->forecaster);
    tsl_sq_bind_int(q, st, 2, c->limit ? (int64_t)c->limit : -1);
    while (!(err = tsl_sq_step(q, st, &row, d)) && row) {
        c->v = sq_grow(c->v, &c->cap, c->n, sizeof *c->v);
        if ((err = read_exec(q, st, &c->v[c->n++], d))) {
            sqlite3_reset(st);
            return err;
        }
    }
    if (err) return err;
    /* Steps after the listing: their statements must not interleave with its cursor. */
    for (size_t i = 0; i < c->n; i++)
        if ((err = read_steps(q, &c->v[i], d))) return err;
    return TSL_OK;
}

tsl_err tsl_sq_exec_list(tsl_store *s, const char *forecaster, size_t limit, tsl_store_exec **out,
                         size_t *n, tsl_diag *d) {
    list_ctx c = {forecaster, limit, NULL, 0, 0};
    tsl_err err = tsl_sq_tx(sq_of(s), 0, list_body, list_clear, &c, d);
    if (err) return err;
    *out = c.v;
    *n = c.n;
    return TSL_OK;
}

/* ---- claiming ---- */

static const char SQL_CLAIM_RETRY[] =
    "SELECT id FROM executions WHERE status = 'Executing' AND owner IS NULL "
    "AND not_before_ms <= ?1 AND (?2 IS NULL OR forecaster = ?2) "
    "ORDER BY not_before_ms, id LIMIT 1";
static const char SQL_CLAIM_QUEUED[] =
    "SELECT e.id FROM executions e WHERE e.status = 'Queued' AND e.not_before_ms <= ?1 "
    "AND (?2 IS NULL OR e.forecaster = ?2) AND NOT EXISTS (SELECT 1 FROM executions a "
    "WHERE a.forecaster = e.forecaster AND a.status IN ('Executing', 'Stopping')) "
    "ORDER BY e.id LIMIT 1";

typedef struct claim_ctx {
    const char *forecaster;
    tsl_store_exec *out;
    int claimed;
} claim_ctx;

/* Drops a claimed execution's copy after a rollback (the claim is undone with it). */
static void claim_clear(void *vctx) {
    claim_ctx *c = vctx;
    tsl_store_exec_release(c->out);
    c->claimed = 0;
}

/* The transaction of tsl_sq_exec_claim: recovery first, then the oldest due retry, else the
 * oldest queued execution whose forecaster has nothing active. */
static tsl_err claim_body(sq *q, void *vctx, tsl_diag *d) {
    claim_ctx *c = vctx;
    sqlite3_stmt *st;
    size_t recovered = 0;
    int64_t id = 0, now = tsl_sto_now(q->s);
    tsl_err err;
    c->claimed = 0;
    if ((err = recover_all(q, &recovered, d))) return err;
    if ((err = tsl_sq_prepare(q, SQL_CLAIM_RETRY, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, now);
    tsl_sq_bind_text(q, st, 2, c->forecaster);
    if ((err = find_id(q, st, &id, d))) return err;
    if (!id) {
        if ((err = tsl_sq_prepare(q, SQL_CLAIM_QUEUED, &st, d))) return err;
        tsl_sq_bind_int(q, st, 1, now);
        tsl_sq_bind_text(q, st, 2, c->forecaster);
        if ((err = find_id(q, st, &id, d))) return err;
    }
    if (!id) return TSL_OK;
    xstate x;
    if ((err = load_state(q, id, &x, d))) return err;
    const tsl_store_owner *me = &q->s->self;
    if ((err = tsl_sq_prepare(q, SQL_EXEC_TAKE, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, id);
    tsl_sq_bind_int(q, st, 2, now);
    tsl_sq_bind_text(q, st, 3, me->token);
    tsl_sq_bind_text(q, st, 4, me->host);
    tsl_sq_bind_text(q, st, 5, me->boot);
    tsl_sq_bind_int(q, st, 6, me->pid);
    tsl_sq_bind_int(q, st, 7, me->start);
    tsl_sq_bind_int(q, st, 8, now + q->s->lease_ms);
    if ((err = tsl_sq_exec(q, st, d))) return err;
    if (x.status == TSL_EXEC_QUEUED &&
        (err = status_event(q, &x, TSL_EXEC_QUEUED, TSL_EXEC_EXECUTING, NULL, d)))
        return err;
    if ((err = get_exec(q, id, c->out, d))) return err;
    c->claimed = 1;
    return TSL_OK;
}

tsl_err tsl_sq_exec_claim(tsl_store *s, const char *forecaster, tsl_store_exec *out, int *claimed,
                          tsl_diag *d) {
    claim_ctx c = {forecaster, out, 0};
    tsl_err err = tsl_sq_tx(sq_of(s), 1, claim_body, claim_clear, &c, d);
    if (err) return err;
    *claimed = c.claimed;
    return TSL_OK;
}

/* ---- the worker's calls ---- */

typedef struct step_ctx {
    int64_t id;
    const char *step;
    const char *text; /* output or error */
    const void *blob;
    size_t blob_len;
    int retryable;
    int attempt;
    int64_t retry_at;
    tsl_exec_status status;
} step_ctx;

/* The transaction of tsl_sq_exec_heartbeat. */
static tsl_err heartbeat_body(sq *q, void *vctx, tsl_diag *d) {
    step_ctx *c = vctx;
    xstate x;
    tsl_err err;
    if ((err = load_state(q, c->id, &x, d)) || (err = require_mine(q, &x, d))) return err;
    c->status = x.status;
    return renew(q, &x, d);
}

tsl_err tsl_sq_exec_heartbeat(tsl_store *s, int64_t id, tsl_exec_status *status, tsl_diag *d) {
    step_ctx c;
    memset(&c, 0, sizeof c);
    c.id = id;
    tsl_err err = tsl_sq_tx(sq_of(s), 1, heartbeat_body, NULL, &c, d);
    if (!err) *status = c.status;
    return err;
}

static const char SQL_STEP_GET[] =
    "SELECT status, attempts FROM execution_steps WHERE execution_id = ?1 AND name = ?2";
static const char SQL_STEP_COUNT[] = "SELECT count(*) FROM execution_steps WHERE execution_id = ?1";
static const char SQL_STEP_INSERT[] =
    "INSERT INTO execution_steps(execution_id, name, seq, status, attempts) "
    "VALUES (?1, ?2, ?3, 'Running', 1)";
static const char SQL_STEP_RESTART[] =
    "UPDATE execution_steps SET status = 'Running', attempts = ?3, next_retry_ms = 0 "
    "WHERE execution_id = ?1 AND name = ?2";
static const char SQL_ATTEMPT_INSERT[] =
    "INSERT INTO step_attempts(execution_id, name, number, status, started_ms, worker) "
    "VALUES (?1, ?2, ?3, 'Running', ?4, ?5)";

/* The transaction of tsl_sq_step_begin. */
static tsl_err begin_body(sq *q, void *vctx, tsl_diag *d) {
    step_ctx *c = vctx;
    sqlite3_stmt *st;
    xstate x;
    int row = 0, running = 0, number = 0;
    char other[TSL_STORE_NAME_MAX + 1], worker[300];
    tsl_err err;
    c->attempt = 0;
    if ((err = load_state(q, c->id, &x, d)) || (err = require_mine(q, &x, d)) ||
        (err = renew(q, &x, d)))
        return err;
    c->status = x.status;
    if (x.status == TSL_EXEC_STOPPING) return TSL_OK;
    if ((err = running_attempt(q, c->id, &running, other, sizeof other, &number, d))) return err;
    if (running)
        return tsl_diag_set(d, TSL_ECONFLICT,
                            "store %s: execution %lld: attempt %d of step '%s' is still running",
                            q->s->location, (long long)c->id, number, other);
    if ((err = tsl_sq_prepare(q, SQL_STEP_GET, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, c->id);
    tsl_sq_bind_text(q, st, 2, c->step);
    if ((err = tsl_sq_step(q, st, &row, d))) return err;
    if (row) {
        int done = !strcmp((const char *)sqlite3_column_text(st, 0), "Succeeded");
        c->attempt = sqlite3_column_int(st, 1) + 1;
        sqlite3_reset(st);
        if (done)
            return tsl_diag_set(d, TSL_ECONFLICT,
                                "store %s: execution %lld: step '%s' already succeeded",
                                q->s->location, (long long)c->id, c->step);
        if ((err = tsl_sq_prepare(q, SQL_STEP_RESTART, &st, d))) return err;
        tsl_sq_bind_int(q, st, 1, c->id);
        tsl_sq_bind_text(q, st, 2, c->step);
        tsl_sq_bind_int(q, st, 3, c->attempt);
        if ((err = tsl_sq_exec(q, st, d))) return err;
    } else {
        int64_t seq = 0;
        if ((err = tsl_sq_prepare(q, SQL_STEP_COUNT, &st, d))) return err;
        tsl_sq_bind_int(q, st, 1, c->id);
        if ((err = find_id(q, st, &seq, d))) return err;
        c->attempt = 1;
        if ((err = tsl_sq_prepare(q, SQL_STEP_INSERT, &st, d))) return err;
        tsl_sq_bind_int(q, st, 1, c->id);
        tsl_sq_bind_text(q, st, 2, c->step);
        tsl_sq_bind_int(q, st, 3, seq);
        if ((err = tsl_sq_exec(q, st, d))) return err;
    }
    snprintf(worker, sizeof worker, "%s:%lld", q->s->self.host, (long long)q->s->self.pid);
    if ((err = tsl_sq_prepare(q, SQL_ATTEMPT_INSERT, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, c->id);
    tsl_sq_bind_text(q, st, 2, c->step);
    tsl_sq_bind_int(q, st, 3, c->attempt);
    tsl_sq_bind_int(q, st, 4, tsl_sto_now(q->s));
    tsl_sq_bind_text(q, st, 5, worker);
    return tsl_sq_exec(q, st, d);
}

tsl_err tsl_sq_step_begin(tsl_store *s, int64_t id, const char *step, int *attempt,
                          tsl_exec_status *status, tsl_diag *d) {
    step_ctx c;
    memset(&c, 0, sizeof c);
    c.id = id;
    c.step = step;
    tsl_err err = tsl_sq_tx(sq_of(s), 1, begin_body, NULL, &c, d);
    if (err) return err;
    *attempt = c.attempt;
    *status = c.status;
    return TSL_OK;
}

/* The running attempt of step c->step of a held execution: its number, or TSL_ECONFLICT. */
static tsl_err attempt_of(sq *q, const step_ctx *c, int *number, tsl_diag *d) {
    char name[TSL_STORE_NAME_MAX + 1];
    int running = 0;
    tsl_err err = running_attempt(q, c->id, &running, name, sizeof name, number, d);
    if (err) return err;
    if (!running || strcmp(name, c->step))
        return tsl_diag_set(d, TSL_ECONFLICT,
                            "store %s: execution %lld: step '%s' has no running attempt",
                            q->s->location, (long long)c->id, c->step);
    return TSL_OK;
}

/* Records execution.step for the end of an attempt. */
static tsl_err step_event(sq *q, const xstate *x, const step_ctx *c, int number,
                          tsl_step_status status, tsl_diag *d) {
    char subject[64];
    snprintf(subject, sizeof subject, "execution:%lld", (long long)x->id);
    return tsl_sq_event_own(q, "execution.step", subject,
                            tsl_sto_json("{s:I, s:s, s:s, s:i, s:s, s:s?, s:I}", "execution",
                                         (json_int_t)x->id, "forecaster", x->forecaster, "step",
                                         c->step, "attempt", number, "status",
                                         tsl_step_status_name(status), "error",
                                         status == TSL_STEP_FAILED ? c->text : NULL, "retry_at_ms",
                                         (json_int_t)c->retry_at),
                            d);
}

static const char SQL_STEP_OUTPUT[] =
    "UPDATE execution_steps SET output = ?3, output_blob = ?4 WHERE execution_id = ?1 AND "
    "name = ?2";

/* The transaction of tsl_sq_step_succeed. */
static tsl_err succeed_body(sq *q, void *vctx, tsl_diag *d) {
    step_ctx *c = vctx;
    sqlite3_stmt *st;
    xstate x;
    int number = 0;
    tsl_err err;
    if ((err = load_state(q, c->id, &x, d)) || (err = require_mine(q, &x, d)) ||
        (err = attempt_of(q, c, &number, d)) ||
        (err = end_attempt(q, c->id, c->step, number, TSL_STEP_SUCCEEDED, NULL, 0, d)))
        return err;
    if ((err = tsl_sq_prepare(q, SQL_STEP_OUTPUT, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, c->id);
    tsl_sq_bind_text(q, st, 2, c->step);
    tsl_sq_bind_text(q, st, 3, c->text);
    if (c->blob_len)
        tsl_sq_bind_blob(q, st, 4, c->blob, c->blob_len);
    else
        tsl_sq_bind_null(q, st, 4);
    if ((err = tsl_sq_exec(q, st, d)) || (err = renew(q, &x, d))) return err;
    return step_event(q, &x, c, number, TSL_STEP_SUCCEEDED, d);
}

tsl_err tsl_sq_step_succeed(tsl_store *s, int64_t id, const char *step, const char *output,
                            const void *blob, size_t blob_len, tsl_diag *d) {
    step_ctx c;
    memset(&c, 0, sizeof c);
    c.id = id;
    c.step = step;
    c.text = output;
    c.blob = blob;
    c.blob_len = blob_len;
    return tsl_sq_tx(sq_of(s), 1, succeed_body, NULL, &c, d);
}

/* The transaction of tsl_sq_step_fail: the attempt and step fail; the execution is released
 * for a retry, stopped (a stop was pending) or failed. */
static tsl_err fail_body(sq *q, void *vctx, tsl_diag *d) {
    step_ctx *c = vctx;
    xstate x;
    int number = 0;
    tsl_err err;
    char reason[TSL_DIAG_MAX + 128];
    c->retry_at = 0;
    if ((err = load_state(q, c->id, &x, d)) || (err = require_mine(q, &x, d)) ||
        (err = attempt_of(q, c, &number, d)))
        return err;
    int retry = c->retryable && x.status == TSL_EXEC_EXECUTING && number < x.retry.max_attempts;
    if (retry) c->retry_at = tsl_sto_now(q->s) + tsl_sto_retry_delay(&x.retry, number);
    if ((err = end_attempt(q, c->id, c->step, number, TSL_STEP_FAILED, c->text, c->retry_at, d)) ||
        (err = step_event(q, &x, c, number, TSL_STEP_FAILED, d)))
        return err;
    if (retry) return release(q, &x, c->retry_at, 0, d);
    if (x.status == TSL_EXEC_STOPPING) {
        snprintf(reason, sizeof reason, "stop requested; step '%s' failed: %s", c->step, c->text);
        return end_exec(q, &x, TSL_EXEC_STOPPED, reason, d);
    }
    snprintf(reason, sizeof reason, "step '%s' failed after %d attempt%s: %s", c->step, number,
             number == 1 ? "" : "s", c->text);
    return end_exec(q, &x, TSL_EXEC_FAILED, reason, d);
}

tsl_err tsl_sq_step_fail(tsl_store *s, int64_t id, const char *step, const char *error,
                         int retryable, int64_t *retry_at_ms, tsl_diag *d) {
    step_ctx c;
    memset(&c, 0, sizeof c);
    c.id = id;
    c.step = step;
    c.text = error;
    c.retryable = retryable;
    tsl_err err = tsl_sq_tx(sq_of(s), 1, fail_body, NULL, &c, d);
    if (!err) *retry_at_ms = c.retry_at;
    return err;
}

static const char SQL_STEP_READ[] =
    "SELECT status, output, output_blob FROM execution_steps WHERE execution_id = ?1 AND "
    "name = ?2";

typedef struct output_ctx {
    int64_t id;
    const char *step;
    char *json;
    void *blob;
    size_t len;
} output_ctx;

/* Drops a step's output after a rollback. */
static void output_clear(void *vctx) {
    output_ctx *c = vctx;
    tsl_free(c->json);
    tsl_free(c->blob);
    c->json = NULL;
    c->blob = NULL;
    c->len = 0;
}

/* The transaction of tsl_sq_step_output. */
static tsl_err output_body(sq *q, void *vctx, tsl_diag *d) {
    output_ctx *c = vctx;
    sqlite3_stmt *st;
    xstate x;
    int row = 0;
    tsl_err err;
    if ((err = load_state(q, c->id, &x, d))) return err;
    if ((err = tsl_sq_prepare(q, SQL_STEP_READ, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, c->id);
    tsl_sq_bind_text(q, st, 2, c->step);
    if ((err = tsl_sq_step(q, st, &row, d))) return err;
    if (!row)
        return tsl_diag_set(d, TSL_ENOTFOUND, "store %s: execution %lld has no step '%s'",
                            q->s->location, (long long)c->id, c->step);
    if (strcmp((const char *)sqlite3_column_text(st, 0), "Succeeded")) {
        sqlite3_reset(st);
        return tsl_diag_set(d, TSL_ECONFLICT,
                            "store %s: execution %lld: step '%s' has not succeeded", q->s->location,
                            (long long)c->id, c->step);
    }
    c->json = tsl_sq_col_str(st, 1);
    c->len = (size_t)sqlite3_column_bytes(st, 2);
    if (c->len) {
        c->blob = tsl_malloc(c->len);
        memcpy(c->blob, sqlite3_column_blob(st, 2), c->len);
    }
    sqlite3_reset(st);
    return TSL_OK;
}

tsl_err tsl_sq_step_output(tsl_store *s, int64_t id, const char *step, char **json, void **blob,
                           size_t *blob_len, tsl_diag *d) {
    output_ctx c = {id, step, NULL, NULL, 0};
    tsl_err err = tsl_sq_tx(sq_of(s), 0, output_body, output_clear, &c, d);
    if (err) return err;
    *json = c.json;
    *blob = c.blob;
    *blob_len = c.len;
    return TSL_OK;
}

/* The transaction of tsl_sq_exec_finish. */
static tsl_err finish_body(sq *q, void *vctx, tsl_diag *d) {
    step_ctx *c = vctx;
    xstate x;
    int running = 0, number = 0;
    char step[TSL_STORE_NAME_MAX + 1];
    tsl_err err;
    if ((err = load_state(q, c->id, &x, d)) || (err = require_mine(q, &x, d)) ||
        (err = running_attempt(q, c->id, &running, step, sizeof step, &number, d)))
        return err;
    if (running)
        return tsl_diag_set(d, TSL_ECONFLICT,
                            "store %s: execution %lld: attempt %d of step '%s' is still running",
                            q->s->location, (long long)c->id, number, step);
    return end_exec(q, &x, c->status, c->text, d);
}

tsl_err tsl_sq_exec_finish(tsl_store *s, int64_t id, tsl_exec_status status, const char *reason,
                           tsl_diag *d) {
    step_ctx c;
    memset(&c, 0, sizeof c);
    c.id = id;
    c.status = status;
    c.text = reason;
    return tsl_sq_tx(sq_of(s), 1, finish_body, NULL, &c, d);
}

typedef struct stop_ctx {
    int64_t id;
    const char *who, *why;
    tsl_exec_status status;
} stop_ctx;

/* The transaction of tsl_sq_exec_stop. */
static tsl_err stop_body(sq *q, void *vctx, tsl_diag *d) {
    stop_ctx *c = vctx;
    sqlite3_stmt *st;
    xstate x;
    char reason[2 * 4096 + 64];
    tsl_err err;
    if ((err = load_state(q, c->id, &x, d))) return err;
    if (tsl_exec_status_terminal(x.status))
        return tsl_diag_set(d, TSL_ECONFLICT, "store %s: execution %lld already ended (%s)",
                            q->s->location, (long long)x.id, tsl_exec_status_name(x.status));
    snprintf(reason, sizeof reason, "stopped by %s%s%s", c->who[0] ? c->who : "someone",
             c->why[0] ? ": " : "", c->why);
    c->status = x.status;
    if (x.status == TSL_EXEC_STOPPING) return TSL_OK;
    if (x.status == TSL_EXEC_QUEUED || !x.held) {
        c->status = TSL_EXEC_STOPPED;
        return end_exec(q, &x, TSL_EXEC_STOPPED, reason, d);
    }
    if ((err = tsl_sq_prepare(q, SQL_EXEC_STATUS, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, x.id);
    tsl_sq_bind_text(q, st, 2, tsl_exec_status_name(TSL_EXEC_STOPPING));
    tsl_sq_bind_text(q, st, 3, reason);
    if ((err = tsl_sq_exec(q, st, d))) return err;
    c->status = TSL_EXEC_STOPPING;
    return status_event(q, &x, x.status, TSL_EXEC_STOPPING, reason, d);
}

tsl_err tsl_sq_exec_stop(tsl_store *s, int64_t id, const char *who, const char *why,
                         tsl_exec_status *status, tsl_diag *d) {
    stop_ctx c = {id, who, why, TSL_EXEC_STOPPED};
    tsl_err err = tsl_sq_tx(sq_of(s), 1, stop_body, NULL, &c, d);
    if (!err) *status = c.status;
    return err;
}
