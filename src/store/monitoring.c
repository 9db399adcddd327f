/*
 * monitoring.c - the store's front end for metric datapoints, alarms, evaluation cursors and
 * the observations of one ingest: argument checks and freeing results (store.h states the
 * contracts; sqlite_monitor.c does the storage).
 */
#include <stdint.h>
#include <string.h>

#include "store/store_impl.h"
#include "tsloop/mem.h"

void tsl_store_datapoint_query_init(tsl_store_datapoint_query *q) {
    memset(q, 0, sizeof *q);
    q->step = -1;
    q->since = INT64_MIN;
}

/* TSL_EINVAL unless datapoint i names its monitor, window and metric and has a valid step. */
static tsl_err check_datapoint(const tsl_store_datapoint *p, size_t i, tsl_diag *d) {
    tsl_err err;
    if (!p->monitor || !p->window || !p->metric)
        return tsl_diag_set(d, TSL_EINVAL, "datapoint %zu: monitor, window and metric are required",
                            i);
    if ((err = tsl_sto_check_text(d, "datapoint monitor", p->monitor, TSL_STORE_NAME_MAX)) ||
        (err = tsl_sto_check_text(d, "datapoint window", p->window, 256)) ||
        (err = tsl_sto_check_text(d, "datapoint metric", p->metric, 64)))
        return err;
    if (p->step < 0)
        return tsl_diag_set(d, TSL_EINVAL, "datapoint %zu of monitor '%s': step %d, expected >= 0",
                            i, p->monitor, p->step);
    if (p->window_end < p->window_start)
        return tsl_diag_set(d, TSL_EINVAL,
                            "datapoint %zu of monitor '%s': window ends before it starts", i,
                            p->monitor);
    return TSL_OK;
}

tsl_err tsl_store_datapoint_put(tsl_store *s, const tsl_store_datapoint *v, size_t n, tsl_diag *d) {
    tsl_err err;
    if ((err = tsl_sto_ready(s, d))) return err;
    if (!n) return TSL_OK;
    for (size_t i = 0; i < n; i++)
        if ((err = check_datapoint(&v[i], i, d))) return err;
    return s->vt->datapoint_put(s, v, n, d);
}

tsl_err tsl_store_datapoint_list(tsl_store *s, const tsl_store_datapoint_query *q,
                                 tsl_store_datapoint **out, size_t *n, tsl_diag *d) {
    tsl_err err;
    *out = NULL;
    *n = 0;
    if ((err = tsl_sto_ready(s, d))) return err;
    return s->vt->datapoint_list(s, q, out, n, d);
}

void tsl_store_datapoint_list_free(tsl_store_datapoint *list, size_t n) {
    if (!list) return;
    for (size_t i = 0; i < n; i++) {
        tsl_free(list[i].monitor);
        tsl_free(list[i].endpoint);
        tsl_free(list[i].window);
        tsl_free(list[i].item);
        tsl_free(list[i].metric);
    }
    tsl_free(list);
}

void tsl_store_alarm_release(tsl_store_alarm *a) {
    if (!a) return;
    tsl_free(a->monitor);
    tsl_free(a->reason);
    memset(a, 0, sizeof *a);
}

void tsl_store_alarm_list_free(tsl_store_alarm *list, size_t n) {
    if (!list) return;
    for (size_t i = 0; i < n; i++) tsl_store_alarm_release(&list[i]);
    tsl_free(list);
}

void tsl_store_alarm_change_list_free(tsl_store_alarm_change *list, size_t n) {
    if (!list) return;
    for (size_t i = 0; i < n; i++) {
        tsl_free(list[i].monitor);
        tsl_free(list[i].reason);
    }
    tsl_free(list);
}

tsl_err tsl_store_alarm_get(tsl_store *s, const char *monitor, tsl_store_alarm *out, int *found,
                            tsl_diag *d) {
    tsl_err err;
    memset(out, 0, sizeof *out);
    *found = 0;
    if ((err = tsl_sto_ready(s, d))) return err;
    if ((err = tsl_sto_check_name(d, "monitor", monitor, TSL_STORE_NAME_MAX, 0))) return err;
    return s->vt->alarm_get(s, monitor, out, found, d);
}

tsl_err tsl_store_alarm_list(tsl_store *s, tsl_store_alarm **out, size_t *n, tsl_diag *d) {
    tsl_err err;
    *out = NULL;
    *n = 0;
    if ((err = tsl_sto_ready(s, d))) return err;
    return s->vt->alarm_list(s, out, n, d);
}

tsl_err tsl_store_alarm_put(tsl_store *s, const tsl_store_alarm *a, uint64_t expect_changes,
                            const tsl_store_alarm_change *change, const char *payload,
                            tsl_diag *d) {
    tsl_err err;
    if ((err = tsl_sto_ready(s, d))) return err;
    if ((err = tsl_sto_check_name(d, "monitor", a->monitor, TSL_STORE_NAME_MAX, 0))) return err;
    return s->vt->alarm_put(s, a, expect_changes, change, payload, d);
}

tsl_err tsl_store_alarm_history(tsl_store *s, const char *monitor, size_t limit,
                                tsl_store_alarm_change **out, size_t *n, tsl_diag *d) {
    tsl_err err;
    *out = NULL;
    *n = 0;
    if ((err = tsl_sto_ready(s, d))) return err;
    if (monitor && (err = tsl_sto_check_name(d, "monitor", monitor, TSL_STORE_NAME_MAX, 0)))
        return err;
    return s->vt->alarm_history(s, monitor, limit, out, n, d);
}

tsl_err tsl_store_cursor_get(tsl_store *s, const char *name, int64_t *value, tsl_diag *d) {
    tsl_err err;
    *value = 0;
    if ((err = tsl_sto_ready(s, d))) return err;
    if ((err = tsl_sto_check_name(d, "cursor", name, TSL_STORE_NAME_MAX, 0))) return err;
    return s->vt->cursor_get(s, name, value, d);
}

tsl_err tsl_store_cursor_set(tsl_store *s, const char *name, int64_t value, tsl_diag *d) {
    tsl_err err;
    if ((err = tsl_sto_ready(s, d))) return err;
    if ((err = tsl_sto_check_name(d, "cursor", name, TSL_STORE_NAME_MAX, 0))) return err;
    return s->vt->cursor_set(s, name, value, d);
}

tsl_err tsl_store_ingest_points(tsl_store *s, int64_t ingest_id, tsl_store_point **out, size_t *n,
                                tsl_diag *d) {
    tsl_err err;
    *out = NULL;
    *n = 0;
    if ((err = tsl_sto_ready(s, d))) return err;
    return s->vt->ingest_points(s, ingest_id, out, n, d);
}

void tsl_store_point_list_free(tsl_store_point *list, size_t n) {
    if (!list) return;
    for (size_t i = 0; i < n; i++) tsl_free(list[i].item);
    tsl_free(list);
}
