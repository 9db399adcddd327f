/*
 * served.c - loading a deployed version for serving, and its reference count.
 *
 * Loading does all the slow work before a version is switched in: the artifact is read and
 * checked (SHA-256, by the store), every model is decoded once, and each model is brought up
 * to date with the observations ingested after its training end - tsl_model_update absorbs
 * them without refitting, so a forecast starts from the latest ground truth. The training end
 * of each series is recorded by the training pipeline in the version's choices JSON
 * ("end", seconds); a version registered before that was recorded has none, and its models
 * are then served from the end of their series as stored now, without an update (the best
 * that can be done without knowing where training stopped; the log says so).
 *
 * Only what is new is read: the data set's item list (each series' last timestamp) and, for a
 * series that moved past its training end, the observations after it (tsl_store_item_tail) -
 * never the whole history. Decoding every model up front rather than lazily keeps the request
 * path free of locks and allocation: a forecast only reads an immutable model. Memory is the
 * price, measured by bench/bench_served.c (about 2 KiB per series).
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon_impl.h"
#include "tsloop/mem.h"

void tsl_served_ref(tsl_served *sv) {
    atomic_fetch_add_explicit(&sv->refs, 1, memory_order_relaxed);
}

/* Frees a served version and everything it holds. */
static void served_free(tsl_served *sv) {
    for (size_t i = 0; i < sv->n; i++) tsl_model_free(sv->models[i]);
    tsl_free(sv->models);
    tsl_free(sv->origin);
    tsl_bundle_free(sv->bundle);
    tsl_free(sv->endpoint);
    tsl_free(sv->forecaster);
    tsl_free(sv->dataset);
    tsl_free(sv);
}

void tsl_served_unref(tsl_served *sv) {
    if (!sv) return;
    /* acq_rel: the thread that frees must see every other thread's use finished. */
    if (atomic_fetch_sub_explicit(&sv->refs, 1, memory_order_acq_rel) == 1) served_free(sv);
}

/* The version's settings from its bundle's metadata: frequency, horizon, levels. */
static tsl_err read_settings(tsl_served *sv, tsl_diag *d) {
    json_error_t je;
    json_t *meta = json_loads(tsl_bundle_meta(sv->bundle), 0, &je);
    json_t *st = json_object_get(meta, "settings");
    const char *freq = json_string_value(json_object_get(st, "frequency"));
    json_int_t h = json_integer_value(json_object_get(st, "horizon"));
    json_t *lv = json_object_get(st, "levels");
    tsl_err err = TSL_OK;
    if (!freq || h < 1 || !json_is_array(lv) || json_array_size(lv) > TSL_METRICS_MAX_LEVELS) {
        err = tsl_diag_set(d, TSL_ECORRUPT,
                           "%s/%d: the bundle's metadata has no settings (frequency, horizon, "
                           "levels); was it made by the training pipeline?",
                           sv->forecaster, sv->version);
        goto out;
    }
    if ((err = tsl_freq_parse(freq, &sv->freq, d))) goto out;
    sv->horizon = (size_t)h;
    sv->nq = json_array_size(lv);
    for (size_t i = 0; i < sv->nq; i++) sv->levels[i] = json_number_value(json_array_get(lv, i));
    err = tsl_quantile_levels_check(sv->levels, sv->nq, TSL_METRICS_MAX_LEVELS, d);
out:
    json_decref(meta);
    return err;
}

/* Brings model i up to date. item is the data set's record of its series (NULL: the data set
 * has no such item now); end is the training end from the choices (has_end 0: unknown). Reads
 * only the observations after the end (tsl_store_item_tail), laid out on the frequency's grid
 * with NaN in gaps; anything off the grid leaves the model as trained. */
static void catch_up(tsl_served *sv, size_t i, tsl_store *s, const tsl_store_item *item,
                     int has_end, int64_t end) {
    if (!item) {
        if (has_end)
            sv->origin[i] = end;
        else {
            tsl_model_free(sv->models[i]);
            sv->models[i] = NULL;
        }
        return;
    }
    if (!has_end) { /* a version from before training ends were recorded */
        sv->origin[i] = item->t_max;
        return;
    }
    sv->origin[i] = end;
    int64_t k = 0;
    if (item->t_max <= end || tsl_freq_steps(sv->freq, end, item->t_max, &k) || k < 1) return;
    int64_t *t = NULL;
    double *v = NULL, *y = NULL;
    size_t n = 0;
    tsl_diag td = {TSL_OK, {0}};
    if (tsl_store_item_tail(s, sv->dataset, item->item_id, end, &t, &v, &n, &td)) goto out;
    y = tsl_malloc((size_t)k * sizeof *y);
    for (int64_t j = 0; j < k; j++) y[j] = NAN;
    for (size_t p = 0; p < n; p++) {
        int64_t at = 0;
        if (tsl_freq_steps(sv->freq, end, t[p], &at) || at < 1 || at > k) goto out;
        y[at - 1] = v[p];
    }
    if (tsl_model_update(sv->models[i], y, (size_t)k, NULL, &td)) goto out;
    sv->origin[i] = item->t_max;
    sv->updated++;
out:
    tsl_free(t);
    tsl_free(v);
    tsl_free(y);
}

tsl_err tsl_served_load(tsl_store *s, const tsl_store_deployment *dp, tsl_served **out,
                        tsl_diag *d) {
    tsl_served *sv = tsl_calloc(1, sizeof *sv);
    tsl_store_model m = {0};
    tsl_store_item *il = NULL; /* the data set's items, by item id like the bundle */
    size_t nil = 0, j = 0;
    json_t *choices = NULL;
    int64_t *ends = NULL; /* by bundle entry: the training end from the choices */
    char *has_end = NULL;
    void *art = NULL;
    size_t len = 0;
    tsl_err err;
    atomic_init(&sv->refs, 1);
    sv->endpoint = tsl_strdup(dp->endpoint);
    sv->forecaster = tsl_strdup(dp->forecaster);
    sv->version = dp->version;
    sv->deployment_id = dp->id;
    sv->model_id = dp->model_id;
    if ((err = tsl_store_model_get(s, dp->forecaster, dp->version, &m, d))) goto out;
    if ((err = tsl_store_model_artifact(s, dp->forecaster, dp->version, &art, &len, d))) goto out;
    err = tsl_bundle_adopt(art, len, &sv->bundle, d);
    art = NULL; /* adopted, or freed on failure */
    if (err) goto out;
    if ((err = read_settings(sv, d))) goto out;
    sv->n = tsl_bundle_count(sv->bundle);
    sv->models = tsl_calloc(sv->n ? sv->n : 1, sizeof *sv->models);
    sv->origin = tsl_calloc(sv->n ? sv->n : 1, sizeof *sv->origin);
    if (m.dataset) {
        /* The hash first: data arriving during the reads below changes it again, and the
         * poller then loads once more. */
        tsl_store_dataset ds;
        memset(&ds, 0, sizeof ds);
        sv->dataset = tsl_strdup(m.dataset);
        err = tsl_store_dataset_get(s, m.dataset, &ds, d);
        if (!err) {
            memcpy(sv->dataset_hash, ds.hash, sizeof sv->dataset_hash);
            err = tsl_store_item_list(s, m.dataset, &il, &nil, d);
        }
        tsl_store_dataset_release(&ds);
        if (err == TSL_ENOTFOUND) err = TSL_OK; /* no data (any more): served as trained */
        if (err) goto out;
    }
    /* Each series' training end, taken out of the choices before any model is decoded: the
     * choices as a JSON tree take about 1 KiB per series, and dropping the tree (and its text)
     * first means it is not held while the models are decoded. */
    json_error_t je;
    choices = json_loads(m.choices ? m.choices : "{}", 0, &je);
    tsl_free(m.choices);
    m.choices = NULL;
    json_t *items = json_object_get(choices, "items");
    ends = tsl_calloc(sv->n ? sv->n : 1, sizeof *ends);
    has_end = tsl_calloc(sv->n ? sv->n : 1, 1);
    for (size_t i = 0; i < sv->n; i++) {
        tsl_bundle_entry e;
        tsl_bundle_entry_at(sv->bundle, i, &e);
        json_t *endj = json_object_get(json_object_get(items, e.item_id), "end");
        has_end[i] = json_is_integer(endj);
        ends[i] = (int64_t)json_integer_value(endj);
    }
    json_decref(choices);
    choices = NULL;
    for (size_t i = 0; i < sv->n; i++) {
        tsl_bundle_entry e;
        tsl_bundle_entry_at(sv->bundle, i, &e);
        if (tsl_bundle_load(sv->bundle, i, &sv->models[i], d)) {
            sv->models[i] = NULL; /* a damaged model: that item answers with an error */
            continue;
        }
        while (j < nil && strcmp(il[j].item_id, e.item_id) < 0) j++;
        const tsl_store_item *it = j < nil && !strcmp(il[j].item_id, e.item_id) ? &il[j] : NULL;
        catch_up(sv, i, s, it, has_end[i], ends[i]);
    }
    tsl_diag_clear(d);
out:
    json_decref(choices);
    tsl_free(ends);
    tsl_free(has_end);
    tsl_store_item_list_free(il, nil);
    tsl_store_model_release(&m);
    tsl_free(art);
    if (err) {
        served_free(sv);
        sv = NULL;
    }
    *out = sv;
    return err;
}
