/*
 * cmd_init.c - `tsloop init [DIR]`: a new project, a commented tsloop.yaml and .tsloop/.
 */
#include <getopt.h>
#include <string.h>

#include "cli/cli.h"
#include "tsloop/mem.h"
#include "tsloop/project.h"

static const char usage_text[] =
    "usage: tsloop init [DIR] [--name NAME] [--force]\n"
    "\n"
    "Makes DIR (default: the current directory; created when missing) a tsloop project:\n"
    "writes tsloop.yaml, a commented configuration with one dataset and one forecaster to\n"
    "edit, and the data directory .tsloop/ (the embedded store; ignored by git). Commands run\n"
    "in DIR or below it find the project from there (or take --project DIR).\n"
    "\n"
    "      --name NAME   the project's name (default: from the directory's name)\n"
    "      --force       overwrite an existing tsloop.yaml (.tsloop/ and its data are kept)\n"
    "  -h, --help        this help\n"
    "\n"
    "example: tsloop init shop && cd shop && tsloop config\n";

enum { OPT_NAME = CLI_OPT_OWN, OPT_FORCE };

static const struct option long_opts[] = {{"name", required_argument, NULL, OPT_NAME},
                                          {"force", no_argument, NULL, OPT_FORCE},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};

int cmd_init(int argc, char **argv) {
    const char *name = NULL, *dir = NULL;
    int force = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_NAME:
            name = optarg;
            break;
        case OPT_FORCE:
            force = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return CLI_OK;
        default:
            return cli_usage_error("init", "unknown or incomplete option");
        }
    }
    if (optind < argc) dir = argv[optind++];
    if (optind < argc) return cli_usage_error("init", "unexpected argument '%s'", argv[optind]);
    if (name && !tsl_config_name_valid(name))
        return cli_usage_error("init",
                               "--name '%s' is not a valid name, expected letters, digits, '_', "
                               "'.' or '-', starting with a letter or digit, at most %d "
                               "characters",
                               name, TSL_CONFIG_MAX_NAME);
    char *path = NULL;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_project_init(dir, name, force, &path, &d)) return cli_fail("%s", tsl_diag_msg(&d));
    size_t root_len = strlen(path) - strlen(TSL_PROJECT_CONFIG) - 1; /* without "/" */
    printf("Initialised a tsloop project in %.*s\n"
           "  %-12s the configuration: edit it (docs/config.md), check it with `tsloop config`\n"
           "  %-12s the data directory (the store; ignored by git)\n",
           (int)(root_len ? root_len : 1), path, TSL_PROJECT_CONFIG, TSL_PROJECT_DATA_DIR "/");
    tsl_free(path);
    return CLI_OK;
}
