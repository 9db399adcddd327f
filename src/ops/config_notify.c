/*
 * config_notify.c - tsloop.yaml's `notifications:` section: the channels and what they route
 * (docs/config.md#notifications, docs/notifications.md).
 *
 *   notifications:
 *     ops-hook:
 *       type: webhook
 *       url: https://hooks.example.com/tsloop
 *       secret: ${TSLOOP_HOOK_SECRET}
 *       events: [alarm.state_changed, model.pending, model.compared, retrain.*]
 *
 * Strict like the rest of the file: each type has its own keys and refuses the others' (a
 * `to:` on a webhook is a mistake worth a message, not a silently ignored line), required keys
 * are named when missing, and secrets come from the environment through ${NAME}.
 */
#include <string.h>

#include "ops/config_impl.h"
#include "tsloop/mem.h"
#include "tsloop/notify.h"

#define PATH_CAP 192

static const char *const channel_keys[] = {
    "type", "events", "timeout",  "retries",  "backoff_ms", "max_backoff_ms", "url", "secret",
    "from", "to",     "username", "password", "starttls",   "argv",           NULL};
enum {
    K_TYPE,
    K_EVENTS,
    K_TIMEOUT,
    K_RETRIES,
    K_BACKOFF,
    K_MAX_BACKOFF,
    K_URL,
    K_SECRET,
    K_FROM,
    K_TO,
    K_USER,
    K_PASS,
    K_STARTTLS,
    K_ARGV,
    K_COUNT
};

/* The keys each type takes besides the common ones (type, events, timeout, retries, backoff). */
static const int webhook_keys[] = {K_URL, K_SECRET, -1};
static const int email_keys[] = {K_URL, K_FROM, K_TO, K_USER, K_PASS, K_STARTTLS, -1};
static const int command_keys[] = {K_ARGV, -1};

static int key_allowed(const int *own, int k) {
    if (k <= K_MAX_BACKOFF) return 1;
    for (size_t i = 0; own[i] >= 0; i++)
        if (own[i] == k) return 1;
    return 0;
}

/* An event pattern: a type of [a-z0-9_.], "*", or one ending in ".*". */
static int pattern_valid(const char *s) {
    size_t n = strlen(s);
    if (!strcmp(s, "*")) return 1;
    if (n >= 2 && !strcmp(s + n - 2, ".*")) n -= 2;
    if (!n || n > 64) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.')) return 0;
    }
    return 1;
}

static int has_prefix(const char *s, const char *prefix) {
    return !strncmp(s, prefix, strlen(prefix));
}

/* One channel: key node `key`, settings n. */
static tsl_err parse_channel(tsl_cfg_parser *p, const yaml_node_t *key, const yaml_node_t *n,
                             tsl_channel *c) {
    yaml_node_t *v[K_COUNT], *k[K_COUNT];
    char path[PATH_CAP], sub[PATH_CAP + 32];
    char *type = NULL;
    tsl_err rc;
    c->name = tsl_strndup((const char *)key->data.scalar.value, key->data.scalar.length);
    c->line = (int)key->start_mark.line + 1;
    c->timeout_s = 10;
    c->retries = 5;
    c->backoff_ms = 1000;
    c->max_backoff_ms = 300000;
    snprintf(path, sizeof path, "notifications.%s", c->name);
    if ((rc = tsl_cfg_read_map(p, n, path, channel_keys, v, k))) return rc;
    snprintf(sub, sizeof sub, "%s.type", path);
    if ((rc = tsl_cfg_get_text(p, v[K_TYPE], sub, &type))) return rc;
    const int *own;
    if (type && !strcmp(type, "webhook")) {
        c->type = TSL_CHANNEL_WEBHOOK;
        own = webhook_keys;
    } else if (type && !strcmp(type, "email")) {
        c->type = TSL_CHANNEL_EMAIL;
        own = email_keys;
    } else if (type && !strcmp(type, "command")) {
        c->type = TSL_CHANNEL_COMMAND;
        own = command_keys;
    } else {
        rc = tsl_cfg_fail_at(p, v[K_TYPE] ? v[K_TYPE] : key, TSL_EINVAL,
                             "%s: %s%s%s, expected webhook, email or command", sub,
                             type ? "'" : "no type", type ? type : "", type ? "'" : "");
        tsl_free(type);
        return rc;
    }
    for (int i = 0; i < K_COUNT; i++)
        if (k[i] && !key_allowed(own, i)) {
            rc = tsl_cfg_fail_at(p, k[i], TSL_EINVAL, "%s: key '%s' does not apply to a %s channel",
                                 path, channel_keys[i], type);
            tsl_free(type);
            return rc;
        }
    tsl_free(type);

    snprintf(sub, sizeof sub, "%s.events", path);
    if ((rc = tsl_cfg_get_list(p, v[K_EVENTS], sub, TSL_NOTIFY_MAX_PATTERNS,
                               "[alarm.state_changed, model.pending, retrain.*]", &c->events,
                               &c->nevents)))
        return rc;
    if (!c->nevents)
        return tsl_cfg_fail_at(p, v[K_EVENTS] ? v[K_EVENTS] : key, TSL_EINVAL,
                               "%s: no events, expected the event types to send, like "
                               "[alarm.state_changed, model.pending, retrain.*]",
                               sub);
    for (size_t i = 0; i < c->nevents; i++)
        if (!pattern_valid(c->events[i]))
            return tsl_cfg_fail_at(p, v[K_EVENTS], TSL_EINVAL,
                                   "%s: '%s' is not an event type or pattern, expected a type "
                                   "(model.pending), a prefix (retrain.*) or *",
                                   sub, c->events[i]);
    snprintf(sub, sizeof sub, "%s.timeout", path);
    if ((rc = tsl_cfg_get_int(p, v[K_TIMEOUT], sub, 1, 3600, &c->timeout_s))) return rc;
    snprintf(sub, sizeof sub, "%s.retries", path);
    if ((rc = tsl_cfg_get_int(p, v[K_RETRIES], sub, 0, 100, &c->retries))) return rc;
    snprintf(sub, sizeof sub, "%s.backoff_ms", path);
    if ((rc = tsl_cfg_get_int(p, v[K_BACKOFF], sub, 1, 86400000, &c->backoff_ms))) return rc;
    snprintf(sub, sizeof sub, "%s.max_backoff_ms", path);
    if ((rc = tsl_cfg_get_int(p, v[K_MAX_BACKOFF], sub, 1, 86400000, &c->max_backoff_ms)))
        return rc;
    if (c->max_backoff_ms < c->backoff_ms)
        return tsl_cfg_fail_at(p, v[K_MAX_BACKOFF], TSL_EINVAL,
                               "%s: %d, expected at least backoff_ms (%d)", sub, c->max_backoff_ms,
                               c->backoff_ms);

    snprintf(sub, sizeof sub, "%s.url", path);
    if ((rc = tsl_cfg_get_text(p, v[K_URL], sub, &c->url))) return rc;
    if (c->type == TSL_CHANNEL_WEBHOOK &&
        (!c->url || !(has_prefix(c->url, "http://") || has_prefix(c->url, "https://"))))
        return tsl_cfg_fail_at(p, v[K_URL] ? v[K_URL] : key, TSL_EINVAL,
                               "%s: %s, expected an http:// or https:// URL", sub,
                               c->url ? c->url : "missing");
    if (c->type == TSL_CHANNEL_EMAIL &&
        (!c->url || !(has_prefix(c->url, "smtp://") || has_prefix(c->url, "smtps://"))))
        return tsl_cfg_fail_at(p, v[K_URL] ? v[K_URL] : key, TSL_EINVAL,
                               "%s: %s, expected smtp://HOST:PORT or smtps://HOST:PORT", sub,
                               c->url ? c->url : "missing");
    snprintf(sub, sizeof sub, "%s.secret", path);
    if ((rc = tsl_cfg_get_text(p, v[K_SECRET], sub, &c->secret))) return rc;
    snprintf(sub, sizeof sub, "%s.from", path);
    if ((rc = tsl_cfg_get_text(p, v[K_FROM], sub, &c->from))) return rc;
    snprintf(sub, sizeof sub, "%s.to", path);
    if ((rc = tsl_cfg_get_list(p, v[K_TO], sub, TSL_NOTIFY_MAX_TO, "[ops@example.com]", &c->to,
                               &c->nto)))
        return rc;
    if (c->type == TSL_CHANNEL_EMAIL) {
        if (!c->from || !strchr(c->from, '@'))
            return tsl_cfg_fail_at(p, v[K_FROM] ? v[K_FROM] : key, TSL_EINVAL,
                                   "%s.from: %s, expected the sender's e-mail address", path,
                                   c->from ? c->from : "missing");
        if (!c->nto)
            return tsl_cfg_fail_at(p, v[K_TO] ? v[K_TO] : key, TSL_EINVAL,
                                   "%s: no recipients, expected a list like [ops@example.com]",
                                   sub);
        for (size_t i = 0; i < c->nto; i++)
            if (!strchr(c->to[i], '@') || strpbrk(c->to[i], "<>\r\n, "))
                return tsl_cfg_fail_at(p, v[K_TO], TSL_EINVAL,
                                       "%s: '%s' is not an e-mail address, expected NAME@DOMAIN",
                                       sub, c->to[i]);
    }
    snprintf(sub, sizeof sub, "%s.username", path);
    if ((rc = tsl_cfg_get_text(p, v[K_USER], sub, &c->username))) return rc;
    snprintf(sub, sizeof sub, "%s.password", path);
    if ((rc = tsl_cfg_get_text(p, v[K_PASS], sub, &c->password))) return rc;
    snprintf(sub, sizeof sub, "%s.starttls", path);
    if ((rc = tsl_cfg_get_bool(p, v[K_STARTTLS], sub, &c->starttls))) return rc;
    snprintf(sub, sizeof sub, "%s.argv", path);
    if ((rc = tsl_cfg_get_list(p, v[K_ARGV], sub, TSL_NOTIFY_MAX_ARGS,
                               "[/usr/local/bin/page-oncall, --team, forecasting]", &c->argv,
                               &c->nargv)))
        return rc;
    if (c->type == TSL_CHANNEL_COMMAND && (!c->nargv || c->argv[0][0] != '/'))
        return tsl_cfg_fail_at(p, v[K_ARGV] ? v[K_ARGV] : key, TSL_EINVAL,
                               "%s: %s, expected a list whose first item is the program's "
                               "absolute path (it is run without a shell)",
                               sub, c->nargv ? c->argv[0] : "missing");
    return TSL_OK;
}

tsl_err tsl_config_notify_parse(tsl_cfg_parser *p, const yaml_node_t *n,
                                struct tsl_config_notify **out) {
    yaml_node_pair_t *pairs;
    size_t np;
    *out = NULL;
    tsl_err rc =
        tsl_cfg_read_named(p, n, "notifications", "channel", TSL_NOTIFY_MAX_CHANNELS, &pairs, &np);
    if (rc || !np) return rc;
    tsl_config_notify *cfg = tsl_calloc(1, sizeof *cfg);
    *out = cfg;
    cfg->channels = tsl_calloc(np, sizeof *cfg->channels);
    for (size_t i = 0; i < np; i++) {
        cfg->nchannels = i + 1; /* counted first, so a failure still frees it */
        if ((rc = parse_channel(p, tsl_cfg_node(p, pairs[i].key), tsl_cfg_node(p, pairs[i].value),
                                &cfg->channels[i])))
            return rc;
    }
    return TSL_OK;
}

static void free_strv(char **v, size_t n) {
    for (size_t i = 0; i < n; i++) tsl_free(v[i]);
    tsl_free(v);
}

void tsl_config_notify_free(tsl_config_notify *n) {
    if (!n) return;
    for (size_t i = 0; i < n->nchannels; i++) {
        tsl_channel *c = &n->channels[i];
        tsl_free(c->name);
        free_strv(c->events, c->nevents);
        tsl_free(c->url);
        tsl_free(c->secret);
        tsl_free(c->from);
        free_strv(c->to, c->nto);
        tsl_free(c->username);
        tsl_free(c->password);
        free_strv(c->argv, c->nargv);
    }
    tsl_free(n->channels);
    tsl_free(n);
}
