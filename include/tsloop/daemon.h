/*
 * daemon.h - `tsloop serve`: the HTTP daemon that answers forecasts from deployed models.
 *
 * The daemon serves every endpoint of a project's store. Each endpoint's deployed version is
 * loaded once - its bundle's models decoded, then updated (tsl_model_update, no refit) with
 * the observations ingested after the training cut - and kept in memory behind a
 * reference-counted pointer: a forecast request takes a reference, forecasts, and drops it, so
 * it never touches the store. A poller notices a new deployment (or new observations) within
 * poll_ms, loads the new version completely, then switches the pointer; requests in flight
 * finish on the version they started with, which is freed when its last reference goes.
 *
 * Every value served is captured: each request puts its forecasts into a bounded queue that a
 * writer thread drains in group commits (one transaction for everything queued). When the
 * queue is full, requests wait for room: the API slows down rather than growing memory or
 * dropping captures. docs/api.md describes the routes; docs/daemon.md the behaviour.
 */
#ifndef TSLOOP_DAEMON_H
#define TSLOOP_DAEMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tsloop/err.h"
#include "tsloop/metrics.h"
#include "tsloop/project.h"
#include "tsloop/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the forecast request body (pure: for the route and its fuzz target) ---- */

typedef struct tsl_forecast_limits {
    size_t max_items;   /* items per request */
    size_t max_horizon; /* steps */
    size_t max_id;      /* bytes of an item id */
} tsl_forecast_limits;

typedef struct tsl_forecast_request {
    char **items; /* nitems, copied */
    size_t nitems;
    size_t horizon; /* 0: not given (the version's horizon) */
    double levels[TSL_METRICS_MAX_LEVELS];
    size_t nq;
    int has_levels;         /* "quantiles" was given (possibly empty) */
    char inference_id[129]; /* "" when not given */
} tsl_forecast_request;

/* Parses len bytes of a forecast request body, {"items": [...], "horizon": H, "quantiles":
 * [...], "inference_id": "..."}: items (required) are 1..max_items non-empty strings of at most
 * max_id bytes; horizon an integer 1..max_horizon; quantiles increasing levels in (0, 1), at
 * most TSL_METRICS_MAX_LEVELS; inference_id 1-128 characters of [A-Za-z0-9._:-]. Unknown keys
 * are errors. TSL_EPARSE (not JSON), TSL_EINVAL (a wrong key, type or value), TSL_ELIMIT (a
 * cap), with a message naming the key. *out is released with tsl_forecast_request_release
 * (also after an error). */
tsl_err tsl_forecast_request_parse(const char *body, size_t len, const tsl_forecast_limits *lim,
                                   tsl_forecast_request *out, tsl_diag *d);
void tsl_forecast_request_release(tsl_forecast_request *r);

/* Reads the item ids of a CSV job body (POST /v1/jobs with Content-Type text/csv): a header
 * row with the column item_col (NULL: "item_id") - any other columns are ignored, so a forecast
 * CSV or a data set may be sent as is - and one item per row, with the CSV reader's rules
 * (csv.h: RFC 4180 quoting, items_only). Duplicates are dropped, the first listing kept.
 * *items (n new strings in a new array) is freed by the caller. Errors name body.csv, the line
 * and the column: TSL_EPARSE (a malformed row or header), TSL_ELIMIT (an id longer than
 * max_id bytes), TSL_EINVAL (no items). */
tsl_err tsl_job_csv_items(const char *body, size_t len, const char *item_col, size_t max_id,
                          char ***items, size_t *n, tsl_diag *d);

/* ---- batch forecasts ---- */

typedef struct tsl_predict_opts {
    const char *const *items; /* NULL: every item of the deployed version */
    size_t nitems;
    size_t horizon;       /* 0: the version's */
    const double *levels; /* used when has_levels (nq of them, may be 0) */
    size_t nq;
    int has_levels;
    const char *inference_id; /* NULL: "batch-" and 16 random hex digits */
} tsl_predict_opts;

typedef struct tsl_predict_result {
    char forecaster[65]; /* the registry entry and version served */
    int version;
    char inference_id[129];
    size_t items;           /* forecast */
    size_t unknown;         /* listed items the version has no (usable) model for */
    size_t rows;            /* written */
    size_t captured;        /* captures committed */
    int shadow_version;     /* the version in shadow on the endpoint (0: none) */
    size_t shadow_captured; /* its captures committed (flagged shadow, same inference id) */
} tsl_predict_result;

/* The batch form of the forecast route: forecasts every item (or the listed ones) of the
 * version deployed on endpoint, writes the forecast CSV of DESIGN.md to path (atomically; "-":
 * stdout), and captures every value as the daemon does, under one inference id - and, when a
 * version runs in shadow on the endpoint, its forecasts of the same items, captured flagged
 * shadow under the same id (never written to path; a shadow that fails to load or capture is
 * logged to stderr and never fails the batch). The models
 * are brought up to date with the observations after their training first, as the daemon
 * does. TSL_ENOTFOUND for an endpoint without a deployment. */
tsl_err tsl_predict(tsl_store *s, const char *endpoint, const char *path, const tsl_predict_opts *o,
                    tsl_predict_result *r, tsl_diag *d);

/* The output folder of project p - dir when given (relative paths against the project's root),
 * else the server: section's output_dir, else .tsloop/outputs - made with its missing parents.
 * *out gets its real path (a new string, symbolic links resolved): where the daemon writes job
 * results and scheduled forecasts, and `tsloop predict` its copies. TSL_EIO naming the folder. */
tsl_err tsl_daemon_output_dir(const tsl_project *p, const char *dir, char **out, tsl_diag *d);

/* ---- the daemon ---- */

/* Writes one JSON log line to f: {"ts", "level", "msg", ...fields}, where fields is a json_pack
 * format and its arguments (or NULL). Thread-safe (one write per line). The daemon's log
 * format, for the programs around it too. */
void tsl_daemon_log(FILE *f, const char *level, const char *msg, const char *fields, ...);

typedef struct tsl_daemon_opts {
    /* Zero (NULL) leaves a setting to the project's server: section, then to the default. */
    const char *host;      /* address to bind, IPv4 or IPv6 (no brackets); NULL: the config's
                              listen, else 127.0.0.1:8080 (port is then ignored) */
    int port;              /* with host; 0: any free port (tsl_daemon_port tells which) */
    int threads;           /* HTTP worker threads; 0: the number of cores */
    size_t max_body;       /* bytes of a request body; 0: 1 MiB */
    size_t max_ingest;     /* bytes of an ingest body (streamed to a file); 0: 256 MiB */
    int max_streams;       /* open event streams (GET /v1/events/stream); 0: 32 */
    size_t max_items;      /* items per forecast request; 0: 1000 */
    size_t max_horizon;    /* 0: 10000 */
    size_t max_header;     /* bytes of a connection's headers and buffers; 0: 65536 */
    size_t capture_queue;  /* captures waiting for the writer; 0: 65536 */
    int poll_ms;           /* how often the store is polled for deployments; 0: 500 */
    int request_timeout_s; /* idle connections are closed after it; 0: 30 */
    int request_time_s;    /* a request taking longer is cut (408); 0: 60 */
    int access_log;        /* log every request (JSON line) */
    int workers;           /* job worker threads; 0: 1 */
    int pipeline_workers;  /* training execution workers; 0: 1; -1: none */
    const char *tls_cert;  /* PEM certificate and key files (relative to the project's root):
                              HTTPS; NULL: the config's, else plain HTTP */
    const char *tls_key;
    const char *output_dir;    /* where job results and scheduled forecasts are written, relative
                                  to the project's root; NULL: .tsloop/outputs */
    int64_t sched_lease_ms;    /* the scheduler lock's lease; 0: 15000 */
    int64_t sched_clock_start; /* tests: the scheduler's clock starts here (seconds); 0: real */
    int64_t job_lease_ms;      /* a job's lease, renewed while it runs; 0: the store's 30000 */
    int job_delay_ms;          /* tests: each job sleeps this long (heartbeats go on) */
    FILE *log;                 /* NULL: stderr */
} tsl_daemon_opts;

typedef struct tsl_daemon tsl_daemon;

/* Opens the store of project p (which must outlive the daemon), loads every deployed
 * endpoint and starts listening, the poller and the capture writer. TSL_EIO when the address
 * cannot be bound. */
tsl_err tsl_daemon_start(const tsl_project *p, const tsl_daemon_opts *o, tsl_daemon **out,
                         tsl_diag *d);

/* Reads tsloop.yaml again (SIGHUP) and applies what the daemon uses of it - the endpoints'
 * rules for deploys and approvals over HTTP - from the next request on. The store location
 * and the listening options need a restart. On error (the message names FILE:LINE:COL) the
 * configuration in force stays. */
tsl_err tsl_daemon_reload(tsl_daemon *dm, tsl_diag *d);

/* The port it listens on. */
int tsl_daemon_port(const tsl_daemon *dm);

/* Stops gracefully: stops accepting connections, waits up to drain_ms for the requests in
 * flight, stops the poller, writes every queued capture, closes everything and frees dm.
 * Returns TSL_OK, or the capture writer's error (the captures not written are counted in the
 * log). NULL is a no-op. */
tsl_err tsl_daemon_stop(tsl_daemon *dm, int drain_ms, tsl_diag *d);

/* ---- the inbox watcher (docs/inbox.md) ---- */

typedef struct tsl_watcher tsl_watcher;

/* Starts a thread that watches the inbox folder of every data set of p that declares one
 * (creating missing folders), handles what is already there, then every file closed after
 * writing or renamed into a folder (tsl_inbox_handle), logging each outcome to log (NULL:
 * stderr) as tsl_daemon_log does. *out is NULL, and no thread runs, when no data set has an
 * inbox. p must outlive the watcher. */
tsl_err tsl_watcher_start(const tsl_project *p, FILE *log, tsl_watcher **out, tsl_diag *d);

/* Stops the thread (after the file it is handling) and frees w; NULL is a no-op. */
void tsl_watcher_stop(tsl_watcher *w);

/* ---- the notifier (docs/notifications.md) ---- */

typedef struct tsl_notifier tsl_notifier;

/* Starts one thread per channel of p's notifications section: each follows the event log from
 * the channel's cursor in the store and delivers the events it routes (tsl_notify_deliver),
 * with retries, backoff and the dead letter. *out is NULL, and no thread runs, when there is
 * no channel. p must outlive the notifier. */
tsl_err tsl_notifier_start(const tsl_project *p, FILE *log, tsl_notifier **out, tsl_diag *d);

/* Stops the threads (each after the delivery attempt it is making) and frees n; NULL is a
 * no-op. */
void tsl_notifier_stop(tsl_notifier *n);

#ifdef __cplusplus
}
#endif
#endif
