/*
 * cmd_datasets.c - `tsloop datasets list|show`: the project's data sets as the store holds
 * them.
 *
 * list puts each data set tsloop.yaml declares beside what is stored (items, points, span,
 * content hash); show adds the recent ingests with their receipts (and, with --ingest ID, one
 * ingest's rejected rows), which is where a user looks after a receipt said "rejected".
 */
#include <getopt.h>
#include <jansson.h>
#include <string.h>

#include "cli/cli.h"
#include "tsloop/mem.h"
#include "tsloop/project.h"
#include "tsloop/store.h"

static const char usage_text[] =
    "usage: tsloop datasets list [--json]\n"
    "       tsloop datasets show NAME [--ingest ID] [--limit N] [--json]\n"
    "\n"
    "The project's data sets. list: each declared or stored data set with its items,\n"
    "observations, time span and content hash. show: one data set and its recent ingests\n"
    "(--limit, default 10) with their receipts; --ingest ID shows one ingest's rejected rows.\n"
    "\n"
    "      --project DIR    the project's directory, instead of searching upwards\n"
    "      --ingest ID      show: that ingest with its rejected rows (line and reason)\n"
    "      --limit N        show: the last N ingests\n"
    "      --json           JSON on stdout\n"
    "  -h, --help           this help\n";

enum { OPT_INGEST = CLI_OPT_OWN, OPT_LIMIT };

static const struct option long_opts[] = {{"project", required_argument, NULL, CLI_OPT_PROJECT},
                                          {"ingest", required_argument, NULL, OPT_INGEST},
                                          {"limit", required_argument, NULL, OPT_LIMIT},
                                          {"json", no_argument, NULL, CLI_OPT_JSON},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};

/* A stored data set as JSON. */
static json_t *dataset_json(const tsl_store_dataset *ds) {
    char freq[32] = "inferred", t0[40], t1[40];
    if (ds->freq.unit != TSL_FREQ_NONE) tsl_freq_format(ds->freq, freq, sizeof freq);
    tsl_time_format(ds->t_min, 0, t0, sizeof t0);
    tsl_time_format(ds->t_max, 0, t1, sizeof t1);
    json_t *dims = json_array();
    for (size_t i = 0; i < ds->ndims; i++)
        json_array_append_new(dims, json_string(ds->dim_names[i]));
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(ds->name));
    json_object_set_new(o, "frequency", json_string(freq));
    json_object_set_new(o, "dimensions", dims);
    json_object_set_new(o, "items", json_integer((json_int_t)ds->items));
    json_object_set_new(o, "observations", json_integer((json_int_t)ds->observations));
    json_object_set_new(o, "first", ds->observations ? json_string(t0) : json_null());
    json_object_set_new(o, "last", ds->observations ? json_string(t1) : json_null());
    json_object_set_new(o, "hash", json_string(ds->hash));
    return o;
}

/* An ingest record with its receipt and kept rejections as JSON. */
static json_t *ingest_json(const tsl_store_ingest_info *in) {
    char t0[40];
    cli_format_ms(in->started_ms, t0, sizeof t0);
    const tsl_store_receipt *r = &in->receipt;
    json_t *o = json_object(), *rej = json_array();
    json_object_set_new(o, "ingest", json_integer(in->id));
    json_object_set_new(o, "source", json_string(in->source));
    json_object_set_new(o, "who", json_string(in->who));
    json_object_set_new(o, "status", json_string(tsl_ingest_status_name(in->status)));
    json_object_set_new(o, "error", in->error ? json_string(in->error) : json_null());
    json_object_set_new(o, "started", json_string(t0));
    json_object_set_new(o, "read", json_integer((json_int_t)r->read));
    json_object_set_new(o, "inserted", json_integer((json_int_t)r->inserted));
    json_object_set_new(o, "updated", json_integer((json_int_t)r->updated));
    json_object_set_new(o, "unchanged", json_integer((json_int_t)r->unchanged));
    json_object_set_new(o, "rejected", json_integer((json_int_t)r->rejected));
    for (size_t i = 0; i < r->nrejects; i++)
        json_array_append_new(rej, json_pack("{s:I, s:s}", "line", (json_int_t)r->rejects[i].line,
                                             "reason", r->rejects[i].reason));
    json_object_set_new(o, "rejects", rej);
    return o;
}

/* `datasets list`: stored data sets, and declared ones never ingested. */
static int datasets_list(tsl_store *s, const tsl_config *cfg, int json) {
    tsl_store_dataset *list = NULL;
    size_t n = 0;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_dataset_list(s, &list, &n, &d)) return cli_fail("%s", tsl_diag_msg(&d));
    json_t *arr = json ? json_array() : NULL;
    if (!arr)
        printf("%-20s %-9s %8s %12s %-20s %-20s %s\n", "data set", "frequency", "items",
               "observations", "first", "last", "hash");
    for (size_t i = 0; i < n; i++) {
        int declared = tsl_config_dataset_find(cfg, list[i].name) != NULL;
        if (arr) {
            json_t *o = dataset_json(&list[i]);
            json_object_set_new(o, "declared", json_boolean(declared));
            json_array_append_new(arr, o);
            continue;
        }
        json_t *o = dataset_json(&list[i]);
        printf("%-20s %-9s %8llu %12llu %-20s %-20s %.12s%s\n", list[i].name,
               json_string_value(json_object_get(o, "frequency")),
               (unsigned long long)list[i].items, (unsigned long long)list[i].observations,
               list[i].observations ? json_string_value(json_object_get(o, "first")) : "-",
               list[i].observations ? json_string_value(json_object_get(o, "last")) : "-",
               list[i].hash, declared ? "" : "  (not in tsloop.yaml)");
        json_decref(o);
    }
    /* Declared but never ingested. */
    for (size_t k = 0; k < cfg->ndatasets; k++) {
        int stored = 0;
        for (size_t i = 0; i < n && !stored; i++)
            stored = !strcmp(list[i].name, cfg->datasets[k].name);
        if (stored) continue;
        if (arr)
            json_array_append_new(arr, json_pack("{s:s, s:b, s:n}", "name", cfg->datasets[k].name,
                                                 "declared", 1, "items"));
        else
            printf("%-20s (declared, nothing ingested yet)\n", cfg->datasets[k].name);
    }
    if (arr) cli_json_print(arr);
    tsl_store_dataset_list_free(list, n);
    return CLI_OK;
}

/* `datasets show`: one data set and its recent ingests, or one ingest's rejections. */
static int datasets_show(tsl_store *s, const char *name, long ingest, long limit, int json) {
    tsl_diag d = {TSL_OK, {0}};
    if (ingest) {
        tsl_store_ingest_info in;
        if (tsl_store_ingest_get(s, ingest, &in, &d)) return cli_fail("%s", tsl_diag_msg(&d));
        if (strcmp(in.dataset, name)) {
            tsl_store_ingest_info_release(&in);
            return cli_fail("ingest %ld is not of data set '%s'", ingest, name);
        }
        if (json) {
            cli_json_print(ingest_json(&in));
        } else {
            const tsl_store_receipt *r = &in.receipt;
            printf("ingest %lld of %s: %s, %s by %s\n", (long long)in.id, in.dataset, in.source,
                   tsl_ingest_status_name(in.status), in.who[0] ? in.who : "-");
            if (in.error) printf("error: %s\n", in.error);
            printf("%llu read, %llu inserted, %llu updated, %llu unchanged, %llu rejected\n",
                   (unsigned long long)r->read, (unsigned long long)r->inserted,
                   (unsigned long long)r->updated, (unsigned long long)r->unchanged,
                   (unsigned long long)r->rejected);
            for (size_t i = 0; i < r->nrejects; i++)
                printf("  line %llu: %s\n", (unsigned long long)r->rejects[i].line,
                       r->rejects[i].reason);
        }
        tsl_store_ingest_info_release(&in);
        return CLI_OK;
    }
    tsl_store_dataset ds;
    if (tsl_store_dataset_get(s, name, &ds, &d)) return cli_fail("%s", tsl_diag_msg(&d));
    tsl_store_ingest_info *list = NULL;
    size_t n = 0;
    int rc = CLI_OK;
    if (tsl_store_ingest_list(s, name, (size_t)(limit ? limit : 10), &list, &n, &d)) {
        rc = cli_fail("%s", tsl_diag_msg(&d));
        goto out;
    }
    json_t *o = dataset_json(&ds);
    if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) json_array_append_new(arr, ingest_json(&list[i]));
        json_object_set_new(o, "ingests", arr);
        cli_json_print(o);
    } else {
        printf("data set     %s\n", ds.name);
        printf("frequency    %s\n", json_string_value(json_object_get(o, "frequency")));
        printf("dimensions   ");
        for (size_t i = 0; i < ds.ndims; i++) printf("%s%s", i ? ", " : "", ds.dim_names[i]);
        printf("%s\n", ds.ndims ? "" : "none");
        printf("items        %llu\n", (unsigned long long)ds.items);
        printf("observations %llu\n", (unsigned long long)ds.observations);
        if (ds.observations)
            printf("span         %s to %s\n", json_string_value(json_object_get(o, "first")),
                   json_string_value(json_object_get(o, "last")));
        printf("content hash %s\n", ds.hash);
        printf("ingests (newest first)\n");
        for (size_t i = 0; i < n; i++) {
            char t0[40];
            cli_format_ms(list[i].started_ms, t0, sizeof t0);
            const tsl_store_receipt *r = &list[i].receipt;
            printf("  %-5lld %s %-11s %-24s %llu read: %llu inserted, %llu updated, %llu "
                   "unchanged, %llu rejected%s%s\n",
                   (long long)list[i].id, t0, tsl_ingest_status_name(list[i].status),
                   list[i].source, (unsigned long long)r->read, (unsigned long long)r->inserted,
                   (unsigned long long)r->updated, (unsigned long long)r->unchanged,
                   (unsigned long long)r->rejected, list[i].error ? ": " : "",
                   list[i].error ? list[i].error : "");
        }
        json_decref(o);
    }
out:
    tsl_store_ingest_info_list_free(list, n);
    tsl_store_dataset_release(&ds);
    return rc;
}

int cmd_datasets(int argc, char **argv) {
    static const char *const subs[] = {"list", "show"};
    int sub = cli_subcommand("datasets", argc, argv, subs, 2, usage_text);
    if (sub == -2) return CLI_OK;
    if (sub < 0) return CLI_USAGE;
    const char *project = NULL;
    long ingest = 0, limit = 0;
    int json = 0, c;
    optind = 1; /* options follow the subcommand: parse argv from it on */
    while ((c = getopt_long(argc - 1, argv + 1, "h", long_opts, NULL)) != -1) {
        switch (c) {
        case CLI_OPT_PROJECT:
            project = optarg;
            break;
        case OPT_INGEST:
            if (cli_parse_long("datasets", "--ingest", optarg, 1, 1L << 62, &ingest))
                return CLI_USAGE;
            break;
        case OPT_LIMIT:
            if (cli_parse_long("datasets", "--limit", optarg, 1, 1000000, &limit)) return CLI_USAGE;
            break;
        case CLI_OPT_JSON:
            json = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return CLI_OK;
        default:
            return cli_usage_error("datasets", "unknown or incomplete option");
        }
    }
    int nargs = argc - 1 - optind;
    char **args = argv + 1 + optind;
    if (nargs != (sub == 1))
        return cli_usage_error("datasets", "%s takes %s", subs[sub],
                               sub ? "one NAME" : "no argument");
    tsl_project *p = NULL;
    tsl_store *s = NULL;
    int rc = cli_open(project, &p, &s);
    if (rc) return rc;
    rc = sub == 0 ? datasets_list(s, p->cfg, json) : datasets_show(s, args[0], ingest, limit, json);
    tsl_store_close(s);
    tsl_project_free(p);
    return rc;
}
