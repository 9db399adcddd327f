/*
 * fuzz_ndjson.c - libFuzzer target for the NDJSON observation translator (src/daemon/ndjson.c).
 * The input is a body, split into lines as the ingest route splits it. Each line is translated
 * or refused: a refusal must say why and add nothing to the output; a translated record must
 * add exactly one CSV row (plus the header before the first), so line numbers stay aligned;
 * and the whole output must read back through the CSV reader with one row per record.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon_impl.h"
#include "tsloop/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Line breaks in [p, p+n). */
static size_t breaks(const char *p, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += p[i] == '\n';
    return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *dims[] = {"region"};
    tsl_ndjson *j =
        tsl_ndjson_new("body", "item_id", "timestamp", NULL, size % 2 ? dims : NULL, size % 2);
    tsl_wbuf out;
    tsl_wbuf_init(&out);
    const char *p = (const char *)data, *end = p + size;
    uint64_t line = 0, ok = 0;
    while (p < end) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        size_t len = e ? (size_t)(e - p) : (size_t)(end - p);
        size_t before = out.len, had = tsl_ndjson_records(j);
        tsl_diag d = {TSL_OK, {0}};
        tsl_err err = tsl_ndjson_line(j, p, len, ++line, &out, &d);
        if (err) {
            if (!d.msg[0] || out.len != before || tsl_ndjson_records(j) != had) abort();
            break;
        }
        size_t added =
            out.len > before ? breaks((const char *)out.data + before, out.len - before) : 0;
        if (tsl_ndjson_records(j) == had + 1) {
            if (added != (had ? 1 : (size_t)line + 1)) abort();
            ok++;
        } else if (tsl_ndjson_records(j) != had || added > 1) {
            abort();
        }
        p += len + (e ? 1 : 0);
    }
    if (ok) {
        tsl_csv *c = NULL;
        tsl_diag d = {TSL_OK, {0}};
        if (tsl_csv_open_mem("body", out.data, out.len, NULL, &c, &d)) abort();
        uint64_t rows = 0;
        for (;;) {
            const tsl_csv_row *r = NULL;
            tsl_err err = tsl_csv_next(c, &r, &d);
            if (err == TSL_EPARSE) {
                rows++; /* a value the reader judges (a timestamp): rejected, still one row */
                continue;
            }
            if (err) abort();
            if (!r) break;
            rows++;
        }
        tsl_csv_close(c);
        if (rows != ok) abort();
    }
    tsl_wbuf_release(&out);
    tsl_ndjson_free(j);
    return 0;
}
