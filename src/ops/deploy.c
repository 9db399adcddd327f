/*
 * deploy.c - automatic deployment (deploy.h): the endpoints' auto_deploy rules.
 *
 * Deploying is idempotent in the store (the current version again changes nothing), so a
 * register step that is retried after a crash may call this again safely.
 */
#include <stdio.h>
#include <string.h>

#include "tsloop/deploy.h"

tsl_err tsl_deploy_auto(tsl_store *s, const tsl_config *cfg, const char *entry, int version,
                        tsl_model_status status, int registered, const char *who, size_t *n,
                        tsl_diag *d) {
    size_t moved = 0;
    tsl_err err = TSL_OK;
    for (size_t i = 0; i < cfg->nendpoints && !err; i++) {
        const tsl_config_endpoint *e = &cfg->endpoints[i];
        if (!e->forecaster || strcmp(e->forecaster, entry)) continue;
        int fire = (e->auto_deploy == TSL_AUTO_DEPLOY_ON_REGISTER && registered) ||
                   (e->auto_deploy == TSL_AUTO_DEPLOY_ON_APPROVAL && status == TSL_MODEL_APPROVED);
        if (!fire) continue;
        char why[96];
        snprintf(why, sizeof why, "auto_deploy %s", tsl_auto_deploy_name(e->auto_deploy));
        tsl_store_deployment dp = {0};
        err = tsl_store_deploy(s, e->name, entry, version, e->requires_approval, who, why, &dp, d);
        if (err)
            tsl_diag_prefix(d, "endpoint %s (auto_deploy %s): ", e->name,
                            tsl_auto_deploy_name(e->auto_deploy));
        else
            moved++;
        tsl_store_deployment_release(&dp);
    }
    if (n) *n = moved;
    return err;
}
