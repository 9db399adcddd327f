/*
 * decompose.c - classical, STL and MSTL seasonal decomposition, gap filling, the Theta
 * seasonality test, and the strength-of-seasonality measures.
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
 * MSTL is Bandara, Hyndman & Bergmeir, "MSTL: A Seasonal-Trend Decomposition Algorithm for Time
 * Series with Multiple Seasonal Patterns" (2021), as R's forecast::mstl() runs it: periods too
 * long for the data dropped, gaps filled, then repeated STL passes, each period's component
 * re-estimated on the series minus the others, with R's seasonal windows 7 + 4 i and its order of
 * floating-point additions, so that it agrees with R to rounding. Gaps are filled as R's
 * na.interp(): linear interpolation for short series; otherwise a regression on Fourier terms and
 * a polynomial in time pre-fills them, a robust MSTL of the pre-filled series gives the seasonal
 * components, and each gap gets the interpolated seasonally adjusted series plus those. The
 * regression is solved in a basis of our own (see regression_prefill) that gives the same fit.
 * The strength of each MSTL component is forecast:::seas.heuristic's, and the confirmation of
 * candidate periods applies R's nsdiffs() threshold (0.64) to it.
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

/* ---- MSTL ---- */

void tsl_mstl_opts_init(tsl_mstl_opts *o) {
    memset(o, 0, sizeof *o);
}

void tsl_mstl_free(tsl_mstl *m) {
    if (!m) return;
    tsl_free(m->trend);
    for (int i = 0; i < TSL_MSTL_MAX_PERIODS; i++) tsl_free(m->seasonal[i]);
    tsl_free(m->remainder);
    tsl_free(m->filled);
    memset(m, 0, sizeof *m);
}

/* Copies periods[0..np) into out in ascending order; returns 0, or -1 when one is below 2 or
 * repeated. */
static int sort_periods(const int *periods, int np, int *out) {
    for (int i = 0; i < np; i++) {
        int p = periods[i], j = i;
        if (p < 2) return -1;
        while (j > 0 && out[j - 1] > p) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = p;
        if (j > 0 && out[j - 1] == p) return -1;
    }
    return 0;
}

/*
 * R's approx(idx, v[idx], 1:n, rule = 2)$y where idx are the positions at which y is observed
 * (there is at least one): v at those positions, linear interpolation between them in R's
 * arithmetic (v0 + (v1 - v0) * ((t - t0) / (t1 - t0))), the first and last observed value held
 * before and after them.
 */
static void approx_observed(const double *y, const double *v, size_t n, double *out) {
    size_t prev = n;
    for (size_t i = 0; i < n; i++) {
        if (isnan(y[i])) continue;
        out[i] = v[i];
        if (prev == n)
            for (size_t k = 0; k < i; k++) out[k] = v[i];
        else
            for (size_t k = prev + 1; k < i; k++)
                out[k] = v[prev] + (v[i] - v[prev]) * ((double)(k - prev) / (double)(i - prev));
        prev = i;
    }
    assert(prev < n);
    for (size_t k = prev + 1; k < n; k++) out[k] = v[prev];
}

/*
 * The STL passes of MSTL on a complete series x[0..n): `iterate` times, each period in turn
 * (ascending) gets its component re-estimated by STL on deseas + its previous estimate, in R's
 * order of additions and subtractions. Leaves the components in seas[i], the last pass's trend
 * in trend and x minus every component in deseas.
 */
static tsl_err mstl_passes(const double *x, size_t n, const int *periods, int np, int iterate,
                           const int *s_window, int robust, double *trend, double *const *seas,
                           double *deseas, tsl_diag *d) {
    tsl_err rc = TSL_OK;
    tsl_decomp dc = {0};
    tsl_stl_opts o;
    tsl_stl_opts_init(&o);
    o.periodic = 0;
    o.robust = robust;
    memcpy(deseas, x, n * sizeof *x);
    for (int i = 0; i < np; i++) memset(seas[i], 0, n * sizeof *seas[i]);
    for (int pass = 0; pass < iterate; pass++) {
        for (int i = 0; i < np; i++) {
            double *s = seas[i];
            for (size_t t = 0; t < n; t++) deseas[t] += s[t];
            o.s_window = s_window[i] > 0 ? s_window[i] : 7 + 4 * (i + 1);
            rc = tsl_decomp_stl(deseas, n, periods[i], &o, &dc, d);
            if (rc) goto out;
            memcpy(s, dc.seasonal, n * sizeof *s);
            memcpy(trend, dc.trend, n * sizeof *trend);
            for (size_t t = 0; t < n; t++) deseas[t] -= s[t];
            tsl_decomp_free(&dc);
        }
    }
out:
    tsl_decomp_free(&dc);
    return rc;
}

/*
 * The regression na.interp() pre-fills gaps with: lm(x ~ fourier(x, K) + poly(t, degree)).
 * Least squares is invariant to the basis of the column space, so the polynomial is built from
 * Legendre polynomials of time scaled to [-1, 1] (R's orthogonal poly() spans the same space)
 * and the Fourier terms from exact phase tables ((k t) mod period), which keeps the columns
 * nearly orthogonal. That makes the normal equations safe, and they need memory for the
 * c x c Gram matrix only, not for the n x c design (c <= 167, n may be a million). Columns are
 * dropped as R's QR (dqrdc2, tolerance 1e-7) drops them: when what remains of a column after
 * projecting out the earlier ones is below 1e-7 of its norm; the Cholesky factor's diagonal is
 * exactly that remainder.
 */
#define FILL_MAX_DEGREE    6
#define FILL_HARMONICS     20 /* per period, several periods */
#define FILL_HARMONICS_ONE 5  /* with one period */
#define FILL_MAX_FREQS     (TSL_MSTL_MAX_PERIODS * FILL_HARMONICS)
#define FILL_LM_TOL        1e-7

typedef struct fill_design {
    size_t n;
    int degree; /* polynomial columns after the intercept */
    int nfreq;
    int fperiod[FILL_MAX_FREQS], fk[FILL_MAX_FREQS], fsin[FILL_MAX_FREQS];
    const double *ftab[FILL_MAX_FREQS]; /* sin(2 pi r / P) for r < P, then cos(...) */
    double *tabs[TSL_MSTL_MAX_PERIODS];
    int ncol;
} fill_design;

/* Sets up na.interp()'s design for periods[0..np) (ascending) and n values. */
static void fill_design_init(fill_design *fd, size_t n, const int *periods, int np) {
    memset(fd, 0, sizeof *fd);
    fd->n = n;
    size_t deg = n / 10;
    fd->degree = deg < 1 ? 1 : deg > FILL_MAX_DEGREE ? FILL_MAX_DEGREE : (int)deg;
    fd->ncol = 1 + fd->degree;
    for (int i = 0; i < np; i++) {
        int p = periods[i];
        fd->tabs[i] = tsl_reallocarray(NULL, 2 * (size_t)p, sizeof(double));
        for (int r = 0; r < p; r++) {
            double a = 2.0 * M_PI * (double)r / (double)p;
            fd->tabs[i][r] = sin(a);
            fd->tabs[i][p + r] = cos(a);
        }
        int kmax = p / 2, cap = np > 1 ? FILL_HARMONICS : FILL_HARMONICS_ONE;
        if (kmax > cap) kmax = cap;
        for (int k = 1; k <= kmax; k++) {
            int dup = 0; /* fourier() drops a frequency k / p already there */
            for (int f = 0; f < fd->nfreq && !dup; f++)
                dup = (int64_t)k * fd->fperiod[f] == (int64_t)fd->fk[f] * p;
            if (dup) continue;
            int f = fd->nfreq++;
            fd->fperiod[f] = p;
            fd->fk[f] = k;
            fd->fsin[f] = 2 * k != p; /* sin(pi t) is zero at integer t */
            fd->ftab[f] = fd->tabs[i];
            fd->ncol += 1 + fd->fsin[f];
        }
    }
}

static void fill_design_release(fill_design *fd) {
    for (int i = 0; i < TSL_MSTL_MAX_PERIODS; i++) tsl_free(fd->tabs[i]);
}

/* Row t (0-based; R's time t + 1) of the design into row[0..ncol). */
static void fill_design_row(const fill_design *fd, size_t t, double *row) {
    double u = fd->n > 1 ? (2.0 * (double)t - (double)(fd->n - 1)) / (double)(fd->n - 1) : 0.0;
    double p0 = 1.0, p1 = u;
    int c = 0;
    row[c++] = 1.0;
    row[c++] = u;
    for (int k = 1; k < fd->degree; k++) { /* (k + 1) P_{k+1} = (2k + 1) u P_k - k P_{k-1} */
        double p2 = ((2.0 * k + 1.0) * u * p1 - k * p0) / (k + 1.0);
        row[c++] = p2;
        p0 = p1;
        p1 = p2;
    }
    for (int f = 0; f < fd->nfreq; f++) {
        uint64_t p = (uint64_t)fd->fperiod[f];
        size_t r = (size_t)(((uint64_t)fd->fk[f] * ((uint64_t)t + 1)) % p);
        if (fd->fsin[f]) row[c++] = fd->ftab[f][r];
        row[c++] = fd->ftab[f][p + r];
    }
    assert(c == fd->ncol);
}

/* Writes to x[0..n) the observed values of y and, at its gaps, the predictions of na.interp()'s
 * regression fitted on the observed values. */
static void regression_prefill(const double *y, size_t n, const int *periods, int np, double *x) {
    fill_design fd;
    fill_design_init(&fd, n, periods, np);
    size_t c = (size_t)fd.ncol;
    double *row = tsl_malloc(c * sizeof *row);
    double *g = tsl_calloc(c * c, sizeof *g); /* Gram matrix, upper triangle g[a * c + b] */
    double *l = tsl_calloc(c * c, sizeof *l); /* Cholesky factor, lower: l[i * c + j] */
    double *rhs = tsl_calloc(c, sizeof *rhs);
    double *beta = tsl_calloc(c, sizeof *beta);
    unsigned char *keep = tsl_calloc(c, 1);
    for (size_t t = 0; t < n; t++) {
        if (isnan(y[t])) continue;
        fill_design_row(&fd, t, row);
        for (size_t a = 0; a < c; a++) {
            double ra = row[a];
            double *ga = g + a * c;
            for (size_t b = a; b < c; b++) ga[b] += ra * row[b];
            rhs[a] += ra * y[t];
        }
    }
    for (size_t j = 0; j < c; j++) {
        double s = g[j * c + j];
        for (size_t k = 0; k < j; k++) s -= l[j * c + k] * l[j * c + k];
        if (!(g[j * c + j] > 0) || s <= FILL_LM_TOL * FILL_LM_TOL * g[j * c + j]) continue;
        keep[j] = 1;
        double ljj = sqrt(s);
        l[j * c + j] = ljj;
        for (size_t i = j + 1; i < c; i++) {
            double v = g[j * c + i];
            for (size_t k = 0; k < j; k++) v -= l[i * c + k] * l[j * c + k];
            l[i * c + j] = v / ljj;
        }
    }
    for (size_t j = 0; j < c; j++) { /* L z = rhs, z kept in beta */
        if (!keep[j]) continue;
        double v = rhs[j];
        for (size_t k = 0; k < j; k++) v -= l[j * c + k] * beta[k];
        beta[j] = v / l[j * c + j];
    }
    for (size_t j = c; j-- > 0;) { /* L' beta = z */
        if (!keep[j]) continue;
        double v = beta[j];
        for (size_t i = j + 1; i < c; i++) v -= l[i * c + j] * beta[i];
        beta[j] = v / l[j * c + j];
    }
    for (size_t t = 0; t < n; t++) {
        if (!isnan(y[t])) {
            x[t] = y[t];
            continue;
        }
        fill_design_row(&fd, t, row);
        double v = 0.0;
        for (size_t a = 0; a < c; a++) v += row[a] * beta[a];
        x[t] = v;
    }
    tsl_free(row);
    tsl_free(g);
    tsl_free(l);
    tsl_free(rhs);
    tsl_free(beta);
    tsl_free(keep);
    fill_design_release(&fd);
}

/* Checks periods[0..np) for tsl_decomp_fill_gaps: ascending, each >= 2 and 2 * p < n. */
static tsl_err check_fill_periods(const int *periods, int np, size_t n, tsl_diag *d) {
    if (np < 0 || np > TSL_MSTL_MAX_PERIODS)
        return tsl_diag_set(d, TSL_EINVAL, "%d seasonal periods; at most %d", np,
                            TSL_MSTL_MAX_PERIODS);
    for (int i = 0; i < np; i++)
        if (periods[i] < 2 || (i && periods[i] <= periods[i - 1]) || 2 * (size_t)periods[i] >= n)
            return tsl_diag_set(d, TSL_EINVAL,
                                "seasonal period %d: expected ascending periods of at least 2, "
                                "each shorter than half the series (%zu values)",
                                periods[i], n);
    return TSL_OK;
}

tsl_err tsl_decomp_fill_gaps(const double *y, size_t n, const int *periods, int nperiods,
                             double *out, tsl_diag *d) {
    tsl_err rc = check_fill_periods(periods, nperiods, n, d);
    if (rc) return rc;
    size_t nobs = n - tsl_count_missing(y, n);
    if (nobs == 0) return tsl_diag_set(d, TSL_ESHORT, "the series has no observed value");
    if (nobs == n) {
        memcpy(out, y, n * sizeof *y);
        return TSL_OK;
    }
    int freq = nperiods ? periods[nperiods - 1] : 1;
    approx_observed(y, y, n, out);
    if (freq <= 1 || nobs <= 2 * (size_t)freq) return TSL_OK;

    double *x = tsl_reallocarray(NULL, n, sizeof *x);
    double *trend = tsl_reallocarray(NULL, n, sizeof *trend);
    double *deseas = tsl_reallocarray(NULL, n, sizeof *deseas);
    double *sa = tsl_reallocarray(NULL, n, sizeof *sa);
    double *seas[TSL_MSTL_MAX_PERIODS] = {0};
    int windows[TSL_MSTL_MAX_PERIODS] = {0};
    for (int i = 0; i < nperiods; i++) seas[i] = tsl_reallocarray(NULL, n, sizeof *seas[i]);
    regression_prefill(y, n, periods, nperiods, x);
    rc = mstl_passes(x, n, periods, nperiods, nperiods > 1 ? 2 : 1, windows, 1, trend, seas, deseas,
                     d);
    if (rc) goto out;
    for (size_t t = 0; t < n; t++) sa[t] = trend[t] + (deseas[t] - trend[t]); /* R's seasadj */
    approx_observed(y, sa, n, x);
    double lo = INFINITY, hi = -INFINITY;
    for (size_t t = 0; t < n; t++) {
        if (isnan(y[t])) continue;
        lo = fmin(lo, y[t]);
        hi = fmax(hi, y[t]);
    }
    double slack = 0.5 * (hi - lo);
    int stray = 0;
    for (size_t t = 0; t < n; t++) {
        if (!isnan(y[t])) {
            x[t] = y[t];
            continue;
        }
        double s = 0.0;
        for (int i = 0; i < nperiods; i++) s += seas[i][t];
        x[t] += s;
        stray |= x[t] > hi + slack || x[t] < lo - slack;
    }
    if (!stray) memcpy(out, x, n * sizeof *x);
out:
    tsl_free(x);
    tsl_free(trend);
    tsl_free(deseas);
    tsl_free(sa);
    for (int i = 0; i < nperiods; i++) tsl_free(seas[i]);
    return rc;
}

tsl_err tsl_decomp_mstl(const double *y, size_t n, const int *periods, int nperiods,
                        const tsl_mstl_opts *opts, tsl_mstl *out, tsl_diag *d) {
    tsl_err rc = TSL_OK;
    tsl_mstl m = {0};
    tsl_mstl_opts defaults;
    int sorted[TSL_MSTL_MAX_PERIODS];
    double *deseas = NULL;
    if (!opts) {
        tsl_mstl_opts_init(&defaults);
        opts = &defaults;
    }
    if (nperiods < 1 || nperiods > TSL_MSTL_MAX_PERIODS) {
        rc = tsl_diag_set(d, TSL_EINVAL, "MSTL needs 1 to %d seasonal periods, got %d",
                          TSL_MSTL_MAX_PERIODS, nperiods);
        goto out;
    }
    if (sort_periods(periods, nperiods, sorted)) {
        rc = tsl_diag_set(d, TSL_EINVAL, "MSTL periods must be distinct and at least 2");
        goto out;
    }
    if (opts->iterate < 0 || opts->robust < 0 || opts->robust > 1) {
        rc = tsl_diag_set(d, TSL_EINVAL, "MSTL options: iterate must be >= 0, robust 0 or 1");
        goto out;
    }
    for (int i = 0; i < nperiods; i++)
        if (opts->s_window[i] < 0) {
            rc = tsl_diag_set(d, TSL_EINVAL, "MSTL seasonal window %d is negative",
                              opts->s_window[i]);
            goto out;
        }
    for (size_t t = 0; t < n; t++)
        if (isinf(y[t])) {
            rc = tsl_diag_set(d, TSL_EINVAL, "value %zu is infinite", t + 1);
            goto out;
        }
    if (n == tsl_count_missing(y, n)) {
        rc = tsl_diag_set(d, TSL_ESHORT, "the series has no observed value");
        goto out;
    }
    int kept = 0;
    while (kept < nperiods && 2 * (size_t)sorted[kept] < n) kept++;
    if (kept == 0) {
        rc = tsl_diag_set(d, TSL_ESHORT,
                          "MSTL needs a seasonal period shorter than half the series: the "
                          "shortest is %d, the series has %zu values",
                          sorted[0], n);
        goto out;
    }
    m.n = n;
    m.nperiods = kept;
    memcpy(m.periods, sorted, (size_t)kept * sizeof *sorted);
    m.trend = tsl_reallocarray(NULL, n, sizeof *m.trend);
    m.remainder = tsl_reallocarray(NULL, n, sizeof *m.remainder);
    m.filled = tsl_reallocarray(NULL, n, sizeof *m.filled);
    for (int i = 0; i < kept; i++) m.seasonal[i] = tsl_reallocarray(NULL, n, sizeof(double));
    deseas = tsl_reallocarray(NULL, n, sizeof *deseas);
    rc = tsl_decomp_fill_gaps(y, n, m.periods, kept, m.filled, d);
    if (rc) goto out;
    int iterate = opts->iterate > 0 ? opts->iterate : nperiods > 1 ? 2 : 1;
    rc = mstl_passes(m.filled, n, m.periods, kept, iterate, opts->s_window, opts->robust, m.trend,
                     m.seasonal, deseas, d);
    if (rc) goto out;
    for (size_t t = 0; t < n; t++) m.remainder[t] = isnan(y[t]) ? NAN : deseas[t] - m.trend[t];
    *out = m;
    memset(&m, 0, sizeof m);
out:
    tsl_free(deseas);
    tsl_mstl_free(&m);
    return rc;
}

tsl_err tsl_mstl_strength(const tsl_mstl *m, double *strength, tsl_diag *d) {
    tsl_err rc = TSL_OK;
    size_t k = 0;
    double *r = tsl_reallocarray(NULL, m->n ? m->n : 1, sizeof *r);
    double *sr = tsl_reallocarray(NULL, m->n ? m->n : 1, sizeof *sr);
    for (size_t t = 0; t < m->n; t++)
        if (!isnan(m->remainder[t])) r[k++] = m->remainder[t];
    if (k < 3) {
        rc = tsl_diag_set(d, TSL_ESHORT, "strength needs at least 3 decomposed points, got %zu", k);
        goto out;
    }
    double vr = variance(r, k);
    for (int i = 0; i < m->nperiods; i++) {
        size_t j = 0;
        for (size_t t = 0; t < m->n; t++)
            if (!isnan(m->remainder[t])) sr[j++] = m->remainder[t] + m->seasonal[i][t];
        double v = variance(sr, j);
        strength[i] = v > 0 ? fmax(0.0, fmin(1.0, 1.0 - vr / v)) : 0.0;
    }
out:
    tsl_free(r);
    tsl_free(sr);
    return rc;
}

tsl_err tsl_mstl_confirm_periods(const double *y, size_t n, const int *cand, int ncand, int *out,
                                 int *nout, tsl_diag *d) {
    tsl_err rc = TSL_OK;
    tsl_mstl m = {0};
    int list[TSL_MSTL_MAX_PERIODS];
    int nlist = 0;
    *nout = 0;
    if (ncand < 0) return tsl_diag_set(d, TSL_EINVAL, "negative number of candidate periods");
    for (int i = 0; i < ncand; i++) {
        int p = cand[i], j = nlist;
        if (p < 2) continue;
        int seen = 0;
        for (int k = 0; k < nlist; k++) seen |= list[k] == p;
        if (seen) continue;
        if (nlist == TSL_MSTL_MAX_PERIODS)
            return tsl_diag_set(d, TSL_EINVAL, "more than %d distinct candidate periods",
                                TSL_MSTL_MAX_PERIODS);
        while (j > 0 && list[j - 1] > p) {
            list[j] = list[j - 1];
            j--;
        }
        list[j] = p;
        nlist++;
    }
    size_t a = 0, b = n;
    while (a < n && isnan(y[a])) a++;
    while (b > a && isnan(y[b - 1])) b--;
    if (nlist == 0 || 2 * (size_t)list[0] >= b - a) return TSL_OK;
    double strength[TSL_MSTL_MAX_PERIODS];
    rc = tsl_decomp_mstl(y + a, b - a, list, nlist, NULL, &m, d);
    if (rc) goto out;
    if (tsl_mstl_strength(&m, strength, NULL)) goto out; /* too few observed values to judge */
    for (int i = 0; i < m.nperiods; i++)
        if (strength[i] > TSL_MSTL_STRENGTH_MIN) out[(*nout)++] = m.periods[i];
out:
    tsl_mstl_free(&m);
    return rc;
}

/* The seasonal window of the STL that removes long seasons (R's stlf() default). */
#define DESEASON_S_WINDOW 11

tsl_err tsl_decomp_deseasonalise(const double *y, size_t n, int m, double *adj, double **figure,
                                 tsl_diag *d) {
    *figure = NULL;
    size_t last = n;
    while (last > 0 && isnan(y[last - 1])) last--;
    if (last < 2 * (size_t)m + 1) return TSL_OK;
    double *filled = tsl_malloc(last * sizeof *filled);
    tsl_fill_linear(y, last, filled);
    int seasonal = 0;
    double stat;
    tsl_decomp dc;
    memset(&dc, 0, sizeof dc);
    tsl_err rc = tsl_decomp_seasonal_test(filled, last, m, &seasonal, &stat, d);
    if (rc || !seasonal) goto out;
    tsl_stl_opts o;
    tsl_stl_opts_init(&o);
    o.periodic = 0;
    o.s_window = DESEASON_S_WINDOW;
    rc = tsl_decomp_stl(filled, last, m, &o, &dc, d);
    if (rc) goto out;
    double *fig = tsl_malloc((size_t)m * sizeof *fig);
    for (size_t t = last - (size_t)m; t < last; t++) fig[t % (size_t)m] = dc.seasonal[t];
    for (size_t t = 0; t < n; t++) adj[t] = y[t] - fig[t % (size_t)m];
    *figure = fig;
out:
    tsl_decomp_free(&dc);
    tsl_free(filled);
    return rc;
}

void tsl_decomp_season_add(const double *figure, int m, uint64_t t0, size_t h, size_t nq,
                           double *mean, double *quant) {
    assert(m > 0);
    for (size_t s = 0; s < h; s++) {
        double add = figure[(t0 + s) % (uint64_t)m];
        mean[s] += add;
        for (size_t j = 0; j < nq; j++) quant[s * nq + j] += add;
    }
}
