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
 *
 * Memory while loading. The version's JSON documents are large: the bundle's metadata carries
 * the data set's baseline statistics (per item: about 700 bytes of text for each series) and
 * the choices about 300 bytes per series. Parsed into jansson trees they cost six times their
 * text (a 75 MB metadata became 440 MB of nodes for 100,000 series, which was the daemon's
 * peak), yet a load needs two small things from them: the settings and each series' training
 * end. So they are not parsed: a scanner (jscan.c) walks the text, skipping values it does not
 * need, and only the settings object - a few hundred bytes - goes to jansson. Once every model
 * is decoded the bundle's bytes (serialized models, metadata) are dropped and only its index
 * stays, for the item lookups of the request path. bench/daemon_memory.sh measures the whole.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/jscan.h"
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

/* ---- loading ---- */

/* The version's settings from its bundle's metadata: frequency, horizon, levels. Only the
 * "settings" member is parsed (see the top of the file). */
static tsl_err read_settings(tsl_served *sv, tsl_diag *d) {
    const char *text = tsl_bundle_meta(sv->bundle), *v = NULL, *vend = NULL;
    json_t *st = NULL;
    if (tsl_jscan_member(text, text + tsl_bundle_meta_len(sv->bundle), "settings", &v, &vend) == 1)
        st = json_loadb(v, (size_t)(vend - v), 0, NULL);
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
    json_decref(st);
    return err;
}

/* Each series' training end from the version's choices text (items.<item>.end, an integer):
 * ends[i] and has_end[i] by bundle entry. Walks the text; anything it cannot read (no choices,
 * a malformed document, an item without an integer end) leaves that series without an end,
 * which catch_up handles. */
static void read_ends(const tsl_served *sv, const char *choices, int64_t *ends, char *has_end) {
    const char *end = choices + strlen(choices), *items = NULL, *iend = NULL;
    if (tsl_jscan_member(choices, end, "items", &items, &iend) != 1 || *items != '{') return;
    const char *p = items + 1, *key = NULL, *v = NULL, *vend = NULL;
    size_t klen = 0;
    while (tsl_jscan_next(&p, iend, &key, &klen, &v, &vend) == 1) {
        char id[TSL_BUNDLE_MAX_KEY + 1];
        const char *e = NULL, *eend = NULL;
        if (klen > TSL_BUNDLE_MAX_KEY) continue;
        if (memchr(key, '\\', klen)) {
            /* An escaped key (quotes, control characters): jansson decodes it. */
            json_t *k = json_loadb(key - 1, klen + 2, JSON_DECODE_ANY, NULL);
            const char *ks = json_string_value(k);
            if (ks) tsl_strlcpy(id, ks, sizeof id);
            json_decref(k);
            if (!ks) continue;
        } else {
            memcpy(id, key, klen);
            id[klen] = '\0';
        }
        long at = tsl_bundle_find(sv->bundle, id);
        if (at < 0 || tsl_jscan_member(v, vend, "end", &e, &eend) != 1) continue;
        char num[32];
        size_t nlen = (size_t)(eend - e);
        if (nlen == 0 || nlen >= sizeof num) continue;
        memcpy(num, e, nlen);
        num[nlen] = '\0';
        char *stop = NULL;
        errno = 0;
        long long x = strtoll(num, &stop, 10);
        if (errno || *stop) continue; /* not an integer (a real, null, a string) */
        ends[at] = (int64_t)x;
        has_end[at] = 1;
    }
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
    /* The order keeps the large texts apart: the artifact with its metadata copy first, the
     * metadata (mostly baseline statistics, as large as the models) dropped once the settings
     * are read, and only then the choices. */
    if ((err = tsl_store_model_artifact(s, dp->forecaster, dp->version, &art, &len, d))) goto out;
    err = tsl_bundle_adopt(art, len, &sv->bundle, d);
    art = NULL; /* adopted, or freed on failure */
    if (err) goto out;
    if ((err = read_settings(sv, d))) goto out;
    tsl_bundle_drop_meta(sv->bundle);
    if ((err = tsl_store_model_get(s, dp->forecaster, dp->version, &m, d))) goto out;
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
    /* The training ends, read from the choices text before the models take their room; the
     * text goes at once. */
    ends = tsl_calloc(sv->n ? sv->n : 1, sizeof *ends);
    has_end = tsl_calloc(sv->n ? sv->n : 1, 1);
    read_ends(sv, m.choices ? m.choices : "{}", ends, has_end);
    tsl_free(m.choices);
    m.choices = NULL;
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
    /* Every model is decoded: the bytes they came from would only double their memory. */
    tsl_bundle_drop_bytes(sv->bundle);
    tsl_diag_clear(d);
out:
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
