/*
 * shadow.c - judging a shadow deployment (shadow.h): the paired comparison of its captures with
 * the live version's, the end of the shadow once it has its windows, and the approval policy.
 *
 * Why pairs. The refit comparison (pipeline_recent.c) re-creates what the challenger would
 * have forecast at the champion's origins; a shadow does not need to: the daemon computed the
 * challenger's forecast for every forecast it served, from the same data at the same moment,
 * and captured it under the same inference id. So the comparison is exact by construction -
 * same items, same origins, same target times, the same actuals - and it also covers what a
 * refit cannot: the version's own updates on new data, its serving path, its calibration.
 * Only pairs count: a live capture whose shadow twin is missing (the shadow was still loading,
 * or its queue overflowed and the capture was dropped) is left out for both sides.
 *
 * Windows. A window is a forecast origin (the data time a forecast started from): a day-ahead
 * forecast made each morning is one window a day, and a thousand HTTP requests between two
 * ingests are one window (the latest pair of each (item, origin) counts, so a busy item does
 * not weigh more). An origin is complete when every pair of it has its last target's actual
 * stored (a stored missing value counts: it will not arrive); the shadow completes when
 * `windows` origins are, and exactly the earliest `windows` complete origins are scored, so a
 * repeated round (a crash, a second daemon) scores the same thing.
 *
 * Scoring follows pipeline_recent.c: each (item, origin) is a series with its own accumulator
 * and the MASE scale of the item's history up to the origin, aggregated with tsl_agg, so the
 * numbers read like the backtest's and the refit comparison's.
 *
 * Deciding. Ending the shadow is a compare-and-set in the store, and the comparison travels
 * with it; the approval policy acts after, on every completed shadow not yet marked decided,
 * so a crash between the two is repaired by the next round rather than lost, and approving
 * an approved version or deploying a deployed one changes nothing.
 */
#include "tsloop/shadow.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsloop/deploy.h"
#include "tsloop/mem.h"
#include "tsloop/time.h"

/* ---- the paired comparison ---- */

typedef struct spair {
    const tsl_store_capture *live, *sh;
    const tsl_shadow_series *x; /* the item's actuals, NULL when none */
    int arrived;                /* its last target's actual is stored */
    int complete;               /* every pair of its origin arrived */
} spair;

/* Orders captures by (inference id, item). */
static int cmp_cap(const void *pa, const void *pb) {
    const tsl_store_capture *a = *(const tsl_store_capture *const *)pa;
    const tsl_store_capture *b = *(const tsl_store_capture *const *)pb;
    int c = strcmp(a->inference_id, b->inference_id);
    return c ? c : strcmp(a->item, b->item);
}

/* Orders pairs by origin, item, then the newest live capture first. */
static int cmp_pair(const void *pa, const void *pb) {
    const spair *a = pa, *b = pb;
    if (a->live->origin != b->live->origin) return a->live->origin < b->live->origin ? -1 : 1;
    int c = strcmp(a->live->item, b->live->item);
    if (c) return c;
    return a->live->id > b->live->id ? -1 : a->live->id < b->live->id;
}

static int cmp_series(const void *pa, const void *pb) {
    return strcmp((const char *)pa, ((const tsl_shadow_series *)pb)->item);
}

/* Whether two captures forecast the same thing: origin and target times. */
static int same_forecast(const tsl_store_capture *a, const tsl_store_capture *b) {
    return a->origin == b->origin && a->steps == b->steps &&
           !memcmp(a->targets, b->targets, a->steps * sizeof *a->targets);
}

/* Index of the first actual after t. */
static size_t upper_bound(const tsl_shadow_series *x, int64_t t) {
    size_t lo = 0, hi = x->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (x->t[mid] <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Adds capture c's points with finite actuals at the targets to a (quantiles too when they
 * fit the accumulator); returns the points added. */
static size_t acc_capture(tsl_acc *a, const tsl_store_capture *c, const tsl_shadow_series *x) {
    size_t added = 0;
    for (size_t j = 0; j < c->steps; j++) {
        size_t i = upper_bound(x, c->targets[j]);
        if (!i || x->t[i - 1] != c->targets[j] || !isfinite(x->v[i - 1])) continue;
        double y = x->v[i - 1], f = c->mean[j];
        const double *q = c->nq ? &c->quant[j * c->nq] : NULL;
        if (!c->nq || c->nq > TSL_METRICS_MAX_LEVELS ||
            tsl_acc_add(a, &y, &f, q, c->levels, c->nq, 1, NULL) != TSL_OK)
            (void)tsl_acc_add(a, &y, &f, NULL, NULL, 0, 1, NULL);
        added++;
    }
    return added;
}

tsl_err tsl_shadow_compare(const tsl_store_capture *live, size_t nlive,
                           const tsl_store_capture *shadow, size_t nshadow,
                           const tsl_shadow_series *series, size_t nseries, int period,
                           tsl_metric metric, int want, tsl_shadow_score *out, tsl_diag *d) {
    const tsl_store_capture **idx = tsl_malloc((nshadow ? nshadow : 1) * sizeof *idx);
    spair *p = tsl_malloc((nlive ? nlive : 1) * sizeof *p);
    size_t np = 0;
    memset(out, 0, sizeof *out);
    out->champion = out->challenger = NAN;
    (void)d;
    for (size_t i = 0; i < nshadow; i++) idx[i] = &shadow[i];
    if (nshadow) qsort(idx, nshadow, sizeof *idx, cmp_cap);
    for (size_t i = 0; i < nlive; i++) {
        const tsl_store_capture *key = &live[i], **hit = NULL;
        if (nshadow) hit = bsearch(&key, idx, nshadow, sizeof *idx, cmp_cap);
        if (!hit || !same_forecast(key, *hit)) {
            out->unpaired++;
            continue;
        }
        const tsl_shadow_series *x =
            nseries ? bsearch(key->item, series, nseries, sizeof *series, cmp_series) : NULL;
        int64_t last = key->targets[key->steps - 1];
        p[np++] = (spair){key, *hit, x, x && x->n && x->t[x->n - 1] >= last, 0};
    }
    if (np) qsort(p, np, sizeof *p, cmp_pair);
    /* the latest pair of each (item, origin) */
    size_t k = 0;
    for (size_t i = 0; i < np; i++)
        if (!k || p[k - 1].live->origin != p[i].live->origin ||
            strcmp(p[k - 1].live->item, p[i].live->item))
            p[k++] = p[i];
    np = k;
    /* complete origins, earliest first; scored: the earliest `want` */
    size_t end_scored = 0;
    for (size_t i = 0; i < np;) {
        size_t j = i;
        int complete = 1;
        while (j < np && p[j].live->origin == p[i].live->origin) complete &= p[j++].arrived;
        for (size_t q = i; q < j; q++) p[q].complete = complete;
        if (complete) {
            if (out->windows < want) {
                if (!out->windows) out->first_origin = p[i].live->origin;
                out->last_origin = p[i].live->origin;
                end_scored = j;
            }
            out->windows++;
        }
        i = j;
    }
    if (out->windows < want || want < 1) goto out;
    out->ready = 1;
    tsl_agg ga, gb;
    memset(&ga, 0, sizeof ga);
    memset(&gb, 0, sizeof gb);
    for (size_t i = 0; i < end_scored; i++) {
        if (!p[i].complete) continue; /* an incomplete origin among the scored ones */
        tsl_acc a, b;
        memset(&a, 0, sizeof a);
        memset(&b, 0, sizeof b);
        size_t pts = acc_capture(&a, p[i].live, p[i].x);
        (void)acc_capture(&b, p[i].sh, p[i].x);
        if (!pts) continue;
        double scale = tsl_mase_scale(p[i].x->v, upper_bound(p[i].x, p[i].live->origin), period);
        tsl_agg sa = ga, sb = gb;
        if (tsl_agg_add(&ga, &a, scale, NULL) || tsl_agg_add(&gb, &b, scale, NULL)) {
            ga = sa; /* levels that do not pool: left out for both */
            gb = sb;
            continue;
        }
        out->forecasts++;
        out->points += pts;
    }
    /* distinct items scored */
    for (size_t i = 0; i < end_scored; i++) {
        if (!p[i].complete) continue;
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = p[j].complete && !strcmp(p[j].live->item, p[i].live->item);
        if (!seen) out->items++;
    }
    if (out->forecasts) {
        out->champion = tsl_agg_value(&ga, metric);
        out->challenger = tsl_agg_value(&gb, metric);
    }
out:
    tsl_free(idx);
    tsl_free(p);
    return TSL_OK;
}

/* ---- the round ---- */

const tsl_config_forecaster *tsl_shadow_forecaster_of(const tsl_config *cfg, const char *entry) {
    for (size_t i = 0; cfg && i < cfg->nforecasters; i++) {
        const char *name = cfg->forecasters[i].name;
        size_t n = strlen(name);
        if (!strncmp(entry, name, n) && (entry[n] == '\0' || entry[n] == '.'))
            return &cfg->forecasters[i];
    }
    return NULL;
}

/* Whether the challenger's error y beats the champion's x by the margin (as the register
 * step decides). */
static int beats_by(double y, double x, double margin) {
    return isfinite(x) && isfinite(y) && y <= (1 - margin) * x;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* JSON for a number, null when not finite. */
static json_t *num(double v) {
    return isfinite(v) ? json_real(v) : json_null();
}

/* Looks at running shadow sh: its progress, or its end with the comparison. */
static tsl_err judge(tsl_store *s, const tsl_config *cfg, const tsl_store_shadow *sh,
                     tsl_shadow_stats *st, tsl_diag *d) {
    tsl_store_model m = {0};
    tsl_store_dataset ds = {0};
    tsl_store_capture *live = NULL, *shc = NULL;
    size_t nlive = 0, nsh = 0, nitems = 0;
    const char **items = NULL;
    tsl_shadow_series *ser = NULL;
    int64_t **ts = NULL;
    double **vs = NULL;
    json_t *cmp = NULL, *ev = NULL;
    char *ctext = NULL, *etext = NULL;
    tsl_err err;
    const tsl_config_forecaster *f = tsl_shadow_forecaster_of(cfg, sh->forecaster);
    tsl_metric metric = f ? f->compare_metric : TSL_METRIC_MASE;
    double margin = f && f->approval == TSL_APPROVAL_AUTO ? f->margin : 0;
    if ((err = tsl_store_model_get(s, sh->forecaster, sh->version, &m, d))) goto out;
    if (!m.dataset) goto out; /* nothing to score against */
    err = tsl_store_dataset_get(s, m.dataset, &ds, d);
    if (err == TSL_ENOTFOUND) { /* no data (any more): nothing will complete a window */
        tsl_diag_clear(d);
        err = TSL_OK;
        goto out;
    }
    if (err) goto out;
    if ((err = tsl_store_capture_list(s, sh->endpoint, NULL, sh->capture_after, 0, &live, &nlive,
                                      d)) ||
        (err = tsl_store_capture_list_shadow(s, sh->endpoint, sh->capture_after, 0, &shc, &nsh, d)))
        goto out;
    /* only this shadow's version (a superseded one's last captures may follow it) */
    size_t k = 0;
    for (size_t i = 0; i < nsh; i++) {
        if (shc[i].model_id != sh->model_id) {
            tsl_store_capture_release(&shc[i]);
            continue;
        }
        shc[k++] = shc[i];
    }
    nsh = k;
    items = tsl_malloc((nsh ? nsh : 1) * sizeof *items);
    for (size_t i = 0; i < nsh; i++) items[i] = shc[i].item;
    if (nsh) qsort(items, nsh, sizeof *items, cmp_str);
    for (size_t i = 0; i < nsh; i++)
        if (!nitems || strcmp(items[nitems - 1], items[i])) items[nitems++] = items[i];
    ser = tsl_calloc(nitems ? nitems : 1, sizeof *ser);
    ts = tsl_calloc(nitems ? nitems : 1, sizeof *ts);
    vs = tsl_calloc(nitems ? nitems : 1, sizeof *vs);
    for (size_t i = 0; i < nitems; i++) {
        size_t n = 0;
        err = tsl_store_item_tail(s, m.dataset, items[i], INT64_MIN, &ts[i], &vs[i], &n, d);
        if (err == TSL_ENOTFOUND) err = TSL_OK;
        if (err) goto out;
        ser[i] = (tsl_shadow_series){items[i], ts[i], vs[i], n};
    }
    int period = tsl_freq_default_period(ds.freq);
    tsl_shadow_score sc;
    if ((err = tsl_shadow_compare(live, nlive, shc, nsh, ser, nitems, period < 1 ? 1 : period,
                                  metric, sh->windows, &sc, d)))
        goto out;
    if (!sc.ready) {
        if (sc.windows != sh->progress) err = tsl_store_shadow_progress(s, sh->id, sc.windows, d);
        goto out;
    }
    tsl_store_deployment dep = {0};
    int champion_version = sh->champion_version;
    if (!tsl_store_endpoint_get(s, sh->endpoint, &dep, NULL)) champion_version = dep.version;
    tsl_store_deployment_release(&dep);
    int better = beats_by(sc.challenger, sc.champion, margin);
    char since[40], until[40];
    tsl_time_format(sc.first_origin, 0, since, sizeof since);
    tsl_time_format(sc.last_origin, 0, until, sizeof until);
    cmp =
        json_pack("{s:s, s:s, s:i, s:s, s:o, s:o, s:i, s:i, s:I, s:I, s:I, s:I, s:s, s:s, s:f, "
                  "s:b}",
                  "source", "shadow", "endpoint", sh->endpoint, "champion_version",
                  champion_version, "metric", tsl_metric_name(metric), "champion", num(sc.champion),
                  "challenger", num(sc.challenger), "windows", sh->windows, "origins", sh->windows,
                  "forecasts", (json_int_t)sc.forecasts, "points", (json_int_t)sc.points, "items",
                  (json_int_t)sc.items, "unpaired", (json_int_t)sc.unpaired, "since", since,
                  "until", until, "margin", margin, "better", better);
    ev = json_pack(
        "{s:s, s:i, s:i, s:s, s:s, s:o, s:o, s:i, s:I, s:I, s:f, s:b, s:s, s:s}", "entry",
        sh->forecaster, "version", sh->version, "champion_version", champion_version, "endpoint",
        sh->endpoint, "metric", tsl_metric_name(metric), "champion", num(sc.champion), "challenger",
        num(sc.challenger), "origins", sh->windows, "points", (json_int_t)sc.points, "items",
        (json_int_t)sc.items, "margin", margin, "better", better, "source", "shadow", "decision",
        !f                                           ? "none: the forecaster is not configured"
        : f->approval == TSL_APPROVAL_AUTO && better ? "approved by policy auto"
        : f->approval == TSL_APPROVAL_AUTO ? "awaits manual approval: not better by the margin"
                                           : "awaits manual approval (policy manual)");
    char *c1 = json_dumps(cmp, JSON_COMPACT), *e1 = json_dumps(ev, JSON_COMPACT);
    ctext = tsl_strdup(c1);
    etext = tsl_strdup(e1);
    free(c1);
    free(e1);
    char why[200];
    snprintf(why, sizeof why, "compared after %d windows: %s %.4g against the live %.4g",
             sh->windows, tsl_metric_name(metric), sc.challenger, sc.champion);
    err = tsl_store_shadow_end(s, sh->id, TSL_SHADOW_COMPLETED, why, ctext, sc.windows, etext, d);
    if (err == TSL_ECONFLICT) { /* another evaluator ended it first */
        tsl_diag_clear(d);
        err = TSL_OK;
    } else if (!err && st) {
        st->completed++;
    }
out:
    for (size_t i = 0; i < nitems; i++) {
        tsl_free(ts[i]);
        tsl_free(vs[i]);
    }
    tsl_free(ts);
    tsl_free(vs);
    tsl_free(ser);
    tsl_free(items);
    json_decref(cmp);
    json_decref(ev);
    tsl_free(ctext);
    tsl_free(etext);
    tsl_store_capture_list_free(live, nlive);
    tsl_store_capture_list_free(shc, nsh);
    tsl_store_dataset_release(&ds);
    tsl_store_model_release(&m);
    return err;
}

/* Applies the approval policy to completed shadow sh and marks it decided. */
static tsl_err decide(tsl_store *s, const tsl_config *cfg, const tsl_store_shadow *sh,
                      tsl_shadow_stats *st, tsl_diag *d) {
    tsl_store_model m = {0};
    json_t *c = sh->comparison ? json_loads(sh->comparison, 0, NULL) : NULL;
    const tsl_config_forecaster *f = tsl_shadow_forecaster_of(cfg, sh->forecaster);
    tsl_err err = tsl_store_model_get(s, sh->forecaster, sh->version, &m, d);
    if (err) goto out;
    int better = json_is_true(json_object_get(c, "better"));
    if (f && f->approval == TSL_APPROVAL_AUTO && better) {
        if (m.status == TSL_MODEL_PENDING) {
            char why[400];
            snprintf(why, sizeof why,
                     "policy auto: in shadow on %s for %d windows, %s %.4g against the live "
                     "version's (%lld) %.4g on the same %lld points, margin %.1f%%: approved",
                     sh->endpoint, sh->windows, json_string_value(json_object_get(c, "metric")),
                     json_number_value(json_object_get(c, "challenger")),
                     (long long)json_integer_value(json_object_get(c, "champion_version")),
                     json_number_value(json_object_get(c, "champion")),
                     (long long)json_integer_value(json_object_get(c, "points")), 100 * f->margin);
            if ((err = tsl_store_model_set_status(s, sh->forecaster, sh->version,
                                                  TSL_MODEL_APPROVED, "tsloop", why, d)))
                goto out;
            if (st) st->approved++;
            m.status = TSL_MODEL_APPROVED;
        }
        if (m.status == TSL_MODEL_APPROVED) {
            size_t moved = 0;
            if ((err = tsl_deploy_auto(s, cfg, sh->forecaster, sh->version, m.status, 0, "tsloop",
                                       &moved, d)))
                goto out;
            if (st) st->deployed += moved;
        }
    }
    err = tsl_store_shadow_decided(s, sh->id, d);
out:
    json_decref(c);
    tsl_store_model_release(&m);
    return err;
}

tsl_err tsl_shadow_poll(tsl_store *s, const tsl_config *cfg, int64_t now_ms, tsl_shadow_stats *st,
                        tsl_diag *d) {
    tsl_store_shadow *v = NULL;
    size_t n = 0;
    tsl_err err;
    (void)now_ms;
    if ((err = tsl_store_shadow_list(s, NULL, NULL, 0, 1, 0, &v, &n, d))) return err;
    for (size_t i = 0; i < n && !err; i++) {
        if (st) st->running++;
        err = judge(s, cfg, &v[i], st, d);
    }
    tsl_store_shadow_list_free(v, n);
    v = NULL;
    n = 0;
    /* the newest shadows: an undecided completed one is at most a round or two old */
    if (!err && !(err = tsl_store_shadow_list(s, NULL, NULL, 0, 0, 64, &v, &n, d)))
        for (size_t i = 0; i < n && !err; i++)
            if (v[i].outcome == TSL_SHADOW_COMPLETED && !v[i].decided)
                err = decide(s, cfg, &v[i], st, d);
    tsl_store_shadow_list_free(v, n);
    return err;
}

tsl_err tsl_shadow_stop(tsl_store *s, const char *endpoint, const char *who, const char *why,
                        tsl_store_shadow *out, tsl_diag *d) {
    tsl_store_shadow sh = {0};
    int found = 0;
    char text[600];
    tsl_err err = tsl_store_shadow_get(s, endpoint, &sh, &found, d);
    if (out) memset(out, 0, sizeof *out);
    if (err) return err;
    if (!found) return tsl_diag_set(d, TSL_ENOTFOUND, "no shadow runs on endpoint '%s'", endpoint);
    snprintf(text, sizeof text, "stopped by %s%s%s", who && who[0] ? who : "?",
             why && why[0] ? ": " : "", why ? why : "");
    err = tsl_store_shadow_end(s, sh.id, TSL_SHADOW_STOPPED, text, NULL, sh.progress, NULL, d);
    if (!err && out)
        *out = sh;
    else
        tsl_store_shadow_release(&sh);
    return err;
}

void tsl_shadow_metrics_merge(tsl_store *s, const char *entry, int version, json_t *metrics) {
    if (!json_is_object(metrics)) return;
    json_t *recent = json_object_get(metrics, "recent");
    if (json_is_object(recent) && !json_object_get(recent, "source"))
        json_object_set_new(recent, "source", json_string("refit"));
    tsl_store_shadow *v = NULL;
    size_t n = 0;
    if (tsl_store_shadow_list(s, NULL, entry, version, 0, 0, &v, &n, NULL)) return;
    json_t *got = NULL;
    for (size_t i = 0; i < n && !got; i++) {
        if (v[i].outcome == TSL_SHADOW_COMPLETED && v[i].comparison)
            got = json_loads(v[i].comparison, 0, NULL);
        else if (v[i].outcome == TSL_SHADOW_RUNNING)
            got =
                json_pack("{s:s, s:b, s:s, s:i, s:i}", "source", "shadow", "running", 1, "endpoint",
                          v[i].endpoint, "windows", v[i].windows, "progress", v[i].progress);
    }
    if (got) json_object_set_new(metrics, "shadow", got);
    tsl_store_shadow_list_free(v, n);
}
