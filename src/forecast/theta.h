/*
 * theta.h - what the Theta family (theta.c) exposes inside the engine beyond the model
 * interface: a read-only view of a fitted model's parameters and state, and a refit with given
 * parameters. Tests use both to check the recursions independently; AutoML may report the
 * parameters or reuse them on a new window.
 */
#ifndef TSLOOP_THETA_H
#define TSLOOP_THETA_H

#include <stddef.h>

#include "tsloop/err.h"
#include "tsloop/model.h"

/* How the series was seasonally adjusted before smoothing. */
typedef enum tsl_theta_season {
    TSL_THETA_SEASON_NONE = 0,
    TSL_THETA_SEASON_MULT = 1, /* y / figure: R's thetaf, and always for positive series */
    TSL_THETA_SEASON_ADD = 2   /* y - figure: series with a value <= 0 (tsloop's choice) */
} tsl_theta_season;

/* A fitted Theta, OTM or DOTM model. Values are on the seasonally adjusted scale. */
typedef struct tsl_theta_info {
    tsl_theta_season season;
    int period;
    const double *figure; /* period seasonal indices, figure[t % period] for the t-th value
                             since the first observation; NULL when not seasonal. Valid while
                             the model lives and is not updated. */
    double alpha;         /* smoothing parameter */
    double theta;         /* theta coefficient (2 for the standard method) */
    double ell0;          /* initial level */
    double level;         /* current level l_t */
    double drift;         /* Theta: half the slope of the linear trend; else 0 */
    double a, b;          /* OTM: intercept A_n and slope B_n of the trend line (fixed);
                             DOTM: the current A_t and B_t; Theta: 0 */
    double ybar;          /* DOTM: mean of the adjusted values so far; else 0 */
    double sigma2;        /* one-step innovation variance on the adjusted scale */
} tsl_theta_info;

/* Fills *out from a THETA, OTM or DOTM model; TSL_EINVAL for any other kind. */
tsl_err tsl_theta_inspect(const tsl_model *m, tsl_theta_info *out, tsl_diag *d);

/*
 * Refits m (THETA, OTM or DOTM) on y[0..n) like tsl_model_fit, seasonal test and adjustment
 * included, but with the parameters given instead of estimated: alpha in (0, 1], ell0 finite,
 * and for OTM and DOTM theta >= 1 (THETA ignores theta). m must have been fitted on y itself
 * (the same observation count); its calibration, if any, is kept. sigma2 is re-estimated. On
 * failure m is unchanged.
 */
tsl_err tsl_theta_refit(tsl_model *m, const double *y, size_t n, double alpha, double theta,
                        double ell0, tsl_diag *d);

#endif
