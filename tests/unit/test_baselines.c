/*
 * test_baselines.c - naive, seasonal naive, mean, drift and moving average: forecasts and
 * intervals against R's forecast package (tests/data/r/make_baselines.R), and the properties
 * every model must keep (update == refit for these, save/load/forecast identical).
 */
#include "testutil.h"

#include <string.h>

#include "forecast/model_impl.h"
#include "tsloop/mem.h"
#include "tsloop/model.h"

static const double levels[4] = {0.025, 0.1, 0.9, 0.975};

/* Loads series `name` from the inputs fixture into a new array, with its period. */
static double *load_series(const tu_table *in, const char *name, size_t *n, int *period) {
    *period = !strcmp(name, "air") ? 12 : !strcmp(name, "lynx") ? 10 : 1;
    return tu_series(in, name, n, NULL);
}

static void test_against_r(void **state) {
    (void)state;
    tu_table *in = tu_table_read(tu_path("baselines/inputs.csv"));
    tu_table *fc = tu_table_read(tu_path("baselines/forecasts.csv"));
    const char *names[] = {"air", "www", "lynx"};
    const char *models[] = {"naive", "snaive", "mean", "drift"};
    for (size_t si = 0; si < 3; si++) {
        size_t n;
        int period;
        double *y = load_series(in, names[si], &n, &period);
        for (size_t mi = 0; mi < 4; mi++) {
            tsl_model_spec spec;
            tsl_diag d = {0};
            assert_int_equal(tsl_model_spec_parse(models[mi], period, &spec, &d), TSL_OK);
            tsl_model *m = NULL;
            assert_int_equal(tsl_model_fit(&spec, y, n, &m, &d), TSL_OK);
            double mean[15], q[60];
            assert_int_equal(tsl_model_forecast(m, 15, levels, 4, mean, q, &d), TSL_OK);
            size_t checked = 0;
            for (size_t r = 0; r < fc->rows; r++) {
                if (strcmp(tu_str(fc, r, "series"), names[si]) ||
                    strcmp(tu_str(fc, r, "model"), models[mi]))
                    continue;
                size_t s = (size_t)tu_num(fc, r, "step") - 1;
                const char *cols[4] = {"lo95", "lo80", "hi80", "hi95"};
                tu_close(mean[s], tu_num(fc, r, "mean"), 1e-10, 1e-9, "%s %s mean step %zu",
                         names[si], models[mi], s + 1);
                for (int j = 0; j < 4; j++) {
                    /* All three series are positive: tsloop clamps quantiles at zero. */
                    double e = fmax(0.0, tu_num(fc, r, cols[j]));
                    tu_close(q[s * 4 + (size_t)j], e, 1e-9, 1e-8, "%s %s %s step %zu", names[si],
                             models[mi], cols[j], s + 1);
                }
                checked++;
            }
            assert_int_equal(checked, 15);
            tsl_model_free(m);
        }
        tsl_free(y);
    }
    tu_table_free(in);
    tu_table_free(fc);
}

/* Fitting on y[0..k) then updating with y[k..n) gives the forecasts of fitting on y[0..n). */
static void test_update_equals_refit(void **state) {
    (void)state;
    tu_table *in = tu_table_read(tu_path("baselines/inputs.csv"));
    size_t n;
    int period;
    double *y = load_series(in, "air", &n, &period);
    y[20] = NAN; /* a gap, to exercise the missing-value paths */
    y[33] = NAN;
    const char *models[] = {"naive", "snaive", "mean", "drift"};
    for (size_t mi = 0; mi < 4; mi++) {
        tsl_model_spec spec;
        assert_int_equal(tsl_model_spec_parse(models[mi], period, &spec, NULL), TSL_OK);
        tsl_model *full = NULL, *part = NULL;
        assert_int_equal(tsl_model_fit(&spec, y, n, &full, NULL), TSL_OK);
        assert_int_equal(tsl_model_fit(&spec, y, 30, &part, NULL), TSL_OK);
        double err1[64];
        assert_int_equal(tsl_model_update(part, y + 30, n - 30, err1, NULL), TSL_OK);
        assert_true(isnan(err1[33 - 30]));
        assert_int_equal(tsl_model_nobs(part), tsl_model_nobs(full));
        double a[24], b[24], qa[48], qb[48];
        const double lv[2] = {0.1, 0.9};
        assert_int_equal(tsl_model_forecast(full, 24, lv, 2, a, qa, NULL), TSL_OK);
        assert_int_equal(tsl_model_forecast(part, 24, lv, 2, b, qb, NULL), TSL_OK);
        for (int s = 0; s < 24; s++) {
            tu_close(b[s], a[s], 1e-12, 1e-9, "%s update mean step %d", models[mi], s + 1);
            tu_close(qb[2 * s], qa[2 * s], 1e-9, 1e-9, "%s update p10 step %d", models[mi], s);
            tu_close(qb[2 * s + 1], qa[2 * s + 1], 1e-9, 1e-9, "%s update p90", models[mi]);
        }
        tsl_model_free(full);
        tsl_model_free(part);
    }
    tsl_free(y);
    tu_table_free(in);
}

static void test_snaive_repeats_last_season(void **state) {
    (void)state;
    double y[30];
    for (int i = 0; i < 30; i++) y[i] = 10 + (i % 7) * 3 + i * 0.01;
    tsl_model_spec spec;
    tsl_model_spec_init(&spec, TSL_MODEL_SNAIVE, 7);
    tsl_model *m = NULL;
    assert_int_equal(tsl_model_fit(&spec, y, 30, &m, NULL), TSL_OK);
    double f[21];
    assert_int_equal(tsl_model_forecast(m, 21, NULL, 0, f, NULL, NULL), TSL_OK);
    for (int s = 0; s < 21; s++) assert_true(f[s] == y[30 - 7 + s % 7]);
    assert_string_equal(tsl_model_name(m), "SNaive(7)");
    tsl_model_free(m);
}

static void test_constant_series(void **state) {
    (void)state;
    double y[40];
    for (int i = 0; i < 40; i++) y[i] = 5.5;
    const char *models[] = {"naive", "snaive", "mean", "drift", "ma"};
    for (size_t mi = 0; mi < 5; mi++) {
        tsl_model_spec spec;
        assert_int_equal(tsl_model_spec_parse(models[mi], 4, &spec, NULL), TSL_OK);
        tsl_model *m = NULL;
        assert_int_equal(tsl_model_fit(&spec, y, 40, &m, NULL), TSL_OK);
        double f[10], q[30];
        const double lv[3] = {0.1, 0.5, 0.9};
        assert_int_equal(tsl_model_forecast(m, 10, lv, 3, f, q, NULL), TSL_OK);
        for (int s = 0; s < 10; s++) {
            tu_close(f[s], 5.5, 0, 1e-12, "%s constant mean", models[mi]);
            for (int j = 0; j < 3; j++) tu_close(q[3 * s + j], 5.5, 0, 1e-9, "%s q", models[mi]);
        }
        tsl_model_free(m);
    }
}

static void test_roundtrip_and_corruption(void **state) {
    (void)state;
    double y[50];
    for (int i = 0; i < 50; i++) y[i] = 100 + 10 * sin(i * 0.7) + i;
    y[10] = NAN;
    const char *models[] = {"naive", "snaive", "mean", "drift", "ma", "ma:5"};
    for (size_t mi = 0; mi < 6; mi++) {
        tsl_model_spec spec;
        assert_int_equal(tsl_model_spec_parse(models[mi], 9, &spec, NULL), TSL_OK);
        tsl_model *m = NULL;
        tsl_diag d = {0};
        assert_int_equal(tsl_model_fit(&spec, y, 50, &m, &d), TSL_OK);
        const double lv[3] = {0.05, 0.5, 0.95};
        tu_model_roundtrip(m, 12, lv, 3);
        /* Every single-byte corruption and every truncation is refused, never crashes. */
        tu_model_blob_robust(m, 1);
        tsl_model_free(m);
    }
}

static void test_errors(void **state) {
    (void)state;
    tsl_model_spec spec;
    tsl_diag d = {0};
    assert_int_equal(tsl_model_spec_parse("prophet", 1, &spec, &d), TSL_EINVAL);
    assert_non_null(strstr(d.msg, "unknown model 'prophet'"));
    assert_int_equal(tsl_model_spec_parse("ma:0", 1, &spec, &d), TSL_EINVAL);
    assert_int_equal(tsl_model_spec_parse("naive:3", 1, &spec, &d), TSL_EINVAL);
    double y[3] = {NAN, NAN, NAN};
    tsl_model *m = NULL;
    tsl_model_spec_init(&spec, TSL_MODEL_NAIVE, 1);
    assert_int_equal(tsl_model_fit(&spec, y, 3, &m, &d), TSL_ESHORT);
    assert_null(m);
    double one[1] = {4};
    tsl_model_spec_init(&spec, TSL_MODEL_DRIFT, 1);
    assert_int_equal(tsl_model_fit(&spec, one, 1, &m, &d), TSL_ESHORT);
    double inf[3] = {1, INFINITY, 2};
    tsl_model_spec_init(&spec, TSL_MODEL_MEAN, 1);
    assert_int_equal(tsl_model_fit(&spec, inf, 3, &m, &d), TSL_EINVAL);
    /* Bad quantile levels. */
    double ok[5] = {1, 2, 3, 4, 5};
    assert_int_equal(tsl_model_fit(&spec, ok, 5, &m, &d), TSL_OK);
    double f[2], q[4];
    const double bad1[2] = {0.5, 0.5}, bad2[2] = {0.1, 1.0};
    assert_int_equal(tsl_model_forecast(m, 2, bad1, 2, f, q, &d), TSL_EINVAL);
    assert_int_equal(tsl_model_forecast(m, 2, bad2, 2, f, q, &d), TSL_EINVAL);
    assert_int_equal(tsl_model_forecast(m, 0, NULL, 0, f, NULL, &d), TSL_EINVAL);
    tsl_model_free(m);
}

static void test_ensemble(void **state) {
    (void)state;
    double y[48];
    for (int i = 0; i < 48; i++) y[i] = 50 + 8 * ((i % 12) < 6) + 0.5 * i;
    tsl_model *mem[3];
    const char *names[3] = {"naive", "snaive", "drift"};
    for (int i = 0; i < 3; i++) {
        tsl_model_spec spec;
        assert_int_equal(tsl_model_spec_parse(names[i], 12, &spec, NULL), TSL_OK);
        assert_int_equal(tsl_model_fit(&spec, y, 48, &mem[i], NULL), TSL_OK);
    }
    double fm[3][6];
    for (int i = 0; i < 3; i++)
        assert_int_equal(tsl_model_forecast(mem[i], 6, NULL, 0, fm[i], NULL, NULL), TSL_OK);
    tsl_model *e = NULL;
    const double w[3] = {1, 2, 1};
    assert_int_equal(tsl_model_ensemble(mem, w, 3, 0, &e, NULL), TSL_OK);
    assert_string_equal(tsl_model_name(e), "Mean(naive,snaive,drift)");
    double f[6], q[12];
    const double lv[2] = {0.1, 0.9};
    assert_int_equal(tsl_model_forecast(e, 6, lv, 2, f, q, NULL), TSL_OK);
    for (int s = 0; s < 6; s++) {
        tu_close(f[s], 0.25 * fm[0][s] + 0.5 * fm[1][s] + 0.25 * fm[2][s], 1e-12, 1e-12,
                 "ensemble step %d", s);
        assert_true(q[2 * s] <= f[s] && f[s] <= q[2 * s + 1]);
    }
    /* Round trip through the nested envelopes. */
    tsl_wbuf b;
    tsl_wbuf_init(&b);
    assert_int_equal(tsl_model_save(e, &b, NULL), TSL_OK);
    tsl_model *back = NULL;
    assert_int_equal(tsl_model_load(b.data, b.len, &back, NULL), TSL_OK);
    double f2[6], q2[12];
    assert_int_equal(tsl_model_forecast(back, 6, lv, 2, f2, q2, NULL), TSL_OK);
    assert_memory_equal(f, f2, sizeof f);
    assert_memory_equal(q, q2, sizeof q);
    /* Update feeds every member. */
    double more[2] = {80, 81}, err1[2];
    assert_int_equal(tsl_model_update(back, more, 2, err1, NULL), TSL_OK);
    assert_int_equal(tsl_model_nobs(back), 50);
    assert_true(isfinite(err1[0]) && isfinite(err1[1]));
    tsl_wbuf_release(&b);
    tsl_model_free(back);
    tsl_model_free(e);
}

static void test_calibration(void **state) {
    (void)state;
    double y[20];
    for (int i = 0; i < 20; i++) y[i] = 10 + (i % 2);
    tsl_model_spec spec;
    tsl_model_spec_init(&spec, TSL_MODEL_MEAN, 1);
    tsl_model *m = NULL;
    assert_int_equal(tsl_model_fit(&spec, y, 20, &m, NULL), TSL_OK);
    const double lv[3] = {0.1, 0.5, 0.9};
    const double off[6] = {-1, 0, 1, -2, 0, 2};
    assert_int_equal(tsl_model_set_calibration(m, 2, lv, 3, off, NULL), TSL_OK);
    const double ask[2] = {0.3, 0.9};
    double f[4], q[8];
    assert_int_equal(tsl_model_forecast(m, 4, ask, 2, f, q, NULL), TSL_OK);
    tu_close(q[0], f[0] - 0.5, 1e-12, 1e-12, "interpolated level at step 1");
    tu_close(q[1], f[0] + 1, 1e-12, 1e-12, "p90 step 1");
    tu_close(q[3], f[1] + 2, 1e-12, 1e-12, "p90 step 2");
    tu_close(q[7], f[3] + 2 * sqrt(2.0), 1e-12, 1e-12, "p90 step 4 scaled by sqrt(4/2)");
    tsl_model_free(m);
}

static void test_interval_scale(void **state) {
    (void)state;
    double y[30];
    for (int i = 0; i < 30; i++) y[i] = 10 + (i % 3);
    tsl_model_spec spec;
    tsl_model_spec_init(&spec, TSL_MODEL_NAIVE, 1);
    tsl_model *m = NULL, *plain = NULL;
    assert_int_equal(tsl_model_fit(&spec, y, 30, &m, NULL), TSL_OK);
    assert_int_equal(tsl_model_fit(&spec, y, 30, &plain, NULL), TSL_OK);
    const double lv[2] = {0.1, 0.9};
    const double sc[4] = {2.0, 1.5, 3.0, 1.0}; /* step 1: 2x low, 1.5x high; step 2: 3x, 1x */
    assert_int_equal(tsl_model_set_interval_scale(m, 2, lv, 2, sc, NULL), TSL_OK);
    assert_true(tsl_model_is_calibrated(m));
    const double ask[3] = {0.05, 0.1, 0.9};
    double f[3], q[9], pf[3], pq[9];
    assert_int_equal(tsl_model_forecast(m, 3, ask, 3, f, q, NULL), TSL_OK);
    assert_int_equal(tsl_model_forecast(plain, 3, ask, 3, pf, pq, NULL), TSL_OK);
    assert_memory_equal(f, pf, sizeof f);
    /* Level 0.05 lies beyond the outermost calibrated level: it takes 0.1's scale. */
    tu_close(q[0] - f[0], 2.0 * (pq[0] - pf[0]), 1e-12, 1e-12, "p5 step 1");
    tu_close(q[1] - f[0], 2.0 * (pq[1] - pf[0]), 1e-12, 1e-12, "p10 step 1");
    tu_close(q[2] - f[0], 1.5 * (pq[2] - pf[0]), 1e-12, 1e-12, "p90 step 1");
    tu_close(q[4] - f[1], 3.0 * (pq[4] - pf[1]), 1e-12, 1e-12, "p10 step 2");
    tu_close(q[8] - f[2], 1.0 * (pq[8] - pf[2]), 1e-12, 1e-12, "p90 step 3 reuses step 2");
    /* It survives serialisation and follows updates of the model's own band. */
    tsl_model *back = NULL;
    assert_int_equal(tsl_model_clone(m, &back, NULL), TSL_OK);
    double f2[3], q2[9];
    assert_int_equal(tsl_model_forecast(back, 3, ask, 3, f2, q2, NULL), TSL_OK);
    assert_memory_equal(q, q2, sizeof q);
    const double bad[4] = {1, 0, 1, 1};
    assert_int_equal(tsl_model_set_interval_scale(m, 2, lv, 2, bad, NULL), TSL_EINVAL);
    tsl_model_free(m);
    tsl_model_free(plain);
    tsl_model_free(back);
}

/* A season position that was zero for the last 8 cycles (zeros are rare elsewhere) forecasts
 * exactly zero, band and all, whatever the model; one positive value there lifts it. */
static void test_structural_zeros(void **state) {
    (void)state;
    enum { P = 4, CYCLES = 9 };
    double y[P * CYCLES];
    for (int i = 0; i < P * CYCLES; i++) y[i] = i % P == 1 ? 0.0 : 10.0 + (i % 3);
    const char *models[] = {"naive", "mean", "drift", "ma", "snaive"};
    const double lv[3] = {0.1, 0.5, 0.9};
    for (size_t mi = 0; mi < 5; mi++) {
        tsl_model_spec spec;
        assert_int_equal(tsl_model_spec_parse(models[mi], P, &spec, NULL), TSL_OK);
        tsl_model *m = NULL;
        assert_int_equal(tsl_model_fit(&spec, y, P * CYCLES, &m, NULL), TSL_OK);
        double f[8], q[24];
        assert_int_equal(tsl_model_forecast(m, 8, lv, 3, f, q, NULL), TSL_OK);
        /* steps 1 and 5 fall on position 1 (the series ends on a full cycle) */
        for (int s = 0; s < 8; s++) {
            int masked = s % P == 1;
            assert_true(masked ? f[s] == 0 : f[s] > 0);
            for (int j = 0; j < 3; j++)
                if (masked) assert_true(q[s * 3 + j] == 0);
        }
        tsl_model *back = NULL;
        assert_int_equal(tsl_model_clone(m, &back, NULL), TSL_OK);
        double f2[8], q2[24];
        assert_int_equal(tsl_model_forecast(back, 8, lv, 3, f2, q2, NULL), TSL_OK);
        assert_memory_equal(q, q2, sizeof q);
        /* A positive value at position 1 lifts the mask there. */
        double more[2] = {10, 7};
        assert_int_equal(tsl_model_update(back, more, 2, NULL, NULL), TSL_OK);
        assert_int_equal(tsl_model_forecast(back, 8, lv, 3, f2, q2, NULL), TSL_OK);
        assert_true(q2[(P - 1) * 3 + 2] > 0); /* step 4 is position 1 again */
        tsl_model_free(m);
        tsl_model_free(back);
    }
    /* Zeros everywhere (60%): eight cycles are not enough evidence, fourteen are. */
    {
        enum { N = 5 * 14 };
        double z[N];
        for (int i = 0; i < N; i++) z[i] = (i % 5 == 2 || (i * 7) % 10 < 5) ? 0.0 : 3.0;
        tsl_model_spec sp;
        tsl_model_spec_init(&sp, TSL_MODEL_MEAN, 5);
        tsl_model *mz = NULL;
        double fz[5];
        assert_int_equal(tsl_model_fit(&sp, z, 5 * 8, &mz, NULL), TSL_OK);
        assert_int_equal(tsl_model_forecast(mz, 5, NULL, 0, fz, NULL, NULL), TSL_OK);
        assert_true(fz[2] > 0);
        tsl_model_free(mz);
        assert_int_equal(tsl_model_fit(&sp, z, N, &mz, NULL), TSL_OK);
        assert_int_equal(tsl_model_forecast(mz, 5, NULL, 0, fz, NULL, NULL), TSL_OK);
        assert_true(fz[2] == 0 && fz[1] > 0);
        tsl_model_free(mz);
    }
    /* Too few cycles, or a negative value: no mask. */
    tsl_model_spec spec;
    tsl_model_spec_init(&spec, TSL_MODEL_MEAN, P);
    tsl_model *m = NULL;
    double f[2];
    assert_int_equal(tsl_model_fit(&spec, y, P * 7, &m, NULL), TSL_OK);
    assert_int_equal(tsl_model_forecast(m, 2, NULL, 0, f, NULL, NULL), TSL_OK);
    assert_true(f[1] > 0);
    tsl_model_free(m);
    y[0] = -1;
    assert_int_equal(tsl_model_fit(&spec, y, P * CYCLES, &m, NULL), TSL_OK);
    assert_int_equal(tsl_model_forecast(m, 2, NULL, 0, f, NULL, NULL), TSL_OK);
    assert_true(f[1] != 0);
    tsl_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_r),
        cmocka_unit_test(test_update_equals_refit),
        cmocka_unit_test(test_snaive_repeats_last_season),
        cmocka_unit_test(test_constant_series),
        cmocka_unit_test(test_roundtrip_and_corruption),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_ensemble),
        cmocka_unit_test(test_calibration),
        cmocka_unit_test(test_interval_scale),
        cmocka_unit_test(test_structural_zeros),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
