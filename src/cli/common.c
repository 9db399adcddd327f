/*
 * common.c - option parsing, input reading and progress shared by the commands.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "tsloop/mem.h"
#include "tsloop/output.h"
#include "tsloop/pipeline.h"
#include "tsloop/project.h"
#include "tsloop/store.h"

int cli_parse_long(const char *cmd, const char *flag, const char *text, long min, long max,
                   long *out) {
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < min || v > max)
        return cli_usage_error(cmd, "%s expects an integer from %ld to %ld, got '%s'", flag, min,
                               max, text);
    *out = v;
    return CLI_OK;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Parses "0.1,0.5,0.9" (or percentages "10,50,90") into sorted, distinct levels. */
static int parse_levels(const char *cmd, const char *text, double *levels, size_t *nq) {
    size_t n = 0;
    const char *p = text;
    while (*p) {
        char *end = NULL;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno || (*end && *end != ','))
            return cli_usage_error(cmd, "--quantiles expects numbers like 0.1,0.5,0.9, got '%s'",
                                   text);
        if (n == TSL_METRICS_MAX_LEVELS)
            return cli_usage_error(cmd, "--quantiles: at most %d levels", TSL_METRICS_MAX_LEVELS);
        levels[n++] = v;
        p = *end ? end + 1 : end;
    }
    if (n == 0) return cli_usage_error(cmd, "--quantiles is empty");
    /* "10,50,90" are percentages, but only when every value is one: "0.5,1.5" is a mistake. */
    int percent = 1;
    for (size_t i = 0; i < n; i++) percent &= levels[i] >= 1.0 && levels[i] < 100.0;
    tsl_diag d = {0};
    for (size_t i = 0; i < n; i++) levels[i] /= percent ? 100.0 : 1.0;
    qsort(levels, n, sizeof *levels, cmp_double);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || levels[i] != levels[k - 1]) levels[k++] = levels[i];
    if (tsl_quantile_levels_check(levels, k, TSL_METRICS_MAX_LEVELS, &d))
        return cli_usage_error(cmd, "--quantiles: %s", tsl_diag_msg(&d));
    *nq = k;
    return CLI_OK;
}

/* Cuts the next name off a --models list at *pos: names are separated by commas outside
 * parentheses, so that "arima:(1,1,1)(0,1,1),ets" is two names. Returns NULL at the end. */
static char *next_model(char **pos) {
    char *tok = *pos;
    if (!tok) return NULL;
    int depth = 0;
    char *p = tok;
    for (; *p; p++) {
        if (*p == '(') depth++;
        if (*p == ')' && depth > 0) depth--;
        if (*p == ',' && depth == 0) break;
    }
    if (*p) {
        *p = '\0';
        *pos = p + 1;
    } else {
        *pos = NULL;
    }
    return tok;
}

int cli_model_opts_resolve(const char *cmd, cli_model_opts *m, int period) {
    if (parse_levels(cmd, m->quantiles ? m->quantiles : "0.1,0.5,0.9", m->levels, &m->nq))
        return CLI_USAGE;
    tsl_diag d = {0};
    m->metric_id = TSL_METRIC_MASE;
    if (m->metric) {
        if (tsl_metric_parse(m->metric, &m->metric_id, &d))
            return cli_usage_error(cmd, "--metric: %s", tsl_diag_msg(&d));
        if (m->metric_id == TSL_METRIC_COVERAGE)
            return cli_usage_error(cmd, "--metric: coverage measures intervals, it cannot rank "
                                        "models; choose mase, smape, mape, rmse, mae, wape or "
                                        "mean_wql");
    }
    m->cands = NULL;
    m->ncands = 0;
    if (!m->models) return CLI_OK;
    char *list = tsl_strdup(m->models);
    size_t cap = 8;
    m->cands = tsl_malloc(cap * sizeof *m->cands);
    char *next = list;
    for (char *tok = next_model(&next); tok; tok = next_model(&next)) {
        while (*tok == ' ') tok++;
        if (!*tok) continue;
        if (m->ncands == 64) {
            tsl_free(list);
            return cli_usage_error(cmd, "--models: at most 64 candidates");
        }
        if (m->ncands == cap) m->cands = tsl_reallocarray(m->cands, cap *= 2, sizeof *m->cands);
        if (tsl_model_spec_parse(tok, period, &m->cands[m->ncands], &d)) {
            tsl_free(list);
            return cli_usage_error(cmd, "--models: %s", tsl_diag_msg(&d));
        }
        m->ncands++;
    }
    tsl_free(list);
    if (m->ncands == 0) return cli_usage_error(cmd, "--models is empty");
    return CLI_OK;
}

void cli_model_opts_release(cli_model_opts *m) {
    tsl_free(m->cands);
    m->cands = NULL;
}

/* Parses "--season-length 24" or "24,168" into mo's periods, sorted and distinct. */
static int parse_periods(const char *cmd, const char *text, cli_model_opts *mo) {
    int n = 0;
    const char *p = text;
    while (*p) {
        char *end = NULL;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 1 || v > 100000 || (*end && *end != ','))
            return cli_usage_error(cmd,
                                   "--season-length expects periods from 1 to 100000 "
                                   "like 24 or 24,168, got '%s'",
                                   text);
        if (n == TSL_MAX_PERIODS)
            return cli_usage_error(cmd, "--season-length: at most %d periods", TSL_MAX_PERIODS);
        int pos = n;
        while (pos > 0 && mo->periods[pos - 1] > v) {
            mo->periods[pos] = mo->periods[pos - 1];
            pos--;
        }
        if (!(pos > 0 && mo->periods[pos - 1] == v)) {
            if (pos < n)
                memmove(&mo->periods[pos + 1], &mo->periods[pos],
                        (size_t)(n - pos) * sizeof *mo->periods);
            mo->periods[pos] = (int)v;
            n++;
        }
        p = *end ? end + 1 : end;
    }
    mo->nperiods = n;
    return CLI_OK;
}

int cli_resolve_periods(const tsl_dataset *ds, cli_model_opts *mo) {
    if (mo->nperiods) return mo->periods[0];
    int got[TSL_MAX_PERIODS];
    int n = tsl_freq_seasonal_periods(ds->freq, got, TSL_MAX_PERIODS);
    /* The frequency's periods only when its main one is the data set's (no --freq mismatch). */
    if (n >= 2 && got[0] == ds->period) {
        memcpy(mo->periods, got, (size_t)n * sizeof *got);
        mo->nperiods = n;
    }
    return ds->period;
}

int cli_common_option(const char *cmd, int c, const char *arg, cli_common *o) {
    cli_model_opts *mo = &o->mo;
    switch (c) {
    case 'i':
        o->in.path = arg;
        return 1;
    case 'H':
        return cli_parse_long(cmd, "--horizon", arg, 1, 100000, &mo->horizon) ? CLI_USAGE : 1;
    case 'm':
        return parse_periods(cmd, arg, mo) ? CLI_USAGE : 1;
    case CLI_OPT_MAX_HISTORY:
        return cli_parse_long(cmd, "--max-history", arg, 10, 100000000, &mo->max_history)
                   ? CLI_USAGE
                   : 1;
    case 'q':
        mo->quantiles = arg;
        return 1;
    case 'j':
        return cli_parse_long(cmd, "--threads", arg, 1, 256, &mo->threads) ? CLI_USAGE : 1;
    case CLI_OPT_MODELS:
        mo->models = arg;
        return 1;
    case CLI_OPT_METRIC:
        mo->metric = arg;
        return 1;
    case CLI_OPT_WINDOWS:
        return cli_parse_long(cmd, "--windows", arg, 1, TSL_BT_MAX_WINDOWS, &mo->windows)
                   ? CLI_USAGE
                   : 1;
    case CLI_OPT_NO_ENS:
        mo->no_ensembles = 1;
        return 1;
    case CLI_OPT_FREQ:
        o->in.freq = arg;
        return 1;
    case CLI_OPT_ITEM:
        o->in.item_col = arg;
        return 1;
    case CLI_OPT_TIME:
        o->in.time_col = arg;
        return 1;
    case CLI_OPT_TARGET:
        o->in.target_col = arg;
        return 1;
    case CLI_OPT_SERIES_WEIGHT:
    case CLI_OPT_TIME_LIMIT: {
        char *end = NULL;
        errno = 0;
        double v = strtod(arg, &end);
        int weight = c == CLI_OPT_SERIES_WEIGHT;
        if (errno || end == arg || *end || !(weight ? v >= 0 && v <= 1 : v > 0 && v < 1e7))
            return cli_usage_error(cmd, "%s expects %s, got '%s'",
                                   weight ? "--series-weight" : "--time-limit",
                                   weight ? "a number from 0 to 1" : "a number of seconds", arg);
        if (weight) {
            mo->series_weight = v;
            mo->series_weight_set = 1;
        } else {
            mo->time_limit = v;
        }
        return 1;
    }
    case CLI_OPT_FAST:
        mo->fast = 1;
        return 1;
    case CLI_OPT_JSON:
        o->json = 1;
        return 1;
    case CLI_OPT_QUIET:
        o->quiet = 1;
        return 1;
    default:
        return 0;
    }
}

void cli_automl_setup(const tsl_dataset *ds, const cli_model_opts *mo, int period, cli_progress *p,
                      tsl_automl_opts *ao, tsl_ts **ts) {
    *ts = tsl_calloc(ds->nseries ? ds->nseries : 1, sizeof **ts);
    for (size_t i = 0; i < ds->nseries; i++)
        (*ts)[i] = (tsl_ts){ds->series[i].y, ds->series[i].n, ds->series[i].start};
    tsl_automl_opts_init(ao, (size_t)mo->horizon, period);
    ao->freq = ds->freq;
    ao->levels = mo->levels;
    ao->nq = mo->nq;
    ao->candidates = mo->cands;
    ao->ncandidates = mo->ncands;
    ao->metric = mo->metric_id;
    if (mo->windows) ao->windows = (size_t)mo->windows;
    ao->ensembles = !mo->no_ensembles;
    ao->series_weight = mo->series_weight_set ? mo->series_weight : -1;
    ao->fast = mo->fast;
    ao->max_history = (size_t)mo->max_history;
    if (mo->nperiods >= 2) {
        ao->nperiods = mo->nperiods;
        memcpy(ao->periods, mo->periods, (size_t)mo->nperiods * sizeof *mo->periods);
    }
    ao->time_limit = mo->time_limit;
    ao->threads = (int)mo->threads;
    ao->progress = cli_progress_update;
    ao->progress_ctx = p;
}

int cli_read_input(const char *cmd, const cli_input_opts *in, int quiet, tsl_dataset **out) {
    tsl_read_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.item_col = in->item_col;
    ro.time_col = in->time_col;
    ro.target_col = in->target_col;
    tsl_diag d = {0};
    if (in->freq && tsl_freq_parse(in->freq, &ro.freq, &d))
        return cli_usage_error(cmd, "--freq: %s", tsl_diag_msg(&d));
    if (tsl_dataset_read_file(in->path, &ro, out, &d)) return cli_fail("%s", tsl_diag_msg(&d));
    const tsl_dataset *ds = *out;
    if (quiet) return CLI_OK;
    if (ds->duplicates)
        cli_warn("%s: %zu duplicated (item, timestamp) rows; the last value of each was kept",
                 in->path, ds->duplicates);
    if (ds->gap_points)
        cli_warn("%s: %zu timestamps missing inside series were added as missing values", in->path,
                 ds->gap_points);
    if (ds->dim_conflicts)
        cli_warn("%s: %zu rows disagree with their item's first dimension values; the first "
                 "were kept",
                 in->path, ds->dim_conflicts);
    return CLI_OK;
}

static double mono_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_progress_init(cli_progress *p, const char *label, int quiet) {
    p->enabled = !quiet && isatty(STDERR_FILENO);
    p->label = label;
    p->start = mono_seconds();
    p->last = 0;
}

void cli_progress_update(void *ctx, size_t done, size_t total) {
    cli_progress *p = ctx;
    if (!p->enabled) return;
    double now = mono_seconds();
    if (done < total && now - p->last < 0.1) return; /* at most ten redraws a second */
    p->last = now;
    const int width = 30;
    int fill = total ? (int)((double)width * (double)done / (double)total) : width;
    char bar[32];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '=' : (i == fill ? '>' : ' ');
    bar[width] = '\0';
    fprintf(stderr, "\r%s [%s] %zu/%zu %.1fs", p->label, bar, done, total, now - p->start);
    fflush(stderr);
}

void cli_progress_done(cli_progress *p) {
    if (!p->enabled) return;
    fprintf(stderr, "\r\033[K");
    fflush(stderr);
}

void cli_forecast_rows(void *ctx, size_t i, tsl_wbuf *b) {
    const cli_rows_ctx *c = ctx;
    const tsl_series *ser = &c->ds->series[i];
    if (c->r->series[i].err) return;
    tsl_fcsv_rows(b, ser->item_id, c->ds->freq, tsl_dataset_time(c->ds, ser, ser->n), c->r->horizon,
                  c->r->series[i].mean, c->r->series[i].quant, c->r->nq);
}

void cli_automl_warnings(const tsl_automl_result *r, int quiet) {
    if (quiet || !r->cut_short) return;
    cli_warn("the time limit ran out: %zu of %zu series were fitted with the cheap candidates "
             "only",
             r->cut_short, r->nseries);
}

int cli_project_open(const char *dir, tsl_project **out) {
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_project_open(dir, NULL, out, &d)) return cli_fail("%s", tsl_diag_msg(&d));
    return CLI_OK;
}

int cli_store_open(const tsl_project *p, const tsl_store_opts *opts, tsl_store **out) {
    tsl_diag d = {TSL_OK, {0}};
    const char *url = p->store_path ? p->store_path : p->cfg->store.location;
    if (tsl_store_open(url, opts, out, &d)) return cli_fail("%s", tsl_diag_msg(&d));
    return CLI_OK;
}

int cli_open(const char *dir, tsl_project **p, tsl_store **s) {
    int rc = cli_project_open(dir, p);
    if (rc) return rc;
    if ((rc = cli_store_open(*p, NULL, s))) {
        tsl_project_free(*p);
        *p = NULL;
    }
    return rc;
}

const char *cli_who(void) {
    static char who[256];
    if (who[0]) return who;
    struct passwd pw, *res = NULL;
    char buf[4096];
    if (getpwuid_r(geteuid(), &pw, buf, sizeof buf, &res) == 0 && res && res->pw_name[0]) {
        tsl_strlcpy(who, res->pw_name, sizeof who);
    } else {
        const char *u = getenv("USER");
        if (u && u[0])
            tsl_strlcpy(who, u, sizeof who);
        else
            snprintf(who, sizeof who, "uid:%u", (unsigned)geteuid());
    }
    return who;
}

void cli_format_ms(int64_t ms, char *buf, size_t cap) {
    if (ms <= 0) {
        tsl_strlcpy(buf, "-", cap);
        return;
    }
    tsl_time_format(ms / 1000, 0, buf, cap);
}

void cli_json_print(json_t *j) {
    json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    fputc('\n', stdout);
    json_decref(j);
}

json_t *cli_json_parse(const char *text) {
    return text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
}

int cli_subcommand(const char *cmd, int argc, char **argv, const char *const *names, size_t n,
                   const char *usage_text) {
    tsl_wbuf b;
    tsl_wbuf_init(&b);
    for (size_t i = 0; i < n; i++) tsl_wbuf_printf(&b, "%s%s", i ? ", " : "", names[i]);
    int found = -1;
    if (argc >= 2 &&
        (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))) {
        fputs(usage_text, stdout);
        found = -2;
    } else if (argc < 2) {
        cli_usage_error(cmd, "a subcommand is required: %s", tsl_wbuf_cstr(&b));
    } else {
        for (size_t i = 0; i < n && found < 0; i++)
            if (!strcmp(argv[1], names[i])) found = (int)i;
        if (found < 0)
            cli_usage_error(cmd, "unknown subcommand '%s', expected one of %s", argv[1],
                            tsl_wbuf_cstr(&b));
    }
    tsl_wbuf_release(&b);
    return found;
}

struct json_t *cli_deployment_json(const tsl_store_deployment *dp) {
    char at[40];
    cli_format_ms(dp->at_ms, at, sizeof at);
    return json_pack("{s:s, s:s, s:i, s:I, s:s, s:I, s:s, s:s, s:s}", "endpoint", dp->endpoint,
                     "forecaster", dp->forecaster, "version", dp->version, "deployment",
                     (json_int_t)dp->id, "action", dp->rollback ? "rollback" : "deploy", "previous",
                     (json_int_t)dp->previous_id, "who", dp->who, "why", dp->why, "at", at);
}

int cli_endpoint_requires_approval(const tsl_config *cfg, const char *endpoint) {
    const tsl_config_endpoint *e = tsl_config_endpoint_find(cfg, endpoint);
    return e ? e->requires_approval : 1;
}

/* Parses TSLOOP_TEST_STEP_DELAY=STEP:MS (the crash tests' window, docs/pipeline.md). */
int cli_test_delay(const char *cmd, struct tsl_pipeline_opts *o, char *step, size_t cap) {
    const char *env = getenv("TSLOOP_TEST_STEP_DELAY");
    if (!env || !env[0]) return CLI_OK;
    const char *colon = strchr(env, ':');
    char *end = NULL;
    errno = 0;
    long ms = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || (size_t)(colon - env) >= cap || errno || end == colon + 1 || *end || ms < 0 ||
        ms > 3600000)
        return cli_usage_error(cmd, "TSLOOP_TEST_STEP_DELAY='%s', expected STEP:MILLISECONDS", env);
    memcpy(step, env, (size_t)(colon - env));
    step[colon - env] = '\0';
    o->delay_step = step;
    o->delay_ms = (int)ms;
    return CLI_OK;
}
