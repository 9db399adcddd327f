/*
 * bench_tz.c - cost of time zones and of cron on a zone's wall clock: loading a zone from
 * /usr/share/zoneinfo (open, read, parse), tsl_tz_offset at instants spread over 1900-2100,
 * tsl_tz_from_local, and tsl_cron_next_tz over a year of successive firings of a few
 * expressions in Europe/Berlin against tsl_cron_next on UTC. Prints nanoseconds per operation
 * (the median of REPS runs) and the process's peak resident memory.
 *
 *   build/bench/bench_tz [REPS]     (default 9)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "tsloop/cron.h"
#include "tsloop/tz.h"

/* Monotonic wall-clock seconds. */
static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void die(const char *what, const tsl_diag *d) {
    fprintf(stderr, "bench_tz: %s: %s\n", what, d->msg);
    exit(1);
}

/* Nanoseconds per firing of expr over 2026 on tz (NULL: tsl_cron_next on UTC); *n firings. */
static double cron_year(const char *expr, const tsl_tz *tz, long *n) {
    tsl_cron c;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_cron_parse(expr, &c, &d)) die(expr, &d);
    int64_t t = 1767225600, end = 1798761600; /* 2026-01-01 .. 2027-01-01 */
    long k = 0;
    double t0 = now();
    while (t < end) {
        int64_t next = 0;
        tsl_err rc =
            tz ? tsl_cron_next_tz(&c, t, tz, &next, &d) : tsl_cron_next(&c, t, 0, &next, &d);
        if (rc) die(expr, &d);
        t = next;
        k++;
    }
    *n = k;
    return (now() - t0) * 1e9 / (double)k;
}

int main(int argc, char **argv) {
    long reps = 9;
    if (argc > 1) {
        char *end = NULL;
        errno = 0;
        reps = strtol(argv[1], &end, 10);
        if (errno || end == argv[1] || *end || reps < 1 || reps > 1000) {
            fprintf(stderr, "bench_tz: '%s' is not an integer from 1 to 1000\n", argv[1]);
            return 2;
        }
    }
    double *m = calloc((size_t)reps, sizeof *m);
    if (!m) return 1;
    tsl_diag d = {TSL_OK, {0}};
    tsl_tz *tz = NULL;
    enum { LOADS = 2000, LOOKUPS = 1000000 };
    for (long r = 0; r < reps; r++) {
        double t0 = now();
        for (int i = 0; i < LOADS; i++) {
            tsl_tz *z = NULL;
            if (tsl_tz_load("Europe/Berlin", &z, &d)) die("load", &d);
            tsl_tz_free(z);
        }
        m[r] = (now() - t0) * 1e9 / LOADS;
    }
    qsort(m, (size_t)reps, sizeof *m, cmp_double);
    printf("tz_load Europe/Berlin          %10.0f ns\n", m[reps / 2]);
    if (tsl_tz_load("Europe/Berlin", &tz, &d)) die("load", &d);
    volatile int64_t sink = 0;
    for (long r = 0; r < reps; r++) {
        double t0 = now();
        for (long i = 0; i < LOOKUPS; i++) sink += tsl_tz_offset(tz, -2208988800LL + i * 6311);
        m[r] = (now() - t0) * 1e9 / LOOKUPS;
    }
    qsort(m, (size_t)reps, sizeof *m, cmp_double);
    printf("tz_offset (1900-2100)          %10.1f ns\n", m[reps / 2]);
    for (long r = 0; r < reps; r++) {
        double t0 = now();
        for (long i = 0; i < LOOKUPS; i++) {
            tsl_tz_local l;
            tsl_tz_from_local(tz, 1767225600 + i * 317, &l);
            sink += l.n;
        }
        m[r] = (now() - t0) * 1e9 / LOOKUPS;
    }
    qsort(m, (size_t)reps, sizeof *m, cmp_double);
    printf("tz_from_local (2026-2036)      %10.1f ns\n", m[reps / 2]);
    static const char *const exprs[] = {"*/15 * * * *", "0 * * * *", "30 2 * * *",
                                        "0 9-17 * * 1-5"};
    for (size_t e = 0; e < sizeof exprs / sizeof *exprs; e++) {
        long n = 0;
        double *u = calloc((size_t)reps, sizeof *u);
        if (!u) return 1;
        for (long r = 0; r < reps; r++) {
            m[r] = cron_year(exprs[e], tz, &n);
            u[r] = cron_year(exprs[e], NULL, &n);
        }
        qsort(m, (size_t)reps, sizeof *m, cmp_double);
        qsort(u, (size_t)reps, sizeof *u, cmp_double);
        printf("cron \"%-14s\" %6ld/yr  Berlin %8.1f ns  UTC %8.1f ns\n", exprs[e], n, m[reps / 2],
               u[reps / 2]);
        free(u);
    }
    tsl_tz_free(tz);
    free(m);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS %ld KiB (sink %lld)\n", ru.ru_maxrss, (long long)sink);
    return 0;
}
