/*
 * bench_quality.c - speed and memory of the data-quality checks, the data baseline and the
 * drift statistics, on a synthetic data set held in memory or on a data file.
 *
 *   build/bench/bench_quality [SERIES [POINTS]]   (default 10000 series of 1000 hourly points)
 *   build/bench/bench_quality --file FILE
 *
 * The synthetic series have a daily cycle, noise, about 2% missing values and some zeros; one
 * in a hundred has a negative value, one in fifty is cut short. Each step is timed once
 * (wall-clock, single thread): tsl_quality_check plus its JSON, tsl_baseline_compute,
 * tsl_baseline_to_json, tsl_baseline_from_json, tsl_baseline_constraints_json, and PSI, KS
 * and Wasserstein of one week of new values against every series' baseline. The process's
 * peak resident memory is printed at the end.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "tsloop/baseline.h"
#include "tsloop/buf.h"
#include "tsloop/dataset.h"
#include "tsloop/mem.h"
#include "tsloop/quality.h"

/* Monotonic wall-clock seconds. */
static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A deterministic uniform in [0, 1) (64-bit LCG, top 53 bits). */
static double uniform(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) * 0x1.0p-53;
}

/* The synthetic data set: what tsl_dataset_read_* would build, laid out by hand. */
typedef struct synth {
    tsl_dataset ds;
    double *values;
    char *ids;
} synth;

/* Fills s with nseries hourly series of up to npoints values each. */
static void synth_make(synth *s, size_t nseries, size_t npoints) {
    memset(s, 0, sizeof *s);
    s->ds.freq = (tsl_freq){TSL_FREQ_HOUR, 1, 0};
    s->ds.period = 24;
    s->ds.nseries = nseries;
    s->ds.series = tsl_calloc(nseries, sizeof *s->ds.series);
    s->values = tsl_reallocarray(NULL, nseries * npoints, sizeof *s->values);
    s->ids = tsl_reallocarray(NULL, nseries, 32);
    uint64_t rng = 42;
    for (size_t i = 0; i < nseries; i++) {
        tsl_series *se = &s->ds.series[i];
        snprintf(s->ids + 32 * i, 32, "item%08zu", i);
        se->item_id = s->ids + 32 * i;
        se->n = i % 50 == 7 ? npoints / 20 : npoints;
        se->start = 1704067200 + (int64_t)(npoints - se->n) * 3600;
        se->y = s->values + i * npoints;
        double level = 10 + 90 * uniform(&rng);
        for (size_t t = 0; t < se->n; t++) {
            double u = uniform(&rng);
            double v = level * (1 + 0.5 * sin(2 * M_PI * (double)(t % 24) / 24)) +
                       level * 0.1 * (uniform(&rng) - 0.5);
            se->y[t] = u < 0.02 ? NAN : u < 0.05 ? 0 : v;
        }
        if (i % 100 == 3) se->y[se->n / 2] = -1;
        s->ds.rows += se->n;
    }
}

static void synth_release(synth *s) {
    tsl_free(s->ds.series);
    tsl_free(s->values);
    tsl_free(s->ids);
}

/* Fails the run with the diag's message. */
static void check(tsl_err rc, const char *what, const tsl_diag *d) {
    if (rc == TSL_OK) return;
    fprintf(stderr, "bench_quality: %s: %s\n", what, tsl_diag_msg(d));
    exit(1);
}

int main(int argc, char **argv) {
    synth syn;
    tsl_dataset *read = NULL;
    const tsl_dataset *ds;
    tsl_diag d = {0};
    double t0 = now();
    if (argc == 3 && !strcmp(argv[1], "--file")) {
        check(tsl_dataset_read_file(argv[2], NULL, &read, &d), argv[2], &d);
        ds = read;
        printf("read %s in %.3f s\n", argv[2], now() - t0);
    } else {
        size_t nseries = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
        size_t npoints = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000;
        if (nseries < 1 || npoints < 24) {
            fprintf(stderr, "usage: bench_quality [SERIES [POINTS >= 24]] | --file FILE\n");
            return 2;
        }
        synth_make(&syn, nseries, npoints);
        ds = &syn.ds;
    }
    size_t points = 0;
    for (size_t i = 0; i < ds->nseries; i++) points += ds->series[i].n;
    printf("%zu series, %zu points, period %d\n", ds->nseries, points, ds->period);

    tsl_quality_opts qo;
    tsl_quality_opts_init(&qo);
    qo.horizon = 24;
    qo.non_negative = 1;
    tsl_quality_report *qr = NULL;
    tsl_wbuf w;
    tsl_wbuf_init(&w);
    t0 = now();
    check(tsl_quality_check(ds, &qo, &qr, &d), "quality check", &d);
    double t_check = now() - t0;
    t0 = now();
    check(tsl_quality_report_json(qr, 0, &w, &d), "quality JSON", &d);
    double t_qjson = now() - t0;
    char line[TSL_DIAG_MAX];
    tsl_quality_summary(qr, line, sizeof line);
    printf("quality check      %8.3f s  (%.1f M points/s); report %zu violations, JSON %zu bytes "
           "in %.4f s\n  %s\n",
           t_check, (double)points / t_check / 1e6, qr->nviolations, w.len, t_qjson, line);
    tsl_quality_report_free(qr);

    tsl_baseline *b = NULL, *back = NULL;
    t0 = now();
    check(tsl_baseline_compute(ds, 0, &b, &d), "baseline", &d);
    double t_base = now() - t0;
    printf("baseline compute   %8.3f s  (%.1f M points/s)\n", t_base,
           (double)points / t_base / 1e6);
    tsl_wbuf_reset(&w);
    t0 = now();
    check(tsl_baseline_to_json(b, 0, &w, &d), "baseline JSON", &d);
    double t_json = now() - t0;
    printf("baseline to JSON   %8.3f s  (%zu bytes, %.0f bytes/series)\n", t_json, w.len,
           (double)w.len / (double)ds->nseries);
    t0 = now();
    check(tsl_baseline_from_json((const char *)w.data, w.len, &back, &d), "baseline parse", &d);
    printf("baseline from JSON %8.3f s\n", now() - t0);
    tsl_wbuf_reset(&w);
    t0 = now();
    check(tsl_baseline_constraints_json(b, 0, &w, &d), "constraints JSON", &d);
    printf("constraints JSON   %8.3f s  (%zu bytes)\n", now() - t0, w.len);

    /* One week of new values per series, shifted up by a tenth. */
    double x[168];
    uint64_t rng = 7;
    double t_psi = 0, t_ks = 0, t_w = 0, sum = 0;
    for (size_t i = 0; i < b->nseries; i++) {
        const tsl_baseline_stats *s = &b->series[i].stats;
        if (!s->count) continue;
        for (size_t k = 0; k < 168; k++)
            x[k] = 1.1 * (s->deciles[0] + (s->deciles[10] - s->deciles[0]) * uniform(&rng));
        double v;
        t0 = now();
        check(tsl_baseline_psi(s, x, 168, &v, &d), "psi", &d);
        t_psi += now() - t0;
        sum += v;
        t0 = now();
        check(tsl_baseline_ks(s, x, 168, &v, &d), "ks", &d);
        t_ks += now() - t0;
        sum += v;
        t0 = now();
        check(tsl_baseline_wasserstein(s, x, 168, NULL, &v, &d), "wasserstein", &d);
        t_w += now() - t0;
        sum += v;
    }
    double per = 1e6 / (double)b->nseries;
    printf("drift, 168 new values per series: PSI %.2f us, KS %.2f us, Wasserstein %.2f us per "
           "series (checksum %.6g)\n",
           t_psi * per, t_ks * per, t_w * per, sum);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS %.1f MB (the data set itself: %.1f MB of values)\n", ru.ru_maxrss / 1024.0,
           (double)points * 8 / 1048576.0);
    tsl_wbuf_release(&w);
    tsl_baseline_free(b);
    tsl_baseline_free(back);
    if (read)
        tsl_dataset_free(read);
    else
        synth_release(&syn);
    return 0;
}
