/*
 * bench_dayahead.c - the day-ahead rolling evaluation: forecast the next 24 hours each day of the
 * test period from the data before it, as a deployed forecaster would.
 *
 * AutoML chooses and fits a model per series once, on the training data; then, for each day of
 * the test file, every model forecasts the next `--horizon` steps, is scored on what followed,
 * and absorbs those actuals through tsl_model_update (no refit), exactly the loop the daemon
 * will run. The baseline is the seasonal naive forecast one week back (lag 168 for hourly
 * data), updated the same way. Prints sMAPE, MASE, WAPE, mean weighted quantile loss and the
 * p10-p90 coverage of both, and the ratio of the mean wQL.
 *
 * usage: bench_dayahead TRAIN TEST [--horizon 24] [--baseline-lag 168] [--models LIST]
 *                       [--threads N] [--windows K]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tsloop/automl.h"
#include "tsloop/dataset.h"
#include "tsloop/mem.h"
#include "tsloop/metrics.h"
#include "tsloop/model.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(const char *what, const tsl_diag *d) {
    fprintf(stderr, "bench_dayahead: %s: %s\n", what, tsl_diag_msg(d));
    exit(1);
}

/* Scores models[i] day by day over the test series, updating with each day's actuals. */
static void roll(tsl_model **models, const tsl_dataset *train, const tsl_dataset *test,
                 size_t horizon, tsl_agg *agg) {
    static const double lv[3] = {0.1, 0.5, 0.9};
    double *mean = tsl_malloc(horizon * sizeof *mean), *q = tsl_malloc(3 * horizon * sizeof *q);
    for (size_t i = 0; i < test->nseries; i++) {
        long k = tsl_dataset_find(train, test->series[i].item_id);
        if (k < 0 || !models[k]) continue;
        const tsl_series *tr = &train->series[k], *te = &test->series[i];
        /* The test must continue the training series. */
        if (te->start != tsl_dataset_time(train, tr, tr->n)) {
            fprintf(stderr, "bench_dayahead: %s: the test does not start right after training\n",
                    te->item_id);
            exit(1);
        }
        double scale = tsl_mase_scale(tr->y, tr->n, train->period);
        for (size_t o = 0; o + horizon <= te->n; o += horizon) {
            tsl_diag d = {0};
            if (tsl_model_forecast(models[k], horizon, lv, 3, mean, q, &d)) die("forecast", &d);
            tsl_acc acc;
            memset(&acc, 0, sizeof acc);
            if (tsl_acc_add(&acc, te->y + o, mean, q, lv, 3, horizon, &d) ||
                tsl_agg_add(agg, &acc, scale, &d))
                die("scoring", &d);
            if (tsl_model_update(models[k], te->y + o, horizon, NULL, &d)) die("update", &d);
        }
    }
    tsl_free(mean);
    tsl_free(q);
}

static void report(const char *name, const tsl_agg *g, double seconds) {
    printf("%-28s smape %7.3f  mase %6.3f  wape %6.4f  mean_wql %7.5f  cov10-90 %5.3f  %7.2f s\n",
           name, tsl_agg_value(g, TSL_METRIC_SMAPE), tsl_agg_value(g, TSL_METRIC_MASE),
           tsl_agg_value(g, TSL_METRIC_WAPE), tsl_agg_value(g, TSL_METRIC_MEAN_WQL),
           tsl_agg_value(g, TSL_METRIC_COVERAGE), seconds);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_dayahead TRAIN TEST [--horizon H] [--baseline-lag L] "
                        "[--models LIST] [--threads N] [--windows K]\n");
        return 2;
    }
    size_t horizon = 24;
    int lag = 168, threads = 0;
    size_t windows = 3;
    const char *models = NULL;
    for (int a = 3; a + 1 < argc; a += 2) {
        if (!strcmp(argv[a], "--horizon"))
            horizon = (size_t)strtoul(argv[a + 1], NULL, 10);
        else if (!strcmp(argv[a], "--baseline-lag"))
            lag = (int)strtol(argv[a + 1], NULL, 10);
        else if (!strcmp(argv[a], "--models"))
            models = argv[a + 1];
        else if (!strcmp(argv[a], "--threads"))
            threads = (int)strtol(argv[a + 1], NULL, 10);
        else if (!strcmp(argv[a], "--windows"))
            windows = (size_t)strtoul(argv[a + 1], NULL, 10);
        else {
            fprintf(stderr, "bench_dayahead: unknown option %s\n", argv[a]);
            return 2;
        }
    }
    tsl_diag d = {0};
    tsl_dataset *train = NULL, *test = NULL;
    tsl_read_opts ro;
    memset(&ro, 0, sizeof ro);
    if (tsl_dataset_read_file(argv[1], &ro, &train, &d)) die(argv[1], &d);
    ro.freq = train->freq;
    if (tsl_dataset_read_file(argv[2], &ro, &test, &d)) die(argv[2], &d);

    tsl_model_spec cands[64];
    size_t ncand = 0;
    if (models) {
        char *list = tsl_strdup(models), *save = NULL;
        for (char *t = strtok_r(list, ",", &save); t && ncand < 64; t = strtok_r(NULL, ",", &save))
            if (tsl_model_spec_parse(t, train->period, &cands[ncand++], &d)) die(t, &d);
        tsl_free(list);
    }
    tsl_ts *ts = tsl_calloc(train->nseries, sizeof *ts);
    for (size_t i = 0; i < train->nseries; i++)
        ts[i] = (tsl_ts){train->series[i].y, train->series[i].n, train->series[i].start};
    static const double lv[3] = {0.1, 0.5, 0.9};
    tsl_automl_opts o;
    tsl_automl_opts_init(&o, horizon, train->period);
    o.freq = train->freq;
    int periods[TSL_MAX_PERIODS];
    int np = tsl_freq_seasonal_periods(train->freq, periods, TSL_MAX_PERIODS);
    if (np >= 2 && periods[0] == train->period) {
        o.nperiods = np;
        memcpy(o.periods, periods, (size_t)np * sizeof *periods);
    }
    o.levels = lv;
    o.nq = 3;
    o.windows = windows;
    o.threads = threads;
    o.keep_models = 1;
    if (models) {
        o.candidates = cands;
        o.ncandidates = ncand;
    }
    double t0 = now();
    tsl_automl_result *res = NULL;
    if (tsl_automl_run(ts, train->nseries, &o, &res, &d)) die("automl", &d);
    double fit_seconds = now() - t0;
    if (res->nperiods) {
        printf("seasonal periods confirmed on the data:");
        for (int k = 0; k < res->nperiods; k++) printf(" %d", res->periods[k]);
        printf("\n");
    }
    tsl_model **ours = tsl_calloc(train->nseries, sizeof *ours);
    for (size_t i = 0; i < train->nseries; i++) {
        ours[i] = res->series[i].model;
        printf("  %-12s %-28s %s\n", train->series[i].item_id, res->series[i].model_name,
               res->series[i].err ? res->series[i].error : res->series[i].reason);
    }
    tsl_agg a_ours, a_base;
    memset(&a_ours, 0, sizeof a_ours);
    memset(&a_base, 0, sizeof a_base);
    t0 = now();
    roll(ours, train, test, horizon, &a_ours);
    double roll_seconds = now() - t0;

    tsl_model **base = tsl_calloc(train->nseries, sizeof *base);
    tsl_model_spec sn;
    tsl_model_spec_init(&sn, TSL_MODEL_SNAIVE, lag);
    for (size_t i = 0; i < train->nseries; i++)
        if (tsl_model_fit(&sn, train->series[i].y, train->series[i].n, &base[i], &d))
            die("seasonal naive", &d);
    roll(base, train, test, horizon, &a_base);

    printf("\nday-ahead rolling evaluation: %zu series, %zu-step forecasts each day of the test "
           "(%zu days), models updated with each day's actuals\n",
           test->nseries, horizon, test->series[0].n / horizon);
    char label[64];
    snprintf(label, sizeof label, "tsloop AutoML (fit %.1f s)", fit_seconds);
    report(label, &a_ours, roll_seconds);
    snprintf(label, sizeof label, "seasonal naive (lag %d)", lag);
    report(label, &a_base, 0);
    double r =
        tsl_agg_value(&a_ours, TSL_METRIC_MEAN_WQL) / tsl_agg_value(&a_base, TSL_METRIC_MEAN_WQL);
    printf("mean wQL ratio %.3f (%.1f%% below the seasonal naive)\n", r, 100 * (1 - r));
    for (size_t i = 0; i < train->nseries; i++) tsl_model_free(base[i]);
    tsl_free(base);
    tsl_free(ours);
    tsl_automl_result_free(res);
    tsl_free(ts);
    tsl_dataset_free(train);
    tsl_dataset_free(test);
    return 0;
}
