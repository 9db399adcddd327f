/*
 * ensemble.c - a combination of fitted models, itself a model.
 *
 * The forecast is the weighted mean (or the median) of the members' forecasts, step by step;
 * each quantile level is combined the same way ("Vincentization": averaging quantiles rather
 * than mixing distributions, which keeps the combined band as sharp as its members'), which
 * preserves monotonicity for the mean and is sorted by model.c for the median. Members are
 * serialised as nested model envelopes, so an ensemble loads like any model, and update feeds
 * every member.
 */
#include "model_impl.h"

#include <string.h>

#include "tsloop/mem.h"

#define MAX_MEMBERS 64

typedef struct ensemble {
    size_t k;
    int use_median;
    double *weights; /* k, sum 1 */
    tsl_model **members;
} ensemble;

static void ensemble_free(void *p) {
    ensemble *e = p;
    if (!e) return;
    for (size_t i = 0; i < e->k; i++) tsl_model_free(e->members[i]);
    tsl_free(e->members);
    tsl_free(e->weights);
    tsl_free(e);
}

static tsl_err ensemble_fit(tsl_model *m, const double *y, size_t n, tsl_diag *d) {
    (void)m, (void)y, (void)n;
    return tsl_diag_set(d, TSL_EINVAL,
                        "an ensemble is built from fitted members with "
                        "tsl_model_ensemble, not fitted directly");
}

static void set_name(tsl_model *m, const ensemble *e) {
    tsl_wbuf b;
    tsl_wbuf_init(&b);
    tsl_wbuf_puts(&b, e->use_median ? "Median(" : "Mean(");
    for (size_t i = 0; i < e->k; i++) {
        if (i) tsl_wbuf_putc(&b, ',');
        tsl_wbuf_puts(&b, tsl_model_kind_name(tsl_model_kind_of(e->members[i])));
    }
    tsl_wbuf_putc(&b, ')');
    tsl_strlcpy(m->name, tsl_wbuf_cstr(&b), sizeof m->name);
    tsl_wbuf_release(&b);
}

/* Median of x[0..k) (sorts x). */
static double median_of(double *x, size_t k) {
    tsl_sort_doubles(x, k);
    return k % 2 ? x[k / 2] : 0.5 * (x[k / 2 - 1] + x[k / 2]);
}

static tsl_err ensemble_forecast(const tsl_model *m, size_t h, const double *levels, size_t nq,
                                 double *mean, double *quant, tsl_diag *d) {
    const ensemble *e = m->state;
    size_t cols = 1 + nq;
    double *all = tsl_reallocarray(NULL, e->k * h * cols, sizeof *all); /* [member][step][col] */
    double *tmp = tsl_malloc(e->k * sizeof *tmp);
    double *mu = tsl_malloc(h * sizeof *mu);
    double *q = nq ? tsl_reallocarray(NULL, h * nq, sizeof *q) : NULL;
    tsl_err rc = TSL_OK;
    for (size_t i = 0; i < e->k; i++) {
        rc = tsl_model_forecast(e->members[i], h, levels, nq, mu, q, d);
        if (rc) {
            tsl_diag_prefix(d, "ensemble member %s: ", tsl_model_name(e->members[i]));
            goto out;
        }
        double *row = all + i * h * cols;
        for (size_t s = 0; s < h; s++) {
            row[s * cols] = mu[s];
            for (size_t j = 0; j < nq; j++) row[s * cols + 1 + j] = q[s * nq + j];
        }
    }
    for (size_t s = 0; s < h; s++) {
        for (size_t c = 0; c < cols; c++) {
            double v = 0;
            if (e->use_median) {
                for (size_t i = 0; i < e->k; i++) tmp[i] = all[(i * h + s) * cols + c];
                v = median_of(tmp, e->k);
            } else {
                for (size_t i = 0; i < e->k; i++) v += e->weights[i] * all[(i * h + s) * cols + c];
            }
            if (c == 0)
                mean[s] = v;
            else
                quant[s * nq + c - 1] = v;
        }
    }
out:
    tsl_free(all);
    tsl_free(tmp);
    tsl_free(mu);
    tsl_free(q);
    return rc;
}

static tsl_err ensemble_update(tsl_model *m, const double *y, size_t n, double *err1, tsl_diag *d) {
    ensemble *e = m->state;
    for (size_t t = 0; t < n; t++) {
        if (err1) {
            double fc;
            tsl_err rc = ensemble_forecast(m, 1, NULL, 0, &fc, NULL, d);
            if (rc) return rc;
            err1[t] = y[t] - fc;
        }
        for (size_t i = 0; i < e->k; i++) {
            tsl_err rc = tsl_model_update(e->members[i], y + t, 1, NULL, d);
            if (rc) return rc;
        }
    }
    return TSL_OK;
}

static void ensemble_save(const tsl_model *m, tsl_wbuf *w) {
    const ensemble *e = m->state;
    tsl_wbuf_put_u32(w, (uint32_t)e->k);
    tsl_wbuf_put_u8(w, (uint8_t)e->use_median);
    tsl_wbuf_put_f64s(w, e->weights, e->k);
    for (size_t i = 0; i < e->k; i++) {
        size_t at = w->len;
        tsl_wbuf_put_u32(w, 0);
        tsl_model_save(e->members[i], w, NULL);
        size_t len = w->len - at - 4;
        for (int b = 0; b < 4; b++) w->data[at + (size_t)b] = (uint8_t)(len >> (8 * b));
    }
}

static tsl_err ensemble_load(tsl_model *m, tsl_rbuf *r, uint16_t version, tsl_diag *d) {
    (void)version;
    ensemble *e = tsl_calloc(1, sizeof *e);
    m->state = e;
    uint32_t k = tsl_rbuf_u32(r);
    e->use_median = tsl_rbuf_u8(r) ? 1 : 0;
    if (!tsl_rbuf_ok(r) || k < 1 || k > MAX_MEMBERS)
        return tsl_diag_set(d, TSL_ECORRUPT, "ensemble state is malformed");
    e->weights = tsl_malloc(k * sizeof *e->weights);
    e->members = tsl_calloc(k, sizeof *e->members);
    tsl_rbuf_f64s(r, e->weights, k);
    for (uint32_t i = 0; i < k; i++) {
        uint32_t len = tsl_rbuf_u32(r);
        const void *p = tsl_rbuf_bytes(r, len);
        if (!p) return tsl_diag_set(d, TSL_ECORRUPT, "ensemble member %u is truncated", i + 1);
        tsl_err rc = tsl_model_load(p, len, &e->members[i], d);
        e->k = i + (rc ? 0 : 1);
        if (rc) {
            tsl_diag_prefix(d, "ensemble member %u: ", i + 1);
            return rc;
        }
        if (!(e->weights[i] >= 0 && e->weights[i] <= 1))
            return tsl_diag_set(d, TSL_ECORRUPT, "ensemble weight %u is out of range", i + 1);
    }
    return TSL_OK;
}

tsl_err tsl_model_ensemble(tsl_model **members, const double *weights, size_t k, int use_median,
                           tsl_model **out, tsl_diag *d) {
    tsl_err rc = TSL_OK;
    tsl_model *m = NULL;
    ensemble *e = NULL;
    *out = NULL;
    if (k < 1 || k > MAX_MEMBERS) {
        rc =
            tsl_diag_set(d, TSL_EINVAL, "an ensemble needs 1..%d members, got %zu", MAX_MEMBERS, k);
        goto out;
    }
    double total = 0;
    for (size_t i = 0; i < k; i++) {
        double w = weights ? weights[i] : 1.0;
        if (!(w >= 0) || !isfinite(w)) {
            rc = tsl_diag_set(d, TSL_EINVAL, "ensemble weight %zu is negative or not finite", i);
            goto out;
        }
        total += w;
        if (members[i]->nobs != members[0]->nobs) {
            rc = tsl_diag_set(d, TSL_EINVAL, "ensemble members were fitted on different series");
            goto out;
        }
    }
    if (!(total > 0)) {
        rc = tsl_diag_set(d, TSL_EINVAL, "ensemble weights sum to zero");
        goto out;
    }
    e = tsl_calloc(1, sizeof *e);
    e->k = k;
    e->use_median = use_median ? 1 : 0;
    e->weights = tsl_malloc(k * sizeof *e->weights);
    e->members = tsl_malloc(k * sizeof *e->members);
    m = tsl_calloc(1, sizeof *m);
    m->ops = &tsl_ensemble_ops;
    m->aicc = NAN;
    m->nonneg = 1;
    for (size_t i = 0; i < k; i++) {
        e->weights[i] = (weights ? weights[i] : 1.0) / total;
        e->members[i] = members[i];
        m->nonneg &= members[i]->nonneg;
    }
    tsl_model_spec_init(&m->spec, TSL_MODEL_ENSEMBLE, members[0]->period);
    m->period = members[0]->period;
    m->nobs = members[0]->nobs;
    m->state = e;
    set_name(m, e);
    *out = m;
    return TSL_OK;
out:
    for (size_t i = 0; i < k; i++) tsl_model_free(members[i]);
    return rc;
}

const tsl_model_ops tsl_ensemble_ops = {TSL_MODEL_ENSEMBLE, 1,
                                        ensemble_fit,       ensemble_forecast,
                                        ensemble_update,    ensemble_save,
                                        ensemble_load,      ensemble_free};
