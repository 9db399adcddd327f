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

/* The data baseline of version (forecaster, version): its bundle's baseline.statistics. *out
 * stays NULL when the version has none (made before baselines existed). */
tsl_err tsl_monitor_load_baseline(tsl_store *s, const char *forecaster, int version,
                                  tsl_baseline **out, tsl_diag *d);

#endif
