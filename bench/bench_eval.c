/*
 * bench_eval.c - speed of the evaluator: how long after ground truth is stored its windows are
 * recomputed and the alarms evaluated.
 *
 *   build/bench/bench_eval [ITEMS [DAYS [HISTORY [LAST]]]]
 *       (default 100 hourly items, 30 days of day-ahead forecasts, no older history)
 *
 * A store in a temporary folder holds ITEMS hourly series with 30 days of history, a
 * registered and deployed version, and DAYS daily runs each capturing a 24-step forecast per
 * item (ITEMS x DAYS captures). Two monitors watch the endpoint: a daily MAE and a per-run
 * MASE. Then each day's actuals (ITEMS x 24 observations) are ingested and tsl_monitor_follow
 * is timed (wall-clock, single thread): it finds the observations the ingest wrote, recomputes
 * the touched windows of both monitors from every capture and evaluates both alarms (wall
 * clock, and the process's CPU time, which a shared machine does not inflate). The ingest
 * itself is timed apart. The process's peak resident memory is printed at the end.
 *
 * HISTORY adds that many older daily runs (ITEMS x HISTORY more captures, written in one
 * transaction per day) targeting the days before the actuals: a long-lived endpoint, where the
 * evaluation must read only the captures of the touched days (tsl_store_capture_span) to stay
 * within issue 6's one-second bar. With a history only the daily monitor runs: run windows
 * still read the endpoint's whole history (docs/monitoring.md, "Cost"), which would measure
 * that instead. The peak memory then includes the captures the evaluation loaded. LAST > 0
 * makes that one monitor a last:LAST window instead of the daily one (the latest LAST hours
 * with actuals, read backwards from the latest target).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "tsloop/mem.h"
#include "tsloop/monitor.h"
#include "tsloop/store.h"

#define HOUR 3600

/* Monotonic wall-clock seconds. */
static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU seconds of this process: on a shared machine, what the work itself costs. */
static double cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Strictly positive decimal argument, or the default. */
static size_t arg_size(int argc, char **argv, int i, size_t dflt) {
    if (argc <= i) return dflt;
    char *end = NULL;
    long long v = strtoll(argv[i], &end, 10);
    if (!end || *end || v <= 0) {
        fprintf(stderr, "bench_eval: '%s' is not a positive count\n", argv[i]);
        exit(2);
    }
    return (size_t)v;
}

/* Item i's value at hour t: a daily cycle around a level. */
static double value(size_t i, int64_t t) {
    double level = 10 + (double)(i % 17);
    return level + 3 * sin(2 * M_PI * (double)(t % 24) / 24) + 0.5 * cos((double)(t * 7 + i));
}

static void die(const char *what, const tsl_diag *d) {
    fprintf(stderr, "bench_eval: %s: %s\n", what, d->msg);
    exit(1);
}

/* Ingests hours [from, to) of every item. */
static void ingest(tsl_store *s, size_t items, int64_t from, int64_t to, char (*ids)[32]) {
    tsl_store_ingest *in = NULL;
    tsl_store_receipt r;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_ingest_begin(s, "load", NULL, 0, NULL, &in, &d)) die("ingest", &d);
    for (size_t i = 0; i < items; i++)
        for (int64_t t = from; t < to; t++) {
            tsl_csv_row row = {ids[i], strlen(ids[i]), t * HOUR, value(i, t), NULL, NULL, 2};
            if (tsl_store_ingest_add(in, &row, &d)) die("ingest", &d);
        }
    if (tsl_store_ingest_end(in, &r, &d)) die("ingest", &d);
    tsl_store_receipt_release(&r);
}

int main(int argc, char **argv) {
    size_t items = arg_size(argc, argv, 1, 100), days = arg_size(argc, argv, 2, 30);
    size_t history = argc > 3 && strcmp(argv[3], "0") ? arg_size(argc, argv, 3, 0) : 0;
    size_t last = argc > 4 && strcmp(argv[4], "0") ? arg_size(argc, argv, 4, 0) : 0;
    char dir[] = "/tmp/bench_eval_XXXXXX", path[64];
    tsl_diag d = {TSL_OK, {0}};
    tsl_store *s = NULL;
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof path, "%s/store.db", dir);
    tsl_store_opts o = {.sync_normal = 1};
    if (tsl_store_open(path, &o, &s, &d)) die("open", &d);
    tsl_freq freq;
    if (tsl_freq_parse("H", &freq, &d) ||
        tsl_store_dataset_create(s, "load", freq, NULL, 0, NULL, &d))
        die("dataset", &d);
    char(*ids)[32] = tsl_calloc(items, sizeof *ids);
    for (size_t i = 0; i < items; i++) snprintf(ids[i], sizeof ids[i], "item%05zu", i);
    int64_t base = (int64_t)history * 24, h0 = base + 30 * 24; /* actuals: hours [base, h0) */
    ingest(s, items, base, h0, ids);
    tsl_store_model_new m = {.forecaster = "load",
                             .dataset = "load",
                             .artifact = "x",
                             .artifact_len = 1,
                             .status = TSL_MODEL_APPROVED,
                             .who = "bench",
                             .why = "bench"};
    int64_t model = 0;
    int version = 0;
    if (tsl_store_model_register(s, &m, &model, &version, &d) ||
        tsl_store_deploy(s, "prod", "load", version, 0, "bench", "", NULL, &d))
        die("deploy", &d);

    /* day k's run: from the last hour of day k - 1, 24 steps, p10/p90 */
    double levels[2] = {0.1, 0.9}, mean[24], quant[48];
    int64_t targets[24];
    tsl_store_capture_new *caps = tsl_calloc(items, sizeof *caps);
    char(*runs)[32] = tsl_calloc(days, sizeof *runs);
    double t_hist = now();
    for (size_t k = 0; k < history; k++) {
        int64_t start = (int64_t)k * 24;
        for (int j = 0; j < 24; j++) {
            targets[j] = (start + j) * HOUR;
            mean[j] = value(0, start + j);
            quant[2 * j] = mean[j] - 1;
            quant[2 * j + 1] = mean[j] + 1;
        }
        for (size_t i = 0; i < items; i++)
            caps[i] = (tsl_store_capture_new){"old", "prod", model, ids[i],  (start - 1) * HOUR,
                                              0,     24,     2,     targets, levels,
                                              mean,  quant,  0};
        if (tsl_store_capture_add(s, caps, items, &d)) die("capture", &d);
    }
    t_hist = now() - t_hist;
    for (size_t k = 0; k < days; k++) {
        int64_t start = h0 + (int64_t)k * 24;
        snprintf(runs[k], sizeof runs[k], "day-%zu", k);
        for (size_t i = 0; i < items; i++) {
            /* the arrays are shared: each item's values are the same shape, enough for timing */
            for (int j = 0; j < 24; j++) {
                targets[j] = (start + j) * HOUR;
                mean[j] = value(i, start + j) + 0.3;
                quant[2 * j] = mean[j] - 1;
                quant[2 * j + 1] = mean[j] + 1;
            }
            caps[i] = (tsl_store_capture_new){runs[k], "prod", model, ids[i],  (start - 1) * HOUR,
                                              0,       24,     2,     targets, levels,
                                              mean,    quant,  0};
            if (tsl_store_capture_add(s, &caps[i], 1, &d)) die("capture", &d);
        }
    }

    tsl_config_monitor mons[2];
    memset(mons, 0, sizeof mons);
    mons[0].name = "daily-mae";
    mons[0].endpoint = "prod";
    mons[0].metric = TSL_METRIC_MAE;
    mons[0].window = TSL_WINDOW_DAY;
    mons[1] = mons[0];
    mons[1].name = "run-mase";
    mons[1].metric = TSL_METRIC_MASE;
    mons[1].window = TSL_WINDOW_RUN;
    for (int k = 0; k < 2; k++) {
        mons[k].policy.kind = TSL_THRESHOLD_FIXED;
        mons[k].policy.value = 1;
        mons[k].policy.factor = 1;
        tsl_alarm_rule_init(&mons[k].rule, 1, TSL_ALARM_GT, 3);
    }
    if (last) {
        mons[0].name = "last-mae";
        mons[0].window = TSL_WINDOW_LAST;
        mons[0].window_n = last > 100000 ? 100000 : (int)last;
    }
    tsl_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.monitors = mons;
    cfg.nmonitors = history ? 1 : 2;
    tsl_monitor_stats st = {0};
    if (tsl_monitor_follow(s, &cfg, 0, wall_ms(), &st, &d)) die("follow", &d); /* the history */

    double t_ingest = 0, t_eval = 0, worst = 0, c_eval = 0;
    for (size_t k = 0; k < days; k++) {
        int64_t start = h0 + (int64_t)k * 24;
        double t0 = now();
        ingest(s, items, start, start + 24, ids);
        double t1 = now(), c1 = cpu();
        if (tsl_monitor_follow(s, &cfg, 0, wall_ms(), &st, &d)) die("follow", &d);
        double t2 = now();
        c_eval += cpu() - c1;
        t_ingest += t1 - t0;
        t_eval += t2 - t1;
        if (t2 - t1 > worst) worst = t2 - t1;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("bench_eval: %zu items, %zu daily runs of 24 steps (%zu captures)\n", items, days,
           items * days);
    if (history)
        printf("  and %zu older daily runs (%zu captures, written in %.1f s); %s monitor only\n",
               history, items * history, t_hist, last ? "last:N" : "daily");
    printf("  ingest of a day's actuals (%zu rows): %.1f ms mean\n", items * 24,
           1e3 * t_ingest / (double)days);
    printf("  evaluation after it (%zu monitor%s, windows recomputed, alarms): %.1f ms mean, "
           "%.1f ms worst\n",
           cfg.nmonitors, cfg.nmonitors == 1 ? "" : "s", 1e3 * t_eval / (double)days, 1e3 * worst);
    printf("  of which CPU time: %.1f ms mean\n", 1e3 * c_eval / (double)days);
    printf("  windows %llu, datapoints %llu, alarm evaluations %llu\n",
           (unsigned long long)st.windows, (unsigned long long)st.datapoints,
           (unsigned long long)st.alarms);
    printf("  peak resident memory %.1f MB\n", (double)ru.ru_maxrss / 1024.0);
    tsl_free(caps);
    tsl_free(runs);
    tsl_free(ids);
    tsl_store_close(s);
    static const char *const files[] = {"store.db", "store.db-wal", "store.db-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    return rmdir(dir) == 0 ? 0 : 1;
}
