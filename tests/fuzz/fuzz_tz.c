/*
 * fuzz_tz.c - libFuzzer target for time zones. First byte even: the rest is a TZif file for
 * tsl_tz_parse_tzif; odd: the rest (up to 300 bytes, cut at a NUL) is a POSIX TZ string for
 * tsl_tz_parse_posix. A refusal must leave nothing allocated and say why. An accepted zone is
 * queried at instants taken from the input: offsets stay within RFC 8536's bounds, the next
 * change lies after the instant, every instant tsl_tz_from_local returns reads back as the
 * local time asked about, and cron on the zone's wall clock returns a later whole minute or a
 * message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tsloop/cron.h"
#include "tsloop/time.h"
#include "tsloop/tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int64_t instant(const uint8_t *data, size_t size, size_t k) {
    uint64_t v = 0x9e3779b97f4a7c15ull * (k + 1);
    for (size_t i = 0; i < size && i < 64; i++) v = (v ^ data[i]) * 0x100000001b3ull;
    /* Years 1900-2200, where zones change. */
    return -2208988800LL + (int64_t)(v % 9467280000ull);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    tsl_tz *tz = NULL;
    tsl_diag d = {TSL_OK, {0}};
    tsl_err rc;
    if (!(data[0] & 1)) {
        rc = tsl_tz_parse_tzif(data + 1, size - 1, "fuzz", &tz, &d);
    } else {
        char s[301];
        size_t n = size - 1 < 300 ? size - 1 : 300;
        memcpy(s, data + 1, n);
        s[n] = '\0';
        rc = tsl_tz_parse_posix(s, &tz, &d);
    }
    if (rc) {
        if (tz || !d.msg[0]) abort();
        return 0;
    }
    if (!tz) abort();
    static const char *const exprs[] = {"30 2 * * *", "*/15 * * * *"};
    tsl_cron c[2];
    for (int e = 0; e < 2; e++)
        if (tsl_cron_parse(exprs[e], &c[e], &d)) abort();
    for (size_t k = 0; k < 8; k++) {
        int64_t u = instant(data, size, k);
        int32_t off = tsl_tz_offset(tz, u);
        if (off <= -26 * 3600 || off >= 26 * 3600) abort();
        if (tsl_tz_next_change(tz, u) <= u) abort();
        tsl_tz_local m;
        tsl_tz_from_local(tz, u + off, &m);
        if (m.n < 0 || m.n > 2) abort();
        for (int i = 0; i < m.n; i++)
            if (m.utc[i] + tsl_tz_offset(tz, m.utc[i]) != u + off) abort();
        int64_t next = 0;
        tsl_diag cd = {TSL_OK, {0}};
        if (tsl_cron_next_tz(&c[k & 1], u, tz, &next, &cd) == TSL_OK) {
            if (next <= u || next > TSL_TIME_MAX) abort();
        } else if (!cd.msg[0]) {
            abort();
        }
    }
    tsl_tz_free(tz);
    return 0;
}
