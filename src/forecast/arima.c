/*
 * arima.c - seasonal ARIMA, fitted by exact maximum likelihood and selected automatically as
 * R's forecast::auto.arima() does.
 *
 * The model. ARIMA(p,d,q)(P,D,Q)[m] with an optional constant (a mean when d + D = 0, a drift
 * when d + D = 1), written as R's stats::arima writes it (arima.h):
 *     phi(B) Phi(B^m) (1 - B)^d (1 - B^m)^D (y_t - c_t) = theta(B) Theta(B^m) e_t.
 * The multiplicative polynomials are expanded into one AR polynomial of degree pf = p + mP and
 * one MA polynomial of degree qf = q + mQ, and the model is put in Harvey's state-space form:
 * an ARMA state of dimension r = max(pf, qf + 1) with the companion transition (the AR
 * coefficients in the first column), the disturbance loading R = (1, theta_1, ..., theta_r-1),
 * plus, for the differences, the last d + mD values of y - c_t (Gardner, Harvey & Phillips,
 * "An algorithm for exact maximum likelihood estimation of autoregressive-moving average models
 * by means of Kalman filtering", Applied Statistics 29, 1980; Durbin & Koopman, "Time Series
 * Analysis by State Space Methods", 2nd ed. 2012, ch. 3 and 5).
 *
 * The likelihood, two ways. R's stats::arima runs the Kalman filter over the whole state with
 * a diffuse prior (variance kappa = 1e6) on the differencing states and drops the observations
 * whose prediction variance is still above 1e4. Without missing values that approximates the
 * exact likelihood of the differenced series w = (1 - B)^d (1 - B^m)^D y under a stationary
 * ARMA model (see the deviations below), and that is what we compute when there are no gaps:
 *   - The stationary covariance of the ARMA state is needed only through its first column
 *     cov(alpha_j, w_t): from the autocovariances of the AR part (the Schur-Cohn step-down to
 *     the partial autocorrelations, then the Levinson recursion back up: O(pf^2)), combined
 *     with the sparse MA polynomial, and the psi weights. R solves an r(r+1)/2 linear system
 *     (AS 154) instead, which for weekly data with a seasonal AR term is a system of thousands.
 *   - The filter itself uses the Chandrasekhar recursions (Morf, Sidhu & Kailath, IEEE TAC 19,
 *     1974; for ARMA models see also Herbst, "Using the Chandrasekhar recursions for likelihood
 *     evaluation of DSGE models", Computational Economics 45, 2015): from a stationary start,
 *     P_{t+1} - P_t has rank one, so the gain, the prediction variance and that rank-one factor
 *     can be carried instead of the r x r covariance: O(r) per observation instead of O(r^2).
 *     Once the factor has decayed the gain is frozen, and at the steady state of an invertible
 *     model (gain T R) a step touches only the non-zero AR and MA lags.
 *   - The constant is concentrated out: the innovations are linear in the data, so the filter
 *     runs the constant regressor through the same gains and the generalised least squares
 *     estimate of the mean (or drift) is exact at every evaluation. sigma2 is concentrated
 *     out too, as in R. The optimiser sees only the ARMA coefficients.
 * With missing values the series cannot be differenced without losing information, so we run
 * R's filter on the full state (its diffuse prior included), skipping the update where a value
 * is missing. That filter switches to an O(rd) "steady" mode whenever the state covariance has
 * become negligible and leaves it at the next missing value. The same filter gives the final
 * state of every fit, and absorbs new observations in tsl_model_update.
 *
 * Estimation, as stats::arima(method = "CSS-ML"): the conditional sum of squares gives start
 * values, then the exact likelihood is maximised. Under the likelihood every polynomial, AR and
 * MA, seasonal or not, enters through its partial autocorrelations (tanh of the optimiser's
 * variables, then the Durbin-Levinson recursion: Jones, "Maximum likelihood fitting of ARMA
 * models to time series with missing observations", Technometrics 22, 1980; R's
 * transform.pars does this for the AR parts), so every point the optimiser visits is
 * stationary and invertible. R leaves the MA parts free and reflects non-invertible roots
 * before and after (maInvert); that reaches the same models, since a reflected MA root leaves
 * the Gaussian likelihood unchanged, but lets the search wander far outside the invertible
 * region, where it can stall (an MA coefficient of 50 is one of 0.02). Under CSS the
 * coefficients are R's raw ones and the constant is an explicit variable, started at its
 * least-squares value and scaled by ten of its standard errors, as R's parscale: concentrating
 * it out there, as the likelihood does, would let the exploding residuals of a non-invertible
 * MA part cancel against those of the constant into a spurious optimum. The optimiser is
 * NLopt's L-BFGS, with the exact gradient of the CSS objective (forward-mode differentiation of
 * the residual recursion) and forward differences of the likelihood.
 *
 * Selection (tsl_arima_auto) follows Hyndman & Khandakar, "Automatic time series forecasting:
 * the forecast package for R", JSS 27(3), 2008, as forecast 8.20's auto.arima() implements it:
 * D from the seasonal strength of an STL decomposition (Wang, Smith & Hyndman 2006; R's
 * nsdiffs(test = "seas"): strength above 0.64), d from repeated KPSS tests at 5% (Kwiatkowski,
 * Phillips, Schmidt & Shin 1992; R's ndiffs()), then a stepwise search over p, q, P, Q and the
 * constant from auto.arima's start models and neighbourhood, or the exhaustive search.
 * Candidates are ranked by AICc; models with a (seasonal) AR or MA root within 1.01 of the unit
 * circle, or whose information matrix is not positive definite (R's checkarima), are refused.
 * For series longer than 150 or seasons longer than 12 the search ranks candidates by an
 * approximate AICc from CSS fits, then refits the best ones by exact ML in that order until one
 * passes the checks (auto.arima's approximation). A search remembers every model it fitted,
 * so revisiting one costs nothing.
 *
 * Forecasts are the state-space predictions with Gaussian intervals whose variance is the
 * state's covariance pushed forward plus the sum of squared psi weights of the whole
 * (integrated) model, times sigma2 (R's KalmanForecast()).
 *
 * Deviations from R, all deliberate (docs/models/arima.md):
 *   - Without missing values the likelihood is the exact likelihood of the differenced series.
 *     R's diffuse prior (variance 1e6 around zero) shifts its log-likelihood by a constant that
 *     does not depend on the coefficients, but is informative for series in the thousands and
 *     moves its constant a little. sigma2 (Arima()'s residual sum of squares over
 *     nstar - npar + 1) leaves out R's residuals of the first d + mD observations, which are
 *     the data divided by about sqrt(kappa), not innovations.
 *   - When the CSS start is not stationary R gives up on the order; we start the exact
 *     likelihood from zero instead. With missing values, R's CSS lets one gap make every later
 *     residual NaN; we skip the residuals a gap touches.
 *   - An AICc whose denominator nstar - npar - 1 is not positive is +inf (R computes a
 *     negative penalty, which can crown a model with as many parameters as observations).
 *   - The mean (or drift) of the likelihood is estimated exactly by GLS inside it instead of
 *     being one of the optimiser's variables; at the optimum this is the same estimate.
 *   - When every candidate fails, R stops with an error; we fall back to ARIMA(0,d,0)(0,D,0).
 *   - Only nsdiffs()'s default seasonal test ("seas") is implemented; gaps are filled linearly
 *     for it where R uses na.interp().
 *   - Seasonal periods above TSL_ARIMA_MAX_PERIOD go through STL (below).
 */
#include "arima.h"

#include <assert.h>
#include <complex.h>
#include <nlopt.h>
#include <stdio.h>
#include <string.h>

#include "decompose.h"
#include "model_impl.h"
#include "tsloop/mem.h"

/* Expanded polynomial degrees and the state dimension are bounded by the largest orders. */
#define MAX_PF   (TSL_ARIMA_MAX_P + TSL_ARIMA_MAX_PERIOD * TSL_ARIMA_MAX_SP)
#define MAX_DD   (TSL_ARIMA_MAX_D + TSL_ARIMA_MAX_PERIOD * TSL_ARIMA_MAX_SD)
#define MAX_LAGS ((TSL_ARIMA_MAX_P + 1) * (TSL_ARIMA_MAX_SP + 1))

/* R's diffuse prior on the differencing states, and the prediction variance above which an
 * observation is treated as still diffuse (not counted in the likelihood). */
#define KAPPA        1e6
#define DIFFUSE_GAIN 1e4

/* The objective of a point where the likelihood is undefined. */
#define PENALTY 1e10

/* Below this (in units of sigma2) the state covariance counts as zero: the filter is in its
 * steady state, and a saved model stores no covariance. */
#define STEADY_TOL 1e-12

/* R's minimum distance of the roots from the unit circle in auto.arima. */
#define ROOT_MARGIN 1.01

/* Public contracts of the tsl_arima_* functions are in arima.h. */
void tsl_arima_fit_release(tsl_arima_fit *f) {
    if (!f) return;
    tsl_free(f->a);
    tsl_free(f->P);
    memset(f, 0, sizeof *f);
}

/* ---- the shape of an order: expanded degrees, non-zero lags, differencing ---- */

typedef struct shape {
    tsl_arima_order o;
    int k;      /* p + q + P + Q: coefficients */
    int pf, qf; /* expanded AR and MA degrees */
    int r;      /* ARMA state dimension max(pf, qf + 1) */
    int nar;    /* lags (1-based) where the expanded AR polynomial may be non-zero */
    int arlag[MAX_LAGS];
    int nma; /* the same for the MA polynomial */
    int malag[MAX_LAGS];
    int dd;               /* d + mD */
    double delta[MAX_DD]; /* z_t = w_t + sum_i delta[i] z_{t-1-i}, R's Delta */
} shape;

/* Appends the lags i + j m (i in 0..a, j in 0..b, not both 0) in increasing order. */
static int lag_set(int a, int b, int m, int *out) {
    int n = 0, top = a + b * m;
    for (int l = 1; l <= top; l++)
        for (int j = 0; j <= b; j++) {
            int i = l - j * m;
            if (i >= 0 && i <= a) {
                out[n++] = l;
                break;
            }
        }
    return n;
}

/* Fills the shape of an order (which must be valid: see order_check). */
static void shape_init(shape *s, const tsl_arima_order *o) {
    memset(s, 0, sizeof *s);
    s->o = *o;
    if (s->o.m < 2) s->o.m = 1, s->o.P = s->o.D = s->o.Q = 0;
    int m = s->o.m;
    s->k = o->p + o->q + s->o.P + s->o.Q;
    s->pf = o->p + m * s->o.P;
    s->qf = o->q + m * s->o.Q;
    s->r = s->pf > s->qf + 1 ? s->pf : s->qf + 1;
    s->nar = lag_set(o->p, s->o.P, m, s->arlag);
    s->nma = lag_set(o->q, s->o.Q, m, s->malag);
    /* (1 - B)^d (1 - B^m)^D = 1 - sum delta_i B^i */
    double poly[MAX_DD + 1] = {1.0};
    int deg = 0;
    for (int i = 0; i < o->d + s->o.D; i++) {
        int lag = i < o->d ? 1 : m;
        for (int j = deg; j >= 0; j--) poly[j + lag] -= poly[j];
        deg += lag;
    }
    s->dd = deg;
    for (int i = 0; i < deg; i++) s->delta[i] = -poly[i + 1];
}

/* Expands coefficients (R's order) into phi[r] and the loading R[r] = (1, theta, 0...), as
 * R's ARIMA_transPars without the transformation. */
static void expand(const shape *s, const double *coef, double *phi, double *R) {
    const tsl_arima_order *o = &s->o;
    const double *ar = coef, *ma = coef + o->p, *sar = ma + o->q, *sma = sar + o->P;
    int m = o->m;
    memset(phi, 0, (size_t)s->r * sizeof *phi);
    memset(R, 0, (size_t)s->r * sizeof *R);
    R[0] = 1.0;
    for (int i = 0; i < o->p; i++) phi[i] = ar[i];
    for (int j = 0; j < o->P; j++) {
        phi[(j + 1) * m - 1] += sar[j];
        for (int i = 0; i < o->p; i++) phi[(j + 1) * m + i] -= ar[i] * sar[j];
    }
    for (int i = 0; i < o->q; i++) R[1 + i] = ma[i];
    for (int j = 0; j < o->Q; j++) {
        R[(j + 1) * m] += sma[j];
        for (int i = 0; i < o->q; i++) R[(j + 1) * m + 1 + i] += ma[i] * sma[j];
    }
}

/* ---- partial autocorrelations: stationarity and the transformation ---- */

/*
 * The Schur-Cohn step-down of 1 - a_1 z - ... - a_k z^k: writes its partial autocorrelations
 * kappa[0..k) and, when tri is not NULL, every intermediate polynomial (row j of tri, k
 * wide, holds the coefficients of order j + 1). Returns 1 when all |kappa| < 1, i.e. all
 * roots lie outside the unit circle; stops at the first that is not.
 */
static int step_down(const double *a, int k, double *kappa, double *tri) {
    double cur[MAX_PF], prev[MAX_PF];
    memcpy(cur, a, (size_t)k * sizeof *cur);
    for (int j = k; j >= 1; j--) {
        double kj = cur[j - 1];
        if (tri) memcpy(tri + (size_t)(j - 1) * (size_t)k, cur, (size_t)j * sizeof *cur);
        if (!(fabs(kj) < 1.0)) return 0;
        kappa[j - 1] = kj;
        double den = 1.0 - kj * kj;
        for (int i = 0; i < j - 1; i++) prev[i] = (cur[i] + kj * cur[j - 2 - i]) / den;
        memcpy(cur, prev, (size_t)(j - 1) * sizeof *cur);
    }
    return 1;
}

/* 1 when every root of 1 - a_1 z - ... - a_k z^k has modulus above `radius`. */
static int roots_outside(const double *a, int k, double radius) {
    double s[MAX_PF], kappa[MAX_PF], f = 1.0;
    while (k > 0 && a[k - 1] == 0.0) k--;
    for (int i = 0; i < k; i++) {
        f *= radius;
        s[i] = a[i] * f;
    }
    return step_down(s, k, kappa, NULL);
}

/* Partial autocorrelations tanh(raw[0..k)) to AR coefficients (the Durbin-Levinson
 * recursion upward), Jones (1980). */
static void pacf_to_ar(const double *raw, int k, double *ar) {
    double prev[TSL_ARIMA_MAX_P];
    for (int j = 0; j < k; j++) {
        double kj = tanh(raw[j]);
        memcpy(prev, ar, (size_t)j * sizeof *prev);
        for (int i = 0; i < j; i++) ar[i] = prev[i] - kj * prev[j - 1 - i];
        ar[j] = kj;
    }
}

/* The inverse of pacf_to_ar; returns 0 when ar is not stationary. */
static int ar_to_pacf(const double *ar, int k, double *raw) {
    double kappa[TSL_ARIMA_MAX_P];
    if (!step_down(ar, k, kappa, NULL)) return 0;
    for (int j = 0; j < k; j++) raw[j] = atanh(kappa[j]);
    return 1;
}

/* ---- polynomial roots, for MA inversion ---- */

/* The roots of c[0] + c[1] z + ... + c[k] z^k (c[k] != 0, k >= 1) by the Aberth-Ehrlich
 * iteration from points spread on a circle, polished by Newton steps. */
static void poly_roots(const double *c, int k, double complex *z) {
    double complex a[TSL_ARIMA_MAX_Q + 1];
    for (int i = 0; i <= k; i++) a[i] = c[i] / c[k];
    /* start on a circle of radius max |a_i|^(1/(k-i)), off the real axis */
    double rad = 0;
    for (int i = 0; i < k; i++) rad = fmax(rad, pow(cabs(a[i]), 1.0 / (k - i)));
    if (!(rad > 0)) rad = 1;
    for (int i = 0; i < k; i++) z[i] = rad * cexp(I * (2 * M_PI * i / k + 0.4));
    for (int it = 0; it < 500; it++) {
        double move = 0;
        for (int i = 0; i < k; i++) {
            double complex p = 1, dp = 0;
            for (int j = k - 1; j >= 0; j--) {
                dp = dp * z[i] + p;
                p = p * z[i] + a[j];
            }
            if (p == 0) continue;
            double complex ratio = p / dp, sum = 0;
            for (int j = 0; j < k; j++)
                if (j != i) sum += 1.0 / (z[i] - z[j]);
            double complex step = ratio / (1.0 - ratio * sum);
            z[i] -= step;
            move = fmax(move, cabs(step) / fmax(1.0, cabs(z[i])));
        }
        if (move < 1e-15) break;
    }
}

/*
 * Makes the MA polynomial 1 + ma_1 z + ... + ma_q z^q invertible by reflecting its roots
 * inside the unit circle (R's maInvert): the Gaussian likelihood is unchanged, and every
 * invertible model is reached this way.
 */
static void ma_invert(double *ma, int q) {
    int q0 = q;
    while (q0 > 0 && ma[q0 - 1] == 0.0) q0--;
    if (q0 == 0) return;
    double c[TSL_ARIMA_MAX_Q + 1];
    c[0] = 1.0;
    for (int i = 0; i < q0; i++) c[i + 1] = ma[i];
    double complex z[TSL_ARIMA_MAX_Q];
    if (q0 == 1) {
        if (fabs(ma[0]) > 1.0) ma[0] = 1.0 / ma[0];
        return;
    }
    poly_roots(c, q0, z);
    int any = 0;
    for (int i = 0; i < q0; i++)
        if (cabs(z[i]) < 1.0) z[i] = 1.0 / z[i], any = 1;
    if (!any) return;
    /* prod (1 - z / root_i) */
    double complex poly[TSL_ARIMA_MAX_Q + 1] = {1.0};
    for (int i = 0; i < q0; i++)
        for (int j = i + 1; j >= 1; j--) poly[j] -= poly[j - 1] / z[i];
    for (int i = 0; i < q0; i++) ma[i] = creal(poly[i + 1]);
}

/* ---- stationary covariances ---- */

/* Scratch for the covariance computations, sized for one shape. */
typedef struct cov_work {
    double *tri; /* pf * pf intermediate AR polynomials */
    double *g;   /* AR autocovariances, r + qf + 1 */
    double *gam; /* ARMA autocovariances, r + 1 */
    double *psi; /* psi weights, r + 1 */
    double kappa[MAX_PF];
} cov_work;

/* Allocates the covariance scratch for shape s; cov_work_release frees it. */
static void cov_work_init(cov_work *w, const shape *s) {
    w->tri = tsl_malloc(((size_t)s->pf * (size_t)s->pf + 1) * sizeof *w->tri);
    w->g = tsl_malloc((size_t)(s->r + s->qf + 2) * sizeof *w->g);
    w->gam = tsl_malloc((size_t)(s->r + 2) * sizeof *w->gam);
    w->psi = tsl_malloc((size_t)(s->r + 2) * sizeof *w->psi);
}

/* Frees what cov_work_init allocated. */
static void cov_work_release(cov_work *w) {
    tsl_free(w->tri);
    tsl_free(w->g);
    tsl_free(w->gam);
    tsl_free(w->psi);
}

/*
 * The first column c[0..r) of the stationary covariance of the ARMA state, c_j =
 * cov(alpha_j, w_t), for unit innovation variance, and in *gamma0 the variance of w_t (which
 * equals c[0]). Returns 0 when the AR part is not stationary.
 *
 * With x the AR process phi(B) x = e, its autocovariances g come from the step-down's partial
 * autocorrelations (g(0) = 1 / prod(1 - kappa_j^2), then the Levinson recursion upward), the
 * ARMA autocovariances are gamma(l) = sum_{i,j} R_i R_j g(l + j - i) over the non-zero MA
 * lags, and with alpha_j = sum_{l >= 1} phi_{j+l} w_{t-l} + sum_{l >= 0} R_{j+l} e_{t-l}:
 *     c_j = sum_l phi_{j+l} gamma(l) + sum_l R_{j+l} psi_l.
 */
static int state_cov_column(const shape *s, const double *phi, const double *R, cov_work *w,
                            double *c) {
    int pf = s->pf, r = s->r, L = r + s->qf;
    double *g = w->g;
    /* AR autocovariances g[0..L] */
    if (pf > 0) {
        if (!step_down(phi, pf, w->kappa, w->tri)) return 0;
        double nu = 1.0;
        for (int j = 0; j < pf; j++) nu /= 1.0 - w->kappa[j] * w->kappa[j];
        g[0] = nu;
        for (int k = 1; k <= pf && k <= L; k++) {
            const double *prev = w->tri + (size_t)(k - 2) * (size_t)pf; /* order k - 1 */
            double acc = w->kappa[k - 1] * nu;
            for (int i = 1; i < k; i++) acc += prev[i - 1] * g[k - i];
            g[k] = acc;
            nu *= 1.0 - w->kappa[k - 1] * w->kappa[k - 1];
        }
        for (int l = pf + 1; l <= L; l++) {
            double acc = 0;
            for (int i = 0; i < s->nar; i++) acc += phi[s->arlag[i] - 1] * g[l - s->arlag[i]];
            g[l] = acc;
        }
    } else {
        g[0] = 1.0;
        for (int l = 1; l <= L; l++) g[l] = 0.0;
    }
    /* ARMA autocovariances gamma[0..r], psi weights psi[0..r] */
    int nl = s->nma + 1;
    int lags[MAX_LAGS + 1];
    lags[0] = 0;
    memcpy(lags + 1, s->malag, (size_t)s->nma * sizeof *lags);
    for (int l = 0; l <= r; l++) {
        double acc = 0;
        for (int i = 0; i < nl; i++)
            for (int j = 0; j < nl; j++) {
                int lag = l + lags[j] - lags[i];
                acc += R[lags[i]] * R[lags[j]] * g[lag < 0 ? -lag : lag];
            }
        w->gam[l] = acc;
    }
    w->psi[0] = 1.0;
    for (int j = 1; j <= r; j++) {
        double acc = j < r ? R[j] : 0.0;
        for (int i = 0; i < s->nar && s->arlag[i] <= j; i++)
            acc += phi[s->arlag[i] - 1] * w->psi[j - s->arlag[i]];
        w->psi[j] = acc;
    }
    for (int j = 0; j < r; j++) {
        double acc = 0;
        for (int i = 0; i < s->nar; i++)
            if (s->arlag[i] >= j + 1) acc += phi[s->arlag[i] - 1] * w->gam[s->arlag[i] - j];
        for (int i = 0; i < nl; i++)
            if (lags[i] >= j) acc += R[lags[i]] * w->psi[lags[i] - j];
        c[j] = acc;
    }
    return isfinite(c[0]) && c[0] > 0;
}

/* The full stationary covariance P0[r * r] (row-major) from its first column c, by the
 * Lyapunov equation P0 = T P0 T' + R R' solved from the bottom-right corner up:
 *     P0[i][j] = phi_{i+1} phi_{j+1} c_0 + phi_{i+1} c_{j+1} + phi_{j+1} c_{i+1}
 *                + P0[i+1][j+1] + R_i R_j. */
static void state_cov_full(int r, const double *phi, const double *R, const double *c, double *P0,
                           int ld) {
    for (int i = r - 1; i >= 0; i--)
        for (int j = r - 1; j >= i; j--) {
            double ci1 = i + 1 < r ? c[i + 1] : 0.0, cj1 = j + 1 < r ? c[j + 1] : 0.0;
            double v = phi[i] * phi[j] * c[0] + phi[i] * cj1 + phi[j] * ci1 + R[i] * R[j];
            if (i + 1 < r && j + 1 < r) v += P0[(size_t)(i + 1) * (size_t)ld + (size_t)(j + 1)];
            P0[(size_t)i * (size_t)ld + (size_t)j] = P0[(size_t)j * (size_t)ld + (size_t)i] = v;
        }
}

/* ---- the likelihood of a differenced series without gaps (Chandrasekhar recursions) ---- */

/* Sums of the innovations: data (v) and constant regressor (b) over their variances F. */
typedef struct lik_sums {
    double vv, vb, bb; /* sum v^2 / F, sum v b / F, sum b^2 / F */
    double sumlog;     /* sum log F */
    size_t nu;         /* innovations counted */
} lik_sums;

/* Scratch of the fast filter, sized for one shape and series length. The states slide along
 * buffers of N + r values, so that the shift of the companion transition costs nothing. */
typedef struct fast_work {
    double *c, *kf, *w, *tw; /* r each */
    double *abuf, *bbuf;     /* N + r + 1 each */
} fast_work;

/* Allocates the fast filter's scratch for state dimension r and N observations (one block). */
static void fast_work_init(fast_work *f, int r, size_t N) {
    size_t rr = (size_t)r + 1;
    double *blk = tsl_malloc((4 * rr + 2 * (N + rr)) * sizeof *blk);
    f->c = blk;
    f->kf = blk + rr;
    f->w = blk + 2 * rr;
    f->tw = blk + 3 * rr;
    f->abuf = blk + 4 * rr;
    f->bbuf = f->abuf + N + rr;
}

/* Frees what fast_work_init allocated. */
static void fast_work_release(fast_work *f) {
    tsl_free(f->c);
}

/*
 * Runs the Kalman filter of the stationary ARMA (phi, R; first column of the stationary state
 * covariance in fw->c) over w[0..N), and the constant 1 through the same gains when `reg`,
 * accumulating lik_sums. Prediction form: a_{t+1} = T a_t + K_t v_t with K_t = KF_t / F_t.
 * Chandrasekhar recursions with P_{t+1} - P_t = M_t W_t W_t' (W an r-vector, M a scalar):
 *     F_{t+1} = F_t + M_t (Z W_t)^2,           KF_{t+1} = KF_t + M_t (Z W_t) T W_t,
 *     W_{t+1} = T W_t - K_t (Z W_t),           M_{t+1} = M_t F_t / F_{t+1},
 * from KF_1 = T P_1 Z', W_1 = KF_1, M_1 = -1 / F_1 (P_1 the stationary covariance). When
 * |M| |W|^2 has fallen below 1e-14 F the gain stops changing and is frozen; once it is the
 * steady-state gain of an invertible model, T R with F = 1 (the state is then known but for
 * the coming innovation), the update a_{t+1} = T (a_t + R v_t) touches only the non-zero lags.
 * Returns 0 when a prediction variance is not positive (numerically singular model).
 */
static int fast_filter(const shape *s, const double *phi, const double *R, fast_work *fw,
                       const double *w, size_t N, int reg, lik_sums *out) {
    int r = s->r;
    double *kf = fw->kf, *W = fw->w, *tw = fw->tw;
    double *a = fw->abuf, *b = fw->bbuf;
    const double *c = fw->c;
    memset(a, 0, (N + (size_t)r + 1) * sizeof *a);
    if (reg) memset(b, 0, (N + (size_t)r + 1) * sizeof *b);
    double F = c[0];
    for (int i = 0; i < r; i++) {
        kf[i] = phi[i] * c[0] + (i + 1 < r ? c[i + 1] : 0.0);
        W[i] = kf[i];
    }
    double M = -1.0 / F;
    int phase = 0; /* 0: Chandrasekhar, 1: frozen gain, 2: steady state T R */
    lik_sums sm = {0};
    for (size_t t = 0; t < N; t++, a++, b++) {
        double v = w[t] - a[0], vb = 1.0 - b[0];
        if (phase == 2) {
            sm.vv += v * v;
            sm.vb += v * vb;
            sm.bb += vb * vb;
            /* a_{t+1}[i] = a_t[i+1] + phi_{i+1} (a_t[0] + v) + R_{i+1} v, a_t[0] + v = w_t */
            for (int i = 0; i < s->nar; i++) a[s->arlag[i]] += phi[s->arlag[i] - 1] * w[t];
            for (int i = 0; i < s->nma; i++) a[s->malag[i]] += R[s->malag[i]] * v;
            if (reg) {
                for (int i = 0; i < s->nar; i++) b[s->arlag[i]] += phi[s->arlag[i] - 1];
                for (int i = 0; i < s->nma; i++) b[s->malag[i]] += R[s->malag[i]] * vb;
            }
            continue;
        }
        if (!(F > 0)) return 0;
        double inv = 1.0 / F;
        sm.vv += v * v * inv;
        sm.vb += v * vb * inv;
        sm.bb += vb * vb * inv;
        sm.sumlog += log(F);
        double a0 = a[0], gv = v * inv;
        for (int i = 0; i < r; i++) a[i + 1] += kf[i] * gv;
        for (int i = 0; i < s->nar; i++) a[s->arlag[i]] += phi[s->arlag[i] - 1] * a0;
        if (reg) {
            double b0 = b[0], gb = vb * inv;
            for (int i = 0; i < r; i++) b[i + 1] += kf[i] * gb;
            for (int i = 0; i < s->nar; i++) b[s->arlag[i]] += phi[s->arlag[i] - 1] * b0;
        }
        if (phase == 1) continue;
        double zw = W[0], norm = 0;
        for (int i = 0; i < r - 1; i++) tw[i] = W[i + 1];
        tw[r - 1] = 0.0;
        for (int i = 0; i < s->nar; i++) tw[s->arlag[i] - 1] += phi[s->arlag[i] - 1] * zw;
        double Fn = F + M * zw * zw, mzw = M * zw, kz = zw * inv;
        for (int i = 0; i < r; i++) {
            W[i] = tw[i] - kf[i] * kz;
            kf[i] += tw[i] * mzw;
            norm += W[i] * W[i];
        }
        M *= F / Fn;
        F = Fn;
        if (fabs(M) * norm < 1e-14 * F) {
            phase = 1;
            /* the steady state of an invertible model: F = 1, KF = T R */
            double dev = fabs(F - 1.0);
            for (int i = 0; i < r; i++)
                dev = fmax(dev, fabs(kf[i] - phi[i] - (i + 1 < r ? R[i + 1] : 0)));
            if (dev < 1e-10) phase = 2;
        }
    }
    sm.nu = N;
    *out = sm;
    return 1;
}

/* R's objective 0.5 (log(ssq / nu) + sumlog / nu) from the sums, with the constant
 * concentrated out when `reg` (its GLS estimate in *mu). */
static double lik_value(const lik_sums *sm, int reg, double *mu) {
    double ssq = sm->vv, est = 0;
    if (reg && sm->bb > 0) {
        est = sm->vb / sm->bb;
        ssq = sm->vv - sm->vb * est;
    }
    if (mu) *mu = est;
    double nu = (double)sm->nu;
    ssq = fmax(ssq, nu * 1e-300);
    return 0.5 * (log(ssq / nu) + sm->sumlog / nu);
}

/* ---- the state-space filter of the whole model (gaps, final state, updates) ---- */

/* Scratch of the full filter for rd states. */
typedef struct full_work {
    int rd;
    double *pn, *mm, *an, *bn, *M; /* rd * rd, rd * rd, rd, rd, rd */
} full_work;

/* Allocates the full filter's scratch for rd states (one block). */
static void full_work_init(full_work *f, int rd) {
    f->rd = rd;
    size_t q = (size_t)rd * (size_t)rd;
    f->pn = tsl_malloc((2 * q + 3 * (size_t)rd) * sizeof *f->pn);
    f->mm = f->pn + q;
    f->an = f->mm + q;
    f->bn = f->an + rd;
    f->M = f->bn + rd;
}

/* Frees what full_work_init allocated. */
static void full_work_release(full_work *f) {
    tsl_free(f->pn);
}

/* a_new = T a for the full state (ARMA part r, differencing part dd). */
static void full_predict_state(const shape *s, const double *phi, const double *a, double *an) {
    int r = s->r, dd = s->dd;
    for (int i = 0; i < r - 1; i++) an[i] = a[i + 1];
    an[r - 1] = 0.0;
    for (int i = 0; i < s->nar; i++) an[s->arlag[i] - 1] += phi[s->arlag[i] - 1] * a[0];
    if (dd > 0) {
        double z = a[0];
        for (int i = 0; i < dd; i++) z += s->delta[i] * a[r + i];
        for (int i = dd - 1; i > 0; i--) an[r + i] = a[r + i - 1];
        an[r] = z;
    }
}

/* pn = T P T' + R R' for the full state (R's ARIMA_Like, using T's structure). */
static void full_predict_cov(const shape *s, const double *phi, const double *R, const double *P,
                             full_work *fw) {
    int r = s->r, dd = s->dd, rd = r + dd;
    size_t ld = (size_t)rd;
    double *mm = fw->mm, *pn = fw->pn;
    /* mm = T P */
    for (int i = 0; i < r; i++) {
        double *row = mm + (size_t)i * ld;
        if (i + 1 < r)
            memcpy(row, P + (size_t)(i + 1) * ld, ld * sizeof *row);
        else
            memset(row, 0, ld * sizeof *row);
        if (phi[i] != 0.0)
            for (size_t j = 0; j < ld; j++) row[j] += phi[i] * P[j];
    }
    if (dd > 0) {
        double *row = mm + (size_t)r * ld;
        memcpy(row, P, ld * sizeof *row);
        for (int k = 0; k < dd; k++) {
            const double *pk = P + (size_t)(r + k) * ld;
            double dk = s->delta[k];
            if (dk != 0.0)
                for (size_t j = 0; j < ld; j++) row[j] += dk * pk[j];
        }
        for (int i = 1; i < dd; i++)
            memcpy(mm + (size_t)(r + i) * ld, P + (size_t)(r + i - 1) * ld, ld * sizeof *row);
    }
    /* pn = mm T' (the same structure on columns) + R R': pn is symmetric, so the upper
     * triangle is computed and mirrored */
    for (size_t i = 0; i < ld; i++) {
        const double *src = mm + i * ld;
        double *dst = pn + i * ld;
        double m0 = src[0];
        for (size_t j = i; j + 1 < (size_t)r; j++) dst[j] = src[j + 1] + phi[j] * m0;
        if (i < (size_t)r) dst[r - 1] = phi[r - 1] * m0;
        if (dd > 0) {
            if (i <= (size_t)r) {
                double z = m0;
                for (int k = 0; k < dd; k++) z += s->delta[k] * src[r + k];
                dst[r] = z;
            }
            for (size_t j = i > (size_t)r + 1 ? i : (size_t)r + 1; j < ld; j++) dst[j] = src[j - 1];
        }
    }
    for (int i = 0; i < r; i++)
        if (R[i] != 0.0)
            for (int j = i; j < r; j++) pn[(size_t)i * ld + (size_t)j] += R[i] * R[j];
    for (size_t i = 1; i < ld; i++)
        for (size_t j = 0; j < i; j++) pn[i * ld + j] = pn[j * ld + i];
}

/*
 * The Kalman filter of the full model over y[0..n) (NaN = missing), as R's ARIMA_Like: from
 * the filtered state a (and b for the regressor x when x is not NULL) and covariance P of the
 * previous step, or, when pn0 is not NULL, with pn0 as the prediction covariance of the first
 * observation (R's Pn: used for the initial diffuse/stationary prior). Observations whose
 * prediction variance is DIFFUSE_GAIN or more do not count in the sums (R's rule). On return
 * a, b and P hold the filtered state after the last observation. pred[n] (may be NULL) receives
 * the one-step predictions of y.
 *
 * Steady mode: while no value is missing, once every diagonal entry of the filtered covariance
 * is below STEADY_TOL the covariance is set to zero and stays there (its prediction is R R',
 * whose gain is R itself): each step then costs O(rd) instead of O(rd^2). A missing value
 * leaves steady mode.
 */
static void full_filter(const shape *s, const double *phi, const double *R, const double *y,
                        const double *x, size_t n, double *a, double *b, double *P,
                        const double *pn0, full_work *fw, lik_sums *out, double *pred) {
    int r = s->r, dd = s->dd, rd = r + dd;
    size_t ld = (size_t)rd, q = ld * ld;
    double *an = fw->an, *bn = fw->bn, *M = fw->M, *pn = fw->pn;
    lik_sums sm = {0};
    int steady = 0;
    for (size_t t = 0; t < n; t++) {
        full_predict_state(s, phi, a, an);
        if (x) full_predict_state(s, phi, b, bn);
        if (!steady) {
            if (t == 0 && pn0)
                memcpy(pn, pn0, q * sizeof *pn);
            else
                full_predict_cov(s, phi, R, P, fw);
        }
        double fc = an[0];
        for (int k = 0; k < dd; k++) fc += s->delta[k] * an[r + k];
        if (pred) pred[t] = fc;
        if (isnan(y[t])) {
            memcpy(a, an, ld * sizeof *a);
            if (x) memcpy(b, bn, ld * sizeof *b);
            if (steady) {
                /* P was zero: its prediction is R R' */
                memset(P, 0, q * sizeof *P);
                for (int i = 0; i < r; i++)
                    for (int j = 0; j < r; j++) P[(size_t)i * ld + (size_t)j] = R[i] * R[j];
                steady = 0;
            } else {
                memcpy(P, pn, q * sizeof *P);
            }
            continue;
        }
        double v = y[t] - fc, vb = 0;
        if (x) {
            double fb = bn[0];
            for (int k = 0; k < dd; k++) fb += s->delta[k] * bn[r + k];
            vb = x[t] - fb;
        }
        double gain;
        if (steady) {
            /* M = R R' Z' = R (the differencing block of R R' is zero), gain = 1 */
            gain = 1.0;
            for (int i = 0; i < r; i++) M[i] = R[i];
            for (int i = r; i < rd; i++) M[i] = 0.0;
        } else {
            for (int i = 0; i < rd; i++) {
                const double *row = pn + (size_t)i * ld;
                double acc = row[0];
                for (int k = 0; k < dd; k++) acc += row[r + k] * s->delta[k];
                M[i] = acc;
            }
            gain = M[0];
            for (int k = 0; k < dd; k++) gain += s->delta[k] * M[r + k];
        }
        if (gain < DIFFUSE_GAIN) {
            sm.nu++;
            sm.vv += v * v / gain;
            sm.vb += v * vb / gain;
            sm.bb += vb * vb / gain;
            sm.sumlog += log(gain);
        }
        double gv = v / gain, gb = vb / gain;
        for (int i = 0; i < rd; i++) a[i] = an[i] + M[i] * gv;
        if (x)
            for (int i = 0; i < rd; i++) b[i] = bn[i] + M[i] * gb;
        if (steady) continue;
        double maxdiag = 0;
        for (int i = 0; i < rd; i++) {
            double mi = M[i] / gain;
            const double *src = pn + (size_t)i * ld;
            double *dst = P + (size_t)i * ld;
            for (int j = i; j < rd; j++)
                dst[j] = P[(size_t)j * ld + (size_t)i] = src[j] - mi * M[j];
            maxdiag = fmax(maxdiag, fabs(dst[i]));
        }
        if (maxdiag < STEADY_TOL) {
            memset(P, 0, q * sizeof *P);
            steady = 1;
        }
    }
    /* rounding leaves the covariance a hair off symmetric, its diagonal a hair below zero */
    for (size_t i = 0; i < ld; i++) {
        P[i * ld + i] = fmax(P[i * ld + i], 0.0);
        for (size_t j = i + 1; j < ld; j++)
            P[i * ld + j] = P[j * ld + i] = 0.5 * (P[i * ld + j] + P[j * ld + i]);
    }
    if (out) *out = sm;
}

/* The initial prediction covariance of R's makeARIMA: the stationary ARMA covariance, kappa on
 * the differencing states. Returns 0 when the ARMA part is not stationary. */
static int initial_cov(const shape *s, const double *phi, const double *R, cov_work *cw, double *c,
                       double *pn) {
    int r = s->r, rd = r + s->dd;
    size_t ld = (size_t)rd;
    memset(pn, 0, ld * ld * sizeof *pn);
    if (!state_cov_column(s, phi, R, cw, c)) return 0;
    state_cov_full(r, phi, R, c, pn, rd);
    for (int i = r; i < rd; i++) pn[(size_t)i * ld + (size_t)i] = KAPPA;
    return 1;
}

/* ---- conditional sum of squares ---- */

/*
 * R's CSS residuals of u = w - muw over w[0..N) (NaN = missing) from ncond = pf on:
 * e_t = u_t - sum phi_i u_{t-i} - sum theta_j e_{t-j}, with e_t = 0 before ncond. A residual
 * whose inputs include a missing value is 0 and not counted. Returns the residual sum of
 * squares; *nu receives the count. The constant is an explicit value here, never concentrated
 * out: with a non-invertible MA part the residuals of the data and of the constant explode
 * together, and projecting one on the other would cancel the explosion into a spurious optimum.
 */
static double css_ssq(const shape *s, const double *phi, const double *R, const double *w, size_t N,
                      double muw, double *e, size_t *nu) {
    size_t ncond = (size_t)s->pf, cnt = 0;
    double ssq = 0;
    for (size_t t = 0; t < N && t < ncond; t++) e[t] = 0.0;
    for (size_t t = ncond; t < N; t++) {
        double v = w[t] - muw;
        for (int i = 0; i < s->nar; i++)
            v -= phi[s->arlag[i] - 1] * (w[t - (size_t)s->arlag[i]] - muw);
        for (int j = 0; j < s->nma; j++) {
            size_t l = (size_t)s->malag[j];
            if (l > t || t - l < ncond) continue;
            v -= R[l] * e[t - l];
        }
        if (isnan(v)) {
            e[t] = 0.0;
            continue;
        }
        e[t] = v;
        ssq += v * v;
        cnt++;
    }
    *nu = cnt;
    return ssq;
}

/* The CSS objective 0.5 log(ssq / nu), PENALTY where undefined. */
static double css_objective(double ssq, size_t nu) {
    if (nu == 0 || !isfinite(ssq)) return PENALTY;
    return 0.5 * log(fmax(ssq, 1e-300) / (double)nu);
}

/* ---- the data of a fit ---- */

/* One series prepared for fitting orders with the same differences: shared by every candidate
 * of a search. */
typedef struct series_data {
    const double *y;
    size_t n;    /* y[0] observed */
    int missing; /* some value is NaN */
    size_t nobs; /* observed values */
    int d, D, m;
    shape diff; /* only the differencing fields are used */
    double *w;  /* w[0..N) = (1 - B)^d (1 - B^m)^D y, NaN where an input is missing */
    size_t N;
    double *xreg; /* n: the constant's regressor on y's scale: 1 (a mean) or t = 1..n (drift) */
    double kfac;  /* a drift of mu per step adds kfac * mu to w: 1 for d = 1, m for D = 1 */
    double wss;   /* sum of squares of w about its mean: the scale of a perfect fit */
} series_data;

/* Frees what series_data_init allocated and zeroes sd (y is the caller's). */
static void series_data_release(series_data *sd) {
    tsl_free(sd->w);
    tsl_free(sd->xreg);
    memset(sd, 0, sizeof *sd);
}

/* Prepares y[0..n) for differences d, D at period m (n > d + mD). */
static void series_data_init(series_data *sd, const double *y, size_t n, int d, int D, int m) {
    memset(sd, 0, sizeof *sd);
    sd->y = y;
    sd->n = n;
    sd->d = d;
    sd->D = m > 1 ? D : 0;
    sd->m = m;
    tsl_arima_order o = {0, d, 0, 0, sd->D, 0, m};
    shape_init(&sd->diff, &o);
    for (size_t i = 0; i < n; i++) {
        if (isnan(y[i]))
            sd->missing = 1;
        else
            sd->nobs++;
    }
    size_t dd = (size_t)sd->diff.dd;
    assert(n > dd);
    double *tmp = tsl_malloc(n * sizeof *tmp);
    memcpy(tmp, y, n * sizeof *tmp);
    size_t start = 0;
    for (int i = 0; i < d + sd->D; i++) {
        size_t lag = i < d ? 1 : (size_t)m;
        for (size_t t = n - 1; t >= start + lag; t--) tmp[t] -= tmp[t - lag];
        start += lag;
    }
    sd->N = n - dd;
    sd->w = tsl_malloc((sd->N + 1) * sizeof *sd->w);
    memcpy(sd->w, tmp + dd, sd->N * sizeof *sd->w);
    tsl_free(tmp);
    sd->xreg = tsl_malloc(n * sizeof *sd->xreg);
    for (size_t t = 0; t < n; t++) sd->xreg[t] = dd == 0 ? 1.0 : (double)(t + 1);
    sd->kfac = sd->D > 0 ? (double)m : 1.0;
    double sum = 0;
    size_t cnt = 0;
    for (size_t t = 0; t < sd->N; t++)
        if (!isnan(sd->w[t])) sum += sd->w[t], cnt++;
    double mean = cnt ? sum / (double)cnt : 0.0;
    for (size_t t = 0; t < sd->N; t++)
        if (!isnan(sd->w[t])) sd->wss += (sd->w[t] - mean) * (sd->w[t] - mean);
}

/* R's is.constant(): all.equal(x, rep(x[1])) at tolerance 1.5e-8 (mean absolute difference
 * relative to the mean absolute value); a missing value makes a series not constant. */
static int is_constant(const double *x, size_t n) {
    double diff = 0, mag = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(x[i])) return 0;
        diff += fabs(x[i] - x[0]);
        mag += fabs(x[i]);
    }
    if (n == 0) return 1;
    diff /= (double)n;
    mag /= (double)n;
    if (mag > 1.5e-8) diff /= mag;
    return diff <= 1.5e-8;
}

/* ---- estimating one order ---- */

typedef struct fit_ctx {
    const series_data *sd;
    shape s;
    int reg;             /* the model has a constant */
    int css;             /* the objective is the conditional sum of squares (constant explicit) */
    int trans;           /* ML: AR and MA blocks enter as partial autocorrelations */
    int nx;              /* the optimiser's variables: k, plus the constant under CSS */
    double mu0, muscale; /* CSS: w's constant = mu0 + muscale * x[k] (R's start and parscale) */
    double *phi, *R;
    cov_work cw;
    fast_work fw;
    full_work fu;
    double *a, *b, *P, *pn; /* gaps: the full state */
    double *e;              /* CSS residuals */
    double *der;            /* CSS residual derivatives, (k + 1) x N (css_gradient) */
    size_t nder;
    double mu;     /* the last evaluation's constant, on y's scale */
    lik_sums sums; /* the last ML evaluation's sums */
    double ssq;    /* the last CSS evaluation's residual sum of squares, and its count */
    size_t nu;
    long evals;
} fit_ctx;

/* Prepares a context for fitting order o (with the constant when reg) on sd: the shape, all
 * scratch, and R's start and scale of the CSS constant. fit_ctx_release frees it. */
static void fit_ctx_init(fit_ctx *c, const series_data *sd, const tsl_arima_order *o, int reg) {
    memset(c, 0, sizeof *c);
    c->sd = sd;
    shape_init(&c->s, o);
    c->reg = reg;
    c->nx = c->s.k;
    int r = c->s.r, rd = r + c->s.dd;
    c->phi = tsl_malloc(2 * (size_t)(r + 1) * sizeof *c->phi);
    c->R = c->phi + r + 1;
    cov_work_init(&c->cw, &c->s);
    fast_work_init(&c->fw, r, sd->N);
    c->e = tsl_malloc((sd->N + 1) * sizeof *c->e);
    if (sd->missing) { /* only the gaps' likelihood filters the full state */
        full_work_init(&c->fu, rd);
        size_t q = (size_t)rd * (size_t)rd;
        c->a = tsl_malloc((2 * q + 2 * (size_t)rd) * sizeof *c->a);
        c->b = c->a + rd;
        c->P = c->b + rd;
        c->pn = c->P + q;
    }
    /* R starts the constant at its least-squares value on the differenced series, and scales
     * it by ten of its standard errors */
    double sum = 0, sq = 0;
    size_t cnt = 0;
    for (size_t t = 0; t < sd->N; t++)
        if (!isnan(sd->w[t])) sum += sd->w[t], sq += sd->w[t] * sd->w[t], cnt++;
    c->mu0 = cnt ? sum / (double)cnt : 0.0;
    double var = cnt > 1 ? (sq - sum * c->mu0) / (double)(cnt - 1) : 0.0;
    c->muscale = cnt && var > 0 ? 10.0 * sqrt(var / (double)cnt) : 1.0;
}

/* Frees what fit_ctx_init allocated. */
static void fit_ctx_release(fit_ctx *c) {
    tsl_free(c->phi);
    tsl_free(c->der);
    cov_work_release(&c->cw);
    fast_work_release(&c->fw);
    tsl_free(c->e);
    full_work_release(&c->fu);
    tsl_free(c->a);
}

/* The optimiser's variables to coefficients (R's order). Under trans every block is a set of
 * partial autocorrelations (tanh of the variables): AR blocks through pacf_to_ar, MA blocks as
 * the negated AR polynomial of theirs, so that every point is stationary and invertible. */
static void decode(const shape *s, const double *x, int trans, double *coef) {
    const tsl_arima_order *o = &s->o;
    memcpy(coef, x, (size_t)s->k * sizeof *coef);
    if (!trans) return;
    const int len[4] = {o->p, o->q, o->P, o->Q};
    int off = 0;
    for (int b = 0; b < 4; b++) {
        pacf_to_ar(x + off, len[b], coef + off);
        if (b % 2)
            for (int i = 0; i < len[b]; i++) coef[off + i] = -coef[off + i];
        off += len[b];
    }
}

/* The inverse of decode under trans: MA blocks are inverted first (roots reflected into the
 * invertible region) and pulled inside by a hair when a root sits on the unit circle. Returns 0
 * when an AR block is not stationary. coef is updated with the inverted MA blocks. */
static int encode(const shape *s, double *coef, double *x) {
    const tsl_arima_order *o = &s->o;
    const int len[4] = {o->p, o->q, o->P, o->Q};
    int off = 0;
    for (int b = 0; b < 4; b++) {
        double *blk = coef + off;
        if (b % 2 == 0) {
            if (!ar_to_pacf(blk, len[b], x + off)) return 0;
        } else {
            double neg[TSL_ARIMA_MAX_Q];
            ma_invert(blk, len[b]);
            for (int tries = 0;; tries++) {
                for (int i = 0; i < len[b]; i++) neg[i] = -blk[i];
                if (ar_to_pacf(neg, len[b], x + off)) break;
                if (tries == 50) {
                    memset(x + off, 0, (size_t)len[b] * sizeof *x);
                    break;
                }
                double f = 1.0;
                for (int i = 0; i < len[b]; i++) blk[i] *= (f *= 0.999);
            }
        }
        off += len[b];
    }
    return 1;
}

/* The exact log-likelihood objective at coefficients coef (fast filter without gaps, the full
 * filter with them), the constant concentrated out. PENALTY where undefined. */
static double objective_at(fit_ctx *c, const double *coef) {
    const series_data *sd = c->sd;
    expand(&c->s, coef, c->phi, c->R);
    c->evals++;
    double v, mu = 0;
    if (!sd->missing) {
        if (!state_cov_column(&c->s, c->phi, c->R, &c->cw, c->fw.c)) return PENALTY;
        if (!fast_filter(&c->s, c->phi, c->R, &c->fw, sd->w, sd->N, c->reg, &c->sums))
            return PENALTY;
        v = lik_value(&c->sums, c->reg, &mu);
        c->mu = mu / sd->kfac;
    } else {
        int rd = c->s.r + c->s.dd;
        if (!initial_cov(&c->s, c->phi, c->R, &c->cw, c->fw.c, c->pn)) return PENALTY;
        memset(c->a, 0, 2 * (size_t)rd * sizeof *c->a);
        full_filter(&c->s, c->phi, c->R, sd->y, c->reg ? sd->xreg : NULL, sd->n, c->a, c->b, c->P,
                    c->pn, &c->fu, &c->sums, NULL);
        if (c->sums.nu == 0) return PENALTY;
        v = lik_value(&c->sums, c->reg, &mu);
        c->mu = mu;
    }
    return isfinite(v) ? v : PENALTY;
}

/* The CSS objective at coefficients coef and w's constant muw. */
static double css_at(fit_ctx *c, const double *coef, double muw) {
    expand(&c->s, coef, c->phi, c->R);
    c->evals++;
    c->ssq = css_ssq(&c->s, c->phi, c->R, c->sd->w, c->sd->N, muw, c->e, &c->nu);
    c->mu = muw / c->sd->kfac;
    return css_objective(c->ssq, c->nu);
}

/* w's constant under CSS from the optimiser's variables. */
static double css_mu(const fit_ctx *c, const double *x) {
    return c->reg ? c->mu0 + c->muscale * x[c->s.k] : 0.0;
}

/* The context's objective (CSS or likelihood) at the optimiser's variables x. */
static double objective(const double *x, void *p) {
    fit_ctx *c = p;
    double coef[TSL_ARIMA_NCOEF];
    decode(&c->s, x, c->trans, coef);
    return c->css ? css_at(c, coef, css_mu(c, x)) : objective_at(c, coef);
}

/* The derivatives of the expanded AR polynomial (dphi) and MA loading (dR) with respect to one
 * coefficient: a few (lag, value) pairs, from the products in expand(). */
typedef struct dpoly {
    int nphi, nR;
    int phil[TSL_ARIMA_MAX_SP + TSL_ARIMA_MAX_P + 1], Rl[TSL_ARIMA_MAX_SQ + TSL_ARIMA_MAX_Q + 1];
    double phiv[TSL_ARIMA_MAX_SP + TSL_ARIMA_MAX_P + 1], Rv[TSL_ARIMA_MAX_SQ + TSL_ARIMA_MAX_Q + 1];
} dpoly;

/* Fills dp with the derivatives with respect to coefficient b (R's order) at coef. */
static void dpoly_of(const shape *s, const double *coef, int b, dpoly *dp) {
    const tsl_arima_order *o = &s->o;
    const double *ar = coef, *ma = ar + o->p, *sar = ma + o->q, *sma = sar + o->P;
    int m = o->m;
    dp->nphi = dp->nR = 0;
    if (b < o->p) { /* ar_{b+1} */
        dp->phil[dp->nphi] = b + 1, dp->phiv[dp->nphi++] = 1.0;
        for (int j = 0; j < o->P; j++)
            dp->phil[dp->nphi] = b + 1 + (j + 1) * m, dp->phiv[dp->nphi++] = -sar[j];
    } else if ((b -= o->p) < o->q) { /* ma_{b+1} */
        dp->Rl[dp->nR] = b + 1, dp->Rv[dp->nR++] = 1.0;
        for (int j = 0; j < o->Q; j++)
            dp->Rl[dp->nR] = b + 1 + (j + 1) * m, dp->Rv[dp->nR++] = sma[j];
    } else if ((b -= o->q) < o->P) { /* sar_{b+1} */
        dp->phil[dp->nphi] = (b + 1) * m, dp->phiv[dp->nphi++] = 1.0;
        for (int i = 0; i < o->p; i++)
            dp->phil[dp->nphi] = i + 1 + (b + 1) * m, dp->phiv[dp->nphi++] = -ar[i];
    } else { /* sma_{b+1} */
        b -= o->P;
        dp->Rl[dp->nR] = (b + 1) * m, dp->Rv[dp->nR++] = 1.0;
        for (int i = 0; i < o->q; i++)
            dp->Rl[dp->nR] = i + 1 + (b + 1) * m, dp->Rv[dp->nR++] = ma[i];
    }
}

/*
 * The CSS objective at the optimiser's point x (coefficients, then the scaled constant when the
 * model has one) and its exact gradient, by forward-mode differentiation of the residual
 * recursion with u = w - muw:
 *     de_t/db = -sum_l (dphi_l/db) u_{t-l} - sum_l (dR_l/db) e_{t-l} - sum_l R_l de_{t-l}/db,
 *     de_t/dmuw = -(1 - sum_l phi_l) - sum_l R_l de_{t-l}/dmuw,
 * and d(0.5 log(S / nu))/db = sum_t e_t de_t/db / S. Costs about k + 2 objective evaluations.
 */
static double css_gradient(fit_ctx *c, const double *x, double *grad) {
    const shape *s = &c->s;
    const series_data *sd = c->sd;
    int k = s->k, nx = c->nx;
    double coef[TSL_ARIMA_NCOEF];
    memcpy(coef, x, (size_t)k * sizeof *coef);
    double muw = css_mu(c, x);
    double v = css_at(c, coef, muw);
    for (int b = 0; b < nx; b++) grad[b] = 0.0;
    if (v >= PENALTY) return v;
    size_t N = sd->N, ncond = (size_t)s->pf;
    if (c->nder < (size_t)nx * (N + 1)) {
        tsl_free(c->der);
        c->nder = (size_t)nx * (N + 1);
        c->der = tsl_malloc(c->nder * sizeof *c->der);
    }
    dpoly dp[TSL_ARIMA_NCOEF];
    for (int b = 0; b < k; b++) dpoly_of(s, coef, b, &dp[b]);
    double one = 1.0;
    for (int i = 0; i < s->nar; i++) one -= c->phi[s->arlag[i] - 1];
    const double *e = c->e, *w = sd->w, *R = c->R;
    double *g = c->der, acc[TSL_ARIMA_NCOEF + 1] = {0};
    for (size_t t = 0; t < N && t < ncond; t++)
        for (int b = 0; b < nx; b++) g[(size_t)b * N + t] = 0.0;
    for (size_t t = ncond; t < N; t++) {
        if (e[t] == 0.0) { /* skipped (a gap) or exactly zero: no contribution either way */
            for (int b = 0; b < nx; b++) g[(size_t)b * N + t] = 0.0;
            continue;
        }
        for (int b = 0; b < nx; b++) {
            double *gb = g + (size_t)b * N;
            double dv = 0;
            if (b < k) {
                for (int i = 0; i < dp[b].nphi; i++)
                    dv -= dp[b].phiv[i] * (w[t - (size_t)dp[b].phil[i]] - muw);
                for (int i = 0; i < dp[b].nR; i++) {
                    size_t l = (size_t)dp[b].Rl[i];
                    if (l <= t && t - l >= ncond) dv -= dp[b].Rv[i] * e[t - l];
                }
            } else {
                dv = -one;
            }
            for (int j = 0; j < s->nma; j++) {
                size_t l = (size_t)s->malag[j];
                if (l <= t && t - l >= ncond) dv -= R[l] * gb[t - l];
            }
            gb[t] = dv;
            acc[b] += e[t] * dv;
        }
    }
    if (c->ssq > 0)
        for (int b = 0; b < nx; b++) grad[b] = acc[b] / c->ssq;
    if (nx > k) grad[k] *= c->muscale;
    return v;
}

/* ---- the optimiser ---- */

typedef struct opt_state {
    fit_ctx *c;
    double h; /* forward-difference step, relative to max(1, |x|) */
} opt_state;

/* NLopt's callback: the objective and, when asked, its gradient: exact for CSS, forward
 * differences for the likelihood (k + 1 evaluations; central ones cost twice that and changed
 * no choice on M1). */
static double opt_callback(unsigned k, const double *x, double *grad, void *data) {
    opt_state *o = data;
    if (grad && o->c->css) return css_gradient(o->c, x, grad);
    double fx = objective(x, o->c);
    if (grad) {
        double xx[TSL_ARIMA_NCOEF + 1];
        memcpy(xx, x, k * sizeof *xx);
        for (unsigned i = 0; i < k; i++) {
            double h = o->h * fmax(1.0, fabs(x[i]));
            xx[i] = x[i] + h;
            double f1 = objective(xx, o->c);
            xx[i] = x[i];
            grad[i] = (f1 - fx) / h;
            if (!isfinite(grad[i]) || f1 >= PENALTY || fx >= PENALTY) grad[i] = 0.0;
        }
    }
    return fx;
}

/* Bounds of the optimiser's variables: partial autocorrelations up to tanh(10) = 1 - 4e-9
 * under ML; raw coefficients (R's CSS is unconstrained) and the constant in units of R's
 * parscale under CSS. */
#define TRANS_BOUND 10.0
#define CSS_BOUND   50.0
#define MU_BOUND    1e6

/* Minimises the context's objective over its c->nx variables x from their value on entry;
 * returns the minimum (x holds its point). */
static double minimise(fit_ctx *c, double *x) {
    int k = c->nx;
    double best = objective(x, c);
    if (k == 0) return best;
    opt_state st = {c, 1e-7};
    nlopt_opt opt = nlopt_create(NLOPT_LD_LBFGS, (unsigned)k);
    double lb[TSL_ARIMA_NCOEF + 1], ub[TSL_ARIMA_NCOEF + 1], x0[TSL_ARIMA_NCOEF + 1];
    for (int i = 0; i < k; i++) {
        double bound = c->trans ? TRANS_BOUND : i < c->s.k ? CSS_BOUND : MU_BOUND;
        lb[i] = -bound;
        ub[i] = bound;
        x[i] = fmin(fmax(x[i], lb[i]), ub[i]);
    }
    memcpy(x0, x, (size_t)k * sizeof *x0);
    nlopt_set_lower_bounds(opt, lb);
    nlopt_set_upper_bounds(opt, ub);
    nlopt_set_min_objective(opt, opt_callback, &st);
    /* R's optim stops at a relative change of 1e-8 */
    nlopt_set_ftol_rel(opt, 1e-9);
    nlopt_set_xtol_rel(opt, 1e-9);
    nlopt_set_maxeval(opt, 200);
    double fmin = best;
    nlopt_result res = nlopt_optimize(opt, x, &fmin);
    nlopt_destroy(opt);
    /* A failure code (roundoff, say) still leaves the best point found in x. */
    if (res < 0) fmin = objective(x, c);
    if (!(fmin <= best)) {
        memcpy(x, x0, (size_t)k * sizeof *x);
        fmin = best;
    }
    return fmin;
}

/* ---- one order, end to end ---- */

/* 1 when an order is within the limits and the period fits it. */
static int order_ok(const tsl_arima_order *o) {
    if (o->p < 0 || o->p > TSL_ARIMA_MAX_P || o->q < 0 || o->q > TSL_ARIMA_MAX_Q || o->d < 0 ||
        o->d > TSL_ARIMA_MAX_D || o->m < 1 || o->m > TSL_ARIMA_MAX_PERIOD)
        return 0;
    if (o->m == 1) return o->P == 0 && o->D == 0 && o->Q == 0;
    return o->P >= 0 && o->P <= TSL_ARIMA_MAX_SP && o->Q >= 0 && o->Q <= TSL_ARIMA_MAX_SQ &&
           o->D >= 0 && o->D <= TSL_ARIMA_MAX_SD;
}

/* 1 when the AR polynomial of x's block is stationary. */
static int ar_block_ok(const double *ar, int k) {
    double kappa[TSL_ARIMA_MAX_P];
    return step_down(ar, k, kappa, NULL);
}

/* 1 when some AR or MA root of the fit (seasonal ones counted at their B^m lags) lies within
 * ROOT_MARGIN of the unit circle: auto.arima's minroot rule. */
static int roots_too_close(const tsl_arima_fit *f) {
    const tsl_arima_order *o = &f->ord;
    const double *ar = f->coef, *ma = ar + o->p, *sar = ma + o->q, *sma = sar + o->P;
    double neg[TSL_ARIMA_MAX_Q];
    double sr = pow(ROOT_MARGIN, o->m);
    if (!roots_outside(ar, o->p, ROOT_MARGIN) || !roots_outside(sar, o->P, sr)) return 1;
    for (int i = 0; i < o->q; i++) neg[i] = -ma[i];
    if (!roots_outside(neg, o->q, ROOT_MARGIN)) return 1;
    for (int i = 0; i < o->Q; i++) neg[i] = -sma[i];
    return !roots_outside(neg, o->Q, sr);
}

/*
 * Fills the fit statistics of f from the objective value at its coefficients, as stats::arima
 * and forecast::Arima() do: loglik from n.used, AIC with npar = k + constant + 1, AICc and BIC
 * with nstar = observed values - d - mD, sigma2 = ssq / (nstar - npar + 1). A fit that leaves
 * no residual variance (below 1e-20 of the differenced series') has NaN statistics and sigma2
 * 0: its likelihood is unbounded, and a search must not prefer it for that.
 */
static void fit_stats(tsl_arima_fit *f, const series_data *sd, const shape *s, double value,
                      double ssq) {
    double nused = (double)sd->nobs - (double)s->dd;
    double npar = (double)(s->k + f->constant + 1);
    double nstar = nused;
    f->nused = (size_t)nused;
    f->loglik = -0.5 * (2 * nused * value + nused + nused * log(2 * M_PI));
    f->aic = f->method == TSL_ARIMA_CSS ? NAN : -2 * f->loglik + 2 * npar;
    double den = nstar - npar - 1;
    f->aicc = den > 0 ? f->aic + 2 * npar * (npar + 1) / den : INFINITY;
    f->bic = f->aic + npar * (log(nstar) - 2);
    double dof = nstar - npar + 1;
    f->sigma2 = dof > 0 ? ssq / dof : NAN;
    if (f->method != TSL_ARIMA_CSS && !(ssq > 1e-20 * sd->wss)) {
        /* a perfect fit (auto.arima's polynomial cases): no likelihood, no variance */
        f->loglik = f->aic = f->aicc = f->bic = NAN;
        f->sigma2 = 0.0;
    }
}

/* The concentrated residual sum of squares of the last evaluation. */
static double last_ssq(const fit_ctx *c) {
    const lik_sums *sm = &c->sums;
    if (c->reg && sm->bb > 0) return sm->vv - sm->vb * sm->vb / sm->bb;
    return sm->vv;
}

/*
 * Estimates the coefficients of one order on prepared data: CSS, or CSS start values then the
 * exact likelihood (ML from zeros when asked, or when the CSS AR part is not stationary).
 * Leaves out->a and out->P NULL (see fit_state). Fails with TSL_ENUMERIC when no point had a
 * finite objective.
 */
static tsl_err fit_core(const series_data *sd, const tsl_arima_order *ord, int constant,
                        tsl_arima_method method, tsl_arima_fit *out, tsl_diag *d) {
    memset(out, 0, sizeof *out);
    fit_ctx c;
    fit_ctx_init(&c, sd, ord, constant);
    const shape *s = &c.s;
    const tsl_arima_order *o = &s->o;
    int k = s->k;
    double x[TSL_ARIMA_NCOEF + 1] = {0}, coef[TSL_ARIMA_NCOEF] = {0};
    tsl_err rc = TSL_OK;
    out->ord = *o;
    out->constant = constant;
    out->method = method;
    if (method != TSL_ARIMA_ML) {
        c.css = 1;
        c.trans = 0;
        c.nx = k + constant;
        double v = minimise(&c, x);
        if (v >= PENALTY) {
            if (method == TSL_ARIMA_CSS) {
                rc = tsl_diag_set(d, TSL_ENUMERIC, "no finite conditional sum of squares");
                goto out;
            }
            memset(x, 0, sizeof x);
        }
        memcpy(coef, x, (size_t)k * sizeof *x);
        if (method == TSL_ARIMA_CSS) {
            memcpy(out->coef, coef, (size_t)k * sizeof *coef);
            css_at(&c, coef, css_mu(&c, x));
            out->mu = constant ? c.mu : 0.0;
            out->ncond = (size_t)s->dd + (size_t)s->pf;
            fit_stats(out, sd, s, v, 0);
            out->sigma2 = c.ssq / (double)c.nu; /* R's CSS sigma2 */
            goto out;
        }
        /* A non-stationary CSS start (R stops there) falls back to zeros. */
        if (!ar_block_ok(coef, o->p)) memset(coef, 0, (size_t)o->p * sizeof *coef);
        if (!ar_block_ok(coef + o->p + o->q, o->P))
            memset(coef + o->p + o->q, 0, (size_t)o->P * sizeof *coef);
    }
    /* exact ML over partial autocorrelations */
    c.css = 0;
    c.trans = 1;
    c.nx = k;
    if (!encode(s, coef, x)) memset(x, 0, sizeof x);
    double v = minimise(&c, x);
    decode(s, x, 1, out->coef);
    if (v >= PENALTY) {
        rc = tsl_diag_set(d, TSL_ENUMERIC, "the likelihood is undefined everywhere it was tried");
        goto out;
    }
    v = objective_at(&c, out->coef);
    if (v >= PENALTY) {
        rc = tsl_diag_set(d, TSL_ENUMERIC, "the likelihood is undefined at the estimates");
        goto out;
    }
    out->mu = constant ? c.mu : 0.0;
    fit_stats(out, sd, s, v, last_ssq(&c));
out:
    fit_ctx_release(&c);
    return rc;
}

/* The constant c_t of a fit at time t (1-based). */
static double constant_at(const tsl_arima_fit *f, uint64_t t) {
    if (!f->constant) return 0.0;
    return f->ord.d + f->ord.D == 0 ? f->mu : f->mu * (double)t;
}

/*
 * Runs the filter at a fit's estimates over the data to leave its state after the last
 * observation in f->a, f->P (new arrays) and f->t. Without gaps: the ARMA filter on the
 * differenced series from its stationary covariance, the differencing states being the last
 * values of y - c_t (known exactly); with gaps: R's filter over the full state.
 */
static void fit_state(const series_data *sd, tsl_arima_fit *f) {
    shape s;
    shape_init(&s, &f->ord);
    int r = s.r, rd = r + s.dd;
    size_t ld = (size_t)rd;
    double *phi = tsl_malloc(2 * (size_t)r * sizeof *phi), *R = phi + r;
    expand(&s, f->coef, phi, R);
    cov_work cw;
    cov_work_init(&cw, &s);
    double *c = tsl_malloc((size_t)(r + 1) * sizeof *c);
    f->r = r;
    f->rd = rd;
    f->a = tsl_calloc(ld, sizeof *f->a);
    f->P = tsl_calloc(ld * ld, sizeof *f->P);
    f->t = sd->n;
    full_work fu;
    if (!sd->missing) {
        shape sa = s;
        sa.dd = 0;
        full_work_init(&fu, r);
        double *z = tsl_malloc((sd->N + 1) * sizeof *z);
        double cw0 = f->constant ? f->mu * sd->kfac : 0.0;
        for (size_t t = 0; t < sd->N; t++) z[t] = sd->w[t] - cw0;
        double *pn = tsl_calloc((size_t)r * (size_t)r, sizeof *pn);
        double *Pa = tsl_calloc((size_t)r * (size_t)r, sizeof *Pa);
        int ok = state_cov_column(&s, phi, R, &cw, c);
        assert(ok);
        (void)ok;
        state_cov_full(r, phi, R, c, pn, r);
        full_filter(&sa, phi, R, z, NULL, sd->N, f->a, NULL, Pa, pn, &fu, NULL, NULL);
        for (int i = 0; i < r; i++)
            memcpy(f->P + (size_t)i * ld, Pa + (size_t)i * (size_t)r, (size_t)r * sizeof *Pa);
        for (int i = 0; i < s.dd; i++) {
            size_t j = sd->n - 2 - (size_t)i;
            f->a[r + i] = sd->y[j] - constant_at(f, j + 1);
        }
        tsl_free(z);
        tsl_free(pn);
        tsl_free(Pa);
    } else {
        full_work_init(&fu, rd);
        double *z = tsl_malloc(sd->n * sizeof *z);
        for (size_t t = 0; t < sd->n; t++) z[t] = sd->y[t] - constant_at(f, t + 1);
        double *pn = tsl_malloc(ld * ld * sizeof *pn);
        int ok = initial_cov(&s, phi, R, &cw, c, pn);
        assert(ok);
        (void)ok;
        full_filter(&s, phi, R, z, NULL, sd->n, f->a, NULL, f->P, pn, &fu, NULL, NULL);
        tsl_free(z);
        tsl_free(pn);
    }
    full_work_release(&fu);
    cov_work_release(&cw);
    tsl_free(c);
    tsl_free(phi);
}

/* Checks an order and the data's length for it; counts observed values into *nobs. */
static tsl_err check_fit_args(const double *y, size_t n, const tsl_arima_order *o, int constant,
                              size_t *nobs, tsl_diag *d) {
    if (!order_ok(o))
        return tsl_diag_set(d, TSL_EINVAL,
                            "ARIMA order (%d,%d,%d)(%d,%d,%d)[%d] out of range: p, q <= %d, "
                            "P, Q <= %d, d <= %d, D <= %d, period 1..%d",
                            o->p, o->d, o->q, o->P, o->D, o->Q, o->m, TSL_ARIMA_MAX_P,
                            TSL_ARIMA_MAX_SP, TSL_ARIMA_MAX_D, TSL_ARIMA_MAX_SD,
                            TSL_ARIMA_MAX_PERIOD);
    if (constant && o->d + (o->m > 1 ? o->D : 0) > 1)
        return tsl_diag_set(d, TSL_EINVAL,
                            "a constant needs d + D <= 1 (a mean or a drift); got d = %d, D = %d",
                            o->d, o->D);
    size_t dd = (size_t)o->d + (o->m > 1 ? (size_t)o->m * (size_t)o->D : 0), k = 0;
    *nobs = 0;
    for (size_t i = 0; i < n; i++) *nobs += !isnan(y[i]);
    k = (size_t)(o->p + o->q) + (o->m > 1 ? (size_t)(o->P + o->Q) : 0) + (size_t)constant;
    if (n <= dd || *nobs <= dd + k)
        return tsl_diag_set(d, TSL_ESHORT,
                            "%zu observed values are too few for ARIMA with %zu differences and "
                            "%zu coefficients",
                            *nobs, dd, k);
    return TSL_OK;
}

tsl_err tsl_arima_fit_order(const double *y, size_t n, const tsl_arima_order *ord, int constant,
                            tsl_arima_method method, tsl_arima_fit *out, tsl_diag *d) {
    memset(out, 0, sizeof *out);
    size_t nobs;
    tsl_arima_order o = *ord;
    if (o.m < 2) o.m = 1;
    tsl_err rc = check_fit_args(y, n, &o, constant != 0, &nobs, d);
    if (rc) return rc;
    series_data sd;
    series_data_init(&sd, y, n, o.d, o.D, o.m);
    rc = fit_core(&sd, &o, constant != 0, method, out, d);
    if (!rc && method != TSL_ARIMA_CSS) fit_state(&sd, out);
    series_data_release(&sd);
    return rc;
}

tsl_err tsl_arima_refilter(tsl_arima_fit *f, const double *y, size_t n, tsl_diag *d) {
    size_t nobs;
    tsl_err rc = check_fit_args(y, n, &f->ord, f->constant, &nobs, d);
    if (rc) return rc;
    const tsl_arima_order *o = &f->ord;
    if (!ar_block_ok(f->coef, o->p) || !ar_block_ok(f->coef + o->p + o->q, o->P))
        return tsl_diag_set(d, TSL_EINVAL, "the AR part is not stationary");
    series_data sd;
    series_data_init(&sd, y, n, f->ord.d, f->ord.D, f->ord.m);
    tsl_free(f->a);
    tsl_free(f->P);
    fit_state(&sd, f);
    series_data_release(&sd);
    return TSL_OK;
}

tsl_err tsl_arima_loglik(const double *y, size_t n, const tsl_arima_order *ord, int constant,
                         const double *coef, double mu, int diffuse, double *loglik, double *sigma2,
                         tsl_diag *d) {
    size_t nobs;
    tsl_arima_order o = *ord;
    if (o.m < 2) o.m = 1;
    tsl_err rc = check_fit_args(y, n, &o, constant != 0, &nobs, d);
    if (rc) return rc;
    tsl_arima_fit tmp = {.ord = o, .constant = constant != 0, .mu = mu};
    double *z = tsl_malloc(n * sizeof *z);
    int missing = 0;
    for (size_t t = 0; t < n; t++) {
        z[t] = y[t] - constant_at(&tmp, t + 1);
        missing |= isnan(y[t]);
    }
    shape s;
    shape_init(&s, &o);
    double nused = (double)nobs - (double)s.dd, value = 0;
    lik_sums sm = {0};
    if (!diffuse && !missing) {
        series_data sd;
        series_data_init(&sd, z, n, o.d, o.D, o.m);
        fit_ctx c;
        fit_ctx_init(&c, &sd, &o, 0);
        value = objective_at(&c, coef);
        sm = c.sums;
        fit_ctx_release(&c);
        series_data_release(&sd);
        if (value >= PENALTY) rc = tsl_diag_set(d, TSL_EINVAL, "the AR part is not stationary");
    } else {
        int r = s.r, rd = r + s.dd;
        size_t ld = (size_t)rd;
        double *phi = tsl_malloc(2 * (size_t)r * sizeof *phi), *R = phi + r;
        expand(&s, coef, phi, R);
        cov_work cw;
        cov_work_init(&cw, &s);
        full_work fu;
        full_work_init(&fu, rd);
        double *c = tsl_malloc((size_t)(r + 1) * sizeof *c), *pn = tsl_malloc(ld * ld * sizeof *pn);
        double *a = tsl_calloc(ld, sizeof *a), *P = tsl_malloc(ld * ld * sizeof *P);
        if (!initial_cov(&s, phi, R, &cw, c, pn)) {
            rc = tsl_diag_set(d, TSL_EINVAL, "the AR part is not stationary");
        } else {
            full_filter(&s, phi, R, z, NULL, n, a, NULL, P, pn, &fu, &sm, NULL);
            value = lik_value(&sm, 0, NULL);
        }
        tsl_free(a);
        tsl_free(P);
        tsl_free(pn);
        tsl_free(c);
        full_work_release(&fu);
        cov_work_release(&cw);
        tsl_free(phi);
    }
    if (!rc) {
        *loglik = -0.5 * (2 * nused * value + nused + nused * log(2 * M_PI));
        *sigma2 = sm.vv / nused;
    }
    tsl_free(z);
    return rc;
}

void tsl_arima_name(const tsl_arima_fit *f, char *buf, size_t cap) {
    const tsl_arima_order *o = &f->ord;
    int n = snprintf(buf, cap, "ARIMA(%d,%d,%d)", o->p, o->d, o->q);
    if (n < 0 || (size_t)n >= cap) return;
    if (o->m > 1 && o->P + o->D + o->Q > 0) {
        int k = snprintf(buf + n, cap - (size_t)n, "(%d,%d,%d)[%d]", o->P, o->D, o->Q, o->m);
        if (k < 0 || (size_t)(n + k) >= cap) return;
        n += k;
    }
    const char *tail = "";
    if (f->constant)
        tail = o->d + o->D == 0 ? " with non-zero mean" : " with drift";
    else if (o->d + o->D == 0)
        tail = " with zero mean";
    snprintf(buf + n, cap - (size_t)n, "%s", tail);
}

/* ---- forecasts ---- */

tsl_err tsl_arima_forecast_fit(const tsl_arima_fit *f, size_t h, const double *levels, size_t nq,
                               double *mean, double *quant, tsl_diag *d) {
    shape s;
    shape_init(&s, &f->ord);
    int r = s.r, dd = s.dd, rd = r + dd;
    assert(rd == f->rd);
    double *phi = tsl_malloc(2 * (size_t)r * sizeof *phi), *R = phi + r;
    expand(&s, f->coef, phi, R);
    /*
     * With the row vector z_j = Z T^j: the forecast j steps ahead is z_j a (plus the
     * constant), and its variance in units of sigma2 is z_j P z_j' (the state's uncertainty)
     * plus sum_{i<j} psi_i^2 with psi_i = z_i R, the impulse responses of the integrated model.
     */
    double *z = tsl_calloc((size_t)rd, sizeof *z), *zn = tsl_malloc((size_t)rd * sizeof *zn);
    double *sd = nq ? tsl_malloc(h * sizeof *sd) : NULL;
    int zeroP = 1;
    for (size_t i = 0; i < (size_t)rd * (size_t)rd && zeroP; i++) zeroP = f->P[i] == 0.0;
    z[0] = 1.0;
    for (int k = 0; k < dd; k++) z[r + k] = s.delta[k];
    double sumpsi = 0;
    tsl_err rc = TSL_OK;
    for (size_t step = 0; step < h; step++) {
        double ps = 0;
        for (int i = 0; i < r; i++) ps += z[i] * R[i];
        sumpsi += ps * ps;
        /* z <- z T */
        double z0 = dd > 0 ? z[r] : 0.0;
        for (int i = 0; i < r; i++) z0 += z[i] * phi[i];
        zn[0] = z0;
        for (int j = 1; j < r; j++) zn[j] = z[j - 1];
        for (int k = 0; k < dd; k++)
            zn[r + k] = s.delta[k] * z[r] + (k + 1 < dd ? z[r + k + 1] : 0.0);
        memcpy(z, zn, (size_t)rd * sizeof *z);
        double m = 0;
        for (int i = 0; i < rd; i++) m += z[i] * f->a[i];
        mean[step] = m + constant_at(f, f->t + step + 1);
        if (!nq) continue;
        double v = sumpsi;
        if (!zeroP) {
            for (int i = 0; i < rd; i++) {
                if (z[i] == 0.0) continue;
                const double *row = f->P + (size_t)i * (size_t)rd;
                double ri = 0;
                for (int j = 0; j < rd; j++) ri += row[j] * z[j];
                v += z[i] * ri;
            }
        }
        sd[step] = sqrt(fmax(v, 0.0) * f->sigma2);
        if (!isfinite(sd[step]) || !isfinite(mean[step])) {
            rc =
                tsl_diag_set(d, TSL_ENUMERIC, "the ARIMA forecast overflows at step %zu", step + 1);
            goto out;
        }
    }
    if (nq) tsl_quant_gauss(mean, sd, h, levels, nq, quant);
out:
    tsl_free(z);
    tsl_free(zn);
    tsl_free(sd);
    tsl_free(phi);
    return rc;
}

void tsl_arima_update_fit(tsl_arima_fit *f, const double *y, size_t n, double *err1) {
    shape s;
    shape_init(&s, &f->ord);
    int r = s.r, rd = r + s.dd;
    double *phi = tsl_malloc(2 * (size_t)r * sizeof *phi), *R = phi + r;
    expand(&s, f->coef, phi, R);
    double *z = tsl_malloc(2 * (n + 1) * sizeof *z), *pred = z + n + 1;
    for (size_t t = 0; t < n; t++) z[t] = y[t] - constant_at(f, f->t + t + 1);
    full_work fu;
    full_work_init(&fu, rd);
    full_filter(&s, phi, R, z, NULL, n, f->a, NULL, f->P, NULL, &fu, NULL, pred);
    if (err1)
        for (size_t t = 0; t < n; t++)
            err1[t] = isnan(y[t]) ? NAN : y[t] - pred[t] - constant_at(f, f->t + t + 1);
    f->t += n;
    full_work_release(&fu);
    tsl_free(z);
    tsl_free(phi);
}

/* ---- how many differences ---- */

double tsl_arima_kpss(const double *y, size_t n) {
    if (n < 2) return NAN;
    double mean = 0;
    for (size_t i = 0; i < n; i++) mean += y[i];
    mean /= (double)n;
    double *res = tsl_malloc(n * sizeof *res);
    double s2 = 0, cum = 0, num = 0;
    for (size_t i = 0; i < n; i++) {
        res[i] = y[i] - mean;
        s2 += res[i] * res[i];
        cum += res[i];
        num += cum * cum;
    }
    double nn = (double)n;
    num /= nn * nn;
    s2 /= nn;
    size_t lmax = (size_t)(3.0 * sqrt(nn) / 13.0);
    double den = s2;
    for (size_t l = 1; l <= lmax && l < n; l++) {
        double cov = 0;
        for (size_t t = l; t < n; t++) cov += res[t] * res[t - l];
        den += 2.0 / nn * (1.0 - (double)l / (double)(lmax + 1)) * cov;
    }
    tsl_free(res);
    return num / den;
}

/* urca's 5% critical value of the level KPSS test: ndiffs() differences while the p value
 * interpolated from urca's table is below 0.05, i.e. while the statistic exceeds it. */
#define KPSS_CRIT_5PCT 0.463

int tsl_arima_ndiffs(const double *y, size_t n) {
    double *x = tsl_malloc((n + 1) * sizeof *x);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(y[i])) x[m++] = y[i];
    int d = 0;
    if (is_constant(x, m)) goto out;
    double stat = tsl_arima_kpss(x, m);
    if (isnan(stat)) goto out;
    int dodiff = stat > KPSS_CRIT_5PCT;
    while (dodiff && d < 2) {
        d++;
        for (size_t i = 0; i + 1 < m; i++) x[i] = x[i + 1] - x[i];
        m--;
        if (is_constant(x, m)) goto out;
        stat = tsl_arima_kpss(x, m);
        if (isnan(stat)) {
            d--;
            goto out;
        }
        dodiff = stat > KPSS_CRIT_5PCT;
    }
out:
    tsl_free(x);
    return d;
}

/* nsdiffs(test = "seas") differences when the seasonal strength exceeds this. */
#define SEAS_STRENGTH_LIMIT 0.64

double tsl_arima_seas_strength(const double *y, size_t n, int m) {
    while (n > 0 && isnan(y[n - 1])) n--;
    if (m < 2 || n <= 2 * (size_t)m) return NAN;
    tsl_stl_opts o;
    tsl_stl_opts_init(&o);
    o.periodic = 0;
    o.s_window = 11; /* mstl()'s first seasonal window, 7 + 4 */
    tsl_decomp dc;
    memset(&dc, 0, sizeof dc);
    double fs = NAN;
    if (tsl_decomp_stl(y, n, m, &o, &dc, NULL) || tsl_decomp_strength(&dc, &fs, NULL, NULL))
        fs = NAN;
    tsl_decomp_free(&dc);
    return fs;
}

int tsl_arima_nsdiffs(const double *y, size_t n, int m) {
    if (m < 2 || is_constant(y, n) || (size_t)m >= n) return 0;
    double fs = tsl_arima_seas_strength(y, n, m);
    return fs > SEAS_STRENGTH_LIMIT;
}

/* ---- R's checks of a candidate ---- */

/* Inverts the k x k matrix a (row-major) in place by Gauss-Jordan elimination with partial
 * pivoting; returns 0 when it is numerically singular. */
static int invert(double *a, int k) {
    int piv[TSL_ARIMA_NCOEF];
    double scale = 0;
    for (int i = 0; i < k * k; i++) scale = fmax(scale, fabs(a[i]));
    for (int c = 0; c < k; c++) {
        int best = c;
        for (int r = c + 1; r < k; r++)
            if (fabs(a[r * k + c]) > fabs(a[best * k + c])) best = r;
        if (!(fabs(a[best * k + c]) > 1e-14 * scale)) return 0;
        piv[c] = best;
        if (best != c)
            for (int j = 0; j < k; j++) {
                double t = a[c * k + j];
                a[c * k + j] = a[best * k + j];
                a[best * k + j] = t;
            }
        double inv = 1.0 / a[c * k + c];
        a[c * k + c] = 1.0;
        for (int j = 0; j < k; j++) a[c * k + j] *= inv;
        for (int r = 0; r < k; r++) {
            if (r == c) continue;
            double f = a[r * k + c];
            a[r * k + c] = 0.0;
            for (int j = 0; j < k; j++) a[r * k + j] -= f * a[c * k + j];
        }
    }
    for (int c = k - 1; c >= 0; c--)
        if (piv[c] != c)
            for (int r = 0; r < k; r++) {
                double t = a[r * k + c];
                a[r * k + c] = a[r * k + piv[c]];
                a[r * k + piv[c]] = t;
            }
    return 1;
}

/*
 * R's checkarima(): 1 when the estimated covariance of the coefficients has a negative or
 * undefined variance. As stats::arima computes it: the Hessian of the objective in the
 * optimiser's coordinates (partial autocorrelations under ML; the coefficients and the scaled
 * constant under CSS) by optim's differences of central differences with step 1e-3, inverted,
 * and mapped back through the Jacobian of the transformation (forward differences with step
 * 1e-3, as R's ARIMA_Gradtrans).
 */
static int information_bad(const series_data *sd, const tsl_arima_fit *f) {
    const tsl_arima_order *o = &f->ord;
    int k = o->p + o->q + o->P + o->Q;
    fit_ctx c;
    fit_ctx_init(&c, sd, o, f->constant);
    c.css = f->method == TSL_ARIMA_CSS;
    c.trans = !c.css;
    c.nx = k + (c.css ? f->constant : 0);
    int nx = c.nx;
    double x[TSL_ARIMA_NCOEF + 1], H[(TSL_ARIMA_NCOEF + 1) * (TSL_ARIMA_NCOEF + 1)];
    double coef[TSL_ARIMA_NCOEF];
    memcpy(coef, f->coef, (size_t)k * sizeof *coef);
    if (c.trans) {
        if (!encode(&c.s, coef, x)) {
            fit_ctx_release(&c);
            return 1;
        }
    } else {
        memcpy(x, coef, (size_t)k * sizeof *x);
        if (nx > k) x[k] = (f->mu * sd->kfac - c.mu0) / c.muscale;
    }
    const double h = 1e-3;
    double f0 = objective(x, &c);
    for (int i = 0; i < nx; i++)
        for (int j = i; j < nx; j++) {
            double v, xi = x[i], xj = x[j];
            if (i == j) {
                x[i] = xi + 2 * h;
                double fp = objective(x, &c);
                x[i] = xi - 2 * h;
                double fm = objective(x, &c);
                x[i] = xi;
                v = (fp - 2 * f0 + fm) / (4 * h * h);
            } else {
                double sv[4];
                for (int q = 0; q < 4; q++) {
                    x[i] = xi + (q < 2 ? h : -h);
                    x[j] = xj + (q % 2 == 0 ? h : -h);
                    sv[q] = objective(x, &c);
                }
                x[i] = xi;
                x[j] = xj;
                v = (sv[0] - sv[1] - sv[2] + sv[3]) / (4 * h * h);
            }
            H[i * nx + j] = H[j * nx + i] = v;
        }
    fit_ctx_release(&c);
    for (int i = 0; i < nx * nx; i++)
        if (!isfinite(H[i])) return 1;
    if (!invert(H, nx)) return 1;
    if (!c.trans) {
        for (int i = 0; i < nx; i++)
            if (!(H[i * nx + i] >= 0)) return 1;
        return 0;
    }
    /* var = A' H^-1 A, A block diagonal: the Jacobian of decode within each block */
    const int len[4] = {o->p, o->q, o->P, o->Q};
    int off = 0;
    for (int b = 0; b < 4; b++) {
        int n = len[b];
        double J[TSL_ARIMA_MAX_P * TSL_ARIMA_MAX_P], base[TSL_ARIMA_MAX_P], bump[TSL_ARIMA_MAX_P];
        double raw[TSL_ARIMA_MAX_P];
        memcpy(raw, x + off, (size_t)n * sizeof *raw);
        pacf_to_ar(raw, n, base);
        for (int i = 0; i < n; i++) {
            raw[i] += h;
            pacf_to_ar(raw, n, bump);
            raw[i] -= h;
            for (int j = 0; j < n; j++) J[i * n + j] = (bump[j] - base[j]) / h;
        }
        for (int j = 0; j < n; j++) {
            double acc = 0;
            for (int a = 0; a < n; a++)
                for (int bb = 0; bb < n; bb++)
                    acc += J[a * n + j] * H[(off + a) * nx + off + bb] * J[bb * n + j];
            if (!(acc >= 0)) return 1;
        }
        off += n;
    }
    return 0;
}

/* ---- the search ---- */

/* One model a search fitted (R's results matrix, plus what it found). */
typedef struct cand {
    int p, q, P, Q, constant;
    int approx;  /* fitted by CSS (the approximation) */
    int checked; /* the information check was run (passed when ic is finite) */
    double ic;   /* AICc (AIC for series of at most 3 values); +inf when refused */
    tsl_arima_fit fit;
} cand;

typedef struct search {
    const series_data *sd;
    int m;
    int approx;    /* candidates are fitted by CSS (auto.arima's approximation) */
    int use_aic;   /* serieslength <= 3: R ranks by AIC */
    double offset; /* the approximation's likelihood offset */
    /* bounds of p, q, P, Q: [lo, hi]; lo == hi for an order the spec fixes */
    int lo[4], hi[4];
    cand *tab;
    size_t ntab, cap;
} search;

/*
 * auto.arima's myarima(): fits one candidate (approx: by CSS, ranked with the offset AICc)
 * and returns its index in S->tab (which may move: hold indices, not pointers); a model
 * fitted before is not refitted. The entry's ic is +inf when the fit failed or a root is within
 * 1.01 of the unit circle; the information check is separate (check_cand), since R's outcome
 * only matters for a model that would be the best.
 */
static int fit_cand(search *S, int p, int q, int P, int Q, int constant, int approx) {
    for (size_t i = 0; i < S->ntab; i++) {
        const cand *c = &S->tab[i];
        if (c->p == p && c->q == q && c->P == P && c->Q == Q && c->constant == constant &&
            c->approx == approx)
            return (int)i;
    }
    if (S->ntab == S->cap) {
        S->cap = S->cap ? 2 * S->cap : 64;
        S->tab = tsl_reallocarray(S->tab, S->cap, sizeof *S->tab);
    }
    int idx = (int)S->ntab++;
    cand *c = &S->tab[idx];
    memset(c, 0, sizeof *c);
    c->p = p, c->q = q, c->P = P, c->Q = Q, c->constant = constant, c->approx = approx;
    const series_data *sd = S->sd;
    tsl_arima_order o = {p, sd->d, q, P, sd->D, Q, sd->m};
    c->ic = INFINITY;
    size_t k = (size_t)(p + q + P + Q + constant);
    if (sd->nobs <= (size_t)sd->diff.dd + k) return idx;
    if (fit_core(sd, &o, constant, approx ? TSL_ARIMA_CSS : TSL_ARIMA_CSS_ML, &c->fit, NULL))
        return idx;
    tsl_arima_fit *f = &c->fit;
    if (approx) {
        double npar = (double)(k + 1), nstar = (double)f->nused;
        f->aic = S->offset + nstar * log(f->sigma2) + 2 * npar;
        double den = nstar - npar - 1;
        f->aicc = den > 0 ? f->aic + 2 * npar * (npar + 1) / den : INFINITY;
        f->bic = f->aic + npar * (log(nstar) - 2);
    }
    double ic = S->use_aic ? f->aic : f->aicc;
    if (!isfinite(ic) || roots_too_close(f)) return idx;
    c->ic = ic;
    return idx;
}

/* Runs the information check on a candidate once; returns its (possibly now infinite) ic. */
static double check_cand(search *S, int idx) {
    cand *c = &S->tab[idx];
    if (!c->checked && isfinite(c->ic)) {
        c->checked = 1;
        if (information_bad(S->sd, &c->fit)) c->ic = INFINITY;
    }
    return c->ic;
}

/* Offers candidate idx as the new best (*best: an index, -1 for none): it wins when its ic is
 * lower and it passes the check. */
static int better(search *S, int idx, int *best) {
    if (!(S->tab[idx].ic < (*best >= 0 ? S->tab[*best].ic : INFINITY))) return 0;
    if (!isfinite(check_cand(S, idx))) return 0;
    *best = idx;
    return 1;
}

/* v limited to [lo, hi]. */
static int clampi(int v, int lo, int hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

/* R's newmodel(): 1 when (p, q, P, Q, constant) is not among the first k results rows. */
static int new_model(const int (*res)[5], int k, int p, int q, int P, int Q, int constant) {
    for (int i = 0; i < k; i++)
        if (res[i][0] == p && res[i][1] == q && res[i][2] == P && res[i][3] == Q &&
            res[i][4] == constant)
            return 0;
    return 1;
}

#define NMODELS 94

/* The stepwise search's neighbourhood, in auto.arima's order: seasonal orders alone, then in
 * pairs, then non-seasonal orders alone, then in pairs (the constant is toggled after). */
static const struct {
    int dp, dq, dP, dQ;
} moves[16] = {{0, 0, -1, 0},  {0, 0, 0, -1}, {0, 0, 1, 0},  {0, 0, 0, 1},
               {0, 0, -1, -1}, {0, 0, -1, 1}, {0, 0, 1, -1}, {0, 0, 1, 1},
               {-1, 0, 0, 0},  {0, -1, 0, 0}, {1, 0, 0, 0},  {0, 1, 0, 0},
               {-1, -1, 0, 0}, {-1, 1, 0, 0}, {1, -1, 0, 0}, {1, 1, 0, 0}};

/*
 * auto.arima's stepwise search (Hyndman & Khandakar 2008, sec. 3.2) from the start orders,
 * the null model, AR(1)/SAR(1), MA(1)/SMA(1) and the model without constant, then around the
 * current best until no neighbour improves, at most NMODELS fits. `order` receives the fitted
 * models in R's order (indices into S->tab) for the approximation's refits. Returns the best's
 * index, -1 when none.
 */
static int stepwise(search *S, const int start[4], int constant, int allow_toggle, int *order,
                    int *norder) {
    const int *lo = S->lo, *hi = S->hi;
    int res[NMODELS + 8][5];
    int k = 0, best = -1;
#define TRY(pp, qq, PP, QQ, cc)                                                                    \
    (res[k][0] = (pp), res[k][1] = (qq), res[k][2] = (PP), res[k][3] = (QQ), res[k][4] = (cc),     \
     order[k] = fit_cand(S, pp, qq, PP, QQ, cc, S->approx), better(S, order[k++], &best))
    int p = start[0], q = start[1], P = start[2], Q = start[3];
    TRY(p, q, P, Q, constant);
    int z0 = clampi(0, lo[0], hi[0]), z1 = clampi(0, lo[1], hi[1]);
    int z2 = clampi(0, lo[2], hi[2]), z3 = clampi(0, lo[3], hi[3]);
    if (TRY(z0, z1, z2, z3, constant)) p = z0, q = z1, P = z2, Q = z3;
    if (hi[0] > 0 || hi[2] > 0) {
        int a = clampi(hi[0] > 0, lo[0], hi[0]), b = clampi(S->m > 1 && hi[2] > 0, lo[2], hi[2]);
        if (TRY(a, z1, b, z3, constant)) p = a, P = b, q = z1, Q = z3;
    }
    if (hi[1] > 0 || hi[3] > 0) {
        int a = clampi(hi[1] > 0, lo[1], hi[1]), b = clampi(S->m > 1 && hi[3] > 0, lo[3], hi[3]);
        if (TRY(z0, a, z2, b, constant)) p = z0, P = z2, q = a, Q = b;
    }
    if (constant && allow_toggle) {
        /* R leaves `constant` set even when this model wins */
        if (TRY(z0, z1, z2, z3, 0)) p = z0, q = z1, P = z2, Q = z3;
    }
    int startk = 0;
    while (startk < k && k < NMODELS) {
        startk = k;
        int moved = 0, stop = 0;
        for (int mv = 0; mv < 16 && !moved && !stop; mv++) {
            int np = p + moves[mv].dp, nq = q + moves[mv].dq;
            int nP = P + moves[mv].dP, nQ = Q + moves[mv].dQ;
            if (np < lo[0] || np > hi[0] || nq < lo[1] || nq > hi[1] || nP < lo[2] || nP > hi[2] ||
                nQ < lo[3] || nQ > hi[3])
                continue;
            if (!new_model(res, k, np, nq, nP, nQ, constant)) continue;
            if (k + 1 > NMODELS) {
                k++;
                stop = 1;
                break;
            }
            if (TRY(np, nq, nP, nQ, constant)) {
                p = np, q = nq, P = nP, Q = nQ;
                moved = 1;
            }
        }
        if (moved || stop) continue;
        if (allow_toggle && new_model(res, k, p, q, P, Q, !constant)) {
            if (k + 1 > NMODELS) {
                k++;
                continue;
            }
            if (TRY(p, q, P, Q, !constant)) constant = !constant;
        }
    }
#undef TRY
    *norder = k < NMODELS ? k : NMODELS;
    return best;
}

/* The exhaustive search (auto.arima(stepwise = FALSE), R's search.arima): every order within
 * the bounds with p + q + P + Q <= max_order, with and without the constant when both are
 * allowed. Returns the best's index, -1 when none. */
static int exhaustive(search *S, int max_order, int cmin, int cmax) {
    int best = -1;
    const int *lo = S->lo, *hi = S->hi;
    for (int i = lo[0]; i <= hi[0]; i++)
        for (int j = lo[1]; j <= hi[1]; j++)
            for (int sp = lo[2]; sp <= hi[2]; sp++)
                for (int sq = lo[3]; sq <= hi[3]; sq++) {
                    if (i + j + sp + sq > max_order) continue;
                    for (int K = cmin; K <= cmax; K++)
                        better(S, fit_cand(S, i, j, sp, sq, K, S->approx), &best);
                }
    return best;
}

/* Index sort of order[0..n) by the candidates' ic, stable (R's order()). */
static void sort_by_ic(const search *S, int *order, int n) {
    for (int i = 1; i < n; i++) {
        int v = order[i], j = i;
        while (j > 0 && S->tab[order[j - 1]].ic > S->tab[v].ic) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
}

/*
 * The approximation's last step in the stepwise search: the models fitted by CSS are refitted
 * by exact ML in increasing order of their approximate ic, and the first that passes R's checks
 * is the answer. Models R would have refused (ic +inf, including those our lazy information
 * check refuses now) come last, in the order they were fitted, as R's order() puts them.
 * Returns the answer's index, -1 when none.
 */
static int refit_exact(search *S, const int *fitted, int n) {
    int *ord = tsl_malloc((size_t)(n + 1) * sizeof *ord);
    memcpy(ord, fitted, (size_t)n * sizeof *ord);
    sort_by_ic(S, ord, n);
    int best = -1;
    for (int pass = 0; pass < 2 && best < 0; pass++)
        for (int i = 0; i < n && best < 0; i++) {
            int ci = pass ? fitted[i] : ord[i];
            if (!pass && !isfinite(check_cand(S, ci))) continue;
            if (pass && isfinite(S->tab[ci].ic)) continue;
            const cand c = S->tab[ci];
            int e = fit_cand(S, c.p, c.q, c.P, c.Q, c.constant, 0);
            if (isfinite(check_cand(S, e))) best = e;
        }
    tsl_free(ord);
    return best;
}

/* A fit that forecasts a constant series: ARIMA(0,0,0) with mean `value`, no variance. */
static void constant_fit(double value, size_t n, tsl_arima_fit *out) {
    memset(out, 0, sizeof *out);
    out->ord = (tsl_arima_order){0, 0, 0, 0, 0, 0, 1};
    out->constant = 1;
    out->mu = value;
    out->sigma2 = 0.0;
    out->loglik = out->aic = out->aicc = out->bic = NAN;
    out->nused = n;
    out->r = out->rd = 1;
    out->a = tsl_calloc(1, sizeof *out->a);
    out->P = tsl_calloc(1, sizeof *out->P);
    out->t = n;
}

/* y's lag-`lag` difference, `times` times, into a new array; *len receives its length. */
static double *difference(const double *y, size_t n, size_t lag, int times, size_t *len) {
    double *x = tsl_malloc((n + 1) * sizeof *x);
    memcpy(x, y, n * sizeof *x);
    for (int i = 0; i < times && n > 0; i++) {
        size_t nn = n > lag ? n - lag : 0;
        for (size_t t = 0; t < nn; t++) x[t] = x[t + lag] - x[t];
        n = nn;
    }
    *len = n;
    return x;
}

/* 1 when every value of x[0..n) is missing. */
static int all_missing(const double *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isnan(x[i])) return 0;
    return 1;
}

tsl_err tsl_arima_auto(const double *y, size_t n, const tsl_model_spec *spec, tsl_arima_fit *out,
                       tsl_diag *d) {
    memset(out, 0, sizeof *out);
    int m = spec->period < 2 ? 1 : spec->period;
    if (m > TSL_ARIMA_MAX_PERIOD)
        return tsl_diag_set(d, TSL_EINVAL, "seasonal period %d above %d", m, TSL_ARIMA_MAX_PERIOD);
    size_t nobs = 0;
    for (size_t i = 0; i < n; i++) nobs += !isnan(y[i]);
    if (nobs == 0) return tsl_diag_set(d, TSL_ESHORT, "the series has no observed value");
    int fixed[6] = {spec->arima_p, spec->arima_d, spec->arima_q,
                    spec->arima_P, spec->arima_D, spec->arima_Q};
    if (m == 1)
        for (int i = 3; i < 6; i++)
            if (fixed[i] > 0)
                return tsl_diag_set(d, TSL_EINVAL, "a seasonal ARIMA part needs a period above 1");
    if (is_constant(y, n)) {
        constant_fit(y[0], n, out);
        return TSL_OK;
    }
    tsl_err rc = TSL_OK;
    series_data sd;
    memset(&sd, 0, sizeof sd);
    search S;
    memset(&S, 0, sizeof S);
    double *dx = NULL;
    int *fitted = NULL;
    /* differences: D from the seasonal strength, then d from KPSS on the seasonal difference */
    int D = 0;
    if (m > 1) {
        if (fixed[4] >= 0)
            D = fixed[4];
        else if (n > 2 * (size_t)m) {
            D = tsl_arima_nsdiffs(y, n, m);
            size_t len;
            double *t = difference(y, n, (size_t)m, D, &len);
            if (D > 0 && all_missing(t, len)) D--;
            tsl_free(t);
        }
    }
    size_t len;
    dx = difference(y, n, (size_t)m, D, &len);
    int dd1 = 0;
    if (fixed[1] >= 0) {
        dd1 = fixed[1];
    } else {
        dd1 = tsl_arima_ndiffs(dx, len);
        size_t l2;
        double *t = difference(dx, len, 1, dd1, &l2);
        if (dd1 > 0 && all_missing(t, l2)) dd1--;
        tsl_free(t);
    }
    {
        double *t = difference(dx, len, 1, dd1, &len);
        tsl_free(dx);
        dx = t;
    }
    if (len == 0) {
        rc = tsl_diag_set(d, TSL_ESHORT, "%zu values are too few for %d + %d x %d differences", n,
                          dd1, D, m);
        goto out;
    }
    int want_const = spec->arima_constant;
    if (is_constant(dx, len)) {
        /* auto.arima's polynomial special cases: no search, a fixed drift or mean */
        tsl_arima_order o = {0, dd1, 0, 0, D, 0, m};
        int c = (D > 0 && dd1 == 0) || (D == 0 && dd1 < 2);
        if (want_const == 0) c = 0;
        if (!order_ok(&o)) {
            rc = tsl_diag_set(d, TSL_EINVAL, "differences d = %d, D = %d out of range", dd1, D);
            goto out;
        }
        series_data_init(&sd, y, n, dd1, D, m);
        if (sd.nobs <= (size_t)sd.diff.dd + (size_t)c) {
            rc = tsl_diag_set(d, TSL_ESHORT, "%zu observed values are too few for the model",
                              sd.nobs);
            goto out;
        }
        rc = fit_core(&sd, &o, c, TSL_ARIMA_ML, out, d);
        if (!rc) fit_state(&sd, out);
        goto out;
    }
    /* bounds of the search */
    size_t slen = nobs;
    S.hi[0] = (int)(slen / 3 < 5 ? slen / 3 : 5);
    S.hi[1] = S.hi[0];
    S.hi[2] = m > 1 ? (int)(slen / 3 / (size_t)m < 2 ? slen / 3 / (size_t)m : 2) : 0;
    S.hi[3] = S.hi[2];
    if (m > 1) {
        if (S.hi[2] > 0 && S.hi[0] > m - 1) S.hi[0] = m - 1;
        if (S.hi[3] > 0 && S.hi[1] > m - 1) S.hi[1] = m - 1;
    }
    const int fidx[4] = {0, 2, 3, 5};
    int start[4] = {2, 2, 1, 1};
    if (n < 10) start[0] = 1, start[1] = 1, start[2] = 0, start[3] = 0;
    for (int i = 0; i < 4; i++) {
        int f = fixed[fidx[i]];
        if (m == 1 && i >= 2) f = 0;
        if (f >= 0) {
            S.lo[i] = S.hi[i] = f;
        } else {
            S.lo[i] = 0;
        }
        start[i] = clampi(start[i], S.lo[i], S.hi[i]);
    }
    tsl_arima_order chk = {S.hi[0], dd1, S.hi[1], S.hi[2], D, S.hi[3], m};
    if (!order_ok(&chk)) {
        rc = tsl_diag_set(d, TSL_EINVAL, "ARIMA orders out of range (p, q <= %d, P, Q <= %d)",
                          TSL_ARIMA_MAX_P, TSL_ARIMA_MAX_SP);
        goto out;
    }
    series_data_init(&sd, y, n, dd1, D, m);
    S.sd = &sd;
    S.m = m;
    S.use_aic = slen <= 3;
    S.approx = n > 150 || m > 12;
    int allow = dd1 + D <= 1;
    int constant = want_const < 0 ? allow : (want_const > 0 && allow);
    int toggle = want_const < 0 && allow;
    if (S.approx) {
        tsl_arima_order o0 = {0, dd1, 0, 0, D, 0, m};
        tsl_arima_fit f0;
        int mean0 = dd1 + D == 0;
        if (!fit_core(&sd, &o0, mean0, TSL_ARIMA_CSS_ML, &f0, NULL)) {
            double nused = (double)f0.nused, ssq = f0.sigma2 * (nused - mean0);
            S.offset = -2 * f0.loglik - (double)slen * log(ssq / nused);
        }
        tsl_arima_fit_release(&f0);
    }
    int best = -1;
    if (!spec->arima_stepwise) {
        int max_order = 5;
        if (S.lo[0] + S.lo[1] + S.lo[2] + S.lo[3] > max_order)
            max_order = S.lo[0] + S.lo[1] + S.lo[2] + S.lo[3];
        int cmin = toggle ? 0 : constant, cmax = constant;
        best = exhaustive(&S, max_order, cmin, cmax);
        if (S.approx && best >= 0) {
            const cand b = S.tab[best];
            int e = fit_cand(&S, b.p, b.q, b.P, b.Q, b.constant, 0);
            if (isfinite(check_cand(&S, e))) {
                best = e;
            } else {
                S.approx = 0;
                best = exhaustive(&S, max_order, cmin, cmax);
            }
        }
    } else {
        int norder = 0;
        fitted = tsl_malloc((NMODELS + 8) * sizeof *fitted);
        best = stepwise(&S, start, constant, toggle, fitted, &norder);
        if (S.approx) best = refit_exact(&S, fitted, norder);
    }
    if (best < 0) {
        /* R stops with "No suitable ARIMA model found"; the differences alone always fit */
        tsl_arima_order o0 = {S.lo[0], dd1, S.lo[1], S.lo[2], D, S.lo[3], m};
        rc = fit_core(&sd, &o0, constant, TSL_ARIMA_CSS_ML, out, d);
        if (rc) goto out;
    } else {
        *out = S.tab[best].fit;
        memset(&S.tab[best].fit, 0, sizeof S.tab[best].fit);
    }
    fit_state(&sd, out);
out:
    for (size_t i = 0; i < S.ntab; i++) tsl_arima_fit_release(&S.tab[i].fit);
    tsl_free(S.tab);
    tsl_free(fitted);
    tsl_free(dx);
    series_data_release(&sd);
    return rc;
}

/* ---- the model interface ---- */

/*
 * Long seasonal periods. Seasonal ARIMA terms at lag m put m-long polynomials in the state
 * (and auto.arima's search fits dozens of such models), so above TSL_ARIMA_MAX_PERIOD the
 * model does what forecast's stlm(method = "arima") does: when the classical seasonality test
 * finds a season, STL (seasonal window 11) removes it, a non-seasonal ARIMA is selected on the
 * adjusted series, and the last seasonal cycle is added back to every forecast; the name reads
 * "STL+ARIMA(...)". New observations are adjusted by the same figure on update.
 */
typedef struct arima_model {
    tsl_arima_fit fit;
    int dperiod;    /* period removed by STL before fitting; 0 when none */
    double *figure; /* dperiod values; figure[p] is the season at phase p (phase 0 = y[0]) */
} arima_model;

/* ops.free_state: releases an arima_model; NULL is a no-op. */
static void arima_model_free(void *p) {
    arima_model *am = p;
    if (!am) return;
    tsl_arima_fit_release(&am->fit);
    tsl_free(am->figure);
    tsl_free(am);
}

/* 1 when the spec fixes every order. */
static int orders_fixed(const tsl_model_spec *s) {
    return s->arima_p >= 0 && s->arima_d >= 0 && s->arima_q >= 0 && s->arima_P >= 0 &&
           s->arima_D >= 0 && s->arima_Q >= 0;
}

/* Fits the spec's fixed orders: with the constant as asked, or, when it is to be chosen and
 * the differences allow one, with and without it, keeping the lower AICc (forecast::Arima()
 * fits what it is told; choosing is auto.arima's rule). */
static tsl_err fit_fixed(const double *y, size_t n, const tsl_model_spec *sp, tsl_arima_fit *out,
                         tsl_diag *d) {
    tsl_arima_order o = {sp->arima_p, sp->arima_d, sp->arima_q, sp->arima_P,
                         sp->arima_D, sp->arima_Q, sp->period};
    if (o.m < 2) o.m = 1;
    int allow = o.d + (o.m > 1 ? o.D : 0) <= 1;
    if (sp->arima_constant >= 0 || !allow)
        return tsl_arima_fit_order(y, n, &o, sp->arima_constant > 0, TSL_ARIMA_CSS_ML, out, d);
    tsl_arima_fit with, without;
    tsl_err r1 = tsl_arima_fit_order(y, n, &o, 1, TSL_ARIMA_CSS_ML, &with, d);
    tsl_err r0 = tsl_arima_fit_order(y, n, &o, 0, TSL_ARIMA_CSS_ML, &without, r1 ? d : NULL);
    if (r1 && r0) return r0;
    int take_with = !r1 && (r0 || with.aicc < without.aicc || isnan(without.aicc));
    if (take_with) {
        *out = with;
        if (!r0) tsl_arima_fit_release(&without);
    } else {
        *out = without;
        if (!r1) tsl_arima_fit_release(&with);
    }
    return TSL_OK;
}

/* ops.fit: fixed orders or automatic selection under m->spec, through STL for long seasonal
 * periods; sets the name and the AICc. */
static tsl_err arima_fit(tsl_model *m, const double *y, size_t n, tsl_diag *d) {
    arima_model *am = tsl_calloc(1, sizeof *am);
    double *adj = NULL;
    tsl_model_spec spec = m->spec;
    tsl_err rc = TSL_OK;
    if (m->period > TSL_ARIMA_MAX_PERIOD) {
        if (spec.arima_P > 0 || spec.arima_D > 0 || spec.arima_Q > 0) {
            rc = tsl_diag_set(d, TSL_EUNSUPPORTED,
                              "seasonal ARIMA terms need a period of at most %d (got %d); leave "
                              "P, D and Q to be chosen and the season is removed by STL",
                              TSL_ARIMA_MAX_PERIOD, m->period);
            goto out;
        }
        adj = tsl_malloc(n * sizeof *adj);
        rc = tsl_decomp_deseasonalise(y, n, m->period, adj, &am->figure, d);
        if (rc) goto out;
        if (am->figure) {
            am->dperiod = m->period;
            y = adj;
        }
        spec.period = 1;
        spec.arima_P = spec.arima_D = spec.arima_Q = 0;
    }
    rc = orders_fixed(&spec) ? fit_fixed(y, n, &spec, &am->fit, d)
                             : tsl_arima_auto(y, n, &spec, &am->fit, d);
    if (rc) goto out;
    m->aicc = am->dperiod ? NAN : am->fit.aicc; /* not comparable once the data were adjusted */
    char name[56];
    tsl_arima_name(&am->fit, name, sizeof name);
    snprintf(m->name, sizeof m->name, "%s%s", am->dperiod ? "STL+" : "", name);
    m->state = am;
    am = NULL;
out:
    tsl_free(adj);
    arima_model_free(am);
    return rc;
}

void tsl_arima_chosen_spec(const tsl_model *m, tsl_model_spec *out) {
    const arima_model *am = m->state;
    assert(m->spec.kind == TSL_MODEL_ARIMA && am);
    *out = m->spec;
    out->arima_p = am->fit.ord.p;
    out->arima_d = am->fit.ord.d;
    out->arima_q = am->fit.ord.q;
    out->arima_P = am->fit.ord.P;
    out->arima_D = am->fit.ord.D;
    out->arima_Q = am->fit.ord.Q;
    out->arima_constant = am->fit.constant;
}

/* ops.forecast: see tsl_arima_forecast_fit; the seasonal figure, if any, is added back. */
static tsl_err arima_forecast(const tsl_model *m, size_t h, const double *levels, size_t nq,
                              double *mean, double *quant, tsl_diag *d) {
    const arima_model *am = m->state;
    tsl_err rc = tsl_arima_forecast_fit(&am->fit, h, levels, nq, mean, quant, d);
    if (rc || !am->dperiod) return rc;
    tsl_decomp_season_add(am->figure, am->dperiod, m->nobs, h, nq, mean, quant);
    return TSL_OK;
}

/* ops.update: filters y through the model; refuses (leaving the model as it was) when the
 * state leaves the finite range, which only data far from what the model was fitted on can
 * do. */
static tsl_err arima_update(tsl_model *m, const double *y, size_t n, double *err1, tsl_diag *d) {
    arima_model *am = m->state;
    tsl_arima_fit next = am->fit;
    size_t rd = (size_t)next.rd;
    next.a = tsl_malloc(rd * sizeof *next.a);
    next.P = tsl_malloc(rd * rd * sizeof *next.P);
    memcpy(next.a, am->fit.a, rd * sizeof *next.a);
    memcpy(next.P, am->fit.P, rd * rd * sizeof *next.P);
    double *adj = NULL;
    if (am->dperiod) {
        adj = tsl_malloc(n * sizeof *adj);
        for (size_t i = 0; i < n; i++)
            adj[i] = y[i] - am->figure[(m->nobs + i) % (uint64_t)am->dperiod];
        y = adj;
    }
    tsl_arima_update_fit(&next, y, n, err1);
    tsl_free(adj);
    int finite = 1;
    for (size_t i = 0; i < rd && finite; i++) finite = isfinite(next.a[i]);
    for (size_t i = 0; i < rd * rd && finite; i++) finite = isfinite(next.P[i]);
    if (!finite) {
        tsl_free(next.a);
        tsl_free(next.P);
        return tsl_diag_set(d, TSL_ENUMERIC,
                            "%s: the new observations drive the state out of range (refit the "
                            "model)",
                            m->name);
    }
    tsl_free(am->fit.a);
    tsl_free(am->fit.P);
    am->fit = next;
    return TSL_OK;
}

/*
 * State: u8 p, d, q, P, D, Q, constant, method; i32 m; f64 coef[p + q + P + Q]; f64 mu,
 * sigma2, loglik, aic, aicc, bic; u64 nused, ncond, t; i32 r, rd; f64 a[rd]; u8 has-P
 * [f64 P, upper triangle by rows, rd (rd + 1) / 2 values]; i32 dperiod; f64 figure[dperiod].
 * A covariance below STEADY_TOL everywhere (the filter's steady state) is stored as absent.
 */
static void arima_save(const tsl_model *m, tsl_wbuf *w) {
    const arima_model *am = m->state;
    const tsl_arima_fit *f = &am->fit;
    const tsl_arima_order *o = &f->ord;
    int k = o->p + o->q + o->P + o->Q;
    const int8_t ords[6] = {(int8_t)o->p, (int8_t)o->d, (int8_t)o->q,
                            (int8_t)o->P, (int8_t)o->D, (int8_t)o->Q};
    for (int i = 0; i < 6; i++) tsl_wbuf_put_u8(w, (uint8_t)ords[i]);
    tsl_wbuf_put_u8(w, (uint8_t)f->constant);
    tsl_wbuf_put_u8(w, (uint8_t)f->method);
    tsl_wbuf_put_i32(w, o->m);
    tsl_wbuf_put_f64s(w, f->coef, (size_t)k);
    tsl_wbuf_put_f64(w, f->mu);
    tsl_wbuf_put_f64(w, f->sigma2);
    tsl_wbuf_put_f64(w, f->loglik);
    tsl_wbuf_put_f64(w, f->aic);
    tsl_wbuf_put_f64(w, f->aicc);
    tsl_wbuf_put_f64(w, f->bic);
    tsl_wbuf_put_u64(w, f->nused);
    tsl_wbuf_put_u64(w, f->ncond);
    tsl_wbuf_put_u64(w, f->t);
    tsl_wbuf_put_i32(w, f->r);
    tsl_wbuf_put_i32(w, f->rd);
    size_t rd = (size_t)f->rd;
    tsl_wbuf_put_f64s(w, f->a, rd);
    int hasP = 0;
    for (size_t i = 0; i < rd * rd && !hasP; i++) hasP = fabs(f->P[i]) >= STEADY_TOL;
    tsl_wbuf_put_u8(w, (uint8_t)hasP);
    if (hasP)
        for (size_t i = 0; i < rd; i++) tsl_wbuf_put_f64s(w, f->P + i * rd + i, rd - i);
    tsl_wbuf_put_i32(w, am->dperiod);
    if (am->dperiod) tsl_wbuf_put_f64s(w, am->figure, (size_t)am->dperiod);
}

/* ops.load: reads arima_save's layout and validates every field. */
static tsl_err arima_load(tsl_model *m, tsl_rbuf *r, uint16_t version, tsl_diag *d) {
    (void)version;
    arima_model *am = tsl_calloc(1, sizeof *am);
    m->state = am;
    tsl_arima_fit *f = &am->fit;
    tsl_arima_order *o = &f->ord;
    int v[8];
    for (int i = 0; i < 8; i++) v[i] = tsl_rbuf_u8(r);
    o->p = v[0], o->d = v[1], o->q = v[2], o->P = v[3], o->D = v[4], o->Q = v[5];
    f->constant = v[6];
    f->method = (tsl_arima_method)v[7];
    o->m = tsl_rbuf_i32(r);
    if (!tsl_rbuf_ok(r) || !order_ok(o) || (o->m != 1 && o->m != m->period) ||
        (f->constant != 0 && f->constant != 1) || v[7] > TSL_ARIMA_CSS ||
        (f->constant && o->d + o->D > 1))
        return tsl_diag_set(d, TSL_ECORRUPT, "ARIMA state: bad orders or period");
    int k = o->p + o->q + o->P + o->Q;
    tsl_rbuf_f64s(r, f->coef, (size_t)k);
    f->mu = tsl_rbuf_f64(r);
    f->sigma2 = tsl_rbuf_f64(r);
    f->loglik = tsl_rbuf_f64(r);
    f->aic = tsl_rbuf_f64(r);
    f->aicc = tsl_rbuf_f64(r);
    f->bic = tsl_rbuf_f64(r);
    f->nused = tsl_rbuf_u64(r);
    f->ncond = tsl_rbuf_u64(r);
    f->t = tsl_rbuf_u64(r);
    f->r = tsl_rbuf_i32(r);
    f->rd = tsl_rbuf_i32(r);
    shape s;
    shape_init(&s, o);
    if (!tsl_rbuf_ok(r) || f->r != s.r || f->rd != s.r + s.dd ||
        (size_t)f->rd > tsl_rbuf_left(r) / 8)
        return tsl_diag_set(d, TSL_ECORRUPT, "ARIMA state: bad state dimension");
    for (int i = 0; i < k; i++)
        if (!isfinite(f->coef[i]))
            return tsl_diag_set(d, TSL_ECORRUPT, "ARIMA state: non-finite coefficient");
    if (!ar_block_ok(f->coef, o->p) || !ar_block_ok(f->coef + o->p + o->q, o->P))
        return tsl_diag_set(d, TSL_ECORRUPT, "ARIMA state: the AR part is not stationary");
    if (!isfinite(f->mu) || (!f->constant && f->mu != 0) || !isfinite(f->sigma2) || f->sigma2 < 0 ||
        f->t < 1)
        return tsl_diag_set(d, TSL_ECORRUPT, "ARIMA state: bad constant, variance or time");
    size_t rd = (size_t)f->rd;
    f->a = tsl_malloc(rd * sizeof *f->a);
    f->P = tsl_calloc(rd * rd, sizeof *f->P);
    tsl_rbuf_f64s(r, f->a, rd);
    int hasP = tsl_rbuf_u8(r);
    if (hasP > 1 || (hasP && rd * (rd + 1) / 2 > tsl_rbuf_left(r) / 8))
        return tsl_diag_set(d, TSL_ECORRUPT, "ARIMA state: bad covariance block");
    if (hasP)
        for (size_t i = 0; i < rd; i++) {
            tsl_rbuf_f64s(r, f->P + i * rd + i, rd - i);
            for (size_t j = i + 1; j < rd; j++) f->P[j * rd + i] = f->P[i * rd + j];
        }
    am->dperiod = tsl_rbuf_i32(r);
    if (!tsl_rbuf_ok(r) || (am->dperiod != 0 && am->dperiod != m->period) ||
        (am->dperiod && (am->dperiod <= TSL_ARIMA_MAX_PERIOD || o->m != 1 ||
                         (size_t)am->dperiod > tsl_rbuf_left(r) / 8)))
        return tsl_diag_set(d, TSL_ECORRUPT, "ARIMA state: bad decomposition period");
    if (am->dperiod) {
        am->figure = tsl_malloc((size_t)am->dperiod * sizeof *am->figure);
        tsl_rbuf_f64s(r, am->figure, (size_t)am->dperiod);
        for (int i = 0; i < am->dperiod; i++)
            if (!isfinite(am->figure[i]))
                return tsl_diag_set(d, TSL_ECORRUPT, "ARIMA state: non-finite seasonal figure");
    }
    if (!tsl_rbuf_ok(r)) return tsl_diag_set(d, TSL_ECORRUPT, "ARIMA state is truncated");
    for (size_t i = 0; i < rd; i++) {
        if (!isfinite(f->a[i]) || !(f->P[i * rd + i] >= 0))
            return tsl_diag_set(d, TSL_ECORRUPT, "ARIMA state: bad filter state");
        for (size_t j = 0; j < rd; j++)
            if (!isfinite(f->P[i * rd + j]))
                return tsl_diag_set(d, TSL_ECORRUPT, "ARIMA state: bad filter state");
    }
    return TSL_OK;
}

const tsl_model_ops tsl_arima_ops = {TSL_MODEL_ARIMA, 1,          arima_fit,  arima_forecast,
                                     arima_update,    arima_save, arima_load, arima_model_free};
