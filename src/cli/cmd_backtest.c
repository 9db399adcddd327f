/*
 * cmd_backtest.c - `tsloop backtest`: rolling-origin backtests of the candidates and the
 * leaderboard, per model and per series.
 *
 * Besides each candidate and combination, the leaderboard has an "auto" row: AutoML itself,
 * re-run at each origin on the data before it. That is the number to expect from
 * `tsloop forecast`; the candidate rows are the menu AutoML chose from.
 */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "cli/cli.h"
#include "tsloop/mem.h"
#include "tsloop/output.h"

static const char usage_text[] =
    "usage: tsloop backtest --input FILE --horizon H [options]\n"
    "\n"
    "Rolling-origin backtest: for each series, K forecast origins at the end of the history\n"
    "(spaced by the horizon, closer on short series); every candidate is fitted on the data\n"
    "before each origin and scored on what followed. Prints the leaderboard per model, with\n"
    "the 'auto' row evaluating AutoML's own choice honestly (nested).\n"
    "\n"
    "  -i, --input FILE         CSV or TSV with a header; .gz, or .zip holding TTS.csv; - = stdin\n"
    "  -H, --horizon H          steps to forecast from each origin\n"
    "      --windows K          origins per series (default 3)\n"
    "  -m, --season-length M    seasonal period(s), e.g. 7 or 24,168 (default: from the\n"
    "                           frequency; several periods add MSTL candidates)\n"
    "      --max-history N      model only the last N values of each series (default:\n"
    "                           max(1000, 20 x the longest period))\n"
    "  -q, --quantiles LIST     quantile levels (default 0.1,0.5,0.9)\n"
    "      --models LIST        candidates (default: as tsloop forecast)\n"
    "      --metric NAME        ranking metric: mase (default), smape, mape, mae, rmse, wape,\n"
    "                           mean_wql\n"
    "      --no-ensembles       leave out combinations of the best candidates\n"
    "      --no-auto            skip the nested evaluation of AutoML (faster)\n"
    "      --series-weight W    how much a series' own backtest decides its model, 0..1\n"
    "                           (default: learnt from the data; see docs/automl.md)\n"
    "      --fast               race the expensive models (ETS, ARIMA, ...): drop them on a\n"
    "                           series where a cheap one beats them on the latest window\n"
    "      --time-limit S       seconds for the whole run; when they run out, the rest gets\n"
    "                           the cheap candidates only (with a warning)\n"
    "  -j, --threads N          worker threads (default: all cores)\n"
    "      --freq F             frequency, instead of inferring it\n"
    "      --item-col NAME, --time-col NAME, --target-col NAME   column names\n"
    "      --series FILE        per-series scores of every model as CSV\n"
    "      --json               the leaderboard and per-series results as JSON on stdout\n"
    "      --quiet              no progress bar or warnings on stderr\n"
    "  -h, --help               this help\n"
    "\n"
    "example: tsloop backtest -i sales.csv -H 14 --windows 4\n";

enum { OPT_NO_AUTO = CLI_OPT_OWN, OPT_SERIES };

static const struct option long_opts[] = {CLI_MODEL_LONG_OPTIONS,
                                          {"no-auto", no_argument, NULL, OPT_NO_AUTO},
                                          {"series", required_argument, NULL, OPT_SERIES},
                                          {NULL, 0, NULL, 0}};

/* One per-series row: the plan, the choice, the nested score, then every column's score. */
static void series_row(void *ctx, size_t i, tsl_wbuf *b) {
    const cli_rows_ctx *o = ctx;
    const tsl_automl_result *r = o->r;
    const tsl_automl_series *s = &r->series[i];
    tsl_csv_field(b, o->ds->series[i].item_id);
    tsl_wbuf_printf(b, ",%zu,%zu,", s->plan.k, s->plan.h);
    tsl_csv_field(b, s->choice);
    if (r->auto_series) {
        tsl_wbuf_putc(b, ',');
        if (!isnan(s->auto_score)) tsl_wbuf_printf(b, "%.6g", s->auto_score);
    }
    for (size_t j = 0; j < r->ncols; j++) {
        tsl_wbuf_putc(b, ',');
        if (!isnan(s->scores[j])) tsl_wbuf_printf(b, "%.6g", s->scores[j]);
    }
    tsl_wbuf_putc(b, '\n');
}

int cmd_backtest(int argc, char **argv) {
    cli_common co = {0};
    const char *series_path = NULL;
    int no_auto = 0, rc = CLI_OK, c;
    tsl_dataset *ds = NULL;
    tsl_automl_result *res = NULL;
    tsl_ts *ts = NULL;
    tsl_wbuf header;
    tsl_wbuf_init(&header);
    optind = 1;
    while ((c = getopt_long(argc, argv, CLI_MODEL_SHORT_OPTIONS, long_opts, NULL)) != -1) {
        int handled = cli_common_option("backtest", c, optarg, &co);
        if (handled == CLI_USAGE) return CLI_USAGE;
        if (handled) continue;
        switch (c) {
        case OPT_NO_AUTO:
            no_auto = 1;
            break;
        case OPT_SERIES:
            series_path = optarg;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return CLI_OK;
        default:
            return cli_usage_error("backtest", "unknown or incomplete option");
        }
    }
    if (optind < argc) return cli_usage_error("backtest", "unexpected argument '%s'", argv[optind]);
    if (!co.in.path || !co.mo.horizon)
        return cli_usage_error("backtest", "--input and --horizon are required");
    if ((rc = cli_read_input("backtest", &co.in, co.quiet, &ds))) goto out;
    int period = cli_resolve_periods(ds, &co.mo);
    if ((rc = cli_model_opts_resolve("backtest", &co.mo, period))) goto out;

    cli_progress prog;
    cli_progress_init(&prog, "backtest", co.quiet);
    tsl_automl_opts ao;
    cli_automl_setup(ds, &co.mo, period, &prog, &ao, &ts);
    ao.forecast = 0;
    ao.evaluate_auto = !no_auto;
    tsl_diag d = {0};
    tsl_err err = tsl_automl_run(ts, ds->nseries, &ao, &res, &d);
    cli_progress_done(&prog);
    if (err) {
        rc = cli_fail("%s", tsl_diag_msg(&d));
        goto out;
    }
    cli_automl_warnings(res, co.quiet);
    if (series_path) {
        tsl_wbuf_puts(&header, "item_id,windows,window_horizon,choice");
        if (res->auto_series) tsl_wbuf_puts(&header, ",auto");
        for (size_t j = 0; j < res->ncols; j++) {
            tsl_wbuf_putc(&header, ',');
            tsl_csv_field(&header, res->col_names[j]);
        }
        tsl_wbuf_putc(&header, '\n');
        cli_rows_ctx sc = {ds, res};
        if (tsl_output_write_rows(series_path, tsl_wbuf_cstr(&header), res->nseries, series_row,
                                  &sc, &d)) {
            rc = cli_fail("%s", tsl_diag_msg(&d));
            goto out;
        }
    }
    if (co.json) {
        json_t *root = cli_leaderboard_json(res, ds, 1);
        json_dumpf(root, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(8));
        fputc('\n', stdout);
        json_decref(root);
        goto out;
    }
    size_t full = 0, reduced = 0, none = 0;
    for (size_t i = 0; i < res->nseries; i++) {
        const tsl_bt_plan *p = &res->series[i].plan;
        if (p->k == 0)
            none++;
        else if (p->k == ao.windows && p->h == ao.horizon && p->step == p->h)
            full++;
        else
            reduced++;
    }
    char fdesc[32];
    tsl_freq_describe(ds->freq, fdesc, sizeof fdesc);
    printf("backtest: %zu series, %s (period %d), horizon %ld, %zu windows, ranked by %s\n",
           res->nseries, fdesc, period, co.mo.horizon, ao.windows, tsl_metric_name(ao.metric));
    if (reduced || none)
        printf("          %zu series with the full plan, %zu too short for it (fewer, closer or "
               "shorter windows), %zu too short to backtest\n",
               full, reduced, none);
    putchar('\n');
    cli_leaderboard_print(stdout, res);
    printf("\n%.2f s in all\n", res->seconds);
out:
    tsl_wbuf_release(&header);
    tsl_automl_result_free(res);
    tsl_free(ts);
    tsl_dataset_free(ds);
    cli_model_opts_release(&co.mo);
    return rc;
}
