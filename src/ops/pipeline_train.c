/*
 * pipeline_train.c - the automl and compare steps: model groups trained on the thread pool,
 * and each group's champion re-scored on the challenger's backtest windows.
 *
 * Model groups. A forecaster with split_by [d1, d2, ...] trains one model group per distinct
 * combination of those dimension values among its series - the seeds' "one model per
 * DummyDim", hundreds of groups - and registers each as a registry entry of its own
 * (registry.h names them). Each group is an AutoML run of its own: the data-set level of
 * AutoML's choice (docs/automl.md: a series' choice blends its own evidence with the verdict of
 * its data set) then reads "its group", which is what a group is for. All groups run in one
 * execution: when there are many more groups than threads, groups run in parallel, one thread
 * each (a small group cannot use many threads, and groups share nothing); otherwise they run
 * one after the other, each with every thread. Results do not depend on the choice, since
 * AutoML's do not depend on its thread count.
 *
 * The comparison. Both versions are measured the same way: each series' choice (the model or
 * combination a version picked for it) refit at each of the challenger's backtest origins on
 * the data before it, and scored on the window after it, with the forecaster's metric. For the
 * challenger that is the backtest of its chosen columns, already done; for the champion it is
 * the backtest of the champion's per-series choices at the same origins - exactly a column's
 * backtest when the choice is a column of the challenger's leaderboard (the usual case: same
 * candidates), and backtested here otherwise (the candidates changed), as one model or a fixed
 * combination. Both are averaged over the series both can be scored on, so they describe the
 * same series and the same windows, and two versions that chose the same models score the same.
 *
 * What this cannot remove is selection: the challenger chose its columns on these windows, the
 * champion on earlier ones (which overlap them when it was trained recently). On data that
 * moved, that favours the challenger by how lucky its choice was on these windows; the
 * forecaster's margin is what guards an automatic approval against it. The honest measure of
 * the challenger alone - AutoML's nested evaluation, where the whole selection is re-run at
 * each origin on the data before it - is recorded beside (challenger_nested), for people to
 * weigh; it is not comparable with the champion's number, whose choices were not re-made.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ops/pipeline_impl.h"
#include "tsloop/automl.h"
#include "tsloop/backtest.h"
#include "tsloop/bundle.h"
#include "tsloop/mem.h"
#include "tsloop/pool.h"
#include "tsloop/registry.h"

#define MAX_MEMBERS TSL_PL_MAX_MEMBERS /* of a fixed combination refit by compare */

json_t *tsl_pl_groups(const pl_ctx *c) {
    json_t *g = json_object_get(c->out[PL_AUTOML], "groups");
    return json_is_array(g) ? g : NULL;
}

tsl_err tsl_pl_models(pl_ctx *c, tsl_diag *d) {
    if (!c->models) {
        if (!c->bundle)
            return tsl_diag_set(d, TSL_EINTERNAL, "execution %lld: the automl step left no models",
                                (long long)c->id);
        tsl_err rc = tsl_bundle_adopt(c->bundle, c->bundle_len, &c->models, d);
        c->bundle = NULL; /* adopted, or freed on failure */
        c->bundle_len = 0;
        if (rc) return rc;
        json_t *meta = json_loads(tsl_bundle_meta(c->models), 0, NULL);
        json_t *groups = json_object_get(meta, "groups");
        if (json_is_object(groups)) c->detail = json_incref(groups);
        json_decref(meta);
    }
    if (!c->detail)
        return tsl_diag_set(d, TSL_ECORRUPT,
                            "execution %lld: the automl bundle's metadata has no group detail",
                            (long long)c->id);
    return TSL_OK;
}

json_t *tsl_pl_detail(const pl_ctx *c, const char *key) {
    json_t *g = json_object_get(c->detail, key);
    return json_is_object(g) ? g : NULL;
}

/* ---- automl ---- */

typedef struct group {
    char *key; /* registry.h's group key: JSON array text, "" without split_by */
    const char **values;
    char entry[TSL_STORE_NAME_MAX + 1];
    size_t *idx; /* the group's series in the snapshot, by item */
    size_t n;
    tsl_ts *ts;
    tsl_automl_result *res;
    tsl_diag diag;
    tsl_err err;
} group;

typedef struct train {
    const pl_ctx *c;
    const tsl_automl_opts *base;
    group *g;
    size_t ng;
    int threads_each;
    pthread_mutex_t mu;
    size_t done, total;
} train;

/* AutoML's progress, one call per series and phase, summed over the groups. */
static void train_progress(void *ctx, size_t done, size_t total) {
    (void)done;
    (void)total;
    train *t = ctx;
    pthread_mutex_lock(&t->mu);
    t->done++;
    if (t->c->o->progress) t->c->o->progress(t->c->o->ctx, "automl", t->done, t->total);
    pthread_mutex_unlock(&t->mu);
}

/* Pool task: group i's AutoML run. */
static void run_group(void *ctx, size_t i, int worker) {
    (void)worker;
    train *t = ctx;
    group *g = &t->g[i];
    tsl_automl_opts ao = *t->base;
    ao.threads = t->threads_each;
    g->err = tsl_automl_run(g->ts, g->n, &ao, &g->res, &g->diag);
}

typedef struct keyed {
    const char *key;
    size_t i;
} keyed;

/* qsort order: by group key, then by series index (so groups list items in data set order). */
static int cmp_keyed(const void *a, const void *b) {
    const keyed *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* Splits the snapshot's series into groups by the split_by values (one group without). */
static tsl_err make_groups(const pl_ctx *c, group **out, size_t *ng, tsl_diag *d) {
    const tsl_dataset *ds = c->ds;
    const tsl_config_forecaster *f = c->f;
    size_t dim[TSL_CONFIG_MAX_SPLIT];
    for (size_t k = 0; k < f->nsplit; k++) {
        size_t j = 0;
        while (j < ds->ndims && strcmp(ds->dim_names[j], f->split_by[k])) j++;
        if (j == ds->ndims)
            return tsl_diag_set(d, TSL_EINVAL,
                                "split_by dimension '%s' is not a column of data set '%s'",
                                f->split_by[k], c->dsc->name);
        dim[k] = j;
    }
    size_t n = ds->nseries;
    keyed *ks = tsl_calloc(n ? n : 1, sizeof *ks);
    char **keys = tsl_calloc(n ? n : 1, sizeof *keys);
    const char *vals[TSL_CONFIG_MAX_SPLIT];
    tsl_wbuf b;
    tsl_wbuf_init(&b);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < f->nsplit; k++) vals[k] = ds->series[i].dims[dim[k]];
        tsl_wbuf_reset(&b);
        tsl_registry_group_key(vals, f->nsplit, &b);
        keys[i] = tsl_strdup(tsl_wbuf_cstr(&b));
        ks[i] = (keyed){keys[i], i};
    }
    tsl_wbuf_release(&b);
    qsort(ks, n, sizeof *ks, cmp_keyed);
    group *g = tsl_calloc(n ? n : 1, sizeof *g);
    size_t m = 0;
    tsl_err rc = TSL_OK;
    for (size_t a = 0; a < n;) {
        size_t e = a;
        while (e < n && !strcmp(ks[e].key, ks[a].key)) e++;
        group *gr = &g[m++];
        gr->key = tsl_strdup(ks[a].key);
        gr->n = e - a;
        gr->idx = tsl_malloc(gr->n * sizeof *gr->idx);
        gr->ts = tsl_malloc(gr->n * sizeof *gr->ts);
        gr->values = tsl_calloc(f->nsplit ? f->nsplit : 1, sizeof *gr->values);
        for (size_t k = 0; k < f->nsplit; k++) gr->values[k] = ds->series[ks[a].i].dims[dim[k]];
        for (size_t q = a; q < e; q++) {
            const tsl_series *s = &ds->series[ks[q].i];
            gr->idx[q - a] = ks[q].i;
            gr->ts[q - a] = (tsl_ts){s->y, s->n, s->start};
        }
        if (!rc) rc = tsl_registry_entry_name(f->name, gr->values, f->nsplit, gr->entry, d);
        /* A group's entry must not be another forecaster's own entry. */
        for (size_t q = 0; !rc && f->nsplit && q < c->cfg->nforecasters; q++)
            if (!strcmp(c->cfg->forecasters[q].name, gr->entry))
                rc = tsl_diag_set(d, TSL_EINVAL,
                                  "group %s of forecaster '%s' is registered as '%s', which is "
                                  "also the name of a forecaster in tsloop.yaml; rename one of "
                                  "them",
                                  gr->key, f->name, gr->entry);
        a = e;
    }
    for (size_t i = 0; i < n; i++) tsl_free(keys[i]);
    tsl_free(keys);
    tsl_free(ks);
    *out = g;
    *ng = m;
    return rc;
}

/* Frees n groups and their AutoML results. */
static void groups_free(group *g, size_t n) {
    for (size_t i = 0; i < n; i++) {
        tsl_free(g[i].key);
        tsl_free(g[i].values);
        tsl_free(g[i].idx);
        tsl_free(g[i].ts);
        tsl_automl_result_free(g[i].res);
    }
    tsl_free(g);
}

/* The settings the run used, recorded so that compare and register use the same ones even if
 * tsloop.yaml changed before a resumed execution reaches them. */
static json_t *settings_json(const pl_ctx *c, const tsl_automl_opts *ao) {
    json_t *s = json_object(), *lv = json_array(), *per = json_array(), *cands = json_array(),
           *split = json_array();
    char freq[32];
    tsl_freq_format(c->ds->freq, freq, sizeof freq);
    json_object_set_new(s, "frequency", json_string(freq));
    json_object_set_new(s, "horizon", json_integer((json_int_t)ao->horizon));
    json_object_set_new(s, "period", json_integer(ao->period));
    for (int i = 0; i < ao->nperiods; i++) json_array_append_new(per, json_integer(ao->periods[i]));
    json_object_set_new(s, "periods", per);
    for (size_t i = 0; i < ao->nq; i++) json_array_append_new(lv, json_real(ao->levels[i]));
    json_object_set_new(s, "levels", lv);
    json_object_set_new(s, "metric", json_string(tsl_metric_name(ao->metric)));
    json_object_set_new(s, "windows", json_integer((json_int_t)ao->windows));
    json_object_set_new(s, "ensembles", json_boolean(ao->ensembles));
    for (size_t i = 0; i < c->f->ncandidates; i++)
        json_array_append_new(cands, json_string(c->f->candidates[i]));
    json_object_set_new(s, "candidates", cands);
    for (size_t i = 0; i < c->f->nsplit; i++)
        json_array_append_new(split, json_string(c->f->split_by[i]));
    json_object_set_new(s, "split_by", split);
    return s;
}

/* The aggregate metrics of a tsl_agg as a JSON object. */
static json_t *agg_json(const tsl_agg *g) {
    static const tsl_metric ms[] = {TSL_METRIC_MASE,     TSL_METRIC_SMAPE,   TSL_METRIC_MAPE,
                                    TSL_METRIC_WAPE,     TSL_METRIC_RMSE,    TSL_METRIC_MAE,
                                    TSL_METRIC_MEAN_WQL, TSL_METRIC_COVERAGE};
    json_t *o = json_object();
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
        json_object_set_new(o, tsl_metric_name(ms[i]), tsl_pl_num(tsl_agg_value(g, ms[i])));
    return o;
}

/* Index of column name in r, or -1. */
static long column_of(const tsl_automl_result *r, const char *name) {
    for (size_t j = 0; j < r->ncols; j++)
        if (!strcmp(r->col_names[j], name)) return (long)j;
    return -1;
}

/* A group's part of the automl output (its summary, into *summary) and of the bundle's
 * metadata (its leaderboard and every series' detail, into *detail). */
static void group_json(const pl_ctx *c, const group *g, json_t **summary, json_t **detail) {
    const tsl_automl_result *r = g->res;
    json_t *o = json_object(), *vals = json_object(), *items = json_array(), *board = json_array();
    json_object_set_new(o, "key", json_string(g->key));
    for (size_t k = 0; k < c->f->nsplit; k++)
        json_object_set_new(vals, c->f->split_by[k], json_string(g->values[k]));
    json_object_set_new(o, "values", vals);
    json_object_set_new(o, "entry", json_string(g->entry));
    double auto_sum = 0, bt_sum = 0;
    size_t auto_n = 0, bt_n = 0, failed = 0;
    for (size_t i = 0; i < r->nseries; i++) {
        const tsl_automl_series *s = &r->series[i];
        json_t *it = json_object(), *scores = json_object();
        json_object_set_new(it, "item", json_string(c->ds->series[g->idx[i]].item_id));
        if (s->err || !s->model) {
            failed++;
            json_object_set_new(it, "error", json_string(s->err ? s->error : "no model"));
            json_array_append_new(items, it);
            json_decref(scores);
            continue;
        }
        long col = column_of(r, s->choice);
        double score = col >= 0 ? s->scores[col] : NAN;
        json_object_set_new(it, "choice", json_string(s->choice));
        json_object_set_new(it, "model", json_string(s->model_name));
        json_object_set_new(it, "reason", json_string(s->reason));
        json_object_set_new(it, "score", tsl_pl_num(score));
        json_object_set_new(it, "auto", tsl_pl_num(s->auto_score));
        json_object_set_new(it, "observed", json_integer((json_int_t)s->nobs));
        /* The time of the last value the model saw: serving updates it with what came after. */
        const tsl_series *ser = &c->ds->series[g->idx[i]];
        json_object_set_new(
            it, "end",
            json_integer((json_int_t)tsl_freq_add(c->ds->freq, ser->start, (int64_t)ser->n - 1)));
        json_object_set_new(it, "windows", json_integer((json_int_t)s->plan.k));
        json_object_set_new(it, "window_horizon", json_integer((json_int_t)s->plan.h));
        for (size_t j = 0; j < r->ncols; j++)
            if (isfinite(s->scores[j]))
                json_object_set_new(scores, r->col_names[j], json_real(s->scores[j]));
        json_object_set_new(it, "scores", scores);
        json_array_append_new(items, it);
        if (isfinite(s->auto_score)) {
            auto_sum += s->auto_score;
            auto_n++;
        }
        if (isfinite(score)) {
            bt_sum += score;
            bt_n++;
        }
    }
    for (size_t j = 0; j < r->ncols; j++) {
        if (!r->col_series[j]) continue;
        json_t *row = agg_json(&r->col_agg[j]);
        json_object_set_new(row, "column", json_string(r->col_names[j]));
        json_object_set_new(row, "series", json_integer((json_int_t)r->col_series[j]));
        json_object_set_new(row, "chosen", json_integer((json_int_t)r->col_chosen[j]));
        json_object_set_new(row, "rel", tsl_pl_num(r->col_rel[j]));
        json_array_append_new(board, row);
    }
    json_object_set_new(o, "series", json_integer((json_int_t)r->nseries));
    json_object_set_new(o, "failed", json_integer((json_int_t)failed));
    /* The challenger's honest score: the nested evaluation, averaged over series. */
    json_object_set_new(o, "score", tsl_pl_num(auto_n ? auto_sum / (double)auto_n : NAN));
    json_object_set_new(o, "scored_series", json_integer((json_int_t)auto_n));
    json_object_set_new(o, "backtest_score", tsl_pl_num(bt_n ? bt_sum / (double)bt_n : NAN));
    json_object_set_new(o, "series_weight", tsl_pl_num(r->series_weight));
    json_object_set_new(o, "weight_learnt", json_boolean(r->weight_learnt));
    json_object_set_new(o, "seconds", tsl_pl_num(r->seconds));
    json_object_set_new(o, "auto", r->auto_series ? agg_json(&r->auto_agg) : json_null());
    *summary = o;
    *detail = json_object();
    json_object_set_new(*detail, "leaderboard", board);
    json_object_set_new(*detail, "items", items);
}

/* Parses the configured candidates for period into *out (NULL, 0 for the default set). */
static tsl_err parse_candidates(const tsl_config_forecaster *f, int period, tsl_model_spec **out,
                                size_t *n, tsl_diag *d) {
    *out = NULL;
    *n = 0;
    if (!f->ncandidates) return TSL_OK;
    tsl_model_spec *s = tsl_calloc(f->ncandidates, sizeof *s);
    for (size_t i = 0; i < f->ncandidates; i++) {
        tsl_err rc = tsl_model_spec_parse(f->candidates[i], period, &s[i], d);
        if (rc) {
            tsl_free(s);
            return rc;
        }
    }
    *out = s;
    *n = f->ncandidates;
    return TSL_OK;
}

tsl_err tsl_pl_step_automl(pl_ctx *c, tsl_diag *d) {
    const tsl_config_forecaster *f = c->f;
    group *g = NULL;
    size_t ng = 0;
    tsl_model_spec *cands = NULL;
    size_t ncands = 0;
    json_t *revalidated = json_null(), *out = NULL;
    tsl_bundle_builder *bb = NULL;
    tsl_wbuf blob;
    tsl_wbuf_init(&blob);
    train t;
    memset(&t, 0, sizeof t);
    pthread_mutex_init(&t.mu, NULL);
    tsl_err rc = tsl_pl_snapshot(c, NULL, d);
    if (rc) goto out;
    /* The data moved after validation (a resumed execution reloaded it): check it again. */
    const char *validated = json_string_value(json_object_get(c->out[PL_VALIDATE], "dataset_hash"));
    if (validated && strcmp(validated, c->hash) != 0) {
        json_t *report = NULL;
        rc = tsl_pl_check_data(f, c->dsc, c->ds, &report, d);
        json_decref(revalidated);
        revalidated = json_object();
        json_object_set_new(revalidated, "validated_hash", json_string(validated));
        json_object_set(revalidated, "summary", json_object_get(report, "summary"));
        json_decref(report);
        if (rc) goto out;
    }
    int period = f->nperiods ? f->periods[0] : c->ds->period;
    if ((rc = parse_candidates(f, period, &cands, &ncands, d))) goto out;
    tsl_automl_opts ao;
    tsl_automl_opts_init(&ao, (size_t)f->horizon, period);
    if (f->nperiods > 1) {
        ao.nperiods = (int)f->nperiods;
        for (size_t i = 0; i < f->nperiods; i++) ao.periods[i] = f->periods[i];
    }
    ao.freq = c->ds->freq;
    ao.levels = f->levels;
    ao.nq = f->nq;
    ao.candidates = cands;
    ao.ncandidates = ncands;
    ao.metric = f->metric;
    ao.windows = (size_t)f->windows;
    ao.ensembles = f->ensembles;
    ao.evaluate_auto = 1; /* the challenger's honest score, for compare */
    ao.keep_models = 1;
    ao.progress = train_progress;
    ao.progress_ctx = &t;
    if ((rc = make_groups(c, &g, &ng, d))) goto out;

    int threads = c->o->threads > 0 ? c->o->threads : tsl_cpu_count();
    t.c = c;
    t.base = &ao;
    t.g = g;
    t.ng = ng;
    t.total = 2 * c->ds->nseries; /* AutoML reports each series' backtest and refit */
    if (ng >= 2 * (size_t)threads) {
        t.threads_each = 1;
        tsl_pool *pool = tsl_pool_new(threads);
        tsl_pool_run(pool, ng, run_group, &t);
        tsl_pool_free(pool);
    } else {
        t.threads_each = threads;
        for (size_t i = 0; i < ng; i++) run_group(&t, i, 0);
    }
    double seconds = 0;
    size_t nseries = 0, failed = 0;
    for (size_t i = 0; i < ng; i++) {
        if (g[i].err) {
            rc = g[i].err;
            tsl_diag_set(d, rc, "group %s: %s", g[i].key[0] ? g[i].key : "(all series)",
                         tsl_diag_msg(&g[i].diag));
            goto out;
        }
        seconds += g[i].res->seconds;
    }

    /* The bundle of every series' model, each with its group key: what resumed steps need. */
    bb = tsl_bundle_builder_new();
    out = json_object();
    json_t *groups = json_array(), *detail = json_object();
    for (size_t i = 0; i < ng; i++) {
        json_t *gj, *dj;
        group_json(c, &g[i], &gj, &dj);
        nseries += g[i].n;
        failed += (size_t)json_integer_value(json_object_get(gj, "failed"));
        json_array_append_new(groups, gj);
        json_object_set_new(detail, g[i].key, dj);
        for (size_t k = 0; k < g[i].res->nseries; k++) {
            const tsl_automl_series *s = &g[i].res->series[k];
            if (s->err || !s->model) continue;
            if ((rc = tsl_bundle_add(bb, c->ds->series[g[i].idx[k]].item_id, g[i].key, s->model,
                                     d))) {
                json_decref(groups);
                json_decref(detail);
                goto out;
            }
        }
    }
    char fhash[TSL_CONFIG_HASH_HEX + 1];
    tsl_config_forecaster_hash(c->cfg, f, fhash);
    json_object_set_new(out, "dataset", json_string(c->dsc->name));
    json_object_set_new(out, "dataset_hash", json_string(c->hash));
    json_object_set_new(out, "config_hash", json_string(fhash));
    json_object_set_new(out, "settings", settings_json(c, &ao));
    json_object_set_new(out, "revalidated", revalidated);
    revalidated = NULL;
    json_object_set_new(out, "series", json_integer((json_int_t)nseries));
    json_object_set_new(out, "failed", json_integer((json_int_t)failed));
    json_object_set_new(out, "seconds", tsl_pl_num(seconds));
    json_object_set_new(out, "groups", groups);
    if (nseries == failed) {
        json_decref(detail);
        rc = tsl_diag_set(d, TSL_ENUMERIC,
                          "no series of data set '%s' could be fitted (%zu "
                          "tried)",
                          c->dsc->name, nseries);
        goto out;
    }
    json_t *meta = json_pack("{s:s, s:I, s:s, s:s, s:s, s:o}", "format", "tsloop.automl/1",
                             "execution", (json_int_t)c->id, "forecaster", f->name, "dataset",
                             c->dsc->name, "dataset_hash", c->hash, "groups", detail);
    char *mtext = tsl_pl_dump(meta);
    json_decref(meta);
    rc = tsl_bundle_builder_meta(bb, mtext, d);
    tsl_free(mtext);
    if (rc || (rc = tsl_bundle_builder_write(bb, &blob, d))) goto out;
    snprintf(c->summary, sizeof c->summary, "%zu series in %zu group%s, %zu failed, %.1f s",
             nseries, ng, ng == 1 ? "" : "s", failed, seconds);
    c->result = out;
    out = NULL;
    c->blob = blob.data;
    c->blob_len = blob.len;
    blob.data = NULL;
out:
    json_decref(out);
    json_decref(revalidated);
    tsl_bundle_builder_free(bb);
    tsl_wbuf_release(&blob);
    groups_free(g, ng);
    tsl_free(cands);
    pthread_mutex_destroy(&t.mu);
    return rc;
}

/* ---- compare ---- */

/* What a refit needs, read back from the automl output's settings. */
typedef struct settings {
    size_t horizon, windows, nq;
    int period;
    double levels[TSL_METRICS_MAX_LEVELS];
    tsl_metric metric;
} settings;

/* Reads the automl output's settings into st; TSL_EINTERNAL when they are incomplete. */
static tsl_err read_settings(const json_t *s, settings *st, tsl_diag *d) {
    memset(st, 0, sizeof *st);
    st->horizon = (size_t)json_integer_value(json_object_get(s, "horizon"));
    st->windows = (size_t)json_integer_value(json_object_get(s, "windows"));
    st->period = (int)json_integer_value(json_object_get(s, "period"));
    json_t *lv = json_object_get(s, "levels");
    for (size_t i = 0; i < json_array_size(lv) && i < TSL_METRICS_MAX_LEVELS; i++)
        st->levels[st->nq++] = json_number_value(json_array_get(lv, i));
    const char *m = json_string_value(json_object_get(s, "metric"));
    if (!st->horizon || !st->windows || st->period < 1 || !m ||
        tsl_metric_parse(m, &st->metric, NULL))
        return tsl_diag_set(d, TSL_EINTERNAL, "the automl output's settings are incomplete");
    return TSL_OK;
}

/* The member specs of a choice that compare can refit: one model ("ets", "ma:7") or a fixed
 * combination ("mean(ets,theta,dotm)", "median(...)"). Returns the member count, 0 when the
 * choice is something else (a per-series top-k combination). */
size_t tsl_pl_choice_members(const char *choice, int period, tsl_model_spec *spec, int *median) {
    *median = 0;
    const char *open = strchr(choice, '(');
    if (!open) return tsl_model_spec_parse(choice, period, &spec[0], NULL) ? 0 : 1;
    size_t head = (size_t)(open - choice), len = strlen(choice);
    if (choice[len - 1] != ')') return 0;
    if (head == 6 && !strncmp(choice, "median", 6))
        *median = 1;
    else if (!(head == 4 && !strncmp(choice, "mean", 4)))
        return 0;
    char buf[64];
    if (len - head - 2 >= sizeof buf) return 0;
    memcpy(buf, open + 1, len - head - 2);
    buf[len - head - 2] = '\0';
    size_t k = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (k == MAX_MEMBERS || tsl_model_spec_parse(tok, period, &spec[k], NULL)) return 0;
        k++;
    }
    return k;
}

typedef struct refit_task {
    const char *item, *choice;
    double score; /* NaN when it cannot be scored */
} refit_task;

typedef struct refit_ctx {
    const tsl_dataset *ds;
    const settings *st;
    refit_task *t;
} refit_ctx;

/* Pool task: backtests a champion's choice on one series at the challenger's origins. */
static void refit_one(void *ctx, size_t i, int worker) {
    (void)worker;
    refit_ctx *rc = ctx;
    refit_task *t = &rc->t[i];
    const settings *st = rc->st;
    t->score = NAN;
    long at = tsl_dataset_find(rc->ds, t->item);
    if (at < 0) return;
    const tsl_series *s = &rc->ds->series[at];
    const double *y = s->y;
    size_t n = s->n;
    while (n > 0 && isnan(y[0])) y++, n--;
    tsl_bt_plan plan;
    tsl_bt_plan_make(n, st->horizon, st->windows, st->period, &plan);
    tsl_model_spec spec[MAX_MEMBERS];
    int median = 0;
    size_t k = tsl_pl_choice_members(t->choice, st->period, spec, &median);
    if (plan.k == 0 || k == 0) return;
    tsl_bt_result res[MAX_MEMBERS], comb;
    memset(res, 0, sizeof res);
    memset(&comb, 0, sizeof comb);
    size_t done = 0;
    int ok = 1;
    for (; done < k && ok; done++) {
        ok = !tsl_backtest(&spec[done], y, n, &plan, st->levels, st->nq, &res[done], NULL) &&
             res[done].ok;
    }
    if (ok) {
        const tsl_bt_result *members[MAX_MEMBERS];
        for (size_t m = 0; m < k; m++) members[m] = &res[m];
        const tsl_bt_result *scored = &res[0];
        if (k > 1) {
            ok = !tsl_bt_combine(members, NULL, k, median, y, n, &plan, st->levels, st->nq, &comb,
                                 NULL) &&
                 comb.ok;
            scored = &comb;
        }
        if (ok) {
            /* As AutoML ranks a series: its metric, or MAE where the metric is undefined. */
            t->score = tsl_bt_score(scored, st->metric);
            if (isnan(t->score)) t->score = tsl_bt_score(scored, TSL_METRIC_MAE);
        }
    }
    for (size_t m = 0; m < done; m++) tsl_bt_result_release(&res[m]);
    tsl_bt_result_release(&comb);
}

/* Compares one group with its entry's champion: fills o. */
static tsl_err compare_group(pl_ctx *c, const settings *st, const json_t *gj, json_t *o,
                             size_t *refits, tsl_diag *d) {
    const char *entry = json_string_value(json_object_get(gj, "entry"));
    tsl_store_model champ;
    int found = 0;
    tsl_err rc = tsl_store_model_champion(c->s, entry, &champ, &found, d);
    if (rc) return rc;
    json_object_set_new(o, "entry", json_string(entry));
    json_object_set_new(o, "key", json_incref(json_object_get(gj, "key")));
    json_object_set_new(o, "challenger_all", json_incref(json_object_get(gj, "score")));
    if ((rc = tsl_pl_recent(c, gj, o, d))) return rc;
    if (!found) {
        json_object_set_new(o, "champion", json_null());
        return TSL_OK;
    }
    json_t *choices = json_loads(champ.choices, 0, NULL);
    json_t *theirs = json_object_get(choices, "items");
    json_t *items =
        json_object_get(tsl_pl_detail(c, json_string_value(json_object_get(gj, "key"))), "items");
    size_t ni = json_array_size(items), ntask = 0, new_items = 0, unscored = 0;
    refit_task *tasks = tsl_calloc(ni ? ni : 1, sizeof *tasks);
    double *mine = tsl_calloc(ni ? ni : 1, sizeof *mine);
    double *nested = tsl_calloc(ni ? ni : 1, sizeof *nested);
    double *champ_score = tsl_calloc(ni ? ni : 1, sizeof *champ_score);
    long *task_of = tsl_calloc(ni ? ni : 1, sizeof *task_of);
    for (size_t i = 0; i < ni; i++) {
        json_t *it = json_array_get(items, i);
        const char *item = json_string_value(json_object_get(it, "item"));
        json_t *ch = json_object_get(theirs, item);
        const char *choice = json_string_value(json_object_get(ch, "choice"));
        mine[i] = nested[i] = champ_score[i] = NAN;
        task_of[i] = -1;
        if (!choice) {
            new_items++;
            continue;
        }
        json_t *a = json_object_get(it, "score"), *na = json_object_get(it, "auto");
        mine[i] = json_is_number(a) ? json_number_value(a) : NAN;
        nested[i] = json_is_number(na) ? json_number_value(na) : NAN;
        json_t *v = json_object_get(json_object_get(it, "scores"), choice);
        if (json_is_number(v)) {
            champ_score[i] = json_number_value(v);
        } else {
            task_of[i] = (long)ntask;
            tasks[ntask++] = (refit_task){item, choice, NAN};
        }
    }
    /* Choices that are not columns of this run: backtest them here, on the snapshot the
     * challenger was trained on (skipped when the data moved since: not comparable). */
    if (ntask) {
        const char *trained = json_string_value(json_object_get(c->out[PL_AUTOML], "dataset_hash"));
        tsl_diag sd = {TSL_OK, {0}};
        tsl_err sr = tsl_pl_snapshot(c, trained, &sd);
        if (sr && sr != TSL_ECONFLICT) {
            rc = tsl_diag_set(d, sr, "%s", tsl_diag_msg(&sd));
            goto out;
        }
        if (!sr) {
            refit_ctx rx = {c->ds, st, tasks};
            tsl_pool *pool = tsl_pool_new(c->o->threads);
            tsl_pool_run(pool, ntask, refit_one, &rx);
            tsl_pool_free(pool);
            for (size_t i = 0; i < ni; i++)
                if (task_of[i] >= 0) champ_score[i] = tasks[task_of[i]].score;
        }
        *refits += ntask;
    }
    double sa = 0, sc = 0, sn = 0;
    size_t k = 0, kn = 0;
    for (size_t i = 0; i < ni; i++) {
        if (isnan(mine[i]) || isnan(champ_score[i])) continue;
        sa += mine[i];
        sc += champ_score[i];
        k++;
        if (!isnan(nested[i])) {
            sn += nested[i];
            kn++;
        }
    }
    unscored = ni - new_items - k; /* both forecast it, but one of them has no score there */
    json_t *cj = json_object();
    json_object_set_new(cj, "version", json_integer(champ.version));
    json_object_set_new(cj, "score", tsl_pl_num(k ? sc / (double)k : NAN));
    json_object_set_new(cj, "challenger_score", tsl_pl_num(k ? sa / (double)k : NAN));
    json_object_set_new(cj, "challenger_nested", tsl_pl_num(kn == k && k ? sn / (double)k : NAN));
    json_object_set_new(cj, "compared_series", json_integer((json_int_t)k));
    json_object_set_new(cj, "refit_series", json_integer((json_int_t)ntask));
    json_object_set_new(cj, "new_series", json_integer((json_int_t)new_items));
    json_object_set_new(cj, "not_comparable", json_integer((json_int_t)unscored));
    json_object_set_new(o, "champion", cj);
out:
    tsl_free(tasks);
    tsl_free(mine);
    tsl_free(nested);
    tsl_free(champ_score);
    tsl_free(task_of);
    json_decref(choices);
    tsl_store_model_release(&champ);
    return rc;
}

tsl_err tsl_pl_step_compare(pl_ctx *c, tsl_diag *d) {
    json_t *groups = tsl_pl_groups(c);
    settings st;
    tsl_err rc = read_settings(json_object_get(c->out[PL_AUTOML], "settings"), &st, d);
    if (rc || (rc = tsl_pl_models(c, d))) return rc;
    if (!groups) return tsl_diag_set(d, TSL_EINTERNAL, "the automl output has no groups");
    json_t *out = json_object(), *arr = json_array();
    json_object_set_new(out, "metric", json_string(tsl_metric_name(st.metric)));
    size_t with = 0, refits = 0;
    for (size_t i = 0; i < json_array_size(groups); i++) {
        json_t *o = json_object();
        rc = compare_group(c, &st, json_array_get(groups, i), o, &refits, d);
        if (rc) {
            json_decref(o);
            break;
        }
        with += !json_is_null(json_object_get(o, "champion"));
        json_array_append_new(arr, o);
    }
    json_object_set_new(out, "groups", arr);
    if (rc) {
        json_decref(out);
        return rc;
    }
    snprintf(c->summary, sizeof c->summary, "%zu of %zu group%s with a champion, %zu refit", with,
             json_array_size(groups), json_array_size(groups) == 1 ? "" : "s", refits);
    c->result = out;
    return TSL_OK;
}
