/*
 * cmd_predict.c - `tsloop predict --endpoint NAME --output FILE`: a batch forecast from an
 * endpoint's deployed version, every item (or those listed), captured like online forecasts.
 *
 * The work is tsl_predict's (daemon.h); this file reads the item list and prints the summary.
 * The forecast CSV is written into the project's output folder first (the daemon's, where job
 * results and scheduled forecasts go too: predict-ENDPOINT-TIME-PID.csv), then copied to
 * --output, which is the user's own path and may be anywhere (or stdout).
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "tsloop/daemon.h"
#include "tsloop/mem.h"
#include "tsloop/model.h"
#include "tsloop/output.h"
#include "tsloop/project.h"
#include "tsloop/store.h"

static const char usage_text[] =
    "usage: tsloop predict --endpoint NAME --output FILE [--items FILE] [--horizon H]\n"
    "                      [--quantiles LIST] [--inference-id ID] [--json]\n"
    "\n"
    "Forecasts every item of the version deployed on endpoint NAME (or the items listed in\n"
    "--items, one per line) from its latest observations and writes the forecast CSV\n"
    "(item_id,timestamp,mean,p10,p50,p90) to FILE ('-': stdout), atomically. Every value is\n"
    "captured in the store, as online forecasts are, under one inference id. A copy is kept\n"
    "in the project's output folder (server.output_dir, default .tsloop/outputs). A version\n"
    "in shadow on the endpoint forecasts the same items too, captured flagged shadow.\n"
    "\n"
    "      --endpoint NAME     the endpoint (required)\n"
    "  -o, --output FILE       where to write the forecasts (required)\n"
    "      --items FILE        item ids, one per line (default: every item)\n"
    "  -H, --horizon H         steps (default: the version's horizon)\n"
    "  -q, --quantiles LIST    levels, e.g. 0.1,0.5,0.9 (default: the version's)\n"
    "      --inference-id ID   the captures' inference id (default batch-<random>)\n"
    "      --project DIR       the project's directory, instead of searching upwards\n"
    "      --json              the summary as JSON on stdout (needs --output FILE, not -)\n"
    "  -h, --help              this help\n";

enum { OPT_ENDPOINT = CLI_OPT_OWN, OPT_ITEMS, OPT_ID };

static const struct option long_opts[] = {{"endpoint", required_argument, NULL, OPT_ENDPOINT},
                                          {"output", required_argument, NULL, 'o'},
                                          {"items", required_argument, NULL, OPT_ITEMS},
                                          {"horizon", required_argument, NULL, 'H'},
                                          {"quantiles", required_argument, NULL, 'q'},
                                          {"inference-id", required_argument, NULL, OPT_ID},
                                          {"project", required_argument, NULL, CLI_OPT_PROJECT},
                                          {"json", no_argument, NULL, CLI_OPT_JSON},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};

/* Parses "0.1,0.5,0.9" into levels; returns CLI_OK or prints a usage error. */
static int parse_levels(const char *text, double *levels, size_t *nq) {
    size_t n = 0;
    const char *p = text;
    tsl_diag d = {TSL_OK, {0}};
    while (*p) {
        char *end = NULL;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno || (*end && *end != ',') || n == TSL_METRICS_MAX_LEVELS)
            return cli_usage_error("predict", "--quantiles: '%s', expected levels like 0.1,0.9",
                                   text);
        levels[n++] = v;
        p = *end ? end + 1 : end;
    }
    if (tsl_quantile_levels_check(levels, n, TSL_METRICS_MAX_LEVELS, &d))
        return cli_usage_error("predict", "--quantiles: %s", tsl_diag_msg(&d));
    *nq = n;
    return CLI_OK;
}

/* Reads item ids, one per line (blank lines skipped), into *items. */
static int read_items(const char *path, char ***items, size_t *n) {
    FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!f) return cli_fail("--items %s: %s", path, strerror(errno));
    char line[65600];
    size_t cap = 0;
    *items = NULL;
    *n = 0;
    while (fgets(line, sizeof line, f)) {
        size_t len = strcspn(line, "\r\n");
        line[len] = '\0';
        if (!len) continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            *items = tsl_reallocarray(*items, cap, sizeof **items);
        }
        (*items)[(*n)++] = tsl_strdup(line);
    }
    int bad = ferror(f);
    if (f != stdin) fclose(f);
    if (bad) return cli_fail("--items %s: cannot read it", path);
    return CLI_OK;
}

/* Copies the file at from to path ("-": stdout), atomically for a file (tsl_outfile). */
static tsl_err copy_out(const char *from, const char *path, tsl_diag *d) {
    FILE *in = fopen(from, "rb");
    tsl_outfile of;
    int opened = 0;
    tsl_err err = TSL_OK;
    if (!in) return tsl_diag_set(d, TSL_EIO, "cannot read %s: %s", from, strerror(errno));
    if ((err = tsl_outfile_open(&of, path, d))) goto out;
    opened = 1;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, of.f) != n) break;
    if (ferror(in) || ferror(of.f)) {
        err = tsl_diag_set(d, TSL_EIO, "cannot copy the forecasts to %s", path);
        goto out;
    }
    opened = 0;
    err = tsl_outfile_commit(&of, d);
out:
    if (opened) tsl_outfile_abort(&of);
    fclose(in);
    return err;
}

int cmd_predict(int argc, char **argv) {
    const char *project = NULL, *endpoint = NULL, *output = NULL, *items_path = NULL, *id = NULL;
    tsl_predict_opts po;
    memset(&po, 0, sizeof po);
    double levels[TSL_METRICS_MAX_LEVELS];
    long h = 0;
    int json = 0, c;
    while ((c = getopt_long(argc, argv, "o:H:q:h", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_ENDPOINT:
            endpoint = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        case OPT_ITEMS:
            items_path = optarg;
            break;
        case 'H':
            if (cli_parse_long("predict", "--horizon", optarg, 1, 100000, &h)) return CLI_USAGE;
            break;
        case 'q':
            if (parse_levels(optarg, levels, &po.nq)) return CLI_USAGE;
            po.levels = levels;
            po.has_levels = 1;
            break;
        case OPT_ID:
            id = optarg;
            break;
        case CLI_OPT_PROJECT:
            project = optarg;
            break;
        case CLI_OPT_JSON:
            json = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return CLI_OK;
        default:
            return cli_usage_error("predict", "unknown or incomplete option");
        }
    }
    if (argc != optind) return cli_usage_error("predict", "takes no arguments, only options");
    if (!endpoint || !output)
        return cli_usage_error("predict", "--endpoint NAME and --output FILE are required");
    if (json && !strcmp(output, "-"))
        return cli_usage_error("predict", "--json needs --output FILE (stdout holds the CSV)");
    if (id && (!id[0] || strlen(id) > 128))
        return cli_usage_error("predict", "--inference-id: expected 1-128 characters");
    po.horizon = (size_t)h;
    po.inference_id = id;
    char **items = NULL;
    size_t nitems = 0;
    if (items_path && read_items(items_path, &items, &nitems)) return CLI_ERR;
    po.items = (const char *const *)items;
    po.nitems = nitems;
    if (items_path && !nitems) {
        tsl_free(items);
        return cli_fail("--items %s lists no item", items_path);
    }
    tsl_project *p = NULL;
    tsl_store *s = NULL;
    int rc = cli_open(project, &p, &s);
    tsl_diag d = {TSL_OK, {0}};
    tsl_predict_result r;
    char *outdir = NULL, copy[4200] = "";
    if (!rc && tsl_daemon_output_dir(p, NULL, &outdir, &d)) rc = cli_fail("%s", tsl_diag_msg(&d));
    if (!rc) {
        char when[32];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(when, sizeof when, "%Y%m%dT%H%M%SZ", &tm);
        snprintf(copy, sizeof copy, "%s/predict-%s-%s-%ld.csv", outdir, endpoint, when,
                 (long)getpid());
    }
    if (!rc && tsl_predict(s, endpoint, copy, &po, &r, &d)) rc = cli_fail("%s", tsl_diag_msg(&d));
    if (!rc && copy_out(copy, output, &d)) rc = cli_fail("%s", tsl_diag_msg(&d));
    tsl_free(outdir);
    if (!rc) {
        if (r.unknown)
            cli_warn("%zu listed items have no model in %s/%d", r.unknown, r.forecaster, r.version);
        json_t *sh = r.shadow_version ? json_pack("{s:i, s:I}", "version", r.shadow_version,
                                                  "captured", (json_int_t)r.shadow_captured)
                                      : json_null();
        if (json) {
            cli_json_print(json_pack("{s:s, s:s, s:i, s:s, s:I, s:I, s:I, s:I, s:o}", "endpoint",
                                     endpoint, "forecaster", r.forecaster, "version", r.version,
                                     "inference_id", r.inference_id, "items", (json_int_t)r.items,
                                     "unknown", (json_int_t)r.unknown, "rows", (json_int_t)r.rows,
                                     "captured", (json_int_t)r.captured, "shadow", sh));
        } else {
            json_decref(sh);
            fprintf(stderr, "tsloop: %zu items from %s/%d: %zu rows to %s, captured as %s\n",
                    r.items, r.forecaster, r.version, r.rows, output, r.inference_id);
            if (r.shadow_version)
                fprintf(stderr, "tsloop: version %d in shadow on %s: %zu forecasts captured\n",
                        r.shadow_version, endpoint, r.shadow_captured);
        }
    }
    for (size_t i = 0; i < nitems; i++) tsl_free(items[i]);
    tsl_free(items);
    tsl_store_close(s);
    tsl_project_free(p);
    return rc;
}
