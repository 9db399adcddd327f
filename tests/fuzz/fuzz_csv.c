/*
 * fuzz_csv.c - libFuzzer target for the reader: the input is a whole file, read as a data set
 * named "fuzz.csv" (so gzip and zip inputs go through libarchive too).
 *
 * Each input is read three times: with the defaults; with tiny caps in lenient mode; and with
 * a given frequency (picked by the input's length), which checks the data against it instead
 * of inferring. The tiny line cap makes the reader's buffer a few dozen bytes, so every row
 * crosses buffer boundaries (rescans, a CR at the end of a read, quotes split across reads),
 * and lenient mode walks the recovery path after each bad row. A data set that reads is then
 * checked against invariants that hold for any input: series sorted by item and found by
 * tsl_dataset_find, values on each series' grid, counts that add up.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tsloop/dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Lenient-mode callback: counts rejections in *ctx and goes on. */
static int ignore_reject(void *ctx, uint64_t line, const char *reason) {
    (void)line;
    (*(size_t *)ctx)++;
    return reason[0] == '\0'; /* never: reasons are non-empty */
}

/* Aborts unless ds keeps the invariants every data set keeps. */
static void check(const tsl_dataset *ds) {
    size_t points = 0;
    for (size_t i = 0; i < ds->nseries; i++) {
        const tsl_series *s = &ds->series[i];
        if (i && strcmp(ds->series[i - 1].item_id, s->item_id) >= 0) abort();
        if (tsl_dataset_find(ds, s->item_id) != (long)i) abort();
        if (s->n == 0) abort();
        if (tsl_dataset_time(ds, s, 0) != s->start) abort();
        int64_t k;
        if (tsl_freq_steps(ds->freq, s->start, tsl_dataset_time(ds, s, s->n - 1), &k) != TSL_OK ||
            k != (int64_t)s->n - 1)
            abort();
        for (size_t j = 0; j < ds->ndims; j++)
            if (!s->dims[j]) abort();
        points += s->n;
    }
    if (ds->period < 1) abort();
    if (ds->rows != points - ds->gap_points + ds->duplicates) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tsl_dataset *ds = NULL;
    tsl_diag d;
    if (tsl_dataset_read_mem("fuzz.csv", data, size, NULL, &ds, &d) == TSL_OK) {
        check(ds);
        tsl_dataset_free(ds);
    } else if (ds || !d.msg[0]) {
        abort(); /* a failed read returns nothing and always says why */
    }
    size_t rejected = 0;
    tsl_read_opts o;
    memset(&o, 0, sizeof o);
    o.max_line = 48;
    o.max_field = 24;
    o.max_columns = 6;
    o.max_rows = 2000;
    o.max_items = 200;
    o.on_reject = ignore_reject;
    o.reject_ctx = &rejected;
    ds = NULL;
    if (tsl_dataset_read_mem("fuzz.csv", data, size, &o, &ds, &d) == TSL_OK) {
        if (ds->rejected != rejected) abort();
        check(ds);
        tsl_dataset_free(ds);
    }
    static const char *const freqs[] = {"D", "H", "15min", "W", "M", "MS", "ME", "Q", "2Y"};
    memset(&o, 0, sizeof o);
    if (tsl_freq_parse(freqs[size % 9], &o.freq, &d) != TSL_OK) abort();
    ds = NULL;
    if (tsl_dataset_read_mem("fuzz.csv", data, size, &o, &ds, &d) == TSL_OK) {
        if (ds->freq.unit != o.freq.unit || ds->freq.mult != o.freq.mult) abort();
        check(ds);
        tsl_dataset_free(ds);
    }
    return 0;
}
