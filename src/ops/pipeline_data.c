/*
 * pipeline_data.c - the pipeline's look at the data itself: the snapshot the steps share, the
 * validate step and its checks, and the baseline step and its statistics.
 *
 * One snapshot per execution. The data set keeps changing while a pipeline runs (ingests do
 * not wait for training), so the steps must agree on which state of it they describe: the
 * lineage hash of a version has to be the hash of the very points its models were fitted on,
 * and its baseline has to describe those same points. In one run of the worker the snapshot is
 * loaded once and shared. A run that resumes after a crash loads it again and compares the
 * content hash with the one the earlier steps recorded: automl re-runs the checks when the
 * data moved after validation (and records that it did); the later steps, which describe what
 * automl trained on, refuse a snapshot that is not the one trained on, and the execution fails
 * with that reason instead of registering a baseline of other data.
 *
 * The checks and the statistics are deliberately small here - the data set loads, is not
 * empty, every series has data, the split_by dimensions exist; per series count, mean,
 * standard deviation and missing share - and live in two functions of their own,
 * tsl_pl_check_data and tsl_pl_data_baseline: the data-quality checks and the richer baseline
 * of quality.h replace their bodies without touching the steps around them.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/pipeline_impl.h"
#include "tsloop/mem.h"

#define MAX_LISTED 10 /* errors or warnings spelled out in a message */

json_t *tsl_pl_num(double v) {
    return isfinite(v) ? json_real(v) : json_null();
}

char *tsl_pl_dump(const json_t *j) {
    char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    char *copy = tsl_strdup(text ? text : "null");
    free(text); /* jansson's allocation */
    return copy;
}

tsl_err tsl_pl_snapshot(pl_ctx *c, const char *want_hash, tsl_diag *d) {
    if (!c->ds) {
        tsl_err rc = tsl_store_dataset_load(c->s, c->dsc->name, NULL, 0, 0, &c->ds, c->hash, d);
        if (rc == TSL_ENOTFOUND || rc == TSL_ESHORT)
            return tsl_diag_set(d, rc,
                                "data set '%s' has no observations yet, expected data: run "
                                "`tsloop ingest FILE --dataset %s` first",
                                c->dsc->name, c->dsc->name);
        if (rc) return rc;
    }
    if (want_hash && strcmp(want_hash, c->hash) != 0)
        return tsl_diag_set(d, TSL_ECONFLICT,
                            "data set '%s' changed since the models were trained (content hash "
                            "%.12s then, %.12s now), so this step cannot describe the data they "
                            "were trained on; run `tsloop train` again",
                            c->dsc->name, want_hash, c->hash);
    return TSL_OK;
}

/* Appends a message to a JSON array and, for the first MAX_LISTED, to text. */
static void note(json_t *arr, tsl_wbuf *text, const char *msg) {
    if (json_array_size(arr) < MAX_LISTED) {
        if (text->len) tsl_wbuf_puts(text, "; ");
        tsl_wbuf_puts(text, msg);
    }
    json_array_append_new(arr, json_string(msg));
}

tsl_err tsl_pl_check_data(const tsl_config_forecaster *f, const tsl_config_dataset *dsc,
                          const tsl_dataset *ds, json_t *report, tsl_diag *d) {
    json_t *errors = json_array(), *warnings = json_array();
    tsl_wbuf etext;
    tsl_wbuf_init(&etext);
    char msg[512];
    uint64_t points = 0, missing = 0, short_series = 0;
    if (ds->nseries == 0) note(errors, &etext, "the data set has no series");
    for (size_t i = 0; i < ds->nseries; i++) {
        const tsl_series *s = &ds->series[i];
        size_t observed = 0, negative = 0;
        for (size_t t = 0; t < s->n; t++) {
            observed += !isnan(s->y[t]);
            negative += s->y[t] < 0;
        }
        points += s->n;
        missing += s->n - observed;
        if (observed == 0) {
            snprintf(msg, sizeof msg, "series '%s' has no observed value (%zu missing)", s->item_id,
                     s->n);
            note(errors, &etext, msg);
        } else if (observed < (size_t)f->horizon) {
            short_series++;
        }
        if (negative && dsc->non_negative) {
            snprintf(msg, sizeof msg,
                     "series '%s' has %zu negative values although data set '%s' is declared "
                     "non_negative",
                     s->item_id, negative, dsc->name);
            note(warnings, &etext, msg);
        }
    }
    if (short_series) {
        snprintf(msg, sizeof msg,
                 "%llu series have fewer observed values than the horizon (%d): they get a "
                 "fallback model without a backtest",
                 (unsigned long long)short_series, f->horizon);
        json_array_append_new(warnings, json_string(msg));
    }
    for (size_t k = 0; k < f->nsplit; k++) {
        int found = 0;
        for (size_t j = 0; j < ds->ndims && !found; j++)
            found = !strcmp(ds->dim_names[j], f->split_by[k]);
        if (found) continue;
        tsl_wbuf have;
        tsl_wbuf_init(&have);
        for (size_t j = 0; j < ds->ndims; j++)
            tsl_wbuf_printf(&have, "%s%s", j ? ", " : "", ds->dim_names[j]);
        snprintf(msg, sizeof msg,
                 "split_by dimension '%s' is not a column of data set '%s', expected one of its "
                 "dimensions (%s)",
                 f->split_by[k], dsc->name, have.len ? tsl_wbuf_cstr(&have) : "it has none");
        tsl_wbuf_release(&have);
        note(errors, &etext, msg);
    }
    json_object_set_new(report, "series", json_integer((json_int_t)ds->nseries));
    json_object_set_new(report, "observations", json_integer((json_int_t)(points - missing)));
    json_object_set_new(report, "missing", json_integer((json_int_t)missing));
    size_t nerr = json_array_size(errors);
    json_object_set_new(report, "errors", errors);
    json_object_set_new(report, "warnings", warnings);
    tsl_err rc = TSL_OK;
    if (nerr)
        rc = tsl_diag_set(d, TSL_EINVAL, "data set '%s' failed validation (%zu error%s): %s%s",
                          dsc->name, nerr, nerr == 1 ? "" : "s", tsl_wbuf_cstr(&etext),
                          nerr > MAX_LISTED ? "; ..." : "");
    tsl_wbuf_release(&etext);
    return rc;
}

tsl_err tsl_pl_step_validate(pl_ctx *c, tsl_diag *d) {
    tsl_err rc = tsl_pl_snapshot(c, NULL, d);
    if (rc) return rc;
    json_t *r = json_object();
    json_object_set_new(r, "dataset", json_string(c->dsc->name));
    json_object_set_new(r, "dataset_hash", json_string(c->hash));
    char freq[32];
    tsl_freq_format(c->ds->freq, freq, sizeof freq);
    json_object_set_new(r, "frequency", json_string(freq));
    rc = tsl_pl_check_data(c->f, c->dsc, c->ds, r, d);
    if (rc) {
        json_decref(r);
        return rc;
    }
    /* Announce it: validation is one of the things the event log records (issue 4 §6). */
    json_t *ev = json_pack("{s:s, s:s, s:I, s:s, s:O, s:I}", "dataset", c->dsc->name, "hash",
                           c->hash, "execution", (json_int_t)c->id, "forecaster", c->f->name,
                           "series", json_object_get(r, "series"), "warnings",
                           (json_int_t)json_array_size(json_object_get(r, "warnings")));
    char *payload = tsl_pl_dump(ev);
    char subject[TSL_STORE_NAME_MAX + 16];
    snprintf(subject, sizeof subject, "dataset:%s", c->dsc->name);
    rc = tsl_store_event_append(c->s, "dataset.validated", subject, payload, NULL, d);
    tsl_free(payload);
    json_decref(ev);
    if (rc) {
        json_decref(r);
        return rc;
    }
    snprintf(c->summary, sizeof c->summary, "%lld series, %lld observations, %zu warnings",
             (long long)json_integer_value(json_object_get(r, "series")),
             (long long)json_integer_value(json_object_get(r, "observations")),
             json_array_size(json_object_get(r, "warnings")));
    c->result = r;
    return TSL_OK;
}

tsl_err tsl_pl_data_baseline(const tsl_dataset *ds, json_t **out, tsl_diag *d) {
    (void)d;
    json_t *series = json_object();
    uint64_t points = 0, observed_all = 0;
    for (size_t i = 0; i < ds->nseries; i++) {
        const tsl_series *s = &ds->series[i];
        /* Welford's update: one pass, no cancellation on series far from zero. */
        double mean = 0, m2 = 0, lo = INFINITY, hi = -INFINITY;
        size_t k = 0;
        for (size_t t = 0; t < s->n; t++) {
            double y = s->y[t];
            if (isnan(y)) continue;
            k++;
            double delta = y - mean;
            mean += delta / (double)k;
            m2 += delta * (y - mean);
            lo = y < lo ? y : lo;
            hi = y > hi ? y : hi;
        }
        points += s->n;
        observed_all += k;
        json_t *o = json_object();
        json_object_set_new(o, "count", json_integer((json_int_t)s->n));
        json_object_set_new(o, "observed", json_integer((json_int_t)k));
        json_object_set_new(o, "missing_share",
                            tsl_pl_num(s->n ? (double)(s->n - k) / (double)s->n : NAN));
        json_object_set_new(o, "mean", tsl_pl_num(k ? mean : NAN));
        json_object_set_new(o, "std", tsl_pl_num(k > 1 ? sqrt(m2 / (double)(k - 1)) : NAN));
        json_object_set_new(o, "min", tsl_pl_num(k ? lo : NAN));
        json_object_set_new(o, "max", tsl_pl_num(k ? hi : NAN));
        json_object_set_new(series, s->item_id, o);
    }
    json_t *summary = json_object();
    json_object_set_new(summary, "series", json_integer((json_int_t)ds->nseries));
    json_object_set_new(summary, "count", json_integer((json_int_t)points));
    json_object_set_new(summary, "observed", json_integer((json_int_t)observed_all));
    json_object_set_new(
        summary, "missing_share",
        tsl_pl_num(points ? (double)(points - observed_all) / (double)points : NAN));
    *out = json_object();
    json_object_set_new(*out, "series", series);
    json_object_set_new(*out, "summary", summary);
    return TSL_OK;
}

tsl_err tsl_pl_step_baseline(pl_ctx *c, tsl_diag *d) {
    const char *trained = json_string_value(json_object_get(c->out[PL_AUTOML], "dataset_hash"));
    if (!trained)
        return tsl_diag_set(d, TSL_EINTERNAL, "execution %lld: the automl output has no hash",
                            (long long)c->id);
    tsl_err rc = tsl_pl_snapshot(c, trained, d);
    if (rc) return rc;
    json_t *b = NULL;
    if ((rc = tsl_pl_data_baseline(c->ds, &b, d))) return rc;
    json_object_set_new(b, "dataset", json_string(c->dsc->name));
    json_object_set_new(b, "dataset_hash", json_string(c->hash));
    snprintf(c->summary, sizeof c->summary, "%zu series described",
             json_object_size(json_object_get(b, "series")));
    c->result = b;
    return TSL_OK;
}
