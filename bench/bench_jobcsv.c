/*
 * bench_jobcsv.c - reading a CSV job body (tsl_job_csv_items): the cost of POST /v1/jobs with
 * Content-Type text/csv before the job is queued.
 *
 *   build/bench/bench_jobcsv [ITEMS] [REPEAT]
 *
 * Builds a forecast-shaped body (item_id,timestamp,mean,p10,p50,p90) of ITEMS distinct items
 * (default 100,000), each listed twice (the duplicates are dropped), and reads it REPEAT times
 * (default 5) on one thread. Prints the body size, the best time, and items and MB per second.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tsloop/buf.h"
#include "tsloop/daemon.h"
#include "tsloop/mem.h"

/* Monotonic wall-clock seconds. */
static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    long items = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
    long repeat = argc > 2 ? strtol(argv[2], NULL, 10) : 5;
    if (items < 1 || repeat < 1) {
        fprintf(stderr, "usage: bench_jobcsv [ITEMS] [REPEAT]\n");
        return 2;
    }
    tsl_wbuf b;
    tsl_wbuf_init(&b);
    tsl_wbuf_puts(&b, "item_id,timestamp,mean,p10,p50,p90\n");
    for (int pass = 0; pass < 2; pass++)
        for (long i = 0; i < items; i++)
            tsl_wbuf_printf(&b, "site-%06ld,2026-03-01T%02ld:00:00Z,12.5,10.25,12.5,14.75\n", i,
                            (long)pass);
    double best = 1e30;
    size_t got = 0;
    for (long r = 0; r < repeat; r++) {
        char **v = NULL;
        size_t n = 0;
        tsl_diag d = {TSL_OK, {0}};
        double t0 = now();
        if (tsl_job_csv_items((const char *)b.data, b.len, NULL, 65536, &v, &n, &d)) {
            fprintf(stderr, "bench_jobcsv: %s\n", d.msg);
            return 1;
        }
        double dt = now() - t0;
        if (dt < best) best = dt;
        got = n;
        for (size_t i = 0; i < n; i++) tsl_free(v[i]);
        tsl_free(v);
    }
    printf("body %.1f MB, %ld rows, %zu distinct items: best %.3f s (%.0f rows/s, %.0f MB/s)\n",
           (double)b.len / 1e6, 2 * items, got, best, 2.0 * (double)items / best,
           (double)b.len / 1e6 / best);
    tsl_wbuf_release(&b);
    return 0;
}
