/*
 * bench_store.c - ingest throughput of the embedded store through the upsert path.
 *
 *   build/bench/bench_store [ROWS] [ITEMS] [DIR]
 *
 * Generates ROWS rows (default 2,000,000) of ITEMS hourly items (default 1,000) as CSV in
 * memory, then, into a fresh store under DIR (default: a temporary folder, removed after):
 *   1. fresh      - every row is new (item-major, as exports usually are);
 *   2. unchanged  - the same rows again: every one is compared and found equal;
 *   3. 10% changed - the same rows with every tenth value changed: updates plus revisions;
 *   4. time-major - the rows of a fresh data set ordered by time, then item (a day's file of
 *                   every item), which spreads each batch over all items;
 *   5. load       - the whole data set back into a tsl_dataset.
 * Each phase is one tsl_store_ingest_csv call (parsing included) with the default batch of
 * 65,536 rows (TSL_BENCH_BATCH=N sets another) and synchronous=FULL; rows/s is wall-clock,
 * and the CPU time is printed beside it (on a shared machine the two differ). Also prints the
 * store's size on disk and the peak RSS. The bar (issue 4) is 500,000 rows per second.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tsloop/buf.h"
#include "tsloop/csv.h"
#include "tsloop/mem.h"
#include "tsloop/store.h"

/* Monotonic wall-clock seconds. */
static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A positive count from argument i, or def when absent. */
static long arg_count(int argc, char **argv, int i, long def) {
    if (argc <= i) return def;
    char *end = NULL;
    errno = 0;
    long v = strtol(argv[i], &end, 10);
    if (errno || end == argv[i] || *end || v <= 0) {
        fprintf(stderr, "bench_store: '%s' is not a positive count\n", argv[i]);
        exit(2);
    }
    return v;
}

/* The CSV of rows items x per hours; value changed at every tenth row when `changed`; ordered
 * by time first when `time_major`. */
static char *make_csv(long items, long per, int changed, int time_major) {
    tsl_wbuf b;
    tsl_wbuf_init(&b);
    tsl_wbuf_puts(&b, "item_id,timestamp,target_value\n");
    long n = items * per;
    for (long r = 0; r < n; r++) {
        long i = time_major ? r % items : r / per, h = time_major ? r / items : r % per;
        char when[32];
        tsl_time_format(1704067200 + (int64_t)h * 3600, 0, when, sizeof when);
        double v = (double)((i * 7919 + h * 104729) % 100000) / 100.0;
        if (changed && r % 10 == 0) v += 0.5;
        tsl_wbuf_printf(&b, "item%05ld,%s,%.2f\n", i, when, v);
    }
    char *text = tsl_strdup(tsl_wbuf_cstr(&b));
    tsl_wbuf_release(&b);
    return text;
}

/* Rows per transaction (TSL_BENCH_BATCH; 0: the store's default). */
static size_t batch_rows;

/* CPU seconds (user + system) this process has used. */
static double cpu(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

/* Ingests text into dataset and prints the phase's line. */
static int phase(tsl_store *s, const char *name, const char *dataset, const char *text) {
    tsl_csv *c = NULL;
    tsl_diag d = {TSL_OK, {0}};
    tsl_store_receipt r;
    tsl_store_ingest_opts o;
    memset(&o, 0, sizeof o);
    o.create = 1;
    o.source = name;
    o.batch_rows = batch_rows;
    if (tsl_csv_open_mem("bench.csv", text, strlen(text), NULL, &c, &d)) goto fail;
    double t0 = now(), c0 = cpu();
    if (tsl_store_ingest_csv(s, dataset, c, &o, &r, &d)) goto fail;
    double dt = now() - t0, dc = cpu() - c0;
    tsl_csv_close(c);
    printf("%-12s %10llu rows %8.3f s (cpu %.3f s) %10.0f rows/s  (inserted %llu, updated "
           "%llu, unchanged %llu)\n",
           name, (unsigned long long)r.read, dt, dc, (double)r.read / dt,
           (unsigned long long)r.inserted, (unsigned long long)r.updated,
           (unsigned long long)r.unchanged);
    tsl_store_receipt_release(&r);
    return 0;
fail:
    fprintf(stderr, "bench_store: %s: %s\n", name, d.msg);
    tsl_csv_close(c);
    return 1;
}

/* Bytes of the files directly in dir. */
static long long dir_bytes(const char *dir) {
    long long total = 0;
    DIR *dh = opendir(dir);
    if (!dh) return 0;
    struct dirent *e;
    char path[4096 + 260];
    struct stat st;
    while ((e = readdir(dh))) {
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (e->d_name[0] != '.' && stat(path, &st) == 0) total += st.st_size;
    }
    closedir(dh);
    return total;
}

/* Removes dir and the files directly in it. */
static void remove_dir(const char *dir) {
    DIR *dh = opendir(dir);
    if (!dh) return;
    struct dirent *e;
    char path[4096 + 260];
    while ((e = readdir(dh))) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(dh);
    rmdir(dir);
}

int main(int argc, char **argv) {
    long rows = arg_count(argc, argv, 1, 2000000), items = arg_count(argc, argv, 2, 1000);
    long per = (rows + items - 1) / items;
    const char *batch = getenv("TSL_BENCH_BATCH");
    if (batch) {
        char *end = NULL;
        errno = 0;
        long v = strtol(batch, &end, 10);
        if (errno || end == batch || *end || v < 0) {
            fprintf(stderr, "bench_store: TSL_BENCH_BATCH '%s' is not a count\n", batch);
            return 2;
        }
        batch_rows = (size_t)v;
    }
    char dir[4096], path[4200];
    int own_dir = argc <= 3, rc = 1;
    tsl_store *s = NULL;
    tsl_diag d = {TSL_OK, {0}};
    if (own_dir) {
        snprintf(dir, sizeof dir, "/tmp/tsloop-bench-XXXXXX");
        if (!mkdtemp(dir)) {
            perror("bench_store: mkdtemp");
            return 1;
        }
    } else {
        tsl_strlcpy(dir, argv[3], sizeof dir);
    }
    snprintf(path, sizeof path, "%s/store.db", dir);
    fprintf(stderr, "generating %ld rows (%ld items x %ld hours)...\n", items * per, items, per);
    char *fresh = make_csv(items, per, 0, 0), *changed = make_csv(items, per, 1, 0);
    char *timemajor = make_csv(items, per, 0, 1);
    if (tsl_store_open(path, NULL, &s, &d)) {
        fprintf(stderr, "bench_store: %s\n", d.msg);
        goto out;
    }
    printf("store %s, %ld items x %ld hours\n", path, items, per);
    if (phase(s, "fresh", "bench", fresh) || phase(s, "unchanged", "bench", fresh) ||
        phase(s, "10% changed", "bench", changed) || phase(s, "time-major", "bench2", timemajor))
        goto out;
    tsl_dataset *ds = NULL;
    double t0 = now();
    if (tsl_store_dataset_load(s, "bench", NULL, 0, 0, &ds, NULL, &d)) {
        fprintf(stderr, "bench_store: load: %s\n", d.msg);
        goto out;
    }
    double dt = now() - t0;
    size_t points = 0;
    for (size_t i = 0; i < ds->nseries; i++) points += ds->series[i].n;
    printf("%-12s %10zu points %7.3f s %12.0f points/s  (%zu series)\n", "load", points, dt,
           (double)points / dt, ds->nseries);
    tsl_dataset_free(ds);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("store size %.1f MB for %ld + %ld rows (and %ld revisions); peak RSS %.0f MB\n",
           (double)dir_bytes(dir) / 1e6, items * per, items * per, (items * per + 9) / 10,
           (double)ru.ru_maxrss / 1024.0);
    rc = 0;
out:
    tsl_store_close(s);
    tsl_free(fresh);
    tsl_free(changed);
    tsl_free(timemajor);
    if (own_dir) remove_dir(dir);
    return rc;
}
