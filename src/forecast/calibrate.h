/*
 * calibrate.h - interval calibration from backtest errors (used by AutoML).
 *
 * For each column, quantile level and horizon-step bucket, a histogram of the factors
 * r = (actual - mean) / (quantile - mean) observed on backtests; tsl_cal_scales turns merged
 * histograms into the scale lambda such that mean + lambda * (quantile - mean) is a true
 * quantile (see calibrate.c for the reasoning and the shrinkage).
 */
#ifndef TSLOOP_CALIBRATE_H
#define TSLOOP_CALIBRATE_H

#include <stddef.h>
#include <stdint.h>

#define TSL_CAL_BINS 256

/* The bucket of a horizon step (0-based): steps 1..8 singly, then 9-16, 17-32, ... */
size_t tsl_cal_bucket(size_t step);

/* Adds one backtest window to a column's histograms hist[bucket][level][TSL_CAL_BINS]: fc holds
 * h rows of (mean, quantiles at levels), actual the h values that followed (NaN skipped);
 * buckets at or past nb are ignored. */
void tsl_cal_add(uint32_t *hist, size_t nb, const double *fc, const double *actual, size_t h,
                 const double *levels, size_t nq);

/* The shrunk scale table scale[bucket * nq + level] of one column from its merged histograms. */
void tsl_cal_scales(const uint32_t *hist, size_t nb, const double *levels, size_t nq,
                    double *scale);

#endif
