/*
 * test_bundle.c - the model bundle (bundle.h): a round trip of models of several kinds with
 * metadata and group keys (every loaded model forecasts exactly as the original), lookups of
 * present and absent items, deterministic bytes whatever the insertion order, re-bundling raw
 * envelopes, duplicates refused, every single-byte corruption and every truncation refused
 * (never crashed on), an unknown format version named as such, and 10,000 items found and
 * decoded one at a time.
 */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "tsloop/bundle.h"
#include "tsloop/mem.h"

#define H 6

static const double levels[] = {0.1, 0.5, 0.9};

/* A seasonal series of n values with a trend, deterministic in seed. */
static double *series(size_t n, unsigned seed) {
    double *y = tsl_malloc(n * sizeof *y);
    unsigned s = seed * 2654435761u + 1;
    for (size_t t = 0; t < n; t++) {
        s = s * 1103515245u + 12345u;
        double noise = (double)(s >> 16 & 0x7fff) / 32768.0 - 0.5;
        y[t] = 50 + 0.3 * (double)t + 8 * sin(2 * M_PI * (double)(t % 12) / 12.0) + 3 * noise;
    }
    return y;
}

static tsl_model *fit(tsl_model_kind kind, unsigned seed) {
    tsl_model_spec spec;
    tsl_model_spec_init(&spec, kind, 12);
    double *y = series(60, seed);
    tsl_model *m = NULL;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_model_fit(&spec, y, 60, &m, &d)) fail_msg("fit %d: %s", kind, d.msg);
    tsl_free(y);
    return m;
}

/* m and n forecast the same to the bit. */
static void same_forecast(const tsl_model *m, const tsl_model *n) {
    double a[H], b[H], qa[H * 3], qb[H * 3];
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_model_forecast(m, H, levels, 3, a, qa, &d), TSL_OK);
    assert_int_equal(tsl_model_forecast(n, H, levels, 3, b, qb, &d), TSL_OK);
    assert_memory_equal(a, b, sizeof a);
    assert_memory_equal(qa, qb, sizeof qa);
    assert_string_equal(tsl_model_name(m), tsl_model_name(n));
}

static const tsl_model_kind kinds[] = {TSL_MODEL_NAIVE, TSL_MODEL_SNAIVE, TSL_MODEL_ETS,
                                       TSL_MODEL_THETA, TSL_MODEL_DRIFT};
#define NKINDS (sizeof kinds / sizeof kinds[0])
static const char *const items[NKINDS] = {"paris", "lyon", "b\xc3\xa9ziers", "albi", "zz top"};
static const char *const groups[NKINDS] = {"[\"north\"]", "[\"south\"]", "[\"south\"]", "",
                                           "[\"north\"]"};

/* Builds the five-model bundle (entries added in the order given by perm) into out. */
static void build_five(tsl_model **models, const size_t *perm, tsl_wbuf *out) {
    tsl_bundle_builder *b = tsl_bundle_builder_new();
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_bundle_builder_meta(b, "{\"forecaster\":\"solar\"}", &d), TSL_OK);
    for (size_t k = 0; k < NKINDS; k++) {
        size_t i = perm[k];
        assert_int_equal(tsl_bundle_add(b, items[i], groups[i], models[i], &d), TSL_OK);
    }
    assert_int_equal(tsl_bundle_builder_count(b), NKINDS);
    assert_int_equal(tsl_bundle_builder_write(b, out, &d), TSL_OK);
    tsl_bundle_builder_free(b);
}

static void test_round_trip(void **state) {
    (void)state;
    tsl_model *models[NKINDS];
    for (size_t i = 0; i < NKINDS; i++) models[i] = fit(kinds[i], (unsigned)i);
    static const size_t fwd[NKINDS] = {0, 1, 2, 3, 4}, rev[NKINDS] = {4, 2, 0, 3, 1};
    tsl_wbuf a, b;
    tsl_wbuf_init(&a);
    tsl_wbuf_init(&b);
    build_five(models, fwd, &a);
    build_five(models, rev, &b);
    /* Deterministic: the same bytes whatever order entries were added in. */
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);

    tsl_bundle *bu = NULL;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_bundle_open(a.data, a.len, &bu, &d), TSL_OK);
    assert_string_equal(tsl_bundle_meta(bu), "{\"forecaster\":\"solar\"}");
    assert_int_equal(tsl_bundle_meta_len(bu), strlen("{\"forecaster\":\"solar\"}"));
    assert_int_equal(tsl_bundle_count(bu), NKINDS);
    assert_int_equal(tsl_bundle_verify(bu, &d), TSL_OK);
    /* Entries come in item order. */
    for (size_t i = 1; i < NKINDS; i++) {
        tsl_bundle_entry e0, e1;
        tsl_bundle_entry_at(bu, i - 1, &e0);
        tsl_bundle_entry_at(bu, i, &e1);
        assert_true(strcmp(e0.item_id, e1.item_id) < 0);
    }
    for (size_t i = 0; i < NKINDS; i++) {
        long at = tsl_bundle_find(bu, items[i]);
        assert_true(at >= 0);
        tsl_bundle_entry e;
        tsl_bundle_entry_at(bu, (size_t)at, &e);
        assert_string_equal(e.item_id, items[i]);
        assert_string_equal(e.group, groups[i]);
        tsl_model *m = NULL;
        assert_int_equal(tsl_bundle_load(bu, (size_t)at, &m, &d), TSL_OK);
        assert_int_equal(tsl_model_kind_of(m), kinds[i]);
        same_forecast(models[i], m);
        tsl_model_free(m);
    }
    assert_int_equal(tsl_bundle_find(bu, "nowhere"), -1);
    assert_int_equal(tsl_bundle_find(bu, ""), -1);
    assert_int_equal(tsl_bundle_find(bu, "zz"), -1);

    /* Re-bundling the raw envelopes of one group gives a bundle whose models load the same. */
    tsl_bundle_builder *sub = tsl_bundle_builder_new();
    for (size_t i = 0; i < tsl_bundle_count(bu); i++) {
        tsl_bundle_entry e;
        tsl_bundle_entry_at(bu, i, &e);
        if (strcmp(e.group, "[\"south\"]")) continue;
        size_t len = 0;
        const void *raw = tsl_bundle_model_bytes(bu, i, &len);
        assert_int_equal(len, e.model_len);
        assert_int_equal(tsl_bundle_add_raw(sub, e.item_id, e.group, raw, len, &d), TSL_OK);
    }
    tsl_wbuf c;
    tsl_wbuf_init(&c);
    assert_int_equal(tsl_bundle_builder_write(sub, &c, &d), TSL_OK);
    tsl_bundle *bs = NULL;
    assert_int_equal(tsl_bundle_open(c.data, c.len, &bs, &d), TSL_OK);
    assert_int_equal(tsl_bundle_count(bs), 2);
    assert_string_equal(tsl_bundle_meta(bs), "");
    tsl_model *m = NULL;
    assert_int_equal(tsl_bundle_load(bs, (size_t)tsl_bundle_find(bs, "lyon"), &m, &d), TSL_OK);
    same_forecast(models[1], m);
    tsl_model_free(m);
    tsl_bundle_free(bs);
    tsl_bundle_builder_free(sub);
    tsl_wbuf_release(&c);

    /* adopt takes the bytes over. */
    void *copy = tsl_malloc(a.len);
    memcpy(copy, a.data, a.len);
    tsl_bundle *ba = NULL;
    assert_int_equal(tsl_bundle_adopt(copy, a.len, &ba, &d), TSL_OK);
    assert_int_equal(tsl_bundle_count(ba), NKINDS);
    tsl_bundle_free(ba);

    tsl_bundle_free(bu);
    tsl_wbuf_release(&a);
    tsl_wbuf_release(&b);
    for (size_t i = 0; i < NKINDS; i++) tsl_model_free(models[i]);
}

static void test_refusals(void **state) {
    (void)state;
    tsl_model *m = fit(TSL_MODEL_NAIVE, 7);
    tsl_bundle_builder *b = tsl_bundle_builder_new();
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_bundle_add(b, "", NULL, m, &d), TSL_EINVAL);
    assert_non_null(strstr(d.msg, "item id is empty"));
    assert_int_equal(tsl_bundle_add(b, "a", NULL, m, &d), TSL_OK);
    assert_int_equal(tsl_bundle_add(b, "b", NULL, m, &d), TSL_OK);
    assert_int_equal(tsl_bundle_add(b, "a", "g", m, &d), TSL_OK);
    tsl_wbuf out;
    tsl_wbuf_init(&out);
    assert_int_equal(tsl_bundle_builder_write(b, &out, &d), TSL_EINVAL);
    assert_non_null(strstr(d.msg, "item 'a' is in the bundle twice"));

    /* A damaged envelope is refused by add_raw. */
    tsl_wbuf env;
    tsl_wbuf_init(&env);
    assert_int_equal(tsl_model_save(m, &env, &d), TSL_OK);
    env.data[env.len / 2] ^= 0x40;
    assert_int_equal(tsl_bundle_add_raw(b, "c", NULL, env.data, env.len, &d), TSL_ECORRUPT);
    assert_int_equal(tsl_bundle_add_raw(b, "c", NULL, "TSLM", 4, &d), TSL_ECORRUPT);
    tsl_wbuf_release(&env);

    /* Not a bundle at all. */
    tsl_bundle *bu = NULL;
    assert_int_equal(tsl_bundle_open("hello", 5, &bu, &d), TSL_ECORRUPT);
    assert_null(bu);
    assert_int_equal(tsl_bundle_open("", 0, &bu, &d), TSL_ECORRUPT);
    tsl_wbuf_release(&out);
    tsl_bundle_builder_free(b);
    tsl_model_free(m);
}

/* Every flipped byte and every truncation is refused somewhere: at open (header, meta, index),
 * or, for bytes of a model, by verify and by loading that model. */
static void test_corruption(void **state) {
    (void)state;
    tsl_model *models[NKINDS];
    for (size_t i = 0; i < NKINDS; i++) models[i] = fit(kinds[i], (unsigned)i + 20);
    static const size_t fwd[NKINDS] = {0, 1, 2, 3, 4};
    tsl_wbuf a;
    tsl_wbuf_init(&a);
    build_five(models, fwd, &a);
    uint8_t *copy = tsl_malloc(a.len);
    tsl_diag d = {TSL_OK, {0}};
    for (size_t at = 0; at < a.len; at++) {
        memcpy(copy, a.data, a.len);
        copy[at] ^= (uint8_t)(1u << (at % 8));
        tsl_bundle *bu = NULL;
        tsl_err rc = tsl_bundle_open(copy, a.len, &bu, &d);
        if (rc) {
            assert_true(rc == TSL_ECORRUPT || rc == TSL_EVERSION || rc == TSL_ELIMIT);
            assert_null(bu);
            assert_true(d.msg[0] != '\0');
            continue;
        }
        /* The flip is in a model: verify names it, and loading it fails. */
        assert_int_equal(tsl_bundle_verify(bu, &d), TSL_ECORRUPT);
        size_t bad = 0;
        for (size_t i = 0; i < tsl_bundle_count(bu); i++) {
            tsl_model *m = NULL;
            if (tsl_bundle_load(bu, i, &m, &d) != TSL_OK) {
                assert_null(m);
                bad++;
            }
            tsl_model_free(m);
        }
        assert_int_equal(bad, 1);
        tsl_bundle_free(bu);
    }
    for (size_t len = 0; len < a.len; len++) {
        tsl_bundle *bu = NULL;
        assert_int_equal(tsl_bundle_open(a.data, len, &bu, &d), TSL_ECORRUPT);
        assert_null(bu);
    }
    /* Trailing bytes are damage too. */
    tsl_wbuf_put_u8(&a, 0);
    tsl_bundle *bu = NULL;
    assert_int_equal(tsl_bundle_open(a.data, a.len, &bu, &d), TSL_ECORRUPT);
    a.len--;

    /* A newer format version (with a consistent checksum) is named as such. */
    memcpy(copy, a.data, a.len);
    copy[4] = 2;
    uint64_t meta_len = 0, index_len = 0;
    for (int i = 7; i >= 0; i--) {
        meta_len = meta_len << 8 | copy[16 + i];
        index_len = index_len << 8 | copy[24 + i];
    }
    size_t head = 40 + (size_t)meta_len + (size_t)index_len;
    uint32_t crc = tsl_crc32(0, copy, head);
    for (int i = 0; i < 4; i++) copy[head + (size_t)i] = (uint8_t)(crc >> (8 * i));
    assert_int_equal(tsl_bundle_open(copy, a.len, &bu, &d), TSL_EVERSION);
    assert_non_null(strstr(d.msg, "version 2"));

    tsl_free(copy);
    tsl_wbuf_release(&a);
    for (size_t i = 0; i < NKINDS; i++) tsl_model_free(models[i]);
}

/* 10,000 items: each found by binary search and decoded alone. */
static void test_ten_thousand(void **state) {
    (void)state;
    enum { N = 10000 };
    tsl_bundle_builder *b = tsl_bundle_builder_new();
    tsl_diag d = {TSL_OK, {0}};
    tsl_model_spec spec;
    tsl_model_spec_init(&spec, TSL_MODEL_NAIVE, 1);
    /* Items added in a scrambled order; item k's last value is k, so its forecast says k. */
    for (size_t j = 0; j < N; j++) {
        size_t k = (j * 7919) % N;
        double y[3] = {1, 2, (double)k};
        tsl_model *m = NULL;
        assert_int_equal(tsl_model_fit(&spec, y, 3, &m, &d), TSL_OK);
        char item[32], group[32];
        snprintf(item, sizeof item, "item-%05zu", k);
        snprintf(group, sizeof group, "[\"g%zu\"]", k % 300);
        assert_int_equal(tsl_bundle_add(b, item, group, m, &d), TSL_OK);
        tsl_model_free(m);
    }
    tsl_wbuf out;
    tsl_wbuf_init(&out);
    assert_int_equal(tsl_bundle_builder_write(b, &out, &d), TSL_OK);
    tsl_bundle_builder_free(b);
    tsl_bundle *bu = NULL;
    assert_int_equal(tsl_bundle_open(out.data, out.len, &bu, &d), TSL_OK);
    assert_int_equal(tsl_bundle_count(bu), N);
    assert_int_equal(tsl_bundle_verify(bu, &d), TSL_OK);
    for (size_t k = 0; k < N; k += 37) {
        char item[32];
        snprintf(item, sizeof item, "item-%05zu", k);
        long at = tsl_bundle_find(bu, item);
        assert_int_equal(at, (long)k);
        tsl_bundle_entry e;
        tsl_bundle_entry_at(bu, (size_t)at, &e);
        char group[32];
        snprintf(group, sizeof group, "[\"g%zu\"]", k % 300);
        assert_string_equal(e.group, group);
        tsl_model *m = NULL;
        assert_int_equal(tsl_bundle_load(bu, (size_t)at, &m, &d), TSL_OK);
        double f[2];
        assert_int_equal(tsl_model_forecast(m, 2, NULL, 0, f, NULL, &d), TSL_OK);
        assert_true(f[0] == (double)k && f[1] == (double)k);
        tsl_model_free(m);
    }
    assert_int_equal(tsl_bundle_find(bu, "item-10000"), -1);
    assert_int_equal(tsl_bundle_find(bu, "item-"), -1);
    tsl_bundle_free(bu);
    tsl_wbuf_release(&out);
}

/* Dropping the metadata keeps the models loadable; dropping the bytes keeps the index: the same
 * entries in the same order, found the same, while the metadata is gone; a second drop changes
 * nothing. */
static void test_drop_bytes(void **state) {
    (void)state;
    tsl_model *models[NKINDS];
    for (size_t i = 0; i < NKINDS; i++) models[i] = fit(kinds[i], (unsigned)i);
    static const size_t fwd[NKINDS] = {0, 1, 2, 3, 4};
    tsl_wbuf a;
    tsl_wbuf_init(&a);
    build_five(models, fwd, &a);
    tsl_bundle *bu = NULL, *ref = NULL;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_bundle_open(a.data, a.len, &bu, &d), TSL_OK);
    assert_int_equal(tsl_bundle_open(a.data, a.len, &ref, &d), TSL_OK);
    /* The metadata alone: the models still load, the same as before. */
    tsl_bundle_drop_meta(bu);
    assert_string_equal(tsl_bundle_meta(bu), "");
    assert_int_equal(tsl_bundle_verify(bu, &d), TSL_OK);
    for (size_t i = 0; i < NKINDS; i++) {
        tsl_model *m = NULL;
        assert_int_equal(tsl_bundle_load(bu, (size_t)tsl_bundle_find(bu, items[i]), &m, &d),
                         TSL_OK);
        same_forecast(models[i], m);
        tsl_model_free(m);
    }
    for (int round = 0; round < 2; round++) {
        tsl_bundle_drop_bytes(bu);
        assert_string_equal(tsl_bundle_meta(bu), "");
        assert_int_equal(tsl_bundle_meta_len(bu), 0);
        assert_int_equal(tsl_bundle_count(bu), NKINDS);
        for (size_t i = 0; i < NKINDS; i++) {
            tsl_bundle_entry e, r;
            tsl_bundle_entry_at(bu, i, &e);
            tsl_bundle_entry_at(ref, i, &r);
            assert_string_equal(e.item_id, r.item_id);
            assert_string_equal(e.group, r.group);
            assert_int_equal(e.model_len, r.model_len);
            assert_int_equal(e.model_crc, r.model_crc);
            assert_int_equal(tsl_bundle_find(bu, items[i]), tsl_bundle_find(ref, items[i]));
        }
        assert_int_equal(tsl_bundle_find(bu, "nowhere"), -1);
    }
    tsl_bundle_free(bu);
    tsl_bundle_free(ref);
    tsl_wbuf_release(&a);
    for (size_t i = 0; i < NKINDS; i++) tsl_model_free(models[i]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),   cmocka_unit_test(test_drop_bytes),
        cmocka_unit_test(test_refusals),     cmocka_unit_test(test_corruption),
        cmocka_unit_test(test_ten_thousand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
