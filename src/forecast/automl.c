/*
 * automl.c - per-series model selection by backtest, combinations, refit and forecast.
 *
 * The selection problem. With a handful of backtest windows per series, the single best
 * candidate on those windows is a noisy pick: its lead is often luck. Combinations of the best
 * few candidates average that noise away, and the forecasting literature (the M3/M4 results,
 * Hyndman's "comb", Petropoulos & Svetunkov's M4 entry) shows them winning on average. So the
 * combinations compete as columns of their own, scored on the same windows from the members'
 * stored forecasts: they are chosen where they backtest better, not by decree.
 *
 * The intermittent-demand models (and the plain mean, which does well on stationary demand)
 * are default candidates only where the Syntetos-Boylan classification says the series is
 * intermittent, lumpy or all zero (intermittent.h): on smooth series they never win and would
 * only add chances to pick badly. Named explicitly with --models, they run everywhere.
 *
 * Parallelism: one task per series on the pool; each worker accumulates its own leaderboard
 * aggregates, merged at the end, so there is no lock on the hot path. A series' result depends
 * only on the series, never on the thread count or scheduling.
 */
#include "tsloop/automl.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "intermittent.h"
#include "model_impl.h"
#include "tsloop/mem.h"
#include "tsloop/pool.h"

#define MAX_CANDIDATES 64

/* Combination columns appended after the candidates. */
static const struct {
    const char *name;
    size_t k;
    int median;
} combos[] = {{"top2-mean", 2, 0}, {"top3-mean", 3, 0}, {"top3-median", 3, 1}};
#define NCOMBOS (sizeof combos / sizeof combos[0])

void tsl_automl_opts_init(tsl_automl_opts *o, size_t horizon, int period) {
    memset(o, 0, sizeof *o);
    o->horizon = horizon;
    o->period = period < 1 ? 1 : period;
    o->metric = TSL_METRIC_MASE;
    o->windows = 3;
    o->ensembles = 1;
    o->threads = 0;
    o->forecast = 1;
    o->calibrate = 1;
}

/* The default candidates, in leaderboard order (simpler first: ties go to the earlier). The
 * flagged ones are only tried where zeros dominate: on smooth series they never win and would
 * only add chances to pick badly. */
static const struct {
    tsl_model_kind kind;
    int intermittent_only;
} default_kinds[] = {
    {TSL_MODEL_NAIVE, 0}, {TSL_MODEL_SNAIVE, 0}, {TSL_MODEL_DRIFT, 0}, {TSL_MODEL_ETS, 0},
    {TSL_MODEL_THETA, 0}, {TSL_MODEL_DOTM, 0},   {TSL_MODEL_MEAN, 1},  {TSL_MODEL_CROSTON, 1},
    {TSL_MODEL_SBA, 1},   {TSL_MODEL_TSB, 1},
};

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

typedef struct run_ctx {
    const tsl_ts *series;
    const tsl_automl_opts *o;
    const tsl_model_spec *cands;
    const int *intermittent_only; /* ncand flags: try only where zeros dominate */
    size_t ncand;
    tsl_automl_result *res;
    tsl_agg *worker_agg;    /* nworkers * ncols */
    double *worker_seconds; /* nworkers * ncols */
    size_t *worker_ok;      /* nworkers * ncols */
    uint32_t *worker_hist;  /* calibrate: nworkers * ncols * nbuckets * nq * CAL_BINS */
    size_t nbuckets;
    tsl_agg *worker_auto;        /* nworkers: nested AutoML evaluation */
    size_t *worker_auto_n;       /* nworkers */
    double *worker_auto_seconds; /* nworkers */
    pthread_mutex_t progress_mu;
    size_t done;
} run_ctx;

static double wall_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Orders candidate indices by score (NaN last), stable on index. */
static void rank_by_score(const double *score, size_t n, size_t *order) {
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
}

/* Fits the members of column `col` on y and builds the model (a combination when col is past
 * the candidates). Members that fail at refit are dropped; fails only when none fits. */
static tsl_err fit_column(const run_ctx *c, size_t col, const size_t *order, const double *y,
                          size_t n, tsl_model **out, tsl_diag *d) {
    *out = NULL;
    if (col < c->ncand) return tsl_model_fit(&c->cands[col], y, n, out, d);
    size_t k = combos[col - c->ncand].k;
    tsl_model *members[8];
    size_t got = 0;
    tsl_err rc = TSL_OK;
    for (size_t i = 0; i < k; i++) {
        rc = tsl_model_fit(&c->cands[order[i]], y, n, &members[got], d);
        if (!rc) got++;
    }
    if (got == 0) return rc;
    if (got == 1) {
        *out = members[0];
        return TSL_OK;
    }
    return tsl_model_ensemble(members, NULL, got, combos[col - c->ncand].median, out, d);
}

/* The last resort for a series nothing else fits: naive needs a single observation. */
static tsl_err fit_fallback(const run_ctx *c, const double *y, size_t n, tsl_model **out,
                            tsl_diag *d) {
    tsl_model_spec spec;
    tsl_model_spec_init(&spec, TSL_MODEL_NAIVE, c->o->period);
    return tsl_model_fit(&spec, y, n, out, d);
}

static void combo_members_text(const run_ctx *c, size_t col, const size_t *order, char *buf,
                               size_t cap) {
    size_t k = combos[col - c->ncand].k, len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < k && len < cap; i++) {
        char label[64];
        tsl_model_spec_format(&c->cands[order[i]], label, sizeof label);
        int w = snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", label);
        if (w < 0) break;
        len += (size_t)w;
    }
}

/* Everything one selection produces; bt, scores and order are sized by the caller. */
typedef struct selection {
    tsl_bt_plan plan;
    tsl_bt_result *bt; /* ncols */
    double *score;     /* ncols, NaN where no backtest */
    size_t *order;     /* ncand: candidates by score, failures last */
    size_t nok;        /* candidates with a score */
    size_t best;       /* winning column, ncols when none */
    tsl_metric metric; /* the metric ranked on: the requested one, or MAE where undefined */
} selection;

/* 1 when metric m is undefined in every window of the plan on this series. */
static int metric_undefined(const double *y, size_t n, const tsl_bt_plan *plan, tsl_metric m) {
    (void)n;
    for (size_t w = 0; w < plan->k; w++) {
        const double *test = y + plan->origin[w];
        if (m == TSL_METRIC_MASE) {
            double scale = tsl_mase_scale(y, plan->origin[w], plan->period);
            if (isfinite(scale) && scale > 0) return 0;
        } else {
            for (size_t t = 0; t < plan->h; t++)
                if (!isnan(test[t]) && test[t] != 0.0) return 0;
        }
    }
    return 1;
}

static void selection_init(selection *s, size_t ncols, size_t ncand) {
    memset(s, 0, sizeof *s);
    s->bt = tsl_calloc(ncols, sizeof *s->bt);
    s->score = tsl_calloc(ncols, sizeof *s->score);
    s->order = tsl_calloc(ncand ? ncand : 1, sizeof *s->order);
}

static void selection_release(selection *s, size_t ncols) {
    for (size_t j = 0; j < ncols; j++) tsl_bt_result_release(&s->bt[j]);
    tsl_free(s->bt);
    tsl_free(s->score);
    tsl_free(s->order);
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

/* Backtests every applicable candidate and combination on y[0..n) (no leading NaN) for
 * horizon h and picks the column with the lowest score. */
static void select_column(const run_ctx *c, const double *y, size_t n, size_t h, selection *s) {
    const tsl_automl_opts *o = c->o;
    size_t ncols = c->res->ncols;
    tsl_intermittency im;
    classify_demand(y, n, o->period, &im);
    tsl_bt_plan_make(n, h, o->windows, o->period, &s->plan);
    /* A metric can be undefined on a whole series: MASE when its training part repeats
     * exactly (zero seasonal-naive error), MAPE/WAPE/wQL when its actuals are all zero. Rank by
     * MAE there: for MASE the ranking is the same (MASE is MAE over a constant), for the others
     * it is the natural stand-in. The scale depends only on the data, so the fallback applies
     * to all candidates of the series alike. */
    s->metric = o->metric;
    if (s->plan.k > 0 && o->metric != TSL_METRIC_MAE && o->metric != TSL_METRIC_RMSE &&
        o->metric != TSL_METRIC_SMAPE && metric_undefined(y, n, &s->plan, o->metric))
        s->metric = TSL_METRIC_MAE;
    for (size_t j = 0; j < ncols; j++) s->score[j] = NAN;
    for (size_t j = 0; j < c->ncand; j++) {
        if (c->intermittent_only[j] && !im.consider) continue;
        if (s->plan.k == 0) continue;
        tsl_backtest(&c->cands[j], y, n, &s->plan, o->levels, o->nq, &s->bt[j], NULL);
        if (s->bt[j].ok) s->score[j] = tsl_bt_score(&s->bt[j], s->metric);
    }
    rank_by_score(s->score, c->ncand, s->order);
    s->nok = 0;
    while (s->nok < c->ncand && !isnan(s->score[s->order[s->nok]])) s->nok++;
    if (o->ensembles) {
        for (size_t k = 0; c->ncand + k < ncols; k++) {
            if (s->nok < combos[k].k) continue;
            const tsl_bt_result *mem[8];
            for (size_t i = 0; i < combos[k].k; i++) mem[i] = &s->bt[s->order[i]];
            size_t col = c->ncand + k;
            if (!tsl_bt_combine(mem, NULL, combos[k].k, combos[k].median, y, n, &s->plan, o->levels,
                                o->nq, &s->bt[col], NULL))
                s->score[col] = tsl_bt_score(&s->bt[col], s->metric);
        }
    }
    s->best = ncols;
    for (size_t j = 0; j < ncols; j++)
        if (!isnan(s->score[j]) && (s->best == ncols || s->score[j] < s->score[s->best]))
            s->best = j;
}

/* Words for why the selection chose what it chose (before any refit fallback). */
static void explain(const run_ctx *c, const selection *s, size_t n, char *buf, size_t cap) {
    char mname[48];
    if (s->metric == c->o->metric)
        snprintf(mname, sizeof mname, "%s", tsl_metric_name(s->metric));
    else
        snprintf(mname, sizeof mname, "mae (%s undefined here)", tsl_metric_name(c->o->metric));
    size_t best = s->best;
    if (best == c->res->ncols) {
        if (s->plan.k == 0)
            snprintf(buf, cap, "too short to backtest (%zu values, %zu needed to train)", n,
                     s->plan.min_train + 1);
        else
            snprintf(buf, cap, "no candidate completed its backtest");
        return;
    }
    char members[160] = "", runner[96] = "";
    if (best >= c->ncand) {
        combo_members_text(c, best, s->order, members, sizeof members);
        snprintf(runner, sizeof runner, "; best single %s %.4g", c->res->col_names[s->order[0]],
                 s->score[s->order[0]]);
    } else if (s->nok > 1) {
        size_t next = s->order[0] == best ? s->order[1] : s->order[0];
        snprintf(runner, sizeof runner, "; next %s %.4g", c->res->col_names[next], s->score[next]);
    }
    snprintf(buf, cap, "%s%s%s%s %.4g over %zu window%s of %zu step%s%s",
             best >= c->ncand ? (combos[best - c->ncand].median ? "median of " : "mean of ")
                              : "lowest backtest ",
             members, best >= c->ncand ? ": " : "", mname, s->score[best], s->plan.k,
             s->plan.k == 1 ? "" : "s", s->plan.h, s->plan.h == 1 ? "" : "s", runner);
}

/* Fits the selection's winner on y[0..n), falling back to the next candidates that fit, then
 * to Theta and naive when nothing could be backtested. Writes the column label actually used
 * to choice and appends any fallback to reason. */
static tsl_err fit_choice(const run_ctx *c, const selection *s, const double *y, size_t n,
                          tsl_model **model, char *choice, size_t ccap, char *reason, size_t rcap,
                          tsl_diag *d) {
    size_t ncols = c->res->ncols;
    tsl_err rc = TSL_EINTERNAL;
    *model = NULL;
    if (s->best < ncols) {
        rc = fit_column(c, s->best, s->order, y, n, model, d);
        if (!rc) tsl_strlcpy(choice, c->res->col_names[s->best], ccap);
    }
    for (size_t i = 0; rc && s->best < ncols && i < s->nok; i++) {
        rc = tsl_model_fit(&c->cands[s->order[i]], y, n, model, d);
        if (!rc) {
            tsl_strlcpy(choice, c->res->col_names[s->order[i]], ccap);
            size_t len = strlen(reason);
            snprintf(reason + len, rcap - len, "; the winner failed to refit, took %s", choice);
        }
    }
    if (rc) {
        /* No backtest to go by: Theta (robust on short series) if it fits, else naive. */
        tsl_model_spec spec;
        tsl_model_spec_init(&spec, TSL_MODEL_THETA, c->o->period);
        const char *took = "theta";
        rc = tsl_model_fit(&spec, y, n, model, d);
        if (rc) {
            rc = fit_fallback(c, y, n, model, d);
            took = "naive";
        }
        if (!rc) {
            tsl_strlcpy(choice, took, ccap);
            size_t len = strlen(reason);
            snprintf(reason + len, rcap - len, ": %s by default", took);
        }
    }
    return rc;
}

/* The nested evaluation of AutoML on one series: at each origin of the outer plan, select on
 * the data before it, forecast, and score against what followed. */
static void evaluate_auto(const run_ctx *c, const double *y, size_t n, const tsl_bt_plan *outer,
                          tsl_bt_result *out) {
    const tsl_automl_opts *o = c->o;
    size_t ncols = c->res->ncols, h = outer->h, cols = 1 + o->nq;
    memset(out, 0, sizeof *out);
    out->k = outer->k;
    out->h = h;
    out->nq = o->nq;
    if (outer->k == 0) return;
    assert(outer->origin[outer->k - 1] + h <= n);
    (void)n;
    out->fc = tsl_reallocarray(NULL, outer->k * h * cols, sizeof *out->fc);
    double *mean = tsl_malloc(h * sizeof *mean);
    double *q = tsl_reallocarray(NULL, h * (o->nq ? o->nq : 1), sizeof *q);
    double t0 = wall_seconds();
    out->ok = 1;
    for (size_t w = 0; w < outer->k && out->ok; w++) {
        size_t origin = outer->origin[w];
        selection s;
        selection_init(&s, ncols, c->ncand);
        select_column(c, y, origin, h, &s);
        tsl_model *m = NULL;
        char choice[64], reason[8] = "";
        tsl_err rc =
            fit_choice(c, &s, y, origin, &m, choice, sizeof choice, reason, sizeof reason, NULL);
        if (!rc) rc = tsl_model_forecast(m, h, o->levels, o->nq, mean, q, NULL);
        tsl_model_free(m);
        selection_release(&s, ncols);
        if (rc) {
            out->ok = 0;
            break;
        }
        double *fc = out->fc + w * h * cols;
        for (size_t st = 0; st < h; st++) {
            fc[st * cols] = mean[st];
            for (size_t j = 0; j < o->nq; j++) fc[st * cols + 1 + j] = q[st * o->nq + j];
        }
        if (tsl_acc_add(&out->acc[w], y + origin, mean, q, o->levels, o->nq, h, NULL)) out->ok = 0;
        out->scale[w] = tsl_mase_scale(y, origin, o->period);
    }
    out->fit_seconds = wall_seconds() - t0;
    tsl_free(mean);
    tsl_free(q);
}

/*
 * Calibration. A model's own prediction intervals are often too narrow (parameter uncertainty
 * and model choice are not in them; Theta's 80% band covers ~65% on M1). For each column, level
 * and horizon step we want the factor lambda such that mean + lambda * (q - mean) is a true
 * quantile. On every backtest point of the column, r = (y - mean) / (q - mean) is the lambda
 * that would have put the quantile exactly on the actual; for an upper level tau, lambda is the
 * tau-quantile of r, for a lower level the (1 - tau)-quantile (q - mean is negative there).
 *
 * r is pooled over all series where the column backtested, not only where it was chosen, so the
 * selection does not bias it. Histograms with log-spaced bins keep memory bounded whatever the
 * data size, and are merged across workers, so the result does not depend on threads. Steps are
 * grouped into buckets (1..8 singly, then doubling: 9-16, 17-32, ...). A bucket's lambda is
 * shrunk toward the column's pooled lambda, and that toward 1, with the weight of CAL_PRIOR
 * points, so thin data changes little. Levels within 0.1 of the median are left alone: their
 * distance from the mean is tiny and r explodes.
 */
#define CAL_BINS      256
#define CAL_LOG_MIN   (-3.0)
#define CAL_LOG_MAX   3.0
#define CAL_PRIOR     50.0
#define CAL_MIN_SCALE 0.25
#define CAL_MAX_SCALE 20.0

static size_t cal_bucket(size_t step) {
    if (step < 8) return step;
    size_t b = 8, limit = 16;
    while (step >= limit) {
        b++;
        limit *= 2;
    }
    return b;
}

/* Bin 0 holds r <= 0, bins 1..CAL_BINS-2 log-spaced positives, the last bin r > 10^3. */
static size_t cal_bin(double r) {
    if (!(r > 0)) return 0;
    double x = (log10(r) - CAL_LOG_MIN) / (CAL_LOG_MAX - CAL_LOG_MIN) * (CAL_BINS - 2);
    if (x < 0) return 1;
    if (x >= CAL_BINS - 2) return CAL_BINS - 1;
    return 1 + (size_t)x;
}

static double cal_bin_low(size_t b) {
    return pow(10.0, CAL_LOG_MIN + (CAL_LOG_MAX - CAL_LOG_MIN) * (double)(b - 1) / (CAL_BINS - 2));
}

/* The p-quantile of a histogram (geometric interpolation inside a bin); NaN when empty. */
static double cal_quantile(const uint32_t *hist, double p, double *count) {
    double n = 0;
    for (size_t b = 0; b < CAL_BINS; b++) n += hist[b];
    *count = n;
    if (n == 0) return NAN;
    double target = p * n, acc = 0;
    for (size_t b = 0; b < CAL_BINS; b++) {
        if (acc + hist[b] < target) {
            acc += hist[b];
            continue;
        }
        if (b == 0) return CAL_MIN_SCALE;
        if (b == CAL_BINS - 1) return CAL_MAX_SCALE;
        double frac = hist[b] ? (target - acc) / hist[b] : 0.5;
        double lo = cal_bin_low(b), hi = cal_bin_low(b + 1);
        return lo * pow(hi / lo, frac);
    }
    return CAL_MAX_SCALE;
}

/* Adds the backtest points of one column to its histograms [bucket][level][bin]. */
static void cal_add(uint32_t *hist, size_t nb, const tsl_bt_result *bt, const double *y,
                    const tsl_bt_plan *plan, const double *levels, size_t nq) {
    size_t cols = 1 + nq;
    for (size_t w = 0; w < bt->k; w++) {
        for (size_t st = 0; st < bt->h; st++) {
            double actual = y[plan->origin[w] + st];
            const double *row = bt->fc + (w * bt->h + st) * cols;
            size_t b = cal_bucket(st);
            if (isnan(actual) || b >= nb) continue;
            for (size_t j = 0; j < nq; j++) {
                if (fabs(levels[j] - 0.5) < 0.1) continue;
                double off = row[1 + j] - row[0];
                if (!(fabs(off) > 1e-12 * (fabs(row[0]) + 1e-300))) continue;
                hist[(b * nq + j) * CAL_BINS + cal_bin((actual - row[0]) / off)]++;
            }
        }
    }
}

/* Turns merged histograms into the shrunk scale table of one column. */
static void cal_scales(const uint32_t *hist, size_t nb, const double *levels, size_t nq,
                       double *scale) {
    uint32_t *pooled = tsl_calloc(CAL_BINS, sizeof *pooled);
    for (size_t j = 0; j < nq; j++) {
        double p = levels[j] > 0.5 ? levels[j] : 1.0 - levels[j];
        if (fabs(levels[j] - 0.5) < 0.1) {
            for (size_t b = 0; b < nb; b++) scale[b * nq + j] = 1.0;
            continue;
        }
        memset(pooled, 0, CAL_BINS * sizeof *pooled);
        for (size_t b = 0; b < nb; b++)
            for (size_t k = 0; k < CAL_BINS; k++) pooled[k] += hist[(b * nq + j) * CAL_BINS + k];
        double npool, lp = cal_quantile(pooled, p, &npool);
        lp = npool > 0 ? (npool * lp + CAL_PRIOR) / (npool + CAL_PRIOR) : 1.0;
        for (size_t b = 0; b < nb; b++) {
            double nbk, lb = cal_quantile(hist + (b * nq + j) * CAL_BINS, p, &nbk);
            double v = nbk > 0 ? (nbk * lb + CAL_PRIOR * lp) / (nbk + CAL_PRIOR) : lp;
            scale[b * nq + j] = fmin(CAL_MAX_SCALE, fmax(CAL_MIN_SCALE, v));
        }
    }
    tsl_free(pooled);
}

static void run_series(void *arg, size_t idx, int worker) {
    run_ctx *c = arg;
    const tsl_automl_opts *o = c->o;
    tsl_automl_result *res = c->res;
    tsl_automl_series *sr = &res->series[idx];
    size_t ncols = res->ncols;
    tsl_model *model = NULL;
    tsl_diag d = {0};
    selection s;
    selection_init(&s, ncols, c->ncand);

    const double *y = c->series[idx].y;
    size_t n = c->series[idx].n;
    while (n > 0 && isnan(y[0])) y++, n--;
    sr->nobs = n;
    sr->auto_score = NAN;
    for (size_t j = 0; j < ncols; j++) sr->scores[j] = NAN;
    if (n == 0) {
        sr->err = TSL_ESHORT;
        tsl_strlcpy(sr->error, "the series has no observed value", sizeof sr->error);
        goto out;
    }
    if (c->ncand == 1 && o->forecast && !o->evaluate_auto) {
        /* One candidate and nothing to combine it with: backtests could not change the
         * choice, so skip them. */
        for (size_t j = 0; j < ncols; j++) s.score[j] = NAN;
        s.order[0] = 0;
        s.nok = 1;
        s.best = 0;
        tsl_strlcpy(sr->choice, res->col_names[0], sizeof sr->choice);
        tsl_strlcpy(sr->reason, "the only candidate", sizeof sr->reason);
        goto refit;
    }
    select_column(c, y, n, o->horizon, &s);
    sr->plan = s.plan;
    memcpy(sr->scores, s.score, ncols * sizeof *s.score);
    for (size_t j = 0; j < ncols; j++) {
        if (isnan(s.score[j])) continue;
        if (c->worker_hist) {
            size_t cell = c->nbuckets * o->nq * CAL_BINS;
            cal_add(c->worker_hist + ((size_t)worker * ncols + j) * cell, c->nbuckets, &s.bt[j], y,
                    &s.plan, o->levels, o->nq);
        }
        tsl_bt_agg_add(&c->worker_agg[(size_t)worker * ncols + j], &s.bt[j], NULL);
        c->worker_seconds[(size_t)worker * ncols + j] += s.bt[j].fit_seconds;
        c->worker_ok[(size_t)worker * ncols + j]++;
    }
    explain(c, &s, n, sr->reason, sizeof sr->reason);
    if (s.best < ncols) tsl_strlcpy(sr->choice, res->col_names[s.best], sizeof sr->choice);
    if (o->evaluate_auto) {
        tsl_bt_result ev;
        evaluate_auto(c, y, n, &s.plan, &ev);
        if (ev.ok) {
            sr->auto_score = tsl_bt_score(&ev, s.metric);
            tsl_bt_agg_add(&c->worker_auto[worker], &ev, NULL);
            c->worker_auto_n[worker]++;
        }
        c->worker_auto_seconds[worker] += ev.fit_seconds;
        tsl_bt_result_release(&ev);
    }
    if (!o->forecast) goto out;

refit:;
    tsl_err rc = fit_choice(c, &s, y, n, &model, sr->choice, sizeof sr->choice, sr->reason,
                            sizeof sr->reason, &d);
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
        for (size_t st = 0; st < o->horizon; st++) sr->mean[st] = NAN;
    tsl_model_free(model);
    selection_release(&s, ncols);
    if (o->progress) {
        pthread_mutex_lock(&c->progress_mu);
        c->done++;
        o->progress(o->progress_ctx, c->done, res->nseries);
        pthread_mutex_unlock(&c->progress_mu);
    }
}

/* Phase two of a run: merge the workers' histograms into per-column scale tables, then scale
 * every series' forecast quantiles (and its kept model) by its column's table. */
static void calibrate(run_ctx *c, size_t nw) {
    tsl_automl_result *res = c->res;
    const tsl_automl_opts *o = c->o;
    size_t nb = c->nbuckets, nq = o->nq, cell = nb * nq * CAL_BINS;
    res->nbuckets = nb;
    res->bucket_start = tsl_calloc(nb + 1, sizeof *res->bucket_start);
    for (size_t st = 0, b = 0; st < o->horizon; st++)
        if (cal_bucket(st) == b) res->bucket_start[b++] = st;
    res->bucket_start[nb] = o->horizon;
    res->col_scale = tsl_calloc(res->ncols * nb * nq, sizeof *res->col_scale);
    for (size_t j = 0; j < res->ncols; j++) {
        uint32_t *h = c->worker_hist + j * cell; /* worker 0's cells collect the sums */
        for (size_t w = 1; w < nw; w++)
            for (size_t k = 0; k < cell; k++)
                h[k] += c->worker_hist[(w * res->ncols + j) * cell + k];
        cal_scales(h, nb, o->levels, nq, res->col_scale + j * nb * nq);
    }
    double *table = tsl_reallocarray(NULL, o->horizon * nq, sizeof *table);
    for (size_t i = 0; i < res->nseries; i++) {
        tsl_automl_series *sr = &res->series[i];
        if (sr->err || !sr->mean) continue;
        size_t col = res->ncols;
        for (size_t j = 0; j < res->ncols; j++)
            if (!strcmp(res->col_names[j], sr->choice)) col = j;
        if (col == res->ncols || !res->col_series[col]) continue;
        const double *sc = res->col_scale + col * nb * nq;
        for (size_t st = 0; st < o->horizon; st++)
            for (size_t q = 0; q < nq; q++) {
                double lambda = sc[cal_bucket(st) * nq + q];
                table[st * nq + q] = lambda;
                double *v = &sr->quant[st * nq + q];
                *v = sr->mean[st] + lambda * (*v - sr->mean[st]);
            }
        if (sr->model)
            tsl_model_set_interval_scale(sr->model, o->horizon, o->levels, nq, table, NULL);
    }
    tsl_free(table);
}

tsl_err tsl_automl_run(const tsl_ts *series, size_t nseries, const tsl_automl_opts *o,
                       tsl_automl_result **out, tsl_diag *d) {
    tsl_model_spec defaults[MAX_CANDIDATES];
    int flags[MAX_CANDIDATES] = {0};
    tsl_automl_result *res = NULL;
    tsl_pool *pool = NULL;
    run_ctx c;
    memset(&c, 0, sizeof c);
    *out = NULL;
    if (o->horizon < 1 || o->horizon > 100000)
        return tsl_diag_set(d, TSL_EINVAL, "horizon %zu out of range 1..100000", o->horizon);
    if (o->period < 1) return tsl_diag_set(d, TSL_EINVAL, "seasonal period must be >= 1");
    tsl_err lrc = tsl_quantile_levels_check(o->levels, o->nq, TSL_METRICS_MAX_LEVELS, d);
    if (lrc) return lrc;
    if (o->windows > TSL_BT_MAX_WINDOWS)
        return tsl_diag_set(d, TSL_EINVAL, "at most %d backtest windows", TSL_BT_MAX_WINDOWS);
    if (o->candidates) {
        if (o->ncandidates < 1 || o->ncandidates > MAX_CANDIDATES)
            return tsl_diag_set(d, TSL_EINVAL, "1..%d candidates, got %zu", MAX_CANDIDATES,
                                o->ncandidates);
        c.cands = o->candidates;
        c.ncand = o->ncandidates;
    } else {
        c.ncand = default_candidates(o->period, defaults, flags, MAX_CANDIDATES);
        c.cands = defaults;
    }
    c.intermittent_only = flags;
    tsl_automl_opts opts = *o;
    if (opts.windows == 0) opts.windows = 3;

    res = tsl_calloc(1, sizeof *res);
    res->nseries = nseries;
    res->horizon = opts.horizon;
    res->nq = opts.nq;
    if (opts.nq) memcpy(res->levels, opts.levels, opts.nq * sizeof *opts.levels);
    res->metric = opts.metric;
    res->ncols = c.ncand + (opts.ensembles ? NCOMBOS : 0);
    res->col_names = tsl_calloc(res->ncols, sizeof *res->col_names);
    for (size_t j = 0; j < c.ncand; j++)
        tsl_model_spec_format(&c.cands[j], res->col_names[j], sizeof res->col_names[j]);
    for (size_t k = 0; c.ncand + k < res->ncols; k++)
        tsl_strlcpy(res->col_names[c.ncand + k], combos[k].name, sizeof res->col_names[0]);
    res->col_agg = tsl_calloc(res->ncols, sizeof *res->col_agg);
    res->col_seconds = tsl_calloc(res->ncols, sizeof *res->col_seconds);
    res->col_chosen = tsl_calloc(res->ncols, sizeof *res->col_chosen);
    res->col_series = tsl_calloc(res->ncols, sizeof *res->col_series);
    res->series = tsl_calloc(nseries ? nseries : 1, sizeof *res->series);
    for (size_t i = 0; i < nseries; i++) {
        tsl_automl_series *sr = &res->series[i];
        sr->scores = tsl_calloc(res->ncols, sizeof *sr->scores);
        if (opts.forecast) {
            sr->mean = tsl_calloc(opts.horizon, sizeof *sr->mean);
            sr->quant =
                tsl_reallocarray(NULL, opts.horizon * (opts.nq ? opts.nq : 1), sizeof *sr->quant);
        }
    }

    pool = tsl_pool_new(opts.threads);
    size_t nw = (size_t)tsl_pool_size(pool);
    c.series = series;
    c.o = &opts;
    c.res = res;
    c.worker_agg = tsl_calloc(nw * res->ncols, sizeof *c.worker_agg);
    c.worker_seconds = tsl_calloc(nw * res->ncols, sizeof *c.worker_seconds);
    c.worker_ok = tsl_calloc(nw * res->ncols, sizeof *c.worker_ok);
    c.worker_auto = tsl_calloc(nw, sizeof *c.worker_auto);
    c.worker_auto_n = tsl_calloc(nw, sizeof *c.worker_auto_n);
    c.worker_auto_seconds = tsl_calloc(nw, sizeof *c.worker_auto_seconds);
    if (opts.calibrate && opts.nq > 0) {
        c.nbuckets = cal_bucket(opts.horizon - 1) + 1;
        c.worker_hist =
            tsl_calloc(nw * res->ncols * c.nbuckets * opts.nq * CAL_BINS, sizeof *c.worker_hist);
    }
    pthread_mutex_init(&c.progress_mu, NULL);
    double t0 = wall_seconds();
    tsl_pool_run(pool, nseries, run_series, &c);
    res->seconds = wall_seconds() - t0;
    pthread_mutex_destroy(&c.progress_mu);
    for (size_t w = 0; w < nw; w++)
        for (size_t j = 0; j < res->ncols; j++) {
            tsl_agg_merge(&res->col_agg[j], &c.worker_agg[w * res->ncols + j], NULL);
            res->col_seconds[j] += c.worker_seconds[w * res->ncols + j];
            res->col_series[j] += c.worker_ok[w * res->ncols + j];
        }
    for (size_t w = 0; w < nw; w++) {
        tsl_agg_merge(&res->auto_agg, &c.worker_auto[w], NULL);
        res->auto_series += c.worker_auto_n[w];
        res->auto_seconds += c.worker_auto_seconds[w];
    }
    for (size_t i = 0; i < nseries; i++)
        for (size_t j = 0; j < res->ncols; j++)
            if (!strcmp(res->series[i].choice, res->col_names[j])) res->col_chosen[j]++;
    if (c.worker_hist) calibrate(&c, nw);
    tsl_free(c.worker_agg);
    tsl_free(c.worker_seconds);
    tsl_free(c.worker_ok);
    tsl_free(c.worker_hist);
    tsl_free(c.worker_auto);
    tsl_free(c.worker_auto_n);
    tsl_free(c.worker_auto_seconds);
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
    tsl_free(r->bucket_start);
    tsl_free(r->col_scale);
    tsl_free(r);
}
