/*
 * main.c - the tsloop program: dispatches to one file per command.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const cli_command commands[] = {
    {"init", "make a project: a commented tsloop.yaml and the data directory", cmd_init},
    {"config", "check the project's tsloop.yaml and summarise it", cmd_config},
    {"ingest", "upsert observations from files into a data set, with a receipt", cmd_ingest},
    {"inbox", "ingest the files dropped into the inbox folders (--once: for cron)", cmd_inbox},
    {"datasets", "the project's data sets, their content hashes and ingests", cmd_datasets},
    {"train", "run the training pipeline: validate, AutoML, compare, register", cmd_train},
    {"models", "the model registry: list, show, approve, reject, diff", cmd_models},
    {"deploy", "point an endpoint at a model version", cmd_deploy},
    {"rollback", "point an endpoint back at its previous version", cmd_rollback},
    {"endpoints", "what every endpoint serves, or one endpoint's deployment history",
     cmd_endpoints},
    {"token", "API bearer tokens: create, list, revoke", cmd_token},
    {"serve", "the HTTP daemon: forecasts from deployed endpoints, captured", cmd_serve},
    {"predict", "batch forecast of every item from an endpoint's version, captured", cmd_predict},
    {"runs", "pipeline executions: list, show, stop, resume", cmd_runs},
    {"retrain", "request a retraining, or run one round of the retrain trigger", cmd_retrain},
    {"params", "versioned parameters: get, set, history, list", cmd_params},
    {"events", "the event log, optionally followed as it grows", cmd_events},
    {"metrics", "metric datapoints per evaluation window, from forecasts and actuals", cmd_metrics},
    {"alarms", "every monitor's alarm state, or one alarm's history", cmd_alarms},
    {"migrate", "the store's schema migrations: list, apply", cmd_migrate},
    {"forecast", "fit models per series and write the forecast CSV", cmd_forecast},
    {"backtest", "rolling-origin backtest of candidate models; print the leaderboard",
     cmd_backtest},
    {"demo", "the closed loop as a story: alarm, retraining, approval (--engine: the engine)",
     cmd_demo},
    {"version", "print the version", cmd_version},
};

static void usage(FILE *f) {
    fprintf(f, "usage: tsloop <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nRun 'tsloop <command> --help' for a command's options.\n");
}

int cli_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("tsloop: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return CLI_ERR;
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tsloop %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nRun 'tsloop %s --help' for usage.\n", cmd);
    va_end(ap);
    return CLI_USAGE;
}

void cli_warn(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("tsloop: warning: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(name, "--version")) return cmd_version(argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(commands[i].name, name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "tsloop: unknown command '%s'\n\n", name);
    usage(stderr);
    return CLI_USAGE;
}
