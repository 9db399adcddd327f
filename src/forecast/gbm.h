/*
 * gbm.h - the global gradient-boosted model (gbm.c): one XGBoost booster learned across many
 * series, and the per-series models that share it.
 *
 * AutoML trains one booster per backtest origin: tsl_gbm_train learns it from every series'
 * prefix y[0..train_len[i]), and tsl_gbm_model hands out series i's model, an ordinary
 * tsl_model of kind TSL_MODEL_GBM that forecasts, updates, saves and loads like any other.
 * The booster is shared by reference count between the tsl_gbm and every model taken from it,
 * so the tsl_gbm may be freed while its models live on. The booster is read-only once trained:
 * any number of threads may forecast from models that share it (each model's update still needs
 * exclusive access to that model). docs/models/gbm.md describes features, scaling, strategies,
 * quantiles and costs.
 *
 * The kind also works standalone: tsl_model_fit with a spec of kind TSL_MODEL_GBM ("gbm")
 * trains a booster on that one series, with the defaults of tsl_gbm_opts_init, a calibration
 * horizon of min(max(period, 8), 24) steps, one thread and no calendar features (the spec
 * carries no timestamps).
 */
#ifndef TSLOOP_GBM_H
#define TSLOOP_GBM_H

#include <stddef.h>
#include <stdint.h>

#include "tsloop/automl.h"
#include "tsloop/err.h"
#include "tsloop/model.h"
#include "tsloop/time.h"

/* How forecasts of several steps are made (docs/models/gbm.md weighs them). */
typedef enum tsl_gbm_strategy {
    /* One-step model; step s is predicted from the history extended by steps 1..s-1. */
    TSL_GBM_RECURSIVE = 1,
    /* The step is a feature: all `horizon` steps are predicted from the origin at once (the
     * default: as accurate, and h times fewer predictions per forecast). */
    TSL_GBM_DIRECT = 2
} tsl_gbm_strategy;

typedef struct tsl_gbm_opts {
    size_t horizon; /* steps calibrated (and, direct, predicted at once); 1..10000 */
    int period;     /* seasonal period >= 1 (1: none) */
    /* Every seasonal period worth lags of its own, ascending (hourly data: 24 and 168);
     * nperiods 0 means just `period`. Periods of 1 are ignored. */
    int nperiods;
    int periods[TSL_MAX_PERIODS];
    tsl_freq freq; /* the series' frequency, for calendar features; unit NONE: none */
    tsl_gbm_strategy strategy;
    int threads;        /* XGBoost threads for training; 0 = all cores */
    uint64_t seed;      /* row sampling and XGBoost's own random numbers */
    int max_rounds;     /* boosting rounds at most (early stopping may use fewer); 1..10000 */
    int max_depth;      /* tree depth, 1..16 */
    double eta;         /* learning rate, (0, 1] */
    int patience;       /* stop after this many rounds without a better hold-out error and
                         * keep the best prefix; 0: no early stopping, all max_rounds kept */
    size_t max_rows;    /* training rows at most: beyond, rows are sampled; >= 100 */
    int refit;          /* 1: after calibrating, retrain on all the data (twice the cost) */
    const char *params; /* extra XGBoost parameters "name=value;name=value", applied last */
} tsl_gbm_opts;

/* Defaults: direct, one thread, seed 1, 500 rounds at most, depth 6, eta 0.1, patience 20,
 * 500,000 rows, refit on, no calendar features (freq unit NONE), nperiods 0. */
void tsl_gbm_opts_init(tsl_gbm_opts *o, size_t horizon, int period);

typedef struct tsl_gbm tsl_gbm;

/* What training did, for reports and benchmarks. */
typedef struct tsl_gbm_info {
    size_t nfeatures;
    size_t rows;           /* rows the served booster was trained on */
    size_t rows_available; /* rows there were before sampling to max_rows */
    size_t holdout;        /* values held out at the end of the longest series to calibrate */
    size_t cal_errors;     /* forecast errors the quantiles were calibrated from */
    int rounds;            /* boosting rounds of the served booster */
    size_t booster_bytes;  /* its serialized size (UBJSON), stored in every saved model */
    double seconds;        /* wall time of tsl_gbm_train */
} tsl_gbm_info;

/*
 * Trains one booster on series[i].y[0..train_len[i]) for every i (train_len NULL: the whole
 * series; a train_len[i] of 0 leaves series i out of training). series[i].start is the time of
 * y[0] (used with opts->freq for calendar features). Values are finite or NaN (missing).
 * Fails with TSL_EINVAL on bad options or values, TSL_ESHORT when the series together hold too
 * few observations to train and calibrate, TSL_ENUMERIC when XGBoost fails (its message in d).
 * Deterministic for a given input, options and thread count.
 */
tsl_err tsl_gbm_train(const tsl_ts *series, size_t nseries, const size_t *train_len,
                      const tsl_gbm_opts *opts, tsl_gbm **out, tsl_diag *d);

/* Series i's model: shares the booster, holds the recent history of y[0..train_len[i]) that
 * the features need. The caller frees it with tsl_model_free. TSL_ESHORT when the series had
 * no observed value, TSL_EINVAL when i is out of range. */
tsl_err tsl_gbm_model(tsl_gbm *g, size_t i, tsl_model **out, tsl_diag *d);

void tsl_gbm_get_info(const tsl_gbm *g, tsl_gbm_info *out);

/* Releases g's reference to the booster (models taken from it keep theirs). NULL: no-op. */
void tsl_gbm_free(tsl_gbm *g);

#endif
