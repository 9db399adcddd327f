/*
 * cmd_alarms.c - `tsloop alarms [NAME] [--history]`: every monitor's alarm state, or one with
 * its history of changes.
 *
 * A thin view over tsl_monitor_alarms_json: --json prints exactly what GET /v1/alarms and
 * GET /v1/alarms/NAME return.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "tsloop/monitor.h"
#include "tsloop/project.h"
#include "tsloop/store.h"

static const char usage_text[] =
    "usage: tsloop alarms [NAME] [--history] [--limit N] [--json]\n"
    "\n"
    "Prints every monitor's alarm: its state (OK, ALARM or INSUFFICIENT_DATA), the latest\n"
    "datapoint against the threshold, since when, and why. With NAME, that monitor's alarm and\n"
    "its settings; --history adds its state changes, newest first.\n"
    "\n"
    "      --project DIR    the project's directory, instead of searching upwards\n"
    "      --history        the state changes (with NAME)\n"
    "      --limit N        at most N changes (default 50; 0: all)\n"
    "      --json           as GET /v1/alarms[/NAME] returns it (with the history)\n"
    "  -h, --help           this help\n";

enum { OPT_HISTORY = CLI_OPT_OWN, OPT_LIMIT };

static const struct option long_opts[] = {{"project", required_argument, NULL, CLI_OPT_PROJECT},
                                          {"history", no_argument, NULL, OPT_HISTORY},
                                          {"limit", required_argument, NULL, OPT_LIMIT},
                                          {"json", no_argument, NULL, CLI_OPT_JSON},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};

/* A number or "-". */
static const char *fmt_num(json_t *v, char *buf, size_t cap) {
    if (json_is_number(v))
        snprintf(buf, cap, "%.6g", json_number_value(v));
    else
        snprintf(buf, cap, "-");
    return buf;
}

static const char *str_or(json_t *o, const char *key, const char *def) {
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : def;
}

/* One alarm as a table row. */
static void print_alarm(json_t *a) {
    char v[32], t[32];
    printf("%-24s %-17s %12s %12s  %-20s %s\n", str_or(a, "monitor", "?"), str_or(a, "state", "?"),
           fmt_num(json_object_get(a, "value"), v, sizeof v),
           fmt_num(json_object_get(a, "threshold"), t, sizeof t), str_or(a, "changed_at", "-"),
           str_or(a, "reason", ""));
}

int cmd_alarms(int argc, char **argv) {
    const char *project = NULL, *name = NULL;
    long limit = 50;
    int json = 0, history = 0, c, rc = CLI_OK;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (c) {
        case CLI_OPT_PROJECT:
            project = optarg;
            break;
        case OPT_HISTORY:
            history = 1;
            break;
        case OPT_LIMIT:
            if (cli_parse_long("alarms", "--limit", optarg, 0, 100000000, &limit)) return CLI_USAGE;
            break;
        case CLI_OPT_JSON:
            json = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return CLI_OK;
        default:
            return cli_usage_error("alarms", "unknown or incomplete option");
        }
    }
    if (optind < argc) name = argv[optind++];
    if (optind < argc) return cli_usage_error("alarms", "unexpected argument '%s'", argv[optind]);
    if (history && !name) return cli_usage_error("alarms", "--history needs a monitor NAME");
    tsl_project *p = NULL;
    tsl_store *s = NULL;
    json_t *out = NULL;
    tsl_diag d = {TSL_OK, {0}};
    if ((rc = cli_open(project, &p, &s))) return rc;
    if (tsl_monitor_alarms_json(s, p->cfg, name, (size_t)limit, &out, &d)) {
        rc = cli_fail("%s", tsl_diag_msg(&d));
        goto out;
    }
    if (json) {
        cli_json_print(out); /* takes the reference */
        out = NULL;
        goto out;
    }
    printf("%-24s %-17s %12s %12s  %-20s %s\n", "MONITOR", "STATE", "VALUE", "THRESHOLD", "SINCE",
           "REASON");
    if (!name) {
        json_t *arr = json_object_get(out, "alarms");
        for (size_t i = 0; i < json_array_size(arr); i++) print_alarm(json_array_get(arr, i));
        if (!json_array_size(arr))
            printf("(no monitors: declare them under monitors: in tsloop.yaml)\n");
        goto out;
    }
    print_alarm(out);
    if (!history) goto out;
    json_t *h = json_object_get(out, "history");
    printf("\n%-6s %-20s %-17s %-17s %12s %12s  %s\n", "ID", "AT", "FROM", "TO", "VALUE",
           "THRESHOLD", "REASON");
    for (size_t i = 0; i < json_array_size(h); i++) {
        json_t *e = json_array_get(h, i);
        char v[32], t[32];
        printf("%-6lld %-20s %-17s %-17s %12s %12s  %s\n",
               (long long)json_integer_value(json_object_get(e, "id")), str_or(e, "at", "-"),
               str_or(e, "previous", "?"), str_or(e, "state", "?"),
               fmt_num(json_object_get(e, "value"), v, sizeof v),
               fmt_num(json_object_get(e, "threshold"), t, sizeof t), str_or(e, "reason", ""));
    }
out:
    json_decref(out);
    tsl_store_close(s);
    tsl_project_free(p);
    return rc;
}
