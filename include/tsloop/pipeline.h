/*
 * pipeline.h - the training pipeline: a persisted execution that turns a forecaster's data
 * into registered model versions.
 *
 * An execution runs five steps, each recorded in the store with its attempts and output:
 *
 *   validate  the data-quality checks of quality.h on the data set's snapshot, with the
 *             forecaster's declarations; an error fails the execution (the report goes to the
 *             event dataset.validation_failed), a passing report is the step's output
 *   automl    backtest & AutoML per model group (split_by: one group per combination of the
 *             dimension values), all groups in one run on the thread pool; its output sums
 *             up each group, its blob is the model bundle of every series, whose metadata
 *             holds every series' choice, scores and reason
 *   compare   each group's champion re-scored on the challenger's backtest windows
 *   baseline  the data baseline of baseline.h per model group (statistics and constraints
 *             documents, the step's blob), for the drift monitors
 *   register  one model version per group, with metrics, choices, lineage and the bundle
 *             (whose metadata holds the group's baseline); status by the approval policy
 *
 * Executions are requested (tsl_pipeline_request: at most one active per forecaster, a second
 * request queued once) and run by workers (tsl_pipeline_work: claim, heartbeat from a sibling
 * handle, steps with the store's retry policy). A step that succeeded is never run again: a
 * worker that dies - kill -9 included - leaves the execution to the next claim, which resumes
 * it after its last completed step or, when its attempts are spent, fails it with the reason.
 * docs/pipeline.md is the user's description; docs/registry.md describes what is registered.
 *
 * Every function takes the store handle of the calling thread (store.h: one thread each).
 */
#ifndef TSLOOP_PIPELINE_H
#define TSLOOP_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "tsloop/config.h"
#include "tsloop/err.h"
#include "tsloop/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The steps, in order. */
#define TSL_PIPELINE_NSTEPS 5
extern const char *const tsl_pipeline_steps[TSL_PIPELINE_NSTEPS];

typedef enum tsl_pipeline_phase {
    TSL_PIPELINE_STEP_BEGIN,   /* an attempt started */
    TSL_PIPELINE_STEP_DONE,    /* it succeeded (detail: a one-line summary) */
    TSL_PIPELINE_STEP_SKIPPED, /* it had succeeded before (a resumed execution) */
    TSL_PIPELINE_STEP_FAILED,  /* it failed (detail: why); a retry may follow */
    TSL_PIPELINE_EXEC_END      /* the execution ended or waits for a retry (detail: status) */
} tsl_pipeline_phase;

typedef struct tsl_pipeline_opts {
    const char *who;       /* the OS user (or token) on whose behalf: requests and the audit log */
    int threads;           /* worker threads of the automl step; 0: all cores */
    int heartbeat_ms;      /* how often the lease is renewed during a step; 0: 5000 */
    int poll_ms;           /* how often a waiting worker looks again; 0: 250 */
    const char *program;   /* the program version recorded as lineage; NULL: this build's */
    tsl_store_retry retry; /* of the executions requested (zeros: the store's defaults) */
    /* Told about step boundaries (from the worker's thread). */
    void (*on_step)(void *ctx, int64_t execution, const char *step, tsl_pipeline_phase phase,
                    int attempt, const char *detail);
    /* Progress of a long step (automl: series done of total), serialised. */
    void (*progress)(void *ctx, const char *step, size_t done, size_t total);
    void *ctx;
    /* A testing aid for crash tests: sleep delay_ms inside step delay_step (after its work,
     * before its output is stored), renewing the lease meanwhile. */
    const char *delay_step;
    int delay_ms;
} tsl_pipeline_opts;

/* Requests an execution of forecaster (which cfg must declare: TSL_EINVAL naming the declared
 * ones otherwise) with trigger ("manual", "schedule", ...) and dedupe_key (NULL: a fresh one)
 * on behalf of o->who, with o->retry, as tsl_store_exec_request does: the outcome says whether
 * it is new, queued behind the active one, merged into the queued one or a duplicate. The
 * parameters record the forecaster's settings hash at request time. o may be NULL. */
tsl_err tsl_pipeline_request(tsl_store *s, const tsl_config *cfg, const char *forecaster,
                             const char *trigger, const char *dedupe_key,
                             const tsl_pipeline_opts *o, int64_t *id, tsl_exec_outcome *how,
                             tsl_diag *d);

/* Works as a pipeline worker: claims runnable executions of forecaster (NULL: any forecaster
 * cfg declares) and runs each to its end, or until it waits for a retry, then claims again.
 * With until_id > 0 it keeps going - waiting for retries, and for an execution other workers
 * hold to end - until that execution has ended. With until_id == 0 it returns when nothing it
 * could claim is runnable or due within max_wait_ms (waiting for retries that are due sooner).
 * An execution of a forecaster cfg does not declare fails with that reason. Errors are the
 * store's (the executions' own failures are recorded in them, not returned). */
tsl_err tsl_pipeline_work(tsl_store *s, const tsl_config *cfg, const char *forecaster,
                          int64_t until_id, int64_t max_wait_ms, const tsl_pipeline_opts *o,
                          tsl_diag *d);

/* Runs the execution e that this handle has just claimed (tsl_store_exec_claim), from its
 * first step not yet succeeded; returns when it ended, waits for a retry, or was lost (its
 * lease taken back). *status gets where it stands. For workers that claim by themselves. */
tsl_err tsl_pipeline_run(tsl_store *s, const tsl_config *cfg, const tsl_store_exec *e,
                         const tsl_pipeline_opts *o, tsl_exec_status *status, tsl_diag *d);

#ifdef __cplusplus
}
#endif
#endif
