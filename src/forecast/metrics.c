/*
 * metrics.c - forecast accuracy metrics from accumulated sums (see tsloop/metrics.h and
 * docs/metrics.md).
 *
 * Everything is kept as sums over points, so accumulators from backtest windows, monitor
 * evaluations or threads merge exactly by addition, and a metric is only a division at the end.
 * Formulas follow the M4 competition guide (sMAPE, MASE; Makridakis, Spiliotis &
 * Assimakopoulos, IJF 36, 2020; Hyndman & Koehler, IJF 22, 2006 for MASE) and the seeds'
 * Autopilot for WAPE and the weighted quantile loss. A point enters a sum only when every value
 * that sum needs is finite, which is the whole of the NaN policy: missing actuals (ground truth
 * not yet arrived) and missing forecasts simply do not count.
 */
#include "tsloop/metrics.h"
#include "tsloop/model.h"

#include <assert.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const metric_names[TSL_METRIC_COUNT] = {
    [TSL_METRIC_MAE] = "mae",           [TSL_METRIC_RMSE] = "rmse",
    [TSL_METRIC_MAPE] = "mape",         [TSL_METRIC_SMAPE] = "smape",
    [TSL_METRIC_MASE] = "mase",         [TSL_METRIC_WAPE] = "wape",
    [TSL_METRIC_MEAN_WQL] = "mean_wql", [TSL_METRIC_COVERAGE] = "coverage",
};

/* The metric's lower-case name, or "unknown" for a value outside the enum. */
const char *tsl_metric_name(tsl_metric m) {
    if ((unsigned)m >= TSL_METRIC_COUNT) return "unknown";
    return metric_names[m];
}

/* Case-insensitive equality of two NUL-terminated strings. */
static int name_eq(const char *a, const char *b) {
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
    return *a == *b;
}

/* Parses a metric name in any case ("MASE", "sMAPE"); "wql" is mean_wql. */
tsl_err tsl_metric_parse(const char *name, tsl_metric *out, tsl_diag *d) {
    for (int m = 0; m < TSL_METRIC_COUNT; m++) {
        if (name_eq(name, metric_names[m])) {
            *out = (tsl_metric)m;
            return TSL_OK;
        }
    }
    if (name_eq(name, "wql")) {
        *out = TSL_METRIC_MEAN_WQL;
        return TSL_OK;
    }
    return tsl_diag_set(d, TSL_EINVAL,
                        "unknown metric '%s': expected one of mae, rmse, mape, smape, mase, wape, "
                        "mean_wql (or wql), coverage",
                        name);
}

/* Checks that levels[0..nq) is a usable level set for an accumulator. */
static tsl_err check_levels(const double *levels, size_t nq, tsl_diag *d) {
    return tsl_quantile_levels_check(levels, nq, TSL_METRICS_MAX_LEVELS, d);
}

/* Whether an accumulator holding `have` levels may take points at levels[0..nq): the same set,
 * or one side has none yet. Levels are compared exactly: they come from configuration, not
 * from arithmetic. */
static int levels_compatible(const double *have, size_t nhave, const double *levels, size_t nq) {
    if (nhave == 0 || nq == 0) return 1;
    if (nhave != nq) return 0;
    for (size_t j = 0; j < nq; j++)
        if (have[j] != levels[j]) return 0;
    return 1;
}

/* Formats a level set as "0.1, 0.5, 0.9" into buf for error messages. */
static void format_levels(const double *levels, size_t nq, char *buf, size_t cap) {
    size_t used = 0;
    buf[0] = '\0';
    for (size_t j = 0; j < nq && used < cap; j++) {
        int k = snprintf(buf + used, cap - used, "%s%g", j ? ", " : "", levels[j]);
        if (k < 0) break;
        used += (size_t)k;
    }
}

/* Fails with TSL_EINVAL, naming both sets, when the level sets cannot be combined. */
static tsl_err check_compatible(const double *have, size_t nhave, const double *levels, size_t nq,
                                tsl_diag *d) {
    if (levels_compatible(have, nhave, levels, nq)) return TSL_OK;
    char a[256], b[256];
    format_levels(have, nhave, a, sizeof a);
    format_levels(levels, nq, b, sizeof b);
    return tsl_diag_set(d, TSL_EINVAL,
                        "quantile levels differ: accumulated {%s}, got {%s}; metrics over "
                        "different level sets cannot be combined",
                        a, b);
}

/* Adds h points; see metrics.h for which sums each point enters. */
tsl_err tsl_acc_add(tsl_acc *a, const double *y, const double *f, const double *q,
                    const double *levels, size_t nq, size_t h, tsl_diag *d) {
    assert(h == 0 || (y && f));
    assert(nq == 0 || q);
    tsl_err rc = check_levels(levels, nq, d);
    if (rc) goto out;
    rc = check_compatible(a->levels, a->nq, levels, nq, d);
    if (rc) goto out;
    if (nq && a->nq == 0) {
        memcpy(a->levels, levels, nq * sizeof *levels);
        a->nq = nq;
    }
    for (size_t s = 0; s < h; s++) {
        double ys = y[s];
        if (!isfinite(ys)) continue;
        double fs = f[s];
        if (isfinite(fs)) {
            double e = fabs(ys - fs), den = fabs(ys) + fabs(fs);
            a->n++;
            a->abs_err += e;
            a->sq_err += (ys - fs) * (ys - fs);
            a->abs_y += fabs(ys);
            if (ys != 0) {
                a->ape += e / fabs(ys);
                a->n_ape++;
            }
            /* y = f = 0 is a perfect forecast: it counts, with 0. */
            if (den > 0) a->sape += 200.0 * e / den;
        }
        if (nq == 0) continue;
        const double *row = q + s * nq;
        size_t j = 0;
        while (j < nq && isfinite(row[j])) j++;
        if (j < nq) continue;
        for (j = 0; j < nq; j++) {
            double tau = levels[j], diff = ys - row[j];
            a->ql[j] += 2.0 * (diff > 0 ? tau * diff : (tau - 1.0) * diff);
        }
        a->n_q++;
        a->abs_y_q += fabs(ys);
        if (row[0] <= ys && ys <= row[nq - 1]) a->covered++;
    }
out:
    return rc;
}

/* a += b; refuses incompatible level sets before touching a. */
tsl_err tsl_acc_merge(tsl_acc *a, const tsl_acc *b, tsl_diag *d) {
    tsl_err rc = check_compatible(a->levels, a->nq, b->levels, b->nq, d);
    if (rc) goto out;
    if (b->nq && a->nq == 0) {
        memcpy(a->levels, b->levels, b->nq * sizeof *b->levels);
        a->nq = b->nq;
    }
    a->n += b->n;
    a->abs_err += b->abs_err;
    a->sq_err += b->sq_err;
    a->abs_y += b->abs_y;
    a->ape += b->ape;
    a->n_ape += b->n_ape;
    a->sape += b->sape;
    for (size_t j = 0; j < b->nq; j++) a->ql[j] += b->ql[j];
    a->n_q += b->n_q;
    a->abs_y_q += b->abs_y_q;
    a->covered += b->covered;
out:
    return rc;
}

/* Weighted quantile loss of level j: 2 sum pinball / sum |y|, over the quantile points. */
double tsl_acc_wql(const tsl_acc *a, size_t j) {
    if (j >= a->nq || a->n_q == 0 || !(a->abs_y_q > 0)) return NAN;
    return a->ql[j] / a->abs_y_q;
}

/* One series' metric value, or NaN where the metric is undefined (see metrics.h). */
double tsl_acc_value(const tsl_acc *a, tsl_metric m, double mase_scale) {
    double n = (double)a->n;
    switch (m) {
    case TSL_METRIC_MAE:
        return a->n ? a->abs_err / n : NAN;
    case TSL_METRIC_RMSE:
        return a->n ? sqrt(a->sq_err / n) : NAN;
    case TSL_METRIC_MAPE:
        return a->n_ape ? 100.0 * a->ape / (double)a->n_ape : NAN;
    case TSL_METRIC_SMAPE:
        return a->n ? a->sape / n : NAN;
    case TSL_METRIC_MASE:
        if (!a->n || !isfinite(mase_scale) || !(mase_scale > 0)) return NAN;
        return a->abs_err / n / mase_scale;
    case TSL_METRIC_WAPE:
        return a->n && a->abs_y > 0 ? a->abs_err / a->abs_y : NAN;
    case TSL_METRIC_MEAN_WQL: {
        if (a->nq == 0) return NAN;
        double sum = 0;
        for (size_t j = 0; j < a->nq; j++) sum += tsl_acc_wql(a, j);
        return sum / (double)a->nq;
    }
    case TSL_METRIC_COVERAGE:
        return a->nq >= 2 && a->n_q ? (double)a->covered / (double)a->n_q : NAN;
    case TSL_METRIC_COUNT:
        break;
    }
    return NAN;
}

/* Mean |y[t] - y[t - m]| over pairs with both ends finite; m = period, or 1 for a series no
 * longer than one season, where no seasonal pair exists (M4). */
double tsl_mase_scale(const double *y, size_t n, int period) {
    size_t m = period > 1 && n > (size_t)period ? (size_t)period : 1;
    double sum = 0;
    size_t pairs = 0;
    for (size_t t = m; t < n; t++) {
        if (!isfinite(y[t]) || !isfinite(y[t - m])) continue;
        sum += fabs(y[t] - y[t - m]);
        pairs++;
    }
    return pairs ? sum / (double)pairs : NAN;
}

/* Whether metric m aggregates as the mean of per-series values rather than by pooling. */
static int per_series_mean(tsl_metric m) {
    return m == TSL_METRIC_MAPE || m == TSL_METRIC_SMAPE || m == TSL_METRIC_MASE;
}

/* Pools a's sums and adds its defined per-series values. */
tsl_err tsl_agg_add(tsl_agg *g, const tsl_acc *a, double mase_scale, tsl_diag *d) {
    tsl_err rc = tsl_acc_merge(&g->pooled, a, d);
    if (rc) goto out;
    g->nseries++;
    for (int m = 0; m < TSL_METRIC_COUNT; m++) {
        double v = tsl_acc_value(a, (tsl_metric)m, mase_scale);
        if (isnan(v)) continue;
        g->sum[m] += v;
        g->cnt[m]++;
    }
out:
    return rc;
}

/* g += b. */
tsl_err tsl_agg_merge(tsl_agg *g, const tsl_agg *b, tsl_diag *d) {
    tsl_err rc = tsl_acc_merge(&g->pooled, &b->pooled, d);
    if (rc) goto out;
    g->nseries += b->nseries;
    for (int m = 0; m < TSL_METRIC_COUNT; m++) {
        g->sum[m] += b->sum[m];
        g->cnt[m] += b->cnt[m];
    }
out:
    return rc;
}

/* MAPE, sMAPE and MASE average the series (each series weighs the same, as the M competitions
 * score, and MASE's scales differ per series so their errors cannot be pooled); the others
 * pool the points (a series weighs by its volume, as WAPE and wQL are meant to). */
double tsl_agg_value(const tsl_agg *g, tsl_metric m) {
    if ((unsigned)m >= TSL_METRIC_COUNT) return NAN;
    if (per_series_mean(m)) return g->cnt[m] ? g->sum[m] / (double)g->cnt[m] : NAN;
    return tsl_acc_value(&g->pooled, m, NAN);
}
