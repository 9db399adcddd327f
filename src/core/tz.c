/*
 * tz.c - IANA time zones from TZif files (RFC 8536) and POSIX TZ strings.
 *
 * A TZif file is a header ("TZif", a version byte, six big-endian counts) and a data block of
 * transition times, the index of the local-time type each transition switches to, the types
 * (UT offset, DST flag, abbreviation index), abbreviations, leap-second records and two flag
 * arrays. Version 1 has 32-bit times only; version 2 and later repeat header and block with
 * 64-bit times and end with a footer, "\n" POSIX-TZ-string "\n", that gives local time after
 * the last transition. We skip the version-1 block of a v2+ file and read the 64-bit one, as
 * RFC 8536 section 4 asks of readers; versions 3 and 4 only widen what the footer may say (rule
 * times from -167 to 167 hours) and what leap-second records mean. A zone with leap-second
 * records (the "right/" zones) counts TAI-like seconds, not POSIX seconds, and is refused.
 *
 * What we keep is only what an offset lookup needs: the transition times, the offset each one
 * switches to, the offset before the first one (type 0, as RFC 8536 says), and the footer rule.
 * Abbreviations and DST flags matter to no caller: cron needs offsets alone.
 *
 * The footer. "CET-1CEST,M3.5.0,M10.5.0/3" says: standard time CET is one hour EAST of
 * Greenwich (POSIX offsets count westward, so we negate them), daylight time CEST one hour
 * more by default, starting on the last (5) Sunday (0) of March (3) at 02:00 local standard
 * time and ending on the last Sunday of October at 03:00 local daylight time. Rules may also be
 * "Jn" (day n of 365, February 29 never counted) or "n" (day n from 0, counting it). Southern
 * zones' daylight time spans the new year (Lord Howe: "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0"),
 * and Dublin's "IST-1GMT0,M10.5.0,M3.5.0/1" has a "daylight" offset below the standard one, so
 * the state at an instant is taken from the latest rule change at or before it among the
 * neighbouring years' changes rather than from an assumed order within a year.
 *
 * Local time back to UTC. The offsets a local time L can have been read under are those in
 * force around it: an instant u with local time L is L - offset, and every offset is within
 * 26 hours, so u is within 26 hours of L. With changes more than two days apart (every zone's
 * since 1900), the offsets in force 30 hours before and after L are all the candidates; each
 * candidate o gives an instant L - o, valid when the offset there is o. None valid: L fell
 * into a spring-forward gap; two: into a fall-back overlap.
 */
#include "tsloop/tz.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tsloop/mem.h"
#include "tsloop/time.h"

/* RFC 8536 bounds UT offsets to (-25 h, +26 h); we use the same bound for POSIX offsets. */
#define MAX_UTOFF (26 * 3600)
/* A footer is one line; real ones are under 64 bytes. */
#define MAX_FOOTER 256
/* Transitions kept: Debian's zones have at most a few hundred. */
#define MAX_TRANS 4096
/* Half-width of the window searched for the offsets a local time can have (see above). */
#define LOCAL_WINDOW (30 * 3600)

/* A footer rule's change day: 'M' (month m, week w, weekday wd), 'J' (day n of 1..365, no
 * February 29) or 'N' (day n of 0..365). time: seconds after local midnight. */
typedef struct rule {
    char kind;
    int m, w, wd, n;
    int32_t time;
} rule;

typedef struct posix_tz {
    int32_t std_off, dst_off; /* east positive */
    int has_dst;
    rule start, end;
} posix_tz;

struct tsl_tz {
    char name[TSL_TZ_MAX_NAME + 1];
    size_t n;       /* transitions */
    int64_t *at;    /* transition times, strictly increasing */
    int32_t *off;   /* offset from at[i] on */
    int32_t off0;   /* offset before at[0] (or always, when n == 0 and no footer) */
    int has_footer; /* p gives the offset after the last transition */
    posix_tz p;
    int32_t max_back;
};

/* ---- POSIX TZ strings ---------------------------------------------------------------- */

static int is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static int is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* Reads an abbreviation: three or more letters, or <...> of letters, digits, '+' and '-'. */
static tsl_err read_abbr(const char *s, size_t *i, const char *what, tsl_diag *d) {
    size_t j = *i, len = 0;
    if (s[j] == '<') {
        j++;
        while (is_alpha(s[j]) || is_digit(s[j]) || s[j] == '+' || s[j] == '-') j++, len++;
        if (s[j] != '>')
            return tsl_diag_set(d, TSL_EPARSE,
                                "TZ string \"%s\", position %zu: %s name not closed by '>'", s,
                                j + 1, what);
        j++;
    } else {
        while (is_alpha(s[j])) j++, len++;
    }
    if (len < 3)
        return tsl_diag_set(d, TSL_EPARSE,
                            "TZ string \"%s\", position %zu: expected a %s name of at least "
                            "three letters",
                            s, *i + 1, what);
    *i = j;
    return TSL_OK;
}

/* Reads [+-]hh[:mm[:ss]] with hh <= max_h into *secs (the sign as written). */
static tsl_err read_hms(const char *s, size_t *i, int max_h, const char *what, int32_t *secs,
                        tsl_diag *d) {
    size_t j = *i;
    int sign = 1;
    if (s[j] == '+' || s[j] == '-') sign = s[j++] == '-' ? -1 : 1;
    long part[3] = {0, 0, 0};
    for (int k = 0; k < 3; k++) {
        if (k > 0) {
            if (s[j] != ':') break;
            j++;
        }
        int digits = 0;
        while (is_digit(s[j]) && digits < 3) part[k] = part[k] * 10 + (s[j++] - '0'), digits++;
        if (!digits || is_digit(s[j]) || (k > 0 && (digits != 2 || part[k] > 59)) ||
            (k == 0 && part[0] > max_h))
            return tsl_diag_set(d, TSL_EPARSE,
                                "TZ string \"%s\", position %zu: expected the %s as hh[:mm[:ss]] "
                                "with hh at most %d",
                                s, j + 1, what, max_h);
    }
    *secs = (int32_t)(sign * (part[0] * 3600 + part[1] * 60 + part[2]));
    *i = j;
    return TSL_OK;
}

/* Reads the number at s[*i] into *v, which must be in lo..hi. */
static tsl_err read_num(const char *s, size_t *i, int lo, int hi, const char *what, int *v,
                        tsl_diag *d) {
    size_t j = *i;
    long x = 0;
    int digits = 0;
    while (is_digit(s[j]) && digits < 4) x = x * 10 + (s[j++] - '0'), digits++;
    if (!digits || is_digit(s[j]) || x < lo || x > hi)
        return tsl_diag_set(d, TSL_EPARSE,
                            "TZ string \"%s\", position %zu: expected the %s, %d to %d", s, *i + 1,
                            what, lo, hi);
    *v = (int)x;
    *i = j;
    return TSL_OK;
}

/* Reads one rule: Jn, n or Mm.w.d, then an optional /time (default 02:00). */
static tsl_err read_rule(const char *s, size_t *i, rule *r, tsl_diag *d) {
    tsl_err rc = TSL_OK;
    memset(r, 0, sizeof *r);
    if (s[*i] == 'M') {
        r->kind = 'M';
        (*i)++;
        if ((rc = read_num(s, i, 1, 12, "rule's month", &r->m, d))) return rc;
        if (s[*i] != '.') goto dot;
        (*i)++;
        if ((rc = read_num(s, i, 1, 5, "rule's week", &r->w, d))) return rc;
        if (s[*i] != '.') goto dot;
        (*i)++;
        if ((rc = read_num(s, i, 0, 6, "rule's weekday", &r->wd, d))) return rc;
    } else if (s[*i] == 'J') {
        r->kind = 'J';
        (*i)++;
        if ((rc = read_num(s, i, 1, 365, "rule's Julian day", &r->n, d))) return rc;
    } else {
        r->kind = 'N';
        if ((rc = read_num(s, i, 0, 365, "rule's day", &r->n, d))) return rc;
    }
    r->time = 7200;
    if (s[*i] == '/') {
        (*i)++;
        /* RFC 8536 section 3.3.1: version 3 allows -167..167 hours. */
        if ((rc = read_hms(s, i, 167, "rule's time", &r->time, d))) return rc;
    }
    return TSL_OK;
dot:
    return tsl_diag_set(d, TSL_EPARSE, "TZ string \"%s\", position %zu: expected '.' in Mm.w.d", s,
                        *i + 1);
}

static tsl_err parse_posix(const char *s, posix_tz *p, tsl_diag *d) {
    size_t i = 0;
    tsl_err rc;
    int32_t v = 0;
    memset(p, 0, sizeof *p);
    if ((rc = read_abbr(s, &i, "standard time", d))) return rc;
    if ((rc = read_hms(s, &i, 24, "standard offset", &v, d))) return rc;
    p->std_off = -v;
    p->dst_off = p->std_off;
    if (!s[i]) return TSL_OK;
    if ((rc = read_abbr(s, &i, "daylight time", d))) return rc;
    p->has_dst = 1;
    p->dst_off = p->std_off + 3600;
    if (s[i] && s[i] != ',') {
        if ((rc = read_hms(s, &i, 24, "daylight offset", &v, d))) return rc;
        p->dst_off = -v;
    }
    if (s[i] != ',')
        return tsl_diag_set(d, TSL_EPARSE,
                            "TZ string \"%s\", position %zu: expected ',' and the daylight-time "
                            "start and end rules",
                            s, i + 1);
    i++;
    if ((rc = read_rule(s, &i, &p->start, d))) return rc;
    if (s[i] != ',')
        return tsl_diag_set(d, TSL_EPARSE,
                            "TZ string \"%s\", position %zu: expected ',' and the end rule", s,
                            i + 1);
    i++;
    if ((rc = read_rule(s, &i, &p->end, d))) return rc;
    if (s[i])
        return tsl_diag_set(d, TSL_EPARSE, "TZ string \"%s\", position %zu: unexpected '%c'", s,
                            i + 1, s[i]);
    return TSL_OK;
}

static int is_leap(int y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Local midnight (seconds on the local calendar) of the day rule r names in year y. */
static int64_t rule_day(const rule *r, int y) {
    int64_t jan1 = tsl_time_from_civil(y, 1, 1, 0, 0, 0);
    if (r->kind == 'J') return jan1 + (int64_t)(r->n - 1 + (is_leap(y) && r->n >= 60)) * 86400;
    if (r->kind == 'N') return jan1 + (int64_t)r->n * 86400;
    int64_t first = tsl_time_from_civil(y, r->m, 1, 0, 0, 0);
    int wd0 = (tsl_time_weekday(first) + 1) % 7; /* 0 = Sunday, as in the rule */
    int day = 1 + (r->wd - wd0 + 7) % 7 + 7 * (r->w - 1);
    while (day > tsl_time_days_in_month(y, r->m)) day -= 7;
    return first + (int64_t)(day - 1) * 86400;
}

/* The rule changes of years y-1..y+1, in time order: at[k] the instant, dst[k] the state after. */
static int posix_changes(const posix_tz *p, int y, int64_t at[6], int dst[6]) {
    int n = 0;
    for (int yy = y - 1; yy <= y + 1; yy++) {
        /* The start is read on standard time, the end on daylight time (POSIX). */
        at[n] = rule_day(&p->start, yy) + p->start.time - p->std_off;
        dst[n++] = 1;
        at[n] = rule_day(&p->end, yy) + p->end.time - p->dst_off;
        dst[n++] = 0;
    }
    for (int a = 1; a < n; a++) /* insertion sort of six */
        for (int b = a; b > 0 && at[b - 1] > at[b]; b--) {
            int64_t t = at[b];
            at[b] = at[b - 1];
            at[b - 1] = t;
            int s = dst[b];
            dst[b] = dst[b - 1];
            dst[b - 1] = s;
        }
    return n;
}

/* The local calendar year of instant u at offset off; instants outside years 1..9999 (any
 * int64_t may be asked about) count as the nearest of those years. */
static int year_of(int64_t u, int32_t off) {
    if (u < TSL_TIME_MIN + 2 * 86400) u = TSL_TIME_MIN + 2 * 86400;
    if (u > TSL_TIME_MAX - 2 * 86400) u = TSL_TIME_MAX - 2 * 86400;
    int y, mo, dd, h, mi, s;
    tsl_time_civil(u + off, &y, &mo, &dd, &h, &mi, &s);
    return y;
}

static int32_t posix_offset(const posix_tz *p, int64_t u) {
    if (!p->has_dst) return p->std_off;
    int64_t at[6];
    int dst[6];
    int n = posix_changes(p, year_of(u, p->std_off), at, dst);
    /* Before the first change of year y-1: the state its predecessor left, the end's. */
    int state = !dst[0];
    for (int k = 0; k < n && at[k] <= u; k++) state = dst[k];
    return state ? p->dst_off : p->std_off;
}

static int64_t posix_next_change(const posix_tz *p, int64_t u) {
    if (!p->has_dst) return INT64_MAX;
    int64_t at[6];
    int dst[6];
    for (int y = year_of(u, p->std_off);; y++) {
        int n = posix_changes(p, y, at, dst);
        for (int k = 0; k < n; k++)
            if (at[k] > u) return at[k];
        if (y > 10000) return INT64_MAX;
    }
}

static int32_t abs32(int32_t x) {
    return x < 0 ? -x : x;
}

static tsl_tz *tz_new(const char *name) {
    tsl_tz *tz = tsl_calloc(1, sizeof *tz);
    tsl_strlcpy(tz->name, name ? name : "", sizeof tz->name);
    return tz;
}

tsl_err tsl_tz_parse_posix(const char *s, tsl_tz **out, tsl_diag *d) {
    *out = NULL;
    if (strlen(s) > MAX_FOOTER)
        return tsl_diag_set(d, TSL_ELIMIT, "TZ string longer than %d bytes", MAX_FOOTER);
    posix_tz p;
    tsl_err rc = parse_posix(s, &p, d);
    if (rc) return rc;
    tsl_tz *tz = tz_new(s);
    tz->has_footer = 1;
    tz->p = p;
    tz->off0 = p.std_off;
    tz->max_back = p.has_dst ? abs32(p.dst_off - p.std_off) : 0;
    *out = tz;
    return TSL_OK;
}

/* ---- TZif ----------------------------------------------------------------------------- */

#define HEADER_LEN 44

typedef struct counts {
    uint32_t isut, isstd, leap, time, type, chr;
} counts;

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p) {
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* Reads a header at buf[pos] into *c and checks the counts against RFC 8536 section 3.1. */
static tsl_err read_header(const unsigned char *buf, size_t len, size_t pos, const char *name,
                           int *version, counts *c, tsl_diag *d) {
    if (len - pos < HEADER_LEN)
        return tsl_diag_set(d, TSL_EPARSE,
                            "time zone %s: truncated TZif file, header at byte %zu needs %d "
                            "bytes, %zu left",
                            name, pos, HEADER_LEN, len - pos);
    if (memcmp(buf + pos, "TZif", 4))
        return tsl_diag_set(d, TSL_EPARSE,
                            "time zone %s: not a TZif file (byte %zu: expected the magic "
                            "\"TZif\")",
                            name, pos);
    unsigned char v = buf[pos + 4];
    if (v != 0 && v != '2' && v != '3' && v != '4')
        return tsl_diag_set(d, TSL_EPARSE,
                            "time zone %s: TZif version byte 0x%02x at byte %zu, expected 0, "
                            "'2', '3' or '4'",
                            name, v, pos + 4);
    *version = v ? v - '0' : 1;
    const unsigned char *q = buf + pos + 20;
    c->isut = be32(q), c->isstd = be32(q + 4), c->leap = be32(q + 8);
    c->time = be32(q + 12), c->type = be32(q + 16), c->chr = be32(q + 20);
    if (c->type == 0 || c->chr == 0 || (c->isut && c->isut != c->type) ||
        (c->isstd && c->isstd != c->type))
        return tsl_diag_set(d, TSL_EPARSE,
                            "time zone %s: TZif header at byte %zu has inconsistent counts "
                            "(types %u, abbreviation bytes %u, isstd %u, isut %u)",
                            name, pos, c->type, c->chr, c->isstd, c->isut);
    if (c->time > MAX_TRANS || c->type > 256 || c->leap > 1000 || c->chr > 65536)
        return tsl_diag_set(d, TSL_ELIMIT,
                            "time zone %s: TZif header at byte %zu counts %u transitions and %u "
                            "types, at most %d and 256 supported",
                            name, pos, c->time, c->type, MAX_TRANS);
    return TSL_OK;
}

static size_t block_len(const counts *c, size_t tsize) {
    return c->time * tsize + c->time + c->type * 6u + c->chr + c->leap * (tsize + 4) + c->isstd +
           c->isut;
}

tsl_err tsl_tz_parse_tzif(const unsigned char *buf, size_t len, const char *name, tsl_tz **out,
                          tsl_diag *d) {
    *out = NULL;
    tsl_err rc = TSL_OK;
    tsl_tz *tz = NULL;
    counts c;
    int version = 0;
    size_t pos = 0, tsize = 4;
    if (!name) name = "(buffer)";
    if ((rc = read_header(buf, len, 0, name, &version, &c, d))) goto out;
    if (version >= 2) {
        /* Skip the version-1 block; the 64-bit header and block follow it. */
        pos = HEADER_LEN + block_len(&c, 4);
        if (pos > len) {
            rc = tsl_diag_set(d, TSL_EPARSE,
                              "time zone %s: truncated TZif file, the version 1 data block "
                              "ends at byte %zu past the file's %zu bytes",
                              name, pos, len);
            goto out;
        }
        int v2 = 0;
        if ((rc = read_header(buf, len, pos, name, &v2, &c, d))) goto out;
        tsize = 8;
    }
    pos += HEADER_LEN;
    size_t blen = block_len(&c, tsize);
    if (blen > len - pos) {
        rc = tsl_diag_set(d, TSL_EPARSE,
                          "time zone %s: truncated TZif file, the data block at byte %zu needs "
                          "%zu bytes, %zu left",
                          name, pos, blen, len - pos);
        goto out;
    }
    if (c.leap) {
        rc = tsl_diag_set(d, TSL_EUNSUPPORTED,
                          "time zone %s: has leap-second records (a \"right/\" zone), which count "
                          "seconds differently from UTC timestamps; use the plain zone",
                          name);
        goto out;
    }
    const unsigned char *times = buf + pos, *idx = times + c.time * tsize, *types = idx + c.time;
    tz = tz_new(name);
    tz->n = c.time;
    tz->at = tsl_calloc(c.time ? c.time : 1, sizeof *tz->at);
    tz->off = tsl_calloc(c.time ? c.time : 1, sizeof *tz->off);
    for (uint32_t k = 0; k < c.type; k++) {
        int32_t o = (int32_t)be32(types + 6 * k);
        if (o <= -MAX_UTOFF || o >= MAX_UTOFF || types[6 * k + 4] > 1 ||
            types[6 * k + 5] >= c.chr) {
            rc = tsl_diag_set(d, TSL_EPARSE,
                              "time zone %s: local time type %u at byte %zu: UT offset %ld, DST "
                              "flag %u, abbreviation index %u out of range",
                              name, k, (size_t)(types + 6 * k - buf), (long)o, types[6 * k + 4],
                              types[6 * k + 5]);
            goto out;
        }
    }
    tz->off0 = (int32_t)be32(types);
    int32_t prev = tz->off0;
    for (uint32_t k = 0; k < c.time; k++) {
        int64_t t = tsize == 8 ? be64(times + 8 * k) : (int64_t)(int32_t)be32(times + 4 * k);
        if (idx[k] >= c.type || (k > 0 && t <= tz->at[k - 1])) {
            rc = tsl_diag_set(d, TSL_EPARSE, "time zone %s: transition %u (byte %zu): %s", name, k,
                              (size_t)(times + tsize * k - buf),
                              idx[k] >= c.type ? "type index past the types"
                                               : "times not increasing");
            goto out;
        }
        tz->at[k] = t;
        tz->off[k] = (int32_t)be32(types + 6 * idx[k]);
        if (prev - tz->off[k] > tz->max_back) tz->max_back = prev - tz->off[k];
        prev = tz->off[k];
    }
    pos += blen;
    if (version >= 2) {
        /* The footer: "\n" TZ "\n"; an empty TZ string means "no rule". */
        if (pos >= len || buf[pos] != '\n') {
            rc = tsl_diag_set(d, TSL_EPARSE,
                              "time zone %s: expected the footer's newline at byte %zu", name, pos);
            goto out;
        }
        size_t e = pos + 1;
        while (e < len && buf[e] != '\n' && e - pos <= MAX_FOOTER) e++;
        if (e >= len || buf[e] != '\n') {
            rc = tsl_diag_set(d, TSL_EPARSE,
                              "time zone %s: footer at byte %zu not ended by a newline within "
                              "%d bytes",
                              name, pos, MAX_FOOTER);
            goto out;
        }
        char footer[MAX_FOOTER + 2];
        memcpy(footer, buf + pos + 1, e - pos - 1);
        footer[e - pos - 1] = '\0';
        if (memchr(footer, '\0', e - pos - 1)) {
            rc = tsl_diag_set(d, TSL_EPARSE, "time zone %s: NUL byte in the footer at byte %zu",
                              name, pos);
            goto out;
        }
        if (footer[0]) {
            if ((rc = parse_posix(footer, &tz->p, d))) {
                tsl_diag_prefix(d, "time zone %s: footer: ", name);
                goto out;
            }
            tz->has_footer = 1;
            if (c.time == 0) tz->off0 = tz->p.std_off;
            if (tz->p.has_dst && abs32(tz->p.dst_off - tz->p.std_off) > tz->max_back)
                tz->max_back = abs32(tz->p.dst_off - tz->p.std_off);
        }
    }
    *out = tz;
    tz = NULL;
out:
    tsl_tz_free(tz);
    return rc;
}

/* ---- loading -------------------------------------------------------------------------- */

/* "UTC", "Z", "GMT" or [+-]hh[[:]mm]: sets *off and returns 1; 0 when s is none of these. */
static int fixed_offset(const char *s, int32_t *off) {
    if (!strcmp(s, "UTC") || !strcmp(s, "Z") || !strcmp(s, "GMT")) {
        *off = 0;
        return 1;
    }
    if (s[0] != '+' && s[0] != '-') return 0;
    size_t n = strlen(s);
    int h, m = 0;
    if (n < 3 || !is_digit(s[1]) || !is_digit(s[2])) return -1;
    h = (s[1] - '0') * 10 + (s[2] - '0');
    const char *r = s + 3;
    if (*r == ':') r++;
    if (*r) {
        if (!is_digit(r[0]) || !is_digit(r[1]) || r[2]) return -1;
        m = (r[0] - '0') * 10 + (r[1] - '0');
    } else if (r != s + 3) {
        return -1;
    }
    if (h > 18 || m > 59 || h * 60 + m > 18 * 60) return -1;
    *off = (int32_t)((s[0] == '-' ? -1 : 1) * (h * 3600 + m * 60));
    return 1;
}

static tsl_err check_name(const char *name, tsl_diag *d) {
    size_t n = strlen(name);
    if (!n || n > TSL_TZ_MAX_NAME)
        return tsl_diag_set(d, TSL_EINVAL, "time zone name of %zu bytes, expected 1 to %d", n,
                            TSL_TZ_MAX_NAME);
    if (name[0] == '/')
        return tsl_diag_set(d, TSL_EINVAL,
                            "time zone \"%s\": expected a name such as Europe/Berlin, not an "
                            "absolute path",
                            name);
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!(is_alpha(c) || is_digit(c) || c == '/' || c == '_' || c == '-' || c == '+' ||
              c == '.'))
            return tsl_diag_set(d, TSL_EINVAL,
                                "time zone \"%s\": character %zu is not a letter, digit or one "
                                "of / _ - + .",
                                name, i + 1);
        if (c == '.' && name[i + 1] == '.' && (i == 0 || name[i - 1] == '/') &&
            (name[i + 2] == '/' || !name[i + 2]))
            return tsl_diag_set(d, TSL_EINVAL,
                                "time zone \"%s\": a \"..\" component is not allowed", name);
    }
    return TSL_OK;
}

tsl_err tsl_tz_load_dir(const char *dir, const char *name, tsl_tz **out, tsl_diag *d) {
    *out = NULL;
    tsl_err rc = TSL_OK;
    unsigned char *buf = NULL;
    int fd = -1;
    int32_t off = 0;
    int fx = fixed_offset(name, &off);
    if (fx < 0)
        return tsl_diag_set(d, TSL_EINVAL,
                            "time zone \"%s\": expected an offset as +hh:mm or -hh:mm, at most "
                            "18 hours",
                            name);
    if (fx > 0) {
        tsl_tz *tz = tz_new(name);
        tz->off0 = off;
        *out = tz;
        return TSL_OK;
    }
    if ((rc = check_name(name, d))) return rc;
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return tsl_diag_set(d, TSL_ELIMIT, "time zone \"%s\": path too long", name);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0) {
        rc = errno == ENOENT || errno == ENOTDIR
                 ? tsl_diag_set(d, TSL_ENOTFOUND,
                                "unknown time zone \"%s\": no file %s in the zoneinfo folder %s",
                                name, name, dir)
                 : tsl_diag_set(d, TSL_EIO, "time zone \"%s\": cannot open %s: %s", name, path,
                                strerror(errno));
        goto out;
    }
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        rc = tsl_diag_set(d, TSL_ENOTFOUND,
                          "unknown time zone \"%s\": %s in the zoneinfo folder %s is not a zone "
                          "file",
                          name, name, dir);
        goto out;
    }
    if (st.st_size > TSL_TZ_MAX_FILE) {
        rc = tsl_diag_set(d, TSL_ELIMIT, "time zone \"%s\": %s has %lld bytes, at most %d read",
                          name, path, (long long)st.st_size, TSL_TZ_MAX_FILE);
        goto out;
    }
    size_t cap = (size_t)st.st_size + 1, len = 0;
    buf = tsl_malloc(cap);
    for (;;) {
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            rc = tsl_diag_set(d, TSL_EIO, "time zone \"%s\": reading %s: %s", name, path,
                              strerror(errno));
            goto out;
        }
        if (r == 0) break;
        len += (size_t)r;
        if (len == cap) {
            rc = tsl_diag_set(d, TSL_ELIMIT, "time zone \"%s\": %s grew while read", name, path);
            goto out;
        }
    }
    rc = tsl_tz_parse_tzif(buf, len, name, out, d);
out:
    if (fd >= 0) close(fd);
    tsl_free(buf);
    return rc;
}

tsl_err tsl_tz_load(const char *name, tsl_tz **out, tsl_diag *d) {
    return tsl_tz_load_dir(TSL_TZ_DIR, name, out, d);
}

void tsl_tz_free(tsl_tz *tz) {
    if (!tz) return;
    tsl_free(tz->at);
    tsl_free(tz->off);
    tsl_free(tz);
}

const char *tsl_tz_name(const tsl_tz *tz) {
    return tz->name;
}

int32_t tsl_tz_max_fallback(const tsl_tz *tz) {
    return tz->max_back;
}

/* ---- lookups -------------------------------------------------------------------------- */

/* The number of transitions at or before u. */
static size_t count_le(const tsl_tz *tz, int64_t u) {
    size_t lo = 0, hi = tz->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->at[mid] <= u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int32_t tsl_tz_offset(const tsl_tz *tz, int64_t utc) {
    size_t k = count_le(tz, utc);
    if (tz->has_footer && (tz->n == 0 || (k == tz->n && utc > tz->at[tz->n - 1])))
        return posix_offset(&tz->p, utc);
    return k == 0 ? tz->off0 : tz->off[k - 1];
}

int64_t tsl_tz_next_change(const tsl_tz *tz, int64_t utc) {
    size_t k = count_le(tz, utc);
    if (k < tz->n) return tz->at[k];
    if (!tz->has_footer) return INT64_MAX;
    int64_t t = posix_next_change(&tz->p, utc);
    return t;
}

void tsl_tz_from_local(const tsl_tz *tz, int64_t local, tsl_tz_local *out) {
    int32_t before = tsl_tz_offset(tz, local - LOCAL_WINDOW);
    int32_t after = tsl_tz_offset(tz, local + LOCAL_WINDOW);
    int32_t cand[2] = {before, after};
    memset(out, 0, sizeof *out);
    for (int k = 0; k < 2; k++) {
        if (k == 1 && after == before) break;
        int64_t u = local - cand[k];
        if (tsl_tz_offset(tz, u) == cand[k]) out->utc[out->n++] = u;
    }
    if (out->n == 2 && out->utc[0] > out->utc[1]) {
        int64_t t = out->utc[0];
        out->utc[0] = out->utc[1];
        out->utc[1] = t;
    }
    if (out->n) return;
    /* A gap: the change that skipped local is the first one after the window's start whose
     * offset differs from the one before it. */
    int64_t t = local - LOCAL_WINDOW;
    do t = tsl_tz_next_change(tz, t);
    while (t != INT64_MAX && t < local + LOCAL_WINDOW && tsl_tz_offset(tz, t) == before);
    out->gap_end = t;
}
