/*
 * quality.h - data-quality checks of a data set before training (the seeds' "data quality
 * check" pipeline step).
 *
 * tsl_quality_check looks at a data set as read (tsloop/dataset.h) against what the forecaster
 * declares (horizon, season length, frequency, non-negative target, split_by dimensions,
 * expected columns) and lists violations, each with a check type, a severity, the column and
 * the series it concerns, a description with numbers, and counts. Check types follow the cloud
 * model monitor's constraint_violations.json where one exists (data_type_check,
 * completeness_check, missing_column_check, extra_column_check) and are ours otherwise
 * (negative_values, duplicate_rows, irregular_timestamps, too_short, constant_series, gaps,
 * dimension_conflicts, stale_series, frequency_mismatch). docs/quality.md lists every check with
 * its default threshold and severity.
 *
 * The report is bounded whatever the data set's size: each check lists at most max_listed
 * series (the worst first) and sums up the rest in one more violation that counts them. Errors
 * fail the training pipeline (tsl_quality_verdict); warnings and notes are kept with the
 * execution. The checks are pure computation: no files, no store, no clock.
 */
#ifndef TSLOOP_QUALITY_H
#define TSLOOP_QUALITY_H

#include <stddef.h>

#include "tsloop/baseline.h"
#include "tsloop/buf.h"
#include "tsloop/dataset.h"
#include "tsloop/err.h"
#include "tsloop/time.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Severities, ascending. DEFAULT and OFF appear only in options (tsl_quality_opts.severity);
 * a violation is always INFO, WARNING or ERROR. */
typedef enum tsl_quality_severity {
    TSL_QUALITY_DEFAULT = 0, /* options: the check's documented severity */
    TSL_QUALITY_INFO,
    TSL_QUALITY_WARNING,
    TSL_QUALITY_ERROR,
    TSL_QUALITY_OFF /* options: do not run the check */
} tsl_quality_severity;

typedef enum tsl_quality_check_type {
    TSL_QC_MISSING_COLUMN = 0, /* "missing_column_check" */
    TSL_QC_EXTRA_COLUMN,       /* "extra_column_check" */
    TSL_QC_DATA_TYPE,          /* "data_type_check" */
    TSL_QC_FREQUENCY,          /* "frequency_mismatch" */
    TSL_QC_COMPLETENESS,       /* "completeness_check" */
    TSL_QC_NEGATIVE,           /* "negative_values" */
    TSL_QC_DUPLICATES,         /* "duplicate_rows" */
    TSL_QC_IRREGULAR,          /* "irregular_timestamps" */
    TSL_QC_TOO_SHORT,          /* "too_short" */
    TSL_QC_CONSTANT,           /* "constant_series" */
    TSL_QC_GAPS,               /* "gaps" */
    TSL_QC_DIM_CONFLICTS,      /* "dimension_conflicts" */
    TSL_QC_STALE,              /* "stale_series" */
    TSL_QC_COUNT
} tsl_quality_check_type;

typedef struct tsl_quality_opts {
    size_t horizon;    /* forecast horizon in steps; 0 = not declared */
    int season_length; /* 0 = the data set's period */
    tsl_freq freq;     /* declared frequency; unit TSL_FREQ_NONE = not declared */
    int non_negative;  /* 1: the forecaster declares the target non-negative */
    /* Observed values a series needs. 0 = max(min_seasons x season length (when > 1),
     * tsl_bt_min_train(season length) + horizon): enough for one full backtest window. */
    size_t min_history;
    double min_seasons;      /* default 2 */
    double missing_warn;     /* missing share above which a series is a warning; default 0.1 */
    double missing_error;    /* ... an error; default 0.5 */
    size_t max_gap;          /* longest run of missing values inside a series before a warning;
                                0 = max(season length, horizon, 1) */
    size_t stale_after;      /* steps a series may end before the newest series; 0 = the horizon,
                                else the season length, at least 1 */
    const char *target_name; /* column name in reports; NULL = "target_value" */
    const char *const *split_by; /* dimension columns the forecaster groups by */
    size_t nsplit_by;
    const char *const *expected_columns; /* dimension columns the schema declares (split_by
                                            ones need not be repeated); NULL = not declared */
    size_t nexpected;
    size_t max_listed; /* series listed per check, the rest summed up; default 20 */
    /* Per check: TSL_QUALITY_DEFAULT, TSL_QUALITY_OFF, or the severity every violation of that
     * check gets instead of its documented one. */
    tsl_quality_severity severity[TSL_QC_COUNT];
} tsl_quality_opts;

typedef struct tsl_quality_violation {
    tsl_quality_check_type check;
    tsl_quality_severity severity; /* INFO, WARNING or ERROR */
    char *feature;     /* the column concerned: the target's name, "timestamp", a dimension */
    char *item_id;     /* the series, or NULL: the whole data set, or the unlisted remainder */
    size_t count;      /* points, rows or series the violation counts (see docs/quality.md) */
    double value;      /* the measured figure (a share, a number of steps, ...), NaN if none */
    char *description; /* one sentence with the numbers */
    int remainder;     /* 1: sums up the series of this check not listed (count of them) */
} tsl_quality_violation;

/* Per check: what it found in all, listed or not. */
typedef struct tsl_quality_check_summary {
    size_t found;  /* violations found (series, or one per data-set-wide finding) */
    size_t listed; /* of which listed individually */
    size_t errors, warnings, infos; /* found, by severity */
    tsl_quality_severity worst;     /* 0 (DEFAULT) when nothing was found */
    int run;                        /* 0 when switched off (or not applicable: see docs) */
} tsl_quality_check_summary;

typedef struct tsl_quality_report {
    size_t nviolations;
    tsl_quality_violation *violations; /* by check, then the worst first */
    tsl_quality_check_summary checks[TSL_QC_COUNT];
    size_t errors, warnings, infos; /* findings per severity, listed or not */
    size_t nseries;                 /* series checked */
    size_t series_flagged;          /* series with at least one warning or error */
    tsl_quality_severity worst;     /* 0 (DEFAULT) when the data set is clean */
} tsl_quality_report;

/* Fills o with the defaults above (zeros elsewhere: nothing declared). */
void tsl_quality_opts_init(tsl_quality_opts *o);

/* Runs every check not switched off over ds (opts NULL = defaults). Data problems never make it
 * fail: they are the report's. Fails with TSL_EINVAL on invalid options (a share outside [0, 1],
 * missing_warn above missing_error, a severity out of range) or a data set without a valid
 * frequency. */
tsl_err tsl_quality_check(const tsl_dataset *ds, const tsl_quality_opts *opts,
                          tsl_quality_report **out, tsl_diag *d);

/* Releases r; NULL is a no-op. */
void tsl_quality_report_free(tsl_quality_report *r);

/* TSL_OK when r holds no error; else TSL_EINVAL with the one-line summary in d. */
tsl_err tsl_quality_verdict(const tsl_quality_report *r, tsl_diag *d);

/* One line naming the status and the worst problems, as snprintf ("data quality check failed:
 * 2 errors, 5 warnings; negative_values: 2 series (A, B); ..."). */
size_t tsl_quality_summary(const tsl_quality_report *r, char *buf, size_t cap);

/* Appends the report as JSON, modelled on the cloud monitor's constraint_violations.json:
 * {"violations": [{"feature_name", "constraint_check_type", "description", "severity",
 * "item_id", "count", "value"}], "summary": {...}} (docs/quality.md). indent 0 = compact. */
tsl_err tsl_quality_report_json(const tsl_quality_report *r, int indent, tsl_wbuf *out,
                                tsl_diag *d);

/* The check's name as in reports ("completeness_check"), or "unknown". */
const char *tsl_quality_check_name(tsl_quality_check_type c);
/* "info", "warning", "error" (and "default", "off" for the option values), or "unknown". */
const char *tsl_quality_severity_name(tsl_quality_severity s);
/* Parses a check name as written by tsl_quality_check_name. */
tsl_err tsl_quality_check_parse(const char *name, tsl_quality_check_type *out, tsl_diag *d);
/* Parses "info", "warning", "error", "off" or "default". */
tsl_err tsl_quality_severity_parse(const char *name, tsl_quality_severity *out, tsl_diag *d);

/* ---- the checks on newly arrived data (src/ops/quality_arrival.c) ----
 *
 * A quality monitor (monitor.h, docs/monitoring.md "Quality monitors") runs these on the points
 * one ingest wrote, per series, with the little stored context they need: the series' last
 * timestamp before the ingest, its first one (the grid's anchor), how many points rewrote a
 * stored value, and the deployed version's data baseline (baseline.h). Each check gives an
 * aggregate value (a share) and findings per item, listed worst first and bounded by
 * max_listed per check like the report above. Pure computation. */

typedef enum tsl_quality_arrival_check {
    TSL_QA_MISSING = 0,  /* "missing": missing targets among the new points */
    TSL_QA_NEGATIVE,     /* "negative": rows refused as negative in a non-negative data set */
    TSL_QA_OUT_OF_RANGE, /* "out_of_range": values outside the baseline's robust range */
    TSL_QA_GAPS,         /* "gaps": grid steps missing since the series' previous last point */
    TSL_QA_OFF_GRID,     /* "off_grid": timestamps off the series' frequency grid */
    TSL_QA_LATE,         /* "late": points at or before the previous last one (late, corrected) */
    TSL_QA_STALE,        /* "stale": the version's items that received nothing */
    TSL_QA_NEW_ITEMS,    /* "new_items": items the version (or the data set) did not know */
    TSL_QA_FLATLINE,     /* "flatline": series whose last flat_points new values are identical */
    TSL_QA_COUNT,
    /* Not a check: the share of the items concerned with a warning or an error, the metric a
     * quality monitor alarms on by default ("flagged"). */
    TSL_QA_FLAGGED = TSL_QA_COUNT
} tsl_quality_arrival_check;

/* One series' new points and its stored context. */
typedef struct tsl_quality_arrival_series {
    const char *item_id;
    const int64_t *t; /* the points the ingest wrote, in time order, distinct */
    const double *v;  /* NaN = missing */
    size_t n;
    int64_t prev_last; /* its last timestamp before the ingest; INT64_MIN: none (a new item) */
    int64_t first;     /* its first stored timestamp (the grid's anchor); INT64_MIN: t[0] */
    size_t corrected;  /* of the n points, those that replaced a stored value */
} tsl_quality_arrival_series;

typedef struct tsl_quality_arrival_opts {
    tsl_freq freq;             /* the data set's; unit NONE: no gaps and off_grid checks */
    int non_negative;          /* the data set declares the target non-negative */
    size_t negatives_rejected; /* rows the ingest refused as negative */
    /* The deployed version's data baseline; NULL: no out_of_range and stale checks, and new
     * items are those new to the data set (prev_last INT64_MIN). */
    const tsl_baseline *baseline;
    double range_factor; /* k of the robust range; default 1.5 */
    size_t flat_points;  /* 0: the frequency's default season length, at least 3 */
    size_t max_listed;   /* findings listed per check; default 20 */
} tsl_quality_arrival_opts;

typedef struct tsl_quality_arrival_finding {
    tsl_quality_arrival_check check;
    tsl_quality_severity severity;
    char *item_id;     /* NULL: the whole ingest */
    size_t count;      /* points, steps or items it counts */
    double value;      /* the share (or the flat run's value for flatline) */
    char *description; /* one sentence with the numbers */
} tsl_quality_arrival_finding;

typedef struct tsl_quality_arrival_report {
    size_t points; /* points written */
    size_t items;  /* items written to */
    /* Per check and TSL_QA_FLAGGED: the aggregate share; NaN when the check does not apply. */
    double value[TSL_QA_COUNT + 1];
    size_t count[TSL_QA_COUNT + 1];        /* what the share counts: points, steps or items */
    size_t found[TSL_QA_COUNT];            /* items with a finding (findings for negative) */
    tsl_quality_arrival_finding *findings; /* by check, then worst first */
    size_t nfindings;
    tsl_quality_severity worst; /* 0 (DEFAULT) when nothing was found */
} tsl_quality_arrival_report;

/* The defaults above; nothing declared. */
void tsl_quality_arrival_opts_init(tsl_quality_arrival_opts *o);

/* Runs every check over series[0..n) (each item once). *out is overwritten; release it with
 * tsl_quality_arrival_release. TSL_EINVAL on invalid options (range_factor not finite or
 * negative). */
tsl_err tsl_quality_arrival_run(const tsl_quality_arrival_series *series, size_t n,
                                const tsl_quality_arrival_opts *o, tsl_quality_arrival_report *out,
                                tsl_diag *d);

/* Releases r's findings and zeroes it; NULL is a no-op. */
void tsl_quality_arrival_release(tsl_quality_arrival_report *r);

/* "missing", ..., "flatline", "flagged" (TSL_QA_FLAGGED), or "unknown". */
const char *tsl_quality_arrival_name(tsl_quality_arrival_check c);

/* Parses a name as tsl_quality_arrival_name writes it ("flagged" included). */
tsl_err tsl_quality_arrival_parse(const char *name, tsl_quality_arrival_check *out, tsl_diag *d);

/* The severity a finding of check c has (docs/monitoring.md says why). */
tsl_quality_severity tsl_quality_arrival_severity(tsl_quality_arrival_check c);

#ifdef __cplusplus
}
#endif
#endif
