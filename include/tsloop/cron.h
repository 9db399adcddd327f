/*
 * cron.h - crontab schedule expressions: parsing, canonical text, and the next firing time.
 *
 * An expression has the five fields of crontab(5): minute (0-59), hour (0-23), day of month
 * (1-31), month (1-12 or JAN-DEC), day of week (0-7 or SUN-SAT, 0 and 7 both Sunday). A field
 * is `*`, a value, a range `a-b`, any of these followed by a step `/n` (`*` then `/15` is every
 * fifteenth value, `1-30/2` every other one from 1 to 30, `5/15` the same as `5-59/15`), or a
 * comma-separated list of them (`*` alone or with a step, never in a list: "*,5" is refused).
 * Names are case-insensitive. The macros @yearly (@annually), @monthly, @weekly, @daily
 * (@midnight) and @hourly stand for their usual expansions. Seconds, years, `?`, `L`, `W` and `#`
 * are not part of crontab and are refused with a message saying so.
 *
 * Day matching follows Vixie cron, whose rule every crontab user has met: when both the
 * day-of-month and the day-of-week fields are restricted (neither begins with `*`), a day
 * matches if EITHER does ("0 0 1 * MON" fires on the 1st and on every Monday); otherwise the
 * day must match both.
 *
 * Time zones. tsl_cron_next reads the schedule on a fixed offset from UTC; tsl_cron_next_tz
 * reads it on a zone's wall clock (tz.h), which jumps at daylight-saving changes. The rules, as
 * Vixie cron (Debian's crontab(5)) states them, made exact:
 *  - A schedule whose hour field allows every hour (`*`, `*` with no step, `0-23`: hourly and
 *    finer) is scheduled normally: it fires at every instant whose wall-clock time matches.
 *    Across a spring-forward nothing is run for the skipped wall-clock times and across a
 *    fall-back the repeated hour's times fire twice, so the firings keep their elapsed spacing
 *    ("0 * * * *" fires every 60 minutes of real time through both changes of Berlin; on Lord
 *    Howe, whose clock moves by 30 minutes, the hour across either change lasts 90 minutes).
 *  - Every other schedule (a fixed time: "30 2 * * *", "0 9-17 * * 1-5", "0 0-23/2 * * *")
 *    fires once per matching wall-clock time: at that time's first occurrence when the
 *    fall-back repeats it, and at the first instant after the gap (the change itself) when the
 *    spring-forward skips it; several skipped times of one gap fire once, at the change.
 */
#ifndef TSLOOP_CRON_H
#define TSLOOP_CRON_H

#include <stddef.h>
#include <stdint.h>

#include "tsloop/err.h"
#include "tsloop/tz.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest expression tsl_cron_parse reads (bytes, without the terminator). */
#define TSL_CRON_MAX_LEN 256

/* tsl_cron.flags: the field began with '*' (Vixie's rule for combining the day fields). */
#define TSL_CRON_MDAY_STAR 1u
#define TSL_CRON_WDAY_STAR 2u

/* A parsed expression: bit i of a mask set = value i allowed. */
typedef struct tsl_cron {
    uint64_t minutes; /* bits 0..59 */
    uint32_t hours;   /* bits 0..23 */
    uint32_t mdays;   /* bits 1..31 */
    uint16_t months;  /* bits 1..12 */
    uint8_t wdays;    /* bits 0..6, 0 = Sunday */
    uint8_t flags;    /* TSL_CRON_MDAY_STAR | TSL_CRON_WDAY_STAR */
} tsl_cron;

/* Parses a NUL-terminated expression (surrounding spaces ignored). Fails with TSL_EINVAL and a
 * message naming the field, what was wrong in it and what was expected; also when the
 * expression can never fire ("0 0 31 4 *": April has no 31st). */
tsl_err tsl_cron_parse(const char *expr, tsl_cron *out, tsl_diag *d);

/* Canonical text of c: five fields, each `*`, `*` with a step, or a list of values and ranges
 * ("0 9-17 * * 1-5"); names become numbers, day-of-week 0-6. A day field
 * without its star flag is never written with a `*`, so parsing the text gives back c exactly.
 * As snprintf: returns the length the text needs; buf is terminated when cap > 0. */
size_t tsl_cron_format(const tsl_cron *c, char *buf, size_t cap);

/* The first firing time strictly after `after` (seconds since the epoch, UTC), reading the
 * schedule on the wall clock of UTC + utc_offset seconds (|utc_offset| <= 18 h; 0 = UTC).
 * Firing times fall on whole minutes. Fails with TSL_EINVAL when utc_offset is out of range
 * or no firing time exists up to TSL_TIME_MAX (9999-12-31). */
tsl_err tsl_cron_next(const tsl_cron *c, int64_t after, int32_t utc_offset, int64_t *next,
                      tsl_diag *d);

/* The first firing time strictly after `after` (UTC seconds), reading the schedule on the
 * wall clock of zone tz by the rules of the header. Fails as tsl_cron_next. */
tsl_err tsl_cron_next_tz(const tsl_cron *c, int64_t after, const tsl_tz *tz, int64_t *next,
                         tsl_diag *d);

#ifdef __cplusplus
}
#endif
#endif
