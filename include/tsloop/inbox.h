/*
 * inbox.h - inbox folders: files dropped into a data set's folder are ingested once, then moved
 * aside (docs/inbox.md).
 *
 * A data set with `inbox: FOLDER` in tsloop.yaml has that folder watched (by the daemon's
 * watcher thread, or by `tsloop inbox` from cron). A file there is handled once it is complete
 * - no process holds it open for writing - by the same function as `tsloop ingest`
 * (tsl_ingest_file), then moved to FOLDER/processed/, or to FOLDER/failed/ beside
 * NAME.error.txt and NAME.error.json saying what was wrong (file, line, field, reason). The
 * store records every file handled by (data set, name, size, SHA-256), which is what makes a
 * restart - or a crash between ingesting and moving - never ingest a file twice.
 */
#ifndef TSLOOP_INBOX_H
#define TSLOOP_INBOX_H

#include <stddef.h>

#include "tsloop/config.h"
#include "tsloop/err.h"
#include "tsloop/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What one pass over a folder (or one file) did. */
typedef struct tsl_inbox_stats {
    size_t processed; /* ingested and moved to processed/ */
    size_t failed;    /* refused and moved to failed/ with its report */
    size_t moved;     /* handled before (the store's record says so), only moved now */
    size_t waiting;   /* still open for writing: left for later */
} tsl_inbox_stats;

/* 1 when a file of that name is never read: dotfiles and temporary names (*.tmp, *.part,
 * *.partial, *.crdownload, *.swp, *~), and the reports the inbox writes (*.error.txt,
 * *.error.json). */
int tsl_inbox_name_ignored(const char *name);

/* Handles the file `name` in folder dir, the inbox of data set ds: nothing when its name is
 * ignored or it is not a regular file; left for later (stats->waiting) while a process holds it
 * open for writing; otherwise ingested (or recognised as handled before) and moved. A file the
 * ingest refuses is an outcome, not an error: it goes to failed/. Errors: the store's (the file
 * stays, to be handled again) and TSL_EIO when a file cannot be read, hashed or moved. */
tsl_err tsl_inbox_handle(tsl_store *s, const tsl_config_dataset *ds, const char *dir,
                         const char *name, tsl_inbox_stats *stats, tsl_diag *d);

/* Handles every file in dir (creating dir, processed/ and failed/ when missing), in name
 * order. Stops at the first error. */
tsl_err tsl_inbox_scan(tsl_store *s, const tsl_config_dataset *ds, const char *dir,
                       tsl_inbox_stats *stats, tsl_diag *d);

#ifdef __cplusplus
}
#endif
#endif
