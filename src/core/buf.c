/*
 * buf.c - growable output buffers and checked binary readers (see buf.h).
 */
#include "tsloop/buf.h"
#include "tsloop/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

void tsl_wbuf_init(tsl_wbuf *b) {
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void tsl_wbuf_release(tsl_wbuf *b) {
    tsl_free(b->data);
    tsl_wbuf_init(b);
}

void tsl_wbuf_reset(tsl_wbuf *b) {
    b->len = 0;
}

void tsl_wbuf_reserve(tsl_wbuf *b, size_t extra) {
    if (extra > SIZE_MAX - b->len - 1) tsl_oom(SIZE_MAX);
    size_t need = b->len + extra + 1; /* +1 keeps room for tsl_wbuf_cstr's NUL */
    if (need <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    b->data = tsl_realloc(b->data, cap);
    b->cap = cap;
}

void tsl_wbuf_put(tsl_wbuf *b, const void *p, size_t n) {
    if (!n) return;
    tsl_wbuf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void tsl_wbuf_putc(tsl_wbuf *b, char c) {
    tsl_wbuf_reserve(b, 1);
    b->data[b->len++] = (uint8_t)c;
}

void tsl_wbuf_puts(tsl_wbuf *b, const char *s) {
    tsl_wbuf_put(b, s, strlen(s));
}

void tsl_wbuf_printf(tsl_wbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        tsl_wbuf_put(b, small, (size_t)n);
        return;
    }
    tsl_wbuf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

const char *tsl_wbuf_cstr(tsl_wbuf *b) {
    tsl_wbuf_reserve(b, 0);
    b->data[b->len] = '\0';
    return (const char *)b->data;
}

void tsl_wbuf_put_u8(tsl_wbuf *b, uint8_t v) {
    tsl_wbuf_put(b, &v, 1);
}

void tsl_wbuf_put_u16(tsl_wbuf *b, uint16_t v) {
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    tsl_wbuf_put(b, x, 2);
}

void tsl_wbuf_put_u32(tsl_wbuf *b, uint32_t v) {
    uint8_t x[4];
    for (int i = 0; i < 4; i++) x[i] = (uint8_t)(v >> (8 * i));
    tsl_wbuf_put(b, x, 4);
}

void tsl_wbuf_put_u64(tsl_wbuf *b, uint64_t v) {
    uint8_t x[8];
    for (int i = 0; i < 8; i++) x[i] = (uint8_t)(v >> (8 * i));
    tsl_wbuf_put(b, x, 8);
}

void tsl_wbuf_put_i32(tsl_wbuf *b, int32_t v) {
    tsl_wbuf_put_u32(b, (uint32_t)v);
}

void tsl_wbuf_put_i64(tsl_wbuf *b, int64_t v) {
    tsl_wbuf_put_u64(b, (uint64_t)v);
}

void tsl_wbuf_put_f64(tsl_wbuf *b, double v) {
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    tsl_wbuf_put_u64(b, u);
}

void tsl_wbuf_put_f64s(tsl_wbuf *b, const double *v, size_t n) {
    tsl_wbuf_reserve(b, n * 8);
    for (size_t i = 0; i < n; i++) tsl_wbuf_put_f64(b, v[i]);
}

void tsl_wbuf_put_str(tsl_wbuf *b, const char *s) {
    size_t n = strlen(s);
    tsl_wbuf_put_u32(b, (uint32_t)n);
    tsl_wbuf_put(b, s, n);
}

void tsl_rbuf_init(tsl_rbuf *r, const void *data, size_t len) {
    r->data = data;
    r->len = len;
    r->pos = 0;
    r->failed = 0;
}

int tsl_rbuf_ok(const tsl_rbuf *r) {
    return !r->failed;
}

size_t tsl_rbuf_left(const tsl_rbuf *r) {
    return r->failed ? 0 : r->len - r->pos;
}

void tsl_rbuf_fail(tsl_rbuf *r) {
    r->failed = 1;
}

const void *tsl_rbuf_bytes(tsl_rbuf *r, size_t n) {
    if (r->failed || n > r->len - r->pos) {
        r->failed = 1;
        return NULL;
    }
    const void *p = r->data + r->pos;
    r->pos += n;
    return p;
}

static uint64_t rbuf_le(tsl_rbuf *r, int nbytes) {
    const uint8_t *p = tsl_rbuf_bytes(r, (size_t)nbytes);
    if (!p) return 0;
    uint64_t v = 0;
    for (int i = nbytes - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

uint8_t tsl_rbuf_u8(tsl_rbuf *r) {
    return (uint8_t)rbuf_le(r, 1);
}

uint16_t tsl_rbuf_u16(tsl_rbuf *r) {
    return (uint16_t)rbuf_le(r, 2);
}

uint32_t tsl_rbuf_u32(tsl_rbuf *r) {
    return (uint32_t)rbuf_le(r, 4);
}

uint64_t tsl_rbuf_u64(tsl_rbuf *r) {
    return rbuf_le(r, 8);
}

int32_t tsl_rbuf_i32(tsl_rbuf *r) {
    return (int32_t)tsl_rbuf_u32(r);
}

int64_t tsl_rbuf_i64(tsl_rbuf *r) {
    return (int64_t)tsl_rbuf_u64(r);
}

double tsl_rbuf_f64(tsl_rbuf *r) {
    uint64_t u = tsl_rbuf_u64(r);
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

void tsl_rbuf_f64s(tsl_rbuf *r, double *out, size_t n) {
    if (n > tsl_rbuf_left(r) / 8) {
        r->failed = 1;
        for (size_t i = 0; i < n; i++) out[i] = 0.0;
        return;
    }
    for (size_t i = 0; i < n; i++) out[i] = tsl_rbuf_f64(r);
}

void tsl_rbuf_str(tsl_rbuf *r, char *out, size_t cap) {
    uint32_t n = tsl_rbuf_u32(r);
    const char *p = tsl_rbuf_bytes(r, n);
    if (!p || (size_t)n >= cap) {
        r->failed = 1;
        if (cap) out[0] = '\0';
        return;
    }
    memcpy(out, p, n);
    out[n] = '\0';
}

uint32_t tsl_crc32(uint32_t crc, const void *data, size_t n) {
    const Bytef *p = data;
    uLong c = crc;
    while (n) {
        uInt chunk = n > 0x40000000u ? 0x40000000u : (uInt)n;
        c = crc32(c, p, chunk);
        p += chunk;
        n -= chunk;
    }
    return (uint32_t)c;
}
