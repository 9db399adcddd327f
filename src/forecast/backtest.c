/*
 * backtest.c - rolling-origin backtests of one candidate on one series, and the scoring of
 * combinations from stored window forecasts (see backtest.h).
 *
 * Why the plan shrinks the way it does: the M1 yearly series have as few as 9 values with a
 * horizon of 6. Non-overlapping windows of the full horizon would leave nothing to train on, and
 * skipping the backtest would leave AutoML blind on exactly the series where choosing badly costs
 * most. Overlapping origins (step < h) and a shorter scored horizon still rank models usefully;
 * the plan records what it did so the leaderboard can say so.
 */
#include "tsloop/backtest.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tsloop/mem.h"

size_t tsl_bt_min_train(int period) {
    size_t m = period > 1 ? (size_t)period + 3 : 0;
    return m > 5 ? m : 5;
}

void tsl_bt_plan_make(size_t n, size_t horizon, size_t windows, int period, tsl_bt_plan *plan) {
    memset(plan, 0, sizeof *plan);
    size_t min_train = tsl_bt_min_train(period);
    plan->min_train = min_train;
    plan->period = period < 1 ? 1 : period;
    if (windows < 1) windows = 1;
    if (windows > TSL_BT_MAX_WINDOWS) windows = TSL_BT_MAX_WINDOWS;
    if (horizon < 1 || n <= min_train) return;
    size_t h = horizon;
    if (h > n - min_train) h = n - min_train; /* shorter scored horizon for short series */
    size_t room = n - h - min_train;          /* how far back the first origin may move */
    size_t k = windows, step = h;
    if ((k - 1) * step > room) {
        step = k > 1 ? room / (k - 1) : h;
        if (step < 1) {
            step = 1;
            k = room + 1 < windows ? room + 1 : windows;
        }
    }
    plan->h = h;
    plan->k = k;
    plan->step = step;
    for (size_t w = 0; w < k; w++) plan->origin[w] = n - h - (k - 1 - w) * step;
}

void tsl_bt_result_release(tsl_bt_result *r) {
    if (!r) return;
    tsl_free(r->fc);
    memset(r, 0, sizeof *r);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Scores window w of r from its stored forecasts against y. */
static tsl_err score_window(tsl_bt_result *r, size_t w, const double *y, size_t n,
                            const tsl_bt_plan *plan, const double *levels, size_t nq, tsl_diag *d) {
    size_t h = plan->h, cols = 1 + nq, o = plan->origin[w];
    double *mean = tsl_malloc(h * sizeof *mean);
    double *q = nq ? tsl_reallocarray(NULL, h * nq, sizeof *q) : NULL;
    const double *fc = r->fc + w * h * cols;
    for (size_t s = 0; s < h; s++) {
        mean[s] = fc[s * cols];
        for (size_t j = 0; j < nq; j++) q[s * nq + j] = fc[s * cols + 1 + j];
    }
    memset(&r->acc[w], 0, sizeof r->acc[w]);
    assert(o + h <= n);
    (void)n;
    tsl_err rc = tsl_acc_add(&r->acc[w], y + o, mean, q, levels, nq, h, d);
    r->scale[w] = tsl_mase_scale(y, o, plan->period);
    tsl_free(mean);
    tsl_free(q);
    return rc;
}

tsl_err tsl_backtest(const tsl_model_spec *spec, const double *y, size_t n, const tsl_bt_plan *plan,
                     const double *levels, size_t nq, tsl_bt_result *out, tsl_diag *d) {
    tsl_err rc = TSL_OK;
    tsl_model *m = NULL;
    double *mean = NULL, *q = NULL;
    memset(out, 0, sizeof *out);
    out->k = plan->k;
    out->h = plan->h;
    out->nq = nq;
    if (plan->k == 0) {
        tsl_strlcpy(out->error, "series too short to backtest", sizeof out->error);
        return TSL_OK;
    }
    size_t h = plan->h, cols = 1 + nq;
    out->fc = tsl_reallocarray(NULL, plan->k * h * cols, sizeof *out->fc);
    mean = tsl_malloc(h * sizeof *mean);
    q = nq ? tsl_reallocarray(NULL, h * nq, sizeof *q) : NULL;
    double t0 = now_seconds();
    for (size_t w = 0; w < plan->k; w++) {
        tsl_diag md = {0};
        tsl_err mrc = tsl_model_fit(spec, y, plan->origin[w], &m, &md);
        if (!mrc) mrc = tsl_model_forecast(m, h, levels, nq, mean, q, &md);
        tsl_model_free(m);
        m = NULL;
        if (mrc) {
            snprintf(out->error, sizeof out->error, "window %zu: %s", w + 1, tsl_diag_msg(&md));
            goto done;
        }
        double *fc = out->fc + w * h * cols;
        for (size_t s = 0; s < h; s++) {
            fc[s * cols] = mean[s];
            for (size_t j = 0; j < nq; j++) fc[s * cols + 1 + j] = q[s * nq + j];
        }
        rc = score_window(out, w, y, n, plan, levels, nq, d);
        if (rc) goto done;
    }
    out->ok = 1;
done:
    out->fit_seconds = now_seconds() - t0;
    tsl_free(mean);
    tsl_free(q);
    return rc;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

tsl_err tsl_bt_combine(const tsl_bt_result *const *members, const double *weights, size_t k,
                       int use_median, const double *y, size_t n, const tsl_bt_plan *plan,
                       const double *levels, size_t nq, tsl_bt_result *out, tsl_diag *d) {
    memset(out, 0, sizeof *out);
    if (k < 1) return tsl_diag_set(d, TSL_EINVAL, "a combination needs members");
    double total = 0;
    for (size_t i = 0; i < k; i++) {
        if (!members[i]->ok || members[i]->k != plan->k || members[i]->h != plan->h ||
            members[i]->nq != nq)
            return tsl_diag_set(d, TSL_EINVAL, "combination member %zu has no usable backtest",
                                i + 1);
        total += weights ? weights[i] : 1.0;
    }
    if (!(total > 0)) return tsl_diag_set(d, TSL_EINVAL, "combination weights sum to zero");
    size_t cols = 1 + nq, len = plan->k * plan->h * cols;
    out->k = plan->k;
    out->h = plan->h;
    out->nq = nq;
    out->fc = tsl_reallocarray(NULL, len, sizeof *out->fc);
    double *tmp = tsl_malloc(k * sizeof *tmp);
    for (size_t i = 0; i < len; i++) {
        if (use_median) {
            for (size_t j = 0; j < k; j++) tmp[j] = members[j]->fc[i];
            qsort(tmp, k, sizeof *tmp, cmp_double);
            out->fc[i] = k % 2 ? tmp[k / 2] : 0.5 * (tmp[k / 2 - 1] + tmp[k / 2]);
        } else {
            double v = 0;
            for (size_t j = 0; j < k; j++) v += (weights ? weights[j] : 1.0) * members[j]->fc[i];
            out->fc[i] = v / total;
        }
        out->fit_seconds = 0;
    }
    tsl_free(tmp);
    for (size_t i = 0; i < k; i++) out->fit_seconds += members[i]->fit_seconds;
    /* Quantile columns of a median can cross: sort each step's quantiles, as forecasts do. */
    for (size_t r = 0; r < plan->k * plan->h; r++)
        if (nq > 1) qsort(out->fc + r * cols + 1, nq, sizeof(double), cmp_double);
    for (size_t w = 0; w < plan->k; w++) {
        tsl_err rc = score_window(out, w, y, n, plan, levels, nq, d);
        if (rc) return rc;
    }
    out->ok = 1;
    return TSL_OK;
}

double tsl_bt_score(const tsl_bt_result *r, tsl_metric m) {
    double sum = 0;
    size_t cnt = 0;
    for (size_t w = 0; w < r->k; w++) {
        double v = tsl_acc_value(&r->acc[w], m, r->scale[w]);
        if (isnan(v)) continue;
        sum += v;
        cnt++;
    }
    return cnt ? sum / (double)cnt : NAN;
}

tsl_err tsl_bt_agg_add(tsl_agg *g, const tsl_bt_result *r, tsl_diag *d) {
    for (size_t w = 0; w < r->k; w++) {
        tsl_err rc = tsl_agg_add(g, &r->acc[w], r->scale[w], d);
        if (rc) return rc;
    }
    return TSL_OK;
}
