/*
 * quality.c - the store's front end for what quality monitors read and record: the context of
 * an ingest's items and the per-ingest reports (store.h states the contracts; sqlite_quality.c
 * does the storage).
 */
#include <stdint.h>
#include <string.h>

#include "store/store_impl.h"
#include "tsloop/mem.h"

void tsl_store_ingest_item_list_free(tsl_store_ingest_item *list, size_t n) {
    if (!list) return;
    for (size_t i = 0; i < n; i++) tsl_free(list[i].item);
    tsl_free(list);
}

tsl_err tsl_store_ingest_items(tsl_store *s, int64_t ingest_id, tsl_store_ingest_item **out,
                               size_t *n, tsl_diag *d) {
    tsl_err err;
    *out = NULL;
    *n = 0;
    if ((err = tsl_sto_ready(s, d))) return err;
    return s->vt->ingest_items(s, ingest_id, out, n, d);
}

void tsl_store_quality_list_free(tsl_store_quality *list, size_t n) {
    if (!list) return;
    for (size_t i = 0; i < n; i++) {
        tsl_free(list[i].monitor);
        tsl_free(list[i].dataset);
        tsl_free(list[i].worst);
        tsl_free(list[i].summary);
    }
    tsl_free(list);
}

tsl_err tsl_store_quality_put(tsl_store *s, const tsl_store_quality *q, const char *payload,
                              int *recorded, tsl_diag *d) {
    tsl_err err;
    *recorded = 0;
    if ((err = tsl_sto_ready(s, d))) return err;
    if (!q->monitor || !q->dataset || !q->worst)
        return tsl_diag_set(d, TSL_EINVAL,
                            "quality report: monitor, dataset and worst are "
                            "required");
    if ((err = tsl_sto_check_text(d, "quality monitor", q->monitor, TSL_STORE_NAME_MAX)) ||
        (err = tsl_sto_check_text(d, "quality dataset", q->dataset, TSL_STORE_NAME_MAX)))
        return err;
    return s->vt->quality_put(s, q, payload, recorded, d);
}

tsl_err tsl_store_quality_list(tsl_store *s, int64_t ingest_id, const char *monitor,
                               tsl_store_quality **out, size_t *n, tsl_diag *d) {
    tsl_err err;
    *out = NULL;
    *n = 0;
    if ((err = tsl_sto_ready(s, d))) return err;
    return s->vt->quality_list(s, ingest_id, monitor, out, n, d);
}
