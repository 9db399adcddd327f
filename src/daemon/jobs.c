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
#include "tsloop/csv.h"
#include "tsloop/mem.h"

#define POLL_MS 500

struct tsl_workers {
    char *url, *outdir;
    FILE *log;
    int n;
    int64_t lease_ms; /* of each job; 0: the store's */
    int delay_ms;     /* tests: each job sleeps this long, heartbeats going on */
    pthread_t *threads;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop, kick;
};

tsl_err tsl_job_output_check(const char *name, tsl_diag *d) {
    size_t n = name ? strlen(name) : 0;
    int ok = n >= 1 && n <= 128 && name[0] != '.';
    for (size_t i = 0; ok && i < n; i++) {
        char c = name[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '_' || c == '-' || c == '.';
    }
    if (!ok)
        return tsl_diag_set(d, TSL_EINVAL,
                            "output: '%.130s' is not a file name of the output folder, expected "
                            "1-128 of A-Z a-z 0-9 _ - . not starting with a dot (no folders, no "
                            "'..', no absolute paths)",
                            name ? name : "");
    return TSL_OK;
}

/* Item ids sorted for duplicate detection: the id and where it was first listed. */
typedef struct item_pos {
    const char *id;
    size_t at;
} item_pos;

static int cmp_item_pos(const void *a, const void *b) {
    const item_pos *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->at > y->at) - (x->at < y->at);
}

tsl_err tsl_job_csv_items(const char *body, size_t len, const char *item_col, size_t max_id,
                          char ***items, size_t *n, tsl_diag *d) {
    tsl_csv_opts o;
    memset(&o, 0, sizeof o);
    o.item_col = item_col;
    o.items_only = 1;
    o.max_field = max_id;
    tsl_csv *c = NULL;
    char **v = NULL;
    size_t nv = 0, cap = 0;
    item_pos *pos = NULL;
    *items = NULL;
    *n = 0;
    tsl_err err = tsl_csv_open_mem("body.csv", body, len, &o, &c, d);
    while (!err) {
        const tsl_csv_row *row = NULL;
        if ((err = tsl_csv_next(c, &row, d)) || !row) break;
        if (nv == cap) {
            cap = cap ? cap * 2 : 64;
            v = tsl_reallocarray(v, cap, sizeof *v);
        }
        v[nv++] = tsl_strndup(row->item, row->item_len);
    }
    if (!err && !nv) err = tsl_diag_set(d, TSL_EINVAL, "body.csv: no items after the header");
    if (err) goto out;
    /* The first listing of each item, in the order given. */
    pos = tsl_calloc(nv, sizeof *pos);
    for (size_t i = 0; i < nv; i++) pos[i] = (item_pos){v[i], i};
    qsort(pos, nv, sizeof *pos, cmp_item_pos);
    /* Sorted by id then position: the first of each run of equal ids is kept (and never
     * freed, so the run compares against it). */
    const char *kept = pos[0].id;
    for (size_t i = 1; i < nv; i++) {
        if (strcmp(pos[i].id, kept)) {
            kept = pos[i].id;
            continue;
        }
        tsl_free(v[pos[i].at]);
        v[pos[i].at] = NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < nv; i++)
        if (v[i]) v[k++] = v[i];
    nv = k;
out:
    tsl_free(pos);
    tsl_csv_close(c);
    if (err) {
        for (size_t i = 0; i < nv; i++) tsl_free(v[i]);
        tsl_free(v);
        return err;
    }
    *items = v;
    *n = nv;
    return TSL_OK;
}

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
        } else if (!strcmp(key, "quantiles")) {
            size_t n = json_array_size(v);
            if (!json_is_array(v) || n > TSL_METRICS_MAX_LEVELS)
                err = tsl_diag_set(d, TSL_EINVAL,
                                   "quantiles: expected an array of at most %d levels in (0, 1)",
                                   TSL_METRICS_MAX_LEVELS);
            for (size_t i = 0; !err && i < n; i++) {
                json_t *q = json_array_get(v, i);
                double x = json_is_number(q) ? json_number_value(q) : -1;
                double prev = i ? json_number_value(json_array_get(v, i - 1)) : 0;
                if (!(x > 0 && x < 1) || (i && !(x > prev)))
                    err = tsl_diag_set(d, TSL_EINVAL,
                                       "quantiles[%zu]: expected an increasing level in (0, 1)", i);
            }
        } else if (!strcmp(key, "output")) {
            if (!json_is_string(v) || tsl_job_output_check(json_string_value(v), d))
                err = json_is_string(v)
                          ? TSL_EINVAL
                          : tsl_diag_set(d, TSL_EINVAL, "output: expected a file name");
        } else if (!strcmp(key, "horizon")) {
            json_int_t h = json_integer_value(v);
            if (!json_is_integer(v) || h < 1 || (uint64_t)h > lim->max_horizon)
                err = tsl_diag_set(d, TSL_EINVAL, "horizon: expected an integer from 1 to %zu",
                                   lim->max_horizon);
        } else {
            err = tsl_diag_set(d, TSL_EINVAL,
                               "unknown key \"%.64s\", expected kind, endpoint, items, horizon, "
                               "quantiles or output",
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
    json_t *qs = json_object_get(req, "quantiles");
    double levels[TSL_METRICS_MAX_LEVELS];
    if (json_is_array(qs)) {
        o.has_levels = 1;
        o.nq = json_array_size(qs) < TSL_METRICS_MAX_LEVELS ? json_array_size(qs)
                                                            : TSL_METRICS_MAX_LEVELS;
        for (size_t i = 0; i < o.nq; i++) levels[i] = json_number_value(json_array_get(qs, i));
        o.levels = levels;
    }
    char id[64], path[4200];
    snprintf(id, sizeof id, "job-%lld", (long long)job->id);
    o.inference_id = id;
    /* A name the request gives was checked (tsl_job_output_check): a plain file name, so the
     * path stays in the folder; the file is written by rename, which replaces a symbolic link
     * of that name rather than following it. */
    const char *name = json_string_value(json_object_get(req, "output"));
    if (name)
        snprintf(path, sizeof path, "%s/%s", w->outdir, name);
    else
        snprintf(path, sizeof path, "%s/job-%lld.csv", w->outdir, (long long)job->id);
    if (w->delay_ms > 0) {
        struct timespec ts = {w->delay_ms / 1000, (long)(w->delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
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

/* The heartbeat of one running job: a thread renewing its lease from a sibling handle (the
 * worker's own handle is busy in tsl_predict, and handles are one thread's each), so a job
 * longer than the lease is never claimed by another worker while its worker lives. */
typedef struct heartbeat {
    tsl_workers *w;
    tsl_store *sib;
    int64_t job;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
} heartbeat;

static void *heartbeat_main(void *arg) {
    heartbeat *hb = arg;
    int64_t every = (hb->w->lease_ms > 0 ? hb->w->lease_ms : 30000) / 3;
    pthread_mutex_lock(&hb->mu);
    while (!hb->done) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += every / 1000;
        until.tv_nsec += (long)(every % 1000) * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        if (pthread_cond_timedwait(&hb->cv, &hb->mu, &until) != ETIMEDOUT || hb->done) continue;
        pthread_mutex_unlock(&hb->mu);
        tsl_diag d = {TSL_OK, {0}};
        if (tsl_store_job_heartbeat(hb->sib, hb->job, &d))
            tsl_daemon_log(hb->w->log, "warn", "job heartbeat failed", "{s:I, s:s}", "job",
                           (json_int_t)hb->job, "error", tsl_diag_msg(&d));
        pthread_mutex_lock(&hb->mu);
    }
    pthread_mutex_unlock(&hb->mu);
    return NULL;
}

/* Starts renewing job's lease from sib; 0 on success. */
static int heartbeat_start(heartbeat *hb, tsl_workers *w, tsl_store *sib, int64_t job) {
    memset(hb, 0, sizeof *hb);
    hb->w = w;
    hb->sib = sib;
    hb->job = job;
    pthread_mutex_init(&hb->mu, NULL);
    pthread_cond_init(&hb->cv, NULL);
    if (pthread_create(&hb->th, NULL, heartbeat_main, hb)) {
        pthread_mutex_destroy(&hb->mu);
        pthread_cond_destroy(&hb->cv);
        return -1;
    }
    return 0;
}

static void heartbeat_stop(heartbeat *hb) {
    pthread_mutex_lock(&hb->mu);
    hb->done = 1;
    pthread_cond_signal(&hb->cv);
    pthread_mutex_unlock(&hb->mu);
    pthread_join(hb->th, NULL);
    pthread_mutex_destroy(&hb->mu);
    pthread_cond_destroy(&hb->cv);
}

/* A worker: claims and runs jobs until stopped. */
static void *worker_main(void *arg) {
    tsl_workers *w = arg;
    tsl_store *s = NULL, *sib = NULL;
    tsl_diag d = {TSL_OK, {0}};
    tsl_store_opts so;
    memset(&so, 0, sizeof so);
    so.lease_ms = (int)w->lease_ms;
    if (tsl_store_open(w->url, &so, &s, &d) || tsl_store_open_sibling(s, &sib, &d)) {
        tsl_daemon_log(w->log, "error", "a job worker cannot open the store", "{s:s}", "error",
                       tsl_diag_msg(&d));
        tsl_store_close(s);
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
            heartbeat hb;
            int beating = !heartbeat_start(&hb, w, sib, job.id);
            tsl_err err = run_predict(w, s, &job, &result, &jd);
            if (beating) heartbeat_stop(&hb);
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
    tsl_store_close(sib);
    tsl_store_close(s);
    return NULL;
}

tsl_err tsl_workers_start(const char *url, const char *outdir, int n, int64_t lease_ms,
                          int delay_ms, FILE *log, tsl_workers **out, tsl_diag *d) {
    tsl_workers *w = tsl_calloc(1, sizeof *w);
    w->lease_ms = lease_ms;
    w->delay_ms = delay_ms;
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
