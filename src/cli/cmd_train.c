/*
 * cmd_train.c - `tsloop train [FORECASTER...]`: request a training execution and run it here.
 *
 * The command is a pipeline worker for as long as its request takes: it requests an execution
 * (at most one runs per forecaster; a request while one runs is queued once, and a third joins
 * the queued one), then works - running whatever of that forecaster is runnable, its own
 * execution included, waiting when another process holds the active one - until its execution
 * has ended. Executions left by a worker that died are recovered on the way: they resume
 * after their last completed step. --detach only requests, for a daemon or a later `tsloop
 * runs resume` to run.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "tsloop/mem.h"
#include "tsloop/pipeline.h"
#include "tsloop/project.h"
#include "tsloop/store.h"

static const char usage_text[] =
    "usage: tsloop train [FORECASTER...] [--project DIR] [--detach] [options]\n"
    "\n"
    "Runs the training pipeline of each FORECASTER (default: every forecaster in tsloop.yaml):\n"
    "validate the data, backtest and choose models per series (per split_by group), compare\n"
    "with the approved champion on the same windows, compute the data baseline, and register a\n"
    "model version per group - PendingManualApproval, or approved by the forecaster's auto\n"
    "policy. One execution per forecaster runs at a time; a request while one runs is queued\n"
    "once. An execution interrupted by a crash resumes from its last completed step.\n"
    "\n"
    "      --project DIR    the project's directory, instead of searching upwards\n"
    "      --detach         only request the execution (a daemon or `tsloop runs resume` runs\n"
    "                       it); print its id\n"
    "  -j, --threads N      worker threads (default: all cores)\n"
    "      --json           the outcome as JSON on stdout\n"
    "      --quiet          no step lines or progress on stderr\n"
    "  -h, --help           this help\n"
    "\n"
    "Exits 0 when every execution succeeded, 1 when one failed or was stopped.\n";

enum { OPT_DETACH = CLI_OPT_OWN };

static const struct option long_opts[] = {{"project", required_argument, NULL, CLI_OPT_PROJECT},
                                          {"detach", no_argument, NULL, OPT_DETACH},
                                          {"threads", required_argument, NULL, 'j'},
                                          {"json", no_argument, NULL, CLI_OPT_JSON},
                                          {"quiet", no_argument, NULL, CLI_OPT_QUIET},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};

#define SHOWN_VERSIONS 20

/* What the step callbacks print with. */
typedef struct train_view {
    int quiet;
    cli_progress bar;
    int bar_on;
    double step_start;
} train_view;

/* Monotonic seconds, for step times. */
static double wall_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* tsl_pipeline_opts.on_step: one line per step boundary on stderr (unless quiet). */
static void on_step(void *ctx, int64_t execution, const char *step, tsl_pipeline_phase phase,
                    int attempt, const char *detail) {
    train_view *v = ctx;
    if (v->bar_on) {
        cli_progress_done(&v->bar);
        v->bar_on = 0;
    }
    if (v->quiet) return;
    switch (phase) {
    case TSL_PIPELINE_STEP_BEGIN:
        v->step_start = wall_seconds();
        if (attempt > 1)
            fprintf(stderr, "  %-9s attempt %d of execution %lld\n", step, attempt,
                    (long long)execution);
        break;
    case TSL_PIPELINE_STEP_DONE:
        fprintf(stderr, "  %-9s ok   %s (%.1f s)\n", step, detail ? detail : "",
                wall_seconds() - v->step_start);
        break;
    case TSL_PIPELINE_STEP_SKIPPED:
        fprintf(stderr, "  %-9s done before (execution %lld resumed)\n", step,
                (long long)execution);
        break;
    case TSL_PIPELINE_STEP_FAILED:
        fprintf(stderr, "  %-9s FAILED (attempt %d): %s\n", step, attempt, detail ? detail : "");
        break;
    case TSL_PIPELINE_EXEC_END:
        fprintf(stderr, "execution %lld: %s\n", (long long)execution, detail ? detail : "");
        break;
    }
}

/* tsl_pipeline_opts.progress: the progress bar, on a terminal. */
static void on_progress(void *ctx, const char *step, size_t done, size_t total) {
    train_view *v = ctx;
    if (v->quiet || !v->bar.enabled) return;
    v->bar.label = step;
    v->bar_on = 1;
    cli_progress_update(&v->bar, done, total);
}

/* A request's outcome in words. */
static const char *outcome_name(tsl_exec_outcome how) {
    switch (how) {
    case TSL_EXEC_NEW:
        return "new";
    case TSL_EXEC_BEHIND:
        return "queued behind the running execution";
    case TSL_EXEC_DUPLICATE:
        return "duplicate";
    case TSL_EXEC_MERGED:
        return "merged into the queued execution";
    }
    return "?";
}

/* The execution's end as JSON: status, reason, the versions it registered. */
static json_t *result_json(tsl_store *s, const char *forecaster, int64_t id, tsl_exec_outcome how,
                           tsl_exec_status *status) {
    json_t *o = json_object();
    json_object_set_new(o, "forecaster", json_string(forecaster));
    json_object_set_new(o, "execution", json_integer(id));
    json_object_set_new(o, "request",
                        json_string(how == TSL_EXEC_NEW      ? "new"
                                    : how == TSL_EXEC_BEHIND ? "behind"
                                    : how == TSL_EXEC_MERGED ? "merged"
                                                             : "duplicate"));
    tsl_store_exec e;
    *status = TSL_EXEC_FAILED;
    if (tsl_store_exec_get(s, id, &e, NULL) == TSL_OK) {
        *status = e.status;
        json_object_set_new(o, "status", json_string(tsl_exec_status_name(e.status)));
        json_object_set_new(o, "reason", e.reason ? json_string(e.reason) : json_null());
        tsl_store_exec_release(&e);
    }
    char *out = NULL;
    json_t *reg = NULL;
    if (*status == TSL_EXEC_SUCCEEDED &&
        tsl_store_step_output(s, id, "register", &out, NULL, NULL, NULL) == TSL_OK)
        reg = cli_json_parse(out);
    tsl_free(out);
    json_object_set_new(o, "versions",
                        reg ? json_incref(json_object_get(reg, "versions")) : json_array());
    json_decref(reg);
    return o;
}

/* The result in words on stdout. */
static void result_print(const json_t *o) {
    const char *f = json_string_value(json_object_get(o, "forecaster"));
    long long id = (long long)json_integer_value(json_object_get(o, "execution"));
    const char *st = json_string_value(json_object_get(o, "status"));
    const char *reason = json_string_value(json_object_get(o, "reason"));
    printf("%s: execution %lld %s%s%s\n", f, id, st ? st : "?", reason ? ": " : "",
           reason ? reason : "");
    if (reason && strstr(reason, "data quality check failed"))
        printf("  the whole report: tsloop events --type dataset.validation_failed --json\n");
    json_t *vs = json_object_get(o, "versions");
    size_t pending = 0;
    const char *first_pending = NULL;
    for (size_t i = 0; i < json_array_size(vs); i++) {
        json_t *v = json_array_get(vs, i);
        const char *entry = json_string_value(json_object_get(v, "entry"));
        const char *vst = json_string_value(json_object_get(v, "status"));
        if (vst && !strcmp(vst, "PendingManualApproval")) {
            pending++;
            if (!first_pending) first_pending = entry;
        }
        if (i < SHOWN_VERSIONS)
            printf("  registered %s/%lld: %s%s\n", entry,
                   (long long)json_integer_value(json_object_get(v, "version")), vst ? vst : "?",
                   json_is_true(json_object_get(v, "reused")) ? " (before a crash)" : "");
    }
    if (json_array_size(vs) > SHOWN_VERSIONS)
        printf("  ... %zu versions in all (tsloop models list %s)\n", json_array_size(vs), f);
    if (pending == 1) {
        json_t *v = json_array_get(vs, 0);
        for (size_t i = 0; i < json_array_size(vs); i++) {
            const char *vst = json_string_value(json_object_get(json_array_get(vs, i), "status"));
            if (vst && !strcmp(vst, "PendingManualApproval")) v = json_array_get(vs, i);
        }
        printf("  approve with: tsloop models approve %s/%lld --why \"...\"\n", first_pending,
               (long long)json_integer_value(json_object_get(v, "version")));
    } else if (pending > 1) {
        printf("  approve with: tsloop models approve --execution %lld --why \"...\"\n", id);
    }
}

int cmd_train(int argc, char **argv) {
    const char *project = NULL;
    long threads = 0;
    int json = 0, quiet = 0, detach = 0, c, rc = CLI_OK;
    optind = 1;
    while ((c = getopt_long(argc, argv, "j:h", long_opts, NULL)) != -1) {
        switch (c) {
        case CLI_OPT_PROJECT:
            project = optarg;
            break;
        case OPT_DETACH:
            detach = 1;
            break;
        case 'j':
            if (cli_parse_long("train", "--threads", optarg, 1, 256, &threads)) return CLI_USAGE;
            break;
        case CLI_OPT_JSON:
            json = 1;
            break;
        case CLI_OPT_QUIET:
            quiet = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return CLI_OK;
        default:
            return cli_usage_error("train", "unknown or incomplete option");
        }
    }
    train_view view;
    memset(&view, 0, sizeof view);
    view.quiet = quiet;
    cli_progress_init(&view.bar, "automl", quiet);
    tsl_pipeline_opts o;
    memset(&o, 0, sizeof o);
    o.who = cli_who();
    o.threads = (int)threads;
    o.on_step = on_step;
    o.progress = on_progress;
    o.ctx = &view;
    char delay_step[64];
    if ((rc = cli_test_delay("train", &o, delay_step, sizeof delay_step))) return rc;

    tsl_project *p = NULL;
    tsl_store *s = NULL;
    if ((rc = cli_project_open(project, &p))) return rc;
    const tsl_config *cfg = p->cfg;
    size_t nf = optind < argc ? (size_t)(argc - optind) : cfg->nforecasters;
    if (nf == 0) {
        rc = cli_fail("%s declares no forecaster, expected at least one under 'forecasters:'",
                      p->config_path);
        goto out;
    }
    /* Check every name before requesting anything. */
    tsl_diag d = {TSL_OK, {0}};
    for (int i = optind; i < argc; i++)
        if (!tsl_config_forecaster_find(cfg, argv[i])) {
            tsl_wbuf names;
            tsl_wbuf_init(&names);
            for (size_t k = 0; k < cfg->nforecasters; k++)
                tsl_wbuf_printf(&names, "%s%s", k ? ", " : "", cfg->forecasters[k].name);
            rc = cli_fail("no forecaster '%s' in %s, expected one of: %s", argv[i], p->config_path,
                          names.len ? tsl_wbuf_cstr(&names) : "(none)");
            tsl_wbuf_release(&names);
            goto out;
        }
    if ((rc = cli_store_open(p, NULL, &s))) goto out;
    json_t *all = json ? json_array() : NULL;
    for (size_t i = 0; i < nf; i++) {
        const char *f = optind < argc ? argv[optind + (int)i] : cfg->forecasters[i].name;
        int64_t id = 0;
        tsl_exec_outcome how = TSL_EXEC_NEW;
        if (tsl_pipeline_request(s, cfg, f, "manual", NULL, &o, &id, &how, &d)) {
            rc = cli_fail("%s", tsl_diag_msg(&d));
            break;
        }
        if (!quiet)
            fprintf(stderr, "%s: execution %lld requested (%s)\n", f, (long long)id,
                    outcome_name(how));
        if (detach) {
            if (all)
                json_array_append_new(all, json_pack("{s:s, s:I, s:s}", "forecaster", f,
                                                     "execution", (json_int_t)id, "status",
                                                     how == TSL_EXEC_NEW ? "requested" : "queued"));
            else
                printf("%s: execution %lld %s\n", f, (long long)id,
                       how == TSL_EXEC_NEW ? "requested" : outcome_name(how));
            continue;
        }
        if (tsl_pipeline_work(s, cfg, f, id, 0, &o, &d)) {
            if (view.bar_on) cli_progress_done(&view.bar);
            rc = cli_fail("%s", tsl_diag_msg(&d));
            break;
        }
        tsl_exec_status st;
        json_t *res = result_json(s, f, id, how, &st);
        if (st != TSL_EXEC_SUCCEEDED) rc = CLI_ERR;
        if (all)
            json_array_append_new(all, res);
        else {
            result_print(res);
            json_decref(res);
        }
    }
    if (all) cli_json_print(all);
out:
    tsl_store_close(s);
    tsl_project_free(p);
    return rc;
}
