/*
 * test_theta.c - the Theta family. The standard method against R's forecast::thetaf(); OTM and
 * DOTM against an independent R implementation of the paper's equations
 * (tests/data/r/make_theta.R, otm_reference.R); and the properties every model keeps: theta = 2
 * gives the standard method, constant in constant out, update equals filtering, save/load
 * identity, corrupt blobs refused, missing values, short series.
 */
#include "testutil.h"

#include <string.h>

#include "forecast/model_impl.h"
#include "forecast/theta.h"
#include "tsloop/mem.h"
#include "tsloop/model.h"

static const double levels[4] = {0.025, 0.1, 0.9, 0.975};

/* Loads series `name` from the theta inputs fixture into a new array. */
static double *load_series(const tu_table *in, const char *name, size_t *n, int *period) {
    return tu_series(in, name, n, period);
}

static tsl_model *fit_kind(tsl_model_kind kind, int period, const double *y, size_t n) {
    tsl_model_spec spec;
    tsl_model *m = NULL;
    tsl_diag d = {0};
    tsl_model_spec_init(&spec, kind, period);
    tsl_err rc = tsl_model_fit(&spec, y, n, &m, &d);
    if (rc) fail_msg("fit %s failed: %s", tsl_model_kind_name(kind), tsl_diag_msg(&d));
    return m;
}

static int all_nonneg(const double *y, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (y[i] < 0) return 0;
    return 1;
}

/* The short series thetaf sends to HoltWintersZZ are fitted by L-BFGS-B in R and by an exact
 * minimisation here: looser there. */
static double theta_tol(const char *name) {
    return !strcmp(name, "n5") || !strcmp(name, "n6") ? 1e-5 : 1e-9;
}

static void test_thetaf_against_r(void **state) {
    (void)state;
    tu_table *in = tu_table_read(tu_path("theta/inputs.csv"));
    tu_table *fc = tu_table_read(tu_path("theta/thetaf.csv"));
    tu_table *pars = tu_table_read(tu_path("theta/thetaf_pars.csv"));
    for (size_t p = 0; p < pars->rows; p++) {
        const char *name = tu_str(pars, p, "series");
        size_t n;
        int period;
        double *y = load_series(in, name, &n, &period);
        tsl_model *m = fit_kind(TSL_MODEL_THETA, period, y, n);
        double tol = theta_tol(name);
        tsl_theta_info info;
        assert_int_equal(tsl_theta_inspect(m, &info, NULL), TSL_OK);
        assert_int_equal(info.season != TSL_THETA_SEASON_NONE, (int)tu_num(pars, p, "seasonal"));
        tu_close(info.alpha, tu_num(pars, p, "alpha"), 1e3 * tol, 1e-12, "%s alpha", name);
        tu_close(info.drift, tu_num(pars, p, "drift"), 1e-9, 1e-12, "%s drift", name);
        tu_close(info.sigma2, tu_num(pars, p, "sigma2"), 1e3 * tol, 1e-12, "%s sigma2", name);
        double mean[18], q[72];
        assert_int_equal(tsl_model_forecast(m, 18, levels, 4, mean, q, NULL), TSL_OK);
        int nonneg = all_nonneg(y, n);
        size_t checked = 0;
        for (size_t r = 0; r < fc->rows; r++) {
            if (strcmp(tu_str(fc, r, "series"), name)) continue;
            size_t s = (size_t)tu_num(fc, r, "step") - 1;
            const char *cols[4] = {"lo95", "lo80", "hi80", "hi95"};
            double em = tu_num(fc, r, "mean"), scale = fabs(em) + 1e-300;
            tu_close(mean[s], nonneg ? fmax(0.0, em) : em, 0, tol * scale, "%s mean step %zu", name,
                     s + 1);
            for (int j = 0; j < 4; j++) {
                double e = tu_num(fc, r, cols[j]);
                if (nonneg) e = fmax(0.0, e);
                tu_close(q[s * 4 + (size_t)j], e, 0, tol * scale, "%s %s step %zu", name, cols[j],
                         s + 1);
            }
            checked++;
        }
        assert_int_equal(checked, 18);
        tsl_model_free(m);
        tsl_free(y);
    }
    tu_table_free(in);
    tu_table_free(fc);
    tu_table_free(pars);
}

/* Compares m's 18-step forecasts with the otm.csv rows of (series, model, mode); every series
 * there is non-negative, so tsloop clamps at zero. */
static void compare_otm_rows(const tsl_model *m, const tu_table *fc, const char *series,
                             const char *model, const char *mode, double tol) {
    double mean[18], q[72];
    assert_int_equal(tsl_model_forecast(m, 18, levels, 4, mean, q, NULL), TSL_OK);
    size_t checked = 0;
    for (size_t r = 0; r < fc->rows; r++) {
        if (strcmp(tu_str(fc, r, "series"), series) || strcmp(tu_str(fc, r, "model"), model) ||
            strcmp(tu_str(fc, r, "mode"), mode))
            continue;
        size_t s = (size_t)tu_num(fc, r, "step") - 1;
        const char *cols[4] = {"q025", "q10", "q90", "q975"};
        double em = tu_num(fc, r, "mean"), scale = fabs(em) + 1e-300;
        tu_close(mean[s], fmax(0.0, em), 0, tol * scale, "%s %s %s mean step %zu", series, model,
                 mode, s + 1);
        for (int j = 0; j < 4; j++)
            tu_close(q[s * 4 + (size_t)j], fmax(0.0, tu_num(fc, r, cols[j])), 0, tol * scale,
                     "%s %s %s %s step %zu", series, model, mode, cols[j], s + 1);
        checked++;
    }
    assert_int_equal(checked, 18);
}

static void test_otm_fixed_against_reference(void **state) {
    (void)state;
    tu_table *in = tu_table_read(tu_path("theta/inputs.csv"));
    tu_table *fc = tu_table_read(tu_path("theta/otm.csv"));
    tu_table *pars = tu_table_read(tu_path("theta/otm_pars.csv"));
    size_t done = 0;
    for (size_t p = 0; p < pars->rows; p++) {
        if (strcmp(tu_str(pars, p, "mode"), "fixed")) continue;
        const char *name = tu_str(pars, p, "series"), *model = tu_str(pars, p, "model");
        size_t n;
        int period;
        double *y = load_series(in, name, &n, &period);
        assert_true(all_nonneg(y, n)); /* the quantile clamp below assumes it */
        tsl_model_kind kind = strcmp(model, "otm") ? TSL_MODEL_DOTM : TSL_MODEL_OTM;
        tsl_model *m = fit_kind(kind, period, y, n);
        tsl_diag d = {0};
        assert_int_equal(tsl_theta_refit(m, y, n, tu_num(pars, p, "alpha"),
                                         tu_num(pars, p, "theta"), tu_num(pars, p, "ell0"), &d),
                         TSL_OK);
        tsl_theta_info info;
        assert_int_equal(tsl_theta_inspect(m, &info, NULL), TSL_OK);
        tu_close(info.sigma2, tu_num(pars, p, "sigma2"), 1e-9, 0, "%s %s sigma2", name, model);
        tu_close(info.theta, tu_num(pars, p, "theta"), 1e-12, 0, "%s %s theta", name, model);
        assert_int_equal(info.season == TSL_THETA_SEASON_MULT,
                         !strcmp(tu_str(pars, p, "type"), "multiplicative"));
        compare_otm_rows(m, fc, name, model, "fixed", 1e-9);
        tsl_model_free(m);
        tsl_free(y);
        done++;
    }
    assert_true(done >= 30);
    tu_table_free(in);
    tu_table_free(fc);
    tu_table_free(pars);
}

/*
 * Estimation: our least-squares optimum is never worse than the reference's (optim from five
 * starts), and where both reach the same sum of squares the forecasts agree.
 */
static void test_otm_estimated_against_reference(void **state) {
    (void)state;
    tu_table *in = tu_table_read(tu_path("theta/inputs.csv"));
    tu_table *fc = tu_table_read(tu_path("theta/otm.csv"));
    tu_table *pars = tu_table_read(tu_path("theta/otm_pars.csv"));
    size_t done = 0, same = 0;
    for (size_t p = 0; p < pars->rows; p++) {
        if (strcmp(tu_str(pars, p, "mode"), "estimated")) continue;
        const char *name = tu_str(pars, p, "series"), *model = tu_str(pars, p, "model");
        size_t n;
        int period;
        double *y = load_series(in, name, &n, &period);
        tsl_model_kind kind = strcmp(model, "otm") ? TSL_MODEL_DOTM : TSL_MODEL_OTM;
        tsl_model *m = fit_kind(kind, period, y, n);
        tsl_theta_info info;
        assert_int_equal(tsl_theta_inspect(m, &info, NULL), TSL_OK);
        double ne = (double)n - (kind == TSL_MODEL_DOTM ? 2 : 0) - 3;
        double sse = info.sigma2 * ne, rsse = tu_num(pars, p, "sse");
        if (sse > rsse * (1 + 1e-9))
            fail_msg("%s %s: our SSE %.12g is above the reference's %.12g", name, model, sse, rsse);
        assert_true(info.alpha >= 0.1 && info.alpha <= 0.99 && info.theta >= 1.0);
        if (sse > rsse * (1 - 1e-7)) {
            /* The same optimum: same forecasts, up to the flatness of the SSE in theta. */
            compare_otm_rows(m, fc, name, model, "estimated", 1e-4);
            same++;
        }
        tsl_model_free(m);
        tsl_free(y);
        done++;
    }
    assert_int_equal(done, 32);
    assert_true(same >= 28); /* all 32 when the fixture was made */
    tu_table_free(in);
    tu_table_free(fc);
    tu_table_free(pars);
}

/* OTM with theta = 2 is the standard method (Fiorucci et al. 2016, Section 3): its forecasts
 * from (alpha, l0) are thetaf's from SES with the same alpha and l0 + (A_n + B_n) / 2; theta = 1
 * leaves plain SES, for OTM and DOTM alike. */
static void test_theta2_is_standard_method(void **state) {
    (void)state;
    double y[40];
    for (int i = 0; i < 40; i++) y[i] = 50 + 0.8 * i + 6 * sin(0.9 * i) + 3 * cos(2.3 * i);
    tsl_model *otm = fit_kind(TSL_MODEL_OTM, 1, y, 40);
    tsl_model *std = fit_kind(TSL_MODEL_THETA, 1, y, 40);
    const double alpha = 0.37, ell0 = 47.0;
    assert_int_equal(tsl_theta_refit(otm, y, 40, alpha, 2.0, ell0, NULL), TSL_OK);
    tsl_theta_info oi;
    assert_int_equal(tsl_theta_inspect(otm, &oi, NULL), TSL_OK);
    assert_int_equal(tsl_theta_refit(std, y, 40, alpha, 7.0, ell0 + (oi.a + oi.b) / 2, NULL),
                     TSL_OK);
    tsl_theta_info si;
    assert_int_equal(tsl_theta_inspect(std, &si, NULL), TSL_OK);
    tu_close(si.drift, oi.b / 2, 1e-12, 1e-12, "drift is half the slope");
    tu_close(si.theta, 2.0, 0, 0, "the standard method's theta");
    double fo[12], fs[12];
    assert_int_equal(tsl_model_forecast(otm, 12, NULL, 0, fo, NULL, NULL), TSL_OK);
    assert_int_equal(tsl_model_forecast(std, 12, NULL, 0, fs, NULL, NULL), TSL_OK);
    for (int s = 0; s < 12; s++) tu_close(fo[s], fs[s], 1e-12, 1e-10, "theta = 2 step %d", s + 1);
    /* theta = 1: the SES level, flat. */
    tsl_model *dotm = fit_kind(TSL_MODEL_DOTM, 1, y, 40);
    tsl_model *both[2] = {otm, dotm};
    for (int k = 0; k < 2; k++) {
        assert_int_equal(tsl_theta_refit(both[k], y, 40, alpha, 1.0, ell0, NULL), TSL_OK);
        double level = ell0;
        for (int i = 0; i < 40; i++) level = alpha * y[i] + (1 - alpha) * level;
        assert_int_equal(tsl_model_forecast(both[k], 12, NULL, 0, fo, NULL, NULL), TSL_OK);
        for (int s = 0; s < 12; s++) tu_close(fo[s], level, 1e-12, 1e-10, "theta = 1 is SES");
    }
    /* Bad fixed parameters are refused and leave the model as it was. */
    tsl_diag d = {0};
    assert_int_equal(tsl_theta_refit(otm, y, 40, 0.0, 2.0, 1.0, &d), TSL_EINVAL);
    assert_int_equal(tsl_theta_refit(otm, y, 40, 0.5, 0.5, 1.0, &d), TSL_EINVAL);
    assert_int_equal(tsl_theta_refit(otm, y, 39, 0.5, 2.0, 1.0, &d), TSL_EINVAL);
    tsl_model_free(otm);
    tsl_model_free(std);
    tsl_model_free(dotm);
}

static const tsl_model_kind kinds[3] = {TSL_MODEL_THETA, TSL_MODEL_OTM, TSL_MODEL_DOTM};

/*
 * Filters y[0..n) through the recursions of theta.c's header comment with the parameters of
 * info, from the state info describes after `t0` values, written here independently; returns
 * the h-step mean forecasts from the end and the one-step errors.
 */
static void reference_filter(tsl_model_kind kind, const tsl_theta_info *info, uint64_t t0,
                             const double *y, size_t n, size_t h, double *err, double *fc) {
    double l = info->level, b = info->b, ybar = info->ybar, a = info->alpha;
    double w = 1 - 1 / info->theta;
    for (size_t i = 0; i < n + h; i++) {
        double t = (double)(t0 + i);
        double s = info->season == TSL_THETA_SEASON_NONE
                       ? (info->season == TSL_THETA_SEASON_MULT ? 1 : 0)
                       : info->figure[(t0 + i) % (uint64_t)info->period];
        double mu;
        if (kind == TSL_MODEL_THETA) {
            mu = l + info->drift * (1 - pow(1 - a, t)) / a;
        } else {
            double aa = kind == TSL_MODEL_OTM ? info->a : ybar - b * (t + 1) / 2;
            mu = l + w * (aa * pow(1 - a, t) + b * (1 - pow(1 - a, t + 1)) / a);
        }
        double fcst = info->season == TSL_THETA_SEASON_MULT  ? mu * s
                      : info->season == TSL_THETA_SEASON_ADD ? mu + s
                                                             : mu;
        double x = mu;
        if (i < n) {
            err[i] = y[i] - fcst;
            if (!isnan(y[i]))
                x = info->season == TSL_THETA_SEASON_MULT  ? y[i] / s
                    : info->season == TSL_THETA_SEASON_ADD ? y[i] - s
                                                           : y[i];
        } else {
            fc[i - n] = fcst;
        }
        if (kind == TSL_MODEL_THETA) {
            l += a * (x - l);
        } else {
            l = a * x + (1 - a) * l;
            if (kind == TSL_MODEL_DOTM) {
                double nb = ((t - 1) * b + 6 * (x - ybar) / (t + 1)) / (t + 2);
                ybar = (t * ybar + x) / (t + 1);
                b = nb;
            }
        }
    }
}

static void test_update_equals_filtering(void **state) {
    (void)state;
    tu_table *in = tu_table_read(tu_path("theta/inputs.csv"));
    const char *names[3] = {"air", "www", "uk"};
    for (int si = 0; si < 3; si++) {
        size_t n;
        int period;
        double *y = load_series(in, names[si], &n, &period);
        size_t k = n - 20;
        y[k + 3] = NAN; /* gaps in the update */
        y[k + 4] = NAN;
        y[k + 11] = NAN;
        for (int ki = 0; ki < 3; ki++) {
            tsl_model *m = fit_kind(kinds[ki], period, y, k);
            tsl_theta_info info;
            assert_int_equal(tsl_theta_inspect(m, &info, NULL), TSL_OK);
            tsl_theta_info snap = info;
            double *fig = NULL;
            if (info.figure) {
                fig = tsl_malloc((size_t)period * sizeof *fig);
                memcpy(fig, info.figure, (size_t)period * sizeof *fig);
                snap.figure = fig;
            }
            double err_ref[20], fc_ref[15], err[20], fc[15];
            reference_filter(kinds[ki], &snap, k, y + k, 20, 15, err_ref, fc_ref);
            /* In two pieces, to cross a call boundary. */
            assert_int_equal(tsl_model_update(m, y + k, 7, err, NULL), TSL_OK);
            assert_int_equal(tsl_model_update(m, y + k + 7, 13, err + 7, NULL), TSL_OK);
            assert_int_equal(tsl_model_nobs(m), n);
            assert_int_equal(tsl_model_forecast(m, 15, NULL, 0, fc, NULL, NULL), TSL_OK);
            for (int i = 0; i < 20; i++) {
                assert_int_equal(isnan(err[i]), isnan(err_ref[i]));
                tu_close(err[i], err_ref[i], 1e-9, 1e-9, "%s %s err1 %d", names[si],
                         tsl_model_kind_name(kinds[ki]), i);
            }
            for (int s = 0; s < 15; s++)
                tu_close(fc[s], fmax(0.0, fc_ref[s]), 1e-10, 1e-9, "%s %s forecast %d", names[si],
                         tsl_model_kind_name(kinds[ki]), s + 1);
            /* Parameters, figure and (but for DOTM) the line did not move. */
            tsl_theta_info after;
            assert_int_equal(tsl_theta_inspect(m, &after, NULL), TSL_OK);
            assert_true(after.alpha == info.alpha && after.theta == info.theta &&
                        after.sigma2 == info.sigma2 && after.drift == info.drift);
            if (fig) assert_memory_equal(after.figure, fig, (size_t)period * sizeof *fig);
            if (kinds[ki] == TSL_MODEL_OTM) assert_true(after.a == info.a && after.b == info.b);
            tsl_free(fig);
            tsl_model_free(m);
        }
        tsl_free(y);
    }
    tu_table_free(in);
}

/* A missing tail is the same as fitting the observed part and updating with the gap; an
 * interior gap is the same as fitting the linearly interpolated series. */
static void test_missing_values(void **state) {
    (void)state;
    tu_table *in = tu_table_read(tu_path("theta/inputs.csv"));
    size_t n;
    int period;
    double *y = load_series(in, "air", &n, &period);
    double *filled = tsl_malloc(n * sizeof *filled);
    y[50] = NAN;
    y[51] = NAN;
    y[90] = NAN;
    tsl_fill_linear(y, n, filled);
    for (int ki = 0; ki < 3; ki++) {
        tsl_model *a = fit_kind(kinds[ki], period, y, n);
        tsl_model *b = fit_kind(kinds[ki], period, filled, n);
        double fa[24], fb[24], qa[96], qb[96];
        assert_int_equal(tsl_model_forecast(a, 24, levels, 4, fa, qa, NULL), TSL_OK);
        assert_int_equal(tsl_model_forecast(b, 24, levels, 4, fb, qb, NULL), TSL_OK);
        assert_memory_equal(fa, fb, sizeof fa);
        assert_memory_equal(qa, qb, sizeof qa);
        tsl_model_free(a);
        tsl_model_free(b);
        /* Trailing gaps, and a leading one model.c drops. */
        double *z = tsl_malloc((n + 1) * sizeof *z);
        z[0] = NAN;
        memcpy(z + 1, filled, n * sizeof *z);
        z[n] = z[n - 1] = z[n - 2] = NAN;
        a = fit_kind(kinds[ki], period, z, n + 1);
        b = fit_kind(kinds[ki], period, z + 1, n - 3);
        assert_int_equal(tsl_model_update(b, z + n - 2, 3, NULL, NULL), TSL_OK);
        assert_int_equal(tsl_model_nobs(a), tsl_model_nobs(b));
        assert_int_equal(tsl_model_forecast(a, 24, levels, 4, fa, qa, NULL), TSL_OK);
        assert_int_equal(tsl_model_forecast(b, 24, levels, 4, fb, qb, NULL), TSL_OK);
        assert_memory_equal(fa, fb, sizeof fa);
        assert_memory_equal(qa, qb, sizeof qa);
        tsl_model_free(a);
        tsl_model_free(b);
        tsl_free(z);
    }
    tsl_free(y);
    tsl_free(filled);
    tu_table_free(in);
}

static void test_constant_series(void **state) {
    (void)state;
    double y[40];
    for (int i = 0; i < 40; i++) y[i] = 5.5;
    const int periods[2] = {1, 4};
    for (int pi = 0; pi < 2; pi++)
        for (int ki = 0; ki < 3; ki++) {
            tsl_model *m = fit_kind(kinds[ki], periods[pi], y, 40);
            double f[10], q[40];
            assert_int_equal(tsl_model_forecast(m, 10, levels, 4, f, q, NULL), TSL_OK);
            for (int s = 0; s < 10; s++) {
                tu_close(f[s], 5.5, 0, 1e-9, "%s constant mean", tsl_model_name(m));
                for (int j = 0; j < 4; j++)
                    tu_close(q[4 * s + j], 5.5, 0, 1e-6, "%s constant quantile", tsl_model_name(m));
            }
            assert_string_equal(tsl_model_name(m), kinds[ki] == TSL_MODEL_THETA ? "Theta"
                                                   : kinds[ki] == TSL_MODEL_OTM ? "OTM"
                                                                                : "DOTM");
            tsl_model_free(m);
        }
}

static void test_quantiles_monotone(void **state) {
    (void)state;
    tu_table *in = tu_table_read(tu_path("theta/inputs.csv"));
    const char *names[4] = {"air", "www", "uk", "lynx10"};
    const double lv[7] = {0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99};
    for (int si = 0; si < 4; si++) {
        size_t n;
        int period;
        double *y = load_series(in, names[si], &n, &period);
        for (int ki = 0; ki < 3; ki++) {
            tsl_model *m = fit_kind(kinds[ki], period, y, n);
            double f[30], q[210];
            assert_int_equal(tsl_model_forecast(m, 30, lv, 7, f, q, NULL), TSL_OK);
            for (int s = 0; s < 30; s++) {
                for (int j = 1; j < 7; j++) assert_true(q[7 * s + j] >= q[7 * s + j - 1]);
                /* The median is the mean (Gaussian), unless clamped at zero. */
                tu_close(q[7 * s + 3], fmax(0.0, f[s]), 1e-12, 1e-9, "%s median",
                         tsl_model_name(m));
            }
            if (kinds[ki] != TSL_MODEL_THETA || strcmp(names[si], "www") == 0)
                /* Widths grow with the horizon where nothing rescales them. */
                for (int s = 1; s < 30; s++)
                    if (kinds[ki] == TSL_MODEL_THETA || period == 1)
                        assert_true(q[7 * s + 6] - q[7 * s] >= q[7 * (s - 1) + 6] - q[7 * (s - 1)]);
            tsl_model_free(m);
        }
        tsl_free(y);
    }
    tu_table_free(in);
}

/* Finds the 8-byte little-endian pattern of v in buf (the test's way to a state field). */
static size_t find_f64(const tsl_wbuf *b, double v) {
    uint64_t u;
    memcpy(&u, &v, 8);
    uint8_t pat[8];
    for (int i = 0; i < 8; i++) pat[i] = (uint8_t)(u >> (8 * i));
    for (size_t i = 0; i + 8 <= b->len; i++)
        if (!memcmp(b->data + i, pat, 8)) return i;
    fail_msg("value %g not found in the blob", v);
    return 0;
}

static void put_f64_at(tsl_wbuf *b, size_t at, double v) {
    uint64_t u;
    memcpy(&u, &v, 8);
    for (int i = 0; i < 8; i++) b->data[at + (size_t)i] = (uint8_t)(u >> (8 * i));
}

static void reseal(tsl_wbuf *b) {
    uint32_t c = tsl_crc32(0, b->data, b->len - 4);
    for (int i = 0; i < 4; i++) b->data[b->len - 4 + (size_t)i] = (uint8_t)(c >> (8 * i));
}

static void test_roundtrip_and_corruption(void **state) {
    (void)state;
    tu_table *in = tu_table_read(tu_path("theta/inputs.csv"));
    const char *names[2] = {"air", "www"};
    for (int si = 0; si < 2; si++) {
        size_t n;
        int period;
        double *y = load_series(in, names[si], &n, &period);
        for (int ki = 0; ki < 3; ki++) {
            tsl_model *m = fit_kind(kinds[ki], period, y, n - 5);
            assert_int_equal(tsl_model_update(m, y + n - 5, 5, NULL, NULL), TSL_OK);
            tsl_wbuf b;
            tsl_wbuf_init(&b);
            assert_int_equal(tsl_model_save(m, &b, NULL), TSL_OK);
            tsl_model *back = NULL;
            tsl_diag d = {0};
            assert_int_equal(tsl_model_load(b.data, b.len, &back, &d), TSL_OK);
            assert_string_equal(tsl_model_name(m), tsl_model_name(back));
            double f1[20], f2[20], q1[80], q2[80];
            assert_int_equal(tsl_model_forecast(m, 20, levels, 4, f1, q1, NULL), TSL_OK);
            assert_int_equal(tsl_model_forecast(back, 20, levels, 4, f2, q2, NULL), TSL_OK);
            assert_memory_equal(f1, f2, sizeof f1);
            assert_memory_equal(q1, q2, sizeof q1);
            /* And they keep agreeing after the same update. */
            double more[3] = {y[n - 3], NAN, y[n - 1]}, e1[3], e2[3];
            assert_int_equal(tsl_model_update(m, more, 3, e1, NULL), TSL_OK);
            assert_int_equal(tsl_model_update(back, more, 3, e2, NULL), TSL_OK);
            assert_memory_equal(e1, e2, sizeof e1);
            assert_int_equal(tsl_model_forecast(m, 20, levels, 4, f1, q1, NULL), TSL_OK);
            assert_int_equal(tsl_model_forecast(back, 20, levels, 4, f2, q2, NULL), TSL_OK);
            assert_memory_equal(f1, f2, sizeof f1);
            /* Every flipped byte and every truncation is refused. */
            tu_model_blob_robust(m, 1);
            /* Bad field values under a valid checksum are refused by the model's own checks. */
            tsl_theta_info info;
            tsl_model_free(back);
            assert_int_equal(tsl_theta_inspect(m, &info, NULL), TSL_OK);
            const double bad_values[3] = {NAN, 0.0, 1.5};
            size_t at = find_f64(&b, info.alpha);
            for (int v = 0; v < 3; v++) {
                tsl_wbuf c;
                tsl_wbuf_init(&c);
                tsl_wbuf_put(&c, b.data, b.len);
                put_f64_at(&c, at, bad_values[v]);
                reseal(&c);
                tsl_model *bad = NULL;
                assert_int_equal(tsl_model_load(c.data, c.len, &bad, &d), TSL_ECORRUPT);
                assert_null(bad);
                tsl_wbuf_release(&c);
            }
            tsl_wbuf c;
            tsl_wbuf_init(&c);
            tsl_wbuf_put(&c, b.data, b.len);
            put_f64_at(&c, find_f64(&b, info.sigma2), -1.0);
            reseal(&c);
            assert_int_equal(tsl_model_load(c.data, c.len, &back, &d), TSL_ECORRUPT);
            tsl_wbuf_release(&c);
            if (info.figure) {
                tsl_wbuf_init(&c);
                tsl_wbuf_put(&c, b.data, b.len);
                put_f64_at(&c, find_f64(&b, info.figure[3]), 0.0);
                reseal(&c);
                assert_int_equal(tsl_model_load(c.data, c.len, &back, &d), TSL_ECORRUPT);
                tsl_wbuf_release(&c);
            }
            tsl_wbuf_release(&b);
            tsl_model_free(m);
        }
        tsl_free(y);
    }
    tu_table_free(in);
}

/* Too short: TSL_ESHORT, never a crash, for every length and period; enough: a forecast. */
static void test_short_series(void **state) {
    (void)state;
    const size_t need[3] = {2, 4, 6};
    const int periods[3] = {1, 2, 4};
    double y[12];
    for (int i = 0; i < 12; i++) y[i] = 20 + i + 3 * (i % 2);
    for (int ki = 0; ki < 3; ki++)
        for (int pi = 0; pi < 3; pi++)
            for (size_t n = 1; n <= 12; n++) {
                tsl_model_spec spec;
                tsl_model_spec_init(&spec, kinds[ki], periods[pi]);
                tsl_model *m = NULL;
                tsl_diag d = {0};
                tsl_err rc = tsl_model_fit(&spec, y, n, &m, &d);
                if (n < need[ki]) {
                    assert_int_equal(rc, TSL_ESHORT);
                    assert_null(m);
                    assert_non_null(strstr(d.msg, "needs at least"));
                    continue;
                }
                assert_int_equal(rc, TSL_OK);
                double f[6], q[24];
                assert_int_equal(tsl_model_forecast(m, 6, levels, 4, f, q, NULL), TSL_OK);
                for (int s = 0; s < 6; s++) assert_true(isfinite(f[s]));
                tsl_model_free(m);
            }
    /* Observed values count, not trailing gaps. */
    double z[5] = {4, NAN, NAN, NAN, NAN};
    tsl_model_spec spec;
    tsl_model_spec_init(&spec, TSL_MODEL_THETA, 1);
    tsl_model *m = NULL;
    assert_int_equal(tsl_model_fit(&spec, z, 5, &m, NULL), TSL_ESHORT);
    assert_int_equal(tsl_model_spec_parse("dotm", 12, &spec, NULL), TSL_OK);
    assert_int_equal(spec.kind, TSL_MODEL_DOTM);
}

/* Values near the top of the double range: a clean error or a finite forecast, never a crash
 * or an assertion. */
static void test_extreme_values(void **state) {
    (void)state;
    double y[30];
    const double scales[3] = {1e-300, 1e150, 1e300};
    for (int sc = 0; sc < 3; sc++) {
        for (int i = 0; i < 30; i++) y[i] = scales[sc] * (1 + 0.5 * sin(i) + 0.01 * i);
        for (int ki = 0; ki < 3; ki++) {
            tsl_model_spec spec;
            tsl_model_spec_init(&spec, kinds[ki], 4);
            tsl_model *m = NULL;
            tsl_err rc = tsl_model_fit(&spec, y, 30, &m, NULL);
            assert_true(rc == TSL_OK || rc == TSL_ENUMERIC);
            if (rc) continue;
            double f[5], q[20];
            rc = tsl_model_forecast(m, 5, levels, 4, f, q, NULL);
            assert_true(rc == TSL_OK || rc == TSL_ENUMERIC);
            tsl_model_free(m);
        }
    }
}

/* A seasonal series with values <= 0 is adjusted additively (R would divide). */
static void test_nonpositive_seasonal(void **state) {
    (void)state;
    tu_table *in = tu_table_read(tu_path("theta/inputs.csv"));
    size_t n;
    int period;
    double *y = load_series(in, "air", &n, &period);
    for (size_t i = 0; i < n; i++) y[i] -= 300;
    for (int ki = 0; ki < 3; ki++) {
        tsl_model *m = fit_kind(kinds[ki], period, y, n);
        tsl_theta_info info;
        assert_int_equal(tsl_theta_inspect(m, &info, NULL), TSL_OK);
        assert_int_equal(info.season, TSL_THETA_SEASON_ADD);
        assert_non_null(strstr(tsl_model_name(m), "(A,12)"));
        double f[24], q[96];
        assert_int_equal(tsl_model_forecast(m, 24, levels, 4, f, q, NULL), TSL_OK);
        /* The additive figure carries the season: July above November. */
        assert_true(f[6] > f[10]);
        tsl_model_free(m);
    }
    tsl_free(y);
    tu_table_free(in);
}

/* The seasonality decision is thetaf's on every M1 series of the fixture. */
static void test_seasonal_decision(void **state) {
    (void)state;
    tu_table *in = tu_table_read(tu_path("theta/inputs.csv"));
    tu_table *pars = tu_table_read(tu_path("theta/thetaf_pars.csv"));
    size_t seasonal = 0;
    for (size_t p = 0; p < pars->rows; p++) {
        size_t n;
        int period;
        double *y = load_series(in, tu_str(pars, p, "series"), &n, &period);
        for (int ki = 0; ki < 3; ki++) {
            if (kinds[ki] != TSL_MODEL_THETA && n < 6) continue;
            tsl_model *m = fit_kind(kinds[ki], period, y, n);
            tsl_theta_info info;
            assert_int_equal(tsl_theta_inspect(m, &info, NULL), TSL_OK);
            assert_int_equal(info.season != TSL_THETA_SEASON_NONE,
                             (int)tu_num(pars, p, "seasonal"));
            tsl_model_free(m);
        }
        seasonal += (size_t)tu_num(pars, p, "seasonal");
        tsl_free(y);
    }
    assert_true(seasonal >= 10 && seasonal < pars->rows);
    tsl_model *m = fit_kind(TSL_MODEL_NAIVE, 1, (const double[]){1, 2, 3}, 3);
    tsl_theta_info info;
    assert_int_equal(tsl_theta_inspect(m, &info, NULL), TSL_EINVAL);
    assert_int_equal(tsl_theta_refit(m, (const double[]){1, 2, 3}, 3, 0.5, 2, 1, NULL), TSL_EINVAL);
    tsl_model_free(m);
    tu_table_free(in);
    tu_table_free(pars);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thetaf_against_r),
        cmocka_unit_test(test_otm_fixed_against_reference),
        cmocka_unit_test(test_otm_estimated_against_reference),
        cmocka_unit_test(test_theta2_is_standard_method),
        cmocka_unit_test(test_update_equals_filtering),
        cmocka_unit_test(test_missing_values),
        cmocka_unit_test(test_constant_series),
        cmocka_unit_test(test_quantiles_monotone),
        cmocka_unit_test(test_roundtrip_and_corruption),
        cmocka_unit_test(test_short_series),
        cmocka_unit_test(test_extreme_values),
        cmocka_unit_test(test_nonpositive_seasonal),
        cmocka_unit_test(test_seasonal_decision),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
