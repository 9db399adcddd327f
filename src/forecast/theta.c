/*
 * theta.c - the Theta family: the standard Theta method as R's forecast::thetaf(), and the
 * Optimised and Dynamic Optimised Theta Models (OTM, DOTM) of Fiorucci, Pellegrini, Louzada,
 * Petropoulos & Koehler, "Models for optimising the theta method and their relationship to
 * state space models", IJF 32 (2016).
 *
 * All three share a front end. Interior gaps are filled by linear interpolation (trailing
 * missing values are not filled: the state is advanced over them as update() does). When the
 * period is above 1 the autocorrelation test of Assimakopoulos & Nikolopoulos (2000), in
 * thetaf's form (decompose.h), decides whether to seasonally adjust; if so the classical
 * multiplicative decomposition divides the series by its seasonal figure, and forecasts are
 * multiplied back. As in thetaf, a figure with an index within 1e-4 of zero cancels the
 * adjustment. tsloop departs from R in one place: a series with a value <= 0 is adjusted
 * additively (R divides anyway, which makes no sense when the trend crosses zero).
 *
 * The standard method. Hyndman & Billah, "Unmasking the Theta method", IJF 19 (2003), showed
 * that the Theta method of Assimakopoulos & Nikolopoulos is simple exponential smoothing with a
 * drift of half the slope of the linear trend. thetaf fits the SES by forecast::ets(model =
 * "ANN", opt.crit = "mse"), i.e. it minimises the in-sample one-step MSE over alpha and the
 * initial level with the Nelder-Mead of R's optim() (Nash's Compact Numerical Methods,
 * Algorithm 19) from alpha = 0.20006 and l0 = the mean of the first ten values, alpha bounded
 * to [1e-4, 0.9999]. That search often stops short of the optimum (by 1e-4 in alpha, sometimes
 * far more), so matching thetaf means walking the same simplex path: nm_minimize() below is that
 * algorithm with R's constants (reflection 1, contraction 0.5, expansion 2, relative tolerance
 * sqrt(DBL_EPSILON), 2000 evaluations). Series of six values or fewer go, as in R, through
 * HoltWintersZZ's SES (l0 = y[0], alpha in [0, 1] minimising the sum of squares). Then
 *     yhat(n + h) = l_n + b (h - 1 + (1 - (1 - alpha)^n) / alpha),   b = slope / 2,
 * and thetaf's intervals are those of the SES model, sigma^2 (1 + (h - 1) alpha^2) with
 * sigma^2 = SSE / (n - 2), *not* rescaled by the seasonal index: we reproduce that too.
 *
 * OTM and DOTM. With w = 1 - 1/theta, the models are
 *     y_t = mu_t + e_t,
 *     mu_{t+1} = l_t + w (A_t (1 - alpha)^t + B_t (1 - (1 - alpha)^{t+1}) / alpha),
 *     l_t = alpha y_t + (1 - alpha) l_{t-1},
 * where A_t, B_t are the intercept and slope of the least-squares line through the data: fixed
 * at A_n, B_n for OTM, updated as each value arrives for DOTM (mu_1 = y_1 there, and the first
 * two errors are not used). theta = 2 gives back the standard method (OTM) or its dynamic
 * version. The parameters are l0, alpha and theta, estimated as the paper and R's forecTheta do
 * by least squares on the one-step errors, which is maximum likelihood for Gaussian errors
 * with sigma profiled out; forecTheta's bounds apply: alpha in [0.1, 0.99], theta in [1, 1e10].
 * The estimation is exact where it can be: since A_t, B_t depend on the data only, mu_t is
 * linear in (l0, w) for a given alpha, so those two have a closed form (a two-column least
 * squares, with w clamped to its range, which is exact for a convex quadratic) and only alpha
 * is searched: a grid of 21 points, then NLopt's BOBYQA from the best. forecTheta instead runs
 * a Nelder-Mead over all three from (y_1 / 2, 0.5, 2), which may stop early; we find the
 * optimum it is after.
 *
 * Intervals: OTM's h-step variance is sigma^2 (1 + (h - 1) alpha^2) (the paper). DOTM's
 * states (l, mean, slope) respond linearly to each future error, so its variance follows by
 * propagating their covariance through the same recursions (forecTheta simulates 200 paths of
 * exactly this to get quantiles; this is the limit of that simulation). sigma^2 is the sum of
 * squared errors over the fitted errors minus three parameters. Seasonal OTM and DOTM
 * quantiles are multiplied by the seasonal index, as forecTheta's are.
 *
 * Update keeps every parameter, the seasonal figure, Theta's drift and OTM's line fixed, and
 * filters the level (and DOTM's line) forward; a missing value is replaced by its one-step
 * forecast, which advances the state exactly as the multi-step forecast assumed. The seasonal
 * position of the t-th value since the first observation is t % period.
 */
#include "model_impl.h"

#include <assert.h>
#include <float.h>
#include <nlopt.h>
#include <stdio.h>
#include <string.h>

#include "decompose.h"
#include "theta.h"
#include "tsloop/mem.h"

#define MULT_MIN_INDEX 1e-4 /* thetaf: a seasonal index closer to 0 cancels the adjustment */
#define SES_LOWER      1e-4 /* forecast::ets default bounds on alpha */
#define SES_UPPER      0.9999
#define HW_MAX_N       6   /* ets(): n <= npars + 4 falls back to HoltWintersZZ */
#define OTM_ALPHA_LO   0.1 /* forecTheta's bounds */
#define OTM_ALPHA_HI   0.99
#define OTM_THETA_MAX  1e10
#define OTM_GRID       21

typedef struct theta_state {
    tsl_theta_season season;
    double *figure; /* period values when seasonal, else NULL */
    double alpha, theta, ell0;
    double level;
    double drift; /* THETA */
    double a, b;  /* OTM: A_n, B_n; DOTM: b = B_t (A_t derived from ybar and b) */
    double ybar;  /* DOTM */
    double sigma2;
} theta_state;

static void theta_free(void *p) {
    theta_state *s = p;
    if (!s) return;
    tsl_free(s->figure);
    tsl_free(s);
}

/* ---- seasonal adjustment ---- */

static double seas_remove(tsl_theta_season k, double y, double s) {
    return k == TSL_THETA_SEASON_MULT ? y / s : k == TSL_THETA_SEASON_ADD ? y - s : y;
}

static double seas_apply(tsl_theta_season k, double v, double s) {
    return k == TSL_THETA_SEASON_MULT ? v * s : k == TSL_THETA_SEASON_ADD ? v + s : v;
}

/* Seasonal index of the t-th value since the first observation (neutral when none). */
static double seas_at(const theta_state *s, int period, uint64_t t) {
    if (s->season == TSL_THETA_SEASON_NONE) return 0.0; /* seas_apply ignores it */
    return s->figure[t % (uint64_t)period];
}

/*
 * Decides and performs the seasonal adjustment of y[0..n) (no gaps) in place, setting
 * s->season and s->figure. A failed decomposition cannot happen once the test has passed (it
 * needs n > 2 period), so any error here is a bug.
 */
static tsl_err seasonal_adjust(theta_state *s, double *y, size_t n, int period, tsl_diag *d) {
    tsl_decomp dc = {0};
    int seasonal = 0;
    tsl_err rc = tsl_decomp_seasonal_test(y, n, period, &seasonal, NULL, d);
    s->season = TSL_THETA_SEASON_NONE;
    if (rc || !seasonal) goto out;
    int positive = 1;
    for (size_t t = 0; t < n; t++)
        if (!(y[t] > 0)) positive = 0;
    tsl_decomp_type type = positive ? TSL_DECOMP_MULTIPLICATIVE : TSL_DECOMP_ADDITIVE;
    rc = tsl_decomp_classical(y, n, period, type, &dc, d);
    if (rc) goto out;
    for (int j = 0; j < period; j++)
        if (!isfinite(dc.figure[j]) || (positive && fabs(dc.figure[j]) < MULT_MIN_INDEX))
            goto out; /* thetaf falls back to the non-seasonal method */
    s->season = positive ? TSL_THETA_SEASON_MULT : TSL_THETA_SEASON_ADD;
    s->figure = dc.figure;
    dc.figure = NULL;
    for (size_t t = 0, j = 0; t < n; t++, j = j + 1 == (size_t)period ? 0 : j + 1)
        y[t] = seas_remove(s->season, y[t], s->figure[j]);
out:
    tsl_decomp_free(&dc);
    return rc;
}

/* ---- the Nelder-Mead of R's optim() ---- */

#define NM_MAXDIM   4
#define NM_BIG      1.0e35 /* what R's nmmin substitutes for a non-finite value */
#define NM_REFLECT  1.0
#define NM_CONTRACT 0.5
#define NM_EXPAND   2.0

typedef double (*nm_fn)(const double *x, void *ctx);

static double nm_eval(nm_fn fn, const double *x, void *ctx) {
    double f = fn(x, ctx);
    return isfinite(f) ? f : NM_BIG;
}

/*
 * Minimises fn over n <= NM_MAXDIM parameters from x, the way R's nmmin does: the simplex is x
 * plus one vertex per coordinate, offset by a tenth of the largest |x_i| (0.1 when x is 0); it
 * stops when the highest and lowest vertex values are within reltol (|f(x)| + reltol), after
 * maxit evaluations, or when a shrink fails to reduce the simplex. x receives the best vertex,
 * *fmin its value. Returns 0 on convergence, 1 when out of evaluations, 10 on a failed shrink,
 * -1 when fn(x) is not finite.
 */
static int nm_minimize(nm_fn fn, void *ctx, int n, double *x, double *fmin, int maxit,
                       double reltol) {
    double v[NM_MAXDIM + 1][NM_MAXDIM], fv[NM_MAXDIM + 1];
    double c[NM_MAXDIM], tr[NM_MAXDIM], tx[NM_MAXDIM];
    assert(n >= 1 && n <= NM_MAXDIM);
    double f = fn(x, ctx);
    if (!isfinite(f)) return -1;
    int nfev = 1, fail = 0;
    double convtol = reltol * (fabs(f) + reltol);
    double step = 0.0;
    for (int i = 0; i < n; i++)
        if (0.1 * fabs(x[i]) > step) step = 0.1 * fabs(x[i]);
    if (step == 0.0) step = 0.1;
    memcpy(v[0], x, (size_t)n * sizeof *x);
    fv[0] = f;
    double size = 0.0;
    for (int j = 1; j <= n; j++) {
        memcpy(v[j], x, (size_t)n * sizeof *x);
        double trystep = step;
        /* A step lost to rounding against a huge coordinate is retried ten times larger. */
        while (v[j][j - 1] == x[j - 1]) {
            v[j][j - 1] = x[j - 1] + trystep;
            trystep *= 10;
        }
        size += trystep;
    }
    double oldsize = size;
    int calcvert = 1, lo = 0;
    do {
        if (calcvert) {
            for (int j = 0; j <= n; j++) {
                if (j == lo) continue;
                fv[j] = nm_eval(fn, v[j], ctx);
                nfev++;
            }
            calcvert = 0;
        }
        double vl = fv[lo], vh = vl;
        int hi = lo;
        for (int j = 0; j <= n; j++) {
            if (j == lo) continue;
            if (fv[j] < vl) {
                lo = j;
                vl = fv[j];
            }
            if (fv[j] > vh) {
                hi = j;
                vh = fv[j];
            }
        }
        if (vh <= vl + convtol) break;
        /* Centroid of all but the highest vertex, summed as R does (minus the highest first). */
        for (int i = 0; i < n; i++) {
            double temp = -v[hi][i];
            for (int j = 0; j <= n; j++) temp += v[j][i];
            c[i] = temp / n;
        }
        for (int i = 0; i < n; i++) tr[i] = (1.0 + NM_REFLECT) * c[i] - NM_REFLECT * v[hi][i];
        double fr = nm_eval(fn, tr, ctx);
        nfev++;
        if (fr < vl) {
            for (int i = 0; i < n; i++) tx[i] = NM_EXPAND * tr[i] + (1.0 - NM_EXPAND) * c[i];
            double fe = nm_eval(fn, tx, ctx);
            nfev++;
            if (fe < fr) {
                memcpy(v[hi], tx, (size_t)n * sizeof *tx);
                fv[hi] = fe;
            } else {
                memcpy(v[hi], tr, (size_t)n * sizeof *tr);
                fv[hi] = fr;
            }
            continue;
        }
        if (fr < vh) {
            memcpy(v[hi], tr, (size_t)n * sizeof *tr);
            fv[hi] = fr;
        }
        for (int i = 0; i < n; i++) tx[i] = (1.0 - NM_CONTRACT) * v[hi][i] + NM_CONTRACT * c[i];
        double fc = nm_eval(fn, tx, ctx);
        nfev++;
        if (fc < fv[hi]) {
            memcpy(v[hi], tx, (size_t)n * sizeof *tx);
            fv[hi] = fc;
        } else if (fr >= vh) {
            /* Shrink towards the lowest vertex. */
            calcvert = 1;
            size = 0.0;
            for (int j = 0; j <= n; j++) {
                if (j == lo) continue;
                for (int i = 0; i < n; i++) {
                    v[j][i] = NM_CONTRACT * (v[j][i] - v[lo][i]) + v[lo][i];
                    size += fabs(v[j][i] - v[lo][i]);
                }
            }
            if (size < oldsize) {
                oldsize = size;
            } else {
                fail = 10;
                break;
            }
        }
    } while (nfev <= maxit);
    memcpy(x, v[lo], (size_t)n * sizeof *x);
    *fmin = fv[lo];
    return nfev > maxit ? 1 : fail;
}

/* ---- the standard method: SES as forecast::ets("ANN", opt.crit = "mse") ---- */

typedef struct ses_ctx {
    const double *x;
    size_t n;
} ses_ctx;

/* In-sample one-step MSE of SES at (alpha, l0); +Inf outside ets's bounds on alpha. */
static double ses_mse(const double *par, void *vctx) {
    const ses_ctx *c = vctx;
    double alpha = par[0], l = par[1], sse = 0.0;
    if (alpha < SES_LOWER || alpha > SES_UPPER) return INFINITY;
    const double *x = c->x;
    for (size_t t = 0; t < c->n; t++) {
        double e = x[t] - l;
        sse += e * e;
        l += alpha * e;
    }
    return sse / (double)c->n;
}

/* Runs SES over x with (alpha, l0): returns the final level, *sse the sum of squared errors. */
static double ses_filter(const double *x, size_t n, double alpha, double l, double *sse) {
    double s = 0.0;
    for (size_t t = 0; t < n; t++) {
        double e = x[t] - l;
        s += e * e;
        l += alpha * e;
    }
    *sse = s;
    return l;
}

/* Sum of squares of HoltWintersZZ's SES from l0 = x[0]. */
static double hw_sse(const double *x, size_t n, double alpha) {
    double l = x[0], s = 0.0;
    for (size_t t = 0; t < n; t++) {
        double e = x[t] - l;
        s += e * e;
        l = alpha * x[t] + (1.0 - alpha) * l;
    }
    return s;
}

/*
 * SES for the short series R sends to HoltWintersZZ: l0 = x[0], alpha in [0, 1] minimising the
 * sum of squares (R runs L-BFGS-B from 0.2 / period; we take the global minimum: a grid, then
 * golden-section refinement), sigma^2 = SSE / n. A flat SSE (n = 2) keeps R's start.
 */
static void ses_fit_short(const double *x, size_t n, int period, double *alpha, double *l0,
                          double *sigma2) {
    double best = 0.0, fbest = hw_sse(x, n, 0.0), fworst = fbest;
    for (int k = 1; k <= 100; k++) {
        double a = k / 100.0, f = hw_sse(x, n, a);
        if (f < fbest) {
            fbest = f;
            best = a;
        }
        if (f > fworst) fworst = f;
    }
    if (fworst - fbest <= 1e-14 * fworst) {
        best = 0.2 / period;
    } else {
        const double g = (sqrt(5.0) - 1.0) / 2.0;
        double lo = fmax(0.0, best - 0.01), hi = fmin(1.0, best + 0.01);
        double p = hi - g * (hi - lo), q = lo + g * (hi - lo);
        double fp = hw_sse(x, n, p), fq = hw_sse(x, n, q);
        while (hi - lo > 1e-12) {
            if (fp < fq) {
                hi = q;
                q = p;
                fq = fp;
                p = hi - g * (hi - lo);
                fp = hw_sse(x, n, p);
            } else {
                lo = p;
                p = q;
                fp = fq;
                q = lo + g * (hi - lo);
                fq = hw_sse(x, n, q);
            }
        }
        double a = 0.5 * (lo + hi);
        if (hw_sse(x, n, a) < fbest) best = a;
    }
    *alpha = best;
    *l0 = x[0];
    *sigma2 = hw_sse(x, n, best) / (double)n;
}

/* thetaf's SES: (alpha, l0) by R's Nelder-Mead on the MSE; sigma^2 = SSE / (n - 2). Fails
 * only when the MSE overflows at the start (values near the top of the double range). */
static tsl_err ses_fit(const double *x, size_t n, int period, double *alpha, double *l0,
                       double *sigma2, tsl_diag *d) {
    if (n <= HW_MAX_N) {
        ses_fit_short(x, n, period, alpha, l0, sigma2);
        return TSL_OK;
    }
    size_t maxn = n < 10 ? n : 10;
    double mean = 0.0;
    for (size_t t = 0; t < maxn; t++) mean += x[t];
    double par[2] = {SES_LOWER + 0.2 * (SES_UPPER - SES_LOWER), mean / (double)maxn};
    ses_ctx c = {x, n};
    double fmin, sse;
    if (nm_minimize(ses_mse, &c, 2, par, &fmin, 2000, sqrt(DBL_EPSILON)) < 0)
        return tsl_diag_set(d, TSL_ENUMERIC, "Theta: the smoothing error overflows");
    ses_filter(x, n, par[0], par[1], &sse);
    *alpha = par[0];
    *l0 = par[1];
    *sigma2 = sse / (double)(n - 2);
    return TSL_OK;
}

/* Least-squares slope and intercept of x[t] on t = t0, t0 + 1, ... */
static void ols_line(const double *x, size_t n, double t0, double *intercept, double *slope) {
    double tbar = t0 + (double)(n - 1) / 2.0, xbar = 0.0, sxy = 0.0, sxx = 0.0;
    for (size_t t = 0; t < n; t++) xbar += x[t];
    xbar /= (double)n;
    for (size_t t = 0; t < n; t++) {
        double dt = (t0 + (double)t) - tbar;
        sxy += dt * (x[t] - xbar);
        sxx += dt * dt;
    }
    *slope = sxx > 0 ? sxy / sxx : 0.0;
    *intercept = xbar - *slope * tbar;
}

/* ---- OTM and DOTM ---- */

/* The data-only part of an OTM/DOTM fit, and scratch for the profile. */
typedef struct otm_ctx {
    const double *x;
    size_t n;
    int dynamic;
    size_t first;        /* first error in the criterion: 0 (OTM) or 2 (DOTM) */
    double an, bn;       /* OTM's line */
    double *at, *bt;     /* DOTM: A_t, B_t after t values, t = 1..n-1 */
    double *x1, *x2, *u; /* profile scratch, n each */
    double ell0, w;      /* the closed-form solution at the last alpha profiled */
} otm_ctx;

/* DOTM's running line: mean, slope and intercept after the value y, the (t+1)-th. */
static void dotm_advance(double *ybar, double *b, uint64_t t, double y) {
    assert(t >= 1);
    double td = (double)t;
    double nb = ((td - 1.0) * *b + 6.0 * (y - *ybar) / (td + 1.0)) / (td + 2.0);
    *ybar = (td * *ybar + y) / (td + 1.0);
    *b = nb;
}

static double dotm_a(double ybar, double b, uint64_t t) {
    return ybar - b * ((double)t + 1.0) / 2.0;
}

/*
 * Profiled sum of squares at alpha: the one-step errors are u_t - l0 x1_t - w x2_t with
 * x1_t = (1 - alpha)^t, x2_t = A_t (1 - alpha)^t + B_t (1 - (1 - alpha)^{t+1}) / alpha and u_t
 * the data minus the SES of the data from l0 = 0, so (l0, w) solve a two-column least
 * squares; w is kept in [0, 1 - 1/theta_max]. Leaves the solution in c->ell0, c->w.
 */
static double otm_profile(double alpha, otm_ctx *c) {
    const double *x = c->x;
    double om = 1.0 - alpha, q = 1.0, s = 0.0;
    size_t k = 0;
    for (size_t t = 0; t < c->n; t++) {
        double qn = q * om;
        if (t >= c->first) {
            double a = c->dynamic ? c->at[t] : c->an, b = c->dynamic ? c->bt[t] : c->bn;
            c->x1[k] = q;
            c->x2[k] = a * q + b * (1.0 - qn) / alpha;
            c->u[k] = x[t] - s;
            k++;
        }
        s = alpha * x[t] + om * s;
        q = qn;
    }
    double s11 = 0.0, s12 = 0.0, s22 = 0.0;
    for (size_t i = 0; i < k; i++) {
        s11 += c->x1[i] * c->x1[i];
        s12 += c->x1[i] * c->x2[i];
        s22 += c->x2[i] * c->x2[i];
    }
    assert(s11 > 0);
    /* w from x2 made orthogonal to x1, computed explicitly to avoid cancellation. */
    double r = s12 / s11, qq = 0.0, pu = 0.0;
    for (size_t i = 0; i < k; i++) {
        double z = c->x2[i] - r * c->x1[i];
        qq += z * z;
        pu += z * c->u[i];
    }
    double w = qq > 1e-14 * s22 ? pu / qq : 0.0;
    const double wmax = 1.0 - 1.0 / OTM_THETA_MAX;
    if (!(w > 0.0)) w = 0.0;
    if (w > wmax) w = wmax;
    double l1 = 0.0;
    for (size_t i = 0; i < k; i++) l1 += c->x1[i] * (c->u[i] - w * c->x2[i]);
    double ell0 = l1 / s11, sse = 0.0;
    for (size_t i = 0; i < k; i++) {
        double e = c->u[i] - ell0 * c->x1[i] - w * c->x2[i];
        sse += e * e;
    }
    c->ell0 = ell0;
    c->w = w;
    return sse;
}

static double otm_objective(unsigned n, const double *x, double *grad, void *data) {
    (void)n;
    (void)grad;
    return otm_profile(x[0], data);
}

/* Estimates alpha (grid, then BOBYQA), leaving the matching (l0, w) in c. */
static void otm_estimate(otm_ctx *c, double *alpha) {
    double best = OTM_ALPHA_LO, fbest = INFINITY;
    const double span = OTM_ALPHA_HI - OTM_ALPHA_LO;
    for (int k = 0; k < OTM_GRID; k++) {
        double a = OTM_ALPHA_LO + span * k / (OTM_GRID - 1);
        double f = otm_profile(a, c);
        if (f < fbest) {
            fbest = f;
            best = a;
        }
    }
    nlopt_opt opt = nlopt_create(NLOPT_LN_BOBYQA, 1);
    if (!opt) tsl_oom(sizeof(void *)); /* NLopt fails only on allocation */
    double lb = OTM_ALPHA_LO, ub = OTM_ALPHA_HI, step = span / (2 * (OTM_GRID - 1));
    double a = best, f = fbest;
    nlopt_set_lower_bounds(opt, &lb);
    nlopt_set_upper_bounds(opt, &ub);
    nlopt_set_min_objective(opt, otm_objective, c);
    nlopt_set_initial_step(opt, &step);
    nlopt_set_xtol_abs1(opt, 1e-10);
    nlopt_set_maxeval(opt, 200);
    /* A failed or worse polish keeps the grid point. */
    if (nlopt_optimize(opt, &a, &f) > 0 && f < fbest) best = a;
    nlopt_destroy(opt);
    otm_profile(best, c);
    *alpha = best;
}

/* One-step forecast of OTM/DOTM after t values, on the adjusted scale. */
static double otm_mu(const theta_state *s, int dynamic, uint64_t t) {
    double om = 1.0 - s->alpha, q = pow(om, (double)t);
    double a = dynamic ? dotm_a(s->ybar, s->b, t) : s->a;
    double w = 1.0 - 1.0 / s->theta;
    return s->level + w * (a * q + s->b * (1.0 - q * om) / s->alpha);
}

/* One-step forecast of the standard method after t values, on the adjusted scale. */
static double theta_mu(const theta_state *s, uint64_t t) {
    return s->level + s->drift * (1.0 - pow(1.0 - s->alpha, (double)t)) / s->alpha;
}

/* Absorbs the adjusted value x (the forecast when missing) as the (t+1)-th value. */
static void state_advance(theta_state *s, tsl_model_kind kind, uint64_t t, double x) {
    if (kind == TSL_MODEL_THETA) {
        s->level += s->alpha * (x - s->level);
        return;
    }
    s->level = s->alpha * x + (1.0 - s->alpha) * s->level;
    if (kind == TSL_MODEL_DOTM) dotm_advance(&s->ybar, &s->b, t, x);
}

static double one_step(const theta_state *s, tsl_model_kind kind, uint64_t t) {
    return kind == TSL_MODEL_THETA ? theta_mu(s, t) : otm_mu(s, kind == TSL_MODEL_DOTM, t);
}

/*
 * Fits OTM/DOTM on the adjusted x[0..n): estimates (or takes *fixed = {alpha, theta, l0}),
 * then filters to the final state; sigma^2 over the criterion's errors less 3 parameters.
 */
static void otm_fit(theta_state *s, const double *x, size_t n, int dynamic, const double *fixed) {
    otm_ctx c = {0};
    c.x = x;
    c.n = n;
    c.dynamic = dynamic;
    c.first = dynamic ? 2 : 0;
    c.x1 = tsl_reallocarray(NULL, n, sizeof(double));
    c.x2 = tsl_reallocarray(NULL, n, sizeof(double));
    c.u = tsl_reallocarray(NULL, n, sizeof(double));
    if (dynamic) {
        c.at = tsl_reallocarray(NULL, n, sizeof(double));
        c.bt = tsl_reallocarray(NULL, n, sizeof(double));
        double ybar = x[0], b = 0.0;
        c.at[0] = c.bt[0] = 0.0; /* unused: mu_1 = y_1 */
        for (size_t t = 1; t < n; t++) {
            c.at[t] = dotm_a(ybar, b, t);
            c.bt[t] = b;
            dotm_advance(&ybar, &b, t, x[t]);
        }
    } else {
        ols_line(x, n, 1.0, &c.an, &c.bn);
    }
    double alpha;
    if (fixed) {
        alpha = fixed[0];
        c.w = 1.0 - 1.0 / fixed[1];
        c.ell0 = fixed[2];
    } else {
        otm_estimate(&c, &alpha);
    }
    s->alpha = alpha;
    /* 1 / (1 - w) may round past the bound that load() enforces. */
    s->theta = fixed ? fixed[1] : fmin(OTM_THETA_MAX, 1.0 / (1.0 - c.w));
    s->ell0 = c.ell0;
    s->a = c.an;
    s->b = c.bn;
    /* Filter with the model's own recursions, so that fit and update agree to the bit. */
    s->level = c.ell0;
    double sse = 0.0;
    for (size_t t = 0; t < n; t++) {
        if (dynamic && t == 0) {
            s->level = alpha * x[0] + (1.0 - alpha) * s->level;
            s->ybar = x[0];
            s->b = 0.0;
            continue;
        }
        double e = x[t] - otm_mu(s, dynamic, t);
        if (t >= c.first) sse += e * e;
        state_advance(s, dynamic ? TSL_MODEL_DOTM : TSL_MODEL_OTM, t, x[t]);
    }
    s->sigma2 = sse / (double)(n - c.first - 3);
    tsl_free(c.x1);
    tsl_free(c.x2);
    tsl_free(c.u);
    tsl_free(c.at);
    tsl_free(c.bt);
}

/* ---- the model interface ---- */

static size_t min_obs(tsl_model_kind kind) {
    /* THETA: two points for the trend line; OTM, DOTM: one degree of freedom for sigma^2. */
    return kind == TSL_MODEL_THETA ? 2 : kind == TSL_MODEL_OTM ? 4 : 6;
}

static const char *family_name(tsl_model_kind kind) {
    return kind == TSL_MODEL_THETA ? "Theta" : kind == TSL_MODEL_OTM ? "OTM" : "DOTM";
}

/*
 * The whole fit of every kind, on y[0..n) with y[0] observed; fixed = {alpha, theta, l0} or
 * NULL to estimate. On success *out is the new state and name is set.
 */
static tsl_err fit_state(tsl_model *m, const double *y, size_t n, const double *fixed,
                         theta_state **out, tsl_diag *d) {
    tsl_model_kind kind = m->ops->kind;
    theta_state *s = tsl_calloc(1, sizeof *s);
    double *x = NULL;
    tsl_err rc = TSL_OK;
    size_t nfit = n;
    while (nfit > 0 && isnan(y[nfit - 1])) nfit--;
    assert(nfit >= 1);
    if (nfit < min_obs(kind)) {
        rc = tsl_diag_set(d, TSL_ESHORT, "%s needs at least %zu observations, got %zu",
                          family_name(kind), min_obs(kind), nfit);
        goto out;
    }
    x = tsl_reallocarray(NULL, nfit, sizeof *x);
    tsl_fill_linear(y, nfit, x);
    rc = seasonal_adjust(s, x, nfit, m->period, d);
    if (rc) goto out;
    if (kind == TSL_MODEL_THETA) {
        double alpha = 0, l0 = 0, sigma2 = 0, sse, intercept, slope;
        if (fixed) {
            alpha = fixed[0];
            l0 = fixed[2];
            ses_filter(x, nfit, alpha, l0, &sse);
            sigma2 = nfit > HW_MAX_N ? sse / (double)(nfit - 2) : sse / (double)nfit;
        } else {
            rc = ses_fit(x, nfit, m->period, &alpha, &l0, &sigma2, d);
            if (rc) goto out;
        }
        ols_line(x, nfit, 0.0, &intercept, &slope);
        s->alpha = fmax(1e-10, alpha); /* thetaf's pmax(1e-10, alpha) */
        s->theta = 2.0;
        s->ell0 = l0;
        s->level = ses_filter(x, nfit, alpha, l0, &sse);
        s->drift = slope / 2.0;
        s->sigma2 = sigma2;
    } else {
        otm_fit(s, x, nfit, kind == TSL_MODEL_DOTM, fixed);
    }
    /* Trailing missing values: the state moves on by its own forecasts. */
    for (size_t t = nfit; t < n; t++) state_advance(s, kind, t, one_step(s, kind, t));
    if (!isfinite(s->level) || !isfinite(s->sigma2) || !isfinite(s->ell0) || !isfinite(s->a) ||
        !isfinite(s->b) || !isfinite(s->ybar) || !isfinite(s->drift) || !isfinite(s->theta)) {
        rc = tsl_diag_set(d, TSL_ENUMERIC, "%s: no finite fit (values too large?)",
                          family_name(kind));
        goto out;
    }
    if (s->season == TSL_THETA_SEASON_NONE)
        tsl_strlcpy(m->name, family_name(kind), sizeof m->name);
    else
        snprintf(m->name, sizeof m->name, "%s(%c,%d)", family_name(kind),
                 s->season == TSL_THETA_SEASON_MULT ? 'M' : 'A', m->period);
    *out = s;
    s = NULL;
out:
    theta_free(s);
    tsl_free(x);
    return rc;
}

static tsl_err theta_fit(tsl_model *m, const double *y, size_t n, tsl_diag *d) {
    theta_state *s = NULL;
    tsl_err rc = fit_state(m, y, n, NULL, &s, d);
    if (!rc) m->state = s;
    return rc;
}

static tsl_err theta_forecast(const tsl_model *m, size_t h, const double *levels, size_t nq,
                              double *mean, double *quant, tsl_diag *d) {
    (void)d;
    const theta_state *s = m->state;
    tsl_model_kind kind = m->ops->kind;
    uint64_t t0 = m->nobs;
    double *sd = tsl_reallocarray(NULL, h, sizeof *sd);
    double sigma = sqrt(s->sigma2), a = s->alpha;
    if (kind == TSL_MODEL_THETA) {
        double c = (1.0 - pow(1.0 - a, (double)t0)) / a;
        for (size_t i = 0; i < h; i++) {
            mean[i] = s->level + s->drift * ((double)i + c);
            sd[i] = sigma * sqrt((double)i * a * a + 1.0);
        }
    } else if (kind == TSL_MODEL_OTM) {
        theta_state st = *s;
        for (size_t i = 0; i < h; i++) {
            mean[i] = otm_mu(&st, 0, t0 + i);
            state_advance(&st, kind, t0 + i, mean[i]);
            sd[i] = sigma * sqrt((double)i * a * a + 1.0);
        }
    } else {
        /*
         * DOTM: the mean path is the recursion fed its own forecasts; the states x = (l, ybar,
         * B) move as x' = (F + g H) x + g e for the next error e, so their covariance P goes
         * to M P M' + sigma^2 g g' and the forecast variance is H P H' + sigma^2.
         */
        theta_state st = *s;
        double p[3][3] = {{0}};
        double w = 1.0 - 1.0 / s->theta, om = 1.0 - a;
        double q = pow(om, (double)t0);
        for (size_t i = 0; i < h; i++) {
            uint64_t t = t0 + i;
            double td = (double)t;
            double hv[3] = {1.0, w * q, w * ((1.0 - q * om) / a - q * (td + 1.0) / 2.0)};
            double var = s->sigma2;
            for (int r = 0; r < 3; r++)
                for (int k = 0; k < 3; k++) var += hv[r] * p[r][k] * hv[k];
            sd[i] = sqrt(var);
            mean[i] = otm_mu(&st, 1, t);
            state_advance(&st, kind, t, mean[i]);
            double g[3] = {a, 1.0 / (td + 1.0), 6.0 / ((td + 1.0) * (td + 2.0))};
            double f[3][3] = {{om, 0, 0},
                              {0, td / (td + 1.0), 0},
                              {0, -6.0 / ((td + 1.0) * (td + 2.0)), (td - 1.0) / (td + 2.0)}};
            double mm[3][3], tmp[3][3];
            for (int r = 0; r < 3; r++)
                for (int k = 0; k < 3; k++) mm[r][k] = f[r][k] + g[r] * hv[k];
            for (int r = 0; r < 3; r++)
                for (int k = 0; k < 3; k++) {
                    double acc = 0.0;
                    for (int j = 0; j < 3; j++) acc += mm[r][j] * p[j][k];
                    tmp[r][k] = acc;
                }
            for (int r = 0; r < 3; r++)
                for (int k = 0; k < 3; k++) {
                    double acc = s->sigma2 * g[r] * g[k];
                    for (int j = 0; j < 3; j++) acc += tmp[r][j] * mm[k][j];
                    p[r][k] = acc;
                }
            q *= om;
        }
    }
    /* Back to the original scale. thetaf leaves its interval widths unscaled; OTM and DOTM
     * scale whole quantiles, as forecTheta does. */
    double *z = tsl_reallocarray(NULL, nq ? nq : 1, sizeof *z);
    for (size_t j = 0; j < nq; j++) z[j] = tsl_qnorm(levels[j]);
    for (size_t i = 0; i < h; i++) {
        double si = seas_at(s, m->period, t0 + i);
        double mu = mean[i];
        mean[i] = seas_apply(s->season, mu, si);
        for (size_t j = 0; j < nq; j++)
            quant[i * nq + j] = kind == TSL_MODEL_THETA
                                    ? mean[i] + z[j] * sd[i]
                                    : seas_apply(s->season, mu + z[j] * sd[i], si);
    }
    tsl_free(z);
    tsl_free(sd);
    return TSL_OK;
}

static tsl_err theta_update(tsl_model *m, const double *y, size_t n, double *err1, tsl_diag *d) {
    (void)d;
    theta_state *s = m->state;
    tsl_model_kind kind = m->ops->kind;
    for (size_t i = 0; i < n; i++) {
        uint64_t t = m->nobs + i;
        double si = seas_at(s, m->period, t);
        double mu = one_step(s, kind, t);
        double x = isnan(y[i]) ? mu : seas_remove(s->season, y[i], si);
        if (err1) err1[i] = y[i] - seas_apply(s->season, mu, si);
        state_advance(s, kind, t, x);
    }
    return TSL_OK;
}

static void theta_save(const tsl_model *m, tsl_wbuf *w) {
    const theta_state *s = m->state;
    tsl_wbuf_put_u8(w, (uint8_t)s->season);
    tsl_wbuf_put_u32(w, s->season ? (uint32_t)m->period : 0);
    if (s->season) tsl_wbuf_put_f64s(w, s->figure, (size_t)m->period);
    tsl_wbuf_put_f64(w, s->alpha);
    tsl_wbuf_put_f64(w, s->theta);
    tsl_wbuf_put_f64(w, s->ell0);
    tsl_wbuf_put_f64(w, s->level);
    tsl_wbuf_put_f64(w, s->drift);
    tsl_wbuf_put_f64(w, s->a);
    tsl_wbuf_put_f64(w, s->b);
    tsl_wbuf_put_f64(w, s->ybar);
    tsl_wbuf_put_f64(w, s->sigma2);
}

static tsl_err theta_load(tsl_model *m, tsl_rbuf *r, uint16_t version, tsl_diag *d) {
    (void)version;
    theta_state *s = tsl_calloc(1, sizeof *s);
    m->state = s;
    uint8_t season = tsl_rbuf_u8(r);
    uint32_t flen = tsl_rbuf_u32(r);
    if (!tsl_rbuf_ok(r) || season > TSL_THETA_SEASON_ADD ||
        flen != (season ? (uint32_t)m->period : 0) || (season && m->period < 2) ||
        flen > tsl_rbuf_left(r) / 8)
        return tsl_diag_set(d, TSL_ECORRUPT, "%s seasonal state is malformed", m->name);
    s->season = (tsl_theta_season)season;
    if (season) {
        s->figure = tsl_reallocarray(NULL, flen, sizeof *s->figure);
        tsl_rbuf_f64s(r, s->figure, flen);
        for (uint32_t j = 0; j < flen; j++)
            if (!isfinite(s->figure[j]) ||
                (season == TSL_THETA_SEASON_MULT && fabs(s->figure[j]) < MULT_MIN_INDEX))
                return tsl_diag_set(d, TSL_ECORRUPT, "%s seasonal index is invalid", m->name);
    }
    s->alpha = tsl_rbuf_f64(r);
    s->theta = tsl_rbuf_f64(r);
    s->ell0 = tsl_rbuf_f64(r);
    s->level = tsl_rbuf_f64(r);
    s->drift = tsl_rbuf_f64(r);
    s->a = tsl_rbuf_f64(r);
    s->b = tsl_rbuf_f64(r);
    s->ybar = tsl_rbuf_f64(r);
    s->sigma2 = tsl_rbuf_f64(r);
    if (!tsl_rbuf_ok(r) || !(s->alpha > 0.0 && s->alpha <= 1.0) ||
        !(s->theta >= 1.0 && s->theta <= OTM_THETA_MAX) || !isfinite(s->ell0) ||
        !isfinite(s->level) || !isfinite(s->drift) || !isfinite(s->a) || !isfinite(s->b) ||
        !isfinite(s->ybar) || !(s->sigma2 >= 0.0 && isfinite(s->sigma2)) ||
        m->nobs < min_obs(m->ops->kind))
        return tsl_diag_set(d, TSL_ECORRUPT, "%s state is malformed", m->name);
    return TSL_OK;
}

const tsl_model_ops tsl_theta_ops = {TSL_MODEL_THETA, 1,          theta_fit,  theta_forecast,
                                     theta_update,    theta_save, theta_load, theta_free};
const tsl_model_ops tsl_otm_ops = {TSL_MODEL_OTM, 1,          theta_fit,  theta_forecast,
                                   theta_update,  theta_save, theta_load, theta_free};
const tsl_model_ops tsl_dotm_ops = {TSL_MODEL_DOTM, 1,          theta_fit,  theta_forecast,
                                    theta_update,   theta_save, theta_load, theta_free};

/* ---- theta.h ---- */

static int is_theta_kind(const tsl_model *m) {
    tsl_model_kind k = m->ops->kind;
    return k == TSL_MODEL_THETA || k == TSL_MODEL_OTM || k == TSL_MODEL_DOTM;
}

tsl_err tsl_theta_inspect(const tsl_model *m, tsl_theta_info *out, tsl_diag *d) {
    if (!is_theta_kind(m)) return tsl_diag_set(d, TSL_EINVAL, "%s is not a Theta model", m->name);
    const theta_state *s = m->state;
    memset(out, 0, sizeof *out);
    out->season = s->season;
    out->period = m->period;
    out->figure = s->figure;
    out->alpha = s->alpha;
    out->theta = s->theta;
    out->ell0 = s->ell0;
    out->level = s->level;
    out->drift = s->drift;
    out->a = m->ops->kind == TSL_MODEL_DOTM ? dotm_a(s->ybar, s->b, m->nobs) : s->a;
    out->b = s->b;
    out->ybar = s->ybar;
    out->sigma2 = s->sigma2;
    return TSL_OK;
}

tsl_err tsl_theta_refit(tsl_model *m, const double *y, size_t n, double alpha, double theta,
                        double ell0, tsl_diag *d) {
    tsl_err rc = TSL_OK;
    theta_state *s = NULL;
    char name[sizeof m->name];
    if (!is_theta_kind(m)) {
        rc = tsl_diag_set(d, TSL_EINVAL, "%s is not a Theta model", m->name);
        goto out;
    }
    if (m->ops->kind == TSL_MODEL_THETA) theta = 2.0;
    if (!(alpha > 0.0 && alpha <= 1.0) || !isfinite(ell0) ||
        !(theta >= 1.0 && theta <= OTM_THETA_MAX)) {
        rc = tsl_diag_set(d, TSL_EINVAL,
                          "fixed Theta parameters out of range: alpha %g (0, 1], theta %g "
                          "[1, 1e10], l0 %g finite",
                          alpha, theta, ell0);
        goto out;
    }
    size_t first = 0;
    while (first < n && isnan(y[first])) first++;
    if (n - first != m->nobs) {
        rc = tsl_diag_set(d, TSL_EINVAL,
                          "refit needs the series the model was fitted on: %zu observations "
                          "for %llu",
                          n - first, (unsigned long long)m->nobs);
        goto out;
    }
    for (size_t t = first; t < n; t++)
        if (isinf(y[t])) {
            rc = tsl_diag_set(d, TSL_EINVAL, "value %zu is infinite", t + 1);
            goto out;
        }
    const double fixed[3] = {alpha, theta, ell0};
    memcpy(name, m->name, sizeof name);
    rc = fit_state(m, y + first, n - first, fixed, &s, d);
    if (rc) {
        memcpy(m->name, name, sizeof name);
        goto out;
    }
    theta_free(m->state);
    m->state = s;
out:
    return rc;
}
