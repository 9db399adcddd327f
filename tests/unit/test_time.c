/*
 * test_time.c - timestamps (parse, format, civil arithmetic), frequencies (add, steps, parse,
 * format, describe, default periods) and frequency inference, including its failure messages.
 */
#include "testutil.h"

#include <string.h>

#include "tsloop/mem.h"
#include "tsloop/time.h"

static int64_t ts(const char *s) {
    int64_t t = 0;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_time_parse(s, strlen(s), &t, &d) != TSL_OK) fail_msg("parse %s: %s", s, d.msg);
    return t;
}

static const char *fmt(int64_t t) {
    static char buf[4][64];
    static int slot;
    char *b = buf[slot++ % 4];
    tsl_time_format(t, 0, b, sizeof buf[0]);
    return b;
}

static void expect_parse(const char *in, const char *want) {
    int64_t t = 0;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_time_parse(in, strlen(in), &t, &d) != TSL_OK) fail_msg("parse \"%s\": %s", in, d.msg);
    if (strcmp(fmt(t), want)) fail_msg("parse \"%s\": got %s, want %s", in, fmt(t), want);
}

static void expect_parse_error(const char *in, const char *msg_part) {
    int64_t t = 0;
    tsl_diag d = {TSL_OK, {0}};
    tsl_err e = tsl_time_parse(in, strlen(in), &t, &d);
    if (e != TSL_EPARSE) fail_msg("parse \"%s\": expected an error, got %s", in, fmt(t));
    if (!strstr(d.msg, msg_part))
        fail_msg("parse \"%s\": message \"%s\" lacks \"%s\"", in, d.msg, msg_part);
}

static void test_parse_forms(void **state) {
    (void)state;
    expect_parse("2024-03-01", "2024-03-01T00:00:00Z");
    expect_parse("2024-03", "2024-03-01T00:00:00Z");
    expect_parse("2024", "2024-01-01T00:00:00Z");
    expect_parse("2024-Q1", "2024-01-01T00:00:00Z");
    expect_parse("2024Q2", "2024-04-01T00:00:00Z");
    expect_parse("2024-q3", "2024-07-01T00:00:00Z");
    expect_parse("2024Q4", "2024-10-01T00:00:00Z");
    expect_parse("2024-03-01T10:00:00Z", "2024-03-01T10:00:00Z");
    expect_parse("2024-03-01t10:00:00z", "2024-03-01T10:00:00Z");
    expect_parse("2024-03-01 10:00", "2024-03-01T10:00:00Z");
    expect_parse("2024-03-01T10:00", "2024-03-01T10:00:00Z");
    expect_parse("2024-03-01T10:00:59", "2024-03-01T10:00:59Z");
    expect_parse("2024-03-01T10:00:00+02:00", "2024-03-01T08:00:00Z");
    expect_parse("2024-03-01T10:00:00-0530", "2024-03-01T15:30:00Z");
    expect_parse("2024-03-01T10:00:00+05", "2024-03-01T05:00:00Z");
    expect_parse("2024-03-01 10:00:00 +01:00", "2024-03-01T09:00:00Z");
    expect_parse("2024-03-01 10:00:00 UTC", "2024-03-01T10:00:00Z");
    expect_parse("2024-03-01T00:30:00+01:00", "2024-02-29T23:30:00Z"); /* across a leap day */
    expect_parse("2024-03-01T10:00:00.999Z", "2024-03-01T10:00:00Z");  /* truncated */
    expect_parse("2024-03-01T10:00:00,5", "2024-03-01T10:00:00Z");
    expect_parse("2024-03-01T10:00:00.123456789+00:00", "2024-03-01T10:00:00Z");
    expect_parse("  2024-03-01\t", "2024-03-01T00:00:00Z");
    expect_parse("1709251200", "2024-03-01T00:00:00Z");
    expect_parse("00000", "1970-01-01T00:00:00Z");
    expect_parse("-86400", "1969-12-31T00:00:00Z");
    expect_parse("-2208988800", "1900-01-01T00:00:00Z");
    expect_parse("1-10-01", "0001-10-01T00:00:00Z"); /* R's years below 1000 */
    expect_parse("12-01", "0012-01-01T00:00:00Z");
    expect_parse("0000-01-01", "0000-01-01T00:00:00Z");
    expect_parse("9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z");
}

static void test_parse_errors(void **state) {
    (void)state;
    const char *shape = "expected YYYY-MM-DD, YYYY-MM-DD[T ]HH:MM[:SS[.fff]]";
    expect_parse_error("", "empty timestamp");
    expect_parse_error("   ", "empty timestamp");
    expect_parse_error("01/02/2024", shape);
    expect_parse_error("2024/01/02", shape);
    expect_parse_error("24", shape);
    expect_parse_error("-1234", shape);
    expect_parse_error("2024-1-01", shape);
    expect_parse_error("2024-01-1", shape);
    expect_parse_error("2024-01-01T", shape);
    expect_parse_error("2024-01-01T10", shape);
    expect_parse_error("2024-01-01T10:00:00.", shape);
    expect_parse_error("2024-01-01T10:00:00Zjunk", shape);
    expect_parse_error("2024-01-01x", shape);
    expect_parse_error("2024-Q", shape);
    expect_parse_error("2024-Q12", shape);
    expect_parse_error("1-Q1", shape);
    expect_parse_error("abc", shape);
    expect_parse_error("2024-13-01", "month 13 is out of range");
    expect_parse_error("2024-00", "month 0 is out of range");
    expect_parse_error("2023-02-29", "day 29 is out of range for 2023-02");
    expect_parse_error("2100-02-29", "day 29 is out of range for 2100-02");
    expect_parse_error("1900-02-29", "day 29 is out of range for 1900-02");
    expect_parse_error("2024-04-31", "day 31 is out of range for 2024-04");
    expect_parse_error("2024-01-00", "day 0 is out of range");
    expect_parse_error("2024-01-01T24:00", "hour 24 is out of range");
    expect_parse_error("2024-01-01T10:60", "minute 60 is out of range");
    expect_parse_error("2024-01-01T23:59:60Z", "no leap seconds");
    expect_parse_error("2024-Q5", "quarter 5 is out of range");
    expect_parse_error("2024-01-01T10:00+24:00", "UTC offset +24:00 is out of range");
    expect_parse_error("2024-01-01T10:00+02:7", "malformed UTC offset");
    expect_parse_error("1700000000000", "epoch milliseconds are not accepted");
    expect_parse_error("999999999999", "epoch seconds out of range");
    expect_parse_error("0000-01-01T00:00:00+01:00", "out of range (years 0000 to 9999");
    /* A NULL diag still gets the code. */
    int64_t t;
    assert_int_equal(tsl_time_parse("x", 1, &t, NULL), TSL_EPARSE);
}

/* Every day from year 0 to 9999 converts to its civil date and back, and consecutive days
 * differ by one calendar day. */
static void test_civil_sweep(void **state) {
    (void)state;
    int64_t first = tsl_time_from_civil(0, 1, 1, 0, 0, 0);
    int64_t last = tsl_time_from_civil(9999, 12, 31, 0, 0, 0);
    assert_int_equal(first, TSL_TIME_MIN);
    assert_int_equal(last + 86399, TSL_TIME_MAX);
    int py = -1, pm = 12, pd = 31, pw = -1;
    for (int64_t t = first; t <= last; t += 86400) {
        int y, m, d, hh, mi, ss;
        tsl_time_civil(t, &y, &m, &d, &hh, &mi, &ss);
        assert_int_equal(hh + mi + ss, 0);
        assert_int_equal(tsl_time_from_civil(y, m, d, 0, 0, 0), t);
        if (d == 1) {
            assert_int_equal(pd, tsl_time_days_in_month(py, pm));
            assert_true((m == pm + 1 && y == py) || (m == 1 && pm == 12 && y == py + 1));
        } else {
            assert_true(d == pd + 1 && m == pm && y == py);
        }
        int w = tsl_time_weekday(t);
        if (pw >= 0) assert_int_equal(w, (pw + 1) % 7);
        py = y, pm = m, pd = d, pw = w;
    }
}

static void test_civil_edges(void **state) {
    (void)state;
    assert_int_equal(ts("1970-01-01"), 0);
    assert_int_equal(ts("1900-01-01"), -2208988800LL);
    assert_int_equal(ts("2000-02-29"), 951782400LL);
    assert_int_equal(ts("2100-03-01") - ts("2100-02-28"), 86400); /* 2100 is not leap */
    assert_int_equal(ts("2000-03-01") - ts("2000-02-28"), 2 * 86400);
    assert_int_equal(ts("1969-12-31T23:59:59Z"), -1);
    assert_int_equal(tsl_time_weekday(0), 3);                /* a Thursday */
    assert_int_equal(tsl_time_weekday(ts("1900-01-01")), 0); /* a Monday */
    assert_int_equal(tsl_time_weekday(ts("2024-03-03")), 6); /* a Sunday */
    assert_int_equal(tsl_time_weekday(-1), 2);               /* Wednesday 23:59:59 */
    int y, m, d, hh, mi, ss;
    tsl_time_civil(-1, &y, &m, &d, &hh, &mi, &ss);
    assert_true(y == 1969 && m == 12 && d == 31 && hh == 23 && mi == 59 && ss == 59);
    tsl_time_civil(ts("1600-02-29T12:34:56Z"), &y, &m, &d, &hh, &mi, &ss);
    assert_true(y == 1600 && m == 2 && d == 29 && hh == 12 && mi == 34 && ss == 56);
    /* Out-of-range parts carry over. */
    assert_int_equal(tsl_time_from_civil(2023, 13, 1, 0, 0, 0), ts("2024-01-01"));
    assert_int_equal(tsl_time_from_civil(2024, 0, 1, 0, 0, 0), ts("2023-12-01"));
    assert_int_equal(tsl_time_from_civil(2024, 3, 0, 0, 0, 0), ts("2024-02-29"));
    assert_int_equal(tsl_time_from_civil(2024, 1, 1, 25, 0, 0), ts("2024-01-02T01:00:00Z"));
    /* Years before 0 and after 9999 format with a sign. */
    char buf[64];
    tsl_time_format(tsl_time_from_civil(-44, 3, 15, 0, 0, 0), 1, buf, sizeof buf);
    assert_string_equal(buf, "-0044-03-15");
    tsl_time_format(tsl_time_from_civil(12345, 1, 1, 0, 0, 0), 0, buf, sizeof buf);
    assert_string_equal(buf, "+12345-01-01T00:00:00Z");
    tsl_time_civil(INT64_MAX, &y, &m, &d, &hh, &mi, &ss); /* must not overflow */
    assert_int_equal(y, INT32_MAX);
    tsl_time_format(INT64_MIN, 0, buf, sizeof buf);
    assert_true(buf[0] == '-');
}

static void test_format(void **state) {
    (void)state;
    char buf[64];
    assert_int_equal(tsl_time_format(ts("2024-03-01T10:20:30Z"), 0, buf, sizeof buf), 20);
    assert_string_equal(buf, "2024-03-01T10:20:30Z");
    assert_int_equal(tsl_time_format(ts("2024-03-01T10:20:30Z"), 1, buf, sizeof buf), 10);
    assert_string_equal(buf, "2024-03-01");
    /* As snprintf: the needed length, a terminated truncation, nothing written at cap 0. */
    char small[5] = "xxxx";
    assert_int_equal(tsl_time_format(0, 1, small, sizeof small), 10);
    assert_string_equal(small, "1970");
    assert_int_equal(tsl_time_format(0, 0, NULL, 0), 20);
    /* Round trips of the formatted text, dates and date-times, across the range. */
    for (int64_t t = TSL_TIME_MIN; t < TSL_TIME_MAX - 1000003; t += 999999937) {
        tsl_time_format(t, 0, buf, sizeof buf);
        int64_t back;
        assert_int_equal(tsl_time_parse(buf, strlen(buf), &back, NULL), TSL_OK);
        assert_int_equal(back, t);
    }
}

static tsl_freq fq(tsl_freq_unit u, int mult, int anchor) {
    tsl_freq f = {u, mult, anchor};
    return f;
}

static void expect_add(tsl_freq f, const char *from, int64_t k, const char *want) {
    int64_t t = tsl_freq_add(f, ts(from), k);
    if (t != ts(want))
        fail_msg("%s + %lld steps: got %s, want %s", from, (long long)k, fmt(t), want);
    int64_t back = 0;
    if (tsl_freq_steps(f, ts(from), t, &back) != TSL_OK || back != k)
        fail_msg("steps(%s, %s) = %lld, want %lld", from, want, (long long)back, (long long)k);
}

static void test_freq_add_steps(void **state) {
    (void)state;
    expect_add(fq(TSL_FREQ_MINUTE, 15, 0), "2024-01-01T23:30:00Z", 3, "2024-01-02T00:15:00Z");
    expect_add(fq(TSL_FREQ_HOUR, 1, 0), "2024-03-01", -1, "2024-02-29T23:00:00Z");
    expect_add(fq(TSL_FREQ_DAY, 1, 0), "1969-12-31", 2, "1970-01-02");
    expect_add(fq(TSL_FREQ_WEEK, 2, 0), "2024-01-01", 2, "2024-01-29");
    expect_add(fq(TSL_FREQ_SECOND, 1, 0), "1970-01-01", -1, "1969-12-31T23:59:59Z");
    /* Months keep the day, clamped, and the time of day. */
    expect_add(fq(TSL_FREQ_MONTH, 1, 0), "2024-01-15T10:00:00Z", 1, "2024-02-15T10:00:00Z");
    expect_add(fq(TSL_FREQ_MONTH, 1, 0), "2024-01-30", 1, "2024-02-29");
    expect_add(fq(TSL_FREQ_MONTH, 1, 0), "2024-01-30", 2, "2024-03-30");
    expect_add(fq(TSL_FREQ_MONTH, 1, 0), "2024-01-30", -2, "2023-11-30");
    /* Anchor 0 keeps month ends: Feb 29 steps to the end of March. */
    expect_add(fq(TSL_FREQ_MONTH, 1, 0), "2024-02-29", 1, "2024-03-31");
    expect_add(fq(TSL_FREQ_MONTH, 1, 0), "2023-04-30", 1, "2023-05-31");
    /* A fixed anchor: day 30 from Feb 28 goes to Mar 30; day 28 stays on the 28th. */
    expect_add(fq(TSL_FREQ_MONTH, 1, 30), "2023-02-28", 1, "2023-03-30");
    expect_add(fq(TSL_FREQ_MONTH, 1, 28), "2023-02-28", 1, "2023-03-28");
    expect_add(fq(TSL_FREQ_MONTH, 1, TSL_FREQ_MONTH_END), "2023-01-31", 1, "2023-02-28");
    expect_add(fq(TSL_FREQ_MONTH, 2, 0), "2023-11-01", 1, "2024-01-01");
    expect_add(fq(TSL_FREQ_QUARTER, 1, TSL_FREQ_MONTH_END), "2023-12-31T22:00:00Z", 1,
               "2024-03-31T22:00:00Z");
    expect_add(fq(TSL_FREQ_QUARTER, 1, 0), "2024-01-01", -1, "2023-10-01");
    expect_add(fq(TSL_FREQ_YEAR, 1, 0), "2024-02-29", 1, "2025-02-28");
    expect_add(fq(TSL_FREQ_YEAR, 1, 0), "2024-02-29", 4, "2028-02-29");
    expect_add(fq(TSL_FREQ_YEAR, 1, 1), "1900-01-01", 200, "2100-01-01");
    expect_add(fq(TSL_FREQ_YEAR, 1, 0), "0001-10-01", 1969, "1970-10-01");

    int64_t k = 0;
    tsl_freq h = fq(TSL_FREQ_HOUR, 1, 0), m = fq(TSL_FREQ_MONTH, 1, 0);
    assert_int_equal(tsl_freq_steps(h, ts("2024-01-01"), ts("2024-01-01T00:30:00Z"), &k),
                     TSL_EINVAL);
    assert_int_equal(tsl_freq_steps(m, ts("2024-01-15"), ts("2024-02-16"), &k), TSL_EINVAL);
    assert_int_equal(tsl_freq_steps(m, ts("2024-01-15"), ts("2024-02-15T01:00:00Z"), &k),
                     TSL_EINVAL);
    assert_int_equal(
        tsl_freq_steps(fq(TSL_FREQ_QUARTER, 1, 0), ts("2024-01-01"), ts("2024-02-01"), &k),
        TSL_EINVAL);
    assert_int_equal(tsl_freq_steps(h, INT64_MIN, INT64_MAX, &k), TSL_EINVAL);
    assert_int_equal(tsl_freq_steps(fq(TSL_FREQ_NONE, 1, 0), 0, 0, &k), TSL_EINVAL);
    /* Saturation instead of overflow. */
    assert_int_equal(tsl_freq_add(h, 0, INT64_MAX), INT64_MAX);
    assert_int_equal(tsl_freq_add(h, 0, INT64_MIN), INT64_MIN);
    assert_int_equal(tsl_freq_add(h, INT64_MAX - 10, 1), INT64_MAX);
    assert_int_equal(tsl_freq_add(m, 0, INT64_MAX), INT64_MAX);
    assert_int_equal(tsl_freq_add(m, 0, INT64_MIN), INT64_MIN);
    assert_int_equal(tsl_freq_add(fq(TSL_FREQ_YEAR, INT32_MAX, 0), 0, INT32_MAX), INT64_MAX);
    assert_int_equal(tsl_freq_add(fq(TSL_FREQ_NONE, 1, 0), 5, 3), 5);
}

static void test_freq_text(void **state) {
    (void)state;
    static const struct {
        const char *in;
        tsl_freq_unit unit;
        int mult, anchor;
        const char *canon, *human;
        int period;
    } cases[] = {
        {"S", TSL_FREQ_SECOND, 1, 0, "S", "per-second", 3600},
        {"30s", TSL_FREQ_SECOND, 30, 0, "30S", "30-second", 120},
        {"min", TSL_FREQ_MINUTE, 1, 0, "min", "per-minute", 60},
        {"T", TSL_FREQ_MINUTE, 1, 0, "min", "per-minute", 60},
        {"5min", TSL_FREQ_MINUTE, 5, 0, "5min", "5-minute", 288},
        {"15min", TSL_FREQ_MINUTE, 15, 0, "15min", "15-minute", 96},
        {"7min", TSL_FREQ_MINUTE, 7, 0, "7min", "7-minute", 1},
        {"H", TSL_FREQ_HOUR, 1, 0, "H", "hourly", 24},
        {"h", TSL_FREQ_HOUR, 1, 0, "H", "hourly", 24},
        {"2H", TSL_FREQ_HOUR, 2, 0, "2H", "2-hour", 12},
        {"5H", TSL_FREQ_HOUR, 5, 0, "5H", "5-hour", 1},
        {"24H", TSL_FREQ_HOUR, 24, 0, "24H", "24-hour", 1},
        {"D", TSL_FREQ_DAY, 1, 0, "D", "daily", 7},
        {"d", TSL_FREQ_DAY, 1, 0, "D", "daily", 7},
        {"2D", TSL_FREQ_DAY, 2, 0, "2D", "2-day", 1},
        {"7D", TSL_FREQ_DAY, 7, 0, "7D", "7-day", 1},
        {"W", TSL_FREQ_WEEK, 1, 0, "W", "weekly", 52},
        {"2W", TSL_FREQ_WEEK, 2, 0, "2W", "2-week", 26},
        {"M", TSL_FREQ_MONTH, 1, 0, "M", "monthly", 12},
        {"MS", TSL_FREQ_MONTH, 1, 1, "M", "monthly", 12},
        {"ME", TSL_FREQ_MONTH, 1, TSL_FREQ_MONTH_END, "M", "monthly", 12},
        {"2M", TSL_FREQ_MONTH, 2, 0, "2M", "2-month", 6},
        {"5M", TSL_FREQ_MONTH, 5, 0, "5M", "5-month", 1},
        {"Q", TSL_FREQ_QUARTER, 1, 0, "Q", "quarterly", 4},
        {"QS", TSL_FREQ_QUARTER, 1, 1, "Q", "quarterly", 4},
        {"QE", TSL_FREQ_QUARTER, 1, TSL_FREQ_MONTH_END, "Q", "quarterly", 4},
        {"Y", TSL_FREQ_YEAR, 1, 0, "Y", "yearly", 1},
        {"A", TSL_FREQ_YEAR, 1, 0, "Y", "yearly", 1},
        {"YS", TSL_FREQ_YEAR, 1, 1, "Y", "yearly", 1},
        {"YE", TSL_FREQ_YEAR, 1, TSL_FREQ_MONTH_END, "Y", "yearly", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tsl_freq f;
        tsl_diag d = {TSL_OK, {0}};
        if (tsl_freq_parse(cases[i].in, &f, &d)) fail_msg("parse %s: %s", cases[i].in, d.msg);
        assert_int_equal(f.unit, cases[i].unit);
        assert_int_equal(f.mult, cases[i].mult);
        assert_int_equal(f.anchor, cases[i].anchor);
        char buf[64];
        tsl_freq_format(f, buf, sizeof buf);
        assert_string_equal(buf, cases[i].canon);
        tsl_freq_describe(f, buf, sizeof buf);
        assert_string_equal(buf, cases[i].human);
        if (tsl_freq_default_period(f) != cases[i].period)
            fail_msg("period of %s: %d, want %d", cases[i].in, tsl_freq_default_period(f),
                     cases[i].period);
        assert_int_equal(tsl_freq_is_subdaily(f), f.unit < TSL_FREQ_DAY);
    }
    const char *bad[] = {"", "0H", "m", "15", "H2", "2 H", "Hour", "-1H", "99999999999H", "q"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tsl_freq f;
        tsl_diag d = {TSL_OK, {0}};
        if (tsl_freq_parse(bad[i], &f, &d) != TSL_EINVAL) fail_msg("%s parsed", bad[i]);
        assert_true(strlen(d.msg) > 0);
    }
    tsl_diag d = {TSL_OK, {0}};
    tsl_freq f;
    tsl_freq_parse("fortnightly", &f, &d);
    assert_string_equal(d.msg, "unknown frequency \"fortnightly\"; expected an optional multiple "
                               "and one of S, min (or T), H, D, W, M (MS, ME), Q (QS, QE), Y (A, "
                               "YS, YE), e.g. 15min or 2H");
}

/* A small data set for inference: series separated by "|" in one string of timestamps. */
typedef struct tset {
    int64_t t[512];
    size_t off[16];
    const char *names[16];
    size_t n;
} tset;

static void tset_add(tset *s, const char *name, const char *const *times, size_t k) {
    size_t a = s->n ? s->off[s->n] : 0;
    s->off[0] = 0;
    s->names[s->n] = name;
    for (size_t i = 0; i < k; i++) s->t[a + i] = ts(times[i]);
    s->off[++s->n] = a + k;
}

/* Adds a series of n timestamps from `start` stepping by f, skipping indices in `skip`. */
static void tset_grid(tset *s, const char *name, const char *start, tsl_freq f, size_t n,
                      const size_t *skip, size_t nskip) {
    size_t a = s->n ? s->off[s->n] : 0, w = a;
    s->off[0] = 0;
    s->names[s->n] = name;
    for (size_t i = 0; i < n; i++) {
        int skipped = 0;
        for (size_t j = 0; j < nskip; j++) skipped |= skip[j] == i;
        if (!skipped) s->t[w++] = tsl_freq_add(f, ts(start), (int64_t)i);
    }
    s->off[++s->n] = w;
}

static void expect_infer(const tset *s, tsl_freq_unit unit, int mult, int anchor) {
    tsl_freq f = {TSL_FREQ_NONE, 0, 0};
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_freq_infer(s->t, s->off, s->n, s->names, &f, &d)) fail_msg("infer: %s", d.msg);
    if (f.unit != unit || f.mult != mult || f.anchor != anchor)
        fail_msg("inferred unit %d mult %d anchor %d, want %d %d %d", f.unit, f.mult, f.anchor,
                 unit, mult, anchor);
}

static void test_infer(void **state) {
    (void)state;
    static const size_t gaps[] = {3, 4, 9};
    struct {
        const char *start;
        tsl_freq step;
        tsl_freq_unit unit;
        int mult, anchor;
    } cases[] = {
        {"2024-01-01T00:00:00Z", {TSL_FREQ_MINUTE, 1, 0}, TSL_FREQ_MINUTE, 1, 0},
        {"2024-01-01T00:07:00Z", {TSL_FREQ_MINUTE, 15, 0}, TSL_FREQ_MINUTE, 15, 0},
        {"2024-01-01T00:00:30Z", {TSL_FREQ_SECOND, 90, 0}, TSL_FREQ_SECOND, 90, 0},
        {"2023-12-31T22:00:00Z", {TSL_FREQ_HOUR, 1, 0}, TSL_FREQ_HOUR, 1, 0},
        {"2024-01-01T01:00:00Z", {TSL_FREQ_HOUR, 2, 0}, TSL_FREQ_HOUR, 2, 0},
        {"1969-12-25", {TSL_FREQ_DAY, 1, 0}, TSL_FREQ_DAY, 1, 0},
        {"2024-01-03", {TSL_FREQ_DAY, 3, 0}, TSL_FREQ_DAY, 3, 0},
        {"1990-01-01", {TSL_FREQ_WEEK, 1, 0}, TSL_FREQ_WEEK, 1, 0},
        {"1990-01-07", {TSL_FREQ_WEEK, 2, 0}, TSL_FREQ_WEEK, 2, 0},
        {"2020-01-01", {TSL_FREQ_MONTH, 1, 1}, TSL_FREQ_MONTH, 1, 1},
        {"2020-01-15T08:00:00Z", {TSL_FREQ_MONTH, 1, 15}, TSL_FREQ_MONTH, 1, 15},
        {"2020-01-31",
         {TSL_FREQ_MONTH, 1, TSL_FREQ_MONTH_END},
         TSL_FREQ_MONTH,
         1,
         TSL_FREQ_MONTH_END},
        {"2019-01-30", {TSL_FREQ_MONTH, 1, 30}, TSL_FREQ_MONTH, 1, 30},
        {"2019-02-28", {TSL_FREQ_MONTH, 1, 28}, TSL_FREQ_MONTH, 1, 28},
        {"2020-01-01", {TSL_FREQ_MONTH, 2, 1}, TSL_FREQ_MONTH, 2, 1},
        {"1960-04-01", {TSL_FREQ_QUARTER, 1, 1}, TSL_FREQ_QUARTER, 1, 1},
        {"1999-12-31",
         {TSL_FREQ_QUARTER, 1, TSL_FREQ_MONTH_END},
         TSL_FREQ_QUARTER,
         1,
         TSL_FREQ_MONTH_END},
        {"1960-01-01", {TSL_FREQ_YEAR, 1, 1}, TSL_FREQ_YEAR, 1, 1},
        {"1-01-01", {TSL_FREQ_YEAR, 1, 1}, TSL_FREQ_YEAR, 1, 1},
        {"2000-06-30",
         {TSL_FREQ_YEAR, 5, TSL_FREQ_MONTH_END},
         TSL_FREQ_YEAR,
         5,
         TSL_FREQ_MONTH_END},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        tset s;
        memset(&s, 0, sizeof s);
        /* Two series with different starts; one has gaps; one has a single point. */
        tset_grid(&s, "a", cases[c].start, cases[c].step, 30, NULL, 0);
        tset_grid(&s, "b", fmt(tsl_freq_add(cases[c].step, ts(cases[c].start), 7)), cases[c].step,
                  20, gaps, 3);
        tset_grid(&s, "c", fmt(tsl_freq_add(cases[c].step, ts(cases[c].start), 2)), cases[c].step,
                  1, NULL, 0);
        expect_infer(&s, cases[c].unit, cases[c].mult, cases[c].anchor);
    }
    /* Month-end data with an offset: stored as 22:00 UTC on the day before month starts. */
    {
        tset s;
        memset(&s, 0, sizeof s);
        const char *t[] = {"2024-01-01T00:00:00+02:00", "2024-02-01T00:00:00+02:00",
                           "2024-03-01T00:00:00+02:00", "2024-05-01T00:00:00+02:00"};
        tset_add(&s, "x", t, 4);
        expect_infer(&s, TSL_FREQ_MONTH, 1, TSL_FREQ_MONTH_END);
    }
    /* 12-month gaps in one series and 3-month gaps in another: quarterly. */
    {
        tset s;
        memset(&s, 0, sizeof s);
        const char *a[] = {"2020-01-01", "2021-01-01", "2022-01-01"};
        const char *b[] = {"2020-01-01", "2020-04-01", "2020-07-01",
                           "2020-10-01", "2021-01-01", "2021-04-01"};
        tset_add(&s, "a", a, 3);
        tset_add(&s, "b", b, 6);
        expect_infer(&s, TSL_FREQ_QUARTER, 1, 1);
    }
}

static void expect_infer_error(const tset *s, tsl_err code, const char *want) {
    tsl_freq f;
    tsl_diag d = {TSL_OK, {0}};
    tsl_err e = tsl_freq_infer(s->t, s->off, s->n, s->names, &f, &d);
    if (e != code) fail_msg("infer: got code %d (%s), want %d", e, d.msg, code);
    if (strcmp(d.msg, want)) fail_msg("infer message:\n  got  %s\n  want %s", d.msg, want);
}

static void test_infer_errors(void **state) {
    (void)state;
    tset s;
    tsl_freq day = {TSL_FREQ_DAY, 1, 0}, month = {TSL_FREQ_MONTH, 1, 1};

    memset(&s, 0, sizeof s);
    const char *one[] = {"2024-01-01"};
    tset_add(&s, "a", one, 1);
    tset_add(&s, "b", one, 1);
    expect_infer_error(&s, TSL_ESHORT,
                       "cannot infer the frequency: no item has two timestamps (set the "
                       "frequency explicitly)");

    /* A stray time of day in daily data. */
    memset(&s, 0, sizeof s);
    tset_grid(&s, "a", "2024-01-01", day, 40, NULL, 0);
    tset_grid(&s, "b", "2024-01-01", day, 20, NULL, 0);
    s.t[s.off[1] + 4] += 10 * 3600 + 37 * 60;
    expect_infer_error(&s, TSL_EINVAL,
                       "timestamps do not fit a regular grid: the most common step is 1 day, "
                       "but item \"b\" has 2024-01-05T10:37:00Z off that step; with them the "
                       "finest grid is per-minute, which would hold 83522 points for 60 "
                       "timestamps (more than 4 per timestamp)");

    /* A stray day of month in monthly data, in two items. */
    memset(&s, 0, sizeof s);
    tset_grid(&s, "a", "2020-01-01", month, 24, NULL, 0);
    tset_grid(&s, "b", "2020-01-01", month, 24, NULL, 0);
    s.t[5] += 14 * 86400;
    s.t[7] += 86400;
    s.t[30] += 86400;
    expect_infer_error(&s, TSL_EINVAL,
                       "timestamps do not fit a regular grid: 45 of 48 timestamps are on day 1 "
                       "of the month at 00:00:00, but item \"a\" has 2020-06-15, 2020-08-02 (3 "
                       "such timestamps in 2 items); with them the finest grid is daily, which "
                       "would hold 1402 points for 48 timestamps (more than 4 per timestamp)");

    /* Sparse data: every item keeps its phase, one item has few points far apart. */
    memset(&s, 0, sizeof s);
    tset_grid(&s, "dense", "2024-01-01", day, 10, NULL, 0);
    const char *far[] = {"2020-01-01", "2020-01-02", "2024-01-01"};
    tset_add(&s, "far", far, 3);
    expect_infer_error(&s, TSL_EINVAL,
                       "timestamps are too sparse for the daily grid, which would hold 1472 "
                       "points for 13 timestamps (more than 4 per timestamp); the most common "
                       "step is 1 day, and the sparsest item, \"far\", has 3 timestamps from "
                       "2020-01-01 to 2024-01-01");

    /* Unsorted input is refused, with names or without. */
    memset(&s, 0, sizeof s);
    const char *uns[] = {"2024-01-02", "2024-01-01"};
    tset_add(&s, "u", uns, 2);
    expect_infer_error(&s, TSL_EINVAL,
                       "item \"u\": timestamps are not sorted and distinct at "
                       "2024-01-01");
    tsl_freq f;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_freq_infer(s.t, s.off, s.n, NULL, &f, &d), TSL_EINVAL);
    assert_string_equal(d.msg, "item #0: timestamps are not sorted and distinct at 2024-01-01");
}

static void test_fit(void **state) {
    (void)state;
    tset s;
    memset(&s, 0, sizeof s);
    tsl_freq h = {TSL_FREQ_HOUR, 1, 0};
    tset_grid(&s, "a", "2024-01-01", h, 48, NULL, 0);
    s.t[s.off[1] - 1] += 1800;
    tsl_freq out;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_freq_fit(h, s.t, s.off, s.n, s.names, &out, &d), TSL_EINVAL);
    assert_string_equal(d.msg, "item \"a\": timestamp 2024-01-02T23:30:00Z is not on the hourly "
                               "grid starting at its first timestamp, 2024-01-01");
    /* An hourly frequency on daily data is refused as too sparse. */
    memset(&s, 0, sizeof s);
    tsl_freq day = {TSL_FREQ_DAY, 1, 0};
    tset_grid(&s, "a", "2024-01-01", day, 10, NULL, 0);
    assert_int_equal(tsl_freq_fit(h, s.t, s.off, s.n, s.names, &out, &d), TSL_EINVAL);
    assert_string_equal(d.msg, "timestamps are too sparse for the hourly grid, which would hold "
                               "217 points for 10 timestamps (more than 4 per timestamp); the "
                               "most common step is 1 day, and the sparsest item, \"a\", has 10 "
                               "timestamps from 2024-01-01 to 2024-01-10");
    assert_int_equal(tsl_freq_fit(day, s.t, s.off, s.n, s.names, &out, &d), TSL_OK);
    /* Anchor 0 is resolved from the data: day 30, so Feb 28 steps to Mar 30. */
    memset(&s, 0, sizeof s);
    const char *t30[] = {"2023-01-30", "2023-02-28", "2023-03-30", "2023-04-30", "2023-05-30"};
    tset_add(&s, "a", t30, 5);
    const char *t30b[] = {"2023-02-28", "2023-03-30"};
    tset_add(&s, "b", t30b, 2);
    tsl_freq m = {TSL_FREQ_MONTH, 1, 0};
    assert_int_equal(tsl_freq_fit(m, s.t, s.off, s.n, s.names, &out, &d), TSL_OK);
    assert_int_equal(out.anchor, 30);
    /* An explicit anchor that the data contradicts. */
    tsl_freq ms = {TSL_FREQ_MONTH, 1, 1};
    assert_int_equal(tsl_freq_fit(ms, s.t, s.off, s.n, s.names, &out, &d), TSL_EINVAL);
    tsl_freq bad = {TSL_FREQ_MONTH, 0, 0};
    assert_int_equal(tsl_freq_fit(bad, s.t, s.off, s.n, s.names, &out, &d), TSL_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_forms),  cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_civil_sweep),  cmocka_unit_test(test_civil_edges),
        cmocka_unit_test(test_format),       cmocka_unit_test(test_freq_add_steps),
        cmocka_unit_test(test_freq_text),    cmocka_unit_test(test_infer),
        cmocka_unit_test(test_infer_errors), cmocka_unit_test(test_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
