/*
 * fuzz_config.c - libFuzzer target for tsloop.yaml. The input is the file, parsed with a
 * fixed environment (A=1, EMPTY="", DOLLAR="x$y", every other variable unset) so that runs
 * replay exactly. A failure must come with a message that starts with the file's name (every
 * message is FILE:LINE:COL or FILE: ...). A success must normalise to a text that parses back
 * to a configuration with the same normalised text and hash, whose forecasters all point at
 * one of its datasets and hash without trouble.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tsloop/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The fixed environment of every run (see the purpose paragraph). */
static const char *fixed_env(void *ctx, const char *name) {
    (void)ctx;
    if (!strcmp(name, "A")) return "1";
    if (!strcmp(name, "EMPTY")) return "";
    if (!strcmp(name, "DOLLAR")) return "x$y";
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tsl_config_opts opts = {fixed_env, NULL};
    tsl_config *cfg = NULL, *back = NULL;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_config_parse((const char *)data, size, "fuzz.yaml", &opts, &cfg, &d) != TSL_OK) {
        if (cfg || strncmp(d.msg, "fuzz.yaml:", 10) != 0) abort();
        return 0;
    }
    tsl_wbuf a, b;
    tsl_wbuf_init(&a);
    tsl_wbuf_init(&b);
    tsl_config_normalize(cfg, &a);
    if (tsl_config_parse((const char *)a.data, a.len, "normalized.yaml", &opts, &back, &d) !=
        TSL_OK)
        abort();
    tsl_config_normalize(back, &b);
    if (a.len != b.len || memcmp(a.data, b.data, a.len)) abort();
    char h1[TSL_CONFIG_HASH_HEX + 1], h2[TSL_CONFIG_HASH_HEX + 1];
    tsl_config_hash(cfg, h1);
    tsl_config_hash(back, h2);
    if (strcmp(h1, h2)) abort();
    for (size_t i = 0; i < cfg->nforecasters; i++) {
        const tsl_config_forecaster *f = &cfg->forecasters[i];
        if (f->dataset_index >= cfg->ndatasets ||
            strcmp(cfg->datasets[f->dataset_index].name, f->dataset) ||
            tsl_config_forecaster_find(cfg, f->name) == NULL)
            abort();
        tsl_config_forecaster_hash(cfg, f, h1);
        const tsl_config_forecaster *g = tsl_config_forecaster_find(back, f->name);
        if (!g) abort();
        tsl_config_forecaster_hash(back, g, h2);
        if (strcmp(h1, h2)) abort();
    }
    tsl_wbuf_release(&a);
    tsl_wbuf_release(&b);
    tsl_config_free(back);
    tsl_config_free(cfg);
    return 0;
}
