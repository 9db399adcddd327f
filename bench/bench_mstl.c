/*
 * bench_mstl.c - several seasonalities on real hourly load: MSTL(24,168) against ETS, STL on
 * one period and seasonal naive, a week ahead from the end of the training data, single thread.
 *
 *   build/bench/bench_mstl [DATA_DIR]
 *
 * DATA_DIR (default ../shared/data) holds gefload_train.csv.gz and gefload_test.csv.gz: the 20
 * hourly load zones of GEFCom2012, 39,246 hours each (2004-01-01 to 2008-06-23, eight missing
 * weeks per zone), and the 168 hours that followed. For every model the program fits each
 * series, forecasts 168 steps with the 10% and 90% quantiles, and reports the fit + forecast
 * time and, against the test week, MAE, sMAPE (the M4 definition), MASE (scaled by the in-sample
 * seasonal naive error at lag 24, as the data's meta file asks) and how many actuals fell inside
 * the 10%-90% band. It also reports the periods tsl_mstl_confirm_periods keeps of {24, 168} and
 * the time that takes. One week of one summer is a thin test, so BENCH_ORIGINS=K (default 1)
 * adds K - 1 earlier origins, one every four weeks back from the end of the training data, each
 * scored on the training data's following week (origins whose week has a gap are skipped).
 * Environment also: BENCH_ONLY=NAME runs one model (names as printed); BENCH_SERIES=K the first
 * K series.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "forecast/decompose.h"
#include "forecast/model_impl.h"
#include "tsloop/dataset.h"
#include "tsloop/mem.h"
#include "tsloop/model.h"

#define H 168

typedef struct bench_model {
    const char *name; /* as printed and as BENCH_ONLY takes it */
    const char *spec; /* tsl_model_spec_parse's text */
    int np, periods[2];
} bench_model;

static const bench_model models[] = {
    {"snaive(24)", "snaive", 1, {24, 0}},
    {"snaive(168)", "snaive", 1, {168, 0}},
    {"ets(24)", "ets", 1, {24, 0}},
    {"ets(168)", "ets", 1, {168, 0}},
    {"mstl(24)", "mstl", 1, {24, 0}},
    {"mstl(24,168)", "mstl", 2, {24, 168}},
    {"mstl(24):theta", "mstl:theta", 1, {24, 0}},
    {"mstl(24,168):theta", "mstl:theta", 2, {24, 168}},
};
#define NMODELS (sizeof models / sizeof models[0])

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Reads DIR/NAME or exits with the library's message. */
static tsl_dataset *read_set(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    tsl_dataset *ds = NULL;
    tsl_diag d = {0};
    if (tsl_dataset_read_file(path, NULL, &ds, &d)) {
        fprintf(stderr, "bench_mstl: %s\n", tsl_diag_msg(&d));
        exit(1);
    }
    return ds;
}

/* Mean absolute seasonal-naive (lag m) error of y, over the pairs both observed. */
static double snaive_scale(const double *y, size_t n, size_t m) {
    double s = 0;
    size_t k = 0;
    for (size_t t = m; t < n; t++) {
        if (isnan(y[t]) || isnan(y[t - m])) continue;
        s += fabs(y[t] - y[t - m]);
        k++;
    }
    return k ? s / (double)k : NAN;
}

/* Reads a positive integer from the environment, or returns def. */
static long env_long(const char *name, long def) {
    const char *v = getenv(name);
    if (!v || !*v) return def;
    char *end;
    long x = strtol(v, &end, 10);
    if (*end || x < 1) {
        fprintf(stderr, "bench_mstl: %s must be a positive integer\n", name);
        exit(2);
    }
    return x;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "../shared/data";
    const char *only = getenv("BENCH_ONLY");
    tsl_dataset *train = read_set(dir, "gefload_train.csv.gz");
    tsl_dataset *test = read_set(dir, "gefload_test.csv.gz");
    size_t ns = train->nseries;
    long lim = env_long("BENCH_SERIES", (long)ns);
    long origins = env_long("BENCH_ORIGINS", 1);
    if ((size_t)lim < ns) ns = (size_t)lim;
    static const double lv[2] = {0.1, 0.9};
    double f[H], q[2 * H];

    printf("gefload: %zu series, %zu hours each, horizon %d, %ld origin(s)\n", ns,
           train->series[0].n, H, origins);
    /* Period confirmation. */
    double t0 = now();
    int counts[3] = {0, 0, 0}; /* none / 24 only / 24 and 168 (or 168 alone, counted as 2) */
    for (size_t i = 0; i < ns; i++) {
        const tsl_series *s = &train->series[i];
        static const int cand[2] = {24, 168};
        int out[2], nout = 0;
        tsl_diag d = {0};
        if (tsl_mstl_confirm_periods(s->y, s->n, cand, 2, out, &nout, &d)) {
            fprintf(stderr, "%s: %s\n", s->item_id, tsl_diag_msg(&d));
            continue;
        }
        counts[nout]++;
    }
    printf("confirm {24,168}: %.3f s per series; confirmed none %d, one %d, both %d\n\n",
           (now() - t0) / (double)ns, counts[0], counts[1], counts[2]);

    printf("| model | forecasts | s per fit | MAE | sMAPE | MASE | p10-p90 cover |\n");
    printf("|---|---|---|---|---|---|---|\n");
    for (size_t k = 0; k < NMODELS; k++) {
        const bench_model *bm = &models[k];
        if (only && strcmp(only, bm->name)) continue;
        double secs = 0, mae = 0, smape = 0, mase = 0;
        size_t fitted = 0, inside = 0, points = 0;
        char name[64] = "";
        for (size_t i = 0; i < ns; i++) {
            const tsl_series *s = &train->series[i];
            long ti = tsl_dataset_find(test, s->item_id);
            if (ti < 0 || test->series[ti].n < H) continue;
            for (long o = 0; o < origins; o++) {
                /* Origin o: the history ends 4 o weeks before the training data does. */
                size_t back = (size_t)o * 4 * H, n = s->n - back;
                const double *a = o ? s->y + n : test->series[ti].y;
                if (back + H > s->n || n < 4 * H) continue;
                if (tsl_count_missing(a, H)) continue;
                tsl_model_spec spec;
                tsl_diag d = {0};
                if (tsl_model_spec_parse(bm->spec, bm->periods[bm->np - 1], &spec, &d)) {
                    fprintf(stderr, "bench_mstl: %s\n", tsl_diag_msg(&d));
                    return 1;
                }
                if (bm->np > 1) {
                    spec.nperiods = bm->np;
                    memcpy(spec.periods, bm->periods, sizeof bm->periods);
                }
                tsl_model *m = NULL;
                double start = now();
                tsl_err rc = tsl_model_fit(&spec, s->y, n, &m, &d);
                if (!rc) rc = tsl_model_forecast(m, H, lv, 2, f, q, &d);
                secs += now() - start;
                if (rc) {
                    fprintf(stderr, "%s %s: %s\n", bm->name, s->item_id, tsl_diag_msg(&d));
                    tsl_model_free(m);
                    continue;
                }
                if (!name[0]) snprintf(name, sizeof name, "%s", tsl_model_name(m));
                double scale = snaive_scale(s->y, n, 24), e = 0, sm = 0;
                for (size_t t = 0; t < H; t++) {
                    e += fabs(a[t] - f[t]);
                    sm += 200.0 * fabs(a[t] - f[t]) / (fabs(a[t]) + fabs(f[t]));
                    inside += a[t] >= q[2 * t] && a[t] <= q[2 * t + 1];
                    points++;
                }
                mae += e / H;
                smape += sm / H;
                mase += e / H / scale;
                fitted++;
                tsl_model_free(m);
            }
        }
        double nf = fitted ? (double)fitted : 1.0;
        printf("| %s (%s) | %zu | %.3f | %.1f | %.3f | %.3f | %.3f |\n", bm->name, name, fitted,
               secs / nf, mae / nf, smape / nf, mase / nf,
               points ? (double)inside / (double)points : 0.0);
        fflush(stdout);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("\nmax RSS %.0f MB\n", (double)ru.ru_maxrss / 1024.0);
    tsl_dataset_free(train);
    tsl_dataset_free(test);
    return 0;
}
