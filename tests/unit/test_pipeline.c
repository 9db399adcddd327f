/*
 * test_pipeline.c - the training pipeline (pipeline.h) against a temporary store: a run from
 * request to registered version (steps, attempts, outputs, the bundle and its lineage, the
 * events); the one-active-one-queued rule; split_by groups registered separately; the auto
 * approval policy against the champion on the same windows; fatal failures that fail at once
 * (no data, a split_by dimension that does not exist, a data set the data-quality checks
 * refuse, whose report goes to the event log); the data baseline (baseline.h) on each version,
 * of its group's series only; and crash safety - a worker process killed with SIGKILL inside
 * compare resumes after automl without repeating it, one killed after registering but before
 * recording it does not register twice, one killed before the data changed cannot register a
 * baseline of other data - and stops, queued and running.
 */
#include "testutil.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "tsloop/baseline.h"
#include "tsloop/bundle.h"
#include "tsloop/config.h"
#include "tsloop/ingest.h"
#include "tsloop/mem.h"
#include "tsloop/pipeline.h"
#include "tsloop/store.h"

static const char config_text[] = "name: t\n"
                                  "datasets:\n"
                                  "  sales:\n"
                                  "    frequency: D\n"
                                  "    columns: {dimensions: [region]}\n"
                                  "  empty:\n"
                                  "    frequency: D\n"
                                  "  loose:\n"
                                  "    frequency: D\n"
                                  "  holes:\n"
                                  "    frequency: D\n"
                                  "forecasters:\n"
                                  "  daily:\n"
                                  "    dataset: sales\n"
                                  "    horizon: 7\n"
                                  "    candidates: [naive, snaive, theta]\n"
                                  "    backtest_windows: 2\n"
                                  "  regional:\n"
                                  "    dataset: sales\n"
                                  "    horizon: 7\n"
                                  "    candidates: [naive, snaive, theta]\n"
                                  "    backtest_windows: 2\n"
                                  "    split_by: [region]\n"
                                  "  auto0:\n"
                                  "    dataset: sales\n"
                                  "    horizon: 7\n"
                                  "    candidates: [naive, snaive]\n"
                                  "    approval: {policy: auto, margin: 0}\n"
                                  "  auto5:\n"
                                  "    dataset: sales\n"
                                  "    horizon: 7\n"
                                  "    candidates: [naive, snaive]\n"
                                  "    approval: {policy: auto, margin: 0.05}\n"
                                  "  nodata:\n"
                                  "    dataset: empty\n"
                                  "    horizon: 7\n"
                                  "  badsplit:\n"
                                  "    dataset: loose\n"
                                  "    horizon: 7\n"
                                  "    split_by: [store]\n"
                                  "  holey:\n"
                                  "    dataset: holes\n"
                                  "    horizon: 7\n";

typedef struct fixture {
    char *dir;
    char path[4096];
    tsl_store *s;
    tsl_config *cfg;
} fixture;

/* Writes the data set's CSV: 5 items in 2 regions, 100 days of weekly-seasonal values; shift
 * changes every value (for "the data changed"). */
static void write_data(const fixture *f, const char *name, double shift) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", f->dir, name);
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    fputs("item_id,timestamp,region,target_value\n", fp);
    static const char *const items[] = {"a", "b", "c", "d", "e"};
    unsigned seed = 7;
    for (int i = 0; i < 5; i++)
        for (int t = 0; t < 100; t++) {
            seed = seed * 1103515245u + 12345u;
            double noise = (double)(seed >> 16 & 0x7fff) / 32768.0;
            double y = 20 + 3 * i + 6 * (t % 7 == 5 || t % 7 == 6) + 0.05 * t + 2 * noise + shift;
            int64_t day = 1767225600 + (int64_t)t * 86400; /* 2026-01-01 */
            char ts[40];
            tsl_time_format(day, 1, ts, sizeof ts);
            fprintf(fp, "%s,%s,%s,%.3f\n", items[i], ts, i < 2 ? "east" : "west", y);
        }
    fclose(fp);
}

static void ingest_into(const fixture *f, const char *name, const char *dataset) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", f->dir, name);
    tsl_store_receipt r;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_ingest_file(f->s, tsl_config_dataset_find(f->cfg, dataset), p, NULL, &r, NULL, &d))
        fail_msg("ingest: %s", d.msg);
    tsl_store_receipt_release(&r);
}

static void ingest(const fixture *f, const char *name) {
    ingest_into(f, name, "sales");
}

static int setup(void **state) {
    fixture *f = tsl_calloc(1, sizeof *f);
    f->dir = tu_tmpdir();
    snprintf(f->path, sizeof f->path, "%s/store.db", f->dir);
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_open(f->path, NULL, &f->s, &d)) fail_msg("%s", d.msg);
    if (tsl_config_parse(config_text, strlen(config_text), "tsloop.yaml", NULL, &f->cfg, &d))
        fail_msg("%s", d.msg);
    write_data(f, "sales.csv", 0);
    ingest(f, "sales.csv");
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

/* Options of a quiet single-threaded worker whose retries come fast. */
static tsl_pipeline_opts opts(void) {
    tsl_pipeline_opts o;
    memset(&o, 0, sizeof o);
    o.who = "tester";
    o.threads = 1;
    o.poll_ms = 20;
    o.heartbeat_ms = 200;
    o.retry.first_delay_ms = 10;
    o.retry.max_attempts = 3;
    return o;
}

static int64_t request(const fixture *f, const char *forecaster, tsl_exec_outcome want) {
    tsl_pipeline_opts o = opts();
    int64_t id = 0;
    tsl_exec_outcome how;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_pipeline_request(f->s, f->cfg, forecaster, "manual", NULL, &o, &id, &how, &d))
        fail_msg("request %s: %s", forecaster, d.msg);
    if (how != want) fail_msg("request %s: outcome %d, expected %d", forecaster, how, want);
    return id;
}

static void work(tsl_store *s, const tsl_config *cfg, const char *forecaster, int64_t id) {
    tsl_pipeline_opts o = opts();
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_pipeline_work(s, cfg, forecaster, id, 0, &o, &d)) fail_msg("work: %s", d.msg);
}

static tsl_store_exec get(tsl_store *s, int64_t id) {
    tsl_store_exec e;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_exec_get(s, id, &e, &d)) fail_msg("get: %s", d.msg);
    return e;
}

static const tsl_store_step *step_of(const tsl_store_exec *e, const char *name) {
    for (size_t i = 0; i < e->nsteps; i++)
        if (!strcmp(e->steps[i].name, name)) return &e->steps[i];
    return NULL;
}

static json_t *output(tsl_store *s, int64_t id, const char *step) {
    char *text = NULL;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_step_output(s, id, step, &text, NULL, NULL, &d)) fail_msg("%s", d.msg);
    json_t *j = json_loads(text, 0, NULL);
    tsl_free(text);
    assert_non_null(j);
    return j;
}

static size_t count_versions(tsl_store *s, const char *entry) {
    tsl_store_model *list = NULL;
    size_t n = 0;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_store_model_list(s, entry, &list, &n, &d), TSL_OK);
    tsl_store_model_list_free(list, n);
    return n;
}

static size_t count_events(tsl_store *s, const char *type) {
    tsl_store_event *ev = NULL;
    size_t n = 0, k = 0;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_store_event_list(s, 0, 0, &ev, &n, &d), TSL_OK);
    for (size_t i = 0; i < n; i++) k += !strcmp(ev[i].type, type);
    tsl_store_event_list_free(ev, n);
    return k;
}

/* The data baseline in a version's bundle metadata, read back with baseline.h (nseries
 * series). */
static tsl_baseline *version_baseline(const json_t *meta, size_t nseries) {
    json_t *stats = json_object_get(json_object_get(meta, "baseline"), "statistics");
    assert_true(json_is_object(stats));
    char *text = json_dumps(stats, JSON_COMPACT);
    tsl_baseline *b = NULL;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_baseline_from_json(text, strlen(text), &b, &d)) fail_msg("baseline: %s", d.msg);
    free(text);
    assert_int_equal(b->nseries, nseries);
    return b;
}

static void test_run(void **state) {
    fixture *f = *state;
    int64_t id = request(f, "daily", TSL_EXEC_NEW);
    work(f->s, f->cfg, "daily", id);
    tsl_store_exec e = get(f->s, id);
    assert_int_equal(e.status, TSL_EXEC_SUCCEEDED);
    assert_int_equal(e.nsteps, TSL_PIPELINE_NSTEPS);
    for (size_t k = 0; k < TSL_PIPELINE_NSTEPS; k++) {
        assert_string_equal(e.steps[k].name, tsl_pipeline_steps[k]);
        assert_int_equal(e.steps[k].status, TSL_STEP_SUCCEEDED);
        assert_int_equal(e.steps[k].nattempts, 1);
    }
    assert_true(step_of(&e, "automl")->output_blob_len > 0);
    assert_true(step_of(&e, "baseline")->output_blob_len > 0);
    tsl_store_exec_release(&e);
    /* validate's output is the data-quality report (quality.h) with the snapshot's hash. */
    json_t *v = output(f->s, id, "validate");
    assert_true(json_is_array(json_object_get(v, "violations")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(v, "summary"), "status")),
                        "passed");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(v, "summary"), "series")),
                     5);
    assert_int_equal(json_string_length(json_object_get(v, "dataset_hash")), TSL_STORE_HASH_HEX);
    json_decref(v);
    json_t *bo = output(f->s, id, "baseline");
    assert_int_equal(json_integer_value(json_object_get(bo, "series")), 5);
    assert_int_equal(json_integer_value(json_object_get(bo, "observed")), 500);
    json_decref(bo);

    /* The version: pending (manual policy), lineage, metrics and choices. */
    tsl_store_model m;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_store_model_get(f->s, "daily", 1, &m, &d), TSL_OK);
    assert_int_equal(m.status, TSL_MODEL_PENDING);
    assert_int_equal(m.execution_id, id);
    tsl_store_dataset ds;
    assert_int_equal(tsl_store_dataset_get(f->s, "sales", &ds, &d), TSL_OK);
    assert_string_equal(m.dataset, "sales");
    assert_string_equal(m.dataset_hash, ds.hash);
    char fhash[TSL_CONFIG_HASH_HEX + 1];
    tsl_config_forecaster_hash(f->cfg, tsl_config_forecaster_find(f->cfg, "daily"), fhash);
    assert_string_equal(m.config_hash, fhash);
    json_t *metrics = json_loads(m.metrics, 0, NULL), *choices = json_loads(m.choices, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(metrics, "forecaster")), "daily");
    assert_string_equal(json_string_value(json_object_get(metrics, "metric")), "mase");
    assert_true(json_is_number(json_object_get(metrics, "score")));
    assert_int_equal(json_integer_value(json_object_get(metrics, "series")), 5);
    assert_true(json_is_null(json_object_get(metrics, "champion")));
    assert_int_equal(json_object_size(json_object_get(choices, "items")), 5);
    json_t *a = json_object_get(json_object_get(choices, "items"), "a");
    assert_non_null(json_string_value(json_object_get(a, "choice")));
    assert_non_null(json_string_value(json_object_get(a, "reason")));
    json_decref(metrics);
    json_decref(choices);

    /* The artifact: a bundle of every item's model, loadable and forecasting. */
    void *blob = NULL;
    size_t len = 0;
    assert_int_equal(tsl_store_model_artifact(f->s, "daily", 1, &blob, &len, &d), TSL_OK);
    tsl_bundle *b = NULL;
    assert_int_equal(tsl_bundle_adopt(blob, len, &b, &d), TSL_OK);
    assert_int_equal(tsl_bundle_count(b), 5);
    json_t *meta = json_loads(tsl_bundle_meta(b), 0, NULL);
    assert_string_equal(json_string_value(json_object_get(meta, "dataset_hash")), ds.hash);
    assert_int_equal(json_integer_value(json_object_get(meta, "execution")), id);
    /* Its data baseline: baseline.h's statistics document, readable back, and the constraints. */
    tsl_baseline *base = version_baseline(meta, 5);
    const tsl_baseline_stats *bs = &base->series[tsl_baseline_find(base, "c")].stats;
    assert_int_equal(bs->count, 100);
    assert_true(bs->mean > 20 && bs->sd > 0);
    assert_int_equal(base->period, 7);
    assert_non_null(bs->profile);
    tsl_baseline_free(base);
    json_t *cons = json_object_get(json_object_get(meta, "baseline"), "constraints");
    assert_string_equal(json_string_value(json_object_get(cons, "kind")),
                        "tsloop.baseline.constraints");
    assert_int_equal(json_array_size(json_object_get(cons, "series")), 5);
    json_decref(meta);
    tsl_model *model = NULL;
    assert_int_equal(tsl_bundle_load(b, (size_t)tsl_bundle_find(b, "c"), &model, &d), TSL_OK);
    double fc[7];
    assert_int_equal(tsl_model_forecast(model, 7, NULL, 0, fc, NULL, &d), TSL_OK);
    for (int i = 0; i < 7; i++) assert_true(fc[i] > 10 && fc[i] < 60);
    tsl_model_free(model);
    tsl_bundle_free(b);
    tsl_store_dataset_release(&ds);
    tsl_store_model_release(&m);

    assert_int_equal(count_events(f->s, "dataset.validated"), 1);
    assert_int_equal(count_events(f->s, "model.registered"), 1);
    /* Nothing left to run. */
    work(f->s, f->cfg, NULL, 0);
    assert_int_equal(count_versions(f->s, "daily"), 1);
}

static void test_one_active_queued_once(void **state) {
    fixture *f = *state;
    int64_t first = request(f, "daily", TSL_EXEC_NEW);
    /* Another worker holds it (a handle of "another host", so never found dead). */
    tsl_store *other = NULL;
    tsl_store_opts so;
    memset(&so, 0, sizeof so);
    so.host = "elsewhere";
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_store_open(f->path, &so, &other, &d), TSL_OK);
    tsl_store_exec e;
    int claimed = 0;
    assert_int_equal(tsl_store_exec_claim(other, "daily", &e, &claimed, &d), TSL_OK);
    assert_true(claimed);
    assert_int_equal(e.id, first);
    tsl_store_exec_release(&e);
    int64_t second = request(f, "daily", TSL_EXEC_BEHIND);
    int64_t third = request(f, "daily", TSL_EXEC_MERGED);
    assert_int_equal(second, third);
    /* Nothing for this worker to do while the other holds the active one. */
    tsl_pipeline_opts o = opts();
    assert_int_equal(tsl_pipeline_work(f->s, f->cfg, "daily", 0, 0, &o, &d), TSL_OK);
    e = get(f->s, second);
    assert_int_equal(e.status, TSL_EXEC_QUEUED);
    assert_int_equal(e.requests, 2);
    tsl_store_exec_release(&e);
    /* The other worker gives up; the queued one then runs here, once. */
    assert_int_equal(tsl_store_exec_finish(other, first, TSL_EXEC_FAILED, "gave up", &d), TSL_OK);
    work(f->s, f->cfg, "daily", second);
    e = get(f->s, second);
    assert_int_equal(e.status, TSL_EXEC_SUCCEEDED);
    tsl_store_exec_release(&e);
    assert_int_equal(count_versions(f->s, "daily"), 1);
    tsl_store_close(other);
}

static void test_split_by(void **state) {
    fixture *f = *state;
    int64_t id = request(f, "regional", TSL_EXEC_NEW);
    work(f->s, f->cfg, "regional", id);
    tsl_store_exec e = get(f->s, id);
    assert_int_equal(e.status, TSL_EXEC_SUCCEEDED);
    tsl_store_exec_release(&e);
    assert_int_equal(count_versions(f->s, "regional"), 0);
    static const char *const entries[] = {"regional.east", "regional.west"};
    static const size_t nitems[] = {2, 3};
    for (int g = 0; g < 2; g++) {
        assert_int_equal(count_versions(f->s, entries[g]), 1);
        void *blob = NULL;
        size_t len = 0;
        tsl_diag d = {TSL_OK, {0}};
        assert_int_equal(tsl_store_model_artifact(f->s, entries[g], 1, &blob, &len, &d), TSL_OK);
        tsl_bundle *b = NULL;
        assert_int_equal(tsl_bundle_adopt(blob, len, &b, &d), TSL_OK);
        assert_int_equal(tsl_bundle_count(b), nitems[g]);
        tsl_bundle_entry be;
        tsl_bundle_entry_at(b, 0, &be);
        assert_string_equal(be.group, g ? "[\"west\"]" : "[\"east\"]");
        /* The group's baseline describes its own series, and only them. */
        json_t *meta = json_loads(tsl_bundle_meta(b), 0, NULL);
        tsl_baseline *base = version_baseline(meta, nitems[g]);
        for (size_t k = 0; k < nitems[g]; k++) {
            tsl_bundle_entry_at(b, k, &be);
            assert_true(tsl_baseline_find(base, be.item_id) >= 0);
        }
        assert_int_equal(base->overall.count, 100 * nitems[g]);
        tsl_baseline_free(base);
        json_decref(meta);
        tsl_bundle_free(b);
        tsl_store_model m;
        assert_int_equal(tsl_store_model_get(f->s, entries[g], 1, &m, &d), TSL_OK);
        json_t *metrics = json_loads(m.metrics, 0, NULL);
        assert_string_equal(json_string_value(json_object_get(metrics, "forecaster")), "regional");
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(metrics, "group"), "region")),
            g ? "west" : "east");
        json_decref(metrics);
        tsl_store_model_release(&m);
    }
    json_t *reg = output(f->s, id, "register");
    assert_int_equal(json_array_size(json_object_get(reg, "versions")), 2);
    json_decref(reg);
}

/* The status of version v of entry. */
static tsl_model_status status_of(tsl_store *s, const char *entry, int v) {
    tsl_store_model m;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_store_model_get(s, entry, v, &m, &d), TSL_OK);
    tsl_model_status st = m.status;
    tsl_store_model_release(&m);
    return st;
}

static void test_auto_policy(void **state) {
    fixture *f = *state;
    /* No champion: approved. */
    work(f->s, f->cfg, "auto0", request(f, "auto0", TSL_EXEC_NEW));
    work(f->s, f->cfg, "auto5", request(f, "auto5", TSL_EXEC_NEW));
    assert_int_equal(status_of(f->s, "auto0", 1), TSL_MODEL_APPROVED);
    assert_int_equal(status_of(f->s, "auto5", 1), TSL_MODEL_APPROVED);
    /* Same data again: the same choices score the same on the same windows. */
    int64_t id0 = request(f, "auto0", TSL_EXEC_NEW);
    work(f->s, f->cfg, "auto0", id0);
    int64_t id5 = request(f, "auto5", TSL_EXEC_NEW);
    work(f->s, f->cfg, "auto5", id5);
    json_t *cmp = output(f->s, id0, "compare");
    json_t *ch = json_object_get(json_array_get(json_object_get(cmp, "groups"), 0), "champion");
    assert_int_equal(json_integer_value(json_object_get(ch, "version")), 1);
    assert_int_equal(json_integer_value(json_object_get(ch, "compared_series")), 5);
    assert_int_equal(json_integer_value(json_object_get(ch, "refit_series")), 0);
    double cs = json_number_value(json_object_get(ch, "score"));
    double as = json_number_value(json_object_get(ch, "challenger_score"));
    assert_true(isfinite(cs) && cs > 0);
    tu_close(as, cs, 1e-12, 0, "equal data, equal choices, equal scores");
    json_decref(cmp);
    /* Margin 0: not worse is enough. Margin 5%: it must be 5% better, and is not. */
    assert_int_equal(status_of(f->s, "auto0", 2), TSL_MODEL_APPROVED);
    assert_int_equal(status_of(f->s, "auto5", 2), TSL_MODEL_PENDING);
    tsl_store_audit *audit = NULL;
    size_t n = 0;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_store_model_audit(f->s, "auto5", 2, &audit, &n, &d), TSL_OK);
    assert_int_equal(n, 1);
    assert_string_equal(audit[0].who, "tester");
    assert_non_null(strstr(audit[0].why, "margin 5.0%: awaits manual approval"));
    tsl_store_audit_list_free(audit, n);
}

static void test_fatal_failures(void **state) {
    fixture *f = *state;
    int64_t id = request(f, "nodata", TSL_EXEC_NEW);
    work(f->s, f->cfg, "nodata", id);
    tsl_store_exec e = get(f->s, id);
    assert_int_equal(e.status, TSL_EXEC_FAILED);
    assert_non_null(strstr(e.reason, "step 'validate' failed after 1 attempt"));
    assert_non_null(strstr(e.reason, "data set 'empty' has no observations yet"));
    assert_int_equal(e.nsteps, 1);
    tsl_store_exec_release(&e);

    ingest_into(f, "sales.csv", "loose"); /* dimensions not declared: region comes with it */
    id = request(f, "badsplit", TSL_EXEC_NEW);
    work(f->s, f->cfg, "badsplit", id);
    e = get(f->s, id);
    assert_int_equal(e.status, TSL_EXEC_FAILED);
    assert_non_null(strstr(e.reason, "step 'validate' failed after 1 attempt: data set 'loose': "
                                     "data quality check failed"));
    assert_non_null(strstr(e.reason, "split_by column \"store\" is not in the data"));
    tsl_store_exec_release(&e);

    /* A forecaster that left tsloop.yaml: its execution fails saying so. */
    static const char other_text[] = "name: t\ndatasets: {sales: {frequency: D}}\n";
    tsl_config *other = NULL;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_config_parse(other_text, strlen(other_text), "x.yaml", NULL, &other, &d),
                     TSL_OK);
    id = request(f, "daily", TSL_EXEC_NEW);
    work(f->s, other, NULL, id);
    e = get(f->s, id);
    assert_int_equal(e.status, TSL_EXEC_FAILED);
    assert_non_null(strstr(e.reason, "forecaster 'daily' is not declared in tsloop.yaml"));
    tsl_store_exec_release(&e);
    tsl_config_free(other);
    tsl_pipeline_opts o = opts();
    int64_t none = 0;
    tsl_exec_outcome how;
    assert_int_equal(
        tsl_pipeline_request(f->s, f->cfg, "nope", "manual", NULL, &o, &none, &how, &d),
        TSL_EINVAL);
    assert_non_null(strstr(d.msg, "no forecaster 'nope' in tsloop.yaml, expected one of: daily"));
}

/* The last event of type, its payload parsed. */
static json_t *last_event(tsl_store *s, const char *type) {
    tsl_store_event *ev = NULL;
    size_t n = 0;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_store_event_list(s, 0, 0, &ev, &n, &d), TSL_OK);
    json_t *j = NULL;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(ev[i].type, type)) {
            json_decref(j);
            j = json_loads(ev[i].payload, 0, NULL);
        }
    tsl_store_event_list_free(ev, n);
    assert_non_null(j);
    return j;
}

/* A data set the data-quality checks refuse - a series three quarters missing - fails the
 * execution at validate, at once, with the report's reason; the report is in the event log. */
static void test_quality_failure(void **state) {
    fixture *f = *state;
    char p[4200];
    snprintf(p, sizeof p, "%s/holes.csv", f->dir);
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    fputs("item_id,timestamp,target_value\n", fp);
    for (int t = 0; t < 100; t++) {
        char ts[40];
        tsl_time_format(1767225600 + (int64_t)t * 86400, 1, ts, sizeof ts);
        fprintf(fp, "full,%s,%d\n", ts, 10 + t % 7);
        if (t % 4 == 0) fprintf(fp, "sparse,%s,%d\n", ts, 10 + t % 7);
    }
    fclose(fp);
    ingest_into(f, "holes.csv", "holes");
    int64_t id = request(f, "holey", TSL_EXEC_NEW);
    work(f->s, f->cfg, "holey", id);
    tsl_store_exec e = get(f->s, id);
    assert_int_equal(e.status, TSL_EXEC_FAILED);
    assert_int_equal(e.nsteps, 1);
    assert_int_equal(e.steps[0].nattempts, 1);
    assert_non_null(strstr(e.reason, "step 'validate' failed after 1 attempt: data set 'holes': "
                                     "data quality check failed: 1 error"));
    assert_non_null(strstr(e.reason, "completeness_check"));
    assert_non_null(strstr(e.reason, "\"sparse\""));
    tsl_store_exec_release(&e);
    assert_int_equal(count_versions(f->s, "holey"), 0);
    assert_int_equal(count_events(f->s, "dataset.validated"), 0);
    json_t *ev = last_event(f->s, "dataset.validation_failed");
    assert_int_equal(json_integer_value(json_object_get(ev, "execution")), id);
    assert_int_equal(json_integer_value(json_object_get(ev, "errors")), 1);
    json_t *viol = json_array_get(json_object_get(json_object_get(ev, "report"), "violations"), 0);
    assert_string_equal(json_string_value(json_object_get(viol, "constraint_check_type")),
                        "completeness_check");
    assert_string_equal(json_string_value(json_object_get(viol, "item_id")), "sparse");
    assert_string_equal(json_string_value(json_object_get(viol, "severity")), "error");
    assert_true(fabs(json_number_value(json_object_get(viol, "value")) - 72.0 / 97.0) < 1e-12);
    json_decref(ev);
}

/* Runs forecaster's execution id in a child process that sleeps inside `step` (after its
 * work), kills it with SIGKILL once that step's attempt is recorded as running, and returns. */
static void run_and_kill(const fixture *f, const char *forecaster, int64_t id, const char *step) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        tsl_store *s = NULL;
        tsl_diag d = {TSL_OK, {0}};
        if (tsl_store_open(f->path, NULL, &s, &d)) _exit(3);
        tsl_pipeline_opts o = opts();
        o.delay_step = step;
        o.delay_ms = 60000;
        tsl_pipeline_work(s, f->cfg, forecaster, id, 0, &o, &d);
        _exit(4); /* never reached before the kill */
    }
    for (int i = 0; i < 3000; i++) {
        tsl_store_exec e = get(f->s, id);
        const tsl_store_step *st = step_of(&e, step);
        int running = st && st->status == TSL_STEP_RUNNING;
        tsl_store_exec_release(&e);
        if (running) break;
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    /* The step's work is done and its output not yet recorded: wait a moment into the sleep. */
    struct timespec ts = {0, 300000000};
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

static void test_crash_resumes(void **state) {
    fixture *f = *state;
    int64_t id = request(f, "daily", TSL_EXEC_NEW);
    run_and_kill(f, "daily", id, "compare");
    tsl_store_exec e = get(f->s, id);
    assert_int_equal(e.status, TSL_EXEC_EXECUTING);
    assert_true(e.owner_dead);
    assert_int_equal(step_of(&e, "automl")->status, TSL_STEP_SUCCEEDED);
    tsl_store_exec_release(&e);
    work(f->s, f->cfg, "daily", id);
    e = get(f->s, id);
    assert_int_equal(e.status, TSL_EXEC_SUCCEEDED);
    assert_int_equal(e.recoveries, 1);
    assert_int_equal(step_of(&e, "validate")->nattempts, 1);
    assert_int_equal(step_of(&e, "automl")->nattempts, 1); /* not repeated */
    const tsl_store_step *cmp = step_of(&e, "compare");
    assert_int_equal(cmp->nattempts, 2);
    assert_int_equal(cmp->attempts[0].status, TSL_STEP_FAILED);
    assert_non_null(strstr(cmp->attempts[0].error, "died during attempt 1"));
    tsl_store_exec_release(&e);
    assert_int_equal(count_versions(f->s, "daily"), 1);
    assert_int_equal(count_events(f->s, "execution.recovered"), 1);
}

static void test_crash_in_register(void **state) {
    fixture *f = *state;
    int64_t id = request(f, "regional", TSL_EXEC_NEW);
    /* Killed after registering every group, before the step's end was recorded. */
    run_and_kill(f, "regional", id, "register");
    assert_int_equal(count_versions(f->s, "regional.east"), 1);
    work(f->s, f->cfg, "regional", id);
    tsl_store_exec e = get(f->s, id);
    assert_int_equal(e.status, TSL_EXEC_SUCCEEDED);
    assert_int_equal(step_of(&e, "register")->nattempts, 2);
    tsl_store_exec_release(&e);
    /* Not registered twice: the second attempt took the first one's versions. */
    assert_int_equal(count_versions(f->s, "regional.east"), 1);
    assert_int_equal(count_versions(f->s, "regional.west"), 1);
    json_t *reg = output(f->s, id, "register");
    json_t *v = json_array_get(json_object_get(reg, "versions"), 0);
    assert_true(json_is_true(json_object_get(v, "reused")));
    json_decref(reg);
}

static void test_data_changed_before_resume(void **state) {
    fixture *f = *state;
    int64_t id = request(f, "daily", TSL_EXEC_NEW);
    run_and_kill(f, "daily", id, "compare");
    write_data(f, "changed.csv", 0.5);
    ingest(f, "changed.csv");
    work(f->s, f->cfg, "daily", id);
    tsl_store_exec e = get(f->s, id);
    assert_int_equal(e.status, TSL_EXEC_FAILED);
    assert_non_null(strstr(e.reason, "step 'baseline' failed after 1 attempt"));
    assert_non_null(strstr(e.reason, "changed since the models were trained"));
    tsl_store_exec_release(&e);
    assert_int_equal(count_versions(f->s, "daily"), 0);
}

static void test_stops(void **state) {
    fixture *f = *state;
    /* Queued: stops at once. */
    int64_t id = request(f, "daily", TSL_EXEC_NEW);
    tsl_exec_status st;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_store_exec_stop(f->s, id, "tester", "changed my mind", &st, &d), TSL_OK);
    assert_int_equal(st, TSL_EXEC_STOPPED);
    /* Running: stops at the next step boundary. */
    id = request(f, "daily", TSL_EXEC_NEW);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        tsl_store *s = NULL;
        if (tsl_store_open(f->path, NULL, &s, &d)) _exit(3);
        tsl_pipeline_opts o = opts();
        o.delay_step = "automl";
        o.delay_ms = 1500;
        _exit(tsl_pipeline_work(s, f->cfg, "daily", id, 0, &o, &d) ? 1 : 0);
    }
    for (int i = 0; i < 3000; i++) {
        tsl_store_exec e = get(f->s, id);
        const tsl_store_step *a = step_of(&e, "automl");
        int running = a && a->status == TSL_STEP_RUNNING;
        tsl_store_exec_release(&e);
        if (running) break;
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(tsl_store_exec_stop(f->s, id, "tester", "stop it", &st, &d), TSL_OK);
    assert_int_equal(st, TSL_EXEC_STOPPING);
    int status = 0;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    tsl_store_exec e = get(f->s, id);
    assert_int_equal(e.status, TSL_EXEC_STOPPED);
    assert_int_equal(step_of(&e, "automl")->status, TSL_STEP_SUCCEEDED);
    assert_null(step_of(&e, "compare"));
    assert_non_null(strstr(e.reason, "before step compare"));
    tsl_store_exec_release(&e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_active_queued_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_by, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auto_policy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fatal_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quality_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_resumes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_in_register, setup, teardown),
        cmocka_unit_test_setup_teardown(test_data_changed_before_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stops, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
