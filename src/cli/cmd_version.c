/*
 * cmd_version.c - `tsloop version`: the program version and the libraries it was built with.
 */
#include <archive.h>
#include <nlopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int cmd_version(int argc, char **argv) {
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: tsloop version [--json]\n\nPrints the version of tsloop and of the "
                   "libraries it uses.\n");
            return CLI_OK;
        }
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else
            return cli_usage_error("version", "unknown option '%s'", argv[i]);
    }
    int maj, min, bug;
    nlopt_version(&maj, &min, &bug);
    if (json)
        printf("{\"tsloop\":\"%s\",\"nlopt\":\"%d.%d.%d\",\"libarchive\":\"%s\"}\n", TSL_VERSION,
               maj, min, bug, archive_version_details());
    else
        printf("tsloop %s (nlopt %d.%d.%d, %s)\n", TSL_VERSION, maj, min, bug,
               archive_version_details());
    return CLI_OK;
}
