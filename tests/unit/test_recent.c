/*
 * test_recent.c - champion against challenger on recent ground truth (the compare step's
 * "recent" part, pipeline_recent.c) and the approval it drives, on a hand-made store: a
 * linear series y = 10 + t, a naive model trained and deployed, captured forecasts of it
 * written by hand, then a retraining. Every number is computed by hand below: the challenger
 * (naive, refitted at each origin) forecasts y[origin] for every step, the champion's
 * forecasts are the captured means. Also: a forecast captured twice counts once, captures with
 * no actual yet and items outside the data set are left out, `compare.windows` keeps the
 * latest origins, the auto policy approves by the margin on these numbers (and leaves the
 * version pending when the margin is not met), and the event model.compared; and a chosen
 * form the history before an origin refuses is searched again rather than left out.
 */
#include "testutil.h"

#include <math.h>
#include <string.h>

#include <jansson.h>

#include "tsloop/config.h"
#include "tsloop/ingest.h"
#include "tsloop/mem.h"
#include "tsloop/model.h"
#include "tsloop/pipeline.h"
#include "tsloop/store.h"

#define DAY0 1767225600LL /* 2026-01-01 */
#define DAY  86400LL

static const char config_text[] = "name: t\n"
                                  "datasets:\n"
                                  "  s: {frequency: D}\n"
                                  "forecasters:\n"
                                  "  f:\n"
                                  "    dataset: s\n"
                                  "    horizon: 3\n"
                                  "    candidates: [naive]\n"
                                  "    backtest_windows: 1\n"
                                  "    ensembles: false\n"
                                  "    approval: {policy: auto, margin: 0.1}\n"
                                  "    compare: {metric: mae}\n"
                                  "  g:\n"
                                  "    dataset: s\n"
                                  "    horizon: 3\n"
                                  "    candidates: [naive]\n"
                                  "    backtest_windows: 1\n"
                                  "    ensembles: false\n"
                                  "    approval: {policy: auto, margin: 0.1}\n"
                                  "    compare: {windows: 1, metric: mae}\n";

typedef struct fixture {
    char *dir;
    tsl_store *s;
    tsl_config *cfg;
} fixture;

static int setup(void **state) {
    fixture *f = tsl_calloc(1, sizeof *f);
    f->dir = tu_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/store.db", f->dir);
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_open(path, NULL, &f->s, &d)) fail_msg("open: %s", d.msg);
    if (tsl_config_parse(config_text, strlen(config_text), "tsloop.yaml", NULL, &f->cfg, &d))
        fail_msg("config: %s", d.msg);
    snprintf(path, sizeof path, "%s/s.csv", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("item_id,timestamp,target_value\n", fp);
    for (int t = 0; t < 20; t++) {
        char ts[40];
        tsl_time_format(DAY0 + t * DAY, 1, ts, sizeof ts);
        fprintf(fp, "a,%s,%d\n", ts, 10 + t);
    }
    fclose(fp);
    tsl_store_receipt r;
    if (tsl_ingest_file(f->s, tsl_config_dataset_find(f->cfg, "s"), path, NULL, &r, NULL, &d))
        fail_msg("ingest: %s", d.msg);
    tsl_store_receipt_release(&r);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    tsl_store_close(f->s);
    tsl_config_free(f->cfg);
    tu_rmtree(f->dir);
    tsl_free(f->dir);
    tsl_free(f);
    return 0;
}

/* Trains forecaster name to the end; returns the execution. */
static int64_t train(fixture *f, const char *name) {
    tsl_pipeline_opts o;
    memset(&o, 0, sizeof o);
    o.who = "test";
    o.threads = 1;
    int64_t id = 0;
    tsl_exec_outcome how;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_pipeline_request(f->s, f->cfg, name, "manual", NULL, &o, &id, &how, &d) ||
        tsl_pipeline_work(f->s, f->cfg, name, id, 0, &o, &d))
        fail_msg("train %s: %s", name, d.msg);
    tsl_store_exec e;
    assert_int_equal(tsl_store_exec_get(f->s, id, &e, &d), TSL_OK);
    if (e.status != TSL_EXEC_SUCCEEDED) fail_msg("execution %s: %s", name, e.reason);
    tsl_store_exec_release(&e);
    return id;
}

/* One capture of item at origin day `o` for the next three days, means m0..m2. */
static void capture(fixture *f, const char *endpoint, int64_t model_id, const char *item, int o,
                    double m0, double m1, double m2) {
    static int n;
    char iid[32];
    snprintf(iid, sizeof iid, "req-%d", ++n);
    int64_t targets[3] = {DAY0 + (o + 1) * DAY, DAY0 + (o + 2) * DAY, DAY0 + (o + 3) * DAY};
    double mean[3] = {m0, m1, m2};
    tsl_store_capture_new c;
    memset(&c, 0, sizeof c);
    c.inference_id = iid;
    c.endpoint = endpoint;
    c.model_id = model_id;
    c.item = item;
    c.origin = DAY0 + o * DAY;
    c.steps = 3;
    c.targets = targets;
    c.mean = mean;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_capture_add(f->s, &c, 1, &d)) fail_msg("capture: %s", d.msg);
}

/* Trains name, deploys it to endpoint and captures the hand-made forecasts. */
static void champion(fixture *f, const char *name, const char *endpoint) {
    train(f, name);
    tsl_store_deployment dp;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_deploy(f->s, endpoint, name, 1, 1, "test", "champion", &dp, &d))
        fail_msg("deploy: %s", d.msg);
    int64_t mid = dp.model_id;
    tsl_store_deployment_release(&dp);
    capture(f, endpoint, mid, "a", 14, 30, 30, 30); /* actuals 25 26 27: errors 5 4 3 */
    capture(f, endpoint, mid, "a", 16, 30, 30, 30); /* actuals 27 28 29: errors 3 2 1 */
    capture(f, endpoint, mid, "a", 16, 0, 0, 0);    /* the same forecast again: not counted */
    capture(f, endpoint, mid, "a", 19, 0, 0, 0);    /* no actual yet: not a window */
    capture(f, endpoint, mid, "zz", 16, 0, 0, 0);   /* not in the data set */
}

/* The compare step's "recent" object of execution id (a new reference). */
static json_t *recent_of(fixture *f, int64_t id) {
    char *out = NULL;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_store_step_output(f->s, id, "compare", &out, NULL, NULL, &d), TSL_OK);
    json_t *o = json_loads(out, 0, NULL);
    tsl_free(out);
    json_t *r =
        json_incref(json_object_get(json_array_get(json_object_get(o, "groups"), 0), "recent"));
    json_decref(o);
    assert_non_null(r);
    return r;
}

static void test_recent_approves_by_margin(void **state) {
    fixture *f = *state;
    champion(f, "f", "prod");
    int64_t id = train(f, "f");
    json_t *r = recent_of(f, id);
    assert_string_equal(json_string_value(json_object_get(r, "endpoint")), "prod");
    assert_int_equal(json_integer_value(json_object_get(r, "champion_version")), 1);
    assert_string_equal(json_string_value(json_object_get(r, "metric")), "mae");
    assert_int_equal(json_integer_value(json_object_get(r, "origins")), 2);
    assert_int_equal(json_integer_value(json_object_get(r, "forecasts")), 2);
    assert_int_equal(json_integer_value(json_object_get(r, "points")), 6);
    assert_int_equal(json_integer_value(json_object_get(r, "items")), 1);
    /* Champion: (5+4+3+3+2+1)/6 = 3. Challenger: naive at 14 says 24 (errors 1 2 3), at 16
     * says 26 (errors 1 2 3): 12/6 = 2. */
    tu_close(json_number_value(json_object_get(r, "champion")), 3.0, 1e-12, 0, "champion");
    tu_close(json_number_value(json_object_get(r, "challenger")), 2.0, 1e-12, 0, "challenger");
    assert_string_equal(json_string_value(json_object_get(r, "since")), "2026-01-15T00:00:00Z");
    json_decref(r);

    /* 2 <= (1 - 0.1) * 3: approved, on these numbers, and they are in its metrics. */
    tsl_store_model m;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_store_model_get(f->s, "f", 2, &m, &d), TSL_OK);
    assert_int_equal(m.status, TSL_MODEL_APPROVED);
    json_t *mj = json_loads(m.metrics, 0, NULL);
    tu_close(json_number_value(json_object_get(json_object_get(mj, "recent"), "champion")), 3.0,
             1e-12, 0, "stored champion");
    json_decref(mj);
    tsl_store_model_release(&m);
    tsl_store_audit *au = NULL;
    size_t na = 0;
    assert_int_equal(tsl_store_model_audit(f->s, "f", 2, &au, &na, &d), TSL_OK);
    assert_true(na >= 1);
    assert_non_null(strstr(au[0].why, "recent ground truth"));
    tsl_store_audit_list_free(au, na);

    tsl_store_event *ev = NULL;
    size_t n = 0, seen = 0;
    assert_int_equal(tsl_store_event_list(f->s, 0, 0, &ev, &n, &d), TSL_OK);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ev[i].type, "model.compared")) continue;
        seen++;
        assert_string_equal(ev[i].subject, "model:f/2");
        json_t *p = json_loads(ev[i].payload, 0, NULL);
        assert_string_equal(json_string_value(json_object_get(p, "entry")), "f");
        assert_int_equal(json_integer_value(json_object_get(p, "version")), 2);
        assert_int_equal(json_integer_value(json_object_get(p, "champion_version")), 1);
        tu_close(json_number_value(json_object_get(p, "champion")), 3.0, 1e-12, 0, "ev");
        tu_close(json_number_value(json_object_get(p, "challenger")), 2.0, 1e-12, 0, "ev");
        assert_int_equal(json_integer_value(json_object_get(p, "origins")), 2);
        assert_int_equal(json_integer_value(json_object_get(p, "points")), 6);
        tu_close(json_number_value(json_object_get(p, "margin")), 0.1, 0, 0, "margin");
        assert_true(json_is_true(json_object_get(p, "better")));
        json_decref(p);
    }
    tsl_store_event_list_free(ev, n);
    assert_int_equal(seen, 1); /* version 1 had no champion deployed: no comparison */
}

static void test_recent_windows_and_pending(void **state) {
    fixture *f = *state;
    champion(f, "g", "staging");
    int64_t id = train(f, "g");
    json_t *r = recent_of(f, id);
    /* windows: 1 keeps origin 16 alone (19 has no actual): champion 6/3 = 2, challenger
     * 6/3 = 2. */
    assert_int_equal(json_integer_value(json_object_get(r, "origins")), 1);
    assert_int_equal(json_integer_value(json_object_get(r, "points")), 3);
    tu_close(json_number_value(json_object_get(r, "champion")), 2.0, 1e-12, 0, "champion");
    tu_close(json_number_value(json_object_get(r, "challenger")), 2.0, 1e-12, 0, "challenger");
    json_decref(r);
    /* Not 10% better: pending, although its backtest ties the champion's. */
    tsl_store_model m;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_store_model_get(f->s, "g", 2, &m, &d), TSL_OK);
    assert_int_equal(m.status, TSL_MODEL_PENDING);
    tsl_store_model_release(&m);
}

static void test_no_captures_falls_back_to_backtest(void **state) {
    fixture *f = *state;
    train(f, "f");
    tsl_store_deployment dp;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_store_deploy(f->s, "prod", "f", 1, 1, "test", "x", &dp, &d), TSL_OK);
    tsl_store_deployment_release(&dp);
    int64_t id = train(f, "f");
    json_t *r = recent_of(f, id);
    assert_int_equal(json_integer_value(json_object_get(r, "origins")), 0);
    assert_true(json_is_null(json_object_get(r, "champion")));
    json_decref(r);
    /* The backtest decides: the same naive model ties, which is not better by 10%. */
    tsl_store_model m;
    assert_int_equal(tsl_store_model_get(f->s, "f", 2, &m, &d), TSL_OK);
    assert_int_equal(m.status, TSL_MODEL_PENDING);
    tsl_store_audit *au = NULL;
    size_t na = 0;
    assert_int_equal(tsl_store_model_audit(f->s, "f", 2, &au, &na, &d), TSL_OK);
    assert_null(strstr(au[0].why, "recent ground truth"));
    tsl_store_audit_list_free(au, na);
    tsl_store_model_release(&m);
}

/* A series AutoML models a multiplicative ETS error on (its last 1,000 values are positive)
 * while the whole history holds a zero: day t is 20 exp(t / 400) with lognormal noise, day 5
 * is 0. */
static double mult_value(int t) {
    static uint64_t x;
    if (t == 0) x = 12345;
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    double u1 = ((double)(x >> 11) + 0.5) / 9007199254740992.0;
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    double u2 = ((double)(x >> 11) + 0.5) / 9007199254740992.0;
    double z = sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
    return t == 5 ? 0.0 : 20 * exp(t / 400.0) * exp(0.3 * z);
}

/* The challenger's chosen form cannot always be refitted at a past origin: AutoML chose
 * ETS(M,...) on the last 1,000 values, and the history up to the origin holds a zero, which a
 * multiplicative error refuses. The refit then searches the forms again (as AutoML would have
 * on that history), so the item stays in the comparison rather than being left out. */
static void test_chosen_form_refused_searches_again(void **state) {
    fixture *f = *state;
    static const char text[] = "name: t\n"
                               "datasets:\n"
                               "  m: {frequency: D}\n"
                               "forecasters:\n"
                               "  e:\n"
                               "    dataset: m\n"
                               "    horizon: 3\n"
                               "    season_length: 1\n"
                               "    candidates: [ets]\n"
                               "    backtest_windows: 1\n"
                               "    ensembles: false\n"
                               "    approval: {policy: auto, margin: 0.5}\n"
                               "    compare: {windows: 2, metric: mae}\n";
    enum { N = 1100 };
    double y[N];
    tsl_diag d = {TSL_OK, {0}};
    tsl_config_free(f->cfg);
    f->cfg = NULL;
    if (tsl_config_parse(text, strlen(text), "tsloop.yaml", NULL, &f->cfg, &d))
        fail_msg("config: %s", d.msg);
    char path[4200];
    snprintf(path, sizeof path, "%s/m.csv", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("item_id,timestamp,target_value\n", fp);
    for (int t = 0; t < N; t++) {
        char ts[40];
        y[t] = mult_value(t);
        tsl_time_format(DAY0 + t * DAY, 1, ts, sizeof ts);
        fprintf(fp, "a,%s,%.17g\n", ts, y[t]);
    }
    fclose(fp);
    tsl_store_receipt rc;
    if (tsl_ingest_file(f->s, tsl_config_dataset_find(f->cfg, "m"), path, NULL, &rc, NULL, &d))
        fail_msg("ingest: %s", d.msg);
    tsl_store_receipt_release(&rc);

    /* the premises: a multiplicative error on the last 1,000 values, refused with the zero */
    tsl_model_spec spec, fixed;
    tsl_model *m = NULL, *no = NULL;
    assert_int_equal(tsl_model_spec_parse("ets", 1, &spec, &d), TSL_OK);
    if (tsl_model_fit(&spec, y + N - 1000, 1000, &m, &d)) fail_msg("fit: %s", d.msg);
    assert_true(!strncmp(tsl_model_name(m), "ETS(M,", 6));
    tsl_model_chosen_spec(m, &fixed);
    assert_int_not_equal(tsl_model_fit(&fixed, y, N - 10, &no, NULL), TSL_OK);
    assert_null(no);
    tsl_model_free(m);

    train(f, "e");
    tsl_store_deployment dp;
    if (tsl_store_deploy(f->s, "prod", "e", 1, 1, "test", "champion", &dp, &d))
        fail_msg("deploy: %s", d.msg);
    int64_t mid = dp.model_id;
    tsl_store_deployment_release(&dp);
    capture(f, "prod", mid, "a", N - 10, y[N - 10], y[N - 10], y[N - 10]);
    capture(f, "prod", mid, "a", N - 6, y[N - 6], y[N - 6], y[N - 6]);
    int64_t id = train(f, "e");
    json_t *r = recent_of(f, id);
    assert_int_equal(json_integer_value(json_object_get(r, "origins")), 2);
    assert_int_equal(json_integer_value(json_object_get(r, "forecasts")), 2);
    assert_int_equal(json_integer_value(json_object_get(r, "not_comparable")), 0);
    assert_int_equal(json_integer_value(json_object_get(r, "points")), 6);
    assert_true(isfinite(json_number_value(json_object_get(r, "challenger"))));
    json_decref(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_recent_approves_by_margin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recent_windows_and_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_captures_falls_back_to_backtest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chosen_form_refused_searches_again, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
