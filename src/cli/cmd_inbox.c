/*
 * cmd_inbox.c - `tsloop inbox [--once]`: the inbox folders handled without the daemon.
 *
 * --once handles what is in every inbox folder now and exits (for cron); without it the
 * command runs the daemon's watcher thread in the foreground until SIGINT or SIGTERM. Both
 * are the library's (inbox.h, tsl_watcher_start): the same record in the store means the
 * command, the daemon and a crash in between never ingest a file twice.
 */
#include <getopt.h>
#include <pthread.h>
#include <jansson.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "tsloop/daemon.h"
#include "tsloop/inbox.h"
#include "tsloop/mem.h"
#include "tsloop/project.h"

static const char usage_text[] =
    "usage: tsloop inbox [--once] [--dataset NAME] [--project DIR] [--json]\n"
    "\n"
    "Ingests the files dropped into the inbox folders tsloop.yaml declares (datasets.NAME.inbox),\n"
    "each once it is complete, then moves it to processed/ or, when it cannot be ingested, to\n"
    "failed/ beside NAME.error.txt and NAME.error.json. Files starting with '.' and temporary\n"
    "names (*.tmp, *.part, *.partial, *.crdownload, *.swp, *~) are never read. `tsloop serve`\n"
    "does the same continuously.\n"
    "\n"
    "      --once              handle what is there now and exit (for cron)\n"
    "  -d, --dataset NAME      only this data set's inbox (with --once)\n"
    "      --project DIR       the project's directory, instead of searching upwards\n"
    "      --json              with --once: the counts per data set as JSON\n"
    "  -h, --help              this help\n"
    "\n"
    "Without --once, watches until interrupted (SIGINT, SIGTERM), logging JSON lines to stderr.\n"
    "With --once, exits 1 when a file was refused (moved to failed/) or a folder could not be\n"
    "handled; a file still open for writing is not an error: it is left for the next run.\n";

enum { OPT_ONCE = CLI_OPT_OWN };

static const struct option long_opts[] = {{"once", no_argument, NULL, OPT_ONCE},
                                          {"dataset", required_argument, NULL, 'd'},
                                          {"project", required_argument, NULL, CLI_OPT_PROJECT},
                                          {"json", no_argument, NULL, CLI_OPT_JSON},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};

/* --once: every (or the named) data set's folder, one pass. */
static int run_once(tsl_project *p, const char *dataset, int json) {
    tsl_store *s = NULL;
    int rc = CLI_OK, any = 0;
    if ((rc = cli_store_open(p, NULL, &s))) return rc;
    json_t *all = json ? json_array() : NULL;
    for (size_t i = 0; i < p->cfg->ndatasets; i++) {
        const tsl_config_dataset *ds = &p->cfg->datasets[i];
        if (!ds->inbox || (dataset && strcmp(dataset, ds->name))) continue;
        any = 1;
        char *dir = tsl_project_path(p, ds->inbox);
        tsl_inbox_stats st;
        memset(&st, 0, sizeof st);
        tsl_diag d = {TSL_OK, {0}};
        tsl_err err = tsl_inbox_scan(s, ds, dir, &st, &d);
        if (err) rc = cli_fail("%s", tsl_diag_msg(&d));
        if (st.failed) rc = CLI_ERR;
        if (all)
            json_array_append_new(
                all, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:s?}", "dataset", ds->name,
                               "folder", dir, "processed", (json_int_t)st.processed, "failed",
                               (json_int_t)st.failed, "moved", (json_int_t)st.moved, "waiting",
                               (json_int_t)st.waiting, "error", err ? tsl_diag_msg(&d) : NULL));
        else
            printf("%s (%s): %zu processed, %zu failed, %zu handled before, %zu still being "
                   "written\n",
                   ds->name, dir, st.processed, st.failed, st.moved, st.waiting);
        tsl_free(dir);
    }
    if (!any)
        rc = dataset ? cli_fail("data set '%s' has no inbox in %s (datasets.%s.inbox)", dataset,
                                p->config_path, dataset)
                     : cli_fail("no data set in %s declares an inbox folder (datasets.NAME.inbox)",
                                p->config_path);
    if (all) cli_json_print(all);
    tsl_store_close(s);
    return rc;
}

/* Watching: the watcher thread until SIGINT or SIGTERM. */
static int run_watch(tsl_project *p) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* the watcher thread inherits the mask */
    tsl_watcher *w = NULL;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_watcher_start(p, stderr, &w, &d)) return cli_fail("%s", tsl_diag_msg(&d));
    if (!w)
        return cli_fail("no data set in %s declares an inbox folder (datasets.NAME.inbox)",
                        p->config_path);
    int sig = 0;
    sigwait(&set, &sig);
    tsl_watcher_stop(w);
    return CLI_OK;
}

int cmd_inbox(int argc, char **argv) {
    const char *project = NULL, *dataset = NULL;
    int once = 0, json = 0, c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:h", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_ONCE:
            once = 1;
            break;
        case 'd':
            dataset = optarg;
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
            return cli_usage_error("inbox", "unknown or incomplete option");
        }
    }
    if (optind < argc) return cli_usage_error("inbox", "unexpected argument '%s'", argv[optind]);
    if (!once && (dataset || json))
        return cli_usage_error("inbox", "--dataset and --json go with --once");
    tsl_project *p = NULL;
    if ((rc = cli_project_open(project, &p))) return rc;
    rc = once ? run_once(p, dataset, json) : run_watch(p);
    tsl_project_free(p);
    return rc;
}
