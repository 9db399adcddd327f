/*
 * sqlite_shadow.c - shadow deployments in the SQLite back end: one row per shadow run of a
 * version on an endpoint, kept after it ends.
 *
 * At most one shadow runs per endpoint, which the partial unique index shadows_running
 * enforces in the database as well: starting one ends the running one (superseded) in the
 * same write transaction, so two concurrent starts serialise and the second supersedes the
 * first. Ending is a compare-and-set on "still running" (ended_ms IS NULL): of two evaluators
 * that finish the same comparison at once, or a crash and its repetition, exactly one ends it
 * and records its events; the other gets TSL_ECONFLICT and does nothing. The events
 * (model.shadow_started, model.shadow_ended, model.compared) are appended inside the
 * transaction that changes the row, so the log and the table never disagree.
 *
 * capture_after is the largest capture id when the shadow started: the shadow's run is the
 * captures after it, which keeps an earlier shadow of the same version out of this one's
 * comparison.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "store/sqlite_be.h"
#include "tsloop/mem.h"

#define SH_COLS                                                                                    \
    "sh.id, sh.endpoint, m.forecaster, m.version, sh.model_id, sh.champion_version, sh.windows, "  \
    "sh.progress, sh.capture_after, sh.who, sh.why, sh.started_ms, coalesce(sh.ended_ms, 0), "     \
    "sh.outcome, sh.end_why, sh.comparison, sh.decided"

static const char SQL_SH_RUNNING[] = "SELECT " SH_COLS " FROM shadows sh "
                                     "JOIN models m ON m.id = sh.model_id "
                                     "WHERE sh.endpoint = ?1 AND sh.ended_ms IS NULL";
static const char SQL_SH_BY_ID[] = "SELECT " SH_COLS " FROM shadows sh "
                                   "JOIN models m ON m.id = sh.model_id WHERE sh.id = ?1";
static const char SQL_SH_LIST[] =
    "SELECT " SH_COLS " FROM shadows sh JOIN models m ON m.id = sh.model_id "
    "WHERE (?1 IS NULL OR sh.endpoint = ?1) AND (?2 IS NULL OR m.forecaster = ?2) "
    "AND (?3 = 0 OR m.version = ?3) AND (?4 = 0 OR sh.ended_ms IS NULL) "
    "ORDER BY sh.id DESC LIMIT ?5";
static const char SQL_SH_MODEL[] =
    "SELECT id, version, status FROM models WHERE forecaster = ?1 AND "
    "(version = ?2 OR (?2 = 0 AND version = (SELECT max(version) FROM models WHERE forecaster = "
    "?1)))";
static const char SQL_SH_LIVE[] = "SELECT d.model_id, m.forecaster, m.version FROM endpoints e "
                                  "JOIN deployments d ON d.id = e.current_id "
                                  "JOIN models m ON m.id = d.model_id WHERE e.name = ?1";
static const char SQL_SH_MAXCAP[] = "SELECT coalesce(max(id), 0) FROM captures";
static const char SQL_SH_INSERT[] =
    "INSERT INTO shadows(endpoint, model_id, champion_version, windows, capture_after, who, why, "
    "started_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char SQL_SH_END[] =
    "UPDATE shadows SET ended_ms = ?2, outcome = ?3, end_why = ?4, comparison = ?5, "
    "progress = max(progress, ?6) WHERE id = ?1 AND ended_ms IS NULL";
static const char SQL_SH_PROGRESS[] =
    "UPDATE shadows SET progress = ?2 WHERE id = ?1 AND ended_ms IS NULL";
static const char SQL_SH_DECIDED[] = "UPDATE shadows SET decided = 1 WHERE id = ?1";

/* A shadow row (SH_COLS) into sh. */
static void read_shadow(sqlite3_stmt *st, tsl_store_shadow *sh) {
    sh->id = sqlite3_column_int64(st, 0);
    sh->endpoint = tsl_sq_col_str(st, 1);
    sh->forecaster = tsl_sq_col_str(st, 2);
    sh->version = sqlite3_column_int(st, 3);
    sh->model_id = sqlite3_column_int64(st, 4);
    sh->champion_version = sqlite3_column_int(st, 5);
    sh->windows = sqlite3_column_int(st, 6);
    sh->progress = sqlite3_column_int(st, 7);
    sh->capture_after = sqlite3_column_int64(st, 8);
    sh->who = tsl_sq_col_str(st, 9);
    sh->why = tsl_sq_col_str(st, 10);
    sh->started_ms = sqlite3_column_int64(st, 11);
    sh->ended_ms = sqlite3_column_int64(st, 12);
    const char *o = (const char *)sqlite3_column_text(st, 13);
    sh->outcome = TSL_SHADOW_RUNNING;
    for (int k = TSL_SHADOW_COMPLETED; o && k <= TSL_SHADOW_DEPLOYED; k++)
        if (!strcmp(o, tsl_shadow_outcome_name((tsl_shadow_outcome)k)))
            sh->outcome = (tsl_shadow_outcome)k;
    sh->end_why = tsl_sq_col_str(st, 14);
    sh->comparison = tsl_sq_col_str(st, 15);
    sh->decided = sqlite3_column_int(st, 16);
}

/* Reads the one row of sql bound to text a (or id when a is NULL); *found says whether. */
static tsl_err shadow_one(sq *q, const char *sql, const char *a, int64_t id, tsl_store_shadow *sh,
                          int *found, tsl_diag *d) {
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, sql, &st, d))) return err;
    if (a)
        tsl_sq_bind_text(q, st, 1, a);
    else
        tsl_sq_bind_int(q, st, 1, id);
    if ((err = tsl_sq_step(q, st, &row, d))) return err;
    *found = row;
    if (row) {
        read_shadow(st, sh);
        sqlite3_reset(st);
    }
    return TSL_OK;
}

/* Ends shadow sh (running) with outcome inside the current transaction: the row by
 * compare-and-set, model.shadow_ended, and model.compared when compared is not NULL. */
static tsl_err end_row(sq *q, const tsl_store_shadow *sh, tsl_shadow_outcome outcome,
                       const char *why, const char *comparison, int progress, const char *compared,
                       tsl_diag *d) {
    sqlite3_stmt *st;
    tsl_err err;
    char subject[TSL_STORE_NAME_MAX + 32];
    if ((err = tsl_sq_prepare(q, SQL_SH_END, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, sh->id);
    tsl_sq_bind_int(q, st, 2, tsl_sto_now(q->s));
    tsl_sq_bind_text(q, st, 3, tsl_shadow_outcome_name(outcome));
    tsl_sq_bind_text(q, st, 4, why ? why : "");
    tsl_sq_bind_text(q, st, 5, comparison);
    tsl_sq_bind_int(q, st, 6, progress);
    if ((err = tsl_sq_exec(q, st, d))) return err;
    if (sqlite3_changes(q->db) != 1)
        return tsl_diag_set(d, TSL_ECONFLICT,
                            "the shadow of %s/%d on endpoint '%s' has ended already",
                            sh->forecaster, sh->version, sh->endpoint);
    snprintf(subject, sizeof subject, "model:%s/%d", sh->forecaster, sh->version);
    if ((err = tsl_sq_event_own(
             q, "model.shadow_ended", subject,
             tsl_sto_json("{s:s, s:i, s:s, s:i, s:s, s:s}", "entry", sh->forecaster, "version",
                          sh->version, "endpoint", sh->endpoint, "windows", sh->windows, "outcome",
                          tsl_shadow_outcome_name(outcome), "why", why ? why : ""),
             d)))
        return err;
    if (compared) return tsl_sq_event(q, "model.compared", subject, compared, NULL, d);
    return TSL_OK;
}

typedef struct sh_ctx {
    const char *endpoint, *forecaster, *who, *why, *comparison, *compared;
    int version, windows, progress, running;
    int64_t id;
    tsl_shadow_outcome outcome;
    size_t limit;
    tsl_store_shadow out;
    tsl_store_shadow *v;
    size_t n, cap;
} sh_ctx;

/* Drops partial results after a rollback. */
static void sh_clear(void *vctx) {
    sh_ctx *c = vctx;
    tsl_store_shadow_release(&c->out);
    tsl_store_shadow_list_free(c->v, c->n);
    c->v = NULL;
    c->n = c->cap = 0;
}

/* The transaction of tsl_sq_shadow_start. */
static tsl_err start_body(sq *q, void *vctx, tsl_diag *d) {
    sh_ctx *c = vctx;
    sqlite3_stmt *st;
    int row = 0, found = 0;
    tsl_err err;
    char status[32], subject[TSL_STORE_NAME_MAX + 32];
    if ((err = tsl_sq_prepare(q, SQL_SH_LIVE, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, c->endpoint);
    if ((err = tsl_sq_step(q, st, &row, d))) return err;
    if (!row) return tsl_diag_set(d, TSL_ENOTFOUND, "no endpoint '%s'", c->endpoint);
    int64_t live_model = sqlite3_column_int64(st, 0);
    int live_version = sqlite3_column_int(st, 2);
    int same = !strcmp((const char *)sqlite3_column_text(st, 1), c->forecaster);
    char live_entry[TSL_STORE_NAME_MAX + 1];
    tsl_strlcpy(live_entry, (const char *)sqlite3_column_text(st, 1), sizeof live_entry);
    sqlite3_reset(st);
    if (!same)
        return tsl_diag_set(d, TSL_ECONFLICT,
                            "endpoint '%s' serves %s/%d: a shadow must be a version of '%s', "
                            "not of '%s'",
                            c->endpoint, live_entry, live_version, live_entry, c->forecaster);
    if ((err = tsl_sq_prepare(q, SQL_SH_MODEL, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, c->forecaster);
    tsl_sq_bind_int(q, st, 2, c->version);
    if ((err = tsl_sq_step(q, st, &row, d))) return err;
    if (!row)
        return tsl_diag_set(d, TSL_ENOTFOUND, "store %s: no version %d of '%s'", q->s->location,
                            c->version, c->forecaster);
    int64_t model_id = sqlite3_column_int64(st, 0);
    int version = sqlite3_column_int(st, 1);
    tsl_strlcpy(status, (const char *)sqlite3_column_text(st, 2), sizeof status);
    sqlite3_reset(st);
    if (!strcmp(status, "Rejected"))
        return tsl_diag_set(d, TSL_ECONFLICT, "%s/%d is Rejected: it cannot run in shadow",
                            c->forecaster, version);
    if (model_id == live_model)
        return tsl_diag_set(d, TSL_ECONFLICT,
                            "%s/%d is the version endpoint '%s' serves: a shadow must be another "
                            "one",
                            c->forecaster, version, c->endpoint);
    tsl_store_shadow old = {0};
    if ((err = shadow_one(q, SQL_SH_RUNNING, c->endpoint, 0, &old, &found, d))) return err;
    if (found) {
        char why[160];
        snprintf(why, sizeof why, "superseded by a shadow of %s/%d", c->forecaster, version);
        err = end_row(q, &old, TSL_SHADOW_SUPERSEDED, why, NULL, 0, NULL, d);
        tsl_store_shadow_release(&old);
        if (err) return err;
    }
    if ((err = tsl_sq_prepare(q, SQL_SH_MAXCAP, &st, d))) return err;
    if ((err = tsl_sq_step(q, st, &row, d))) return err;
    int64_t after = row ? sqlite3_column_int64(st, 0) : 0;
    if (row) sqlite3_reset(st);
    if ((err = tsl_sq_prepare(q, SQL_SH_INSERT, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, c->endpoint);
    tsl_sq_bind_int(q, st, 2, model_id);
    tsl_sq_bind_int(q, st, 3, live_version);
    tsl_sq_bind_int(q, st, 4, c->windows);
    tsl_sq_bind_int(q, st, 5, after);
    tsl_sq_bind_text(q, st, 6, c->who);
    tsl_sq_bind_text(q, st, 7, c->why);
    tsl_sq_bind_int(q, st, 8, tsl_sto_now(q->s));
    if ((err = tsl_sq_exec(q, st, d))) return err;
    int64_t id = sqlite3_last_insert_rowid(q->db);
    if ((err = shadow_one(q, SQL_SH_BY_ID, NULL, id, &c->out, &found, d))) return err;
    if (!found)
        return tsl_diag_set(d, TSL_EINTERNAL, "store %s: shadow %lld vanished", q->s->location,
                            (long long)id);
    snprintf(subject, sizeof subject, "model:%s/%d", c->forecaster, version);
    return tsl_sq_event_own(q, "model.shadow_started", subject,
                            tsl_sto_json("{s:s, s:i, s:s, s:i, s:i, s:s, s:s}", "entry",
                                         c->forecaster, "version", version, "endpoint", c->endpoint,
                                         "champion_version", live_version, "windows", c->windows,
                                         "who", c->who, "why", c->why),
                            d);
}

tsl_err tsl_sq_shadow_start(tsl_store *s, const char *endpoint, const char *forecaster, int version,
                            int windows, const char *who, const char *why, tsl_store_shadow *out,
                            tsl_diag *d) {
    sh_ctx c = {.endpoint = endpoint,
                .forecaster = forecaster,
                .who = who,
                .why = why,
                .version = version,
                .windows = windows};
    tsl_err err = tsl_sq_tx(sq_of(s), 1, start_body, sh_clear, &c, d);
    if (!err) *out = c.out;
    return err;
}

/* The transaction of tsl_sq_shadow_end. */
static tsl_err end_body(sq *q, void *vctx, tsl_diag *d) {
    sh_ctx *c = vctx;
    tsl_store_shadow sh = {0};
    int found = 0;
    tsl_err err = shadow_one(q, SQL_SH_BY_ID, NULL, c->id, &sh, &found, d);
    if (err) return err;
    if (!found) return tsl_diag_set(d, TSL_ENOTFOUND, "no shadow %lld", (long long)c->id);
    err = end_row(q, &sh, c->outcome, c->why, c->comparison, c->progress, c->compared, d);
    tsl_store_shadow_release(&sh);
    return err;
}

tsl_err tsl_sq_shadow_end(tsl_store *s, int64_t id, tsl_shadow_outcome outcome, const char *why,
                          const char *comparison, int progress, const char *compared_payload,
                          tsl_diag *d) {
    sh_ctx c = {.id = id,
                .outcome = outcome,
                .why = why,
                .comparison = comparison,
                .progress = progress,
                .compared = compared_payload};
    return tsl_sq_tx(sq_of(s), 1, end_body, NULL, &c, d);
}

/* The transaction of tsl_sq_shadow_progress and tsl_sq_shadow_decided. */
static tsl_err mark_body(sq *q, void *vctx, tsl_diag *d) {
    sh_ctx *c = vctx;
    sqlite3_stmt *st;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, c->progress >= 0 ? SQL_SH_PROGRESS : SQL_SH_DECIDED, &st, d)))
        return err;
    tsl_sq_bind_int(q, st, 1, c->id);
    if (c->progress >= 0) tsl_sq_bind_int(q, st, 2, c->progress);
    return tsl_sq_exec(q, st, d);
}

tsl_err tsl_sq_shadow_progress(tsl_store *s, int64_t id, int progress, tsl_diag *d) {
    sh_ctx c = {.id = id, .progress = progress};
    return tsl_sq_tx(sq_of(s), 1, mark_body, NULL, &c, d);
}

tsl_err tsl_sq_shadow_decided(tsl_store *s, int64_t id, tsl_diag *d) {
    sh_ctx c = {.id = id, .progress = -1};
    return tsl_sq_tx(sq_of(s), 1, mark_body, NULL, &c, d);
}

/* The transaction of tsl_sq_shadow_list. */
static tsl_err list_body(sq *q, void *vctx, tsl_diag *d) {
    sh_ctx *c = vctx;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_SH_LIST, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, c->endpoint);
    tsl_sq_bind_text(q, st, 2, c->forecaster);
    tsl_sq_bind_int(q, st, 3, c->version);
    tsl_sq_bind_int(q, st, 4, c->running);
    tsl_sq_bind_int(q, st, 5, c->limit ? (int64_t)c->limit : -1);
    while (!(err = tsl_sq_step(q, st, &row, d)) && row) {
        c->v = sq_grow(c->v, &c->cap, c->n, sizeof *c->v);
        memset(&c->v[c->n], 0, sizeof c->v[c->n]);
        read_shadow(st, &c->v[c->n++]);
    }
    return err;
}

tsl_err tsl_sq_shadow_list(tsl_store *s, const char *endpoint, const char *forecaster, int version,
                           int running, size_t limit, tsl_store_shadow **out, size_t *n,
                           tsl_diag *d) {
    sh_ctx c = {.endpoint = endpoint,
                .forecaster = forecaster,
                .version = version,
                .running = running,
                .limit = limit};
    tsl_err err = tsl_sq_tx(sq_of(s), 0, list_body, sh_clear, &c, d);
    if (err) return err;
    *out = c.v;
    *n = c.n;
    return TSL_OK;
}

tsl_err tsl_sq_shadow_deployed(sq *q, const char *endpoint, int64_t model_id, const char *who,
                               tsl_diag *d) {
    tsl_store_shadow sh = {0};
    int found = 0;
    tsl_err err = shadow_one(q, SQL_SH_RUNNING, endpoint, 0, &sh, &found, d);
    if (err || !found) return err;
    if (sh.model_id == model_id) {
        char why[200];
        snprintf(why, sizeof why, "deployed live on %s by %s", endpoint, who && who[0] ? who : "?");
        err = end_row(q, &sh, TSL_SHADOW_DEPLOYED, why, NULL, sh.progress, NULL, d);
    }
    tsl_store_shadow_release(&sh);
    return err;
}
