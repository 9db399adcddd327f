/*
 * gbm.c - a global gradient-boosted tree model: one XGBoost booster learned across all the
 * series of a data set, in the manner of the M5 competition's winners (LightGBM on lags and
 * calendar features; Makridakis, Spiliotis & Assimakopoulos, "The M5 competition", IJF 38,
 * 2022) and of Januschowski et al., "Forecasting with trees", IJF 38 (2022).
 *
 * Why global. A tree model needs thousands of rows; one series rarely has them, a data set
 * does. Learning one function from every series' windows lets short series borrow the shape of
 * long ones, and costs one training instead of one per series. What makes windows of different
 * series comparable is the scaling below; what makes windows of different times comparable is
 * the calendar.
 *
 * Rows. A row is an origin o (the forecast is made knowing y[0..o)) and a step k >= 1; its
 * target is y[o + k - 1]. Every feature is computed from y[0..o) and the target's timestamp, by
 * the same two functions (origin_fill, target_fill) in training, calibration, forecasting and
 * update, so what the booster learned from is exactly what it is asked about.
 *   - Scaling. b is the last observed value before o, s the mean |y| over the observed values
 *     of the last `scale_win` positions (the smallest seasonal period, or 16), falling back to
 *     the mean over the whole look-back and then to 1 when those are zero. The target is
 *     z = (y - b) / s, and every value feature is scaled the same way. Subtracting the last
 *     value makes "no change" the origin of every series, which is what random-walk-like data
 *     (most of M4) need and what trees cannot learn from raw levels: a tree's output is bounded
 *     by its training targets, so trending or different-sized series only share structure in
 *     relative units. Dividing by a mean over a full season rather than by the last value keeps
 *     the scale stable across the seasonal cycle and robust to one outlying point; it is
 *     recomputed at every origin, so it follows a series whose level drifts. Training targets
 *     are clipped at +-10 scale units, so a handful of outliers relative to a near-zero recent
 *     level cannot dominate the squared loss.
 *   - Origin lags: (y[o - j] - b) / s for j = 1..8, plus j = horizon when the horizon exceeds 8
 *     and is not a seasonal period: the value one horizon back, so that the last step of a
 *     forecast still sees the history at the distance it is forecast over.
 *   - Seasonal lags, per period P: the latest known value at the target's position in the
 *     cycle, y[t - cP] with c = ceil(k / P) (the first multiple that reaches before the origin),
 *     the one a cycle earlier, and the mean of the four latest known at that position.
 *   - Rolling windows over y[o - w..o) for w in {4, m, 4m} and every further period (m the
 *     smallest period, or 16): the mean and the standard deviation, scaled.
 *   - Calendar features of the target's timestamp where the frequency gives them meaning: hour
 *     of day (with the minutes as a fraction), day of week, day of month, month; sub-daily data
 *     get all four, daily the last three, weekly day of month and month, monthly and quarterly
 *     the month. Without a frequency (the standalone model, whose spec has no timestamps), the
 *     position in each seasonal cycle, counted from the series' first value, stands in.
 *   - The step k (constant 1 for the recursive strategy).
 * Missing values are NaN features, which XGBoost routes by a learned default direction; rows
 * whose target is missing are skipped; an origin with no observed value in its look-back has no
 * base and makes no row.
 *
 * Strategies (docs/models/gbm.md has the measurements). Recursive: a one-step model; step s is
 * predicted from the history extended by the predictions of steps 1..s-1, and base and scale are
 * recomputed at every step. One row per observation, but errors compound over long horizons,
 * forecasting makes h passes through the booster, and so does calibration, from every origin.
 * Direct (the default): the step is a feature and one booster predicts all `horizon` steps
 * from the origin in one pass; there are up to `horizon` rows per origin, so rows are sampled.
 * Steps past the horizon chain blocks. On M4-weekly and gefload the two are equally accurate
 * (within the noise of the test sets: direct 7.30 against recursive 7.31 sMAPE on M4-weekly,
 * 13.50 against 13.42 over 26 replayed weeks of gefload), while direct trains with a bounded
 * budget of rows, calibrates and forecasts h steps in one prediction instead of h (a 168-step
 * forecast is about 13 times cheaper), hence the default.
 *
 * Sampling. When the rows exceed max_rows, each row (origin, step) is kept with probability
 * max_rows / rows, by a hash of (seed, series, origin, step): deterministic, and unlike a stride
 * it does not alias with the seasonal cycle (a stride of 2 on hourly data would keep only even
 * hours). Sampling rows rather than origins matters for the direct strategy: a budget of 500,000
 * rows then spans about as many origins instead of 500,000 / horizon, whose rows would all share
 * one stretch of history.
 *
 * Training and calibration. The last values of every series are held out: R origins per series
 * (about 2000 in all, at most the horizon, fewer when the series are too short), spread over
 * about a tenth of the series with a stride of at most one season plus one, then the horizon.
 * Spreading matters: errors from consecutive origins share one stretch of weather or one regime
 * and calibrate the band to it (on gefload, consecutive origins after a heat wave gave a band
 * lying above the forecast). A first booster learns from the rest, stopping early when the error
 * on the held-out rows has not improved for `patience` rounds. It then forecasts `horizon` steps
 * from each of the R origins of every series, and the errors (y - f) / s, in scale units of the
 * origin, are pooled over series per step; their quantiles on the grid 0.01, 0.02, .., 0.99
 * are the calibration (Stankeviciute et al. 2021 and statsforecast's conformal intervals use
 * such per-horizon empirical errors). A step with fewer than 100 errors pools its neighbours.
 * A forecast quantile is then mean + s * q_step(level), interpolated linearly between grid
 * levels and extrapolated from the outermost pair, monotone by construction; steps past the
 * horizon reuse the last step's quantiles times sqrt(step / horizon). With refit (the default)
 * a second booster with the same number of rounds then learns from all the data and serves;
 * the calibration measured on the first stands for it (it has seen more data, so if anything
 * the band is slightly wide).
 *
 * Determinism. Row order, sampling and the error pool do not depend on timing; XGBoost's hist
 * method with a fixed thread count is deterministic, and its only random choices (subsampling,
 * if enabled through params) follow `seed`. One and two threads gave identical forecasts on
 * M4-weekly, gefload and the unit tests' data, but XGBoost does not promise that across thread
 * counts, so neither do we.
 *
 * Sharing. The booster, the feature layout and the calibration live in a reference-counted
 * core; tsl_gbm and each model hold a reference. Once trained, the booster is only predicted
 * from, through XGBoost's in-place prediction, which is thread-safe from 1.4 on (its output
 * buffer is thread-local); a first prediction right after training or loading does XGBoost's
 * lazy configuration while nothing else can use the booster yet. Serving boosters predict with
 * one thread: a request is a few rows.
 *
 * Serialized state (after the envelope of model.c; version 1): the layout, the rounds, the
 * calibration grid, the history (absolute index of its first value, start time, last observed
 * value, last scale, the values), and the booster in XGBoost's UBJSON model format. Loading
 * checks every field, loads the booster through XGBoost and checks its feature count and rounds.
 */
#include "gbm.h"

#include <assert.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xgboost/c_api.h>

#include "model_impl.h"
#include "tsloop/mem.h"

#define MAX_HORIZON    10000
#define MAX_PERIOD     10000
#define MAX_ROUNDS     10000
#define MAX_DEPTH      16
#define NSHORT         8 /* origin lags 1..NSHORT */
#define MAX_LAGS       (NSHORT + 1)
#define MAX_WINDOWS    (3 + TSL_MAX_PERIODS)
#define SHORT_WINDOW   4
#define NOSEASON_WIN   16 /* the "season" of windows and scale for non-seasonal data */
#define NGRID          99 /* calibration levels 0.01 .. 0.99 */
#define CAL_ORIGINS    2000
#define CAL_SPREAD     0.1 /* share of a series its calibration origins spread over */
#define MIN_CAL_ERRORS 100
#define MIN_TRAIN_ROWS 30
#define Z_CLIP         10.0
#define MIN_MAX_ROWS   100
#define STATE_VERSION  1

/* Calendar features, in this order in a row. */
enum { CAL_HOUR = 1, CAL_DOW = 2, CAL_DOM = 4, CAL_MONTH = 8, CAL_PHASE = 16 };
#define CAL_ALL (CAL_HOUR | CAL_DOW | CAL_DOM | CAL_MONTH | CAL_PHASE)

/* What a row holds: fixed by the options at training, serialized with every model. */
typedef struct layout {
    int strategy;
    uint32_t horizon;
    int nperiods; /* periods > 1 only, ascending */
    int periods[TSL_MAX_PERIODS];
    tsl_freq freq;
    int nlags;
    int lags[MAX_LAGS]; /* ascending */
    int nwin;
    int win[MAX_WINDOWS]; /* ascending */
    int scale_win;
    uint32_t calendar;
    /* derived by layout_derive */
    size_t nfeat;
    size_t lookback; /* positions before an origin that any feature reads */
    size_t off_lag, off_seas, off_win, off_cal;
} layout;

/* The shared, read-only part of every model taken from one training. */
typedef struct gbm_core {
    atomic_int refs;
    BoosterHandle booster;
    layout L;
    int rounds;
    double *calib; /* horizon x NGRID error quantiles, in scale units */
    uint8_t *blob; /* the booster's UBJSON bytes, written once: save just copies them */
    size_t blob_len;
} gbm_core;

/* One model's own part: the recent history the features read. */
typedef struct gbm_state {
    gbm_core *core;
    double *y; /* the last n values (NaN = missing) */
    size_t n, cap;
    uint64_t idx0;     /* index of y[0], counted from the series' first value */
    int64_t start;     /* time of index 0 (calendar features) */
    double last_obs;   /* base for an origin with no observed value in its look-back */
    double last_scale; /* scale for the same case */
} gbm_state;

/* Per series of a training: what tsl_gbm_model needs besides the core. */
typedef struct gbm_series {
    gbm_state *st; /* NULL when the series had no observed value */
    uint64_t nobs;
    int nonneg;
    uint32_t *zero_run; /* NULL unless the structural-zero rule applies */
    uint64_t zero_seen, obs_seen;
} gbm_series;

struct tsl_gbm {
    gbm_core *core;
    tsl_gbm_opts opts;
    size_t nseries;
    gbm_series *series;
    tsl_gbm_info info;
};

/* A history being forecast: y[0..n) known or already predicted, capacity for the rest. */
typedef struct fctx {
    double *y;
    size_t n;
    uint64_t idx0;
    int64_t start;
    double b0, s0; /* fallbacks (NaN in training and calibration: no row without a base) */
} fctx;

/* Monotonic wall time, for tsl_gbm_info.seconds. */
static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- feature layout ---- */

/* Fills the derived fields of L; returns non-zero when the layout is inconsistent (a loaded
 * model's layout is input). */
static int layout_derive(layout *L) {
    if (L->strategy != TSL_GBM_RECURSIVE && L->strategy != TSL_GBM_DIRECT) return 1;
    if (L->horizon < 1 || L->horizon > MAX_HORIZON) return 1;
    if (L->nperiods < 0 || L->nperiods > TSL_MAX_PERIODS) return 1;
    if (L->nlags < 1 || L->nlags > MAX_LAGS || L->nwin < 1 || L->nwin > MAX_WINDOWS) return 1;
    if (L->freq.unit < TSL_FREQ_NONE || L->freq.unit > TSL_FREQ_YEAR || L->freq.mult < 0) return 1;
    if ((L->calendar & ~(uint32_t)CAL_ALL) ||
        ((L->calendar & CAL_PHASE) && L->calendar != CAL_PHASE))
        return 1;
    if (L->scale_win < 1 || L->scale_win > 4 * MAX_PERIOD) return 1;
    size_t look = (size_t)L->scale_win;
    for (int i = 0; i < L->nperiods; i++) {
        if (L->periods[i] < 2 || L->periods[i] > MAX_PERIOD) return 1;
        if (i && L->periods[i] <= L->periods[i - 1]) return 1;
        /* the fourth cycle back from a target at step k <= P reaches 4P - k + 1 positions
         * before the origin, and later steps (c grows with k) never reach further */
        if ((size_t)L->periods[i] * 4 > look) look = (size_t)L->periods[i] * 4;
    }
    for (int i = 0; i < L->nlags; i++) {
        if (L->lags[i] < 1 || L->lags[i] > MAX_HORIZON) return 1;
        if (i && L->lags[i] <= L->lags[i - 1]) return 1;
        if ((size_t)L->lags[i] > look) look = (size_t)L->lags[i];
    }
    for (int i = 0; i < L->nwin; i++) {
        if (L->win[i] < 1 || L->win[i] > 4 * MAX_PERIOD) return 1;
        if (i && L->win[i] <= L->win[i - 1]) return 1;
        if ((size_t)L->win[i] > look) look = (size_t)L->win[i];
    }
    size_t ncal = 0;
    if (L->calendar & CAL_PHASE)
        ncal = (size_t)L->nperiods;
    else
        for (uint32_t f = CAL_HOUR; f <= CAL_MONTH; f <<= 1) ncal += (L->calendar & f) != 0;
    L->off_lag = 1;
    L->off_seas = L->off_lag + (size_t)L->nlags;
    L->off_win = L->off_seas + 3 * (size_t)L->nperiods;
    L->off_cal = L->off_win + 2 * (size_t)L->nwin;
    L->nfeat = L->off_cal + ncal;
    L->lookback = look;
    return 0;
}

/* Inserts v into the ascending set a[0..*n) of capacity cap, unless present. */
static void set_insert(int *a, int *n, int cap, int v) {
    int i = 0;
    while (i < *n && a[i] < v) i++;
    if (i < *n && a[i] == v) return;
    assert(*n < cap);
    (void)cap;
    memmove(a + i + 1, a + i, (size_t)(*n - i) * sizeof *a);
    a[i] = v;
    (*n)++;
}

/* The calendar features that mean something at frequency f (see the header). */
static uint32_t calendar_for(tsl_freq f) {
    switch (f.unit) {
    case TSL_FREQ_SECOND:
    case TSL_FREQ_MINUTE:
    case TSL_FREQ_HOUR:
        return CAL_HOUR | CAL_DOW | CAL_DOM | CAL_MONTH;
    case TSL_FREQ_DAY:
        return (f.mult % 7 ? CAL_DOW : 0) | CAL_DOM | CAL_MONTH;
    case TSL_FREQ_WEEK:
        return CAL_DOM | CAL_MONTH;
    case TSL_FREQ_MONTH:
        return f.mult % 12 ? CAL_MONTH : 0;
    case TSL_FREQ_QUARTER:
        return f.mult % 4 ? CAL_MONTH : 0;
    default:
        break;
    }
    return CAL_PHASE;
}

/* The layout the options ask for (options already checked). */
static void layout_from_opts(const tsl_gbm_opts *o, layout *L) {
    memset(L, 0, sizeof *L);
    L->strategy = o->strategy;
    L->horizon = (uint32_t)o->horizon;
    L->freq = o->freq;
    if (o->nperiods > 0) {
        for (int i = 0; i < o->nperiods; i++)
            if (o->periods[i] > 1)
                set_insert(L->periods, &L->nperiods, TSL_MAX_PERIODS, o->periods[i]);
    } else if (o->period > 1) {
        L->periods[L->nperiods++] = o->period;
    }
    for (int j = 1; j <= NSHORT; j++) L->lags[L->nlags++] = j;
    int h = (int)o->horizon, is_period = 0;
    for (int i = 0; i < L->nperiods; i++) is_period |= L->periods[i] == h;
    if (h > NSHORT && !is_period) L->lags[L->nlags++] = h;
    int m = L->nperiods ? L->periods[0] : NOSEASON_WIN;
    set_insert(L->win, &L->nwin, MAX_WINDOWS, SHORT_WINDOW);
    set_insert(L->win, &L->nwin, MAX_WINDOWS, m);
    set_insert(L->win, &L->nwin, MAX_WINDOWS, 4 * m);
    for (int i = 1; i < L->nperiods; i++) set_insert(L->win, &L->nwin, MAX_WINDOWS, L->periods[i]);
    L->scale_win = m;
    L->calendar = calendar_for(o->freq);
    int bad = layout_derive(L);
    assert(!bad);
    (void)bad;
}

/* ---- rows ---- */

/* Mean |y| over the observed values of y[lo..hi); 0 when there are none. */
static double mean_abs(const double *y, size_t lo, size_t hi) {
    double sum = 0;
    size_t cnt = 0;
    for (size_t i = lo; i < hi; i++) {
        if (isnan(y[i])) continue;
        sum += fabs(y[i]);
        cnt++;
    }
    return cnt ? sum / (double)cnt : 0.0;
}

/*
 * The origin part of a row at origin o of y (reading y[o - lookback..o) only): base *b, scale
 * *s, origin lags and window statistics into row. b0/s0 stand in when the look-back has no
 * observed value (NaN: then there is no row and 0 is returned).
 */
static int origin_fill(const layout *L, const double *y, size_t o, double b0, double s0,
                       double *b_out, double *s_out, float *row) {
    size_t lo = o > L->lookback ? o - L->lookback : 0;
    double b = NAN, s;
    for (size_t i = o; i-- > lo;) {
        if (!isnan(y[i])) {
            b = y[i];
            break;
        }
    }
    if (isnan(b)) {
        if (isnan(b0)) return 0;
        b = b0;
        s = s0 > 0 && isfinite(s0) ? s0 : 1.0;
    } else {
        size_t w = (size_t)L->scale_win;
        s = mean_abs(y, o > w ? o - w : 0, o);
        if (!(s > 0)) s = mean_abs(y, lo, o);
        if (!(s > 0)) s = 1.0;
    }
    double inv = 1.0 / s;
    float *lag = row + L->off_lag;
    for (int j = 0; j < L->nlags; j++) {
        size_t back = (size_t)L->lags[j];
        lag[j] = back <= o ? (float)((y[o - back] - b) * inv) : NAN;
    }
    float *win = row + L->off_win;
    for (int j = 0; j < L->nwin; j++) {
        size_t w = (size_t)L->win[j];
        size_t from = o > w ? o - w : 0, cnt = 0;
        double sum = 0;
        for (size_t i = from; i < o; i++) {
            if (isnan(y[i])) continue;
            sum += y[i];
            cnt++;
        }
        double mean = cnt ? sum / (double)cnt : NAN, ss = 0;
        if (cnt > 1)
            for (size_t i = from; i < o; i++)
                if (!isnan(y[i])) ss += (y[i] - mean) * (y[i] - mean);
        win[2 * j] = cnt ? (float)((mean - b) * inv) : NAN;
        win[2 * j + 1] = cnt > 1 ? (float)(sqrt(ss / (double)cnt) * inv) : NAN;
    }
    *b_out = b;
    *s_out = s;
    return 1;
}

/* The target part of a row: step k's seasonal lags (from y[0..o) only) and the calendar of
 * the target, at index idx0 + o + k - 1 of a series whose index 0 is at time start. */
static void target_fill(const layout *L, const double *y, size_t o, size_t k, double b, double s,
                        uint64_t idx0, int64_t start, float *row) {
    row[0] = (float)k;
    double inv = 1.0 / s;
    size_t t = o + k - 1;
    float *seas = row + L->off_seas;
    for (int i = 0; i < L->nperiods; i++) {
        size_t P = (size_t)L->periods[i], c = (k + P - 1) / P;
        double v[4], sum = 0;
        size_t cnt = 0;
        for (size_t j = 0; j < 4; j++) {
            size_t back = (c + j) * P;
            v[j] = back <= t ? y[t - back] : NAN;
            if (!isnan(v[j])) {
                sum += v[j];
                cnt++;
            }
        }
        seas[3 * i] = (float)((v[0] - b) * inv);
        seas[3 * i + 1] = (float)((v[1] - b) * inv);
        seas[3 * i + 2] = cnt ? (float)((sum / (double)cnt - b) * inv) : NAN;
    }
    float *cal = row + L->off_cal;
    uint64_t abs_t = idx0 + t;
    if (L->calendar & CAL_PHASE) {
        for (int i = 0; i < L->nperiods; i++) cal[i] = (float)(abs_t % (uint64_t)L->periods[i]);
        return;
    }
    if (!L->calendar) return;
    int64_t ts = tsl_freq_add(L->freq, start, (int64_t)abs_t);
    int year, month, day, hour, min, sec;
    tsl_time_civil(ts, &year, &month, &day, &hour, &min, &sec);
    size_t j = 0;
    if (L->calendar & CAL_HOUR) cal[j++] = (float)hour + (float)min / 60.0f;
    if (L->calendar & CAL_DOW) cal[j++] = (float)tsl_time_weekday(ts);
    if (L->calendar & CAL_DOM) cal[j++] = (float)day;
    if (L->calendar & CAL_MONTH) cal[j++] = (float)month;
}

/* A growing matrix of training rows. */
typedef struct rowbuf {
    size_t nfeat, n, cap;
    float *x;     /* n x nfeat */
    float *label; /* n */
} rowbuf;

/* Frees the rows; rb is empty (nfeat 0) afterwards. */
static void rowbuf_release(rowbuf *rb) {
    tsl_free(rb->x);
    tsl_free(rb->label);
    memset(rb, 0, sizeof *rb);
}

/* Space for one more row; returns it. */
static float *rowbuf_push(rowbuf *rb) {
    if (rb->n == rb->cap) {
        rb->cap = rb->cap ? 2 * rb->cap : 1024;
        rb->x = tsl_reallocarray(rb->x, rb->cap * rb->nfeat, sizeof *rb->x);
        rb->label = tsl_reallocarray(rb->label, rb->cap, sizeof *rb->label);
    }
    return rb->x + rb->n++ * rb->nfeat;
}

/* splitmix64's finaliser: a well-mixed 64-bit hash. */
static uint64_t mix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* Whether row (o, k) of series sid is kept when sampling with probability p. */
static int sample_keep(uint64_t seed, size_t sid, size_t o, size_t k, double p) {
    if (p >= 1.0) return 1;
    uint64_t h = mix64(seed ^ mix64((uint64_t)sid * 0x100000001b3ULL ^ mix64((uint64_t)o)) ^
                       ((uint64_t)k << 40));
    return (double)(h >> 11) * 0x1p-53 < p;
}

/* Which rows of one series a pass wants: origins >= o_lo, targets in [t_lo, t_hi). */
typedef struct rowrange {
    size_t o_lo, t_lo, t_hi;
} rowrange;

/* Counts (rb NULL) or appends the rows of series s in range r, each kept with probability p.
 * Returns the number of rows (counting does not check for a base). */
static size_t scan_rows(const layout *L, const tsl_ts *s, size_t sid, rowrange r, double p,
                        uint64_t seed, rowbuf *rb) {
    size_t K = L->strategy == TSL_GBM_DIRECT ? L->horizon : 1;
    size_t o_first = r.t_lo + 1 > K ? r.t_lo + 1 - K : 0;
    if (o_first < r.o_lo) o_first = r.o_lo;
    if (o_first < 1) o_first = 1;
    size_t rows = 0;
    float *origin_row = rb ? tsl_malloc(L->nfeat * sizeof *origin_row) : NULL;
    for (size_t o = o_first; o < r.t_hi; o++) {
        double b = 0, sc = 1;
        int filled = 0; /* origin_fill runs once per origin, and only when a row needs it */
        for (size_t k = 1; k <= K; k++) {
            size_t t = o + k - 1;
            if (t >= r.t_hi) break;
            if (t < r.t_lo || isnan(s->y[t])) continue;
            if (!rb) {
                rows++;
                continue;
            }
            if (!sample_keep(seed, sid, o, k, p)) continue;
            if (!filled) filled = origin_fill(L, s->y, o, NAN, NAN, &b, &sc, origin_row) ? 1 : -1;
            if (filled < 0) break;
            rows++;
            float *row = rowbuf_push(rb);
            memcpy(row, origin_row, L->nfeat * sizeof *row);
            target_fill(L, s->y, o, k, b, sc, 0, s->start, row);
            double z = (s->y[t] - b) / sc;
            rb->label[rb->n - 1] = (float)(z > Z_CLIP ? Z_CLIP : z < -Z_CLIP ? -Z_CLIP : z);
        }
    }
    tsl_free(origin_row);
    return rows;
}

/* ---- XGBoost ---- */

/* Records an XGBoost failure: what we called and XGBoost's own message (its first line, without
 * the time stamp it starts with). */
static tsl_err xgb_fail(tsl_diag *d, tsl_err code, const char *what) {
    const char *msg = XGBGetLastError();
    if (!msg || !*msg) msg = "no message";
    if (msg[0] == '[') {
        const char *close = strchr(msg, ']');
        if (close) msg = close + 1 + (close[1] == ' ');
    }
    size_t len = strcspn(msg, "\n");
    return tsl_diag_set(d, code, "XGBoost failed in %s: %.*s", what, (int)len, msg);
}

/* Predicts nrow rows of x (nrow x nfeat, NaN = missing) into out. */
static tsl_err predict_rows(BoosterHandle bst, const float *x, size_t nrow, size_t nfeat,
                            float *out, tsl_diag *d) {
    static const char config[] = "{\"type\":0,\"training\":false,\"iteration_begin\":0,"
                                 "\"iteration_end\":0,\"strict_shape\":false,\"cache_id\":0,"
                                 "\"missing\":NaN}";
    const uint16_t one = 1;
    char arr[192];
    snprintf(arr, sizeof arr,
             "{\"data\":[%" PRIuPTR ",true],\"shape\":[%zu,%zu],\"typestr\":\"%cf4\","
             "\"version\":3}",
             (uintptr_t)x, nrow, nfeat, *(const uint8_t *)&one ? '<' : '>');
    const bst_ulong *shape = NULL;
    bst_ulong dim = 0;
    const float *res = NULL;
    if (XGBoosterPredictFromDense(bst, arr, config, NULL, &shape, &dim, &res))
        return xgb_fail(d, TSL_ENUMERIC, "XGBoosterPredictFromDense");
    if (dim < 1 || shape[0] != nrow || (dim > 1 && shape[1] != 1))
        return tsl_diag_set(d, TSL_EINTERNAL, "XGBoost returned %llu predictions for %zu rows",
                            (unsigned long long)shape[0], nrow);
    memcpy(out, res, nrow * sizeof *out);
    return TSL_OK;
}

/* Sets one booster parameter from an int. */
static tsl_err set_int_param(BoosterHandle bst, const char *name, long long v, tsl_diag *d) {
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", v);
    if (XGBoosterSetParam(bst, name, buf)) return xgb_fail(d, TSL_ENUMERIC, "XGBoosterSetParam");
    return TSL_OK;
}

/* Our training parameters, then the caller's extra "name=value;..." ones. */
static tsl_err set_params(BoosterHandle bst, const tsl_gbm_opts *o, tsl_diag *d) {
    static const char *const fixed[][2] = {
        {"verbosity", "0"},      {"objective", "reg:squarederror"},
        {"tree_method", "hist"}, {"base_score", "0"},
        {"max_bin", "256"},      {"min_child_weight", "5"},
    };
    tsl_err rc = TSL_OK;
    char *extra = NULL;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        if (XGBoosterSetParam(bst, fixed[i][0], fixed[i][1])) {
            rc = xgb_fail(d, TSL_ENUMERIC, "XGBoosterSetParam");
            goto out;
        }
    }
    char eta[32];
    snprintf(eta, sizeof eta, "%.17g", o->eta);
    if (XGBoosterSetParam(bst, "eta", eta)) {
        rc = xgb_fail(d, TSL_ENUMERIC, "XGBoosterSetParam");
        goto out;
    }
    if ((rc = set_int_param(bst, "max_depth", o->max_depth, d)) ||
        (rc = set_int_param(bst, "nthread", o->threads, d)) ||
        (rc = set_int_param(bst, "seed", (long long)(o->seed & INT32_MAX), d)))
        goto out;
    if (!o->params) goto out;
    extra = tsl_strdup(o->params);
    for (char *p = extra, *next; p && *p; p = next) {
        next = strchr(p, ';');
        if (next) *next++ = '\0';
        if (!*p) continue;
        char *eq = strchr(p, '=');
        if (!eq || eq == p) {
            rc = tsl_diag_set(d, TSL_EINVAL, "XGBoost parameter '%s' is not of the form name=value",
                              p);
            goto out;
        }
        *eq = '\0';
        if (XGBoosterSetParam(bst, p, eq + 1)) {
            rc = xgb_fail(d, TSL_ENUMERIC, "XGBoosterSetParam");
            goto out;
        }
    }
out:
    tsl_free(extra);
    return rc;
}

/* A DMatrix of the rows of rb (labels included). */
static tsl_err make_dmatrix(const rowbuf *rb, int threads, DMatrixHandle *out, tsl_diag *d) {
    *out = NULL;
    if (XGDMatrixCreateFromMat_omp(rb->x, (bst_ulong)rb->n, (bst_ulong)rb->nfeat, NAN, out,
                                   threads))
        return xgb_fail(d, TSL_ENUMERIC, "XGDMatrixCreateFromMat");
    if (XGDMatrixSetFloatInfo(*out, "label", rb->label, (bst_ulong)rb->n)) {
        XGDMatrixFree(*out);
        *out = NULL;
        return xgb_fail(d, TSL_ENUMERIC, "XGDMatrixSetFloatInfo");
    }
    return TSL_OK;
}

/* The RMSE in an XGBoosterEvalOneIter line ("[3]\tval-rmse:0.0123"); NaN when unreadable. */
static double eval_rmse(const char *line) {
    const char *colon = line ? strrchr(line, ':') : NULL;
    if (!colon) return NAN;
    char *end = NULL;
    double v = strtod(colon + 1, &end);
    return end == colon + 1 ? NAN : v;
}

/*
 * Boosts up to `rounds` rounds on dtrain. With dval, stops once `patience` rounds brought no
 * better validation RMSE and keeps the best prefix of the trees; *used gets the rounds kept.
 */
static tsl_err boost(const tsl_gbm_opts *o, DMatrixHandle dtrain, DMatrixHandle dval, int rounds,
                     BoosterHandle *out, int *used, tsl_diag *d) {
    DMatrixHandle cache[2] = {dtrain, dval};
    BoosterHandle bst = NULL;
    tsl_err rc = TSL_OK;
    *out = NULL;
    if (XGBoosterCreate(cache, dval ? 2 : 1, &bst)) {
        rc = xgb_fail(d, TSL_ENUMERIC, "XGBoosterCreate");
        goto out;
    }
    if ((rc = set_params(bst, o, d))) goto out;
    int best = -1, r;
    double best_rmse = INFINITY;
    const char *names[1] = {"val"};
    for (r = 0; r < rounds; r++) {
        if (XGBoosterUpdateOneIter(bst, r, dtrain)) {
            rc = xgb_fail(d, TSL_ENUMERIC, "XGBoosterUpdateOneIter");
            goto out;
        }
        if (!dval) continue;
        const char *line = NULL;
        if (XGBoosterEvalOneIter(bst, r, &dval, names, 1, &line)) {
            rc = xgb_fail(d, TSL_ENUMERIC, "XGBoosterEvalOneIter");
            goto out;
        }
        double e = eval_rmse(line);
        if (isnan(e)) {
            rc = tsl_diag_set(d, TSL_EINTERNAL, "unreadable XGBoost evaluation '%s'", line);
            goto out;
        }
        if (e < best_rmse) {
            best_rmse = e;
            best = r;
        } else if (o->patience > 0 && r - best >= o->patience) {
            r++;
            break;
        }
    }
    *used = dval ? best + 1 : rounds;
    if (dval && best + 1 < r) {
        BoosterHandle sliced = NULL;
        if (XGBoosterSlice(bst, 0, best + 1, 1, &sliced)) {
            rc = xgb_fail(d, TSL_ENUMERIC, "XGBoosterSlice");
            goto out;
        }
        XGBoosterFree(bst);
        bst = sliced;
        if ((rc = set_params(bst, o, d))) goto out;
    }
    *out = bst;
    bst = NULL;
out:
    if (bst) XGBoosterFree(bst);
    return rc;
}

/* ---- forecasting a batch of histories ---- */

/*
 * Appends h forecasts to each of the n histories (each ctx->y has room for ctx->n + h values).
 * A history whose origin has no base (and no fallback) gets NaN.
 */
static tsl_err forecast_batch(BoosterHandle bst, const layout *L, fctx *ctx, size_t n, size_t h,
                              tsl_diag *d) {
    size_t block = L->strategy == TSL_GBM_DIRECT ? L->horizon : 1;
    if (block > h) block = h;
    size_t nf = L->nfeat;
    float *x = tsl_reallocarray(NULL, n * block, nf * sizeof *x);
    float *pred = tsl_reallocarray(NULL, n * block, sizeof *pred);
    double *b = tsl_malloc(n * sizeof *b), *s = tsl_malloc(n * sizeof *s);
    unsigned char *ok = tsl_malloc(n);
    tsl_err rc = TSL_OK;
    for (size_t done = 0; done < h;) {
        size_t K = h - done < block ? h - done : block, rows = 0;
        for (size_t i = 0; i < n; i++) {
            fctx *c = &ctx[i];
            float *row = x + rows * nf;
            ok[i] = (unsigned char)origin_fill(L, c->y, c->n, c->b0, c->s0, &b[i], &s[i], row);
            if (!ok[i]) continue;
            for (size_t k = 1; k <= K; k++) {
                float *rk = x + (rows + k - 1) * nf;
                if (k > 1) memcpy(rk, row, nf * sizeof *rk);
                target_fill(L, c->y, c->n, k, b[i], s[i], c->idx0, c->start, rk);
            }
            rows += K;
        }
        if (rows && (rc = predict_rows(bst, x, rows, nf, pred, d))) goto out;
        rows = 0;
        for (size_t i = 0; i < n; i++) {
            fctx *c = &ctx[i];
            for (size_t k = 0; k < K; k++)
                c->y[c->n + k] = ok[i] ? b[i] + s[i] * (double)pred[rows + k] : NAN;
            if (ok[i]) rows += K;
            c->n += K;
        }
        done += K;
    }
out:
    tsl_free(x);
    tsl_free(pred);
    tsl_free(b);
    tsl_free(s);
    tsl_free(ok);
    return rc;
}

/* ---- the shared core ---- */

/* Drops a reference; the last one frees the booster and the core. NULL is a no-op. */
static void core_unref(gbm_core *c) {
    if (!c || atomic_fetch_sub(&c->refs, 1) != 1) return;
    if (c->booster) XGBoosterFree(c->booster);
    tsl_free(c->calib);
    tsl_free(c->blob);
    tsl_free(c);
}

/* Takes a reference to c; returns c. */
static gbm_core *core_ref(gbm_core *c) {
    atomic_fetch_add(&c->refs, 1);
    return c;
}

/* Makes a trained or loaded booster ready to serve: one thread per prediction, and XGBoost's
 * lazy configuration done now by a first prediction (of a row of missing values), before the
 * booster is shared. */
static tsl_err core_ready(gbm_core *c, tsl_diag *d) {
    if (XGBoosterSetParam(c->booster, "nthread", "1"))
        return xgb_fail(d, TSL_ENUMERIC, "XGBoosterSetParam");
    float *row = tsl_malloc(c->L.nfeat * sizeof *row);
    float out;
    for (size_t j = 0; j < c->L.nfeat; j++) row[j] = NAN;
    tsl_err rc = predict_rows(c->booster, row, 1, c->L.nfeat, &out, d);
    tsl_free(row);
    return rc;
}

/* Keeps the booster's UBJSON bytes in the core. */
static tsl_err core_keep_blob(gbm_core *c, tsl_diag *d) {
    bst_ulong len = 0;
    const char *bytes = NULL;
    if (XGBoosterSaveModelToBuffer(c->booster, "{\"format\":\"ubj\"}", &len, &bytes))
        return xgb_fail(d, TSL_ENUMERIC, "XGBoosterSaveModelToBuffer");
    c->blob = tsl_malloc(len ? (size_t)len : 1);
    memcpy(c->blob, bytes, (size_t)len);
    c->blob_len = (size_t)len;
    return TSL_OK;
}

/* The calibrated error quantile at 0-based step `step` and level in (0, 1), in scale units. */
static double calib_quantile(const gbm_core *c, size_t step, double level) {
    size_t H = c->L.horizon, s = step < H ? step : H - 1;
    const double *row = c->calib + s * NGRID;
    double x = level * (NGRID + 1) - 1, q;
    if (x <= 0)
        q = row[0] + x * (row[1] - row[0]);
    else if (x >= NGRID - 1)
        q = row[NGRID - 1] + (x - (NGRID - 1)) * (row[NGRID - 1] - row[NGRID - 2]);
    else {
        size_t j = (size_t)x;
        q = row[j] + (x - (double)j) * (row[j + 1] - row[j]);
    }
    return step < H ? q : q * sqrt((double)(step + 1) / (double)H);
}

/*
 * The calibration table from errs[o * H + k] (n origins, NaN where undefined): per step, the
 * grid quantiles of its errors, pooling neighbouring steps while fewer than MIN_CAL_ERRORS.
 * Returns the number of errors, 0 when there were none (the table is then untouched).
 */
static size_t calib_build(const double *errs, size_t n, size_t H, double *table) {
    size_t *cnt = tsl_calloc(H, sizeof *cnt), total = 0;
    for (size_t o = 0; o < n; o++)
        for (size_t k = 0; k < H; k++) cnt[k] += !isnan(errs[o * H + k]);
    for (size_t k = 0; k < H; k++) total += cnt[k];
    if (total == 0) {
        tsl_free(cnt);
        return 0;
    }
    double *pool = tsl_reallocarray(NULL, total, sizeof *pool);
    for (size_t k = 0; k < H; k++) {
        size_t lo = k, hi = k + 1, have = cnt[k];
        while (have < MIN_CAL_ERRORS && (lo > 0 || hi < H)) {
            if (lo > 0) have += cnt[--lo];
            if (hi < H) have += cnt[hi++];
        }
        size_t m = 0;
        for (size_t o = 0; o < n; o++)
            for (size_t j = lo; j < hi; j++)
                if (!isnan(errs[o * H + j])) pool[m++] = errs[o * H + j];
        tsl_sort_doubles(pool, m);
        for (size_t g = 0; g < NGRID; g++)
            table[k * NGRID + g] = tsl_quantile_sorted(pool, m, (double)(g + 1) / (NGRID + 1));
    }
    tsl_free(pool);
    tsl_free(cnt);
    return total;
}

/* ---- per-series state ---- */

/* The model's free_state: the history and a reference to the core. */
static void state_free(void *p) {
    gbm_state *st = p;
    if (!st) return;
    core_unref(st->core);
    tsl_free(st->y);
    tsl_free(st);
}

/* Largest history a state keeps before trimming back to the look-back. */
static size_t state_max(const layout *L) {
    return 2 * L->lookback + 256;
}

/* Drops values older than the look-back once the history passes state_max. */
static void state_trim(gbm_state *st) {
    const layout *L = &st->core->L;
    if (st->n <= state_max(L)) return;
    size_t drop = st->n - L->lookback;
    memmove(st->y, st->y + drop, L->lookback * sizeof *st->y);
    st->n = L->lookback;
    st->idx0 += drop;
}

/* Base and scale at the end of the history become the fallbacks for later origins. */
static void state_refresh(gbm_state *st) {
    const layout *L = &st->core->L;
    float *row = tsl_malloc(L->nfeat * sizeof *row);
    double b, s;
    if (origin_fill(L, st->y, st->n, st->last_obs, st->last_scale, &b, &s, row)) {
        st->last_obs = b;
        st->last_scale = s;
    }
    tsl_free(row);
}

/* A state over y[first..len) of a series whose y[0] is at `start`, keeping the look-back. */
static gbm_state *state_new(gbm_core *core, const double *y, size_t first, size_t len,
                            int64_t start) {
    const layout *L = &core->L;
    gbm_state *st = tsl_calloc(1, sizeof *st);
    st->core = core_ref(core);
    size_t from = len - first > L->lookback ? len - L->lookback : first;
    st->n = len - from;
    st->cap = st->n;
    st->y = tsl_malloc((st->n ? st->n : 1) * sizeof *st->y);
    memcpy(st->y, y + from, st->n * sizeof *st->y);
    st->idx0 = from;
    st->start = start;
    st->last_obs = NAN;
    st->last_scale = NAN;
    state_refresh(st);
    return st;
}

/* A deep copy of the history sharing src's core. */
static gbm_state *state_copy(const gbm_state *src) {
    gbm_state *st = tsl_malloc(sizeof *st);
    *st = *src;
    st->core = core_ref(src->core);
    st->cap = src->n;
    st->y = tsl_malloc((st->n ? st->n : 1) * sizeof *st->y);
    memcpy(st->y, src->y, st->n * sizeof *st->y);
    return st;
}

/* ---- training ---- */

void tsl_gbm_opts_init(tsl_gbm_opts *o, size_t horizon, int period) {
    memset(o, 0, sizeof *o);
    o->horizon = horizon;
    o->period = period < 1 ? 1 : period;
    o->freq.unit = TSL_FREQ_NONE;
    o->strategy = TSL_GBM_DIRECT;
    o->threads = 1;
    o->seed = 1;
    o->max_rounds = 500;
    o->max_depth = 6;
    o->eta = 0.1;
    o->patience = 20;
    o->max_rows = 500000;
    o->refit = 1;
}

/* Checks every option against its documented range (TSL_EINVAL, naming the option). */
static tsl_err check_opts(const tsl_gbm_opts *o, tsl_diag *d) {
    if (o->horizon < 1 || o->horizon > MAX_HORIZON)
        return tsl_diag_set(d, TSL_EINVAL, "gbm horizon %zu out of range 1..%d", o->horizon,
                            MAX_HORIZON);
    if (o->period < 1 || o->period > MAX_PERIOD)
        return tsl_diag_set(d, TSL_EINVAL, "gbm seasonal period %d out of range 1..%d", o->period,
                            MAX_PERIOD);
    if (o->nperiods < 0 || o->nperiods > TSL_MAX_PERIODS)
        return tsl_diag_set(d, TSL_EINVAL, "gbm takes 0..%d seasonal periods, got %d",
                            TSL_MAX_PERIODS, o->nperiods);
    for (int i = 0; i < o->nperiods; i++)
        if (o->periods[i] < 1 || o->periods[i] > MAX_PERIOD)
            return tsl_diag_set(d, TSL_EINVAL, "gbm seasonal period %d out of range 1..%d",
                                o->periods[i], MAX_PERIOD);
    if (o->freq.unit != TSL_FREQ_NONE &&
        (o->freq.unit > TSL_FREQ_YEAR || o->freq.mult < 1 || o->freq.unit < TSL_FREQ_NONE))
        return tsl_diag_set(d, TSL_EINVAL, "gbm frequency is invalid (unit %d, multiple %d)",
                            (int)o->freq.unit, (int)o->freq.mult);
    if (o->strategy != TSL_GBM_RECURSIVE && o->strategy != TSL_GBM_DIRECT)
        return tsl_diag_set(d, TSL_EINVAL, "unknown gbm strategy %d", (int)o->strategy);
    if (o->threads < 0 || o->threads > 1024)
        return tsl_diag_set(d, TSL_EINVAL, "gbm threads %d out of range 0..1024", o->threads);
    if (o->max_rounds < 1 || o->max_rounds > MAX_ROUNDS)
        return tsl_diag_set(d, TSL_EINVAL, "gbm rounds %d out of range 1..%d", o->max_rounds,
                            MAX_ROUNDS);
    if (o->max_depth < 1 || o->max_depth > MAX_DEPTH)
        return tsl_diag_set(d, TSL_EINVAL, "gbm tree depth %d out of range 1..%d", o->max_depth,
                            MAX_DEPTH);
    if (!(o->eta > 0 && o->eta <= 1))
        return tsl_diag_set(d, TSL_EINVAL, "gbm learning rate %g is not in (0, 1]", o->eta);
    if (o->patience < 0)
        return tsl_diag_set(d, TSL_EINVAL, "gbm patience %d is negative", o->patience);
    if (o->max_rows < MIN_MAX_ROWS)
        return tsl_diag_set(d, TSL_EINVAL, "gbm max_rows %zu is below %d", o->max_rows,
                            MIN_MAX_ROWS);
    return TSL_OK;
}

/* Everything one training works with, released by train_release. */
typedef struct train {
    const tsl_gbm_opts *o;
    layout L;
    const tsl_ts *series;
    size_t nseries;
    size_t *len;    /* training length of each series */
    size_t *first;  /* first observed index (len when none) */
    size_t R;       /* calibration origins per series */
    size_t *hold;   /* values held out at the end of each series */
    size_t *stride; /* between its calibration origins */
    rowbuf rb;
    DMatrixHandle dtrain, dval;
    BoosterHandle cal;
} train;

/* Frees everything a training holds (not its result). */
static void train_release(train *t) {
    tsl_free(t->len);
    tsl_free(t->first);
    tsl_free(t->hold);
    tsl_free(t->stride);
    rowbuf_release(&t->rb);
    if (t->dtrain) XGDMatrixFree(t->dtrain);
    if (t->dval) XGDMatrixFree(t->dval);
    if (t->cal) XGBoosterFree(t->cal);
}

/* The rows of every series for the ranges range(i), sampled down to at most cap. */
static void collect(train *t, rowrange (*range)(const train *, size_t), size_t cap,
                    size_t *available) {
    size_t total = 0;
    for (size_t i = 0; i < t->nseries; i++) {
        rowrange r = range(t, i);
        if (r.t_lo < r.t_hi) total += scan_rows(&t->L, &t->series[i], i, r, 1.0, 0, NULL);
    }
    double p = total > cap ? (double)cap / (double)total : 1.0;
    rowbuf_release(&t->rb);
    t->rb.nfeat = t->L.nfeat;
    for (size_t i = 0; i < t->nseries; i++) {
        rowrange r = range(t, i);
        if (r.t_lo < r.t_hi) scan_rows(&t->L, &t->series[i], i, r, p, t->o->seed, &t->rb);
    }
    if (available) *available = total;
}

/* Series i's cut: where its hold-out starts (0 when it is too short to hold out). */
static size_t cut_of(const train *t, size_t i) {
    return t->len[i] > t->hold[i] + t->first[i] ? t->len[i] - t->hold[i] : 0;
}

/* Row ranges of series i: before the hold-out (calibration booster), inside it (early stopping),
 * everything (the refit). */
static rowrange range_cal_train(const train *t, size_t i) {
    return (rowrange){1, 1, cut_of(t, i)};
}

static rowrange range_cal_val(const train *t, size_t i) {
    size_t c = cut_of(t, i);
    return (rowrange){c, c, c ? t->len[i] : 0};
}

static rowrange range_all(const train *t, size_t i) {
    return (rowrange){1, 1, t->len[i]};
}

/*
 * Chooses R, the calibration origins per series, and each series' stride between them: the
 * origins spread over about CAL_SPREAD of the series (stride at most one seasonal cycle plus
 * one, so that successive origins also walk through the positions of the cycle), because
 * errors from consecutive origins share one stretch of weather or one regime and would
 * calibrate the band to it. R shrinks until the training part keeps MIN_TRAIN_ROWS observed
 * targets.
 */
static tsl_err plan_holdout(train *t, tsl_diag *d) {
    size_t H = t->L.horizon, active = 0;
    size_t max_stride = (size_t)(t->L.nperiods ? t->L.periods[0] : NOSEASON_WIN) + 1;
    for (size_t i = 0; i < t->nseries; i++) active += t->first[i] < t->len[i];
    if (!active) return tsl_diag_set(d, TSL_ESHORT, "gbm: no series has an observed value");
    size_t R = (CAL_ORIGINS + active - 1) / active;
    if (R > H) R = H;
    for (;;) {
        size_t rows = 0, val = 0;
        t->R = R;
        for (size_t i = 0; i < t->nseries; i++) {
            size_t obs = t->len[i] - t->first[i];
            size_t stride = R > 1 ? (size_t)(CAL_SPREAD * (double)obs) / (R - 1) : 1;
            if (stride < 1) stride = 1;
            if (stride > max_stride) stride = max_stride;
            t->hold[i] = H + (R - 1) * stride;
            t->stride[i] = stride;
            size_t c = cut_of(t, i);
            if (!c) continue;
            for (size_t j = t->first[i] + 1; j < c; j++) rows += !isnan(t->series[i].y[j]);
            for (size_t j = c; j < t->len[i]; j++) val += !isnan(t->series[i].y[j]);
        }
        if (rows >= MIN_TRAIN_ROWS && val > 0) return TSL_OK;
        if (R == 1)
            return tsl_diag_set(d, TSL_ESHORT,
                                "gbm needs at least %d observed values before a calibration "
                                "hold-out of %zu (the horizon) at the end of a series; the "
                                "series hold %zu",
                                MIN_TRAIN_ROWS, H, rows);
        R /= 2;
    }
}

/* Forecasts the hold-out from every calibration origin with the calibration booster and
 * builds the error quantile table; *nerr gets the number of errors. */
static tsl_err calibrate(train *t, double *table, size_t *nerr, tsl_diag *d) {
    const layout *L = &t->L;
    size_t H = L->horizon, n = 0;
    for (size_t i = 0; i < t->nseries; i++) n += cut_of(t, i) ? t->R : 0;
    fctx *ctx = tsl_calloc(n ? n : 1, sizeof *ctx);
    double *scale = tsl_malloc((n ? n : 1) * sizeof *scale);
    size_t *sid = tsl_malloc((n ? n : 1) * sizeof *sid),
           *org = tsl_malloc((n ? n : 1) * sizeof *org);
    double *errs = tsl_reallocarray(NULL, n ? n : 1, H * sizeof *errs);
    float *row = tsl_malloc(L->nfeat * sizeof *row);
    tsl_err rc = TSL_OK;
    size_t c = 0;
    for (size_t i = 0; i < t->nseries; i++) {
        size_t cut = cut_of(t, i);
        if (!cut) continue;
        for (size_t j = 0; j < t->R; j++, c++) {
            size_t o = cut + j * t->stride[i], from = o > L->lookback ? o - L->lookback : 0;
            fctx *x = &ctx[c];
            x->y = tsl_reallocarray(NULL, o - from + H, sizeof *x->y);
            memcpy(x->y, t->series[i].y + from, (o - from) * sizeof *x->y);
            x->n = o - from;
            x->idx0 = from;
            x->start = t->series[i].start;
            x->b0 = x->s0 = NAN;
            double b;
            if (!origin_fill(L, x->y, x->n, NAN, NAN, &b, &scale[c], row)) scale[c] = NAN;
            sid[c] = i;
            org[c] = o;
        }
    }
    if (n && (rc = forecast_batch(t->cal, L, ctx, n, H, d))) goto out;
    for (size_t k = 0; k < n; k++) {
        const double *y = t->series[sid[k]].y;
        size_t base = ctx[k].n - H;
        for (size_t s = 0; s < H; s++) {
            double actual = y[org[k] + s], f = ctx[k].y[base + s];
            errs[k * H + s] =
                isnan(actual) || isnan(f) || isnan(scale[k]) ? NAN : (actual - f) / scale[k];
        }
    }
    *nerr = calib_build(errs, n, H, table);
    if (!*nerr)
        rc = tsl_diag_set(d, TSL_ESHORT,
                          "gbm: the calibration hold-out has no observed value to score");
out:
    for (size_t k = 0; k < n; k++) tsl_free(ctx[k].y);
    tsl_free(ctx);
    tsl_free(scale);
    tsl_free(sid);
    tsl_free(org);
    tsl_free(errs);
    tsl_free(row);
    return rc;
}

/* Fills the per-series states and model facts of g from the training data. */
static void keep_series(tsl_gbm *g, const train *t) {
    g->nseries = t->nseries;
    g->series = tsl_calloc(t->nseries ? t->nseries : 1, sizeof *g->series);
    int period = g->opts.period;
    for (size_t i = 0; i < t->nseries; i++) {
        gbm_series *gs = &g->series[i];
        size_t first = t->first[i], len = t->len[i];
        if (first >= len) continue;
        const double *y = t->series[i].y;
        gs->st = state_new(g->core, y, first, len, t->series[i].start);
        gs->nobs = len - first;
        gs->nonneg = 1;
        for (size_t j = first; j < len; j++)
            if (y[j] < 0) gs->nonneg = 0;
        gs->zero_run = tsl_malloc((size_t)period * sizeof *gs->zero_run);
        if (!tsl_zero_runs(y + first, len - first, period, gs->zero_run, &gs->zero_seen,
                           &gs->obs_seen)) {
            tsl_free(gs->zero_run);
            gs->zero_run = NULL;
        }
    }
}

tsl_err tsl_gbm_train(const tsl_ts *series, size_t nseries, const size_t *train_len,
                      const tsl_gbm_opts *opts, tsl_gbm **out, tsl_diag *d) {
    double t0 = now_seconds();
    train t;
    tsl_gbm *g = NULL;
    BoosterHandle final = NULL;
    memset(&t, 0, sizeof t);
    *out = NULL;
    tsl_err rc = check_opts(opts, d);
    if (rc) goto out;
    t.o = opts;
    t.series = series;
    t.nseries = nseries;
    layout_from_opts(opts, &t.L);
    t.len = tsl_calloc(nseries ? nseries : 1, sizeof *t.len);
    t.first = tsl_calloc(nseries ? nseries : 1, sizeof *t.first);
    t.hold = tsl_calloc(nseries ? nseries : 1, sizeof *t.hold);
    t.stride = tsl_calloc(nseries ? nseries : 1, sizeof *t.stride);
    for (size_t i = 0; i < nseries; i++) {
        size_t len = train_len ? train_len[i] : series[i].n;
        if (len > series[i].n) {
            rc = tsl_diag_set(d, TSL_EINVAL, "gbm: series %zu trains on %zu values but has %zu",
                              i + 1, len, series[i].n);
            goto out;
        }
        size_t first = len;
        for (size_t j = 0; j < len; j++) {
            if (isinf(series[i].y[j])) {
                rc = tsl_diag_set(d, TSL_EINVAL, "gbm: series %zu value %zu is infinite", i + 1,
                                  j + 1);
                goto out;
            }
            if (first == len && !isnan(series[i].y[j])) first = j;
        }
        t.len[i] = len;
        t.first[i] = first;
    }
    if ((rc = plan_holdout(&t, d))) goto out;

    g = tsl_calloc(1, sizeof *g);
    g->opts = *opts;
    g->opts.params = NULL;
    g->core = tsl_calloc(1, sizeof *g->core);
    atomic_init(&g->core->refs, 1);
    g->core->L = t.L;
    g->info.nfeatures = t.L.nfeat;
    for (size_t i = 0; i < nseries; i++)
        if (t.hold[i] > g->info.holdout) g->info.holdout = t.hold[i];

    /* 1. the calibration booster, stopped early on the hold-out */
    size_t avail = 0;
    collect(&t, range_cal_train, opts->max_rows, &avail);
    if ((rc = make_dmatrix(&t.rb, opts->threads, &t.dtrain, d))) goto out;
    size_t train_rows = t.rb.n;
    if (opts->patience > 0) {
        collect(&t, range_cal_val, opts->max_rows / 4 + 1, NULL);
        if ((rc = make_dmatrix(&t.rb, opts->threads, &t.dval, d))) goto out;
    }
    rowbuf_release(&t.rb);
    int rounds = 0;
    if ((rc = boost(opts, t.dtrain, t.dval, opts->max_rounds, &t.cal, &rounds, d))) goto out;
    XGDMatrixFree(t.dtrain);
    if (t.dval) XGDMatrixFree(t.dval);
    t.dtrain = t.dval = NULL;

    /* 2. its forecasts of the hold-out give the calibration */
    g->core->calib = tsl_reallocarray(NULL, t.L.horizon, NGRID * sizeof *g->core->calib);
    if ((rc = calibrate(&t, g->core->calib, &g->info.cal_errors, d))) goto out;

    /* 3. the served booster: the same rounds on everything, or the calibration booster */
    if (opts->refit) {
        collect(&t, range_all, opts->max_rows, &avail);
        train_rows = t.rb.n;
        if ((rc = make_dmatrix(&t.rb, opts->threads, &t.dtrain, d))) goto out;
        rowbuf_release(&t.rb);
        int used = 0;
        if ((rc = boost(opts, t.dtrain, NULL, rounds, &final, &used, d))) goto out;
    } else {
        final = t.cal;
        t.cal = NULL;
    }
    g->core->booster = final;
    final = NULL;
    g->core->rounds = rounds;
    if ((rc = core_keep_blob(g->core, d)) || (rc = core_ready(g->core, d))) goto out;
    g->info.rows = train_rows;
    g->info.rows_available = avail;
    g->info.rounds = rounds;
    g->info.booster_bytes = g->core->blob_len;
    keep_series(g, &t);
    g->info.seconds = now_seconds() - t0;
    *out = g;
    g = NULL;
out:
    if (final) XGBoosterFree(final);
    train_release(&t);
    tsl_gbm_free(g);
    return rc;
}

void tsl_gbm_get_info(const tsl_gbm *g, tsl_gbm_info *out) {
    *out = g->info;
}

void tsl_gbm_free(tsl_gbm *g) {
    if (!g) return;
    for (size_t i = 0; i < g->nseries; i++) {
        state_free(g->series[i].st);
        tsl_free(g->series[i].zero_run);
    }
    tsl_free(g->series);
    core_unref(g->core);
    tsl_free(g);
}

/* The spec a model of these options carries. */
static void spec_for(const tsl_gbm_opts *o, tsl_model_spec *spec) {
    tsl_model_spec_init(spec, TSL_MODEL_GBM, o->period);
    spec->nperiods = o->nperiods;
    for (int i = 0; i < o->nperiods; i++) spec->periods[i] = o->periods[i];
}

tsl_err tsl_gbm_model(tsl_gbm *g, size_t i, tsl_model **out, tsl_diag *d) {
    *out = NULL;
    if (i >= g->nseries)
        return tsl_diag_set(d, TSL_EINVAL, "gbm: series %zu out of range 1..%zu", i + 1,
                            g->nseries);
    const gbm_series *gs = &g->series[i];
    if (!gs->st)
        return tsl_diag_set(d, TSL_ESHORT, "gbm: series %zu has no observed value to forecast",
                            i + 1);
    tsl_model *m = tsl_calloc(1, sizeof *m);
    m->ops = &tsl_gbm_ops;
    spec_for(&g->opts, &m->spec);
    m->period = m->spec.period;
    m->nobs = gs->nobs;
    m->nonneg = gs->nonneg;
    m->aicc = NAN;
    tsl_strlcpy(m->name, "GBM", sizeof m->name);
    m->state = state_copy(gs->st);
    if (gs->zero_run) {
        m->zero_run = tsl_malloc((size_t)m->period * sizeof *m->zero_run);
        memcpy(m->zero_run, gs->zero_run, (size_t)m->period * sizeof *m->zero_run);
        m->zero_seen = gs->zero_seen;
        m->obs_seen = gs->obs_seen;
    }
    *out = m;
    return TSL_OK;
}

/* ---- the model interface ---- */

/* The calibration horizon of a standalone model: its spec has none. */
static size_t standalone_horizon(int period) {
    int h = period < 8 ? 8 : period;
    return (size_t)(h > 24 ? 24 : h);
}

/* Standalone fit: a booster trained on this one series (see gbm.h for the options). */
static tsl_err gbm_fit(tsl_model *m, const double *y, size_t n, tsl_diag *d) {
    tsl_gbm_opts o;
    tsl_gbm *g = NULL;
    tsl_gbm_opts_init(&o, standalone_horizon(m->period), m->period);
    o.nperiods = m->spec.nperiods;
    for (int i = 0; i < o.nperiods; i++) o.periods[i] = m->spec.periods[i];
    tsl_ts s = {y, n, 0};
    tsl_err rc = tsl_gbm_train(&s, 1, NULL, &o, &g, d);
    if (rc) goto out;
    m->state = state_copy(g->series[0].st);
    tsl_strlcpy(m->name, "GBM", sizeof m->name);
out:
    tsl_gbm_free(g);
    return rc;
}

/* Means from the booster over a copy of the history; quantiles from the calibration times the
 * scale at the forecast origin. */
static tsl_err gbm_forecast(const tsl_model *m, size_t h, const double *levels, size_t nq,
                            double *mean, double *quant, tsl_diag *d) {
    const gbm_state *st = m->state;
    const gbm_core *c = st->core;
    fctx x = {tsl_reallocarray(NULL, st->n + h, sizeof(double)),
              st->n,
              st->idx0,
              st->start,
              st->last_obs,
              st->last_scale};
    float *row = tsl_malloc(c->L.nfeat * sizeof *row);
    memcpy(x.y, st->y, st->n * sizeof *x.y);
    double b, s = st->last_scale;
    origin_fill(&c->L, x.y, x.n, st->last_obs, st->last_scale, &b, &s, row);
    tsl_err rc = forecast_batch(c->booster, &c->L, &x, 1, h, d);
    if (rc) goto out;
    for (size_t k = 0; k < h; k++) {
        mean[k] = x.y[st->n + k];
        for (size_t j = 0; j < nq; j++)
            quant[k * nq + j] = mean[k] + s * calib_quantile(c, k, levels[j]);
    }
out:
    tsl_free(x.y);
    tsl_free(row);
    return rc;
}

/* Appends y to the history; err1 gets y minus the booster's one-step forecast from the history
 * before each value (all predicted in one batch). On failure the history is unchanged. */
static tsl_err gbm_update(tsl_model *m, const double *y, size_t n, double *err1, tsl_diag *d) {
    gbm_state *st = m->state;
    const layout *L = &st->core->L;
    size_t old = st->n, rows = 0;
    float *x = NULL, *pred = NULL;
    double *b = NULL, *s = NULL;
    tsl_err rc = TSL_OK;
    if (st->n + n > st->cap) {
        st->cap = st->n + n + st->n / 2;
        st->y = tsl_reallocarray(st->y, st->cap, sizeof *st->y);
    }
    memcpy(st->y + st->n, y, n * sizeof *y);
    st->n += n;
    if (!err1) goto out;
    x = tsl_reallocarray(NULL, n, L->nfeat * sizeof *x);
    pred = tsl_malloc(n * sizeof *pred);
    b = tsl_malloc(n * sizeof *b);
    s = tsl_malloc(n * sizeof *s);
    for (size_t i = 0; i < n; i++) {
        size_t o = old + i;
        float *row = x + rows * L->nfeat;
        if (!origin_fill(L, st->y, o, st->last_obs, st->last_scale, &b[i], &s[i], row)) {
            b[i] = NAN;
            continue;
        }
        target_fill(L, st->y, o, 1, b[i], s[i], st->idx0, st->start, row);
        rows++;
    }
    if (rows && (rc = predict_rows(st->core->booster, x, rows, L->nfeat, pred, d))) goto out;
    rows = 0;
    for (size_t i = 0; i < n; i++) {
        double f = isnan(b[i]) ? NAN : b[i] + s[i] * (double)pred[rows++];
        err1[i] = isnan(y[i]) ? NAN : y[i] - f;
    }
out:
    tsl_free(x);
    tsl_free(pred);
    tsl_free(b);
    tsl_free(s);
    if (rc) {
        st->n = old;
        return rc;
    }
    state_refresh(st);
    state_trim(st);
    return TSL_OK;
}

/* Writes the state laid out in the header comment. */
static void gbm_save(const tsl_model *m, tsl_wbuf *w) {
    const gbm_state *st = m->state;
    const gbm_core *c = st->core;
    const layout *L = &c->L;
    tsl_wbuf_put_u8(w, (uint8_t)L->strategy);
    tsl_wbuf_put_u32(w, L->horizon);
    tsl_wbuf_put_u8(w, (uint8_t)L->nperiods);
    for (int i = 0; i < L->nperiods; i++) tsl_wbuf_put_i32(w, L->periods[i]);
    tsl_wbuf_put_i32(w, (int32_t)L->freq.unit);
    tsl_wbuf_put_i32(w, L->freq.mult);
    tsl_wbuf_put_i32(w, L->freq.anchor);
    tsl_wbuf_put_u8(w, (uint8_t)L->nlags);
    for (int i = 0; i < L->nlags; i++) tsl_wbuf_put_i32(w, L->lags[i]);
    tsl_wbuf_put_u8(w, (uint8_t)L->nwin);
    for (int i = 0; i < L->nwin; i++) tsl_wbuf_put_i32(w, L->win[i]);
    tsl_wbuf_put_i32(w, L->scale_win);
    tsl_wbuf_put_u32(w, L->calendar);
    tsl_wbuf_put_i32(w, c->rounds);
    tsl_wbuf_put_u32(w, NGRID);
    tsl_wbuf_put_f64s(w, c->calib, (size_t)L->horizon * NGRID);
    tsl_wbuf_put_u64(w, st->idx0);
    tsl_wbuf_put_i64(w, st->start);
    tsl_wbuf_put_f64(w, st->last_obs);
    tsl_wbuf_put_f64(w, st->last_scale);
    tsl_wbuf_put_u32(w, (uint32_t)st->n);
    tsl_wbuf_put_f64s(w, st->y, st->n);
    tsl_wbuf_put_u32(w, (uint32_t)c->blob_len);
    tsl_wbuf_put(w, c->blob, c->blob_len);
}

/* Reads the layout gbm_save wrote; non-zero when it is malformed. */
static int layout_load(layout *L, tsl_rbuf *r) {
    memset(L, 0, sizeof *L);
    L->strategy = tsl_rbuf_u8(r);
    L->horizon = tsl_rbuf_u32(r);
    L->nperiods = tsl_rbuf_u8(r);
    if (L->nperiods > TSL_MAX_PERIODS) return 1;
    for (int i = 0; i < L->nperiods; i++) L->periods[i] = tsl_rbuf_i32(r);
    L->freq.unit = (tsl_freq_unit)tsl_rbuf_i32(r);
    L->freq.mult = tsl_rbuf_i32(r);
    L->freq.anchor = tsl_rbuf_i32(r);
    L->nlags = tsl_rbuf_u8(r);
    if (L->nlags > MAX_LAGS) return 1;
    for (int i = 0; i < L->nlags; i++) L->lags[i] = tsl_rbuf_i32(r);
    L->nwin = tsl_rbuf_u8(r);
    if (L->nwin > MAX_WINDOWS) return 1;
    for (int i = 0; i < L->nwin; i++) L->win[i] = tsl_rbuf_i32(r);
    L->scale_win = tsl_rbuf_i32(r);
    L->calendar = tsl_rbuf_u32(r);
    if (!tsl_rbuf_ok(r) || layout_derive(L)) return 1;
    if (L->calendar && !(L->calendar & CAL_PHASE) && L->freq.unit == TSL_FREQ_NONE) return 1;
    return L->freq.unit != TSL_FREQ_NONE &&
           (L->freq.mult < 1 || L->freq.anchor < -1 || L->freq.anchor > 31);
}

/* Reads gbm_save's state into a core of its own, validating every field and the booster. */
static tsl_err gbm_load(tsl_model *m, tsl_rbuf *r, uint16_t version, tsl_diag *d) {
    (void)version;
    gbm_core *c = tsl_calloc(1, sizeof *c);
    atomic_init(&c->refs, 1);
    gbm_state *st = tsl_calloc(1, sizeof *st);
    st->core = c;
    m->state = st;
    if (layout_load(&c->L, r))
        return tsl_diag_set(d, TSL_ECORRUPT, "gbm feature layout is malformed");
    const layout *L = &c->L;
    c->rounds = tsl_rbuf_i32(r);
    uint32_t ngrid = tsl_rbuf_u32(r);
    size_t ncal = (size_t)L->horizon * NGRID;
    if (!tsl_rbuf_ok(r) || c->rounds < 1 || c->rounds > MAX_ROUNDS || ngrid != NGRID ||
        ncal > tsl_rbuf_left(r) / 8)
        return tsl_diag_set(d, TSL_ECORRUPT, "gbm calibration block is malformed");
    c->calib = tsl_reallocarray(NULL, ncal, sizeof *c->calib);
    tsl_rbuf_f64s(r, c->calib, ncal);
    for (size_t k = 0; k < L->horizon; k++)
        for (size_t g = 0; g < NGRID; g++) {
            double v = c->calib[k * NGRID + g];
            if (!isfinite(v) || (g && v < c->calib[k * NGRID + g - 1]))
                return tsl_diag_set(d, TSL_ECORRUPT,
                                    "gbm calibration is not finite and monotone at step %zu",
                                    k + 1);
        }
    st->idx0 = tsl_rbuf_u64(r);
    st->start = tsl_rbuf_i64(r);
    st->last_obs = tsl_rbuf_f64(r);
    st->last_scale = tsl_rbuf_f64(r);
    uint32_t n = tsl_rbuf_u32(r);
    if (!tsl_rbuf_ok(r) || n > state_max(L) || (size_t)n > tsl_rbuf_left(r) / 8 ||
        !isfinite(st->last_obs) || !(st->last_scale > 0) || !isfinite(st->last_scale) ||
        st->idx0 > UINT64_MAX / 2)
        return tsl_diag_set(d, TSL_ECORRUPT, "gbm history is malformed");
    st->n = st->cap = n;
    st->y = tsl_malloc((n ? n : 1) * sizeof *st->y);
    tsl_rbuf_f64s(r, st->y, n);
    for (size_t i = 0; i < n; i++)
        if (isinf(st->y[i]))
            return tsl_diag_set(d, TSL_ECORRUPT, "gbm history value %zu is infinite", i + 1);
    uint32_t blen = tsl_rbuf_u32(r);
    const void *blob = tsl_rbuf_bytes(r, blen);
    if (!tsl_rbuf_ok(r) || !blob || blen == 0)
        return tsl_diag_set(d, TSL_ECORRUPT, "gbm booster is truncated");
    c->blob = tsl_malloc(blen);
    memcpy(c->blob, blob, blen);
    c->blob_len = blen;
    if (XGBoosterCreate(NULL, 0, &c->booster)) {
        c->booster = NULL;
        return xgb_fail(d, TSL_ENUMERIC, "XGBoosterCreate");
    }
    if (XGBoosterLoadModelFromBuffer(c->booster, c->blob, (bst_ulong)c->blob_len))
        return xgb_fail(d, TSL_ECORRUPT, "XGBoosterLoadModelFromBuffer");
    bst_ulong nf = 0;
    int rounds = 0;
    if (XGBoosterGetNumFeature(c->booster, &nf) || XGBoosterBoostedRounds(c->booster, &rounds))
        return xgb_fail(d, TSL_ECORRUPT, "XGBoosterGetNumFeature");
    if (nf != L->nfeat || rounds != c->rounds)
        return tsl_diag_set(d, TSL_ECORRUPT,
                            "gbm booster has %llu features and %d rounds; the layout says %zu "
                            "and %d",
                            (unsigned long long)nf, rounds, L->nfeat, c->rounds);
    if (XGBoosterSetParam(c->booster, "verbosity", "0"))
        return xgb_fail(d, TSL_ENUMERIC, "XGBoosterSetParam");
    return core_ready(c, d);
}

const tsl_model_ops tsl_gbm_ops = {TSL_MODEL_GBM, STATE_VERSION, gbm_fit,  gbm_forecast,
                                   gbm_update,    gbm_save,      gbm_load, state_free};
