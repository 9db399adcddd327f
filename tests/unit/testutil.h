/*
 * testutil.h - helpers shared by the unit suites: fixture paths, small CSV tables, tolerant
 * floating-point asserts. Include after cmocka's headers.
 */
#ifndef TSLOOP_TESTUTIL_H
#define TSLOOP_TESTUTIL_H

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

/* Path of a file under tests/data (TSL_TEST_DATA); returns a static buffer per call slot. */
const char *tu_path(const char *rel);

/* A CSV fixture read whole: header names and cells as strings (no quoting in fixtures). */
typedef struct tu_table {
    size_t rows, cols;
    char **names; /* cols */
    char **cells; /* rows * cols */
} tu_table;

tu_table *tu_table_read(const char *path); /* fails the test when unreadable */
void tu_table_free(tu_table *t);
int tu_col(const tu_table *t, const char *name); /* fails the test when absent */
const char *tu_str(const tu_table *t, size_t row, const char *col);
double tu_num(const tu_table *t, size_t row, const char *col); /* "NA" -> NAN */

/* The values of one series of a long-format fixture (columns "series" and "y", optionally
 * "period"): a new array the caller frees, its length in *n and, when period is not NULL and
 * the fixture has the column, its period (else untouched). Fails the test when absent. */
double *tu_series(const tu_table *t, const char *name, size_t *n, int *period);

struct tsl_model;
/* Save -> load -> forecast (h steps, the given levels) is identical to the bit, names match. */
void tu_model_roundtrip(const struct tsl_model *m, size_t h, const double *levels, size_t nq);
/* The saved blob of m is refused, never crashed on, after flipping any single byte (every
 * `stride`-th byte; 1 = all) and when truncated to any shorter length. */
void tu_model_blob_robust(const struct tsl_model *m, size_t stride);

/* Reads the whole file into a malloc'd buffer; *len gets its size. Fails the test on error. */
char *tu_slurp(const char *path, size_t *len);

/* A fresh, empty directory for one test (under $TMPDIR or /tmp); free with tsl_free after
 * tu_rmtree. Fails the test when it cannot be made. */
char *tu_tmpdir(void);
/* Removes dir and the files directly in it (scratch directories are flat). */
void tu_rmtree(const char *dir);

/* |a - e| <= atol + rtol * |e|, else fails with both values and the label. */
void tu_close(double a, double e, double rtol, double atol, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* A store in a fresh temporary folder with a clock the test moves (now, ms) and a daily data
 * set "sales": the fixture the monitoring suites share. Use as cmocka setup/teardown. */
struct tsl_store;
typedef struct tu_store_fx {
    char *dir;
    struct tsl_store *s;
    int64_t now; /* the store's clock, ms */
} tu_store_fx;

int tu_store_fx_setup(void **state);
int tu_store_fx_teardown(void **state);

/* Ingests n (item, day, value) points into "sales" (day d at d * 86400 s); returns the ingest
 * id. Fails the test on any error. */
int64_t tu_store_fx_ingest(tu_store_fx *f, const char *const *items, const int *days,
                           const double *v, size_t n);

/* Parses a configuration text named "t.yaml" into *cfg (NULL: the caller's pointer is left as the
 * parser leaves it); the error message, if any, into msg (cap bytes). */
struct tsl_config;
int tu_config_parse(const char *text, struct tsl_config **cfg, char *msg, size_t cap);

/* A configuration the parser must refuse, and a piece of the message it must give. */
typedef struct tu_config_case {
    const char *yaml, *want;
} tu_config_case;

/* Fails the test unless every case is refused with its message. */
void tu_config_refuses(const tu_config_case *cases, size_t n);

/* Registers the next version of entry fc (a 4-byte artifact, no metrics) with status st in s;
 * returns its model id. Fails the test on any error. */
int64_t tu_store_register(struct tsl_store *s, const char *fc, int st);

/* The state (a tsl_alarm_value) of monitor's alarm in s, INSUFFICIENT_DATA when it has none
 * yet. Fails the test on a store error. */
int tu_alarm_state(struct tsl_store *s, const char *monitor);

#endif
