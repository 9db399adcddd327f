/*
 * croston.c - intermittent-demand models: Croston's method (Croston, Operational Research
 * Quarterly 23, 1972), the Syntetos-Boylan approximation (SBA; Syntetos & Boylan, IJF 21,
 * 2005) and Teunter-Syntetos-Babai (TSB; Teunter, Syntetos & Babai, EJOR 214, 2011), plus the
 * Syntetos-Boylan-Croston demand classification AutoML uses to decide when to try them.
 *
 * The filters. Croston smooths the non-zero demand sizes (z) and the intervals between them
 * (p), both updated only in a period with demand, and forecasts the rate z/p; SBA multiplies
 * that by 1 - alpha_rate/2 to remove Croston's bias; TSB smooths the size the same way but
 * replaces the interval by the probability of demand, updated every period towards 1 or 0, and
 * forecasts z * prob, so it decays through long runs of zeros (obsolescence). All forecast flat.
 * Before the first demand the forecast is 0. At the first demand each level starts from its
 * initial value and is updated with that demand (TSB's probability starts just after it): the
 * default fit estimates the initial values (below); R's forecast::croston() takes the first
 * demand and the number of periods up to and including it (TSB: prob = 1 / that number), which
 * is what tsl_intermittent_fit() does with NaN initial levels and the default fit does for
 * very short series. Croston's updates are written exactly as R's (alpha * x + (1 - alpha) *
 * level), so with alpha = 0.1 it reproduces forecast::croston() to rounding.
 *
 * Missing values are skipped as if the period did not exist: neither z, p nor prob changes and
 * the interval counter does not advance. Treating the gap as elapsed time would count a period
 * in which a demand may have happened unseen as one without demand, biasing the rate down by
 * the share of missing periods; when values go missing independently of demand, skipping them
 * leaves the intervals measured in observed periods with the same distribution as the full
 * series', so the rate estimate stays unbiased. Negative values are refused: demand is >= 0.
 *
 * Parameters (docs/models/intermittent.md). By default each smoother is fitted on its own, as
 * statsforecast's CrostonOptimized does, by least squares of its in-sample one-step errors: the
 * sizes' over the demands, the intervals' over the demands (Croston, SBA), and for TSB the
 * probability's over every period after the first demand, which is the Brier score of the
 * demand-probability forecast. Each smoother's initial level is estimated with its constant,
 * as R's ets() estimates initial states: for a given constant the errors are linear in the
 * initial level, so the best level has a closed form and only the constant is searched (a grid
 * at steps of 0.01, then golden-section search in the best cell). Starting at the first value
 * instead, as R's croston() does, lets one unusual first demand drive the constant to its upper
 * bound. Ranges: [0.05, 0.3] for sizes and intervals (Syntetos & Boylan's recommended region;
 * statsforecast uses [0.1, 0.3]) and [0.01, 0.3] for TSB's probability, which is updated every
 * period rather than once per demand and so needs smaller constants for the same memory.
 * Initial levels are kept within the observed sizes, intervals >= 1 and probabilities in
 * [1/n, 1]. With fewer than MIN_DEMANDS_OPT demands there is too little to estimate anything:
 * both constants are 0.1 and the initialisation is R's. tsl_intermittent_fit() takes fixed
 * parameters instead.
 *
 * Prediction quantiles. These methods have no stochastic model worth the name, so the
 * distribution is learned from the fitted history: from every origin t after the first demand
 * (at most the last MAX_ORIGINS), with the final parameters and the filtered state, the ratio
 * y[t+k] / f_t of each later actual to the flat forecast is collected for steps k = 1..H,
 * H = max(period, 8) but at most half the series and MAX_STEPS. Per step, the ratio quantiles on
 * a dense level grid are stored; a forecast's quantile at level tau and step k is f * r_k(tau)
 * (r interpolated linearly in level, clamped to the grid's ends). Ratios rather than
 * differences because the demand distribution scales with the rate: a period without demand is
 * a ratio of exactly 0, so low quantiles are 0 when zeros are common, and after an update that
 * doubles the rate the band doubles with it. The denominator is floored at a tenth of the
 * series' mean, so origins where TSB's forecast had decayed almost to zero cannot produce
 * unbounded ratios. The band never narrows with the step (lower quantiles take the running
 * minimum over steps, upper ones the running maximum); beyond H the relative error r - 1 is
 * scaled by sqrt(step / H), as model.c scales calibrations. With fewer than MIN_RATIOS ratios at
 * step 1 (very short histories), quantiles come from the two-point distribution the method
 * implies, computed from the current state at forecast time: 0 with probability 1 - pi and z
 * with probability pi (pi = 1/p for Croston and SBA, prob for TSB).
 */
#include "intermittent.h"

#include <assert.h>
#include <string.h>

#include "model_impl.h"
#include "tsloop/mem.h"

#define ALPHA_DEFAULT    0.1
#define ALPHA_LO         0.05
#define ALPHA_HI         0.30
#define PROB_LO          0.01
#define PROB_HI          0.30
#define GRID_STEP        0.01
#define TIE_TOL          1e-12 /* SSE differences below this share of sum x^2 are rounding */
#define MIN_DEMANDS_OPT  5     /* demands needed before parameters are estimated */
#define MAX_ORIGINS      2000  /* most recent forecast origins used for the quantiles */
#define MAX_STEPS        400   /* cap on the calibrated horizon H */
#define MIN_RATIOS       8     /* ratios needed at step 1 for the empirical quantiles */
#define RATIO_FLOOR      0.1   /* ratio denominators floored at this share of the mean */
#define MAX_STATE_STEPS  100000
#define MAX_STATE_LEVELS 1000

/* The level grid of the stored ratio quantiles: dense in the tails, where intervals live. */
static const double level_grid[] = {0.005, 0.01, 0.025, 0.05, 0.1,   0.15, 0.2,  0.25, 0.3,
                                    0.35,  0.4,  0.45,  0.5,  0.55,  0.6,  0.65, 0.7,  0.75,
                                    0.8,   0.85, 0.9,   0.95, 0.975, 0.99, 0.995};
#define NLEVELS (sizeof level_grid / sizeof level_grid[0])

typedef struct icroston {
    double alpha_size, alpha_rate;
    double init_size, init_rate; /* NaN = R's initialisation (see tsl_intermittent_params) */
    int started;                 /* a demand has been seen; before it the forecast is 0 */
    double size;                 /* z: smoothed demand size (0 before the first demand) */
    double rate;                 /* Croston/SBA: smoothed interval p; TSB: probability of demand */
    uint64_t since;              /* observed periods since the last demand, or since the start */
    uint32_t steps;              /* H; 0 = quantiles from the two-point distribution */
    uint32_t nlev;
    double *levels; /* nlev */
    double *ratio;  /* steps * nlev: quantiles of y[t+k] / f_t, row k-1 */
} icroston;

/* Releases a state (NULL is a no-op). */
static void icroston_free(void *p) {
    icroston *s = p;
    if (!s) return;
    tsl_free(s->levels);
    tsl_free(s->ratio);
    tsl_free(s);
}

/* The flat point forecast of state s for model kind. */
static double point_forecast(const icroston *s, tsl_model_kind kind) {
    if (!s->started) return 0.0;
    switch (kind) {
    case TSL_MODEL_TSB:
        return s->size * s->rate;
    case TSL_MODEL_SBA:
        return (1.0 - s->alpha_rate / 2.0) * s->size / s->rate;
    default:
        return s->size / s->rate;
    }
}

/* Filters one observation into s and returns the one-step error y - forecast (NaN when y is
 * missing, which leaves s unchanged). y must not be negative. */
static double push(icroston *s, tsl_model_kind kind, double y) {
    double fc = point_forecast(s, kind);
    if (isnan(y)) return NAN;
    assert(y >= 0);
    double as = s->alpha_size, ar = s->alpha_rate;
    s->since++;
    if (kind == TSL_MODEL_TSB) {
        if (y > 0) {
            if (!s->started) {
                s->size = isnan(s->init_size) ? y : s->init_size;
                s->size = as * y + (1.0 - as) * s->size;
                s->rate = isnan(s->init_rate) ? 1.0 / (double)s->since : s->init_rate;
                s->started = 1;
            } else {
                s->size = as * y + (1.0 - as) * s->size;
                s->rate = ar + (1.0 - ar) * s->rate;
            }
            s->since = 0;
        } else if (s->started) {
            s->rate = (1.0 - ar) * s->rate;
        }
    } else if (y > 0) {
        double q = (double)s->since;
        /* R's ses(initial = "simple") starts the level at the first value and then updates
         * with it too; doing the same keeps the arithmetic identical to forecast::croston(). */
        if (!s->started) {
            s->size = isnan(s->init_size) ? y : s->init_size;
            s->rate = isnan(s->init_rate) ? q : s->init_rate;
            s->started = 1;
        }
        s->size = as * y + (1.0 - as) * s->size;
        s->rate = ar * q + (1.0 - ar) * s->rate;
        s->since = 0;
    }
    return y - fc;
}

/* Sum of squared one-step errors of exponential smoothing with constant a over x[0..k),
 * starting from level init. */
static double ses_sse(const double *x, size_t k, double init, double a) {
    double level = init, sse = 0;
    for (size_t i = 0; i < k; i++) {
        double e = x[i] - level;
        sse += e * e;
        level = a * x[i] + (1.0 - a) * level;
    }
    return sse;
}

/* The initial level minimising ses_sse for constant a, clamped to [lo, hi]. Smoothing from a
 * level l0 gives errors r_i - w_i * l0, with r_i the errors from a start at zero and
 * w_i = (1 - a)^i, so the least-squares l0 is sum r_i w_i / sum w_i^2 (w_0 = 1: no division by
 * zero). */
static double ses_init(const double *x, size_t k, double a, double lo, double hi) {
    double level = 0, w = 1, srw = 0, sww = 0;
    for (size_t i = 0; i < k; i++) {
        double r = x[i] - level;
        srw += r * w;
        sww += w * w;
        level = a * x[i] + (1.0 - a) * level;
        /* Past 1e-150 the weight no longer changes the sums; stopping it there keeps the
         * loop out of subnormal arithmetic, which is many times slower. */
        w = w > 1e-150 ? w * (1.0 - a) : 0.0;
    }
    return fmin(hi, fmax(lo, srw / sww));
}

/* The profile objective: the SSE at constant a with the best initial level in [lo, hi]. */
static double ses_profile(const double *x, size_t k, double a, double lo, double hi) {
    return ses_sse(x, k, ses_init(x, k, a, lo, hi), a);
}

/* Fits exponential smoothing to x[0..k): the constant in [alo, ahi] minimising the profile SSE
 * and the initial level in [lo, hi] that goes with it. The constant is the smallest point of a
 * grid at GRID_STEP whose SSE is within rounding (TIE_TOL of sum x^2) of the grid's best, so
 * ties (a constant series fits any constant exactly) keep the most smoothing and do not depend
 * on rounding noise; then golden-section search within a grid step either side of it, kept
 * only when it improves on the grid by more than rounding. The grid guards against the several
 * local minima SSE curves of short series often have. */
static void fit_ses(const double *x, size_t k, double alo, double ahi, double lo, double hi,
                    double *alpha, double *init) {
    double v[64], vmin = INFINITY, scale = 0;
    size_t ngrid = (size_t)((ahi - alo) / GRID_STEP + 0.5) + 1;
    assert(ngrid <= sizeof v / sizeof v[0]);
    for (size_t i = 0; i < k; i++) scale += x[i] * x[i];
    double tol = TIE_TOL * scale;
    for (size_t i = 0; i < ngrid; i++) {
        v[i] = ses_profile(x, k, fmin(ahi, alo + (double)i * GRID_STEP), lo, hi);
        vmin = fmin(vmin, v[i]);
    }
    size_t bi = 0;
    while (bi + 1 < ngrid && !(v[bi] <= vmin + tol)) bi++;
    double best = fmin(ahi, alo + (double)bi * GRID_STEP);
    const double invphi = 0.6180339887498949;
    double a = fmax(alo, best - GRID_STEP), b = fmin(ahi, best + GRID_STEP);
    double c = b - invphi * (b - a), e = a + invphi * (b - a);
    double fc = ses_profile(x, k, c, lo, hi), fe = ses_profile(x, k, e, lo, hi);
    while (b - a > 1e-7) {
        if (fc <= fe) {
            b = e;
            e = c;
            fe = fc;
            c = b - invphi * (b - a);
            fc = ses_profile(x, k, c, lo, hi);
        } else {
            a = c;
            c = e;
            fc = fe;
            e = a + invphi * (b - a);
            fe = ses_profile(x, k, e, lo, hi);
        }
    }
    double mid = 0.5 * (a + b);
    if (ses_profile(x, k, mid, lo, hi) < vmin - tol) best = mid;
    *alpha = best;
    *init = ses_init(x, k, best, lo, hi);
}

/* Chooses the parameters for kind from y[0..n) (see the file comment). */
static tsl_intermittent_params choose_params(tsl_model_kind kind, const double *y, size_t n) {
    tsl_intermittent_params p = {ALPHA_DEFAULT, ALPHA_DEFAULT, NAN, NAN};
    double *sizes = tsl_malloc(n * sizeof *sizes);
    double *rates = tsl_malloc(n * sizeof *rates);
    size_t k = 0, nr = 0, observed = 0;
    uint64_t since = 0;
    double zmin = INFINITY, zmax = 0, qmax = 1;
    for (size_t t = 0; t < n; t++) {
        if (isnan(y[t])) continue;
        observed++;
        since++;
        if (kind == TSL_MODEL_TSB && k > 0) rates[nr++] = y[t] > 0 ? 1.0 : 0.0;
        if (y[t] > 0) {
            if (kind != TSL_MODEL_TSB) rates[nr++] = (double)since;
            qmax = fmax(qmax, (double)since);
            zmin = fmin(zmin, y[t]);
            zmax = fmax(zmax, y[t]);
            sizes[k++] = y[t];
            since = 0;
        }
    }
    if (k >= MIN_DEMANDS_OPT) {
        fit_ses(sizes, k, ALPHA_LO, ALPHA_HI, zmin, zmax, &p.alpha_size, &p.init_size);
        if (kind == TSL_MODEL_TSB)
            fit_ses(rates, nr, PROB_LO, PROB_HI, 1.0 / (double)observed, 1.0, &p.alpha_rate,
                    &p.init_rate);
        else
            fit_ses(rates, nr, ALPHA_LO, ALPHA_HI, 1.0, qmax, &p.alpha_rate, &p.init_rate);
    }
    tsl_free(sizes);
    tsl_free(rates);
    return p;
}

/* Ratio quantile of row `row` at level tau, linear in level, clamped to the grid's ends. */
static double ratio_at(const icroston *s, const double *row, double tau) {
    if (tau <= s->levels[0]) return row[0];
    size_t last = s->nlev - 1;
    if (tau >= s->levels[last]) return row[last];
    size_t j = 1;
    while (s->levels[j] < tau) j++;
    double l0 = s->levels[j - 1], l1 = s->levels[j];
    return row[j - 1] + (tau - l0) / (l1 - l0) * (row[j] - row[j - 1]);
}

/* Sorts the ratios r[0..c) (>= 0) ascending. Most are zero on an intermittent series, so
 * only the positive ones go through the sort; the zeros are put in front. */
static void sort_ratios(double *r, size_t c) {
    size_t pos = 0;
    for (size_t i = 0; i < c; i++)
        if (r[i] > 0) r[pos++] = r[i];
    tsl_sort_doubles(r, pos);
    memmove(r + (c - pos), r, pos * sizeof *r);
    for (size_t i = 0; i < c - pos; i++) r[i] = 0;
}

/* Learns the per-step ratio quantiles from y[0..n) filtered with s's constants (see the file
 * comment); leaves steps = 0 when the history is too short. */
static void calibrate(icroston *s, tsl_model_kind kind, int period, const double *y, size_t n) {
    size_t steps = period > 8 ? (size_t)period : 8;
    if (steps > n / 2) steps = n / 2;
    if (steps > MAX_STEPS) steps = MAX_STEPS;
    s->steps = 0;
    if (steps < 1) return;
    double sum = 0;
    size_t observed = 0;
    for (size_t t = 0; t < n; t++) {
        if (isnan(y[t])) continue;
        sum += y[t];
        observed++;
    }
    double floor_f = RATIO_FLOOR * sum / (double)observed;
    size_t first_origin = n > MAX_ORIGINS + 1 ? n - 1 - MAX_ORIGINS : 0;
    size_t cap = n < MAX_ORIGINS ? n : MAX_ORIGINS; /* origins per step, the row stride */
    double *ratios = tsl_reallocarray(NULL, steps * cap, sizeof *ratios);
    size_t *count = tsl_calloc(steps, sizeof *count);
    icroston f = {.alpha_size = s->alpha_size,
                  .alpha_rate = s->alpha_rate,
                  .init_size = s->init_size,
                  .init_rate = s->init_rate};
    for (size_t t = 0; t + 1 < n; t++) {
        push(&f, kind, y[t]);
        double fc = point_forecast(&f, kind);
        if (t < first_origin || isnan(y[t]) || !f.started) continue;
        double den = fmax(fc, floor_f);
        for (size_t k = 0; k < steps && t + 1 + k < n; k++) {
            double v = y[t + 1 + k];
            if (isnan(v)) continue;
            assert(count[k] < cap);
            ratios[k * cap + count[k]++] = v / den;
        }
    }
    if (count[0] < MIN_RATIOS) goto out;
    s->steps = (uint32_t)steps;
    s->nlev = NLEVELS;
    s->levels = tsl_malloc(NLEVELS * sizeof *s->levels);
    memcpy(s->levels, level_grid, sizeof level_grid);
    s->ratio = tsl_reallocarray(NULL, steps * NLEVELS, sizeof *s->ratio);
    for (size_t k = 0; k < steps; k++) {
        double *row = s->ratio + k * NLEVELS;
        double *r = ratios + k * cap;
        if (count[k] >= MIN_RATIOS) {
            sort_ratios(r, count[k]);
            for (size_t j = 0; j < NLEVELS; j++)
                row[j] = tsl_quantile_sorted(r, count[k], level_grid[j]);
        } else {
            memcpy(row, row - NLEVELS, NLEVELS * sizeof *row);
        }
        if (k == 0) continue;
        const double *prev = row - NLEVELS;
        for (size_t j = 0; j < NLEVELS; j++)
            row[j] = level_grid[j] < 0.5 ? fmin(row[j], prev[j]) : fmax(row[j], prev[j]);
    }
out:
    tsl_free(ratios);
    tsl_free(count);
}

/* Builds the state of m from y[0..n) with constants p: filter, then quantile calibration. */
static tsl_err build(tsl_model *m, const double *y, size_t n, tsl_intermittent_params p,
                     tsl_diag *d) {
    tsl_model_kind kind = m->ops->kind;
    for (size_t t = 0; t < n; t++)
        if (y[t] < 0)
            return tsl_diag_set(d, TSL_EINVAL, "%s needs non-negative demand, but value %zu is %g",
                                tsl_model_kind_name(kind), t + 1, y[t]);
    icroston *s = tsl_calloc(1, sizeof *s);
    s->alpha_size = p.alpha_size;
    s->alpha_rate = p.alpha_rate;
    s->init_size = p.init_size;
    s->init_rate = p.init_rate;
    for (size_t t = 0; t < n; t++) push(s, kind, y[t]);
    calibrate(s, kind, m->period, y, n);
    m->state = s;
    tsl_strlcpy(m->name,
                kind == TSL_MODEL_TSB   ? "TSB"
                : kind == TSL_MODEL_SBA ? "SBA"
                                        : "Croston",
                sizeof m->name);
    return TSL_OK;
}

/* The default fit: parameters chosen from y, then the state built with them. */
static tsl_err icroston_fit(tsl_model *m, const double *y, size_t n, tsl_diag *d) {
    return build(m, y, n, choose_params(m->ops->kind, y, n), d);
}

/* Flat mean; quantiles from the ratio table, or the two-point distribution without one. */
static tsl_err icroston_forecast(const tsl_model *m, size_t h, const double *levels, size_t nq,
                                 double *mean, double *quant, tsl_diag *d) {
    (void)d;
    const icroston *s = m->state;
    tsl_model_kind kind = m->ops->kind;
    double f = point_forecast(s, kind);
    for (size_t i = 0; i < h; i++) mean[i] = f;
    if (nq == 0) return TSL_OK;
    if (s->steps == 0) {
        /* Two-point distribution: no demand with probability 1 - pi, else a demand of z. */
        double pi = !s->started ? 0.0 : kind == TSL_MODEL_TSB ? s->rate : 1.0 / s->rate;
        for (size_t i = 0; i < h; i++)
            for (size_t j = 0; j < nq; j++)
                quant[i * nq + j] = levels[j] <= 1.0 - pi ? 0.0 : s->size;
        return TSL_OK;
    }
    for (size_t i = 0; i < h; i++) {
        size_t row = i < s->steps ? i : s->steps - 1;
        double scale = i < s->steps ? 1.0 : sqrt((double)(i + 1) / (double)s->steps);
        for (size_t j = 0; j < nq; j++) {
            double r = ratio_at(s, s->ratio + row * s->nlev, levels[j]);
            quant[i * nq + j] = f + f * (r - 1.0) * scale;
        }
    }
    return TSL_OK;
}

/* Filters y forward with the parameters fixed; refuses a negative value before changing
 * anything. */
static tsl_err icroston_update(tsl_model *m, const double *y, size_t n, double *err1, tsl_diag *d) {
    tsl_model_kind kind = m->ops->kind;
    for (size_t i = 0; i < n; i++)
        if (y[i] < 0)
            return tsl_diag_set(d, TSL_EINVAL,
                                "%s needs non-negative demand, but new value %zu is %g",
                                tsl_model_kind_name(kind), i + 1, y[i]);
    for (size_t i = 0; i < n; i++) {
        double e = push(m->state, kind, y[i]);
        if (err1) err1[i] = e;
    }
    return TSL_OK;
}

/* State version 1: alpha_size alpha_rate init_size init_rate (f64) started (u8) size rate (f64)
 * since (u64) steps (u32), then when steps > 0: nlev (u32) levels[nlev] ratio[steps * nlev]. */
static void icroston_save(const tsl_model *m, tsl_wbuf *w) {
    const icroston *s = m->state;
    tsl_wbuf_put_f64(w, s->alpha_size);
    tsl_wbuf_put_f64(w, s->alpha_rate);
    tsl_wbuf_put_f64(w, s->init_size);
    tsl_wbuf_put_f64(w, s->init_rate);
    tsl_wbuf_put_u8(w, (uint8_t)s->started);
    tsl_wbuf_put_f64(w, s->size);
    tsl_wbuf_put_f64(w, s->rate);
    tsl_wbuf_put_u64(w, s->since);
    tsl_wbuf_put_u32(w, s->steps);
    if (s->steps == 0) return;
    tsl_wbuf_put_u32(w, s->nlev);
    tsl_wbuf_put_f64s(w, s->levels, s->nlev);
    tsl_wbuf_put_f64s(w, s->ratio, (size_t)s->steps * s->nlev);
}

/* Whether p holds usable parameters for kind: constants in (0, 1], initial levels NaN or in
 * range. */
static int params_ok(const tsl_intermittent_params *p, tsl_model_kind kind) {
    int tsb = kind == TSL_MODEL_TSB;
    int size_ok = isnan(p->init_size) || (isfinite(p->init_size) && p->init_size > 0);
    int rate_ok = isnan(p->init_rate) ||
                  (isfinite(p->init_rate) && p->init_rate > 0 && (!tsb || p->init_rate <= 1.0));
    return p->alpha_size > 0.0 && p->alpha_size <= 1.0 && p->alpha_rate > 0.0 &&
           p->alpha_rate <= 1.0 && size_ok && rate_ok;
}

/* Checks the loaded ratio table: levels strictly increasing in (0, 1), ratios finite, >= 0
 * and non-decreasing in level. */
static int ratios_ok(const icroston *s) {
    for (uint32_t j = 0; j < s->nlev; j++) {
        if (!(s->levels[j] > 0.0 && s->levels[j] < 1.0)) return 0;
        if (j && !(s->levels[j] > s->levels[j - 1])) return 0;
    }
    for (uint32_t k = 0; k < s->steps; k++) {
        const double *row = s->ratio + (size_t)k * s->nlev;
        for (uint32_t j = 0; j < s->nlev; j++) {
            if (!isfinite(row[j]) || row[j] < 0) return 0;
            if (j && row[j] < row[j - 1]) return 0;
        }
    }
    return 1;
}

/* Reads icroston_save's bytes, validating every field: parameters in range, a state consistent
 * with `started`, since <= nobs, a ratio table with increasing levels and finite, non-negative
 * ratios monotone in level. */
static tsl_err icroston_load(tsl_model *m, tsl_rbuf *r, uint16_t version, tsl_diag *d) {
    (void)version;
    icroston *s = tsl_calloc(1, sizeof *s);
    m->state = s;
    tsl_intermittent_params p;
    p.alpha_size = s->alpha_size = tsl_rbuf_f64(r);
    p.alpha_rate = s->alpha_rate = tsl_rbuf_f64(r);
    p.init_size = s->init_size = tsl_rbuf_f64(r);
    p.init_rate = s->init_rate = tsl_rbuf_f64(r);
    uint8_t started = tsl_rbuf_u8(r);
    s->started = started == 1;
    s->size = tsl_rbuf_f64(r);
    s->rate = tsl_rbuf_f64(r);
    s->since = tsl_rbuf_u64(r);
    s->steps = tsl_rbuf_u32(r);
    int tsb = m->ops->kind == TSL_MODEL_TSB;
    int state_ok = s->started ? isfinite(s->size) && s->size > 0 && isfinite(s->rate) &&
                                    (tsb ? s->rate >= 0 && s->rate <= 1 : s->rate > 0)
                              : s->size == 0 && s->rate == 0;
    if (!tsl_rbuf_ok(r) || started > 1 || !params_ok(&p, m->ops->kind) || !state_ok ||
        s->since > m->nobs || s->steps > MAX_STATE_STEPS)
        return tsl_diag_set(d, TSL_ECORRUPT, "%s state is malformed",
                            tsl_model_kind_name(m->ops->kind));
    if (s->steps == 0) return TSL_OK;
    s->nlev = tsl_rbuf_u32(r);
    if (!tsl_rbuf_ok(r) || s->nlev < 2 || s->nlev > MAX_STATE_LEVELS ||
        ((uint64_t)s->steps + 1) * s->nlev > tsl_rbuf_left(r) / 8)
        return tsl_diag_set(d, TSL_ECORRUPT, "%s quantile table is malformed",
                            tsl_model_kind_name(m->ops->kind));
    s->levels = tsl_malloc(s->nlev * sizeof *s->levels);
    s->ratio = tsl_reallocarray(NULL, (size_t)s->steps * s->nlev, sizeof *s->ratio);
    tsl_rbuf_f64s(r, s->levels, s->nlev);
    tsl_rbuf_f64s(r, s->ratio, (size_t)s->steps * s->nlev);
    if (!tsl_rbuf_ok(r) || !ratios_ok(s))
        return tsl_diag_set(d, TSL_ECORRUPT, "%s quantile table is malformed",
                            tsl_model_kind_name(m->ops->kind));
    return TSL_OK;
}

const tsl_model_ops tsl_croston_ops = {TSL_MODEL_CROSTON, 1,
                                       icroston_fit,      icroston_forecast,
                                       icroston_update,   icroston_save,
                                       icroston_load,     icroston_free};
const tsl_model_ops tsl_sba_ops = {TSL_MODEL_SBA,   1,
                                   icroston_fit,    icroston_forecast,
                                   icroston_update, icroston_save,
                                   icroston_load,   icroston_free};
const tsl_model_ops tsl_tsb_ops = {TSL_MODEL_TSB,   1,
                                   icroston_fit,    icroston_forecast,
                                   icroston_update, icroston_save,
                                   icroston_load,   icroston_free};

/* Whether kind is one of this file's models. */
static int is_intermittent(tsl_model_kind kind) {
    return kind == TSL_MODEL_CROSTON || kind == TSL_MODEL_SBA || kind == TSL_MODEL_TSB;
}

/* See intermittent.h: the common fit, then the state rebuilt with fixed parameters. */
tsl_err tsl_intermittent_fit(const tsl_model_spec *spec, const tsl_intermittent_params *p,
                             const double *y, size_t n, tsl_model **out, tsl_diag *d) {
    tsl_model *m = NULL;
    tsl_err rc = TSL_OK;
    *out = NULL;
    if (!spec || !is_intermittent(spec->kind)) {
        rc = tsl_diag_set(d, TSL_EINVAL, "fixed smoothing constants need croston, sba or tsb");
        goto out;
    }
    if (!params_ok(p, spec->kind)) {
        rc = tsl_diag_set(d, TSL_EINVAL,
                          "bad %s parameters: smoothing constants (%g, %g) must be in (0, 1], "
                          "initial levels (%g, %g) NaN or positive (a probability at most 1)",
                          tsl_model_kind_name(spec->kind), p->alpha_size, p->alpha_rate,
                          p->init_size, p->init_rate);
        goto out;
    }
    /* The common fit (leading NaN, checks, nobs, name) chooses its own constants; the state is
     * then rebuilt with the given ones, on the same values it saw. */
    rc = tsl_model_fit(spec, y, n, &m, d);
    if (rc) goto out;
    size_t first = 0;
    while (isnan(y[first])) first++;
    icroston_free(m->state);
    m->state = NULL;
    rc = build(m, y + first, n - first, *p, d);
    if (rc) goto out;
    *out = m;
    m = NULL;
out:
    tsl_model_free(m);
    return rc;
}

/* See intermittent.h. */
tsl_err tsl_intermittent_params_of(const tsl_model *m, tsl_intermittent_params *out, tsl_diag *d) {
    if (!is_intermittent(tsl_model_kind_of(m)))
        return tsl_diag_set(d, TSL_EINVAL, "%s is not an intermittent-demand model",
                            tsl_model_name(m));
    const icroston *s = m->state;
    out->alpha_size = s->alpha_size;
    out->alpha_rate = s->alpha_rate;
    out->init_size = s->init_size;
    out->init_rate = s->init_rate;
    return TSL_OK;
}

/* ---- demand classification ---- */

/* See intermittent.h; one pass, Welford's mean and variance of the sizes. */
void tsl_intermittent_classify(const double *y, size_t n, tsl_intermittency *out) {
    memset(out, 0, sizeof *out);
    double mean = 0, m2 = 0; /* Welford over the demand sizes */
    for (size_t t = 0; t < n; t++) {
        double v = y[t];
        if (isnan(v)) continue;
        out->observed++;
        if (v == 0) {
            out->zeros++;
        } else if (v < 0) {
            out->negatives++;
        } else {
            out->demands++;
            double delta = v - mean;
            mean += delta / (double)out->demands;
            m2 += delta * (v - mean);
        }
    }
    out->zero_share = out->observed ? (double)out->zeros / (double)out->observed : NAN;
    out->adi = !out->observed ? NAN
               : out->demands ? (double)out->observed / (double)out->demands
                              : INFINITY;
    out->cv2 = !out->demands      ? NAN
               : out->demands < 2 ? 0.0
                                  : m2 / (double)(out->demands - 1) / (mean * mean);
    if (!out->observed || out->negatives) {
        out->cls = TSL_DEMAND_UNDEFINED;
    } else if (!out->demands) {
        out->cls = TSL_DEMAND_ZERO;
    } else if (out->adi > TSL_ADI_CUTOFF) {
        out->cls = out->cv2 > TSL_CV2_CUTOFF ? TSL_DEMAND_LUMPY : TSL_DEMAND_INTERMITTENT;
    } else {
        out->cls = out->cv2 > TSL_CV2_CUTOFF ? TSL_DEMAND_ERRATIC : TSL_DEMAND_SMOOTH;
    }
    out->consider = out->cls == TSL_DEMAND_ZERO || out->cls == TSL_DEMAND_INTERMITTENT ||
                    out->cls == TSL_DEMAND_LUMPY;
}

/* See intermittent.h. */
const char *tsl_demand_class_name(tsl_demand_class cls) {
    switch (cls) {
    case TSL_DEMAND_UNDEFINED:
        return "undefined";
    case TSL_DEMAND_ZERO:
        return "zero";
    case TSL_DEMAND_SMOOTH:
        return "smooth";
    case TSL_DEMAND_ERRATIC:
        return "erratic";
    case TSL_DEMAND_INTERMITTENT:
        return "intermittent";
    case TSL_DEMAND_LUMPY:
        return "lumpy";
    }
    return "unknown";
}
