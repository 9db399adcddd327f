/*
 * fuzz_baseline.c - libFuzzer target for tsl_baseline_from_json, which reads baselines back
 * from the store (tsloop/baseline.h). Whatever the input: no crash, no leak; a refusal leaves
 * nothing behind and says why; what is accepted must write back to JSON that parses to the
 * same baseline, to the bit, and whose text is then stable; the drift statistics and the
 * constraints document must run on every accepted series without failing. The piecewise
 * reader tsl_baseline_from_json_items gets the same input, whole and with one series wanted:
 * no crash, no leak, a refusal says why, and where both readers accept they agree to the bit.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tsloop/baseline.h"
#include "tsloop/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Both NaN, or the same bits. */
static int same(double a, double b) {
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

static void check_same_stats(const tsl_baseline_stats *a, const tsl_baseline_stats *b) {
    if (a->n != b->n || a->count != b->count || a->zeros != b->zeros || a->period != b->period)
        abort();
    if (!same(a->mean, b->mean) || !same(a->sd, b->sd) || !same(a->min, b->min) ||
        !same(a->max, b->max) || !same(a->missing_share, b->missing_share) ||
        !same(a->zero_share, b->zero_share))
        abort();
    for (int k = 0; k <= TSL_BASELINE_BUCKETS; k++)
        if (!same(a->deciles[k], b->deciles[k])) abort();
    if (memcmp(a->buckets, b->buckets, sizeof a->buckets)) abort();
    for (int k = 0; k < a->period; k++)
        if (!same(a->profile[k], b->profile[k])) abort();
}

/* The drift statistics on a fixed sample: they succeed exactly when the baseline has values. */
static void run_drift(const tsl_baseline_stats *s) {
    static const double x[6] = {-1, 0, 0.5, 3, 1e6, NAN};
    double v, w;
    tsl_err want = s->count ? TSL_OK : TSL_ESHORT;
    if (tsl_baseline_psi(s, x, 6, &v, NULL) != want) abort();
    if (tsl_baseline_ks(s, x, 6, &v, NULL) != want) abort();
    if (want == TSL_OK && !(v >= 0 && v <= 1)) abort();
    if (tsl_baseline_wasserstein(s, x, 6, &v, &w, NULL) != want) abort();
}

/* The piecewise reader on the same input; b is what tsl_baseline_from_json accepted, or NULL. */
static void run_items(const uint8_t *data, size_t size, const tsl_baseline *b) {
    tsl_baseline *p = NULL;
    tsl_diag d = {0};
    if (tsl_baseline_from_json_items((const char *)data, size, NULL, 0, &p, &d) != TSL_OK) {
        if (p || !d.msg[0]) abort();
        return;
    }
    if (b) {
        if (p->nseries != b->nseries || p->period != b->period) abort();
        check_same_stats(&b->overall, &p->overall);
        for (size_t i = 0; i < b->nseries; i++) {
            if (strcmp(b->series[i].item_id, p->series[i].item_id)) abort();
            check_same_stats(&b->series[i].stats, &p->series[i].stats);
        }
    }
    tsl_baseline *one = NULL;
    const char *want = p->nseries ? p->series[0].item_id : "";
    if (tsl_baseline_from_json_items((const char *)data, size, &want, 1, &one, NULL) != TSL_OK ||
        one->nseries != p->nseries)
        abort();
    for (size_t i = 1; i < one->nseries; i++)
        if (one->series[i].stats.count || one->series[i].stats.profile) abort();
    tsl_baseline_free(one);
    tsl_baseline_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tsl_baseline *b = NULL;
    tsl_diag d = {0};
    if (tsl_baseline_from_json((const char *)data, size, &b, &d) != TSL_OK) {
        if (b || !d.msg[0]) abort();
        run_items(data, size, NULL);
        return 0;
    }
    run_items(data, size, b);
    tsl_wbuf w1, w2;
    tsl_wbuf_init(&w1);
    tsl_wbuf_init(&w2);
    if (tsl_baseline_to_json(b, 0, &w1, NULL)) abort();
    tsl_baseline *back = NULL;
    if (tsl_baseline_from_json((const char *)w1.data, w1.len, &back, NULL)) abort();
    if (back->nseries != b->nseries || back->period != b->period ||
        back->freq.unit != b->freq.unit || back->freq.mult != b->freq.mult ||
        back->freq.anchor != b->freq.anchor)
        abort();
    check_same_stats(&b->overall, &back->overall);
    for (size_t i = 0; i < b->nseries; i++) {
        if (strcmp(b->series[i].item_id, back->series[i].item_id)) abort();
        if (tsl_baseline_find(back, b->series[i].item_id) != (long)i) abort();
        check_same_stats(&b->series[i].stats, &back->series[i].stats);
        run_drift(&b->series[i].stats);
    }
    run_drift(&b->overall);
    if (tsl_baseline_to_json(back, 0, &w2, NULL)) abort();
    if (w1.len != w2.len || memcmp(w1.data, w2.data, w1.len)) abort();
    tsl_wbuf_reset(&w2);
    if (tsl_baseline_constraints_json(b, 0, &w2, NULL)) abort();
    tsl_wbuf_release(&w1);
    tsl_wbuf_release(&w2);
    tsl_baseline_free(back);
    tsl_baseline_free(b);
    return 0;
}
