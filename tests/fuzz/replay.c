/*
 * replay.c - runs every file of a fuzz corpus through a target's LLVMFuzzerTestOneInput, so
 * the corpus is a regression test in every build (ctest fuzz.<name>), sanitizers included.
 *
 *   replay_<name> DIR
 *
 * Exits 0 when every input ran, 1 when DIR is missing, unreadable or holds no file (a typo
 * in a path must not pass as an empty success). A crash is the target's: it aborts.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsloop/err.h"
#include "tsloop/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads path whole into *data (the caller frees it) and *len. */
static tsl_err slurp(const char *path, uint8_t **data, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return TSL_EIO;
    size_t cap = 4096, n = 0;
    uint8_t *buf = tsl_malloc(cap);
    for (;;) {
        if (n == cap) buf = tsl_realloc(buf, cap *= 2);
        size_t got = fread(buf + n, 1, cap - n, f);
        if (got == 0) break;
        n += got;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        tsl_free(buf);
        return TSL_EIO;
    }
    *data = buf;
    *len = n;
    return TSL_OK;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 1;
    }
    DIR *dir = opendir(argv[1]);
    if (!dir) {
        fprintf(stderr, "replay: cannot open %s\n", argv[1]);
        return 1;
    }
    size_t ran = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", argv[1], e->d_name) >= sizeof path) {
            fprintf(stderr, "replay: path too long: %s\n", e->d_name);
            rc = 1;
            continue;
        }
        uint8_t *data;
        size_t len;
        if (slurp(path, &data, &len)) {
            fprintf(stderr, "replay: cannot read %s\n", path);
            rc = 1;
            continue;
        }
        LLVMFuzzerTestOneInput(data, len);
        tsl_free(data);
        ran++;
    }
    closedir(dir);
    if (ran == 0) {
        fprintf(stderr, "replay: %s holds no inputs\n", argv[1]);
        return 1;
    }
    printf("replay: %zu inputs from %s\n", ran, argv[1]);
    return rc;
}
