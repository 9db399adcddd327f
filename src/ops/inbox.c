/*
 * inbox.c - inbox folders: a file dropped into a data set's folder is ingested once, then moved
 * to processed/ or failed/ (see inbox.h and docs/inbox.md).
 *
 * When is a file complete? A writer that creates the file in the folder and writes it slowly
 * must not have its first half ingested. inotify's IN_CLOSE_WRITE says a writer closed it, but
 * not that no other writer still holds it, and a folder scanned at start-up has no events at
 * all. The kernel knows: a read lease (fcntl F_SETLEASE, F_RDLCK) is refused with EAGAIN while
 * any process has the file open for writing. So each file is probed - lease taken and at once
 * given back - before it is read. The lease-break signal is set to SIGURG, ignored by default,
 * so a writer opening the file in the instant the probe holds the lease cannot kill us with
 * SIGIO. Where leases are unavailable (a file of another user without CAP_LEASE, a file system
 * without them, leases disabled), a file is taken as complete once unmodified for
 * QUIET_SECONDS. Renaming a finished file into the folder (the safe way to deliver) is always
 * complete at once.
 *
 * Exactly once. A file is identified by (data set, name, size, SHA-256 of its bytes). The order
 * of the steps is what makes a crash at any point harmless:
 *   1. hash it; when the store already records it, only move it (a crash after 3 and before 4);
 *   2. ingest it with tsl_ingest_file (a crash here leaves it in the folder: ingested again at
 *      restart, which stores nothing twice: ingest is an upsert, rows count as unchanged);
 *   3. record it in the store (processed with the ingest id, or failed with the reason) - the
 *      record decides from now on;
 *   4. move it (link into processed/ or failed/ under a free name, then unlink: never replacing
 *      an earlier file of the same name).
 * A refused file's reports are written before it is recorded, so a failed record always has
 * its report.
 */
#define _GNU_SOURCE /* F_SETLEASE, F_SETSIG */
#include "tsloop/inbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tsloop/buf.h"
#include "tsloop/ingest.h"
#include "tsloop/mem.h"

/* Seconds without modification after which a file is complete where leases cannot tell. */
#define QUIET_SECONDS 2
/* Rejections listed in a failed file's report. */
#define REPORT_REJECTS 20
/* Attempts at a free name in processed/ or failed/. */
#define MAX_NAME_TRIES 10000

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

int tsl_inbox_name_ignored(const char *name) {
    static const char *const temp[] = {".tmp", ".part",      ".partial",    ".crdownload", ".swp",
                                       "~",    ".error.txt", ".error.json", NULL};
    if (!name[0] || name[0] == '.') return 1;
    for (size_t i = 0; temp[i]; i++)
        if (ends_with(name, temp[i])) return 1;
    return 0;
}

/* "DIR/NAME" in a new string. */
static char *join(const char *dir, const char *name) {
    tsl_wbuf b;
    tsl_wbuf_init(&b);
    tsl_wbuf_printf(&b, "%s/%s", dir, name);
    char *s = tsl_strdup(tsl_wbuf_cstr(&b));
    tsl_wbuf_release(&b);
    return s;
}

/* Makes folder path when missing. */
static tsl_err ensure_dir(const char *path, tsl_diag *d) {
    if (mkdir(path, 0777) == 0 || errno == EEXIST) return TSL_OK;
    return tsl_diag_set(d, TSL_EIO, "cannot make the inbox folder %s: %s", path, strerror(errno));
}

/* Probes whether fd's file is complete: *complete 0 while a process holds it open for writing
 * (see the purpose paragraph). st is the file's status. */
static void probe_complete(int fd, const struct stat *st, int *complete) {
    (void)fcntl(fd, F_SETSIG, SIGURG);
    if (fcntl(fd, F_SETLEASE, F_RDLCK) == 0) {
        (void)fcntl(fd, F_SETLEASE, F_UNLCK);
        *complete = 1;
        return;
    }
    if (errno == EAGAIN || errno == EBUSY) {
        *complete = 0;
        return;
    }
    *complete = time(NULL) - st->st_mtime >= QUIET_SECONDS;
}

/* SHA-256 (hex) and size of the file open as fd. */
static tsl_err hash_file(int fd, const char *path, char hex[65], int64_t *size, tsl_diag *d) {
    crypto_hash_sha256_state h;
    unsigned char buf[65536], out[crypto_hash_sha256_BYTES];
    int64_t total = 0;
    crypto_hash_sha256_init(&h);
    for (;;) {
        ssize_t k = read(fd, buf, sizeof buf);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return tsl_diag_set(d, TSL_EIO, "%s: cannot read: %s", path, strerror(errno));
        if (k == 0) break;
        crypto_hash_sha256_update(&h, buf, (unsigned long long)k);
        total += k;
    }
    crypto_hash_sha256_final(&h, out);
    sodium_bin2hex(hex, 65, out, sizeof out);
    *size = total;
    return TSL_OK;
}

/* A name in folder sub that neither exists nor has reports: NAME, else K-NAME. */
static char *free_name(const char *sub, const char *name) {
    tsl_wbuf b;
    tsl_wbuf_init(&b);
    char *found = NULL;
    struct stat st;
    for (int k = 0; k < MAX_NAME_TRIES && !found; k++) {
        b.len = 0;
        if (k)
            tsl_wbuf_printf(&b, "%s/%d-%s", sub, k, name);
        else
            tsl_wbuf_printf(&b, "%s/%s", sub, name);
        size_t base = b.len;
        if (lstat(tsl_wbuf_cstr(&b), &st) == 0) continue;
        tsl_wbuf_puts(&b, ".error.txt");
        if (lstat(tsl_wbuf_cstr(&b), &st) == 0) continue;
        b.len = base;
        found = tsl_strdup(tsl_wbuf_cstr(&b));
    }
    tsl_wbuf_release(&b);
    return found;
}

/* Moves src to dst without ever replacing a file at dst (link, then unlink). */
static tsl_err move_file(const char *src, const char *dst, tsl_diag *d) {
    if (link(src, dst) != 0 && rename(src, dst) != 0)
        return tsl_diag_set(d, TSL_EIO, "cannot move %s to %s: %s", src, dst, strerror(errno));
    if (unlink(src) != 0 && errno != ENOENT)
        return tsl_diag_set(d, TSL_EIO, "moved %s to %s but cannot remove it: %s", src, dst,
                            strerror(errno));
    return TSL_OK;
}

/* Moves file `name` of dir into dir/sub under a free name. */
static tsl_err move_into(const char *dir, const char *name, const char *sub, tsl_diag *d) {
    char *src = join(dir, name), *subdir = join(dir, sub), *dst = NULL;
    tsl_err rc = ensure_dir(subdir, d);
    if (rc) goto out;
    if (!(dst = free_name(subdir, name))) {
        rc = tsl_diag_set(d, TSL_EIO, "%s: no free name for %s", subdir, name);
        goto out;
    }
    rc = move_file(src, dst, d);
out:
    tsl_free(src);
    tsl_free(subdir);
    tsl_free(dst);
    return rc;
}

/* The line and the field a reader's message names ("PATH:LINE: column 'F': ..."), 0 and ""
 * when it names none. */
static void locate(const char *msg, const char *path, long *line, char *field, size_t cap) {
    *line = 0;
    field[0] = '\0';
    size_t pl = strlen(path);
    const char *p = strncmp(msg, path, pl) == 0 ? msg + pl : strstr(msg, ":");
    if (p && *p == ':') {
        char *end = NULL;
        long v = strtol(p + 1, &end, 10);
        if (end != p + 1 && *end == ':' && v > 0) *line = v;
    }
    const char *c = strstr(msg, "column '");
    if (c) {
        c += 8;
        const char *e = strchr(c, '\'');
        size_t n = e ? (size_t)(e - c) : 0;
        if (n && n < cap) {
            memcpy(field, c, n);
            field[n] = '\0';
        }
    }
}

/* Writes text to path (created or truncated). */
static tsl_err write_text(const char *path, const char *text, tsl_diag *d) {
    FILE *f = fopen(path, "w");
    if (!f) return tsl_diag_set(d, TSL_EIO, "cannot write %s: %s", path, strerror(errno));
    int bad = fputs(text, f) < 0;
    bad |= fclose(f) != 0;
    if (bad) return tsl_diag_set(d, TSL_EIO, "cannot write %s", path);
    return TSL_OK;
}

/* Writes DEST.error.txt and DEST.error.json for a file the ingest refused with msg (receipt:
 * the rows it rejected, when it read any). */
static tsl_err write_report(const char *dest, const char *name, const char *path,
                            const tsl_config_dataset *ds, tsl_err code, const char *msg,
                            const tsl_store_receipt *receipt, tsl_diag *d) {
    long line;
    char field[128];
    locate(msg, path, &line, field, sizeof field);
    if (!line && receipt->nrejects) {
        line = (long)receipt->rejects[0].line;
        locate(receipt->rejects[0].reason, path, &line, field, sizeof field);
        if (!line) line = (long)receipt->rejects[0].line;
    }
    json_t *rej = json_array();
    for (size_t i = 0; i < receipt->nrejects && i < REPORT_REJECTS; i++)
        json_array_append_new(rej,
                              json_pack("{s:I, s:s}", "line", (json_int_t)receipt->rejects[i].line,
                                        "reason", receipt->rejects[i].reason));
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:I, s:o}", "file", name, "dataset",
                          ds->name, "error", msg, "code", tsl_err_str(code), "line",
                          line ? json_integer(line) : json_null(), "field", field, "rows_read",
                          (json_int_t)receipt->read, "rejects", rej);
    char *text = json_dumps(j, JSON_INDENT(2));
    json_decref(j);
    tsl_wbuf b;
    tsl_wbuf_init(&b);
    tsl_wbuf_printf(&b, "%s.error.json", dest);
    tsl_err rc = write_text(tsl_wbuf_cstr(&b), text, d);
    free(text);
    if (rc) goto out;
    tsl_wbuf txt;
    tsl_wbuf_init(&txt);
    tsl_wbuf_printf(&txt, "file: %s\ndata set: %s\n", name, ds->name);
    if (line) tsl_wbuf_printf(&txt, "line: %ld\n", line);
    if (field[0]) tsl_wbuf_printf(&txt, "field: %s\n", field);
    tsl_wbuf_printf(&txt, "reason: %s\n", msg);
    for (size_t i = 0; i < receipt->nrejects && i < REPORT_REJECTS; i++)
        tsl_wbuf_printf(&txt, "rejected line %llu: %s\n",
                        (unsigned long long)receipt->rejects[i].line, receipt->rejects[i].reason);
    tsl_wbuf_printf(&txt,
                    "\nThe file was not ingested. Fix it and drop it into the inbox again.\n");
    b.len = 0;
    tsl_wbuf_printf(&b, "%s.error.txt", dest);
    rc = write_text(tsl_wbuf_cstr(&b), tsl_wbuf_cstr(&txt), d);
    tsl_wbuf_release(&txt);
out:
    tsl_wbuf_release(&b);
    return rc;
}

/* Whether an ingest error is the file's fault (refuse it) rather than the store's (retry). */
static int file_fault(tsl_err rc) {
    return rc != TSL_EBUSY && rc != TSL_EINTERNAL;
}

tsl_err tsl_inbox_handle(tsl_store *s, const tsl_config_dataset *ds, const char *dir,
                         const char *name, tsl_inbox_stats *stats, tsl_diag *d) {
    char *path = join(dir, name), *failed_dir = NULL, *dest = NULL;
    tsl_store_inbox_file rec;
    tsl_store_receipt receipt;
    memset(&rec, 0, sizeof rec);
    memset(&receipt, 0, sizeof receipt);
    tsl_err rc = TSL_OK;
    int fd = -1;
    if (tsl_inbox_name_ignored(name)) goto out;
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        /* Gone (moved by another tsloop) or a symlink or special file: not ours to read. */
        if (errno == ENOENT || errno == ELOOP || errno == ENXIO) goto out;
        rc = tsl_diag_set(d, TSL_EIO, "%s: cannot open: %s", path, strerror(errno));
        goto out;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) goto out;
    int complete = 0;
    probe_complete(fd, &st, &complete);
    if (!complete) {
        stats->waiting++;
        goto out;
    }
    char hex[65];
    int64_t size = 0;
    if ((rc = hash_file(fd, path, hex, &size, d))) goto out;
    close(fd);
    fd = -1;

    rc = tsl_store_inbox_find(s, ds->name, name, size, hex, &rec, d);
    if (rc == TSL_OK) {
        /* Handled before: a crash came between recording and moving, or the same file again. */
        if ((rc = move_into(dir, name, rec.ok ? "processed" : "failed", d))) goto out;
        stats->moved++;
        goto out;
    }
    if (rc != TSL_ENOTFOUND) goto out;

    tsl_ingest_opts io;
    memset(&io, 0, sizeof io);
    io.who = "inbox";
    io.source = path;
    io.origin = "inbox";
    io.file = name;
    tsl_diag id = {TSL_OK, {0}};
    tsl_err irc = tsl_ingest_file(s, ds, path, &io, &receipt, NULL, &id);
    if (irc && !file_fault(irc)) {
        rc = irc;
        if (d) *d = id;
        goto out;
    }
    rec.dataset = tsl_strdup(ds->name);
    rec.name = tsl_strdup(name);
    rec.size = size;
    tsl_strlcpy(rec.sha256, hex, sizeof rec.sha256);
    rec.ok = !irc;
    rec.ingest_id = irc ? 0 : receipt.ingest_id;
    if (irc) {
        rec.error = tsl_strdup(id.msg[0] ? id.msg : tsl_err_str(irc));
        failed_dir = join(dir, "failed");
        if ((rc = ensure_dir(failed_dir, d))) goto out;
        if (!(dest = free_name(failed_dir, name))) {
            rc = tsl_diag_set(d, TSL_EIO, "%s: no free name for %s", failed_dir, name);
            goto out;
        }
        if ((rc = write_report(dest, name, path, ds, irc, rec.error, &receipt, d))) goto out;
    }
    if ((rc = tsl_store_inbox_record(s, &rec, d))) goto out;
    if (irc) {
        if ((rc = move_file(path, dest, d))) goto out;
        stats->failed++;
    } else {
        if ((rc = move_into(dir, name, "processed", d))) goto out;
        stats->processed++;
    }
out:
    if (fd >= 0) close(fd);
    tsl_store_receipt_release(&receipt);
    tsl_store_inbox_file_release(&rec);
    tsl_free(path);
    tsl_free(failed_dir);
    tsl_free(dest);
    return rc;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

tsl_err tsl_inbox_scan(tsl_store *s, const tsl_config_dataset *ds, const char *dir,
                       tsl_inbox_stats *stats, tsl_diag *d) {
    char **names = NULL;
    size_t n = 0, cap = 0;
    tsl_err rc = ensure_dir(dir, d);
    if (rc) return rc;
    DIR *dh = opendir(dir);
    if (!dh)
        return tsl_diag_set(d, TSL_EIO, "cannot read the inbox folder %s: %s", dir,
                            strerror(errno));
    struct dirent *e;
    while ((e = readdir(dh))) {
        if (tsl_inbox_name_ignored(e->d_name)) continue;
        if (e->d_type != DT_REG && e->d_type != DT_UNKNOWN) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            names = tsl_reallocarray(names, cap, sizeof *names);
        }
        names[n++] = tsl_strdup(e->d_name);
    }
    closedir(dh);
    if (n) qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n && !rc; i++) rc = tsl_inbox_handle(s, ds, dir, names[i], stats, d);
    for (size_t i = 0; i < n; i++) tsl_free(names[i]);
    tsl_free(names);
    return rc;
}
