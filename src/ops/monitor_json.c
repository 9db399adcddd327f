/*
 * monitor_json.c - JSON views of metric datapoints and alarms, the one shape that
 * `tsloop metrics --json`, `tsloop alarms --json` and the HTTP routes /v1/metrics and
 * /v1/alarms all print (docs/api.md documents it).
 */
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "tsloop/mem.h"
#include "tsloop/monitor.h"
#include "tsloop/time.h"

/* Seconds as ISO-8601 text. */
static json_t *iso(int64_t t) {
    char buf[64];
    tsl_time_format(t, 0, buf, sizeof buf);
    return json_string(buf);
}

/* Milliseconds as ISO-8601 text, null for 0 (never). */
static json_t *iso_ms(int64_t ms) {
    if (ms <= 0) return json_null();
    return iso(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000));
}

static json_t *num(double v) {
    return isfinite(v) ? json_real(v) : json_null();
}

tsl_err tsl_monitor_metrics_json(tsl_store *s, const tsl_store_datapoint_query *q, json_t **out,
                                 tsl_diag *d) {
    tsl_store_datapoint *v = NULL;
    size_t n = 0;
    tsl_err err;
    *out = NULL;
    if ((err = tsl_store_datapoint_list(s, q, &v, &n, d))) return err;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const tsl_store_datapoint *p = &v[i];
        json_t *o = json_object();
        json_object_set_new(o, "monitor", json_string(p->monitor));
        json_object_set_new(o, "endpoint", json_string(p->endpoint));
        json_object_set_new(o, "window", json_string(p->window));
        json_object_set_new(o, "window_start", iso(p->window_start));
        json_object_set_new(o, "window_end", iso(p->window_end));
        json_object_set_new(o, "item", p->item[0] ? json_string(p->item) : json_null());
        json_object_set_new(o, "step", p->step ? json_integer(p->step) : json_null());
        json_object_set_new(o, "metric", json_string(p->metric));
        json_object_set_new(o, "value", num(p->value));
        json_object_set_new(o, "n", json_integer((json_int_t)p->n));
        json_object_set_new(o, "computed_at", iso_ms(p->computed_ms));
        json_array_append_new(arr, o);
    }
    tsl_store_datapoint_list_free(v, n);
    *out = json_pack("{s:o}", "datapoints", arr);
    return TSL_OK;
}

/* One alarm's object: the monitor's settings (m may be NULL) and the stored state (a may be
 * NULL: never evaluated). */
static json_t *alarm_json(const tsl_config_monitor *m, const tsl_store_alarm *a, const char *name) {
    static const char *const ops[] = {"GreaterThanThreshold", "GreaterThanOrEqualToThreshold",
                                      "LessThanThreshold", "LessThanOrEqualToThreshold"};
    char buf[32];
    json_t *o = json_object();
    json_object_set_new(o, "monitor", json_string(name));
    json_object_set_new(o, "configured", json_boolean(m != NULL));
    if (m) {
        json_object_set_new(o, "kind", json_string(tsl_monitor_kind_name(m->kind)));
        json_object_set_new(o, "endpoint", m->endpoint ? json_string(m->endpoint) : json_null());
        json_object_set_new(o, "dataset", m->dataset ? json_string(m->dataset) : json_null());
        json_object_set_new(o, "metric", json_string(tsl_monitor_metric_name(m)));
        json_object_set_new(
            o, "window",
            m->kind != TSL_MONITOR_FRESHNESS
                ? json_string(tsl_window_format(m->window, m->window_n, buf, sizeof buf))
                : json_null());
        json_object_set_new(o, "item", m->item ? json_string(m->item) : json_null());
        json_object_set_new(o, "step", m->step ? json_integer(m->step) : json_null());
        json_object_set_new(o, "threshold_policy",
                            json_string(tsl_threshold_kind_name(m->policy.kind)));
        json_object_set_new(o, "comparison", json_string(ops[m->rule.op]));
        json_object_set_new(o, "evaluation_periods", json_integer(m->rule.periods));
        json_object_set_new(o, "datapoints_to_alarm", json_integer(m->rule.datapoints));
        json_object_set_new(o, "evaluation_range", json_integer(tsl_alarm_rule_range(&m->rule)));
        json_object_set_new(o, "treat_missing_data",
                            json_string(tsl_alarm_missing_name(m->rule.missing)));
        json_t *act = json_array();
        if (m->actions & TSL_MONITOR_ACTION_RETRAIN)
            json_array_append_new(act, json_string("retrain"));
        if (m->actions & TSL_MONITOR_ACTION_NOTIFY)
            json_array_append_new(act, json_string("notify"));
        json_object_set_new(o, "actions", act);
    }
    json_object_set_new(
        o, "state",
        json_string(tsl_alarm_value_name(a ? a->state.value : TSL_ALARM_INSUFFICIENT_DATA)));
    json_object_set_new(o, "value", a ? num(a->value) : json_null());
    json_object_set_new(o, "threshold", a ? num(a->threshold.threshold) : json_null());
    json_object_set_new(o, "reason", a && a->reason ? json_string(a->reason) : json_null());
    json_object_set_new(o, "changed_at", a ? iso_ms(a->state.changed_at) : json_null());
    json_object_set_new(o, "evaluated_at", a ? iso_ms(a->state.evaluated_at) : json_null());
    json_object_set_new(o, "changes", json_integer(a ? (json_int_t)a->state.changes : 0));
    return o;
}

tsl_err tsl_monitor_alarms_json(tsl_store *s, const tsl_config *cfg, const char *name,
                                size_t history_limit, json_t **out, tsl_diag *d) {
    tsl_store_alarm *v = NULL;
    size_t n = 0;
    tsl_store_alarm_change *h = NULL;
    size_t nh = 0;
    tsl_err err;
    *out = NULL;
    if ((err = tsl_store_alarm_list(s, &v, &n, d))) return err;
    if (name) {
        const tsl_config_monitor *m = tsl_config_monitor_find(cfg, name);
        const tsl_store_alarm *a = NULL;
        for (size_t i = 0; i < n; i++)
            if (!strcmp(v[i].monitor, name)) a = &v[i];
        if (!m && !a) {
            err =
                tsl_diag_set(d, TSL_ENOTFOUND,
                             "no monitor '%s': not in the configuration and never evaluated", name);
            goto out;
        }
        if ((err = tsl_store_alarm_history(s, name, history_limit, &h, &nh, d))) goto out;
        json_t *o = alarm_json(m, a, name), *arr = json_array();
        for (size_t i = 0; i < nh; i++)
            json_array_append_new(
                arr,
                json_pack("{s:I, s:s, s:s, s:o, s:o, s:s, s:o, s:I}", "id", (json_int_t)h[i].id,
                          "previous", tsl_alarm_value_name(h[i].previous), "state",
                          tsl_alarm_value_name(h[i].value), "value", num(h[i].datapoint),
                          "threshold", num(h[i].threshold), "reason", h[i].reason, "at",
                          iso_ms(h[i].at_ms), "event_id", (json_int_t)h[i].event_id));
        json_object_set_new(o, "history", arr);
        *out = o;
        goto out;
    }
    json_t *arr = json_array();
    for (size_t k = 0; k < cfg->nmonitors; k++) {
        const tsl_store_alarm *a = NULL;
        for (size_t i = 0; i < n; i++)
            if (!strcmp(v[i].monitor, cfg->monitors[k].name)) a = &v[i];
        json_array_append_new(arr, alarm_json(&cfg->monitors[k], a, cfg->monitors[k].name));
    }
    for (size_t i = 0; i < n; i++)
        if (!tsl_config_monitor_find(cfg, v[i].monitor))
            json_array_append_new(arr, alarm_json(NULL, &v[i], v[i].monitor));
    *out = json_pack("{s:o}", "alarms", arr);
out:
    tsl_store_alarm_change_list_free(h, nh);
    tsl_store_alarm_list_free(v, n);
    return err;
}
