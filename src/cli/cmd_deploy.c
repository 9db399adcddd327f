/*
 * cmd_deploy.c - `tsloop deploy VERSION --endpoint NAME`: point an endpoint at a model version.
 *
 * The store does the moving (one transaction, an event, history kept for rollback); this
 * command adds the project's rules: an endpoint declared in tsloop.yaml with a forecaster only
 * takes that forecaster's versions, and requires_approval (the default) refuses versions that
 * are not Approved. A running `tsloop serve` picks the new version up within a second.
 *
 * With --shadow the version runs beside the live one instead (docs/retraining.md): its
 * forecasts are captured and compared, never served, so approval is not required (the
 * comparison is how a pending version earns it); --stop ends the endpoint's shadow.
 */
#include <getopt.h>
#include <jansson.h>
#include <string.h>

#include "cli/cli.h"
#include "tsloop/mem.h"
#include "tsloop/project.h"
#include "tsloop/registry.h"
#include "tsloop/shadow.h"
#include "tsloop/store.h"

static const char usage_text[] =
    "usage: tsloop deploy VERSION --endpoint NAME [--why TEXT] [--json]\n"
    "       tsloop deploy VERSION --endpoint NAME --shadow [--windows N] [--why TEXT] [--json]\n"
    "       tsloop deploy --endpoint NAME --shadow --stop [--why TEXT] [--json]\n"
    "\n"
    "Points endpoint NAME at model version VERSION (ENTRY/N, or ENTRY for its latest version),\n"
    "creating the endpoint on first use. Versions that are not Approved are refused unless\n"
    "the endpoint sets requires_approval: false in tsloop.yaml; Rejected versions always are.\n"
    "Deploying the current version again changes nothing. The previous version is kept for\n"
    "`tsloop rollback`.\n"
    "\n"
    "--shadow runs VERSION in shadow on the endpoint instead: for every forecast the endpoint\n"
    "captures, VERSION's forecast is captured too (flagged shadow) and never returned. After\n"
    "N evaluation windows (forecast origins whose actuals arrived; default: the forecaster's\n"
    "compare.windows, 7) both are compared on the same forecasts and the approval policy\n"
    "decides. VERSION must be of the entry the endpoint serves, not the live version and not\n"
    "Rejected (it need not be Approved). A shadow already running is superseded. --stop ends\n"
    "the endpoint's shadow.\n"
    "\n"
    "      --endpoint NAME  the endpoint (required)\n"
    "      --shadow         run VERSION in shadow rather than live\n"
    "      --windows N      --shadow: evaluation windows before the comparison (1-10000)\n"
    "      --stop           --shadow: end the endpoint's shadow\n"
    "      --why TEXT       why (recorded with the deployment)\n"
    "      --project DIR    the project's directory, instead of searching upwards\n"
    "      --json           the deployment as JSON on stdout\n"
    "  -h, --help           this help\n";

enum { OPT_ENDPOINT = CLI_OPT_OWN, OPT_WHY, OPT_SHADOW, OPT_WINDOWS, OPT_STOP };

static const struct option long_opts[] = {{"endpoint", required_argument, NULL, OPT_ENDPOINT},
                                          {"why", required_argument, NULL, OPT_WHY},
                                          {"shadow", no_argument, NULL, OPT_SHADOW},
                                          {"windows", required_argument, NULL, OPT_WINDOWS},
                                          {"stop", no_argument, NULL, OPT_STOP},
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

/* A shadow as JSON. */
static json_t *shadow_json(const tsl_store_shadow *sh) {
    return json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:s, s:s?}", "endpoint", sh->endpoint,
                     "forecaster", sh->forecaster, "version", sh->version, "champion_version",
                     sh->champion_version, "windows", sh->windows, "progress", sh->progress,
                     "outcome", tsl_shadow_outcome_name(sh->outcome), "why", sh->why);
}

/* --shadow: starts (ref set) or stops the endpoint's shadow. */
static int shadow_cmd(const char *project, const char *endpoint, const char *ref, long windows,
                      int stop, const char *why, int json) {
    tsl_project *p = NULL;
    tsl_store *s = NULL;
    tsl_store_shadow sh = {0};
    tsl_diag d = {TSL_OK, {0}};
    char entry[TSL_STORE_NAME_MAX + 1];
    int version = 0;
    if (ref && tsl_registry_ref_parse(ref, entry, &version, &d))
        return cli_usage_error("deploy", "%s", tsl_diag_msg(&d));
    int rc = cli_open(project, &p, &s);
    if (rc) return rc;
    if (stop) {
        if (tsl_shadow_stop(s, endpoint, cli_who(), why, &sh, &d)) {
            rc = cli_fail("%s", tsl_diag_msg(&d));
            goto out;
        }
        if (json) {
            json_t *j = shadow_json(&sh);
            json_object_set_new(j, "outcome", json_string("stopped"));
            cli_json_print(j);
        } else {
            printf("stopped the shadow of %s/%d on %s after %d of %d windows\n", sh.forecaster,
                   sh.version, endpoint, sh.progress, sh.windows);
        }
        goto out;
    }
    if (!windows) {
        const tsl_config_forecaster *f = tsl_shadow_forecaster_of(p->cfg, entry);
        windows = f && f->compare_windows > 0 ? f->compare_windows : TSL_SHADOW_DEFAULT_WINDOWS;
    }
    if (tsl_store_shadow_start(s, endpoint, entry, version, (int)windows, cli_who(), why, &sh,
                               &d)) {
        rc = cli_fail("%s", tsl_diag_msg(&d));
        goto out;
    }
    if (json)
        cli_json_print(shadow_json(&sh));
    else
        printf("%s/%d runs in shadow on %s beside %s/%d for %d windows\n", sh.forecaster,
               sh.version, endpoint, sh.forecaster, sh.champion_version, sh.windows);
out:
    tsl_store_shadow_release(&sh);
    tsl_store_close(s);
    tsl_project_free(p);
    return rc;
}

int cmd_deploy(int argc, char **argv) {
    const char *project = NULL, *endpoint = NULL, *why = "";
    int json = 0, c, shadow = 0, stop = 0;
    long windows = 0;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_ENDPOINT:
            endpoint = optarg;
            break;
        case OPT_WHY:
            why = optarg;
            break;
        case OPT_SHADOW:
            shadow = 1;
            break;
        case OPT_STOP:
            stop = 1;
            break;
        case OPT_WINDOWS:
            if (cli_parse_long("deploy", "--windows", optarg, 1, 10000, &windows)) return CLI_USAGE;
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
    if (!endpoint) return cli_usage_error("deploy", "--endpoint NAME is required");
    if ((stop || windows) && !shadow)
        return cli_usage_error("deploy", "--stop and --windows go with --shadow");
    if (stop && (windows || argc != optind))
        return cli_usage_error("deploy", "--shadow --stop takes no VERSION and no --windows");
    if (shadow && stop) return shadow_cmd(project, endpoint, NULL, 0, 1, why, json);
    if (argc - optind != 1) return cli_usage_error("deploy", "expected one VERSION");
    if (shadow) return shadow_cmd(project, endpoint, argv[optind], windows, 0, why, json);
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
