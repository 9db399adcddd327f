/*
 * fuzz_request.c - libFuzzer target for the forecast request body (tsl_forecast_request_parse).
 * The input is the body. What parses must hold what the contract promises - 1..max_items
 * non-empty items within the id cap, a horizon within its cap, increasing levels in (0, 1), a
 * valid inference id - and what fails must say why and leave nothing allocated.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tsloop/daemon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const tsl_forecast_limits lim = {5, 100, 64};
    tsl_forecast_request r;
    tsl_diag d = {TSL_OK, {0}};
    tsl_err err = tsl_forecast_request_parse((const char *)data, size, &lim, &r, &d);
    if (err) {
        if (!d.msg[0]) abort();
        tsl_forecast_request_release(&r);
        if (r.items || r.nitems) abort();
        return 0;
    }
    if (r.nitems < 1 || r.nitems > lim.max_items || r.horizon > lim.max_horizon) abort();
    for (size_t i = 0; i < r.nitems; i++) {
        size_t n = strlen(r.items[i]);
        if (n < 1 || n > lim.max_id) abort();
    }
    for (size_t j = 0; j < r.nq; j++)
        if (!(r.levels[j] > 0 && r.levels[j] < 1) || (j && r.levels[j] <= r.levels[j - 1])) abort();
    for (const char *p = r.inference_id; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-", *p))
            abort();
    tsl_forecast_request_release(&r);
    return 0;
}
