/*
 * bench_config.c - cost of reading tsloop.yaml and of computing schedules: parses the starting
 * template and a generated large configuration (D datasets, F forecasters using every key,
 * written in block style), hashes them, and times tsl_cron_next over successive firings of a
 * few expressions. Prints microseconds per operation and the process's peak resident memory.
 *
 *   build/bench/bench_config [D F [REPS]]     (default 100 1000 20)
 *
 * Timing is wall-clock, the median of REPS runs of each measurement.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "tsloop/config.h"
#include "tsloop/cron.h"
#include "tsloop/project.h"

/* Monotonic wall-clock seconds. */
static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* qsort order of doubles, for medians. */
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Parses text as an integer in [lo, hi] into *out, or exits with a message. */
static void arg_long(const char *text, long lo, long hi, long *out) {
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi) {
        fprintf(stderr, "bench_config: '%s' is not an integer from %ld to %ld\n", text, lo, hi);
        exit(2);
    }
    *out = v;
}

/* A configuration of nd datasets and nf forecasters (forecaster i uses dataset i % nd). */
static void make_config(long nd, long nf, tsl_wbuf *b) {
    tsl_wbuf_puts(b, "version: 1\nname: bench\nstore: sqlite:.tsloop/store.db\ndatasets:\n");
    for (long i = 0; i < nd; i++)
        tsl_wbuf_printf(b,
                        "  data%ld:\n"
                        "    columns:\n"
                        "      item: sku\n"
                        "      timestamp: day\n"
                        "      target: units\n"
                        "      dimensions: [region, store]\n"
                        "    frequency: D\n"
                        "    timezone: Europe/Berlin\n"
                        "    inbox: inbox/data%ld\n"
                        "    non_negative: true\n",
                        i, i);
    tsl_wbuf_puts(b, "forecasters:\n");
    for (long i = 0; i < nf; i++)
        tsl_wbuf_printf(b,
                        "  fc%ld:\n"
                        "    dataset: data%ld\n"
                        "    horizon: %ld\n"
                        "    quantiles: [0.1, 0.5, 0.9]\n"
                        "    metric: smape\n"
                        "    candidates: [naive, snaive, ets, \"ets:MAdN\", theta, dotm]\n"
                        "    season_length: [7, 365]\n"
                        "    backtest_windows: 3\n"
                        "    ensembles: true\n"
                        "    split_by: [region]\n"
                        "    approval:\n"
                        "      policy: auto\n"
                        "      margin: 0.05\n"
                        "      approvers: [ana@example.com, ops@example.com]\n"
                        "    schedule:\n"
                        "      retrain: \"0 3 * * MON\"\n"
                        "      forecast: \"*/30 6-18 * * 1-5\"\n",
                        i, i % nd, 1 + i % 48);
}

/* Median seconds over reps of parsing (and hashing, when hash) text. */
static double time_parse(const char *text, size_t len, long reps, int hash) {
    double *t = calloc((size_t)reps, sizeof *t);
    if (!t) abort();
    for (long r = 0; r < reps; r++) {
        tsl_config *cfg = NULL;
        tsl_diag d = {TSL_OK, {0}};
        double t0 = now();
        if (tsl_config_parse(text, len, "bench.yaml", NULL, &cfg, &d)) {
            fprintf(stderr, "bench_config: %s\n", d.msg);
            exit(1);
        }
        if (hash) {
            char hex[TSL_CONFIG_HASH_HEX + 1];
            tsl_config_hash(cfg, hex);
            for (size_t i = 0; i < cfg->nforecasters; i++)
                tsl_config_forecaster_hash(cfg, &cfg->forecasters[i], hex);
        }
        t[r] = now() - t0;
        tsl_config_free(cfg);
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    double m = t[reps / 2];
    free(t);
    return m;
}

int main(int argc, char **argv) {
    long nd = 100, nf = 1000, reps = 20;
    if (argc >= 3) {
        arg_long(argv[1], 1, 1000, &nd);
        arg_long(argv[2], 1, 1000, &nf);
    }
    if (argc >= 4) arg_long(argv[3], 1, 100000, &reps);
    tsl_wbuf tpl, big;
    tsl_wbuf_init(&tpl);
    tsl_wbuf_init(&big);
    tsl_project_template("bench", &tpl);
    make_config(nd, nf, &big);
    double a = time_parse((const char *)tpl.data, tpl.len, reps * 10, 0);
    printf("template (%zu bytes): parse %.1f us\n", tpl.len, a * 1e6);
    double b = time_parse((const char *)big.data, big.len, reps, 0);
    double c = time_parse((const char *)big.data, big.len, reps, 1);
    printf("%ld datasets, %ld forecasters (%zu bytes): parse %.2f ms (%.1f us per forecaster), "
           "parse + all hashes %.2f ms\n",
           nd, nf, big.len, b * 1e3, b * 1e6 / (double)nf, c * 1e3);

    static const char *const exprs[] = {"*/15 * * * *", "0 10 * * *", "*/30 6-18 * * 1-5",
                                        "0 0 1 * MON", "0 0 29 2 *"};
    for (size_t e = 0; e < sizeof exprs / sizeof exprs[0]; e++) {
        tsl_cron c0;
        tsl_diag d = {TSL_OK, {0}};
        if (tsl_cron_parse(exprs[e], &c0, &d)) {
            fprintf(stderr, "bench_config: %s\n", d.msg);
            return 1;
        }
        /* Successive firings of the leap-day expression run four years apart: fewer of them
         * stay within the time range. */
        const long calls = strcmp(exprs[e], "0 0 29 2 *") ? 20000 : 1500;
        int64_t t = 1704067200; /* 2024-01-01 */
        double t0 = now();
        for (long k = 0; k < calls; k++) {
            if (tsl_cron_next(&c0, t, 0, &t, &d)) {
                fprintf(stderr, "bench_config: %s\n", d.msg);
                return 1;
            }
        }
        double s = now() - t0;
        printf("cron_next \"%s\": %.3f us per call (%ld successive firings)\n", exprs[e],
               s * 1e6 / (double)calls, calls);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS %.1f MB\n", (double)ru.ru_maxrss / 1024.0);
    tsl_wbuf_release(&tpl);
    tsl_wbuf_release(&big);
    return 0;
}
