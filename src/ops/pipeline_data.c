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
 * The checks are quality.h's data-quality checks, given the forecaster's declarations: a
 * report with an error fails the execution at once (retrying cannot fix the data), its summary
 * line as the reason, and since a failed step keeps no output, the report goes into the event
 * dataset.validation_failed instead; a report without errors is the step's output. The baseline
 * is baseline.h's, one per model group - the entry a drift monitor watches is a group's - made
 * of the statistics and constraints documents. Thousands of series make those megabytes, so
 * they are the step's blob (JSON text, {KEY: {"statistics", "constraints"}}), not its output,
 * which only counts them; the register step copies each group's into its version's metadata.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/pipeline_impl.h"
#include "tsloop/baseline.h"
#include "tsloop/mem.h"
#include "tsloop/quality.h"

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

tsl_err tsl_pl_check_data(const tsl_config_forecaster *f, const tsl_config_dataset *dsc,
                          const tsl_dataset *ds, json_t **report, tsl_diag *d) {
    tsl_quality_opts qo;
    tsl_quality_opts_init(&qo);
    qo.horizon = (size_t)f->horizon;
    qo.season_length = f->nperiods ? f->periods[0] : 0;
    qo.freq = dsc->freq;
    qo.non_negative = dsc->non_negative;
    qo.target_name = dsc->target_col;
    qo.split_by = (const char *const *)f->split_by;
    qo.nsplit_by = f->nsplit;
    if (dsc->ndims) {
        qo.expected_columns = (const char *const *)dsc->dims;
        qo.nexpected = dsc->ndims;
    }
    tsl_quality_report *r = NULL;
    tsl_wbuf text;
    tsl_wbuf_init(&text);
    *report = NULL;
    tsl_err rc = tsl_quality_check(ds, &qo, &r, d);
    if (rc || (rc = tsl_quality_report_json(r, 0, &text, d))) goto out;
    *report = json_loadb(tsl_wbuf_cstr(&text), text.len, 0, NULL);
    if (!*report) {
        rc = tsl_diag_set(d, TSL_EINTERNAL, "the data-quality report of '%s' is not JSON",
                          dsc->name);
        goto out;
    }
    tsl_diag vd = {TSL_OK, {0}};
    if (tsl_quality_verdict(r, &vd))
        rc = tsl_diag_set(d, TSL_EINVAL, "data set '%s': %s", dsc->name, tsl_diag_msg(&vd));
out:
    tsl_quality_report_free(r);
    tsl_wbuf_release(&text);
    return rc;
}

/* Records the validation in the event log (issue 4 §6): dataset.validated with the counts, or
 * dataset.validation_failed with the whole report, which a failed step cannot keep. */
static tsl_err validation_event(const pl_ctx *c, json_t *r, int failed, tsl_diag *d) {
    json_t *sum = json_object_get(r, "summary");
    json_t *ev = json_pack(
        "{s:s, s:s, s:I, s:s, s:O, s:O, s:O, s:O}", "dataset", c->dsc->name, "hash", c->hash,
        "execution", (json_int_t)c->id, "forecaster", c->f->name, "series",
        json_object_get(sum, "series"), "errors", json_object_get(sum, "errors"), "warnings",
        json_object_get(sum, "warnings"), "message", json_object_get(sum, "message"));
    if (failed) json_object_set(ev, "report", r);
    char *payload = tsl_pl_dump(ev);
    char subject[TSL_STORE_NAME_MAX + 16];
    snprintf(subject, sizeof subject, "dataset:%s", c->dsc->name);
    tsl_err rc =
        tsl_store_event_append(c->s, failed ? "dataset.validation_failed" : "dataset.validated",
                               subject, payload, NULL, d);
    tsl_free(payload);
    json_decref(ev);
    return rc;
}

tsl_err tsl_pl_step_validate(pl_ctx *c, tsl_diag *d) {
    json_t *r = NULL;
    tsl_err rc = tsl_pl_snapshot(c, NULL, d);
    if (rc) return rc;
    tsl_diag vd = {TSL_OK, {0}};
    tsl_err verdict = tsl_pl_check_data(c->f, c->dsc, c->ds, &r, &vd);
    if (!r) return tsl_diag_set(d, verdict, "%s", tsl_diag_msg(&vd)); /* the checks did not run */
    uint64_t points = 0, observed = 0;
    for (size_t i = 0; i < c->ds->nseries; i++) {
        const tsl_series *s = &c->ds->series[i];
        points += s->n;
        for (size_t t = 0; t < s->n; t++) observed += !isnan(s->y[t]);
    }
    json_object_set_new(r, "dataset", json_string(c->dsc->name));
    json_object_set_new(r, "dataset_hash", json_string(c->hash));
    char freq[32];
    tsl_freq_format(c->ds->freq, freq, sizeof freq);
    json_object_set_new(r, "frequency", json_string(freq));
    json_object_set_new(r, "observations", json_integer((json_int_t)observed));
    json_object_set_new(r, "missing", json_integer((json_int_t)(points - observed)));
    if ((rc = validation_event(c, r, verdict != TSL_OK, d))) goto out;
    if (verdict) {
        rc = tsl_diag_set(d, verdict, "%s", tsl_diag_msg(&vd));
        goto out;
    }
    json_t *sum = json_object_get(r, "summary");
    snprintf(c->summary, sizeof c->summary, "%zu series, %llu observations, %lld warnings",
             c->ds->nseries, (unsigned long long)observed,
             (long long)json_integer_value(json_object_get(sum, "warnings")));
    c->result = r;
    r = NULL;
out:
    json_decref(r);
    return rc;
}

/* Orders series indices (the data set's order is item id order, as baseline.h wants). */
static int cmp_index(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* Appends a baseline.h document (written into text) to o under key, parsed. */
static tsl_err put_doc(json_t *o, const char *key, const tsl_wbuf *text, tsl_diag *d) {
    json_t *j = json_loadb((const char *)text->data, text->len, 0, NULL);
    if (!j) return tsl_diag_set(d, TSL_EINTERNAL, "the baseline's %s document is not JSON", key);
    json_object_set_new(o, key, j);
    return TSL_OK;
}

tsl_err tsl_pl_group_baseline(const tsl_dataset *ds, const json_t *items, int period, json_t **out,
                              tsl_diag *d) {
    size_t ni = json_array_size(items), k = 0;
    size_t *idx = tsl_calloc(ni ? ni : 1, sizeof *idx);
    tsl_series *series = tsl_calloc(ni ? ni : 1, sizeof *series);
    tsl_baseline *b = NULL;
    tsl_wbuf text;
    tsl_wbuf_init(&text);
    json_t *o = json_object();
    *out = NULL;
    for (size_t i = 0; i < ni; i++) {
        const char *item = json_string_value(json_object_get(json_array_get(items, i), "item"));
        long at = item ? tsl_dataset_find(ds, item) : -1;
        if (at >= 0) idx[k++] = (size_t)at;
    }
    qsort(idx, k, sizeof *idx, cmp_index);
    size_t m = 0;
    for (size_t i = 0; i < k; i++)
        if (i == 0 || idx[i] != idx[i - 1]) series[m++] = ds->series[idx[i]];
    /* A view of the group: ds's series, shared, never freed through it. */
    tsl_dataset view = *ds;
    view.series = series;
    view.nseries = m;
    tsl_err rc = tsl_baseline_compute(&view, period, &b, d);
    if (rc || (rc = tsl_baseline_to_json(b, 0, &text, d)) ||
        (rc = put_doc(o, "statistics", &text, d)))
        goto out;
    tsl_wbuf_reset(&text);
    if ((rc = tsl_baseline_constraints_json(b, 0, &text, d)) ||
        (rc = put_doc(o, "constraints", &text, d)))
        goto out;
    *out = o;
    o = NULL;
out:
    json_decref(o);
    tsl_wbuf_release(&text);
    tsl_baseline_free(b);
    tsl_free(series);
    tsl_free(idx);
    return rc;
}

tsl_err tsl_pl_step_baseline(pl_ctx *c, tsl_diag *d) {
    const json_t *a = c->out[PL_AUTOML];
    const char *trained = json_string_value(json_object_get(a, "dataset_hash"));
    json_t *groups = tsl_pl_groups(c), *all = NULL;
    if (!trained || !groups)
        return tsl_diag_set(d, TSL_EINTERNAL, "execution %lld: the automl output is incomplete",
                            (long long)c->id);
    tsl_err rc = tsl_pl_snapshot(c, trained, d);
    if (rc || (rc = tsl_pl_models(c, d))) return rc;
    /* The main season length AutoML used; a profile longer than baseline.h keeps is left out. */
    int period = (int)json_integer_value(json_object_get(json_object_get(a, "settings"), "period"));
    if (period < 1 || period > TSL_BASELINE_MAX_PERIOD) period = 1;
    all = json_object();
    uint64_t series = 0, observed = 0, missing = 0;
    for (size_t i = 0; i < json_array_size(groups); i++) {
        const char *key = json_string_value(json_object_get(json_array_get(groups, i), "key"));
        const json_t *detail = key ? tsl_pl_detail(c, key) : NULL;
        if (!detail) {
            rc = tsl_diag_set(d, TSL_EINTERNAL, "group %zu of the automl output is malformed", i);
            goto out;
        }
        json_t *gb = NULL;
        if ((rc = tsl_pl_group_baseline(c->ds, json_object_get(detail, "items"), period, &gb, d)))
            goto out;
        json_t *overall = json_object_get(json_object_get(gb, "statistics"), "overall");
        series += (uint64_t)json_integer_value(json_object_get(
            json_object_get(json_object_get(gb, "statistics"), "dataset"), "item_count"));
        observed += (uint64_t)json_integer_value(json_object_get(overall, "num_present"));
        missing += (uint64_t)json_integer_value(json_object_get(overall, "num_missing"));
        json_object_set_new(all, key, gb);
    }
    char *text = tsl_pl_dump(all);
    size_t len = strlen(text);
    json_t *r = json_object();
    json_object_set_new(r, "dataset", json_string(c->dsc->name));
    json_object_set_new(r, "dataset_hash", json_string(c->hash));
    json_object_set_new(r, "period", json_integer(period));
    json_object_set_new(r, "groups", json_integer((json_int_t)json_object_size(all)));
    json_object_set_new(r, "series", json_integer((json_int_t)series));
    json_object_set_new(r, "observed", json_integer((json_int_t)observed));
    json_object_set_new(r, "missing", json_integer((json_int_t)missing));
    json_object_set_new(r, "bytes", json_integer((json_int_t)len));
    snprintf(c->summary, sizeof c->summary, "%llu series in %zu group%s described, %.*f %s",
             (unsigned long long)series, json_object_size(all),
             json_object_size(all) == 1 ? "" : "s", len < 1000000 ? 0 : 1,
             len < 1000000 ? (double)len / 1e3 : (double)len / 1e6, len < 1000000 ? "kB" : "MB");
    c->result = r;
    c->blob = text;
    c->blob_len = len;
    json_decref(c->baselines);
    c->baselines = all;
    all = NULL;
out:
    json_decref(all);
    return rc;
}
