/*
 * test_properties.c - the promises of the model interface, checked for every model kind at
 * once, so a new model cannot forget one: constant in, constant out; quantiles monotone in the
 * level; never negative for a history that never was; serialise -> load -> forecast identical
 * to the bit, also after an update; interior gaps tolerated; long horizons finite.
 */
#include "testutil.h"

#include <string.h>

#include "tsloop/mem.h"
#include "tsloop/model.h"

static const char *const all_models[] = {"naive",    "snaive",  "mean", "drift",      "ma",  "ets",
                                         "theta",    "otm",     "dotm", "croston",    "sba", "tsb",
                                         "ets:MAdM", "ets:ANA", "mstl", "mstl:theta", "gbm"};
#define NMODELS (sizeof all_models / sizeof all_models[0])

static const double levels[7] = {0.01, 0.05, 0.1, 0.5, 0.9, 0.95, 0.99};

/* A positive monthly-like series with trend, season and noise; gaps when asked. */
static void make_series(double *y, size_t n, int gaps) {
    uint64_t x = 2024;
    for (size_t i = 0; i < n; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        double u = (double)(x >> 11) / 9007199254740992.0 - 0.5;
        y[i] = 200 + 1.5 * (double)i + 30 * sin(2 * M_PI * (double)i / 12) + 12 * u;
        if (gaps && (i == 17 || i == 40 || i == 41 || i == 77)) y[i] = NAN;
    }
}

static tsl_model *fit(const char *name, int period, const double *y, size_t n) {
    tsl_model_spec spec;
    tsl_diag d = {0};
    assert_int_equal(tsl_model_spec_parse(name, period, &spec, &d), TSL_OK);
    tsl_model *m = NULL;
    tsl_err rc = tsl_model_fit(&spec, y, n, &m, &d);
    if (rc) fail_msg("%s: %s", name, tsl_diag_msg(&d));
    return m;
}

static void check_monotone(const char *name, const double *q, size_t h) {
    for (size_t s = 0; s < h; s++)
        for (size_t j = 1; j < 7; j++)
            if (!(q[s * 7 + j] >= q[s * 7 + j - 1]))
                fail_msg("%s: quantiles not monotone at step %zu level %zu", name, s + 1, j);
}

static void test_constant_in_constant_out(void **state) {
    (void)state;
    double y[96];
    for (int i = 0; i < 96; i++) y[i] = 42.5;
    for (size_t k = 0; k < NMODELS; k++) {
        /* SBA deflates Croston by design (1 - alpha/2); a seasonal ETS form on a constant
         * series is not what anyone asks for. */
        if (!strcmp(all_models[k], "sba") || !strcmp(all_models[k], "ets:MAdM") ||
            !strcmp(all_models[k], "ets:ANA"))
            continue;
        tsl_model *m = fit(all_models[k], 12, y, 96);
        double f[24], q[24 * 7];
        assert_int_equal(tsl_model_forecast(m, 24, levels, 7, f, q, NULL), TSL_OK);
        for (int s = 0; s < 24; s++) {
            tu_close(f[s], 42.5, 1e-6, 1e-6, "%s constant mean step %d", all_models[k], s + 1);
            for (int j = 0; j < 7; j++)
                tu_close(q[s * 7 + j], 42.5, 1e-4, 1e-4, "%s constant quantile", all_models[k]);
        }
        tsl_model_free(m);
    }
}

static void test_quantiles_and_roundtrip(void **state) {
    (void)state;
    enum { N = 120, H = 36 };
    double y[N + 10];
    make_series(y, N + 10, 0);
    for (size_t k = 0; k < NMODELS; k++) {
        const char *name = all_models[k];
        tsl_model *m = fit(name, 12, y, N);
        double f[H], q[H * 7];
        assert_int_equal(tsl_model_forecast(m, H, levels, 7, f, q, NULL), TSL_OK);
        check_monotone(name, q, H);
        for (int s = 0; s < H; s++) {
            assert_true(isfinite(f[s]));
            assert_true(q[s * 7] >= 0); /* the history is positive */
        }
        /* Round trip, then the same update on both: identical to the bit. */
        tsl_wbuf b;
        tsl_wbuf_init(&b);
        assert_int_equal(tsl_model_save(m, &b, NULL), TSL_OK);
        tsl_model *back = NULL;
        tsl_diag d = {0};
        if (tsl_model_load(b.data, b.len, &back, &d)) fail_msg("%s: %s", name, tsl_diag_msg(&d));
        tsl_wbuf_release(&b);
        double f2[H], q2[H * 7];
        assert_int_equal(tsl_model_forecast(back, H, levels, 7, f2, q2, NULL), TSL_OK);
        if (memcmp(f, f2, sizeof f) || memcmp(q, q2, sizeof q))
            fail_msg("%s: forecast differs after save/load", name);
        assert_string_equal(tsl_model_name(m), tsl_model_name(back));
        double e1[10], e2[10];
        assert_int_equal(tsl_model_update(m, y + N, 10, e1, NULL), TSL_OK);
        assert_int_equal(tsl_model_update(back, y + N, 10, e2, NULL), TSL_OK);
        assert_memory_equal(e1, e2, sizeof e1);
        assert_int_equal(tsl_model_forecast(m, H, levels, 7, f, q, NULL), TSL_OK);
        assert_int_equal(tsl_model_forecast(back, H, levels, 7, f2, q2, NULL), TSL_OK);
        if (memcmp(f, f2, sizeof f) || memcmp(q, q2, sizeof q))
            fail_msg("%s: forecast differs after update of a loaded model", name);
        assert_int_equal(tsl_model_nobs(m), N + 10);
        tsl_model_free(m);
        tsl_model_free(back);
    }
}

static void test_gaps_and_long_horizons(void **state) {
    (void)state;
    enum { N = 120 };
    double y[N];
    make_series(y, N, 1);
    for (size_t k = 0; k < NMODELS; k++) {
        tsl_model *m = fit(all_models[k], 12, y, N);
        double *f = tsl_malloc(1000 * sizeof *f), *q = tsl_malloc(1000 * 7 * sizeof *q);
        assert_int_equal(tsl_model_forecast(m, 1000, levels, 7, f, q, NULL), TSL_OK);
        for (int s = 0; s < 1000; s++) assert_true(isfinite(f[s]));
        check_monotone(all_models[k], q, 1000);
        /* Updating with a gap is allowed and reports NaN for its one-step error. */
        double more[3] = {300, NAN, 305}, e[3];
        assert_int_equal(tsl_model_update(m, more, 3, e, NULL), TSL_OK);
        assert_true(isnan(e[1]) && isfinite(e[0]) && isfinite(e[2]));
        tsl_free(f);
        tsl_free(q);
        tsl_model_free(m);
    }
}

/* Ensembles of every pair keep the same promises. */
static void test_ensembles_of_everything(void **state) {
    (void)state;
    enum { N = 96 };
    double y[N];
    make_series(y, N, 0);
    for (size_t a = 0; a < NMODELS; a += 3) {
        tsl_model *mem[3];
        for (size_t i = 0; i < 3; i++) mem[i] = fit(all_models[(a + i) % NMODELS], 12, y, N);
        tsl_model *e = NULL;
        assert_int_equal(tsl_model_ensemble(mem, NULL, 3, a % 2, &e, NULL), TSL_OK);
        double f[12], q[12 * 7], f2[12], q2[12 * 7];
        assert_int_equal(tsl_model_forecast(e, 12, levels, 7, f, q, NULL), TSL_OK);
        check_monotone(tsl_model_name(e), q, 12);
        tsl_model *back = NULL;
        assert_int_equal(tsl_model_clone(e, &back, NULL), TSL_OK);
        assert_int_equal(tsl_model_forecast(back, 12, levels, 7, f2, q2, NULL), TSL_OK);
        assert_memory_equal(f, f2, sizeof f);
        assert_memory_equal(q, q2, sizeof q);
        tsl_model_free(e);
        tsl_model_free(back);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constant_in_constant_out),
        cmocka_unit_test(test_quantiles_and_roundtrip),
        cmocka_unit_test(test_gaps_and_long_horizons),
        cmocka_unit_test(test_ensembles_of_everything),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
