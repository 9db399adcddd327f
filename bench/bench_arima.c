/*
 * bench_arima.c - automatic ARIMA on every series of a benchmark set, single-threaded: fit
 * time, accuracy on the test values, and a comparison with R's auto.arima() on the same series
 * when bench/bench_arima.R's output is given.
 *
 *   build/bench/bench_arima [DATA_DIR] [SET] [R_CSV] [OUT_CSV]
 *
 * DATA_DIR holds SET_train.csv, SET_test.csv and SET_meta.csv (default ../shared/data; SET m1
 * or m4weekly, default m1). R_CSV is what `Rscript bench/bench_arima.R DATA_DIR SET R_CSV`
 * wrote (or several such files concatenated: the rows are per series, and a partial file from
 * a run still going is fine); with it the program reports, over the series R finished, R's
 * total CPU time, the speed ratio, how often both chose the same model, how the AICc of our
 * choice compares with R's where they differ (refitting R's model with our estimator, since an
 * AICc is only comparable at the same differences), and the accuracy of both. Accuracy is scored as
 * bench/score.py does: sMAPE and MASE (scaled by the in-sample seasonal naive error) averaged over
 * series, and the coverage of the 80% interval. OUT_CSV (optional) receives per-series results.
 * Environment: BENCH_ONLY=PERIOD fits only the series of that seasonal period; BENCH_REPEAT=K fits
 * each series K times (steadier timings of small sets; the per-series times then cover all K fits);
 * BENCH_EXHAUSTIVE=1 searches exhaustively (R's stepwise = FALSE; compare with an R run of the
 * same).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forecast/arima.h"
#include "forecast/model_impl.h"
#include "tsloop/mem.h"
#include "tsloop/model.h"

#define MAX_SERIES 4096
#define MAX_H      64

typedef struct series {
    char id[32];
    int period, h;
    double *y, *test;
    size_t n, ntest;
    /* ours */
    int ord[7]; /* p d q P D Q constant */
    double aicc, secs, fc[MAX_H], lo[MAX_H], hi[MAX_H];
    int ok;
    /* R's */
    int have_r;
    int rord[7];
    double raicc, rsecs, rfc[MAX_H], rlo[MAX_H], rhi[MAX_H];
    double refit_aicc; /* ours on R's orders */
} series;

static series S[MAX_SERIES];
static size_t nseries;

/* CPU seconds of this process: the machine may be shared, and R's side is measured the same
 * way (proc.time()'s user + system). */
static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static FILE *open_in(const char *dir, const char *set, const char *what) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s_%s.csv", dir, set, what);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "bench_arima: cannot open %s\n", path);
        exit(1);
    }
    return f;
}

static series *find(const char *id) {
    static size_t last;
    if (last < nseries && !strcmp(S[last].id, id)) return &S[last];
    for (size_t i = 0; i < nseries; i++)
        if (!strcmp(S[i].id, id)) return &S[last = i];
    return NULL;
}

/* Splits line at commas into at most max fields; returns the count. */
static int split(char *line, char **f, int max) {
    int k = 0;
    line[strcspn(line, "\r\n")] = '\0';
    for (char *p = line; k < max;) {
        f[k++] = p;
        char *c = strchr(p, ',');
        if (!c) break;
        *c = '\0';
        p = c + 1;
    }
    return k;
}

static long to_long(const char *s) {
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (end == s) {
        fprintf(stderr, "bench_arima: not an integer: '%s'\n", s);
        exit(1);
    }
    return v;
}

static void read_meta(const char *dir, const char *set) {
    FILE *f = open_in(dir, set, "meta");
    char line[1024], *fl[8];
    if (!fgets(line, sizeof line, f)) exit(1);
    while (fgets(line, sizeof line, f) && nseries < MAX_SERIES) {
        if (split(line, fl, 8) < 6) continue;
        series *s = &S[nseries++];
        snprintf(s->id, sizeof s->id, "%s", fl[0]);
        s->h = (int)to_long(fl[3]);
        s->period = (int)to_long(fl[4]);
        if (s->h > MAX_H) s->h = MAX_H;
    }
    fclose(f);
}

static void read_values(const char *dir, const char *set, int test) {
    FILE *f = open_in(dir, set, test ? "test" : "train");
    char line[1024], *fl[4];
    if (!fgets(line, sizeof line, f)) exit(1);
    while (fgets(line, sizeof line, f)) {
        if (split(line, fl, 4) < 3) continue;
        series *cur = find(fl[0]);
        if (!cur) continue;
        double v = strcmp(fl[2], "NA") ? strtod(fl[2], NULL) : NAN;
        double **arr = test ? &cur->test : &cur->y;
        size_t *len = test ? &cur->ntest : &cur->n;
        *arr = tsl_realloc(*arr, (*len + 1) * sizeof **arr);
        (*arr)[(*len)++] = v;
    }
    fclose(f);
}

/* Parses "a;b;c" into out[0..h). */
static void parse_list(char *p, double *out, int h) {
    for (int i = 0; i < h; i++) {
        out[i] = strtod(p, &p);
        if (*p == ';') p++;
    }
}

static void read_r(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "bench_arima: cannot open %s\n", path);
        exit(1);
    }
    char line[16384], *fl[16];
    if (!fgets(line, sizeof line, f)) exit(1);
    while (fgets(line, sizeof line, f)) {
        if (split(line, fl, 16) < 14) continue;
        series *s = find(fl[0]);
        if (!s) continue;
        s->have_r = 1;
        for (int i = 0; i < 7; i++) s->rord[i] = (int)to_long(fl[1 + i]);
        s->raicc = strcmp(fl[8], "NA") ? strtod(fl[8], NULL) : NAN;
        s->rsecs = strtod(fl[10], NULL);
        parse_list(fl[11], s->rfc, s->h);
        parse_list(fl[12], s->rlo, s->h);
        parse_list(fl[13], s->rhi, s->h);
    }
    fclose(f);
}

/* sMAPE, MASE and 80% coverage of one forecast, as bench/score.py. */
static void score(const series *s, const double *fc, const double *lo, const double *hi,
                  double *smape, double *mase, int *covered) {
    double sm = 0, ae = 0, scale = 0;
    int lag = (size_t)s->period < s->n ? s->period : 1, cnt = 0;
    size_t k = 0;
    double prev[1] = {0};
    (void)prev;
    for (size_t i = (size_t)lag; i < s->n; i++) {
        if (isnan(s->y[i]) || isnan(s->y[i - (size_t)lag])) continue;
        scale += fabs(s->y[i] - s->y[i - (size_t)lag]);
        k++;
    }
    scale /= k ? (double)k : 1.0;
    *covered = 0;
    for (int i = 0; i < s->h && (size_t)i < s->ntest; i++) {
        double a = s->test[i], f = fc[i];
        if (fabs(a) + fabs(f) > 0) sm += 200.0 * fabs(a - f) / (fabs(a) + fabs(f));
        ae += fabs(a - f);
        *covered += lo[i] <= a && a <= hi[i];
        cnt++;
    }
    *smape = cnt ? sm / cnt : 0;
    *mase = cnt && scale > 0 ? ae / cnt / scale : NAN;
}

/* "ARIMA(p,d,q)(P,D,Q)[m] with drift" -> orders. */
static void orders_of(const tsl_arima_fit *f, int *o) {
    o[0] = f->ord.p, o[1] = f->ord.d, o[2] = f->ord.q;
    o[3] = f->ord.P, o[4] = f->ord.D, o[5] = f->ord.Q, o[6] = f->constant;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "../shared/data";
    const char *set = argc > 2 ? argv[2] : "m1";
    const char *rpath = argc > 3 && argv[3][0] ? argv[3] : NULL;
    const char *opath = argc > 4 ? argv[4] : NULL;
    read_meta(dir, set);
    read_values(dir, set, 0);
    read_values(dir, set, 1);
    if (rpath) read_r(rpath);
    const char *ev = getenv("BENCH_ONLY");
    long only = ev ? to_long(ev) : 0;
    ev = getenv("BENCH_REPEAT");
    long repeat = ev ? to_long(ev) : 1;
    ev = getenv("BENCH_EXHAUSTIVE");
    int exhaustive = ev && to_long(ev) != 0;
    const double lv[2] = {0.1, 0.9};
    double total = 0;
    int failed = 0, fitted = 0;
    for (size_t i = 0; i < nseries; i++) {
        series *s = &S[i];
        if (only && s->period != only) continue;
        tsl_model_spec spec;
        tsl_model_spec_init(&spec, TSL_MODEL_ARIMA, s->period);
        spec.arima_stepwise = !exhaustive;
        tsl_model *m = NULL;
        tsl_diag d = {0};
        double t0 = now();
        tsl_err rc = TSL_OK;
        for (long rep = 0; rep < repeat; rep++) {
            tsl_model_free(m);
            m = NULL;
            rc = tsl_model_fit(&spec, s->y, s->n, &m, &d);
        }
        double q[2 * MAX_H];
        if (!rc) rc = tsl_model_forecast(m, (size_t)s->h, lv, 2, s->fc, q, &d);
        double dt = now() - t0;
        total += dt;
        s->secs = dt;
        fitted++;
        if (rc) {
            fprintf(stderr, "%s: %s\n", s->id, tsl_diag_msg(&d));
            failed++;
            tsl_model_free(m);
            continue;
        }
        for (int j = 0; j < s->h; j++) s->lo[j] = q[2 * j], s->hi[j] = q[2 * j + 1];
        const tsl_arima_fit *f = m->state;
        orders_of(f, s->ord);
        s->aicc = tsl_model_aicc(m);
        s->ok = 1;
        tsl_model_free(m);
    }
    printf("tsloop auto ARIMA on %s: %d series in %.3f s CPU (%.3f ms per series), %d failed\n",
           set, fitted, total, fitted ? 1000 * total / fitted : 0.0, failed);
    /* accuracy of ours over every series fitted; the comparison over those R also finished */
    double sm = 0, ms = 0;
    int cov = 0, pts = 0, nsm = 0, nms = 0;
    double sm_us = 0, ms_us = 0, sm_r = 0, ms_r = 0, rtotal = 0, ours_r = 0;
    int cov_us = 0, cov_r = 0, npts = 0, nr = 0, nmr = 0, same = 0, same_dd = 0;
    int worse = 0, better = 0, cmp = 0;
    double worst = 0;
    const char *worst_id = "";
    for (size_t i = 0; i < nseries; i++) {
        series *s = &S[i];
        if (!s->ok) continue;
        double a, b;
        int c;
        score(s, s->fc, s->lo, s->hi, &a, &b, &c);
        sm += a, nsm++;
        if (!isnan(b)) ms += b, nms++;
        cov += c, pts += s->h;
        if (!s->have_r) continue;
        double ra, rb;
        int rc2;
        score(s, s->rfc, s->rlo, s->rhi, &ra, &rb, &rc2);
        nr++;
        sm_us += a, sm_r += ra;
        if (!isnan(b) && !isnan(rb)) ms_us += b, ms_r += rb, nmr++;
        cov_us += c, cov_r += rc2;
        npts += s->h;
        rtotal += s->rsecs;
        ours_r += s->secs;
        int eq = 1, eqd = s->ord[1] == s->rord[1] && s->ord[4] == s->rord[4];
        for (int j = 0; j < 7; j++) eq &= s->ord[j] == s->rord[j];
        same += eq;
        same_dd += eqd;
        if (eq || !eqd) continue;
        /* same differences, another model: compare AICc with R's model refitted by us */
        tsl_arima_order o = {s->rord[0], s->rord[1], s->rord[2], s->rord[3],
                             s->rord[4], s->rord[5], s->period};
        tsl_arima_fit rf;
        if (tsl_arima_fit_order(s->y, s->n, &o, s->rord[6], TSL_ARIMA_CSS_ML, &rf, NULL)) continue;
        s->refit_aicc = rf.aicc;
        tsl_arima_fit_release(&rf);
        double diff = s->aicc - s->refit_aicc;
        cmp++;
        if (diff > 1e-3) worse++;
        if (diff < -1e-3) better++;
        if (diff > worst) worst = diff, worst_id = s->id;
    }
    printf("tsloop: sMAPE %.4f  MASE %.4f  80%% coverage %.4f  (%d series)\n", sm / nsm, ms / nms,
           (double)cov / pts, nsm);
    if (rpath && nr) {
        printf("on the %d series R finished: R %.3f s CPU, tsloop %.3f s: speed-up %.1fx\n", nr,
               rtotal, ours_r, rtotal / ours_r);
        printf("  tsloop: sMAPE %.4f  MASE %.4f  80%% coverage %.4f\n", sm_us / nr, ms_us / nmr,
               (double)cov_us / npts);
        printf("  R:      sMAPE %.4f  MASE %.4f  80%% coverage %.4f\n", sm_r / nr, ms_r / nmr,
               (double)cov_r / npts);
        printf("  same model as R: %d of %d; same differences: %d\n", same, nr, same_dd);
        printf("  same differences, another model: ours has the lower AICc on %d, higher on %d "
               "(by > 0.001) of %d; worst %+.3f (%s)\n",
               better, worse, cmp, worst, worst_id);
    }
    if (opath) {
        FILE *o = fopen(opath, "w");
        if (!o) {
            fprintf(stderr, "bench_arima: cannot write %s\n", opath);
            return 1;
        }
        fprintf(o, "item_id,p,d,q,P,D,Q,constant,aicc,seconds,r_p,r_d,r_q,r_P,r_D,r_Q,"
                   "r_constant,r_aicc,refit_aicc\n");
        for (size_t i = 0; i < nseries; i++) {
            const series *s = &S[i];
            fprintf(o, "%s", s->id);
            for (int j = 0; j < 7; j++) fprintf(o, ",%d", s->ord[j]);
            fprintf(o, ",%.10g,%.6f", s->aicc, s->secs);
            for (int j = 0; j < 7; j++) fprintf(o, ",%d", s->rord[j]);
            fprintf(o, ",%.10g,%.10g\n", s->raicc, s->refit_aicc);
        }
        fclose(o);
    }
    for (size_t i = 0; i < nseries; i++) {
        tsl_free(S[i].y);
        tsl_free(S[i].test);
    }
    return 0;
}
