/*
 * test_ndjson.c - the NDJSON observation translator (src/daemon/ndjson.c): records become CSV
 * rows with the header before the first one and NDJSON line k on CSV line k + 1, the CSV
 * reader reads them back as the same observations, and each refusal names the line and field.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/daemon_impl.h"
#include "testutil.h"
#include "tsloop/csv.h"
#include "tsloop/mem.h"

/* Translates the lines of text (split on '\n') into out; returns the first error, its message
 * in msg. */
static tsl_err translate(tsl_ndjson *j, const char *text, tsl_wbuf *out, char *msg, size_t cap) {
    tsl_diag d = {TSL_OK, {0}};
    uint64_t line = 0;
    const char *p = text;
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        tsl_err err = tsl_ndjson_line(j, p, len, ++line, out, &d);
        if (err) {
            snprintf(msg, cap, "%s", d.msg);
            return err;
        }
        p += len + (e ? 1 : 0);
    }
    return TSL_OK;
}

static void test_rows_and_lines(void **state) {
    (void)state;
    const char *dims[] = {"region"};
    tsl_ndjson *j = tsl_ndjson_new("body", "item_id", "timestamp", NULL, dims, 1);
    tsl_wbuf out;
    tsl_wbuf_init(&out);
    char msg[512] = "";
    const char *in = "\n"
                     "{\"item_id\": \"a,\\\"b\", \"timestamp\": \"2026-01-01\", \"target\": 1.5, "
                     "\"region\": \"n\"}\n"
                     "\n"
                     "{\"region\": 7, \"timestamp\": \"2026-01-02\", \"item_id\": 42, \"target\": "
                     "null}\n";
    assert_int_equal(translate(j, in, &out, msg, sizeof msg), TSL_OK);
    assert_int_equal(tsl_ndjson_records(j), 2);
    assert_string_equal(tsl_wbuf_cstr(&out), "\"item_id\",\"timestamp\",\"target\",\"region\"\n"
                                             "\n"
                                             "\"a,\"\"b\",\"2026-01-01\",1.5,\"n\"\n"
                                             "\n"
                                             "42,\"2026-01-02\",,7\n");
    /* The CSV reader reads back the same observations, NDJSON line k on CSV line k + 1. */
    tsl_csv *c = NULL;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_csv_open_mem("body", out.data, out.len, NULL, &c, &d), TSL_OK);
    const tsl_csv_row *r = NULL;
    assert_int_equal(tsl_csv_next(c, &r, &d), TSL_OK);
    assert_non_null(r);
    assert_string_equal(r->item, "a,\"b");
    assert_true(r->value == 1.5);
    assert_int_equal(r->line, 3);
    assert_int_equal(tsl_csv_next(c, &r, &d), TSL_OK);
    assert_string_equal(r->item, "42");
    assert_true(isnan(r->value));
    assert_string_equal(r->dims[0], "7");
    assert_int_equal(r->line, 5);
    tsl_csv_close(c);
    tsl_wbuf_release(&out);
    tsl_ndjson_free(j);
}

static void test_dims_from_first_record(void **state) {
    (void)state;
    tsl_ndjson *j = tsl_ndjson_new("body", "sku", "ts", "qty", NULL, 0);
    tsl_wbuf out;
    tsl_wbuf_init(&out);
    char msg[512] = "";
    assert_int_equal(
        translate(j,
                  "{\"sku\": \"a\", \"ts\": \"2026-01-01\", \"qty\": 1, \"shop\": \"x\"}\n"
                  "{\"sku\": \"a\", \"ts\": \"2026-01-02\", \"qty\": 2}\n",
                  &out, msg, sizeof msg),
        TSL_EPARSE);
    assert_string_equal(msg, "body:2: field 'shop' (a dimension) is missing");
    assert_string_equal(tsl_wbuf_cstr(&out),
                        "\"sku\",\"ts\",\"qty\",\"shop\"\n\"a\",\"2026-01-01\",1,\"x\"\n");
    tsl_wbuf_release(&out);
    tsl_ndjson_free(j);
}

/* One line's refusal message. */
static void refused(const char *line, const char *want) {
    const char *dims[] = {"region"};
    tsl_ndjson *j = tsl_ndjson_new("body", "item_id", "timestamp", "target_value", dims, 1);
    tsl_wbuf out;
    tsl_wbuf_init(&out);
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_ndjson_line(j, line, strlen(line), 3, &out, &d), TSL_EPARSE);
    assert_string_equal(d.msg, want);
    assert_int_equal(out.len, 0);
    assert_int_equal(tsl_ndjson_records(j), 0);
    tsl_wbuf_release(&out);
    tsl_ndjson_free(j);
}

static void test_refusals(void **state) {
    (void)state;
    refused("[1]", "body:3: expected one JSON object per line, e.g. {\"item_id\": \"a\", "
                   "\"timestamp\": \"2024-01-01\", \"target\": 1.5}");
    refused("{\"timestamp\": \"2026-01-01\", \"region\": \"n\"}",
            "body:3: field 'item_id' is missing");
    refused("{\"item_id\": \"a\", \"region\": \"n\"}", "body:3: field 'timestamp' is missing");
    refused("{\"item_id\": \"a\", \"timestamp\": \"2026-01-01\"}",
            "body:3: field 'region' (a dimension) is missing");
    refused("{\"item_id\": \"a\", \"timestamp\": \"t\", \"region\": \"n\", \"x\": 1}",
            "body:3: field 'x' is not a column (expected item_id, timestamp, target_value and the "
            "dimensions of the declaration)");
    refused(
        "{\"item_id\": \"a\", \"timestamp\": \"t\", \"region\": \"n\", \"target_value\": \"1\"}",
        "body:3: field 'target_value': expected a number or null, got a string");
    refused("{\"item_id\": 1.5, \"timestamp\": \"t\", \"region\": \"n\"}",
            "body:3: field 'item_id': expected a string or an integer, got a number");
    refused("{\"item_id\": \"a\", \"timestamp\": 5, \"region\": \"n\"}",
            "body:3: field 'timestamp': expected a string, got a number");
    refused("{\"item_id\": \"a\\nb\", \"timestamp\": \"t\", \"region\": \"n\"}",
            "body:3: field 'item_id': control character 0x0a in the value; expected printable "
            "text");
    refused("{\"item_id\": \"a\", \"timestamp\": \"t\", \"region\": [1]}",
            "body:3: field 'region': expected a string or a number, got an array");
    refused("{\"item_id\": \"a\", \"item_id\": \"b\", \"timestamp\": \"t\", \"region\": \"n\"}",
            "body:3:26: not a JSON object: duplicate object key near '\"item_id\"'");
}

/* Keys are matched as the CSV reader matches header names: ignoring case; keys the reader
 * would merge, trim or ignore are refused. */
static void test_keys_as_the_reader_sees_them(void **state) {
    (void)state;
    const char *dims[] = {"region"};
    tsl_ndjson *j = tsl_ndjson_new("body", "item_id", "timestamp", NULL, dims, 1);
    tsl_wbuf out;
    tsl_wbuf_init(&out);
    char msg[512] = "";
    assert_int_equal(translate(j,
                               "{\"Item_ID\": \"a\", \"TIMESTAMP\": \"2026-01-01\", "
                               "\"Target_Value\": 2, \"Region\": \"n\"}\n",
                               &out, msg, sizeof msg),
                     TSL_OK);
    assert_string_equal(tsl_wbuf_cstr(&out),
                        "\"item_id\",\"timestamp\",\"target_value\",\"region\"\n"
                        "\"a\",\"2026-01-01\",2,\"n\"\n");
    tsl_wbuf_release(&out);
    tsl_ndjson_free(j);
    refused("{\"item_id\": \"a\", \"timestamp\": \"t\", \"region\": \"n\", \"REGION\": \"m\"}",
            "body:3: fields 'region' and 'REGION' differ only in case (column names are matched "
            "ignoring case)");
    refused("{\"item_id\": \"a\", \"timestamp\": \"t\", \"region \": \"n\"}",
            "body:3: field name \"region \": expected a column name, not empty, without control "
            "characters or surrounding spaces");
}

static void test_fix_receipt(void **state) {
    (void)state;
    tsl_ndjson *j = tsl_ndjson_new("body", NULL, NULL, NULL, NULL, 0);
    tsl_store_receipt r;
    memset(&r, 0, sizeof r);
    r.nrejects = 2;
    r.rejects = tsl_calloc(2, sizeof *r.rejects);
    r.rejects[0] = (tsl_store_reject){5, tsl_strdup("body:5:2: column 'timestamp': bad")};
    r.rejects[1] = (tsl_store_reject){9, tsl_strdup("other text")};
    tsl_ndjson_fix_receipt(j, &r);
    assert_int_equal(r.rejects[0].line, 4);
    assert_string_equal(r.rejects[0].reason, "body:4:2: column 'timestamp': bad");
    assert_int_equal(r.rejects[1].line, 8);
    assert_string_equal(r.rejects[1].reason, "other text");
    tsl_store_receipt_release(&r);
    tsl_diag d = {TSL_EPARSE, "body:12: something"};
    tsl_ndjson_fix_message(j, &d);
    assert_string_equal(d.msg, "body:11: something");
    tsl_ndjson_free(j);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_and_lines), cmocka_unit_test(test_dims_from_first_record),
        cmocka_unit_test(test_refusals),       cmocka_unit_test(test_keys_as_the_reader_sees_them),
        cmocka_unit_test(test_fix_receipt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
