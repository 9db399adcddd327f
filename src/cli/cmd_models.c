/*
 * cmd_models.c - `tsloop models list|show|approve|reject|diff`: the model registry.
 *
 * Versions are named ENTRY/VERSION (solar/3; a split_by group's entry is solar.north, see
 * docs/registry.md). Approving and rejecting record who (the OS user) and why in the audit
 * log; an execution's versions can be approved together (--execution), which is how the
 * hundreds of groups of a split_by forecaster are approved at once. diff puts two versions'
 * metrics and per-series choices side by side.
 */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "cli/cli.h"
#include "tsloop/bundle.h"
#include "tsloop/deploy.h"
#include "tsloop/mem.h"
#include "tsloop/project.h"
#include "tsloop/registry.h"
#include "tsloop/shadow.h"
#include "tsloop/store.h"

static const char usage_text[] =
    "usage: tsloop models list [FORECASTER] [--status S] [--limit N] [--json]\n"
    "       tsloop models show NAME[/VERSION] [--items] [--json]\n"
    "       tsloop models show NAME[/VERSION] --baseline\n"
    "       tsloop models approve NAME/VERSION... --why TEXT\n"
    "       tsloop models approve --execution ID --why TEXT\n"
    "       tsloop models reject NAME/VERSION... --why TEXT\n"
    "       tsloop models diff NAME/VERSION [NAME/VERSION] [--all] [--json]\n"
    "\n"
    "The model registry. list: versions, newest first (of FORECASTER and its split_by groups).\n"
    "show: one version's metrics, champion comparison, lineage, artifact and audit log (NAME\n"
    "alone: the latest). approve/reject: change the status, recording who (the OS user), when\n"
    "and why; --execution approves every pending version an execution registered. diff: two\n"
    "versions' metrics and per-series choices side by side; with one version, against its\n"
    "entry's champion (or the version before it).\n"
    "\n"
    "      --project DIR    the project's directory, instead of searching upwards\n"
    "      --status S       list: only PendingManualApproval (pending), Approved or Rejected\n"
    "      --limit N        list: at most N versions\n"
    "      --items          show: every series' choice, model, score and reason\n"
    "      --baseline       show: the version's data baseline (statistics and constraints,\n"
    "                       JSON) from its artifact\n"
    "      --why TEXT       approve/reject: why (required; kept in the audit log)\n"
    "      --execution ID   approve: the pending versions execution ID registered\n"
    "      --all            diff: every series, not only those whose choice differs\n"
    "      --json           JSON on stdout\n"
    "  -h, --help           this help\n";

enum {
    OPT_STATUS = CLI_OPT_OWN,
    OPT_LIMIT,
    OPT_ITEMS,
    OPT_BASELINE,
    OPT_WHY,
    OPT_EXECUTION,
    OPT_ALL
};

static const struct option long_opts[] = {{"project", required_argument, NULL, CLI_OPT_PROJECT},
                                          {"status", required_argument, NULL, OPT_STATUS},
                                          {"limit", required_argument, NULL, OPT_LIMIT},
                                          {"items", no_argument, NULL, OPT_ITEMS},
                                          {"baseline", no_argument, NULL, OPT_BASELINE},
                                          {"why", required_argument, NULL, OPT_WHY},
                                          {"execution", required_argument, NULL, OPT_EXECUTION},
                                          {"all", no_argument, NULL, OPT_ALL},
                                          {"json", no_argument, NULL, CLI_OPT_JSON},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};

typedef struct models_opts {
    const char *project, *why;
    int has_status, items, baseline, all, json;
    tsl_model_status status;
    long limit, execution;
} models_opts;

/* A number of a JSON object as text ("-" when absent or null). */
static void num_text(json_t *v, char *buf, size_t cap) {
    if (json_is_number(v))
        snprintf(buf, cap, "%.4g", json_number_value(v));
    else
        tsl_strlcpy(buf, "-", cap);
}

/* "v3 -2.1%": the champion a version was compared with at registration and how its error on
 * the same series and windows differed (negative: lower than the champion's). */
static void vs_champion(json_t *ch, char *buf, size_t cap) {
    json_t *a = json_object_get(ch, "challenger_score"), *c = json_object_get(ch, "score");
    if (!json_is_object(ch)) {
        tsl_strlcpy(buf, "-", cap);
    } else if (!json_is_number(a) || !json_is_number(c) || json_number_value(c) == 0) {
        snprintf(buf, cap, "v%lld ?",
                 (long long)json_integer_value(json_object_get(ch, "version")));
    } else {
        snprintf(buf, cap, "v%lld %+.1f%%",
                 (long long)json_integer_value(json_object_get(ch, "version")),
                 100 * (json_number_value(a) / json_number_value(c) - 1));
    }
}

/* The comparison under key of a version's metrics (docs/retraining.md) as one line: "recent",
 * the refit comparison it was registered with, or "shadow", the paired comparison of its run
 * in shadow (with_shadow): "mase 0.81 vs 1.12 of prod's version 2 (-27.7%) at 7 origins, 168
 * points"; "" when none. */
static void recent_text(const json_t *metrics, const char *key, char *buf, size_t cap) {
    const json_t *r = json_object_get(metrics, key);
    buf[0] = '\0';
    if (!json_is_object(r)) return;
    if (json_is_true(json_object_get(r, "running"))) {
        snprintf(buf, cap, "running in shadow on %s: %lld of %lld windows evaluated",
                 json_string_value(json_object_get(r, "endpoint")),
                 (long long)json_integer_value(json_object_get(r, "progress")),
                 (long long)json_integer_value(json_object_get(r, "windows")));
        return;
    }
    long long origins = (long long)json_integer_value(json_object_get(r, "origins"));
    const char *ep = json_string_value(json_object_get(r, "endpoint"));
    long long cv = (long long)json_integer_value(json_object_get(r, "champion_version"));
    if (origins == 0) {
        snprintf(buf, cap, "no captured forecast of %s's version %lld has actuals yet",
                 ep ? ep : "?", cv);
        return;
    }
    const json_t *a = json_object_get(r, "challenger"), *c = json_object_get(r, "champion");
    char x[32] = "-", y[32] = "-", rel[32] = "";
    if (json_is_number(a)) snprintf(x, sizeof x, "%.4g", json_number_value(a));
    if (json_is_number(c)) snprintf(y, sizeof y, "%.4g", json_number_value(c));
    if (json_is_number(a) && json_is_number(c) && json_number_value(c) != 0)
        snprintf(rel, sizeof rel, " (%+.1f%%)",
                 100 * (json_number_value(a) / json_number_value(c) - 1));
    snprintf(buf, cap, "%s %s vs %s of %s's version %lld%s at %lld origins, %lld points",
             json_string_value(json_object_get(r, "metric")), x, y, ep ? ep : "?", cv, rel, origins,
             (long long)json_integer_value(json_object_get(r, "points")));
}

/* The version's newest shadow comparison merged into its parsed metrics (shadow.h). */
static void with_shadow(tsl_store *s, const tsl_store_model *m, json_t *metrics) {
    tsl_shadow_metrics_merge(s, m->forecaster, m->version, metrics);
}

/* The version as JSON for --json output (metrics and choices parsed). */
static json_t *version_json(const tsl_store_model *m, int champion) {
    char created[40], status_at[40];
    cli_format_ms(m->created_ms, created, sizeof created);
    cli_format_ms(m->status_ms, status_at, sizeof status_at);
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(m->forecaster));
    json_object_set_new(o, "version", json_integer(m->version));
    json_object_set_new(o, "status", json_string(tsl_model_status_name(m->status)));
    json_object_set_new(o, "champion", json_boolean(champion));
    json_object_set_new(o, "created", json_string(created));
    json_object_set_new(o, "status_changed", json_string(status_at));
    json_object_set_new(o, "dataset", m->dataset ? json_string(m->dataset) : json_null());
    json_object_set_new(o, "dataset_hash",
                        m->dataset_hash ? json_string(m->dataset_hash) : json_null());
    json_object_set_new(o, "config_hash",
                        m->config_hash ? json_string(m->config_hash) : json_null());
    json_object_set_new(o, "program_version",
                        m->program_version ? json_string(m->program_version) : json_null());
    json_object_set_new(o, "execution", json_integer(m->execution_id));
    json_object_set_new(o, "artifact_bytes", json_integer((json_int_t)m->artifact_len));
    json_object_set_new(o, "artifact_sha256", json_string(m->artifact_sha256));
    json_t *metrics = cli_json_parse(m->metrics);
    json_object_set_new(o, "metrics", metrics ? metrics : json_object());
    return o;
}

/* 1 when m is its entry's champion. */
static int is_champion(tsl_store *s, const tsl_store_model *m) {
    if (m->status != TSL_MODEL_APPROVED) return 0;
    tsl_store_model ch;
    int found = 0;
    if (tsl_store_model_champion(s, m->forecaster, &ch, &found, NULL) || !found) return 0;
    int yes = ch.version == m->version;
    tsl_store_model_release(&ch);
    return yes;
}

/* `models list`: the versions of forecaster (NULL: all), newest first. */
static int models_list(tsl_store *s, const char *forecaster, const models_opts *mo) {
    tsl_store_model *list = NULL;
    size_t n = 0;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_registry_versions(s, forecaster, &list, &n, &d))
        return cli_fail("%s", tsl_diag_msg(&d));
    json_t *arr = mo->json ? json_array() : NULL;
    if (!arr)
        printf("%-36s %-22s %-20s %-7s %9s %-14s %6s\n", "version", "status", "created", "metric",
               "score", "vs champion", "exec");
    size_t shown = 0;
    for (size_t i = 0; i < n; i++) {
        const tsl_store_model *m = &list[i];
        if (mo->has_status && m->status != mo->status) continue;
        if (mo->limit && shown == (size_t)mo->limit) break;
        shown++;
        int champ = is_champion(s, m);
        if (arr) {
            json_array_append_new(arr, version_json(m, champ));
            continue;
        }
        json_t *metrics = cli_json_parse(m->metrics);
        char name[TSL_STORE_NAME_MAX + 16], created[40], score[32], vs[48];
        snprintf(name, sizeof name, "%s/%d", m->forecaster, m->version);
        cli_format_ms(m->created_ms, created, sizeof created);
        num_text(json_object_get(metrics, "score"), score, sizeof score);
        vs_champion(json_object_get(metrics, "champion"), vs, sizeof vs);
        const char *metric = json_string_value(json_object_get(metrics, "metric"));
        printf("%-36s %-22s %-20s %-7s %9s %-14s %6lld%s\n", name, tsl_model_status_name(m->status),
               created, metric ? metric : "-", score, vs, (long long)m->execution_id,
               champ ? "  *champion" : "");
        json_decref(metrics);
    }
    if (arr)
        cli_json_print(arr);
    else if (!shown)
        printf("(no model versions%s%s)\n", forecaster ? " of " : "", forecaster ? forecaster : "");
    tsl_store_model_list_free(list, n);
    return CLI_OK;
}

/* Loads NAME[/VERSION] (the latest without a version). */
static int load_ref(tsl_store *s, const char *ref, tsl_store_model *m) {
    char name[TSL_STORE_NAME_MAX + 1];
    int version = 0;
    tsl_diag d = {TSL_OK, {0}};
    memset(m, 0, sizeof *m);
    if (tsl_registry_ref_parse(ref, name, &version, &d))
        return cli_usage_error("models", "%s", d.msg);
    if (version == 0) {
        tsl_store_model *list = NULL;
        size_t n = 0;
        if (tsl_store_model_list(s, name, &list, &n, &d)) return cli_fail("%s", tsl_diag_msg(&d));
        if (n == 0) {
            tsl_store_model_list_free(list, n);
            return cli_fail("no model version of '%s' is registered", name);
        }
        *m = list[0];
        memset(&list[0], 0, sizeof list[0]);
        tsl_store_model_list_free(list, n);
        return CLI_OK;
    }
    if (tsl_store_model_get(s, name, version, m, &d)) return cli_fail("%s", tsl_diag_msg(&d));
    return CLI_OK;
}

/* `models show --baseline`: the data baseline in the metadata of m's bundle, as JSON. */
static int show_baseline(tsl_store *s, const tsl_store_model *m) {
    void *blob = NULL;
    size_t len = 0;
    tsl_bundle *b = NULL;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_model_artifact(s, m->forecaster, m->version, &blob, &len, &d) ||
        tsl_bundle_adopt(blob, len, &b, &d))
        return cli_fail("%s/%d: %s", m->forecaster, m->version, tsl_diag_msg(&d));
    json_t *meta = cli_json_parse(tsl_bundle_meta(b));
    json_t *bl = json_object_get(meta, "baseline");
    int rc = CLI_OK;
    if (json_is_object(bl)) {
        /* Every digit (not cli_json_print's ten): tsl_baseline_from_json reads it back exactly. */
        json_dumpf(bl, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
    } else
        rc = cli_fail("%s/%d has no data baseline (it was registered before versions kept one)",
                      m->forecaster, m->version);
    json_decref(meta);
    tsl_bundle_free(b);
    return rc;
}

/* `models show`: one version with its audit log (and its series with --items). */
static int models_show(tsl_store *s, const char *ref, const models_opts *mo) {
    tsl_store_model m;
    int rc = load_ref(s, ref, &m);
    if (rc) return rc;
    if (mo->baseline) {
        rc = show_baseline(s, &m);
        tsl_store_model_release(&m);
        return rc;
    }
    tsl_store_audit *audit = NULL;
    size_t na = 0;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_model_audit(s, m.forecaster, m.version, &audit, &na, &d)) {
        rc = cli_fail("%s", tsl_diag_msg(&d));
        goto out;
    }
    int champ = is_champion(s, &m);
    json_t *metrics = cli_json_parse(m.metrics), *choices = cli_json_parse(m.choices);
    json_t *items = json_object_get(choices, "items");
    if (mo->json) {
        json_t *o = version_json(&m, champ), *aj = json_array();
        with_shadow(s, &m, json_object_get(o, "metrics"));
        json_object_set(o, "choices", choices ? choices : json_null());
        for (size_t i = 0; i < na; i++) {
            char at[40];
            cli_format_ms(audit[i].at_ms, at, sizeof at);
            json_array_append_new(
                aj, json_pack("{s:s*, s:s, s:s, s:s, s:s}", "from",
                              audit[i].has_from ? tsl_model_status_name(audit[i].from) : NULL, "to",
                              tsl_model_status_name(audit[i].to), "who", audit[i].who, "why",
                              audit[i].why, "at", at));
        }
        json_object_set_new(o, "audit", aj);
        cli_json_print(o);
    } else {
        char created[40], buf[32], buf2[32];
        cli_format_ms(m.created_ms, created, sizeof created);
        printf("%s/%d  %s%s\n", m.forecaster, m.version, tsl_model_status_name(m.status),
               champ ? " (champion)" : "");
        const char *f = json_string_value(json_object_get(metrics, "forecaster"));
        json_t *group = json_object_get(metrics, "group");
        printf("forecaster   %s", f ? f : m.forecaster);
        const char *key;
        json_t *v;
        int first = 1;
        json_object_foreach(group, key, v) {
            printf("%s%s=%s", first ? " (group " : ", ", key, json_string_value(v));
            first = 0;
        }
        printf("%s\n", first ? "" : ")");
        printf("created      %s by execution %lld\n", created, (long long)m.execution_id);
        const char *metric = json_string_value(json_object_get(metrics, "metric"));
        num_text(json_object_get(metrics, "score"), buf, sizeof buf);
        num_text(json_object_get(metrics, "backtest_score"), buf2, sizeof buf2);
        printf("accuracy     %s %s (nested backtest), %s (backtest of the chosen models) over "
               "%lld series, %lld failed\n",
               metric ? metric : "score", buf, buf2,
               (long long)json_integer_value(json_object_get(metrics, "series")),
               (long long)json_integer_value(json_object_get(metrics, "failed")));
        json_t *ch = json_object_get(metrics, "champion");
        if (json_is_object(ch)) {
            num_text(json_object_get(ch, "score"), buf, sizeof buf);
            num_text(json_object_get(ch, "challenger_score"), buf2, sizeof buf2);
            printf("champion     version %lld: %s, this version %s, on the same %lld series and "
                   "windows\n",
                   (long long)json_integer_value(json_object_get(ch, "version")), buf, buf2,
                   (long long)json_integer_value(json_object_get(ch, "compared_series")));
        } else {
            printf("champion     none when it was registered\n");
        }
        char rt[256];
        with_shadow(s, &m, metrics);
        recent_text(metrics, "recent", rt, sizeof rt);
        if (rt[0]) printf("recent       %s\n", rt);
        recent_text(metrics, "shadow", rt, sizeof rt);
        if (rt[0]) printf("shadow       %s\n", rt);
        printf("lineage      data set %s, hash %s\n", m.dataset ? m.dataset : "-",
               m.dataset_hash ? m.dataset_hash : "-");
        printf("             config hash %s, tsloop %s\n", m.config_hash ? m.config_hash : "-",
               m.program_version ? m.program_version : "-");
        printf("artifact     %zu bytes, sha256 %s\n", m.artifact_len, m.artifact_sha256);
        /* Choices tallied by column. */
        json_t *tally = json_object();
        json_object_foreach(items, key, v) {
            const char *cname = json_string_value(json_object_get(v, "choice"));
            if (!cname) continue;
            json_int_t k = json_integer_value(json_object_get(tally, cname));
            json_object_set_new(tally, cname, json_integer(k + 1));
        }
        printf("choices     ");
        json_object_foreach(tally, key, v)
            printf(" %s %lld", key, (long long)json_integer_value(v));
        printf("\n");
        json_decref(tally);
        printf("audit\n");
        for (size_t i = 0; i < na; i++) {
            char at[40];
            cli_format_ms(audit[i].at_ms, at, sizeof at);
            if (audit[i].has_from)
                printf("  %s  %s -> %s by %s: %s\n", at, tsl_model_status_name(audit[i].from),
                       tsl_model_status_name(audit[i].to), audit[i].who, audit[i].why);
            else
                printf("  %s  registered %s by %s: %s\n", at, tsl_model_status_name(audit[i].to),
                       audit[i].who, audit[i].why);
        }
        if (mo->items) {
            printf("series\n");
            json_object_foreach(items, key, v) {
                num_text(json_object_get(v, "score"), buf, sizeof buf);
                printf("  %-20s %-22s %-18s %8s  %s\n", key,
                       json_string_value(json_object_get(v, "choice")),
                       json_string_value(json_object_get(v, "model")), buf,
                       json_string_value(json_object_get(v, "reason")));
            }
        }
    }
    json_decref(metrics);
    json_decref(choices);
out:
    tsl_store_audit_list_free(audit, na);
    tsl_store_model_release(&m);
    return rc;
}

/* Sets one version's status, printing what happened. */
static int set_status(tsl_store *s, const tsl_config *cfg, const char *entry, int version,
                      tsl_model_status to, const char *why, json_t *arr) {
    tsl_diag d = {TSL_OK, {0}};
    size_t moved = 0;
    if (tsl_store_model_set_status(s, entry, version, to, cli_who(), why, &d))
        return cli_fail("%s", tsl_diag_msg(&d));
    /* The endpoints that deploy on approval follow (deploy.h). */
    if (tsl_deploy_auto(s, cfg, entry, version, to, 0, cli_who(), &moved, &d))
        return cli_fail("%s/%d is %s, but %s", entry, version, tsl_model_status_name(to),
                        tsl_diag_msg(&d));
    if (moved && !arr)
        printf("%s/%d: deployed to %zu endpoint%s (auto_deploy on_approval)\n", entry, version,
               moved, moved == 1 ? "" : "s");
    if (arr)
        json_array_append_new(arr,
                              json_pack("{s:s, s:i, s:s, s:s}", "name", entry, "version", version,
                                        "status", tsl_model_status_name(to), "who", cli_who()));
    else
        printf("%s/%d: %s by %s\n", entry, version, tsl_model_status_name(to), cli_who());
    return CLI_OK;
}

/* `models approve|reject`: the versions named in argv, or an execution's pending ones. */
static int models_status(tsl_store *s, const tsl_config *cfg, int argc, char **argv,
                         tsl_model_status to, const models_opts *mo) {
    const char *cmd = to == TSL_MODEL_APPROVED ? "approve" : "reject";
    if (!mo->why || !mo->why[0])
        return cli_usage_error("models", "%s needs --why TEXT: the reason goes into the audit log",
                               cmd);
    if (mo->execution && argc > 0)
        return cli_usage_error("models", "give versions or --execution, not both");
    if (!mo->execution && argc == 0)
        return cli_usage_error("models",
                               "%s: which version? expected NAME/VERSION (e.g. "
                               "solar/3) or --execution ID",
                               cmd);
    json_t *arr = mo->json ? json_array() : NULL;
    int rc = CLI_OK;
    if (mo->execution) {
        if (to != TSL_MODEL_APPROVED) {
            json_decref(arr);
            return cli_usage_error("models", "--execution works with approve only");
        }
        tsl_store_model *list = NULL;
        size_t n = 0, done = 0;
        tsl_diag d = {TSL_OK, {0}};
        if (tsl_store_model_list(s, NULL, &list, &n, &d)) {
            json_decref(arr);
            return cli_fail("%s", tsl_diag_msg(&d));
        }
        for (size_t i = 0; i < n && !rc; i++) {
            if (list[i].execution_id != mo->execution || list[i].status != TSL_MODEL_PENDING)
                continue;
            rc = set_status(s, cfg, list[i].forecaster, list[i].version, to, mo->why, arr);
            done++;
        }
        tsl_store_model_list_free(list, n);
        if (!rc && !done)
            rc = cli_fail("execution %ld registered no version that is pending approval",
                          mo->execution);
    }
    for (int i = 0; i < argc && !rc; i++) {
        char name[TSL_STORE_NAME_MAX + 1];
        int version = 0;
        tsl_diag d = {TSL_OK, {0}};
        if (tsl_registry_ref_parse(argv[i], name, &version, &d))
            rc = cli_usage_error("models", "%s", d.msg);
        else if (version == 0)
            rc = cli_usage_error("models",
                                 "%s: which version of '%s'? expected NAME/VERSION (e.g. %s/1)",
                                 cmd, name, name);
        else
            rc = set_status(s, cfg, name, version, to, mo->why, arr);
    }
    if (arr) {
        if (!rc)
            cli_json_print(arr);
        else
            json_decref(arr);
    }
    return rc;
}

/* diff with one version: its entry's champion when that is another version, else the
 * version before it. */
static int diff_base(tsl_store *s, const char *ref, char *name, int *a_version, int *b_version) {
    tsl_store_model m;
    int rc = load_ref(s, ref, &m);
    if (rc) return rc;
    tsl_strlcpy(name, m.forecaster, TSL_STORE_NAME_MAX + 1);
    *b_version = m.version;
    tsl_store_model ch;
    int found = 0;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_model_champion(s, m.forecaster, &ch, &found, &d)) {
        tsl_store_model_release(&m);
        return cli_fail("%s", tsl_diag_msg(&d));
    }
    *a_version = found && ch.version != m.version ? ch.version : m.version - 1;
    if (found) tsl_store_model_release(&ch);
    tsl_store_model_release(&m);
    if (*a_version < 1)
        return cli_fail("%s/%d is the first version and there is no champion to compare it with; "
                        "name two versions",
                        name, *b_version);
    return CLI_OK;
}

/* One side of a diff row: "choice model score", or "-" when absent. */
static void diff_cell(char *buf, size_t cap, const char *choice, const char *model, double score) {
    if (!choice) {
        tsl_strlcpy(buf, "-", cap);
        return;
    }
    if (isfinite(score))
        snprintf(buf, cap, "%s %s %.4g", choice, model ? model : "", score);
    else
        snprintf(buf, cap, "%s %s", choice, model ? model : "");
}

/* `models diff`: two versions (or one and its champion) side by side. */
static int models_diff(tsl_store *s, int argc, char **argv, const models_opts *mo) {
    if (argc < 1 || argc > 2)
        return cli_usage_error("models", "diff takes one or two versions (NAME/VERSION)");
    char an[TSL_STORE_NAME_MAX + 1], bn[TSL_STORE_NAME_MAX + 1];
    int av = 0, bv = 0, rc;
    tsl_diag d = {TSL_OK, {0}};
    if (argc == 1) {
        if ((rc = diff_base(s, argv[0], an, &av, &bv))) return rc;
        tsl_strlcpy(bn, an, sizeof bn);
    } else if (tsl_registry_ref_parse(argv[0], an, &av, &d) ||
               tsl_registry_ref_parse(argv[1], bn, &bv, &d)) {
        return cli_usage_error("models", "%s", d.msg);
    }
    tsl_registry_diff df;
    if (tsl_registry_diff_make(s, an, av, bn, bv, &df, &d)) return cli_fail("%s", tsl_diag_msg(&d));
    char a[TSL_STORE_NAME_MAX + 16], b[TSL_STORE_NAME_MAX + 16];
    snprintf(a, sizeof a, "%s/%d", df.a.forecaster, df.a.version);
    snprintf(b, sizeof b, "%s/%d", df.b.forecaster, df.b.version);
    if (mo->json) {
        json_t *o = json_object(), *ms = json_array(), *rows = json_array();
        json_object_set_new(o, "a", version_json(&df.a, is_champion(s, &df.a)));
        json_object_set_new(o, "b", version_json(&df.b, is_champion(s, &df.b)));
        with_shadow(s, &df.a, json_object_get(json_object_get(o, "a"), "metrics"));
        with_shadow(s, &df.b, json_object_get(json_object_get(o, "b"), "metrics"));
        for (size_t i = 0; i < df.nmetrics; i++) {
            json_t *m = json_object();
            json_object_set_new(m, "name", json_string(df.metrics[i].name));
            json_object_set_new(
                m, "a", isfinite(df.metrics[i].a) ? json_real(df.metrics[i].a) : json_null());
            json_object_set_new(
                m, "b", isfinite(df.metrics[i].b) ? json_real(df.metrics[i].b) : json_null());
            json_array_append_new(ms, m);
        }
        for (size_t i = 0; i < df.nrows; i++) {
            const tsl_registry_diff_row *r = &df.rows[i];
            json_t *row = json_object();
            json_object_set_new(row, "item", json_string(r->item));
            json_object_set_new(row, "a_choice",
                                r->a_choice ? json_string(r->a_choice) : json_null());
            json_object_set_new(row, "a_model", r->a_model ? json_string(r->a_model) : json_null());
            json_object_set_new(row, "a_score",
                                isfinite(r->a_score) ? json_real(r->a_score) : json_null());
            json_object_set_new(row, "b_choice",
                                r->b_choice ? json_string(r->b_choice) : json_null());
            json_object_set_new(row, "b_model", r->b_model ? json_string(r->b_model) : json_null());
            json_object_set_new(row, "b_score",
                                isfinite(r->b_score) ? json_real(r->b_score) : json_null());
            json_array_append_new(rows, row);
        }
        json_object_set_new(o, "metrics", ms);
        json_object_set_new(o, "series", rows);
        json_object_set_new(o, "same", json_integer((json_int_t)df.same));
        json_object_set_new(o, "changed", json_integer((json_int_t)df.changed));
        json_object_set_new(o, "only_a", json_integer((json_int_t)df.only_a));
        json_object_set_new(o, "only_b", json_integer((json_int_t)df.only_b));
        cli_json_print(o);
    } else {
        printf("%-28s %-24s %-24s\n", "", a, b);
        printf("%-28s %-24s %-24s\n", "status", tsl_model_status_name(df.a.status),
               tsl_model_status_name(df.b.status));
        printf("%-28s %-24.12s %-24.12s\n", "dataset hash",
               df.a.dataset_hash ? df.a.dataset_hash : "-",
               df.b.dataset_hash ? df.b.dataset_hash : "-");
        printf("%-28s %-24.12s %-24.12s\n", "config hash",
               df.a.config_hash ? df.a.config_hash : "-",
               df.b.config_hash ? df.b.config_hash : "-");
        for (size_t i = 0; i < df.nmetrics; i++) {
            const tsl_registry_diff_metric *m = &df.metrics[i];
            char x[32] = "-", y[32] = "-", rel[32] = "";
            if (isfinite(m->a)) snprintf(x, sizeof x, "%.6g", m->a);
            if (isfinite(m->b)) snprintf(y, sizeof y, "%.6g", m->b);
            if (isfinite(m->a) && isfinite(m->b) && m->a != 0 && m->a != m->b)
                snprintf(rel, sizeof rel, "(%+.1f%%)", 100 * (m->b - m->a) / fabs(m->a));
            printf("%-28s %-24s %-24s %s\n", m->name, x, y, rel);
        }
        for (int k = 0; k < 2; k++) {
            const tsl_store_model *v = k ? &df.b : &df.a;
            json_t *mj = cli_json_parse(v->metrics);
            char rt[256];
            with_shadow(s, v, mj);
            recent_text(mj, "recent", rt, sizeof rt);
            if (rt[0]) printf("recent comparison of %s: %s\n", k ? b : a, rt);
            recent_text(mj, "shadow", rt, sizeof rt);
            if (rt[0]) printf("shadow comparison of %s: %s\n", k ? b : a, rt);
            json_decref(mj);
        }
        printf("series: %zu same, %zu changed, %zu only in %s, %zu only in %s\n", df.same,
               df.changed, df.only_a, a, df.only_b, b);
        for (size_t i = 0; i < df.nrows; i++) {
            const tsl_registry_diff_row *r = &df.rows[i];
            int same = r->a_choice && r->b_choice && !strcmp(r->a_choice, r->b_choice) &&
                       r->a_model && r->b_model && !strcmp(r->a_model, r->b_model);
            if (same && !mo->all) continue;
            char x[160], y[160];
            diff_cell(x, sizeof x, r->a_choice, r->a_model, r->a_score);
            diff_cell(y, sizeof y, r->b_choice, r->b_model, r->b_score);
            printf("  %-24s %-40s %s %s\n", r->item, x, same ? "  " : "->", y);
        }
    }
    tsl_registry_diff_release(&df);
    return CLI_OK;
}

int cmd_models(int argc, char **argv) {
    static const char *const subs[] = {"list", "show", "approve", "reject", "diff"};
    int sub = cli_subcommand("models", argc, argv, subs, 5, usage_text);
    if (sub == -2) return CLI_OK;
    if (sub < 0) return CLI_USAGE;
    models_opts mo;
    memset(&mo, 0, sizeof mo);
    int c;
    optind = 1; /* options follow the subcommand: parse argv from it on */
    tsl_diag d = {TSL_OK, {0}};
    while ((c = getopt_long(argc - 1, argv + 1, "h", long_opts, NULL)) != -1) {
        switch (c) {
        case CLI_OPT_PROJECT:
            mo.project = optarg;
            break;
        case OPT_STATUS:
            if (tsl_model_status_parse(optarg, &mo.status, &d))
                return cli_usage_error("models", "--status: %s", tsl_diag_msg(&d));
            mo.has_status = 1;
            break;
        case OPT_LIMIT:
            if (cli_parse_long("models", "--limit", optarg, 1, 1000000, &mo.limit))
                return CLI_USAGE;
            break;
        case OPT_ITEMS:
            mo.items = 1;
            break;
        case OPT_BASELINE:
            mo.baseline = 1;
            break;
        case OPT_WHY:
            mo.why = optarg;
            break;
        case OPT_EXECUTION:
            if (cli_parse_long("models", "--execution", optarg, 1, 1L << 62, &mo.execution))
                return CLI_USAGE;
            break;
        case OPT_ALL:
            mo.all = 1;
            break;
        case CLI_OPT_JSON:
            mo.json = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return CLI_OK;
        default:
            return cli_usage_error("models", "unknown or incomplete option");
        }
    }
    int nargs = argc - 1 - optind;
    char **args = argv + 1 + optind;
    if ((sub == 0 && nargs > 1) || (sub == 1 && nargs != 1))
        return cli_usage_error("models", "%s takes %s", subs[sub],
                               sub == 0 ? "at most one FORECASTER" : "one NAME[/VERSION]");
    tsl_project *p = NULL;
    tsl_store *s = NULL;
    int rc = cli_open(mo.project, &p, &s);
    if (rc) return rc;
    switch (sub) {
    case 0:
        rc = models_list(s, nargs ? args[0] : NULL, &mo);
        break;
    case 1:
        rc = models_show(s, args[0], &mo);
        break;
    case 2:
        rc = models_status(s, p->cfg, nargs, args, TSL_MODEL_APPROVED, &mo);
        break;
    case 3:
        rc = models_status(s, p->cfg, nargs, args, TSL_MODEL_REJECTED, &mo);
        break;
    default:
        rc = models_diff(s, nargs, args, &mo);
        break;
    }
    tsl_store_close(s);
    tsl_project_free(p);
    return rc;
}
