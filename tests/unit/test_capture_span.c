/*
 * test_capture_span.c - tsl_store_capture_span and migration 14: a span read returns exactly
 * the captures of the endpoint and flag whose first target is at most the range's end and
 * whose last is at least its start (edges inclusive), in id order; and captures written before
 * migration 14 get their first and last target times backfilled from the targets blob, so a
 * store upgraded in place answers span reads as a new one does. tsl_store_capture_bounds gives
 * the least and greatest latest target per endpoint and flag.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "testutil.h"
#include "store/store_impl.h"
#include "tsloop/mem.h"
#include "tsloop/store.h"

/* Adds one capture of endpoint ep (shadow flag sh) with targets t[0..n); returns its id. */
static int64_t add(tsl_store *s, int64_t mid, const char *ep, int sh, const int64_t *t, size_t n) {
    double mean[8] = {0};
    tsl_store_capture_new v;
    tsl_diag d = {TSL_OK, {0}};
    tsl_store_capture *c = NULL;
    size_t nc = 0;
    assert_true(n <= 8);
    memset(&v, 0, sizeof v);
    v.inference_id = "req";
    v.endpoint = ep;
    v.model_id = mid;
    v.item = "a";
    v.steps = n;
    v.targets = t;
    v.mean = mean;
    v.shadow = sh;
    if (tsl_store_capture_add(s, &v, 1, &d)) fail_msg("capture add: %s", d.msg);
    if (sh ? tsl_store_capture_list_shadow(s, NULL, 0, 0, &c, &nc, &d)
           : tsl_store_capture_list(s, NULL, NULL, 0, 0, &c, &nc, &d))
        fail_msg("capture list: %s", d.msg);
    assert_true(nc > 0);
    int64_t id = c[nc - 1].id;
    tsl_store_capture_list_free(c, nc);
    return id;
}

/* Asserts that the span read of (ep, sh, from, to) returns exactly the ids want[0..nwant). */
static void expect_span(tsl_store *s, const char *ep, int sh, int64_t from, int64_t to,
                        const int64_t *want, size_t nwant) {
    tsl_store_capture *c = NULL;
    size_t n = 0;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_capture_span(s, ep, sh, from, to, &c, &n, &d))
        fail_msg("span %s %d [%lld, %lld]: %s", ep, sh, (long long)from, (long long)to, d.msg);
    if (n != nwant)
        fail_msg("span %s %d [%lld, %lld]: %zu captures, expected %zu", ep, sh, (long long)from,
                 (long long)to, n, nwant);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(c[i].id, want[i]);
        assert_int_equal(c[i].shadow, sh);
        assert_string_equal(c[i].endpoint, ep);
    }
    tsl_store_capture_list_free(c, n);
}

static void test_span_edges_and_flags(void **state) {
    tu_store_fx *f = *state;
    tsl_diag d = {TSL_OK, {0}};
    int64_t mid = tu_store_register(f->s, "solar", TSL_MODEL_APPROVED);
    const int64_t ta[] = {100, 200, 300}, tb[] = {400, 500}, te[] = {900, 250, 600};
    int64_t a = add(f->s, mid, "prod", 0, ta, 3);
    int64_t b = add(f->s, mid, "prod", 0, tb, 2);
    int64_t c = add(f->s, mid, "prod", 1, ta, 3); /* the shadow's forecast of the same times */
    int64_t dd = add(f->s, mid, "staging", 0, ta, 3);
    int64_t e = add(f->s, mid, "prod", 0, te, 3); /* stored out of order: spans 250..900 */

    /* edges inclusive: a ends at 300, b starts at 400 */
    expect_span(f->s, "prod", 0, 300, 400, (const int64_t[]){a, b, e}, 3);
    expect_span(f->s, "prod", 0, 0, 100, (const int64_t[]){a}, 1);
    expect_span(f->s, "prod", 0, 500, 500, (const int64_t[]){b, e}, 2);
    expect_span(f->s, "prod", 0, 900, 900, (const int64_t[]){e}, 1);
    expect_span(f->s, "prod", 0, 0, 99, NULL, 0);
    expect_span(f->s, "prod", 0, 901, 5000, NULL, 0);
    /* a capture straddling the range without a target in it is still returned */
    expect_span(f->s, "prod", 0, 301, 399, (const int64_t[]){e}, 1);
    expect_span(f->s, "prod", 0, INT64_MIN, INT64_MAX, (const int64_t[]){a, b, e}, 3);
    /* the shadow flag and the endpoint are respected */
    expect_span(f->s, "prod", 1, INT64_MIN, INT64_MAX, (const int64_t[]){c}, 1);
    expect_span(f->s, "prod", 1, 301, 1000, NULL, 0);
    expect_span(f->s, "staging", 0, 300, 300, (const int64_t[]){dd}, 1);
    expect_span(f->s, "nowhere", 0, INT64_MIN, INT64_MAX, NULL, 0);

    /* bounds: the least and the greatest latest target, per endpoint and flag */
    int64_t lo = -1, hi = -1;
    int found = -1;
    assert_int_equal(tsl_store_capture_bounds(f->s, "prod", 0, &lo, &hi, &found, &d), TSL_OK);
    assert_int_equal(found, 1);
    assert_int_equal(lo, 300); /* a's last target; b's is 500, e's 900 */
    assert_int_equal(hi, 900);
    assert_int_equal(tsl_store_capture_bounds(f->s, "prod", 1, &lo, &hi, &found, &d), TSL_OK);
    assert_int_equal(found, 1);
    assert_int_equal(lo, 300);
    assert_int_equal(hi, 300);
    lo = hi = -7;
    assert_int_equal(tsl_store_capture_bounds(f->s, "nowhere", 0, &lo, &hi, &found, &d), TSL_OK);
    assert_int_equal(found, 0);
    assert_int_equal(lo, -7); /* untouched */
    assert_int_equal(tsl_store_capture_bounds(f->s, "bad name!", 0, &lo, &hi, &found, &d),
                     TSL_EINVAL);

    tsl_store_capture *out = NULL;
    size_t n = 7;
    assert_int_equal(tsl_store_capture_span(f->s, "prod", 0, 10, 9, &out, &n, &d), TSL_EINVAL);
    assert_null(out);
    assert_int_equal(n, 0);
    assert_int_equal(tsl_store_capture_span(f->s, "bad name!", 0, 0, 9, &out, &n, &d), TSL_EINVAL);
}

/* The single integer the query sql answers on the file at path. */
static int64_t raw_int(const char *path, const char *sql) {
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK) fail_msg("raw open %s", path);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
        fail_msg("raw query %s: %s", sql, sqlite3_errmsg(db));
    int64_t v = sqlite3_column_type(st, 0) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void test_migration_backfills(void **state) {
    tu_store_fx *f = *state;
    tsl_diag d = {TSL_OK, {0}};
    tsl_store *s = NULL;
    tsl_store_opts o;
    char path[4200], *err = NULL;
    sqlite3 *db = NULL;
    snprintf(path, sizeof path, "%s/old.db", f->dir);
    memset(&o, 0, sizeof o);
    o.no_migrate = 1;
    if (tsl_store_open(path, &o, &s, &d)) fail_msg("open: %s", d.msg);
    assert_int_equal(tsl_sto_sqlite_migrate_to(s, 13, &d), TSL_OK);
    tsl_store_close(s);

    /* Two captures as a store at migration 13 holds them: targets {7200, 3600} and {86400};
     * the blobs are little-endian int64s. */
    if (sqlite3_open(path, &db) != SQLITE_OK) fail_msg("raw open %s", path);
    int rc = sqlite3_exec(
        db,
        "INSERT INTO captures(inference_id, endpoint, model_id, item, origin, at_ms, steps, nq, "
        "targets, levels, mean, quant) VALUES "
        "('r1', 'prod', 1, 'a', 0, 1, 2, 0, X'201C000000000000100E000000000000', X'', "
        "X'00000000000000000000000000000000', X''), "
        "('r2', 'prod', 1, 'a', 0, 1, 1, 0, X'8051010000000000', X'', X'0000000000000000', "
        "X'')",
        NULL, NULL, &err);
    if (rc != SQLITE_OK) fail_msg("raw insert: %s", err ? err : "?");
    sqlite3_close(db);

    /* Opening applies migration 14, which backfills. */
    s = NULL;
    if (tsl_store_open(path, NULL, &s, &d)) fail_msg("open: %s", d.msg);
    assert_int_equal(raw_int(path, "SELECT t_first FROM captures WHERE inference_id = 'r1'"), 3600);
    assert_int_equal(raw_int(path, "SELECT t_last FROM captures WHERE inference_id = 'r1'"), 7200);
    assert_int_equal(raw_int(path, "SELECT t_first FROM captures WHERE inference_id = 'r2'"),
                     86400);
    assert_int_equal(raw_int(path, "SELECT t_last FROM captures WHERE inference_id = 'r2'"), 86400);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM captures WHERE t_first IS NULL"), 0);
    int64_t r1 = raw_int(path, "SELECT id FROM captures WHERE inference_id = 'r1'");
    int64_t r2 = raw_int(path, "SELECT id FROM captures WHERE inference_id = 'r2'");
    expect_span(s, "prod", 0, 3600, 3600, (const int64_t[]){r1}, 1);
    expect_span(s, "prod", 0, 7201, 86399, NULL, 0);
    expect_span(s, "prod", 0, 7200, 86400, (const int64_t[]){r1, r2}, 2);

    /* A capture written after the migration is spanned like the backfilled ones. */
    const int64_t t3[] = {90000, 3000};
    int64_t r3 = add(s, 1, "prod", 0, t3, 2);
    expect_span(s, "prod", 0, 0, 3000, (const int64_t[]){r3}, 1);
    expect_span(s, "prod", 0, 3600, 3600, (const int64_t[]){r1, r3}, 2);
    tsl_store_close(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_span_edges_and_flags, tu_store_fx_setup,
                                        tu_store_fx_teardown),
        cmocka_unit_test_setup_teardown(test_migration_backfills, tu_store_fx_setup,
                                        tu_store_fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
