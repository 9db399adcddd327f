/*
 * time.h - timestamps and frequencies.
 *
 * A timestamp is an int64 count of seconds since 1970-01-01T00:00:00Z (UTC, proleptic
 * Gregorian, no leap seconds). Parsing accepts years 0000 to 9999 (TSL_TIME_MIN..TSL_TIME_MAX);
 * the civil conversions work far beyond that, before 1970 included.
 *
 * A frequency is a unit times a multiple ("15min", "H", "D", "W", "M", "Q", "Y", "2H"). Fixed
 * units (second, minute, hour, day, week) step by a constant number of seconds; calendar units
 * (month, quarter, year) step by months, keeping the time of day and the day of month given by
 * the frequency's anchor: a fixed day (clamped to the month's length, so day 30 is Feb 28 in
 * February and Mar 30 again in March), the last day of the month, or, with anchor 0, the day
 * of the timestamp stepped from (and the month's last day when that timestamp is one).
 *
 * A data set's series share one frequency; each series is regular from its own first
 * timestamp. tsl_freq_infer finds the frequency from the timestamps themselves.
 */
#ifndef TSLOOP_TIME_H
#define TSLOOP_TIME_H

#include <stddef.h>
#include <stdint.h>

#include "tsloop/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The range tsl_time_parse accepts: 0000-01-01T00:00:00Z .. 9999-12-31T23:59:59Z. */
#define TSL_TIME_MIN (-62167219200LL)
#define TSL_TIME_MAX 253402300799LL

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

/* tsl_freq.anchor of calendar units: the last day of the month. */
#define TSL_FREQ_MONTH_END (-1)

typedef struct tsl_freq {
    tsl_freq_unit unit;
    int32_t mult; /* >= 1 */
    /* Calendar units only (fixed units ignore it): 0 = the day of the timestamp stepped from
     * (month end if it is one), 1..31 = that day of month, clamped, TSL_FREQ_MONTH_END = the
     * last day. Inference and tsl_freq_fit set it from the data. */
    int32_t anchor;
} tsl_freq;

/* Parses one timestamp of len bytes (not NUL-terminated), ignoring surrounding spaces and
 * tabs: "2024-03-01", "2024-03", "2024-03-01T10:00:00Z", "2024-03-01 10:00", "...+02:00",
 * "...-0530", "... UTC", fractional seconds (truncated), "2024" (a year), "2024-Q1"/"2024Q1",
 * or epoch seconds (an integer of 5 digits or more, optionally negative). Before a month, the
 * year may have fewer than four digits, as R writes years below 1000 ("1-10-01" is
 * 0001-10-01). Date-times without a zone are taken as UTC; with an offset they are converted
 * to UTC. Fails with TSL_EPARSE; the
 * message in d says what is wrong and what was expected, without repeating the text. */
tsl_err tsl_time_parse(const char *s, size_t len, int64_t *out, tsl_diag *d);

/* Writes t as "YYYY-MM-DD" when date_only, else "YYYY-MM-DDTHH:MM:SSZ" (years outside 0..9999
 * get a sign and as many digits as they need). Returns the length that the full text needs (as
 * snprintf); buf is always terminated when cap > 0. */
size_t tsl_time_format(int64_t t, int date_only, char *buf, size_t cap);

/* Civil date parts of t (UTC). Exact for any t whose year fits an int. */
void tsl_time_civil(int64_t t, int *year, int *month, int *day, int *hour, int *min, int *sec);
/* Day of week of t, 0 = Monday .. 6 = Sunday. */
int tsl_time_weekday(int64_t t);
/* t from civil parts (month 1..12, day 1..31), UTC. Parts are not range-checked: out-of-range
 * values carry over (month 13 is January of the next year, day 0 the previous month's last). */
int64_t tsl_time_from_civil(int year, int month, int day, int hour, int min, int sec);
/* Number of days in a month (1..12) of a year. */
int tsl_time_days_in_month(int year, int month);

/* The timestamp k steps after t (k may be negative). Saturates at INT64_MIN/INT64_MAX instead
 * of overflowing. An invalid f (unit NONE, mult < 1, anchor out of range) returns t. */
int64_t tsl_freq_add(tsl_freq f, int64_t t, int64_t k);

/* Number of steps k with tsl_freq_add(f, t0, k) == t1. Fails with TSL_EINVAL when t1 is not on
 * t0's grid. */
tsl_err tsl_freq_steps(tsl_freq f, int64_t t0, int64_t t1, int64_t *k);

/* Parses "15min", "min", "T", "H", "h", "2H", "D", "d", "W", "M", "MS", "ME", "Q", "QS", "QE",
 * "Y", "A", "YS", "YE", "S"/"s" (seconds), with an optional leading multiple, case as listed.
 * The S-suffixed calendar forms anchor on day 1, the E-suffixed ones on the month's last day,
 * the bare ones on the data (anchor 0). */
tsl_err tsl_freq_parse(const char *s, tsl_freq *out, tsl_diag *d);

/* Canonical text for f ("15min", "H", "2D", "W", "M", "Q", "Y"; the anchor is not written);
 * as snprintf. */
size_t tsl_freq_format(tsl_freq f, char *buf, size_t cap);

/* Human name: "hourly", "15-minute", "daily", "weekly", "monthly", ... as snprintf. */
size_t tsl_freq_describe(tsl_freq f, char *buf, size_t cap);

/* Default seasonal period of a frequency: the number of steps in the natural cycle (a day for
 * sub-daily data of at most 288 steps a day, else an hour; a week for daily; 52 for weekly; 12
 * for monthly; 4 for quarterly; 1 for yearly), divided by the multiple; 1 when that does not
 * divide evenly. */
int tsl_freq_default_period(tsl_freq f);

/* Candidate seasonal periods of a frequency, for several seasonalities (MSTL), ascending: the
 * natural cycles of its unit in steps, each kept when the multiple divides it and it is at
 * least 2 steps. Sub-daily data with at most 288 steps a day get a day and a week (hourly:
 * 24, 168; 30-minute: 48, 336; 15-minute: 96, 672; 5-minute: 288, 2016; 2-hourly: 12, 84),
 * finer data an hour and a day (minutely: 60, 1440; per-second: 3600, 86400); daily data a
 * week and a year (7, 365); weekly 52, monthly 12, quarterly 4; yearly none. Writes at most
 * cap of them (the shortest first) to out and returns how many it wrote (never more than 2);
 * 0 for an invalid f. The data then confirm them (decompose.h: tsl_mstl_confirm_periods). */
int tsl_freq_seasonal_periods(tsl_freq f, int *out, int cap);

/* 1 when timestamps of f need a time of day to print (units below a day). */
int tsl_freq_is_subdaily(tsl_freq f);

/* Infers the frequency of a data set from its series' sorted, distinct timestamps: t[off[i] ..
 * off[i+1]) is series i, named names[i] in messages (names may be NULL: "series #i").
 * Calendar units are recognised when every timestamp sits on the same time of day and the same
 * day of month (clamped, as the anchor is) or month end; the step is then the gcd of the month
 * gaps, as years when it divides by 12, quarters by 3. Otherwise the step is the gcd of all
 * gaps in seconds, named in the largest unit that divides it. The result then passes
 * tsl_freq_fit. Fails with TSL_ESHORT when no series has two timestamps, and with TSL_EINVAL
 * when the timestamps do not fit a regular grid well enough, naming the item and timestamps
 * that do not fit the most common step (or the sparsest item when all of them do). */
tsl_err tsl_freq_infer(const int64_t *t, const size_t *off, size_t nseries,
                       const char *const *names, tsl_freq *out, tsl_diag *d);

/* Checks timestamps laid out as for tsl_freq_infer against the frequency f: each series must
 * sit on f's grid from its first timestamp, and the grids together must hold at most 4 points
 * per timestamp (the rest would be gaps filled with missing values). For calendar units with
 * anchor 0, the anchor is resolved from the data when all timestamps agree on one. *out is f,
 * so resolved. Fails with TSL_EINVAL naming the item and timestamp off the grid, or the
 * sparsest item. */
tsl_err tsl_freq_fit(tsl_freq f, const int64_t *t, const size_t *off, size_t nseries,
                     const char *const *names, tsl_freq *out, tsl_diag *d);

#ifdef __cplusplus
}
#endif
#endif
