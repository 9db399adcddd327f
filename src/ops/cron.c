/*
 * cron.c - crontab expressions (see cron.h for the accepted syntax and the time-zone rules).
 *
 * A parsed expression is five bit masks, so matching a minute is five bit tests and the
 * expression needs no memory. tsl_cron_next walks the calendar from the largest field down:
 * a month that is not allowed skips to the next allowed month, a day that does not match
 * skips to the next day, an hour to the next allowed hour, and only then is a minute chosen,
 * so the walk visits at most one step per day between firings. The longest gap between two
 * firings of an expression that can fire at all is eight years (the 29th of February across
 * 2100, which is not a leap year), so the walk gives up after a bound well past that and
 * reports that the expression never fires; tsl_cron_parse already refuses the expressions
 * that never fire (day 31 of a 30-day month), so the bound only guards TSL_TIME_MAX.
 *
 * The syntax and the day-matching rule follow Vixie cron (crontab(5)), the cron of Debian and
 * of most users' habits; steps on a bare value ("5/15") are read as "from 5 to the end", as
 * EventBridge and cronie do.
 */
#include "tsloop/cron.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "core/text.h"
#include "tsloop/time.h"

/* Years searched past `after` before giving up (see the purpose paragraph). */
#define SEARCH_YEARS 30

/* The largest |utc_offset| accepted: the widest offset in use is +14:00; ISO 8601 allows 18. */
#define MAX_OFFSET (18 * 3600)

enum { F_MINUTE, F_HOUR, F_MDAY, F_MONTH, F_WDAY, NFIELDS };

/* What each field accepts. Day-of-week reads 0..7 and folds 7 onto Sunday (0). */
static const struct field_def {
    const char *name;
    int lo, hi;
    const char *const *names; /* three-letter names for lo, lo+1, ...; NULL = numbers only */
} fields[NFIELDS] = {
    {"minute", 0, 59, NULL},
    {"hour", 0, 23, NULL},
    {"day-of-month", 1, 31, NULL},
    {"month", 1, 12,
     (const char *const[]){"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                           "nov", "dec", NULL}},
    {"day-of-week", 0, 7,
     (const char *const[]){"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL}},
};

static const struct {
    const char *name, *expansion;
} macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

/* The separators between fields: space and tab. */
static int is_space(char c) {
    return c == ' ' || c == '\t';
}

/* ASCII digits only (isdigit depends on the locale). */
static int is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* ASCII lower case, for names in any case. */
static char lower(char c) {
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Reads one value of field f at *p (before e): a number of at most three digits or, where the
 * field has names, a three-letter name. Advances *p. Returns 0 and sets *v, or -1 with the
 * message in d (field text ftext quoted). */
static int read_value(const struct field_def *f, const char **p, const char *e, int *v,
                      const char *ftext, size_t flen, tsl_diag *d) {
    char q[TSL_TEXT_QUOTE_CAP];
    const char *s = *p;
    if (s < e && is_digit(*s)) {
        int n = 0, k = 0;
        while (s < e && is_digit(*s) && k < 4) n = n * 10 + (*s++ - '0'), k++;
        if (k == 4 || n < f->lo || n > f->hi) {
            tsl_diag_set(d, TSL_EINVAL, "%s field %s: value out of range, expected %d-%d", f->name,
                         tsl_text_quote(q, sizeof q, ftext, flen), f->lo, f->hi);
            return -1;
        }
        *v = n;
        *p = s;
        return 0;
    }
    if (f->names && e - s >= 3) {
        for (int i = 0; f->names[i]; i++) {
            if (lower(s[0]) == f->names[i][0] && lower(s[1]) == f->names[i][1] &&
                lower(s[2]) == f->names[i][2]) {
                *v = f->lo + i;
                *p = s + 3;
                return 0;
            }
        }
    }
    if (s < e && *s == '?')
        tsl_diag_set(d, TSL_EINVAL,
                     "%s field %s: '?' is EventBridge syntax, not crontab's, expected '*'", f->name,
                     tsl_text_quote(q, sizeof q, ftext, flen));
    else if (s < e && (*s == 'L' || *s == 'W' || *s == '#' || *s == 'l' || *s == 'w'))
        tsl_diag_set(d, TSL_EINVAL,
                     "%s field %s: 'L', 'W' and '#' are not crontab syntax, expected values, "
                     "ranges, steps and lists",
                     f->name, tsl_text_quote(q, sizeof q, ftext, flen));
    else if (f->names)
        tsl_diag_set(d, TSL_EINVAL, "%s field %s: expected a number %d-%d or a name %s-%s", f->name,
                     tsl_text_quote(q, sizeof q, ftext, flen), f->lo, f->hi,
                     f->lo == 1 ? "JAN" : "SUN", f->lo == 1 ? "DEC" : "SAT");
    else
        tsl_diag_set(d, TSL_EINVAL, "%s field %s: expected a number %d-%d", f->name,
                     tsl_text_quote(q, sizeof q, ftext, flen), f->lo, f->hi);
    return -1;
}

/* Parses field f of text s[0..n) into *mask; sets *star when the field begins with '*'. */
static tsl_err parse_field(const struct field_def *f, const char *s, size_t n, uint64_t *mask,
                           int *star, tsl_diag *d) {
    char q[TSL_TEXT_QUOTE_CAP];
    const char *p = s, *e = s + n;
    uint64_t m = 0;
    int elements = 0;
    *star = n > 0 && s[0] == '*';
    for (;;) {
        int a, b, step = 1, is_star = 0;
        if (p < e && *p == '*') {
            is_star = 1;
            a = f->lo;
            b = f->hi;
            p++;
        } else {
            if (read_value(f, &p, e, &a, s, n, d)) return TSL_EINVAL;
            b = a;
            if (p < e && *p == '-') {
                p++;
                if (read_value(f, &p, e, &b, s, n, d)) return TSL_EINVAL;
                if (b < a)
                    return tsl_diag_set(d, TSL_EINVAL,
                                        "%s field %s: range %d-%d runs backwards, expected the "
                                        "smaller value first",
                                        f->name, tsl_text_quote(q, sizeof q, s, n), a, b);
            } else if (p < e && *p == '/') {
                b = f->hi; /* "5/15": from 5 to the end */
            }
        }
        if (p < e && *p == '/') {
            p++;
            int k = 0;
            step = 0;
            while (p < e && is_digit(*p) && k < 4) step = step * 10 + (*p++ - '0'), k++;
            int span = f->hi - f->lo + 1;
            if (k == 0 || k == 4 || step < 1 || step > span)
                return tsl_diag_set(d, TSL_EINVAL, "%s field %s: bad step, expected /1 to /%d",
                                    f->name, tsl_text_quote(q, sizeof q, s, n), span);
        }
        for (int v = a; v <= b; v += step) m |= 1ULL << v;
        elements++;
        if (is_star && (elements > 1 || (p < e && *p == ',')))
            return tsl_diag_set(d, TSL_EINVAL,
                                "%s field %s: '*' already allows every value, expected it "
                                "alone, not in a list",
                                f->name, tsl_text_quote(q, sizeof q, s, n));
        if (p == e) break;
        if (*p != ',' || p + 1 == e)
            return tsl_diag_set(d, TSL_EINVAL,
                                "%s field %s: unexpected '%c', expected values, ranges a-b, "
                                "steps /n and lists separated by ','",
                                f->name, tsl_text_quote(q, sizeof q, s, n),
                                *p == ',' ? ',' : (*p >= 32 && *p < 127 ? *p : '?'));
        p++;
    }
    *mask = m;
    return TSL_OK;
}

/* 1 when some allowed month has some allowed day of month (February counting its 29th). */
static int mday_possible(const tsl_cron *c) {
    static const int longest[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    for (int mo = 1; mo <= 12; mo++) {
        if (!(c->months >> mo & 1)) continue;
        uint32_t days = (uint32_t)((2ULL << longest[mo]) - 2); /* bits 1..longest */
        if (c->mdays & days) return 1;
    }
    return 0;
}

tsl_err tsl_cron_parse(const char *expr, tsl_cron *out, tsl_diag *d) {
    char q[TSL_TEXT_QUOTE_CAP];
    size_t len = strlen(expr);
    if (len > TSL_CRON_MAX_LEN)
        return tsl_diag_set(d, TSL_EINVAL, "cron expression of %zu bytes, expected at most %d", len,
                            TSL_CRON_MAX_LEN);
    const char *s = expr, *e = expr + len;
    while (s < e && is_space(*s)) s++;
    while (e > s && is_space(e[-1])) e--;
    if (s < e && *s == '@') {
        for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++) {
            size_t ml = strlen(macros[i].name);
            if ((size_t)(e - s) != ml) continue;
            size_t j = 0;
            while (j < ml && lower(s[j]) == macros[i].name[j]) j++;
            if (j == ml) return tsl_cron_parse(macros[i].expansion, out, d);
        }
        return tsl_diag_set(d, TSL_EINVAL,
                            "unknown cron macro %s, expected @yearly, @annually, @monthly, "
                            "@weekly, @daily, @midnight or @hourly",
                            tsl_text_quote(q, sizeof q, s, (size_t)(e - s)));
    }
    const char *fs[8];
    size_t fl[8];
    int nf = 0;
    for (const char *p = s; p < e;) {
        const char *b = p;
        while (p < e && !is_space(*p)) p++;
        if (nf < 8) {
            fs[nf] = b;
            fl[nf] = (size_t)(p - b);
        }
        nf++;
        while (p < e && is_space(*p)) p++;
    }
    if (nf == 6 || nf == 7)
        return tsl_diag_set(d, TSL_EINVAL,
                            "cron expression %s has %d fields, expected the five of crontab "
                            "(minute hour day-of-month month day-of-week), without seconds or "
                            "years",
                            tsl_text_quote(q, sizeof q, s, (size_t)(e - s)), nf);
    if (nf != NFIELDS)
        return tsl_diag_set(d, TSL_EINVAL,
                            "cron expression %s has %d field%s, expected five: minute hour "
                            "day-of-month month day-of-week (e.g. \"0 10 * * *\" for 10:00 "
                            "daily)",
                            tsl_text_quote(q, sizeof q, s, (size_t)(e - s)), nf,
                            nf == 1 ? "" : "s");
    uint64_t mask[NFIELDS];
    int star[NFIELDS];
    for (int i = 0; i < NFIELDS; i++)
        if (parse_field(&fields[i], fs[i], fl[i], &mask[i], &star[i], d)) return TSL_EINVAL;
    tsl_cron c;
    memset(&c, 0, sizeof c);
    c.minutes = mask[F_MINUTE];
    c.hours = (uint32_t)mask[F_HOUR];
    c.mdays = (uint32_t)mask[F_MDAY];
    c.months = (uint16_t)mask[F_MONTH];
    c.wdays = (uint8_t)((mask[F_WDAY] | mask[F_WDAY] >> 7) & 0x7F); /* 7 is Sunday */
    c.flags = (uint8_t)((star[F_MDAY] ? TSL_CRON_MDAY_STAR : 0) |
                        (star[F_WDAY] ? TSL_CRON_WDAY_STAR : 0));
    /* With both day fields restricted a day matches when either does, and every month has
     * every weekday; otherwise the day of month must exist in an allowed month. */
    int either = !(c.flags & TSL_CRON_MDAY_STAR) && !(c.flags & TSL_CRON_WDAY_STAR);
    if (!either && !mday_possible(&c))
        return tsl_diag_set(d, TSL_EINVAL,
                            "cron expression %s never fires: none of its days of month occurs "
                            "in its months, expected a day that exists (at most 30 in April, "
                            "June, September, November; 29 in February)",
                            tsl_text_quote(q, sizeof q, s, (size_t)(e - s)));
    *out = c;
    return TSL_OK;
}

/* The values of a step pattern lo, lo+step, ... <= hi, with day-of-week's 7 folded onto 0. */
static uint64_t step_mask(const struct field_def *f, int step, int wday) {
    uint64_t m = 0;
    for (int v = f->lo; v <= f->hi; v += step) m |= 1ULL << v;
    if (wday) m = (m | m >> 7) & 0x7F;
    return m;
}

/* Appends one field of mask m (values lo..hi; day-of-week passes hi 6) to buf at *o. */
static void format_field(const struct field_def *f, uint64_t m, int star, int wday, char *buf,
                         size_t cap, size_t *o) {
    int hi = wday ? 6 : f->hi;
#define PUT(...)                                                                                   \
    do {                                                                                           \
        int k_ = snprintf(*o < cap ? buf + *o : NULL, *o < cap ? cap - *o : 0, __VA_ARGS__);       \
        assert(k_ >= 0);                                                                           \
        *o += (size_t)k_;                                                                          \
    } while (0)
    /* A starred day field is written with its star, as parsed, to keep the flag. Elsewhere a
     * star is only a shorthand: for every value, or for a step pattern of three values or more
     * (a star with step 15 rather than 0,15,30,45; but 0,30 stays a list). A restricted day field
     * is never written with a star, or it would gain the flag. */
    int day = f == &fields[F_MDAY] || wday;
    if (star || !day) {
        for (int step = 1; step <= f->hi - f->lo + 1; step++) {
            uint64_t pm = step_mask(f, step, wday);
            if (pm != m) continue;
            if (step == 1)
                PUT("*");
            else if (star || __builtin_popcountll(pm) >= 3)
                PUT("*/%d", step);
            else
                break;
            return;
        }
        assert(!star); /* parse_field makes a starred field exactly a step pattern */
    }
    int first = 1;
    for (int v = f->lo; v <= hi;) {
        if (!(m >> v & 1)) {
            v++;
            continue;
        }
        int w = v;
        while (w + 1 <= hi && (m >> (w + 1) & 1)) w++;
        PUT(first ? "" : ",");
        if (w == v)
            PUT("%d", v);
        else if (w == v + 1)
            PUT("%d,%d", v, w);
        else
            PUT("%d-%d", v, w);
        first = 0;
        v = w + 1;
    }
#undef PUT
}

size_t tsl_cron_format(const tsl_cron *c, char *buf, size_t cap) {
    size_t o = 0;
    const uint64_t masks[NFIELDS] = {c->minutes, c->hours, c->mdays, c->months, c->wdays};
    for (int i = 0; i < NFIELDS; i++) {
        if (i) {
            if (o + 1 < cap) buf[o] = ' ';
            o++;
        }
        int star = (i == F_MDAY && (c->flags & TSL_CRON_MDAY_STAR)) ||
                   (i == F_WDAY && (c->flags & TSL_CRON_WDAY_STAR));
        format_field(&fields[i], masks[i], star, i == F_WDAY, buf, cap, &o);
    }
    if (cap) buf[o < cap ? o : cap - 1] = '\0';
    return o;
}

/* The smallest v in [from, hi] with bit v of m set, or -1. */
static int next_bit(uint64_t m, int from, int hi) {
    for (int v = from; v <= hi; v++)
        if (m >> v & 1) return v;
    return -1;
}

/* Advances a civil date by one day. */
static void next_day(int *y, int *mo, int *dd) {
    if (++*dd <= tsl_time_days_in_month(*y, *mo)) return;
    *dd = 1;
    if (++*mo > 12) {
        *mo = 1;
        ++*y;
    }
}

/* Does the date match the day fields (Vixie's either/both rule)? */
static int day_matches(const tsl_cron *c, int y, int mo, int dd) {
    int by_mday = (int)(c->mdays >> dd & 1);
    int wd = (tsl_time_weekday(tsl_time_from_civil(y, mo, dd, 0, 0, 0)) + 1) % 7; /* 0 = Sun */
    int by_wday = c->wdays >> wd & 1;
    if ((c->flags & TSL_CRON_MDAY_STAR) || (c->flags & TSL_CRON_WDAY_STAR))
        return by_mday && by_wday;
    return by_mday || by_wday;
}

tsl_err tsl_cron_next(const tsl_cron *c, int64_t after, int32_t utc_offset, int64_t *next,
                      tsl_diag *d) {
    if (utc_offset < -MAX_OFFSET || utc_offset > MAX_OFFSET)
        return tsl_diag_set(d, TSL_EINVAL, "UTC offset of %ld seconds, expected at most 18 hours",
                            (long)utc_offset);
    if (after >= TSL_TIME_MAX)
        return tsl_diag_set(d, TSL_EINVAL, "no firing time after 9999-12-31");
    if (after < TSL_TIME_MIN) after = TSL_TIME_MIN;
    int64_t local = after + utc_offset;
    int64_t start = (local >= 0 ? local / 60 : -((-local + 59) / 60)) * 60 + 60;
    int y, mo, dd, h, mi, sec;
    tsl_time_civil(start, &y, &mo, &dd, &h, &mi, &sec);
    const int last_year = y + SEARCH_YEARS;
    for (;;) {
        if (y > last_year || y > 9999) break;
        if (!(c->months >> mo & 1)) {
            int nm = next_bit(c->months, mo + 1, 12);
            if (nm < 0) {
                y++;
                nm = next_bit(c->months, 1, 12);
            }
            mo = nm;
            dd = 1;
            h = mi = 0;
            continue;
        }
        if (!day_matches(c, y, mo, dd)) {
            next_day(&y, &mo, &dd);
            h = mi = 0;
            continue;
        }
        int nh = next_bit(c->hours, h, 23);
        if (nh != h) mi = 0;
        int nmin = nh < 0 ? -1 : next_bit(c->minutes, mi, 59);
        if (nmin < 0 && nh >= 0 && nh < 23) {
            /* No allowed minute left in this hour: the first one of the next allowed hour. */
            nh = next_bit(c->hours, nh + 1, 23);
            nmin = nh < 0 ? -1 : next_bit(c->minutes, 0, 59);
        }
        if (nh < 0 || nmin < 0) {
            next_day(&y, &mo, &dd);
            h = mi = 0;
            continue;
        }
        int64_t t = tsl_time_from_civil(y, mo, dd, nh, nmin, 0) - utc_offset;
        if (t > TSL_TIME_MAX) break;
        *next = t;
        return TSL_OK;
    }
    char q[64];
    tsl_cron_format(c, q, sizeof q);
    return tsl_diag_set(d, TSL_EINVAL, "schedule \"%s\" does not fire before %d", q,
                        y > 9999 ? 10000 : last_year);
}

/* Hourly and finer: the hour field allows every hour (see cron.h for why this decides). */
#define ALL_HOURS 0xFFFFFFu

/* Elapsed-time rule: the first instant after `after` whose wall clock matches. Within a stretch
 * of constant offset the zone is a fixed offset, so tsl_cron_next answers there; a firing past
 * the stretch's end is discarded and the next stretch tried. */
static tsl_err next_elapsed(const tsl_cron *c, int64_t after, const tsl_tz *tz, int64_t *next,
                            tsl_diag *d) {
    int64_t s = after + 1;
    for (;;) {
        int32_t o = tsl_tz_offset(tz, s);
        int64_t e = tsl_tz_next_change(tz, s), cand = 0;
        tsl_err rc = tsl_cron_next(c, s - 1, o, &cand, d);
        if (rc) return rc;
        if (cand < e) {
            *next = cand;
            return TSL_OK;
        }
        s = e;
    }
}

/* Fixed-time rule: wall-clock candidates in order, each mapped to its first occurrence or to
 * the end of the gap that skipped it; the first mapped instant after `after`. The mapping is
 * non-decreasing in the wall-clock time, so the walk can start where the wall clock stood at
 * `after`, less the zone's largest fall-back (a time repeated after `after` may read earlier). */
static tsl_err next_fixed(const tsl_cron *c, int64_t after, const tsl_tz *tz, int64_t *next,
                          tsl_diag *d) {
    int64_t local = after + tsl_tz_offset(tz, after) - tsl_tz_max_fallback(tz) - 1;
    /* A real zone needs a few dozen candidates at most (the minutes of its largest fall-back);
     * the cap stops a zone whose offsets contradict themselves, as a fuzzer's can. */
    for (long k = 0; k < 100000; k++) {
        int64_t cand = 0;
        tsl_err rc = tsl_cron_next(c, local, 0, &cand, d);
        if (rc) return rc;
        tsl_tz_local m;
        tsl_tz_from_local(tz, cand, &m);
        int64_t t = m.n ? m.utc[0] : m.gap_end;
        if (t > after && t <= TSL_TIME_MAX) {
            *next = t;
            return TSL_OK;
        }
        if (t > TSL_TIME_MAX) return tsl_diag_set(d, TSL_EINVAL, "no firing time after 9999-12-31");
        local = cand;
    }
    return tsl_diag_set(d, TSL_EINVAL, "zone %s: wall-clock times do not map forward in time",
                        tsl_tz_name(tz));
}

tsl_err tsl_cron_next_tz(const tsl_cron *c, int64_t after, const tsl_tz *tz, int64_t *next,
                         tsl_diag *d) {
    if (after >= TSL_TIME_MAX)
        return tsl_diag_set(d, TSL_EINVAL, "no firing time after 9999-12-31");
    if (after < TSL_TIME_MIN) after = TSL_TIME_MIN;
    if ((c->hours & ALL_HOURS) == ALL_HOURS) return next_elapsed(c, after, tz, next, d);
    return next_fixed(c, after, tz, next, d);
}
