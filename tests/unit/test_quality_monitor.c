/*
 * test_quality_monitor.c - the data-quality checks of newly arrived data: each check on small
 * hand-computed spans (tsl_quality_arrival_run), then quality monitors through a real store:
 * datapoints per ingest, the dataset.quality event once per ingest and only when something was
 * found, re-evaluation doing nothing, an alarm after M of N bad ingests, the deployed version's
 * baseline (out of range, stale items, new items), and the monitor keys of tsloop.yaml.
 */
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"
#include "tsloop/baseline.h"
#include "tsloop/bundle.h"
#include "tsloop/config.h"
#include "tsloop/dataset.h"
#include "tsloop/mem.h"
#include "tsloop/monitor.h"
#include "tsloop/quality.h"
#include "tsloop/store.h"

#define DAY 86400

typedef tu_store_fx fixture;

static int setup(void **state) {
    return tu_store_fx_setup(state);
}

static int teardown(void **state) {
    return tu_store_fx_teardown(state);
}

static tsl_freq freq_of(const char *s) {
    tsl_freq f;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_freq_parse(s, &f, &d)) fail_msg("%s", d.msg);
    return f;
}

/* A baseline series whose deciles are 0, 1, ..., 10 (q10 = 1, q90 = 9). */
static void decile_series(tsl_baseline_series *s, const char *item) {
    memset(s, 0, sizeof *s);
    s->item_id = (char *)item;
    s->stats.n = s->stats.count = 11;
    for (int k = 0; k <= TSL_BASELINE_BUCKETS; k++) s->stats.deciles[k] = k;
    s->stats.min = 0;
    s->stats.max = 10;
}

/* The finding of check c for item (NULL: the whole ingest), or fails. */
static const tsl_quality_arrival_finding *finding(const tsl_quality_arrival_report *r,
                                                  tsl_quality_arrival_check c, const char *item) {
    for (size_t i = 0; i < r->nfindings; i++)
        if (r->findings[i].check == c &&
            (item ? r->findings[i].item_id && !strcmp(r->findings[i].item_id, item)
                  : !r->findings[i].item_id))
            return &r->findings[i];
    fail_msg("no %s finding for %s", tsl_quality_arrival_name(c), item ? item : "(all)");
    return NULL;
}

static int has_finding(const tsl_quality_arrival_report *r, tsl_quality_arrival_check c) {
    for (size_t i = 0; i < r->nfindings; i++)
        if (r->findings[i].check == c) return 1;
    return 0;
}

/*
 * Daily data, baseline of A, B and D (deciles 0..10: the robust range with k = 1.5 is
 * [min(0, 1 - 1.5 * 8), max(10, 9 + 1.5 * 8)] = [-11, 21]).
 *   A: last day 9; new days 10, 11, 13, 14 = 1, NaN, 3, 50: missing 1 of 4; out of range 1
 *      (50) of 3 finite; gaps: 5 steps from day 9 to 14, 4 present -> 1 absent.
 *   B: last day 9; new days 5 (a correction), 10, 11, 12 = 4, 7, 7, 7: late 1 of 4 (1
 *      corrected); the trailing run 7, 7, 7 reaches flat_points 3 -> flatline.
 *   C: new item, days 10, 11: unknown to the baseline; gaps: 2 expected, 2 present.
 *   D: in the baseline, nothing new -> stale.
 */
static void test_checks_hand_computed(void **state) {
    (void)state;
    tsl_baseline_series bs[3];
    decile_series(&bs[0], "A");
    decile_series(&bs[1], "B");
    decile_series(&bs[2], "D");
    tsl_baseline b = {freq_of("D"), 1, 3, bs, {0}};
    int64_t ta[] = {10 * DAY, 11 * DAY, 13 * DAY, 14 * DAY};
    double va[] = {1, NAN, 3, 50};
    int64_t tb[] = {5 * DAY, 10 * DAY, 11 * DAY, 12 * DAY};
    double vb[] = {4, 7, 7, 7};
    int64_t tc[] = {10 * DAY, 11 * DAY};
    double vc[] = {2, 3};
    tsl_quality_arrival_series s[] = {
        {"A", ta, va, 4, 9 * DAY, 0, 0},
        {"B", tb, vb, 4, 9 * DAY, 0, 1},
        {"C", tc, vc, 2, INT64_MIN, 10 * DAY, 0},
    };
    tsl_quality_arrival_opts o;
    tsl_quality_arrival_opts_init(&o);
    o.freq = freq_of("D");
    o.baseline = &b;
    o.flat_points = 3;
    o.non_negative = 1;
    o.negatives_rejected = 2;
    tsl_quality_arrival_report r;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_quality_arrival_run(s, 3, &o, &r, &d), TSL_OK);
    assert_int_equal(r.points, 10);
    assert_int_equal(r.items, 3);
    tu_close(r.value[TSL_QA_MISSING], 1.0 / 10, 0, 1e-15, "missing");
    tu_close(r.value[TSL_QA_NEGATIVE], 2.0 / 12, 0, 1e-15, "negative: 2 refused of 12 rows");
    tu_close(r.value[TSL_QA_OUT_OF_RANGE], 1.0 / 7, 0, 1e-15, "out of range: 1 of 7 finite");
    tu_close(r.value[TSL_QA_GAPS], 1.0 / 10, 0, 1e-15, "gaps: 1 of 5 + 3 + 2 steps");
    tu_close(r.value[TSL_QA_OFF_GRID], 0, 0, 0, "off grid");
    tu_close(r.value[TSL_QA_LATE], 1.0 / 10, 0, 1e-15, "late");
    tu_close(r.value[TSL_QA_STALE], 1.0 / 3, 0, 1e-15, "stale: D of A, B, D");
    tu_close(r.value[TSL_QA_NEW_ITEMS], 1.0 / 3, 0, 1e-15, "new: C of 3 items");
    tu_close(r.value[TSL_QA_FLATLINE], 1.0 / 3, 0, 1e-15, "flatline: B of 3 items");
    /* flagged (a warning or an error): A, B and the stale D, of A, B, C and D */
    tu_close(r.value[TSL_QA_FLAGGED], 3.0 / 4, 0, 1e-15, "flagged");
    assert_int_equal(r.worst, TSL_QUALITY_ERROR);

    const tsl_quality_arrival_finding *f = finding(&r, TSL_QA_MISSING, "A");
    assert_int_equal(f->count, 1);
    tu_close(f->value, 0.25, 0, 1e-15, "A missing share");
    assert_int_equal(f->severity, TSL_QUALITY_WARNING);
    f = finding(&r, TSL_QA_OUT_OF_RANGE, "A");
    assert_int_equal(f->count, 1);
    tu_close(f->value, 1.0 / 3, 0, 1e-15, "A out of range share");
    assert_non_null(strstr(f->description, "[-11, 21]"));
    f = finding(&r, TSL_QA_GAPS, "A");
    assert_int_equal(f->count, 1);
    tu_close(f->value, 0.2, 0, 1e-15, "A gap share");
    f = finding(&r, TSL_QA_LATE, "B");
    assert_int_equal(f->count, 1);
    assert_int_equal(f->severity, TSL_QUALITY_INFO);
    assert_non_null(strstr(f->description, "1 rewrote"));
    f = finding(&r, TSL_QA_FLATLINE, "B");
    assert_int_equal(f->count, 3);
    tu_close(f->value, 7, 0, 0, "the flat value");
    f = finding(&r, TSL_QA_STALE, "D");
    f = finding(&r, TSL_QA_NEW_ITEMS, "C");
    f = finding(&r, TSL_QA_NEGATIVE, NULL);
    assert_int_equal(f->count, 2);
    assert_int_equal(f->severity, TSL_QUALITY_ERROR);
    assert_false(has_finding(&r, TSL_QA_OFF_GRID));
    assert_int_equal(r.found[TSL_QA_MISSING], 1);
    tsl_quality_arrival_release(&r);

    /* flat_points 4: B's run of 3 is no longer a flat line */
    o.flat_points = 4;
    assert_int_equal(tsl_quality_arrival_run(s, 3, &o, &r, &d), TSL_OK);
    assert_false(has_finding(&r, TSL_QA_FLATLINE));
    tu_close(r.value[TSL_QA_FLATLINE], 0, 0, 0, "no flat line");
    tsl_quality_arrival_release(&r);

    /* without a baseline: no out_of_range or stale, new means new to the data set */
    o.baseline = NULL;
    o.non_negative = 0;
    assert_int_equal(tsl_quality_arrival_run(s, 3, &o, &r, &d), TSL_OK);
    assert_true(isnan(r.value[TSL_QA_OUT_OF_RANGE]));
    assert_true(isnan(r.value[TSL_QA_STALE]));
    assert_true(isnan(r.value[TSL_QA_NEGATIVE]));
    tu_close(r.value[TSL_QA_NEW_ITEMS], 1.0 / 3, 0, 1e-15, "C new to the data set");
    tsl_quality_arrival_release(&r);

    /* a data set's first delivery: every item new is not news */
    assert_int_equal(tsl_quality_arrival_run(&s[2], 1, &o, &r, &d), TSL_OK);
    tu_close(r.value[TSL_QA_NEW_ITEMS], 0, 0, 0, "first delivery");
    assert_int_equal(r.worst, 0);
    tsl_quality_arrival_release(&r);

    /* a bad option */
    o.range_factor = -1;
    assert_int_equal(tsl_quality_arrival_run(s, 3, &o, &r, &d), TSL_EINVAL);
}

/* Hourly data: a timestamp at :30 is off the grid of a series anchored at :00, and does not
 * count as present for the gaps check; max_listed bounds the findings per check. */
static void test_off_grid_and_listing(void **state) {
    (void)state;
    int64_t t1[] = {3 * 3600, 3 * 3600 + 1800, 4 * 3600};
    double v1[] = {1, 2, 3};
    int64_t t2[] = {3 * 3600};
    double v2[] = {NAN};
    int64_t t3[] = {3 * 3600, 4 * 3600};
    double v3[] = {NAN, NAN};
    tsl_quality_arrival_series s[] = {
        {"e", t1, v1, 3, 2 * 3600, 0, 0},
        {"f", t2, v2, 1, 2 * 3600, 0, 0},
        {"g", t3, v3, 2, 2 * 3600, 0, 0},
    };
    tsl_quality_arrival_opts o;
    tsl_quality_arrival_opts_init(&o);
    o.freq = freq_of("H");
    o.max_listed = 1;
    tsl_quality_arrival_report r;
    assert_int_equal(tsl_quality_arrival_run(s, 3, &o, &r, NULL), TSL_OK);
    tu_close(r.value[TSL_QA_OFF_GRID], 1.0 / 6, 0, 1e-15, "off grid: 1 of 6");
    const tsl_quality_arrival_finding *f = finding(&r, TSL_QA_OFF_GRID, "e");
    assert_int_equal(f->count, 1);
    tu_close(r.value[TSL_QA_GAPS], 0, 0, 0, "e: steps 2h->4h present; f, g present");
    /* missing: f 1 of 1 and g 2 of 2 both share 1; g's larger count ranks first, and only one
     * is listed */
    assert_int_equal(r.found[TSL_QA_MISSING], 2);
    size_t listed = 0;
    for (size_t i = 0; i < r.nfindings; i++) listed += r.findings[i].check == TSL_QA_MISSING;
    assert_int_equal(listed, 1);
    f = finding(&r, TSL_QA_MISSING, "g");
    assert_int_equal(f->count, 2);
    tu_close(r.value[TSL_QA_MISSING], 3.0 / 6, 0, 1e-15, "missing 3 of 6");
    tsl_quality_arrival_release(&r);
}

/* ---- through the store ---- */

static tsl_config_dataset sales_cfg;

/* A config with the data set "sales" (daily) and the given monitors (borrowed). */
static tsl_config cfg_of(tsl_config_monitor *m, size_t n) {
    tsl_config c;
    memset(&c, 0, sizeof c);
    memset(&sales_cfg, 0, sizeof sales_cfg);
    sales_cfg.name = "sales";
    sales_cfg.freq = freq_of("D");
    c.datasets = &sales_cfg;
    c.ndatasets = 1;
    c.monitors = m;
    c.nmonitors = n;
    return c;
}

/* A quality monitor on data set sales (endpoint NULL) or on an endpoint, alarming on check c,
 * M of N. */
static void qmonitor(tsl_config_monitor *m, const char *endpoint, tsl_quality_arrival_check c,
                     int periods, int datapoints) {
    memset(m, 0, sizeof *m);
    m->name = "q";
    m->kind = TSL_MONITOR_QUALITY;
    m->endpoint = (char *)endpoint;
    m->dataset = endpoint ? NULL : "sales";
    m->window = TSL_WINDOW_INGEST;
    m->check = c;
    m->range_factor = 1.5;
    m->flat_points = 3;
    m->max_listed = 20;
    m->policy.kind = TSL_THRESHOLD_FIXED;
    m->policy.factor = 1;
    m->actions = TSL_MONITOR_ACTION_NOTIFY;
    tsl_alarm_rule_init(&m->rule, 0, TSL_ALARM_GT, periods);
    m->rule.datapoints = datapoints;
}

static void follow(fixture *f, tsl_config *cfg) {
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_monitor_follow(f->s, cfg, 0, f->now, NULL, &d)) fail_msg("follow: %s", d.msg);
}

/* The datapoint (window, item, metric) of monitor q; NaN value with n = SIZE_MAX when absent. */
static tsl_store_datapoint dp(fixture *f, const char *win, const char *item, const char *metric) {
    tsl_store_datapoint_query q;
    tsl_store_datapoint *v = NULL;
    size_t n = 0;
    tsl_diag d = {TSL_OK, {0}};
    tsl_store_datapoint_query_init(&q);
    q.monitor = "q";
    q.window = win;
    q.item = item;
    q.metric = metric;
    assert_int_equal(tsl_store_datapoint_list(f->s, &q, &v, &n, &d), TSL_OK);
    tsl_store_datapoint out = {0};
    out.value = NAN;
    out.n = (uint64_t)-1;
    if (n == 1) {
        out = v[0];
        out.monitor = out.endpoint = out.window = out.item = out.metric = NULL;
    } else if (n > 1) {
        fail_msg("%zu datapoints for %s %s %s", n, win, item, metric);
    }
    tsl_store_datapoint_list_free(v, n);
    return out;
}

/* The dataset.quality events' payloads, parsed (a JSON array). */
static json_t *quality_events(fixture *f) {
    tsl_store_event *ev = NULL;
    size_t n = 0;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_store_event_list(f->s, 0, 0, &ev, &n, &d), TSL_OK);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        if (!strcmp(ev[i].type, "dataset.quality")) {
            assert_string_equal(ev[i].subject, "dataset:sales");
            json_array_append_new(a, json_loads(ev[i].payload, 0, NULL));
        }
    tsl_store_event_list_free(ev, n);
    return a;
}

/* History A, B days 0..9. */
static int64_t history(fixture *f) {
    const char *items[20];
    int days[20];
    double v[20];
    for (int i = 0; i < 10; i++) {
        items[i] = "A", days[i] = i, v[i] = i;
        items[10 + i] = "B", days[10 + i] = i, v[10 + i] = 2 * i;
    }
    return tu_store_fx_ingest(f, items, days, v, 20);
}

static void test_store_datapoints_event_alarm(void **state) {
    fixture *f = *state;
    tsl_config_monitor m;
    qmonitor(&m, NULL, TSL_QA_FLAGGED, 3, 2);
    tsl_config cfg = cfg_of(&m, 1);
    int64_t i1 = history(f);
    follow(f, &cfg);
    /* the data set's first delivery is clean: datapoints, no event */
    char w1[32];
    snprintf(w1, sizeof w1, "ingest:%lld", (long long)i1);
    tsl_store_datapoint p = dp(f, w1, "", "flagged");
    tu_close(p.value, 0, 0, 0, "first ingest flagged");
    assert_int_equal(p.window_start, f->now / 1000);
    json_t *ev = quality_events(f);
    assert_int_equal(json_array_size(ev), 0);
    json_decref(ev);

    /* A: days 10..14 with day 12 missing; B: 7, 7, 7 on days 10..12 (flat) */
    int64_t i2 = tu_store_fx_ingest(f, (const char *[]){"A", "A", "A", "A", "A", "B", "B", "B"},
                                    (int[]){10, 11, 12, 13, 14, 10, 11, 12},
                                    (double[]){10, 11, NAN, 13, 14, 7, 7, 7}, 8);
    f->now += 1000;
    follow(f, &cfg);
    char w2[32];
    snprintf(w2, sizeof w2, "ingest:%lld", (long long)i2);
    p = dp(f, w2, "", "missing");
    tu_close(p.value, 1.0 / 8, 0, 1e-15, "missing 1 of 8");
    assert_int_equal(p.n, 1);
    p = dp(f, w2, "A", "missing");
    tu_close(p.value, 1.0 / 5, 0, 1e-15, "A missing 1 of 5");
    p = dp(f, w2, "B", "flatline");
    tu_close(p.value, 1, 0, 0, "B flat");
    assert_int_equal(p.n, 3);
    p = dp(f, w2, "", "flatline");
    tu_close(p.value, 0.5, 0, 0, "1 of 2 items flat");
    p = dp(f, w2, "", "gaps");
    tu_close(p.value, 0, 0, 0, "no gaps");
    p = dp(f, w2, "", "flagged");
    tu_close(p.value, 1, 0, 0, "both items flagged");
    p = dp(f, w2, "A", "flatline");
    assert_true(p.n == (uint64_t)-1); /* items without a finding have no datapoint */
    p = dp(f, w2, "", "out_of_range");
    assert_true(p.n == (uint64_t)-1); /* no baseline: not applicable, not stored */

    ev = quality_events(f);
    assert_int_equal(json_array_size(ev), 1);
    json_t *e = json_array_get(ev, 0);
    assert_string_equal(json_string_value(json_object_get(e, "dataset")), "sales");
    assert_string_equal(json_string_value(json_object_get(e, "monitor")), "q");
    assert_int_equal(json_integer_value(json_object_get(e, "ingest_id")), i2);
    assert_int_equal(json_integer_value(json_object_get(e, "points")), 8);
    assert_int_equal(json_integer_value(json_object_get(e, "items")), 2);
    assert_string_equal(json_string_value(json_object_get(e, "worst")), "warning");
    tu_close(json_number_value(json_object_get(json_object_get(e, "checks"), "missing")), 0.125, 0,
             1e-15, "payload missing");
    json_t *viol = json_object_get(e, "violations");
    assert_int_equal(json_array_size(viol), 2);
    json_t *v0 = json_array_get(viol, 0);
    assert_string_equal(json_string_value(json_object_get(v0, "check")), "missing");
    assert_string_equal(json_string_value(json_object_get(v0, "item")), "A");
    assert_int_equal(json_integer_value(json_object_get(v0, "count")), 1);
    json_decref(ev);
    /* one bad ingest of the two: 1 of 2 real datapoints breach, 2 needed */
    assert_int_equal(tu_alarm_state(f->s, "q"), TSL_ALARM_OK);

    /* the report is recorded with its line for `tsloop ingest` */
    tsl_store_quality *q = NULL;
    size_t nq = 0;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_store_quality_list(f->s, i2, NULL, &q, &nq, &d), TSL_OK);
    assert_int_equal(nq, 1);
    assert_string_equal(q[0].worst, "warning");
    assert_non_null(strstr(q[0].summary, "flatline 50% (B)"));
    assert_non_null(strstr(q[0].summary, "missing 12.5% (A)"));
    assert_true(q[0].event_id > 0);
    tsl_store_quality_list_free(q, nq);

    /* re-evaluation (the cursor back at the start, and a direct call) adds nothing */
    assert_int_equal(tsl_store_cursor_set(f->s, TSL_MONITOR_CURSOR, 0, &d), TSL_OK);
    follow(f, &cfg);
    tsl_store_point *pts = NULL;
    size_t npts = 0;
    assert_int_equal(tsl_store_ingest_points(f->s, i2, &pts, &npts, &d), TSL_OK);
    assert_int_equal(npts, 8);
    assert_int_equal(tsl_monitor_quality(f->s, &cfg, &m, "sales", i2, pts, npts, f->now, NULL, &d),
                     TSL_OK);
    tsl_store_point_list_free(pts, npts);
    ev = quality_events(f);
    assert_int_equal(json_array_size(ev), 1);
    json_decref(ev);

    /* a clean ingest: new values, no gap; no event, flagged 0 */
    int64_t i3 =
        tu_store_fx_ingest(f, (const char *[]){"A", "B"}, (int[]){15, 13}, (double[]){15, 8}, 2);
    f->now += 1000;
    follow(f, &cfg);
    char w3[32];
    snprintf(w3, sizeof w3, "ingest:%lld", (long long)i3);
    p = dp(f, w3, "", "flagged");
    tu_close(p.value, 0, 0, 0, "clean ingest");
    ev = quality_events(f);
    assert_int_equal(json_array_size(ev), 1);
    json_decref(ev);
    assert_int_equal(tu_alarm_state(f->s, "q"), TSL_ALARM_OK);

    /* a second bad ingest (B skips day 14): 2 of the last 3 ingests breach -> ALARM */
    tu_store_fx_ingest(f, (const char *[]){"A", "B"}, (int[]){16, 15}, (double[]){16, 9}, 2);
    f->now += 1000;
    follow(f, &cfg);
    assert_int_equal(tu_alarm_state(f->s, "q"), TSL_ALARM_ALARM);
    ev = quality_events(f);
    assert_int_equal(json_array_size(ev), 2);
    e = json_array_get(ev, 1);
    v0 = json_array_get(json_object_get(e, "violations"), 0);
    assert_string_equal(json_string_value(json_object_get(v0, "check")), "gaps");
    assert_string_equal(json_string_value(json_object_get(v0, "item")), "B");
    json_decref(ev);
}

/* Registers version 1 of "fc" on sales whose bundle holds the baseline of the stored data,
 * and deploys it to prod. */
static void deploy_with_baseline(fixture *f) {
    tsl_diag d = {TSL_OK, {0}};
    tsl_dataset *ds = NULL;
    tsl_baseline *b = NULL;
    tsl_wbuf js, meta, blob;
    tsl_wbuf_init(&js);
    tsl_wbuf_init(&meta);
    tsl_wbuf_init(&blob);
    if (tsl_store_dataset_load(f->s, "sales", NULL, 0, 1, &ds, NULL, &d)) fail_msg("%s", d.msg);
    if (tsl_baseline_compute(ds, 1, &b, &d)) fail_msg("%s", d.msg);
    if (tsl_baseline_to_json(b, 0, &js, &d)) fail_msg("%s", d.msg);
    tsl_wbuf_printf(&meta, "{\"format\":1,\"baseline\":{\"statistics\":%s}}", tsl_wbuf_cstr(&js));
    tsl_bundle_builder *bb = tsl_bundle_builder_new();
    if (tsl_bundle_builder_meta(bb, tsl_wbuf_cstr(&meta), &d)) fail_msg("%s", d.msg);
    if (tsl_bundle_builder_write(bb, &blob, &d)) fail_msg("%s", d.msg);
    tsl_store_model_new m;
    memset(&m, 0, sizeof m);
    m.forecaster = "fc";
    m.dataset = "sales";
    m.artifact = blob.data;
    m.artifact_len = blob.len;
    m.status = TSL_MODEL_APPROVED;
    m.who = m.why = "test";
    int64_t id = 0;
    int version = 0;
    if (tsl_store_model_register(f->s, &m, &id, &version, &d)) fail_msg("%s", d.msg);
    if (tsl_store_deploy(f->s, "prod", "fc", version, 0, "t", "", NULL, &d)) fail_msg("%s", d.msg);
    tsl_bundle_builder_free(bb);
    tsl_baseline_free(b);
    tsl_dataset_free(ds);
    tsl_wbuf_release(&js);
    tsl_wbuf_release(&meta);
    tsl_wbuf_release(&blob);
}

/* On an endpoint: A's baseline (0..9) gives the range [min(0, 0.9 - 1.5 * 7.2),
 * max(9, 8.1 + 1.5 * 7.2)] = [-9.9, 18.9]; B's (0..18) [-19.8, 37.8]. */
static void test_endpoint_baseline(void **state) {
    fixture *f = *state;
    tsl_config_monitor m;
    qmonitor(&m, "prod", TSL_QA_OUT_OF_RANGE, 1, 1);
    tsl_config cfg = cfg_of(&m, 1);
    history(f);
    follow(f, &cfg); /* nothing deployed yet: nothing evaluated */
    deploy_with_baseline(f);
    /* A gets 18 (inside) and 19 (outside), C is new, B gets nothing */
    int64_t i2 = tu_store_fx_ingest(f, (const char *[]){"A", "A", "C"}, (int[]){10, 11, 10},
                                    (double[]){18, 19, 1}, 3);
    f->now += 1000;
    follow(f, &cfg);
    char w[32];
    snprintf(w, sizeof w, "ingest:%lld", (long long)i2);
    tsl_store_datapoint p = dp(f, w, "", "out_of_range");
    tu_close(p.value, 0.5, 0, 1e-15, "1 of A's 2 values");
    p = dp(f, w, "A", "out_of_range");
    tu_close(p.value, 0.5, 0, 1e-15, "A");
    p = dp(f, w, "", "stale");
    tu_close(p.value, 0.5, 0, 1e-15, "B of A, B");
    p = dp(f, w, "B", "stale");
    tu_close(p.value, 1, 0, 0, "B stale");
    p = dp(f, w, "", "new_items");
    tu_close(p.value, 0.5, 0, 1e-15, "C of A, C");
    assert_string_equal(tsl_monitor_metric_name(&m), "out_of_range");
    assert_int_equal(tu_alarm_state(f->s, "q"), TSL_ALARM_ALARM);
    json_t *ev = quality_events(f);
    assert_int_equal(json_array_size(ev), 1);
    json_t *e = json_array_get(ev, 0);
    assert_string_equal(json_string_value(json_object_get(e, "endpoint")), "prod");
    assert_int_equal(json_integer_value(json_object_get(e, "version")), 1);
    json_t *v0 = json_array_get(json_object_get(e, "violations"), 0);
    assert_string_equal(json_string_value(json_object_get(v0, "check")), "out_of_range");
    assert_non_null(
        strstr(json_string_value(json_object_get(v0, "description")), "outside [-9.9, 18.9]"));
    json_decref(ev);
}

/* ---- tsloop.yaml ---- */

#define HEAD "version: 1\nname: p\ndatasets:\n  sales: {frequency: D}\nmonitors:\n  m:\n"

static void test_config_quality(void **state) {
    (void)state;
    tsl_config *cfg = NULL;
    char msg[512];
    const char *ok = HEAD "    kind: quality\n"
                          "    endpoint: prod\n"
                          "    check: flatline\n"
                          "    threshold: 0.2\n"
                          "    quality: {range_factor: 3, flat_points: 24, max_listed: 5}\n"
                          "    evaluation_periods: 3\n"
                          "    datapoints_to_alarm: 2\n"
                          "  n:\n"
                          "    kind: quality\n"
                          "    dataset: sales\n"
                          "    threshold: param:q/max\n";
    if (tu_config_parse(ok, &cfg, msg, sizeof msg)) fail_msg("%s", msg);
    const tsl_config_monitor *m = tsl_config_monitor_find(cfg, "m");
    assert_int_equal(m->kind, TSL_MONITOR_QUALITY);
    assert_string_equal(m->endpoint, "prod");
    assert_int_equal(m->check, TSL_QA_FLATLINE);
    assert_int_equal(m->window, TSL_WINDOW_INGEST);
    tu_close(m->policy.value, 0.2, 0, 0, "threshold");
    tu_close(m->range_factor, 3, 0, 0, "range_factor");
    assert_int_equal(m->flat_points, 24);
    assert_int_equal(m->max_listed, 5);
    assert_int_equal(m->rule.op, TSL_ALARM_GT);
    assert_int_equal(m->rule.datapoints, 2);
    assert_string_equal(tsl_monitor_metric_name(m), "flatline");
    m = tsl_config_monitor_find(cfg, "n");
    assert_string_equal(m->dataset, "sales");
    assert_null(m->endpoint);
    assert_int_equal(m->check, TSL_QA_FLAGGED);
    tu_close(m->policy.value, 0, 0, 0, "default threshold");
    tu_close(m->range_factor, 1.5, 0, 0, "default range_factor");
    assert_int_equal(m->flat_points, 0);
    assert_string_equal(m->threshold_param, "q/max");
    tsl_config_free(cfg);

    static const tu_config_case bad[] = {
        {HEAD "    kind: quality\n",
         "monitors.m: neither endpoint nor dataset, expected either endpoint"},
        {HEAD "    kind: quality\n    endpoint: prod\n    dataset: sales\n",
         "t.yaml:9:14: monitors.m: both endpoint and dataset"},
        {HEAD "    kind: quality\n    dataset: nope\n",
         "t.yaml:8:14: monitors.m.dataset: 'nope' is not a dataset of this file"},
        {HEAD "    kind: quality\n    dataset: sales\n    check: spikes\n",
         "t.yaml:9:12: monitors.m.check: unknown quality check 'spikes', expected flagged"},
        {HEAD "    kind: quality\n    dataset: sales\n    threshold: {policy: baseline}\n",
         "monitors.m.threshold: a data-quality share has no backtest value to follow (policy "
         "baseline)"},
        {HEAD "    kind: quality\n    dataset: sales\n"
              "    threshold: {policy: best_approved, factor: 2}\n",
         "(policy best_approved), expected a number or param:KEY"},
        {HEAD "    kind: quality\n    dataset: sales\n    window: day\n",
         "t.yaml:9:13: monitors.m.window: not a setting of quality monitors"},
        {HEAD "    kind: quality\n    dataset: sales\n    item: A\n",
         "monitors.m.item: not a setting of quality monitors"},
        {HEAD "    kind: quality\n    dataset: sales\n    quality: {flat_points: 1}\n",
         "monitors.m.quality.flat_points: '1', expected an integer from 2 to 1000000"},
        {HEAD "    kind: quality\n    dataset: sales\n    quality: {range_factor: -1}\n",
         "monitors.m.quality.range_factor: -1, expected a number >= 0"},
        {HEAD "    kind: quality\n    dataset: sales\n    quality: {spike: 1}\n",
         "monitors.m.quality: unknown key 'spike', expected one of range_factor, flat_points, "
         "max_listed"},
        {HEAD "    kind: drift\n    endpoint: prod\n    check: missing\n",
         "monitors.m.check: not a setting of drift monitors"},
        {HEAD "    kind: audit\n    endpoint: prod\n",
         "expected accuracy, freshness, drift or quality"},
    };
    tu_config_refuses(bad, sizeof bad / sizeof bad[0]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checks_hand_computed),
        cmocka_unit_test(test_off_grid_and_listing),
        cmocka_unit_test_setup_teardown(test_store_datapoints_event_alarm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_endpoint_baseline, setup, teardown),
        cmocka_unit_test(test_config_quality),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
