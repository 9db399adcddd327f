/*
 * detector.c - the store's front end for the residual detectors' states: argument checks,
 * then the back end (sqlite_detector.c). The monitor's evaluator (src/ops/residuals.c) is the
 * only writer; docs/store.md describes the table.
 */
#include <string.h>

#include "store/store_impl.h"
#include "tsloop/mem.h"

void tsl_store_detector_list_free(tsl_store_detector *list, size_t n) {
    if (!list) return;
    for (size_t i = 0; i < n; i++) {
        tsl_free(list[i].monitor);
        tsl_free(list[i].endpoint);
        tsl_free(list[i].item);
        tsl_free(list[i].forecaster);
        tsl_free(list[i].state);
    }
    tsl_free(list);
}

tsl_err tsl_store_detector_list(tsl_store *s, const char *monitor, const char *endpoint,
                                tsl_store_detector **out, size_t *n, tsl_diag *d) {
    tsl_err err;
    *out = NULL;
    *n = 0;
    if ((err = tsl_sto_ready(s, d))) return err;
    if ((err = tsl_sto_check_name(d, "monitor", monitor, TSL_STORE_NAME_MAX, 0))) return err;
    if ((err = tsl_sto_check_name(d, "endpoint", endpoint, TSL_STORE_NAME_MAX, 0))) return err;
    return s->vt->detector_list(s, monitor, endpoint, out, n, d);
}

tsl_err tsl_store_detector_put(tsl_store *s, const tsl_store_detector *v, size_t n,
                               const tsl_store_datapoint *dp, size_t ndp, tsl_diag *d) {
    tsl_err err;
    if ((err = tsl_sto_ready(s, d))) return err;
    for (size_t i = 0; i < n; i++) {
        if ((err = tsl_sto_check_name(d, "monitor", v[i].monitor, TSL_STORE_NAME_MAX, 0)) ||
            (err = tsl_sto_check_name(d, "endpoint", v[i].endpoint, TSL_STORE_NAME_MAX, 0)))
            return err;
        if (!v[i].item || !v[i].forecaster || !v[i].state)
            return tsl_diag_set(d, TSL_EINVAL,
                                "detector state %zu: item, forecaster and state are required", i);
    }
    for (size_t i = 0; i < ndp; i++)
        if (!dp[i].monitor || !dp[i].window || !dp[i].metric)
            return tsl_diag_set(d, TSL_EINVAL,
                                "datapoint %zu: monitor, window and metric are required", i);
    if (!n && !ndp) return TSL_OK;
    return s->vt->detector_put(s, v, n, dp, ndp, d);
}
