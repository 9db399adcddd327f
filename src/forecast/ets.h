/*
 * ets.h - the ETS model's internal entry points (ets.c), below the tsl_model interface.
 *
 * tsl_ets_ops (model_impl.h) is all that AutoML and serving need. These functions exist for
 * two other callers:
 *   - the unit tests, which check the filter and likelihood against R's forecast package at
 *     R's own parameters and initial states (tsl_ets_filter), and the automatic selection;
 *   - other models that fit ETS on a transformed array, e.g. a seasonal-decomposition path for
 *     periods above TSL_ETS_MAX_PERIOD: decompose, fit a non-seasonal form on the seasonally
 *     adjusted values with tsl_ets_auto (or tsl_ets_fit_form), forecast it with
 *     tsl_ets_forecast_fit and add the seasonal component back. They work on plain arrays and
 *     a tsl_ets_fit value, hold no global state and are safe to call from several threads.
 *
 * State layout, as R's ets() reports it: x[0] = level, x[1] = trend (when the form has one),
 * then the m seasonal states s_1..s_m, s_1 the newest (the season of the last observation)
 * and s_m the oldest (the season of the next one).
 */
#ifndef TSLOOP_ETS_H
#define TSLOOP_ETS_H

#include <stddef.h>

#include "tsloop/err.h"
#include "tsloop/model.h"

/* Component kinds; the values are part of the serialized state. */
#define TSL_ETS_NONE 0
#define TSL_ETS_ADD  1
#define TSL_ETS_MUL  2

/* The longest seasonal period ETS handles itself (as R's ets()). */
#define TSL_ETS_MAX_PERIOD 24
#define TSL_ETS_MAX_STATE  (2 + TSL_ETS_MAX_PERIOD)

typedef struct tsl_ets_form {
    int error;  /* TSL_ETS_ADD or TSL_ETS_MUL */
    int trend;  /* TSL_ETS_NONE, TSL_ETS_ADD or TSL_ETS_MUL */
    int season; /* TSL_ETS_NONE, TSL_ETS_ADD or TSL_ETS_MUL */
    int damped; /* 1 for a damped trend; 0 without a trend */
} tsl_ets_form;

/* A fitted ETS model: everything the forecast and update need. */
typedef struct tsl_ets_fit {
    tsl_ets_form form;
    int m; /* seasonal period of the state: 1 for non-seasonal forms */
    /* Smoothing parameters in the error-correction form of Hyndman et al. (2008): beta is 0
     * without a trend, gamma 0 without a season, phi 1 without damping. */
    double alpha, beta, gamma, phi;
    double x0[TSL_ETS_MAX_STATE]; /* initial state (before the first observation) */
    double x[TSL_ETS_MAX_STATE];  /* state after the last absorbed observation */
    double sigma2;    /* innovation variance (relative errors for multiplicative error) */
    double loglik;    /* R's log-likelihood, -0.5 * (n log SSE + 2 sum log|f|); NaN: none */
    double aicc;      /* corrected AIC on R's scale; NaN for the short-series fallback */
    size_t nobs;      /* observed values in the likelihood */
    int npar;         /* smoothing parameters + free initial states (R's length(par)) */
    int holt_winters; /* 1 when fitted by R's short-series Holt-Winters fallback */
} tsl_ets_fit;

/* Number of state values of a form with period m: 1 + trend + m (seasonal). */
int tsl_ets_nstate(const tsl_ets_form *form, int m);

/* Writes the form's R-style name, "ETS(M,Ad,N)", into buf of capacity cap. */
void tsl_ets_form_name(const tsl_ets_form *form, char *buf, size_t cap);

/* Runs the ETS recursion of `form` at parameters par = {alpha, beta, gamma, phi} (beta,
 * gamma ignored when the form lacks the component; phi ignored when undamped) from initial
 * state x0 (layout above, period m) over y[0..n), NaN = missing (the state advances by its
 * one-step prediction). Writes R's -2 log-likelihood term, n log SSE (+ 2 sum log|f| for
 * multiplicative error) to *lik (+inf when undefined), the final state to xn (may be NULL),
 * and when not NULL: states[(n + 1) * nstate] (row t = state after t observations, as R's
 * fit$states), e[n] the innovations (relative for multiplicative error, NaN where missing)
 * and fitted[n] the one-step forecasts. Fails with TSL_EINVAL on a bad form or period. */
tsl_err tsl_ets_filter(const tsl_ets_form *form, int m, const double par[4], const double *x0,
                       const double *y, size_t n, double *lik, double *xn, double *states,
                       double *e, double *fitted, tsl_diag *d);

/* The gradient of tsl_ets_filter's lik with respect to par[0..4) (alpha, beta, gamma, phi;
 * entries of absent components are 0) and to every value of x0 (seasonal states taken as
 * free, without the normalisation the fit imposes), by reverse-mode differentiation of the
 * recursion. *lik is +inf and the gradient unset when the likelihood is undefined. */
tsl_err tsl_ets_lik_gradient(const tsl_ets_form *form, int m, const double par[4], const double *x0,
                             const double *y, size_t n, double *lik, double gpar[4], double *gx0,
                             tsl_diag *d);

/* Fits one form by maximum likelihood, as R's etsmodel(): y[0..n) with y[0] observed, period
 * m (1 <= m <= TSL_ETS_MAX_PERIOD; ignored by non-seasonal forms). Fails with TSL_ESHORT when
 * the form has at least nobs - 1 parameters, TSL_EINVAL when the form is not allowed for the
 * data (multiplicative components on non-positive data), TSL_ENUMERIC when no admissible
 * parameters were found. */
tsl_err tsl_ets_fit_form(const double *y, size_t n, int m, const tsl_ets_form *form,
                         tsl_ets_fit *out, tsl_diag *d);

/* Automatic ETS as R's ets(y, model = spec form, damped = spec damping): the candidate set
 * from the spec, the short-series Holt-Winters fallback, the constant-series rule, and
 * selection by AICc. spec->period is the seasonal period; periods above TSL_ETS_MAX_PERIOD
 * are fitted without seasonality when the season is 'Z' and refused (TSL_EUNSUPPORTED) when
 * it is 'A' or 'M'. */
tsl_err tsl_ets_auto(const double *y, size_t n, const tsl_model_spec *spec, tsl_ets_fit *out,
                     tsl_diag *d);

/* Forecasts h steps after the fit's state: mean[h] (the point forecast recursion) and, when
 * nq > 0, quant[h * nq] at the given levels: analytic for R's classes 1-3, simulated for
 * multiplicative-trend forms (a fixed-seed generator, so the result is reproducible). */
tsl_err tsl_ets_forecast_fit(const tsl_ets_fit *fit, size_t h, const double *levels, size_t nq,
                             double *mean, double *quant, tsl_diag *d);

/* Filters y[0..n) through the fit with its parameters fixed, advancing fit->x; err1[n] (may be
 * NULL) receives actual - one-step forecast (NaN where missing). */
void tsl_ets_update_fit(tsl_ets_fit *fit, const double *y, size_t n, double *err1);

/* 1 when all roots of the characteristic polynomial of a seasonal ETS model with period m lie
 * in the unit disc (up to R's 1e-10 tolerance), together with R's simpler admissibility
 * conditions: Hyndman et al. (2008) ch. 10, as forecast's admissible(). beta = 0 without a
 * trend, phi = 1 without damping. */
int tsl_ets_admissible(double alpha, double beta, double gamma, double phi, int m);

/* The spec that refits fitted ETS model m's form (error, trend, damping and, unless a seasonal
 * decomposition removed the season first, season) without searching the forms again. A
 * decomposed season stays as m's spec asked, so the refit decomposes again; a fit by R's
 * short-series fallback (or of a constant series) keeps m's spec, which decides that by length. */
void tsl_ets_chosen_spec(const tsl_model *m, tsl_model_spec *out);

#endif
