/*
 * cmd_endpoints.c - `tsloop endpoints [NAME]`: what every endpoint serves, or one endpoint's
 * deployment history.
 *
 * Endpoints declared in tsloop.yaml but never deployed to are listed too, so the listing
 * answers "what will the daemon serve" for the whole configuration.
 */
#include <getopt.h>
#include <jansson.h>
#include <string.h>

#include "cli/cli.h"
#include "tsloop/mem.h"
#include "tsloop/project.h"
#include "tsloop/store.h"

static const char usage_text[] =
    "usage: tsloop endpoints [NAME] [--limit N] [--json]\n"
    "\n"
    "Without NAME: every endpoint, the version it serves, when it last moved, the version\n"
    "running in shadow there with its progress (windows evaluated of those wanted) and its\n"
    "rules from tsloop.yaml (endpoints declared but never deployed to show '-'). With NAME:\n"
    "its deployment history, newest first.\n"
    "\n"
    "      --limit N        history: at most N deployments (default 20)\n"
    "      --project DIR    the project's directory, instead of searching upwards\n"
    "      --json           JSON on stdout\n"
    "  -h, --help           this help\n";

enum { OPT_LIMIT = CLI_OPT_OWN };

static const struct option long_opts[] = {{"limit", required_argument, NULL, OPT_LIMIT},
                                          {"project", required_argument, NULL, CLI_OPT_PROJECT},
                                          {"json", no_argument, NULL, CLI_OPT_JSON},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};

/* The rules of endpoint name as a short text ("approval required, auto_deploy on_approval"). */
static void rules_text(const tsl_config *cfg, const char *name, char *buf, size_t cap) {
    const tsl_config_endpoint *e = tsl_config_endpoint_find(cfg, name);
    if (!e) {
        snprintf(buf, cap, "approval required (not declared)");
        return;
    }
    snprintf(buf, cap, "%s%s%s%s%s", e->requires_approval ? "approval required" : "any status",
             e->forecaster ? ", forecaster " : "", e->forecaster ? e->forecaster : "",
             e->auto_deploy ? ", auto_deploy " : "",
             e->auto_deploy ? tsl_auto_deploy_name(e->auto_deploy) : "");
}

/* Adds an endpoint's rules to its JSON object j. */
static void rules_json(const tsl_config *cfg, const char *name, json_t *j) {
    const tsl_config_endpoint *e = tsl_config_endpoint_find(cfg, name);
    json_object_set_new(j, "declared", json_boolean(e != NULL));
    json_object_set_new(j, "requires_approval", json_boolean(e ? e->requires_approval : 1));
    json_object_set_new(j, "auto_deploy",
                        json_string(tsl_auto_deploy_name(e ? e->auto_deploy : 0)));
    if (e && e->forecaster) json_object_set_new(j, "serves", json_string(e->forecaster));
}

/* The running shadow of endpoint among sh[0..n), or NULL. */
static const tsl_store_shadow *shadow_of(const tsl_store_shadow *sh, size_t n,
                                         const char *endpoint) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(sh[i].endpoint, endpoint)) return &sh[i];
    return NULL;
}

/* Prints every endpoint (deployed ones from the store, then declared ones never deployed). */
static int list_all(const tsl_project *p, tsl_store *s, int json) {
    tsl_diag d = {TSL_OK, {0}};
    tsl_store_deployment *v = NULL;
    tsl_store_shadow *sh = NULL;
    size_t n = 0, nsh = 0;
    char rules[256], at[40];
    if (tsl_store_endpoint_list(s, &v, &n, &d)) return cli_fail("%s", tsl_diag_msg(&d));
    if (tsl_store_shadow_list(s, NULL, NULL, 0, 1, 0, &sh, &nsh, &d)) {
        tsl_store_deployment_list_free(v, n);
        return cli_fail("%s", tsl_diag_msg(&d));
    }
    json_t *arr = json ? json_array() : NULL;
    if (!json)
        printf("%-20s %-28s %-20s %-28s %s\n", "endpoint", "version", "since", "shadow", "rules");
    for (size_t i = 0; i < n; i++) {
        const tsl_store_shadow *x = shadow_of(sh, nsh, v[i].endpoint);
        if (json) {
            json_t *j = cli_deployment_json(&v[i]);
            rules_json(p->cfg, v[i].endpoint, j);
            json_object_set_new(j, "shadow",
                                x ? json_pack("{s:s, s:i, s:i, s:i, s:I}", "forecaster",
                                              x->forecaster, "version", x->version, "windows",
                                              x->windows, "progress", x->progress, "started_ms",
                                              (json_int_t)x->started_ms)
                                  : json_null());
            json_array_append_new(arr, j);
            continue;
        }
        char ver[TSL_STORE_NAME_MAX + 16], shv[TSL_STORE_NAME_MAX + 48] = "-";
        snprintf(ver, sizeof ver, "%s/%d", v[i].forecaster, v[i].version);
        if (x)
            snprintf(shv, sizeof shv, "%s/%d (%d/%d windows)", x->forecaster, x->version,
                     x->progress, x->windows);
        cli_format_ms(v[i].at_ms, at, sizeof at);
        rules_text(p->cfg, v[i].endpoint, rules, sizeof rules);
        printf("%-20s %-28s %-20s %-28s %s\n", v[i].endpoint, ver, at, shv, rules);
    }
    tsl_store_shadow_list_free(sh, nsh);
    size_t shown = n;
    for (size_t k = 0; k < p->cfg->nendpoints; k++) {
        const char *name = p->cfg->endpoints[k].name;
        int found = 0;
        for (size_t i = 0; i < n && !found; i++) found = !strcmp(v[i].endpoint, name);
        if (found) continue;
        shown++;
        if (json) {
            json_t *j = json_pack("{s:s, s:n}", "endpoint", name, "version");
            rules_json(p->cfg, name, j);
            json_array_append_new(arr, j);
        } else {
            rules_text(p->cfg, name, rules, sizeof rules);
            printf("%-20s %-28s %-20s %-28s %s\n", name, "-", "-", "-", rules);
        }
    }
    if (json)
        cli_json_print(arr);
    else if (!shown)
        printf("(no endpoints: tsloop deploy VERSION --endpoint NAME makes one)\n");
    tsl_store_deployment_list_free(v, n);
    return CLI_OK;
}

int cmd_endpoints(int argc, char **argv) {
    const char *project = NULL;
    long limit = 20;
    int json = 0, c;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_LIMIT:
            if (cli_parse_long("endpoints", "--limit", optarg, 1, 1000000, &limit))
                return CLI_USAGE;
            break;
        case CLI_OPT_PROJECT:
            project = optarg;
            break;
        case CLI_OPT_JSON:
            json = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return CLI_OK;
        default:
            return cli_usage_error("endpoints", "unknown or incomplete option");
        }
    }
    if (argc - optind > 1) return cli_usage_error("endpoints", "expected at most one NAME");
    tsl_project *p = NULL;
    tsl_store *s = NULL;
    int rc = cli_open(project, &p, &s);
    if (rc) return rc;
    if (argc == optind) {
        rc = list_all(p, s, json);
    } else {
        tsl_diag d = {TSL_OK, {0}};
        tsl_store_deployment *v = NULL;
        size_t n = 0;
        if (tsl_store_deployment_history(s, argv[optind], (size_t)limit, &v, &n, &d)) {
            rc = cli_fail("%s", tsl_diag_msg(&d));
        } else if (json) {
            json_t *arr = json_array();
            for (size_t i = 0; i < n; i++) json_array_append_new(arr, cli_deployment_json(&v[i]));
            cli_json_print(arr);
        } else {
            printf("%-8s %-28s %-9s %-20s %-16s %s\n", "id", "version", "action", "at", "who",
                   "why");
            for (size_t i = 0; i < n; i++) {
                char ver[TSL_STORE_NAME_MAX + 16], at[40];
                snprintf(ver, sizeof ver, "%s/%d", v[i].forecaster, v[i].version);
                cli_format_ms(v[i].at_ms, at, sizeof at);
                printf("%-8lld %-28s %-9s %-20s %-16s %s\n", (long long)v[i].id, ver,
                       v[i].rollback ? "rollback" : "deploy", at, v[i].who, v[i].why);
            }
        }
        tsl_store_deployment_list_free(v, n);
    }
    tsl_store_close(s);
    tsl_project_free(p);
    return rc;
}
