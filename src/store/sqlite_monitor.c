/*
 * sqlite_monitor.c - metric datapoints, alarms, evaluation cursors and the observations of one
 * ingest, in the SQLite back end.
 *
 * A datapoint's key is (monitor, window, item, step, metric): writing it again replaces it
 * (INSERT ... ON CONFLICT DO UPDATE), which is what makes re-evaluating a window after late or
 * corrected actuals idempotent - the evaluator recomputes a whole window from the captures and
 * the current actuals and writes it over the old one, so nothing is ever added twice.
 *
 * An alarm is written by compare-and-set on its change counter: two evaluators of one monitor
 * (the CLI's ingest and the daemon's follower, say) may both evaluate, but only the one whose
 * view was current writes; the other gets TSL_ECONFLICT and evaluates again from the stored
 * state, so a change is recorded, and its event emitted, once. The history row and the event
 * are written in the same transaction as the state.
 *
 * The observations of an ingest are found through its spans (ingest_spans, kept by the ingest
 * in sqlite_data.c): a primary-key range read per item, filtered by the ingest id that each
 * observation carries, rather than an index on that id, which would slow every ingest.
 */
#include "store/sqlite_be.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tsloop/mem.h"

/* ---- datapoints ---- */

static const char SQL_DP_PUT[] =
    "INSERT INTO metric_datapoints(monitor, win, item, step, metric, endpoint, win_start, "
    "win_end, value, n, computed_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
    "ON CONFLICT (monitor, win, item, step, metric) DO UPDATE SET endpoint = excluded.endpoint, "
    "win_start = excluded.win_start, win_end = excluded.win_end, value = excluded.value, "
    "n = excluded.n, computed_ms = excluded.computed_ms";

/* The latest `limit` windows are those whose start is at least the limit-th latest distinct
 * start among the matching rows. */
static const char SQL_DP_LIST[] =
    "WITH m AS (SELECT * FROM metric_datapoints WHERE (?1 IS NULL OR monitor = ?1) "
    "AND (?2 IS NULL OR endpoint = ?2) AND (?3 IS NULL OR item = ?3) "
    "AND (?4 IS NULL OR metric = ?4) AND (?5 < 0 OR step = ?5) AND win_start >= ?6 "
    "AND (?8 IS NULL OR win = ?8)) "
    "SELECT monitor, endpoint, win, win_start, win_end, item, step, metric, value, n, "
    "computed_ms FROM m WHERE ?7 <= 0 OR win_start >= coalesce((SELECT win_start FROM (SELECT "
    "DISTINCT win_start FROM m ORDER BY win_start DESC LIMIT ?7) ORDER BY win_start LIMIT 1), "
    "-9223372036854775807 - 1) ORDER BY win_start, win, monitor, item, step, metric";

typedef struct dp_put_ctx {
    const tsl_store_datapoint *v;
    size_t n;
} dp_put_ctx;

tsl_err tsl_sq_datapoint_write(sq *q, const tsl_store_datapoint *v, size_t n, tsl_diag *d) {
    sqlite3_stmt *st;
    tsl_err err;
    int64_t now = tsl_sto_now(q->s);
    for (size_t i = 0; i < n; i++) {
        const tsl_store_datapoint *p = &v[i];
        if ((err = tsl_sq_prepare(q, SQL_DP_PUT, &st, d))) return err;
        tsl_sq_bind_text(q, st, 1, p->monitor);
        tsl_sq_bind_text(q, st, 2, p->window);
        tsl_sq_bind_text(q, st, 3, p->item ? p->item : "");
        tsl_sq_bind_int(q, st, 4, p->step);
        tsl_sq_bind_text(q, st, 5, p->metric);
        tsl_sq_bind_text(q, st, 6, p->endpoint ? p->endpoint : "");
        tsl_sq_bind_int(q, st, 7, p->window_start);
        tsl_sq_bind_int(q, st, 8, p->window_end);
        tsl_sq_bind_double(q, st, 9, isfinite(p->value) ? p->value : NAN);
        tsl_sq_bind_int(q, st, 10, (int64_t)p->n);
        tsl_sq_bind_int(q, st, 11, p->computed_ms ? p->computed_ms : now);
        if ((err = tsl_sq_exec(q, st, d))) return err;
    }
    return TSL_OK;
}

/* The transaction of tsl_sq_datapoint_put. */
static tsl_err dp_put_body(sq *q, void *vctx, tsl_diag *d) {
    dp_put_ctx *c = vctx;
    return tsl_sq_datapoint_write(q, c->v, c->n, d);
}

tsl_err tsl_sq_datapoint_put(tsl_store *s, const tsl_store_datapoint *v, size_t n, tsl_diag *d) {
    dp_put_ctx c = {v, n};
    return tsl_sq_tx(sq_of(s), 1, dp_put_body, NULL, &c, d);
}

typedef struct dp_list_ctx {
    const tsl_store_datapoint_query *q;
    tsl_store_datapoint *v;
    size_t n, cap;
} dp_list_ctx;

/* Drops a partial listing after a rollback. */
static void dp_list_clear(void *vctx) {
    dp_list_ctx *c = vctx;
    tsl_store_datapoint_list_free(c->v, c->n);
    c->v = NULL;
    c->n = c->cap = 0;
}

/* The transaction of tsl_sq_datapoint_list. */
static tsl_err dp_list_body(sq *q, void *vctx, tsl_diag *d) {
    dp_list_ctx *c = vctx;
    const tsl_store_datapoint_query *f = c->q;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_DP_LIST, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, f->monitor);
    tsl_sq_bind_text(q, st, 2, f->endpoint);
    tsl_sq_bind_text(q, st, 3, f->item);
    tsl_sq_bind_text(q, st, 4, f->metric);
    tsl_sq_bind_int(q, st, 5, f->step);
    tsl_sq_bind_int(q, st, 6, f->since);
    tsl_sq_bind_int(q, st, 7, (int64_t)f->limit);
    tsl_sq_bind_text(q, st, 8, f->window);
    while (!(err = tsl_sq_step(q, st, &row, d)) && row) {
        c->v = sq_grow(c->v, &c->cap, c->n, sizeof *c->v);
        tsl_store_datapoint *p = &c->v[c->n++];
        p->monitor = tsl_sq_col_str(st, 0);
        p->endpoint = tsl_sq_col_str(st, 1);
        p->window = tsl_sq_col_str(st, 2);
        p->window_start = sqlite3_column_int64(st, 3);
        p->window_end = sqlite3_column_int64(st, 4);
        p->item = tsl_sq_col_str(st, 5);
        p->step = sqlite3_column_int(st, 6);
        p->metric = tsl_sq_col_str(st, 7);
        p->value = tsl_sq_col_double(st, 8);
        p->n = (uint64_t)sqlite3_column_int64(st, 9);
        p->computed_ms = sqlite3_column_int64(st, 10);
    }
    return err;
}

tsl_err tsl_sq_datapoint_list(tsl_store *s, const tsl_store_datapoint_query *q,
                              tsl_store_datapoint **out, size_t *n, tsl_diag *d) {
    dp_list_ctx c = {q, NULL, 0, 0};
    tsl_err err = tsl_sq_tx(sq_of(s), 0, dp_list_body, dp_list_clear, &c, d);
    if (err) return err;
    *out = c.v;
    *n = c.n;
    return TSL_OK;
}

/* ---- alarms ---- */

static const char SQL_ALARM_GET[] =
    "SELECT monitor, state, changed_at, evaluated_at, changes, threshold, threshold_metric, value, "
    "reason FROM alarms WHERE monitor = ?1";
static const char SQL_ALARM_ALL[] =
    "SELECT monitor, state, changed_at, evaluated_at, changes, threshold, threshold_metric, value, "
    "reason FROM alarms ORDER BY monitor";
static const char SQL_ALARM_CHANGES[] = "SELECT changes FROM alarms WHERE monitor = ?1";
static const char SQL_ALARM_PUT[] =
    "INSERT INTO alarms(monitor, state, changed_at, evaluated_at, changes, threshold, "
    "threshold_metric, value, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
    "ON CONFLICT (monitor) DO UPDATE SET state = excluded.state, changed_at = "
    "excluded.changed_at, evaluated_at = excluded.evaluated_at, changes = excluded.changes, "
    "threshold = excluded.threshold, threshold_metric = excluded.threshold_metric, value = "
    "excluded.value, reason = excluded.reason";
static const char SQL_HIST_INSERT[] =
    "INSERT INTO alarm_history(monitor, previous, state, value, threshold, reason, at_ms, "
    "event_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char SQL_HIST_LIST[] =
    "SELECT id, monitor, previous, state, value, threshold, reason, at_ms, event_id "
    "FROM alarm_history WHERE (?1 IS NULL OR monitor = ?1) ORDER BY id DESC LIMIT ?2";

/* A state name as stored into v (INSUFFICIENT_DATA for anything unknown, which the CHECK-free
 * table cannot hold unless written by hand). */
static tsl_alarm_value state_of(const char *s) {
    tsl_alarm_value v = TSL_ALARM_INSUFFICIENT_DATA;
    if (s) (void)tsl_alarm_value_parse(s, &v, NULL);
    return v;
}

/* An alarms row into a. */
static void read_alarm(sqlite3_stmt *st, tsl_store_alarm *a) {
    const char *state = (const char *)sqlite3_column_text(st, 1);
    memset(a, 0, sizeof *a);
    a->monitor = tsl_sq_col_str(st, 0);
    a->state.value = state_of(state);
    a->state.changed_at = sqlite3_column_int64(st, 2);
    a->state.evaluated_at = sqlite3_column_int64(st, 3);
    a->state.changes = (uint64_t)sqlite3_column_int64(st, 4);
    a->threshold.threshold = tsl_sq_col_double(st, 5);
    a->threshold.metric = tsl_sq_col_double(st, 6);
    a->value = tsl_sq_col_double(st, 7);
    a->reason = tsl_sq_col_str(st, 8);
}

typedef struct alarm_ctx {
    const char *monitor;
    tsl_store_alarm *one;
    int found;
    tsl_store_alarm *v;
    size_t n, cap;
} alarm_ctx;

/* Drops a partial result after a rollback. */
static void alarm_clear(void *vctx) {
    alarm_ctx *c = vctx;
    if (c->one && c->found) tsl_store_alarm_release(c->one);
    c->found = 0;
    tsl_store_alarm_list_free(c->v, c->n);
    c->v = NULL;
    c->n = c->cap = 0;
}

/* The transaction of tsl_sq_alarm_get and tsl_sq_alarm_list. */
static tsl_err alarm_read_body(sq *q, void *vctx, tsl_diag *d) {
    alarm_ctx *c = vctx;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if (c->monitor) {
        if ((err = tsl_sq_prepare(q, SQL_ALARM_GET, &st, d))) return err;
        tsl_sq_bind_text(q, st, 1, c->monitor);
        if ((err = tsl_sq_step(q, st, &row, d))) return err;
        if (row) {
            read_alarm(st, c->one);
            c->found = 1;
            sqlite3_reset(st);
        }
        return TSL_OK;
    }
    if ((err = tsl_sq_prepare(q, SQL_ALARM_ALL, &st, d))) return err;
    while (!(err = tsl_sq_step(q, st, &row, d)) && row) {
        c->v = sq_grow(c->v, &c->cap, c->n, sizeof *c->v);
        read_alarm(st, &c->v[c->n++]);
    }
    return err;
}

tsl_err tsl_sq_alarm_get(tsl_store *s, const char *monitor, tsl_store_alarm *out, int *found,
                         tsl_diag *d) {
    alarm_ctx c = {.monitor = monitor, .one = out};
    memset(out, 0, sizeof *out);
    tsl_err err = tsl_sq_tx(sq_of(s), 0, alarm_read_body, alarm_clear, &c, d);
    *found = err ? 0 : c.found;
    return err;
}

tsl_err tsl_sq_alarm_list(tsl_store *s, tsl_store_alarm **out, size_t *n, tsl_diag *d) {
    alarm_ctx c = {0};
    tsl_err err = tsl_sq_tx(sq_of(s), 0, alarm_read_body, alarm_clear, &c, d);
    if (err) return err;
    *out = c.v;
    *n = c.n;
    return TSL_OK;
}

typedef struct alarm_put_ctx {
    const tsl_store_alarm *a;
    uint64_t expect;
    const tsl_store_alarm_change *change;
    const char *payload;
} alarm_put_ctx;

/* The transaction of tsl_sq_alarm_put: check the counter, write the state, and with a change
 * the event and the history row that points at it. */
static tsl_err alarm_put_body(sq *q, void *vctx, tsl_diag *d) {
    alarm_put_ctx *c = vctx;
    const tsl_store_alarm *a = c->a;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    uint64_t stored = 0;
    int64_t event_id = 0;
    char subject[TSL_STORE_NAME_MAX + 16];
    if ((err = tsl_sq_prepare(q, SQL_ALARM_CHANGES, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, a->monitor);
    if ((err = tsl_sq_step(q, st, &row, d))) return err;
    if (row) {
        stored = (uint64_t)sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    if (stored != c->expect)
        return tsl_diag_set(d, TSL_ECONFLICT,
                            "store %s: alarm of monitor '%s' has made %llu changes, expected %llu "
                            "(evaluated concurrently)",
                            q->s->location, a->monitor, (unsigned long long)stored,
                            (unsigned long long)c->expect);
    if ((err = tsl_sq_prepare(q, SQL_ALARM_PUT, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, a->monitor);
    tsl_sq_bind_text(q, st, 2, tsl_alarm_value_name(a->state.value));
    tsl_sq_bind_int(q, st, 3, a->state.changed_at);
    tsl_sq_bind_int(q, st, 4, a->state.evaluated_at);
    tsl_sq_bind_int(q, st, 5, (int64_t)a->state.changes);
    tsl_sq_bind_double(q, st, 6, a->threshold.threshold);
    tsl_sq_bind_double(q, st, 7, a->threshold.metric);
    tsl_sq_bind_double(q, st, 8, a->value);
    tsl_sq_bind_text(q, st, 9, a->reason ? a->reason : "");
    if ((err = tsl_sq_exec(q, st, d))) return err;
    if (!c->change) return TSL_OK;
    snprintf(subject, sizeof subject, "monitor:%s", a->monitor);
    if ((err = tsl_sq_event(q, "alarm.state_changed", subject, c->payload, &event_id, d)))
        return err;
    if ((err = tsl_sq_prepare(q, SQL_HIST_INSERT, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, a->monitor);
    tsl_sq_bind_text(q, st, 2, tsl_alarm_value_name(c->change->previous));
    tsl_sq_bind_text(q, st, 3, tsl_alarm_value_name(c->change->value));
    tsl_sq_bind_double(q, st, 4, c->change->datapoint);
    tsl_sq_bind_double(q, st, 5, c->change->threshold);
    tsl_sq_bind_text(q, st, 6, c->change->reason ? c->change->reason : "");
    tsl_sq_bind_int(q, st, 7, a->state.changed_at);
    tsl_sq_bind_int(q, st, 8, event_id);
    return tsl_sq_exec(q, st, d);
}

tsl_err tsl_sq_alarm_put(tsl_store *s, const tsl_store_alarm *a, uint64_t expect_changes,
                         const tsl_store_alarm_change *change, const char *payload, tsl_diag *d) {
    alarm_put_ctx c = {a, expect_changes, change, payload ? payload : "{}"};
    return tsl_sq_tx(sq_of(s), 1, alarm_put_body, NULL, &c, d);
}

typedef struct hist_ctx {
    const char *monitor;
    size_t limit;
    tsl_store_alarm_change *v;
    size_t n, cap;
} hist_ctx;

/* Drops a partial listing after a rollback. */
static void hist_clear(void *vctx) {
    hist_ctx *c = vctx;
    tsl_store_alarm_change_list_free(c->v, c->n);
    c->v = NULL;
    c->n = c->cap = 0;
}

/* The transaction of tsl_sq_alarm_history. */
static tsl_err hist_body(sq *q, void *vctx, tsl_diag *d) {
    hist_ctx *c = vctx;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_HIST_LIST, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, c->monitor);
    tsl_sq_bind_int(q, st, 2, c->limit ? (int64_t)c->limit : -1);
    while (!(err = tsl_sq_step(q, st, &row, d)) && row) {
        c->v = sq_grow(c->v, &c->cap, c->n, sizeof *c->v);
        tsl_store_alarm_change *h = &c->v[c->n++];
        memset(h, 0, sizeof *h);
        h->id = sqlite3_column_int64(st, 0);
        h->monitor = tsl_sq_col_str(st, 1);
        h->previous = state_of((const char *)sqlite3_column_text(st, 2));
        h->value = state_of((const char *)sqlite3_column_text(st, 3));
        h->datapoint = tsl_sq_col_double(st, 4);
        h->threshold = tsl_sq_col_double(st, 5);
        h->reason = tsl_sq_col_str(st, 6);
        h->at_ms = sqlite3_column_int64(st, 7);
        h->event_id = sqlite3_column_int64(st, 8);
    }
    return err;
}

tsl_err tsl_sq_alarm_history(tsl_store *s, const char *monitor, size_t limit,
                             tsl_store_alarm_change **out, size_t *n, tsl_diag *d) {
    hist_ctx c = {monitor, limit, NULL, 0, 0};
    tsl_err err = tsl_sq_tx(sq_of(s), 0, hist_body, hist_clear, &c, d);
    if (err) return err;
    *out = c.v;
    *n = c.n;
    return TSL_OK;
}

/* ---- cursors ---- */

static const char SQL_CURSOR_GET[] = "SELECT value FROM eval_cursors WHERE name = ?1";
static const char SQL_CURSOR_SET[] =
    "INSERT INTO eval_cursors(name, value, updated_ms) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms";

typedef struct cursor_ctx {
    const char *name;
    int64_t value;
} cursor_ctx;

/* The transaction of tsl_sq_cursor_get. */
static tsl_err cursor_get_body(sq *q, void *vctx, tsl_diag *d) {
    cursor_ctx *c = vctx;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    c->value = 0;
    if ((err = tsl_sq_prepare(q, SQL_CURSOR_GET, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, c->name);
    if ((err = tsl_sq_step(q, st, &row, d))) return err;
    if (row) {
        c->value = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    return TSL_OK;
}

/* The transaction of tsl_sq_cursor_set. */
static tsl_err cursor_set_body(sq *q, void *vctx, tsl_diag *d) {
    cursor_ctx *c = vctx;
    sqlite3_stmt *st;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_CURSOR_SET, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, c->name);
    tsl_sq_bind_int(q, st, 2, c->value);
    tsl_sq_bind_int(q, st, 3, tsl_sto_now(q->s));
    return tsl_sq_exec(q, st, d);
}

tsl_err tsl_sq_cursor_get(tsl_store *s, const char *name, int64_t *value, tsl_diag *d) {
    cursor_ctx c = {name, 0};
    tsl_err err = tsl_sq_tx(sq_of(s), 0, cursor_get_body, NULL, &c, d);
    *value = err ? 0 : c.value;
    return err;
}

tsl_err tsl_sq_cursor_set(tsl_store *s, const char *name, int64_t value, tsl_diag *d) {
    cursor_ctx c = {name, value};
    return tsl_sq_tx(sq_of(s), 1, cursor_set_body, NULL, &c, d);
}

/* ---- the observations of an ingest ---- */

/* The ingest's spans drive the join (CROSS JOIN fixes the order): each is a range read of
 * observations by primary key, of which the points a later ingest rewrote are filtered out. */
static const char SQL_INGEST_POINTS[] =
    "SELECT i.item_id, o.t, o.value FROM ingest_spans s CROSS JOIN observations o "
    "JOIN items i ON i.id = s.item "
    "WHERE s.ingest_id = ?1 AND o.item = s.item AND o.t BETWEEN s.t_min AND s.t_max "
    "AND o.ingest_id = ?1 ORDER BY i.item_id, o.t";

typedef struct points_ctx {
    int64_t ingest;
    tsl_store_point *v;
    size_t n, cap;
} points_ctx;

/* Drops a partial listing after a rollback. */
static void points_clear(void *vctx) {
    points_ctx *c = vctx;
    tsl_store_point_list_free(c->v, c->n);
    c->v = NULL;
    c->n = c->cap = 0;
}

/* The transaction of tsl_sq_ingest_points. */
static tsl_err points_body(sq *q, void *vctx, tsl_diag *d) {
    points_ctx *c = vctx;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_INGEST_POINTS, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, c->ingest);
    while (!(err = tsl_sq_step(q, st, &row, d)) && row) {
        c->v = sq_grow(c->v, &c->cap, c->n, sizeof *c->v);
        tsl_store_point *p = &c->v[c->n++];
        p->item = tsl_sq_col_str(st, 0);
        p->t = sqlite3_column_int64(st, 1);
        p->value = tsl_sq_col_double(st, 2);
    }
    return err;
}

tsl_err tsl_sq_ingest_points(tsl_store *s, int64_t ingest_id, tsl_store_point **out, size_t *n,
                             tsl_diag *d) {
    points_ctx c = {ingest_id, NULL, 0, 0};
    tsl_err err = tsl_sq_tx(sq_of(s), 0, points_body, points_clear, &c, d);
    if (err) return err;
    *out = c.v;
    *n = c.n;
    return TSL_OK;
}
