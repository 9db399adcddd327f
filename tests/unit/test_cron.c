/*
 * test_cron.c - crontab expressions: every syntax form and its canonical text, every error
 * message, next firing times computed by hand (leap days, month ends, year ends, Vixie's
 * day-of-month OR day-of-week rule, fixed UTC offsets, the end of the time range), and a
 * minute-by-minute reference scan that checks tsl_cron_next on many expressions and origins.
 */
#include "testutil.h"

#include <string.h>

#include "tsloop/cron.h"
#include "tsloop/time.h"

/* The timestamp of an ISO text, failing the test when it does not parse. */
static int64_t ts(const char *s) {
    int64_t t = 0;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_time_parse(s, strlen(s), &t, &d) != TSL_OK) fail_msg("parse %s: %s", s, d.msg);
    return t;
}

/* t as ISO text, in one of four rotating static buffers. */
static const char *fmt_t(int64_t t) {
    static char buf[4][64];
    static int slot;
    char *b = buf[slot++ % 4];
    tsl_time_format(t, 0, b, sizeof buf[0]);
    return b;
}

/* expr parsed, failing the test with the message when it does not parse. */
static tsl_cron parse_ok(const char *expr) {
    tsl_cron c;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_cron_parse(expr, &c, &d) != TSL_OK) fail_msg("parse \"%s\": %s", expr, d.msg);
    return c;
}

/* expr parses, formats as want, and the formatted text parses back to the same masks. */
static void expect_format(const char *expr, const char *want) {
    tsl_cron c = parse_ok(expr);
    char buf[256];
    size_t n = tsl_cron_format(&c, buf, sizeof buf);
    if (n != strlen(buf)) fail_msg("format \"%s\": length %zu for \"%s\"", expr, n, buf);
    if (strcmp(buf, want)) fail_msg("format \"%s\": got \"%s\", want \"%s\"", expr, buf, want);
    tsl_cron back = parse_ok(buf);
    if (memcmp(&back, &c, sizeof c)) fail_msg("\"%s\" -> \"%s\" does not parse back", expr, buf);
}

/* expr is refused with exactly msg. */
static void expect_error(const char *expr, const char *msg) {
    tsl_cron c;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_cron_parse(expr, &c, &d) != TSL_EINVAL) fail_msg("\"%s\" parsed", expr);
    if (strcmp(d.msg, msg)) fail_msg("\"%s\":\n got  %s\n want %s", expr, d.msg, msg);
}

/* The next firing of expr after `after` at offset off is want. */
static void expect_next(const char *expr, const char *after, int32_t off, const char *want) {
    tsl_cron c = parse_ok(expr);
    int64_t t = 0;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_cron_next(&c, ts(after), off, &t, &d) != TSL_OK)
        fail_msg("next \"%s\" after %s: %s", expr, after, d.msg);
    if (t != ts(want))
        fail_msg("next \"%s\" after %s (offset %d): got %s, want %s", expr, after, (int)off,
                 fmt_t(t), want);
}

static void test_forms(void **state) {
    (void)state;
    expect_format("* * * * *", "* * * * *");
    expect_format("  0   10 * * *  ", "0 10 * * *");
    expect_format("\t*/15 * * * *", "*/15 * * * *");
    expect_format("0,15,30,45 * * * *", "*/15 * * * *"); /* minutes have no star flag */
    expect_format("0,30 * * * *", "0,30 * * * *");       /* two values stay a list */
    expect_format("5/15 * * * *", "5,20,35,50 * * * *");
    expect_format("0 9-17 * * 1-5", "0 9-17 * * 1-5");
    expect_format("0 9-17/2 * * *", "0 9,11,13,15,17 * * *");
    expect_format("0 0 1,15 * *", "0 0 1,15 * *");
    expect_format("0 0 1-3,10,20-21 * *", "0 0 1-3,10,20,21 * *");
    expect_format("0 0 * JAN-MAR mon,WED", "0 0 * 1-3 1,3");
    expect_format("0 0 * * 7", "0 0 * * 0"); /* 7 is Sunday too */
    expect_format("0 0 * * 5-7", "0 0 * * 0,5,6");
    expect_format("0 0 * * 0-7", "0 0 * * 0-6"); /* restricted, so never written as * */
    expect_format("0 0 1-31 * *", "0 0 1-31 * *");
    expect_format("0 0 */2 * *", "0 0 */2 * *"); /* starred day fields keep their star */
    expect_format("0 0 * * */2", "0 0 * * */2");
    expect_format("0 0 * * */7", "0 0 * * */7");
    expect_format("0 0 * 1,4,7,10 *", "0 0 * */3 *");
    expect_format("0 0 * 1,7 *", "0 0 * 1,7 *");
    expect_format("59 23 31 12 *", "59 23 31 12 *");
    expect_format("0 0 * * SUN", "0 0 * * 0");
    expect_format("@yearly", "0 0 1 1 *");
    expect_format("@ANNUALLY", "0 0 1 1 *");
    expect_format("@monthly", "0 0 1 * *");
    expect_format("@weekly", "0 0 * * 0");
    expect_format("@daily", "0 0 * * *");
    expect_format("@midnight", "0 0 * * *");
    expect_format(" @hourly ", "0 * * * *");

    tsl_cron c = parse_ok("*/10 */6 */2 * */3");
    assert_int_equal(c.flags, TSL_CRON_MDAY_STAR | TSL_CRON_WDAY_STAR);
    assert_true(c.minutes ==
                (1ULL | 1ULL << 10 | 1ULL << 20 | 1ULL << 30 | 1ULL << 40 | 1ULL << 50));
    assert_int_equal(c.hours, 1u | 1u << 6 | 1u << 12 | 1u << 18);
    assert_int_equal(c.wdays, 1u | 1u << 3 | 1u << 6);
    assert_int_equal(c.months, 0x1FFE);
    c = parse_ok("0 0 1 * MON");
    assert_int_equal(c.flags, 0);

    char small[8];
    size_t need = tsl_cron_format(&c, small, sizeof small);
    assert_int_equal(need, strlen("0 0 1 * 1"));
    assert_string_equal(small, "0 0 1 *"); /* truncated, terminated */
}

static void test_errors(void **state) {
    (void)state;
    expect_error("", "cron expression \"\" has 0 fields, expected five: minute hour "
                     "day-of-month month day-of-week (e.g. \"0 10 * * *\" for 10:00 daily)");
    expect_error("0 10 * *", "cron expression \"0 10 * *\" has 4 fields, expected five: minute "
                             "hour day-of-month month day-of-week (e.g. \"0 10 * * *\" for "
                             "10:00 daily)");
    expect_error("0 0 10 * * ? *",
                 "cron expression \"0 0 10 * * ? *\" has 7 fields, expected the five of crontab "
                 "(minute hour day-of-month month day-of-week), without seconds or years");
    expect_error("0 0 10 * * *",
                 "cron expression \"0 0 10 * * *\" has 6 fields, expected the five of crontab "
                 "(minute hour day-of-month month day-of-week), without seconds or years");
    expect_error("60 * * * *", "minute field \"60\": value out of range, expected 0-59");
    expect_error("0 24 * * *", "hour field \"24\": value out of range, expected 0-23");
    expect_error("0 0 0 * *", "day-of-month field \"0\": value out of range, expected 1-31");
    expect_error("0 0 32 * *", "day-of-month field \"32\": value out of range, expected 1-31");
    expect_error("0 0 * 13 *", "month field \"13\": value out of range, expected 1-12");
    expect_error("0 0 * * 8", "day-of-week field \"8\": value out of range, expected 0-7");
    expect_error("0000 * * * *", "minute field \"0000\": value out of range, expected 0-59");
    expect_error("0 0 * * ?", "day-of-week field \"?\": '?' is EventBridge syntax, not "
                              "crontab's, expected '*'");
    expect_error("0 0 L * *", "day-of-month field \"L\": 'L', 'W' and '#' are not crontab "
                              "syntax, expected values, ranges, steps and lists");
    expect_error("0 0 * * 1#2", "day-of-week field \"1#2\": unexpected '#', expected values, "
                                "ranges a-b, steps /n and lists separated by ','");
    expect_error("0 0 * FOO *", "month field \"FOO\": expected a number 1-12 or a name JAN-DEC");
    expect_error("0 0 * * FOO",
                 "day-of-week field \"FOO\": expected a number 0-7 or a name SUN-SAT");
    expect_error("a * * * *", "minute field \"a\": expected a number 0-59");
    expect_error("0 mon * * *", "hour field \"mon\": expected a number 0-23");
    expect_error("0 17-9 * * *",
                 "hour field \"17-9\": range 17-9 runs backwards, expected the smaller value "
                 "first");
    expect_error("*/0 * * * *", "minute field \"*/0\": bad step, expected /1 to /60");
    expect_error("*/61 * * * *", "minute field \"*/61\": bad step, expected /1 to /60");
    expect_error("*/ * * * *", "minute field \"*/\": bad step, expected /1 to /60");
    expect_error("1, * * * *", "minute field \"1,\": unexpected ',', expected values, ranges "
                               "a-b, steps /n and lists separated by ','");
    expect_error("1,,2 * * * *", "minute field \"1,,2\": expected a number 0-59");
    expect_error("*,5 * * * *",
                 "minute field \"*,5\": '*' already allows every value, expected it alone, not "
                 "in a list");
    expect_error("5,* * * * *",
                 "minute field \"5,*\": '*' already allows every value, expected it alone, not "
                 "in a list");
    expect_error("1-5x * * * *", "minute field \"1-5x\": unexpected 'x', expected values, ranges "
                                 "a-b, steps /n and lists separated by ','");
    expect_error("@reboot", "unknown cron macro \"@reboot\", expected @yearly, @annually, "
                            "@monthly, @weekly, @daily, @midnight or @hourly");
    expect_error("0 0 30 2 *",
                 "cron expression \"0 0 30 2 *\" never fires: none of its days of month occurs "
                 "in its months, expected a day that exists (at most 30 in April, June, "
                 "September, November; 29 in February)");
    expect_error("0 0 31 4,6,9,11 *",
                 "cron expression \"0 0 31 4,6,9,11 *\" never fires: none of its days of month "
                 "occurs in its months, expected a day that exists (at most 30 in April, June, "
                 "September, November; 29 in February)");
    /* With day-of-week restricted too, "either" makes it fire on the weekdays. */
    parse_ok("0 0 31 4 MON");
    parse_ok("0 0 29 2 *"); /* leap years only, but it fires */
    char longx[TSL_CRON_MAX_LEN + 8];
    memset(longx, ' ', sizeof longx - 1);
    longx[sizeof longx - 1] = '\0';
    expect_error(longx, "cron expression of 263 bytes, expected at most 256");
}

static void test_next_by_hand(void **state) {
    (void)state;
    expect_next("0 10 * * *", "2024-03-01T09:59:59Z", 0, "2024-03-01T10:00:00Z");
    expect_next("0 10 * * *", "2024-03-01T10:00:00Z", 0, "2024-03-02T10:00:00Z"); /* strictly */
    expect_next("0 10 * * *", "2024-03-01T10:00:01Z", 0, "2024-03-02T10:00:00Z");
    expect_next("*/15 * * * *", "2024-03-01T10:07:30Z", 0, "2024-03-01T10:15:00Z");
    expect_next("*/15 * * * *", "2024-03-01T23:50:00Z", 0, "2024-03-02T00:00:00Z");
    expect_next("* * * * *", "2024-03-01T10:07:00Z", 0, "2024-03-01T10:08:00Z");
    expect_next("0 * * * *", "2024-03-01T10:00:00Z", 0, "2024-03-01T11:00:00Z");
    expect_next("30 9-10 * * *", "2024-03-01T10:30:00Z", 0, "2024-03-02T09:30:00Z");
    expect_next("30 9-10 * * *", "2024-03-01T09:45:00Z", 0, "2024-03-01T10:30:00Z");
    expect_next("15 23 * * *", "2024-03-01T23:20:00Z", 0, "2024-03-02T23:15:00Z");
    expect_next("45 8,20 * * *", "2024-03-01T08:50:00Z", 0, "2024-03-01T20:45:00Z");
    /* Leap days: 2100 is not a leap year, so after 2096 the next is 2104. */
    expect_next("0 0 29 2 *", "2024-03-01T00:00:00Z", 0, "2028-02-29T00:00:00Z");
    expect_next("0 0 29 2 *", "2096-03-01T00:00:00Z", 0, "2104-02-29T00:00:00Z");
    expect_next("0 0 31 * *", "2024-04-01T00:00:00Z", 0, "2024-05-31T00:00:00Z");
    expect_next("0 0 30 * *", "2024-01-30T12:00:00Z", 0, "2024-03-30T00:00:00Z"); /* no Feb 30 */
    expect_next("0 0 1 1 *", "2024-06-01T00:00:00Z", 0, "2025-01-01T00:00:00Z");
    expect_next("59 23 31 12 *", "2024-12-31T23:59:00Z", 0, "2025-12-31T23:59:00Z");
    expect_next("0 0 * 2 *", "2024-02-29T00:00:00Z", 0, "2025-02-01T00:00:00Z");
    /* Weekdays: 2024-03-01 is a Friday. */
    expect_next("0 12 * * 1-5", "2024-03-01T12:00:00Z", 0, "2024-03-04T12:00:00Z");
    expect_next("0 12 * * SAT,SUN", "2024-03-01T12:00:00Z", 0, "2024-03-02T12:00:00Z");
    expect_next("0 12 * * 7", "2024-03-01T12:00:00Z", 0, "2024-03-03T12:00:00Z");
    /* Both day fields restricted: either matches. 2024-01-01 is a Monday. */
    expect_next("0 0 1 * MON", "2023-12-31T00:00:00Z", 0, "2024-01-01T00:00:00Z");
    expect_next("0 0 1 * MON", "2024-01-01T00:00:00Z", 0, "2024-01-08T00:00:00Z");
    expect_next("0 0 1 * MON", "2024-01-29T00:00:00Z", 0, "2024-02-01T00:00:00Z");
    expect_next("0 0 31 4 MON", "2024-04-01T00:00:00Z", 0, "2024-04-08T00:00:00Z");
    /* A starred day field makes them combine with AND (Vixie): odd days that are Mondays. */
    expect_next("0 0 */2 * MON", "2023-12-31T00:00:00Z", 0, "2024-01-01T00:00:00Z");
    expect_next("0 0 */2 * MON", "2024-01-01T00:00:00Z", 0, "2024-01-15T00:00:00Z");
    expect_next("0 0 13 * */7", "2024-01-01T00:00:00Z", 0, "2024-10-13T00:00:00Z"); /* Sunday */
    /* Fixed offsets: the schedule reads the clock of UTC+offset. */
    expect_next("0 10 * * *", "2024-03-01T00:00:00Z", 7200, "2024-03-01T08:00:00Z");
    expect_next("0 10 * * *", "2024-03-01T00:00:00Z", -5 * 3600, "2024-03-01T15:00:00Z");
    expect_next("0 10 * * *", "2024-03-01T04:30:00Z", 19800, "2024-03-02T04:30:00Z");
    expect_next("0 0 1 * *", "2024-02-29T22:59:00Z", 3600, "2024-02-29T23:00:00Z");
    /* 20:00Z on Sunday is 10:00 on Monday at +14:00: the next local Monday midnight. */
    expect_next("0 0 * * MON", "2024-03-03T20:00:00Z", 14 * 3600, "2024-03-10T10:00:00Z");
    /* Before 1970, and seconds in the origin. */
    expect_next("* * * * *", "1969-12-31T23:59:30Z", 0, "1970-01-01T00:00:00Z");
    expect_next("0 0 * * *", "1900-02-28T12:00:00Z", 0, "1900-03-01T00:00:00Z"); /* not leap */

    tsl_cron c = parse_ok("0 0 1 1 *");
    int64_t t;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_cron_next(&c, ts("9999-06-01T00:00:00Z"), 0, &t, &d), TSL_EINVAL);
    assert_string_equal(d.msg, "schedule \"0 0 1 1 *\" does not fire before 10000");
    assert_int_equal(tsl_cron_next(&c, TSL_TIME_MAX, 0, &t, &d), TSL_EINVAL);
    assert_string_equal(d.msg, "no firing time after 9999-12-31");
    assert_int_equal(tsl_cron_next(&c, 0, 18 * 3600 + 1, &t, &d), TSL_EINVAL);
    assert_string_equal(d.msg, "UTC offset of 64801 seconds, expected at most 18 hours");
    assert_int_equal(tsl_cron_next(&c, INT64_MIN, 0, &t, &d), TSL_OK);
    assert_string_equal(fmt_t(t), "0001-01-01T00:00:00Z"); /* from the start of the range */
}

/* Reference matcher: the civil fields of local time t against the expression's masks. */
static int ref_matches(const tsl_cron *c, int64_t t) {
    int y, mo, dd, h, mi, s;
    tsl_time_civil(t, &y, &mo, &dd, &h, &mi, &s);
    int wd = (tsl_time_weekday(t) + 1) % 7;
    if (!(c->minutes >> mi & 1) || !(c->hours >> h & 1) || !(c->months >> mo & 1)) return 0;
    int md = (int)(c->mdays >> dd & 1), w = c->wdays >> wd & 1;
    return (c->flags & (TSL_CRON_MDAY_STAR | TSL_CRON_WDAY_STAR)) ? md && w : md || w;
}

/* Every expression, from several origins and offsets, against a minute-by-minute scan. */
static void test_next_against_scan(void **state) {
    (void)state;
    static const char *const exprs[] = {
        "* * * * *",   "*/7 * * * *",   "0 */5 * * *",       "13 7 * * *",
        "0 0 * * 1-5", "30 18 * * SAT", "0 0 1,15 * *",      "0 6 31 * *",
        "0 0 1 * MON", "5 4 */2 * 2",   "0 0 * * */3",       "59 23 * * 0",
        "0 12 29 2 *", "0 0 1 */3 *",   "*/20 9-17 * * 1-5", "0 0 13 * FRI",
    };
    static const int32_t offsets[] = {0, 3600, -7 * 3600, 19800, -12 * 3600 - 1800};
    const int64_t origins[] = {ts("2023-12-30T22:13:00Z"), ts("2024-02-27T00:00:00Z"),
                               ts("2024-12-31T23:59:59Z"), ts("1999-02-28T11:11:11Z")};
    size_t checked = 0;
    for (size_t e = 0; e < sizeof exprs / sizeof exprs[0]; e++) {
        tsl_cron c;
        tsl_diag d = {TSL_OK, {0}};
        if (tsl_cron_parse(exprs[e], &c, &d) != TSL_OK) fail_msg("%s: %s", exprs[e], d.msg);
        for (size_t o = 0; o < sizeof origins / sizeof origins[0]; o++) {
            for (size_t k = 0; k < sizeof offsets / sizeof offsets[0]; k++) {
                int64_t after = origins[o], got;
                /* Three successive firings, each checked against the scan. */
                for (int rep = 0; rep < 3; rep++) {
                    assert_int_equal(tsl_cron_next(&c, after, offsets[k], &got, &d), TSL_OK);
                    int64_t local = after + offsets[k];
                    int64_t m = (local >= 0 ? local / 60 : (local - 59) / 60) * 60 + 60;
                    /* Minute by minute, but a day or hour that cannot match is skipped
                     * whole (to its last minute; the loop adds the step past it). */
                    int64_t want = -1;
                    for (int64_t t = m; t < m + 6LL * 366 * 86400; t += 60) {
                        if (ref_matches(&c, t)) {
                            want = t - offsets[k];
                            break;
                        }
                        int y, mo, dd, h, mi, s;
                        tsl_time_civil(t, &y, &mo, &dd, &h, &mi, &s);
                        int wd = (tsl_time_weekday(t) + 1) % 7;
                        int md = (int)(c.mdays >> dd & 1), w = c.wdays >> wd & 1;
                        int day = (c.flags & (TSL_CRON_MDAY_STAR | TSL_CRON_WDAY_STAR)) ? md && w
                                                                                        : md || w;
                        if (!(c.months >> mo & 1) || !day)
                            t += ((23 - h) * 60 + (59 - mi)) * 60;
                        else if (!(c.hours >> h & 1))
                            t += (59 - mi) * 60;
                    }
                    if (got != want)
                        fail_msg("\"%s\" after %s offset %d: got %s, scan %s", exprs[e],
                                 fmt_t(after), (int)offsets[k], fmt_t(got), fmt_t(want));
                    after = got;
                    checked++;
                }
            }
        }
    }
    assert_true(checked >= 16 * 4 * 5 * 3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_next_by_hand),
        cmocka_unit_test(test_next_against_scan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
