/*
 * demo_engine.c - `tsloop demo --engine`: the engine's story on generated solar-power data.
 *
 * Generates hourly output of a few solar sites (synth.h), writes it as the seeds' users would
 * upload it (item_id, timestamp, a dimension column, target_value), reads it back through the
 * real reader, backtests the candidates (AutoML included, honestly nested), forecasts the next
 * day with quantiles and writes the forecast CSV. No project, store or daemon: the engine alone
 * (cmd_demo.c tells the closed loop). Prints a short leaderboard and tomorrow's
 * profile for one site. Everything lands in one directory the user can inspect.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/demo.h"
#include "tsloop/mem.h"
#include "tsloop/output.h"
#include "tsloop/synth.h"

static const char usage_text[] =
    "usage: tsloop demo --engine [--dir DIR] [--sites N] [--days D] [--seed S] [--threads N]\n"
    "\n"
    "Generates hourly solar-power data for a few sites (daily cycle, seasonal day length,\n"
    "cloudy spells, zero at night), backtests the candidate models, forecasts the next day\n"
    "and prints the leaderboard and tomorrow's profile. Files go to DIR (default: a new\n"
    "directory under $TMPDIR): solar.csv, forecast.csv, report.csv.\n"
    "\n"
    "      --dir DIR       where to write the files (created if needed)\n"
    "      --sites N       number of sites (default 4)\n"
    "      --days D        days of history (default 120)\n"
    "      --seed S        random seed (default 42)\n"
    "  -j, --threads N     worker threads (default: all cores)\n"
    "  -h, --help          this help\n";

enum { OPT_DIR = 256, OPT_SITES, OPT_DAYS, OPT_SEED };

static const struct option long_opts[] = {{"dir", required_argument, NULL, OPT_DIR},
                                          {"sites", required_argument, NULL, OPT_SITES},
                                          {"days", required_argument, NULL, OPT_DAYS},
                                          {"seed", required_argument, NULL, OPT_SEED},
                                          {"threads", required_argument, NULL, 'j'},
                                          {"engine", no_argument, NULL, 'E'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};

typedef struct solar_ctx {
    const tsl_solar_opts *so;
    const tsl_solar_site *sites;
    const double *y;
} solar_ctx;

/* One site's rows of the input CSV, with `region` as a dimension column. */
static void solar_rows(void *ctx, size_t s, tsl_wbuf *b) {
    const solar_ctx *c = ctx;
    size_t hours = c->so->days * 24;
    tsl_freq hourly = {TSL_FREQ_HOUR, 1, 0};
    for (size_t t = 0; t < hours; t++) {
        char ts[40];
        tsl_time_format(tsl_freq_add(hourly, c->so->start, (int64_t)t), 0, ts, sizeof ts);
        tsl_wbuf_printf(b, "%s,%s,%s,%.2f\n", c->sites[s].name, ts, c->sites[s].region,
                        c->y[s * hours + t]);
    }
}

/* Prints tomorrow's profile of one series: hour, p10, mean, p90 and a bar. */
static void print_profile(const tsl_dataset *ds, size_t i, const tsl_automl_result *r) {
    const tsl_automl_series *s = &r->series[i];
    const tsl_series *ser = &ds->series[i];
    double peak = 0;
    for (size_t t = 0; t < r->horizon; t++) {
        double hi = r->nq ? s->quant[t * r->nq + r->nq - 1] : s->mean[t];
        if (hi > peak) peak = hi;
    }
    char lo_name[16] = "", hi_name[16] = "";
    if (r->nq) {
        tsl_level_name(r->levels[0], lo_name, sizeof lo_name);
        tsl_level_name(r->levels[r->nq - 1], hi_name, sizeof hi_name);
    }
    printf("\ntomorrow at %s (%s), kW:\n", ser->item_id, s->model_name);
    printf("  %-17s %8s %8s %8s\n", "hour (UTC)", lo_name, "mean", hi_name);
    int64_t start = tsl_dataset_time(ds, ser, ser->n);
    for (size_t t = 0; t < r->horizon; t++) {
        double lo = r->nq ? s->quant[t * r->nq] : s->mean[t];
        double hi = r->nq ? s->quant[t * r->nq + r->nq - 1] : s->mean[t];
        if (hi <= 0.005 * peak) continue; /* night: nothing to show */
        char ts[40];
        tsl_time_format(tsl_freq_add(ds->freq, start, (int64_t)t), 0, ts, sizeof ts);
        int bar = peak > 0 ? (int)lround(30.0 * s->mean[t] / peak) : 0;
        printf("  %.16s %8.1f %8.1f %8.1f  %.*s\n", ts, lo, s->mean[t], hi, bar,
               "##############################");
    }
}

int demo_engine_run(int argc, char **argv) {
    const char *dir = NULL;
    long sites = 4, days = 120, seed = 42, threads = 0;
    int rc = CLI_OK, c;
    char dirbuf[4096], path[4200];
    double *y = NULL;
    tsl_solar_site *site = NULL;
    tsl_dataset *ds = NULL;
    tsl_automl_result *res = NULL;
    tsl_ts *ts = NULL;
    cli_model_opts mo = {0};
    optind = 1;
    while ((c = getopt_long(argc, argv, "j:h", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_DIR:
            dir = optarg;
            break;
        case OPT_SITES:
            if ((rc = cli_parse_long("demo", "--sites", optarg, 1, 64, &sites))) return rc;
            break;
        case OPT_DAYS:
            if ((rc = cli_parse_long("demo", "--days", optarg, 8, 3660, &days))) return rc;
            break;
        case OPT_SEED:
            if ((rc = cli_parse_long("demo", "--seed", optarg, 0, 2147483647L, &seed))) return rc;
            break;
        case 'j':
            if ((rc = cli_parse_long("demo", "--threads", optarg, 1, 256, &threads))) return rc;
            break;
        case 'E':
            break;
        case 'h':
            fputs(usage_text, stdout);
            return CLI_OK;
        default:
            return cli_usage_error("demo", "unknown or incomplete option");
        }
    }
    if (optind < argc) return cli_usage_error("demo", "unexpected argument '%s'", argv[optind]);
    if (dir) {
        if (mkdir(dir, 0777) != 0 && errno != EEXIST)
            return cli_fail("cannot create %s: %s", dir, strerror(errno));
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(dirbuf, sizeof dirbuf, "%s/tsloop-demo-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(dirbuf))
            return cli_fail("cannot create a demo directory: %s", strerror(errno));
        dir = dirbuf;
    }

    tsl_solar_opts so;
    tsl_solar_opts_init(&so);
    so.sites = (size_t)sites;
    so.days = (size_t)days;
    so.seed = (uint64_t)seed;
    site = tsl_calloc(so.sites, sizeof *site);
    y = tsl_reallocarray(NULL, so.sites * so.days * 24, sizeof *y);
    tsl_diag d = {0};
    snprintf(path, sizeof path, "%s/solar.csv", dir);
    solar_ctx sc = {&so, site, y};
    if (tsl_synth_solar(&so, site, y, &d) ||
        tsl_output_write_rows(path, "item_id,timestamp,region,target_value\n", so.sites, solar_rows,
                              &sc, &d)) {
        rc = cli_fail("%s", tsl_diag_msg(&d));
        goto out;
    }
    printf("tsloop demo: %ld solar sites, %ld days of hourly output -> %s\n", sites, days, path);

    cli_input_opts in = {.path = path};
    if ((rc = cli_read_input("demo", &in, 0, &ds))) goto out;
    mo.horizon = 24;
    mo.threads = threads;
    if ((rc = cli_model_opts_resolve("demo", &mo, ds->period))) goto out;
    cli_progress prog;
    cli_progress_init(&prog, "demo", 0);
    tsl_automl_opts ao;
    cli_automl_setup(ds, &mo, ds->period, &prog, &ao, &ts);
    ao.evaluate_auto = 1;
    tsl_err err = tsl_automl_run(ts, ds->nseries, &ao, &res, &d);
    cli_progress_done(&prog);
    if (err) {
        rc = cli_fail("%s", tsl_diag_msg(&d));
        goto out;
    }

    printf("\nbacktest: next-day forecasts (24 hours) from %zu origins per site, ranked by %s\n\n",
           ao.windows, tsl_metric_name(ao.metric));
    cli_leaderboard_print(stdout, res);
    printf("\nwhat each site got, and why:\n");
    for (size_t i = 0; i < res->nseries; i++)
        printf("  %-12s %-22s %s\n", ds->series[i].item_id,
               res->series[i].err ? "(none)" : res->series[i].model_name,
               res->series[i].err ? res->series[i].error : res->series[i].reason);
    print_profile(ds, 0, res);

    snprintf(path, sizeof path, "%s/forecast.csv", dir);
    tsl_wbuf header;
    tsl_wbuf_init(&header);
    tsl_fcsv_header(&header, res->levels, res->nq);
    cli_rows_ctx fc = {ds, res};
    err = tsl_output_write_rows(path, tsl_wbuf_cstr(&header), res->nseries, cli_forecast_rows, &fc,
                                &d);
    tsl_wbuf_release(&header);
    if (err) {
        rc = cli_fail("%s", tsl_diag_msg(&d));
        goto out;
    }
    printf("\nforecast for the next 24 hours of every site -> %s (%.1f s in all)\n", path,
           res->seconds);
    printf("try: tsloop backtest -i %s/solar.csv -H 24 --models ets,theta,snaive\n", dir);
out:
    cli_model_opts_release(&mo);
    tsl_automl_result_free(res);
    tsl_free(ts);
    tsl_dataset_free(ds);
    tsl_free(y);
    tsl_free(site);
    return rc;
}
