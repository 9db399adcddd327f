/*
 * sqlite_db.c - the SQLite back end's connection: opening, migrations, the statement cache,
 * transactions with retry, and the vtable that routes the store's operations to sqlite_*.c.
 *
 * Concurrency. Several processes (two ingests, a training run, a CLI query, the daemon's
 * threads, each with its own handle) share one database file in WAL mode: readers never block
 * writers nor each other, and writers take turns. Every write transaction starts with BEGIN
 * IMMEDIATE, which takes the write lock up front; a deferred transaction that read first and
 * then tried to write could find the snapshot it read already outdated by another writer
 * (SQLITE_BUSY_SNAPSHOT), which no amount of waiting fixes. Waiting for the lock is SQLite's
 * busy handler (sqlite3_busy_timeout); the few SQLITE_BUSY cases it does not cover (a
 * checkpoint or WAL recovery in progress, the lock taken between two of our statements) are
 * covered by tsl_sq_tx, which rolls the transaction back and runs the whole body again after a
 * short, growing, jittered sleep - until the handle's busy timeout is spent, and only then
 * reports TSL_EBUSY. Transactions are short (an ingest commits every batch), so under normal
 * load nobody waits long and "database is locked" never reaches the user.
 *
 * Durability. synchronous=FULL by default: a commit has reached the disk when it returns, so
 * it survives kill -9 and power loss; NORMAL (an option) still survives kill -9 - the WAL is
 * written before the commit returns - but the last commits may roll back after a power
 * failure. foreign_keys=ON everywhere.
 *
 * Threads. A connection is opened with SQLITE_OPEN_NOMUTEX: the handle belongs to one thread
 * at a time (store.h), and threads that work in parallel open their own handles.
 *
 * References: SQLite's "Write-Ahead Logging" (https://sqlite.org/wal.html), "File Locking And
 * Concurrency" (https://sqlite.org/lockingv3.html), and "PRAGMA synchronous".
 */
#include "store/sqlite_be.h"

#include <assert.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "tsloop/mem.h"

/* "tslp" in the database header (PRAGMA application_id): marks a file as a tsloop store. */
#define APPLICATION_ID 0x74736c70
#define CACHE_KIB      32768

/* ---- errors ---- */

tsl_err tsl_sq_fail(sq *q, int rc, const char *what, tsl_diag *d) {
    tsl_err code;
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        code = TSL_EBUSY;
        break;
    case SQLITE_CONSTRAINT:
        code = TSL_ECONFLICT;
        break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        code = TSL_ECORRUPT;
        break;
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
        code = TSL_EIO;
        break;
    case SQLITE_TOOBIG:
        code = TSL_ELIMIT;
        break;
    default:
        code = TSL_EINTERNAL;
        break;
    }
    const char *msg = q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc);
    return tsl_diag_set(d, code, "store %s: %s: %s", q->s->location, what, msg);
}

/* ---- the statement cache ---- */

/* Slot of sql's address in a table of cap (a power of two) slots. */
static size_t slot_of(const char *sql, size_t cap) {
    uint64_t h = (uint64_t)(uintptr_t)sql * UINT64_C(0x9e3779b97f4a7c15);
    return (size_t)(h >> 20) & (cap - 1);
}

/* Doubles the cache (64 slots at first), rehashing the statements it holds. */
static void cache_grow(sq *q) {
    size_t cap = q->cache_cap ? 2 * q->cache_cap : 64;
    sq_slot *t = tsl_calloc(cap, sizeof *t);
    for (size_t i = 0; i < q->cache_cap; i++) {
        if (!q->cache[i].sql) continue;
        size_t k = slot_of(q->cache[i].sql, cap);
        while (t[k].sql) k = (k + 1) & (cap - 1);
        t[k] = q->cache[i];
    }
    tsl_free(q->cache);
    q->cache = t;
    q->cache_cap = cap;
}

tsl_err tsl_sq_prepare(sq *q, const char *sql, sqlite3_stmt **st, tsl_diag *d) {
    *st = NULL;
    if ((q->ncache + 1) * 2 > q->cache_cap) cache_grow(q);
    size_t k = slot_of(sql, q->cache_cap);
    for (; q->cache[k].sql; k = (k + 1) & (q->cache_cap - 1)) {
        if (q->cache[k].sql == sql) {
            *st = q->cache[k].st;
            sqlite3_reset(*st);
            return TSL_OK;
        }
    }
    sqlite3_stmt *fresh = NULL;
    int rc = sqlite3_prepare_v3(q->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &fresh, NULL);
    /* A bad SQL text is SQLITE_ERROR, which maps to TSL_EINTERNAL; a file that is not a
     * database or cannot be read keeps its own code. */
    if (rc != SQLITE_OK) return tsl_sq_fail(q, rc, "preparing a statement", d);
    q->cache[k].sql = sql;
    q->cache[k].st = fresh;
    q->ncache++;
    *st = fresh;
    return TSL_OK;
}

/* ---- binding and reading ---- */

/* Records the first failed binding; tsl_sq_step reports it. */
static void note_bind(sq *q, int rc) {
    if (rc != SQLITE_OK && q->bind_rc == SQLITE_OK) q->bind_rc = rc;
}

void tsl_sq_bind_int(sq *q, sqlite3_stmt *st, int i, int64_t v) {
    note_bind(q, sqlite3_bind_int64(st, i, v));
}

void tsl_sq_bind_double(sq *q, sqlite3_stmt *st, int i, double v) {
    note_bind(q, isnan(v) ? sqlite3_bind_null(st, i) : sqlite3_bind_double(st, i, v));
}

void tsl_sq_bind_text(sq *q, sqlite3_stmt *st, int i, const char *s) {
    note_bind(q, s ? sqlite3_bind_text64(st, i, s, strlen(s), SQLITE_STATIC, SQLITE_UTF8)
                   : sqlite3_bind_null(st, i));
}

void tsl_sq_bind_blob(sq *q, sqlite3_stmt *st, int i, const void *p, size_t n) {
    /* A zero-length blob is still a blob, not NULL. */
    note_bind(q, p || !n ? sqlite3_bind_blob64(st, i, p ? p : "", n, SQLITE_STATIC)
                         : sqlite3_bind_null(st, i));
}

void tsl_sq_bind_null(sq *q, sqlite3_stmt *st, int i) {
    note_bind(q, sqlite3_bind_null(st, i));
}

char *tsl_sq_col_str(sqlite3_stmt *st, int i) {
    const unsigned char *t = sqlite3_column_text(st, i);
    if (!t) return NULL;
    return tsl_strndup((const char *)t, (size_t)sqlite3_column_bytes(st, i));
}

double tsl_sq_col_double(sqlite3_stmt *st, int i) {
    if (sqlite3_column_type(st, i) == SQLITE_NULL) return NAN;
    return sqlite3_column_double(st, i);
}

tsl_err tsl_sq_step(sq *q, sqlite3_stmt *st, int *row, tsl_diag *d) {
    *row = 0;
    if (q->bind_rc != SQLITE_OK) {
        int rc = q->bind_rc;
        q->bind_rc = SQLITE_OK;
        sqlite3_reset(st);
        return tsl_sq_fail(q, rc, "binding a value", d);
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *row = 1;
        return TSL_OK;
    }
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return TSL_OK;
    }
    /* sqlite3_reset returns the error again; the message is still the connection's. */
    tsl_err err = tsl_sq_fail(q, rc, "a statement failed", d);
    sqlite3_reset(st);
    return err;
}

tsl_err tsl_sq_exec(sq *q, sqlite3_stmt *st, tsl_diag *d) {
    int row = 0;
    tsl_err err;
    while (!(err = tsl_sq_step(q, st, &row, d)) && row) {}
    return err;
}

/* ---- transactions ---- */

static const char SQL_BEGIN[] = "BEGIN";
static const char SQL_BEGIN_W[] = "BEGIN IMMEDIATE";
static const char SQL_COMMIT[] = "COMMIT";
static const char SQL_ROLLBACK[] = "ROLLBACK";

/* Monotonic milliseconds, for timeouts (the store's clock may be a test's). */
static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs one of the transaction-control statements. */
static tsl_err control(sq *q, const char *sql, tsl_diag *d) {
    sqlite3_stmt *st;
    tsl_err err = tsl_sq_prepare(q, sql, &st, d);
    if (!err) err = tsl_sq_exec(q, st, d);
    return err;
}

/* Rolls back whatever is open; resets every statement first so none holds the snapshot. */
static void rollback(sq *q) {
    for (size_t i = 0; i < q->cache_cap; i++)
        if (q->cache[i].st) sqlite3_reset(q->cache[i].st);
    if (!sqlite3_get_autocommit(q->db)) control(q, SQL_ROLLBACK, NULL);
}

/* Sleeps about ms milliseconds, give or take a quarter (so that waiters spread out). */
static void backoff_sleep(int64_t ms) {
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) r = (uint32_t)mono_ms();
    int64_t us = ms * 1000;
    us += (int64_t)(r % (uint32_t)(us / 2 + 1)) - us / 4;
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

tsl_err tsl_sq_tx(sq *q, int write, sq_body body, void (*on_rollback)(void *ctx), void *ctx,
                  tsl_diag *d) {
    int64_t deadline = mono_ms() + q->s->busy_ms;
    int64_t pause = 2;
    assert(sqlite3_get_autocommit(q->db) && "transactions do not nest");
    for (int tries = 1;; tries++) {
        int64_t left = deadline - mono_ms();
        sqlite3_busy_timeout(q->db, left > 0 ? (int)(left > INT32_MAX ? INT32_MAX : left) : 1);
        tsl_err err = control(q, write ? SQL_BEGIN_W : SQL_BEGIN, d);
        if (!err) err = body(q, ctx, d);
        if (!err) err = control(q, SQL_COMMIT, d);
        if (!err) return TSL_OK;
        rollback(q);
        if (on_rollback) on_rollback(ctx);
        if (err != TSL_EBUSY) return err;
        if (mono_ms() + pause > deadline)
            return tsl_diag_set(d, TSL_EBUSY,
                                "store %s: still locked by other writers after %d ms (%d "
                                "tries); is a long operation holding it?",
                                q->s->location, q->s->busy_ms, tries);
        backoff_sleep(pause);
        pause = pause * 2 > 200 ? 200 : pause * 2;
    }
}

/* ---- events (inside a transaction) ---- */

static const char SQL_EVENT[] =
    "INSERT INTO events(at_ms, type, subject, payload) VALUES (?1, ?2, ?3, ?4)";

tsl_err tsl_sq_event(sq *q, const char *type, const char *subject, const char *payload, int64_t *id,
                     tsl_diag *d) {
    sqlite3_stmt *st;
    tsl_err err = tsl_sq_prepare(q, SQL_EVENT, &st, d);
    if (err) return err;
    tsl_sq_bind_int(q, st, 1, tsl_sto_now(q->s));
    tsl_sq_bind_text(q, st, 2, type);
    tsl_sq_bind_text(q, st, 3, subject);
    tsl_sq_bind_text(q, st, 4, payload);
    if ((err = tsl_sq_exec(q, st, d))) return err;
    if (id) *id = sqlite3_last_insert_rowid(q->db);
    return TSL_OK;
}

tsl_err tsl_sq_event_own(sq *q, const char *type, const char *subject, char *payload, tsl_diag *d) {
    tsl_err err = tsl_sq_event(q, type, subject, payload, NULL, d);
    tsl_free(payload);
    return err;
}

/* ---- JSON string arrays ---- */

char *tsl_sq_strv_json(const char *const *v, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, json_string(v[i]));
    char *text = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    char *copy = tsl_strdup(text ? text : "[]");
    free(text);
    return copy;
}

tsl_err tsl_sq_json_strv(sq *q, const char *json, char ***out, size_t *n, tsl_diag *d) {
    *out = NULL;
    *n = 0;
    json_t *a = json_loads(json ? json : "[]", 0, NULL);
    if (!a || !json_is_array(a)) {
        json_decref(a);
        return tsl_diag_set(d, TSL_ECORRUPT, "store %s: a stored list is not a JSON array",
                            q->s->location);
    }
    size_t len = json_array_size(a);
    char **v = tsl_calloc(len ? len : 1, sizeof *v);
    for (size_t i = 0; i < len; i++) {
        const char *e = json_string_value(json_array_get(a, i));
        v[i] = tsl_strdup(e ? e : "");
    }
    json_decref(a);
    *out = v;
    *n = len;
    return TSL_OK;
}

/* ---- migrations ---- */

static const char SQL_MIGRATIONS_TABLE[] = "CREATE TABLE IF NOT EXISTS schema_migrations (\n"
                                           "  version INTEGER PRIMARY KEY,\n"
                                           "  description TEXT NOT NULL,\n"
                                           "  applied_ms INTEGER NOT NULL\n"
                                           ")";
static const char SQL_MIGRATIONS_HAVE[] =
    "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'";
static const char SQL_MIGRATIONS_LIST[] =
    "SELECT version, applied_ms FROM schema_migrations ORDER BY version";
static const char SQL_MIGRATION_DONE[] =
    "INSERT INTO schema_migrations(version, description, applied_ms) VALUES (?1, ?2, ?3)";

/* Applied versions as a bit per version (index = version) and their times; *top is the
 * highest version applied (0: none). Works on a store without the table yet. */
static tsl_err read_applied(sq *q, int64_t *when, size_t cap, int *top, tsl_diag *d) {
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    *top = 0;
    for (size_t i = 0; i < cap; i++) when[i] = 0;
    if ((err = tsl_sq_prepare(q, SQL_MIGRATIONS_HAVE, &st, d)) ||
        (err = tsl_sq_step(q, st, &row, d)))
        return err;
    int have = row && sqlite3_column_int(st, 0) > 0;
    sqlite3_reset(st);
    if (!have) return TSL_OK;
    if ((err = tsl_sq_prepare(q, SQL_MIGRATIONS_LIST, &st, d))) return err;
    while (!(err = tsl_sq_step(q, st, &row, d)) && row) {
        int v = sqlite3_column_int(st, 0);
        if (v > *top) *top = v;
        if (v >= 0 && (size_t)v < cap) when[v] = sqlite3_column_int64(st, 1);
    }
    return err;
}

typedef struct migrate_ctx {
    int target;
    int applied;
} migrate_ctx;

/* Applies the migrations above the store's version, up to ctx->target (0: all). */
static tsl_err migrate_body(sq *q, void *vctx, tsl_diag *d) {
    migrate_ctx *c = vctx;
    int64_t when[64];
    int top = 0;
    tsl_err err;
    c->applied = 0;
    if ((err = read_applied(q, when, 64, &top, d))) return err;
    int known = tsl_sq_migrations[tsl_sq_nmigrations - 1].version;
    if (top > known)
        return tsl_diag_set(d, TSL_EVERSION,
                            "store %s: schema version %d is newer than this tsloop knows (%d); "
                            "upgrade tsloop",
                            q->s->location, top, known);
    char *msg = NULL;
    if (sqlite3_exec(q->db, SQL_MIGRATIONS_TABLE, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = sqlite3_errcode(q->db);
        sqlite3_free(msg);
        return tsl_sq_fail(q, rc, "creating schema_migrations", d);
    }
    for (size_t i = 0; i < tsl_sq_nmigrations; i++) {
        const sq_migration *m = &tsl_sq_migrations[i];
        if (m->version <= top || (c->target && m->version > c->target)) continue;
        /* The migrations are this file's constant text, never data. */
        if (sqlite3_exec(q->db, m->sql, NULL, NULL, &msg) != SQLITE_OK) {
            int rc = sqlite3_errcode(q->db);
            tsl_err e = tsl_sq_fail(q, rc, "applying a migration", d);
            tsl_diag_prefix(d, "migration %d (%s): ", m->version, m->description);
            sqlite3_free(msg);
            return e;
        }
        sqlite3_stmt *st;
        if ((err = tsl_sq_prepare(q, SQL_MIGRATION_DONE, &st, d))) return err;
        tsl_sq_bind_int(q, st, 1, m->version);
        tsl_sq_bind_text(q, st, 2, m->description);
        tsl_sq_bind_int(q, st, 3, tsl_sto_now(q->s));
        if ((err = tsl_sq_exec(q, st, d))) return err;
        c->applied++;
    }
    return TSL_OK;
}

/* Drops every cached statement (a schema change makes SQLite re-prepare them anyway; the
 * migration's own statements are better not kept). */
static void cache_clear(sq *q) {
    for (size_t i = 0; i < q->cache_cap; i++) {
        if (q->cache[i].st) sqlite3_finalize(q->cache[i].st);
        q->cache[i].st = NULL;
        q->cache[i].sql = NULL;
    }
    q->ncache = 0;
}

/* The vtable's migrate: applies pending migrations up to target (0: all) in one transaction. */
static tsl_err sq_migrate(tsl_store *s, int target, int *applied, tsl_diag *d) {
    sq *q = sq_of(s);
    migrate_ctx c = {target, 0};
    tsl_err err = tsl_sq_tx(q, 1, migrate_body, NULL, &c, d);
    cache_clear(q);
    if (!err && applied) *applied = c.applied;
    return err;
}

typedef struct list_ctx {
    int64_t when[64];
    int top;
} list_ctx;

/* Reads which migrations are applied, and when. */
static tsl_err list_body(sq *q, void *vctx, tsl_diag *d) {
    list_ctx *c = vctx;
    return read_applied(q, c->when, 64, &c->top, d);
}

/* The vtable's migrations: every known migration, applied or pending. */
static tsl_err sq_migrations_list(tsl_store *s, tsl_store_migration **out, size_t *n, tsl_diag *d) {
    list_ctx c;
    tsl_err err = tsl_sq_tx(sq_of(s), 0, list_body, NULL, &c, d);
    if (err) return err;
    tsl_store_migration *v = tsl_calloc(tsl_sq_nmigrations, sizeof *v);
    for (size_t i = 0; i < tsl_sq_nmigrations; i++) {
        int ver = tsl_sq_migrations[i].version;
        v[i].version = ver;
        v[i].description = tsl_sq_migrations[i].description;
        v[i].applied = ver <= c.top;
        v[i].applied_ms = v[i].applied ? c.when[ver] : 0;
    }
    *out = v;
    *n = tsl_sq_nmigrations;
    return TSL_OK;
}

/* ---- opening ---- */

typedef struct probe_ctx {
    int64_t app_id;
    int64_t tables;
    int top;
} probe_ctx;

static const char SQL_APP_ID[] = "PRAGMA application_id";
static const char SQL_TABLES[] = "SELECT count(*) FROM sqlite_schema WHERE type = 'table'";

/* Reads what tells a tsloop store from another database: the application id and whether it
 * has any table at all, and the schema version. */
static tsl_err probe_body(sq *q, void *vctx, tsl_diag *d) {
    probe_ctx *c = vctx;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    int64_t when[64];
    if ((err = tsl_sq_prepare(q, SQL_APP_ID, &st, d)) || (err = tsl_sq_step(q, st, &row, d)))
        return err;
    c->app_id = row ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if ((err = tsl_sq_prepare(q, SQL_TABLES, &st, d)) || (err = tsl_sq_step(q, st, &row, d)))
        return err;
    c->tables = row ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return read_applied(q, when, 64, &c->top, d);
}

/* Runs a PRAGMA (constant text), retrying while the database is busy until the timeout. */
/* ---- SQL functions ---- */

/* tsl_le64_min(blob) and tsl_le64_max(blob): the least and greatest of a blob read as
 * little-endian int64s (a capture's targets), NULL for a blob shorter than 8 bytes or not a
 * blob. Migration 14 backfills captures' t_first and t_last with them; min and max rather
 * than first and last element, so a capture whose targets were stored out of order still
 * spans all of them. user data: non-NULL for max. */
static void sqlfn_le64_extreme(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    int want_max = sqlite3_user_data(ctx) != NULL;
    (void)argc; /* registered with one argument */
    if (sqlite3_value_type(argv[0]) != SQLITE_BLOB) {
        sqlite3_result_null(ctx);
        return;
    }
    const unsigned char *p = sqlite3_value_blob(argv[0]);
    size_t n = (size_t)sqlite3_value_bytes(argv[0]) / sizeof(int64_t);
    if (!n) {
        sqlite3_result_null(ctx);
        return;
    }
    int64_t best = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t t;
        memcpy(&t, p + i * sizeof t, sizeof t); /* little-endian host: sqlite_serving.c */
        if (!i || (want_max ? t > best : t < best)) best = t;
    }
    sqlite3_result_int64(ctx, best);
}

/* Registers the SQL functions migrations use, on q's connection. */
static tsl_err register_functions(sq *q, tsl_diag *d) {
    static int max_tag; /* any non-NULL pointer marks max */
    int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC;
    int rc = sqlite3_create_function(q->db, "tsl_le64_min", 1, flags, NULL, sqlfn_le64_extreme,
                                     NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_create_function(q->db, "tsl_le64_max", 1, flags, &max_tag, sqlfn_le64_extreme,
                                     NULL, NULL);
    if (rc != SQLITE_OK) return tsl_sq_fail(q, rc, "registering SQL functions", d);
    return TSL_OK;
}

static tsl_err pragma(sq *q, const char *sql, tsl_diag *d) {
    int64_t deadline = mono_ms() + q->s->busy_ms;
    for (;;) {
        char *msg = NULL;
        int rc = sqlite3_exec(q->db, sql, NULL, NULL, &msg);
        sqlite3_free(msg);
        if (rc == SQLITE_OK) return TSL_OK;
        if ((rc & 0xff) != SQLITE_BUSY || mono_ms() > deadline) return tsl_sq_fail(q, rc, sql, d);
        backoff_sleep(10);
    }
}

/* The vtable's close: finalizes the cached statements and closes the connection. */
static void sq_close(tsl_store *s) {
    sq *q = sq_of(s);
    if (!q) return;
    cache_clear(q);
    tsl_free(q->cache);
    sqlite3_close_v2(q->db);
    tsl_free(q);
    s->be = NULL;
}

static const tsl_store_vt sqlite_vt = {
    .name = "sqlite",
    .close = sq_close,
    .migrations = sq_migrations_list,
    .migrate = sq_migrate,
    .dataset_create = tsl_sq_dataset_create,
    .dataset_get = tsl_sq_dataset_get,
    .dataset_list = tsl_sq_dataset_list,
    .dataset_rehash = tsl_sq_dataset_rehash,
    .item_list = tsl_sq_item_list,
    .dataset_load = tsl_sq_dataset_load,
    .ingest_open = tsl_sq_ingest_open,
    .ingest_batch = tsl_sq_ingest_batch,
    .ingest_close = tsl_sq_ingest_close,
    .ingest_drop = tsl_sq_ingest_drop,
    .ingest_get = tsl_sq_ingest_get,
    .ingest_list = tsl_sq_ingest_list,
    .revision_list = tsl_sq_revision_list,
    .model_register = tsl_sq_model_register,
    .model_get = tsl_sq_model_get,
    .model_list = tsl_sq_model_list,
    .model_artifact = tsl_sq_model_artifact,
    .model_set_status = tsl_sq_model_set_status,
    .model_audit = tsl_sq_model_audit,
    .model_champion = tsl_sq_model_champion,
    .exec_request = tsl_sq_exec_request,
    .exec_get = tsl_sq_exec_get,
    .exec_list = tsl_sq_exec_list,
    .exec_claim = tsl_sq_exec_claim,
    .exec_heartbeat = tsl_sq_exec_heartbeat,
    .step_begin = tsl_sq_step_begin,
    .step_succeed = tsl_sq_step_succeed,
    .step_fail = tsl_sq_step_fail,
    .step_output = tsl_sq_step_output,
    .exec_finish = tsl_sq_exec_finish,
    .exec_stop = tsl_sq_exec_stop,
    .exec_recover = tsl_sq_exec_recover,
    .param_set = tsl_sq_param_set,
    .param_get = tsl_sq_param_get,
    .param_history = tsl_sq_param_history,
    .param_list = tsl_sq_param_list,
    .event_append = tsl_sq_event_append,
    .event_list = tsl_sq_event_list,
    .deploy = tsl_sq_deploy,
    .rollback = tsl_sq_rollback,
    .endpoint_list = tsl_sq_endpoint_list,
    .endpoint_get = tsl_sq_endpoint_get,
    .deployment_history = tsl_sq_deployment_history,
    .token_create = tsl_sq_token_create,
    .token_list = tsl_sq_token_list,
    .token_revoke = tsl_sq_token_revoke,
    .token_find = tsl_sq_token_find,
    .item_tail = tsl_sq_item_tail,
    .job_create = tsl_sq_job_create,
    .job_get = tsl_sq_job_get,
    .job_claim = tsl_sq_job_claim,
    .job_heartbeat = tsl_sq_job_heartbeat,
    .job_finish = tsl_sq_job_finish,
    .status_counts = tsl_sq_status_counts,
    .lock_acquire = tsl_sq_lock_acquire,
    .lock_release = tsl_sq_lock_release,
    .schedule_last = tsl_sq_schedule_last,
    .schedule_claim = tsl_sq_schedule_claim,
    .capture_add = tsl_sq_capture_add,
    .capture_list = tsl_sq_capture_list,
    .capture_span = tsl_sq_capture_span,
    .capture_bounds = tsl_sq_capture_bounds,
    .retrain_decide = tsl_sq_retrain_decide,
    .retrain_record = tsl_sq_retrain_record,
    .retrain_cursor = tsl_sq_retrain_cursor,
    .retrain_advance = tsl_sq_retrain_advance,
    .inbox_find = tsl_sq_inbox_find,
    .inbox_record = tsl_sq_inbox_record,
    .notify_get = tsl_sq_notify_get,
    .notify_fail = tsl_sq_notify_fail,
    .notify_advance = tsl_sq_notify_advance,
    .datapoint_put = tsl_sq_datapoint_put,
    .datapoint_list = tsl_sq_datapoint_list,
    .alarm_get = tsl_sq_alarm_get,
    .alarm_list = tsl_sq_alarm_list,
    .alarm_put = tsl_sq_alarm_put,
    .alarm_history = tsl_sq_alarm_history,
    .cursor_get = tsl_sq_cursor_get,
    .cursor_set = tsl_sq_cursor_set,
    .detector_list = tsl_sq_detector_list,
    .detector_put = tsl_sq_detector_put,
    .ingest_points = tsl_sq_ingest_points,
    .ingest_items = tsl_sq_ingest_items,
    .quality_put = tsl_sq_quality_put,
    .quality_list = tsl_sq_quality_list,
    .capture_list_shadow = tsl_sq_capture_list_shadow,
    .shadow_start = tsl_sq_shadow_start,
    .shadow_end = tsl_sq_shadow_end,
    .shadow_progress = tsl_sq_shadow_progress,
    .shadow_decided = tsl_sq_shadow_decided,
    .shadow_list = tsl_sq_shadow_list,
};

tsl_err tsl_sto_sqlite_open(tsl_store *s, const char *path, const tsl_store_opts *opts,
                            tsl_diag *d) {
    tsl_err err = TSL_OK;
    struct stat sb;
    char sql[128];
    sq *q = tsl_calloc(1, sizeof *q);
    q->s = s;
    if (opts->no_create && stat(path, &sb) != 0) {
        err = tsl_diag_set(d, TSL_ENOTFOUND, "store %s: no such file", path);
        goto out;
    }
    int flags =
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (opts->no_create ? 0 : SQLITE_OPEN_CREATE);
    int rc = sqlite3_open_v2(path, &q->db, flags, NULL);
    if (rc != SQLITE_OK) {
        err = tsl_sq_fail(q, rc, "opening", d);
        goto out;
    }
    sqlite3_extended_result_codes(q->db, 1);
    sqlite3_busy_timeout(q->db, s->busy_ms);
    if ((err = register_functions(q, d))) goto out;

    /* Is this a tsloop store, a new file, or some other database? */
    probe_ctx probe = {0, 0, 0};
    if ((err = tsl_sq_tx(q, 0, probe_body, NULL, &probe, d))) {
        if (err == TSL_ECORRUPT)
            tsl_diag_set(d, TSL_ECORRUPT, "store %s: not a tsloop store (not an SQLite database)",
                         path);
        goto out;
    }
    if (probe.app_id != APPLICATION_ID && (probe.app_id != 0 || probe.tables > 0)) {
        err = tsl_diag_set(d, TSL_ECORRUPT,
                           "store %s: an SQLite database, but not a tsloop store (application "
                           "id %lld)",
                           path, (long long)probe.app_id);
        goto out;
    }
    if ((err = pragma(q, "PRAGMA journal_mode=WAL", d)) ||
        (err = pragma(q, "PRAGMA foreign_keys=ON", d)) ||
        (err = pragma(q, s->sync_normal ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL",
                      d)) ||
        (err = pragma(q, "PRAGMA temp_store=MEMORY", d)))
        goto out;
    snprintf(sql, sizeof sql, "PRAGMA cache_size=-%d", CACHE_KIB);
    if ((err = pragma(q, sql, d))) goto out;
    if (probe.app_id == 0) {
        snprintf(sql, sizeof sql, "PRAGMA application_id=%d", APPLICATION_ID);
        if ((err = pragma(q, sql, d))) goto out;
    }
    s->be = q;
    s->vt = &sqlite_vt;

    int known = tsl_sq_migrations[tsl_sq_nmigrations - 1].version;
    if (probe.top > known) {
        err = tsl_diag_set(d, TSL_EVERSION,
                           "store %s: schema version %d is newer than this tsloop knows (%d); "
                           "upgrade tsloop",
                           path, probe.top, known);
        goto out;
    }
    if (probe.top < known && !opts->no_migrate) {
        if ((err = sq_migrate(s, 0, NULL, d))) goto out;
        s->schema_current = 1;
    } else {
        s->schema_current = probe.top == known;
    }
out:
    if (err) {
        s->be = NULL;
        s->vt = NULL;
        cache_clear(q);
        tsl_free(q->cache);
        if (q->db) sqlite3_close_v2(q->db);
        tsl_free(q);
    }
    return err;
}

tsl_err tsl_sto_sqlite_migrate_to(tsl_store *s, int target, tsl_diag *d) {
    return sq_migrate(s, target, NULL, d);
}
