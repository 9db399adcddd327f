/*
 * text.h - small text helpers shared by the core modules (internal, not installed).
 *
 * Error messages quote what the user wrote. That text is untrusted: it may be 64 KiB long,
 * hold control characters or bytes that are not UTF-8, and it ends up in a terminal, a log or
 * a JSON error body. tsl_text_quote makes a short, printable, double-quoted rendering of it.
 */
#ifndef TSLOOP_CORE_TEXT_H
#define TSLOOP_CORE_TEXT_H

#include <stddef.h>

/* Room tsl_text_quote needs for its longest output, terminator included. */
#define TSL_TEXT_QUOTE_CAP 128

/* Writes s[0..len) into buf (capacity cap, at least 16) as a double-quoted string: printable
 * ASCII and valid UTF-8 sequences as they are, '"' and '\\' escaped with a backslash, other
 * bytes as \n, \r, \t or \xNN. Text that does not fit (at most about 40 characters are shown)
 * is cut at a character boundary and ends in "...". Returns buf, for use as a printf argument. */
const char *tsl_text_quote(char *buf, size_t cap, const char *s, size_t len);

/* 1 when s[0..len) is well-formed UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF), else 0. */
int tsl_text_utf8_valid(const char *s, size_t len);

/* ASCII case-insensitive equality of two NUL-terminated strings (locale-independent). */
int tsl_text_ieq(const char *a, const char *b);

#endif
