/*
 * cmd_params.c - `tsloop params get|set|history|list`: versioned parameters.
 *
 * Thresholds and hyperparameters that should change without editing tsloop.yaml live here:
 * every set is a new version with who (the OS user), when and why, and any version can be read
 * back. The store keeps them (store.h); this is their command line.
 */
#include <getopt.h>
#include <jansson.h>
#include <string.h>

#include "cli/cli.h"
#include "tsloop/mem.h"
#include "tsloop/project.h"
#include "tsloop/store.h"

static const char usage_text[] =
    "usage: tsloop params get KEY [--version V] [--json]\n"
    "       tsloop params set KEY VALUE [--why TEXT] [--json]\n"
    "       tsloop params history KEY [--json]\n"
    "       tsloop params list [--json]\n"
    "\n"
    "Versioned parameters (thresholds, hyperparameters). set stores VALUE as KEY's next version\n"
    "with who (the OS user) and why; get prints the latest (or --version V); history every\n"
    "version; list the latest of every key. KEY: 1-128 characters of letters, digits, _ . - /\n"
    "(e.g. solar/threshold).\n"
    "\n"
    "      --project DIR    the project's directory, instead of searching upwards\n"
    "      --version V      get: that version instead of the latest\n"
    "      --why TEXT       set: why (recorded)\n"
    "      --json           JSON on stdout\n"
    "  -h, --help           this help\n";

enum { OPT_VERSION = CLI_OPT_OWN, OPT_WHY };

static const struct option long_opts[] = {{"project", required_argument, NULL, CLI_OPT_PROJECT},
                                          {"version", required_argument, NULL, OPT_VERSION},
                                          {"why", required_argument, NULL, OPT_WHY},
                                          {"json", no_argument, NULL, CLI_OPT_JSON},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};

/* A parameter version as JSON. */
static json_t *param_json(const tsl_store_param *p) {
    char at[40];
    cli_format_ms(p->at_ms, at, sizeof at);
    return json_pack("{s:s, s:i, s:s, s:s, s:s, s:s}", "key", p->key, "version", p->version,
                     "value", p->value, "who", p->who, "why", p->why, "at", at);
}

/* A parameter version as a line of `params history`. */
static void param_line(const tsl_store_param *p) {
    char at[40];
    cli_format_ms(p->at_ms, at, sizeof at);
    printf("%-6d %-20s %-16s %s%s%s\n", p->version, at, p->who, p->value, p->why[0] ? "   # " : "",
           p->why);
}

int cmd_params(int argc, char **argv) {
    static const char *const subs[] = {"get", "set", "history", "list"};
    int sub = cli_subcommand("params", argc, argv, subs, 4, usage_text);
    if (sub == -2) return CLI_OK;
    if (sub < 0) return CLI_USAGE;
    const char *project = NULL, *why = "";
    long version = 0;
    int json = 0, c;
    optind = 1; /* options follow the subcommand: parse argv from it on */
    while ((c = getopt_long(argc - 1, argv + 1, "h", long_opts, NULL)) != -1) {
        switch (c) {
        case CLI_OPT_PROJECT:
            project = optarg;
            break;
        case OPT_VERSION:
            if (cli_parse_long("params", "--version", optarg, 1, 1000000000, &version))
                return CLI_USAGE;
            break;
        case OPT_WHY:
            why = optarg;
            break;
        case CLI_OPT_JSON:
            json = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return CLI_OK;
        default:
            return cli_usage_error("params", "unknown or incomplete option");
        }
    }
    int nargs = argc - 1 - optind;
    char **args = argv + 1 + optind;
    static const int want[] = {1, 2, 1, 0};
    static const char *const shape[] = {"KEY", "KEY VALUE", "KEY", "no argument"};
    if (nargs != want[sub]) return cli_usage_error("params", "%s takes %s", subs[sub], shape[sub]);
    tsl_project *p = NULL;
    tsl_store *s = NULL;
    int rc = cli_open(project, &p, &s);
    if (rc) return rc;
    tsl_diag d = {TSL_OK, {0}};
    if (sub == 0) {
        tsl_store_param pr;
        if (tsl_store_param_get(s, args[0], (int)version, &pr, &d)) {
            rc = cli_fail("%s", tsl_diag_msg(&d));
        } else {
            if (json)
                cli_json_print(param_json(&pr));
            else
                printf("%s\n", pr.value);
            tsl_store_param_release(&pr);
        }
    } else if (sub == 1) {
        int v = 0;
        if (tsl_store_param_set(s, args[0], args[1], cli_who(), why, &v, &d))
            rc = cli_fail("%s", tsl_diag_msg(&d));
        else if (json)
            cli_json_print(
                json_pack("{s:s, s:i, s:s}", "key", args[0], "version", v, "value", args[1]));
        else
            printf("%s = %s (version %d)\n", args[0], args[1], v);
    } else {
        tsl_store_param *list = NULL;
        size_t n = 0;
        tsl_err err = sub == 2 ? tsl_store_param_history(s, args[0], &list, &n, &d)
                               : tsl_store_param_list(s, &list, &n, &d);
        if (err) {
            rc = cli_fail("%s", tsl_diag_msg(&d));
        } else if (json) {
            json_t *arr = json_array();
            for (size_t i = 0; i < n; i++) json_array_append_new(arr, param_json(&list[i]));
            cli_json_print(arr);
        } else if (sub == 2) {
            printf("%-6s %-20s %-16s %s\n", "ver", "at", "who", "value");
            for (size_t i = 0; i < n; i++) param_line(&list[i]);
        } else {
            for (size_t i = 0; i < n; i++)
                printf("%-32s %s   (version %d)\n", list[i].key, list[i].value, list[i].version);
            if (!n) printf("(no parameters)\n");
        }
        tsl_store_param_list_free(list, n);
    }
    tsl_store_close(s);
    tsl_project_free(p);
    return rc;
}
