/*
 * residuals.c - the residual detectors of drift monitors (statistic cusum or page_hinkley):
 * the deployed model's one-step-ahead errors, as actuals arrive, fed to a CUSUM (Page 1954)
 * or Page-Hinkley (Page 1954; Hinkley 1971) detector per item, whose signals become the
 * monitor's datapoints (include/tsloop/monitor.h states the contract; docs/monitoring.md,
 * "Residual detectors", the user's view).
 *
 * Design. Which residual is "one step ahead". For an actual y at time t of an item, the
 * forecast counted is the deployed version's capture for target t with the latest origin
 * strictly before t (ties to the later capture): the shortest lead the deployment produced
 * for that time. With a run per data period it is step 1; with day-ahead runs (one run in
 * the morning for all of tomorrow's hours) every hour of the day takes that run's forecast,
 * the first run that could have known the most, and there is no shorter lead to take. The
 * residual is y minus the capture's mean. Captures of other versions are not the deployed
 * model's errors and are skipped.
 *
 * Scale. Both detectors work in units of sigma, the deployed version's backtest residual
 * standard deviation for the item. The registry holds, per series, the backtest score in the
 * selection metric (models.choices items.ITEM.score) and, pooled, the nested evaluation's
 * RMSE (models.metrics auto.rmse). sigma is the score when the metric is rmse; for mae and
 * mase (MAE over the seasonal naive in-sample MAE of the history up to the series' end, as
 * the engine scales it) the MAE times sqrt(pi/2), the ratio of sd to mean absolute deviation
 * of a normal error; for any other metric the pooled RMSE when the version has one series,
 * and otherwise nothing: an item without a sigma has no detector (no datapoint), since an
 * RMSE pooled over series of different scales would make the detector meaningless.
 *
 * Streaming and idempotence. A detector is a running state, not a window statistic: it
 * cannot be recomputed from scratch cheaply and must never see a residual twice. The state
 * per (monitor, endpoint, item) is kept in the store with the target time of the last
 * residual fed (last_t); an evaluation feeds, in time order, the item's actuals after last_t
 * that have a forecast, and writes the new state and the datapoints in one transaction. So
 * evaluating again after the same ingest feeds nothing; an actual that arrives late, before
 * last_t, and a correction of an already fed actual are not fed (the detector's sum already
 * holds the old residual and a sequential test has no way to take it back); the accuracy
 * monitors, which recompute windows, do reflect them. After a signal the detector is reset,
 * so the next signal needs fresh evidence. A new deployed version starts a fresh state (its
 * sigma and its errors are its own) but keeps last_t.
 *
 * Datapoints. For each day or hour window holding a fed residual: per item 1 when its
 * detector signalled on a residual of the window, else 0 (a window fed in several
 * evaluations keeps its 1: the value is the maximum, n counts the residuals); and, for a
 * monitor over all items, the share of items with a datapoint in the window whose value is 1.
 */
#include <assert.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsloop/drift.h"
#include "tsloop/mem.h"
#include "tsloop/metrics.h"
#include "tsloop/monitor.h"
#include "tsloop/time.h"

/* sqrt(pi / 2): sd over mean absolute deviation of a zero-mean normal. */
#define SD_PER_MAD 1.2533141373155003

/* One forecast of the item: the one-step-ahead candidate for its target. */
typedef struct fc {
    int64_t target, origin, id;
    double mean;
} fc;

/* Target ascending, then the preferred forecast first: latest origin, then latest capture. */
static int cmp_fc(const void *pa, const void *pb) {
    const fc *a = pa, *b = pb;
    if (a->target != b->target) return a->target < b->target ? -1 : 1;
    if (a->origin != b->origin) return a->origin > b->origin ? -1 : 1;
    return a->id > b->id ? -1 : a->id < b->id;
}

/* The deployed model's one-step-ahead forecast per target of item, target ascending, one
 * per target. *out freed with tsl_free. */
static void item_forecasts(const tsl_store_capture *caps, size_t ncaps, int64_t model_id,
                           const char *item, fc **out, size_t *nout) {
    fc *v = NULL;
    size_t n = 0, cap = 0, k = 0;
    for (size_t i = 0; i < ncaps; i++) {
        const tsl_store_capture *c = &caps[i];
        if (c->model_id != model_id || strcmp(c->item, item)) continue;
        for (size_t j = 0; j < c->steps; j++) {
            if (c->targets[j] <= c->origin || !isfinite(c->mean[j])) continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 64;
                v = tsl_reallocarray(v, cap, sizeof *v);
            }
            v[n++] = (fc){c->targets[j], c->origin, c->id, c->mean[j]};
        }
    }
    if (n) qsort(v, n, sizeof *v, cmp_fc);
    for (size_t i = 0; i < n; i++)
        if (!k || v[k - 1].target != v[i].target) v[k++] = v[i];
    *out = v;
    *nout = k;
}

/* ---- sigma ---- */

/* The item's backtest residual sd under the version (metrics, choices), NaN when it cannot
 * be known; the design note above says how. The item's history is read only for mase. */
static tsl_err item_sigma(tsl_store *s, const char *dataset, int period, json_t *metrics,
                          json_t *choices, const char *item, double *sigma, tsl_diag *d) {
    const char *metric = json_string_value(json_object_get(metrics, "metric"));
    json_t *it = json_object_get(json_object_get(choices, "items"), item);
    json_t *score = json_object_get(it, "score");
    double sc = json_is_number(score) ? json_number_value(score) : NAN;
    int64_t *t = NULL;
    double *v = NULL;
    size_t n = 0;
    tsl_err err = TSL_OK;
    *sigma = NAN;
    if (metric && !strcmp(metric, "rmse")) {
        *sigma = sc;
    } else if (metric && !strcmp(metric, "mae")) {
        *sigma = sc * SD_PER_MAD;
    } else if (metric && !strcmp(metric, "mase") && isfinite(sc)) {
        json_t *end = json_object_get(it, "end");
        if (!json_is_integer(end)) goto out;
        if ((err = tsl_store_item_tail(s, dataset, item, INT64_MIN, &t, &v, &n, d))) goto out;
        size_t upto = 0;
        int64_t e = (int64_t)json_integer_value(end);
        while (upto < n && t[upto] <= e) upto++;
        *sigma = sc * tsl_mase_scale(v, upto, period) * SD_PER_MAD;
    }
    if (!(isfinite(*sigma) && *sigma > 0)) {
        json_t *rmse = json_object_get(json_object_get(metrics, "auto"), "rmse");
        json_t *series = json_object_get(metrics, "series");
        *sigma = json_is_integer(series) && json_integer_value(series) == 1 && json_is_number(rmse)
                     ? json_number_value(rmse)
                     : NAN;
    }
    if (!(isfinite(*sigma) && *sigma > 0)) *sigma = NAN;
out:
    tsl_free(t);
    tsl_free(v);
    return err;
}

/* ---- detector state ---- */

/* A detector of either kind. */
typedef struct detector {
    int cusum;
    tsl_cusum c;
    tsl_page_hinkley p;
} detector;

static double num(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static uint64_t count(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

/* A detector for monitor m at sigma, its state from text (NULL: a reset one). A state that
 * does not parse, or holds non-finite sums, is a reset one: the store's text is ours, so
 * that happens only after a hand edit, and starting afresh is the safe reading. */
static tsl_err detector_load(const tsl_config_monitor *m, double sigma, const char *text,
                             detector *x, tsl_diag *d) {
    tsl_err err;
    memset(x, 0, sizeof *x);
    x->cusum = m->statistic == TSL_DRIFT_STAT_CUSUM;
    if (x->cusum)
        err = tsl_cusum_init(&x->c, 0, sigma, m->detector.k, m->detector.h, d);
    else
        err = tsl_page_hinkley_init(&x->p, sigma, m->detector.delta, m->detector.lambda,
                                    (uint64_t)m->detector.min_n, d);
    if (err || !text) return err;
    json_t *o = json_loads(text, 0, NULL);
    if (!o) return TSL_OK;
    if (x->cusum) {
        double hi = num(o, "hi"), lo = num(o, "lo");
        if (isfinite(hi) && isfinite(lo) && hi >= 0 && lo >= 0) {
            x->c.hi = hi;
            x->c.lo = lo;
            x->c.n = count(o, "n");
            x->c.hi_start = count(o, "hi_start");
            x->c.lo_start = count(o, "lo_start");
        }
    } else {
        double mean = num(o, "mean"), up = num(o, "up"), up_min = num(o, "up_min");
        double down = num(o, "down"), down_max = num(o, "down_max");
        if (isfinite(mean) && isfinite(up) && isfinite(up_min) && isfinite(down) &&
            isfinite(down_max)) {
            x->p.mean = mean;
            x->p.up = up;
            x->p.up_min = up_min;
            x->p.down = down;
            x->p.down_max = down_max;
            x->p.n = count(o, "n");
        }
    }
    json_decref(o);
    return TSL_OK;
}

/* The state as JSON text (new; tsl_free). Parameters are not stored: they come from the
 * monitor and the version at each evaluation. */
static char *detector_dump(const detector *x) {
    json_t *o = json_object();
    if (x->cusum) {
        json_object_set_new(o, "kind", json_string("cusum"));
        json_object_set_new(o, "hi", json_real(x->c.hi));
        json_object_set_new(o, "lo", json_real(x->c.lo));
        json_object_set_new(o, "n", json_integer((json_int_t)x->c.n));
        json_object_set_new(o, "hi_start", json_integer((json_int_t)x->c.hi_start));
        json_object_set_new(o, "lo_start", json_integer((json_int_t)x->c.lo_start));
    } else {
        json_object_set_new(o, "kind", json_string("page_hinkley"));
        json_object_set_new(o, "mean", json_real(x->p.mean));
        json_object_set_new(o, "up", json_real(x->p.up));
        json_object_set_new(o, "up_min", json_real(x->p.up_min));
        json_object_set_new(o, "down", json_real(x->p.down));
        json_object_set_new(o, "down_max", json_real(x->p.down_max));
        json_object_set_new(o, "n", json_integer((json_int_t)x->p.n));
    }
    char *j = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    char *out = tsl_strdup(j);
    free(j);
    return out;
}

/* Feeds residual r; returns the signal (+1, -1, 0) and resets after one. */
static int detector_feed(detector *x, double r) {
    int sig;
    if (x->cusum) {
        sig = tsl_cusum_update(&x->c, r);
        if (sig) tsl_cusum_reset(&x->c);
    } else {
        sig = tsl_page_hinkley_update(&x->p, r);
        if (sig) tsl_page_hinkley_reset(&x->p);
    }
    return sig;
}

/* ---- windows and datapoints ---- */

/* One window's outcome for one item in this evaluation. */
typedef struct hit {
    const char *item; /* borrowed */
    int64_t start, end;
    char key[64];
    uint64_t n;    /* residuals fed */
    int signalled; /* a signal on one of them */
} hit;

/* The day or hour window of t: start, end and key as the accuracy monitors name them. */
static void window_of(tsl_window_kind k, int64_t t, hit *h) {
    int64_t len = k == TSL_WINDOW_HOUR ? 3600 : 86400;
    int64_t q = t / len;
    if (t % len && t < 0) q--;
    char buf[64];
    h->start = q * len;
    h->end = h->start + len;
    tsl_time_format(h->start, k != TSL_WINDOW_HOUR, buf, sizeof buf);
    if (k == TSL_WINDOW_HOUR && strlen(buf) > 13) buf[13] = '\0'; /* "YYYY-MM-DDTHH" */
    snprintf(h->key, sizeof h->key, "%s", buf);
}

/* The item's hit for window of t, appended when new. */
static hit *hit_get(hit **v, size_t *n, size_t *cap, const tsl_config_monitor *m, const char *item,
                    int64_t t) {
    hit h;
    memset(&h, 0, sizeof h);
    window_of(m->window, t, &h);
    h.item = item;
    for (size_t i = *n; i-- > 0;)
        if ((*v)[i].start == h.start && !strcmp((*v)[i].item, item)) return &(*v)[i];
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 16;
        *v = tsl_reallocarray(*v, *cap, sizeof **v);
    }
    (*v)[*n] = h;
    return &(*v)[(*n)++];
}

/* The datapoints of the hits: per item merged with what the window already holds, and per
 * window the share over items (monitor over all items only). */
static tsl_err hits_datapoints(tsl_store *s, const tsl_config_monitor *m, const hit *hits,
                               size_t nh, tsl_store_datapoint **out, size_t *nout, tsl_diag *d) {
    const char *metric = tsl_monitor_metric_name(m);
    tsl_store_datapoint *dp = NULL;
    size_t n = 0, cap = 0;
    tsl_err err = TSL_OK;
    for (size_t i = 0; i < nh; i++) {
        /* one pass per window: its first hit */
        int first = 1;
        for (size_t j = 0; j < i && first; j++) first = hits[j].start != hits[i].start;
        if (!first) continue;
        tsl_store_datapoint_query q;
        tsl_store_datapoint *cur = NULL;
        size_t ncur = 0;
        tsl_store_datapoint_query_init(&q);
        q.monitor = m->name;
        q.window = hits[i].key;
        q.metric = metric;
        q.item = NULL;
        q.step = 0;
        if ((err = tsl_store_datapoint_list(s, &q, &cur, &ncur, d))) goto out;
        size_t items = 0, signalled = 0;
        /* stored items this evaluation did not touch */
        for (size_t k = 0; k < ncur; k++) {
            if (!cur[k].item[0]) continue;
            int touched = 0;
            for (size_t j = i; j < nh && !touched; j++)
                touched = hits[j].start == hits[i].start && !strcmp(hits[j].item, cur[k].item);
            if (touched) continue;
            items++;
            signalled += cur[k].value > 0;
        }
        /* the touched items, merged with their stored datapoint */
        for (size_t j = i; j < nh; j++) {
            if (hits[j].start != hits[i].start) continue;
            double old = 0;
            uint64_t oldn = 0;
            for (size_t k = 0; k < ncur; k++)
                if (!strcmp(cur[k].item, hits[j].item)) {
                    old = isfinite(cur[k].value) ? cur[k].value : 0;
                    oldn = cur[k].n;
                }
            double val = hits[j].signalled || old > 0 ? 1.0 : 0.0;
            if (n == cap) {
                cap = cap ? 2 * cap : 32;
                dp = tsl_reallocarray(dp, cap, sizeof *dp);
            }
            tsl_store_datapoint *p = &dp[n++];
            memset(p, 0, sizeof *p);
            p->monitor = m->name;
            p->endpoint = m->endpoint;
            p->window = (char *)hits[j].key;
            p->window_start = hits[j].start;
            p->window_end = hits[j].end;
            p->item = (char *)hits[j].item;
            p->metric = (char *)metric;
            p->value = val;
            p->n = oldn + hits[j].n;
            items++;
            signalled += val > 0;
        }
        tsl_store_datapoint_list_free(cur, ncur);
        if (m->item) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 32;
            dp = tsl_reallocarray(dp, cap, sizeof *dp);
        }
        tsl_store_datapoint *p = &dp[n++];
        memset(p, 0, sizeof *p);
        p->monitor = m->name;
        p->endpoint = m->endpoint;
        p->window = (char *)hits[i].key;
        p->window_start = hits[i].start;
        p->window_end = hits[i].end;
        p->item = "";
        p->metric = (char *)metric;
        p->value = items ? (double)signalled / (double)items : NAN;
        p->n = items;
    }
out:
    if (err) {
        tsl_free(dp);
        dp = NULL;
        n = 0;
    }
    *out = dp;
    *nout = n;
    return err;
}

/* ---- the evaluation ---- */

/* Appends item to the list unless listed. */
static void add_item(const char ***v, size_t *n, size_t *cap, const char *item) {
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*v)[i], item)) return;
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 16;
        *v = tsl_reallocarray(*v, *cap, sizeof **v);
    }
    (*v)[(*n)++] = item;
}

/* The stored state of item among states[0..n), NULL for none. */
static const tsl_store_detector *state_of(const tsl_store_detector *states, size_t n,
                                          const char *item) {
    for (size_t k = 0; k < n; k++)
        if (!strcmp(states[k].item, item)) return &states[k];
    return NULL;
}

/* One attempt of tsl_monitor_residuals; TSL_ECONFLICT when another evaluator wrote a state
 * in between (nothing written). */
static tsl_err residuals_once(tsl_store *s, const tsl_config_monitor *m, const char *dataset,
                              const tsl_store_point *touched, size_t ntouched, int64_t now_ms,
                              tsl_monitor_stats *st, tsl_diag *d) {
    tsl_store_deployment dep = {0};
    tsl_store_model model = {0};
    tsl_store_dataset ds = {0};
    tsl_store_capture *caps = NULL;
    tsl_store_detector *states = NULL, *next = NULL;
    tsl_store_datapoint *dp = NULL;
    size_t ncaps = 0, nstates = 0, nnext = 0, nitems = 0, icap = 0, nh = 0, hcap = 0, ndp = 0;
    const char **items = NULL;
    hit *hits = NULL;
    double *sigmas = NULL; /* nitems: each item's sigma, NaN for none */
    json_t *metrics = NULL, *choices = NULL;
    tsl_err err;
    assert(m->kind == TSL_MONITOR_DRIFT && TSL_DRIFT_STAT_IS_RESIDUAL(m->statistic));
    err = tsl_store_endpoint_get(s, m->endpoint, &dep, d);
    if (err == TSL_ENOTFOUND) {
        err = TSL_OK; /* nothing deployed yet: no residuals */
        goto out;
    }
    if (err || (err = tsl_store_model_get(s, dep.forecaster, dep.version, &model, d))) goto out;
    if (!model.dataset || (dataset && strcmp(dataset, model.dataset))) goto out;
    if ((err = tsl_store_dataset_get(s, model.dataset, &ds, d))) goto out;
    metrics = model.metrics ? json_loads(model.metrics, 0, NULL) : NULL;
    choices = model.choices ? json_loads(model.choices, 0, NULL) : NULL;
    int period = tsl_freq_default_period(ds.freq);
    if (period < 1) period = 1;
    if (touched) {
        /* Driven by an ingest: the touched items, and only the captures that can hold a
         * forecast an item will be fed - a target after the item's last_t. Every such
         * capture's latest target is past the least last_t of the items that have a detector,
         * so the span from there on holds every candidate of every fed target, and the
         * one-step-ahead pick (item_forecasts) is the one the full history would give. Items
         * without a sigma have no detector and do not widen the read; an item's first
         * evaluation (no state: last_t unbounded) reads its endpoint's whole history, once. */
        for (size_t j = 0; j < ntouched; j++)
            if (!m->item || !strcmp(touched[j].item, m->item))
                add_item(&items, &nitems, &icap, touched[j].item);
        if (!nitems) goto out;
        if ((err = tsl_store_detector_list(s, m->name, m->endpoint, &states, &nstates, d)))
            goto out;
        sigmas = tsl_calloc(nitems, sizeof *sigmas);
        int any = 0;
        int64_t from = INT64_MAX;
        for (size_t i = 0; i < nitems; i++) {
            if ((err = item_sigma(s, model.dataset, period, metrics, choices, items[i], &sigmas[i],
                                  d)))
                goto out;
            if (!isfinite(sigmas[i])) continue;
            const tsl_store_detector *old = state_of(states, nstates, items[i]);
            int64_t last_t = old ? old->last_t : INT64_MIN;
            if (last_t < from) from = last_t;
            any = 1;
        }
        if (!any) goto out;
        if ((err = tsl_store_capture_span(s, m->endpoint, 0, from, INT64_MAX, &caps, &ncaps, d)))
            goto out;
    } else {
        if ((err = tsl_store_capture_list(s, m->endpoint, NULL, 0, 0, &caps, &ncaps, d))) goto out;
        for (size_t i = 0; i < ncaps; i++)
            if (caps[i].model_id == dep.model_id && (!m->item || !strcmp(caps[i].item, m->item)))
                add_item(&items, &nitems, &icap, caps[i].item);
        if (!nitems) goto out;
        if ((err = tsl_store_detector_list(s, m->name, m->endpoint, &states, &nstates, d)))
            goto out;
        sigmas = tsl_calloc(nitems, sizeof *sigmas);
        for (size_t i = 0; i < nitems; i++)
            if ((err = item_sigma(s, model.dataset, period, metrics, choices, items[i], &sigmas[i],
                                  d)))
                goto out;
    }
    next = tsl_calloc(nitems, sizeof *next);

    for (size_t i = 0; i < nitems; i++) {
        const char *item = items[i];
        const tsl_store_detector *old = state_of(states, nstates, item);
        int same = old && !strcmp(old->forecaster, dep.forecaster) && old->version == dep.version;
        double sigma = sigmas[i];
        if (!isfinite(sigma)) continue; /* no scale: no detector (design note) */
        detector x;
        if ((err = detector_load(m, sigma, same ? old->state : NULL, &x, d))) goto out;
        int64_t last_t = old ? old->last_t : INT64_MIN;
        uint64_t fed = same ? old->fed : 0, signals = same ? old->signals : 0, before = fed;

        fc *f = NULL;
        size_t nf = 0, n = 0;
        int64_t *t = NULL;
        double *y = NULL;
        item_forecasts(caps, ncaps, dep.model_id, item, &f, &nf);
        if (nf) err = tsl_store_item_tail(s, model.dataset, item, last_t, &t, &y, &n, d);
        for (size_t a = 0, b = 0; !err && a < n; a++) {
            if (!isfinite(y[a])) continue;
            while (b < nf && f[b].target < t[a]) b++;
            if (b == nf) break;
            if (f[b].target != t[a]) continue; /* no forecast for this time */
            int sig = detector_feed(&x, y[a] - f[b].mean);
            hit *h = hit_get(&hits, &nh, &hcap, m, item, t[a]);
            h->n++;
            if (sig) h->signalled = 1, signals++;
            fed++;
            last_t = t[a];
        }
        tsl_free(f);
        tsl_free(t);
        tsl_free(y);
        if (err) goto out;
        if (fed == before && same) continue; /* nothing new: the stored state stands */
        tsl_store_detector *p = &next[nnext++];
        p->monitor = m->name;
        p->endpoint = m->endpoint;
        p->item = (char *)item;
        p->forecaster = dep.forecaster;
        p->version = dep.version;
        p->last_t = last_t;
        p->fed = fed;
        p->signals = signals;
        p->state = detector_dump(&x);
        p->expect_last_t = old ? old->last_t : INT64_MIN;
    }
    if (!nnext) goto out;
    if ((err = hits_datapoints(s, m, hits, nh, &dp, &ndp, d))) goto out;
    if ((err = tsl_store_detector_put(s, next, nnext, dp, ndp, d))) goto out;
    if (st) {
        for (size_t i = 0; i < nh; i++) {
            int first = 1;
            for (size_t j = 0; j < i && first; j++) first = hits[j].start != hits[i].start;
            st->windows += (uint64_t)first;
        }
        st->datapoints += ndp;
    }
    if (ndp) {
        err = tsl_monitor_alarm(s, m, now_ms, NULL, d);
        if (!err && st) st->alarms++;
    }
out:
    for (size_t i = 0; i < nnext; i++) tsl_free(next[i].state);
    tsl_free(next);
    tsl_free(dp);
    tsl_free(hits);
    tsl_free(items);
    tsl_free(sigmas);
    json_decref(metrics);
    json_decref(choices);
    tsl_store_detector_list_free(states, nstates);
    tsl_store_capture_list_free(caps, ncaps);
    tsl_store_dataset_release(&ds);
    tsl_store_model_release(&model);
    tsl_store_deployment_release(&dep);
    return err;
}

tsl_err tsl_monitor_residuals(tsl_store *s, const tsl_config_monitor *m, const char *dataset,
                              const tsl_store_point *touched, size_t ntouched, int64_t now_ms,
                              tsl_monitor_stats *st, tsl_diag *d) {
    tsl_err err;
    /* the loser of a race reads the winner's states and finds nothing left to feed */
    for (int attempt = 0;; attempt++) {
        err = residuals_once(s, m, dataset, touched, ntouched, now_ms, st, d);
        if (err != TSL_ECONFLICT || attempt == 5) return err;
    }
}
