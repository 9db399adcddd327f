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

#include "tsloop/bundle.h"
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

#endif
