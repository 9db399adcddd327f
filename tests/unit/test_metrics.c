/*
 * test_metrics.c - accuracy metrics: every formula against hand-computed values (the arithmetic
 * is in the comments), the NaN and zero-actual rules, merging, the aggregation rules (pooled
 * versus mean of per-series values), level-set mismatches, and MAE/RMSE/MAPE/MASE/sMAPE against
 * R's forecast::accuracy() (tests/data/r/make_metrics.R).
 */
#include "testutil.h"

#include <string.h>

#include "tsloop/mem.h"
#include "tsloop/metrics.h"

static const double lv3[3] = {0.1, 0.5, 0.9};

static void test_point_metrics(void **state) {
    (void)state;
    /* Counted points (y and f finite): (2,1), (4,5), (0,0); (NaN,3) and (5,NaN) are not. */
    const double y[5] = {2, 4, 0, NAN, 5};
    const double f[5] = {1, 5, 0, 3, NAN};
    tsl_acc a = {0};
    assert_int_equal(tsl_acc_add(&a, y, f, NULL, NULL, 0, 5, NULL), TSL_OK);
    assert_int_equal(a.n, 3);
    /* MAE = (1 + 1 + 0) / 3 */
    tu_close(tsl_acc_value(&a, TSL_METRIC_MAE, NAN), 2.0 / 3, 0, 1e-15, "mae");
    /* RMSE = sqrt((1 + 1 + 0) / 3) */
    tu_close(tsl_acc_value(&a, TSL_METRIC_RMSE, NAN), sqrt(2.0 / 3), 0, 1e-15, "rmse");
    /* MAPE skips y = 0: 100 * (1/2 + 1/4) / 2 = 37.5 */
    tu_close(tsl_acc_value(&a, TSL_METRIC_MAPE, NAN), 37.5, 0, 1e-12, "mape");
    /* sMAPE: (200*1/3 + 200*1/9 + 0) / 3 = (66.67 + 22.22) / 3 = 800/27; y = f = 0 counts 0 */
    tu_close(tsl_acc_value(&a, TSL_METRIC_SMAPE, NAN), 800.0 / 27, 0, 1e-12, "smape");
    /* WAPE = 2 / (2 + 4 + 0) */
    tu_close(tsl_acc_value(&a, TSL_METRIC_WAPE, NAN), 1.0 / 3, 0, 1e-15, "wape");
    /* MASE = MAE / scale = (2/3) / 0.5 */
    tu_close(tsl_acc_value(&a, TSL_METRIC_MASE, 0.5), 4.0 / 3, 0, 1e-15, "mase");
    /* Undefined: MASE without a usable scale, quantile metrics without quantiles. */
    assert_true(isnan(tsl_acc_value(&a, TSL_METRIC_MASE, 0.0)));
    assert_true(isnan(tsl_acc_value(&a, TSL_METRIC_MASE, NAN)));
    assert_true(isnan(tsl_acc_value(&a, TSL_METRIC_MASE, INFINITY)));
    assert_true(isnan(tsl_acc_value(&a, TSL_METRIC_MEAN_WQL, NAN)));
    assert_true(isnan(tsl_acc_value(&a, TSL_METRIC_COVERAGE, NAN)));
    assert_true(isnan(tsl_acc_wql(&a, 0)));
}

static void test_empty_and_zero_actuals(void **state) {
    (void)state;
    tsl_acc a = {0};
    for (int m = 0; m < TSL_METRIC_COUNT; m++)
        assert_true(isnan(tsl_acc_value(&a, (tsl_metric)m, 1.0)));
    /* Only NaN and infinite values: nothing counts. */
    const double yn[3] = {NAN, INFINITY, 1};
    const double fn[3] = {1, 1, -INFINITY};
    assert_int_equal(tsl_acc_add(&a, yn, fn, NULL, NULL, 0, 3, NULL), TSL_OK);
    assert_int_equal(a.n, 0);
    /* All actuals zero: MAE defined, MAPE/WAPE undefined, sMAPE (200*1/1 + 0) / 2 = 100. */
    const double y[2] = {0, 0}, f[2] = {1, 0};
    assert_int_equal(tsl_acc_add(&a, y, f, NULL, NULL, 0, 2, NULL), TSL_OK);
    tu_close(tsl_acc_value(&a, TSL_METRIC_MAE, NAN), 0.5, 0, 1e-15, "mae zeros");
    tu_close(tsl_acc_value(&a, TSL_METRIC_SMAPE, NAN), 100, 0, 1e-12, "smape zeros");
    assert_true(isnan(tsl_acc_value(&a, TSL_METRIC_MAPE, NAN)));
    assert_true(isnan(tsl_acc_value(&a, TSL_METRIC_WAPE, NAN)));
    /* A perfect forecast of zeros: sMAPE 0, not NaN. */
    tsl_acc z = {0};
    const double zz[3] = {0, 0, 0};
    assert_int_equal(tsl_acc_add(&z, zz, zz, NULL, NULL, 0, 3, NULL), TSL_OK);
    tu_close(tsl_acc_value(&z, TSL_METRIC_SMAPE, NAN), 0, 0, 0, "smape of perfect zeros");
}

/* The quantile example: levels 0.1, 0.5, 0.9; f is the median. */
static const double qy[3] = {10, 0, 5};
static const double qf[3] = {10, 1, 7};
static const double qq[9] = {8, 10, 12, 0, 1, 2, 6, 7, 9};

static void test_quantile_metrics(void **state) {
    (void)state;
    tsl_acc a = {0};
    assert_int_equal(tsl_acc_add(&a, qy, qf, qq, lv3, 3, 3, NULL), TSL_OK);
    /*
     * 2 * pinball, y = 10 | q = 8, 10, 12:  2*0.1*2 = 0.4 | 0 | 2*0.1*2 = 0.4
     *              y =  0 | q = 0,  1,  2:  0         | 2*0.5*1 = 1 | 2*0.1*2 = 0.4
     *              y =  5 | q = 6,  7,  9:  2*0.9*1 = 1.8 | 2*0.5*2 = 2 | 2*0.1*4 = 0.8
     * sums per level 2.2, 3, 1.6; sum |y| = 15.
     */
    tu_close(tsl_acc_wql(&a, 0), 2.2 / 15, 0, 1e-15, "wql 0.1");
    tu_close(tsl_acc_wql(&a, 1), 3.0 / 15, 0, 1e-15, "wql 0.5");
    tu_close(tsl_acc_wql(&a, 2), 1.6 / 15, 0, 1e-15, "wql 0.9");
    assert_true(isnan(tsl_acc_wql(&a, 3)));
    /* mean wQL = (2.2 + 3 + 1.6) / 3 / 15 */
    tu_close(tsl_acc_value(&a, TSL_METRIC_MEAN_WQL, NAN), 6.8 / 45, 0, 1e-15, "mean wql");
    /* covered: 8<=10<=12 yes, 0<=0<=2 yes, 6<=5 no */
    tu_close(tsl_acc_value(&a, TSL_METRIC_COVERAGE, NAN), 2.0 / 3, 0, 1e-15, "coverage");
    /* WAPE with f = median: (0 + 1 + 2) / 15 = 0.2 = wQL[0.5] */
    tu_close(tsl_acc_value(&a, TSL_METRIC_WAPE, NAN), tsl_acc_wql(&a, 1), 0, 1e-15,
             "wql[0.5] == wape");
    /* MAPE over y != 0 only: 100 * (0/10 + 2/5) / 2 = 20 */
    tu_close(tsl_acc_value(&a, TSL_METRIC_MAPE, NAN), 20, 0, 1e-12, "mape");
}

static void test_wql_median_equals_wape(void **state) {
    (void)state;
    /* Any data: with q[0.5] = f, 2 * 0.5 * |y - f| summed over sum |y| is WAPE. */
    double y[50], f[50], q[150];
    for (int i = 0; i < 50; i++) {
        y[i] = 20 + 15 * sin(i * 0.9) + (i % 7);
        f[i] = 21 + 10 * sin(i * 0.9 + 0.3);
        q[3 * i] = f[i] - 5;
        q[3 * i + 1] = f[i];
        q[3 * i + 2] = f[i] + 5;
    }
    tsl_acc a = {0};
    assert_int_equal(tsl_acc_add(&a, y, f, q, lv3, 3, 50, NULL), TSL_OK);
    tu_close(tsl_acc_wql(&a, 1), tsl_acc_value(&a, TSL_METRIC_WAPE, NAN), 1e-14, 0,
             "wql[0.5] == wape");
}

static void test_quantile_nan_rules(void **state) {
    (void)state;
    /* Step 2's p90 is NaN: the step counts for point metrics, not for quantile metrics. The
     * NaN forecast at step 3 drops it from point metrics only. */
    const double y[3] = {10, 20, 4};
    const double f[3] = {10, 20, NAN};
    const double q[9] = {9, 10, 11, 19, 20, NAN, 3, 4, 5};
    tsl_acc a = {0};
    assert_int_equal(tsl_acc_add(&a, y, f, q, lv3, 3, 3, NULL), TSL_OK);
    assert_int_equal(a.n, 2);
    assert_int_equal(a.n_q, 2);
    /* sum |y| over quantile points = 10 + 4; p10 loss 2*0.1*(1 + 1) = 0.4 */
    tu_close(tsl_acc_wql(&a, 0), 0.4 / 14, 0, 1e-15, "wql over its own points");
    tu_close(tsl_acc_value(&a, TSL_METRIC_COVERAGE, NAN), 1.0, 0, 0, "coverage");
    /* Merging an accumulator without quantiles leaves wQL alone. */
    tsl_acc b = {0};
    const double by[2] = {1000, 1000}, bf[2] = {0, 0};
    assert_int_equal(tsl_acc_add(&b, by, bf, NULL, NULL, 0, 2, NULL), TSL_OK);
    assert_int_equal(tsl_acc_merge(&a, &b, NULL), TSL_OK);
    tu_close(tsl_acc_wql(&a, 0), 0.4 / 14, 0, 1e-15, "wql after a quantile-less merge");
    assert_int_equal(a.n, 4);
    /* Coverage needs two levels. */
    tsl_acc c = {0};
    const double one[1] = {0.5}, cq[1] = {10};
    assert_int_equal(tsl_acc_add(&c, y, f, cq, one, 1, 1, NULL), TSL_OK);
    assert_true(isnan(tsl_acc_value(&c, TSL_METRIC_COVERAGE, NAN)));
    tu_close(tsl_acc_value(&c, TSL_METRIC_MEAN_WQL, NAN), 0, 0, 0, "exact median");
}

static void test_merge_equals_one_pass(void **state) {
    (void)state;
    tsl_acc all = {0}, p1 = {0}, p2 = {0};
    assert_int_equal(tsl_acc_add(&all, qy, qf, qq, lv3, 3, 3, NULL), TSL_OK);
    assert_int_equal(tsl_acc_add(&p1, qy, qf, qq, lv3, 3, 1, NULL), TSL_OK);
    assert_int_equal(tsl_acc_add(&p2, qy + 1, qf + 1, qq + 3, lv3, 3, 2, NULL), TSL_OK);
    /* An empty accumulator takes the level set of what is merged into it. */
    tsl_acc m = {0};
    assert_int_equal(tsl_acc_merge(&m, &p1, NULL), TSL_OK);
    assert_int_equal(tsl_acc_merge(&m, &p2, NULL), TSL_OK);
    for (int k = 0; k < TSL_METRIC_COUNT; k++)
        tu_close(tsl_acc_value(&m, (tsl_metric)k, 2.0), tsl_acc_value(&all, (tsl_metric)k, 2.0),
                 1e-15, 1e-15, "merged %s", tsl_metric_name((tsl_metric)k));
}

static void test_level_mismatch(void **state) {
    (void)state;
    tsl_acc a = {0};
    tsl_diag d = {0};
    assert_int_equal(tsl_acc_add(&a, qy, qf, qq, lv3, 3, 3, &d), TSL_OK);
    tsl_acc before = a;
    const double lv2[2] = {0.1, 0.9};
    const double q2[2] = {1, 2};
    assert_int_equal(tsl_acc_add(&a, qy, qf, q2, lv2, 2, 1, &d), TSL_EINVAL);
    assert_non_null(strstr(d.msg, "quantile levels differ"));
    assert_non_null(strstr(d.msg, "{0.1, 0.5, 0.9}"));
    assert_memory_equal(&a, &before, sizeof a);
    /* Same count, different values. */
    const double lv3b[3] = {0.1, 0.5, 0.95};
    assert_int_equal(tsl_acc_add(&a, qy, qf, qq, lv3b, 3, 1, &d), TSL_EINVAL);
    tsl_acc b = {0};
    assert_int_equal(tsl_acc_add(&b, qy, qf, q2, lv2, 2, 1, NULL), TSL_OK);
    assert_int_equal(tsl_acc_merge(&a, &b, &d), TSL_EINVAL);
    assert_memory_equal(&a, &before, sizeof a);
    /* The aggregate refuses it too, and adds nothing. */
    tsl_agg g = {0};
    assert_int_equal(tsl_agg_add(&g, &a, 1.0, NULL), TSL_OK);
    tsl_agg gb = g;
    assert_int_equal(tsl_agg_add(&g, &b, 1.0, &d), TSL_EINVAL);
    assert_memory_equal(&g, &gb, sizeof g);
    tsl_agg other = {0};
    assert_int_equal(tsl_agg_add(&other, &b, 1.0, NULL), TSL_OK);
    assert_int_equal(tsl_agg_merge(&g, &other, &d), TSL_EINVAL);
    assert_memory_equal(&g, &gb, sizeof g);
    /* Bad level sets. */
    const double dup[2] = {0.5, 0.5}, out[2] = {0.5, 1.0}, neg[1] = {0.0};
    tsl_acc c = {0};
    assert_int_equal(tsl_acc_add(&c, qy, qf, q2, dup, 2, 1, &d), TSL_EINVAL);
    assert_int_equal(tsl_acc_add(&c, qy, qf, q2, out, 2, 1, &d), TSL_EINVAL);
    assert_int_equal(tsl_acc_add(&c, qy, qf, q2, neg, 1, 1, &d), TSL_EINVAL);
    double many[TSL_METRICS_MAX_LEVELS + 1], mq[TSL_METRICS_MAX_LEVELS + 1];
    for (int j = 0; j <= TSL_METRICS_MAX_LEVELS; j++) {
        many[j] = (j + 1.0) / (TSL_METRICS_MAX_LEVELS + 2.0);
        mq[j] = j;
    }
    assert_int_equal(tsl_acc_add(&c, qy, qf, mq, many, TSL_METRICS_MAX_LEVELS + 1, 1, &d),
                     TSL_ELIMIT);
    assert_int_equal(tsl_acc_add(&c, qy, qf, mq, many, TSL_METRICS_MAX_LEVELS, 1, &d), TSL_OK);
    assert_int_equal(c.n, 1);
}

static void test_aggregation_rules(void **state) {
    (void)state;
    /* A: y = 1, 1; f = 2, 2.  B: y = 10, 10, 10, 10; f = 10, 10, 10, 12.
     * C: y = 0, 0; f = 1, 0 (MAPE undefined). Scales: A 0.5, B 2, C 0 (MASE undefined). */
    const double ay[2] = {1, 1}, af[2] = {2, 2};
    const double by[4] = {10, 10, 10, 10}, bf[4] = {10, 10, 10, 12};
    const double cy[2] = {0, 0}, cf[2] = {1, 0};
    tsl_acc a = {0}, b = {0}, c = {0};
    assert_int_equal(tsl_acc_add(&a, ay, af, NULL, NULL, 0, 2, NULL), TSL_OK);
    assert_int_equal(tsl_acc_add(&b, by, bf, NULL, NULL, 0, 4, NULL), TSL_OK);
    assert_int_equal(tsl_acc_add(&c, cy, cf, NULL, NULL, 0, 2, NULL), TSL_OK);
    tsl_agg g = {0};
    assert_int_equal(tsl_agg_add(&g, &a, 0.5, NULL), TSL_OK);
    assert_int_equal(tsl_agg_add(&g, &b, 2.0, NULL), TSL_OK);
    assert_int_equal(tsl_agg_add(&g, &c, 0.0, NULL), TSL_OK);
    assert_int_equal(g.nseries, 3);
    /* Pooled MAE = (2 + 2 + 1) / 8, not the mean of 1, 0.5, 0.5. */
    tu_close(tsl_agg_value(&g, TSL_METRIC_MAE), 5.0 / 8, 0, 1e-15, "pooled mae");
    /* Pooled RMSE = sqrt((1 + 1 + 4 + 1) / 8) */
    tu_close(tsl_agg_value(&g, TSL_METRIC_RMSE), sqrt(7.0 / 8), 0, 1e-15, "pooled rmse");
    /* Pooled WAPE = 5 / (2 + 40 + 0) */
    tu_close(tsl_agg_value(&g, TSL_METRIC_WAPE), 5.0 / 42, 0, 1e-15, "pooled wape");
    /* MAPE: mean of A 100 and B (0 + 0 + 0 + 20) / 4 = 5; C undefined and left out. */
    tu_close(tsl_agg_value(&g, TSL_METRIC_MAPE), 52.5, 0, 1e-12, "mean mape");
    /* sMAPE: A 200/3, B 200*2/22/4 = 100/22, C (200 + 0) / 2 = 100; mean of three. */
    tu_close(tsl_agg_value(&g, TSL_METRIC_SMAPE), (200.0 / 3 + 100.0 / 22 + 100) / 3, 0, 1e-12,
             "mean smape");
    /* MASE: A 1/0.5 = 2, B 0.5/2 = 0.25, C undefined: mean 1.125. */
    tu_close(tsl_agg_value(&g, TSL_METRIC_MASE), 1.125, 0, 1e-15, "mean mase");
    assert_int_equal(g.cnt[TSL_METRIC_MASE], 2);
    assert_true(isnan(tsl_agg_value(&g, TSL_METRIC_MEAN_WQL)));
    assert_true(isnan(tsl_agg_value(&g, TSL_METRIC_COUNT)));
    /* Built in two halves and merged: the same numbers. */
    tsl_agg h1 = {0}, h2 = {0};
    assert_int_equal(tsl_agg_add(&h1, &a, 0.5, NULL), TSL_OK);
    assert_int_equal(tsl_agg_add(&h2, &b, 2.0, NULL), TSL_OK);
    assert_int_equal(tsl_agg_add(&h2, &c, 0.0, NULL), TSL_OK);
    assert_int_equal(tsl_agg_merge(&h1, &h2, NULL), TSL_OK);
    assert_int_equal(h1.nseries, 3);
    for (int k = 0; k < TSL_METRIC_COUNT; k++)
        tu_close(tsl_agg_value(&h1, (tsl_metric)k), tsl_agg_value(&g, (tsl_metric)k), 1e-15, 1e-15,
                 "merged aggregate %s", tsl_metric_name((tsl_metric)k));
}

static void test_pooled_wql(void **state) {
    (void)state;
    /* Two series with quantiles: pooled wQL = (sum of both losses) / (sum of both |y|). */
    tsl_acc a = {0}, b = {0};
    assert_int_equal(tsl_acc_add(&a, qy, qf, qq, lv3, 3, 3, NULL), TSL_OK);
    const double y2[1] = {100}, f2[1] = {90}, q2[3] = {80, 90, 100};
    assert_int_equal(tsl_acc_add(&b, y2, f2, q2, lv3, 3, 1, NULL), TSL_OK);
    tsl_agg g = {0};
    assert_int_equal(tsl_agg_add(&g, &a, NAN, NULL), TSL_OK);
    assert_int_equal(tsl_agg_add(&g, &b, NAN, NULL), TSL_OK);
    /* b adds 2*0.1*20 = 4, 2*0.5*10 = 10, 0: totals 6.2, 13, 1.6 over 115. */
    tu_close(tsl_agg_value(&g, TSL_METRIC_MEAN_WQL), (6.2 + 13 + 1.6) / 3 / 115, 0, 1e-15,
             "pooled mean wql");
    /* Coverage pools points: a 2 of 3, b 1 of 1. */
    tu_close(tsl_agg_value(&g, TSL_METRIC_COVERAGE), 0.75, 0, 0, "pooled coverage");
}

static void test_mase_scale(void **state) {
    (void)state;
    const double y[8] = {1, 3, 2, 5, 4, 6, NAN, 8};
    /* lag 2: |2-1| + |5-3| + |4-2| + |6-5| + |8-6| over 5 pairs (the NaN pair skipped) */
    tu_close(tsl_mase_scale(y, 8, 2), 8.0 / 5, 0, 1e-15, "lag 2");
    /* n <= period: lag 1, |3-1| + |2-3| + |5-2| + |4-5| + |6-4| over 5 pairs */
    tu_close(tsl_mase_scale(y, 8, 10), 9.0 / 5, 0, 1e-15, "n <= period falls back to lag 1");
    tu_close(tsl_mase_scale(y, 8, 8), 9.0 / 5, 0, 1e-15, "n == period falls back to lag 1");
    tu_close(tsl_mase_scale(y, 8, 0), 9.0 / 5, 0, 1e-15, "period 0 is lag 1");
    assert_true(isnan(tsl_mase_scale(y, 1, 1)));
    assert_true(isnan(tsl_mase_scale(y, 0, 1)));
    const double c[4] = {3, 3, 3, 3};
    tu_close(tsl_mase_scale(c, 4, 1), 0, 0, 0, "constant series");
}

static void test_names(void **state) {
    (void)state;
    tsl_metric m;
    tsl_diag d = {0};
    for (int k = 0; k < TSL_METRIC_COUNT; k++) {
        assert_int_equal(tsl_metric_parse(tsl_metric_name((tsl_metric)k), &m, &d), TSL_OK);
        assert_int_equal(m, k);
    }
    assert_int_equal(tsl_metric_parse("MASE", &m, &d), TSL_OK);
    assert_int_equal(m, TSL_METRIC_MASE);
    assert_int_equal(tsl_metric_parse("sMAPE", &m, &d), TSL_OK);
    assert_int_equal(m, TSL_METRIC_SMAPE);
    assert_int_equal(tsl_metric_parse("wQL", &m, &d), TSL_OK);
    assert_int_equal(m, TSL_METRIC_MEAN_WQL);
    assert_int_equal(tsl_metric_parse("r2", &m, &d), TSL_EINVAL);
    assert_non_null(strstr(d.msg, "unknown metric 'r2'"));
    assert_non_null(strstr(d.msg, "smape"));
    assert_non_null(strstr(d.msg, "coverage"));
    assert_int_equal(tsl_metric_parse("", &m, &d), TSL_EINVAL);
    assert_int_equal(tsl_metric_parse("mases", &m, &d), TSL_EINVAL);
    assert_string_equal(tsl_metric_name(TSL_METRIC_MEAN_WQL), "mean_wql");
    assert_string_equal(tsl_metric_name(TSL_METRIC_COUNT), "unknown");
}

/* The forecasts of make_metrics.R scored as R's accuracy() scores them. */
static void test_against_r(void **state) {
    (void)state;
    tu_table *pts = tu_table_read(tu_path("metrics/points.csv"));
    tu_table *acc = tu_table_read(tu_path("metrics/accuracy.csv"));
    const char *names[3] = {"air", "www", "lynx"};
    for (int si = 0; si < 3; si++) {
        double *train = tsl_malloc(pts->rows * sizeof *train);
        double *test = tsl_malloc(pts->rows * sizeof *test);
        double *fc = tsl_malloc(pts->rows * sizeof *fc);
        size_t ntrain = 0, ntest = 0;
        int period = 1;
        for (size_t r = 0; r < pts->rows; r++) {
            if (strcmp(tu_str(pts, r, "series"), names[si])) continue;
            period = (int)tu_num(pts, r, "period");
            if (!strcmp(tu_str(pts, r, "role"), "train")) {
                train[ntrain++] = tu_num(pts, r, "y");
            } else {
                test[ntest] = tu_num(pts, r, "y");
                fc[ntest++] = tu_num(pts, r, "f");
            }
        }
        tsl_acc a = {0};
        assert_int_equal(tsl_acc_add(&a, test, fc, NULL, NULL, 0, ntest, NULL), TSL_OK);
        double scale = tsl_mase_scale(train, ntrain, period);
        size_t checked = 0;
        for (size_t r = 0; r < acc->rows; r++) {
            if (strcmp(tu_str(acc, r, "series"), names[si])) continue;
            tsl_metric m;
            assert_int_equal(tsl_metric_parse(tu_str(acc, r, "metric"), &m, NULL), TSL_OK);
            tu_close(tsl_acc_value(&a, m, scale), tu_num(acc, r, "value"), 1e-12, 0, "%s %s",
                     names[si], tsl_metric_name(m));
            checked++;
        }
        assert_int_equal(checked, 5);
        tsl_free(train);
        tsl_free(test);
        tsl_free(fc);
    }
    tu_table_free(pts);
    tu_table_free(acc);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_point_metrics),
        cmocka_unit_test(test_empty_and_zero_actuals),
        cmocka_unit_test(test_quantile_metrics),
        cmocka_unit_test(test_wql_median_equals_wape),
        cmocka_unit_test(test_quantile_nan_rules),
        cmocka_unit_test(test_merge_equals_one_pass),
        cmocka_unit_test(test_level_mismatch),
        cmocka_unit_test(test_aggregation_rules),
        cmocka_unit_test(test_pooled_wql),
        cmocka_unit_test(test_mase_scale),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_against_r),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
