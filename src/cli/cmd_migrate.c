/*
 * cmd_migrate.c - `tsloop migrate`: the store's schema migrations, applied and pending.
 *
 * Every other command applies pending migrations when it opens the store, so this command is
 * for looking before that happens (after upgrading tsloop, say) and for applying them
 * deliberately: it opens the store without migrating, lists, and applies only with --apply.
 */
#include <getopt.h>
#include <jansson.h>
#include <string.h>

#include "cli/cli.h"
#include "tsloop/mem.h"
#include "tsloop/project.h"
#include "tsloop/store.h"

static const char usage_text[] =
    "usage: tsloop migrate [--apply] [--project DIR] [--json]\n"
    "\n"
    "Lists the store's schema migrations, each applied (with when) or pending. --apply applies\n"
    "the pending ones, all in one transaction. (Other commands apply them when they open the\n"
    "store; this command only does with --apply.) A store made by a newer tsloop is refused.\n"
    "\n"
    "      --apply          apply the pending migrations\n"
    "      --project DIR    the project's directory, instead of searching upwards\n"
    "      --json           the migrations as JSON on stdout\n"
    "  -h, --help           this help\n";

enum { OPT_APPLY = CLI_OPT_OWN };

static const struct option long_opts[] = {{"apply", no_argument, NULL, OPT_APPLY},
                                          {"project", required_argument, NULL, CLI_OPT_PROJECT},
                                          {"json", no_argument, NULL, CLI_OPT_JSON},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};

int cmd_migrate(int argc, char **argv) {
    const char *project = NULL;
    int json = 0, apply = 0, c, rc = CLI_OK;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_APPLY:
            apply = 1;
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
            return cli_usage_error("migrate", "unknown or incomplete option");
        }
    }
    if (optind < argc) return cli_usage_error("migrate", "unexpected argument '%s'", argv[optind]);
    tsl_project *p = NULL;
    tsl_store *s = NULL;
    tsl_store_migration *m = NULL;
    size_t n = 0;
    int applied = 0;
    tsl_diag d = {TSL_OK, {0}};
    if ((rc = cli_project_open(project, &p))) return rc;
    tsl_store_opts so;
    memset(&so, 0, sizeof so);
    so.no_migrate = 1;
    if ((rc = cli_store_open(p, &so, &s))) goto out;
    if (apply && tsl_store_migrate(s, &applied, &d)) {
        rc = cli_fail("%s", tsl_diag_msg(&d));
        goto out;
    }
    if (tsl_store_migrations(s, &m, &n, &d)) {
        rc = cli_fail("%s", tsl_diag_msg(&d));
        goto out;
    }
    int current = 0;
    size_t pending = 0;
    for (size_t i = 0; i < n; i++) {
        if (m[i].applied) current = m[i].version;
        pending += !m[i].applied;
    }
    if (json) {
        json_t *root = json_object(), *arr = json_array();
        json_object_set_new(root, "store", json_string(tsl_store_location(s)));
        json_object_set_new(root, "schema_version", json_integer(current));
        json_object_set_new(root, "applied_now", json_integer(applied));
        json_object_set_new(root, "pending", json_integer((json_int_t)pending));
        for (size_t i = 0; i < n; i++) {
            char at[40];
            cli_format_ms(m[i].applied_ms, at, sizeof at);
            json_array_append_new(arr, json_pack("{s:i, s:s, s:s, s:s*}", "version", m[i].version,
                                                 "description", m[i].description, "status",
                                                 m[i].applied ? "applied" : "pending", "applied_at",
                                                 m[i].applied ? at : NULL));
        }
        json_object_set_new(root, "migrations", arr);
        cli_json_print(root);
    } else {
        printf("store %s: schema version %d of %d\n", tsl_store_location(s), current,
               n ? m[n - 1].version : 0);
        printf("%-8s %-8s %-21s %s\n", "version", "status", "applied", "description");
        for (size_t i = 0; i < n; i++) {
            char at[40];
            cli_format_ms(m[i].applied_ms, at, sizeof at);
            printf("%-8d %-8s %-21s %s\n", m[i].version, m[i].applied ? "applied" : "pending",
                   m[i].applied ? at : "-", m[i].description);
        }
        if (apply)
            printf("%s\n", applied ? "applied the pending migrations" : "nothing to apply");
        else if (pending)
            printf("%zu pending: run `tsloop migrate --apply` (any command that opens the store "
                   "also applies them)\n",
                   pending);
    }
out:
    tsl_free(m);
    tsl_store_close(s);
    tsl_project_free(p);
    return rc;
}
