/*
 * fuzz_spec.c - libFuzzer target for model names as the CLI takes them (tsl_model_spec_parse).
 * The first byte picks the seasonal period (1, 4, 7, 12, 24, 52, 168 or 400); the rest, up to
 * 127 bytes, is the name. A name that parses must format to a canonical text that parses back
 * to the same spec; a refused name must come with a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tsloop/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const int periods[8] = {1, 4, 7, 12, 24, 52, 168, 400};
    if (size < 1) return 0;
    int period = periods[data[0] & 7];
    char name[128];
    size_t n = size - 1 < sizeof name - 1 ? size - 1 : sizeof name - 1;
    memcpy(name, data + 1, n);
    name[n] = '\0';
    tsl_model_spec a, b;
    tsl_diag d = {0};
    if (tsl_model_spec_parse(name, period, &a, &d) != TSL_OK) {
        if (!d.msg[0]) abort();
        return 0;
    }
    char text[128];
    size_t len = tsl_model_spec_format(&a, text, sizeof text);
    if (len == 0 || len >= sizeof text) abort();
    if (tsl_model_spec_parse(text, period, &b, &d) != TSL_OK) abort();
    if (memcmp(&a, &b, sizeof a) != 0) abort();
    return 0;
}
