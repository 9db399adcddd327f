/*
 * buf.h - growable byte buffers for output, and bounds-checked readers for binary input.
 *
 * tsl_wbuf appends bytes, text and little-endian binary fields; it grows through tsl_realloc
 * and so never fails. tsl_rbuf reads the same fields back with a sticky error flag: a read past
 * the end returns zero and marks the reader failed, so a decoder makes all its reads and checks
 * tsl_rbuf_ok() once, instead of testing every field. Binary fields are fixed-width little
 * endian whatever the host, so serialized models move between machines.
 */
#ifndef TSLOOP_BUF_H
#define TSLOOP_BUF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tsl_wbuf {
    uint8_t *data;
    size_t len;
    size_t cap;
} tsl_wbuf;

void tsl_wbuf_init(tsl_wbuf *b);
void tsl_wbuf_release(tsl_wbuf *b); /* frees the bytes; the struct may be reused after init */
void tsl_wbuf_reset(tsl_wbuf *b);   /* len = 0, keeps the allocation */
void tsl_wbuf_reserve(tsl_wbuf *b, size_t extra);
void tsl_wbuf_put(tsl_wbuf *b, const void *p, size_t n);
void tsl_wbuf_putc(tsl_wbuf *b, char c);
void tsl_wbuf_puts(tsl_wbuf *b, const char *s);
void tsl_wbuf_printf(tsl_wbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends a NUL without counting it in len, so data can be used as a C string. */
const char *tsl_wbuf_cstr(tsl_wbuf *b);

void tsl_wbuf_put_u8(tsl_wbuf *b, uint8_t v);
void tsl_wbuf_put_u16(tsl_wbuf *b, uint16_t v);
void tsl_wbuf_put_u32(tsl_wbuf *b, uint32_t v);
void tsl_wbuf_put_u64(tsl_wbuf *b, uint64_t v);
void tsl_wbuf_put_i32(tsl_wbuf *b, int32_t v);
void tsl_wbuf_put_i64(tsl_wbuf *b, int64_t v);
void tsl_wbuf_put_f64(tsl_wbuf *b, double v);
void tsl_wbuf_put_f64s(tsl_wbuf *b, const double *v, size_t n); /* n values, no count */
void tsl_wbuf_put_str(tsl_wbuf *b, const char *s);              /* u32 length + bytes */

typedef struct tsl_rbuf {
    const uint8_t *data;
    size_t len;
    size_t pos;
    int failed;
} tsl_rbuf;

void tsl_rbuf_init(tsl_rbuf *r, const void *data, size_t len);
int tsl_rbuf_ok(const tsl_rbuf *r); /* 1 while no read has overrun */
size_t tsl_rbuf_left(const tsl_rbuf *r);
/* Marks the reader failed, e.g. when a decoded value is out of its valid range. */
void tsl_rbuf_fail(tsl_rbuf *r);
uint8_t tsl_rbuf_u8(tsl_rbuf *r);
uint16_t tsl_rbuf_u16(tsl_rbuf *r);
uint32_t tsl_rbuf_u32(tsl_rbuf *r);
uint64_t tsl_rbuf_u64(tsl_rbuf *r);
int32_t tsl_rbuf_i32(tsl_rbuf *r);
int64_t tsl_rbuf_i64(tsl_rbuf *r);
double tsl_rbuf_f64(tsl_rbuf *r);
void tsl_rbuf_f64s(tsl_rbuf *r, double *out, size_t n);
/* Reads a tsl_wbuf_put_str string into out (capacity cap, always terminated); fails the reader
 * when it does not fit. */
void tsl_rbuf_str(tsl_rbuf *r, char *out, size_t cap);
const void *tsl_rbuf_bytes(tsl_rbuf *r, size_t n); /* pointer into data, NULL on overrun */

/* CRC-32 (ISO-HDLC, as zlib and gzip compute it) of n bytes, continuing from crc (0 to start). */
uint32_t tsl_crc32(uint32_t crc, const void *data, size_t n);

#ifdef __cplusplus
}
#endif
#endif
