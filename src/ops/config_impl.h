/*
 * config_impl.h - what config.c lends the parsers of top-level sections that live in their own
 * files (config_notify.c): its messages ("FILE:LINE:COL: ..."), its strict mappings, and its
 * scalars with ${ENV} interpolation, so that every section reads and fails alike. Internal.
 */
#ifndef TSLOOP_OPS_CONFIG_IMPL_H
#define TSLOOP_OPS_CONFIG_IMPL_H

#include <stddef.h>
#include <yaml.h>

#include "tsloop/config.h"
#include "tsloop/err.h"

typedef struct parser parser; /* config.c's parser state */

/* The helpers of config.c under these names (their contracts are there). */
tsl_err tsl_cfgp_fail(parser *p, const yaml_node_t *n, tsl_err code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
tsl_err tsl_cfgp_map(parser *p, const yaml_node_t *n, const char *what, const char *const *valid,
                     yaml_node_t **vals, yaml_node_t **keys);
tsl_err tsl_cfgp_named(parser *p, const yaml_node_t *n, const char *what, const char *one,
                       size_t max, yaml_node_pair_t **pairs, size_t *npairs);
yaml_node_t *tsl_cfgp_node(parser *p, int index);
tsl_err tsl_cfgp_text(parser *p, const yaml_node_t *n, const char *path, char **out);
tsl_err tsl_cfgp_int(parser *p, const yaml_node_t *n, const char *path, long lo, long hi, int *out);
tsl_err tsl_cfgp_bool(parser *p, const yaml_node_t *n, const char *path, int *out);
tsl_err tsl_cfgp_list(parser *p, const yaml_node_t *n, const char *path, size_t max,
                      const char *example, char ***items, size_t *count);

/* config_notify.c: the notifications section n (NULL: absent) into *out (NULL when absent or
 * empty); *out may be partly filled on failure (tsl_config_notify_free releases it). */
struct tsl_config_notify;
tsl_err tsl_config_notify_parse(parser *p, const yaml_node_t *n, struct tsl_config_notify **out);

#endif
