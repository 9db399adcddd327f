/*
 * leaderboard.c - the leaderboard of an AutoML run, as a table for people and JSON for tools.
 *
 * The text table leaves out the scale-dependent metrics (MAE, RMSE): pooled over series of
 * different sizes they are dominated by the largest series and mislead more than they tell.
 * The JSON keeps everything.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "tsloop/mem.h"

typedef struct row {
    const char *name;
    const tsl_agg *agg;
    size_t series, chosen;
    double seconds;
    int is_auto;
    double rel; /* the data set's verdict (relative score), NaN for auto */
} row;

static const tsl_automl_result *sort_result;

static int cmp_rows(const void *a, const void *b) {
    const row *x = a, *y = b;
    double vx = tsl_agg_value(x->agg, sort_result->metric);
    double vy = tsl_agg_value(y->agg, sort_result->metric);
    if (isnan(vx) != isnan(vy)) return isnan(vx) ? 1 : -1;
    if (vx != vy && !isnan(vx)) return vx < vy ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Rows of the leaderboard sorted by the selection metric; the caller frees. */
static row *make_rows(const tsl_automl_result *r, size_t *nrows) {
    row *rows = tsl_calloc(r->ncols + 1, sizeof *rows);
    size_t n = 0;
    if (r->auto_series) {
        rows[n++] = (row){"auto", &r->auto_agg, r->auto_series, 0, r->auto_seconds, 1, NAN};
    }
    for (size_t j = 0; j < r->ncols; j++) {
        if (!r->col_series[j]) continue;
        rows[n++] = (row){r->col_names[j],  &r->col_agg[j],    r->col_series[j],
                          r->col_chosen[j], r->col_seconds[j], 0,
                          r->col_rel[j]};
    }
    sort_result = r;
    qsort(rows, n, sizeof *rows, cmp_rows);
    *nrows = n;
    return rows;
}

static void put_value(FILE *f, double v, int width, int prec) {
    if (isnan(v))
        fprintf(f, " %*s", width, "-");
    else
        fprintf(f, " %*.*f", width, prec, v);
}

void cli_leaderboard_print(FILE *f, const tsl_automl_result *r) {
    size_t n;
    row *rows = make_rows(r, &n);
    char cov[32] = "coverage";
    if (r->nq >= 2)
        snprintf(cov, sizeof cov, "cov%.0f-%.0f", 100 * r->levels[0], 100 * r->levels[r->nq - 1]);
    int nw = 24; /* the model column fits the longest name ("arima:(?,1,?)(?,1,?)+const") */
    for (size_t i = 0; i < n; i++)
        if (!rows[i].is_auto && (int)strlen(rows[i].name) > nw) nw = (int)strlen(rows[i].name);
    fprintf(f, "%-*s %6s %6s %7s %8s %8s %7s %9s %10s %8s\n", nw, "model", "series", "chosen",
            "rel", "mase", "smape", "wape", "mean_wql", cov, "seconds");
    for (size_t i = 0; i < n; i++) {
        const row *w = &rows[i];
        fprintf(f, "%-*s %6zu", nw, w->is_auto ? "auto*" : w->name, w->series);
        if (w->is_auto)
            fprintf(f, " %6s", "-");
        else
            fprintf(f, " %6zu", w->chosen);
        put_value(f, w->rel, 7, 3);
        put_value(f, tsl_agg_value(w->agg, TSL_METRIC_MASE), 8, 3);
        put_value(f, tsl_agg_value(w->agg, TSL_METRIC_SMAPE), 8, 2);
        put_value(f, tsl_agg_value(w->agg, TSL_METRIC_WAPE), 7, 3);
        put_value(f, tsl_agg_value(w->agg, TSL_METRIC_MEAN_WQL), 9, 3);
        put_value(f, tsl_agg_value(w->agg, TSL_METRIC_COVERAGE), 10, 3);
        put_value(f, w->seconds, 8, 2);
        fputc('\n', f);
    }
    fprintf(f,
            "rel: the column's score over each series' average model, averaged (below 1 is "
            "better). Each series weighs its own backtest %.2g and the data set's %.2g%s.\n",
            r->series_weight, 1 - r->series_weight, r->weight_learnt ? " (learnt)" : "");
    if (r->auto_series)
        fprintf(f, "* auto: AutoML itself, re-run at every backtest origin on the data before it; "
                   "the other rows are scored on the windows AutoML chose from.\n");
    tsl_free(rows);
}

static json_t *num_or_null(double v) {
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *metrics_json(const tsl_agg *g) {
    json_t *o = json_object();
    for (int m = 0; m < TSL_METRIC_COUNT; m++)
        json_object_set_new(o, tsl_metric_name((tsl_metric)m), num_or_null(tsl_agg_value(g, m)));
    return o;
}

json_t *cli_leaderboard_json(const tsl_automl_result *r, const tsl_dataset *ds, int per_series) {
    json_t *root = json_object();
    json_object_set_new(root, "metric", json_string(tsl_metric_name(r->metric)));
    json_object_set_new(root, "horizon", json_integer((json_int_t)r->horizon));
    json_t *lv = json_array();
    for (size_t j = 0; j < r->nq; j++) json_array_append_new(lv, json_real(r->levels[j]));
    json_object_set_new(root, "quantiles", lv);
    json_object_set_new(root, "series", json_integer((json_int_t)r->nseries));
    json_object_set_new(root, "seconds", json_real(r->seconds));
    json_object_set_new(root, "series_weight", json_real(r->series_weight));
    json_object_set_new(root, "series_weight_learnt", json_boolean(r->weight_learnt));
    json_object_set_new(root, "cut_short_by_time_limit", json_integer((json_int_t)r->cut_short));
    size_t n;
    row *rows = make_rows(r, &n);
    json_t *board = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "model", json_string(rows[i].name));
        json_object_set_new(o, "nested", json_boolean(rows[i].is_auto));
        json_object_set_new(o, "series", json_integer((json_int_t)rows[i].series));
        if (!rows[i].is_auto)
            json_object_set_new(o, "chosen", json_integer((json_int_t)rows[i].chosen));
        json_object_set_new(o, "metrics", metrics_json(rows[i].agg));
        if (!rows[i].is_auto) json_object_set_new(o, "relative", num_or_null(rows[i].rel));
        json_object_set_new(o, "seconds", json_real(rows[i].seconds));
        json_array_append_new(board, o);
    }
    tsl_free(rows);
    json_object_set_new(root, "leaderboard", board);
    if (per_series) {
        json_t *arr = json_array();
        for (size_t i = 0; i < r->nseries; i++) {
            const tsl_automl_series *s = &r->series[i];
            json_t *o = json_object();
            json_object_set_new(o, "item_id", json_string(ds->series[i].item_id));
            if (s->err) {
                json_object_set_new(o, "error", json_string(s->error));
            } else {
                json_object_set_new(o, "choice", json_string(s->choice));
                if (s->model_name[0]) json_object_set_new(o, "model", json_string(s->model_name));
            }
            json_object_set_new(o, "reason", json_string(s->reason));
            json_object_set_new(o, "windows", json_integer((json_int_t)s->plan.k));
            json_object_set_new(o, "window_horizon", json_integer((json_int_t)s->plan.h));
            json_t *sc = json_object();
            for (size_t j = 0; j < r->ncols; j++)
                if (!isnan(s->scores[j]))
                    json_object_set_new(sc, r->col_names[j], json_real(s->scores[j]));
            if (!isnan(s->auto_score)) json_object_set_new(sc, "auto", json_real(s->auto_score));
            json_object_set_new(o, "scores", sc);
            json_array_append_new(arr, o);
        }
        json_object_set_new(root, "per_series", arr);
    }
    return root;
}
