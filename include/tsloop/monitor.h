/*
 * monitor.h - the evaluator: captured forecasts joined with the actuals that arrive, metric
 * datapoints per evaluation window, and the monitors' alarms.
 *
 * When ground truth is stored (an ingest by the CLI, over HTTP or from an inbox), the
 * evaluator finds the windows the new or corrected observations touch, recomputes each of
 * them whole from the captures and the current actuals, replaces their datapoints in the store
 * and evaluates the monitor's alarm (alarm.h) on its latest windows, recording a change and
 * the event alarm.state_changed only when the state changes. Recomputing whole windows and
 * replacing them is what makes it idempotent: late or corrected actuals change exactly the
 * windows they fall in, and evaluating again never counts a point twice.
 *
 * Which capture counts when several forecasts (from different runs) target the same item and
 * time: in a `run` window, each run's own; in `day` and `hour` windows, the forecast with the
 * latest origin before the window starts (the day-ahead forecast the window was planned with),
 * or, when none started before the window, the one with the earliest origin (made the furthest
 * ahead); in `last:N`, the forecast with the latest origin. Ties go to the later capture.
 *
 * Everything goes through the store, so the CLI and the daemon's follower thread run the same
 * code on their own handles; docs/monitoring.md describes it for users.
 */
#ifndef TSLOOP_MONITOR_H
#define TSLOOP_MONITOR_H

#include <stddef.h>
#include <stdint.h>

#include "tsloop/config.h"
#include "tsloop/err.h"
#include "tsloop/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The event-log cursor the evaluator follows (tsl_store_cursor_get). */
#define TSL_MONITOR_CURSOR "monitor-evaluator"

/* What an evaluation did, added to by each call. */
typedef struct tsl_monitor_stats {
    uint64_t events;     /* dataset.ingested events handled */
    uint64_t windows;    /* windows recomputed */
    uint64_t datapoints; /* datapoints written */
    uint64_t alarms;     /* alarm evaluations */
    uint64_t changes;    /* alarm state changes recorded */
} tsl_monitor_stats;

/* Evaluates accuracy monitor m (kind TSL_MONITOR_ACCURACY): recomputes the windows that the
 * observations touched[0..ntouched) of data set `dataset` fall in (touched NULL: every window
 * of the endpoint's captures), stores their datapoints, then evaluates the alarm at `now_ms`.
 * A monitor whose endpoint has no deployment, or whose data set is another, does nothing. */
tsl_err tsl_monitor_evaluate(tsl_store *s, const tsl_config_monitor *m, const char *dataset,
                             const tsl_store_point *touched, size_t ntouched, int64_t now_ms,
                             tsl_monitor_stats *st, tsl_diag *d);

/* Evaluates drift monitor m (kind TSL_MONITOR_DRIFT): for each day or hour window that the
 * observations touched[0..ntouched) of `dataset` fall in, compares the window's observations
 * of every item (or m->item) with the data baseline of the version deployed on m->endpoint
 * (tsl_drift_compute with m->drift) and stores per item and pooled "psi", "ks" and
 * "wasserstein" (the central normalised distance; each NaN below min_count values) and the
 * pooled "share_drifted" (items with a DRIFT verdict among those with a verdict); then the
 * alarm. A version without a baseline, or another data set, does nothing. A monitor whose
 * statistic is cusum or page_hinkley is tsl_monitor_residuals's. */
tsl_err tsl_monitor_drift(tsl_store *s, const tsl_config_monitor *m, const char *dataset,
                          const tsl_store_point *touched, size_t ntouched, int64_t now_ms,
                          tsl_monitor_stats *st, tsl_diag *d);

/* Evaluates residual detector monitor m (kind TSL_MONITOR_DRIFT, statistic cusum or
 * page_hinkley; tsl_monitor_drift passes such monitors here): for each item of the
 * observations touched[0..ntouched) of `dataset` (touched NULL: every item the deployed
 * version has captures of), feeds the item's detector, in time order, the one-step-ahead
 * residuals (actual minus the deployed version's capture with the latest origin before the
 * target) of the actuals after the last target fed, in units of the version's backtest
 * residual sd; stores per day or hour window and item 1 when the detector signalled there
 * (then reset) else 0, and the share of such items (m->item NULL); the detector states and
 * the datapoints in one transaction; then the alarm. Never feeds a target twice: late actuals
 * before the last fed target and corrections of fed ones are not fed (src/ops/residuals.c,
 * docs/monitoring.md). An item without a known sigma has no detector. */
tsl_err tsl_monitor_residuals(tsl_store *s, const tsl_config_monitor *m, const char *dataset,
                              const tsl_store_point *touched, size_t ntouched, int64_t now_ms,
                              tsl_monitor_stats *st, tsl_diag *d);

/* Evaluates quality monitor m (kind TSL_MONITOR_QUALITY) on ingest `ingest_id` into `dataset`,
 * whose written points are pts[0..npts) (tsl_store_ingest_points): when m watches that data set
 * (its dataset, or its endpoint's deployed version's) and has not evaluated this ingest yet,
 * runs the checks of newly arrived data (tsl_quality_arrival_run, with the data set's frequency
 * and non-negativity from cfg and the store, and the deployed version's baseline), stores one
 * datapoint per check and "flagged" in aggregate and one per listed finding's item, in the
 * window "ingest:ID", records the report once per (monitor, ingest) with, when anything was
 * found, the event dataset.quality (docs/store.md), then evaluates the alarm. Evaluating an
 * ingest again does nothing. */
tsl_err tsl_monitor_quality(tsl_store *s, const tsl_config *cfg, const tsl_config_monitor *m,
                            const char *dataset, int64_t ingest_id, const tsl_store_point *pts,
                            size_t npts, int64_t now_ms, tsl_monitor_stats *st, tsl_diag *d);

/* The metric name of m's alarm series: the accuracy metric, "missed" (freshness), the drift
 * statistic or the quality check. */
const char *tsl_monitor_metric_name(const tsl_config_monitor *m);

/* Evaluates monitor m's alarm on its stored datapoints at now_ms: reads the threshold from its
 * policy (the registry for baseline and best_approved, the parameter for param:KEY), the
 * latest windows, and persists the state (and a change with its event). *changed (may be
 * NULL) is set when the state changed. A monitor without a threshold yet is left as it is. */
tsl_err tsl_monitor_alarm(tsl_store *s, const tsl_config_monitor *m, int64_t now_ms, int *changed,
                          tsl_diag *d);

/* Checks freshness monitor m at now_ms: the datapoint of the current slot (now divided into
 * periods of m->every) is the number of expected arrivals missed since the data set last
 * received observations; when it moved, it is stored and the alarm evaluated. */
tsl_err tsl_monitor_freshness(tsl_store *s, const tsl_config_monitor *m, int64_t now_ms,
                              tsl_monitor_stats *st, tsl_diag *d);

/* Handles the dataset.ingested events after the cursor TSL_MONITOR_CURSOR (at most limit, 0:
 * all): each accuracy monitor of cfg is evaluated on the observations the ingest wrote, and the
 * cursor moves past each event once it is handled. Safe to run from several handles at once
 * (the CLI after an ingest and the daemon's follower): evaluations are idempotent and alarm
 * changes are recorded once. */
tsl_err tsl_monitor_follow(tsl_store *s, const tsl_config *cfg, size_t limit, int64_t now_ms,
                           tsl_monitor_stats *st, tsl_diag *d);

/* ---- views, shared by `tsloop metrics` / `tsloop alarms` and the HTTP routes ---- */

struct json_t;

/* {"datapoints": [{"monitor", "endpoint", "window", "window_start", "window_end", "item",
 * "step", "metric", "value", "n", "computed_at"}, ...]} for the datapoints matching q, oldest
 * first (value null when undefined; item null for the aggregate; step null for all steps).
 * *out is a new jansson reference. */
tsl_err tsl_monitor_metrics_json(tsl_store *s, const tsl_store_datapoint_query *q,
                                 struct json_t **out, tsl_diag *d);

/* With name NULL: {"alarms": [ALARM, ...]}, one per monitor of cfg (a monitor never evaluated
 * is INSUFFICIENT_DATA with evaluated_at null) and per stored alarm of a monitor no longer
 * configured ("configured": false). With a name: that ALARM with its "history" (newest first,
 * at most history_limit changes, 0: all); TSL_ENOTFOUND when neither cfg nor the store knows
 * it. ALARM is {"monitor", "kind", "endpoint", "dataset", "metric", "window", "item", "step",
 * "state", "value", "threshold", "comparison", "evaluation_periods", "datapoints_to_alarm",
 * "treat_missing_data", "actions", "reason", "changed_at", "evaluated_at", "changes",
 * "configured"}. */
tsl_err tsl_monitor_alarms_json(tsl_store *s, const tsl_config *cfg, const char *name,
                                size_t history_limit, struct json_t **out, tsl_diag *d);

#ifdef __cplusplus
}
#endif
#endif
