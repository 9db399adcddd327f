/*
 * cmd_events.c - `tsloop events [--follow]`: the append-only event log.
 *
 * Event ids increase in commit order (store.h), so following the log is polling for "after
 * the last id seen", which never misses or repeats an event however many processes append.
 * --json writes one JSON object per line (JSON Lines), the shape a stream wants: a reader can
 * act on each event as it arrives.
 */
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "tsloop/mem.h"
#include "tsloop/project.h"
#include "tsloop/store.h"

static const char usage_text[] =
    "usage: tsloop events [--follow] [--since ID] [--limit N] [--type PREFIX] [--json]\n"
    "\n"
    "Prints the event log: every ingest, validation, execution status and step, registration,\n"
    "approval, rejection and parameter change, oldest first. By default the last 50; --since\n"
    "ID prints those after ID. --follow keeps printing new events as they are recorded, until\n"
    "interrupted.\n"
    "\n"
    "      --project DIR    the project's directory, instead of searching upwards\n"
    "  -f, --follow         wait for new events and print them as they come\n"
    "      --since ID       events after this id (0: from the start)\n"
    "      --limit N        at most N events (without --since: the last N; default 50)\n"
    "      --type PREFIX    only events whose type starts with PREFIX (model., execution.)\n"
    "      --json           one JSON object per line: id, at, type, subject, payload\n"
    "  -h, --help           this help\n";

enum { OPT_SINCE = CLI_OPT_OWN, OPT_LIMIT, OPT_TYPE };

static const struct option long_opts[] = {{"project", required_argument, NULL, CLI_OPT_PROJECT},
                                          {"follow", no_argument, NULL, 'f'},
                                          {"since", required_argument, NULL, OPT_SINCE},
                                          {"limit", required_argument, NULL, OPT_LIMIT},
                                          {"type", required_argument, NULL, OPT_TYPE},
                                          {"json", no_argument, NULL, CLI_OPT_JSON},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};

#define PAGE      1000
#define POLL_MS   500
#define DEF_LIMIT 50

static volatile sig_atomic_t interrupted;

/* SIGINT/SIGTERM while following: finish the current poll and exit 0. */
static void on_signal(int sig) {
    (void)sig;
    interrupted = 1;
}

/* One event: a text line, or a JSON line. */
static void print_event(const tsl_store_event *e, int json) {
    char at[40];
    cli_format_ms(e->at_ms, at, sizeof at);
    if (json) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_integer(e->id));
        json_object_set_new(o, "at", json_string(at));
        json_object_set_new(o, "type", json_string(e->type));
        json_object_set_new(o, "subject", json_string(e->subject));
        json_t *pl = cli_json_parse(e->payload);
        json_object_set_new(o, "payload", pl ? pl : json_null());
        json_dumpf(o, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        json_decref(o);
    } else {
        printf("%-7lld %s %-22s %-24s %s\n", (long long)e->id, at, e->type, e->subject, e->payload);
    }
}

/* 1 when e's type starts with type (NULL: every event). */
static int matches(const tsl_store_event *e, const char *type) {
    return !type || !strncmp(e->type, type, strlen(type));
}

int cmd_events(int argc, char **argv) {
    const char *project = NULL, *type = NULL;
    long since = -1, limit = 0;
    int json = 0, follow = 0, c, rc = CLI_OK;
    optind = 1;
    while ((c = getopt_long(argc, argv, "fh", long_opts, NULL)) != -1) {
        switch (c) {
        case CLI_OPT_PROJECT:
            project = optarg;
            break;
        case 'f':
            follow = 1;
            break;
        case OPT_SINCE:
            if (cli_parse_long("events", "--since", optarg, 0, 1L << 62, &since)) return CLI_USAGE;
            break;
        case OPT_LIMIT:
            if (cli_parse_long("events", "--limit", optarg, 1, 100000000, &limit)) return CLI_USAGE;
            break;
        case OPT_TYPE:
            type = optarg;
            break;
        case CLI_OPT_JSON:
            json = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return CLI_OK;
        default:
            return cli_usage_error("events", "unknown or incomplete option");
        }
    }
    if (optind < argc) return cli_usage_error("events", "unexpected argument '%s'", argv[optind]);
    tsl_project *p = NULL;
    tsl_store *s = NULL;
    if ((rc = cli_open(project, &p, &s))) return rc;
    tsl_diag d = {TSL_OK, {0}};
    int64_t last = since < 0 ? 0 : since;
    if (since < 0) {
        /* The last `limit` matching events: one pass, keeping a ring of them. */
        size_t keep = (size_t)(limit ? limit : DEF_LIMIT), held = 0, head = 0;
        tsl_store_event *ring = tsl_calloc(keep, sizeof *ring);
        for (;;) {
            tsl_store_event *page = NULL;
            size_t n = 0;
            if (tsl_store_event_list(s, last, PAGE, &page, &n, &d)) {
                rc = cli_fail("%s", tsl_diag_msg(&d));
                tsl_store_event_list_free(ring, keep);
                goto out;
            }
            for (size_t i = 0; i < n; i++) {
                last = page[i].id;
                if (!matches(&page[i], type)) continue;
                if (held == keep) {
                    tsl_free(ring[head].type);
                    tsl_free(ring[head].subject);
                    tsl_free(ring[head].payload);
                } else {
                    held++;
                }
                ring[head] = page[i];
                memset(&page[i], 0, sizeof page[i]);
                head = (head + 1) % keep;
            }
            tsl_store_event_list_free(page, n);
            if (n < PAGE) break;
        }
        size_t start = held == keep ? head : 0;
        for (size_t i = 0; i < held; i++) print_event(&ring[(start + i) % keep], json);
        tsl_store_event_list_free(ring, keep);
    } else {
        size_t printed = 0;
        for (;;) {
            tsl_store_event *page = NULL;
            size_t n = 0;
            if (tsl_store_event_list(s, last, PAGE, &page, &n, &d)) {
                rc = cli_fail("%s", tsl_diag_msg(&d));
                goto out;
            }
            for (size_t i = 0; i < n && (!limit || printed < (size_t)limit); i++) {
                last = page[i].id;
                if (!matches(&page[i], type)) continue;
                print_event(&page[i], json);
                printed++;
            }
            tsl_store_event_list_free(page, n);
            if (n < PAGE || (limit && printed >= (size_t)limit)) break;
        }
    }
    fflush(stdout);
    if (!follow) goto out;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    while (!interrupted) {
        tsl_store_event *page = NULL;
        size_t n = 0;
        if (tsl_store_event_list(s, last, PAGE, &page, &n, &d)) {
            rc = cli_fail("%s", tsl_diag_msg(&d));
            break;
        }
        for (size_t i = 0; i < n; i++) {
            last = page[i].id;
            if (matches(&page[i], type)) print_event(&page[i], json);
        }
        tsl_store_event_list_free(page, n);
        fflush(stdout);
        if (n < PAGE) {
            struct timespec ts = {0, POLL_MS * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
out:
    tsl_store_close(s);
    tsl_project_free(p);
    return rc;
}
