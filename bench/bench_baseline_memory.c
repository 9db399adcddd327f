/*
 * bench_baseline_memory.c - the memory a monitor needs to read a large version's data
 * baseline: the peak resident memory of a drift monitor's and a quality monitor's evaluation of
 * one small ingest against a deployed version of SERIES series.
 *
 *   build/bench/bench_baseline_memory [SERIES [PERIOD [ITEMS]]]
 *       (default 100,000 daily series, seasonal profiles of 7, an ingest of 10 items)
 *
 * A store in a temporary folder gets a data set of SERIES items (one observation each, so that
 * the store stays small), a registered and deployed version whose bundle holds only metadata:
 * settings and the data baseline of SERIES series as the training pipeline writes it (deciles,
 * bucket counts and a seasonal profile per series: about 600 bytes of JSON each, 59 MB for
 * 100,000), and one ingest of ITEMS items x 7 days. Each evaluation then runs in a fresh process
 * (this program again, "eval DIR drift|quality"), so that its peak resident memory (VmHWM) is
 * its own: the process's peak after opening the store, and after the monitor's evaluation.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tsloop/baseline.h"
#include "tsloop/bundle.h"
#include "tsloop/config.h"
#include "tsloop/mem.h"
#include "tsloop/monitor.h"
#include "tsloop/store.h"

#define DAY 86400

static void die(const char *what, const tsl_diag *d) {
    fprintf(stderr, "bench_baseline_memory: %s: %s\n", what, d->msg);
    exit(1);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A /proc/self/status field in kB (VmHWM, VmRSS), -1 when unreadable. */
static long status_kb(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, field, n) && line[n] == ':') v = strtol(line + n + 1, NULL, 10);
    fclose(f);
    return v;
}

/* Strictly positive decimal argument, or the default. */
static size_t arg_size(int argc, char **argv, int i, size_t dflt) {
    if (argc <= i) return dflt;
    char *end = NULL;
    long long v = strtoll(argv[i], &end, 10);
    if (!end || *end || v <= 0) {
        fprintf(stderr, "bench_baseline_memory: '%s' is not a positive count\n", argv[i]);
        exit(2);
    }
    return (size_t)v;
}

/* Ingests `days` days from day `from` of items [0, nitems) into "sales". */
static void ingest(tsl_store *s, size_t nitems, int from, int days) {
    tsl_store_ingest *in = NULL;
    tsl_store_receipt r;
    tsl_diag d = {TSL_OK, {0}};
    char id[32];
    if (tsl_store_ingest_begin(s, "sales", NULL, 0, NULL, &in, &d)) die("ingest", &d);
    for (size_t i = 0; i < nitems; i++) {
        snprintf(id, sizeof id, "s%06zu", i);
        for (int t = from; t < from + days; t++) {
            tsl_csv_row row = {id,   strlen(id), (int64_t)t * DAY, 10.0 + (double)(i % 97) + t % 7,
                               NULL, NULL,       (uint64_t)t + 2};
            if (tsl_store_ingest_add(in, &row, &d)) die("ingest", &d);
        }
    }
    if (tsl_store_ingest_end(in, &r, &d)) die("ingest", &d);
    tsl_store_receipt_release(&r);
}

/* The baseline of n synthetic series with a profile of `period`, as JSON text in out. */
static void baseline_json(size_t n, int period, tsl_wbuf *out) {
    tsl_baseline b;
    tsl_diag d = {TSL_OK, {0}};
    memset(&b, 0, sizeof b);
    if (tsl_freq_parse("D", &b.freq, &d)) die("freq", &d);
    b.period = period;
    b.nseries = n;
    b.series = tsl_calloc(n, sizeof *b.series);
    double *prof = tsl_calloc((size_t)period, sizeof *prof);
    for (int k = 0; k < period; k++) prof[k] = 0.1 * (k - period / 2);
    tsl_baseline_stats *all = &b.overall;
    for (size_t i = 0; i <= n; i++) {
        tsl_baseline_stats *st = i < n ? &b.series[i].stats : all;
        double level = 10.0 + (double)(i % 97);
        st->n = st->count = i < n ? 28 : 28 * n;
        st->mean = level + 1.5;
        st->sd = 1.1 + 0.001 * (double)(i % 13);
        st->min = level;
        st->max = level + 3;
        st->missing_share = 0;
        st->zero_share = 0;
        for (int k = 0; k <= TSL_BASELINE_BUCKETS; k++) st->deciles[k] = level + 0.3 * k;
        for (int k = 0; k < TSL_BASELINE_BUCKETS; k++)
            st->buckets[k] = st->count / TSL_BASELINE_BUCKETS + (k < (int)(st->count % 10));
        st->period = period;
        st->profile = prof;
        if (i < n) {
            char id[32];
            snprintf(id, sizeof id, "s%06zu", i);
            b.series[i].item_id = tsl_strdup(id);
        }
    }
    if (tsl_baseline_to_json(&b, 0, out, &d)) die("baseline JSON", &d);
    for (size_t i = 0; i < n; i++) tsl_free(b.series[i].item_id);
    tsl_free(b.series);
    tsl_free(prof);
}

/* Makes the store in dir: data set, deployed version with the baseline, one small ingest. */
static void setup(const char *dir, size_t n, int period, size_t items) {
    char path[4096];
    tsl_store *s = NULL;
    tsl_diag d = {TSL_OK, {0}};
    tsl_wbuf js, meta, blob;
    tsl_freq freq;
    snprintf(path, sizeof path, "%s/store.db", dir);
    if (tsl_store_open(path, NULL, &s, &d)) die("open", &d);
    if (tsl_freq_parse("D", &freq, &d) ||
        tsl_store_dataset_create(s, "sales", freq, NULL, 0, NULL, &d))
        die("dataset", &d);
    ingest(s, n, 0, 1);
    tsl_wbuf_init(&js);
    tsl_wbuf_init(&meta);
    tsl_wbuf_init(&blob);
    baseline_json(n, period, &js);
    tsl_wbuf_printf(&meta,
                    "{\"format\":1,\"settings\":{\"horizon\":7},\"baseline\":{\"statistics\":");
    tsl_wbuf_put(&meta, js.data, js.len);
    tsl_wbuf_puts(&meta, "}}");
    tsl_bundle_builder *bb = tsl_bundle_builder_new();
    if (tsl_bundle_builder_meta(bb, tsl_wbuf_cstr(&meta), &d) ||
        tsl_bundle_builder_write(bb, &blob, &d))
        die("bundle", &d);
    printf("baseline: %zu series, %.1f MB of JSON in the bundle's metadata\n", n,
           (double)meta.len / 1e6);
    tsl_store_model_new m;
    memset(&m, 0, sizeof m);
    m.forecaster = "fc";
    m.dataset = "sales";
    m.artifact = blob.data;
    m.artifact_len = blob.len;
    m.status = TSL_MODEL_APPROVED;
    m.who = m.why = "bench";
    int64_t id = 0;
    int version = 0;
    if (tsl_store_model_register(s, &m, &id, &version, &d) ||
        tsl_store_deploy(s, "prod", "fc", version, 0, "bench", "", NULL, &d))
        die("register", &d);
    ingest(s, items < n ? items : n, 1, 7);
    tsl_bundle_builder_free(bb);
    tsl_wbuf_release(&js);
    tsl_wbuf_release(&meta);
    tsl_wbuf_release(&blob);
    tsl_store_close(s);
}

/* Evaluates the last ingest with one monitor (drift or quality) and prints the peaks. */
static int eval(const char *dir, const char *mode) {
    char path[4096];
    tsl_store *s = NULL;
    tsl_diag d = {TSL_OK, {0}};
    snprintf(path, sizeof path, "%s/store.db", dir);
    if (tsl_store_open(path, NULL, &s, &d)) die("open", &d);
    long before = status_kb("VmHWM");
    tsl_config_dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.name = "sales";
    if (tsl_freq_parse("D", &ds.freq, &d)) die("freq", &d);
    tsl_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.datasets = &ds;
    cfg.ndatasets = 1;
    tsl_config_monitor m;
    memset(&m, 0, sizeof m);
    m.name = "m";
    m.endpoint = "prod";
    m.policy.kind = TSL_THRESHOLD_FIXED;
    m.policy.factor = 1;
    tsl_alarm_rule_init(&m.rule, 0, TSL_ALARM_GT, 1);
    int quality = !strcmp(mode, "quality");
    if (quality) {
        m.kind = TSL_MONITOR_QUALITY;
        m.window = TSL_WINDOW_INGEST;
        m.check = TSL_QA_FLAGGED;
        m.range_factor = 1.5;
        m.max_listed = 20;
    } else {
        m.kind = TSL_MONITOR_DRIFT;
        m.window = TSL_WINDOW_DAY;
        m.statistic = TSL_DRIFT_STAT_PSI;
        tsl_drift_thresholds_default(&m.drift);
        m.policy.value = m.drift.psi_large;
    }
    tsl_store_ingest_info *ing = NULL;
    size_t ning = 0;
    if (tsl_store_ingest_list(s, "sales", 1, &ing, &ning, &d) || ning != 1) die("ingests", &d);
    int64_t ingest_id = ing[0].id;
    tsl_store_ingest_info_list_free(ing, ning);
    tsl_store_point *pts = NULL;
    size_t npts = 0;
    if (tsl_store_ingest_points(s, ingest_id, &pts, &npts, &d)) die("points", &d);
    double t0 = now();
    tsl_monitor_stats st = {0};
    tsl_err err =
        quality ? tsl_monitor_quality(s, &cfg, &m, "sales", ingest_id, pts, npts,
                                      (int64_t)time(NULL) * 1000, &st, &d)
                : tsl_monitor_drift(s, &m, "sales", pts, npts, (int64_t)time(NULL) * 1000, &st, &d);
    if (err) die(mode, &d);
    double t1 = now();
    printf("%-8s evaluation of %zu points: %7.1f ms, %llu datapoints; peak resident memory %6.1f "
           "MB (%6.1f MB before)\n",
           mode, npts, 1e3 * (t1 - t0), (unsigned long long)st.datapoints,
           (double)status_kb("VmHWM") / 1024, (double)before / 1024);
    tsl_store_point_list_free(pts, npts);
    tsl_store_close(s);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "eval")) return eval(argv[2], argv[3]);
    size_t n = arg_size(argc, argv, 1, 100000);
    int period = (int)arg_size(argc, argv, 2, 7);
    size_t items = arg_size(argc, argv, 3, 10);
    char dir[] = "/tmp/bench_baseline_memory.XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    double t0 = now();
    setup(dir, n, period, items);
    printf("setup: %.1f s\n", now() - t0);
    static const char *const modes[] = {"drift", "quality"};
    for (int i = 0; i < 2; i++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            execl("/proc/self/exe", argv[0], "eval", dir, modes[i], (char *)NULL);
            perror("exec");
            _exit(1);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status)) fprintf(stderr, "%s failed\n", modes[i]);
    }
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", dir);
    return 0;
}
