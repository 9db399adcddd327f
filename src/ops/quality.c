/*
 * quality.c - data-quality checks of a data set before training (see tsloop/quality.h and
 * docs/quality.md).
 *
 * The checks answer one question for the training pipeline: can this data set be trained on
 * as the forecaster declares it, and if so, what should a person know? So a check is an error
 * only when training would be wrong or meaningless (a column split_by needs is absent, the
 * frequency is not the declared one, values the forecaster calls impossible, a series that is
 * mostly missing, infinite values, most rows unreadable), a warning when the result is
 * weaker than it could be (short, constant, stale or offset series, long gaps, duplicates,
 * conflicting dimensions), and a note when the reader repaired something harmless (gaps filled
 * with missing values).
 *
 * The data set is walked once: each series' facts (observed and missing counts, negatives,
 * infinities, the longest run of missing values between observations, constancy, the first
 * and last observation, the phase of its grid) go into an array, and every per-series check
 * is then a pass over that array. Findings are ranked worst first (severity, then a
 * check-specific measure such as the missing share), and only the first max_listed of each
 * check become violations with a description; the rest are counted in one more violation,
 * so a data set of a million series still yields a report of a few kilobytes.
 *
 * Series on different grids (one hourly series at :30 among series at :00) read without an
 * error, since every series is regular from its own first timestamp, but their points never
 * line up with the others'. The phase of a series' grid is its start modulo the step (for
 * calendar units: the month within the step, the day when not anchored, and the time of day);
 * series off the most common phase are "irregular_timestamps".
 */
#include "tsloop/quality.h"

#include <assert.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/text.h"
#include "ops/quality_grid.h"
#include "tsloop/backtest.h"
#include "tsloop/mem.h"

/* Series named in the one-line summary, per check. */
#define SUMMARY_IDS 3

static const char *const check_names[TSL_QC_COUNT] = {
    [TSL_QC_MISSING_COLUMN] = "missing_column_check",
    [TSL_QC_EXTRA_COLUMN] = "extra_column_check",
    [TSL_QC_DATA_TYPE] = "data_type_check",
    [TSL_QC_FREQUENCY] = "frequency_mismatch",
    [TSL_QC_COMPLETENESS] = "completeness_check",
    [TSL_QC_NEGATIVE] = "negative_values",
    [TSL_QC_DUPLICATES] = "duplicate_rows",
    [TSL_QC_IRREGULAR] = "irregular_timestamps",
    [TSL_QC_TOO_SHORT] = "too_short",
    [TSL_QC_CONSTANT] = "constant_series",
    [TSL_QC_GAPS] = "gaps",
    [TSL_QC_DIM_CONFLICTS] = "dimension_conflicts",
    [TSL_QC_STALE] = "stale_series",
};

static const char *const severity_names[] = {
    [TSL_QUALITY_DEFAULT] = "default", [TSL_QUALITY_INFO] = "info",
    [TSL_QUALITY_WARNING] = "warning", [TSL_QUALITY_ERROR] = "error",
    [TSL_QUALITY_OFF] = "off",
};

/* The report name of a check, "unknown" out of range. */
const char *tsl_quality_check_name(tsl_quality_check_type c) {
    if ((unsigned)c >= TSL_QC_COUNT) return "unknown";
    return check_names[c];
}

/* The name of a severity, "unknown" out of range. */
const char *tsl_quality_severity_name(tsl_quality_severity s) {
    if ((unsigned)s > TSL_QUALITY_OFF) return "unknown";
    return severity_names[s];
}

/* Exact match on the report names. */
tsl_err tsl_quality_check_parse(const char *name, tsl_quality_check_type *out, tsl_diag *d) {
    for (int c = 0; c < TSL_QC_COUNT; c++) {
        if (!strcmp(name, check_names[c])) {
            *out = (tsl_quality_check_type)c;
            return TSL_OK;
        }
    }
    char q[TSL_TEXT_QUOTE_CAP];
    return tsl_diag_set(d, TSL_EINVAL,
                        "unknown data-quality check %s: expected one of missing_column_check, "
                        "extra_column_check, data_type_check, frequency_mismatch, "
                        "completeness_check, negative_values, duplicate_rows, "
                        "irregular_timestamps, too_short, constant_series, gaps, "
                        "dimension_conflicts, stale_series",
                        tsl_text_quote(q, sizeof q, name, strlen(name)));
}

/* Case-insensitive match on the severity names. */
tsl_err tsl_quality_severity_parse(const char *name, tsl_quality_severity *out, tsl_diag *d) {
    for (int s = 0; s <= TSL_QUALITY_OFF; s++) {
        if (tsl_text_ieq(name, severity_names[s])) {
            *out = (tsl_quality_severity)s;
            return TSL_OK;
        }
    }
    char q[TSL_TEXT_QUOTE_CAP];
    return tsl_diag_set(d, TSL_EINVAL,
                        "unknown severity %s: expected info, warning, error, off or default",
                        tsl_text_quote(q, sizeof q, name, strlen(name)));
}

/* The documented defaults; nothing declared. */
void tsl_quality_opts_init(tsl_quality_opts *o) {
    memset(o, 0, sizeof *o);
    o->min_seasons = 2;
    o->missing_warn = 0.1;
    o->missing_error = 0.5;
    o->max_listed = 20;
}

/* ---- the facts of each series ---- */

typedef struct facts {
    size_t observed;         /* finite values */
    size_t missing;          /* NaN values */
    size_t infinite;         /* +-inf values */
    size_t negatives;        /* finite values below zero */
    size_t first, last;      /* indices of the first and last finite value (observed > 0) */
    size_t gap_run, gap_at;  /* longest run of non-finite values between finite ones */
    double min, const_value; /* smallest finite value; the value when constant */
    int constant;            /* observed >= 2 and all finite values equal */
    int64_t phase;           /* the phase of the series' grid (see the header comment) */
    int64_t last_time;       /* timestamp of the last finite value */
} facts;

/* Seconds of one step of a fixed unit, or months of one step of a calendar unit. */
static int64_t freq_step(tsl_freq f) {
    static const int64_t unit[] = {
        [TSL_FREQ_SECOND] = 1,  [TSL_FREQ_MINUTE] = 60,   [TSL_FREQ_HOUR] = 3600,
        [TSL_FREQ_DAY] = 86400, [TSL_FREQ_WEEK] = 604800, [TSL_FREQ_MONTH] = 1,
        [TSL_FREQ_QUARTER] = 3, [TSL_FREQ_YEAR] = 12};
    return unit[f.unit] * (int64_t)f.mult;
}

/* a modulo b in [0, b) for b > 0. */
static int64_t floor_mod(int64_t a, int64_t b) {
    int64_t r = a % b;
    return r < 0 ? r + b : r;
}

/* The phase of a grid through t: which of the frequency's possible grids t lies on. Shared
 * with the checks on arriving data (quality_grid.h). */
int64_t tsl_quality_grid_phase(tsl_freq f, int64_t t) {
    if (f.unit < TSL_FREQ_MONTH) return floor_mod(t, freq_step(f));
    int y, m, dd, hh, mi, ss;
    tsl_time_civil(t, &y, &m, &dd, &hh, &mi, &ss);
    int64_t months = floor_mod((int64_t)y * 12 + (m - 1), freq_step(f));
    /* Anchored grids fix the day; otherwise the day is part of the grid, month ends alike. */
    int64_t day = f.anchor != 0 || dd == tsl_time_days_in_month(y, m) ? 0 : dd;
    return (months * 32 + day) * 86400 + (int64_t)hh * 3600 + mi * 60 + ss;
}

/* Whole steps of f from a to b (a <= b), or an estimate from the step's nominal length when b
 * is not on a's grid. Shared with the checks on arriving data (quality_grid.h). */
int64_t tsl_quality_steps_between(tsl_freq f, int64_t a, int64_t b) {
    int64_t k;
    if (tsl_freq_steps(f, a, b, &k) == TSL_OK) return k;
    int64_t nominal = f.unit < TSL_FREQ_MONTH ? freq_step(f) : freq_step(f) * 2629746;
    return (b - a) / nominal;
}

/* Walks series s once into its facts. */
static void series_facts(const tsl_dataset *ds, const tsl_series *s, facts *f) {
    memset(f, 0, sizeof *f);
    f->min = INFINITY;
    f->constant = 1;
    size_t run = 0, run_at = 0;
    for (size_t i = 0; i < s->n; i++) {
        double v = s->y[i];
        if (!isfinite(v)) {
            if (isnan(v))
                f->missing++;
            else
                f->infinite++;
            if (run++ == 0) run_at = i;
            continue;
        }
        if (f->observed == 0) {
            f->first = i;
            f->const_value = v;
        } else if (run > f->gap_run) {
            f->gap_run = run;
            f->gap_at = run_at;
        }
        run = 0;
        if (v != f->const_value) f->constant = 0;
        if (v < 0) f->negatives++;
        if (v < f->min) f->min = v;
        f->observed++;
        f->last = i;
    }
    if (f->observed < 2) f->constant = 0;
    f->phase = tsl_quality_grid_phase(ds->freq, s->start);
    if (f->observed) f->last_time = tsl_dataset_time(ds, s, f->last);
}

/* ---- building the report ---- */

/* A finding before it is ranked and, maybe, described. */
typedef struct hit {
    size_t series;
    tsl_quality_severity sev;
    size_t count;
    double value;
    double rank; /* larger = worse, within one severity */
} hit;

typedef struct ctx {
    const tsl_dataset *ds;
    tsl_quality_opts o;
    const char *target;
    int season;
    size_t min_history, max_gap, stale_after;
    int64_t newest; /* latest last observation over all series */
    int64_t main_phase;
    size_t main_phase_series;
    facts *fx;
    hit *hits;
    size_t nhits;
    unsigned char *flagged; /* per series: has a warning or error */
    tsl_quality_report *r;
    size_t cap;
} ctx;

/* The severity a finding of check c gets: the override if any, else def. */
static tsl_quality_severity severity_of(const ctx *c, tsl_quality_check_type check,
                                        tsl_quality_severity def) {
    tsl_quality_severity s = c->o.severity[check];
    return s == TSL_QUALITY_DEFAULT ? def : s;
}

/* 0 when the options switch the check off. */
static int check_on(const ctx *c, tsl_quality_check_type check) {
    return c->o.severity[check] != TSL_QUALITY_OFF;
}

/* Counts one finding of check at severity sev (listed or not). */
static void count_finding(ctx *c, tsl_quality_check_type check, tsl_quality_severity sev) {
    tsl_quality_report *r = c->r;
    tsl_quality_check_summary *cs = &r->checks[check];
    cs->found++;
    if (sev > cs->worst) cs->worst = sev;
    if (sev > r->worst) r->worst = sev;
    if (sev == TSL_QUALITY_ERROR) {
        cs->errors++;
        r->errors++;
    } else if (sev == TSL_QUALITY_WARNING) {
        cs->warnings++;
        r->warnings++;
    } else {
        cs->infos++;
        r->infos++;
    }
}

/* Appends a violation; the strings are copied, item_id may be NULL. */
static tsl_quality_violation *add_violation(ctx *c, tsl_quality_check_type check,
                                            tsl_quality_severity sev, const char *feature,
                                            const char *item_id, size_t count, double value,
                                            const char *desc) {
    tsl_quality_report *r = c->r;
    if (r->nviolations == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 16;
        r->violations = tsl_reallocarray(r->violations, c->cap, sizeof *r->violations);
    }
    tsl_quality_violation *v = &r->violations[r->nviolations++];
    memset(v, 0, sizeof *v);
    v->check = check;
    v->severity = sev;
    v->feature = tsl_strdup(feature);
    v->item_id = item_id ? tsl_strdup(item_id) : NULL;
    v->count = count;
    v->value = value;
    v->description = tsl_strdup(desc);
    return v;
}

/* A finding about the whole data set: counted and listed. */
static void dataset_finding(ctx *c, tsl_quality_check_type check, tsl_quality_severity def,
                            const char *feature, size_t count, double value, const char *desc) {
    tsl_quality_severity sev = severity_of(c, check, def);
    count_finding(c, check, sev);
    add_violation(c, check, sev, feature, NULL, count, value, desc);
    c->r->checks[check].listed++;
}

/* Records a finding about series i for the check being collected. */
static void series_hit(ctx *c, tsl_quality_check_type check, size_t i, tsl_quality_severity def,
                       size_t count, double value, double rank) {
    hit *h = &c->hits[c->nhits++];
    h->series = i;
    h->sev = severity_of(c, check, def);
    h->count = count;
    h->value = value;
    h->rank = rank;
}

/* Worst first: severity, then rank, then the series' order. */
static int cmp_hit(const void *pa, const void *pb) {
    const hit *a = pa, *b = pb;
    if (a->sev != b->sev) return a->sev > b->sev ? -1 : 1;
    if (a->rank != b->rank) return a->rank > b->rank ? -1 : 1;
    return (a->series > b->series) - (a->series < b->series);
}

/* Writes the description of hit h of check into buf. */
typedef void (*describe_fn)(const ctx *c, const hit *h, char *buf, size_t cap);

/* Ranks the collected hits of check, lists the worst max_listed with descriptions and sums up
 * the rest in one violation. */
static void flush_hits(ctx *c, tsl_quality_check_type check, const char *feature,
                       describe_fn describe) {
    qsort(c->hits, c->nhits, sizeof *c->hits, cmp_hit);
    size_t listed = c->nhits < c->o.max_listed ? c->nhits : c->o.max_listed;
    size_t rest[TSL_QUALITY_OFF] = {0};
    tsl_quality_severity rest_worst = TSL_QUALITY_DEFAULT;
    char desc[512];
    for (size_t k = 0; k < c->nhits; k++) {
        const hit *h = &c->hits[k];
        count_finding(c, check, h->sev);
        if (h->sev >= TSL_QUALITY_WARNING) c->flagged[h->series] = 1;
        if (k >= listed) {
            rest[h->sev]++;
            if (h->sev > rest_worst) rest_worst = h->sev;
            continue;
        }
        describe(c, h, desc, sizeof desc);
        add_violation(c, check, h->sev, feature, c->ds->series[h->series].item_id, h->count,
                      h->value, desc);
    }
    c->r->checks[check].listed += listed;
    if (listed < c->nhits) {
        size_t more = c->nhits - listed;
        snprintf(desc, sizeof desc,
                 "%zu more series not listed (%zu errors, %zu warnings, %zu notes); %zu series "
                 "in all",
                 more, rest[TSL_QUALITY_ERROR], rest[TSL_QUALITY_WARNING], rest[TSL_QUALITY_INFO],
                 c->nhits);
        tsl_quality_violation *v =
            add_violation(c, check, rest_worst, feature, NULL, more, NAN, desc);
        v->remainder = 1;
    }
    c->nhits = 0;
}

/* A timestamp as text at the data set's resolution. */
static void format_time(const ctx *c, int64_t t, char *buf, size_t cap) {
    tsl_time_format(t, !tsl_freq_is_subdaily(c->ds->freq), buf, cap);
}

/* A column name, quoted for a message. */
static const char *quote(char *buf, size_t cap, const char *s) {
    return tsl_text_quote(buf, cap, s, strlen(s));
}

/* ---- schema checks ---- */

/* Index of the dimension column called name, or -1. */
static long find_dim(const tsl_dataset *ds, const char *name) {
    for (size_t j = 0; j < ds->ndims; j++)
        if (!strcmp(ds->dim_names[j], name)) return (long)j;
    return -1;
}

/* Reports one absent column: required by split_by (role "split_by") or declared. */
static void missing_column(ctx *c, const char *name, const char *role) {
    char q[TSL_TEXT_QUOTE_CAP], hint[TSL_TEXT_QUOTE_CAP + 32] = "", desc[512];
    for (size_t j = 0; j < c->ds->ndims; j++) {
        if (tsl_text_ieq(c->ds->dim_names[j], name)) {
            char h[TSL_TEXT_QUOTE_CAP];
            snprintf(hint, sizeof hint, " (the data has %s; names are case-sensitive)",
                     quote(h, sizeof h, c->ds->dim_names[j]));
            break;
        }
    }
    snprintf(desc, sizeof desc, "%s column %s is not in the data%s", role, quote(q, sizeof q, name),
             hint);
    dataset_finding(c, TSL_QC_MISSING_COLUMN, TSL_QUALITY_ERROR, name, c->ds->nseries, NAN, desc);
}

/* missing_column_check, extra_column_check, and split_by columns without a value. */
static void check_columns(ctx *c) {
    const tsl_dataset *ds = c->ds;
    if (check_on(c, TSL_QC_MISSING_COLUMN)) {
        for (size_t k = 0; k < c->o.nsplit_by; k++)
            if (find_dim(ds, c->o.split_by[k]) < 0) missing_column(c, c->o.split_by[k], "split_by");
        for (size_t k = 0; k < c->o.nexpected; k++)
            if (find_dim(ds, c->o.expected_columns[k]) < 0)
                missing_column(c, c->o.expected_columns[k], "expected");
    }
    if (check_on(c, TSL_QC_EXTRA_COLUMN) && c->o.expected_columns) {
        for (size_t j = 0; j < ds->ndims; j++) {
            const char *name = ds->dim_names[j];
            int known = 0;
            for (size_t k = 0; k < c->o.nexpected && !known; k++)
                known = !strcmp(c->o.expected_columns[k], name);
            for (size_t k = 0; k < c->o.nsplit_by && !known; k++)
                known = !strcmp(c->o.split_by[k], name);
            if (known) continue;
            char q[TSL_TEXT_QUOTE_CAP], desc[512];
            snprintf(desc, sizeof desc,
                     "column %s is not among the expected columns; it is kept as a dimension",
                     quote(q, sizeof q, name));
            dataset_finding(c, TSL_QC_EXTRA_COLUMN, TSL_QUALITY_WARNING, name, ds->nseries, NAN,
                            desc);
        }
    }
    /* Items without a value in a split_by column all fall into one group named "". */
    if (check_on(c, TSL_QC_COMPLETENESS)) {
        for (size_t k = 0; k < c->o.nsplit_by; k++) {
            long j = find_dim(ds, c->o.split_by[k]);
            if (j < 0) continue;
            size_t empty = 0;
            for (size_t i = 0; i < ds->nseries; i++) empty += ds->series[i].dims[j][0] == '\0';
            if (!empty) continue;
            char q[TSL_TEXT_QUOTE_CAP], desc[512];
            double share = (double)empty / (double)ds->nseries;
            snprintf(desc, sizeof desc,
                     "%zu of %zu series (%.1f%%) have no value in split_by column %s; they are "
                     "grouped together under the empty value",
                     empty, ds->nseries, 100 * share, quote(q, sizeof q, c->o.split_by[k]));
            dataset_finding(c, TSL_QC_COMPLETENESS, TSL_QUALITY_WARNING, c->o.split_by[k], empty,
                            share, desc);
        }
    }
}

/* ---- data-set-wide checks from the reader's counters ---- */

/* Rejected rows, duplicates, dimension conflicts and filled gaps, as the reader counted them. */
static void check_reader_counts(ctx *c) {
    const tsl_dataset *ds = c->ds;
    char desc[512];
    if (check_on(c, TSL_QC_DATA_TYPE) && ds->rejected) {
        double share = (double)ds->rejected / (double)(ds->rows + ds->rejected);
        snprintf(desc, sizeof desc,
                 "%zu of %zu rows (%.1f%%) could not be read (a target that is not a number, a "
                 "bad timestamp or a wrong number of fields) and were skipped",
                 ds->rejected, ds->rows + ds->rejected, 100 * share);
        dataset_finding(c, TSL_QC_DATA_TYPE,
                        share > c->o.missing_error ? TSL_QUALITY_ERROR : TSL_QUALITY_WARNING,
                        c->target, ds->rejected, share, desc);
    }
    if (check_on(c, TSL_QC_DUPLICATES) && ds->duplicates) {
        double share = ds->rows ? (double)ds->duplicates / (double)ds->rows : NAN;
        snprintf(desc, sizeof desc,
                 "%zu rows repeat an (item, timestamp) pair seen before (%.1f%% of %zu rows); the "
                 "last value of each was kept",
                 ds->duplicates, 100 * share, ds->rows);
        dataset_finding(c, TSL_QC_DUPLICATES, TSL_QUALITY_WARNING, "timestamp", ds->duplicates,
                        share, desc);
    }
    if (check_on(c, TSL_QC_DIM_CONFLICTS) && ds->dim_conflicts) {
        const char *feature = ds->ndims == 1 ? ds->dim_names[0] : "dimensions";
        snprintf(desc, sizeof desc,
                 "%zu rows give their item other dimension values than the item's first row; "
                 "the first row's values were kept",
                 ds->dim_conflicts);
        dataset_finding(c, TSL_QC_DIM_CONFLICTS, TSL_QUALITY_WARNING, feature, ds->dim_conflicts,
                        ds->rows ? (double)ds->dim_conflicts / (double)ds->rows : NAN, desc);
    }
    if (check_on(c, TSL_QC_GAPS) && ds->gap_points) {
        size_t points = 0;
        for (size_t i = 0; i < ds->nseries; i++) points += ds->series[i].n;
        double share = points ? (double)ds->gap_points / (double)points : NAN;
        snprintf(desc, sizeof desc,
                 "%zu timestamps absent from the input inside series were added as missing "
                 "values (%.1f%% of %zu points)",
                 ds->gap_points, 100 * share, points);
        dataset_finding(c, TSL_QC_GAPS, TSL_QUALITY_INFO, "timestamp", ds->gap_points, share, desc);
    }
}

/* frequency_mismatch: the data's frequency against the declared one. */
static void check_frequency(ctx *c) {
    tsl_freq want = c->o.freq, have = c->ds->freq;
    if (!check_on(c, TSL_QC_FREQUENCY) || want.unit == TSL_FREQ_NONE) return;
    int same = want.unit == have.unit && want.mult == have.mult &&
               (want.unit < TSL_FREQ_MONTH || want.anchor == 0 || want.anchor == have.anchor);
    if (same) return;
    char a[32], b[32], da[48], db[48], desc[512];
    tsl_freq_format(have, a, sizeof a);
    tsl_freq_format(want, b, sizeof b);
    tsl_freq_describe(have, da, sizeof da);
    tsl_freq_describe(want, db, sizeof db);
    snprintf(
        desc, sizeof desc, "the data is %s (%s%s) but the forecaster declares %s (%s%s)", da, a,
        have.anchor == TSL_FREQ_MONTH_END && have.unit >= TSL_FREQ_MONTH ? ", month end" : "", db,
        b, want.anchor == TSL_FREQ_MONTH_END && want.unit >= TSL_FREQ_MONTH ? ", month end" : "");
    dataset_finding(c, TSL_QC_FREQUENCY, TSL_QUALITY_ERROR, "timestamp", c->ds->nseries, NAN, desc);
}

/* ---- per-series checks ---- */

/* describe_fn: how many values are infinite. */
static void describe_infinite(const ctx *c, const hit *h, char *buf, size_t cap) {
    (void)c;
    snprintf(buf, cap, "%zu values are infinite; the target must be a finite number", h->count);
}

/* describe_fn: missing count and share against the threshold passed. */
static void describe_completeness(const ctx *c, const hit *h, char *buf, size_t cap) {
    const tsl_series *s = &c->ds->series[h->series];
    if (s->n == 0) {
        snprintf(buf, cap, "the series has no points");
        return;
    }
    int err = h->value > c->o.missing_error;
    snprintf(buf, cap, "%zu of %zu values are missing (%.1f%%), above the %s threshold of %.1f%%",
             h->count, s->n, 100 * h->value, err ? "error" : "warning",
             100 * (err ? c->o.missing_error : c->o.missing_warn));
}

/* describe_fn: how many values are negative and the lowest. */
static void describe_negative(const ctx *c, const hit *h, char *buf, size_t cap) {
    snprintf(buf, cap,
             "%zu of %zu observed values are negative (the lowest is %.6g) although the forecaster "
             "declares the target non-negative",
             h->count, c->fx[h->series].observed, h->value);
}

/* describe_fn: the series' start and how many series share the main grid. */
static void describe_irregular(const ctx *c, const hit *h, char *buf, size_t cap) {
    char t[40], f[32];
    format_time(c, c->ds->series[h->series].start, t, sizeof t);
    tsl_freq_format(c->ds->freq, f, sizeof f);
    snprintf(buf, cap,
             "the series starts at %s, off the %s grid that %zu of %zu series share; its points "
             "fall between theirs",
             t, f, c->main_phase_series, c->ds->nseries);
}

/* describe_fn: observed values against the minimum history. */
static void describe_short(const ctx *c, const hit *h, char *buf, size_t cap) {
    snprintf(buf, cap,
             "%zu observed values, fewer than the %zu needed (min_history); simpler models will "
             "be used",
             h->count, c->min_history);
}

/* describe_fn: the constant value. */
static void describe_constant(const ctx *c, const hit *h, char *buf, size_t cap) {
    if (h->value == 0)
        snprintf(buf, cap, "all %zu observed values are zero", h->count);
    else
        snprintf(buf, cap, "all %zu observed values equal %.6g", h->count, h->value);
    (void)c;
}

/* describe_fn: the longest run of missing values and where it starts. */
static void describe_gap(const ctx *c, const hit *h, char *buf, size_t cap) {
    const tsl_series *s = &c->ds->series[h->series];
    char t[40];
    format_time(c, tsl_dataset_time(c->ds, s, c->fx[h->series].gap_at), t, sizeof t);
    snprintf(buf, cap,
             "%zu consecutive values are missing from %s, longer than %zu steps; the model sees "
             "nothing of that stretch",
             h->count, t, c->max_gap);
}

/* describe_fn: the series' last observation against the newest one. */
static void describe_stale(const ctx *c, const hit *h, char *buf, size_t cap) {
    char a[40], b[40];
    format_time(c, c->fx[h->series].last_time, a, sizeof a);
    format_time(c, c->newest, b, sizeof b);
    snprintf(buf, cap,
             "the last observed value is at %s, %.0f steps before the newest series' end (%s), "
             "more than %zu",
             a, h->value, b, c->stale_after);
}

/* qsort order of int64 values, ascending. */
static int cmp_i64(const void *pa, const void *pb) {
    int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
    return (a > b) - (a < b);
}

/* The most common grid phase, and how many series share it. */
static void main_phase(ctx *c) {
    size_t n = c->ds->nseries;
    int64_t *ph = tsl_malloc((n ? n : 1) * sizeof *ph);
    for (size_t i = 0; i < n; i++) ph[i] = c->fx[i].phase;
    qsort(ph, n, sizeof *ph, cmp_i64);
    c->main_phase = n ? ph[0] : 0;
    c->main_phase_series = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && ph[j] == ph[i]) j++;
        if (j - i > c->main_phase_series) {
            c->main_phase_series = j - i;
            c->main_phase = ph[i];
        }
        i = j;
    }
    tsl_free(ph);
}

/* Every per-series check over the facts, each ranked and flushed in turn. */
static void check_series(ctx *c) {
    const tsl_dataset *ds = c->ds;
    const char *tg = c->target;
    size_t n = ds->nseries;
    if (check_on(c, TSL_QC_DATA_TYPE)) {
        for (size_t i = 0; i < n; i++)
            if (c->fx[i].infinite)
                series_hit(c, TSL_QC_DATA_TYPE, i, TSL_QUALITY_ERROR, c->fx[i].infinite, NAN,
                           (double)c->fx[i].infinite);
        flush_hits(c, TSL_QC_DATA_TYPE, tg, describe_infinite);
    }
    if (check_on(c, TSL_QC_COMPLETENESS)) {
        for (size_t i = 0; i < n; i++) {
            const tsl_series *s = &ds->series[i];
            double share = s->n ? (double)c->fx[i].missing / (double)s->n : 1.0;
            if (share > c->o.missing_error)
                series_hit(c, TSL_QC_COMPLETENESS, i, TSL_QUALITY_ERROR, c->fx[i].missing, share,
                           share);
            else if (share > c->o.missing_warn)
                series_hit(c, TSL_QC_COMPLETENESS, i, TSL_QUALITY_WARNING, c->fx[i].missing, share,
                           share);
        }
        flush_hits(c, TSL_QC_COMPLETENESS, tg, describe_completeness);
    }
    if (check_on(c, TSL_QC_NEGATIVE) && c->o.non_negative) {
        for (size_t i = 0; i < n; i++)
            if (c->fx[i].negatives)
                series_hit(c, TSL_QC_NEGATIVE, i, TSL_QUALITY_ERROR, c->fx[i].negatives,
                           c->fx[i].min, (double)c->fx[i].negatives);
        flush_hits(c, TSL_QC_NEGATIVE, tg, describe_negative);
    }
    if (check_on(c, TSL_QC_IRREGULAR) && n >= 2) {
        main_phase(c);
        for (size_t i = 0; i < n; i++)
            if (c->fx[i].phase != c->main_phase)
                series_hit(c, TSL_QC_IRREGULAR, i, TSL_QUALITY_WARNING, ds->series[i].n, NAN, 0);
        flush_hits(c, TSL_QC_IRREGULAR, "timestamp", describe_irregular);
    }
    if (check_on(c, TSL_QC_TOO_SHORT)) {
        for (size_t i = 0; i < n; i++) {
            size_t obs = c->fx[i].observed;
            if (obs > 0 && obs < c->min_history)
                series_hit(c, TSL_QC_TOO_SHORT, i, TSL_QUALITY_WARNING, obs, (double)obs,
                           -(double)obs);
        }
        flush_hits(c, TSL_QC_TOO_SHORT, tg, describe_short);
    }
    if (check_on(c, TSL_QC_CONSTANT)) {
        for (size_t i = 0; i < n; i++)
            if (c->fx[i].constant)
                series_hit(c, TSL_QC_CONSTANT, i, TSL_QUALITY_WARNING, c->fx[i].observed,
                           c->fx[i].const_value, (double)c->fx[i].observed);
        flush_hits(c, TSL_QC_CONSTANT, tg, describe_constant);
    }
    if (check_on(c, TSL_QC_GAPS)) {
        for (size_t i = 0; i < n; i++)
            if (c->fx[i].gap_run > c->max_gap)
                series_hit(c, TSL_QC_GAPS, i, TSL_QUALITY_WARNING, c->fx[i].gap_run,
                           (double)c->fx[i].gap_run, (double)c->fx[i].gap_run);
        flush_hits(c, TSL_QC_GAPS, tg, describe_gap);
    }
    if (check_on(c, TSL_QC_STALE)) {
        for (size_t i = 0; i < n; i++) {
            if (!c->fx[i].observed) continue;
            int64_t lag = tsl_quality_steps_between(ds->freq, c->fx[i].last_time, c->newest);
            if (lag > (int64_t)c->stale_after)
                series_hit(c, TSL_QC_STALE, i, TSL_QUALITY_WARNING, (size_t)lag, (double)lag,
                           (double)lag);
        }
        flush_hits(c, TSL_QC_STALE, "timestamp", describe_stale);
    }
}

/* ---- the entry point ---- */

/* Checks the options; fills the derived thresholds of c. */
static tsl_err resolve_opts(ctx *c, tsl_diag *d) {
    const tsl_quality_opts *o = &c->o;
    if (!(o->missing_warn >= 0 && o->missing_warn <= 1) ||
        !(o->missing_error >= 0 && o->missing_error <= 1))
        return tsl_diag_set(d, TSL_EINVAL,
                            "data-quality options: missing_warn %g and missing_error %g must be "
                            "shares between 0 and 1",
                            o->missing_warn, o->missing_error);
    if (o->missing_warn > o->missing_error)
        return tsl_diag_set(d, TSL_EINVAL,
                            "data-quality options: missing_warn %g is above missing_error %g",
                            o->missing_warn, o->missing_error);
    if (!(o->min_seasons >= 0 && o->min_seasons <= 1e6))
        return tsl_diag_set(d, TSL_EINVAL,
                            "data-quality options: min_seasons %g: expected 0 to 1000000",
                            o->min_seasons);
    if (o->season_length < 0)
        return tsl_diag_set(d, TSL_EINVAL,
                            "data-quality options: season length %d: expected 0 (the data "
                            "set's) or more",
                            o->season_length);
    if (o->freq.unit != TSL_FREQ_NONE &&
        (o->freq.unit > TSL_FREQ_YEAR || o->freq.mult < 1 || o->freq.anchor < TSL_FREQ_MONTH_END ||
         o->freq.anchor > 31))
        return tsl_diag_set(d, TSL_EINVAL, "data-quality options: invalid declared frequency");
    for (int k = 0; k < TSL_QC_COUNT; k++)
        if ((unsigned)o->severity[k] > TSL_QUALITY_OFF)
            return tsl_diag_set(d, TSL_EINVAL,
                                "data-quality options: severity %d of %s: expected default, "
                                "info, warning, error or off",
                                (int)o->severity[k], check_names[k]);
    if ((o->nsplit_by && !o->split_by) || (o->nexpected && !o->expected_columns))
        return tsl_diag_set(d, TSL_EINVAL, "data-quality options: a column list is NULL");
    for (size_t k = 0; k < o->nsplit_by; k++)
        if (!o->split_by[k])
            return tsl_diag_set(d, TSL_EINVAL, "data-quality options: split_by[%zu] is NULL", k);
    for (size_t k = 0; k < o->nexpected; k++)
        if (!o->expected_columns[k])
            return tsl_diag_set(d, TSL_EINVAL,
                                "data-quality options: expected_columns[%zu] is NULL", k);
    tsl_freq f = c->ds->freq;
    if (f.unit < TSL_FREQ_SECOND || f.unit > TSL_FREQ_YEAR || f.mult < 1)
        return tsl_diag_set(d, TSL_EINVAL,
                            "data-quality check: the data set has no valid "
                            "frequency");

    c->target = o->target_name ? o->target_name : "target_value";
    int m = o->season_length > 0 ? o->season_length : c->ds->period;
    c->season = m < 1 ? 1 : m;
    size_t h = o->horizon;
    if (o->min_history) {
        c->min_history = o->min_history;
    } else {
        size_t by_seasons = c->season > 1 ? (size_t)ceil(o->min_seasons * c->season) : 0;
        size_t by_window = tsl_bt_min_train(c->season) + h;
        c->min_history = by_seasons > by_window ? by_seasons : by_window;
    }
    if (o->max_gap) {
        c->max_gap = o->max_gap;
    } else {
        size_t g = (size_t)c->season > h ? (size_t)c->season : h;
        c->max_gap = g > 2 ? g : 2;
    }
    if (o->stale_after)
        c->stale_after = o->stale_after;
    else
        c->stale_after = h ? h : (size_t)c->season;
    return TSL_OK;
}

/* Puts the violations in check order, keeping the order within each check (a counting sort:
 * the checks ran in an order convenient for computing, not for reading). */
static void order_by_check(tsl_quality_report *r) {
    size_t start[TSL_QC_COUNT + 1] = {0};
    for (size_t k = 0; k < r->nviolations; k++) start[r->violations[k].check + 1]++;
    for (int c = 0; c < TSL_QC_COUNT; c++) start[c + 1] += start[c];
    tsl_quality_violation *sorted =
        tsl_reallocarray(NULL, r->nviolations ? r->nviolations : 1, sizeof *sorted);
    for (size_t k = 0; k < r->nviolations; k++)
        sorted[start[r->violations[k].check]++] = r->violations[k];
    tsl_free(r->violations);
    r->violations = sorted;
}

/* Resolves the options, walks the series once, runs the checks, orders the findings. */
tsl_err tsl_quality_check(const tsl_dataset *ds, const tsl_quality_opts *opts,
                          tsl_quality_report **out, tsl_diag *d) {
    assert(ds && out);
    ctx c;
    memset(&c, 0, sizeof c);
    c.ds = ds;
    if (opts)
        c.o = *opts;
    else
        tsl_quality_opts_init(&c.o);
    tsl_err rc = resolve_opts(&c, d);
    if (rc) return rc;

    size_t n = ds->nseries;
    c.r = tsl_calloc(1, sizeof *c.r);
    c.r->nseries = n;
    c.fx = tsl_malloc((n ? n : 1) * sizeof *c.fx);
    c.hits = tsl_malloc((n ? n : 1) * sizeof *c.hits);
    c.flagged = tsl_calloc(n ? n : 1, 1);
    int any = 0;
    for (size_t i = 0; i < n; i++) {
        series_facts(ds, &ds->series[i], &c.fx[i]);
        if (!c.fx[i].observed) continue;
        if (!any || c.fx[i].last_time > c.newest) c.newest = c.fx[i].last_time;
        any = 1;
    }
    for (int k = 0; k < TSL_QC_COUNT; k++) c.r->checks[k].run = check_on(&c, k);
    if (!c.o.non_negative) c.r->checks[TSL_QC_NEGATIVE].run = 0;
    if (!c.o.expected_columns) c.r->checks[TSL_QC_EXTRA_COLUMN].run = 0;
    if (c.o.freq.unit == TSL_FREQ_NONE) c.r->checks[TSL_QC_FREQUENCY].run = 0;

    check_columns(&c);
    check_frequency(&c);
    check_reader_counts(&c);
    if (n == 0 && check_on(&c, TSL_QC_COMPLETENESS))
        dataset_finding(&c, TSL_QC_COMPLETENESS, TSL_QUALITY_ERROR, c.target, 0, NAN,
                        "the data set holds no series");
    check_series(&c);
    for (size_t i = 0; i < n; i++) c.r->series_flagged += c.flagged[i];
    order_by_check(c.r);

    tsl_free(c.fx);
    tsl_free(c.hits);
    tsl_free(c.flagged);
    *out = c.r;
    return TSL_OK;
}

/* Releases r and its strings; NULL is a no-op. */
void tsl_quality_report_free(tsl_quality_report *r) {
    if (!r) return;
    for (size_t k = 0; k < r->nviolations; k++) {
        tsl_free(r->violations[k].feature);
        tsl_free(r->violations[k].item_id);
        tsl_free(r->violations[k].description);
    }
    tsl_free(r->violations);
    tsl_free(r);
}

/* ---- summary and verdict ---- */

/* Appends printf-style text at *used in buf (capacity cap), keeping track as snprintf does:
 * *used may pass cap, in which case nothing more is written. */
static void append(char *buf, size_t cap, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void append(char *buf, size_t cap, size_t *used, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *at = *used < cap ? buf + *used : NULL;
    int k = vsnprintf(at, at ? cap - *used : 0, fmt, ap);
    va_end(ap);
    if (k > 0) *used += (size_t)k;
}

/* What the series a check flags have in common, after "N series". */
static const char *const series_phrase[TSL_QC_COUNT] = {
    [TSL_QC_DATA_TYPE] = "with infinite values",
    [TSL_QC_COMPLETENESS] = "with too many missing values",
    [TSL_QC_NEGATIVE] = "with negative values although the target is declared non-negative",
    [TSL_QC_IRREGULAR] = "off the common time grid",
    [TSL_QC_TOO_SHORT] = "shorter than the minimum history",
    [TSL_QC_CONSTANT] = "that are constant",
    [TSL_QC_GAPS] = "with long gaps",
    [TSL_QC_STALE] = "that end early",
};

/* The findings of check c at severity sev, for the summary: "3 series (\"A\", \"B\", ...)" or
 * the description of a data-set-wide finding. */
static void summarise_check(const tsl_quality_report *r, tsl_quality_check_type check,
                            tsl_quality_severity sev, char *buf, size_t cap, size_t *used) {
    const tsl_quality_check_summary *cs = &r->checks[check];
    size_t found = sev == TSL_QUALITY_ERROR     ? cs->errors
                   : sev == TSL_QUALITY_WARNING ? cs->warnings
                                                : cs->infos;
    size_t wide = 0, named = 0;
    const char *first_desc = NULL;
    for (size_t k = 0; k < r->nviolations; k++) {
        const tsl_quality_violation *v = &r->violations[k];
        if (v->check != check || v->severity != sev || v->item_id || v->remainder) continue;
        if (!wide++) first_desc = v->description;
    }
    /* Everything else at this severity is about series, listed or not. */
    assert(found >= wide);
    size_t series = found - wide;
    append(buf, cap, used, "; %s: ", check_names[check]);
    if (first_desc) {
        append(buf, cap, used, "%s", first_desc);
        if (wide > 1) append(buf, cap, used, " (+%zu more)", wide - 1);
        if (series) append(buf, cap, used, "; also ");
    }
    if (!series) return;
    append(buf, cap, used, "%zu series %s", series, series_phrase[check]);
    for (size_t k = 0; k < r->nviolations && named < SUMMARY_IDS; k++) {
        const tsl_quality_violation *v = &r->violations[k];
        if (v->check != check || v->severity != sev || !v->item_id) continue;
        char q[TSL_TEXT_QUOTE_CAP];
        append(buf, cap, used, "%s%s", named ? ", " : " (",
               tsl_text_quote(q, sizeof q, v->item_id, strlen(v->item_id)));
        named++;
    }
    if (named) append(buf, cap, used, "%s)", series > named ? ", ..." : "");
}

/* Status and counts, then the checks at the worst severity present, in check order. */
size_t tsl_quality_summary(const tsl_quality_report *r, char *buf, size_t cap) {
    size_t used = 0;
    if (cap) buf[0] = '\0';
    tsl_quality_severity focus;
    if (r->errors) {
        append(buf, cap, &used, "data quality check failed: %zu error%s, %zu warning%s", r->errors,
               r->errors == 1 ? "" : "s", r->warnings, r->warnings == 1 ? "" : "s");
        focus = TSL_QUALITY_ERROR;
    } else if (r->warnings) {
        append(buf, cap, &used, "data quality check passed with %zu warning%s", r->warnings,
               r->warnings == 1 ? "" : "s");
        focus = TSL_QUALITY_WARNING;
    } else {
        append(buf, cap, &used, "data quality check passed: %zu series, no problems found%s",
               r->nseries, r->infos ? " (see the notes)" : "");
        return used;
    }
    for (int k = 0; k < TSL_QC_COUNT; k++) {
        const tsl_quality_check_summary *cs = &r->checks[k];
        if (cs->found && cs->worst >= focus)
            summarise_check(r, (tsl_quality_check_type)k, focus, buf, cap, &used);
    }
    /* A cut message ends visibly. */
    if (cap > 4 && used >= cap) memcpy(buf + cap - 4, "...", 4);
    return used;
}

/* Fails with the summary when an error was found. */
tsl_err tsl_quality_verdict(const tsl_quality_report *r, tsl_diag *d) {
    if (!r->errors) return TSL_OK;
    char line[TSL_DIAG_MAX];
    tsl_quality_summary(r, line, sizeof line);
    return tsl_diag_set(d, TSL_EINVAL, "%s", line);
}

/* ---- JSON ---- */

/* A number, or null for NaN and infinities. */
static json_t *num_or_null(double v) {
    return isfinite(v) ? json_real(v) : json_null();
}

/* A string value; text that is not UTF-8 (never from the reader) is quoted into ASCII. */
static json_t *str_json(const char *s) {
    json_t *j = json_string(s);
    if (j) return j;
    char q[TSL_TEXT_QUOTE_CAP];
    return json_string(tsl_text_quote(q, sizeof q, s, strlen(s)));
}

/* jansson's dump callback: appends to a tsl_wbuf. */
static int dump_to_wbuf(const char *buf, size_t size, void *data) {
    tsl_wbuf_put((tsl_wbuf *)data, buf, size);
    return 0;
}

/* The constraint_violations.json-like document (docs/quality.md). */
tsl_err tsl_quality_report_json(const tsl_quality_report *r, int indent, tsl_wbuf *out,
                                tsl_diag *d) {
    json_t *root = json_object();
    json_t *arr = json_array();
    for (size_t k = 0; k < r->nviolations; k++) {
        const tsl_quality_violation *v = &r->violations[k];
        json_t *o = json_object();
        json_object_set_new(o, "feature_name", str_json(v->feature));
        json_object_set_new(o, "constraint_check_type", json_string(check_names[v->check]));
        json_object_set_new(o, "description", str_json(v->description));
        json_object_set_new(o, "severity", json_string(severity_names[v->severity]));
        json_object_set_new(o, "item_id", v->item_id ? str_json(v->item_id) : json_null());
        json_object_set_new(o, "count", json_integer((json_int_t)v->count));
        json_object_set_new(o, "value", num_or_null(v->value));
        if (v->remainder)
            json_object_set_new(o, "omitted_series", json_integer((json_int_t)v->count));
        json_array_append_new(arr, o);
    }
    json_object_set_new(root, "violations", arr);

    json_t *sum = json_object();
    const char *status = r->errors ? "failed" : r->warnings ? "passed_with_warnings" : "passed";
    char line[TSL_DIAG_MAX];
    tsl_quality_summary(r, line, sizeof line);
    json_object_set_new(sum, "status", json_string(status));
    json_object_set_new(sum, "message", str_json(line));
    json_object_set_new(sum, "series", json_integer((json_int_t)r->nseries));
    json_object_set_new(sum, "series_flagged", json_integer((json_int_t)r->series_flagged));
    json_object_set_new(sum, "errors", json_integer((json_int_t)r->errors));
    json_object_set_new(sum, "warnings", json_integer((json_int_t)r->warnings));
    json_object_set_new(sum, "infos", json_integer((json_int_t)r->infos));
    json_t *checks = json_object();
    for (int k = 0; k < TSL_QC_COUNT; k++) {
        const tsl_quality_check_summary *cs = &r->checks[k];
        json_t *o = json_object();
        json_object_set_new(o, "run", json_boolean(cs->run));
        json_object_set_new(o, "found", json_integer((json_int_t)cs->found));
        json_object_set_new(o, "listed", json_integer((json_int_t)cs->listed));
        json_object_set_new(o, "errors", json_integer((json_int_t)cs->errors));
        json_object_set_new(o, "warnings", json_integer((json_int_t)cs->warnings));
        json_object_set_new(o, "infos", json_integer((json_int_t)cs->infos));
        json_object_set_new(o, "worst",
                            cs->found ? json_string(severity_names[cs->worst]) : json_null());
        json_object_set_new(checks, check_names[k], o);
    }
    json_object_set_new(sum, "checks", checks);
    json_object_set_new(root, "summary", sum);

    if (indent < 0) indent = 0;
    if (indent > 31) indent = 31;
    int jrc = json_dump_callback(root, dump_to_wbuf, out,
                                 JSON_REAL_PRECISION(17) | (size_t)JSON_INDENT(indent));
    json_decref(root);
    if (jrc)
        return tsl_diag_set(d, TSL_EINTERNAL, "data-quality report: rendering the JSON failed");
    return TSL_OK;
}
