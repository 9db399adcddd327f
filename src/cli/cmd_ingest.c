/*
 * cmd_ingest.c - `tsloop ingest FILE... --dataset NAME`: files into a project's data set.
 *
 * Each file is its own ingest with its own receipt (rows read, inserted, updated, unchanged,
 * rejected with line and reason), so a bad file among good ones is reported and skipped, and
 * the exit code says whether every file went in. The rules are the library's (ingest.h): the
 * data set as tsloop.yaml declares it, and an unusable file changes nothing.
 */
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "tsloop/ingest.h"
#include "tsloop/monitor.h"
#include "tsloop/shadow.h"
#include "tsloop/mem.h"
#include "tsloop/project.h"

static const char usage_text[] =
    "usage: tsloop ingest FILE... [--dataset NAME] [--project DIR] [options]\n"
    "\n"
    "Upserts the observations of each FILE into a data set of the project, as tsloop.yaml\n"
    "declares it (columns, dimensions, frequency, non_negative). A point sent again is not\n"
    "counted twice; a changed value replaces the stored one and the old one is kept. Prints a\n"
    "receipt per file: rows read, inserted, updated, unchanged and rejected (with line and\n"
    "reason). A file that cannot be used at all changes nothing. Exits 1 when a file failed.\n"
    "Then the monitors tsloop.yaml declares are evaluated on what the files changed.\n"
    "\n"
    "  -d, --dataset NAME      the data set (default: the only one tsloop.yaml declares)\n"
    "      --project DIR       the project's directory, instead of searching upwards\n"
    "      --max-rejects N     fail a file once more than N of its rows are rejected\n"
    "      --no-evaluate       leave evaluating the monitors to the daemon (tsloop serve)\n"
    "      --json              the receipts as JSON on stdout\n"
    "      --quiet             no progress, and no receipts unless --json\n"
    "  -h, --help              this help\n"
    "\n"
    "FILE is CSV or TSV with a header, .gz, or a .zip holding TTS.csv; - is standard input.\n"
    "example: tsloop ingest sales-2026-05.csv --dataset sales\n";

enum { OPT_MAX_REJECTS = CLI_OPT_OWN, OPT_NO_EVALUATE };

static const struct option long_opts[] = {{"dataset", required_argument, NULL, 'd'},
                                          {"project", required_argument, NULL, CLI_OPT_PROJECT},
                                          {"max-rejects", required_argument, NULL, OPT_MAX_REJECTS},
                                          {"no-evaluate", no_argument, NULL, OPT_NO_EVALUATE},
                                          {"json", no_argument, NULL, CLI_OPT_JSON},
                                          {"quiet", no_argument, NULL, CLI_OPT_QUIET},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};

#define SHOWN_REJECTS 10

/* Monotonic seconds, for rows per second. */
static double wall_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Rows-so-far line on a terminal. */
typedef struct ingest_progress {
    int enabled;
    const char *file;
    double start;
} ingest_progress;

/* tsl_ingest_opts.progress: redraws the rows-so-far line. */
static void on_progress(void *ctx, uint64_t rows) {
    ingest_progress *p = ctx;
    if (!p->enabled) return;
    double s = wall_seconds() - p->start;
    fprintf(stderr, "\ringest %s: %llu rows, %.1f s", p->file, (unsigned long long)rows, s);
    fflush(stderr);
}

/* The receipt as JSON. */
static json_t *receipt_json(const char *file, const tsl_store_receipt *r, int created,
                            double seconds) {
    json_t *o = json_object(), *rej = json_array();
    json_object_set_new(o, "file", json_string(file));
    json_object_set_new(o, "ingest", r->ingest_id ? json_integer(r->ingest_id) : json_null());
    json_object_set_new(o, "read", json_integer((json_int_t)r->read));
    json_object_set_new(o, "inserted", json_integer((json_int_t)r->inserted));
    json_object_set_new(o, "updated", json_integer((json_int_t)r->updated));
    json_object_set_new(o, "unchanged", json_integer((json_int_t)r->unchanged));
    json_object_set_new(o, "rejected", json_integer((json_int_t)r->rejected));
    json_object_set_new(o, "new_items", json_integer((json_int_t)r->new_items));
    json_object_set_new(o, "dim_conflicts", json_integer((json_int_t)r->dim_conflicts));
    for (size_t i = 0; i < r->nrejects; i++)
        json_array_append_new(rej, json_pack("{s:I, s:s}", "line", (json_int_t)r->rejects[i].line,
                                             "reason", r->rejects[i].reason));
    json_object_set_new(o, "rejects", rej);
    json_object_set_new(o, "hash", r->hash[0] ? json_string(r->hash) : json_null());
    json_object_set_new(o, "created", json_boolean(created));
    json_object_set_new(o, "seconds", json_real(seconds));
    return o;
}

/* The receipt as text on stdout. */
static void receipt_print(const char *file, const char *dataset, const tsl_store_receipt *r,
                          int created, double seconds) {
    FILE *f = stdout;
    if (created) fprintf(f, "created data set %s\n", dataset);
    fprintf(f, "%s: %llu rows read: %llu inserted, %llu updated, %llu unchanged, %llu rejected",
            file, (unsigned long long)r->read, (unsigned long long)r->inserted,
            (unsigned long long)r->updated, (unsigned long long)r->unchanged,
            (unsigned long long)r->rejected);
    if (r->new_items) fprintf(f, "; %llu new items", (unsigned long long)r->new_items);
    if (r->ingest_id)
        fprintf(f, " (ingest %lld, %.2f s, %.0f rows/s)\n", (long long)r->ingest_id, seconds,
                seconds > 0 ? (double)r->read / seconds : 0.0);
    else
        fputc('\n', f);
    if (r->dim_conflicts)
        cli_warn("%s: %llu rows disagree with their item's stored dimension values (the stored "
                 "ones were kept)",
                 file, (unsigned long long)r->dim_conflicts);
    for (size_t i = 0; i < r->nrejects && i < SHOWN_REJECTS; i++)
        fprintf(f, "  rejected line %llu: %s\n", (unsigned long long)r->rejects[i].line,
                r->rejects[i].reason);
    if (r->rejected > SHOWN_REJECTS)
        fprintf(f, "  ... %llu rejected rows in all%s\n", (unsigned long long)r->rejected,
                r->ingest_id ? " (tsloop datasets show shows the first 1000)" : "");
    if (r->hash[0]) fprintf(f, "data set %s: content hash %s\n", dataset, r->hash);
}

/* One line per quality monitor that found something in these ingests (whoever evaluated
 * them: this command or the daemon). */
static void quality_print(tsl_store *s, const int64_t *ingests, size_t n) {
    for (size_t i = 0; i < n; i++) {
        tsl_store_quality *q = NULL;
        size_t nq = 0;
        tsl_diag d = {TSL_OK, {0}};
        if (tsl_store_quality_list(s, ingests[i], NULL, &q, &nq, &d)) continue;
        for (size_t k = 0; k < nq; k++)
            if (strcmp(q[k].worst, "clean"))
                printf("quality (%s, ingest %lld): %s\n", q[k].monitor, (long long)ingests[i],
                       q[k].summary);
        tsl_store_quality_list_free(q, nq);
    }
}

int cmd_ingest(int argc, char **argv) {
    const char *project = NULL, *dataset = NULL;
    long max_rejects = 0;
    int json = 0, quiet = 0, evaluate = 1, c, rc = CLI_OK;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:h", long_opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dataset = optarg;
            break;
        case CLI_OPT_PROJECT:
            project = optarg;
            break;
        case OPT_MAX_REJECTS:
            if (cli_parse_long("ingest", "--max-rejects", optarg, 1, 1000000000, &max_rejects))
                return CLI_USAGE;
            break;
        case OPT_NO_EVALUATE:
            evaluate = 0;
            break;
        case CLI_OPT_JSON:
            json = 1;
            break;
        case CLI_OPT_QUIET:
            quiet = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return CLI_OK;
        default:
            return cli_usage_error("ingest", "unknown or incomplete option");
        }
    }
    if (optind >= argc) return cli_usage_error("ingest", "no FILE to ingest");
    tsl_project *p = NULL;
    tsl_store *s = NULL;
    if ((rc = cli_project_open(project, &p))) return rc;
    const tsl_config *cfg = p->cfg;
    const tsl_config_dataset *ds = NULL;
    if (!dataset) {
        if (cfg->ndatasets != 1) {
            tsl_wbuf names;
            tsl_wbuf_init(&names);
            for (size_t i = 0; i < cfg->ndatasets; i++)
                tsl_wbuf_printf(&names, "%s%s", i ? ", " : "", cfg->datasets[i].name);
            rc = cli_usage_error("ingest", "--dataset is required: tsloop.yaml declares %s",
                                 cfg->ndatasets ? tsl_wbuf_cstr(&names) : "no data set");
            tsl_wbuf_release(&names);
            goto out;
        }
        ds = &cfg->datasets[0];
    } else if (!(ds = tsl_config_dataset_find(cfg, dataset))) {
        tsl_wbuf names;
        tsl_wbuf_init(&names);
        for (size_t i = 0; i < cfg->ndatasets; i++)
            tsl_wbuf_printf(&names, "%s%s", i ? ", " : "", cfg->datasets[i].name);
        rc = cli_fail("data set '%s' is not declared in %s, expected one of: %s", dataset,
                      p->config_path, cfg->ndatasets ? tsl_wbuf_cstr(&names) : "(none)");
        tsl_wbuf_release(&names);
        goto out;
    }
    if ((rc = cli_store_open(p, NULL, &s))) goto out;
    json_t *all = json ? json_array() : NULL;
    int64_t *ingests = tsl_calloc((size_t)(argc - optind) + 1, sizeof *ingests);
    size_t ningests = 0;
    for (int i = optind; i < argc; i++) {
        const char *file = argv[i];
        ingest_progress prog = {!quiet && isatty(STDERR_FILENO), file, wall_seconds()};
        tsl_ingest_opts io;
        memset(&io, 0, sizeof io);
        char abs[PATH_MAX];
        io.who = cli_who();
        io.source = strcmp(file, "-") && realpath(file, abs) ? abs : NULL;
        io.origin = "cli";
        const char *slash = strrchr(file, '/');
        io.file = strcmp(file, "-") ? (slash ? slash + 1 : file) : NULL;
        io.max_rejects = (uint64_t)max_rejects;
        io.progress = on_progress;
        io.progress_ctx = &prog;
        tsl_store_receipt r;
        int created = 0;
        tsl_diag d = {TSL_OK, {0}};
        tsl_err err = tsl_ingest_file(s, ds, file, &io, &r, &created, &d);
        double seconds = wall_seconds() - prog.start;
        if (prog.enabled) fprintf(stderr, "\r\033[K");
        if (err) {
            cli_fail("%s", tsl_diag_msg(&d));
            if (!quiet && !json && r.nrejects) receipt_print(file, ds->name, &r, 0, seconds);
            if (all) {
                json_t *o = receipt_json(file, &r, 0, seconds);
                json_object_set_new(o, "error", json_string(tsl_diag_msg(&d)));
                json_array_append_new(all, o);
            }
            rc = CLI_ERR;
        } else {
            if (r.ingest_id) ingests[ningests++] = r.ingest_id;
            if (!quiet && !json) receipt_print(file, ds->name, &r, created, seconds);
            if (all) json_array_append_new(all, receipt_json(file, &r, created, seconds));
        }
        tsl_store_receipt_release(&r);
    }
    if (all) cli_json_print(all);
    if (evaluate) {
        /* Evaluate at once what the new ground truth touched (the daemon's follower would too,
         * from the same cursor; evaluating twice is harmless). A failure here does not undo
         * the ingest, which is committed: it is reported, and the daemon retries it. */
        tsl_diag d = {TSL_OK, {0}};
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        if (cfg->nmonitors && tsl_monitor_follow(s, cfg, 0, now, NULL, &d))
            cli_warn("evaluating the monitors: %s", tsl_diag_msg(&d));
        else if (!quiet && !json)
            quality_print(s, ingests, ningests);
        d = (tsl_diag){TSL_OK, {0}};
        if (tsl_shadow_poll(s, cfg, now, NULL, &d))
            cli_warn("judging the shadow deployments: %s", tsl_diag_msg(&d));
    }
    tsl_free(ingests);
out:
    tsl_store_close(s);
    tsl_project_free(p);
    return rc;
}
