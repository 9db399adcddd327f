/*
 * bench_gbm.c - training and forecasting time, memory and accuracy of the global
 * gradient-boosted model on a data set of the shared folder: M4-weekly (horizon 13, period 52)
 * or gefload (hourly, horizon 168 from the end of training, periods 24 and 168).
 *
 *     build/bench/bench_gbm [--set m4weekly|gefload] [--data DIR] [--strategy recursive|direct]
 *                           [--threads N] [--rounds N] [--depth N] [--eta X] [--rows N]
 *                           [--patience N] [--no-refit] [--no-calendar] [--params STR]
 *                           [--seed N] [--replay N] [--recheck-threads N] [--out FILE]
 *
 * DIR (default $TSL_SHARED_DATA, then ../shared/data) holds SET_train.csv[.gz] and
 * SET_test.csv[.gz]. One booster is trained on every series' training data, each series' model
 * forecasts the horizon with p10, p50, p90, and the forecasts are scored against the test
 * values: sMAPE and MASE (in-sample seasonal-naive scale with the set's season length) averaged
 * over series, p10-p90 coverage and mean wQL pooled over points (metrics.h), next to seasonal
 * naive on the same series. --replay N instead trains on all but the last N horizons of the
 * training data and scores N windows in turn, updating every model with each window's actuals
 * before forecasting the next (no retraining): the monitoring scenario, and N windows instead of
 * one test window to average over. --recheck-threads N trains again with N threads and reports the
 * largest difference between the two runs' forecasts (0 = bit-identical). --out writes the
 * forecast CSV (item_id,timestamp,mean,p10,p50,p90) that bench/score.py also reads. Prints one
 * line of key=value pairs.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "forecast/gbm.h"
#include "tsloop/dataset.h"
#include "tsloop/mem.h"
#include "tsloop/metrics.h"
#include "tsloop/model.h"

#define NQ 3
static const double levels[NQ] = {0.1, 0.5, 0.9};

/* CPU seconds of this process (all threads): the machine is shared, wall time is not the
 * program's alone. */
static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Reads DIR/NAME.csv, or DIR/NAME.csv.gz when the first is absent. */
static tsl_dataset *read_set(const char *dir, const char *name) {
    char path[4096];
    tsl_dataset *ds = NULL;
    tsl_diag d = {0};
    snprintf(path, sizeof path, "%s/%s.csv", dir, name);
    FILE *fp = fopen(path, "r");
    if (fp)
        fclose(fp);
    else
        snprintf(path, sizeof path, "%s/%s.csv.gz", dir, name);
    if (tsl_dataset_read_file(path, NULL, &ds, &d)) {
        fprintf(stderr, "bench_gbm: %s\n", tsl_diag_msg(&d));
        return NULL;
    }
    return ds;
}

/* Parses a positive integer option or exits with a usage error. */
static long num_arg(const char *s, const char *name) {
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < 0) {
        fprintf(stderr, "bench_gbm: %s expects a non-negative integer, got '%s'\n", name, s);
        exit(2);
    }
    return v;
}

/* The actual values of window w of series i: from the training file itself when replaying
 * (the values after lens[i] + w h), else from the test file. */
static void actuals(const tsl_dataset *train, const tsl_dataset *test, size_t i, size_t len,
                    size_t w, size_t h, int replay, double *yt) {
    const tsl_series *s = &train->series[i];
    for (size_t j = 0; j < h; j++) yt[j] = NAN;
    if (replay) {
        for (size_t j = 0; j < h && len + w * h + j < s->n; j++) yt[j] = s->y[len + w * h + j];
        return;
    }
    long k = tsl_dataset_find(test, s->item_id);
    if (k < 0) return;
    const tsl_series *u = &test->series[k];
    int64_t steps = 0;
    if (tsl_freq_steps(train->freq, tsl_dataset_time(train, s, s->n - 1), u->start, &steps) ||
        steps < 1)
        return;
    for (size_t j = 0; j < u->n; j++)
        if ((size_t)steps - 1 + j < h) yt[(size_t)steps - 1 + j] = u->y[j];
}

/* One run's results. */
typedef struct run {
    tsl_agg agg, agg_sn;
    double t_fc;
    size_t failed, model_bytes;
    double *mean; /* the first window's forecasts, n x h, for --out and --recheck-threads */
    double *quant;
} run;

/* Forecasts `windows` windows of h steps for every series from g's models (updating the model
 * with each window's actuals after scoring it), next to seasonal naive. */
static void evaluate(tsl_gbm *g, const tsl_dataset *train, const tsl_dataset *test,
                     const size_t *lens, size_t h, size_t windows, int replay, int season, run *r) {
    size_t n = train->nseries;
    double *yt = tsl_malloc(h * sizeof *yt), *sn = tsl_malloc(h * sizeof *sn);
    double *snq = tsl_malloc(h * NQ * sizeof *snq), *m_mean = tsl_malloc(h * sizeof *m_mean);
    double *m_q = tsl_malloc(h * NQ * sizeof *m_q);
    r->mean = tsl_reallocarray(NULL, n * h, sizeof *r->mean);
    r->quant = tsl_reallocarray(NULL, n * h * NQ, sizeof *r->quant);
    tsl_wbuf w;
    tsl_wbuf_init(&w);
    for (size_t i = 0; i < n; i++) {
        const tsl_series *s = &train->series[i];
        tsl_model *m = NULL, *snm = NULL;
        tsl_model_spec spec;
        tsl_diag d = {0};
        tsl_acc a = {0}, b = {0};
        tsl_model_spec_init(&spec, TSL_MODEL_SNAIVE, season);
        if (tsl_gbm_model(g, i, &m, &d) || tsl_model_fit(&spec, s->y, lens[i], &snm, &d)) {
            fprintf(stderr, "bench_gbm: series %zu: %s\n", i + 1, tsl_diag_msg(&d));
            r->failed++;
            tsl_model_free(m);
            continue;
        }
        if (i == 0) {
            tsl_model_save(m, &w, NULL);
            r->model_bytes = w.len;
        }
        for (size_t win = 0; win < windows; win++) {
            actuals(train, test, i, lens[i], win, h, replay, yt);
            double t0 = now();
            tsl_err rc = tsl_model_forecast(m, h, levels, NQ, m_mean, m_q, &d);
            r->t_fc += now() - t0;
            if (rc || tsl_model_forecast(snm, h, levels, NQ, sn, snq, &d)) {
                fprintf(stderr, "bench_gbm: series %zu: %s\n", i + 1, tsl_diag_msg(&d));
                r->failed++;
                break;
            }
            if (win == 0) {
                memcpy(r->mean + i * h, m_mean, h * sizeof *m_mean);
                memcpy(r->quant + i * h * NQ, m_q, h * NQ * sizeof *m_q);
            }
            tsl_acc_add(&a, yt, m_mean, m_q, levels, NQ, h, NULL);
            tsl_acc_add(&b, yt, sn, snq, levels, NQ, h, NULL);
            if (win + 1 < windows &&
                (tsl_model_update(m, yt, h, NULL, &d) || tsl_model_update(snm, yt, h, NULL, &d))) {
                fprintf(stderr, "bench_gbm: series %zu: %s\n", i + 1, tsl_diag_msg(&d));
                r->failed++;
                break;
            }
        }
        double scale = tsl_mase_scale(s->y, lens[i], season);
        tsl_agg_add(&r->agg, &a, scale, NULL);
        tsl_agg_add(&r->agg_sn, &b, scale, NULL);
        tsl_model_free(m);
        tsl_model_free(snm);
    }
    tsl_wbuf_release(&w);
    tsl_free(yt);
    tsl_free(sn);
    tsl_free(snq);
    tsl_free(m_mean);
    tsl_free(m_q);
}

int main(int argc, char **argv) {
    const char *dir = getenv("TSL_SHARED_DATA");
    const char *set = "m4weekly", *outpath = NULL;
    long recheck = -1, replay = 0;
    int calendar = 1;
    tsl_gbm_opts o;
    tsl_gbm_opts_init(&o, 13, 52);
    if (!dir) dir = "../shared/data";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--no-refit")) {
            o.refit = 0;
            continue;
        }
        if (!strcmp(a, "--no-calendar")) {
            calendar = 0;
            continue;
        }
        if (!v) {
            fprintf(stderr, "usage: bench_gbm [--set m4weekly|gefload] [--data DIR] [--strategy "
                            "recursive|direct] [--threads N] [--rounds N] [--depth N] [--eta X] "
                            "[--rows N] [--patience N] [--no-refit] [--no-calendar] [--params "
                            "STR] [--seed N] [--replay N] [--recheck-threads N] [--out FILE]\n");
            return 2;
        }
        i++;
        if (!strcmp(a, "--set"))
            set = v;
        else if (!strcmp(a, "--data"))
            dir = v;
        else if (!strcmp(a, "--strategy")) {
            if (strcmp(v, "direct") && strcmp(v, "recursive")) {
                fprintf(stderr, "bench_gbm: --strategy is direct or recursive, not '%s'\n", v);
                return 2;
            }
            o.strategy = !strcmp(v, "direct") ? TSL_GBM_DIRECT : TSL_GBM_RECURSIVE;
        } else if (!strcmp(a, "--threads"))
            o.threads = (int)num_arg(v, a);
        else if (!strcmp(a, "--rounds"))
            o.max_rounds = (int)num_arg(v, a);
        else if (!strcmp(a, "--depth"))
            o.max_depth = (int)num_arg(v, a);
        else if (!strcmp(a, "--eta")) {
            char *end = NULL;
            o.eta = strtod(v, &end);
            if (end == v || *end) {
                fprintf(stderr, "bench_gbm: --eta expects a number, got '%s'\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--rows"))
            o.max_rows = (size_t)num_arg(v, a);
        else if (!strcmp(a, "--patience"))
            o.patience = (int)num_arg(v, a);
        else if (!strcmp(a, "--params"))
            o.params = v;
        else if (!strcmp(a, "--seed"))
            o.seed = (uint64_t)num_arg(v, a);
        else if (!strcmp(a, "--recheck-threads"))
            recheck = num_arg(v, a);
        else if (!strcmp(a, "--replay"))
            replay = num_arg(v, a);
        else if (!strcmp(a, "--out"))
            outpath = v;
        else {
            fprintf(stderr, "bench_gbm: unknown option %s\n", a);
            return 2;
        }
    }
    size_t h;
    int season;
    if (!strcmp(set, "gefload")) {
        h = 168;
        season = 24;
        o.period = 24;
        o.nperiods = 2;
        o.periods[0] = 24;
        o.periods[1] = 168;
    } else if (!strcmp(set, "m4weekly")) {
        h = 13;
        season = 52;
        o.period = 52;
    } else {
        fprintf(stderr, "bench_gbm: unknown set '%s' (m4weekly or gefload)\n", set);
        return 2;
    }
    o.horizon = h;
    char name[256];
    snprintf(name, sizeof name, "%s_train", set);
    tsl_dataset *train = read_set(dir, name);
    snprintf(name, sizeof name, "%s_test", set);
    tsl_dataset *test = train ? read_set(dir, name) : NULL;
    if (!train || !test) return 1;
    if (calendar) o.freq = train->freq;
    size_t n = train->nseries;
    tsl_ts *ts = tsl_calloc(n, sizeof *ts);
    size_t *lens = tsl_calloc(n, sizeof *lens);
    for (size_t i = 0; i < n; i++) {
        ts[i] = (tsl_ts){train->series[i].y, train->series[i].n, train->series[i].start};
        size_t back = (size_t)replay * h;
        lens[i] = train->series[i].n > back ? train->series[i].n - back : 0;
    }

    tsl_gbm *g = NULL;
    tsl_diag d = {0};
    double t0 = now(), c0 = cpu_seconds();
    if (tsl_gbm_train(ts, n, lens, &o, &g, &d)) {
        fprintf(stderr, "bench_gbm: training failed: %s\n", tsl_diag_msg(&d));
        return 1;
    }
    double t_train = now() - t0, c_train = cpu_seconds() - c0;
    tsl_gbm_info info;
    tsl_gbm_get_info(g, &info);
    run r = {0};
    size_t windows = replay > 0 ? (size_t)replay : 1;
    evaluate(g, train, test, lens, h, windows, replay > 0, season, &r);
    double *mean = r.mean, *quant = r.quant;
    size_t failed = r.failed, model_bytes = r.model_bytes;
    double t_fc = r.t_fc;
    tsl_agg agg = r.agg, agg_sn = r.agg_sn;

    double maxdiff = NAN;
    if (recheck >= 0) {
        tsl_gbm_opts o2 = o;
        tsl_gbm *g2 = NULL;
        o2.threads = (int)recheck;
        if (tsl_gbm_train(ts, n, lens, &o2, &g2, &d)) {
            fprintf(stderr, "bench_gbm: retraining failed: %s\n", tsl_diag_msg(&d));
            return 1;
        }
        run r2 = {0};
        evaluate(g2, train, test, lens, h, 1, replay > 0, season, &r2);
        maxdiff = 0;
        for (size_t i = 0; i < n * h; i++) {
            double diff = fabs(mean[i] - r2.mean[i]) / (fabs(mean[i]) + 1e-300);
            if (diff > maxdiff || isnan(diff)) maxdiff = diff;
        }
        tsl_free(r2.mean);
        tsl_free(r2.quant);
        tsl_gbm_free(g2);
    }

    if (outpath) {
        FILE *out = fopen(outpath, "w");
        if (!out) {
            fprintf(stderr, "bench_gbm: cannot write %s\n", outpath);
            return 1;
        }
        fprintf(out, "item_id,timestamp,mean,p10,p50,p90\n");
        for (size_t i = 0; i < n; i++) {
            const tsl_series *s = &train->series[i];
            for (size_t k = 0; k < h; k++) {
                char when[40];
                tsl_time_format(tsl_dataset_time(train, s, lens[i] + k),
                                !tsl_freq_is_subdaily(train->freq), when, sizeof when);
                const double *q = quant + (i * h + k) * NQ;
                fprintf(out, "%s,%s,%.10g,%.10g,%.10g,%.10g\n", s->item_id, when, mean[i * h + k],
                        q[0], q[1], q[2]);
            }
        }
        fclose(out);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("set=%s strategy=%s threads=%d refit=%d calendar=%d series=%zu failed=%zu "
           "features=%zu rows=%zu rows_available=%zu holdout=%zu cal_errors=%zu rounds=%d "
           "train_s=%.2f train_cpu_s=%.2f forecast_s=%.3f booster_kb=%.0f model_kb=%.0f "
           "max_rss_mb=%.0f "
           "smape=%.3f mase=%.4f coverage=%.3f wql=%.4f snaive_smape=%.3f snaive_mase=%.4f "
           "snaive_coverage=%.3f thread_maxreldiff=%.3g\n",
           set, o.strategy == TSL_GBM_DIRECT ? "direct" : "recursive", o.threads, o.refit, calendar,
           n, failed, info.nfeatures, info.rows, info.rows_available, info.holdout, info.cal_errors,
           info.rounds, t_train, c_train, t_fc, (double)info.booster_bytes / 1024.0,
           (double)model_bytes / 1024.0, (double)ru.ru_maxrss / 1024.0,
           tsl_agg_value(&agg, TSL_METRIC_SMAPE), tsl_agg_value(&agg, TSL_METRIC_MASE),
           tsl_agg_value(&agg, TSL_METRIC_COVERAGE), tsl_agg_value(&agg, TSL_METRIC_MEAN_WQL),
           tsl_agg_value(&agg_sn, TSL_METRIC_SMAPE), tsl_agg_value(&agg_sn, TSL_METRIC_MASE),
           tsl_agg_value(&agg_sn, TSL_METRIC_COVERAGE), maxdiff);
    tsl_free(mean);
    tsl_free(quant);
    tsl_free(ts);
    tsl_free(lens);
    tsl_gbm_free(g);
    tsl_dataset_free(train);
    tsl_dataset_free(test);
    return failed ? 1 : 0;
}
