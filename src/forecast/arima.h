/*
 * arima.h - the seasonal ARIMA model's internal entry points (arima.c), below the tsl_model
 * interface.
 *
 * tsl_arima_ops (model_impl.h) is all that AutoML and serving need. These functions exist for
 * the unit tests, which check each stage against R (stats::arima, forecast::Arima(),
 * forecast::auto.arima(), ndiffs(), nsdiffs()), and for the benchmarks. They work on plain
 * arrays, hold no global state and are safe to call from several threads.
 *
 * Conventions follow R's stats::arima so that numbers can be compared directly:
 *     phi(B) Phi(B^m) (1 - B)^d (1 - B^m)^D (y_t - c_t) = theta(B) Theta(B^m) e_t
 * with phi(B) = 1 - ar_1 B - ... - ar_p B^p, theta(B) = 1 + ma_1 B + ... + ma_q B^q (the seasonal
 * polynomials alike), e_t ~ N(0, sigma2), and c_t the constant: a mean mu when d + D = 0, a
 * drift mu * t (t = 1 at the first observation) when d + D = 1, nothing otherwise. Coefficients
 * are stored in R's order: ar[p], ma[q], sar[P], sma[Q].
 */
#ifndef TSLOOP_ARIMA_H
#define TSLOOP_ARIMA_H

#include <stddef.h>
#include <stdint.h>

#include "tsloop/err.h"
#include "tsloop/model.h"

/* Largest orders a fit accepts (auto.arima searches p, q <= 5 and P, Q <= 2). */
#define TSL_ARIMA_MAX_P  12
#define TSL_ARIMA_MAX_Q  12
#define TSL_ARIMA_MAX_SP 4
#define TSL_ARIMA_MAX_SQ 4
#define TSL_ARIMA_MAX_D  2
#define TSL_ARIMA_MAX_SD 2
#define TSL_ARIMA_NCOEF  (TSL_ARIMA_MAX_P + TSL_ARIMA_MAX_Q + TSL_ARIMA_MAX_SP + TSL_ARIMA_MAX_SQ)

/* Longest seasonal period modelled by seasonal ARIMA terms; longer seasons are removed by STL
 * first (see arima.c, "Long seasonal periods"). */
#define TSL_ARIMA_MAX_PERIOD 52

/* How the coefficients were estimated. */
typedef enum tsl_arima_method {
    TSL_ARIMA_CSS_ML = 0, /* conditional sum of squares for start values, then exact ML */
    TSL_ARIMA_ML = 1,     /* exact ML from zero start values */
    TSL_ARIMA_CSS = 2     /* conditional sum of squares only */
} tsl_arima_method;

typedef struct tsl_arima_order {
    int p, d, q;
    int P, D, Q;
    int m; /* seasonal period; 1 when the model has no seasonal part */
} tsl_arima_order;

/* A fitted ARIMA model: everything the forecast and updates need, and R's fit statistics. */
typedef struct tsl_arima_fit {
    tsl_arima_order ord;
    int constant;                  /* 1 when c_t is present (a mean or a drift) */
    double coef[TSL_ARIMA_NCOEF];  /* ar[p], ma[q], sar[P], sma[Q] */
    double mu;                     /* the mean, or the drift per step; 0 without a constant */
    double sigma2;                 /* innovation variance, as forecast::Arima() reports it */
    double loglik, aic, aicc, bic; /* R's; NaN for a perfect (zero-variance) fit */
    size_t nused;                  /* observations in the likelihood (R's n.used) */
    size_t ncond;                  /* CSS: conditioning values (R's n.cond); 0 for ML */
    tsl_arima_method method;
    /* The filter: the state a[rd] = (ARMA part a[0..r), the last d + mD values of
     * y - c_t, newest first) after the last observation, its covariance P[rd * rd] in units of
     * sigma2 (row-major), and the time index of the last observation (for the drift). */
    int r, rd;
    double *a, *P;
    uint64_t t;
} tsl_arima_fit;

/* Releases the arrays of a fit and zeroes it; NULL is a no-op. */
void tsl_arima_fit_release(tsl_arima_fit *f);

/* Writes R's arima.string() of a fit, "ARIMA(1,1,1)(0,1,1)[12] with drift", into buf. */
void tsl_arima_name(const tsl_arima_fit *f, char *buf, size_t cap);

/*
 * Fits one order as forecast::Arima(y, order, seasonal, include.constant = constant,
 * method): y[0..n) with y[0] observed, NaN = missing. Fails with TSL_ESHORT when there are no
 * more observed values than differences and coefficients, TSL_EINVAL on a bad order, TSL_ENUMERIC
 * when the likelihood could not be evaluated anywhere. On success *out owns new arrays (release
 * with tsl_arima_fit_release).
 */
tsl_err tsl_arima_fit_order(const double *y, size_t n, const tsl_arima_order *ord, int constant,
                            tsl_arima_method method, tsl_arima_fit *out, tsl_diag *d);

/*
 * The log-likelihood at given coefficients (coef in R's order, mu the constant when `constant`)
 * and sigma2 = ssq / nused as stats::arima reports it. With `diffuse`, or when y has missing
 * values: R's filter over the whole state with its diffuse prior (kappa = 1e6) on the
 * differencing states, the way stats::arima computes it; otherwise the exact likelihood of the
 * differenced series that fits use (they differ by a constant that does not depend on the
 * coefficients). For the tests, which compare both with R at R's own estimates.
 */
tsl_err tsl_arima_loglik(const double *y, size_t n, const tsl_arima_order *ord, int constant,
                         const double *coef, double mu, int diffuse, double *loglik, double *sigma2,
                         tsl_diag *d);

/*
 * Automatic selection as forecast::auto.arima(y) with its defaults, under the orders the spec
 * fixes (spec->arima_* >= 0 fixes that order; -1 chooses it), spec->arima_constant and
 * spec->arima_stepwise. spec->period is the seasonal period (at most TSL_ARIMA_MAX_PERIOD).
 * *out as tsl_arima_fit_order.
 */
tsl_err tsl_arima_auto(const double *y, size_t n, const tsl_model_spec *spec, tsl_arima_fit *out,
                       tsl_diag *d);

/* The spec that refits fitted ARIMA model m's orders and constant without searching (AutoML's
 * backtests choose the orders once per series; see docs/automl.md). */
void tsl_arima_chosen_spec(const tsl_model *m, tsl_model_spec *out);

/* Forecasts h steps after the fit's state: mean[h] and, when nq > 0, quant[h * nq] (Gaussian,
 * the state-space forecast variance, as forecast.Arima()). */
tsl_err tsl_arima_forecast_fit(const tsl_arima_fit *f, size_t h, const double *levels, size_t nq,
                               double *mean, double *quant, tsl_diag *d);

/* Filters y[0..n) (NaN = missing) through the fit with its coefficients fixed, advancing its
 * state; err1[n] (may be NULL) receives actual - one-step forecast (NaN where missing). */
void tsl_arima_update_fit(tsl_arima_fit *f, const double *y, size_t n, double *err1);

/* Recomputes the filter state of f (a, P, t) from scratch over y[0..n) (y[0] observed) at its
 * coefficients, as a fit does after estimation. Fails as tsl_arima_fit_order on too short a
 * series. */
tsl_err tsl_arima_refilter(tsl_arima_fit *f, const double *y, size_t n, tsl_diag *d);

/* ---- the differencing tests ---- */

/* The KPSS level-stationarity statistic of y[0..n) as urca::ur.kpss(type = "mu", use.lag =
 * trunc(3 sqrt(n) / 13)), the lag forecast::ndiffs() uses. NaN for n < 2. */
double tsl_arima_kpss(const double *y, size_t n);

/* forecast::ndiffs(y) (KPSS at 5%, max.d = 2); missing values are dropped first, as R does. */
int tsl_arima_ndiffs(const double *y, size_t n);

/* forecast's seasonal strength heuristic (seas.heuristic: STL with seasonal window 11) of
 * y[0..n) at period m; NaN when n <= 2m. */
double tsl_arima_seas_strength(const double *y, size_t n, int m);

/* forecast::nsdiffs(y) with its default test ("seas": strength above 0.64), max.D = 1. */
int tsl_arima_nsdiffs(const double *y, size_t n, int m);

#endif
