/*
 * bench_ets.c - automatic ETS on every M1 series, single-threaded: fit time, and a comparison
 * with R's ets() on the same series when bench/bench_ets.R's output is given.
 *
 *   build/bench/bench_ets [DATA_DIR] [R_CSV] [OUT_CSV]
 *
 * DATA_DIR holds m1_train.csv, m1_meta.csv and m1_test.csv (default ../shared/data). R_CSV is
 * what `Rscript bench/bench_ets.R DATA_DIR R_CSV` wrote; with it the program reports R's
 * total fit time, the speed ratio, how often both chose the same form, how our maximised
 * log-likelihood compares with R's where they did, and the sMAPE of both on the test set.
 * OUT_CSV (optional) receives our per-series results and, with R_CSV, R's form and
 * log-likelihood and ours on R's form. Environment: BENCH_ONLY=PERIOD fits only the series of
 * that seasonal period; BENCH_REPEAT=K fits each series K times (steadier timings of small
 * sets; the per-series times then cover all K fits).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forecast/ets.h"
#include "forecast/model_impl.h"
#include "tsloop/mem.h"
#include "tsloop/model.h"

#define MAX_SERIES 4096
#define MAX_H      64

typedef struct series {
    char id[32];
    char type[16];
    int period, h;
    double *y, *test;
    size_t n, ntest;
    /* ours */
    char form[8];
    double loglik, aicc, secs, fc[MAX_H];
    /* R's */
    int have_r;
    char rform[8];
    double rloglik, rsecs, rfc[MAX_H];
    double refit_loglik; /* ours on R's form */
} series;

static series S[MAX_SERIES];
static size_t nseries;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static FILE *open_in(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "bench_ets: cannot open %s\n", path);
        exit(1);
    }
    return f;
}

static series *find(const char *id) {
    for (size_t i = 0; i < nseries; i++)
        if (!strcmp(S[i].id, id)) return &S[i];
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

static void read_meta(const char *dir) {
    FILE *f = open_in(dir, "m1_meta.csv");
    char line[1024], *fl[8];
    if (!fgets(line, sizeof line, f)) exit(1);
    while (fgets(line, sizeof line, f) && nseries < MAX_SERIES) {
        if (split(line, fl, 8) < 6) continue;
        series *s = &S[nseries++];
        snprintf(s->id, sizeof s->id, "%s", fl[0]);
        snprintf(s->type, sizeof s->type, "%s", fl[1]);
        s->h = (int)strtol(fl[3], NULL, 10);
        s->period = (int)strtol(fl[4], NULL, 10);
        if (s->h > MAX_H) s->h = MAX_H;
    }
    fclose(f);
}

static void read_values(const char *dir, const char *name, int test) {
    FILE *f = open_in(dir, name);
    char line[1024], *fl[4];
    series *cur = NULL;
    if (!fgets(line, sizeof line, f)) exit(1);
    while (fgets(line, sizeof line, f)) {
        if (split(line, fl, 4) < 3) continue;
        if (!cur || strcmp(cur->id, fl[0])) cur = find(fl[0]);
        if (!cur) continue;
        double v = strcmp(fl[2], "NA") ? strtod(fl[2], NULL) : NAN;
        double **arr = test ? &cur->test : &cur->y;
        size_t *len = test ? &cur->ntest : &cur->n;
        *arr = tsl_realloc(*arr, (*len + 1) * sizeof **arr);
        (*arr)[(*len)++] = v;
    }
    fclose(f);
}

static void read_r(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "bench_ets: cannot open %s\n", path);
        exit(1);
    }
    char line[8192], *fl[8];
    if (!fgets(line, sizeof line, f)) exit(1);
    while (fgets(line, sizeof line, f)) {
        if (split(line, fl, 8) < 6) continue;
        series *s = find(fl[0]);
        if (!s) continue;
        s->have_r = 1;
        snprintf(s->rform, sizeof s->rform, "%s", fl[1]);
        s->rloglik = strcmp(fl[2], "NA") ? strtod(fl[2], NULL) : NAN;
        s->rsecs = strtod(fl[4], NULL);
        char *p = fl[5];
        for (int i = 0; i < s->h; i++) {
            s->rfc[i] = strtod(p, &p);
            if (*p == ';') p++;
        }
    }
    fclose(f);
}

static double smape(const series *s, const double *fc) {
    double acc = 0;
    int k = 0;
    for (int i = 0; i < s->h && (size_t)i < s->ntest; i++) {
        double a = s->test[i], f = fc[i];
        if (fabs(a) + fabs(f) > 0) acc += 200.0 * fabs(a - f) / (fabs(a) + fabs(f));
        k++;
    }
    return k ? acc / k : 0;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "../shared/data";
    const char *rpath = argc > 2 ? argv[2] : NULL;
    const char *opath = argc > 3 ? argv[3] : NULL;
    read_meta(dir);
    read_values(dir, "m1_train.csv", 0);
    read_values(dir, "m1_test.csv", 1);
    if (rpath) read_r(rpath);

    const char *ev = getenv("BENCH_ONLY");
    long only = ev ? strtol(ev, NULL, 10) : 0;
    ev = getenv("BENCH_REPEAT");
    long repeat = ev ? strtol(ev, NULL, 10) : 1;
    double total = 0, by_type[3] = {0};
    int cnt_type[3] = {0}, failed = 0;
    for (size_t i = 0; i < nseries; i++) {
        series *s = &S[i];
        if (only && s->period != only) continue;
        tsl_model_spec spec;
        tsl_model_spec_init(&spec, TSL_MODEL_ETS, s->period);
        tsl_model *m = NULL;
        tsl_diag d = {0};
        double t0 = now();
        tsl_err rc = tsl_model_fit(&spec, s->y, s->n, &m, &d);
        for (long rep = 1; rep < repeat; rep++) {
            tsl_model_free(m);
            rc = tsl_model_fit(&spec, s->y, s->n, &m, &d);
        }
        double dt = now() - t0;
        total += dt;
        int ti = s->period == 12 ? 2 : s->period == 4 ? 1 : 0;
        by_type[ti] += dt;
        cnt_type[ti]++;
        s->secs = dt;
        if (rc) {
            fprintf(stderr, "%s: %s\n", s->id, tsl_diag_msg(&d));
            failed++;
            continue;
        }
        const char *name = tsl_model_name(m); /* "ETS(M,Ad,N)" -> "MAdN" */
        size_t k = 0;
        for (const char *p = name + 4; *p && *p != ')' && k + 1 < sizeof s->form; p++)
            if (*p != ',') s->form[k++] = *p;
        s->form[k] = '\0';
        s->aicc = tsl_model_aicc(m);
        s->loglik = ((const tsl_ets_fit *)m->state)->loglik;
        tsl_model_forecast(m, (size_t)s->h, NULL, 0, s->fc, NULL, NULL);
        tsl_model_free(m);
    }
    printf("tsloop ETS: %zu series in %.3f s (%.3f ms per series; yearly %.3f, quarterly %.3f, "
           "monthly %.3f ms), %d failed\n",
           (size_t)(cnt_type[0] + cnt_type[1] + cnt_type[2]), total,
           1000 * total / (double)(cnt_type[0] + cnt_type[1] + cnt_type[2]),
           cnt_type[0] ? 1000 * by_type[0] / cnt_type[0] : 0.0,
           cnt_type[1] ? 1000 * by_type[1] / cnt_type[1] : 0.0,
           cnt_type[2] ? 1000 * by_type[2] / cnt_type[2] : 0.0, failed);

    if (rpath) {
        double rtotal = 0, rtype[3] = {0}, sm_us = 0, sm_r = 0;
        int same = 0, nr = 0;
        for (size_t i = 0; i < nseries; i++) {
            series *s = &S[i];
            if (!s->have_r) continue;
            nr++;
            rtotal += s->rsecs;
            rtype[s->period == 12 ? 2 : s->period == 4 ? 1 : 0] += s->rsecs;
            same += !strcmp(s->form, s->rform);
            sm_us += smape(s, s->fc);
            sm_r += smape(s, s->rfc);
        }
        printf("R ets(): %.3f s; speed-up %.1fx (yearly %.1fx, quarterly %.1fx, monthly %.1fx)\n",
               rtotal, rtotal / total, rtype[0] / by_type[0], rtype[1] / by_type[1],
               rtype[2] / by_type[2]);
        printf("same form as R: %d of %d; sMAPE ours %.3f, R %.3f\n", same, nr, sm_us / nr,
               sm_r / nr);
        /* Our optimiser against R's on R's chosen form: refit it and compare log-likelihoods. */
        int worse = 0, better = 0, cmp = 0;
        double worst = 0, sumdiff = 0;
        const char *worst_id = "";
        for (size_t i = 0; i < nseries; i++) {
            series *s = &S[i];
            if (!s->have_r || isnan(s->rloglik)) continue;
            const char *p = s->rform;
            tsl_ets_form f = {0};
            f.error = *p == 'M' ? TSL_ETS_MUL : TSL_ETS_ADD;
            p++;
            f.trend = *p == 'A' ? TSL_ETS_ADD : *p == 'M' ? TSL_ETS_MUL : TSL_ETS_NONE;
            p++;
            if (*p == 'd') f.damped = 1, p++;
            f.season = *p == 'A' ? TSL_ETS_ADD : *p == 'M' ? TSL_ETS_MUL : TSL_ETS_NONE;
            tsl_ets_fit fit;
            if (tsl_ets_fit_form(s->y, s->n, s->period, &f, &fit, NULL)) continue;
            double diff = fit.loglik - s->rloglik;
            s->refit_loglik = fit.loglik;
            cmp++;
            sumdiff += diff;
            if (diff < -0.01) worse++;
            if (diff > 0.01) better++;
            if (diff < worst) worst = diff, worst_id = s->id;
        }
        printf("R's form refitted: loglik better than R's on %d, worse on %d (by > 0.01) of %d; "
               "mean diff %+.3f, worst %+.3f (%s)\n",
               better, worse, cmp, sumdiff / cmp, worst, worst_id);
    }
    if (opath) {
        FILE *o = fopen(opath, "w");
        if (!o) {
            fprintf(stderr, "bench_ets: cannot write %s\n", opath);
            return 1;
        }
        fprintf(o, "item_id,form,loglik,aicc,seconds,r_form,r_loglik,refit_loglik\n");
        for (size_t i = 0; i < nseries; i++)
            fprintf(o, "%s,%s,%.10g,%.10g,%.6f,%s,%.10g,%.10g\n", S[i].id, S[i].form, S[i].loglik,
                    S[i].aicc, S[i].secs, S[i].have_r ? S[i].rform : "", S[i].rloglik,
                    S[i].refit_loglik);
        fclose(o);
    }
    for (size_t i = 0; i < nseries; i++) {
        tsl_free(S[i].y);
        tsl_free(S[i].test);
    }
    return 0;
}
