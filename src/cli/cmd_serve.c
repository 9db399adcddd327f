/*
 * cmd_serve.c - `tsloop serve`: run the HTTP daemon over the project's store until SIGTERM or
 * SIGINT.
 *
 * The signals are blocked before any thread starts, so every thread inherits the mask and
 * only the main thread, in sigwait, ever sees them: no handler runs inside a worker, and the
 * shutdown itself (tsl_daemon_stop: stop accepting, drain, write the queued captures) runs as
 * ordinary code. SIGHUP reloads tsloop.yaml (tsl_daemon_reload).
 */
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "tsloop/daemon.h"
#include "tsloop/mem.h"
#include "tsloop/project.h"

static const char usage_text[] =
    "usage: tsloop serve [--listen HOST:PORT] [--threads N] [options]\n"
    "\n"
    "Serves forecasts from every deployed endpoint over HTTP (docs/api.md), following the\n"
    "store: a new deployment or new observations are picked up within a second, without a\n"
    "restart. Every forecast served is captured in the store. Logs are JSON lines on stderr.\n"
    "SIGTERM or SIGINT stops it gracefully: no new connections, requests in flight finish,\n"
    "queued captures are written, exit 0. SIGHUP reloads tsloop.yaml (the endpoints' rules).\n"
    "\n"
    "      --listen HOST:PORT  address to listen on (default 127.0.0.1:8080; port 0: any free\n"
    "                          port, logged); IPv4\n"
    "      --threads N         HTTP worker threads (default: the number of cores)\n"
    "      --max-body BYTES    largest request body (default 1048576)\n"
    "      --max-items N       items per forecast request (default 1000)\n"
    "      --max-horizon N     steps per forecast request (default 10000)\n"
    "      --capture-queue N   captures waiting for the writer before requests wait (default\n"
    "                          65536)\n"
    "      --drain-ms MS       how long SIGTERM waits for requests in flight (default 10000)\n"
    "      --access-log        log every request\n"
    "      --workers N         threads running asynchronous jobs (default 1)\n"
    "      --pipeline-workers N  threads running requested training executions (default 1;\n"
    "                          0: none, another process runs them)\n"
    "      --project DIR       the project's directory, instead of searching upwards\n"
    "  -h, --help              this help\n";

enum {
    OPT_LISTEN = CLI_OPT_OWN,
    OPT_THREADS,
    OPT_MAX_BODY,
    OPT_MAX_ITEMS,
    OPT_MAX_HORIZON,
    OPT_CAPQ,
    OPT_DRAIN,
    OPT_ACCESS,
    OPT_WORKERS,
    OPT_PIPELINE_WORKERS
};

static const struct option long_opts[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"max-body", required_argument, NULL, OPT_MAX_BODY},
    {"max-items", required_argument, NULL, OPT_MAX_ITEMS},
    {"max-horizon", required_argument, NULL, OPT_MAX_HORIZON},
    {"capture-queue", required_argument, NULL, OPT_CAPQ},
    {"drain-ms", required_argument, NULL, OPT_DRAIN},
    {"access-log", no_argument, NULL, OPT_ACCESS},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {"pipeline-workers", required_argument, NULL, OPT_PIPELINE_WORKERS},
    {"project", required_argument, NULL, CLI_OPT_PROJECT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

/* Splits "HOST:PORT" into host (cap bytes) and port. */
static int parse_listen(const char *text, char *host, size_t cap, int *port) {
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text || (size_t)(colon - text) >= cap) return -1;
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    long p = 0;
    if (cli_parse_long("serve", "--listen port", colon + 1, 0, 65535, &p)) return -1;
    *port = (int)p;
    return 0;
}

/* Reads an integer environment variable for a test hook into *out (unset: unchanged). */
static int env_long(const char *name, long lo, long hi, int64_t *out) {
    const char *v = getenv(name);
    if (!v || !v[0]) return 0;
    long x = 0;
    if (cli_parse_long("serve", name, v, lo, hi, &x)) return -1;
    *out = x;
    return 0;
}

/* The test hooks (docs/cli.md): environment variables that shorten leases and set the
 * scheduler's clock, so integration tests need not wait for real minutes. */
static int test_hooks(tsl_daemon_opts *o) {
    int64_t delay = 0;
    if (env_long("TSLOOP_TEST_CLOCK", 1, 253402300799L, &o->sched_clock_start) ||
        env_long("TSLOOP_SCHED_LEASE_MS", 100, 3600000, &o->sched_lease_ms) ||
        env_long("TSLOOP_JOB_LEASE_MS", 100, 3600000, &o->job_lease_ms) ||
        env_long("TSLOOP_TEST_JOB_DELAY_MS", 0, 600000, &delay))
        return -1;
    o->job_delay_ms = (int)delay;
    return 0;
}

int cmd_serve(int argc, char **argv) {
    const char *project = NULL;
    char host[64] = "127.0.0.1";
    tsl_daemon_opts o;
    memset(&o, 0, sizeof o);
    o.port = 8080;
    long v = 0, drain = 10000;
    int c;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_LISTEN:
            if (parse_listen(optarg, host, sizeof host, &o.port))
                return cli_usage_error("serve", "--listen: '%s', expected HOST:PORT", optarg);
            break;
        case OPT_THREADS:
            if (cli_parse_long("serve", "--threads", optarg, 1, 1024, &v)) return CLI_USAGE;
            o.threads = (int)v;
            break;
        case OPT_MAX_BODY:
            if (cli_parse_long("serve", "--max-body", optarg, 1024, 1L << 30, &v)) return CLI_USAGE;
            o.max_body = (size_t)v;
            break;
        case OPT_MAX_ITEMS:
            if (cli_parse_long("serve", "--max-items", optarg, 1, 1000000, &v)) return CLI_USAGE;
            o.max_items = (size_t)v;
            break;
        case OPT_MAX_HORIZON:
            if (cli_parse_long("serve", "--max-horizon", optarg, 1, 1000000, &v)) return CLI_USAGE;
            o.max_horizon = (size_t)v;
            break;
        case OPT_CAPQ:
            if (cli_parse_long("serve", "--capture-queue", optarg, 1, 100000000, &v))
                return CLI_USAGE;
            o.capture_queue = (size_t)v;
            break;
        case OPT_DRAIN:
            if (cli_parse_long("serve", "--drain-ms", optarg, 0, 3600000, &drain)) return CLI_USAGE;
            break;
        case OPT_ACCESS:
            o.access_log = 1;
            break;
        case OPT_WORKERS:
            if (cli_parse_long("serve", "--workers", optarg, 1, 256, &v)) return CLI_USAGE;
            o.workers = (int)v;
            break;
        case OPT_PIPELINE_WORKERS:
            if (cli_parse_long("serve", "--pipeline-workers", optarg, 0, 64, &v)) return CLI_USAGE;
            o.pipeline_workers = v ? (int)v : -1;
            break;
        case CLI_OPT_PROJECT:
            project = optarg;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return CLI_OK;
        default:
            return cli_usage_error("serve", "unknown or incomplete option");
        }
    }
    if (argc != optind) return cli_usage_error("serve", "takes no arguments, only options");
    o.host = host;
    if (test_hooks(&o)) return CLI_USAGE;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    tsl_project *p = NULL;
    int rc = cli_project_open(project, &p);
    if (rc) return rc;
    tsl_diag d = {TSL_OK, {0}};
    tsl_daemon *dm = NULL;
    if (tsl_daemon_start(p, &o, &dm, &d)) {
        tsl_project_free(p);
        return cli_fail("%s", tsl_diag_msg(&d));
    }
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig)) continue;
        if (sig == SIGHUP) {
            tsl_diag rd = {TSL_OK, {0}};
            if (tsl_daemon_reload(dm, &rd))
                tsl_daemon_log(stderr, "error", "SIGHUP: the configuration was not reloaded",
                               "{s:s}", "error", tsl_diag_msg(&rd));
            continue;
        }
        tsl_daemon_log(stderr, "info", "signal received", "{s:s}", "signal",
                       sig == SIGTERM ? "SIGTERM" : "SIGINT");
        break;
    }
    if (tsl_daemon_stop(dm, (int)drain, &d)) rc = cli_fail("%s", tsl_diag_msg(&d));
    tsl_project_free(p);
    return rc;
}
