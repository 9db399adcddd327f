/*
 * text.c - quoting untrusted text for messages, UTF-8 validation (see text.h).
 */
#include "core/text.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Characters of the source shown before the quote is cut. */
#define QUOTE_SHOWN 40

/* Length of the well-formed UTF-8 sequence at p (at most n bytes available), or 0 when the
 * bytes there are not one. The ranges of the second byte exclude overlong forms, UTF-16
 * surrogates and code points past U+10FFFF, as RFC 3629 requires. */
static size_t utf8_seq(const unsigned char *p, size_t n) {
    unsigned char b = p[0];
    if (b < 0x80) return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
        len = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
        len = 3;
        if (b == 0xE0) lo = 0xA0;
        if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        len = 4;
        if (b == 0xF0) lo = 0x90;
        if (b == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    if (n < len) return 0;
    if (p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xBF) return 0;
    return len;
}

int tsl_text_utf8_valid(const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        /* Item ids are nearly always ASCII: skip eight such bytes at a time. */
        if (len - i >= 8) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (!(w & 0x8080808080808080ULL)) {
                i += 8;
                continue;
            }
        }
        size_t k = utf8_seq(p + i, len - i);
        if (!k) return 0;
        i += k;
    }
    return 1;
}

const char *tsl_text_quote(char *buf, size_t cap, const char *s, size_t len) {
    assert(cap >= 16);
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0, shown = 0, i = 0;
    /* Room kept at the end for the "..." marker, the closing quote and the NUL. */
    size_t limit = cap - 6;
    buf[o++] = '"';
    while (i < len) {
        char esc[8];
        size_t elen, k = 1;
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            elen = 2;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            esc[0] = '\\';
            esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
            elen = 2;
        } else if (c >= 0x20 && c < 0x7F) {
            esc[0] = (char)c;
            elen = 1;
        } else if (c >= 0x80 && (k = utf8_seq(p + i, len - i)) > 0) {
            memcpy(esc, p + i, k);
            elen = k;
        } else {
            k = 1;
            snprintf(esc, sizeof esc, "\\x%02X", c);
            elen = 4;
        }
        if (shown == QUOTE_SHOWN || o + elen > limit) break;
        memcpy(buf + o, esc, elen);
        o += elen;
        i += k;
        shown++;
    }
    if (i < len) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

int tsl_text_ieq(const char *a, const char *b) {
    for (;; a++, b++) {
        unsigned char x = (unsigned char)*a, y = (unsigned char)*b;
        if (x >= 'A' && x <= 'Z') x = (unsigned char)(x + 32);
        if (y >= 'A' && y <= 'Z') y = (unsigned char)(y + 32);
        if (x != y) return 0;
        if (!x) return 1;
    }
}
