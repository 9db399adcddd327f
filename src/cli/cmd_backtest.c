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
    "  -m, --season-length M    seasonal period (default: from the frequency)\n"
    "  -q, --quantiles LIST     quantile levels (default 0.1,0.5,0.9)\n"
    "      --models LIST        candidates (default: as tsloop forecast)\n"
    "      --metric NAME        ranking metric: mase (default), smape, mape, mae, rmse, wape,\n"
    "                           mean_wql\n"
    "      --no-ensembles       leave out combinations of the best candidates\n"
    "      --no-auto            skip the nested evaluation of AutoML (faster)\n"
    "  -j, --threads N          worker threads (default: all cores)\n"
    "      --freq F             frequency, instead of inferring it\n"
    "      --item-col NAME, --time-col NAME, --target-col NAME   column names\n"
    "      --series FILE        per-series scores of every model as CSV\n"
    "      --json               the leaderboard and per-series results as JSON on stdout\n"
    "      --quiet              no progress bar or warnings on stderr\n"
    "  -h, --help               this help\n"
    "\n"
    "example: tsloop backtest -i sales.csv -H 14 --windows 4\n";

enum {
    OPT_MODELS = 256,
    OPT_METRIC,
    OPT_WINDOWS,
    OPT_NO_ENS,
    OPT_NO_AUTO,
    OPT_FREQ,
    OPT_ITEM,
    OPT_TIME,
    OPT_TARGET,
    OPT_SERIES,
    OPT_JSON,
    OPT_QUIET
};

static const struct option long_opts[] = {{"input", required_argument, NULL, 'i'},
                                          {"horizon", required_argument, NULL, 'H'},
                                          {"windows", required_argument, NULL, OPT_WINDOWS},
                                          {"season-length", required_argument, NULL, 'm'},
                                          {"quantiles", required_argument, NULL, 'q'},
                                          {"models", required_argument, NULL, OPT_MODELS},
                                          {"metric", required_argument, NULL, OPT_METRIC},
                                          {"no-ensembles", no_argument, NULL, OPT_NO_ENS},
                                          {"no-auto", no_argument, NULL, OPT_NO_AUTO},
                                          {"threads", required_argument, NULL, 'j'},
                                          {"freq", required_argument, NULL, OPT_FREQ},
                                          {"item-col", required_argument, NULL, OPT_ITEM},
                                          {"time-col", required_argument, NULL, OPT_TIME},
                                          {"target-col", required_argument, NULL, OPT_TARGET},
                                          {"series", required_argument, NULL, OPT_SERIES},
                                          {"json", no_argument, NULL, OPT_JSON},
                                          {"quiet", no_argument, NULL, OPT_QUIET},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};

/* Per-series scores: one row per series, one column per model (the selection metric). */
static tsl_err write_series(const char *path, const tsl_dataset *ds, const tsl_automl_result *r,
                            tsl_diag *d) {
    tsl_outfile of;
    tsl_err rc = tsl_outfile_open(&of, path, d);
    if (rc) return rc;
    tsl_wbuf b;
    tsl_wbuf_init(&b);
    tsl_wbuf_puts(&b, "item_id,windows,window_horizon,choice");
    if (r->auto_series) tsl_wbuf_puts(&b, ",auto");
    for (size_t j = 0; j < r->ncols; j++) {
        tsl_wbuf_putc(&b, ',');
        tsl_csv_field(&b, r->col_names[j]);
    }
    tsl_wbuf_putc(&b, '\n');
    for (size_t i = 0; i < r->nseries && !rc; i++) {
        const tsl_automl_series *s = &r->series[i];
        tsl_csv_field(&b, ds->series[i].item_id);
        tsl_wbuf_printf(&b, ",%zu,%zu,", s->plan.k, s->plan.h);
        tsl_csv_field(&b, s->choice);
        if (r->auto_series) {
            tsl_wbuf_putc(&b, ',');
            if (!isnan(s->auto_score)) tsl_wbuf_printf(&b, "%.6g", s->auto_score);
        }
        for (size_t j = 0; j < r->ncols; j++) {
            tsl_wbuf_putc(&b, ',');
            if (!isnan(s->scores[j])) tsl_wbuf_printf(&b, "%.6g", s->scores[j]);
        }
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

int cmd_backtest(int argc, char **argv) {
    cli_input_opts in = {0};
    cli_model_opts mo = {0};
    const char *series_path = NULL;
    int json = 0, quiet = 0, no_auto = 0, rc = CLI_OK, c;
    tsl_dataset *ds = NULL;
    tsl_automl_result *res = NULL;
    tsl_ts *ts = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "i:H:m:q:j:h", long_opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            in.path = optarg;
            break;
        case 'H':
            if ((rc = cli_parse_long("backtest", "--horizon", optarg, 1, 100000, &mo.horizon)))
                goto out;
            break;
        case OPT_WINDOWS:
            if ((rc = cli_parse_long("backtest", "--windows", optarg, 1, TSL_BT_MAX_WINDOWS,
                                     &mo.windows)))
                goto out;
            break;
        case 'm':
            if ((rc = cli_parse_long("backtest", "--season-length", optarg, 1, 100000,
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
        case OPT_NO_ENS:
            mo.no_ensembles = 1;
            break;
        case OPT_NO_AUTO:
            no_auto = 1;
            break;
        case 'j':
            if ((rc = cli_parse_long("backtest", "--threads", optarg, 1, 256, &mo.threads)))
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
        case OPT_SERIES:
            series_path = optarg;
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
            rc = cli_usage_error("backtest", "unknown or incomplete option");
            goto out;
        }
    }
    if (optind < argc) {
        rc = cli_usage_error("backtest", "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (!in.path || !mo.horizon) {
        rc = cli_usage_error("backtest", "--input and --horizon are required");
        goto out;
    }
    if ((rc = cli_read_input("backtest", &in, quiet, &ds))) goto out;
    int period = mo.season_length ? (int)mo.season_length : ds->period;
    if ((rc = cli_model_opts_resolve("backtest", &mo, period))) goto out;

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
    ao.forecast = 0;
    ao.evaluate_auto = !no_auto;
    cli_progress prog;
    cli_progress_init(&prog, "backtest", quiet);
    ao.progress = cli_progress_update;
    ao.progress_ctx = &prog;
    tsl_diag d = {0};
    if (tsl_automl_run(ts, ds->nseries, &ao, &res, &d)) {
        cli_progress_done(&prog);
        rc = cli_fail("%s", tsl_diag_msg(&d));
        goto out;
    }
    cli_progress_done(&prog);
    if (series_path && write_series(series_path, ds, res, &d)) {
        rc = cli_fail("%s", tsl_diag_msg(&d));
        goto out;
    }
    if (json) {
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
           res->nseries, fdesc, period, mo.horizon, ao.windows, tsl_metric_name(ao.metric));
    if (reduced || none)
        printf("          %zu series with the full plan, %zu too short for it (fewer, closer or "
               "shorter windows), %zu too short to backtest\n",
               full, reduced, none);
    putchar('\n');
    cli_leaderboard_print(stdout, res);
    printf("\n%.2f s in all\n", res->seconds);
out:
    tsl_automl_result_free(res);
    tsl_free(ts);
    tsl_dataset_free(ds);
    cli_model_opts_release(&mo);
    return rc;
}
