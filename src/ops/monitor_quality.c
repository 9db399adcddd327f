/*
 * monitor_quality.c - quality monitors: the data-quality checks of newly arrived data run on
 * each ingest, their datapoints, the dataset.quality event and the alarm (monitor.h states the
 * contract; docs/monitoring.md, "Quality monitors", is the user's description).
 *
 * Design. The unit is the ingest, not a day of data: a quality problem belongs to a delivery
 * (a file from a broken logger, a feed that lost a site), and the question "is what just
 * arrived usable?" is asked once per delivery. So the window of a quality datapoint is
 * "ingest:ID", it starts at the ingest's start (when the data arrived, which also orders the
 * alarm's datapoints) and the alarm's M of N counts ingests.
 *
 * The checks see the points the ingest wrote (tsl_store_ingest_points: new and corrected
 * values, not re-sent unchanged ones) and, per item, its previous last timestamp, first
 * timestamp and corrected count (tsl_store_ingest_items), plus the deployed version's baseline
 * when the monitor watches an endpoint. Negative values never reach the store of a data set
 * declared non_negative: the ingest refuses them, so they are counted from the ingest's
 * rejections (the first TSL_STORE_REJECTS_KEPT kept with their reasons).
 *
 * Once per (monitor, ingest): the report is recorded with its event by tsl_store_quality_put,
 * which inserts only when no record exists and appends the event in the same transaction, so
 * the CLI and the daemon both following the log never emit it twice. The datapoints are
 * written before that record and replace any earlier ones, so a crash between the two only
 * repeats an identical write.
 */
#include "tsloop/monitor.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/monitor_internal.h"
#include "tsloop/mem.h"
#include "tsloop/quality.h"

/* Events name at most this many violations (worst first). */
#define EVENT_VIOLATIONS 20
/* Items named per check in the one-line summary. */
#define SUMMARY_ITEMS 3

/* ingest.c's reason for a negative value refused in a non_negative data set. */
static int negative_reject(const char *reason) {
    return reason && strstr(reason, " is negative, expected a value >= 0");
}

/* Appends one aggregate or per-item datapoint. */
static void put(tsl_store_datapoint **v, size_t *n, size_t *cap, const tsl_config_monitor *m,
                const char *scope, const char *key, int64_t start, int64_t end, const char *item,
                const char *metric, double value, size_t count) {
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 32;
        *v = tsl_reallocarray(*v, *cap, sizeof **v);
    }
    tsl_store_datapoint *p = &(*v)[(*n)++];
    memset(p, 0, sizeof *p);
    p->monitor = m->name;
    p->endpoint = (char *)scope;
    p->window = (char *)key;
    p->window_start = start;
    p->window_end = end;
    p->item = (char *)item;
    p->metric = (char *)metric;
    p->value = value;
    p->n = count;
}

/* Findings worst first: by severity, keeping the check order and each check's ranking. */
static int cmp_finding(const void *pa, const void *pb) {
    const tsl_quality_arrival_finding *a = *(tsl_quality_arrival_finding *const *)pa;
    const tsl_quality_arrival_finding *b = *(tsl_quality_arrival_finding *const *)pb;
    if (a->severity != b->severity) return a->severity > b->severity ? -1 : 1;
    return a < b ? -1 : a > b;
}

/* The dataset.quality payload (a new JSON text). */
static char *payload_of(const tsl_config_monitor *m, const char *dataset, int64_t ingest,
                        const tsl_store_deployment *dep, const tsl_quality_arrival_report *r) {
    json_t *o = json_object();
    json_object_set_new(o, "dataset", json_string(dataset));
    json_object_set_new(o, "monitor", json_string(m->name));
    json_object_set_new(o, "ingest_id", json_integer(ingest));
    json_object_set_new(o, "endpoint", m->endpoint ? json_string(m->endpoint) : json_null());
    json_object_set_new(o, "forecaster",
                        dep->forecaster ? json_string(dep->forecaster) : json_null());
    json_object_set_new(o, "version", dep->forecaster ? json_integer(dep->version) : json_null());
    json_object_set_new(o, "points", json_integer((json_int_t)r->points));
    json_object_set_new(o, "items", json_integer((json_int_t)r->items));
    json_t *checks = json_object();
    for (int c = 0; c <= TSL_QA_FLAGGED; c++)
        if (isfinite(r->value[c]))
            json_object_set_new(checks, tsl_quality_arrival_name((tsl_quality_arrival_check)c),
                                json_real(r->value[c]));
    json_object_set_new(o, "checks", checks);
    const tsl_quality_arrival_finding **order = tsl_calloc(r->nfindings + 1, sizeof *order);
    for (size_t i = 0; i < r->nfindings; i++) order[i] = &r->findings[i];
    qsort(order, r->nfindings, sizeof *order, cmp_finding);
    json_t *viol = json_array();
    for (size_t i = 0; i < r->nfindings && i < EVENT_VIOLATIONS; i++) {
        const tsl_quality_arrival_finding *f = order[i];
        json_array_append_new(viol,
                              json_pack("{s:s,s:s,s:o,s:I,s:o,s:s}", "check",
                                        tsl_quality_arrival_name(f->check), "severity",
                                        tsl_quality_severity_name(f->severity), "item",
                                        f->item_id ? json_string(f->item_id) : json_null(), "count",
                                        (json_int_t)f->count, "value",
                                        isfinite(f->value) ? json_real(f->value) : json_null(),
                                        "description", f->description));
    }
    tsl_free(order);
    json_object_set_new(o, "violations", viol);
    json_object_set_new(o, "worst", json_string(tsl_quality_severity_name(r->worst)));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    char *copy = tsl_strdup(text ? text : "{}");
    free(text);
    return copy;
}

/* One line: "2 warnings, 1 info: flatline 1 of 3 items (B); missing 12.5% of points (B)". */
static void summary_of(const tsl_quality_arrival_report *r, tsl_wbuf *out) {
    size_t sev[TSL_QUALITY_OFF + 1] = {0};
    for (int c = 0; c < TSL_QA_COUNT; c++)
        sev[tsl_quality_arrival_severity((tsl_quality_arrival_check)c)] += r->found[c];
    static const char *const label[] = {[TSL_QUALITY_ERROR] = "error",
                                        [TSL_QUALITY_WARNING] = "warning",
                                        [TSL_QUALITY_INFO] = "note"};
    int first = 1;
    for (int s = TSL_QUALITY_ERROR; s >= TSL_QUALITY_INFO; s--) {
        if (!sev[s]) continue;
        tsl_wbuf_printf(out, "%s%zu %s%s", first ? "" : ", ", sev[s], label[s],
                        sev[s] == 1 ? "" : "s");
        first = 0;
    }
    tsl_wbuf_printf(out, ":");
    int part = 0;
    for (int s = TSL_QUALITY_ERROR; s >= TSL_QUALITY_INFO; s--)
        for (int c = 0; c < TSL_QA_COUNT; c++) {
            tsl_quality_arrival_check ck = (tsl_quality_arrival_check)c;
            if (!r->found[c] || tsl_quality_arrival_severity(ck) != (tsl_quality_severity)s)
                continue;
            tsl_wbuf_printf(out, "%s %s %.3g%%", part++ ? ";" : "", tsl_quality_arrival_name(ck),
                            100 * r->value[c]);
            size_t named = 0;
            for (size_t i = 0; i < r->nfindings && named < SUMMARY_ITEMS; i++) {
                const tsl_quality_arrival_finding *f = &r->findings[i];
                if (f->check != ck || !f->item_id) continue;
                tsl_wbuf_printf(out, "%s%s", named ? ", " : " (", f->item_id);
                named++;
            }
            if (named) tsl_wbuf_printf(out, "%s)", r->found[c] > named ? ", ..." : "");
        }
}

tsl_err tsl_monitor_quality(tsl_store *s, const tsl_config *cfg, const tsl_config_monitor *m,
                            const char *dataset, int64_t ingest_id, const tsl_store_point *pts,
                            size_t npts, int64_t now_ms, tsl_monitor_stats *st, tsl_diag *d) {
    tsl_store_deployment dep = {0};
    tsl_store_model model = {0};
    tsl_store_dataset ds = {0};
    tsl_store_ingest_info info = {0};
    tsl_store_ingest_item *items = NULL;
    tsl_store_quality *seen = NULL;
    tsl_quality_arrival_series *ser = NULL;
    tsl_quality_arrival_report rep = {0};
    tsl_store_datapoint *dp = NULL;
    tsl_baseline *b = NULL;
    int64_t *ts = NULL;
    double *vs = NULL;
    char *payload = NULL;
    const char **want = NULL;
    size_t nitems = 0, nseen = 0, nser = 0, ndp = 0, dpcap = 0, nwant = 0;
    tsl_wbuf line;
    tsl_err err = TSL_OK;
    tsl_wbuf_init(&line);
    const char *watched = m->dataset;
    if (m->endpoint) {
        err = tsl_store_endpoint_get(s, m->endpoint, &dep, d);
        if (err == TSL_ENOTFOUND) {
            err = TSL_OK; /* nothing deployed yet: no version to compare with */
            goto out;
        }
        if (err || (err = tsl_store_model_get(s, dep.forecaster, dep.version, &model, d))) goto out;
        watched = model.dataset;
    }
    if (!watched || !dataset || strcmp(dataset, watched)) goto out;
    if ((err = tsl_store_quality_list(s, ingest_id, m->name, &seen, &nseen, d)) || nseen)
        goto out; /* evaluated before: once per ingest */
    /* the baseline's statistics of the items that received points (pts are by item), and the
     * ids of the others (the stale check) */
    want = tsl_calloc(npts + 1, sizeof *want);
    for (size_t i = 0; i < npts; i++)
        if (!nwant || strcmp(want[nwant - 1], pts[i].item)) want[nwant++] = pts[i].item;
    if (m->endpoint &&
        (err = tsl_monitor_load_baseline(s, dep.forecaster, dep.version, want, nwant, &b, d)))
        goto out;
    if ((err = tsl_store_dataset_get(s, dataset, &ds, d))) goto out;
    if ((err = tsl_store_ingest_get(s, ingest_id, &info, d))) goto out;
    if ((err = tsl_store_ingest_items(s, ingest_id, &items, &nitems, d))) goto out;

    /* one series per item, from the points (by item, then time) and the items' contexts */
    ts = tsl_malloc((npts + 1) * sizeof *ts);
    vs = tsl_malloc((npts + 1) * sizeof *vs);
    ser = tsl_calloc(npts + 1, sizeof *ser);
    for (size_t i = 0, k = 0; i < npts; i++) {
        ts[i] = pts[i].t;
        vs[i] = pts[i].value;
        if (!nser || strcmp(ser[nser - 1].item_id, pts[i].item)) {
            tsl_quality_arrival_series *x = &ser[nser++];
            x->item_id = pts[i].item;
            x->t = &ts[i];
            x->v = &vs[i];
            x->prev_last = INT64_MIN;
            x->first = INT64_MIN;
            while (k < nitems && strcmp(items[k].item, pts[i].item) < 0) k++;
            if (k < nitems && !strcmp(items[k].item, pts[i].item)) {
                x->prev_last = items[k].prev_last;
                x->first = items[k].first;
                x->corrected = (size_t)items[k].corrected;
            }
        }
        ser[nser - 1].n++;
    }
    tsl_quality_arrival_opts o;
    tsl_quality_arrival_opts_init(&o);
    const tsl_config_dataset *cd = tsl_config_dataset_find(cfg, dataset);
    o.freq = ds.freq.unit != TSL_FREQ_NONE ? ds.freq : cd ? cd->freq : ds.freq;
    o.non_negative = cd && cd->non_negative;
    for (size_t i = 0; i < info.receipt.nrejects; i++)
        o.negatives_rejected += negative_reject(info.receipt.rejects[i].reason);
    o.baseline = b;
    o.range_factor = m->range_factor;
    o.flat_points = m->flat_points > 0 ? (size_t)m->flat_points : 0;
    o.max_listed = m->max_listed > 0 ? (size_t)m->max_listed : 20;
    if ((err = tsl_quality_arrival_run(ser, nser, &o, &rep, d))) goto out;
    /* the datapoints: each check in aggregate, and the items each check lists (none when
     * nothing arrived to judge) */
    char key[64];
    snprintf(key, sizeof key, "ingest:%lld", (long long)ingest_id);
    int64_t start = info.started_ms / 1000, end = info.ended_ms / 1000 + 1;
    if (end <= start) end = start + 1;
    const char *scope = m->endpoint ? m->endpoint : dataset;
    for (int c = 0; c <= TSL_QA_FLAGGED && (rep.points || o.negatives_rejected); c++)
        if (isfinite(rep.value[c]))
            put(&dp, &ndp, &dpcap, m, scope, key, start, end, "",
                tsl_quality_arrival_name((tsl_quality_arrival_check)c), rep.value[c], rep.count[c]);
    for (size_t i = 0; i < rep.nfindings; i++) {
        const tsl_quality_arrival_finding *f = &rep.findings[i];
        if (!f->item_id) continue;
        int whole =
            f->check == TSL_QA_STALE || f->check == TSL_QA_NEW_ITEMS || f->check == TSL_QA_FLATLINE;
        put(&dp, &ndp, &dpcap, m, scope, key, start, end, f->item_id,
            tsl_quality_arrival_name(f->check), whole ? 1 : f->value, f->count);
    }
    if (ndp && (err = tsl_store_datapoint_put(s, dp, ndp, d))) goto out;
    if (st && ndp) {
        st->windows++;
        st->datapoints += ndp;
    }
    if (rep.worst) {
        summary_of(&rep, &line);
        payload = payload_of(m, dataset, ingest_id, &dep, &rep);
    }
    tsl_store_quality q = {.monitor = m->name,
                           .ingest_id = ingest_id,
                           .dataset = (char *)dataset,
                           .worst =
                               (char *)(rep.worst ? tsl_quality_severity_name(rep.worst) : "clean"),
                           .summary = (char *)tsl_wbuf_cstr(&line)};
    int recorded = 0;
    if ((err = tsl_store_quality_put(s, &q, payload, &recorded, d))) goto out;
    if (!ndp) goto out;
    err = tsl_monitor_alarm(s, m, now_ms, NULL, d);
    if (!err && st) st->alarms++;
out:
    tsl_wbuf_release(&line);
    tsl_free(payload);
    tsl_free(dp);
    tsl_quality_arrival_release(&rep);
    tsl_free(ser);
    tsl_free(ts);
    tsl_free(vs);
    tsl_baseline_free(b);
    tsl_free(want);
    tsl_store_quality_list_free(seen, nseen);
    tsl_store_ingest_item_list_free(items, nitems);
    tsl_store_ingest_info_release(&info);
    tsl_store_dataset_release(&ds);
    tsl_store_model_release(&model);
    tsl_store_deployment_release(&dep);
    return err;
}
