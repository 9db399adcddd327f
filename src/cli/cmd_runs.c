/*
 * cmd_runs.c - `tsloop runs list|show|stop|resume`: pipeline executions.
 *
 * list and show read what the store records of each execution: its status, trigger, who asked,
 * how many requests it absorbed, its worker and lease, and every step's attempts with their
 * times, errors and workers. stop asks an execution to stop (at once when nobody runs it, at
 * the next step boundary when a worker does). resume is a worker that runs what is runnable -
 * executions recovered from workers that died, queued ones, retries that are due - and then
 * returns.
 */
#include <getopt.h>
#include <jansson.h>
#include <string.h>

#include "cli/cli.h"
#include "tsloop/mem.h"
#include "tsloop/pipeline.h"
#include "tsloop/project.h"
#include "tsloop/store.h"

static const char usage_text[] =
    "usage: tsloop runs list [FORECASTER] [--limit N] [--json]\n"
    "       tsloop runs show ID [--json]\n"
    "       tsloop runs stop ID [--why TEXT]\n"
    "       tsloop runs resume [FORECASTER] [--threads N]\n"
    "\n"
    "Pipeline executions. list: newest first, with status and the last step. show: one\n"
    "execution's steps and attempts (times, errors, workers) and outputs. stop: a queued or\n"
    "idle execution stops at once, a running one at its next step. resume: run what is\n"
    "runnable - executions whose worker died (they continue after their last completed step,\n"
    "or fail with the reason), queued ones, retries that are due - then return.\n"
    "\n"
    "      --project DIR    the project's directory, instead of searching upwards\n"
    "      --limit N        list: at most N executions (default 20)\n"
    "      --why TEXT       stop: why (recorded)\n"
    "  -j, --threads N      resume: worker threads (default: all cores)\n"
    "      --json           JSON on stdout\n"
    "      --quiet          resume: no step lines on stderr\n"
    "  -h, --help           this help\n";

enum { OPT_LIMIT = CLI_OPT_OWN, OPT_WHY };

static const struct option long_opts[] = {{"project", required_argument, NULL, CLI_OPT_PROJECT},
                                          {"limit", required_argument, NULL, OPT_LIMIT},
                                          {"why", required_argument, NULL, OPT_WHY},
                                          {"threads", required_argument, NULL, 'j'},
                                          {"json", no_argument, NULL, CLI_OPT_JSON},
                                          {"quiet", no_argument, NULL, CLI_OPT_QUIET},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};

/* How long resume waits for a retry that is due later (the policy's delays are capped at 5
 * minutes, so this covers any). */
#define RESUME_MAX_WAIT_MS (6 * 60 * 1000)

typedef struct runs_opts {
    const char *project, *why;
    long limit, threads;
    int json, quiet;
} runs_opts;

/* Step outputs, shown whole but for automl's groups, which are counted. */
static json_t *output_json(const tsl_store_step *st) {
    json_t *o = cli_json_parse(st->output);
    if (o && !strcmp(st->name, "automl")) {
        json_t *groups = json_object_get(o, "groups");
        json_object_set_new(o, "groups", json_integer((json_int_t)json_array_size(groups)));
    }
    return o ? o : json_null();
}

/* An execution as JSON, with its steps and attempts (and outputs when asked). */
static json_t *exec_json(const tsl_store_exec *e, int with_outputs) {
    char at[40];
    json_t *o = json_object(), *steps = json_array();
    json_object_set_new(o, "id", json_integer(e->id));
    json_object_set_new(o, "forecaster", json_string(e->forecaster));
    json_object_set_new(o, "status", json_string(tsl_exec_status_name(e->status)));
    json_object_set_new(o, "trigger", json_string(e->trigger));
    json_object_set_new(o, "who", json_string(e->who));
    json_object_set_new(o, "dedupe_key", json_string(e->dedupe_key));
    json_object_set_new(o, "reason", e->reason ? json_string(e->reason) : json_null());
    cli_format_ms(e->created_ms, at, sizeof at);
    json_object_set_new(o, "created", json_string(at));
    cli_format_ms(e->started_ms, at, sizeof at);
    json_object_set_new(o, "started", e->started_ms ? json_string(at) : json_null());
    cli_format_ms(e->ended_ms, at, sizeof at);
    json_object_set_new(o, "ended", e->ended_ms ? json_string(at) : json_null());
    json_object_set_new(o, "owner", e->owner ? json_string(e->owner) : json_null());
    json_object_set_new(o, "owner_dead", json_boolean(e->owner_dead));
    json_object_set_new(o, "requests", json_integer(e->requests));
    json_object_set_new(o, "recoveries", json_integer(e->recoveries));
    for (size_t i = 0; i < e->nsteps; i++) {
        const tsl_store_step *st = &e->steps[i];
        json_t *s = json_object(), *atts = json_array();
        json_object_set_new(s, "name", json_string(st->name));
        json_object_set_new(s, "status", json_string(tsl_step_status_name(st->status)));
        for (size_t k = 0; k < st->nattempts; k++) {
            const tsl_store_attempt *a = &st->attempts[k];
            char t0[40];
            cli_format_ms(a->started_ms, t0, sizeof t0);
            json_t *aj = json_object();
            json_object_set_new(aj, "number", json_integer(a->number));
            json_object_set_new(aj, "status", json_string(tsl_step_status_name(a->status)));
            json_object_set_new(aj, "started", json_string(t0));
            json_object_set_new(aj, "seconds",
                                a->ended_ms
                                    ? json_real((double)(a->ended_ms - a->started_ms) / 1000.0)
                                    : json_null());
            json_object_set_new(aj, "error", a->error ? json_string(a->error) : json_null());
            json_object_set_new(aj, "worker", a->worker ? json_string(a->worker) : json_null());
            json_array_append_new(atts, aj);
        }
        json_object_set_new(s, "attempts", atts);
        if (with_outputs && st->status == TSL_STEP_SUCCEEDED)
            json_object_set_new(s, "output", output_json(st));
        json_array_append_new(steps, s);
    }
    json_object_set_new(o, "steps", steps);
    return o;
}

/* `runs list`: the latest executions, newest first. */
static int runs_list(tsl_store *s, const char *forecaster, const runs_opts *ro) {
    tsl_store_exec *list = NULL;
    size_t n = 0;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_exec_list(s, forecaster, (size_t)(ro->limit ? ro->limit : 20), &list, &n, &d))
        return cli_fail("%s", tsl_diag_msg(&d));
    if (ro->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) json_array_append_new(arr, exec_json(&list[i], 0));
        cli_json_print(arr);
    } else {
        printf("%-6s %-20s %-10s %-8s %-20s %-16s %s\n", "id", "forecaster", "status", "trigger",
               "created", "step", "reason");
        for (size_t i = 0; i < n; i++) {
            const tsl_store_exec *e = &list[i];
            char created[40], step[48] = "-";
            cli_format_ms(e->created_ms, created, sizeof created);
            if (e->nsteps) {
                const tsl_store_step *st = &e->steps[e->nsteps - 1];
                snprintf(step, sizeof step, "%s %s", st->name,
                         st->status == TSL_STEP_SUCCEEDED ? "ok"
                         : st->status == TSL_STEP_FAILED  ? "failed"
                                                          : "running");
            }
            printf("%-6lld %-20s %-10s %-8s %-20s %-16s %s\n", (long long)e->id, e->forecaster,
                   tsl_exec_status_name(e->status), e->trigger, created, step,
                   e->reason ? e->reason : "");
        }
        if (!n) printf("(no executions)\n");
    }
    tsl_store_exec_list_free(list, n);
    return CLI_OK;
}

/* Parses an execution id argument. */
static int parse_id(const char *text, int64_t *id) {
    long v = 0;
    if (cli_parse_long("runs", "ID", text, 1, 1L << 62, &v)) return CLI_USAGE;
    *id = v;
    return CLI_OK;
}

/* `runs show`: one execution, its steps and attempts, and what it registered. */
static int runs_show(tsl_store *s, const char *arg, const runs_opts *ro) {
    int64_t id;
    if (parse_id(arg, &id)) return CLI_USAGE;
    tsl_store_exec e;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_exec_get(s, id, &e, &d)) return cli_fail("%s", tsl_diag_msg(&d));
    if (ro->json) {
        cli_json_print(exec_json(&e, 1));
    } else {
        char created[40], started[40], ended[40];
        cli_format_ms(e.created_ms, created, sizeof created);
        cli_format_ms(e.started_ms, started, sizeof started);
        cli_format_ms(e.ended_ms, ended, sizeof ended);
        printf("execution %lld  %s  %s\n", (long long)e.id, e.forecaster,
               tsl_exec_status_name(e.status));
        if (e.reason) printf("reason     %s\n", e.reason);
        printf("trigger    %s by %s, %d request%s, dedupe key %s\n", e.trigger,
               e.who[0] ? e.who : "-", e.requests, e.requests == 1 ? "" : "s (merged into it)",
               e.dedupe_key);
        printf("times      created %s, started %s, ended %s\n", created, started, ended);
        if (e.owner)
            printf("worker     %s%s\n", e.owner,
                   e.owner_dead ? " (gone: the next claim recovers "
                                  "it)"
                                : "");
        if (e.recoveries)
            printf("recovered  %d time%s\n", e.recoveries, e.recoveries == 1 ? "" : "s");
        for (size_t i = 0; i < e.nsteps; i++) {
            const tsl_store_step *st = &e.steps[i];
            printf("step %-9s %s\n", st->name, tsl_step_status_name(st->status));
            for (size_t k = 0; k < st->nattempts; k++) {
                const tsl_store_attempt *a = &st->attempts[k];
                char t0[40];
                cli_format_ms(a->started_ms, t0, sizeof t0);
                printf("  attempt %d  %-9s %s", a->number, tsl_step_status_name(a->status), t0);
                if (a->ended_ms)
                    printf(" (%.1f s)", (double)(a->ended_ms - a->started_ms) / 1000.0);
                printf(" on %s%s%s\n", a->worker ? a->worker : "-", a->error ? ": " : "",
                       a->error ? a->error : "");
            }
        }
        /* What the registration produced. */
        for (size_t i = 0; i < e.nsteps; i++) {
            if (strcmp(e.steps[i].name, "register") || !e.steps[i].output) continue;
            json_t *o = cli_json_parse(e.steps[i].output);
            json_t *vs = json_object_get(o, "versions");
            for (size_t k = 0; k < json_array_size(vs); k++) {
                json_t *v = json_array_get(vs, k);
                printf("registered %s/%lld %s\n", json_string_value(json_object_get(v, "entry")),
                       (long long)json_integer_value(json_object_get(v, "version")),
                       json_string_value(json_object_get(v, "status")));
            }
            json_decref(o);
        }
    }
    tsl_store_exec_release(&e);
    return CLI_OK;
}

/* `runs stop`: asks an execution to stop. */
static int runs_stop(tsl_store *s, const char *arg, const runs_opts *ro) {
    int64_t id;
    if (parse_id(arg, &id)) return CLI_USAGE;
    tsl_exec_status st;
    tsl_diag d = {TSL_OK, {0}};
    /* Take back executions of dead workers first, so that one whose worker died stops now
     * rather than at the next claim. */
    if (tsl_store_exec_recover(s, NULL, &d) ||
        tsl_store_exec_stop(s, id, cli_who(), ro->why ? ro->why : "", &st, &d))
        return cli_fail("%s", tsl_diag_msg(&d));
    if (ro->json)
        cli_json_print(
            json_pack("{s:I, s:s}", "id", (json_int_t)id, "status", tsl_exec_status_name(st)));
    else
        printf("execution %lld: %s%s\n", (long long)id, tsl_exec_status_name(st),
               st == TSL_EXEC_STOPPING ? " (its worker stops at the next step)" : "");
    return CLI_OK;
}

/* tsl_pipeline_opts.on_step for resume: one line per step boundary on stderr. */
static void on_step(void *ctx, int64_t execution, const char *step, tsl_pipeline_phase phase,
                    int attempt, const char *detail) {
    const runs_opts *ro = ctx;
    if (ro->quiet) return;
    switch (phase) {
    case TSL_PIPELINE_STEP_BEGIN:
        fprintf(stderr, "execution %lld: %s (attempt %d)\n", (long long)execution, step, attempt);
        break;
    case TSL_PIPELINE_STEP_DONE:
        fprintf(stderr, "  %-9s ok   %s\n", step, detail ? detail : "");
        break;
    case TSL_PIPELINE_STEP_SKIPPED:
        fprintf(stderr, "  %-9s done before\n", step);
        break;
    case TSL_PIPELINE_STEP_FAILED:
        fprintf(stderr, "  %-9s FAILED (attempt %d): %s\n", step, attempt, detail ? detail : "");
        break;
    case TSL_PIPELINE_EXEC_END:
        fprintf(stderr, "execution %lld: %s\n", (long long)execution, detail ? detail : "");
        break;
    }
}

/* `runs resume`: recovers, runs what is runnable, then lists. */
static int runs_resume(tsl_store *s, const tsl_config *cfg, const char *forecaster, runs_opts *ro) {
    if (forecaster && !tsl_config_forecaster_find(cfg, forecaster))
        return cli_fail("no forecaster '%s' in tsloop.yaml", forecaster);
    tsl_pipeline_opts o;
    memset(&o, 0, sizeof o);
    o.who = cli_who();
    o.threads = (int)ro->threads;
    o.on_step = on_step;
    o.ctx = ro;
    size_t recovered = 0;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_exec_recover(s, &recovered, &d) ||
        tsl_pipeline_work(s, cfg, forecaster, 0, RESUME_MAX_WAIT_MS, &o, &d))
        return cli_fail("%s", tsl_diag_msg(&d));
    if (!ro->quiet && recovered)
        fprintf(stderr, "recovered %zu execution%s from workers that died\n", recovered,
                recovered == 1 ? "" : "s");
    return runs_list(s, forecaster, ro);
}

int cmd_runs(int argc, char **argv) {
    static const char *const subs[] = {"list", "show", "stop", "resume"};
    int sub = cli_subcommand("runs", argc, argv, subs, 4, usage_text);
    if (sub == -2) return CLI_OK;
    if (sub < 0) return CLI_USAGE;
    runs_opts ro;
    memset(&ro, 0, sizeof ro);
    int c;
    optind = 1; /* options follow the subcommand: parse argv from it on */
    while ((c = getopt_long(argc - 1, argv + 1, "j:h", long_opts, NULL)) != -1) {
        switch (c) {
        case CLI_OPT_PROJECT:
            ro.project = optarg;
            break;
        case OPT_LIMIT:
            if (cli_parse_long("runs", "--limit", optarg, 1, 1000000, &ro.limit)) return CLI_USAGE;
            break;
        case OPT_WHY:
            ro.why = optarg;
            break;
        case 'j':
            if (cli_parse_long("runs", "--threads", optarg, 1, 256, &ro.threads)) return CLI_USAGE;
            break;
        case CLI_OPT_JSON:
            ro.json = 1;
            break;
        case CLI_OPT_QUIET:
            ro.quiet = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return CLI_OK;
        default:
            return cli_usage_error("runs", "unknown or incomplete option");
        }
    }
    int nargs = argc - 1 - optind;
    char **args = argv + 1 + optind;
    int one = sub == 1 || sub == 2;
    if ((one && nargs != 1) || (!one && nargs > 1))
        return cli_usage_error("runs", "%s takes %s", subs[sub],
                               one ? "one execution ID" : "at most one FORECASTER");
    tsl_project *p = NULL;
    tsl_store *s = NULL;
    int rc = cli_open(ro.project, &p, &s);
    if (rc) return rc;
    switch (sub) {
    case 0:
        rc = runs_list(s, nargs ? args[0] : NULL, &ro);
        break;
    case 1:
        rc = runs_show(s, args[0], &ro);
        break;
    case 2:
        rc = runs_stop(s, args[0], &ro);
        break;
    default:
        rc = runs_resume(s, p->cfg, nargs ? args[0] : NULL, &ro);
        break;
    }
    tsl_store_close(s);
    tsl_project_free(p);
    return rc;
}
