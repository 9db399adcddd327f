/*
 * test_retrain.c - the retrain trigger reactor (retrain.h) and its store decisions, on a
 * temporary store with a hand-driven clock: an alarm requests exactly one retraining (trigger,
 * dedupe key from the event id, the event retrain.requested naming the execution); a second
 * alarm within the cooldown is suppressed with its reason, one after it is merged into the
 * execution still queued; the daily cap by UTC day; monitor lists and the monitor's own
 * actions; OK transitions, unknown forecasters and foreign events ignored; new data from any
 * source or only the inbox, and ingests that changed nothing ignored; a crash between request
 * and record (redone without a second execution or event); manual retraining past cooldown
 * and cap; and the `retrain:` / `compare:` configuration with its error messages.
 */
#include "testutil.h"

#include <string.h>

#include <jansson.h>

#include "tsloop/config.h"
#include "tsloop/mem.h"
#include "tsloop/retrain.h"
#include "tsloop/store.h"

#define HOUR_MS 3600000LL
#define T0      1767261600000LL /* 2026-01-01T10:00:00Z */

static const char config_text[] = "name: t\n"
                                  "datasets:\n"
                                  "  sales:\n"
                                  "    frequency: D\n"
                                  "  other:\n"
                                  "    frequency: D\n"
                                  "forecasters:\n"
                                  "  a:\n"
                                  "    dataset: sales\n"
                                  "    horizon: 7\n"
                                  "    retrain: {on_alarm: true, cooldown: 6h, max_per_day: 5}\n"
                                  "  b:\n"
                                  "    dataset: sales\n"
                                  "    horizon: 7\n"
                                  "    retrain: {on_alarm: [acc], max_per_day: 2}\n"
                                  "  c:\n"
                                  "    dataset: sales\n"
                                  "    horizon: 7\n"
                                  "    retrain: {on_new_data: inbox}\n"
                                  "  d:\n"
                                  "    dataset: sales\n"
                                  "    horizon: 7\n"
                                  "    retrain: {on_new_data: true}\n"
                                  "  e:\n"
                                  "    dataset: other\n"
                                  "    horizon: 7\n";

typedef struct fixture {
    char *dir;
    tsl_store *s;
    tsl_config *cfg;
    int64_t now;
} fixture;

static int64_t fake_clock(void *ctx) {
    return ((fixture *)ctx)->now;
}

static int setup(void **state) {
    fixture *f = tsl_calloc(1, sizeof *f);
    f->dir = tu_tmpdir();
    f->now = T0;
    char path[4200];
    snprintf(path, sizeof path, "%s/store.db", f->dir);
    tsl_store_opts o;
    memset(&o, 0, sizeof o);
    o.clock_ms = fake_clock;
    o.clock_ctx = f;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_open(path, &o, &f->s, &d)) fail_msg("open: %s", d.msg);
    if (tsl_config_parse(config_text, strlen(config_text), "tsloop.yaml", NULL, &f->cfg, &d))
        fail_msg("config: %s", d.msg);
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

/* Appends an event; returns its id. */
static int64_t append(fixture *f, const char *type, const char *payload) {
    int64_t id = 0;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_event_append(f->s, type, "test", payload, &id, &d)) fail_msg("%s", d.msg);
    return id;
}

/* An alarm.state_changed event of monitor for forecaster to state. */
static int64_t alarm(fixture *f, const char *monitor, const char *forecaster, const char *state) {
    char p[512];
    snprintf(p, sizeof p,
             "{\"monitor\":\"%s\",\"kind\":\"accuracy\",\"forecaster\":\"%s\",\"endpoint\":"
             "\"prod\",\"metric\":\"mase\",\"previous\":\"OK\",\"state\":\"%s\",\"value\":1.9,"
             "\"threshold\":1.2,\"reason\":\"3 of the last 3 datapoints breached\"}",
             monitor, forecaster, state);
    return append(f, "alarm.state_changed", p);
}

static tsl_retrain_stats poll(fixture *f) {
    tsl_retrain_stats st;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_retrain_poll(f->s, f->cfg, NULL, 0, &st, &d)) fail_msg("poll: %s", d.msg);
    return st;
}

/* The events of type after id `after`, as parsed payloads in a JSON array. */
static json_t *events_of(fixture *f, const char *type, int64_t after) {
    tsl_store_event *ev = NULL;
    size_t n = 0;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_event_list(f->s, after, 0, &ev, &n, &d)) fail_msg("%s", d.msg);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++)
        if (!strcmp(ev[i].type, type))
            json_array_append_new(out, json_loads(ev[i].payload, 0, NULL));
    tsl_store_event_list_free(ev, n);
    return out;
}

static size_t executions(fixture *f, const char *forecaster) {
    tsl_store_exec *list = NULL;
    size_t n = 0;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_exec_list(f->s, forecaster, 0, &list, &n, &d)) fail_msg("%s", d.msg);
    tsl_store_exec_list_free(list, n);
    return n;
}

static void test_alarm_requests_once_then_cooldown(void **state) {
    fixture *f = *state;
    int64_t ev = alarm(f, "acc", "a", "ALARM");
    tsl_retrain_stats st = poll(f);
    assert_int_equal(st.requested, 1);
    assert_int_equal(st.suppressed, 0);
    assert_int_equal(executions(f, "a"), 1);

    tsl_store_exec *list = NULL;
    size_t n = 0;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_store_exec_list(f->s, "a", 0, &list, &n, &d), TSL_OK);
    char key[64];
    snprintf(key, sizeof key, "retrain:event:%lld", (long long)ev);
    assert_string_equal(list[0].trigger, "alarm");
    assert_string_equal(list[0].dedupe_key, key);
    int64_t exec_id = list[0].id;
    tsl_store_exec_list_free(list, n);

    json_t *req = events_of(f, "retrain.requested", 0);
    assert_int_equal(json_array_size(req), 1);
    json_t *p = json_array_get(req, 0);
    assert_string_equal(json_string_value(json_object_get(p, "forecaster")), "a");
    assert_string_equal(json_string_value(json_object_get(p, "trigger")), "alarm");
    assert_int_equal(json_integer_value(json_object_get(p, "execution_id")), exec_id);
    assert_int_equal(json_integer_value(json_object_get(p, "event_id")), ev);
    assert_string_equal(json_string_value(json_object_get(p, "outcome")), "new");
    assert_non_null(strstr(json_string_value(json_object_get(p, "reason")), "monitor acc"));
    json_decref(req);

    /* Polling again reads only the execution's own events and changes nothing. */
    st = poll(f);
    assert_int_equal(st.requested + st.suppressed, 0);
    assert_int_equal(executions(f, "a"), 1);

    /* An hour later: within the 6h cooldown. */
    f->now += HOUR_MS;
    int64_t before = alarm(f, "acc", "a", "ALARM") - 1;
    st = poll(f);
    assert_int_equal(st.requested, 0);
    assert_int_equal(st.suppressed, 1);
    assert_int_equal(executions(f, "a"), 1);
    json_t *sup = events_of(f, "retrain.suppressed", before);
    assert_int_equal(json_array_size(sup), 1);
    const char *why = json_string_value(json_object_get(json_array_get(sup, 0), "reason"));
    assert_non_null(strstr(why, "cooldown"));
    assert_non_null(strstr(why, "6h"));
    assert_non_null(strstr(why, "2026-01-01T16:00:00Z"));
    assert_true(json_is_null(json_object_get(json_array_get(sup, 0), "execution_id")));
    json_decref(sup);

    /* Seven hours after the first: past the cooldown. The first execution is still queued
     * (nobody ran it), so the request joins it: never two of one forecaster. */
    f->now += 6 * HOUR_MS;
    before = alarm(f, "acc", "a", "ALARM") - 1;
    st = poll(f);
    assert_int_equal(st.requested, 1);
    assert_int_equal(executions(f, "a"), 1);
    req = events_of(f, "retrain.requested", before);
    assert_int_equal(json_array_size(req), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(req, 0), "outcome")),
                        "merged");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(req, 0), "execution_id")),
                     exec_id);
    json_decref(req);
}

static void test_alarm_filters(void **state) {
    fixture *f = *state;
    alarm(f, "acc", "a", "OK");                /* not to ALARM */
    alarm(f, "acc", "a", "INSUFFICIENT_DATA"); /* not to ALARM */
    alarm(f, "drift", "b", "ALARM");           /* b retrains on acc only */
    alarm(f, "acc", "nobody", "ALARM");        /* no such forecaster */
    alarm(f, "acc", "e", "ALARM");             /* e does not retrain on alarm */
    append(f, "model.registered", "{\"forecaster\":\"a\"}");
    append(f, "alarm.state_changed", "[1, 2]"); /* not an object */
    tsl_retrain_stats st = poll(f);
    assert_int_equal(st.events, 7);
    assert_int_equal(st.requested + st.suppressed, 0);
    assert_int_equal(executions(f, NULL), 0);

    alarm(f, "acc", "b", "ALARM");
    /* The monitor's own actions: [retrain] suffices, whatever the forecaster says. */
    append(f, "alarm.state_changed",
           "{\"monitor\":\"fresh\",\"forecaster\":\"e\",\"state\":\"ALARM\","
           "\"actions\":[\"notify\",\"retrain\"]}");
    st = poll(f);
    assert_int_equal(st.requested, 2);
    assert_int_equal(executions(f, "b"), 1);
    assert_int_equal(executions(f, "e"), 1);
}

static void test_daily_cap(void **state) {
    fixture *f = *state;
    /* b: no cooldown, at most 2 a day. Each request after the first merges into the queued
     * execution, but every decision to request counts. */
    for (int i = 0; i < 3; i++) {
        alarm(f, "acc", "b", "ALARM");
        f->now += HOUR_MS;
    }
    int64_t before = 0;
    tsl_retrain_stats st = poll(f);
    assert_int_equal(st.requested, 2);
    assert_int_equal(st.suppressed, 1);
    json_t *sup = events_of(f, "retrain.suppressed", before);
    assert_int_equal(json_array_size(sup), 1);
    const char *why = json_string_value(json_object_get(json_array_get(sup, 0), "reason"));
    assert_non_null(strstr(why, "daily cap"));
    assert_non_null(strstr(why, "2026-01-01"));
    assert_non_null(strstr(why, "max_per_day 2"));
    json_decref(sup);
    /* The next UTC day starts a new count (14:00 + 10h = 00:00). */
    f->now = T0 + 14 * HOUR_MS;
    alarm(f, "acc", "b", "ALARM");
    st = poll(f);
    assert_int_equal(st.requested, 1);
    assert_int_equal(st.suppressed, 0);
}

static void test_new_data(void **state) {
    fixture *f = *state;
    append(f, "dataset.ingested",
           "{\"ingest\":1,\"dataset\":\"sales\",\"source\":\"/tmp/x.csv\",\"inserted\":10,"
           "\"updated\":0}");
    tsl_retrain_stats st = poll(f);
    assert_int_equal(st.requested, 1); /* d only: c wants the inbox */
    assert_int_equal(executions(f, "d"), 1);
    assert_int_equal(executions(f, "c"), 0);

    append(f, "dataset.ingested",
           "{\"ingest\":2,\"dataset\":\"sales\",\"source\":\"inbox\",\"file\":\"day2.csv\","
           "\"inserted\":0,\"updated\":3}");
    st = poll(f);
    assert_int_equal(st.requested, 2); /* c, and d (merged into its queued one) */
    assert_int_equal(executions(f, "c"), 1);
    assert_int_equal(executions(f, "d"), 1);
    json_t *req = events_of(f, "retrain.requested", 0);
    int seen_file = 0;
    for (size_t i = 0; i < json_array_size(req); i++) {
        json_t *p = json_array_get(req, i);
        assert_string_equal(json_string_value(json_object_get(p, "trigger")), "new_data");
        seen_file += strstr(json_string_value(json_object_get(p, "reason")), "day2.csv") != NULL;
    }
    assert_int_equal(seen_file, 2);
    json_decref(req);

    /* Nothing new in it, or another data set: nothing to retrain. */
    append(f, "dataset.ingested",
           "{\"ingest\":3,\"dataset\":\"sales\",\"source\":\"inbox\",\"inserted\":0,"
           "\"updated\":0,\"unchanged\":50}");
    append(f, "dataset.ingested",
           "{\"ingest\":4,\"dataset\":\"other\",\"source\":\"inbox\",\"inserted\":5}");
    st = poll(f);
    assert_int_equal(st.requested + st.suppressed, 0);
}

static void test_crash_between_request_and_record(void **state) {
    fixture *f = *state;
    int64_t ev = alarm(f, "acc", "a", "ALARM");
    const tsl_config_forecaster *fa = tsl_config_forecaster_find(f->cfg, "a");
    /* What a reactor killed after requesting had done: decided and requested, not recorded,
     * cursor not moved. */
    tsl_store_retrain_ask ask = {ev,
                                 "a",
                                 "alarm",
                                 "monitor acc went to ALARM",
                                 fa->triggers.cooldown_ms,
                                 fa->triggers.max_per_day};
    tsl_store_retrain r, again;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_store_retrain_decide(f->s, &ask, &r, &d), TSL_OK);
    assert_true(r.requested);
    assert_false(r.done);
    char key[64];
    snprintf(key, sizeof key, "retrain:event:%lld", (long long)ev);
    int64_t id = 0;
    tsl_exec_outcome how;
    assert_int_equal(tsl_pipeline_request(f->s, f->cfg, "a", "alarm", key, NULL, &id, &how, &d),
                     TSL_OK);
    assert_int_equal(how, TSL_EXEC_NEW);

    /* Restarted hours later - past nothing, but the decision is the first one's: deciding
     * again returns it unchanged, and the cooldown its own request started does not
     * suppress it. */
    f->now += HOUR_MS;
    assert_int_equal(tsl_store_retrain_decide(f->s, &ask, &again, &d), TSL_OK);
    assert_true(again.requested);
    assert_int_equal(again.at_ms, r.at_ms);
    tsl_store_retrain_release(&r);
    tsl_store_retrain_release(&again);

    tsl_retrain_stats st = poll(f);
    assert_int_equal(st.requested, 1);
    assert_int_equal(executions(f, "a"), 1);
    json_t *req = events_of(f, "retrain.requested", 0);
    assert_int_equal(json_array_size(req), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(req, 0), "execution_id")),
                     id);
    assert_string_equal(json_string_value(json_object_get(json_array_get(req, 0), "outcome")),
                        "duplicate");
    json_decref(req);

    /* Recording again changes nothing; recording what was never decided is refused. */
    assert_int_equal(tsl_store_retrain_record(f->s, ev, "a", id, "new", &d), TSL_OK);
    req = events_of(f, "retrain.requested", 0);
    assert_int_equal(json_array_size(req), 1);
    json_decref(req);
    assert_int_equal(tsl_store_retrain_record(f->s, ev, "b", id, "new", &d), TSL_ENOTFOUND);

    /* The cursor never goes back. */
    int64_t cur = 0, cur2 = 0;
    assert_int_equal(tsl_store_retrain_cursor(f->s, &cur, &d), TSL_OK);
    assert_true(cur >= ev);
    assert_int_equal(tsl_store_retrain_advance(f->s, 0, &d), TSL_OK);
    assert_int_equal(tsl_store_retrain_cursor(f->s, &cur2, &d), TSL_OK);
    assert_int_equal(cur2, cur);
}

static void test_manual_ignores_cooldown_and_cap(void **state) {
    fixture *f = *state;
    tsl_pipeline_opts o;
    memset(&o, 0, sizeof o);
    o.who = "ann";
    int64_t id = 0, id2 = 0;
    tsl_exec_outcome how;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_retrain_manual(f->s, f->cfg, "a", "new promo calendar", &o, &id, &how, &d),
                     TSL_OK);
    assert_int_equal(how, TSL_EXEC_NEW);
    json_t *req = events_of(f, "retrain.requested", 0);
    assert_int_equal(json_array_size(req), 1);
    json_t *p = json_array_get(req, 0);
    assert_string_equal(json_string_value(json_object_get(p, "trigger")), "manual");
    assert_string_equal(json_string_value(json_object_get(p, "reason")), "new promo calendar");
    assert_string_equal(json_string_value(json_object_get(p, "who")), "ann");
    assert_int_equal(json_integer_value(json_object_get(p, "execution_id")), id);
    json_decref(req);
    assert_int_equal(tsl_retrain_manual(f->s, f->cfg, "zz", NULL, &o, &id2, &how, &d), TSL_EINVAL);

    /* The manual run starts the cooldown of the triggered ones ... */
    f->now += HOUR_MS;
    alarm(f, "acc", "a", "ALARM");
    tsl_retrain_stats st = poll(f);
    assert_int_equal(st.suppressed, 1);
    /* ... but is never held back by it. */
    assert_int_equal(tsl_retrain_manual(f->s, f->cfg, "a", NULL, &o, &id2, &how, &d), TSL_OK);
    assert_int_equal(how, TSL_EXEC_MERGED); /* the first is still queued */
    assert_int_equal(id2, id);
    req = events_of(f, "retrain.requested", 0);
    assert_int_equal(json_array_size(req), 2);
    json_decref(req);
}

/* ---- configuration ---- */

static tsl_err parse(const char *fc, tsl_config **cfg, tsl_diag *d) {
    char text[2048];
    snprintf(text, sizeof text,
             "name: t\ndatasets:\n  s:\n    frequency: D\nforecasters:\n  f:\n    dataset: s\n"
             "    horizon: 3\n%s",
             fc);
    *cfg = NULL;
    return tsl_config_parse(text, strlen(text), "tsloop.yaml", NULL, cfg, d);
}

static void expect_error(const char *fc, const char *msg) {
    tsl_config *cfg = NULL;
    tsl_diag d = {TSL_OK, {0}};
    tsl_err rc = parse(fc, &cfg, &d);
    tsl_config_free(cfg);
    if (rc == TSL_OK) fail_msg("accepted: %s", fc);
    if (!strstr(d.msg, msg)) fail_msg("message '%s' lacks '%s'", d.msg, msg);
}

static void test_config(void **state) {
    (void)state;
    tsl_config *cfg = NULL;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(parse("", &cfg, &d), TSL_OK);
    const tsl_config_forecaster *f = &cfg->forecasters[0];
    assert_int_equal(f->triggers.on_alarm, 0);
    assert_int_equal(f->triggers.on_new_data, TSL_ON_NEW_DATA_OFF);
    assert_int_equal(f->triggers.cooldown_ms, 0);
    assert_int_equal(f->triggers.max_per_day, 0);
    assert_int_equal(f->compare_windows, 7);
    assert_int_equal(f->compare_metric, TSL_METRIC_MASE);
    tsl_config_free(cfg);

    assert_int_equal(parse("    metric: smape\n    retrain:\n      on_alarm: [acc, drift]\n"
                           "      on_new_data: inbox\n      cooldown: 90m\n      max_per_day: 3\n"
                           "    compare: {windows: 14}\n",
                           &cfg, &d),
                     TSL_OK);
    f = &cfg->forecasters[0];
    assert_int_equal(f->triggers.on_alarm, 1);
    assert_int_equal(f->triggers.nmonitors, 2);
    assert_string_equal(f->triggers.monitors[1], "drift");
    assert_int_equal(f->triggers.on_new_data, TSL_ON_NEW_DATA_INBOX);
    assert_int_equal(f->triggers.cooldown_ms, 90 * 60000);
    assert_int_equal(f->triggers.max_per_day, 3);
    assert_int_equal(f->compare_windows, 14);
    assert_int_equal(f->compare_metric, TSL_METRIC_SMAPE); /* the forecaster's */
    /* The normalised text parses back to the same settings. */
    tsl_wbuf b;
    tsl_wbuf_init(&b);
    tsl_config_normalize(cfg, &b);
    tsl_config *back = NULL;
    if (tsl_config_parse((const char *)b.data, b.len, "normalized", NULL, &back, &d))
        fail_msg("normalised text: %s\n%s", d.msg, tsl_wbuf_cstr(&b));
    const tsl_config_forecaster *g = &back->forecasters[0];
    assert_int_equal(g->triggers.nmonitors, 2);
    assert_int_equal(g->triggers.on_new_data, TSL_ON_NEW_DATA_INBOX);
    assert_int_equal(g->triggers.cooldown_ms, 90 * 60000);
    assert_int_equal(g->triggers.max_per_day, 3);
    assert_int_equal(g->compare_windows, 14);
    assert_int_equal(g->compare_metric, TSL_METRIC_SMAPE);
    tsl_config_free(back);
    tsl_wbuf_release(&b);
    tsl_config_free(cfg);

    assert_int_equal(parse("    retrain: {on_alarm: true, on_new_data: false, cooldown: 1d}\n"
                           "    compare: {metric: wape}\n",
                           &cfg, &d),
                     TSL_OK);
    assert_int_equal(cfg->forecasters[0].triggers.on_alarm, 1);
    assert_int_equal(cfg->forecasters[0].triggers.nmonitors, 0);
    assert_int_equal(cfg->forecasters[0].triggers.cooldown_ms, 86400000);
    assert_int_equal(cfg->forecasters[0].compare_metric, TSL_METRIC_WAPE);
    tsl_config_free(cfg);

    expect_error("    retrain: {cooldown: 6 hours}\n",
                 "forecasters.f.retrain.cooldown: \"6 hours\", expected a duration");
    expect_error("    retrain: {cooldown: 400d}\n", "at most a year");
    expect_error("    retrain: {cooldown: -1h}\n", "expected a duration");
    expect_error("    retrain: {on_new_data: sometimes}\n",
                 "forecasters.f.retrain.on_new_data: \"sometimes\", expected true, false or inbox");
    expect_error("    retrain: {on_alarm: maybe}\n", "expected true or false");
    expect_error("    retrain: {on_alarm: [acc, acc]}\n", "listed twice");
    expect_error("    retrain: {max_per_day: -2}\n", "expected an integer from 0 to 10000");
    expect_error("    retrain: {on_alarms: true}\n", "on_alarm");
    expect_error("    retrain: true\n", "forecasters.f.retrain");
    expect_error("    compare: {windows: 0}\n", "forecasters.f.compare.windows");
    expect_error("    compare: {metric: coverage}\n", "forecasters.f.compare.metric: coverage");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_alarm_requests_once_then_cooldown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alarm_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_daily_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_between_request_and_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_manual_ignores_cooldown_and_cap, setup, teardown),
        cmocka_unit_test(test_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
