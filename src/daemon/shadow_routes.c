/*
 * shadow_routes.c - the bodies of GET, PUT and DELETE /v1/endpoints/NAME/shadow (docs/api.md):
 * the endpoint's shadow deployment shown, started or stopped. server.c routes and authorizes
 * (reader to look, approver to change, as for deploy) and responds; this file applies the
 * same rules as `tsloop deploy --shadow` (the store checks the version against the endpoint).
 */
#include <jansson.h>
#include <string.h>

#include "daemon/daemon_impl.h"
#include "tsloop/registry.h"
#include "tsloop/shadow.h"

/* A shadow as the routes show it. */
static json_t *shadow_json(const tsl_store_shadow *sh) {
    json_t *c = sh->comparison ? json_loads(sh->comparison, 0, NULL) : NULL;
    return json_pack("{s:I, s:s, s:s, s:i, s:i, s:i, s:i, s:s, s:s, s:I, s:I, s:s, s:s?, s:o}",
                     "id", (json_int_t)sh->id, "endpoint", sh->endpoint, "forecaster",
                     sh->forecaster, "version", sh->version, "champion_version",
                     sh->champion_version, "windows", sh->windows, "progress", sh->progress, "who",
                     sh->who, "why", sh->why, "started_ms", (json_int_t)sh->started_ms, "ended_ms",
                     (json_int_t)sh->ended_ms, "outcome", tsl_shadow_outcome_name(sh->outcome),
                     "end_why", sh->end_why, "comparison", c ? c : json_null());
}

tsl_err tsl_route_shadow(tsl_store *s, const tsl_config *cfg, int op, const char *endpoint,
                         const char *body, size_t len, const char *who, json_t **out, tsl_diag *d) {
    tsl_store_shadow sh = {0};
    json_t *j = NULL;
    tsl_err err = TSL_OK;
    *out = NULL;
    if (op == TSL_SHADOW_ROUTE_GET) {
        tsl_store_shadow *v = NULL;
        size_t n = 0;
        if ((err = tsl_store_shadow_list(s, endpoint, NULL, 0, 0, 20, &v, &n, d))) return err;
        json_t *hist = json_array();
        json_t *cur = json_null();
        for (size_t i = 0; i < n; i++) {
            if (v[i].outcome == TSL_SHADOW_RUNNING && json_is_null(cur))
                cur = shadow_json(&v[i]);
            else
                json_array_append_new(hist, shadow_json(&v[i]));
        }
        tsl_store_shadow_list_free(v, n);
        *out = json_pack("{s:s, s:o, s:o}", "endpoint", endpoint, "shadow", cur, "history", hist);
        return TSL_OK;
    }
    json_error_t je;
    j = len ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &je) : json_object();
    if (!json_is_object(j)) {
        err = tsl_diag_set(d, TSL_EPARSE, "expected a JSON object body");
        goto out;
    }
    const char *why = json_string_value(json_object_get(j, "why"));
    if (op == TSL_SHADOW_ROUTE_DELETE) {
        if ((err = tsl_shadow_stop(s, endpoint, who, why ? why : "", &sh, d))) goto out;
        sh.outcome = TSL_SHADOW_STOPPED;
        *out = shadow_json(&sh);
        goto out;
    }
    const char *f = json_string_value(json_object_get(j, "forecaster"));
    json_t *jv = json_object_get(j, "version"), *jw = json_object_get(j, "windows");
    char entry[TSL_STORE_NAME_MAX + 1];
    int version = 0;
    if (json_is_string(jv)) { /* "ENTRY/N" as the deploy route takes it */
        if ((err = tsl_registry_ref_parse(json_string_value(jv), entry, &version, d))) goto out;
        f = entry;
    } else if (jv && !json_is_integer(jv)) {
        err = tsl_diag_set(d, TSL_EINVAL, "version: expected an integer or \"ENTRY/N\"");
        goto out;
    } else {
        version = jv ? (int)json_integer_value(jv) : 0;
    }
    if (!f) {
        err = tsl_diag_set(d, TSL_EINVAL, "forecaster: expected the registry entry's name");
        goto out;
    }
    int windows = 0;
    if (jw &&
        (!json_is_integer(jw) || json_integer_value(jw) < 1 || json_integer_value(jw) > 10000)) {
        err = tsl_diag_set(d, TSL_EINVAL, "windows: expected an integer from 1 to 10000");
        goto out;
    }
    if (jw) {
        windows = (int)json_integer_value(jw);
    } else {
        const tsl_config_forecaster *fc = tsl_shadow_forecaster_of(cfg, f);
        windows = fc && fc->compare_windows > 0 ? fc->compare_windows : TSL_SHADOW_DEFAULT_WINDOWS;
    }
    if ((err =
             tsl_store_shadow_start(s, endpoint, f, version, windows, who, why ? why : "", &sh, d)))
        goto out;
    *out = shadow_json(&sh);
out:
    tsl_store_shadow_release(&sh);
    json_decref(j);
    return err;
}
