/*
 * cmd_metrics.c - `tsloop metrics`: the metric datapoints the evaluator stored, per window.
 *
 * A thin view over tsl_monitor_metrics_json: --json prints exactly what GET /v1/metrics
 * returns, the text form a table of the same rows.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "tsloop/monitor.h"
#include "tsloop/project.h"
#include "tsloop/store.h"
#include "tsloop/time.h"

static const char usage_text[] =
    "usage: tsloop metrics [--monitor M | --endpoint E] [--item I] [--metric m] [--step K]\n"
    "                      [--since T] [--limit N] [--json]\n"
    "\n"
    "Prints the metric datapoints computed from captured forecasts and the actuals that\n"
    "arrived: one row per evaluation window, oldest first. By default the aggregate over items\n"
    "and over all horizon steps, every metric, of the last 20 windows.\n"
    "\n"
    "      --project DIR    the project's directory, instead of searching upwards\n"
    "      --monitor M      the monitor's datapoints\n"
    "      --endpoint E     the datapoints about endpoint E (every monitor of it)\n"
    "      --item I         item I instead of the aggregate ('*': every item and the aggregate)\n"
    "      --metric m       one metric (mae, rmse, mape, smape, mase, wape, mean_wql, coverage;\n"
    "                       missed; a drift statistic; a quality check such as flagged)\n"
    "      --step K         horizon step K (1-based) instead of all steps ('*': every step)\n"
    "      --since T        windows starting at or after T (ISO-8601 date or time)\n"
    "      --limit N        the last N windows (default 20; 0: all)\n"
    "      --json           the datapoints as JSON, as GET /v1/metrics returns them\n"
    "  -h, --help           this help\n";

enum {
    OPT_MONITOR = CLI_OPT_OWN,
    OPT_ENDPOINT,
    OPT_ITEM,
    OPT_METRIC,
    OPT_STEP,
    OPT_SINCE,
    OPT_LIMIT
};

static const struct option long_opts[] = {{"project", required_argument, NULL, CLI_OPT_PROJECT},
                                          {"monitor", required_argument, NULL, OPT_MONITOR},
                                          {"endpoint", required_argument, NULL, OPT_ENDPOINT},
                                          {"item", required_argument, NULL, OPT_ITEM},
                                          {"metric", required_argument, NULL, OPT_METRIC},
                                          {"step", required_argument, NULL, OPT_STEP},
                                          {"since", required_argument, NULL, OPT_SINCE},
                                          {"limit", required_argument, NULL, OPT_LIMIT},
                                          {"json", no_argument, NULL, CLI_OPT_JSON},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};

/* One datapoint as a table row. */
static void print_row(json_t *p) {
    const char *item = json_string_value(json_object_get(p, "item"));
    json_t *step = json_object_get(p, "step"), *v = json_object_get(p, "value");
    char stepbuf[16] = "all", val[32] = "-";
    if (json_is_integer(step))
        snprintf(stepbuf, sizeof stepbuf, "%lld", (long long)json_integer_value(step));
    if (json_is_number(v)) snprintf(val, sizeof val, "%.6g", json_number_value(v));
    printf("%-24s %-20s %-12s %-5s %-9s %12s %8lld\n",
           json_string_value(json_object_get(p, "window")),
           json_string_value(json_object_get(p, "monitor")), item ? item : "(all)", stepbuf,
           json_string_value(json_object_get(p, "metric")), val,
           (long long)json_integer_value(json_object_get(p, "n")));
}

/* Whether name is a datapoint metric of a freshness, drift or quality monitor. */
static int monitor_metric(const char *name) {
    tsl_quality_arrival_check c;
    if (!strcmp(name, "missed") || tsl_quality_arrival_parse(name, &c, NULL) == TSL_OK) return 1;
    for (int st = TSL_DRIFT_STAT_SHARE; st <= TSL_DRIFT_STAT_PAGE_HINKLEY; st++)
        if (!strcmp(name, tsl_drift_statistic_name((tsl_drift_statistic)st))) return 1;
    return 0;
}

int cmd_metrics(int argc, char **argv) {
    const char *project = NULL;
    tsl_store_datapoint_query q;
    long limit = 20, step = 0;
    int json = 0, c, rc = CLI_OK, all_steps = 0;
    tsl_store_datapoint_query_init(&q);
    q.item = "";
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (c) {
        case CLI_OPT_PROJECT:
            project = optarg;
            break;
        case OPT_MONITOR:
            q.monitor = optarg;
            break;
        case OPT_ENDPOINT:
            q.endpoint = optarg;
            break;
        case OPT_ITEM:
            q.item = strcmp(optarg, "*") ? optarg : NULL;
            break;
        case OPT_METRIC: {
            tsl_metric m;
            tsl_diag d = {TSL_OK, {0}};
            if (!monitor_metric(optarg) && tsl_metric_parse(optarg, &m, &d))
                return cli_usage_error("metrics", "--metric: %s, or a drift statistic or quality "
                                                  "check",
                                       tsl_diag_msg(&d));
            q.metric = optarg;
            break;
        }
        case OPT_STEP:
            if (!strcmp(optarg, "*"))
                all_steps = 1;
            else if (cli_parse_long("metrics", "--step", optarg, 1, 100000, &step))
                return CLI_USAGE;
            break;
        case OPT_SINCE: {
            tsl_diag d = {TSL_OK, {0}};
            if (tsl_time_parse(optarg, strlen(optarg), &q.since, &d))
                return cli_usage_error("metrics", "--since: %s", tsl_diag_msg(&d));
            break;
        }
        case OPT_LIMIT:
            if (cli_parse_long("metrics", "--limit", optarg, 0, 100000000, &limit))
                return CLI_USAGE;
            break;
        case CLI_OPT_JSON:
            json = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return CLI_OK;
        default:
            return cli_usage_error("metrics", "unknown or incomplete option");
        }
    }
    if (optind < argc) return cli_usage_error("metrics", "unexpected argument '%s'", argv[optind]);
    if (q.monitor && q.endpoint)
        return cli_usage_error("metrics", "--monitor and --endpoint exclude each other");
    q.step = all_steps ? -1 : (int)step;
    q.limit = (size_t)limit;
    tsl_project *p = NULL;
    tsl_store *s = NULL;
    json_t *out = NULL;
    tsl_diag d = {TSL_OK, {0}};
    if ((rc = cli_open(project, &p, &s))) return rc;
    if (tsl_monitor_metrics_json(s, &q, &out, &d)) {
        rc = cli_fail("%s", tsl_diag_msg(&d));
        goto out;
    }
    if (json) {
        cli_json_print(out); /* takes the reference */
        out = NULL;
        goto out;
    }
    json_t *arr = json_object_get(out, "datapoints");
    if (!json_array_size(arr)) {
        printf("no datapoints%s\n",
               p->cfg->nmonitors ? " yet" : ": tsloop.yaml declares no monitor");
        goto out;
    }
    printf("%-24s %-20s %-12s %-5s %-9s %12s %8s\n", "WINDOW", "MONITOR", "ITEM", "STEP", "METRIC",
           "VALUE", "N");
    for (size_t i = 0; i < json_array_size(arr); i++) print_row(json_array_get(arr, i));
out:
    json_decref(out);
    tsl_store_close(s);
    tsl_project_free(p);
    return rc;
}
