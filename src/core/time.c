/*
 * time.c - timestamps, calendar arithmetic and frequencies (see time.h).
 *
 * Civil conversions are pure integer arithmetic on the proleptic Gregorian calendar, with no
 * libc time zone machinery: the days since 1970-01-01 of a date come from counting whole
 * 400-year eras (146097 days each) plus the day within the era, where the year is taken to
 * begin on March 1 so that the leap day falls at the end and the month lengths before it
 * follow the fixed pattern 31,30,31,30,31 (that is what (153 * m + 2) / 5 counts). The
 * inverse runs the same steps backwards. Everything is int64 and floor division, so dates
 * before 1970 and before year 0 need no special case.
 *
 * Frequency inference is a design of its own. A data set's series share one frequency, and
 * each series is a regular grid from its own first timestamp. Two kinds of grid exist:
 *
 * - Calendar grids (month, quarter, year) are recognised first, by anchoring: every timestamp
 *   has the same time of day, and either every one is the last day of its month, or every one
 *   is on the same day D (or on its month's last day when that month is shorter than D). Then
 *   the step is the gcd of the month gaps. A timestamp with a different day cannot be on any
 *   calendar grid of that anchor, so these tests are exact.
 * - Otherwise the step is the gcd, in seconds, of all gaps within series. Every timestamp is
 *   on the grid of that step by construction; the question is only whether the grid is
 *   reasonable. A stray timestamp (10:37 in daily data) shrinks the gcd to a minute and the
 *   grid to 1440 times the data.
 *
 * So the last test is density: the grids of all series together may hold at most 4 points per
 * timestamp (the rest become missing values). That bounds the memory a data set can cost,
 * whatever its timestamps, and refuses grids that describe the data badly. When it fails, the
 * message must tell the user which timestamps to look at, so the failure path (and only it)
 * works harder: it looks for the pattern most timestamps follow (a calendar anchor, else the
 * most common gap and, per series, the most common phase against it) and names the item and
 * the timestamps that break it, or, when none does, the sparsest item.
 */
#include "tsloop/time.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/text.h"
#include "tsloop/mem.h"

#define DAY_SECS  86400
#define WEEK_SECS 604800
/* Largest |month index| the calendar arithmetic accepts: 2.5e11 years keeps the day count
 * times 86400 inside int64. Beyond it, tsl_freq_add saturates. */
#define MONTH_LIMIT (12LL * 250000000000LL)
/* Grid points allowed per observed timestamp before a grid counts as too sparse. */
#define MAX_DENSITY 4

static const char time_expected[] =
    "expected YYYY-MM-DD, YYYY-MM-DD[T ]HH:MM[:SS[.fff]][Z|+HH:MM|-HH:MM], YYYY-MM, YYYY-Qn, "
    "YYYY or epoch seconds";

/* ---- civil arithmetic ---- */

static int64_t floordiv(int64_t a, int64_t b) {
    assert(b > 0);
    int64_t q = a / b;
    return (a % b < 0) ? q - 1 : q;
}

/* a mod b in [0, b), for b > 0 (C's % keeps the sign of a). */
static int64_t floormod(int64_t a, int64_t b) {
    int64_t r = a % b;
    return r < 0 ? r + b : r;
}

/* 1 when y is a Gregorian leap year (any sign). */
static int is_leap(int64_t y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Length of month m (1..12) of year y. */
static int days_in_month64(int64_t y, int m) {
    static const unsigned char len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    assert(m >= 1 && m <= 12);
    return m == 2 && is_leap(y) ? 29 : len[m - 1];
}

/* Days since 1970-01-01 of year y, month m (1..12), day d (any value: it is added linearly). */
static int64_t days_from_civil(int64_t y, int m, int64_t d) {
    assert(m >= 1 && m <= 12);
    if (m <= 2) y--; /* the computing year starts in March */
    int64_t era = floordiv(y, 400);
    int64_t yoe = y - era * 400;                         /* 0..399 */
    int64_t mp = m > 2 ? m - 3 : m + 9;                  /* March = 0 .. February = 11 */
    int64_t doy = (153 * mp + 2) / 5 + d - 1;            /* day of the computing year */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; /* day of the era */
    return era * 146097 + doe - 719468; /* 719468: days from 0000-03-01 to 1970-01-01 */
}

/* Inverse of days_from_civil for d in 1..31. */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
    z += 719468;
    int64_t era = floordiv(z, 146097);
    int64_t doe = z - era * 146097;                                      /* 0..146096 */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* 0..399 */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* 0..365 */
    int64_t mp = (5 * doy + 2) / 153;                                    /* 0..11 */
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* Civil parts of t with an int64 year; tod is the second of the day. */
static void split_time(int64_t t, int64_t *y, int *m, int *d, int64_t *tod) {
    /* floormod, not t - days * DAY_SECS: that product overflows near INT64_MIN. */
    *tod = floormod(t, DAY_SECS);
    civil_from_days(floordiv(t, DAY_SECS), y, m, d);
}

/* Months since year 0 of t's month: year * 12 + month - 1. */
static int64_t month_index(int64_t t) {
    int64_t y, tod;
    int m, d;
    split_time(t, &y, &m, &d, &tod);
    return y * 12 + (m - 1);
}

void tsl_time_civil(int64_t t, int *year, int *month, int *day, int *hour, int *min, int *sec) {
    int64_t y, tod;
    int m, d;
    split_time(t, &y, &m, &d, &tod);
    *year = y > INT32_MAX ? INT32_MAX : y < INT32_MIN ? INT32_MIN : (int)y;
    *month = m;
    *day = d;
    *hour = (int)(tod / 3600);
    *min = (int)(tod / 60 % 60);
    *sec = (int)(tod % 60);
}

int tsl_time_weekday(int64_t t) {
    /* 1970-01-01 was a Thursday, day 3 counting from Monday. */
    return (int)floormod(floordiv(t, DAY_SECS) + 3, 7);
}

int64_t tsl_time_from_civil(int year, int month, int day, int hour, int min, int sec) {
    int64_t y = (int64_t)year + floordiv((int64_t)month - 1, 12);
    int m = (int)floormod((int64_t)month - 1, 12) + 1;
    return days_from_civil(y, m, day) * DAY_SECS + (int64_t)hour * 3600 + (int64_t)min * 60 + sec;
}

int tsl_time_days_in_month(int year, int month) {
    if (month < 1 || month > 12) return 0;
    return days_in_month64(year, month);
}

/* ---- formatting ---- */

size_t tsl_time_format(int64_t t, int date_only, char *buf, size_t cap) {
    int64_t y, tod;
    int m, d;
    split_time(t, &y, &m, &d, &tod);
    char ytext[32];
    if (y >= 0 && y <= 9999)
        snprintf(ytext, sizeof ytext, "%04lld", (long long)y);
    else if (y < 0)
        snprintf(ytext, sizeof ytext, "-%04lld", -(long long)y);
    else
        snprintf(ytext, sizeof ytext, "+%lld", (long long)y);
    int n;
    if (date_only)
        n = snprintf(buf, cap, "%s-%02d-%02d", ytext, m, d);
    else
        n = snprintf(buf, cap, "%s-%02d-%02dT%02d:%02d:%02dZ", ytext, m, d, (int)(tod / 3600),
                     (int)(tod / 60 % 60), (int)(tod % 60));
    return n < 0 ? 0 : (size_t)n;
}

/* Formats t for a message: a date alone when it is midnight. */
static const char *fmt_time(int64_t t, char *buf, size_t cap) {
    tsl_time_format(t, floormod(t, DAY_SECS) == 0, buf, cap);
    return buf;
}

/* ---- parsing ---- */

static int is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* Reads exactly n digits at *p (before e) into *v; 0 when they are not there. */
static int read_digits(const char **p, const char *e, int n, int *v) {
    if (e - *p < n) return 0;
    int x = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (!is_digit(c)) return 0;
        x = x * 10 + (c - '0');
    }
    *p += n;
    *v = x;
    return 1;
}

/* Epoch seconds from [p, e): an optional '-' then digits, checked by the caller. */
static tsl_err parse_epoch(const char *p, const char *e, int64_t *out, tsl_diag *d) {
    int neg = 0;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    size_t nd = (size_t)(e - p);
    /* 13 digits and more cannot be seconds in range: say what they probably are. */
    if (nd > 12)
        return tsl_diag_set(d, TSL_EPARSE,
                            "epoch seconds out of range (years 0000 to 9999); epoch "
                            "milliseconds are not accepted");
    int64_t v = 0;
    for (; p < e; p++) v = v * 10 + (*p - '0');
    if (neg) v = -v;
    if (v < TSL_TIME_MIN || v > TSL_TIME_MAX)
        return tsl_diag_set(d, TSL_EPARSE, "epoch seconds out of range (years 0000 to 9999)");
    *out = v;
    return TSL_OK;
}

/* Parses the zone suffix at p: "Z", "UTC" or +HH[[:]MM]/-HH[[:]MM]; *off gets seconds east of
 * UTC. Returns the end of what was read, or NULL when the suffix is malformed. */
static const char *parse_zone(const char *p, const char *e, int64_t *off, tsl_diag *d,
                              tsl_err *err) {
    *off = 0;
    if (p < e && *p == ' ') p++;
    if (p < e && (*p == 'Z' || *p == 'z')) return p + 1;
    if (e - p >= 3 && !memcmp(p, "UTC", 3)) return p + 3;
    if (p < e && (*p == '+' || *p == '-')) {
        int sign = *p == '-' ? -1 : 1, oh, om = 0;
        p++;
        if (!read_digits(&p, e, 2, &oh)) goto bad;
        if (p < e && *p == ':') {
            p++;
            if (!read_digits(&p, e, 2, &om)) goto bad;
        } else if (p < e && is_digit(*p)) {
            if (!read_digits(&p, e, 2, &om)) goto bad;
        }
        if (oh > 23 || om > 59) {
            *err = tsl_diag_set(d, TSL_EPARSE, "UTC offset %c%02d:%02d is out of range",
                                sign < 0 ? '-' : '+', oh, om);
            return NULL;
        }
        *off = sign * ((int64_t)oh * 3600 + om * 60);
        return p;
    }
    return p;
bad:
    *err = tsl_diag_set(d, TSL_EPARSE, "malformed UTC offset; expected Z, +HH:MM or -HHMM");
    return NULL;
}

tsl_err tsl_time_parse(const char *s, size_t len, int64_t *out, tsl_diag *d) {
    tsl_err err = TSL_OK;
    const char *p = s, *e = s + len;
    while (p < e && (*p == ' ' || *p == '\t')) p++;
    while (e > p && (e[-1] == ' ' || e[-1] == '\t')) e--;
    if (p == e) return tsl_diag_set(d, TSL_EPARSE, "empty timestamp; %s", time_expected);

    size_t nd = 0;
    while (p + nd < e && is_digit(p[nd])) nd++;
    if (*p == '-') {
        size_t k = 1;
        while (p + k < e && is_digit(p[k])) k++;
        if (p + k == e && k - 1 >= 5) return parse_epoch(p, e, out, d);
        goto shape;
    }
    if (p + nd == e && nd >= 5) return parse_epoch(p, e, out, d);
    /* Four-digit years, or fewer before a month, as R writes years below 1000 ("1-10-01"). */
    if (nd < 1 || nd > 4 || (nd < 4 && (p + nd + 1 >= e || p[nd] != '-' || !is_digit(p[nd + 1]))))
        goto shape;

    int y = 0, m = 1, day = 1, hh = 0, mi = 0, ss = 0;
    int64_t off = 0;
    read_digits(&p, e, (int)nd, &y);
    if (p == e) goto done;
    if (*p == '-') p++;
    if (p < e && (*p == 'Q' || *p == 'q')) {
        int q;
        p++;
        if (!read_digits(&p, e, 1, &q) || p != e) goto shape;
        if (q < 1 || q > 4)
            return tsl_diag_set(d, TSL_EPARSE, "quarter %d is out of range (1 to 4)", q);
        m = 3 * q - 2;
        goto done;
    }
    if (p[-1] != '-' || !read_digits(&p, e, 2, &m)) goto shape;
    if (p == e) goto check;
    if (*p != '-') goto shape;
    p++;
    if (!read_digits(&p, e, 2, &day)) goto shape;
    if (p == e) goto check;
    if (*p != 'T' && *p != 't' && *p != ' ') goto shape;
    p++;
    if (!read_digits(&p, e, 2, &hh) || p == e || *p != ':') goto shape;
    p++;
    if (!read_digits(&p, e, 2, &mi)) goto shape;
    if (p < e && *p == ':') {
        p++;
        if (!read_digits(&p, e, 2, &ss)) goto shape;
        if (p < e && (*p == '.' || *p == ',')) {
            p++;
            if (p == e || !is_digit(*p)) goto shape;
            while (p < e && is_digit(*p)) p++; /* the fraction is truncated */
        }
    }
    if (p < e) {
        p = parse_zone(p, e, &off, d, &err);
        if (!p) return err;
        if (p != e) goto shape;
    }
check:
    if (m < 1 || m > 12) return tsl_diag_set(d, TSL_EPARSE, "month %d is out of range", m);
    if (day < 1 || day > days_in_month64(y, m))
        return tsl_diag_set(d, TSL_EPARSE, "day %d is out of range for %04d-%02d", day, y, m);
    if (hh > 23) return tsl_diag_set(d, TSL_EPARSE, "hour %d is out of range", hh);
    if (mi > 59) return tsl_diag_set(d, TSL_EPARSE, "minute %d is out of range", mi);
    if (ss > 59)
        return tsl_diag_set(d, TSL_EPARSE, "second %d is out of range (no leap seconds)", ss);
done : {
    int64_t t = tsl_time_from_civil(y, m, day, hh, mi, ss) - off;
    if (t < TSL_TIME_MIN || t > TSL_TIME_MAX)
        return tsl_diag_set(d, TSL_EPARSE, "out of range (years 0000 to 9999 in UTC)");
    *out = t;
    return TSL_OK;
}
shape:
    return tsl_diag_set(d, TSL_EPARSE, "%s", time_expected);
}

/* ---- frequencies ---- */

static int is_calendar(tsl_freq_unit u) {
    return u == TSL_FREQ_MONTH || u == TSL_FREQ_QUARTER || u == TSL_FREQ_YEAR;
}

/* Seconds in one fixed unit; 0 for calendar units and NONE. */
static int64_t unit_seconds(tsl_freq_unit u) {
    switch (u) {
    case TSL_FREQ_SECOND:
        return 1;
    case TSL_FREQ_MINUTE:
        return 60;
    case TSL_FREQ_HOUR:
        return 3600;
    case TSL_FREQ_DAY:
        return DAY_SECS;
    case TSL_FREQ_WEEK:
        return WEEK_SECS;
    default:
        return 0;
    }
}

/* Months in one calendar unit; 0 for fixed units and NONE. */
static int64_t unit_months(tsl_freq_unit u) {
    return u == TSL_FREQ_MONTH ? 1 : u == TSL_FREQ_QUARTER ? 3 : u == TSL_FREQ_YEAR ? 12 : 0;
}

/* Whether f can be stepped: a unit, mult >= 1, and for calendar units an anchor in range. */
static int freq_valid(tsl_freq f) {
    if (f.unit <= TSL_FREQ_NONE || f.unit > TSL_FREQ_YEAR || f.mult < 1) return 0;
    if (is_calendar(f.unit) && (f.anchor < TSL_FREQ_MONTH_END || f.anchor > 31)) return 0;
    return 1;
}

/* The int64 bound tsl_freq_add returns for a result out of range. */
static int64_t saturate(int positive) {
    return positive ? INT64_MAX : INT64_MIN;
}

int64_t tsl_freq_add(tsl_freq f, int64_t t, int64_t k) {
    if (k == 0 || !freq_valid(f)) return t;
    if (!is_calendar(f.unit)) {
        int64_t step = unit_seconds(f.unit) * f.mult;
        if (k > INT64_MAX / step || k < INT64_MIN / step) return saturate(k > 0);
        int64_t off = k * step;
        if ((off > 0 && t > INT64_MAX - off) || (off < 0 && t < INT64_MIN - off))
            return saturate(off > 0);
        return t + off;
    }
    int64_t per = unit_months(f.unit) * f.mult;
    if (k > MONTH_LIMIT / per || k < -MONTH_LIMIT / per) return saturate(k > 0);
    int64_t y, tod;
    int m, d;
    split_time(t, &y, &m, &d, &tod);
    int64_t mi = y * 12 + (m - 1) + k * per;
    if (mi > MONTH_LIMIT || mi < -MONTH_LIMIT) return saturate(k > 0);
    int64_t ny = floordiv(mi, 12);
    int nm = (int)(mi - ny * 12) + 1;
    int last = days_in_month64(ny, nm), nd;
    if (f.anchor == TSL_FREQ_MONTH_END || (f.anchor == 0 && d == days_in_month64(y, m))) {
        nd = last;
    } else {
        int want = f.anchor > 0 ? f.anchor : d;
        nd = want < last ? want : last;
    }
    return days_from_civil(ny, nm, nd) * DAY_SECS + tod;
}

tsl_err tsl_freq_steps(tsl_freq f, int64_t t0, int64_t t1, int64_t *k) {
    if (!freq_valid(f)) return TSL_EINVAL;
    if (!is_calendar(f.unit)) {
        int64_t step = unit_seconds(f.unit) * f.mult;
        if ((t0 < 0 && t1 > INT64_MAX + t0) || (t0 > 0 && t1 < INT64_MIN + t0)) return TSL_EINVAL;
        int64_t diff = t1 - t0;
        if (diff % step) return TSL_EINVAL;
        *k = diff / step;
        return TSL_OK;
    }
    int64_t per = unit_months(f.unit) * f.mult;
    int64_t md = month_index(t1) - month_index(t0);
    if (md % per) return TSL_EINVAL;
    int64_t kk = md / per;
    if (tsl_freq_add(f, t0, kk) != t1) return TSL_EINVAL;
    *k = kk;
    return TSL_OK;
}

typedef struct unit_name {
    const char *text;
    tsl_freq_unit unit;
    int32_t anchor;
} unit_name;

static const unit_name unit_names[] = {
    {"S", TSL_FREQ_SECOND, 0},
    {"s", TSL_FREQ_SECOND, 0},
    {"min", TSL_FREQ_MINUTE, 0},
    {"T", TSL_FREQ_MINUTE, 0},
    {"H", TSL_FREQ_HOUR, 0},
    {"h", TSL_FREQ_HOUR, 0},
    {"D", TSL_FREQ_DAY, 0},
    {"d", TSL_FREQ_DAY, 0},
    {"W", TSL_FREQ_WEEK, 0},
    {"M", TSL_FREQ_MONTH, 0},
    {"MS", TSL_FREQ_MONTH, 1},
    {"ME", TSL_FREQ_MONTH, TSL_FREQ_MONTH_END},
    {"Q", TSL_FREQ_QUARTER, 0},
    {"QS", TSL_FREQ_QUARTER, 1},
    {"QE", TSL_FREQ_QUARTER, TSL_FREQ_MONTH_END},
    {"Y", TSL_FREQ_YEAR, 0},
    {"A", TSL_FREQ_YEAR, 0},
    {"YS", TSL_FREQ_YEAR, 1},
    {"AS", TSL_FREQ_YEAR, 1},
    {"YE", TSL_FREQ_YEAR, TSL_FREQ_MONTH_END},
};

tsl_err tsl_freq_parse(const char *s, tsl_freq *out, tsl_diag *d) {
    const char *p = s;
    int64_t mult = 1;
    if (is_digit(*p)) {
        mult = 0;
        for (; is_digit(*p); p++) {
            mult = mult * 10 + (*p - '0');
            if (mult > INT32_MAX) {
                char q[TSL_TEXT_QUOTE_CAP];
                return tsl_diag_set(d, TSL_EINVAL, "frequency %s: the multiple is too large",
                                    tsl_text_quote(q, sizeof q, s, strlen(s)));
            }
        }
        if (mult < 1) return tsl_diag_set(d, TSL_EINVAL, "frequency multiple must be at least 1");
    }
    for (size_t i = 0; i < sizeof unit_names / sizeof unit_names[0]; i++) {
        if (strcmp(p, unit_names[i].text)) continue;
        out->unit = unit_names[i].unit;
        out->mult = (int32_t)mult;
        out->anchor = unit_names[i].anchor;
        return TSL_OK;
    }
    char q[TSL_TEXT_QUOTE_CAP];
    return tsl_diag_set(d, TSL_EINVAL,
                        "unknown frequency %s; expected an optional multiple and one of S, "
                        "min (or T), H, D, W, M (MS, ME), Q (QS, QE), Y (A, YS, YE), e.g. 15min "
                        "or 2H",
                        tsl_text_quote(q, sizeof q, s, strlen(s)));
}

/* The canonical suffix of a unit, as tsl_freq_format writes it. */
static const char *unit_text(tsl_freq_unit u) {
    switch (u) {
    case TSL_FREQ_SECOND:
        return "S";
    case TSL_FREQ_MINUTE:
        return "min";
    case TSL_FREQ_HOUR:
        return "H";
    case TSL_FREQ_DAY:
        return "D";
    case TSL_FREQ_WEEK:
        return "W";
    case TSL_FREQ_MONTH:
        return "M";
    case TSL_FREQ_QUARTER:
        return "Q";
    case TSL_FREQ_YEAR:
        return "Y";
    default:
        return "?";
    }
}

size_t tsl_freq_format(tsl_freq f, char *buf, size_t cap) {
    int n = f.mult == 1 ? snprintf(buf, cap, "%s", unit_text(f.unit))
                        : snprintf(buf, cap, "%d%s", (int)f.mult, unit_text(f.unit));
    return n < 0 ? 0 : (size_t)n;
}

size_t tsl_freq_describe(tsl_freq f, char *buf, size_t cap) {
    static const char *const single[] = {"unknown", "per-second", "per-minute", "hourly", "daily",
                                         "weekly",  "monthly",    "quarterly",  "yearly"};
    static const char *const noun[] = {"unknown", "second", "minute",  "hour", "day",
                                       "week",    "month",  "quarter", "year"};
    int u = ((int)f.unit >= 0 && (int)f.unit <= (int)TSL_FREQ_YEAR) ? (int)f.unit : 0;
    int n = (f.mult == 1 || u == 0) ? snprintf(buf, cap, "%s", single[u])
                                    : snprintf(buf, cap, "%d-%s", (int)f.mult, noun[u]);
    return n < 0 ? 0 : (size_t)n;
}

int tsl_freq_default_period(tsl_freq f) {
    if (f.mult < 1) return 1;
    int64_t cycle;
    switch (f.unit) {
    case TSL_FREQ_SECOND:
    case TSL_FREQ_MINUTE:
    case TSL_FREQ_HOUR: {
        int64_t step = unit_seconds(f.unit) * f.mult;
        if (DAY_SECS % step) return 1;
        if (DAY_SECS / step <= 288) return (int)(DAY_SECS / step);
        return 3600 % step ? 1 : (int)(3600 / step);
    }
    case TSL_FREQ_DAY:
        cycle = 7;
        break;
    case TSL_FREQ_WEEK:
        cycle = 52;
        break;
    case TSL_FREQ_MONTH:
        cycle = 12;
        break;
    case TSL_FREQ_QUARTER:
        cycle = 4;
        break;
    default:
        return 1;
    }
    return cycle % f.mult ? 1 : (int)(cycle / f.mult);
}

int tsl_freq_seasonal_periods(tsl_freq f, int *out, int cap) {
    int64_t cycles[2] = {0, 0}; /* in seconds for fixed units, in months for calendar ones */
    int64_t step;
    if (!freq_valid(f) || cap < 1) return 0;
    switch (f.unit) {
    case TSL_FREQ_SECOND:
    case TSL_FREQ_MINUTE:
    case TSL_FREQ_HOUR:
        step = unit_seconds(f.unit) * f.mult;
        if (step >= DAY_SECS / 288) {
            cycles[0] = DAY_SECS;
            cycles[1] = WEEK_SECS;
        } else {
            cycles[0] = 3600;
            cycles[1] = DAY_SECS;
        }
        break;
    case TSL_FREQ_DAY:
        step = DAY_SECS * f.mult;
        cycles[0] = WEEK_SECS;
        cycles[1] = 365 * DAY_SECS;
        break;
    case TSL_FREQ_WEEK:
        step = WEEK_SECS * f.mult;
        cycles[0] = 52 * WEEK_SECS;
        break;
    case TSL_FREQ_MONTH:
    case TSL_FREQ_QUARTER:
        step = unit_months(f.unit) * f.mult;
        cycles[0] = 12;
        break;
    default:
        return 0;
    }
    int k = 0;
    for (int i = 0; i < 2 && k < cap; i++)
        if (cycles[i] && cycles[i] % step == 0 && cycles[i] / step >= 2)
            out[k++] = (int)(cycles[i] / step);
    return k;
}

int tsl_freq_is_subdaily(tsl_freq f) {
    return f.unit == TSL_FREQ_SECOND || f.unit == TSL_FREQ_MINUTE || f.unit == TSL_FREQ_HOUR;
}

/* ---- inference ---- */

/* The timestamps of a data set as tsl_freq_infer receives them. */
typedef struct tsset {
    const int64_t *t;
    const size_t *off;
    size_t nseries;
    const char *const *names;
    size_t npoints;
} tsset;

/* Series i's name for a message, quoted, or "#i" without names; returns buf. */
static const char *series_name(const tsset *s, size_t i, char *buf, size_t cap) {
    if (s->names && s->names[i]) return tsl_text_quote(buf, cap, s->names[i], strlen(s->names[i]));
    snprintf(buf, cap, "#%zu", i);
    return buf;
}

/* Greatest common divisor; gcd(0, b) = b, so it folds over a list from 0. */
static uint64_t gcd_u64(uint64_t a, uint64_t b) {
    while (b) {
        uint64_t r = a % b;
        a = b;
        b = r;
    }
    return a;
}

/* "1 day", "15 minutes", "90 seconds": a step in seconds in the largest unit dividing it. */
static const char *step_text(uint64_t secs, char *buf, size_t cap) {
    static const struct {
        uint64_t secs;
        const char *name;
    } units[] = {
        {WEEK_SECS, "week"}, {DAY_SECS, "day"}, {3600, "hour"}, {60, "minute"}, {1, "second"}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (secs % units[i].secs) continue;
        uint64_t n = secs / units[i].secs;
        snprintf(buf, cap, "%llu %s%s", (unsigned long long)n, units[i].name, n == 1 ? "" : "s");
        return buf;
    }
    snprintf(buf, cap, "0 seconds");
    return buf;
}

/* Checks the layout (offsets in order, timestamps strictly increasing in each series) and
 * counts the points; *paired is set when some series has two timestamps. */
static tsl_err tsset_check(tsset *s, int *paired, tsl_diag *d) {
    *paired = 0;
    s->npoints = 0;
    for (size_t i = 0; i < s->nseries; i++) {
        if (s->off[i + 1] < s->off[i])
            return tsl_diag_set(d, TSL_EINVAL, "series offsets are not increasing");
        size_t a = s->off[i], b = s->off[i + 1];
        s->npoints += b - a;
        if (b - a >= 2) *paired = 1;
        for (size_t j = a + 1; j < b; j++) {
            if (s->t[j] > s->t[j - 1]) continue;
            char nb[TSL_TEXT_QUOTE_CAP], tb[48];
            return tsl_diag_set(d, TSL_EINVAL,
                                "item %s: timestamps are not sorted and distinct at %s",
                                series_name(s, i, nb, sizeof nb), fmt_time(s->t[j], tb, sizeof tb));
        }
    }
    return TSL_OK;
}

/* Whether every timestamp has the same time of day and one day-of-month anchor (see the
 * file comment); *anchor gets the anchor. */
static int calendar_anchor(const tsset *s, int32_t *anchor) {
    const int64_t *t = s->t;
    size_t a = s->off[0], b = s->off[s->nseries];
    if (a == b) return 0;
    int64_t tod0 = floormod(t[a], DAY_SECS);
    for (size_t j = a; j < b; j++)
        if (floormod(t[j], DAY_SECS) != tod0) return 0;
    int all_end = 1, maxd = 0;
    for (size_t j = a; j < b; j++) {
        int64_t y, tod;
        int m, day;
        split_time(t[j], &y, &m, &day, &tod);
        if (day != days_in_month64(y, m)) all_end = 0;
        if (day > maxd) maxd = day;
    }
    if (all_end) {
        *anchor = TSL_FREQ_MONTH_END;
        return 1;
    }
    for (size_t j = a; j < b; j++) {
        int64_t y, tod;
        int m, day;
        split_time(t[j], &y, &m, &day, &tod);
        int last = days_in_month64(y, m);
        if (day != maxd && !(day == last && last < maxd)) return 0;
    }
    *anchor = maxd;
    return 1;
}

/* qsort order of int64 values. */
static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The most frequent value of v[0..n) (sorted in place) and its count. */
static int64_t mode_i64(int64_t *v, size_t n, size_t *count) {
    assert(n > 0);
    qsort(v, n, sizeof *v, cmp_i64);
    int64_t best = v[0];
    size_t bestn = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && v[j] == v[i]) j++;
        if (j - i > bestn) {
            bestn = j - i;
            best = v[i];
        }
        i = j;
    }
    *count = bestn;
    return best;
}

/* Appends up to three timestamps of item `i` that fail `ok`, with the totals, to msg. */
typedef struct stray_report {
    size_t count, items, first_item;
    int64_t shown[3];
    size_t nshown;
} stray_report;

/* Counts timestamp t of item as off the pattern; the first item's first three are kept to
 * show. Items arrive in order, so *last_item tells a new item. */
static void stray_add(stray_report *r, size_t item, int64_t t, size_t *last_item) {
    if (r->count == 0) r->first_item = item;
    if (r->count == 0 || *last_item != item) r->items++;
    *last_item = item;
    if (item == r->first_item && r->nshown < 3) r->shown[r->nshown++] = t;
    r->count++;
}

/* "item "x" has T1, T2 (N such timestamps in K items)" into buf. */
static void stray_text(const tsset *s, const stray_report *r, char *buf, size_t cap) {
    char nb[TSL_TEXT_QUOTE_CAP];
    int n = snprintf(buf, cap, "item %s has ", series_name(s, r->first_item, nb, sizeof nb));
    for (size_t k = 0; k < r->nshown && n > 0 && (size_t)n < cap; k++) {
        char tb[48];
        n += snprintf(buf + n, cap - (size_t)n, "%s%s", k ? ", " : "",
                      fmt_time(r->shown[k], tb, sizeof tb));
    }
    if (n > 0 && (size_t)n < cap && r->count > r->nshown)
        snprintf(buf + n, cap - (size_t)n, " (%zu such timestamps in %zu item%s)", r->count,
                 r->items, r->items == 1 ? "" : "s");
}

/* Looks for timestamps breaking a calendar pattern that most follow: the most common time of
 * day and day of month (or month end). Returns 1 with *r filled when such strays exist. */
static int find_calendar_strays(const tsset *s, stray_report *r, char *what, size_t cap) {
    size_t a = s->off[0], n = s->npoints;
    int64_t *key = tsl_malloc(n * sizeof *key);
    for (size_t j = 0; j < n; j++) {
        int64_t y, tod;
        int m, day;
        split_time(s->t[a + j], &y, &m, &day, &tod);
        key[j] = tod * 32 + day;
    }
    size_t modal_n;
    int64_t modal = mode_i64(key, n, &modal_n);
    int64_t tod0 = modal / 32;
    int day0 = (int)(modal % 32);
    size_t ends = 0;
    for (size_t j = 0; j < n; j++) {
        int64_t y, tod;
        int m, day;
        split_time(s->t[a + j], &y, &m, &day, &tod);
        if (tod == tod0 && day == days_in_month64(y, m)) ends++;
    }
    tsl_free(key);
    int use_end = ends > modal_n;
    size_t conform = use_end ? ends : modal_n;
    if (conform * 2 <= n || conform == n) return 0;
    memset(r, 0, sizeof *r);
    size_t last_item = 0;
    for (size_t i = 0; i < s->nseries; i++) {
        for (size_t j = s->off[i]; j < s->off[i + 1]; j++) {
            int64_t y, tod;
            int m, day;
            split_time(s->t[j], &y, &m, &day, &tod);
            int last = days_in_month64(y, m);
            int fits = tod == tod0 && (use_end ? day == last : day == day0);
            if (!fits) stray_add(r, i, s->t[j], &last_item);
        }
    }
    char tb[48];
    int64_t todt = tod0; /* shown as a clock time on 1970-01-01 */
    tsl_time_format(todt, 0, tb, sizeof tb);
    if (use_end)
        snprintf(what, cap, "%zu of %zu timestamps are month ends at %.8s", conform, n, tb + 11);
    else
        snprintf(what, cap, "%zu of %zu timestamps are on day %d of the month at %.8s", conform, n,
                 day0, tb + 11);
    return 1;
}

/* Looks for timestamps off the most common gap: per series, the phase (offset from the first
 * timestamp modulo that gap) most of its timestamps share. Returns 1 with *r filled when such
 * strays exist; *gap gets the most common gap (0 when no series has two timestamps). */
static int find_step_strays(const tsset *s, stray_report *r, uint64_t *gap) {
    size_t n = s->npoints;
    int64_t *v = tsl_malloc((n ? n : 1) * sizeof *v);
    size_t ng = 0;
    for (size_t i = 0; i < s->nseries; i++)
        for (size_t j = s->off[i] + 1; j < s->off[i + 1]; j++)
            v[ng++] = (int64_t)((uint64_t)s->t[j] - (uint64_t)s->t[j - 1]);
    *gap = 0;
    memset(r, 0, sizeof *r);
    if (ng == 0) goto out;
    size_t cnt;
    uint64_t m = (uint64_t)mode_i64(v, ng, &cnt);
    *gap = m;
    size_t last_item = 0;
    for (size_t i = 0; i < s->nseries; i++) {
        size_t a = s->off[i], b = s->off[i + 1];
        if (b == a) continue;
        for (size_t j = a; j < b; j++)
            v[j - a] = (int64_t)(((uint64_t)s->t[j] - (uint64_t)s->t[a]) % m);
        size_t pc;
        int64_t phase = mode_i64(v, b - a, &pc);
        for (size_t j = a; j < b; j++)
            if ((int64_t)(((uint64_t)s->t[j] - (uint64_t)s->t[a]) % m) != phase)
                stray_add(r, i, s->t[j], &last_item);
    }
out:
    tsl_free(v);
    return r->count > 0;
}

/* Builds the message for a grid of `grid` points that is too sparse for the data. */
static tsl_err sparse_error(const tsset *s, tsl_freq f, uint64_t grid, int inferred, tsl_diag *d) {
    char fb[64], gb[160], mb[512], what[160];
    tsl_freq_describe(f, fb, sizeof fb);
    snprintf(gb, sizeof gb,
             "would hold %llu points for %zu timestamps (more than %d per timestamp)",
             (unsigned long long)grid, s->npoints, MAX_DENSITY);
    stray_report r;
    if (inferred && find_calendar_strays(s, &r, what, sizeof what)) {
        stray_text(s, &r, mb, sizeof mb);
        return tsl_diag_set(d, TSL_EINVAL,
                            "timestamps do not fit a regular grid: %s, but %s; with them the "
                            "finest grid is %s, which %s",
                            what, mb, fb, gb);
    }
    uint64_t gap;
    int strays = find_step_strays(s, &r, &gap);
    char sb[64];
    step_text(gap, sb, sizeof sb);
    if (strays) {
        stray_text(s, &r, mb, sizeof mb);
        if (!inferred)
            return tsl_diag_set(d, TSL_EINVAL,
                                "timestamps do not fit the %s grid asked for: the most common "
                                "step is %s, but %s off that step; the grid %s",
                                fb, sb, mb, gb);
        return tsl_diag_set(d, TSL_EINVAL,
                            "timestamps do not fit a regular grid: the most common step is %s, "
                            "but %s off that step; with them the finest grid is %s, which %s",
                            sb, mb, fb, gb);
    }
    /* Every series keeps its phase: the data is sparse. Name the sparsest series. */
    size_t worst = 0;
    double worst_ratio = -1;
    for (size_t i = 0; i < s->nseries; i++) {
        size_t a = s->off[i], b = s->off[i + 1];
        if (b == a) continue;
        int64_t k = 0;
        if (tsl_freq_steps(f, s->t[a], s->t[b - 1], &k) != TSL_OK) k = 0;
        double ratio = ((double)k + 1) / (double)(b - a);
        if (ratio > worst_ratio) {
            worst_ratio = ratio;
            worst = i;
        }
    }
    char nb[TSL_TEXT_QUOTE_CAP], t0[48], t1[48];
    size_t a = s->off[worst], b = s->off[worst + 1];
    return tsl_diag_set(d, TSL_EINVAL,
                        "timestamps are too sparse for the %s grid, which %s; the most common "
                        "step is %s, and the sparsest item, %s, has %zu timestamps from %s to %s",
                        fb, gb, sb, series_name(s, worst, nb, sizeof nb), b - a,
                        fmt_time(s->t[a], t0, sizeof t0), fmt_time(s->t[b - 1], t1, sizeof t1));
}

/* Checks every timestamp against f's grid from its series' start and the total density. */
static tsl_err fit_grid(const tsset *s, tsl_freq f, int inferred, tsl_diag *d) {
    uint64_t grid = 0;
    for (size_t i = 0; i < s->nseries; i++) {
        size_t a = s->off[i], b = s->off[i + 1];
        if (a == b) continue;
        int64_t k = 0;
        for (size_t j = a + 1; j < b; j++) {
            if (tsl_freq_steps(f, s->t[a], s->t[j], &k) == TSL_OK) continue;
            char nb[TSL_TEXT_QUOTE_CAP], fb[64], t0[48], t1[48];
            tsl_freq_describe(f, fb, sizeof fb);
            return tsl_diag_set(d, TSL_EINVAL,
                                "item %s: timestamp %s is not on the %s grid starting at its "
                                "first timestamp, %s",
                                series_name(s, i, nb, sizeof nb), fmt_time(s->t[j], t1, sizeof t1),
                                fb, fmt_time(s->t[a], t0, sizeof t0));
        }
        uint64_t pts = (uint64_t)k + 1;
        grid = grid > UINT64_MAX - pts ? UINT64_MAX : grid + pts;
    }
    if (grid / MAX_DENSITY > s->npoints || (grid / MAX_DENSITY == s->npoints && grid % MAX_DENSITY))
        return sparse_error(s, f, grid, inferred, d);
    return TSL_OK;
}

tsl_err tsl_freq_fit(tsl_freq f, const int64_t *t, const size_t *off, size_t nseries,
                     const char *const *names, tsl_freq *out, tsl_diag *d) {
    tsl_err err;
    if (!freq_valid(f)) return tsl_diag_set(d, TSL_EINVAL, "invalid frequency");
    tsset s = {t, off, nseries, names, 0};
    int paired;
    if ((err = tsset_check(&s, &paired, d))) return err;
    if (is_calendar(f.unit) && f.anchor == 0) {
        int32_t anchor;
        if (calendar_anchor(&s, &anchor)) f.anchor = anchor;
    }
    if ((err = fit_grid(&s, f, 0, d))) return err;
    *out = f;
    return TSL_OK;
}

tsl_err tsl_freq_infer(const int64_t *t, const size_t *off, size_t nseries,
                       const char *const *names, tsl_freq *out, tsl_diag *d) {
    tsl_err err;
    tsset s = {t, off, nseries, names, 0};
    int paired;
    if ((err = tsset_check(&s, &paired, d))) return err;
    if (!paired)
        return tsl_diag_set(d, TSL_ESHORT,
                            "cannot infer the frequency: no item has two "
                            "timestamps (set the frequency explicitly)");
    tsl_freq f = {TSL_FREQ_NONE, 1, 0};
    int32_t anchor;
    if (calendar_anchor(&s, &anchor)) {
        uint64_t g = 0;
        for (size_t i = 0; i < nseries; i++)
            for (size_t j = off[i] + 1; j < off[i + 1]; j++)
                g = gcd_u64(g, (uint64_t)(month_index(t[j]) - month_index(t[j - 1])));
        assert(g > 0); /* distinct timestamps on one anchor lie in distinct months */
        f.anchor = anchor;
        if (g % 12 == 0) {
            f.unit = TSL_FREQ_YEAR;
            g /= 12;
        } else if (g % 3 == 0) {
            f.unit = TSL_FREQ_QUARTER;
            g /= 3;
        } else {
            f.unit = TSL_FREQ_MONTH;
        }
        if (g > INT32_MAX)
            return tsl_diag_set(d, TSL_EINVAL, "the step between timestamps is too large");
        f.mult = (int32_t)g;
    } else {
        uint64_t g = 0;
        for (size_t i = 0; i < nseries; i++)
            for (size_t j = off[i] + 1; j < off[i + 1]; j++)
                g = gcd_u64(g, (uint64_t)t[j] - (uint64_t)t[j - 1]);
        static const tsl_freq_unit units[] = {TSL_FREQ_WEEK, TSL_FREQ_DAY, TSL_FREQ_HOUR,
                                              TSL_FREQ_MINUTE, TSL_FREQ_SECOND};
        for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
            uint64_t us = (uint64_t)unit_seconds(units[u]);
            if (g % us) continue;
            f.unit = units[u];
            g /= us;
            break;
        }
        if (g > INT32_MAX)
            return tsl_diag_set(d, TSL_EINVAL, "the step between timestamps is too large");
        f.mult = (int32_t)g;
    }
    if ((err = fit_grid(&s, f, 1, d))) return err;
    *out = f;
    return TSL_OK;
}
