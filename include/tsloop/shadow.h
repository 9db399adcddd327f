/*
 * shadow.h - shadow deployments: a challenger run beside an endpoint's live version, scored on
 * the very forecasts the live one served, and the approval decision that follows.
 *
 * Starting and stopping a shadow are store operations (tsl_store_shadow_start/_end, store.h);
 * the daemon and the batch forecasts capture the shadow's forecasts (flagged shadow) for every
 * forecast they capture for the endpoint. This module judges them: it pairs each live capture
 * with the shadow capture of the same inference id and item, waits until the actuals of N
 * forecast origins have arrived, scores both sides on the same points by the forecaster's
 * compare.metric, ends the shadow (completed) with the comparison and model.compared
 * (source "shadow"), and applies the forecaster's approval policy as after a refit comparison.
 * docs/retraining.md describes it for users.
 */
#ifndef TSLOOP_SHADOW_H
#define TSLOOP_SHADOW_H

#include <stddef.h>
#include <stdint.h>

#include "tsloop/config.h"
#include "tsloop/err.h"
#include "tsloop/metrics.h"
#include "tsloop/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Default number of evaluation windows of a shadow (a forecast origin each). */
#define TSL_SHADOW_DEFAULT_WINDOWS 7

/* One item's actuals: times increasing, NaN for a missing value. */
typedef struct tsl_shadow_series {
    const char *item;
    const int64_t *t;
    const double *v;
    size_t n;
} tsl_shadow_series;

/* The paired comparison of a shadow. */
typedef struct tsl_shadow_score {
    int windows;       /* forecast origins whose paired forecasts have all their actuals */
    int ready;         /* windows reached the number wanted: champion/challenger are set */
    double champion;   /* the live captures' metric on the paired points (NaN: none) */
    double challenger; /* the shadow captures' metric on the same points */
    size_t forecasts;  /* (item, origin) pairs scored */
    size_t points;     /* target times with a finite actual scored on both sides */
    size_t items;      /* distinct items scored */
    size_t unpaired;   /* live captures without a shadow twin (the shadow was not loaded, or
                          its capture was dropped) */
    int64_t first_origin, last_origin; /* of the windows scored */
} tsl_shadow_score;

/* Pairs live[0..nlive) with shadow[0..nshadow) by (inference id, item) - a pair needs the same
 * origin and target times - keeps the latest pair of each (item, origin), and counts as a
 * window each origin whose pairs' last targets all have an actual stored (series, sorted by
 * item; a stored missing value counts as arrived). When there are at least `want` windows,
 * the earliest `want` are scored: both sides on the same points (targets with a finite
 * actual), per (item, origin) as a series with the MASE scale of the item's history up to the
 * origin (period: the season length of the scale), aggregated as AutoML aggregates series
 * (tsl_agg), by metric. Pure computation. */
tsl_err tsl_shadow_compare(const tsl_store_capture *live, size_t nlive,
                           const tsl_store_capture *shadow, size_t nshadow,
                           const tsl_shadow_series *series, size_t nseries, int period,
                           tsl_metric metric, int want, tsl_shadow_score *out, tsl_diag *d);

/* What a round of tsl_shadow_poll did. */
typedef struct tsl_shadow_stats {
    size_t running;   /* running shadows looked at */
    size_t completed; /* shadows this round completed (their comparison made) */
    size_t approved;  /* versions approved by the auto policy after a shadow */
    size_t deployed;  /* endpoints moved by auto_deploy after such an approval */
} tsl_shadow_stats;

/* One round over the store's shadows at now_ms: each running shadow's paired comparison is
 * computed (tsl_shadow_compare on its captures and the data set's actuals); its progress is
 * recorded, and once it has its windows the shadow ends completed with the comparison and
 * model.compared (compare-and-set: of several callers one wins, the others skip it). Then
 * every completed shadow not yet decided gets the approval policy of its forecaster in cfg:
 * auto with the challenger better by the margin -> Approved (and auto_deploy on_approval
 * deploys it); otherwise the version stays as it is. Safe to run from the daemon's evaluator
 * and `tsloop ingest` at once. st may be NULL. */
tsl_err tsl_shadow_poll(tsl_store *s, const tsl_config *cfg, int64_t now_ms, tsl_shadow_stats *st,
                        tsl_diag *d);

/* Ends the shadow running on endpoint as stopped, recording who and why; *out (may be NULL)
 * gets it as it was. TSL_ENOTFOUND when none runs there. */
tsl_err tsl_shadow_stop(tsl_store *s, const char *endpoint, const char *who, const char *why,
                        tsl_store_shadow *out, tsl_diag *d);

struct json_t;

/* Adds to metrics (version `version` of entry's metrics, parsed) the comparison of its newest
 * shadow run as "shadow" ({"source": "shadow", ...} once completed; {"source": "shadow",
 * "running": true, "endpoint", "windows", "progress"} while it runs; nothing when it never ran
 * in shadow or the store cannot say), and marks the registration's "recent" comparison
 * "source": "refit". The shadow's comparison lives in the store's shadow record because a
 * version's metrics never change after registration; this is how the views show them
 * together (`tsloop models show/diff`, GET /v1/models/ENTRY/V). */
void tsl_shadow_metrics_merge(tsl_store *s, const char *entry, int version, struct json_t *metrics);

/* The forecaster of cfg whose registry entry is entry (its own, or a split_by group's
 * "NAME.VALUES"), or NULL. */
const tsl_config_forecaster *tsl_shadow_forecaster_of(const tsl_config *cfg, const char *entry);

#ifdef __cplusplus
}
#endif
#endif
