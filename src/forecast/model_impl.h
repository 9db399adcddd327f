/*
 * model_impl.h - what a model implementation provides, and what model.c provides to it.
 *
 * Each model kind is one file (naive.c, ets.c, theta.c, croston.c, mstl.c, ensemble.c) that defines
 * a `const tsl_model_ops` and nothing else public. model.c owns everything common: validating
 * arguments, dropping leading missing values, counting observations, clamping forecasts of
 * non-negative series, sorting quantiles into monotone order, applying an empirical
 * calibration, and the serialized envelope (magic, format version, kind, the model's own
 * state version, spec, CRC-32). An implementation therefore only fits, forecasts, updates and
 * (de)serialises its own state, and may assume:
 *   - fit: n >= 1 and y[0] is not NaN; m->spec, m->period are set; m->state is NULL.
 *   - forecast: h >= 1; levels strictly increasing in (0,1); mean and quant (when nq > 0) sized
 *     h and h*nq. It need not sort or clamp: model.c does.
 *   - update: n >= 1; values may be NaN.
 *   - load: the envelope was verified; it must validate its own fields (a model file is input).
 */
#ifndef TSLOOP_MODEL_IMPL_H
#define TSLOOP_MODEL_IMPL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "tsloop/buf.h"
#include "tsloop/err.h"
#include "tsloop/model.h"

typedef struct tsl_model_ops {
    tsl_model_kind kind;
    uint16_t state_version; /* bump when the serialized state changes; load sees the old value */
    tsl_err (*fit)(tsl_model *m, const double *y, size_t n, tsl_diag *d);
    tsl_err (*forecast)(const tsl_model *m, size_t h, const double *levels, size_t nq, double *mean,
                        double *quant, tsl_diag *d);
    tsl_err (*update)(tsl_model *m, const double *y, size_t n, double *err1, tsl_diag *d);
    void (*save)(const tsl_model *m, tsl_wbuf *w);
    tsl_err (*load)(tsl_model *m, tsl_rbuf *r, uint16_t state_version, tsl_diag *d);
    void (*free_state)(void *state);
} tsl_model_ops;

/* An empirical calibration: absolute offsets from the mean (tsl_model_set_calibration), or
 * scales of the model's own quantile offsets (tsl_model_set_interval_scale). */
enum { TSL_CALIB_OFFSETS = 1, TSL_CALIB_SCALES = 2 };

typedef struct tsl_calib {
    int mode; /* TSL_CALIB_OFFSETS or TSL_CALIB_SCALES */
    size_t steps, nq;
    double *levels; /* nq */
    double *values; /* steps * nq: offsets or scales */
} tsl_calib;

struct tsl_model {
    const tsl_model_ops *ops;
    tsl_model_spec spec;
    int period;
    uint64_t nobs; /* observations absorbed by fit + update; the seasonal phase is nobs % period */
    int nonneg;    /* every observed value >= 0: clamp forecasts at 0 */
    double aicc;   /* NaN unless the model has a likelihood */
    char name[64]; /* set by fit (and restored by load) */
    void *state;
    tsl_calib *calib; /* NULL unless calibrated */
    /* Structural zeros (see model.c): per season position, how many of the most recent cycles
     * observed exactly 0 there; NULL when the rule does not apply to this series. */
    uint32_t *zero_run;
    uint64_t zero_seen, obs_seen; /* zeros and observed values, for the evidence threshold */
};

/* Fewest cycles of consecutive zeros at a season position that make it a structural zero. */
#define TSL_ZERO_CYCLES 8

/* Computes the structural-zero run lengths of y[0..n) for period into run[period] (phase 0 at
 * y[0]) and counts zeros and observed values; returns 1 when the rule applies (a non-negative
 * series, period > 1, at least TSL_ZERO_CYCLES full cycles), else 0 and run is untouched. */
int tsl_zero_runs(const double *y, size_t n, int period, uint32_t *run, uint64_t *zeros,
                  uint64_t *observed);

/* Cycles of zeros a position needs to count as structural, given the series' share of zeros:
 * enough that chance alone would produce such a run with probability below 1e-3. */
uint64_t tsl_zero_cycles_needed(uint64_t zeros, uint64_t observed);

extern const tsl_model_ops tsl_naive_ops, tsl_snaive_ops, tsl_mean_ops, tsl_drift_ops, tsl_ma_ops;
extern const tsl_model_ops tsl_ets_ops;
extern const tsl_model_ops tsl_theta_ops, tsl_otm_ops, tsl_dotm_ops;
extern const tsl_model_ops tsl_croston_ops, tsl_sba_ops, tsl_tsb_ops;
extern const tsl_model_ops tsl_mstl_ops;
extern const tsl_model_ops tsl_gbm_ops;
extern const tsl_model_ops tsl_ensemble_ops;

/* ---- statistics helpers (stats.c) ---- */

/* Standard normal quantile (Wichura's AS 241, relative error ~1e-16). p in (0,1). */
double tsl_qnorm(double p);
/* Standard normal CDF. */
double tsl_pnorm(double x);
/* Student t quantile with df > 0 degrees of freedom. */
double tsl_qt(double p, double df);

/* quant[s*nq+j] = mean[s] + sd[s] * qnorm(levels[j]). */
void tsl_quant_gauss(const double *mean, const double *sd, size_t h, const double *levels,
                     size_t nq, double *quant);

/* Empirical quantile of sorted x[0..n) at probability p, R's type 7 (linear interpolation). */
double tsl_quantile_sorted(const double *x, size_t n, double p);

/* Sorts x[0..n) ascending (NaN not allowed). */
void tsl_sort_doubles(double *x, size_t n);

/* Copies y into out with interior missing values filled by linear interpolation between the
 * neighbouring observations; trailing missing values repeat the last observation. y[0] must not
 * be NaN. Returns the number of values filled. */
size_t tsl_fill_linear(const double *y, size_t n, double *out);

/* Number of NaN values in y[0..n). */
size_t tsl_count_missing(const double *y, size_t n);

#endif
