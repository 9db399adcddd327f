/*
 * notify.h - notification channels: which events go where, what the message says, and how it
 * is delivered (docs/notifications.md).
 *
 * tsloop.yaml's `notifications:` section names channels of three types: a webhook (the event
 * as JSON with a readable `text`, signed with HMAC-SHA256), e-mail over SMTP (plain text), and
 * a command run without a shell (the event JSON on standard input). Each channel routes the
 * event types it lists. The notifier (a daemon thread, tsl_notifier_start in daemon.h) follows
 * the event log from each channel's persisted cursor and calls tsl_notify_deliver; this header
 * holds everything that is not a thread, so that it can be tested alone.
 */
#ifndef TSLOOP_NOTIFY_H
#define TSLOOP_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include "tsloop/buf.h"
#include "tsloop/err.h"
#include "tsloop/store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TSL_NOTIFY_MAX_CHANNELS 64
#define TSL_NOTIFY_MAX_PATTERNS 64
#define TSL_NOTIFY_MAX_ARGS     64
#define TSL_NOTIFY_MAX_TO       64

typedef enum tsl_channel_type {
    TSL_CHANNEL_WEBHOOK = 0,
    TSL_CHANNEL_EMAIL,
    TSL_CHANNEL_COMMAND
} tsl_channel_type;

typedef struct tsl_channel {
    char *name;
    int line;
    tsl_channel_type type;
    char **events; /* patterns: "model.pending", "retrain.*", "*" */
    size_t nevents;
    int timeout_s;      /* per attempt (default 10) */
    int retries;        /* attempts after the first before the dead letter (default 5) */
    int backoff_ms;     /* wait after the first failure (default 1000) ... */
    int max_backoff_ms; /* ... doubling up to this (default 300000) */
    char *url;          /* webhook: http(s)://...; email: smtp://host:port or smtps:// */
    char *secret;       /* webhook: the HMAC key; NULL: unsigned */
    char *from;         /* email */
    char **to;          /* email: recipients */
    size_t nto;
    char *username, *password; /* email: SMTP login, NULL: none */
    int starttls;              /* email: require STARTTLS on smtp:// (default 0) */
    char **argv;               /* command: the program and its arguments */
    size_t nargv;
} tsl_channel;

typedef struct tsl_config_notify {
    tsl_channel *channels;
    size_t nchannels;
} tsl_config_notify;

/* Frees what n holds and n; NULL is a no-op. */
void tsl_config_notify_free(tsl_config_notify *n);

/* 1 when pattern routes event type: equal, "*" (anything), or "PREFIX.*" (a type starting
 * with "PREFIX."). */
int tsl_notify_pattern_match(const char *pattern, const char *type);

/* 1 when channel c is to be told about event e: one of its patterns matches e's type, and e is
 * not a notification about notifications that would loop - notification.sent never is routed,
 * nor a notification.failed about c itself or about another notification.failed. */
int tsl_notify_routes(const tsl_channel *c, const tsl_store_event *e);

/* The wait after failed attempt k (1-based): backoff_ms * 2^(k-1), at most max_backoff_ms. */
int64_t tsl_notify_backoff_ms(const tsl_channel *c, int attempt);

/* Appends the human-readable message of event e to out (a first line that serves as the
 * subject, a blank line, the details). Fields the payload lacks are left out, never an error.
 * project names the project in the text. */
void tsl_notify_render(const tsl_store_event *e, const char *project, tsl_wbuf *out);

/* The JSON body a webhook receives and a command reads: {"id", "at", "type", "subject",
 * "payload", "text", "project"}, compact, in a new string (tsl_free). */
char *tsl_notify_body(const tsl_store_event *e, const char *project);

/* HMAC-SHA256 of body[0..len) under key, as "sha256=" and 64 lowercase hex digits, into out. */
void tsl_notify_sign(const char *key, const void *body, size_t len, char out[72]);

/* Delivers event e to channel c once (no retry). TSL_OK when delivered (webhook: a 2xx answer;
 * e-mail: the server accepted it; command: exit status 0); otherwise the error says why. */
tsl_err tsl_notify_deliver(const tsl_channel *c, const tsl_store_event *e, const char *project,
                           tsl_diag *d);

#ifdef __cplusplus
}
#endif
#endif
