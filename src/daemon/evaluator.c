/*
 * evaluator.c - the daemon's evaluator thread: follows the event log and evaluates the
 * monitors as soon as ground truth is stored, however it arrived (the HTTP ingest route, an
 * inbox file, another process's `tsloop ingest`).
 *
 * It polls the log every EVAL_POLL_MS from the persisted cursor TSL_MONITOR_CURSOR
 * (tsl_monitor_follow), so a restart resumes after the last ingest it handled and nothing is
 * evaluated from memory. A poll that finds nothing costs one indexed read; 100 ms keeps the
 * time from the breaching data's commit to its alarm well under the one-second bar, with the
 * evaluation itself taking a few milliseconds. Freshness monitors are checked once a second,
 * on the wall clock. Errors are logged and retried on the next poll: the cursor only moves
 * past what was handled. The thread keeps its own copy of tsloop.yaml, loaded again when the
 * file changes (cfgwatch.c), so a monitor added or edited is evaluated from the next ingest
 * on without a restart.
 */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "daemon/daemon_impl.h"
#include "tsloop/mem.h"
#include "tsloop/monitor.h"
#include "tsloop/shadow.h"

#define EVAL_POLL_MS       100
#define FRESHNESS_EVERY_MS 1000
#define EVENTS_PER_POLL    100

struct tsl_evaluator {
    char *url;
    char *config_path;
    FILE *log;
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
};

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The thread: poll, evaluate, sleep until the next poll or stop. */
static void *evaluator_main(void *arg) {
    tsl_evaluator *e = arg;
    tsl_store *s = NULL;
    tsl_diag d = {TSL_OK, {0}};
    int64_t next_fresh = 0, seen = 0;
    int first = 1;
    tsl_config *cfg = NULL;
    if (tsl_store_open(e->url, NULL, &s, &d)) {
        tsl_daemon_log(e->log, "error", "evaluator: cannot open the store", "{s:s}", "error",
                       tsl_diag_msg(&d));
        return NULL;
    }
    for (;;) {
        pthread_mutex_lock(&e->mu);
        int stop = e->stop;
        pthread_mutex_unlock(&e->mu);
        if (stop) break;
        tsl_daemon_config_refresh(e->config_path, e->log, "evaluator", &cfg, &seen);
        tsl_monitor_stats st = {0};
        int64_t now = wall_ms();
        d = (tsl_diag){TSL_OK, {0}};
        if (!cfg) {
            /* no configuration yet: wait for a file that loads */
        } else if (tsl_monitor_follow(s, cfg, EVENTS_PER_POLL, now, &st, &d))
            tsl_daemon_log(e->log, "error", "evaluator: evaluating the monitors failed", "{s:s}",
                           "error", tsl_diag_msg(&d));
        else if (st.events)
            tsl_daemon_log(e->log, "info", "evaluated", "{s:I, s:I, s:I, s:I}", "ingests",
                           (json_int_t)st.events, "windows", (json_int_t)st.windows, "datapoints",
                           (json_int_t)st.datapoints, "ms", (json_int_t)(wall_ms() - now));
        if (cfg && (st.events || first)) {
            /* New actuals may complete a shadow's windows (shadow.h); the first round also
             * decides a comparison a crash left undecided. */
            tsl_shadow_stats ss = {0};
            first = 0;
            d = (tsl_diag){TSL_OK, {0}};
            if (tsl_shadow_poll(s, cfg, now, &ss, &d))
                tsl_daemon_log(e->log, "error", "evaluator: judging the shadows failed", "{s:s}",
                               "error", tsl_diag_msg(&d));
            else if (ss.completed || ss.approved || ss.deployed)
                tsl_daemon_log(e->log, "info", "shadow compared", "{s:I, s:I, s:I}", "completed",
                               (json_int_t)ss.completed, "approved", (json_int_t)ss.approved,
                               "deployed", (json_int_t)ss.deployed);
        }
        if (cfg && now >= next_fresh) {
            next_fresh = now + FRESHNESS_EVERY_MS;
            for (size_t i = 0; i < cfg->nmonitors; i++) {
                if (cfg->monitors[i].kind != TSL_MONITOR_FRESHNESS) continue;
                d = (tsl_diag){TSL_OK, {0}};
                if (tsl_monitor_freshness(s, &cfg->monitors[i], now, NULL, &d))
                    tsl_daemon_log(e->log, "error", "evaluator: freshness check failed",
                                   "{s:s, s:s}", "monitor", cfg->monitors[i].name, "error",
                                   tsl_diag_msg(&d));
            }
        }
        if (st.events == EVENTS_PER_POLL) continue; /* more are waiting */
        pthread_mutex_lock(&e->mu);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += EVAL_POLL_MS * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        while (!e->stop)
            if (pthread_cond_timedwait(&e->cv, &e->mu, &until) == ETIMEDOUT) break;
        pthread_mutex_unlock(&e->mu);
    }
    tsl_config_free(cfg);
    tsl_store_close(s);
    return NULL;
}

tsl_err tsl_evaluator_start(const char *url, const char *config_path, FILE *log,
                            tsl_evaluator **out, tsl_diag *d) {
    *out = NULL;
    tsl_evaluator *e = tsl_calloc(1, sizeof *e);
    e->url = tsl_strdup(url);
    e->config_path = tsl_strdup(config_path);
    e->log = log;
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    if (pthread_create(&e->thread, NULL, evaluator_main, e)) {
        tsl_evaluator_stop(e);
        return tsl_diag_set(d, TSL_EINTERNAL, "cannot start the evaluator thread");
    }
    e->started = 1;
    *out = e;
    return TSL_OK;
}

void tsl_evaluator_stop(tsl_evaluator *e) {
    if (!e) return;
    pthread_mutex_lock(&e->mu);
    e->stop = 1;
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
    if (e->started) pthread_join(e->thread, NULL);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->cv);
    tsl_free(e->url);
    tsl_free(e->config_path);
    tsl_free(e);
}
