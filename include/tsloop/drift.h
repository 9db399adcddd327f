/*
 * drift.h - drift of new data against a model version's data baseline, and streaming change
 * detectors on its residuals.
 *
 * Two questions a monitor asks, with two kinds of tools:
 *
 * - "Does the data still look like what the model learnt from?" The new values of a window
 *   (a day, a week of ground truth), per series and pooled over all series, are compared with
 *   the baseline of tsloop/baseline.h by three distribution statistics: the population
 *   stability index over the baseline's ten buckets, the Kolmogorov-Smirnov distance to its
 *   decile sketch with an asymptotic p-value, and the Wasserstein-1 distance normalised by
 *   the baseline's standard deviation (over the central 80% of the mass for the verdict).
 *   Each gets a verdict against configurable thresholds (tsl_drift_thresholds, defaults
 *   below); tsl_drift_compute does a whole window.
 * - "Has the model's error changed?" The one-step-ahead residuals of the deployed model feed a
 *   two-sided CUSUM (Page 1954) or a Page-Hinkley test (Page 1954; Hinkley 1971), streaming:
 *   a small state, an update per residual, a reset. Both work in units of the residuals'
 *   standard deviation sigma (the deployed version's backtest residual sd), so the defaults
 *   are the same for every series whatever its scale.
 *
 * docs/monitoring.md is the user's description: what each statistic means, the defaults and
 * why. Pure computation: no I/O, no store, no clock, no threads.
 */
#ifndef TSLOOP_DRIFT_H
#define TSLOOP_DRIFT_H

#include <stddef.h>
#include <stdint.h>

#include "tsloop/baseline.h"
#include "tsloop/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Defaults of tsl_drift_thresholds (docs/monitoring.md says why each). */
#define TSL_DRIFT_PSI_MODERATE 0.1  /* Siddiqi (2006) / Yurdakul (2018): a shift worth a look */
#define TSL_DRIFT_PSI_LARGE    0.25 /* ... a large shift */
#define TSL_DRIFT_KS_ALPHA     0.05 /* level of the KS test */
#define TSL_DRIFT_KS_DISTANCE  0.1  /* smallest KS distance called drift: the sketch's step */
#define TSL_DRIFT_WASSERSTEIN  0.1  /* Evidently's threshold, in baseline standard deviations */
#define TSL_DRIFT_MIN_COUNT    100  /* fewer new values: no verdict */
#define TSL_DRIFT_CUSUM_K      0.5  /* half the 1-sigma shift to detect (Montgomery) */
#define TSL_DRIFT_CUSUM_H      5.0  /* ARL0 about 465 (two-sided), ARL1 about 10 at 1 sigma */
#define TSL_DRIFT_PH_DELTA     0.5  /* Page-Hinkley tolerance, sigma units, as CUSUM's k */
#define TSL_DRIFT_PH_LAMBDA    5.0  /* Page-Hinkley alarm level, sigma units, as CUSUM's h */
#define TSL_DRIFT_PH_MIN_N     30   /* no Page-Hinkley alarm before this many residuals */

/* What a statistic says about a window. Ordered: a larger value is worse. */
typedef enum tsl_drift_level {
    TSL_DRIFT_INSUFFICIENT = 0, /* too few values (or no baseline) to say */
    TSL_DRIFT_STABLE,           /* below every threshold */
    TSL_DRIFT_MODERATE,         /* PSI only: between its moderate and large thresholds */
    TSL_DRIFT_DRIFT             /* past the (large) threshold */
} tsl_drift_level;

/* "insufficient", "stable", "moderate", "drift". Never NULL. */
const char *tsl_drift_level_name(tsl_drift_level level);

typedef struct tsl_drift_thresholds {
    double psi_moderate; /* PSI >= this: MODERATE */
    double psi_large;    /* PSI >= this: DRIFT (>= psi_moderate) */
    double ks_alpha;     /* KS p-value < this ... */
    double ks_distance;  /* ... and distance >= this: DRIFT; in [0, 1] */
    double wasserstein;  /* central normalised Wasserstein >= this: DRIFT */
    size_t min_count;    /* fewer observed new values: every level INSUFFICIENT (>= 1) */
} tsl_drift_thresholds;

/* The defaults above. */
void tsl_drift_thresholds_default(tsl_drift_thresholds *t);

/* TSL_EINVAL, naming the field, unless every threshold is finite and in its range:
 * 0 < psi_moderate <= psi_large, 0 < ks_alpha < 1, 0 <= ks_distance <= 1, wasserstein > 0,
 * min_count >= 1. */
tsl_err tsl_drift_thresholds_check(const tsl_drift_thresholds *t, tsl_diag *d);

/* The statistics of one window against one baseline, and their verdicts. A statistic that
 * cannot be computed (no baseline value, no new value) is NaN with level INSUFFICIENT. */
typedef struct tsl_drift_result {
    size_t count;            /* observed (finite) new values */
    double psi;              /* tsl_baseline_psi */
    double ks;               /* tsl_baseline_ks: distance in [0, 1] */
    double ks_p;             /* tsl_drift_ks_pvalue(ks, baseline count, count) */
    double wasserstein;      /* in the data's unit */
    double wasserstein_norm; /* divided by the baseline's population sd (floored) */
    /* The mean |Qnew(u) - Qbase(u)| over u in [0.1, 0.9] (between the first and ninth
     * deciles, where the sketch is exact at its knots), divided as wasserstein_norm: what the
     * verdict reads, since the sketch's linear tails alone put a sample some 0.1 sd from its
     * own sketch in the full distance. */
    double wasserstein_central;
    tsl_drift_level psi_level, ks_level, wasserstein_level;
    tsl_drift_level level; /* the worst of the three */
} tsl_drift_result;

/* Compares the n values x (non-finite ones are missing) with base under thresholds t (NULL:
 * the defaults). Never fails for lack of data: that is a result (INSUFFICIENT). Fails with
 * TSL_EINVAL on invalid thresholds. */
tsl_err tsl_drift_stats(const tsl_baseline_stats *base, const double *x, size_t n,
                        const tsl_drift_thresholds *t, tsl_drift_result *out, tsl_diag *d);

/* Asymptotic p-value of a Kolmogorov-Smirnov distance dist between samples of n and m values
 * (R's ks.test(exact = FALSE)): P(K > sqrt(n m / (n + m)) dist) for Kolmogorov's limiting
 * distribution. n = 0 means a fully known reference distribution (one-sample: sqrt(m) dist).
 * NaN when m is 0 or dist is not in [0, 1]. */
double tsl_drift_ks_pvalue(double dist, size_t n, size_t m);

/* The new values of one series over the window. */
typedef struct tsl_drift_window {
    const char *item_id;
    const double *values; /* n values, NaN for missing */
    size_t n;
} tsl_drift_window;

/* One window's outcome: the series it was compared with, or none (an item the baseline does
 * not know: every level INSUFFICIENT, count still counted). */
typedef struct tsl_drift_series {
    const char *item_id; /* borrowed from the window */
    long baseline_index; /* index in b->series, or -1 */
    tsl_drift_result result;
} tsl_drift_series;

typedef struct tsl_drift_report {
    size_t nseries;
    tsl_drift_series *series; /* one per window, in the windows' order */
    /* Every window's values pooled (unknown items included: a new item is part of the
     * population) against b->overall. */
    tsl_drift_result overall;
    size_t drifted; /* series whose level is DRIFT */
} tsl_drift_report;

/* Compares each window with its series' baseline in b and the pooled windows with b's overall
 * statistics. *out is overwritten; release it with tsl_drift_report_release. Fails with
 * TSL_EINVAL on invalid thresholds or a window without an item_id. */
tsl_err tsl_drift_compute(const tsl_baseline *b, const tsl_drift_window *w, size_t nw,
                          const tsl_drift_thresholds *t, tsl_drift_report *out, tsl_diag *d);

/* Frees the report's series and zeroes it; NULL is a no-op. */
void tsl_drift_report_release(tsl_drift_report *r);

/* ---- change detectors on residuals ---- */

/* The detectors' signal: +1 the mean went up, -1 down, 0 none. */

/* Two-sided tabular CUSUM of z = (r - mean) / sigma:
 *   hi = max(0, hi + z - k), lo = max(0, lo - z - k), a signal when either exceeds h. */
typedef struct tsl_cusum {
    /* parameters */
    double mean;  /* in-control mean of the residuals (0 for an unbiased model) */
    double sigma; /* their standard deviation, > 0 */
    double k;     /* allowance, sigma units */
    double h;     /* decision interval, sigma units */
    /* state */
    double hi, lo;     /* the two cumulative sums, >= 0 */
    uint64_t n;        /* residuals seen since the last reset (missing ones not counted) */
    uint64_t hi_start; /* n when hi last left zero: the change point's estimate */
    uint64_t lo_start;
    int signal; /* the last update's signal, kept until reset */
} tsl_cusum;

/* Initialises c with the given parameters and a reset state. TSL_EINVAL unless mean is finite,
 * sigma > 0, k >= 0 and h > 0 (all finite). */
tsl_err tsl_cusum_init(tsl_cusum *c, double mean, double sigma, double k, double h, tsl_diag *d);

/* Zeroes the state, keeping the parameters. */
void tsl_cusum_reset(tsl_cusum *c);

/* Adds residual r (NaN: missing, ignored) and returns the signal (+1, -1, 0). Once a signal
 * is given it stays (returned again) until tsl_cusum_reset, so a caller that acts on changes
 * acts once. */
int tsl_cusum_update(tsl_cusum *c, double r);

/* Page-Hinkley test (two-sided), on z = r / sigma with the running mean zbar_t:
 *   up_t   = up_{t-1}   + z_t - zbar_t - delta,  signal + when up_t - min(up)     > lambda
 *   down_t = down_{t-1} + z_t - zbar_t + delta,  signal - when max(down) - down_t > lambda
 * No signal before min_n residuals (the running mean is not settled). Unlike CUSUM it needs
 * no in-control mean: it detects a change relative to the mean so far. */
typedef struct tsl_page_hinkley {
    /* parameters */
    double sigma;  /* scale of the residuals, > 0 */
    double delta;  /* tolerance, sigma units */
    double lambda; /* alarm level, sigma units */
    uint64_t min_n;
    /* state */
    double mean;           /* running mean of z */
    double up, up_min;     /* cumulative sum and its minimum for increases */
    double down, down_max; /* and its maximum for decreases */
    uint64_t n;
    int signal;
} tsl_page_hinkley;

/* Initialises p with a reset state. TSL_EINVAL unless sigma > 0, delta >= 0, lambda > 0 (all
 * finite). */
tsl_err tsl_page_hinkley_init(tsl_page_hinkley *p, double sigma, double delta, double lambda,
                              uint64_t min_n, tsl_diag *d);

/* Zeroes the state, keeping the parameters. */
void tsl_page_hinkley_reset(tsl_page_hinkley *p);

/* Adds residual r (NaN ignored); returns the signal as tsl_cusum_update does. */
int tsl_page_hinkley_update(tsl_page_hinkley *p, double r);

#ifdef __cplusplus
}
#endif
#endif
