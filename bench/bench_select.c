/*
 * bench_select.c - dumps every candidate's rolling-origin forecasts on a data set, so that
 * selection rules can be studied offline (bench/select_rules.py) without refitting anything.
 *
 * For each series: a backtest plan of W windows (default 6) at the end of the series, every
 * candidate fitted before each origin and forecast h steps. Output CSV, one row per (series,
 * window, step): item, window, origin, step, actual, the window's MASE scale, then each candidate's
 * mean forecast. Use on training data only: the rules must be chosen without the test set.
 *
 * usage: bench_select DATA.csv HORIZON PERIOD OUT.csv [--windows W] [--models LIST] [--threads N]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsloop/backtest.h"
#include "tsloop/dataset.h"
#include "tsloop/mem.h"
#include "tsloop/metrics.h"
#include "tsloop/model.h"
#include "tsloop/output.h"
#include "tsloop/pool.h"

typedef struct job {
    const tsl_dataset *ds;
    const tsl_model_spec *cands;
    size_t ncand, horizon, windows;
    int period;
    tsl_wbuf *out; /* one per series */
} job;

static void run(void *arg, size_t i, int worker) {
    (void)worker;
    job *j = arg;
    const tsl_series *s = &j->ds->series[i];
    const double *y = s->y;
    size_t n = s->n;
    while (n && isnan(y[0])) y++, n--;
    tsl_bt_plan plan;
    tsl_bt_plan_make(n, j->horizon, j->windows, j->period, &plan);
    if (plan.k == 0) return;
    tsl_bt_result *r = tsl_calloc(j->ncand, sizeof *r);
    for (size_t c = 0; c < j->ncand; c++)
        tsl_backtest(&j->cands[c], y, n, &plan, NULL, 0, &r[c], NULL);
    tsl_wbuf *b = &j->out[i];
    for (size_t w = 0; w < plan.k; w++) {
        double scale = tsl_mase_scale(y, plan.origin[w], j->period);
        for (size_t st = 0; st < plan.h; st++) {
            tsl_csv_field(b, s->item_id);
            tsl_wbuf_printf(b, ",%zu,%zu,%zu,%.10g,%.10g", w, plan.origin[w], st,
                            y[plan.origin[w] + st], scale);
            for (size_t c = 0; c < j->ncand; c++) {
                if (r[c].ok)
                    tsl_wbuf_printf(b, ",%.10g", r[c].fc[w * plan.h + st]);
                else
                    tsl_wbuf_puts(b, ",");
            }
            tsl_wbuf_putc(b, '\n');
        }
    }
    for (size_t c = 0; c < j->ncand; c++) tsl_bt_result_release(&r[c]);
    tsl_free(r);
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: bench_select DATA HORIZON PERIOD OUT [--windows W] [--models L] "
                        "[--threads N]\n");
        return 2;
    }
    job j = {0};
    j.horizon = (size_t)strtoul(argv[2], NULL, 10);
    j.period = (int)strtol(argv[3], NULL, 10);
    j.windows = 6;
    const char *models = "naive,snaive,drift,ets,theta,dotm";
    int threads = 0;
    for (int a = 5; a + 1 < argc; a += 2) {
        if (!strcmp(argv[a], "--windows"))
            j.windows = (size_t)strtoul(argv[a + 1], NULL, 10);
        else if (!strcmp(argv[a], "--models"))
            models = argv[a + 1];
        else if (!strcmp(argv[a], "--threads"))
            threads = (int)strtol(argv[a + 1], NULL, 10);
    }
    tsl_diag d = {0};
    tsl_dataset *ds = NULL;
    tsl_read_opts ro;
    memset(&ro, 0, sizeof ro);
    if (tsl_dataset_read_file(argv[1], &ro, &ds, &d)) {
        fprintf(stderr, "%s\n", tsl_diag_msg(&d));
        return 1;
    }
    tsl_model_spec cands[32];
    char *list = tsl_strdup(models), *save = NULL;
    tsl_wbuf head;
    tsl_wbuf_init(&head);
    tsl_wbuf_puts(&head, "item_id,window,origin,step,actual,scale");
    for (char *t = strtok_r(list, ",", &save); t && j.ncand < 32; t = strtok_r(NULL, ",", &save)) {
        if (tsl_model_spec_parse(t, j.period, &cands[j.ncand++], &d)) {
            fprintf(stderr, "%s\n", tsl_diag_msg(&d));
            return 1;
        }
        tsl_wbuf_printf(&head, ",%s", t);
    }
    tsl_wbuf_putc(&head, '\n');
    j.cands = cands;
    j.ds = ds;
    j.out = tsl_calloc(ds->nseries, sizeof *j.out);
    tsl_pool *pool = tsl_pool_new(threads);
    tsl_pool_run(pool, ds->nseries, run, &j);
    tsl_pool_free(pool);
    FILE *f = fopen(argv[4], "w");
    if (!f) return 1;
    fwrite(head.data, 1, head.len, f);
    for (size_t i = 0; i < ds->nseries; i++) {
        if (j.out[i].len) fwrite(j.out[i].data, 1, j.out[i].len, f);
        tsl_wbuf_release(&j.out[i]);
    }
    fclose(f);
    tsl_free(j.out);
    tsl_free(list);
    tsl_wbuf_release(&head);
    tsl_dataset_free(ds);
    return 0;
}
