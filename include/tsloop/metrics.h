/*
 * metrics.h - forecast accuracy metrics, per series and aggregated, NaN-safe.
 *
 * Metrics are computed from accumulators, so a backtest adds window after window and a monitor
 * adds evaluation after evaluation without keeping the points. A point counts only when both the
 * actual and the forecast are finite. Formulas (docs/metrics.md), over the counted points:
 *
 *   MAE   = mean |y - f|                    RMSE  = sqrt(mean (y - f)^2)
 *   MAPE  = 100 * mean over y != 0 of |y - f| / |y|
 *   sMAPE = mean of 200 |y - f| / (|y| + |f|)   (a point with y = f = 0 counts as 0)
 *   MASE  = MAE / scale, scale = in-sample MAE of the seasonal naive forecast (tsl_mase_scale)
 *   WAPE  = sum |y - f| / sum |y|
 *   wQL[tau] = 2 sum (tau (y - q)+ + (1 - tau)(q - y)+) / sum |y|   (the seeds' Autopilot);
 *   mean wQL = mean over the levels;    wQL[0.5] with q = f equals WAPE
 *   coverage = share of points with q_lowest <= y <= q_highest (nominal: highest - lowest level)
 *
 * Point metrics count a point when y and f are finite; quantile metrics (wQL, coverage) count it
 * when y and every quantile of that step are finite, and divide by sum |y| over those same
 * points, so a forecast without quantiles merged into one with them does not dilute wQL.
 * Coverage needs at least two levels.
 *
 * Aggregating over series (tsl_agg): MAE, RMSE, WAPE, wQL and coverage pool the points of all
 * series; MAPE, sMAPE and MASE are the mean of the per-series values (as the M competitions
 * score them), over the series where they are defined.
 */
#ifndef TSLOOP_METRICS_H
#define TSLOOP_METRICS_H

#include <stddef.h>

#include "tsloop/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tsl_metric {
    TSL_METRIC_MAE,
    TSL_METRIC_RMSE,
    TSL_METRIC_MAPE,
    TSL_METRIC_SMAPE,
    TSL_METRIC_MASE,
    TSL_METRIC_WAPE,
    TSL_METRIC_MEAN_WQL,
    TSL_METRIC_COVERAGE,
    TSL_METRIC_COUNT
} tsl_metric;

#define TSL_METRICS_MAX_LEVELS 32

/* Sums over the points of one series (possibly several forecast windows). Zero-init is empty. */
typedef struct tsl_acc {
    size_t n;       /* points counted */
    double abs_err; /* sum |y - f| */
    double sq_err;  /* sum (y - f)^2 */
    double abs_y;   /* sum |y| */
    double ape;     /* sum |y - f| / |y| over y != 0 */
    size_t n_ape;   /* points with y != 0 */
    double sape;    /* sum 200 |y - f| / (|y| + |f|) */
    size_t nq;      /* quantile levels accumulated (0 when none) */
    double levels[TSL_METRICS_MAX_LEVELS];
    double ql[TSL_METRICS_MAX_LEVELS]; /* sum 2 (tau (y-q)+ + (1-tau)(q-y)+) per level */
    size_t n_q;                        /* points counted for quantile metrics */
    double abs_y_q;                    /* sum |y| over those points: wQL's denominator */
    size_t covered;                    /* points inside [lowest, highest] quantile */
} tsl_acc;

/* Lower-case name ("smape", "mean_wql"); tsl_metric_parse accepts these in any case, and
 * "wql" for mean_wql. An unknown name fails with TSL_EINVAL and a message listing the names. */
const char *tsl_metric_name(tsl_metric m);
tsl_err tsl_metric_parse(const char *name, tsl_metric *out, tsl_diag *d);

/* Adds h points: actuals y, point forecasts f, and (when nq > 0) quantiles q[s * nq + j] at
 * levels (strictly increasing, nq <= TSL_METRICS_MAX_LEVELS). An accumulator takes one level set
 * for its life: adding other levels fails with TSL_EINVAL. */
tsl_err tsl_acc_add(tsl_acc *a, const double *y, const double *f, const double *q,
                    const double *levels, size_t nq, size_t h, tsl_diag *d);

/* a += b (same level set, or either without quantiles); on TSL_EINVAL a is unchanged. */
tsl_err tsl_acc_merge(tsl_acc *a, const tsl_acc *b, tsl_diag *d);

/* Value of metric m for one series; mase_scale is that series' tsl_mase_scale. NaN when
 * undefined (no points, sum |y| = 0 for WAPE/wQL, no y != 0 for MAPE, no quantiles for wQL,
 * fewer than two levels for coverage, a MASE scale that is not finite and > 0). */
double tsl_acc_value(const tsl_acc *a, tsl_metric m, double mase_scale);

/* Weighted quantile loss of level j alone, NaN when undefined. */
double tsl_acc_wql(const tsl_acc *a, size_t j);

/* The MASE denominator: mean |y[t] - y[t - m]| over the observed pairs of the training series
 * y[0..n), with m = period, or m = 1 when n <= period (the M4 convention). NaN when no pair. */
double tsl_mase_scale(const double *y, size_t n, int period);

/* Aggregate over series: pooled sums plus the running means of the per-series metrics. */
typedef struct tsl_agg {
    tsl_acc pooled;
    size_t nseries;
    double sum[TSL_METRIC_COUNT]; /* sums of per-series values (used for MAPE, sMAPE, MASE) */
    size_t cnt[TSL_METRIC_COUNT]; /* series where the value was defined */
} tsl_agg;

/* Adds one series' accumulator (and its MASE scale) to the aggregate. Fails with TSL_EINVAL,
 * adding nothing, when its quantile levels differ from those already pooled. */
tsl_err tsl_agg_add(tsl_agg *g, const tsl_acc *a, double mase_scale, tsl_diag *d);
/* a += b, for aggregates built in parallel. */
tsl_err tsl_agg_merge(tsl_agg *g, const tsl_agg *b, tsl_diag *d);
/* Aggregate value of metric m, following the pooling rules above. */
double tsl_agg_value(const tsl_agg *g, tsl_metric m);

#ifdef __cplusplus
}
#endif
#endif
