/*
 * cmd_config.c - `tsloop config`: find the project, check tsloop.yaml, show what it says.
 *
 * The quickest answer to "is my configuration right?": every mistake comes back as
 * FILE:LINE:COL with what was expected, and a valid file is summarised with the hashes that
 * model versions will record as their lineage. --normalized prints the exact text hashed.
 */
#include <getopt.h>
#include <jansson.h>
#include <string.h>

#include "cli/cli.h"
#include "tsloop/mem.h"
#include "tsloop/project.h"

static const char usage_text[] =
    "usage: tsloop config [--project DIR] [--json | --normalized]\n"
    "\n"
    "Finds the project (the nearest tsloop.yaml from the current directory upwards, or\n"
    "--project DIR), checks its configuration and prints a summary: the project, its store,\n"
    "its datasets and forecasters, and the configuration hash model versions record. Exits 1\n"
    "with FILE:LINE:COL and what was expected when the configuration is not valid.\n"
    "\n"
    "      --project DIR   the project's directory, instead of searching upwards\n"
    "      --json          the summary as JSON on stdout\n"
    "      --normalized    the normalised configuration (defaults filled in, sorted; the\n"
    "                      text the hash is taken of) on stdout\n"
    "  -h, --help          this help\n";

enum { OPT_NORMALIZED = CLI_OPT_OWN };

static const struct option long_opts[] = {{"project", required_argument, NULL, CLI_OPT_PROJECT},
                                          {"json", no_argument, NULL, CLI_OPT_JSON},
                                          {"normalized", no_argument, NULL, OPT_NORMALIZED},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};

/* The zone f's schedules are read in ("UTC" when none was configured). */
static const char *schedule_zone(const tsl_config_forecaster *f) {
    return f->schedule_timezone ? f->schedule_timezone : "UTC";
}

/* The summary as a new JSON object (the caller decrefs): never the PostgreSQL URI. */
static json_t *summary_json(const tsl_project *p) {
    const tsl_config *cfg = p->cfg;
    char hash[TSL_CONFIG_HASH_HEX + 1];
    tsl_config_hash(cfg, hash);
    json_t *root = json_object();
    json_object_set_new(root, "name", json_string(cfg->name));
    json_object_set_new(root, "root", json_string(p->root));
    json_object_set_new(root, "config", json_string(p->config_path));
    json_object_set_new(root, "data_dir", json_string(p->data_dir));
    json_t *store = json_object();
    json_object_set_new(store, "kind",
                        json_string(cfg->store.kind == TSL_STORE_SQLITE ? "sqlite" : "postgresql"));
    /* A PostgreSQL URI may hold a password: only the SQLite file is shown. */
    if (p->store_path) json_object_set_new(store, "path", json_string(p->store_path));
    json_object_set_new(root, "store", store);
    json_object_set_new(root, "hash", json_string(hash));
    json_t *ds = json_array();
    for (size_t i = 0; i < cfg->ndatasets; i++)
        json_array_append_new(ds, json_string(cfg->datasets[i].name));
    json_object_set_new(root, "datasets", ds);
    json_t *fs = json_array();
    for (size_t i = 0; i < cfg->nforecasters; i++) {
        const tsl_config_forecaster *f = &cfg->forecasters[i];
        tsl_config_forecaster_hash(cfg, f, hash);
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(f->name));
        json_object_set_new(o, "dataset", json_string(f->dataset));
        json_object_set_new(o, "horizon", json_integer(f->horizon));
        json_object_set_new(o, "approval",
                            json_string(f->approval == TSL_APPROVAL_AUTO ? "auto" : "manual"));
        json_object_set_new(o, "hash", json_string(hash));
        if (f->retrain_cron || f->forecast_cron) {
            char cron[160];
            json_t *sch = json_object();
            if (f->retrain_cron) {
                tsl_cron_format(&f->retrain, cron, sizeof cron);
                json_object_set_new(sch, "retrain", json_string(cron));
            }
            if (f->forecast_cron) {
                tsl_cron_format(&f->forecast, cron, sizeof cron);
                json_object_set_new(sch, "forecast", json_string(cron));
            }
            json_object_set_new(sch, "timezone", json_string(schedule_zone(f)));
            json_object_set_new(o, "schedule", sch);
        }
        json_array_append_new(fs, o);
    }
    json_object_set_new(root, "forecasters", fs);
    return root;
}

/* The summary as aligned text on stdout. */
static void summary_print(const tsl_project *p) {
    const tsl_config *cfg = p->cfg;
    char hash[TSL_CONFIG_HASH_HEX + 1];
    tsl_config_hash(cfg, hash);
    printf("project      %s (%s)\n", cfg->name, p->root);
    printf("config       %s: valid, hash %s\n", p->config_path, hash);
    if (p->store_path)
        printf("store        sqlite %s\n", p->store_path);
    else
        printf("store        postgresql (URI not shown: it may hold credentials)\n");
    printf("datasets     %zu\n", cfg->ndatasets);
    for (size_t i = 0; i < cfg->ndatasets; i++) {
        const tsl_config_dataset *ds = &cfg->datasets[i];
        char freq[32] = "inferred";
        if (ds->freq.unit != TSL_FREQ_NONE) tsl_freq_format(ds->freq, freq, sizeof freq);
        printf("  %-20s frequency %s, inbox %s\n", ds->name, freq, ds->inbox ? ds->inbox : "none");
    }
    printf("forecasters  %zu\n", cfg->nforecasters);
    for (size_t i = 0; i < cfg->nforecasters; i++) {
        const tsl_config_forecaster *f = &cfg->forecasters[i];
        tsl_config_forecaster_hash(cfg, f, hash);
        printf("  %-20s dataset %s, horizon %d, %s approval, settings hash %.12s\n", f->name,
               f->dataset, f->horizon, f->approval == TSL_APPROVAL_AUTO ? "auto" : "manual", hash);
        if (f->retrain_cron || f->forecast_cron) {
            char r[160] = "none", fc[160] = "none";
            if (f->retrain_cron) tsl_cron_format(&f->retrain, r, sizeof r);
            if (f->forecast_cron) tsl_cron_format(&f->forecast, fc, sizeof fc);
            printf("  %-20s schedule retrain %s, forecast %s, time zone %s\n", "", r, fc,
                   schedule_zone(f));
        }
    }
}

int cmd_config(int argc, char **argv) {
    const char *project = NULL;
    int json = 0, normalized = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (c) {
        case CLI_OPT_PROJECT:
            project = optarg;
            break;
        case CLI_OPT_JSON:
            json = 1;
            break;
        case OPT_NORMALIZED:
            normalized = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return CLI_OK;
        default:
            return cli_usage_error("config", "unknown or incomplete option");
        }
    }
    if (optind < argc) return cli_usage_error("config", "unexpected argument '%s'", argv[optind]);
    if (json && normalized)
        return cli_usage_error("config", "--json and --normalized exclude each other");
    tsl_project *p = NULL;
    int rc = cli_project_open(project, &p);
    if (rc) return rc;
    if (normalized) {
        tsl_wbuf b;
        tsl_wbuf_init(&b);
        tsl_config_normalize(p->cfg, &b);
        fwrite(b.data, 1, b.len, stdout);
        tsl_wbuf_release(&b);
    } else if (json) {
        json_t *root = summary_json(p);
        json_dumpf(root, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(root);
    } else {
        summary_print(p);
    }
    tsl_project_free(p);
    return CLI_OK;
}
