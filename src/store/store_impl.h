/*
 * store_impl.h - what a store back end implements, and what the front end shares with it
 * (internal, not installed).
 *
 * The front end (store.c, ingest.c) owns everything that does not depend on how data is kept:
 * argument checks, names and status tables, the execution state machine's rules, the retry
 * policy, deciding whether a worker is alive, batching and hashing ingested rows, freeing
 * results. A back end gets arguments already checked and does the storage: each vtable entry
 * is one semantic operation, done in one transaction, that keeps the contract stated for the
 * public function of the same name in store.h. The embedded back end is sqlite*.c; a
 * PostgreSQL one fills the same table.
 */
#ifndef TSLOOP_STORE_IMPL_H
#define TSLOOP_STORE_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "tsloop/store.h"

/* The identity a handle writes into the leases it holds and the records it starts, and that
 * another handle uses to tell whether the holder is still alive (tsl_sto_owner_dead). */
typedef struct tsl_store_owner {
    char host[256];
    char boot[40]; /* the kernel's boot id: a different one on the same host means a reboot */
    int64_t pid;
    int64_t start;  /* the process's start time in clock ticks since boot; 0 when unknown */
    char token[33]; /* random per handle: two handles of one process hold different leases */
} tsl_store_owner;

typedef struct tsl_store_vt tsl_store_vt;

struct tsl_store {
    const tsl_store_vt *vt;
    void *be;       /* the back end's connection state */
    char *url;      /* as opened */
    char *location; /* the back end's part of it (the SQLite path) */
    int busy_ms;
    int lease_ms;
    int sync_normal;
    int64_t (*clock_ms)(void *ctx);
    void *clock_ctx;
    tsl_store_owner self;
    int schema_current;  /* 0 after a no_migrate open of a store with pending migrations */
    tsl_store_opts opts; /* as opened (host points to self.host), for siblings */
};

/* ---- ingest state, shared by ingest.c and the back end's batch function ---- */

/* A distinct item of the batch in progress. */
typedef struct tsl_ingest_item {
    const char *id; /* in the batch arena */
    size_t len;
    uint64_t h;        /* for the batch's item table */
    uint64_t key[4];   /* tsl_sto_item_key of id */
    const char **dims; /* the data set's ndims values, from the item's first row in the batch */
    size_t first, end; /* its rows in the sorted batch: rows[first .. end) */
} tsl_ingest_item;

/* One row of the batch in progress. */
typedef struct tsl_ingest_row {
    uint32_t item;
    uint32_t seq; /* position in the batch, the tie-break that keeps file order */
    int64_t t;
    double v; /* NaN when missing; never -0 */
    uint64_t line;
    const char **dims; /* its dimension values when they differ from its item's first row in
                          the batch, else NULL */
} tsl_ingest_row;

/* A rejection found while applying a batch (the row's line and why). */
typedef struct tsl_ingest_reject {
    uint64_t line;
    char *reason;
} tsl_ingest_reject;

/* What applying one batch did, filled by the back end and merged by the front end only once
 * the batch committed. */
typedef struct tsl_ingest_result {
    uint64_t inserted, updated, unchanged, rejected, new_items, dim_conflicts;
    tsl_ingest_reject *rejects;
    size_t nrejects, rejects_cap;
    char hash[TSL_STORE_HASH_HEX + 1]; /* the data set's hash after the batch */
} tsl_ingest_result;

/* A batch arena block; strings of the batch in progress live here. */
typedef struct tsl_ingest_block tsl_ingest_block;

struct tsl_store_ingest {
    tsl_store *s;
    int64_t id;         /* the ingest record */
    int64_t dataset_id; /* set by the back end's ingest_open */
    char *dataset;
    char *source, *who;
    char *origin;    /* the events' "source": "cli", "api", "inbox" */
    char *file;      /* the events' "file"; NULL: source */
    tsl_freq freq;   /* the data set's, set by ingest_open */
    size_t ndims;    /* the data set's (after ingest_open) */
    size_t *dim_map; /* data set dim j is the rows' dim dim_map[j] */
    size_t in_ndims; /* dims the rows carry */
    char **in_dims;  /* their names */
    size_t batch_rows;
    uint64_t max_rejects;
    int create;
    int failed; /* an error ended it: only abort is left */

    /* The batch in progress. */
    tsl_ingest_item *items;
    size_t nitems, items_cap;
    tsl_ingest_row *rows;
    size_t nrows, rows_cap;
    tsl_ingest_row *sorted; /* scratch for grouping rows by item (rows_cap of them) */
    size_t *counts;         /* scratch: rows per item (items_cap + 1) */
    uint32_t *table;        /* open addressing over items: index + 1, 0 empty */
    size_t table_cap;
    uint32_t prev; /* the previous row's item, UINT32_MAX for none */
    tsl_ingest_block *arena;

    /* Totals over the committed batches, and this ingest's rejections (the first
     * TSL_STORE_REJECTS_KEPT). */
    tsl_store_receipt receipt;
    tsl_ingest_result pending; /* rows rejected before they reached a batch, since the last */
    tsl_ingest_result batch;   /* what the back end did with the batch being applied */

    void *be; /* the back end's ingest state (e.g. its item cache) */
};

/* ---- the back end's table ---- */

struct tsl_store_vt {
    const char *name;
    void (*close)(tsl_store *s);

    /* Migrations: the list, and applying the pending ones up to version target (0: all). */
    tsl_err (*migrations)(tsl_store *s, tsl_store_migration **out, size_t *n, tsl_diag *d);
    tsl_err (*migrate)(tsl_store *s, int target, int *applied, tsl_diag *d);

    tsl_err (*dataset_create)(tsl_store *s, const char *name, tsl_freq freq,
                              const char *const *dims, size_t ndims, int64_t *id, tsl_diag *d);
    tsl_err (*dataset_get)(tsl_store *s, const char *name, tsl_store_dataset *out, tsl_diag *d);
    tsl_err (*dataset_list)(tsl_store *s, tsl_store_dataset **out, size_t *n, tsl_diag *d);
    /* The stored hash lanes and those recomputed from every item and observation. */
    tsl_err (*dataset_rehash)(tsl_store *s, const char *name, uint64_t stored[4],
                              uint64_t computed[4], tsl_diag *d);
    tsl_err (*item_list)(tsl_store *s, const char *dataset, tsl_store_item **out, size_t *n,
                         tsl_diag *d);
    tsl_err (*dataset_load)(tsl_store *s, const char *name, const char *const *items, size_t nitems,
                            int period, tsl_dataset **out, char *hash, tsl_diag *d);

    /* Ingest: open checks the data set (creating it when in->create), reconciles its
     * dimensions with in->in_dims (filling in->dim_map, in->ndims, in->freq,
     * in->dataset_id) and creates the record (in->id). batch applies in->items/in->rows
     * (sorted by item, time, seq) in one transaction, filling in->batch and updating the
     * record's counts; it may be retried as a whole. close marks the record complete (error
     * NULL; records dataset.ingested with in->receipt) or failed. drop frees in->be. */
    tsl_err (*ingest_open)(tsl_store *s, tsl_store_ingest *in, tsl_diag *d);
    tsl_err (*ingest_batch)(tsl_store *s, tsl_store_ingest *in, tsl_diag *d);
    tsl_err (*ingest_close)(tsl_store *s, tsl_store_ingest *in, const char *error, tsl_diag *d);
    void (*ingest_drop)(tsl_store_ingest *in);
    tsl_err (*ingest_get)(tsl_store *s, int64_t id, tsl_store_ingest_info *out, tsl_diag *d);
    tsl_err (*ingest_list)(tsl_store *s, const char *dataset, size_t limit,
                           tsl_store_ingest_info **out, size_t *n, tsl_diag *d);
    tsl_err (*revision_list)(tsl_store *s, const char *dataset, const char *item, int64_t after_id,
                             size_t limit, tsl_store_revision **out, size_t *n, tsl_diag *d);

    /* The artifact's CRC-32 and SHA-256 come in sha256/crc32 (computed by the front end). */
    tsl_err (*model_register)(tsl_store *s, const tsl_store_model_new *m, uint32_t crc32,
                              const char *sha256, int64_t *id, int *version, tsl_diag *d);
    tsl_err (*model_get)(tsl_store *s, const char *forecaster, int version, tsl_store_model *out,
                         tsl_diag *d);
    tsl_err (*model_list)(tsl_store *s, const char *forecaster, tsl_store_model **out, size_t *n,
                          tsl_diag *d);
    /* The artifact bytes and the SHA-256 recorded for them (the front end checks). */
    tsl_err (*model_artifact)(tsl_store *s, const char *forecaster, int version, void **data,
                              size_t *len, char *sha256, tsl_diag *d);
    tsl_err (*model_set_status)(tsl_store *s, const char *forecaster, int version,
                                tsl_model_status status, const char *who, const char *why,
                                tsl_diag *d);
    tsl_err (*model_audit)(tsl_store *s, const char *forecaster, int version, tsl_store_audit **out,
                           size_t *n, tsl_diag *d);
    tsl_err (*model_champion)(tsl_store *s, const char *forecaster, tsl_store_model *out,
                              int *found, tsl_diag *d);

    /* r->retry and r->dedupe_key arrive filled in (defaults applied, a fresh key made). */
    tsl_err (*exec_request)(tsl_store *s, const tsl_exec_request *r, int64_t *id,
                            tsl_exec_outcome *how, tsl_diag *d);
    tsl_err (*exec_get)(tsl_store *s, int64_t id, tsl_store_exec *out, tsl_diag *d);
    tsl_err (*exec_list)(tsl_store *s, const char *forecaster, size_t limit, tsl_store_exec **out,
                         size_t *n, tsl_diag *d);
    tsl_err (*exec_claim)(tsl_store *s, const char *forecaster, tsl_store_exec *out, int *claimed,
                          tsl_diag *d);
    tsl_err (*exec_heartbeat)(tsl_store *s, int64_t id, tsl_exec_status *status, tsl_diag *d);
    tsl_err (*step_begin)(tsl_store *s, int64_t id, const char *step, int *attempt,
                          tsl_exec_status *status, tsl_diag *d);
    tsl_err (*step_succeed)(tsl_store *s, int64_t id, const char *step, const char *output,
                            const void *blob, size_t blob_len, tsl_diag *d);
    tsl_err (*step_fail)(tsl_store *s, int64_t id, const char *step, const char *error,
                         int retryable, int64_t *retry_at_ms, tsl_diag *d);
    tsl_err (*step_output)(tsl_store *s, int64_t id, const char *step, char **json, void **blob,
                           size_t *blob_len, tsl_diag *d);
    tsl_err (*exec_finish)(tsl_store *s, int64_t id, tsl_exec_status status, const char *reason,
                           tsl_diag *d);
    tsl_err (*exec_stop)(tsl_store *s, int64_t id, const char *who, const char *why,
                         tsl_exec_status *status, tsl_diag *d);
    tsl_err (*exec_recover)(tsl_store *s, size_t *recovered, tsl_diag *d);

    tsl_err (*param_set)(tsl_store *s, const char *key, const char *value, const char *who,
                         const char *why, int *version, tsl_diag *d);
    tsl_err (*param_get)(tsl_store *s, const char *key, int version, tsl_store_param *out,
                         tsl_diag *d);
    tsl_err (*param_history)(tsl_store *s, const char *key, tsl_store_param **out, size_t *n,
                             tsl_diag *d);
    tsl_err (*param_list)(tsl_store *s, tsl_store_param **out, size_t *n, tsl_diag *d);

    tsl_err (*event_append)(tsl_store *s, const char *type, const char *subject,
                            const char *payload, int64_t *id, tsl_diag *d);
    tsl_err (*event_list)(tsl_store *s, int64_t after_id, size_t limit, tsl_store_event **out,
                          size_t *n, tsl_diag *d);

    /* Serving (sqlite_serving.c): version 0 of deploy is the latest; the token's hash comes
     * computed; token_find looks up a valid token by hash. */
    tsl_err (*deploy)(tsl_store *s, const char *endpoint, const char *forecaster, int version,
                      int require_approved, const char *who, const char *why,
                      tsl_store_deployment *out, tsl_diag *d);
    tsl_err (*rollback)(tsl_store *s, const char *endpoint, const char *who, const char *why,
                        tsl_store_deployment *out, tsl_diag *d);
    tsl_err (*endpoint_list)(tsl_store *s, tsl_store_deployment **out, size_t *n, tsl_diag *d);
    tsl_err (*endpoint_get)(tsl_store *s, const char *endpoint, tsl_store_deployment *out,
                            tsl_diag *d);
    tsl_err (*deployment_history)(tsl_store *s, const char *endpoint, size_t limit,
                                  tsl_store_deployment **out, size_t *n, tsl_diag *d);
    tsl_err (*token_create)(tsl_store *s, const char *name, tsl_role role, const char *who,
                            const unsigned char *hash, int64_t *id, tsl_diag *d);
    tsl_err (*token_list)(tsl_store *s, tsl_store_token **out, size_t *n, tsl_diag *d);
    tsl_err (*token_revoke)(tsl_store *s, const char *name, const char *who, tsl_diag *d);
    tsl_err (*token_find)(tsl_store *s, const unsigned char *hash, tsl_store_token *out,
                          tsl_diag *d);
    tsl_err (*item_tail)(tsl_store *s, const char *dataset, const char *item, int64_t after,
                         int64_t **t, double **v, size_t *n, tsl_diag *d);
    /* Jobs: claim uses the handle's token and lease; heartbeat and finish check the token. */
    tsl_err (*job_create)(tsl_store *s, const char *kind, const char *endpoint, const char *request,
                          const char *who, int64_t *id, tsl_diag *d);
    tsl_err (*job_get)(tsl_store *s, int64_t id, tsl_store_job *out, tsl_diag *d);
    tsl_err (*job_claim)(tsl_store *s, const char *kind, tsl_store_job *out, int *claimed,
                         tsl_diag *d);
    tsl_err (*job_heartbeat)(tsl_store *s, int64_t id, tsl_diag *d);
    tsl_err (*job_finish)(tsl_store *s, int64_t id, const char *result, const char *error,
                          tsl_diag *d);
    tsl_err (*status_counts)(tsl_store *s, uint64_t jobs[4], uint64_t executions[6], tsl_diag *d);
    /* Named leases and schedules' fire times (sqlite_sched.c). */
    tsl_err (*lock_acquire)(tsl_store *s, const char *name, int64_t lease_ms, int *held,
                            char *holder, size_t cap, tsl_diag *d);
    tsl_err (*lock_release)(tsl_store *s, const char *name, tsl_diag *d);
    tsl_err (*schedule_last)(tsl_store *s, const char *key, int64_t *at, int *found, tsl_diag *d);
    tsl_err (*schedule_claim)(tsl_store *s, const char *key, int64_t at, int *first, tsl_diag *d);
    tsl_err (*capture_add)(tsl_store *s, const tsl_store_capture_new *v, size_t n, tsl_diag *d);
    tsl_err (*capture_list)(tsl_store *s, const char *endpoint, const char *inference_id,
                            int64_t after_id, size_t limit, tsl_store_capture **out, size_t *n,
                            tsl_diag *d);
    tsl_err (*capture_span)(tsl_store *s, const char *endpoint, int shadow, int64_t t_from,
                            int64_t t_to, tsl_store_capture **out, size_t *n, tsl_diag *d);
    tsl_err (*capture_bounds)(tsl_store *s, const char *endpoint, int shadow, int64_t *min_last,
                              int64_t *max_last, int *found, tsl_diag *d);
    /* Retraining triggers (sqlite_retrain.c). */
    tsl_err (*retrain_decide)(tsl_store *s, const tsl_store_retrain_ask *ask,
                              tsl_store_retrain *out, tsl_diag *d);
    tsl_err (*retrain_record)(tsl_store *s, int64_t event_id, const char *forecaster,
                              int64_t execution_id, const char *outcome, tsl_diag *d);
    tsl_err (*retrain_cursor)(tsl_store *s, int64_t *event_id, tsl_diag *d);
    tsl_err (*retrain_advance)(tsl_store *s, int64_t event_id, tsl_diag *d);
    /* The inbox's record and notification channels (sqlite_notify.c). */
    tsl_err (*inbox_find)(tsl_store *s, const char *dataset, const char *name, int64_t size,
                          const char *sha256, tsl_store_inbox_file *out, tsl_diag *d);
    tsl_err (*inbox_record)(tsl_store *s, const tsl_store_inbox_file *f, tsl_diag *d);
    tsl_err (*notify_get)(tsl_store *s, const char *channel, tsl_store_notify_state *out,
                          tsl_diag *d);
    tsl_err (*notify_fail)(tsl_store *s, const char *channel, int64_t event_id, int attempts,
                           int64_t next_ms, const char *error, tsl_diag *d);
    tsl_err (*notify_advance)(tsl_store *s, const char *channel, int64_t event_id, const char *type,
                              const char *payload, tsl_diag *d);
    /* Monitoring (sqlite_monitor.c). */
    tsl_err (*datapoint_put)(tsl_store *s, const tsl_store_datapoint *v, size_t n, tsl_diag *d);
    tsl_err (*datapoint_list)(tsl_store *s, const tsl_store_datapoint_query *q,
                              tsl_store_datapoint **out, size_t *n, tsl_diag *d);
    tsl_err (*alarm_get)(tsl_store *s, const char *monitor, tsl_store_alarm *out, int *found,
                         tsl_diag *d);
    tsl_err (*alarm_list)(tsl_store *s, tsl_store_alarm **out, size_t *n, tsl_diag *d);
    tsl_err (*alarm_put)(tsl_store *s, const tsl_store_alarm *a, uint64_t expect_changes,
                         const tsl_store_alarm_change *change, const char *payload, tsl_diag *d);
    tsl_err (*alarm_history)(tsl_store *s, const char *monitor, size_t limit,
                             tsl_store_alarm_change **out, size_t *n, tsl_diag *d);
    tsl_err (*cursor_get)(tsl_store *s, const char *name, int64_t *value, tsl_diag *d);
    tsl_err (*cursor_set)(tsl_store *s, const char *name, int64_t value, tsl_diag *d);
    tsl_err (*detector_list)(tsl_store *s, const char *monitor, const char *endpoint,
                             tsl_store_detector **out, size_t *n, tsl_diag *d);
    tsl_err (*detector_put)(tsl_store *s, const tsl_store_detector *v, size_t n,
                            const tsl_store_datapoint *dp, size_t ndp, tsl_diag *d);
    tsl_err (*ingest_points)(tsl_store *s, int64_t ingest_id, tsl_store_point **out, size_t *n,
                             tsl_diag *d);
    tsl_err (*ingest_items)(tsl_store *s, int64_t ingest_id, tsl_store_ingest_item **out, size_t *n,
                            tsl_diag *d);
    tsl_err (*quality_put)(tsl_store *s, const tsl_store_quality *q, const char *payload,
                           int *recorded, tsl_diag *d);
    tsl_err (*quality_list)(tsl_store *s, int64_t ingest_id, const char *monitor,
                            tsl_store_quality **out, size_t *n, tsl_diag *d);
    /* Shadow deployments (sqlite_shadow.c); capture_list_shadow is capture_list's twin. */
    tsl_err (*capture_list_shadow)(tsl_store *s, const char *endpoint, int64_t after_id,
                                   size_t limit, tsl_store_capture **out, size_t *n, tsl_diag *d);
    tsl_err (*shadow_start)(tsl_store *s, const char *endpoint, const char *forecaster, int version,
                            int windows, const char *who, const char *why, tsl_store_shadow *out,
                            tsl_diag *d);
    tsl_err (*shadow_end)(tsl_store *s, int64_t id, tsl_shadow_outcome outcome, const char *why,
                          const char *comparison, int progress, const char *compared_payload,
                          tsl_diag *d);
    tsl_err (*shadow_progress)(tsl_store *s, int64_t id, int progress, tsl_diag *d);
    tsl_err (*shadow_decided)(tsl_store *s, int64_t id, tsl_diag *d);
    tsl_err (*shadow_list)(tsl_store *s, const char *endpoint, const char *forecaster, int version,
                           int running, size_t limit, tsl_store_shadow **out, size_t *n,
                           tsl_diag *d);
};

/* The SQLite back end: opens path for s (s->vt, s->be set on success). */
tsl_err tsl_sto_sqlite_open(tsl_store *s, const char *path, const tsl_store_opts *opts,
                            tsl_diag *d);

/* For tests: applies the SQLite back end's migrations up to version target only (on a handle
 * opened with no_migrate). */
tsl_err tsl_sto_sqlite_migrate_to(tsl_store *s, int target, tsl_diag *d);

/* ---- shared helpers (store.c, ingest.c) ---- */

/* The store's clock, milliseconds since the epoch. */
int64_t tsl_sto_now(const tsl_store *s);

/* Whether the worker identified by (host, boot, pid, start) holding a lease until lease_until
 * is gone as of now: the lease expired, or it ran on this host and that process no longer runs
 * (or the host rebooted since). A live process that stopped renewing its lease is gone too,
 * once the lease expires: that is what makes a hung worker's execution recoverable. */
int tsl_sto_owner_dead(const tsl_store *s, const char *host, const char *boot, int64_t pid,
                       int64_t start, int64_t lease_until, int64_t now);

/* Whether an execution may go from status `from` to `to` (the state machine of store.h). */
int tsl_sto_exec_transition_ok(tsl_exec_status from, tsl_exec_status to);

/* The delay before retrying after failed attempt k (1-based) under policy r. */
int64_t tsl_sto_retry_delay(const tsl_store_retry *r, int attempt);

/* Parses status names as stored ("Executing", "PendingManualApproval", "Running"). */
tsl_err tsl_sto_exec_status_parse(const char *s, tsl_exec_status *out);
tsl_err tsl_sto_step_status_parse(const char *s, tsl_step_status *out);

/* ---- the content hash (see docs/store.md) ----
 * The hash of a data set is, lane by lane, the sum modulo 2^64 of one 256-bit value per item
 * (tsl_sto_item_hash) and one per observation (tsl_sto_obs_hash). These functions are
 * part of the stored format: changing them changes every stored hash. */

/* The four lane keys of an item id, from which its observations' hashes derive. */
void tsl_sto_item_key(const char *id, size_t len, uint64_t key[4]);
/* The contribution of an item (its key and dimension values). */
void tsl_sto_item_hash(const uint64_t key[4], const char *const *dims, size_t ndims,
                       uint64_t out[4]);
/* The contribution of an observation of the item with key `key` at t with value v (NaN:
 * missing). */
void tsl_sto_obs_hash(const uint64_t key[4], int64_t t, double v, uint64_t out[4]);
/* acc += h (lane-wise, modulo 2^64); acc -= h. */
void tsl_sto_hash_add(uint64_t acc[4], const uint64_t h[4]);
void tsl_sto_hash_sub(uint64_t acc[4], const uint64_t h[4]);
/* 64 lowercase hex digits and a NUL into out. */
void tsl_sto_hash_hex(const uint64_t h[4], char *out);

/* Argument checks shared with ingest.c (see store.c). */
tsl_err tsl_sto_ready(const tsl_store *s, tsl_diag *d);
tsl_err tsl_sto_check_name(tsl_diag *d, const char *what, const char *name, size_t max, int slash);
tsl_err tsl_sto_check_text(tsl_diag *d, const char *what, const char *s, size_t max);
tsl_err tsl_sto_check_dims(tsl_diag *d, const char *const *dims, size_t ndims);

/* Fills in->dim_map from the data set's dimension names (the same set as in->in_dims, in any
 * order), or fails with TSL_EINVAL naming what differs. */
tsl_err tsl_sto_ingest_map_dims(tsl_store_ingest *in, char *const *ds_dims, size_t nds,
                                tsl_diag *d);

/* A compact JSON text made by json_pack from fmt (a new string; the arguments are checked
 * strings and numbers, so packing does not fail). */
char *tsl_sto_json(const char *fmt, ...);

/* Appends a rejection (reason copied) to a batch result. */
void tsl_sto_result_reject(tsl_ingest_result *r, uint64_t line, const char *reason);
/* Frees a batch result's rejections and zeroes it. */
void tsl_sto_result_clear(tsl_ingest_result *r);

#endif
