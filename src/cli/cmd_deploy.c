/*
 * cmd_deploy.c - `tsloop deploy VERSION --endpoint NAME`: point an endpoint at a model version.
 *
 * The store does the moving (one transaction, an event, history kept for rollback); this
 * command adds the project's rules: an endpoint declared in tsloop.yaml with a forecaster only
 * takes that forecaster's versions, and requires_approval (the default) refuses versions that
 * are not Approved. A running `tsloop serve` picks the new version up within a second.
 */
#include <getopt.h>
#include <jansson.h>
#include <string.h>

#include "cli/cli.h"
#include "tsloop/mem.h"
#include "tsloop/project.h"
#include "tsloop/registry.h"
#include "tsloop/store.h"

static const char usage_text[] =
    "usage: tsloop deploy VERSION --endpoint NAME [--why TEXT] [--json]\n"
    "\n"
    "Points endpoint NAME at model version VERSION (ENTRY/N, or ENTRY for its latest version),\n"
    "creating the endpoint on first use. Versions that are not Approved are refused unless\n"
    "the endpoint sets requires_approval: false in tsloop.yaml; Rejected versions always are.\n"
    "Deploying the current version again changes nothing. The previous version is kept for\n"
    "`tsloop rollback`.\n"
    "\n"
    "      --endpoint NAME  the endpoint (required)\n"
    "      --why TEXT       why (recorded with the deployment)\n"
    "      --project DIR    the project's directory, instead of searching upwards\n"
    "      --json           the deployment as JSON on stdout\n"
    "  -h, --help           this help\n";

enum { OPT_ENDPOINT = CLI_OPT_OWN, OPT_WHY };

static const struct option long_opts[] = {{"endpoint", required_argument, NULL, OPT_ENDPOINT},
                                          {"why", required_argument, NULL, OPT_WHY},
                                          {"project", required_argument, NULL, CLI_OPT_PROJECT},
                                          {"json", no_argument, NULL, CLI_OPT_JSON},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};

/* Whether registry entry `entry` holds versions of forecaster f: its own entry, or one of
 * its split_by groups (f.VALUES). */
static int entry_of(const char *entry, const char *f) {
    size_t n = strlen(f);
    return !strncmp(entry, f, n) && (entry[n] == '\0' || entry[n] == '.');
}

int cmd_deploy(int argc, char **argv) {
    const char *project = NULL, *endpoint = NULL, *why = "";
    int json = 0, c;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_ENDPOINT:
            endpoint = optarg;
            break;
        case OPT_WHY:
            why = optarg;
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
            return cli_usage_error("deploy", "unknown or incomplete option");
        }
    }
    if (argc - optind != 1) return cli_usage_error("deploy", "expected one VERSION");
    if (!endpoint) return cli_usage_error("deploy", "--endpoint NAME is required");
    char entry[TSL_STORE_NAME_MAX + 1];
    int version = 0;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_registry_ref_parse(argv[optind], entry, &version, &d))
        return cli_usage_error("deploy", "%s", tsl_diag_msg(&d));
    tsl_project *p = NULL;
    tsl_store *s = NULL;
    int rc = cli_open(project, &p, &s);
    if (rc) return rc;
    const tsl_config_endpoint *ec = tsl_config_endpoint_find(p->cfg, endpoint);
    tsl_store_deployment before = {0}, dp = {0};
    int had = 0;
    if (ec && ec->forecaster && !entry_of(entry, ec->forecaster)) {
        rc = cli_fail("endpoint '%s' serves forecaster '%s' (tsloop.yaml line %d), not '%s'",
                      endpoint, ec->forecaster, ec->line, entry);
        goto out;
    }
    tsl_err err = tsl_store_endpoint_get(s, endpoint, &before, &d);
    if (err && err != TSL_ENOTFOUND) {
        rc = cli_fail("%s", tsl_diag_msg(&d));
        goto out;
    }
    had = !err;
    if (tsl_store_deploy(s, endpoint, entry, version,
                         cli_endpoint_requires_approval(p->cfg, endpoint), cli_who(), why, &dp,
                         &d)) {
        rc = cli_fail("%s", tsl_diag_msg(&d));
        goto out;
    }
    if (json) {
        json_t *j = cli_deployment_json(&dp);
        json_object_set_new(j, "changed", json_boolean(!had || before.id != dp.id));
        cli_json_print(j);
    } else if (had && before.id == dp.id) {
        printf("%s already serves %s/%d: nothing changed\n", endpoint, dp.forecaster, dp.version);
    } else if (had) {
        printf("deployed %s/%d to %s (was %s/%d)\n", dp.forecaster, dp.version, endpoint,
               before.forecaster, before.version);
    } else {
        printf("deployed %s/%d to %s (a new endpoint)\n", dp.forecaster, dp.version, endpoint);
    }
out:
    tsl_store_deployment_release(&before);
    tsl_store_deployment_release(&dp);
    tsl_store_close(s);
    tsl_project_free(p);
    return rc;
}
