/*
 * test_jobcsv.c - CSV job bodies (tsl_job_csv_items): the item column found by name among
 * others, quoting, duplicates dropped in first-seen order, another column named by the caller,
 * and errors that name the line and column.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tsloop/daemon.h"
#include "tsloop/mem.h"

static void free_items(char **v, size_t n) {
    for (size_t i = 0; i < n; i++) tsl_free(v[i]);
    tsl_free(v);
}

static void test_items(void **state) {
    (void)state;
    static const char body[] = "timestamp,item_id,mean\n"
                               "2026-01-01,lisbon,1\n"
                               "2026-01-02,\"sev,ille\",2\n"
                               "2026-01-03,lisbon,3\n"
                               "\n"
                               "2026-01-04,porto,x\n";
    char **v = NULL;
    size_t n = 0;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_job_csv_items(body, sizeof body - 1, NULL, 64, &v, &n, &d), TSL_OK);
    assert_int_equal(n, 3);
    assert_string_equal(v[0], "lisbon");
    assert_string_equal(v[1], "sev,ille");
    assert_string_equal(v[2], "porto");
    free_items(v, n);
    static const char other[] = "site\nb\na\nb\nb\na\nb\n";
    assert_int_equal(tsl_job_csv_items(other, sizeof other - 1, "site", 64, &v, &n, &d), TSL_OK);
    assert_int_equal(n, 2);
    assert_string_equal(v[0], "b");
    assert_string_equal(v[1], "a");
    free_items(v, n);
}

static void test_errors(void **state) {
    (void)state;
    char **v = NULL;
    size_t n = 0;
    tsl_diag d = {TSL_OK, {0}};
    static const char nocol[] = "site,x\na,1\n";
    assert_int_equal(tsl_job_csv_items(nocol, sizeof nocol - 1, NULL, 64, &v, &n, &d), TSL_EPARSE);
    assert_non_null(strstr(d.msg, "no column \"item_id\""));
    assert_null(v);
    static const char fields[] = "item_id,x\na,1\nb,2,3\n";
    assert_int_equal(tsl_job_csv_items(fields, sizeof fields - 1, NULL, 64, &v, &n, &d),
                     TSL_EPARSE);
    assert_non_null(strstr(d.msg, "body.csv:3"));
    static const char empty[] = "item_id,x\n\"\",1\n";
    assert_int_equal(tsl_job_csv_items(empty, sizeof empty - 1, NULL, 64, &v, &n, &d), TSL_EPARSE);
    assert_non_null(strstr(d.msg, "body.csv:2:1"));
    static const char none[] = "item_id\n";
    assert_int_equal(tsl_job_csv_items(none, sizeof none - 1, NULL, 64, &v, &n, &d), TSL_EINVAL);
    static const char quote[] = "item_id\n\"open\n";
    assert_int_equal(tsl_job_csv_items(quote, sizeof quote - 1, NULL, 64, &v, &n, &d), TSL_EPARSE);
    assert_int_equal(n, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_items),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
