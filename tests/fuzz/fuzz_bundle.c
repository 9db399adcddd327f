/*
 * fuzz_bundle.c - libFuzzer target for model bundles (bundle.h), which are read back from
 * stores and so are input like any file. The input is a whole bundle. What opens must hold
 * sorted, unique, findable item ids, and every model either loads and forecasts finite-or-NaN
 * numbers or is refused with a message; writing the opened entries back through a builder
 * (raw envelopes, same metadata) must reproduce the input byte for byte, since the format is
 * deterministic. What fails to open must say why and return nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tsloop/bundle.h"
#include "tsloop/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tsl_bundle *b = NULL;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_bundle_open(data, size, &b, &d) != TSL_OK) {
        if (b || !d.msg[0]) abort();
        return 0;
    }
    size_t n = tsl_bundle_count(b);
    if (strlen(tsl_bundle_meta(b)) != tsl_bundle_meta_len(b)) abort();
    tsl_bundle_builder *w = tsl_bundle_builder_new();
    int raw_ok = tsl_bundle_builder_meta(w, tsl_bundle_meta(b), &d) == TSL_OK;
    for (size_t i = 0; i < n; i++) {
        tsl_bundle_entry e;
        tsl_bundle_entry_at(b, i, &e);
        if (i > 0) {
            tsl_bundle_entry p;
            tsl_bundle_entry_at(b, i - 1, &p);
            if (strcmp(p.item_id, e.item_id) >= 0) abort();
        }
        if (tsl_bundle_find(b, e.item_id) != (long)i) abort();
        tsl_model *m = NULL;
        if (tsl_bundle_load(b, i, &m, &d) == TSL_OK) {
            double mean[4], q[8];
            const double lv[2] = {0.1, 0.9};
            (void)tsl_model_forecast(m, 4, lv, 2, mean, q, &d);
            tsl_model_free(m);
        } else if (m || !d.msg[0]) {
            abort();
        }
        size_t len = 0;
        const void *raw = tsl_bundle_model_bytes(b, i, &len);
        if (raw_ok && tsl_bundle_add_raw(w, e.item_id, e.group, raw, len, &d) != TSL_OK)
            raw_ok = 0; /* a damaged model: no longer a faithful copy */
        if (tsl_crc32(0, raw, len) != e.model_crc) raw_ok = 0;
    }
    if (raw_ok) {
        tsl_wbuf out;
        tsl_wbuf_init(&out);
        if (tsl_bundle_builder_write(w, &out, &d) != TSL_OK) abort();
        if (out.len != size || memcmp(out.data, data, size) != 0) abort();
        tsl_wbuf_release(&out);
    }
    tsl_bundle_builder_free(w);
    tsl_bundle_free(b);
    return 0;
}
