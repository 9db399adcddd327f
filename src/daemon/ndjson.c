/*
 * ndjson.c - observations as NDJSON lines, turned into the CSV rows `tsloop ingest` reads.
 *
 * POST /v1/datasets/{name}/observations takes CSV or NDJSON. Rather than a second ingest path,
 * an NDJSON body is translated line by line into CSV and handed to the same tsl_ingest_file
 * that ingests files: the same upsert, the same rejections, the same receipt. This file is the
 * translation, and its job is to refuse what the CSV could not say faithfully, with the line
 * and the field:
 *
 * - a line that is not one JSON object (jansson's message and column), a key given twice;
 * - a key that is not a column (keys are matched ignoring ASCII case, as the CSV reader matches
 *   header names; two keys of a record that differ only in case, and empty keys or keys with
 *   surrounding spaces, which the reader would trim or ignore, are refused): with
 *   declared dimensions, exactly the declared ones; without,
 *   the first record's extra keys fix the dimensions and every later record must bring the
 *   same ones, since a CSV has one header;
 * - the item (string or integer), the timestamp (string) and the dimension values (string or
 *   number) must be present; the target is a number or null (a missing value);
 * - control characters in strings, because a line break inside a quoted CSV field would move
 *   every later line number and break the promise that receipts name NDJSON lines.
 *
 * Line numbers. The CSV gets its header as line 1 and NDJSON line k as CSV line k + 1: blank
 * NDJSON lines become blank CSV lines (the reader skips and counts them), and blank lines
 * before the first record are held back until the header is written. The caller subtracts one
 * from the lines the CSV reader reports (tsl_ndjson_fix_receipt).
 *
 * What is left to the CSV reader - timestamp syntax, the target's range, non_negative - is
 * judged there, per row, as for a file.
 */
#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/daemon_impl.h"
#include "tsloop/mem.h"

struct tsl_ndjson {
    char *name; /* the input's name in messages ("body") */
    char *item, *time, *target;
    char **dims; /* fixed by the declaration or by the first record */
    size_t ndims;
    int declared;         /* dims came from the declaration */
    int started;          /* the header was written */
    uint64_t held_blanks; /* blank lines before the first record */
    uint64_t records;
};

tsl_ndjson *tsl_ndjson_new(const char *name, const char *item_col, const char *time_col,
                           const char *target_col, const char *const *dims, size_t ndims) {
    tsl_ndjson *j = tsl_calloc(1, sizeof *j);
    j->name = tsl_strdup(name ? name : "body");
    j->item = tsl_strdup(item_col ? item_col : "item_id");
    j->time = tsl_strdup(time_col ? time_col : "timestamp");
    j->target = target_col ? tsl_strdup(target_col) : NULL;
    j->declared = ndims > 0;
    if (ndims) {
        j->dims = tsl_calloc(ndims, sizeof *j->dims);
        for (size_t i = 0; i < ndims; i++) j->dims[i] = tsl_strdup(dims[i]);
        j->ndims = ndims;
    }
    return j;
}

void tsl_ndjson_free(tsl_ndjson *j) {
    if (!j) return;
    for (size_t i = 0; i < j->ndims; i++) tsl_free(j->dims[i]);
    tsl_free(j->dims);
    tsl_free(j->name);
    tsl_free(j->item);
    tsl_free(j->time);
    tsl_free(j->target);
    tsl_free(j);
}

uint64_t tsl_ndjson_records(const tsl_ndjson *j) {
    return j->records;
}

/* Appends s (len bytes) as a quoted CSV field. */
static void put_quoted(tsl_wbuf *b, const char *s, size_t len) {
    tsl_wbuf_putc(b, '"');
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"') tsl_wbuf_putc(b, '"');
        tsl_wbuf_putc(b, s[i]);
    }
    tsl_wbuf_putc(b, '"');
}

/* The value of key in o, the key matched ignoring ASCII case (NULL when absent). */
static json_t *get_ci(json_t *o, const char *key) {
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        if (!strcasecmp(k, key)) return v;
    }
    return NULL;
}

/* The target key of a record: the declared one, else "target_value" or "target" - in the CSV
 * reader's order of preference, so that the reader takes the same column as the target. */
static const char *target_key(const tsl_ndjson *j, json_t *o) {
    if (j->target) return j->target;
    if (get_ci(o, "target_value")) return "target_value";
    return "target";
}

/* 1 when key is the item, timestamp or target key. */
static int is_fixed(const tsl_ndjson *j, const char *key, const char *tkey) {
    return !strcasecmp(key, j->item) || !strcasecmp(key, j->time) || !strcasecmp(key, tkey);
}

/* Appends value v of field key (a string, or a number when numbers_ok) as a quoted CSV field;
 * TSL_EPARSE naming the line and field otherwise. */
static tsl_err put_text(const tsl_ndjson *j, uint64_t line, const char *key, json_t *v,
                        int numbers_ok, tsl_wbuf *b, tsl_diag *d) {
    char num[40];
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
                return tsl_diag_set(d, TSL_EPARSE,
                                    "%s:%llu: field '%s': control character 0x%02x in the value; "
                                    "expected printable text",
                                    j->name, (unsigned long long)line, key, (unsigned char)s[i]);
        put_quoted(b, s, len);
        return TSL_OK;
    }
    if (numbers_ok && json_is_integer(v)) {
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        tsl_wbuf_puts(b, num);
        return TSL_OK;
    }
    if (numbers_ok == 2 && json_is_real(v)) {
        snprintf(num, sizeof num, "%.17g", json_real_value(v));
        tsl_wbuf_puts(b, num);
        return TSL_OK;
    }
    return tsl_diag_set(d, TSL_EPARSE, "%s:%llu: field '%s': expected %s, got %s", j->name,
                        (unsigned long long)line, key,
                        numbers_ok == 2 ? "a string or a number"
                        : numbers_ok    ? "a string or an integer"
                                        : "a string",
                        json_is_null(v)      ? "null"
                        : json_is_boolean(v) ? "a boolean"
                        : json_is_number(v)  ? "a number"
                        : json_is_array(v)   ? "an array"
                        : json_is_object(v)  ? "an object"
                                             : "a string");
}

/* Fixes the dimensions from the first record's extra keys (no declaration). */
static void take_dims(tsl_ndjson *j, json_t *o, const char *tkey) {
    const char *key;
    json_t *v;
    size_t n = 0;
    json_object_foreach(o, key, v) {
        if (!is_fixed(j, key, tkey)) n++;
    }
    j->dims = tsl_calloc(n ? n : 1, sizeof *j->dims);
    json_object_foreach(o, key, v) {
        if (!is_fixed(j, key, tkey)) j->dims[j->ndims++] = tsl_strdup(key);
    }
}

/* Writes the CSV header and the blank lines held back. */
static void put_header(tsl_ndjson *j, const char *tkey, tsl_wbuf *out) {
    put_quoted(out, j->item, strlen(j->item));
    tsl_wbuf_putc(out, ',');
    put_quoted(out, j->time, strlen(j->time));
    tsl_wbuf_putc(out, ',');
    put_quoted(out, tkey, strlen(tkey));
    for (size_t i = 0; i < j->ndims; i++) {
        tsl_wbuf_putc(out, ',');
        put_quoted(out, j->dims[i], strlen(j->dims[i]));
    }
    tsl_wbuf_putc(out, '\n');
    for (uint64_t i = 0; i < j->held_blanks; i++) tsl_wbuf_putc(out, '\n');
    j->held_blanks = 0;
    j->started = 1;
}

/* 1 when [p, p+len) is only spaces, tabs and a trailing CR. */
static int blank(const char *p, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r') return 0;
    return 1;
}

tsl_err tsl_ndjson_line(tsl_ndjson *j, const char *line, size_t len, uint64_t lineno, tsl_wbuf *out,
                        tsl_diag *d) {
    tsl_err err = TSL_OK;
    json_t *o = NULL;
    tsl_wbuf row;
    tsl_wbuf_init(&row);
    if (blank(line, len)) {
        if (j->started)
            tsl_wbuf_putc(out, '\n');
        else
            j->held_blanks++;
        goto out;
    }
    json_error_t je;
    o = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (!o) {
        err = tsl_diag_set(d, TSL_EPARSE, "%s:%llu:%d: not a JSON object: %s", j->name,
                           (unsigned long long)lineno, je.column, je.text);
        goto out;
    }
    if (!json_is_object(o)) {
        err = tsl_diag_set(d, TSL_EPARSE,
                           "%s:%llu: expected one JSON object per line, e.g. {\"%s\": \"a\", "
                           "\"%s\": \"2024-01-01\", \"target\": 1.5}",
                           j->name, (unsigned long long)lineno, j->item, j->time);
        goto out;
    }
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        size_t kl = strlen(key), c = 0;
        while (c < kl && (unsigned char)key[c] >= 0x20 && key[c] != 0x7f) c++;
        if (!kl || c < kl || isspace((unsigned char)key[0]) ||
            isspace((unsigned char)key[kl - 1])) {
            /* The CSV reader trims header names and ignores empty ones; a line break
             * in a header field would move every line number. */
            err = tsl_diag_set(d, TSL_EPARSE,
                               "%s:%llu: field name \"%.64s\": expected a column name, not empty, "
                               "without control characters or surrounding spaces",
                               j->name, (unsigned long long)lineno, key);
            goto out;
        }
        const char *k2;
        json_t *v2;
        json_object_foreach(o, k2, v2) {
            if (k2 != key && !strcasecmp(k2, key)) {
                err = tsl_diag_set(d, TSL_EPARSE,
                                   "%s:%llu: fields '%s' and '%s' differ only in case (column "
                                   "names are matched ignoring case)",
                                   j->name, (unsigned long long)lineno, key, k2);
                goto out;
            }
        }
    }
    const char *tkey = target_key(j, o);
    const char *fixed[2] = {j->item, j->time};
    for (int k = 0; k < 2; k++)
        if (!get_ci(o, fixed[k])) {
            err = tsl_diag_set(d, TSL_EPARSE, "%s:%llu: field '%s' is missing", j->name,
                               (unsigned long long)lineno, fixed[k]);
            goto out;
        }
    if (!j->started && !j->declared) take_dims(j, o, tkey);
    json_object_foreach(o, key, v) {
        if (is_fixed(j, key, tkey)) continue;
        size_t i = 0;
        while (i < j->ndims && strcasecmp(key, j->dims[i])) i++;
        if (i == j->ndims) {
            err = tsl_diag_set(
                d, TSL_EPARSE, "%s:%llu: field '%s' is not a column (expected %s, %s, %s%s%s)",
                j->name, (unsigned long long)lineno, key, j->item, j->time, tkey,
                j->ndims ? " and the dimensions of " : "",
                j->ndims ? (j->declared ? "the declaration" : "the first record") : "");
            goto out;
        }
    }
    if ((err = put_text(j, lineno, j->item, get_ci(o, j->item), 1, &row, d))) goto out;
    tsl_wbuf_putc(&row, ',');
    if ((err = put_text(j, lineno, j->time, get_ci(o, j->time), 0, &row, d))) goto out;
    tsl_wbuf_putc(&row, ',');
    json_t *t = get_ci(o, tkey);
    if (json_is_number(t)) {
        char num[40];
        snprintf(num, sizeof num, "%.17g", json_number_value(t));
        tsl_wbuf_puts(&row, num);
    } else if (t && !json_is_null(t)) {
        err = tsl_diag_set(d, TSL_EPARSE, "%s:%llu: field '%s': expected a number or null, got %s",
                           j->name, (unsigned long long)lineno, tkey,
                           json_is_string(t)    ? "a string"
                           : json_is_boolean(t) ? "a boolean"
                           : json_is_array(t)   ? "an array"
                                                : "an object");
        goto out;
    }
    for (size_t i = 0; i < j->ndims; i++) {
        json_t *dv = get_ci(o, j->dims[i]);
        if (!dv) {
            err = tsl_diag_set(d, TSL_EPARSE, "%s:%llu: field '%s' (a dimension) is missing",
                               j->name, (unsigned long long)lineno, j->dims[i]);
            goto out;
        }
        tsl_wbuf_putc(&row, ',');
        if ((err = put_text(j, lineno, j->dims[i], dv, 2, &row, d))) goto out;
    }
    tsl_wbuf_putc(&row, '\n');
    if (!j->started) put_header(j, tkey, out);
    tsl_wbuf_put(out, row.data, row.len);
    j->records++;
out:
    json_decref(o);
    tsl_wbuf_release(&row);
    return err;
}

/* Rewrites "NAME:N" at the start of reason to "NAME:N-1" (a CSV line to its NDJSON line). */
static char *fix_reason(const char *name, const char *reason) {
    size_t nl = strlen(name);
    if (strncmp(reason, name, nl) || reason[nl] != ':') return tsl_strdup(reason);
    char *end = NULL;
    unsigned long long ln = strtoull(reason + nl + 1, &end, 10);
    if (end == reason + nl + 1 || ln < 2) return tsl_strdup(reason);
    tsl_wbuf b;
    tsl_wbuf_init(&b);
    tsl_wbuf_printf(&b, "%s:%llu%s", name, ln - 1, end);
    char *s = tsl_strdup(tsl_wbuf_cstr(&b));
    tsl_wbuf_release(&b);
    return s;
}

void tsl_ndjson_fix_receipt(const tsl_ndjson *j, tsl_store_receipt *r) {
    for (size_t i = 0; i < r->nrejects; i++) {
        if (r->rejects[i].line > 1) r->rejects[i].line--;
        char *s = fix_reason(j->name, r->rejects[i].reason);
        tsl_free(r->rejects[i].reason);
        r->rejects[i].reason = s;
    }
}

void tsl_ndjson_fix_message(const tsl_ndjson *j, tsl_diag *d) {
    if (!d) return;
    char *s = fix_reason(j->name, d->msg);
    tsl_strlcpy(d->msg, s, sizeof d->msg);
    tsl_free(s);
}
