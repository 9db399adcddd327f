/*
 * registry.c - registry entries of model groups, version references, a forecaster's versions
 * and the comparison of two versions (see registry.h).
 *
 * Naming a group's entry has to satisfy three things at once: the name must be a valid store
 * name (1-64 bytes of [A-Za-z0-9_.-]), people must recognise the group in it (`tsloop models
 * list` shows solar.north, not a hash), and two different groups must never share an entry,
 * or one group's versions would be compared with - and approved as the champion of - another's.
 * Values that are already clean and short are used as they are, and the mapping is then
 * injective on its own (values joined by '.', which a clean value never contains). Whenever the
 * cleaning changed a byte or the name had to be cut, the SHA-256 of the exact group key is
 * appended (32 bits of it, hex): a cleaned name always carries that suffix and a clean one
 * never does, so a clean group cannot collide with a cleaned one, and two cleaned ones collide
 * only if their hashes do (one chance in four billion per pair, and the pipeline refuses to
 * register when it happens: see the metrics' group key check in pipeline_register.c).
 */
#include "tsloop/registry.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "tsloop/config.h"
#include "tsloop/mem.h"

#define HASH_HEX 8

void tsl_registry_group_key(const char *const *values, size_t n, tsl_wbuf *out) {
    if (n == 0) return;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, json_string(values[i]));
    char *text = json_dumps(arr, JSON_COMPACT);
    tsl_wbuf_puts(out, text);
    free(text); /* jansson's allocation */
    json_decref(arr);
}

/* 1 when c may appear in a cleaned value. */
static int clean_char(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

tsl_err tsl_registry_entry_name(const char *forecaster, const char *const *values, size_t n,
                                char *out, tsl_diag *d) {
    if (!tsl_config_name_valid(forecaster))
        return tsl_diag_set(d, TSL_EINVAL, "forecaster name '%s' is not valid", forecaster);
    size_t flen = strlen(forecaster);
    if (n == 0) {
        tsl_strlcpy(out, forecaster, TSL_STORE_NAME_MAX + 1);
        return TSL_OK;
    }
    if (flen + 1 + HASH_HEX > TSL_STORE_NAME_MAX)
        return tsl_diag_set(d, TSL_EINVAL,
                            "forecaster '%s' has split_by, so its name may have at most %d "
                            "characters (its groups are registered as NAME.VALUE)",
                            forecaster, TSL_STORE_NAME_MAX - 1 - HASH_HEX);
    tsl_wbuf v;
    tsl_wbuf_init(&v);
    int altered = 0;
    for (size_t i = 0; i < n; i++) {
        if (i) tsl_wbuf_putc(&v, '.');
        const unsigned char *p = (const unsigned char *)values[i];
        if (!*p) { /* an empty value still needs a place between the dots */
            altered = 1;
            tsl_wbuf_putc(&v, '_');
        }
        for (int dash = 0; *p; p++) {
            if (clean_char(*p)) {
                tsl_wbuf_putc(&v, (char)*p);
                dash = 0;
            } else {
                altered = 1;
                if (!dash) tsl_wbuf_putc(&v, '-');
                dash = 1;
            }
        }
    }
    size_t room = TSL_STORE_NAME_MAX - flen - 1; /* bytes after "FORECASTER." */
    if (v.len > room) altered = 1;
    if (altered) {
        tsl_wbuf key;
        tsl_wbuf_init(&key);
        tsl_registry_group_key(values, n, &key);
        unsigned char h[crypto_hash_sha256_BYTES];
        crypto_hash_sha256(h, key.data, key.len);
        tsl_wbuf_release(&key);
        char hex[2 * crypto_hash_sha256_BYTES + 1];
        sodium_bin2hex(hex, sizeof hex, h, sizeof h);
        size_t keep = room - HASH_HEX - 1; /* "-" + hash after the kept part */
        if (v.len < keep) keep = v.len;
        if (room < HASH_HEX + 1) keep = 0;
        /* A cut must not end on the separator or a dash (it would read as a different split). */
        while (keep > 0 && (v.data[keep - 1] == '.' || v.data[keep - 1] == '-')) keep--;
        v.len = keep;
        if (keep) tsl_wbuf_putc(&v, '-');
        tsl_wbuf_put(&v, hex, HASH_HEX);
    }
    snprintf(out, TSL_STORE_NAME_MAX + 1, "%s.%s", forecaster, tsl_wbuf_cstr(&v));
    tsl_wbuf_release(&v);
    return TSL_OK;
}

tsl_err tsl_registry_ref_parse(const char *text, char *name, int *version, tsl_diag *d) {
    const char *slash = strrchr(text, '/');
    size_t len = slash ? (size_t)(slash - text) : strlen(text);
    *version = 0;
    if (len == 0 || len > TSL_STORE_NAME_MAX)
        return tsl_diag_set(d, TSL_EINVAL,
                            "'%s' is not a model version, expected NAME/VERSION "
                            "(e.g. solar/3) or NAME",
                            text);
    memcpy(name, text, len);
    name[len] = '\0';
    if (!tsl_config_name_valid(name))
        return tsl_diag_set(d, TSL_EINVAL,
                            "'%s' is not a model version: '%s' is not a valid name, expected "
                            "NAME/VERSION (e.g. solar/3)",
                            text, name);
    if (slash) {
        char *end = NULL;
        errno = 0;
        long v = strtol(slash + 1, &end, 10);
        if (errno || end == slash + 1 || *end || v < 1 || v > 1000000000)
            return tsl_diag_set(d, TSL_EINVAL,
                                "'%s' is not a model version: '%s' is not a version number, "
                                "expected NAME/VERSION with VERSION 1, 2, ...",
                                text, slash + 1);
        *version = (int)v;
    }
    return TSL_OK;
}

/* The "forecaster" member of a version's metrics, or NULL (the caller frees). */
static char *metrics_forecaster(const char *metrics) {
    json_t *root = json_loads(metrics ? metrics : "{}", 0, NULL);
    const char *f = json_string_value(json_object_get(root, "forecaster"));
    char *out = f ? tsl_strdup(f) : NULL;
    json_decref(root);
    return out;
}

tsl_err tsl_registry_versions(tsl_store *s, const char *forecaster, tsl_store_model **out,
                              size_t *n, tsl_diag *d) {
    tsl_store_model *all = NULL;
    size_t nall = 0, k = 0;
    tsl_err rc = tsl_store_model_list(s, NULL, &all, &nall, d);
    *out = NULL;
    *n = 0;
    if (rc) return rc;
    if (!forecaster) {
        *out = all;
        *n = nall;
        return TSL_OK;
    }
    /* Newest first across entries: the store lists by entry, so sort by creation. */
    for (size_t i = 0; i < nall; i++) {
        char *f = metrics_forecaster(all[i].metrics);
        int mine = !strcmp(all[i].forecaster, forecaster) || (f && !strcmp(f, forecaster));
        tsl_free(f);
        if (mine)
            all[k++] = all[i];
        else
            tsl_store_model_release(&all[i]);
    }
    for (size_t i = 1; i < k; i++) /* insertion sort: stable, lists are short */
        for (size_t j = i;
             j > 0 && (all[j - 1].created_ms < all[j].created_ms ||
                       (all[j - 1].created_ms == all[j].created_ms && all[j - 1].id < all[j].id));
             j--) {
            tsl_store_model t = all[j];
            all[j] = all[j - 1];
            all[j - 1] = t;
        }
    *out = all;
    *n = k;
    return TSL_OK;
}

/* ---- diff ---- */

/* Collects the numeric leaves of obj under prefix into names/values (arrays skipped). */
static void flatten(json_t *obj, const char *prefix, json_t *acc) {
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        char name[256];
        snprintf(name, sizeof name, "%s%s%s", prefix, prefix[0] ? "." : "", key);
        if (json_is_object(v))
            flatten(v, name, acc);
        else if (json_is_number(v))
            json_object_set_new(acc, name, json_real(json_number_value(v)));
    }
}

/* Loads a version (the latest when version is 0). */
static tsl_err get_version(tsl_store *s, const char *entry, int version, tsl_store_model *out,
                           tsl_diag *d) {
    if (version > 0) return tsl_store_model_get(s, entry, version, out, d);
    tsl_store_model *list = NULL;
    size_t n = 0;
    tsl_err rc = tsl_store_model_list(s, entry, &list, &n, d);
    if (rc) return rc;
    if (n == 0) {
        tsl_store_model_list_free(list, n);
        return tsl_diag_set(d, TSL_ENOTFOUND, "no model version of '%s' is registered", entry);
    }
    *out = list[0];
    memset(&list[0], 0, sizeof list[0]);
    tsl_store_model_list_free(list, n);
    return TSL_OK;
}

/* The number v holds, or NaN. */
static double num_or_nan(json_t *v) {
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* A copy of the string v holds, or NULL. */
static char *str_or_null(json_t *v) {
    return json_is_string(v) ? tsl_strdup(json_string_value(v)) : NULL;
}

/* qsort order of diff rows: by item. */
static int cmp_row(const void *a, const void *b) {
    return strcmp(((const tsl_registry_diff_row *)a)->item,
                  ((const tsl_registry_diff_row *)b)->item);
}

/* qsort order of diff metrics: by name. */
static int cmp_metric(const void *a, const void *b) {
    return strcmp(((const tsl_registry_diff_metric *)a)->name,
                  ((const tsl_registry_diff_metric *)b)->name);
}

/* 1 when both texts are NULL or equal. */
static int same_text(const char *x, const char *y) {
    return (!x && !y) || (x && y && !strcmp(x, y));
}

tsl_err tsl_registry_diff_make(tsl_store *s, const char *a_entry, int a_version,
                               const char *b_entry, int b_version, tsl_registry_diff *out,
                               tsl_diag *d) {
    tsl_err rc;
    json_t *ma = NULL, *mb = NULL, *ca = NULL, *cb = NULL, *fa = json_object(), *fb = json_object();
    memset(out, 0, sizeof *out);
    if ((rc = get_version(s, a_entry, a_version, &out->a, d)) ||
        (rc = get_version(s, b_entry, b_version, &out->b, d)))
        goto out;
    ma = json_loads(out->a.metrics, 0, NULL);
    mb = json_loads(out->b.metrics, 0, NULL);
    ca = json_loads(out->a.choices, 0, NULL);
    cb = json_loads(out->b.choices, 0, NULL);
    if (json_is_object(ma)) flatten(ma, "", fa);
    if (json_is_object(mb)) flatten(mb, "", fb);
    /* Metrics: the union of both versions' names. */
    json_t *names = json_deep_copy(fa);
    json_object_update(names, fb);
    out->metrics = tsl_calloc(json_object_size(names) + 1, sizeof *out->metrics);
    const char *key;
    json_t *v;
    json_object_foreach(names, key, v) {
        tsl_registry_diff_metric *m = &out->metrics[out->nmetrics++];
        m->name = tsl_strdup(key);
        m->a = num_or_nan(json_object_get(fa, key));
        m->b = num_or_nan(json_object_get(fb, key));
    }
    json_decref(names);
    qsort(out->metrics, out->nmetrics, sizeof *out->metrics, cmp_metric);
    /* Series: the union of both versions' items. */
    json_t *ia = json_object_get(ca, "items"), *ib = json_object_get(cb, "items");
    size_t cap = json_object_size(ia) + json_object_size(ib) + 1;
    out->rows = tsl_calloc(cap, sizeof *out->rows);
    json_object_foreach(ia, key, v) {
        tsl_registry_diff_row *r = &out->rows[out->nrows++];
        r->item = tsl_strdup(key);
        r->a_choice = str_or_null(json_object_get(v, "choice"));
        r->a_model = str_or_null(json_object_get(v, "model"));
        r->a_score = num_or_nan(json_object_get(v, "score"));
        json_t *w = json_object_get(ib, key);
        r->b_score = NAN;
        if (!w) {
            out->only_a++;
            continue;
        }
        r->b_choice = str_or_null(json_object_get(w, "choice"));
        r->b_model = str_or_null(json_object_get(w, "model"));
        r->b_score = num_or_nan(json_object_get(w, "score"));
        if (same_text(r->a_choice, r->b_choice) && same_text(r->a_model, r->b_model))
            out->same++;
        else
            out->changed++;
    }
    json_object_foreach(ib, key, v) {
        if (json_object_get(ia, key)) continue;
        tsl_registry_diff_row *r = &out->rows[out->nrows++];
        r->item = tsl_strdup(key);
        r->a_score = NAN;
        r->b_choice = str_or_null(json_object_get(v, "choice"));
        r->b_model = str_or_null(json_object_get(v, "model"));
        r->b_score = num_or_nan(json_object_get(v, "score"));
        out->only_b++;
    }
    qsort(out->rows, out->nrows, sizeof *out->rows, cmp_row);
out:
    json_decref(ma);
    json_decref(mb);
    json_decref(ca);
    json_decref(cb);
    json_decref(fa);
    json_decref(fb);
    if (rc) tsl_registry_diff_release(out);
    return rc;
}

void tsl_registry_diff_release(tsl_registry_diff *df) {
    tsl_store_model_release(&df->a);
    tsl_store_model_release(&df->b);
    for (size_t i = 0; i < df->nmetrics; i++) tsl_free(df->metrics[i].name);
    tsl_free(df->metrics);
    for (size_t i = 0; i < df->nrows; i++) {
        tsl_registry_diff_row *r = &df->rows[i];
        tsl_free(r->item);
        tsl_free(r->a_choice);
        tsl_free(r->a_model);
        tsl_free(r->b_choice);
        tsl_free(r->b_model);
    }
    tsl_free(df->rows);
    memset(df, 0, sizeof *df);
}
