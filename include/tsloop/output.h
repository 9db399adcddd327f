/*
 * output.h - writing results: files that appear whole or not at all, and the forecast CSV.
 *
 * A tsl_outfile writes to a temporary file beside the destination and renames it into place on
 * commit, so a reader never sees half a forecast and a failed run leaves the previous file
 * untouched. "-" writes to stdout directly.
 *
 * The forecast CSV is the contract of DESIGN.md: `item_id,timestamp,mean,p10,p50,p90`, one pNN
 * column per requested quantile level (p2.5 for 0.025), one row per item and future timestamp.
 */
#ifndef TSLOOP_OUTPUT_H
#define TSLOOP_OUTPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tsloop/buf.h"
#include "tsloop/err.h"
#include "tsloop/time.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tsl_outfile {
    FILE *f;    /* write here between open and commit */
    char *path; /* destination */
    char *tmp;  /* temporary file, NULL for stdout */
} tsl_outfile;

/* Opens a temporary file in path's directory (or stdout for "-"). */
tsl_err tsl_outfile_open(tsl_outfile *o, const char *path, tsl_diag *d);
/* Flushes, syncs and renames the temporary file over path; releases o either way. */
tsl_err tsl_outfile_commit(tsl_outfile *o, tsl_diag *d);
/* Removes the temporary file and releases o. Safe after commit or on a zeroed struct. */
void tsl_outfile_abort(tsl_outfile *o);

/* Appends s to b as one CSV field, quoted (RFC 4180) only when it must be. */
void tsl_csv_field(tsl_wbuf *b, const char *s);

/* Column name of a quantile level: 0.1 -> "p10", 0.025 -> "p2.5", 0.999 -> "p99.9". */
void tsl_level_name(double level, char *buf, size_t cap);

/* Appends the forecast CSV header for these levels. */
void tsl_fcsv_header(tsl_wbuf *b, const double *levels, size_t nq);

/* Appends one item's h rows: timestamps start, start+1 step, ... at freq; mean[h] and
 * quant[h * nq]. Timestamps print as dates for daily and coarser frequencies. */
void tsl_fcsv_rows(tsl_wbuf *b, const char *item, tsl_freq freq, int64_t start, size_t h,
                   const double *mean, const double *quant, size_t nq);

/* Writes path atomically (tsl_outfile): header (NULL for none), then row(ctx, i, b) for every i
 * in [0, n), each appending its text to b (or nothing). Output is flushed in chunks, so memory
 * stays small whatever n. On failure the destination is left as it was. */
tsl_err tsl_output_write_rows(const char *path, const char *header, size_t n,
                              void (*row)(void *ctx, size_t i, tsl_wbuf *b), void *ctx,
                              tsl_diag *d);

/* Writes b's bytes to f and empties b; TSL_EIO on a short write. */
tsl_err tsl_wbuf_flush_to(tsl_wbuf *b, FILE *f, const char *what, tsl_diag *d);

#ifdef __cplusplus
}
#endif
#endif
