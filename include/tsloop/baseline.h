/*
 * baseline.h - the data baseline of a model version, and the drift statistics measured
 * against it.
 *
 * When a model version is registered, tsl_baseline_compute summarises the data it was trained
 * on, per series and over all series: counts, mean, standard deviation, range, missing and zero
 * shares, the deciles (exact, R's type 7) that double as the ten buckets of a PSI, and the
 * seasonal profile. The baseline is stored as JSON in the spirit of the cloud model monitor's
 * statistics.json, read back losslessly by tsl_baseline_from_json, and a constraints.json-like
 * document states the expectations derived from it (non-negative, completeness, value range).
 *
 * A drift monitor later summarises new data with tsl_baseline_stats_compute (the same code, so
 * the same positions and conventions) and compares raw new values with a series' baseline:
 * tsl_baseline_psi (population stability index over the baseline's buckets),
 * tsl_baseline_ks (Kolmogorov-Smirnov distance to the baseline's decile sketch) and
 * tsl_baseline_wasserstein (the first Wasserstein distance to the sketch, and that distance
 * divided by the baseline's standard deviation as Evidently normalises it). docs/baseline.md is
 * the user's description, with how to read each statistic.
 *
 * Pure computation and JSON text: no files, no store.
 */
#ifndef TSLOOP_BASELINE_H
#define TSLOOP_BASELINE_H

#include <stddef.h>
#include <stdint.h>

#include "tsloop/buf.h"
#include "tsloop/dataset.h"
#include "tsloop/err.h"
#include "tsloop/time.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TSL_BASELINE_BUCKETS 10
#define TSL_BASELINE_FORMAT  1 /* "version" of the JSON documents */
/* Longest seasonal profile kept (a week of 5-minute steps is 2016). */
#define TSL_BASELINE_MAX_PERIOD 10000
/* An empty bucket counts as this share in a PSI (Evidently's convention). */
#define TSL_BASELINE_PSI_FLOOR 1e-4
/* Floor of the standard deviation the Wasserstein distance is divided by (Evidently's). */
#define TSL_BASELINE_WASSERSTEIN_FLOOR 1e-3

/* Statistics of one series, or of all series together. Values that are not finite count as
 * missing. */
typedef struct tsl_baseline_stats {
    size_t n;             /* points on the series' grid, observed or missing */
    size_t count;         /* observed values */
    size_t zeros;         /* observed values equal to zero */
    double mean;          /* NaN when count is 0 */
    double sd;            /* sample standard deviation (divisor count - 1); NaN when count < 2 */
    double min, max;      /* NaN when count is 0 */
    double missing_share; /* (n - count) / n; NaN when n is 0 */
    double zero_share;    /* zeros / count; NaN when count is 0 */
    /* Quantiles at 0, 0.1, ..., 1 of the observed values (R's type 7: linear interpolation
     * between order statistics), so deciles[0] is min and deciles[10] max; NaN when count is
     * 0. The interior ones are the bucket edges: bucket 0 is (-inf, deciles[1]], bucket k is
     * (deciles[k], deciles[k + 1]], bucket 9 is (deciles[9], +inf). */
    double deciles[TSL_BASELINE_BUCKETS + 1];
    size_t buckets[TSL_BASELINE_BUCKETS]; /* observed values in each bucket; they sum to count */
    /* Seasonal profile, period values (0 and NULL when period < 2): at each season position,
     * the mean of the observed values there minus the mean of those position means, divided by
     * sd (all zeros when sd is 0); NaN where a position has no observation. Positions follow the
     * calendar, not the series' start: see tsl_baseline_position. For the statistics over all
     * series, the mean over the series of their profiles. */
    int period;
    double *profile;
} tsl_baseline_stats;

typedef struct tsl_baseline_series {
    char *item_id;
    tsl_baseline_stats stats;
} tsl_baseline_series;

typedef struct tsl_baseline {
    tsl_freq freq;
    int period; /* seasonal period of the profiles; 1 = none */
    size_t nseries;
    tsl_baseline_series *series; /* sorted by item_id (bytewise), ids distinct */
    /* All series' observed values pooled (n, count, zeros, mean, sd, range, deciles, buckets);
     * the profile is the mean of the series' profiles. */
    tsl_baseline_stats overall;
} tsl_baseline;

/* Computes the baseline of every series of ds with seasonal period `period` (<= 0: the data
 * set's period; 1: no profile). Fails with TSL_EINVAL when the data set has no valid frequency
 * or the period exceeds TSL_BASELINE_MAX_PERIOD. */
tsl_err tsl_baseline_compute(const tsl_dataset *ds, int period, tsl_baseline **out, tsl_diag *d);

/* Releases b; NULL is a no-op. */
void tsl_baseline_free(tsl_baseline *b);

/* Statistics of n values y at freq from `start`, with a profile of `period` positions (1: none),
 * exactly as tsl_baseline_compute computes a series'. *out is overwritten (release it with
 * tsl_baseline_stats_release). Fails with TSL_EINVAL on an invalid frequency or period. */
tsl_err tsl_baseline_stats_compute(const double *y, size_t n, int64_t start, tsl_freq freq,
                                   int period, tsl_baseline_stats *out, tsl_diag *d);

/* Frees the profile of s and zeroes it; NULL is a no-op. */
void tsl_baseline_stats_release(tsl_baseline_stats *s);

/* Season position (0 .. period - 1) of the step at timestamp t: the number of whole steps of
 * freq since a fixed origin, modulo period. The origin is Monday 1970-01-05 00:00 UTC for
 * fixed units (so hourly data with period 24 gives the hour of day, daily with period 7 the
 * day of week, 0 = Monday) and January of year 0 for calendar units (monthly with period 12
 * gives the month, 0 = January). freq must be valid and period >= 1. */
int tsl_baseline_position(tsl_freq freq, int period, int64_t t);

/* Index of the series with this item_id in b, or -1 (binary search). */
long tsl_baseline_find(const tsl_baseline *b, const char *item_id);

/* Appends b as JSON in the statistics.json spirit (docs/baseline.md); numbers are written with
 * 17 significant digits, so tsl_baseline_from_json gives b back to the bit. indent 0 =
 * compact. */
tsl_err tsl_baseline_to_json(const tsl_baseline *b, int indent, tsl_wbuf *out, tsl_diag *d);

/* Parses len bytes of JSON written by tsl_baseline_to_json. Everything is checked (version,
 * types, array lengths, counts that add up, deciles in order, ids sorted and distinct):
 * TSL_EPARSE for text that is not JSON, TSL_EVERSION for another format version, TSL_ECORRUPT
 * for a document of the wrong shape, the diag naming the field. */
tsl_err tsl_baseline_from_json(const char *text, size_t len, tsl_baseline **out, tsl_diag *d);

/* As tsl_baseline_from_json, but the text is read piece by piece (a parsed tree of one series at
 * a time, never of the whole document: memory stays near the result's size) and only the series
 * whose item_id is in want[0..nwant) (sorted bytewise; want NULL: every series) get their
 * statistics; the others keep their item_id with empty statistics (n and count 0, NaN values,
 * no profile), so the version's item list stays whole. Every part read is checked as by
 * tsl_baseline_from_json; a series not wanted is checked for its item_id only. */
tsl_err tsl_baseline_from_json_items(const char *text, size_t len, const char *const *want,
                                     size_t nwant, tsl_baseline **out, tsl_diag *d);

/* Appends the constraints derived from b, in the constraints.json spirit: per series and
 * overall, completeness (1 - missing share), is_non_negative (min >= 0) and the observed value
 * range, plus the drift thresholds docs/baseline.md recommends. */
tsl_err tsl_baseline_constraints_json(const tsl_baseline *b, int indent, tsl_wbuf *out,
                                      tsl_diag *d);

/* Population stability index of the n values x (non-finite ones ignored) against base's
 * buckets: sum over buckets of (p_new - p_base) * ln(p_new / p_base), empty buckets counting
 * TSL_BASELINE_PSI_FLOOR. Fails with TSL_ESHORT when base or x has no observed value. */
tsl_err tsl_baseline_psi(const tsl_baseline_stats *base, const double *x, size_t n, double *out,
                         tsl_diag *d);

/* Kolmogorov-Smirnov statistic: the largest distance between the empirical distribution of x
 * and the baseline's distribution as its deciles sketch it (linear between consecutive
 * deciles, a jump where deciles tie). Fails with TSL_ESHORT as tsl_baseline_psi. */
tsl_err tsl_baseline_ks(const tsl_baseline_stats *base, const double *x, size_t n, double *out,
                        tsl_diag *d);

/* First Wasserstein distance between the empirical distribution of x and the baseline's
 * sketched one (*dist), and *dist divided by max(population standard deviation of the
 * baseline, TSL_BASELINE_WASSERSTEIN_FLOOR) (*norm, Evidently's normalisation). Either pointer
 * may be NULL. Fails with TSL_ESHORT as tsl_baseline_psi. */
tsl_err tsl_baseline_wasserstein(const tsl_baseline_stats *base, const double *x, size_t n,
                                 double *dist, double *norm, tsl_diag *d);

#ifdef __cplusplus
}
#endif
#endif
