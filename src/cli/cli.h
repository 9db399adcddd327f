/*
 * cli.h - what the command files share: the command table, messages and exit codes, option
 * parsing helpers, reading the input data set, progress, and the leaderboard.
 *
 * Exit codes, as DESIGN.md: 0 success, 1 user error (one clear message on stderr), 2 usage.
 */
#ifndef TSLOOP_CLI_H
#define TSLOOP_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tsloop/automl.h"
#include "tsloop/dataset.h"
#include "tsloop/err.h"
#include "tsloop/metrics.h"
#include "tsloop/model.h"

enum { CLI_OK = 0, CLI_ERR = 1, CLI_USAGE = 2 };

typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
} cli_command;

int cmd_version(int argc, char **argv);
int cmd_forecast(int argc, char **argv);
int cmd_backtest(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_ingest(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_models(int argc, char **argv);
int cmd_runs(int argc, char **argv);
int cmd_params(int argc, char **argv);
int cmd_events(int argc, char **argv);
int cmd_datasets(int argc, char **argv);
int cmd_deploy(int argc, char **argv);
int cmd_rollback(int argc, char **argv);
int cmd_endpoints(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_retrain(int argc, char **argv);
int cmd_inbox(int argc, char **argv);
int cmd_metrics(int argc, char **argv);
int cmd_alarms(int argc, char **argv);

/* Prints "tsloop: <msg>" to stderr and returns CLI_ERR. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "tsloop <cmd>: <msg>" and a hint to run --help, returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "tsloop: warning: <msg>" to stderr. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parses an integer option value in [min, max]; on failure prints a usage error. */
int cli_parse_long(const char *cmd, const char *flag, const char *text, long min, long max,
                   long *out);

/* The modelling options `forecast`, `backtest` and `demo` share, gathered from the command
 * line, with the texts kept so that errors can quote them. */
typedef struct cli_model_opts {
    long horizon; /* 0 = not given */
    /* --season-length: one period or several ("24,168"), ascending; 0 given = from the
     * frequency (cli_resolve_periods) */
    int nperiods;
    int periods[TSL_MAX_PERIODS];
    long max_history;      /* 0 = the AutoML default */
    long windows;          /* 0 = default */
    long threads;          /* 0 = all cores */
    const char *quantiles; /* NULL = 0.1,0.5,0.9 */
    const char *models;    /* NULL = default candidates */
    const char *metric;    /* NULL = mase */
    int no_ensembles;
    int fast;
    double series_weight; /* given with --series-weight (series_weight_set) */
    int series_weight_set;
    double time_limit; /* seconds, 0: none */
    /* resolved by cli_model_opts_resolve */
    double levels[TSL_METRICS_MAX_LEVELS];
    size_t nq;
    tsl_model_spec *cands; /* NULL for the defaults */
    size_t ncands;
    tsl_metric metric_id;
} cli_model_opts;

/* The input options every data-reading command shares. */
typedef struct cli_input_opts {
    const char *path;
    const char *freq;
    const char *item_col, *time_col, *target_col;
} cli_input_opts;

/* A progress bar on stderr, drawn only when stderr is a terminal and not quiet. */
typedef struct cli_progress {
    int enabled;
    const char *label;
    double start, last;
} cli_progress;

void cli_progress_init(cli_progress *p, const char *label, int quiet);
/* Matches tsl_automl_opts.progress; ctx is a cli_progress. */
void cli_progress_update(void *ctx, size_t done, size_t total);
void cli_progress_done(cli_progress *p);

/* getopt_long codes of the options the modelling commands (forecast, backtest) share; a
 * command numbers its own options from CLI_OPT_OWN. */
enum {
    CLI_OPT_MODELS = 256,
    CLI_OPT_METRIC,
    CLI_OPT_WINDOWS,
    CLI_OPT_NO_ENS,
    CLI_OPT_FREQ,
    CLI_OPT_ITEM,
    CLI_OPT_TIME,
    CLI_OPT_TARGET,
    CLI_OPT_JSON,
    CLI_OPT_QUIET,
    CLI_OPT_SERIES_WEIGHT,
    CLI_OPT_FAST,
    CLI_OPT_TIME_LIMIT,
    CLI_OPT_MAX_HISTORY,
    CLI_OPT_PROJECT, /* --project DIR, for every command that works on a project */
    CLI_OPT_OWN = 320
};

#define CLI_MODEL_SHORT_OPTIONS "i:H:m:q:j:h"
/* clang-format off */
#define CLI_MODEL_LONG_OPTIONS                                        \
    {"input", required_argument, NULL, 'i'},                          \
    {"horizon", required_argument, NULL, 'H'},                        \
    {"season-length", required_argument, NULL, 'm'},                  \
    {"quantiles", required_argument, NULL, 'q'},                      \
    {"threads", required_argument, NULL, 'j'},                        \
    {"models", required_argument, NULL, CLI_OPT_MODELS},              \
    {"metric", required_argument, NULL, CLI_OPT_METRIC},              \
    {"windows", required_argument, NULL, CLI_OPT_WINDOWS},            \
    {"no-ensembles", no_argument, NULL, CLI_OPT_NO_ENS},              \
    {"series-weight", required_argument, NULL, CLI_OPT_SERIES_WEIGHT}, \
    {"fast", no_argument, NULL, CLI_OPT_FAST},                        \
    {"time-limit", required_argument, NULL, CLI_OPT_TIME_LIMIT},      \
    {"max-history", required_argument, NULL, CLI_OPT_MAX_HISTORY},    \
    {"freq", required_argument, NULL, CLI_OPT_FREQ},                  \
    {"item-col", required_argument, NULL, CLI_OPT_ITEM},              \
    {"time-col", required_argument, NULL, CLI_OPT_TIME},              \
    {"target-col", required_argument, NULL, CLI_OPT_TARGET},          \
    {"json", no_argument, NULL, CLI_OPT_JSON},                        \
    {"quiet", no_argument, NULL, CLI_OPT_QUIET},                      \
    {"help", no_argument, NULL, 'h'}
/* clang-format on */

/* Everything the shared options set. */
typedef struct cli_common {
    cli_input_opts in;
    cli_model_opts mo;
    int json, quiet;
} cli_common;

/* Handles getopt code c if it is a shared option: returns 1 when it was (value stored), 0 when
 * it is not, CLI_USAGE (after printing why) when its value is bad. 'h' is the command's. */
int cli_common_option(const char *cmd, int c, const char *arg, cli_common *o);

/* Fills ao from the resolved model options for period, with the progress bar p, and makes
 * the series views of ds in *ts (the caller frees them). */
void cli_automl_setup(const tsl_dataset *ds, const cli_model_opts *mo, int period, cli_progress *p,
                      tsl_automl_opts *ao, tsl_ts **ts);

/* The main seasonal period (the shortest given, or the frequency's default) and, in mo, every
 * period worth modelling (those given, or the frequency's: 24 and 168 for hourly data). */
int cli_resolve_periods(const tsl_dataset *ds, cli_model_opts *mo);

/* Resolves the texts into levels, candidates (for period) and metric; prints a usage error
 * and returns CLI_USAGE when one is invalid. */
int cli_model_opts_resolve(const char *cmd, cli_model_opts *m, int period);
void cli_model_opts_release(cli_model_opts *m);

/* Reads the data set, printing its warnings (duplicates, gaps, ...) unless quiet. Returns
 * CLI_OK, CLI_ERR (with the reader's message printed) or CLI_USAGE (bad --freq). */
int cli_read_input(const char *cmd, const cli_input_opts *in, int quiet, tsl_dataset **out);

struct tsl_project;
/* Opens the project in dir (--project) or, when dir is NULL, the one found from the current
 * directory upwards. Returns CLI_OK, or CLI_ERR with the message (no project, or the
 * configuration's FILE:LINE:COL error) printed. */
int cli_project_open(const char *dir, struct tsl_project **out);

struct tsl_store;
struct tsl_store_opts;
struct json_t;
/* Opens p's store (opts may be NULL: defaults, pending migrations applied). Returns CLI_OK,
 * or CLI_ERR with the message printed. */
int cli_store_open(const struct tsl_project *p, const struct tsl_store_opts *opts,
                   struct tsl_store **out);
/* cli_project_open and cli_store_open in one; on error nothing is left open. */
int cli_open(const char *dir, struct tsl_project **p, struct tsl_store **s);

/* Sets o's delay_step and delay_ms from TSLOOP_TEST_STEP_DELAY=STEP:MS (the crash tests'
 * window, docs/pipeline.md; step is the caller's buffer of cap bytes); a malformed value is a
 * usage error of cmd. CLI_OK when unset. */
struct tsl_pipeline_opts;
int cli_test_delay(const char *cmd, struct tsl_pipeline_opts *o, char *step, size_t cap);

/* Who runs this command, for requests and the audit log: the OS user's name (from the
 * password database, else $USER), or "uid:N". A static string. */
const char *cli_who(void);

/* Milliseconds since the epoch as "YYYY-MM-DDTHH:MM:SSZ" ("-" for 0) into buf. */
void cli_format_ms(int64_t ms, char *buf, size_t cap);

/* Prints j indented on stdout with a newline, and decrefs it. */
void cli_json_print(struct json_t *j);

/* Parses a JSON text into a new value (NULL when text is NULL or not JSON); for embedding
 * stored JSON in --json output. */
struct json_t *cli_json_parse(const char *text);

struct tsl_store_deployment;
struct tsl_config;
/* A deployment as JSON (the caller decrefs). */
struct json_t *cli_deployment_json(const struct tsl_store_deployment *dp);
/* Whether endpoint requires Approved versions: its setting in tsloop.yaml, else 1. */
int cli_endpoint_requires_approval(const struct tsl_config *cfg, const char *endpoint);

/* Splits "SUB [args]" commands: argv[1] is the subcommand; returns its index in names (n
 * of them) or -1 after printing a usage error naming them (and 'help' prints usage_text and
 * returns -2). */
int cli_subcommand(const char *cmd, int argc, char **argv, const char *const *names, size_t n,
                   const char *usage_text);

/* What the row writers of the commands' outputs (tsl_output_write_rows) read. */
typedef struct cli_rows_ctx {
    const tsl_dataset *ds;
    const tsl_automl_result *r;
} cli_rows_ctx;

/* Warns (unless quiet) when the time limit cut series short. */
void cli_automl_warnings(const tsl_automl_result *r, int quiet);

/* Forecast CSV rows of series i of an AutoML run (nothing for a series that failed). */
void cli_forecast_rows(void *ctx, size_t i, tsl_wbuf *b);

/* Prints the leaderboard of an AutoML run as an aligned table. */
void cli_leaderboard_print(FILE *f, const tsl_automl_result *r);
/* The same as a jansson object (caller decrefs); per_series adds each series' scores. */
struct json_t *cli_leaderboard_json(const tsl_automl_result *r, const tsl_dataset *ds,
                                    int per_series);

#endif
