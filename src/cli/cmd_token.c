/*
 * cmd_token.c - `tsloop token create|list|revoke`: the API's bearer tokens.
 *
 * A token is printed once, by create, and never again: the store keeps only its hash. Run on
 * the machine that holds the store, this command is how the first admin token comes to exist
 * (the API cannot make one without a token).
 */
#include <getopt.h>
#include <jansson.h>
#include <string.h>

#include "cli/cli.h"
#include "tsloop/mem.h"
#include "tsloop/project.h"
#include "tsloop/store.h"

static const char usage_text[] =
    "usage: tsloop token create --name NAME --role reader|writer|approver|admin [--json]\n"
    "       tsloop token list [--json]\n"
    "       tsloop token revoke NAME\n"
    "\n"
    "Bearer tokens for the HTTP API (tsloop serve). create prints the new token once: keep\n"
    "it, it cannot be shown again (only its hash is stored). Roles, each allowed what the\n"
    "ones before it are: reader (forecasts, listings), writer (ingest, start runs), approver\n"
    "(approve, reject, deploy), admin (everything). Revoked tokens stop working at once.\n"
    "\n"
    "      --name NAME      create: the token's name (letters, digits, _ . -)\n"
    "      --role ROLE      create: its role\n"
    "      --project DIR    the project's directory, instead of searching upwards\n"
    "      --json           JSON on stdout\n"
    "  -h, --help           this help\n";

enum { OPT_NAME = CLI_OPT_OWN, OPT_ROLE };

static const struct option long_opts[] = {{"name", required_argument, NULL, OPT_NAME},
                                          {"role", required_argument, NULL, OPT_ROLE},
                                          {"project", required_argument, NULL, CLI_OPT_PROJECT},
                                          {"json", no_argument, NULL, CLI_OPT_JSON},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};

int cmd_token(int argc, char **argv) {
    static const char *const subs[] = {"create", "list", "revoke"};
    int sub = cli_subcommand("token", argc, argv, subs, 3, usage_text);
    if (sub == -2) return CLI_OK;
    if (sub < 0) return CLI_USAGE;
    const char *project = NULL, *name = NULL, *role_text = NULL;
    int json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "h", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_NAME:
            name = optarg;
            break;
        case OPT_ROLE:
            role_text = optarg;
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
            return cli_usage_error("token", "unknown or incomplete option");
        }
    }
    int nargs = argc - 1 - optind;
    char **args = argv + 1 + optind;
    tsl_diag d = {TSL_OK, {0}};
    tsl_role role = TSL_ROLE_READER;
    if (sub == 0) {
        if (nargs) return cli_usage_error("token", "create takes --name and --role, no arguments");
        if (!name || !role_text) return cli_usage_error("token", "create needs --name and --role");
        if (tsl_role_parse(role_text, &role, &d))
            return cli_usage_error("token", "--role: %s", tsl_diag_msg(&d));
    } else if (nargs != (sub == 2 ? 1 : 0)) {
        return cli_usage_error("token", "%s",
                               sub == 2 ? "revoke takes a NAME" : "list takes no argument");
    }
    tsl_project *p = NULL;
    tsl_store *s = NULL;
    int rc = cli_open(project, &p, &s);
    if (rc) return rc;
    if (sub == 0) {
        char token[TSL_TOKEN_CHARS + 1];
        if (tsl_store_token_create(s, name, role, cli_who(), token, NULL, &d)) {
            rc = cli_fail("%s", tsl_diag_msg(&d));
        } else if (json) {
            cli_json_print(json_pack("{s:s, s:s, s:s}", "name", name, "role", tsl_role_name(role),
                                     "token", token));
        } else {
            printf("%s\n", token);
            fprintf(stderr,
                    "tsloop: token '%s' (%s) created; it is shown only this once. Send it as\n"
                    "        Authorization: Bearer <token>\n",
                    name, tsl_role_name(role));
        }
    } else if (sub == 1) {
        tsl_store_token *v = NULL;
        size_t n = 0;
        if (tsl_store_token_list(s, &v, &n, &d)) {
            rc = cli_fail("%s", tsl_diag_msg(&d));
        } else {
            json_t *arr = json ? json_array() : NULL;
            if (!json)
                printf("%-24s %-9s %-20s %-16s %s\n", "name", "role", "created", "who", "revoked");
            for (size_t i = 0; i < n; i++) {
                char at[40], rev[40];
                cli_format_ms(v[i].created_ms, at, sizeof at);
                cli_format_ms(v[i].revoked_ms, rev, sizeof rev);
                if (json)
                    json_array_append_new(
                        arr, json_pack("{s:s, s:s, s:s, s:s, s:s?}", "name", v[i].name, "role",
                                       tsl_role_name(v[i].role), "created", at, "who", v[i].who,
                                       "revoked", v[i].revoked_ms ? rev : NULL));
                else
                    printf("%-24s %-9s %-20s %-16s %s\n", v[i].name, tsl_role_name(v[i].role), at,
                           v[i].who, rev);
            }
            if (json)
                cli_json_print(arr);
            else if (!n)
                printf("(no tokens: tsloop token create --name NAME --role ROLE)\n");
            tsl_store_token_list_free(v, n);
        }
    } else {
        if (tsl_store_token_revoke(s, args[0], cli_who(), &d))
            rc = cli_fail("%s", tsl_diag_msg(&d));
        else
            printf("revoked token '%s'\n", args[0]);
    }
    tsl_store_close(s);
    tsl_project_free(p);
    return rc;
}
