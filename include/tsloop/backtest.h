/*
 * backtest.h - rolling-origin evaluation of candidate models on one series.
 *
 * A plan places K forecast origins at the end of a series: window k trains on y[0..origin[k])
 * and is scored on the next h values. Origins are spaced by the horizon so test windows do not
 * overlap; when the series is too short for that, the spacing shrinks (down to one step), then
 * the number of windows, then the backtest horizon, always keeping min_train values to train
 * on. The spacing, window count and horizon actually used are recorded in the plan.
 *
 * Each candidate's per-window forecasts (mean and quantiles) are kept, so that combinations of
 * candidates can be scored without refitting anything (tsl_bt_combine).
 */
#ifndef TSLOOP_BACKTEST_H
#define TSLOOP_BACKTEST_H

#include <stddef.h>

#include "tsloop/err.h"
#include "tsloop/metrics.h"
#include "tsloop/model.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TSL_BT_MAX_WINDOWS 32

typedef struct tsl_bt_plan {
    size_t h;         /* backtest horizon, <= the requested horizon; 0 when no window fits */
    size_t k;         /* windows, 0 when the series is too short */
    size_t step;      /* spacing of consecutive origins */
    size_t min_train; /* values every window trains on, at least */
    int period;       /* seasonal period, for the MASE scale of each window */
    size_t origin[TSL_BT_MAX_WINDOWS]; /* training lengths, ascending; window k tests
                                          y[origin[k] .. origin[k] + h) */
} tsl_bt_plan;

/* Minimum training length for a series of this period: max(5, period + 3), the least that
 * leaves every model something to estimate. */
size_t tsl_bt_min_train(int period);

/* Plans up to `windows` (1..TSL_BT_MAX_WINDOWS) windows of horizon `horizon` over a series of n
 * values. A plan with k == 0 means the series is too short to backtest at all. */
void tsl_bt_plan_make(size_t n, size_t horizon, size_t windows, int period, tsl_bt_plan *plan);

/* The backtest of one candidate on one series. */
typedef struct tsl_bt_result {
    int ok;             /* every window fitted and forecast */
    char error[160];    /* why not, when !ok */
    double fit_seconds; /* wall time of all window fits and forecasts (this thread) */
    size_t k, h, nq;    /* shape of fc */
    tsl_acc acc[TSL_BT_MAX_WINDOWS];
    double scale[TSL_BT_MAX_WINDOWS]; /* MASE scale of each window's training part */
    double *fc; /* k * h * (1 + nq): window w, step s -> fc[(w*h + s)*(1+nq)]: mean, quantiles */
} tsl_bt_result;

void tsl_bt_result_release(tsl_bt_result *r);

/* Backtests spec on y[0..n) along plan, forecasting the quantile levels (nq may be 0). A model
 * failing to fit or forecast is not an error of this function: it is reported in out->ok and
 * out->error. y must have no leading missing value. */
tsl_err tsl_backtest(const tsl_model_spec *spec, const double *y, size_t n, const tsl_bt_plan *plan,
                     const double *levels, size_t nq, tsl_bt_result *out, tsl_diag *d);

/* Scores a combination of already backtested members (all ok, same plan) as tsl_model_ensemble
 * would forecast it: weighted mean (weights NULL = equal) or median, level by level. */
tsl_err tsl_bt_combine(const tsl_bt_result *const *members, const double *weights, size_t k,
                       int use_median, const double *y, size_t n, const tsl_bt_plan *plan,
                       const double *levels, size_t nq, tsl_bt_result *out, tsl_diag *d);

/* Mean over windows of the per-window value of metric m (NaN where undefined in every window).
 */
double tsl_bt_score(const tsl_bt_result *r, tsl_metric m);

/* Adds every window of r to an aggregate as a unit (so per-series metrics average over series
 * and windows alike). */
tsl_err tsl_bt_agg_add(tsl_agg *g, const tsl_bt_result *r, tsl_diag *d);

#ifdef __cplusplus
}
#endif
#endif
