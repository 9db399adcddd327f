/*
 * test_quality.c - the data-quality checks: a clean data set passes without a word; each check
 * fires on a data set crafted for it (read through the real reader from CSV text), with its
 * exact severity, counts, description and JSON; severity overrides and switched-off checks;
 * the per-check cap with its remainder; the one-line summary and the verdict; option errors.
 */
#include "testutil.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "tsloop/buf.h"
#include "tsloop/dataset.h"
#include "tsloop/mem.h"
#include "tsloop/quality.h"

/* ---- building data sets ---- */

#define ABSENT (-1e300) /* a value that makes the row absent from the CSV */

/* 2024-01-01T00:00:00Z, a Monday. */
#define T0 1704067200

/* Appends the rows of one series: n values from T0 + offset, every step seconds; NaN is
 * written NA, ABSENT leaves the row out; dim, when not NULL, is the value of every row's one
 * dimension column. */
static void add_rows(tsl_wbuf *w, const char *id, const char *dim, int64_t offset, int64_t step,
                     const double *y, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (y[i] == ABSENT) continue;
        char t[40];
        int64_t at = T0 + offset + (int64_t)i * step;
        tsl_time_format(at, step % 86400 == 0, t, sizeof t);
        tsl_wbuf_printf(w, "%s,%s", id, t);
        if (isnan(y[i]))
            tsl_wbuf_puts(w, ",NA");
        else
            tsl_wbuf_printf(w, ",%.17g", y[i]);
        if (dim) tsl_wbuf_printf(w, ",%s", dim);
        tsl_wbuf_putc(w, '\n');
    }
}

/* A plausible daily series: level plus a weekly pattern plus a little wobble, never negative. */
static void fill(double *y, size_t n, double level) {
    for (size_t i = 0; i < n; i++) y[i] = level + (double)(i % 7) + 0.25 * (double)(i % 3);
}

static tsl_dataset *read_csv(tsl_wbuf *w) {
    tsl_dataset *ds = NULL;
    tsl_diag d = {0};
    if (tsl_dataset_read_mem("q.csv", w->data, w->len, NULL, &ds, &d))
        fail_msg("reading the crafted data set: %s", d.msg);
    tsl_wbuf_release(w);
    return ds;
}

/* Three clean daily series of 60 days with a "region" column. */
static void clean_rows(tsl_wbuf *w) {
    double y[60];
    static const char *const ids[3] = {"a", "b", "c"};
    static const char *const regions[3] = {"north", "north", "south"};
    for (int s = 0; s < 3; s++) {
        fill(y, 60, 10.0 * (s + 1));
        add_rows(w, ids[s], regions[s], 0, 86400, y, 60);
    }
}

static void header(tsl_wbuf *w, int with_dim) {
    tsl_wbuf_init(w);
    tsl_wbuf_puts(w, with_dim ? "item_id,timestamp,target_value,region\n"
                              : "item_id,timestamp,target_value\n");
}

static const char *const region_only[1] = {"region"};

static void opts_for(tsl_quality_opts *o) {
    tsl_quality_opts_init(o);
    o->horizon = 7;
    o->non_negative = 1;
}

static tsl_quality_report *check(const tsl_dataset *ds, const tsl_quality_opts *o) {
    tsl_quality_report *r = NULL;
    tsl_diag d = {0};
    if (tsl_quality_check(ds, o, &r, &d)) fail_msg("quality check: %s", d.msg);
    return r;
}

/* The k-th violation of check c in r (fails when absent). */
static const tsl_quality_violation *nth(const tsl_quality_report *r, tsl_quality_check_type c,
                                        size_t k) {
    for (size_t i = 0; i < r->nviolations; i++)
        if (r->violations[i].check == c && k-- == 0) return &r->violations[i];
    fail_msg("no violation #%zu of %s", k, tsl_quality_check_name(c));
    return NULL;
}

/* Number of listed violations of check c. */
static size_t listed(const tsl_quality_report *r, tsl_quality_check_type c) {
    size_t n = 0;
    for (size_t i = 0; i < r->nviolations; i++) n += r->violations[i].check == c;
    return n;
}

/* Only check c found anything. */
static void assert_only(const tsl_quality_report *r, tsl_quality_check_type c) {
    for (int k = 0; k < TSL_QC_COUNT; k++)
        if (k != (int)c && r->checks[k].found)
            fail_msg("%s fired too (%zu), only %s expected", tsl_quality_check_name(k),
                     r->checks[k].found, tsl_quality_check_name(c));
    assert_true(r->checks[c].found > 0);
}

static void assert_violation(const tsl_quality_violation *v, tsl_quality_severity sev,
                             const char *feature, const char *item, size_t count,
                             const char *desc) {
    assert_int_equal(v->severity, sev);
    assert_string_equal(v->feature, feature);
    if (item)
        assert_string_equal(v->item_id, item);
    else
        assert_null(v->item_id);
    assert_int_equal(v->count, count);
    assert_string_equal(v->description, desc);
}

/* ---- a clean data set ---- */

static void test_clean(void **state) {
    (void)state;
    tsl_wbuf w;
    header(&w, 1);
    clean_rows(&w);
    tsl_dataset *ds = read_csv(&w);
    tsl_quality_opts o;
    opts_for(&o);
    o.split_by = region_only;
    o.nsplit_by = 1;
    o.expected_columns = region_only;
    o.nexpected = 1;
    o.freq = (tsl_freq){TSL_FREQ_DAY, 1, 0};
    tsl_quality_report *r = check(ds, &o);
    assert_int_equal(r->nviolations, 0);
    assert_int_equal(r->errors + r->warnings + r->infos, 0);
    assert_int_equal(r->series_flagged, 0);
    assert_int_equal(r->nseries, 3);
    assert_int_equal(r->worst, TSL_QUALITY_DEFAULT);
    for (int k = 0; k < TSL_QC_COUNT; k++) assert_true(r->checks[k].run);
    assert_int_equal(tsl_quality_verdict(r, NULL), TSL_OK);
    char line[256];
    tsl_quality_summary(r, line, sizeof line);
    assert_string_equal(line, "data quality check passed: 3 series, no problems found");
    tsl_wbuf j;
    tsl_wbuf_init(&j);
    assert_int_equal(tsl_quality_report_json(r, 0, &j, NULL), TSL_OK);
    json_t *root = json_loadb((const char *)j.data, j.len, 0, NULL);
    assert_non_null(root);
    assert_int_equal(json_array_size(json_object_get(root, "violations")), 0);
    json_t *sum = json_object_get(root, "summary");
    assert_string_equal(json_string_value(json_object_get(sum, "status")), "passed");
    assert_int_equal(json_integer_value(json_object_get(sum, "series")), 3);
    assert_int_equal(json_object_size(json_object_get(sum, "checks")), TSL_QC_COUNT);
    json_decref(root);
    tsl_wbuf_release(&j);
    tsl_quality_report_free(r);
    /* Nothing declared (opts NULL): the declaration-driven checks do not run. */
    r = check(ds, NULL);
    assert_int_equal(r->nviolations, 0);
    assert_false(r->checks[TSL_QC_NEGATIVE].run);
    assert_false(r->checks[TSL_QC_EXTRA_COLUMN].run);
    assert_false(r->checks[TSL_QC_FREQUENCY].run);
    tsl_quality_report_free(r);
    tsl_dataset_free(ds);
}

/* ---- schema ---- */

static void test_columns(void **state) {
    (void)state;
    tsl_wbuf w;
    tsl_wbuf_init(&w);
    tsl_wbuf_puts(&w, "item_id,timestamp,target_value,Region,channel\n");
    double y[30];
    fill(y, 30, 5);
    for (size_t i = 0; i < 30; i++) {
        char t[16];
        tsl_time_format(T0 + (int64_t)i * 86400, 1, t, sizeof t);
        tsl_wbuf_printf(&w, "a,%s,%g,north,web\n", t, y[i]);
    }
    tsl_dataset *ds = read_csv(&w);
    tsl_quality_opts o;
    opts_for(&o);
    static const char *const split[1] = {"region"};
    static const char *const expected[2] = {"store", "Region"};
    o.split_by = split;
    o.nsplit_by = 1;
    o.expected_columns = expected;
    o.nexpected = 2;
    tsl_quality_report *r = check(ds, &o);
    assert_int_equal(r->checks[TSL_QC_MISSING_COLUMN].found, 2);
    assert_violation(nth(r, TSL_QC_MISSING_COLUMN, 0), TSL_QUALITY_ERROR, "region", NULL, 1,
                     "split_by column \"region\" is not in the data (the data has \"Region\"; "
                     "names are case-sensitive)");
    assert_violation(nth(r, TSL_QC_MISSING_COLUMN, 1), TSL_QUALITY_ERROR, "store", NULL, 1,
                     "expected column \"store\" is not in the data");
    /* "Region" is expected, "channel" is not. */
    assert_int_equal(r->checks[TSL_QC_EXTRA_COLUMN].found, 1);
    assert_violation(nth(r, TSL_QC_EXTRA_COLUMN, 0), TSL_QUALITY_WARNING, "channel", NULL, 1,
                     "column \"channel\" is not among the expected columns; it is kept as a "
                     "dimension");
    assert_int_equal(r->errors, 2);
    assert_int_equal(r->warnings, 1);
    /* Data-set-wide findings flag no series. */
    assert_int_equal(r->series_flagged, 0);
    tsl_diag d = {0};
    assert_int_equal(tsl_quality_verdict(r, &d), TSL_EINVAL);
    assert_string_equal(d.msg,
                        "data quality check failed: 2 errors, 1 warning; missing_column_check: "
                        "split_by column \"region\" is not in the data (the data has \"Region\"; "
                        "names are case-sensitive) (+1 more)");
    tsl_quality_report_free(r);
    tsl_dataset_free(ds);
}

static void test_split_by_empty_values(void **state) {
    (void)state;
    tsl_wbuf w;
    header(&w, 1);
    double y[40];
    fill(y, 40, 5);
    add_rows(&w, "a", "north", 0, 86400, y, 40);
    add_rows(&w, "b", "", 0, 86400, y, 40);
    tsl_dataset *ds = read_csv(&w);
    tsl_quality_opts o;
    opts_for(&o);
    o.split_by = region_only;
    o.nsplit_by = 1;
    tsl_quality_report *r = check(ds, &o);
    assert_only(r, TSL_QC_COMPLETENESS);
    const tsl_quality_violation *v = nth(r, TSL_QC_COMPLETENESS, 0);
    assert_violation(v, TSL_QUALITY_WARNING, "region", NULL, 1,
                     "1 of 2 series (50.0%) have no value in split_by column \"region\"; they are "
                     "grouped together under the empty value");
    tu_close(v->value, 0.5, 0, 0, "share");
    tsl_quality_report_free(r);
    /* With a frequency error too: found after the completeness finding (columns are checked
     * first) but reported before it, in check order. */
    o.freq = (tsl_freq){TSL_FREQ_WEEK, 1, 0};
    r = check(ds, &o);
    assert_int_equal(r->nviolations, 2);
    assert_int_equal(r->violations[0].check, TSL_QC_FREQUENCY);
    assert_int_equal(r->violations[1].check, TSL_QC_COMPLETENESS);
    tsl_quality_report_free(r);
    tsl_dataset_free(ds);
}

static int accept_row(void *ctx, uint64_t line, const char *reason) {
    (void)ctx, (void)line, (void)reason;
    return 0;
}

static void test_data_type(void **state) {
    (void)state;
    tsl_wbuf w;
    header(&w, 0);
    double y[30];
    fill(y, 30, 5);
    add_rows(&w, "a", NULL, 0, 86400, y, 30);
    tsl_wbuf_puts(&w, "a,2024-02-15,lots\n");
    /* Lenient reading skips the row; the check reports it. */
    tsl_read_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.on_reject = accept_row;
    tsl_dataset *ds = NULL;
    assert_int_equal(tsl_dataset_read_mem("q.csv", w.data, w.len, &ro, &ds, NULL), TSL_OK);
    tsl_wbuf_release(&w);
    assert_int_equal(ds->rejected, 1);
    /* An infinite value (the reader never makes one; other sources might). */
    ds->series[0].y[3] = INFINITY;
    ds->series[0].y[4] = -INFINITY;
    tsl_quality_opts o;
    opts_for(&o);
    o.min_history = 10;
    tsl_quality_report *r = check(ds, &o);
    assert_only(r, TSL_QC_DATA_TYPE);
    assert_int_equal(r->checks[TSL_QC_DATA_TYPE].found, 2);
    assert_violation(nth(r, TSL_QC_DATA_TYPE, 0), TSL_QUALITY_WARNING, "target_value", NULL, 1,
                     "1 of 31 rows (3.2%) could not be read (a target that is not a number, a bad "
                     "timestamp or a wrong number of fields) and were skipped");
    assert_violation(nth(r, TSL_QC_DATA_TYPE, 1), TSL_QUALITY_ERROR, "target_value", "a", 2,
                     "2 values are infinite; the target must be a finite number");
    assert_int_equal(r->series_flagged, 1);
    tsl_quality_report_free(r);
    tsl_dataset_free(ds);
}

static void test_frequency(void **state) {
    (void)state;
    tsl_wbuf w;
    header(&w, 1);
    clean_rows(&w);
    tsl_dataset *ds = read_csv(&w);
    tsl_quality_opts o;
    opts_for(&o);
    o.freq = (tsl_freq){TSL_FREQ_HOUR, 1, 0};
    tsl_quality_report *r = check(ds, &o);
    assert_only(r, TSL_QC_FREQUENCY);
    assert_violation(nth(r, TSL_QC_FREQUENCY, 0), TSL_QUALITY_ERROR, "timestamp", NULL, 3,
                     "the data is daily (D) but the forecaster declares hourly (H)");
    tsl_quality_report_free(r);
    tsl_dataset_free(ds);
}

/* ---- per-series checks ---- */

static void test_completeness(void **state) {
    (void)state;
    tsl_wbuf w;
    header(&w, 0);
    double y[50];
    fill(y, 50, 5);
    add_rows(&w, "clean", NULL, 0, 86400, y, 50);
    /* 10 of 50 missing (20%): a warning; 5 of 50 (10%, not above): nothing. */
    fill(y, 50, 5);
    for (int i = 0; i < 10; i++) y[4 * i + 1] = NAN;
    add_rows(&w, "some", NULL, 0, 86400, y, 50);
    fill(y, 50, 5);
    for (int i = 0; i < 5; i++) y[9 * i + 2] = NAN;
    add_rows(&w, "edge", NULL, 0, 86400, y, 50);
    /* 30 of 50 (60%): an error. */
    fill(y, 50, 5);
    for (int i = 0; i < 30; i++) y[i + 10] = NAN;
    add_rows(&w, "most", NULL, 0, 86400, y, 50);
    tsl_dataset *ds = read_csv(&w);
    tsl_quality_opts o;
    opts_for(&o);
    o.max_gap = 100;
    tsl_quality_report *r = check(ds, &o);
    assert_only(r, TSL_QC_COMPLETENESS);
    assert_int_equal(r->checks[TSL_QC_COMPLETENESS].found, 2);
    assert_int_equal(r->checks[TSL_QC_COMPLETENESS].worst, TSL_QUALITY_ERROR);
    /* Worst first. */
    const tsl_quality_violation *v = nth(r, TSL_QC_COMPLETENESS, 0);
    assert_violation(v, TSL_QUALITY_ERROR, "target_value", "most", 30,
                     "30 of 50 values are missing (60.0%), above the error threshold of 50.0%");
    tu_close(v->value, 0.6, 0, 0, "share");
    assert_violation(nth(r, TSL_QC_COMPLETENESS, 1), TSL_QUALITY_WARNING, "target_value", "some",
                     10,
                     "10 of 50 values are missing (20.0%), above the warning threshold of 10.0%");
    assert_int_equal(r->series_flagged, 2);
    tsl_diag d = {0};
    assert_int_equal(tsl_quality_verdict(r, &d), TSL_EINVAL);
    assert_string_equal(d.msg, "data quality check failed: 1 error, 1 warning; "
                               "completeness_check: 1 series with too many missing values "
                               "(\"most\")");
    tsl_quality_report_free(r);
    /* Custom thresholds: 5% warns, 70% is the error line. */
    o.missing_warn = 0.05;
    o.missing_error = 0.7;
    r = check(ds, &o);
    assert_int_equal(r->checks[TSL_QC_COMPLETENESS].found, 3);
    assert_int_equal(r->errors, 0);
    tsl_quality_report_free(r);
    tsl_dataset_free(ds);
}

static void test_negative(void **state) {
    (void)state;
    tsl_wbuf w;
    header(&w, 0);
    double y[40];
    fill(y, 40, 5);
    y[7] = -2.5;
    y[8] = -0.125;
    add_rows(&w, "neg", NULL, 0, 86400, y, 40);
    fill(y, 40, 5);
    add_rows(&w, "pos", NULL, 0, 86400, y, 40);
    tsl_dataset *ds = read_csv(&w);
    tsl_quality_opts o;
    opts_for(&o);
    tsl_quality_report *r = check(ds, &o);
    assert_only(r, TSL_QC_NEGATIVE);
    const tsl_quality_violation *v = nth(r, TSL_QC_NEGATIVE, 0);
    assert_violation(v, TSL_QUALITY_ERROR, "target_value", "neg", 2,
                     "2 of 40 observed values are negative (the lowest is -2.5) although the "
                     "forecaster declares the target non-negative");
    tu_close(v->value, -2.5, 0, 0, "lowest");
    tsl_quality_report_free(r);
    /* Not declared: not a problem. */
    o.non_negative = 0;
    r = check(ds, &o);
    assert_int_equal(r->nviolations, 0);
    assert_false(r->checks[TSL_QC_NEGATIVE].run);
    tsl_quality_report_free(r);
    /* Declared, but the forecaster's config lowers it to a warning: the pipeline goes on. */
    o.non_negative = 1;
    o.severity[TSL_QC_NEGATIVE] = TSL_QUALITY_WARNING;
    r = check(ds, &o);
    assert_int_equal(nth(r, TSL_QC_NEGATIVE, 0)->severity, TSL_QUALITY_WARNING);
    assert_int_equal(tsl_quality_verdict(r, NULL), TSL_OK);
    char line[256];
    tsl_quality_summary(r, line, sizeof line);
    assert_string_equal(line, "data quality check passed with 1 warning; negative_values: 1 "
                              "series with negative values although the target is declared "
                              "non-negative (\"neg\")");
    tsl_quality_report_free(r);
    tsl_dataset_free(ds);
}

static void test_duplicates_and_conflicts(void **state) {
    (void)state;
    tsl_wbuf w;
    header(&w, 1);
    clean_rows(&w);
    tsl_wbuf_puts(&w, "a,2024-01-05,99,north\n"); /* a duplicate */
    tsl_wbuf_puts(&w, "c,2024-01-06,99,north\n"); /* a duplicate, and c is "south" */
    tsl_dataset *ds = read_csv(&w);
    assert_int_equal(ds->duplicates, 2);
    assert_int_equal(ds->dim_conflicts, 1);
    tsl_quality_opts o;
    opts_for(&o);
    tsl_quality_report *r = check(ds, &o);
    assert_int_equal(r->nviolations, 2);
    assert_violation(nth(r, TSL_QC_DUPLICATES, 0), TSL_QUALITY_WARNING, "timestamp", NULL, 2,
                     "2 rows repeat an (item, timestamp) pair seen before (1.1% of 182 rows); the "
                     "last value of each was kept");
    assert_violation(nth(r, TSL_QC_DIM_CONFLICTS, 0), TSL_QUALITY_WARNING, "region", NULL, 1,
                     "1 rows give their item other dimension values than the item's first row; "
                     "the first row's values were kept");
    tsl_quality_report_free(r);
    tsl_dataset_free(ds);
}

static void test_irregular(void **state) {
    (void)state;
    tsl_wbuf w;
    header(&w, 0);
    double y[72];
    fill(y, 72, 5);
    add_rows(&w, "a", NULL, 0, 3600, y, 72);
    add_rows(&w, "b", NULL, 0, 3600, y, 72);
    add_rows(&w, "half", NULL, 1800, 3600, y, 72); /* on the half hour */
    tsl_dataset *ds = read_csv(&w);
    assert_int_equal(ds->freq.unit, TSL_FREQ_HOUR);
    tsl_quality_opts o;
    opts_for(&o);
    o.horizon = 24;
    tsl_quality_report *r = check(ds, &o);
    assert_only(r, TSL_QC_IRREGULAR);
    assert_violation(nth(r, TSL_QC_IRREGULAR, 0), TSL_QUALITY_WARNING, "timestamp", "half", 72,
                     "the series starts at 2024-01-01T00:30:00Z, off the H grid that 2 of 3 "
                     "series share; its points fall between theirs");
    tsl_quality_report_free(r);
    tsl_dataset_free(ds);
}

static void test_irregular_months(void **state) {
    (void)state;
    /* Monthly series on the 1st, and one on the 15th. */
    tsl_wbuf w;
    header(&w, 0);
    static const char *const ids[3] = {"a", "b", "mid"};
    for (int s = 0; s < 3; s++)
        for (int m = 0; m < 36; m++)
            tsl_wbuf_printf(&w, "%s,%d-%02d-%s,%d\n", ids[s], 2020 + m / 12, m % 12 + 1,
                            s == 2 ? "15" : "01", 10 + m % 12);
    /* Inference refuses such a mix; a given monthly frequency (anchor 0) steps each series
     * from its own day. */
    tsl_read_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.freq = (tsl_freq){TSL_FREQ_MONTH, 1, 0};
    tsl_dataset *ds = NULL;
    tsl_diag d = {0};
    if (tsl_dataset_read_mem("q.csv", w.data, w.len, &ro, &ds, &d)) fail_msg("%s", d.msg);
    tsl_wbuf_release(&w);
    assert_int_equal(ds->freq.anchor, 0);
    tsl_quality_opts o;
    opts_for(&o);
    o.horizon = 6;
    tsl_quality_report *r = check(ds, &o);
    assert_only(r, TSL_QC_IRREGULAR);
    assert_string_equal(nth(r, TSL_QC_IRREGULAR, 0)->item_id, "mid");
    tsl_quality_report_free(r);
    tsl_dataset_free(ds);
}

static void test_too_short_and_constant(void **state) {
    (void)state;
    tsl_wbuf w;
    header(&w, 0);
    double y[60];
    fill(y, 60, 5);
    add_rows(&w, "long", NULL, 0, 86400, y, 60);
    /* 20 values ending with the others (days 40..59). */
    add_rows(&w, "short", NULL, 40 * 86400, 86400, y, 20);
    for (int i = 0; i < 60; i++) y[i] = 0;
    add_rows(&w, "zeros", NULL, 0, 86400, y, 60);
    for (int i = 0; i < 60; i++) y[i] = 4.5;
    add_rows(&w, "flat", NULL, 0, 86400, y, 60);
    tsl_dataset *ds = read_csv(&w);
    tsl_quality_opts o;
    opts_for(&o);
    /* Default minimum: max(2 seasons of 7, tsl_bt_min_train(7) = 10 plus the horizon 7) = 17
     * passes 20; asking for 4 seasons (28) fails it. */
    tsl_quality_report *r = check(ds, &o);
    assert_int_equal(r->checks[TSL_QC_TOO_SHORT].found, 0);
    tsl_quality_report_free(r);
    o.min_seasons = 4;
    r = check(ds, &o);
    assert_int_equal(r->checks[TSL_QC_TOO_SHORT].found, 1);
    assert_violation(nth(r, TSL_QC_TOO_SHORT, 0), TSL_QUALITY_WARNING, "target_value", "short", 20,
                     "20 observed values, fewer than the 28 needed (min_history); simpler models "
                     "will be used");
    assert_int_equal(r->checks[TSL_QC_CONSTANT].found, 2);
    /* Longer first: both 60, so in series order. */
    assert_violation(nth(r, TSL_QC_CONSTANT, 0), TSL_QUALITY_WARNING, "target_value", "flat", 60,
                     "all 60 observed values equal 4.5");
    assert_violation(nth(r, TSL_QC_CONSTANT, 1), TSL_QUALITY_WARNING, "target_value", "zeros", 60,
                     "all 60 observed values are zero");
    assert_int_equal(r->series_flagged, 3);
    tsl_quality_report_free(r);
    /* An explicit minimum wins. */
    o.min_history = 21;
    r = check(ds, &o);
    assert_int_equal(r->checks[TSL_QC_TOO_SHORT].found, 1);
    o.min_history = 20;
    tsl_quality_report_free(r);
    r = check(ds, &o);
    assert_int_equal(r->checks[TSL_QC_TOO_SHORT].found, 0);
    tsl_quality_report_free(r);
    /* Switched off. */
    o.severity[TSL_QC_CONSTANT] = TSL_QUALITY_OFF;
    r = check(ds, &o);
    assert_false(r->checks[TSL_QC_CONSTANT].run);
    assert_int_equal(r->nviolations, 0);
    tsl_quality_report_free(r);
    tsl_dataset_free(ds);
}

static void test_gaps(void **state) {
    (void)state;
    tsl_wbuf w;
    header(&w, 0);
    double y[90];
    fill(y, 90, 5);
    add_rows(&w, "a", NULL, 0, 86400, y, 90);
    /* 20 days absent from day 30: the reader fills them; one NA at day 70 (a run of 1). */
    for (int i = 30; i < 50; i++) y[i] = ABSENT;
    y[70] = NAN;
    add_rows(&w, "holey", NULL, 0, 86400, y, 90);
    tsl_dataset *ds = read_csv(&w);
    assert_int_equal(ds->gap_points, 20);
    tsl_quality_opts o;
    opts_for(&o);
    o.missing_warn = 0.5; /* 21 of 90 missing is not the point here */
    tsl_quality_report *r = check(ds, &o);
    assert_only(r, TSL_QC_GAPS);
    assert_int_equal(r->checks[TSL_QC_GAPS].found, 2);
    assert_violation(nth(r, TSL_QC_GAPS, 0), TSL_QUALITY_INFO, "timestamp", NULL, 20,
                     "20 timestamps absent from the input inside series were added as missing "
                     "values (11.1% of 180 points)");
    /* Default longest allowed run: max(season 7, horizon 7, 2) = 7. */
    assert_violation(nth(r, TSL_QC_GAPS, 1), TSL_QUALITY_WARNING, "target_value", "holey", 20,
                     "20 consecutive values are missing from 2024-01-31, longer than 7 steps; the "
                     "model sees nothing of that stretch");
    assert_int_equal(r->infos, 1);
    assert_int_equal(r->warnings, 1);
    tsl_quality_report_free(r);
    o.max_gap = 20;
    r = check(ds, &o);
    assert_int_equal(r->checks[TSL_QC_GAPS].found, 1); /* the note only */
    tsl_quality_report_free(r);
    tsl_dataset_free(ds);
}

static void test_stale(void **state) {
    (void)state;
    tsl_wbuf w;
    header(&w, 0);
    double y[60];
    fill(y, 60, 5);
    add_rows(&w, "a", NULL, 0, 86400, y, 60);
    add_rows(&w, "early", NULL, 0, 86400, y, 40); /* ends 20 days before a */
    add_rows(&w, "edge", NULL, 0, 86400, y, 53);  /* 7 days before: not more than the horizon */
    fill(y, 60, 5);
    for (int i = 45; i < 60; i++) y[i] = NAN; /* trailing missing values: observed to day 44 */
    add_rows(&w, "trail", NULL, 0, 86400, y, 60);
    tsl_dataset *ds = read_csv(&w);
    tsl_quality_opts o;
    opts_for(&o);
    o.missing_warn = 0.3;
    o.max_gap = 30;
    tsl_quality_report *r = check(ds, &o);
    assert_only(r, TSL_QC_STALE);
    assert_int_equal(r->checks[TSL_QC_STALE].found, 2);
    /* The staler first. */
    const tsl_quality_violation *v = nth(r, TSL_QC_STALE, 0);
    assert_violation(v, TSL_QUALITY_WARNING, "timestamp", "early", 20,
                     "the last observed value is at 2024-02-09, 20 steps before the newest "
                     "series' end (2024-02-29), more than 7");
    tu_close(v->value, 20, 0, 0, "lag");
    assert_string_equal(nth(r, TSL_QC_STALE, 1)->item_id, "trail");
    assert_int_equal(nth(r, TSL_QC_STALE, 1)->count, 15);
    tsl_quality_report_free(r);
    o.stale_after = 20;
    r = check(ds, &o);
    assert_int_equal(r->checks[TSL_QC_STALE].found, 0);
    tsl_quality_report_free(r);
    tsl_dataset_free(ds);
}

/* ---- bounds, summary, JSON, options ---- */

static void test_cap_and_remainder(void **state) {
    (void)state;
    tsl_wbuf w;
    header(&w, 0);
    double y[60];
    fill(y, 60, 5);
    add_rows(&w, "long", NULL, 0, 86400, y, 60);
    /* 50 short series of 41..50 values... all ending with "long"; and three negative ones. */
    for (int s = 0; s < 50; s++) {
        char id[16];
        snprintf(id, sizeof id, "s%02d", s);
        size_t n = 10 + (size_t)(s % 5);
        fill(y, n, 5);
        if (s < 3) y[0] = -1;
        add_rows(&w, id, NULL, (int64_t)(60 - n) * 86400, 86400, y, n);
    }
    tsl_dataset *ds = read_csv(&w);
    tsl_quality_opts o;
    opts_for(&o);
    o.max_listed = 5;
    tsl_quality_report *r = check(ds, &o);
    assert_int_equal(r->checks[TSL_QC_TOO_SHORT].found, 50);
    assert_int_equal(r->checks[TSL_QC_TOO_SHORT].listed, 5);
    assert_int_equal(listed(r, TSL_QC_TOO_SHORT), 6);
    /* The shortest first (10 values: s00, s05, ...). */
    for (size_t k = 0; k < 5; k++) {
        const tsl_quality_violation *v = nth(r, TSL_QC_TOO_SHORT, k);
        assert_int_equal(v->count, 10);
        char id[16];
        snprintf(id, sizeof id, "s%02zu", 5 * k);
        assert_string_equal(v->item_id, id);
    }
    const tsl_quality_violation *rest = nth(r, TSL_QC_TOO_SHORT, 5);
    assert_true(rest->remainder);
    assert_violation(rest, TSL_QUALITY_WARNING, "target_value", NULL, 45,
                     "45 more series not listed (0 errors, 45 warnings, 0 notes); 50 series in "
                     "all");
    assert_int_equal(r->warnings, 50);
    assert_int_equal(r->errors, 3);
    assert_int_equal(r->series_flagged, 50);
    char line[512];
    tsl_quality_summary(r, line, sizeof line);
    assert_string_equal(line, "data quality check failed: 3 errors, 50 warnings; "
                              "negative_values: 3 series with negative values although the target "
                              "is declared non-negative (\"s00\", \"s01\", \"s02\")");
    /* A narrow buffer: cut, terminated, marked; the return value is the full length. */
    char small[40];
    size_t full = tsl_quality_summary(r, small, sizeof small);
    assert_int_equal(full, strlen(line));
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_string_equal(small + sizeof small - 4, "...");

    tsl_wbuf j;
    tsl_wbuf_init(&j);
    assert_int_equal(tsl_quality_report_json(r, 2, &j, NULL), TSL_OK);
    json_t *root = json_loadb((const char *)j.data, j.len, 0, NULL);
    assert_non_null(root);
    json_t *vs = json_object_get(root, "violations");
    assert_int_equal(json_array_size(vs), r->nviolations);
    json_t *last = NULL;
    for (size_t k = 0; k < json_array_size(vs); k++) {
        json_t *v = json_array_get(vs, k);
        if (json_object_get(v, "omitted_series")) last = v;
    }
    assert_non_null(last);
    assert_true(json_is_null(json_object_get(last, "item_id")));
    assert_int_equal(json_integer_value(json_object_get(last, "omitted_series")), 45);
    json_t *sum = json_object_get(root, "summary");
    assert_string_equal(json_string_value(json_object_get(sum, "status")), "failed");
    assert_string_equal(json_string_value(json_object_get(sum, "message")), line);
    json_t *ts = json_object_get(json_object_get(sum, "checks"), "too_short");
    assert_int_equal(json_integer_value(json_object_get(ts, "found")), 50);
    assert_int_equal(json_integer_value(json_object_get(ts, "listed")), 5);
    assert_string_equal(json_string_value(json_object_get(ts, "worst")), "warning");
    json_decref(root);
    tsl_wbuf_release(&j);
    tsl_quality_report_free(r);
    /* max_listed 0: only the remainders; the summary names no series but still counts every
     * finding, by severity (negative values lowered to warnings here). */
    o.max_listed = 0;
    o.severity[TSL_QC_NEGATIVE] = TSL_QUALITY_WARNING;
    r = check(ds, &o);
    assert_int_equal(listed(r, TSL_QC_TOO_SHORT), 1);
    assert_true(nth(r, TSL_QC_TOO_SHORT, 0)->remainder);
    assert_int_equal(r->checks[TSL_QC_NEGATIVE].warnings, 3);
    assert_int_equal(r->checks[TSL_QC_TOO_SHORT].warnings, 50);
    tsl_quality_summary(r, line, sizeof line);
    assert_string_equal(line, "data quality check passed with 53 warnings; negative_values: 3 "
                              "series with negative values although the target is declared "
                              "non-negative; too_short: 50 series shorter than the minimum "
                              "history");
    tsl_quality_report_free(r);
    tsl_dataset_free(ds);
}

static void test_json_violation_shape(void **state) {
    (void)state;
    tsl_wbuf w;
    header(&w, 0);
    double y[40];
    fill(y, 40, 5);
    y[3] = -1;
    add_rows(&w, "x", NULL, 0, 86400, y, 40);
    tsl_dataset *ds = read_csv(&w);
    tsl_quality_opts o;
    opts_for(&o);
    tsl_quality_report *r = check(ds, &o);
    tsl_wbuf j;
    tsl_wbuf_init(&j);
    assert_int_equal(tsl_quality_report_json(r, 0, &j, NULL), TSL_OK);
    const char *want =
        "{\"violations\": [{\"feature_name\": \"target_value\", \"constraint_check_type\": "
        "\"negative_values\", \"description\": \"1 of 40 observed values are negative (the lowest "
        "is -1) although the forecaster declares the target non-negative\", \"severity\": "
        "\"error\", \"item_id\": \"x\", \"count\": 1, \"value\": -1.0}], \"summary\": {\"status\": "
        "\"failed\", \"message\": \"data quality check failed: 1 error, 0 warnings; "
        "negative_values: 1 series with negative values although the target is declared "
        "non-negative (\\\"x\\\")\", \"series\": 1, \"series_flagged\": 1, \"errors\": 1, "
        "\"warnings\": 0, \"infos\": 0, \"checks\": {";
    if (strncmp((const char *)j.data, want, strlen(want)))
        fail_msg("JSON differs:\n%.*s\nexpected to start with\n%s", (int)j.len, j.data, want);
    tsl_wbuf_release(&j);
    tsl_quality_report_free(r);
    tsl_dataset_free(ds);
}

static void test_options(void **state) {
    (void)state;
    tsl_wbuf w;
    header(&w, 1);
    clean_rows(&w);
    tsl_dataset *ds = read_csv(&w);
    tsl_quality_opts o;
    tsl_quality_report *r = NULL;
    tsl_diag d = {0};
    opts_for(&o);
    o.missing_warn = 0.6;
    assert_int_equal(tsl_quality_check(ds, &o, &r, &d), TSL_EINVAL);
    assert_string_equal(d.msg, "data-quality options: missing_warn 0.6 is above missing_error 0.5");
    opts_for(&o);
    o.missing_error = NAN;
    assert_int_equal(tsl_quality_check(ds, &o, &r, &d), TSL_EINVAL);
    opts_for(&o);
    o.severity[TSL_QC_GAPS] = (tsl_quality_severity)9;
    assert_int_equal(tsl_quality_check(ds, &o, &r, &d), TSL_EINVAL);
    assert_string_equal(d.msg, "data-quality options: severity 9 of gaps: expected default, info, "
                               "warning, error or off");
    opts_for(&o);
    o.nsplit_by = 1;
    assert_int_equal(tsl_quality_check(ds, &o, &r, &d), TSL_EINVAL);
    opts_for(&o);
    o.season_length = -1;
    assert_int_equal(tsl_quality_check(ds, &o, &r, &d), TSL_EINVAL);
    assert_null(r);
    /* A data set without a frequency (not one from the reader). */
    tsl_dataset bare;
    memset(&bare, 0, sizeof bare);
    opts_for(&o);
    assert_int_equal(tsl_quality_check(&bare, &o, &r, &d), TSL_EINVAL);
    /* An empty data set is an error of the report, not of the call. */
    bare.freq = (tsl_freq){TSL_FREQ_DAY, 1, 0};
    bare.period = 7;
    assert_int_equal(tsl_quality_check(&bare, &o, &r, &d), TSL_OK);
    assert_int_equal(r->errors, 1);
    assert_string_equal(nth(r, TSL_QC_COMPLETENESS, 0)->description,
                        "the data set holds no series");
    tsl_quality_report_free(r);
    tsl_quality_report_free(NULL);
    tsl_dataset_free(ds);
}

static void test_names(void **state) {
    (void)state;
    for (int c = 0; c < TSL_QC_COUNT; c++) {
        tsl_quality_check_type back;
        assert_int_equal(tsl_quality_check_parse(tsl_quality_check_name(c), &back, NULL), TSL_OK);
        assert_int_equal(back, c);
    }
    assert_string_equal(tsl_quality_check_name(TSL_QC_COUNT), "unknown");
    tsl_quality_check_type c;
    tsl_diag d = {0};
    assert_int_equal(tsl_quality_check_parse("gap", &c, &d), TSL_EINVAL);
    assert_non_null(strstr(d.msg, "unknown data-quality check \"gap\""));
    tsl_quality_severity s;
    assert_int_equal(tsl_quality_severity_parse("Warning", &s, NULL), TSL_OK);
    assert_int_equal(s, TSL_QUALITY_WARNING);
    assert_int_equal(tsl_quality_severity_parse("off", &s, NULL), TSL_OK);
    assert_int_equal(s, TSL_QUALITY_OFF);
    assert_int_equal(tsl_quality_severity_parse("fatal", &s, &d), TSL_EINVAL);
    assert_string_equal(tsl_quality_severity_name(TSL_QUALITY_ERROR), "error");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean),
        cmocka_unit_test(test_columns),
        cmocka_unit_test(test_split_by_empty_values),
        cmocka_unit_test(test_data_type),
        cmocka_unit_test(test_frequency),
        cmocka_unit_test(test_completeness),
        cmocka_unit_test(test_negative),
        cmocka_unit_test(test_duplicates_and_conflicts),
        cmocka_unit_test(test_irregular),
        cmocka_unit_test(test_irregular_months),
        cmocka_unit_test(test_too_short_and_constant),
        cmocka_unit_test(test_gaps),
        cmocka_unit_test(test_stale),
        cmocka_unit_test(test_cap_and_remainder),
        cmocka_unit_test(test_json_violation_shape),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
