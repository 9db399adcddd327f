/*
 * sqlite_retrain.c - retraining decisions and the trigger reactor's cursor in the SQLite back
 * end (migration 7).
 *
 * A decision is made in one write transaction (BEGIN IMMEDIATE: writers are serialised), so
 * the cooldown and the daily cap are read and the decision written with no other writer in
 * between: two reactors - two daemons on one store - reading two alarms at once cannot both
 * see an empty cooldown and both request. The cooldown counts from the later of the
 * forecaster's newest execution (requested by anyone: a manual or scheduled run also starts
 * it) and its newest decision to request (which may have merged into a queued execution and so
 * created none). The cap counts decisions to request since 00:00 UTC of the store's clock.
 */
#include "store/sqlite_be.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "tsloop/mem.h"
#include "tsloop/time.h"

#define DAY_MS 86400000LL

static const char SQL_GET[] =
    "SELECT event_id, forecaster, trigger, reason, requested, suppressed, execution_id, done, "
    "at_ms FROM retrain_decisions WHERE event_id = ?1 AND forecaster = ?2";
static const char SQL_LAST_EXEC[] =
    "SELECT coalesce(max(created_ms), 0) FROM executions WHERE forecaster = ?1";
static const char SQL_LAST_REQ[] = "SELECT coalesce(max(at_ms), 0) FROM retrain_decisions "
                                   "WHERE forecaster = ?1 AND requested = 1";
static const char SQL_TODAY[] = "SELECT count(*) FROM retrain_decisions "
                                "WHERE forecaster = ?1 AND requested = 1 AND at_ms >= ?2";
static const char SQL_INSERT[] =
    "INSERT INTO retrain_decisions(event_id, forecaster, trigger, reason, requested, suppressed, "
    "done, at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char SQL_DONE[] = "UPDATE retrain_decisions SET execution_id = ?2, done = 1 WHERE "
                               "event_id = ?1 AND forecaster = ?3";
static const char SQL_CURSOR[] = "SELECT event_id FROM retrain_cursor WHERE name = 'retrain'";
static const char SQL_ADVANCE[] =
    "INSERT INTO retrain_cursor(name, event_id) VALUES ('retrain', ?1) "
    "ON CONFLICT(name) DO UPDATE SET event_id = max(event_id, excluded.event_id)";

/* A decision row into r. */
static void read_row(sqlite3_stmt *st, tsl_store_retrain *r) {
    r->event_id = sqlite3_column_int64(st, 0);
    r->forecaster = tsl_sq_col_str(st, 1);
    r->trigger = tsl_sq_col_str(st, 2);
    r->reason = tsl_sq_col_str(st, 3);
    r->requested = sqlite3_column_int(st, 4);
    r->suppressed = tsl_sq_col_str(st, 5);
    r->execution_id = sqlite3_column_int64(st, 6);
    r->done = sqlite3_column_int(st, 7);
    r->at_ms = sqlite3_column_int64(st, 8);
}

/* The decision of (event_id, forecaster) into *r; *found 0 when there is none. */
static tsl_err get_row(sq *q, int64_t event_id, const char *forecaster, tsl_store_retrain *r,
                       int *found, tsl_diag *d) {
    sqlite3_stmt *st;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_GET, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, event_id);
    tsl_sq_bind_text(q, st, 2, forecaster);
    if ((err = tsl_sq_step(q, st, found, d))) return err;
    if (*found) {
        read_row(st, r);
        sqlite3_reset(st);
    }
    return TSL_OK;
}

/* One integer from a query binding forecaster as ?1 (and arg as ?2 when has_arg). */
static tsl_err scalar(sq *q, const char *sql, const char *forecaster, int has_arg, int64_t arg,
                      int64_t *out, tsl_diag *d) {
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, sql, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, forecaster);
    if (has_arg) tsl_sq_bind_int(q, st, 2, arg);
    if ((err = tsl_sq_step(q, st, &row, d))) return err;
    *out = row ? sqlite3_column_int64(st, 0) : 0;
    if (row) sqlite3_reset(st);
    return TSL_OK;
}

/* A duration in milliseconds as the largest whole units that say it ("6h", "90m", "45s"). */
static void duration_text(int64_t ms, char *buf, size_t cap) {
    if (ms % 3600000 == 0)
        snprintf(buf, cap, "%lldh", (long long)(ms / 3600000));
    else if (ms % 60000 == 0)
        snprintf(buf, cap, "%lldm", (long long)(ms / 60000));
    else
        snprintf(buf, cap, "%llds", (long long)(ms / 1000));
}

typedef struct decide_ctx {
    const tsl_store_retrain_ask *a;
    tsl_store_retrain *out;
} decide_ctx;

/* Drops a partial decision after a rollback. */
static void decide_clear(void *vctx) {
    decide_ctx *c = vctx;
    tsl_store_retrain_release(c->out);
}

/* The transaction of tsl_sq_retrain_decide. */
static tsl_err decide_body(sq *q, void *vctx, tsl_diag *d) {
    decide_ctx *c = vctx;
    const tsl_store_retrain_ask *a = c->a;
    tsl_store_retrain *r = c->out;
    int found = 0;
    tsl_err err;
    if ((err = get_row(q, a->event_id, a->forecaster, r, &found, d)) || found) return err;
    int64_t now = tsl_sto_now(q->s);
    char why[320] = "", when[40], dur[32], subject[160];
    if (a->cooldown_ms > 0) {
        int64_t last_exec = 0, last_req = 0;
        if ((err = scalar(q, SQL_LAST_EXEC, a->forecaster, 0, 0, &last_exec, d)) ||
            (err = scalar(q, SQL_LAST_REQ, a->forecaster, 0, 0, &last_req, d)))
            return err;
        int64_t last = last_exec > last_req ? last_exec : last_req;
        if (last > 0 && now - last < a->cooldown_ms) {
            tsl_time_format((last + a->cooldown_ms) / 1000, 0, when, sizeof when);
            duration_text(a->cooldown_ms, dur, sizeof dur);
            snprintf(why, sizeof why,
                     "cooldown: the last retraining of %s started %llds ago, within its "
                     "cooldown of %s (until %s)",
                     a->forecaster, (long long)((now - last) / 1000), dur, when);
        }
    }
    if (!why[0] && a->max_per_day > 0) {
        int64_t today = 0, day0 = now - ((now % DAY_MS) + DAY_MS) % DAY_MS;
        if ((err = scalar(q, SQL_TODAY, a->forecaster, 1, day0, &today, d))) return err;
        if (today >= a->max_per_day) {
            tsl_time_format(day0 / 1000, 1, when, sizeof when);
            snprintf(why, sizeof why,
                     "daily cap: %lld retraining%s of %s requested on %s (UTC), max_per_day %d",
                     (long long)today, today == 1 ? "" : "s", a->forecaster, when, a->max_per_day);
        }
    }
    sqlite3_stmt *st;
    if ((err = tsl_sq_prepare(q, SQL_INSERT, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, a->event_id);
    tsl_sq_bind_text(q, st, 2, a->forecaster);
    tsl_sq_bind_text(q, st, 3, a->trigger);
    tsl_sq_bind_text(q, st, 4, a->reason);
    tsl_sq_bind_int(q, st, 5, why[0] ? 0 : 1);
    tsl_sq_bind_text(q, st, 6, why[0] ? why : NULL);
    tsl_sq_bind_int(q, st, 7, why[0] ? 1 : 0);
    tsl_sq_bind_int(q, st, 8, now);
    if ((err = tsl_sq_exec(q, st, d))) return err;
    r->event_id = a->event_id;
    r->forecaster = tsl_strdup(a->forecaster);
    r->trigger = tsl_strdup(a->trigger);
    r->reason = tsl_strdup(a->reason);
    r->requested = !why[0];
    r->suppressed = why[0] ? tsl_strdup(why) : NULL;
    r->done = why[0] != 0;
    r->at_ms = now;
    if (!why[0]) return TSL_OK;
    snprintf(subject, sizeof subject, "forecaster:%s", a->forecaster);
    return tsl_sq_event_own(q, "retrain.suppressed", subject,
                            tsl_sto_json("{s:s, s:s, s:s, s:n, s:I, s:s}", "forecaster",
                                         a->forecaster, "trigger", a->trigger, "reason", why,
                                         "execution_id", "event_id", (json_int_t)a->event_id,
                                         "asked", a->reason),
                            d);
}

tsl_err tsl_sq_retrain_decide(tsl_store *s, const tsl_store_retrain_ask *ask,
                              tsl_store_retrain *out, tsl_diag *d) {
    decide_ctx c = {ask, out};
    return tsl_sq_tx(sq_of(s), 1, decide_body, decide_clear, &c, d);
}

typedef struct record_ctx {
    int64_t event_id;
    const char *forecaster;
    int64_t execution_id;
    const char *outcome;
} record_ctx;

/* The transaction of tsl_sq_retrain_record. */
static tsl_err record_body(sq *q, void *vctx, tsl_diag *d) {
    record_ctx *c = vctx;
    tsl_store_retrain r;
    memset(&r, 0, sizeof r);
    int found = 0;
    char subject[160];
    sqlite3_stmt *st;
    tsl_err err = get_row(q, c->event_id, c->forecaster, &r, &found, d);
    if (err || (found && r.done)) goto out;
    if (!found || !r.requested) {
        err = tsl_diag_set(d, TSL_ENOTFOUND, "store %s: event %lld has no decision to retrain %s",
                           q->s->location, (long long)c->event_id, c->forecaster);
        goto out;
    }
    if ((err = tsl_sq_prepare(q, SQL_DONE, &st, d))) goto out;
    tsl_sq_bind_int(q, st, 1, c->event_id);
    tsl_sq_bind_int(q, st, 2, c->execution_id);
    tsl_sq_bind_text(q, st, 3, c->forecaster);
    if ((err = tsl_sq_exec(q, st, d))) goto out;
    snprintf(subject, sizeof subject, "forecaster:%s", r.forecaster);
    err = tsl_sq_event_own(q, "retrain.requested", subject,
                           tsl_sto_json("{s:s, s:s, s:s, s:I, s:I, s:s}", "forecaster",
                                        r.forecaster, "trigger", r.trigger, "reason", r.reason,
                                        "execution_id", (json_int_t)c->execution_id, "event_id",
                                        (json_int_t)c->event_id, "outcome", c->outcome),
                           d);
out:
    tsl_store_retrain_release(&r);
    return err;
}

tsl_err tsl_sq_retrain_record(tsl_store *s, int64_t event_id, const char *forecaster,
                              int64_t execution_id, const char *outcome, tsl_diag *d) {
    record_ctx c = {event_id, forecaster, execution_id, outcome};
    return tsl_sq_tx(sq_of(s), 1, record_body, NULL, &c, d);
}

/* The transaction of tsl_sq_retrain_cursor. */
static tsl_err cursor_body(sq *q, void *vctx, tsl_diag *d) {
    int64_t *out = vctx;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_CURSOR, &st, d))) return err;
    if ((err = tsl_sq_step(q, st, &row, d))) return err;
    *out = row ? sqlite3_column_int64(st, 0) : 0;
    if (row) sqlite3_reset(st);
    return TSL_OK;
}

tsl_err tsl_sq_retrain_cursor(tsl_store *s, int64_t *event_id, tsl_diag *d) {
    return tsl_sq_tx(sq_of(s), 0, cursor_body, NULL, event_id, d);
}

/* The transaction of tsl_sq_retrain_advance. */
static tsl_err advance_body(sq *q, void *vctx, tsl_diag *d) {
    const int64_t *id = vctx;
    sqlite3_stmt *st;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_ADVANCE, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, *id);
    return tsl_sq_exec(q, st, d);
}

tsl_err tsl_sq_retrain_advance(tsl_store *s, int64_t event_id, tsl_diag *d) {
    return tsl_sq_tx(sq_of(s), 1, advance_body, NULL, &event_id, d);
}
