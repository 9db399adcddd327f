/*
 * test_mstl.c - MSTL and the MSTL model: the decomposition, its gap filling and the seasonal
 * strengths against R's forecast::mstl() (tests/data/r/make_mstl.R), the candidate periods of
 * a frequency and their confirmation on data, and the model: forecasts against R's
 * forecast(mstl(x)) with naive, drift and ETS on the adjusted series, a known daily + weekly
 * series decomposed and forecast, save/load, update, corrupt blobs, monotone quantiles, short
 * series and missing values.
 */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "forecast/decompose.h"
#include "tsloop/buf.h"
#include "tsloop/mem.h"
#include "tsloop/model.h"
#include "tsloop/time.h"

/* An input of the fixture: values, periods, whether R ran robust STL. */
typedef struct fixture_series {
    double *y;
    size_t n;
    int np, periods[TSL_MAX_PERIODS], robust;
} fixture_series;

/* Parses "48;336" into periods; returns the count. */
static int parse_periods(const char *s, int *periods) {
    int np = 0;
    while (*s && np < TSL_MAX_PERIODS) {
        char *end;
        periods[np++] = (int)strtol(s, &end, 10);
        s = *end == ';' ? end + 1 : end;
    }
    return np;
}

static void load_input(const tu_table *in, const char *name, fixture_series *fs) {
    memset(fs, 0, sizeof *fs);
    fs->y = tu_series(in, name, &fs->n, NULL);
    for (size_t r = 0; r < in->rows; r++) {
        if (strcmp(tu_str(in, r, "series"), name)) continue;
        fs->np = parse_periods(tu_str(in, r, "periods"), fs->periods);
        fs->robust = (int)tu_num(in, r, "robust");
        break;
    }
}

static double scale_of(const double *y, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(y[i])) s = fmax(s, fabs(y[i]));
    return s;
}

static const char *const decomposed[] = {"taylor",    "taylorgap",    "hourly",
                                         "hourlygap", "hourlyrobust", "daily",
                                         "drop",      "single",       "shortgap"};

static void test_mstl_against_r(void **state) {
    (void)state;
    tu_table *in = tu_table_read(tu_path("mstl/inputs.csv"));
    tu_table *ref = tu_table_read(tu_path("mstl/mstl.csv"));
    tu_table *kept = tu_table_read(tu_path("mstl/kept.csv"));
    for (size_t si = 0; si < sizeof decomposed / sizeof *decomposed; si++) {
        const char *name = decomposed[si];
        fixture_series fs;
        load_input(in, name, &fs);
        tsl_mstl_opts o;
        tsl_mstl_opts_init(&o);
        o.robust = fs.robust;
        tsl_mstl m = {0};
        tsl_diag d = {0};
        if (tsl_decomp_mstl(fs.y, fs.n, fs.periods, fs.np, &o, &m, &d))
            fail_msg("%s: %s", name, tsl_diag_msg(&d));
        double sc = scale_of(fs.y, fs.n);
        /* Periods R kept and the strengths of its components. */
        for (size_t r = 0; r < kept->rows; r++) {
            if (strcmp(tu_str(kept, r, "series"), name)) continue;
            int want[TSL_MAX_PERIODS];
            int nwant = parse_periods(tu_str(kept, r, "periods"), want);
            assert_int_equal(m.nperiods, nwant);
            for (int i = 0; i < nwant; i++) assert_int_equal(m.periods[i], want[i]);
            double st[TSL_MAX_PERIODS];
            assert_int_equal(tsl_mstl_strength(&m, st, NULL), TSL_OK);
            const char *p = tu_str(kept, r, "strength");
            for (int i = 0; i < nwant; i++) {
                char *end;
                double e = strtod(p, &end);
                p = *end == ';' ? end + 1 : end;
                tu_close(st[i], e, 1e-9, 1e-12, "%s strength %d", name, m.periods[i]);
            }
        }
        size_t checked = 0;
        for (size_t r = 0; r < ref->rows; r++) {
            if (strcmp(tu_str(ref, r, "series"), name)) continue;
            size_t t = (size_t)tu_num(ref, r, "t") - 1;
            assert_true(t < fs.n);
            double tol = 1e-11 * sc;
            tu_close(m.trend[t], tu_num(ref, r, "trend"), 0, tol, "%s trend t=%zu", name, t + 1);
            tu_close(m.seasonal[0][t], tu_num(ref, r, "s1"), 0, tol, "%s s1 t=%zu", name, t + 1);
            if (m.nperiods > 1)
                tu_close(m.seasonal[1][t], tu_num(ref, r, "s2"), 0, tol, "%s s2 t=%zu", name,
                         t + 1);
            else
                assert_true(isnan(tu_num(ref, r, "s2")));
            double er = tu_num(ref, r, "remainder");
            assert_int_equal(isnan(m.remainder[t]), isnan(er));
            tu_close(m.remainder[t], er, 0, tol, "%s remainder t=%zu", name, t + 1);
            if (!isnan(fs.y[t])) assert_true(m.filled[t] == fs.y[t]);
            checked++;
        }
        assert_int_equal(checked, fs.n);
        tsl_mstl_free(&m);
        assert_null(m.trend);
        tsl_free(fs.y);
    }
    tu_table_free(in);
    tu_table_free(ref);
    tu_table_free(kept);
}

/* The quantile levels of R's 80% and 95% intervals, in the fixture's column order. */
static const double r_levels[4] = {0.025, 0.1, 0.9, 0.975};
static const char *const r_cols[4] = {"lo95", "lo80", "hi80", "hi95"};

static tsl_model *fit_spec(const char *name, const int *periods, int np, const double *y,
                           size_t n) {
    tsl_model_spec spec;
    tsl_diag d = {0};
    assert_int_equal(tsl_model_spec_parse(name, np ? periods[np - 1] : 1, &spec, &d), TSL_OK);
    spec.nperiods = np;
    for (int i = 0; i < np; i++) spec.periods[i] = periods[i];
    tsl_model *m = NULL;
    if (tsl_model_fit(&spec, y, n, &m, &d)) fail_msg("%s: %s", name, tsl_diag_msg(&d));
    return m;
}

/* forecast(mstl(x), method = "naive" | "rwdrift" | "ets"): the first two are deterministic and
 * must agree to rounding, mean and intervals; ETS must choose R's form and forecast within a
 * small fraction of R's 80% band (the optimiser's optimum may differ in the last digits). */
static void test_forecasts_against_r(void **state) {
    (void)state;
    tu_table *in = tu_table_read(tu_path("mstl/inputs.csv"));
    tu_table *ref = tu_table_read(tu_path("mstl/forecasts.csv"));
    static const char *const names[] = {"taylor", "hourly", "daily", "single"};
    static const char *const methods[][2] = {
        {"naive", "mstl:naive"}, {"rwdrift", "mstl:drift"}, {"ets", "mstl"}};
    for (size_t si = 0; si < sizeof names / sizeof *names; si++) {
        fixture_series fs;
        load_input(in, names[si], &fs);
        for (size_t k = 0; k < 3; k++) {
            tsl_model *m = fit_spec(methods[k][1], fs.periods, fs.np, fs.y, fs.n);
            size_t h = 0;
            for (size_t r = 0; r < ref->rows; r++)
                h += !strcmp(tu_str(ref, r, "series"), names[si]) &&
                     !strcmp(tu_str(ref, r, "method"), methods[k][0]);
            assert_true(h > 0);
            double *f = tsl_malloc(h * sizeof *f), *q = tsl_malloc(4 * h * sizeof *q);
            assert_int_equal(tsl_model_forecast(m, h, r_levels, 4, f, q, NULL), TSL_OK);
            int is_ets = k == 2;
            for (size_t r = 0; r < ref->rows; r++) {
                if (strcmp(tu_str(ref, r, "series"), names[si]) ||
                    strcmp(tu_str(ref, r, "method"), methods[k][0]))
                    continue;
                size_t t = (size_t)tu_num(ref, r, "step") - 1;
                double em = tu_num(ref, r, "mean");
                double band = tu_num(ref, r, "hi80") - tu_num(ref, r, "lo80");
                if (is_ets) {
                    /* Our ETS often finds a better optimum than R's on these series (hourly:
                     * AICc 8749.2 against R's 8755.9 for the same form), so the forms may
                     * differ; the forecasts must still agree within a fraction of R's band. */
                    tu_close(f[t], em, 0, 0.05 * band, "%s ets mean step %zu", names[si], t + 1);
                    for (int j = 0; j < 4; j++)
                        tu_close(q[t * 4 + j], tu_num(ref, r, r_cols[j]), 0, 0.1 * band,
                                 "%s ets %s step %zu", names[si], r_cols[j], t + 1);
                    continue;
                }
                double tol = 1e-9 * fabs(em);
                tu_close(f[t], em, 0, tol, "%s %s mean step %zu", names[si], methods[k][0], t + 1);
                for (int j = 0; j < 4; j++)
                    tu_close(q[t * 4 + j], tu_num(ref, r, r_cols[j]), 0, tol, "%s %s %s step %zu",
                             names[si], methods[k][0], r_cols[j], t + 1);
            }
            tsl_free(f);
            tsl_free(q);
            tsl_model_free(m);
        }
        tsl_free(fs.y);
    }
    tu_table_free(in);
    tu_table_free(ref);
}

/* ---- a series with known components ---- */

enum { WEEK = 168, DAY = 24 };

/* Standard normal deviates from a fixed linear congruential stream (Box-Muller). */
typedef struct rng {
    uint64_t x;
} rng;

static double rng_unif(rng *r) {
    r->x = r->x * 6364136223846793005ULL + 1442695040888963407ULL;
    return ((double)(r->x >> 11) + 0.5) / 9007199254740992.0;
}

static double rng_norm(rng *r) {
    double u = rng_unif(r), v = rng_unif(r);
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/* The known parts of the hourly series at hour t: a daily profile (amplitude about 70), a
 * weekly one built from harmonics of 168 that are not harmonics of 24 (so it averages to zero at
 * every hour of the day), and a gentle trend. */
static double true_daily(size_t t) {
    double h = (double)(t % DAY);
    return 60.0 * sin(2.0 * M_PI * h / DAY) + 20.0 * cos(4.0 * M_PI * h / DAY);
}
static double true_weekly(size_t t) {
    double w = (double)(t % WEEK);
    return 30.0 * sin(2.0 * M_PI * w / WEEK) + 15.0 * cos(4.0 * M_PI * w / WEEK) +
           8.0 * sin(6.0 * M_PI * w / WEEK);
}
static double true_trend(size_t t) {
    return 500.0 + 0.02 * (double)t;
}

#define NOISE_SD 5.0

/* n hourly values: trend + daily + weekly + N(0, NOISE_SD^2) noise. */
static double *known_series(size_t n, uint64_t seed) {
    double *y = tsl_malloc(n * sizeof *y);
    rng r = {seed};
    for (size_t t = 0; t < n; t++)
        y[t] = true_trend(t) + true_daily(t) + true_weekly(t) + NOISE_SD * rng_norm(&r);
    return y;
}

static const int daily_weekly[2] = {DAY, WEEK};

/* MSTL recovers each component of a ten-week series: root mean square errors within 0.5 noise
 * standard deviations for the seasonal components (of amplitudes near 70 and 40; measured: 0.34
 * and 0.28), within 0.2 for the trend (0.07); the remainder is the noise less what the seasonal
 * smoothers absorb (its standard deviation between 0.75 and 1.05 of the noise's; 0.85). */
static void test_known_components_recovered(void **state) {
    (void)state;
    size_t n = 10 * WEEK;
    double *y = known_series(n, 7);
    tsl_mstl m = {0};
    tsl_diag d = {0};
    assert_int_equal(tsl_decomp_mstl(y, n, daily_weekly, 2, NULL, &m, &d), TSL_OK);
    assert_int_equal(m.nperiods, 2);
    double e_day = 0, e_week = 0, e_trend = 0, r2 = 0;
    for (size_t t = 0; t < n; t++) {
        e_day += pow(m.seasonal[0][t] - true_daily(t), 2);
        e_week += pow(m.seasonal[1][t] - true_weekly(t), 2);
        e_trend += pow(m.trend[t] - true_trend(t), 2);
        r2 += m.remainder[t] * m.remainder[t];
    }
    e_day = sqrt(e_day / (double)n);
    e_week = sqrt(e_week / (double)n);
    e_trend = sqrt(e_trend / (double)n);
    double rsd = sqrt(r2 / (double)n);
    if (e_day > 0.5 * NOISE_SD || e_week > 0.5 * NOISE_SD || e_trend > 0.2 * NOISE_SD ||
        rsd < 0.75 * NOISE_SD || rsd > 1.05 * NOISE_SD)
        fail_msg("rms errors: daily %.3f weekly %.3f trend %.3f; remainder sd %.3f", e_day, e_week,
                 e_trend, rsd);
    double st[2];
    assert_int_equal(tsl_mstl_strength(&m, st, NULL), TSL_OK);
    assert_true(st[0] > TSL_MSTL_STRENGTH_MIN && st[1] > TSL_MSTL_STRENGTH_MIN);
    tsl_mstl_free(&m);
    tsl_free(y);
}

/* Mean absolute error of f[0..h) against the noise-free future from time t0. */
static double mae_vs_truth(const double *f, size_t t0, size_t h) {
    double s = 0;
    for (size_t k = 0; k < h; k++)
        s += fabs(f[k] - (true_trend(t0 + k) + true_daily(t0 + k) + true_weekly(t0 + k)));
    return s / (double)h;
}

/* A week ahead of ten weeks of history: MSTL(24,168) + ETS is within 0.6 noise standard
 * deviations of the true future on average (measured: 0.39), better than seasonal naive on the
 * week (0.97), than ETS with the daily season alone (which cannot see the weekly cycle: 10.1)
 * and than MSTL with the daily period alone (10.4). Its 80% band holds between 55% and 95% of
 * the actual (noisy) values: like R's, the band is the base model's, which ignores the error of
 * the seasonal figures and is fitted to a remainder the seasonal smoothers have already taken
 * some noise from, so it runs narrow (63% here, about 67% over many seeds and at any history
 * length; docs/models/mstl.md). */
static void test_known_series_forecast(void **state) {
    (void)state;
    size_t n = 10 * WEEK, h = WEEK;
    double *y = known_series(n + h, 11);
    static const double lv[2] = {0.1, 0.9};
    double *f = tsl_malloc(h * sizeof *f), *q = tsl_malloc(2 * h * sizeof *q);

    tsl_model *m = fit_spec("mstl", daily_weekly, 2, y, n);
    assert_true(!strncmp(tsl_model_name(m), "MSTL(24,168)+ETS(", 17));
    assert_true(isnan(tsl_model_aicc(m)));
    assert_int_equal(tsl_model_forecast(m, h, lv, 2, f, q, NULL), TSL_OK);
    double mae = mae_vs_truth(f, n, h);
    size_t inside = 0;
    for (size_t k = 0; k < h; k++) inside += y[n + k] >= q[2 * k] && y[n + k] <= q[2 * k + 1];
    double cover = (double)inside / (double)h;
    tsl_model_free(m);

    int week = WEEK, day = DAY;
    m = fit_spec("snaive", &week, 1, y, n);
    assert_int_equal(tsl_model_forecast(m, h, NULL, 0, f, NULL, NULL), TSL_OK);
    double mae_snaive = mae_vs_truth(f, n, h);
    tsl_model_free(m);
    m = fit_spec("ets", &day, 1, y, n);
    assert_int_equal(tsl_model_forecast(m, h, NULL, 0, f, NULL, NULL), TSL_OK);
    double mae_ets = mae_vs_truth(f, n, h);
    tsl_model_free(m);
    m = fit_spec("mstl", &day, 1, y, n);
    assert_true(!strncmp(tsl_model_name(m), "MSTL(24)+ETS(", 13));
    assert_int_equal(tsl_model_forecast(m, h, NULL, 0, f, NULL, NULL), TSL_OK);
    double mae_daily = mae_vs_truth(f, n, h);
    tsl_model_free(m);
    if (!(mae < 0.6 * NOISE_SD && mae < mae_snaive && mae < mae_ets && mae < mae_daily) ||
        cover < 0.55 || cover > 0.95)
        fail_msg("MAE: mstl %.3f, snaive %.3f, ets %.3f, mstl(24) %.3f; 80%% band cover %.3f", mae,
                 mae_snaive, mae_ets, mae_daily, cover);
    tsl_free(f);
    tsl_free(q);
    tsl_free(y);
}

/* ---- the model's promises ---- */

/* Update equals fitting then filtering: the model fitted on the first part and updated with the
 * rest forecasts exactly what the parts give by hand (MSTL of the first part, the base fitted on
 * its adjusted series and updated with the rest minus the figures continued by phase), and
 * returns the same one-step errors. Missing values in the update included. */
static void test_update_equals_fit_then_filter(void **state) {
    (void)state;
    size_t n0 = 6 * WEEK, extra = 50, h = 30;
    double *y = known_series(n0 + extra, 3);
    y[n0 + 7] = NAN;
    y[n0 + 30] = NAN;
    tsl_model *m = fit_spec("mstl", daily_weekly, 2, y, n0);
    double e1[50], e2[50];
    assert_int_equal(tsl_model_update(m, y + n0, extra, e1, NULL), TSL_OK);
    assert_int_equal(tsl_model_nobs(m), n0 + extra);

    tsl_mstl dc = {0};
    assert_int_equal(tsl_decomp_mstl(y, n0, daily_weekly, 2, NULL, &dc, NULL), TSL_OK);
    double *adj = tsl_malloc((n0 + extra) * sizeof *adj), fut[30];
    for (size_t t = 0; t < n0; t++) adj[t] = dc.trend[t] + dc.remainder[t];
    for (size_t t = n0; t < n0 + extra + h; t++) {
        double fig = 0.0;
        for (int i = 0; i < 2; i++) {
            size_t p = (size_t)daily_weekly[i];
            /* the last cycle's value at the same phase */
            fig += dc.seasonal[i][n0 - p + (t - n0) % p];
        }
        if (t < n0 + extra)
            adj[t] = y[t] - fig;
        else
            fut[t - n0 - extra] = fig;
    }
    tsl_model_spec bs;
    tsl_model_spec_init(&bs, TSL_MODEL_ETS, 1);
    bs.ets_season = 'N';
    tsl_model *base = NULL;
    assert_int_equal(tsl_model_fit(&bs, adj, n0, &base, NULL), TSL_OK);
    assert_int_equal(tsl_model_update(base, adj + n0, extra, e2, NULL), TSL_OK);
    assert_memory_equal(e1, e2, sizeof e1);
    double f1[30], f2[30];
    assert_int_equal(tsl_model_forecast(m, h, NULL, 0, f1, NULL, NULL), TSL_OK);
    assert_int_equal(tsl_model_forecast(base, h, NULL, 0, f2, NULL, NULL), TSL_OK);
    for (size_t k = 0; k < h; k++)
        tu_close(f1[k], f2[k] + fut[k], 1e-14, 0, "updated forecast step %zu", k + 1);
    tsl_model_free(base);
    tsl_free(adj);
    tsl_mstl_free(&dc);
    tsl_model_free(m);
    tsl_free(y);
}

static const double levels7[7] = {0.01, 0.05, 0.1, 0.5, 0.9, 0.95, 0.99};

/* Quantiles are monotone in the level at every step and bracket the mean; the median is the
 * mean (Gaussian bases), for every base. */
static void test_quantiles_monotone(void **state) {
    (void)state;
    size_t n = 5 * WEEK, h = 2 * WEEK;
    double *y = known_series(n, 5);
    static const char *const specs[] = {"mstl",      "mstl:theta", "mstl:otm",
                                        "mstl:dotm", "mstl:naive", "mstl:drift"};
    double *f = tsl_malloc(h * sizeof *f), *q = tsl_malloc(7 * h * sizeof *q);
    for (size_t k = 0; k < sizeof specs / sizeof *specs; k++) {
        tsl_model *m = fit_spec(specs[k], daily_weekly, 2, y, n);
        assert_int_equal(tsl_model_forecast(m, h, levels7, 7, f, q, NULL), TSL_OK);
        for (size_t t = 0; t < h; t++) {
            for (int j = 1; j < 7; j++)
                if (!(q[t * 7 + j] >= q[t * 7 + j - 1]))
                    fail_msg("%s: quantiles not monotone at step %zu", specs[k], t + 1);
            assert_true(q[t * 7] <= f[t] && f[t] <= q[t * 7 + 6]);
        }
        tsl_model_free(m);
    }
    tsl_free(f);
    tsl_free(q);
    tsl_free(y);
}

/* Finds the first occurrence of pat[0..len) in b (fails when absent). */
static size_t find_bytes(const tsl_wbuf *b, const uint8_t *pat, size_t len) {
    for (size_t i = 0; i + len <= b->len; i++)
        if (!memcmp(b->data + i, pat, len)) return i;
    fail_msg("pattern not found in the blob");
    return 0;
}

/* Recomputes the CRC-32 that closes the envelope data[0..len). */
static void reseal(uint8_t *data, size_t len) {
    uint32_t c = tsl_crc32(0, data, len - 4);
    for (int i = 0; i < 4; i++) data[len - 4 + (size_t)i] = (uint8_t)(c >> (8 * i));
}

/* Loads b with byte `at` set to v (under a valid checksum) and expects TSL_ECORRUPT. */
static void expect_refused(const tsl_wbuf *b, size_t at, const void *v, size_t len,
                           const char *what) {
    uint8_t *copy = tsl_malloc(b->len);
    memcpy(copy, b->data, b->len);
    memcpy(copy + at, v, len);
    reseal(copy, b->len);
    tsl_model *bad = NULL;
    tsl_diag d = {0};
    if (tsl_model_load(copy, b->len, &bad, &d) != TSL_ECORRUPT)
        fail_msg("a blob with %s was not refused as corrupt (%s)", what, tsl_diag_msg(&d));
    assert_null(bad);
    tsl_free(copy);
}

/* Save -> load -> forecast is identical, also after the same update on both; every flipped byte
 * and truncation is refused; and under a valid checksum, so is each bad field of the state:
 * too many periods, a period the spec did not ask for, periods out of order, a non-finite
 * figure, a wrong base length, a base that absorbed a different number of observations. */
static void test_roundtrip_and_corruption(void **state) {
    (void)state;
    size_t n = 4 * WEEK;
    double *y = known_series(n + 10, 9);
    tsl_model *m = fit_spec("mstl", daily_weekly, 2, y, n);
    tu_model_roundtrip(m, 200, levels7, 7);
    tsl_wbuf b;
    tsl_wbuf_init(&b);
    assert_int_equal(tsl_model_save(m, &b, NULL), TSL_OK);
    tsl_model *back = NULL;
    assert_int_equal(tsl_model_load(b.data, b.len, &back, NULL), TSL_OK);
    double e1[10], e2[10], f1[50], f2[50];
    y[n + 4] = NAN;
    assert_int_equal(tsl_model_update(m, y + n, 10, e1, NULL), TSL_OK);
    assert_int_equal(tsl_model_update(back, y + n, 10, e2, NULL), TSL_OK);
    assert_memory_equal(e1, e2, sizeof e1);
    assert_int_equal(tsl_model_forecast(m, 50, NULL, 0, f1, NULL, NULL), TSL_OK);
    assert_int_equal(tsl_model_forecast(back, 50, NULL, 0, f2, NULL, NULL), TSL_OK);
    assert_memory_equal(f1, f2, sizeof f1);
    tsl_model_free(back);
    tu_model_blob_robust(m, 1);

    /* The state: u8 np = 2, i32 24, i32 168, the figures, u32 base length, the base. */
    static const uint8_t head[9] = {2, 24, 0, 0, 0, 168, 0, 0, 0};
    size_t at = find_bytes(&b, head, sizeof head);
    uint8_t five = 5, twelve = 12, big = 200;
    expect_refused(&b, at, &five, 1, "5 periods");
    expect_refused(&b, at + 1, &twelve, 1, "a period not asked for");
    expect_refused(&b, at + 5, &twelve, 1, "periods out of order");
    double nan = NAN;
    expect_refused(&b, at + 9 + 8 * 30, &nan, 8, "a NaN figure");
    size_t len_at = at + 9 + 8 * (24 + 168);
    uint8_t lenb[4];
    memcpy(lenb, b.data + len_at, 4);
    lenb[0] = (uint8_t)(lenb[0] + 1);
    expect_refused(&b, len_at, lenb, 4, "a base length one too long");
    lenb[0] = (uint8_t)(lenb[0] - 2);
    expect_refused(&b, len_at, lenb, 4, "a base length one too short");
    /* The base's own nobs (its header: magic, 4 u16, the spec list, i32 period, u64 nobs),
     * changed and the base resealed too. */
    size_t base_at = len_at + 4;
    uint32_t base_len = (uint32_t)b.data[len_at] | (uint32_t)b.data[len_at + 1] << 8 |
                        (uint32_t)b.data[len_at + 2] << 16 | (uint32_t)b.data[len_at + 3] << 24;
    size_t nobs_at = base_at + 12 + 1 + 5 * (size_t)b.data[base_at + 12] + 4;
    tsl_wbuf c;
    tsl_wbuf_init(&c);
    tsl_wbuf_put(&c, b.data, b.len);
    c.data[nobs_at] = big;
    reseal(c.data + base_at, base_len);
    reseal(c.data, c.len);
    tsl_model *bad = NULL;
    assert_int_equal(tsl_model_load(c.data, c.len, &bad, NULL), TSL_ECORRUPT);
    assert_null(bad);
    tsl_wbuf_release(&c);
    tsl_wbuf_release(&b);
    tsl_model_free(m);
    tsl_free(y);
}

/* Periods need more than two full cycles: with two weeks and an hour of history both stay; with
 * two weeks the weekly one is dropped (as R's mstl() drops it) and the name says so; with 40 hours
 * none is left and the base alone is fitted; with one value the base's own minimum applies. */
static void test_short_series(void **state) {
    (void)state;
    double *y = known_series(3 * WEEK, 13);
    tsl_model *m = fit_spec("mstl", daily_weekly, 2, y, 2 * WEEK + 1);
    assert_true(!strncmp(tsl_model_name(m), "MSTL(24,168)+ETS(", 17));
    tsl_model_free(m);
    m = fit_spec("mstl", daily_weekly, 2, y, 2 * WEEK);
    assert_true(!strncmp(tsl_model_name(m), "MSTL(24)+", 9));
    tu_model_roundtrip(m, 48, levels7, 7);
    tsl_model_free(m);
    m = fit_spec("mstl:naive", daily_weekly, 2, y, 40);
    assert_string_equal(tsl_model_name(m), "MSTL()+Naive");
    double f[3];
    assert_int_equal(tsl_model_forecast(m, 3, NULL, 0, f, NULL, NULL), TSL_OK);
    assert_true(f[0] == y[39] && f[2] == y[39]);
    tu_model_roundtrip(m, 5, levels7, 7);
    tsl_model_free(m);
    /* Period 1 alone asks for no season at all. */
    m = fit_spec("mstl:naive", NULL, 0, y, 100);
    assert_string_equal(tsl_model_name(m), "MSTL()+Naive");
    tsl_model_free(m);
    tsl_free(y);
}

/* Gaps: the decomposition fills them, the base sees them missing; the forecast of a series with
 * gaps stays close to that of the complete series, and leading missing values are dropped. */
static void test_missing_values(void **state) {
    (void)state;
    size_t n = 6 * WEEK, h = WEEK;
    double *y = known_series(n, 17);
    double *g = tsl_malloc((n + 5) * sizeof *g);
    for (size_t t = 0; t < 5; t++) g[t] = NAN;
    memcpy(g + 5, y, n * sizeof *y);
    for (size_t t = 300; t < 340; t++) g[5 + t] = NAN; /* a day and a half */
    g[5 + 700] = g[5 + 701] = g[5 + n - 1] = NAN;      /* ... and the very last value */
    tsl_model *full = fit_spec("mstl", daily_weekly, 2, y, n);
    tsl_model *gap = fit_spec("mstl", daily_weekly, 2, g, n + 5);
    assert_int_equal(tsl_model_nobs(gap), n);
    double f1[WEEK], f2[WEEK];
    assert_int_equal(tsl_model_forecast(full, h, NULL, 0, f1, NULL, NULL), TSL_OK);
    assert_int_equal(tsl_model_forecast(gap, h, NULL, 0, f2, NULL, NULL), TSL_OK);
    double mad = 0;
    for (size_t k = 0; k < h; k++) mad += fabs(f1[k] - f2[k]) / (double)h;
    if (mad > 0.5 * NOISE_SD) fail_msg("gaps moved the forecast by %.3f on average", mad);
    tsl_model_free(full);
    tsl_model_free(gap);
    tsl_free(g);
    tsl_free(y);
}

/* The spec's text form: "mstl" (ETS), "mstl:BASE" round-trips; bad bases and bad periods are
 * refused; mstl:arima parses, and fitting it fails cleanly while this build lacks ARIMA. */
static void test_spec_parse_and_errors(void **state) {
    (void)state;
    static const char *const good[] = {"mstl",       "mstl:theta", "mstl:otm",  "mstl:dotm",
                                       "mstl:arima", "mstl:naive", "mstl:drift"};
    tsl_model_spec spec;
    tsl_diag d = {0};
    char buf[64];
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        assert_int_equal(tsl_model_spec_parse(good[i], 24, &spec, &d), TSL_OK);
        assert_int_equal(spec.kind, TSL_MODEL_MSTL);
        assert_int_equal(spec.period, 24);
        tsl_model_spec_format(&spec, buf, sizeof buf);
        assert_string_equal(buf, good[i]);
    }
    assert_int_equal(tsl_model_spec_parse("mstl:ets", 24, &spec, &d), TSL_OK);
    assert_int_equal(spec.base, TSL_MODEL_ETS);
    tsl_model_spec_format(&spec, buf, sizeof buf);
    assert_string_equal(buf, "mstl");
    assert_string_equal(tsl_model_kind_name(TSL_MODEL_MSTL), "mstl");
    assert_int_equal(tsl_model_spec_parse("mstl:croston", 24, &spec, &d), TSL_EINVAL);
    assert_non_null(strstr(tsl_diag_msg(&d), "mstl:croston"));
    assert_int_equal(tsl_model_spec_parse("mstl:", 24, &spec, &d), TSL_EINVAL);

    size_t n = 3 * WEEK;
    double *y = known_series(n, 19);
    tsl_model *m = NULL;
    assert_int_equal(tsl_model_spec_parse("mstl:arima", 24, &spec, &d), TSL_OK);
    tsl_err rc = tsl_model_fit(&spec, y, n, &m, &d);
    if (rc == TSL_OK) { /* ARIMA has landed: then it must work as a base */
        assert_true(!strncmp(tsl_model_name(m), "MSTL(24)+", 9));
        tsl_model_free(m);
    } else {
        assert_int_equal(rc, TSL_EINVAL);
        assert_non_null(strstr(tsl_diag_msg(&d), "unknown model kind"));
        assert_null(m);
    }
    static const int bad[][3] = {{2, 168, 24}, {2, 24, 24}, {1, 1, 0}, {1, 100001, 0}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        tsl_model_spec_init(&spec, TSL_MODEL_MSTL, 168);
        spec.nperiods = bad[i][0];
        spec.periods[0] = bad[i][1];
        spec.periods[1] = bad[i][2];
        assert_int_equal(tsl_model_fit(&spec, y, n, &m, &d), TSL_EINVAL);
        assert_null(m);
    }
    tsl_model_spec_init(&spec, TSL_MODEL_MSTL, 24);
    spec.nperiods = TSL_MAX_PERIODS + 1;
    assert_int_equal(tsl_model_fit(&spec, y, n, &m, &d), TSL_EINVAL);
    tsl_model_spec_init(&spec, TSL_MODEL_MSTL, 24);
    spec.base = TSL_MODEL_MSTL;
    assert_int_equal(tsl_model_fit(&spec, y, n, &m, &d), TSL_EINVAL);
    tsl_free(y);
}

/* The decomposition's own errors and edge cases. */
static void test_decomposition_errors(void **state) {
    (void)state;
    size_t n = 3 * WEEK;
    double *y = known_series(n, 23);
    tsl_mstl m = {0};
    tsl_diag d = {0};
    static const int dup[2] = {24, 24}, one[2] = {1, 24}, desc[2] = {168, 24};
    assert_int_equal(tsl_decomp_mstl(y, n, dup, 2, NULL, &m, &d), TSL_EINVAL);
    assert_int_equal(tsl_decomp_mstl(y, n, one, 2, NULL, &m, &d), TSL_EINVAL);
    assert_int_equal(tsl_decomp_mstl(y, n, desc, 0, NULL, &m, &d), TSL_EINVAL);
    assert_int_equal(tsl_decomp_mstl(y, 40, desc, 2, NULL, &m, &d), TSL_ESHORT);
    assert_non_null(strstr(tsl_diag_msg(&d), "shorter than half"));
    assert_null(m.trend);
    /* Any order in, ascending out; the options' windows follow the ascending order. */
    assert_int_equal(tsl_decomp_mstl(y, n, desc, 2, NULL, &m, &d), TSL_OK);
    assert_int_equal(m.periods[0], 24);
    assert_int_equal(m.periods[1], 168);
    tsl_mstl_free(&m);
    tsl_mstl_opts o;
    tsl_mstl_opts_init(&o);
    o.s_window[0] = -1;
    assert_int_equal(tsl_decomp_mstl(y, n, desc, 2, &o, &m, &d), TSL_EINVAL);
    tsl_mstl_opts_init(&o);
    o.iterate = 3;
    o.s_window[1] = 31;
    assert_int_equal(tsl_decomp_mstl(y, n, desc, 2, &o, &m, &d), TSL_OK);
    tsl_mstl_free(&m);
    y[5] = INFINITY;
    assert_int_equal(tsl_decomp_mstl(y, n, desc, 2, NULL, &m, &d), TSL_EINVAL);
    for (size_t t = 0; t < n; t++) y[t] = NAN;
    assert_int_equal(tsl_decomp_mstl(y, n, desc, 2, NULL, &m, &d), TSL_ESHORT);
    tsl_mstl_free(NULL);
    tsl_free(y);
}

/* Gap filling as na.interp(): nothing to do without gaps; linear with no period or too few
 * observations; the seasonal fill follows the season across a gap of a day where a straight
 * line would not; periods it cannot take are refused. */
static void test_fill_gaps(void **state) {
    (void)state;
    size_t n = 4 * WEEK;
    double *y = known_series(n, 29);
    double *out = tsl_malloc(n * sizeof *out), *g = tsl_malloc(n * sizeof *g);
    tsl_diag d = {0};
    assert_int_equal(tsl_decomp_fill_gaps(y, n, daily_weekly, 2, out, &d), TSL_OK);
    assert_memory_equal(out, y, n * sizeof *y);
    memcpy(g, y, n * sizeof *y);
    for (size_t t = 400; t < 424; t++) g[t] = NAN;
    g[0] = g[n - 1] = NAN;
    assert_int_equal(tsl_decomp_fill_gaps(g, n, NULL, 0, out, &d), TSL_OK);
    assert_true(out[0] == g[1] && out[n - 1] == g[n - 2]);
    tu_close(out[412], g[399] + (g[424] - g[399]) * (13.0 / 25.0), 1e-15, 0, "linear fill");
    assert_int_equal(tsl_decomp_fill_gaps(g, n, daily_weekly, 2, out, &d), TSL_OK);
    double err = 0;
    for (size_t t = 400; t < 424; t++) err += fabs(out[t] - y[t]) / 24.0;
    if (err > 2.0 * NOISE_SD) fail_msg("seasonal fill is off by %.3f on average", err);
    for (size_t t = 0; t < n; t++)
        if (!isnan(g[t])) assert_true(out[t] == g[t]);
    static const int bad[2] = {168, 24};
    assert_int_equal(tsl_decomp_fill_gaps(g, n, bad, 2, out, &d), TSL_EINVAL);
    int too_long = (int)n;
    assert_int_equal(tsl_decomp_fill_gaps(g, n, &too_long, 1, out, &d), TSL_EINVAL);
    for (size_t t = 0; t < n; t++) g[t] = NAN;
    assert_int_equal(tsl_decomp_fill_gaps(g, n, NULL, 0, out, &d), TSL_ESHORT);
    tsl_free(out);
    tsl_free(g);
    tsl_free(y);
}

/* ---- candidate periods ---- */

static void test_freq_seasonal_periods(void **state) {
    (void)state;
    static const struct {
        const char *freq;
        int n, p[2];
    } cases[] = {
        {"H", 2, {24, 168}},      {"30min", 2, {48, 336}}, {"15min", 2, {96, 672}},
        {"5min", 2, {288, 2016}}, {"min", 2, {60, 1440}},  {"2min", 2, {30, 720}},
        {"S", 2, {3600, 86400}},  {"2H", 2, {12, 84}},     {"7H", 1, {24, 0}},
        {"5H", 0, {0, 0}},        {"D", 2, {7, 365}},      {"2D", 0, {0, 0}},
        {"W", 1, {52, 0}},        {"2W", 1, {26, 0}},      {"M", 1, {12, 0}},
        {"3M", 1, {4, 0}},        {"Q", 1, {4, 0}},        {"Y", 0, {0, 0}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        tsl_freq f;
        assert_int_equal(tsl_freq_parse(cases[i].freq, &f, NULL), TSL_OK);
        int out[4] = {0};
        int k = tsl_freq_seasonal_periods(f, out, 4);
        if (k != cases[i].n) fail_msg("%s: %d periods, expected %d", cases[i].freq, k, cases[i].n);
        for (int j = 0; j < k; j++) assert_int_equal(out[j], cases[i].p[j]);
    }
    tsl_freq h;
    assert_int_equal(tsl_freq_parse("H", &h, NULL), TSL_OK);
    int one = 0;
    assert_int_equal(tsl_freq_seasonal_periods(h, &one, 1), 1);
    assert_int_equal(one, 24);
    assert_int_equal(tsl_freq_seasonal_periods(h, &one, 0), 0);
    tsl_freq bad = {TSL_FREQ_NONE, 1, 0};
    assert_int_equal(tsl_freq_seasonal_periods(bad, &one, 1), 0);
}

/* Confirmation: a daily + weekly series keeps both; the same with the weekly cycle removed keeps
 * 24 only; noise keeps none; too short a history drops the weekly candidate unseen; candidates
 * below 2 and repeats are ignored, more than four distinct ones refused. */
static void test_confirm_periods(void **state) {
    (void)state;
    size_t n = 8 * WEEK;
    double *y = known_series(n, 31);
    int out[4], nout = -1;
    static const int cand[4] = {168, 1, 24, 24};
    assert_int_equal(tsl_mstl_confirm_periods(y, n, cand, 4, out, &nout, NULL), TSL_OK);
    assert_int_equal(nout, 2);
    assert_int_equal(out[0], 24);
    assert_int_equal(out[1], 168);
    double *z = tsl_malloc(n * sizeof *z);
    for (size_t t = 0; t < n; t++) z[t] = y[t] - true_weekly(t);
    assert_int_equal(tsl_mstl_confirm_periods(z, n, daily_weekly, 2, out, &nout, NULL), TSL_OK);
    assert_int_equal(nout, 1);
    assert_int_equal(out[0], 24);
    rng r = {37};
    for (size_t t = 0; t < n; t++) z[t] = 100 + NOISE_SD * rng_norm(&r);
    assert_int_equal(tsl_mstl_confirm_periods(z, n, daily_weekly, 2, out, &nout, NULL), TSL_OK);
    assert_int_equal(nout, 0);
    /* 300 observed hours between missing ends: 168 cannot be judged. */
    for (size_t t = 0; t < 320; t++) z[t] = t < 10 || t >= 310 ? NAN : y[t];
    assert_int_equal(tsl_mstl_confirm_periods(z, 320, daily_weekly, 2, out, &nout, NULL), TSL_OK);
    assert_int_equal(nout, 1);
    assert_int_equal(out[0], 24);
    assert_int_equal(tsl_mstl_confirm_periods(z, 40, daily_weekly, 2, out, &nout, NULL), TSL_OK);
    assert_int_equal(nout, 0);
    static const int many[5] = {2, 3, 4, 5, 6};
    assert_int_equal(tsl_mstl_confirm_periods(y, n, many, 5, out, &nout, NULL), TSL_EINVAL);
    tsl_free(z);
    tsl_free(y);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mstl_against_r),
        cmocka_unit_test(test_forecasts_against_r),
        cmocka_unit_test(test_known_components_recovered),
        cmocka_unit_test(test_known_series_forecast),
        cmocka_unit_test(test_update_equals_fit_then_filter),
        cmocka_unit_test(test_quantiles_monotone),
        cmocka_unit_test(test_roundtrip_and_corruption),
        cmocka_unit_test(test_short_series),
        cmocka_unit_test(test_missing_values),
        cmocka_unit_test(test_spec_parse_and_errors),
        cmocka_unit_test(test_decomposition_errors),
        cmocka_unit_test(test_fill_gaps),
        cmocka_unit_test(test_freq_seasonal_periods),
        cmocka_unit_test(test_confirm_periods),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
