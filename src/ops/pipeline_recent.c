/*
 * pipeline_recent.c - champion against challenger on recent ground truth, part of the compare
 * step: the challenger is scored at the very forecast origins where the deployed champion's
 * forecasts were served and captured, on the same items and target times, against the actual
 * values that have arrived since.
 *
 * The backtest comparison of compare (pipeline_train.c) answers "which model fits this
 * history better"; this one answers the question an alarm raises: "would the new version have
 * done better than the live one on what just happened?". It is the evaluation the seeds run by
 * hand on a holdout after retraining, done on the data the live model was actually judged on.
 *
 * Which champion: the version currently deployed on an endpoint serving the group's registry
 * entry (the most recently deployed one when several endpoints serve it). Which forecasts:
 * the captures of that endpoint made by that version (serving.c), deduplicated by (item,
 * origin), whose items are in the snapshot and at least one of whose target times has an
 * observed actual in it; of their distinct origins the latest `compare.windows` are kept.
 * The champion's forecasts are the captured means, exactly as served; the challenger's come
 * from its chosen model of the item (tsl_model_chosen_spec: the form and orders AutoML chose,
 * without searching again; a fixed combination's members each refitted and combined) refitted
 * on the item's history up to and including the origin - never a value after it - and
 * forecast over the capture's steps. Both are scored on the same points (targets with an
 * actual, where both forecast), per (item, origin) with the MASE scale of the history before
 * the origin, aggregated as AutoML aggregates series (tsl_agg), by the forecaster's
 * compare.metric. Items whose challenger cannot be refitted there (too short, a per-series
 * top-k combination) are left out for both, and counted.
 *
 * It is pure computation over the snapshot and a read of captures, so the compare step stays
 * crash-safe as it was: its output is written once with the step's end, and a resumed
 * execution runs it again on the same snapshot with the same result (captures added since
 * may add origins: the comparison then reflects the newer ground truth, which is what it is
 * for).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/pipeline_impl.h"
#include "tsloop/mem.h"
#include "tsloop/metrics.h"
#include "tsloop/model.h"
#include "tsloop/pool.h"
#include "tsloop/time.h"

#define PAGE 5000

/* One captured forecast to score: the champion's, and what the challenger does there. */
typedef struct pair {
    const tsl_store_capture *cap;
    long series; /* index in the snapshot */
    const char *choice;
    /* Results (filled by the pool task). */
    int ok;
    tsl_acc champ, chall;
    double scale;
    size_t points;
} pair;

typedef struct pair_ctx {
    const tsl_dataset *ds;
    const tsl_bundle *bundle;
    int period;
    int use_q; /* score quantiles too (the metric needs them) */
    pair *p;
} pair_ctx;

/* The challenger's point forecast of h steps from y[0..n) into mean: its chosen model of
 * item refitted; 0 when it cannot be. A single model whose chosen form or orders do not fit
 * this history (AutoML chose them on its last history_cap values, and an older zero rules out
 * a multiplicative ETS error, say) is refitted by its own spec, searching as AutoML did. */
static int challenger_forecast(const pair_ctx *x, const pair *pr, const double *y, size_t n,
                               size_t h, const double *levels, size_t nq, double *mean,
                               double *quant) {
    long at = tsl_bundle_find(x->bundle, pr->cap->item);
    if (at < 0) return 0;
    tsl_model *fitted = NULL, *m = NULL;
    if (tsl_bundle_load(x->bundle, (size_t)at, &m, NULL)) return 0;
    tsl_model_spec spec[TSL_PL_MAX_MEMBERS], own = *tsl_model_spec_of(m);
    size_t k = 0;
    int median = 0, ok = 0;
    if (tsl_model_kind_of(m) != TSL_MODEL_ENSEMBLE) {
        tsl_model_chosen_spec(m, &spec[0]);
        k = 1;
    } else if (pr->choice) {
        k = tsl_pl_choice_members(pr->choice, x->period, spec, &median);
    }
    tsl_model_free(m);
    if (k == 0) return 0;
    tsl_model *members[TSL_PL_MAX_MEMBERS];
    size_t fitted_n = 0;
    for (; fitted_n < k; fitted_n++)
        if (tsl_model_fit(&spec[fitted_n], y, n, &members[fitted_n], NULL) &&
            (k > 1 || tsl_model_fit(&own, y, n, &members[fitted_n], NULL)))
            break;
    if (fitted_n == k) {
        if (k == 1) {
            ok = !tsl_model_forecast(members[0], h, levels, nq, mean, quant, NULL);
        } else {
            fitted_n = 0; /* the ensemble owns them now, even when it fails */
            if (!tsl_model_ensemble(members, NULL, k, median, &fitted, NULL))
                ok = !tsl_model_forecast(fitted, h, levels, nq, mean, quant, NULL);
        }
    }
    for (size_t i = 0; i < fitted_n; i++) tsl_model_free(members[i]);
    tsl_model_free(fitted);
    return ok;
}

/* Pool task: the challenger at one captured origin, and both accumulators. */
static void score_pair(void *ctx, size_t i, int worker) {
    (void)worker;
    pair_ctx *x = ctx;
    pair *pr = &x->p[i];
    const tsl_store_capture *c = pr->cap;
    const tsl_series *s = &x->ds->series[pr->series];
    tsl_freq f = x->ds->freq;
    int64_t k = 0;
    pr->ok = 0;
    if (tsl_freq_steps(f, s->start, c->origin, &k) || k < 0 || (size_t)k >= s->n) return;
    size_t n = (size_t)k + 1, h = c->steps, nq = x->use_q ? c->nq : 0;
    double *mean = tsl_calloc(h, sizeof *mean);
    double *quant = nq ? tsl_calloc(h * nq, sizeof *quant) : NULL;
    double *ys = tsl_calloc(h, sizeof *ys), *fa = tsl_calloc(h, sizeof *fa);
    double *fb = tsl_calloc(h, sizeof *fb);
    double *qa = nq ? tsl_calloc(h * nq, sizeof *qa) : NULL;
    double *qb = nq ? tsl_calloc(h * nq, sizeof *qb) : NULL;
    if (!challenger_forecast(x, pr, s->y, n, h, c->levels, nq, mean, quant)) goto out;
    size_t m = 0;
    for (size_t j = 0; j < h; j++) {
        int64_t t = 0;
        if (tsl_freq_steps(f, s->start, c->targets[j], &t) || t <= k || (size_t)t >= s->n) continue;
        double y = s->y[t];
        if (isnan(y) || !isfinite(c->mean[j]) || !isfinite(mean[j])) continue;
        ys[m] = y;
        fa[m] = c->mean[j];
        fb[m] = mean[j];
        for (size_t q = 0; q < nq; q++) {
            qa[m * nq + q] = c->quant[j * nq + q];
            qb[m * nq + q] = quant[j * nq + q];
        }
        m++;
    }
    if (m == 0) goto out;
    memset(&pr->champ, 0, sizeof pr->champ);
    memset(&pr->chall, 0, sizeof pr->chall);
    if (tsl_acc_add(&pr->champ, ys, fa, qa, c->levels, nq, m, NULL) ||
        tsl_acc_add(&pr->chall, ys, fb, qb, c->levels, nq, m, NULL))
        goto out;
    pr->scale = tsl_mase_scale(s->y, n, x->period);
    pr->points = m;
    pr->ok = 1;
out:
    tsl_free(mean);
    tsl_free(quant);
    tsl_free(ys);
    tsl_free(fa);
    tsl_free(fb);
    tsl_free(qa);
    tsl_free(qb);
}

/* The current deployment serving entry (the most recent when several do); *found 0: none. */
static tsl_err find_champion(tsl_store *s, const char *entry, tsl_store_deployment *out, int *found,
                             tsl_diag *d) {
    tsl_store_deployment *list = NULL;
    size_t n = 0;
    *found = 0;
    tsl_err rc = tsl_store_endpoint_list(s, &list, &n, d);
    if (rc) return rc;
    size_t best = n;
    for (size_t i = 0; i < n; i++)
        if (list[i].forecaster && !strcmp(list[i].forecaster, entry) &&
            (best == n || list[i].at_ms > list[best].at_ms))
            best = i;
    if (best < n) {
        *out = list[best];
        memset(&list[best], 0, sizeof list[best]);
        *found = 1;
    }
    tsl_store_deployment_list_free(list, n);
    return TSL_OK;
}

/* 1 when capture c has a target with an observed actual in the snapshot's series si. */
static int has_actual(const tsl_dataset *ds, long si, const tsl_store_capture *c) {
    const tsl_series *s = &ds->series[si];
    for (size_t j = 0; j < c->steps; j++) {
        int64_t t = 0;
        if (!tsl_freq_steps(ds->freq, s->start, c->targets[j], &t) && t >= 0 && (size_t)t < s->n &&
            !isnan(s->y[t]))
            return 1;
    }
    return 0;
}

static int cmp_desc(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The oldest of the latest `windows` distinct origins of kept[0..n) (INT64_MAX when n is 0). */
static int64_t cutoff(const tsl_store_capture *kept, size_t n, int windows) {
    int64_t since = INT64_MAX;
    if (!n) return since;
    int64_t *origins = tsl_calloc(n, sizeof *origins);
    for (size_t i = 0; i < n; i++) origins[i] = kept[i].origin;
    qsort(origins, n, sizeof *origins, cmp_desc);
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || origins[i] != origins[i - 1]) {
            if (++distinct > (size_t)windows) break;
            since = origins[i];
        }
    tsl_free(origins);
    return since;
}

/* The captures of deployment dp's version that have an actual and belong to the latest
 * `windows` distinct origins, into *caps (with their series in *series), and the oldest of
 * those origins into *since. Captures are read a page at a time and those of older origins
 * dropped after each page, so memory follows the windows kept, not the endpoint's history. */
static tsl_err gather(pl_ctx *c, const tsl_store_deployment *dp, int windows,
                      tsl_store_capture **caps, long **series, size_t *ncaps, int64_t *since,
                      tsl_diag *d) {
    tsl_store_capture *kept = NULL, *page = NULL;
    long *where = NULL;
    size_t nkept = 0, cap = 0, n = 0;
    int64_t after = 0;
    tsl_err rc = TSL_OK;
    for (;;) {
        if ((rc = tsl_store_capture_list(c->s, dp->endpoint, NULL, after, PAGE, &page, &n, d)))
            goto out;
        for (size_t i = 0; i < n; i++) {
            tsl_store_capture *x = &page[i];
            after = x->id;
            if (x->model_id != dp->model_id) continue;
            long si = tsl_dataset_find(c->ds, x->item);
            if (si < 0 || !has_actual(c->ds, si, x)) continue;
            if (nkept == cap) {
                cap = cap ? 2 * cap : 64;
                kept = tsl_reallocarray(kept, cap, sizeof *kept);
                where = tsl_reallocarray(where, cap, sizeof *where);
            }
            kept[nkept] = *x;
            where[nkept++] = si;
            memset(x, 0, sizeof *x);
        }
        tsl_store_capture_list_free(page, n);
        page = NULL;
        int64_t cut = cutoff(kept, nkept, windows);
        size_t w = 0;
        for (size_t i = 0; i < nkept; i++) {
            if (kept[i].origin < cut) {
                tsl_store_capture_release(&kept[i]);
                continue;
            }
            kept[w] = kept[i];
            where[w++] = where[i];
        }
        nkept = w;
        if (n < PAGE) break;
    }
    *since = cutoff(kept, nkept, windows);
out:
    *caps = kept;
    *series = where;
    *ncaps = nkept;
    return rc;
}

tsl_err tsl_pl_recent(pl_ctx *c, const json_t *gj, json_t *o, tsl_diag *d) {
    const char *entry = json_string_value(json_object_get(gj, "entry"));
    const char *key = json_string_value(json_object_get(gj, "key"));
    const json_t *settings = json_object_get(c->out[PL_AUTOML], "settings");
    int period = (int)json_integer_value(json_object_get(settings, "period"));
    int windows = c->f->compare_windows > 0 ? c->f->compare_windows : 7;
    tsl_metric metric = c->f->compare_metric;
    tsl_store_deployment dp;
    memset(&dp, 0, sizeof dp);
    tsl_store_capture *caps = NULL;
    long *series = NULL;
    size_t ncaps = 0, npairs = 0, skipped = 0;
    pair *pairs = NULL;
    json_t *choice_of = json_object(), *seen = json_object();
    tsl_wbuf seen_key;
    tsl_wbuf_init(&seen_key);
    int found = 0;
    int64_t since = INT64_MAX;
    tsl_err rc;
    if (!entry || period < 1) {
        rc = tsl_diag_set(d, TSL_EINTERNAL, "the automl output is incomplete (group or period)");
        goto out;
    }
    if ((rc = find_champion(c->s, entry, &dp, &found, d)) || !found) goto out;
    /* The snapshot the challenger was trained on; when the data moved since, the comparison
     * is skipped rather than made on other data than the challenger's. */
    const char *trained = json_string_value(json_object_get(c->out[PL_AUTOML], "dataset_hash"));
    tsl_diag sd = {TSL_OK, {0}};
    tsl_err sr = tsl_pl_snapshot(c, trained, &sd);
    if (sr == TSL_ECONFLICT) goto out;
    if (sr) {
        rc = tsl_diag_set(d, sr, "%s", tsl_diag_msg(&sd));
        goto out;
    }
    if ((rc = tsl_pl_models(c, d))) goto out;
    if ((rc = gather(c, &dp, windows, &caps, &series, &ncaps, &since, d))) goto out;
    json_t *items = json_object_get(key ? tsl_pl_detail(c, key) : NULL, "items");
    for (size_t i = 0; i < json_array_size(items); i++) {
        json_t *it = json_array_get(items, i);
        const char *item = json_string_value(json_object_get(it, "item"));
        if (item) json_object_set(choice_of, item, json_object_get(it, "choice"));
    }
    pairs = tsl_calloc(ncaps ? ncaps : 1, sizeof *pairs);
    for (size_t i = 0; i < ncaps; i++) {
        /* The first capture of each (item, origin): a forecast requested twice counts once. */
        tsl_wbuf_reset(&seen_key);
        tsl_wbuf_printf(&seen_key, "%lld/%s", (long long)caps[i].origin, caps[i].item);
        if (json_object_get(seen, tsl_wbuf_cstr(&seen_key))) continue;
        json_object_set_new(seen, tsl_wbuf_cstr(&seen_key), json_true());
        /* Only items of this group: the challenger's bundle holds exactly those. */
        const json_t *ch = json_object_get(choice_of, caps[i].item);
        if (!ch) continue;
        pairs[npairs++] = (pair){&caps[i], series[i], json_string_value(ch), 0, {0}, {0}, NAN, 0};
    }
    if (npairs) {
        pair_ctx x = {c->ds, c->models, period, metric == TSL_METRIC_MEAN_WQL, pairs};
        tsl_pool *pool = tsl_pool_new(c->o->threads);
        tsl_pool_run(pool, npairs, score_pair, &x);
        tsl_pool_free(pool);
    }
    tsl_agg ga, gb;
    memset(&ga, 0, sizeof ga);
    memset(&gb, 0, sizeof gb);
    size_t points = 0, used = 0, norigins = 0;
    json_t *item_set = json_object(), *origin_set = json_object();
    for (size_t i = 0; i < npairs; i++) {
        pair *p = &pairs[i];
        if (!p->ok || tsl_agg_add(&ga, &p->champ, p->scale, NULL) ||
            tsl_agg_add(&gb, &p->chall, p->scale, NULL)) {
            skipped++;
            continue;
        }
        char ob[32];
        snprintf(ob, sizeof ob, "%lld", (long long)p->cap->origin);
        json_object_set_new(item_set, p->cap->item, json_true());
        json_object_set_new(origin_set, ob, json_true());
        points += p->points;
        used++;
    }
    norigins = json_object_size(origin_set);
    double va = used ? tsl_agg_value(&ga, metric) : NAN;
    double vb = used ? tsl_agg_value(&gb, metric) : NAN;
    json_t *r = json_object();
    json_object_set_new(r, "source", json_string("refit"));
    json_object_set_new(r, "endpoint", json_string(dp.endpoint));
    json_object_set_new(r, "champion_version", json_integer(dp.version));
    json_object_set_new(r, "metric", json_string(tsl_metric_name(metric)));
    json_object_set_new(r, "champion", tsl_pl_num(va));
    json_object_set_new(r, "challenger", tsl_pl_num(vb));
    json_object_set_new(r, "windows", json_integer(windows));
    json_object_set_new(r, "origins", json_integer((json_int_t)norigins));
    json_object_set_new(r, "items", json_integer((json_int_t)json_object_size(item_set)));
    json_object_set_new(r, "forecasts", json_integer((json_int_t)used));
    json_object_set_new(r, "points", json_integer((json_int_t)points));
    json_object_set_new(r, "not_comparable", json_integer((json_int_t)skipped));
    if (norigins) {
        char t[40];
        tsl_time_format(since, 0, t, sizeof t);
        json_object_set_new(r, "since", json_string(t));
    }
    json_object_set_new(o, "recent", r);
    json_decref(item_set);
    json_decref(origin_set);
out:
    tsl_free(pairs);
    tsl_store_capture_list_free(caps, ncaps);
    tsl_free(series);
    json_decref(choice_of);
    json_decref(seen);
    tsl_wbuf_release(&seen_key);
    tsl_store_deployment_release(&dp);
    return rc;
}
