/*
 * sqlite_detector.c - the residual detectors' states in the SQLite back end (table
 * detector_states, migration 11). A state and the datapoints its residuals produced are
 * written in one transaction: a crash between the two would otherwise either lose a signal
 * or feed the residuals again on the next evaluation. The write compares each row's last_t
 * with what the caller read, so two evaluators (the CLI after an ingest and the daemon's
 * follower) never both feed the same residuals: the later one gets TSL_ECONFLICT.
 */
#include "store/sqlite_be.h"

#include <stdint.h>
#include <string.h>

#include "tsloop/mem.h"

static const char SQL_DET_LIST[] =
    "SELECT monitor, endpoint, item, forecaster, version, last_t, fed, signals, state, "
    "updated_ms FROM detector_states WHERE monitor = ?1 AND endpoint = ?2 ORDER BY item";

static const char SQL_DET_PUT[] =
    "INSERT INTO detector_states(monitor, endpoint, item, forecaster, version, last_t, fed, "
    "signals, state, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
    "ON CONFLICT (monitor, endpoint, item) DO UPDATE SET forecaster = excluded.forecaster, "
    "version = excluded.version, last_t = excluded.last_t, fed = excluded.fed, "
    "signals = excluded.signals, state = excluded.state, updated_ms = excluded.updated_ms";

static const char SQL_DET_LAST[] =
    "SELECT last_t FROM detector_states WHERE monitor = ?1 AND endpoint = ?2 AND item = ?3";

typedef struct det_list_ctx {
    const char *monitor, *endpoint;
    tsl_store_detector *v;
    size_t n, cap;
} det_list_ctx;

/* Drops a partial listing after a rollback. */
static void det_list_clear(void *vctx) {
    det_list_ctx *c = vctx;
    tsl_store_detector_list_free(c->v, c->n);
    c->v = NULL;
    c->n = c->cap = 0;
}

/* The transaction of tsl_sq_detector_list. */
static tsl_err det_list_body(sq *q, void *vctx, tsl_diag *d) {
    det_list_ctx *c = vctx;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_DET_LIST, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, c->monitor);
    tsl_sq_bind_text(q, st, 2, c->endpoint);
    while (!(err = tsl_sq_step(q, st, &row, d)) && row) {
        c->v = sq_grow(c->v, &c->cap, c->n, sizeof *c->v);
        tsl_store_detector *p = &c->v[c->n++];
        memset(p, 0, sizeof *p);
        p->monitor = tsl_sq_col_str(st, 0);
        p->endpoint = tsl_sq_col_str(st, 1);
        p->item = tsl_sq_col_str(st, 2);
        p->forecaster = tsl_sq_col_str(st, 3);
        p->version = sqlite3_column_int(st, 4);
        p->last_t = sqlite3_column_int64(st, 5);
        p->fed = (uint64_t)sqlite3_column_int64(st, 6);
        p->signals = (uint64_t)sqlite3_column_int64(st, 7);
        p->state = tsl_sq_col_str(st, 8);
        p->updated_ms = sqlite3_column_int64(st, 9);
    }
    return err;
}

tsl_err tsl_sq_detector_list(tsl_store *s, const char *monitor, const char *endpoint,
                             tsl_store_detector **out, size_t *n, tsl_diag *d) {
    det_list_ctx c = {monitor, endpoint, NULL, 0, 0};
    tsl_err err = tsl_sq_tx(sq_of(s), 0, det_list_body, det_list_clear, &c, d);
    if (err) return err;
    *out = c.v;
    *n = c.n;
    return TSL_OK;
}

typedef struct det_put_ctx {
    const tsl_store_detector *v;
    size_t n;
    const tsl_store_datapoint *dp;
    size_t ndp;
} det_put_ctx;

/* The transaction of tsl_sq_detector_put. */
static tsl_err det_put_body(sq *q, void *vctx, tsl_diag *d) {
    det_put_ctx *c = vctx;
    sqlite3_stmt *st;
    tsl_err err;
    int64_t now = tsl_sto_now(q->s);
    for (size_t i = 0; i < c->n; i++) {
        const tsl_store_detector *p = &c->v[i];
        int row = 0;
        int64_t cur = INT64_MIN;
        if ((err = tsl_sq_prepare(q, SQL_DET_LAST, &st, d))) return err;
        tsl_sq_bind_text(q, st, 1, p->monitor);
        tsl_sq_bind_text(q, st, 2, p->endpoint);
        tsl_sq_bind_text(q, st, 3, p->item);
        if ((err = tsl_sq_step(q, st, &row, d))) return err;
        if (row) {
            cur = sqlite3_column_int64(st, 0);
            sqlite3_reset(st);
        }
        if (cur != p->expect_last_t)
            return tsl_diag_set(d, TSL_ECONFLICT,
                                "detector state of monitor '%s', item '%s': fed by another "
                                "evaluator meanwhile",
                                p->monitor, p->item);
        if ((err = tsl_sq_prepare(q, SQL_DET_PUT, &st, d))) return err;
        tsl_sq_bind_text(q, st, 1, p->monitor);
        tsl_sq_bind_text(q, st, 2, p->endpoint);
        tsl_sq_bind_text(q, st, 3, p->item);
        tsl_sq_bind_text(q, st, 4, p->forecaster);
        tsl_sq_bind_int(q, st, 5, p->version);
        tsl_sq_bind_int(q, st, 6, p->last_t);
        tsl_sq_bind_int(q, st, 7, (int64_t)p->fed);
        tsl_sq_bind_int(q, st, 8, (int64_t)p->signals);
        tsl_sq_bind_text(q, st, 9, p->state);
        tsl_sq_bind_int(q, st, 10, p->updated_ms ? p->updated_ms : now);
        if ((err = tsl_sq_exec(q, st, d))) return err;
    }
    return tsl_sq_datapoint_write(q, c->dp, c->ndp, d);
}

tsl_err tsl_sq_detector_put(tsl_store *s, const tsl_store_detector *v, size_t n,
                            const tsl_store_datapoint *dp, size_t ndp, tsl_diag *d) {
    det_put_ctx c = {v, n, dp, ndp};
    return tsl_sq_tx(sq_of(s), 1, det_put_body, NULL, &c, d);
}
