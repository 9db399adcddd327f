/*
 * daemon_impl.h - the daemon's parts (internal): a served version (served.c), the capture
 * queue and its writer (capture.c), and the HTTP server that uses them (server.c).
 */
#ifndef TSLOOP_DAEMON_IMPL_H
#define TSLOOP_DAEMON_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "tsloop/buf.h"
#include "tsloop/bundle.h"
#include "tsloop/config.h"
#include "tsloop/daemon.h"
#include "tsloop/model.h"
#include "tsloop/store.h"
#include "tsloop/time.h"

/* ---- a served version: what one endpoint answers from ---- */

typedef struct tsl_served {
    atomic_long refs; /* the endpoint's pointer holds one; each request in flight one */
    char *endpoint;
    int64_t deployment_id;
    int64_t model_id;
    char *forecaster; /* the registry entry */
    int version;
    char dataset_hash[TSL_STORE_HASH_HEX + 1]; /* of the data the models were updated with */
    char *dataset;
    tsl_freq freq;
    size_t horizon; /* the version's trained horizon: the default */
    double levels[TSL_METRICS_MAX_LEVELS];
    size_t nq;
    tsl_bundle *bundle;
    size_t n;           /* entries of the bundle, in its order */
    tsl_model **models; /* n; NULL where the model could not be loaded or updated */
    int64_t *origin;    /* n: the time of the last value each model has seen */
    size_t updated;     /* models that absorbed observations newer than their training */
} tsl_served;

/* Loads deployment dp of endpoint: the version's bundle, every model decoded and updated with
 * the observations after its training end (from the version's choices JSON). *out has one
 * reference. log (may be NULL) receives warnings. */
tsl_err tsl_served_load(tsl_store *s, const tsl_store_deployment *dp, tsl_served **out,
                        tsl_diag *d);

/* Takes and drops a reference; the last drop frees it. NULL is a no-op for unref. */
void tsl_served_ref(tsl_served *sv);
void tsl_served_unref(tsl_served *sv);

/* ---- captures ---- */

typedef struct tsl_capq tsl_capq;

/* One capture to queue: copied by push. */
typedef struct tsl_capq_item {
    const char *inference_id, *endpoint, *item;
    int64_t model_id, origin;
    size_t steps, nq;
    const int64_t *targets;
    const double *levels, *mean, *quant;
    int shadow; /* a shadow version's forecast (model_id is the shadow's) */
} tsl_capq_item;

/* Starts the writer thread on its own handle of the store at url, with room for cap
 * captures. */
tsl_err tsl_capq_start(const char *url, size_t cap, tsl_capq **out, tsl_diag *d);

/* Queues n captures (all or, when n exceeds the queue's room, in parts), waiting while the
 * queue is full. */
void tsl_capq_push(tsl_capq *q, const tsl_capq_item *v, size_t n);

/* Captures waiting, written, and lost to store errors (each write retried, then dropped with a
 * log line: never silently). */
size_t tsl_capq_depth(tsl_capq *q);
uint64_t tsl_capq_written(tsl_capq *q);
uint64_t tsl_capq_failed(tsl_capq *q);

/* Writes everything queued, stops the writer and frees q; TSL_OK or the last write error. */
tsl_err tsl_capq_stop(tsl_capq *q, tsl_diag *d);

/* ---- the shadow queue (shadowq.c) ---- */

typedef struct tsl_shadowq tsl_shadowq;

/* Starts the thread that computes shadow versions' forecasts and queues their captures
 * (flagged shadow) to capq, with room for cap requests (0: 4096). */
tsl_err tsl_shadowq_start(tsl_capq *capq, size_t cap, tsl_shadowq **out, tsl_diag *d);

/* Queues the shadow forecast of one request - items[0..nitems), h steps, levels[0..nq), the
 * live answer's inference id - from shadow version sv (a reference is taken). Never waits:
 * returns 0 and counts a drop when the queue is full. Everything is copied. */
int tsl_shadowq_push(tsl_shadowq *q, tsl_served *sv, const char *const *items, size_t nitems,
                     const char *inference_id, size_t h, const double *levels, size_t nq);

/* Requests waiting; requests done; requests dropped (queue full); shadow captures queued. */
size_t tsl_shadowq_depth(tsl_shadowq *q);
uint64_t tsl_shadowq_done(tsl_shadowq *q);
uint64_t tsl_shadowq_dropped(tsl_shadowq *q);
uint64_t tsl_shadowq_captured(tsl_shadowq *q);

/* Runs what is queued, stops the thread and frees q (before the capture queue stops); NULL is
 * a no-op. */
void tsl_shadowq_stop(tsl_shadowq *q);

/* ---- jobs (jobs.c) ---- */

typedef struct tsl_workers tsl_workers;

/* Checks len bytes of a POST /v1/jobs body - {"kind": "predict", "endpoint": NAME, "items":
 * [...], "horizon": H, "quantiles": [...], "output": FILE}, endpoint required, output a file
 * name of the output folder (tsl_job_output_check) - and writes its compact JSON to *request (a new
 * string) and the endpoint to endpoint (cap bytes). TSL_EPARSE / TSL_EINVAL with the key. */
tsl_err tsl_job_request_check(const char *body, size_t len, const tsl_forecast_limits *lim,
                              char **request, char *endpoint, size_t cap, tsl_diag *d);

/* Checks a file name a request gives for the output folder: 1-128 of A-Z a-z 0-9 _ - ., not
 * starting with a dot - so no folder, no "..", no absolute path can be named. TSL_EINVAL. */
tsl_err tsl_job_output_check(const char *name, tsl_diag *d);

/* Starts n worker threads, each on its own handle of the store at url with jobs held for
 * lease_ms (0: the store's 30 s) and renewed from a sibling handle while a job runs, writing
 * job outputs into the folder outdir (which exists). delay_ms > 0 (tests) makes each job
 * sleep that long before its work. */
tsl_err tsl_workers_start(const char *url, const char *outdir, int n, int64_t lease_ms,
                          int delay_ms, FILE *log, tsl_workers **out, tsl_diag *d);

/* Wakes idle workers (a job was queued). */
void tsl_workers_kick(tsl_workers *w);

/* Stops the workers after the jobs they are running, and frees w; NULL is a no-op. */
void tsl_workers_stop(tsl_workers *w);

/* ---- a thread's own copy of the configuration (cfgwatch.c) ---- */

/* Loads the configuration at path into *cfg when *cfg is NULL or the file's modification time
 * differs from *seen (updated); a file that does not load keeps *cfg as it was and is logged
 * under who. Returns 1 when *cfg was (re)loaded. */
int tsl_daemon_config_refresh(const char *path, FILE *log, const char *who, tsl_config **cfg,
                              int64_t *seen);

/* ---- the retrain trigger (retrainer.c) ---- */

typedef struct tsl_retrainer tsl_retrainer;

/* Starts the thread that runs the retrain trigger reactor (retrain.h) on its own handle of
 * the store at url, with the configuration at config_path (reloaded when the file changes),
 * logging to log. */
tsl_err tsl_retrainer_start(const char *url, const char *config_path, FILE *log,
                            tsl_retrainer **out, tsl_diag *d);

/* Stops it after the round in progress and frees r; NULL is a no-op. */
void tsl_retrainer_stop(tsl_retrainer *r);
/* ---- NDJSON observations (ndjson.c) ---- */

typedef struct tsl_ndjson tsl_ndjson;

/* A translator of NDJSON observation lines into CSV with the given column names (item_col and
 * time_col NULL: "item_id", "timestamp"; target_col NULL: "target_value", else "target"; keys match
 * ignoring case), for the
 * input called name in messages. ndims declared dimensions (0: the first record's extra keys). */
tsl_ndjson *tsl_ndjson_new(const char *name, const char *item_col, const char *time_col,
                           const char *target_col, const char *const *dims, size_t ndims);
void tsl_ndjson_free(tsl_ndjson *j);

/* Translates line lineno (len bytes, without its line break) into out: the header before the
 * first record, then one CSV row per record (a blank line stays a blank line), so that
 * NDJSON line k is CSV line k + 1. TSL_EPARSE naming the line and field; out is then
 * untouched by this line. */
tsl_err tsl_ndjson_line(tsl_ndjson *j, const char *line, size_t len, uint64_t lineno, tsl_wbuf *out,
                        tsl_diag *d);

/* Records translated so far. */
uint64_t tsl_ndjson_records(const tsl_ndjson *j);

/* Turns the CSV lines in a receipt's rejections (line and "NAME:LINE" reasons), or in a
 * message, back into NDJSON lines. */
void tsl_ndjson_fix_receipt(const tsl_ndjson *j, tsl_store_receipt *r);
void tsl_ndjson_fix_message(const tsl_ndjson *j, tsl_diag *d);

/* ---- the management API (mgmt.c) ---- */

struct MHD_Connection;
struct MHD_Response;
typedef struct tsl_mgmt tsl_mgmt;

/* What the management routes use of the daemon. */
typedef struct tsl_mgmt_env {
    const char *url;              /* the store: ingests and the event follower open their own */
    tsl_store *admin;             /* short calls, under admin_mu */
    pthread_mutex_t *admin_mu;    /* also guards *cfg */
    const tsl_config *const *cfg; /* the configuration (replaced on reload) */
    const char *uploads;          /* folder for request bodies (made if missing) */
    int max_streams;              /* open event streams; 0: 32 */
} tsl_mgmt_env;

/* Starts the management API's state and its event follower thread. */
tsl_err tsl_mgmt_new(const tsl_mgmt_env *env, tsl_mgmt **out, tsl_diag *d);

/* Ends every event stream (their responses finish) and stops the follower; call before
 * draining requests. tsl_mgmt_free (after the HTTP server stopped) frees m; NULL: no-op. */
void tsl_mgmt_shutdown(tsl_mgmt *m);
void tsl_mgmt_free(tsl_mgmt *m);

typedef enum tsl_mgmt_op {
    TSL_MGMT_INGEST,
    TSL_MGMT_EXEC_START,
    TSL_MGMT_EXEC_LIST,
    TSL_MGMT_EXEC_SHOW,
    TSL_MGMT_EXEC_STOP,
    TSL_MGMT_EXEC_RESUME,
    TSL_MGMT_PARAM_LIST,
    TSL_MGMT_PARAM_SHOW,
    TSL_MGMT_PARAM_SET,
    TSL_MGMT_EVENTS,
    TSL_MGMT_EVENT_STREAM
} tsl_mgmt_op;

/* One authorised management request. */
typedef struct tsl_mgmt_call {
    tsl_mgmt_op op;
    struct MHD_Connection *c;
    const char *name; /* the data set, forecaster or parameter key of the URL */
    int64_t id;       /* the execution id of the URL */
    const char *who;  /* "token:NAME" */
    const char *body; /* the body (not for ingests), len bytes */
    size_t len;
    const char *upload; /* ingests: the file holding the body; NULL when it was empty */
} tsl_mgmt_call;

/* Answers q: the response to queue with *status, or NULL (close the connection). *handle is
 * set for an event stream: pass it to tsl_mgmt_stream_done when the request completes. */
struct MHD_Response *tsl_mgmt_handle(tsl_mgmt *m, const tsl_mgmt_call *q, int *status,
                                     void **handle);
void tsl_mgmt_stream_done(tsl_mgmt *m, void *handle);

/* Creates a file for a request body in the upload folder: its descriptor (path gets its name,
 * cap bytes), or -1 with errno. */
int tsl_mgmt_upload_create(tsl_mgmt *m, char *path, size_t cap);
/* ---- pipeline workers (pipeworkers.c) ---- */

typedef struct tsl_pipeworkers tsl_pipeworkers;

/* Starts n pipeline worker threads, each with its own handle of the store at url and its own
 * copy of the configuration at config_path, running any requested training execution
 * (tsl_pipeline_work) with threads threads per AutoML step (0: all cores). */
tsl_err tsl_pipeworkers_start(const char *url, const char *config_path, int n, int threads,
                              FILE *log, tsl_pipeworkers **out, tsl_diag *d);

/* Makes each worker read the configuration again before its next claim. NULL is a no-op. */
void tsl_pipeworkers_reload(tsl_pipeworkers *pw);

/* Workers inside tsl_pipeline_work now (claiming or running). */
int tsl_pipeworkers_active(tsl_pipeworkers *pw);

/* Asks the workers to stop and waits up to wait_ms for them; returns how many were still
 * running an execution then (left running, as after a crash: pw is then not freed). NULL is a
 * no-op. */
int tsl_pipeworkers_stop(tsl_pipeworkers *pw, int wait_ms);

/* ---- the scheduler (scheduler.c) ---- */

typedef struct tsl_scheduler tsl_scheduler;

typedef struct tsl_scheduler_opts {
    int64_t lease_ms;    /* of the scheduler's lock; 0: 15000 */
    int tick_ms;         /* how often schedules are looked at and the lock renewed; 0: 1000 */
    int64_t clock_start; /* 0: the real clock; else the clock starts at this time (seconds) */
    FILE *log;           /* NULL: stderr */
} tsl_scheduler_opts;

/* Starts the scheduler thread on its own handle of the store at url, reading the schedules
 * of the configuration at config_path and writing scheduled forecasts into the folder outdir
 * (which exists). It schedules only while it holds the store's "scheduler" lock. */
tsl_err tsl_scheduler_start(const char *url, const char *config_path, const char *outdir,
                            const tsl_scheduler_opts *o, tsl_scheduler **out, tsl_diag *d);

/* Reads the configuration again before the next tick (SIGHUP). NULL is a no-op. */
void tsl_scheduler_reload(tsl_scheduler *sc);

/* 1 when this daemon holds the scheduler's lock (as of the last tick); holder (cap bytes, may
 * be NULL) gets "HOST:PID" of the daemon that does. */
int tsl_scheduler_leader(tsl_scheduler *sc, char *holder, size_t cap);

/* Fire times this scheduler ran. */
uint64_t tsl_scheduler_fires(tsl_scheduler *sc);

/* Stops the thread after its current tick, releases the lock when held, frees sc. NULL is a
 * no-op. */
void tsl_scheduler_stop(tsl_scheduler *sc);
/* The evaluator thread (evaluator.c): follows the event log on its own handle of the store at
 * url and evaluates the monitors of its own copy of the configuration at config_path, loaded
 * again when the file changes (monitors added later are evaluated from then on). */
typedef struct tsl_evaluator tsl_evaluator;
tsl_err tsl_evaluator_start(const char *url, const char *config_path, FILE *log,
                            tsl_evaluator **out, tsl_diag *d);
/* Stops the thread after its current evaluation and frees e; NULL is a no-op. */
void tsl_evaluator_stop(tsl_evaluator *e);

/* The bodies of GET /v1/metrics (query: monitor, endpoint, item, metric, step, since, limit)
 * and GET /v1/alarms[/NAME] (monitor_routes.c): TSL_EINVAL for a bad query argument,
 * TSL_ENOTFOUND for an unknown monitor. */
struct MHD_Connection;
struct json_t;
tsl_err tsl_route_metrics(tsl_store *s, struct MHD_Connection *c, struct json_t **out, tsl_diag *d);
tsl_err tsl_route_alarms(tsl_store *s, const tsl_config *cfg, const char *name,
                         struct MHD_Connection *c, struct json_t **out, tsl_diag *d);

/* The bodies of GET, PUT and DELETE /v1/endpoints/NAME/shadow (shadow_routes.c): op is one of
 * TSL_SHADOW_ROUTE_*, body the PUT's {"forecaster", "version", "windows", "why"} or DELETE's
 * {"why"} (len bytes). TSL_EPARSE / TSL_EINVAL for a bad body, the store's errors otherwise
 * (TSL_ENOTFOUND, TSL_ECONFLICT). *out is the JSON to answer with. */
enum { TSL_SHADOW_ROUTE_GET, TSL_SHADOW_ROUTE_PUT, TSL_SHADOW_ROUTE_DELETE };
tsl_err tsl_route_shadow(tsl_store *s, const tsl_config *cfg, int op, const char *endpoint,
                         const char *body, size_t len, const char *who, struct json_t **out,
                         tsl_diag *d);

#endif
