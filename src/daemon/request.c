/*
 * request.c - parsing the body of a forecast request (daemon.h).
 *
 * The body comes from the network, so the parser is strict and bounded: jansson parses it
 * (with a depth limit and without duplicate keys), every key is checked against the four this
 * route knows, and every value against its type and cap before anything is copied. The
 * function is pure - bytes in, a request or a message out - which is what lets a fuzz target
 * drive it (tests/fuzz/fuzz_request.c).
 */
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "tsloop/daemon.h"
#include "tsloop/mem.h"
#include "tsloop/model.h"

void tsl_forecast_request_release(tsl_forecast_request *r) {
    if (!r) return;
    for (size_t i = 0; i < r->nitems; i++) tsl_free(r->items[i]);
    tsl_free(r->items);
    memset(r, 0, sizeof *r);
}

/* Whether s (len bytes) is a valid inference id: 1-128 of [A-Za-z0-9._:-]. */
static int id_valid(const char *s, size_t len) {
    if (len < 1 || len > 128) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == ':' || c == '-';
        if (!ok) return 0;
    }
    return 1;
}

/* The items array into r. */
static tsl_err parse_items(const json_t *v, const tsl_forecast_limits *lim, tsl_forecast_request *r,
                           tsl_diag *d) {
    if (!json_is_array(v))
        return tsl_diag_set(d, TSL_EINVAL, "items: expected an array of item ids");
    size_t n = json_array_size(v);
    if (!n) return tsl_diag_set(d, TSL_EINVAL, "items: empty, expected at least one item id");
    if (n > lim->max_items)
        return tsl_diag_set(d, TSL_ELIMIT, "items: %zu items, at most %zu per request", n,
                            lim->max_items);
    r->items = tsl_calloc(n, sizeof *r->items);
    for (size_t i = 0; i < n; i++) {
        const json_t *it = json_array_get(v, i);
        if (!json_is_string(it))
            return tsl_diag_set(d, TSL_EINVAL, "items[%zu]: expected a string", i);
        size_t len = json_string_length(it);
        const char *s = json_string_value(it);
        if (!len || len > lim->max_id || memchr(s, '\0', len))
            return tsl_diag_set(d, TSL_EINVAL,
                                "items[%zu]: expected a non-empty item id of at most %zu bytes "
                                "without NUL",
                                i, lim->max_id);
        r->items[i] = tsl_strdup(s);
        r->nitems = i + 1;
    }
    return TSL_OK;
}

/* The quantiles array into r. */
static tsl_err parse_levels(const json_t *v, tsl_forecast_request *r, tsl_diag *d) {
    if (!json_is_array(v))
        return tsl_diag_set(d, TSL_EINVAL, "quantiles: expected an array of levels in (0, 1)");
    size_t n = json_array_size(v);
    if (n > TSL_METRICS_MAX_LEVELS)
        return tsl_diag_set(d, TSL_ELIMIT, "quantiles: %zu levels, at most %d", n,
                            TSL_METRICS_MAX_LEVELS);
    for (size_t i = 0; i < n; i++) {
        const json_t *x = json_array_get(v, i);
        if (!json_is_number(x))
            return tsl_diag_set(d, TSL_EINVAL, "quantiles[%zu]: expected a number in (0, 1)", i);
        r->levels[i] = json_number_value(x);
    }
    r->nq = n;
    r->has_levels = 1;
    tsl_err err = tsl_quantile_levels_check(r->levels, n, TSL_METRICS_MAX_LEVELS, d);
    if (err) tsl_diag_prefix(d, "quantiles: ");
    return err;
}

tsl_err tsl_forecast_request_parse(const char *body, size_t len, const tsl_forecast_limits *lim,
                                   tsl_forecast_request *out, tsl_diag *d) {
    json_error_t je;
    json_t *root = NULL;
    tsl_err err = TSL_OK;
    memset(out, 0, sizeof *out);
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        err = tsl_diag_set(d, TSL_EPARSE, "the body is not JSON: %s (line %d, column %d)", je.text,
                           je.line, je.column);
        goto out;
    }
    if (!json_is_object(root)) {
        err = tsl_diag_set(d, TSL_EINVAL,
                           "the body is not a JSON object, expected {\"items\": [...]}");
        goto out;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (!strcmp(key, "items")) {
            err = parse_items(v, lim, out, d);
        } else if (!strcmp(key, "horizon")) {
            json_int_t h = json_integer_value(v);
            if (!json_is_integer(v) || h < 1)
                err = tsl_diag_set(d, TSL_EINVAL, "horizon: expected an integer of at least 1");
            else if ((uint64_t)h > lim->max_horizon)
                err = tsl_diag_set(d, TSL_ELIMIT, "horizon: %lld steps, at most %zu", (long long)h,
                                   lim->max_horizon);
            else
                out->horizon = (size_t)h;
        } else if (!strcmp(key, "quantiles")) {
            err = parse_levels(v, out, d);
        } else if (!strcmp(key, "inference_id")) {
            if (!json_is_string(v) || !id_valid(json_string_value(v), json_string_length(v)))
                err = tsl_diag_set(d, TSL_EINVAL,
                                   "inference_id: expected 1-128 characters of letters, digits, "
                                   "'.', '_', ':' and '-'");
            else
                tsl_strlcpy(out->inference_id, json_string_value(v), sizeof out->inference_id);
        } else {
            err = tsl_diag_set(d, TSL_EINVAL,
                               "unknown key \"%.64s\", expected items, horizon, quantiles or "
                               "inference_id",
                               key);
        }
        if (err) goto out;
    }
    if (!out->nitems)
        err = tsl_diag_set(d, TSL_EINVAL, "items: missing, expected an array of item ids");
out:
    json_decref(root);
    return err;
}
