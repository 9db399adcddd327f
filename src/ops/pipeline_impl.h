/*
 * pipeline_impl.h - what the pipeline's files share: the context of one execution being run,
 * the step functions, and the data functions behind the validate and baseline steps.
 *
 * pipeline.c drives an execution (claims, heartbeats, attempts, retries, resuming); each step
 * is a function that reads what earlier steps produced (their outputs, parsed, in c->out) and
 * fills c->result (its JSON output) and, for automl, c->blob. A step never writes its own
 * output to the store: the driver does, in the same call that ends the attempt, so an output
 * is either recorded with the step's success or not at all.
 *
 * The files: pipeline.c (driver, requests, worker loop, heartbeat), pipeline_data.c (validate
 * and baseline, and the checks and statistics they are made of), pipeline_train.c (automl and
 * compare), pipeline_register.c (register).
 */
#ifndef TSLOOP_PIPELINE_IMPL_H
#define TSLOOP_PIPELINE_IMPL_H

#include <jansson.h>

#include "tsloop/bundle.h"
#include "tsloop/config.h"
#include "tsloop/dataset.h"
#include "tsloop/pipeline.h"
#include "tsloop/store.h"

enum { PL_VALIDATE, PL_AUTOML, PL_COMPARE, PL_BASELINE, PL_REGISTER };

/* One execution being run by this worker. */
typedef struct pl_ctx {
    tsl_store *s;
    const tsl_config *cfg;
    const tsl_config_forecaster *f;
    const tsl_config_dataset *dsc; /* f's dataset */
    const tsl_pipeline_opts *o;
    int64_t id; /* the execution */
    /* The data set's snapshot, loaded once by the first step that needs it in this process
     * and shared by the later ones, with its content hash. */
    tsl_dataset *ds;
    char hash[TSL_STORE_HASH_HEX + 1];
    /* Outputs of the steps that succeeded (in this run or an earlier one), by step. */
    json_t *out[TSL_PIPELINE_NSTEPS];
    void *bundle; /* the automl step's blob: every series' model */
    size_t bundle_len;
    tsl_bundle *models; /* that blob opened (tsl_pl_models), which then owns it */
    json_t *detail;     /* its metadata's per-group detail: {KEY: {leaderboard, items}} */
    json_t *baselines;  /* the baseline step's blob, parsed: {KEY: {statistics, constraints}} */
    /* What the running step produces. */
    json_t *result;
    void *blob;
    size_t blob_len;
    char summary[256]; /* one line for the on_step callback */
} pl_ctx;

/* The steps. Each returns TSL_OK with c->result set, or an error with the message in d; the
 * driver retries TSL_EBUSY and TSL_EIO by the retry policy and fails the execution on the
 * rest. */
tsl_err tsl_pl_step_validate(pl_ctx *c, tsl_diag *d);
tsl_err tsl_pl_step_automl(pl_ctx *c, tsl_diag *d);
tsl_err tsl_pl_step_compare(pl_ctx *c, tsl_diag *d);
tsl_err tsl_pl_step_baseline(pl_ctx *c, tsl_diag *d);
tsl_err tsl_pl_step_register(pl_ctx *c, tsl_diag *d);

/* Loads the snapshot of f's data set into c->ds (unless this run has it already). When
 * want_hash is not NULL, a snapshot with another hash - the data changed since the step that
 * recorded want_hash - fails with TSL_ECONFLICT saying so. An empty data set is TSL_ESHORT
 * with a message that says to ingest. */
tsl_err tsl_pl_snapshot(pl_ctx *c, const char *want_hash, tsl_diag *d);

/*
 * The data-quality checks of the validate step (quality.h), run again by automl on a snapshot
 * that changed since validation, with the forecaster's declarations (horizon, season length,
 * frequency, non_negative, split_by, the declared dimension columns) as options. *report gets
 * the report as JSON - quality.h's document, {"violations": [...], "summary": {...}} - whenever
 * the checks ran, NULL otherwise. Returns the verdict: TSL_EINVAL, naming the data set and its
 * worst problems, when the report holds an error.
 */
tsl_err tsl_pl_check_data(const tsl_config_forecaster *f, const tsl_config_dataset *dsc,
                          const tsl_dataset *ds, json_t **report, tsl_diag *d);

/*
 * The data baseline of one model group for the baseline step (baseline.h): the statistics and
 * constraints documents over the series of ds named in items (the group's detail items, each
 * {"item": ID, ...}; names ds lacks are skipped), with seasonal period `period`, as {"statistics":
 * {...}, "constraints": {...}} into *out.
 */
tsl_err tsl_pl_group_baseline(const tsl_dataset *ds, const json_t *items, int period, json_t **out,
                              tsl_diag *d);

/* Members of a fixed combination a choice names ("ets", "mean(ets,theta)", "median(...)"):
 * their specs into spec (at most TSL_PL_MAX_MEMBERS), *median set; returns the count, 0 when
 * the choice is something else (a per-series top-k combination). */
#define TSL_PL_MAX_MEMBERS 8
size_t tsl_pl_choice_members(const char *choice, int period, tsl_model_spec *spec, int *median);

/* Champion against challenger on recent ground truth (pipeline_recent.c): sets o["recent"]
 * for group gj when a deployed version of its entry has captured forecasts with actuals in
 * the snapshot the challenger was trained on; leaves o alone otherwise. */
tsl_err tsl_pl_recent(pl_ctx *c, const json_t *gj, json_t *o, tsl_diag *d);

/* A JSON number, or null when v is not finite (JSON has no NaN). */
json_t *tsl_pl_num(double v);

/* j as compact JSON text, a new string (tsl_free). */
char *tsl_pl_dump(const json_t *j);

/* The automl output's group summaries (an array), or NULL when malformed. */
json_t *tsl_pl_groups(const pl_ctx *c);

/*
 * The automl step keeps its per-series detail - every series' choice, model, reason and the
 * scores of every leaderboard column, and each group's leaderboard - in the metadata of its
 * bundle (the step's blob), not in its JSON output: step outputs are read with every listing of
 * executions, and the detail of ten thousand series is megabytes. tsl_pl_models opens the bundle
 * (once per run) and parses that detail; tsl_pl_detail then gives one group's, {"leaderboard":
 * [...], "items": [...]}, or NULL.
 */
tsl_err tsl_pl_models(pl_ctx *c, tsl_diag *d);
json_t *tsl_pl_detail(const pl_ctx *c, const char *key);

#endif
