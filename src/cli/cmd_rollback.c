/*
 * cmd_rollback.c - `tsloop rollback --endpoint NAME`: point an endpoint back at the version it
 * served before its current one.
 *
 * A rollback is a new deployment (history is never rewritten); rolling back twice walks back
 * two deployments. The version rolled back to was deployable when it was deployed, so the
 * approval rule is not applied again: a rollback is the emergency exit and must not be
 * blocked by the state it escapes.
 */
#include <getopt.h>
#include <jansson.h>
#include <string.h>

#include "cli/cli.h"
#include "tsloop/mem.h"
#include "tsloop/project.h"
#include "tsloop/store.h"

static const char usage_text[] =
    "usage: tsloop rollback --endpoint NAME [--why TEXT] [--json]\n"
    "\n"
    "Points endpoint NAME back at the version its current deployment replaced. Recorded as a\n"
    "new deployment; a second rollback goes one deployment further back.\n"
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

int cmd_rollback(int argc, char **argv) {
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
            return cli_usage_error("rollback", "unknown or incomplete option");
        }
    }
    if (argc != optind) return cli_usage_error("rollback", "takes no arguments, only options");
    if (!endpoint) return cli_usage_error("rollback", "--endpoint NAME is required");
    tsl_project *p = NULL;
    tsl_store *s = NULL;
    int rc = cli_open(project, &p, &s);
    if (rc) return rc;
    tsl_diag d = {TSL_OK, {0}};
    tsl_store_deployment dp = {0};
    if (tsl_store_rollback(s, endpoint, cli_who(), why, &dp, &d))
        rc = cli_fail("%s", tsl_diag_msg(&d));
    else if (json)
        cli_json_print(cli_deployment_json(&dp));
    else
        printf("rolled %s back to %s/%d\n", endpoint, dp.forecaster, dp.version);
    tsl_store_deployment_release(&dp);
    tsl_store_close(s);
    tsl_project_free(p);
    return rc;
}
