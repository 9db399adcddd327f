/*
 * err.h - the one error enum of tsloop, and the diagnostic that carries its message.
 *
 * Every fallible function returns a tsl_err and writes its results through out-parameters.
 * The human-readable detail (which file, line, column, what was expected) travels in a
 * tsl_diag: handles embed one, stateless functions take one as their last argument. A NULL
 * diag is allowed everywhere: the code still comes back, only the message is dropped.
 */
#ifndef TSLOOP_ERR_H
#define TSLOOP_ERR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tsl_err {
    TSL_OK = 0,
    TSL_EINVAL,       /* an argument or option is invalid */
    TSL_EIO,          /* a file could not be opened, read or written */
    TSL_EPARSE,       /* input data is malformed */
    TSL_ELIMIT,       /* a size cap was exceeded */
    TSL_ECORRUPT,     /* serialized data failed its checksum or structure checks */
    TSL_EVERSION,     /* serialized data of an unknown format version */
    TSL_ESHORT,       /* the series is too short for what was asked */
    TSL_ENUMERIC,     /* a numerical failure: no admissible fit, non-finite result */
    TSL_EUNSUPPORTED, /* a valid request this build or model cannot serve */
    TSL_EINTERNAL,    /* a bug: an invariant did not hold */
    TSL_ENOTFOUND,    /* a named thing (data set, model version, execution) does not exist */
    TSL_ECONFLICT,    /* the request conflicts with the current state (a status transition,
                         a name taken, an execution owned by another worker) */
    TSL_EBUSY,        /* the store stayed locked by others past the busy timeout */
    TSL_ERR_COUNT
} tsl_err;

#define TSL_DIAG_MAX 512

/* A code plus the message explaining it. Embedded in handles; zero-initialised is "no error". */
typedef struct tsl_diag {
    tsl_err code;
    char msg[TSL_DIAG_MAX];
} tsl_diag;

/* Static, one-line description of a code ("malformed input"). Never NULL. */
const char *tsl_err_str(tsl_err code);

/* Records code and a printf-style message in d (which may be NULL) and returns code, so that
 * fallible functions can `return tsl_diag_set(d, TSL_EPARSE, "...")`. */
tsl_err tsl_diag_set(tsl_diag *d, tsl_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes the existing message with a printf-style context ("reading x.csv: "). Keeps code. */
void tsl_diag_prefix(tsl_diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Resets d to "no error". NULL is a no-op. */
void tsl_diag_clear(tsl_diag *d);

/* The message if one was set, else the code's description. */
const char *tsl_diag_msg(const tsl_diag *d);

#ifdef __cplusplus
}
#endif
#endif
