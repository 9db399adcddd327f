/*
 * fuzz_cron.c - libFuzzer target for crontab expressions. The input is the expression (its
 * first TSL_CRON_MAX_LEN + 16 bytes, cut at a NUL). What parses must format to a text that
 * parses back to the same masks, and tsl_cron_next, from origins and offsets taken from the
 * input's bytes, must return a whole minute after the origin, on which the expression fires,
 * and be idempotent (the firing is also the next one after the minute before it). What fails
 * must say why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tsloop/cron.h"
#include "tsloop/time.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Does local time t fire c? (The matching rule, written independently of cron.c's walk.) */
static int fires(const tsl_cron *c, int64_t t) {
    int y, mo, dd, h, mi, s;
    tsl_time_civil(t, &y, &mo, &dd, &h, &mi, &s);
    if (s || !(c->minutes >> mi & 1) || !(c->hours >> h & 1) || !(c->months >> mo & 1)) return 0;
    int wd = (tsl_time_weekday(t) + 1) % 7;
    int md = (int)(c->mdays >> dd & 1), w = c->wdays >> wd & 1;
    return (c->flags & (TSL_CRON_MDAY_STAR | TSL_CRON_WDAY_STAR)) ? md && w : md || w;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char expr[TSL_CRON_MAX_LEN + 17];
    size_t n = size < sizeof expr - 1 ? size : sizeof expr - 1;
    memcpy(expr, data, n);
    expr[n] = '\0';
    tsl_cron c, back;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_cron_parse(expr, &c, &d) != TSL_OK) {
        if (!d.msg[0]) abort();
        return 0;
    }
    char text[256];
    size_t len = tsl_cron_format(&c, text, sizeof text);
    if (len >= sizeof text || tsl_cron_parse(text, &back, &d) != TSL_OK ||
        memcmp(&c, &back, sizeof c))
        abort();
    /* Origins from the input's bytes, spread over the time range. */
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < size; i++) h = (h ^ data[i]) * 1099511628211ULL;
    for (int k = 0; k < 4; k++) {
        int64_t span = TSL_TIME_MAX - TSL_TIME_MIN;
        int64_t after = TSL_TIME_MIN + (int64_t)(h % (uint64_t)span);
        int32_t off = (int32_t)((int64_t)(h >> 20) % (18 * 3600 + 1)) * ((h >> 50 & 1) ? -1 : 1);
        h = h * 6364136223846793005ULL + 1442695040888963407ULL;
        int64_t t, again;
        if (tsl_cron_next(&c, after, off, &t, &d) != TSL_OK) {
            if (!d.msg[0]) abort();
            continue;
        }
        if (t <= after || t > TSL_TIME_MAX || !fires(&c, t + off)) abort();
        if (tsl_cron_next(&c, t - 60, off, &again, &d) != TSL_OK || again != t) abort();
    }
    return 0;
}
