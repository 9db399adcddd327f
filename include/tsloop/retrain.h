/*
 * retrain.h - the retraining trigger reactor: what turns alarms and new data into pipeline
 * executions, with a cooldown and a daily cap against retraining storms.
 *
 * The reactor follows the event log from a cursor kept in the store. It acts on
 *
 *   alarm.state_changed  to state ALARM, of a monitor whose forecaster retrains on alarm
 *                        (retrain.on_alarm: true, or a list naming the monitor), or whose
 *                        payload lists "retrain" among its actions (the monitor's own
 *                        actions: [retrain]) - either suffices;
 *   dataset.ingested     that inserted or updated observations of the data set of a forecaster
 *                        with retrain.on_new_data (true: any source; inbox: source "inbox").
 *
 * For each (event, forecaster) it asks the store for a decision (tsl_store_retrain_decide:
 * cooldown and cap, in one transaction, kept per event), requests the execution with the
 * dedupe key "retrain:event:ID" (so a crash between request and record cannot request twice:
 * the second request is a duplicate and returns the same execution) and records the outcome
 * with the event retrain.requested; a suppressed one gets retrain.suppressed. At most one
 * execution per forecaster is active and one queued (pipeline.h): a request while one runs
 * is queued or merged, and the event's "outcome" says which. Manual retraining
 * (tsl_retrain_manual) is never subject to cooldown or cap. docs/retraining.md is the user's
 * description.
 */
#ifndef TSLOOP_RETRAIN_H
#define TSLOOP_RETRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "tsloop/config.h"
#include "tsloop/err.h"
#include "tsloop/pipeline.h"
#include "tsloop/store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tsl_retrain_stats {
    size_t events;     /* events read */
    size_t requested;  /* retrainings requested (new, queued or merged) */
    size_t suppressed; /* by cooldown or cap */
} tsl_retrain_stats;

/* Deals with the events after the reactor's cursor, at most max_events of them (0: 1000), and
 * moves the cursor past them. Idempotent: an event dealt with before (its decision is stored)
 * changes nothing, so a crash anywhere leaves nothing half-done for the next call. o (may be
 * NULL) gives who and the retry policy of the executions requested. st may be NULL. Errors are
 * the store's or the pipeline's; the cursor then stays before the event that failed. */
tsl_err tsl_retrain_poll(tsl_store *s, const tsl_config *cfg, const tsl_pipeline_opts *o,
                         size_t max_events, tsl_retrain_stats *st, tsl_diag *d);

/* Requests a retraining of forecaster now, on behalf of o->who, with trigger "manual" and why
 * (may be NULL) as the reason: no cooldown, no cap. Records retrain.requested. *id and *how
 * as tsl_pipeline_request gives them. */
tsl_err tsl_retrain_manual(tsl_store *s, const tsl_config *cfg, const char *forecaster,
                           const char *why, const tsl_pipeline_opts *o, int64_t *id,
                           tsl_exec_outcome *how, tsl_diag *d);

/* "new", "queued", "duplicate" or "merged". */
const char *tsl_retrain_outcome_name(tsl_exec_outcome how);

#ifdef __cplusplus
}
#endif
#endif
