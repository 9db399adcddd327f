/*
 * time.h - timestamps and frequencies.
 *
 * A timestamp is an int64 count of seconds since 1970-01-01T00:00:00Z (UTC, proleptic
 * Gregorian, no leap seconds). A frequency is a unit times a multiple ("15min", "H", "D", "W",
 * "M", "Q", "Y", "2H"). Fixed units (second, minute, hour, day, week) step by a constant number
 * of seconds; calendar units (month, quarter, year) step by months, keeping the day of month
 * (clamped to the month's length) and the time of day, and keeping "last day of the month"
 * when the anchor is one.
 */
#ifndef TSLOOP_TIME_H
#define TSLOOP_TIME_H

#include <stddef.h>
#include <stdint.h>

#include "tsloop/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tsl_freq_unit {
    TSL_FREQ_NONE = 0,
    TSL_FREQ_SECOND,
    TSL_FREQ_MINUTE,
    TSL_FREQ_HOUR,
    TSL_FREQ_DAY,
    TSL_FREQ_WEEK,
    TSL_FREQ_MONTH,
    TSL_FREQ_QUARTER,
    TSL_FREQ_YEAR
} tsl_freq_unit;

typedef struct tsl_freq {
    tsl_freq_unit unit;
    int32_t mult; /* >= 1 */
} tsl_freq;

/* Parses one timestamp of len bytes (not NUL-terminated): "2024-03-01", "2024-03",
 * "2024-03-01T10:00:00Z", "2024-03-01 10:00", "...+02:00", "...-0530", fractional seconds
 * (truncated), "2024" (a year), "2024-Q1"/"2024Q1", or epoch seconds (an integer of 5 digits or
 * more, optionally negative). Date-times without a zone are taken as UTC. The message in d says
 * what was expected. */
tsl_err tsl_time_parse(const char *s, size_t len, int64_t *out, tsl_diag *d);

/* Writes t as "YYYY-MM-DD" when date_only, else "YYYY-MM-DDTHH:MM:SSZ". Returns the length
 * that the full text needs (as snprintf); buf is always terminated when cap > 0. */
size_t tsl_time_format(int64_t t, int date_only, char *buf, size_t cap);

/* Civil date parts of t (UTC). */
void tsl_time_civil(int64_t t, int *year, int *month, int *day, int *hour, int *min, int *sec);
/* Day of week of t, 0 = Monday .. 6 = Sunday. */
int tsl_time_weekday(int64_t t);
/* t from civil parts (month 1..12, day 1..31), UTC. Parts are not range-checked. */
int64_t tsl_time_from_civil(int year, int month, int day, int hour, int min, int sec);

/* The timestamp k steps after t (k may be negative). */
int64_t tsl_freq_add(tsl_freq f, int64_t t, int64_t k);

/* Number of steps k with tsl_freq_add(f, t0, k) == t1. Fails with TSL_EINVAL when t1 is not on
 * t0's grid. */
tsl_err tsl_freq_steps(tsl_freq f, int64_t t0, int64_t t1, int64_t *k);

/* Parses "15min", "min", "T", "H", "h", "2H", "D", "W", "M", "MS", "Q", "QS", "Y", "A", "YS",
 * "S"/"s" (seconds), with an optional leading multiple, case as listed. */
tsl_err tsl_freq_parse(const char *s, tsl_freq *out, tsl_diag *d);

/* Canonical text for f ("15min", "H", "2D", "W", "M", "Q", "Y"); as snprintf. */
size_t tsl_freq_format(tsl_freq f, char *buf, size_t cap);

/* Human name: "hourly", "15-minute", "daily", "weekly", "monthly", ... as snprintf. */
size_t tsl_freq_describe(tsl_freq f, char *buf, size_t cap);

/* Default seasonal period of a frequency: the number of steps in the natural cycle (a day for
 * sub-daily data of at most 288 steps a day, else an hour; a week for daily; 52 for weekly; 12
 * for monthly; 4 for quarterly; 1 for yearly), divided by the multiple; 1 when that does not
 * divide evenly. */
int tsl_freq_default_period(tsl_freq f);

/* 1 when timestamps of f need a time of day to print (units below a day). */
int tsl_freq_is_subdaily(tsl_freq f);

/* Infers the frequency of a data set from its series' sorted, distinct timestamps: t[off[i] ..
 * off[i+1]) is series i. Calendar units are recognised when every timestamp sits on the same
 * day of month (or month end) and time of day; otherwise the step is the greatest common divisor
 * of all gaps. Fails with TSL_EINVAL, naming the item index and timestamp, when timestamps do not
 * fit any regular grid well enough (the grid would be more than 4x the observations), and with
 * TSL_ESHORT when no series has two timestamps. */
tsl_err tsl_freq_infer(const int64_t *t, const size_t *off, size_t nseries, tsl_freq *out,
                       tsl_diag *d);

#ifdef __cplusplus
}
#endif
#endif
