/*
 * csv.c - the streaming row reader and the number parser (see csv.h).
 *
 * Buffering. Decompressed bytes land in one buffer; [pos, end) is what has not been parsed
 * yet. A row is scanned in place, and only when its end (a line break outside quotes, or the
 * end of the input) is in the buffer is it accepted. If the buffer runs out first, the scan is
 * abandoned, the unparsed tail is moved to the front, more is read, and the row is scanned
 * again from its start. Rows are short next to the buffer, so rescans are rare and cheap, and
 * they keep the scanner free of saved state: everything it learns lives in locals until the
 * row is complete. The buffer grows only for a row longer than it, up to the line cap, which
 * is what bounds memory for hostile input.
 *
 * Scanning does not modify the buffer (an abandoned scan must leave it as it was). Once a row
 * is complete, quoted fields holding "" are collapsed in place and every field is terminated
 * with a NUL written over the byte after it (a delimiter, a line break, a closing quote, or the
 * spare byte past the end of the buffer), so rows are handed out with zero copies. The spare
 * byte also serves as a sentinel: an unquoted field is scanned with a table lookup per byte
 * until a delimiter, line break or NUL, without a bounds check in the loop.
 *
 * Errors in a row (a bad field, a stray quote, a wrong field count) are recorded while
 * scanning continues to the row's end, so that the row can be reported and skipped: lenient
 * callers go on with the next row. Caps and I/O errors are fatal and sticky.
 *
 * Numbers. Targets are most of the parsing work, so they get a fast path that is still exact:
 * a decimal with at most 19 significant digits is an integer m times 10^e; when m <= 2^53 and
 * |e| <= 22 both m and 10^e are exact doubles, and one IEEE multiplication or division rounds
 * the exact product correctly - the same double strtod returns (Clinger, "How to read floating
 * point numbers accurately", PLDI 1990). Everything else (long mantissas, large exponents) is
 * handed to strtod itself. Either way the result equals strtod's.
 */
#include "tsloop/csv.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/source.h"
#include "core/text.h"
#include "tsloop/mem.h"
#include "tsloop/time.h"

/* The buffer starts at this size (or max_line + the read size when smaller) and grows for
 * longer rows up to max_line + the read size, which is READ_MIN, or max_line when that is
 * smaller: a tiny line cap gives a tiny buffer, which is how the tests and the fuzzer reach
 * every buffer boundary with small inputs. */
#define BUF_INITIAL ((size_t)256 << 10)
#define READ_MIN    ((size_t)64 << 10)
/* Header names listed in a "no such column" message. */
#define LISTED_COLUMNS 8

enum { SCAN_ROW, SCAN_MORE, SCAN_END };

typedef struct field {
    char *p;
    size_t len;
    uint64_t line; /* line the field starts on */
    unsigned char quoted, escaped;
} field;

struct tsl_csv {
    tsl_src *src;
    const char *name;
    char delim;
    size_t max_field, max_line, max_columns;

    char *buf;       /* cap bytes plus the sentinel */
    size_t read_min; /* the least free space a read gets */
    size_t cap, pos, end;
    int eof;
    int pending_cr; /* the last row ended in CR at the buffer's end: skip an LF next */
    uint64_t line;  /* line of buf[pos] */
    unsigned char stop_unquoted[256], stop_quoted[256];

    field *f; /* the current row's fields, at most max_columns + 1 recorded */
    size_t fcap, nf;
    uint64_t row_line;

    /* The first error found while scanning the current row. */
    const char *rerr;
    size_t rerr_col;
    uint64_t rerr_line;

    size_t ncols;
    char **col_names; /* ncols header names, trimmed; "" for ignored columns */
    size_t item_idx, time_idx, target_idx;
    int items_only; /* tsl_csv_opts.items_only: time_idx and target_idx are not read */
    size_t ndims;
    size_t *dim_idx;
    const char **dim_vals;
    size_t *dim_lens;
    tsl_csv_row row;

    tsl_err fatal; /* sticky: the error that ended the reading */
    tsl_diag fatal_diag;
    uint64_t last_line;
};

/* ---- numbers ---- */

static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* ASCII digit test, independent of the locale (isdigit is not). */
static int is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* strtod on [s, s + len), which the caller has checked to be a plain decimal. */
static tsl_err number_slow(const char *s, size_t len, double *out) {
    char small[128];
    char *copy = len < sizeof small ? small : tsl_malloc(len + 1);
    memcpy(copy, s, len);
    copy[len] = '\0';
    char *end;
    double v = strtod(copy, &end);
    tsl_err err = (end == copy + len && isfinite(v)) ? TSL_OK : TSL_EPARSE;
    if (copy != small) tsl_free(copy);
    if (!err) *out = v;
    return err;
}

tsl_err tsl_csv_parse_number(const char *s, size_t len, double *out) {
    const char *p = s, *e = s + len;
    while (p < e && (*p == ' ' || *p == '\t')) p++;
    while (e > p && (e[-1] == ' ' || e[-1] == '\t')) e--;
    const char *start = p;
    int neg = 0;
    if (p < e && (*p == '+' || *p == '-')) neg = *p++ == '-';
    uint64_t m = 0;
    int nd = 0, digits = 0, dropped = 0;
    int64_t exp10 = 0;
    for (; p < e && is_digit(*p); p++) {
        unsigned dg = (unsigned)(*p - '0');
        digits = 1;
        if (nd < 19) {
            if (m || dg) {
                m = m * 10 + dg;
                nd++;
            }
        } else {
            exp10++;
            dropped |= dg != 0;
        }
    }
    if (p < e && *p == '.') {
        for (p++; p < e && is_digit(*p); p++) {
            unsigned dg = (unsigned)(*p - '0');
            digits = 1;
            if (nd < 19) {
                if (m || dg) {
                    m = m * 10 + dg;
                    nd++;
                }
                exp10--;
            } else {
                dropped |= dg != 0;
            }
        }
    }
    if (!digits) return TSL_EPARSE;
    if (p < e && (*p == 'e' || *p == 'E')) {
        int eneg = 0;
        p++;
        if (p < e && (*p == '+' || *p == '-')) eneg = *p++ == '-';
        if (p == e || !is_digit(*p)) return TSL_EPARSE;
        int64_t ev = 0;
        for (; p < e && is_digit(*p); p++)
            if (ev < 100000) ev = ev * 10 + (*p - '0'); /* beyond it the result is 0 or inf */
        exp10 += eneg ? -ev : ev;
    }
    if (p != e) return TSL_EPARSE;
    if (m == 0) {
        *out = neg ? -0.0 : 0.0;
        return TSL_OK;
    }
#if FLT_EVAL_METHOD == 0
    if (!dropped && m <= (UINT64_C(1) << 53)) {
        double v;
        if (exp10 >= 0 && exp10 <= 22) {
            v = (double)m * pow10_exact[exp10];
        } else if (exp10 < 0 && exp10 >= -22) {
            v = (double)m / pow10_exact[-exp10];
        } else if (exp10 > 22 && exp10 <= 22 + 16) {
            /* 1e30 is 1e8 * 1e22: move the excess into m while m stays exact. */
            for (; exp10 > 22 && m <= (UINT64_C(1) << 53) / 10; exp10--) m *= 10;
            if (exp10 > 22) return number_slow(start, (size_t)(e - start), out);
            v = (double)m * pow10_exact[22];
        } else {
            return number_slow(start, (size_t)(e - start), out);
        }
        *out = neg ? -v : v;
        return TSL_OK;
    }
#endif
    return number_slow(start, (size_t)(e - start), out);
}

/* The spellings of a missing value, compared ASCII case-insensitively. */
static int is_missing_word(const char *p, size_t n) {
    static const char *const words[] = {"NA", "NaN", "null", "N/A", "None", "#N/A"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        const char *w = words[i];
        if (strlen(w) != n) continue;
        size_t k = 0;
        for (; k < n; k++) {
            char a = p[k], b = w[k];
            if (a >= 'A' && a <= 'Z') a = (char)(a + 32);
            if (b >= 'A' && b <= 'Z') b = (char)(b + 32);
            if (a != b) break;
        }
        if (k == n) return 1;
    }
    return 0;
}

tsl_err tsl_csv_parse_target(const char *s, size_t len, double *out) {
    const char *p = s, *e = s + len;
    while (p < e && (*p == ' ' || *p == '\t')) p++;
    while (e > p && (e[-1] == ' ' || e[-1] == '\t')) e--;
    if (p == e || ((*p < '0' || *p > '9') && *p != '-' && *p != '+' && *p != '.')) {
        if (p != e && !is_missing_word(p, (size_t)(e - p))) return TSL_EPARSE;
        *out = NAN;
        return TSL_OK;
    }
    return tsl_csv_parse_number(p, (size_t)(e - p), out);
}

/* ---- messages ---- */

static const char target_expected[] =
    "expected a decimal number like 12.5, -3 or 1e6, or nothing, NA or NaN for a missing value";

/* A row-level error: "<name>:<line>:<col>: column "<name>": <body>", or without the column
 * parts when col is 0. */
static tsl_err row_fail(const tsl_csv *c, tsl_diag *d, tsl_err code, uint64_t line, size_t col,
                        const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static tsl_err row_fail(const tsl_csv *c, tsl_diag *d, tsl_err code, uint64_t line, size_t col,
                        const char *fmt, ...) {
    char body[TSL_DIAG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    unsigned long long ln = (unsigned long long)line;
    if (!col) return tsl_diag_set(d, code, "%s:%llu: %s", c->name, ln, body);
    if (col <= c->ncols && c->col_names && c->col_names[col - 1] && c->col_names[col - 1][0]) {
        char q[TSL_TEXT_QUOTE_CAP];
        const char *cn = c->col_names[col - 1];
        return tsl_diag_set(d, code, "%s:%llu:%zu: column %s: %s", c->name, ln, col,
                            tsl_text_quote(q, sizeof q, cn, strlen(cn)), body);
    }
    return tsl_diag_set(d, code, "%s:%llu:%zu: %s", c->name, ln, col, body);
}

/* ---- buffer and scanner ---- */

/* Moves the unparsed bytes to the front and reads more, growing the buffer when a row
 * already fills it. */
static tsl_err refill(tsl_csv *c, tsl_diag *d) {
    if (c->pos > 0) {
        memmove(c->buf, c->buf + c->pos, c->end - c->pos);
        c->end -= c->pos;
        c->pos = 0;
    }
    if (c->cap - c->end < c->read_min) {
        size_t limit = c->max_line + c->read_min;
        if (c->cap >= limit)
            return row_fail(c, d, TSL_ELIMIT, c->line, 0,
                            "a row is longer than %zu bytes (an unclosed quote?)", c->max_line);
        size_t cap = c->cap * 2 < limit ? c->cap * 2 : limit;
        c->buf = tsl_realloc(c->buf, cap + 1);
        c->cap = cap;
    }
    size_t got;
    tsl_err err = tsl_src_read(c->src, c->buf + c->end, c->cap - c->end, &got, d);
    if (err) return err;
    if (got == 0) c->eof = 1;
    c->end += got;
    return TSL_OK;
}

/* Records the first error of the current row (a static string) and where it is. */
static void row_error(tsl_csv *c, size_t col, uint64_t line, const char *what) {
    if (c->rerr) return;
    c->rerr = what;
    c->rerr_col = col;
    c->rerr_line = line;
}

/* Whether ch is trimmed around unquoted fields: space, and tab unless it delimits. */
static int is_pad(const tsl_csv *c, char ch) {
    return ch == ' ' || (ch == '\t' && c->delim != '\t');
}

/* Scans the row at pos (see the file comment). *st is SCAN_ROW with the fields in c->f,
 * SCAN_MORE when the buffer ends first, SCAN_END at the end of the input. */
static tsl_err scan_row(tsl_csv *c, int *st, tsl_diag *d) {
    char *b = c->buf;
    size_t i = c->pos;
    const size_t e = c->end;
    const int eof = c->eof;
    b[e] = '\0'; /* the sentinel */
    if (c->pending_cr) {
        if (i == e && !eof) goto more;
        if (i < e && b[i] == '\n') i++;
        c->pending_cr = 0;
        c->pos = i;
    }
    if (i == e) {
        *st = eof ? SCAN_END : SCAN_MORE;
        return TSL_OK;
    }
    uint64_t line = c->line;
    size_t nf = 0;
    int pending_cr = 0;
    c->rerr = NULL;
    for (;;) {
        field fl;
        while (i < e && is_pad(c, b[i])) i++;
        fl.line = line;
        if (i < e && b[i] == '"') {
            size_t fs = ++i;
            int esc = 0;
            for (;;) {
                while (!c->stop_quoted[(unsigned char)b[i]]) i++;
                if (i >= e) {
                    if (!eof) goto more;
                    row_error(c, nf + 1, fl.line,
                              "quoted field not closed before the end of the input");
                    break;
                }
                char ch = b[i];
                if (ch == '"') {
                    if (i + 1 < e) {
                        if (b[i + 1] != '"') break;
                        esc = 1;
                        i += 2;
                        continue;
                    }
                    if (!eof) goto more;
                    break;
                }
                if (ch == '\n') {
                    line++;
                    i++;
                } else if (ch == '\r') {
                    if (i + 1 >= e && !eof) goto more;
                    line++;
                    i++;
                    if (i < e && b[i] == '\n') i++;
                } else {
                    row_error(c, nf + 1, line, "NUL byte in a field (is the file UTF-16?)");
                    i++;
                }
            }
            fl.p = b + fs;
            fl.len = i - fs;
            fl.quoted = 1;
            fl.escaped = (unsigned char)esc;
            if (i < e) i++; /* the closing quote */
            while (i < e && is_pad(c, b[i])) i++;
            if (i < e && b[i] != c->delim && b[i] != '\n' && b[i] != '\r') {
                row_error(c, nf + 1, line, "text after the closing quote of a quoted field");
                for (;;) {
                    while (!c->stop_unquoted[(unsigned char)b[i]]) i++;
                    if (i < e && b[i] == '\0') {
                        i++;
                        continue;
                    }
                    break;
                }
            }
        } else {
            size_t fs = i;
            for (;;) {
                while (!c->stop_unquoted[(unsigned char)b[i]]) i++;
                if (i < e && b[i] == '\0') {
                    row_error(c, nf + 1, line, "NUL byte in a field (is the file UTF-16?)");
                    i++;
                    continue;
                }
                break;
            }
            size_t fe = i;
            while (fe > fs && is_pad(c, b[fe - 1])) fe--;
            fl.p = b + fs;
            fl.len = fe - fs;
            fl.quoted = 0;
            fl.escaped = 0;
        }
        if (fl.len > c->max_field)
            return row_fail(c, d, TSL_ELIMIT, fl.line, nf + 1, "a field is longer than %zu bytes",
                            c->max_field);
        if (i - c->pos > c->max_line) goto too_long;
        if (i >= e && !eof) goto more;
        if (nf < c->max_columns + 1) {
            if (nf == c->fcap) {
                c->fcap = c->fcap * 2 < c->max_columns + 1 ? c->fcap * 2 : c->max_columns + 1;
                c->f = tsl_reallocarray(c->f, c->fcap, sizeof *c->f);
            }
            c->f[nf] = fl;
        }
        nf++;
        if (i >= e) break; /* the end of the input ends the row */
        char ch = b[i++];
        if (ch == c->delim) continue;
        line++;
        if (ch == '\r') {
            if (i < e) {
                if (b[i] == '\n') i++;
            } else if (!eof) {
                pending_cr = 1;
            }
        }
        break;
    }
    c->nf = nf;
    c->row_line = c->line;
    c->line = line;
    c->pos = i;
    c->pending_cr = pending_cr;
    *st = SCAN_ROW;
    return TSL_OK;
more:
    if (e - c->pos > c->max_line) goto too_long;
    *st = SCAN_MORE;
    return TSL_OK;
too_long:
    return row_fail(c, d, TSL_ELIMIT, c->line, 0,
                    "a row is longer than %zu bytes (an unclosed quote?)", c->max_line);
}

/* Collapses "" pairs and terminates every recorded field of a complete row. */
static void finish_fields(tsl_csv *c) {
    size_t n = c->nf < c->max_columns + 1 ? c->nf : c->max_columns + 1;
    for (size_t k = 0; k < n; k++) {
        field *fl = &c->f[k];
        if (fl->escaped) {
            char *w = fl->p;
            for (size_t r = 0; r < fl->len; r++) {
                *w++ = fl->p[r];
                if (fl->p[r] == '"') r++; /* the scanner saw it doubled */
            }
            fl->len = (size_t)(w - fl->p);
        }
        fl->p[fl->len] = '\0';
    }
}

/* Scans rows until one that is not blank, refilling as needed; *got is 0 at the end. */
static tsl_err next_nonblank(tsl_csv *c, int *got, tsl_diag *d) {
    tsl_err err;
    for (;;) {
        int st;
        if ((err = scan_row(c, &st, d))) return err;
        if (st == SCAN_MORE) {
            if ((err = refill(c, d))) return err;
            continue;
        }
        if (st == SCAN_END) {
            *got = 0;
            return TSL_OK;
        }
        if (c->nf == 1 && !c->f[0].quoted && c->f[0].len == 0 && !c->rerr) continue;
        c->last_line = c->row_line;
        finish_fields(c);
        *got = 1;
        return TSL_OK;
    }
}

/* ---- header ---- */

/* Finds the column named `want` (case-insensitively); SIZE_MAX when absent. */
static size_t find_column(const tsl_csv *c, const char *want) {
    for (size_t k = 0; k < c->ncols; k++)
        if (c->col_names[k][0] && tsl_text_ieq(c->col_names[k], want)) return k;
    return SIZE_MAX;
}

/* The error for a required column the header lacks, listing the columns it has. */
static tsl_err missing_column(const tsl_csv *c, const char *what, tsl_diag *d) {
    char list[320];
    size_t o = 0, shown = 0;
    list[0] = '\0';
    for (size_t k = 0; k < c->ncols && o < sizeof list; k++) {
        if (!c->col_names[k][0]) continue;
        char q[TSL_TEXT_QUOTE_CAP];
        int n =
            shown == LISTED_COLUMNS
                ? snprintf(list + o, sizeof list - o, ", ...")
                : snprintf(list + o, sizeof list - o, "%s%s", shown ? ", " : "",
                           tsl_text_quote(q, sizeof q, c->col_names[k], strlen(c->col_names[k])));
        if (n < 0) break;
        o += (size_t)n;
        if (shown++ == LISTED_COLUMNS) break;
    }
    return row_fail(c, d, TSL_EPARSE, c->row_line, 0, "the header has no column %s (columns: %s)",
                    what, list);
}

/* Guesses the delimiter from the first non-blank line: tab when it has tabs and no commas. */
static tsl_err detect_delim(tsl_csv *c, tsl_diag *d) {
    for (;;) {
        size_t i = c->pos;
        while (i < c->end && (c->buf[i] == '\n' || c->buf[i] == '\r' || c->buf[i] == ' ')) i++;
        size_t j = i;
        while (j < c->end && c->buf[j] != '\n' && c->buf[j] != '\r') j++;
        if (j < c->end || c->eof) {
            int tabs = memchr(c->buf + i, '\t', j - i) != NULL;
            int commas = memchr(c->buf + i, ',', j - i) != NULL;
            c->delim = tabs && !commas ? '\t' : ',';
            return TSL_OK;
        }
        if (c->end - c->pos > c->max_line)
            return row_fail(c, d, TSL_ELIMIT, c->line, 0, "the header is longer than %zu bytes",
                            c->max_line);
        tsl_err err = refill(c, d);
        if (err) return err;
    }
}

/* Reads the header row, checks its names, and finds the item, time, target and dimension
 * columns. */
static tsl_err read_header(tsl_csv *c, const tsl_csv_opts *o, tsl_diag *d) {
    tsl_err err;
    int got;
    if ((err = next_nonblank(c, &got, d))) return err;
    if (!got)
        return tsl_diag_set(d, TSL_EPARSE, "%s: empty input: expected a header line", c->name);
    if (c->nf > c->max_columns)
        return row_fail(c, d, TSL_ELIMIT, c->row_line, 0, "the header has more than %zu columns",
                        c->max_columns);
    if (c->rerr) return row_fail(c, d, TSL_EPARSE, c->rerr_line, c->rerr_col, "%s", c->rerr);
    c->ncols = c->nf;
    c->col_names = tsl_calloc(c->ncols, sizeof *c->col_names);
    for (size_t k = 0; k < c->ncols; k++) {
        const field *fl = &c->f[k];
        const char *p = fl->p, *e = fl->p + fl->len;
        while (p < e && (*p == ' ' || *p == '\t')) p++;
        while (e > p && (e[-1] == ' ' || e[-1] == '\t')) e--;
        if (!tsl_text_utf8_valid(p, (size_t)(e - p)))
            return row_fail(c, d, TSL_EPARSE, fl->line, k + 1,
                            "the column name is not valid UTF-8");
        c->col_names[k] = tsl_strndup(p, (size_t)(e - p));
    }
    for (size_t k = 0; k < c->ncols; k++)
        for (size_t j = 0; j < k && c->col_names[k][0]; j++)
            if (tsl_text_ieq(c->col_names[j], c->col_names[k]))
                return row_fail(c, d, TSL_EPARSE, c->row_line, k + 1,
                                "the header repeats the name of column %zu", j + 1);
    const char *item = o && o->item_col ? o->item_col : "item_id";
    const char *time = o && o->time_col ? o->time_col : "timestamp";
    char q[TSL_TEXT_QUOTE_CAP];
    if ((c->item_idx = find_column(c, item)) == SIZE_MAX)
        return missing_column(c, tsl_text_quote(q, sizeof q, item, strlen(item)), d);
    if (o && o->items_only) {
        /* The other columns are neither required nor read: a list of items may be any table
         * with an item column (a forecast CSV, a data set). */
        c->items_only = 1;
        c->time_idx = c->target_idx = c->item_idx;
        c->dim_vals = tsl_calloc(1, sizeof *c->dim_vals);
        c->dim_lens = tsl_calloc(1, sizeof *c->dim_lens);
        c->row.dims = c->dim_vals;
        c->row.dim_lens = c->dim_lens;
        c->row.time = 0;
        c->row.value = NAN;
        return TSL_OK;
    }
    if ((c->time_idx = find_column(c, time)) == SIZE_MAX)
        return missing_column(c, tsl_text_quote(q, sizeof q, time, strlen(time)), d);
    if (o && o->target_col) {
        if ((c->target_idx = find_column(c, o->target_col)) == SIZE_MAX)
            return missing_column(
                c, tsl_text_quote(q, sizeof q, o->target_col, strlen(o->target_col)), d);
    } else {
        c->target_idx = find_column(c, "target_value");
        if (c->target_idx == SIZE_MAX) c->target_idx = find_column(c, "target");
        if (c->target_idx == SIZE_MAX)
            return missing_column(c, "\"target_value\" or \"target\"", d);
    }
    if (c->item_idx == c->time_idx || c->item_idx == c->target_idx || c->time_idx == c->target_idx)
        return tsl_diag_set(d, TSL_EINVAL,
                            "%s: the item, timestamp and target columns must be different "
                            "columns",
                            c->name);
    c->dim_idx = tsl_calloc(c->ncols, sizeof *c->dim_idx);
    for (size_t k = 0; k < c->ncols; k++)
        if (c->col_names[k][0] && k != c->item_idx && k != c->time_idx && k != c->target_idx)
            c->dim_idx[c->ndims++] = k;
    c->dim_vals = tsl_calloc(c->ndims ? c->ndims : 1, sizeof *c->dim_vals);
    c->dim_lens = tsl_calloc(c->ndims ? c->ndims : 1, sizeof *c->dim_lens);
    c->row.dims = c->dim_vals;
    c->row.dim_lens = c->dim_lens;
    return TSL_OK;
}

/* ---- opening ---- */

static tsl_err csv_start(tsl_csv *c, const tsl_csv_opts *o, tsl_diag *d) {
    tsl_err err;
    c->name = o && o->name ? o->name : tsl_src_name(c->src);
    c->max_field = o && o->max_field ? o->max_field : TSL_CSV_MAX_FIELD;
    c->max_line = o && o->max_line ? o->max_line : TSL_CSV_MAX_LINE;
    c->max_columns = o && o->max_columns ? o->max_columns : TSL_CSV_MAX_COLUMNS;
    c->delim = o ? o->delim : 0;
    if (c->delim && (c->delim == '"' || c->delim == '\n' || c->delim == '\r' || c->delim == ' ' ||
                     (unsigned char)c->delim >= 0x80))
        return tsl_diag_set(d, TSL_EINVAL,
                            "the delimiter may not be a quote, a line break, a "
                            "space or a non-ASCII byte");
    if (c->max_line > SIZE_MAX / 4 || c->max_columns > SIZE_MAX / 4)
        return tsl_diag_set(d, TSL_EINVAL, "reader caps are too large");
    c->read_min = c->max_line < READ_MIN ? c->max_line : READ_MIN;
    c->cap = c->max_line + c->read_min < BUF_INITIAL ? c->max_line + c->read_min : BUF_INITIAL;
    c->buf = tsl_malloc(c->cap + 1);
    c->line = 1;
    c->fcap = 16 < c->max_columns + 1 ? 16 : c->max_columns + 1;
    c->f = tsl_malloc(c->fcap * sizeof *c->f);
    while (c->end - c->pos < 3 && !c->eof)
        if ((err = refill(c, d))) return err;
    const unsigned char *u = (const unsigned char *)c->buf;
    size_t have = c->end - c->pos;
    if (have >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF)
        c->pos += 3;
    else if (have >= 2 && ((u[0] == 0xFF && u[1] == 0xFE) || (u[0] == 0xFE && u[1] == 0xFF)))
        return tsl_diag_set(d, TSL_EPARSE, "%s: UTF-16 text is not supported; save it as UTF-8",
                            c->name);
    if (!c->delim) {
        if (tsl_src_is_tsv(c->src))
            c->delim = '\t';
        else if ((err = detect_delim(c, d)))
            return err;
    }
    c->stop_unquoted[(unsigned char)c->delim] = 1;
    c->stop_unquoted['\n'] = c->stop_unquoted['\r'] = c->stop_unquoted['\0'] = 1;
    c->stop_quoted['"'] = 1;
    c->stop_quoted['\n'] = c->stop_quoted['\r'] = c->stop_quoted['\0'] = 1;
    return read_header(c, o, d);
}

static tsl_err csv_open(tsl_src *src, tsl_err src_err, const tsl_csv_opts *opts, tsl_csv **out,
                        tsl_diag *d) {
    tsl_err err = src_err;
    tsl_csv *c = NULL;
    if (err) goto out;
    c = tsl_calloc(1, sizeof *c);
    c->src = src;
    err = csv_start(c, opts, d);
out:
    if (err) {
        if (c)
            tsl_csv_close(c);
        else
            tsl_src_close(src);
        c = NULL;
    }
    *out = c;
    return err;
}

tsl_err tsl_csv_open_file(const char *path, const tsl_csv_opts *opts, tsl_csv **out, tsl_diag *d) {
    tsl_src *src = NULL;
    tsl_err err = tsl_src_open_file(path, &src, d);
    return csv_open(src, err, opts, out, d);
}

tsl_err tsl_csv_open_mem(const char *name, const void *data, size_t len, const tsl_csv_opts *opts,
                         tsl_csv **out, tsl_diag *d) {
    tsl_src *src = NULL;
    tsl_err err = tsl_src_open_mem(name, data, len, &src, d);
    return csv_open(src, err, opts, out, d);
}

/* ---- rows ---- */

static tsl_err row_build(tsl_csv *c, tsl_diag *d) {
    char q[TSL_TEXT_QUOTE_CAP];
    if (c->rerr) return row_fail(c, d, TSL_EPARSE, c->rerr_line, c->rerr_col, "%s", c->rerr);
    if (c->nf != c->ncols)
        return row_fail(c, d, TSL_EPARSE, c->row_line, 0,
                        "the row has %zu fields; the header has %zu", c->nf, c->ncols);
    const field *fi = &c->f[c->item_idx], *ft = &c->f[c->time_idx], *fv = &c->f[c->target_idx];
    if (!fi->len) return row_fail(c, d, TSL_EPARSE, fi->line, c->item_idx + 1, "empty item id");
    if (!tsl_text_utf8_valid(fi->p, fi->len))
        return row_fail(c, d, TSL_EPARSE, fi->line, c->item_idx + 1, "%s is not valid UTF-8",
                        tsl_text_quote(q, sizeof q, fi->p, fi->len));
    tsl_diag td;
    if (c->items_only) goto done;
    if (tsl_time_parse(ft->p, ft->len, &c->row.time, &td))
        return row_fail(c, d, TSL_EPARSE, ft->line, c->time_idx + 1,
                        "%s is not a valid timestamp: %s",
                        tsl_text_quote(q, sizeof q, ft->p, ft->len), td.msg);
    if (tsl_csv_parse_target(fv->p, fv->len, &c->row.value))
        return row_fail(c, d, TSL_EPARSE, fv->line, c->target_idx + 1, "%s is not a number: %s",
                        tsl_text_quote(q, sizeof q, fv->p, fv->len), target_expected);
    for (size_t k = 0; k < c->ndims; k++) {
        const field *fl = &c->f[c->dim_idx[k]];
        if (!tsl_text_utf8_valid(fl->p, fl->len))
            return row_fail(c, d, TSL_EPARSE, fl->line, c->dim_idx[k] + 1, "%s is not valid UTF-8",
                            tsl_text_quote(q, sizeof q, fl->p, fl->len));
        c->dim_vals[k] = fl->p;
        c->dim_lens[k] = fl->len;
    }
done:
    c->row.item = fi->p;
    c->row.item_len = fi->len;
    c->row.line = c->row_line;
    return TSL_OK;
}

tsl_err tsl_csv_next(tsl_csv *c, const tsl_csv_row **row, tsl_diag *d) {
    *row = NULL;
    if (c->fatal) goto fatal;
    int got;
    tsl_err err = next_nonblank(c, &got, &c->fatal_diag);
    if (err) {
        c->fatal = err;
        goto fatal;
    }
    if (!got) return TSL_OK;
    if ((err = row_build(c, d))) return err;
    *row = &c->row;
    return TSL_OK;
fatal:
    if (d) *d = c->fatal_diag;
    return c->fatal;
}

uint64_t tsl_csv_last_line(const tsl_csv *c) {
    return c->last_line;
}

size_t tsl_csv_ndims(const tsl_csv *c) {
    return c->ndims;
}

const char *tsl_csv_dim_name(const tsl_csv *c, size_t i) {
    assert(i < c->ndims);
    return c->col_names[c->dim_idx[i]];
}

const char *tsl_csv_item_col(const tsl_csv *c) {
    return c->col_names[c->item_idx];
}

const char *tsl_csv_time_col(const tsl_csv *c) {
    return c->col_names[c->time_idx];
}

const char *tsl_csv_target_col(const tsl_csv *c) {
    return c->col_names[c->target_idx];
}

const char *tsl_csv_name(const tsl_csv *c) {
    return c->name;
}

char tsl_csv_delim(const tsl_csv *c) {
    return c->delim;
}

void tsl_csv_close(tsl_csv *c) {
    if (!c) return;
    if (c->col_names)
        for (size_t k = 0; k < c->ncols; k++) tsl_free(c->col_names[k]);
    tsl_free(c->col_names);
    tsl_free(c->dim_idx);
    tsl_free(c->dim_vals);
    tsl_free(c->dim_lens);
    tsl_free(c->f);
    tsl_free(c->buf);
    tsl_src_close(c->src);
    tsl_free(c);
}
