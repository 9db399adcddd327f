/*
 * cmd_retrain.c - `tsloop retrain FORECASTER [--why TEXT]` (a manual retraining) and
 * `tsloop retrain --poll` (one round of the retrain trigger reactor, as the daemon runs it).
 *
 * A manual retraining is a pipeline request with trigger "manual" and the event
 * retrain.requested: never held back by cooldown or cap. --poll reads the events the reactor
 * has not dealt with yet (alarms, ingests) and requests or suppresses retrainings as the
 * daemon's thread would: it lets a cron job or a test drive the reactor without a daemon.
 * Both only request; --run also runs the requested executions here, as `tsloop train` does.
 */
#include <getopt.h>
#include <jansson.h>
#include <string.h>

#include "cli/cli.h"
#include "tsloop/mem.h"
#include "tsloop/pipeline.h"
#include "tsloop/project.h"
#include "tsloop/retrain.h"
#include "tsloop/store.h"

static const char usage_text[] =
    "usage: tsloop retrain FORECASTER [--why TEXT] [--run] [--json]\n"
    "       tsloop retrain --poll [--run] [--json]\n"
    "\n"
    "The first form requests a retraining of FORECASTER now (trigger manual: no cooldown, no\n"
    "daily cap) and records the event retrain.requested. The second deals with the alarms and\n"
    "ingests the retrain trigger has not seen yet, as the daemon does every quarter second:\n"
    "each one that asks for a retraining (retrain.on_alarm, retrain.on_new_data) is requested,\n"
    "or suppressed by retrain.cooldown or retrain.max_per_day, with an event either way.\n"
    "Executions are run by the daemon's pipeline workers or `tsloop runs resume`; --run runs\n"
    "them here until they end (those a crashed worker left too).\n"
    "\n"
    "      --project DIR    the project's directory, instead of searching upwards\n"
    "      --why TEXT       the reason, recorded in the event\n"
    "      --poll           one round of the retrain trigger\n"
    "      --run            run the requested executions here until they end\n"
    "      --json           the outcome as JSON on stdout\n"
    "  -h, --help           this help\n";

enum { OPT_WHY = CLI_OPT_OWN, OPT_POLL, OPT_RUN };

static const struct option long_opts[] = {{"project", required_argument, NULL, CLI_OPT_PROJECT},
                                          {"why", required_argument, NULL, OPT_WHY},
                                          {"poll", no_argument, NULL, OPT_POLL},
                                          {"run", no_argument, NULL, OPT_RUN},
                                          {"json", no_argument, NULL, CLI_OPT_JSON},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};

/* How long --run waits for a step retry that is due later (as `runs resume`: the policy's
 * delays are capped at 5 minutes). */
#define RUN_MAX_WAIT_MS (6 * 60 * 1000)

/* Runs every runnable execution here (those just requested among them, and any a crashed
 * worker left, waiting for their retries), until `until` ended when it is > 0; then returns. */
static int run_here(tsl_store *s, const tsl_config *cfg, const tsl_pipeline_opts *o,
                    int64_t until) {
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_pipeline_work(s, cfg, NULL, until, RUN_MAX_WAIT_MS, o, &d))
        return cli_fail("%s", tsl_diag_msg(&d));
    return CLI_OK;
}

int cmd_retrain(int argc, char **argv) {
    const char *project = NULL, *why = NULL;
    int json = 0, poll = 0, run = 0, c, rc = CLI_OK;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (c) {
        case CLI_OPT_PROJECT:
            project = optarg;
            break;
        case OPT_WHY:
            why = optarg;
            break;
        case OPT_POLL:
            poll = 1;
            break;
        case OPT_RUN:
            run = 1;
            break;
        case CLI_OPT_JSON:
            json = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return CLI_OK;
        default:
            return cli_usage_error("retrain", "unknown or incomplete option");
        }
    }
    if (poll == (optind < argc))
        return cli_usage_error("retrain", "expected a FORECASTER or --poll (one of them)");
    if (argc - optind > 1) return cli_usage_error("retrain", "expected one FORECASTER");
    if (poll && why) return cli_usage_error("retrain", "--why goes with a FORECASTER");

    tsl_project *p = NULL;
    tsl_store *s = NULL;
    tsl_diag d = {TSL_OK, {0}};
    tsl_pipeline_opts o;
    memset(&o, 0, sizeof o);
    o.who = cli_who();
    char delay_step[64];
    if ((rc = cli_test_delay("retrain", &o, delay_step, sizeof delay_step))) return rc;
    if ((rc = cli_open(project, &p, &s))) goto out;
    if (poll) {
        tsl_retrain_stats st;
        if (tsl_retrain_poll(s, p->cfg, &o, 0, &st, &d)) {
            rc = cli_fail("%s", tsl_diag_msg(&d));
            goto out;
        }
        if (run && (rc = run_here(s, p->cfg, &o, 0))) goto out;
        if (json)
            cli_json_print(json_pack("{s:I, s:I, s:I}", "events", (json_int_t)st.events,
                                     "requested", (json_int_t)st.requested, "suppressed",
                                     (json_int_t)st.suppressed));
        else
            printf("%zu events read: %zu retraining%s requested, %zu suppressed\n", st.events,
                   st.requested, st.requested == 1 ? "" : "s", st.suppressed);
        goto out;
    }
    const char *f = argv[optind];
    int64_t id = 0;
    tsl_exec_outcome how = TSL_EXEC_NEW;
    if (tsl_retrain_manual(s, p->cfg, f, why, &o, &id, &how, &d)) {
        rc = cli_fail("%s", tsl_diag_msg(&d));
        goto out;
    }
    if (run && (rc = run_here(s, p->cfg, &o, id))) goto out;
    tsl_store_exec e;
    memset(&e, 0, sizeof e);
    const char *status = "Queued";
    if (run) {
        if (tsl_store_exec_get(s, id, &e, &d)) {
            rc = cli_fail("%s", tsl_diag_msg(&d));
            goto out;
        }
        status = tsl_exec_status_name(e.status);
        if (e.status != TSL_EXEC_SUCCEEDED) rc = CLI_ERR;
    }
    if (json)
        cli_json_print(json_pack("{s:s, s:I, s:s, s:s}", "forecaster", f, "execution",
                                 (json_int_t)id, "outcome", tsl_retrain_outcome_name(how), "status",
                                 status));
    else
        printf("%s: execution %lld requested (%s)%s%s\n", f, (long long)id,
               tsl_retrain_outcome_name(how), run ? ": " : "", run ? status : "");
    tsl_store_exec_release(&e);
out:
    tsl_store_close(s);
    tsl_project_free(p);
    return rc;
}
