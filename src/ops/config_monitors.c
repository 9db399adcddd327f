/*
 * config_monitors.c - parsing the `monitors:` section of tsloop.yaml.
 *
 *     monitors:
 *       prod-accuracy:
 *         kind: accuracy            # or freshness, drift
 *         endpoint: prod
 *         metric: mase              # the engine's metrics (metrics.h)
 *         window: day               # hour | run | last:N
 *         step: all                 # or a horizon step, 1-based
 *         item: all                 # or one item id
 *         threshold: 1.5            # or param:NAME, or {policy: baseline, factor: 1.2}
 *         comparison: ">"           # or GreaterThanThreshold, ...
 *         evaluation_periods: 3
 *         datapoints_to_alarm: 2
 *         evaluation_range: 5
 *         treat_missing_data: missing
 *         actions: [retrain, notify]
 *       prod-residuals:
 *         kind: drift
 *         endpoint: prod
 *         statistic: cusum          # or page_hinkley: detectors on one-step-ahead residuals
 *         detector: {k: 0.5, h: 5}  # page_hinkley: {delta: 0.5, lambda: 5, min_n: 30}
 *
 * Strict as the rest of the file: unknown keys, wrong kinds and out-of-range values are errors
 * at FILE:LINE:COL naming what was expected. The section's own small scalar helpers live here
 * rather than in config.c so that the section can be parsed (and merged) on its own; unlike
 * config.c's other sections its values are taken literally (no ${VAR} interpolation): a
 * threshold that must change without editing the file comes from a parameter instead.
 */
#include "ops/config_monitors.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsloop/mem.h"

typedef struct mparser {
    yaml_document_t *doc;
    const char *file;
    tsl_diag *d;
} mparser;

/* "FILE:LINE:COL: message" at node n into the diag; returns code. */
static tsl_err fail(mparser *p, const yaml_node_t *n, tsl_err code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static tsl_err fail(mparser *p, const yaml_node_t *n, tsl_err code, const char *fmt, ...) {
    char msg[TSL_DIAG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return tsl_diag_set(p->d, code, "%s:%zu:%zu: %s", p->file, n->start_mark.line + 1,
                        n->start_mark.column + 1, msg);
}

/* The text of scalar node n (borrowed from the document), or a failure naming path. */
static tsl_err scalar(mparser *p, const yaml_node_t *n, const char *path, const char **out) {
    if (n->type != YAML_SCALAR_NODE)
        return fail(p, n, TSL_EINVAL, "%s: got a %s, expected a single value", path,
                    n->type == YAML_MAPPING_NODE ? "mapping" : "list");
    if (!n->data.scalar.length || memchr(n->data.scalar.value, 0, n->data.scalar.length))
        return fail(p, n, TSL_EINVAL, "%s: no value, expected one", path);
    *out = (const char *)n->data.scalar.value;
    return TSL_OK;
}

/* An integer in [lo, hi]. */
static tsl_err get_int(mparser *p, const yaml_node_t *n, const char *path, long lo, long hi,
                       int *out) {
    const char *s;
    tsl_err rc;
    if ((rc = scalar(p, n, path, &s))) return rc;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi)
        return fail(p, n, TSL_EINVAL, "%s: '%s', expected an integer from %ld to %ld", path, s, lo,
                    hi);
    *out = (int)v;
    return TSL_OK;
}

/* A finite number, > 0 when positive is set. */
static tsl_err get_double(mparser *p, const yaml_node_t *n, const char *path, int positive,
                          double *out) {
    const char *s;
    tsl_err rc;
    if ((rc = scalar(p, n, path, &s))) return rc;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v) || (positive && v <= 0))
        return fail(p, n, TSL_EINVAL, "%s: '%s', expected a %snumber", path, s,
                    positive ? "positive " : "finite ");
    *out = v;
    return TSL_OK;
}

/* A duration "30s", "15m", "1h", "1d" (or plain seconds) into seconds. */
static tsl_err get_duration(mparser *p, const yaml_node_t *n, const char *path, int64_t *out) {
    const char *s;
    tsl_err rc;
    if ((rc = scalar(p, n, path, &s))) return rc;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    long long mul = 0;
    if (end != s && !errno && v > 0) {
        if (!*end || !strcmp(end, "s")) mul = 1;
        if (!strcmp(end, "m")) mul = 60;
        if (!strcmp(end, "h")) mul = 3600;
        if (!strcmp(end, "d")) mul = 86400;
    }
    if (!mul || v > 366LL * 86400 / mul)
        return fail(p, n, TSL_EINVAL,
                    "%s: '%s', expected a positive duration such as 30s, 15m, 1h or 1d (at most "
                    "366d)",
                    path, s);
    *out = (int64_t)(v * mul);
    return TSL_OK;
}

/* Finds key k among valid; -1 when unknown. */
static int key_index(const char *const *valid, const char *k) {
    for (int i = 0; valid[i]; i++)
        if (!strcmp(valid[i], k)) return i;
    return -1;
}

/* The values of mapping n by the keys in valid (NULL where absent): unknown and duplicate keys
 * are errors listing the valid ones. */
static tsl_err read_keys(mparser *p, const yaml_node_t *n, const char *path,
                         const char *const *valid, yaml_node_t **vals) {
    char list[512] = "";
    size_t off = 0;
    int nvalid = 0;
    for (; valid[nvalid]; nvalid++) {
        vals[nvalid] = NULL;
        int w = snprintf(list + off, sizeof list - off, "%s%s", nvalid ? ", " : "", valid[nvalid]);
        if (w > 0 && (size_t)w < sizeof list - off) off += (size_t)w;
    }
    if (n->type != YAML_MAPPING_NODE)
        return fail(p, n, TSL_EINVAL, "%s: expected a mapping with keys %s", path, list);
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yaml_document_get_node(p->doc, pr->key);
        const char *ks;
        tsl_err rc;
        if ((rc = scalar(p, k, path, &ks))) return rc;
        int i = key_index(valid, ks);
        if (i < 0)
            return fail(p, k, TSL_EINVAL, "%s: unknown key '%s', expected one of %s", path, ks,
                        list);
        if (vals[i])
            return fail(p, k, TSL_EINVAL, "%s: duplicate key '%s', expected each key once", path,
                        ks);
        vals[i] = yaml_document_get_node(p->doc, pr->value);
    }
    return TSL_OK;
}

const char *tsl_window_format(tsl_window_kind w, int n, char *buf, size_t cap) {
    switch (w) {
    case TSL_WINDOW_DAY:
        snprintf(buf, cap, "day");
        break;
    case TSL_WINDOW_HOUR:
        snprintf(buf, cap, "hour");
        break;
    case TSL_WINDOW_RUN:
        snprintf(buf, cap, "run");
        break;
    case TSL_WINDOW_LAST:
        snprintf(buf, cap, "last:%d", n);
        break;
    case TSL_WINDOW_INGEST:
        snprintf(buf, cap, "ingest");
        break;
    }
    return buf;
}

/* window: day | hour | run | last:N */
static tsl_err parse_window(mparser *p, const yaml_node_t *n, const char *path,
                            tsl_config_monitor *m) {
    const char *s;
    tsl_err rc;
    if ((rc = scalar(p, n, path, &s))) return rc;
    if (!strcmp(s, "day"))
        m->window = TSL_WINDOW_DAY;
    else if (!strcmp(s, "hour"))
        m->window = TSL_WINDOW_HOUR;
    else if (!strcmp(s, "run"))
        m->window = TSL_WINDOW_RUN;
    else if (!strncmp(s, "last:", 5)) {
        char *end = NULL;
        errno = 0;
        long v = strtol(s + 5, &end, 10);
        if (end == s + 5 || *end || errno || v < 1 || v > 1000000)
            return fail(p, n, TSL_EINVAL, "%s: '%s', expected last:N with N from 1 to 1000000",
                        path, s);
        m->window = TSL_WINDOW_LAST;
        m->window_n = (int)v;
    } else
        return fail(p, n, TSL_EINVAL, "%s: '%s', expected day, hour, run or last:N", path, s);
    return TSL_OK;
}

static const char *const threshold_keys[] = {"policy", "value", "factor", NULL};

/* threshold: NUMBER | param:NAME | {policy: fixed|baseline|best_approved, value, factor} */
static tsl_err parse_threshold(mparser *p, const yaml_node_t *n, const char *path,
                               tsl_config_monitor *m) {
    yaml_node_t *v[3];
    const char *s;
    char sub[160];
    tsl_err rc;
    if (n->type == YAML_SCALAR_NODE) {
        if ((rc = scalar(p, n, path, &s))) return rc;
        m->policy.kind = TSL_THRESHOLD_FIXED;
        if (!strncmp(s, "param:", 5 + 1)) {
            if (!s[6] || strlen(s + 6) > 128)
                return fail(p, n, TSL_EINVAL, "%s: '%s', expected param:KEY naming a parameter",
                            path, s);
            m->threshold_param = tsl_strdup(s + 6);
            return TSL_OK;
        }
        return get_double(p, n, path, 0, &m->policy.value);
    }
    if ((rc = read_keys(p, n, path, threshold_keys, v))) return rc;
    if (!v[0])
        return fail(p, n, TSL_EINVAL, "%s: no policy, expected fixed, baseline or best_approved",
                    path);
    snprintf(sub, sizeof sub, "%s.policy", path);
    if ((rc = scalar(p, v[0], sub, &s))) return rc;
    tsl_diag tmp = {0};
    if (tsl_threshold_kind_parse(s, &m->policy.kind, &tmp))
        return fail(p, v[0], TSL_EINVAL, "%s: %s", sub, tmp.msg);
    if (m->policy.kind == TSL_THRESHOLD_FIXED) {
        if (!v[1] || v[2])
            return fail(p, n, TSL_EINVAL, "%s: policy fixed takes a value and no factor", path);
        snprintf(sub, sizeof sub, "%s.value", path);
        if (v[1]->type == YAML_SCALAR_NODE &&
            !strncmp((const char *)v[1]->data.scalar.value, "param:", 6))
            return parse_threshold(p, v[1], sub, m);
        return get_double(p, v[1], sub, 0, &m->policy.value);
    }
    if (v[1])
        return fail(p, v[1], TSL_EINVAL, "%s.value: policy %s takes a factor, not a value", path,
                    tsl_threshold_kind_name(m->policy.kind));
    m->policy.factor = 1;
    snprintf(sub, sizeof sub, "%s.factor", path);
    if (v[2] && (rc = get_double(p, v[2], sub, 1, &m->policy.factor))) return rc;
    return TSL_OK;
}

/* actions: [retrain, notify] (an empty list: none) */
static tsl_err parse_actions(mparser *p, const yaml_node_t *n, const char *path, unsigned *out) {
    const char *s;
    tsl_err rc;
    if (n->type != YAML_SEQUENCE_NODE)
        return fail(p, n, TSL_EINVAL, "%s: expected a list of retrain, notify", path);
    *out = 0;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        yaml_node_t *e = yaml_document_get_node(p->doc, *it);
        unsigned bit = 0;
        if ((rc = scalar(p, e, path, &s))) return rc;
        if (!strcmp(s, "retrain")) bit = TSL_MONITOR_ACTION_RETRAIN;
        if (!strcmp(s, "notify")) bit = TSL_MONITOR_ACTION_NOTIFY;
        if (!bit) return fail(p, e, TSL_EINVAL, "%s: '%s', expected retrain or notify", path, s);
        if (*out & bit) return fail(p, e, TSL_EINVAL, "%s: '%s' listed twice", path, s);
        *out |= bit;
    }
    return TSL_OK;
}

/* A name as for endpoints and data sets into *out. */
static tsl_err get_name(mparser *p, const yaml_node_t *n, const char *path, char **out) {
    const char *s;
    tsl_err rc;
    if ((rc = scalar(p, n, path, &s))) return rc;
    if (!tsl_config_name_valid(s))
        return fail(p, n, TSL_EINVAL,
                    "%s: '%s', expected 1 to 64 of A-Z a-z 0-9 _ . -, starting with a letter or "
                    "digit",
                    path, s);
    *out = tsl_strdup(s);
    return TSL_OK;
}

enum {
    K_KIND,
    K_ENDPOINT,
    K_DATASET,
    K_METRIC,
    K_WINDOW,
    K_STEP,
    K_ITEM,
    K_THRESHOLD,
    K_COMPARISON,
    K_PERIODS,
    K_DATAPOINTS,
    K_RANGE,
    K_MISSING,
    K_ACTIONS,
    K_EVERY,
    K_MISSING_AFTER,
    K_STATISTIC,
    K_DRIFT,
    K_DETECTOR,
    K_CHECK,
    K_QUALITY,
    K_COUNT
};

static const char *const monitor_keys[] = {"kind",
                                           "endpoint",
                                           "dataset",
                                           "metric",
                                           "window",
                                           "step",
                                           "item",
                                           "threshold",
                                           "comparison",
                                           "evaluation_periods",
                                           "datapoints_to_alarm",
                                           "evaluation_range",
                                           "treat_missing_data",
                                           "actions",
                                           "expected_every",
                                           "missing_after",
                                           "statistic",
                                           "drift_thresholds",
                                           "detector",
                                           "check",
                                           "quality",
                                           NULL};

/* The keys each kind refuses (K_COUNT ends the list). */
static const int accuracy_refuses[] = {K_DATASET,  K_EVERY, K_MISSING_AFTER, K_STATISTIC, K_DRIFT,
                                       K_DETECTOR, K_CHECK, K_QUALITY,       K_COUNT};
static const int freshness_refuses[] = {K_ENDPOINT, K_METRIC,    K_WINDOW, K_STEP,
                                        K_ITEM,     K_STATISTIC, K_DRIFT,  K_DETECTOR,
                                        K_CHECK,    K_QUALITY,   K_COUNT};
static const int drift_refuses[] = {K_DATASET,       K_METRIC, K_STEP,    K_EVERY,
                                    K_MISSING_AFTER, K_CHECK,  K_QUALITY, K_COUNT};
/* A quality monitor is evaluated per ingest and over all items (its findings name the items). */
static const int quality_refuses[] = {K_METRIC,        K_WINDOW,    K_STEP,  K_ITEM,     K_EVERY,
                                      K_MISSING_AFTER, K_STATISTIC, K_DRIFT, K_DETECTOR, K_COUNT};

static const char *const kind_names[] = {"accuracy", "freshness", "drift", "quality"};

const char *tsl_monitor_kind_name(tsl_monitor_kind k) {
    return (unsigned)k < sizeof kind_names / sizeof kind_names[0] ? kind_names[k] : "unknown";
}

static const char *const quality_keys[] = {"range_factor", "flat_points", "max_listed", NULL};

/* quality: {range_factor, flat_points, max_listed}, each defaulting to quality.h's value. */
static tsl_err parse_quality(mparser *p, const yaml_node_t *n, const char *path,
                             tsl_config_monitor *m) {
    yaml_node_t *v[3];
    char sub[256];
    tsl_err rc;
    if ((rc = read_keys(p, n, path, quality_keys, v))) return rc;
    if (v[0]) {
        snprintf(sub, sizeof sub, "%s.range_factor", path);
        if ((rc = get_double(p, v[0], sub, 0, &m->range_factor))) return rc;
        if (m->range_factor < 0)
            return fail(p, v[0], TSL_EINVAL, "%s: %g, expected a number >= 0", sub,
                        m->range_factor);
    }
    snprintf(sub, sizeof sub, "%s.flat_points", path);
    if (v[1] && (rc = get_int(p, v[1], sub, 2, 1000000, &m->flat_points))) return rc;
    snprintf(sub, sizeof sub, "%s.max_listed", path);
    if (v[2] && (rc = get_int(p, v[2], sub, 1, 1000, &m->max_listed))) return rc;
    return TSL_OK;
}

const char *tsl_drift_statistic_name(tsl_drift_statistic st) {
    switch (st) {
    case TSL_DRIFT_STAT_SHARE:
        return "share_drifted";
    case TSL_DRIFT_STAT_PSI:
        return "psi";
    case TSL_DRIFT_STAT_KS:
        return "ks";
    case TSL_DRIFT_STAT_WASSERSTEIN:
        return "wasserstein";
    case TSL_DRIFT_STAT_CUSUM:
        return "cusum";
    case TSL_DRIFT_STAT_PAGE_HINKLEY:
        return "page_hinkley";
    }
    return "share_drifted";
}

static const char *const drift_keys[] = {"psi_moderate", "psi_large", "ks_alpha", "ks_distance",
                                         "wasserstein",  "min_count", NULL};

/* drift_thresholds: {psi_moderate, psi_large, ks_alpha, ks_distance, wasserstein, min_count},
 * each defaulting to drift.h's value, checked with tsl_drift_thresholds_check. */
static tsl_err parse_drift_thresholds(mparser *p, const yaml_node_t *n, const char *path,
                                      tsl_drift_thresholds *t) {
    yaml_node_t *v[6];
    char sub[256];
    tsl_diag tmp = {0};
    tsl_err rc;
    double *dst[5] = {&t->psi_moderate, &t->psi_large, &t->ks_alpha, &t->ks_distance,
                      &t->wasserstein};
    if ((rc = read_keys(p, n, path, drift_keys, v))) return rc;
    for (int i = 0; i < 5; i++) {
        snprintf(sub, sizeof sub, "%s.%s", path, drift_keys[i]);
        if (v[i] && (rc = get_double(p, v[i], sub, 1, dst[i]))) return rc;
    }
    if (v[5]) {
        int mc = 0;
        snprintf(sub, sizeof sub, "%s.min_count", path);
        if ((rc = get_int(p, v[5], sub, 1, 100000000, &mc))) return rc;
        t->min_count = (size_t)mc;
    }
    if (tsl_drift_thresholds_check(t, &tmp)) return fail(p, n, TSL_EINVAL, "%s: %s", path, tmp.msg);
    return TSL_OK;
}

static const char *const detector_keys[] = {"k", "h", "delta", "lambda", "min_n", NULL};

/* detector: {k, h} for cusum, {delta, lambda, min_n} for page_hinkley, in sigma units, each
 * defaulting to drift.h's value. A key of the other detector is refused, since it would be
 * silently ignored. */
static tsl_err parse_detector(mparser *p, const yaml_node_t *n, const char *path,
                              tsl_drift_statistic st, tsl_detector_params *t) {
    yaml_node_t *v[5];
    char sub[256];
    tsl_err rc;
    double *dst[4] = {&t->k, &t->h, &t->delta, &t->lambda};
    int cusum = st == TSL_DRIFT_STAT_CUSUM;
    if ((rc = read_keys(p, n, path, detector_keys, v))) return rc;
    for (int i = 0; i < 5; i++) {
        if (!v[i]) continue;
        snprintf(sub, sizeof sub, "%s.%s", path, detector_keys[i]);
        if (cusum != (i < 2))
            return fail(p, v[i], TSL_EINVAL, "%s: not a setting of %s, expected %s", sub,
                        tsl_drift_statistic_name(st), cusum ? "k or h" : "delta, lambda or min_n");
        if (i == 4) {
            if ((rc = get_int(p, v[i], sub, 1, 1000000, &t->min_n))) return rc;
        } else if (i == 0 || i == 2) {
            /* an allowance of 0 is allowed: a plain cumulative sum */
            if ((rc = get_double(p, v[i], sub, 0, dst[i]))) return rc;
            if (*dst[i] < 0)
                return fail(p, v[i], TSL_EINVAL, "%s: %g, expected a number >= 0", sub, *dst[i]);
        } else if ((rc = get_double(p, v[i], sub, 1, dst[i]))) {
            return rc;
        }
    }
    return TSL_OK;
}

/* One monitor: the mapping n under key k. */
static tsl_err parse_monitor(mparser *p, const yaml_node_t *k, const yaml_node_t *n,
                             const tsl_config *cfg, tsl_config_monitor *m) {
    yaml_node_t *v[K_COUNT];
    char path[128], sub[192];
    const char *s;
    tsl_diag tmp = {0};
    tsl_err rc;
    if ((rc = scalar(p, k, "monitors", &s))) return rc;
    if (!tsl_config_name_valid(s))
        return fail(p, k, TSL_EINVAL,
                    "monitors: '%s', expected a name of 1 to 64 of A-Z a-z 0-9 _ . -, starting "
                    "with a letter or digit",
                    s);
    m->name = tsl_strdup(s);
    m->line = (int)k->start_mark.line + 1;
    snprintf(path, sizeof path, "monitors.%s", m->name);
    if ((rc = read_keys(p, n, path, monitor_keys, v))) return rc;
    m->kind = TSL_MONITOR_ACCURACY;
    if (v[K_KIND]) {
        snprintf(sub, sizeof sub, "%s.kind", path);
        if ((rc = scalar(p, v[K_KIND], sub, &s))) return rc;
        if (!strcmp(s, "accuracy"))
            m->kind = TSL_MONITOR_ACCURACY;
        else if (!strcmp(s, "freshness"))
            m->kind = TSL_MONITOR_FRESHNESS;
        else if (!strcmp(s, "drift"))
            m->kind = TSL_MONITOR_DRIFT;
        else if (!strcmp(s, "quality"))
            m->kind = TSL_MONITOR_QUALITY;
        else
            return fail(p, v[K_KIND], TSL_EINVAL,
                        "%s: '%s', expected accuracy, freshness, drift or quality", sub, s);
    }
    const int *refuses = m->kind == TSL_MONITOR_ACCURACY    ? accuracy_refuses
                         : m->kind == TSL_MONITOR_FRESHNESS ? freshness_refuses
                         : m->kind == TSL_MONITOR_DRIFT     ? drift_refuses
                                                            : quality_refuses;
    for (size_t i = 0; refuses[i] != K_COUNT; i++)
        if (v[refuses[i]])
            return fail(p, v[refuses[i]], TSL_EINVAL, "%s.%s: not a setting of %s monitors", path,
                        monitor_keys[refuses[i]], kind_names[m->kind]);
    tsl_drift_thresholds_default(&m->drift);
    m->detector = (tsl_detector_params){TSL_DRIFT_CUSUM_K, TSL_DRIFT_CUSUM_H, TSL_DRIFT_PH_DELTA,
                                        TSL_DRIFT_PH_LAMBDA, TSL_DRIFT_PH_MIN_N};

    m->check = TSL_QA_FLAGGED;
    m->range_factor = 1.5;
    m->max_listed = 20;
    m->metric = TSL_METRIC_MASE;
    m->window = TSL_WINDOW_DAY;
    m->actions = TSL_MONITOR_ACTION_NOTIFY;
    m->policy.kind = TSL_THRESHOLD_FIXED;
    m->policy.factor = 1;
    tsl_alarm_rule_init(&m->rule, 0, TSL_ALARM_GT, 1);
    if (m->kind == TSL_MONITOR_ACCURACY) {
        snprintf(sub, sizeof sub, "%s.endpoint", path);
        if (!v[K_ENDPOINT])
            return fail(p, n, TSL_EINVAL, "%s: no endpoint, expected the endpoint watched", sub);
        if ((rc = get_name(p, v[K_ENDPOINT], sub, &m->endpoint))) return rc;
        if (v[K_METRIC]) {
            snprintf(sub, sizeof sub, "%s.metric", path);
            if ((rc = scalar(p, v[K_METRIC], sub, &s))) return rc;
            if (tsl_metric_parse(s, &m->metric, &tmp))
                return fail(p, v[K_METRIC], TSL_EINVAL, "%s: %s", sub, tmp.msg);
        }
        snprintf(sub, sizeof sub, "%s.window", path);
        if (v[K_WINDOW] && (rc = parse_window(p, v[K_WINDOW], sub, m))) return rc;
        snprintf(sub, sizeof sub, "%s.step", path);
        if (v[K_STEP] &&
            !(v[K_STEP]->type == YAML_SCALAR_NODE &&
              !strcmp((const char *)v[K_STEP]->data.scalar.value, "all")) &&
            (rc = get_int(p, v[K_STEP], sub, 1, TSL_CONFIG_MAX_HORIZON, &m->step)))
            return rc;
        snprintf(sub, sizeof sub, "%s.item", path);
        if (v[K_ITEM]) {
            if ((rc = scalar(p, v[K_ITEM], sub, &s))) return rc;
            if (strcmp(s, "all")) m->item = tsl_strdup(s);
        }
        if (m->policy.kind == TSL_THRESHOLD_FIXED && !v[K_THRESHOLD])
            return fail(p, n, TSL_EINVAL,
                        "%s.threshold: missing, expected a number, param:KEY or {policy: "
                        "baseline|best_approved, factor: F}",
                        path);
        int hib = m->metric == TSL_METRIC_COVERAGE;
        m->policy.higher_is_better = hib;
        m->rule.op = hib ? TSL_ALARM_LT : TSL_ALARM_GT;
    } else if (m->kind == TSL_MONITOR_DRIFT) {
        snprintf(sub, sizeof sub, "%s.endpoint", path);
        if (!v[K_ENDPOINT])
            return fail(p, n, TSL_EINVAL,
                        "%s: no endpoint, expected the endpoint whose deployed version's data "
                        "baseline new data is compared with",
                        sub);
        if ((rc = get_name(p, v[K_ENDPOINT], sub, &m->endpoint))) return rc;
        snprintf(sub, sizeof sub, "%s.window", path);
        if (v[K_WINDOW]) {
            if ((rc = parse_window(p, v[K_WINDOW], sub, m))) return rc;
            if (m->window != TSL_WINDOW_DAY && m->window != TSL_WINDOW_HOUR)
                return fail(p, v[K_WINDOW], TSL_EINVAL,
                            "%s: drift monitors compare the data of a day or an hour, expected "
                            "day or hour",
                            sub);
        }
        snprintf(sub, sizeof sub, "%s.item", path);
        if (v[K_ITEM]) {
            if ((rc = scalar(p, v[K_ITEM], sub, &s))) return rc;
            if (strcmp(s, "all")) m->item = tsl_strdup(s);
        }
        if (v[K_STATISTIC]) {
            snprintf(sub, sizeof sub, "%s.statistic", path);
            if ((rc = scalar(p, v[K_STATISTIC], sub, &s))) return rc;
            int found = 0;
            for (int st = TSL_DRIFT_STAT_SHARE; st <= TSL_DRIFT_STAT_PAGE_HINKLEY; st++)
                if (!strcmp(s, tsl_drift_statistic_name((tsl_drift_statistic)st)))
                    m->statistic = (tsl_drift_statistic)st, found = 1;
            if (!found)
                return fail(p, v[K_STATISTIC], TSL_EINVAL,
                            "%s: '%s', expected share_drifted, psi, ks, wasserstein, cusum or "
                            "page_hinkley",
                            sub, s);
        }
        snprintf(sub, sizeof sub, "%s.detector", path);
        if (v[K_DETECTOR] && !TSL_DRIFT_STAT_IS_RESIDUAL(m->statistic))
            return fail(p, v[K_DETECTOR], TSL_EINVAL,
                        "%s: a setting of the residual detectors, expected statistic cusum or "
                        "page_hinkley",
                        sub);
        if (v[K_DETECTOR] &&
            (rc = parse_detector(p, v[K_DETECTOR], sub, m->statistic, &m->detector)))
            return rc;
        if (m->item && m->statistic == TSL_DRIFT_STAT_SHARE)
            return fail(p, v[K_ITEM], TSL_EINVAL,
                        "%s.item: share_drifted is over all items, expected psi, ks or "
                        "wasserstein as the statistic of one item",
                        path);
        snprintf(sub, sizeof sub, "%s.drift_thresholds", path);
        if (v[K_DRIFT] && (rc = parse_drift_thresholds(p, v[K_DRIFT], sub, &m->drift))) return rc;
        /* the default threshold is the verdict's own: what drift.h calls drift */
        m->policy.value = m->statistic == TSL_DRIFT_STAT_PSI           ? m->drift.psi_large
                          : m->statistic == TSL_DRIFT_STAT_KS          ? m->drift.ks_distance
                          : m->statistic == TSL_DRIFT_STAT_WASSERSTEIN ? m->drift.wasserstein
                                                                       : 0.1;
        m->rule.op = TSL_ALARM_GE;
        if (TSL_DRIFT_STAT_IS_RESIDUAL(m->statistic)) {
            /* any signal in the window: a detector's signal is already a decision at a false
             * alarm rate its h (lambda) sets, so a second threshold on top would only delay */
            m->policy.value = 0;
            m->rule.op = TSL_ALARM_GT;
        }
    } else if (m->kind == TSL_MONITOR_QUALITY) {
        /* what it watches: an endpoint's deployed version (its data set, baseline and items) or
         * a data set directly (no baseline: no out_of_range or stale checks) */
        if (!v[K_ENDPOINT] == !v[K_DATASET])
            return fail(p, v[K_DATASET] ? v[K_DATASET] : n, TSL_EINVAL,
                        "%s: %s, expected either endpoint (the deployed version's data set, "
                        "baseline and items) or dataset",
                        path,
                        v[K_ENDPOINT] ? "both endpoint and dataset"
                                      : "neither endpoint "
                                        "nor dataset");
        if (v[K_ENDPOINT]) {
            snprintf(sub, sizeof sub, "%s.endpoint", path);
            if ((rc = get_name(p, v[K_ENDPOINT], sub, &m->endpoint))) return rc;
        } else {
            snprintf(sub, sizeof sub, "%s.dataset", path);
            if ((rc = get_name(p, v[K_DATASET], sub, &m->dataset))) return rc;
            if (!tsl_config_dataset_find(cfg, m->dataset))
                return fail(p, v[K_DATASET], TSL_EINVAL, "%s: '%s' is not a dataset of this file",
                            sub, m->dataset);
        }
        m->window = TSL_WINDOW_INGEST;
        if (v[K_CHECK]) {
            snprintf(sub, sizeof sub, "%s.check", path);
            if ((rc = scalar(p, v[K_CHECK], sub, &s))) return rc;
            if (tsl_quality_arrival_parse(s, &m->check, &tmp))
                return fail(p, v[K_CHECK], TSL_EINVAL, "%s: %s", sub, tmp.msg);
        }
        snprintf(sub, sizeof sub, "%s.quality", path);
        if (v[K_QUALITY] && (rc = parse_quality(p, v[K_QUALITY], sub, m))) return rc;
        /* any finding alarms: a share above zero means something to look at (docs) */
        m->policy.value = 0;
        m->rule.op = TSL_ALARM_GT;
    } else {
        snprintf(sub, sizeof sub, "%s.dataset", path);
        if (!v[K_DATASET])
            return fail(p, n, TSL_EINVAL, "%s: no dataset, expected the data set watched", sub);
        if ((rc = get_name(p, v[K_DATASET], sub, &m->dataset))) return rc;
        if (!tsl_config_dataset_find(cfg, m->dataset))
            return fail(p, v[K_DATASET], TSL_EINVAL, "%s: '%s' is not a dataset of this file", sub,
                        m->dataset);
        snprintf(sub, sizeof sub, "%s.expected_every", path);
        if (!v[K_EVERY])
            return fail(p, n, TSL_EINVAL, "%s: missing, expected a duration such as 1h or 1d", sub);
        if ((rc = get_duration(p, v[K_EVERY], sub, &m->every))) return rc;
        m->missing_after = 1;
        snprintf(sub, sizeof sub, "%s.missing_after", path);
        if (v[K_MISSING_AFTER] &&
            (rc = get_int(p, v[K_MISSING_AFTER], sub, 1, 1000000, &m->missing_after)))
            return rc;
        /* The datapoint counts missed arrivals: alarm from missing_after of them. */
        m->policy.value = m->missing_after;
        m->rule.op = TSL_ALARM_GE;
        if (v[K_THRESHOLD])
            return fail(p, v[K_THRESHOLD], TSL_EINVAL,
                        "%s.threshold: freshness monitors alarm after missing_after missed "
                        "arrivals, expected missing_after instead",
                        path);
    }
    snprintf(sub, sizeof sub, "%s.threshold", path);
    if (v[K_THRESHOLD] && (rc = parse_threshold(p, v[K_THRESHOLD], sub, m))) return rc;
    if (m->kind == TSL_MONITOR_DRIFT && m->policy.kind != TSL_THRESHOLD_FIXED)
        return fail(p, v[K_THRESHOLD], TSL_EINVAL,
                    "%s: a drift statistic has no backtest value to follow, expected a number or "
                    "param:KEY",
                    sub);
    if (m->kind == TSL_MONITOR_QUALITY && m->policy.kind != TSL_THRESHOLD_FIXED)
        return fail(p, v[K_THRESHOLD], TSL_EINVAL,
                    "%s: a data-quality share has no backtest value to follow (policy %s), "
                    "expected a number or param:KEY",
                    sub, tsl_threshold_kind_name(m->policy.kind));
    if (v[K_COMPARISON]) {
        snprintf(sub, sizeof sub, "%s.comparison", path);
        if ((rc = scalar(p, v[K_COMPARISON], sub, &s))) return rc;
        if (tsl_alarm_op_parse(s, &m->rule.op, &tmp))
            return fail(p, v[K_COMPARISON], TSL_EINVAL, "%s: %s", sub, tmp.msg);
    }
    snprintf(sub, sizeof sub, "%s.evaluation_periods", path);
    if (v[K_PERIODS] &&
        (rc = get_int(p, v[K_PERIODS], sub, 1, TSL_ALARM_MAX_PERIODS, &m->rule.periods)))
        return rc;
    m->rule.datapoints = m->rule.periods;
    snprintf(sub, sizeof sub, "%s.datapoints_to_alarm", path);
    if (v[K_DATAPOINTS] &&
        (rc = get_int(p, v[K_DATAPOINTS], sub, 1, m->rule.periods, &m->rule.datapoints)))
        return rc;
    snprintf(sub, sizeof sub, "%s.evaluation_range", path);
    if (v[K_RANGE] &&
        (rc = get_int(p, v[K_RANGE], sub, m->rule.periods, TSL_ALARM_MAX_PERIODS, &m->rule.range)))
        return rc;
    if (v[K_MISSING]) {
        snprintf(sub, sizeof sub, "%s.treat_missing_data", path);
        if ((rc = scalar(p, v[K_MISSING], sub, &s))) return rc;
        if (tsl_alarm_missing_parse(s, &m->rule.missing, &tmp))
            return fail(p, v[K_MISSING], TSL_EINVAL, "%s: %s", sub, tmp.msg);
    }
    snprintf(sub, sizeof sub, "%s.actions", path);
    if (v[K_ACTIONS] && (rc = parse_actions(p, v[K_ACTIONS], sub, &m->actions))) return rc;
    if (tsl_threshold_policy_check(&m->policy, &tmp))
        return fail(p, v[K_THRESHOLD] ? v[K_THRESHOLD] : n, TSL_EINVAL, "%s.threshold: %s", path,
                    tmp.msg);
    return TSL_OK;
}

tsl_err tsl_config_monitors_parse(yaml_document_t *doc, const yaml_node_t *n, const char *file,
                                  tsl_config *cfg, tsl_diag *d) {
    mparser p = {doc, file, d};
    tsl_err rc;
    if (!n) return TSL_OK;
    if (n->type == YAML_SCALAR_NODE && !n->data.scalar.length) return TSL_OK;
    if (n->type != YAML_MAPPING_NODE)
        return fail(&p, n, TSL_EINVAL, "monitors: expected a mapping of monitor names");
    size_t np = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    if (np > TSL_CONFIG_MAX_MONITORS)
        return fail(&p, n, TSL_EINVAL, "monitors: %zu of them, at most %d allowed", np,
                    TSL_CONFIG_MAX_MONITORS);
    if (np) cfg->monitors = tsl_calloc(np, sizeof *cfg->monitors);
    for (size_t i = 0; i < np; i++) {
        yaml_node_pair_t *pr = &n->data.mapping.pairs.start[i];
        yaml_node_t *k = yaml_document_get_node(doc, pr->key);
        cfg->nmonitors = i + 1; /* counted before parsing, so a failure still frees it */
        if ((rc = parse_monitor(&p, k, yaml_document_get_node(doc, pr->value), cfg,
                                &cfg->monitors[i])))
            return rc;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(cfg->monitors[j].name, cfg->monitors[i].name))
                return fail(&p, k, TSL_EINVAL,
                            "monitors: '%s' is defined twice (first at line %d), expected each "
                            "name once",
                            cfg->monitors[i].name, cfg->monitors[j].line);
    }
    return TSL_OK;
}

void tsl_config_monitors_free(tsl_config *cfg) {
    for (size_t i = 0; i < cfg->nmonitors; i++) {
        tsl_config_monitor *m = &cfg->monitors[i];
        tsl_free(m->name);
        tsl_free(m->endpoint);
        tsl_free(m->dataset);
        tsl_free(m->item);
        tsl_free(m->threshold_param);
    }
    tsl_free(cfg->monitors);
    cfg->monitors = NULL;
    cfg->nmonitors = 0;
}

const tsl_config_monitor *tsl_config_monitor_find(const tsl_config *cfg, const char *name) {
    for (size_t i = 0; i < cfg->nmonitors; i++)
        if (!strcmp(cfg->monitors[i].name, name)) return &cfg->monitors[i];
    return NULL;
}
