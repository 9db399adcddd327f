/*
 * retrainer.c - the daemon's retrain trigger thread: tsl_retrain_poll (retrain.h) in a loop.
 *
 * The thread owns a store handle and its own copy of the configuration, loaded again when the
 * file's modification time changes (so `retrain:` settings follow an edited tsloop.yaml
 * without sharing the HTTP side's copy and its lock). It polls the event log every POLL_MS:
 * the reactor's work is a few small transactions per alarm or ingest, and an alarm is rare,
 * so a quarter-second delay costs nothing and needs no wake-up from the producers (which may
 * be other processes). Errors are logged and the next poll tries again: the reactor is
 * idempotent, so nothing is lost or doubled by a failed round. It only requests executions;
 * running them is the pipeline workers' job.
 */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "daemon/daemon_impl.h"
#include "tsloop/config.h"
#include "tsloop/mem.h"
#include "tsloop/retrain.h"

#define POLL_MS 250

struct tsl_retrainer {
    char *url, *config_path;
    FILE *log;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
};

/* The thread: polls until stopped. */
static void *retrainer_main(void *arg) {
    tsl_retrainer *r = arg;
    tsl_store *s = NULL;
    tsl_config *cfg = NULL;
    int64_t seen = 0;
    tsl_diag d = {TSL_OK, {0}};
    tsl_pipeline_opts o;
    memset(&o, 0, sizeof o);
    o.who = "tsloop-retrain";
    if (tsl_store_open(r->url, NULL, &s, &d)) {
        tsl_daemon_log(r->log, "error", "the retrain trigger cannot open the store", "{s:s}",
                       "error", tsl_diag_msg(&d));
        return NULL;
    }
    for (;;) {
        pthread_mutex_lock(&r->mu);
        int stop = r->stop;
        pthread_mutex_unlock(&r->mu);
        if (stop) break;
        tsl_daemon_config_refresh(r->config_path, r->log, "retrain trigger", &cfg, &seen);
        tsl_retrain_stats st;
        if (cfg) {
            if (tsl_retrain_poll(s, cfg, &o, 0, &st, &d))
                tsl_daemon_log(r->log, "error", "retrain trigger", "{s:s}", "error",
                               tsl_diag_msg(&d));
            else if (st.requested || st.suppressed)
                tsl_daemon_log(r->log, "info", "retrain trigger", "{s:I, s:I}", "requested",
                               (json_int_t)st.requested, "suppressed", (json_int_t)st.suppressed);
            if (st.events >= 1000) continue; /* more are waiting */
        }
        pthread_mutex_lock(&r->mu);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += POLL_MS * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        while (!r->stop)
            if (pthread_cond_timedwait(&r->cv, &r->mu, &until) == ETIMEDOUT) break;
        pthread_mutex_unlock(&r->mu);
    }
    tsl_config_free(cfg);
    tsl_store_close(s);
    return NULL;
}

tsl_err tsl_retrainer_start(const char *url, const char *config_path, FILE *log,
                            tsl_retrainer **out, tsl_diag *d) {
    tsl_retrainer *r = tsl_calloc(1, sizeof *r);
    r->url = tsl_strdup(url);
    r->config_path = tsl_strdup(config_path);
    r->log = log;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    *out = NULL;
    if (pthread_create(&r->thread, NULL, retrainer_main, r)) {
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->cv);
        tsl_free(r->url);
        tsl_free(r->config_path);
        tsl_free(r);
        return tsl_diag_set(d, TSL_EINTERNAL, "cannot start the retrain trigger thread");
    }
    *out = r;
    return TSL_OK;
}

void tsl_retrainer_stop(tsl_retrainer *r) {
    if (!r) return;
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    tsl_free(r->url);
    tsl_free(r->config_path);
    tsl_free(r);
}
