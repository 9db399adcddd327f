/*
 * demo.h - internals of `tsloop demo` (cmd_demo.c): the engine-only demo (demo_engine.c) and
 * the webhook receiver the closed-loop story starts (demo_hook.c).
 */
#ifndef TSLOOP_CLI_DEMO_H
#define TSLOOP_CLI_DEMO_H

#include <stddef.h>

#include "tsloop/err.h"

/* `tsloop demo --engine ...`: generated solar data, backtest, next-day forecast, no store.
 * argv[0] is "demo"; returns a CLI_* code. */
int demo_engine_run(int argc, char **argv);

typedef struct demo_hook demo_hook;

typedef struct demo_hook_msg {
    char *type; /* the event type in the body, "?" when the body is not tsloop's JSON */
    char *text; /* the message's text */
    int signature_ok;
} demo_hook_msg;

/* Starts a receiver on 127.0.0.1 (a free port) that checks signatures with secret. */
tsl_err demo_hook_start(const char *secret, demo_hook **out, tsl_diag *d);
int demo_hook_port(const demo_hook *h);
/* Messages received so far; demo_hook_get copies message i (< count) into out, which the
 * caller releases with demo_hook_msg_release. */
size_t demo_hook_count(demo_hook *h);
void demo_hook_get(demo_hook *h, size_t i, demo_hook_msg *out);
void demo_hook_msg_release(demo_hook_msg *m);
/* Stops the server and frees everything; NULL is a no-op. */
void demo_hook_stop(demo_hook *h);

#endif
