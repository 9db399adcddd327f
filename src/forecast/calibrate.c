/*
 * calibrate.c - interval scales learned from backtest errors.
 *
 * A model's own prediction intervals are often too narrow (parameter uncertainty
 * and model choice are not in them; Theta's 80% band covers ~65% on M1). For each column, level
 * and horizon step we want the factor lambda such that mean + lambda * (q - mean) is a true
 * quantile. On every backtest point of the column, r = (y - mean) / (q - mean) is the lambda
 * that would have put the quantile exactly on the actual; for an upper level tau, lambda is the
 * tau-quantile of r, for a lower level the (1 - tau)-quantile (q - mean is negative there).
 *
 * r is pooled over all series where the column backtested, not only where it was chosen, so the
 * selection does not bias it. Histograms with log-spaced bins keep memory bounded whatever the
 * data size, and are merged across workers, so the result does not depend on threads. Steps are
 * grouped into buckets (1..8 singly, then doubling: 9-16, 17-32, ...). A bucket's lambda is
 * shrunk toward the column's pooled lambda, and that toward 1, with the weight of CAL_PRIOR
 * points, so thin data changes little. Levels within 0.1 of the median are left alone: their
 * distance from the mean is tiny and r explodes.
 */
#include "calibrate.h"

#include <math.h>
#include <string.h>

#include "tsloop/mem.h"

#define CAL_LOG_MIN   (-3.0)
#define CAL_LOG_MAX   3.0
#define CAL_PRIOR     50.0
#define CAL_MIN_SCALE 0.25
#define CAL_MAX_SCALE 20.0

size_t tsl_cal_bucket(size_t step) {
    if (step < 8) return step;
    size_t b = 8, limit = 16;
    while (step >= limit) {
        b++;
        limit *= 2;
    }
    return b;
}

/* Bin 0 holds r <= 0, bins 1..TSL_CAL_BINS-2 log-spaced positives, the last bin r > 10^3. */
static size_t cal_bin(double r) {
    if (!(r > 0)) return 0;
    double x = (log10(r) - CAL_LOG_MIN) / (CAL_LOG_MAX - CAL_LOG_MIN) * (TSL_CAL_BINS - 2);
    if (x < 0) return 1;
    if (x >= TSL_CAL_BINS - 2) return TSL_CAL_BINS - 1;
    return 1 + (size_t)x;
}

static double cal_bin_low(size_t b) {
    return pow(10.0,
               CAL_LOG_MIN + (CAL_LOG_MAX - CAL_LOG_MIN) * (double)(b - 1) / (TSL_CAL_BINS - 2));
}

/* The p-quantile of a histogram (geometric interpolation inside a bin); NaN when empty. */
static double cal_quantile(const uint32_t *hist, double p, double *count) {
    double n = 0;
    for (size_t b = 0; b < TSL_CAL_BINS; b++) n += hist[b];
    *count = n;
    if (n == 0) return NAN;
    double target = p * n, acc = 0;
    for (size_t b = 0; b < TSL_CAL_BINS; b++) {
        if (acc + hist[b] < target) {
            acc += hist[b];
            continue;
        }
        if (b == 0) return CAL_MIN_SCALE;
        if (b == TSL_CAL_BINS - 1) return CAL_MAX_SCALE;
        double frac = hist[b] ? (target - acc) / hist[b] : 0.5;
        double lo = cal_bin_low(b), hi = cal_bin_low(b + 1);
        return lo * pow(hi / lo, frac);
    }
    return CAL_MAX_SCALE;
}

void tsl_cal_add(uint32_t *hist, size_t nb, const double *fc, const double *actual, size_t h,
                 const double *levels, size_t nq) {
    size_t cols = 1 + nq;
    for (size_t st = 0; st < h; st++) {
        const double *row = fc + st * cols;
        size_t b = tsl_cal_bucket(st);
        if (isnan(actual[st]) || b >= nb) continue;
        for (size_t j = 0; j < nq; j++) {
            if (fabs(levels[j] - 0.5) < 0.1) continue;
            double off = row[1 + j] - row[0];
            if (!(fabs(off) > 1e-12 * (fabs(row[0]) + 1e-300))) continue;
            hist[(b * nq + j) * TSL_CAL_BINS + cal_bin((actual[st] - row[0]) / off)]++;
        }
    }
}

void tsl_cal_scales(const uint32_t *hist, size_t nb, const double *levels, size_t nq,
                    double *scale) {
    uint32_t *pooled = tsl_calloc(TSL_CAL_BINS, sizeof *pooled);
    for (size_t j = 0; j < nq; j++) {
        double p = levels[j] > 0.5 ? levels[j] : 1.0 - levels[j];
        if (fabs(levels[j] - 0.5) < 0.1) {
            for (size_t b = 0; b < nb; b++) scale[b * nq + j] = 1.0;
            continue;
        }
        memset(pooled, 0, TSL_CAL_BINS * sizeof *pooled);
        for (size_t b = 0; b < nb; b++)
            for (size_t k = 0; k < TSL_CAL_BINS; k++)
                pooled[k] += hist[(b * nq + j) * TSL_CAL_BINS + k];
        double npool, lp = cal_quantile(pooled, p, &npool);
        lp = npool > 0 ? (npool * lp + CAL_PRIOR) / (npool + CAL_PRIOR) : 1.0;
        for (size_t b = 0; b < nb; b++) {
            double nbk, lb = cal_quantile(hist + (b * nq + j) * TSL_CAL_BINS, p, &nbk);
            double v = nbk > 0 ? (nbk * lb + CAL_PRIOR * lp) / (nbk + CAL_PRIOR) : lp;
            scale[b * nq + j] = fmin(CAL_MAX_SCALE, fmax(CAL_MIN_SCALE, v));
        }
    }
    tsl_free(pooled);
}
