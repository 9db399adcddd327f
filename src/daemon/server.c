/*
 * server.c - the HTTP daemon: libmicrohttpd, routes, bearer-token auth, metrics, the poller
 * that follows deployments, and graceful shutdown.
 *
 * Threads. libmicrohttpd runs a pool of worker threads (one epoll loop each) that call
 * handle(); a request is parsed, authorised and answered on its worker. The forecast path
 * touches no store: it takes a reference on the endpoint's served version (served.c), forecasts
 * from immutable models, queues captures (capture.c) and answers. A poller thread with its own
 * store handle follows the store every poll_ms: new deployments are loaded completely and then
 * switched in (a pointer swap under a mutex held for nanoseconds; the old version is freed by
 * its last request), a data set whose content hash changed gets its models updated by a fresh
 * load, and the token table is refreshed. Deploy and rollback over HTTP use a third handle,
 * under a mutex, and wake the poller so the switch follows at once.
 *
 * Auth. Every /v1 route declares a minimum role; a request presents "Authorization: Bearer
 * TOKEN", whose BLAKE2b-256 is looked up in an in-memory sorted table of the store's valid
 * tokens (refreshed by the poller: a revocation takes effect within poll_ms). No token, or an
 * unknown one, is 401; too weak a role is 403. /healthz, /readyz and /metrics are open, as
 * orchestrators and scrapers expect; the daemon binds loopback unless told otherwise.
 *
 * Shutdown. tsl_daemon_stop quiesces the listener (no new connections), waits for requests in
 * flight (counted from their first callback to libmicrohttpd's completion callback), stops the
 * server and the poller, and writes every queued capture before returning.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <limits.h>
#include <math.h>
#include <microhttpd.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/daemon_impl.h"
#include "tsloop/buf.h"
#include "tsloop/deploy.h"
#include "tsloop/mem.h"
#include "tsloop/registry.h"
#include "tsloop/shadow.h"

#define MAX_ENDPOINTS 1024
#define MAX_VALUES    1000000 /* items x horizon of one request */

/* ---- logging ---- */

void tsl_daemon_log(FILE *f, const char *level, const char *msg, const char *fields, ...) {
    json_t *o = NULL;
    if (fields) {
        va_list ap;
        va_start(ap, fields);
        o = json_vpack_ex(NULL, 0, fields, ap);
        va_end(ap);
    }
    if (!o) o = json_object();
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char when[40], full[48];
    tsl_time_format((int64_t)ts.tv_sec, 0, when, sizeof when);
    /* "...SSZ" becomes "...SS.mmmZ". */
    size_t n = strlen(when);
    snprintf(full, sizeof full, "%.*s.%03ldZ", (int)(n ? n - 1 : 0), when, ts.tv_nsec / 1000000);
    json_t *line = json_pack("{s:s, s:s, s:s}", "ts", full, "level", level, "msg", msg);
    json_object_update(line, o);
    json_decref(o);
    char *text = json_dumps(line, JSON_COMPACT);
    json_decref(line);
    if (text) {
        flockfile(f);
        fputs(text, f);
        fputc('\n', f);
        fflush(f);
        funlockfile(f);
        free(text);
    }
}

/* ---- metrics ---- */

enum route {
    R_HEALTHZ,
    R_READYZ,
    R_METRICS,
    R_ENDPOINTS,
    R_FORECAST,
    R_DEPLOY,
    R_ROLLBACK,
    R_MODELS,
    R_MODEL,
    R_APPROVE,
    R_REJECT,
    R_JOBS,
    R_JOB,
    R_INGEST,
    R_EXEC_START,
    R_EXECS,
    R_EXEC,
    R_EXEC_STOP,
    R_EXEC_RESUME,
    R_PARAMS,
    R_PARAM,
    R_PARAM_PUT,
    R_EVENTS,
    R_EVENT_STREAM,
    R_JOB_RESULT,
    R_METRICS_QUERY,
    R_ALARMS,
    R_ALARM,
    R_SHADOW,
    R_SHADOW_PUT,
    R_SHADOW_DELETE,
    R_OTHER,
    R_COUNT
};

/* Every route: its pattern (the metrics label), method (0 GET, 1 POST, 2 PUT, 3 DELETE) and
 * minimum role (0: open). */
static const char *const methods[] = {"GET", "POST", "PUT", "DELETE"};
static const struct route_def {
    const char *name;
    int post;
    tsl_role role;
} routes[R_COUNT] = {
    {"/healthz", 0, 0},
    {"/readyz", 0, 0},
    {"/metrics", 0, 0},
    {"/v1/endpoints", 0, TSL_ROLE_READER},
    {"/v1/endpoints/{name}/forecast", 1, TSL_ROLE_READER},
    {"/v1/endpoints/{name}/deploy", 1, TSL_ROLE_APPROVER},
    {"/v1/endpoints/{name}/rollback", 1, TSL_ROLE_APPROVER},
    {"/v1/models", 0, TSL_ROLE_READER},
    {"/v1/models/{entry}/{version}", 0, TSL_ROLE_READER},
    {"/v1/models/{entry}/{version}/approve", 1, TSL_ROLE_APPROVER},
    {"/v1/models/{entry}/{version}/reject", 1, TSL_ROLE_APPROVER},
    {"/v1/jobs", 1, TSL_ROLE_WRITER},
    {"/v1/jobs/{id}", 0, TSL_ROLE_READER},
    {"/v1/datasets/{name}/observations", 1, TSL_ROLE_WRITER},
    {"/v1/forecasters/{name}/executions", 1, TSL_ROLE_WRITER},
    {"/v1/executions", 0, TSL_ROLE_READER},
    {"/v1/executions/{id}", 0, TSL_ROLE_READER},
    {"/v1/executions/{id}/stop", 1, TSL_ROLE_WRITER},
    {"/v1/executions/{id}/resume", 1, TSL_ROLE_WRITER},
    {"/v1/parameters", 0, TSL_ROLE_READER},
    {"/v1/parameters/{key}", 0, TSL_ROLE_READER},
    {"/v1/parameters/{key} (PUT)", 2, TSL_ROLE_ADMIN},
    {"/v1/events", 0, TSL_ROLE_READER},
    {"/v1/events/stream", 0, TSL_ROLE_READER},
    {"/v1/jobs/{id}/result", 0, TSL_ROLE_READER},
    {"/v1/metrics", 0, TSL_ROLE_READER},
    {"/v1/alarms", 0, TSL_ROLE_READER},
    {"/v1/alarms/{name}", 0, TSL_ROLE_READER},
    {"/v1/endpoints/{name}/shadow", 0, TSL_ROLE_READER},
    {"/v1/endpoints/{name}/shadow (PUT)", 2, TSL_ROLE_APPROVER},
    {"/v1/endpoints/{name}/shadow (DELETE)", 3, TSL_ROLE_APPROVER},
    {"other", 0, 0},
};

static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                 0.05,   0.1,   0.25,   0.5,   1,    2.5};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])
#define NCODES   600

typedef struct route_metrics {
    atomic_ullong codes[NCODES];
    atomic_ullong le[NBUCKETS + 1]; /* non-cumulative; the last is +Inf */
    atomic_ullong sum_us;
} route_metrics;

/* ---- the daemon ---- */

typedef struct slot {
    char name[TSL_STORE_NAME_MAX + 1];
    tsl_served *sv;        /* NULL until loaded */
    int64_t failed_dep;    /* a deployment whose load failed (not retried until it changes) */
    tsl_served *shadow;    /* the version running in shadow (deployment_id: the shadow's id) */
    int64_t failed_shadow; /* a shadow whose load failed (not retried until it changes) */
    char failed_hash[TSL_STORE_HASH_HEX + 1];
} slot;

typedef struct token_entry {
    unsigned char hash[TSL_TOKEN_HASH];
    tsl_role role;
    char name[TSL_STORE_NAME_MAX + 1];
} token_entry;

struct tsl_daemon {
    const tsl_project *p;
    tsl_daemon_opts o;
    FILE *log;
    char *url;
    struct MHD_Daemon *mhd;
    int port;
    tsl_daemon_opts flags; /* as given (command-line flags): they override the config */
    /* The caps a reload may change (server: section), read by every request. */
    atomic_size_t cap_body, cap_items, cap_horizon;
    atomic_llong cap_time_ms; /* a request's time from the end of its headers; 0: none */
    char *tls_cert, *tls_key; /* PEM text, for libmicrohttpd (which copies nothing) */

    pthread_mutex_t ep_mu; /* slots: names and pointers */
    slot *slots;
    size_t nslots;

    pthread_rwlock_t tok_mu;
    token_entry *tokens; /* sorted by hash */
    size_t ntokens;

    pthread_mutex_t admin_mu; /* the admin handle (readyz, deploy, rollback, approvals) and cfg */
    tsl_store *admin;
    const tsl_config *cfg; /* the project's, or the last one reloaded (then owned_cfg) */
    tsl_config *owned_cfg;

    pthread_t poller;
    pthread_mutex_t poll_mu;
    pthread_cond_t poll_cv;
    int stop, kick, polled_ok, poller_started;
    tsl_store *poll_s;

    tsl_capq *capq;
    tsl_shadowq *shadowq;
    tsl_workers *workers;
    tsl_retrainer *retrainer;
    tsl_watcher *watcher;
    tsl_notifier *notifier;
    tsl_mgmt *mgmt;
    char *outdir; /* the output folder, absolute, symbolic links resolved */
    tsl_pipeworkers *pipeworkers;
    tsl_scheduler *sched;
    tsl_evaluator *evaluator;
    atomic_ullong jobs[4], execs[6]; /* by status, as of the last poll */
    atomic_long inflight;
    atomic_ullong forecasts, forecast_items, item_errors, switches;
    route_metrics metrics[R_COUNT];
};

/* One request's state, from libmicrohttpd's first callback to its completion. */
typedef struct req {
    double t0;
    enum route route;
    int status;
    tsl_wbuf body;
    int too_big;
    char name[TSL_STORE_NAME_MAX + 1]; /* the endpoint or registry entry in the URL */
    int version;                       /* the model version in the URL */
    int64_t job;                       /* the job id in the URL */
    int64_t id;                        /* the execution id in the URL */
    char key[TSL_STORE_KEY_MAX + 1];   /* the parameter key in the URL */
    int upload_fd;                     /* an ingest body's file (-1: none yet) */
    int may_upload;                    /* the token may ingest: the body is kept */
    size_t upload_len;
    char upload[4096];
    void *stream;  /* an event stream's handle (tsl_mgmt_stream_done) */
    int timed_out; /* past the request time cap: answered 408 */
} req;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- endpoints ---- */

/* The slot of endpoint name, or NULL; the caller holds ep_mu. */
static slot *slot_find(tsl_daemon *dm, const char *name) {
    for (size_t i = 0; i < dm->nslots; i++)
        if (!strcmp(dm->slots[i].name, name)) return &dm->slots[i];
    return NULL;
}

/* A reference on the version endpoint name serves, or NULL; and on the version in shadow
 * there into *shadow (NULL: none). */
static tsl_served *served_get(tsl_daemon *dm, const char *name, tsl_served **shadow) {
    pthread_mutex_lock(&dm->ep_mu);
    slot *sl = slot_find(dm, name);
    tsl_served *sv = sl ? sl->sv : NULL;
    if (sv) tsl_served_ref(sv);
    *shadow = sv ? sl->shadow : NULL;
    if (*shadow) tsl_served_ref(*shadow);
    pthread_mutex_unlock(&dm->ep_mu);
    return sv;
}

/* Loads deployment dp and switches its endpoint to it; logs either way. */
static void load_and_switch(tsl_daemon *dm, const tsl_store_deployment *dp, const char *why) {
    tsl_diag d = {TSL_OK, {0}};
    double t0 = now_s();
    tsl_served *sv = NULL;
    tsl_err err = tsl_served_load(dm->poll_s, dp, &sv, &d);
    pthread_mutex_lock(&dm->ep_mu);
    slot *sl = slot_find(dm, dp->endpoint);
    if (!sl && dm->nslots < MAX_ENDPOINTS) {
        sl = &dm->slots[dm->nslots++];
        memset(sl, 0, sizeof *sl);
        tsl_strlcpy(sl->name, dp->endpoint, sizeof sl->name);
    }
    tsl_served *old = NULL;
    if (sl && !err) {
        old = sl->sv;
        sl->sv = sv;
        sl->failed_dep = 0;
        sv = NULL;
    } else if (sl) {
        sl->failed_dep = dp->id;
    }
    pthread_mutex_unlock(&dm->ep_mu);
    if (err) {
        tsl_daemon_log(dm->log, "error", "cannot load the deployed version", "{s:s, s:s, s:i, s:s}",
                       "endpoint", dp->endpoint, "forecaster", dp->forecaster, "version",
                       dp->version, "error", tsl_diag_msg(&d));
        return;
    }
    if (!sl) {
        tsl_daemon_log(dm->log, "error", "too many endpoints: not served", "{s:s, s:i}", "endpoint",
                       dp->endpoint, "max", MAX_ENDPOINTS);
        tsl_served_unref(sv);
        return;
    }
    atomic_fetch_add(&dm->switches, 1);
    pthread_mutex_lock(&dm->ep_mu);
    tsl_served *now = sl->sv;
    tsl_served_ref(now);
    pthread_mutex_unlock(&dm->ep_mu);
    tsl_daemon_log(dm->log, "info", why, "{s:s, s:s, s:i, s:I, s:I, s:I, s:f}", "endpoint",
                   dp->endpoint, "forecaster", dp->forecaster, "version", dp->version, "items",
                   (json_int_t)now->n, "updated", (json_int_t)now->updated, "deployment",
                   (json_int_t)dp->id, "load_s", now_s() - t0);
    tsl_served_unref(now);
    tsl_served_unref(old); /* freed by the last request still using it */
#ifdef __GLIBC__
    /* A load's temporaries (the version's choices as a JSON tree, the item list: hundreds of
     * MB for 100,000 series) are freed between the models that stay, so glibc keeps their
     * pages; handing the free pages back is what keeps the daemon's resident size near what
     * its models need (bench/daemon_memory.sh). */
    malloc_trim(0);
#endif
}

/* Loads version sh in shadow on its endpoint's slot (drop: sh NULL, the slot's shadow goes);
 * logs either way. The slot exists (the endpoint serves a version). */
static void shadow_switch(tsl_daemon *dm, const char *endpoint, const tsl_store_shadow *sh,
                          const char *why) {
    tsl_served *sv = NULL;
    tsl_diag d = {TSL_OK, {0}};
    tsl_err err = TSL_OK;
    double t0 = now_s();
    if (sh) {
        tsl_store_deployment dp = {0};
        dp.id = sh->id;
        dp.endpoint = sh->endpoint;
        dp.forecaster = sh->forecaster;
        dp.version = sh->version;
        dp.model_id = sh->model_id;
        err = tsl_served_load(dm->poll_s, &dp, &sv, &d);
    }
    pthread_mutex_lock(&dm->ep_mu);
    slot *sl = slot_find(dm, endpoint);
    tsl_served *old = NULL;
    if (sl && !err) {
        old = sl->shadow;
        sl->shadow = sv;
        sl->failed_shadow = 0;
        sv = NULL;
    } else if (sl) {
        sl->failed_shadow = sh->id;
    }
    pthread_mutex_unlock(&dm->ep_mu);
    tsl_served_unref(sv);
    tsl_served_unref(old); /* freed by the last queued shadow request using it */
    if (err)
        tsl_daemon_log(dm->log, "error", "cannot load the shadow version", "{s:s, s:s, s:i, s:s}",
                       "endpoint", endpoint, "forecaster", sh->forecaster, "version", sh->version,
                       "error", tsl_diag_msg(&d));
    else if (sh)
        tsl_daemon_log(dm->log, "info", why, "{s:s, s:s, s:i, s:I, s:f}", "endpoint", endpoint,
                       "forecaster", sh->forecaster, "version", sh->version, "shadow",
                       (json_int_t)sh->id, "load_s", now_s() - t0);
    else
        tsl_daemon_log(dm->log, "info", why, "{s:s}", "endpoint", endpoint);
}

/* Follows the running shadows: loads a new one, reloads one whose data moved, drops one that
 * ended. */
static tsl_err poll_shadows(tsl_daemon *dm, tsl_diag *d) {
    tsl_store_shadow *v = NULL;
    size_t n = 0;
    tsl_err err = tsl_store_shadow_list(dm->poll_s, NULL, NULL, 0, 1, 0, &v, &n, d);
    if (err) return err;
    for (size_t i = 0; i < n; i++) {
        int64_t have = 0, failed = 0;
        int served = 0;
        char hash[TSL_STORE_HASH_HEX + 1] = "";
        char *dataset = NULL;
        pthread_mutex_lock(&dm->ep_mu);
        slot *sl = slot_find(dm, v[i].endpoint);
        if (sl) {
            served = sl->sv != NULL;
            failed = sl->failed_shadow;
            if (sl->shadow) {
                have = sl->shadow->deployment_id;
                memcpy(hash, sl->shadow->dataset_hash, sizeof hash);
                if (sl->shadow->dataset) dataset = tsl_strdup(sl->shadow->dataset);
            }
        }
        pthread_mutex_unlock(&dm->ep_mu);
        if (!served) { /* the live version first: a shadow needs something to shadow */
            tsl_free(dataset);
            continue;
        }
        if (have != v[i].id && failed != v[i].id) {
            shadow_switch(dm, v[i].endpoint, &v[i], "shadow loaded");
        } else if (have == v[i].id && dataset) {
            tsl_store_dataset ds;
            memset(&ds, 0, sizeof ds);
            tsl_diag dd = {TSL_OK, {0}};
            if (!tsl_store_dataset_get(dm->poll_s, dataset, &ds, &dd) && strcmp(ds.hash, hash))
                shadow_switch(dm, v[i].endpoint, &v[i], "new observations: shadow models updated");
            tsl_store_dataset_release(&ds);
        }
        tsl_free(dataset);
    }
    /* shadows that ended: the slots whose shadow is not running any more */
    char(*gone)[TSL_STORE_NAME_MAX + 1] = NULL;
    size_t ngone = 0;
    pthread_mutex_lock(&dm->ep_mu);
    gone = tsl_calloc(dm->nslots ? dm->nslots : 1, sizeof *gone);
    for (size_t k = 0; k < dm->nslots; k++) {
        const slot *sl = &dm->slots[k];
        int running = 0;
        for (size_t i = 0; sl->shadow && i < n && !running; i++)
            running = sl->shadow->deployment_id == v[i].id;
        if (sl->shadow && !running) tsl_strlcpy(gone[ngone++], sl->name, sizeof gone[0]);
    }
    pthread_mutex_unlock(&dm->ep_mu);
    for (size_t k = 0; k < ngone; k++) shadow_switch(dm, gone[k], NULL, "shadow ended: dropped");
    tsl_free(gone);
    tsl_store_shadow_list_free(v, n);
    return TSL_OK;
}

/* Compares token entries by hash. */
static int cmp_token(const void *a, const void *b) {
    return memcmp(((const token_entry *)a)->hash, ((const token_entry *)b)->hash, TSL_TOKEN_HASH);
}

/* One round of following the store: deployments, changed data, tokens. */
static tsl_err poll_once(tsl_daemon *dm, tsl_diag *d) {
    tsl_store_deployment *v = NULL;
    size_t n = 0;
    tsl_err err = tsl_store_endpoint_list(dm->poll_s, &v, &n, d);
    if (err) return err;
    for (size_t i = 0; i < n; i++) {
        int64_t have = 0, failed = 0;
        char hash[TSL_STORE_HASH_HEX + 1] = "";
        char *dataset = NULL;
        pthread_mutex_lock(&dm->ep_mu);
        slot *sl = slot_find(dm, v[i].endpoint);
        if (sl && sl->sv) {
            have = sl->sv->deployment_id;
            memcpy(hash, sl->sv->dataset_hash, sizeof hash);
            if (sl->sv->dataset) dataset = tsl_strdup(sl->sv->dataset);
        }
        if (sl) failed = sl->failed_dep;
        pthread_mutex_unlock(&dm->ep_mu);
        if (have != v[i].id && failed != v[i].id) {
            load_and_switch(dm, &v[i], have ? "switched to a new deployment" : "loaded");
        } else if (have == v[i].id && dataset) {
            tsl_store_dataset ds;
            memset(&ds, 0, sizeof ds);
            tsl_diag dd = {TSL_OK, {0}};
            if (!tsl_store_dataset_get(dm->poll_s, dataset, &ds, &dd) && strcmp(ds.hash, hash))
                load_and_switch(dm, &v[i], "new observations: models updated");
            tsl_store_dataset_release(&ds);
        }
        tsl_free(dataset);
    }
    tsl_store_deployment_list_free(v, n);
    if ((err = poll_shadows(dm, d))) return err;

    uint64_t jc[4], ec[6];
    if ((err = tsl_store_status_counts(dm->poll_s, jc, ec, d))) return err;
    for (int k = 0; k < 4; k++) atomic_store(&dm->jobs[k], jc[k]);
    for (int k = 0; k < 6; k++) atomic_store(&dm->execs[k], ec[k]);

    tsl_store_token *t = NULL;
    if ((err = tsl_store_token_list(dm->poll_s, &t, &n, d))) return err;
    token_entry *tab = tsl_calloc(n ? n : 1, sizeof *tab);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i].revoked_ms) continue;
        memcpy(tab[k].hash, t[i].hash, TSL_TOKEN_HASH);
        tab[k].role = t[i].role;
        tsl_strlcpy(tab[k].name, t[i].name, sizeof tab[k].name);
        k++;
    }
    tsl_store_token_list_free(t, n);
    qsort(tab, k, sizeof *tab, cmp_token);
    pthread_rwlock_wrlock(&dm->tok_mu);
    token_entry *old = dm->tokens;
    dm->tokens = tab;
    dm->ntokens = k;
    pthread_rwlock_unlock(&dm->tok_mu);
    tsl_free(old);
    return TSL_OK;
}

/* The poller: poll_once every poll_ms (or when kicked) until stopped. */
static void *poller_main(void *arg) {
    tsl_daemon *dm = arg;
    int failing = 0;
    pthread_mutex_lock(&dm->poll_mu);
    while (!dm->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        long ns = until.tv_nsec + (long)(dm->o.poll_ms % 1000) * 1000000L;
        until.tv_sec += dm->o.poll_ms / 1000 + ns / 1000000000L;
        until.tv_nsec = ns % 1000000000L;
        while (!dm->stop && !dm->kick)
            if (pthread_cond_timedwait(&dm->poll_cv, &dm->poll_mu, &until) == ETIMEDOUT) break;
        if (dm->stop) break;
        dm->kick = 0;
        pthread_mutex_unlock(&dm->poll_mu);
        tsl_diag d = {TSL_OK, {0}};
        tsl_err err = poll_once(dm, &d);
        if (err && !failing)
            tsl_daemon_log(dm->log, "error", "cannot read the store", "{s:s}", "error",
                           tsl_diag_msg(&d));
        else if (!err && failing)
            tsl_daemon_log(dm->log, "info", "the store is readable again", NULL);
        failing = err != TSL_OK;
        pthread_mutex_lock(&dm->poll_mu);
        dm->polled_ok = !err;
    }
    pthread_mutex_unlock(&dm->poll_mu);
    return NULL;
}

/* Wakes the poller now (after a deploy or rollback through the API). */
static void kick_poller(tsl_daemon *dm) {
    pthread_mutex_lock(&dm->poll_mu);
    dm->kick = 1;
    pthread_cond_signal(&dm->poll_cv);
    pthread_mutex_unlock(&dm->poll_mu);
}

/* ---- responses ---- */

/* Frees a response body handed to libmicrohttpd. */
static void body_free(void *p) {
    tsl_free(p);
}

/* Queues status with len bytes of body (taken over) and content type ctype. */
static enum MHD_Result respond(struct MHD_Connection *c, req *r, int status, const char *ctype,
                               char *body, size_t len) {
    struct MHD_Response *resp =
        MHD_create_response_from_buffer_with_free_callback(len, body, body_free);
    if (!resp) {
        tsl_free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"tsloop\"");
    r->status = status;
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Queues a JSON value (decref'd). */
static enum MHD_Result respond_json(struct MHD_Connection *c, req *r, int status, json_t *j) {
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    size_t n = strlen(text);
    char *body = tsl_malloc(n + 2);
    memcpy(body, text, n);
    body[n] = '\n';
    body[n + 1] = '\0';
    free(text);
    return respond(c, r, status, "application/json", body, n + 1);
}

/* Queues {"error": {"code", "message"}}. */
static enum MHD_Result respond_error(struct MHD_Connection *c, req *r, int status, const char *code,
                                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static enum MHD_Result respond_error(struct MHD_Connection *c, req *r, int status, const char *code,
                                     const char *fmt, ...) {
    char msg[TSL_DIAG_MAX + 128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return respond_json(c, r, status,
                        json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg));
}

/* Appends s as a JSON string. */
static void put_jstr(tsl_wbuf *b, const char *s) {
    static const char hex[] = "0123456789abcdef";
    tsl_wbuf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            tsl_wbuf_putc(b, '\\');
            tsl_wbuf_putc(b, (char)*p);
        } else if (*p < 0x20) {
            char e[7] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15], 0};
            tsl_wbuf_puts(b, e);
        } else {
            tsl_wbuf_putc(b, (char)*p);
        }
    }
    tsl_wbuf_putc(b, '"');
}

/* Appends a number with 10 significant digits (null when not finite). printf's exact decimal
 * conversion was a third of the daemon's CPU time under load (perf, bench/serve.sh), so the
 * common range is done here with integer arithmetic: |v| in [1e-4, 1e15) is scaled by a power
 * of ten to a 10-digit integer, rounded, and printed with its decimal point; the rest goes to
 * snprintf. Ten digits are far beyond any forecast's accuracy; captures keep the exact
 * binary values. */
static void put_num(tsl_wbuf *b, double v) {
    static const double p10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6, 1e7,
                                 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14};
    static const uint64_t u10[] = {
        1ull,           10ull,           100ull,           1000ull,           10000ull,
        100000ull,      1000000ull,      10000000ull,      100000000ull,      1000000000ull,
        10000000000ull, 100000000000ull, 1000000000000ull, 10000000000000ull, 100000000000000ull};
    char s[48];
    if (!isfinite(v)) {
        tsl_wbuf_puts(b, "null");
        return;
    }
    double a = fabs(v);
    if (a == 0) {
        tsl_wbuf_putc(b, '0');
        return;
    }
    if (a < 1e-4 || a >= 1e15) {
        snprintf(s, sizeof s, "%.10g", v);
        tsl_wbuf_puts(b, s);
        return;
    }
    int e = (int)floor(log10(a)); /* -4 .. 14 */
    int dec = 9 - e;              /* decimals for 10 significant digits: -5 .. 13 */
    uint64_t m;
    if (dec >= 0)
        m = (uint64_t)llround(a * p10[dec]);
    else
        m = (uint64_t)llround(a / p10[-dec]) * u10[-dec];
    if (dec < 0) dec = 0;
    uint64_t ip = m / u10[dec], fp = m % u10[dec];
    char digits[24];
    int nd = 0, n = 0;
    do {
        digits[nd++] = (char)('0' + ip % 10);
        ip /= 10;
    } while (ip);
    if (v < 0) s[n++] = '-';
    while (nd) s[n++] = digits[--nd];
    if (fp) {
        char f[16];
        for (int i = dec - 1; i >= 0; i--) {
            f[i] = (char)('0' + fp % 10);
            fp /= 10;
        }
        int len = dec;
        while (len > 0 && f[len - 1] == '0') len--;
        s[n++] = '.';
        memcpy(s + n, f, (size_t)len);
        n += len;
    }
    tsl_wbuf_put(b, s, (size_t)n);
}

/* Appends t as a quoted "YYYY-MM-DDTHH:MM:SSZ", digits written directly (snprintf per
 * timestamp showed in the profile); years outside 0..9999 go through tsl_time_format. */
static void put_time(tsl_wbuf *b, int64_t t) {
    int y, mo, d, h, mi, sec;
    tsl_time_civil(t, &y, &mo, &d, &h, &mi, &sec);
    if (y < 0 || y > 9999) {
        char buf[48];
        tsl_time_format(t, 0, buf, sizeof buf);
        tsl_wbuf_putc(b, '"');
        tsl_wbuf_puts(b, buf);
        tsl_wbuf_putc(b, '"');
        return;
    }
    char s[22] = {'"',
                  (char)('0' + y / 1000),
                  (char)('0' + y / 100 % 10),
                  (char)('0' + y / 10 % 10),
                  (char)('0' + y % 10),
                  '-',
                  (char)('0' + mo / 10),
                  (char)('0' + mo % 10),
                  '-',
                  (char)('0' + d / 10),
                  (char)('0' + d % 10),
                  'T',
                  (char)('0' + h / 10),
                  (char)('0' + h % 10),
                  ':',
                  (char)('0' + mi / 10),
                  (char)('0' + mi % 10),
                  ':',
                  (char)('0' + sec / 10),
                  (char)('0' + sec % 10),
                  'Z',
                  '"'};
    tsl_wbuf_put(b, s, sizeof s);
}

/* ---- auth ---- */

/* Checks the request's bearer token against the route's minimum role. Returns 0 when it may
 * proceed (*who gets "token:NAME"), else the status of the response it queued. */
static int authorize(tsl_daemon *dm, struct MHD_Connection *c, req *r, tsl_role need, char *who,
                     size_t cap, enum MHD_Result *ret) {
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7)) {
        *ret = respond_error(c, r, MHD_HTTP_UNAUTHORIZED, "unauthorized",
                             "this route needs a token: Authorization: Bearer TOKEN (tsloop "
                             "token create)");
        return MHD_HTTP_UNAUTHORIZED;
    }
    const char *tok = h + 7;
    while (*tok == ' ') tok++;
    size_t len = strlen(tok);
    while (len && tok[len - 1] == ' ') len--;
    token_entry key;
    tsl_token_hash(tok, len, key.hash);
    pthread_rwlock_rdlock(&dm->tok_mu);
    const token_entry *t = bsearch(&key, dm->tokens, dm->ntokens, sizeof key, cmp_token);
    tsl_role role = t ? t->role : TSL_ROLE_READER;
    if (t) snprintf(who, cap, "token:%s", t->name);
    pthread_rwlock_unlock(&dm->tok_mu);
    if (!t) {
        *ret =
            respond_error(c, r, MHD_HTTP_UNAUTHORIZED, "unauthorized", "unknown or revoked token");
        return MHD_HTTP_UNAUTHORIZED;
    }
    if (role < need) {
        *ret = respond_error(c, r, MHD_HTTP_FORBIDDEN, "forbidden",
                             "this route needs the role %s; the token's role is %s",
                             tsl_role_name(need), tsl_role_name(role));
        return MHD_HTTP_FORBIDDEN;
    }
    return 0;
}

/* ---- routes ---- */

/* The request caps now in force. */
static tsl_forecast_limits limits(tsl_daemon *dm) {
    tsl_forecast_limits lim = {atomic_load(&dm->cap_items), atomic_load(&dm->cap_horizon), 65536};
    return lim;
}

static enum MHD_Result route_readyz(tsl_daemon *dm, struct MHD_Connection *c, req *r) {
    tsl_store_deployment *v = NULL;
    size_t n = 0, loaded = 0, missing = 0;
    tsl_diag d = {TSL_OK, {0}};
    pthread_mutex_lock(&dm->admin_mu);
    tsl_err err = tsl_store_endpoint_list(dm->admin, &v, &n, &d);
    pthread_mutex_unlock(&dm->admin_mu);
    if (err)
        return respond_error(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, "store_unavailable",
                             "the store cannot be read: %s", tsl_diag_msg(&d));
    pthread_mutex_lock(&dm->ep_mu);
    for (size_t i = 0; i < n; i++) {
        slot *sl = slot_find(dm, v[i].endpoint);
        if (sl && sl->sv)
            loaded++;
        else
            missing++;
    }
    pthread_mutex_unlock(&dm->ep_mu);
    tsl_store_deployment_list_free(v, n);
    if (missing)
        return respond_error(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, "not_loaded",
                             "%zu of %zu deployed endpoints have no model loaded", missing,
                             loaded + missing);
    char holder[300] = "";
    int leader = tsl_scheduler_leader(dm->sched, holder, sizeof holder);
    return respond_json(c, r, MHD_HTTP_OK,
                        json_pack("{s:s, s:I, s:b, s:s}", "status", "ready", "endpoints",
                                  (json_int_t)loaded, "scheduler", leader, "scheduler_holder",
                                  holder));
}

static enum MHD_Result route_prometheus(tsl_daemon *dm, struct MHD_Connection *c, req *r) {
    tsl_wbuf b;
    tsl_wbuf_init(&b);
    tsl_wbuf_puts(&b, "# HELP tsloop_http_requests_total HTTP requests by route and status.\n"
                      "# TYPE tsloop_http_requests_total counter\n");
    for (int k = 0; k < R_COUNT; k++)
        for (int code = 100; code < NCODES; code++) {
            unsigned long long v = atomic_load(&dm->metrics[k].codes[code]);
            if (v)
                tsl_wbuf_printf(&b, "tsloop_http_requests_total{route=\"%s\",code=\"%d\"} %llu\n",
                                routes[k].name, code, v);
        }
    tsl_wbuf_puts(&b, "# HELP tsloop_http_request_duration_seconds Time from a request's first "
                      "byte to its response.\n"
                      "# TYPE tsloop_http_request_duration_seconds histogram\n");
    for (int k = 0; k < R_COUNT; k++) {
        unsigned long long cum = 0;
        for (size_t i = 0; i <= NBUCKETS; i++) {
            cum += atomic_load(&dm->metrics[k].le[i]);
            if (i < NBUCKETS)
                tsl_wbuf_printf(
                    &b,
                    "tsloop_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} "
                    "%llu\n",
                    routes[k].name, buckets[i], cum);
            else
                tsl_wbuf_printf(
                    &b,
                    "tsloop_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} "
                    "%llu\n",
                    routes[k].name, cum);
        }
        tsl_wbuf_printf(&b, "tsloop_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n",
                        routes[k].name, (double)atomic_load(&dm->metrics[k].sum_us) * 1e-6);
        tsl_wbuf_printf(&b, "tsloop_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                        routes[k].name, cum);
    }
    tsl_wbuf_printf(&b,
                    "# HELP tsloop_forecasts_total Forecast requests answered.\n"
                    "# TYPE tsloop_forecasts_total counter\ntsloop_forecasts_total %llu\n"
                    "# HELP tsloop_forecast_items_total Item forecasts served.\n"
                    "# TYPE tsloop_forecast_items_total counter\ntsloop_forecast_items_total %llu\n"
                    "# HELP tsloop_forecast_item_errors_total Items answered with an error.\n"
                    "# TYPE tsloop_forecast_item_errors_total counter\n"
                    "tsloop_forecast_item_errors_total %llu\n"
                    "# HELP tsloop_capture_queue_depth Captures waiting to be written.\n"
                    "# TYPE tsloop_capture_queue_depth gauge\ntsloop_capture_queue_depth %zu\n"
                    "# HELP tsloop_captures_written_total Captures committed to the store.\n"
                    "# TYPE tsloop_captures_written_total counter\n"
                    "tsloop_captures_written_total %llu\n"
                    "# HELP tsloop_capture_failures_total Captures lost to store errors.\n"
                    "# TYPE tsloop_capture_failures_total counter\n"
                    "tsloop_capture_failures_total %llu\n"
                    "# HELP tsloop_model_switches_total Deployed versions loaded and switched in.\n"
                    "# TYPE tsloop_model_switches_total counter\n"
                    "tsloop_model_switches_total %llu\n"
                    "# HELP tsloop_requests_in_flight Requests being handled.\n"
                    "# TYPE tsloop_requests_in_flight gauge\ntsloop_requests_in_flight %ld\n",
                    (unsigned long long)atomic_load(&dm->forecasts),
                    (unsigned long long)atomic_load(&dm->forecast_items),
                    (unsigned long long)atomic_load(&dm->item_errors), tsl_capq_depth(dm->capq),
                    (unsigned long long)tsl_capq_written(dm->capq),
                    (unsigned long long)tsl_capq_failed(dm->capq),
                    (unsigned long long)atomic_load(&dm->switches), atomic_load(&dm->inflight));
    tsl_wbuf_printf(
        &b,
        "# HELP tsloop_shadow_queue_depth Requests waiting for their shadow forecasts.\n"
        "# TYPE tsloop_shadow_queue_depth gauge\ntsloop_shadow_queue_depth %zu\n"
        "# HELP tsloop_shadow_requests_total Requests whose shadow forecasts were made.\n"
        "# TYPE tsloop_shadow_requests_total counter\ntsloop_shadow_requests_total %llu\n"
        "# HELP tsloop_shadow_captures_total Shadow forecasts queued for capture.\n"
        "# TYPE tsloop_shadow_captures_total counter\ntsloop_shadow_captures_total %llu\n"
        "# HELP tsloop_shadow_dropped_total Requests whose shadow forecasts were dropped (shadow "
        "queue full).\n"
        "# TYPE tsloop_shadow_dropped_total counter\ntsloop_shadow_dropped_total %llu\n",
        tsl_shadowq_depth(dm->shadowq), (unsigned long long)tsl_shadowq_done(dm->shadowq),
        (unsigned long long)tsl_shadowq_captured(dm->shadowq),
        (unsigned long long)tsl_shadowq_dropped(dm->shadowq));
    tsl_wbuf_puts(&b, "# HELP tsloop_jobs Asynchronous jobs by status (as of the last poll).\n"
                      "# TYPE tsloop_jobs gauge\n");
    for (int k = 0; k < 4; k++)
        tsl_wbuf_printf(&b, "tsloop_jobs{status=\"%s\"} %llu\n",
                        tsl_job_status_name((tsl_job_status)k),
                        (unsigned long long)atomic_load(&dm->jobs[k]));
    tsl_wbuf_puts(&b, "# HELP tsloop_executions Pipeline executions by status (as of the last "
                      "poll).\n# TYPE tsloop_executions gauge\n");
    for (int k = 0; k < 6; k++)
        tsl_wbuf_printf(&b, "tsloop_executions{status=\"%s\"} %llu\n",
                        tsl_exec_status_name((tsl_exec_status)k),
                        (unsigned long long)atomic_load(&dm->execs[k]));
    tsl_wbuf_printf(&b,
                    "# HELP tsloop_scheduler_leader 1 when this daemon holds the project's "
                    "scheduler lock (runs the schedules), else 0.\n"
                    "# TYPE tsloop_scheduler_leader gauge\ntsloop_scheduler_leader %d\n"
                    "# HELP tsloop_scheduler_fires_total Schedule fire times this daemon ran.\n"
                    "# TYPE tsloop_scheduler_fires_total counter\n"
                    "tsloop_scheduler_fires_total %llu\n"
                    "# HELP tsloop_pipeline_workers_busy Pipeline workers claiming or running an "
                    "execution.\n"
                    "# TYPE tsloop_pipeline_workers_busy gauge\ntsloop_pipeline_workers_busy %d\n",
                    tsl_scheduler_leader(dm->sched, NULL, 0),
                    (unsigned long long)tsl_scheduler_fires(dm->sched),
                    tsl_pipeworkers_active(dm->pipeworkers));
    size_t len = b.len;
    tsl_wbuf_putc(&b, '\0');
    return respond(c, r, MHD_HTTP_OK, "text/plain; version=0.0.4", (char *)b.data, len);
}

static enum MHD_Result route_endpoints(tsl_daemon *dm, struct MHD_Connection *c, req *r) {
    json_t *arr = json_array();
    pthread_mutex_lock(&dm->ep_mu);
    for (size_t i = 0; i < dm->nslots; i++) {
        const tsl_served *sv = dm->slots[i].sv, *sh = dm->slots[i].shadow;
        if (!sv) continue;
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:i, s:I, s:I, s:I, s:I, s:o}", "endpoint", sv->endpoint,
                           "forecaster", sv->forecaster, "version", sv->version, "deployment",
                           (json_int_t)sv->deployment_id, "items", (json_int_t)sv->n, "updated",
                           (json_int_t)sv->updated, "horizon", (json_int_t)sv->horizon, "shadow",
                           sh ? json_pack("{s:s, s:i, s:I, s:I}", "forecaster", sh->forecaster,
                                          "version", sh->version, "shadow",
                                          (json_int_t)sh->deployment_id, "items", (json_int_t)sh->n)
                              : json_null()));
    }
    pthread_mutex_unlock(&dm->ep_mu);
    return respond_json(c, r, MHD_HTTP_OK, json_pack("{s:o}", "endpoints", arr));
}

/* Status for a parse error of the request body. */
static int parse_status(tsl_err e) {
    return e == TSL_ELIMIT ? MHD_HTTP_CONTENT_TOO_LARGE : MHD_HTTP_BAD_REQUEST;
}

/* Appends one item's forecast to b and queues its capture. */
static void forecast_item(tsl_daemon *dm, const tsl_served *sv, const char *item,
                          const char *inference_id, size_t h, const double *levels, size_t nq,
                          double *mean, double *quant, int64_t *targets, tsl_wbuf *b) {
    long at = tsl_bundle_find(sv->bundle, item);
    tsl_wbuf_puts(b, "{\"item\":");
    put_jstr(b, item);
    const tsl_model *m = at >= 0 ? sv->models[at] : NULL;
    if (!m) {
        atomic_fetch_add_explicit(&dm->item_errors, 1, memory_order_relaxed);
        tsl_wbuf_printf(b, ",\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}",
                        at < 0 ? "unknown_item" : "model_unavailable",
                        at < 0 ? "the deployed version has no model for this item"
                               : "this item's model could not be loaded");
        return;
    }
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_model_forecast(m, h, levels, nq, mean, quant, &d)) {
        atomic_fetch_add_explicit(&dm->item_errors, 1, memory_order_relaxed);
        tsl_wbuf_puts(b, ",\"error\":{\"code\":\"forecast_failed\",\"message\":");
        put_jstr(b, tsl_diag_msg(&d));
        tsl_wbuf_puts(b, "}}");
        return;
    }
    int64_t origin = sv->origin[at];
    for (size_t s = 0; s < h; s++) targets[s] = tsl_freq_add(sv->freq, origin, (int64_t)s + 1);
    tsl_wbuf_puts(b, ",\"origin\":");
    put_time(b, origin);
    tsl_wbuf_puts(b, ",\"timestamps\":[");
    for (size_t s = 0; s < h; s++) {
        if (s) tsl_wbuf_putc(b, ',');
        put_time(b, targets[s]);
    }
    tsl_wbuf_puts(b, "],\"mean\":[");
    for (size_t s = 0; s < h; s++) {
        if (s) tsl_wbuf_putc(b, ',');
        put_num(b, mean[s]);
    }
    tsl_wbuf_puts(b, "],\"quantiles\":{");
    for (size_t j = 0; j < nq; j++) {
        char key[32];
        snprintf(key, sizeof key, "p%g", levels[j] * 100); /* the forecast CSV's names */
        tsl_wbuf_printf(b, "%s\"%s\":[", j ? "," : "", key);
        for (size_t s = 0; s < h; s++) {
            if (s) tsl_wbuf_putc(b, ',');
            put_num(b, quant[s * nq + j]);
        }
        tsl_wbuf_putc(b, ']');
    }
    tsl_wbuf_puts(b, "}}");
    tsl_capq_item ci = {inference_id, sv->endpoint, item,   sv->model_id, origin, h,
                        nq,           targets,      levels, mean,         quant,  0};
    tsl_capq_push(dm->capq, &ci, 1);
    atomic_fetch_add_explicit(&dm->forecast_items, 1, memory_order_relaxed);
}

static enum MHD_Result route_forecast(tsl_daemon *dm, struct MHD_Connection *c, req *r) {
    tsl_forecast_request fr;
    tsl_diag d = {TSL_OK, {0}};
    tsl_forecast_limits lim = limits(dm);
    tsl_err err =
        tsl_forecast_request_parse((const char *)r->body.data, r->body.len, &lim, &fr, &d);
    if (err) {
        tsl_forecast_request_release(&fr);
        return respond_error(c, r, parse_status(err), err == TSL_EPARSE ? "bad_json" : "invalid",
                             "%s", tsl_diag_msg(&d));
    }
    tsl_served *shadow = NULL;
    tsl_served *sv = served_get(dm, r->name, &shadow);
    if (!sv) {
        tsl_forecast_request_release(&fr);
        return respond_error(c, r, MHD_HTTP_NOT_FOUND, "no_deployment",
                             "endpoint '%s' has no deployed version (tsloop deploy VERSION "
                             "--endpoint %s)",
                             r->name, r->name);
    }
    size_t h = fr.horizon ? fr.horizon : sv->horizon;
    const double *levels = fr.has_levels ? fr.levels : sv->levels;
    size_t nq = fr.has_levels ? fr.nq : sv->nq;
    enum MHD_Result ret;
    if (fr.nitems * h > MAX_VALUES) {
        ret = respond_error(c, r, MHD_HTTP_CONTENT_TOO_LARGE, "invalid",
                            "%zu items x %zu steps: at most %d values per request", fr.nitems, h,
                            MAX_VALUES);
        goto out;
    }
    char id[129];
    if (fr.inference_id[0]) {
        tsl_strlcpy(id, fr.inference_id, sizeof id);
    } else {
        unsigned char raw[16];
        randombytes_buf(raw, sizeof raw);
        sodium_bin2hex(id, sizeof id, raw, sizeof raw);
    }
    double *mean = tsl_malloc(h * sizeof *mean);
    double *quant = tsl_malloc((h * nq > 0 ? h * nq : 1) * sizeof *quant);
    int64_t *targets = tsl_malloc(h * sizeof *targets);
    tsl_wbuf b;
    tsl_wbuf_init(&b);
    tsl_wbuf_puts(&b, "{\"endpoint\":");
    put_jstr(&b, sv->endpoint);
    tsl_wbuf_puts(&b, ",\"model\":{\"forecaster\":");
    put_jstr(&b, sv->forecaster);
    tsl_wbuf_printf(&b, ",\"version\":%d},\"inference_id\":\"%s\",\"horizon\":%zu,\"quantiles\":[",
                    sv->version, id, h);
    for (size_t j = 0; j < nq; j++) {
        if (j) tsl_wbuf_putc(&b, ',');
        put_num(&b, levels[j]);
    }
    tsl_wbuf_puts(&b, "],\"forecasts\":[");
    for (size_t i = 0; i < fr.nitems; i++) {
        if (i) tsl_wbuf_putc(&b, ',');
        forecast_item(dm, sv, fr.items[i], id, h, levels, nq, mean, quant, targets, &b);
    }
    tsl_wbuf_puts(&b, "]}\n");
    /* The shadow's forecasts are made on the shadow thread, after this answer has gone. */
    if (shadow)
        tsl_shadowq_push(dm->shadowq, shadow, (const char *const *)fr.items, fr.nitems, id, h,
                         levels, nq);
    tsl_free(mean);
    tsl_free(quant);
    tsl_free(targets);
    atomic_fetch_add_explicit(&dm->forecasts, 1, memory_order_relaxed);
    size_t len = b.len;
    tsl_wbuf_putc(&b, '\0');
    ret = respond(c, r, MHD_HTTP_OK, "application/json", (char *)b.data, len);
out:
    tsl_served_unref(shadow);
    tsl_served_unref(sv);
    tsl_forecast_request_release(&fr);
    return ret;
}

/* POST /v1/endpoints/NAME/deploy {"version": "ENTRY/N", "why": "..."} and .../rollback
 * {"why": "..."}: the CLI's rules, then a kick to the poller. */
static enum MHD_Result route_move(tsl_daemon *dm, struct MHD_Connection *c, req *r,
                                  const char *who) {
    json_error_t je;
    json_t *j = r->body.len ? json_loadb((const char *)r->body.data, r->body.len,
                                         JSON_REJECT_DUPLICATES, &je)
                            : json_object();
    if (!json_is_object(j)) {
        json_decref(j);
        return respond_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_json", "expected a JSON object body");
    }
    const char *ref = json_string_value(json_object_get(j, "version"));
    const char *why = json_string_value(json_object_get(j, "why"));
    tsl_diag d = {TSL_OK, {0}};
    tsl_store_deployment dp = {0};
    tsl_err err = TSL_OK;
    enum MHD_Result ret;
    if (r->route == R_DEPLOY) {
        char entry[TSL_STORE_NAME_MAX + 1];
        int version = 0;
        if (!ref) {
            ret = respond_error(c, r, MHD_HTTP_BAD_REQUEST, "invalid",
                                "version: expected \"ENTRY/N\" or \"ENTRY\"");
            goto out;
        }
        if (tsl_registry_ref_parse(ref, entry, &version, &d)) {
            ret = respond_error(c, r, MHD_HTTP_BAD_REQUEST, "invalid", "%s", tsl_diag_msg(&d));
            goto out;
        }
        char serves[TSL_STORE_NAME_MAX + 1] = "";
        pthread_mutex_lock(&dm->admin_mu);
        /* The configuration may be replaced by a reload: it is read under this lock. */
        const tsl_config_endpoint *ec = tsl_config_endpoint_find(dm->cfg, r->name);
        size_t fl = ec && ec->forecaster ? strlen(ec->forecaster) : 0;
        if (fl && (strncmp(entry, ec->forecaster, fl) || (entry[fl] && entry[fl] != '.')))
            tsl_strlcpy(serves, ec->forecaster, sizeof serves);
        else
            err = tsl_store_deploy(dm->admin, r->name, entry, version,
                                   ec ? ec->requires_approval : 1, who, why ? why : "", &dp, &d);
        pthread_mutex_unlock(&dm->admin_mu);
        if (serves[0]) {
            ret = respond_error(c, r, MHD_HTTP_CONFLICT, "conflict",
                                "endpoint '%s' serves forecaster '%s', not '%s'", r->name, serves,
                                entry);
            goto out;
        }
    } else {
        pthread_mutex_lock(&dm->admin_mu);
        err = tsl_store_rollback(dm->admin, r->name, who, why ? why : "", &dp, &d);
        pthread_mutex_unlock(&dm->admin_mu);
    }
    if (err) {
        int st = err == TSL_ENOTFOUND   ? MHD_HTTP_NOT_FOUND
                 : err == TSL_ECONFLICT ? MHD_HTTP_CONFLICT
                 : err == TSL_EINVAL    ? MHD_HTTP_BAD_REQUEST
                                        : MHD_HTTP_SERVICE_UNAVAILABLE;
        ret = respond_error(c, r, st,
                            st == MHD_HTTP_NOT_FOUND     ? "not_found"
                            : st == MHD_HTTP_CONFLICT    ? "conflict"
                            : st == MHD_HTTP_BAD_REQUEST ? "invalid"
                                                         : "store_unavailable",
                            "%s", tsl_diag_msg(&d));
        goto out;
    }
    kick_poller(dm);
    ret = respond_json(c, r, MHD_HTTP_OK,
                       json_pack("{s:s, s:s, s:i, s:I, s:s}", "endpoint", dp.endpoint, "forecaster",
                                 dp.forecaster, "version", dp.version, "deployment",
                                 (json_int_t)dp.id, "action", dp.rollback ? "rollback" : "deploy"));
out:
    tsl_store_deployment_release(&dp);
    json_decref(j);
    return ret;
}

/* A version as JSON (the summary of listings). */
static json_t *model_json(const tsl_store_model *m) {
    return json_pack("{s:s, s:i, s:s, s:I, s:I, s:I, s:s?, s:s?, s:I}", "name", m->forecaster,
                     "version", m->version, "status", tsl_model_status_name(m->status),
                     "created_ms", (json_int_t)m->created_ms, "status_ms", (json_int_t)m->status_ms,
                     "approved_ms", (json_int_t)m->approved_ms, "dataset", m->dataset,
                     "dataset_hash", m->dataset_hash, "execution", (json_int_t)m->execution_id);
}

/* The status for a store error. */
static int store_status(tsl_err e) {
    return e == TSL_ENOTFOUND   ? MHD_HTTP_NOT_FOUND
           : e == TSL_ECONFLICT ? MHD_HTTP_CONFLICT
           : e == TSL_EINVAL    ? MHD_HTTP_BAD_REQUEST
                                : MHD_HTTP_SERVICE_UNAVAILABLE;
}

/* The error code for a status from store_status. */
static const char *store_code(int status) {
    return status == MHD_HTTP_NOT_FOUND     ? "not_found"
           : status == MHD_HTTP_CONFLICT    ? "conflict"
           : status == MHD_HTTP_BAD_REQUEST ? "invalid"
                                            : "store_unavailable";
}

/* GET /v1/models[?forecaster=F]: the versions, newest first (tsl_registry_versions). */
static enum MHD_Result route_models(tsl_daemon *dm, struct MHD_Connection *c, req *r) {
    const char *f = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "forecaster");
    tsl_store_model *v = NULL;
    size_t n = 0;
    tsl_diag d = {TSL_OK, {0}};
    pthread_mutex_lock(&dm->admin_mu);
    tsl_err err = tsl_registry_versions(dm->admin, f && f[0] ? f : NULL, &v, &n, &d);
    pthread_mutex_unlock(&dm->admin_mu);
    if (err) {
        int st = store_status(err);
        return respond_error(c, r, st, store_code(st), "%s", tsl_diag_msg(&d));
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, model_json(&v[i]));
    tsl_store_model_list_free(v, n);
    return respond_json(c, r, MHD_HTTP_OK, json_pack("{s:o}", "models", arr));
}

/* GET /v1/models/ENTRY/VERSION: the version, its metrics and its audit log. */
static enum MHD_Result route_model(tsl_daemon *dm, struct MHD_Connection *c, req *r) {
    tsl_store_model m = {0};
    tsl_store_audit *au = NULL;
    size_t na = 0;
    tsl_diag d = {TSL_OK, {0}};
    pthread_mutex_lock(&dm->admin_mu);
    tsl_err err = tsl_store_model_get(dm->admin, r->name, r->version, &m, &d);
    if (!err) err = tsl_store_model_audit(dm->admin, r->name, r->version, &au, &na, &d);
    pthread_mutex_unlock(&dm->admin_mu);
    if (err) {
        tsl_store_model_release(&m);
        int st = store_status(err);
        return respond_error(c, r, st, store_code(st), "%s", tsl_diag_msg(&d));
    }
    json_t *j = model_json(&m), *audit = json_array();
    json_error_t je;
    json_t *metrics = json_loads(m.metrics ? m.metrics : "{}", 0, &je);
    pthread_mutex_lock(&dm->admin_mu);
    tsl_shadow_metrics_merge(dm->admin, m.forecaster, m.version, metrics);
    pthread_mutex_unlock(&dm->admin_mu);
    json_object_set_new(j, "metrics", metrics ? metrics : json_object());
    for (size_t i = 0; i < na; i++)
        json_array_append_new(audit,
                              json_pack("{s:s?, s:s, s:s, s:s, s:I}", "from",
                                        au[i].has_from ? tsl_model_status_name(au[i].from) : NULL,
                                        "to", tsl_model_status_name(au[i].to), "who", au[i].who,
                                        "why", au[i].why, "at_ms", (json_int_t)au[i].at_ms));
    json_object_set_new(j, "audit", audit);
    tsl_store_audit_list_free(au, na);
    tsl_store_model_release(&m);
    return respond_json(c, r, MHD_HTTP_OK, j);
}

/* POST /v1/models/ENTRY/VERSION/approve|reject {"why": "..."}: as `tsloop models approve`,
 * the token's name recorded as who; approval runs the endpoints' auto_deploy rules. */
static enum MHD_Result route_status(tsl_daemon *dm, struct MHD_Connection *c, req *r,
                                    const char *who) {
    json_error_t je;
    json_t *j = r->body.len ? json_loadb((const char *)r->body.data, r->body.len,
                                         JSON_REJECT_DUPLICATES, &je)
                            : NULL;
    const char *why = json_string_value(json_object_get(j, "why"));
    enum MHD_Result ret;
    if (!why || !why[0]) {
        ret = respond_error(c, r, MHD_HTTP_BAD_REQUEST, "invalid",
                            "expected a body {\"why\": \"...\"}: the reason goes into the audit "
                            "log");
        json_decref(j);
        return ret;
    }
    tsl_model_status to = r->route == R_APPROVE ? TSL_MODEL_APPROVED : TSL_MODEL_REJECTED;
    tsl_diag d = {TSL_OK, {0}};
    size_t moved = 0;
    pthread_mutex_lock(&dm->admin_mu);
    tsl_err err = tsl_store_model_set_status(dm->admin, r->name, r->version, to, who, why, &d);
    if (!err)
        err = tsl_deploy_auto(dm->admin, dm->cfg, r->name, r->version, to, 0, who, &moved, &d);
    pthread_mutex_unlock(&dm->admin_mu);
    json_decref(j);
    if (err) {
        int st = store_status(err);
        return respond_error(c, r, st, store_code(st), "%s", tsl_diag_msg(&d));
    }
    if (moved) kick_poller(dm);
    return respond_json(c, r, MHD_HTTP_OK,
                        json_pack("{s:s, s:i, s:s, s:s, s:I}", "name", r->name, "version",
                                  r->version, "status", tsl_model_status_name(to), "who", who,
                                  "deployed", (json_int_t)moved));
}

/* POST /v1/jobs: checks the request, queues it, wakes a worker; 202 with the job's id. */
/* The JSON request of a CSV job body: the items from the body, the rest from the query
 * (endpoint, horizon, quantiles, output, item = the item column). */
static tsl_err csv_job_request(tsl_daemon *dm, struct MHD_Connection *c, req *r, char **request,
                               const char **code, tsl_diag *d) {
    const char *endpoint = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "endpoint");
    const char *horizon = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "horizon");
    const char *qs = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "quantiles");
    const char *output = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "output");
    const char *col = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "item");
    tsl_forecast_limits lim = limits(dm);
    char **items = NULL;
    size_t n = 0;
    json_t *j = json_object();
    tsl_err err = TSL_OK;
    *code = "invalid";
    if (!endpoint || !endpoint[0]) {
        err = tsl_diag_set(d, TSL_EINVAL,
                           "a CSV body needs the endpoint in the query: "
                           "POST /v1/jobs?endpoint=NAME");
        goto out;
    }
    json_object_set_new(j, "endpoint", json_string(endpoint));
    if (horizon) {
        char *end = NULL;
        errno = 0;
        long long h = strtoll(horizon, &end, 10);
        if (errno || end == horizon || *end || h < 1 || (unsigned long long)h > lim.max_horizon) {
            err = tsl_diag_set(d, TSL_EINVAL, "horizon: '%.32s', expected an integer from 1 to %zu",
                               horizon, lim.max_horizon);
            goto out;
        }
        json_object_set_new(j, "horizon", json_integer(h));
    }
    if (qs) {
        json_t *arr = json_array();
        json_object_set_new(j, "quantiles", arr);
        for (const char *p = qs; *p;) {
            char *end = NULL;
            errno = 0;
            double x = strtod(p, &end);
            if (end == p || errno || (*end && *end != ',')) {
                err = tsl_diag_set(d, TSL_EINVAL,
                                   "quantiles: '%.64s', expected levels separated by commas", qs);
                goto out;
            }
            json_array_append_new(arr, json_real(x));
            p = *end ? end + 1 : end;
        }
    }
    if (output) json_object_set_new(j, "output", json_string(output));
    if ((err = tsl_job_csv_items((const char *)r->body.data, r->body.len, col, lim.max_id, &items,
                                 &n, d))) {
        *code = "bad_csv";
        goto out;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, json_string(items[i]));
    json_object_set_new(j, "items", arr);
    /* The same checks as a JSON body, on the same JSON. */
    char *text = json_dumps(j, JSON_COMPACT);
    char ep[TSL_STORE_NAME_MAX + 1];
    err = tsl_job_request_check(text, strlen(text), &lim, request, ep, sizeof ep, d);
    free(text);
out:
    for (size_t i = 0; i < n; i++) tsl_free(items[i]);
    tsl_free(items);
    json_decref(j);
    return err;
}

static enum MHD_Result route_jobs(tsl_daemon *dm, struct MHD_Connection *c, req *r,
                                  const char *who) {
    char *request = NULL, endpoint[TSL_STORE_NAME_MAX + 1] = "";
    tsl_diag d = {TSL_OK, {0}};
    const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    tsl_forecast_limits lim = limits(dm);
    tsl_err err;
    if (ctype && !strncasecmp(ctype, "text/csv", 8)) {
        const char *code = "invalid";
        if ((err = csv_job_request(dm, c, r, &request, &code, &d)))
            return respond_error(c, r, MHD_HTTP_BAD_REQUEST, code, "%s", tsl_diag_msg(&d));
        tsl_strlcpy(endpoint, MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "endpoint"),
                    sizeof endpoint);
    } else if ((err = tsl_job_request_check((const char *)r->body.data, r->body.len, &lim, &request,
                                            endpoint, sizeof endpoint, &d))) {
        return respond_error(c, r, MHD_HTTP_BAD_REQUEST, err == TSL_EPARSE ? "bad_json" : "invalid",
                             "%s", tsl_diag_msg(&d));
    }
    int64_t id = 0;
    pthread_mutex_lock(&dm->admin_mu);
    err = tsl_store_job_create(dm->admin, "predict", endpoint, request, who, &id, &d);
    pthread_mutex_unlock(&dm->admin_mu);
    tsl_free(request);
    if (err) {
        int st = store_status(err);
        return respond_error(c, r, st, store_code(st), "%s", tsl_diag_msg(&d));
    }
    tsl_workers_kick(dm->workers);
    char href[48];
    snprintf(href, sizeof href, "/v1/jobs/%lld", (long long)id);
    return respond_json(
        c, r, MHD_HTTP_ACCEPTED,
        json_pack("{s:I, s:s, s:s}", "job", (json_int_t)id, "status", "Queued", "href", href));
}

/* GET /v1/jobs/ID: the job's status, and its result once it succeeded. */
static enum MHD_Result route_job(tsl_daemon *dm, struct MHD_Connection *c, req *r) {
    tsl_store_job j;
    tsl_diag d = {TSL_OK, {0}};
    pthread_mutex_lock(&dm->admin_mu);
    tsl_err err = tsl_store_job_get(dm->admin, r->job, &j, &d);
    pthread_mutex_unlock(&dm->admin_mu);
    if (err) {
        int st = store_status(err);
        return respond_error(c, r, st, store_code(st), "%s", tsl_diag_msg(&d));
    }
    json_error_t je;
    json_t *res = j.result ? json_loads(j.result, 0, &je) : NULL;
    json_t *o =
        json_pack("{s:I, s:s, s:s?, s:s, s:i, s:s, s:I, s:I, s:I, s:s?, s:o?}", "job",
                  (json_int_t)j.id, "kind", j.kind, "endpoint", j.endpoint, "status",
                  tsl_job_status_name(j.status), "attempts", j.attempts, "who", j.who, "created_ms",
                  (json_int_t)j.created_ms, "started_ms", (json_int_t)j.started_ms, "ended_ms",
                  (json_int_t)j.ended_ms, "error", j.error, "result", res);
    tsl_store_job_release(&j);
    return respond_json(c, r, MHD_HTTP_OK, o);
}

/* GET /v1/jobs/ID/result: the result file of a succeeded job, streamed from its descriptor.
 * Only a file inside the output folder is ever opened. */
static enum MHD_Result route_job_result(tsl_daemon *dm, struct MHD_Connection *c, req *r) {
    tsl_store_job j;
    tsl_diag d = {TSL_OK, {0}};
    pthread_mutex_lock(&dm->admin_mu);
    tsl_err err = tsl_store_job_get(dm->admin, r->job, &j, &d);
    pthread_mutex_unlock(&dm->admin_mu);
    if (err) {
        int st = store_status(err);
        return respond_error(c, r, st, store_code(st), "%s", tsl_diag_msg(&d));
    }
    enum MHD_Result ret;
    json_error_t je;
    json_t *res = j.result ? json_loads(j.result, 0, &je) : NULL;
    const char *file = json_string_value(json_object_get(res, "file"));
    char real[PATH_MAX];
    size_t olen = strlen(dm->outdir);
    int fd = -1;
    struct stat sb;
    if (j.status != TSL_JOB_SUCCEEDED) {
        ret = respond_error(c, r, MHD_HTTP_CONFLICT, "not_ready", "job %lld is %s%s%s",
                            (long long)j.id, tsl_job_status_name(j.status), j.error ? ": " : "",
                            j.error ? j.error : "");
    } else if (!file || !realpath(file, real) || strncmp(real, dm->outdir, olen) ||
               real[olen] != '/' || (fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0 ||
               fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
        ret = respond_error(c, r, MHD_HTTP_GONE, "gone",
                            "job %lld's result file is no longer in the output folder",
                            (long long)j.id);
    } else {
        struct MHD_Response *resp = MHD_create_response_from_fd((uint64_t)sb.st_size, fd);
        fd = -1; /* the response owns it */
        if (!resp) {
            ret = MHD_NO;
        } else {
            MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/csv");
            r->status = MHD_HTTP_OK;
            ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
            MHD_destroy_response(resp);
        }
    }
    if (fd >= 0) close(fd);
    json_decref(res);
    tsl_store_job_release(&j);
    return ret;
}

/* The model routes: /v1/models, /v1/models/ENTRY/VERSION[/approve|/reject]. */
static enum route model_route(const char *url, req *r) {
    if (!strcmp(url, "/v1/models")) return R_MODELS;
    static const char pre[] = "/v1/models/";
    if (strncmp(url, pre, sizeof pre - 1)) return R_OTHER;
    const char *entry = url + sizeof pre - 1, *slash = strchr(entry, '/');
    if (!slash || slash == entry || (size_t)(slash - entry) > TSL_STORE_NAME_MAX) return R_OTHER;
    memcpy(r->name, entry, (size_t)(slash - entry));
    r->name[slash - entry] = '\0';
    char *end = NULL;
    errno = 0;
    long v = strtol(slash + 1, &end, 10);
    if (end == slash + 1 || errno || v < 1 || v > 1000000000 || !isdigit((unsigned char)slash[1]))
        return R_OTHER;
    r->version = (int)v;
    if (!*end) return R_MODEL;
    if (!strcmp(end, "/approve")) return R_APPROVE;
    if (!strcmp(end, "/reject")) return R_REJECT;
    return R_OTHER;
}

/* The management routes (mgmt.c); method tells a parameter's GET from its PUT. */
static enum route mgmt_route(const char *url, const char *method, req *r) {
    static const char ds[] = "/v1/datasets/", fc[] = "/v1/forecasters/", ex[] = "/v1/executions/",
                      pa[] = "/v1/parameters/";
    const char *name = NULL, *slash = NULL;
    if (!strncmp(url, ds, sizeof ds - 1) || !strncmp(url, fc, sizeof fc - 1)) {
        name = url + (url[4] == 'd' ? sizeof ds : sizeof fc) - 1;
        slash = strchr(name, '/');
        if (!slash || slash == name || (size_t)(slash - name) > TSL_STORE_NAME_MAX) return R_OTHER;
        memcpy(r->name, name, (size_t)(slash - name));
        r->name[slash - name] = '\0';
        if (url[4] == 'd') return !strcmp(slash, "/observations") ? R_INGEST : R_OTHER;
        return !strcmp(slash, "/executions") ? R_EXEC_START : R_OTHER;
    }
    if (!strcmp(url, "/v1/executions")) return R_EXECS;
    if (!strncmp(url, ex, sizeof ex - 1)) {
        const char *p = url + sizeof ex - 1;
        char *end = NULL;
        errno = 0;
        long long id = strtoll(p, &end, 10);
        if (!isdigit((unsigned char)*p) || errno || id < 1) return R_OTHER;
        r->id = id;
        if (!*end) return R_EXEC;
        if (!strcmp(end, "/stop")) return R_EXEC_STOP;
        if (!strcmp(end, "/resume")) return R_EXEC_RESUME;
        return R_OTHER;
    }
    if (!strcmp(url, "/v1/parameters")) return R_PARAMS;
    if (!strncmp(url, pa, sizeof pa - 1)) {
        const char *key = url + sizeof pa - 1;
        if (!*key || strlen(key) > TSL_STORE_KEY_MAX) return R_OTHER;
        tsl_strlcpy(r->key, key, sizeof r->key);
        return !strcmp(method, "PUT") ? R_PARAM_PUT : R_PARAM;
    }
    if (!strcmp(url, "/v1/events")) return R_EVENTS;
    if (!strcmp(url, "/v1/events/stream")) return R_EVENT_STREAM;
    return R_OTHER;
}

/* Which route url is; fills r->name (and r->version) from the path. R_OTHER when none. */
static enum route route_of(const char *url, const char *method, req *r) {
    if (!strcmp(url, "/healthz")) return R_HEALTHZ;
    if (!strcmp(url, "/readyz")) return R_READYZ;
    if (!strcmp(url, "/metrics")) return R_METRICS;
    if (!strcmp(url, "/v1/endpoints")) return R_ENDPOINTS;
    if (!strncmp(url, "/v1/models", 10)) return model_route(url, r);
    if (!strcmp(url, "/v1/jobs")) return R_JOBS;
    if (!strcmp(url, "/v1/metrics")) return R_METRICS_QUERY;
    if (!strcmp(url, "/v1/alarms")) return R_ALARMS;
    if (!strncmp(url, "/v1/alarms/", 11) && url[11] && strlen(url + 11) <= TSL_STORE_NAME_MAX &&
        !strchr(url + 11, '/')) {
        tsl_strlcpy(r->name, url + 11, sizeof r->name);
        return R_ALARM;
    }
    if (!strncmp(url, "/v1/jobs/", 9)) {
        char *end = NULL;
        errno = 0;
        long long id = strtoll(url + 9, &end, 10);
        if (!isdigit((unsigned char)url[9]) || errno || id < 1) return R_OTHER;
        r->job = id;
        if (!strcmp(end, "/result")) return R_JOB_RESULT;
        return *end ? R_OTHER : R_JOB;
    }
    enum route mr = mgmt_route(url, method, r);
    if (mr != R_OTHER) return mr;
    static const char pre[] = "/v1/endpoints/";
    if (strncmp(url, pre, sizeof pre - 1)) return R_OTHER;
    const char *name = url + sizeof pre - 1, *slash = strchr(name, '/');
    if (!slash || slash == name || (size_t)(slash - name) > TSL_STORE_NAME_MAX) return R_OTHER;
    memcpy(r->name, name, (size_t)(slash - name));
    r->name[slash - name] = '\0';
    if (!strcmp(slash, "/forecast")) return R_FORECAST;
    if (!strcmp(slash, "/deploy")) return R_DEPLOY;
    if (!strcmp(slash, "/rollback")) return R_ROLLBACK;
    if (!strcmp(slash, "/shadow"))
        return !strcmp(method, "PUT")      ? R_SHADOW_PUT
               : !strcmp(method, "DELETE") ? R_SHADOW_DELETE
                                           : R_SHADOW;
    return R_OTHER;
}

/* GET, PUT and DELETE /v1/endpoints/NAME/shadow (shadow_routes.c builds the bodies); a change
 * wakes the poller, which loads or drops the shadow version. */
static enum MHD_Result route_shadow(tsl_daemon *dm, struct MHD_Connection *c, req *r,
                                    const char *who) {
    json_t *body = NULL;
    tsl_diag d = {TSL_OK, {0}};
    int op = r->route == R_SHADOW_PUT      ? TSL_SHADOW_ROUTE_PUT
             : r->route == R_SHADOW_DELETE ? TSL_SHADOW_ROUTE_DELETE
                                           : TSL_SHADOW_ROUTE_GET;
    pthread_mutex_lock(&dm->admin_mu);
    tsl_err err = tsl_route_shadow(dm->admin, dm->cfg, op, r->name, (const char *)r->body.data,
                                   r->body.len, who, &body, &d);
    pthread_mutex_unlock(&dm->admin_mu);
    if (err == TSL_EPARSE)
        return respond_error(c, r, MHD_HTTP_BAD_REQUEST, "bad_json", "%s", tsl_diag_msg(&d));
    if (err) {
        int st = store_status(err);
        return respond_error(c, r, st, store_code(st), "%s", tsl_diag_msg(&d));
    }
    if (op != TSL_SHADOW_ROUTE_GET) kick_poller(dm);
    return respond_json(c, r, MHD_HTTP_OK, body);
}

/* The role of the request's token, 0 when it has none or an unknown one (no response). */
static tsl_role token_role(tsl_daemon *dm, struct MHD_Connection *c) {
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7)) return 0;
    const char *tok = h + 7;
    while (*tok == ' ') tok++;
    size_t len = strlen(tok);
    while (len && tok[len - 1] == ' ') len--;
    token_entry key;
    tsl_token_hash(tok, len, key.hash);
    pthread_rwlock_rdlock(&dm->tok_mu);
    const token_entry *t = bsearch(&key, dm->tokens, dm->ntokens, sizeof key, cmp_token);
    tsl_role role = t ? t->role : 0;
    pthread_rwlock_unlock(&dm->tok_mu);
    return role;
}

/* Appends a chunk of an ingest body to its file (made on the first chunk): only for a token
 * that may ingest, so that nobody else can fill the disk; past max_ingest the file is dropped
 * and the request is answered 413 (too_big 1), a write error 500 (too_big 2). */
static void upload_chunk(tsl_daemon *dm, req *r, const char *data, size_t n) {
    if (!r->may_upload || r->too_big) return;
    if (r->upload_len + n > dm->o.max_ingest) {
        r->too_big = 1;
    } else {
        if (r->upload_fd < 0)
            r->upload_fd = tsl_mgmt_upload_create(dm->mgmt, r->upload, sizeof r->upload);
        if (r->upload_fd < 0) {
            r->upload[0] = '\0';
            r->too_big = 2;
            return;
        }
        while (n) {
            ssize_t w = write(r->upload_fd, data, n);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                r->too_big = 2;
                break;
            }
            data += w;
            n -= (size_t)w;
            r->upload_len += (size_t)w;
        }
    }
    if (r->too_big) {
        close(r->upload_fd);
        r->upload_fd = -1;
        if (r->upload[0]) unlink(r->upload);
        r->upload[0] = '\0';
    }
}

/* A management route (mgmt.c), authorised. */
static enum MHD_Result route_mgmt(tsl_daemon *dm, struct MHD_Connection *c, req *r,
                                  const char *who) {
    static const tsl_mgmt_op ops[] = {[R_INGEST] = TSL_MGMT_INGEST,
                                      [R_EXEC_START] = TSL_MGMT_EXEC_START,
                                      [R_EXECS] = TSL_MGMT_EXEC_LIST,
                                      [R_EXEC] = TSL_MGMT_EXEC_SHOW,
                                      [R_EXEC_STOP] = TSL_MGMT_EXEC_STOP,
                                      [R_EXEC_RESUME] = TSL_MGMT_EXEC_RESUME,
                                      [R_PARAMS] = TSL_MGMT_PARAM_LIST,
                                      [R_PARAM] = TSL_MGMT_PARAM_SHOW,
                                      [R_PARAM_PUT] = TSL_MGMT_PARAM_SET,
                                      [R_EVENTS] = TSL_MGMT_EVENTS,
                                      [R_EVENT_STREAM] = TSL_MGMT_EVENT_STREAM};
    tsl_mgmt_call q;
    memset(&q, 0, sizeof q);
    q.op = ops[r->route];
    q.c = c;
    q.name = r->route == R_PARAM || r->route == R_PARAM_PUT ? r->key : r->name;
    q.id = r->id;
    q.who = who;
    q.body = (const char *)r->body.data;
    q.len = r->body.len;
    if (r->upload_fd >= 0) {
        close(r->upload_fd);
        r->upload_fd = -1;
        q.upload = r->upload_len ? r->upload : NULL;
    }
    int status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    struct MHD_Response *resp = tsl_mgmt_handle(dm->mgmt, &q, &status, &r->stream);
    if (!resp) return MHD_NO;
    r->status = status;
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* GET /v1/metrics, /v1/alarms, /v1/alarms/NAME (monitor_routes.c builds the bodies). */
static enum MHD_Result route_monitoring(tsl_daemon *dm, struct MHD_Connection *c, req *r) {
    json_t *body = NULL;
    tsl_diag d = {TSL_OK, {0}};
    pthread_mutex_lock(&dm->admin_mu);
    tsl_err err = r->route == R_METRICS_QUERY
                      ? tsl_route_metrics(dm->admin, c, &body, &d)
                      : tsl_route_alarms(dm->admin, dm->cfg, r->route == R_ALARM ? r->name : NULL,
                                         c, &body, &d);
    pthread_mutex_unlock(&dm->admin_mu);
    if (err == TSL_EINVAL)
        return respond_error(c, r, MHD_HTTP_BAD_REQUEST, "invalid_argument", "%s",
                             tsl_diag_msg(&d));
    if (err) {
        int st = store_status(err);
        return respond_error(c, r, st, store_code(st), "%s", tsl_diag_msg(&d));
    }
    return respond_json(c, r, MHD_HTTP_OK, body);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls) {
    (void)version;
    tsl_daemon *dm = cls;
    req *r = *con_cls;
    if (!r) {
        r = tsl_calloc(1, sizeof *r);
        r->t0 = now_s();
        tsl_wbuf_init(&r->body);
        r->route = route_of(url, method, r);
        r->upload_fd = -1;
        if (r->route == R_INGEST) r->may_upload = token_role(dm, c) >= TSL_ROLE_WRITER;
        atomic_fetch_add(&dm->inflight, 1);
        *con_cls = r;
        return MHD_YES;
    }
    long long cap_ms = atomic_load(&dm->cap_time_ms);
    if (cap_ms > 0 && (now_s() - r->t0) * 1000.0 > (double)cap_ms) {
        /* A request past its time (a slow upload): cut it. The response, when libmicrohttpd
         * can send it mid-upload, says why; the connection is closed after it either way. */
        *upload_size = 0;
        if (r->timed_out) return MHD_NO;
        r->timed_out = 1;
        return respond_error(c, r, MHD_HTTP_REQUEST_TIMEOUT, "request_timeout",
                             "the request took longer than %lld s", cap_ms / 1000);
    }
    if (*upload_size) {
        if (r->route == R_INGEST) {
            upload_chunk(dm, r, upload, *upload_size);
            *upload_size = 0;
            return MHD_YES;
        }
        if (r->body.len + *upload_size > atomic_load(&dm->cap_body))
            r->too_big = 1;
        else
            tsl_wbuf_put(&r->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    const struct route_def *rd = &routes[r->route];
    if (r->route == R_OTHER)
        return respond_error(c, r, MHD_HTTP_NOT_FOUND, "not_found", "no route %s %.200s", method,
                             url);
    if (strcmp(method, methods[rd->post]))
        return respond_error(c, r, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", "%s takes %s",
                             rd->name, methods[rd->post]);
    char who[TSL_STORE_NAME_MAX + 8] = "";
    enum MHD_Result ret = MHD_NO;
    if (rd->role && authorize(dm, c, r, rd->role, who, sizeof who, &ret)) return ret;
    if (r->too_big == 2)
        return respond_error(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "io",
                             "cannot keep the body in %s (not writable, or the disk is full)",
                             TSL_PROJECT_DATA_DIR "/uploads");
    if (r->too_big)
        return respond_error(c, r, MHD_HTTP_CONTENT_TOO_LARGE, "payload_too_large",
                             "the body is larger than %zu bytes",
                             r->route == R_INGEST ? dm->o.max_ingest : atomic_load(&dm->cap_body));
    switch (r->route) {
    case R_HEALTHZ:
        return respond_json(c, r, MHD_HTTP_OK, json_pack("{s:s}", "status", "ok"));
    case R_READYZ:
        return route_readyz(dm, c, r);
    case R_METRICS:
        return route_prometheus(dm, c, r);
    case R_ENDPOINTS:
        return route_endpoints(dm, c, r);
    case R_FORECAST:
        return route_forecast(dm, c, r);
    case R_DEPLOY:
    case R_ROLLBACK:
        return route_move(dm, c, r, who);
    case R_MODELS:
        return route_models(dm, c, r);
    case R_MODEL:
        return route_model(dm, c, r);
    case R_APPROVE:
    case R_REJECT:
        return route_status(dm, c, r, who);
    case R_JOBS:
        return route_jobs(dm, c, r, who);
    case R_JOB:
        return route_job(dm, c, r);
    case R_INGEST:
    case R_EXEC_START:
    case R_EXECS:
    case R_EXEC:
    case R_EXEC_STOP:
    case R_EXEC_RESUME:
    case R_PARAMS:
    case R_PARAM:
    case R_PARAM_PUT:
    case R_EVENTS:
    case R_EVENT_STREAM:
        return route_mgmt(dm, c, r, who);
    case R_JOB_RESULT:
        return route_job_result(dm, c, r);
    case R_METRICS_QUERY:
    case R_ALARMS:
    case R_ALARM:
        return route_monitoring(dm, c, r);
    case R_SHADOW:
    case R_SHADOW_PUT:
    case R_SHADOW_DELETE:
        return route_shadow(dm, c, r, who);
    case R_OTHER:
    case R_COUNT:
        break;
    }
    return MHD_NO;
}

/* libmicrohttpd's completion callback: metrics, the access log, freeing the request. */
static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe) {
    (void)c;
    tsl_daemon *dm = cls;
    req *r = *con_cls;
    if (!r) return;
    double dt = now_s() - r->t0;
    route_metrics *m = &dm->metrics[r->route];
    int code = r->status > 0 && r->status < NCODES ? r->status : 0;
    atomic_fetch_add_explicit(&m->codes[code], 1, memory_order_relaxed);
    size_t b = 0;
    while (b < NBUCKETS && dt > buckets[b]) b++;
    atomic_fetch_add_explicit(&m->le[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->sum_us, (unsigned long long)(dt * 1e6), memory_order_relaxed);
    if (dm->o.access_log || toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        tsl_daemon_log(dm->log, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "info" : "warn",
                       "request", "{s:s, s:i, s:f, s:b}", "route", routes[r->route].name, "status",
                       r->status, "seconds", dt, "completed",
                       toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
    if (r->stream) tsl_mgmt_stream_done(dm->mgmt, r->stream);
    if (r->upload_fd >= 0) close(r->upload_fd);
    if (r->upload[0]) unlink(r->upload);
    tsl_wbuf_release(&r->body);
    tsl_free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&dm->inflight, 1);
}

/* ---- starting and stopping ---- */

/* Frees what start made (dm's server already stopped). */
static void teardown(tsl_daemon *dm) {
    if (dm->poller_started) {
        pthread_mutex_lock(&dm->poll_mu);
        dm->stop = 1;
        pthread_cond_signal(&dm->poll_cv);
        pthread_mutex_unlock(&dm->poll_mu);
        pthread_join(dm->poller, NULL);
    }
    for (size_t i = 0; i < dm->nslots; i++) {
        tsl_served_unref(dm->slots[i].sv);
        tsl_served_unref(dm->slots[i].shadow);
    }
    tsl_free(dm->slots);
    tsl_free(dm->tokens);
    tsl_mgmt_free(dm->mgmt);
    tsl_store_close(dm->poll_s);
    tsl_store_close(dm->admin);
    tsl_config_free(dm->owned_cfg);
    pthread_mutex_destroy(&dm->ep_mu);
    pthread_rwlock_destroy(&dm->tok_mu);
    pthread_mutex_destroy(&dm->admin_mu);
    pthread_mutex_destroy(&dm->poll_mu);
    pthread_cond_destroy(&dm->poll_cv);
    tsl_free(dm->url);
    tsl_free(dm->outdir);
    tsl_free(dm->tls_cert);
    tsl_free(dm->tls_key);
    tsl_free(dm);
}

tsl_err tsl_daemon_output_dir(const tsl_project *p, const char *dir, char **out, tsl_diag *d) {
    const char *want = dir && dir[0] ? dir
                       : p->cfg->server.output_dir && p->cfg->server.output_dir[0]
                           ? p->cfg->server.output_dir
                           : TSL_PROJECT_DATA_DIR "/outputs";
    char *path = want[0] == '/' ? tsl_strdup(want) : tsl_project_path(p, want);
    *out = NULL;
    tsl_err err = TSL_OK;
    for (char *q = path + 1;; q++) {
        if (*q && *q != '/') continue;
        char keep = *q;
        *q = '\0';
        if (mkdir(path, 0777) && errno != EEXIST) {
            err = tsl_diag_set(d, TSL_EIO, "cannot make the output folder %s: %s", path,
                               strerror(errno));
            goto out;
        }
        *q = keep;
        if (!keep) break;
    }
    char real[PATH_MAX];
    if (!realpath(path, real)) {
        err = tsl_diag_set(d, TSL_EIO, "output folder %s: %s", path, strerror(errno));
        goto out;
    }
    *out = tsl_strdup(real);
out:
    tsl_free(path);
    return err;
}

/* Fills what the flags in o left unset from the server: section cs, then the defaults. The
 * strings point into cs or are static. */
static void merge_server(tsl_daemon_opts *o, const tsl_config_server *cs) {
    if (!o->host) {
        o->host = cs->listen ? cs->host : "127.0.0.1";
        o->port = cs->listen ? cs->port : 8080;
    }
    if (!o->threads) o->threads = cs->threads;
    if (!o->workers) o->workers = cs->workers ? cs->workers : 1;
    if (!o->pipeline_workers)
        o->pipeline_workers = cs->pipeline_workers < 0 ? 1
                              : cs->pipeline_workers   ? cs->pipeline_workers
                                                       : -1;
    if (!o->max_body) o->max_body = cs->max_body ? (size_t)cs->max_body : (size_t)1 << 20;
    if (!o->max_items) o->max_items = cs->max_items ? (size_t)cs->max_items : 1000;
    if (!o->max_horizon) o->max_horizon = cs->max_horizon ? (size_t)cs->max_horizon : 10000;
    if (!o->max_header) o->max_header = cs->max_header ? (size_t)cs->max_header : 65536;
    if (o->request_timeout_s <= 0) o->request_timeout_s = cs->idle_timeout ? cs->idle_timeout : 30;
    if (o->request_time_s <= 0) o->request_time_s = cs->request_time ? cs->request_time : 60;
    if (!o->tls_cert && !o->tls_key) {
        o->tls_cert = cs->tls_cert;
        o->tls_key = cs->tls_key;
    }
    if (!o->output_dir) o->output_dir = cs->output_dir;
}

/* Publishes the caps of o to the request threads. */
static void set_caps(tsl_daemon *dm, const tsl_daemon_opts *o) {
    atomic_store(&dm->cap_body, o->max_body);
    atomic_store(&dm->cap_items, o->max_items);
    atomic_store(&dm->cap_horizon, o->max_horizon);
    atomic_store(&dm->cap_time_ms, (long long)o->request_time_s * 1000);
}

/* Reads a PEM file (path relative to the project's root) into *out. */
static tsl_err read_pem(const tsl_project *p, const char *what, const char *file, char **out,
                        tsl_diag *d) {
    char *path = file[0] == '/' ? tsl_strdup(file) : tsl_project_path(p, file);
    tsl_err err = TSL_OK;
    FILE *f = fopen(path, "rb");
    tsl_wbuf b;
    tsl_wbuf_init(&b);
    if (!f) {
        err = tsl_diag_set(d, TSL_EIO, "TLS %s %s: %s", what, path, strerror(errno));
        goto out;
    }
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len < (1u << 20))
        tsl_wbuf_put(&b, chunk, n);
    if (ferror(f) || !b.len || b.len >= (1u << 20)) {
        err = tsl_diag_set(d, TSL_EIO, "TLS %s %s: empty, unreadable or larger than 1 MiB", what,
                           path);
        goto out;
    }
    tsl_wbuf_putc(&b, '\0');
    *out = tsl_strdup((const char *)b.data);
out:
    if (f) fclose(f);
    tsl_wbuf_release(&b);
    tsl_free(path);
    return err;
}

tsl_err tsl_daemon_start(const tsl_project *p, const tsl_daemon_opts *o, tsl_daemon **out,
                         tsl_diag *d) {
    tsl_daemon *dm = tsl_calloc(1, sizeof *dm);
    tsl_err err = TSL_OK;
    *out = NULL;
    if (o) dm->o = *o;
    dm->flags = dm->o;
    merge_server(&dm->o, &p->cfg->server);
    if (dm->o.threads <= 0) {
        long nc = sysconf(_SC_NPROCESSORS_ONLN);
        dm->o.threads = nc > 0 ? (int)nc : 2;
    }
    if (!dm->o.max_ingest) dm->o.max_ingest = (size_t)256 << 20;
    if (dm->o.poll_ms <= 0) dm->o.poll_ms = 500;
    dm->log = dm->o.log ? dm->o.log : stderr;
    dm->p = p;
    dm->cfg = p->cfg;
    set_caps(dm, &dm->o);
    dm->slots = tsl_calloc(MAX_ENDPOINTS, sizeof *dm->slots);
    pthread_mutex_init(&dm->ep_mu, NULL);
    pthread_rwlock_init(&dm->tok_mu, NULL);
    pthread_mutex_init(&dm->admin_mu, NULL);
    pthread_mutex_init(&dm->poll_mu, NULL);
    pthread_cond_init(&dm->poll_cv, NULL);
    atomic_init(&dm->inflight, 0);
    if (sodium_init() < 0) {
        err = tsl_diag_set(d, TSL_EINTERNAL, "libsodium could not be initialised");
        goto fail;
    }
    if (!p->store_path) {
        err = tsl_diag_set(d, TSL_EUNSUPPORTED,
                           "this build serves SQLite stores only (the configuration names a "
                           "PostgreSQL one)");
        goto fail;
    }
    dm->url = tsl_strdup(p->store_path);
    if ((err = tsl_store_open(dm->url, NULL, &dm->poll_s, d)) ||
        (err = tsl_store_open(dm->url, NULL, &dm->admin, d)))
        goto fail;
    if ((err = poll_once(dm, d))) goto fail;
    dm->polled_ok = 1;
    char *uploads = tsl_project_path(p, TSL_PROJECT_DATA_DIR "/uploads");
    tsl_mgmt_env me = {dm->url, dm->admin, &dm->admin_mu, &dm->cfg, uploads, dm->o.max_streams};
    err = tsl_mgmt_new(&me, &dm->mgmt, d);
    tsl_free(uploads);
    if (err) goto fail;
    if ((err = tsl_capq_start(dm->url, dm->o.capture_queue, &dm->capq, d))) goto fail;
    if ((err = tsl_shadowq_start(dm->capq, 0, &dm->shadowq, d))) goto fail;
    /* Every file the daemon writes for a request or a schedule goes into the output folder. */
    if ((err = tsl_daemon_output_dir(p, dm->o.output_dir, &dm->outdir, d))) goto fail;
    const char *outdir = dm->outdir;
    err = tsl_workers_start(dm->url, outdir, dm->o.workers > 0 ? dm->o.workers : 1,
                            dm->o.job_lease_ms, dm->o.job_delay_ms, dm->log, &dm->workers, d);
    if (!err && dm->o.pipeline_workers > 0)
        err = tsl_pipeworkers_start(dm->url, p->config_path, dm->o.pipeline_workers, 0, dm->log,
                                    &dm->pipeworkers, d);
    if (!err) {
        tsl_scheduler_opts so = {dm->o.sched_lease_ms, 0, dm->o.sched_clock_start, dm->log};
        err = tsl_scheduler_start(dm->url, p->config_path, outdir, &so, &dm->sched, d);
    }
    if (err) goto fail;
    if ((err = tsl_retrainer_start(dm->url, p->config_path, dm->log, &dm->retrainer, d))) goto fail;
    if ((err = tsl_watcher_start(p, dm->log, &dm->watcher, d))) goto fail;
    if ((err = tsl_notifier_start(p, dm->log, &dm->notifier, d))) goto fail;
    if ((err = tsl_evaluator_start(dm->url, p->config_path, dm->log, &dm->evaluator, d))) goto fail;

    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof addr);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_TURBO |
                     MHD_ALLOW_SUSPEND_RESUME;
    if (strchr(dm->o.host, ':')) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&addr;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)dm->o.port);
        if (inet_pton(AF_INET6, dm->o.host, &a6->sin6_addr) != 1) {
            err = tsl_diag_set(d, TSL_EINVAL, "listen: '%s' is not an IPv6 address", dm->o.host);
            goto fail;
        }
        flags |= MHD_USE_IPv6;
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&addr;
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)dm->o.port);
        if (inet_pton(AF_INET, dm->o.host, &a4->sin_addr) != 1) {
            err = tsl_diag_set(d, TSL_EINVAL,
                               "listen: '%s' is not an IP address, expected an IPv4 address or "
                               "[IPV6]",
                               dm->o.host);
            goto fail;
        }
    }
    if (!dm->o.tls_cert != !dm->o.tls_key) {
        err = tsl_diag_set(d, TSL_EINVAL, "TLS needs both a certificate and a key");
        goto fail;
    }
    if (dm->o.tls_cert) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            err = tsl_diag_set(d, TSL_EUNSUPPORTED, "this libmicrohttpd was built without TLS");
            goto fail;
        }
        if ((err = read_pem(p, "certificate", dm->o.tls_cert, &dm->tls_cert, d)) ||
            (err = read_pem(p, "key", dm->o.tls_key, &dm->tls_key, d)))
            goto fail;
        flags |= MHD_USE_TLS;
    }
    struct MHD_OptionItem tls_opts[] = {
        {dm->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, dm->tls_cert},
        {dm->tls_key ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, dm->tls_key},
        {MHD_OPTION_END, 0, NULL}};
    dm->mhd = MHD_start_daemon(
        flags, (uint16_t)dm->o.port, NULL, NULL, handle, dm, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)dm->o.threads,
        MHD_OPTION_NOTIFY_COMPLETED, completed, dm, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)dm->o.request_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT, dm->o.max_header,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
    if (!dm->mhd) {
        err = tsl_diag_set(d, TSL_EIO, "cannot listen on %s:%d: %s", dm->o.host, dm->o.port,
                           errno ? strerror(errno) : "libmicrohttpd refused to start");
        goto fail;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(dm->mhd, MHD_DAEMON_INFO_BIND_PORT);
    dm->port = info ? info->port : dm->o.port;
    if (pthread_create(&dm->poller, NULL, poller_main, dm)) {
        err = tsl_diag_set(d, TSL_EINTERNAL, "cannot start the poller thread");
        goto fail;
    }
    dm->poller_started = 1;
    tsl_daemon_log(dm->log, "info", "listening", "{s:s, s:i, s:i, s:s, s:I, s:b, s:s}", "host",
                   dm->o.host, "port", dm->port, "threads", dm->o.threads, "store", dm->url,
                   "endpoints", (json_int_t)dm->nslots, "tls", dm->tls_cert != NULL, "outputs",
                   dm->outdir);
    *out = dm;
    return TSL_OK;
fail:
    if (dm->mhd) MHD_stop_daemon(dm->mhd);
    tsl_retrainer_stop(dm->retrainer);
    tsl_notifier_stop(dm->notifier);
    tsl_watcher_stop(dm->watcher);
    tsl_scheduler_stop(dm->sched);
    tsl_pipeworkers_stop(dm->pipeworkers, 0);
    tsl_evaluator_stop(dm->evaluator);
    tsl_workers_stop(dm->workers);
    tsl_shadowq_stop(dm->shadowq);
    tsl_capq_stop(dm->capq, NULL);
    teardown(dm);
    return err;
}

tsl_err tsl_daemon_reload(tsl_daemon *dm, tsl_diag *d) {
    tsl_config *cfg = NULL;
    tsl_err err = tsl_config_load(dm->p->config_path, NULL, &cfg, d);
    if (err) return err;
    /* The caps follow the new server: section (where no flag set them); what binds or starts
     * threads - listen, threads, workers, TLS, output_dir, max_header, idle_timeout - needs a
     * restart. */
    tsl_daemon_opts caps = dm->flags;
    merge_server(&caps, &cfg->server);
    set_caps(dm, &caps);
    pthread_mutex_lock(&dm->admin_mu);
    tsl_config *old = dm->owned_cfg;
    dm->cfg = dm->owned_cfg = cfg;
    pthread_mutex_unlock(&dm->admin_mu);
    tsl_config_free(old); /* nobody reads it outside the lock */
    tsl_scheduler_reload(dm->sched);
    tsl_pipeworkers_reload(dm->pipeworkers);
    tsl_daemon_log(dm->log, "info", "configuration reloaded", "{s:s, s:I}", "file",
                   dm->p->config_path, "endpoints", (json_int_t)cfg->nendpoints);
    return TSL_OK;
}

int tsl_daemon_port(const tsl_daemon *dm) {
    return dm->port;
}

tsl_err tsl_daemon_stop(tsl_daemon *dm, int drain_ms, tsl_diag *d) {
    if (!dm) return TSL_OK;
    tsl_daemon_log(dm->log, "info", "stopping: no new connections, draining requests in flight",
                   "{s:I}", "in_flight", (json_int_t)atomic_load(&dm->inflight));
    MHD_socket ls = MHD_quiesce_daemon(dm->mhd);
    if (ls != MHD_INVALID_SOCKET) close(ls);
    tsl_mgmt_shutdown(dm->mgmt); /* event streams end now rather than hold the drain up */
    double until = now_s() + drain_ms / 1000.0;
    while (atomic_load(&dm->inflight) > 0 && now_s() < until) usleep(2000);
    long left = atomic_load(&dm->inflight);
    MHD_stop_daemon(dm->mhd);
    dm->mhd = NULL;
    tsl_retrainer_stop(dm->retrainer);
    dm->retrainer = NULL;
    tsl_notifier_stop(dm->notifier);
    dm->notifier = NULL;
    tsl_watcher_stop(dm->watcher);
    dm->watcher = NULL;
    tsl_scheduler_stop(dm->sched); /* after its current fire */
    dm->sched = NULL;
    tsl_workers_stop(dm->workers); /* after the jobs they are running */
    dm->workers = NULL;
    tsl_pipeworkers_stop(dm->pipeworkers, drain_ms);
    dm->pipeworkers = NULL;
    tsl_evaluator_stop(dm->evaluator);
    dm->evaluator = NULL;
    tsl_shadowq_stop(dm->shadowq); /* its captures go to the capture queue, stopped next */
    dm->shadowq = NULL;
    tsl_err err = tsl_capq_stop(dm->capq, d);
    dm->capq = NULL;
    tsl_daemon_log(dm->log, err ? "error" : "info", "stopped", "{s:I}", "requests_cut_short",
                   (json_int_t)left);
    teardown(dm);
    return err;
}
