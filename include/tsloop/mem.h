/*
 * mem.h - allocation that never returns NULL.
 *
 * tsloop treats running out of memory as fatal: every allocation goes through these wrappers,
 * which print one line and abort. Callers therefore never test for NULL, and clean-up paths stay
 * about real errors. Sizes are overflow-checked. tsl_free(NULL) is a no-op, as free's.
 */
#ifndef TSLOOP_MEM_H
#define TSLOOP_MEM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

void *tsl_malloc(size_t size);
void *tsl_calloc(size_t n, size_t size);
void *tsl_realloc(void *p, size_t size);
/* realloc of n elements of size bytes, aborting on multiplication overflow. */
void *tsl_reallocarray(void *p, size_t n, size_t size);
char *tsl_strdup(const char *s);
/* Copies at most n bytes of s and terminates the copy. */
char *tsl_strndup(const char *s, size_t n);
void tsl_free(void *p);

/* Prints "tsloop: out of memory (N bytes)" to stderr and aborts. */
_Noreturn void tsl_oom(size_t size);

/* Copies src into dst of capacity cap, always terminating; returns strlen(src) (truncated when
 * the return value is >= cap). The replacement for strcpy/strncpy. */
size_t tsl_strlcpy(char *dst, const char *src, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
