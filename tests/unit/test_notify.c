/*
 * test_notify.c - notifications without a network: the notifications section of tsloop.yaml,
 * routing by event patterns (and the rules that prevent loops), the backoff schedule, the
 * messages (every renderer, with full and with missing payload fields), the webhook body, the
 * HMAC-SHA256 signature against OpenSSL's (tests/data/notify/hmac.csv, RFC 4231 case 2
 * among them), the command channel (exit status, stdin, timeout), and the store's channel
 * cursors and inbox records (migration 7).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>

#include "testutil.h"
#include "tsloop/config.h"
#include "tsloop/mem.h"
#include "tsloop/notify.h"
#include "tsloop/store.h"

static const char *fake_getenv(void *ctx, const char *name) {
    (void)ctx;
    return !strcmp(name, "HOOK_SECRET") ? "from-the-env" : NULL;
}

static tsl_config *parse(const char *text, tsl_err want, const char *msg_part) {
    tsl_config_opts o = {fake_getenv, NULL};
    tsl_config *cfg = NULL;
    tsl_diag d = {TSL_OK, {0}};
    tsl_err rc = tsl_config_parse(text, strlen(text), "tsloop.yaml", &o, &cfg, &d);
    if (rc != want) fail_msg("got %d (%s), expected %d", rc, d.msg, want);
    if (msg_part && !strstr(d.msg, msg_part)) fail_msg("message '%s' lacks '%s'", d.msg, msg_part);
    return cfg;
}

static const char base[] = "name: p\n";

static void test_config(void **state) {
    (void)state;
    char text[4096];
    snprintf(text, sizeof text,
             "%snotifications:\n"
             "  hook:\n    type: webhook\n    url: http://127.0.0.1:9/x\n"
             "    secret: ${HOOK_SECRET}\n    events: [alarm.state_changed, retrain.*]\n"
             "    retries: 2\n    backoff_ms: 10\n    max_backoff_ms: 25\n"
             "  mail:\n    type: email\n    url: smtp://127.0.0.1:2525\n    from: a@b.c\n"
             "    to: [x@y.z, w@y.z]\n    starttls: true\n    events: ['*']\n"
             "  cmd:\n    type: command\n    argv: [/bin/cat, -]\n    timeout: 3\n"
             "    events: [model.pending]\n",
             base);
    tsl_config *cfg = parse(text, TSL_OK, NULL);
    assert_non_null(cfg->notify);
    assert_int_equal(cfg->notify->nchannels, 3);
    const tsl_channel *h = &cfg->notify->channels[0], *m = &cfg->notify->channels[1],
                      *c = &cfg->notify->channels[2];
    assert_string_equal(h->name, "hook");
    assert_int_equal(h->type, TSL_CHANNEL_WEBHOOK);
    assert_string_equal(h->secret, "from-the-env");
    assert_int_equal(h->nevents, 2);
    assert_int_equal(h->retries, 2);
    assert_int_equal(h->timeout_s, 10);
    assert_int_equal(m->type, TSL_CHANNEL_EMAIL);
    assert_int_equal(m->nto, 2);
    assert_true(m->starttls);
    assert_int_equal(c->type, TSL_CHANNEL_COMMAND);
    assert_int_equal(c->nargv, 2);
    assert_int_equal(c->timeout_s, 3);
    tsl_config_free(cfg);

    /* Absent: NULL; the hash does not depend on the section. */
    cfg = parse(base, TSL_OK, NULL);
    assert_null(cfg->notify);
    tsl_config_free(cfg);

    static const struct {
        const char *body, *msg;
    } bad[] = {
        {"  x:\n    type: pager\n    events: ['*']\n", "expected webhook, email or command"},
        {"  x:\n    url: http://a\n    events: ['*']\n", "no type"},
        {"  x:\n    type: webhook\n    events: ['*']\n", "expected an http:// or https:// URL"},
        {"  x:\n    type: webhook\n    url: ftp://a\n    events: ['*']\n", "http://"},
        {"  x:\n    type: webhook\n    url: http://a\n", "no events"},
        {"  x:\n    type: webhook\n    url: http://a\n    events: [Model!]\n",
         "not an event type or pattern"},
        {"  x:\n    type: webhook\n    url: http://a\n    to: [a@b]\n    events: ['*']\n",
         "key 'to' does not apply to a webhook channel"},
        {"  x:\n    type: webhook\n    url: http://a\n    secret: ${NOPE}\n    events: ['*']\n",
         "environment variable NOPE is not set"},
        {"  x:\n    type: email\n    url: smtp://a\n    to: [a@b]\n    events: ['*']\n",
         "expected the sender's e-mail address"},
        {"  x:\n    type: email\n    url: smtp://a\n    from: a@b\n    events: ['*']\n",
         "no recipients"},
        {"  x:\n    type: email\n    url: http://a\n    from: a@b\n    to: [c@d]\n"
         "    events: ['*']\n",
         "smtp://"},
        {"  x:\n    type: command\n    argv: [notify-send]\n    events: ['*']\n", "absolute path"},
        {"  x:\n    type: command\n    argv: [/bin/true]\n    events: ['*']\n    timeout: 0\n",
         "expected an integer from 1 to 3600"},
        {"  x:\n    type: webhook\n    url: http://a\n    events: ['*']\n    backoff_ms: 100\n"
         "    max_backoff_ms: 10\n",
         "expected at least backoff_ms"},
        {"  x:\n    type: webhook\n    url: http://a\n    event: ['*']\n", "did you mean 'events'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "%snotifications:\n%s", base, bad[i].body);
        tsl_config_free(parse(text, TSL_EINVAL, bad[i].msg));
    }
}

static tsl_channel channel(const char *name, char **events, size_t n) {
    tsl_channel c;
    memset(&c, 0, sizeof c);
    c.name = (char *)name;
    c.events = events;
    c.nevents = n;
    c.backoff_ms = 1000;
    c.max_backoff_ms = 300000;
    return c;
}

static tsl_store_event event(const char *type, const char *payload) {
    tsl_store_event e;
    memset(&e, 0, sizeof e);
    e.id = 42;
    e.at_ms = 1764000000000;
    e.type = (char *)type;
    e.subject = (char *)"subject:x";
    e.payload = (char *)payload;
    return e;
}

static void test_routing(void **state) {
    (void)state;
    assert_true(tsl_notify_pattern_match("*", "model.pending"));
    assert_true(tsl_notify_pattern_match("model.pending", "model.pending"));
    assert_false(tsl_notify_pattern_match("model.pending", "model.pending2"));
    assert_true(tsl_notify_pattern_match("retrain.*", "retrain.requested"));
    assert_false(tsl_notify_pattern_match("retrain.*", "retrain"));
    assert_false(tsl_notify_pattern_match("retrain.*", "retraining.x"));
    assert_false(tsl_notify_pattern_match("model.*", "dataset.ingested"));

    char *ev[] = {"alarm.state_changed", "retrain.*", "notification.failed"};
    tsl_channel c = channel("hook", ev, 3);
    tsl_store_event e = event("alarm.state_changed", "{}");
    assert_true(tsl_notify_routes(&c, &e));
    e = event("retrain.suppressed", "{}");
    assert_true(tsl_notify_routes(&c, &e));
    e = event("model.pending", "{}");
    assert_false(tsl_notify_routes(&c, &e));
    /* No loops: another channel's dead letter is routed, its own is not, nor a dead letter
     * about a dead letter, nor any notification.sent even under "*". */
    e = event("notification.failed", "{\"channel\":\"mail\",\"event_type\":\"model.pending\"}");
    assert_true(tsl_notify_routes(&c, &e));
    e = event("notification.failed", "{\"channel\":\"hook\",\"event_type\":\"model.pending\"}");
    assert_false(tsl_notify_routes(&c, &e));
    e = event("notification.failed",
              "{\"channel\":\"mail\",\"event_type\":\"notification.failed\"}");
    assert_false(tsl_notify_routes(&c, &e));
    char *all[] = {"*"};
    tsl_channel any = channel("any", all, 1);
    e = event("notification.sent", "{\"channel\":\"mail\"}");
    assert_false(tsl_notify_routes(&any, &e));
    e = event("dataset.ingested", "{}");
    assert_true(tsl_notify_routes(&any, &e));
}

static void test_backoff(void **state) {
    (void)state;
    tsl_channel c = channel("x", NULL, 0);
    c.backoff_ms = 1000;
    c.max_backoff_ms = 5000;
    assert_int_equal(tsl_notify_backoff_ms(&c, 1), 1000);
    assert_int_equal(tsl_notify_backoff_ms(&c, 2), 2000);
    assert_int_equal(tsl_notify_backoff_ms(&c, 3), 4000);
    assert_int_equal(tsl_notify_backoff_ms(&c, 4), 5000);
    assert_int_equal(tsl_notify_backoff_ms(&c, 60), 5000); /* no overflow for many attempts */
    c.max_backoff_ms = 86400000;
    assert_int_equal(tsl_notify_backoff_ms(&c, 1000), 86400000);
}

/* The message of an event, in a new string. */
static char *render(const char *type, const char *payload) {
    tsl_store_event e = event(type, payload);
    tsl_wbuf b;
    tsl_wbuf_init(&b);
    tsl_notify_render(&e, "solar-farm", &b);
    char *s = tsl_strdup(tsl_wbuf_cstr(&b));
    tsl_wbuf_release(&b);
    return s;
}

#define HAS(s, part)                                                                               \
    do {                                                                                           \
        if (!strstr((s), (part))) fail_msg("message lacks '%s':\n%s", (part), (s));                \
    } while (0)

static void test_render(void **state) {
    (void)state;
    char *s = render(
        "alarm.state_changed",
        "{\"monitor\":\"solar-mase\",\"kind\":\"accuracy\",\"forecaster\":\"solar\",\"endpoint\":"
        "\"prod\",\"metric\":\"mase\",\"previous\":\"OK\",\"state\":\"ALARM\",\"value\":1.37,"
        "\"threshold\":1.1,\"comparison\":\"GreaterThanThreshold\",\"reason\":\"3 of the last 3 "
        "datapoints breached the threshold\",\"datapoints\":[{\"window_start\":\"2026-05-01T00:"
        "00:00Z\",\"value\":1.2},{\"window_start\":\"2026-05-02T00:00:00Z\",\"value\":1.0},{"
        "\"window_start\":\"2026-05-03T00:00:00Z\",\"value\":null}],\"at\":\"2026-05-04T10:00:"
        "00Z\"}");
    HAS(s, "Alarm solar-mase: OK -> ALARM\n\n");
    HAS(s, "Forecaster: solar\n");
    HAS(s, "Endpoint: prod\n");
    HAS(s, "mase = 1.37 against threshold 1.1 (GreaterThanThreshold)\n");
    HAS(s, "Why: 3 of the last 3 datapoints breached the threshold\n");
    HAS(s, "  2026-05-01T00:00:00Z  1.2  (above the threshold)\n");
    HAS(s, "  2026-05-02T00:00:00Z  1\n");
    HAS(s, "  2026-05-03T00:00:00Z  missing\n");
    HAS(s, "project solar-farm, event 42 (alarm.state_changed)");
    tsl_free(s);
    s = render("alarm.state_changed", "{}"); /* nothing known: still a message */
    HAS(s, "Alarm (unnamed monitor): ? -> ?\n");
    tsl_free(s);

    s = render("model.pending",
               "{\"forecaster\":\"solar\",\"version\":3,\"from\":null,\"to\":"
               "\"PendingManualApproval\",\"who\":\"pipeline\",\"why\":\"new data\"}");
    HAS(s, "Model solar/3 waits for approval\n");
    HAS(s, "tsloop models approve solar/3 --why \"...\"");
    HAS(s, "tsloop models reject solar/3 --why \"...\"");
    HAS(s, "/v1/models/solar/3/approve");
    HAS(s, "Authorization: Bearer $TOKEN");
    tsl_free(s);

    s = render("model.compared",
               "{\"entry\":\"solar\",\"version\":4,\"champion_version\":3,\"metric\":\"mase\","
               "\"champion\":1.37,\"challenger\":0.82,\"origins\":7,\"points\":168,\"margin\":0.05,"
               "\"better\":true}");
    HAS(s, "Challenger solar/4 beats the champion\n");
    HAS(s, "mase: challenger 0.82, champion 1.37");
    HAS(s, "Champion: version 3\n");
    HAS(s, "Required margin: 0.05\n");
    HAS(s, "7 origins, 168 points");
    HAS(s, "tsloop models approve solar/4");
    tsl_free(s);
    s = render("model.compared", "{\"better\":false}");
    HAS(s, "Challenger (unknown version) does not beat the champion");
    tsl_free(s);

    s = render("retrain.requested", "{\"forecaster\":\"solar\",\"trigger\":\"alarm\",\"reason\":"
                                    "\"alarm solar-mase\",\"execution_id\":12}");
    HAS(s, "Retraining of solar started by alarm\n");
    HAS(s, "Why: alarm solar-mase\n");
    HAS(s, "Execution: 12 (tsloop runs show 12)");
    tsl_free(s);
    s = render("retrain.suppressed", "{\"forecaster\":\"solar\",\"trigger\":\"alarm\",\"reason\":"
                                     "\"cooldown: last run 10 minutes ago\"}");
    HAS(s, "Retraining of solar suppressed by alarm\n");
    HAS(s, "Why not: cooldown");
    tsl_free(s);

    s = render("dataset.quality",
               "{\"dataset\":\"solar\",\"monitor\":\"solar-quality\",\"ingest_id\":7,"
               "\"endpoint\":\"prod\",\"forecaster\":\"solar\",\"version\":3,\"points\":72,"
               "\"items\":3,\"checks\":{\"missing\":0.0416666,\"flatline\":0.3333333,"
               "\"flagged\":0.6666666},\"violations\":[{\"check\":\"missing\",\"severity\":"
               "\"warning\",\"item\":\"site-2\",\"count\":3,\"value\":0.125,\"description\":"
               "\"3 of 24 new points of site-2 are missing (12.5%)\"},{\"check\":\"flatline\","
               "\"severity\":\"warning\",\"item\":\"site-3\",\"count\":24,\"value\":0,"
               "\"description\":\"the last 24 new values of site-3 are all 0\"}],\"worst\":"
               "\"warning\"}");
    HAS(s, "Data quality of solar: warning in ingest 7\n\n");
    HAS(s, "Monitor: solar-quality (quality)\n");
    HAS(s, "Endpoint: prod (solar/3)\n");
    HAS(s, "New points: 72 in 3 items\n");
    HAS(s, "  flatline      33.33%\n");
    HAS(s, "  [warning] missing: 3 of 24 new points of site-2 are missing (12.5%)\n");
    HAS(s, "  [warning] flatline: the last 24 new values of site-3 are all 0\n");
    HAS(s, "tsloop metrics --monitor solar-quality");
    HAS(s, "tsloop datasets show solar --ingest 7");
    tsl_free(s);

    s = render("notification.failed", "{\"channel\":\"hook\",\"event_id\":9,\"event_type\":"
                                      "\"model.pending\",\"attempts\":6,\"error\":\"HTTP 500\"}");
    HAS(s, "Notification channel hook gave up");
    HAS(s, "Event 9 (model.pending) could not be delivered after 6 attempts.");
    tsl_free(s);

    s = render("dataset.ingested", "{\"dataset\":\"sales\",\"source\":\"inbox\",\"file\":\"a.csv\","
                                   "\"read\":60,\"inserted\":60}");
    HAS(s, "New data in sales from a.csv\n");
    HAS(s, "inserted: 60\n");
    tsl_free(s);

    s = render("endpoint.deployed", "{\"endpoint\":\"prod\",\"version\":3}"); /* generic */
    HAS(s, "endpoint.deployed subject:x\n\n");
    HAS(s, "endpoint: \"prod\"\n");
    tsl_free(s);
    s = render("model.pending", "not json at all"); /* a broken payload is not a crash */
    HAS(s, "Model (unknown version) waits for approval");
    tsl_free(s);
}

static void test_body(void **state) {
    (void)state;
    tsl_store_event e = event("model.pending", "{\"forecaster\":\"solar\",\"version\":3}");
    char *body = tsl_notify_body(&e, "p");
    json_error_t je;
    json_t *j = json_loads(body, 0, &je);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 42);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "model.pending");
    assert_string_equal(json_string_value(json_object_get(j, "project")), "p");
    assert_string_equal(json_string_value(json_object_get(j, "at")), "2025-11-24T16:00:00Z");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "payload"), "version")),
                     3);
    assert_non_null(strstr(json_string_value(json_object_get(j, "text")), "solar/3"));
    json_decref(j);
    tsl_free(body);
}

static void test_hmac(void **state) {
    (void)state;
    tu_table *t = tu_table_read(tu_path("notify/hmac.csv"));
    assert_true(t->rows >= 3);
    for (size_t i = 0; i < t->rows; i++) {
        const char *key = tu_str(t, i, "key"), *body = tu_str(t, i, "body");
        char sig[72];
        tsl_notify_sign(key, body, strlen(body), sig);
        assert_string_equal(sig, tu_str(t, i, "signature"));
    }
    tu_table_free(t);
    char a[72], b[72];
    tsl_notify_sign("k", "body", 4, a);
    tsl_notify_sign("k", "bodY", 4, b);
    assert_string_not_equal(a, b);
}

static void test_command(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    char script[4096], out[4200];
    snprintf(script, sizeof script, "%s/hook.sh", dir);
    snprintf(out, sizeof out, "%s/got.json", dir);
    FILE *f = fopen(script, "w");
    assert_non_null(f);
    fprintf(f,
            "#!/bin/sh\ncat > '%s'\n[ \"$TSLOOP_EVENT\" = model.pending ] || exit 3\n"
            "[ -z \"$HOME\" ] || exit 4\nexit \"${1:-0}\"\n",
            out);
    fclose(f);
    chmod(script, 0755);
    char *ev[] = {"*"};
    char *argv_ok[] = {script, "0"}, *argv_bad[] = {script, "7"};
    tsl_channel c = channel("cmd", ev, 1);
    c.type = TSL_CHANNEL_COMMAND;
    c.timeout_s = 5;
    c.argv = argv_ok;
    c.nargv = 2;
    tsl_store_event e = event("model.pending", "{\"forecaster\":\"solar\",\"version\":3}");
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_notify_deliver(&c, &e, "p", &d), TSL_OK);
    json_t *j = json_load_file(out, 0, NULL);
    assert_non_null(j); /* the event JSON arrived on stdin */
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 42);
    json_decref(j);
    c.argv = argv_bad;
    assert_int_equal(tsl_notify_deliver(&c, &e, "p", &d), TSL_EIO);
    assert_non_null(strstr(d.msg, "exit status 7"));
    char *argv_sleep[] = {"/bin/sleep", "30"};
    c.argv = argv_sleep;
    c.timeout_s = 1;
    assert_int_equal(tsl_notify_deliver(&c, &e, "p", &d), TSL_EIO);
    assert_non_null(strstr(d.msg, "killed after its timeout of 1 s"));
    char *argv_none[] = {"/nonexistent/program"};
    c.argv = argv_none;
    c.nargv = 1;
    assert_int_equal(tsl_notify_deliver(&c, &e, "p", &d), TSL_EIO);
    tu_rmtree(dir);
    tsl_free(dir);
}

static void test_store(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/store.db", dir);
    tsl_store *s = NULL;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_store_open(path, NULL, &s, &d), TSL_OK);
    int64_t id1 = 0, id2 = 0;
    assert_int_equal(tsl_store_event_append(s, "model.pending", "model:a/1", "{}", &id1, &d), 0);
    /* A new channel starts at the end of the log. */
    tsl_store_notify_state st;
    assert_int_equal(tsl_store_notify_get(s, "hook", &st, &d), TSL_OK);
    assert_int_equal(st.cursor, id1);
    assert_int_equal(st.event_id, 0);
    tsl_store_notify_state_release(&st);
    assert_int_equal(tsl_store_event_append(s, "model.pending", "model:a/2", "{}", &id2, &d), 0);
    assert_int_equal(tsl_store_notify_fail(s, "hook", id2, 1, 12345, "HTTP 500", &d), TSL_OK);
    assert_int_equal(tsl_store_notify_get(s, "hook", &st, &d), TSL_OK);
    assert_int_equal(st.cursor, id1);
    assert_int_equal(st.event_id, id2);
    assert_int_equal(st.attempts, 1);
    assert_int_equal(st.next_ms, 12345);
    assert_string_equal(st.error, "HTTP 500");
    tsl_store_notify_state_release(&st);
    assert_int_equal(
        tsl_store_notify_advance(s, "hook", id2, "notification.sent", "{\"channel\":\"hook\"}", &d),
        TSL_OK);
    assert_int_equal(tsl_store_notify_get(s, "hook", &st, &d), TSL_OK);
    assert_int_equal(st.cursor, id2);
    assert_int_equal(st.attempts, 0);
    assert_null(st.error);
    tsl_store_notify_state_release(&st);
    tsl_store_event *ev = NULL;
    size_t n = 0;
    assert_int_equal(tsl_store_event_list(s, id2, 0, &ev, &n, &d), TSL_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ev[0].type, "notification.sent");
    assert_string_equal(ev[0].subject, "channel:hook");
    tsl_store_event_list_free(ev, n);
    /* Only the notifier's two types, valid JSON, valid names. */
    assert_int_equal(tsl_store_notify_advance(s, "hook", id2, "model.pending", NULL, &d),
                     TSL_EINVAL);
    assert_int_equal(tsl_store_notify_advance(s, "hook", id2, "notification.sent", "{", &d),
                     TSL_EINVAL);
    assert_int_equal(tsl_store_notify_get(s, "bad name", &st, &d), TSL_EINVAL);
    assert_int_equal(tsl_store_notify_fail(s, "hook", 0, 1, 0, "x", &d), TSL_EINVAL);

    /* Inbox records: found by (data set, name, size, hash); recording twice keeps the first. */
    const char *h = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    tsl_store_inbox_file f, got;
    memset(&f, 0, sizeof f);
    f.dataset = "sales";
    f.name = "a.csv";
    f.size = 10;
    tsl_strlcpy(f.sha256, h, sizeof f.sha256);
    f.ok = 1;
    f.ingest_id = 5;
    assert_int_equal(tsl_store_inbox_find(s, "sales", "a.csv", 10, h, &got, &d), TSL_ENOTFOUND);
    assert_int_equal(tsl_store_inbox_record(s, &f, &d), TSL_OK);
    f.ok = 0;
    f.error = "later";
    assert_int_equal(tsl_store_inbox_record(s, &f, &d), TSL_OK);
    assert_int_equal(tsl_store_inbox_find(s, "sales", "a.csv", 10, h, &got, &d), TSL_OK);
    assert_true(got.ok);
    assert_int_equal(got.ingest_id, 5);
    assert_null(got.error);
    tsl_store_inbox_file_release(&got);
    assert_int_equal(tsl_store_inbox_find(s, "sales", "a.csv", 11, h, &got, &d), TSL_ENOTFOUND);
    assert_int_equal(tsl_store_inbox_find(s, "sales", "../a.csv", 10, h, &got, &d), TSL_EINVAL);
    assert_int_equal(tsl_store_inbox_find(s, "sales", "a.csv", 10, "XYZ", &got, &d), TSL_EINVAL);
    tsl_store_close(s);
    tu_rmtree(dir);
    tsl_free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),  cmocka_unit_test(test_routing),
        cmocka_unit_test(test_backoff), cmocka_unit_test(test_render),
        cmocka_unit_test(test_body),    cmocka_unit_test(test_hmac),
        cmocka_unit_test(test_command), cmocka_unit_test(test_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
