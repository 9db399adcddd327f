/*
 * model.h - the one interface every forecasting model implements.
 *
 * A model is fitted on one series (an array of doubles at a regular frequency, NaN where a value
 * is missing), forecasts a horizon with its mean and any list of quantiles, absorbs new
 * observations without refitting (update), and serialises to a versioned, checksummed binary
 * form and back. AutoML, serving and monitoring use only these functions, so they never need to
 * know which model they hold.
 *
 * Ownership: tsl_model_fit and tsl_model_load return a new model that the caller releases with
 * tsl_model_free (free of NULL is a no-op). A fitted model is immutable but for
 * tsl_model_update, so several threads may forecast from one model at once; update needs
 * exclusive access.
 *
 * Quantile levels are probabilities in (0, 1), strictly increasing. Quantile output is row-major:
 * quant[step * nq + j] is level j at horizon step `step` (0-based). Quantiles are monotone in j,
 * and when the fitted history was never negative, means and quantiles are never negative either.
 */
#ifndef TSLOOP_MODEL_H
#define TSLOOP_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "tsloop/buf.h"
#include "tsloop/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Model kinds. The numbers are part of the serialized format: never renumber. */
typedef enum tsl_model_kind {
    TSL_MODEL_NONE = 0,
    TSL_MODEL_NAIVE = 1,    /* last value */
    TSL_MODEL_SNAIVE = 2,   /* value one season earlier */
    TSL_MODEL_MEAN = 3,     /* mean of the history */
    TSL_MODEL_DRIFT = 4,    /* random walk with drift */
    TSL_MODEL_MA = 5,       /* mean of the last `window` values */
    TSL_MODEL_ETS = 10,     /* exponential smoothing state space, Hyndman et al. */
    TSL_MODEL_THETA = 20,   /* standard Theta method (Assimakopoulos & Nikolopoulos) */
    TSL_MODEL_OTM = 21,     /* optimised Theta model (Fiorucci et al. 2016) */
    TSL_MODEL_DOTM = 22,    /* dynamic optimised Theta model (Fiorucci et al. 2016) */
    TSL_MODEL_CROSTON = 30, /* Croston's method for intermittent demand */
    TSL_MODEL_SBA = 31,     /* Syntetos-Boylan approximation */
    TSL_MODEL_TSB = 32,     /* Teunter-Syntetos-Babai */
    TSL_MODEL_ARIMA = 40,   /* seasonal ARIMA with automatic order selection */
    TSL_MODEL_MSTL = 50,    /* several seasonal periods removed by MSTL, a base model on the rest */
    TSL_MODEL_GBM = 60,     /* a gradient-boosted model learned across all series */
    TSL_MODEL_ENSEMBLE = 90 /* a weighted mean or median of member models */
} tsl_model_kind;

/* Seasonal periods one model can take at most (MSTL). */
#define TSL_MAX_PERIODS 4

/* What to fit. Initialise with tsl_model_spec_init, then set the fields that matter. */
typedef struct tsl_model_spec {
    tsl_model_kind kind;
    int period; /* seasonal period m >= 1; 1 means non-seasonal */
    /* ETS form: each of 'A' (additive), 'M' (multiplicative), 'N' (none), 'Z' (choose by
     * AICc). Error is A/M/Z, trend and season N/A/M/Z. Default "ZZZ". */
    char ets_error, ets_trend, ets_season;
    int ets_damped;           /* -1 choose, 0 no damping, 1 damped trend */
    int ets_allow_mult_trend; /* 0 (as R's ets() default) excludes multiplicative trends */
    int window;               /* moving average window; 0 chooses the seasonal period or 3 */
    /* ARIMA(p,d,q)(P,D,Q)[period]: each order -1 = choose (AutoARIMA, the default). */
    int arima_p, arima_d, arima_q, arima_P, arima_D, arima_Q;
    int arima_constant; /* -1 choose; 0 none; 1 a mean (d + D = 0) or drift (d + D = 1) */
    int arima_stepwise; /* 1 (default): Hyndman-Khandakar stepwise search; 0: exhaustive */
    /* MSTL: the seasonal periods to remove, distinct and ascending (nperiods 0 = `period`
     * alone; then period 1 means none), and the kind of model fitted to what remains with
     * period 1 (ETS by default; see docs/models/mstl.md). `period` should then be the longest
     * of them: it is the cycle the structural-zero rule of model.c watches. */
    int nperiods;
    int periods[TSL_MAX_PERIODS];
    tsl_model_kind base;
} tsl_model_spec;

typedef struct tsl_model tsl_model;

/* Sets every field to its default for `kind` (ETS "ZZZ", damping chosen, window 0). */
void tsl_model_spec_init(tsl_model_spec *spec, tsl_model_kind kind, int period);

/* Parses a candidate name as the CLI takes it: "naive", "snaive", "mean", "drift", "ma",
 * "ma:7", "ets", "ets:MAdN" (error, trend with optional 'd' for damped, season), "theta", "otm",
 * "dotm", "croston", "sba", "tsb", "arima", "arima:(p,d,q)(P,D,Q)" (each order a number or '?'
 * to choose; the seasonal group optional), optionally followed by "+const" or "-const" and
 * "+exhaustive" (docs/models/arima.md; a seasonal ARIMA part needs period > 1), "gbm" (a
 * boosted tree model of that one series; the global model across series is trained with
 * tsl_gbm_train, src/forecast/gbm.h), "mstl" (ETS on the adjusted series) or "mstl:BASE" with
 * BASE one of ets, theta, otm, dotm, arima, naive, drift. An MSTL spec takes `period` as its one
 * period; a caller with several sets nperiods and periods[] (ascending) afterwards. */
tsl_err tsl_model_spec_parse(const char *name, int period, tsl_model_spec *spec, tsl_diag *d);

/* The canonical text of a spec, as tsl_model_spec_parse reads it back ("ets", "ets:MAdN",
 * "ma:7", "arima:(1,1,1)(0,1,1)"); arguments equal to the defaults are left out. As snprintf. */
size_t tsl_model_spec_format(const tsl_model_spec *spec, char *buf, size_t cap);

/* The lower-case CLI name of a kind ("ets"), or "unknown". */
const char *tsl_model_kind_name(tsl_model_kind kind);

/* Fits spec on y[0..n) (NaN = missing). Leading missing values are dropped; each model copes
 * with interior gaps by the policy documented in docs/models.md. Fails with TSL_ESHORT when the
 * series is too short for the model, TSL_ENUMERIC when no admissible fit was found. */
tsl_err tsl_model_fit(const tsl_model_spec *spec, const double *y, size_t n, tsl_model **out,
                      tsl_diag *d);

/* Forecasts h >= 1 steps after the last observation: mean[h] and, when nq > 0, quant[h * nq]
 * at the given levels. levels may be NULL when nq == 0; quant may then be NULL too. */
tsl_err tsl_model_forecast(const tsl_model *m, size_t h, const double *levels, size_t nq,
                           double *mean, double *quant, tsl_diag *d);

/* Absorbs y[0..n), the observations that followed the history, without refitting parameters.
 * When err1 is not NULL it receives the n one-step-ahead errors (actual - forecast made the step
 * before; NaN where the actual is missing), the residuals drift detectors watch. */
tsl_err tsl_model_update(tsl_model *m, const double *y, size_t n, double *err1, tsl_diag *d);

/* Appends the model's serialized form to out: a versioned, CRC-32 checked envelope. */
tsl_err tsl_model_save(const tsl_model *m, tsl_wbuf *out, tsl_diag *d);

/* Rebuilds a model from tsl_model_save's bytes. Fails with TSL_ECORRUPT on a bad checksum or
 * structure, TSL_EVERSION on a format this build does not know. */
tsl_err tsl_model_load(const void *data, size_t len, tsl_model **out, tsl_diag *d);

/* Checks a set of quantile levels: at most max of them (TSL_ELIMIT past it), each in (0, 1),
 * strictly increasing (TSL_EINVAL otherwise, with the offending value in the message). */
tsl_err tsl_quantile_levels_check(const double *levels, size_t nq, size_t max, tsl_diag *d);

/* Deep copy (through save and load). */
tsl_err tsl_model_clone(const tsl_model *m, tsl_model **out, tsl_diag *d);

void tsl_model_free(tsl_model *m);

/* Builds an ensemble of k fitted members: the forecast is the weighted mean of the members'
 * means (weights normalised to sum 1; NULL = equal) or, with use_median, their median; each
 * quantile is combined the same way. Takes ownership of members[0..k) even on failure; the
 * array itself stays the caller's. */
tsl_err tsl_model_ensemble(tsl_model **members, const double *weights, size_t k, int use_median,
                           tsl_model **out, tsl_diag *d);

/* Descriptive name of the fitted model, e.g. "ETS(M,Ad,N)", "Theta", "SNaive(7)". */
const char *tsl_model_name(const tsl_model *m);
tsl_model_kind tsl_model_kind_of(const tsl_model *m);
const tsl_model_spec *tsl_model_spec_of(const tsl_model *m);
/* The spec that refits m's chosen form without searching again: for ARIMA the orders and the
 * constant it chose, for ETS its form; for other kinds (their searches are cheap) m's own
 * spec. */
void tsl_model_chosen_spec(const tsl_model *m, tsl_model_spec *out);
/* Observations absorbed by fit and updates (after dropping leading missing values). */
uint64_t tsl_model_nobs(const tsl_model *m);
/* Corrected Akaike information criterion where the model has a likelihood, else NaN. */
double tsl_model_aicc(const tsl_model *m);

/*
 * Empirical quantile calibration. A calibration replaces the model's own predictive
 * distribution by its mean plus per-step error quantiles, e.g. learned from backtest errors:
 * offsets[s * nq + j] is added to the mean at step s for level j; steps past `steps` reuse the
 * last step's offsets scaled by sqrt(step / steps). The model keeps a copy. Levels of a later
 * forecast that are not among the calibrated ones are interpolated linearly in level between
 * neighbours (and extrapolated from the outermost pair).
 */
tsl_err tsl_model_set_calibration(tsl_model *m, size_t steps, const double *levels, size_t nq,
                                  const double *offsets, tsl_diag *d);

/*
 * Interval scaling, the other form of calibration: the model keeps its own predictive
 * distribution, and each quantile's distance from the mean is multiplied by
 * scales[s * nq + j] at step s for level j (levels in between interpolate linearly, levels
 * beyond the outermost take the outermost's scale; steps past `steps` reuse the last). Because
 * the scale is relative, it keeps following the model's own band as updates move it. Scales
 * must be positive and finite. Replaces any earlier calibration.
 */
tsl_err tsl_model_set_interval_scale(tsl_model *m, size_t steps, const double *levels, size_t nq,
                                     const double *scales, tsl_diag *d);

/* 1 when the model carries a calibration of either form. */
int tsl_model_is_calibrated(const tsl_model *m);

#ifdef __cplusplus
}
#endif
#endif
