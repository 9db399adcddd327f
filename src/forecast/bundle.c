/*
 * bundle.c - the model bundle (see bundle.h): many per-series models in one checksummed blob
 * with an index, so that one item's model is found and decoded without touching the others.
 *
 * The layout (integers little endian):
 *
 *     "TSLB"  u16 format version  u16 flags (0)  u32 count  u32 reserved (0)
 *     u64 meta length  u64 index length  u64 models length              (40 bytes in all)
 *     meta    the metadata text, no NUL
 *     index   count records, item ids strictly increasing (bytewise):
 *             u32 item length  u32 group length  u64 offset  u64 length  u32 CRC-32
 *             item bytes  group bytes
 *     u32     CRC-32 of every byte above (header, meta, index)
 *     models  the serialized models, each [offset, offset + length) of this section; they
 *             tile it in index order (each begins where the one before ended)
 *
 * Why this shape. The header says how long each section is, so a reader knows where the index
 * ends without scanning the models, and the total length must match to the byte: truncation
 * and trailing garbage are both caught before anything else is believed. One CRC covers
 * everything a lookup relies on (the header, the metadata and the index), which is all that
 * opening needs to check; each model is covered by its own CRC in the index (and again by its
 * envelope's), checked when - and only when - that model is loaded. So opening costs time in
 * the number of items, not in the bytes of the models, and a flipped bit anywhere is refused
 * by whichever check covers it. Item ids are unique and sorted in the index, which makes the
 * lookup a binary search and the bytes deterministic.
 *
 * A CRC-32 detects accidents, not tampering; the registry also keeps each artifact's SHA-256
 * and checks it when loading (store.h).
 */
#include "tsloop/bundle.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "tsloop/mem.h"

#define MAGIC        "TSLB"
#define HEADER_BYTES 40
#define RECORD_FIXED 28     /* u32 + u32 + u64 + u64 + u32 */
#define MIN_MODEL    12     /* the smallest envelope tsl_model_load looks at */
#define MODEL_MAGIC  "TSLM" /* model.c's envelope */

/* ---- building ---- */

typedef struct bentry {
    char *item;
    char *group;
    size_t off, len; /* in the builder's model buffer */
    uint32_t crc;
} bentry;

struct tsl_bundle_builder {
    char *meta;
    bentry *e;
    size_t n, cap;
    tsl_wbuf models;
};

tsl_bundle_builder *tsl_bundle_builder_new(void) {
    tsl_bundle_builder *b = tsl_calloc(1, sizeof *b);
    b->meta = tsl_strdup("");
    tsl_wbuf_init(&b->models);
    return b;
}

void tsl_bundle_builder_free(tsl_bundle_builder *b) {
    if (!b) return;
    for (size_t i = 0; i < b->n; i++) {
        tsl_free(b->e[i].item);
        tsl_free(b->e[i].group);
    }
    tsl_free(b->e);
    tsl_free(b->meta);
    tsl_wbuf_release(&b->models);
    tsl_free(b);
}

tsl_err tsl_bundle_builder_meta(tsl_bundle_builder *b, const char *meta, tsl_diag *d) {
    size_t len = strlen(meta);
    if (len > TSL_BUNDLE_MAX_META)
        return tsl_diag_set(d, TSL_ELIMIT, "bundle metadata of %zu bytes, expected at most %zu",
                            len, TSL_BUNDLE_MAX_META);
    tsl_free(b->meta);
    b->meta = tsl_strdup(meta);
    return TSL_OK;
}

/* Checks an item id and a group key against the caps. */
static tsl_err check_keys(const tsl_bundle_builder *b, const char *item, const char *group,
                          tsl_diag *d) {
    if (!item || !item[0])
        return tsl_diag_set(d, TSL_EINVAL, "bundle entry %zu: the item id is empty", b->n + 1);
    if (strlen(item) > TSL_BUNDLE_MAX_KEY || (group && strlen(group) > TSL_BUNDLE_MAX_KEY))
        return tsl_diag_set(d, TSL_ELIMIT,
                            "bundle entry %zu: an item id or group key longer than %d bytes",
                            b->n + 1, TSL_BUNDLE_MAX_KEY);
    if (b->n >= TSL_BUNDLE_MAX_ITEMS)
        return tsl_diag_set(d, TSL_ELIMIT, "a bundle holds at most %d items", TSL_BUNDLE_MAX_ITEMS);
    return TSL_OK;
}

/* Records the model bytes at [off, models.len) as the entry of item in group. */
static void push_entry(tsl_bundle_builder *b, const char *item, const char *group, size_t off) {
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 64;
        b->e = tsl_reallocarray(b->e, b->cap, sizeof *b->e);
    }
    bentry *e = &b->e[b->n++];
    e->item = tsl_strdup(item);
    e->group = tsl_strdup(group ? group : "");
    e->off = off;
    e->len = b->models.len - off;
    e->crc = tsl_crc32(0, b->models.data + off, e->len);
}

tsl_err tsl_bundle_add(tsl_bundle_builder *b, const char *item_id, const char *group,
                       const tsl_model *m, tsl_diag *d) {
    tsl_err rc;
    if ((rc = check_keys(b, item_id, group, d))) return rc;
    size_t off = b->models.len;
    if ((rc = tsl_model_save(m, &b->models, d))) {
        b->models.len = off;
        return rc;
    }
    push_entry(b, item_id, group, off);
    return TSL_OK;
}

/* Reads a little-endian u32 at p. */
static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

tsl_err tsl_bundle_add_raw(tsl_bundle_builder *b, const char *item_id, const char *group,
                           const void *model, size_t len, tsl_diag *d) {
    tsl_err rc;
    if ((rc = check_keys(b, item_id, group, d))) return rc;
    const uint8_t *p = model;
    if (len < MIN_MODEL || memcmp(p, MODEL_MAGIC, 4) != 0 ||
        tsl_crc32(0, p, len - 4) != le32(p + len - 4))
        return tsl_diag_set(d, TSL_ECORRUPT,
                            "the model of item '%s' is not an intact serialized model", item_id);
    size_t off = b->models.len;
    tsl_wbuf_put(&b->models, model, len);
    push_entry(b, item_id, group, off);
    return TSL_OK;
}

size_t tsl_bundle_builder_count(const tsl_bundle_builder *b) {
    return b->n;
}

/* qsort order of entry pointers: by item id, bytewise. */
static int cmp_entry_ptr(const void *a, const void *b) {
    const bentry *x = *(const bentry *const *)a, *y = *(const bentry *const *)b;
    return strcmp(x->item, y->item);
}

tsl_err tsl_bundle_builder_write(const tsl_bundle_builder *b, tsl_wbuf *out, tsl_diag *d) {
    tsl_err rc = TSL_OK;
    const bentry **order = tsl_calloc(b->n ? b->n : 1, sizeof *order);
    for (size_t i = 0; i < b->n; i++) order[i] = &b->e[i];
    qsort(order, b->n, sizeof *order, cmp_entry_ptr);
    size_t index_len = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (i > 0 && !strcmp(order[i - 1]->item, order[i]->item)) {
            rc = tsl_diag_set(d, TSL_EINVAL,
                              "item '%s' is in the bundle twice, expected unique "
                              "item ids",
                              order[i]->item);
            goto out;
        }
        index_len += RECORD_FIXED + strlen(order[i]->item) + strlen(order[i]->group);
    }
    size_t start = out->len, meta_len = strlen(b->meta);
    tsl_wbuf_reserve(out, HEADER_BYTES + meta_len + index_len + 4 + b->models.len);
    tsl_wbuf_put(out, MAGIC, 4);
    tsl_wbuf_put_u16(out, TSL_BUNDLE_VERSION);
    tsl_wbuf_put_u16(out, 0);
    tsl_wbuf_put_u32(out, (uint32_t)b->n);
    tsl_wbuf_put_u32(out, 0);
    tsl_wbuf_put_u64(out, meta_len);
    tsl_wbuf_put_u64(out, index_len);
    tsl_wbuf_put_u64(out, b->models.len);
    tsl_wbuf_put(out, b->meta, meta_len);
    size_t off = 0; /* models are laid out in index order */
    for (size_t i = 0; i < b->n; i++) {
        const bentry *e = order[i];
        size_t il = strlen(e->item), gl = strlen(e->group);
        tsl_wbuf_put_u32(out, (uint32_t)il);
        tsl_wbuf_put_u32(out, (uint32_t)gl);
        tsl_wbuf_put_u64(out, off);
        tsl_wbuf_put_u64(out, e->len);
        tsl_wbuf_put_u32(out, e->crc);
        tsl_wbuf_put(out, e->item, il);
        tsl_wbuf_put(out, e->group, gl);
        off += e->len;
    }
    assert(off == b->models.len);
    tsl_wbuf_put_u32(out, tsl_crc32(0, out->data + start, out->len - start));
    for (size_t i = 0; i < b->n; i++)
        tsl_wbuf_put(out, b->models.data + order[i]->off, order[i]->len);
out:
    tsl_free(order);
    return rc;
}

/* ---- reading ---- */

typedef struct rentry {
    const char *item, *group; /* in strings */
    const uint8_t *model;     /* in data */
    size_t len;
    uint32_t crc;
} rentry;

struct tsl_bundle {
    uint8_t *data; /* owned */
    size_t len;
    char *meta; /* a terminated copy */
    size_t meta_len;
    char *strings; /* every item id and group key, terminated */
    rentry *e;
    size_t n;
};

void tsl_bundle_free(tsl_bundle *b) {
    if (!b) return;
    tsl_free(b->data);
    tsl_free(b->meta);
    tsl_free(b->strings);
    tsl_free(b->e);
    tsl_free(b);
}

/* 1 when s[0..n) holds a NUL byte. */
static int has_nul(const uint8_t *s, size_t n) {
    return n > 0 && memchr(s, 0, n) != NULL;
}

/* Parses the bundle in b->data (already owned by b): header, sizes, head CRC, metadata and
 * index. */
static tsl_err parse(tsl_bundle *b, tsl_diag *d) {
    const uint8_t *p = b->data;
    size_t len = b->len;
    if (len < HEADER_BYTES + 4 || memcmp(p, MAGIC, 4) != 0)
        return tsl_diag_set(d, TSL_ECORRUPT, "not a tsloop model bundle (bad magic or %zu bytes)",
                            len);
    tsl_rbuf r;
    tsl_rbuf_init(&r, p + 4, HEADER_BYTES - 4);
    uint16_t version = tsl_rbuf_u16(&r), flags = tsl_rbuf_u16(&r);
    uint32_t count = tsl_rbuf_u32(&r), reserved = tsl_rbuf_u32(&r);
    uint64_t meta_len = tsl_rbuf_u64(&r), index_len = tsl_rbuf_u64(&r);
    uint64_t models_len = tsl_rbuf_u64(&r);
    if (version != TSL_BUNDLE_VERSION)
        return tsl_diag_set(d, TSL_EVERSION, "model bundle format version %u; this build reads %d",
                            version, TSL_BUNDLE_VERSION);
    if (flags || reserved)
        return tsl_diag_set(d, TSL_ECORRUPT, "model bundle: unknown flags %u", flags);
    if (count > TSL_BUNDLE_MAX_ITEMS || meta_len > TSL_BUNDLE_MAX_META)
        return tsl_diag_set(d, TSL_ELIMIT,
                            "model bundle of %u items and %llu bytes of metadata "
                            "is past the limits",
                            count, (unsigned long long)meta_len);
    size_t body = len - HEADER_BYTES - 4;
    if (meta_len > body || index_len > body - meta_len || models_len != body - meta_len - index_len)
        return tsl_diag_set(d, TSL_ECORRUPT,
                            "model bundle: section sizes do not add up to its "
                            "%zu bytes (truncated or damaged)",
                            len);
    size_t head = HEADER_BYTES + (size_t)meta_len + (size_t)index_len;
    if (tsl_crc32(0, p, head) != le32(p + head))
        return tsl_diag_set(d, TSL_ECORRUPT,
                            "model bundle: the index checksum does not match "
                            "(damaged)");
    const uint8_t *meta = p + HEADER_BYTES;
    if (has_nul(meta, meta_len))
        return tsl_diag_set(d, TSL_ECORRUPT, "model bundle: the metadata holds a NUL byte");
    b->meta = tsl_malloc((size_t)meta_len + 1);
    memcpy(b->meta, meta, meta_len);
    b->meta[meta_len] = '\0';
    b->meta_len = (size_t)meta_len;
    if ((uint64_t)count * RECORD_FIXED > index_len)
        return tsl_diag_set(d, TSL_ECORRUPT, "model bundle: %u entries cannot fit its index",
                            count);
    const uint8_t *models = p + head + 4;
    b->e = tsl_calloc(count ? count : 1, sizeof *b->e);
    b->strings = tsl_malloc((size_t)index_len + 2 * (size_t)count + 1);
    char *sp = b->strings;
    uint64_t next = 0; /* where the next model must begin */
    tsl_rbuf_init(&r, meta + meta_len, (size_t)index_len);
    for (uint32_t i = 0; i < count; i++) {
        uint32_t il = tsl_rbuf_u32(&r), gl = tsl_rbuf_u32(&r);
        uint64_t off = tsl_rbuf_u64(&r), mlen = tsl_rbuf_u64(&r);
        uint32_t crc = tsl_rbuf_u32(&r);
        if (!tsl_rbuf_ok(&r) || il == 0 || il > TSL_BUNDLE_MAX_KEY || gl > TSL_BUNDLE_MAX_KEY)
            return tsl_diag_set(d, TSL_ECORRUPT, "model bundle: entry %u is malformed", i + 1);
        const uint8_t *item = tsl_rbuf_bytes(&r, il);
        const uint8_t *group = gl ? tsl_rbuf_bytes(&r, gl) : (const uint8_t *)"";
        if (!item || !group || has_nul(item, il) || has_nul(group, gl))
            return tsl_diag_set(d, TSL_ECORRUPT, "model bundle: entry %u has a malformed key",
                                i + 1);
        /* Models tile their section in index order, as the writer lays them out: anything
         * else (gaps, overlaps, another order) is not a bundle this format produces. */
        if (off != next || mlen > models_len - off || mlen < MIN_MODEL)
            return tsl_diag_set(d, TSL_ECORRUPT,
                                "model bundle: entry %u points outside its place in the models",
                                i + 1);
        next = off + mlen;
        rentry *e = &b->e[i];
        memcpy(sp, item, il);
        sp[il] = '\0';
        e->item = sp;
        sp += il + 1;
        memcpy(sp, group, gl);
        sp[gl] = '\0';
        e->group = sp;
        sp += gl + 1;
        e->model = models + off;
        e->len = (size_t)mlen;
        e->crc = crc;
        if (i > 0 && strcmp(b->e[i - 1].item, e->item) >= 0)
            return tsl_diag_set(d, TSL_ECORRUPT,
                                "model bundle: item ids out of order at entry %u (damaged)", i + 1);
        b->n = i + 1;
    }
    if (tsl_rbuf_left(&r) != 0 || next != models_len)
        return tsl_diag_set(d, TSL_ECORRUPT,
                            "model bundle: stray bytes after the index or the models");
    return TSL_OK;
}

tsl_err tsl_bundle_adopt(void *data, size_t len, tsl_bundle **out, tsl_diag *d) {
    tsl_bundle *b = tsl_calloc(1, sizeof *b);
    b->data = data;
    b->len = len;
    *out = NULL;
    tsl_err rc = parse(b, d);
    if (rc) {
        tsl_bundle_free(b);
        return rc;
    }
    *out = b;
    return TSL_OK;
}

tsl_err tsl_bundle_open(const void *data, size_t len, tsl_bundle **out, tsl_diag *d) {
    void *copy = tsl_malloc(len ? len : 1);
    if (len) memcpy(copy, data, len);
    return tsl_bundle_adopt(copy, len, out, d);
}

const char *tsl_bundle_meta(const tsl_bundle *b) {
    return b->meta;
}

size_t tsl_bundle_meta_len(const tsl_bundle *b) {
    return b->meta_len;
}

size_t tsl_bundle_count(const tsl_bundle *b) {
    return b->n;
}

void tsl_bundle_entry_at(const tsl_bundle *b, size_t i, tsl_bundle_entry *out) {
    assert(i < b->n);
    out->item_id = b->e[i].item;
    out->group = b->e[i].group;
    out->model_len = b->e[i].len;
    out->model_crc = b->e[i].crc;
}

long tsl_bundle_find(const tsl_bundle *b, const char *item_id) {
    size_t lo = 0, hi = b->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(b->e[mid].item, item_id);
        if (c == 0) return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

const void *tsl_bundle_model_bytes(const tsl_bundle *b, size_t i, size_t *len) {
    assert(i < b->n);
    assert(b->data);
    *len = b->e[i].len;
    return b->e[i].model;
}

tsl_err tsl_bundle_load(const tsl_bundle *b, size_t i, tsl_model **out, tsl_diag *d) {
    assert(i < b->n);
    assert(b->data); /* not after tsl_bundle_drop_bytes */
    const rentry *e = &b->e[i];
    *out = NULL;
    if (tsl_crc32(0, e->model, e->len) != e->crc)
        return tsl_diag_set(d, TSL_ECORRUPT,
                            "model bundle: the model of item '%s' fails its checksum (damaged)",
                            e->item);
    tsl_err rc = tsl_model_load(e->model, e->len, out, d);
    if (rc) tsl_diag_prefix(d, "model bundle, item '%s': ", e->item);
    return rc;
}

tsl_err tsl_bundle_verify(const tsl_bundle *b, tsl_diag *d) {
    assert(b->data || b->n == 0);
    for (size_t i = 0; i < b->n; i++)
        if (tsl_crc32(0, b->e[i].model, b->e[i].len) != b->e[i].crc)
            return tsl_diag_set(d, TSL_ECORRUPT,
                                "model bundle: the model of item '%s' fails its checksum "
                                "(damaged)",
                                b->e[i].item);
    return TSL_OK;
}

void tsl_bundle_drop_bytes(tsl_bundle *b) {
    /* The index lives in its own allocations (strings, e): only the pointers into data go. */
    tsl_free(b->data);
    b->data = NULL;
    b->len = 0;
    for (size_t i = 0; i < b->n; i++) b->e[i].model = NULL;
    tsl_bundle_drop_meta(b);
}

void tsl_bundle_drop_meta(tsl_bundle *b) {
    tsl_free(b->meta);
    b->meta = tsl_strdup("");
    b->meta_len = 0;
}
