/*
 * dataset.c - building a data set of regular series from the rows of csv.h (see dataset.h).
 *
 * Reading appends each row to three columnar arrays (item number, timestamp, value: 20 bytes
 * a row) and interns the item id in a hash table the first time it is seen, so the cost per
 * row is one parse and, usually, no hashing at all: files list an item's rows together, and a
 * row whose item equals the previous row's skips the table. The table is open addressing with
 * linear probing over (hash bits, item number) slots, kept at most half full; the hash is a
 * seeded multiply-xorshift over 8-byte words, seeded per read so that crafted ids cannot
 * force collisions ahead of time.
 *
 * After the last row: a counting sort groups the rows by item (stable, so file order survives
 * within an item); each item's rows are sorted by time if they are not already (with the row's
 * position as the tie-break, which keeps the sort stable), repeated timestamps collapse to the
 * last row's value, the frequency is inferred or checked over all items at once, and each
 * series is laid out on its grid with NaN in the gaps. Frequency checking caps the grids at 4
 * points per timestamp, so the values block is bounded by the input's size.
 *
 * Strings (item ids, dimension values and names) live in an arena of large blocks that the
 * data set keeps; the series' values share one block. Freeing a data set is three frees and
 * a walk over the arena.
 *
 * The builder is public (tsl_dataset_builder_*) so that rows from elsewhere than a file - the
 * store's observations - become data sets by exactly the same rules; reading a file is a
 * builder fed by the row reader.
 */
#include "tsloop/dataset.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "tsloop/csv.h"
#include "tsloop/mem.h"

#define ARENA_BLOCK ((size_t)64 << 10)
/* Item numbers are stored in 32 bits, 0 meaning an empty hash slot. */
#define MAX_ITEMS ((size_t)UINT32_MAX - 1)

/* ---- string arena ---- */

typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    char data[];
} arena_block;

typedef struct arena {
    arena_block *head;
} arena;

/* Copies s[0..n) and a NUL into the arena; the copy lives until arena_release. */
static char *arena_strndup(arena *a, const char *s, size_t n) {
    arena_block *b = a->head;
    if (!b || b->cap - b->used < n + 1) {
        size_t cap = n + 1 > ARENA_BLOCK ? n + 1 : ARENA_BLOCK;
        b = tsl_malloc(sizeof *b + cap);
        b->used = 0;
        b->cap = cap;
        b->next = a->head;
        a->head = b;
    }
    char *p = b->data + b->used;
    memcpy(p, s, n);
    p[n] = '\0';
    b->used += n + 1;
    return p;
}

/* Frees every block; the arena is empty and reusable afterwards. */
static void arena_release(arena *a) {
    arena_block *b = a->head;
    while (b) {
        arena_block *next = b->next;
        tsl_free(b);
        b = next;
    }
    a->head = NULL;
}

/* ---- the data set as allocated ---- */

typedef struct ds_impl {
    tsl_dataset pub; /* first, so a tsl_dataset * is a ds_impl * */
    arena strings;
    double *values;
    char **dim_values;
} ds_impl;

/* ---- item table ---- */

typedef struct item {
    const char *id; /* in the arena */
    size_t len;
} item;

typedef struct slot {
    uint32_t hash;  /* the hash's high bits, to skip most string compares */
    uint32_t index; /* item number + 1; 0 = empty */
} slot;

struct tsl_dataset_builder {
    tsl_read_opts opts; /* a copy; the column and text options are the reader's business */
    const char *name;   /* in the arena */
    char **dim_names;   /* ndims names, in the arena */
    arena strings;
    uint64_t seed;

    item *items;
    char **item_dims; /* ndims values per item, from its first row, in the arena */
    size_t nitems, items_cap;
    slot *table;
    size_t table_cap; /* a power of two */
    size_t prev;      /* the previous row's item, SIZE_MAX before the first */

    uint32_t *row_item;
    int64_t *row_time;
    double *row_value;
    size_t nrows, rows_cap;

    size_t ndims;
    size_t missing, duplicates, dim_conflicts, rejected;
};

typedef struct tsl_dataset_builder builder;

/* A bijective finaliser: every input bit affects every output bit. */
static uint64_t mix64(uint64_t x) {
    x ^= x >> 32;
    x *= UINT64_C(0xd6e8feb86659fd93);
    x ^= x >> 32;
    x *= UINT64_C(0xd6e8feb86659fd93);
    x ^= x >> 32;
    return x;
}

/* Hash of s[0..n) under seed: 8-byte words folded by multiply-xorshift, then mix64. */
static uint64_t hash_bytes(const char *s, size_t n, uint64_t seed) {
    uint64_t h = seed ^ (n * UINT64_C(0x9e3779b97f4a7c15));
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
    return mix64(h);
}

/* A per-read random seed for the item table. */
static uint64_t make_seed(void) {
    uint64_t seed;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) == (ssize_t)sizeof seed) return seed;
    /* No entropy yet (early boot): the clock and an address still vary per run. */
    seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&seed;
    return mix64(seed);
}

/* Doubles the item table (1024 slots at first) and reinserts every item. */
static void table_grow(builder *b) {
    size_t cap = b->table_cap ? b->table_cap * 2 : 1024;
    slot *t = tsl_calloc(cap, sizeof *t);
    for (size_t i = 0; i < b->nitems; i++) {
        const item *it = &b->items[i];
        uint64_t h = hash_bytes(it->id, it->len, b->seed);
        size_t k = (size_t)h & (cap - 1);
        while (t[k].index) k = (k + 1) & (cap - 1);
        t[k].hash = (uint32_t)(h >> 32);
        t[k].index = (uint32_t)(i + 1);
    }
    tsl_free(b->table);
    b->table = t;
    b->table_cap = cap;
}

/* Whether row's item id is it's. */
static int same_item(const item *it, const tsl_csv_row *row) {
    return it->len == row->item_len && !memcmp(it->id, row->item, row->item_len);
}

/* The item number of row's item, adding the item (with the row's dimensions) if new; *added
 * tells which. */
static tsl_err item_lookup(builder *b, const tsl_csv_row *row, size_t *index, int *added,
                           tsl_diag *d) {
    *added = 0;
    if (b->prev != SIZE_MAX && same_item(&b->items[b->prev], row)) {
        *index = b->prev;
        return TSL_OK;
    }
    if ((b->nitems + 1) * 2 > b->table_cap) table_grow(b);
    uint64_t h = hash_bytes(row->item, row->item_len, b->seed);
    uint32_t hi = (uint32_t)(h >> 32);
    size_t mask = b->table_cap - 1, k = (size_t)h & mask;
    for (; b->table[k].index; k = (k + 1) & mask) {
        if (b->table[k].hash == hi && same_item(&b->items[b->table[k].index - 1], row)) {
            *index = b->prev = b->table[k].index - 1;
            return TSL_OK;
        }
    }
    size_t cap = b->opts.max_items && b->opts.max_items < MAX_ITEMS ? b->opts.max_items : MAX_ITEMS;
    if (b->nitems >= cap)
        return tsl_diag_set(d, TSL_ELIMIT, "%s:%llu: more than %zu items", b->name,
                            (unsigned long long)row->line, cap);
    if (b->nitems == b->items_cap) {
        b->items_cap = b->items_cap ? b->items_cap * 2 : 256;
        b->items = tsl_reallocarray(b->items, b->items_cap, sizeof *b->items);
        if (b->ndims)
            b->item_dims =
                tsl_reallocarray(b->item_dims, b->items_cap, b->ndims * sizeof *b->item_dims);
    }
    item *it = &b->items[b->nitems];
    it->id = arena_strndup(&b->strings, row->item, row->item_len);
    it->len = row->item_len;
    for (size_t j = 0; j < b->ndims; j++)
        b->item_dims[b->nitems * b->ndims + j] =
            arena_strndup(&b->strings, row->dims[j], row->dim_lens[j]);
    b->table[k].hash = hi;
    b->table[k].index = (uint32_t)(b->nitems + 1);
    *index = b->prev = b->nitems++;
    *added = 1;
    return TSL_OK;
}

/* Whether row's dimension values differ from those item i kept from its first row. */
static int dims_differ(const builder *b, size_t i, const tsl_csv_row *row) {
    char *const *kept = b->item_dims + i * b->ndims;
    for (size_t j = 0; j < b->ndims; j++) {
        /* strncmp stops at the kept string's NUL; the row's value has none inside. */
        if (strncmp(kept[j], row->dims[j], row->dim_lens[j]) || kept[j][row->dim_lens[j]]) return 1;
    }
    return 0;
}

/* Appends one row to the columnar arrays, interning its item; enforces max_rows. */
static tsl_err add_row(builder *b, const tsl_csv_row *row, tsl_diag *d) {
    tsl_err err;
    size_t max_rows = b->opts.max_rows;
    if (max_rows && b->nrows >= max_rows)
        return tsl_diag_set(d, TSL_ELIMIT, "%s:%llu: more than %zu rows", b->name,
                            (unsigned long long)row->line, max_rows);
    size_t i = 0;
    int added = 0;
    if ((err = item_lookup(b, row, &i, &added, d))) return err;
    if (!added && b->ndims && dims_differ(b, i, row)) b->dim_conflicts++;
    if (b->nrows == b->rows_cap) {
        b->rows_cap = b->rows_cap ? b->rows_cap + b->rows_cap / 2 : 4096;
        b->row_item = tsl_reallocarray(b->row_item, b->rows_cap, sizeof *b->row_item);
        b->row_time = tsl_reallocarray(b->row_time, b->rows_cap, sizeof *b->row_time);
        b->row_value = tsl_reallocarray(b->row_value, b->rows_cap, sizeof *b->row_value);
    }
    b->row_item[b->nrows] = (uint32_t)i;
    b->row_time[b->nrows] = row->time;
    b->row_value[b->nrows] = row->value;
    if (isnan(row->value)) b->missing++;
    b->nrows++;
    return TSL_OK;
}

/* Reads every row of csv, or stops at the first error that is not a lenient rejection. */
static tsl_err read_rows(builder *b, tsl_csv *csv, tsl_diag *d) {
    for (;;) {
        const tsl_csv_row *row;
        tsl_diag rd = {TSL_OK, {0}};
        tsl_err err = tsl_csv_next(csv, &row, &rd);
        if (err == TSL_EPARSE && b->opts.on_reject) {
            b->rejected++;
            if (!b->opts.on_reject(b->opts.reject_ctx, tsl_csv_last_line(csv), rd.msg)) continue;
        }
        if (err) {
            if (d) *d = rd;
            return err;
        }
        if (!row) return TSL_OK;
        if ((err = add_row(b, row, d))) return err;
    }
}

/* ---- building the series ---- */

typedef struct timed {
    int64_t t;
    double v;
    size_t seq;
} timed;

/* Order by time, then by position in the file (which makes qsort stable). */
static int cmp_timed(const void *a, const void *b) {
    const timed *x = a, *y = b;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Sorts t/v[0..n) by time, stably; scratch holds n entries. */
static void sort_by_time(int64_t *t, double *v, size_t n, timed *scratch) {
    for (size_t j = 0; j < n; j++) scratch[j] = (timed){t[j], v[j], j};
    qsort(scratch, n, sizeof *scratch, cmp_timed);
    for (size_t j = 0; j < n; j++) {
        t[j] = scratch[j].t;
        v[j] = scratch[j].v;
    }
}

typedef struct order_key {
    const char *id;
    size_t len;
    size_t index;
} order_key;

/* Bytewise order of item ids, as strcmp (ids hold no NUL). */
static int cmp_order(const void *a, const void *b) {
    const order_key *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->id, y->id, n);
    if (c) return c;
    return (x->len > y->len) - (x->len < y->len);
}

/* Groups, sorts and deduplicates the rows, finds the frequency and lays out the series. */
static tsl_err build(builder *b, tsl_dataset **out, tsl_diag *d) {
    tsl_err err = TSL_OK;
    size_t ni = b->nitems, nr = b->nrows;
    size_t *off = tsl_calloc(ni + 1, sizeof *off);
    int64_t *t = NULL;
    double *v = NULL;
    timed *scratch = NULL;
    const char **names = NULL;
    order_key *order = NULL;
    size_t *len = NULL;
    ds_impl *ds = NULL;

    /* The scatter below holds the row arrays and their copy at once: give back the growth
     * slack first (large blocks are mapped, so shrinking returns pages). */
    b->row_item = tsl_reallocarray(b->row_item, nr, sizeof *b->row_item);
    b->row_time = tsl_reallocarray(b->row_time, nr, sizeof *b->row_time);
    b->row_value = tsl_reallocarray(b->row_value, nr, sizeof *b->row_value);

    /* Counting sort by item: off[i] .. off[i + 1] are item i's rows, in file order. */
    for (size_t r = 0; r < nr; r++) off[b->row_item[r] + 1]++;
    for (size_t i = 0; i < ni; i++) off[i + 1] += off[i];
    t = tsl_reallocarray(NULL, nr, sizeof *t);
    v = tsl_reallocarray(NULL, nr, sizeof *v);
    {
        size_t *fill = tsl_reallocarray(NULL, ni ? ni : 1, sizeof *fill);
        memcpy(fill, off, ni * sizeof *fill);
        for (size_t r = 0; r < nr; r++) {
            size_t k = fill[b->row_item[r]]++;
            t[k] = b->row_time[r];
            v[k] = b->row_value[r];
        }
        tsl_free(fill);
    }
    tsl_free(b->row_item);
    tsl_free(b->row_time);
    tsl_free(b->row_value);
    b->row_item = NULL;
    b->row_time = NULL;
    b->row_value = NULL;

    /* Sort each item by time and keep the last value of a repeated timestamp, compacting
     * the arrays to the left as items shrink. */
    size_t w = 0, scratch_cap = 0;
    for (size_t i = 0; i < ni; i++) {
        size_t a = off[i], n = off[i + 1] - a;
        int sorted = 1;
        for (size_t j = a + 1; j < a + n && sorted; j++) sorted = t[j] >= t[j - 1];
        if (!sorted) {
            if (n > scratch_cap) {
                scratch_cap = n;
                scratch = tsl_reallocarray(scratch, scratch_cap, sizeof *scratch);
            }
            sort_by_time(t + a, v + a, n, scratch);
        }
        off[i] = w;
        for (size_t j = a; j < a + n; j++) {
            if (w > off[i] && t[w - 1] == t[j]) {
                v[w - 1] = v[j];
                b->duplicates++;
                continue;
            }
            t[w] = t[j];
            v[w] = v[j];
            w++;
        }
    }
    off[ni] = w;
    tsl_free(scratch);
    scratch = NULL;

    names = tsl_reallocarray(NULL, ni ? ni : 1, sizeof *names);
    for (size_t i = 0; i < ni; i++) names[i] = b->items[i].id;
    tsl_freq f;
    if (b->opts.freq.unit == TSL_FREQ_NONE)
        err = tsl_freq_infer(t, off, ni, names, &f, d);
    else
        err = tsl_freq_fit(b->opts.freq, t, off, ni, names, &f, d);
    if (err) {
        tsl_diag_prefix(d, "%s: ", b->name);
        goto out;
    }

    ds = tsl_calloc(1, sizeof *ds);
    tsl_dataset *pub = &ds->pub;
    pub->freq = f;
    pub->period = b->opts.period > 0 ? b->opts.period : tsl_freq_default_period(f);
    pub->nseries = ni;
    pub->series = tsl_calloc(ni ? ni : 1, sizeof *pub->series);
    pub->ndims = b->ndims;
    pub->rows = nr;
    pub->duplicates = b->duplicates;
    pub->missing_targets = b->missing;
    pub->dim_conflicts = b->dim_conflicts;
    pub->rejected = b->rejected;

    /* Series in item_id order; each grid's length comes from its last timestamp. */
    order = tsl_reallocarray(NULL, ni ? ni : 1, sizeof *order);
    for (size_t i = 0; i < ni; i++) order[i] = (order_key){b->items[i].id, b->items[i].len, i};
    qsort(order, ni, sizeof *order, cmp_order);
    size_t total = 0;
    len = tsl_reallocarray(NULL, ni ? ni : 1, sizeof *len);
    for (size_t i = 0; i < ni; i++) {
        int64_t k = 0;
        if (tsl_freq_steps(f, t[off[i]], t[off[i + 1] - 1], &k) != TSL_OK || k < 0) {
            err = tsl_diag_set(d, TSL_EINTERNAL, "%s: a checked grid did not hold", b->name);
            goto out;
        }
        len[i] = (size_t)k + 1;
        total += len[i];
    }
    ds->values = tsl_reallocarray(NULL, total ? total : 1, sizeof *ds->values);
    if (b->ndims) ds->dim_values = tsl_reallocarray(NULL, ni * b->ndims, sizeof(char *));
    size_t base = 0;
    for (size_t s = 0; s < ni; s++) {
        size_t i = order[s].index;
        tsl_series *se = &pub->series[s];
        se->item_id = (char *)b->items[i].id;
        se->start = t[off[i]];
        se->n = len[i];
        se->y = ds->values + base;
        for (size_t k = 0; k < se->n; k++) se->y[k] = NAN;
        for (size_t j = off[i]; j < off[i + 1]; j++) {
            int64_t k = 0;
            tsl_err e2 = tsl_freq_steps(f, se->start, t[j], &k);
            assert(e2 == TSL_OK && k >= 0 && (size_t)k < se->n);
            (void)e2;
            se->y[k] = v[j];
        }
        if (b->ndims) {
            se->dims = ds->dim_values + s * b->ndims;
            memcpy(se->dims, b->item_dims + i * b->ndims, b->ndims * sizeof(char *));
        }
        base += se->n;
    }
    pub->gap_points = total - w;
    if (b->ndims) {
        pub->dim_names = tsl_reallocarray(NULL, b->ndims, sizeof(char *));
        memcpy(pub->dim_names, b->dim_names, b->ndims * sizeof(char *));
    }
    ds->strings = b->strings;
    b->strings.head = NULL;
    *out = pub;
    ds = NULL;
out:
    if (ds) tsl_dataset_free(&ds->pub);
    tsl_free(off);
    tsl_free(t);
    tsl_free(v);
    tsl_free(scratch);
    tsl_free(names);
    tsl_free(order);
    tsl_free(len);
    return err;
}

tsl_dataset_builder *tsl_dataset_builder_new(const char *name, const char *const *dim_names,
                                             size_t ndims, const tsl_read_opts *opts) {
    builder *b = tsl_calloc(1, sizeof *b);
    if (opts) b->opts = *opts;
    b->prev = SIZE_MAX;
    b->seed = make_seed();
    b->name = arena_strndup(&b->strings, name, strlen(name));
    b->ndims = ndims;
    if (ndims) {
        b->dim_names = tsl_reallocarray(NULL, ndims, sizeof *b->dim_names);
        for (size_t j = 0; j < ndims; j++)
            b->dim_names[j] = arena_strndup(&b->strings, dim_names[j], strlen(dim_names[j]));
    }
    return b;
}

tsl_err tsl_dataset_builder_add(tsl_dataset_builder *b, const tsl_csv_row *row, tsl_diag *d) {
    return add_row(b, row, d);
}

size_t tsl_dataset_builder_rows(const tsl_dataset_builder *b) {
    return b->nrows;
}

tsl_err tsl_dataset_builder_finish(tsl_dataset_builder *b, tsl_dataset **out, tsl_diag *d) {
    *out = NULL;
    if (b->nrows == 0) return tsl_diag_set(d, TSL_EPARSE, "%s: no data rows", b->name);
    return build(b, out, d);
}

void tsl_dataset_builder_free(tsl_dataset_builder *b) {
    if (!b) return;
    arena_release(&b->strings);
    tsl_free(b->dim_names);
    tsl_free(b->items);
    tsl_free(b->item_dims);
    tsl_free(b->table);
    tsl_free(b->row_item);
    tsl_free(b->row_time);
    tsl_free(b->row_value);
    tsl_free(b);
}

/* Reads every row of csv (opened with open_err) into a data set; closes csv. */
static tsl_err read_all(tsl_csv *csv, tsl_err open_err, const tsl_read_opts *opts,
                        tsl_dataset **out, tsl_diag *d) {
    tsl_err err = open_err;
    builder *b = NULL;
    const char **dims = NULL;
    *out = NULL;
    if (err) goto out;
    size_t ndims = tsl_csv_ndims(csv);
    dims = tsl_reallocarray(NULL, ndims ? ndims : 1, sizeof *dims);
    for (size_t j = 0; j < ndims; j++) dims[j] = tsl_csv_dim_name(csv, j);
    b = tsl_dataset_builder_new(tsl_csv_name(csv), dims, ndims, opts);
    if ((err = read_rows(b, csv, d))) goto out;
    if (b->nrows == 0) {
        err = tsl_diag_set(d, TSL_EPARSE, "%s: no data rows after the header", b->name);
        goto out;
    }
    err = build(b, out, d);
out:
    tsl_dataset_builder_free(b);
    tsl_free(dims);
    tsl_csv_close(csv);
    return err;
}

/* The row reader's options from the data set's. */
static tsl_csv_opts csv_opts(const tsl_read_opts *o) {
    tsl_csv_opts c;
    memset(&c, 0, sizeof c);
    if (!o) return c;
    c.item_col = o->item_col;
    c.time_col = o->time_col;
    c.target_col = o->target_col;
    c.delim = o->delim;
    c.max_field = o->max_field;
    c.max_line = o->max_line;
    c.max_columns = o->max_columns;
    return c;
}

tsl_err tsl_dataset_read_file(const char *path, const tsl_read_opts *opts, tsl_dataset **out,
                              tsl_diag *d) {
    tsl_csv_opts co = csv_opts(opts);
    tsl_csv *csv = NULL;
    tsl_err err = tsl_csv_open_file(path, &co, &csv, d);
    return read_all(csv, err, opts, out, d);
}

tsl_err tsl_dataset_read_mem(const char *name, const void *data, size_t len,
                             const tsl_read_opts *opts, tsl_dataset **out, tsl_diag *d) {
    tsl_csv_opts co = csv_opts(opts);
    tsl_csv *csv = NULL;
    tsl_err err = tsl_csv_open_mem(name, data, len, &co, &csv, d);
    return read_all(csv, err, opts, out, d);
}

void tsl_dataset_free(tsl_dataset *pub) {
    if (!pub) return;
    ds_impl *ds = (ds_impl *)pub;
    arena_release(&ds->strings);
    tsl_free(ds->values);
    tsl_free(ds->dim_values);
    tsl_free(pub->series);
    tsl_free(pub->dim_names);
    tsl_free(ds);
}

int64_t tsl_dataset_time(const tsl_dataset *ds, const tsl_series *s, size_t i) {
    return tsl_freq_add(ds->freq, s->start, (int64_t)i);
}

long tsl_dataset_find(const tsl_dataset *ds, const char *item_id) {
    size_t lo = 0, hi = ds->nseries;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(ds->series[mid].item_id, item_id);
        if (c == 0) return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}
