/*
 * output.c - atomic output files and the forecast CSV (see output.h).
 */
#include "tsloop/output.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tsloop/mem.h"

tsl_err tsl_outfile_open(tsl_outfile *o, const char *path, tsl_diag *d) {
    memset(o, 0, sizeof *o);
    if (!strcmp(path, "-")) {
        o->f = stdout;
        o->path = tsl_strdup(path);
        return TSL_OK;
    }
    /* A unique name beside path, created with O_EXCL and mode 0666 so the umask applies as
     * for any file the user creates (mkstemp would force 0600). */
    static _Atomic unsigned long counter;
    size_t len = strlen(path);
    o->tmp = tsl_malloc(len + 48);
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        snprintf(o->tmp, len + 48, "%s.tmp-%ld-%lu", path, (long)getpid(), ++counter);
        fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        tsl_err rc = tsl_diag_set(d, TSL_EIO, "cannot create %s: %s", o->tmp, strerror(errno));
        tsl_free(o->tmp);
        o->tmp = NULL;
        return rc;
    }
    o->f = fdopen(fd, "w");
    if (!o->f) {
        close(fd);
        unlink(o->tmp);
        tsl_free(o->tmp);
        o->tmp = NULL;
        return tsl_diag_set(d, TSL_EIO, "cannot open %s: %s", path, strerror(errno));
    }
    o->path = tsl_strdup(path);
    return TSL_OK;
}

tsl_err tsl_outfile_commit(tsl_outfile *o, tsl_diag *d) {
    tsl_err rc = TSL_OK;
    if (!o->f) return tsl_diag_set(d, TSL_EINVAL, "output file is not open");
    if (!o->tmp) {
        if (fflush(o->f) != 0)
            rc = tsl_diag_set(d, TSL_EIO, "writing to stdout: %s", strerror(errno));
        goto out;
    }
    if (fflush(o->f) != 0 || fsync(fileno(o->f)) != 0 || ferror(o->f)) {
        rc = tsl_diag_set(d, TSL_EIO, "writing %s: %s", o->path, strerror(errno));
        fclose(o->f);
        unlink(o->tmp);
        goto out;
    }
    if (fclose(o->f) != 0) {
        rc = tsl_diag_set(d, TSL_EIO, "writing %s: %s", o->path, strerror(errno));
        unlink(o->tmp);
        goto out;
    }
    if (rename(o->tmp, o->path) != 0) {
        rc = tsl_diag_set(d, TSL_EIO, "cannot rename into %s: %s", o->path, strerror(errno));
        unlink(o->tmp);
    }
out:
    o->f = NULL;
    tsl_free(o->tmp);
    tsl_free(o->path);
    o->tmp = o->path = NULL;
    return rc;
}

void tsl_outfile_abort(tsl_outfile *o) {
    if (o->f && o->tmp) {
        fclose(o->f);
        unlink(o->tmp);
    }
    o->f = NULL;
    tsl_free(o->tmp);
    tsl_free(o->path);
    o->tmp = o->path = NULL;
}

void tsl_csv_field(tsl_wbuf *b, const char *s) {
    if (!strpbrk(s, ",\"\r\n\t") && s[0] != ' ' && (s[0] == '\0' || s[strlen(s) - 1] != ' ')) {
        tsl_wbuf_puts(b, s);
        return;
    }
    tsl_wbuf_putc(b, '"');
    for (const char *p = s; *p; p++) {
        if (*p == '"') tsl_wbuf_putc(b, '"');
        tsl_wbuf_putc(b, *p);
    }
    tsl_wbuf_putc(b, '"');
}

void tsl_level_name(double level, char *buf, size_t cap) {
    /* Shortest of up to 6 decimals of the percentage that reads back as the level. */
    double pct = level * 100.0;
    for (int prec = 0; prec <= 6; prec++) {
        snprintf(buf, cap, "p%.*f", prec, pct);
        if (fabs(strtod(buf + 1, NULL) - pct) < 1e-9) return;
    }
}

void tsl_fcsv_header(tsl_wbuf *b, const double *levels, size_t nq) {
    tsl_wbuf_puts(b, "item_id,timestamp,mean");
    for (size_t j = 0; j < nq; j++) {
        char name[32];
        tsl_level_name(levels[j], name, sizeof name);
        tsl_wbuf_putc(b, ',');
        tsl_wbuf_puts(b, name);
    }
    tsl_wbuf_putc(b, '\n');
}

/* Shortest decimal text of v with 10 significant digits, "NaN" for NaN. */
static void put_number(tsl_wbuf *b, double v) {
    if (isnan(v)) {
        tsl_wbuf_puts(b, "NaN");
        return;
    }
    tsl_wbuf_printf(b, "%.10g", v);
}

void tsl_fcsv_rows(tsl_wbuf *b, const char *item, tsl_freq freq, int64_t start, size_t h,
                   const double *mean, const double *quant, size_t nq) {
    int date_only = !tsl_freq_is_subdaily(freq);
    for (size_t s = 0; s < h; s++) {
        char ts[40];
        tsl_time_format(tsl_freq_add(freq, start, (int64_t)s), date_only, ts, sizeof ts);
        tsl_csv_field(b, item);
        tsl_wbuf_putc(b, ',');
        tsl_wbuf_puts(b, ts);
        tsl_wbuf_putc(b, ',');
        put_number(b, mean[s]);
        for (size_t j = 0; j < nq; j++) {
            tsl_wbuf_putc(b, ',');
            put_number(b, quant[s * nq + j]);
        }
        tsl_wbuf_putc(b, '\n');
    }
}

tsl_err tsl_wbuf_flush_to(tsl_wbuf *b, FILE *f, const char *what, tsl_diag *d) {
    if (b->len && fwrite(b->data, 1, b->len, f) != b->len)
        return tsl_diag_set(d, TSL_EIO, "writing %s: %s", what, strerror(errno));
    tsl_wbuf_reset(b);
    return TSL_OK;
}

tsl_err tsl_output_write_rows(const char *path, const char *header, size_t n,
                              void (*row)(void *ctx, size_t i, tsl_wbuf *b), void *ctx,
                              tsl_diag *d) {
    tsl_outfile of;
    tsl_err rc = tsl_outfile_open(&of, path, d);
    if (rc) return rc;
    tsl_wbuf b;
    tsl_wbuf_init(&b);
    if (header) tsl_wbuf_puts(&b, header);
    for (size_t i = 0; i < n && !rc; i++) {
        row(ctx, i, &b);
        if (b.len >= (1u << 20)) rc = tsl_wbuf_flush_to(&b, of.f, path, d);
    }
    if (!rc) rc = tsl_wbuf_flush_to(&b, of.f, path, d);
    tsl_wbuf_release(&b);
    if (rc) {
        tsl_outfile_abort(&of);
        return rc;
    }
    return tsl_outfile_commit(&of, d);
}
