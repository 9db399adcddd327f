/*
 * drift.c - verdicts of drift statistics against a data baseline, and the CUSUM and
 * Page-Hinkley change detectors (see tsloop/drift.h and docs/monitoring.md).
 *
 * The distribution statistics themselves live beside the baseline (src/ops/baseline.c), since
 * they read its decile sketch; this file turns them into decisions.
 *
 * Kolmogorov-Smirnov p-value. The baseline keeps only its deciles, so the distance D is
 * measured against a sketch of the training distribution (linear between deciles). Treating
 * the sketch as the training sample's distribution function, the two-sample statistic with n
 * training and m new values has, under the null, the limiting law
 * P(sqrt(n m / (n + m)) D > x) -> Q(x) = 2 sum_{k>=1} (-1)^(k-1) exp(-2 k^2 x^2)
 * (Kolmogorov 1933, Smirnov 1939), which is what R's ks.test(exact = FALSE) reports. Q is
 * summed in that form for x >= 1, where it converges in a few terms, and through the theta
 * function identity 1 - Q(x) = sqrt(2 pi) / x sum_{k>=1} exp(-(2k-1)^2 pi^2 / (8 x^2)) below,
 * where the first series converges slowly. Two approximations are worth stating: the sketch
 * differs from the true training distribution function by less than one bucket's share (the
 * sketch and the truth both rise from k/10 to (k+1)/10 across a bucket), usually far less for
 * smooth data; and a sketch with tied deciles (discrete data, a zero-inflated series) has
 * jumps, for which the continuous law is conservative (p-values too large, Noether 1963).
 * The first matters with many values: a normal sample against the sketch of its own deciles
 * is some 0.04 away (the tails are interpolated linearly from the extremes), which a test on
 * thousands of values calls significant. So the verdict asks for both p < alpha and a
 * distance of at least ks_distance (0.1 by default, the sketch's resolution of one bucket):
 * the p-value guards against noise in small windows, the distance against the sketch's own
 * error in large ones.
 *
 * Central Wasserstein distance. The sketch is worse still for the first Wasserstein distance
 * (tsl_baseline_wasserstein): the extreme buckets are linear from the minimum to the first
 * decile, while a normal quantile function is steeply curved there, and the minimum itself
 * moves outwards as the training set grows. A normal sample of 1000 is some 0.09 standard
 * deviations from the sketch of its own deciles, nearly Evidently's threshold of 0.1, and
 * more for larger baselines. So the verdict uses the distance over the central 80% of the
 * mass, between the first and the ninth decile, where the sketch interpolates exact
 * quantiles: the mean of |Qnew(u) - Qbase(u)| over u in [0.1, 0.9], divided by the
 * baseline's population standard deviation as Evidently divides. This is the trimmed Mallows
 * distance of Munk and Czado (JRSS B 60, 1998) with 10% trimmed at each end. For a change of
 * location it equals the full distance (a shift of a tenth of a standard deviation reads 0.1,
 * so Evidently's threshold keeps its meaning); it is blind to changes confined to the outer
 * tenths, which PSI's outer buckets and KS still see. The full distance stays in the result.
 *
 * Sample size. Every statistic has a floor of chance variation under no drift: PSI about
 * (B - 1)(1/m + 1/n) for B = 10 buckets, m new and n training values (0.1 at m = 100 with a
 * large baseline); the central Wasserstein distance about 0.6 / sqrt(m) for normal data
 * (0.06 at m = 100). Below min_count = 100 new values the chance floors reach the thresholds
 * themselves, so no verdict is given (the statistics are still reported).
 *
 * CUSUM. The tabular two-sided form of Page (1954) as Montgomery (Introduction to Statistical
 * Quality Control, ch. 9) presents it, on standardised residuals. k = 0.5 is tuned to a shift
 * of 2k = 1 sigma, the smallest degradation of a forecast worth a retraining; h = 5 gives an
 * in-control average run length of about 465 for the two sides together (about 930 per side;
 * with daily datapoints a false signal every fifteen months or so) and detects a 1-sigma
 * shift in about 10 steps (Montgomery's ARL table for k = 1/2; tests/data/r/make_drift.R
 * confirms both by simulation). The change point is estimated as the last time the
 * signalling sum was zero, as Montgomery's counters N+ and N- do.
 *
 * Page-Hinkley. Page (1954) and Hinkley (1971), in the incremental form used by stream
 * learning (Gama et al., "A survey on concept drift adaptation", ACM CSUR 46, 2014): the
 * deviation of each value from the running mean so far, less a tolerance delta, is
 * accumulated, and a signal is given when the sum rises lambda above its minimum. It needs no
 * in-control mean, which suits residuals whose bias is not known in advance. The defaults
 * mirror CUSUM's (delta = 0.5, lambda = 5 sigma) so the two read alike, and no signal is given
 * before 30 residuals (the default minimum of MOA and river), since an early running mean
 * swings with every value.
 */
#include "tsloop/drift.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tsloop/mem.h"

/* ---- thresholds and verdicts ---- */

const char *tsl_drift_level_name(tsl_drift_level level) {
    switch (level) {
    case TSL_DRIFT_INSUFFICIENT:
        return "insufficient";
    case TSL_DRIFT_STABLE:
        return "stable";
    case TSL_DRIFT_MODERATE:
        return "moderate";
    case TSL_DRIFT_DRIFT:
        return "drift";
    }
    return "unknown";
}

void tsl_drift_thresholds_default(tsl_drift_thresholds *t) {
    assert(t);
    t->psi_moderate = TSL_DRIFT_PSI_MODERATE;
    t->psi_large = TSL_DRIFT_PSI_LARGE;
    t->ks_alpha = TSL_DRIFT_KS_ALPHA;
    t->ks_distance = TSL_DRIFT_KS_DISTANCE;
    t->wasserstein = TSL_DRIFT_WASSERSTEIN;
    t->min_count = TSL_DRIFT_MIN_COUNT;
}

tsl_err tsl_drift_thresholds_check(const tsl_drift_thresholds *t, tsl_diag *d) {
    assert(t);
    if (!(isfinite(t->psi_moderate) && t->psi_moderate > 0))
        return tsl_diag_set(d, TSL_EINVAL,
                            "drift thresholds: psi_moderate: expected a positive "
                            "number, got %g",
                            t->psi_moderate);
    if (!(isfinite(t->psi_large) && t->psi_large >= t->psi_moderate))
        return tsl_diag_set(d, TSL_EINVAL,
                            "drift thresholds: psi_large: expected a number at "
                            "least psi_moderate (%g), got %g",
                            t->psi_moderate, t->psi_large);
    if (!(t->ks_alpha > 0 && t->ks_alpha < 1))
        return tsl_diag_set(d, TSL_EINVAL,
                            "drift thresholds: ks_alpha: expected a level in (0, 1), got %g",
                            t->ks_alpha);
    if (!(t->ks_distance >= 0 && t->ks_distance <= 1))
        return tsl_diag_set(d, TSL_EINVAL,
                            "drift thresholds: ks_distance: expected a distance in [0, 1], got %g",
                            t->ks_distance);
    if (!(isfinite(t->wasserstein) && t->wasserstein > 0))
        return tsl_diag_set(d, TSL_EINVAL,
                            "drift thresholds: wasserstein: expected a positive "
                            "number, got %g",
                            t->wasserstein);
    if (t->min_count < 1)
        return tsl_diag_set(d, TSL_EINVAL, "drift thresholds: min_count: expected at least 1");
    return TSL_OK;
}

/* ---- Kolmogorov's limiting distribution ---- */

/* Q(x) = P(K > x), see the header comment for the two series. */
static double kolmogorov_upper(double x) {
    if (!(x > 0)) return 1;
    if (x < 1) {
        /* 1 - Q(x) = sqrt(2 pi) / x * sum exp(-(2k-1)^2 pi^2 / (8 x^2)); at x < 1 the ratio of
         * consecutive terms is at most exp(-pi^2) ~ 5e-5, so five terms are plenty. */
        double w = -M_PI * M_PI / (8 * x * x), s = 0;
        for (int k = 1; k <= 9; k += 2) s += exp((double)(k * k) * w);
        double p = 1 - sqrt(2 * M_PI) / x * s;
        return p < 0 ? 0 : p;
    }
    /* At x >= 1 the terms fall at least as exp(-6 k) and alternate: stop when negligible. */
    double s = 0, sign = 1;
    for (int k = 1; k <= 100; k++) {
        double term = exp(-2.0 * k * k * x * x);
        s += sign * term;
        sign = -sign;
        if (term < 1e-17 * s) break;
    }
    double p = 2 * s;
    return p > 1 ? 1 : p;
}

double tsl_drift_ks_pvalue(double dist, size_t n, size_t m) {
    if (m == 0 || !(dist >= 0 && dist <= 1)) return NAN;
    double ne = n == 0 ? (double)m : (double)n * (double)m / ((double)n + (double)m);
    return kolmogorov_upper(sqrt(ne) * dist);
}

/* ---- the central Wasserstein distance ---- */

/* qsort order of doubles (no NaN reaches it). */
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Integral over a piece of width w of |c - L(u)|, L linear from a to b across the piece. */
static double piece_area(double w, double c, double a, double b) {
    double da = c - a, db = c - b;
    if ((da >= 0 && db >= 0) || (da <= 0 && db <= 0)) return w * fabs(da + db) / 2;
    /* The line crosses c inside the piece: two triangles. */
    return w * (da * da + db * db) / (2 * (fabs(da) + fabs(db)));
}

/* The sketch's quantile at u inside decile interval k (q[k] at k/10 to q[k+1] at (k+1)/10),
 * in halves as baseline.c does, so that no difference overflows. */
static double sketch_quantile(const double *q, int k, double u) {
    double frac = u * TSL_BASELINE_BUCKETS - (double)k;
    return 2 * (q[k] / 2 + frac * (q[k + 1] / 2 - q[k] / 2));
}

/* Mean distance between the quantile functions of the m sorted values s (a step function:
 * s[j-1] on ((j-1)/m, j/m]) and of the sketch, over u in [0.1, 0.9]: the integral of
 * |Qnew - Qbase| there divided by 0.8. Breakpoints j/m and k/10 are compared as integers
 * (j * 10 against k * m), so none is lost to rounding. */
static double central_w1(const double *q, const double *s, size_t m) {
    const int nb = TSL_BASELINE_BUCKETS;
    size_t j = m / (size_t)nb + 1; /* the first j with j/m > 1/10 */
    int k = 1;
    double u0 = 1.0 / nb, area = 0;
    while (k < nb - 1) {
        size_t aj = j * (size_t)nb, bk = (size_t)(k + 1) * m;
        double u1 = aj <= bk ? (double)j / (double)m : (double)(k + 1) / nb;
        assert(j >= 1 && j <= m);
        area += piece_area(u1 - u0, s[j - 1], sketch_quantile(q, k, u0), sketch_quantile(q, k, u1));
        u0 = u1;
        if (aj <= bk) j++;
        if (bk <= aj) k++;
    }
    return area / ((double)(nb - 2) / nb);
}

/* The central distance of the n values x against base, normalised as tsl_baseline_wasserstein
 * normalises (population sd, floored); both have observed values. */
static double central_wasserstein(const tsl_baseline_stats *base, const double *x, size_t n,
                                  size_t count) {
    double *s = tsl_reallocarray(NULL, count, sizeof *s);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i])) s[m++] = x[i];
    assert(m == count);
    qsort(s, m, sizeof *s, cmp_double);
    double w = central_w1(base->deciles, s, m);
    tsl_free(s);
    double pop_sd = base->count >= 2 && isfinite(base->sd)
                        ? base->sd * sqrt((double)(base->count - 1) / (double)base->count)
                        : 0.0;
    return w / (pop_sd > TSL_BASELINE_WASSERSTEIN_FLOOR ? pop_sd : TSL_BASELINE_WASSERSTEIN_FLOOR);
}

/* ---- one window ---- */

/* Finite values among the n of x: the observed ones. */
static size_t count_finite(const double *x, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += isfinite(x[i]) != 0;
    return c;
}

/* The worse of two levels (the enum is ordered). */
static tsl_drift_level worst(tsl_drift_level a, tsl_drift_level b) {
    return a > b ? a : b;
}

/* A result without statistics: NaN everywhere, every level INSUFFICIENT. */
static void result_empty(tsl_drift_result *r, size_t count) {
    memset(r, 0, sizeof *r);
    r->count = count;
    r->psi = r->ks = r->ks_p = r->wasserstein = r->wasserstein_norm = NAN;
    r->wasserstein_central = NAN;
    r->psi_level = r->ks_level = r->wasserstein_level = r->level = TSL_DRIFT_INSUFFICIENT;
}

/* Statistics and verdicts of x against base; t is checked. */
static void window_stats(const tsl_baseline_stats *base, const double *x, size_t n,
                         const tsl_drift_thresholds *t, tsl_drift_result *r) {
    size_t count = count_finite(x, n);
    result_empty(r, count);
    if (base->count == 0 || count == 0) return;
    /* Both have observed values, which is all the baseline functions refuse on. */
    tsl_err rc = tsl_baseline_psi(base, x, n, &r->psi, NULL);
    if (!rc) rc = tsl_baseline_ks(base, x, n, &r->ks, NULL);
    if (!rc) rc = tsl_baseline_wasserstein(base, x, n, &r->wasserstein, &r->wasserstein_norm, NULL);
    assert(rc == TSL_OK);
    (void)rc;
    r->ks_p = tsl_drift_ks_pvalue(r->ks, base->count, count);
    r->wasserstein_central = central_wasserstein(base, x, n, count);
    if (count < t->min_count) return;
    r->psi_level = r->psi >= t->psi_large      ? TSL_DRIFT_DRIFT
                   : r->psi >= t->psi_moderate ? TSL_DRIFT_MODERATE
                                               : TSL_DRIFT_STABLE;
    r->ks_level =
        r->ks_p < t->ks_alpha && r->ks >= t->ks_distance ? TSL_DRIFT_DRIFT : TSL_DRIFT_STABLE;
    r->wasserstein_level =
        r->wasserstein_central >= t->wasserstein ? TSL_DRIFT_DRIFT : TSL_DRIFT_STABLE;
    r->level = worst(worst(r->psi_level, r->ks_level), r->wasserstein_level);
}

/* Checks t (NULL: defaults into *buf) and returns the thresholds to use. */
static tsl_err pick_thresholds(const tsl_drift_thresholds *t, tsl_drift_thresholds *buf,
                               const tsl_drift_thresholds **use, tsl_diag *d) {
    if (!t) {
        tsl_drift_thresholds_default(buf);
        t = buf;
    }
    tsl_err rc = tsl_drift_thresholds_check(t, d);
    if (rc) return rc;
    *use = t;
    return TSL_OK;
}

tsl_err tsl_drift_stats(const tsl_baseline_stats *base, const double *x, size_t n,
                        const tsl_drift_thresholds *t, tsl_drift_result *out, tsl_diag *d) {
    assert(base && out && (n == 0 || x));
    tsl_drift_thresholds defaults;
    const tsl_drift_thresholds *use = NULL;
    tsl_err rc = pick_thresholds(t, &defaults, &use, d);
    if (rc) return rc;
    window_stats(base, x, n, use, out);
    return TSL_OK;
}

/* ---- a whole window of series ---- */

void tsl_drift_report_release(tsl_drift_report *r) {
    if (!r) return;
    tsl_free(r->series);
    memset(r, 0, sizeof *r);
}

tsl_err tsl_drift_compute(const tsl_baseline *b, const tsl_drift_window *w, size_t nw,
                          const tsl_drift_thresholds *t, tsl_drift_report *out, tsl_diag *d) {
    assert(b && out && (nw == 0 || w));
    memset(out, 0, sizeof *out);
    tsl_drift_thresholds defaults;
    const tsl_drift_thresholds *use = NULL;
    double *pooled = NULL;
    tsl_drift_series *series = NULL;
    tsl_err rc = pick_thresholds(t, &defaults, &use, d);
    if (rc) goto out;
    size_t total = 0;
    for (size_t i = 0; i < nw; i++) {
        if (!w[i].item_id) {
            rc = tsl_diag_set(d, TSL_EINVAL, "drift: window %zu: expected an item_id", i);
            goto out;
        }
        if (w[i].n > SIZE_MAX - total) {
            rc = tsl_diag_set(d, TSL_ELIMIT, "drift: more values than memory can hold");
            goto out;
        }
        total += w[i].n;
    }
    series = tsl_calloc(nw ? nw : 1, sizeof *series);
    pooled = tsl_reallocarray(NULL, total ? total : 1, sizeof *pooled);
    size_t at = 0, drifted = 0;
    for (size_t i = 0; i < nw; i++) {
        tsl_drift_series *s = &series[i];
        s->item_id = w[i].item_id;
        s->baseline_index = tsl_baseline_find(b, w[i].item_id);
        if (s->baseline_index >= 0)
            window_stats(&b->series[s->baseline_index].stats, w[i].values, w[i].n, use, &s->result);
        else
            result_empty(&s->result, count_finite(w[i].values, w[i].n));
        drifted += s->result.level == TSL_DRIFT_DRIFT;
        if (w[i].n) memcpy(pooled + at, w[i].values, w[i].n * sizeof *pooled);
        at += w[i].n;
    }
    window_stats(&b->overall, pooled, total, use, &out->overall);
    out->nseries = nw;
    out->series = series;
    out->drifted = drifted;
    series = NULL;
out:
    tsl_free(series);
    tsl_free(pooled);
    return rc;
}

/* ---- CUSUM ---- */

/* 1 for a finite, strictly positive v (NaN fails too). */
static int finite_pos(double v) {
    return isfinite(v) && v > 0;
}

tsl_err tsl_cusum_init(tsl_cusum *c, double mean, double sigma, double k, double h, tsl_diag *d) {
    assert(c);
    memset(c, 0, sizeof *c);
    if (!isfinite(mean))
        return tsl_diag_set(d, TSL_EINVAL, "CUSUM: mean: expected a finite number, got %g", mean);
    if (!finite_pos(sigma))
        return tsl_diag_set(d, TSL_EINVAL, "CUSUM: sigma: expected a positive number, got %g",
                            sigma);
    if (!(isfinite(k) && k >= 0))
        return tsl_diag_set(d, TSL_EINVAL, "CUSUM: k: expected a number >= 0, got %g", k);
    if (!finite_pos(h))
        return tsl_diag_set(d, TSL_EINVAL, "CUSUM: h: expected a positive number, got %g", h);
    c->mean = mean;
    c->sigma = sigma;
    c->k = k;
    c->h = h;
    return TSL_OK;
}

void tsl_cusum_reset(tsl_cusum *c) {
    assert(c);
    c->hi = c->lo = 0;
    c->n = c->hi_start = c->lo_start = 0;
    c->signal = 0;
}

int tsl_cusum_update(tsl_cusum *c, double r) {
    assert(c && c->sigma > 0);
    if (c->signal || !isfinite(r)) return c->signal;
    double z = (r - c->mean) / c->sigma;
    if (c->hi == 0) c->hi_start = c->n;
    if (c->lo == 0) c->lo_start = c->n;
    c->n++;
    double hi = c->hi + z - c->k, lo = c->lo - z - c->k;
    c->hi = hi > 0 ? hi : 0;
    c->lo = lo > 0 ? lo : 0;
    if (c->hi > c->h)
        c->signal = 1;
    else if (c->lo > c->h)
        c->signal = -1;
    return c->signal;
}

/* ---- Page-Hinkley ---- */

tsl_err tsl_page_hinkley_init(tsl_page_hinkley *p, double sigma, double delta, double lambda,
                              uint64_t min_n, tsl_diag *d) {
    assert(p);
    memset(p, 0, sizeof *p);
    if (!finite_pos(sigma))
        return tsl_diag_set(d, TSL_EINVAL,
                            "Page-Hinkley: sigma: expected a positive number, got %g", sigma);
    if (!(isfinite(delta) && delta >= 0))
        return tsl_diag_set(d, TSL_EINVAL, "Page-Hinkley: delta: expected a number >= 0, got %g",
                            delta);
    if (!finite_pos(lambda))
        return tsl_diag_set(d, TSL_EINVAL,
                            "Page-Hinkley: lambda: expected a positive number, got %g", lambda);
    p->sigma = sigma;
    p->delta = delta;
    p->lambda = lambda;
    p->min_n = min_n;
    return TSL_OK;
}

void tsl_page_hinkley_reset(tsl_page_hinkley *p) {
    assert(p);
    p->mean = p->up = p->up_min = p->down = p->down_max = 0;
    p->n = 0;
    p->signal = 0;
}

int tsl_page_hinkley_update(tsl_page_hinkley *p, double r) {
    assert(p && p->sigma > 0);
    if (p->signal || !isfinite(r)) return p->signal;
    double z = r / p->sigma;
    p->n++;
    p->mean += (z - p->mean) / (double)p->n;
    double dev = z - p->mean;
    p->up += dev - p->delta;
    p->down += dev + p->delta;
    if (p->up < p->up_min) p->up_min = p->up;
    if (p->down > p->down_max) p->down_max = p->down;
    if (p->n < p->min_n) return 0;
    if (p->up - p->up_min > p->lambda)
        p->signal = 1;
    else if (p->down_max - p->down > p->lambda)
        p->signal = -1;
    return p->signal;
}
