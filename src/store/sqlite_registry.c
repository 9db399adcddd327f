/*
 * sqlite_registry.c - the model registry in the SQLite back end: versions, their artifacts,
 * approval statuses and the audit log.
 *
 * A version's number is the forecaster's highest plus one, taken inside the registering write
 * transaction, so two registrations never get the same number (and UNIQUE (forecaster,
 * version) would refuse it anyway). The artifact goes to its own table, so listing versions
 * never reads blobs. A status change and its audit entry and event are one transaction: there
 * is no approval without its who/when/why, nor an entry for a change that did not happen.
 */
#include "store/sqlite_be.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "tsloop/mem.h"

#define MODEL_COLS                                                                                 \
    "id, forecaster, version, status, metrics, choices, dataset, dataset_hash, config_hash, "      \
    "program_version, execution_id, artifact_len, artifact_crc32, artifact_sha256, created_ms, "   \
    "status_ms, approved_ms"

static const char SQL_MODEL_GET[] =
    "SELECT " MODEL_COLS " FROM models WHERE forecaster = ?1 AND version = ?2";
static const char SQL_MODEL_LIST[] = "SELECT " MODEL_COLS " FROM models "
                                     "WHERE ?1 IS NULL OR forecaster = ?1 "
                                     "ORDER BY forecaster, version DESC";
static const char SQL_MODEL_CHAMPION[] =
    "SELECT " MODEL_COLS " FROM models WHERE forecaster = ?1 AND status = 'Approved' "
    "ORDER BY approved_ms DESC, version DESC LIMIT 1";
static const char SQL_MODEL_NEXT[] =
    "SELECT coalesce(max(version), 0) + 1 FROM models WHERE forecaster = ?1";
static const char SQL_MODEL_INSERT[] =
    "INSERT INTO models(forecaster, version, status, metrics, choices, dataset, dataset_hash, "
    "config_hash, program_version, execution_id, artifact_len, artifact_crc32, "
    "artifact_sha256, created_ms, status_ms, approved_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14, ?15)";
static const char SQL_ARTIFACT_INSERT[] = "INSERT INTO artifacts(model_id, data) VALUES (?1, ?2)";
static const char SQL_ARTIFACT_GET[] =
    "SELECT a.model_id, length(a.data), m.artifact_sha256 FROM models m "
    "JOIN artifacts a ON a.model_id = m.id WHERE m.forecaster = ?1 AND m.version = ?2";
static const char SQL_AUDIT_INSERT[] =
    "INSERT INTO model_audit(model_id, from_status, to_status, who, why, at_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
static const char SQL_MODEL_STATUS[] =
    "UPDATE models SET status = ?2, status_ms = ?3, approved_ms = ?4 WHERE id = ?1";
static const char SQL_AUDIT_LIST[] =
    "SELECT a.id, m.forecaster, m.version, a.from_status, a.to_status, a.who, a.why, a.at_ms "
    "FROM model_audit a JOIN models m ON m.id = a.model_id "
    "WHERE (?1 IS NULL OR m.forecaster = ?1) AND (?2 = 0 OR m.version = ?2) ORDER BY a.id";

/* Parses a stored model status. */
static tsl_err status_of(sq *q, const char *text, tsl_model_status *st, tsl_diag *d) {
    if (text && !tsl_model_status_parse(text, st, NULL)) return TSL_OK;
    return tsl_diag_set(d, TSL_ECORRUPT, "store %s: a model has an unknown status", q->s->location);
}

/* A model row (MODEL_COLS) into m. */
static tsl_err read_model(sq *q, sqlite3_stmt *st, tsl_store_model *m, tsl_diag *d) {
    memset(m, 0, sizeof *m);
    m->id = sqlite3_column_int64(st, 0);
    m->forecaster = tsl_sq_col_str(st, 1);
    m->version = sqlite3_column_int(st, 2);
    tsl_err err = status_of(q, (const char *)sqlite3_column_text(st, 3), &m->status, d);
    m->metrics = tsl_sq_col_str(st, 4);
    m->choices = tsl_sq_col_str(st, 5);
    m->dataset = tsl_sq_col_str(st, 6);
    m->dataset_hash = tsl_sq_col_str(st, 7);
    m->config_hash = tsl_sq_col_str(st, 8);
    m->program_version = tsl_sq_col_str(st, 9);
    m->execution_id = sqlite3_column_int64(st, 10);
    m->artifact_len = (size_t)sqlite3_column_int64(st, 11);
    m->artifact_crc32 = (uint32_t)sqlite3_column_int64(st, 12);
    const char *sha = (const char *)sqlite3_column_text(st, 13);
    tsl_strlcpy(m->artifact_sha256, sha ? sha : "", sizeof m->artifact_sha256);
    m->created_ms = sqlite3_column_int64(st, 14);
    m->status_ms = sqlite3_column_int64(st, 15);
    m->approved_ms = sqlite3_column_int64(st, 16);
    return err;
}

/* Reads version `version` of forecaster into m, or TSL_ENOTFOUND. */
static tsl_err find_model(sq *q, const char *forecaster, int version, tsl_store_model *m,
                          tsl_diag *d) {
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_MODEL_GET, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, forecaster);
    tsl_sq_bind_int(q, st, 2, version);
    if ((err = tsl_sq_step(q, st, &row, d))) return err;
    if (!row)
        return tsl_diag_set(d, TSL_ENOTFOUND, "store %s: forecaster '%s' has no version %d",
                            q->s->location, forecaster, version);
    err = read_model(q, st, m, d);
    sqlite3_reset(st);
    if (err) tsl_store_model_release(m);
    return err;
}

/* Appends an audit entry (from NULL for the registration). */
static tsl_err audit(sq *q, int64_t model_id, const char *from, tsl_model_status to,
                     const char *who, const char *why, int64_t now, tsl_diag *d) {
    sqlite3_stmt *st;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_AUDIT_INSERT, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, model_id);
    tsl_sq_bind_text(q, st, 2, from);
    tsl_sq_bind_text(q, st, 3, tsl_model_status_name(to));
    tsl_sq_bind_text(q, st, 4, who);
    tsl_sq_bind_text(q, st, 5, why);
    tsl_sq_bind_int(q, st, 6, now);
    return tsl_sq_exec(q, st, d);
}

typedef struct register_ctx {
    const tsl_store_model_new *m;
    uint32_t crc;
    const char *sha;
    int64_t id;
    int version;
} register_ctx;

/* The transaction of tsl_sq_model_register: the next version, its artifact, the first audit
 * entry and the event. */
static tsl_err register_body(sq *q, void *vctx, tsl_diag *d) {
    register_ctx *c = vctx;
    const tsl_store_model_new *m = c->m;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    int64_t now = tsl_sto_now(q->s);
    char subject[96];
    if ((err = tsl_sq_prepare(q, SQL_MODEL_NEXT, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, m->forecaster);
    if ((err = tsl_sq_step(q, st, &row, d))) return err;
    c->version = row ? sqlite3_column_int(st, 0) : 1;
    sqlite3_reset(st);
    if ((err = tsl_sq_prepare(q, SQL_MODEL_INSERT, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, m->forecaster);
    tsl_sq_bind_int(q, st, 2, c->version);
    tsl_sq_bind_text(q, st, 3, tsl_model_status_name(m->status));
    tsl_sq_bind_text(q, st, 4, m->metrics ? m->metrics : "{}");
    tsl_sq_bind_text(q, st, 5, m->choices ? m->choices : "{}");
    tsl_sq_bind_text(q, st, 6, m->dataset);
    tsl_sq_bind_text(q, st, 7, m->dataset_hash);
    tsl_sq_bind_text(q, st, 8, m->config_hash);
    tsl_sq_bind_text(q, st, 9, m->program_version ? m->program_version : TSL_VERSION);
    if (m->execution_id)
        tsl_sq_bind_int(q, st, 10, m->execution_id);
    else
        tsl_sq_bind_null(q, st, 10);
    tsl_sq_bind_int(q, st, 11, (int64_t)m->artifact_len);
    tsl_sq_bind_int(q, st, 12, c->crc);
    tsl_sq_bind_text(q, st, 13, c->sha);
    tsl_sq_bind_int(q, st, 14, now);
    tsl_sq_bind_int(q, st, 15, m->status == TSL_MODEL_APPROVED ? now : 0);
    if ((err = tsl_sq_exec(q, st, d))) {
        if (err == TSL_ECONFLICT && m->execution_id)
            tsl_diag_prefix(d, "registering %s (is execution %lld real?): ", m->forecaster,
                            (long long)m->execution_id);
        return err;
    }
    c->id = sqlite3_last_insert_rowid(q->db);
    if ((err = tsl_sq_prepare(q, SQL_ARTIFACT_INSERT, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, c->id);
    tsl_sq_bind_blob(q, st, 2, m->artifact, m->artifact_len);
    if ((err = tsl_sq_exec(q, st, d)) ||
        (err =
             audit(q, c->id, NULL, m->status, m->who ? m->who : "", m->why ? m->why : "", now, d)))
        return err;
    snprintf(subject, sizeof subject, "model:%s/%d", m->forecaster, c->version);
    if ((err = tsl_sq_event_own(
             q, "model.registered", subject,
             tsl_sto_json("{s:s, s:i, s:s, s:s?, s:s?, s:I, s:I, s:s}", "forecaster", m->forecaster,
                          "version", c->version, "status", tsl_model_status_name(m->status),
                          "dataset", m->dataset, "dataset_hash", m->dataset_hash, "execution",
                          (json_int_t)m->execution_id, "artifact_len", (json_int_t)m->artifact_len,
                          "artifact_sha256", c->sha),
             d)))
        return err;
    /* The status it starts in is announced as any later change is (from null), so that a
     * channel routing model.pending hears of every version waiting for a person, and one
     * routing model.approved of every auto-approved one. */
    static const char *const status_type[] = {"model.pending", "model.approved", "model.rejected"};
    return tsl_sq_event_own(q, status_type[m->status], subject,
                            tsl_sto_json("{s:s, s:i, s:n, s:s, s:s, s:s}", "forecaster",
                                         m->forecaster, "version", c->version, "from", "to",
                                         tsl_model_status_name(m->status), "who",
                                         m->who ? m->who : "", "why", m->why ? m->why : ""),
                            d);
}

tsl_err tsl_sq_model_register(tsl_store *s, const tsl_store_model_new *m, uint32_t crc32,
                              const char *sha256, int64_t *id, int *version, tsl_diag *d) {
    register_ctx c = {m, crc32, sha256, 0, 0};
    tsl_err err = tsl_sq_tx(sq_of(s), 1, register_body, NULL, &c, d);
    if (err) return err;
    *id = c.id;
    *version = c.version;
    return TSL_OK;
}

typedef struct get_ctx {
    const char *forecaster;
    int version;
    tsl_store_model *out;
    int found;
} get_ctx;

/* Drops a partial model after a rollback. */
static void get_clear(void *vctx) {
    get_ctx *c = vctx;
    tsl_store_model_release(c->out);
    c->found = 0;
}

/* The transaction of tsl_sq_model_get. */
static tsl_err get_body(sq *q, void *vctx, tsl_diag *d) {
    get_ctx *c = vctx;
    return find_model(q, c->forecaster, c->version, c->out, d);
}

tsl_err tsl_sq_model_get(tsl_store *s, const char *forecaster, int version, tsl_store_model *out,
                         tsl_diag *d) {
    get_ctx c = {forecaster, version, out, 0};
    return tsl_sq_tx(sq_of(s), 0, get_body, get_clear, &c, d);
}

/* The transaction of tsl_sq_model_champion. */
static tsl_err champion_body(sq *q, void *vctx, tsl_diag *d) {
    get_ctx *c = vctx;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    c->found = 0;
    if ((err = tsl_sq_prepare(q, SQL_MODEL_CHAMPION, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, c->forecaster);
    if ((err = tsl_sq_step(q, st, &row, d)) || !row) return err;
    err = read_model(q, st, c->out, d);
    sqlite3_reset(st);
    if (!err) c->found = 1;
    return err;
}

tsl_err tsl_sq_model_champion(tsl_store *s, const char *forecaster, tsl_store_model *out,
                              int *found, tsl_diag *d) {
    get_ctx c = {forecaster, 0, out, 0};
    tsl_err err = tsl_sq_tx(sq_of(s), 0, champion_body, get_clear, &c, d);
    if (!err) *found = c.found;
    return err;
}

typedef struct list_ctx {
    const char *forecaster;
    tsl_store_model *v;
    size_t n, cap;
} list_ctx;

/* Drops a partial listing after a rollback. */
static void list_clear(void *vctx) {
    list_ctx *c = vctx;
    tsl_store_model_list_free(c->v, c->n);
    c->v = NULL;
    c->n = c->cap = 0;
}

/* The transaction of tsl_sq_model_list. */
static tsl_err list_body(sq *q, void *vctx, tsl_diag *d) {
    list_ctx *c = vctx;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_MODEL_LIST, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, c->forecaster);
    while (!(err = tsl_sq_step(q, st, &row, d)) && row) {
        c->v = sq_grow(c->v, &c->cap, c->n, sizeof *c->v);
        if ((err = read_model(q, st, &c->v[c->n++], d))) {
            sqlite3_reset(st);
            return err;
        }
    }
    return err;
}

tsl_err tsl_sq_model_list(tsl_store *s, const char *forecaster, tsl_store_model **out, size_t *n,
                          tsl_diag *d) {
    list_ctx c = {forecaster, NULL, 0, 0};
    tsl_err err = tsl_sq_tx(sq_of(s), 0, list_body, list_clear, &c, d);
    if (err) return err;
    *out = c.v;
    *n = c.n;
    return TSL_OK;
}

typedef struct artifact_ctx {
    const char *forecaster;
    int version;
    void *data;
    size_t len;
    char sha[65];
} artifact_ctx;

/* Drops a partial artifact after a rollback. */
static void artifact_clear(void *vctx) {
    artifact_ctx *c = vctx;
    tsl_free(c->data);
    c->data = NULL;
    c->len = 0;
}

/* The transaction of tsl_sq_model_artifact. */
static tsl_err artifact_body(sq *q, void *vctx, tsl_diag *d) {
    artifact_ctx *c = vctx;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_ARTIFACT_GET, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, c->forecaster);
    tsl_sq_bind_int(q, st, 2, c->version);
    if ((err = tsl_sq_step(q, st, &row, d))) return err;
    if (!row)
        return tsl_diag_set(d, TSL_ENOTFOUND, "store %s: forecaster '%s' has no version %d",
                            q->s->location, c->forecaster, c->version);
    /* Read with the incremental blob API straight into our buffer: selecting the column
     * would make SQLite assemble the whole blob first, twice the artifact's size in memory at
     * once (250 MB for a bundle of 100,000 series, the daemon's peak). */
    sqlite3_int64 rowid = sqlite3_column_int64(st, 0);
    c->len = (size_t)sqlite3_column_int64(st, 1);
    const char *sha = (const char *)sqlite3_column_text(st, 2);
    tsl_strlcpy(c->sha, sha ? sha : "", sizeof c->sha);
    sqlite3_reset(st);
    tsl_free(c->data); /* a retried transaction's earlier read */
    c->data = tsl_malloc(c->len ? c->len : 1);
    sqlite3_blob *b = NULL;
    int rc = sqlite3_blob_open(q->db, "main", "artifacts", "data", rowid, 0, &b);
    for (size_t off = 0; rc == SQLITE_OK && off < c->len;) {
        int n = c->len - off > (1u << 30) ? 1 << 30 : (int)(c->len - off);
        rc = sqlite3_blob_read(b, (char *)c->data + off, n, (int)off);
        off += (size_t)n;
    }
    sqlite3_blob_close(b);
    if (rc != SQLITE_OK) return tsl_sq_fail(q, rc, "reading a model artifact", d);
    return TSL_OK;
}

tsl_err tsl_sq_model_artifact(tsl_store *s, const char *forecaster, int version, void **data,
                              size_t *len, char *sha256, tsl_diag *d) {
    artifact_ctx c;
    memset(&c, 0, sizeof c);
    c.forecaster = forecaster;
    c.version = version;
    tsl_err err = tsl_sq_tx(sq_of(s), 0, artifact_body, artifact_clear, &c, d);
    if (err) return err;
    *data = c.data;
    *len = c.len;
    memcpy(sha256, c.sha, sizeof c.sha);
    return TSL_OK;
}

typedef struct status_ctx {
    const char *forecaster;
    int version;
    tsl_model_status status;
    const char *who, *why;
} status_ctx;

/* Whether a version may go from status `from` to `to` (store.h). */
static int model_transition_ok(tsl_model_status from, tsl_model_status to) {
    if (from == TSL_MODEL_PENDING) return to != TSL_MODEL_PENDING;
    if (from == TSL_MODEL_APPROVED) return to == TSL_MODEL_REJECTED;
    return to == TSL_MODEL_APPROVED;
}

/* The transaction of tsl_sq_model_set_status: the checked change, its audit entry and event. */
static tsl_err status_body(sq *q, void *vctx, tsl_diag *d) {
    status_ctx *c = vctx;
    tsl_store_model m;
    sqlite3_stmt *st;
    tsl_err err;
    int64_t now = tsl_sto_now(q->s);
    char subject[96];
    if ((err = find_model(q, c->forecaster, c->version, &m, d))) return err;
    tsl_model_status from = m.status;
    int64_t id = m.id, approved = m.approved_ms;
    tsl_store_model_release(&m);
    if (!model_transition_ok(from, c->status))
        return tsl_diag_set(d, TSL_ECONFLICT, "store %s: %s version %d is %s; it cannot become %s",
                            q->s->location, c->forecaster, c->version, tsl_model_status_name(from),
                            tsl_model_status_name(c->status));
    if ((err = tsl_sq_prepare(q, SQL_MODEL_STATUS, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, id);
    tsl_sq_bind_text(q, st, 2, tsl_model_status_name(c->status));
    tsl_sq_bind_int(q, st, 3, now);
    tsl_sq_bind_int(q, st, 4, c->status == TSL_MODEL_APPROVED ? now : approved);
    if ((err = tsl_sq_exec(q, st, d)) ||
        (err = audit(q, id, tsl_model_status_name(from), c->status, c->who, c->why, now, d)))
        return err;
    static const char *const type[] = {"model.pending", "model.approved", "model.rejected"};
    snprintf(subject, sizeof subject, "model:%s/%d", c->forecaster, c->version);
    return tsl_sq_event_own(
        q, type[c->status], subject,
        tsl_sto_json("{s:s, s:i, s:s, s:s, s:s, s:s}", "forecaster", c->forecaster, "version",
                     c->version, "from", tsl_model_status_name(from), "to",
                     tsl_model_status_name(c->status), "who", c->who, "why", c->why),
        d);
}

tsl_err tsl_sq_model_set_status(tsl_store *s, const char *forecaster, int version,
                                tsl_model_status status, const char *who, const char *why,
                                tsl_diag *d) {
    status_ctx c = {forecaster, version, status, who, why};
    return tsl_sq_tx(sq_of(s), 1, status_body, NULL, &c, d);
}

typedef struct audit_ctx {
    const char *forecaster;
    int version;
    tsl_store_audit *v;
    size_t n, cap;
} audit_ctx;

/* Drops a partial listing after a rollback. */
static void audit_clear(void *vctx) {
    audit_ctx *c = vctx;
    tsl_store_audit_list_free(c->v, c->n);
    c->v = NULL;
    c->n = c->cap = 0;
}

/* The transaction of tsl_sq_model_audit. */
static tsl_err audit_body(sq *q, void *vctx, tsl_diag *d) {
    audit_ctx *c = vctx;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_AUDIT_LIST, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, c->forecaster);
    tsl_sq_bind_int(q, st, 2, c->version);
    while (!(err = tsl_sq_step(q, st, &row, d)) && row) {
        c->v = sq_grow(c->v, &c->cap, c->n, sizeof *c->v);
        tsl_store_audit *a = &c->v[c->n++];
        memset(a, 0, sizeof *a);
        a->id = sqlite3_column_int64(st, 0);
        a->forecaster = tsl_sq_col_str(st, 1);
        a->version = sqlite3_column_int(st, 2);
        a->has_from = sqlite3_column_type(st, 3) != SQLITE_NULL;
        if ((a->has_from &&
             (err = status_of(q, (const char *)sqlite3_column_text(st, 3), &a->from, d))) ||
            (err = status_of(q, (const char *)sqlite3_column_text(st, 4), &a->to, d))) {
            sqlite3_reset(st);
            return err;
        }
        a->who = tsl_sq_col_str(st, 5);
        a->why = tsl_sq_col_str(st, 6);
        a->at_ms = sqlite3_column_int64(st, 7);
    }
    return err;
}

tsl_err tsl_sq_model_audit(tsl_store *s, const char *forecaster, int version, tsl_store_audit **out,
                           size_t *n, tsl_diag *d) {
    audit_ctx c = {forecaster, version, NULL, 0, 0};
    tsl_err err = tsl_sq_tx(sq_of(s), 0, audit_body, audit_clear, &c, d);
    if (err) return err;
    *out = c.v;
    *n = c.n;
    return TSL_OK;
}
