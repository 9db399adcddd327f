/*
 * automl.h - choose, per series, the model (or combination) that should forecast it best, refit
 * it on the whole history and forecast.
 *
 * For each series: plan a rolling-origin backtest, backtest every applicable candidate, score
 * the columns of the leaderboard (the candidates, fixed combinations such as the classic mean of
 * ETS, ARIMA and Theta, and combinations of each series' best few), then choose per series by
 * blending the series' own evidence with the whole data set's (docs/automl.md: a series' few
 * windows are a noisy judge on their own), refit and forecast with calibrated quantiles. Every
 * series records what it got and why. Series run in parallel; results do not depend on the
 * number of threads.
 */
#ifndef TSLOOP_AUTOML_H
#define TSLOOP_AUTOML_H

#include <stddef.h>

#include "tsloop/backtest.h"
#include "tsloop/err.h"
#include "tsloop/metrics.h"
#include "tsloop/model.h"
#include "tsloop/time.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One input series: values at a regular frequency, NaN where missing, y[0] at `start` (used
 * by models with calendar features; 0 when unknown). */
typedef struct tsl_ts {
    const double *y;
    size_t n;
    int64_t start;
} tsl_ts;

typedef struct tsl_automl_opts {
    size_t horizon; /* >= 1 */
    int period;     /* seasonal period of every series, >= 1 */
    /* Every seasonal period worth modelling, ascending (e.g. 24 and 168 for hourly data);
     * nperiods 0 means just `period`. Models of several seasonalities (MSTL) use them. */
    int nperiods;
    int periods[TSL_MAX_PERIODS];
    tsl_freq freq;        /* the series' frequency, for calendar features (unit NONE: none) */
    const double *levels; /* quantile levels, strictly increasing */
    size_t nq;            /* <= TSL_METRICS_MAX_LEVELS */
    const tsl_model_spec *candidates; /* NULL: the default set (tsl_automl_default_candidates) */
    size_t ncandidates;
    tsl_metric metric; /* selection metric; default MASE */
    size_t windows;    /* backtest windows; 0 = 3 */
    int ensembles;     /* 1: also consider combinations (fixed and of each series' best) */
    /* How much a series' choice follows its own backtest rather than the whole data set's, in
     * [0, 1] (1 = per-series selection alone, 0 = one column for every series), or -1 (the
     * default) to learn it: the nested evaluation tries 0, 0.1, 0.25, 0.5 and 1 and keeps the
     * best (docs/automl.md). Without nested evidence (the fast preset, a time limit reached, a
     * lone candidate), -1 means 0.1. */
    double series_weight;
    int threads;     /* 0 = all cores */
    int forecast;    /* 0: backtest only (no refit, no forecasts, no models) */
    int keep_models; /* 1: keep each series' fitted model in the result */
    /* 1: report AutoML's own honest evaluation: at each backtest origin, the whole selection
     * (the data-set blend included) is run on the data before it and its forecast scored (the
     * "auto" leaderboard row). Learning the series weight needs the same inner backtests, so
     * they run then too; they reuse the backtest fits where origins coincide. */
    int evaluate_auto;
    /* 1 (default): calibrate the quantiles of each column from its backtest errors pooled over
     * all series (interval scaling per level and horizon step, see docs/automl.md). */
    int calibrate;
    /* 1: the fast preset. Expensive candidates (ETS, ARIMA, MSTL, GBM) are first backtested on
     * the latest window only, and dropped for a series where a cheap candidate already beats
     * them there by more than 10%. */
    int fast;
    /* Seconds for the whole run, 0 for no limit. When it runs out, series not yet backtested
     * get only the cheap candidates and no nested evaluation; every series still gets a
     * forecast. The result says how many were cut short. */
    double time_limit;
    /* Only the last max_history values of a series are modelled (0: the default, the last
     * max(1000, 20 x the longest seasonal period)): years of hourly history make every fit
     * slower without making a day-ahead forecast better. */
    size_t max_history;
    /* Called after each series' backtest with the number done so far; serialised by automl. */
    void (*progress)(void *ctx, size_t done, size_t total);
    void *progress_ctx;
} tsl_automl_opts;

/* Fills opts with defaults: 3 windows, MASE, combinations on, the series weight learnt, all
 * cores, forecasting and calibration on. */
void tsl_automl_opts_init(tsl_automl_opts *o, size_t horizon, int period);

/* The default candidates for a period: naive, seasonal naive (period > 1), drift, ETS, Theta,
 * DOTM, and mean, Croston, SBA, TSB (these four only tried on series the Syntetos-Boylan
 * classification calls intermittent, lumpy or all zero). With several seasonal periods in the
 * options, AutoML adds MSTL with ETS and with Theta on what remains. Returns the count written
 * to out (capacity cap). */
size_t tsl_automl_default_candidates(int period, tsl_model_spec *out, size_t cap);

typedef struct tsl_automl_series {
    tsl_err err; /* TSL_OK, or why nothing could be fitted (then mean is NaN) */
    char error[200];
    char choice[64];     /* leaderboard column chosen, e.g. "ets" or "mean(ets,theta,dotm)" */
    char model_name[64]; /* the refit model's name, e.g. "ETS(M,Ad,N)" */
    char reason[320];    /* why this series got this model, in words */
    double *mean;        /* horizon (forecast mode) */
    double *quant;       /* horizon * nq (forecast mode) */
    double *scores;      /* ncols: backtest score on the metric per column, NaN if none */
    double auto_score;   /* evaluate_auto: the nested score of AutoML itself, else NaN */
    tsl_model *model;    /* keep_models: the refit model, owned by the result */
    size_t nobs;         /* observed length after dropping leading missing values */
    tsl_bt_plan plan;    /* the backtest plan used */
    int cut_short;       /* the time limit left this series with the cheap candidates only */
} tsl_automl_series;

typedef struct tsl_automl_result {
    size_t nseries;
    tsl_automl_series *series;
    size_t horizon, nq;
    double levels[TSL_METRICS_MAX_LEVELS];
    tsl_metric metric;
    double series_weight; /* the weight used (learnt or given) */
    int weight_learnt;    /* 1 when series_weight was learnt from the nested evaluation */
    size_t ncols; /* leaderboard columns: candidates, fixed combinations, then per-series ones */
    char (*col_names)[64];
    tsl_agg *col_agg;    /* ncols: backtest metrics over series x windows */
    double *col_seconds; /* ncols: total fit + forecast seconds in backtests */
    size_t *col_chosen;  /* ncols: series that chose this column */
    size_t *col_series;  /* ncols: series where this column backtested successfully */
    /* ncols: the column's score relative to each series' average candidate, averaged over the
     * series (below 1 = better than average); NaN where it never backtested. */
    double *col_rel;
    tsl_agg auto_agg;    /* evaluate_auto: AutoML's own nested backtest */
    size_t auto_series;  /* series evaluated in auto_agg */
    double auto_seconds; /* total seconds of the nested inner backtests */
    size_t cut_short;    /* series the time limit left with the cheap candidates only */
    /* The seasonal periods the MSTL candidates used: those of opts.periods confirmed on at
     * least half the series (tsl_mstl_confirm_periods); nperiods 0 when none ran. */
    int nperiods;
    int periods[TSL_MAX_PERIODS];
    /* calibrate: interval scales per column, step bucket and level: col_scale[(col * nbuckets +
     * b) * nq + j]; bucket b covers steps [bucket_start[b], bucket_start[b + 1]). NULL when not
     * calibrated. */
    size_t nbuckets;
    size_t *bucket_start; /* nbuckets + 1 */
    double *col_scale;
    double seconds; /* wall time of the whole run */
} tsl_automl_result;

/* Runs AutoML over series[0..nseries). Fails only on invalid options; per-series failures are
 * reported in the series' err/error. */
tsl_err tsl_automl_run(const tsl_ts *series, size_t nseries, const tsl_automl_opts *opts,
                       tsl_automl_result **out, tsl_diag *d);

void tsl_automl_result_free(tsl_automl_result *r);

#ifdef __cplusplus
}
#endif
#endif
