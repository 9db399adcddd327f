/*
 * mem.c - the abort-on-out-of-memory allocation wrappers.
 */
#include "tsloop/mem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Noreturn void tsl_oom(size_t size) {
    fprintf(stderr, "tsloop: out of memory (%zu bytes)\n", size);
    abort();
}

void *tsl_malloc(size_t size) {
    void *p = malloc(size ? size : 1);
    if (!p) tsl_oom(size);
    return p;
}

void *tsl_calloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) tsl_oom(n * size);
    return p;
}

void *tsl_realloc(void *p, size_t size) {
    void *q = realloc(p, size ? size : 1);
    if (!q) tsl_oom(size);
    return q;
}

void *tsl_reallocarray(void *p, size_t n, size_t size) {
    if (size && n > SIZE_MAX / size) tsl_oom(SIZE_MAX);
    return tsl_realloc(p, n * size);
}

char *tsl_strdup(const char *s) {
    size_t n = strlen(s);
    char *d = tsl_malloc(n + 1);
    memcpy(d, s, n + 1);
    return d;
}

char *tsl_strndup(const char *s, size_t n) {
    size_t len = 0;
    while (len < n && s[len]) len++;
    char *d = tsl_malloc(len + 1);
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

void tsl_free(void *p) {
    free(p);
}

size_t tsl_strlcpy(char *dst, const char *src, size_t cap) {
    size_t n = strlen(src);
    if (cap) {
        size_t c = n < cap - 1 ? n : cap - 1;
        memcpy(dst, src, c);
        dst[c] = '\0';
    }
    return n;
}
