/*
 * decompose.h - seasonal decomposition of one series: classical (moving averages, as R's
 * stats::decompose), STL (loess, as R's stats::stl) and MSTL (repeated STL for several
 * periods, as R's forecast::mstl), the gap filling of R's forecast::na.interp, the
 * autocorrelation seasonality test of the Theta method, and the seasonal strength measure.
 *
 * Internal to the forecasting engine (no I/O, no model state). Theta uses the classical
 * decomposition and the seasonality test; ETS on long periods builds on STL; the MSTL model and
 * the choice of seasonal periods build on MSTL; AutoML may use the strength measures as series
 * features. docs/models/decomposition.md has the details.
 *
 * Indexing: y[0..n) is the series; the seasonal figure is indexed by position in the season
 * counted from y[0], i.e. figure[t % period] is the seasonal component of y[t]. A caller whose
 * series starts mid-season (a model after updates, say) rotates by its own phase.
 *
 * Missing values (NaN): R's decompose() and stl() refuse gaps inside the series. Both tsloop
 * decompositions fill them by linear interpolation between the neighbouring observations before
 * decomposing, and report a NaN remainder at each filled point. Leading and trailing missing
 * values are taken by the classical decomposition as R takes them (no trend where the moving
 * average would need them, the figure averages what is left) and refused by STL: trim them.
 */
#ifndef TSLOOP_DECOMPOSE_H
#define TSLOOP_DECOMPOSE_H

#include <stddef.h>
#include <stdint.h>

#include "tsloop/err.h"
#include "tsloop/model.h"

typedef enum tsl_decomp_type {
    TSL_DECOMP_ADDITIVE = 0,      /* y = trend + seasonal + remainder */
    TSL_DECOMP_MULTIPLICATIVE = 1 /* y = trend * seasonal * remainder */
} tsl_decomp_type;

/* A decomposition. Every array is owned by the struct and released by tsl_decomp_free. */
typedef struct tsl_decomp {
    size_t n;
    int period;
    tsl_decomp_type type; /* STL is always additive */
    double *trend;        /* n; classical: NaN for the first and last period/2 values */
    double *seasonal;     /* n; seasonal[t] == figure[t % period] for classical and periodic STL */
    double *remainder;    /* n; NaN where the trend is, or (STL) where y was missing */
    double *figure;       /* period: classical figure, or STL's mean seasonal per position */
    double *weights;      /* n: STL robustness weights (all 1 when not robust); NULL classical */
} tsl_decomp;

/* Releases the arrays of dc and zeroes it; the struct may be reused. NULL is a no-op. */
void tsl_decomp_free(tsl_decomp *dc);

/*
 * Classical decomposition exactly as R's decompose(): the trend is the centred moving average
 * of order period (a 2 x period average for even periods), the figure is the mean of the
 * detrended values at each position, normalised to sum 0 (additive) or to mean 1
 * (multiplicative). Needs period >= 2 and at least 2 * period observed values (TSL_ESHORT
 * otherwise) and, for each position of the season, at least one detrended value. On success
 * *out owns new arrays (it is overwritten, not freed: pass a zeroed or freed struct).
 */
tsl_err tsl_decomp_classical(const double *y, size_t n, int period, tsl_decomp_type type,
                             tsl_decomp *out, tsl_diag *d);

/*
 * STL options, mirroring R's stl() arguments. tsl_stl_opts_init sets R's defaults, with
 * s.window = "periodic"; a window or jump left at 0 (degree at -1, inner/outer at -1) takes
 * R's default for it when tsl_decomp_stl runs:
 *   t_window = nextodd(ceil(1.5 * period / (1 - 1.5 / s_window))), l_window = nextodd(period),
 *   l_degree = t_degree, x_jump = ceil(x_window / 10), inner = robust ? 1 : 2,
 *   outer = robust ? 15 : 0.
 * As in R's Fortran, windows below 3 become 3 and even windows are made odd by adding one.
 */
typedef struct tsl_stl_opts {
    int periodic; /* 1: s.window = "periodic" (window 10 n + 1, degree 0, means per position) */
    int s_window; /* seasonal loess window when !periodic (R requires one: no default) */
    int s_degree; /* 0 or 1; default 0 */
    int t_window; /* trend loess window; 0 = default */
    int t_degree; /* 0 or 1; default 1 */
    int l_window; /* low-pass loess window; 0 = default */
    int l_degree; /* 0 or 1; -1 = t_degree */
    int s_jump, t_jump, l_jump; /* loess evaluated every jump points, interpolated between */
    int robust;                 /* 1: bisquare robustness weights (R's robust = TRUE) */
    int inner, outer;           /* iterations; -1 = default for `robust` */
} tsl_stl_opts;

void tsl_stl_opts_init(tsl_stl_opts *o);

/*
 * STL (Cleveland, Cleveland, McRae & Terpenning 1990) as R's stl(): needs period >= 2 and
 * n > 2 * period (TSL_ESHORT otherwise), and no leading or trailing NaN (TSL_EINVAL). Options
 * may be NULL for the defaults. On success *out owns new arrays; figure holds the mean seasonal
 * component at each position (for periodic STL, the seasonal component itself).
 */
tsl_err tsl_decomp_stl(const double *y, size_t n, int period, const tsl_stl_opts *opts,
                       tsl_decomp *out, tsl_diag *d);

/*
 * The seasonality test of R's forecast::thetaf() (Assimakopoulos & Nikolopoulos 2000; the
 * M4 benchmarks use it too): with r_k the lag-k sample autocorrelation, y is seasonal when
 *     |r_m| / sqrt((1 + 2 * sum_{k=1}^{m-1} r_k^2) / n) > qnorm(0.95) = 1.6449,
 * and only tested when m > 1, n > 2 m and y is not constant (R's is.constant: mean absolute
 * deviation from y[0] within 1.5e-8 of the mean absolute value); otherwise not seasonal.
 * (The M4 benchmark code asks for n >= 3 m instead; callers wanting that check n themselves.)
 * y must not contain NaN (TSL_EINVAL). *seasonal receives 0 or 1; stat, when not NULL, the
 * statistic |r_m| / limit-scale (NaN when not tested).
 */
tsl_err tsl_decomp_seasonal_test(const double *y, size_t n, int period, int *seasonal, double *stat,
                                 tsl_diag *d);

/*
 * Removes a season too long for a model's own seasonal terms (ETS beyond 24, ARIMA beyond 52),
 * as R's stlf() does: when the seasonality test above finds period m in y[0..n) (gaps filled
 * linearly, trailing missing values ignored, at least 2 m + 1 values), STL with seasonal window
 * 11 estimates it, *figure receives a new array of m values (figure[p]: the season at phase p,
 * phase 0 = y[0], from the last cycle) and adj[0..n) the series minus it, NaN kept. Without a
 * season, or too short a series, *figure is NULL and adj is untouched.
 */
tsl_err tsl_decomp_deseasonalise(const double *y, size_t n, int m, double *adj, double **figure,
                                 tsl_diag *d);

/* Adds the season figure[0..m) back to h forecast steps after t0 observations (step s has phase
 * (t0 + s) mod m): to mean[0..h) and to each of the nq quantiles of quant[s * nq + j]. */
void tsl_decomp_season_add(const double *figure, int m, uint64_t t0, size_t h, size_t nq,
                           double *mean, double *quant);

/*
 * Strength of seasonality and of trend (Wang, Smith & Hyndman 2006, as Hyndman's feasts
 * computes them): F_s = max(0, 1 - Var(R) / Var(S + R)), F_t = max(0, 1 - Var(R) / Var(T + R)),
 * over the points where the components are defined. A multiplicative decomposition is measured
 * on the log scale (its components must then be positive). Either output may be NULL. Fails with
 * TSL_ESHORT when fewer than 3 points have every component defined, TSL_ENUMERIC when the
 * components cannot be logged.
 */
tsl_err tsl_decomp_strength(const tsl_decomp *dc, double *seasonal_strength, double *trend_strength,
                            tsl_diag *d);

/* ---- MSTL ---- */

/* Seasonal periods one MSTL decomposition takes at most (the model spec's limit). */
#define TSL_MSTL_MAX_PERIODS TSL_MAX_PERIODS

/* Seasonal strength a period needs to be confirmed by tsl_mstl_confirm_periods: the threshold
 * of R's nsdiffs(test = "seas"), which applies it to the same MSTL strength. */
#define TSL_MSTL_STRENGTH_MIN 0.64

/*
 * MSTL options, mirroring R's mstl() arguments; tsl_mstl_opts_init (all zero) takes R's
 * defaults: iterate 2 when several periods were asked for and 1 for one (R's mstl() on a plain
 * ts), s.window = 7 + 4 * seq(6), i.e. 11, 15, 19, 23 for the periods in ascending order, and
 * STL's own defaults for everything else (not robust).
 */
typedef struct tsl_mstl_opts {
    int iterate;                        /* passes over the periods; 0 = R's default */
    int s_window[TSL_MSTL_MAX_PERIODS]; /* per period, ascending order; 0 = 7 + 4 (i + 1) */
    int robust;                         /* robust STL in every pass (R's robust = TRUE) */
} tsl_mstl_opts;

void tsl_mstl_opts_init(tsl_mstl_opts *o);

/* An MSTL decomposition: filled = trend + seasonal[0] + ... + remainder wherever y was observed.
 * Every array is owned by the struct and released by tsl_mstl_free. */
typedef struct tsl_mstl {
    size_t n;
    int nperiods; /* periods kept, ascending (see tsl_decomp_mstl) */
    int periods[TSL_MSTL_MAX_PERIODS];
    double *trend;                          /* n: the trend of the last STL pass */
    double *seasonal[TSL_MSTL_MAX_PERIODS]; /* n each: the component of periods[i] */
    double *remainder;                      /* n: NaN where y was missing */
    double *filled;                         /* n: y with its gaps filled (tsl_decomp_fill_gaps) */
} tsl_mstl;

/* Releases the arrays of m and zeroes it. NULL is a no-op. */
void tsl_mstl_free(tsl_mstl *m);

/*
 * MSTL (Bandara, Hyndman & Bergmeir 2021) as R's forecast::mstl(): periods (any order, distinct,
 * each >= 2; at most TSL_MSTL_MAX_PERIODS) are sorted, those with 2 * period >= n are dropped
 * (R: "fewer than two full periods"), gaps are filled by tsl_decomp_fill_gaps, and then, for
 * `iterate` passes, each period in ascending order gets its seasonal component re-estimated by
 * STL (s.window from opts) on the series minus the other components. The trend is the last STL
 * pass's. opts may be NULL for R's defaults. Fails with TSL_EINVAL on bad periods or options or
 * an infinite value, TSL_ESHORT when y has no observed value or every period was dropped. On
 * success *out owns new arrays (it is overwritten, not freed).
 */
tsl_err tsl_decomp_mstl(const double *y, size_t n, const int *periods, int nperiods,
                        const tsl_mstl_opts *opts, tsl_mstl *out, tsl_diag *d);

/*
 * Fills the missing values of y[0..n) into out[0..n) as R's forecast::na.interp() does for a
 * series with the given seasonal periods (ascending, each with 2 * period < n; none for a
 * non-seasonal series): linear interpolation (constant before the first and after the last
 * observation) when there is no period or at most 2 * max(period) values are observed; else a
 * least-squares fit of an intercept, a polynomial of degree min(n / 10, 6) in time and Fourier
 * terms (min(period / 2, 20) harmonics of each period, or min(period / 2, 5) with one period)
 * pre-fills the gaps, a robust MSTL of that series gives the seasonal components, and each gap
 * gets the linear interpolation of the seasonally adjusted observations plus the seasonal
 * components; should a filled value stray beyond the observed range widened by half of it on
 * each side, the linear interpolation is used instead. Observed values are copied unchanged.
 * Fails with TSL_ESHORT when nothing is observed, TSL_EINVAL on bad periods.
 */
tsl_err tsl_decomp_fill_gaps(const double *y, size_t n, const int *periods, int nperiods,
                             double *out, tsl_diag *d);

/*
 * The seasonal strength of each component of m, as R's forecast:::seas.heuristic computes it:
 * strength[i] = max(0, min(1, 1 - Var(R) / Var(R + S_i))) over the points where the remainder
 * is defined (0 when Var(R + S_i) is 0). strength has room for m->nperiods values. Fails with
 * TSL_ESHORT when fewer than 3 points have a remainder.
 */
tsl_err tsl_mstl_strength(const tsl_mstl *m, double *strength, tsl_diag *d);

/*
 * Confirms candidate seasonal periods on the data: of cand[0..ncand) (values below 2 are
 * ignored, duplicates merged, at most TSL_MSTL_MAX_PERIODS distinct ones), the periods with
 * more than two full cycles between the first and the last observed value are decomposed
 * together by MSTL (R's defaults), and those whose component has a seasonal strength above
 * TSL_MSTL_STRENGTH_MIN are written to out in ascending order (room for ncand values), their
 * count to *nout (0 when none is confirmed, or y is too short for any). Fails with TSL_EINVAL
 * on too many candidates or an infinite value.
 */
tsl_err tsl_mstl_confirm_periods(const double *y, size_t n, const int *cand, int ncand, int *out,
                                 int *nout, tsl_diag *d);

#endif
