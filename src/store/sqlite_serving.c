/*
 * sqlite_serving.c - what serving forecasts keeps in the SQLite back end: endpoints and their
 * deployment history, API tokens, captured forecasts; and what it reads: the tail of a series.
 *
 * An endpoint row points at its current deployment; deployments are append-only, and each
 * remembers the deployment it replaced (previous_id). A rollback is therefore a new row whose
 * model is the replaced deployment's and whose previous is the replaced one's previous: the
 * history stays complete and a second rollback walks one step further back. Deploying and
 * rolling back are write transactions that read the current pointer and move it, so two
 * concurrent deploys serialise and neither is lost.
 *
 * Tokens are looked up by their hash (a unique index): verifying a request costs one B-tree
 * probe. Captures are one row per (request, item) with their arrays as little-endian blobs
 * (targets int64, levels/means/quantiles float64): a 24-step forecast is one short row, which
 * is what lets a group commit of thousands of captures take milliseconds. The tail of a series
 * is one range scan of the observations' (item, t) primary key.
 */
#include "store/sqlite_be.h"

#include <assert.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "tsloop/mem.h"

/* ---- deployments ---- */

#define DEP_COLS                                                                                   \
    "d.id, d.endpoint, m.forecaster, m.version, d.model_id, d.action, "                            \
    "coalesce(d.previous_id, 0), d.who, d.why, d.at_ms"

static const char SQL_DEP_MODEL[] =
    "SELECT id, version, status FROM models WHERE forecaster = ?1 AND "
    "(version = ?2 OR (?2 = 0 AND version = (SELECT max(version) FROM models WHERE forecaster = "
    "?1)))";
static const char SQL_DEP_CURRENT[] = "SELECT " DEP_COLS " FROM endpoints e "
                                      "JOIN deployments d ON d.id = e.current_id "
                                      "JOIN models m ON m.id = d.model_id WHERE e.name = ?1";
static const char SQL_DEP_BY_ID[] = "SELECT " DEP_COLS " FROM deployments d "
                                    "JOIN models m ON m.id = d.model_id WHERE d.id = ?1";
static const char SQL_DEP_INSERT[] =
    "INSERT INTO deployments(endpoint, model_id, action, previous_id, who, why, at_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
static const char SQL_EP_UPSERT[] =
    "INSERT INTO endpoints(name, current_id, created_ms) VALUES (?1, ?2, ?3) "
    "ON CONFLICT(name) DO UPDATE SET current_id = excluded.current_id";
static const char SQL_EP_LIST[] = "SELECT " DEP_COLS " FROM endpoints e "
                                  "JOIN deployments d ON d.id = e.current_id "
                                  "JOIN models m ON m.id = d.model_id ORDER BY e.name";
static const char SQL_DEP_HISTORY[] = "SELECT " DEP_COLS " FROM deployments d "
                                      "JOIN models m ON m.id = d.model_id WHERE d.endpoint = ?1 "
                                      "ORDER BY d.id DESC LIMIT ?2";

/* A deployment row (DEP_COLS) into dp. */
static void read_dep(sqlite3_stmt *st, tsl_store_deployment *dp) {
    dp->id = sqlite3_column_int64(st, 0);
    dp->endpoint = tsl_sq_col_str(st, 1);
    dp->forecaster = tsl_sq_col_str(st, 2);
    dp->version = sqlite3_column_int(st, 3);
    dp->model_id = sqlite3_column_int64(st, 4);
    dp->rollback = !strcmp((const char *)sqlite3_column_text(st, 5), "rollback");
    dp->previous_id = sqlite3_column_int64(st, 6);
    dp->who = tsl_sq_col_str(st, 7);
    dp->why = tsl_sq_col_str(st, 8);
    dp->at_ms = sqlite3_column_int64(st, 9);
}

/* Reads the one row of sql bound to text a (or id when a is NULL) into dp; *found says
 * whether there was one. */
static tsl_err dep_one(sq *q, const char *sql, const char *a, int64_t id, tsl_store_deployment *dp,
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
        read_dep(st, dp);
        sqlite3_reset(st);
    }
    return TSL_OK;
}

typedef struct dep_ctx {
    const char *endpoint, *forecaster, *who, *why;
    int version, require_approved, rollback;
    tsl_store_deployment out;
} dep_ctx;

/* Drops a partial result after a rollback. */
static void dep_clear(void *vctx) {
    dep_ctx *c = vctx;
    tsl_store_deployment_release(&c->out);
}

/* Inserts a deployment of model_id with previous prev, moves the endpoint to it, records the
 * event and reads the new row into c->out. */
static tsl_err dep_insert(sq *q, dep_ctx *c, int64_t model_id, int64_t prev, tsl_diag *d) {
    sqlite3_stmt *st;
    tsl_err err;
    int64_t now = tsl_sto_now(q->s), id;
    int found = 0;
    char subject[96];
    if ((err = tsl_sq_prepare(q, SQL_DEP_INSERT, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, c->endpoint);
    tsl_sq_bind_int(q, st, 2, model_id);
    tsl_sq_bind_text(q, st, 3, c->rollback ? "rollback" : "deploy");
    if (prev)
        tsl_sq_bind_int(q, st, 4, prev);
    else
        tsl_sq_bind_null(q, st, 4);
    tsl_sq_bind_text(q, st, 5, c->who);
    tsl_sq_bind_text(q, st, 6, c->why);
    tsl_sq_bind_int(q, st, 7, now);
    if ((err = tsl_sq_exec(q, st, d))) return err;
    id = sqlite3_last_insert_rowid(q->db);
    if ((err = tsl_sq_prepare(q, SQL_EP_UPSERT, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, c->endpoint);
    tsl_sq_bind_int(q, st, 2, id);
    tsl_sq_bind_int(q, st, 3, now);
    if ((err = tsl_sq_exec(q, st, d))) return err;
    if ((err = dep_one(q, SQL_DEP_BY_ID, NULL, id, &c->out, &found, d))) return err;
    if (!found)
        return tsl_diag_set(d, TSL_EINTERNAL, "store %s: deployment %lld vanished", q->s->location,
                            (long long)id);
    snprintf(subject, sizeof subject, "endpoint:%s", c->endpoint);
    /* A shadow whose version now serves live has nothing left to shadow. */
    if ((err = tsl_sq_shadow_deployed(q, c->endpoint, model_id, c->who, d))) return err;
    return tsl_sq_event_own(q, c->rollback ? "endpoint.rolled_back" : "endpoint.deployed", subject,
                            tsl_sto_json("{s:s, s:s, s:i, s:I, s:s, s:s}", "endpoint", c->endpoint,
                                         "forecaster", c->out.forecaster, "version", c->out.version,
                                         "deployment", (json_int_t)id, "who", c->who, "why",
                                         c->why),
                            d);
}

/* The transaction of tsl_sq_deploy. */
static tsl_err deploy_body(sq *q, void *vctx, tsl_diag *d) {
    dep_ctx *c = vctx;
    sqlite3_stmt *st;
    int row = 0, found = 0;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_DEP_MODEL, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, c->forecaster);
    tsl_sq_bind_int(q, st, 2, c->version);
    if ((err = tsl_sq_step(q, st, &row, d))) return err;
    if (!row) {
        if (c->version)
            return tsl_diag_set(d, TSL_ENOTFOUND, "store %s: no version %d of '%s'", q->s->location,
                                c->version, c->forecaster);
        return tsl_diag_set(d, TSL_ENOTFOUND, "store %s: '%s' has no versions", q->s->location,
                            c->forecaster);
    }
    int64_t model_id = sqlite3_column_int64(st, 0);
    int version = sqlite3_column_int(st, 1);
    char status[32];
    tsl_strlcpy(status, (const char *)sqlite3_column_text(st, 2), sizeof status);
    sqlite3_reset(st);
    if (!strcmp(status, "Rejected"))
        return tsl_diag_set(d, TSL_ECONFLICT, "%s/%d is Rejected: it cannot be deployed",
                            c->forecaster, version);
    if (c->require_approved && strcmp(status, "Approved"))
        return tsl_diag_set(d, TSL_ECONFLICT,
                            "endpoint '%s' requires approval and %s/%d is %s; approve it first "
                            "(tsloop models approve %s/%d --why ...)",
                            c->endpoint, c->forecaster, version, status, c->forecaster, version);
    tsl_store_deployment cur = {0};
    if ((err = dep_one(q, SQL_DEP_CURRENT, c->endpoint, 0, &cur, &found, d))) return err;
    if (found && cur.model_id == model_id) {
        c->out = cur; /* already current: nothing changes */
        return TSL_OK;
    }
    int64_t prev = found ? cur.id : 0;
    tsl_store_deployment_release(&cur);
    return dep_insert(q, c, model_id, prev, d);
}

tsl_err tsl_sq_deploy(tsl_store *s, const char *endpoint, const char *forecaster, int version,
                      int require_approved, const char *who, const char *why,
                      tsl_store_deployment *out, tsl_diag *d) {
    dep_ctx c = {endpoint, forecaster, who, why, version, require_approved, 0, {0}};
    tsl_err err = tsl_sq_tx(sq_of(s), 1, deploy_body, dep_clear, &c, d);
    if (!err) *out = c.out;
    return err;
}

/* The transaction of tsl_sq_rollback. */
static tsl_err rollback_body(sq *q, void *vctx, tsl_diag *d) {
    dep_ctx *c = vctx;
    tsl_store_deployment cur = {0}, prev = {0};
    int found = 0;
    tsl_err err;
    if ((err = dep_one(q, SQL_DEP_CURRENT, c->endpoint, 0, &cur, &found, d))) return err;
    if (!found) return tsl_diag_set(d, TSL_ENOTFOUND, "no endpoint '%s'", c->endpoint);
    if (!cur.previous_id) {
        err = tsl_diag_set(d, TSL_ECONFLICT,
                           "endpoint '%s' has nothing to roll back to: %s/%d is its first "
                           "deployment",
                           c->endpoint, cur.forecaster, cur.version);
        goto out;
    }
    if ((err = dep_one(q, SQL_DEP_BY_ID, NULL, cur.previous_id, &prev, &found, d))) goto out;
    if (!found) {
        err = tsl_diag_set(d, TSL_ECORRUPT, "store %s: deployment %lld is missing", q->s->location,
                           (long long)cur.previous_id);
        goto out;
    }
    err = dep_insert(q, c, prev.model_id, prev.previous_id, d);
out:
    tsl_store_deployment_release(&cur);
    tsl_store_deployment_release(&prev);
    return err;
}

tsl_err tsl_sq_rollback(tsl_store *s, const char *endpoint, const char *who, const char *why,
                        tsl_store_deployment *out, tsl_diag *d) {
    dep_ctx c = {endpoint, NULL, who, why, 0, 0, 1, {0}};
    tsl_err err = tsl_sq_tx(sq_of(s), 1, rollback_body, dep_clear, &c, d);
    if (!err) *out = c.out;
    return err;
}

/* The transaction of tsl_sq_endpoint_get. */
static tsl_err ep_get_body(sq *q, void *vctx, tsl_diag *d) {
    dep_ctx *c = vctx;
    int found = 0;
    tsl_err err = dep_one(q, SQL_DEP_CURRENT, c->endpoint, 0, &c->out, &found, d);
    if (!err && !found) return tsl_diag_set(d, TSL_ENOTFOUND, "no endpoint '%s'", c->endpoint);
    return err;
}

tsl_err tsl_sq_endpoint_get(tsl_store *s, const char *endpoint, tsl_store_deployment *out,
                            tsl_diag *d) {
    dep_ctx c = {endpoint, NULL, NULL, NULL, 0, 0, 0, {0}};
    tsl_err err = tsl_sq_tx(sq_of(s), 0, ep_get_body, dep_clear, &c, d);
    if (!err) *out = c.out;
    return err;
}

typedef struct dep_list_ctx {
    const char *endpoint; /* NULL: the current deployment of every endpoint */
    size_t limit;
    tsl_store_deployment *v;
    size_t n, cap;
} dep_list_ctx;

/* Drops a partial listing after a rollback. */
static void dep_list_clear(void *vctx) {
    dep_list_ctx *c = vctx;
    tsl_store_deployment_list_free(c->v, c->n);
    c->v = NULL;
    c->n = c->cap = 0;
}

/* The transaction of tsl_sq_endpoint_list and tsl_sq_deployment_history. */
static tsl_err dep_list_body(sq *q, void *vctx, tsl_diag *d) {
    dep_list_ctx *c = vctx;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, c->endpoint ? SQL_DEP_HISTORY : SQL_EP_LIST, &st, d))) return err;
    if (c->endpoint) {
        tsl_sq_bind_text(q, st, 1, c->endpoint);
        tsl_sq_bind_int(q, st, 2, c->limit ? (int64_t)c->limit : -1);
    }
    while (!(err = tsl_sq_step(q, st, &row, d)) && row) {
        c->v = sq_grow(c->v, &c->cap, c->n, sizeof *c->v);
        memset(&c->v[c->n], 0, sizeof c->v[c->n]);
        read_dep(st, &c->v[c->n++]);
    }
    if (!err && c->endpoint && !c->n)
        return tsl_diag_set(d, TSL_ENOTFOUND, "no endpoint '%s'", c->endpoint);
    return err;
}

tsl_err tsl_sq_endpoint_list(tsl_store *s, tsl_store_deployment **out, size_t *n, tsl_diag *d) {
    dep_list_ctx c = {NULL, 0, NULL, 0, 0};
    tsl_err err = tsl_sq_tx(sq_of(s), 0, dep_list_body, dep_list_clear, &c, d);
    if (err) return err;
    *out = c.v;
    *n = c.n;
    return TSL_OK;
}

tsl_err tsl_sq_deployment_history(tsl_store *s, const char *endpoint, size_t limit,
                                  tsl_store_deployment **out, size_t *n, tsl_diag *d) {
    dep_list_ctx c = {endpoint, limit, NULL, 0, 0};
    tsl_err err = tsl_sq_tx(sq_of(s), 0, dep_list_body, dep_list_clear, &c, d);
    if (err) return err;
    *out = c.v;
    *n = c.n;
    return TSL_OK;
}

/* ---- tokens ---- */

#define TOKEN_COLS "id, name, role, hash, who, created_ms, revoked_ms"

static const char SQL_TOKEN_INSERT[] =
    "INSERT INTO tokens(name, role, hash, who, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)";
static const char SQL_TOKEN_NAMED[] = "SELECT " TOKEN_COLS " FROM tokens WHERE name = ?1";
static const char SQL_TOKEN_LIST[] = "SELECT " TOKEN_COLS " FROM tokens ORDER BY name";
static const char SQL_TOKEN_BY_HASH[] =
    "SELECT " TOKEN_COLS " FROM tokens WHERE hash = ?1 AND revoked_ms = 0";
static const char SQL_TOKEN_REVOKE[] = "UPDATE tokens SET revoked_ms = ?2 WHERE name = ?1";

/* A token row into t. */
static void read_token(sqlite3_stmt *st, tsl_store_token *t) {
    t->id = sqlite3_column_int64(st, 0);
    t->name = tsl_sq_col_str(st, 1);
    tsl_role r = TSL_ROLE_READER;
    (void)tsl_role_parse((const char *)sqlite3_column_text(st, 2), &r, NULL);
    t->role = r;
    memset(t->hash, 0, sizeof t->hash);
    if (sqlite3_column_bytes(st, 3) == TSL_TOKEN_HASH)
        memcpy(t->hash, sqlite3_column_blob(st, 3), TSL_TOKEN_HASH);
    t->who = tsl_sq_col_str(st, 4);
    t->created_ms = sqlite3_column_int64(st, 5);
    t->revoked_ms = sqlite3_column_int64(st, 6);
}

typedef struct tok_ctx {
    const char *name, *who;
    tsl_role role;
    const unsigned char *hash;
    int64_t id;
    tsl_store_token *out;
    tsl_store_token *v;
    size_t n, cap;
} tok_ctx;

/* The transaction of tsl_sq_token_create. */
static tsl_err tok_create_body(sq *q, void *vctx, tsl_diag *d) {
    tok_ctx *c = vctx;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_TOKEN_NAMED, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, c->name);
    if ((err = tsl_sq_step(q, st, &row, d))) return err;
    if (row) {
        sqlite3_reset(st);
        return tsl_diag_set(d, TSL_ECONFLICT, "a token called '%s' exists already", c->name);
    }
    if ((err = tsl_sq_prepare(q, SQL_TOKEN_INSERT, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, c->name);
    tsl_sq_bind_text(q, st, 2, tsl_role_name(c->role));
    tsl_sq_bind_blob(q, st, 3, c->hash, TSL_TOKEN_HASH);
    tsl_sq_bind_text(q, st, 4, c->who);
    tsl_sq_bind_int(q, st, 5, tsl_sto_now(q->s));
    if ((err = tsl_sq_exec(q, st, d))) return err;
    c->id = sqlite3_last_insert_rowid(q->db);
    char subject[96];
    snprintf(subject, sizeof subject, "token:%s", c->name);
    return tsl_sq_event_own(q, "token.created", subject,
                            tsl_sto_json("{s:s, s:s, s:s}", "name", c->name, "role",
                                         tsl_role_name(c->role), "who", c->who),
                            d);
}

tsl_err tsl_sq_token_create(tsl_store *s, const char *name, tsl_role role, const char *who,
                            const unsigned char *hash, int64_t *id, tsl_diag *d) {
    tok_ctx c = {.name = name, .who = who, .role = role, .hash = hash};
    tsl_err err = tsl_sq_tx(sq_of(s), 1, tok_create_body, NULL, &c, d);
    if (!err) *id = c.id;
    return err;
}

/* The transaction of tsl_sq_token_revoke. */
static tsl_err tok_revoke_body(sq *q, void *vctx, tsl_diag *d) {
    tok_ctx *c = vctx;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_TOKEN_NAMED, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, c->name);
    if ((err = tsl_sq_step(q, st, &row, d))) return err;
    if (!row) return tsl_diag_set(d, TSL_ENOTFOUND, "no token called '%s'", c->name);
    int64_t revoked = sqlite3_column_int64(st, 6);
    sqlite3_reset(st);
    if (revoked)
        return tsl_diag_set(d, TSL_ECONFLICT, "the token '%s' is revoked already", c->name);
    if ((err = tsl_sq_prepare(q, SQL_TOKEN_REVOKE, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, c->name);
    tsl_sq_bind_int(q, st, 2, tsl_sto_now(q->s));
    if ((err = tsl_sq_exec(q, st, d))) return err;
    char subject[96];
    snprintf(subject, sizeof subject, "token:%s", c->name);
    return tsl_sq_event_own(q, "token.revoked", subject,
                            tsl_sto_json("{s:s, s:s}", "name", c->name, "who", c->who), d);
}

tsl_err tsl_sq_token_revoke(tsl_store *s, const char *name, const char *who, tsl_diag *d) {
    tok_ctx c = {.name = name, .who = who};
    return tsl_sq_tx(sq_of(s), 1, tok_revoke_body, NULL, &c, d);
}

/* Drops a partial result after a rollback. */
static void tok_clear(void *vctx) {
    tok_ctx *c = vctx;
    tsl_store_token_list_free(c->v, c->n);
    c->v = NULL;
    c->n = c->cap = 0;
    if (c->out) tsl_store_token_release(c->out);
}

/* The transaction of tsl_sq_token_list (hash NULL) and tsl_sq_token_find. */
static tsl_err tok_list_body(sq *q, void *vctx, tsl_diag *d) {
    tok_ctx *c = vctx;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, c->hash ? SQL_TOKEN_BY_HASH : SQL_TOKEN_LIST, &st, d))) return err;
    if (c->hash) {
        tsl_sq_bind_blob(q, st, 1, c->hash, TSL_TOKEN_HASH);
        if ((err = tsl_sq_step(q, st, &row, d))) return err;
        if (!row) return tsl_diag_set(d, TSL_ENOTFOUND, "no such token (or it was revoked)");
        read_token(st, c->out);
        sqlite3_reset(st);
        return TSL_OK;
    }
    while (!(err = tsl_sq_step(q, st, &row, d)) && row) {
        c->v = sq_grow(c->v, &c->cap, c->n, sizeof *c->v);
        memset(&c->v[c->n], 0, sizeof c->v[c->n]);
        read_token(st, &c->v[c->n++]);
    }
    return err;
}

tsl_err tsl_sq_token_list(tsl_store *s, tsl_store_token **out, size_t *n, tsl_diag *d) {
    tok_ctx c = {0};
    tsl_err err = tsl_sq_tx(sq_of(s), 0, tok_list_body, tok_clear, &c, d);
    if (err) return err;
    *out = c.v;
    *n = c.n;
    return TSL_OK;
}

tsl_err tsl_sq_token_find(tsl_store *s, const unsigned char *hash, tsl_store_token *out,
                          tsl_diag *d) {
    tok_ctx c = {.hash = hash, .out = out};
    return tsl_sq_tx(sq_of(s), 0, tok_list_body, tok_clear, &c, d);
}

/* ---- the tail of a series ---- */

static const char SQL_TAIL_DATASET[] = "SELECT id FROM datasets WHERE name = ?1";
static const char SQL_TAIL[] =
    "SELECT o.t, o.value FROM items i JOIN observations o ON o.item = i.id "
    "WHERE i.dataset_id = ?1 AND i.item_id = ?2 AND o.t > ?3 ORDER BY o.t";

typedef struct tail_ctx {
    const char *dataset, *item;
    int64_t after;
    int64_t *t;
    double *v;
    size_t n, cap, vcap;
} tail_ctx;

/* Drops a partial tail after a rollback. */
static void tail_clear(void *vctx) {
    tail_ctx *c = vctx;
    tsl_free(c->t);
    tsl_free(c->v);
    c->t = NULL;
    c->v = NULL;
    c->n = c->cap = c->vcap = 0;
}

/* The transaction of tsl_sq_item_tail: the (item, t) primary key makes it one range scan. */
static tsl_err tail_body(sq *q, void *vctx, tsl_diag *d) {
    tail_ctx *c = vctx;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_TAIL_DATASET, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, c->dataset);
    if ((err = tsl_sq_step(q, st, &row, d))) return err;
    if (!row) return tsl_diag_set(d, TSL_ENOTFOUND, "no data set '%s'", c->dataset);
    int64_t id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if ((err = tsl_sq_prepare(q, SQL_TAIL, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, id);
    tsl_sq_bind_text(q, st, 2, c->item);
    tsl_sq_bind_int(q, st, 3, c->after);
    while (!(err = tsl_sq_step(q, st, &row, d)) && row) {
        c->t = sq_grow(c->t, &c->cap, c->n, sizeof *c->t);
        c->v = sq_grow(c->v, &c->vcap, c->n, sizeof *c->v);
        c->t[c->n] = sqlite3_column_int64(st, 0);
        c->v[c->n++] = tsl_sq_col_double(st, 1);
    }
    return err;
}

tsl_err tsl_sq_item_tail(tsl_store *s, const char *dataset, const char *item, int64_t after,
                         int64_t **t, double **v, size_t *n, tsl_diag *d) {
    tail_ctx c = {dataset, item, after, NULL, NULL, 0, 0, 0};
    tsl_err err = tsl_sq_tx(sq_of(s), 0, tail_body, tail_clear, &c, d);
    if (err) return err;
    *t = c.t;
    *v = c.v;
    *n = c.n;
    return TSL_OK;
}

/* ---- captures ---- */

static const char SQL_CAP_INSERT[] =
    "INSERT INTO captures(inference_id, endpoint, model_id, item, origin, at_ms, steps, nq, "
    "targets, levels, mean, quant, shadow, t_first, t_last) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";
#define CAP_SELECT                                                                                 \
    "SELECT c.id, c.inference_id, c.endpoint, m.forecaster, m.version, c.model_id, c.item, "       \
    "c.origin, c.at_ms, c.steps, c.nq, c.targets, c.levels, c.mean, c.quant, c.shadow "            \
    "FROM captures c LEFT JOIN models m ON m.id = c.model_id "
static const char SQL_CAP_LIST[] =
    CAP_SELECT "WHERE c.id > ?1 AND (?2 IS NULL OR c.endpoint = ?2) AND "
               "(?3 IS NULL OR c.inference_id = ?3) AND c.shadow = 0 ORDER BY c.id LIMIT ?4";
/* INDEXED BY: the planner, without statistics, may prefer captures_endpoint (it yields id
 * order with no sort) and scan the endpoint's whole history - the very read this avoids. */
static const char SQL_CAP_SPAN[] =
    "SELECT c.id, c.inference_id, c.endpoint, m.forecaster, m.version, c.model_id, c.item, "
    "c.origin, c.at_ms, c.steps, c.nq, c.targets, c.levels, c.mean, c.quant, c.shadow "
    "FROM captures c INDEXED BY captures_span LEFT JOIN models m ON m.id = c.model_id "
    "WHERE c.endpoint = ?1 AND c.shadow = ?2 AND c.t_last >= ?3 AND c.t_first <= ?4 "
    "ORDER BY c.id";
/* Two subqueries, so that each min/max is one seek into captures_span. */
static const char SQL_CAP_BOUNDS[] =
    "SELECT (SELECT min(t_last) FROM captures INDEXED BY captures_span "
    "WHERE endpoint = ?1 AND shadow = ?2), "
    "(SELECT max(t_last) FROM captures INDEXED BY captures_span "
    "WHERE endpoint = ?1 AND shadow = ?2)";
static const char SQL_CAP_LIST_SHADOW[] =
    CAP_SELECT "WHERE c.id > ?1 AND (?2 IS NULL OR c.endpoint = ?2) AND c.shadow = 1 "
               "ORDER BY c.id LIMIT ?4";

/* Arrays are stored little-endian: on a big-endian host bytes would need swapping, which no
 * supported platform needs; the build refuses one rather than store garbage. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the capture blobs assume a little-endian host"
#endif

typedef struct cap_ctx {
    const tsl_store_capture_new *v;
    size_t n;
    const char *endpoint, *inference_id;
    int64_t after;
    size_t limit;
    int shadow; /* list shadow captures rather than live ones */
    int span;   /* tsl_sq_capture_span: [t_from, t_to] rather than after/limit */
    int64_t t_from, t_to;
    tsl_store_capture *out;
    size_t nout, cap;
} cap_ctx;

/* The transaction of tsl_sq_capture_add. */
static tsl_err cap_add_body(sq *q, void *vctx, tsl_diag *d) {
    cap_ctx *c = vctx;
    int64_t now = tsl_sto_now(q->s);
    tsl_err err;
    for (size_t i = 0; i < c->n; i++) {
        const tsl_store_capture_new *x = &c->v[i];
        sqlite3_stmt *st;
        int64_t lo = x->targets[0], hi = x->targets[0];
        for (size_t k = 1; k < x->steps; k++) {
            if (x->targets[k] < lo) lo = x->targets[k];
            if (x->targets[k] > hi) hi = x->targets[k];
        }
        if ((err = tsl_sq_prepare(q, SQL_CAP_INSERT, &st, d))) return err;
        tsl_sq_bind_text(q, st, 1, x->inference_id);
        tsl_sq_bind_text(q, st, 2, x->endpoint);
        tsl_sq_bind_int(q, st, 3, x->model_id);
        tsl_sq_bind_text(q, st, 4, x->item);
        tsl_sq_bind_int(q, st, 5, x->origin);
        tsl_sq_bind_int(q, st, 6, x->at_ms ? x->at_ms : now);
        tsl_sq_bind_int(q, st, 7, (int64_t)x->steps);
        tsl_sq_bind_int(q, st, 8, (int64_t)x->nq);
        tsl_sq_bind_blob(q, st, 9, x->targets, x->steps * sizeof *x->targets);
        tsl_sq_bind_blob(q, st, 10, x->levels, x->nq * sizeof *x->levels);
        tsl_sq_bind_blob(q, st, 11, x->mean, x->steps * sizeof *x->mean);
        tsl_sq_bind_blob(q, st, 12, x->quant, x->steps * x->nq * sizeof *x->quant);
        tsl_sq_bind_int(q, st, 13, x->shadow ? 1 : 0);
        tsl_sq_bind_int(q, st, 14, lo);
        tsl_sq_bind_int(q, st, 15, hi);
        if ((err = tsl_sq_exec(q, st, d))) return err;
    }
    return TSL_OK;
}

tsl_err tsl_sq_capture_add(tsl_store *s, const tsl_store_capture_new *v, size_t n, tsl_diag *d) {
    cap_ctx c = {.v = v, .n = n};
    return tsl_sq_tx(sq_of(s), 1, cap_add_body, NULL, &c, d);
}

/* Copies column i, a blob of want bytes, into a new array (NULL when want is 0);
 * TSL_ECORRUPT when its size differs. */
static tsl_err col_array(sq *q, sqlite3_stmt *st, int i, size_t want, void **out, tsl_diag *d) {
    size_t have = (size_t)sqlite3_column_bytes(st, i);
    *out = NULL;
    if (have != want)
        return tsl_diag_set(d, TSL_ECORRUPT, "store %s: a capture's array has %zu bytes, not %zu",
                            q->s->location, have, want);
    if (!want) return TSL_OK;
    *out = tsl_malloc(want);
    memcpy(*out, sqlite3_column_blob(st, i), want);
    return TSL_OK;
}

/* Drops a partial listing after a rollback. */
static void cap_clear(void *vctx) {
    cap_ctx *c = vctx;
    tsl_store_capture_list_free(c->out, c->nout);
    c->out = NULL;
    c->nout = c->cap = 0;
}

/* The transaction of tsl_sq_capture_list. */
static tsl_err cap_list_body(sq *q, void *vctx, tsl_diag *d) {
    cap_ctx *c = vctx;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if (c->span) {
        if ((err = tsl_sq_prepare(q, SQL_CAP_SPAN, &st, d))) return err;
        tsl_sq_bind_text(q, st, 1, c->endpoint);
        tsl_sq_bind_int(q, st, 2, c->shadow);
        tsl_sq_bind_int(q, st, 3, c->t_from);
        tsl_sq_bind_int(q, st, 4, c->t_to);
    } else {
        if ((err = tsl_sq_prepare(q, c->shadow ? SQL_CAP_LIST_SHADOW : SQL_CAP_LIST, &st, d)))
            return err;
        tsl_sq_bind_int(q, st, 1, c->after);
        tsl_sq_bind_text(q, st, 2, c->endpoint);
        if (!c->shadow) tsl_sq_bind_text(q, st, 3, c->inference_id);
        tsl_sq_bind_int(q, st, 4, c->limit ? (int64_t)c->limit : -1);
    }
    while (!(err = tsl_sq_step(q, st, &row, d)) && row) {
        c->out = sq_grow(c->out, &c->cap, c->nout, sizeof *c->out);
        tsl_store_capture *x = &c->out[c->nout++];
        memset(x, 0, sizeof *x);
        x->id = sqlite3_column_int64(st, 0);
        x->inference_id = tsl_sq_col_str(st, 1);
        x->endpoint = tsl_sq_col_str(st, 2);
        x->forecaster = tsl_sq_col_str(st, 3);
        x->version = sqlite3_column_int(st, 4);
        x->model_id = sqlite3_column_int64(st, 5);
        x->item = tsl_sq_col_str(st, 6);
        x->origin = sqlite3_column_int64(st, 7);
        x->at_ms = sqlite3_column_int64(st, 8);
        x->shadow = sqlite3_column_int(st, 15);
        int64_t steps = sqlite3_column_int64(st, 9), nq = sqlite3_column_int64(st, 10);
        if (steps < 0 || steps > TSL_CAPTURE_MAX_STEPS || nq < 0 || nq > TSL_CAPTURE_MAX_Q) {
            sqlite3_reset(st);
            return tsl_diag_set(d, TSL_ECORRUPT, "store %s: capture %lld has bad sizes",
                                q->s->location, (long long)x->id);
        }
        x->steps = (size_t)steps;
        x->nq = (size_t)nq;
        if ((err = col_array(q, st, 11, x->steps * sizeof(int64_t), (void **)&x->targets, d)) ||
            (err = col_array(q, st, 12, x->nq * sizeof(double), (void **)&x->levels, d)) ||
            (err = col_array(q, st, 13, x->steps * sizeof(double), (void **)&x->mean, d)) ||
            (err =
                 col_array(q, st, 14, x->steps * x->nq * sizeof(double), (void **)&x->quant, d))) {
            sqlite3_reset(st);
            return err;
        }
    }
    return err;
}

tsl_err tsl_sq_capture_list(tsl_store *s, const char *endpoint, const char *inference_id,
                            int64_t after_id, size_t limit, tsl_store_capture **out, size_t *n,
                            tsl_diag *d) {
    cap_ctx c = {
        .endpoint = endpoint, .inference_id = inference_id, .after = after_id, .limit = limit};
    tsl_err err = tsl_sq_tx(sq_of(s), 0, cap_list_body, cap_clear, &c, d);
    if (err) return err;
    *out = c.out;
    *n = c.nout;
    return TSL_OK;
}

tsl_err tsl_sq_capture_span(tsl_store *s, const char *endpoint, int shadow, int64_t t_from,
                            int64_t t_to, tsl_store_capture **out, size_t *n, tsl_diag *d) {
    cap_ctx c = {.endpoint = endpoint, .shadow = shadow, .span = 1, .t_from = t_from, .t_to = t_to};
    tsl_err err = tsl_sq_tx(sq_of(s), 0, cap_list_body, cap_clear, &c, d);
    if (err) return err;
    *out = c.out;
    *n = c.nout;
    return TSL_OK;
}

/* What tsl_sq_capture_bounds asks and finds. */
typedef struct bounds_ctx {
    const char *endpoint;
    int shadow, found;
    int64_t min_last, max_last;
} bounds_ctx;

/* The transaction of tsl_sq_capture_bounds. */
static tsl_err cap_bounds_body(sq *q, void *vctx, tsl_diag *d) {
    bounds_ctx *c = vctx;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_CAP_BOUNDS, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, c->endpoint);
    tsl_sq_bind_int(q, st, 2, c->shadow);
    if ((err = tsl_sq_step(q, st, &row, d))) return err;
    assert(row); /* aggregates always give one row, NULLs when no capture matches */
    c->found = sqlite3_column_type(st, 0) != SQLITE_NULL;
    if (c->found) {
        c->min_last = sqlite3_column_int64(st, 0);
        c->max_last = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    return TSL_OK;
}

tsl_err tsl_sq_capture_bounds(tsl_store *s, const char *endpoint, int shadow, int64_t *min_last,
                              int64_t *max_last, int *found, tsl_diag *d) {
    bounds_ctx c = {.endpoint = endpoint, .shadow = shadow};
    tsl_err err = tsl_sq_tx(sq_of(s), 0, cap_bounds_body, NULL, &c, d);
    if (err) return err;
    *found = c.found;
    if (c.found) {
        *min_last = c.min_last;
        *max_last = c.max_last;
    }
    return TSL_OK;
}

tsl_err tsl_sq_capture_list_shadow(tsl_store *s, const char *endpoint, int64_t after_id,
                                   size_t limit, tsl_store_capture **out, size_t *n, tsl_diag *d) {
    cap_ctx c = {.endpoint = endpoint, .after = after_id, .limit = limit, .shadow = 1};
    tsl_err err = tsl_sq_tx(sq_of(s), 0, cap_list_body, cap_clear, &c, d);
    if (err) return err;
    *out = c.out;
    *n = c.nout;
    return TSL_OK;
}
