/*
 * store.h - the store: tsloop's only shared state.
 *
 * Everything that outlives one command lives here: data sets and their observations (upserted,
 * with every replaced value kept), the model registry (versions, artifacts, approval statuses
 * and their audit log), persisted pipeline executions (steps, attempts, leases), versioned
 * parameters and the append-only event log. The daemon's threads and any number of tsloop
 * processes talk to each other only through it.
 *
 * The interface is semantic - "upsert these rows", "claim the next runnable execution" - so no
 * SQL and nothing back-end specific exists above it. A back end implements it behind a table of
 * functions (src/store/store_impl.h); the embedded default is SQLite ("PATH" or "sqlite:PATH"),
 * and a PostgreSQL back end implements the same contracts later. The contracts a back end must
 * keep are stated here, per function; docs/store.md is the user's description.
 *
 * Common rules:
 * - Every function that changes something does it in one transaction: it happened completely
 *   or not at all, and once it returns TSL_OK it survives kill -9 (and, with the default
 *   durability, power loss).
 * - A handle belongs to one thread at a time. Threads and processes that work in parallel open
 *   their own handles on the same store; they never see each other's half-done changes.
 *   Waiting for another writer is bounded by the busy timeout, after which TSL_EBUSY.
 * - Names of data sets and forecasters: 1-64 bytes of [A-Za-z0-9_.-], starting with a letter
 *   or digit. Parameter keys may also hold '/' and have up to 128 bytes.
 * - Times are milliseconds since the Unix epoch (UTC), read from the store's clock; observation
 *   timestamps are seconds, as in time.h.
 * - JSON arguments (metrics, payloads, outputs) must be valid JSON texts; they are kept as text.
 * - Results with strings or arrays are owned by the caller and freed with their _release (for a
 *   struct) or _list_free (for an array) function; releasing a zeroed struct is a no-op.
 * - Errors: TSL_EINVAL (a bad argument), TSL_ENOTFOUND (no such data set, version, execution,
 *   key), TSL_ECONFLICT (the current state forbids it), TSL_EBUSY (locked past the busy
 *   timeout), TSL_EIO (the store cannot be read or written), TSL_ECORRUPT (the store or an
 *   artifact failed a check), TSL_EVERSION (the schema is older or newer than this program).
 *   The diag names the store, the object and what was expected.
 */
#ifndef TSLOOP_STORE_H
#define TSLOOP_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "tsloop/alarm.h"
#include "tsloop/csv.h"
#include "tsloop/dataset.h"
#include "tsloop/err.h"
#include "tsloop/time.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TSL_STORE_NAME_MAX 64  /* bytes of a data set or forecaster name */
#define TSL_STORE_KEY_MAX  128 /* bytes of a parameter key */
#define TSL_STORE_HASH_HEX 64  /* hex digits of a data set content hash */

typedef struct tsl_store tsl_store;

/* ---- opening ---- */

typedef struct tsl_store_opts {
    int no_create;       /* fail with TSL_ENOTFOUND instead of creating a missing store */
    int no_migrate;      /* do not apply pending migrations (for `tsloop migrate`); every operation
                            but the migration functions then fails with TSL_EVERSION until the
                            schema is current */
    int sync_normal;     /* SQLite: synchronous=NORMAL; commits survive kill -9 but the last
                            ones may be lost on power failure. Default FULL: they survive both */
    int busy_timeout_ms; /* how long one operation waits for other writers, retries included;
                            0: 30000 */
    int lease_ms;        /* how long a claimed execution stays owned without a heartbeat;
                            0: 30000 */
    const char *host;    /* this process's host name in leases; NULL: gethostname(). Processes
                            that share a name must share a pid namespace (containers that
                            share a host name but not their pids need distinct names) */
    /* The clock, milliseconds since the epoch; NULL: the real-time clock. For tests. */
    int64_t (*clock_ms)(void *ctx);
    void *clock_ctx;
} tsl_store_opts;

/* Opens (creating when missing, unless no_create) the store at url: "PATH" or "sqlite:PATH" for
 * the embedded back end ("postgres://..." is reserved for the PostgreSQL one: TSL_EUNSUPPORTED
 * in this build). Pending schema migrations are applied, in one transaction, unless no_migrate.
 * TSL_EVERSION when the store's schema is newer than this program knows. opts may be NULL. */
tsl_err tsl_store_open(const char *url, const tsl_store_opts *opts, tsl_store **out, tsl_diag *d);

/* Closes the handle; NULL is a no-op. Leases it holds are not released: they expire. */
void tsl_store_close(tsl_store *s);

/* Opens another handle on s's store with s's options and s's worker identity: it holds the
 * executions s holds, so it may renew their leases (tsl_store_exec_heartbeat) and act on them.
 * For a heartbeat thread beside a worker busy in a long step (handles are one thread's each). */
tsl_err tsl_store_open_sibling(const tsl_store *s, tsl_store **out, tsl_diag *d);

/* The back end's name ("sqlite") and what it was opened on (the path). */
const char *tsl_store_backend(const tsl_store *s);
const char *tsl_store_location(const tsl_store *s);

/* ---- schema migrations ---- */

typedef struct tsl_store_migration {
    int version;
    const char *description; /* static text */
    int applied;
    int64_t applied_ms; /* 0 when pending */
} tsl_store_migration;

/* Every migration this program knows, in order, each applied or pending. *out is freed with
 * tsl_free. Works whatever no_migrate said. */
tsl_err tsl_store_migrations(tsl_store *s, tsl_store_migration **out, size_t *n, tsl_diag *d);

/* Applies the pending migrations in one transaction; *applied (may be NULL) gets how many. */
tsl_err tsl_store_migrate(tsl_store *s, int *applied, tsl_diag *d);

/* ---- data sets ---- */

typedef struct tsl_store_dataset {
    int64_t id;
    char *name;
    tsl_freq freq; /* unit TSL_FREQ_NONE: not declared, inferred when loading */
    size_t ndims;
    char **dim_names;
    int64_t created_ms;
    int64_t updated_ms;
    uint64_t items;
    uint64_t observations; /* stored points, missing values included */
    int64_t t_min, t_max;  /* first and last timestamp (seconds); 0 when empty */
    char hash[TSL_STORE_HASH_HEX + 1];
} tsl_store_dataset;

void tsl_store_dataset_release(tsl_store_dataset *ds);
void tsl_store_dataset_list_free(tsl_store_dataset *list, size_t n);

/* Creates a data set. freq may have unit NONE (inferred at load time; no grid check at ingest);
 * ndims dimension names (distinct, non-empty) fix the columns every ingest must bring, and
 * may be declared by the first ingest instead when ndims is 0. TSL_ECONFLICT when the name is
 * taken. Records the event dataset.created. */
tsl_err tsl_store_dataset_create(tsl_store *s, const char *name, tsl_freq freq,
                                 const char *const *dim_names, size_t ndims, int64_t *id,
                                 tsl_diag *d);

/* The data set called name, with its counts and content hash as of now. */
tsl_err tsl_store_dataset_get(tsl_store *s, const char *name, tsl_store_dataset *out, tsl_diag *d);

/* Every data set, by name. */
tsl_err tsl_store_dataset_list(tsl_store *s, tsl_store_dataset **out, size_t *n, tsl_diag *d);

/*
 * The content hash of a data set is a 256-bit digest of its state - the set of its items
 * (id and dimension values) and observations (item, timestamp, value) - and nothing else: two
 * stores holding the same points have the same hash whatever the order, batching or history
 * of the ingests that produced them, and any change of a value, a new point or a new item
 * changes it. It is maintained incrementally with every change and read in O(1); docs/store.md
 * says why that is sound. tsl_store_dataset_verify recomputes it from the rows and compares.
 */
tsl_err tsl_store_dataset_verify(tsl_store *s, const char *name, int *ok, tsl_diag *d);

/* One item of a data set and its dimension values (in the data set's dim_names order). */
typedef struct tsl_store_item {
    char *item_id;
    char **dims;
    size_t ndims;
    uint64_t observations;
    int64_t t_min, t_max;
} tsl_store_item;

void tsl_store_item_list_free(tsl_store_item *list, size_t n);

/* The items of a data set, by item id (bytewise). */
tsl_err tsl_store_item_list(tsl_store *s, const char *dataset, tsl_store_item **out, size_t *n,
                            tsl_diag *d);

/* The observations of item `item` of data set `dataset` with timestamps after `after`
 * (seconds), in time order: *t and *v (NaN where missing) hold *n points, freed with tsl_free
 * (NULL when *n is 0). An item the data set does not have gives *n = 0; an unknown data set
 * is TSL_ENOTFOUND. What the daemon reads to bring a deployed model up to date without loading
 * the whole history. */
tsl_err tsl_store_item_tail(tsl_store *s, const char *dataset, const char *item, int64_t after,
                            int64_t **t, double **v, size_t *n, tsl_diag *d);

/* Loads a data set, or the nitems items listed in items (NULL: all), into a tsl_dataset for
 * training, in one consistent snapshot: *out holds exactly the state whose content hash is
 * written to hash (may be NULL; TSL_STORE_HASH_HEX + 1 bytes). The frequency is the data set's
 * (or inferred); period <= 0 means the frequency's default. Listed items that do not exist are
 * TSL_ENOTFOUND; a data set without observations is TSL_ESHORT. */
tsl_err tsl_store_dataset_load(tsl_store *s, const char *name, const char *const *items,
                               size_t nitems, int period, tsl_dataset **out, char *hash,
                               tsl_diag *d);

/* ---- ingesting observations ---- */

typedef struct tsl_store_reject {
    uint64_t line;
    char *reason;
} tsl_store_reject;

/* What an ingest did. Every row read is counted exactly once in inserted, updated, unchanged
 * or rejected. */
typedef struct tsl_store_receipt {
    int64_t ingest_id;
    uint64_t read;      /* data rows read, rejected ones included */
    uint64_t inserted;  /* a new (item, timestamp) */
    uint64_t updated;   /* a different value replaced the stored one (the old one is kept) */
    uint64_t unchanged; /* the stored value was already this one */
    uint64_t rejected;  /* rows that did not parse or do not fit the data set */
    uint64_t new_items;
    uint64_t dim_conflicts; /* rows whose dimension values differ from their item's stored ones
                               (the stored ones are kept) */
    size_t nrejects;        /* the first TSL_STORE_REJECTS_KEPT rejections, with reasons */
    tsl_store_reject *rejects;
    char hash[TSL_STORE_HASH_HEX + 1]; /* the data set's content hash after this ingest */
} tsl_store_receipt;

#define TSL_STORE_REJECTS_KEPT 1000

void tsl_store_receipt_release(tsl_store_receipt *r);

typedef struct tsl_store_ingest_opts {
    const char *source;   /* what is being ingested, for the record ("sales.csv"); NULL: "-" */
    const char *who;      /* NULL: "" */
    size_t batch_rows;    /* rows per transaction; 0: 65536 */
    uint64_t max_rejects; /* fail with TSL_EPARSE when more rows than this are rejected (the
                             batch in progress is not committed); 0: no limit */
    int create;           /* create the data set (frequency unit NONE) when it does not exist */
    /* For the dataset.ingested and dataset.ingest_failed events: how the rows came ("cli",
     * "api", "inbox"; NULL: "cli"), the payload's "source" (the record keeps source), and what
     * was ingested, the payload's "file" (NULL: source). */
    const char *origin;
    const char *file;
} tsl_store_ingest_opts;

typedef struct tsl_store_ingest tsl_store_ingest;

/* Starts an ingest into data set `dataset` of rows whose dimension values come in the order
 * of dim_names (ndims of them; the same set as the data set's, in any order). Records the
 * ingest (status running). Rows then go in through tsl_store_ingest_add and commit in
 * batches: a batch is applied completely or not at all, and committed batches stay even if
 * the ingest never ends. Re-ingesting the same rows is harmless (they count as unchanged). */
tsl_err tsl_store_ingest_begin(tsl_store *s, const char *dataset, const char *const *dim_names,
                               size_t ndims, const tsl_store_ingest_opts *opts,
                               tsl_store_ingest **out, tsl_diag *d);

/* Adds one row (copied). Upsert by (item, timestamp): a new point is inserted, a different
 * value (a missing one included) replaces the stored one and the replaced value is kept as a
 * revision, an equal value changes nothing. -0 is stored as 0. When the data set has a
 * frequency, a timestamp off the item's grid (the grid of its first stored timestamp) is
 * rejected. A later row for the same (item, timestamp) wins, as in a file. May commit a batch,
 * whose errors it returns; after an error the ingest can only be aborted. */
tsl_err tsl_store_ingest_add(tsl_store_ingest *in, const tsl_csv_row *row, tsl_diag *d);

/* Counts a row the caller rejected (e.g. tsl_csv_next's TSL_EPARSE in lenient mode). */
tsl_err tsl_store_ingest_reject(tsl_store_ingest *in, uint64_t line, const char *reason,
                                tsl_diag *d);

/* Commits the last batch, marks the ingest complete, records the event dataset.ingested, fills
 * *receipt and frees in (also on error, when the ingest is marked failed). */
tsl_err tsl_store_ingest_end(tsl_store_ingest *in, tsl_store_receipt *receipt, tsl_diag *d);

/* Drops the batch in progress, marks the ingest failed with reason and frees in. Batches
 * already committed stay. NULL is a no-op. */
void tsl_store_ingest_abort(tsl_store_ingest *in, const char *reason);

/* Ingests every row of csv (read leniently: rows tsl_csv_next rejects are counted with their
 * line and reason) into dataset, as begin/add/end do. The reader stays open; the caller
 * closes it. */
tsl_err tsl_store_ingest_csv(tsl_store *s, const char *dataset, tsl_csv *csv,
                             const tsl_store_ingest_opts *opts, tsl_store_receipt *receipt,
                             tsl_diag *d);

typedef enum tsl_ingest_status {
    TSL_INGEST_RUNNING,
    TSL_INGEST_COMPLETE,
    TSL_INGEST_FAILED,
    TSL_INGEST_INTERRUPTED /* running, but the process doing it is gone (never stored) */
} tsl_ingest_status;

const char *tsl_ingest_status_name(tsl_ingest_status st); /* "running", ... */

/* The record of one ingest. */
typedef struct tsl_store_ingest_info {
    int64_t id;
    char *dataset;
    char *source;
    char *who;
    tsl_ingest_status status;
    char *error; /* why it failed, or NULL */
    int64_t started_ms, ended_ms;
    tsl_store_receipt receipt; /* counts so far, the rejections kept, the hash after it */
} tsl_store_ingest_info;

void tsl_store_ingest_info_release(tsl_store_ingest_info *in);
void tsl_store_ingest_info_list_free(tsl_store_ingest_info *list, size_t n);

/* One ingest with its rejections. */
tsl_err tsl_store_ingest_get(tsl_store *s, int64_t id, tsl_store_ingest_info *out, tsl_diag *d);

/* The last `limit` ingests (0: all) of dataset (NULL: all data sets), newest first, without
 * their rejection lists. */
tsl_err tsl_store_ingest_list(tsl_store *s, const char *dataset, size_t limit,
                              tsl_store_ingest_info **out, size_t *n, tsl_diag *d);

/* A replaced value: the point (item, t) held old_value until ingest `ingest_id` wrote
 * new_value. Values are NaN when missing. */
typedef struct tsl_store_revision {
    int64_t id;
    char *item_id;
    int64_t t;
    double old_value, new_value;
    int64_t ingest_id;
    int64_t at_ms;
} tsl_store_revision;

void tsl_store_revision_list_free(tsl_store_revision *list, size_t n);

/* Revisions of dataset (of one item when item is not NULL), oldest first, after revision id
 * after_id, at most limit (0: all). */
tsl_err tsl_store_revision_list(tsl_store *s, const char *dataset, const char *item,
                                int64_t after_id, size_t limit, tsl_store_revision **out, size_t *n,
                                tsl_diag *d);

/* ---- model registry ---- */

typedef enum tsl_model_status {
    TSL_MODEL_PENDING, /* PendingManualApproval */
    TSL_MODEL_APPROVED,
    TSL_MODEL_REJECTED
} tsl_model_status;

const char *tsl_model_status_name(tsl_model_status st); /* "PendingManualApproval", ... */
/* Parses a status name (case-insensitive; "pending" is accepted too). */
tsl_err tsl_model_status_parse(const char *s, tsl_model_status *out, tsl_diag *d);

/* What registering a model version needs. */
typedef struct tsl_store_model_new {
    const char *forecaster;
    const char *metrics;      /* JSON; NULL: "{}" */
    const char *choices;      /* JSON of per-series model choices; NULL: "{}" */
    const char *dataset;      /* the data set trained on (NULL: none) */
    const char *dataset_hash; /* its content hash at training time (NULL: none) */
    const char *config_hash;
    const char *program_version; /* NULL: this program's */
    int64_t execution_id;        /* the pipeline execution that made it; 0: none */
    const void *artifact;        /* the serialized model */
    size_t artifact_len;
    tsl_model_status status; /* PENDING normally; APPROVED when a policy approves at once */
    const char *who;         /* for the audit log */
    const char *why;
} tsl_store_model_new;

typedef struct tsl_store_model {
    int64_t id;
    char *forecaster;
    int version; /* 1, 2, ... per forecaster */
    tsl_model_status status;
    char *metrics;
    char *choices;
    char *dataset;
    char *dataset_hash;
    char *config_hash;
    char *program_version;
    int64_t execution_id;
    size_t artifact_len;
    uint32_t artifact_crc32;
    char artifact_sha256[65];
    int64_t created_ms;
    int64_t status_ms;   /* last status change */
    int64_t approved_ms; /* last approval; 0 if never */
} tsl_store_model;

void tsl_store_model_release(tsl_store_model *m);
void tsl_store_model_list_free(tsl_store_model *list, size_t n);

/* Registers a new version of m->forecaster (the next number), its artifact stored as a blob
 * with its size, CRC-32 and SHA-256; writes the first audit entry (status m->status) and the
 * event model.registered. *id and *version may be NULL. */
tsl_err tsl_store_model_register(tsl_store *s, const tsl_store_model_new *m, int64_t *id,
                                 int *version, tsl_diag *d);

/* Version `version` of forecaster. */
tsl_err tsl_store_model_get(tsl_store *s, const char *forecaster, int version, tsl_store_model *out,
                            tsl_diag *d);

/* The versions of forecaster (NULL: all forecasters), newest first. */
tsl_err tsl_store_model_list(tsl_store *s, const char *forecaster, tsl_store_model **out, size_t *n,
                             tsl_diag *d);

/* The artifact of a version, checked against its size and SHA-256 (TSL_ECORRUPT otherwise).
 * *data is freed with tsl_free. */
tsl_err tsl_store_model_artifact(tsl_store *s, const char *forecaster, int version, void **data,
                                 size_t *len, tsl_diag *d);

/* Changes a version's status, appending who/when/why to the audit log and recording the event
 * model.approved, model.rejected or model.pending. Allowed: Pending -> Approved | Rejected,
 * Approved -> Rejected, Rejected -> Approved; anything else is TSL_ECONFLICT. who must not be
 * empty. */
tsl_err tsl_store_model_set_status(tsl_store *s, const char *forecaster, int version,
                                   tsl_model_status status, const char *who, const char *why,
                                   tsl_diag *d);

typedef struct tsl_store_audit {
    int64_t id;
    char *forecaster;
    int version;
    int has_from; /* 0 for the registration entry */
    tsl_model_status from, to;
    char *who, *why;
    int64_t at_ms;
} tsl_store_audit;

void tsl_store_audit_list_free(tsl_store_audit *list, size_t n);

/* The audit log of forecaster (NULL: all), oldest first; version 0: all its versions. */
tsl_err tsl_store_model_audit(tsl_store *s, const char *forecaster, int version,
                              tsl_store_audit **out, size_t *n, tsl_diag *d);

/* The champion of forecaster: of its Approved versions, the one approved last. *found is 0
 * (and *out untouched) when none is approved. */
tsl_err tsl_store_model_champion(tsl_store *s, const char *forecaster, tsl_store_model *out,
                                 int *found, tsl_diag *d);

/* ---- pipeline executions ---- */

typedef enum tsl_exec_status {
    TSL_EXEC_QUEUED,    /* requested, waiting for a worker (and for the active one to end) */
    TSL_EXEC_EXECUTING, /* claimed, or between attempts waiting for a retry */
    TSL_EXEC_STOPPING,  /* a stop was requested while a worker holds it */
    TSL_EXEC_STOPPED,
    TSL_EXEC_FAILED,
    TSL_EXEC_SUCCEEDED
} tsl_exec_status;

const char *tsl_exec_status_name(tsl_exec_status st); /* "Queued", "Executing", ... */
int tsl_exec_status_terminal(tsl_exec_status st);     /* Stopped, Failed, Succeeded */

/* Retry policy of an execution's steps: attempt k (1-based) that fails is retried after
 * min(first_delay_ms * factor^(k-1), max_delay_ms) while k < max_attempts. Zeros: defaults
 * (5 attempts, 1 s, x2, 5 min). */
typedef struct tsl_store_retry {
    int max_attempts;
    int64_t first_delay_ms;
    double factor;
    int64_t max_delay_ms;
} tsl_store_retry;

typedef struct tsl_exec_request {
    const char *forecaster;
    const char *trigger;    /* "manual", "data", "schedule", "alarm", "api", ... */
    const char *dedupe_key; /* NULL: a fresh key (the request never coalesces by key) */
    const char *params;     /* JSON; NULL: "{}" */
    const char *who;        /* NULL: "" */
    tsl_store_retry retry;
} tsl_exec_request;

typedef enum tsl_exec_outcome {
    TSL_EXEC_NEW,       /* a new execution, nothing else active or queued for the forecaster */
    TSL_EXEC_BEHIND,    /* a new execution, queued behind the active one */
    TSL_EXEC_DUPLICATE, /* the dedupe key was seen before: that request's execution */
    TSL_EXEC_MERGED     /* joined the execution already queued for the forecaster */
} tsl_exec_outcome;

/* Requests a pipeline execution. At most one execution per forecaster is active (Executing or
 * Stopping) and at most one is queued: a request while one is queued joins it, so a burst of
 * triggers while a run is in progress produces exactly one more run. A request whose
 * (forecaster, dedupe_key) was seen before, whatever became of its execution, returns that
 * execution and changes nothing. Records execution.requested (and execution.status for a new
 * execution). */
tsl_err tsl_store_exec_request(tsl_store *s, const tsl_exec_request *r, int64_t *id,
                               tsl_exec_outcome *how, tsl_diag *d);

typedef enum tsl_step_status {
    TSL_STEP_RUNNING,
    TSL_STEP_SUCCEEDED,
    TSL_STEP_FAILED
} tsl_step_status;

const char *tsl_step_status_name(tsl_step_status st); /* "Running", "Succeeded", "Failed" */

typedef struct tsl_store_attempt {
    int number; /* 1-based */
    tsl_step_status status;
    int64_t started_ms, ended_ms;
    char *error;
    char *worker; /* "host:pid" */
} tsl_store_attempt;

typedef struct tsl_store_step {
    char *name;
    tsl_step_status status; /* of its last attempt */
    int64_t next_retry_ms;  /* after a failed attempt that will be retried; else 0 */
    char *output;           /* JSON, once succeeded; else NULL */
    size_t output_blob_len;
    size_t nattempts;
    tsl_store_attempt *attempts;
} tsl_store_step;

typedef struct tsl_store_exec {
    int64_t id;
    char *forecaster;
    tsl_exec_status status;
    char *trigger, *dedupe_key, *params, *who;
    char *reason; /* why it failed or stopped; NULL otherwise */
    int64_t created_ms, started_ms, ended_ms;
    int64_t not_before_ms; /* not claimable before (a retry's time) */
    char *owner;           /* "host:pid" of the worker holding it; NULL when none */
    int64_t lease_until_ms;
    int owner_dead; /* the owner is gone (as this handle sees it now) */
    int requests;   /* requests merged into it, itself included */
    int recoveries; /* times it was taken back from a dead worker */
    tsl_store_retry retry;
    size_t nsteps; /* in the order they first started */
    tsl_store_step *steps;
} tsl_store_exec;

void tsl_store_exec_release(tsl_store_exec *e);
void tsl_store_exec_list_free(tsl_store_exec *list, size_t n);

/* One execution with its steps and attempts. */
tsl_err tsl_store_exec_get(tsl_store *s, int64_t id, tsl_store_exec *out, tsl_diag *d);

/* The last `limit` executions (0: all) of forecaster (NULL: all), newest first, with steps. */
tsl_err tsl_store_exec_list(tsl_store *s, const char *forecaster, size_t limit,
                            tsl_store_exec **out, size_t *n, tsl_diag *d);

/* Claims the next runnable execution (of forecaster, or any when NULL) for this handle: first
 * executions whose worker died are recovered (see tsl_store_exec_recover); then, oldest first,
 * an Executing one nobody holds whose retry time has come, or a Queued one whose forecaster
 * has nothing active (it becomes Executing). The handle then holds its lease for lease_ms,
 * renewed by every call below. *claimed is 0 when there is nothing to run (*out untouched);
 * else *out is the execution, whose steps tell where to resume. */
tsl_err tsl_store_exec_claim(tsl_store *s, const char *forecaster, tsl_store_exec *out,
                             int *claimed, tsl_diag *d);

/* The calls below are for the handle holding the execution: TSL_ECONFLICT when it does not
 * (its lease expired and it was recovered, or it ended) - the worker must then drop the
 * work. */

/* Renews the lease; *status (may be NULL) tells whether a stop was requested (Stopping). */
tsl_err tsl_store_exec_heartbeat(tsl_store *s, int64_t id, tsl_exec_status *status, tsl_diag *d);

/* Starts an attempt of step `step` (a name of up to 64 bytes): *attempt is its number. When a
 * stop was requested no attempt starts: *attempt is 0 and *status Stopping. TSL_ECONFLICT when
 * the step already succeeded or another step's attempt is running. */
tsl_err tsl_store_step_begin(tsl_store *s, int64_t id, const char *step, int *attempt,
                             tsl_exec_status *status, tsl_diag *d);

/* Ends the running attempt of step successfully with its output (JSON, NULL: "{}") and an
 * optional blob (what a resumed execution needs from this step, e.g. fitted models). */
tsl_err tsl_store_step_succeed(tsl_store *s, int64_t id, const char *step, const char *output,
                               const void *blob, size_t blob_len, tsl_diag *d);

/* Ends the running attempt of step as failed with error. When retryable and the step has
 * attempts left, the execution is released until the policy's delay has passed (*retry_at_ms
 * gets that time; any worker may then claim it); otherwise the execution fails with the
 * reason "step S failed after N attempts: error" (*retry_at_ms = 0) - or, when a stop was
 * requested, is Stopped. */
tsl_err tsl_store_step_fail(tsl_store *s, int64_t id, const char *step, const char *error,
                            int retryable, int64_t *retry_at_ms, tsl_diag *d);

/* The output of a succeeded step (either out-parameter may be NULL; free with tsl_free). */
tsl_err tsl_store_step_output(tsl_store *s, int64_t id, const char *step, char **json, void **blob,
                              size_t *blob_len, tsl_diag *d);

/* Ends the execution: Succeeded, Failed (reason required) or Stopped (after a stop request).
 * No attempt may be running. Records execution.status; the queued execution of the same
 * forecaster, if any, becomes claimable. */
tsl_err tsl_store_exec_finish(tsl_store *s, int64_t id, tsl_exec_status status, const char *reason,
                              tsl_diag *d);

/* Requests a stop (by anyone): a Queued execution, or one nobody holds, stops at once; one a
 * worker holds becomes Stopping and its worker stops at the next step boundary (or it is
 * Stopped when found dead). *status (may be NULL) gets the new status. TSL_ECONFLICT when it
 * already ended. */
tsl_err tsl_store_exec_stop(tsl_store *s, int64_t id, const char *who, const char *why,
                            tsl_exec_status *status, tsl_diag *d);

/* Finds executions whose worker is gone - its lease expired, or it ran on this host and its
 * process no longer exists - and takes them back: a running attempt is closed as failed
 * ("worker host:pid died during attempt N"); a Stopping execution becomes Stopped; otherwise
 * the step is retried by the retry policy (or the execution fails with the reason when no
 * attempt is left), and an execution that died between steps resumes after its last
 * completed step. Records execution.recovered. *recovered (may be NULL) gets how many. */
tsl_err tsl_store_exec_recover(tsl_store *s, size_t *recovered, tsl_diag *d);

/* ---- parameters ---- */

typedef struct tsl_store_param {
    char *key;
    int version; /* 1, 2, ... per key */
    char *value;
    char *who, *why;
    int64_t at_ms;
} tsl_store_param;

void tsl_store_param_release(tsl_store_param *p);
void tsl_store_param_list_free(tsl_store_param *list, size_t n);

/* Sets key to value (any text) as its next version; records the event param.set. *version may
 * be NULL. */
tsl_err tsl_store_param_set(tsl_store *s, const char *key, const char *value, const char *who,
                            const char *why, int *version, tsl_diag *d);

/* The latest version of key (version 0), or the given one. */
tsl_err tsl_store_param_get(tsl_store *s, const char *key, int version, tsl_store_param *out,
                            tsl_diag *d);

/* Every version of key, oldest first. */
tsl_err tsl_store_param_history(tsl_store *s, const char *key, tsl_store_param **out, size_t *n,
                                tsl_diag *d);

/* The latest version of every key, by key. */
tsl_err tsl_store_param_list(tsl_store *s, tsl_store_param **out, size_t *n, tsl_diag *d);

/* ---- events ---- */

typedef struct tsl_store_event {
    int64_t id; /* increasing in commit order: a reader that has seen id k has seen all below */
    int64_t at_ms;
    char *type;    /* "dataset.ingested", "model.approved", ... (docs/store.md lists them) */
    char *subject; /* what it is about: "dataset:sales", "model:solar/3", "execution:12" */
    char *payload; /* JSON */
} tsl_store_event;

void tsl_store_event_list_free(tsl_store_event *list, size_t n);

/* Appends an event (type: 1-64 bytes of [a-z0-9_.], payload JSON or NULL for "{}"). */
tsl_err tsl_store_event_append(tsl_store *s, const char *type, const char *subject,
                               const char *payload, int64_t *id, tsl_diag *d);

/* Events with id > after_id, oldest first, at most limit (0: all): poll with the last id seen
 * to follow the log. */
tsl_err tsl_store_event_list(tsl_store *s, int64_t after_id, size_t limit, tsl_store_event **out,
                             size_t *n, tsl_diag *d);

/* ---- endpoints and deployments ---- */

/* A deployment: endpoint `endpoint` was pointed at version `version` of registry entry
 * `forecaster`. Deployments are history (never changed or removed); an endpoint's current one
 * is the last deploy or rollback. */
typedef struct tsl_store_deployment {
    int64_t id;
    char *endpoint;
    char *forecaster; /* the registry entry */
    int version;
    int64_t model_id;
    int rollback;        /* 1 when made by tsl_store_rollback */
    int64_t previous_id; /* the endpoint's current deployment before this one; 0: none */
    char *who, *why;
    int64_t at_ms;
} tsl_store_deployment;

void tsl_store_deployment_release(tsl_store_deployment *dp);
void tsl_store_deployment_list_free(tsl_store_deployment *list, size_t n);

/* Points endpoint (a name as for data sets) at version `version` (0: the latest) of entry
 * forecaster, creating the endpoint on first use, and records endpoint.deployed. A Rejected
 * version is refused (TSL_ECONFLICT), and so is a version that is not Approved when
 * require_approved is set. Deploying the endpoint's current version changes nothing and
 * returns the current deployment. *out (may be NULL) gets the deployment. */
tsl_err tsl_store_deploy(tsl_store *s, const char *endpoint, const char *forecaster, int version,
                         int require_approved, const char *who, const char *why,
                         tsl_store_deployment *out, tsl_diag *d);

/* Points endpoint back at the version its current deployment replaced, as a new deployment
 * (rollback = 1) whose previous is the replaced one's previous - so rolling back twice walks
 * back two steps. TSL_ENOTFOUND for an unknown endpoint, TSL_ECONFLICT when there is nothing
 * to roll back to. Records endpoint.rolled_back. */
tsl_err tsl_store_rollback(tsl_store *s, const char *endpoint, const char *who, const char *why,
                           tsl_store_deployment *out, tsl_diag *d);

/* The current deployment of every endpoint, by endpoint name. */
tsl_err tsl_store_endpoint_list(tsl_store *s, tsl_store_deployment **out, size_t *n, tsl_diag *d);

/* The current deployment of endpoint; TSL_ENOTFOUND when there is no such endpoint. */
tsl_err tsl_store_endpoint_get(tsl_store *s, const char *endpoint, tsl_store_deployment *out,
                               tsl_diag *d);

/* The deployments of endpoint, newest first, at most limit (0: all). */
tsl_err tsl_store_deployment_history(tsl_store *s, const char *endpoint, size_t limit,
                                     tsl_store_deployment **out, size_t *n, tsl_diag *d);

/* ---- API tokens ----
 * A token is "tsl_" and 43 base64url characters (32 random bytes). Only its BLAKE2b-256 hash
 * is stored: a token has full entropy, so a fast unsalted hash resists guessing as well as a
 * slow one would, and a request is verified by one hash and one lookup. */

#define TSL_TOKEN_CHARS 47 /* characters of a token, without the terminator */
#define TSL_TOKEN_HASH  32 /* bytes of its hash */

/* Roles, each allowed what the ones below it are. */
typedef enum tsl_role {
    TSL_ROLE_READER = 1, /* forecasts, listings */
    TSL_ROLE_WRITER,     /* ingest, start executions */
    TSL_ROLE_APPROVER,   /* approve, reject, deploy */
    TSL_ROLE_ADMIN       /* tokens, everything */
} tsl_role;

const char *tsl_role_name(tsl_role r); /* "reader", ... */
tsl_err tsl_role_parse(const char *s, tsl_role *out, tsl_diag *d);

/* The hash of len bytes of token text. */
void tsl_token_hash(const char *token, size_t len, unsigned char out[TSL_TOKEN_HASH]);

typedef struct tsl_store_token {
    int64_t id;
    char *name;
    tsl_role role;
    unsigned char hash[TSL_TOKEN_HASH];
    char *who; /* who created it */
    int64_t created_ms;
    int64_t revoked_ms; /* 0: valid */
} tsl_store_token;

void tsl_store_token_release(tsl_store_token *t);
void tsl_store_token_list_free(tsl_store_token *list, size_t n);

/* Creates a token called name (unique, as data set names; TSL_ECONFLICT when taken, revoked
 * ones included) with role; the token itself is written to token (TSL_TOKEN_CHARS + 1 bytes)
 * and exists nowhere else: it cannot be shown again. Records token.created (without it). */
tsl_err tsl_store_token_create(tsl_store *s, const char *name, tsl_role role, const char *who,
                               char *token, int64_t *id, tsl_diag *d);

/* Every token, revoked ones included, by name. */
tsl_err tsl_store_token_list(tsl_store *s, tsl_store_token **out, size_t *n, tsl_diag *d);

/* Revokes the token called name. TSL_ENOTFOUND, or TSL_ECONFLICT when already revoked.
 * Records token.revoked. */
tsl_err tsl_store_token_revoke(tsl_store *s, const char *name, const char *who, tsl_diag *d);

/* The valid (not revoked) token whose text is token; TSL_ENOTFOUND when there is none. */
tsl_err tsl_store_token_verify(tsl_store *s, const char *token, tsl_store_token *out, tsl_diag *d);

/* ---- captured forecasts ----
 * A capture is what one request served for one item: its steps' target times, means and
 * quantiles. Captures are written in groups (one transaction for many) by the daemon's
 * writer: that is what lets it capture tens of thousands of forecasts a second. */

#define TSL_CAPTURE_MAX_STEPS 100000
#define TSL_CAPTURE_MAX_Q     99

/* One capture to add; the arrays are the caller's. */
typedef struct tsl_store_capture_new {
    const char *inference_id; /* 1-128 bytes */
    const char *endpoint;
    int64_t model_id; /* the version served (tsl_store_model.id) */
    const char *item;
    int64_t origin; /* time of the last observation the forecast starts from */
    int64_t at_ms;  /* when it was served; 0: now */
    size_t steps, nq;
    const int64_t *targets; /* steps target times */
    const double *levels;   /* nq quantile levels */
    const double *mean;     /* steps */
    const double *quant;    /* steps * nq, row-major as model.h */
    int shadow;             /* 1: a shadow version's forecast, never served (model_id is it) */
} tsl_store_capture_new;

typedef struct tsl_store_capture {
    int64_t id; /* increasing in commit order */
    char *inference_id, *endpoint;
    char *forecaster; /* the registry entry and version of model_id */
    int version;
    int64_t model_id;
    char *item;
    int64_t origin, at_ms;
    size_t steps, nq;
    int64_t *targets;
    double *levels, *mean, *quant;
    int shadow; /* 1: a shadow version's forecast (tsl_store_capture_list_shadow) */
} tsl_store_capture;

void tsl_store_capture_release(tsl_store_capture *c);
void tsl_store_capture_list_free(tsl_store_capture *list, size_t n);

/* Adds n captures in one transaction: all or none. */
tsl_err tsl_store_capture_add(tsl_store *s, const tsl_store_capture_new *v, size_t n, tsl_diag *d);

/* Live captures (what clients were answered; shadow captures are never listed here, so the
 * monitors, residual detectors and the refit comparison cannot see them) with id > after_id of
 * endpoint (NULL: all) and inference id (NULL: any), oldest first, at most limit (0: all). */
tsl_err tsl_store_capture_list(tsl_store *s, const char *endpoint, const char *inference_id,
                               int64_t after_id, size_t limit, tsl_store_capture **out, size_t *n,
                               tsl_diag *d);

/* The captures of endpoint, live (shadow 0) or shadow (1), that target some time in
 * [t_from, t_to] or straddle it: every capture whose earliest target is <= t_to and whose latest
 * is >= t_from (edges inclusive), in id order. A superset of the captures with a target in
 * the range - exactly what an evaluation recomputing the windows of that range needs - read
 * through an index rather than the endpoint's whole history (docs/store.md, migration 14).
 * TSL_EINVAL when t_from > t_to. */
tsl_err tsl_store_capture_span(tsl_store *s, const char *endpoint, int shadow, int64_t t_from,
                               int64_t t_to, tsl_store_capture **out, size_t *n, tsl_diag *d);

/* The earliest and the latest "latest target" (t_last) among endpoint's live (shadow 0) or
 * shadow (1) captures, two index seeks: every capture has a target in [*min_last, *max_last]'s
 * reach, so tsl_store_capture_span(s, endpoint, shadow, *min_last, INT64_MAX) lists them all.
 * *found is 0 (and the bounds untouched) when the endpoint has no such capture. */
tsl_err tsl_store_capture_bounds(tsl_store *s, const char *endpoint, int shadow, int64_t *min_last,
                                 int64_t *max_last, int *found, tsl_diag *d);

/* Shadow captures of endpoint (NULL: all) with id > after_id, oldest first, at most limit
 * (0: all). */
tsl_err tsl_store_capture_list_shadow(tsl_store *s, const char *endpoint, int64_t after_id,
                                      size_t limit, tsl_store_capture **out, size_t *n,
                                      tsl_diag *d);

/* ---- shadow deployments ----
 * A shadow is a second version run beside an endpoint's live one: its forecasts are computed
 * for every captured forecast of the endpoint and captured flagged shadow, never returned.
 * At most one runs per endpoint; every shadow is kept (history), with how it ended. */

typedef enum tsl_shadow_outcome {
    TSL_SHADOW_RUNNING = 0,
    TSL_SHADOW_COMPLETED,  /* its comparison was made after the windows it wanted */
    TSL_SHADOW_STOPPED,    /* ended by hand */
    TSL_SHADOW_SUPERSEDED, /* another shadow started on the endpoint */
    TSL_SHADOW_DEPLOYED    /* its version was deployed live on the endpoint */
} tsl_shadow_outcome;

const char *tsl_shadow_outcome_name(tsl_shadow_outcome o); /* "running", "completed", ... */

typedef struct tsl_store_shadow {
    int64_t id;
    char *endpoint;
    char *forecaster; /* the registry entry */
    int version;
    int64_t model_id;
    int champion_version;  /* the endpoint's live version when the shadow started */
    int windows;           /* evaluation windows wanted */
    int progress;          /* windows evaluated, as last recorded */
    int64_t capture_after; /* the shadow's run is the captures with a larger id */
    char *who, *why;
    int64_t started_ms, ended_ms; /* ended_ms 0: running */
    tsl_shadow_outcome outcome;
    char *end_why;    /* NULL while running */
    char *comparison; /* the comparison's JSON text once completed, else NULL */
    int decided;      /* the approval policy has acted on the comparison */
} tsl_store_shadow;

void tsl_store_shadow_release(tsl_store_shadow *sh);
void tsl_store_shadow_list_free(tsl_store_shadow *list, size_t n);

/* Starts a shadow of version `version` (0: the latest) of entry forecaster on endpoint for
 * `windows` (1-10000) evaluation windows. The endpoint must have a deployment of that entry;
 * the version must not be the live one nor Rejected (TSL_ECONFLICT; TSL_ENOTFOUND for an
 * unknown endpoint or version). A shadow running on the endpoint ends as superseded. Records
 * model.shadow_ended for the superseded one and model.shadow_started, in the same
 * transaction. *out (may be NULL) gets the new shadow. */
tsl_err tsl_store_shadow_start(tsl_store *s, const char *endpoint, const char *forecaster,
                               int version, int windows, const char *who, const char *why,
                               tsl_store_shadow *out, tsl_diag *d);

/* Ends shadow id - only while it runs (compare-and-set: TSL_ECONFLICT when it has ended
 * already, so two callers never both end it) - with outcome (not RUNNING), why, and for a
 * completed one its comparison (JSON text) and progress. Records model.shadow_ended and, when
 * compared_payload is not NULL, model.compared with that payload, in the same transaction. */
tsl_err tsl_store_shadow_end(tsl_store *s, int64_t id, tsl_shadow_outcome outcome, const char *why,
                             const char *comparison, int progress, const char *compared_payload,
                             tsl_diag *d);

/* Records the windows evaluated so far of running shadow id (no-op once it ended). */
tsl_err tsl_store_shadow_progress(tsl_store *s, int64_t id, int progress, tsl_diag *d);

/* Marks shadow id's comparison as acted on by the approval policy. */
tsl_err tsl_store_shadow_decided(tsl_store *s, int64_t id, tsl_diag *d);

/* The shadow running on endpoint: *found 0 when none (out then zeroed). */
tsl_err tsl_store_shadow_get(tsl_store *s, const char *endpoint, tsl_store_shadow *out, int *found,
                             tsl_diag *d);

/* Shadows, newest first, at most limit (0: all): of endpoint (NULL: any), of entry forecaster
 * (NULL: any) and version (0: any); running ones only when running is set. */
tsl_err tsl_store_shadow_list(tsl_store *s, const char *endpoint, const char *forecaster,
                              int version, int running, size_t limit, tsl_store_shadow **out,
                              size_t *n, tsl_diag *d);

/* ---- named leases and schedules' fire times ----
 * One scheduler per store: a daemon schedules only while it holds the lock row "scheduler"
 * under a lease it renews; another daemon takes it over when the lease ends or its holder's
 * process is gone. Each schedule records its last fire time, claimed once (docs/store.md). */

/* Takes or renews the lock name for this handle for lease_ms: when it is free, its lease
 * ended, its holder's process is gone, or this handle holds it already. *held says whether
 * this handle holds it now; holder (cap bytes, may be NULL) gets "HOST:PID" of the holder. */
tsl_err tsl_store_lock_acquire(tsl_store *s, const char *name, int64_t lease_ms, int *held,
                               char *holder, size_t cap, tsl_diag *d);

/* Gives the lock up when this handle holds it (no-op otherwise). */
tsl_err tsl_store_lock_release(tsl_store *s, const char *name, tsl_diag *d);

/* The last fire time (seconds since the epoch) recorded for schedule key; *found 0: none. */
tsl_err tsl_store_schedule_last(tsl_store *s, const char *key, int64_t *at, int *found,
                                tsl_diag *d);

/* Claims fire time at of schedule key: *first is 1 when at is later than the recorded last
 * fire time (which becomes at), 0 when it or a later one was claimed before - by this
 * process, an earlier run or another daemon. */
tsl_err tsl_store_schedule_claim(tsl_store *s, const char *key, int64_t at, int *first,
                                 tsl_diag *d);

/* ---- jobs ----
 * Asynchronous work the daemon's API accepts and its workers do (a batch forecast, say): a job
 * is created Queued with a JSON request, claimed by one handle at a time under a lease (as
 * executions are), and finished with a JSON result or an error. A job whose holder stops
 * renewing its lease (a crash, kill -9) is claimable again once the lease expires: jobs
 * survive restarts. */

typedef enum tsl_job_status {
    TSL_JOB_QUEUED,
    TSL_JOB_RUNNING,
    TSL_JOB_FAILED,
    TSL_JOB_SUCCEEDED
} tsl_job_status;

const char *tsl_job_status_name(tsl_job_status st); /* "Queued", "Running", ... */

typedef struct tsl_store_job {
    int64_t id;
    char *kind;     /* "predict", ... (1-64 bytes of [a-z0-9_.]) */
    char *endpoint; /* or NULL */
    tsl_job_status status;
    char *request; /* JSON */
    char *result;  /* JSON once Succeeded, else NULL */
    char *error;   /* once Failed, else NULL */
    char *who;
    int attempts; /* claims so far */
    int64_t lease_until_ms;
    int64_t created_ms, started_ms, ended_ms; /* 0 when not yet */
} tsl_store_job;

void tsl_store_job_release(tsl_store_job *j);

/* How many jobs are in each tsl_job_status and executions in each tsl_exec_status, now (for
 * the daemon's metrics). */
tsl_err tsl_store_status_counts(tsl_store *s, uint64_t jobs[4], uint64_t executions[6],
                                tsl_diag *d);

/* Queues a job; records job.created. */
tsl_err tsl_store_job_create(tsl_store *s, const char *kind, const char *endpoint,
                             const char *request, const char *who, int64_t *id, tsl_diag *d);

/* One job. */
tsl_err tsl_store_job_get(tsl_store *s, int64_t id, tsl_store_job *out, tsl_diag *d);

/* Claims the oldest claimable job (of kind, or any when NULL) for this handle: a Queued one, or
 * a Running one whose lease expired. It becomes Running, held for lease_ms. *claimed is 0 when
 * there is none (*out untouched). */
tsl_err tsl_store_job_claim(tsl_store *s, const char *kind, tsl_store_job *out, int *claimed,
                            tsl_diag *d);

/* Renews the lease of a job this handle holds; TSL_ECONFLICT when it does not (any more). */
tsl_err tsl_store_job_heartbeat(tsl_store *s, int64_t id, tsl_diag *d);

/* Ends a job this handle holds: Succeeded with result (JSON, NULL: "{}") when error is NULL,
 * else Failed with error. Records job.finished. TSL_ECONFLICT when the handle does not hold
 * it. */
tsl_err tsl_store_job_finish(tsl_store *s, int64_t id, const char *result, const char *error,
                             tsl_diag *d);

/* ---- retraining triggers ----
 * The trigger reactor (retrain.h) decides, per event that asks for a retraining (an alarm, an
 * ingest), whether to request one or to suppress it (cooldown, daily cap). A decision is kept
 * per event id, so an event read twice - after a crash, or by two daemons - is decided once. */

typedef struct tsl_store_retrain_ask {
    int64_t event_id;       /* the event that asks (> 0) */
    const char *forecaster; /* whose retraining */
    const char *trigger;    /* "alarm" or "new_data" */
    const char *reason;     /* why it asks, one line, for the events */
    int64_t cooldown_ms;    /* no request within this long after the forecaster's last
                               execution was requested or the last decision to request; 0: none */
    int max_per_day;        /* at most this many requests decided per UTC day; 0: no cap */
} tsl_store_retrain_ask;

typedef struct tsl_store_retrain {
    int64_t event_id;
    char *forecaster, *trigger, *reason;
    int requested;        /* 1: a retraining is to be requested; 0: suppressed */
    char *suppressed;     /* why not (requested 0), else NULL */
    int64_t execution_id; /* the execution requested, once recorded; else 0 */
    int done;             /* its event (retrain.requested or retrain.suppressed) is recorded */
    int64_t at_ms;        /* when it was decided */
} tsl_store_retrain;

void tsl_store_retrain_release(tsl_store_retrain *r);

/* Decides ask in one transaction: when the event was decided before for the forecaster, *out is
 * that decision, unchanged. Otherwise a request within the cooldown, or past the day's cap, is
 * suppressed - recorded with the event retrain.suppressed in the same transaction (done) - and any
 * other is decided "to request" (not done: tsl_store_retrain_record completes it). */
tsl_err tsl_store_retrain_decide(tsl_store *s, const tsl_store_retrain_ask *ask,
                                 tsl_store_retrain *out, tsl_diag *d);

/* Completes a decision to request: records the execution requested and, in the same
 * transaction, the event retrain.requested (payload: forecaster, trigger, reason,
 * execution_id, event_id, outcome). A decision already done is left as it is.
 * TSL_ENOTFOUND when (event_id, forecaster) has no decision to request. */
tsl_err tsl_store_retrain_record(tsl_store *s, int64_t event_id, const char *forecaster,
                                 int64_t execution_id, const char *outcome, tsl_diag *d);

/* The reactor's cursor: the id of the last event it has dealt with (0 at first), and moving it
 * forward (never back: a lower id than the stored one changes nothing). */
tsl_err tsl_store_retrain_cursor(tsl_store *s, int64_t *event_id, tsl_diag *d);
tsl_err tsl_store_retrain_advance(tsl_store *s, int64_t event_id, tsl_diag *d);
/* ---- the inbox's record of files handled (docs/inbox.md) ---- */

/* A file the inbox watcher handled: identified by (data set, name, size, SHA-256 of its bytes),
 * so that a file arriving again with the same name but new contents is a new file. */
typedef struct tsl_store_inbox_file {
    int64_t id;
    char *dataset;
    char *name;
    int64_t size;
    char sha256[65];   /* lowercase hex */
    int ok;            /* 1: ingested (moved to processed/), 0: refused (moved to failed/) */
    int64_t ingest_id; /* the ingest that stored its rows; 0 when none */
    char *error;       /* why it was refused, NULL when ok */
    int64_t at_ms;
} tsl_store_inbox_file;

void tsl_store_inbox_file_release(tsl_store_inbox_file *f);

/* The record of a file, TSL_ENOTFOUND when that file (same data set, name, size and hash) was
 * never handled. */
tsl_err tsl_store_inbox_find(tsl_store *s, const char *dataset, const char *name, int64_t size,
                             const char *sha256, tsl_store_inbox_file *out, tsl_diag *d);

/* Records a handled file (f->id and f->at_ms are ignored). Recording one already recorded
 * changes nothing and succeeds: the first record stands. */
tsl_err tsl_store_inbox_record(tsl_store *s, const tsl_store_inbox_file *f, tsl_diag *d);

/* ---- notification channels' positions in the event log (docs/notifications.md) ---- */

/* Where a channel stands: every event up to cursor is handled (delivered, dead-lettered or not
 * routed to it); event_id, when not 0, is the event after it that failed attempts times, to be
 * tried again at next_ms. */
typedef struct tsl_store_notify_state {
    int64_t cursor;
    int64_t event_id;
    int attempts;
    int64_t next_ms;
    char *error; /* the last attempt's, NULL when none */
} tsl_store_notify_state;

void tsl_store_notify_state_release(tsl_store_notify_state *st);

/* The channel's state. A channel seen for the first time starts at the end of the log (its
 * cursor is the last event's id): adding a channel does not replay the project's history. */
tsl_err tsl_store_notify_get(tsl_store *s, const char *channel, tsl_store_notify_state *out,
                             tsl_diag *d);

/* Records a failed attempt at event_id (attempts so far, when to try again, why). */
tsl_err tsl_store_notify_fail(tsl_store *s, const char *channel, int64_t event_id, int attempts,
                              int64_t next_ms, const char *error, tsl_diag *d);

/* Moves the channel's cursor to event_id (clearing the attempts) and, when type is not NULL,
 * appends the event (type, "channel:NAME", payload) in the same transaction: a delivery is
 * recorded exactly when the cursor passes it. */
tsl_err tsl_store_notify_advance(tsl_store *s, const char *channel, int64_t event_id,
                                 const char *type, const char *payload, tsl_diag *d);
/* ---- monitoring: metric datapoints, alarms, evaluation cursors ----
 * What the evaluator (include/tsloop/monitor.h) keeps: one datapoint per (monitor, window,
 * item, horizon step, metric), replaced when the window is evaluated again, so re-evaluating
 * never counts anything twice; each monitor's alarm state and its history of changes; and
 * named cursors over the event log. docs/store.md describes the tables. */

/* One metric datapoint. */
typedef struct tsl_store_datapoint {
    char *monitor;  /* the monitor whose evaluation made it */
    char *endpoint; /* the endpoint it is about (the data set, for freshness) */
    char *window;   /* the window's key: "2024-05-01", "2024-05-01T13", "run:ID", "last:24" */
    int64_t window_start, window_end; /* data time, seconds, [start, end) */
    char *item;                       /* "" for the aggregate over items */
    int step;                         /* horizon step (1-based), 0 for all steps */
    char *metric;                     /* "mase", "psi", ... */
    double value;                     /* NaN when undefined (no point counted, zero scale) */
    uint64_t n;                       /* points counted */
    int64_t computed_ms;              /* when it was (re)computed */
} tsl_store_datapoint;

void tsl_store_datapoint_list_free(tsl_store_datapoint *list, size_t n);

/* Writes n datapoints in one transaction, each replacing the stored one with the same
 * (monitor, window, item, step, metric). computed_ms 0 means now. */
tsl_err tsl_store_datapoint_put(tsl_store *s, const tsl_store_datapoint *v, size_t n, tsl_diag *d);

/* Filters of a datapoint listing; NULL or -1 fields match everything. */
typedef struct tsl_store_datapoint_query {
    const char *monitor, *endpoint, *item, *metric, *window;
    int step;      /* -1: any step */
    int64_t since; /* window_start >= since (seconds); INT64_MIN: no bound */
    size_t limit;  /* the latest `limit` windows' rows (0: all) */
} tsl_store_datapoint_query;

/* A query that matches everything. */
void tsl_store_datapoint_query_init(tsl_store_datapoint_query *q);

/* The datapoints matching q, oldest window first (then item, step, metric). */
tsl_err tsl_store_datapoint_list(tsl_store *s, const tsl_store_datapoint_query *q,
                                 tsl_store_datapoint **out, size_t *n, tsl_diag *d);

/* A monitor's alarm as persisted: the alarm.h state, the threshold policy's state, and the
 * last evaluation's outcome. */
typedef struct tsl_store_alarm {
    char *monitor;
    tsl_alarm_state state;
    tsl_threshold_state threshold;
    double value; /* the latest datapoint evaluated, NaN when none */
    char *reason; /* the last evaluation's reason */
} tsl_store_alarm;

/* One change of an alarm's state. */
typedef struct tsl_store_alarm_change {
    int64_t id; /* increasing in commit order */
    char *monitor;
    tsl_alarm_value previous, value;
    double datapoint, threshold;
    char *reason;
    int64_t at_ms;
    int64_t event_id; /* the alarm.state_changed event recorded with it */
} tsl_store_alarm_change;

void tsl_store_alarm_release(tsl_store_alarm *a);
void tsl_store_alarm_list_free(tsl_store_alarm *list, size_t n);
void tsl_store_alarm_change_list_free(tsl_store_alarm_change *list, size_t n);

/* The alarm of monitor; *found is 0 (and *out zeroed) when it was never evaluated. */
tsl_err tsl_store_alarm_get(tsl_store *s, const char *monitor, tsl_store_alarm *out, int *found,
                            tsl_diag *d);

/* Every persisted alarm, by monitor name. */
tsl_err tsl_store_alarm_list(tsl_store *s, tsl_store_alarm **out, size_t *n, tsl_diag *d);

/* Saves a->monitor's alarm in one transaction, provided the stored one has made exactly
 * `expect_changes` changes (0 when none is stored) - the compare-and-set that keeps two
 * evaluators of one monitor from both acting on one change: TSL_ECONFLICT otherwise, and the
 * caller evaluates again from the stored state. When change is not NULL its fields (id,
 * event_id and at_ms ignored; at_ms is a->state.changed_at) are appended to the history and
 * the event `alarm.state_changed` (subject "monitor:NAME", the given payload) is recorded
 * in the same transaction. */
tsl_err tsl_store_alarm_put(tsl_store *s, const tsl_store_alarm *a, uint64_t expect_changes,
                            const tsl_store_alarm_change *change, const char *payload, tsl_diag *d);

/* The changes of monitor (NULL: every monitor), newest first, at most limit (0: all). */
tsl_err tsl_store_alarm_history(tsl_store *s, const char *monitor, size_t limit,
                                tsl_store_alarm_change **out, size_t *n, tsl_diag *d);

/* A named cursor (1-64 bytes as data set names) over the event log: the last event id its
 * reader has handled, 0 when never set. */
tsl_err tsl_store_cursor_get(tsl_store *s, const char *name, int64_t *value, tsl_diag *d);
tsl_err tsl_store_cursor_set(tsl_store *s, const char *name, int64_t value, tsl_diag *d);

/* One observation an ingest wrote. */
typedef struct tsl_store_point {
    char *item;
    int64_t t;
    double value; /* NaN when missing */
} tsl_store_point;

void tsl_store_point_list_free(tsl_store_point *list, size_t n);

/* The observations whose current value ingest `ingest_id` wrote (new points and corrected
 * ones; not those a later ingest replaced since), by item then time: what the evaluator
 * re-evaluates after an ingest. */
tsl_err tsl_store_ingest_points(tsl_store *s, int64_t ingest_id, tsl_store_point **out, size_t *n,
                                tsl_diag *d);

/* ---- quality monitors: the context of an ingest and the reports of its checks ---- */

/* What the data-quality checks of newly arrived data need to know about one item an ingest
 * wrote to, beyond its new points (tsl_store_ingest_points). */
typedef struct tsl_store_ingest_item {
    char *item;
    int64_t prev_last;  /* its last timestamp stored before the ingest; INT64_MIN: none */
    int64_t first;      /* its first stored timestamp */
    uint64_t corrected; /* points of the ingest that replaced a stored value */
} tsl_store_ingest_item;

void tsl_store_ingest_item_list_free(tsl_store_ingest_item *list, size_t n);

/* The items ingest `ingest_id` wrote to, by item id, each with its context. The previous last
 * timestamp is the latest of the item's points whose current value an earlier ingest wrote, or
 * that this ingest corrected (a point rewritten later by a later ingest is not seen: read soon
 * after the ingest, as the evaluator does, it is exact). */
tsl_err tsl_store_ingest_items(tsl_store *s, int64_t ingest_id, tsl_store_ingest_item **out,
                               size_t *n, tsl_diag *d);

/* The record that quality monitor `monitor` evaluated ingest `ingest_id`. */
typedef struct tsl_store_quality {
    char *monitor;
    int64_t ingest_id;
    char *dataset;
    char *worst;      /* "clean", "info", "warning" or "error" */
    char *summary;    /* one line for people ("" when clean) */
    int64_t event_id; /* the dataset.quality event, 0 when none (clean) */
    int64_t at_ms;
} tsl_store_quality;

void tsl_store_quality_list_free(tsl_store_quality *list, size_t n);

/* Records q (q->event_id and q->at_ms are ignored) once per (monitor, ingest): when no record
 * exists, inserts it and, when payload is not NULL, appends the event dataset.quality with
 * subject "dataset:DATASET" and that payload in the same transaction, and sets *recorded to 1;
 * when one exists already, changes nothing and sets *recorded to 0. So two evaluators racing
 * on one ingest emit one event. */
tsl_err tsl_store_quality_put(tsl_store *s, const tsl_store_quality *q, const char *payload,
                              int *recorded, tsl_diag *d);

/* The records of ingest `ingest_id` (every monitor), by monitor; with monitor not NULL, only
 * that monitor's (0 or 1). */
tsl_err tsl_store_quality_list(tsl_store *s, int64_t ingest_id, const char *monitor,
                               tsl_store_quality **out, size_t *n, tsl_diag *d);

/* ---- residual detectors' states ----
 * One row per (monitor, endpoint, item): the CUSUM or Page-Hinkley state of the item's
 * one-step-ahead residuals under the endpoint's deployed version (docs/monitoring.md,
 * "Residual detectors"), and the target time of the last residual fed, which keeps a
 * re-evaluation from feeding a residual twice. */
typedef struct tsl_store_detector {
    char *monitor, *endpoint, *item;
    char *forecaster; /* the version the state belongs to: a new deployment starts afresh */
    int version;
    int64_t last_t;   /* target time (seconds) of the last residual fed */
    uint64_t fed;     /* residuals fed since the state was created */
    uint64_t signals; /* signals given since then (each followed by a reset) */
    char *state;      /* the detector's state as a JSON object (src/ops/residuals.c) */
    int64_t updated_ms;
    /* put only: the last_t the caller read (INT64_MIN: no row), compared and set */
    int64_t expect_last_t;
} tsl_store_detector;

void tsl_store_detector_list_free(tsl_store_detector *list, size_t n);

/* The states of monitor on endpoint, by item. */
tsl_err tsl_store_detector_list(tsl_store *s, const char *monitor, const char *endpoint,
                                tsl_store_detector **out, size_t *n, tsl_diag *d);

/* Replaces the n states (by their key) and writes the ndp datapoints in one transaction, so
 * a residual's effect on the detector and on the monitor's datapoints is stored together or
 * not at all. Compare-and-set: when a state's row does not hold expect_last_t (INT64_MIN: no
 * row) - another evaluator fed it in between - nothing is written and the call fails with
 * TSL_ECONFLICT (read again and redo). */
tsl_err tsl_store_detector_put(tsl_store *s, const tsl_store_detector *v, size_t n,
                               const tsl_store_datapoint *dp, size_t ndp, tsl_diag *d);

#ifdef __cplusplus
}
#endif
#endif
