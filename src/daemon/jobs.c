/*
 * jobs.c - the daemon's asynchronous jobs: checking a job request, and the worker threads that
 * do the work.
 *
 * The store is the queue (tsl_store_job_*): the API only inserts a row and answers 202, and
 * workers - each with its own store handle - claim jobs under a lease, run them and record the
 * result. Since the queue is the store, a job accepted before a crash or a restart is still
 * there afterwards, and one whose worker died is claimed again once its lease ends. Workers
 * sleep on a condition variable between polls; the API wakes them when it queues a job.
 *
 * The one kind so far is "predict": tsl_predict over the endpoint's deployed version, the
 * forecast CSV written to OUTDIR/job-ID.csv (a name the daemon makes, so a request cannot
 * write anywhere else), every value captured under the inference id "job-ID".
 */
#include <errno.h>
#include <jansson.h>
#include <string.h>
#include <time.h>

#include "daemon/daemon_impl.h"
#include "tsloop/mem.h"

#define POLL_MS 500

struct tsl_workers {
    char *url, *outdir;
    FILE *log;
    int n;
    pthread_t *threads;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop, kick;
};

tsl_err tsl_job_request_check(const char *body, size_t len, const tsl_forecast_limits *lim,
                              char **request, char *endpoint, size_t cap, tsl_diag *d) {
    json_error_t je;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    tsl_err err = TSL_OK;
    *request = NULL;
    if (!j) return tsl_diag_set(d, TSL_EPARSE, "the body is not JSON: %s", je.text);
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v) {
        if (!strcmp(key, "kind")) {
            if (!json_is_string(v) || strcmp(json_string_value(v), "predict"))
                err = tsl_diag_set(d, TSL_EINVAL, "kind: expected \"predict\"");
        } else if (!strcmp(key, "endpoint")) {
            if (!json_is_string(v) || !json_string_length(v) || json_string_length(v) >= cap)
                err = tsl_diag_set(d, TSL_EINVAL, "endpoint: expected an endpoint name");
            else
                tsl_strlcpy(endpoint, json_string_value(v), cap);
        } else if (!strcmp(key, "items")) {
            size_t n = json_array_size(v);
            if (!json_is_array(v) || !n)
                err = tsl_diag_set(d, TSL_EINVAL, "items: expected a non-empty array of item ids");
            for (size_t i = 0; !err && i < n; i++) {
                json_t *it = json_array_get(v, i);
                if (!json_is_string(it) || !json_string_length(it) ||
                    json_string_length(it) > lim->max_id)
                    err = tsl_diag_set(d, TSL_EINVAL, "items[%zu]: expected an item id", i);
            }
        } else if (!strcmp(key, "horizon")) {
            json_int_t h = json_integer_value(v);
            if (!json_is_integer(v) || h < 1 || (uint64_t)h > lim->max_horizon)
                err = tsl_diag_set(d, TSL_EINVAL, "horizon: expected an integer from 1 to %zu",
                                   lim->max_horizon);
        } else {
            err = tsl_diag_set(d, TSL_EINVAL,
                               "unknown key \"%.64s\", expected kind, endpoint, items or horizon",
                               key);
        }
        if (err) break;
    }
    if (!err && !json_is_object(j)) err = tsl_diag_set(d, TSL_EINVAL, "expected a JSON object");
    if (!err && !json_object_get(j, "endpoint"))
        err = tsl_diag_set(d, TSL_EINVAL, "endpoint: missing");
    if (!err) {
        char *text = json_dumps(j, JSON_COMPACT);
        *request = tsl_strdup(text);
        free(text);
    }
    json_decref(j);
    return err;
}

/* Runs one claimed predict job; returns the result JSON (new string) or an error in d. */
static tsl_err run_predict(tsl_workers *w, tsl_store *s, const tsl_store_job *job, char **result,
                           tsl_diag *d) {
    json_error_t je;
    json_t *req = json_loads(job->request, 0, &je), *items = json_object_get(req, "items");
    size_t n = json_array_size(items);
    const char **ids = tsl_calloc(n ? n : 1, sizeof *ids);
    for (size_t i = 0; i < n; i++) ids[i] = json_string_value(json_array_get(items, i));
    tsl_predict_opts o;
    memset(&o, 0, sizeof o);
    o.items = n ? ids : NULL;
    o.nitems = n;
    o.horizon = (size_t)json_integer_value(json_object_get(req, "horizon"));
    char id[64], path[4200];
    snprintf(id, sizeof id, "job-%lld", (long long)job->id);
    o.inference_id = id;
    snprintf(path, sizeof path, "%s/job-%lld.csv", w->outdir, (long long)job->id);
    tsl_predict_result r;
    tsl_err err = tsl_predict(s, job->endpoint ? job->endpoint : "", path, &o, &r, d);
    if (!err) {
        json_t *res =
            json_pack("{s:s, s:s, s:i, s:s, s:I, s:I, s:I, s:I}", "file", path, "forecaster",
                      r.forecaster, "version", r.version, "inference_id", r.inference_id, "items",
                      (json_int_t)r.items, "unknown", (json_int_t)r.unknown, "rows",
                      (json_int_t)r.rows, "captured", (json_int_t)r.captured);
        char *text = json_dumps(res, JSON_COMPACT);
        *result = tsl_strdup(text);
        free(text);
        json_decref(res);
    }
    tsl_free(ids);
    json_decref(req);
    return err;
}

/* A worker: claims and runs jobs until stopped. */
static void *worker_main(void *arg) {
    tsl_workers *w = arg;
    tsl_store *s = NULL;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_open(w->url, NULL, &s, &d)) {
        tsl_daemon_log(w->log, "error", "a job worker cannot open the store", "{s:s}", "error",
                       tsl_diag_msg(&d));
        return NULL;
    }
    for (;;) {
        pthread_mutex_lock(&w->mu);
        int stop = w->stop;
        pthread_mutex_unlock(&w->mu);
        if (stop) break;
        tsl_store_job job;
        int claimed = 0;
        if (!tsl_store_job_claim(s, "predict", &job, &claimed, &d) && claimed) {
            char *result = NULL;
            tsl_diag jd = {TSL_OK, {0}};
            tsl_err err = run_predict(w, s, &job, &result, &jd);
            tsl_diag fd = {TSL_OK, {0}};
            if (tsl_store_job_finish(s, job.id, result, err ? tsl_diag_msg(&jd) : NULL, &fd))
                tsl_daemon_log(w->log, "error", "cannot record a job's end", "{s:I, s:s}", "job",
                               (json_int_t)job.id, "error", tsl_diag_msg(&fd));
            else
                tsl_daemon_log(w->log, err ? "warn" : "info", "job finished", "{s:I, s:s, s:s?}",
                               "job", (json_int_t)job.id, "status", err ? "Failed" : "Succeeded",
                               "error", err ? tsl_diag_msg(&jd) : NULL);
            tsl_free(result);
            tsl_store_job_release(&job);
            continue; /* there may be more */
        }
        pthread_mutex_lock(&w->mu);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += POLL_MS * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        while (!w->stop && !w->kick)
            if (pthread_cond_timedwait(&w->cv, &w->mu, &until) == ETIMEDOUT) break;
        w->kick = 0;
        pthread_mutex_unlock(&w->mu);
    }
    tsl_store_close(s);
    return NULL;
}

tsl_err tsl_workers_start(const char *url, const char *outdir, int n, FILE *log, tsl_workers **out,
                          tsl_diag *d) {
    tsl_workers *w = tsl_calloc(1, sizeof *w);
    w->url = tsl_strdup(url);
    w->outdir = tsl_strdup(outdir);
    w->log = log;
    w->n = n;
    w->threads = tsl_calloc(n > 0 ? (size_t)n : 1, sizeof *w->threads);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    for (int i = 0; i < n; i++) {
        if (pthread_create(&w->threads[i], NULL, worker_main, w)) {
            tsl_workers_stop(w);
            return tsl_diag_set(d, TSL_EINTERNAL, "cannot start job worker %d", i + 1);
        }
        w->started = i + 1;
    }
    *out = w;
    return TSL_OK;
}

void tsl_workers_kick(tsl_workers *w) {
    pthread_mutex_lock(&w->mu);
    w->kick = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void tsl_workers_stop(tsl_workers *w) {
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; i < w->started; i++) pthread_join(w->threads[i], NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    tsl_free(w->threads);
    tsl_free(w->url);
    tsl_free(w->outdir);
    tsl_free(w);
}
