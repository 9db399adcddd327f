/*
 * monitor.c - the evaluator: captures joined with actuals into metric datapoints per window,
 * and the monitors' alarms (include/tsloop/monitor.h states the rules).
 *
 * Design. A window is recomputed whole, never updated incrementally: the evaluator gathers the
 * window's captures, picks one forecast per (item, target time) by the window kind's rule,
 * looks up each actual, and accumulates the engine's metrics (metrics.h) per item, per horizon
 * step and in aggregate; the datapoints then replace the stored ones. Incremental sums would
 * need to subtract a corrected actual's old contribution and would drift with any bug; a
 * window holds at most items x horizon points, so recomputing it costs little and is exactly
 * idempotent.
 *
 * Which windows an ingest touches follows from the observations it wrote
 * (tsl_store_ingest_points): the day or hour each falls in, the runs whose captures target it,
 * or the trailing last:N window. Late and corrected actuals therefore re-evaluate exactly
 * those windows.
 *
 * MASE is scaled per item by the in-sample seasonal naive error of the item's history up to
 * the earliest forecast origin in the window (tsl_mase_scale with the data set frequency's
 * default period), as the engine scales a backtest window by the history before its origin.
 *
 * The alarm looks at the monitor's series - the datapoints of its metric, item (or the
 * aggregate) and step (or all) - over the evaluation range: for day and hour windows the
 * consecutive windows ending at the latest one with a datapoint (a window without one is a
 * missing slot), for run and last:N the latest datapoints. The threshold comes from the
 * policy at each evaluation, replayed from the registry (baseline: the endpoint's deployed
 * version; best_approved: the approved versions in approval order), so it follows approvals
 * and deployments without hooks and survives restarts.
 */
#include "tsloop/monitor.h"

#include <assert.h>
#include <jansson.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tsloop/alarm.h"
#include "tsloop/baseline.h"
#include "tsloop/bundle.h"
#include "tsloop/drift.h"
#include "tsloop/mem.h"
#include "tsloop/metrics.h"
#include "tsloop/time.h"

#include "core/jscan.h"
#include "ops/monitor_internal.h"

/* ---- actuals ---- */

/* One item's stored observations, loaded once per evaluation. */
typedef struct series {
    char *item;
    int64_t *t;
    double *v;
    size_t n;
} series;

typedef struct actuals {
    tsl_store *s;
    const char *dataset;
    series *v;
    size_t n, cap;
} actuals;

/* The series of item (loaded on first use). */
static tsl_err actuals_get(actuals *a, const char *item, const series **out, tsl_diag *d) {
    tsl_err err;
    for (size_t i = 0; i < a->n; i++)
        if (!strcmp(a->v[i].item, item)) {
            *out = &a->v[i];
            return TSL_OK;
        }
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 16;
        a->v = tsl_reallocarray(a->v, a->cap, sizeof *a->v);
    }
    series *x = &a->v[a->n];
    memset(x, 0, sizeof *x);
    if ((err = tsl_store_item_tail(a->s, a->dataset, item, INT64_MIN, &x->t, &x->v, &x->n, d)))
        return err;
    x->item = tsl_strdup(item);
    a->n++;
    *out = x;
    return TSL_OK;
}

static void actuals_release(actuals *a) {
    for (size_t i = 0; i < a->n; i++) {
        tsl_free(a->v[i].item);
        tsl_free(a->v[i].t);
        tsl_free(a->v[i].v);
    }
    tsl_free(a->v);
}

/* Index of the first observation at or after t. */
static size_t lower_bound(const series *x, int64_t t) {
    size_t lo = 0, hi = x->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (x->t[mid] < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The actual at t, NaN when absent or missing. */
static double actual_at(const series *x, int64_t t) {
    size_t i = lower_bound(x, t);
    return i < x->n && x->t[i] == t ? x->v[i] : NAN;
}

/* ---- windows ---- */

typedef struct window {
    char key[300];
    int64_t start, end;
    const char *run; /* run windows: the inference id */
} window;

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Seconds in a day or hour window. */
static int64_t window_len(tsl_window_kind k) {
    return k == TSL_WINDOW_DAY ? 86400 : 3600;
}

/* The day or hour window holding t. */
static void time_window(tsl_window_kind k, int64_t t, window *w) {
    int64_t len = window_len(k);
    char buf[64];
    memset(w, 0, sizeof *w);
    w->start = floor_div(t, len) * len;
    w->end = w->start + len;
    tsl_time_format(w->start, k == TSL_WINDOW_DAY, buf, sizeof buf);
    if (k == TSL_WINDOW_HOUR && strlen(buf) > 13) buf[13] = '\0'; /* "YYYY-MM-DDTHH" */
    snprintf(w->key, sizeof w->key, "%s", buf);
}

/* Appends w unless a window with its key is listed. */
static void add_window(window **v, size_t *n, size_t *cap, const window *w) {
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*v)[i].key, w->key)) return;
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 16;
        *v = tsl_reallocarray(*v, *cap, sizeof **v);
    }
    (*v)[(*n)++] = *w;
}

/* ---- picks: one forecast per (item, target) ---- */

typedef struct pick {
    const tsl_store_capture *c;
    size_t step; /* index into c's steps */
    double y;    /* the actual */
} pick;

/* Whether forecast a should count rather than b for the same (item, target) in window w. */
static int prefer(tsl_window_kind k, const window *w, const tsl_store_capture *a,
                  const tsl_store_capture *b) {
    if (a->origin == b->origin) return a->id > b->id;
    if (k == TSL_WINDOW_DAY || k == TSL_WINDOW_HOUR) {
        int ab = a->origin < w->start, bb = b->origin < w->start;
        if (ab != bb) return ab;
        return ab ? a->origin > b->origin : a->origin < b->origin;
    }
    return a->origin > b->origin;
}

static int cmp_pick(const void *pa, const void *pb) {
    const pick *a = pa, *b = pb;
    int c = strcmp(a->c->item, b->c->item);
    if (c) return c;
    int64_t ta = a->c->targets[a->step], tb = b->c->targets[b->step];
    return ta < tb ? -1 : ta > tb;
}

static int cmp_target_desc(const void *pa, const void *pb) {
    int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
    return a < b ? 1 : a > b ? -1 : 0;
}

/* The forecasts that count in window w among caps (of the monitor's item when set), with
 * their actuals: only points whose actual is finite are kept. *out freed with tsl_free;
 * *forecast gets how many forecast points the window holds, joined or not. */
static tsl_err window_picks(const tsl_config_monitor *m, const window *w,
                            const tsl_store_capture *caps, size_t ncaps, actuals *act, pick **out,
                            size_t *nout, size_t *forecast, tsl_diag *d) {
    pick *v = NULL;
    size_t n = 0, cap = 0;
    tsl_err err = TSL_OK;
    for (size_t i = 0; i < ncaps; i++) {
        const tsl_store_capture *c = &caps[i];
        if (m->item && strcmp(c->item, m->item)) continue;
        if (m->window == TSL_WINDOW_RUN && strcmp(c->inference_id, w->run)) continue;
        for (size_t j = 0; j < c->steps; j++) {
            int64_t t = c->targets[j];
            if ((m->window == TSL_WINDOW_DAY || m->window == TSL_WINDOW_HOUR) &&
                (t < w->start || t >= w->end))
                continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 64;
                v = tsl_reallocarray(v, cap, sizeof *v);
            }
            v[n++] = (pick){c, j, NAN};
        }
    }
    *forecast = n;
    if (n) qsort(v, n, sizeof *v, cmp_pick);
    /* keep the preferred forecast of each (item, target) and look up its actual */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k && !cmp_pick(&v[k - 1], &v[i])) {
            if (prefer(m->window, w, v[i].c, v[k - 1].c)) v[k - 1] = v[i];
            continue;
        }
        v[k++] = v[i];
    }
    n = k;
    k = 0;
    for (size_t i = 0; i < n; i++) {
        const series *x;
        if ((err = actuals_get(act, v[i].c->item, &x, d))) goto out;
        v[i].y = actual_at(x, v[i].c->targets[v[i].step]);
        if (isfinite(v[i].y)) v[k++] = v[i];
    }
    n = k;
    if (m->window == TSL_WINDOW_LAST && n) {
        /* the last N distinct target times that have actuals */
        int64_t *ts = tsl_malloc(n * sizeof *ts);
        for (size_t i = 0; i < n; i++) ts[i] = v[i].c->targets[v[i].step];
        qsort(ts, n, sizeof *ts, cmp_target_desc);
        size_t distinct = 0;
        int64_t cut = ts[0];
        for (size_t i = 0; i < n && distinct < (size_t)m->window_n; i++)
            if (!i || ts[i] != ts[i - 1]) distinct++, cut = ts[i];
        tsl_free(ts);
        k = 0;
        for (size_t i = 0; i < n; i++)
            if (v[i].c->targets[v[i].step] >= cut) v[k++] = v[i];
        n = k;
    }
out:
    if (err) {
        tsl_free(v);
        v = NULL;
        n = 0;
    }
    *out = v;
    *nout = n;
    return err;
}

/* ---- accumulating a window ---- */

/* Adds one point to a (with its quantiles when the accumulator takes this level set). */
static void acc_point(tsl_acc *a, const pick *p) {
    const tsl_store_capture *c = p->c;
    double f = c->mean[p->step];
    const double *q = c->nq ? &c->quant[p->step * c->nq] : NULL;
    if (!c->nq || c->nq > TSL_METRICS_MAX_LEVELS ||
        tsl_acc_add(a, &p->y, &f, q, c->levels, c->nq, 1, NULL) != TSL_OK)
        (void)tsl_acc_add(a, &p->y, &f, NULL, NULL, 0, 1, NULL);
}

/* Appends one datapoint per metric for (item, step) from values val[metric]. */
static void put_metrics(tsl_store_datapoint **v, size_t *n, size_t *cap,
                        const tsl_config_monitor *m, const window *w, const char *item, int step,
                        const double *val, uint64_t count) {
    for (int k = 0; k < TSL_METRIC_COUNT; k++) {
        if (*n == *cap) {
            *cap = *cap ? 2 * *cap : 64;
            *v = tsl_reallocarray(*v, *cap, sizeof **v);
        }
        tsl_store_datapoint *p = &(*v)[(*n)++];
        memset(p, 0, sizeof *p);
        p->monitor = m->name;
        p->endpoint = m->endpoint;
        p->window = (char *)w->key;
        p->window_start = w->start;
        p->window_end = w->end;
        p->item = (char *)item;
        p->step = step;
        p->metric = (char *)tsl_metric_name((tsl_metric)k);
        p->value = val[k];
        p->n = count;
    }
}

/* Recomputes window w of monitor m and writes its datapoints: per item over all steps, in
 * aggregate over all steps, and in aggregate per step. */
static tsl_err eval_window(tsl_store *s, const tsl_config_monitor *m, window *w, int period,
                           const tsl_store_capture *caps, size_t ncaps, actuals *act,
                           tsl_monitor_stats *st, tsl_diag *d) {
    pick *picks = NULL;
    size_t np = 0, nitems = 0, maxstep = 0, ndp = 0, dpcap = 0;
    tsl_acc *item_acc = NULL, *step_acc = NULL; /* nitems; nitems * maxstep */
    double *scale = NULL;
    const char **items = NULL;
    tsl_store_datapoint *dp = NULL;
    double val[TSL_METRIC_COUNT];
    tsl_err err;
    size_t nforecast = 0;
    if ((err = window_picks(m, w, caps, ncaps, act, &picks, &np, &nforecast, d))) goto out;
    if (!nforecast) goto out; /* no forecast targets this window: it does not exist */
    if (m->window == TSL_WINDOW_LAST || m->window == TSL_WINDOW_RUN) {
        if (!np) goto out; /* nothing joined yet: no window */
        w->start = INT64_MAX;
        w->end = INT64_MIN;
        for (size_t i = 0; i < np; i++) {
            int64_t t = picks[i].c->targets[picks[i].step];
            if (t < w->start) w->start = t;
            if (t + 1 > w->end) w->end = t + 1;
        }
        if (m->window == TSL_WINDOW_LAST) {
            char buf[64];
            tsl_time_format(w->end - 1, 0, buf, sizeof buf);
            snprintf(w->key, sizeof w->key, "last:%d@%s", m->window_n, buf);
        }
    }
    /* items in pick order (picks are sorted by item) */
    items = tsl_calloc(np ? np : 1, sizeof *items);
    int64_t *first_origin = tsl_calloc(np ? np : 1, sizeof *first_origin);
    for (size_t i = 0; i < np; i++) {
        if (!nitems || strcmp(items[nitems - 1], picks[i].c->item)) {
            items[nitems] = picks[i].c->item;
            first_origin[nitems++] = picks[i].c->origin;
        }
        if (picks[i].c->origin < first_origin[nitems - 1])
            first_origin[nitems - 1] = picks[i].c->origin;
        if (picks[i].step + 1 > maxstep) maxstep = picks[i].step + 1;
    }
    item_acc = tsl_calloc(nitems ? nitems : 1, sizeof *item_acc);
    step_acc = tsl_calloc(nitems * maxstep + 1, sizeof *step_acc);
    scale = tsl_calloc(nitems ? nitems : 1, sizeof *scale);
    for (size_t i = 0, it = 0; i < np; i++) {
        while (strcmp(items[it], picks[i].c->item)) it++;
        acc_point(&item_acc[it], &picks[i]);
        acc_point(&step_acc[it * maxstep + picks[i].step], &picks[i]);
    }
    for (size_t it = 0; it < nitems; it++) {
        const series *x;
        if ((err = actuals_get(act, items[it], &x, d))) {
            tsl_free(first_origin);
            goto out;
        }
        size_t upto = lower_bound(x, first_origin[it] + 1);
        scale[it] = tsl_mase_scale(x->v, upto, period);
    }
    tsl_free(first_origin);

    /* aggregate over all steps, and each item */
    tsl_agg all = {0};
    for (size_t it = 0; it < nitems; it++) (void)tsl_agg_add(&all, &item_acc[it], scale[it], NULL);
    for (int k = 0; k < TSL_METRIC_COUNT; k++) val[k] = tsl_agg_value(&all, (tsl_metric)k);
    put_metrics(&dp, &ndp, &dpcap, m, w, "", 0, val, all.pooled.n);
    for (size_t it = 0; it < nitems; it++) {
        for (int k = 0; k < TSL_METRIC_COUNT; k++)
            val[k] = tsl_acc_value(&item_acc[it], (tsl_metric)k, scale[it]);
        put_metrics(&dp, &ndp, &dpcap, m, w, items[it], 0, val, item_acc[it].n);
    }
    for (size_t j = 0; j < maxstep; j++) {
        tsl_agg g = {0};
        for (size_t it = 0; it < nitems; it++)
            if (step_acc[it * maxstep + j].n)
                (void)tsl_agg_add(&g, &step_acc[it * maxstep + j], scale[it], NULL);
        if (!g.pooled.n) continue;
        for (int k = 0; k < TSL_METRIC_COUNT; k++) val[k] = tsl_agg_value(&g, (tsl_metric)k);
        put_metrics(&dp, &ndp, &dpcap, m, w, "", (int)j + 1, val, g.pooled.n);
    }
    if ((err = tsl_store_datapoint_put(s, dp, ndp, d))) goto out;
    if (st) {
        st->windows++;
        st->datapoints += ndp;
    }
out:
    tsl_free(picks);
    tsl_free(items);
    tsl_free(item_acc);
    tsl_free(step_acc);
    tsl_free(scale);
    tsl_free(dp);
    return err;
}

/* The version in shadow on m's endpoint (shadow.h): windows w[0..nw) recomputed on its
 * captures, stored as the datapoints of the monitor called "NAME@shadow" ('@' is not allowed
 * in monitor names, so no monitor has it). No alarm ever reads them: the alarm is about what
 * clients were answered. A monitor whose name leaves no room for the suffix has none. */
static tsl_err eval_shadow(tsl_store *s, const tsl_config_monitor *m, window *w, size_t nw,
                           int period, actuals *act, tsl_monitor_stats *st, tsl_diag *d) {
    tsl_store_shadow sh = {0};
    tsl_store_capture *caps = NULL;
    size_t ncaps = 0;
    int found = 0;
    char name[TSL_STORE_NAME_MAX + 1];
    tsl_err err = TSL_OK;
    if ((size_t)snprintf(name, sizeof name, "%s@shadow", m->name) >= sizeof name) return TSL_OK;
    if ((err = tsl_store_shadow_get(s, m->endpoint, &sh, &found, d)) || !found) goto out;
    if ((err =
             tsl_store_capture_list_shadow(s, m->endpoint, sh.capture_after, 0, &caps, &ncaps, d)))
        goto out;
    size_t k = 0;
    for (size_t i = 0; i < ncaps; i++) {
        if (caps[i].model_id != sh.model_id) {
            tsl_store_capture_release(&caps[i]);
            continue;
        }
        caps[k++] = caps[i];
    }
    ncaps = k;
    tsl_config_monitor sm = *m;
    sm.name = name;
    for (size_t i = 0; i < nw && !err; i++) {
        window x = w[i];
        if (m->window == TSL_WINDOW_LAST) snprintf(x.key, sizeof x.key, "last:%d", m->window_n);
        err = eval_window(s, &sm, &x, period, caps, ncaps, act, st, d);
    }
out:
    tsl_store_capture_list_free(caps, ncaps);
    tsl_store_shadow_release(&sh);
    return err;
}

static int cmp_i64(const void *pa, const void *pb) {
    int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
    return (a > b) - (a < b);
}

/* How many distinct target times at or after lo among caps (of m's item when set) have an
 * actual, counting no further than want. */
static tsl_err count_joined_since(const tsl_config_monitor *m, const tsl_store_capture *caps,
                                  size_t ncaps, int64_t lo, size_t want, actuals *act,
                                  size_t *count, tsl_diag *d) {
    int64_t *ts = NULL;
    size_t n = 0, cap = 0, distinct = 0;
    tsl_err err = TSL_OK;
    for (size_t i = 0; i < ncaps; i++) {
        const tsl_store_capture *c = &caps[i];
        const series *x;
        if (m->item && strcmp(c->item, m->item)) continue;
        if ((err = actuals_get(act, c->item, &x, d))) goto out;
        for (size_t j = 0; j < c->steps; j++) {
            if (c->targets[j] < lo || !isfinite(actual_at(x, c->targets[j]))) continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 64;
                ts = tsl_reallocarray(ts, cap, sizeof *ts);
            }
            ts[n++] = c->targets[j];
        }
    }
    if (n) qsort(ts, n, sizeof *ts, cmp_i64);
    for (size_t i = 0; i < n && distinct < want; i++)
        if (!i || ts[i] != ts[i - 1]) distinct++;
out:
    tsl_free(ts);
    *count = distinct;
    return err;
}

/* hi - lo for lo <= hi, saturating at INT64_MAX. */
static int64_t distance(int64_t lo, int64_t hi) {
    assert(lo <= hi);
    return lo < 0 && hi > INT64_MAX + lo ? INT64_MAX : hi - lo;
}

/* The captures a last:N window of m needs, without the endpoint's whole history. The window is
 * the latest N distinct target times that have an actual (window_picks). Every forecast point
 * at or after a time lo belongs to a capture whose latest target is >= lo, so the span read
 * from lo holds all of them; once those points alone reach N joined times, the window lies at
 * or after lo and the picks, their preferred forecasts and the MASE scales are exactly those
 * of a full read. lo starts N steps of the data set's frequency (N hours when it has none)
 * before the latest target and moves back by doubling, down to the earliest capture's latest
 * target, where the span is the whole history. */
static tsl_err last_window_captures(tsl_store *s, const tsl_config_monitor *m, tsl_freq freq,
                                    actuals *act, tsl_store_capture **out, size_t *nout,
                                    tsl_diag *d) {
    int64_t min_last = 0, max_last = 0, back;
    int found = 0;
    tsl_err err;
    size_t want = m->window_n == 0 ? 1 : (size_t)m->window_n; /* as window_picks counts */
    *out = NULL;
    *nout = 0;
    if ((err = tsl_store_capture_bounds(s, m->endpoint, 0, &min_last, &max_last, &found, d)) ||
        !found)
        return err;
    back = distance(
        tsl_freq_add(freq, max_last, want > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)want),
        max_last);
    if (back <= 0) back = want > (uint64_t)INT64_MAX / 3600 ? INT64_MAX : 3600 * (int64_t)want;
    for (;;) {
        int64_t lo = distance(min_last, max_last) <= back ? min_last : max_last - back;
        size_t joined = 0;
        if ((err = tsl_store_capture_span(s, m->endpoint, 0, lo, INT64_MAX, out, nout, d)))
            return err;
        if (lo == min_last) return TSL_OK; /* the whole history */
        if ((err = count_joined_since(m, *out, *nout, lo, want, act, &joined, d))) break;
        if (joined >= want) return TSL_OK;
        tsl_store_capture_list_free(*out, *nout);
        *out = NULL;
        *nout = 0;
        back = back > INT64_MAX / 2 ? INT64_MAX : 2 * back;
    }
    tsl_store_capture_list_free(*out, *nout);
    *out = NULL;
    *nout = 0;
    return err;
}

tsl_err tsl_monitor_evaluate(tsl_store *s, const tsl_config_monitor *m, const char *dataset,
                             const tsl_store_point *touched, size_t ntouched, int64_t now_ms,
                             tsl_monitor_stats *st, tsl_diag *d) {
    tsl_store_deployment dep = {0};
    tsl_store_model model = {0};
    tsl_store_dataset ds = {0};
    tsl_store_capture *caps = NULL;
    size_t ncaps = 0, nw = 0, wcap = 0;
    window *wins = NULL;
    actuals act = {0};
    tsl_err err;
    assert(m->kind == TSL_MONITOR_ACCURACY);
    err = tsl_store_endpoint_get(s, m->endpoint, &dep, d);
    if (err == TSL_ENOTFOUND) {
        err = TSL_OK; /* nothing deployed yet: nothing to evaluate */
        goto out;
    }
    if (err || (err = tsl_store_model_get(s, dep.forecaster, dep.version, &model, d))) goto out;
    if (!model.dataset || (dataset && strcmp(dataset, model.dataset))) goto out;
    if ((err = tsl_store_dataset_get(s, model.dataset, &ds, d))) goto out;
    act.s = s;
    act.dataset = model.dataset;

    /* the windows to recompute, and the captures they need */
    if (touched && (m->window == TSL_WINDOW_DAY || m->window == TSL_WINDOW_HOUR)) {
        /* Only the captures that can target a touched window: a window's forecasts are its
         * captures' targets in [start, end), so any capture contributing to it spans some of
         * the union of the windows' ranges, and the picks (prefer) and MASE scales (first
         * origin of the picks) of every window come out as from the full history. */
        for (size_t j = 0; j < ntouched; j++) {
            if (m->item && strcmp(touched[j].item, m->item)) continue;
            window w;
            time_window(m->window, touched[j].t, &w);
            add_window(&wins, &nw, &wcap, &w);
        }
        if (!nw) goto out;
        int64_t lo = wins[0].start, hi = wins[0].end;
        for (size_t i = 1; i < nw; i++) {
            if (wins[i].start < lo) lo = wins[i].start;
            if (wins[i].end > hi) hi = wins[i].end;
        }
        if ((err = tsl_store_capture_span(s, m->endpoint, 0, lo, hi - 1, &caps, &ncaps, d)))
            goto out;
    } else if (touched && m->window == TSL_WINDOW_LAST) {
        window w = {0};
        if (!ntouched) goto out;
        if ((err = last_window_captures(s, m, ds.freq, &act, &caps, &ncaps, d))) goto out;
        snprintf(w.key, sizeof w.key, "last:%d", m->window_n);
        add_window(&wins, &nw, &wcap, &w);
    } else if ((err = tsl_store_capture_list(s, m->endpoint, NULL, 0, 0, &caps, &ncaps, d))) {
        goto out;
    } else if (m->window == TSL_WINDOW_LAST) {
        window w = {0};
        snprintf(w.key, sizeof w.key, "last:%d", m->window_n);
        if (!touched || ntouched) add_window(&wins, &nw, &wcap, &w);
    } else if (m->window == TSL_WINDOW_RUN) {
        for (size_t i = 0; i < ncaps; i++) {
            const tsl_store_capture *c = &caps[i];
            if (m->item && strcmp(c->item, m->item)) continue;
            int hit = !touched;
            for (size_t j = 0; !hit && j < ntouched; j++) {
                if (strcmp(touched[j].item, c->item)) continue;
                for (size_t k = 0; !hit && k < c->steps; k++) hit = c->targets[k] == touched[j].t;
            }
            if (!hit) continue;
            window w = {0};
            snprintf(w.key, sizeof w.key, "run:%s", c->inference_id);
            w.run = c->inference_id;
            add_window(&wins, &nw, &wcap, &w);
        }
    } else {
        for (size_t i = 0; i < ncaps; i++)
            for (size_t k = 0; k < caps[i].steps; k++) {
                window w;
                time_window(m->window, caps[i].targets[k], &w);
                add_window(&wins, &nw, &wcap, &w);
            }
    }
    int period = tsl_freq_default_period(ds.freq);
    if (period < 1) period = 1;
    for (size_t i = 0; i < nw; i++)
        if ((err = eval_window(s, m, &wins[i], period, caps, ncaps, &act, st, d))) goto out;
    if (nw && (err = eval_shadow(s, m, wins, nw, period, &act, st, d))) goto out;
    if (nw) err = tsl_monitor_alarm(s, m, now_ms, NULL, d);
    if (!err && nw && st) st->alarms++;
out:
    actuals_release(&act);
    tsl_free(wins);
    tsl_store_capture_list_free(caps, ncaps);
    tsl_store_dataset_release(&ds);
    tsl_store_model_release(&model);
    tsl_store_deployment_release(&dep);
    return err;
}

/* ---- thresholds ---- */

/* Version v's backtest value of metric (metrics.auto.NAME, or the score when the selection
 * metric is that metric); NaN when it has none. */
static double version_metric(const tsl_store_model *v, tsl_metric metric) {
    const char *name = tsl_metric_name(metric);
    double out = NAN;
    json_t *j = v->metrics ? json_loads(v->metrics, 0, NULL) : NULL;
    if (!j) return NAN;
    json_t *a = json_object_get(json_object_get(j, "auto"), name);
    if (json_is_number(a)) out = json_number_value(a);
    const char *sel = json_string_value(json_object_get(j, "metric"));
    if (!isfinite(out) && sel && !strcmp(sel, name) && json_is_number(json_object_get(j, "score")))
        out = json_number_value(json_object_get(j, "score"));
    json_decref(j);
    return out;
}

static int cmp_approved(const void *pa, const void *pb) {
    const tsl_store_model *a = pa, *b = pb;
    if (a->approved_ms != b->approved_ms) return a->approved_ms < b->approved_ms ? -1 : 1;
    return a->version < b->version ? -1 : a->version > b->version;
}

/* The monitor's threshold now: *th gets the threshold state (threshold NaN when none yet) and
 * *why a note when it cannot be known. */
static tsl_err current_threshold(tsl_store *s, const tsl_config_monitor *m, tsl_threshold_state *th,
                                 char *why, size_t cap, tsl_diag *d) {
    tsl_store_deployment dep = {0};
    tsl_store_model *list = NULL;
    size_t n = 0;
    tsl_store_param prm = {0};
    tsl_err err = TSL_OK;
    th->threshold = th->metric = NAN;
    why[0] = '\0';
    if ((err = tsl_threshold_init(&m->policy, th, d))) goto out;
    if (m->policy.kind == TSL_THRESHOLD_FIXED) {
        if (!m->threshold_param) goto out;
        err = tsl_store_param_get(s, m->threshold_param, 0, &prm, d);
        if (err == TSL_ENOTFOUND) {
            err = TSL_OK;
            th->threshold = NAN;
            snprintf(why, cap, "parameter '%s' is not set", m->threshold_param);
            goto out;
        }
        if (err) goto out;
        char *end = NULL;
        double v = strtod(prm.value, &end);
        th->threshold = (end != prm.value && !*end && isfinite(v)) ? v : NAN;
        if (!isfinite(th->threshold))
            snprintf(why, cap, "parameter '%s' holds '%.64s', not a number", m->threshold_param,
                     prm.value);
        goto out;
    }
    err = tsl_store_endpoint_get(s, m->endpoint, &dep, d);
    if (err == TSL_ENOTFOUND) {
        err = TSL_OK;
        snprintf(why, cap, "endpoint '%s' has no deployment", m->endpoint);
        goto out;
    }
    if (err) goto out;
    if ((err = tsl_store_model_list(s, dep.forecaster, &list, &n, d))) goto out;
    if (m->policy.kind == TSL_THRESHOLD_BASELINE) {
        for (size_t i = 0; i < n; i++)
            if (list[i].version == dep.version) {
                double v = version_metric(&list[i], m->metric);
                if (isfinite(v))
                    (void)tsl_threshold_update(&m->policy, TSL_THRESHOLD_DEPLOYED, v, th, NULL,
                                               NULL);
            }
    } else {
        /* best_approved: replay the approvals in order; the deployed version counts as approved
         * (it was, or the endpoint would not serve it under a requires_approval policy) */
        qsort(list, n, sizeof *list, cmp_approved);
        for (size_t i = 0; i < n; i++) {
            if (list[i].status != TSL_MODEL_APPROVED && list[i].version != dep.version) continue;
            double v = version_metric(&list[i], m->metric);
            if (isfinite(v))
                (void)tsl_threshold_update(&m->policy, TSL_THRESHOLD_APPROVED, v, th, NULL, NULL);
        }
    }
    if (!isfinite(th->threshold))
        snprintf(why, cap, "no %s version of '%s' reports a backtest %s",
                 m->policy.kind == TSL_THRESHOLD_BASELINE ? "deployed" : "approved", dep.forecaster,
                 tsl_metric_name(m->metric));
out:
    tsl_store_param_release(&prm);
    tsl_store_model_list_free(list, n);
    tsl_store_deployment_release(&dep);
    return err;
}

/* ---- alarms ---- */

/* The ingest id of an "ingest:ID" window key, 0 for another. */
static int64_t ingest_window_id(const char *key) {
    if (strncmp(key, "ingest:", 7)) return 0;
    return strtoll(key + 7, NULL, 10);
}

/* Ingest windows by start, then ingest id. */
static int cmp_ingest_window(const void *pa, const void *pb) {
    const tsl_store_datapoint *a = pa, *b = pb;
    if (a->window_start != b->window_start) return a->window_start < b->window_start ? -1 : 1;
    int64_t ia = ingest_window_id(a->window), ib = ingest_window_id(b->window);
    return ia < ib ? -1 : ia > ib;
}

/* The monitor's evaluation range, oldest first, NaN for missing slots, into pts (range
 * slots), and each slot's window start into starts (INT64_MIN when unknown). */
static tsl_err alarm_range(tsl_store *s, const tsl_config_monitor *m, int range, double *pts,
                           int64_t *starts, tsl_diag *d) {
    tsl_store_datapoint_query q;
    tsl_store_datapoint *v = NULL;
    size_t n = 0;
    tsl_err err;
    tsl_store_datapoint_query_init(&q);
    q.monitor = m->name;
    q.item = m->item ? m->item : "";
    q.step = m->kind == TSL_MONITOR_ACCURACY ? m->step : 0;
    q.metric = tsl_monitor_metric_name(m);
    q.limit = (size_t)range;
    for (int i = 0; i < range; i++) pts[i] = NAN, starts[i] = INT64_MIN;
    if ((err = tsl_store_datapoint_list(s, &q, &v, &n, d))) return err;
    if (!n) goto out;
    if (m->kind != TSL_MONITOR_FRESHNESS &&
        (m->window == TSL_WINDOW_DAY || m->window == TSL_WINDOW_HOUR)) {
        int64_t len = window_len(m->window), last = v[n - 1].window_start;
        for (int i = 0; i < range; i++) starts[i] = last - (int64_t)(range - 1 - i) * len;
        for (size_t k = 0; k < n; k++) {
            int64_t back = (last - v[k].window_start) / len;
            if (back >= 0 && back < range) pts[range - 1 - back] = v[k].value;
        }
    } else {
        /* the latest `range` datapoints: the query returns the latest windows, one row each;
         * ingest windows that started in the same second go in ingest order */
        if (m->window == TSL_WINDOW_INGEST) qsort(v, n, sizeof *v, cmp_ingest_window);
        size_t from = n > (size_t)range ? n - (size_t)range : 0;
        for (size_t k = from; k < n; k++) {
            pts[(size_t)range - (n - k)] = v[k].value;
            starts[(size_t)range - (n - k)] = v[k].window_start;
        }
    }
out:
    tsl_store_datapoint_list_free(v, n);
    return TSL_OK;
}

/* The alarm.state_changed payload (a new JSON text). */
static char *change_payload(const tsl_config_monitor *m, const tsl_store_deployment *dep,
                            const tsl_alarm_rule *rule, const tsl_alarm_result *r, double value,
                            const double *pts, const int64_t *starts, int range, int64_t now_ms) {
    char buf[64];
    json_t *o = json_object();
    json_object_set_new(o, "monitor", json_string(m->name));
    json_object_set_new(o, "kind", json_string(tsl_monitor_kind_name(m->kind)));
    json_object_set_new(o, "forecaster",
                        dep && dep->forecaster ? json_string(dep->forecaster) : json_null());
    json_object_set_new(o, "version",
                        dep && dep->forecaster ? json_integer(dep->version) : json_null());
    json_object_set_new(o, "endpoint", m->endpoint ? json_string(m->endpoint) : json_null());
    if (m->dataset) json_object_set_new(o, "dataset", json_string(m->dataset));
    json_object_set_new(o, "metric", json_string(tsl_monitor_metric_name(m)));
    json_object_set_new(
        o, "window",
        m->kind == TSL_MONITOR_FRESHNESS
            ? json_null()
            : json_string(tsl_window_format(m->window, m->window_n, buf, sizeof buf)));
    json_object_set_new(o, "item", m->item ? json_string(m->item) : json_null());
    json_object_set_new(o, "step", json_integer(m->step));
    json_object_set_new(o, "previous", json_string(tsl_alarm_value_name(r->previous)));
    json_object_set_new(o, "state", json_string(tsl_alarm_value_name(r->value)));
    json_object_set_new(o, "value", isfinite(value) ? json_real(value) : json_null());
    json_object_set_new(o, "threshold", json_real(rule->threshold));
    static const char *const ops[] = {"GreaterThanThreshold", "GreaterThanOrEqualToThreshold",
                                      "LessThanThreshold", "LessThanOrEqualToThreshold"};
    json_object_set_new(o, "comparison", json_string(ops[rule->op]));
    json_object_set_new(o, "evaluation_periods", json_integer(rule->periods));
    json_object_set_new(o, "datapoints_to_alarm", json_integer(rule->datapoints));
    json_object_set_new(o, "treat_missing_data",
                        json_string(tsl_alarm_missing_name(rule->missing)));
    json_object_set_new(o, "reason", json_string(r->reason));
    json_t *a = json_array();
    for (int i = 0; i < range; i++) {
        if (starts[i] == INT64_MIN) continue;
        json_t *p = json_object();
        tsl_time_format(starts[i], 0, buf, sizeof buf);
        json_object_set_new(p, "window_start", json_string(buf));
        json_object_set_new(p, "value", isfinite(pts[i]) ? json_real(pts[i]) : json_null());
        json_array_append_new(a, p);
    }
    json_object_set_new(o, "datapoints", a);
    json_t *act = json_array();
    if (m->actions & TSL_MONITOR_ACTION_RETRAIN) json_array_append_new(act, json_string("retrain"));
    if (m->actions & TSL_MONITOR_ACTION_NOTIFY) json_array_append_new(act, json_string("notify"));
    json_object_set_new(o, "actions", act);
    tsl_time_format(floor_div(now_ms, 1000), 0, buf, sizeof buf);
    json_object_set_new(o, "at", json_string(buf));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

tsl_err tsl_monitor_alarm(tsl_store *s, const tsl_config_monitor *m, int64_t now_ms, int *changed,
                          tsl_diag *d) {
    tsl_store_alarm cur = {0};
    tsl_store_deployment dep = {0};
    tsl_threshold_state th;
    tsl_alarm_rule rule = m->rule;
    tsl_alarm_result r;
    double *pts = NULL;
    int64_t *starts = NULL;
    char *payload = NULL, why[256];
    int found = 0, range = tsl_alarm_rule_range(&m->rule);
    tsl_err err;
    if (changed) *changed = 0;
    pts = tsl_malloc((size_t)range * sizeof *pts);
    starts = tsl_malloc((size_t)range * sizeof *starts);
    for (int attempt = 0;; attempt++) {
        tsl_store_alarm_release(&cur);
        if ((err = current_threshold(s, m, &th, why, sizeof why, d))) goto out;
        if ((err = tsl_store_alarm_get(s, m->name, &cur, &found, d))) goto out;
        if (!found) tsl_alarm_state_init(&cur.state);
        uint64_t expect = found ? cur.state.changes : 0;
        if (!isfinite(th.threshold)) goto out; /* nothing to compare with yet */
        rule.threshold = th.threshold;
        if ((err = alarm_range(s, m, range, pts, starts, d))) goto out;
        tsl_store_alarm next = {.monitor = m->name, .state = cur.state, .threshold = th};
        if ((err = tsl_alarm_evaluate(&rule, pts, (size_t)range, now_ms, &next.state, &r, d)))
            goto out;
        next.value = pts[range - 1];
        for (int i = range - 1; i >= 0 && !isfinite(next.value); i--) next.value = pts[i];
        next.reason = r.reason;
        tsl_store_alarm_change ch = {.monitor = m->name,
                                     .previous = r.previous,
                                     .value = r.value,
                                     .datapoint = next.value,
                                     .threshold = rule.threshold,
                                     .reason = r.reason};
        tsl_free(payload);
        payload = NULL;
        if (r.changed) {
            tsl_store_deployment_release(&dep);
            if (m->endpoint && tsl_store_endpoint_get(s, m->endpoint, &dep, NULL) != TSL_OK)
                memset(&dep, 0, sizeof dep);
            payload = change_payload(m, &dep, &rule, &r, next.value, pts, starts, range, now_ms);
        }
        err = tsl_store_alarm_put(s, &next, expect, r.changed ? &ch : NULL, payload, d);
        if (err == TSL_ECONFLICT && attempt < 5) continue; /* another evaluator won: again */
        if (!err && changed) *changed = r.changed;
        break;
    }
out:
    tsl_free(payload);
    tsl_free(pts);
    tsl_free(starts);
    tsl_store_deployment_release(&dep);
    tsl_store_alarm_release(&cur);
    return err;
}

/* ---- freshness ---- */

tsl_err tsl_monitor_freshness(tsl_store *s, const tsl_config_monitor *m, int64_t now_ms,
                              tsl_monitor_stats *st, tsl_diag *d) {
    tsl_store_dataset ds = {0};
    tsl_err err;
    assert(m->kind == TSL_MONITOR_FRESHNESS && m->every > 0);
    err = tsl_store_dataset_get(s, m->dataset, &ds, d);
    if (err == TSL_ENOTFOUND) return TSL_OK; /* nothing ingested yet: not expected yet */
    if (err) return err;
    int64_t every_ms = m->every * 1000;
    int64_t slot = floor_div(now_ms, every_ms);
    int64_t missed = floor_div(now_ms - ds.updated_ms, every_ms);
    if (missed < 0) missed = 0;
    tsl_store_datapoint p = {0};
    char key[64];
    tsl_time_format(slot * m->every, 0, key, sizeof key);
    p.monitor = m->name;
    p.endpoint = m->dataset;
    p.window = key;
    p.window_start = slot * m->every;
    p.window_end = p.window_start + m->every;
    p.item = "";
    p.metric = "missed";
    p.value = (double)missed;
    p.n = 1;
    /* Checked every second: write only when the slot's count moved, since the alarm's range,
     * and so its outcome, is the same otherwise. */
    tsl_store_datapoint_query q;
    tsl_store_datapoint *cur = NULL;
    size_t ncur = 0;
    tsl_store_datapoint_query_init(&q);
    q.monitor = m->name;
    q.window = key;
    q.metric = "missed";
    q.item = "";
    q.step = 0;
    if ((err = tsl_store_datapoint_list(s, &q, &cur, &ncur, d))) goto out;
    int same = ncur == 1 && cur[0].value == p.value;
    tsl_store_datapoint_list_free(cur, ncur);
    if (same) goto out;
    if ((err = tsl_store_datapoint_put(s, &p, 1, d))) goto out;
    if (st) st->datapoints++, st->alarms++;
    err = tsl_monitor_alarm(s, m, now_ms, NULL, d);
out:
    tsl_store_dataset_release(&ds);
    return err;
}

/* ---- drift ---- */

const char *tsl_monitor_metric_name(const tsl_config_monitor *m) {
    switch (m->kind) {
    case TSL_MONITOR_ACCURACY:
        return tsl_metric_name(m->metric);
    case TSL_MONITOR_FRESHNESS:
        return "missed";
    case TSL_MONITOR_DRIFT:
        return tsl_drift_statistic_name(m->statistic);
    case TSL_MONITOR_QUALITY:
        return tsl_quality_arrival_name(m->check);
    }
    return "";
}

tsl_err tsl_monitor_load_baseline(tsl_store *s, const char *forecaster, int version,
                                  const char *const *want, size_t nwant, tsl_baseline **out,
                                  tsl_diag *d) {
    void *data = NULL;
    size_t len = 0;
    tsl_bundle *b = NULL;
    const char *v, *vend, *st, *stend;
    tsl_err err;
    *out = NULL;
    if ((err = tsl_store_model_artifact(s, forecaster, version, &data, &len, d))) goto out;
    err = tsl_bundle_adopt(data, len, &b, d);
    data = NULL; /* the bundle owns it, or freed it */
    if (err) goto out;
    const char *meta = tsl_bundle_meta(b), *end = meta + tsl_bundle_meta_len(b);
    /* the metadata is mostly the baseline: scanned, not parsed whole (core/jscan.h) */
    if (tsl_jscan_member(meta, end, "baseline", &v, &vend) != 1 ||
        tsl_jscan_member(v, vend, "statistics", &st, &stend) != 1)
        goto out;
    err = tsl_baseline_from_json_items(st, (size_t)(stend - st), want, nwant, out, d);
out:
    tsl_bundle_free(b);
    return err;
}

/* Appends one drift datapoint (value NaN when fewer than the thresholds' min_count values). */
static void put_drift(tsl_store_datapoint **v, size_t *n, size_t *cap, const tsl_config_monitor *m,
                      const window *w, const char *item, const char *metric, double value,
                      size_t count) {
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 64;
        *v = tsl_reallocarray(*v, *cap, sizeof **v);
    }
    tsl_store_datapoint *p = &(*v)[(*n)++];
    memset(p, 0, sizeof *p);
    p->monitor = m->name;
    p->endpoint = m->endpoint;
    p->window = (char *)w->key;
    p->window_start = w->start;
    p->window_end = w->end;
    p->item = (char *)item;
    p->metric = (char *)metric;
    p->value = value;
    p->n = count;
}

/* Drift of window w's observations (every item, or m->item) against baseline b: per item and
 * pooled PSI, KS distance and central Wasserstein distance, and the share of items whose
 * verdict is DRIFT. */
static tsl_err drift_window(tsl_store *s, const tsl_config_monitor *m, const char *dataset,
                            const tsl_baseline *b, const window *w, const tsl_store_item *items,
                            size_t nitems, tsl_monitor_stats *st, tsl_diag *d) {
    tsl_drift_window *win = tsl_calloc(nitems + 1, sizeof *win);
    double **vals = tsl_calloc(nitems + 1, sizeof *vals);
    tsl_drift_report rep = {0};
    tsl_store_datapoint *dp = NULL;
    size_t nw = 0, ndp = 0, dpcap = 0;
    tsl_err err = TSL_OK;
    for (size_t i = 0; i < nitems; i++) {
        int64_t *t = NULL;
        double *v = NULL;
        size_t n = 0, k = 0;
        if (m->item && strcmp(items[i].item_id, m->item)) continue;
        if ((err = tsl_store_item_tail(s, dataset, items[i].item_id, w->start - 1, &t, &v, &n, d)))
            goto out;
        while (k < n && t[k] < w->end) k++;
        tsl_free(t);
        if (!k) {
            tsl_free(v);
            continue;
        }
        vals[nw] = v;
        win[nw++] = (tsl_drift_window){items[i].item_id, v, k};
    }
    if (!nw) goto out; /* no observation in the window */
    if ((err = tsl_drift_compute(b, win, nw, &m->drift, &rep, d))) goto out;
    size_t verdicts = 0;
    for (size_t i = 0; i < rep.nseries; i++) {
        const tsl_drift_result *r = &rep.series[i].result;
        int ok = r->count >= m->drift.min_count;
        verdicts += r->level != TSL_DRIFT_INSUFFICIENT;
        put_drift(&dp, &ndp, &dpcap, m, w, rep.series[i].item_id, "psi", ok ? r->psi : NAN,
                  r->count);
        put_drift(&dp, &ndp, &dpcap, m, w, rep.series[i].item_id, "ks", ok ? r->ks : NAN, r->count);
        put_drift(&dp, &ndp, &dpcap, m, w, rep.series[i].item_id, "wasserstein",
                  ok ? r->wasserstein_central : NAN, r->count);
    }
    if (!m->item) {
        const tsl_drift_result *r = &rep.overall;
        int ok = r->count >= m->drift.min_count;
        put_drift(&dp, &ndp, &dpcap, m, w, "", "psi", ok ? r->psi : NAN, r->count);
        put_drift(&dp, &ndp, &dpcap, m, w, "", "ks", ok ? r->ks : NAN, r->count);
        put_drift(&dp, &ndp, &dpcap, m, w, "", "wasserstein", ok ? r->wasserstein_central : NAN,
                  r->count);
        put_drift(&dp, &ndp, &dpcap, m, w, "", "share_drifted",
                  verdicts ? (double)rep.drifted / (double)verdicts : NAN, verdicts);
    }
    if ((err = tsl_store_datapoint_put(s, dp, ndp, d))) goto out;
    if (st) {
        st->windows++;
        st->datapoints += ndp;
    }
out:
    tsl_drift_report_release(&rep);
    for (size_t i = 0; i < nw; i++) tsl_free(vals[i]);
    tsl_free(vals);
    tsl_free(win);
    tsl_free(dp);
    return err;
}

tsl_err tsl_monitor_drift(tsl_store *s, const tsl_config_monitor *m, const char *dataset,
                          const tsl_store_point *touched, size_t ntouched, int64_t now_ms,
                          tsl_monitor_stats *st, tsl_diag *d) {
    tsl_store_deployment dep = {0};
    tsl_store_model model = {0};
    tsl_baseline *b = NULL;
    tsl_store_item *items = NULL;
    size_t nitems = 0, nw = 0, wcap = 0;
    window *wins = NULL;
    tsl_err err;
    assert(m->kind == TSL_MONITOR_DRIFT);
    if (TSL_DRIFT_STAT_IS_RESIDUAL(m->statistic))
        return tsl_monitor_residuals(s, m, dataset, touched, ntouched, now_ms, st, d);
    err = tsl_store_endpoint_get(s, m->endpoint, &dep, d);
    if (err == TSL_ENOTFOUND) {
        err = TSL_OK;
        goto out;
    }
    if (err || (err = tsl_store_model_get(s, dep.forecaster, dep.version, &model, d))) goto out;
    if (!model.dataset || (dataset && strcmp(dataset, model.dataset))) goto out;
    if ((err = tsl_monitor_load_baseline(s, dep.forecaster, dep.version, NULL, 0, &b, d)) || !b)
        goto out;
    for (size_t j = 0; j < ntouched; j++) {
        if (m->item && strcmp(touched[j].item, m->item)) continue;
        window w;
        time_window(m->window, touched[j].t, &w);
        add_window(&wins, &nw, &wcap, &w);
    }
    if (!nw) goto out;
    if ((err = tsl_store_item_list(s, model.dataset, &items, &nitems, d))) goto out;
    for (size_t i = 0; i < nw; i++)
        if ((err = drift_window(s, m, model.dataset, b, &wins[i], items, nitems, st, d))) goto out;
    err = tsl_monitor_alarm(s, m, now_ms, NULL, d);
    if (!err && st) st->alarms++;
out:
    tsl_free(wins);
    tsl_store_item_list_free(items, nitems);
    tsl_baseline_free(b);
    tsl_store_model_release(&model);
    tsl_store_deployment_release(&dep);
    return err;
}

/* ---- following the event log ---- */

/* The ingest id and data set of a dataset.ingested payload; 0 when it has none. */
static int64_t ingest_of(const char *payload, char *dataset, size_t cap) {
    json_t *j = json_loads(payload, 0, NULL);
    int64_t id = 0;
    const char *ds = json_string_value(json_object_get(j, "dataset"));
    if (j && json_is_integer(json_object_get(j, "ingest")) && ds) {
        id = json_integer_value(json_object_get(j, "ingest"));
        snprintf(dataset, cap, "%s", ds);
    }
    json_decref(j);
    return id;
}

tsl_err tsl_monitor_follow(tsl_store *s, const tsl_config *cfg, size_t limit, int64_t now_ms,
                           tsl_monitor_stats *st, tsl_diag *d) {
    tsl_store_event *ev = NULL;
    size_t nev = 0;
    int64_t cursor = 0;
    tsl_err err;
    if ((err = tsl_store_cursor_get(s, TSL_MONITOR_CURSOR, &cursor, d))) return err;
    if ((err = tsl_store_event_list(s, cursor, limit, &ev, &nev, d))) return err;
    for (size_t i = 0; i < nev; i++) {
        char dataset[TSL_STORE_NAME_MAX + 1];
        int64_t ingest = 0;
        if (!strcmp(ev[i].type, "dataset.ingested"))
            ingest = ingest_of(ev[i].payload, dataset, sizeof dataset);
        if (ingest > 0) {
            tsl_store_point *pts = NULL;
            size_t npts = 0;
            if ((err = tsl_store_ingest_points(s, ingest, &pts, &npts, d))) goto out;
            for (size_t k = 0; !err && k < cfg->nmonitors; k++)
                if (cfg->monitors[k].kind == TSL_MONITOR_ACCURACY)
                    err = tsl_monitor_evaluate(s, &cfg->monitors[k], dataset, pts, npts, now_ms, st,
                                               d);
                else if (cfg->monitors[k].kind == TSL_MONITOR_DRIFT)
                    err =
                        tsl_monitor_drift(s, &cfg->monitors[k], dataset, pts, npts, now_ms, st, d);
                else if (cfg->monitors[k].kind == TSL_MONITOR_QUALITY)
                    err = tsl_monitor_quality(s, cfg, &cfg->monitors[k], dataset, ingest, pts, npts,
                                              now_ms, st, d);
            tsl_store_point_list_free(pts, npts);
            if (err) goto out;
            if (st) st->events++;
            if ((err = tsl_store_cursor_set(s, TSL_MONITOR_CURSOR, ev[i].id, d))) goto out;
        }
    }
    /* past the events that were not for the evaluator, in one write */
    if (nev && (err = tsl_store_cursor_set(s, TSL_MONITOR_CURSOR, ev[nev - 1].id, d))) goto out;
out:
    tsl_store_event_list_free(ev, nev);
    return err;
}
