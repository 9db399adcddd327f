/*
 * ingest.h - ingesting a file into a project's data set as tsloop.yaml declares it.
 *
 * The store upserts rows (store.h); this layer adds what the project's configuration says
 * about the data set: which columns hold the item, the timestamp and the target, the
 * dimensions every file must bring, the frequency the data set is created with, and whether
 * the target may be negative. It also keeps a promise the store alone cannot: a file that is
 * not usable at all - unreadable, a header without the declared columns, not one row that can
 * be stored - changes nothing, not even by creating the data set or recording an ingest; the
 * message says what was wrong and where. A file with some bad rows is ingested with those rows
 * rejected, each with its line and reason, in the receipt.
 */
#ifndef TSLOOP_INGEST_H
#define TSLOOP_INGEST_H

#include <stdint.h>

#include "tsloop/config.h"
#include "tsloop/err.h"
#include "tsloop/store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tsl_ingest_opts {
    const char *who;      /* recorded with the ingest; NULL: "" */
    const char *source;   /* recorded as what was ingested; NULL: path */
    const char *name;     /* the file's name in messages; NULL: path */
    const char *origin;   /* "cli", "api", "inbox": the events' "source"; NULL: "cli" */
    const char *file;     /* the events' "file" (the inbox: the file's name); NULL: source */
    uint64_t max_rejects; /* fail (TSL_EPARSE) once more rows than this are rejected; 0: none */
    size_t batch_rows;    /* rows per transaction; 0: the store's default */
    /* Called every 65,536 rows read, and at the end, with the rows read so far. */
    void (*progress)(void *ctx, uint64_t rows);
    void *progress_ctx;
} tsl_ingest_opts;

/* Ingests the file at path ("-": standard input; plain, gzip or a zip holding TTS.csv) into
 * the store's data set ds->name, creating it from the declaration (frequency, dimensions)
 * when it does not exist yet. Columns are found by the declared names; a declared data set's
 * file must hold exactly its declared dimension columns (in any order); with non_negative a
 * negative target is rejected. *receipt (released with tsl_store_receipt_release) is filled
 * on success, and also when the file had rows but none could be stored (TSL_EPARSE, nothing
 * changed: the receipt then has no ingest id). *created (may be NULL) tells whether the data
 * set was created. Errors: TSL_EIO (unreadable), TSL_EPARSE (bad header, no data rows, no
 * usable row, too many rejects), TSL_EINVAL (the file or the store's data set disagrees with
 * the declaration), and the store's. opts may be NULL. */
tsl_err tsl_ingest_file(tsl_store *s, const tsl_config_dataset *ds, const char *path,
                        const tsl_ingest_opts *opts, tsl_store_receipt *receipt, int *created,
                        tsl_diag *d);

#ifdef __cplusplus
}
#endif
#endif
