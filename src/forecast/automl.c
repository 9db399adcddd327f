/*
 * automl.c - choosing a model per series, refitting it and forecasting.
 *
 * The selection problem. A series' own backtest is a noisy judge: with three windows, the best
 * candidate on them is often the luckiest, and picking it per series loses to simply using a
 * good combination everywhere. The forecasting literature says so (M3, M4: combinations beat
 * selection), and so does our own study on the M1 training windows (bench/select_rules.py,
 * docs/automl.md): per-series selection scored MASE 1.684 where a fixed mean of ETS, Theta and
 * DOTM scored 1.641 and the rule below 1.613. So AutoML works on two levels:
 *
 *   - Columns. Every candidate is a column; so are fixed combinations of the strong models (the
 *     classic "comb": the mean of ETS, ARIMA and Theta, its median, and a few siblings) and
 *     combinations of each series' best few (top-2/top-3 mean, median, inverse-error weighted).
 *   - Evidence. For series i and column j, s_ij is the backtest score and r_ij = s_ij over the
 *     mean score of the series' single candidates: a scale-free "how much better than usual".
 *     G_j, the mean of r_ij over the series, is the data set's verdict on column j. Series i
 *     takes the column minimising  w * r_ij + (1 - w) * G_j  (w = series_weight, default 0.1):
 *     mostly what works across the data set, moved by the series' own evidence when that is
 *     strong. w = 1 is plain per-series selection, w = 0 one column for all.
 *
 * Phases. (1) Per series, in parallel: backtest every applicable candidate at the plan's
 * origins, keeping each forecast in a cache, score every column, and, when asked, the nested
 * evaluation's inner windows. (2) Serially, cheap: the data-set verdicts and every series'
 * choice, and the nested evaluation's choices stage by stage. (3) Per series, in parallel:
 * refit the chosen column on the whole history and forecast. (4) Calibrate the quantiles per
 * column (calibrate.c). Workers keep their own sums, merged in a fixed order, so a result never
 * depends on the thread count (the time limit and the fast preset are the exceptions: they
 * depend on time, and say so).
 *
 * The nested evaluation (the leaderboard's "auto" row) is honest: at each backtest origin the
 * whole procedure, data-set verdict included, is rerun on the data before that origin, and its
 * forecast scored on what followed. Inner backtests reuse the cached forecasts wherever their
 * origins coincide with the outer ones, which for the default plan halves their cost.
 *
 * The intermittent-demand models (and the plain mean, which does well on stationary demand)
 * are default candidates only where the Syntetos-Boylan classification says the series is
 * intermittent, lumpy or all zero (intermittent.h), leaving out structural zeros (model.c).
 */
#include "tsloop/automl.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "calibrate.h"
#include "decompose.h"
#include "gbm.h"
#include "intermittent.h"
#include "model_impl.h"
#include "tsloop/mem.h"
#include "tsloop/pool.h"

#define MAX_CANDIDATES 64
#define MAX_MEMBERS    4
#define RACE_MARGIN    0.10
#define REUSE_GROWTH   3 /* ARIMA orders are reused up to a third more history */

void tsl_automl_opts_init(tsl_automl_opts *o, size_t horizon, int period) {
    memset(o, 0, sizeof *o);
    o->horizon = horizon;
    o->period = period < 1 ? 1 : period;
    o->metric = TSL_METRIC_MASE;
    o->windows = 3;
    o->ensembles = 1;
    o->series_weight = -1;
    o->threads = 0;
    o->forecast = 1;
    o->calibrate = 1;
}

/* ---- candidates ---- */

/* The default candidates, in leaderboard order (simpler first: ties go to the earlier). The
 * flagged ones are only tried where zeros dominate. */
static const struct {
    tsl_model_kind kind;
    int intermittent_only;
} default_kinds[] = {
    {TSL_MODEL_NAIVE, 0},   {TSL_MODEL_SNAIVE, 0}, {TSL_MODEL_DRIFT, 0}, {TSL_MODEL_ETS, 0},
    {TSL_MODEL_ARIMA, 0},   {TSL_MODEL_THETA, 0},  {TSL_MODEL_DOTM, 0},  {TSL_MODEL_MEAN, 1},
    {TSL_MODEL_CROSTON, 1}, {TSL_MODEL_SBA, 1},    {TSL_MODEL_TSB, 1},
};

/* With several seasonal periods: MSTL, removing all of them, with ETS and with Theta. */
static const tsl_model_kind multi_bases[] = {TSL_MODEL_ETS, TSL_MODEL_THETA};

/* Fills out (capacity cap) with the defaults for this period and, when flags is not NULL, the
 * intermittent-only flag of each. */
static size_t default_candidates(int period, tsl_model_spec *out, int *flags, size_t cap) {
    size_t n = 0;
    for (size_t i = 0; i < sizeof default_kinds / sizeof default_kinds[0] && n < cap; i++) {
        if (default_kinds[i].kind == TSL_MODEL_SNAIVE && period <= 1) continue;
        if (flags) flags[n] = default_kinds[i].intermittent_only;
        tsl_model_spec_init(&out[n++], default_kinds[i].kind, period);
    }
    return n;
}

size_t tsl_automl_default_candidates(int period, tsl_model_spec *out, size_t cap) {
    return default_candidates(period, out, NULL, cap);
}

/* Appends the MSTL candidates (periods filled later from the confirmed ones). */
static size_t add_multi_candidates(int period, tsl_model_spec *out, int *flags, size_t n,
                                   size_t cap) {
    for (size_t i = 0; i < sizeof multi_bases / sizeof multi_bases[0] && n < cap; i++) {
        tsl_model_spec_init(&out[n], TSL_MODEL_MSTL, period);
        out[n].base = multi_bases[i];
        flags[n++] = 0;
    }
    return n;
}

/* The history cap: max_history, or max(1000, 20 x the longest period). */
static size_t history_cap(const tsl_automl_opts *o) {
    if (o->max_history) return o->max_history;
    int longest = o->period;
    for (int i = 0; i < o->nperiods; i++)
        if (o->periods[i] > longest) longest = o->periods[i];
    size_t cap = 20 * (size_t)longest;
    return cap > 1000 ? cap : 1000;
}

/* ARIMA sees at most the last max(200, 5 x the longest period) values of the history AutoML
 * models: exact likelihood with seasonal terms costs grows with the length times the period,
 * and on M4-weekly five years forecast better than twenty (bench/RESULTS.md). */
static size_t arima_cap(const tsl_automl_opts *o) {
    int longest = o->period;
    for (int i = 0; i < o->nperiods; i++)
        if (o->periods[i] > longest) longest = o->periods[i];
    size_t cap = 5 * (size_t)longest, all = history_cap(o);
    if (cap < 200) cap = 200;
    return cap < all ? cap : all;
}

/* The models whose fits cost far more than the others: the fast preset races them. */
static int is_expensive(tsl_model_kind k) {
    return k == TSL_MODEL_ETS || k == TSL_MODEL_ARIMA || k == TSL_MODEL_MSTL || k == TSL_MODEL_GBM;
}

/* ---- columns ---- */

typedef enum { COL_SINGLE, COL_FIXED, COL_TOPK } col_kind;

typedef struct column {
    col_kind kind;
    int median;                 /* FIXED, TOPK: median instead of mean */
    int inverse;                /* TOPK: weights proportional to 1 / score */
    size_t k;                   /* members */
    size_t member[MAX_MEMBERS]; /* SINGLE, FIXED: candidate indices */
} column;

/* Fixed combinations, built when every member kind is among the candidates. */
static const struct {
    int median;
    size_t k;
    tsl_model_kind kinds[3];
} fixed_defs[] = {
    {0, 3, {TSL_MODEL_ETS, TSL_MODEL_ARIMA, TSL_MODEL_THETA}},
    {1, 3, {TSL_MODEL_ETS, TSL_MODEL_ARIMA, TSL_MODEL_THETA}},
    {0, 3, {TSL_MODEL_ETS, TSL_MODEL_THETA, TSL_MODEL_DOTM}},
    {0, 2, {TSL_MODEL_ETS, TSL_MODEL_DOTM}},
    {0, 3, {TSL_MODEL_ETS, TSL_MODEL_DOTM, TSL_MODEL_DRIFT}},
};

/* Combinations of each series' best candidates. */
static const struct {
    const char *name;
    size_t k;
    int median, inverse;
} topk_defs[] = {
    {"top2-mean", 2, 0, 0},
    {"top3-mean", 3, 0, 0},
    {"top3-median", 3, 1, 0},
    {"top3-inverse", 3, 0, 1},
};

/* Builds the columns for these candidates: names go to res->col_names. */
static size_t build_columns(const tsl_model_spec *cands, size_t ncand, int ensembles, column *cols,
                            char (*names)[64], size_t cap) {
    size_t n = 0;
    for (size_t c = 0; c < ncand && n < cap; c++, n++) {
        cols[n] = (column){COL_SINGLE, 0, 0, 1, {c}};
        tsl_model_spec_format(&cands[c], names[n], sizeof names[n]);
    }
    if (!ensembles) return n;
    for (size_t f = 0; f < sizeof fixed_defs / sizeof fixed_defs[0] && n < cap; f++) {
        column col = {COL_FIXED, fixed_defs[f].median, 0, fixed_defs[f].k, {0}};
        int found = 1;
        for (size_t m = 0; m < col.k && found; m++) {
            found = 0;
            for (size_t c = 0; c < ncand && !found; c++)
                if (cands[c].kind == fixed_defs[f].kinds[m]) {
                    col.member[m] = c;
                    found = 1;
                }
        }
        if (!found) continue;
        tsl_wbuf b;
        tsl_wbuf_init(&b);
        tsl_wbuf_puts(&b, col.median ? "median(" : "mean(");
        for (size_t m = 0; m < col.k; m++)
            tsl_wbuf_printf(&b, "%s%s", m ? "," : "", tsl_model_kind_name(fixed_defs[f].kinds[m]));
        tsl_wbuf_putc(&b, ')');
        tsl_strlcpy(names[n], tsl_wbuf_cstr(&b), sizeof names[n]);
        tsl_wbuf_release(&b);
        cols[n++] = col;
    }
    for (size_t t = 0; t < sizeof topk_defs / sizeof topk_defs[0] && n < cap; t++) {
        if (ncand < topk_defs[t].k) continue;
        cols[n] =
            (column){COL_TOPK, topk_defs[t].median, topk_defs[t].inverse, topk_defs[t].k, {0}};
        tsl_strlcpy(names[n++], topk_defs[t].name, sizeof names[0]);
    }
    return n;
}

/* ---- the run ---- */

typedef struct run_ctx run_ctx;

/* What phase 1 leaves of a series for phases 2 and 3. */
typedef struct srec {
    size_t idx;      /* the series' index */
    const double *y; /* after leading missing values */
    size_t n;
    tsl_metric metric;  /* ranked on: the requested one, or MAE where it is undefined */
    double *cand_score; /* ncand: single candidates' scores (NaN = none) */
    size_t *order;      /* ncand: candidates by score, failures last */
    size_t nok;         /* candidates with a score */
    /* Nested evaluation, stage s = the outer window s places from the end: */
    size_t nstage;
    double *stage_score; /* nstage * ncols: inner scores */
    tsl_acc *stage_acc;  /* nstage * ncols: the column's result at that outer window */
    double *stage_scale; /* nstage: MASE scale of the outer window */
    size_t choice;       /* phase 2: the column chosen (ncols: none, use the fallbacks) */
    /* ARIMA's order search is its cost: a fit at most 1/REUSE_GROWTH more history past the last
     * one searched (chosen_at[cand], 0 = none yet) refits the orders chosen there (chosen[cand])
     * and estimates only the coefficients. Fits go forward in time (backtest origins ascending,
     * then the final fit), so no forecast uses orders chosen on data after its origin. */
    tsl_model_spec *chosen; /* ncand */
    size_t *chosen_at;      /* ncand */
} srec;

struct run_ctx {
    const tsl_ts *series;
    const tsl_automl_opts *o;
    const tsl_model_spec *cands;
    const int *intermittent_only; /* ncand flags: try only where zeros dominate */
    size_t ncand;
    const column *cols;
    size_t ncols;
    tsl_automl_result *res;
    srec *rec;              /* nseries */
    tsl_agg *worker_agg;    /* nworkers * ncols */
    double *worker_seconds; /* nworkers * ncols */
    size_t *worker_ok;      /* nworkers * ncols */
    uint32_t *worker_hist;  /* calibrate: nworkers * ncols * nbuckets * nq * TSL_CAL_BINS */
    double *worker_inner;   /* nworkers: seconds of the nested inner backtests */
    size_t nbuckets;
    /* Global models (GBM candidates): boost[j] is trained on every series cut j horizons
     * before its end (j = 0: the whole history); NULL where it could not be trained. */
    tsl_gbm **boost;
    size_t nboost;
    double boost_seconds;
    double deadline; /* monotonic seconds; 0 = none */
    atomic_int out_of_time;
    pthread_mutex_t progress_mu;
    size_t done, progress_total;
};

static double wall_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void progress_step(run_ctx *c) {
    if (!c->o->progress) return;
    pthread_mutex_lock(&c->progress_mu);
    c->done++;
    c->o->progress(c->o->progress_ctx, c->done, c->progress_total);
    pthread_mutex_unlock(&c->progress_mu);
}

static int time_is_up(run_ctx *c) {
    if (c->deadline <= 0) return 0;
    if (atomic_load(&c->out_of_time)) return 1;
    if (wall_seconds() < c->deadline) return 0;
    atomic_store(&c->out_of_time, 1);
    return 1;
}

/* Orders candidate indices by score (NaN last), stable on index. */
static void rank_by_score(const double *score, size_t n, size_t *order, size_t *nok) {
    for (size_t i = 0; i < n; i++) order[i] = i;
    for (size_t i = 1; i < n; i++) {
        size_t v = order[i], j = i;
        while (j > 0) {
            double a = score[order[j - 1]], b = score[v];
            int worse = isnan(a) ? !isnan(b) : (!isnan(b) && b < a);
            if (!worse) break;
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
    *nok = 0;
    while (*nok < n && !isnan(score[order[*nok]])) (*nok)++;
}

/* The demand classification of y, leaving out season positions that are structural zeros
 * (model.c): solar output is zero every night, which says nothing about intermittent demand. */
static void classify_demand(const double *y, size_t n, int period, tsl_intermittency *im) {
    uint32_t *run = period > 1 ? tsl_malloc((size_t)period * sizeof *run) : NULL;
    uint64_t zeros = 0, observed = 0;
    if (!run || !tsl_zero_runs(y, n, period, run, &zeros, &observed)) {
        tsl_free(run);
        tsl_intermittent_classify(y, n, im);
        return;
    }
    uint64_t need = tsl_zero_cycles_needed(zeros, observed);
    double *kept = tsl_malloc(n * sizeof *kept);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (run[i % (size_t)period] < need) kept[k++] = y[i];
    tsl_intermittent_classify(kept, k, im);
    tsl_free(kept);
    tsl_free(run);
}

/* The part of series idx AutoML models: the last history_cap values, leading missing values
 * dropped; *skip gets how many values were dropped from the front. */
static void series_view(const run_ctx *c, size_t idx, const double **y, size_t *n, size_t *skip) {
    const double *v = c->series[idx].y;
    size_t len = c->series[idx].n, cap = history_cap(c->o), off = 0;
    if (len > cap) {
        off = len - cap;
        v += off;
        len = cap;
    }
    while (len > 0 && isnan(v[0])) v++, len--, off++;
    *y = v;
    *n = len;
    *skip = off;
}

/* Fits spec (a candidate or the form it chose) to series idx's first `upto` values; ARIMA
 * to the last arima_cap() of them. A global model is not fitted here: series idx's model comes
 * from the booster trained at that distance from the end. */
static tsl_err fit_spec(const run_ctx *c, size_t idx, const tsl_model_spec *spec, size_t upto,
                        tsl_model **m, tsl_diag *d) {
    const srec *r = &c->rec[idx];
    if (spec->kind == TSL_MODEL_ARIMA) {
        size_t cap = arima_cap(c->o), skip = upto > cap ? upto - cap : 0;
        return tsl_model_fit(spec, r->y + skip, upto - skip, m, d);
    }
    if (spec->kind != TSL_MODEL_GBM) return tsl_model_fit(spec, r->y, upto, m, d);
    size_t off = r->n - upto, h = c->o->horizon;
    if (off % h || off / h >= c->nboost || !c->boost[off / h])
        return tsl_diag_set(d, TSL_EUNSUPPORTED,
                            "no global model was trained for this origin (the series' backtest "
                            "plan is shortened)");
    return tsl_gbm_model(c->boost[off / h], idx, m, d);
}

/* Fits candidate cand of series idx on its first `upto` values (see fit_spec), reusing or
 * recording ARIMA's chosen orders (srec.chosen). */
static tsl_err fit_candidate(const run_ctx *c, size_t idx, size_t cand, size_t upto, tsl_model **m,
                             tsl_diag *d) {
    srec *r = &c->rec[idx];
    *m = NULL;
    if (c->cands[cand].kind != TSL_MODEL_ARIMA)
        return fit_spec(c, idx, &c->cands[cand], upto, m, d);
    size_t from = r->chosen_at[cand];
    if (from > 0 && upto >= from && upto - from <= from / REUSE_GROWTH &&
        fit_spec(c, idx, &r->chosen[cand], upto, m, NULL) == TSL_OK)
        return TSL_OK;
    /* no orders chosen on a recent enough history, or they fail here: search */
    tsl_err rc = fit_spec(c, idx, &c->cands[cand], upto, m, d);
    if (rc == TSL_OK) {
        tsl_model_chosen_spec(*m, &r->chosen[cand]);
        r->chosen_at[cand] = upto;
    }
    return rc;
}

/* ---- phase 1: backtests through a forecast cache ---- */

/* Every candidate's forecast from every origin a series needs, horizon h, (1 + nq) columns. */
typedef struct cache {
    size_t h, width, ncand, norig;
    size_t *origin;  /* ascending */
    double *fc;      /* ncand * norig * h * width */
    uint8_t *ok;     /* ncand * norig */
    double *seconds; /* ncand */
} cache;

static double *cache_at(const cache *ca, size_t cand, size_t oi) {
    return ca->fc + ((cand * ca->norig + oi) * ca->h) * ca->width;
}

static long cache_find(const cache *ca, size_t origin) {
    size_t lo = 0, hi = ca->norig;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ca->origin[mid] < origin)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < ca->norig && ca->origin[lo] == origin ? (long)lo : -1;
}

static int cmp_size(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* Fits candidate c at origin index oi and stores its forecast (or marks it failed). */
static void cache_fill_one(const run_ctx *c, cache *ca, size_t idx, size_t cand, size_t oi) {
    const tsl_automl_opts *o = c->o;
    tsl_model *m = NULL;
    double t0 = wall_seconds();
    double *row = cache_at(ca, cand, oi);
    double *mean = tsl_malloc(ca->h * sizeof *mean);
    double *q = tsl_malloc((ca->h * o->nq + 1) * sizeof *q);
    int ok = fit_candidate(c, idx, cand, ca->origin[oi], &m, NULL) == TSL_OK;
    ok = ok && tsl_model_forecast(m, ca->h, o->levels, o->nq, mean, q, NULL) == TSL_OK;
    tsl_model_free(m);
    if (ok)
        for (size_t s = 0; s < ca->h; s++) {
            row[s * ca->width] = mean[s];
            for (size_t j = 0; j < o->nq; j++) row[s * ca->width + 1 + j] = q[s * o->nq + j];
        }
    ca->ok[cand * ca->norig + oi] = (uint8_t)ok;
    ca->seconds[cand] += wall_seconds() - t0;
    tsl_free(mean);
    tsl_free(q);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The forecast of column col from origin index oi into buf (h rows of width): members combined
 * by weighted mean or median, quantile level by quantile level. order/nok rank the candidates
 * for top-k columns, score weights the inverse-error ones. Returns 0 when a member is missing. */
static int column_forecast(const run_ctx *c, const cache *ca, const column *col, size_t oi,
                           const size_t *order, size_t nok, const double *score, double *buf) {
    size_t members[MAX_MEMBERS], k = col->k;
    double w[MAX_MEMBERS], wsum = 0;
    if (col->kind == COL_TOPK) {
        if (nok < k) return 0;
        for (size_t i = 0; i < k; i++) members[i] = order[i];
    } else {
        memcpy(members, col->member, k * sizeof *members);
    }
    for (size_t i = 0; i < k; i++) {
        if (!ca->ok[members[i] * ca->norig + oi]) return 0;
        double s = score ? score[members[i]] : NAN;
        w[i] = col->inverse && s > 0 && isfinite(s) ? 1.0 / s : 1.0;
        wsum += w[i];
    }
    size_t len = ca->h * ca->width;
    if (k == 1) {
        memcpy(buf, cache_at(ca, members[0], oi), len * sizeof *buf);
        return 1;
    }
    double tmp[MAX_MEMBERS];
    for (size_t e = 0; e < len; e++) {
        if (col->median) {
            for (size_t i = 0; i < k; i++) tmp[i] = cache_at(ca, members[i], oi)[e];
            qsort(tmp, k, sizeof *tmp, cmp_double);
            buf[e] = k % 2 ? tmp[k / 2] : 0.5 * (tmp[k / 2 - 1] + tmp[k / 2]);
        } else {
            double v = 0;
            for (size_t i = 0; i < k; i++) v += w[i] * cache_at(ca, members[i], oi)[e];
            buf[e] = v / wsum;
        }
    }
    if (col->median && ca->width > 2)
        for (size_t s = 0; s < ca->h; s++)
            qsort(buf + s * ca->width + 1, ca->width - 1, sizeof *buf, cmp_double);
    (void)c;
    return 1;
}

/* Scores one window: the first he steps of buf against y[origin..]. */
static void window_acc(const run_ctx *c, const double *buf, size_t width, size_t he,
                       const double *actual, tsl_acc *acc) {
    const tsl_automl_opts *o = c->o;
    double *mean = tsl_malloc(he * sizeof *mean);
    double *q = tsl_malloc((he * o->nq + 1) * sizeof *q);
    for (size_t s = 0; s < he; s++) {
        mean[s] = buf[s * width];
        for (size_t j = 0; j < o->nq; j++) q[s * o->nq + j] = buf[s * width + 1 + j];
    }
    memset(acc, 0, sizeof *acc);
    tsl_acc_add(acc, actual, mean, q, o->levels, o->nq, he, NULL);
    tsl_free(mean);
    tsl_free(q);
}

/* 1 when metric m is undefined in every window of the plan on this series: MASE when its
 * training part repeats exactly, MAPE/WAPE/wQL when its actuals are all zero. */
static int metric_undefined(const double *y, const tsl_bt_plan *plan, tsl_metric m) {
    if (m == TSL_METRIC_MAE || m == TSL_METRIC_RMSE || m == TSL_METRIC_SMAPE) return 0;
    for (size_t w = 0; w < plan->k; w++) {
        if (m == TSL_METRIC_MASE) {
            double scale = tsl_mase_scale(y, plan->origin[w], plan->period);
            if (isfinite(scale) && scale > 0) return 0;
        } else {
            for (size_t t = 0; t < plan->h; t++) {
                double v = y[plan->origin[w] + t];
                if (!isnan(v) && v != 0.0) return 0;
            }
        }
    }
    return 1;
}

/* Called by score_plan for every column and window it forecast: the forecast (h rows of 1 + nq)
 * and its accumulator. */
typedef void (*window_fn)(void *ctx, size_t col, size_t w, const double *buf, const tsl_acc *acc);

/* Scores every column over the plan's windows (all of them in the cache) into score[ncols]; the
 * single candidates' scores and ranking go to cand_score, order and nok. A top-k column's
 * members at window w are ranked on the other windows (leave one out): ranked on w itself, the
 * combination would be scored on the very data that chose it, and always look better than it
 * is. With one window there is no other; the ranking is then its own. Returns the metric
 * ranked on. */
static tsl_metric score_plan(const run_ctx *c, const cache *ca, const double *y,
                             const tsl_bt_plan *plan, double *score, size_t *order, size_t *nok,
                             double *cand_score, window_fn fn, void *fn_ctx) {
    tsl_metric metric = metric_undefined(y, plan, c->o->metric) ? TSL_METRIC_MAE : c->o->metric;
    size_t k = plan->k, ncand = c->ncand;
    double *buf = tsl_malloc(ca->h * ca->width * sizeof *buf);
    double *win = tsl_malloc((ncand * k + 1) * sizeof *win); /* candidate x window metric */
    double *loo = tsl_malloc((ncand + 1) * sizeof *loo);
    size_t *loo_order = tsl_malloc((ncand + 1) * sizeof *loo_order), loo_nok;
    long oi[TSL_BT_MAX_WINDOWS];
    for (size_t w = 0; w < k; w++) oi[w] = cache_find(ca, plan->origin[w]);
    for (size_t e = 0; e < ncand * k; e++) win[e] = NAN;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t j = 0; j < c->ncols; j++) {
            const column *col = &c->cols[j];
            if ((col->kind == COL_SINGLE) != (pass == 0)) continue;
            double sum = 0;
            size_t cnt = 0;
            int ok = k > 0;
            for (size_t w = 0; w < k && ok; w++) {
                assert(oi[w] >= 0);
                const size_t *ord = order;
                size_t nk = *nok;
                const double *cs = cand_score;
                if (col->kind == COL_TOPK && k > 1) {
                    for (size_t q = 0; q < ncand; q++) {
                        double ls = 0;
                        size_t lc = 0;
                        for (size_t v = 0; v < k; v++)
                            if (v != w && !isnan(win[q * k + v])) {
                                ls += win[q * k + v];
                                lc++;
                            }
                        loo[q] = isnan(cand_score[q]) || !lc ? NAN : ls / (double)lc;
                    }
                    rank_by_score(loo, ncand, loo_order, &loo_nok);
                    ord = loo_order;
                    nk = loo_nok;
                    cs = loo;
                }
                ok = column_forecast(c, ca, col, (size_t)oi[w], ord, nk, cs, buf);
                if (!ok) break;
                tsl_acc acc;
                window_acc(c, buf, ca->width, plan->h, y + plan->origin[w], &acc);
                double v =
                    tsl_acc_value(&acc, metric, tsl_mase_scale(y, plan->origin[w], plan->period));
                if (col->kind == COL_SINGLE) win[col->member[0] * k + w] = v;
                if (!isnan(v)) {
                    sum += v;
                    cnt++;
                }
                if (fn) fn(fn_ctx, j, w, buf, &acc);
            }
            score[j] = ok && cnt ? sum / (double)cnt : NAN;
            if (col->kind == COL_SINGLE) cand_score[col->member[0]] = score[j];
        }
        if (pass == 0) rank_by_score(cand_score, ncand, order, nok);
    }
    tsl_free(buf);
    tsl_free(win);
    tsl_free(loo);
    tsl_free(loo_order);
    return metric;
}

/* What backtest_series' window callback needs. */
typedef struct outer_ctx {
    run_ctx *c;
    int worker;
    const double *y;
    const tsl_bt_plan *plan;
} outer_ctx;

/* An outer window of a column: the leaderboard's sums and the calibration histograms. */
static void outer_window(void *arg, size_t j, size_t w, const double *buf, const tsl_acc *acc) {
    outer_ctx *x = arg;
    run_ctx *c = x->c;
    size_t slot = (size_t)x->worker * c->ncols + j;
    tsl_agg_add(&c->worker_agg[slot], acc,
                tsl_mase_scale(x->y, x->plan->origin[w], x->plan->period), NULL);
    if (c->worker_hist) {
        size_t cell = c->nbuckets * c->o->nq * TSL_CAL_BINS;
        tsl_cal_add(c->worker_hist + slot * cell, c->nbuckets, buf, x->y + x->plan->origin[w],
                    x->plan->h, c->o->levels, c->o->nq);
    }
}

/* Phase 1 for one series: backtests, column scores, leaderboard sums, calibration histograms,
 * and the nested evaluation's inner scores. */
static void backtest_series(void *arg, size_t idx, int worker) {
    run_ctx *c = arg;
    const tsl_automl_opts *o = c->o;
    tsl_automl_result *res = c->res;
    tsl_automl_series *sr = &res->series[idx];
    srec *r = &c->rec[idx];
    size_t ncols = c->ncols, ncand = c->ncand, width = 1 + o->nq;
    cache ca;
    memset(&ca, 0, sizeof ca);
    tsl_bt_plan inner[TSL_BT_MAX_WINDOWS];

    const double *y;
    size_t n, skip;
    series_view(c, idx, &y, &n, &skip);
    r->idx = idx;
    r->y = y;
    r->n = n;
    r->choice = ncols;
    sr->nobs = n;
    sr->auto_score = NAN;
    for (size_t j = 0; j < ncols; j++) sr->scores[j] = NAN;
    for (size_t k = 0; k < ncand; k++) r->cand_score[k] = NAN;
    rank_by_score(r->cand_score, ncand, r->order, &r->nok);
    if (n == 0) {
        sr->err = TSL_ESHORT;
        tsl_strlcpy(sr->error, "the series has no observed value", sizeof sr->error);
        goto out;
    }
    int single_forecast = ncand == 1 && o->forecast && !o->evaluate_auto;
    if (single_forecast) goto out; /* one candidate, nothing to choose: no backtest */
    tsl_bt_plan_make(n, o->horizon, o->windows, o->period, &sr->plan);
    const tsl_bt_plan *plan = &sr->plan;
    if (plan->k == 0) goto out;
    int late = time_is_up(c); /* the time limit passed before this series began */

    /* The origins: the outer plan's, and the inner plans' of the nested evaluation (which also
     * teaches the series weight). */
    int nested = (o->evaluate_auto || o->series_weight < 0) && !late && !o->fast;
    size_t cap = plan->k * (1 + (nested ? plan->k : 0)), norig = 0;
    ca.origin = tsl_malloc(cap * sizeof *ca.origin);
    for (size_t w = 0; w < plan->k; w++) ca.origin[norig++] = plan->origin[w];
    if (nested)
        for (size_t w = 0; w < plan->k; w++) {
            tsl_bt_plan_make(plan->origin[w], plan->h, o->windows, o->period, &inner[w]);
            for (size_t v = 0; v < inner[w].k; v++) ca.origin[norig++] = inner[w].origin[v];
        }
    qsort(ca.origin, norig, sizeof *ca.origin, cmp_size);
    size_t u = 0;
    for (size_t i = 0; i < norig; i++)
        if (u == 0 || ca.origin[i] != ca.origin[u - 1]) ca.origin[u++] = ca.origin[i];
    ca.norig = u;
    ca.h = plan->h;
    ca.width = width;
    ca.ncand = ncand;
    ca.fc = tsl_calloc(ncand * ca.norig * ca.h * width, sizeof *ca.fc);
    ca.ok = tsl_calloc(ncand * ca.norig, sizeof *ca.ok);
    ca.seconds = tsl_calloc(ncand, sizeof *ca.seconds);

    tsl_intermittency im;
    classify_demand(y, n, o->period, &im);
    size_t last = (size_t)cache_find(&ca, plan->origin[plan->k - 1]);
    double best_cheap = INFINITY; /* the fast preset's bar on the latest window */
    for (int pass = 0; pass < 2; pass++) {
        /* Cheap candidates first, so the fast preset and the time limit can judge the rest. */
        for (size_t k = 0; k < ncand; k++) {
            int expensive = is_expensive(c->cands[k].kind);
            if (expensive != (pass == 1)) continue;
            if (c->intermittent_only[k] && !im.consider) continue;
            if (expensive && (late || time_is_up(c))) {
                sr->cut_short = 1; /* the time limit: the cheap candidates only */
                continue;
            }
            if (expensive && o->fast && isfinite(best_cheap)) {
                cache_fill_one(c, &ca, idx, k, last);
                if (!ca.ok[k * ca.norig + last]) continue;
                tsl_acc acc;
                window_acc(c, cache_at(&ca, k, last), width, plan->h, y + plan->origin[plan->k - 1],
                           &acc);
                double v = tsl_acc_value(&acc, TSL_METRIC_MAE, NAN);
                if (v > best_cheap * (1 + RACE_MARGIN)) {
                    ca.ok[k * ca.norig + last] = 0; /* lost the race: not a column here */
                    continue;
                }
            }
            for (size_t i = 0; i < ca.norig; i++)
                if (!(expensive && o->fast && isfinite(best_cheap) && i == last))
                    cache_fill_one(c, &ca, idx, k, i);
            if (!expensive && ca.ok[k * ca.norig + last]) {
                tsl_acc acc;
                window_acc(c, cache_at(&ca, k, last), width, plan->h, y + plan->origin[plan->k - 1],
                           &acc);
                double v = tsl_acc_value(&acc, TSL_METRIC_MAE, NAN);
                if (v < best_cheap) best_cheap = v;
            }
        }
    }
    if (sr->cut_short) nested = 0;

    /* The outer windows: the scores AutoML chooses by, the leaderboard and calibration. The
     * leaderboard's sums are kept only for columns that completed every window. */
    outer_ctx ox = {c, worker, y, plan};
    tsl_agg *saved = tsl_malloc(ncols * sizeof *saved);
    memcpy(saved, c->worker_agg + (size_t)worker * ncols, ncols * sizeof *saved);
    r->metric = score_plan(c, &ca, y, plan, sr->scores, r->order, &r->nok, r->cand_score,
                           outer_window, &ox);
    double *buf = tsl_malloc(ca.h * width * sizeof *buf);
    for (size_t j = 0; j < ncols; j++) {
        size_t slot = (size_t)worker * ncols + j;
        if (isnan(sr->scores[j])) {
            c->worker_agg[slot] = saved[j]; /* undo a partial column */
            continue;
        }
        const column *col = &c->cols[j];
        double secs = 0;
        if (col->kind == COL_SINGLE)
            secs = ca.seconds[col->member[0]];
        else if (col->kind == COL_FIXED)
            for (size_t m = 0; m < col->k; m++) secs += ca.seconds[col->member[m]];
        else
            for (size_t m = 0; m < col->k && m < r->nok; m++) secs += ca.seconds[r->order[m]];
        c->worker_seconds[slot] += secs;
        c->worker_ok[slot]++;
    }
    tsl_free(saved);

    /* The nested evaluation: at each outer window, the inner plan's scores and every column's
     * result at the outer window with the inner ranking, for phase 2 to choose from. */
    if (nested) {
        double t0 = wall_seconds();
        r->nstage = plan->k;
        r->stage_score = tsl_malloc(plan->k * ncols * sizeof *r->stage_score);
        r->stage_acc = tsl_calloc(plan->k * ncols, sizeof *r->stage_acc);
        r->stage_scale = tsl_malloc(plan->k * sizeof *r->stage_scale);
        size_t *order = tsl_malloc(ncand * sizeof *order);
        double *cs = tsl_malloc(ncand * sizeof *cs);
        for (size_t w = 0; w < plan->k; w++) {
            size_t s = plan->k - 1 - w; /* stage: places from the end */
            double *score = r->stage_score + s * ncols;
            size_t nok = 0;
            for (size_t j = 0; j < ncols; j++) score[j] = NAN;
            for (size_t k = 0; k < ncand; k++) cs[k] = NAN;
            rank_by_score(cs, ncand, order, &nok);
            if (inner[w].k) score_plan(c, &ca, y, &inner[w], score, order, &nok, cs, NULL, NULL);
            size_t oi = (size_t)cache_find(&ca, plan->origin[w]);
            r->stage_scale[s] = tsl_mase_scale(y, plan->origin[w], plan->period);
            for (size_t j = 0; j < ncols; j++) {
                tsl_acc *acc = &r->stage_acc[s * ncols + j];
                if (column_forecast(c, &ca, &c->cols[j], oi, order, nok, cs, buf))
                    window_acc(c, buf, width, plan->h, y + plan->origin[w], acc);
                else
                    score[j] = NAN; /* cannot forecast there: not a choice */
            }
        }
        tsl_free(order);
        tsl_free(cs);
        c->worker_inner[worker] += wall_seconds() - t0;
    }
    tsl_free(buf);
out:
    tsl_free(ca.origin);
    tsl_free(ca.fc);
    tsl_free(ca.ok);
    tsl_free(ca.seconds);
    progress_step(c);
}

/* ---- phase 2: the data set's verdicts and the choices ---- */

/* Relative scores of one series: rel[j] = score[j] / the mean score of its single candidates;
 * returns 0 when it has none. */
static int relative(const run_ctx *c, const double *score, double *rel) {
    double sum = 0;
    size_t cnt = 0;
    for (size_t j = 0; j < c->ncols; j++)
        if (c->cols[j].kind == COL_SINGLE && isfinite(score[j])) {
            sum += score[j];
            cnt++;
        }
    if (!cnt) return 0;
    double ref = sum / (double)cnt;
    for (size_t j = 0; j < c->ncols; j++)
        rel[j] = isfinite(score[j]) && ref > 0 ? score[j] / ref : (score[j] == 0 ? 0 : NAN);
    return 1;
}

/* G over a set of score rows: g[j] = mean over rows of rel[j]; NaN where never defined. */
static void verdicts(const run_ctx *c, const double *const *rows, size_t nrows, double *g) {
    size_t ncols = c->ncols;
    double *sum = tsl_calloc(ncols, sizeof *sum), *rel = tsl_malloc(ncols * sizeof *rel);
    size_t *cnt = tsl_calloc(ncols, sizeof *cnt);
    for (size_t i = 0; i < nrows; i++) {
        if (!rows[i] || !relative(c, rows[i], rel)) continue;
        for (size_t j = 0; j < ncols; j++)
            if (!isnan(rel[j])) {
                sum[j] += rel[j];
                cnt[j]++;
            }
    }
    for (size_t j = 0; j < ncols; j++) g[j] = cnt[j] ? sum[j] / (double)cnt[j] : NAN;
    tsl_free(sum);
    tsl_free(rel);
    tsl_free(cnt);
}

/* The column minimising w * rel + (1 - w) * g among those the series has a score for; ncols
 * when none. */
static size_t choose(const run_ctx *c, const double *score, const double *g, double w) {
    size_t best = c->ncols;
    double bestv = INFINITY, *rel = tsl_malloc(c->ncols * sizeof *rel);
    if (relative(c, score, rel))
        for (size_t j = 0; j < c->ncols; j++) {
            if (isnan(rel[j]) || isnan(g[j])) continue;
            double v = w * rel[j] + (1 - w) * g[j];
            if (v < bestv) {
                bestv = v;
                best = j;
            }
        }
    tsl_free(rel);
    return best;
}

/* Rank (1-based) of column j in the verdicts g, and how many columns have one. */
static size_t verdict_rank(const run_ctx *c, const double *g, size_t j, size_t *of) {
    size_t rank = 1;
    *of = 0;
    for (size_t k = 0; k < c->ncols; k++) {
        if (isnan(g[k])) continue;
        (*of)++;
        if (g[k] < g[j]) rank++;
    }
    return rank;
}

/* The nested evaluation with series weight w: stage by stage, the verdicts of the inner scores
 * and each series' choice. Returns the mean of the selection metric over the (series, stage)
 * points where it is the requested metric, the criterion for learning w; with agg (and sums,
 * counts per series) not NULL, also adds the chosen results to them. */
static double nested_run(const run_ctx *c, double w, tsl_agg *agg, double *sum, size_t *cnt) {
    const tsl_automl_result *res = c->res;
    size_t ncols = c->ncols, ns = res->nseries, maxstage = 0;
    for (size_t i = 0; i < ns; i++)
        if (c->rec[i].nstage > maxstage) maxstage = c->rec[i].nstage;
    const double **rows = tsl_calloc(ns ? ns : 1, sizeof *rows);
    double *g = tsl_malloc(ncols * sizeof *g), total = 0;
    size_t points = 0;
    for (size_t s = 0; s < maxstage; s++) {
        for (size_t i = 0; i < ns; i++)
            rows[i] = c->rec[i].nstage > s ? c->rec[i].stage_score + s * ncols : NULL;
        verdicts(c, rows, ns, g);
        for (size_t i = 0; i < ns; i++) {
            if (!rows[i]) continue;
            const srec *r = &c->rec[i];
            size_t j = choose(c, rows[i], g, w);
            if (j == ncols) {
                /* No inner evidence on this series (too short before this origin): what the
                 * other series say at this stage, among the columns it could forecast. */
                double bestg = INFINITY;
                for (size_t k = 0; k < ncols; k++)
                    if (!isnan(g[k]) && g[k] < bestg && r->stage_acc[s * ncols + k].n) {
                        bestg = g[k];
                        j = k;
                    }
            }
            if (j == ncols) continue;
            const tsl_acc *acc = &r->stage_acc[s * ncols + j];
            if (acc->n == 0) continue;
            double v = tsl_acc_value(acc, r->metric, r->stage_scale[s]);
            if (!isnan(v) && r->metric == c->o->metric) {
                total += v;
                points++;
            }
            if (!agg) continue;
            tsl_agg_add(agg, acc, r->stage_scale[s], NULL);
            if (!isnan(v)) {
                sum[i] += v;
                cnt[i]++;
            }
        }
    }
    tsl_free(g);
    tsl_free(rows);
    return points ? total / (double)points : NAN;
}

static void choose_all(run_ctx *c) {
    tsl_automl_result *res = c->res;
    const tsl_automl_opts *o = c->o;
    size_t ncols = c->ncols, ns = res->nseries;
    /* The series weight: given, or the grid value the nested evaluation likes best (the first
     * of equals, so the default wins ties). */
    static const double grid[] = {0.1, 0.0, 0.25, 0.5, 1.0};
    double w = o->series_weight >= 0 ? o->series_weight : grid[0];
    if (o->series_weight < 0) {
        double best = INFINITY;
        for (size_t k = 0; k < sizeof grid / sizeof grid[0]; k++) {
            double v = nested_run(c, grid[k], NULL, NULL, NULL);
            if (v < best - 1e-12) {
                best = v;
                w = grid[k];
                res->weight_learnt = 1;
            }
        }
    }
    res->series_weight = w;

    const double **rows = tsl_calloc(ns ? ns : 1, sizeof *rows);
    for (size_t i = 0; i < ns; i++) rows[i] = res->series[i].plan.k ? res->series[i].scores : NULL;
    verdicts(c, rows, ns, res->col_rel);
    for (size_t i = 0; i < ns; i++) {
        tsl_automl_series *sr = &res->series[i];
        srec *r = &c->rec[i];
        if (!rows[i]) continue;
        r->choice = choose(c, sr->scores, res->col_rel, w);
        if (r->choice == ncols) continue;
        size_t j = r->choice, of, rank = verdict_rank(c, res->col_rel, j, &of);
        char metric[48];
        if (r->metric == o->metric)
            snprintf(metric, sizeof metric, "%s", tsl_metric_name(r->metric));
        else
            snprintf(metric, sizeof metric, "mae (%s undefined here)", tsl_metric_name(o->metric));
        size_t here = 1;
        for (size_t k = 0; k < ncols; k++)
            if (!isnan(sr->scores[k]) && sr->scores[k] < sr->scores[j]) here++;
        snprintf(sr->reason, sizeof sr->reason,
                 "%s %.4g here over %zu window%s of %zu step%s (rank %zu on this series); across "
                 "the data set it ranks %zu of %zu (%.3f of the average model); weights: this "
                 "series %.2g, the data set %.2g%s",
                 metric, sr->scores[j], sr->plan.k, sr->plan.k == 1 ? "" : "s", sr->plan.h,
                 sr->plan.h == 1 ? "" : "s", here, rank, of, res->col_rel[j], w, 1 - w,
                 res->weight_learnt ? " (learnt)" : "");
        tsl_strlcpy(sr->choice, res->col_names[j], sizeof sr->choice);
    }
    tsl_free(rows);
    if (!o->evaluate_auto) return;
    double *sum = tsl_calloc(ns ? ns : 1, sizeof *sum);
    size_t *cnt = tsl_calloc(ns ? ns : 1, sizeof *cnt);
    nested_run(c, w, &res->auto_agg, sum, cnt);
    for (size_t i = 0; i < ns; i++)
        if (cnt[i]) {
            res->series[i].auto_score = sum[i] / (double)cnt[i];
            res->auto_series++;
        }
    tsl_free(sum);
    tsl_free(cnt);
}

/* ---- phase 3: refit and forecast ---- */

/* Fits column j on y[0..n), members in the series' ranking for top-k columns. Members that
 * fail at refit are dropped; fails only when none fits. */
static tsl_err fit_column(const run_ctx *c, size_t j, const srec *r, tsl_model **out, tsl_diag *d) {
    const column *col = &c->cols[j];
    *out = NULL;
    if (col->kind == COL_SINGLE) return fit_candidate(c, r->idx, col->member[0], r->n, out, d);
    tsl_model *members[MAX_MEMBERS];
    double weights[MAX_MEMBERS];
    size_t got = 0;
    tsl_err rc = TSL_EINTERNAL;
    for (size_t i = 0; i < col->k; i++) {
        size_t cand = col->kind == COL_TOPK ? r->order[i] : col->member[i];
        if (col->kind == COL_TOPK && i >= r->nok) break;
        rc = fit_candidate(c, r->idx, cand, r->n, &members[got], d);
        if (rc) continue;
        double s = r->cand_score[cand];
        weights[got++] = col->inverse && s > 0 && isfinite(s) ? 1.0 / s : 1.0;
    }
    if (got == 0) return rc;
    if (got == 1) {
        *out = members[0];
        return TSL_OK;
    }
    return tsl_model_ensemble(members, weights, got, col->median, out, d);
}

/* Appends a printf-style text to a series' reason. */
static void add_reason(tsl_automl_series *sr, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void add_reason(tsl_automl_series *sr, const char *fmt, ...) {
    size_t len = strlen(sr->reason);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sr->reason + len, sizeof sr->reason - len, fmt, ap);
    va_end(ap);
}

static void refit_series(void *arg, size_t idx, int worker) {
    (void)worker;
    run_ctx *c = arg;
    const tsl_automl_opts *o = c->o;
    tsl_automl_result *res = c->res;
    tsl_automl_series *sr = &res->series[idx];
    srec *r = &c->rec[idx];
    size_t ncols = c->ncols;
    tsl_model *model = NULL;
    tsl_diag d = {0};
    tsl_err rc = TSL_EINTERNAL;
    if (sr->err) goto out;
    int single = c->ncand == 1 && o->forecast && !o->evaluate_auto;
    if (r->choice < ncols) {
        rc = fit_column(c, r->choice, r, &model, &d);
        /* The choice could not be refit on the full series: the next best candidate that can. */
        for (size_t i = 0; i < r->nok && rc; i++) {
            rc = fit_candidate(c, idx, r->order[i], r->n, &model, &d);
            if (!rc) {
                tsl_model_spec_format(&c->cands[r->order[i]], sr->choice, sizeof sr->choice);
                add_reason(sr, "; the choice failed to refit, took %s", sr->choice);
            }
        }
    } else if (single) {
        rc = fit_candidate(c, idx, 0, r->n, &model, &d);
        tsl_strlcpy(sr->choice, res->col_names[0], sizeof sr->choice);
        tsl_strlcpy(sr->reason, rc ? "the only candidate failed: " : "the only candidate",
                    sizeof sr->reason);
    } else {
        /* No backtest to go by: the data set's best columns in order. */
        if (sr->plan.k == 0)
            snprintf(sr->reason, sizeof sr->reason,
                     "too short to backtest (%zu values, %zu "
                     "needed): ",
                     r->n, tsl_bt_min_train(o->period) + 1);
        else
            tsl_strlcpy(sr->reason, "no candidate completed its backtest: ", sizeof sr->reason);
        size_t *byg = tsl_malloc(ncols * sizeof *byg), nby = 0;
        rank_by_score(res->col_rel, ncols, byg, &nby);
        for (size_t i = 0; i < nby && rc; i++) {
            if (c->cols[byg[i]].kind == COL_TOPK) continue;
            rc = fit_column(c, byg[i], r, &model, &d);
            if (!rc) {
                tsl_strlcpy(sr->choice, res->col_names[byg[i]], sizeof sr->choice);
                add_reason(sr, "%s, the data set's best column that fits", sr->choice);
            }
        }
        tsl_free(byg);
    }
    /* The last resorts: Theta, robust on short series, and naive, which needs one value. */
    static const tsl_model_kind fallbacks[2] = {TSL_MODEL_THETA, TSL_MODEL_NAIVE};
    for (int f = 0; f < 2 && rc; f++) {
        tsl_model_spec spec;
        tsl_model_spec_init(&spec, fallbacks[f], o->period);
        rc = tsl_model_fit(&spec, r->y, r->n, &model, &d);
        if (!rc) {
            tsl_strlcpy(sr->choice, tsl_model_kind_name(fallbacks[f]), sizeof sr->choice);
            add_reason(sr, "%s by default", sr->choice);
        }
    }
    if (rc) {
        sr->err = rc;
        snprintf(sr->error, sizeof sr->error, "%s", tsl_diag_msg(&d));
        goto out;
    }
    tsl_strlcpy(sr->model_name, tsl_model_name(model), sizeof sr->model_name);
    rc = tsl_model_forecast(model, o->horizon, o->levels, o->nq, sr->mean, sr->quant, &d);
    if (rc) {
        sr->err = rc;
        snprintf(sr->error, sizeof sr->error, "%s: %s", sr->model_name, tsl_diag_msg(&d));
        goto out;
    }
    if (o->keep_models) {
        sr->model = model;
        model = NULL;
    }
out:
    if (sr->err && sr->mean)
        for (size_t s = 0; s < o->horizon; s++) sr->mean[s] = NAN;
    tsl_model_free(model);
    progress_step(c);
}

/* ---- phase 4: calibration ---- */

/* Merges the workers' histograms into per-column scale tables, then scales every series'
 * forecast quantiles (and its kept model) by its column's table. */
static void calibrate(run_ctx *c, size_t nw) {
    tsl_automl_result *res = c->res;
    const tsl_automl_opts *o = c->o;
    size_t nb = c->nbuckets, nq = o->nq, cell = nb * nq * TSL_CAL_BINS;
    res->nbuckets = nb;
    res->bucket_start = tsl_calloc(nb + 1, sizeof *res->bucket_start);
    for (size_t st = 0, b = 0; st < o->horizon; st++)
        if (tsl_cal_bucket(st) == b) res->bucket_start[b++] = st;
    res->bucket_start[nb] = o->horizon;
    res->col_scale = tsl_calloc(c->ncols * nb * nq, sizeof *res->col_scale);
    for (size_t j = 0; j < c->ncols; j++) {
        uint32_t *h = c->worker_hist + j * cell; /* worker 0's cells collect the sums */
        for (size_t w = 1; w < nw; w++)
            for (size_t k = 0; k < cell; k++) h[k] += c->worker_hist[(w * c->ncols + j) * cell + k];
        tsl_cal_scales(h, nb, o->levels, nq, res->col_scale + j * nb * nq);
    }
    if (!o->forecast) return;
    double *table = tsl_reallocarray(NULL, o->horizon * nq, sizeof *table);
    for (size_t i = 0; i < res->nseries; i++) {
        tsl_automl_series *sr = &res->series[i];
        if (sr->err || !sr->mean) continue;
        size_t col = c->ncols;
        for (size_t j = 0; j < c->ncols; j++)
            if (!strcmp(res->col_names[j], sr->choice)) col = j;
        if (col == c->ncols || !res->col_series[col]) continue;
        const double *sc = res->col_scale + col * nb * nq;
        /* Widening moves lower quantiles down: a series never negative stays at or above zero,
         * as its model's own forecasts do (model.c clamps the same way). */
        const srec *r = &c->rec[i];
        int nonneg = 1;
        for (size_t t = 0; t < r->n && nonneg; t++) nonneg = !(r->y[t] < 0);
        for (size_t st = 0; st < o->horizon; st++)
            for (size_t q = 0; q < nq; q++) {
                double lambda = sc[tsl_cal_bucket(st) * nq + q];
                table[st * nq + q] = lambda;
                double *v = &sr->quant[st * nq + q];
                *v = sr->mean[st] + lambda * (*v - sr->mean[st]);
                if (nonneg && *v < 0) *v = 0;
            }
        if (sr->model)
            tsl_model_set_interval_scale(sr->model, o->horizon, o->levels, nq, table, NULL);
    }
    tsl_free(table);
}

/* ---- the entry point ---- */

static tsl_err check_opts(const tsl_automl_opts *o, tsl_diag *d) {
    if (o->horizon < 1 || o->horizon > 100000)
        return tsl_diag_set(d, TSL_EINVAL, "horizon %zu out of range 1..100000", o->horizon);
    if (o->period < 1) return tsl_diag_set(d, TSL_EINVAL, "seasonal period must be >= 1");
    tsl_err rc = tsl_quantile_levels_check(o->levels, o->nq, TSL_METRICS_MAX_LEVELS, d);
    if (rc) return rc;
    if (o->windows > TSL_BT_MAX_WINDOWS)
        return tsl_diag_set(d, TSL_EINVAL, "at most %d backtest windows", TSL_BT_MAX_WINDOWS);
    if (!(o->series_weight >= 0 && o->series_weight <= 1) && o->series_weight != -1)
        return tsl_diag_set(d, TSL_EINVAL,
                            "the series weight must be in [0, 1] (or -1 to learn it), got %g",
                            o->series_weight);
    if (!(o->time_limit >= 0))
        return tsl_diag_set(d, TSL_EINVAL, "the time limit must be >= 0 seconds");
    if (o->nperiods < 0 || o->nperiods > TSL_MAX_PERIODS)
        return tsl_diag_set(d, TSL_EINVAL, "at most %d seasonal periods", TSL_MAX_PERIODS);
    for (int k = 0; k < o->nperiods; k++)
        if (o->periods[k] < 1 || (k && o->periods[k] <= o->periods[k - 1]))
            return tsl_diag_set(d, TSL_EINVAL, "seasonal periods must be ascending and >= 1");
    if (o->candidates && (o->ncandidates < 1 || o->ncandidates > MAX_CANDIDATES))
        return tsl_diag_set(d, TSL_EINVAL, "1..%d candidates, got %zu", MAX_CANDIDATES,
                            o->ncandidates);
    return TSL_OK;
}

/* Trains the global models the GBM candidates need: one booster per distance j horizons from
 * the end of the series, j = 0 (the final fit, when forecasting) up to the farthest origin a
 * backtest, nested ones included, can use. Only series on the regular plan (origins spaced by
 * the full horizon) take part: on others the origins do not fall on those distances. */
static void train_boosters(run_ctx *c, const tsl_automl_opts *o, size_t nseries, int nthreads) {
    const tsl_model_spec *spec = NULL;
    for (size_t k = 0; k < c->ncand; k++)
        if (c->cands[k].kind == TSL_MODEL_GBM) spec = &c->cands[k];
    if (!spec || nseries == 0) return;
    double t0 = wall_seconds();
    int nested = (o->evaluate_auto || o->series_weight < 0) && !o->fast;
    size_t k = o->windows, h = o->horizon;
    c->nboost = (nested ? 2 * k - 1 : k) + 1;
    c->boost = tsl_calloc(c->nboost, sizeof *c->boost);
    tsl_ts *view = tsl_calloc(nseries, sizeof *view);
    size_t *len = tsl_calloc(nseries, sizeof *len);
    int *regular = tsl_calloc(nseries, sizeof *regular);
    for (size_t i = 0; i < nseries; i++) {
        size_t skip;
        series_view(c, i, &view[i].y, &view[i].n, &skip);
        view[i].start = o->freq.unit ? tsl_freq_add(o->freq, c->series[i].start, (int64_t)skip)
                                     : c->series[i].start;
        tsl_bt_plan p;
        tsl_bt_plan_make(view[i].n, h, k, o->period, &p);
        regular[i] = p.k == k && p.h == h && p.step == h;
    }
    tsl_gbm_opts g;
    tsl_gbm_opts_init(&g, h, o->period);
    g.freq = o->freq;
    g.nperiods = o->nperiods;
    memcpy(g.periods, o->periods, sizeof g.periods);
    g.threads = nthreads;
    for (size_t j = o->forecast ? 0 : 1; j < c->nboost; j++) {
        size_t used = 0;
        for (size_t i = 0; i < nseries; i++) {
            len[i] = regular[i] && view[i].n > j * h + tsl_bt_min_train(o->period)
                         ? view[i].n - j * h
                         : 0;
            used += len[i] > 0;
        }
        if (used == 0 || tsl_gbm_train(view, nseries, len, &g, &c->boost[j], NULL) != TSL_OK)
            c->boost[j] = NULL;
    }
    tsl_free(view);
    tsl_free(len);
    tsl_free(regular);
    c->boost_seconds = wall_seconds() - t0;
}

/* Confirming the seasonal periods on the data, one task per series. */
typedef struct confirm_ctx {
    const tsl_ts *series;
    const tsl_automl_opts *o;
    unsigned *votes; /* nseries * TSL_MAX_PERIODS: 1 where the series confirms periods[k] */
} confirm_ctx;

static void confirm_series(void *arg, size_t i, int worker) {
    (void)worker;
    confirm_ctx *x = arg;
    const double *y = x->series[i].y;
    size_t n = x->series[i].n, cap = history_cap(x->o);
    if (n > cap) {
        y += n - cap;
        n = cap;
    }
    while (n > 0 && isnan(y[0])) y++, n--;
    int got[TSL_MAX_PERIODS], ngot = 0;
    if (n == 0 ||
        tsl_mstl_confirm_periods(y, n, x->o->periods, x->o->nperiods, got, &ngot, NULL) != TSL_OK)
        return;
    for (int g = 0; g < ngot; g++)
        for (int k = 0; k < x->o->nperiods; k++)
            if (x->o->periods[k] == got[g]) x->votes[i * TSL_MAX_PERIODS + (size_t)k] = 1;
}

/* The periods of opts confirmed on at least half the series (votes of the series that could
 * be tested), ascending, into res. */
static void confirm_periods(tsl_pool *pool, const tsl_ts *series, size_t nseries,
                            const tsl_automl_opts *o, tsl_automl_result *res) {
    confirm_ctx x = {series, o, tsl_calloc(nseries * TSL_MAX_PERIODS + 1, sizeof *x.votes)};
    tsl_pool_run(pool, nseries, confirm_series, &x);
    res->nperiods = 0;
    for (int k = 0; k < o->nperiods; k++) {
        size_t yes = 0;
        for (size_t i = 0; i < nseries; i++) yes += x.votes[i * TSL_MAX_PERIODS + (size_t)k];
        if (nseries && 2 * yes >= nseries) res->periods[res->nperiods++] = o->periods[k];
    }
    tsl_free(x.votes);
}

tsl_err tsl_automl_run(const tsl_ts *series, size_t nseries, const tsl_automl_opts *o,
                       tsl_automl_result **out, tsl_diag *d) {
    tsl_model_spec defaults[MAX_CANDIDATES];
    int flags[MAX_CANDIDATES] = {0};
    column cols[MAX_CANDIDATES + 16];
    tsl_automl_result *res = NULL;
    *out = NULL;
    tsl_err rc = check_opts(o, d);
    if (rc) return rc;
    tsl_automl_opts opts = *o;
    if (opts.windows == 0) opts.windows = 3;
    run_ctx c;
    memset(&c, 0, sizeof c);
    int multi = opts.nperiods >= 2;
    if (opts.candidates) {
        memcpy(defaults, opts.candidates, opts.ncandidates * sizeof *defaults);
        c.ncand = opts.ncandidates;
    } else {
        c.ncand = default_candidates(opts.period, defaults, flags, MAX_CANDIDATES);
        if (multi)
            c.ncand = add_multi_candidates(opts.period, defaults, flags, c.ncand, MAX_CANDIDATES);
    }
    c.cands = defaults;
    c.intermittent_only = flags;
    double t0 = wall_seconds();
    if (opts.time_limit > 0) c.deadline = t0 + opts.time_limit;

    res = tsl_calloc(1, sizeof *res);
    res->nseries = nseries;
    res->horizon = opts.horizon;
    res->nq = opts.nq;
    if (opts.nq) memcpy(res->levels, opts.levels, opts.nq * sizeof *opts.levels);
    res->metric = opts.metric;
    res->series_weight = opts.series_weight;
    /* MSTL candidates without periods of their own take the periods the data confirm. */
    tsl_pool *pool = tsl_pool_new(opts.threads);
    int need_periods = 0;
    for (size_t k = 0; k < c.ncand; k++)
        need_periods |= defaults[k].kind == TSL_MODEL_MSTL && defaults[k].nperiods == 0;
    if (multi && need_periods) {
        confirm_periods(pool, series, nseries, &opts, res);
        size_t kept = 0;
        for (size_t k = 0; k < c.ncand; k++) {
            tsl_model_spec *sp = &defaults[k];
            if (sp->kind == TSL_MODEL_MSTL && sp->nperiods == 0) {
                if (res->nperiods == 0 && !opts.candidates) continue; /* no season confirmed */
                sp->nperiods = res->nperiods ? res->nperiods : 1;
                if (res->nperiods)
                    memcpy(sp->periods, res->periods, (size_t)res->nperiods * sizeof *sp->periods);
                else
                    sp->periods[0] = opts.period;
                sp->period = sp->periods[sp->nperiods - 1];
            }
            flags[kept] = flags[k];
            defaults[kept++] = *sp;
        }
        c.ncand = kept;
    }
    res->col_names = tsl_calloc(MAX_CANDIDATES + 16, sizeof *res->col_names);
    res->ncols =
        build_columns(c.cands, c.ncand, opts.ensembles, cols, res->col_names, MAX_CANDIDATES + 16);
    c.cols = cols;
    c.ncols = res->ncols;
    res->col_agg = tsl_calloc(res->ncols, sizeof *res->col_agg);
    res->col_seconds = tsl_calloc(res->ncols, sizeof *res->col_seconds);
    res->col_chosen = tsl_calloc(res->ncols, sizeof *res->col_chosen);
    res->col_series = tsl_calloc(res->ncols, sizeof *res->col_series);
    res->col_rel = tsl_calloc(res->ncols, sizeof *res->col_rel);
    res->series = tsl_calloc(nseries ? nseries : 1, sizeof *res->series);
    c.rec = tsl_calloc(nseries ? nseries : 1, sizeof *c.rec);
    for (size_t i = 0; i < nseries; i++) {
        tsl_automl_series *sr = &res->series[i];
        sr->scores = tsl_calloc(res->ncols, sizeof *sr->scores);
        c.rec[i].cand_score = tsl_calloc(c.ncand, sizeof *c.rec[i].cand_score);
        c.rec[i].order = tsl_calloc(c.ncand, sizeof *c.rec[i].order);
        c.rec[i].chosen = tsl_calloc(c.ncand, sizeof *c.rec[i].chosen);
        c.rec[i].chosen_at = tsl_calloc(c.ncand, sizeof *c.rec[i].chosen_at);
        if (opts.forecast) {
            sr->mean = tsl_calloc(opts.horizon, sizeof *sr->mean);
            sr->quant =
                tsl_reallocarray(NULL, opts.horizon * (opts.nq ? opts.nq : 1), sizeof *sr->quant);
        }
    }

    size_t nw = (size_t)tsl_pool_size(pool);
    c.series = series;
    c.o = &opts;
    c.res = res;
    c.worker_agg = tsl_calloc(nw * res->ncols, sizeof *c.worker_agg);
    c.worker_seconds = tsl_calloc(nw * res->ncols, sizeof *c.worker_seconds);
    c.worker_ok = tsl_calloc(nw * res->ncols, sizeof *c.worker_ok);
    c.worker_inner = tsl_calloc(nw, sizeof *c.worker_inner);
    if (opts.calibrate && opts.nq > 0) {
        c.nbuckets = tsl_cal_bucket(opts.horizon - 1) + 1;
        c.worker_hist = tsl_calloc(nw * res->ncols * c.nbuckets * opts.nq * TSL_CAL_BINS,
                                   sizeof *c.worker_hist);
    }
    atomic_init(&c.out_of_time, 0);
    pthread_mutex_init(&c.progress_mu, NULL);
    c.progress_total = nseries * (opts.forecast ? 2 : 1);

    train_boosters(&c, &opts, nseries, (int)nw);
    tsl_pool_run(pool, nseries, backtest_series, &c);
    for (size_t w = 0; w < nw; w++) {
        for (size_t j = 0; j < res->ncols; j++) {
            tsl_agg_merge(&res->col_agg[j], &c.worker_agg[w * res->ncols + j], NULL);
            res->col_seconds[j] += c.worker_seconds[w * res->ncols + j];
            res->col_series[j] += c.worker_ok[w * res->ncols + j];
        }
        res->auto_seconds += c.worker_inner[w];
    }
    for (size_t j = 0; j < res->ncols; j++) /* the global model's training is its time too */
        if (cols[j].kind == COL_SINGLE && c.cands[cols[j].member[0]].kind == TSL_MODEL_GBM)
            res->col_seconds[j] += c.boost_seconds;
    choose_all(&c);
    if (opts.forecast) tsl_pool_run(pool, nseries, refit_series, &c);
    for (size_t i = 0; i < nseries; i++) {
        res->cut_short += res->series[i].cut_short;
        for (size_t j = 0; j < res->ncols; j++)
            if (!strcmp(res->series[i].choice, res->col_names[j])) res->col_chosen[j]++;
    }
    if (c.worker_hist) calibrate(&c, nw);
    res->seconds = wall_seconds() - t0;

    pthread_mutex_destroy(&c.progress_mu);
    for (size_t i = 0; i < nseries; i++) {
        tsl_free(c.rec[i].cand_score);
        tsl_free(c.rec[i].order);
        tsl_free(c.rec[i].chosen);
        tsl_free(c.rec[i].chosen_at);
        tsl_free(c.rec[i].stage_score);
        tsl_free(c.rec[i].stage_acc);
        tsl_free(c.rec[i].stage_scale);
    }
    tsl_free(c.rec);
    tsl_free(c.worker_agg);
    tsl_free(c.worker_seconds);
    tsl_free(c.worker_ok);
    tsl_free(c.worker_hist);
    tsl_free(c.worker_inner);
    for (size_t j = 0; j < c.nboost; j++) tsl_gbm_free(c.boost[j]);
    tsl_free(c.boost);
    tsl_pool_free(pool);
    *out = res;
    return TSL_OK;
}

void tsl_automl_result_free(tsl_automl_result *r) {
    if (!r) return;
    for (size_t i = 0; i < r->nseries; i++) {
        tsl_free(r->series[i].mean);
        tsl_free(r->series[i].quant);
        tsl_free(r->series[i].scores);
        tsl_model_free(r->series[i].model);
    }
    tsl_free(r->series);
    tsl_free(r->col_names);
    tsl_free(r->col_agg);
    tsl_free(r->col_seconds);
    tsl_free(r->col_chosen);
    tsl_free(r->col_series);
    tsl_free(r->col_rel);
    tsl_free(r->bucket_start);
    tsl_free(r->col_scale);
    tsl_free(r);
}
