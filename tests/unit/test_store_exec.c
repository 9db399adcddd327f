/*
 * test_store_exec.c - persisted pipeline executions (store.h): the state machine, steps and
 * attempts, the retry policy, dedupe keys and the one-queued rule, stops, leases, and crash
 * recovery - a worker process killed with SIGKILL in the middle of a step, between steps and
 * while stopping, and a worker on "another host" whose lease runs out. The store's clock is
 * the test's, so retry times and leases are exact.
 */
#include "testutil.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tsloop/mem.h"
#include "tsloop/store.h"

#define LEASE 30000

static int64_t fake_now = 1700000000000;

static int64_t fake_clock(void *ctx) {
    (void)ctx;
    return fake_now;
}

typedef struct fixture {
    char *dir;
    char path[4096];
    tsl_store *s;
} fixture;

static tsl_store *open_as(const char *path, const char *host) {
    tsl_store *s = NULL;
    tsl_diag d = {TSL_OK, {0}};
    tsl_store_opts o;
    memset(&o, 0, sizeof o);
    o.clock_ms = fake_clock;
    o.lease_ms = LEASE;
    o.host = host;
    if (tsl_store_open(path, &o, &s, &d)) fail_msg("opening %s: %s", path, d.msg);
    return s;
}

static int setup(void **state) {
    fixture *f = tsl_calloc(1, sizeof *f);
    f->dir = tu_tmpdir();
    snprintf(f->path, sizeof f->path, "%s/store.db", f->dir);
    f->s = open_as(f->path, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    tsl_store_close(f->s);
    tu_rmtree(f->dir);
    tsl_free(f->dir);
    tsl_free(f);
    return 0;
}

static int64_t request(tsl_store *s, const char *fc, const char *key, tsl_exec_outcome want,
                       int max_attempts) {
    tsl_exec_request r;
    memset(&r, 0, sizeof r);
    r.forecaster = fc;
    r.trigger = "manual";
    r.dedupe_key = key;
    r.params = "{\"horizon\":24}";
    r.who = "tester";
    r.retry.max_attempts = max_attempts;
    int64_t id = 0;
    tsl_exec_outcome how;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_exec_request(s, &r, &id, &how, &d)) fail_msg("request: %s", d.msg);
    if (how != want) fail_msg("request %s/%s: outcome %d, expected %d", fc, key, how, want);
    return id;
}

/* Claims and expects execution `want` (0: nothing to claim). */
static void claim(tsl_store *s, const char *fc, int64_t want) {
    tsl_store_exec e;
    int claimed = 0;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_exec_claim(s, fc, &e, &claimed, &d)) fail_msg("claim: %s", d.msg);
    if (!want) {
        if (claimed) fail_msg("claimed execution %lld, expected nothing", (long long)e.id);
        return;
    }
    if (!claimed) fail_msg("nothing claimed, expected execution %lld", (long long)want);
    assert_int_equal(e.id, want);
    assert_int_equal(e.status, TSL_EXEC_EXECUTING);
    tsl_store_exec_release(&e);
}

static int begin(tsl_store *s, int64_t id, const char *step) {
    int attempt = 0;
    tsl_exec_status st;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_step_begin(s, id, step, &attempt, &st, &d)) fail_msg("begin %s: %s", step, d.msg);
    return attempt;
}

static void succeed(tsl_store *s, int64_t id, const char *step) {
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_step_succeed(s, id, step, "{\"ok\":1}", "blob", 4, &d))
        fail_msg("succeed %s: %s", step, d.msg);
}

static tsl_store_exec get(tsl_store *s, int64_t id) {
    tsl_store_exec e;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_exec_get(s, id, &e, &d)) fail_msg("get: %s", d.msg);
    return e;
}

static size_t count_events(tsl_store *s, const char *type) {
    tsl_store_event *ev = NULL;
    size_t n = 0, k = 0;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_event_list(s, 0, 0, &ev, &n, &d)) fail_msg("events: %s", d.msg);
    for (size_t i = 0; i < n; i++) k += !strcmp(ev[i].type, type);
    tsl_store_event_list_free(ev, n);
    return k;
}

/* ---- the state machine ---- */

static void test_lifecycle(void **state) {
    fixture *f = *state;
    tsl_diag d = {TSL_OK, {0}};
    int64_t id = request(f->s, "solar", NULL, TSL_EXEC_NEW, 0);
    tsl_store_exec e = get(f->s, id);
    assert_int_equal(e.status, TSL_EXEC_QUEUED);
    assert_string_equal(e.forecaster, "solar");
    assert_string_equal(e.trigger, "manual");
    assert_string_equal(e.params, "{\"horizon\":24}");
    assert_non_null(strstr(e.dedupe_key, "unique:"));
    assert_null(e.owner);
    assert_int_equal(e.retry.max_attempts, 5);
    assert_int_equal(e.retry.first_delay_ms, 1000);
    assert_int_equal(e.nsteps, 0);
    tsl_store_exec_release(&e);

    claim(f->s, NULL, id);
    e = get(f->s, id);
    assert_non_null(e.owner);
    assert_int_equal(e.lease_until_ms, fake_now + LEASE);
    assert_false(e.owner_dead);
    assert_int_equal(e.started_ms, fake_now);
    tsl_store_exec_release(&e);

    assert_int_equal(begin(f->s, id, "validate"), 1);
    assert_int_equal(tsl_store_exec_finish(f->s, id, TSL_EXEC_SUCCEEDED, NULL, &d), TSL_ECONFLICT);
    assert_non_null(strstr(d.msg, "still running"));
    int attempt = 0;
    assert_int_equal(tsl_store_step_begin(f->s, id, "backtest", &attempt, NULL, &d), TSL_ECONFLICT);
    succeed(f->s, id, "validate");
    assert_int_equal(tsl_store_step_succeed(f->s, id, "validate", NULL, NULL, 0, &d),
                     TSL_ECONFLICT);
    assert_int_equal(tsl_store_step_begin(f->s, id, "validate", &attempt, NULL, &d), TSL_ECONFLICT);
    assert_non_null(strstr(d.msg, "already succeeded"));

    /* A retryable failure releases the execution until the policy's delay has passed. */
    assert_int_equal(begin(f->s, id, "backtest"), 1);
    int64_t at = 0;
    assert_int_equal(tsl_store_step_fail(f->s, id, "backtest", "out of memory", 1, &at, &d),
                     TSL_OK);
    assert_int_equal(at, fake_now + 1000);
    e = get(f->s, id);
    assert_int_equal(e.status, TSL_EXEC_EXECUTING);
    assert_null(e.owner);
    assert_int_equal(e.not_before_ms, at);
    assert_int_equal(e.nsteps, 2);
    assert_string_equal(e.steps[0].name, "validate");
    assert_int_equal(e.steps[0].status, TSL_STEP_SUCCEEDED);
    assert_string_equal(e.steps[0].output, "{\"ok\":1}");
    assert_int_equal(e.steps[0].output_blob_len, 4);
    assert_string_equal(e.steps[1].name, "backtest");
    assert_int_equal(e.steps[1].status, TSL_STEP_FAILED);
    assert_int_equal(e.steps[1].next_retry_ms, at);
    assert_int_equal(e.steps[1].nattempts, 1);
    assert_string_equal(e.steps[1].attempts[0].error, "out of memory");
    assert_int_equal(e.steps[1].attempts[0].ended_ms, fake_now);
    tsl_store_exec_release(&e);
    assert_int_equal(tsl_store_exec_heartbeat(f->s, id, NULL, &d), TSL_ECONFLICT);

    claim(f->s, NULL, 0); /* not yet */
    fake_now += 999;
    claim(f->s, NULL, 0);
    fake_now += 1;
    claim(f->s, "wind", 0); /* another forecaster's worker */
    claim(f->s, "solar", id);
    assert_int_equal(begin(f->s, id, "backtest"), 2);
    tsl_exec_status st = TSL_EXEC_QUEUED;
    fake_now += 5000;
    assert_int_equal(tsl_store_exec_heartbeat(f->s, id, &st, &d), TSL_OK);
    assert_int_equal(st, TSL_EXEC_EXECUTING);
    succeed(f->s, id, "backtest");

    char *json = NULL;
    void *blob = NULL;
    size_t len = 0;
    assert_int_equal(tsl_store_step_output(f->s, id, "validate", &json, &blob, &len, &d), TSL_OK);
    assert_string_equal(json, "{\"ok\":1}");
    assert_int_equal(len, 4);
    assert_memory_equal(blob, "blob", 4);
    tsl_free(json);
    tsl_free(blob);
    assert_int_equal(tsl_store_step_output(f->s, id, "nope", &json, NULL, NULL, &d), TSL_ENOTFOUND);
    assert_int_equal(tsl_store_exec_finish(f->s, id, TSL_EXEC_FAILED, NULL, &d), TSL_EINVAL);
    assert_int_equal(tsl_store_exec_finish(f->s, id, TSL_EXEC_EXECUTING, NULL, &d), TSL_EINVAL);
    assert_int_equal(tsl_store_exec_finish(f->s, id, TSL_EXEC_SUCCEEDED, NULL, &d), TSL_OK);
    e = get(f->s, id);
    assert_int_equal(e.status, TSL_EXEC_SUCCEEDED);
    assert_int_equal(e.ended_ms, fake_now);
    assert_null(e.owner);
    assert_int_equal(e.steps[1].nattempts, 2);
    assert_int_equal(e.steps[1].attempts[1].status, TSL_STEP_SUCCEEDED);
    tsl_store_exec_release(&e);
    assert_int_equal(tsl_store_exec_finish(f->s, id, TSL_EXEC_SUCCEEDED, NULL, &d), TSL_ECONFLICT);
    assert_non_null(strstr(d.msg, "already ended"));
    assert_int_equal(tsl_store_exec_get(f->s, 999, &e, &d), TSL_ENOTFOUND);

    /* Queued, Queued -> Executing, Executing -> Succeeded; three attempts ended. */
    assert_int_equal(count_events(f->s, "execution.status"), 3);
    assert_int_equal(count_events(f->s, "execution.step"), 3);
    assert_int_equal(count_events(f->s, "execution.requested"), 1);

    tsl_store_exec *list = NULL;
    size_t n = 0;
    request(f->s, "wind", NULL, TSL_EXEC_NEW, 0);
    assert_int_equal(tsl_store_exec_list(f->s, NULL, 0, &list, &n, &d), TSL_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].forecaster, "wind"); /* newest first */
    assert_int_equal(list[1].nsteps, 2);
    tsl_store_exec_list_free(list, n);
    assert_int_equal(tsl_store_exec_list(f->s, "solar", 1, &list, &n, &d), TSL_OK);
    assert_int_equal(n, 1);
    tsl_store_exec_list_free(list, n);
}

static void test_dedupe_and_queue(void **state) {
    fixture *f = *state;
    tsl_diag d = {TSL_OK, {0}};
    int64_t a = request(f->s, "solar", "ingest:1", TSL_EXEC_NEW, 0);
    claim(f->s, NULL, a);
    /* While a runs: one more run is queued; every further request joins it. */
    int64_t b = request(f->s, "solar", "ingest:2", TSL_EXEC_BEHIND, 0);
    assert_true(b != a);
    assert_int_equal(request(f->s, "solar", "alarm:7", TSL_EXEC_MERGED, 0), b);
    assert_int_equal(request(f->s, "solar", "cron:10:00", TSL_EXEC_MERGED, 0), b);
    /* A key seen before returns its execution, whatever it is doing. */
    assert_int_equal(request(f->s, "solar", "ingest:1", TSL_EXEC_DUPLICATE, 0), a);
    assert_int_equal(request(f->s, "solar", "alarm:7", TSL_EXEC_DUPLICATE, 0), b);
    /* Keys are per forecaster; other forecasters are independent. */
    int64_t c = request(f->s, "wind", "ingest:1", TSL_EXEC_NEW, 0);
    tsl_store_exec e = get(f->s, b);
    assert_int_equal(e.status, TSL_EXEC_QUEUED);
    assert_int_equal(e.requests, 3);
    assert_string_equal(e.dedupe_key, "ingest:2");
    tsl_store_exec_release(&e);

    /* b waits for a; wind's c does not. */
    claim(f->s, "solar", 0);
    claim(f->s, NULL, c);
    claim(f->s, NULL, 0);
    assert_int_equal(begin(f->s, a, "only"), 1);
    succeed(f->s, a, "only");
    assert_int_equal(tsl_store_exec_finish(f->s, a, TSL_EXEC_SUCCEEDED, NULL, &d), TSL_OK);
    claim(f->s, NULL, b);
    /* Finished: a's key still dedupes, and a new key queues behind b. */
    assert_int_equal(request(f->s, "solar", "ingest:1", TSL_EXEC_DUPLICATE, 0), a);
    int64_t g = request(f->s, "solar", "ingest:3", TSL_EXEC_BEHIND, 0);
    assert_true(g > b);
    assert_int_equal(count_events(f->s, "execution.requested"), 6);

    /* Bad requests. */
    tsl_exec_request r;
    memset(&r, 0, sizeof r);
    r.forecaster = "solar";
    assert_int_equal(tsl_store_exec_request(f->s, &r, NULL, NULL, &d), TSL_EINVAL);
    r.trigger = "manual";
    r.params = "not json";
    assert_int_equal(tsl_store_exec_request(f->s, &r, NULL, NULL, &d), TSL_EINVAL);
    r.params = NULL;
    r.retry.factor = 0.5;
    assert_int_equal(tsl_store_exec_request(f->s, &r, NULL, NULL, &d), TSL_EINVAL);
    assert_non_null(strstr(d.msg, "factor"));
}

static void test_retries_exhausted(void **state) {
    fixture *f = *state;
    tsl_diag d = {TSL_OK, {0}};
    int64_t at = 0;
    int64_t id = request(f->s, "solar", "k", TSL_EXEC_NEW, 3);
    for (int k = 1; k <= 3; k++) {
        claim(f->s, NULL, id);
        assert_int_equal(begin(f->s, id, "fit"), k);
        assert_int_equal(tsl_store_step_fail(f->s, id, "fit", "diverged", 1, &at, &d), TSL_OK);
        if (k < 3) {
            /* 1 s, then 2 s: capped exponential backoff. */
            assert_int_equal(at, fake_now + (k == 1 ? 1000 : 2000));
            fake_now = at;
        } else {
            assert_int_equal(at, 0);
        }
    }
    tsl_store_exec e = get(f->s, id);
    assert_int_equal(e.status, TSL_EXEC_FAILED);
    assert_string_equal(e.reason, "step 'fit' failed after 3 attempts: diverged");
    tsl_store_exec_release(&e);

    /* A failure that is not worth retrying ends it at once. */
    id = request(f->s, "solar", "k2", TSL_EXEC_NEW, 3);
    claim(f->s, NULL, id);
    begin(f->s, id, "validate");
    assert_int_equal(tsl_store_step_fail(f->s, id, "validate", "no data", 0, &at, &d), TSL_OK);
    assert_int_equal(at, 0);
    e = get(f->s, id);
    assert_int_equal(e.status, TSL_EXEC_FAILED);
    assert_string_equal(e.reason, "step 'validate' failed after 1 attempt: no data");
    tsl_store_exec_release(&e);
}

static void test_stop(void **state) {
    fixture *f = *state;
    tsl_diag d = {TSL_OK, {0}};
    tsl_exec_status st;
    int64_t a = request(f->s, "solar", "a", TSL_EXEC_NEW, 0);
    claim(f->s, NULL, a);
    int64_t b = request(f->s, "solar", "b", TSL_EXEC_BEHIND, 0);
    /* Queued: stops at once. */
    assert_int_equal(tsl_store_exec_stop(f->s, b, "ana", "not needed", &st, &d), TSL_OK);
    assert_int_equal(st, TSL_EXEC_STOPPED);
    tsl_store_exec e = get(f->s, b);
    assert_string_equal(e.reason, "stopped by ana: not needed");
    tsl_store_exec_release(&e);
    /* Held: Stopping until its worker reaches a step boundary. */
    begin(f->s, a, "validate");
    assert_int_equal(tsl_store_exec_stop(f->s, a, "ana", "wrong data", &st, &d), TSL_OK);
    assert_int_equal(st, TSL_EXEC_STOPPING);
    assert_int_equal(tsl_store_exec_stop(f->s, a, "ben", NULL, &st, &d), TSL_OK);
    assert_int_equal(st, TSL_EXEC_STOPPING);
    assert_int_equal(tsl_store_exec_heartbeat(f->s, a, &st, &d), TSL_OK);
    assert_int_equal(st, TSL_EXEC_STOPPING);
    succeed(f->s, a, "validate");
    int attempt = 7;
    assert_int_equal(tsl_store_step_begin(f->s, a, "backtest", &attempt, &st, &d), TSL_OK);
    assert_int_equal(attempt, 0);
    assert_int_equal(st, TSL_EXEC_STOPPING);
    assert_int_equal(tsl_store_exec_finish(f->s, a, TSL_EXEC_STOPPED, "stopping as asked", &d),
                     TSL_OK);
    assert_int_equal(tsl_store_exec_stop(f->s, a, "ana", NULL, &st, &d), TSL_ECONFLICT);
    /* A new request is not blocked by the stopped ones. */
    int64_t c = request(f->s, "solar", "c", TSL_EXEC_NEW, 0);
    /* Waiting for a retry (nobody holds it): stops at once. */
    claim(f->s, NULL, c);
    begin(f->s, c, "fit");
    int64_t at = 0;
    assert_int_equal(tsl_store_step_fail(f->s, c, "fit", "flaky", 1, &at, &d), TSL_OK);
    assert_int_equal(tsl_store_exec_stop(f->s, c, "", "", &st, &d), TSL_OK);
    assert_int_equal(st, TSL_EXEC_STOPPED);
    e = get(f->s, c);
    assert_string_equal(e.reason, "stopped by someone");
    tsl_store_exec_release(&e);
}

/* ---- crashes ---- */

/* What a killed worker does before it dies. */
enum { DIE_IN_STEP, DIE_BETWEEN_STEPS, DIE_IN_SECOND_ATTEMPT };

/* Forks a worker that opens its own handle, claims id, works until `when`, and kills itself
 * with SIGKILL; waits for it. */
static void worker_dies(const char *path, int64_t id, int when) {
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        tsl_store *s = NULL;
        tsl_store_opts o;
        memset(&o, 0, sizeof o);
        o.clock_ms = fake_clock;
        o.lease_ms = LEASE;
        tsl_store_exec e;
        int claimed = 0, attempt = 0;
        if (tsl_store_open(path, &o, &s, NULL) ||
            tsl_store_exec_claim(s, NULL, &e, &claimed, NULL) || !claimed || e.id != id)
            _exit(3);
        if (when == DIE_IN_SECOND_ATTEMPT) {
            if (tsl_store_step_begin(s, id, "backtest", &attempt, NULL, NULL) || attempt != 2)
                _exit(4);
        } else {
            if (tsl_store_step_begin(s, id, "validate", &attempt, NULL, NULL) ||
                tsl_store_step_succeed(s, id, "validate", "{\"rows\":100}", NULL, 0, NULL))
                _exit(5);
            if (when == DIE_IN_STEP &&
                tsl_store_step_begin(s, id, "backtest", &attempt, NULL, NULL))
                _exit(6);
        }
        raise(SIGKILL);
        _exit(7);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
        fail_msg("the worker did not die as planned (status %d)", status);
}

static void test_crash_in_step(void **state) {
    fixture *f = *state;
    tsl_diag d = {TSL_OK, {0}};
    size_t n = 0;
    int64_t id = request(f->s, "solar", "k", TSL_EXEC_NEW, 2);
    worker_dies(f->path, id, DIE_IN_STEP);
    tsl_store_exec e = get(f->s, id);
    assert_int_equal(e.status, TSL_EXEC_EXECUTING);
    assert_non_null(e.owner);
    assert_true(e.owner_dead); /* same host, process gone: no need to wait for the lease */
    tsl_store_exec_release(&e);

    assert_int_equal(tsl_store_exec_recover(f->s, &n, &d), TSL_OK);
    assert_int_equal(n, 1);
    e = get(f->s, id);
    assert_null(e.owner);
    assert_int_equal(e.recoveries, 1);
    assert_int_equal(e.not_before_ms, fake_now + 1000);
    assert_int_equal(e.nsteps, 2);
    assert_int_equal(e.steps[0].status, TSL_STEP_SUCCEEDED);
    assert_int_equal(e.steps[1].status, TSL_STEP_FAILED);
    assert_non_null(
        strstr(e.steps[1].attempts[0].error, "died during attempt 1 of step 'backtest'"));
    assert_non_null(strstr(e.steps[1].attempts[0].error, "its process is gone"));
    tsl_store_exec_release(&e);
    assert_int_equal(tsl_store_exec_recover(f->s, &n, &d), TSL_OK);
    assert_int_equal(n, 0);
    assert_int_equal(count_events(f->s, "execution.recovered"), 1);

    /* Resumed after the last completed step: the retry starts at backtest, attempt 2. And when
     * that worker dies too, the policy's two attempts are spent: the execution fails. */
    fake_now += 1000;
    worker_dies(f->path, id, DIE_IN_SECOND_ATTEMPT);
    claim(f->s, NULL, 0); /* recovers, and there is nothing left to run */
    e = get(f->s, id);
    assert_int_equal(e.status, TSL_EXEC_FAILED);
    assert_non_null(strstr(e.reason, "step 'backtest' failed after 2 attempts: worker"));
    assert_non_null(strstr(e.reason, "died during attempt 2"));
    tsl_store_exec_release(&e);
}

static void test_crash_between_steps(void **state) {
    fixture *f = *state;
    int64_t id = request(f->s, "solar", "k", TSL_EXEC_NEW, 0);
    worker_dies(f->path, id, DIE_BETWEEN_STEPS);
    /* The next claim takes it back and hands it out at once: no step was lost. */
    claim(f->s, NULL, id);
    tsl_store_exec e = get(f->s, id);
    assert_int_equal(e.recoveries, 1);
    assert_int_equal(e.nsteps, 1);
    assert_int_equal(e.steps[0].status, TSL_STEP_SUCCEEDED);
    tsl_store_exec_release(&e);
    assert_int_equal(begin(f->s, id, "backtest"), 1);
}

static void test_crash_while_stopping(void **state) {
    fixture *f = *state;
    tsl_diag d = {TSL_OK, {0}};
    tsl_exec_status st;
    int64_t id = request(f->s, "solar", "k", TSL_EXEC_NEW, 0);
    worker_dies(f->path, id, DIE_IN_STEP);
    assert_int_equal(tsl_store_exec_stop(f->s, id, "ana", "enough", &st, &d), TSL_OK);
    assert_int_equal(st, TSL_EXEC_STOPPING);
    size_t n = 0;
    assert_int_equal(tsl_store_exec_recover(f->s, &n, &d), TSL_OK);
    assert_int_equal(n, 1);
    tsl_store_exec e = get(f->s, id);
    assert_int_equal(e.status, TSL_EXEC_STOPPED);
    assert_non_null(strstr(e.reason, "stop requested"));
    tsl_store_exec_release(&e);
}

static void test_lease_expiry(void **state) {
    fixture *f = *state;
    tsl_diag d = {TSL_OK, {0}};
    size_t n = 0;
    /* A worker on another machine: only its lease tells whether it lives. */
    tsl_store *far = open_as(f->path, "elsewhere");
    int64_t id = request(f->s, "solar", "k", TSL_EXEC_NEW, 0);
    claim(far, NULL, id);
    assert_int_equal(begin(far, id, "validate"), 1);
    fake_now += LEASE - 1;
    assert_int_equal(tsl_store_exec_recover(f->s, &n, &d), TSL_OK);
    assert_int_equal(n, 0);
    assert_int_equal(tsl_store_exec_heartbeat(far, id, NULL, &d), TSL_OK); /* renewed */
    fake_now += LEASE - 1;
    assert_int_equal(tsl_store_exec_recover(f->s, &n, &d), TSL_OK);
    assert_int_equal(n, 0);
    fake_now += 1;
    tsl_store_exec e = get(f->s, id);
    assert_true(e.owner_dead);
    assert_non_null(strstr(e.owner, "elsewhere:"));
    tsl_store_exec_release(&e);
    claim(f->s, NULL, 0); /* recovered; its retry is due in 1 s */
    e = get(f->s, id);
    assert_non_null(strstr(e.steps[0].attempts[0].error, "its lease expired"));
    tsl_store_exec_release(&e);
    /* The old worker wakes up: it no longer holds the execution and must drop the work. */
    assert_int_equal(tsl_store_step_succeed(far, id, "validate", NULL, NULL, 0, &d), TSL_ECONFLICT);
    assert_non_null(strstr(d.msg, "not held by this worker"));
    fake_now += 1000;
    claim(f->s, NULL, id);
    assert_int_equal(tsl_store_exec_heartbeat(far, id, NULL, &d), TSL_ECONFLICT);
    assert_non_null(strstr(d.msg, "held by worker"));
    assert_int_equal(begin(f->s, id, "validate"), 2);
    tsl_store_close(far);

    /* A heartbeat thread's handle: a sibling holds what its worker holds; a stranger does not. */
    tsl_store *sib = NULL;
    assert_int_equal(tsl_store_open_sibling(f->s, &sib, &d), TSL_OK);
    fake_now += LEASE - 1;
    assert_int_equal(tsl_store_exec_heartbeat(sib, id, NULL, &d), TSL_OK);
    fake_now += LEASE - 1;
    size_t n2 = 0;
    tsl_store *other = open_as(f->path, NULL);
    assert_int_equal(tsl_store_exec_recover(other, &n2, &d), TSL_OK);
    assert_int_equal(n2, 0);
    assert_int_equal(tsl_store_exec_heartbeat(other, id, NULL, &d), TSL_ECONFLICT);
    succeed(f->s, id, "validate");
    tsl_store_close(other);
    tsl_store_close(sib);
}

/* An ingest killed between batches: its committed batches stay, its record says so. */
static void test_interrupted_ingest(void **state) {
    fixture *f = *state;
    tsl_diag d = {TSL_OK, {0}};
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        tsl_store *s = NULL;
        tsl_store_ingest *in = NULL;
        tsl_store_ingest_opts o;
        memset(&o, 0, sizeof o);
        o.create = 1;
        o.batch_rows = 2;
        o.source = "big.csv";
        if (tsl_store_open(f->path, NULL, &s, NULL) ||
            tsl_store_ingest_begin(s, "sales", NULL, 0, &o, &in, NULL))
            _exit(3);
        tsl_csv_row row;
        memset(&row, 0, sizeof row);
        row.item = "a";
        row.item_len = 1;
        for (int k = 0; k < 5; k++) {
            row.time = 86400 * (k + 1);
            row.value = k;
            if (tsl_store_ingest_add(in, &row, NULL)) _exit(4);
        }
        raise(SIGKILL);
        _exit(5);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    tsl_store_ingest_info *ing = NULL;
    size_t n = 0;
    assert_int_equal(tsl_store_ingest_list(f->s, "sales", 0, &ing, &n, &d), TSL_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ing[0].status, TSL_INGEST_INTERRUPTED);
    assert_string_equal(ing[0].source, "big.csv");
    assert_int_equal(ing[0].receipt.inserted, 4); /* two batches of two */
    tsl_store_ingest_info_list_free(ing, n);
    int ok = 0;
    assert_int_equal(tsl_store_dataset_verify(f->s, "sales", &ok, &d), TSL_OK);
    assert_true(ok);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dedupe_and_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retries_exhausted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_in_step, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_between_steps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_while_stopping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lease_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupted_ingest, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
