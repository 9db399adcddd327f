/*
 * pipeworkers.c - the daemon's pipeline workers: threads that run the training executions
 * requested by anyone (`tsloop train --detach`, the API, the scheduler, alarms).
 *
 * Each thread is an ordinary pipeline worker (tsl_pipeline_work, pipeline.h) on its own store
 * handle and its own copy of tsloop.yaml: it claims a runnable execution of any forecaster,
 * runs it to its end (or until it waits for a retry), and claims again; when nothing is
 * runnable it sleeps on a condition variable for a poll interval. The store does the rest:
 * one execution per forecaster, leases renewed by the pipeline's heartbeat handle, recovery of
 * an execution whose worker died.
 *
 * Stopping. A step is not interruptible (an AutoML step holds no cancellation point), so stop
 * asks the threads to finish and waits for them up to a deadline. A thread that is still in an
 * execution then is left running while the process exits: the execution is left exactly as a
 * crash leaves it - its completed steps stored, the step in progress lost - and the next
 * worker (this daemon restarted, on this host, sees the old process gone at once) resumes it
 * after its last completed step. Since the thread may outlive stop, the state it reads is
 * then deliberately not freed.
 *
 * Reloads. SIGHUP bumps a generation counter; each thread reloads tsloop.yaml before its next
 * claim, so a forecaster added by the reload is trained by the next request.
 */
#include <errno.h>
#include <jansson.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "daemon/daemon_impl.h"
#include "tsloop/mem.h"
#include "tsloop/pipeline.h"

#define POLL_MS 500

typedef struct pw_thread {
    struct tsl_pipeworkers *pw;
    pthread_t th;
    atomic_int done; /* the thread has returned (its join cannot block) */
} pw_thread;

struct tsl_pipeworkers {
    char *url, *config_path;
    FILE *log;
    int threads; /* of each AutoML step */
    int n;
    pw_thread *th;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    atomic_int gen;    /* configuration generation: bumped by reload */
    atomic_int active; /* executions in progress */
};

/* on_step: a log line at each step boundary. */
static void on_step(void *ctx, int64_t execution, const char *step, tsl_pipeline_phase phase,
                    int attempt, const char *detail) {
    tsl_pipeworkers *pw = ctx;
    static const char *const names[] = {"begin", "done", "skipped", "failed", "end"};
    tsl_daemon_log(pw->log, phase == TSL_PIPELINE_STEP_FAILED ? "warn" : "info", "pipeline step",
                   "{s:I, s:s, s:s, s:i, s:s?}", "execution", (json_int_t)execution, "step",
                   step ? step : "", "phase", names[phase], "attempt", attempt, "detail", detail);
}

/* Sleeps up to ms or until stop; returns stop. */
static int nap(tsl_pipeworkers *pw, int ms) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += (long)ms * 1000000L;
    until.tv_sec += until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    pthread_mutex_lock(&pw->mu);
    while (!pw->stop)
        if (pthread_cond_timedwait(&pw->cv, &pw->mu, &until) == ETIMEDOUT) break;
    int stop = pw->stop;
    pthread_mutex_unlock(&pw->mu);
    return stop;
}

/* A worker thread: claim, run, repeat until stopped. */
static void *pw_main(void *arg) {
    pw_thread *me = arg;
    tsl_pipeworkers *pw = me->pw;
    tsl_store *s = NULL;
    tsl_config *cfg = NULL;
    tsl_diag d = {TSL_OK, {0}};
    int gen = -1;
    if (tsl_store_open(pw->url, NULL, &s, &d)) {
        tsl_daemon_log(pw->log, "error", "a pipeline worker cannot open the store", "{s:s}",
                       "error", tsl_diag_msg(&d));
        goto out;
    }
    tsl_pipeline_opts po;
    memset(&po, 0, sizeof po);
    po.who = "daemon";
    po.threads = pw->threads;
    po.on_step = on_step;
    po.ctx = pw;
    while (!nap(pw, 0)) {
        int want = atomic_load(&pw->gen);
        if (want != gen) {
            tsl_config *next = NULL;
            tsl_diag cd = {TSL_OK, {0}};
            if (tsl_config_load(pw->config_path, NULL, &next, &cd)) {
                tsl_daemon_log(pw->log, "error", "a pipeline worker cannot read the configuration",
                               "{s:s}", "error", tsl_diag_msg(&cd));
                if (!cfg && nap(pw, POLL_MS * 4)) break;
                if (!cfg) continue;
            } else {
                tsl_config_free(cfg);
                cfg = next;
            }
            gen = want;
        }
        atomic_fetch_add(&pw->active, 1);
        tsl_err err = tsl_pipeline_work(s, cfg, NULL, 0, POLL_MS, &po, &d);
        atomic_fetch_sub(&pw->active, 1);
        if (err)
            tsl_daemon_log(pw->log, "error", "pipeline worker", "{s:s}", "error", tsl_diag_msg(&d));
        if (nap(pw, err ? POLL_MS * 4 : POLL_MS)) break;
    }
out:
    tsl_config_free(cfg);
    tsl_store_close(s);
    atomic_store(&me->done, 1);
    return NULL;
}

tsl_err tsl_pipeworkers_start(const char *url, const char *config_path, int n, int threads,
                              FILE *log, tsl_pipeworkers **out, tsl_diag *d) {
    tsl_pipeworkers *pw = tsl_calloc(1, sizeof *pw);
    *out = NULL;
    pw->url = tsl_strdup(url);
    pw->config_path = tsl_strdup(config_path);
    pw->log = log;
    pw->threads = threads;
    pw->n = n;
    pw->th = tsl_calloc(n > 0 ? (size_t)n : 1, sizeof *pw->th);
    pthread_mutex_init(&pw->mu, NULL);
    pthread_cond_init(&pw->cv, NULL);
    for (int i = 0; i < n; i++) {
        pw->th[i].pw = pw;
        if (pthread_create(&pw->th[i].th, NULL, pw_main, &pw->th[i])) {
            tsl_pipeworkers_stop(pw, 0);
            return tsl_diag_set(d, TSL_EINTERNAL, "cannot start pipeline worker %d", i + 1);
        }
        pw->started = i + 1;
    }
    *out = pw;
    return TSL_OK;
}

void tsl_pipeworkers_reload(tsl_pipeworkers *pw) {
    if (pw) atomic_fetch_add(&pw->gen, 1);
}

int tsl_pipeworkers_active(tsl_pipeworkers *pw) {
    return pw ? atomic_load(&pw->active) : 0;
}

int tsl_pipeworkers_stop(tsl_pipeworkers *pw, int wait_ms) {
    if (!pw) return 0;
    pthread_mutex_lock(&pw->mu);
    pw->stop = 1;
    pthread_cond_broadcast(&pw->cv);
    pthread_mutex_unlock(&pw->mu);
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int left = 0;
    for (int i = 0; i < pw->started; i++) {
        for (;;) {
            if (atomic_load(&pw->th[i].done)) break;
            clock_gettime(CLOCK_MONOTONIC, &now);
            long ms = (now.tv_sec - t0.tv_sec) * 1000L + (now.tv_nsec - t0.tv_nsec) / 1000000L;
            if (ms >= wait_ms) break;
            struct timespec nap_ts = {0, 5 * 1000000L};
            nanosleep(&nap_ts, NULL);
        }
        if (atomic_load(&pw->th[i].done))
            pthread_join(pw->th[i].th, NULL);
        else {
            pthread_detach(pw->th[i].th);
            left++;
        }
    }
    if (left) {
        /* The running threads still read pw: it stays allocated until the process exits. */
        tsl_daemon_log(pw->log, "warn",
                       "stopping with executions in progress: they are left as after a crash and "
                       "resume after their last completed step",
                       "{s:i}", "workers", left);
        return left;
    }
    pthread_mutex_destroy(&pw->mu);
    pthread_cond_destroy(&pw->cv);
    tsl_free(pw->th);
    tsl_free(pw->url);
    tsl_free(pw->config_path);
    tsl_free(pw);
    return 0;
}
