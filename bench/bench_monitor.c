/*
 * bench_monitor.c - speed and memory of the monitoring engine: drift verdicts over a window of
 * many series, the CUSUM and Page-Hinkley updates, and alarm evaluations.
 *
 *   build/bench/bench_monitor [SERIES [POINTS [WINDOW]]]
 *       (default 10000 series, 1000 hourly training points, a window of 168 new values)
 *
 * A baseline is built per synthetic series (daily cycle plus noise) with
 * tsl_baseline_stats_compute, and over all values pooled; then, each timed once (wall-clock,
 * single thread): tsl_drift_compute on a window per series (a tenth of the series shifted by
 * one standard deviation, so both verdicts occur), ten million CUSUM and Page-Hinkley updates,
 * and a million alarm evaluations of an M-of-N rule (N = 3 and N = 24) on evaluation ranges
 * with gaps. The process's peak resident memory is printed at the end.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "tsloop/alarm.h"
#include "tsloop/baseline.h"
#include "tsloop/drift.h"
#include "tsloop/mem.h"

/* Monotonic wall-clock seconds. */
static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A deterministic standard normal (64-bit LCG, Box-Muller, one value per call). */
static double normal(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    double u = ((double)(*s >> 11) + 0.5) * 0x1.0p-53;
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    double v = (double)(*s >> 11) * 0x1.0p-53;
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

/* Strictly positive decimal argument, or the default. */
static size_t arg_size(int argc, char **argv, int i, size_t dflt) {
    if (argc <= i) return dflt;
    char *end = NULL;
    long long v = strtoll(argv[i], &end, 10);
    if (!end || *end || v <= 0) {
        fprintf(stderr, "bench_monitor: '%s' is not a positive count\n", argv[i]);
        exit(2);
    }
    return (size_t)v;
}

/* Level, daily cycle and noise of series i at hour t. */
static double value(size_t i, size_t t, uint64_t *rng) {
    double level = 10 + (double)(i % 97);
    return level + 0.3 * level * sin(2 * M_PI * (double)(t % 24) / 24) + 0.1 * level * normal(rng);
}

int main(int argc, char **argv) {
    size_t nseries = arg_size(argc, argv, 1, 10000);
    size_t npoints = arg_size(argc, argv, 2, 1000);
    size_t window = arg_size(argc, argv, 3, 168);
    tsl_freq hourly = {TSL_FREQ_HOUR, 1, 0};
    uint64_t rng = 7;

    /* The baseline, by series and overall. */
    double t0 = now();
    tsl_baseline *b = tsl_calloc(1, sizeof *b);
    b->freq = hourly;
    b->period = 1;
    b->nseries = nseries;
    b->series = tsl_calloc(nseries, sizeof *b->series);
    double *all = tsl_reallocarray(NULL, nseries * npoints, sizeof *all);
    char id[32];
    for (size_t i = 0; i < nseries; i++) {
        double *y = all + i * npoints;
        for (size_t t = 0; t < npoints; t++) y[t] = value(i, t, &rng);
        snprintf(id, sizeof id, "item%08zu", i);
        b->series[i].item_id = tsl_strdup(id);
        if (tsl_baseline_stats_compute(y, npoints, 0, hourly, 1, &b->series[i].stats, NULL))
            return 1;
    }
    if (tsl_baseline_stats_compute(all, nseries * npoints, 0, hourly, 1, &b->overall, NULL))
        return 1;
    tsl_free(all);
    printf("baseline of %zu series x %zu points: %.2f s\n", nseries, npoints, now() - t0);

    /* A window per series; every tenth shifted up by a standard deviation (0.1 level). */
    double *fresh = tsl_reallocarray(NULL, nseries * window, sizeof *fresh);
    tsl_drift_window *w = tsl_calloc(nseries, sizeof *w);
    for (size_t i = 0; i < nseries; i++) {
        double *x = fresh + i * window;
        double shift = i % 10 == 0 ? 0.1 * (10 + (double)(i % 97)) : 0;
        for (size_t t = 0; t < window; t++) x[t] = value(i, npoints + t, &rng) + shift;
        w[i] = (tsl_drift_window){b->series[i].item_id, x, window};
    }
    tsl_drift_report rep;
    t0 = now();
    if (tsl_drift_compute(b, w, nseries, NULL, &rep, NULL)) return 1;
    double dt = now() - t0;
    printf("drift of %zu windows of %zu values (and pooled): %.3f s, %.1f us per series; "
           "%zu drifted, overall %s\n",
           nseries, window, dt, dt / (double)nseries * 1e6, rep.drifted,
           tsl_drift_level_name(rep.overall.level));
    tsl_drift_report_release(&rep);

    /* Change detectors. */
    const size_t nupd = 10000000;
    double *res = tsl_reallocarray(NULL, 4096, sizeof *res);
    for (size_t i = 0; i < 4096; i++) res[i] = normal(&rng);
    tsl_cusum c;
    tsl_page_hinkley p;
    tsl_cusum_init(&c, 0, 1, TSL_DRIFT_CUSUM_K, TSL_DRIFT_CUSUM_H, NULL);
    tsl_page_hinkley_init(&p, 1, TSL_DRIFT_PH_DELTA, TSL_DRIFT_PH_LAMBDA, TSL_DRIFT_PH_MIN_N, NULL);
    size_t signals = 0;
    t0 = now();
    for (size_t i = 0; i < nupd; i++)
        if (tsl_cusum_update(&c, res[i & 4095])) {
            signals++;
            tsl_cusum_reset(&c);
        }
    dt = now() - t0;
    printf("CUSUM: %zu updates in %.3f s, %.1f ns each (%zu signals)\n", nupd, dt,
           dt / (double)nupd * 1e9, signals);
    signals = 0;
    t0 = now();
    for (size_t i = 0; i < nupd; i++)
        if (tsl_page_hinkley_update(&p, res[i & 4095])) {
            signals++;
            tsl_page_hinkley_reset(&p);
        }
    dt = now() - t0;
    printf("Page-Hinkley: %zu updates in %.3f s, %.1f ns each (%zu signals)\n", nupd, dt,
           dt / (double)nupd * 1e9, signals);

    /* Alarm evaluations on ranges cut from a metric series with gaps. */
    const size_t neval = 1000000;
    double *metric = tsl_reallocarray(NULL, 4096, sizeof *metric);
    for (size_t i = 0; i < 4096; i++) metric[i] = i % 17 == 0 ? NAN : 0.3 + 0.05 * res[i];
    const int periods[2] = {3, 24};
    for (int k = 0; k < 2; k++) {
        tsl_alarm_rule r;
        tsl_alarm_rule_init(&r, 0.35, TSL_ALARM_GT, periods[k]);
        r.datapoints = (periods[k] + 1) / 2;
        int range = tsl_alarm_rule_range(&r);
        tsl_alarm_state st;
        tsl_alarm_state_init(&st);
        tsl_alarm_result out;
        t0 = now();
        for (size_t i = 0; i < neval; i++) {
            size_t at = i % (4096 - (size_t)range);
            if (tsl_alarm_evaluate(&r, metric + at, (size_t)range, (int64_t)i, &st, &out, NULL))
                return 1;
        }
        dt = now() - t0;
        printf("alarm %d of %d (range %d): %zu evaluations in %.3f s, %.2f us each, %llu "
               "changes\n",
               r.datapoints, r.periods, range, neval, dt, dt / (double)neval * 1e6,
               (unsigned long long)st.changes);
    }

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak resident memory: %.1f MB\n", (double)ru.ru_maxrss / 1024.0);
    tsl_free(metric);
    tsl_free(res);
    tsl_free(w);
    tsl_free(fresh);
    tsl_baseline_free(b);
    return 0;
}
