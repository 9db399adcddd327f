/*
 * test_tz.c - time zones and cron on a zone's wall clock, against Python's zoneinfo
 * (tests/data/tz/make_tz.py): offsets at many instants for Berlin, New York, Lord Howe (a
 * 30-minute daylight saving), Kolkata and UTC; every firing time of nine expressions around
 * each daylight-saving change of 2026-2027; local-to-UTC gaps and overlaps by hand; POSIX TZ
 * strings (southern hemisphere, J and n rules, negative daylight saving); fixed offsets; name
 * checks; and the errors of malformed TZif files (bad magic, truncation, bad counts).
 */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "tsloop/cron.h"
#include "tsloop/mem.h"
#include "tsloop/time.h"
#include "tsloop/tz.h"

static tsl_tz *load(const char *name) {
    tsl_tz *tz = NULL;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_tz_load(name, &tz, &d)) fail_msg("load %s: %s", name, d.msg);
    return tz;
}

static int64_t ts(const char *s) {
    int64_t t = 0;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_time_parse(s, strlen(s), &t, &d) != TSL_OK) fail_msg("parse %s: %s", s, d.msg);
    return t;
}

static void test_offsets_vs_python(void **state) {
    (void)state;
    FILE *f = fopen(tu_path("tz/offsets.txt"), "r");
    assert_non_null(f);
    char zone[64], cur[64] = "";
    long long u, off;
    tsl_tz *tz = NULL;
    size_t n = 0;
    while (fscanf(f, "%63s %lld %lld", zone, &u, &off) == 3) {
        if (strcmp(zone, cur)) {
            tsl_tz_free(tz);
            tz = load(zone);
            tsl_strlcpy(cur, zone, sizeof cur);
        }
        int32_t got = tsl_tz_offset(tz, u);
        if (got != off) fail_msg("%s at %lld: offset %d, Python %lld", zone, u, got, off);
        n++;
    }
    tsl_tz_free(tz);
    fclose(f);
    assert_true(n > 1000);
}

static void test_cron_vs_python(void **state) {
    (void)state;
    FILE *f = fopen(tu_path("tz/cron.txt"), "r");
    assert_non_null(f);
    char line[8192];
    size_t lines = 0, fires = 0;
    while (fgets(line, sizeof line, f)) {
        char *zone = strtok(line, "|"), *expr = strtok(NULL, "|");
        char *lo_s = strtok(NULL, "|"), *hi_s = strtok(NULL, "|"), *list = strtok(NULL, "\n");
        assert_non_null(hi_s);
        int64_t lo = strtoll(lo_s, NULL, 10), hi = strtoll(hi_s, NULL, 10);
        tsl_tz *tz = load(zone);
        tsl_cron c;
        tsl_diag d = {TSL_OK, {0}};
        assert_int_equal(tsl_cron_parse(expr, &c, &d), TSL_OK);
        int64_t want[1024];
        size_t nw = 0;
        for (char *p = list; p && *p && nw < 1024;) {
            char *e = NULL;
            want[nw++] = strtoll(p, &e, 10);
            p = e;
            while (*p == ' ') p++;
        }
        /* Chained from the window's start, and from just before and between firings. */
        int64_t t = lo, next = 0;
        for (size_t k = 0; k <= nw; k++) {
            assert_int_equal(tsl_cron_next_tz(&c, t, tz, &next, &d), TSL_OK);
            if (k == nw) {
                if (next <= hi) fail_msg("%s %s: extra firing %lld", zone, expr, (long long)next);
                break;
            }
            if (next != want[k])
                fail_msg("%s \"%s\" after %lld: %lld, Python %lld", zone, expr, (long long)t,
                         (long long)next, (long long)want[k]);
            int64_t prev = k ? want[k - 1] : lo;
            int64_t mids[2] = {want[k] - 1, prev + (want[k] - prev) / 2};
            for (int m = 0; m < 2; m++) {
                int64_t n2 = 0;
                assert_int_equal(tsl_cron_next_tz(&c, mids[m], tz, &n2, &d), TSL_OK);
                if (n2 != want[k])
                    fail_msg("%s \"%s\" after %lld: %lld, Python %lld", zone, expr,
                             (long long)mids[m], (long long)n2, (long long)want[k]);
            }
            t = next;
            fires++;
        }
        tsl_tz_free(tz);
        lines++;
    }
    fclose(f);
    assert_int_equal(lines, 126);
    assert_true(fires > 1000);
}

/* The documented rules, on Berlin's 2026 changes, written out by hand. */
static void test_dst_rules_by_hand(void **state) {
    (void)state;
    tsl_tz *tz = load("Europe/Berlin");
    tsl_cron c;
    tsl_diag d = {TSL_OK, {0}};
    int64_t next = 0;
    /* 02:30 does not exist on 2026-03-29: fires at the change, 03:00 CEST = 01:00Z. */
    assert_int_equal(tsl_cron_parse("30 2 * * *", &c, &d), TSL_OK);
    assert_int_equal(tsl_cron_next_tz(&c, ts("2026-03-28T12:00:00Z"), tz, &next, &d), TSL_OK);
    assert_int_equal(next, ts("2026-03-29T01:00:00Z"));
    assert_int_equal(tsl_cron_next_tz(&c, next, tz, &next, &d), TSL_OK);
    assert_int_equal(next, ts("2026-03-30T00:30:00Z"));
    /* 02:30 happens twice on 2026-10-25: once, the first (CEST, 00:30Z). */
    assert_int_equal(tsl_cron_next_tz(&c, ts("2026-10-24T12:00:00Z"), tz, &next, &d), TSL_OK);
    assert_int_equal(next, ts("2026-10-25T00:30:00Z"));
    assert_int_equal(tsl_cron_next_tz(&c, next, tz, &next, &d), TSL_OK);
    assert_int_equal(next, ts("2026-10-26T01:30:00Z"));
    /* A day-ahead run at 10:00 follows the wall clock: 08:00Z in summer, 09:00Z in winter. */
    assert_int_equal(tsl_cron_parse("0 10 * * *", &c, &d), TSL_OK);
    assert_int_equal(tsl_cron_next_tz(&c, ts("2026-07-01T00:00:00Z"), tz, &next, &d), TSL_OK);
    assert_int_equal(next, ts("2026-07-01T08:00:00Z"));
    assert_int_equal(tsl_cron_next_tz(&c, ts("2026-12-01T00:00:00Z"), tz, &next, &d), TSL_OK);
    assert_int_equal(next, ts("2026-12-01T09:00:00Z"));
    /* Hourly runs by elapsed time: 00:00Z, 01:00Z (03:00 CEST) at spring; both 02:00 in
     * autumn. */
    assert_int_equal(tsl_cron_parse("0 * * * *", &c, &d), TSL_OK);
    assert_int_equal(tsl_cron_next_tz(&c, ts("2026-03-29T00:00:00Z"), tz, &next, &d), TSL_OK);
    assert_int_equal(next, ts("2026-03-29T01:00:00Z"));
    assert_int_equal(tsl_cron_next_tz(&c, ts("2026-10-25T00:00:00Z"), tz, &next, &d), TSL_OK);
    assert_int_equal(next, ts("2026-10-25T01:00:00Z"));
    assert_int_equal(tsl_cron_next_tz(&c, next, tz, &next, &d), TSL_OK);
    assert_int_equal(next, ts("2026-10-25T02:00:00Z"));
    /* Two skipped times of one gap fire once. */
    assert_int_equal(tsl_cron_parse("0,30 2 * * *", &c, &d), TSL_OK);
    assert_int_equal(tsl_cron_next_tz(&c, ts("2026-03-29T00:59:00Z"), tz, &next, &d), TSL_OK);
    assert_int_equal(next, ts("2026-03-29T01:00:00Z"));
    assert_int_equal(tsl_cron_next_tz(&c, next, tz, &next, &d), TSL_OK);
    assert_int_equal(next, ts("2026-03-30T00:00:00Z"));
    tsl_tz_free(tz);
}

static void test_from_local(void **state) {
    (void)state;
    tsl_tz *tz = load("Europe/Berlin");
    tsl_tz_local m;
    tsl_tz_from_local(tz, ts("2026-03-29T02:30:00Z"), &m); /* a local time, read as UTC */
    assert_int_equal(m.n, 0);
    assert_int_equal(m.gap_end, ts("2026-03-29T01:00:00Z"));
    tsl_tz_from_local(tz, ts("2026-10-25T02:30:00Z"), &m);
    assert_int_equal(m.n, 2);
    assert_int_equal(m.utc[0], ts("2026-10-25T00:30:00Z"));
    assert_int_equal(m.utc[1], ts("2026-10-25T01:30:00Z"));
    tsl_tz_from_local(tz, ts("2026-06-01T12:00:00Z"), &m);
    assert_int_equal(m.n, 1);
    assert_int_equal(m.utc[0], ts("2026-06-01T10:00:00Z"));
    assert_int_equal(tsl_tz_max_fallback(tz) >= 3600, 1);
    tsl_tz_free(tz);
    /* Lord Howe: the 30-minute gap 02:00-02:30 on 2026-10-04. */
    tz = load("Australia/Lord_Howe");
    tsl_tz_from_local(tz, ts("2026-10-04T02:15:00Z"), &m);
    assert_int_equal(m.n, 0);
    assert_int_equal(m.gap_end, ts("2026-10-03T15:30:00Z"));
    tsl_tz_free(tz);
}

static void test_posix_strings(void **state) {
    (void)state;
    tsl_tz *tz = NULL;
    tsl_diag d = {TSL_OK, {0}};
    /* Southern: daylight time across the new year. */
    assert_int_equal(tsl_tz_parse_posix("<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", &tz, &d), TSL_OK);
    assert_int_equal(tsl_tz_offset(tz, ts("2027-01-15T00:00:00Z")), 11 * 3600);
    assert_int_equal(tsl_tz_offset(tz, ts("2027-06-15T00:00:00Z")), 10 * 3600 + 1800);
    tsl_tz_free(tz);
    /* Negative daylight saving (Dublin): winter is the "daylight" GMT. */
    assert_int_equal(tsl_tz_parse_posix("IST-1GMT0,M10.5.0,M3.5.0/1", &tz, &d), TSL_OK);
    assert_int_equal(tsl_tz_offset(tz, ts("2027-01-15T00:00:00Z")), 0);
    assert_int_equal(tsl_tz_offset(tz, ts("2027-07-15T00:00:00Z")), 3600);
    assert_int_equal(tsl_tz_max_fallback(tz), 3600);
    tsl_tz_free(tz);
    /* J and n rules: day 60 is March 1 under J in a leap year, March 1 (0-based 60) under n. */
    assert_int_equal(tsl_tz_parse_posix("AAA0BBB,J60/0,J300/0", &tz, &d), TSL_OK);
    assert_int_equal(tsl_tz_offset(tz, ts("2028-02-29T23:59:59Z")), 0);
    assert_int_equal(tsl_tz_offset(tz, ts("2028-03-01T00:00:00Z")), 3600);
    assert_int_equal(tsl_tz_next_change(tz, ts("2028-02-29T12:00:00Z")),
                     ts("2028-03-01T00:00:00Z"));
    tsl_tz_free(tz);
    assert_int_equal(tsl_tz_parse_posix("AAA0BBB,59/0,300/0", &tz, &d), TSL_OK);
    assert_int_equal(tsl_tz_offset(tz, ts("2028-02-29T00:00:00Z")), 3600);
    tsl_tz_free(tz);
    assert_int_equal(tsl_tz_parse_posix("EST5", &tz, &d), TSL_OK);
    assert_int_equal(tsl_tz_offset(tz, 0), -5 * 3600);
    assert_int_equal(tsl_tz_next_change(tz, 0), INT64_MAX);
    tsl_tz_free(tz);
    static const char *const bad[] = {"E5",
                                      "EST",
                                      "EST5EDT",
                                      "EST5EDT,M3.2.0",
                                      "EST5EDT,M13.2.0,M11.1.0",
                                      "EST5EDT,M3.6.0,M11.1.0",
                                      "EST5EDT,M3.2.7,M11.1.0",
                                      "EST25",
                                      "<EST5",
                                      "EST5EDT,M3.2.0/168,M11.1.0",
                                      "EST5EDT,J0,J365",
                                      "EST5:6",
                                      "EST5x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        tsl_diag_clear(&d);
        if (tsl_tz_parse_posix(bad[i], &tz, &d) != TSL_EPARSE) fail_msg("accepted %s", bad[i]);
        assert_null(tz);
        assert_non_null(strstr(d.msg, "position"));
    }
}

static void test_fixed_and_names(void **state) {
    (void)state;
    tsl_tz *tz = NULL;
    tsl_diag d = {TSL_OK, {0}};
    static const struct {
        const char *name;
        int32_t off;
    } ok[] = {{"UTC", 0},       {"Z", 0},       {"+05:30", 19800},      {"-08:00", -28800},
              {"+0530", 19800}, {"+05", 18000}, {"Asia/Kolkata", 19800}};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        assert_int_equal(tsl_tz_load(ok[i].name, &tz, &d), TSL_OK);
        assert_int_equal(tsl_tz_offset(tz, ts("2026-07-01T00:00:00Z")), ok[i].off);
        assert_string_equal(tsl_tz_name(tz), ok[i].name);
        tsl_tz_free(tz);
    }
    static const struct {
        const char *name;
        tsl_err code;
        const char *msg;
    } bad[] = {{"../etc/passwd", TSL_EINVAL, "\"..\""},
               {"Europe/../../etc/passwd", TSL_EINVAL, "\"..\""},
               {"/etc/passwd", TSL_EINVAL, "absolute"},
               {"Europe/Nowhere", TSL_ENOTFOUND, "/usr/share/zoneinfo"},
               {"Europe", TSL_ENOTFOUND, "not a zone file"},
               {"+25:00", TSL_EINVAL, "18 hours"},
               {"+5", TSL_EINVAL, "+hh:mm"},
               {"Europe/Ber lin", TSL_EINVAL, "character 11"},
               {"", TSL_EINVAL, "1 to"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        tsl_diag_clear(&d);
        assert_int_equal(tsl_tz_load(bad[i].name, &tz, &d), bad[i].code);
        assert_null(tz);
        if (!strstr(d.msg, bad[i].msg)) fail_msg("%s: \"%s\"", bad[i].name, d.msg);
    }
}

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char *b = tsl_malloc(TSL_TZ_MAX_FILE);
    *n = fread(b, 1, TSL_TZ_MAX_FILE, f);
    fclose(f);
    return b;
}

static void test_tzif_errors(void **state) {
    (void)state;
    size_t n = 0;
    unsigned char *b = slurp("/usr/share/zoneinfo/Europe/Berlin", &n);
    tsl_tz *tz = NULL;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_tz_parse_tzif(b, n, "Berlin", &tz, &d), TSL_OK);
    tsl_tz_free(tz);
    /* Every truncation is refused with a message, never read past. */
    for (size_t k = 0; k < n; k++) {
        tsl_diag_clear(&d);
        unsigned char *cut = tsl_malloc(k ? k : 1);
        memcpy(cut, b, k);
        if (tsl_tz_parse_tzif(cut, k, "Berlin", &tz, &d) == TSL_OK)
            fail_msg("accepted the first %zu bytes", k);
        assert_non_null(strstr(d.msg, "Berlin"));
        tsl_free(cut);
    }
    tsl_diag_clear(&d);
    assert_int_equal(tsl_tz_parse_tzif(b, 10, "Berlin", &tz, &d), TSL_EPARSE);
    assert_non_null(strstr(d.msg, "truncated"));
    b[0] = 'X';
    tsl_diag_clear(&d);
    assert_int_equal(tsl_tz_parse_tzif(b, n, "Berlin", &tz, &d), TSL_EPARSE);
    assert_non_null(strstr(d.msg, "magic"));
    b[0] = 'T';
    b[4] = '9';
    tsl_diag_clear(&d);
    assert_int_equal(tsl_tz_parse_tzif(b, n, "Berlin", &tz, &d), TSL_EPARSE);
    assert_non_null(strstr(d.msg, "version"));
    b[4] = '2';
    b[36] = b[37] = b[38] = b[39] = 0; /* typecnt 0 */
    tsl_diag_clear(&d);
    assert_int_equal(tsl_tz_parse_tzif(b, n, "Berlin", &tz, &d), TSL_EPARSE);
    assert_non_null(strstr(d.msg, "counts"));
    tsl_free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offsets_vs_python), cmocka_unit_test(test_cron_vs_python),
        cmocka_unit_test(test_dst_rules_by_hand), cmocka_unit_test(test_from_local),
        cmocka_unit_test(test_posix_strings),     cmocka_unit_test(test_fixed_and_names),
        cmocka_unit_test(test_tzif_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
