/*
 * cmd_forecast.c - `tsloop forecast`: AutoML per series, then the forecast CSV.
 *
 * The stateless path of DESIGN.md: no project, no store. Reads the data set, chooses and fits
 * a model per series, and writes the forecast file atomically (a failed run leaves no partial
 * file). Optionally writes a per-series report of what each series got and why.
 */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "cli/cli.h"
#include "tsloop/mem.h"
#include "tsloop/output.h"

static const char usage_text[] =
    "usage: tsloop forecast --input FILE --horizon H --output FILE [options]\n"
    "\n"
    "Backtests candidate models on every series of FILE, picks per series the model (or\n"
    "combination of the best few) with the lowest backtest error, refits it on the whole\n"
    "history and writes the forecast CSV: item_id,timestamp,mean,p10,p50,p90.\n"
    "\n"
    "  -i, --input FILE         CSV or TSV with a header; .gz, or .zip holding TTS.csv; - = stdin\n"
    "  -H, --horizon H          steps to forecast\n"
    "  -o, --output FILE        forecast CSV (- = stdout), written atomically\n"
    "  -m, --season-length M    seasonal period(s), e.g. 7 or 24,168 (default: from the\n"
    "                           frequency; several periods add MSTL candidates)\n"
    "      --max-history N      model only the last N values of each series (default:\n"
    "                           max(1000, 20 x the longest period))\n"
    "  -q, --quantiles LIST     quantile levels (default 0.1,0.5,0.9)\n"
    "      --models LIST        candidates, e.g. ets,theta,dotm,naive,ets:MAdN,ma:7,arima,\n"
    "                           'arima:(0,1,1)(0,1,1)'\n"
    "                           (default: naive, snaive, drift, ets, arima, theta, dotm,\n"
    "                           and croston, sba, tsb where zeros dominate)\n"
    "      --metric NAME        selection metric: mase (default), smape, mape, mae, rmse,\n"
    "                           wape, mean_wql\n"
    "      --windows K          backtest windows (default 3)\n"
    "      --no-ensembles       do not consider combinations of the best candidates\n"
    "      --series-weight W    how much a series' own backtest decides its model, 0..1\n"
    "                           (default: learnt from the data; see docs/automl.md)\n"
    "      --fast               race the expensive models (ETS, ARIMA, ...): drop them on a\n"
    "                           series where a cheap one beats them on the latest window\n"
    "      --time-limit S       seconds for the whole run; when they run out, the rest gets\n"
    "                           the cheap candidates only (with a warning)\n"
    "  -j, --threads N          worker threads (default: all cores)\n"
    "      --freq F             frequency, instead of inferring it (15min, H, D, W, M, Q, Y)\n"
    "      --item-col NAME      item column (default item_id)\n"
    "      --time-col NAME      timestamp column (default timestamp)\n"
    "      --target-col NAME    target column (default target_value, else target)\n"
    "      --report FILE        per-series choice, model and reason as CSV\n"
    "      --json               print a JSON summary (with the leaderboard) on stdout\n"
    "      --quiet              no progress bar, warnings or summary on stderr\n"
    "  -h, --help               this help\n"
    "\n"
    "example: tsloop forecast -i sales.csv -H 14 -o forecast.csv --quantiles 0.1,0.5,0.9\n";

enum { OPT_REPORT = CLI_OPT_OWN };

static const struct option long_opts[] = {CLI_MODEL_LONG_OPTIONS,
                                          {"output", required_argument, NULL, 'o'},
                                          {"report", required_argument, NULL, OPT_REPORT},
                                          {NULL, 0, NULL, 0}};

/* One report row: item, choice, model, its backtest score, the plan, and the reason. */
static void report_row(void *ctx, size_t i, tsl_wbuf *b) {
    const cli_rows_ctx *o = ctx;
    const tsl_automl_series *s = &o->r->series[i];
    tsl_csv_field(b, o->ds->series[i].item_id);
    tsl_wbuf_putc(b, ',');
    tsl_csv_field(b, s->err ? "" : s->choice);
    tsl_wbuf_putc(b, ',');
    tsl_csv_field(b, s->err ? "" : s->model_name);
    tsl_wbuf_putc(b, ',');
    for (size_t j = 0; j < o->r->ncols; j++)
        if (!strcmp(o->r->col_names[j], s->choice) && !isnan(s->scores[j]))
            tsl_wbuf_printf(b, "%.6g", s->scores[j]);
    tsl_wbuf_printf(b, ",%zu,%zu,", s->plan.k, s->plan.h);
    tsl_csv_field(b, s->err ? s->error : s->reason);
    tsl_wbuf_putc(b, '\n');
}

int cmd_forecast(int argc, char **argv) {
    cli_common co = {0};
    const char *output = NULL, *report = NULL;
    int rc = CLI_OK, c;
    tsl_dataset *ds = NULL;
    tsl_automl_result *res = NULL;
    tsl_ts *ts = NULL;
    tsl_wbuf header;
    tsl_wbuf_init(&header);
    optind = 1;
    while ((c = getopt_long(argc, argv, CLI_MODEL_SHORT_OPTIONS "o:", long_opts, NULL)) != -1) {
        int handled = cli_common_option("forecast", c, optarg, &co);
        if (handled == CLI_USAGE) return CLI_USAGE;
        if (handled) continue;
        switch (c) {
        case 'o':
            output = optarg;
            break;
        case OPT_REPORT:
            report = optarg;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return CLI_OK;
        default:
            return cli_usage_error("forecast", "unknown or incomplete option");
        }
    }
    if (optind < argc) return cli_usage_error("forecast", "unexpected argument '%s'", argv[optind]);
    if (!co.in.path || !co.mo.horizon || !output)
        return cli_usage_error("forecast", "--input, --horizon and --output are required");
    if (co.json && !strcmp(output, "-"))
        return cli_usage_error("forecast", "--json prints on stdout; write --output to a file");
    if ((rc = cli_read_input("forecast", &co.in, co.quiet, &ds))) goto out;
    int period = cli_resolve_periods(ds, &co.mo);
    if ((rc = cli_model_opts_resolve("forecast", &co.mo, period))) goto out;

    cli_progress prog;
    cli_progress_init(&prog, "forecast", co.quiet);
    tsl_automl_opts ao;
    cli_automl_setup(ds, &co.mo, period, &prog, &ao, &ts);
    tsl_diag d = {0};
    tsl_err err = tsl_automl_run(ts, ds->nseries, &ao, &res, &d);
    cli_progress_done(&prog);
    if (err) {
        rc = cli_fail("%s", tsl_diag_msg(&d));
        goto out;
    }
    cli_automl_warnings(res, co.quiet);
    size_t failed = 0;
    for (size_t i = 0; i < res->nseries; i++) {
        if (!res->series[i].err) continue;
        if (!co.quiet && failed < 10)
            cli_warn("series '%s': no forecast: %s", ds->series[i].item_id, res->series[i].error);
        failed++;
    }
    if (!co.quiet && failed > 10) cli_warn("... %zu series in all had no forecast", failed);
    if (failed == res->nseries && res->nseries > 0) {
        rc = cli_fail("no series could be forecast");
        goto out;
    }
    cli_rows_ctx oc = {ds, res};
    tsl_fcsv_header(&header, res->levels, res->nq);
    if (tsl_output_write_rows(output, tsl_wbuf_cstr(&header), res->nseries, cli_forecast_rows, &oc,
                              &d) ||
        (report && tsl_output_write_rows(report,
                                         "item_id,choice,model,backtest_score,windows,"
                                         "window_horizon,reason\n",
                                         res->nseries, report_row, &oc, &d))) {
        rc = cli_fail("%s", tsl_diag_msg(&d));
        goto out;
    }
    if (!co.quiet) {
        char fdesc[32];
        tsl_freq_describe(ds->freq, fdesc, sizeof fdesc);
        fprintf(stderr, "tsloop: forecast %zu series x %ld steps (%s, period %d) in %.2f s -> %s\n",
                res->nseries - failed, co.mo.horizon, fdesc, period, res->seconds, output);
        fprintf(stderr, "        chosen:");
        for (size_t j = 0; j < res->ncols; j++)
            if (res->col_chosen[j])
                fprintf(stderr, " %s %zu", res->col_names[j], res->col_chosen[j]);
        fputc('\n', stderr);
    }
    if (co.json) {
        json_t *root = cli_leaderboard_json(res, ds, 1);
        json_object_set_new(root, "output", json_string(output));
        json_object_set_new(root, "failed", json_integer((json_int_t)failed));
        json_dumpf(root, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(8));
        fputc('\n', stdout);
        json_decref(root);
    }
out:
    tsl_wbuf_release(&header);
    tsl_automl_result_free(res);
    tsl_free(ts);
    tsl_dataset_free(ds);
    cli_model_opts_release(&co.mo);
    return rc;
}
