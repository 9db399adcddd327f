/*
 * monitor_internal.h - what the evaluator's files share (internal): reading a version's data
 * baseline, used by the drift monitors (monitor.c) and the quality monitors
 * (monitor_quality.c).
 */
#ifndef TSLOOP_OPS_MONITOR_INTERNAL_H
#define TSLOOP_OPS_MONITOR_INTERNAL_H

#include "tsloop/baseline.h"
#include "tsloop/err.h"
#include "tsloop/store.h"

/* The data baseline of version (forecaster, version): its bundle's baseline.statistics, with
 * the statistics of the items want[0..nwant) only (sorted bytewise; NULL: all), read without
 * parsing the rest of the metadata (tsl_baseline_from_json_items). *out stays NULL when the
 * version has none (made before baselines existed). */
tsl_err tsl_monitor_load_baseline(tsl_store *s, const char *forecaster, int version,
                                  const char *const *want, size_t nwant, tsl_baseline **out,
                                  tsl_diag *d);

#endif
