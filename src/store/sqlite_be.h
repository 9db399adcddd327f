/*
 * sqlite_be.h - the SQLite back end's shared pieces (internal, not installed): the connection,
 * its statement cache, transactions with retry, binding and reading helpers, and the
 * operations each sqlite_*.c file implements for the vtable of store_impl.h.
 *
 * Statements are prepared once per connection and kept (sqlite3_prepare_v3 with
 * SQLITE_PREPARE_PERSISTENT), found by the address of their SQL text: each call site names a
 * `static const char SQL_...[]`, whose address is its identity. Every value goes in through a
 * binding - no SQL is ever built from data.
 *
 * Binding is sticky, like tsl_rbuf: sq_bind_* record the first failure (a value too big, say)
 * in the connection, and the next tsl_sq_step reports it. A body therefore binds everything and
 * checks once.
 */
#ifndef TSLOOP_STORE_SQLITE_BE_H
#define TSLOOP_STORE_SQLITE_BE_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store_impl.h"
#include "tsloop/mem.h"

typedef struct sq_slot {
    const char *sql;
    sqlite3_stmt *st;
} sq_slot;

typedef struct sq {
    sqlite3 *db;
    tsl_store *s;
    sq_slot *cache; /* open addressing by SQL address */
    size_t cache_cap, ncache;
    int bind_rc; /* the first failed binding since the last step */
} sq;

/* The connection of a store handle. */
static inline sq *sq_of(tsl_store *s) {
    return (sq *)s->be;
}

/* The cached statement for sql (reset, ready for binding); TSL_EINTERNAL on a bad SQL text. */
tsl_err tsl_sq_prepare(sq *q, const char *sql, sqlite3_stmt **st, tsl_diag *d);

/* Steps st: *row is 1 with a row to read, 0 when done (st is then reset). Errors are mapped
 * (busy or locked: TSL_EBUSY; a constraint: TSL_ECONFLICT; corruption: TSL_ECORRUPT; I/O or
 * a full disk: TSL_EIO) and reset st. */
tsl_err tsl_sq_step(sq *q, sqlite3_stmt *st, int *row, tsl_diag *d);

/* Steps a statement that returns no row (or whose rows are not wanted) to its end. */
tsl_err tsl_sq_exec(sq *q, sqlite3_stmt *st, tsl_diag *d);

/* Maps an SQLite result code to a tsl_err with a message naming the store and `what`. */
tsl_err tsl_sq_fail(sq *q, int rc, const char *what, tsl_diag *d);

void tsl_sq_bind_int(sq *q, sqlite3_stmt *st, int i, int64_t v);
void tsl_sq_bind_double(sq *q, sqlite3_stmt *st, int i, double v);    /* NaN binds NULL */
void tsl_sq_bind_text(sq *q, sqlite3_stmt *st, int i, const char *s); /* NULL binds NULL */
void tsl_sq_bind_blob(sq *q, sqlite3_stmt *st, int i, const void *p, size_t n);
void tsl_sq_bind_null(sq *q, sqlite3_stmt *st, int i);

/* Makes room for element n of an array of *cap elements of size bytes (doubling). */
static inline void *sq_grow(void *p, size_t *cap, size_t n, size_t size) {
    if (n < *cap) return p;
    *cap = *cap ? 2 * *cap : 16;
    return tsl_reallocarray(p, *cap, size);
}

/* A column as a new string (NULL for SQL NULL). */
char *tsl_sq_col_str(sqlite3_stmt *st, int i);
/* A column as a double, NaN for SQL NULL. */
double tsl_sq_col_double(sqlite3_stmt *st, int i);

/* A transaction body: runs inside BEGIN (IMMEDIATE when writing) ... COMMIT. It may run more
 * than once (after SQLITE_BUSY): it must not keep effects outside the database from a run that
 * failed, except through the rollback callback. */
typedef tsl_err (*sq_body)(sq *q, void *ctx, tsl_diag *d);

/* Runs body in a transaction, retrying the whole transaction with capped exponential backoff
 * while it fails with TSL_EBUSY, until the handle's busy timeout. rollback (may be NULL) is
 * called after every rolled-back run. */
tsl_err tsl_sq_tx(sq *q, int write, sq_body body, void (*rollback)(void *ctx), void *ctx,
                  tsl_diag *d);

/* Appends an event inside the current transaction (payload is a JSON text). */
tsl_err tsl_sq_event(sq *q, const char *type, const char *subject, const char *payload, int64_t *id,
                     tsl_diag *d);

/* The same, taking ownership of payload (from tsl_sto_json) and freeing it. */
tsl_err tsl_sq_event_own(sq *q, const char *type, const char *subject, char *payload, tsl_diag *d);

/* JSON array text <-> string array. */
char *tsl_sq_strv_json(const char *const *v, size_t n);
tsl_err tsl_sq_json_strv(sq *q, const char *json, char ***out, size_t *n, tsl_diag *d);

/* ---- migrations (sqlite_schema.c) ---- */

typedef struct sq_migration {
    int version;
    const char *description;
    const char *sql;
} sq_migration;

extern const sq_migration tsl_sq_migrations[];
extern const size_t tsl_sq_nmigrations;

/* ---- operations (one file per area) ---- */

/* sqlite_data.c */
tsl_err tsl_sq_dataset_create(tsl_store *s, const char *name, tsl_freq freq,
                              const char *const *dims, size_t ndims, int64_t *id, tsl_diag *d);
tsl_err tsl_sq_dataset_get(tsl_store *s, const char *name, tsl_store_dataset *out, tsl_diag *d);
tsl_err tsl_sq_dataset_list(tsl_store *s, tsl_store_dataset **out, size_t *n, tsl_diag *d);
tsl_err tsl_sq_dataset_rehash(tsl_store *s, const char *name, uint64_t stored[4],
                              uint64_t computed[4], tsl_diag *d);
tsl_err tsl_sq_item_list(tsl_store *s, const char *dataset, tsl_store_item **out, size_t *n,
                         tsl_diag *d);
tsl_err tsl_sq_dataset_load(tsl_store *s, const char *name, const char *const *items, size_t nitems,
                            int period, tsl_dataset **out, char *hash, tsl_diag *d);
tsl_err tsl_sq_ingest_open(tsl_store *s, tsl_store_ingest *in, tsl_diag *d);
tsl_err tsl_sq_ingest_batch(tsl_store *s, tsl_store_ingest *in, tsl_diag *d);
tsl_err tsl_sq_ingest_close(tsl_store *s, tsl_store_ingest *in, const char *error, tsl_diag *d);
void tsl_sq_ingest_drop(tsl_store_ingest *in);
tsl_err tsl_sq_ingest_get(tsl_store *s, int64_t id, tsl_store_ingest_info *out, tsl_diag *d);
tsl_err tsl_sq_ingest_list(tsl_store *s, const char *dataset, size_t limit,
                           tsl_store_ingest_info **out, size_t *n, tsl_diag *d);
tsl_err tsl_sq_revision_list(tsl_store *s, const char *dataset, const char *item, int64_t after_id,
                             size_t limit, tsl_store_revision **out, size_t *n, tsl_diag *d);

/* sqlite_registry.c */
tsl_err tsl_sq_model_register(tsl_store *s, const tsl_store_model_new *m, uint32_t crc32,
                              const char *sha256, int64_t *id, int *version, tsl_diag *d);
tsl_err tsl_sq_model_get(tsl_store *s, const char *forecaster, int version, tsl_store_model *out,
                         tsl_diag *d);
tsl_err tsl_sq_model_list(tsl_store *s, const char *forecaster, tsl_store_model **out, size_t *n,
                          tsl_diag *d);
tsl_err tsl_sq_model_artifact(tsl_store *s, const char *forecaster, int version, void **data,
                              size_t *len, char *sha256, tsl_diag *d);
tsl_err tsl_sq_model_set_status(tsl_store *s, const char *forecaster, int version,
                                tsl_model_status status, const char *who, const char *why,
                                tsl_diag *d);
tsl_err tsl_sq_model_audit(tsl_store *s, const char *forecaster, int version, tsl_store_audit **out,
                           size_t *n, tsl_diag *d);
tsl_err tsl_sq_model_champion(tsl_store *s, const char *forecaster, tsl_store_model *out,
                              int *found, tsl_diag *d);

/* sqlite_exec.c */
tsl_err tsl_sq_exec_request(tsl_store *s, const tsl_exec_request *r, int64_t *id,
                            tsl_exec_outcome *how, tsl_diag *d);
tsl_err tsl_sq_exec_get(tsl_store *s, int64_t id, tsl_store_exec *out, tsl_diag *d);
tsl_err tsl_sq_exec_list(tsl_store *s, const char *forecaster, size_t limit, tsl_store_exec **out,
                         size_t *n, tsl_diag *d);
tsl_err tsl_sq_exec_claim(tsl_store *s, const char *forecaster, tsl_store_exec *out, int *claimed,
                          tsl_diag *d);
tsl_err tsl_sq_exec_heartbeat(tsl_store *s, int64_t id, tsl_exec_status *status, tsl_diag *d);
tsl_err tsl_sq_step_begin(tsl_store *s, int64_t id, const char *step, int *attempt,
                          tsl_exec_status *status, tsl_diag *d);
tsl_err tsl_sq_step_succeed(tsl_store *s, int64_t id, const char *step, const char *output,
                            const void *blob, size_t blob_len, tsl_diag *d);
tsl_err tsl_sq_step_fail(tsl_store *s, int64_t id, const char *step, const char *error,
                         int retryable, int64_t *retry_at_ms, tsl_diag *d);
tsl_err tsl_sq_step_output(tsl_store *s, int64_t id, const char *step, char **json, void **blob,
                           size_t *blob_len, tsl_diag *d);
tsl_err tsl_sq_exec_finish(tsl_store *s, int64_t id, tsl_exec_status status, const char *reason,
                           tsl_diag *d);
tsl_err tsl_sq_exec_stop(tsl_store *s, int64_t id, const char *who, const char *why,
                         tsl_exec_status *status, tsl_diag *d);
tsl_err tsl_sq_exec_recover(tsl_store *s, size_t *recovered, tsl_diag *d);

/* sqlite_misc.c */
tsl_err tsl_sq_param_set(tsl_store *s, const char *key, const char *value, const char *who,
                         const char *why, int *version, tsl_diag *d);
tsl_err tsl_sq_param_get(tsl_store *s, const char *key, int version, tsl_store_param *out,
                         tsl_diag *d);
tsl_err tsl_sq_param_history(tsl_store *s, const char *key, tsl_store_param **out, size_t *n,
                             tsl_diag *d);
tsl_err tsl_sq_param_list(tsl_store *s, tsl_store_param **out, size_t *n, tsl_diag *d);
tsl_err tsl_sq_event_append(tsl_store *s, const char *type, const char *subject,
                            const char *payload, int64_t *id, tsl_diag *d);
tsl_err tsl_sq_event_list(tsl_store *s, int64_t after_id, size_t limit, tsl_store_event **out,
                          size_t *n, tsl_diag *d);

/* sqlite_serving.c */
tsl_err tsl_sq_deploy(tsl_store *s, const char *endpoint, const char *forecaster, int version,
                      int require_approved, const char *who, const char *why,
                      tsl_store_deployment *out, tsl_diag *d);
tsl_err tsl_sq_rollback(tsl_store *s, const char *endpoint, const char *who, const char *why,
                        tsl_store_deployment *out, tsl_diag *d);
tsl_err tsl_sq_endpoint_list(tsl_store *s, tsl_store_deployment **out, size_t *n, tsl_diag *d);
tsl_err tsl_sq_endpoint_get(tsl_store *s, const char *endpoint, tsl_store_deployment *out,
                            tsl_diag *d);
tsl_err tsl_sq_deployment_history(tsl_store *s, const char *endpoint, size_t limit,
                                  tsl_store_deployment **out, size_t *n, tsl_diag *d);
tsl_err tsl_sq_token_create(tsl_store *s, const char *name, tsl_role role, const char *who,
                            const unsigned char *hash, int64_t *id, tsl_diag *d);
tsl_err tsl_sq_token_list(tsl_store *s, tsl_store_token **out, size_t *n, tsl_diag *d);
tsl_err tsl_sq_token_revoke(tsl_store *s, const char *name, const char *who, tsl_diag *d);
tsl_err tsl_sq_token_find(tsl_store *s, const unsigned char *hash, tsl_store_token *out,
                          tsl_diag *d);
tsl_err tsl_sq_item_tail(tsl_store *s, const char *dataset, const char *item, int64_t after,
                         int64_t **t, double **v, size_t *n, tsl_diag *d);
tsl_err tsl_sq_job_create(tsl_store *s, const char *kind, const char *endpoint, const char *request,
                          const char *who, int64_t *id, tsl_diag *d);
tsl_err tsl_sq_job_get(tsl_store *s, int64_t id, tsl_store_job *out, tsl_diag *d);
tsl_err tsl_sq_job_claim(tsl_store *s, const char *kind, tsl_store_job *out, int *claimed,
                         tsl_diag *d);
tsl_err tsl_sq_job_heartbeat(tsl_store *s, int64_t id, tsl_diag *d);
tsl_err tsl_sq_job_finish(tsl_store *s, int64_t id, const char *result, const char *error,
                          tsl_diag *d);
tsl_err tsl_sq_status_counts(tsl_store *s, uint64_t jobs[4], uint64_t executions[6], tsl_diag *d);
/* sqlite_sched.c */
tsl_err tsl_sq_lock_acquire(tsl_store *s, const char *name, int64_t lease_ms, int *held,
                            char *holder, size_t cap, tsl_diag *d);
tsl_err tsl_sq_lock_release(tsl_store *s, const char *name, tsl_diag *d);
tsl_err tsl_sq_schedule_last(tsl_store *s, const char *key, int64_t *at, int *found, tsl_diag *d);
tsl_err tsl_sq_schedule_claim(tsl_store *s, const char *key, int64_t at, int *first, tsl_diag *d);
tsl_err tsl_sq_capture_add(tsl_store *s, const tsl_store_capture_new *v, size_t n, tsl_diag *d);
tsl_err tsl_sq_capture_list(tsl_store *s, const char *endpoint, const char *inference_id,
                            int64_t after_id, size_t limit, tsl_store_capture **out, size_t *n,
                            tsl_diag *d);
tsl_err tsl_sq_capture_span(tsl_store *s, const char *endpoint, int shadow, int64_t t_from,
                            int64_t t_to, tsl_store_capture **out, size_t *n, tsl_diag *d);
tsl_err tsl_sq_capture_bounds(tsl_store *s, const char *endpoint, int shadow, int64_t *min_last,
                              int64_t *max_last, int *found, tsl_diag *d);
tsl_err tsl_sq_capture_list_shadow(tsl_store *s, const char *endpoint, int64_t after_id,
                                   size_t limit, tsl_store_capture **out, size_t *n, tsl_diag *d);
/* sqlite_shadow.c; tsl_sq_shadow_deployed is called inside a deploy's transaction. */
tsl_err tsl_sq_shadow_start(tsl_store *s, const char *endpoint, const char *forecaster, int version,
                            int windows, const char *who, const char *why, tsl_store_shadow *out,
                            tsl_diag *d);
tsl_err tsl_sq_shadow_end(tsl_store *s, int64_t id, tsl_shadow_outcome outcome, const char *why,
                          const char *comparison, int progress, const char *compared_payload,
                          tsl_diag *d);
tsl_err tsl_sq_shadow_progress(tsl_store *s, int64_t id, int progress, tsl_diag *d);
tsl_err tsl_sq_shadow_decided(tsl_store *s, int64_t id, tsl_diag *d);
tsl_err tsl_sq_shadow_list(tsl_store *s, const char *endpoint, const char *forecaster, int version,
                           int running, size_t limit, tsl_store_shadow **out, size_t *n,
                           tsl_diag *d);
tsl_err tsl_sq_shadow_deployed(sq *q, const char *endpoint, int64_t model_id, const char *who,
                               tsl_diag *d);

/* sqlite_retrain.c */
tsl_err tsl_sq_retrain_decide(tsl_store *s, const tsl_store_retrain_ask *ask,
                              tsl_store_retrain *out, tsl_diag *d);
tsl_err tsl_sq_retrain_record(tsl_store *s, int64_t event_id, const char *forecaster,
                              int64_t execution_id, const char *outcome, tsl_diag *d);
tsl_err tsl_sq_retrain_cursor(tsl_store *s, int64_t *event_id, tsl_diag *d);
tsl_err tsl_sq_retrain_advance(tsl_store *s, int64_t event_id, tsl_diag *d);
/* sqlite_notify.c */
tsl_err tsl_sq_inbox_find(tsl_store *s, const char *dataset, const char *name, int64_t size,
                          const char *sha256, tsl_store_inbox_file *out, tsl_diag *d);
tsl_err tsl_sq_inbox_record(tsl_store *s, const tsl_store_inbox_file *f, tsl_diag *d);
tsl_err tsl_sq_notify_get(tsl_store *s, const char *channel, tsl_store_notify_state *out,
                          tsl_diag *d);
tsl_err tsl_sq_notify_fail(tsl_store *s, const char *channel, int64_t event_id, int attempts,
                           int64_t next_ms, const char *error, tsl_diag *d);
tsl_err tsl_sq_notify_advance(tsl_store *s, const char *channel, int64_t event_id, const char *type,
                              const char *payload, tsl_diag *d);
/* Monitoring (sqlite_monitor.c). */
tsl_err tsl_sq_datapoint_put(tsl_store *s, const tsl_store_datapoint *v, size_t n, tsl_diag *d);
/* Writes (upserts) n datapoints inside the caller's transaction. */
tsl_err tsl_sq_datapoint_write(sq *q, const tsl_store_datapoint *v, size_t n, tsl_diag *d);
/* Residual detectors' states (sqlite_detector.c). */
tsl_err tsl_sq_detector_list(tsl_store *s, const char *monitor, const char *endpoint,
                             tsl_store_detector **out, size_t *n, tsl_diag *d);
tsl_err tsl_sq_detector_put(tsl_store *s, const tsl_store_detector *v, size_t n,
                            const tsl_store_datapoint *dp, size_t ndp, tsl_diag *d);
tsl_err tsl_sq_datapoint_list(tsl_store *s, const tsl_store_datapoint_query *q,
                              tsl_store_datapoint **out, size_t *n, tsl_diag *d);
tsl_err tsl_sq_alarm_get(tsl_store *s, const char *monitor, tsl_store_alarm *out, int *found,
                         tsl_diag *d);
tsl_err tsl_sq_alarm_list(tsl_store *s, tsl_store_alarm **out, size_t *n, tsl_diag *d);
tsl_err tsl_sq_alarm_put(tsl_store *s, const tsl_store_alarm *a, uint64_t expect_changes,
                         const tsl_store_alarm_change *change, const char *payload, tsl_diag *d);
tsl_err tsl_sq_alarm_history(tsl_store *s, const char *monitor, size_t limit,
                             tsl_store_alarm_change **out, size_t *n, tsl_diag *d);
tsl_err tsl_sq_cursor_get(tsl_store *s, const char *name, int64_t *value, tsl_diag *d);
tsl_err tsl_sq_cursor_set(tsl_store *s, const char *name, int64_t value, tsl_diag *d);
tsl_err tsl_sq_ingest_points(tsl_store *s, int64_t ingest_id, tsl_store_point **out, size_t *n,
                             tsl_diag *d);
tsl_err tsl_sq_ingest_items(tsl_store *s, int64_t ingest_id, tsl_store_ingest_item **out, size_t *n,
                            tsl_diag *d);
tsl_err tsl_sq_quality_put(tsl_store *s, const tsl_store_quality *q, const char *payload,
                           int *recorded, tsl_diag *d);
tsl_err tsl_sq_quality_list(tsl_store *s, int64_t ingest_id, const char *monitor,
                            tsl_store_quality **out, size_t *n, tsl_diag *d);

#endif
