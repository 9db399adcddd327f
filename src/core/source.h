/*
 * source.h - the bytes of a tabular input, whatever wraps them (internal, not installed).
 *
 * Every input goes through libarchive, so one code path serves a plain file, gzip (detected by
 * its magic, whatever the name), a zip archive (the member TTS.csv, matched case-insensitively
 * in any folder, else the archive's only .csv/.tsv member), memory, and standard input. A zip
 * is read twice: once to list its members and choose, once to read the chosen one. Standard
 * input cannot be rewound, so a zip arriving there is first read into memory (at most
 * TSL_SRC_STDIN_ZIP_MAX bytes); anything else streams.
 */
#ifndef TSLOOP_CORE_SOURCE_H
#define TSLOOP_CORE_SOURCE_H

#include <stddef.h>

#include "tsloop/err.h"

#define TSL_SRC_STDIN_ZIP_MAX ((size_t)1 << 30)

typedef struct tsl_src tsl_src;

/* Opens path ("-" is standard input) and positions it on the data to read. Fails with TSL_EIO
 * when the file cannot be opened or read, TSL_EPARSE when it is empty or a zip without one
 * clear CSV member; the message starts with the name. */
tsl_err tsl_src_open_file(const char *path, tsl_src **out, tsl_diag *d);

/* The same over len bytes at data, which must outlive the source; name is used in messages
 * and for the .tsv test. */
tsl_err tsl_src_open_mem(const char *name, const void *data, size_t len, tsl_src **out,
                         tsl_diag *d);

/* Reads up to cap decompressed bytes into buf; *got is 0 at the end. */
tsl_err tsl_src_read(tsl_src *s, void *buf, size_t cap, size_t *got, tsl_diag *d);

/* The name for messages: the path, "<stdin>", or "archive.zip!folder/TTS.csv". */
const char *tsl_src_name(const tsl_src *s);

/* 1 when the data's own name (the member, or the path without .gz) ends in .tsv. */
int tsl_src_is_tsv(const tsl_src *s);

void tsl_src_close(tsl_src *s);

#endif
