/*
 * deploy.h - automatic deployment: the endpoints' auto_deploy rules of tsloop.yaml, applied
 * when a version is registered or approved.
 *
 * The seeds deploy every newly registered model and decommission the previous one; tsloop
 * makes that a per-endpoint choice (docs/config.md): on_register deploys a version as soon as
 * the training pipeline registers it, on_approval once it is Approved (by a person, or by the
 * auto policy at registration). The rules run where the events happen - the pipeline's
 * register step and the approval command - so they hold whether or not a daemon is running.
 * An endpoint serves one registry entry, so a rule fires only for the entry named like the
 * endpoint's forecaster (a forecaster without split_by); split_by groups are not
 * auto-deployed.
 */
#ifndef TSLOOP_DEPLOY_H
#define TSLOOP_DEPLOY_H

#include <stddef.h>

#include "tsloop/config.h"
#include "tsloop/err.h"
#include "tsloop/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Deploys version `version` of registry entry `entry` (whose status is now `status`) to every
 * endpoint of cfg whose auto_deploy fires: on_register when `registered` is set (the version
 * was just registered), on_approval when status is Approved. Each endpoint's
 * requires_approval still applies (a refusal is an error). *n (may be NULL) gets how many
 * endpoints moved. who goes into the deployment record. */
tsl_err tsl_deploy_auto(tsl_store *s, const tsl_config *cfg, const char *entry, int version,
                        tsl_model_status status, int registered, const char *who, size_t *n,
                        tsl_diag *d);

#ifdef __cplusplus
}
#endif
#endif
