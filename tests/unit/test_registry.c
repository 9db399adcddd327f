/*
 * test_registry.c - registry.h: group keys, the registry entries of model groups (clean values
 * kept as they are, cleaned ones marked with a hash, every name valid and distinct, length
 * caps), version references, a forecaster's versions across its group entries, and the
 * comparison of two versions' metrics and per-series choices.
 */
#include "testutil.h"

#include <string.h>

#include "tsloop/config.h"
#include "tsloop/mem.h"
#include "tsloop/registry.h"
#include "tsloop/store.h"

static void test_group_key(void **state) {
    (void)state;
    tsl_wbuf b;
    tsl_wbuf_init(&b);
    tsl_registry_group_key(NULL, 0, &b);
    assert_int_equal(b.len, 0);
    const char *v[] = {"north", "12", "qu\"ote"};
    tsl_registry_group_key(v, 3, &b);
    assert_string_equal(tsl_wbuf_cstr(&b), "[\"north\",\"12\",\"qu\\\"ote\"]");
    tsl_wbuf_release(&b);
}

/* The entry of forecaster's group with these values; fails the test on error. */
static const char *entry(const char *forecaster, const char *const *v, size_t n) {
    static char out[TSL_STORE_NAME_MAX + 1];
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_registry_entry_name(forecaster, v, n, out, &d)) fail_msg("%s", d.msg);
    if (!tsl_config_name_valid(out)) fail_msg("'%s' is not a valid name", out);
    return out;
}

/* 1 when s ends with "-" and 8 lower-case hex digits. */
static int hashed(const char *s) {
    size_t n = strlen(s);
    if (n < 9 || s[n - 9] != '-') return 0;
    for (size_t i = n - 8; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
}

static void test_entry_names(void **state) {
    (void)state;
    assert_string_equal(entry("solar", NULL, 0), "solar");
    const char *north[] = {"north"};
    assert_string_equal(entry("solar", north, 1), "solar.north");
    const char *two[] = {"eu-west", "store_12"};
    assert_string_equal(entry("sales", two, 2), "sales.eu-west.store_12");
    /* Cleaned values carry the hash of the exact key; clean ones never do. */
    const char *fr[] = {"\xc3\x8ele de France"};
    const char *e = entry("solar", fr, 1);
    assert_true(strncmp(e, "solar.-le-de-France-", 20) == 0);
    assert_true(hashed(e));
    assert_false(hashed(entry("solar", north, 1)));
    /* Values that clean to the same text stay apart. */
    const char *a[] = {"a-b"}, *b[] = {"a b"}, *c[] = {"a.b"}, *dd[] = {"a/b"};
    char ea[TSL_STORE_NAME_MAX + 1], eb[TSL_STORE_NAME_MAX + 1], ec[TSL_STORE_NAME_MAX + 1];
    tsl_strlcpy(ea, entry("f", a, 1), sizeof ea);
    tsl_strlcpy(eb, entry("f", b, 1), sizeof eb);
    tsl_strlcpy(ec, entry("f", c, 1), sizeof ec);
    assert_string_equal(ea, "f.a-b");
    assert_string_not_equal(ea, eb);
    assert_string_not_equal(eb, ec);
    assert_string_not_equal(ec, entry("f", dd, 1));
    /* One value "x.y" is not the two values "x", "y". */
    const char *xy[] = {"x.y"}, *x_y[] = {"x", "y"};
    tsl_strlcpy(ea, entry("f", xy, 1), sizeof ea);
    assert_string_equal(entry("f", x_y, 2), "f.x.y");
    assert_string_not_equal(ea, "f.x.y");
    /* An empty value. */
    const char *empty[] = {""};
    assert_true(hashed(entry("f", empty, 1)));
    /* Long values are cut to fit 64 bytes, hash kept. */
    char longv[200];
    memset(longv, 'v', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    const char *lv[] = {longv};
    e = entry("forecaster", lv, 1);
    assert_int_equal(strlen(e), TSL_STORE_NAME_MAX);
    assert_true(hashed(e));
    /* The longest forecaster name that still leaves room for a group: 55 bytes. */
    char f55[56], f56[57];
    memset(f55, 'f', 55);
    f55[55] = '\0';
    memset(f56, 'f', 56);
    f56[56] = '\0';
    e = entry(f55, north, 1);
    assert_int_equal(strlen(e), 61); /* fits: kept as it is */
    assert_false(hashed(e));
    const char *eight[] = {"northern"}, *nine[] = {"northern1"};
    assert_int_equal(strlen(entry(f55, eight, 1)), TSL_STORE_NAME_MAX);
    assert_false(hashed(entry(f55, eight, 1)));
    e = entry(f55, nine, 1); /* does not fit: only the hash is left */
    assert_int_equal(strlen(e), TSL_STORE_NAME_MAX);
    assert_int_equal(e[55], '.');
    for (size_t i = 56; i < 64; i++) assert_true(strchr("0123456789abcdef", e[i]) != NULL);
    char out[TSL_STORE_NAME_MAX + 1];
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_registry_entry_name(f56, north, 1, out, &d), TSL_EINVAL);
    assert_non_null(strstr(d.msg, "at most 55 characters"));
    assert_int_equal(tsl_registry_entry_name("bad name", NULL, 0, out, &d), TSL_EINVAL);
    /* Deterministic. */
    tsl_strlcpy(ea, entry("solar", fr, 1), sizeof ea);
    assert_string_equal(ea, entry("solar", fr, 1));
}

static void test_refs(void **state) {
    (void)state;
    char name[TSL_STORE_NAME_MAX + 1];
    int v = -1;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_registry_ref_parse("solar/3", name, &v, &d), TSL_OK);
    assert_string_equal(name, "solar");
    assert_int_equal(v, 3);
    assert_int_equal(tsl_registry_ref_parse("solar.north", name, &v, &d), TSL_OK);
    assert_string_equal(name, "solar.north");
    assert_int_equal(v, 0);
    static const char *const bad[] = {"/3",       "solar/",     "solar/x", "solar/0",
                                      "solar/-1", "bad name/1", "",        "a/1/2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(tsl_registry_ref_parse(bad[i], name, &v, &d), TSL_EINVAL);
        assert_non_null(strstr(d.msg, "expected"));
    }
}

/* Registers a version of entry with the given metrics and choices. */
static int reg(tsl_store *s, const char *entry_name, const char *metrics, const char *choices) {
    tsl_store_model_new m;
    memset(&m, 0, sizeof m);
    m.forecaster = entry_name;
    m.metrics = metrics;
    m.choices = choices;
    m.artifact = "x";
    m.artifact_len = 1;
    m.who = "tester";
    int version = 0;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_model_register(s, &m, NULL, &version, &d)) fail_msg("register: %s", d.msg);
    return version;
}

static void test_versions_and_diff(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/store.db", dir);
    tsl_store *s = NULL;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_store_open(path, NULL, &s, &d), TSL_OK);
    reg(s, "f", "{\"forecaster\":\"f\",\"score\":1.0}", "{\"items\":{}}");
    reg(s, "f.north", "{\"forecaster\":\"f\",\"score\":0.5}", "{}");
    reg(s, "g", "{\"forecaster\":\"g\"}", "{}");
    reg(s, "f.south", "{\"forecaster\":\"f\"}", "{}");
    /* An entry named like a group of f but registered by another forecaster is not f's. */
    reg(s, "f.other", "{\"forecaster\":\"h\"}", "{}");
    tsl_store_model *list = NULL;
    size_t n = 0;
    assert_int_equal(tsl_registry_versions(s, "f", &list, &n, &d), TSL_OK);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) assert_true(strcmp(list[i].forecaster, "f.other") != 0);
    /* Newest first. */
    assert_string_equal(list[0].forecaster, "f.south");
    assert_string_equal(list[2].forecaster, "f");
    tsl_store_model_list_free(list, n);
    assert_int_equal(tsl_registry_versions(s, NULL, &list, &n, &d), TSL_OK);
    assert_int_equal(n, 5);
    tsl_store_model_list_free(list, n);

    /* diff: metrics side by side, choices joined by item. */
    reg(s, "d",
        "{\"forecaster\":\"d\",\"score\":1.25,\"auto\":{\"mase\":1.3},\"series\":3,"
        "\"leaderboard\":[1,2]}",
        "{\"items\":{\"a\":{\"choice\":\"ets\",\"model\":\"ETS(A,N,N)\",\"score\":1.1},"
        "\"b\":{\"choice\":\"theta\",\"model\":\"Theta\",\"score\":0.9},"
        "\"c\":{\"choice\":\"naive\",\"model\":\"Naive\",\"score\":2.0}}}");
    reg(s, "d",
        "{\"forecaster\":\"d\",\"score\":1.0,\"champion\":{\"version\":1,\"score\":1.25},"
        "\"series\":3}",
        "{\"items\":{\"a\":{\"choice\":\"ets\",\"model\":\"ETS(A,N,N)\",\"score\":1.0},"
        "\"b\":{\"choice\":\"ets\",\"model\":\"ETS(A,A,N)\",\"score\":0.8},"
        "\"e\":{\"choice\":\"snaive\",\"model\":\"SNaive(7)\"}}}");
    tsl_registry_diff df;
    assert_int_equal(tsl_registry_diff_make(s, "d", 1, "d", 0, &df, &d), TSL_OK);
    assert_int_equal(df.a.version, 1);
    assert_int_equal(df.b.version, 2);
    assert_int_equal(df.same, 1);
    assert_int_equal(df.changed, 1);
    assert_int_equal(df.only_a, 1);
    assert_int_equal(df.only_b, 1);
    assert_int_equal(df.nrows, 4);
    static const char *const items[] = {"a", "b", "c", "e"};
    for (size_t i = 0; i < 4; i++) assert_string_equal(df.rows[i].item, items[i]);
    assert_string_equal(df.rows[1].a_choice, "theta");
    assert_string_equal(df.rows[1].b_model, "ETS(A,A,N)");
    tu_close(df.rows[1].b_score, 0.8, 0, 0, "b's score");
    assert_null(df.rows[2].b_choice);
    assert_true(isnan(df.rows[2].b_score));
    assert_null(df.rows[3].a_choice);
    assert_true(isnan(df.rows[3].b_score));
    /* Metrics: the union of numeric leaves, dotted, arrays left out, sorted. */
    static const char *const names[] = {"auto.mase", "champion.score", "champion.version", "score",
                                        "series"};
    assert_int_equal(df.nmetrics, 5);
    for (size_t i = 0; i < 5; i++) assert_string_equal(df.metrics[i].name, names[i]);
    tu_close(df.metrics[3].a, 1.25, 0, 0, "score a");
    tu_close(df.metrics[3].b, 1.0, 0, 0, "score b");
    assert_true(isnan(df.metrics[0].b));
    tsl_registry_diff_release(&df);
    assert_int_equal(tsl_registry_diff_make(s, "d", 3, "d", 1, &df, &d), TSL_ENOTFOUND);
    assert_int_equal(tsl_registry_diff_make(s, "nothing", 0, "d", 1, &df, &d), TSL_ENOTFOUND);
    tsl_store_close(s);
    tu_rmtree(dir);
    tsl_free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_key),
        cmocka_unit_test(test_entry_names),
        cmocka_unit_test(test_refs),
        cmocka_unit_test(test_versions_and_diff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
