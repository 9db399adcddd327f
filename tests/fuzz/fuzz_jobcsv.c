/*
 * fuzz_jobcsv.c - libFuzzer target for CSV job bodies (tsl_job_csv_items: the CSV reader of
 * csv.h in its items_only mode, then duplicates dropped). The input is the body, read with the
 * default item column and with a small id cap. What reads must be 1 or more distinct, non-empty
 * ids of valid length; what fails must say why and return nothing. The reader's other modes
 * are fuzzed by fuzz_csv.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tsloop/daemon.h"
#include "tsloop/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts unless items[0..n) are distinct, non-empty and at most max_id bytes. */
static void check(char **items, size_t n, size_t max_id) {
    if (!n) abort();
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(items[i]);
        if (len < 1 || len > max_id) abort();
        for (size_t j = 0; j < i && n <= 64; j++)
            if (!strcmp(items[i], items[j])) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const size_t caps[] = {65536, 8};
    for (size_t k = 0; k < 2; k++) {
        char **items = NULL;
        size_t n = 0;
        tsl_diag d = {TSL_OK, {0}};
        tsl_err err =
            tsl_job_csv_items((const char *)data, size, k ? "id" : NULL, caps[k], &items, &n, &d);
        if (err) {
            if (!d.msg[0] || items || n) abort();
            continue;
        }
        check(items, n, caps[k]);
        for (size_t i = 0; i < n; i++) tsl_free(items[i]);
        tsl_free(items);
    }
    return 0;
}
