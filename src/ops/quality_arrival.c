/*
 * quality_arrival.c - the data-quality checks of newly arrived data (tsloop/quality.h; the
 * user's description is docs/monitoring.md, "Quality monitors").
 *
 * The checks of quality.c judge a whole data set before training; these judge what one ingest
 * brought, as it arrives, so that a stuck sensor or a broken feed is seen the hour it happens
 * and not at the next retraining. They see only the new points of each series plus the little
 * the store keeps about it (its last timestamp before the ingest, its first one, how many of
 * the points rewrote a stored value) and the deployed version's data baseline, so a check costs
 * time linear in the ingest, never in the history.
 *
 * Where a check exists for whole data sets it means the same here: "off the grid" is the phase
 * test of irregular_timestamps and "steps missing" the step count of gaps (quality_grid.h).
 * Out of range is new: a value outside [q10 - k.IDR, q90 + k.IDR] of the series' baseline
 * deciles (IDR = q90 - q10, the inter-decile range), widened to the training minimum and
 * maximum so that a value the model was trained on is never called out of range. The baseline
 * keeps deciles, not quartiles, hence Tukey's fences on the deciles: for normal data the
 * default k = 1.5 puts the fences 5.1 standard deviations from the mean (a chance of about
 * 3e-7 per point), and for skewed data the fences follow the skew as the deciles do.
 *
 * A finding is per (check, item); each check lists at most max_listed items, the worst first
 * (largest share, then count, then item id, so the report is deterministic), and counts all of
 * them in found[] and in the aggregate.
 */
#include "tsloop/quality.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/quality_grid.h"
#include "tsloop/mem.h"

static const char *const names[TSL_QA_COUNT + 1] = {
    [TSL_QA_MISSING] = "missing",
    [TSL_QA_NEGATIVE] = "negative",
    [TSL_QA_OUT_OF_RANGE] = "out_of_range",
    [TSL_QA_GAPS] = "gaps",
    [TSL_QA_OFF_GRID] = "off_grid",
    [TSL_QA_LATE] = "late",
    [TSL_QA_STALE] = "stale",
    [TSL_QA_NEW_ITEMS] = "new_items",
    [TSL_QA_FLATLINE] = "flatline",
    [TSL_QA_FLAGGED] = "flagged",
};

/* The reasons are in docs/monitoring.md: an error where the value cannot be right, a warning
 * where the data is probably broken, a note where it is often legitimate. */
static const tsl_quality_severity severities[TSL_QA_COUNT] = {
    [TSL_QA_MISSING] = TSL_QUALITY_WARNING,      [TSL_QA_NEGATIVE] = TSL_QUALITY_ERROR,
    [TSL_QA_OUT_OF_RANGE] = TSL_QUALITY_WARNING, [TSL_QA_GAPS] = TSL_QUALITY_WARNING,
    [TSL_QA_OFF_GRID] = TSL_QUALITY_WARNING,     [TSL_QA_LATE] = TSL_QUALITY_INFO,
    [TSL_QA_STALE] = TSL_QUALITY_WARNING,        [TSL_QA_NEW_ITEMS] = TSL_QUALITY_INFO,
    [TSL_QA_FLATLINE] = TSL_QUALITY_WARNING,
};

/* Contracts of the public functions in quality.h. */
const char *tsl_quality_arrival_name(tsl_quality_arrival_check c) {
    if ((unsigned)c > TSL_QA_FLAGGED) return "unknown";
    return names[c];
}

tsl_err tsl_quality_arrival_parse(const char *name, tsl_quality_arrival_check *out, tsl_diag *d) {
    for (int c = 0; c <= TSL_QA_FLAGGED; c++)
        if (!strcmp(name, names[c])) {
            *out = (tsl_quality_arrival_check)c;
            return TSL_OK;
        }
    return tsl_diag_set(d, TSL_EINVAL,
                        "unknown quality check '%.64s', expected flagged, missing, negative, "
                        "out_of_range, gaps, off_grid, late, stale, new_items or flatline",
                        name);
}

tsl_quality_severity tsl_quality_arrival_severity(tsl_quality_arrival_check c) {
    if ((unsigned)c >= TSL_QA_COUNT) return TSL_QUALITY_INFO;
    return severities[c];
}

void tsl_quality_arrival_opts_init(tsl_quality_arrival_opts *o) {
    memset(o, 0, sizeof *o);
    o->range_factor = 1.5;
    o->max_listed = 20;
}

/* A finding before it is ranked and described. */
typedef struct hit {
    size_t series; /* index into the series, or SIZE_MAX: a baseline item (stale) */
    const char *item;
    size_t count, of;
    double value;
    double extra; /* check-specific: the flat value, the corrected count, the range's ends */
    double lo, hi;
} hit;

/* Worst first: the largest share, then the largest count, then the item id. */
static int cmp_hit(const void *pa, const void *pb) {
    const hit *a = pa, *b = pb;
    if (a->value != b->value) return a->value > b->value ? -1 : 1;
    if (a->count != b->count) return a->count > b->count ? -1 : 1;
    return strcmp(a->item, b->item);
}

/* The sentence of finding h of check c, with its numbers, into buf. */
static void describe(tsl_quality_arrival_check c, const hit *h, size_t flat_points, char *buf,
                     size_t cap) {
    switch (c) {
    case TSL_QA_MISSING:
        snprintf(buf, cap, "%zu of %zu new points of %s are missing (%.3g%%)", h->count, h->of,
                 h->item, 100 * h->value);
        break;
    case TSL_QA_OUT_OF_RANGE:
        snprintf(buf, cap,
                 "%zu of %zu new values of %s lie outside [%.6g, %.6g], the robust range of the "
                 "deployed version's training data",
                 h->count, h->of, h->item, h->lo, h->hi);
        break;
    case TSL_QA_GAPS:
        snprintf(buf, cap, "%zu of %zu expected timestamps of %s are absent since its last point",
                 h->count, h->of, h->item);
        break;
    case TSL_QA_OFF_GRID:
        snprintf(buf, cap, "%zu of %zu new timestamps of %s are off its frequency grid", h->count,
                 h->of, h->item);
        break;
    case TSL_QA_LATE:
        snprintf(buf, cap,
                 "%zu of %zu points of %s are at or before its previous last timestamp (%zu "
                 "rewrote a stored value)",
                 h->count, h->of, h->item, (size_t)h->extra);
        break;
    case TSL_QA_STALE:
        snprintf(buf, cap, "%s, a series of the deployed version, received nothing", h->item);
        break;
    case TSL_QA_NEW_ITEMS:
        snprintf(buf, cap, "%s is a new item%s", h->item,
                 h->extra ? ": no model of the deployed version forecasts it yet" : "");
        break;
    case TSL_QA_FLATLINE:
        snprintf(buf, cap,
                 "the last %zu new values of %s are all %.6g (flat for %zu points or more: a stuck "
                 "sensor?)",
                 h->count, h->item, h->extra, flat_points);
        break;
    default:
        snprintf(buf, cap, "%s", h->item);
    }
}

/* Adds the findings of check c, hits[0..n), ranked, the first max listed. */
static void flush(tsl_quality_arrival_report *r, size_t *cap, tsl_quality_arrival_check c,
                  hit *hits, size_t n, const tsl_quality_arrival_opts *o, size_t flat_points) {
    char buf[512];
    r->found[c] = n;
    if (!n) return;
    if (severities[c] > r->worst) r->worst = severities[c];
    qsort(hits, n, sizeof *hits, cmp_hit);
    for (size_t i = 0; i < n && i < o->max_listed; i++) {
        if (r->nfindings == *cap) {
            *cap = *cap ? 2 * *cap : 16;
            r->findings = tsl_reallocarray(r->findings, *cap, sizeof *r->findings);
        }
        tsl_quality_arrival_finding *f = &r->findings[r->nfindings++];
        describe(c, &hits[i], flat_points, buf, sizeof buf);
        f->check = c;
        f->severity = severities[c];
        f->item_id = tsl_strdup(hits[i].item);
        f->count = hits[i].count;
        f->value = c == TSL_QA_FLATLINE ? hits[i].extra : hits[i].value;
        f->description = tsl_strdup(buf);
    }
}

/* Whether item is among the baseline's series. */
static int known(const tsl_baseline *b, const char *item) {
    return tsl_baseline_find(b, item) >= 0;
}

/* Item ids (const char *) in bytewise order. */
static int cmp_id(const void *pa, const void *pb) {
    return strcmp(*(const char *const *)pa, *(const char *const *)pb);
}

/* k of n as a share, NaN when there is nothing to share. */
static double share(size_t k, size_t n) {
    return n ? (double)k / (double)n : NAN;
}

tsl_err tsl_quality_arrival_run(const tsl_quality_arrival_series *series, size_t n,
                                const tsl_quality_arrival_opts *opts,
                                tsl_quality_arrival_report *out, tsl_diag *d) {
    tsl_quality_arrival_opts o;
    hit *hits = NULL;
    unsigned char *flag = NULL;
    size_t cap = 0, nh = 0;
    int grid;
    if (opts)
        o = *opts;
    else
        tsl_quality_arrival_opts_init(&o);
    memset(out, 0, sizeof *out);
    if (!isfinite(o.range_factor) || o.range_factor < 0)
        return tsl_diag_set(d, TSL_EINVAL, "range_factor %g, expected a finite number >= 0",
                            o.range_factor);
    if (!o.max_listed) o.max_listed = 20;
    grid = o.freq.unit != TSL_FREQ_NONE && o.freq.mult >= 1;
    size_t flat = o.flat_points;
    if (!flat) {
        int p = grid ? tsl_freq_default_period(o.freq) : 1;
        flat = p > 3 ? (size_t)p : 3;
    }
    for (int c = 0; c <= TSL_QA_FLAGGED; c++) out->value[c] = NAN;
    size_t nstale_max = o.baseline ? o.baseline->nseries : 0;
    hits = tsl_calloc(n + nstale_max + 1, sizeof *hits);
    flag = tsl_calloc(n + nstale_max + 1, 1);
    for (size_t i = 0; i < n; i++) {
        out->points += series[i].n;
        out->items += series[i].n > 0;
    }

    /* missing */
    size_t total = 0;
    nh = 0;
    for (size_t i = 0; i < n; i++) {
        const tsl_quality_arrival_series *s = &series[i];
        size_t k = 0;
        for (size_t j = 0; j < s->n; j++) k += isnan(s->v[j]);
        total += k;
        if (k)
            hits[nh++] = (hit){
                .series = i, .item = s->item_id, .count = k, .of = s->n, .value = share(k, s->n)};
    }
    out->value[TSL_QA_MISSING] = share(total, out->points);
    out->count[TSL_QA_MISSING] = total;
    for (size_t h = 0; h < nh; h++) flag[hits[h].series] = 1;
    flush(out, &cap, TSL_QA_MISSING, hits, nh, &o, flat);

    /* negative: refused at ingest, so known only in aggregate */
    if (o.non_negative) {
        size_t k = o.negatives_rejected;
        out->value[TSL_QA_NEGATIVE] = share(k, out->points + k);
        out->count[TSL_QA_NEGATIVE] = k;
        if (k) {
            char buf[256];
            snprintf(buf, sizeof buf,
                     "%zu %s refused as negative in a data set declared non_negative", k,
                     k == 1 ? "row was" : "rows were");
            if (cap == out->nfindings) {
                cap = cap ? 2 * cap : 16;
                out->findings = tsl_reallocarray(out->findings, cap, sizeof *out->findings);
            }
            out->findings[out->nfindings++] = (tsl_quality_arrival_finding){
                TSL_QA_NEGATIVE, TSL_QUALITY_ERROR, NULL, k, out->value[TSL_QA_NEGATIVE],
                tsl_strdup(buf)};
            out->found[TSL_QA_NEGATIVE] = 1;
            out->worst = TSL_QUALITY_ERROR;
        }
    }

    /* out of range, against each known item's baseline */
    if (o.baseline) {
        size_t out_k = 0, of = 0;
        nh = 0;
        for (size_t i = 0; i < n; i++) {
            const tsl_quality_arrival_series *s = &series[i];
            long b = tsl_baseline_find(o.baseline, s->item_id);
            if (b < 0) continue;
            const tsl_baseline_stats *st = &o.baseline->series[b].stats;
            if (!st->count) continue;
            double q10 = st->deciles[1], q90 = st->deciles[TSL_BASELINE_BUCKETS - 1];
            double idr = q90 - q10;
            double lo = fmin(st->deciles[0], q10 - o.range_factor * idr);
            double hi = fmax(st->deciles[TSL_BASELINE_BUCKETS], q90 + o.range_factor * idr);
            size_t k = 0, m = 0;
            for (size_t j = 0; j < s->n; j++) {
                if (!isfinite(s->v[j])) continue;
                m++;
                k += s->v[j] < lo || s->v[j] > hi;
            }
            out_k += k;
            of += m;
            if (k)
                hits[nh++] = (hit){.series = i,
                                   .item = s->item_id,
                                   .count = k,
                                   .of = m,
                                   .value = share(k, m),
                                   .lo = lo,
                                   .hi = hi};
        }
        out->value[TSL_QA_OUT_OF_RANGE] = share(out_k, of);
        out->count[TSL_QA_OUT_OF_RANGE] = out_k;
        for (size_t h = 0; h < nh; h++) flag[hits[h].series] = 1;
        flush(out, &cap, TSL_QA_OUT_OF_RANGE, hits, nh, &o, flat);
    }

    /* gaps and off-grid timestamps, on the grid through the series' first timestamp */
    if (grid) {
        size_t miss = 0, expected = 0, off = 0;
        hit *offh = tsl_calloc(n + 1, sizeof *offh);
        size_t noff = 0;
        nh = 0;
        for (size_t i = 0; i < n; i++) {
            const tsl_quality_arrival_series *s = &series[i];
            if (!s->n) continue;
            int64_t anchor = s->first != INT64_MIN ? s->first : s->t[0];
            int64_t phase = tsl_quality_grid_phase(o.freq, anchor);
            size_t k = 0, on_after = 0;
            int64_t last = INT64_MIN;
            for (size_t j = 0; j < s->n; j++) {
                if (tsl_quality_grid_phase(o.freq, s->t[j]) != phase) {
                    k++;
                    continue;
                }
                if (s->t[j] > s->prev_last) on_after++;
                last = s->t[j];
            }
            off += k;
            if (k)
                offh[noff++] = (hit){.series = i,
                                     .item = s->item_id,
                                     .count = k,
                                     .of = s->n,
                                     .value = share(k, s->n)};
            if (last == INT64_MIN || last <= s->prev_last) continue;
            /* the slots after the previous last point (or from the first new one) up to the
             * last new one; every one of them is new or absent, since nothing was stored
             * after the previous last point */
            int64_t from = s->prev_last != INT64_MIN ? s->prev_last : anchor;
            int64_t steps = tsl_quality_steps_between(o.freq, from, last);
            size_t exp = (size_t)(steps > 0 ? steps : 0) + (s->prev_last == INT64_MIN);
            size_t absent = exp > on_after ? exp - on_after : 0;
            expected += exp;
            miss += absent;
            if (absent)
                hits[nh++] = (hit){.series = i,
                                   .item = s->item_id,
                                   .count = absent,
                                   .of = exp,
                                   .value = share(absent, exp)};
        }
        out->value[TSL_QA_GAPS] = expected ? share(miss, expected) : 0;
        out->count[TSL_QA_GAPS] = miss;
        for (size_t h = 0; h < nh; h++) flag[hits[h].series] = 1;
        flush(out, &cap, TSL_QA_GAPS, hits, nh, &o, flat);
        out->value[TSL_QA_OFF_GRID] = share(off, out->points);
        out->count[TSL_QA_OFF_GRID] = off;
        for (size_t h = 0; h < noff; h++) flag[offh[h].series] = 1;
        flush(out, &cap, TSL_QA_OFF_GRID, offh, noff, &o, flat);
        tsl_free(offh);
    }

    /* late and corrected points: information, not flagged */
    size_t late = 0;
    nh = 0;
    for (size_t i = 0; i < n; i++) {
        const tsl_quality_arrival_series *s = &series[i];
        size_t k = 0;
        for (size_t j = 0; j < s->n; j++) k += s->prev_last != INT64_MIN && s->t[j] <= s->prev_last;
        late += k;
        if (k)
            hits[nh++] = (hit){.series = i,
                               .item = s->item_id,
                               .count = k,
                               .of = s->n,
                               .value = share(k, s->n),
                               .extra = (double)s->corrected};
    }
    out->value[TSL_QA_LATE] = share(late, out->points);
    out->count[TSL_QA_LATE] = late;
    flush(out, &cap, TSL_QA_LATE, hits, nh, &o, flat);

    /* stale: the version's items that received nothing while these did */
    size_t concerned = out->items;
    if (o.baseline) {
        /* the ids that received points, sorted, so that each baseline item is a lookup */
        const char **got_ids = tsl_calloc(n + 1, sizeof *got_ids);
        size_t ngot = 0;
        for (size_t i = 0; i < n; i++)
            if (series[i].n) got_ids[ngot++] = series[i].item_id;
        qsort(got_ids, ngot, sizeof *got_ids, cmp_id);
        nh = 0;
        for (size_t b = 0; b < o.baseline->nseries; b++) {
            const char *item = o.baseline->series[b].item_id;
            int got = bsearch(&item, got_ids, ngot, sizeof *got_ids, cmp_id) != NULL;
            if (!got)
                hits[nh++] = (hit){.series = n + b, .item = item, .count = 1, .of = 1, .value = 1};
        }
        tsl_free(got_ids);
        out->value[TSL_QA_STALE] = out->items ? share(nh, o.baseline->nseries) : NAN;
        out->count[TSL_QA_STALE] = out->items ? nh : 0;
        if (!out->items) nh = 0;
        for (size_t h = 0; h < nh; h++) flag[hits[h].series] = 1;
        concerned += nh;
        flush(out, &cap, TSL_QA_STALE, hits, nh, &o, flat);
    }

    /* new items: unknown to the version, or (without one) to the data set; a data set's
     * first delivery, where every item is new, is not news */
    nh = 0;
    for (size_t i = 0; i < n; i++) {
        const tsl_quality_arrival_series *s = &series[i];
        if (!s->n) continue;
        int is_new = o.baseline ? !known(o.baseline, s->item_id) : s->prev_last == INT64_MIN;
        if (is_new)
            hits[nh++] = (hit){.series = i,
                               .item = s->item_id,
                               .count = 1,
                               .of = 1,
                               .value = 1,
                               .extra = o.baseline != NULL};
    }
    if (!o.baseline && nh == out->items) nh = 0;
    out->value[TSL_QA_NEW_ITEMS] = share(nh, out->items);
    out->count[TSL_QA_NEW_ITEMS] = nh;
    flush(out, &cap, TSL_QA_NEW_ITEMS, hits, nh, &o, flat);

    /* flat lines: the trailing run of identical finite new values reaches flat_points */
    nh = 0;
    for (size_t i = 0; i < n; i++) {
        const tsl_quality_arrival_series *s = &series[i];
        if (s->n < flat || !isfinite(s->v[s->n - 1])) continue;
        size_t run = 1;
        while (run < s->n && s->v[s->n - 1 - run] == s->v[s->n - 1]) run++;
        if (run >= flat)
            hits[nh++] = (hit){.series = i,
                               .item = s->item_id,
                               .count = run,
                               .of = s->n,
                               .value = share(run, s->n),
                               .extra = s->v[s->n - 1]};
    }
    out->value[TSL_QA_FLATLINE] = share(nh, out->items);
    out->count[TSL_QA_FLATLINE] = nh;
    for (size_t h = 0; h < nh; h++) flag[hits[h].series] = 1;
    flush(out, &cap, TSL_QA_FLATLINE, hits, nh, &o, flat);

    size_t flagged = 0;
    for (size_t i = 0; i < n + nstale_max; i++) flagged += flag[i];
    out->value[TSL_QA_FLAGGED] = concerned ? share(flagged, concerned) : NAN;
    out->count[TSL_QA_FLAGGED] = flagged;
    tsl_free(hits);
    tsl_free(flag);
    return TSL_OK;
}

void tsl_quality_arrival_release(tsl_quality_arrival_report *r) {
    if (!r) return;
    for (size_t i = 0; i < r->nfindings; i++) {
        tsl_free(r->findings[i].item_id);
        tsl_free(r->findings[i].description);
    }
    tsl_free(r->findings);
    memset(r, 0, sizeof *r);
}
