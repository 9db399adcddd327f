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
    "  -m, --season-length M    seasonal period (default: from the frequency)\n"
    "  -q, --quantiles LIST     quantile levels (default 0.1,0.5,0.9)\n"
    "      --models LIST        candidates, e.g. ets,theta,dotm,naive,ets:MAdN,ma:7\n"
    "                           (default: naive, snaive, drift, ets, theta, dotm, and\n"
    "                           croston, sba, tsb where zeros dominate)\n"
    "      --metric NAME        selection metric: mase (default), smape, mape, mae, rmse,\n"
    "                           wape, mean_wql\n"
    "      --windows K          backtest windows (default 3)\n"
    "      --no-ensembles       do not consider combinations of the best candidates\n"
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

enum {
    OPT_MODELS = 256,
    OPT_METRIC,
    OPT_WINDOWS,
    OPT_NO_ENS,
    OPT_FREQ,
    OPT_ITEM,
    OPT_TIME,
    OPT_TARGET,
    OPT_REPORT,
    OPT_JSON,
    OPT_QUIET
};

static const struct option long_opts[] = {{"input", required_argument, NULL, 'i'},
                                          {"horizon", required_argument, NULL, 'H'},
                                          {"output", required_argument, NULL, 'o'},
                                          {"season-length", required_argument, NULL, 'm'},
                                          {"quantiles", required_argument, NULL, 'q'},
                                          {"models", required_argument, NULL, OPT_MODELS},
                                          {"metric", required_argument, NULL, OPT_METRIC},
                                          {"windows", required_argument, NULL, OPT_WINDOWS},
                                          {"no-ensembles", no_argument, NULL, OPT_NO_ENS},
                                          {"threads", required_argument, NULL, 'j'},
                                          {"freq", required_argument, NULL, OPT_FREQ},
                                          {"item-col", required_argument, NULL, OPT_ITEM},
                                          {"time-col", required_argument, NULL, OPT_TIME},
                                          {"target-col", required_argument, NULL, OPT_TARGET},
                                          {"report", required_argument, NULL, OPT_REPORT},
                                          {"json", no_argument, NULL, OPT_JSON},
                                          {"quiet", no_argument, NULL, OPT_QUIET},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};

/* Writes the per-series report CSV. */
static tsl_err write_report(const char *path, const tsl_dataset *ds, const tsl_automl_result *r,
                            tsl_diag *d) {
    tsl_outfile of;
    tsl_err rc = tsl_outfile_open(&of, path, d);
    if (rc) return rc;
    tsl_wbuf b;
    tsl_wbuf_init(&b);
    tsl_wbuf_printf(&b, "item_id,choice,model,backtest_%s,windows,window_horizon,reason\n",
                    tsl_metric_name(r->metric));
    for (size_t i = 0; i < r->nseries && !rc; i++) {
        const tsl_automl_series *s = &r->series[i];
        tsl_csv_field(&b, ds->series[i].item_id);
        tsl_wbuf_putc(&b, ',');
        tsl_csv_field(&b, s->err ? "" : s->choice);
        tsl_wbuf_putc(&b, ',');
        tsl_csv_field(&b, s->err ? "" : s->model_name);
        tsl_wbuf_putc(&b, ',');
        double best = NAN;
        for (size_t j = 0; j < r->ncols; j++)
            if (!strcmp(r->col_names[j], s->choice)) best = s->scores[j];
        if (!isnan(best)) tsl_wbuf_printf(&b, "%.6g", best);
        tsl_wbuf_printf(&b, ",%zu,%zu,", s->plan.k, s->plan.h);
        tsl_csv_field(&b, s->err ? s->error : s->reason);
        tsl_wbuf_putc(&b, '\n');
        if (b.len > (1u << 20)) rc = tsl_wbuf_flush_to(&b, of.f, path, d);
    }
    if (!rc) rc = tsl_wbuf_flush_to(&b, of.f, path, d);
    tsl_wbuf_release(&b);
    if (rc) {
        tsl_outfile_abort(&of);
        return rc;
    }
    return tsl_outfile_commit(&of, d);
}

/* Writes the forecast CSV; series that failed are skipped (and were warned about). */
static tsl_err write_forecasts(const char *path, const tsl_dataset *ds, const tsl_automl_result *r,
                               tsl_diag *d) {
    tsl_outfile of;
    tsl_err rc = tsl_outfile_open(&of, path, d);
    if (rc) return rc;
    tsl_wbuf b;
    tsl_wbuf_init(&b);
    tsl_fcsv_header(&b, r->levels, r->nq);
    for (size_t i = 0; i < r->nseries && !rc; i++) {
        const tsl_automl_series *s = &r->series[i];
        const tsl_series *ser = &ds->series[i];
        if (s->err) continue;
        int64_t start = tsl_dataset_time(ds, ser, ser->n);
        tsl_fcsv_rows(&b, ser->item_id, ds->freq, start, r->horizon, s->mean, s->quant, r->nq);
        if (b.len > (1u << 20)) rc = tsl_wbuf_flush_to(&b, of.f, path, d);
    }
    if (!rc) rc = tsl_wbuf_flush_to(&b, of.f, path, d);
    tsl_wbuf_release(&b);
    if (rc) {
        tsl_outfile_abort(&of);
        return rc;
    }
    return tsl_outfile_commit(&of, d);
}

int cmd_forecast(int argc, char **argv) {
    cli_input_opts in = {0};
    cli_model_opts mo = {0};
    const char *output = NULL, *report = NULL;
    int json = 0, quiet = 0, rc = CLI_OK, c;
    tsl_dataset *ds = NULL;
    tsl_automl_result *res = NULL;
    tsl_ts *ts = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "i:H:o:m:q:j:h", long_opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            in.path = optarg;
            break;
        case 'H':
            if ((rc = cli_parse_long("forecast", "--horizon", optarg, 1, 100000, &mo.horizon)))
                goto out;
            break;
        case 'o':
            output = optarg;
            break;
        case 'm':
            if ((rc = cli_parse_long("forecast", "--season-length", optarg, 1, 100000,
                                     &mo.season_length)))
                goto out;
            break;
        case 'q':
            mo.quantiles = optarg;
            break;
        case OPT_MODELS:
            mo.models = optarg;
            break;
        case OPT_METRIC:
            mo.metric = optarg;
            break;
        case OPT_WINDOWS:
            if ((rc = cli_parse_long("forecast", "--windows", optarg, 1, TSL_BT_MAX_WINDOWS,
                                     &mo.windows)))
                goto out;
            break;
        case OPT_NO_ENS:
            mo.no_ensembles = 1;
            break;
        case 'j':
            if ((rc = cli_parse_long("forecast", "--threads", optarg, 1, 256, &mo.threads)))
                goto out;
            break;
        case OPT_FREQ:
            in.freq = optarg;
            break;
        case OPT_ITEM:
            in.item_col = optarg;
            break;
        case OPT_TIME:
            in.time_col = optarg;
            break;
        case OPT_TARGET:
            in.target_col = optarg;
            break;
        case OPT_REPORT:
            report = optarg;
            break;
        case OPT_JSON:
            json = 1;
            break;
        case OPT_QUIET:
            quiet = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return CLI_OK;
        default:
            rc = cli_usage_error("forecast", "unknown or incomplete option");
            goto out;
        }
    }
    if (optind < argc) {
        rc = cli_usage_error("forecast", "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (!in.path || !mo.horizon || !output) {
        rc = cli_usage_error("forecast", "--input, --horizon and --output are required");
        goto out;
    }
    if (json && !strcmp(output, "-")) {
        rc = cli_usage_error("forecast", "--json prints on stdout; write --output to a file");
        goto out;
    }
    if ((rc = cli_read_input("forecast", &in, quiet, &ds))) goto out;
    int period = mo.season_length ? (int)mo.season_length : ds->period;
    if ((rc = cli_model_opts_resolve("forecast", &mo, period))) goto out;

    ts = tsl_calloc(ds->nseries ? ds->nseries : 1, sizeof *ts);
    for (size_t i = 0; i < ds->nseries; i++) ts[i] = (tsl_ts){ds->series[i].y, ds->series[i].n};
    tsl_automl_opts ao;
    tsl_automl_opts_init(&ao, (size_t)mo.horizon, period);
    ao.levels = mo.levels;
    ao.nq = mo.nq;
    ao.candidates = mo.cands;
    ao.ncandidates = mo.ncands;
    ao.metric = mo.metric_id;
    if (mo.windows) ao.windows = (size_t)mo.windows;
    ao.ensembles = !mo.no_ensembles;
    ao.threads = (int)mo.threads;
    cli_progress prog;
    cli_progress_init(&prog, "forecast", quiet);
    ao.progress = cli_progress_update;
    ao.progress_ctx = &prog;
    tsl_diag d = {0};
    if (tsl_automl_run(ts, ds->nseries, &ao, &res, &d)) {
        cli_progress_done(&prog);
        rc = cli_fail("%s", tsl_diag_msg(&d));
        goto out;
    }
    cli_progress_done(&prog);
    size_t failed = 0;
    for (size_t i = 0; i < res->nseries; i++) {
        if (!res->series[i].err) continue;
        if (!quiet && failed < 10)
            cli_warn("series '%s': no forecast: %s", ds->series[i].item_id, res->series[i].error);
        failed++;
    }
    if (!quiet && failed > 10) cli_warn("... %zu series in all had no forecast", failed);
    if (failed == res->nseries && res->nseries > 0) {
        rc = cli_fail("no series could be forecast");
        goto out;
    }
    if (write_forecasts(output, ds, res, &d) || (report && write_report(report, ds, res, &d))) {
        rc = cli_fail("%s", tsl_diag_msg(&d));
        goto out;
    }
    if (!quiet) {
        char fdesc[32];
        tsl_freq_describe(ds->freq, fdesc, sizeof fdesc);
        fprintf(stderr, "tsloop: forecast %zu series x %ld steps (%s, period %d) in %.2f s -> %s\n",
                res->nseries - failed, mo.horizon, fdesc, period, res->seconds, output);
        fprintf(stderr, "        chosen:");
        for (size_t j = 0; j < res->ncols; j++)
            if (res->col_chosen[j])
                fprintf(stderr, " %s %zu", res->col_names[j], res->col_chosen[j]);
        fputc('\n', stderr);
    }
    if (json) {
        json_t *root = cli_leaderboard_json(res, ds, 1);
        json_object_set_new(root, "output", json_string(output));
        json_object_set_new(root, "failed", json_integer((json_int_t)failed));
        json_dumpf(root, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(8));
        fputc('\n', stdout);
        json_decref(root);
    }
out:
    tsl_automl_result_free(res);
    tsl_free(ts);
    tsl_dataset_free(ds);
    cli_model_opts_release(&mo);
    return rc;
}
