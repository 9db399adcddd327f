/*
 * scheduler.c - the daemon's scheduler: each forecaster's `schedule.forecast` and
 * `schedule.retrain` (five-field cron on the wall clock of `schedule.timezone`, UTC by
 * default; tsl_cron_next_tz's daylight-saving rules), run by one daemon per project.
 *
 * One scheduler per store. Every daemon runs this thread, but it schedules only while it
 * holds the store's lock row "scheduler" (tsl_store_lock_acquire), renewed every tick under a
 * lease: a second daemon on the same project serves but waits, and takes over when the
 * holder's lease ends or its process is gone. /readyz and /metrics say which is which.
 *
 * Fire times run once. Fire times are UTC instants whatever the zone (a fall-back's repeated
 * 02:30 is two different instants), and each schedule's last fire time is kept in the store; a fire
 * time is run only by the daemon whose claim raised it (tsl_store_schedule_claim, a conditional
 * update), so neither a restart nor a second daemon taking over runs it again. A claimed fire time
 * whose run is interrupted is not retried: at most once, as a cron job. Missed fire times - while
 * no daemon scheduled - follow one rule: of those after the schedule's last recorded fire time,
 * only the latest runs, at once, and only when it is less than one period old (the interval
 * between it and the fire time before it). For a regular schedule the latest missed fire time
 * always is (its next one has not come yet); for an irregular one ("0 10 * * 1-5") a Friday
 * fire time found on Sunday is older than its period and is skipped, with a log line. A schedule
 * never fired before starts from the moment this scheduler first saw it: nothing is run for the
 * past.
 *
 * What a fire does. forecast: every endpoint whose deployed version belongs to the forecaster
 * gets a batch forecast of all its items (tsl_predict: the forecast CSV, captured under the
 * inference id "scheduled:F:E:TIME"), written to OUTDIR/forecast-F-E-TIME.csv, and the event
 * forecast.scheduled. retrain: tsl_pipeline_request with trigger "schedule" and the dedupe key
 * "schedule:F:TIME" (not subject to the retraining cooldown), for the pipeline workers, and
 * the event retrain.requested (trigger "schedule").
 *
 * The clock is the real one, or - for tests - one that starts at a given time and runs at the
 * real rate (the daemon's sched_clock_start), so a test can start a minute schedule two
 * seconds before its fire time.
 */
#include <errno.h>
#include <jansson.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "daemon/daemon_impl.h"
#include "tsloop/config.h"
#include "tsloop/mem.h"
#include "tsloop/pipeline.h"

#define LOCK_NAME "scheduler"
/* The oldest past the catch-up looks at: bounds the walk over a minute schedule's fire times. */
#define CATCHUP_S (400LL * 86400)

struct tsl_scheduler {
    tsl_scheduler_opts o;
    char *url, *config_path, *outdir;
    pthread_t th;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    atomic_int gen, leader;
    atomic_llong fires;
    int64_t mono0_ms;   /* the monotonic clock when started (for the test clock) */
    int64_t first_seen; /* the clock when the scheduler started: no fire before it */
    char holder[300];
    pthread_mutex_t holder_mu;
};

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The scheduler's clock, seconds since the epoch. */
static int64_t sched_now(const tsl_scheduler *sc) {
    if (sc->o.clock_start) return sc->o.clock_start + (mono_ms() - sc->mono0_ms) / 1000;
    return (int64_t)time(NULL);
}

/* "20260101T1000Z": a fire time in file names and ids. */
static void stamp(int64_t t, char *buf, size_t cap) {
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, cap, "%Y%m%dT%H%MZ", &tm);
}

/* Forecasts every item of every endpoint that serves forecaster f, for fire time at. */
static void fire_forecast(tsl_scheduler *sc, tsl_store *s, const char *f, int64_t at) {
    tsl_store_deployment *v = NULL;
    size_t n = 0, served = 0;
    tsl_diag d = {TSL_OK, {0}};
    char when[32];
    stamp(at, when, sizeof when);
    if (tsl_store_endpoint_list(s, &v, &n, &d)) {
        tsl_daemon_log(sc->o.log, "error", "scheduled forecast: cannot list the endpoints",
                       "{s:s, s:s}", "forecaster", f, "error", tsl_diag_msg(&d));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].forecaster, f)) continue;
        served++;
        char id[160], path[4400];
        snprintf(id, sizeof id, "scheduled:%s:%s:%s", f, v[i].endpoint, when);
        snprintf(path, sizeof path, "%s/forecast-%s-%s-%s.csv", sc->outdir, f, v[i].endpoint, when);
        tsl_predict_opts po;
        memset(&po, 0, sizeof po);
        po.inference_id = id;
        tsl_predict_result r;
        memset(&r, 0, sizeof r);
        tsl_diag pd = {TSL_OK, {0}};
        if (tsl_predict(s, v[i].endpoint, path, &po, &r, &pd)) {
            tsl_daemon_log(sc->o.log, "error", "scheduled forecast failed", "{s:s, s:s, s:s}",
                           "forecaster", f, "endpoint", v[i].endpoint, "error", tsl_diag_msg(&pd));
            continue;
        }
        char subject[TSL_STORE_NAME_MAX + 16];
        snprintf(subject, sizeof subject, "endpoint:%s", v[i].endpoint);
        json_t *j =
            json_pack("{s:s, s:s, s:i, s:I, s:s, s:s, s:I}", "endpoint", v[i].endpoint,
                      "forecaster", f, "version", r.version, "items", (json_int_t)r.items, "file",
                      path, "inference_id", r.inference_id, "fire_time", (json_int_t)at);
        char *payload = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        tsl_diag ed = {TSL_OK, {0}};
        if (tsl_store_event_append(s, "forecast.scheduled", subject, payload, NULL, &ed))
            tsl_daemon_log(sc->o.log, "error", "cannot record forecast.scheduled", "{s:s}", "error",
                           tsl_diag_msg(&ed));
        free(payload);
        tsl_daemon_log(sc->o.log, "info", "scheduled forecast written",
                       "{s:s, s:s, s:i, s:I, s:s, s:I}", "forecaster", f, "endpoint", v[i].endpoint,
                       "version", r.version, "items", (json_int_t)r.items, "file", path, "captured",
                       (json_int_t)r.captured);
    }
    tsl_store_deployment_list_free(v, n);
    if (!served)
        tsl_daemon_log(sc->o.log, "warn", "scheduled forecast: no endpoint serves the forecaster",
                       "{s:s}", "forecaster", f);
}

/* Requests a training execution of forecaster f for fire time at. */
static void fire_retrain(tsl_scheduler *sc, tsl_store *s, const tsl_config *cfg, const char *f,
                         int64_t at) {
    char when[32], key[TSL_CONFIG_MAX_NAME + 48];
    stamp(at, when, sizeof when);
    snprintf(key, sizeof key, "schedule:%s:%s", f, when);
    tsl_pipeline_opts po;
    memset(&po, 0, sizeof po);
    po.who = "scheduler";
    int64_t id = 0;
    tsl_exec_outcome how;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_pipeline_request(s, cfg, f, "schedule", key, &po, &id, &how, &d)) {
        tsl_daemon_log(sc->o.log, "error", "scheduled retraining: request failed", "{s:s, s:s}",
                       "forecaster", f, "error", tsl_diag_msg(&d));
        return;
    }
    tsl_daemon_log(sc->o.log, "info", "scheduled retraining requested", "{s:s, s:I, s:s}",
                   "forecaster", f, "execution", (json_int_t)id, "dedupe_key", key);
    /* The shared contract's record of a retraining request, whatever triggered it. */
    char subject[TSL_CONFIG_MAX_NAME + 16], reason[TSL_CONFIG_MAX_NAME + 64];
    snprintf(subject, sizeof subject, "forecaster:%s", f);
    snprintf(reason, sizeof reason, "schedule.retrain fire time %s", when);
    json_t *j = json_pack("{s:s, s:s, s:s, s:I}", "forecaster", f, "trigger", "schedule", "reason",
                          reason, "execution_id", (json_int_t)id);
    char *payload = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (tsl_store_event_append(s, "retrain.requested", subject, payload, NULL, &d))
        tsl_daemon_log(sc->o.log, "error", "cannot record retrain.requested", "{s:s}", "error",
                       tsl_diag_msg(&d));
    free(payload);
}

/* The fire time of cron c due now for schedule key (0: none), by the rule of the header. */
static tsl_err due(tsl_scheduler *sc, tsl_store *s, const tsl_cron *c, const tsl_tz *tz,
                   const char *key, int64_t now, int64_t *out, int *stale, tsl_diag *d) {
    int64_t last = 0, t, prev = 0, f = 0;
    int found = 0;
    tsl_err err;
    *out = 0;
    *stale = 0;
    if ((err = tsl_store_schedule_last(s, key, &last, &found, d))) return err;
    t = found ? last : sc->first_seen;
    if (t < now - CATCHUP_S) t = now - CATCHUP_S;
    if (found) prev = t; /* the fire time before the first one found below */
    for (;;) {
        int64_t next = 0;
        tsl_diag nd = {TSL_OK, {0}};
        tsl_err nrc =
            tz ? tsl_cron_next_tz(c, t, tz, &next, &nd) : tsl_cron_next(c, t, 0, &next, &nd);
        if (nrc) return TSL_OK; /* never again */
        if (next > now) break;
        prev = f;
        f = next;
        t = next;
    }
    if (!f) return TSL_OK;
    *out = f;
    if (prev && now - f >= f - prev) *stale = 1;
    return TSL_OK;
}

/* One pass over the schedules of cfg (this scheduler holds the lock). */
static void tick(tsl_scheduler *sc, tsl_store *s, const tsl_config *cfg) {
    int64_t now = sched_now(sc);
    for (size_t i = 0; i < cfg->nforecasters; i++) {
        const tsl_config_forecaster *fc = &cfg->forecasters[i];
        for (int kind = 0; kind < 2; kind++) {
            const char *expr = kind ? fc->retrain_cron : fc->forecast_cron;
            if (!expr) continue;
            char key[TSL_CONFIG_MAX_NAME + 16];
            snprintf(key, sizeof key, "%s:%s", kind ? "retrain" : "forecast", fc->name);
            int64_t at = 0;
            int stale = 0, first = 0;
            tsl_diag d = {TSL_OK, {0}};
            if (due(sc, s, kind ? &fc->retrain : &fc->forecast, fc->schedule_tz, key, now, &at,
                    &stale, &d) ||
                (at && tsl_store_schedule_claim(s, key, at, &first, &d))) {
                tsl_daemon_log(sc->o.log, "error", "scheduler: store error", "{s:s, s:s}",
                               "schedule", key, "error", tsl_diag_msg(&d));
                continue;
            }
            if (!at || !first) continue;
            char when[32];
            stamp(at, when, sizeof when);
            if (stale) {
                tsl_daemon_log(sc->o.log, "warn",
                               "missed fire time skipped: more than one period old", "{s:s, s:s}",
                               "schedule", key, "fire_time", when);
                continue;
            }
            atomic_fetch_add(&sc->fires, 1);
            tsl_daemon_log(sc->o.log, "info", "schedule fired", "{s:s, s:s, s:I}", "schedule", key,
                           "fire_time", when, "late_s", (json_int_t)(now - at));
            if (kind)
                fire_retrain(sc, s, cfg, fc->name, at);
            else
                fire_forecast(sc, s, fc->name, at);
            /* A long forecast may have used much of the lease: renew it before going on, and
             * stop this tick if another daemon took the lock meanwhile. */
            int held = 0;
            if (tsl_store_lock_acquire(s, LOCK_NAME, sc->o.lease_ms, &held, NULL, 0, &d) || !held) {
                atomic_store(&sc->leader, 0);
                return;
            }
        }
    }
}

/* Sleeps up to ms or until stop; returns stop. */
static int nap(tsl_scheduler *sc, int ms) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += (long)ms * 1000000L;
    until.tv_sec += until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    pthread_mutex_lock(&sc->mu);
    while (!sc->stop)
        if (pthread_cond_timedwait(&sc->cv, &sc->mu, &until) == ETIMEDOUT) break;
    int stop = sc->stop;
    pthread_mutex_unlock(&sc->mu);
    return stop;
}

static void *sched_main(void *arg) {
    tsl_scheduler *sc = arg;
    tsl_store *s = NULL;
    tsl_config *cfg = NULL;
    tsl_diag d = {TSL_OK, {0}};
    int gen = -1;
    if (tsl_store_open(sc->url, NULL, &s, &d)) {
        tsl_daemon_log(sc->o.log, "error", "the scheduler cannot open the store", "{s:s}", "error",
                       tsl_diag_msg(&d));
        return NULL;
    }
    do {
        int held = 0;
        char holder[300] = "";
        if (tsl_store_lock_acquire(s, LOCK_NAME, sc->o.lease_ms, &held, holder, sizeof holder,
                                   &d)) {
            tsl_daemon_log(sc->o.log, "error", "scheduler: cannot take the lock", "{s:s}", "error",
                           tsl_diag_msg(&d));
            held = 0;
        }
        pthread_mutex_lock(&sc->holder_mu);
        tsl_strlcpy(sc->holder, holder, sizeof sc->holder);
        pthread_mutex_unlock(&sc->holder_mu);
        if (held != atomic_exchange(&sc->leader, held))
            tsl_daemon_log(sc->o.log, "info",
                           held ? "this daemon schedules" : "another daemon schedules", "{s:s}",
                           "holder", holder);
        if (!held) continue;
        int want = atomic_load(&sc->gen);
        if (want != gen) {
            tsl_config *next = NULL;
            tsl_diag cd = {TSL_OK, {0}};
            if (tsl_config_load(sc->config_path, NULL, &next, &cd))
                tsl_daemon_log(sc->o.log, "error", "scheduler: the configuration was not read",
                               "{s:s}", "error", tsl_diag_msg(&cd));
            else {
                tsl_config_free(cfg);
                cfg = next;
                gen = want;
            }
        }
        if (cfg) tick(sc, s, cfg);
    } while (!nap(sc, sc->o.tick_ms));
    if (atomic_load(&sc->leader)) {
        tsl_diag rd = {TSL_OK, {0}};
        if (tsl_store_lock_release(s, LOCK_NAME, &rd))
            tsl_daemon_log(sc->o.log, "warn", "scheduler: the lock was not released", "{s:s}",
                           "error", tsl_diag_msg(&rd));
    }
    tsl_config_free(cfg);
    tsl_store_close(s);
    return NULL;
}

tsl_err tsl_scheduler_start(const char *url, const char *config_path, const char *outdir,
                            const tsl_scheduler_opts *o, tsl_scheduler **out, tsl_diag *d) {
    tsl_scheduler *sc = tsl_calloc(1, sizeof *sc);
    *out = NULL;
    sc->o = *o;
    if (sc->o.lease_ms <= 0) sc->o.lease_ms = 15000;
    if (sc->o.tick_ms <= 0) sc->o.tick_ms = 1000;
    if (!sc->o.log) sc->o.log = stderr;
    sc->url = tsl_strdup(url);
    sc->config_path = tsl_strdup(config_path);
    sc->outdir = tsl_strdup(outdir);
    sc->mono0_ms = mono_ms();
    sc->first_seen = sched_now(sc);
    pthread_mutex_init(&sc->mu, NULL);
    pthread_mutex_init(&sc->holder_mu, NULL);
    pthread_cond_init(&sc->cv, NULL);
    if (pthread_create(&sc->th, NULL, sched_main, sc)) {
        tsl_scheduler_stop(sc);
        return tsl_diag_set(d, TSL_EINTERNAL, "cannot start the scheduler thread");
    }
    sc->started = 1;
    *out = sc;
    return TSL_OK;
}

void tsl_scheduler_reload(tsl_scheduler *sc) {
    if (sc) atomic_fetch_add(&sc->gen, 1);
}

int tsl_scheduler_leader(tsl_scheduler *sc, char *holder, size_t cap) {
    if (!sc) return 0;
    if (holder && cap) {
        pthread_mutex_lock(&sc->holder_mu);
        tsl_strlcpy(holder, sc->holder, cap);
        pthread_mutex_unlock(&sc->holder_mu);
    }
    return atomic_load(&sc->leader);
}

uint64_t tsl_scheduler_fires(tsl_scheduler *sc) {
    return sc ? (uint64_t)atomic_load(&sc->fires) : 0;
}

void tsl_scheduler_stop(tsl_scheduler *sc) {
    if (!sc) return;
    if (sc->started) {
        pthread_mutex_lock(&sc->mu);
        sc->stop = 1;
        pthread_cond_broadcast(&sc->cv);
        pthread_mutex_unlock(&sc->mu);
        pthread_join(sc->th, NULL);
    }
    pthread_mutex_destroy(&sc->mu);
    pthread_mutex_destroy(&sc->holder_mu);
    pthread_cond_destroy(&sc->cv);
    tsl_free(sc->url);
    tsl_free(sc->config_path);
    tsl_free(sc->outdir);
    tsl_free(sc);
}
