/*
 * source.c - plain, gzip and zip inputs through libarchive (see source.h).
 *
 * libarchive is set up with the gzip filter and two formats: zip, and "raw", which takes any
 * non-empty byte stream as one entry. Bidding makes the zip reader win on zip archives and raw
 * win on everything else, so detection is by content, never by the file's name. Other filters
 * (bzip2, xz, ...) are deliberately not enabled: libarchive may run an external program for
 * some of them, and the input contract names gzip only.
 *
 * Choosing a zip member needs the whole listing (TTS.csv may come last, and "the only CSV"
 * is only known at the end), so the archive is listed, closed, reopened and advanced to the
 * chosen entry. Zip readers seek to the central directory for files and memory, which makes
 * the listing cheap. Members that macOS's Finder adds (__MACOSX/, ._*) are ignored, as the
 * seed's instructions ask users to remove them by hand.
 */
#include "core/source.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/text.h"
#include "tsloop/mem.h"

#define IOBUF_SIZE 65536
/* Member names kept to list in an error message. */
#define LISTED 3

struct tsl_src {
    struct archive *a;
    char *path;       /* file path; NULL for memory and standard input */
    char *label;      /* the path as messages show it ("<stdin>" for "-") */
    char *name;       /* label, plus "!member" for a zip */
    int tsv;          /* the data's own name ends in .tsv */
    const void *mem;  /* memory input (or slurped standard input) */
    size_t mem_len;   /* its length */
    char *owned;      /* slurped standard input, freed with the source */
    int stdin_stream; /* reading standard input as a stream */
    unsigned char peek[4];
    size_t npeek, peek_off; /* bytes read from standard input to sniff for a zip */
    char *iobuf;
};

/* The members a zip listing found: counts, a few names for messages, the index to read. */
typedef struct zip_listing {
    size_t ntts, ncsv;
    long tts_index, csv_index;
    char *tts_names[LISTED], *csv_names[LISTED];
} zip_listing;

/* Whether s ends in suffix, ASCII case-insensitively. */
static int ends_with_ci(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && tsl_text_ieq(s + n - k, suffix);
}

/* The last component of a member path (after '/' or '\\', as some zip tools write). */
static const char *base_name(const char *path) {
    const char *b = path;
    for (const char *p = path; *p; p++)
        if (*p == '/' || *p == '\\') b = p + 1;
    return b;
}

/* Whether a data name (the member's, or the path's without .gz) names a TSV file. */
static int name_is_tsv(const char *name) {
    size_t n = strlen(name);
    if (ends_with_ci(name, ".gz")) n -= 3;
    return n >= 4 && tsl_text_ieq(name + n - 4, ".tsv") ? 1 : 0;
}

/* libarchive's message for its last error, or a generic one when it has none. */
static const char *archive_msg(struct archive *a) {
    const char *m = archive_error_string(a);
    return m ? m : "truncated or corrupt data";
}

/* libarchive read callback for standard input: the sniffed bytes first, then read(2). */
static la_ssize_t stdin_read(struct archive *a, void *cd, const void **buf) {
    tsl_src *s = cd;
    if (s->peek_off < s->npeek) {
        *buf = s->peek + s->peek_off;
        la_ssize_t n = (la_ssize_t)(s->npeek - s->peek_off);
        s->peek_off = s->npeek;
        return n;
    }
    for (;;) {
        ssize_t n = read(STDIN_FILENO, s->iobuf, IOBUF_SIZE);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            archive_set_error(a, errno, "%s", strerror(errno));
            return -1;
        }
        *buf = s->iobuf;
        return n;
    }
}

/* A fresh libarchive reader over the source's bytes. */
static tsl_err archive_start(tsl_src *s, tsl_diag *d) {
    s->a = archive_read_new();
    if (!s->a) tsl_oom(0);
    archive_read_support_filter_gzip(s->a);
    if (!s->stdin_stream) archive_read_support_format_zip(s->a);
    archive_read_support_format_raw(s->a);
    int r;
    if (s->stdin_stream)
        r = archive_read_open(s->a, s, NULL, stdin_read, NULL);
    else if (s->path)
        r = archive_read_open_filename(s->a, s->path, IOBUF_SIZE);
    else
        r = archive_read_open_memory(s->a, s->mem, s->mem_len);
    if (r == ARCHIVE_OK) return TSL_OK;
    /* The raw format accepts any non-empty stream, so "unrecognized" means no bytes. */
    if (archive_errno(s->a) == EILSEQ)
        return tsl_diag_set(d, TSL_EPARSE, "%s: empty input: expected a header line", s->label);
    return tsl_diag_set(d, TSL_EIO, "%s: cannot read: %s", s->label, archive_msg(s->a));
}

/* Releases the libarchive reader, if any. */
static void archive_stop(tsl_src *s) {
    if (s->a) archive_read_free(s->a);
    s->a = NULL;
}

/* Names macOS's Finder adds to zips it makes: never data. */
static int is_finder_junk(const char *path) {
    const char *b = base_name(path);
    return !strncmp(path, "__MACOSX/", 9) || strstr(path, "/__MACOSX/") || !strncmp(b, "._", 2) ||
           !strcmp(b, ".DS_Store");
}

/* Frees the names a listing kept. */
static void listing_free(zip_listing *z) {
    for (size_t i = 0; i < LISTED; i++) {
        tsl_free(z->tts_names[i]);
        tsl_free(z->csv_names[i]);
    }
}

/* "a.csv, b/c.csv" and ", ..." when more exist, into buf. */
static void listing_names(char *const *names, size_t count, char *buf, size_t cap) {
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < count && i < LISTED; i++) {
        char q[TSL_TEXT_QUOTE_CAP];
        tsl_text_quote(q, sizeof q, names[i], strlen(names[i]));
        int n = snprintf(buf + o, cap - o, "%s%s", i ? ", " : "", q);
        if (n < 0 || (size_t)n >= cap - o) return;
        o += (size_t)n;
    }
    if (count > LISTED) snprintf(buf + o, cap - o, ", ...");
}

/* Lists the zip whose first header was just read, choosing the member to read. */
static tsl_err zip_choose(tsl_src *s, struct archive_entry *e, long *chosen, char **member,
                          tsl_diag *d) {
    tsl_err err = TSL_OK;
    zip_listing z = {0, 0, -1, -1, {NULL}, {NULL}};
    long index = 0;
    for (;;) {
        const char *p = archive_entry_pathname(e);
        if (p && archive_entry_filetype(e) == AE_IFREG && !is_finder_junk(p)) {
            if (tsl_text_ieq(base_name(p), "TTS.csv")) {
                if (z.ntts < LISTED) z.tts_names[z.ntts] = tsl_strdup(p);
                if (z.ntts++ == 0) z.tts_index = index;
            } else if (ends_with_ci(p, ".csv") || ends_with_ci(p, ".tsv")) {
                if (z.ncsv < LISTED) z.csv_names[z.ncsv] = tsl_strdup(p);
                if (z.ncsv++ == 0) z.csv_index = index;
            }
        }
        int r = archive_read_next_header(s->a, &e);
        if (r == ARCHIVE_EOF) break;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            err = tsl_diag_set(d, TSL_EIO, "%s: cannot read the zip listing: %s", s->label,
                               archive_msg(s->a));
            goto out;
        }
        index++;
    }
    char names[384];
    if (z.ntts > 1) {
        listing_names(z.tts_names, z.ntts, names, sizeof names);
        err = tsl_diag_set(d, TSL_EPARSE, "%s: the zip holds %zu TTS.csv files (%s); keep one",
                           s->label, z.ntts, names);
        goto out;
    }
    if (z.ntts == 1) {
        *chosen = z.tts_index;
        *member = tsl_strdup(z.tts_names[0]);
        goto out;
    }
    if (z.ncsv == 1) {
        *chosen = z.csv_index;
        *member = tsl_strdup(z.csv_names[0]);
        goto out;
    }
    if (z.ncsv == 0) {
        err = tsl_diag_set(d, TSL_EPARSE,
                           "%s: the zip holds no CSV file; expected TTS.csv or a single .csv or "
                           ".tsv member",
                           s->label);
        goto out;
    }
    listing_names(z.csv_names, z.ncsv, names, sizeof names);
    err = tsl_diag_set(d, TSL_EPARSE,
                       "%s: the zip holds %zu CSV files (%s) and no TTS.csv; name the one to "
                       "read TTS.csv",
                       s->label, z.ncsv, names);
out:
    listing_free(&z);
    return err;
}

/* Opens the archive and positions it on the data: the raw stream, or the chosen member. */
static tsl_err src_position(tsl_src *s, tsl_diag *d) {
    tsl_err err;
    char *member = NULL;
    struct archive_entry *e;
    if ((err = archive_start(s, d))) goto out;
    int r = archive_read_next_header(s->a, &e);
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
        err = tsl_diag_set(d, r == ARCHIVE_EOF ? TSL_EPARSE : TSL_EIO, "%s: cannot read: %s",
                           s->label, r == ARCHIVE_EOF ? "empty archive" : archive_msg(s->a));
        goto out;
    }
    int format = archive_format(s->a) & ARCHIVE_FORMAT_BASE_MASK;
    if (format == ARCHIVE_FORMAT_RAW) {
        s->name = tsl_strdup(s->label);
        s->tsv = name_is_tsv(s->label);
        goto out;
    }
    if (format != ARCHIVE_FORMAT_ZIP) {
        err = tsl_diag_set(d, TSL_EPARSE, "%s: unsupported archive format", s->label);
        goto out;
    }
    long chosen = -1;
    if ((err = zip_choose(s, e, &chosen, &member, d))) goto out;
    archive_stop(s);
    if ((err = archive_start(s, d))) goto out;
    for (long i = 0; i <= chosen; i++) {
        r = archive_read_next_header(s->a, &e);
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            err = tsl_diag_set(d, TSL_EIO, "%s: cannot read: %s", s->label, archive_msg(s->a));
            goto out;
        }
    }
    /* Member names are the archive author's bytes: show them quoted unless plain. */
    size_t mlen = strlen(member);
    int plain = tsl_text_utf8_valid(member, mlen);
    for (size_t i = 0; i < mlen && plain; i++)
        if ((unsigned char)member[i] < 0x20 || member[i] == 0x7F) plain = 0;
    char q[TSL_TEXT_QUOTE_CAP];
    const char *shown = plain ? member : tsl_text_quote(q, sizeof q, member, mlen);
    size_t need = strlen(s->label) + 1 + strlen(shown) + 1;
    s->name = tsl_malloc(need);
    snprintf(s->name, need, "%s!%s", s->label, shown);
    s->tsv = name_is_tsv(member);
out:
    tsl_free(member);
    return err;
}

/* Reads standard input whole into s->owned (a zip must be seekable). */
static tsl_err slurp_stdin(tsl_src *s, tsl_diag *d) {
    size_t cap = 1 << 20, len = s->npeek;
    s->owned = tsl_malloc(cap);
    memcpy(s->owned, s->peek, s->npeek);
    for (;;) {
        if (len == cap) {
            if (cap >= TSL_SRC_STDIN_ZIP_MAX)
                return tsl_diag_set(d, TSL_ELIMIT,
                                    "<stdin>: a zip on standard input may be at most %zu MiB; "
                                    "pass its file name instead",
                                    TSL_SRC_STDIN_ZIP_MAX >> 20);
            cap *= 2;
            s->owned = tsl_realloc(s->owned, cap);
        }
        ssize_t n = read(STDIN_FILENO, s->owned + len, cap - len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return tsl_diag_set(d, TSL_EIO, "<stdin>: cannot read: %s", strerror(errno));
        if (n == 0) break;
        len += (size_t)n;
    }
    s->mem = s->owned;
    s->mem_len = len;
    return TSL_OK;
}

/* Sniffs standard input for a zip (read whole) or anything else (streamed). */
static tsl_err open_stdin(tsl_src *s, tsl_diag *d) {
    while (s->npeek < sizeof s->peek) {
        ssize_t n = read(STDIN_FILENO, s->peek + s->npeek, sizeof s->peek - s->npeek);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return tsl_diag_set(d, TSL_EIO, "<stdin>: cannot read: %s", strerror(errno));
        if (n == 0) break;
        s->npeek += (size_t)n;
    }
    if (s->npeek >= 4 && s->peek[0] == 'P' && s->peek[1] == 'K' &&
        ((s->peek[2] == 3 && s->peek[3] == 4) || (s->peek[2] == 5 && s->peek[3] == 6))) {
        tsl_err err = slurp_stdin(s, d);
        if (err) return err;
        return src_position(s, d);
    }
    s->stdin_stream = 1;
    s->iobuf = tsl_malloc(IOBUF_SIZE);
    return src_position(s, d);
}

tsl_err tsl_src_open_file(const char *path, tsl_src **out, tsl_diag *d) {
    tsl_err err;
    tsl_src *s = tsl_calloc(1, sizeof *s);
    if (!strcmp(path, "-")) {
        s->label = tsl_strdup("<stdin>");
        if ((err = open_stdin(s, d))) goto out;
    } else {
        s->label = tsl_strdup(path);
        struct stat st;
        if (stat(path, &st) != 0) {
            err = tsl_diag_set(d, TSL_EIO, "%s: cannot open: %s", path, strerror(errno));
            goto out;
        }
        if (S_ISDIR(st.st_mode)) {
            err = tsl_diag_set(d, TSL_EIO, "%s: cannot open: it is a directory", path);
            goto out;
        }
        s->path = tsl_strdup(path);
        if ((err = src_position(s, d))) goto out;
    }
out:
    if (err) {
        tsl_src_close(s);
        s = NULL;
    }
    *out = s;
    return err;
}

tsl_err tsl_src_open_mem(const char *name, const void *data, size_t len, tsl_src **out,
                         tsl_diag *d) {
    tsl_err err;
    tsl_src *s = tsl_calloc(1, sizeof *s);
    s->label = tsl_strdup(name);
    s->mem = data;
    s->mem_len = len;
    if (len == 0) {
        err = tsl_diag_set(d, TSL_EPARSE, "%s: empty input: expected a header line", name);
        goto out;
    }
    err = src_position(s, d);
out:
    if (err) {
        tsl_src_close(s);
        s = NULL;
    }
    *out = s;
    return err;
}

tsl_err tsl_src_read(tsl_src *s, void *buf, size_t cap, size_t *got, tsl_diag *d) {
    la_ssize_t n = archive_read_data(s->a, buf, cap);
    if (n < 0) {
        *got = 0;
        return tsl_diag_set(d, TSL_EIO, "%s: cannot read: %s", s->name, archive_msg(s->a));
    }
    *got = (size_t)n;
    return TSL_OK;
}

const char *tsl_src_name(const tsl_src *s) {
    return s->name;
}

int tsl_src_is_tsv(const tsl_src *s) {
    return s->tsv;
}

void tsl_src_close(tsl_src *s) {
    if (!s) return;
    archive_stop(s);
    tsl_free(s->path);
    tsl_free(s->label);
    tsl_free(s->name);
    tsl_free(s->owned);
    tsl_free(s->iobuf);
    tsl_free(s);
}
