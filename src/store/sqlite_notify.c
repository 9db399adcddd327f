/*
 * sqlite_notify.c - the inbox's record of handled files and the notification channels'
 * positions in the event log, in the SQLite back end (migration 7).
 *
 * Both are small tables written once per file or per delivery, so every operation is a short
 * transaction of its own. A channel's row is created lazily by the first read, at the end of
 * the log, inside the same write transaction that reads the log's end: two notifiers starting
 * at once agree on where the channel starts. Advancing a cursor and appending the
 * notification.sent/failed event share one transaction, so the log never says a notification
 * was sent that the cursor has not passed, nor the other way round.
 */
#include "store/sqlite_be.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "tsloop/mem.h"

/* ---- inbox files ---- */

static const char SQL_INBOX_FIND[] =
    "SELECT id, dataset, name, size, sha256, status, ingest_id, error, at_ms FROM inbox_files "
    "WHERE dataset = ?1 AND name = ?2 AND size = ?3 AND sha256 = ?4";
static const char SQL_INBOX_INSERT[] =
    "INSERT INTO inbox_files(dataset, name, size, sha256, status, ingest_id, error, at_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING";

typedef struct find_ctx {
    const char *dataset, *name, *sha256;
    int64_t size;
    tsl_store_inbox_file *out;
} find_ctx;

/* Drops a partial record after a rollback. */
static void find_clear(void *vctx) {
    find_ctx *c = vctx;
    tsl_store_inbox_file_release(c->out);
}

/* The transaction of tsl_sq_inbox_find. */
static tsl_err find_body(sq *q, void *vctx, tsl_diag *d) {
    find_ctx *c = vctx;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_INBOX_FIND, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, c->dataset);
    tsl_sq_bind_text(q, st, 2, c->name);
    tsl_sq_bind_int(q, st, 3, c->size);
    tsl_sq_bind_text(q, st, 4, c->sha256);
    if ((err = tsl_sq_step(q, st, &row, d))) return err;
    if (!row)
        return tsl_diag_set(d, TSL_ENOTFOUND,
                            "store %s: inbox file '%s' of data set '%s' was "
                            "never handled",
                            q->s->location, c->name, c->dataset);
    tsl_store_inbox_file *f = c->out;
    f->id = sqlite3_column_int64(st, 0);
    f->dataset = tsl_sq_col_str(st, 1);
    f->name = tsl_sq_col_str(st, 2);
    f->size = sqlite3_column_int64(st, 3);
    const unsigned char *h = sqlite3_column_text(st, 4);
    tsl_strlcpy(f->sha256, h ? (const char *)h : "", sizeof f->sha256);
    const unsigned char *status = sqlite3_column_text(st, 5);
    f->ok = status && !strcmp((const char *)status, "processed");
    f->ingest_id = sqlite3_column_int64(st, 6);
    f->error = tsl_sq_col_str(st, 7);
    f->at_ms = sqlite3_column_int64(st, 8);
    sqlite3_reset(st);
    return TSL_OK;
}

tsl_err tsl_sq_inbox_find(tsl_store *s, const char *dataset, const char *name, int64_t size,
                          const char *sha256, tsl_store_inbox_file *out, tsl_diag *d) {
    find_ctx c = {dataset, name, sha256, size, out};
    return tsl_sq_tx(sq_of(s), 0, find_body, find_clear, &c, d);
}

/* The transaction of tsl_sq_inbox_record. */
static tsl_err record_body(sq *q, void *vctx, tsl_diag *d) {
    const tsl_store_inbox_file *f = vctx;
    sqlite3_stmt *st;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_INBOX_INSERT, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, f->dataset);
    tsl_sq_bind_text(q, st, 2, f->name);
    tsl_sq_bind_int(q, st, 3, f->size);
    tsl_sq_bind_text(q, st, 4, f->sha256);
    tsl_sq_bind_text(q, st, 5, f->ok ? "processed" : "failed");
    tsl_sq_bind_int(q, st, 6, f->ingest_id);
    tsl_sq_bind_text(q, st, 7, f->error);
    tsl_sq_bind_int(q, st, 8, tsl_sto_now(q->s));
    return tsl_sq_exec(q, st, d);
}

tsl_err tsl_sq_inbox_record(tsl_store *s, const tsl_store_inbox_file *f, tsl_diag *d) {
    return tsl_sq_tx(sq_of(s), 1, record_body, NULL, (void *)f, d);
}

/* ---- notification channels ---- */

static const char SQL_CHAN_GET[] =
    "SELECT cursor, event_id, attempts, next_ms, error FROM notify_channels WHERE channel = ?1";
static const char SQL_CHAN_CREATE[] =
    "INSERT INTO notify_channels(channel, cursor, updated_ms) "
    "VALUES (?1, (SELECT coalesce(max(id), 0) FROM events), ?2) ON CONFLICT DO NOTHING";
static const char SQL_CHAN_FAIL[] =
    "UPDATE notify_channels SET event_id = ?2, attempts = ?3, next_ms = ?4, error = ?5, "
    "updated_ms = ?6 WHERE channel = ?1";
static const char SQL_CHAN_ADVANCE[] =
    "UPDATE notify_channels SET cursor = max(cursor, ?2), event_id = 0, attempts = 0, "
    "next_ms = 0, error = NULL, updated_ms = ?3 WHERE channel = ?1";

typedef struct chan_ctx {
    int create; /* get: create the row when missing (a write transaction) */
    int found;
    const char *channel;
    int64_t event_id, next_ms;
    int attempts;
    const char *error, *type, *payload;
    tsl_store_notify_state *out;
} chan_ctx;

/* Drops a partial state after a rollback. */
static void chan_clear(void *vctx) {
    chan_ctx *c = vctx;
    if (c->out) tsl_store_notify_state_release(c->out);
}

/* Creates the channel's row at the end of the log when it has none. */
static tsl_err chan_create(sq *q, const char *channel, tsl_diag *d) {
    sqlite3_stmt *st;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_CHAN_CREATE, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, channel);
    tsl_sq_bind_int(q, st, 2, tsl_sto_now(q->s));
    return tsl_sq_exec(q, st, d);
}

/* The transaction of tsl_sq_notify_get. */
static tsl_err get_body(sq *q, void *vctx, tsl_diag *d) {
    chan_ctx *c = vctx;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if (c->create && (err = chan_create(q, c->channel, d))) return err;
    if ((err = tsl_sq_prepare(q, SQL_CHAN_GET, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, c->channel);
    if ((err = tsl_sq_step(q, st, &row, d))) return err;
    assert(row || !c->create); /* created just above, in this transaction */
    if (!row) return TSL_OK;
    c->found = 1;
    c->out->cursor = sqlite3_column_int64(st, 0);
    c->out->event_id = sqlite3_column_int64(st, 1);
    c->out->attempts = sqlite3_column_int(st, 2);
    c->out->next_ms = sqlite3_column_int64(st, 3);
    c->out->error = tsl_sq_col_str(st, 4);
    sqlite3_reset(st);
    return TSL_OK;
}

tsl_err tsl_sq_notify_get(tsl_store *s, const char *channel, tsl_store_notify_state *out,
                          tsl_diag *d) {
    /* Read first: the row exists but once, and a write transaction per poll would contend
     * with ingests for the write lock. */
    chan_ctx c = {0, 0, channel, 0, 0, 0, NULL, NULL, NULL, out};
    tsl_err err = tsl_sq_tx(sq_of(s), 0, get_body, chan_clear, &c, d);
    if (err || c.found) return err;
    c.create = 1;
    return tsl_sq_tx(sq_of(s), 1, get_body, chan_clear, &c, d);
}

/* The transaction of tsl_sq_notify_fail. */
static tsl_err fail_body(sq *q, void *vctx, tsl_diag *d) {
    chan_ctx *c = vctx;
    sqlite3_stmt *st;
    tsl_err err;
    if ((err = chan_create(q, c->channel, d))) return err;
    if ((err = tsl_sq_prepare(q, SQL_CHAN_FAIL, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, c->channel);
    tsl_sq_bind_int(q, st, 2, c->event_id);
    tsl_sq_bind_int(q, st, 3, c->attempts);
    tsl_sq_bind_int(q, st, 4, c->next_ms);
    tsl_sq_bind_text(q, st, 5, c->error);
    tsl_sq_bind_int(q, st, 6, tsl_sto_now(q->s));
    return tsl_sq_exec(q, st, d);
}

tsl_err tsl_sq_notify_fail(tsl_store *s, const char *channel, int64_t event_id, int attempts,
                           int64_t next_ms, const char *error, tsl_diag *d) {
    chan_ctx c = {0, 0, channel, event_id, next_ms, attempts, error, NULL, NULL, NULL};
    return tsl_sq_tx(sq_of(s), 1, fail_body, NULL, &c, d);
}

/* The transaction of tsl_sq_notify_advance: the cursor and the event together. */
static tsl_err advance_body(sq *q, void *vctx, tsl_diag *d) {
    chan_ctx *c = vctx;
    sqlite3_stmt *st;
    tsl_err err;
    char subject[160];
    if ((err = chan_create(q, c->channel, d))) return err;
    if ((err = tsl_sq_prepare(q, SQL_CHAN_ADVANCE, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, c->channel);
    tsl_sq_bind_int(q, st, 2, c->event_id);
    tsl_sq_bind_int(q, st, 3, tsl_sto_now(q->s));
    if ((err = tsl_sq_exec(q, st, d))) return err;
    if (!c->type) return TSL_OK;
    snprintf(subject, sizeof subject, "channel:%s", c->channel);
    return tsl_sq_event(q, c->type, subject, c->payload ? c->payload : "{}", NULL, d);
}

tsl_err tsl_sq_notify_advance(tsl_store *s, const char *channel, int64_t event_id, const char *type,
                              const char *payload, tsl_diag *d) {
    chan_ctx c = {0, 0, channel, event_id, 0, 0, NULL, type, payload, NULL};
    return tsl_sq_tx(sq_of(s), 1, advance_body, NULL, &c, d);
}
