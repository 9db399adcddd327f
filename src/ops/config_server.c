/*
 * config_server.c - the server: section of tsloop.yaml, how `tsloop serve` runs: its listen
 * address, threads, caps, TLS files and output folder (docs/config.md).
 *
 * Every key is optional; what is not set keeps the daemon's default, and a command-line flag
 * overrides what is set. Paths stay as written (relative to the project's root): the daemon
 * resolves them. The section is checked as strictly as the rest of the file - the TLS
 * certificate and key come together, a listen address must parse - but files are not opened
 * here: a configuration is checked by commands that never serve.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ops/config_impl.h"
#include "tsloop/mem.h"

static const char *const server_keys[] = {
    "listen",    "threads",     "workers",    "pipeline_workers", "max_body",
    "max_items", "max_horizon", "max_header", "idle_timeout",     "request_time",
    "tls",       "output_dir",  NULL};
static const char *const tls_keys[] = {"cert", "key", NULL};

tsl_err tsl_config_listen_parse(const char *text, char *host, size_t cap, int *port, tsl_diag *d) {
    const char *h = text, *he, *colon;
    if (text[0] == '[') {
        h = text + 1;
        he = strchr(h, ']');
        colon = he ? he + 1 : NULL;
        if (!he || *colon != ':') colon = NULL;
    } else {
        colon = strrchr(text, ':');
        he = colon;
        if (colon && memchr(text, ':', (size_t)(colon - text))) colon = NULL; /* bare IPv6 */
    }
    if (!colon || he == h || (size_t)(he - h) >= cap)
        return tsl_diag_set(d, TSL_EINVAL,
                            "'%.100s' is not a listen address, expected HOST:PORT "
                            "(127.0.0.1:8080) or [IPV6]:PORT ([::1]:8080)",
                            text);
    char *end = NULL;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || errno || p < 0 || p > 65535)
        return tsl_diag_set(d, TSL_EINVAL, "'%.100s': the port is not a number from 0 to 65535",
                            text);
    memcpy(host, h, (size_t)(he - h));
    host[he - h] = '\0';
    *port = (int)p;
    return TSL_OK;
}

void tsl_cfg_server_release(tsl_config_server *s) {
    tsl_free(s->listen);
    tsl_free(s->tls_cert);
    tsl_free(s->tls_key);
    tsl_free(s->output_dir);
    memset(s, 0, sizeof *s);
    s->pipeline_workers = -1;
}

tsl_err tsl_cfg_parse_server(tsl_cfg_parser *p, const yaml_node_t *n, tsl_config_server *out) {
    yaml_node_t *v[12], *k[12], *tv[2], *tk[2];
    tsl_err rc;
    memset(out, 0, sizeof *out);
    out->pipeline_workers = -1;
    if ((rc = tsl_cfg_read_map(p, n, "server", server_keys, v, k))) return rc;
    if ((rc = tsl_cfg_get_text(p, v[0], "server.listen", &out->listen))) return rc;
    if (out->listen) {
        tsl_diag ld = {TSL_OK, {0}};
        if (tsl_config_listen_parse(out->listen, out->host, sizeof out->host, &out->port, &ld))
            return tsl_cfg_fail_at(p, v[0], TSL_EINVAL, "server.listen: %s", ld.msg);
    }
    if ((rc = tsl_cfg_get_int(p, v[1], "server.threads", 1, 1024, &out->threads)) ||
        (rc = tsl_cfg_get_int(p, v[2], "server.workers", 1, 256, &out->workers)) ||
        (rc = tsl_cfg_get_int(p, v[3], "server.pipeline_workers", 0, 64, &out->pipeline_workers)) ||
        (rc = tsl_cfg_get_int(p, v[4], "server.max_body", 1024, 1L << 30, &out->max_body)) ||
        (rc = tsl_cfg_get_int(p, v[5], "server.max_items", 1, 1000000, &out->max_items)) ||
        (rc = tsl_cfg_get_int(p, v[6], "server.max_horizon", 1, 1000000, &out->max_horizon)) ||
        (rc = tsl_cfg_get_int(p, v[7], "server.max_header", 4096, 1 << 24, &out->max_header)) ||
        (rc = tsl_cfg_get_int(p, v[8], "server.idle_timeout", 1, 86400, &out->idle_timeout)) ||
        (rc = tsl_cfg_get_int(p, v[9], "server.request_time", 1, 86400, &out->request_time)))
        return rc;
    if ((rc = tsl_cfg_read_map(p, v[10], "server.tls", tls_keys, tv, tk)) ||
        (rc = tsl_cfg_get_text(p, tv[0], "server.tls.cert", &out->tls_cert)) ||
        (rc = tsl_cfg_get_text(p, tv[1], "server.tls.key", &out->tls_key)))
        return rc;
    if (!out->tls_cert != !out->tls_key)
        return tsl_cfg_fail_at(p, v[10], TSL_EINVAL,
                               "server.tls: %s without %s, expected both cert and key (PEM files)",
                               out->tls_cert ? "cert" : "key", out->tls_cert ? "key" : "cert");
    if ((rc = tsl_cfg_get_text(p, v[11], "server.output_dir", &out->output_dir))) return rc;
    if (out->output_dir && !out->output_dir[0])
        return tsl_cfg_fail_at(p, v[11], TSL_EINVAL, "server.output_dir: expected a folder");
    return TSL_OK;
}
