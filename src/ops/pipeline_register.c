/*
 * pipeline_register.c - the register step: one model version per model group, with its
 * metrics, per-series choices and reasons, lineage, the group's bundle as the artifact, and a
 * status set by the forecaster's approval policy.
 *
 * Registering is the one step whose effects are several transactions (a version per group,
 * hundreds with split_by), so it has to be safe to run again after a crash half-way: before
 * registering a group it looks for a version of that entry made by this very execution, and
 * takes it instead of making a second one. A group's entry must also really be that group's:
 * the latest version of an existing entry must name the same forecaster and group key in its
 * metrics, or registering stops (two groups whose names collided, or a forecaster renamed
 * onto an old one's entries) rather than mixing two groups' versions under one champion.
 *
 * The auto policy approves a challenger when it beats its group's champion by the configured
 * margin: on recent ground truth when compare could score both there (the deployed champion's
 * captured forecasts against the challenger's at the same origins, pipeline_recent.c), else on
 * the same series and windows of the backtest; or when the group has no champion yet. Without
 * a comparison to go by (no series both could be scored on) it leaves the version pending: an
 * automatic approval needs evidence.
 *
 * With compare.shadow, a new version whose champion is deployed on that endpoint is not
 * decided here: it stays pending (the audit says it awaits its shadow) and starts running in
 * shadow there; the shadow's paired comparison decides later, by the same policy
 * (src/ops/shadow.c). A retried step starts the shadow of a reused version only if the version
 * has never had one.
 *
 * A version registered with a recent comparison gets the event model.compared right after
 * it (for the notifier: both numbers). A crash between the two loses that event - the
 * comparison itself is in the version's metrics, where `tsloop models show` finds it - rather
 * than risking it twice: a reused version does not emit it again.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/pipeline_impl.h"
#include "tsloop/bundle.h"
#include "tsloop/deploy.h"
#include "tsloop/mem.h"

/* The compare step's object for entry, or NULL. */
static json_t *compared(const pl_ctx *c, const char *entry) {
    json_t *arr = json_object_get(c->out[PL_COMPARE], "groups");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *o = json_array_get(arr, i);
        const char *e = json_string_value(json_object_get(o, "entry"));
        if (e && !strcmp(e, entry)) return o;
    }
    return NULL;
}

/* The recent comparison of cmp when it has scores on both sides, else NULL. */
static const json_t *recent_of(const json_t *cmp) {
    const json_t *r = json_object_get(cmp, "recent");
    if (json_integer_value(json_object_get(r, "origins")) > 0 &&
        json_is_number(json_object_get(r, "champion")) &&
        json_is_number(json_object_get(r, "challenger")))
        return r;
    return NULL;
}

/* Whether the challenger's error y beats the champion's x by the margin. */
static int beats_by(double y, double x, double margin) {
    return y <= (1 - margin) * x;
}

/* The status the approval policy gives a group's new version, and why (into why). */
static tsl_model_status decide(const pl_ctx *c, const json_t *cmp, const char *metric, char *why,
                               size_t cap) {
    const tsl_config_forecaster *f = c->f;
    if (f->approval == TSL_APPROVAL_MANUAL) {
        snprintf(why, cap, "registered by execution %lld; policy manual: awaits approval",
                 (long long)c->id);
        return TSL_MODEL_PENDING;
    }
    const json_t *r = recent_of(cmp);
    if (r) {
        double cs = json_number_value(json_object_get(r, "champion"));
        double as = json_number_value(json_object_get(r, "challenger"));
        double gain = cs > 0 ? 1 - as / cs : 0;
        int beats = beats_by(as, cs, f->margin);
        snprintf(why, cap,
                 "registered by execution %lld; policy auto: on recent ground truth %s %.4g "
                 "against the deployed champion's (version %lld on %s) %.4g at the same %lld "
                 "origins (%lld points), %.1f%% better, margin %.1f%%: %s",
                 (long long)c->id, json_string_value(json_object_get(r, "metric")), as,
                 (long long)json_integer_value(json_object_get(r, "champion_version")),
                 json_string_value(json_object_get(r, "endpoint")), cs,
                 (long long)json_integer_value(json_object_get(r, "origins")),
                 (long long)json_integer_value(json_object_get(r, "points")), 100 * gain,
                 100 * f->margin, beats ? "approved" : "awaits manual approval");
        return beats ? TSL_MODEL_APPROVED : TSL_MODEL_PENDING;
    }
    json_t *champ = json_object_get(cmp, "champion");
    if (!json_is_object(champ)) {
        snprintf(why, cap,
                 "registered by execution %lld; policy auto: approved, there is no approved "
                 "version to beat",
                 (long long)c->id);
        return TSL_MODEL_APPROVED;
    }
    int version = (int)json_integer_value(json_object_get(champ, "version"));
    json_int_t k = json_integer_value(json_object_get(champ, "compared_series"));
    json_t *jc = json_object_get(champ, "score"), *ja = json_object_get(champ, "challenger_score");
    if (k == 0 || !json_is_number(jc) || !json_is_number(ja)) {
        snprintf(why, cap,
                 "registered by execution %lld; policy auto: the champion (version %d) and this "
                 "version share no series both could be scored on, so it awaits manual approval",
                 (long long)c->id, version);
        return TSL_MODEL_PENDING;
    }
    double cs = json_number_value(jc), as = json_number_value(ja);
    double gain = cs > 0 ? 1 - as / cs : 0;
    int beats = beats_by(as, cs, f->margin);
    snprintf(why, cap,
             "registered by execution %lld; policy auto: %s %.4g against the champion's (version "
             "%d) %.4g on the same %lld series and windows, %.1f%% better, margin %.1f%%: %s",
             (long long)c->id, metric, as, version, cs, (long long)k, 100 * gain, 100 * f->margin,
             beats ? "approved" : "awaits manual approval");
    return beats ? TSL_MODEL_APPROVED : TSL_MODEL_PENDING;
}

/* Whether entry's new version should run in shadow first (compare.shadow): the endpoint
 * serves another version of entry. *champion gets that version. */
static int shadow_wanted(const pl_ctx *c, const char *entry, int *champion) {
    tsl_store_deployment dp = {0};
    int want = 0;
    *champion = 0;
    if (!c->f->shadow_endpoint || tsl_store_endpoint_get(c->s, c->f->shadow_endpoint, &dp, NULL))
        return 0;
    if (!strcmp(dp.forecaster, entry)) {
        want = 1;
        *champion = dp.version;
    }
    tsl_store_deployment_release(&dp);
    return want;
}

/* The shadow windows compare.shadow asks for. */
static int shadow_windows(const pl_ctx *c) {
    return c->f->shadow_windows > 0    ? c->f->shadow_windows
           : c->f->compare_windows > 0 ? c->f->compare_windows
                                       : 7;
}

/* Starts version `version` of entry in shadow on compare.shadow's endpoint, unless it ran in
 * shadow before (a retried step) or its status is no longer pending; notes it in v. An
 * endpoint that stopped serving entry meanwhile (TSL_ECONFLICT) leaves it pending. */
static tsl_err start_shadow(const pl_ctx *c, const char *entry, int version, json_t *v,
                            tsl_diag *d) {
    tsl_store_shadow *had = NULL;
    size_t n = 0;
    tsl_err rc = tsl_store_shadow_list(c->s, NULL, entry, version, 0, 1, &had, &n, d);
    tsl_store_shadow_list_free(had, n);
    if (rc || n) return rc;
    char why[160];
    snprintf(why, sizeof why, "compare.shadow of forecaster %s: challenger of execution %lld",
             c->f->name, (long long)c->id);
    const char *who = c->o->who && c->o->who[0] ? c->o->who : "tsloop";
    tsl_store_shadow sh = {0};
    rc = tsl_store_shadow_start(c->s, c->f->shadow_endpoint, entry, version, shadow_windows(c), who,
                                why, &sh, d);
    if (rc == TSL_ECONFLICT) {
        json_object_set_new(v, "shadow_error", json_string(tsl_diag_msg(d)));
        tsl_diag_clear(d);
        return TSL_OK;
    }
    if (!rc)
        json_object_set_new(v, "shadow",
                            json_pack("{s:s, s:i, s:i}", "endpoint", sh.endpoint, "windows",
                                      sh.windows, "champion_version", sh.champion_version));
    tsl_store_shadow_release(&sh);
    return rc;
}

/* Looks at the entry's existing versions: *version gets one this execution already
 * registered (0: none, with *status untouched); TSL_ECONFLICT when the entry belongs to
 * another forecaster or group. */
static tsl_err existing(pl_ctx *c, const char *entry, const char *key, int *version,
                        tsl_model_status *status, tsl_diag *d) {
    tsl_store_model *list = NULL;
    size_t n = 0;
    *version = 0;
    tsl_err rc = tsl_store_model_list(c->s, entry, &list, &n, d);
    if (rc) return rc;
    for (size_t i = 0; i < n && !*version; i++)
        if (list[i].execution_id == c->id) {
            *version = list[i].version;
            *status = list[i].status;
        }
    if (n && !*version) {
        json_t *m = json_loads(list[0].metrics, 0, NULL);
        const char *f = json_string_value(json_object_get(m, "forecaster"));
        const char *k = json_string_value(json_object_get(m, "group_key"));
        if (!f || strcmp(f, c->f->name) || !k || strcmp(k, key))
            rc = tsl_diag_set(d, TSL_ECONFLICT,
                              "registry entry '%s' holds versions of forecaster '%s' group %s, "
                              "not of forecaster '%s' group %s; rename the forecaster",
                              entry, f ? f : "?", k && k[0] ? k : "(none)", c->f->name,
                              key[0] ? key : "(none)");
        json_decref(m);
    }
    tsl_store_model_list_free(list, n);
    return rc;
}

/* The group's version metadata for its bundle: lineage, settings, the group's data baseline. */
static char *bundle_meta(const pl_ctx *c, const json_t *g) {
    const json_t *a = c->out[PL_AUTOML];
    const char *key = json_string_value(json_object_get(g, "key"));
    json_t *meta = json_object();
    json_object_set_new(meta, "format", json_string("tsloop.model/1"));
    json_object_set_new(meta, "forecaster", json_string(c->f->name));
    json_object_set(meta, "entry", json_object_get(g, "entry"));
    json_object_set(meta, "group", json_object_get(g, "values"));
    json_object_set(meta, "group_key", json_object_get(g, "key"));
    json_object_set(meta, "dataset", json_object_get(a, "dataset"));
    json_object_set(meta, "dataset_hash", json_object_get(a, "dataset_hash"));
    json_object_set(meta, "config_hash", json_object_get(a, "config_hash"));
    json_object_set_new(meta, "program_version",
                        json_string(c->o->program ? c->o->program : TSL_VERSION));
    json_object_set_new(meta, "execution", json_integer((json_int_t)c->id));
    json_object_set(meta, "settings", json_object_get(a, "settings"));
    json_t *bl = key ? json_object_get(c->baselines, key) : NULL;
    json_object_set(meta, "baseline", bl ? bl : json_null());
    char *text = tsl_pl_dump(meta);
    json_decref(meta);
    return text;
}

/* The group's metrics: what `tsloop models list|show|diff` show. */
static char *metrics_json(const pl_ctx *c, const json_t *g, const json_t *detail,
                          const json_t *cmp) {
    static const char *const copied[] = {"score",         "scored_series", "backtest_score",
                                         "series",        "failed",        "series_weight",
                                         "weight_learnt", "seconds",       "auto"};
    json_t *m = json_object();
    json_object_set_new(m, "forecaster", json_string(c->f->name));
    json_object_set(m, "entry", json_object_get(g, "entry"));
    json_object_set(m, "group", json_object_get(g, "values"));
    json_object_set(m, "group_key", json_object_get(g, "key"));
    json_object_set(m, "metric",
                    json_object_get(json_object_get(c->out[PL_AUTOML], "settings"), "metric"));
    for (size_t i = 0; i < sizeof copied / sizeof copied[0]; i++)
        json_object_set(m, copied[i], json_object_get(g, copied[i]));
    json_object_set(m, "leaderboard", json_object_get(detail, "leaderboard"));
    json_t *champ = json_object_get(cmp, "champion");
    json_object_set(m, "champion", champ ? champ : json_null());
    json_t *recent = json_object_get(cmp, "recent");
    if (recent) json_object_set(m, "recent", recent);
    char *text = tsl_pl_dump(m);
    json_decref(m);
    return text;
}

/* The group's per-series choices and reasons. */
static char *choices_json(const json_t *detail) {
    json_t *ok = json_object(), *failed = json_object();
    json_t *items = json_object_get(detail, "items");
    for (size_t i = 0; i < json_array_size(items); i++) {
        json_t *it = json_array_get(items, i);
        const char *item = json_string_value(json_object_get(it, "item"));
        if (!item) continue;
        json_t *err = json_object_get(it, "error");
        if (err) {
            json_object_set(failed, item, err);
            continue;
        }
        json_t *o = json_object();
        static const char *const keys[] = {"choice", "model", "score", "auto", "reason", "end"};
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            json_object_set(o, keys[k], json_object_get(it, keys[k]));
        json_object_set_new(ok, item, o);
    }
    json_t *root = json_object();
    json_object_set_new(root, "items", ok);
    json_object_set_new(root, "failed", failed);
    char *text = tsl_pl_dump(root);
    json_decref(root);
    return text;
}

/* The group's artifact: its series' models taken as they are from the automl bundle. */
static tsl_err group_bundle(const pl_ctx *c, const tsl_bundle *all, const json_t *g,
                            const json_t *detail, tsl_wbuf *out, size_t *models, tsl_diag *d) {
    tsl_bundle_builder *b = tsl_bundle_builder_new();
    const char *key = json_string_value(json_object_get(g, "key"));
    json_t *items = json_object_get(detail, "items");
    tsl_err rc = TSL_OK;
    for (size_t i = 0; i < json_array_size(items) && !rc; i++) {
        const char *item = json_string_value(json_object_get(json_array_get(items, i), "item"));
        long at = item ? tsl_bundle_find(all, item) : -1;
        if (at < 0) continue; /* a series that failed has no model */
        size_t len = 0;
        const void *raw = tsl_bundle_model_bytes(all, (size_t)at, &len);
        rc = tsl_bundle_add_raw(b, item, key, raw, len, d);
    }
    *models = tsl_bundle_builder_count(b);
    char *meta = rc ? NULL : bundle_meta(c, g);
    if (!rc) rc = tsl_bundle_builder_meta(b, meta, d);
    if (!rc) rc = tsl_bundle_builder_write(b, out, d);
    tsl_free(meta);
    tsl_bundle_builder_free(b);
    return rc;
}

/* Records model.compared for a new version with a recent comparison (see the purpose
 * paragraph). */
static tsl_err compared_event(const pl_ctx *c, const char *entry, int version, const json_t *cmp,
                              tsl_diag *d) {
    const json_t *r = recent_of(cmp);
    if (!r) return TSL_OK;
    double cs = json_number_value(json_object_get(r, "champion"));
    double as = json_number_value(json_object_get(r, "challenger"));
    json_t *p = json_pack(
        "{s:s, s:i, s:O, s:O, s:O, s:f, s:f, s:O, s:O, s:O, s:f, s:b, s:s}", "entry", entry,
        "version", version, "champion_version", json_object_get(r, "champion_version"), "endpoint",
        json_object_get(r, "endpoint"), "metric", json_object_get(r, "metric"), "champion", cs,
        "challenger", as, "origins", json_object_get(r, "origins"), "points",
        json_object_get(r, "points"), "items", json_object_get(r, "items"), "margin", c->f->margin,
        "better", beats_by(as, cs, c->f->margin), "source", "refit");
    char *text = tsl_pl_dump(p), subject[200];
    json_decref(p);
    snprintf(subject, sizeof subject, "model:%s/%d", entry, version);
    tsl_err rc = tsl_store_event_append(c->s, "model.compared", subject, text, NULL, d);
    tsl_free(text);
    return rc;
}

tsl_err tsl_pl_step_register(pl_ctx *c, tsl_diag *d) {
    json_t *groups = tsl_pl_groups(c), *out = json_object(), *versions = json_array(),
           *skipped = json_array();
    const json_t *a = c->out[PL_AUTOML];
    const char *metric =
        json_string_value(json_object_get(json_object_get(a, "settings"), "metric"));
    const char *who = c->o->who && c->o->who[0] ? c->o->who : "tsloop";
    tsl_wbuf art;
    tsl_wbuf_init(&art);
    size_t approved = 0, pending = 0;
    tsl_err rc = TSL_OK;
    if (!groups) {
        rc = tsl_diag_set(d, TSL_EINTERNAL, "the automl step left no groups");
        goto out;
    }
    if ((rc = tsl_pl_models(c, d))) goto out;
    for (size_t i = 0; i < json_array_size(groups); i++) {
        json_t *g = json_array_get(groups, i);
        const char *entry = json_string_value(json_object_get(g, "entry"));
        const char *key = json_string_value(json_object_get(g, "key"));
        const json_t *detail = key ? tsl_pl_detail(c, key) : NULL;
        if (!entry || !key || !detail) {
            rc = tsl_diag_set(d, TSL_EINTERNAL, "group %zu of the automl output is malformed", i);
            goto out;
        }
        if (!json_is_object(json_object_get(c->baselines, key))) {
            rc = tsl_diag_set(d, TSL_EINTERNAL, "the baseline step left no baseline of group %s",
                              key[0] ? key : "(all series)");
            goto out;
        }
        /* Still ours? A worker whose lease was taken back must not register (store.h). */
        if ((rc = tsl_store_exec_heartbeat(c->s, c->id, NULL, d))) goto out;
        int version = 0;
        tsl_model_status status = TSL_MODEL_PENDING;
        if ((rc = existing(c, entry, key, &version, &status, d))) goto out;
        json_t *v = json_object();
        json_object_set_new(v, "entry", json_string(entry));
        json_object_set_new(v, "key", json_string(key));
        if (version) { /* registered before a crash: keep that one */
            json_object_set_new(v, "version", json_integer(version));
            json_object_set_new(v, "status", json_string(tsl_model_status_name(status)));
            json_object_set_new(v, "reused", json_true());
        } else {
            size_t models = 0;
            tsl_wbuf_reset(&art);
            if ((rc = group_bundle(c, c->models, g, detail, &art, &models, d))) {
                json_decref(v);
                goto out;
            }
            if (models == 0) {
                json_object_set_new(v, "reason",
                                    json_string("no series of the group could be "
                                                "fitted"));
                json_array_append_new(skipped, v);
                continue;
            }
            json_t *cmp = compared(c, entry);
            char why[640];
            int champion = 0;
            if (shadow_wanted(c, entry, &champion)) {
                status = TSL_MODEL_PENDING;
                snprintf(why, sizeof why,
                         "registered by execution %lld; awaiting shadow of %d windows on "
                         "endpoint %s against version %d (compare.shadow), then policy %s",
                         (long long)c->id, shadow_windows(c), c->f->shadow_endpoint, champion,
                         c->f->approval == TSL_APPROVAL_AUTO ? "auto" : "manual");
            } else {
                status = decide(c, cmp, metric ? metric : "score", why, sizeof why);
            }
            char *mj = metrics_json(c, g, detail, cmp), *cj = choices_json(detail);
            tsl_store_model_new m;
            memset(&m, 0, sizeof m);
            m.forecaster = entry;
            m.metrics = mj;
            m.choices = cj;
            m.dataset = json_string_value(json_object_get(a, "dataset"));
            m.dataset_hash = json_string_value(json_object_get(a, "dataset_hash"));
            m.config_hash = json_string_value(json_object_get(a, "config_hash"));
            m.program_version = c->o->program;
            m.execution_id = c->id;
            m.artifact = art.data;
            m.artifact_len = art.len;
            m.status = status;
            m.who = who;
            m.why = why;
            rc = tsl_store_model_register(c->s, &m, NULL, &version, d);
            tsl_free(mj);
            tsl_free(cj);
            if (rc) {
                json_decref(v);
                goto out;
            }
            json_object_set_new(v, "version", json_integer(version));
            json_object_set_new(v, "status", json_string(tsl_model_status_name(status)));
            json_object_set_new(v, "why", json_string(why));
            if ((rc = compared_event(c, entry, version, cmp, d))) {
                json_decref(v);
                goto out;
            }
            json_object_set_new(v, "models", json_integer((json_int_t)models));
        }
        int champion = 0;
        if (version && status == TSL_MODEL_PENDING && shadow_wanted(c, entry, &champion) &&
            (rc = start_shadow(c, entry, version, v, d))) {
            json_decref(v);
            goto out;
        }
        /* The endpoints that deploy on registration or approval follow (deploy.h); a retried
         * step repeats this harmlessly, as deploying the current version changes nothing. */
        size_t moved = 0;
        if (version &&
            (rc = tsl_deploy_auto(c->s, c->cfg, entry, version, status, 1, who, &moved, d))) {
            json_decref(v);
            goto out;
        }
        if (moved) json_object_set_new(v, "deployed", json_integer((json_int_t)moved));
        approved += status == TSL_MODEL_APPROVED;
        pending += status == TSL_MODEL_PENDING;
        json_array_append_new(versions, v);
    }
    if (json_array_size(versions) == 0) {
        rc = tsl_diag_set(d, TSL_ENUMERIC, "no group had a fitted model to register");
        goto out;
    }
    snprintf(c->summary, sizeof c->summary, "%zu version%s (%zu approved, %zu pending)",
             json_array_size(versions), json_array_size(versions) == 1 ? "" : "s", approved,
             pending);
    json_object_set_new(out, "approved", json_integer((json_int_t)approved));
    json_object_set_new(out, "pending", json_integer((json_int_t)pending));
    json_object_set(out, "versions", versions);
    json_object_set(out, "skipped", skipped);
    c->result = out;
    out = NULL;
out:
    json_decref(out);
    json_decref(versions);
    json_decref(skipped);
    tsl_wbuf_release(&art);
    return rc;
}
