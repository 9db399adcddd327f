/*
 * naive.c - the baseline models: naive, seasonal naive, mean, random walk with drift, and
 * moving average.
 *
 * Point forecasts and prediction intervals follow R's forecast package (naive(), snaive(),
 * rwf(drift = TRUE) through lagwalk(), and meanf()), so the unit tests compare against it.
 * Every baseline keeps running sums rather than the history, so update() is O(1) per
 * observation and gives the same model a refit on the longer series would; the exception is
 * the moving average's error scale, which is estimated at fit time and then held fixed.
 *
 * Missing values: naive and drift carry the last observed value forward and widen the
 * interval by the number of steps since it; seasonal naive keeps, for each position in the
 * season, the last value observed at that position (falling back to the last observed value
 * for positions never seen); mean and moving average skip missing values. Residual sums only
 * use pairs where both values are observed, as R's na.rm does.
 */
#include "model_impl.h"

#include <stdio.h>
#include <string.h>

#include "tsloop/mem.h"

/* ---- lag walks: naive (lag 1), seasonal naive (lag = period), drift (lag 1 + slope) ---- */

typedef struct lagwalk {
    int lag;
    int drift;
    int head;       /* ring slot of the next observation's season position */
    double *last;   /* lag slots: the last observed value at each position (NaN if none) */
    double last_y;  /* the last observed value */
    uint64_t since; /* steps since last_y was observed (0 when the newest value is observed) */
    /* residual sums: resid = y_t - last value at its position (lag diffs), both observed */
    double sum, sumsq;
    uint64_t count;
} lagwalk;

static void lagwalk_free(void *p) {
    lagwalk *s = p;
    if (!s) return;
    tsl_free(s->last);
    tsl_free(s);
}

/* Pushes one value through the ring; returns the one-step error (NaN when undefined). */
static double lagwalk_push(lagwalk *s, double y) {
    double prev = s->last[s->head];
    if (isnan(prev)) prev = s->last_y;
    double fc = prev;
    if (s->drift && s->count > 0) fc += (double)(s->since + 1) * (s->sum / (double)s->count);
    double err = isnan(y) || isnan(prev) ? NAN : y - fc;
    if (!isnan(y)) {
        /* The residual sums use exact lag differences: both ends observed. */
        double at = s->lag == 1 ? (s->since == 0 ? s->last_y : NAN) : s->last[s->head];
        if (!isnan(at)) {
            double diff = y - at;
            s->sum += diff;
            s->sumsq += diff * diff;
            s->count++;
        }
        s->last[s->head] = y;
        s->last_y = y;
        s->since = 0;
    } else {
        s->since++;
    }
    s->head = (s->head + 1) % s->lag;
    return err;
}

static tsl_err lagwalk_fit(tsl_model *m, const double *y, size_t n, int lag, int drift,
                           tsl_diag *d) {
    if (drift && n < 2)
        return tsl_diag_set(d, TSL_ESHORT, "drift needs at least 2 observations, got %zu", n);
    lagwalk *s = tsl_calloc(1, sizeof *s);
    s->lag = lag;
    s->drift = drift;
    s->last = tsl_malloc((size_t)lag * sizeof *s->last);
    for (int i = 0; i < lag; i++) s->last[i] = NAN;
    s->last_y = NAN;
    /* Align the ring so that slot (n % lag) ... is where the season restarts. */
    s->head = 0;
    for (size_t i = 0; i < n; i++) lagwalk_push(s, y[i]);
    m->state = s;
    if (drift && s->count == 0) {
        return tsl_diag_set(d, TSL_ESHORT, "drift needs two consecutive observed values");
    }
    if (lag == 1)
        tsl_strlcpy(m->name, drift ? "Drift" : "Naive", sizeof m->name);
    else
        snprintf(m->name, sizeof m->name, "SNaive(%d)", lag);
    return TSL_OK;
}

static tsl_err naive_fit(tsl_model *m, const double *y, size_t n, tsl_diag *d) {
    return lagwalk_fit(m, y, n, 1, 0, d);
}

static tsl_err snaive_fit(tsl_model *m, const double *y, size_t n, tsl_diag *d) {
    return lagwalk_fit(m, y, n, m->period, 0, d);
}

static tsl_err drift_fit(tsl_model *m, const double *y, size_t n, tsl_diag *d) {
    return lagwalk_fit(m, y, n, 1, 1, d);
}

static tsl_err lagwalk_forecast(const tsl_model *m, size_t h, const double *levels, size_t nq,
                                double *mean, double *quant, tsl_diag *d) {
    const lagwalk *s = m->state;
    (void)d;
    double b = 0, bse = 0, mse = 0;
    uint64_t k = s->count;
    if (s->drift) {
        b = s->sum / (double)k;
        mse = k > 1 ? (s->sumsq - (double)k * b * b) / (double)(k - 1) : 0.0;
        if (mse < 0) mse = 0;
        bse = sqrt(mse / (double)k);
    } else {
        mse = k > 0 ? s->sumsq / (double)k : 0.0;
    }
    double *sd = tsl_malloc(h * sizeof *sd);
    for (size_t i = 0; i < h; i++) {
        double v = s->last[(s->head + i) % (size_t)s->lag];
        if (isnan(v)) v = s->last_y;
        /* steps since the value carried: full seasons for lag > 1, plus the gap for lag 1 */
        double steps = s->lag == 1 ? (double)(s->since + i + 1) : (double)(i / (size_t)s->lag + 1);
        mean[i] = v + steps * b;
        sd[i] = sqrt(mse * steps + (steps * bse) * (steps * bse));
    }
    if (nq) tsl_quant_gauss(mean, sd, h, levels, nq, quant);
    tsl_free(sd);
    return TSL_OK;
}

static tsl_err lagwalk_update(tsl_model *m, const double *y, size_t n, double *err1, tsl_diag *d) {
    (void)d;
    lagwalk *s = m->state;
    for (size_t i = 0; i < n; i++) {
        double e = lagwalk_push(s, y[i]);
        if (err1) err1[i] = e;
    }
    return TSL_OK;
}

static void lagwalk_save(const tsl_model *m, tsl_wbuf *w) {
    const lagwalk *s = m->state;
    tsl_wbuf_put_i32(w, s->lag);
    tsl_wbuf_put_u8(w, (uint8_t)s->drift);
    tsl_wbuf_put_i32(w, s->head);
    tsl_wbuf_put_f64s(w, s->last, (size_t)s->lag);
    tsl_wbuf_put_f64(w, s->last_y);
    tsl_wbuf_put_u64(w, s->since);
    tsl_wbuf_put_f64(w, s->sum);
    tsl_wbuf_put_f64(w, s->sumsq);
    tsl_wbuf_put_u64(w, s->count);
}

static tsl_err lagwalk_load(tsl_model *m, tsl_rbuf *r, uint16_t version, tsl_diag *d) {
    (void)version;
    lagwalk *s = tsl_calloc(1, sizeof *s);
    m->state = s;
    s->lag = tsl_rbuf_i32(r);
    s->drift = tsl_rbuf_u8(r);
    s->head = tsl_rbuf_i32(r);
    if (!tsl_rbuf_ok(r) || s->lag < 1 || s->lag > m->period || s->head < 0 || s->head >= s->lag ||
        (size_t)s->lag > tsl_rbuf_left(r) / 8)
        return tsl_diag_set(d, TSL_ECORRUPT, "lag-walk state is malformed");
    s->last = tsl_malloc((size_t)s->lag * sizeof *s->last);
    tsl_rbuf_f64s(r, s->last, (size_t)s->lag);
    s->last_y = tsl_rbuf_f64(r);
    s->since = tsl_rbuf_u64(r);
    s->sum = tsl_rbuf_f64(r);
    s->sumsq = tsl_rbuf_f64(r);
    s->count = tsl_rbuf_u64(r);
    if (!tsl_rbuf_ok(r) || isnan(s->last_y) || (s->drift && s->count == 0))
        return tsl_diag_set(d, TSL_ECORRUPT, "lag-walk state is malformed");
    return TSL_OK;
}

const tsl_model_ops tsl_naive_ops = {
    TSL_MODEL_NAIVE, 1,           naive_fit, lagwalk_forecast, lagwalk_update, lagwalk_save,
    lagwalk_load,    lagwalk_free};
const tsl_model_ops tsl_snaive_ops = {
    TSL_MODEL_SNAIVE, 1,           snaive_fit, lagwalk_forecast, lagwalk_update, lagwalk_save,
    lagwalk_load,     lagwalk_free};
const tsl_model_ops tsl_drift_ops = {
    TSL_MODEL_DRIFT, 1,           drift_fit, lagwalk_forecast, lagwalk_update, lagwalk_save,
    lagwalk_load,    lagwalk_free};

/* ---- mean: Welford's running mean and variance; t-distributed intervals as meanf() ---- */

typedef struct meanstate {
    uint64_t count;
    double mean, m2;
} meanstate;

static double mean_push(meanstate *s, double y) {
    double err = s->count ? y - s->mean : NAN;
    if (isnan(y)) return NAN;
    s->count++;
    double delta = y - s->mean;
    s->mean += delta / (double)s->count;
    s->m2 += delta * (y - s->mean);
    return err;
}

static tsl_err mean_fit(tsl_model *m, const double *y, size_t n, tsl_diag *d) {
    (void)d;
    meanstate *s = tsl_calloc(1, sizeof *s);
    for (size_t i = 0; i < n; i++) mean_push(s, y[i]);
    m->state = s;
    tsl_strlcpy(m->name, "Mean", sizeof m->name);
    return TSL_OK;
}

static tsl_err mean_forecast(const tsl_model *m, size_t h, const double *levels, size_t nq,
                             double *mean, double *quant, tsl_diag *d) {
    (void)d;
    const meanstate *s = m->state;
    double n = (double)s->count;
    double sd = s->count > 1 ? sqrt(s->m2 / (n - 1.0)) : 0.0;
    double w = sd * sqrt(1.0 + 1.0 / n);
    for (size_t i = 0; i < h; i++) mean[i] = s->mean;
    for (size_t j = 0; j < nq; j++) {
        double t = s->count > 1 ? tsl_qt(levels[j], n - 1.0) : 0.0;
        for (size_t i = 0; i < h; i++) quant[i * nq + j] = s->mean + t * w;
    }
    return TSL_OK;
}

static tsl_err mean_update(tsl_model *m, const double *y, size_t n, double *err1, tsl_diag *d) {
    (void)d;
    for (size_t i = 0; i < n; i++) {
        double e = mean_push(m->state, y[i]);
        if (err1) err1[i] = e;
    }
    return TSL_OK;
}

static void mean_save(const tsl_model *m, tsl_wbuf *w) {
    const meanstate *s = m->state;
    tsl_wbuf_put_u64(w, s->count);
    tsl_wbuf_put_f64(w, s->mean);
    tsl_wbuf_put_f64(w, s->m2);
}

static tsl_err mean_load(tsl_model *m, tsl_rbuf *r, uint16_t version, tsl_diag *d) {
    (void)version;
    meanstate *s = tsl_calloc(1, sizeof *s);
    m->state = s;
    s->count = tsl_rbuf_u64(r);
    s->mean = tsl_rbuf_f64(r);
    s->m2 = tsl_rbuf_f64(r);
    if (!tsl_rbuf_ok(r) || s->count == 0 || !isfinite(s->mean) || !(s->m2 >= 0))
        return tsl_diag_set(d, TSL_ECORRUPT, "mean state is malformed");
    return TSL_OK;
}

const tsl_model_ops tsl_mean_ops = {TSL_MODEL_MEAN, 1,         mean_fit,  mean_forecast,
                                    mean_update,    mean_save, mean_load, tsl_free};

/* ---- moving average of the last `window` observed values ----
 *
 * The forecast is flat at the mean of the last w observed values. Its error scale per step
 * is the root mean square of the in-sample errors of that forecast made from every origin with
 * a full window, for steps 1..H (H = max(period, 8), at most half the series); later steps
 * scale the last one by sqrt(step / H). Intervals are Gaussian with those scales.
 */

typedef struct mastate {
    int window;
    int filled;   /* observed values in the ring, <= window */
    int head;     /* next slot to overwrite */
    double *ring; /* the last `window` observed values */
    int steps;    /* error scales known for steps 1..steps */
    double *rmse; /* steps */
} mastate;

static void ma_free(void *p) {
    mastate *s = p;
    if (!s) return;
    tsl_free(s->ring);
    tsl_free(s->rmse);
    tsl_free(s);
}

static double ma_value(const mastate *s) {
    double sum = 0;
    for (int i = 0; i < s->filled; i++) sum += s->ring[i];
    return s->filled ? sum / s->filled : NAN;
}

static double ma_push(mastate *s, double y) {
    double fc = ma_value(s);
    if (isnan(y)) return NAN;
    s->ring[s->head] = y;
    s->head = (s->head + 1) % s->window;
    if (s->filled < s->window) s->filled++;
    return y - fc;
}

static tsl_err ma_fit(tsl_model *m, const double *y, size_t n, tsl_diag *d) {
    int w = m->spec.window ? m->spec.window : (m->period > 1 ? m->period : 3);
    size_t observed = n - tsl_count_missing(y, n);
    if (observed < (size_t)w + 1)
        return tsl_diag_set(d, TSL_ESHORT,
                            "moving average of window %d needs at least %d observed values, "
                            "got %zu",
                            w, w + 1, observed);
    mastate *s = tsl_calloc(1, sizeof *s);
    m->state = s;
    s->window = w;
    s->ring = tsl_malloc((size_t)w * sizeof *s->ring);
    int steps = m->period > 8 ? m->period : 8;
    if ((size_t)steps > n / 2) steps = (int)(n / 2);
    if (steps < 1) steps = 1;
    s->steps = steps;
    s->rmse = tsl_calloc((size_t)steps, sizeof *s->rmse);
    double *sse = tsl_calloc((size_t)steps, sizeof *sse);
    size_t *cnt = tsl_calloc((size_t)steps, sizeof *cnt);
    for (size_t t = 0; t < n; t++) {
        if (s->filled == w) {
            double fc = ma_value(s);
            for (int k = 0; k < steps && t + (size_t)k < n; k++) {
                double e = y[t + (size_t)k] - fc;
                if (isnan(e)) continue;
                sse[k] += e * e;
                cnt[k]++;
            }
        }
        ma_push(s, y[t]);
    }
    double prev = 0;
    for (int k = 0; k < steps; k++) {
        s->rmse[k] = cnt[k] ? sqrt(sse[k] / (double)cnt[k]) : prev;
        if (s->rmse[k] < prev) s->rmse[k] = prev; /* uncertainty never shrinks with the step */
        prev = s->rmse[k];
    }
    tsl_free(sse);
    tsl_free(cnt);
    snprintf(m->name, sizeof m->name, "MA(%d)", w);
    return TSL_OK;
}

static tsl_err ma_forecast(const tsl_model *m, size_t h, const double *levels, size_t nq,
                           double *mean, double *quant, tsl_diag *d) {
    (void)d;
    const mastate *s = m->state;
    double v = ma_value(s);
    double *sd = tsl_malloc(h * sizeof *sd);
    for (size_t i = 0; i < h; i++) {
        mean[i] = v;
        if (i < (size_t)s->steps)
            sd[i] = s->rmse[i];
        else
            sd[i] = s->rmse[s->steps - 1] * sqrt((double)(i + 1) / (double)s->steps);
    }
    if (nq) tsl_quant_gauss(mean, sd, h, levels, nq, quant);
    tsl_free(sd);
    return TSL_OK;
}

static tsl_err ma_update(tsl_model *m, const double *y, size_t n, double *err1, tsl_diag *d) {
    (void)d;
    for (size_t i = 0; i < n; i++) {
        double e = ma_push(m->state, y[i]);
        if (err1) err1[i] = e;
    }
    return TSL_OK;
}

static void ma_save(const tsl_model *m, tsl_wbuf *w) {
    const mastate *s = m->state;
    tsl_wbuf_put_i32(w, s->window);
    tsl_wbuf_put_i32(w, s->filled);
    tsl_wbuf_put_i32(w, s->head);
    tsl_wbuf_put_f64s(w, s->ring, (size_t)s->window);
    tsl_wbuf_put_i32(w, s->steps);
    tsl_wbuf_put_f64s(w, s->rmse, (size_t)s->steps);
}

static tsl_err ma_load(tsl_model *m, tsl_rbuf *r, uint16_t version, tsl_diag *d) {
    (void)version;
    mastate *s = tsl_calloc(1, sizeof *s);
    m->state = s;
    s->window = tsl_rbuf_i32(r);
    s->filled = tsl_rbuf_i32(r);
    s->head = tsl_rbuf_i32(r);
    if (!tsl_rbuf_ok(r) || s->window < 1 || s->window > 100000 || s->filled < 1 ||
        s->filled > s->window || s->head < 0 || s->head >= s->window ||
        (size_t)s->window > tsl_rbuf_left(r) / 8)
        return tsl_diag_set(d, TSL_ECORRUPT, "moving-average state is malformed");
    s->ring = tsl_malloc((size_t)s->window * sizeof *s->ring);
    tsl_rbuf_f64s(r, s->ring, (size_t)s->window);
    s->steps = tsl_rbuf_i32(r);
    if (!tsl_rbuf_ok(r) || s->steps < 1 || (size_t)s->steps > tsl_rbuf_left(r) / 8)
        return tsl_diag_set(d, TSL_ECORRUPT, "moving-average state is malformed");
    s->rmse = tsl_malloc((size_t)s->steps * sizeof *s->rmse);
    tsl_rbuf_f64s(r, s->rmse, (size_t)s->steps);
    return TSL_OK;
}

const tsl_model_ops tsl_ma_ops = {TSL_MODEL_MA, 1,       ma_fit,  ma_forecast,
                                  ma_update,    ma_save, ma_load, ma_free};
