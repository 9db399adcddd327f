/*
 * predict.c - batch forecasts (daemon.h, tsl_predict): the forecast route over every item of a
 * deployed version, written as the forecast CSV and captured.
 *
 * It loads the endpoint's version exactly as the daemon does (served.c), so a batch forecast
 * and an online one from the same version and data agree to the bit. Rows stream into the
 * output file through tsl_output_write_rows (the file appears whole or not at all), and
 * captures are committed in groups of CAPTURE_BATCH as the rows are made, so memory stays
 * bounded whatever the number of items.
 *
 * A version in shadow on the endpoint forecasts the same items afterwards, with the same
 * horizon, levels and inference id, and is captured flagged shadow (docs/retraining.md). It
 * runs after the file is written, inline: a batch has no client waiting on a socket, and doing
 * it here rather than on the daemon's shadow thread keeps `tsloop predict` without a daemon
 * complete. Its failures are the shadow's own and never fail the batch.
 */
#include <assert.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "daemon/daemon_impl.h"
#include "tsloop/mem.h"
#include "tsloop/output.h"

#define CAPTURE_BATCH 1000

typedef struct predict_ctx {
    tsl_store *s;
    tsl_served *sv;
    const size_t *idx; /* bundle entries to forecast, in output order */
    size_t h, nq;
    const double *levels;
    const char *inference_id;
    double *mean, *quant; /* CAPTURE_BATCH slots of h and h * nq */
    int64_t *targets;     /* CAPTURE_BATCH slots of h */
    tsl_store_capture_new *caps;
    size_t ncaps;
    tsl_predict_result *r;
    tsl_err err; /* the first capture error */
    tsl_diag d;
} predict_ctx;

/* Commits the captures gathered so far (once an error happened, nothing more). */
static void flush_captures(predict_ctx *c) {
    if (!c->ncaps || c->err) {
        c->ncaps = 0;
        return;
    }
    c->err = tsl_store_capture_add(c->s, c->caps, c->ncaps, &c->d);
    if (!c->err) c->r->captured += c->ncaps;
    c->ncaps = 0;
}

/* Appends the capture of item's forecast by version sv (flagged shadow or live) to the batch;
 * the arrays are the batch's slot, owned by c. */
static void add_capture(predict_ctx *c, const tsl_served *sv, const char *item, int64_t origin,
                        int64_t *targets, double *mean, double *quant, int shadow) {
    assert(c->ncaps < CAPTURE_BATCH);
    tsl_store_capture_new *x = &c->caps[c->ncaps++];
    memset(x, 0, sizeof *x);
    x->inference_id = c->inference_id;
    x->endpoint = sv->endpoint;
    x->model_id = sv->model_id;
    x->item = item;
    x->origin = origin;
    x->steps = c->h;
    x->nq = c->nq;
    x->targets = targets;
    x->levels = c->levels;
    x->mean = mean;
    x->quant = quant;
    x->shadow = shadow;
}

/* The row writer: item k's forecast as CSV rows, and its capture. */
static void predict_row(void *vctx, size_t k, tsl_wbuf *b) {
    predict_ctx *c = vctx;
    const tsl_served *sv = c->sv;
    size_t i = c->idx[k];
    tsl_bundle_entry e;
    tsl_bundle_entry_at(sv->bundle, i, &e);
    if (!sv->models[i]) {
        c->r->unknown++;
        return;
    }
    if (c->ncaps == CAPTURE_BATCH) flush_captures(c);
    size_t slot = c->ncaps;
    double *mean = c->mean + slot * c->h, *quant = c->quant + slot * c->h * c->nq;
    int64_t *targets = c->targets + slot * c->h;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_model_forecast(sv->models[i], c->h, c->levels, c->nq, mean, quant, &d)) {
        c->r->unknown++;
        return;
    }
    int64_t origin = sv->origin[i];
    for (size_t s = 0; s < c->h; s++) targets[s] = tsl_freq_add(sv->freq, origin, (int64_t)s + 1);
    tsl_fcsv_rows(b, e.item_id, sv->freq, targets[0], c->h, mean, quant, c->nq);
    c->r->rows += c->h;
    c->r->items++;
    add_capture(c, sv, e.item_id, origin, targets, mean, quant, 0);
}

/* Forecasts the items of c->idx[0..n) (entries of the live version c->sv) with the version
 * in shadow on endpoint, if any, and commits their captures flagged shadow; counts them in
 * c->r. */
static void predict_shadow(predict_ctx *c, const char *endpoint, size_t n) {
    tsl_store_shadow sh = {0};
    tsl_served *sv = NULL;
    tsl_diag d = {TSL_OK, {0}};
    int found = 0;
    if (tsl_store_shadow_get(c->s, endpoint, &sh, &found, &d) || !found) goto out;
    tsl_store_deployment dp = {0};
    dp.id = sh.id;
    dp.endpoint = sh.endpoint;
    dp.forecaster = sh.forecaster;
    dp.version = sh.version;
    dp.model_id = sh.model_id;
    if (tsl_served_load(c->s, &dp, &sv, &d)) goto out;
    c->r->shadow_version = sv->version;
    c->ncaps = 0;
    for (size_t k = 0; k < n && !c->err; k++) {
        tsl_bundle_entry e;
        tsl_bundle_entry_at(c->sv->bundle, c->idx[k], &e);
        long at = tsl_bundle_find(sv->bundle, e.item_id);
        if (at < 0 || !sv->models[at]) continue;
        if (c->ncaps == CAPTURE_BATCH) {
            size_t before = c->r->captured;
            flush_captures(c);
            c->r->shadow_captured += c->r->captured - before;
            c->r->captured = before;
        }
        size_t slot = c->ncaps;
        double *mean = c->mean + slot * c->h, *quant = c->quant + slot * c->h * c->nq;
        int64_t *targets = c->targets + slot * c->h;
        if (tsl_model_forecast(sv->models[at], c->h, c->levels, c->nq, mean, quant, NULL)) continue;
        int64_t origin = sv->origin[at];
        for (size_t s = 0; s < c->h; s++)
            targets[s] = tsl_freq_add(sv->freq, origin, (int64_t)s + 1);
        add_capture(c, sv, e.item_id, origin, targets, mean, quant, 1);
    }
    size_t before = c->r->captured;
    flush_captures(c);
    c->r->shadow_captured += c->r->captured - before;
    c->r->captured = before;
    if (c->err) {
        d = c->d;
        c->err = TSL_OK;
    }
out:
    if (d.code)
        fprintf(stderr, "tsloop: the shadow of endpoint %s: %s\n", endpoint, tsl_diag_msg(&d));
    tsl_served_unref(sv);
    tsl_store_shadow_release(&sh);
}

tsl_err tsl_predict(tsl_store *s, const char *endpoint, const char *path, const tsl_predict_opts *o,
                    tsl_predict_result *r, tsl_diag *d) {
    tsl_store_deployment dp = {0};
    tsl_served *sv = NULL;
    size_t *idx = NULL, n = 0;
    predict_ctx c;
    tsl_wbuf head;
    tsl_err err;
    memset(r, 0, sizeof *r);
    memset(&c, 0, sizeof c);
    tsl_wbuf_init(&head);
    if ((err = tsl_store_endpoint_get(s, endpoint, &dp, d))) goto out;
    if ((err = tsl_served_load(s, &dp, &sv, d))) goto out;
    tsl_strlcpy(r->forecaster, sv->forecaster, sizeof r->forecaster);
    r->version = sv->version;
    if (o && o->inference_id) {
        tsl_strlcpy(r->inference_id, o->inference_id, sizeof r->inference_id);
    } else {
        unsigned char raw[8];
        if (sodium_init() < 0) {
            err = tsl_diag_set(d, TSL_EINTERNAL, "libsodium could not be initialised");
            goto out;
        }
        randombytes_buf(raw, sizeof raw);
        memcpy(r->inference_id, "batch-", 6);
        sodium_bin2hex(r->inference_id + 6, sizeof r->inference_id - 6, raw, sizeof raw);
    }
    idx = tsl_malloc((sv->n ? sv->n : 1) * sizeof *idx);
    if (o && o->items) {
        for (size_t k = 0; k < o->nitems; k++) {
            long at = tsl_bundle_find(sv->bundle, o->items[k]);
            if (at < 0)
                r->unknown++;
            else if (n < sv->n)
                idx[n++] = (size_t)at;
        }
    } else {
        for (size_t i = 0; i < sv->n; i++) idx[n++] = i;
    }
    c.s = s;
    c.sv = sv;
    c.idx = idx;
    c.h = o && o->horizon ? o->horizon : sv->horizon;
    c.levels = o && o->has_levels ? o->levels : sv->levels;
    c.nq = o && o->has_levels ? o->nq : sv->nq;
    c.inference_id = r->inference_id;
    c.r = r;
    c.mean = tsl_malloc(CAPTURE_BATCH * c.h * sizeof *c.mean);
    c.quant = tsl_malloc((CAPTURE_BATCH * c.h * c.nq + 1) * sizeof *c.quant);
    c.targets = tsl_malloc(CAPTURE_BATCH * c.h * sizeof *c.targets);
    c.caps = tsl_malloc(CAPTURE_BATCH * sizeof *c.caps);
    tsl_fcsv_header(&head, c.levels, c.nq);
    err = tsl_output_write_rows(path, tsl_wbuf_cstr(&head), n, predict_row, &c, d);
    if (!err) flush_captures(&c);
    if (!err && c.err) {
        err = c.err;
        *d = c.d;
        tsl_diag_prefix(d, "the forecasts were written but not all captured: ");
    }
    if (!err) predict_shadow(&c, endpoint, n);
out:
    tsl_free(c.mean);
    tsl_free(c.quant);
    tsl_free(c.targets);
    tsl_free(c.caps);
    tsl_free(idx);
    tsl_wbuf_release(&head);
    tsl_served_unref(sv);
    tsl_store_deployment_release(&dp);
    return err;
}
