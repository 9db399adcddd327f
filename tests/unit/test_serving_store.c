/*
 * test_serving_store.c - the store's serving tables: deployments (approval rules, idempotent
 * deploys, rollback walking history, events), API tokens (shown once, verified by hash, roles,
 * revocation), captures (group insert, arrays round-trip, filters, all-or-nothing) and the tail
 * of a series (what the daemon reads to update a deployed model), jobs (leases, takeover after
 * a worker's lease expires).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"
#include "tsloop/csv.h"
#include "tsloop/mem.h"
#include "tsloop/store.h"

static void test_deploy_rules_and_rollback(void **state) {
    tu_store_fx *f = *state;
    tsl_diag d = {TSL_OK, {0}};
    tsl_store_deployment dp;
    int64_t m1 = tu_store_register(f->s, "solar", TSL_MODEL_APPROVED);
    int64_t m2 = tu_store_register(f->s, "solar", TSL_MODEL_PENDING);
    int64_t m3 = tu_store_register(f->s, "solar", TSL_MODEL_REJECTED);
    (void)m3;

    assert_int_equal(tsl_store_endpoint_get(f->s, "prod", &dp, &d), TSL_ENOTFOUND);
    assert_int_equal(tsl_store_rollback(f->s, "prod", "me", "", NULL, &d), TSL_ENOTFOUND);
    /* Unknown versions, rejected ones, and pending ones where approval is required. */
    assert_int_equal(tsl_store_deploy(f->s, "prod", "solar", 9, 0, "me", "", NULL, &d),
                     TSL_ENOTFOUND);
    assert_int_equal(tsl_store_deploy(f->s, "prod", "nosuch", 0, 0, "me", "", NULL, &d),
                     TSL_ENOTFOUND);
    assert_int_equal(tsl_store_deploy(f->s, "prod", "solar", 3, 0, "me", "", NULL, &d),
                     TSL_ECONFLICT);
    assert_int_equal(tsl_store_deploy(f->s, "prod", "solar", 2, 1, "me", "", NULL, &d),
                     TSL_ECONFLICT);
    assert_non_null(strstr(d.msg, "requires approval"));
    assert_int_equal(tsl_store_deploy(f->s, "bad name", "solar", 1, 0, "me", "", NULL, &d),
                     TSL_EINVAL);

    assert_int_equal(tsl_store_deploy(f->s, "prod", "solar", 1, 1, "me", "first", &dp, &d), TSL_OK);
    assert_int_equal(dp.model_id, m1);
    assert_int_equal(dp.version, 1);
    assert_string_equal(dp.forecaster, "solar");
    assert_int_equal(dp.previous_id, 0);
    assert_false(dp.rollback);
    int64_t first = dp.id;
    tsl_store_deployment_release(&dp);
    assert_int_equal(tsl_store_rollback(f->s, "prod", "me", "", NULL, &d), TSL_ECONFLICT);

    /* Deploying the current version again changes nothing. */
    assert_int_equal(tsl_store_deploy(f->s, "prod", "solar", 1, 1, "me", "", &dp, &d), TSL_OK);
    assert_int_equal(dp.id, first);
    tsl_store_deployment_release(&dp);

    /* Pending is fine where approval is not required; version 0 is the latest (3 is
     * rejected, so the latest is refused). */
    assert_int_equal(tsl_store_deploy(f->s, "prod", "solar", 0, 0, "me", "", NULL, &d),
                     TSL_ECONFLICT);
    assert_int_equal(tsl_store_deploy(f->s, "prod", "solar", 2, 0, "me", "second", &dp, &d),
                     TSL_OK);
    assert_int_equal(dp.model_id, m2);
    assert_int_equal(dp.previous_id, first);
    tsl_store_deployment_release(&dp);
    assert_int_equal(tsl_store_deploy(f->s, "staging", "solar", 1, 0, "me", "", NULL, &d), TSL_OK);

    tsl_store_deployment *list = NULL;
    size_t n = 0;
    assert_int_equal(tsl_store_endpoint_list(f->s, &list, &n, &d), TSL_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].endpoint, "prod");
    assert_int_equal(list[0].version, 2);
    assert_string_equal(list[1].endpoint, "staging");
    tsl_store_deployment_list_free(list, n);

    /* Rollback goes back to version 1; a second one has nothing left. */
    assert_int_equal(tsl_store_rollback(f->s, "prod", "me", "bad", &dp, &d), TSL_OK);
    assert_int_equal(dp.version, 1);
    assert_true(dp.rollback);
    assert_int_equal(dp.previous_id, 0);
    tsl_store_deployment_release(&dp);
    assert_int_equal(tsl_store_rollback(f->s, "prod", "me", "", NULL, &d), TSL_ECONFLICT);
    assert_int_equal(tsl_store_endpoint_get(f->s, "prod", &dp, &d), TSL_OK);
    assert_int_equal(dp.version, 1);
    tsl_store_deployment_release(&dp);

    assert_int_equal(tsl_store_deployment_history(f->s, "prod", 0, &list, &n, &d), TSL_OK);
    assert_int_equal(n, 3);
    assert_true(list[0].rollback);
    assert_string_equal(list[0].why, "bad");
    assert_int_equal(list[2].id, first);
    tsl_store_deployment_list_free(list, n);
    assert_int_equal(tsl_store_deployment_history(f->s, "prod", 1, &list, &n, &d), TSL_OK);
    assert_int_equal(n, 1);
    tsl_store_deployment_list_free(list, n);

    /* Every move is an event. */
    tsl_store_event *ev = NULL;
    size_t ne = 0, deployed = 0, rolled = 0;
    assert_int_equal(tsl_store_event_list(f->s, 0, 0, &ev, &ne, &d), TSL_OK);
    for (size_t i = 0; i < ne; i++) {
        deployed += !strcmp(ev[i].type, "endpoint.deployed");
        rolled += !strcmp(ev[i].type, "endpoint.rolled_back");
    }
    tsl_store_event_list_free(ev, ne);
    assert_int_equal(deployed, 3);
    assert_int_equal(rolled, 1);
}

/* Rolling back twice walks back two deployments. */
static void test_rollback_walks_back(void **state) {
    tu_store_fx *f = *state;
    tsl_diag d = {TSL_OK, {0}};
    tsl_store_deployment dp;
    for (int i = 0; i < 3; i++) tu_store_register(f->s, "wind", TSL_MODEL_APPROVED);
    for (int v = 1; v <= 3; v++)
        assert_int_equal(tsl_store_deploy(f->s, "e", "wind", v, 1, "me", "", NULL, &d), TSL_OK);
    assert_int_equal(tsl_store_rollback(f->s, "e", "me", "", &dp, &d), TSL_OK);
    assert_int_equal(dp.version, 2);
    tsl_store_deployment_release(&dp);
    assert_int_equal(tsl_store_rollback(f->s, "e", "me", "", &dp, &d), TSL_OK);
    assert_int_equal(dp.version, 1);
    tsl_store_deployment_release(&dp);
    assert_int_equal(tsl_store_rollback(f->s, "e", "me", "", NULL, &d), TSL_ECONFLICT);
}

static void test_tokens(void **state) {
    tu_store_fx *f = *state;
    tsl_diag d = {TSL_OK, {0}};
    char a[TSL_TOKEN_CHARS + 1], b[TSL_TOKEN_CHARS + 1];
    int64_t id = 0;
    tsl_role r;
    assert_int_equal(tsl_role_parse("Approver", &r, &d), TSL_OK);
    assert_int_equal(r, TSL_ROLE_APPROVER);
    assert_int_equal(tsl_role_parse("root", &r, &d), TSL_EINVAL);
    assert_string_equal(tsl_role_name(TSL_ROLE_ADMIN), "admin");

    assert_int_equal(tsl_store_token_create(f->s, "ci", TSL_ROLE_WRITER, "me", a, &id, &d), TSL_OK);
    assert_true(id > 0);
    assert_int_equal(strlen(a), TSL_TOKEN_CHARS);
    assert_memory_equal(a, "tsl_", 4);
    assert_int_equal(tsl_store_token_create(f->s, "ci", TSL_ROLE_ADMIN, "me", b, NULL, &d),
                     TSL_ECONFLICT);
    assert_int_equal(tsl_store_token_create(f->s, "ops", TSL_ROLE_ADMIN, "me", b, NULL, &d),
                     TSL_OK);
    assert_memory_not_equal(a, b, TSL_TOKEN_CHARS);

    tsl_store_token t;
    assert_int_equal(tsl_store_token_verify(f->s, a, &t, &d), TSL_OK);
    assert_string_equal(t.name, "ci");
    assert_int_equal(t.role, TSL_ROLE_WRITER);
    unsigned char h[TSL_TOKEN_HASH];
    tsl_token_hash(a, strlen(a), h);
    assert_memory_equal(t.hash, h, TSL_TOKEN_HASH);
    tsl_store_token_release(&t);

    /* A token with one character changed, a short one, garbage: not found. */
    char wrong[TSL_TOKEN_CHARS + 1];
    memcpy(wrong, a, sizeof wrong);
    wrong[10] = wrong[10] == 'A' ? 'B' : 'A';
    assert_int_equal(tsl_store_token_verify(f->s, wrong, &t, &d), TSL_ENOTFOUND);
    assert_int_equal(tsl_store_token_verify(f->s, "tsl_short", &t, &d), TSL_ENOTFOUND);
    assert_int_equal(tsl_store_token_verify(f->s, "", &t, &d), TSL_ENOTFOUND);

    /* The token text is nowhere in the store's listing or events. */
    tsl_store_token *list = NULL;
    size_t n = 0;
    assert_int_equal(tsl_store_token_list(f->s, &list, &n, &d), TSL_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].name, "ci");
    assert_string_equal(list[1].name, "ops");
    tsl_store_token_list_free(list, n);
    tsl_store_event *ev = NULL;
    size_t ne = 0;
    assert_int_equal(tsl_store_event_list(f->s, 0, 0, &ev, &ne, &d), TSL_OK);
    for (size_t i = 0; i < ne; i++) assert_null(strstr(ev[i].payload, a + 4));
    tsl_store_event_list_free(ev, ne);

    assert_int_equal(tsl_store_token_revoke(f->s, "ci", "me", &d), TSL_OK);
    assert_int_equal(tsl_store_token_revoke(f->s, "ci", "me", &d), TSL_ECONFLICT);
    assert_int_equal(tsl_store_token_revoke(f->s, "nope", "me", &d), TSL_ENOTFOUND);
    assert_int_equal(tsl_store_token_verify(f->s, a, &t, &d), TSL_ENOTFOUND);
    assert_int_equal(tsl_store_token_verify(f->s, b, &t, &d), TSL_OK);
    assert_int_equal(t.role, TSL_ROLE_ADMIN);
    tsl_store_token_release(&t);
}

static void test_captures(void **state) {
    tu_store_fx *f = *state;
    tsl_diag d = {TSL_OK, {0}};
    int64_t mid = tu_store_register(f->s, "solar", TSL_MODEL_APPROVED);
    int64_t targets[3] = {3600, 7200, 10800};
    double levels[2] = {0.1, 0.9};
    double mean[3] = {1.5, -2.25, NAN};
    double quant[6] = {1, 2, -3, -1, 0.5, 0.75};
    tsl_store_capture_new v[3];
    memset(v, 0, sizeof v);
    for (int i = 0; i < 3; i++) {
        v[i].inference_id = i < 2 ? "req-1" : "req-2";
        v[i].endpoint = i < 2 ? "prod" : "staging";
        v[i].model_id = mid;
        v[i].item = i == 1 ? "b" : "a";
        v[i].origin = 0;
        v[i].steps = 3;
        v[i].nq = 2;
        v[i].targets = targets;
        v[i].levels = levels;
        v[i].mean = mean;
        v[i].quant = quant;
    }
    v[2].nq = 0; /* no quantiles */
    assert_int_equal(tsl_store_capture_add(f->s, v, 3, &d), TSL_OK);

    tsl_store_capture *c = NULL;
    size_t n = 0;
    assert_int_equal(tsl_store_capture_list(f->s, NULL, NULL, 0, 0, &c, &n, &d), TSL_OK);
    assert_int_equal(n, 3);
    assert_string_equal(c[0].forecaster, "solar");
    assert_int_equal(c[0].version, 1);
    assert_int_equal(c[0].steps, 3);
    assert_int_equal(c[0].nq, 2);
    assert_memory_equal(c[0].targets, targets, sizeof targets);
    assert_memory_equal(c[0].quant, quant, sizeof quant);
    assert_true(c[0].mean[1] == -2.25);
    assert_true(isnan(c[0].mean[2]));
    assert_true(c[0].at_ms > 0);
    assert_int_equal(c[2].nq, 0);
    assert_null(c[2].quant);
    int64_t first = c[0].id;
    tsl_store_capture_list_free(c, n);

    assert_int_equal(tsl_store_capture_list(f->s, "prod", NULL, 0, 0, &c, &n, &d), TSL_OK);
    assert_int_equal(n, 2);
    tsl_store_capture_list_free(c, n);
    assert_int_equal(tsl_store_capture_list(f->s, NULL, "req-2", 0, 0, &c, &n, &d), TSL_OK);
    assert_int_equal(n, 1);
    assert_string_equal(c[0].endpoint, "staging");
    tsl_store_capture_list_free(c, n);
    assert_int_equal(tsl_store_capture_list(f->s, NULL, NULL, first, 1, &c, &n, &d), TSL_OK);
    assert_int_equal(n, 1);
    assert_string_equal(c[0].item, "b");
    tsl_store_capture_list_free(c, n);

    /* A bad capture in a group: nothing of the group is written. */
    v[1].steps = 0;
    assert_int_equal(tsl_store_capture_add(f->s, v, 3, &d), TSL_EINVAL);
    v[1].steps = 3;
    v[2].inference_id = "";
    assert_int_equal(tsl_store_capture_add(f->s, v, 3, &d), TSL_EINVAL);
    assert_int_equal(tsl_store_capture_list(f->s, NULL, NULL, 0, 0, &c, &n, &d), TSL_OK);
    assert_int_equal(n, 3);
    tsl_store_capture_list_free(c, n);
}

/* The tail of a series: only the points after a time, in order, missing ones as NaN. */
static void test_item_tail(void **state) {
    tu_store_fx *f = *state;
    tsl_diag d = {TSL_OK, {0}};
    static const char csv[] = "item_id,timestamp,target_value\n"
                              "a,1970-01-01T03:00:00Z,3\n"
                              "a,1970-01-01T01:00:00Z,1\n"
                              "a,1970-01-01T02:00:00Z,NA\n"
                              "a,1970-01-01T04:00:00Z,4\n"
                              "b,1970-01-01T01:00:00Z,10\n";
    tsl_csv *c = NULL;
    if (tsl_csv_open_mem("t.csv", csv, strlen(csv), NULL, &c, &d)) fail_msg("%s", d.msg);
    tsl_store_ingest_opts o;
    memset(&o, 0, sizeof o);
    o.create = 1;
    tsl_store_receipt r;
    memset(&r, 0, sizeof r);
    if (tsl_store_ingest_csv(f->s, "ds", c, &o, &r, &d)) fail_msg("%s", d.msg);
    tsl_csv_close(c);
    tsl_store_receipt_release(&r);

    int64_t *t = NULL;
    double *v = NULL;
    size_t n = 0;
    assert_int_equal(tsl_store_item_tail(f->s, "ds", "a", 3600, &t, &v, &n, &d), TSL_OK);
    assert_int_equal(n, 3);
    assert_int_equal(t[0], 7200);
    assert_true(isnan(v[0]));
    assert_int_equal(t[2], 14400);
    assert_true(v[2] == 4);
    tsl_free(t);
    tsl_free(v);
    assert_int_equal(tsl_store_item_tail(f->s, "ds", "a", 14400, &t, &v, &n, &d), TSL_OK);
    assert_int_equal(n, 0);
    assert_null(t);
    assert_int_equal(tsl_store_item_tail(f->s, "ds", "zz", 0, &t, &v, &n, &d), TSL_OK);
    assert_int_equal(n, 0);
    assert_int_equal(tsl_store_item_tail(f->s, "nope", "a", 0, &t, &v, &n, &d), TSL_ENOTFOUND);
    assert_int_equal(tsl_store_item_tail(f->s, "ds", "", 0, &t, &v, &n, &d), TSL_EINVAL);
}

/* A clock tests move by hand. */
static int64_t fake_now = 1000000;
static int64_t fake_clock(void *ctx) {
    (void)ctx;
    return fake_now;
}

/* Jobs: queued, claimed by one handle under a lease, renewed and finished only by it, and
 * claimable again once the lease expires (a worker that died). */
static void test_jobs(void **state) {
    tu_store_fx *f = *state;
    tsl_diag d = {TSL_OK, {0}};
    char path[4200];
    snprintf(path, sizeof path, "%s/store.db", f->dir);
    tsl_store_opts o;
    memset(&o, 0, sizeof o);
    o.clock_ms = fake_clock;
    o.lease_ms = 1000;
    tsl_store *a = NULL, *b = NULL;
    if (tsl_store_open(path, &o, &a, &d) || tsl_store_open(path, &o, &b, &d)) fail_msg("%s", d.msg);

    int64_t id = 0, id2 = 0;
    assert_int_equal(
        tsl_store_job_create(a, "predict", "prod", "{\"items\":[\"a\"]}", "me", &id, &d), TSL_OK);
    assert_int_equal(tsl_store_job_create(a, "other", NULL, NULL, "me", &id2, &d), TSL_OK);
    assert_int_equal(tsl_store_job_create(a, "Bad Kind", NULL, NULL, "me", NULL, &d), TSL_EINVAL);
    assert_int_equal(tsl_store_job_create(a, "predict", NULL, "{nope", "me", NULL, &d), TSL_EINVAL);
    tsl_store_job j;
    assert_int_equal(tsl_store_job_get(a, id, &j, &d), TSL_OK);
    assert_int_equal(j.status, TSL_JOB_QUEUED);
    assert_string_equal(j.endpoint, "prod");
    assert_string_equal(tsl_job_status_name(j.status), "Queued");
    tsl_store_job_release(&j);
    assert_int_equal(tsl_store_job_get(a, 999, &j, &d), TSL_ENOTFOUND);

    int claimed = 0;
    assert_int_equal(tsl_store_job_claim(a, "predict", &j, &claimed, &d), TSL_OK);
    assert_true(claimed);
    assert_int_equal(j.id, id);
    assert_int_equal(j.status, TSL_JOB_RUNNING);
    assert_int_equal(j.attempts, 1);
    assert_int_equal(j.lease_until_ms, fake_now + 1000);
    tsl_store_job_release(&j);
    assert_int_equal(tsl_store_job_claim(b, "predict", &j, &claimed, &d), TSL_OK);
    assert_false(claimed);
    assert_int_equal(tsl_store_job_heartbeat(b, id, &d), TSL_ECONFLICT);
    assert_int_equal(tsl_store_job_finish(b, id, NULL, NULL, &d), TSL_ECONFLICT);
    fake_now += 900;
    assert_int_equal(tsl_store_job_heartbeat(a, id, &d), TSL_OK);
    fake_now += 900; /* within the renewed lease */
    assert_int_equal(tsl_store_job_claim(b, "predict", &j, &claimed, &d), TSL_OK);
    assert_false(claimed);

    /* a dies: once its lease ends, b takes the job over; a can no longer finish it. */
    fake_now += 2000;
    assert_int_equal(tsl_store_job_claim(b, "predict", &j, &claimed, &d), TSL_OK);
    assert_true(claimed);
    assert_int_equal(j.attempts, 2);
    tsl_store_job_release(&j);
    assert_int_equal(tsl_store_job_finish(a, id, "{}", NULL, &d), TSL_ECONFLICT);
    assert_int_equal(tsl_store_job_finish(b, id, "{\"rows\":24}", NULL, &d), TSL_OK);
    assert_int_equal(tsl_store_job_get(a, id, &j, &d), TSL_OK);
    assert_int_equal(j.status, TSL_JOB_SUCCEEDED);
    assert_string_equal(j.result, "{\"rows\":24}");
    assert_null(j.error);
    assert_true(j.ended_ms == fake_now);
    tsl_store_job_release(&j);
    assert_int_equal(tsl_store_job_finish(b, id, "{}", NULL, &d), TSL_ECONFLICT);

    /* Any kind; a failure keeps its error. */
    assert_int_equal(tsl_store_job_claim(a, NULL, &j, &claimed, &d), TSL_OK);
    assert_true(claimed);
    assert_int_equal(j.id, id2);
    tsl_store_job_release(&j);
    assert_int_equal(tsl_store_job_finish(a, id2, NULL, "no model", &d), TSL_OK);
    assert_int_equal(tsl_store_job_get(a, id2, &j, &d), TSL_OK);
    assert_int_equal(j.status, TSL_JOB_FAILED);
    assert_string_equal(j.error, "no model");
    tsl_store_job_release(&j);
    assert_int_equal(tsl_store_job_claim(a, NULL, &j, &claimed, &d), TSL_OK);
    assert_false(claimed);
    uint64_t jobs[4], execs[6];
    assert_int_equal(tsl_store_status_counts(a, jobs, execs, &d), TSL_OK);
    assert_int_equal(jobs[TSL_JOB_QUEUED], 0);
    assert_int_equal(jobs[TSL_JOB_FAILED], 1);
    assert_int_equal(jobs[TSL_JOB_SUCCEEDED], 1);
    assert_int_equal(execs[TSL_EXEC_SUCCEEDED], 0);
    tsl_store_close(a);
    tsl_store_close(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_deploy_rules_and_rollback, tu_store_fx_setup,
                                        tu_store_fx_teardown),
        cmocka_unit_test_setup_teardown(test_rollback_walks_back, tu_store_fx_setup,
                                        tu_store_fx_teardown),
        cmocka_unit_test_setup_teardown(test_tokens, tu_store_fx_setup, tu_store_fx_teardown),
        cmocka_unit_test_setup_teardown(test_captures, tu_store_fx_setup, tu_store_fx_teardown),
        cmocka_unit_test_setup_teardown(test_item_tail, tu_store_fx_setup, tu_store_fx_teardown),
        cmocka_unit_test_setup_teardown(test_jobs, tu_store_fx_setup, tu_store_fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
