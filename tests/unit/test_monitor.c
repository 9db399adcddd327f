/*
 * test_monitor.c - the evaluator through a real store: captures joined with actuals into
 * day, run and last:N windows checked against hand-computed values and against the engine's
 * accumulators; late and corrected actuals re-evaluating exactly the windows they touch and
 * never counting twice; which of several captures counts; each treatment of missing data
 * end to end through stored datapoints; flapping (every change recorded once, with its event);
 * the threshold policies read from the registry and parameters; the alarm's compare-and-set;
 * freshness (missed arrivals on a clock); and the monitors section of tsloop.yaml.
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
#include "tsloop/mem.h"
#include "tsloop/metrics.h"
#include "tsloop/monitor.h"
#include "tsloop/store.h"

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

/* History: items a and b, days 0..9, a = day, b = 2 day (seasonal naive scale at period 7:
 * 7 for a, 14 for b). */
static void history(fixture *f) {
    const char *items[20];
    int days[20];
    double v[20];
    for (int i = 0; i < 10; i++) {
        items[i] = "a", days[i] = i, v[i] = i;
        items[10 + i] = "b", days[10 + i] = i, v[10 + i] = 2 * i;
    }
    ingest(f, items, days, v, 20);
}

/* Registers a version of "fc" on "sales" with the given metrics JSON and status, and returns
 * its model id. */
static int64_t reg(fixture *f, const char *metrics, tsl_model_status st) {
    tsl_store_model_new m;
    memset(&m, 0, sizeof m);
    m.forecaster = "fc";
    m.dataset = "sales";
    m.metrics = metrics;
    m.artifact = "blob";
    m.artifact_len = 4;
    m.status = st;
    m.who = "test";
    m.why = "test";
    int64_t id = 0;
    int version = 0;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_model_register(f->s, &m, &id, &version, &d)) fail_msg("register: %s", d.msg);
    return id;
}

/* One capture of item from origin day `origin`, steps on the following days, means given,
 * quantiles at 0.1 and 0.9 as mean -+ 1. */
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

/* A day-window accuracy monitor on prod, metric m, fixed threshold th, M = N = periods. */
static void monitor(tsl_config_monitor *m, const char *name, tsl_metric metric, double th,
                    int periods) {
    memset(m, 0, sizeof *m);
    m->name = (char *)name;
    m->kind = TSL_MONITOR_ACCURACY;
    m->endpoint = "prod";
    m->metric = metric;
    m->window = TSL_WINDOW_DAY;
    m->policy.kind = TSL_THRESHOLD_FIXED;
    m->policy.value = th;
    m->policy.factor = 1;
    m->actions = TSL_MONITOR_ACTION_NOTIFY;
    tsl_alarm_rule_init(&m->rule, th, TSL_ALARM_GT, periods);
}

/* The stored datapoint (monitor, window, item, step, metric); fails when absent. */
static tsl_store_datapoint get_dp(fixture *f, const char *mon, const char *win, const char *item,
                                  int step, const char *metric) {
    tsl_store_datapoint_query q;
    tsl_store_datapoint *v = NULL;
    size_t n = 0;
    tsl_diag d = {TSL_OK, {0}};
    tsl_store_datapoint_query_init(&q);
    q.monitor = mon;
    q.window = win;
    q.item = item;
    q.step = step;
    q.metric = metric;
    assert_int_equal(tsl_store_datapoint_list(f->s, &q, &v, &n, &d), TSL_OK);
    if (n != 1) fail_msg("%zu datapoints for %s %s %s %d %s", n, mon, win, item, step, metric);
    tsl_store_datapoint out = v[0];
    out.monitor = out.endpoint = out.window = out.item = out.metric = NULL;
    tsl_store_datapoint_list_free(v, n);
    return out;
}

static size_t count_dp(fixture *f, const char *mon) {
    tsl_store_datapoint_query q;
    tsl_store_datapoint *v = NULL;
    size_t n = 0;
    tsl_diag d = {TSL_OK, {0}};
    tsl_store_datapoint_query_init(&q);
    q.monitor = mon;
    q.item = NULL;
    assert_int_equal(tsl_store_datapoint_list(f->s, &q, &v, &n, &d), TSL_OK);
    tsl_store_datapoint_list_free(v, n);
    return n;
}

static size_t count_events(fixture *f, const char *type) {
    tsl_store_event *ev = NULL;
    size_t n = 0, k = 0;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_store_event_list(f->s, 0, 0, &ev, &n, &d), TSL_OK);
    for (size_t i = 0; i < n; i++) k += !strcmp(ev[i].type, type);
    tsl_store_event_list_free(ev, n);
    return k;
}

/* Deploys version `version` of fc to prod. */
static void deploy(fixture *f, int version) {
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_deploy(f->s, "prod", "fc", version, 0, "t", "", NULL, &d)) fail_msg("%s", d.msg);
}

/* A config holding the given monitors (borrowed). */
static tsl_config cfg_of(tsl_config_monitor *m, size_t n) {
    tsl_config c;
    memset(&c, 0, sizeof c);
    c.monitors = m;
    c.nmonitors = n;
    return c;
}

static void follow(fixture *f, tsl_config *cfg, tsl_monitor_stats *st) {
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_monitor_follow(f->s, cfg, 0, f->now, st, &d)) fail_msg("follow: %s", d.msg);
}

static void test_day_window_hand_computed(void **state) {
    fixture *f = *state;
    history(f);
    int64_t model = reg(f, NULL, TSL_MODEL_APPROVED);
    deploy(f, 1);
    /* origin day 9, steps days 10 and 11 */
    capture(f, model, "r1", "a", 9, (double[]){11, 13}, 2);
    capture(f, model, "r1", "b", 9, (double[]){18, 25}, 2);
    tsl_config_monitor m;
    monitor(&m, "acc", TSL_METRIC_MAE, 100, 1);
    tsl_config cfg = cfg_of(&m, 1);
    tsl_monitor_stats st = {0};
    follow(f, &cfg, &st); /* the history ingest touches no forecast window */
    assert_int_equal(st.windows, 0);
    /* actuals: a 10, 12 (errors 1, 1); b 20, 22 (errors 2, 3) */
    ingest(f, (const char *[]){"a", "a", "b", "b"}, (int[]){10, 11, 10, 11},
           (double[]){10, 12, 20, 22}, 4);
    follow(f, &cfg, &st);
    assert_int_equal(st.windows, 2); /* days 10 and 11 */
    /* day 10: errors |10-11| = 1 (a), |20-18| = 2 (b) */
    tsl_store_datapoint p = get_dp(f, "acc", "1970-01-11", "", 0, "mae");
    tu_close(p.value, 1.5, 0, 1e-12, "day 10 MAE");
    assert_int_equal(p.n, 2);
    assert_int_equal(p.window_start, 10 * DAY);
    assert_int_equal(p.window_end, 11 * DAY);
    p = get_dp(f, "acc", "1970-01-11", "b", 0, "mae");
    tu_close(p.value, 2, 0, 1e-12, "day 10 MAE of b");
    /* MASE: per item MAE / seasonal naive scale (7 for a, 14 for b), averaged over items */
    p = get_dp(f, "acc", "1970-01-11", "", 0, "mase");
    tu_close(p.value, (1.0 / 7 + 2.0 / 14) / 2, 0, 1e-12, "day 10 MASE");
    /* day 11: errors 1 (a, step 2) and 3 (b, step 2); RMSE sqrt((1 + 9) / 2) */
    p = get_dp(f, "acc", "1970-01-12", "", 0, "rmse");
    tu_close(p.value, sqrt(5.0), 0, 1e-12, "day 11 RMSE");
    p = get_dp(f, "acc", "1970-01-12", "", 2, "mae");
    tu_close(p.value, 2, 0, 1e-12, "day 11 step 2 MAE");
    /* coverage of [mean - 1, mean + 1]: a's 10 vs 11 +- 1 inside, b's 20 vs 18 +- 1 outside */
    p = get_dp(f, "acc", "1970-01-11", "", 0, "coverage");
    tu_close(p.value, 0.5, 0, 1e-12, "day 10 coverage");

    /* every metric equals the engine's on the same points */
    tsl_acc a = {0}, b = {0};
    double ya = 10, fa = 11, qa[2] = {10, 12}, yb = 20, fb = 18, qb[2] = {17, 19};
    double lv[2] = {0.1, 0.9};
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_acc_add(&a, &ya, &fa, qa, lv, 2, 1, &d), TSL_OK);
    assert_int_equal(tsl_acc_add(&b, &yb, &fb, qb, lv, 2, 1, &d), TSL_OK);
    tsl_agg g = {0};
    assert_int_equal(tsl_agg_add(&g, &a, 7, &d), TSL_OK);
    assert_int_equal(tsl_agg_add(&g, &b, 14, &d), TSL_OK);
    for (int k = 0; k < TSL_METRIC_COUNT; k++) {
        p = get_dp(f, "acc", "1970-01-11", "", 0, tsl_metric_name((tsl_metric)k));
        double want = tsl_agg_value(&g, (tsl_metric)k);
        if (isnan(want))
            assert_true(isnan(p.value));
        else
            tu_close(p.value, want, 1e-12, 0, "engine %s", tsl_metric_name((tsl_metric)k));
        p = get_dp(f, "acc", "1970-01-11", "a", 0, tsl_metric_name((tsl_metric)k));
        want = tsl_acc_value(&a, (tsl_metric)k, 7);
        if (isnan(want))
            assert_true(isnan(p.value));
        else
            tu_close(p.value, want, 1e-12, 0, "engine %s of a", tsl_metric_name((tsl_metric)k));
    }
    /* the alarm evaluated: OK from INSUFFICIENT_DATA, one change, one event */
    tsl_store_alarm al;
    int found = 0;
    assert_int_equal(tsl_store_alarm_get(f->s, "acc", &al, &found, &d), TSL_OK);
    assert_true(found);
    assert_int_equal(al.state.value, TSL_ALARM_OK);
    tsl_store_alarm_release(&al);
    assert_int_equal(count_events(f, "alarm.state_changed"), 1);
}

static void test_late_and_corrected_actuals(void **state) {
    fixture *f = *state;
    history(f);
    int64_t model = reg(f, NULL, TSL_MODEL_APPROVED);
    deploy(f, 1);
    capture(f, model, "r1", "a", 9, (double[]){11, 13}, 2);
    capture(f, model, "r1", "b", 9, (double[]){18, 25}, 2);
    tsl_config_monitor m;
    monitor(&m, "acc", TSL_METRIC_MAE, 100, 1);
    tsl_config cfg = cfg_of(&m, 1);
    ingest(f, (const char *[]){"a", "a", "b"}, (int[]){10, 11, 10}, (double[]){10, 12, 20}, 3);
    follow(f, &cfg, NULL);
    size_t rows = count_dp(f, "acc");
    tsl_store_datapoint d10 = get_dp(f, "acc", "1970-01-11", "", 0, "mae");
    tsl_store_datapoint d11 = get_dp(f, "acc", "1970-01-12", "", 0, "mae");
    assert_int_equal(d11.n, 1);
    /* b's day-11 actual arrives late: only day 11 is recomputed */
    f->now += 60000;
    tsl_monitor_stats st = {0};
    ingest(f, (const char *[]){"b"}, (int[]){11}, (double[]){22}, 1);
    follow(f, &cfg, &st);
    assert_int_equal(st.windows, 1);
    tsl_store_datapoint d10b = get_dp(f, "acc", "1970-01-11", "", 0, "mae");
    tsl_store_datapoint d11b = get_dp(f, "acc", "1970-01-12", "", 0, "mae");
    assert_int_equal(d10b.computed_ms, d10.computed_ms); /* untouched */
    assert_int_equal(d11b.computed_ms, f->now);
    assert_int_equal(d11b.n, 2);
    tu_close(d11b.value, 2, 0, 1e-12, "day 11 MAE with the late actual");
    /* a correction of a's day-10 actual replaces its error, never adds a point */
    f->now += 60000;
    ingest(f, (const char *[]){"a"}, (int[]){10}, (double[]){15}, 1);
    follow(f, &cfg, NULL);
    d10b = get_dp(f, "acc", "1970-01-11", "", 0, "mae");
    assert_int_equal(d10b.n, 2);
    tu_close(d10b.value, (4.0 + 2.0) / 2, 0, 1e-12, "day 10 MAE after the correction");
    /* re-sending the same rows and following again changes nothing */
    ingest(f, (const char *[]){"a", "b"}, (int[]){10, 11}, (double[]){15, 22}, 2);
    follow(f, &cfg, NULL);
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_monitor_evaluate(f->s, &m, NULL, NULL, 0, f->now, NULL, &d), TSL_OK);
    assert_int_equal(count_dp(f, "acc"), rows + 8 /* b's day-11 row, per metric */);
    d10b = get_dp(f, "acc", "1970-01-11", "", 0, "mae");
    assert_int_equal(d10b.n, 2);
    tu_close(d10b.value, 3, 0, 1e-12, "day 10 MAE, evaluated again");
}

static void test_which_capture_counts(void **state) {
    fixture *f = *state;
    history(f);
    int64_t model = reg(f, NULL, TSL_MODEL_APPROVED);
    deploy(f, 1);
    /* day 11 is forecast by run r1 from day 8 (3 ahead), r2 from day 9 (2 ahead) and r3
     * from day 10 (1 ahead): the day window takes r3 (latest origin before the day) */
    capture(f, model, "r1", "a", 8, (double[]){0, 0, 20}, 3);
    capture(f, model, "r2", "a", 9, (double[]){0, 30}, 2);
    capture(f, model, "r3", "a", 10, (double[]){14}, 1);
    tsl_config_monitor m[2];
    monitor(&m[0], "day", TSL_METRIC_MAE, 100, 1);
    monitor(&m[1], "run", TSL_METRIC_MAE, 100, 1);
    m[1].window = TSL_WINDOW_RUN;
    tsl_config cfg = cfg_of(m, 2);
    ingest(f, (const char *[]){"a"}, (int[]){11}, (double[]){11}, 1);
    follow(f, &cfg, NULL);
    tsl_store_datapoint p = get_dp(f, "day", "1970-01-12", "a", 0, "mae");
    tu_close(p.value, 3, 0, 1e-12, "day window: the latest forecast before the day");
    assert_int_equal(p.n, 1);
    /* each run scores its own forecast of that day */
    tu_close(get_dp(f, "run", "run:r1", "a", 0, "mae").value, 9, 0, 1e-12, "run r1");
    tu_close(get_dp(f, "run", "run:r2", "a", 0, "mae").value, 19, 0, 1e-12, "run r2");
    tu_close(get_dp(f, "run", "run:r3", "a", 0, "mae").value, 3, 0, 1e-12, "run r3");
    /* last:1 takes the latest origin too */
    tsl_config_monitor last;
    monitor(&last, "last", TSL_METRIC_MAE, 100, 1);
    last.window = TSL_WINDOW_LAST;
    last.window_n = 1;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_monitor_evaluate(f->s, &last, NULL, NULL, 0, f->now, NULL, &d), TSL_OK);
    tu_close(get_dp(f, "last", "last:1@1970-01-12T00:00:00Z", "", 0, "mae").value, 3, 0, 1e-12,
             "last:1");
}

/* The datapoints of monitor mon in window win, in the store's order. */
static tsl_store_datapoint *window_dps(fixture *f, const char *mon, const char *win, size_t *n) {
    tsl_store_datapoint_query q;
    tsl_store_datapoint *v = NULL;
    tsl_diag d = {TSL_OK, {0}};
    tsl_store_datapoint_query_init(&q);
    q.monitor = mon;
    q.window = win;
    q.item = NULL;
    q.step = -1;
    if (tsl_store_datapoint_list(f->s, &q, &v, n, &d)) fail_msg("datapoints: %s", d.msg);
    return v;
}

/* A last:N window evaluated after an ingest reads the captures backwards from the latest target
 * in doubling spans, not the endpoint's whole history. Its datapoints must be those of a full
 * recompute, here where the latest targets have no actual yet and the actuals have a gap, so
 * that the window reaches well behind the first spans (and for one item's monitor too). */
static void test_last_window_bounded_read(void **state) {
    fixture *f = *state;
    history(f); /* days 0..9 */
    int64_t model = reg(f, NULL, TSL_MODEL_APPROVED);
    deploy(f, 1);
    for (int o = 9; o < 120; o++) { /* origins 9..119: targets up to day 122 */
        char run[16];
        snprintf(run, sizeof run, "r%d", o);
        capture(f, model, run, "a", o, (double[]){o + 1.5, o + 2.5, o + 4.0}, 3);
        capture(f, model, run, "b", o, (double[]){2.0 * o + 3, 2.0 * o + 1, 2.0 * o + 6.5}, 3);
    }
    /* actuals of days 10..99, then 105..109 (a gap of five days, nothing after 109) */
    const char *items[190];
    int days[190];
    double v[190];
    size_t n = 0;
    for (int t = 10; t < 110; t++) {
        if (t >= 100 && t < 105) continue;
        items[n] = "a", days[n] = t, v[n++] = t;
        items[n] = "b", days[n] = t, v[n++] = 2.0 * t + (t % 3);
    }
    tsl_config_monitor m[2];
    monitor(&m[0], "lastb", TSL_METRIC_MAE, 100, 1);
    monitor(&m[1], "lastb1", TSL_METRIC_MAE, 100, 1);
    for (int i = 0; i < 2; i++) {
        m[i].window = TSL_WINDOW_LAST;
        m[i].window_n = 8;
    }
    m[1].item = "b";
    tsl_config cfg = cfg_of(m, 2);
    tsl_monitor_stats st = {0};
    follow(f, &cfg, NULL); /* the history's ingest: no window yet */
    ingest(f, items, days, v, n);
    follow(f, &cfg, &st); /* touched evaluations: the bounded read */
    assert_int_equal(st.windows, 2);
    /* the window is days 97, 98, 99 and 105..109: eight joined times */
    tsl_store_datapoint p = get_dp(f, "lastb", "last:8@1970-04-20T00:00:00Z", "", 0, "mae");
    assert_int_equal(p.window_start, 97 * DAY);
    assert_int_equal(p.window_end, 109 * DAY + 1);
    assert_int_equal(p.n, 16);

    /* the same monitors recomputed from the whole history give the same datapoints */
    const char *full[2] = {"lastf", "lastf1"};
    for (int i = 0; i < 2; i++) {
        tsl_config_monitor x = m[i];
        x.name = (char *)full[i];
        tsl_diag d = {TSL_OK, {0}};
        assert_int_equal(tsl_monitor_evaluate(f->s, &x, NULL, NULL, 0, f->now, NULL, &d), TSL_OK);
        size_t nb = 0, nf = 0;
        tsl_store_datapoint *b = window_dps(f, m[i].name, "last:8@1970-04-20T00:00:00Z", &nb);
        tsl_store_datapoint *w = window_dps(f, full[i], "last:8@1970-04-20T00:00:00Z", &nf);
        assert_true(nb > 0);
        assert_int_equal(nb, nf);
        for (size_t k = 0; k < nb; k++) {
            assert_string_equal(b[k].item, w[k].item);
            assert_int_equal(b[k].step, w[k].step);
            assert_string_equal(b[k].metric, w[k].metric);
            assert_int_equal(b[k].n, w[k].n);
            assert_int_equal(b[k].window_start, w[k].window_start);
            assert_int_equal(b[k].window_end, w[k].window_end);
            if (isnan(w[k].value))
                assert_true(isnan(b[k].value));
            else
                tu_close(b[k].value, w[k].value, 0, 0, "%s %s step %d %s", full[i], w[k].item,
                         w[k].step, w[k].metric);
        }
        tsl_store_datapoint_list_free(b, nb);
        tsl_store_datapoint_list_free(w, nf);
    }
}

/* Writes datapoints for days 0..n-1 of monitor mon (NaN: none written). */
static void put_days(fixture *f, const char *mon, const double *v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (isnan(v[i])) continue;
        char key[32];
        snprintf(key, sizeof key, "day%zu", i);
        tsl_store_datapoint p = {
            (char *)mon, "prod", key, (int64_t)i * DAY, (int64_t)(i + 1) * DAY, "", 0, "mae",
            v[i],        1,      0};
        tsl_diag d = {TSL_OK, {0}};
        if (tsl_store_datapoint_put(f->s, &p, 1, &d)) fail_msg("%s", d.msg);
    }
}

static tsl_alarm_value alarm_of(fixture *f, tsl_config_monitor *m) {
    tsl_diag d = {TSL_OK, {0}};
    tsl_store_alarm a;
    int found = 0;
    if (tsl_monitor_alarm(f->s, m, f->now, NULL, &d)) fail_msg("alarm: %s", d.msg);
    assert_int_equal(tsl_store_alarm_get(f->s, m->name, &a, &found, &d), TSL_OK);
    assert_true(found);
    tsl_alarm_value v = a.state.value;
    tsl_store_alarm_release(&a);
    return v;
}

static void test_missing_data_treatments(void **state) {
    fixture *f = *state;
    static const char *const names[] = {"missing", "breaching", "notBreaching", "ignore"};
    static const tsl_alarm_missing how[] = {TSL_ALARM_MISSING, TSL_ALARM_BREACHING,
                                            TSL_ALARM_NOT_BREACHING, TSL_ALARM_IGNORE};
    /* range 5, N = M = 3, threshold 1. Only two real datapoints, both breaching (days 3 and
     * 4): missing keeps INSUFFICIENT_DATA, breaching fills the third as bad (ALARM),
     * notBreaching as good (OK), ignore keeps the state. */
    static const tsl_alarm_value want_two[] = {TSL_ALARM_INSUFFICIENT_DATA, TSL_ALARM_ALARM,
                                               TSL_ALARM_OK, TSL_ALARM_INSUFFICIENT_DATA};
    for (int k = 0; k < 4; k++) {
        tsl_config_monitor m;
        monitor(&m, names[k], TSL_METRIC_MAE, 1, 3);
        m.rule.missing = how[k];
        put_days(f, names[k], (double[]){NAN, NAN, NAN, 5, 6}, 5);
        assert_int_equal(alarm_of(f, &m), want_two[k]);
        /* CloudWatch's row "0 X X - X": ALARM whatever the treatment (3 real in range) */
        put_days(f, names[k], (double[]){0, 0, 0, 0, 0, 0, 2, 2, NAN, 2}, 10);
        assert_int_equal(alarm_of(f, &m), TSL_ALARM_ALARM);
        /* "0 - X - X" then: OK whatever the treatment */
        put_days(f, names[k], (double[]){0, 0, 0, 0, 0, 0, 2, 2, NAN, 2, 0, NAN, 2, NAN, 2}, 15);
        assert_int_equal(alarm_of(f, &m), TSL_ALARM_OK);
    }
}

static void test_flapping(void **state) {
    fixture *f = *state;
    tsl_config_monitor m;
    monitor(&m, "flap", TSL_METRIC_MAE, 1, 1);
    tsl_diag d = {TSL_OK, {0}};
    double v[12];
    for (int i = 0; i < 12; i++) {
        v[i] = i % 2 ? 0.5 : 2;
        put_days(f, "flap", v, (size_t)i + 1);
        f->now += 1000;
        assert_int_equal(alarm_of(f, &m), i % 2 ? TSL_ALARM_OK : TSL_ALARM_ALARM);
        assert_int_equal(alarm_of(f, &m), i % 2 ? TSL_ALARM_OK : TSL_ALARM_ALARM); /* again */
    }
    tsl_store_alarm_change *h = NULL;
    size_t n = 0;
    assert_int_equal(tsl_store_alarm_history(f->s, "flap", 0, &h, &n, &d), TSL_OK);
    assert_int_equal(n, 12); /* INSUFFICIENT -> ALARM, then 11 flips; none twice */
    assert_int_equal(h[0].value, TSL_ALARM_OK);
    assert_int_equal(h[0].previous, TSL_ALARM_ALARM);
    assert_int_equal(h[n - 1].previous, TSL_ALARM_INSUFFICIENT_DATA);
    assert_true(h[0].event_id > h[1].event_id);
    tsl_store_alarm_change_list_free(h, n);
    assert_int_equal(count_events(f, "alarm.state_changed"), 12);
    /* the event payload follows the shared contract */
    tsl_store_event *ev = NULL;
    size_t ne = 0;
    assert_int_equal(tsl_store_event_list(f->s, 0, 0, &ev, &ne, &d), TSL_OK);
    const tsl_store_event *last = &ev[ne - 1];
    assert_string_equal(last->type, "alarm.state_changed");
    assert_string_equal(last->subject, "monitor:flap");
    assert_non_null(strstr(last->payload, "\"previous\":\"ALARM\""));
    assert_non_null(strstr(last->payload, "\"state\":\"OK\""));
    assert_non_null(strstr(last->payload, "\"comparison\":\"GreaterThanThreshold\""));
    assert_non_null(strstr(last->payload, "\"reason\":\"0 of the last 1 datapoints (0.5)"));
    tsl_store_event_list_free(ev, ne);
}

static void test_threshold_policies(void **state) {
    fixture *f = *state;
    tsl_diag d = {TSL_OK, {0}};
    tsl_store_alarm a;
    int found = 0;
    reg(f, "{\"auto\":{\"mae\":2}}", TSL_MODEL_APPROVED);
    reg(f, "{\"auto\":{\"mae\":1.5}}", TSL_MODEL_PENDING);
    reg(f, "{\"metric\":\"mae\",\"score\":3}", TSL_MODEL_PENDING);
    deploy(f, 1);
    put_days(f, "base", (double[]){2.5}, 1);
    put_days(f, "best", (double[]){2.5}, 1);
    put_days(f, "prm", (double[]){2.5}, 1);
    tsl_config_monitor base, best, prm;
    monitor(&base, "base", TSL_METRIC_MAE, 0, 1);
    base.policy.kind = TSL_THRESHOLD_BASELINE;
    base.policy.factor = 1.2;
    monitor(&best, "best", TSL_METRIC_MAE, 0, 1);
    best.policy.kind = TSL_THRESHOLD_BEST_APPROVED;
    best.policy.factor = 1.2;
    monitor(&prm, "prm", TSL_METRIC_MAE, 0, 1);
    prm.threshold_param = "thr/mae";
    /* baseline: deployed v1's 2 x 1.2 = 2.4 < 2.5 */
    assert_int_equal(alarm_of(f, &base), TSL_ALARM_ALARM);
    assert_int_equal(tsl_store_alarm_get(f->s, "base", &a, &found, &d), TSL_OK);
    tu_close(a.threshold.threshold, 2.4, 1e-12, 0, "baseline threshold");
    tsl_store_alarm_release(&a);
    assert_int_equal(alarm_of(f, &best), TSL_ALARM_ALARM); /* best approved: v1, 2.4 */
    /* approving v2 (better) moves best_approved to 1.8; approving v3 (worse) does not */
    f->now += 1000;
    assert_int_equal(tsl_store_model_set_status(f->s, "fc", 2, TSL_MODEL_APPROVED, "t", "", &d),
                     TSL_OK);
    f->now += 1000;
    assert_int_equal(tsl_store_model_set_status(f->s, "fc", 3, TSL_MODEL_APPROVED, "t", "", &d),
                     TSL_OK);
    put_days(f, "best", (double[]){2.5, 2.0}, 2);
    assert_int_equal(alarm_of(f, &best), TSL_ALARM_ALARM);
    assert_int_equal(tsl_store_alarm_get(f->s, "best", &a, &found, &d), TSL_OK);
    tu_close(a.threshold.threshold, 1.8, 1e-12, 0, "best approved threshold");
    tsl_store_alarm_release(&a);
    /* deploying v3 moves baseline to 3 x 1.2 = 3.6 */
    deploy(f, 3);
    put_days(f, "base", (double[]){2.5, 2.0}, 2);
    assert_int_equal(alarm_of(f, &base), TSL_ALARM_OK);
    /* a parameter: unset, nothing evaluated; set, followed */
    assert_int_equal(tsl_monitor_alarm(f->s, &prm, f->now, NULL, &d), TSL_OK);
    assert_int_equal(tsl_store_alarm_get(f->s, "prm", &a, &found, &d), TSL_OK);
    assert_false(found);
    assert_int_equal(tsl_store_param_set(f->s, "thr/mae", "2", "t", "", NULL, &d), TSL_OK);
    assert_int_equal(alarm_of(f, &prm), TSL_ALARM_ALARM);
    assert_int_equal(tsl_store_param_set(f->s, "thr/mae", "3", "t", "", NULL, &d), TSL_OK);
    assert_int_equal(alarm_of(f, &prm), TSL_ALARM_OK);
}

static void test_alarm_compare_and_set(void **state) {
    fixture *f = *state;
    tsl_diag d = {TSL_OK, {0}};
    tsl_store_alarm a = {.monitor = "cas", .value = 1, .reason = "r"};
    tsl_alarm_state_init(&a.state);
    a.threshold.threshold = a.threshold.metric = NAN;
    a.state.value = TSL_ALARM_OK;
    a.state.changes = 1;
    tsl_store_alarm_change ch = {.monitor = "cas",
                                 .previous = TSL_ALARM_INSUFFICIENT_DATA,
                                 .value = TSL_ALARM_OK,
                                 .datapoint = 1,
                                 .threshold = 2,
                                 .reason = "r"};
    assert_int_equal(tsl_store_alarm_put(f->s, &a, 0, &ch, "{}", &d), TSL_OK);
    /* a second writer that read the same (empty) state loses */
    assert_int_equal(tsl_store_alarm_put(f->s, &a, 0, &ch, "{}", &d), TSL_ECONFLICT);
    assert_int_equal(count_events(f, "alarm.state_changed"), 1);
    a.state.changes = 1;
    assert_int_equal(tsl_store_alarm_put(f->s, &a, 1, NULL, NULL, &d), TSL_OK);
}

static void test_freshness(void **state) {
    fixture *f = *state;
    tsl_diag d = {TSL_OK, {0}};
    tsl_config_monitor m;
    memset(&m, 0, sizeof m);
    m.name = "fresh";
    m.kind = TSL_MONITOR_FRESHNESS;
    m.dataset = "sales";
    m.every = 3600;
    m.missing_after = 2;
    m.policy.kind = TSL_THRESHOLD_FIXED;
    m.policy.value = 2;
    m.policy.factor = 1;
    tsl_alarm_rule_init(&m.rule, 2, TSL_ALARM_GE, 1);
    history(f); /* the data set is updated at the store's clock, f->now */
    int64_t t0 = f->now;
    tsl_store_alarm a;
    int found = 0;
    tsl_monitor_stats st = {0};
    assert_int_equal(tsl_monitor_freshness(f->s, &m, t0 + 1800 * 1000, &st, &d), TSL_OK);
    assert_int_equal(tsl_store_alarm_get(f->s, "fresh", &a, &found, &d), TSL_OK);
    assert_int_equal(a.state.value, TSL_ALARM_OK);
    tsl_store_alarm_release(&a);
    /* checked again in the same slot with the same count: nothing written */
    assert_int_equal(tsl_monitor_freshness(f->s, &m, t0 + 1801 * 1000, &st, &d), TSL_OK);
    assert_int_equal(st.datapoints, 1);
    /* two and a half hours without data: two expected arrivals missed */
    assert_int_equal(tsl_monitor_freshness(f->s, &m, t0 + 9000 * 1000, &st, &d), TSL_OK);
    assert_int_equal(tsl_store_alarm_get(f->s, "fresh", &a, &found, &d), TSL_OK);
    assert_int_equal(a.state.value, TSL_ALARM_ALARM);
    tu_close(a.value, 2, 0, 0, "missed arrivals");
    tsl_store_alarm_release(&a);
    /* data arrives: OK again */
    f->now = t0 + 9500 * 1000;
    ingest(f, (const char *[]){"a"}, (int[]){10}, (double[]){10}, 1);
    assert_int_equal(tsl_monitor_freshness(f->s, &m, t0 + 9600 * 1000, &st, &d), TSL_OK);
    assert_int_equal(tsl_store_alarm_get(f->s, "fresh", &a, &found, &d), TSL_OK);
    assert_int_equal(a.state.value, TSL_ALARM_OK);
    assert_int_equal(a.state.changes, 3);
    tsl_store_alarm_release(&a);
}

static const char yaml_ok[] = "version: 1\n"
                              "name: p\n"
                              "datasets:\n"
                              "  sales: {frequency: D}\n"
                              "monitors:\n"
                              "  acc:\n"
                              "    endpoint: prod\n"
                              "    metric: mape\n"
                              "    window: last:24\n"
                              "    step: 2\n"
                              "    item: north\n"
                              "    threshold: {policy: best_approved, factor: 1.1}\n"
                              "    comparison: GreaterThanOrEqualToThreshold\n"
                              "    evaluation_periods: 3\n"
                              "    datapoints_to_alarm: 2\n"
                              "    evaluation_range: 6\n"
                              "    treat_missing_data: breaching\n"
                              "    actions: [retrain, notify]\n"
                              "  cov:\n"
                              "    endpoint: prod\n"
                              "    metric: coverage\n"
                              "    window: run\n"
                              "    threshold: param:cov/min\n"
                              "  drifting:\n"
                              "    kind: drift\n"
                              "    endpoint: prod\n"
                              "    statistic: psi\n"
                              "    window: hour\n"
                              "    drift_thresholds: {psi_large: 0.3, min_count: 24}\n"
                              "  fresh:\n"
                              "    kind: freshness\n"
                              "    dataset: sales\n"
                              "    expected_every: 1h\n"
                              "    missing_after: 3\n";

/* Parses text; returns the error code and the message in msg. */

static void test_config_monitors(void **state) {
    (void)state;
    tsl_config *cfg = NULL;
    char msg[512];
    if (tu_config_parse(yaml_ok, &cfg, msg, sizeof msg)) fail_msg("%s", msg);
    assert_int_equal(cfg->nmonitors, 4);
    const tsl_config_monitor *m = tsl_config_monitor_find(cfg, "acc");
    assert_non_null(m);
    assert_int_equal(m->metric, TSL_METRIC_MAPE);
    assert_int_equal(m->window, TSL_WINDOW_LAST);
    assert_int_equal(m->window_n, 24);
    assert_int_equal(m->step, 2);
    assert_string_equal(m->item, "north");
    assert_int_equal(m->policy.kind, TSL_THRESHOLD_BEST_APPROVED);
    tu_close(m->policy.factor, 1.1, 0, 0, "factor");
    assert_int_equal(m->rule.op, TSL_ALARM_GE);
    assert_int_equal(m->rule.periods, 3);
    assert_int_equal(m->rule.datapoints, 2);
    assert_int_equal(m->rule.range, 6);
    assert_int_equal(m->rule.missing, TSL_ALARM_BREACHING);
    assert_int_equal(m->actions, TSL_MONITOR_ACTION_RETRAIN | TSL_MONITOR_ACTION_NOTIFY);
    m = tsl_config_monitor_find(cfg, "cov");
    assert_string_equal(m->threshold_param, "cov/min");
    assert_int_equal(m->rule.op, TSL_ALARM_LT); /* coverage: higher is better */
    assert_int_equal(m->actions, TSL_MONITOR_ACTION_NOTIFY);
    m = tsl_config_monitor_find(cfg, "drifting");
    assert_int_equal(m->kind, TSL_MONITOR_DRIFT);
    assert_int_equal(m->statistic, TSL_DRIFT_STAT_PSI);
    assert_int_equal(m->window, TSL_WINDOW_HOUR);
    tu_close(m->drift.psi_large, 0.3, 0, 0, "psi_large");
    tu_close(m->drift.psi_moderate, TSL_DRIFT_PSI_MODERATE, 0, 0, "psi_moderate default");
    assert_int_equal(m->drift.min_count, 24);
    tu_close(m->policy.value, 0.3, 0, 0, "threshold defaults to psi_large");
    assert_int_equal(m->rule.op, TSL_ALARM_GE);
    assert_string_equal(tsl_monitor_metric_name(m), "psi");
    m = tsl_config_monitor_find(cfg, "fresh");
    assert_int_equal(m->kind, TSL_MONITOR_FRESHNESS);
    assert_int_equal(m->every, 3600);
    assert_int_equal(m->missing_after, 3);
    tsl_config_free(cfg);

    static const tu_config_case bad[] = {
        {"version: 1\nname: p\nmonitors:\n  m:\n    endpoint: prod\n    thresold: 1\n",
         "t.yaml:6:5: monitors.m: unknown key 'thresold'"},
        {"version: 1\nname: p\nmonitors:\n  m:\n    endpoint: prod\n    threshold: x\n",
         "t.yaml:6:16: monitors.m.threshold: 'x', expected a finite number"},
        {"version: 1\nname: p\nmonitors:\n  m:\n    endpoint: prod\n",
         "monitors.m.threshold: missing"},
        {"version: 1\nname: p\nmonitors:\n  m:\n    endpoint: prod\n    threshold: 1\n"
         "    window: week\n",
         "t.yaml:7:13: monitors.m.window: 'week', expected day, hour, run or last:N"},
        {"version: 1\nname: p\nmonitors:\n  m:\n    endpoint: prod\n    threshold: 1\n"
         "    evaluation_periods: 2\n    datapoints_to_alarm: 3\n",
         "t.yaml:8:26: monitors.m.datapoints_to_alarm: '3', expected an integer from 1 to 2"},
        {"version: 1\nname: p\nmonitors:\n  m:\n    endpoint: prod\n    threshold: 1\n"
         "    actions: [retrain, page]\n",
         "t.yaml:7:24: monitors.m.actions: 'page', expected retrain or notify"},
        {"version: 1\nname: p\nmonitors:\n  m:\n    endpoint: prod\n"
         "    threshold: {policy: baseline, factor: 0}\n",
         "monitors.m.threshold.factor: '0', expected a positive number"},
        {"version: 1\nname: p\nmonitors:\n  m:\n    kind: freshness\n    dataset: nope\n"
         "    expected_every: 1h\n",
         "monitors.m.dataset: 'nope' is not a dataset of this file"},
        {"version: 1\nname: p\nmonitors:\n  m:\n    kind: drift\n",
         "monitors.m.endpoint: no endpoint"},
        {"version: 1\nname: p\nmonitors:\n  m:\n    kind: drift\n    endpoint: prod\n"
         "    item: a\n",
         "t.yaml:7:11: monitors.m.item: share_drifted is over all items"},
        {"version: 1\nname: p\nmonitors:\n  m:\n    kind: drift\n    endpoint: prod\n"
         "    threshold: {policy: baseline}\n",
         "monitors.m.threshold: a drift statistic has no backtest value to follow"},
        {"version: 1\nname: p\nmonitors:\n  m:\n    kind: drift\n    endpoint: prod\n"
         "    metric: mape\n",
         "t.yaml:7:13: monitors.m.metric: not a setting of drift monitors"},
        {"version: 1\nname: p\nmonitors:\n  m:\n    kind: drift\n    endpoint: prod\n"
         "    drift_thresholds: {psi_large: 0.05}\n",
         "monitors.m.drift_thresholds:"},
        {"version: 1\nname: p\nmonitors:\n  m:\n    endpoint: prod\n    threshold: 1\n"
         "    treat_missing_data: zero\n",
         "t.yaml:7:25: monitors.m.treat_missing_data:"},
    };
    tu_config_refuses(bad, sizeof bad / sizeof bad[0]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_day_window_hand_computed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_late_and_corrected_actuals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_which_capture_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_window_bounded_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_data_treatments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flapping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threshold_policies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alarm_compare_and_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_freshness, setup, teardown),
        cmocka_unit_test(test_config_monitors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
