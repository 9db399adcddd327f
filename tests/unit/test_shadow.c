/*
 * test_shadow.c - shadow deployments: the store's rules (who may run in shadow, one per
 * endpoint, superseding, ending once, deploying the shadow ends it), captures flagged shadow
 * kept apart from live ones, the paired comparison against hand-computed numbers, and the
 * compare.shadow key and the notifier's text of the shadow's events.
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
#include "tsloop/buf.h"
#include "tsloop/mem.h"
#include "tsloop/notify.h"
#include "tsloop/shadow.h"
#include "tsloop/store.h"

#define DAY 86400

/* How many events of type the log holds, and the last one's payload into last (cap bytes). */
static size_t events_of(tsl_store *s, const char *type, char *last, size_t cap) {
    tsl_store_event *v = NULL;
    size_t n = 0, k = 0;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_event_list(s, 0, 0, &v, &n, &d)) fail_msg("events: %s", d.msg);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i].type, type)) {
            k++;
            if (last) tsl_strlcpy(last, v[i].payload, cap);
        }
    tsl_store_event_list_free(v, n);
    return k;
}

static void test_start_rules(void **state) {
    tu_store_fx *f = *state;
    tsl_diag d = {TSL_OK, {0}};
    tsl_store_shadow sh = {0};
    tu_store_register(f->s, "solar", TSL_MODEL_APPROVED); /* 1: live */
    tu_store_register(f->s, "solar", TSL_MODEL_PENDING);  /* 2: the challenger */
    tu_store_register(f->s, "solar", TSL_MODEL_REJECTED); /* 3 */
    tu_store_register(f->s, "wind", TSL_MODEL_APPROVED);  /* another entry */
    assert_int_equal(tsl_store_shadow_start(f->s, "prod", "solar", 2, 3, "t", "", &sh, &d),
                     TSL_ENOTFOUND); /* no endpoint yet */
    assert_int_equal(tsl_store_deploy(f->s, "prod", "solar", 1, 1, "t", "", NULL, &d), TSL_OK);
    assert_int_equal(tsl_store_shadow_start(f->s, "prod", "solar", 1, 3, "t", "", &sh, &d),
                     TSL_ECONFLICT); /* the live version */
    assert_non_null(strstr(d.msg, "serves"));
    assert_int_equal(tsl_store_shadow_start(f->s, "prod", "solar", 3, 3, "t", "", &sh, &d),
                     TSL_ECONFLICT); /* Rejected */
    assert_int_equal(tsl_store_shadow_start(f->s, "prod", "wind", 1, 3, "t", "", &sh, &d),
                     TSL_ECONFLICT); /* another entry than the endpoint serves */
    assert_int_equal(tsl_store_shadow_start(f->s, "prod", "solar", 9, 3, "t", "", &sh, &d),
                     TSL_ENOTFOUND);
    assert_int_equal(tsl_store_shadow_start(f->s, "prod", "solar", 2, 0, "t", "", &sh, &d),
                     TSL_EINVAL);
    int found = 1;
    assert_int_equal(tsl_store_shadow_get(f->s, "prod", &sh, &found, &d), TSL_OK);
    assert_int_equal(found, 0);
    assert_int_equal(events_of(f->s, "model.shadow_started", NULL, 0), 0);

    assert_int_equal(tsl_store_shadow_start(f->s, "prod", "solar", 2, 3, "ann", "try it", &sh, &d),
                     TSL_OK);
    assert_int_equal(sh.version, 2);
    assert_int_equal(sh.champion_version, 1);
    assert_int_equal(sh.windows, 3);
    assert_int_equal(sh.outcome, TSL_SHADOW_RUNNING);
    assert_int_equal(sh.ended_ms, 0);
    int64_t first = sh.id;
    tsl_store_shadow_release(&sh);
    char payload[1024];
    assert_int_equal(events_of(f->s, "model.shadow_started", payload, sizeof payload), 1);
    assert_non_null(strstr(payload, "\"champion_version\":1"));
    assert_non_null(strstr(payload, "\"endpoint\":\"prod\""));
    assert_non_null(strstr(payload, "\"windows\":3"));

    /* a second start supersedes the first: one runs, both are kept */
    assert_int_equal(tsl_store_shadow_start(f->s, "prod", "solar", 2, 5, "bob", "", &sh, &d),
                     TSL_OK);
    int64_t second = sh.id;
    tsl_store_shadow_release(&sh);
    assert_int_equal(events_of(f->s, "model.shadow_ended", payload, sizeof payload), 1);
    assert_non_null(strstr(payload, "\"outcome\":\"superseded\""));
    tsl_store_shadow *v = NULL;
    size_t n = 0;
    assert_int_equal(tsl_store_shadow_list(f->s, "prod", NULL, 0, 0, 0, &v, &n, &d), TSL_OK);
    assert_int_equal(n, 2);
    assert_int_equal(v[0].id, second); /* newest first */
    assert_int_equal(v[0].outcome, TSL_SHADOW_RUNNING);
    assert_int_equal(v[1].id, first);
    assert_int_equal(v[1].outcome, TSL_SHADOW_SUPERSEDED);
    assert_true(v[1].ended_ms > 0);
    tsl_store_shadow_list_free(v, n);
    assert_int_equal(tsl_store_shadow_list(f->s, NULL, "solar", 2, 1, 0, &v, &n, &d), TSL_OK);
    assert_int_equal(n, 1);
    tsl_store_shadow_list_free(v, n);

    /* progress is recorded while it runs; ending is a compare-and-set */
    assert_int_equal(tsl_store_shadow_progress(f->s, second, 2, &d), TSL_OK);
    assert_int_equal(tsl_store_shadow_get(f->s, "prod", &sh, &found, &d), TSL_OK);
    assert_int_equal(found, 1);
    assert_int_equal(sh.progress, 2);
    tsl_store_shadow_release(&sh);
    assert_int_equal(
        tsl_store_shadow_end(f->s, second, TSL_SHADOW_STOPPED, "enough", "{}", 2, NULL, &d),
        TSL_EINVAL); /* a comparison goes with completed only */
    assert_int_equal(
        tsl_store_shadow_end(f->s, second, TSL_SHADOW_STOPPED, "enough", NULL, 2, NULL, &d),
        TSL_OK);
    assert_int_equal(
        tsl_store_shadow_end(f->s, second, TSL_SHADOW_COMPLETED, "late", "{}", 3, "{}", &d),
        TSL_ECONFLICT);
    assert_int_equal(events_of(f->s, "model.compared", NULL, 0), 0); /* the loser recorded none */
    assert_int_equal(tsl_store_shadow_get(f->s, "prod", &sh, &found, &d), TSL_OK);
    assert_int_equal(found, 0);

    /* deploying the shadow's version live ends it as deployed */
    assert_int_equal(tsl_store_shadow_start(f->s, "prod", "solar", 2, 3, "t", "", &sh, &d), TSL_OK);
    int64_t third = sh.id;
    tsl_store_shadow_release(&sh);
    assert_int_equal(tsl_store_deploy(f->s, "prod", "solar", 2, 0, "carl", "", NULL, &d), TSL_OK);
    assert_int_equal(tsl_store_shadow_list(f->s, "prod", NULL, 0, 0, 1, &v, &n, &d), TSL_OK);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].id, third);
    assert_int_equal(v[0].outcome, TSL_SHADOW_DEPLOYED);
    assert_non_null(strstr(v[0].end_why, "carl"));
    tsl_store_shadow_list_free(v, n);
    assert_int_equal(events_of(f->s, "model.shadow_ended", payload, sizeof payload), 3);
    assert_non_null(strstr(payload, "\"outcome\":\"deployed\""));
}

static void test_completed_records_comparison(void **state) {
    tu_store_fx *f = *state;
    tsl_diag d = {TSL_OK, {0}};
    tsl_store_shadow sh = {0};
    tu_store_register(f->s, "solar", TSL_MODEL_APPROVED);
    tu_store_register(f->s, "solar", TSL_MODEL_PENDING);
    assert_int_equal(tsl_store_deploy(f->s, "prod", "solar", 1, 1, "t", "", NULL, &d), TSL_OK);
    assert_int_equal(tsl_store_shadow_start(f->s, "prod", "solar", 2, 2, "t", "", &sh, &d), TSL_OK);
    assert_int_equal(tsl_store_shadow_end(f->s, sh.id, TSL_SHADOW_COMPLETED, "compared",
                                          "{\"source\":\"shadow\"}", 2,
                                          "{\"entry\":\"solar\",\"source\":\"shadow\"}", &d),
                     TSL_OK);
    char payload[256];
    assert_int_equal(events_of(f->s, "model.compared", payload, sizeof payload), 1);
    assert_non_null(strstr(payload, "\"source\":\"shadow\""));
    tsl_store_shadow *v = NULL;
    size_t n = 0;
    assert_int_equal(tsl_store_shadow_list(f->s, NULL, "solar", 2, 0, 0, &v, &n, &d), TSL_OK);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].outcome, TSL_SHADOW_COMPLETED);
    assert_int_equal(v[0].progress, 2);
    assert_string_equal(v[0].comparison, "{\"source\":\"shadow\"}");
    assert_int_equal(v[0].decided, 0);
    tsl_store_shadow_list_free(v, n);
    assert_int_equal(tsl_store_shadow_decided(f->s, sh.id, &d), TSL_OK);
    assert_int_equal(tsl_store_shadow_list(f->s, NULL, "solar", 2, 0, 0, &v, &n, &d), TSL_OK);
    assert_int_equal(v[0].decided, 1);
    tsl_store_shadow_list_free(v, n);
    tsl_store_shadow_release(&sh);
}

static void test_captures_kept_apart(void **state) {
    tu_store_fx *f = *state;
    tsl_diag d = {TSL_OK, {0}};
    int64_t live = tu_store_register(f->s, "solar", TSL_MODEL_APPROVED);
    int64_t chal = tu_store_register(f->s, "solar", TSL_MODEL_PENDING);
    int64_t t[2] = {DAY, 2 * DAY};
    double lv[1] = {0.5}, mean[2] = {1, 2}, q[2] = {0.9, 1.9};
    tsl_store_capture_new v[2] = {
        {"req-1", "prod", live, "a", 0, 0, 2, 1, t, lv, mean, q, 0},
        {"req-1", "prod", chal, "a", 0, 0, 2, 1, t, lv, mean, q, 1},
    };
    assert_int_equal(tsl_store_capture_add(f->s, v, 2, &d), TSL_OK);
    tsl_store_capture *c = NULL;
    size_t n = 0;
    assert_int_equal(tsl_store_capture_list(f->s, NULL, NULL, 0, 0, &c, &n, &d), TSL_OK);
    assert_int_equal(n, 1);
    assert_int_equal(c[0].model_id, live);
    assert_int_equal(c[0].shadow, 0);
    tsl_store_capture_list_free(c, n);
    assert_int_equal(tsl_store_capture_list(f->s, "prod", "req-1", 0, 0, &c, &n, &d), TSL_OK);
    assert_int_equal(n, 1);
    tsl_store_capture_list_free(c, n);
    assert_int_equal(tsl_store_capture_list_shadow(f->s, "prod", 0, 0, &c, &n, &d), TSL_OK);
    assert_int_equal(n, 1);
    assert_int_equal(c[0].model_id, chal);
    assert_int_equal(c[0].shadow, 1);
    assert_int_equal(c[0].version, 2);
    assert_string_equal(c[0].inference_id, "req-1");
    tsl_store_capture_list_free(c, n);
    assert_int_equal(tsl_store_capture_list_shadow(f->s, "staging", 0, 0, &c, &n, &d), TSL_OK);
    assert_int_equal(n, 0);
}

/* A capture built on the stack for the comparison. */
static tsl_store_capture cap(int64_t id, char *run, char *item, int64_t origin_day, int64_t *t,
                             double *mean) {
    tsl_store_capture c;
    memset(&c, 0, sizeof c);
    c.id = id;
    c.inference_id = run;
    c.item = item;
    c.origin = origin_day * DAY;
    c.steps = 2;
    c.targets = t;
    c.mean = mean;
    return c;
}

/*
 * By hand. Items a and b, daily; run r1 forecasts days 11-12 from day 10:
 *   a: actuals 11, 13; live 10, 10 (errors 1, 3); shadow 12, 12 (errors 1, 1)
 *   b: actuals 22, 20; live 20, 20 (errors 2, 0); shadow 20, 20 (errors 2, 0)
 * MAE pools the points: live (1+3+2+0)/4 = 1.5, shadow (1+1+2+0)/4 = 1.0. An earlier request
 * r0 from the same origin (live 0, 0) is superseded by r1 (the latest pair counts); r2 from
 * day 12 forecasts days 13-14, whose actuals have not all arrived (a window still open); r3
 * has no shadow twin. MASE: a's scale is the mean |y_t - y_{t-1}| of days 1-10 (a_t = t: 1),
 * b's (b_t = 2t: 2); per (item, origin) MAE / scale: live a 2/1, b 1/2 -> mean 1.25; shadow
 * a 1/1, b 1/2 -> 0.75.
 */
static void test_paired_comparison(void **state) {
    (void)state;
    int64_t t1[2] = {11 * DAY, 12 * DAY}, t2[2] = {13 * DAY, 14 * DAY};
    double l0a[2] = {0, 0}, s0a[2] = {0, 0}, l1a[2] = {10, 10}, s1a[2] = {12, 12};
    double l1b[2] = {20, 20}, s1b[2] = {20, 20}, l2a[2] = {13, 13}, s2a[2] = {14, 14};
    char r0[] = "r0", r1[] = "r1", r2[] = "r2", r3[] = "r3", a[] = "a", b[] = "b";
    tsl_store_capture live[5] = {cap(1, r0, a, 10, t1, l0a), cap(3, r1, a, 10, t1, l1a),
                                 cap(4, r1, b, 10, t1, l1b), cap(7, r2, a, 12, t2, l2a),
                                 cap(9, r3, b, 10, t1, l1b)};
    tsl_store_capture shadow[4] = {cap(2, r0, a, 10, t1, s0a), cap(5, r1, b, 10, t1, s1b),
                                   cap(6, r1, a, 10, t1, s1a), cap(8, r2, a, 12, t2, s2a)};
    int64_t ta[13], tb[12];
    double va[13], vb[12];
    for (int i = 0; i < 12; i++) {
        ta[i] = tb[i] = (int64_t)(i + 1) * DAY;
        va[i] = i + 1;
        vb[i] = 2 * (i + 1);
    }
    va[10] = 11, va[11] = 13; /* a: days 11, 12 */
    vb[10] = 22, vb[11] = 20; /* b: days 11, 12 */
    ta[12] = 13 * DAY;        /* a has day 13 but not 14: r2's window is open */
    va[12] = 13.5;
    tsl_shadow_series ser[2] = {{"a", ta, va, 13}, {"b", tb, vb, 12}};
    tsl_shadow_score sc;
    tsl_diag d = {TSL_OK, {0}};
    /* r3's capture of b (id 9) is the latest live forecast of (b, day 10) but has no twin */
    assert_int_equal(tsl_shadow_compare(live, 5, shadow, 4, ser, 2, 1, TSL_METRIC_MAE, 1, &sc, &d),
                     TSL_OK);
    assert_int_equal(sc.unpaired, 1);
    assert_int_equal(sc.windows, 1);
    assert_int_equal(sc.ready, 1);
    assert_int_equal(sc.forecasts, 2);
    assert_int_equal(sc.points, 4);
    assert_int_equal(sc.items, 2);
    assert_int_equal(sc.first_origin, 10 * DAY);
    assert_int_equal(sc.last_origin, 10 * DAY);
    tu_close(sc.champion, 1.5, 1e-12, 0, "live MAE");
    tu_close(sc.challenger, 1.0, 1e-12, 0, "shadow MAE");
    assert_int_equal(tsl_shadow_compare(live, 5, shadow, 4, ser, 2, 1, TSL_METRIC_MASE, 1, &sc, &d),
                     TSL_OK);
    tu_close(sc.champion, 1.25, 1e-12, 0, "live MASE");
    tu_close(sc.challenger, 0.75, 1e-12, 0, "shadow MASE");
    /* two windows wanted: only one is complete */
    assert_int_equal(tsl_shadow_compare(live, 5, shadow, 4, ser, 2, 1, TSL_METRIC_MAE, 2, &sc, &d),
                     TSL_OK);
    assert_int_equal(sc.windows, 1);
    assert_int_equal(sc.ready, 0);
    assert_true(isnan(sc.champion));
    /* day 14 arrives: the second window completes (a: live |14-13| = 1, |15-13| = 2; shadow
     * 0, 1); pooled over six points: live (6 + 3) / 6, shadow (4 + 1) / 6 */
    int64_t ta2[14];
    double va2[14];
    memcpy(ta2, ta, sizeof ta);
    memcpy(va2, va, sizeof va);
    va2[12] = 14;
    ta2[13] = 14 * DAY;
    va2[13] = 15;
    ser[0] = (tsl_shadow_series){"a", ta2, va2, 14};
    assert_int_equal(tsl_shadow_compare(live, 5, shadow, 4, ser, 2, 1, TSL_METRIC_MAE, 2, &sc, &d),
                     TSL_OK);
    assert_int_equal(sc.windows, 2);
    assert_int_equal(sc.ready, 1);
    assert_int_equal(sc.points, 6);
    assert_int_equal(sc.last_origin, 12 * DAY);
    tu_close(sc.champion, 9.0 / 6, 1e-12, 0, "live MAE, two windows");
    tu_close(sc.challenger, 5.0 / 6, 1e-12, 0, "shadow MAE, two windows");
    /* nothing to pair */
    assert_int_equal(tsl_shadow_compare(live, 5, NULL, 0, ser, 2, 1, TSL_METRIC_MAE, 1, &sc, &d),
                     TSL_OK);
    assert_int_equal(sc.unpaired, 5);
    assert_int_equal(sc.windows, 0);
    assert_int_equal(sc.ready, 0);
}

/* Parses yaml as tsloop.yaml: the error code, and the configuration when it parsed. */
static tsl_err parse(const char *yaml, tsl_config **cfg, tsl_diag *d) {
    *cfg = NULL;
    return tsl_config_parse(yaml, strlen(yaml), "tsloop.yaml", NULL, cfg, d);
}

/* A configuration whose forecaster f has compare: COMPARE, and a forecaster g without. */
static void yaml_with(char *buf, size_t cap, const char *compare) {
    snprintf(buf, cap,
             "name: a\ndatasets: {s: }\nforecasters:\n  f: {dataset: s, horizon: 3, compare: "
             "%s}\n  g: {dataset: s, horizon: 3}\n",
             compare);
}

static void test_config_compare_shadow(void **state) {
    (void)state;
    tsl_config *cfg = NULL;
    tsl_diag d = {TSL_OK, {0}};
    char yaml[512];
    yaml_with(yaml, sizeof yaml, "{windows: 5, shadow: {endpoint: prod, windows: 3}}");
    assert_int_equal(parse(yaml, &cfg, &d), TSL_OK);
    const tsl_config_forecaster *f = tsl_shadow_forecaster_of(cfg, "f");
    assert_non_null(f);
    assert_string_equal(f->name, "f");
    assert_string_equal(f->shadow_endpoint, "prod");
    assert_int_equal(f->shadow_windows, 3);
    assert_int_equal(f->compare_windows, 5);
    assert_ptr_equal(tsl_shadow_forecaster_of(cfg, "f.north"), f); /* a split_by group's entry */
    assert_null(tsl_shadow_forecaster_of(cfg, "fx"));
    assert_null(tsl_shadow_forecaster_of(cfg, "g")->shadow_endpoint);
    tsl_config_free(cfg);
    yaml_with(yaml, sizeof yaml, "{shadow: {endpoint: prod}}");
    assert_int_equal(parse(yaml, &cfg, &d), TSL_OK);
    assert_int_equal(tsl_shadow_forecaster_of(cfg, "f")->shadow_windows, 0); /* compare.windows */
    tsl_config_free(cfg);
    yaml_with(yaml, sizeof yaml, "{shadow: {windows: 3}}");
    assert_int_equal(parse(yaml, &cfg, &d), TSL_EINVAL);
    assert_non_null(strstr(d.msg, "forecasters.f.compare.shadow: the endpoint"));
    yaml_with(yaml, sizeof yaml, "{shadow: {endpoint: prod, windows: 0}}");
    assert_int_equal(parse(yaml, &cfg, &d), TSL_EINVAL);
    assert_non_null(strstr(d.msg, "forecasters.f.compare.shadow.windows"));
    yaml_with(yaml, sizeof yaml, "{shadow: {endpoint: 'no/such', windows: 2}}");
    assert_int_equal(parse(yaml, &cfg, &d), TSL_EINVAL);
    assert_non_null(strstr(d.msg, "forecasters.f.compare.shadow.endpoint"));
    yaml_with(yaml, sizeof yaml, "{shadow: {endpoint: prod, window: 2}}");
    assert_int_equal(parse(yaml, &cfg, &d), TSL_EINVAL);
    assert_non_null(strstr(d.msg, "unknown key"));
}

/* A comparison completed (a crash before the policy acted, say) is decided by the next round,
 * once: auto with the challenger better by the margin approves it and auto_deploy deploys it. */
static void test_poll_decides_once(void **state) {
    tu_store_fx *f = *state;
    tsl_diag d = {TSL_OK, {0}};
    tsl_store_shadow sh = {0};
    tsl_config *cfg = NULL;
    const char *yaml = "name: a\ndatasets: {s: }\nforecasters:\n  solar: {dataset: s, horizon: 3, "
                       "approval: {policy: auto, margin: 0.1}}\n  wind: {dataset: s, horizon: 3}\n"
                       "endpoints:\n  prod: {forecaster: solar, auto_deploy: on_approval}\n";
    assert_int_equal(parse(yaml, &cfg, &d), TSL_OK);
    tu_store_register(f->s, "solar", TSL_MODEL_APPROVED);
    tu_store_register(f->s, "solar", TSL_MODEL_PENDING);
    tu_store_register(f->s, "wind", TSL_MODEL_APPROVED);
    tu_store_register(f->s, "wind", TSL_MODEL_PENDING);
    assert_int_equal(tsl_store_deploy(f->s, "prod", "solar", 1, 1, "t", "", NULL, &d), TSL_OK);
    assert_int_equal(tsl_store_deploy(f->s, "staging", "wind", 1, 1, "t", "", NULL, &d), TSL_OK);
    const char *better = "{\"source\":\"shadow\",\"metric\":\"mae\",\"champion\":2,"
                         "\"challenger\":1,\"champion_version\":1,\"points\":10,\"better\":true}";
    assert_int_equal(tsl_store_shadow_start(f->s, "prod", "solar", 2, 2, "t", "", &sh, &d), TSL_OK);
    assert_int_equal(
        tsl_store_shadow_end(f->s, sh.id, TSL_SHADOW_COMPLETED, "done", better, 2, NULL, &d),
        TSL_OK);
    tsl_store_shadow_release(&sh);
    /* wind's policy is manual: better or not, it stays pending */
    assert_int_equal(tsl_store_shadow_start(f->s, "staging", "wind", 2, 2, "t", "", &sh, &d),
                     TSL_OK);
    assert_int_equal(
        tsl_store_shadow_end(f->s, sh.id, TSL_SHADOW_COMPLETED, "done", better, 2, NULL, &d),
        TSL_OK);
    tsl_store_shadow_release(&sh);
    tsl_shadow_stats st = {0};
    assert_int_equal(tsl_shadow_poll(f->s, cfg, 0, &st, &d), TSL_OK);
    assert_int_equal(st.running, 0);
    assert_int_equal(st.approved, 1);
    assert_int_equal(st.deployed, 1);
    tsl_store_model m = {0};
    assert_int_equal(tsl_store_model_get(f->s, "solar", 2, &m, &d), TSL_OK);
    assert_int_equal(m.status, TSL_MODEL_APPROVED);
    tsl_store_model_release(&m);
    assert_int_equal(tsl_store_model_get(f->s, "wind", 2, &m, &d), TSL_OK);
    assert_int_equal(m.status, TSL_MODEL_PENDING);
    tsl_store_model_release(&m);
    tsl_store_deployment dp = {0};
    assert_int_equal(tsl_store_endpoint_get(f->s, "prod", &dp, &d), TSL_OK);
    assert_int_equal(dp.version, 2);
    tsl_store_deployment_release(&dp);
    tsl_store_shadow *v = NULL;
    size_t n = 0;
    assert_int_equal(tsl_store_shadow_list(f->s, NULL, NULL, 0, 0, 0, &v, &n, &d), TSL_OK);
    assert_int_equal(n, 2);
    assert_int_equal(v[0].decided + v[1].decided, 2);
    tsl_store_shadow_list_free(v, n);
    /* again: nothing left to decide */
    memset(&st, 0, sizeof st);
    assert_int_equal(tsl_shadow_poll(f->s, cfg, 0, &st, &d), TSL_OK);
    assert_int_equal(st.approved + st.deployed + st.completed, 0);
    /* two approvals at registration, one by the policy */
    assert_int_equal(events_of(f->s, "model.approved", NULL, 0), 3);
    tsl_config_free(cfg);
}

static void test_notify_text(void **state) {
    (void)state;
    tsl_store_event e = {7, 0, "model.compared", "model:solar/4",
                         "{\"entry\":\"solar\",\"version\":4,\"champion_version\":3,"
                         "\"endpoint\":\"prod\",\"metric\":\"mase\",\"champion\":1.4,"
                         "\"challenger\":0.9,\"origins\":7,\"points\":168,\"items\":1,"
                         "\"margin\":0.05,\"better\":true,\"source\":\"shadow\","
                         "\"decision\":\"approved by policy auto\"}"};
    tsl_wbuf b;
    tsl_wbuf_init(&b);
    tsl_notify_render(&e, NULL, &b);
    const char *t = tsl_wbuf_cstr(&b);
    assert_non_null(strstr(t, "Challenger solar/4 beats the champion"));
    assert_non_null(strstr(t, "Scored in shadow on endpoint prod: the same forecasts at 7 "
                              "origins, 168 points"));
    assert_non_null(strstr(t, "Decision: approved by policy auto"));
    tsl_wbuf_reset(&b);
    tsl_store_event e2 = {8, 0, "model.shadow_started", "model:solar/4",
                          "{\"entry\":\"solar\",\"version\":4,\"endpoint\":\"prod\","
                          "\"champion_version\":3,\"windows\":7}"};
    tsl_notify_render(&e2, NULL, &b);
    t = tsl_wbuf_cstr(&b);
    assert_non_null(strstr(t, "Model solar/4 runs in shadow"));
    assert_non_null(strstr(t, "Beside: version 3"));
    assert_non_null(strstr(t, "Windows: 7"));
    tsl_wbuf_release(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_start_rules, tu_store_fx_setup, tu_store_fx_teardown),
        cmocka_unit_test_setup_teardown(test_completed_records_comparison, tu_store_fx_setup,
                                        tu_store_fx_teardown),
        cmocka_unit_test_setup_teardown(test_captures_kept_apart, tu_store_fx_setup,
                                        tu_store_fx_teardown),
        cmocka_unit_test(test_paired_comparison),
        cmocka_unit_test(test_config_compare_shadow),
        cmocka_unit_test(test_notify_text),
        cmocka_unit_test_setup_teardown(test_poll_decides_once, tu_store_fx_setup,
                                        tu_store_fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
