/*
 * config_impl.h - what config.c shares with the parsers of its sections in files of their own
 * (config_server.c, config_notify.c): the parser's state and the helpers that read a node by
 * the schema with the node's position in every message, so that every section reads and fails
 * alike (internal, not installed).
 */
#ifndef TSLOOP_OPS_CONFIG_IMPL_H
#define TSLOOP_OPS_CONFIG_IMPL_H

#include <yaml.h>

#include "tsloop/config.h"

typedef struct tsl_cfg_parser {
    yaml_document_t doc;
    const char *file;
    const char *text; /* the input, for positions libyaml gives as offsets */
    size_t len;
    const tsl_config_opts *opts;
    tsl_diag *d;
} tsl_cfg_parser;

/* Records "FILE:LINE:COL: message" at node n and returns code. */
tsl_err tsl_cfg_fail_at(tsl_cfg_parser *p, const yaml_node_t *n, tsl_err code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The keys of mapping n against the NULL-terminated list valid (read_map in config.c):
 * vals[i] and keys[i] get the value and key nodes of valid[i] (NULL when absent); unknown or
 * repeated keys are errors naming the valid ones; what names the mapping in messages. */
tsl_err tsl_cfg_read_map(tsl_cfg_parser *p, const yaml_node_t *n, const char *what,
                         const char *const *valid, yaml_node_t **vals, yaml_node_t **keys);

/* An integer in [lo, hi] (*out unchanged when n is NULL or empty); text without control
 * characters (*out NULL when n is NULL or empty). path names the key in messages. */
tsl_err tsl_cfg_get_int(tsl_cfg_parser *p, const yaml_node_t *n, const char *path, long lo, long hi,
                        int *out);
tsl_err tsl_cfg_get_text(tsl_cfg_parser *p, const yaml_node_t *n, const char *path, char **out);

/* The server: section (config_server.c): fills *out (zeroed first; released by
 * tsl_cfg_server_release, also after an error). n may be NULL (no section). */
tsl_err tsl_cfg_parse_server(tsl_cfg_parser *p, const yaml_node_t *n, tsl_config_server *out);
void tsl_cfg_server_release(tsl_config_server *s);

/* A mapping of names (read_named in config.c): *pairs and *npairs describe its entries, names
 * valid and unique, at most max of them; one names an entry in messages. */
tsl_err tsl_cfg_read_named(tsl_cfg_parser *p, const yaml_node_t *n, const char *what,
                           const char *one, size_t max, yaml_node_pair_t **pairs, size_t *npairs);

/* The document's node at index (libyaml's numbering). */
yaml_node_t *tsl_cfg_node(tsl_cfg_parser *p, int index);

/* A boolean; a list of at most max texts (example shows the expected form in messages). */
tsl_err tsl_cfg_get_bool(tsl_cfg_parser *p, const yaml_node_t *n, const char *path, int *out);
tsl_err tsl_cfg_get_list(tsl_cfg_parser *p, const yaml_node_t *n, const char *path, size_t max,
                         const char *example, char ***items, size_t *count);

/* config_notify.c: the notifications section n (NULL: absent) into *out (NULL when absent or
 * empty); *out may be partly filled on failure (tsl_config_notify_free releases it). */
struct tsl_config_notify;
tsl_err tsl_config_notify_parse(tsl_cfg_parser *p, const yaml_node_t *n,
                                struct tsl_config_notify **out);

#endif
