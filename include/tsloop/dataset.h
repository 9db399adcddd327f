/*
 * dataset.h - reading a data set of time series from CSV/TSV, gzip, or zip.
 *
 * A data set is a set of series keyed by item_id, each regular at the data set's frequency:
 * series i has values y[0..n) at timestamps start + k steps. Gaps in the input's time index
 * become missing values (NaN), as do empty, "NA", "NaN", "null" targets (the full list is in
 * csv.h). Extra columns are kept as dimensions of the item (the value on the item's first
 * row). docs/data-format.md is the user's description of the input.
 *
 * The reader streams: libarchive decompresses (gzip, or the TTS.csv / only CSV member of a
 * zip, both recognised by content) into a fixed buffer, rows are parsed in place (by the row reader
 * of csv.h, whose text rules apply) and appended to columnar arrays, so memory is proportional to
 * the data, not to the file. Every field and line has a cap. On error, nothing is returned and the
 * diag names file, line, column and what was expected.
 *
 * Building: rows are grouped by item_id and sorted by time; a repeated (item, timestamp) keeps
 * the value of its last row in file order (even when that value is missing); the frequency is
 * inferred (tsl_freq_infer) unless given, each series is laid out on its grid from its first
 * timestamp, and gaps become NaN. Series are sorted by item_id (bytewise).
 *
 * Ownership: everything a tsl_dataset points to (series, strings, values) belongs to it and
 * is released by tsl_dataset_free; only data sets returned by this module may be freed there.
 * Reading keeps no global state: several threads may read different inputs at once.
 */
#ifndef TSLOOP_DATASET_H
#define TSLOOP_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "tsloop/csv.h"
#include "tsloop/err.h"
#include "tsloop/time.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tsl_series {
    char *item_id;
    char **dims;   /* ndims values, in the data set's dim_names order */
    int64_t start; /* timestamp of y[0] */
    size_t n;
    double *y; /* n values, NaN = missing */
} tsl_series;

typedef struct tsl_dataset {
    tsl_freq freq;
    int period; /* default seasonal period of freq, or the override */
    size_t nseries;
    tsl_series *series; /* sorted by item_id */
    size_t ndims;
    char **dim_names;
    /* What reading found; the CLI turns non-zero counts into warnings. */
    size_t rows;            /* data rows read */
    size_t duplicates;      /* (item, timestamp) repeated: the last value was kept */
    size_t missing_targets; /* empty / NA / NaN targets */
    size_t gap_points;      /* points added as missing to fill gaps in the time index */
    size_t dim_conflicts;   /* rows whose dimension values differ from the item's first row */
    size_t rejected;        /* rows skipped in lenient mode (on_reject) */
} tsl_dataset;

typedef struct tsl_read_opts {
    const char *item_col;   /* NULL: "item_id" */
    const char *time_col;   /* NULL: "timestamp" */
    const char *target_col; /* NULL: "target_value", else "target" */
    char delim;         /* 0: tab for .tsv names or a header with tabs and no commas, else ',' */
    tsl_freq freq;      /* unit NONE: infer */
    int period;         /* <= 0: tsl_freq_default_period(freq) */
    size_t max_rows;    /* 0: no cap besides memory */
    size_t max_items;   /* 0: no cap besides memory */
    size_t max_field;   /* bytes of one field; 0: TSL_CSV_MAX_FIELD (64 KiB) */
    size_t max_line;    /* bytes of one row; 0: TSL_CSV_MAX_LINE (1 MiB) */
    size_t max_columns; /* 0: TSL_CSV_MAX_COLUMNS (1024) */
    /* Lenient mode when set: a row that does not parse (a bad timestamp or target, a wrong
     * number of fields, a malformed quote, an empty item id) is passed here with its line and
     * the message an error would have carried, then skipped and counted in `rejected`.
     * Returning non-zero stops the read with that row's error. Caps and I/O errors are never
     * lenient. */
    int (*on_reject)(void *ctx, uint64_t line, const char *reason);
    void *reject_ctx;
} tsl_read_opts;

/* Reads path (plain, .gz, or .zip holding TTS.csv or a single .csv/.tsv member). "-" is stdin.
 * opts may be NULL (all defaults). Errors: TSL_EIO (cannot open or read), TSL_EPARSE (bad
 * header, row, or no data rows), TSL_ELIMIT (a cap), TSL_EINVAL (bad options, or timestamps
 * that fit no regular grid), TSL_ESHORT (no item has two timestamps to infer a frequency). */
tsl_err tsl_dataset_read_file(const char *path, const tsl_read_opts *opts, tsl_dataset **out,
                              tsl_diag *d);

/* Reads len bytes at data, as tsl_dataset_read_file reads a file: name is used in messages
 * and, when it ends in .tsv (or .tsv.gz), to pick tab as the delimiter; gzip and zip are
 * recognised by content. */
tsl_err tsl_dataset_read_mem(const char *name, const void *data, size_t len,
                             const tsl_read_opts *opts, tsl_dataset **out, tsl_diag *d);

/* Building a data set from rows handed over one at a time, as the reader hands them out: the
 * store uses this to load what it holds. The rules are those of reading (grouping, sorting,
 * repeated timestamps, the frequency inferred or checked, gaps). */
typedef struct tsl_dataset_builder tsl_dataset_builder;

/* A builder for a data set called name in messages, whose rows carry ndims dimension values
 * named dim_names (copied). Of opts (NULL: defaults) only freq, period, max_rows and max_items
 * apply. */
tsl_dataset_builder *tsl_dataset_builder_new(const char *name, const char *const *dim_names,
                                             size_t ndims, const tsl_read_opts *opts);

/* Adds one row: its item, time, value and dims (in dim_names order; the row's line is used in
 * messages). Strings are copied. Fails with TSL_ELIMIT past max_rows or max_items. */
tsl_err tsl_dataset_builder_add(tsl_dataset_builder *b, const tsl_csv_row *row, tsl_diag *d);

/* Rows added so far. */
size_t tsl_dataset_builder_rows(const tsl_dataset_builder *b);

/* Builds the data set from the rows added (TSL_EPARSE when there are none; frequency errors as
 * for reading). Call it at most once; the builder is then only good for freeing. The data set's
 * `rows`, `duplicates`, `missing_targets`, `gap_points` and `dim_conflicts` count as reading
 * does. */
tsl_err tsl_dataset_builder_finish(tsl_dataset_builder *b, tsl_dataset **out, tsl_diag *d);

/* Frees b; NULL is a no-op. */
void tsl_dataset_builder_free(tsl_dataset_builder *b);

/* Releases ds and all it points to; NULL is a no-op. */
void tsl_dataset_free(tsl_dataset *ds);

/* Timestamp of value i of series s: tsl_freq_add(ds->freq, s->start, i). */
int64_t tsl_dataset_time(const tsl_dataset *ds, const tsl_series *s, size_t i);

/* Index of the series with this item_id, or -1 (binary search). */
long tsl_dataset_find(const tsl_dataset *ds, const char *item_id);

#ifdef __cplusplus
}
#endif
#endif
