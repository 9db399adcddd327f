/*
 * err.c - messages for tsl_err codes and the tsl_diag helpers.
 *
 * Messages are truncated at TSL_DIAG_MAX bytes; a truncated message still ends in NUL.
 */
#include "tsloop/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const err_text[TSL_ERR_COUNT] = {
    [TSL_OK] = "success",
    [TSL_EINVAL] = "invalid argument",
    [TSL_EIO] = "input/output error",
    [TSL_EPARSE] = "malformed input",
    [TSL_ELIMIT] = "size limit exceeded",
    [TSL_ECORRUPT] = "corrupt data",
    [TSL_EVERSION] = "unsupported format version",
    [TSL_ESHORT] = "series too short",
    [TSL_ENUMERIC] = "numerical failure",
    [TSL_EUNSUPPORTED] = "unsupported",
    [TSL_EINTERNAL] = "internal error",
    [TSL_ENOTFOUND] = "not found",
    [TSL_ECONFLICT] = "conflicts with the current state",
    [TSL_EBUSY] = "store busy",
};

const char *tsl_err_str(tsl_err code) {
    if ((unsigned)code >= TSL_ERR_COUNT) return "unknown error";
    return err_text[code];
}

tsl_err tsl_diag_set(tsl_diag *d, tsl_err code, const char *fmt, ...) {
    if (!d) return code;
    d->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->msg, sizeof d->msg, fmt, ap);
    va_end(ap);
    return code;
}

void tsl_diag_prefix(tsl_diag *d, const char *fmt, ...) {
    if (!d) return;
    char head[TSL_DIAG_MAX];
    char old[TSL_DIAG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, d->msg, sizeof old);
    old[sizeof old - 1] = '\0';
    const char *tail = old[0] ? old : tsl_err_str(d->code);
    /* head + tail, truncated to the message buffer. */
    size_t hl = strlen(head), tl = strlen(tail), cap = sizeof d->msg - 1;
    if (hl > cap) hl = cap;
    if (tl > cap - hl) tl = cap - hl;
    memcpy(d->msg, head, hl);
    memcpy(d->msg + hl, tail, tl);
    d->msg[hl + tl] = '\0';
}

void tsl_diag_clear(tsl_diag *d) {
    if (!d) return;
    d->code = TSL_OK;
    d->msg[0] = '\0';
}

const char *tsl_diag_msg(const tsl_diag *d) {
    if (!d) return "";
    return d->msg[0] ? d->msg : tsl_err_str(d->code);
}
