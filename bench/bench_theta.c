/*
 * bench_theta.c - times tsloop's Theta, OTM and DOTM fits on the M1 competition series, single
 * threaded, and optionally writes the forecasts for comparison with R (bench/bench_theta.R).
 *
 *     build/bench/bench_theta [--model theta|otm|dotm] [--data DIR] [--reps N] [--out FILE]
 *
 * DIR holds m1_train.csv (item_id,timestamp,target, rows of a series together and in time
 * order) and m1_meta.csv (item_id,period,type,h,season_length,n_train); it defaults to
 * $TSL_SHARED_DATA, then ../shared/data. Each repetition fits every series and forecasts its
 * competition horizon with the 80% and 95% intervals, as thetaf(y, h) computes them; the best
 * repetition is reported (the machine is shared). --out writes
 * item_id,step,mean,lo80,hi80,lo95,hi95 from the last repetition.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tsloop/mem.h"
#include "tsloop/model.h"

typedef struct series {
    char id[32];
    int period, h;
    size_t n, cap;
    double *y;
} series;

typedef struct dataset {
    series *s;
    size_t n, cap;
} dataset;

static series *find(dataset *ds, const char *id) {
    for (size_t i = ds->n; i-- > 0;)
        if (!strcmp(ds->s[i].id, id)) return &ds->s[i];
    return NULL;
}

/* Splits line at commas into at most max fields (in place); returns the count. */
static size_t fields(char *line, char **f, size_t max) {
    size_t k = 0;
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

static int read_data(const char *dir, dataset *ds) {
    char path[4096], line[4096];
    char *f[8];
    snprintf(path, sizeof path, "%s/m1_meta.csv", dir);
    FILE *fp = fopen(path, "r");
    if (!fp) {
        fprintf(stderr, "bench_theta: cannot open %s\n", path);
        return -1;
    }
    if (!fgets(line, sizeof line, fp)) line[0] = '\0';
    while (fgets(line, sizeof line, fp)) {
        if (fields(line, f, 8) < 6) continue;
        if (ds->n == ds->cap)
            ds->s = tsl_reallocarray(ds->s, ds->cap = ds->cap ? 2 * ds->cap : 1024, sizeof *ds->s);
        series *s = &ds->s[ds->n++];
        memset(s, 0, sizeof *s);
        snprintf(s->id, sizeof s->id, "%s", f[0]);
        s->h = (int)strtol(f[3], NULL, 10);
        if (s->h < 1 || s->h > 64) s->h = 64; /* the buffers below; M1 uses 6, 8, 18 */
        s->period = (int)strtol(f[4], NULL, 10);
    }
    fclose(fp);
    snprintf(path, sizeof path, "%s/m1_train.csv", dir);
    fp = fopen(path, "r");
    if (!fp) {
        fprintf(stderr, "bench_theta: cannot open %s\n", path);
        return -1;
    }
    if (!fgets(line, sizeof line, fp)) line[0] = '\0';
    series *cur = NULL;
    while (fgets(line, sizeof line, fp)) {
        if (fields(line, f, 8) < 3) continue;
        if (!cur || strcmp(cur->id, f[0])) cur = find(ds, f[0]);
        if (!cur) continue;
        if (cur->n == cur->cap)
            cur->y =
                tsl_reallocarray(cur->y, cur->cap = cur->cap ? 2 * cur->cap : 64, sizeof *cur->y);
        char *end;
        double v = strtod(f[2], &end);
        cur->y[cur->n++] = end == f[2] ? NAN : v;
    }
    fclose(fp);
    return 0;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    const char *dir = getenv("TSL_SHARED_DATA");
    const char *model = "theta", *outpath = NULL;
    long reps = 5;
    if (!dir) dir = "../shared/data";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc) {
            model = argv[++i];
        } else if (!strcmp(argv[i], "--data") && i + 1 < argc) {
            dir = argv[++i];
        } else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
            reps = strtol(argv[++i], NULL, 10);
            if (reps < 1) reps = 1;
        } else if (!strcmp(argv[i], "--out") && i + 1 < argc) {
            outpath = argv[++i];
        } else {
            fprintf(stderr, "usage: bench_theta [--model theta|otm|dotm] [--data DIR] [--reps N] "
                            "[--out FILE]\n");
            return 2;
        }
    }
    dataset ds = {0};
    if (read_data(dir, &ds)) return 1;
    const double levels[4] = {0.025, 0.1, 0.9, 0.975};
    double mean[64], quant[256];
    double best = 1e300;
    size_t failed = 0;
    for (long r = 0; r < reps; r++) {
        failed = 0;
        double t0 = now();
        for (size_t i = 0; i < ds.n; i++) {
            series *s = &ds.s[i];
            tsl_model_spec spec;
            tsl_model *m = NULL;
            if (tsl_model_spec_parse(model, s->period, &spec, NULL) ||
                tsl_model_fit(&spec, s->y, s->n, &m, NULL) ||
                tsl_model_forecast(m, (size_t)s->h, levels, 4, mean, quant, NULL))
                failed++;
            tsl_model_free(m);
        }
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    printf("%s: %zu series, %zu failed, best of %ld: %.3f ms total, %.1f us per series\n", model,
           ds.n, failed, reps, best * 1e3, best * 1e6 / (double)ds.n);
    if (outpath) {
        FILE *out = fopen(outpath, "w");
        if (!out) {
            fprintf(stderr, "bench_theta: cannot write %s\n", outpath);
            return 1;
        }
        fprintf(out, "item_id,step,mean,lo80,hi80,lo95,hi95\n");
        for (size_t i = 0; i < ds.n; i++) {
            series *s = &ds.s[i];
            tsl_model_spec spec;
            tsl_model *m = NULL;
            tsl_diag d = {0};
            if (tsl_model_spec_parse(model, s->period, &spec, &d) ||
                tsl_model_fit(&spec, s->y, s->n, &m, &d) ||
                tsl_model_forecast(m, (size_t)s->h, levels, 4, mean, quant, &d)) {
                fprintf(stderr, "%s: %s\n", s->id, tsl_diag_msg(&d));
                tsl_model_free(m);
                continue;
            }
            for (int k = 0; k < s->h; k++)
                fprintf(out, "%s,%d,%.17g,%.17g,%.17g,%.17g,%.17g\n", s->id, k + 1, mean[k],
                        quant[4 * k + 1], quant[4 * k + 2], quant[4 * k], quant[4 * k + 3]);
            tsl_model_free(m);
        }
        fclose(out);
    }
    for (size_t i = 0; i < ds.n; i++) tsl_free(ds.s[i].y);
    tsl_free(ds.s);
    return failed ? 1 : 0;
}
