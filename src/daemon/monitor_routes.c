/*
 * monitor_routes.c - the bodies of GET /v1/metrics, GET /v1/alarms and GET /v1/alarms/NAME
 * (docs/api.md). server.c routes, authorizes (reader role) and responds; this file reads the
 * query and builds the same JSON `tsloop metrics --json` and `tsloop alarms --json` print
 * (tsl_monitor_metrics_json, tsl_monitor_alarms_json).
 */
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon_impl.h"
#include "tsloop/monitor.h"

/* The query argument key, NULL when absent or empty. */
static const char *arg(struct MHD_Connection *c, const char *key) {
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
    return v && v[0] ? v : NULL;
}

/* A non-negative integer argument in [0, max]: TSL_EINVAL naming it otherwise. */
static tsl_err arg_long(struct MHD_Connection *c, const char *key, long max, long *out,
                        tsl_diag *d) {
    const char *v = arg(c, key);
    if (!v) return TSL_OK;
    char *end = NULL;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (end == v || *end || errno || x < 0 || x > max)
        return tsl_diag_set(d, TSL_EINVAL, "query %s: '%.40s', expected an integer from 0 to %ld",
                            key, v, max);
    *out = x;
    return TSL_OK;
}

tsl_err tsl_route_metrics(tsl_store *s, struct MHD_Connection *c, json_t **out, tsl_diag *d) {
    tsl_store_datapoint_query q;
    long limit = 100, step = 0;
    tsl_err err;
    tsl_store_datapoint_query_init(&q);
    q.monitor = arg(c, "monitor");
    q.endpoint = arg(c, "endpoint");
    q.metric = arg(c, "metric");
    q.item = arg(c, "item");
    if (!q.item)
        q.item = "";
    else if (!strcmp(q.item, "*"))
        q.item = NULL;
    const char *st = arg(c, "step"), *since = arg(c, "since");
    if (st && !strcmp(st, "*"))
        q.step = -1;
    else if ((err = arg_long(c, "step", 100000, &step, d)))
        return err;
    else
        q.step = (int)step;
    if ((err = arg_long(c, "limit", 100000, &limit, d))) return err;
    q.limit = (size_t)limit;
    if (since && (err = tsl_time_parse(since, strlen(since), &q.since, d))) return err;
    return tsl_monitor_metrics_json(s, &q, out, d);
}

tsl_err tsl_route_alarms(tsl_store *s, const tsl_config *cfg, const char *name,
                         struct MHD_Connection *c, json_t **out, tsl_diag *d) {
    long limit = 50;
    tsl_err err;
    if ((err = arg_long(c, "limit", 100000000, &limit, d))) return err;
    return tsl_monitor_alarms_json(s, cfg, name, (size_t)limit, out, d);
}
