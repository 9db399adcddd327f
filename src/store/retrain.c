/*
 * retrain.c - the store's front end for retraining decisions (store.h, "retraining
 * triggers"): argument checks, then the back end's one-transaction operation.
 */
#include <string.h>

#include "store/store_impl.h"
#include "tsloop/mem.h"

/* The checks every ask must pass before it reaches the back end. */
static tsl_err check_ask(const tsl_store_retrain_ask *a, tsl_diag *d) {
    tsl_err err;
    if (a->event_id <= 0)
        return tsl_diag_set(d, TSL_EINVAL, "retrain decision: event id %lld, expected > 0",
                            (long long)a->event_id);
    if ((err = tsl_sto_check_name(d, "forecaster", a->forecaster, TSL_STORE_NAME_MAX, 0)))
        return err;
    if (!a->trigger || !a->trigger[0])
        return tsl_diag_set(d, TSL_EINVAL,
                            "retrain decision: no trigger, expected alarm or "
                            "new_data");
    if ((err = tsl_sto_check_text(d, "retrain reason", a->reason ? a->reason : "", 1024)))
        return err;
    if (a->cooldown_ms < 0 || a->max_per_day < 0)
        return tsl_diag_set(d, TSL_EINVAL,
                            "retrain decision: cooldown %lld ms and cap %d, expected >= 0",
                            (long long)a->cooldown_ms, a->max_per_day);
    return TSL_OK;
}

tsl_err tsl_store_retrain_decide(tsl_store *s, const tsl_store_retrain_ask *ask,
                                 tsl_store_retrain *out, tsl_diag *d) {
    tsl_err err;
    memset(out, 0, sizeof *out);
    if ((err = tsl_sto_ready(s, d)) || (err = check_ask(ask, d))) return err;
    tsl_store_retrain_ask a = *ask;
    if (!a.reason) a.reason = "";
    return s->vt->retrain_decide(s, &a, out, d);
}

tsl_err tsl_store_retrain_record(tsl_store *s, int64_t event_id, const char *forecaster,
                                 int64_t execution_id, const char *outcome, tsl_diag *d) {
    tsl_err err;
    if ((err = tsl_sto_ready(s, d))) return err;
    if (event_id <= 0 || execution_id <= 0)
        return tsl_diag_set(d, TSL_EINVAL,
                            "retrain record: event %lld, execution %lld, expected both > 0",
                            (long long)event_id, (long long)execution_id);
    if ((err = tsl_sto_check_name(d, "forecaster", forecaster, TSL_STORE_NAME_MAX, 0))) return err;
    return s->vt->retrain_record(s, event_id, forecaster, execution_id, outcome ? outcome : "", d);
}

tsl_err tsl_store_retrain_cursor(tsl_store *s, int64_t *event_id, tsl_diag *d) {
    tsl_err err;
    *event_id = 0;
    if ((err = tsl_sto_ready(s, d))) return err;
    return s->vt->retrain_cursor(s, event_id, d);
}

tsl_err tsl_store_retrain_advance(tsl_store *s, int64_t event_id, tsl_diag *d) {
    tsl_err err;
    if ((err = tsl_sto_ready(s, d))) return err;
    if (event_id < 0)
        return tsl_diag_set(d, TSL_EINVAL, "retrain cursor: event %lld, expected >= 0",
                            (long long)event_id);
    return s->vt->retrain_advance(s, event_id, d);
}

void tsl_store_retrain_release(tsl_store_retrain *r) {
    if (!r) return;
    tsl_free(r->forecaster);
    tsl_free(r->trigger);
    tsl_free(r->reason);
    tsl_free(r->suppressed);
    memset(r, 0, sizeof *r);
}
