/*
 * test_reader.c - the row reader (csv.h) and the data set builder (dataset.h): every input
 * kind (CSV, TSV, quoting, CRLF/CR, BOM, gzip, zip with TTS.csv or one CSV), every error path
 * with its exact message, caps, duplicates, gaps, dimensions, lenient mode, buffer boundaries,
 * the number parser against strtod, and the shared real data sets when they are present.
 * Fixtures: tests/data/reader, written by make_fixtures.py there.
 */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tsloop/buf.h"
#include "tsloop/csv.h"
#include "tsloop/dataset.h"
#include "tsloop/mem.h"

/* ---- helpers ---- */

static tsl_dataset *read_text(const char *name, const char *text, const tsl_read_opts *o) {
    tsl_dataset *ds = NULL;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_dataset_read_mem(name, text, strlen(text), o, &ds, &d))
        fail_msg("reading %s: %s", name, d.msg);
    return ds;
}

static tsl_dataset *read_fixture(const char *rel, const tsl_read_opts *o) {
    tsl_dataset *ds = NULL;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_dataset_read_file(tu_path(rel), o, &ds, &d)) fail_msg("reading %s: %s", rel, d.msg);
    return ds;
}

static void expect_error(const char *text, const tsl_read_opts *o, tsl_err code, const char *want) {
    tsl_dataset *ds = NULL;
    tsl_diag d = {TSL_OK, {0}};
    tsl_err e = tsl_dataset_read_mem("t.csv", text, strlen(text), o, &ds, &d);
    if (e != code) fail_msg("expected code %d, got %d (%s)", code, e, d.msg);
    assert_null(ds);
    if (strcmp(d.msg, want)) fail_msg("message:\n  got  %s\n  want %s", d.msg, want);
}

/* Appends tmpl to b with each '@' replaced by s. */
static void put_subst(tsl_wbuf *b, const char *tmpl, const char *s) {
    for (; *tmpl; tmpl++) {
        if (*tmpl == '@')
            tsl_wbuf_puts(b, s);
        else
            tsl_wbuf_putc(b, *tmpl);
    }
}

/* An error from a fixture file; '@' in want stands for the fixture's path. */
static void expect_file_error(const char *rel, tsl_err code, const char *want_fmt) {
    tsl_dataset *ds = NULL;
    tsl_diag d = {TSL_OK, {0}};
    const char *path = tu_path(rel);
    tsl_err e = tsl_dataset_read_file(path, NULL, &ds, &d);
    if (e != code) fail_msg("%s: expected code %d, got %d (%s)", rel, code, e, d.msg);
    assert_null(ds);
    tsl_wbuf want;
    tsl_wbuf_init(&want);
    put_subst(&want, want_fmt, path);
    if (strcmp(d.msg, tsl_wbuf_cstr(&want)))
        fail_msg("message:\n  got  %s\n  want %s", d.msg, tsl_wbuf_cstr(&want));
    tsl_wbuf_release(&want);
}

static void expect_series(const tsl_dataset *ds, size_t i, const char *id, const char *start,
                          const double *y, size_t n) {
    assert_true(i < ds->nseries);
    const tsl_series *s = &ds->series[i];
    assert_string_equal(s->item_id, id);
    int64_t t0;
    assert_int_equal(tsl_time_parse(start, strlen(start), &t0, NULL), TSL_OK);
    assert_int_equal(s->start, t0);
    assert_int_equal(s->n, n);
    for (size_t k = 0; k < n; k++) {
        if (isnan(y[k]) && isnan(s->y[k])) continue;
        if (y[k] != s->y[k]) fail_msg("%s[%zu] = %g, want %g", id, k, s->y[k], y[k]);
    }
}

/* The data set every fixture variant holds (make_fixtures.py). */
static void check_basic(const tsl_dataset *ds) {
    assert_int_equal(ds->freq.unit, TSL_FREQ_DAY);
    assert_int_equal(ds->freq.mult, 1);
    assert_int_equal(ds->period, 7);
    assert_int_equal(ds->nseries, 2);
    assert_int_equal(ds->rows, 7);
    assert_int_equal(ds->duplicates, 1);
    assert_int_equal(ds->missing_targets, 1);
    assert_int_equal(ds->gap_points, 1);
    assert_int_equal(ds->dim_conflicts, 0);
    assert_int_equal(ds->rejected, 0);
    assert_int_equal(ds->ndims, 1);
    assert_string_equal(ds->dim_names[0], "region");
    const double a[] = {8, NAN, 11}, b[] = {1.5, 2, NAN, 4};
    expect_series(ds, 0, "a", "2024-01-01", a, 3);
    expect_series(ds, 1, "b", "2024-01-01", b, 4);
    assert_string_equal(ds->series[0].dims[0], "south");
    assert_string_equal(ds->series[1].dims[0], "north");
}

/* ---- inputs of every kind ---- */

static void test_fixture_kinds(void **state) {
    (void)state;
    const char *files[] = {"basic.csv",     "basic.tsv",    "crlf.csv",       "cr.csv",
                           "bom.csv",       "quoted.csv",   "spaces.csv",     "noext.txt",
                           "basic.csv.gz",  "basic.tsv.gz", "gzip-named.csv", "tts-folder.zip",
                           "tts-lower.zip", "single.zip"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "reader/%s", files[i]);
        print_message("reading %s\n", rel);
        tsl_dataset *ds = read_fixture(rel, NULL);
        check_basic(ds);
        tsl_dataset_free(ds);
    }
    /* The same bytes from memory; the name decides .tsv, the content decides gzip. */
    size_t len;
    char *gz = tu_slurp(tu_path("reader/basic.tsv.gz"), &len);
    tsl_dataset *ds = NULL;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_dataset_read_mem("x.tsv.gz", gz, len, NULL, &ds, &d), TSL_OK);
    check_basic(ds);
    tsl_dataset_free(ds);
    tsl_free(gz);
    char *zip = tu_slurp(tu_path("reader/tts-folder.zip"), &len);
    assert_int_equal(tsl_dataset_read_mem("upload", zip, len, NULL, &ds, &d), TSL_OK);
    check_basic(ds);
    tsl_dataset_free(ds);
    tsl_free(zip);
}

static void test_file_errors(void **state) {
    (void)state;
    expect_file_error("reader/no-such.csv", TSL_EIO, "@: cannot open: No such file or directory");
    expect_file_error("reader", TSL_EIO, "@: cannot open: it is a directory");
    expect_file_error("reader/empty.csv", TSL_EPARSE, "@: empty input: expected a header line");
    expect_file_error("reader/empty.csv.gz", TSL_EPARSE, "@: empty input: expected a header line");
    expect_file_error("reader/header-only.csv", TSL_EPARSE, "@: no data rows after the header");
    expect_file_error("reader/utf16.csv", TSL_EPARSE,
                      "@: UTF-16 text is not supported; save it as UTF-8");
    expect_file_error("reader/several.zip", TSL_EPARSE,
                      "@: the zip holds 4 CSV files (\"a.csv\", \"b/b.csv\", \"c.TSV\", ...) "
                      "and no TTS.csv; name the one to read TTS.csv");
    expect_file_error("reader/none.zip", TSL_EPARSE,
                      "@: the zip holds no CSV file; expected TTS.csv or a single .csv or .tsv "
                      "member");
    expect_file_error("reader/two-tts.zip", TSL_EPARSE,
                      "@: the zip holds 2 TTS.csv files (\"x/TTS.csv\", \"y/tts.csv\"); keep "
                      "one");
    expect_file_error("reader/bad-member.zip", TSL_EPARSE,
                      "@!in/TTS.csv:3:3: column \"target_value\": \"2x\" is not a number: "
                      "expected a decimal number like 12.5, -3 or 1e6, or nothing, NA or NaN "
                      "for a missing value");
    /* A truncated gzip and a truncated zip. */
    size_t len;
    char *gz = tu_slurp(tu_path("reader/basic.csv.gz"), &len);
    tsl_dataset *ds = NULL;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_dataset_read_mem("t.csv.gz", gz, len - 6, NULL, &ds, &d), TSL_EIO);
    assert_true(!strncmp(d.msg, "t.csv.gz: cannot read: ", 23));
    tsl_free(gz);
    char *zip = tu_slurp(tu_path("reader/single.zip"), &len);
    assert_int_equal(tsl_dataset_read_mem("t.zip", zip, len / 2, NULL, &ds, &d), TSL_EIO);
    assert_true(!strncmp(d.msg, "t.zip: cannot read", 18));
    tsl_free(zip);
    assert_int_equal(tsl_dataset_read_mem("m.csv", "", 0, NULL, &ds, &d), TSL_EPARSE);
    assert_string_equal(d.msg, "m.csv: empty input: expected a header line");
}

/* ---- quoting, line numbers, the row API ---- */

static const char quoted_text[] = "item_id,timestamp,target,note\n"
                                  "\"x, \"\"big\"\" one\",2024-01-01,1,\"line1\n"
                                  "line2\"\n"
                                  "\"x, \"\"big\"\" one\",2024-01-02,2,\"a\r\nb\"\r\n"
                                  " \"y\" ,2024-01-01, 3 ,5\" pipe\n"
                                  "\n"
                                  "   \n"
                                  "y,2024-01-02,4,\n"
                                  "z,2024-01-0x,1,\n"
                                  "y,2024-01-03,\"\",\"\"\"\"";

static void test_row_api(void **state) {
    (void)state;
    tsl_csv *c = NULL;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_csv_open_mem("q.csv", quoted_text, strlen(quoted_text), NULL, &c, &d),
                     TSL_OK);
    assert_string_equal(tsl_csv_name(c), "q.csv");
    assert_int_equal(tsl_csv_delim(c), ',');
    assert_int_equal(tsl_csv_ndims(c), 1);
    assert_string_equal(tsl_csv_dim_name(c, 0), "note");
    assert_string_equal(tsl_csv_item_col(c), "item_id");
    assert_string_equal(tsl_csv_time_col(c), "timestamp");
    assert_string_equal(tsl_csv_target_col(c), "target");
    static const struct {
        const char *item, *time, *note;
        double v;
        uint64_t line;
    } want[] = {
        {"x, \"big\" one", "2024-01-01", "line1\nline2", 1, 2},
        {"x, \"big\" one", "2024-01-02", "a\r\nb", 2, 4},
        {"y", "2024-01-01", "5\" pipe", 3, 6},
        {"y", "2024-01-02", "", 4, 9},
        {NULL, NULL, NULL, 0, 10}, /* the bad timestamp */
        {"y", "2024-01-03", "\"", NAN, 11},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const tsl_csv_row *row;
        tsl_err e = tsl_csv_next(c, &row, &d);
        if (!want[i].item) {
            assert_int_equal(e, TSL_EPARSE);
            assert_null(row);
            assert_string_equal(d.msg, "q.csv:10:2: column \"timestamp\": \"2024-01-0x\" is not a "
                                       "valid timestamp: expected YYYY-MM-DD, "
                                       "YYYY-MM-DD[T ]HH:MM[:SS[.fff]][Z|+HH:MM|-HH:MM], YYYY-MM, "
                                       "YYYY-Qn, YYYY or epoch seconds");
            assert_int_equal(tsl_csv_last_line(c), 10);
            continue;
        }
        if (e) fail_msg("row %zu: %s", i, d.msg);
        assert_non_null(row);
        assert_string_equal(row->item, want[i].item);
        assert_int_equal(row->item_len, strlen(want[i].item));
        int64_t t;
        tsl_time_parse(want[i].time, 10, &t, NULL);
        assert_int_equal(row->time, t);
        if (isnan(want[i].v))
            assert_true(isnan(row->value));
        else
            assert_true(row->value == want[i].v);
        assert_string_equal(row->dims[0], want[i].note);
        assert_int_equal(row->dim_lens[0], strlen(want[i].note));
        assert_int_equal(row->line, want[i].line);
        assert_int_equal(tsl_csv_last_line(c), want[i].line);
    }
    const tsl_csv_row *row;
    assert_int_equal(tsl_csv_next(c, &row, &d), TSL_OK);
    assert_null(row);
    assert_int_equal(tsl_csv_next(c, &row, &d), TSL_OK); /* the end stays the end */
    assert_null(row);
    tsl_csv_close(c);
    tsl_csv_close(NULL);
}

/* A fatal error is sticky: every later call returns it. */
static void test_row_api_fatal(void **state) {
    (void)state;
    const char *text = "item_id,timestamp,target\na,2024-01-01,1\nabcdefghijklmnopqrstuvwxyz,"
                       "2024-01-02,2\na,2024-01-03,3\n";
    tsl_csv_opts o = {NULL, NULL, NULL, 0, 12, 0, 0, NULL, 0};
    tsl_csv *c = NULL;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_csv_open_mem("f.csv", text, strlen(text), &o, &c, &d), TSL_OK);
    const tsl_csv_row *row;
    assert_int_equal(tsl_csv_next(c, &row, &d), TSL_OK);
    assert_non_null(row);
    for (int i = 0; i < 2; i++) {
        tsl_diag d2 = {TSL_OK, {0}};
        assert_int_equal(tsl_csv_next(c, &row, &d2), TSL_ELIMIT);
        assert_null(row);
        assert_string_equal(d2.msg,
                            "f.csv:3:1: column \"item_id\": a field is longer than 12 bytes");
    }
    assert_int_equal(tsl_csv_next(c, &row, NULL), TSL_ELIMIT);
    tsl_csv_close(c);
    /* Option errors. */
    tsl_csv_opts bad = {NULL, NULL, NULL, '"', 0, 0, 0, NULL, 0};
    assert_int_equal(tsl_csv_open_mem("f.csv", text, strlen(text), &bad, &c, &d), TSL_EINVAL);
    assert_null(c);
    bad.delim = '\n';
    assert_int_equal(tsl_csv_open_mem("f.csv", text, strlen(text), &bad, &c, &d), TSL_EINVAL);
}

static void test_quoted_dataset(void **state) {
    (void)state;
    /* Without the bad row, as a data set; the second y row's note differs from the first. */
    tsl_wbuf b;
    tsl_wbuf_init(&b);
    const char *bad = strstr(quoted_text, "z,2024");
    tsl_wbuf_put(&b, quoted_text, (size_t)(bad - quoted_text));
    tsl_wbuf_puts(&b, strchr(bad, '\n') + 1);
    tsl_dataset *ds = read_text("q.csv", tsl_wbuf_cstr(&b), NULL);
    assert_int_equal(ds->nseries, 2);
    assert_string_equal(ds->series[0].item_id, "x, \"big\" one");
    assert_string_equal(ds->series[0].dims[0], "line1\nline2");
    assert_string_equal(ds->series[1].dims[0], "5\" pipe");
    assert_int_equal(ds->dim_conflicts, 3);
    assert_int_equal(ds->missing_targets, 1);
    assert_int_equal(tsl_dataset_find(ds, "y"), 1);
    assert_int_equal(tsl_dataset_find(ds, "x, \"big\" one"), 0);
    assert_int_equal(tsl_dataset_find(ds, "z"), -1);
    assert_int_equal(tsl_dataset_find(ds, ""), -1);
    tsl_dataset_free(ds);
    tsl_wbuf_release(&b);
}

/* ---- header ---- */

static void test_header(void **state) {
    (void)state;
    /* Case-insensitive, trimmed names; target_value wins over target; empty names ignored. */
    tsl_dataset *ds = read_text("h.csv",
                                ", Item_ID ,TIMESTAMP,target,Target_Value,\n"
                                "0,a,2024-01-01,99,1,\n1,a,2024-01-02,99,2,\n",
                                NULL);
    assert_int_equal(ds->ndims, 1);
    assert_string_equal(ds->dim_names[0], "target");
    assert_true(ds->series[0].y[1] == 2);
    tsl_dataset_free(ds);
    /* Overrides, with a delimiter given (';' is never guessed). */
    tsl_read_opts o;
    memset(&o, 0, sizeof o);
    o.item_col = "store";
    o.time_col = "date";
    o.target_col = "sales";
    o.delim = ';';
    ds = read_text("o.csv", "date;store;sales;target\n2024-01;s1;5;x\n2024-02;s1;6;x\n", &o);
    assert_int_equal(ds->nseries, 1);
    assert_string_equal(ds->series[0].item_id, "s1");
    assert_int_equal(ds->freq.unit, TSL_FREQ_MONTH);
    assert_int_equal(ds->period, 12);
    assert_string_equal(ds->dim_names[0], "target");
    tsl_dataset_free(ds);

    const char *cols = "t.csv:1: the header has no column ";
    char want[512];
    snprintf(want, sizeof want, "%s\"item_id\" (columns: \"id\", \"timestamp\", \"target\")", cols);
    expect_error("id,timestamp,target\na,2024,1\n", NULL, TSL_EPARSE, want);
    snprintf(want, sizeof want, "%s\"timestamp\" (columns: \"item_id\", \"date\", \"target\")",
             cols);
    expect_error("item_id,date,target\na,2024,1\n", NULL, TSL_EPARSE, want);
    snprintf(want, sizeof want,
             "%s\"target_value\" or \"target\" (columns: \"item_id\", \"timestamp\", \"value\")",
             cols);
    expect_error("item_id,timestamp,value\na,2024,1\n", NULL, TSL_EPARSE, want);
    snprintf(want, sizeof want,
             "%s\"item_id\" (columns: \"c1\", \"c2\", \"c3\", \"c4\", \"c5\", \"c6\", \"c7\", "
             "\"c8\", ...)",
             cols);
    memset(&o, 0, sizeof o);
    o.target_col = "sales";
    expect_error("c1,c2,c3,c4,c5,c6,c7,c8,c9,c10\n", &o, TSL_EPARSE, want);
    expect_error("item_id,timestamp,target,Target\na,2024,1,2\n", NULL, TSL_EPARSE,
                 "t.csv:1:4: column \"Target\": the header repeats the name of column 3");
    memset(&o, 0, sizeof o);
    o.time_col = "item_id";
    expect_error("item_id,timestamp,target\na,2024,1\n", &o, TSL_EINVAL,
                 "t.csv: the item, timestamp and target columns must be different columns");
    expect_error("item_id,timestamp,\"tar\"get\"\na,2024,1\n", NULL, TSL_EPARSE,
                 "t.csv:1:3: text after the closing quote of a quoted field");
    expect_error("item_id,timestamp,target,\"\xff\"\na,2024,1,x\n", NULL, TSL_EPARSE,
                 "t.csv:1:4: the column name is not valid UTF-8");
    expect_error("\n\n  \n", NULL, TSL_EPARSE, "t.csv: empty input: expected a header line");
}

/* ---- row errors ---- */

static void test_row_errors(void **state) {
    (void)state;
    const char *hdr = "item_id,timestamp,target\na,2024-01-01,1\n";
    static const struct {
        const char *row;
        const char *want;
    } cases[] = {
        {"a,2024-01-02,\"12,5x\"\n",
         "t.csv:3:3: column \"target\": \"12,5x\" is not a number: expected a decimal number "
         "like 12.5, -3 or 1e6, or nothing, NA or NaN for a missing value"},
        {"a,2024-01-02,inf\n",
         "t.csv:3:3: column \"target\": \"inf\" is not a number: expected a decimal number "
         "like 12.5, -3 or 1e6, or nothing, NA or NaN for a missing value"},
        {"a,2024-01-02,1e999\n",
         "t.csv:3:3: column \"target\": \"1e999\" is not a number: expected a decimal number "
         "like 12.5, -3 or 1e6, or nothing, NA or NaN for a missing value"},
        {"a,01/02/2024,1\n",
         "t.csv:3:2: column \"timestamp\": \"01/02/2024\" is not a valid timestamp: expected "
         "YYYY-MM-DD, YYYY-MM-DD[T ]HH:MM[:SS[.fff]][Z|+HH:MM|-HH:MM], YYYY-MM, YYYY-Qn, YYYY "
         "or epoch seconds"},
        {"a,2024-02-30,1\n", "t.csv:3:2: column \"timestamp\": \"2024-02-30\" is not a valid "
                             "timestamp: day 30 is out of range for 2024-02"},
        {"a,,1\n", "t.csv:3:2: column \"timestamp\": \"\" is not a valid timestamp: empty "
                   "timestamp; expected YYYY-MM-DD, YYYY-MM-DD[T ]HH:MM[:SS[.fff]][Z|+HH:MM|-"
                   "HH:MM], YYYY-MM, YYYY-Qn, YYYY or epoch seconds"},
        {"a,2024-01-02\n", "t.csv:3: the row has 2 fields; the header has 3"},
        {"a,2024-01-02,1,\n", "t.csv:3: the row has 4 fields; the header has 3"},
        {",2024-01-02,1\n", "t.csv:3:1: column \"item_id\": empty item id"},
        {"\"\",2024-01-02,1\n", "t.csv:3:1: column \"item_id\": empty item id"},
        {"\xff"
         "ab,2024-01-02,1\n",
         "t.csv:3:1: column \"item_id\": \"\\xFFab\" is not valid UTF-8"},
        {"a,2024-01-02,\"1\"2\n",
         "t.csv:3:3: column \"target\": text after the closing quote of a quoted field"},
        {"a,2024-01-02,\"1\n2\n",
         "t.csv:3:3: column \"target\": quoted field not closed before the end of the input"},
        {"a,2024-01-02,"
         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
         "t.csv:3:3: column \"target\": \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...\" is not "
         "a number: expected a decimal number like 12.5, -3 or 1e6, or nothing, NA or NaN for "
         "a missing value"},
        {"a,\"2024-01-02\n\",1\n", "t.csv:3:2: column \"timestamp\": \"2024-01-02\\n\" is not "
                                   "a valid timestamp: expected YYYY-MM-DD, YYYY-MM-DD[T "
                                   "]HH:MM[:SS[.fff]][Z|+HH:MM|-HH:MM], YYYY-MM, YYYY-Qn, YYYY "
                                   "or epoch seconds"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tsl_wbuf b;
        tsl_wbuf_init(&b);
        tsl_wbuf_puts(&b, hdr);
        tsl_wbuf_puts(&b, cases[i].row);
        expect_error(tsl_wbuf_cstr(&b), NULL, TSL_EPARSE, cases[i].want);
        tsl_wbuf_release(&b);
    }
    /* A NUL byte: not expressible in a C string literal passed through strlen. */
    const char nul[] = "item_id,timestamp,target\na\0b,2024-01-01,1\n";
    tsl_dataset *ds = NULL;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_dataset_read_mem("t.csv", nul, sizeof nul - 1, NULL, &ds, &d), TSL_EPARSE);
    assert_string_equal(d.msg,
                        "t.csv:2:1: column \"item_id\": NUL byte in a field (is the file UTF-16?)");
    /* The line of a field after a quoted line break is the field's own line. */
    expect_error("item_id,timestamp,target,n\na,\"2024-01-01\",1,\"x\ny\"\na,\"2024-01-02\",1,\"x\n"
                 "y\",\n",
                 NULL, TSL_EPARSE, "t.csv:4: the row has 5 fields; the header has 4");
    expect_error("item_id,timestamp,n,target\na,2024-01-01,\"x\r\n\r\ny\",?\n", NULL, TSL_EPARSE,
                 "t.csv:4:4: column \"target\": \"?\" is not a number: expected a decimal number "
                 "like 12.5, -3 or 1e6, or nothing, NA or NaN for a missing value");
}

/* ---- caps ---- */

static void test_limits(void **state) {
    (void)state;
    const char *text = "item_id,timestamp,target\na,2024-01-01,1\nb,2024-01-01,2\n"
                       "a,2024-01-02,3\n";
    tsl_read_opts o;
    memset(&o, 0, sizeof o);
    o.max_rows = 2;
    expect_error(text, &o, TSL_ELIMIT, "t.csv:4: more than 2 rows");
    memset(&o, 0, sizeof o);
    o.max_items = 1;
    expect_error(text, &o, TSL_ELIMIT, "t.csv:3: more than 1 items");
    memset(&o, 0, sizeof o);
    o.max_columns = 2;
    expect_error(text, &o, TSL_ELIMIT, "t.csv:1: the header has more than 2 columns");
    memset(&o, 0, sizeof o);
    o.max_field = 9;
    expect_error(text, &o, TSL_ELIMIT,
                 "t.csv:2:2: column \"timestamp\": a field is longer than 9 "
                 "bytes");
    o.max_field = 4;
    expect_error(text, &o, TSL_ELIMIT, "t.csv:1:1: a field is longer than 4 bytes");
    memset(&o, 0, sizeof o);
    o.max_line = 23; /* the header is 24 bytes */
    expect_error(text, &o, TSL_ELIMIT,
                 "t.csv:1: a row is longer than 23 bytes (an unclosed "
                 "quote?)");
    o.max_line = 30;
    expect_error("item_id,timestamp,target\na,2024-01-01,1\nabcdefghijklmnopqrstuvwxyz,"
                 "2024-01-01,1\n",
                 &o, TSL_ELIMIT, "t.csv:3: a row is longer than 30 bytes (an unclosed quote?)");
    o.max_line = 40;
    expect_error("item_id,timestamp,target\na,2024-01-01,\"1\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n"
                 "\n\n\n\n\n\n\n\n\n\n\n\n\n",
                 &o, TSL_ELIMIT, "t.csv:2: a row is longer than 40 bytes (an unclosed quote?)");
    o.max_line = 24;
    tsl_dataset *ds = read_text("t.csv", text, &o); /* a row of exactly max_line bytes fits */
    assert_int_equal(ds->rows, 3);
    tsl_dataset_free(ds);
    /* Lenient mode does not relax caps. */
    memset(&o, 0, sizeof o);
    o.max_rows = 1;
    o.on_reject = NULL;
    expect_error(text, &o, TSL_ELIMIT, "t.csv:3: more than 1 rows");
}

/* ---- numbers ---- */

static void expect_number(const char *s, int ok) {
    double v;
    tsl_err e = tsl_csv_parse_number(s, strlen(s), &v);
    if (!ok) {
        if (e != TSL_EPARSE) fail_msg("\"%s\" parsed as %g", s, v);
        return;
    }
    if (e) fail_msg("\"%s\" did not parse", s);
    double want = strtod(s, NULL);
    if (memcmp(&v, &want, sizeof v)) fail_msg("\"%s\": %.17g, strtod %.17g", s, v, want);
}

static void test_numbers(void **state) {
    (void)state;
    const char *good[] = {"0",
                          "-0",
                          "+0",
                          "0.0",
                          "1",
                          "-1",
                          "1.",
                          ".5",
                          "-.5",
                          "+.5e1",
                          "12.5",
                          " 12.5 ",
                          "\t7\t",
                          "1e6",
                          "1E6",
                          "1e+6",
                          "1e-6",
                          "123456789",
                          "9007199254740992",
                          "9007199254740993",
                          "9007199254740995",
                          "18446744073709551615",
                          "1234567890123456789012345",
                          "0.1",
                          "0.3",
                          "2.2250738585072011e-308",
                          "4.9e-324",
                          "1e-400",
                          "1.7976931348623157e308",
                          "1e22",
                          "1e23",
                          "1e30",
                          "123e20",
                          "0.000000000000000000000000000001",
                          "3.14159265358979323846264338",
                          "1089.2",
                          "0000001.5000000",
                          "0e999",
                          "100000000000000000000000"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) expect_number(good[i], 1);
    const char *bad[] = {"",      " ",        "-",   "+",    ".",   "e5",   "1e",  "1e+",
                         "1.2.3", "1,5",      "1 2", "0x10", "inf", "-inf", "nan", "NaN",
                         "1e400", "-1.8e308", "--1", "1e5x", "12a", "١"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) expect_number(bad[i], 0);
    /* Random decimals, against strtod bit for bit. */
    srand(12345);
    char buf[64];
    for (int it = 0; it < 300000; it++) {
        size_t n = 0;
        if (rand() % 4 == 0) buf[n++] = rand() % 2 ? '-' : '+';
        int nd = 1 + rand() % 22, dot = rand() % (nd + 2);
        for (int k = 0; k < nd; k++) {
            if (k == dot) buf[n++] = '.';
            buf[n++] = (char)('0' + (k == 0 && rand() % 3 ? 1 + rand() % 9 : rand() % 10));
        }
        if (rand() % 3 == 0)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "e%d", rand() % 700 - 350);
        buf[n] = '\0';
        double want = strtod(buf, NULL);
        expect_number(buf, isfinite(want));
    }
    /* Targets: missing spellings. */
    const char *missing[] = {"",     "  ",   "NA",  "na",  "NaN",  "nan",  "NAN",
                             "null", "NULL", "N/A", "n/a", "None", "#N/A", " NA "};
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        double v = 0;
        assert_int_equal(tsl_csv_parse_target(missing[i], strlen(missing[i]), &v), TSL_OK);
        assert_true(isnan(v));
    }
    double v;
    assert_int_equal(tsl_csv_parse_target(" -2.5 ", 6, &v), TSL_OK);
    assert_true(v == -2.5);
    const char *nots[] = {"NAs", "nil", "-", "x1", "N/", "#NA"};
    for (size_t i = 0; i < sizeof nots / sizeof nots[0]; i++)
        assert_int_equal(tsl_csv_parse_target(nots[i], strlen(nots[i]), &v), TSL_EPARSE);
}

/* ---- building ---- */

static void test_duplicates_gaps(void **state) {
    (void)state;
    tsl_dataset *ds = read_text("g.csv",
                                "item_id,timestamp,target\n"
                                "s,2024-01-01T00:00:00Z,1\n"
                                "s,2024-01-01T03:00:00Z,4\n"
                                "s,2024-01-01T01:00:00Z,2\n"
                                "s,2024-01-01T03:00:00Z,5\n" /* later duplicate wins */
                                "s,2024-01-01T05:00:00Z,6\n"
                                "s,2024-01-01T05:00:00Z,NA\n" /* even when missing */
                                "s,2024-01-01T01:00:00+00:00,3\n",
                                NULL);
    assert_int_equal(ds->freq.unit, TSL_FREQ_HOUR);
    assert_int_equal(ds->period, 24);
    const double y[] = {1, 3, NAN, 5, NAN, NAN};
    expect_series(ds, 0, "s", "2024-01-01", y, 6);
    assert_int_equal(ds->duplicates, 3);
    assert_int_equal(ds->gap_points, 2);
    assert_int_equal(ds->missing_targets, 1);
    assert_int_equal(tsl_dataset_time(ds, &ds->series[0], 5), 1704085200 + 0);
    tsl_dataset_free(ds);

    /* Month ends, across items, with the time of each value. */
    ds = read_text("m.csv",
                   "item_id,timestamp,target\n"
                   "z,2024-01-31,1\nz,2024-02-29,2\nz,2024-04-30,4\n"
                   "y,2023-11-30,0\n",
                   NULL);
    assert_int_equal(ds->freq.unit, TSL_FREQ_MONTH);
    assert_int_equal(ds->freq.anchor, TSL_FREQ_MONTH_END);
    const double z[] = {1, 2, NAN, 4};
    expect_series(ds, 1, "z", "2024-01-31", z, 4);
    char buf[32];
    tsl_time_format(tsl_dataset_time(ds, &ds->series[1], 2), 1, buf, sizeof buf);
    assert_string_equal(buf, "2024-03-31");
    tsl_dataset_free(ds);
}

static void test_freq_option(void **state) {
    (void)state;
    tsl_read_opts o;
    memset(&o, 0, sizeof o);
    tsl_freq_parse("D", &o.freq, NULL);
    o.period = 5;
    tsl_dataset *ds = read_text("f.csv", "item_id,timestamp,target\na,2024-01-01,1\n", &o);
    assert_int_equal(ds->nseries, 1);
    assert_int_equal(ds->series[0].n, 1);
    assert_int_equal(ds->period, 5);
    tsl_dataset_free(ds);
    expect_error("item_id,timestamp,target\na,2024-01-01,1\na,2024-01-02T12:00:00Z,2\n", &o,
                 TSL_EINVAL,
                 "t.csv: item \"a\": timestamp 2024-01-02T12:00:00Z is not on the daily grid "
                 "starting at its first timestamp, 2024-01-01");
    expect_error("item_id,timestamp,target\na,2024-01-01,1\n", NULL, TSL_ESHORT,
                 "t.csv: cannot infer the frequency: no item has two timestamps (set the "
                 "frequency explicitly)");
    expect_error("item_id,timestamp,target\na,2024-01-01,1\na,2024-01-02,1\na,2024-01-03,1\n"
                 "a,2024-01-03T00:01:00Z,1\na,2024-01-04,1\n",
                 NULL, TSL_EINVAL,
                 "t.csv: timestamps do not fit a regular grid: the most common step is 1 day, "
                 "but item \"a\" has 2024-01-03T00:01:00Z off that step; with them the finest "
                 "grid is per-minute, which would hold 4321 points for 5 timestamps (more than 4 "
                 "per timestamp)");
}

/* ---- lenient mode ---- */

typedef struct rejects {
    size_t n;
    uint64_t lines[8];
    char reasons[8][TSL_DIAG_MAX];
    size_t stop_after; /* 0: never stop */
} rejects;

static int on_reject(void *ctx, uint64_t line, const char *reason) {
    rejects *r = ctx;
    if (r->n < 8) {
        r->lines[r->n] = line;
        tsl_strlcpy(r->reasons[r->n], reason, sizeof r->reasons[0]);
    }
    r->n++;
    return r->stop_after && r->n >= r->stop_after;
}

static void test_reject_callback(void **state) {
    (void)state;
    const char *text = "item_id,timestamp,target\n"
                       "a,2024-01-01,1\n"
                       "a,2024-01-02,x\n"
                       "a,2024-01-02,2\n"
                       "a,2024-01-03\n"
                       "a,\"2024-01-04\n\",4\n"
                       "a,2024-01-05,5\n"
                       ",2024-01-06,6\n"
                       "a,2024-01-07,7\n";
    rejects r;
    memset(&r, 0, sizeof r);
    tsl_read_opts o;
    memset(&o, 0, sizeof o);
    o.on_reject = on_reject;
    o.reject_ctx = &r;
    tsl_dataset *ds = read_text("r.csv", text, &o);
    assert_int_equal(r.n, 4);
    assert_int_equal(ds->rejected, 4);
    assert_int_equal(ds->rows, 4);
    const uint64_t lines[] = {3, 5, 6, 9};
    for (size_t i = 0; i < 4; i++) assert_int_equal(r.lines[i], lines[i]);
    assert_string_equal(r.reasons[1], "r.csv:5: the row has 2 fields; the header has 3");
    assert_string_equal(r.reasons[3], "r.csv:9:1: column \"item_id\": empty item id");
    const double y[] = {1, 2, NAN, NAN, 5, NAN, 7};
    expect_series(ds, 0, "a", "2024-01-01", y, 7);
    assert_int_equal(ds->gap_points, 3);
    tsl_dataset_free(ds);
    /* Returning non-zero stops with that row's error. */
    memset(&r, 0, sizeof r);
    r.stop_after = 2;
    expect_error(text, &o, TSL_EPARSE, "t.csv:5: the row has 2 fields; the header has 3");
    assert_int_equal(r.n, 2);
    /* Every row rejected: no data. */
    memset(&r, 0, sizeof r);
    expect_error("item_id,timestamp,target\na,x,1\n", &o, TSL_EPARSE,
                 "t.csv: no data rows after the header");
}

static void test_dims(void **state) {
    (void)state;
    tsl_dataset *ds = read_text("d.csv",
                                "region,item_id,timestamp,target,store\n"
                                "eu,a,2024-01-01,1,s1\n"
                                "eu,a,2024-01-02,1,s2\n" /* store differs */
                                "us,a,2024-01-03,1,s2\n" /* both differ: one row counted */
                                "eu,a,2024-01-04,1,s1\n"
                                "\"eu\",b,2024-01-01,1,\n"
                                "eu,b,2024-01-02,1,\"\"\n",
                                NULL);
    assert_int_equal(ds->ndims, 2);
    assert_string_equal(ds->dim_names[0], "region");
    assert_string_equal(ds->dim_names[1], "store");
    assert_string_equal(ds->series[0].dims[0], "eu");
    assert_string_equal(ds->series[0].dims[1], "s1");
    assert_string_equal(ds->series[1].dims[1], "");
    assert_int_equal(ds->dim_conflicts, 2);
    tsl_dataset_free(ds);
    /* Without dimension columns. */
    ds = read_text("d.csv", "item_id,timestamp,target\na,2024,1\na,2025,2\n", NULL);
    assert_int_equal(ds->ndims, 0);
    assert_null(ds->series[0].dims);
    assert_int_equal(ds->freq.unit, TSL_FREQ_YEAR);
    tsl_dataset_free(ds);
}

/* Many items, inserted in scrambled order, and unsorted rows per item. */
static void test_many_items(void **state) {
    (void)state;
    tsl_wbuf b;
    tsl_wbuf_init(&b);
    tsl_wbuf_puts(&b, "item_id,timestamp,target\n");
    const size_t items = 5000, steps = 6;
    for (size_t k = 0; k < steps; k++) {
        for (size_t i = 0; i < items; i++) {
            size_t it = (i * 7919) % items, step = (k * 5 + i) % steps;
            tsl_wbuf_printf(&b, "item%zu,%zu,%zu\n", it, 100000 + step * 60, it * 10 + step);
        }
    }
    tsl_dataset *ds = read_text("many.csv", tsl_wbuf_cstr(&b), NULL);
    assert_int_equal(ds->nseries, items);
    assert_int_equal(ds->freq.unit, TSL_FREQ_MINUTE);
    for (size_t s = 1; s < ds->nseries; s++)
        assert_true(strcmp(ds->series[s - 1].item_id, ds->series[s].item_id) < 0);
    for (size_t i = 0; i < items; i += 97) {
        char id[32];
        snprintf(id, sizeof id, "item%zu", i);
        long s = tsl_dataset_find(ds, id);
        assert_true(s >= 0);
        assert_int_equal(ds->series[s].n, steps);
        assert_int_equal(ds->series[s].start, 100000);
        for (size_t k = 0; k < steps; k++) assert_true(ds->series[s].y[k] == (double)(i * 10 + k));
    }
    tsl_dataset_free(ds);
    tsl_wbuf_release(&b);
}

/* ---- buffer boundaries ---- */

/* Reads text through the row API and renders everything it saw into out. */
static void render_rows(const char *text, size_t len, size_t max_line, tsl_wbuf *out) {
    tsl_csv_opts o = {NULL, NULL, NULL, 0, 0, max_line, 0, NULL, 0};
    tsl_csv *c = NULL;
    tsl_diag d = {TSL_OK, {0}};
    tsl_wbuf_reset(out);
    if (tsl_csv_open_mem("b.csv", text, len, &o, &c, &d)) {
        tsl_wbuf_printf(out, "open: %s\n", d.msg);
        return;
    }
    for (;;) {
        const tsl_csv_row *row;
        tsl_err e = tsl_csv_next(c, &row, &d);
        if (e == TSL_EPARSE) {
            tsl_wbuf_printf(out, "reject: %s\n", d.msg);
            continue;
        }
        if (e) {
            tsl_wbuf_printf(out, "fatal: %s\n", d.msg);
            break;
        }
        if (!row) break;
        tsl_wbuf_printf(out, "%llu [%s] %lld %.17g [%s]\n", (unsigned long long)row->line,
                        row->item, (long long)row->time, row->value, row->dims[0]);
    }
    tsl_csv_close(c);
}

static void test_buffer_boundaries(void **state) {
    (void)state;
    static const char *const templates[] = {
        "a@,2024-01-01,1,x\r\n",     "\"b\"\"@\",2024-01-02,2,\"l1\r\nl2\"\r",
        "c@,2024-01-03,3,\"p,q\"\n", "\r\n",
        "d@,2024-01-04, 4 ,\r",      "\"e@\",2024-01-05,\"5\",\"\"\"\"\r\n",
        "f@,2024-01-06,,\"\"\n",     "  g@  ,2024-01-07,7e0,\"\n\n\"\n",
        "h@,2024-01-0x,1,x\n",       "\"i@\",2024-01-08,8,\"a\"\"\"\"b\"\r",
    };
    tsl_wbuf text, ref, got;
    tsl_wbuf_init(&text);
    tsl_wbuf_init(&ref);
    tsl_wbuf_init(&got);
    tsl_wbuf_puts(&text, "\xEF\xBB\xBFitem_id,timestamp,target,n\r\n");
    for (int i = 0; i < 120; i++) {
        char num[16];
        snprintf(num, sizeof num, "%d", i);
        put_subst(&text, templates[(size_t)i % 10], num);
    }
    tsl_wbuf_puts(&text, "z,2024-01-09,9,\"unclosed");
    render_rows((const char *)text.data, text.len, 0, &ref);
    /* Sanity: the reference saw every row and the reject lines. */
    assert_non_null(strstr(tsl_wbuf_cstr(&ref), "[b\"1] 1704153600 2 [l1\r\nl2]"));
    assert_non_null(strstr(tsl_wbuf_cstr(&ref), "reject: b.csv:")); /* the h rows */
    assert_non_null(strstr(tsl_wbuf_cstr(&ref), "quoted field not closed"));
    for (size_t max_line = 34; max_line < 160; max_line++) {
        render_rows((const char *)text.data, text.len, max_line, &got);
        if (strcmp(tsl_wbuf_cstr(&got), tsl_wbuf_cstr(&ref)))
            fail_msg("max_line %zu reads differently:\n%s\nvs\n%s", max_line, tsl_wbuf_cstr(&got),
                     tsl_wbuf_cstr(&ref));
    }
    /* The same through gzip, whose blocks fall elsewhere: make it large. */
    tsl_wbuf_release(&text);
    tsl_wbuf_release(&ref);
    tsl_wbuf_release(&got);
}

/* A row longer than the initial buffer makes it grow; past max_line + the read size, no. */
static void test_long_rows(void **state) {
    (void)state;
    const size_t big = 700 << 10;
    tsl_wbuf b;
    tsl_wbuf_init(&b);
    tsl_wbuf_puts(&b, "item_id,timestamp,target,blob\na,2024-01-01,1,\"");
    for (size_t i = 0; i < big; i++) tsl_wbuf_putc(&b, i % 1000 == 999 ? '\n' : 'x');
    tsl_wbuf_puts(&b, "\"\na,2024-01-02,2,short\n");
    tsl_read_opts o;
    memset(&o, 0, sizeof o);
    o.max_field = 1 << 20;
    tsl_dataset *ds = read_text("long.csv", tsl_wbuf_cstr(&b), &o);
    assert_int_equal(strlen(ds->series[0].dims[0]), big);
    assert_int_equal(ds->dim_conflicts, 1);
    tsl_dataset_free(ds);
    /* The line of the row after it counts the line breaks inside it. */
    tsl_wbuf_puts(&b, "a,2024-01-03,oops,x\n");
    char want[160];
    snprintf(want, sizeof want,
             "t.csv:%zu:3: column \"target\": \"oops\" is not a number: "
             "expected a decimal number like 12.5, -3 or 1e6, or nothing, NA or NaN for a missing "
             "value",
             4 + big / 1000);
    expect_error(tsl_wbuf_cstr(&b), &o, TSL_EPARSE, want);
    o.max_line = 500 << 10;
    expect_error(tsl_wbuf_cstr(&b), &o, TSL_ELIMIT,
                 "t.csv:2: a row is longer than 512000 bytes (an unclosed quote?)");
    tsl_wbuf_release(&b);
}

/* Standard input: a plain stream, a gzip stream, and a zip (read into memory first). */
static void read_stdin_fixture(const char *rel) {
    size_t len;
    char *data = tu_slurp(tu_path(rel), &len);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    assert_true(len < 16384); /* fits the pipe's buffer: no writer process needed */
    assert_int_equal(write(fds[1], data, len), (ssize_t)len);
    close(fds[1]);
    int saved = dup(STDIN_FILENO);
    dup2(fds[0], STDIN_FILENO);
    close(fds[0]);
    tsl_dataset *ds = NULL;
    tsl_diag d = {TSL_OK, {0}};
    tsl_err e = tsl_dataset_read_file("-", NULL, &ds, &d);
    dup2(saved, STDIN_FILENO);
    close(saved);
    tsl_free(data);
    if (e) fail_msg("%s on stdin: %s", rel, d.msg);
    check_basic(ds);
    tsl_dataset_free(ds);
}

static void test_stdin(void **state) {
    (void)state;
    read_stdin_fixture("reader/basic.csv");
    read_stdin_fixture("reader/basic.csv.gz");
    read_stdin_fixture("reader/tts-folder.zip");
    /* Errors name <stdin>. */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    close(fds[1]);
    int saved = dup(STDIN_FILENO);
    dup2(fds[0], STDIN_FILENO);
    close(fds[0]);
    tsl_dataset *ds = NULL;
    tsl_diag d = {TSL_OK, {0}};
    tsl_err e = tsl_dataset_read_file("-", NULL, &ds, &d);
    dup2(saved, STDIN_FILENO);
    close(saved);
    assert_int_equal(e, TSL_EPARSE);
    assert_string_equal(d.msg, "<stdin>: empty input: expected a header line");
}

static void test_option_errors(void **state) {
    (void)state;
    tsl_read_opts o;
    memset(&o, 0, sizeof o);
    o.target_col = "sales";
    expect_error("item_id,timestamp,target\na,2024,1\n", &o, TSL_EPARSE,
                 "t.csv:1: the header has no column \"sales\" (columns: \"item_id\", "
                 "\"timestamp\", \"target\")");
    memset(&o, 0, sizeof o);
    o.max_line = SIZE_MAX / 2;
    expect_error("item_id,timestamp,target\na,2024,1\n", &o, TSL_EINVAL,
                 "reader caps are too large");
    memset(&o, 0, sizeof o);
    o.delim = ' ';
    expect_error("item_id timestamp target\n", &o, TSL_EINVAL,
                 "the delimiter may not be a quote, a line break, a space or a non-ASCII byte");
}

/* ---- the shared real data, when present ---- */

static void test_real_data(void **state) {
    (void)state;
    const char *root = getenv("TSL_SHARED_DATA");
    if (!root) skip();
    char path[4096];
    snprintf(path, sizeof path, "%s/m4weekly_train.csv", root);
    FILE *f = fopen(path, "rb");
    if (!f) skip();
    fclose(f);
    tsl_dataset *ds = NULL;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_dataset_read_file(path, NULL, &ds, &d), TSL_OK);
    assert_int_equal(ds->nseries, 359);
    assert_int_equal(ds->rows, 366912);
    assert_int_equal(ds->freq.unit, TSL_FREQ_WEEK);
    assert_int_equal(ds->period, 52);
    assert_int_equal(ds->gap_points, 0);
    long w1 = tsl_dataset_find(ds, "W1");
    assert_true(w1 >= 0);
    tu_close(ds->series[w1].y[0], 1089.2, 0, 0, "W1[0]");
    tsl_dataset_free(ds);
    snprintf(path, sizeof path, "%s/gefload_train.csv.gz", root);
    assert_int_equal(tsl_dataset_read_file(path, NULL, &ds, &d), TSL_OK);
    assert_int_equal(ds->nseries, 20);
    assert_int_equal(ds->freq.unit, TSL_FREQ_HOUR);
    assert_int_equal(ds->period, 24);
    assert_int_equal(ds->missing_targets, 26880);
    tsl_dataset_free(ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_kinds),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_row_api),
        cmocka_unit_test(test_row_api_fatal),
        cmocka_unit_test(test_quoted_dataset),
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_row_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_duplicates_gaps),
        cmocka_unit_test(test_freq_option),
        cmocka_unit_test(test_reject_callback),
        cmocka_unit_test(test_dims),
        cmocka_unit_test(test_many_items),
        cmocka_unit_test(test_buffer_boundaries),
        cmocka_unit_test(test_long_rows),
        cmocka_unit_test(test_stdin),
        cmocka_unit_test(test_option_errors),
        cmocka_unit_test(test_real_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
