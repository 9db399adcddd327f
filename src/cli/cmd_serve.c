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
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "tsloop/config.h"
#include "tsloop/daemon.h"
#include "tsloop/mem.h"
#include "tsloop/project.h"

static const char usage_text[] =
    "usage: tsloop serve [--listen HOST:PORT] [--threads N] [options]\n"
    "\n"
    "Serves forecasts from every deployed endpoint over HTTP (docs/api.md), following the\n"
    "store: a new deployment or new observations are picked up within a second, without a\n"
    "restart. Every forecast served is captured in the store. Runs the project's schedules\n"
    "(one daemon per project does), requested training executions and asynchronous jobs.\n"
    "Logs are JSON lines on stderr. Options default to tsloop.yaml's server: section, then\n"
    "to the values below; a flag overrides the section.\n"
    "SIGTERM or SIGINT stops it gracefully: no new connections, requests in flight finish,\n"
    "queued captures are written, exit 0. SIGHUP reloads tsloop.yaml (endpoint rules,\n"
    "schedules, the caps of the server: section).\n"
    "\n"
    "      --listen HOST:PORT  address to listen on (default 127.0.0.1:8080; port 0: any free\n"
    "                          port, logged); IPv4, or IPv6 as [::1]:8080\n"
    "      --tls-cert FILE     PEM certificate: serve HTTPS (with --tls-key)\n"
    "      --tls-key FILE      PEM private key\n"
    "      --output-dir DIR    where job results and scheduled forecasts are written (default\n"
    "                          .tsloop/outputs)\n"
    "      --max-header BYTES  memory of a connection for headers and buffers (default 65536)\n"
    "      --request-time S    a request taking longer is cut with 408 (default 60)\n"
    "      --idle-timeout S    a silent connection is closed (default 30)\n"
    "      --threads N         HTTP worker threads (default: the number of cores)\n"
    "      --max-body BYTES    largest request body (default 1048576)\n"
    "      --max-ingest BYTES  largest ingest body, streamed to a file (default 268435456)\n"
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
    OPT_MAX_INGEST,
    OPT_PIPELINE_WORKERS,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_OUTPUT_DIR,
    OPT_MAX_HEADER,
    OPT_REQUEST_TIME,
    OPT_IDLE_TIMEOUT
};

static const struct option long_opts[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"max-body", required_argument, NULL, OPT_MAX_BODY},
    {"max-ingest", required_argument, NULL, OPT_MAX_INGEST},
    {"max-items", required_argument, NULL, OPT_MAX_ITEMS},
    {"max-horizon", required_argument, NULL, OPT_MAX_HORIZON},
    {"capture-queue", required_argument, NULL, OPT_CAPQ},
    {"drain-ms", required_argument, NULL, OPT_DRAIN},
    {"access-log", no_argument, NULL, OPT_ACCESS},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {"pipeline-workers", required_argument, NULL, OPT_PIPELINE_WORKERS},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"output-dir", required_argument, NULL, OPT_OUTPUT_DIR},
    {"max-header", required_argument, NULL, OPT_MAX_HEADER},
    {"request-time", required_argument, NULL, OPT_REQUEST_TIME},
    {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
    {"project", required_argument, NULL, CLI_OPT_PROJECT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

/* Makes path absolute against the working directory into buf (cap bytes); *out points to the
 * result. -1 when it does not fit. */
static int absolute(const char *path, char *buf, size_t cap, const char **out) {
    if (path[0] == '/') return 0;
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) return -1;
    int n = snprintf(buf, cap, "%s/%s", cwd, path);
    if (n < 0 || (size_t)n >= cap) return -1;
    *out = buf;
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
    char host[TSL_CONFIG_MAX_HOST] = "";
    tsl_daemon_opts o;
    memset(&o, 0, sizeof o);
    long v = 0, drain = 10000;
    int c;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_LISTEN: {
            tsl_diag ld = {TSL_OK, {0}};
            if (tsl_config_listen_parse(optarg, host, sizeof host, &o.port, &ld))
                return cli_usage_error("serve", "--listen: %s", tsl_diag_msg(&ld));
            break;
        }
        case OPT_TLS_CERT:
            o.tls_cert = optarg;
            break;
        case OPT_TLS_KEY:
            o.tls_key = optarg;
            break;
        case OPT_OUTPUT_DIR:
            o.output_dir = optarg;
            break;
        case OPT_MAX_HEADER:
            if (cli_parse_long("serve", "--max-header", optarg, 4096, 1L << 24, &v))
                return CLI_USAGE;
            o.max_header = (size_t)v;
            break;
        case OPT_REQUEST_TIME:
            if (cli_parse_long("serve", "--request-time", optarg, 1, 86400, &v)) return CLI_USAGE;
            o.request_time_s = (int)v;
            break;
        case OPT_IDLE_TIMEOUT:
            if (cli_parse_long("serve", "--idle-timeout", optarg, 1, 86400, &v)) return CLI_USAGE;
            o.request_timeout_s = (int)v;
            break;
        case OPT_THREADS:
            if (cli_parse_long("serve", "--threads", optarg, 1, 1024, &v)) return CLI_USAGE;
            o.threads = (int)v;
            break;
        case OPT_MAX_BODY:
            if (cli_parse_long("serve", "--max-body", optarg, 1024, 1L << 30, &v)) return CLI_USAGE;
            o.max_body = (size_t)v;
            break;
        case OPT_MAX_INGEST:
            if (cli_parse_long("serve", "--max-ingest", optarg, 1, 1L << 40, &v)) return CLI_USAGE;
            o.max_ingest = (size_t)v;
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
    if (host[0]) o.host = host;
    if (!o.tls_cert != !o.tls_key)
        return cli_usage_error("serve", "--tls-cert and --tls-key go together");
    /* Paths given as flags are the user's, relative to the working directory; the daemon
     * resolves the rest against the project's root. */
    char cert[PATH_MAX], key[PATH_MAX], outdir[PATH_MAX];
    if ((o.tls_cert && absolute(o.tls_cert, cert, sizeof cert, &o.tls_cert)) ||
        (o.tls_key && absolute(o.tls_key, key, sizeof key, &o.tls_key)) ||
        (o.output_dir && absolute(o.output_dir, outdir, sizeof outdir, &o.output_dir)))
        return cli_usage_error("serve", "a path is too long");
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
