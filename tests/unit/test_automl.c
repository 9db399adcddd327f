/*
 * test_automl.c - backtest plans, scoring of combinations, and AutoML's selection, fallbacks,
 * determinism and nested self-evaluation, on series whose best model is known.
 */
#include "testutil.h"

#include <string.h>

#include "tsloop/automl.h"
#include "tsloop/backtest.h"
#include "tsloop/mem.h"
#include "tsloop/model.h"

static void test_plan_full(void **state) {
    (void)state;
    tsl_bt_plan p;
    tsl_bt_plan_make(100, 10, 3, 12, &p);
    assert_int_equal(p.k, 3);
    assert_int_equal(p.h, 10);
    assert_int_equal(p.step, 10);
    assert_int_equal(p.origin[0], 70);
    assert_int_equal(p.origin[1], 80);
    assert_int_equal(p.origin[2], 90);
}

static void test_plan_shrinks(void **state) {
    (void)state;
    tsl_bt_plan p;
    /* M1 yearly at its shortest: 9 values, horizon 6, min train 5 -> horizon 4, one window. */
    tsl_bt_plan_make(9, 6, 3, 1, &p);
    assert_int_equal(p.min_train, 5);
    assert_int_equal(p.h, 4);
    assert_int_equal(p.k, 1);
    assert_int_equal(p.origin[0], 5);
    /* Room for overlapping windows: 20 values, horizon 6 -> origins spaced by 4. */
    tsl_bt_plan_make(20, 6, 3, 1, &p);
    assert_int_equal(p.h, 6);
    assert_int_equal(p.k, 3);
    assert_int_equal(p.step, 4);
    assert_int_equal(p.origin[0], 6);
    assert_int_equal(p.origin[2], 14);
    /* Barely room: step 1, fewer windows. */
    tsl_bt_plan_make(12, 6, 3, 1, &p);
    assert_int_equal(p.step, 1);
    assert_int_equal(p.k, 2);
    assert_true(p.origin[0] >= p.min_train);
    assert_int_equal(p.origin[p.k - 1] + p.h, 12);
    /* Too short at all. */
    tsl_bt_plan_make(5, 3, 3, 1, &p);
    assert_int_equal(p.k, 0);
    /* Seasonal minimum: period 12 needs 15 values to train. */
    tsl_bt_plan_make(30, 18, 3, 12, &p);
    assert_int_equal(p.min_train, 15);
    assert_int_equal(p.h, 15);
    assert_int_equal(p.k, 1);
    /* Every plan keeps its promises. */
    for (size_t n = 1; n < 80; n++)
        for (size_t h = 1; h < 30; h += 3)
            for (size_t k = 1; k < 6; k++) {
                tsl_bt_plan_make(n, h, k, 4, &p);
                if (p.k == 0) continue;
                assert_true(p.h >= 1 && p.h <= h && p.k <= k);
                assert_true(p.origin[0] >= p.min_train);
                assert_int_equal(p.origin[p.k - 1] + p.h, n);
                for (size_t w = 1; w < p.k; w++)
                    assert_int_equal(p.origin[w] - p.origin[w - 1], p.step);
            }
}

/* A combination scored from stored forecasts equals the ensemble model's own forecasts. */
static void test_combine_matches_ensemble(void **state) {
    (void)state;
    double y[60];
    for (int i = 0; i < 60; i++) y[i] = 20 + 5 * sin(i * 2 * M_PI / 6) + 0.2 * i;
    const double lv[3] = {0.1, 0.5, 0.9};
    tsl_bt_plan p;
    tsl_bt_plan_make(60, 6, 2, 6, &p);
    const char *names[2] = {"snaive", "drift"};
    tsl_model_spec specs[2];
    tsl_bt_result r[2], comb;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(tsl_model_spec_parse(names[i], 6, &specs[i], NULL), TSL_OK);
        assert_int_equal(tsl_backtest(&specs[i], y, 60, &p, lv, 3, &r[i], NULL), TSL_OK);
        assert_true(r[i].ok);
    }
    const tsl_bt_result *mem[2] = {&r[0], &r[1]};
    assert_int_equal(tsl_bt_combine(mem, NULL, 2, 0, y, 60, &p, lv, 3, &comb, NULL), TSL_OK);
    /* The ensemble model fitted on the last window's training data forecasts the same. */
    tsl_model *m[2], *e = NULL;
    for (int i = 0; i < 2; i++)
        assert_int_equal(tsl_model_fit(&specs[i], y, p.origin[1], &m[i], NULL), TSL_OK);
    assert_int_equal(tsl_model_ensemble(m, NULL, 2, 0, &e, NULL), TSL_OK);
    double f[6], q[18];
    assert_int_equal(tsl_model_forecast(e, 6, lv, 3, f, q, NULL), TSL_OK);
    for (int s = 0; s < 6; s++) {
        const double *row = comb.fc + (6 + (size_t)s) * 4;
        tu_close(row[0], f[s], 1e-12, 1e-12, "combined mean step %d", s);
        for (int j = 0; j < 3; j++) tu_close(row[1 + j], q[s * 3 + j], 1e-12, 1e-12, "q%d", j);
    }
    /* The score is the mean of the per-window metric. */
    double w0 = tsl_acc_value(&comb.acc[0], TSL_METRIC_SMAPE, comb.scale[0]);
    double w1 = tsl_acc_value(&comb.acc[1], TSL_METRIC_SMAPE, comb.scale[1]);
    tu_close(tsl_bt_score(&comb, TSL_METRIC_SMAPE), (w0 + w1) / 2, 1e-12, 0, "score");
    tsl_model_free(e);
    tsl_bt_result_release(&r[0]);
    tsl_bt_result_release(&r[1]);
    tsl_bt_result_release(&comb);
}

/* Three kinds of series with an obvious best model, plus awkward ones. */
typedef struct fixture {
    double seasonal[84], trend[60], flat[50], tiny[3], empty[4];
    tsl_ts ts[5];
} fixture;

static void make_fixture(fixture *f) {
    for (int i = 0; i < 84; i++)
        f->seasonal[i] = 100 + 30 * ((i % 7) == 5) - 20 * ((i % 7) == 6) + ((i * 7919) % 13) * 0.1;
    for (int i = 0; i < 60; i++) f->trend[i] = 10 + 2.0 * i + ((i * 7919) % 13) * 0.01;
    for (int i = 0; i < 50; i++) f->flat[i] = 5 + ((i * 7919) % 11 - 5) * 0.5;
    f->tiny[0] = 3;
    f->tiny[1] = 4;
    f->tiny[2] = 5;
    for (int i = 0; i < 4; i++) f->empty[i] = NAN;
    f->ts[0] = (tsl_ts){f->seasonal, 84, 0};
    f->ts[1] = (tsl_ts){f->trend, 60, 0};
    f->ts[2] = (tsl_ts){f->flat, 50, 0};
    f->ts[3] = (tsl_ts){f->tiny, 3, 0};
    f->ts[4] = (tsl_ts){f->empty, 4, 0};
}

static void run(const fixture *f, int threads, int evaluate, tsl_automl_result **res) {
    static const double lv[3] = {0.1, 0.5, 0.9};
    tsl_model_spec cands[4];
    const char *names[4] = {"naive", "snaive", "mean", "drift"};
    for (int i = 0; i < 4; i++)
        assert_int_equal(tsl_model_spec_parse(names[i], 7, &cands[i], NULL), 0);
    tsl_automl_opts o;
    tsl_automl_opts_init(&o, 7, 7);
    o.levels = lv;
    o.nq = 3;
    o.candidates = cands;
    o.ncandidates = 4;
    o.threads = threads;
    o.keep_models = 1;
    o.evaluate_auto = evaluate;
    tsl_diag d = {0};
    assert_int_equal(tsl_automl_run(f->ts, 5, &o, res, &d), TSL_OK);
}

static void test_selection(void **state) {
    (void)state;
    fixture f;
    make_fixture(&f);
    tsl_automl_result *r = NULL;
    run(&f, 1, 0, &r);
    assert_int_equal(r->ncols, 8); /* 4 candidates + 4 top-k combinations (no fixed ones) */
    /* Three series that want three different models: the learnt weight trusts each series. */
    assert_true(r->weight_learnt);
    assert_true(r->series_weight >= 0.5);
    assert_string_equal(r->series[0].choice, "snaive");
    assert_string_equal(r->series[1].choice, "drift");
    assert_string_equal(r->series[2].choice, "mean");
    assert_non_null(strstr(r->series[0].reason, "(rank 1 on this series)"));
    assert_non_null(strstr(r->series[0].reason, "(learnt)"));
    /* Too short to backtest: a default with the reason saying so. */
    assert_int_equal(r->series[3].err, TSL_OK);
    assert_non_null(strstr(r->series[3].reason, "too short to backtest"));
    assert_int_equal(r->series[3].plan.k, 0);
    /* Nothing observed: an error for that series, the others unaffected. */
    assert_int_equal(r->series[4].err, TSL_ESHORT);
    assert_true(isnan(r->series[4].mean[0]));
    /* The seasonal series' forecast repeats its week exactly. */
    for (int s = 0; s < 7; s++) tu_close(r->series[0].mean[s], f.seasonal[77 + s], 0, 1e-9, "s");
    /* The kept model, calibration included, forecasts what the result says. */
    static const double lv[3] = {0.1, 0.5, 0.9};
    for (size_t i = 0; i < 4; i++) {
        double m[7], q[21];
        assert_int_equal(tsl_model_forecast(r->series[i].model, 7, lv, 3, m, q, NULL), 0);
        assert_memory_equal(m, r->series[i].mean, sizeof m);
        for (int k = 0; k < 21; k++)
            tu_close(q[k], r->series[i].quant[k], 1e-12, 1e-12, "series %zu quantile %d", i, k);
    }
    assert_true(tsl_model_is_calibrated(r->series[0].model));
    /* The short series got the data set's best column that fits it, and says so. */
    assert_non_null(strstr(r->series[3].reason, "the data set's best column that fits"));
    size_t chosen = 0;
    for (size_t j = 0; j < r->ncols; j++) chosen += r->col_chosen[j];
    assert_int_equal(chosen, 4);
    assert_non_null(r->col_scale);
    tsl_automl_result_free(r);
}

static void test_threads_do_not_change_results(void **state) {
    (void)state;
    fixture f;
    make_fixture(&f);
    tsl_automl_result *a = NULL, *b = NULL;
    run(&f, 1, 1, &a);
    run(&f, 3, 1, &b);
    for (size_t i = 0; i < 5; i++) {
        assert_string_equal(a->series[i].choice, b->series[i].choice);
        assert_memory_equal(a->series[i].mean, b->series[i].mean, 7 * sizeof(double));
        if (!a->series[i].err)
            assert_memory_equal(a->series[i].quant, b->series[i].quant, 21 * sizeof(double));
    }
    for (size_t j = 0; j < a->ncols; j++)
        tu_close(tsl_agg_value(&a->col_agg[j], TSL_METRIC_MASE),
                 tsl_agg_value(&b->col_agg[j], TSL_METRIC_MASE), 1e-12, 1e-12, "col %zu", j);
    tsl_automl_result_free(a);
    tsl_automl_result_free(b);
}

static void test_nested_auto(void **state) {
    (void)state;
    fixture f;
    make_fixture(&f);
    tsl_automl_result *r = NULL;
    run(&f, 2, 1, &r);
    /* The three backtestable series are evaluated; on the seasonal series AutoML picks the
     * seasonal naive at every origin, so its nested score is exactly the seasonal naive's. */
    assert_int_equal(r->auto_series, 3);
    tu_close(r->series[0].auto_score, r->series[0].scores[1], 1e-12, 0, "auto = snaive");
    assert_true(isnan(r->series[3].auto_score));
    tsl_automl_result_free(r);
}

/* A series that repeats exactly has no MASE (zero in-sample error): ranking falls back to MAE
 * and still finds the seasonal naive. */
static void test_undefined_metric_falls_back(void **state) {
    (void)state;
    double y[56];
    for (int i = 0; i < 56; i++) y[i] = (double)(i % 7);
    tsl_ts ts = {y, 56, 0};
    tsl_model_spec cands[3];
    const char *names[3] = {"naive", "snaive", "mean"};
    for (int i = 0; i < 3; i++)
        assert_int_equal(tsl_model_spec_parse(names[i], 7, &cands[i], NULL), 0);
    tsl_automl_opts o;
    tsl_automl_opts_init(&o, 7, 7);
    o.candidates = cands;
    o.ncandidates = 3;
    tsl_automl_result *r = NULL;
    assert_int_equal(tsl_automl_run(&ts, 1, &o, &r, NULL), TSL_OK);
    assert_string_equal(r->series[0].choice, "snaive");
    assert_non_null(strstr(r->series[0].reason, "mase undefined"));
    tsl_automl_result_free(r);
}

/* Calibration makes a too-narrow band cover what it should: naive intervals on a series with
 * much more noise at longer steps than the random walk assumes. */
static void test_calibration_widens(void **state) {
    (void)state;
    enum { NS = 60, N = 80, H = 6 };
    static double ys[NS][N];
    tsl_ts ts[NS];
    uint64_t x = 12345;
    for (int i = 0; i < NS; i++) {
        for (int t = 0; t < N; t++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            double u = (double)(x >> 11) / 9007199254740992.0;
            /* mean-reverting level with heavy-tailed shocks */
            ys[i][t] = 100 + 10 * sin(t * 0.3 + i) + 8 * tan(M_PI * (u - 0.5) * 0.9);
        }
        ts[i] = (tsl_ts){ys[i], N, 0};
    }
    static const double lv[2] = {0.1, 0.9};
    tsl_model_spec cand;
    tsl_model_spec_init(&cand, TSL_MODEL_MEAN, 1);
    tsl_automl_opts o;
    tsl_automl_opts_init(&o, H, 1);
    o.levels = lv;
    o.nq = 2;
    o.candidates = &cand;
    o.ncandidates = 1;
    o.evaluate_auto = 1; /* forces backtests, hence calibration, for a lone candidate */
    tsl_automl_result *cal = NULL, *raw = NULL;
    assert_int_equal(tsl_automl_run(ts, NS, &o, &cal, NULL), TSL_OK);
    o.calibrate = 0;
    assert_int_equal(tsl_automl_run(ts, NS, &o, &raw, NULL), TSL_OK);
    assert_null(raw->col_scale);
    /* Scales are positive, finite and within bounds; the column's band changed. */
    double widths_cal = 0, widths_raw = 0;
    for (int i = 0; i < NS; i++)
        for (int s = 0; s < H; s++) {
            widths_cal += cal->series[i].quant[2 * s + 1] - cal->series[i].quant[2 * s];
            widths_raw += raw->series[i].quant[2 * s + 1] - raw->series[i].quant[2 * s];
            tu_close(cal->series[i].mean[s], raw->series[i].mean[s], 0, 0, "mean unchanged");
        }
    for (size_t b = 0; b < cal->nbuckets; b++)
        for (int j = 0; j < 2; j++) {
            double v = cal->col_scale[b * 2 + (size_t)j];
            assert_true(v >= 0.25 && v <= 20);
        }
    assert_true(widths_cal != widths_raw);
    tsl_automl_result_free(cal);
    tsl_automl_result_free(raw);
}

/* Many series of one kind, each too noisy to judge alone: the learnt weight leans on the data
 * set; a given weight is used as given. */
static void test_weight_learning(void **state) {
    (void)state;
    enum { NS = 80, N = 60 };
    static double ys[NS][N];
    tsl_ts ts[NS];
    uint64_t x = 7;
    for (int i = 0; i < NS; i++) {
        double level = 50 + i;
        for (int t = 0; t < N; t++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            double u = (double)(x >> 11) / 9007199254740992.0 - 0.5;
            level += 0.3 * u; /* a slowly wandering level under heavy noise */
            ys[i][t] = level + 6 * u;
        }
        ts[i] = (tsl_ts){ys[i], N, 0};
    }
    tsl_model_spec cands[3];
    const char *names[3] = {"naive", "mean", "ma:5"};
    for (int i = 0; i < 3; i++)
        assert_int_equal(tsl_model_spec_parse(names[i], 1, &cands[i], NULL), 0);
    tsl_automl_opts o;
    tsl_automl_opts_init(&o, 6, 1);
    o.candidates = cands;
    o.ncandidates = 3;
    tsl_automl_result *r = NULL;
    assert_int_equal(tsl_automl_run(ts, NS, &o, &r, NULL), TSL_OK);
    assert_true(r->weight_learnt);
    assert_true(r->series_weight <= 0.25);
    tsl_automl_result_free(r);
    o.series_weight = 1.0;
    assert_int_equal(tsl_automl_run(ts, NS, &o, &r, NULL), TSL_OK);
    assert_false(r->weight_learnt);
    assert_true(r->series_weight == 1.0);
    tsl_automl_result_free(r);
    o.series_weight = 1.5;
    assert_int_equal(tsl_automl_run(ts, NS, &o, &r, NULL), TSL_EINVAL);
}

/* The fast preset drops an expensive candidate on series where a cheap one beats it on the
 * latest window; a time limit already spent leaves every series with the cheap candidates and
 * still a forecast. */
static void test_fast_and_time_limit(void **state) {
    (void)state;
    enum { NS = 6, N = 96 };
    static double ys[NS][N];
    tsl_ts ts[NS];
    for (int i = 0; i < NS; i++) {
        for (int t = 0; t < N; t++) ys[i][t] = 100 + 40 * sin(2 * M_PI * t / 12) + i + 0.01 * t;
        ts[i] = (tsl_ts){ys[i], N, 0};
    }
    tsl_model_spec cands[2];
    assert_int_equal(tsl_model_spec_parse("snaive", 12, &cands[0], NULL), 0);
    assert_int_equal(tsl_model_spec_parse("ets:ANN", 12, &cands[1], NULL), 0); /* no season */
    tsl_automl_opts o;
    tsl_automl_opts_init(&o, 12, 12);
    o.candidates = cands;
    o.ncandidates = 2;
    o.fast = 1;
    tsl_automl_result *r = NULL;
    assert_int_equal(tsl_automl_run(ts, NS, &o, &r, NULL), TSL_OK);
    assert_int_equal(r->col_series[0], NS); /* snaive everywhere */
    assert_int_equal(r->col_series[1], 0);  /* ETS lost every race */
    assert_false(r->weight_learnt);         /* no nested evaluation in the fast preset */
    for (int i = 0; i < NS; i++) assert_string_equal(r->series[i].choice, "snaive");
    tsl_automl_result_free(r);
    o.fast = 0;
    o.time_limit = 1e-9;
    assert_int_equal(tsl_automl_run(ts, NS, &o, &r, NULL), TSL_OK);
    assert_int_equal(r->cut_short, NS);
    assert_int_equal(r->col_series[1], 0);
    for (int i = 0; i < NS; i++) {
        assert_int_equal(r->series[i].err, TSL_OK);
        assert_true(isfinite(r->series[i].mean[0]));
    }
    tsl_automl_result_free(r);
}

/* The global boosted model is a candidate like any other: one booster per backtest distance,
 * scored on every series with a regular plan, and a chosen one is kept like any model. */
static void test_global_model(void **state) {
    (void)state;
    enum { NS = 24, N = 96 };
    static double ys[NS][N];
    tsl_ts ts[NS];
    uint64_t x = 3;
    for (int i = 0; i < NS; i++) {
        double scale = 1 + i * 10.0;
        for (int t = 0; t < N; t++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            double u = (double)(x >> 11) / 9007199254740992.0 - 0.5;
            ys[i][t] = scale * (10 + 3 * sin(2 * M_PI * t / 12) + 0.05 * t + 0.3 * u);
        }
        ts[i] = (tsl_ts){ys[i], i == 0 ? 26 : N, 0}; /* series 0: origins 2 apart */
    }
    tsl_model_spec cands[2];
    assert_int_equal(tsl_model_spec_parse("naive", 12, &cands[0], NULL), 0);
    assert_int_equal(tsl_model_spec_parse("gbm", 12, &cands[1], NULL), 0);
    static const double lv[3] = {0.1, 0.5, 0.9};
    tsl_automl_opts o;
    tsl_automl_opts_init(&o, 6, 12);
    o.levels = lv;
    o.nq = 3;
    o.candidates = cands;
    o.ncandidates = 2;
    o.keep_models = 1;
    o.series_weight = 1;
    tsl_automl_result *r = NULL;
    assert_int_equal(tsl_automl_run(ts, NS, &o, &r, NULL), TSL_OK);
    assert_int_equal(r->col_series[1], NS - 1); /* all but the shortened one */
    assert_true(r->col_chosen[1] > NS / 2);     /* the shape is shared: gbm beats naive */
    for (int i = 1; i < NS; i++) {
        if (strcmp(r->series[i].choice, "gbm")) continue;
        assert_int_equal(tsl_model_kind_of(r->series[i].model), TSL_MODEL_GBM);
        double m[6], q[18];
        assert_int_equal(tsl_model_forecast(r->series[i].model, 6, lv, 3, m, q, NULL), 0);
        assert_memory_equal(m, r->series[i].mean, sizeof m);
    }
    tsl_automl_result_free(r);
}

static void test_bad_options(void **state) {
    (void)state;
    fixture f;
    make_fixture(&f);
    tsl_automl_opts o;
    tsl_automl_result *r = NULL;
    tsl_diag d = {0};
    tsl_automl_opts_init(&o, 0, 7);
    assert_int_equal(tsl_automl_run(f.ts, 5, &o, &r, &d), TSL_EINVAL);
    tsl_automl_opts_init(&o, 3, 7);
    const double bad[2] = {0.9, 0.1};
    o.levels = bad;
    o.nq = 2;
    assert_int_equal(tsl_automl_run(f.ts, 5, &o, &r, &d), TSL_EINVAL);
    assert_null(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_full),
        cmocka_unit_test(test_plan_shrinks),
        cmocka_unit_test(test_combine_matches_ensemble),
        cmocka_unit_test(test_selection),
        cmocka_unit_test(test_threads_do_not_change_results),
        cmocka_unit_test(test_nested_auto),
        cmocka_unit_test(test_undefined_metric_falls_back),
        cmocka_unit_test(test_calibration_widens),
        cmocka_unit_test(test_weight_learning),
        cmocka_unit_test(test_fast_and_time_limit),
        cmocka_unit_test(test_global_model),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
