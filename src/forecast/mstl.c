/*
 * mstl.c - several seasonal periods: MSTL removes them, a non-seasonal model forecasts the rest.
 *
 * Hourly data cycle daily and weekly (24 and 168 steps), daily data weekly and yearly. Models
 * with one seasonal state handle one of them at best, and for long periods not even that. The
 * answer of Bandara, Hyndman & Bergmeir, "MSTL: A Seasonal-Trend Decomposition Algorithm for
 * Time Series with Multiple Seasonal Patterns" (2021), as R's forecast package forecasts with it
 * (forecast.stl on an mstl() fit, also what stlf() does for one period):
 *   1. decompose y by MSTL (decompose.h: repeated STL, one pass per period, ascending);
 *   2. fit a non-seasonal model to the seasonally adjusted series (trend + remainder);
 *   3. forecast it, and add to every step, mean and quantiles alike, the last full cycle of each
 *      seasonal component, continued by phase.
 * The seasonal components are thus treated as known: the intervals are the base model's,
 * shifted. That is R's choice too, and it is what makes the model cheap to serve and update.
 *
 * The base is any kind that works on a non-seasonal series (ETS by default; Theta, OTM, DOTM,
 * ARIMA, naive, drift), fitted through the generic tsl_model_fit with period 1, so this file
 * knows nothing of any of them; a base kind this build lacks fails that fit with "unknown model
 * kind". The model keeps one figure per period (its last cycle: figure[i][t % p] is the
 * component at time t counted from the first observation) and the fitted base. An update
 * deseasonalises the new observations with the figures, at the phase given by the observations
 * absorbed so far, and feeds them to the base; the figures stay those of the fit until a refit.
 *
 * Periods: spec->periods[0..nperiods) (ascending), or spec->period alone when nperiods is 0.
 * Periods with fewer than two full cycles plus one value in the history (2 p >= n) are dropped,
 * as R's mstl() drops them; with none left the base is fitted to the series itself.
 *
 * Missing values: the decomposition fills gaps as R's na.interp() (decompose.h), but the base
 * model sees the adjusted series with the gaps left missing, so that its own policy applies
 * (for ETS: the state advances by its prediction and the point adds nothing to the likelihood)
 * and no imputed value is taken for an observation. R instead fits ETS to na.interp() of the
 * adjusted series.
 */
#include "model_impl.h"

#include <assert.h>
#include <string.h>

#include "decompose.h"
#include "tsloop/mem.h"

#define MAX_PERIOD 100000 /* as model.c's bound on a spec's period */

typedef struct mstl_model {
    int np;                          /* seasonal components removed (periods kept) */
    int periods[TSL_MAX_PERIODS];    /* ascending */
    double *figure[TSL_MAX_PERIODS]; /* periods[i] values each, phase 0 at the first value */
    tsl_model *base;                 /* fitted with period 1 on the adjusted series */
} mstl_model;

static void mstl_free(void *p) {
    mstl_model *s = p;
    if (!s) return;
    for (int i = 0; i < TSL_MAX_PERIODS; i++) tsl_free(s->figure[i]);
    tsl_model_free(s->base);
    tsl_free(s);
}

/* The periods a spec asks for (ascending, as check_spec in model.c ensures); returns their
 * count. Period 1 alone asks for none. */
static int requested_periods(const tsl_model_spec *spec, int *out) {
    if (spec->nperiods > 0) {
        memcpy(out, spec->periods, (size_t)spec->nperiods * sizeof *out);
        return spec->nperiods;
    }
    if (spec->period < 2) return 0;
    out[0] = spec->period;
    return 1;
}

/* The spec of the base model: the MSTL spec's options for it, the kind, period 1, no season. */
static void base_spec(const tsl_model_spec *spec, tsl_model_spec *b) {
    *b = *spec;
    b->kind = spec->base;
    b->period = 1;
    b->nperiods = 0;
    memset(b->periods, 0, sizeof b->periods);
    b->base = TSL_MODEL_ETS;
    b->ets_season = 'N';
}

/* Sum of the seasonal figures at absolute time t. */
static double season_at(const mstl_model *s, uint64_t t) {
    double v = 0.0;
    for (int i = 0; i < s->np; i++) v += s->figure[i][t % (uint64_t)s->periods[i]];
    return v;
}

/* "MSTL(24,168)+<base name>", or "MSTL()+..." when no period was kept. */
static void set_name(tsl_model *m, const mstl_model *s) {
    tsl_wbuf b;
    tsl_wbuf_init(&b);
    tsl_wbuf_puts(&b, "MSTL(");
    for (int i = 0; i < s->np; i++) tsl_wbuf_printf(&b, "%s%d", i ? "," : "", s->periods[i]);
    tsl_wbuf_printf(&b, ")+%s", tsl_model_name(s->base));
    tsl_strlcpy(m->name, tsl_wbuf_cstr(&b), sizeof m->name);
    tsl_wbuf_release(&b);
}

/* ops.fit: MSTL on the requested periods that fit the history, the base on what remains. */
static tsl_err mstl_fit(tsl_model *m, const double *y, size_t n, tsl_diag *d) {
    tsl_err rc = TSL_OK;
    mstl_model *s = tsl_calloc(1, sizeof *s);
    tsl_mstl dc = {0};
    double *adj = tsl_reallocarray(NULL, n, sizeof *adj);
    int want[TSL_MAX_PERIODS];
    int nwant = requested_periods(&m->spec, want);
    size_t usable = 0;
    while ((int)usable < nwant && 2 * (size_t)want[usable] < n) usable++;
    if (usable > 0) {
        rc = tsl_decomp_mstl(y, n, want, nwant, NULL, &dc, d);
        if (rc) goto out;
        assert(dc.nperiods == (int)usable);
        s->np = dc.nperiods;
        memcpy(s->periods, dc.periods, (size_t)s->np * sizeof *s->periods);
        for (int i = 0; i < s->np; i++) {
            size_t p = (size_t)s->periods[i];
            s->figure[i] = tsl_malloc(p * sizeof *s->figure[i]);
            for (size_t t = n - p; t < n; t++) s->figure[i][t % p] = dc.seasonal[i][t];
        }
        /* R's seasadj(): trend + remainder, missing where y was. */
        for (size_t t = 0; t < n; t++) adj[t] = dc.trend[t] + dc.remainder[t];
    } else {
        memcpy(adj, y, n * sizeof *y);
    }
    tsl_model_spec bs;
    base_spec(&m->spec, &bs);
    rc = tsl_model_fit(&bs, adj, n, &s->base, d);
    if (rc) {
        tsl_diag_prefix(d, "MSTL base model: ");
        goto out;
    }
    assert(tsl_model_nobs(s->base) == n);
    set_name(m, s);
    m->state = s;
    s = NULL;
out:
    tsl_mstl_free(&dc);
    tsl_free(adj);
    mstl_free(s);
    return rc;
}

/* ops.forecast: the base's forecast plus the seasonal figures continued by phase. */
static tsl_err mstl_forecast(const tsl_model *m, size_t h, const double *levels, size_t nq,
                             double *mean, double *quant, tsl_diag *d) {
    const mstl_model *s = m->state;
    tsl_err rc = tsl_model_forecast(s->base, h, levels, nq, mean, quant, d);
    if (rc) {
        tsl_diag_prefix(d, "MSTL base model: ");
        return rc;
    }
    for (size_t t = 0; t < h; t++) {
        double add = season_at(s, m->nobs + t);
        mean[t] += add;
        for (size_t j = 0; j < nq; j++) quant[t * nq + j] += add;
    }
    return TSL_OK;
}

/* ops.update: the new observations, deseasonalised by the stored figures, go to the base; its
 * one-step errors are the model's, since the figures shift forecast and actual alike. */
static tsl_err mstl_update(tsl_model *m, const double *y, size_t n, double *err1, tsl_diag *d) {
    mstl_model *s = m->state;
    double *adj = tsl_reallocarray(NULL, n, sizeof *adj);
    for (size_t t = 0; t < n; t++) adj[t] = y[t] - season_at(s, m->nobs + t);
    tsl_err rc = tsl_model_update(s->base, adj, n, err1, d);
    if (rc) tsl_diag_prefix(d, "MSTL base model: ");
    tsl_free(adj);
    return rc;
}

/* State: u8 np; i32 periods[np]; f64 figure[i][periods[i]] for each i; u32 length and the
 * base model's own envelope (tsl_model_save), checksum included. */
static void mstl_save(const tsl_model *m, tsl_wbuf *w) {
    const mstl_model *s = m->state;
    tsl_wbuf_put_u8(w, (uint8_t)s->np);
    for (int i = 0; i < s->np; i++) tsl_wbuf_put_i32(w, s->periods[i]);
    for (int i = 0; i < s->np; i++) tsl_wbuf_put_f64s(w, s->figure[i], (size_t)s->periods[i]);
    size_t at = w->len;
    tsl_wbuf_put_u32(w, 0);
    tsl_model_save(s->base, w, NULL);
    size_t len = w->len - at - 4;
    for (int b = 0; b < 4; b++) w->data[at + (size_t)b] = (uint8_t)(len >> (8 * b));
}

/* 1 when p is one of the periods the spec asked for. */
static int requested(const tsl_model_spec *spec, int p) {
    int want[TSL_MAX_PERIODS];
    int nwant = requested_periods(spec, want);
    for (int i = 0; i < nwant; i++)
        if (want[i] == p) return 1;
    return 0;
}

/* ops.load: reads mstl_save's layout and validates every field against the envelope's spec:
 * kept periods among the requested ones, ascending; finite figures; a base of the spec's kind,
 * non-seasonal, that absorbed as many observations as the model. */
static tsl_err mstl_load(tsl_model *m, tsl_rbuf *r, uint16_t version, tsl_diag *d) {
    (void)version;
    mstl_model *s = tsl_calloc(1, sizeof *s);
    m->state = s;
    s->np = tsl_rbuf_u8(r);
    if (!tsl_rbuf_ok(r) || s->np > TSL_MAX_PERIODS)
        return tsl_diag_set(d, TSL_ECORRUPT, "MSTL state: bad number of periods");
    for (int i = 0; i < s->np; i++) {
        s->periods[i] = tsl_rbuf_i32(r);
        if (!tsl_rbuf_ok(r) || s->periods[i] < 2 || s->periods[i] > MAX_PERIOD ||
            (i && s->periods[i] <= s->periods[i - 1]) || !requested(&m->spec, s->periods[i]))
            return tsl_diag_set(d, TSL_ECORRUPT, "MSTL state: bad seasonal period");
    }
    for (int i = 0; i < s->np; i++) {
        size_t p = (size_t)s->periods[i];
        if (p > tsl_rbuf_left(r) / 8)
            return tsl_diag_set(d, TSL_ECORRUPT, "MSTL state: seasonal figure is truncated");
        s->figure[i] = tsl_malloc(p * sizeof *s->figure[i]);
        tsl_rbuf_f64s(r, s->figure[i], p);
        for (size_t k = 0; k < p; k++)
            if (!isfinite(s->figure[i][k]))
                return tsl_diag_set(d, TSL_ECORRUPT, "MSTL state: non-finite seasonal figure");
    }
    uint32_t len = tsl_rbuf_u32(r);
    const void *blob = tsl_rbuf_bytes(r, len);
    if (!blob) return tsl_diag_set(d, TSL_ECORRUPT, "MSTL state: base model is truncated");
    tsl_err rc = tsl_model_load(blob, len, &s->base, d);
    if (rc) {
        tsl_diag_prefix(d, "MSTL base model: ");
        return rc;
    }
    if (tsl_model_kind_of(s->base) != m->spec.base || s->base->period != 1 ||
        tsl_model_nobs(s->base) != m->nobs)
        return tsl_diag_set(d, TSL_ECORRUPT, "MSTL state: base model does not match");
    return TSL_OK;
}

const tsl_model_ops tsl_mstl_ops = {TSL_MODEL_MSTL, 1,         mstl_fit,  mstl_forecast,
                                    mstl_update,    mstl_save, mstl_load, mstl_free};
