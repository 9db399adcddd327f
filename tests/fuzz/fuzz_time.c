/*
 * fuzz_time.c - libFuzzer target for timestamps and frequencies. The first byte picks what
 * the rest of the input is:
 *   0: a timestamp for tsl_time_parse; what parses must format and parse back to itself,
 *   1: a frequency for tsl_freq_parse; what parses must survive format/parse and arithmetic,
 *   2: timestamps for tsl_freq_infer, as series of 16-bit gaps (a zero gap starts a new
 *      series), scaled by a unit taken from the second byte; an inferred frequency must
 *      pass tsl_freq_fit, and every message must be non-empty.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tsloop/time.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Mode 0: a timestamp. */
static void fuzz_parse(const uint8_t *p, size_t n) {
    int64_t t;
    tsl_diag d;
    if (tsl_time_parse((const char *)p, n, &t, &d) != TSL_OK) {
        if (!d.msg[0]) abort();
        return;
    }
    if (t < TSL_TIME_MIN || t > TSL_TIME_MAX) abort();
    char buf[64];
    size_t len = tsl_time_format(t, 0, buf, sizeof buf);
    int64_t back;
    if (tsl_time_parse(buf, len, &back, &d) != TSL_OK || back != t) abort();
    int y, m, dd, hh, mi, ss;
    tsl_time_civil(t, &y, &m, &dd, &hh, &mi, &ss);
    if (tsl_time_from_civil(y, m, dd, hh, mi, ss) != t) abort();
}

/* Mode 1: a frequency (the first 63 bytes). */
static void fuzz_freq(const uint8_t *p, size_t n) {
    char text[64];
    if (n >= sizeof text) n = sizeof text - 1;
    memcpy(text, p, n);
    text[n] = '\0';
    tsl_freq f;
    tsl_diag d;
    if (tsl_freq_parse(text, &f, &d) != TSL_OK) {
        if (!d.msg[0]) abort();
        return;
    }
    char buf[64];
    tsl_freq_format(f, buf, sizeof buf);
    tsl_freq g;
    if (tsl_freq_parse(buf, &g, &d) != TSL_OK || g.unit != f.unit || g.mult != f.mult) abort();
    tsl_freq_describe(f, buf, sizeof buf);
    if (tsl_freq_default_period(f) < 1) abort();
    int64_t t0 = 1700000000, k;
    for (int64_t step = -3; step <= 3; step++) {
        int64_t t1 = tsl_freq_add(f, t0, step);
        if (t1 == INT64_MAX || t1 == INT64_MIN) continue;
        if (tsl_freq_steps(f, t0, t1, &k) != TSL_OK || k != step) abort();
    }
}

/* Mode 2: inference over timestamps built from 16-bit gaps. */
static void fuzz_infer(const uint8_t *p, size_t n) {
    static const int64_t units[] = {1, 60, 900, 3600, 86400, 604800, 2629746};
    if (n < 1) return;
    int64_t unit = units[p[0] % 7];
    p++;
    n--;
    int64_t t[512];
    size_t off[65], ns = 0, nt = 0;
    off[0] = 0;
    int64_t cur = 1000000000;
    for (size_t i = 0; i + 1 < n && nt < 512 && ns < 63; i += 2) {
        uint16_t gap = (uint16_t)(p[i] | p[i + 1] << 8);
        if (gap == 0) {
            if (nt > off[ns]) off[++ns] = nt;
            cur = 1000000000 + (int64_t)(p[i] % 7) * unit;
            continue;
        }
        cur += gap * unit;
        t[nt++] = cur;
    }
    if (nt > off[ns]) off[++ns] = nt;
    tsl_freq f, g;
    tsl_diag d;
    if (tsl_freq_infer(t, off, ns, NULL, &f, &d) != TSL_OK) {
        if (!d.msg[0]) abort();
        return;
    }
    if (tsl_freq_fit(f, t, off, ns, NULL, &g, &d) != TSL_OK) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    switch (data[0] % 3) {
    case 0:
        fuzz_parse(data + 1, size - 1);
        break;
    case 1:
        fuzz_freq(data + 1, size - 1);
        break;
    default:
        fuzz_infer(data + 1, size - 1);
        break;
    }
    return 0;
}
