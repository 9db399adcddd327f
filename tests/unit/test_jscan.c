/*
 * test_jscan.c - the JSON scanner of served versions (src/core/jscan.c): members are found
 * past values that hold brackets, quotes and escapes inside strings, the first of duplicate
 * keys wins, truncated or malformed text is refused rather than read past its end, and on a
 * choices-like document written by jansson the scanner finds the same "end" of every item as
 * jansson's own parse of the whole tree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/jscan.h"
#include "tsloop/mem.h"

/* The member name of text as a new string ("" when absent, "!" when malformed). */
static char *member(const char *text, const char *name) {
    const char *v = NULL, *vend = NULL;
    int r = tsl_jscan_member(text, text + strlen(text), name, &v, &vend);
    if (r < 0) return tsl_strdup("!");
    if (r == 0) return tsl_strdup("");
    size_t n = (size_t)(vend - v);
    char *out = tsl_malloc(n + 1);
    memcpy(out, v, n);
    out[n] = '\0';
    return out;
}

/* Asserts member name of text is want. */
static void expect(const char *text, const char *name, const char *want) {
    char *got = member(text, name);
    assert_string_equal(got, want);
    tsl_free(got);
}

static void test_members(void **state) {
    (void)state;
    static const char doc[] =
        " {\"baseline\": {\"a\": [1, {\"}\": \"]}\"}], \"s\": \"x\\\"}y\"},\n"
        "  \"n\":-1.5e3 , \"t\":true, \"z\":null, \"e\":{}, \"l\":[[],[[]]],\n"
        "  \"settings\" : {\"frequency\": \"D\", \"horizon\": 7}, \"settings\": 2}";
    expect(doc, "settings", "{\"frequency\": \"D\", \"horizon\": 7}");
    expect(doc, "n", "-1.5e3");
    expect(doc, "t", "true");
    expect(doc, "z", "null");
    expect(doc, "e", "{}");
    expect(doc, "l", "[[],[[]]]");
    expect(doc, "s", ""); /* inside a value, not a member of the top object */
    expect(doc, "absent", "");
    expect("{}", "a", "");
    expect("{\"a\\\"b\": 1}", "a\\\"b", "1"); /* keys compare as written */
}

static void test_refusals(void **state) {
    (void)state;
    /* Every proper prefix of a document is refused, never read past. */
    static const char doc[] = "{\"a\": {\"b\": [1, \"2]\"]}, \"c\": \"d\\\\\", \"e\": 3}";
    for (size_t n = 0; n < sizeof doc - 1; n++) {
        char *cut = tsl_malloc(n + 1);
        memcpy(cut, doc, n);
        cut[n] = '\0';
        char *got = member(cut, "e");
        assert_string_equal(got, "!");
        tsl_free(got);
        tsl_free(cut);
    }
    expect(doc, "e", "3");
    expect(doc, "c", "\"d\\\\\"");
    expect("[1, 2]", "a", "!");
    expect("\"text\"", "a", "!");
    expect("", "a", "!");
    expect("{\"a\" 1}", "a", "!");
    expect("{\"a\": }", "a", "!");
    expect("{1: 2}", "a", "!");
}

static void test_walk_matches_jansson(void **state) {
    (void)state;
    /* A choices document as the training pipeline writes it, with awkward item ids. */
    json_t *items = json_object();
    static const char *const odd[] = {"plain",  "quo\"te",   "back\\slash", "{brace}",
                                      "é-utf8", "tab\there", "[",           "end"};
    size_t nodd = sizeof odd / sizeof odd[0];
    for (size_t i = 0; i < 200; i++) {
        char id[64];
        snprintf(id, sizeof id, "%s-%03zu", odd[i % nodd], i);
        json_t *it = json_object();
        json_object_set_new(it, "choice", json_string(i % 3 ? "ets" : "snaive"));
        json_object_set_new(it, "reason", json_string("best of {3} [\"candidates\"]"));
        json_object_set_new(it, "score", json_real(0.25 * (double)i));
        if (i % 7) json_object_set_new(it, "end", json_integer((json_int_t)(1700000000 + i)));
        json_object_set_new(items, id, it);
    }
    json_t *root = json_pack("{s:o, s:{s:s}}", "items", items, "failed", "x}", "boom");
    char *text = json_dumps(root, JSON_COMPACT);
    const char *end = text + strlen(text), *iv = NULL, *ivend = NULL;
    assert_int_equal(tsl_jscan_member(text, end, "items", &iv, &ivend), 1);
    const char *p = iv + 1, *key = NULL, *v = NULL, *vend = NULL;
    size_t klen = 0, seen = 0;
    int r;
    while ((r = tsl_jscan_next(&p, ivend, &key, &klen, &v, &vend)) == 1) {
        json_t *k = json_loadb(key - 1, klen + 2, JSON_DECODE_ANY, NULL);
        assert_non_null(json_string_value(k));
        json_t *want = json_object_get(json_object_get(items, json_string_value(k)), "end");
        const char *e = NULL, *eend = NULL;
        int found = tsl_jscan_member(v, vend, "end", &e, &eend);
        assert_int_equal(found, want ? 1 : 0);
        if (want) {
            json_t *got = json_loadb(e, (size_t)(eend - e), JSON_DECODE_ANY, NULL);
            assert_true(json_is_integer(got));
            assert_int_equal(json_integer_value(got), json_integer_value(want));
            json_decref(got);
        }
        json_decref(k);
        seen++;
    }
    assert_int_equal(r, 0);
    assert_int_equal(seen, json_object_size(items));
    free(text);
    json_decref(root);
}

/* Arrays are walked element by element, scalars, strings with brackets and nested values
 * alike; a truncated array is refused. */
static void test_elements(void **state) {
    (void)state;
    const char *text = "[1, \"a]\", {\"k\": [2, 3]}, [], null ]";
    const char *end = text + strlen(text), *p = text + 1, *v = NULL, *vend = NULL;
    static const char *const want[] = {"1", "\"a]\"", "{\"k\": [2, 3]}", "[]", "null"};
    size_t n = 0;
    int r;
    while ((r = tsl_jscan_element(&p, end, &v, &vend)) == 1) {
        assert_true(n < 5);
        assert_int_equal((size_t)(vend - v), strlen(want[n]));
        assert_memory_equal(v, want[n], strlen(want[n]));
        n++;
    }
    assert_int_equal(r, 0);
    assert_int_equal(n, 5);
    assert_ptr_equal(p, end);
    const char *cut = "[1, {\"k\": 2";
    p = cut + 1;
    assert_int_equal(tsl_jscan_element(&p, cut + strlen(cut), &v, &vend), 1);
    assert_int_equal(tsl_jscan_element(&p, cut + strlen(cut), &v, &vend), -1);
    p = "[]" + 1;
    assert_int_equal(tsl_jscan_element(&p, p + 1, &v, &vend), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elements),
        cmocka_unit_test(test_members),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_walk_matches_jansson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
