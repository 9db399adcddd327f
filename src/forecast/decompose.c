/*
 * decompose.c - classical and STL seasonal decomposition, the Theta seasonality test, and the
 * strength-of-seasonality measure.
 *
 * Classical decomposition follows R's stats::decompose() step for step, so that Theta's
 * seasonal adjustment agrees with R's forecast::thetaf() to rounding: a centred moving average
 * (R's filter(), sides = 2: weights 1/m, or 1/2m at both ends of an m + 1 window when m is
 * even) gives the trend, the detrended values of each position in the season are averaged over
 * the years (skipping the undefined ones), and the figure is centred to sum 0 or mean 1. Sums
 * run in R's order so that the last bits mostly agree too.
 *
 * STL is Cleveland, Cleveland, McRae & Terpenning, "STL: A Seasonal-Trend Decomposition
 * Procedure Based on Loess", Journal of Official Statistics 6 (1990), in the form of the netlib
 * Fortran that R's stl() runs. An inner iteration is:
 *   1. detrend;
 *   2. smooth each cycle-subseries (all January values, ...) by loess, extrapolating one point
 *      beyond each end, which gives a seasonal series one period longer at each end;
 *   3. low-pass filter that series (moving averages of length m, m and 3, then loess) and
 *      subtract, so the seasonal carries no trend;
 *   4. deseasonalise and smooth by loess to get the trend.
 * Outer (robustness) iterations weight each point by Tukey's bisquare of its remainder over six
 * times the median absolute remainder. Each loess fit is a tricube-weighted local constant or
 * line; to save work it is evaluated only every `jump` points and interpolated linearly in
 * between. All of this is reproduced exactly: the windows, the jumps, the extrapolation at the
 * subseries ends, the test that skips the slope when the weighted spread of the abscissae is tiny
 * (0.001 of the range), the fallback to the data value when every weight is zero, and R's
 * post-processing of s.window = "periodic" (the seasonal replaced by its mean per position).
 * Loess abscissae are the 1-based positions the Fortran uses, for identical rounding.
 *
 * The seasonality test is the 90% autocorrelation test of Assimakopoulos & Nikolopoulos (2000)
 * in the form of forecast::thetaf(); the strength measures are those of Wang, Smith & Hyndman,
 * "Characteristic-based clustering for time series data", Data Mining and Knowledge Discovery
 * 13 (2006), as Hyndman's feasts package computes them.
 */
#include "decompose.h"

#include <assert.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include "model_impl.h"
#include "tsloop/mem.h"

void tsl_decomp_free(tsl_decomp *dc) {
    if (!dc) return;
    tsl_free(dc->trend);
    tsl_free(dc->seasonal);
    tsl_free(dc->remainder);
    tsl_free(dc->figure);
    tsl_free(dc->weights);
    memset(dc, 0, sizeof *dc);
}

/* Allocates the arrays of a decomposition of n values (weights only when asked). */
static void decomp_alloc(tsl_decomp *dc, size_t n, int period, tsl_decomp_type type,
                         int with_weights) {
    memset(dc, 0, sizeof *dc);
    dc->n = n;
    dc->period = period;
    dc->type = type;
    dc->trend = tsl_reallocarray(NULL, n, sizeof *dc->trend);
    dc->seasonal = tsl_reallocarray(NULL, n, sizeof *dc->seasonal);
    dc->remainder = tsl_reallocarray(NULL, n, sizeof *dc->remainder);
    dc->figure = tsl_reallocarray(NULL, (size_t)period, sizeof *dc->figure);
    if (with_weights) dc->weights = tsl_reallocarray(NULL, n, sizeof *dc->weights);
}

/*
 * Copies y into out with the gaps between the first and the last observed value filled by
 * linear interpolation; missing values before the first or after the last stay NaN.
 */
static void fill_interior(const double *y, size_t n, double *out) {
    size_t last = n; /* index of the last observed value so far; n = none yet */
    memcpy(out, y, n * sizeof *y);
    for (size_t i = 0; i < n; i++) {
        if (isnan(y[i])) continue;
        if (last < n)
            for (size_t k = last + 1; k < i; k++)
                out[k] = y[last] + (y[i] - y[last]) * (double)(k - last) / (double)(i - last);
        last = i;
    }
}

/* ---- classical ---- */

/*
 * Centred moving average of order m as R's filter(x, f, sides = 2): out[i] is NaN where the
 * window leaves the series or holds a NaN. The products are summed from the newest value back,
 * as R's cfilter does.
 */
static void centred_ma(const double *y, size_t n, int m, double *out) {
    size_t nf = (size_t)m + (m % 2 == 0 ? 1 : 0);
    size_t o = nf / 2;
    double inner = 1.0 / m, edge = m % 2 == 0 ? 0.5 / m : inner;
    for (size_t i = 0; i < n; i++) {
        if (i < o || i + o >= n) {
            out[i] = NAN;
            continue;
        }
        double z = 0.0;
        for (size_t j = 0; j < nf; j++) {
            double w = (j == 0 || j == nf - 1) ? edge : inner;
            z += w * y[i + o - j];
        }
        out[i] = z; /* a NaN in the window propagates, as R's NA does */
    }
}

tsl_err tsl_decomp_classical(const double *y, size_t n, int period, tsl_decomp_type type,
                             tsl_decomp *out, tsl_diag *d) {
    tsl_err rc = TSL_OK;
    tsl_decomp dc = {0};
    double *yf = NULL;
    if (period < 2) {
        rc = tsl_diag_set(d, TSL_EINVAL, "classical decomposition needs a period of at least 2");
        goto out;
    }
    if (n - tsl_count_missing(y, n) < 2 * (size_t)period) {
        rc = tsl_diag_set(d, TSL_ESHORT,
                          "classical decomposition needs two full seasons (%d observed values), "
                          "got %zu",
                          2 * period, n - tsl_count_missing(y, n));
        goto out;
    }
    decomp_alloc(&dc, n, period, type, 0);
    yf = tsl_reallocarray(NULL, n, sizeof *yf);
    fill_interior(y, n, yf);
    centred_ma(yf, n, period, dc.trend);
    /* Detrended values go to remainder for now: it is overwritten at the end. */
    double *det = dc.remainder;
    for (size_t t = 0; t < n; t++)
        det[t] = type == TSL_DECOMP_ADDITIVE ? yf[t] - dc.trend[t] : yf[t] / dc.trend[t];
    double fsum = 0.0;
    for (int j = 0; j < period; j++) {
        double s = 0.0;
        size_t cnt = 0;
        for (size_t t = (size_t)j; t < n; t += (size_t)period) {
            if (isnan(det[t])) continue;
            s += det[t];
            cnt++;
        }
        if (cnt == 0) {
            rc = tsl_diag_set(d, TSL_ESHORT,
                              "position %d of the season has no detrended value (too many "
                              "missing values)",
                              j + 1);
            goto out;
        }
        dc.figure[j] = s / (double)cnt;
        fsum += dc.figure[j];
    }
    double fmean = fsum / period;
    for (int j = 0; j < period; j++) {
        if (type == TSL_DECOMP_ADDITIVE)
            dc.figure[j] -= fmean;
        else
            dc.figure[j] /= fmean;
    }
    for (size_t t = 0, j = 0; t < n; t++, j = j + 1 == (size_t)period ? 0 : j + 1) {
        double s = dc.figure[j];
        dc.seasonal[t] = s;
        dc.remainder[t] =
            type == TSL_DECOMP_ADDITIVE ? y[t] - s - dc.trend[t] : y[t] / s / dc.trend[t];
    }
    *out = dc;
    memset(&dc, 0, sizeof dc);
out:
    tsl_free(yf);
    tsl_decomp_free(&dc);
    return rc;
}

/* ---- STL ---- */

void tsl_stl_opts_init(tsl_stl_opts *o) {
    memset(o, 0, sizeof *o);
    o->periodic = 1;
    o->s_degree = 0;
    o->t_degree = 1;
    o->l_degree = -1;
    o->inner = -1;
    o->outer = -1;
}

/* Scratch shared by the STL steps; every array holds n + 2 * period values. */
typedef struct stl_work {
    double *w1, *w2, *w3, *w4, *w5;
} stl_work;

/*
 * Loess fit at abscissa xs (1-based) from y[nleft-1 .. nright-1] (1-based bounds, as the
 * Fortran's stlest): tricube weights over the half-width h, times the robustness weights rw when
 * given, a local line when degree is 1 and the abscissae are spread enough. w is scratch indexed
 * like y. Returns 0, leaving *ys alone, when every weight is zero.
 */
static int loess_at(const double *y, long n, long len, int degree, double xs, long nleft,
                    long nright, double *w, const double *rw, double *ys) {
    assert(1 <= nleft && nleft <= nright && nright <= n);
    double range = (double)n - 1.0;
    double h = fmax(xs - (double)nleft, (double)nright - xs);
    if (len > n) h += (double)((len - n) / 2);
    double h9 = 0.999 * h, h1 = 0.001 * h;
    double a = 0.0;
    for (long j = nleft; j <= nright; j++) {
        double r = fabs((double)j - xs);
        double wj = 0.0;
        if (r <= h9) {
            if (r <= h1) {
                wj = 1.0;
            } else {
                double u = r / h;
                double v = 1.0 - u * u * u;
                wj = v * v * v;
            }
            if (rw) wj = rw[j - 1] * wj;
            a += wj;
        }
        w[j - 1] = wj;
    }
    if (a <= 0.0) return 0;
    for (long j = nleft; j <= nright; j++) w[j - 1] /= a;
    if (h > 0.0 && degree > 0) {
        double c = 0.0;
        a = 0.0;
        for (long j = nleft; j <= nright; j++) a += w[j - 1] * (double)j;
        double b = xs - a;
        for (long j = nleft; j <= nright; j++) {
            double dj = (double)j - a;
            c += w[j - 1] * dj * dj;
        }
        if (sqrt(c) > 0.001 * range) {
            b /= c;
            for (long j = nleft; j <= nright; j++) w[j - 1] *= b * ((double)j - a) + 1.0;
        }
    }
    double s = 0.0;
    for (long j = nleft; j <= nright; j++) s += w[j - 1] * y[j - 1];
    *ys = s;
    return 1;
}

/*
 * Loess smooth of y[0..n) with window len into ys, evaluated every njump points and linearly
 * interpolated between (the Fortran's stless). res is scratch of n values.
 */
static void loess_smooth(const double *y, long n, long len, int degree, long njump,
                         const double *rw, double *ys, double *res) {
    if (n < 2) {
        ys[0] = y[0];
        return;
    }
    long newnj = njump < n - 1 ? njump : n - 1;
    long nleft = 1, nright = n;
    if (len >= n) {
        for (long i = 1; i <= n; i += newnj)
            if (!loess_at(y, n, len, degree, (double)i, 1, n, res, rw, &ys[i - 1]))
                ys[i - 1] = y[i - 1];
    } else if (newnj == 1) {
        long nsh = (len + 1) / 2;
        nright = len;
        for (long i = 1; i <= n; i++) {
            if (i > nsh && nright != n) {
                nleft++;
                nright++;
            }
            if (!loess_at(y, n, len, degree, (double)i, nleft, nright, res, rw, &ys[i - 1]))
                ys[i - 1] = y[i - 1];
        }
    } else {
        long nsh = (len + 1) / 2;
        for (long i = 1; i <= n; i += newnj) {
            if (i < nsh) {
                nleft = 1;
                nright = len;
            } else if (i >= n - nsh + 1) {
                nleft = n - len + 1;
                nright = n;
            } else {
                nleft = i - nsh + 1;
                nright = len + i - nsh;
            }
            if (!loess_at(y, n, len, degree, (double)i, nleft, nright, res, rw, &ys[i - 1]))
                ys[i - 1] = y[i - 1];
        }
    }
    if (newnj == 1) return;
    for (long i = 1; i <= n - newnj; i += newnj) {
        double delta = (ys[i + newnj - 1] - ys[i - 1]) / (double)newnj;
        for (long j = i + 1; j <= i + newnj - 1; j++)
            ys[j - 1] = ys[i - 1] + delta * (double)(j - i);
    }
    long k = ((n - 1) / newnj) * newnj + 1;
    if (k == n) return;
    /* The last point was skipped by the stride: fit it with the last window used. */
    if (!loess_at(y, n, len, degree, (double)n, nleft, nright, res, rw, &ys[n - 1]))
        ys[n - 1] = y[n - 1];
    if (k != n - 1) {
        double delta = (ys[n - 1] - ys[k - 1]) / (double)(n - k);
        for (long j = k + 1; j <= n - 1; j++) ys[j - 1] = ys[k - 1] + delta * (double)(j - k);
    }
}

/* Running mean of length len over x[0..n): n - len + 1 values into ave. */
static void moving_average(const double *x, long n, long len, double *ave) {
    assert(len >= 1 && len <= n);
    long newn = n - len + 1;
    double flen = (double)len, v = 0.0;
    for (long i = 0; i < len; i++) v += x[i];
    ave[0] = v / flen;
    for (long j = 1; j < newn; j++) {
        v = v - x[j - 1] + x[j + len - 1];
        ave[j] = v / flen;
    }
}

/*
 * Cycle-subseries smoothing (the Fortran's stlss): season[0 .. n + 2 np) receives, for each
 * position, its loess-smoothed subseries extended by one extrapolated value at each end.
 */
static void smooth_subseries(const double *y, long n, long np, long ns, int isdeg, long nsjump,
                             const double *rw, double *season, double *sub, double *sm,
                             double *subw, double *scratch) {
    for (long j = 1; j <= np; j++) {
        long k = (n - j) / np + 1;
        for (long i = 1; i <= k; i++) sub[i - 1] = y[(i - 1) * np + j - 1];
        if (rw)
            for (long i = 1; i <= k; i++) subw[i - 1] = rw[(i - 1) * np + j - 1];
        const double *sw = rw ? subw : NULL;
        loess_smooth(sub, k, ns, isdeg, nsjump, sw, sm + 1, scratch);
        long nright = ns < k ? ns : k;
        if (!loess_at(sub, k, ns, isdeg, 0.0, 1, nright, scratch, sw, &sm[0])) sm[0] = sm[1];
        long nleft = k - ns + 1 > 1 ? k - ns + 1 : 1;
        if (!loess_at(sub, k, ns, isdeg, (double)(k + 1), nleft, k, scratch, sw, &sm[k + 1]))
            sm[k + 1] = sm[k];
        for (long m = 1; m <= k + 2; m++) season[(m - 1) * np + j - 1] = sm[m - 1];
    }
}

typedef struct stl_params {
    long np, ns, nt, nl;
    int isdeg, itdeg, ildeg;
    long nsjump, ntjump, nljump;
    int ni, no;
} stl_params;

/* One pass of ni inner iterations (the Fortran's stlstp). */
static void stl_inner(const double *y, long n, const stl_params *p, const double *rw,
                      double *season, double *trend, stl_work *wk) {
    long np = p->np;
    for (int it = 0; it < p->ni; it++) {
        for (long i = 0; i < n; i++) wk->w1[i] = y[i] - trend[i];
        smooth_subseries(wk->w1, n, np, p->ns, p->isdeg, p->nsjump, rw, wk->w2, wk->w3, wk->w4,
                         wk->w5, season);
        /* Low-pass filter of the extended seasonal: MA(np), MA(np), MA(3), then loess. */
        moving_average(wk->w2, n + 2 * np, np, wk->w3);
        moving_average(wk->w3, n + np + 1, np, wk->w1);
        moving_average(wk->w1, n + 2, 3, wk->w3);
        loess_smooth(wk->w3, n, p->nl, p->ildeg, p->nljump, NULL, wk->w1, wk->w5);
        for (long i = 0; i < n; i++) season[i] = wk->w2[np + i] - wk->w1[i];
        for (long i = 0; i < n; i++) wk->w1[i] = y[i] - season[i];
        loess_smooth(wk->w1, n, p->nt, p->itdeg, p->ntjump, rw, trend, wk->w3);
    }
}

/*
 * Partial sort of a[0..n) that puts the order statistics at the 1-based positions ind[0..ni)
 * where a full sort would, moving the rest only as needed: Chambers' partial quicksort
 * (CACM Algorithm 410, 1971), the psort of R's stl.f. Segments are split around a
 * median-of-three pivot; the smaller side is processed first and the larger stacked, with the
 * range of wanted positions it holds; a segment holding none is dropped; short segments are
 * finished by insertion sort, using the value before them as a sentinel.
 *
 * It is reproduced step for step, not replaced by a selection routine, because R calls it with
 * ind = {n/2 + 1, n/2} for even n: the positions are meant to ascend, and when they do not the
 * bookkeeping can drop a segment that holds position n/2, leaving a value there that is not the
 * order statistic. R's robustness weights use whatever lands there, so matching R's robust
 * STL means landing on the same value.
 */
static void psort_r(double *a, long n, const long *ind, int ni) {
#define A(k)   a[(k)-1]
#define IND(k) ind[(k)-1]
    long il[64], iu[64], indl[64], indu[64];
    if (n < 2 || ni == 0) return;
    long jl = 1, ju = ni, i = 1, j = n, m = 1, k, l, p, ij;
    double t, tt;
    indl[1] = 1;
    indu[1] = ni;
    for (;;) {
        /* Here [i, j] is the segment and [jl, ju] the wanted positions inside it. */
        if (i < j) goto partition;
    pop:
        m--;
        if (m == 0) return;
        i = il[m];
        j = iu[m];
        jl = indl[m];
        ju = indu[m];
        if (!(jl <= ju)) goto pop;
    split_loop:
        if (!(j - i > 10)) goto small;
    partition:
        k = i;
        ij = (i + j) / 2;
        t = A(ij);
        if (A(i) > t) {
            A(ij) = A(i);
            A(i) = t;
            t = A(ij);
        }
        l = j;
        if (A(j) < t) {
            A(ij) = A(j);
            A(j) = t;
            t = A(ij);
            if (A(i) > t) {
                A(ij) = A(i);
                A(i) = t;
                t = A(ij);
            }
        }
        for (;;) {
            l--;
            if (A(l) <= t) {
                tt = A(l);
                do k++;
                while (!(A(k) >= t));
                if (k > l) break;
                A(l) = A(k);
                A(k) = tt;
            }
        }
        assert(m < 63);
        indl[m] = jl;
        indu[m] = ju;
        p = m;
        m++;
        if (l - i <= j - k) {
            il[p] = k;
            iu[p] = j;
            j = l;
            for (;;) {
                if (jl > ju) goto pop;
                if (IND(ju) > j)
                    ju--;
                else
                    break;
            }
            indl[p] = ju + 1;
        } else {
            il[p] = i;
            iu[p] = l;
            i = k;
            for (;;) {
                if (jl > ju) goto pop;
                if (IND(jl) < i)
                    jl++;
                else
                    break;
            }
            indu[p] = jl - 1;
        }
        goto split_loop;
    small:
        if (i != 1) {
            i--;
            for (;;) {
                i++;
                if (i == j) goto pop;
                t = A(i + 1);
                if (A(i) > t) {
                    k = i;
                    do {
                        A(k + 1) = A(k);
                        k--;
                    } while (!(t >= A(k)));
                    A(k + 1) = t;
                }
            }
        }
    }
#undef A
#undef IND
}

/* Bisquare robustness weights of the residuals y - fit, scaled by 6 x their median as R's
 * stlrwt finds it (see psort_r). */
static void robustness_weights(const double *y, long n, const double *fit, double *rw,
                               double *scratch) {
    for (long i = 0; i < n; i++) scratch[i] = fabs(y[i] - fit[i]);
    long mid[2];
    mid[0] = n / 2 + 1;
    mid[1] = n - mid[0] + 1;
    psort_r(scratch, n, mid, 2);
    double cmad = 3.0 * (scratch[mid[0] - 1] + scratch[mid[1] - 1]);
    double c9 = 0.999 * cmad, c1 = 0.001 * cmad;
    for (long i = 0; i < n; i++) {
        double r = fabs(y[i] - fit[i]);
        if (r <= c1) {
            rw[i] = 1.0;
        } else if (r <= c9) {
            double u = r / cmad;
            double v = 1.0 - u * u;
            rw[i] = v * v;
        } else {
            rw[i] = 0.0;
        }
    }
}

/* R's nextodd(): rounds, then makes odd by adding one. */
static long next_odd(double x) {
    long v = (long)nearbyint(x);
    return v % 2 == 0 ? v + 1 : v;
}

/* R's window clean-up in the Fortran: at least 3, odd. */
static long fix_window(long w) {
    if (w < 3) w = 3;
    return w % 2 == 0 ? w + 1 : w;
}

static long ceil_div10(long w) {
    return (w + 9) / 10;
}

/* Resolves the options into the Fortran's arguments exactly as R's stl() does. */
static tsl_err stl_resolve(const tsl_stl_opts *o, long n, int period, stl_params *p, tsl_diag *d) {
    long s_window;
    int s_degree = o->s_degree;
    if (o->periodic) {
        s_window = 10 * n + 1;
        s_degree = 0;
    } else {
        if (o->s_window < 1)
            return tsl_diag_set(d, TSL_EINVAL, "STL needs a seasonal window (or periodic); got %d",
                                o->s_window);
        s_window = o->s_window;
    }
    if (s_degree < 0 || s_degree > 1 || o->t_degree < 0 || o->t_degree > 1 || o->l_degree < -1 ||
        o->l_degree > 1)
        return tsl_diag_set(d, TSL_EINVAL, "STL degrees must be 0 or 1");
    if (o->t_window < 0 || o->l_window < 0 || o->s_jump < 0 || o->t_jump < 0 || o->l_jump < 0)
        return tsl_diag_set(d, TSL_EINVAL, "STL windows and jumps must not be negative");
    if (o->inner == 0 || o->inner < -1 || o->outer < -1)
        return tsl_diag_set(d, TSL_EINVAL, "STL needs at least one inner iteration");
    long t_window = o->t_window;
    if (t_window == 0) t_window = next_odd(ceil(1.5 * period / (1.0 - 1.5 / (double)s_window)));
    long l_window = o->l_window ? o->l_window : next_odd(period);
    p->np = period;
    p->ns = fix_window(s_window);
    p->nt = fix_window(t_window);
    p->nl = fix_window(l_window);
    p->isdeg = s_degree;
    p->itdeg = o->t_degree;
    p->ildeg = o->l_degree < 0 ? o->t_degree : o->l_degree;
    p->nsjump = o->s_jump ? o->s_jump : ceil_div10(s_window);
    p->ntjump = o->t_jump ? o->t_jump : ceil_div10(t_window);
    p->nljump = o->l_jump ? o->l_jump : ceil_div10(l_window);
    p->ni = o->inner >= 1 ? o->inner : (o->robust ? 1 : 2);
    p->no = o->outer >= 0 ? o->outer : (o->robust ? 15 : 0);
    return TSL_OK;
}

tsl_err tsl_decomp_stl(const double *y, size_t n, int period, const tsl_stl_opts *opts,
                       tsl_decomp *out, tsl_diag *d) {
    tsl_err rc = TSL_OK;
    tsl_decomp dc = {0};
    stl_work wk = {0};
    double *yf = NULL;
    tsl_stl_opts defaults;
    stl_params p = {0};
    if (!opts) {
        tsl_stl_opts_init(&defaults);
        opts = &defaults;
    }
    if (period < 2) {
        rc = tsl_diag_set(d, TSL_EINVAL, "STL needs a period of at least 2, got %d", period);
        goto out;
    }
    if (n <= 2 * (size_t)period) {
        rc = tsl_diag_set(d, TSL_ESHORT, "STL needs more than two seasons (%d values), got %zu",
                          2 * period, n);
        goto out;
    }
    if (n > (size_t)LONG_MAX / 16) {
        rc = tsl_diag_set(d, TSL_ELIMIT, "series of %zu values is too long for STL", n);
        goto out;
    }
    if (isnan(y[0]) || isnan(y[n - 1])) {
        rc = tsl_diag_set(d, TSL_EINVAL,
                          "STL cannot take leading or trailing missing values: trim them");
        goto out;
    }
    rc = stl_resolve(opts, (long)n, period, &p, d);
    if (rc) goto out;

    long ln = (long)n, ext = ln + 2 * p.np;
    yf = tsl_reallocarray(NULL, n, sizeof *yf);
    tsl_fill_linear(y, n, yf);
    decomp_alloc(&dc, n, period, TSL_DECOMP_ADDITIVE, 1);
    wk.w1 = tsl_reallocarray(NULL, (size_t)ext, sizeof(double));
    wk.w2 = tsl_reallocarray(NULL, (size_t)ext, sizeof(double));
    wk.w3 = tsl_reallocarray(NULL, (size_t)ext, sizeof(double));
    wk.w4 = tsl_reallocarray(NULL, (size_t)ext, sizeof(double));
    wk.w5 = tsl_reallocarray(NULL, (size_t)ext, sizeof(double));

    double *trend = dc.trend, *season = dc.seasonal, *rw = dc.weights;
    for (long i = 0; i < ln; i++) trend[i] = 0.0;
    for (int k = 0;; k++) {
        stl_inner(yf, ln, &p, k > 0 ? rw : NULL, season, trend, &wk);
        if (k >= p.no) break;
        for (long i = 0; i < ln; i++) wk.w1[i] = trend[i] + season[i];
        robustness_weights(yf, ln, wk.w1, rw, wk.w2);
    }
    if (p.no <= 0)
        for (long i = 0; i < ln; i++) rw[i] = 1.0;

    /* Mean seasonal per position: the figure, and for periodic STL the seasonal itself. */
    for (int j = 0; j < period; j++) {
        double s = 0.0;
        size_t cnt = 0;
        for (size_t t = (size_t)j; t < n; t += (size_t)period) {
            s += season[t];
            cnt++;
        }
        dc.figure[j] = s / (double)cnt;
    }
    if (opts->periodic)
        for (size_t t = 0, j = 0; t < n; t++, j = j + 1 == (size_t)period ? 0 : j + 1)
            season[t] = dc.figure[j];
    /* y, not the filled copy: a missing value has no remainder. */
    for (size_t t = 0; t < n; t++) dc.remainder[t] = y[t] - season[t] - trend[t];
    *out = dc;
    memset(&dc, 0, sizeof dc);
out:
    tsl_free(wk.w1);
    tsl_free(wk.w2);
    tsl_free(wk.w3);
    tsl_free(wk.w4);
    tsl_free(wk.w5);
    tsl_free(yf);
    tsl_decomp_free(&dc);
    return rc;
}

/* ---- seasonality test ---- */

/* R's forecast:::is.constant: all.equal(y, rep(y[0], n)) with tolerance 1.5e-8. */
static int is_constant(const double *y, size_t n) {
    double diff = 0.0, mag = 0.0;
    for (size_t t = 0; t < n; t++) {
        diff += fabs(y[t] - y[0]);
        mag += fabs(y[t]);
    }
    diff /= (double)n;
    mag /= (double)n;
    const double tol = 1.5e-8;
    if (isfinite(mag) && mag > tol) diff /= mag;
    return diff <= tol;
}

tsl_err tsl_decomp_seasonal_test(const double *y, size_t n, int period, int *seasonal, double *stat,
                                 tsl_diag *d) {
    tsl_err rc = TSL_OK;
    double *x = NULL;
    *seasonal = 0;
    if (stat) *stat = NAN;
    if (tsl_count_missing(y, n)) {
        rc = tsl_diag_set(d, TSL_EINVAL, "the seasonality test needs a series without gaps");
        goto out;
    }
    if (period < 2 || n <= 2 * (size_t)period || is_constant(y, n)) goto out;
    /* Autocorrelations as R's acf(): demeaned, every lag's sum divided by n. */
    x = tsl_reallocarray(NULL, n, sizeof *x);
    double mean = 0.0;
    for (size_t t = 0; t < n; t++) mean += y[t];
    mean /= (double)n;
    for (size_t t = 0; t < n; t++) x[t] = y[t] - mean;
    double c0 = 0.0;
    for (size_t t = 0; t < n; t++) c0 += x[t] * x[t];
    c0 /= (double)n;
    double sumsq = 0.0, rm = 0.0;
    for (size_t k = 1; k <= (size_t)period; k++) {
        double ck = 0.0;
        for (size_t t = 0; t + k < n; t++) ck += x[t + k] * x[t];
        ck /= (double)n;
        double r = ck / c0;
        if (r > 1.0) r = 1.0;
        if (r < -1.0) r = -1.0;
        if (k < (size_t)period)
            sumsq += r * r;
        else
            rm = r;
    }
    double scale = sqrt((1.0 + 2.0 * sumsq) / (double)n);
    double z = fabs(rm) / scale;
    *seasonal = z > tsl_qnorm(0.95);
    if (stat) *stat = z;
out:
    tsl_free(x);
    return rc;
}

/* ---- strength ---- */

/* Sample variance of a[0..k), two-pass. */
static double variance(const double *a, size_t k) {
    double m = 0.0, s = 0.0;
    for (size_t i = 0; i < k; i++) m += a[i];
    m /= (double)k;
    for (size_t i = 0; i < k; i++) s += (a[i] - m) * (a[i] - m);
    return s / (double)(k - 1);
}

tsl_err tsl_decomp_strength(const tsl_decomp *dc, double *seasonal_strength, double *trend_strength,
                            tsl_diag *d) {
    tsl_err rc = TSL_OK;
    size_t n = dc->n, k = 0;
    double *r = tsl_reallocarray(NULL, n ? n : 1, sizeof *r);
    double *sr = tsl_reallocarray(NULL, n ? n : 1, sizeof *sr);
    double *tr = tsl_reallocarray(NULL, n ? n : 1, sizeof *tr);
    int mult = dc->type == TSL_DECOMP_MULTIPLICATIVE;
    for (size_t t = 0; t < n; t++) {
        double tt = dc->trend[t], ss = dc->seasonal[t], rr = dc->remainder[t];
        if (!isfinite(tt) || !isfinite(ss) || !isfinite(rr)) continue;
        if (mult) {
            if (!(tt > 0 && ss > 0 && rr > 0)) {
                rc = tsl_diag_set(d, TSL_ENUMERIC,
                                  "a multiplicative decomposition with non-positive components "
                                  "has no strength on the log scale");
                goto out;
            }
            tt = log(tt);
            ss = log(ss);
            rr = log(rr);
        }
        r[k] = rr;
        sr[k] = ss + rr;
        tr[k] = tt + rr;
        k++;
    }
    if (k < 3) {
        rc = tsl_diag_set(d, TSL_ESHORT, "strength needs at least 3 decomposed points, got %zu", k);
        goto out;
    }
    double vr = variance(r, k), vsr = variance(sr, k), vtr = variance(tr, k);
    if (seasonal_strength) *seasonal_strength = vsr > 0 ? fmax(0.0, 1.0 - vr / vsr) : 0.0;
    if (trend_strength) *trend_strength = vtr > 0 ? fmax(0.0, 1.0 - vr / vtr) : 0.0;
out:
    tsl_free(r);
    tsl_free(sr);
    tsl_free(tr);
    return rc;
}
