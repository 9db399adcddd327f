/*
 * bench_reader.c - reader throughput: reads a data set file N times through
 * tsl_dataset_read_file and prints rows per second and the process's peak resident memory.
 *
 *   build/bench/bench_reader FILE [N] [--rows-only]
 *
 * --rows-only times the row reader alone (tsl_csv_next, no grouping or series building), to
 * separate parsing from building. The first pass's summary (items, frequency, counts) is
 * printed so a run also shows what was read. Timing is wall-clock over all N passes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "tsloop/csv.h"
#include "tsloop/dataset.h"

/* Monotonic wall-clock seconds. */
static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Reads path once as a data set; *rows gets the rows read. Prints the summary when asked. */
static tsl_err read_dataset(const char *path, int print, size_t *rows, tsl_diag *d) {
    tsl_dataset *ds = NULL;
    tsl_err err = tsl_dataset_read_file(path, NULL, &ds, d);
    if (err) return err;
    *rows = ds->rows;
    if (print) {
        char fb[32];
        tsl_freq_format(ds->freq, fb, sizeof fb);
        size_t points = 0;
        for (size_t i = 0; i < ds->nseries; i++) points += ds->series[i].n;
        printf("%s: %zu rows, %zu items, freq %s, period %d, %zu points, %zu missing, "
               "%zu gap points, %zu duplicates\n",
               path, ds->rows, ds->nseries, fb, ds->period, points, ds->missing_targets,
               ds->gap_points, ds->duplicates);
    }
    tsl_dataset_free(ds);
    return TSL_OK;
}

/* Reads path once through the row reader only; *rows gets the rows read. */
static tsl_err read_rows(const char *path, size_t *rows, tsl_diag *d) {
    tsl_csv *c = NULL;
    tsl_err err = tsl_csv_open_file(path, NULL, &c, d);
    if (err) goto out;
    size_t n = 0;
    for (;;) {
        const tsl_csv_row *row;
        if ((err = tsl_csv_next(c, &row, d))) goto out;
        if (!row) break;
        n++;
    }
    *rows = n;
out:
    tsl_csv_close(c);
    return err;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_reader FILE [N] [--rows-only]\n");
        return 2;
    }
    long passes = 3;
    int rows_only = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--rows-only")) {
            rows_only = 1;
            continue;
        }
        char *end;
        errno = 0;
        passes = strtol(argv[i], &end, 10);
        if (errno || end == argv[i] || *end || passes < 1 || passes > 1000000) {
            fprintf(stderr, "bench_reader: bad pass count '%s'\n", argv[i]);
            return 2;
        }
    }
    size_t rows = 0, total = 0;
    tsl_diag d = {TSL_OK, {0}};
    double t0 = now();
    for (long p = 0; p < passes; p++) {
        tsl_err err =
            rows_only ? read_rows(argv[1], &rows, &d) : read_dataset(argv[1], p == 0, &rows, &d);
        if (err) {
            fprintf(stderr, "bench_reader: %s\n", tsl_diag_msg(&d));
            return 1;
        }
        total += rows;
    }
    double secs = now() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("%s%s: %ld passes, %.3f s, %.2f M rows/s, peak RSS %.1f MiB\n", argv[1],
           rows_only ? " (rows only)" : "", passes, secs, (double)total / secs / 1e6,
           (double)ru.ru_maxrss / 1024.0);
    return 0;
}
