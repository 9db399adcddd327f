/*
 * config_monitors.h - the `monitors:` section of tsloop.yaml (internal): parse_root in
 * config.c hands the section's node to tsl_config_monitors_parse.
 */
#ifndef TSLOOP_OPS_CONFIG_MONITORS_H
#define TSLOOP_OPS_CONFIG_MONITORS_H

#include <yaml.h>

#include "tsloop/config.h"

/* Parses the mapping n (NULL: no section) of monitor names into cfg->monitors, checking each
 * against cfg's data sets; messages are "FILE:LINE:COL: ..." with file as given. cfg may be
 * partly filled on failure (tsl_config_monitors_free releases it). */
tsl_err tsl_config_monitors_parse(yaml_document_t *doc, const yaml_node_t *n, const char *file,
                                  tsl_config *cfg, tsl_diag *d);

/* Frees cfg->monitors. */
void tsl_config_monitors_free(tsl_config *cfg);

#endif
