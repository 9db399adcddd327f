/*
 * csv.h - streaming the rows of a time series table: (item, timestamp, target, dimensions).
 *
 * The row reader is the layer under tsl_dataset_read_* and the one `ingest` uses to upsert
 * observations without building series. It opens a CSV/TSV file (plain, gzip, or a zip holding
 * TTS.csv or a single .csv/.tsv member; "-" is standard input), reads the header, finds the
 * item, timestamp and target columns by name, and then hands out one parsed row at a time,
 * with the line it started on. Memory is a fixed buffer plus the current row: a row's strings
 * point into that buffer and stay valid until the next call. A reader belongs to one thread at
 * a time; readers share nothing.
 *
 * Text rules (docs/data-format.md is the user's version):
 * - RFC 4180: fields separated by the delimiter, optionally enclosed in double quotes; inside
 *   quotes, delimiters and line breaks are data and "" is one quote. LF, CRLF and CR all end a
 *   row; a UTF-8 byte order mark is skipped; blank lines are skipped. Line numbers count every
 *   line break, those inside quoted fields included.
 * - Unquoted fields are trimmed of surrounding spaces (and tabs, unless tab is the delimiter);
 *   a quoted field's content is kept as is. A quote inside an unquoted field is an ordinary
 *   character.
 * - Header names are trimmed and matched ASCII case-insensitively; two columns whose names
 *   differ only in case are an error. Columns with an empty name are ignored; the others,
 *   besides item, timestamp and target, are dimensions.
 * - Item ids and dimension values must be valid UTF-8 without NUL bytes; the item id must not
 *   be empty. Targets: see tsl_csv_parse_target. Timestamps: see tsl_time_parse.
 *
 * Errors: a message names the input, the line, and for a field its column number and name,
 * quotes the offending text (shortened) and says what was expected:
 *   sales.csv:7:3: column 'target': "12,5" is not a number; expected ...
 */
#ifndef TSLOOP_CSV_H
#define TSLOOP_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "tsloop/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Default caps; a row or header exceeding one fails the read with TSL_ELIMIT. */
#define TSL_CSV_MAX_FIELD   ((size_t)64 << 10)
#define TSL_CSV_MAX_LINE    ((size_t)1 << 20)
#define TSL_CSV_MAX_COLUMNS 1024

typedef struct tsl_csv_opts {
    const char *item_col;   /* NULL: "item_id" */
    const char *time_col;   /* NULL: "timestamp" */
    const char *target_col; /* NULL: "target_value", else "target" */
    char delim;         /* 0: tab for .tsv names or a header with tabs and no commas, else ',' */
    size_t max_field;   /* bytes of one field; 0: TSL_CSV_MAX_FIELD */
    size_t max_line;    /* bytes of one row, line breaks in quotes included; 0: TSL_CSV_MAX_LINE */
    size_t max_columns; /* 0: TSL_CSV_MAX_COLUMNS */
    const char *name;   /* the input's name in messages (outlives the reader); NULL: the path */
    int items_only;     /* only the item column is required and read: rows have time 0, value
                           NaN and no dimensions (a list of items, e.g. a job's body) */
} tsl_csv_opts;

/* One data row. Strings are NUL-terminated, point into the reader's buffer, and are valid
 * until the next tsl_csv_next or tsl_csv_close. */
typedef struct tsl_csv_row {
    const char *item;
    size_t item_len;
    int64_t time;
    double value;            /* NaN when missing */
    const char *const *dims; /* tsl_csv_ndims values, in tsl_csv_dim_name order */
    const size_t *dim_lens;
    uint64_t line; /* line of the row's first character, 1-based */
} tsl_csv_row;

typedef struct tsl_csv tsl_csv;

/* Opens path and reads its header. opts may be NULL (all defaults). */
tsl_err tsl_csv_open_file(const char *path, const tsl_csv_opts *opts, tsl_csv **out, tsl_diag *d);

/* The same over len bytes at data, which must outlive the reader; name is used in messages
 * and to tell a .tsv. Compressed and zip data is detected by content, as for files. */
tsl_err tsl_csv_open_mem(const char *name, const void *data, size_t len, const tsl_csv_opts *opts,
                         tsl_csv **out, tsl_diag *d);

/* Reads the next row into *row, or sets *row to NULL at the end of the input.
 * TSL_EPARSE concerns one row (a field that does not parse, a wrong number of fields, a
 * malformed quote): *row is NULL, the row has been consumed, and the next call continues
 * with the row after it, so a lenient caller can report it and go on (tsl_csv_last_line
 * gives its line). Any other error (TSL_EIO, TSL_ELIMIT) ends the reading: later calls
 * return it again. */
tsl_err tsl_csv_next(tsl_csv *c, const tsl_csv_row **row, tsl_diag *d);

/* The line the last row returned or rejected by tsl_csv_next started on (0 before any). */
uint64_t tsl_csv_last_line(const tsl_csv *c);

/* Dimension columns: every named column besides item, timestamp and target, in file order. */
size_t tsl_csv_ndims(const tsl_csv *c);
const char *tsl_csv_dim_name(const tsl_csv *c, size_t i);

/* Names of the item, timestamp and target columns as the header spells them. */
const char *tsl_csv_item_col(const tsl_csv *c);
const char *tsl_csv_time_col(const tsl_csv *c);
const char *tsl_csv_target_col(const tsl_csv *c);

/* The input's name in messages ("sales.csv", "<stdin>", "data.zip!TTS.csv"). */
const char *tsl_csv_name(const tsl_csv *c);

/* The delimiter in use. */
char tsl_csv_delim(const tsl_csv *c);

void tsl_csv_close(tsl_csv *c);

/* Parses a decimal number of len bytes: optional surrounding spaces/tabs, an optional sign,
 * digits with an optional '.' (at least one digit), an optional exponent (e or E, sign,
 * digits). The result equals strtod's (correctly rounded) on the same text. Infinity, NaN,
 * hexadecimal and out-of-range values (whose magnitude would overflow a double) fail with
 * TSL_EPARSE. */
tsl_err tsl_csv_parse_number(const char *s, size_t len, double *out);

/* Parses a target: a number as above, or a missing value, written as nothing (or only
 * spaces), NA, NaN, null, N/A, None or #N/A (any case), which gives NaN. */
tsl_err tsl_csv_parse_target(const char *s, size_t len, double *out);

#ifdef __cplusplus
}
#endif
#endif
