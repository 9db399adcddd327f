/*
 * sqlite_misc.c - versioned parameters and the event log in the SQLite back end.
 *
 * Both tables are append-only (triggers refuse UPDATE and DELETE). A parameter's next version
 * is its highest plus one, taken inside the write transaction. Event ids are SQLite rowids:
 * since writers are serialised and rows are never deleted, ids increase in commit order, which
 * is the contract store.h states for following the log by polling "after the last id seen".
 */
#include "store/sqlite_be.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "tsloop/mem.h"

/* ---- parameters ---- */

static const char SQL_PARAM_NEXT[] =
    "SELECT coalesce(max(version), 0) + 1 FROM params WHERE key = ?1";
static const char SQL_PARAM_INSERT[] =
    "INSERT INTO params(key, version, value, who, why, at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
static const char SQL_PARAM_LATEST[] = "SELECT key, version, value, who, why, at_ms FROM params "
                                       "WHERE key = ?1 ORDER BY version DESC LIMIT 1";
static const char SQL_PARAM_AT[] =
    "SELECT key, version, value, who, why, at_ms FROM params WHERE key = ?1 AND version = ?2";
static const char SQL_PARAM_HISTORY[] = "SELECT key, version, value, who, why, at_ms FROM params "
                                        "WHERE key = ?1 ORDER BY version";
static const char SQL_PARAM_ALL[] =
    "SELECT p.key, p.version, p.value, p.who, p.why, p.at_ms FROM params p "
    "WHERE p.version = (SELECT max(version) FROM params WHERE key = p.key) ORDER BY p.key";

/* A parameter row into p. */
static void read_param(sqlite3_stmt *st, tsl_store_param *p) {
    p->key = tsl_sq_col_str(st, 0);
    p->version = sqlite3_column_int(st, 1);
    p->value = tsl_sq_col_str(st, 2);
    p->who = tsl_sq_col_str(st, 3);
    p->why = tsl_sq_col_str(st, 4);
    p->at_ms = sqlite3_column_int64(st, 5);
}

typedef struct set_ctx {
    const char *key, *value, *who, *why;
    int version;
} set_ctx;

/* The transaction of tsl_sq_param_set: the next version and its event. */
static tsl_err set_body(sq *q, void *vctx, tsl_diag *d) {
    set_ctx *c = vctx;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    char subject[160];
    if ((err = tsl_sq_prepare(q, SQL_PARAM_NEXT, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, c->key);
    if ((err = tsl_sq_step(q, st, &row, d))) return err;
    c->version = row ? sqlite3_column_int(st, 0) : 1;
    sqlite3_reset(st);
    if ((err = tsl_sq_prepare(q, SQL_PARAM_INSERT, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, c->key);
    tsl_sq_bind_int(q, st, 2, c->version);
    tsl_sq_bind_text(q, st, 3, c->value);
    tsl_sq_bind_text(q, st, 4, c->who);
    tsl_sq_bind_text(q, st, 5, c->why);
    tsl_sq_bind_int(q, st, 6, tsl_sto_now(q->s));
    if ((err = tsl_sq_exec(q, st, d))) return err;
    snprintf(subject, sizeof subject, "param:%s", c->key);
    return tsl_sq_event_own(q, "param.set", subject,
                            tsl_sto_json("{s:s, s:i, s:s, s:s, s:s}", "key", c->key, "version",
                                         c->version, "value", c->value, "who", c->who, "why",
                                         c->why),
                            d);
}

tsl_err tsl_sq_param_set(tsl_store *s, const char *key, const char *value, const char *who,
                         const char *why, int *version, tsl_diag *d) {
    set_ctx c = {key, value, who, why, 0};
    tsl_err err = tsl_sq_tx(sq_of(s), 1, set_body, NULL, &c, d);
    if (!err) *version = c.version;
    return err;
}

typedef struct get_ctx {
    const char *key;
    int version;
    tsl_store_param *out;
} get_ctx;

/* Drops a partial parameter after a rollback. */
static void get_clear(void *vctx) {
    get_ctx *c = vctx;
    tsl_store_param_release(c->out);
}

/* The transaction of tsl_sq_param_get. */
static tsl_err get_body(sq *q, void *vctx, tsl_diag *d) {
    get_ctx *c = vctx;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, c->version ? SQL_PARAM_AT : SQL_PARAM_LATEST, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, c->key);
    if (c->version) tsl_sq_bind_int(q, st, 2, c->version);
    if ((err = tsl_sq_step(q, st, &row, d))) return err;
    if (!row) {
        if (c->version)
            return tsl_diag_set(d, TSL_ENOTFOUND, "store %s: parameter '%s' has no version %d",
                                q->s->location, c->key, c->version);
        return tsl_diag_set(d, TSL_ENOTFOUND, "store %s: no parameter '%s'", q->s->location,
                            c->key);
    }
    read_param(st, c->out);
    sqlite3_reset(st);
    return TSL_OK;
}

tsl_err tsl_sq_param_get(tsl_store *s, const char *key, int version, tsl_store_param *out,
                         tsl_diag *d) {
    get_ctx c = {key, version, out};
    return tsl_sq_tx(sq_of(s), 0, get_body, get_clear, &c, d);
}

typedef struct list_ctx {
    const char *key; /* NULL: the latest of every key */
    tsl_store_param *v;
    size_t n, cap;
} list_ctx;

/* Drops a partial listing after a rollback. */
static void list_clear(void *vctx) {
    list_ctx *c = vctx;
    tsl_store_param_list_free(c->v, c->n);
    c->v = NULL;
    c->n = c->cap = 0;
}

/* The transaction of tsl_sq_param_history (a key) and tsl_sq_param_list (NULL key). */
static tsl_err list_body(sq *q, void *vctx, tsl_diag *d) {
    list_ctx *c = vctx;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, c->key ? SQL_PARAM_HISTORY : SQL_PARAM_ALL, &st, d))) return err;
    if (c->key) tsl_sq_bind_text(q, st, 1, c->key);
    while (!(err = tsl_sq_step(q, st, &row, d)) && row) {
        c->v = sq_grow(c->v, &c->cap, c->n, sizeof *c->v);
        memset(&c->v[c->n], 0, sizeof c->v[c->n]);
        read_param(st, &c->v[c->n++]);
    }
    if (!err && c->key && c->n == 0)
        return tsl_diag_set(d, TSL_ENOTFOUND, "store %s: no parameter '%s'", q->s->location,
                            c->key);
    return err;
}

tsl_err tsl_sq_param_history(tsl_store *s, const char *key, tsl_store_param **out, size_t *n,
                             tsl_diag *d) {
    list_ctx c = {key, NULL, 0, 0};
    tsl_err err = tsl_sq_tx(sq_of(s), 0, list_body, list_clear, &c, d);
    if (err) return err;
    *out = c.v;
    *n = c.n;
    return TSL_OK;
}

tsl_err tsl_sq_param_list(tsl_store *s, tsl_store_param **out, size_t *n, tsl_diag *d) {
    list_ctx c = {NULL, NULL, 0, 0};
    tsl_err err = tsl_sq_tx(sq_of(s), 0, list_body, list_clear, &c, d);
    if (err) return err;
    *out = c.v;
    *n = c.n;
    return TSL_OK;
}

/* ---- events ---- */

static const char SQL_EVENTS_AFTER[] =
    "SELECT id, at_ms, type, subject, payload FROM events WHERE id > ?1 ORDER BY id LIMIT ?2";

typedef struct append_ctx {
    const char *type, *subject, *payload;
    int64_t id;
} append_ctx;

/* The transaction of tsl_sq_event_append. */
static tsl_err append_body(sq *q, void *vctx, tsl_diag *d) {
    append_ctx *c = vctx;
    return tsl_sq_event(q, c->type, c->subject, c->payload, &c->id, d);
}

tsl_err tsl_sq_event_append(tsl_store *s, const char *type, const char *subject,
                            const char *payload, int64_t *id, tsl_diag *d) {
    append_ctx c = {type, subject, payload, 0};
    tsl_err err = tsl_sq_tx(sq_of(s), 1, append_body, NULL, &c, d);
    if (!err) *id = c.id;
    return err;
}

typedef struct events_ctx {
    int64_t after;
    size_t limit;
    tsl_store_event *v;
    size_t n, cap;
} events_ctx;

/* Drops a partial listing after a rollback. */
static void events_clear(void *vctx) {
    events_ctx *c = vctx;
    tsl_store_event_list_free(c->v, c->n);
    c->v = NULL;
    c->n = c->cap = 0;
}

/* The transaction of tsl_sq_event_list. */
static tsl_err events_body(sq *q, void *vctx, tsl_diag *d) {
    events_ctx *c = vctx;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_EVENTS_AFTER, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, c->after);
    tsl_sq_bind_int(q, st, 2, c->limit ? (int64_t)c->limit : -1);
    while (!(err = tsl_sq_step(q, st, &row, d)) && row) {
        c->v = sq_grow(c->v, &c->cap, c->n, sizeof *c->v);
        tsl_store_event *e = &c->v[c->n++];
        e->id = sqlite3_column_int64(st, 0);
        e->at_ms = sqlite3_column_int64(st, 1);
        e->type = tsl_sq_col_str(st, 2);
        e->subject = tsl_sq_col_str(st, 3);
        e->payload = tsl_sq_col_str(st, 4);
    }
    return err;
}

tsl_err tsl_sq_event_list(tsl_store *s, int64_t after_id, size_t limit, tsl_store_event **out,
                          size_t *n, tsl_diag *d) {
    events_ctx c = {after_id, limit, NULL, 0, 0};
    tsl_err err = tsl_sq_tx(sq_of(s), 0, events_body, events_clear, &c, d);
    if (err) return err;
    *out = c.v;
    *n = c.n;
    return TSL_OK;
}
