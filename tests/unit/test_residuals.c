/*
 * test_residuals.c - the residual detectors of drift monitors (statistic cusum and
 * page_hinkley) through a real store: a shift in the deployed model's one-step-ahead errors
 * signals at the point computed by hand (CUSUM k = 0.5, h = 5: 1.5 per point at a 2-sigma
 * shift, so the fourth shifted residual), stationary residuals never signal, the state
 * persisted across ingests gives exactly what one pass of the pure detector gives
 * (Page-Hinkley), re-evaluation and corrected actuals feed nothing twice, the one-step-ahead
 * rule (latest origin before the target, other versions' captures ignored), sigma from the
 * version's backtest (rmse, mae), the alarm, the states' compare-and-set, and the config keys.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"
#include "tsloop/config.h"
#include "tsloop/csv.h"
#include "tsloop/drift.h"
#include "tsloop/mem.h"
#include "tsloop/monitor.h"
#include "tsloop/store.h"
#include "tsloop/time.h"

#define DAY 86400

typedef tu_store_fx fixture;

static int setup(void **state) {
    return tu_store_fx_setup(state);
}

static int teardown(void **state) {
    return tu_store_fx_teardown(state);
}

/* Ingests n (item, day, value) points into "sales"; returns the ingest id. */
static int64_t ingest(fixture *f, const char *const *items, const int *days, const double *v,
                      size_t n) {
    return tu_store_fx_ingest(f, items, days, v, n);
}

/* Registers a version of "fc" on "sales" and returns its model id. */
static int64_t reg(fixture *f, const char *metrics, const char *choices) {
    tsl_store_model_new m;
    memset(&m, 0, sizeof m);
    m.forecaster = "fc";
    m.dataset = "sales";
    m.metrics = metrics;
    m.choices = choices;
    m.artifact = "blob";
    m.artifact_len = 4;
    m.status = TSL_MODEL_APPROVED;
    m.who = "test";
    m.why = "test";
    int64_t id = 0;
    int version = 0;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_model_register(f->s, &m, &id, &version, &d)) fail_msg("register: %s", d.msg);
    return id;
}

static void deploy(fixture *f, int version) {
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_deploy(f->s, "prod", "fc", version, 0, "t", "", NULL, &d)) fail_msg("%s", d.msg);
}

/* A capture of item from origin day `origin` with means for the following days. */
static void capture(fixture *f, int64_t model, const char *run, const char *item, int origin,
                    const double *mean, size_t steps) {
    int64_t targets[8];
    double q[16], levels[2] = {0.1, 0.9};
    for (size_t j = 0; j < steps; j++) {
        targets[j] = (int64_t)(origin + 1 + (int)j) * DAY;
        q[2 * j] = mean[j] - 1;
        q[2 * j + 1] = mean[j] + 1;
    }
    tsl_store_capture_new c = {
        run, "prod", model, item, (int64_t)origin * DAY, 0, steps, 2, targets, levels, mean, q, 0};
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_capture_add(f->s, &c, 1, &d)) fail_msg("capture: %s", d.msg);
}

/* A day-window residual monitor on prod over all items, alarming on any signal. */
static void monitor(tsl_config_monitor *m, tsl_drift_statistic stat) {
    memset(m, 0, sizeof *m);
    m->name = "res";
    m->kind = TSL_MONITOR_DRIFT;
    m->endpoint = "prod";
    m->window = TSL_WINDOW_DAY;
    m->statistic = stat;
    m->detector = (tsl_detector_params){TSL_DRIFT_CUSUM_K, TSL_DRIFT_CUSUM_H, TSL_DRIFT_PH_DELTA,
                                        TSL_DRIFT_PH_LAMBDA, TSL_DRIFT_PH_MIN_N};
    m->policy.kind = TSL_THRESHOLD_FIXED;
    m->policy.value = 0;
    m->policy.factor = 1;
    m->actions = TSL_MONITOR_ACTION_NOTIFY;
    tsl_alarm_rule_init(&m->rule, 0, TSL_ALARM_GT, 1);
}

static void follow(fixture *f, tsl_config_monitor *m, tsl_monitor_stats *st) {
    tsl_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.monitors = m;
    cfg.nmonitors = 1;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_monitor_follow(f->s, &cfg, 0, f->now, st, &d)) fail_msg("follow: %s", d.msg);
}

/* The stored datapoint of (window of day, item), or NaN when absent. */
static double dp_value(fixture *f, const char *metric, int day, const char *item, uint64_t *n) {
    tsl_store_datapoint_query q;
    tsl_store_datapoint *v = NULL;
    size_t nv = 0;
    char win[32];
    tsl_diag d = {TSL_OK, {0}};
    tsl_time_format((int64_t)day * DAY, 1, win, sizeof win);
    tsl_store_datapoint_query_init(&q);
    q.monitor = "res";
    q.window = win;
    q.item = item;
    q.step = 0;
    q.metric = metric;
    assert_int_equal(tsl_store_datapoint_list(f->s, &q, &v, &nv, &d), TSL_OK);
    double out = nv == 1 ? v[0].value : NAN;
    if (n) *n = nv == 1 ? v[0].n : 0;
    tsl_store_datapoint_list_free(v, nv);
    return out;
}

/* The item's stored detector state; fails when absent. */
static tsl_store_detector state_of(fixture *f, const char *item) {
    tsl_store_detector *v = NULL, out;
    size_t n = 0;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_store_detector_list(f->s, "res", "prod", &v, &n, &d), TSL_OK);
    memset(&out, 0, sizeof out);
    int found = 0;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i].item, item)) {
            out = v[i];
            out.monitor = out.endpoint = out.item = out.forecaster = out.state = NULL;
            found = 1;
        }
    tsl_store_detector_list_free(v, n);
    if (!found) fail_msg("no detector state for %s", item);
    return out;
}

static const char rmse1[] = "{\"metric\":\"rmse\",\"series\":2}";
static const char choices1[] =
    "{\"items\":{\"a\":{\"score\":1.0},\"b\":{\"score\":1.0}},\"failed\":{}}";

/* Days 1..20: a forecast of 10 from the day before; a's actuals 10 until day 10, then 12
 * (residual 2 = 2 sigma); b's alternate 10.5 and 9.5 (|z| = 0.5 = k: the sums stay 0).
 * CUSUM: hi grows 1.5 a point from day 11: 1.5, 3, 4.5, 6 > 5 on day 14; reset, then again
 * 6 > 5 on day 18. Ingested one day at a time, as ground truth arrives. */
static void test_cusum_shift_hand_computed(void **state) {
    fixture *f = *state;
    int64_t model = reg(f, rmse1, choices1);
    deploy(f, 1);
    tsl_config_monitor m;
    monitor(&m, TSL_DRIFT_STAT_CUSUM);
    tsl_monitor_stats st = {0};
    for (int day = 1; day <= 20; day++) {
        capture(f, model, "r", "a", day - 1, (double[]){10}, 1);
        capture(f, model, "r", "b", day - 1, (double[]){10}, 1);
        double ya = day <= 10 ? 10 : 12, yb = day % 2 ? 10.5 : 9.5;
        ingest(f, (const char *[]){"a", "b"}, (int[]){day, day}, (double[]){ya, yb}, 2);
        follow(f, &m, &st);
        int want_alarm = day == 14 || day == 18; /* M = N = 1: the latest window decides */
        assert_int_equal(tu_alarm_state(f->s, "res"), want_alarm ? TSL_ALARM_ALARM : TSL_ALARM_OK);
    }
    for (int day = 1; day <= 20; day++) {
        uint64_t n = 0;
        double va = dp_value(f, "cusum", day, "a", &n);
        tu_close(va, day == 14 || day == 18 ? 1 : 0, 0, 0, "a's signal by day");
        assert_int_equal(n, 1);
        tu_close(dp_value(f, "cusum", day, "b", NULL), 0, 0, 0, "b never signals");
        tu_close(dp_value(f, "cusum", day, "", NULL), day == 14 || day == 18 ? 0.5 : 0, 0, 0,
                 "share");
    }
    tsl_store_detector a = state_of(f, "a");
    assert_int_equal(a.fed, 20);
    assert_int_equal(a.signals, 2);
    assert_int_equal(a.last_t, 20 * DAY);
    assert_int_equal(a.version, 1);
}

/* Page-Hinkley fed through the store over several ingests (state persisted as JSON between
 * them) signals on exactly the residual where one pass of the pure detector does; a
 * stationary item never signals. */
static void test_page_hinkley_matches_pure(void **state) {
    fixture *f = *state;
    /* mae 0.8: sigma = 0.8 sqrt(pi / 2) */
    int64_t model = reg(f, "{\"metric\":\"mae\",\"series\":2}",
                        "{\"items\":{\"a\":{\"score\":0.8},\"b\":{\"score\":0.8}}}");
    deploy(f, 1);
    tsl_config_monitor m;
    monitor(&m, TSL_DRIFT_STAT_PAGE_HINKLEY);
    double sigma = 0.8 * sqrt(acos(-1) / 2);
    tsl_page_hinkley ph;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_page_hinkley_init(&ph, sigma, TSL_DRIFT_PH_DELTA, TSL_DRIFT_PH_LAMBDA,
                                           TSL_DRIFT_PH_MIN_N, &d),
                     TSL_OK);
    int first = 0;
    tsl_monitor_stats st = {0};
    /* residuals: a pseudo-random +-1 pattern, then the mean moves up by 1.5 from day 41 */
    for (int day = 1; day <= 70; day++) {
        double ra = ((day * 7) % 5 - 2) * 0.5 + (day > 40 ? 1.5 : 0);
        if (!first && tsl_page_hinkley_update(&ph, ra)) first = day;
        capture(f, model, "r", "a", day - 1, (double[]){100}, 1);
        capture(f, model, "r", "b", day - 1, (double[]){50}, 1);
        if (day % 7 == 0) {
            /* a week of actuals per ingest */
            const char *items[14];
            int days[14];
            double v[14];
            for (int k = 0; k < 7; k++) {
                int dd = day - 6 + k;
                items[2 * k] = "a", days[2 * k] = dd;
                v[2 * k] = 100 + ((dd * 7) % 5 - 2) * 0.5 + (dd > 40 ? 1.5 : 0);
                items[2 * k + 1] = "b", days[2 * k + 1] = dd;
                v[2 * k + 1] = 50 + ((dd * 3) % 5 - 2) * 0.5;
            }
            ingest(f, items, days, v, 14);
            follow(f, &m, &st);
        }
    }
    assert_true(first > 40);  /* no signal before the shift ... */
    assert_true(first <= 55); /* ... and within 15 points of it */
    for (int day = 1; day <= 70; day++) {
        if (day > first) break; /* after the reset the pure detector is not followed */
        tu_close(dp_value(f, "page_hinkley", day, "a", NULL), day == first ? 1 : 0, 0, 0,
                 "a's signal where the pure detector signals");
    }
    for (int day = 1; day <= 70; day++)
        tu_close(dp_value(f, "page_hinkley", day, "b", NULL), 0, 0, 0, "stationary b");
    assert_int_equal(state_of(f, "b").signals, 0);
    assert_true(state_of(f, "a").signals >= 1);
}

/* Following again, re-evaluating everything, and correcting a fed actual feed nothing twice;
 * a late actual before the last fed target is not fed. */
static void test_idempotent(void **state) {
    fixture *f = *state;
    int64_t model = reg(f, rmse1, choices1);
    deploy(f, 1);
    tsl_config_monitor m;
    monitor(&m, TSL_DRIFT_STAT_CUSUM);
    tsl_monitor_stats st = {0};
    for (int day = 1; day <= 6; day++) capture(f, model, "r", "a", day - 1, (double[]){10}, 1);
    ingest(f, (const char *[]){"a", "a", "a", "a"}, (int[]){1, 2, 3, 5}, (double[]){12, 12, 12, 12},
           4);
    follow(f, &m, &st);
    tsl_store_detector a = state_of(f, "a");
    assert_int_equal(a.fed, 4);
    assert_int_equal(a.last_t, 5 * DAY);
    uint64_t n = 0;
    tu_close(dp_value(f, "cusum", 5, "a", &n), 1, 0, 0, "fourth 2-sigma residual signals");
    follow(f, &m, &st); /* nothing new */
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_monitor_residuals(f->s, &m, NULL, NULL, 0, f->now, &st, &d), TSL_OK);
    assert_int_equal(state_of(f, "a").fed, 4);
    /* a correction of day 2 and a late day 4: neither is fed */
    ingest(f, (const char *[]){"a", "a"}, (int[]){2, 4}, (double[]){30, 30}, 2);
    follow(f, &m, &st);
    a = state_of(f, "a");
    assert_int_equal(a.fed, 4);
    assert_int_equal(a.signals, 1);
    tu_close(dp_value(f, "cusum", 5, "a", &n), 1, 0, 0, "day 5 unchanged");
    assert_int_equal(n, 1);
    assert_true(isnan(dp_value(f, "cusum", 4, "a", NULL)));
    /* a writer that read an older state loses: compare-and-set on last_t */
    tsl_store_detector stale = {"res", "prod", "a", "fc", 1, 6 * DAY, 9, 9, "{}", 0, 3 * DAY};
    assert_int_equal(tsl_store_detector_put(f->s, &stale, 1, NULL, 0, &d), TSL_ECONFLICT);
    assert_int_equal(state_of(f, "a").fed, 4);
    /* day 6 is fed next */
    ingest(f, (const char *[]){"a"}, (int[]){6}, (double[]){10}, 1);
    follow(f, &m, &st);
    assert_int_equal(state_of(f, "a").fed, 5);
}

/* The forecast counted is the deployed version's with the latest origin before the target;
 * a new deployment starts a fresh detector; an item without a sigma has none. */
static void test_one_step_ahead_rule(void **state) {
    fixture *f = *state;
    int64_t v1 = reg(f, rmse1, "{\"items\":{\"a\":{\"score\":1.0}}}");
    deploy(f, 1);
    tsl_config_monitor m;
    monitor(&m, TSL_DRIFT_STAT_CUSUM);
    m.detector.h = 1; /* one 2-sigma residual: 2 - 0.5 = 1.5 > 1 */
    tsl_monitor_stats st = {0};
    /* day 3: from origin 0 (step 3) says 12, from origin 2 (step 1) says 10, from origin 3
     * (not before the target) says 99 */
    capture(f, v1, "r0", "a", 0, (double[]){0, 0, 12}, 3);
    capture(f, v1, "r2", "a", 2, (double[]){10}, 1);
    capture(f, v1, "r3", "a", 2, (double[]){10}, 1);
    capture(f, v1, "r0", "c", 0, (double[]){0, 0, 10}, 3); /* c has no score: no sigma */
    ingest(f, (const char *[]){"a", "c"}, (int[]){3, 3}, (double[]){12, 50}, 2);
    follow(f, &m, &st);
    tu_close(dp_value(f, "cusum", 3, "a", NULL), 1, 0, 0, "residual 2 against the step-1 forecast");
    assert_true(isnan(dp_value(f, "cusum", 3, "c", NULL)));
    tu_close(dp_value(f, "cusum", 3, "", NULL), 1, 0, 0, "share over items with a detector");
    /* version 2 deployed: its captures only; v1's forecast for day 4 is not its error */
    int64_t v2 = reg(f, rmse1, "{\"items\":{\"a\":{\"score\":1.0}}}");
    deploy(f, 2);
    capture(f, v1, "r3", "a", 3, (double[]){0}, 1);
    capture(f, v2, "r3b", "a", 3, (double[]){12}, 1);
    ingest(f, (const char *[]){"a"}, (int[]){4}, (double[]){12}, 1);
    follow(f, &m, &st);
    tsl_store_detector a = state_of(f, "a");
    assert_int_equal(a.version, 2);
    assert_int_equal(a.fed, 1);
    assert_int_equal(a.signals, 0);
    tu_close(dp_value(f, "cusum", 4, "a", NULL), 0, 0, 0, "v2's residual is 0");
}

#define YAML_HEAD                                                                                  \
    "version: 1\n"                                                                                 \
    "name: p\n"                                                                                    \
    "datasets:\n"                                                                                  \
    "  sales: {frequency: D}\n"                                                                    \
    "monitors:\n"

static void test_config(void **state) {
    (void)state;
    char msg[512];
    tsl_config *cfg = NULL;
    if (tu_config_parse(
            YAML_HEAD
            "  r1: {kind: drift, endpoint: prod, statistic: cusum, detector: {k: 0.25, "
            "h: 8}}\n"
            "  r2: {kind: drift, endpoint: prod, statistic: page_hinkley, window: hour}\n",
            &cfg, msg, sizeof msg))
        fail_msg("%s", msg);
    const tsl_config_monitor *m = tsl_config_monitor_find(cfg, "r1");
    assert_non_null(m);
    assert_int_equal(m->statistic, TSL_DRIFT_STAT_CUSUM);
    tu_close(m->detector.k, 0.25, 0, 0, "k");
    tu_close(m->detector.h, 8, 0, 0, "h");
    tu_close(m->policy.value, 0, 0, 0, "default threshold: any signal");
    assert_int_equal(m->rule.op, TSL_ALARM_GT);
    assert_string_equal(tsl_monitor_metric_name(m), "cusum");
    m = tsl_config_monitor_find(cfg, "r2");
    assert_int_equal(m->statistic, TSL_DRIFT_STAT_PAGE_HINKLEY);
    tu_close(m->detector.lambda, TSL_DRIFT_PH_LAMBDA, 0, 0, "lambda default");
    assert_int_equal(m->detector.min_n, TSL_DRIFT_PH_MIN_N);
    tsl_config_free(cfg);
    static const tu_config_case bad[] = {
        {YAML_HEAD
         "  r: {kind: drift, endpoint: prod, statistic: page_hinkley, detector: {h: 3}}\n",
         "monitors.r.detector.h: not a setting of page_hinkley"},
        {YAML_HEAD "  r: {kind: drift, endpoint: prod, statistic: psi, detector: {k: 1}}\n",
         "monitors.r.detector: a setting of the residual detectors"},
        {YAML_HEAD "  r: {kind: drift, endpoint: prod, statistic: cusum, detector: {h: 0}}\n",
         "monitors.r.detector.h: '0', expected a positive number"},
        {YAML_HEAD "  r: {kind: drift, endpoint: prod, statistic: cusum, detector: {k: -1}}\n",
         "monitors.r.detector.k: -1, expected a number >= 0"},
        {YAML_HEAD "  r: {kind: drift, endpoint: prod, statistic: cusums}\n",
         "expected share_drifted, psi, ks, wasserstein, cusum or page_hinkley"},
    };
    tu_config_refuses(bad, sizeof bad / sizeof bad[0]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cusum_shift_hand_computed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_page_hinkley_matches_pure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_step_ahead_rule, setup, teardown),
        cmocka_unit_test(test_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
