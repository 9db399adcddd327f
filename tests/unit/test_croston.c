/*
 * test_croston.c - Croston, SBA and TSB: forecasts and one-step errors against R
 * (tests/data/r/make_croston.R: forecast::croston() for Croston and SBA, an independent R
 * filter for TSB), the parameters the default fit chooses against an R least-squares fit, the
 * empirical quantiles on a hand-derived series, and the properties every model keeps:
 * all-zero and constant series, missing values, short series, update == filtering,
 * save/load bit-identical, corrupt blobs refused; plus the demand classification.
 */
#include "testutil.h"

#include <string.h>

#include "forecast/intermittent.h"
#include "forecast/model_impl.h"
#include "tsloop/mem.h"
#include "tsloop/model.h"

static const tsl_model_kind kinds[3] = {TSL_MODEL_CROSTON, TSL_MODEL_SBA, TSL_MODEL_TSB};
static const char *const kind_cols[3] = {"croston", "sba", "tsb"};

/* R's parameters for the fixtures: alpha 0.1 (forecast::croston's default) and R's
 * initialisation; TSB's probability smoothed with 0.05. */
static tsl_intermittent_params r_params(tsl_model_kind kind) {
    tsl_intermittent_params p = {0.1, kind == TSL_MODEL_TSB ? 0.05 : 0.1, NAN, NAN};
    return p;
}

/* Loads series `name` from the inputs fixture into a new array. */
static double *load_series(const tu_table *in, const char *name, size_t *n) {
    return tu_series(in, name, n, NULL);
}

static tsl_model *fit_fixed(tsl_model_kind kind, tsl_intermittent_params p, const double *y,
                            size_t n) {
    tsl_model_spec spec;
    tsl_model_spec_init(&spec, kind, 1);
    tsl_model *m = NULL;
    tsl_diag d = {0};
    if (tsl_intermittent_fit(&spec, &p, y, n, &m, &d) != TSL_OK) fail_msg("fit: %s", d.msg);
    return m;
}

static tsl_model *fit_default(tsl_model_kind kind, int period, const double *y, size_t n) {
    tsl_model_spec spec;
    tsl_model_spec_init(&spec, kind, period);
    tsl_model *m = NULL;
    tsl_diag d = {0};
    if (tsl_model_fit(&spec, y, n, &m, &d) != TSL_OK) fail_msg("fit: %s", d.msg);
    return m;
}

static const char *const r_series[6] = {"sparse", "leading", "lumpy", "dense", "single", "short"};

static void test_forecasts_against_r(void **state) {
    (void)state;
    tu_table *in = tu_table_read(tu_path("croston/inputs.csv"));
    tu_table *fc = tu_table_read(tu_path("croston/forecasts.csv"));
    for (size_t si = 0; si < 6; si++) {
        size_t n;
        double *y = load_series(in, r_series[si], &n);
        for (size_t k = 0; k < 3; k++) {
            tsl_model *m = fit_fixed(kinds[k], r_params(kinds[k]), y, n);
            double mean[12];
            assert_int_equal(tsl_model_forecast(m, 12, NULL, 0, mean, NULL, NULL), TSL_OK);
            size_t checked = 0;
            for (size_t r = 0; r < fc->rows; r++) {
                if (strcmp(tu_str(fc, r, "series"), r_series[si])) continue;
                size_t s = (size_t)tu_num(fc, r, "step") - 1;
                tu_close(mean[s], tu_num(fc, r, kind_cols[k]), 1e-12, 1e-14, "%s %s step %zu",
                         r_series[si], kind_cols[k], s + 1);
                checked++;
            }
            assert_int_equal(checked, 12);
            tsl_model_free(m);
        }
        tsl_free(y);
    }
    tu_table_free(in);
    tu_table_free(fc);
}

/* Fitting a prefix and updating with the rest: the one-step errors are R's residuals, and the
 * state is exactly the one a fit on the whole series filters to. */
static void test_update_against_r(void **state) {
    (void)state;
    tu_table *in = tu_table_read(tu_path("croston/inputs.csv"));
    tu_table *fit = tu_table_read(tu_path("croston/fitted.csv"));
    for (size_t si = 0; si < 4; si++) {
        size_t n;
        double *y = load_series(in, r_series[si], &n);
        double *fitted[2];
        for (int c = 0; c < 2; c++) fitted[c] = tsl_malloc(n * sizeof(double));
        size_t t = 0;
        for (size_t r = 0; r < fit->rows; r++) {
            if (strcmp(tu_str(fit, r, "series"), r_series[si])) continue;
            fitted[0][t] = tu_num(fit, r, "croston");
            fitted[1][t++] = tu_num(fit, r, "tsb");
        }
        assert_int_equal(t, n);
        const size_t cut = 5;
        for (size_t k = 0; k < 3; k += 2) {
            tsl_model *part = fit_fixed(kinds[k], r_params(kinds[k]), y, cut);
            tsl_model *full = fit_fixed(kinds[k], r_params(kinds[k]), y, n);
            double *err1 = tsl_malloc(n * sizeof *err1);
            assert_int_equal(tsl_model_update(part, y + cut, n - cut, err1, NULL), TSL_OK);
            for (size_t i = cut; i < n; i++)
                tu_close(err1[i - cut], y[i] - fitted[k / 2][i], 1e-12, 1e-12,
                         "%s %s one-step error at %zu", r_series[si], kind_cols[k], i + 1);
            double a[6], b[6];
            assert_int_equal(tsl_model_forecast(part, 6, NULL, 0, a, NULL, NULL), TSL_OK);
            assert_int_equal(tsl_model_forecast(full, 6, NULL, 0, b, NULL, NULL), TSL_OK);
            assert_memory_equal(a, b, sizeof a);
            assert_int_equal(tsl_model_nobs(part), n);
            tsl_free(err1);
            tsl_model_free(part);
            tsl_model_free(full);
        }
        for (int c = 0; c < 2; c++) tsl_free(fitted[c]);
        tsl_free(y);
    }
    tu_table_free(in);
    tu_table_free(fit);
}

/* The default fit chooses constants and initial levels by least squares, as make_croston.R
 * does with lm() and optimize(). */
static void test_chosen_parameters(void **state) {
    (void)state;
    tu_table *in = tu_table_read(tu_path("croston/inputs.csv"));
    tu_table *pt = tu_table_read(tu_path("croston/params.csv"));
    for (size_t r = 0; r < pt->rows; r++) {
        const char *name = tu_str(pt, r, "series");
        size_t n;
        double *y = load_series(in, name, &n);
        for (size_t k = 0; k < 3; k++) {
            tsl_model *m = fit_default(kinds[k], 1, y, n);
            tsl_intermittent_params p;
            assert_int_equal(tsl_intermittent_params_of(m, &p, NULL), TSL_OK);
            int tsb = kinds[k] == TSL_MODEL_TSB;
            tu_close(p.alpha_size, tu_num(pt, r, "alpha_size"), 0, 1e-6, "%s %s alpha size", name,
                     kind_cols[k]);
            tu_close(p.init_size, tu_num(pt, r, "init_size"), 1e-6, 0, "%s %s init size", name,
                     kind_cols[k]);
            tu_close(p.alpha_rate, tu_num(pt, r, tsb ? "alpha_prob" : "alpha_interval"), 0, 1e-6,
                     "%s %s alpha rate", name, kind_cols[k]);
            tu_close(p.init_rate, tu_num(pt, r, tsb ? "init_prob" : "init_interval"), 1e-6, 0,
                     "%s %s init rate", name, kind_cols[k]);
            double mean[3];
            assert_int_equal(tsl_model_forecast(m, 3, NULL, 0, mean, NULL, NULL), TSL_OK);
            tu_close(mean[2], tu_num(pt, r, kind_cols[k]), 1e-6, 0, "%s %s forecast", name,
                     kind_cols[k]);
            tsl_model_free(m);
        }
        tsl_free(y);
    }
    tu_table_free(in);
    tu_table_free(pt);
}

/* Demand 2 in every other period: Croston with fixed constants forecasts exactly 1 from every
 * origin after the first demand, so the ratios y[t+k] / 1 are the actuals themselves. */
static void test_quantiles_hand_derived(void **state) {
    (void)state;
    double y[40];
    for (int i = 0; i < 40; i++) y[i] = i % 2 ? 2 : 0;
    tsl_model *m = fit_fixed(TSL_MODEL_CROSTON, r_params(TSL_MODEL_CROSTON), y, 40);
    const double lv[3] = {0.25, 0.5, 0.75};
    double mean[9], q[27];
    assert_int_equal(tsl_model_forecast(m, 9, lv, 3, mean, q, NULL), TSL_OK);
    tu_close(mean[0], 1.0, 0, 1e-12, "rate 2 / 2");
    /* Step 1, origins t = 1..38: y[t+1] is 0 for odd t (19 of them) and 2 for even t (19).
     * Type-7 quantiles of 19 zeros and 19 twos: 0.25 -> 0, 0.5 -> (0 + 2) / 2 = 1, 0.75 -> 2. */
    tu_close(q[0], 0, 0, 1e-12, "step 1 q25");
    tu_close(q[1], 1, 0, 1e-12, "step 1 q50");
    tu_close(q[2], 2, 0, 1e-12, "step 1 q75");
    /* Step 2, origins 1..37: 18 zeros and 19 twos, so the median is 2. */
    tu_close(q[3 + 1], 2, 0, 1e-12, "step 2 q50");
    /* H = max(period, 8) = 8. Step 9 scales row 8's relative error 2/1 - 1 by sqrt(9/8);
     * the lower quantile 1 - sqrt(9/8) is negative and clamped to 0. */
    tu_close(q[8 * 3 + 2], 1 + sqrt(9.0 / 8), 0, 1e-12, "step 9 q75");
    tu_close(q[8 * 3 + 0], 0, 0, 0, "step 9 q25 clamped");
    tsl_model_free(m);
}

/* A longer simulated series: quantiles are monotone, non-negative, 0 at low levels where most
 * periods have no demand, widen with the step, and the p90 is exceeded about as often as
 * nominal on data the model has not seen. */
static void test_quantile_properties(void **state) {
    (void)state;
    enum { N = 600, TRAIN = 400 };
    double *y = tsl_malloc(N * sizeof *y);
    uint64_t x = 88172645463325252ULL; /* xorshift64: the same series everywhere */
    for (int i = 0; i < N; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double u = (double)(x >> 11) / 9007199254740992.0;
        y[i] = u < 0.7 ? 0 : 1 + (double)((x >> 3) % 6);
    }
    const double lv[7] = {0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99};
    for (size_t k = 0; k < 3; k++) {
        tsl_model *m = fit_default(kinds[k], 7, y, TRAIN);
        double mean[30], q[30 * 7];
        assert_int_equal(tsl_model_forecast(m, 30, lv, 7, mean, q, NULL), TSL_OK);
        for (int s = 0; s < 30; s++) {
            for (int j = 0; j < 7; j++) {
                assert_true(q[s * 7 + j] >= 0);
                if (j) assert_true(q[s * 7 + j] >= q[s * 7 + j - 1]);
            }
            assert_true(q[s * 7 + 1] == 0); /* 70% zeros: the p10 is no demand */
            if (s) assert_true(q[s * 7 + 6] >= q[(s - 1) * 7 + 6]);
        }
        assert_true(q[29 * 7 + 6] > q[6]); /* beyond H = 8 the band keeps widening */
        /* One-step p90 exceedances over the next 200 periods, updating as they arrive. */
        int over = 0;
        for (int t = TRAIN; t < N; t++) {
            double f1, q1[7];
            assert_int_equal(tsl_model_forecast(m, 1, lv, 7, &f1, q1, NULL), TSL_OK);
            over += y[t] > q1[5];
            assert_int_equal(tsl_model_update(m, y + t, 1, NULL, NULL), TSL_OK);
        }
        if (over < 5 || over > 40) fail_msg("%s: p90 exceeded %d times in 200", kind_cols[k], over);
        tsl_model_free(m);
    }
    tsl_free(y);
}

static void test_all_zero_and_constant(void **state) {
    (void)state;
    double zeros[20] = {0}, four[30];
    for (int i = 0; i < 30; i++) four[i] = 4;
    const double lv[3] = {0.1, 0.5, 0.975};
    for (size_t k = 0; k < 3; k++) {
        tsl_model *m = fit_default(kinds[k], 1, zeros, 20);
        double f[5], q[15];
        assert_int_equal(tsl_model_forecast(m, 5, lv, 3, f, q, NULL), TSL_OK);
        for (int i = 0; i < 5; i++) assert_true(f[i] == 0);
        for (int i = 0; i < 15; i++) assert_true(q[i] == 0);
        /* A first demand after 20 zeros: R's initialisation, rate 5 / 21 (TSB: 5 * 1/21), and
         * the two-point quantiles: 0 up to level 1 - 1/21 = 0.952, the demand above it. */
        double five = 5, e;
        assert_int_equal(tsl_model_update(m, &five, 1, &e, NULL), TSL_OK);
        tu_close(e, 5, 0, 0, "%s error of the first demand", kind_cols[k]);
        assert_int_equal(tsl_model_forecast(m, 5, lv, 3, f, q, NULL), TSL_OK);
        double expect = 5.0 / 21 * (kinds[k] == TSL_MODEL_SBA ? 0.95 : 1.0);
        tu_close(f[0], expect, 1e-12, 0, "%s after the first demand", kind_cols[k]);
        tu_close(q[0], 0, 0, 0, "p10");
        tu_close(q[1], 0, 0, 0, "p50");
        tu_close(q[2], 5, 1e-12, 0, "p97.5");
        tsl_model_free(m);

        /* Constant demand: every size is 4 and every interval 1. */
        m = fit_default(kinds[k], 1, four, 30);
        assert_int_equal(tsl_model_forecast(m, 5, lv, 3, f, q, NULL), TSL_OK);
        tsl_intermittent_params p;
        assert_int_equal(tsl_intermittent_params_of(m, &p, NULL), TSL_OK);
        double c = kinds[k] == TSL_MODEL_SBA ? 4 * (1 - p.alpha_rate / 2) : 4;
        for (int i = 0; i < 5; i++) {
            tu_close(f[i], c, 1e-12, 0, "%s constant", kind_cols[k]);
            for (int j = 0; j < 3; j++)
                tu_close(q[i * 3 + j], 4, 1e-12, 0, "%s constant quantile", kind_cols[k]);
        }
        /* Ties keep the most smoothing: every constant fits a constant series exactly. */
        tu_close(p.alpha_size, 0.05, 0, 0, "alpha size on ties");
        tu_close(p.alpha_rate, kinds[k] == TSL_MODEL_TSB ? 0.01 : 0.05, 0, 0, "alpha rate");
        tsl_model_free(m);
    }
}

/* A missing value is skipped: the model is the one fitted on the series without it. */
static void test_missing_values(void **state) {
    (void)state;
    tu_table *in = tu_table_read(tu_path("croston/inputs.csv"));
    size_t n;
    double *y = load_series(in, "sparse", &n);
    double *gappy = tsl_malloc((n + 6) * sizeof *gappy);
    size_t g = 0;
    gappy[g++] = NAN; /* leading: dropped by model.c */
    for (size_t i = 0; i < n; i++) {
        gappy[g++] = y[i];
        if (i == 3 || i == 10 || i == 11 || i == 30 || i == n - 1) gappy[g++] = NAN;
    }
    for (size_t k = 0; k < 3; k++) {
        tsl_model *a = fit_default(kinds[k], 1, y, n), *b = fit_default(kinds[k], 1, gappy, g);
        tsl_intermittent_params pa, pb;
        assert_int_equal(tsl_intermittent_params_of(a, &pa, NULL), TSL_OK);
        assert_int_equal(tsl_intermittent_params_of(b, &pb, NULL), TSL_OK);
        assert_memory_equal(&pa, &pb, sizeof pa);
        double fa[4], fb[4];
        assert_int_equal(tsl_model_forecast(a, 4, NULL, 0, fa, NULL, NULL), TSL_OK);
        assert_int_equal(tsl_model_forecast(b, 4, NULL, 0, fb, NULL, NULL), TSL_OK);
        assert_memory_equal(fa, fb, sizeof fa);
        assert_int_equal(tsl_model_nobs(b), g - 1);
        /* Updating with gaps: NaN errors there, the state untouched. */
        const double more[4] = {NAN, 3, NAN, 0};
        double e[4];
        assert_int_equal(tsl_model_update(b, more, 4, e, NULL), TSL_OK);
        assert_true(isnan(e[0]) && isnan(e[2]));
        tu_close(e[1], 3 - fb[0], 1e-12, 0, "error after a gap");
        const double dense[2] = {3, 0};
        assert_int_equal(tsl_model_update(a, dense, 2, NULL, NULL), TSL_OK);
        assert_int_equal(tsl_model_forecast(a, 4, NULL, 0, fa, NULL, NULL), TSL_OK);
        assert_int_equal(tsl_model_forecast(b, 4, NULL, 0, fb, NULL, NULL), TSL_OK);
        assert_memory_equal(fa, fb, sizeof fa);
        tsl_model_free(a);
        tsl_model_free(b);
    }
    tsl_free(y);
    tsl_free(gappy);
    tu_table_free(in);
}

static void test_short_series(void **state) {
    (void)state;
    const double one[1] = {5}, zero[1] = {0}, two[2] = {3, 0}, zz[2] = {0, 0};
    const double single[6] = {0, 0, 0, 4, 0, 0};
    const double lv[2] = {0.5, 0.9};
    struct {
        const double *y;
        size_t n;
        double croston, tsb; /* R's initialisation with alpha 0.1 (nothing to estimate) */
    } cases[] = {
        {one, 1, 5, 5},
        {zero, 1, 0, 0},
        {two, 2, 3, 3 * 0.9},
        {zz, 2, 0, 0},
        /* one demand: 4 over its position 4; TSB then decays twice by 0.9 */
        {single, 6, 1, 0.81},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (size_t k = 0; k < 3; k++) {
            tsl_model *m = fit_default(kinds[k], 12, cases[c].y, cases[c].n);
            double f[3], q[6];
            assert_int_equal(tsl_model_forecast(m, 3, lv, 2, f, q, NULL), TSL_OK);
            double e = kinds[k] == TSL_MODEL_TSB   ? cases[c].tsb
                       : kinds[k] == TSL_MODEL_SBA ? cases[c].croston * 0.95
                                                   : cases[c].croston;
            tu_close(f[0], e, 1e-12, 0, "case %zu %s", c, kind_cols[k]);
            for (int i = 0; i < 6; i++) assert_true(q[i] >= 0 && isfinite(q[i]));
            assert_int_equal(tsl_model_nobs(m), cases[c].n);
            tsl_model_free(m);
        }
    }
    /* The single demand's two-point distribution: demand probability 1/4, so the median is no
     * demand and the p90 the demand of 4. */
    tsl_model *m = fit_default(TSL_MODEL_CROSTON, 1, single, 6);
    double f[1], q[2];
    assert_int_equal(tsl_model_forecast(m, 1, lv, 2, f, q, NULL), TSL_OK);
    tu_close(q[0], 0, 0, 0, "single p50");
    tu_close(q[1], 4, 1e-12, 0, "single p90");
    tsl_model_free(m);
}

/* Rewrites the CRC-32 at the end of a saved model after its bytes were edited. */
static void reseal(uint8_t *b, size_t len) {
    uint32_t c = tsl_crc32(0, b, len - 4);
    for (int i = 0; i < 4; i++) b[len - 4 + (size_t)i] = (uint8_t)(c >> (8 * i));
}

static void put_f64_at(uint8_t *b, size_t at, double v) {
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    for (int i = 0; i < 8; i++) b[at + (size_t)i] = (uint8_t)(u >> (8 * i));
}

/* Loads b after editing it and resealing; must fail with TSL_ECORRUPT. */
static void expect_refused(const uint8_t *orig, size_t len, size_t at, const void *bytes,
                           size_t nbytes, const char *what) {
    uint8_t *b = tsl_malloc(len);
    memcpy(b, orig, len);
    memcpy(b + at, bytes, nbytes);
    reseal(b, len);
    tsl_model *bad = NULL;
    tsl_diag d = {0};
    tsl_err rc = tsl_model_load(b, len, &bad, &d);
    if (rc != TSL_ECORRUPT) fail_msg("%s: load returned %d (%s)", what, rc, d.msg);
    assert_null(bad);
    tsl_free(b);
}

static void test_roundtrip_and_corruption(void **state) {
    (void)state;
    tu_table *in = tu_table_read(tu_path("croston/inputs.csv"));
    size_t n;
    double *y = load_series(in, "lumpy", &n);
    const double lv[3] = {0.05, 0.5, 0.95};
    for (size_t k = 0; k < 3; k++) {
        for (int shortone = 0; shortone < 2; shortone++) {
            /* the short fit has no quantile table: the two-point distribution */
            tsl_model *m = fit_default(kinds[k], 4, y, shortone ? 6 : n), *back = NULL;
            tsl_wbuf b;
            tsl_wbuf_init(&b);
            assert_int_equal(tsl_model_save(m, &b, NULL), TSL_OK);
            assert_int_equal(tsl_model_load(b.data, b.len, &back, NULL), TSL_OK);
            double f1[20], f2[20], q1[60], q2[60];
            assert_int_equal(tsl_model_forecast(m, 20, lv, 3, f1, q1, NULL), TSL_OK);
            assert_int_equal(tsl_model_forecast(back, 20, lv, 3, f2, q2, NULL), TSL_OK);
            assert_memory_equal(f1, f2, sizeof f1);
            assert_memory_equal(q1, q2, sizeof q1);
            assert_string_equal(tsl_model_name(m), tsl_model_name(back));
            /* Both continue identically. */
            const double more[3] = {0, 7, 0};
            double e1[3], e2[3];
            assert_int_equal(tsl_model_update(m, more, 3, e1, NULL), TSL_OK);
            assert_int_equal(tsl_model_update(back, more, 3, e2, NULL), TSL_OK);
            assert_memory_equal(e1, e2, sizeof e1);
            tu_model_blob_robust(m, 1);
            /* Well-sealed but invalid states: the model's own checks refuse them. Layout:
             * alpha_size alpha_rate init_size init_rate (f64) started (u8) size rate (f64)
             * since (u64) steps (u32) [nlev (u32) levels ratios]. */
            size_t tail = shortone ? 0 : 4 + 8 * (25 + (size_t)8 * 25);
            size_t st = b.len - 4 - (61 + tail);
            const uint8_t two = 2;
            const uint8_t big[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
            uint8_t tmp[8];
            put_f64_at(tmp, 0, 1.5);
            expect_refused(b.data, b.len, st, tmp, 8, "alpha_size 1.5");
            put_f64_at(tmp, 0, 0.0);
            expect_refused(b.data, b.len, st + 8, tmp, 8, "alpha_rate 0");
            put_f64_at(tmp, 0, -1.0);
            expect_refused(b.data, b.len, st + 16, tmp, 8, "init_size -1");
            put_f64_at(tmp, 0, INFINITY);
            expect_refused(b.data, b.len, st + 24, tmp, 8, "init_rate inf");
            expect_refused(b.data, b.len, st + 32, &two, 1, "started 2");
            put_f64_at(tmp, 0, NAN);
            expect_refused(b.data, b.len, st + 33, tmp, 8, "size NaN");
            put_f64_at(tmp, 0, kinds[k] == TSL_MODEL_TSB ? 1.5 : -2.0);
            expect_refused(b.data, b.len, st + 41, tmp, 8, "rate out of range");
            expect_refused(b.data, b.len, st + 49, big, 8, "since > nobs");
            expect_refused(b.data, b.len, st + 57, big, 4, "steps huge");
            if (!shortone) {
                const uint8_t one[4] = {1, 0, 0, 0};
                expect_refused(b.data, b.len, st + 61, one, 4, "one level");
                put_f64_at(tmp, 0, 0.7);
                expect_refused(b.data, b.len, st + 65, tmp, 8, "levels not increasing");
                put_f64_at(tmp, 0, -0.5);
                expect_refused(b.data, b.len, st + 65 + 8 * 25, tmp, 8, "negative ratio");
                put_f64_at(tmp, 0, 1e9);
                expect_refused(b.data, b.len, st + 65 + 8 * 25, tmp, 8, "ratios not monotone");
            }
            tsl_wbuf_release(&b);
            tsl_model_free(m);
            tsl_model_free(back);
        }
    }
    tsl_free(y);
    tu_table_free(in);
}

static void test_errors(void **state) {
    (void)state;
    tsl_model_spec spec;
    tsl_diag d = {0};
    const char *names[3] = {"croston", "sba", "tsb"}, *shown[3] = {"Croston", "SBA", "TSB"};
    const double neg[4] = {1, 0, -2, 3}, ok[4] = {1, 0, 2, 3};
    for (size_t k = 0; k < 3; k++) {
        assert_int_equal(tsl_model_spec_parse(names[k], 1, &spec, &d), TSL_OK);
        assert_int_equal(spec.kind, kinds[k]);
        tsl_model *m = NULL;
        assert_int_equal(tsl_model_fit(&spec, neg, 4, &m, &d), TSL_EINVAL);
        assert_non_null(strstr(d.msg, "non-negative"));
        assert_null(m);
        assert_int_equal(tsl_model_fit(&spec, ok, 4, &m, &d), TSL_OK);
        assert_string_equal(tsl_model_name(m), shown[k]);
        /* A negative update is refused and changes nothing. */
        double before[2], after[2];
        assert_int_equal(tsl_model_forecast(m, 2, NULL, 0, before, NULL, NULL), TSL_OK);
        assert_int_equal(tsl_model_update(m, neg, 4, NULL, &d), TSL_EINVAL);
        assert_int_equal(tsl_model_forecast(m, 2, NULL, 0, after, NULL, NULL), TSL_OK);
        assert_memory_equal(before, after, sizeof before);
        assert_int_equal(tsl_model_nobs(m), 4);
        tsl_model_free(m);
        /* Fixed parameters out of range. */
        tsl_intermittent_params bad[4] = {
            {0, 0.1, NAN, NAN}, {0.1, 1.5, NAN, NAN}, {0.1, 0.1, -1, NAN}, {0.1, 0.1, NAN, 0}};
        for (int i = 0; i < 4; i++) {
            assert_int_equal(tsl_intermittent_fit(&spec, &bad[i], ok, 4, &m, &d), TSL_EINVAL);
            assert_null(m);
        }
    }
    tsl_intermittent_params tsbp = {0.1, 0.1, NAN, 1.5};
    tsl_model_spec_init(&spec, TSL_MODEL_TSB, 1);
    tsl_model *m = NULL;
    assert_int_equal(tsl_intermittent_fit(&spec, &tsbp, ok, 4, &m, &d), TSL_EINVAL);
    /* Not an intermittent model. */
    tsl_model_spec_init(&spec, TSL_MODEL_NAIVE, 1);
    tsl_intermittent_params p = {0.1, 0.1, NAN, NAN};
    assert_int_equal(tsl_intermittent_fit(&spec, &p, ok, 4, &m, &d), TSL_EINVAL);
    assert_int_equal(tsl_model_fit(&spec, ok, 4, &m, &d), TSL_OK);
    assert_int_equal(tsl_intermittent_params_of(m, &p, &d), TSL_EINVAL);
    tsl_model_free(m);
    /* Nothing observed. */
    const double nan3[3] = {NAN, NAN, NAN};
    tsl_model_spec_init(&spec, TSL_MODEL_CROSTON, 1);
    assert_int_equal(tsl_model_fit(&spec, nan3, 3, &m, &d), TSL_ESHORT);
    assert_int_equal(tsl_model_spec_parse("croston:0.1", 1, &spec, &d), TSL_EINVAL);
}

static void test_classification(void **state) {
    (void)state;
    tu_table *in = tu_table_read(tu_path("croston/inputs.csv"));
    tu_table *cl = tu_table_read(tu_path("croston/classes.csv"));
    for (size_t r = 0; r < cl->rows; r++) {
        const char *name = tu_str(cl, r, "series");
        size_t n;
        double *y = load_series(in, name, &n);
        tsl_intermittency c;
        tsl_intermittent_classify(y, n, &c);
        assert_int_equal(c.zeros, (size_t)tu_num(cl, r, "zeros"));
        tu_close(c.adi, tu_num(cl, r, "adi"), 1e-12, 0, "%s adi", name);
        tu_close(c.cv2, tu_num(cl, r, "cv2"), 1e-12, 1e-15, "%s cv2", name);
        assert_string_equal(tsl_demand_class_name(c.cls), tu_str(cl, r, "class"));
        assert_int_equal(c.consider, c.cls == TSL_DEMAND_INTERMITTENT || c.cls == TSL_DEMAND_LUMPY);
        tsl_free(y);
    }
    /* By hand: 0 5 NaN 0 0 5 15 0 -> observed 7, demands 5, 5, 15: ADI 7/3, mean 25/3,
     * sample variance ((10/3)^2 * 2 + (20/3)^2) / 2 = 100/3, CV2 = (100/3) / (625/9) = 0.48:
     * intermittent, just under the 0.49 cut-off. */
    const double y[8] = {0, 5, NAN, 0, 0, 5, 15, 0};
    tsl_intermittency c;
    tsl_intermittent_classify(y, 8, &c);
    assert_int_equal(c.observed, 7);
    assert_int_equal(c.demands, 3);
    tu_close(c.zero_share, 4.0 / 7, 1e-15, 0, "zero share");
    tu_close(c.adi, 7.0 / 3, 1e-15, 0, "adi");
    tu_close(c.cv2, 0.48, 1e-12, 0, "cv2");
    assert_int_equal(c.cls, TSL_DEMAND_INTERMITTENT);
    assert_true(c.consider);
    /* Smooth and erratic: demand every period. */
    const double smooth[4] = {10, 11, 9, 10}, erratic[4] = {1, 30, 2, 40};
    tsl_intermittent_classify(smooth, 4, &c);
    assert_int_equal(c.cls, TSL_DEMAND_SMOOTH);
    assert_false(c.consider);
    tsl_intermittent_classify(erratic, 4, &c);
    assert_int_equal(c.cls, TSL_DEMAND_ERRATIC);
    assert_false(c.consider);
    /* All zero, nothing, negatives. */
    const double zeros[3] = {0, NAN, 0}, nan2[2] = {NAN, NAN}, neg[3] = {0, -1, 4};
    tsl_intermittent_classify(zeros, 3, &c);
    assert_int_equal(c.cls, TSL_DEMAND_ZERO);
    assert_true(isinf(c.adi) && isnan(c.cv2));
    assert_true(c.consider);
    tsl_intermittent_classify(nan2, 2, &c);
    assert_int_equal(c.cls, TSL_DEMAND_UNDEFINED);
    assert_true(isnan(c.zero_share) && isnan(c.adi));
    assert_false(c.consider);
    tsl_intermittent_classify(NULL, 0, &c);
    assert_int_equal(c.cls, TSL_DEMAND_UNDEFINED);
    tsl_intermittent_classify(neg, 3, &c);
    assert_int_equal(c.negatives, 1);
    assert_int_equal(c.cls, TSL_DEMAND_UNDEFINED);
    assert_false(c.consider);
    assert_string_equal(tsl_demand_class_name((tsl_demand_class)99), "unknown");
    tu_table_free(in);
    tu_table_free(cl);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forecasts_against_r),
        cmocka_unit_test(test_update_against_r),
        cmocka_unit_test(test_chosen_parameters),
        cmocka_unit_test(test_quantiles_hand_derived),
        cmocka_unit_test(test_quantile_properties),
        cmocka_unit_test(test_all_zero_and_constant),
        cmocka_unit_test(test_missing_values),
        cmocka_unit_test(test_short_series),
        cmocka_unit_test(test_roundtrip_and_corruption),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_classification),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
