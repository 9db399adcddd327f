/*
 * pipeline.c - running training executions (see pipeline.h): requests, the worker loop, the
 * step driver, and the heartbeat.
 *
 * The state machine lives in the store (store.h: executions, steps, attempts, leases, retries,
 * recovery); this file drives it. For each step in order, the driver either reads back the
 * output of an attempt that already succeeded - a resumed execution never repeats a completed
 * step - or starts an attempt, runs the step function and ends the attempt with the step's
 * output in the same call. A failing step is retried by the execution's retry policy when the
 * failure may pass (the store was busy, a file or the disk could not be read or written), and
 * fails the execution at once when it cannot (bad data, a bad configuration, a bug): retrying
 * those would only repeat the message five times, later.
 *
 * The heartbeat. A step may take minutes (AutoML over thousands of series) while the lease
 * that marks the worker alive lasts 30 s, so a thread renews it on its own store handle (a
 * sibling: the same worker identity, store.h) every few seconds, and notes when a stop was
 * requested or the lease was lost. The step itself is not interrupted - the engine has no
 * cancellation points - so a stop takes effect at the next step boundary, and a lost lease
 * when the step tries to record its end (which the store then refuses, so nothing of the
 * dropped attempt is written).
 *
 * Crashes. The driver writes nothing the store does not: a worker killed at any instant
 * leaves the execution exactly as its last committed call left it, and the next claim (by any
 * worker on this host at once, elsewhere when the lease expires) recovers it (store.h):
 * the attempt that was running is failed and retried, and the execution resumes from the
 * first step that has not succeeded.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ops/pipeline_impl.h"
#include "tsloop/mem.h"

#define DEFAULT_HEARTBEAT_MS 5000
#define DEFAULT_POLL_MS      250

const char *const tsl_pipeline_steps[TSL_PIPELINE_NSTEPS] = {"validate", "automl", "compare",
                                                             "baseline", "register"};

typedef tsl_err (*step_fn)(pl_ctx *c, tsl_diag *d);

static const step_fn step_fns[TSL_PIPELINE_NSTEPS] = {tsl_pl_step_validate, tsl_pl_step_automl,
                                                      tsl_pl_step_compare, tsl_pl_step_baseline,
                                                      tsl_pl_step_register};

/* Milliseconds of the real-time clock (the store's default clock). */
static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleeps ms milliseconds (nothing for ms <= 0), resuming after signals. */
static void sleep_ms(int64_t ms) {
    if (ms <= 0) return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {}
}

/* ---- requests ---- */

tsl_err tsl_pipeline_request(tsl_store *s, const tsl_config *cfg, const char *forecaster,
                             const char *trigger, const char *dedupe_key,
                             const tsl_pipeline_opts *o, int64_t *id, tsl_exec_outcome *how,
                             tsl_diag *d) {
    const tsl_config_forecaster *f = tsl_config_forecaster_find(cfg, forecaster);
    if (!f) {
        tsl_wbuf names;
        tsl_wbuf_init(&names);
        for (size_t i = 0; i < cfg->nforecasters; i++)
            tsl_wbuf_printf(&names, "%s%s", i ? ", " : "", cfg->forecasters[i].name);
        tsl_err rc =
            tsl_diag_set(d, TSL_EINVAL, "no forecaster '%s' in tsloop.yaml, expected one of: %s",
                         forecaster, names.len ? tsl_wbuf_cstr(&names) : "(none declared)");
        tsl_wbuf_release(&names);
        return rc;
    }
    char hash[TSL_CONFIG_HASH_HEX + 1], params[128];
    tsl_config_forecaster_hash(cfg, f, hash);
    snprintf(params, sizeof params, "{\"config_hash\":\"%s\"}", hash);
    tsl_exec_request r;
    memset(&r, 0, sizeof r);
    r.forecaster = forecaster;
    r.trigger = trigger;
    r.dedupe_key = dedupe_key;
    r.params = params;
    if (o) {
        r.who = o->who;
        r.retry = o->retry;
    }
    return tsl_store_exec_request(s, &r, id, how, d);
}

/* ---- the heartbeat thread ---- */

typedef struct heartbeat {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int quit;
    int started;
    tsl_store *sib;
    int64_t id;
    int interval_ms;
    atomic_int stopping; /* a stop was requested */
    atomic_int lost;     /* the lease is no longer ours */
} heartbeat;

/* The heartbeat thread: every interval, renews the lease on the sibling handle and notes a
 * requested stop or a lost lease, until heartbeat_stop. */
static void *heartbeat_main(void *arg) {
    heartbeat *h = arg;
    pthread_mutex_lock(&h->mu);
    while (!h->quit) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        int64_t ns = (int64_t)until.tv_nsec + (int64_t)h->interval_ms * 1000000;
        until.tv_sec += (time_t)(ns / 1000000000);
        until.tv_nsec = (long)(ns % 1000000000);
        pthread_cond_timedwait(&h->cv, &h->mu, &until);
        if (h->quit) break;
        pthread_mutex_unlock(&h->mu);
        tsl_exec_status st = TSL_EXEC_EXECUTING;
        tsl_diag d = {TSL_OK, {0}};
        tsl_err rc = tsl_store_exec_heartbeat(h->sib, h->id, &st, &d);
        if (rc == TSL_ECONFLICT) atomic_store(&h->lost, 1);
        if (!rc && st == TSL_EXEC_STOPPING) atomic_store(&h->stopping, 1);
        /* Other errors (busy, I/O) are passing: the next beat tries again, the lease has room. */
        pthread_mutex_lock(&h->mu);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

/* Starts beating for execution id on a sibling of s. Without a sibling (it could not be
 * opened) the driver's own calls still renew the lease at every step boundary. */
static void heartbeat_start(heartbeat *h, tsl_store *s, int64_t id, int interval_ms) {
    memset(h, 0, sizeof *h);
    h->id = id;
    h->interval_ms = interval_ms;
    atomic_init(&h->stopping, 0);
    atomic_init(&h->lost, 0);
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    if (tsl_store_open_sibling(s, &h->sib, NULL)) return;
    h->started = pthread_create(&h->thread, NULL, heartbeat_main, h) == 0;
}

/* Stops the heartbeat thread (if it started) and closes its handle. */
static void heartbeat_stop(heartbeat *h) {
    if (h->started) {
        pthread_mutex_lock(&h->mu);
        h->quit = 1;
        pthread_cond_signal(&h->cv);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->thread, NULL);
    }
    tsl_store_close(h->sib);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
}

/* ---- the driver ---- */

static void tell(const pl_ctx *c, const char *step, tsl_pipeline_phase phase, int attempt,
                 const char *detail) {
    if (c->o->on_step) c->o->on_step(c->o->ctx, c->id, step, phase, attempt, detail);
}

/* Frees what the run context holds: the snapshot, the outputs, the bundle, a result in
 * progress. */
static void ctx_release(pl_ctx *c) {
    tsl_dataset_free(c->ds);
    for (int i = 0; i < TSL_PIPELINE_NSTEPS; i++) json_decref(c->out[i]);
    tsl_free(c->bundle);
    tsl_bundle_free(c->models);
    json_decref(c->detail);
    json_decref(c->baselines);
    json_decref(c->result);
    tsl_free(c->blob);
}

/* The failures worth retrying: the store stayed locked, or I/O failed. */
static int retryable(tsl_err e) {
    return e == TSL_EBUSY || e == TSL_EIO;
}

/* Reads back the output of step k, which succeeded in an earlier run. */
static tsl_err read_output(pl_ctx *c, int k, tsl_diag *d) {
    char *json = NULL;
    void *blob = NULL;
    size_t len = 0;
    int want_blob = k == PL_AUTOML || k == PL_BASELINE;
    tsl_err rc = tsl_store_step_output(c->s, c->id, tsl_pipeline_steps[k], &json,
                                       want_blob ? &blob : NULL, &len, d);
    if (rc) return rc;
    c->out[k] = json_loads(json, 0, NULL);
    tsl_free(json);
    if (c->out[k] && k == PL_BASELINE) {
        c->baselines = blob ? json_loadb(blob, len, 0, NULL) : NULL;
        tsl_free(blob);
        blob = NULL;
        if (!json_is_object(c->baselines)) {
            json_decref(c->out[k]);
            c->out[k] = NULL;
        }
    }
    if (!c->out[k]) {
        tsl_free(blob);
        return tsl_diag_set(d, TSL_ECORRUPT,
                            "execution %lld: the output of step %s is damaged (not JSON)",
                            (long long)c->id, tsl_pipeline_steps[k]);
    }
    if (k == PL_AUTOML) {
        c->bundle = blob;
        c->bundle_len = len;
    }
    return TSL_OK;
}

/* The recorded status of the execution (after the store ended or released it). */
static tsl_exec_status status_of(tsl_store *s, int64_t id) {
    tsl_store_exec e;
    tsl_exec_status st = TSL_EXEC_FAILED;
    if (tsl_store_exec_get(s, id, &e, NULL) == TSL_OK) {
        st = e.status;
        tsl_store_exec_release(&e);
    }
    return st;
}

/* Sleeps ms inside a step (the crash tests' window), the heartbeat keeping the lease. */
static void test_delay(const pl_ctx *c, int k) {
    const tsl_pipeline_opts *o = c->o;
    if (o->delay_step && o->delay_ms > 0 && !strcmp(o->delay_step, tsl_pipeline_steps[k]))
        sleep_ms(o->delay_ms);
}

/* Runs step k as a new attempt. Returns TSL_OK with *done set when it succeeded; TSL_OK with
 * *done clear when the execution stopped, failed or waits for a retry (*status says which);
 * an error when the store refused (TSL_ECONFLICT: the execution is no longer ours). */
static tsl_err attempt_step(pl_ctx *c, int k, heartbeat *hb, int *done, tsl_exec_status *status,
                            tsl_diag *d) {
    const char *name = tsl_pipeline_steps[k];
    int attempt = 0;
    tsl_exec_status st = TSL_EXEC_EXECUTING;
    *done = 0;
    tsl_err rc = tsl_store_step_begin(c->s, c->id, name, &attempt, &st, d);
    if (rc) return rc;
    if (attempt == 0) { /* a stop was requested: end here, between steps */
        char reason[128];
        snprintf(reason, sizeof reason, "stopped by request before step %s", name);
        if ((rc = tsl_store_exec_finish(c->s, c->id, TSL_EXEC_STOPPED, reason, d))) return rc;
        *status = TSL_EXEC_STOPPED;
        tell(c, name, TSL_PIPELINE_EXEC_END, 0, reason);
        return TSL_OK;
    }
    tell(c, name, TSL_PIPELINE_STEP_BEGIN, attempt, NULL);
    tsl_diag sd = {TSL_OK, {0}};
    c->summary[0] = '\0';
    tsl_err serr = step_fns[k](c, &sd);
    if (!serr) test_delay(c, k);
    if (atomic_load(&hb->lost)) {
        json_decref(c->result);
        c->result = NULL;
        return tsl_diag_set(d, TSL_ECONFLICT,
                            "execution %lld was taken back from this worker during step %s (its "
                            "lease expired); its work was dropped",
                            (long long)c->id, name);
    }
    if (serr) {
        int64_t retry_at = 0;
        const char *msg = tsl_diag_msg(&sd);
        tell(c, name, TSL_PIPELINE_STEP_FAILED, attempt, msg);
        if ((rc = tsl_store_step_fail(c->s, c->id, name, msg, retryable(serr), &retry_at, d)))
            return rc;
        *status = retry_at ? TSL_EXEC_EXECUTING : status_of(c->s, c->id);
        char detail[96];
        if (retry_at)
            snprintf(detail, sizeof detail, "retry of step %s in %.1f s", name,
                     (double)(retry_at - now_ms()) / 1000.0);
        tell(c, name, TSL_PIPELINE_EXEC_END, attempt,
             retry_at ? detail : tsl_exec_status_name(*status));
        return TSL_OK;
    }
    char *text = tsl_pl_dump(c->result);
    rc = tsl_store_step_succeed(c->s, c->id, name, text, c->blob, c->blob_len, d);
    tsl_free(text);
    if (rc) return rc;
    c->out[k] = c->result;
    c->result = NULL;
    if (k == PL_AUTOML) {
        c->bundle = c->blob; /* what compare and register read */
        c->blob = NULL;
        c->bundle_len = c->blob_len;
    }
    tsl_free(c->blob); /* recorded; the baseline step keeps its parsed form itself */
    c->blob = NULL;
    c->blob_len = 0;
    tell(c, name, TSL_PIPELINE_STEP_DONE, attempt, c->summary);
    *done = 1;
    return TSL_OK;
}

tsl_err tsl_pipeline_run(tsl_store *s, const tsl_config *cfg, const tsl_store_exec *e,
                         const tsl_pipeline_opts *o, tsl_exec_status *status, tsl_diag *d) {
    pl_ctx c;
    memset(&c, 0, sizeof c);
    c.s = s;
    c.cfg = cfg;
    c.o = o;
    c.id = e->id;
    *status = TSL_EXEC_EXECUTING;
    c.f = tsl_config_forecaster_find(cfg, e->forecaster);
    if (!c.f) {
        char reason[160];
        snprintf(reason, sizeof reason, "forecaster '%s' is not declared in tsloop.yaml",
                 e->forecaster);
        tsl_err rc = tsl_store_exec_finish(s, e->id, TSL_EXEC_FAILED, reason, d);
        if (!rc) *status = TSL_EXEC_FAILED;
        tell(&c, "", TSL_PIPELINE_EXEC_END, 0, reason);
        return rc;
    }
    c.dsc = &cfg->datasets[c.f->dataset_index];
    heartbeat hb;
    heartbeat_start(&hb, s, e->id, o->heartbeat_ms > 0 ? o->heartbeat_ms : DEFAULT_HEARTBEAT_MS);
    tsl_err rc = TSL_OK;
    for (int k = 0; k < TSL_PIPELINE_NSTEPS; k++) {
        const tsl_store_step *prior = NULL;
        for (size_t i = 0; i < e->nsteps; i++)
            if (!strcmp(e->steps[i].name, tsl_pipeline_steps[k])) prior = &e->steps[i];
        if (prior && prior->status == TSL_STEP_SUCCEEDED) {
            if ((rc = read_output(&c, k, d))) goto out;
            tell(&c, tsl_pipeline_steps[k], TSL_PIPELINE_STEP_SKIPPED, (int)prior->nattempts, NULL);
            continue;
        }
        int done = 0;
        if ((rc = attempt_step(&c, k, &hb, &done, status, d)) || !done) goto out;
    }
    if ((rc = tsl_store_exec_finish(s, e->id, TSL_EXEC_SUCCEEDED, NULL, d))) goto out;
    *status = TSL_EXEC_SUCCEEDED;
    tell(&c, "", TSL_PIPELINE_EXEC_END, 0, tsl_exec_status_name(*status));
out:
    heartbeat_stop(&hb);
    ctx_release(&c);
    return rc;
}

/* ---- the worker loop ---- */

/* When, at the soonest, an execution this worker could claim becomes runnable: now for a
 * queued one, its retry time for one waiting between attempts; INT64_MAX when none. */
static tsl_err next_runnable(tsl_store *s, const char *forecaster, int64_t *when, tsl_diag *d) {
    tsl_store_exec *list = NULL;
    size_t n = 0;
    *when = INT64_MAX;
    /* The newest 50: active and queued executions are at most two per forecaster, and recent. */
    tsl_err rc = tsl_store_exec_list(s, forecaster, 50, &list, &n, d);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) {
        const tsl_store_exec *e = &list[i];
        if (tsl_exec_status_terminal(e->status) || (e->owner && !e->owner_dead)) continue;
        int64_t at = e->not_before_ms;
        if (e->status == TSL_EXEC_QUEUED) {
            /* Queued behind an active execution: runnable only once that one ends, and that
             * one is in the list with its own time (or held by a live worker: not ours). */
            int behind = 0;
            for (size_t j = 0; j < n && !behind; j++)
                behind =
                    !strcmp(list[j].forecaster, e->forecaster) &&
                    (list[j].status == TSL_EXEC_EXECUTING || list[j].status == TSL_EXEC_STOPPING);
            if (behind) continue;
            at = 0;
        }
        if (at < *when) *when = at;
    }
    tsl_store_exec_list_free(list, n);
    return TSL_OK;
}

tsl_err tsl_pipeline_work(tsl_store *s, const tsl_config *cfg, const char *forecaster,
                          int64_t until_id, int64_t max_wait_ms, const tsl_pipeline_opts *o,
                          tsl_diag *d) {
    int64_t poll = o->poll_ms > 0 ? o->poll_ms : DEFAULT_POLL_MS;
    for (;;) {
        tsl_store_exec e;
        int claimed = 0;
        tsl_err rc = tsl_store_exec_claim(s, forecaster, &e, &claimed, d);
        if (rc) return rc;
        if (claimed) {
            tsl_exec_status st;
            tsl_diag rd = {TSL_OK, {0}};
            rc = tsl_pipeline_run(s, cfg, &e, o, &st, &rd);
            tsl_store_exec_release(&e);
            /* Losing an execution to another worker is its business now, not an error here. */
            if (rc && rc != TSL_ECONFLICT) {
                if (d) *d = rd;
                return rc;
            }
            continue;
        }
        if (until_id > 0) {
            tsl_store_exec t;
            if ((rc = tsl_store_exec_get(s, until_id, &t, d))) return rc;
            int ended = tsl_exec_status_terminal(t.status);
            tsl_store_exec_release(&t);
            if (ended) return TSL_OK;
            sleep_ms(poll);
            continue;
        }
        int64_t when;
        if ((rc = next_runnable(s, forecaster, &when, d))) return rc;
        int64_t wait = when == INT64_MAX ? INT64_MAX : when - now_ms();
        if (wait > max_wait_ms) return TSL_OK;
        sleep_ms(wait < poll ? (wait > 0 ? wait : 1) : poll);
    }
}
