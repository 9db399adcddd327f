/*
 * shadow.c - the store's front end for shadow deployments (store.h states the contracts):
 * argument checks, outcome names and freeing results; the back end's table does the rest
 * (sqlite_shadow.c).
 */
#include <string.h>

#include "store/store_impl.h"
#include "tsloop/mem.h"

#define TEXT_MAX    4096
#define WINDOWS_MAX 10000

static const char *const outcome_names[] = {"running", "completed", "stopped", "superseded",
                                            "deployed"};

const char *tsl_shadow_outcome_name(tsl_shadow_outcome o) {
    return (unsigned)o <= TSL_SHADOW_DEPLOYED ? outcome_names[o] : "unknown";
}

tsl_err tsl_store_capture_list_shadow(tsl_store *s, const char *endpoint, int64_t after_id,
                                      size_t limit, tsl_store_capture **out, size_t *n,
                                      tsl_diag *d) {
    tsl_err err;
    *out = NULL;
    *n = 0;
    if ((err = tsl_sto_ready(s, d))) return err;
    if (endpoint && (err = tsl_sto_check_name(d, "endpoint", endpoint, TSL_STORE_NAME_MAX, 0)))
        return err;
    return s->vt->capture_list_shadow(s, endpoint, after_id, limit, out, n, d);
}

tsl_err tsl_store_shadow_start(tsl_store *s, const char *endpoint, const char *forecaster,
                               int version, int windows, const char *who, const char *why,
                               tsl_store_shadow *out, tsl_diag *d) {
    tsl_store_shadow got = {0};
    tsl_err err;
    if (out) memset(out, 0, sizeof *out);
    if ((err = tsl_sto_ready(s, d)) ||
        (err = tsl_sto_check_name(d, "endpoint", endpoint, TSL_STORE_NAME_MAX, 0)) ||
        (err = tsl_sto_check_name(d, "forecaster", forecaster, TSL_STORE_NAME_MAX, 0)) ||
        (err = tsl_sto_check_text(d, "who", who, TEXT_MAX)) ||
        (err = tsl_sto_check_text(d, "why", why, TEXT_MAX)))
        return err;
    if (version < 0)
        return tsl_diag_set(d, TSL_EINVAL, "%s: version %d: expected 0 (latest) or more",
                            forecaster, version);
    if (windows < 1 || windows > WINDOWS_MAX)
        return tsl_diag_set(d, TSL_EINVAL, "shadow windows %d: expected 1-%d", windows,
                            WINDOWS_MAX);
    if ((err = s->vt->shadow_start(s, endpoint, forecaster, version, windows, who ? who : "",
                                   why ? why : "", &got, d)))
        return err;
    if (out)
        *out = got;
    else
        tsl_store_shadow_release(&got);
    return TSL_OK;
}

tsl_err tsl_store_shadow_end(tsl_store *s, int64_t id, tsl_shadow_outcome outcome, const char *why,
                             const char *comparison, int progress, const char *compared_payload,
                             tsl_diag *d) {
    tsl_err err;
    if ((err = tsl_sto_ready(s, d)) || (err = tsl_sto_check_text(d, "why", why, TEXT_MAX)))
        return err;
    if (outcome < TSL_SHADOW_COMPLETED || outcome > TSL_SHADOW_DEPLOYED)
        return tsl_diag_set(d, TSL_EINVAL,
                            "shadow %lld: outcome %d: expected completed, "
                            "stopped, superseded or deployed",
                            (long long)id, (int)outcome);
    if ((comparison != NULL) != (outcome == TSL_SHADOW_COMPLETED))
        return tsl_diag_set(d, TSL_EINVAL,
                            "shadow %lld: a comparison goes with the outcome completed only",
                            (long long)id);
    return s->vt->shadow_end(s, id, outcome, why ? why : "", comparison,
                             progress < 0 ? 0 : progress, compared_payload, d);
}

tsl_err tsl_store_shadow_progress(tsl_store *s, int64_t id, int progress, tsl_diag *d) {
    tsl_err err;
    if ((err = tsl_sto_ready(s, d))) return err;
    return s->vt->shadow_progress(s, id, progress < 0 ? 0 : progress, d);
}

tsl_err tsl_store_shadow_decided(tsl_store *s, int64_t id, tsl_diag *d) {
    tsl_err err;
    if ((err = tsl_sto_ready(s, d))) return err;
    return s->vt->shadow_decided(s, id, d);
}

tsl_err tsl_store_shadow_get(tsl_store *s, const char *endpoint, tsl_store_shadow *out, int *found,
                             tsl_diag *d) {
    tsl_store_shadow *v = NULL;
    size_t n = 0;
    tsl_err err;
    memset(out, 0, sizeof *out);
    *found = 0;
    if ((err = tsl_sto_ready(s, d)) ||
        (err = tsl_sto_check_name(d, "endpoint", endpoint, TSL_STORE_NAME_MAX, 0)))
        return err;
    if ((err = s->vt->shadow_list(s, endpoint, NULL, 0, 1, 1, &v, &n, d))) return err;
    if (n) {
        *out = v[0];
        memset(&v[0], 0, sizeof v[0]);
        *found = 1;
    }
    tsl_store_shadow_list_free(v, n);
    return TSL_OK;
}

tsl_err tsl_store_shadow_list(tsl_store *s, const char *endpoint, const char *forecaster,
                              int version, int running, size_t limit, tsl_store_shadow **out,
                              size_t *n, tsl_diag *d) {
    tsl_err err;
    *out = NULL;
    *n = 0;
    if ((err = tsl_sto_ready(s, d)) ||
        (endpoint && (err = tsl_sto_check_name(d, "endpoint", endpoint, TSL_STORE_NAME_MAX, 0))) ||
        (forecaster &&
         (err = tsl_sto_check_name(d, "forecaster", forecaster, TSL_STORE_NAME_MAX, 0))))
        return err;
    return s->vt->shadow_list(s, endpoint, forecaster, version < 0 ? 0 : version, running != 0,
                              limit, out, n, d);
}

void tsl_store_shadow_release(tsl_store_shadow *sh) {
    if (!sh) return;
    tsl_free(sh->endpoint);
    tsl_free(sh->forecaster);
    tsl_free(sh->who);
    tsl_free(sh->why);
    tsl_free(sh->end_why);
    tsl_free(sh->comparison);
    memset(sh, 0, sizeof *sh);
}

void tsl_store_shadow_list_free(tsl_store_shadow *list, size_t n) {
    if (!list) return;
    for (size_t i = 0; i < n; i++) tsl_store_shadow_release(&list[i]);
    tsl_free(list);
}
