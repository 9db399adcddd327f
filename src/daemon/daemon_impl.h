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
 * [...], "horizon": H}, endpoint required - and writes its compact JSON to *request (a new
 * string) and the endpoint to endpoint (cap bytes). TSL_EPARSE / TSL_EINVAL with the key. */
tsl_err tsl_job_request_check(const char *body, size_t len, const tsl_forecast_limits *lim,
                              char **request, char *endpoint, size_t cap, tsl_diag *d);

/* Starts n worker threads, each on its own handle of the store at url, writing job outputs
 * into the folder outdir (which exists). */
tsl_err tsl_workers_start(const char *url, const char *outdir, int n, FILE *log, tsl_workers **out,
                          tsl_diag *d);

/* Wakes idle workers (a job was queued). */
void tsl_workers_kick(tsl_workers *w);

/* Stops the workers after the jobs they are running, and frees w; NULL is a no-op. */
void tsl_workers_stop(tsl_workers *w);

/* The evaluator thread (evaluator.c): follows the event log on its own handle of the store at
 * url and evaluates cfg's monitors (which must outlive it). *out stays NULL when cfg has no
 * monitor. */
typedef struct tsl_evaluator tsl_evaluator;
tsl_err tsl_evaluator_start(const char *url, const tsl_config *cfg, FILE *log, tsl_evaluator **out,
                            tsl_diag *d);
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

#endif
