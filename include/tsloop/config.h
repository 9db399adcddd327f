/*
 * config.h - a project's configuration, tsloop.yaml, parsed and checked.
 *
 * tsloop.yaml declares what the project forecasts: datasets (where series come from and how
 * their columns are named) and forecasters (what to forecast from a dataset, how far, at which
 * quantiles, which candidate models, how new versions are approved and when to retrain). The
 * user's description of every key, its default and an example is docs/config.md.
 *
 * Parsing is strict, because a configuration that is silently misread is worse than one that
 * is refused: an unknown key is an error naming the valid keys (and the closest one), and so
 * are a wrong type, a number out of range, a reference to an undefined dataset, a duplicated
 * name, or a section that is reserved but not supported yet (monitors, parameters). Every
 * message reads "FILE:LINE:COLUMN: what was wrong, expected what", for the first mistake found.
 *
 * Scalar values may read the environment: ${NAME} is replaced by the variable's value (an
 * error when it is unset), ${NAME:-text} by the value or, when unset or empty, by text; $$ is a
 * literal $. Keys are never interpolated. An empty value (after interpolation) is the same as
 * leaving the key out.
 *
 * The configuration hash identifies a configuration for lineage: it is the SHA-256 of the
 * normalised text (tsl_config_normalize: defaults filled in, datasets and forecasters sorted
 * by name, every value canonical, interpolation applied), so comments, key order, quoting and
 * spelled-out defaults do not change it. The store location is left out of it: it says where
 * state lives, not what is forecast, and it is where credentials appear (a PostgreSQL URI),
 * which must neither change a model's lineage when rotated nor be exposed to guessing through
 * a published hash. tsl_config_forecaster_hash narrows the hash to what shapes one
 * forecaster's models, so that editing another forecaster, an approver or a schedule does not
 * make every model look trained under a different configuration.
 */
#ifndef TSLOOP_CONFIG_H
#define TSLOOP_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "tsloop/alarm.h"
#include "tsloop/buf.h"
#include "tsloop/cron.h"
#include "tsloop/drift.h"
#include "tsloop/err.h"
#include "tsloop/metrics.h"
#include "tsloop/model.h"
#include "tsloop/quality.h"
#include "tsloop/time.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Caps. A configuration is written by hand: these are far above any real one and bound the
 * work a hostile file (YAML aliases included) can cause. */
#define TSL_CONFIG_MAX_BYTES       (1 << 20) /* tsloop.yaml */
#define TSL_CONFIG_MAX_NAME        64        /* project, dataset and forecaster names */
#define TSL_CONFIG_MAX_VALUE       4096      /* any scalar value after interpolation */
#define TSL_CONFIG_MAX_DATASETS    1000
#define TSL_CONFIG_MAX_FORECASTERS 1000
#define TSL_CONFIG_MAX_ENDPOINTS   1000
#define TSL_CONFIG_MAX_CANDIDATES  64
#define TSL_CONFIG_MAX_DIMS        64
#define TSL_CONFIG_MAX_SPLIT       8
#define TSL_CONFIG_MAX_APPROVERS   64
#define TSL_CONFIG_MAX_HORIZON     100000
#define TSL_CONFIG_MAX_PERIOD      100000
#define TSL_CONFIG_MAX_HOST        256 /* bytes of a listen host, with the terminator */

/* Hex digits of a configuration hash (SHA-256), without the terminator. */
#define TSL_CONFIG_HASH_HEX 64

typedef enum tsl_store_kind {
    TSL_STORE_SQLITE = 0, /* an embedded SQLite file */
    TSL_STORE_POSTGRES    /* a PostgreSQL server */
} tsl_store_kind;

typedef struct tsl_config_store {
    tsl_store_kind kind;
    /* SQLite: the file, as written (relative paths are relative to the project root; the
     * default is .tsloop/store.db). PostgreSQL: the URI, credentials included. */
    char *location;
} tsl_config_store;

typedef struct tsl_config_dataset {
    char *name;
    int line; /* where it is defined in the file, for later messages */
    /* Column names. item_col and time_col are never NULL; target_col NULL means the reader's
     * default (target_value, else target). */
    char *item_col, *time_col, *target_col;
    char **dims; /* declared dimension columns (ndims; 0 = not declared, any are accepted) */
    size_t ndims;
    tsl_freq freq;    /* unit TSL_FREQ_NONE: inferred from the data */
    char *timezone;   /* for display only: "UTC" (default), an IANA name, or "+05:30" */
    char *inbox;      /* folder watched for new files, as written; NULL = none */
    int non_negative; /* 1: the target is never negative (ingest refuses negative values) */
} tsl_config_dataset;

typedef enum tsl_approval_policy {
    TSL_APPROVAL_MANUAL = 0, /* a person approves each new version (the default) */
    TSL_APPROVAL_AUTO        /* approved when it beats the approved version by the margin */
} tsl_approval_policy;

/* Which ingests of a forecaster's data set request its retraining (retrain.on_new_data). */
typedef enum tsl_on_new_data {
    TSL_ON_NEW_DATA_OFF = 0, /* none (the default) */
    TSL_ON_NEW_DATA_ANY,     /* every ingest, whatever its source */
    TSL_ON_NEW_DATA_INBOX    /* only files from the data set's inbox folder (source "inbox") */
} tsl_on_new_data;

/* The retraining triggers of a forecaster (docs/retraining.md). Cooldown and cap apply to the
 * alarm and data triggers only, never to manual or scheduled runs. */
typedef struct tsl_config_retrain {
    int on_alarm;    /* 1: an alarm of a monitor of this forecaster requests a retraining */
    char **monitors; /* on_alarm given as a list: only these monitors' alarms (nmonitors > 0) */
    size_t nmonitors;
    tsl_on_new_data on_new_data;
    int64_t cooldown_ms; /* no triggered retraining this soon after the previous one; 0: none */
    int max_per_day;     /* triggered retrainings per UTC day; 0: no cap */
} tsl_config_retrain;

typedef struct tsl_config_forecaster {
    char *name;
    int line;
    char *dataset;                         /* the dataset's name ... */
    size_t dataset_index;                  /* ... and its index in tsl_config.datasets */
    int horizon;                           /* steps to forecast, 1..TSL_CONFIG_MAX_HORIZON */
    double levels[TSL_METRICS_MAX_LEVELS]; /* quantile levels, increasing (default .1 .5 .9) */
    size_t nq;
    tsl_metric metric; /* selection metric (default MASE) */
    /* Candidate models in tsl_model_spec_parse's canonical text ("ets", "ma:7"), in the order
     * given; none = the AutoML default set. */
    char **candidates;
    size_t ncandidates;
    int periods[TSL_MAX_PERIODS]; /* season lengths, increasing; none = from the frequency */
    size_t nperiods;
    int windows;     /* backtest windows, 1..TSL_BT_MAX_WINDOWS (default 3) */
    int ensembles;   /* consider combinations of the best candidates (default 1) */
    char **split_by; /* dimension columns: one model group per combination of their values */
    size_t nsplit;
    tsl_approval_policy approval;
    double margin;    /* AUTO: relative improvement a challenger needs, in [0, 1); MANUAL: 0 */
    char **approvers; /* e-mail addresses told about new versions */
    size_t napprovers;
    /* Schedules: the expression as written, NULL = none, and its parsed form, read on the wall
     * clock of schedule_timezone (schedule.timezone as written, "UTC" by default), whose zone
     * schedule_tz the configuration owns (NULL only in a hand-built struct: UTC). */
    char *retrain_cron, *forecast_cron;
    tsl_cron retrain, forecast;
    char *schedule_timezone;
    tsl_tz *schedule_tz;
    tsl_config_retrain triggers; /* retrain: */
    /* compare: champion against challenger on recent ground truth - the last compare_windows
     * forecast origins of the champion's captures (default 7), scored by compare_metric
     * (default: metric). */
    int compare_windows;
    tsl_metric compare_metric;
    /* compare.shadow: a newly registered version with a champion on shadow_endpoint runs there
     * in shadow for shadow_windows windows (0: compare_windows) before the approval policy
     * decides (docs/retraining.md); NULL: decided at registration. */
    char *shadow_endpoint;
    int shadow_windows;
} tsl_config_forecaster;

/* What an endpoint does by itself when its forecaster gets a new version. */
typedef enum tsl_auto_deploy {
    TSL_AUTO_DEPLOY_OFF = 0,     /* nothing: deploys are explicit (the default) */
    TSL_AUTO_DEPLOY_ON_APPROVAL, /* deploy each version of its forecaster once it is approved */
    TSL_AUTO_DEPLOY_ON_REGISTER  /* deploy each newly registered version (the seeds' habit) */
} tsl_auto_deploy;

const char *tsl_auto_deploy_name(tsl_auto_deploy a); /* "off", "on_approval", "on_register" */

typedef struct tsl_config_endpoint {
    char *name;
    int line;
    char *forecaster;        /* the forecaster it serves, NULL when not declared ... */
    size_t forecaster_index; /* ... and its index in tsl_config.forecasters */
    int requires_approval;   /* refuse versions that are not Approved (default 1) */
    tsl_auto_deploy auto_deploy;
} tsl_config_endpoint;

/* The server: section - how `tsloop serve` runs (docs/config.md). Zero (NULL) means not set:
 * the daemon's default applies; a command-line flag overrides any of them. It is not part of
 * the normalised text or the hash: it says how the daemon runs, not what is forecast. */
typedef struct tsl_config_server {
    char *listen;                   /* as written: "HOST:PORT", "[IPV6]:PORT"; NULL: not set */
    char host[TSL_CONFIG_MAX_HOST]; /* ... split by tsl_config_listen_parse */
    int port;
    int threads;              /* HTTP worker threads */
    int workers;              /* job worker threads */
    int pipeline_workers;     /* training execution workers; -1: not set, 0: none */
    int max_body;             /* bytes of a request body */
    int max_items;            /* items per forecast request */
    int max_horizon;          /* steps per forecast request */
    int max_header;           /* bytes of a request's headers (libmicrohttpd's connection memory) */
    int idle_timeout;         /* seconds a connection may stay silent */
    int request_time;         /* seconds a request may take from the end of its headers on */
    char *tls_cert, *tls_key; /* PEM files, relative to the project's root; both or neither */
    char *output_dir;         /* relative to the project's root */
} tsl_config_server;

/* Splits a listen address, "HOST:PORT" (an IPv4 address or a name) or "[IPV6]:PORT", into host
 * (cap bytes, without brackets) and port (0-65535). TSL_EINVAL with what was expected. */
tsl_err tsl_config_listen_parse(const char *text, char *host, size_t cap, int *port, tsl_diag *d);
struct tsl_config_notify; /* notify.h */

typedef struct tsl_config {
    int version; /* of the configuration format: 1 */
    char *name;  /* the project's name */
    tsl_config_store store;
    tsl_config_dataset *datasets; /* in file order */
    size_t ndatasets;
    tsl_config_forecaster *forecasters; /* in file order */
    size_t nforecasters;
    tsl_config_endpoint *endpoints; /* in file order */
    size_t nendpoints;
    /* The notifications section (notify.h); NULL when absent. Not part of the normalised text
     * nor of the hash: like the store, it says where messages go, not what is forecast, and it
     * holds secrets. */
    struct tsl_config_notify *notify;
    tsl_config_server server;
    struct tsl_config_monitor *monitors; /* in file order */
    size_t nmonitors;
} tsl_config;

typedef struct tsl_config_opts {
    /* Looks up a variable for ${NAME}; returns NULL when it is unset. NULL: the process
     * environment (getenv). Tests and fuzzers pass their own. */
    const char *(*getenv)(void *ctx, const char *name);
    void *getenv_ctx;
} tsl_config_opts;

/* Parses len bytes of YAML text; filename (e.g. "tsloop.yaml") prefixes every message. opts
 * may be NULL. On success *out is a new configuration (tsl_config_free). Errors: TSL_EPARSE
 * (not YAML), TSL_EINVAL (YAML that is not a valid configuration), TSL_EUNSUPPORTED (a
 * reserved section, a newer format version), TSL_ELIMIT (a cap). Nothing is returned on
 * error. */
tsl_err tsl_config_parse(const char *text, size_t len, const char *filename,
                         const tsl_config_opts *opts, tsl_config **out, tsl_diag *d);

/* Reads the file at path and parses it, path naming it in messages. TSL_EIO when it cannot
 * be read, TSL_ELIMIT past TSL_CONFIG_MAX_BYTES. */
tsl_err tsl_config_load(const char *path, const tsl_config_opts *opts, tsl_config **out,
                        tsl_diag *d);

/* Releases cfg and everything it holds; NULL is a no-op. */
void tsl_config_free(tsl_config *cfg);

/* 1 when s may name a project, dataset or forecaster: 1 to TSL_CONFIG_MAX_NAME letters,
 * digits, '_', '.' and '-', the first a letter or digit (names appear in URLs and commands). */
int tsl_config_name_valid(const char *s);

/* The dataset or forecaster of that name, or NULL. */
const tsl_config_dataset *tsl_config_dataset_find(const tsl_config *cfg, const char *name);
const tsl_config_forecaster *tsl_config_forecaster_find(const tsl_config *cfg, const char *name);
/* The endpoint of that name, or NULL (an endpoint need not be declared to be deployed to: an
 * undeclared one has the defaults). */
const tsl_config_endpoint *tsl_config_endpoint_find(const tsl_config *cfg, const char *name);

/* Appends the normalised configuration to out: valid tsloop.yaml text holding every value
 * with its default filled in, names in sorted order, numbers in their shortest exact form,
 * schedules in tsl_cron_format's form, and no store. Parsing it back gives a configuration
 * that normalises to the same text. */
void tsl_config_normalize(const tsl_config *cfg, tsl_wbuf *out);

/* SHA-256 of tsl_config_normalize's text, as lower-case hex, into hex (terminated). */
void tsl_config_hash(const tsl_config *cfg, char hex[TSL_CONFIG_HASH_HEX + 1]);

/* SHA-256, as hex, of what shapes f's models: its dataset's columns, declared dimensions,
 * frequency and non-negativity, and f's horizon, quantiles, metric, candidates, season
 * lengths, backtest windows, ensembles and split_by. Not names, approval, schedules, the
 * display time zone or the inbox. f must belong to cfg. */
void tsl_config_forecaster_hash(const tsl_config *cfg, const tsl_config_forecaster *f,
                                char hex[TSL_CONFIG_HASH_HEX + 1]);

/* ---- monitors (src/ops/config_monitors.c; docs/config.md#monitors) ---- */

#define TSL_CONFIG_MAX_MONITORS 1000

typedef enum tsl_monitor_kind {
    TSL_MONITOR_ACCURACY = 0, /* a forecast metric of an endpoint's captures against actuals */
    TSL_MONITOR_FRESHNESS,    /* ground truth of a data set stopped arriving */
    TSL_MONITOR_DRIFT,        /* new data against the deployed version's data baseline */
    TSL_MONITOR_QUALITY       /* data-quality checks of each ingest's new points */
} tsl_monitor_kind;

/* "accuracy", "freshness", "drift", "quality". */
const char *tsl_monitor_kind_name(tsl_monitor_kind k);

/* What a drift monitor's alarm watches (each is also stored for every window). */
typedef enum tsl_drift_statistic {
    TSL_DRIFT_STAT_SHARE = 0,   /* "share_drifted": share of items with a DRIFT verdict */
    TSL_DRIFT_STAT_PSI,         /* "psi" */
    TSL_DRIFT_STAT_KS,          /* "ks": the KS distance */
    TSL_DRIFT_STAT_WASSERSTEIN, /* "wasserstein": the central normalised distance */
    /* Residual detectors (docs/monitoring.md, "Residual detectors"): the share of items whose
     * detector on the deployed model's one-step-ahead residuals signalled in the window (per
     * item 0 or 1). */
    TSL_DRIFT_STAT_CUSUM,       /* "cusum": two-sided CUSUM */
    TSL_DRIFT_STAT_PAGE_HINKLEY /* "page_hinkley": Page-Hinkley test */
} tsl_drift_statistic;

/* Whether a drift statistic is a residual detector's (fed from captures, not the data). */
#define TSL_DRIFT_STAT_IS_RESIDUAL(st)                                                             \
    ((st) == TSL_DRIFT_STAT_CUSUM || (st) == TSL_DRIFT_STAT_PAGE_HINKLEY)

/* The residual detectors' parameters, in units of the residuals' sigma (drift.h's defaults). */
typedef struct tsl_detector_params {
    double k, h;          /* CUSUM: allowance and decision interval */
    double delta, lambda; /* Page-Hinkley: tolerance and alarm level */
    int min_n;            /* Page-Hinkley: no signal before this many residuals */
} tsl_detector_params;

/* "share_drifted", "psi", "ks", "wasserstein", "cusum", "page_hinkley": the datapoints'
 * metric names. */
const char *tsl_drift_statistic_name(tsl_drift_statistic s);

/* How captured forecasts are grouped into evaluation windows (docs/monitoring.md). */
typedef enum tsl_window_kind {
    TSL_WINDOW_DAY = 0, /* target times in one UTC day */
    TSL_WINDOW_HOUR,    /* target times in one UTC hour */
    TSL_WINDOW_RUN,     /* one forecast run: the captures of one inference id */
    TSL_WINDOW_LAST,    /* the last N target times that have actuals (window_n) */
    TSL_WINDOW_INGEST   /* quality monitors: the points one ingest wrote */
} tsl_window_kind;

/* What happens when a monitor's alarm goes to ALARM (bits). The retrain and notify parts read
 * them; the monitor itself only records the change. */
#define TSL_MONITOR_ACTION_RETRAIN 1u
#define TSL_MONITOR_ACTION_NOTIFY  2u

typedef struct tsl_config_monitor {
    char *name;
    int line;
    tsl_monitor_kind kind;
    char *endpoint; /* accuracy, drift: the endpoint watched */
    char *dataset;  /* freshness: the data set watched */
    /* accuracy */
    tsl_metric metric;      /* default MASE */
    tsl_window_kind window; /* default day */
    int window_n;           /* last:N: N */
    int step;               /* horizon step watched, 0 = all steps (default) */
    char *item;             /* item watched, NULL = the aggregate over items (default) */
    tsl_threshold_policy policy;
    char *threshold_param; /* fixed: the parameter holding the threshold, or NULL */
    /* freshness: an actual is expected every `every` seconds; the datapoint is the number of
     * expected arrivals missed, and the threshold defaults to `missing_after` */
    int64_t every;
    int missing_after;
    /* drift: the statistic alarmed on (window, item and the alarm as for accuracy) and the
     * verdicts' thresholds */
    tsl_drift_statistic statistic;
    tsl_drift_thresholds drift;
    tsl_detector_params detector; /* statistic cusum or page_hinkley */
    /* quality: the check alarmed on (default TSL_QA_FLAGGED) and the checks' settings
     * (range_factor, flat_points, max_listed as in tsl_quality_arrival_opts) */
    tsl_quality_arrival_check check;
    double range_factor;
    int flat_points;
    int max_listed;
    /* the alarm rule; its threshold comes from the policy at each evaluation */
    tsl_alarm_rule rule;
    unsigned actions; /* TSL_MONITOR_ACTION_* bits; default notify */
} tsl_config_monitor;

/* The monitor of that name, or NULL. */
const tsl_config_monitor *tsl_config_monitor_find(const tsl_config *cfg, const char *name);

/* "day", "hour", "run", "last:N" into buf (cap >= 24). */
const char *tsl_window_format(tsl_window_kind w, int n, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
