/*
 * sqlite_data.c - data sets in the SQLite back end: creating and listing them, upserting
 * batches of observations, loading them for training, ingest records and revisions.
 *
 * Applying a batch. The front end (ingest.c) hands over rows sorted by (item, time, position),
 * so each item's rows are one ordered run. For each run, the stored points it may touch are
 * those between the item's stored first and last timestamps; rows after the last are new
 * without asking (the common case: appending the latest data, and every first ingest). For the
 * rest, the cheaper of two reads is chosen from the item's point count and time span: one
 * ordered range read over the run's span, merged with the run like a merge join (re-sending a
 * file, a day of corrections), or a point lookup per row (a few scattered corrections in a
 * long history). Then each row is an insert, an update (the old value goes to revisions) or
 * nothing, the hash lanes move by the element values that left and arrived, and the item's and
 * data set's counters follow - all in the batch's one transaction.
 *
 * Ingest spans. The monitoring evaluator needs the points an ingest wrote (to re-evaluate the
 * windows they fall in). An index of observations by ingest_id would answer that, at the cost
 * of a second B-tree insert for every stored row - about 40% more ingest CPU and 60% more file.
 * Instead each run records the time range of the points it inserted or changed and widens the
 * (ingest, item) row of ingest_spans with it: one small upsert per item and batch, in the
 * batch's transaction, so the spans match the committed batches whatever happens after. The
 * reader (sqlite_monitor.c) range-reads each span by primary key and keeps the points whose
 * ingest_id is still that ingest.
 *
 * An ingest caches the items it has seen (their key, counts, span, dimension values) across
 * batches, which saves a lookup per item per batch. The cache is only trusted while nobody
 * else wrote to the data set: every batch bumps datasets.rev, and a batch that finds rev not
 * where its own last commit left it starts with an empty cache. A batch that rolls back also
 * empties it (it may hold what the rollback undid).
 */
#include "store/sqlite_be.h"

#include <assert.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsloop/dataset.h"
#include "tsloop/mem.h"

/* A range read is chosen when it reads at most this many stored points per row it serves,
 * plus RANGE_SLACK. */
#define RANGE_RATIO 4
#define RANGE_SLACK 64
/* Rows per multi-row INSERT (SQL_OBS_INSERT_CHUNK has this many value lists). */
#define INSERT_CHUNK 32

/* ---- data set rows ---- */

#define DS_COLS                                                                                    \
    "id, name, freq, freq_anchor, dims, created_ms, updated_ms, items, observations, t_min, "      \
    "t_max, h0, h1, h2, h3, rev"

static const char SQL_DS_BY_NAME[] = "SELECT " DS_COLS " FROM datasets WHERE name = ?1";
static const char SQL_DS_ALL[] = "SELECT " DS_COLS " FROM datasets ORDER BY name";
static const char SQL_DS_INSERT[] =
    "INSERT INTO datasets(name, freq, freq_anchor, dims, created_ms, updated_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?5)";
static const char SQL_DS_SET_DIMS[] = "UPDATE datasets SET dims = ?2 WHERE id = ?1";

/* The four hash lanes of columns i..i+3. */
static void read_lanes(sqlite3_stmt *st, int i, uint64_t h[4]) {
    for (int j = 0; j < 4; j++) h[j] = (uint64_t)sqlite3_column_int64(st, i + j);
}

/* The frequency stored as text and anchor; unit NONE when NULL. */
static tsl_err read_freq(sq *q, sqlite3_stmt *st, int i, tsl_freq *f, tsl_diag *d) {
    *f = (tsl_freq){TSL_FREQ_NONE, 0, 0};
    const char *text = (const char *)sqlite3_column_text(st, i);
    if (!text) return TSL_OK;
    if (tsl_freq_parse(text, f, NULL) != TSL_OK)
        return tsl_diag_set(d, TSL_ECORRUPT, "store %s: a stored frequency '%s' does not parse",
                            q->s->location, text);
    f->anchor = sqlite3_column_int(st, i + 1);
    return TSL_OK;
}

/* A data set row (DS_COLS) into out. */
static tsl_err read_dataset(sq *q, sqlite3_stmt *st, tsl_store_dataset *out, tsl_diag *d) {
    tsl_err err;
    uint64_t h[4];
    memset(out, 0, sizeof *out);
    out->id = sqlite3_column_int64(st, 0);
    out->name = tsl_sq_col_str(st, 1);
    if ((err = read_freq(q, st, 2, &out->freq, d))) return err;
    if ((err = tsl_sq_json_strv(q, (const char *)sqlite3_column_text(st, 4), &out->dim_names,
                                &out->ndims, d)))
        return err;
    out->created_ms = sqlite3_column_int64(st, 5);
    out->updated_ms = sqlite3_column_int64(st, 6);
    out->items = (uint64_t)sqlite3_column_int64(st, 7);
    out->observations = (uint64_t)sqlite3_column_int64(st, 8);
    out->t_min = sqlite3_column_int64(st, 9);
    out->t_max = sqlite3_column_int64(st, 10);
    read_lanes(st, 11, h);
    tsl_sto_hash_hex(h, out->hash);
    return TSL_OK;
}

/* Reads data set `name` into out, or TSL_ENOTFOUND. */
static tsl_err find_dataset(sq *q, const char *name, tsl_store_dataset *out, tsl_diag *d) {
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_DS_BY_NAME, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, name);
    if ((err = tsl_sq_step(q, st, &row, d))) return err;
    if (!row)
        return tsl_diag_set(d, TSL_ENOTFOUND, "store %s: no data set '%s'", q->s->location, name);
    err = read_dataset(q, st, out, d);
    sqlite3_reset(st);
    if (err) tsl_store_dataset_release(out);
    return err;
}

/* Inserts a data set and records dataset.created; *id gets its id. */
static tsl_err insert_dataset(sq *q, const char *name, tsl_freq freq, const char *const *dims,
                              size_t ndims, int64_t *id, tsl_diag *d) {
    sqlite3_stmt *st;
    char ftext[32] = {0};
    tsl_err err;
    if (freq.unit != TSL_FREQ_NONE) tsl_freq_format(freq, ftext, sizeof ftext);
    char *dj = tsl_sq_strv_json(dims, ndims);
    if ((err = tsl_sq_prepare(q, SQL_DS_INSERT, &st, d))) goto out;
    tsl_sq_bind_text(q, st, 1, name);
    tsl_sq_bind_text(q, st, 2, ftext[0] ? ftext : NULL);
    tsl_sq_bind_int(q, st, 3, freq.anchor);
    tsl_sq_bind_text(q, st, 4, dj);
    tsl_sq_bind_int(q, st, 5, tsl_sto_now(q->s));
    if ((err = tsl_sq_exec(q, st, d))) {
        if (err == TSL_ECONFLICT)
            tsl_diag_set(d, TSL_ECONFLICT, "store %s: data set '%s' already exists", q->s->location,
                         name);
        goto out;
    }
    *id = sqlite3_last_insert_rowid(q->db);
    char subject[96];
    snprintf(subject, sizeof subject, "dataset:%s", name);
    err = tsl_sq_event_own(q, "dataset.created", subject,
                           tsl_sto_json("{s:s, s:s?, s:o}", "dataset", name, "freq",
                                        ftext[0] ? ftext : NULL, "dims", json_loads(dj, 0, NULL)),
                           d);
out:
    tsl_free(dj);
    return err;
}

typedef struct create_ctx {
    const char *name;
    tsl_freq freq;
    const char *const *dims;
    size_t ndims;
    int64_t id;
} create_ctx;

/* The transaction of tsl_sq_dataset_create. */
static tsl_err create_body(sq *q, void *vctx, tsl_diag *d) {
    create_ctx *c = vctx;
    return insert_dataset(q, c->name, c->freq, c->dims, c->ndims, &c->id, d);
}

tsl_err tsl_sq_dataset_create(tsl_store *s, const char *name, tsl_freq freq,
                              const char *const *dims, size_t ndims, int64_t *id, tsl_diag *d) {
    create_ctx c = {name, freq, dims, ndims, 0};
    tsl_err err = tsl_sq_tx(sq_of(s), 1, create_body, NULL, &c, d);
    if (!err) *id = c.id;
    return err;
}

typedef struct get_ctx {
    const char *name;
    tsl_store_dataset *out;
} get_ctx;

/* The transaction of tsl_sq_dataset_get. */
static tsl_err get_body(sq *q, void *vctx, tsl_diag *d) {
    get_ctx *c = vctx;
    return find_dataset(q, c->name, c->out, d);
}

tsl_err tsl_sq_dataset_get(tsl_store *s, const char *name, tsl_store_dataset *out, tsl_diag *d) {
    get_ctx c = {name, out};
    return tsl_sq_tx(sq_of(s), 0, get_body, NULL, &c, d);
}

typedef struct list_ctx {
    tsl_store_dataset *v;
    size_t n, cap;
} list_ctx;

/* Drops a partial listing after a rollback. */
static void list_clear(void *vctx) {
    list_ctx *c = vctx;
    tsl_store_dataset_list_free(c->v, c->n);
    c->v = NULL;
    c->n = c->cap = 0;
}

/* The transaction of tsl_sq_dataset_list: every data set, by name. */
static tsl_err list_body(sq *q, void *vctx, tsl_diag *d) {
    list_ctx *c = vctx;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_DS_ALL, &st, d))) return err;
    while (!(err = tsl_sq_step(q, st, &row, d)) && row) {
        c->v = sq_grow(c->v, &c->cap, c->n, sizeof *c->v);
        if ((err = read_dataset(q, st, &c->v[c->n], d))) {
            tsl_store_dataset_release(&c->v[c->n]);
            sqlite3_reset(st);
            return err;
        }
        c->n++;
    }
    return err;
}

tsl_err tsl_sq_dataset_list(tsl_store *s, tsl_store_dataset **out, size_t *n, tsl_diag *d) {
    list_ctx c = {NULL, 0, 0};
    tsl_err err = tsl_sq_tx(sq_of(s), 0, list_body, list_clear, &c, d);
    if (err) return err;
    *out = c.v;
    *n = c.n;
    return TSL_OK;
}

/* ---- recomputing the hash ---- */

static const char SQL_ITEMS_OF[] =
    "SELECT id, item_id, dims, observations, t_min, t_max FROM items WHERE dataset_id = ?1 "
    "ORDER BY item_id";
static const char SQL_OBS_OF[] = "SELECT t, value FROM observations WHERE item = ?1 ORDER BY t";

typedef struct rehash_ctx {
    const char *name;
    uint64_t stored[4], computed[4];
} rehash_ctx;

/* The transaction of tsl_sq_dataset_rehash: the stored lanes, and the sum over every item
 * and observation of their hash values. */
static tsl_err rehash_body(sq *q, void *vctx, tsl_diag *d) {
    rehash_ctx *c = vctx;
    tsl_store_dataset ds;
    sqlite3_stmt *items = NULL, *obs = NULL;
    int row = 0;
    tsl_err err;
    memset(c->computed, 0, sizeof c->computed);
    if ((err = find_dataset(q, c->name, &ds, d))) return err;
    for (int j = 0; j < 4; j++) {
        char lane[17];
        memcpy(lane, ds.hash + 16 * j, 16);
        lane[16] = '\0';
        c->stored[j] = strtoull(lane, NULL, 16);
    }
    if ((err = tsl_sq_prepare(q, SQL_ITEMS_OF, &items, d))) goto out;
    tsl_sq_bind_int(q, items, 1, ds.id);
    while (!(err = tsl_sq_step(q, items, &row, d)) && row) {
        uint64_t key[4], h[4];
        char **dims = NULL;
        size_t ndims = 0;
        const char *id = (const char *)sqlite3_column_text(items, 1);
        tsl_sto_item_key(id, (size_t)sqlite3_column_bytes(items, 1), key);
        if ((err = tsl_sq_json_strv(q, (const char *)sqlite3_column_text(items, 2), &dims, &ndims,
                                    d)))
            break;
        tsl_sto_item_hash(key, (const char *const *)dims, ndims, h);
        tsl_sto_hash_add(c->computed, h);
        for (size_t j = 0; j < ndims; j++) tsl_free(dims[j]);
        tsl_free(dims);
        if ((err = tsl_sq_prepare(q, SQL_OBS_OF, &obs, d))) break;
        tsl_sq_bind_int(q, obs, 1, sqlite3_column_int64(items, 0));
        int orow = 0;
        while (!(err = tsl_sq_step(q, obs, &orow, d)) && orow) {
            tsl_sto_obs_hash(key, sqlite3_column_int64(obs, 0), tsl_sq_col_double(obs, 1), h);
            tsl_sto_hash_add(c->computed, h);
        }
        if (err) break;
    }
out:
    if (items) sqlite3_reset(items);
    tsl_store_dataset_release(&ds);
    return err;
}

tsl_err tsl_sq_dataset_rehash(tsl_store *s, const char *name, uint64_t stored[4],
                              uint64_t computed[4], tsl_diag *d) {
    rehash_ctx c;
    memset(&c, 0, sizeof c);
    c.name = name;
    tsl_err err = tsl_sq_tx(sq_of(s), 0, rehash_body, NULL, &c, d);
    if (err) return err;
    memcpy(stored, c.stored, sizeof c.stored);
    memcpy(computed, c.computed, sizeof c.computed);
    return TSL_OK;
}

/* ---- items ---- */

typedef struct items_ctx {
    const char *name;
    tsl_store_item *v;
    size_t n, cap;
} items_ctx;

/* Drops a partial listing after a rollback. */
static void items_clear(void *vctx) {
    items_ctx *c = vctx;
    tsl_store_item_list_free(c->v, c->n);
    c->v = NULL;
    c->n = c->cap = 0;
}

/* The transaction of tsl_sq_item_list. */
static tsl_err items_body(sq *q, void *vctx, tsl_diag *d) {
    items_ctx *c = vctx;
    tsl_store_dataset ds;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if ((err = find_dataset(q, c->name, &ds, d))) return err;
    if ((err = tsl_sq_prepare(q, SQL_ITEMS_OF, &st, d))) goto out;
    tsl_sq_bind_int(q, st, 1, ds.id);
    while (!(err = tsl_sq_step(q, st, &row, d)) && row) {
        c->v = sq_grow(c->v, &c->cap, c->n, sizeof *c->v);
        tsl_store_item *it = &c->v[c->n++];
        memset(it, 0, sizeof *it);
        it->item_id = tsl_sq_col_str(st, 1);
        it->observations = (uint64_t)sqlite3_column_int64(st, 3);
        it->t_min = sqlite3_column_int64(st, 4);
        it->t_max = sqlite3_column_int64(st, 5);
        if ((err = tsl_sq_json_strv(q, (const char *)sqlite3_column_text(st, 2), &it->dims,
                                    &it->ndims, d))) {
            sqlite3_reset(st);
            break;
        }
    }
out:
    tsl_store_dataset_release(&ds);
    return err;
}

tsl_err tsl_sq_item_list(tsl_store *s, const char *dataset, tsl_store_item **out, size_t *n,
                         tsl_diag *d) {
    items_ctx c = {dataset, NULL, 0, 0};
    tsl_err err = tsl_sq_tx(sq_of(s), 0, items_body, items_clear, &c, d);
    if (err) return err;
    *out = c.v;
    *n = c.n;
    return TSL_OK;
}

/* ---- loading ---- */

static const char SQL_LOAD_ALL[] =
    "SELECT i.item_id, i.dims, o.t, o.value FROM items i JOIN observations o ON o.item = i.id "
    "WHERE i.dataset_id = ?1 ORDER BY i.item_id, o.t";
static const char SQL_ITEM_BY_ID[] =
    "SELECT id, dims FROM items WHERE dataset_id = ?1 AND item_id = ?2";

typedef struct load_ctx {
    const char *name;
    const char *const *items;
    size_t nitems;
    int period;
    tsl_dataset_builder *b;
    uint64_t lanes[4];
} load_ctx;

/* Drops the rows gathered so far (after a rollback, and at the end). */
static void load_clear(void *vctx) {
    load_ctx *c = vctx;
    tsl_dataset_builder_free(c->b);
    c->b = NULL;
}

/* Frees a parsed dimension list. */
static void free_dims(char **dims, size_t n) {
    for (size_t j = 0; j < n; j++) tsl_free(dims[j]);
    tsl_free(dims);
}

/* The transaction of tsl_sq_dataset_load: feeds the builder every row of the data set (or of
 * the items asked for) in item and time order, and keeps the hash lanes of that snapshot. */
static tsl_err load_body(sq *q, void *vctx, tsl_diag *d) {
    load_ctx *c = vctx;
    tsl_store_dataset ds;
    sqlite3_stmt *st = NULL, *obs = NULL;
    int row = 0;
    tsl_err err;
    char **dims = NULL;
    size_t ndims = 0;
    size_t *lens = NULL;
    char *cur = NULL;
    load_clear(c);
    if ((err = find_dataset(q, c->name, &ds, d))) return err;
    for (int j = 0; j < 4; j++) {
        char lane[17];
        memcpy(lane, ds.hash + 16 * j, 16);
        lane[16] = '\0';
        c->lanes[j] = strtoull(lane, NULL, 16);
    }
    tsl_read_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.freq = ds.freq;
    ro.period = c->period;
    c->b = tsl_dataset_builder_new(c->name, (const char *const *)ds.dim_names, ds.ndims, &ro);
    lens = tsl_calloc(ds.ndims ? ds.ndims : 1, sizeof *lens);
    tsl_csv_row r;
    memset(&r, 0, sizeof r);
    r.dim_lens = lens;
    if (!c->items) {
        if ((err = tsl_sq_prepare(q, SQL_LOAD_ALL, &st, d))) goto out;
        tsl_sq_bind_int(q, st, 1, ds.id);
        while (!(err = tsl_sq_step(q, st, &row, d)) && row) {
            const char *id = (const char *)sqlite3_column_text(st, 0);
            if (!cur || strcmp(cur, id)) {
                tsl_free(cur);
                cur = tsl_strdup(id);
                free_dims(dims, ndims);
                dims = NULL;
                if ((err = tsl_sq_json_strv(q, (const char *)sqlite3_column_text(st, 1), &dims,
                                            &ndims, d)))
                    break;
                if (ndims != ds.ndims) {
                    err = tsl_diag_set(d, TSL_ECORRUPT,
                                       "store %s: item '%s' of '%s' has %zu dimension values, "
                                       "the data set %zu",
                                       q->s->location, id, c->name, ndims, ds.ndims);
                    break;
                }
                for (size_t j = 0; j < ndims; j++) lens[j] = strlen(dims[j]);
                r.item = cur;
                r.item_len = strlen(cur);
                r.dims = (const char *const *)dims;
            }
            r.time = sqlite3_column_int64(st, 2);
            r.value = tsl_sq_col_double(st, 3);
            if ((err = tsl_dataset_builder_add(c->b, &r, d))) break;
        }
        if (err) sqlite3_reset(st);
        goto out;
    }
    for (size_t i = 0; i < c->nitems; i++) {
        if ((err = tsl_sq_prepare(q, SQL_ITEM_BY_ID, &st, d))) goto out;
        tsl_sq_bind_int(q, st, 1, ds.id);
        tsl_sq_bind_text(q, st, 2, c->items[i]);
        if ((err = tsl_sq_step(q, st, &row, d))) goto out;
        if (!row) {
            err = tsl_diag_set(d, TSL_ENOTFOUND, "store %s: data set '%s' has no item '%s'",
                               q->s->location, c->name, c->items[i]);
            goto out;
        }
        int64_t pk = sqlite3_column_int64(st, 0);
        free_dims(dims, ndims);
        dims = NULL;
        err = tsl_sq_json_strv(q, (const char *)sqlite3_column_text(st, 1), &dims, &ndims, d);
        sqlite3_reset(st);
        if (err) goto out;
        if (ndims != ds.ndims) {
            err = tsl_diag_set(d, TSL_ECORRUPT,
                               "store %s: item '%s' of '%s' has %zu dimension "
                               "values, the data set %zu",
                               q->s->location, c->items[i], c->name, ndims, ds.ndims);
            goto out;
        }
        for (size_t j = 0; j < ndims; j++) lens[j] = strlen(dims[j]);
        r.item = c->items[i];
        r.item_len = strlen(c->items[i]);
        r.dims = (const char *const *)dims;
        if ((err = tsl_sq_prepare(q, SQL_OBS_OF, &obs, d))) goto out;
        tsl_sq_bind_int(q, obs, 1, pk);
        while (!(err = tsl_sq_step(q, obs, &row, d)) && row) {
            r.time = sqlite3_column_int64(obs, 0);
            r.value = tsl_sq_col_double(obs, 1);
            if ((err = tsl_dataset_builder_add(c->b, &r, d))) {
                sqlite3_reset(obs);
                goto out;
            }
        }
        if (err) goto out;
    }
out:
    free_dims(dims, ndims);
    tsl_free(lens);
    tsl_free(cur);
    tsl_store_dataset_release(&ds);
    return err;
}

tsl_err tsl_sq_dataset_load(tsl_store *s, const char *name, const char *const *items, size_t nitems,
                            int period, tsl_dataset **out, char *hash, tsl_diag *d) {
    load_ctx c;
    memset(&c, 0, sizeof c);
    c.name = name;
    c.items = items;
    c.nitems = nitems;
    c.period = period;
    tsl_err err = tsl_sq_tx(sq_of(s), 0, load_body, load_clear, &c, d);
    if (err) goto out;
    if (tsl_dataset_builder_rows(c.b) == 0) {
        err = tsl_diag_set(d, TSL_ESHORT, "store %s: data set '%s' has no observations%s",
                           s->location, name, items ? " for the items asked for" : "");
        goto out;
    }
    /* Building (sorting, the frequency, the grids) happens outside the read transaction. */
    if ((err = tsl_dataset_builder_finish(c.b, out, d))) goto out;
    if (hash) tsl_sto_hash_hex(c.lanes, hash);
out:
    load_clear(&c);
    return err;
}

/* ---- ingesting: opening and closing ---- */

static const char SQL_INGEST_INSERT[] =
    "INSERT INTO ingests(dataset_id, source, who, status, started_ms, updated_ms, owner_host, "
    "owner_boot, owner_pid, owner_start) VALUES (?1, ?2, ?3, 'running', ?4, ?4, ?5, ?6, ?7, ?8)";

/* The transaction of tsl_sq_ingest_open (see store_impl.h). */
static tsl_err open_body(sq *q, void *vctx, tsl_diag *d) {
    tsl_store_ingest *in = vctx;
    tsl_store_dataset ds;
    sqlite3_stmt *st;
    tsl_err err = find_dataset(q, in->dataset, &ds, d);
    if (err == TSL_ENOTFOUND && in->create) {
        int64_t id = 0;
        tsl_freq none = {TSL_FREQ_NONE, 0, 0};
        if ((err = insert_dataset(q, in->dataset, none, (const char *const *)in->in_dims,
                                  in->in_ndims, &id, d)) ||
            (err = find_dataset(q, in->dataset, &ds, d)))
            return err;
    } else if (err == TSL_ENOTFOUND) {
        return tsl_diag_set(d, TSL_ENOTFOUND, "store %s: no data set '%s' to ingest into",
                            q->s->location, in->dataset);
    } else if (err) {
        return err;
    }
    /* The first ingest into an empty data set without dimensions declares them. */
    if (ds.ndims == 0 && ds.observations == 0 && in->in_ndims > 0) {
        char *dj = tsl_sq_strv_json((const char *const *)in->in_dims, in->in_ndims);
        if (!(err = tsl_sq_prepare(q, SQL_DS_SET_DIMS, &st, d))) {
            tsl_sq_bind_int(q, st, 1, ds.id);
            tsl_sq_bind_text(q, st, 2, dj);
            err = tsl_sq_exec(q, st, d);
        }
        tsl_free(dj);
        if (err) goto out;
        err = tsl_sto_ingest_map_dims(in, in->in_dims, in->in_ndims, d);
    } else {
        err = tsl_sto_ingest_map_dims(in, ds.dim_names, ds.ndims, d);
    }
    if (err) goto out;
    in->dataset_id = ds.id;
    in->freq = ds.freq;
    if ((err = tsl_sq_prepare(q, SQL_INGEST_INSERT, &st, d))) goto out;
    tsl_sq_bind_int(q, st, 1, ds.id);
    tsl_sq_bind_text(q, st, 2, in->source);
    tsl_sq_bind_text(q, st, 3, in->who);
    tsl_sq_bind_int(q, st, 4, tsl_sto_now(q->s));
    tsl_sq_bind_text(q, st, 5, q->s->self.host);
    tsl_sq_bind_text(q, st, 6, q->s->self.boot);
    tsl_sq_bind_int(q, st, 7, q->s->self.pid);
    tsl_sq_bind_int(q, st, 8, q->s->self.start);
    if ((err = tsl_sq_exec(q, st, d))) goto out;
    in->id = sqlite3_last_insert_rowid(q->db);
out:
    tsl_store_dataset_release(&ds);
    return err;
}

tsl_err tsl_sq_ingest_open(tsl_store *s, tsl_store_ingest *in, tsl_diag *d) {
    return tsl_sq_tx(sq_of(s), 1, open_body, NULL, in, d);
}

static const char SQL_DS_LANES[] = "SELECT h0, h1, h2, h3 FROM datasets WHERE id = ?1";
static const char SQL_INGEST_CLOSE[] =
    "UPDATE ingests SET status = ?2, error = ?3, ended_ms = ?4, updated_ms = ?4, hash = ?5 "
    "WHERE id = ?1";

typedef struct close_ctx {
    tsl_store_ingest *in;
    const char *error;
} close_ctx;

/* The transaction of tsl_sq_ingest_close: the record's final status and hash, and its event. */
static tsl_err close_body(sq *q, void *vctx, tsl_diag *d) {
    close_ctx *c = vctx;
    tsl_store_ingest *in = c->in;
    const tsl_store_receipt *r = &in->receipt;
    sqlite3_stmt *st;
    int row = 0;
    uint64_t h[4] = {0};
    tsl_err err;
    char subject[96];
    if ((err = tsl_sq_prepare(q, SQL_DS_LANES, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, in->dataset_id);
    if ((err = tsl_sq_step(q, st, &row, d))) return err;
    if (row) read_lanes(st, 0, h);
    sqlite3_reset(st);
    tsl_sto_hash_hex(h, in->receipt.hash);
    if ((err = tsl_sq_prepare(q, SQL_INGEST_CLOSE, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, in->id);
    tsl_sq_bind_text(q, st, 2, c->error ? "failed" : "complete");
    tsl_sq_bind_text(q, st, 3, c->error);
    tsl_sq_bind_int(q, st, 4, tsl_sto_now(q->s));
    tsl_sq_bind_text(q, st, 5, in->receipt.hash);
    if ((err = tsl_sq_exec(q, st, d))) return err;
    snprintf(subject, sizeof subject, "dataset:%s", in->dataset);
    if (c->error)
        return tsl_sq_event_own(
            q, "dataset.ingest_failed", subject,
            tsl_sto_json("{s:I, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I}", "ingest",
                         (json_int_t)in->id, "dataset", in->dataset, "source", in->origin, "file",
                         in->file ? in->file : in->source, "error", c->error, "inserted",
                         (json_int_t)r->inserted, "updated", (json_int_t)r->updated, "unchanged",
                         (json_int_t)r->unchanged, "rejected", (json_int_t)r->rejected),
            d);
    return tsl_sq_event_own(
        q, "dataset.ingested", subject,
        tsl_sto_json("{s:I, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:s}", "ingest",
                     (json_int_t)in->id, "dataset", in->dataset, "source", in->origin, "file",
                     in->file ? in->file : in->source, "read", (json_int_t)r->read, "inserted",
                     (json_int_t)r->inserted, "updated", (json_int_t)r->updated, "unchanged",
                     (json_int_t)r->unchanged, "rejected", (json_int_t)r->rejected, "new_items",
                     (json_int_t)r->new_items, "hash", in->receipt.hash),
        d);
}

tsl_err tsl_sq_ingest_close(tsl_store *s, tsl_store_ingest *in, const char *error, tsl_diag *d) {
    close_ctx c = {in, error};
    return tsl_sq_tx(sq_of(s), 1, close_body, NULL, &c, d);
}

/* ---- ingesting: applying a batch ---- */

/* An item as the ingest last saw it stored. */
typedef struct cent {
    char *id;
    size_t len;
    uint64_t h;
    int64_t pk;
    int64_t n;            /* stored points */
    int64_t t_min, t_max; /* their span */
    char **dims;          /* the data set's ndims values */
    int touched;          /* n or the span changed in the batch being applied */
} cent;

typedef struct sq_ingest {
    cent *ents;
    size_t nents, cap;
    uint32_t *table; /* open addressing by the batch's item hash: index + 1, 0 empty */
    size_t tcap;
    int64_t rev;      /* the data set's rev after our last committed batch; -1: unknown */
    int64_t next_rev; /* what it becomes when the batch being applied commits */
    size_t *touched;
    size_t ntouched, touched_cap;
    int64_t *rt; /* a range read: times and values */
    double *rv;
    size_t rcap;
    /* Inserts of the item being applied, not yet written: they go out INSERT_CHUNK rows to a
     * statement (see flush_inserts). */
    int64_t pend_pk;
    int64_t pend_t[INSERT_CHUNK];
    double pend_v[INSERT_CHUNK];
    size_t npend;
} sq_ingest;

/* Forgets every cached item. */
static void cache_clear_items(sq_ingest *c, size_t ndims) {
    for (size_t i = 0; i < c->nents; i++) {
        tsl_free(c->ents[i].id);
        free_dims(c->ents[i].dims, ndims);
    }
    c->nents = 0;
    if (c->table) memset(c->table, 0, c->tcap * sizeof *c->table);
    c->ntouched = 0;
}

/* The cached entry of batch item it, or -1. */
static long cache_find(const sq_ingest *c, const tsl_ingest_item *it) {
    if (!c->tcap) return -1;
    size_t mask = c->tcap - 1;
    for (size_t k = (size_t)it->h & mask; c->table[k]; k = (k + 1) & mask) {
        const cent *e = &c->ents[c->table[k] - 1];
        if (e->h == it->h && e->len == it->len && !memcmp(e->id, it->id, it->len))
            return (long)(c->table[k] - 1);
    }
    return -1;
}

/* Caches an item (dims is taken over) and returns its index. */
static size_t cache_add(sq_ingest *c, const tsl_ingest_item *it, int64_t pk, int64_t n,
                        int64_t t_min, int64_t t_max, char **dims) {
    if ((c->nents + 1) * 2 > c->tcap) {
        size_t cap = c->tcap ? 2 * c->tcap : 1024;
        uint32_t *t = tsl_calloc(cap, sizeof *t);
        for (size_t i = 0; i < c->nents; i++) {
            size_t k = (size_t)c->ents[i].h & (cap - 1);
            while (t[k]) k = (k + 1) & (cap - 1);
            t[k] = (uint32_t)(i + 1);
        }
        tsl_free(c->table);
        c->table = t;
        c->tcap = cap;
    }
    c->ents = sq_grow(c->ents, &c->cap, c->nents, sizeof *c->ents);
    cent *e = &c->ents[c->nents];
    e->id = tsl_strndup(it->id, it->len);
    e->len = it->len;
    e->h = it->h;
    e->pk = pk;
    e->n = n;
    e->t_min = t_min;
    e->t_max = t_max;
    e->dims = dims;
    e->touched = 0;
    size_t k = (size_t)it->h & (c->tcap - 1);
    while (c->table[k]) k = (k + 1) & (c->tcap - 1);
    c->table[k] = (uint32_t)(c->nents + 1);
    return c->nents++;
}

/* Whether two lists of ndims dimension values are equal. */
static int dims_same(char *const *a, const char *const *b, size_t ndims) {
    for (size_t j = 0; j < ndims; j++)
        if (strcmp(a[j], b[j])) return 0;
    return 1;
}

/* Whether a stored value and a new one are the same (missing counts as a value). */
static int same_value(double a, double b) {
    return (isnan(a) && isnan(b)) || a == b;
}

typedef struct batch_state {
    uint64_t acc[4]; /* hash lanes */
    int64_t items, obs;
    int has_span;
    int64_t t_min, t_max;
    int64_t now;
} batch_state;

static const char SQL_DS_STATE[] =
    "SELECT rev, h0, h1, h2, h3, items, observations, t_min, t_max FROM datasets WHERE id = ?1";
static const char SQL_ITEM_FIND[] =
    "SELECT id, dims, observations, t_min, t_max FROM items WHERE dataset_id = ?1 AND item_id "
    "= ?2";
static const char SQL_ITEM_INSERT[] =
    "INSERT INTO items(dataset_id, item_id, dims, observations, t_min, t_max, created_ms) "
    "VALUES (?1, ?2, ?3, 0, ?4, ?4, ?5)";
static const char SQL_ITEM_UPDATE[] =
    "UPDATE items SET observations = ?2, t_min = ?3, t_max = ?4 WHERE id = ?1";
static const char SQL_OBS_RANGE[] =
    "SELECT t, value FROM observations WHERE item = ?1 AND t BETWEEN ?2 AND ?3 ORDER BY t";
static const char SQL_OBS_GET[] = "SELECT value FROM observations WHERE item = ?1 AND t = ?2";
static const char SQL_OBS_INSERT[] =
    "INSERT INTO observations(item, t, value, ingest_id) VALUES (?1, ?2, ?3, ?4)";
#define VALUES_1  "(?, ?, ?, ?)"
#define VALUES_2  VALUES_1 ", " VALUES_1
#define VALUES_4  VALUES_2 ", " VALUES_2
#define VALUES_8  VALUES_4 ", " VALUES_4
#define VALUES_16 VALUES_8 ", " VALUES_8
#define VALUES_32 VALUES_16 ", " VALUES_16
static const char SQL_OBS_INSERT_8[] =
    "INSERT INTO observations(item, t, value, ingest_id) VALUES " VALUES_8;
static const char SQL_OBS_INSERT_CHUNK[] =
    "INSERT INTO observations(item, t, value, ingest_id) VALUES " VALUES_32;
static const char SQL_OBS_UPDATE[] =
    "UPDATE observations SET value = ?3, ingest_id = ?4 WHERE item = ?1 AND t = ?2";
static const char SQL_SPAN_UPSERT[] =
    "INSERT INTO ingest_spans(ingest_id, item, t_min, t_max) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT(ingest_id, item) DO UPDATE SET t_min = min(t_min, excluded.t_min), "
    "t_max = max(t_max, excluded.t_max)";
static const char SQL_REV_INSERT[] =
    "INSERT INTO revisions(item, t, old_value, new_value, ingest_id, at_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
static const char SQL_DS_UPDATE[] =
    "UPDATE datasets SET items = ?2, observations = ?3, t_min = ?4, t_max = ?5, h0 = ?6, "
    "h1 = ?7, h2 = ?8, h3 = ?9, rev = rev + 1, updated_ms = ?10 WHERE id = ?1";
static const char SQL_REJECT_INSERT[] =
    "INSERT INTO ingest_rejects(ingest_id, line, reason) VALUES (?1, ?2, ?3)";
static const char SQL_INGEST_COUNTS[] =
    "UPDATE ingests SET inserted = ?2, updated = ?3, unchanged = ?4, rejected = ?5, "
    "new_items = ?6, dim_conflicts = ?7, hash = ?8, updated_ms = ?9 WHERE id = ?1";

/* The cache index of batch item it, reading it from the store or inserting it (with its hash
 * contribution) when new. */
static tsl_err find_item(sq *q, tsl_store_ingest *in, const tsl_ingest_item *it, batch_state *bs,
                         size_t *index, tsl_diag *d) {
    sq_ingest *c = in->be;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    long found = cache_find(c, it);
    if (found >= 0) {
        *index = (size_t)found;
        return TSL_OK;
    }
    if ((err = tsl_sq_prepare(q, SQL_ITEM_FIND, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, in->dataset_id);
    tsl_sq_bind_text(q, st, 2, it->id);
    if ((err = tsl_sq_step(q, st, &row, d))) return err;
    if (row) {
        char **dims = NULL;
        size_t ndims = 0;
        err = tsl_sq_json_strv(q, (const char *)sqlite3_column_text(st, 1), &dims, &ndims, d);
        if (!err && ndims != in->ndims) {
            free_dims(dims, ndims);
            err = tsl_diag_set(d, TSL_ECORRUPT,
                               "store %s: item '%s' has %zu dimension values, its data set %zu",
                               q->s->location, it->id, ndims, in->ndims);
        }
        if (!err)
            *index = cache_add(c, it, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 2),
                               sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4), dims);
        sqlite3_reset(st);
        return err;
    }
    /* A new item: its first row (the earliest) opens its span. */
    int64_t t0 = in->rows[it->first].t;
    char *dj = tsl_sq_strv_json(it->dims, in->ndims);
    if (!(err = tsl_sq_prepare(q, SQL_ITEM_INSERT, &st, d))) {
        tsl_sq_bind_int(q, st, 1, in->dataset_id);
        tsl_sq_bind_text(q, st, 2, it->id);
        tsl_sq_bind_text(q, st, 3, dj);
        tsl_sq_bind_int(q, st, 4, t0);
        tsl_sq_bind_int(q, st, 5, bs->now);
        err = tsl_sq_exec(q, st, d);
    }
    tsl_free(dj);
    if (err) return err;
    char **dims = tsl_calloc(in->ndims ? in->ndims : 1, sizeof *dims);
    for (size_t j = 0; j < in->ndims; j++) dims[j] = tsl_strdup(it->dims[j]);
    *index = cache_add(c, it, sqlite3_last_insert_rowid(q->db), 0, t0, t0, dims);
    uint64_t h[4];
    tsl_sto_item_hash(it->key, it->dims, in->ndims, h);
    tsl_sto_hash_add(bs->acc, h);
    in->batch.new_items++;
    bs->items++;
    return TSL_OK;
}

/* Reads the stored points of item pk in [lo, hi] into the ingest's range arrays. */
static tsl_err read_range(sq *q, sq_ingest *c, int64_t pk, int64_t lo, int64_t hi, size_t *n,
                          tsl_diag *d) {
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    *n = 0;
    if ((err = tsl_sq_prepare(q, SQL_OBS_RANGE, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, pk);
    tsl_sq_bind_int(q, st, 2, lo);
    tsl_sq_bind_int(q, st, 3, hi);
    while (!(err = tsl_sq_step(q, st, &row, d)) && row) {
        if (*n == c->rcap) {
            c->rcap = c->rcap ? 2 * c->rcap : 1024;
            c->rt = tsl_reallocarray(c->rt, c->rcap, sizeof *c->rt);
            c->rv = tsl_reallocarray(c->rv, c->rcap, sizeof *c->rv);
        }
        c->rt[*n] = sqlite3_column_int64(st, 0);
        c->rv[*n] = tsl_sq_col_double(st, 1);
        (*n)++;
    }
    return err;
}

/* The stored value at (pk, t) by a point lookup: *exists and *old. */
static tsl_err read_point(sq *q, int64_t pk, int64_t t, int *exists, double *old, tsl_diag *d) {
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_OBS_GET, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, pk);
    tsl_sq_bind_int(q, st, 2, t);
    if ((err = tsl_sq_step(q, st, &row, d))) return err;
    *exists = row;
    if (row) *old = tsl_sq_col_double(st, 0);
    sqlite3_reset(st);
    return TSL_OK;
}

/* Writes the pending inserts: whole chunks of INSERT_CHUNK, then of 8 rows, through multi-row
 * statements (one statement step for many rows saves most of SQLite's per-statement work), the
 * rest one by one. Called before any other statement touches observations, and after each
 * item. */
static tsl_err flush_inserts(sq *q, const tsl_store_ingest *in, tsl_diag *d) {
    sq_ingest *c = in->be;
    sqlite3_stmt *st;
    tsl_err err;
    size_t i = 0;
    while (i < c->npend) {
        size_t left = c->npend - i, k = left >= INSERT_CHUNK ? INSERT_CHUNK : left >= 8 ? 8 : 1;
        const char *sql = k == INSERT_CHUNK ? SQL_OBS_INSERT_CHUNK
                          : k == 8          ? SQL_OBS_INSERT_8
                                            : SQL_OBS_INSERT;
        if ((err = tsl_sq_prepare(q, sql, &st, d))) return err;
        for (size_t j = 0; j < k; j++, i++) {
            int at = 4 * (int)j;
            tsl_sq_bind_int(q, st, at + 1, c->pend_pk);
            tsl_sq_bind_int(q, st, at + 2, c->pend_t[i]);
            tsl_sq_bind_double(q, st, at + 3, c->pend_v[i]);
            tsl_sq_bind_int(q, st, at + 4, in->id);
        }
        if ((err = tsl_sq_exec(q, st, d))) return err;
    }
    c->npend = 0;
    return TSL_OK;
}

/* Queues an insert of (pk, t, v), writing a full chunk. */
static tsl_err queue_insert(sq *q, const tsl_store_ingest *in, int64_t pk, int64_t t, double v,
                            tsl_diag *d) {
    sq_ingest *c = in->be;
    assert(c->npend == 0 || c->pend_pk == pk);
    c->pend_pk = pk;
    c->pend_t[c->npend] = t;
    c->pend_v[c->npend] = v;
    return ++c->npend == INSERT_CHUNK ? flush_inserts(q, in, d) : TSL_OK;
}

/* Replaces the stored value old of (pk, r->t) with r->v and keeps old as a revision. */
static tsl_err update_row(sq *q, const tsl_store_ingest *in, int64_t pk, const tsl_ingest_row *r,
                          double old, int64_t now, tsl_diag *d) {
    sqlite3_stmt *st;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_OBS_UPDATE, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, pk);
    tsl_sq_bind_int(q, st, 2, r->t);
    tsl_sq_bind_double(q, st, 3, r->v);
    tsl_sq_bind_int(q, st, 4, in->id);
    if ((err = tsl_sq_exec(q, st, d))) return err;
    if ((err = tsl_sq_prepare(q, SQL_REV_INSERT, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, pk);
    tsl_sq_bind_int(q, st, 2, r->t);
    tsl_sq_bind_double(q, st, 3, old);
    tsl_sq_bind_double(q, st, 4, r->v);
    tsl_sq_bind_int(q, st, 5, in->id);
    tsl_sq_bind_int(q, st, 6, now);
    return tsl_sq_exec(q, st, d);
}

/* Widens the span of item pk in ingest in (ingest_spans) to cover [lo, hi], the times of the
 * points one item run of a batch wrote. It runs in the batch's transaction, so a batch that
 * rolls back (or a crash before its commit) leaves the spans of the committed batches. */
static tsl_err span_upsert(sq *q, const tsl_store_ingest *in, int64_t pk, int64_t lo, int64_t hi,
                           tsl_diag *d) {
    sqlite3_stmt *st;
    tsl_err err;
    assert(lo <= hi);
    if ((err = tsl_sq_prepare(q, SQL_SPAN_UPSERT, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, in->id);
    tsl_sq_bind_int(q, st, 2, pk);
    tsl_sq_bind_int(q, st, 3, lo);
    tsl_sq_bind_int(q, st, 4, hi);
    return tsl_sq_exec(q, st, d);
}

/* Rejects row r for being off its item's grid. */
static void reject_off_grid(tsl_store_ingest *in, const tsl_ingest_item *it,
                            const tsl_ingest_row *r, int64_t origin) {
    char when[40], first[40], freq[32], reason[TSL_DIAG_MAX];
    tsl_time_format(r->t, 0, when, sizeof when);
    tsl_time_format(origin, 0, first, sizeof first);
    tsl_freq_describe(in->freq, freq, sizeof freq);
    snprintf(reason, sizeof reason,
             "timestamp %s is not on item '%.200s''s %s grid (its first timestamp is %s)", when,
             it->id, freq, first);
    tsl_sto_result_reject(&in->batch, r->line, reason);
}

/* Applies the rows of batch item bi (one run, in time order). */
static tsl_err apply_item(sq *q, tsl_store_ingest *in, size_t bi, batch_state *bs, tsl_diag *d) {
    sq_ingest *c = in->be;
    const tsl_ingest_item *it = &in->items[bi];
    const tsl_ingest_row *rows = in->rows;
    size_t first = it->first, end = it->end, ei = 0;
    tsl_ingest_result *res = &in->batch;
    tsl_err err;
    if ((err = find_item(q, in, it, bs, &ei, d))) return err;
    /* The stored state before this batch touches it. */
    int64_t pk = c->ents[ei].pk, n0 = c->ents[ei].n;
    int64_t lo0 = c->ents[ei].t_min, hi0 = c->ents[ei].t_max;
    int64_t origin = n0 > 0 ? lo0 : rows[first].t;
    int base_conflict = in->ndims && !dims_same(c->ents[ei].dims, it->dims, in->ndims);

    /* Rows that may meet a stored point: t in [lo0, hi0], a contiguous run [a, b). */
    size_t a = end, b = end;
    if (n0 > 0) {
        for (a = first; a < end && rows[a].t < lo0; a++) {}
        for (b = a; b < end && rows[b].t <= hi0; b++) {}
    }
    int range = 0;
    size_t rn = 0, rp = 0;
    if (b > a) {
        double span = (double)rows[b - 1].t - (double)rows[a].t + 1;
        double all = (double)hi0 - (double)lo0 + 1;
        if ((double)n0 * span / all <= RANGE_RATIO * (double)(b - a) + RANGE_SLACK) {
            range = 1;
            if ((err = read_range(q, c, pk, rows[a].t, rows[b - 1].t, &rn, d))) return err;
        }
    }
    int have_prev = 0, wrote = 0;
    int64_t prev_t = 0, w_min = 0, w_max = 0; /* the span of the points written, when wrote */
    double prev_v = 0;
    for (size_t j = first; j < end; j++) {
        const tsl_ingest_row *r = &rows[j];
        int64_t k = 0;
        if (in->freq.unit != TSL_FREQ_NONE && r->t != origin &&
            tsl_freq_steps(in->freq, origin, r->t, &k) != TSL_OK) {
            reject_off_grid(in, it, r, origin);
            continue;
        }
        if (r->dims ? !dims_same(c->ents[ei].dims, r->dims, in->ndims) : base_conflict)
            res->dim_conflicts++;
        int exists = 0;
        double old = NAN;
        if (have_prev && prev_t == r->t) {
            exists = 1; /* a repeated (item, timestamp) in the batch: the last row wins */
            old = prev_v;
        } else if (j >= a && j < b) {
            if (range) {
                while (rp < rn && c->rt[rp] < r->t) rp++;
                if (rp < rn && c->rt[rp] == r->t) {
                    exists = 1;
                    old = c->rv[rp];
                }
            } else if ((err = flush_inserts(q, in, d)) ||
                       (err = read_point(q, pk, r->t, &exists, &old, d))) {
                return err;
            }
        }
        uint64_t h[4];
        if (!exists) {
            if ((err = queue_insert(q, in, pk, r->t, r->v, d))) return err;
            res->inserted++;
            bs->obs++;
            cent *e = &c->ents[ei];
            e->n++;
            if (r->t < e->t_min) e->t_min = r->t;
            if (r->t > e->t_max) e->t_max = r->t;
            if (!e->touched) {
                e->touched = 1;
                c->touched = sq_grow(c->touched, &c->touched_cap, c->ntouched, sizeof *c->touched);
                c->touched[c->ntouched++] = ei;
            }
            tsl_sto_obs_hash(it->key, r->t, r->v, h);
            tsl_sto_hash_add(bs->acc, h);
        } else if (same_value(old, r->v)) {
            res->unchanged++;
        } else {
            if ((err = flush_inserts(q, in, d)) ||
                (err = update_row(q, in, pk, r, old, bs->now, d)))
                return err;
            res->updated++;
            tsl_sto_obs_hash(it->key, r->t, old, h);
            tsl_sto_hash_sub(bs->acc, h);
            tsl_sto_obs_hash(it->key, r->t, r->v, h);
            tsl_sto_hash_add(bs->acc, h);
        }
        if (!exists || !same_value(old, r->v)) {
            if (!wrote || r->t < w_min) w_min = r->t;
            if (!wrote || r->t > w_max) w_max = r->t;
            wrote = 1;
        }
        have_prev = 1;
        prev_t = r->t;
        prev_v = r->v;
    }
    if ((err = flush_inserts(q, in, d))) return err;
    if (wrote && (err = span_upsert(q, in, pk, w_min, w_max, d))) return err;
    const cent *e = &c->ents[ei];
    if (e->n > 0) {
        if (!bs->has_span || e->t_min < bs->t_min) bs->t_min = e->t_min;
        if (!bs->has_span || e->t_max > bs->t_max) bs->t_max = e->t_max;
        bs->has_span = 1;
    }
    return TSL_OK;
}

/* Writes the rejections of r into ingest_rejects while fewer than TSL_STORE_REJECTS_KEPT are
 * kept; *kept counts them. */
static tsl_err write_rejects(sq *q, const tsl_store_ingest *in, const tsl_ingest_result *r,
                             size_t *kept, tsl_diag *d) {
    sqlite3_stmt *st;
    tsl_err err = TSL_OK;
    for (size_t i = 0; i < r->nrejects && *kept < TSL_STORE_REJECTS_KEPT; i++, (*kept)++) {
        if ((err = tsl_sq_prepare(q, SQL_REJECT_INSERT, &st, d))) return err;
        tsl_sq_bind_int(q, st, 1, in->id);
        tsl_sq_bind_int(q, st, 2, (int64_t)r->rejects[i].line);
        tsl_sq_bind_text(q, st, 3, r->rejects[i].reason);
        if ((err = tsl_sq_exec(q, st, d))) return err;
    }
    return err;
}

/* The transaction of tsl_sq_ingest_batch: every item's run, then the items', the data set's
 * and the record's counters and the rejections, all or nothing. */
static tsl_err batch_body(sq *q, void *vctx, tsl_diag *d) {
    tsl_store_ingest *in = vctx;
    sq_ingest *c = in->be;
    tsl_ingest_result *res = &in->batch;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    batch_state bs;
    memset(&bs, 0, sizeof bs);
    tsl_sto_result_clear(res);
    c->ntouched = 0;
    c->npend = 0;
    bs.now = tsl_sto_now(q->s);

    if ((err = tsl_sq_prepare(q, SQL_DS_STATE, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, in->dataset_id);
    if ((err = tsl_sq_step(q, st, &row, d))) return err;
    if (!row)
        return tsl_diag_set(d, TSL_ENOTFOUND, "store %s: data set '%s' is gone", q->s->location,
                            in->dataset);
    int64_t rev = sqlite3_column_int64(st, 0);
    read_lanes(st, 1, bs.acc);
    bs.items = sqlite3_column_int64(st, 5);
    bs.obs = sqlite3_column_int64(st, 6);
    if (sqlite3_column_type(st, 7) != SQLITE_NULL) {
        bs.has_span = 1;
        bs.t_min = sqlite3_column_int64(st, 7);
        bs.t_max = sqlite3_column_int64(st, 8);
    }
    sqlite3_reset(st);
    /* Someone else wrote to the data set since our last batch: what we cached may be stale. */
    if (rev != c->rev) cache_clear_items(c, in->ndims);

    for (size_t bi = 0; bi < in->nitems; bi++)
        if ((err = apply_item(q, in, bi, &bs, d))) return err;

    for (size_t i = 0; i < c->ntouched; i++) {
        cent *e = &c->ents[c->touched[i]];
        e->touched = 0;
        if ((err = tsl_sq_prepare(q, SQL_ITEM_UPDATE, &st, d))) return err;
        tsl_sq_bind_int(q, st, 1, e->pk);
        tsl_sq_bind_int(q, st, 2, e->n);
        tsl_sq_bind_int(q, st, 3, e->t_min);
        tsl_sq_bind_int(q, st, 4, e->t_max);
        if ((err = tsl_sq_exec(q, st, d))) return err;
    }
    c->ntouched = 0;
    if ((err = tsl_sq_prepare(q, SQL_DS_UPDATE, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, in->dataset_id);
    tsl_sq_bind_int(q, st, 2, bs.items);
    tsl_sq_bind_int(q, st, 3, bs.obs);
    if (bs.has_span) {
        tsl_sq_bind_int(q, st, 4, bs.t_min);
        tsl_sq_bind_int(q, st, 5, bs.t_max);
    } else {
        tsl_sq_bind_null(q, st, 4);
        tsl_sq_bind_null(q, st, 5);
    }
    for (int j = 0; j < 4; j++) tsl_sq_bind_int(q, st, 6 + j, (int64_t)bs.acc[j]);
    tsl_sq_bind_int(q, st, 10, bs.now);
    if ((err = tsl_sq_exec(q, st, d))) return err;

    const tsl_store_receipt *rc = &in->receipt;
    const tsl_ingest_result *p = &in->pending;
    uint64_t rejected = rc->rejected + p->rejected + res->rejected;
    if (in->max_rejects && rejected > in->max_rejects)
        return tsl_diag_set(
            d, TSL_EPARSE,
            "ingest into '%s': more than %llu rows rejected; the last, line "
            "%llu: %s",
            in->dataset, (unsigned long long)in->max_rejects,
            (unsigned long long)(res->nrejects ? res->rejects[res->nrejects - 1].line : 0),
            res->nrejects ? res->rejects[res->nrejects - 1].reason : "");
    size_t kept = rc->nrejects;
    if ((err = write_rejects(q, in, p, &kept, d)) || (err = write_rejects(q, in, res, &kept, d)))
        return err;
    tsl_sto_hash_hex(bs.acc, res->hash);
    if ((err = tsl_sq_prepare(q, SQL_INGEST_COUNTS, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, in->id);
    tsl_sq_bind_int(q, st, 2, (int64_t)(rc->inserted + res->inserted));
    tsl_sq_bind_int(q, st, 3, (int64_t)(rc->updated + res->updated));
    tsl_sq_bind_int(q, st, 4, (int64_t)(rc->unchanged + res->unchanged));
    tsl_sq_bind_int(q, st, 5, (int64_t)rejected);
    tsl_sq_bind_int(q, st, 6, (int64_t)(rc->new_items + res->new_items));
    tsl_sq_bind_int(q, st, 7, (int64_t)(rc->dim_conflicts + res->dim_conflicts));
    tsl_sq_bind_text(q, st, 8, res->hash);
    tsl_sq_bind_int(q, st, 9, bs.now);
    if ((err = tsl_sq_exec(q, st, d))) return err;
    c->next_rev = rev + 1;
    return TSL_OK;
}

/* After a rolled-back batch: the cache may hold what the rollback undid. */
static void batch_rollback(void *vctx) {
    tsl_store_ingest *in = vctx;
    sq_ingest *c = in->be;
    cache_clear_items(c, in->ndims);
    c->rev = -1;
    c->npend = 0;
}

tsl_err tsl_sq_ingest_batch(tsl_store *s, tsl_store_ingest *in, tsl_diag *d) {
    if (!in->be) {
        sq_ingest *c = tsl_calloc(1, sizeof *c);
        c->rev = -1;
        in->be = c;
    }
    sq_ingest *c = in->be;
    tsl_err err = tsl_sq_tx(sq_of(s), 1, batch_body, batch_rollback, in, d);
    if (!err) c->rev = c->next_rev;
    return err;
}

void tsl_sq_ingest_drop(tsl_store_ingest *in) {
    sq_ingest *c = in->be;
    if (!c) return;
    cache_clear_items(c, in->ndims);
    tsl_free(c->ents);
    tsl_free(c->table);
    tsl_free(c->touched);
    tsl_free(c->rt);
    tsl_free(c->rv);
    tsl_free(c);
    in->be = NULL;
}

/* ---- ingest records ---- */

#define INGEST_COLS                                                                                \
    "i.id, d.name, i.source, i.who, i.status, i.error, i.started_ms, i.ended_ms, i.updated_ms, "   \
    "i.inserted, i.updated, i.unchanged, i.rejected, i.new_items, i.dim_conflicts, i.hash, "       \
    "i.owner_host, i.owner_boot, i.owner_pid, i.owner_start"

static const char SQL_INGEST_GET[] =
    "SELECT " INGEST_COLS " FROM ingests i JOIN datasets d ON d.id = i.dataset_id WHERE i.id = ?1";
static const char SQL_INGEST_LIST[] =
    "SELECT " INGEST_COLS " FROM ingests i JOIN datasets d ON d.id = i.dataset_id "
    "WHERE ?1 IS NULL OR d.name = ?1 ORDER BY i.id DESC LIMIT ?2";
static const char SQL_REJECTS_OF[] =
    "SELECT line, reason FROM ingest_rejects WHERE ingest_id = ?1 ORDER BY id";

/* An ingest row (INGEST_COLS) into out; a running ingest whose process is gone reads as
 * interrupted. */
static void read_ingest(sq *q, sqlite3_stmt *st, tsl_store_ingest_info *out) {
    memset(out, 0, sizeof *out);
    out->id = sqlite3_column_int64(st, 0);
    out->dataset = tsl_sq_col_str(st, 1);
    out->source = tsl_sq_col_str(st, 2);
    out->who = tsl_sq_col_str(st, 3);
    const char *status = (const char *)sqlite3_column_text(st, 4);
    out->status = !strcmp(status, "complete") ? TSL_INGEST_COMPLETE
                  : !strcmp(status, "failed") ? TSL_INGEST_FAILED
                                              : TSL_INGEST_RUNNING;
    out->error = tsl_sq_col_str(st, 5);
    out->started_ms = sqlite3_column_int64(st, 6);
    out->ended_ms = sqlite3_column_int64(st, 7);
    int64_t updated = sqlite3_column_int64(st, 8);
    tsl_store_receipt *r = &out->receipt;
    r->ingest_id = out->id;
    r->inserted = (uint64_t)sqlite3_column_int64(st, 9);
    r->updated = (uint64_t)sqlite3_column_int64(st, 10);
    r->unchanged = (uint64_t)sqlite3_column_int64(st, 11);
    r->rejected = (uint64_t)sqlite3_column_int64(st, 12);
    r->new_items = (uint64_t)sqlite3_column_int64(st, 13);
    r->dim_conflicts = (uint64_t)sqlite3_column_int64(st, 14);
    r->read = r->inserted + r->updated + r->unchanged + r->rejected;
    const char *hash = (const char *)sqlite3_column_text(st, 15);
    tsl_strlcpy(r->hash, hash ? hash : "", sizeof r->hash);
    /* An ingest renews nothing but its record, once a batch: a lease of one lease period
     * after its last batch. */
    if (out->status == TSL_INGEST_RUNNING &&
        tsl_sto_owner_dead(q->s, (const char *)sqlite3_column_text(st, 16),
                           (const char *)sqlite3_column_text(st, 17), sqlite3_column_int64(st, 18),
                           sqlite3_column_int64(st, 19), updated + q->s->lease_ms,
                           tsl_sto_now(q->s)))
        out->status = TSL_INGEST_INTERRUPTED;
}

typedef struct ingest_get_ctx {
    int64_t id;
    tsl_store_ingest_info *out;
} ingest_get_ctx;

/* Drops a partial record after a rollback. */
static void ingest_get_clear(void *vctx) {
    ingest_get_ctx *c = vctx;
    tsl_store_ingest_info_release(c->out);
}

/* The transaction of tsl_sq_ingest_get: the record and its kept rejections. */
static tsl_err ingest_get_body(sq *q, void *vctx, tsl_diag *d) {
    ingest_get_ctx *c = vctx;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_INGEST_GET, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, c->id);
    if ((err = tsl_sq_step(q, st, &row, d))) return err;
    if (!row)
        return tsl_diag_set(d, TSL_ENOTFOUND, "store %s: no ingest %lld", q->s->location,
                            (long long)c->id);
    read_ingest(q, st, c->out);
    sqlite3_reset(st);
    tsl_store_receipt *r = &c->out->receipt;
    size_t cap = 0;
    if ((err = tsl_sq_prepare(q, SQL_REJECTS_OF, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, c->id);
    while (!(err = tsl_sq_step(q, st, &row, d)) && row) {
        r->rejects = sq_grow(r->rejects, &cap, r->nrejects, sizeof *r->rejects);
        r->rejects[r->nrejects].line = (uint64_t)sqlite3_column_int64(st, 0);
        r->rejects[r->nrejects].reason = tsl_sq_col_str(st, 1);
        r->nrejects++;
    }
    return err;
}

tsl_err tsl_sq_ingest_get(tsl_store *s, int64_t id, tsl_store_ingest_info *out, tsl_diag *d) {
    ingest_get_ctx c = {id, out};
    return tsl_sq_tx(sq_of(s), 0, ingest_get_body, ingest_get_clear, &c, d);
}

typedef struct ingest_list_ctx {
    const char *dataset;
    size_t limit;
    tsl_store_ingest_info *v;
    size_t n, cap;
} ingest_list_ctx;

/* Drops a partial listing after a rollback. */
static void ingest_list_clear(void *vctx) {
    ingest_list_ctx *c = vctx;
    tsl_store_ingest_info_list_free(c->v, c->n);
    c->v = NULL;
    c->n = c->cap = 0;
}

/* The transaction of tsl_sq_ingest_list. */
static tsl_err ingest_list_body(sq *q, void *vctx, tsl_diag *d) {
    ingest_list_ctx *c = vctx;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_INGEST_LIST, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, c->dataset);
    tsl_sq_bind_int(q, st, 2, c->limit ? (int64_t)c->limit : -1);
    while (!(err = tsl_sq_step(q, st, &row, d)) && row) {
        c->v = sq_grow(c->v, &c->cap, c->n, sizeof *c->v);
        read_ingest(q, st, &c->v[c->n++]);
    }
    return err;
}

tsl_err tsl_sq_ingest_list(tsl_store *s, const char *dataset, size_t limit,
                           tsl_store_ingest_info **out, size_t *n, tsl_diag *d) {
    ingest_list_ctx c = {dataset, limit, NULL, 0, 0};
    tsl_err err = tsl_sq_tx(sq_of(s), 0, ingest_list_body, ingest_list_clear, &c, d);
    if (err) return err;
    *out = c.v;
    *n = c.n;
    return TSL_OK;
}

/* ---- revisions ---- */

static const char SQL_REVISIONS[] =
    "SELECT r.id, i.item_id, r.t, r.old_value, r.new_value, r.ingest_id, r.at_ms "
    "FROM revisions r JOIN items i ON i.id = r.item "
    "WHERE i.dataset_id = ?1 AND (?2 IS NULL OR i.item_id = ?2) AND r.id > ?3 "
    "ORDER BY r.id LIMIT ?4";

typedef struct rev_ctx {
    const char *dataset, *item;
    int64_t after;
    size_t limit;
    tsl_store_revision *v;
    size_t n, cap;
} rev_ctx;

/* Drops a partial listing after a rollback. */
static void rev_clear(void *vctx) {
    rev_ctx *c = vctx;
    tsl_store_revision_list_free(c->v, c->n);
    c->v = NULL;
    c->n = c->cap = 0;
}

/* The transaction of tsl_sq_revision_list. */
static tsl_err rev_body(sq *q, void *vctx, tsl_diag *d) {
    rev_ctx *c = vctx;
    tsl_store_dataset ds;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if ((err = find_dataset(q, c->dataset, &ds, d))) return err;
    int64_t id = ds.id;
    tsl_store_dataset_release(&ds);
    if ((err = tsl_sq_prepare(q, SQL_REVISIONS, &st, d))) return err;
    tsl_sq_bind_int(q, st, 1, id);
    tsl_sq_bind_text(q, st, 2, c->item);
    tsl_sq_bind_int(q, st, 3, c->after);
    tsl_sq_bind_int(q, st, 4, c->limit ? (int64_t)c->limit : -1);
    while (!(err = tsl_sq_step(q, st, &row, d)) && row) {
        c->v = sq_grow(c->v, &c->cap, c->n, sizeof *c->v);
        tsl_store_revision *r = &c->v[c->n++];
        r->id = sqlite3_column_int64(st, 0);
        r->item_id = tsl_sq_col_str(st, 1);
        r->t = sqlite3_column_int64(st, 2);
        r->old_value = tsl_sq_col_double(st, 3);
        r->new_value = tsl_sq_col_double(st, 4);
        r->ingest_id = sqlite3_column_int64(st, 5);
        r->at_ms = sqlite3_column_int64(st, 6);
    }
    return err;
}

tsl_err tsl_sq_revision_list(tsl_store *s, const char *dataset, const char *item, int64_t after_id,
                             size_t limit, tsl_store_revision **out, size_t *n, tsl_diag *d) {
    rev_ctx c = {dataset, item, after_id, limit, NULL, 0, 0};
    tsl_err err = tsl_sq_tx(sq_of(s), 0, rev_body, rev_clear, &c, d);
    if (err) return err;
    *out = c.v;
    *n = c.n;
    return TSL_OK;
}
