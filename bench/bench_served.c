/*
 * bench_served.c - memory and load time of a deployed version with many series: what
 * `tsloop serve` holds per endpoint (the bar of issue 5: 100,000 deployed series under 500 MB).
 *
 *   build/bench/bench_served [ITEMS] [MODEL] [DIR]
 *
 * Fits 100 models of MODEL (default "theta"; any tsl_model_spec_parse name) on synthetic hourly
 * series of two weeks, builds a bundle of ITEMS items (default 100,000) by repeating their
 * serialized bytes under distinct item ids, registers it as a version in a fresh store under
 * DIR (default: a temporary folder, removed after), deploys it, and loads it as the daemon does
 * (tsl_served_load: artifact read and checked, every model decoded). Prints the artifact size,
 * the load time, the resident memory the served version adds, and the time to forecast every
 * item once (24 steps, p10/p50/p90, one thread).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/daemon_impl.h"
#include "tsloop/bundle.h"
#include "tsloop/mem.h"
#include "tsloop/store.h"

/* Monotonic wall-clock seconds. */
static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The process's resident set in KiB (VmRSS). */
static long rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) kib = strtol(line + 6, NULL, 10);
    if (f) fclose(f);
    return kib;
}

/* Stops with the diag's message. */
static void die(const char *what, const tsl_diag *d) {
    fprintf(stderr, "bench_served: %s: %s\n", what, tsl_diag_msg(d));
    exit(1);
}

int main(int argc, char **argv) {
    long items = 100000;
    if (argc > 1) {
        char *end = NULL;
        errno = 0;
        items = strtol(argv[1], &end, 10);
        if (errno || end == argv[1] || *end || items <= 0 || items > 10000000) {
            fprintf(stderr, "bench_served: '%s' is not a count of items\n", argv[1]);
            return 2;
        }
    }
    const char *model = argc > 2 ? argv[2] : "theta";
    char dir[4096], path[4200];
    int own_dir = argc <= 3;
    if (own_dir) {
        snprintf(dir, sizeof dir, "%s/bench_served_XXXXXX",
                 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(dir)) {
            perror("bench_served: mkdtemp");
            return 1;
        }
    } else {
        tsl_strlcpy(dir, argv[3], sizeof dir);
    }
    snprintf(path, sizeof path, "%s/store.db", dir);
    tsl_diag d = {TSL_OK, {0}};
    tsl_model_spec spec;
    if (tsl_model_spec_parse(model, 24, &spec, &d)) die("model", &d);

    /* 100 distinct fitted models, serialized. */
    enum { K = 100, N = 24 * 14 };
    tsl_wbuf blobs[K];
    double y[N];
    unsigned seed = 1;
    for (int k = 0; k < K; k++) {
        for (int t = 0; t < N; t++) {
            seed = seed * 1103515245u + 12345u;
            double noise = (double)(seed >> 16 & 0x7fff) / 32768.0;
            y[t] = 50 + 10 * k % 7 + 20 * sin(2 * M_PI * t / 24.0) + 5 * noise;
        }
        tsl_model *m = NULL;
        if (tsl_model_fit(&spec, y, N, &m, &d)) die("fit", &d);
        tsl_wbuf_init(&blobs[k]);
        if (tsl_model_save(m, &blobs[k], &d)) die("save", &d);
        tsl_model_free(m);
    }
    double t0 = now();
    tsl_bundle_builder *b = tsl_bundle_builder_new();
    tsl_wbuf choices; /* each series' training end, as the pipeline records it */
    tsl_wbuf_init(&choices);
    tsl_wbuf_puts(&choices, "{\"items\":{");
    for (long i = 0; i < items; i++) {
        char id[32];
        snprintf(id, sizeof id, "item-%07ld", i);
        tsl_wbuf_printf(&choices, "%s\"%s\":{\"end\":1767225600}", i ? "," : "", id);
        if (tsl_bundle_add_raw(b, id, NULL, blobs[i % K].data, blobs[i % K].len, &d))
            die("bundle", &d);
    }
    tsl_bundle_builder_meta(b,
                            "{\"settings\":{\"frequency\":\"H\",\"horizon\":24,"
                            "\"levels\":[0.1,0.5,0.9]}}",
                            &d);
    tsl_wbuf art;
    tsl_wbuf_init(&art);
    if (tsl_bundle_builder_write(b, &art, &d)) die("bundle", &d);
    tsl_bundle_builder_free(b);
    for (int k = 0; k < K; k++) tsl_wbuf_release(&blobs[k]);
    double t_build = now() - t0;

    tsl_store *s = NULL;
    if (tsl_store_open(path, NULL, &s, &d)) die("store", &d);
    tsl_store_model_new mn;
    memset(&mn, 0, sizeof mn);
    mn.forecaster = "bench";
    tsl_wbuf_puts(&choices, "}}");
    mn.choices = tsl_wbuf_cstr(&choices);
    mn.artifact = art.data;
    mn.artifact_len = art.len;
    mn.status = TSL_MODEL_APPROVED;
    mn.who = "bench";
    if (tsl_store_model_register(s, &mn, NULL, NULL, &d)) die("register", &d);
    size_t art_len = art.len;
    tsl_wbuf_release(&art);
    tsl_wbuf_release(&choices);
    tsl_store_deployment dp = {0};
    if (tsl_store_deploy(s, "prod", "bench", 1, 1, "bench", "", &dp, &d)) die("deploy", &d);

    long before = rss_kib();
    t0 = now();
    tsl_served *sv = NULL;
    if (tsl_served_load(s, &dp, &sv, &d)) die("load", &d);
    double t_load = now() - t0;
    long after = rss_kib();

    double levels[3] = {0.1, 0.5, 0.9}, mean[24], quant[72];
    t0 = now();
    for (size_t i = 0; i < sv->n; i++)
        if (sv->models[i] && tsl_model_forecast(sv->models[i], 24, levels, 3, mean, quant, &d))
            die("forecast", &d);
    double t_fc = now() - t0;

    printf("bench_served: %ld items of %s\n", items, model);
    printf("  artifact          %10.1f MiB (bundle built in %.2f s)\n", art_len / 1048576.0,
           t_build);
    printf("  load (decode all) %10.2f s\n", t_load);
    printf("  resident added    %10.1f MiB (%.0f bytes per series)\n", (after - before) / 1024.0,
           (after - before) * 1024.0 / (double)items);
    printf("  forecast all once %10.2f s (%.1f us per item, 24 steps, 3 quantiles, 1 thread)\n",
           t_fc, t_fc * 1e6 / (double)items);
    tsl_served_unref(sv);
    tsl_store_deployment_release(&dp);
    tsl_store_close(s);
    if (own_dir) {
        char f[4300];
        static const char *const tails[] = {"", "-wal", "-shm"};
        for (int i = 0; i < 3; i++) {
            snprintf(f, sizeof f, "%s%s", path, tails[i]);
            unlink(f);
        }
        rmdir(dir);
    }
    return 0;
}
