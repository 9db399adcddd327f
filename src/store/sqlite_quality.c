/*
 * sqlite_quality.c - the context of an ingest's items and the quality monitors' per-ingest
 * reports, in the SQLite back end.
 *
 * An item's previous last timestamp is read without an index on ingest ids: walking the
 * item's observations backwards by primary key from its latest one, the first whose current
 * value an earlier ingest wrote is the answer (the ingest's own new points, at the end, are
 * skipped), and a point the ingest corrected (a revision of this ingest inside its span) existed
 * before it too. A report is inserted once per (ingest, monitor) with INSERT ... ON CONFLICT DO
 * NOTHING, and the dataset.quality event is appended in the same transaction only when the
 * insert happened, so evaluators racing on one ingest emit one event.
 */
#include "store/sqlite_be.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tsloop/mem.h"

/* ---- the context of an ingest's items ---- */

static const char SQL_INGEST_ITEMS[] =
    "SELECT i.item_id, i.t_min, "
    "(SELECT o.t FROM observations o WHERE o.item = s.item AND o.ingest_id < ?1 "
    "ORDER BY o.t DESC LIMIT 1), "
    "(SELECT max(r.t) FROM revisions r WHERE r.item = s.item AND r.t BETWEEN s.t_min AND "
    "s.t_max AND r.ingest_id = ?1), "
    "(SELECT count(DISTINCT r.t) FROM revisions r WHERE r.item = s.item AND r.t BETWEEN s.t_min "
    "AND s.t_max AND r.ingest_id = ?1) "
    "FROM ingest_spans s JOIN items i ON i.id = s.item WHERE s.ingest_id = ?1 ORDER BY i.item_id";

typedef struct items_ctx {
    int64_t ingest;
    tsl_store_ingest_item *v;
    size_t n, cap;
} items_ctx;

/* Drops a partial listing after a rollback. */
static void items_clear(void *vctx) {
    items_ctx *c = vctx;
    tsl_store_ingest_item_list_free(c->v, c->n);
    c->v = NULL;
    c->n = c->cap = 0;
}

/* The transaction of tsl_sq_ingest_items. */
static tsl_err items_body(sq *q, void *vctx, tsl_diag *d) {
    items_ctx *c = vctx;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_INGEST_ITEMS, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, c->ingest);
    while (!(err = tsl_sq_step(q, st, &row, d)) && row) {
        c->v = sq_grow(c->v, &c->cap, c->n, sizeof *c->v);
        tsl_store_ingest_item *p = &c->v[c->n++];
        memset(p, 0, sizeof *p);
        p->item = tsl_sq_col_str(st, 0);
        p->first = sqlite3_column_int64(st, 1);
        p->prev_last = INT64_MIN;
        if (sqlite3_column_type(st, 2) != SQLITE_NULL) p->prev_last = sqlite3_column_int64(st, 2);
        if (sqlite3_column_type(st, 3) != SQLITE_NULL && sqlite3_column_int64(st, 3) > p->prev_last)
            p->prev_last = sqlite3_column_int64(st, 3);
        p->corrected = (uint64_t)sqlite3_column_int64(st, 4);
    }
    return err;
}

tsl_err tsl_sq_ingest_items(tsl_store *s, int64_t ingest_id, tsl_store_ingest_item **out, size_t *n,
                            tsl_diag *d) {
    items_ctx c = {ingest_id, NULL, 0, 0};
    tsl_err err = tsl_sq_tx(sq_of(s), 0, items_body, items_clear, &c, d);
    if (err) return err;
    *out = c.v;
    *n = c.n;
    return TSL_OK;
}

/* ---- reports ---- */

static const char SQL_QUALITY_PUT[] =
    "INSERT INTO quality_reports(monitor, ingest_id, dataset, worst, summary, event_id, at_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6) ON CONFLICT (ingest_id, monitor) DO NOTHING";
static const char SQL_QUALITY_EVENT[] =
    "UPDATE quality_reports SET event_id = ?3 WHERE ingest_id = ?1 AND monitor = ?2";
static const char SQL_QUALITY_LIST[] =
    "SELECT monitor, ingest_id, dataset, worst, summary, event_id, at_ms FROM quality_reports "
    "WHERE ingest_id = ?1 AND (?2 IS NULL OR monitor = ?2) ORDER BY monitor";

typedef struct put_ctx {
    const tsl_store_quality *q;
    const char *payload;
    int recorded;
} put_ctx;

/* The transaction of tsl_sq_quality_put. */
static tsl_err put_body(sq *q, void *vctx, tsl_diag *d) {
    put_ctx *c = vctx;
    sqlite3_stmt *st;
    tsl_err err;
    char subject[TSL_STORE_NAME_MAX + 16];
    int64_t id = 0;
    c->recorded = 0;
    if ((err = tsl_sq_prepare(q, SQL_QUALITY_PUT, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, c->q->monitor);
    tsl_sq_bind_int(q, st, 2, c->q->ingest_id);
    tsl_sq_bind_text(q, st, 3, c->q->dataset);
    tsl_sq_bind_text(q, st, 4, c->q->worst);
    tsl_sq_bind_text(q, st, 5, c->q->summary ? c->q->summary : "");
    tsl_sq_bind_int(q, st, 6, tsl_sto_now(q->s));
    if ((err = tsl_sq_exec(q, st, d))) return err;
    if (!sqlite3_changes(q->db)) return TSL_OK; /* evaluated before: nothing to add */
    c->recorded = 1;
    if (!c->payload) return TSL_OK;
    snprintf(subject, sizeof subject, "dataset:%s", c->q->dataset);
    if ((err = tsl_sq_event(q, "dataset.quality", subject, c->payload, &id, d))) return err;
    if ((err = tsl_sq_prepare(q, SQL_QUALITY_EVENT, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, c->q->ingest_id);
    tsl_sq_bind_text(q, st, 2, c->q->monitor);
    tsl_sq_bind_int(q, st, 3, id);
    return tsl_sq_exec(q, st, d);
}

tsl_err tsl_sq_quality_put(tsl_store *s, const tsl_store_quality *q, const char *payload,
                           int *recorded, tsl_diag *d) {
    put_ctx c = {q, payload, 0};
    tsl_err err = tsl_sq_tx(sq_of(s), 1, put_body, NULL, &c, d);
    *recorded = err ? 0 : c.recorded;
    return err;
}

typedef struct list_ctx {
    int64_t ingest;
    const char *monitor;
    tsl_store_quality *v;
    size_t n, cap;
} list_ctx;

/* Drops a partial listing after a rollback. */
static void list_clear(void *vctx) {
    list_ctx *c = vctx;
    tsl_store_quality_list_free(c->v, c->n);
    c->v = NULL;
    c->n = c->cap = 0;
}

/* The transaction of tsl_sq_quality_list. */
static tsl_err list_body(sq *q, void *vctx, tsl_diag *d) {
    list_ctx *c = vctx;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_QUALITY_LIST, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, c->ingest);
    tsl_sq_bind_text(q, st, 2, c->monitor);
    while (!(err = tsl_sq_step(q, st, &row, d)) && row) {
        c->v = sq_grow(c->v, &c->cap, c->n, sizeof *c->v);
        tsl_store_quality *p = &c->v[c->n++];
        p->monitor = tsl_sq_col_str(st, 0);
        p->ingest_id = sqlite3_column_int64(st, 1);
        p->dataset = tsl_sq_col_str(st, 2);
        p->worst = tsl_sq_col_str(st, 3);
        p->summary = tsl_sq_col_str(st, 4);
        p->event_id = sqlite3_column_int64(st, 5);
        p->at_ms = sqlite3_column_int64(st, 6);
    }
    return err;
}

tsl_err tsl_sq_quality_list(tsl_store *s, int64_t ingest_id, const char *monitor,
                            tsl_store_quality **out, size_t *n, tsl_diag *d) {
    list_ctx c = {ingest_id, monitor, NULL, 0, 0};
    tsl_err err = tsl_sq_tx(sq_of(s), 0, list_body, list_clear, &c, d);
    if (err) return err;
    *out = c.v;
    *n = c.n;
    return TSL_OK;
}
