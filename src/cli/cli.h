/*
 * cli.h - what the command files share: the command table entry type and output helpers.
 *
 * Exit codes, as DESIGN.md: 0 success, 1 user error (one clear message on stderr), 2 usage.
 */
#ifndef TSLOOP_CLI_H
#define TSLOOP_CLI_H

#include <stdio.h>

#include "tsloop/err.h"

enum { CLI_OK = 0, CLI_ERR = 1, CLI_USAGE = 2 };

typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
} cli_command;

int cmd_version(int argc, char **argv);
int cmd_forecast(int argc, char **argv);
int cmd_backtest(int argc, char **argv);
int cmd_demo(int argc, char **argv);

/* Prints "tsloop: <msg>" to stderr and returns CLI_ERR. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "tsloop <cmd>: <msg>" and a hint to run --help, returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "tsloop: warning: <msg>" to stderr. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
