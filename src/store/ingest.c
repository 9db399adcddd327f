/*
 * ingest.c - the front end of upserting observations (see store.h): rows in, batches out.
 *
 * Rows arrive one at a time (from tsl_csv_next, whose strings live only until the next row) and
 * are copied into the batch in progress: a per-batch arena holds item ids and dimension values,
 * a small open-addressing table interns each distinct item once per batch (a row whose item is
 * the previous row's skips even that), and rows are 40-byte records. When the batch is full -
 * or at the end - it is sorted by (item, time, position), so that each item's rows are one
 * ordered run and a repeated (item, timestamp) keeps file order, and handed to the back end,
 * which applies it in one transaction (src/store/sqlite_data.c: a merge of each run against the
 * stored range, then writes). Only once the back end says the batch committed are its counts
 * and rejections merged into the receipt; a batch that failed leaves the receipt as it was.
 *
 * Batches bound the write lock: at the default 65,536 rows a batch holds it for a few tens of
 * milliseconds, so two ingests, a training run and a query interleave instead of waiting for
 * one another, and a crash loses at most the batch in progress - which re-ingesting the file
 * repairs, since upserts are idempotent.
 */
#include "store/store_impl.h"

#include <math.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/text.h"
#include "tsloop/buf.h"
#include "tsloop/mem.h"

#define DEFAULT_BATCH  65536
#define MAX_BATCH      ((size_t)1 << 22)
#define ARENA_BLOCK    ((size_t)256 << 10)
#define MAX_BATCH_ITEM UINT32_MAX

struct tsl_ingest_block {
    struct tsl_ingest_block *next;
    size_t used, cap;
    alignas(max_align_t) char data[];
};

/* n bytes from the batch arena, aligned for pointers; valid until the batch is reset. */
static void *arena_alloc(tsl_store_ingest *in, size_t n) {
    tsl_ingest_block *b = in->arena;
    size_t at = b ? (b->used + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1) : 0;
    if (!b || at > b->cap || b->cap - at < n) {
        size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
        b = tsl_malloc(sizeof *b + cap);
        b->next = in->arena;
        b->used = 0;
        b->cap = cap;
        in->arena = b;
        at = 0;
    }
    b->used = at + n;
    return b->data + at;
}

/* A NUL-terminated copy of s[0..n) in the batch arena. */
static char *arena_strndup(tsl_store_ingest *in, const char *s, size_t n) {
    char *p = arena_alloc(in, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* Frees every arena block. */
static void arena_free(tsl_store_ingest *in) {
    tsl_ingest_block *b = in->arena;
    while (b) {
        tsl_ingest_block *next = b->next;
        tsl_free(b);
        b = next;
    }
    in->arena = NULL;
}

/* Hash of an item id for the batch's table (any good mix will do: it never leaves memory). */
static uint64_t table_hash(const char *s, size_t n) {
    uint64_t h = UINT64_C(0xcbf29ce484222325) ^ n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * UINT64_C(0xbf58476d1ce4e5b9);
        h ^= h >> 29;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * UINT64_C(0x94d049bb133111eb);
    return h ^ (h >> 31);
}

/* Doubles the item table (1024 slots at first) and reinserts the batch's items. */
static void table_grow(tsl_store_ingest *in) {
    size_t cap = in->table_cap ? in->table_cap * 2 : 1024;
    uint32_t *t = tsl_calloc(cap, sizeof *t);
    for (size_t i = 0; i < in->nitems; i++) {
        size_t k = (size_t)in->items[i].h & (cap - 1);
        while (t[k]) k = (k + 1) & (cap - 1);
        t[k] = (uint32_t)(i + 1);
    }
    tsl_free(in->table);
    in->table = t;
    in->table_cap = cap;
}

/* Empties the batch: rows, items, table and arena (keeping the arrays' capacity). */
static void batch_reset(tsl_store_ingest *in) {
    in->nrows = 0;
    in->nitems = 0;
    if (in->table) memset(in->table, 0, in->table_cap * sizeof *in->table);
    in->prev = UINT32_MAX;
    arena_free(in);
}

/* Whether dims[0..ndims) (in the rows' order, through dim_map) equal the item's. */
static int dims_equal(const tsl_store_ingest *in, const tsl_ingest_item *it,
                      const tsl_csv_row *row) {
    for (size_t j = 0; j < in->ndims; j++) {
        size_t k = in->dim_map[j];
        if (strncmp(it->dims[j], row->dims[k], row->dim_lens[k]) || it->dims[j][row->dim_lens[k]])
            return 0;
    }
    return 1;
}

/* The row's dimension values in the data set's order, copied into the arena. */
static const char **copy_dims(tsl_store_ingest *in, const tsl_csv_row *row) {
    if (!in->ndims) return NULL;
    const char **v = arena_alloc(in, in->ndims * sizeof *v);
    for (size_t j = 0; j < in->ndims; j++) {
        size_t k = in->dim_map[j];
        v[j] = arena_strndup(in, row->dims[k], row->dim_lens[k]);
    }
    return v;
}

/* The batch item of row's item, adding it (with the row's dims) when new. */
static uint32_t intern_item(tsl_store_ingest *in, const tsl_csv_row *row) {
    if (in->prev != UINT32_MAX) {
        const tsl_ingest_item *it = &in->items[in->prev];
        if (it->len == row->item_len && !memcmp(it->id, row->item, it->len)) return in->prev;
    }
    if ((in->nitems + 1) * 2 > in->table_cap) table_grow(in);
    uint64_t h = table_hash(row->item, row->item_len);
    size_t mask = in->table_cap - 1, k = (size_t)h & mask;
    for (; in->table[k]; k = (k + 1) & mask) {
        const tsl_ingest_item *it = &in->items[in->table[k] - 1];
        if (it->h == h && it->len == row->item_len && !memcmp(it->id, row->item, it->len))
            return in->prev = in->table[k] - 1;
    }
    if (in->nitems == in->items_cap) {
        in->items_cap = in->items_cap ? 2 * in->items_cap : 256;
        in->items = tsl_reallocarray(in->items, in->items_cap, sizeof *in->items);
    }
    tsl_ingest_item *it = &in->items[in->nitems];
    memset(it, 0, sizeof *it);
    it->id = arena_strndup(in, row->item, row->item_len);
    it->len = row->item_len;
    it->h = h;
    tsl_sto_item_key(it->id, it->len, it->key);
    it->dims = copy_dims(in, row);
    in->table[k] = (uint32_t)(in->nitems + 1);
    return in->prev = (uint32_t)in->nitems++;
}

/* Order of rows: item, time, position in the batch. */
static int cmp_row(const void *a, const void *b) {
    const tsl_ingest_row *x = a, *y = b;
    if (x->item != y->item) return x->item < y->item ? -1 : 1;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Whether rows[0..n) are already in cmp_row order (files usually list an item's rows in time
 * order, items one after the other). */
static int rows_sorted(const tsl_ingest_row *rows, size_t n) {
    for (size_t i = 1; i < n; i++)
        if (cmp_row(&rows[i - 1], &rows[i]) > 0) return 0;
    return 1;
}

/* Sorts the batch into cmp_row order: a stable counting sort groups the rows by item in O(n)
 * (a file ordered by time, then item, would otherwise cost a comparison sort of the whole
 * batch), then each item's run is sorted by time only when it is not already. */
static void sort_rows(tsl_store_ingest *in) {
    size_t ni = in->nitems, n = in->nrows;
    in->counts = tsl_reallocarray(in->counts, in->items_cap + 1, sizeof *in->counts);
    in->sorted = tsl_reallocarray(in->sorted, in->rows_cap, sizeof *in->sorted);
    memset(in->counts, 0, (ni + 1) * sizeof *in->counts);
    for (size_t r = 0; r < n; r++) in->counts[in->rows[r].item + 1]++;
    for (size_t i = 0; i < ni; i++) in->counts[i + 1] += in->counts[i];
    for (size_t r = 0; r < n; r++) in->sorted[in->counts[in->rows[r].item]++] = in->rows[r];
    tsl_ingest_row *t = in->rows;
    in->rows = in->sorted;
    in->sorted = t;
    for (size_t a = 0; a < n;) {
        size_t b = a + 1;
        while (b < n && in->rows[b].item == in->rows[a].item) b++;
        if (!rows_sorted(in->rows + a, b - a))
            qsort(in->rows + a, b - a, sizeof *in->rows, cmp_row);
        a = b;
    }
}

/* Moves a committed result's counts and rejections into the receipt (keeping the first
 * TSL_STORE_REJECTS_KEPT reasons) and clears it. */
static void merge_result(tsl_store_ingest *in, tsl_ingest_result *r) {
    tsl_store_receipt *rc = &in->receipt;
    rc->inserted += r->inserted;
    rc->updated += r->updated;
    rc->unchanged += r->unchanged;
    rc->rejected += r->rejected;
    rc->new_items += r->new_items;
    rc->dim_conflicts += r->dim_conflicts;
    rc->read = rc->inserted + rc->updated + rc->unchanged + rc->rejected;
    for (size_t i = 0; i < r->nrejects; i++) {
        if (rc->nrejects >= TSL_STORE_REJECTS_KEPT) break;
        if (!rc->rejects) rc->rejects = tsl_calloc(TSL_STORE_REJECTS_KEPT, sizeof *rc->rejects);
        rc->rejects[rc->nrejects].line = r->rejects[i].line;
        rc->rejects[rc->nrejects].reason = r->rejects[i].reason;
        r->rejects[i].reason = NULL;
        rc->nrejects++;
    }
    if (r->hash[0]) memcpy(rc->hash, r->hash, sizeof rc->hash);
    tsl_sto_result_clear(r);
}

/* Applies the batch in progress (and the pending rejections) in one transaction. */
static tsl_err flush(tsl_store_ingest *in, tsl_diag *d) {
    if (in->nrows == 0 && in->pending.rejected == 0) return TSL_OK;
    if (!rows_sorted(in->rows, in->nrows)) sort_rows(in);
    for (size_t i = 0; i < in->nitems; i++) in->items[i].first = in->items[i].end = 0;
    for (size_t r = 0; r < in->nrows;) {
        size_t e = r + 1;
        while (e < in->nrows && in->rows[e].item == in->rows[r].item) e++;
        in->items[in->rows[r].item].first = r;
        in->items[in->rows[r].item].end = e;
        r = e;
    }
    tsl_err err = in->s->vt->ingest_batch(in->s, in, d);
    if (err) {
        in->failed = 1;
        tsl_sto_result_clear(&in->batch);
        return err;
    }
    merge_result(in, &in->pending);
    merge_result(in, &in->batch);
    batch_reset(in);
    return TSL_OK;
}

/* Records a rejected row for the next batch, failing the ingest past max_rejects. */
static tsl_err pend_reject(tsl_store_ingest *in, uint64_t line, const char *reason, tsl_diag *d) {
    tsl_sto_result_reject(&in->pending, line, reason);
    uint64_t total = in->receipt.rejected + in->pending.rejected;
    if (in->max_rejects && total > in->max_rejects) {
        in->failed = 1;
        return tsl_diag_set(d, TSL_EPARSE,
                            "ingest into '%s': more than %llu rows rejected; the last, line "
                            "%llu: %s",
                            in->dataset, (unsigned long long)in->max_rejects,
                            (unsigned long long)line, reason);
    }
    return TSL_OK;
}

tsl_err tsl_sto_ingest_map_dims(tsl_store_ingest *in, char *const *ds_dims, size_t nds,
                                tsl_diag *d) {
    tsl_err err = TSL_OK;
    tsl_wbuf want, have;
    tsl_wbuf_init(&want);
    tsl_wbuf_init(&have);
    in->ndims = nds;
    tsl_free(in->dim_map);
    in->dim_map = tsl_calloc(nds ? nds : 1, sizeof *in->dim_map);
    int ok = nds == in->in_ndims;
    for (size_t j = 0; ok && j < nds; j++) {
        ok = 0;
        for (size_t k = 0; k < in->in_ndims && !ok; k++) {
            if (!strcmp(ds_dims[j], in->in_dims[k])) {
                in->dim_map[j] = k;
                ok = 1;
            }
        }
    }
    if (ok) goto out;
    for (size_t j = 0; j < nds; j++) tsl_wbuf_printf(&want, "%s'%s'", j ? ", " : "", ds_dims[j]);
    for (size_t k = 0; k < in->in_ndims; k++)
        tsl_wbuf_printf(&have, "%s'%s'", k ? ", " : "", in->in_dims[k]);
    err = tsl_diag_set(d, TSL_EINVAL,
                       "ingest into '%s': the data set's dimension columns are %s but the input "
                       "has %s",
                       in->dataset, nds ? tsl_wbuf_cstr(&want) : "none",
                       in->in_ndims ? tsl_wbuf_cstr(&have) : "none");
out:
    tsl_wbuf_release(&want);
    tsl_wbuf_release(&have);
    return err;
}

/* Frees an ingest and all it holds. */
static void ingest_free(tsl_store_ingest *in) {
    if (in->s->vt->ingest_drop) in->s->vt->ingest_drop(in);
    arena_free(in);
    tsl_free(in->items);
    tsl_free(in->rows);
    tsl_free(in->sorted);
    tsl_free(in->counts);
    tsl_free(in->table);
    tsl_free(in->dim_map);
    for (size_t k = 0; k < in->in_ndims; k++) tsl_free(in->in_dims[k]);
    tsl_free(in->in_dims);
    tsl_free(in->dataset);
    tsl_free(in->source);
    tsl_free(in->origin);
    tsl_free(in->file);
    tsl_free(in->who);
    tsl_store_receipt_release(&in->receipt);
    tsl_sto_result_clear(&in->pending);
    tsl_sto_result_clear(&in->batch);
    tsl_free(in);
}

tsl_err tsl_store_ingest_begin(tsl_store *s, const char *dataset, const char *const *dim_names,
                               size_t ndims, const tsl_store_ingest_opts *opts,
                               tsl_store_ingest **out, tsl_diag *d) {
    static const tsl_store_ingest_opts defaults;
    tsl_err err;
    tsl_store_ingest *in = NULL;
    *out = NULL;
    if (!opts) opts = &defaults;
    if ((err = tsl_sto_ready(s, d)) ||
        (err = tsl_sto_check_name(d, "data set", dataset, TSL_STORE_NAME_MAX, 0)) ||
        (err = tsl_sto_check_dims(d, dim_names, ndims)) ||
        (err = tsl_sto_check_text(d, "ingest source", opts->source, 4096)) ||
        (err = tsl_sto_check_text(d, "who", opts->who, 4096)) ||
        (err = tsl_sto_check_text(d, "ingest origin", opts->origin, 64)) ||
        (err = tsl_sto_check_text(d, "ingest file", opts->file, 4096)))
        return err;
    if (opts->batch_rows > MAX_BATCH)
        return tsl_diag_set(d, TSL_EINVAL, "ingest: batch_rows %zu: at most %zu", opts->batch_rows,
                            MAX_BATCH);
    in = tsl_calloc(1, sizeof *in);
    in->s = s;
    in->dataset = tsl_strdup(dataset);
    in->source = tsl_strdup(opts->source ? opts->source : "-");
    in->origin = tsl_strdup(opts->origin ? opts->origin : "cli");
    if (opts->file) in->file = tsl_strdup(opts->file);
    in->who = tsl_strdup(opts->who ? opts->who : "");
    in->batch_rows = opts->batch_rows ? opts->batch_rows : DEFAULT_BATCH;
    in->max_rejects = opts->max_rejects;
    in->create = opts->create;
    in->prev = UINT32_MAX;
    in->in_ndims = ndims;
    in->in_dims = tsl_calloc(ndims ? ndims : 1, sizeof *in->in_dims);
    for (size_t k = 0; k < ndims; k++) in->in_dims[k] = tsl_strdup(dim_names[k]);
    if ((err = s->vt->ingest_open(s, in, d))) goto out;
    *out = in;
    in = NULL;
out:
    if (in) ingest_free(in);
    return err;
}

tsl_err tsl_store_ingest_add(tsl_store_ingest *in, const tsl_csv_row *row, tsl_diag *d) {
    char q[TSL_TEXT_QUOTE_CAP], reason[TSL_DIAG_MAX];
    if (in->failed)
        return tsl_diag_set(d, TSL_EINVAL, "ingest into '%s': an earlier error ended it",
                            in->dataset);
    /* Rows from the reader are already valid; rows from elsewhere (the HTTP API) may not be. */
    if (!row->item || !row->item_len || memchr(row->item, '\0', row->item_len) ||
        !tsl_text_utf8_valid(row->item, row->item_len)) {
        snprintf(reason, sizeof reason, "item id %s: expected non-empty UTF-8 text",
                 tsl_text_quote(q, sizeof q, row->item ? row->item : "", row->item_len));
        return pend_reject(in, row->line, reason, d);
    }
    for (size_t j = 0; j < in->ndims; j++) {
        size_t k = in->dim_map[j];
        if (memchr(row->dims[k], '\0', row->dim_lens[k]) ||
            !tsl_text_utf8_valid(row->dims[k], row->dim_lens[k])) {
            snprintf(reason, sizeof reason, "dimension '%s' %s: expected UTF-8 text",
                     in->in_dims[k], tsl_text_quote(q, sizeof q, row->dims[k], row->dim_lens[k]));
            return pend_reject(in, row->line, reason, d);
        }
    }
    if (row->time < TSL_TIME_MIN || row->time > TSL_TIME_MAX) {
        snprintf(reason, sizeof reason, "timestamp %lld: outside the years 0000 to 9999",
                 (long long)row->time);
        return pend_reject(in, row->line, reason, d);
    }
    if (isinf(row->value)) {
        snprintf(reason, sizeof reason, "value %s: not a finite number",
                 row->value > 0 ? "inf" : "-inf");
        return pend_reject(in, row->line, reason, d);
    }
    if (in->nitems >= MAX_BATCH_ITEM) {
        tsl_err err = flush(in, d);
        if (err) return err;
    }
    uint32_t item = intern_item(in, row);
    if (in->nrows == in->rows_cap) {
        in->rows_cap = in->rows_cap ? 2 * in->rows_cap : 4096;
        if (in->rows_cap > in->batch_rows) in->rows_cap = in->batch_rows;
        in->rows = tsl_reallocarray(in->rows, in->rows_cap, sizeof *in->rows);
    }
    tsl_ingest_row *r = &in->rows[in->nrows];
    r->item = item;
    r->seq = (uint32_t)in->nrows;
    r->t = row->time;
    r->v = row->value == 0 ? 0.0 : row->value; /* -0 is 0 */
    r->line = row->line;
    r->dims = in->ndims && !dims_equal(in, &in->items[item], row) ? copy_dims(in, row) : NULL;
    in->nrows++;
    if (in->nrows >= in->batch_rows) return flush(in, d);
    return TSL_OK;
}

tsl_err tsl_store_ingest_reject(tsl_store_ingest *in, uint64_t line, const char *reason,
                                tsl_diag *d) {
    if (in->failed)
        return tsl_diag_set(d, TSL_EINVAL, "ingest into '%s': an earlier error ended it",
                            in->dataset);
    return pend_reject(in, line, reason && reason[0] ? reason : "rejected", d);
}

tsl_err tsl_store_ingest_end(tsl_store_ingest *in, tsl_store_receipt *receipt, tsl_diag *d) {
    tsl_err err = TSL_OK;
    memset(receipt, 0, sizeof *receipt);
    if (in->failed) {
        err =
            tsl_diag_set(d, TSL_EINVAL, "ingest into '%s': an earlier error ended it", in->dataset);
        goto out;
    }
    if ((err = flush(in, d)) || (err = in->s->vt->ingest_close(in->s, in, NULL, d))) goto out;
    in->receipt.ingest_id = in->id;
    *receipt = in->receipt;
    memset(&in->receipt, 0, sizeof in->receipt);
out:
    if (err) in->s->vt->ingest_close(in->s, in, d && d->msg[0] ? d->msg : tsl_err_str(err), NULL);
    ingest_free(in);
    return err;
}

void tsl_store_ingest_abort(tsl_store_ingest *in, const char *reason) {
    if (!in) return;
    in->s->vt->ingest_close(in->s, in, reason && reason[0] ? reason : "aborted", NULL);
    ingest_free(in);
}

tsl_err tsl_store_ingest_csv(tsl_store *s, const char *dataset, tsl_csv *csv,
                             const tsl_store_ingest_opts *opts, tsl_store_receipt *receipt,
                             tsl_diag *d) {
    tsl_err err;
    tsl_store_ingest *in = NULL;
    size_t ndims = tsl_csv_ndims(csv);
    const char **dims = tsl_calloc(ndims ? ndims : 1, sizeof *dims);
    memset(receipt, 0, sizeof *receipt);
    for (size_t k = 0; k < ndims; k++) dims[k] = tsl_csv_dim_name(csv, k);
    if ((err = tsl_store_ingest_begin(s, dataset, dims, ndims, opts, &in, d))) goto out;
    for (;;) {
        const tsl_csv_row *row = NULL;
        tsl_diag rd = {TSL_OK, {0}};
        err = tsl_csv_next(csv, &row, &rd);
        if (err == TSL_EPARSE) {
            if ((err = tsl_store_ingest_reject(in, tsl_csv_last_line(csv), rd.msg, d))) break;
            continue;
        }
        if (err) {
            if (d) *d = rd;
            break;
        }
        if (!row) break;
        if ((err = tsl_store_ingest_add(in, row, d))) break;
    }
    if (err) {
        tsl_store_ingest_abort(in, d && d->msg[0] ? d->msg : tsl_err_str(err));
        goto out;
    }
    err = tsl_store_ingest_end(in, receipt, d);
out:
    tsl_free(dims);
    return err;
}
