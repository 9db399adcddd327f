/*
 * ingest.c - a file into a project's data set, as tsloop.yaml declares it (see ingest.h).
 *
 * "Changes nothing" for an unusable file. The store's ingest records itself when it begins
 * (store.h), and beginning needs the data set, so the cheap way - begin, read, abort on
 * trouble - would leave an empty data set and a failed ingest record behind a file that was
 * never usable. Here everything that can be judged before touching the store is judged first:
 * the header (the reader opens it), the declared dimension columns, the data set's stored
 * frequency and dimensions. Then rows are read, and the store is touched only when the first
 * row that can be stored arrives: the data set is created if need be, the ingest begins, and
 * the rows rejected before it (kept in memory, at most as many as the store keeps reasons
 * for, the others counted) are handed over in file order. A file whose every row is rejected
 * ends without the store having seen it, and its receipt says why each row was refused.
 */
#include "tsloop/ingest.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tsloop/buf.h"
#include "tsloop/csv.h"
#include "tsloop/mem.h"

#define PROGRESS_ROWS 65536

/* Rejections before the ingest began. */
typedef struct pending {
    tsl_store_reject *kept; /* the first TSL_STORE_REJECTS_KEPT */
    size_t nkept;
    uint64_t more;      /* counted beyond them */
    uint64_t last_line; /* of the last one counted */
} pending;

typedef struct run {
    tsl_store *s;
    const tsl_config_dataset *ds;
    const char *path;
    const tsl_ingest_opts *o;
    tsl_csv *csv;
    tsl_store_ingest *in;
    pending p;
    uint64_t read;
    int created;
} run;

/* Lists names[0..n) as "a, b, c" into b. */
static void list_names(tsl_wbuf *b, const char *const *names, size_t n) {
    for (size_t i = 0; i < n; i++) tsl_wbuf_printf(b, "%s%s", i ? ", " : "", names[i]);
    if (!n) tsl_wbuf_puts(b, "none");
}

/* 1 when the two name lists hold the same names, in any order. */
static int same_set(const char *const *a, size_t na, const char *const *b, size_t nb) {
    if (na != nb) return 0;
    for (size_t i = 0; i < na; i++) {
        size_t j = 0;
        while (j < nb && strcmp(a[i], b[j])) j++;
        if (j == nb) return 0;
    }
    return 1;
}

/* Checks the file's dimension columns against want (the declaration or the stored data set). */
static tsl_err check_dims(const run *r, const char *const *fdims, size_t nf,
                          const char *const *want, size_t nw, const char *whose, tsl_diag *d) {
    if (same_set(fdims, nf, want, nw)) return TSL_OK;
    tsl_wbuf have, exp;
    tsl_wbuf_init(&have);
    tsl_wbuf_init(&exp);
    list_names(&have, fdims, nf);
    list_names(&exp, want, nw);
    tsl_err rc =
        tsl_diag_set(d, TSL_EINVAL,
                     "%s: dimension columns %s, expected %s (%s data set '%s'), "
                     "besides the item, timestamp and target columns",
                     r->path, tsl_wbuf_cstr(&have), tsl_wbuf_cstr(&exp), whose, r->ds->name);
    tsl_wbuf_release(&have);
    tsl_wbuf_release(&exp);
    return rc;
}

/* Counts a rejected row: into the ingest when it has begun, else into pending. */
static tsl_err reject(run *r, uint64_t line, const char *reason, tsl_diag *d) {
    if (r->in) return tsl_store_ingest_reject(r->in, line, reason, d);
    pending *p = &r->p;
    if (p->nkept < TSL_STORE_REJECTS_KEPT) {
        if (!p->kept) p->kept = tsl_calloc(TSL_STORE_REJECTS_KEPT, sizeof *p->kept);
        p->kept[p->nkept++] = (tsl_store_reject){line, tsl_strdup(reason)};
    } else {
        p->more++;
    }
    p->last_line = line;
    if (r->o->max_rejects && p->nkept + p->more > r->o->max_rejects)
        return tsl_diag_set(d, TSL_EPARSE,
                            "%s: more than %llu rows rejected (the last at line %llu); nothing "
                            "was ingested",
                            r->path, (unsigned long long)r->o->max_rejects,
                            (unsigned long long)line);
    return TSL_OK;
}

/* Frees the rejections kept before the ingest began. */
static void pending_release(pending *p) {
    for (size_t i = 0; i < p->nkept; i++) tsl_free(p->kept[i].reason);
    tsl_free(p->kept);
    memset(p, 0, sizeof *p);
}

/* The first row that can be stored has come: create the data set if need be, begin the
 * ingest and hand it the rows rejected so far. */
static tsl_err begin(run *r, tsl_diag *d) {
    const tsl_config_dataset *ds = r->ds;
    tsl_store_dataset have;
    tsl_err rc = tsl_store_dataset_get(r->s, ds->name, &have, d);
    if (rc == TSL_ENOTFOUND) {
        rc = tsl_store_dataset_create(r->s, ds->name, ds->freq, (const char *const *)ds->dims,
                                      ds->ndims, NULL, d);
        if (rc == TSL_ECONFLICT) rc = TSL_OK; /* another ingest created it just now */
        r->created = !rc;
    } else if (!rc) {
        tsl_store_dataset_release(&have);
    }
    if (rc) return rc;
    size_t nf = tsl_csv_ndims(r->csv);
    const char **fdims = tsl_calloc(nf ? nf : 1, sizeof *fdims);
    for (size_t i = 0; i < nf; i++) fdims[i] = tsl_csv_dim_name(r->csv, i);
    tsl_store_ingest_opts io;
    memset(&io, 0, sizeof io);
    io.source = r->o->source ? r->o->source : r->path;
    io.who = r->o->who;
    io.origin = r->o->origin;
    io.file = r->o->file;
    io.batch_rows = r->o->batch_rows;
    io.max_rejects = r->o->max_rejects;
    rc = tsl_store_ingest_begin(r->s, ds->name, fdims, nf, &io, &r->in, d);
    tsl_free(fdims);
    if (rc) return rc;
    pending *p = &r->p;
    for (size_t i = 0; i < p->nkept && !rc; i++)
        rc = tsl_store_ingest_reject(r->in, p->kept[i].line, p->kept[i].reason, d);
    for (uint64_t i = 0; i < p->more && !rc; i++)
        rc = tsl_store_ingest_reject(r->in, p->last_line, "rejected (reason not kept)", d);
    pending_release(p);
    return rc;
}

/* Everything that can be checked before reading rows: the declared dimension columns and the
 * stored data set's frequency and dimensions. */
static tsl_err check_header(run *r, tsl_diag *d) {
    const tsl_config_dataset *ds = r->ds;
    size_t nf = tsl_csv_ndims(r->csv);
    const char **fdims = tsl_calloc(nf ? nf : 1, sizeof *fdims);
    for (size_t i = 0; i < nf; i++) fdims[i] = tsl_csv_dim_name(r->csv, i);
    tsl_err rc = TSL_OK;
    if (ds->ndims)
        rc = check_dims(r, fdims, nf, (const char *const *)ds->dims, ds->ndims,
                        "as tsloop.yaml declares for", d);
    tsl_store_dataset have;
    memset(&have, 0, sizeof have);
    tsl_err got = rc ? TSL_OK : tsl_store_dataset_get(r->s, ds->name, &have, d);
    if (!rc && got && got != TSL_ENOTFOUND) rc = got;
    if (!rc && !got) {
        char want[32], stored[32];
        tsl_freq_format(ds->freq, want, sizeof want);
        tsl_freq_format(have.freq, stored, sizeof stored);
        if (ds->freq.unit != TSL_FREQ_NONE && have.freq.unit != TSL_FREQ_NONE &&
            strcmp(want, stored) != 0)
            rc = tsl_diag_set(d, TSL_EINVAL,
                              "data set '%s' is stored with frequency %s, but tsloop.yaml "
                              "declares %s; a data set keeps the frequency it was created with "
                              "(fix the declaration, or ingest into a new data set)",
                              ds->name, stored, want);
        else if (have.ndims)
            rc = check_dims(r, fdims, nf, (const char *const *)have.dim_names, have.ndims,
                            "as stored for", d);
    }
    tsl_store_dataset_release(&have);
    tsl_free(fdims);
    return rc;
}

tsl_err tsl_ingest_file(tsl_store *s, const tsl_config_dataset *ds, const char *path,
                        const tsl_ingest_opts *opts, tsl_store_receipt *receipt, int *created,
                        tsl_diag *d) {
    tsl_ingest_opts defaults;
    memset(&defaults, 0, sizeof defaults);
    run r;
    memset(&r, 0, sizeof r);
    r.s = s;
    r.ds = ds;
    r.o = opts ? opts : &defaults;
    r.path = r.o->name ? r.o->name : path; /* in messages */
    memset(receipt, 0, sizeof *receipt);
    if (created) *created = 0;
    tsl_csv_opts co;
    memset(&co, 0, sizeof co);
    co.item_col = ds->item_col;
    co.time_col = ds->time_col;
    co.target_col = ds->target_col;
    co.name = r.o->name;
    tsl_err rc = tsl_csv_open_file(path, &co, &r.csv, d);
    if (rc) return rc;
    if ((rc = check_header(&r, d))) goto out;
    char reason[512];
    for (;;) {
        const tsl_csv_row *row = NULL;
        tsl_diag rd = {TSL_OK, {0}};
        rc = tsl_csv_next(r.csv, &row, &rd);
        if (rc == TSL_EPARSE) {
            if (++r.read % PROGRESS_ROWS == 0 && r.o->progress)
                r.o->progress(r.o->progress_ctx, r.read);
            if ((rc = reject(&r, tsl_csv_last_line(r.csv), rd.msg, d))) goto out;
            continue;
        }
        if (rc) {
            if (d) *d = rd;
            goto out;
        }
        if (!row) break;
        if (++r.read % PROGRESS_ROWS == 0 && r.o->progress)
            r.o->progress(r.o->progress_ctx, r.read);
        if (ds->non_negative && row->value < 0) {
            snprintf(reason, sizeof reason,
                     "%s:%llu: column '%s': %.17g is negative, expected a value >= 0 (data set "
                     "'%s' is declared non_negative)",
                     tsl_csv_name(r.csv), (unsigned long long)row->line, tsl_csv_target_col(r.csv),
                     row->value, ds->name);
            if ((rc = reject(&r, row->line, reason, d))) goto out;
            continue;
        }
        if (!r.in && (rc = begin(&r, d))) goto out;
        if ((rc = tsl_store_ingest_add(r.in, row, d))) goto out;
    }
    if (r.o->progress) r.o->progress(r.o->progress_ctx, r.read);
    if (!r.in) {
        /* Nothing could be stored: report it, having changed nothing. */
        if (r.read == 0) {
            rc = tsl_diag_set(d, TSL_EPARSE,
                              "%s: no data rows after the header, expected at "
                              "least one row",
                              r.path);
            goto out;
        }
        receipt->read = r.read;
        receipt->rejected = r.read;
        receipt->nrejects = r.p.nkept;
        receipt->rejects = r.p.kept;
        r.p.kept = NULL;
        r.p.nkept = 0;
        rc = tsl_diag_set(d, TSL_EPARSE,
                          "%s: none of its %llu rows could be ingested (the first "
                          "at line %llu: %s); nothing was changed",
                          r.path, (unsigned long long)r.read,
                          (unsigned long long)receipt->rejects[0].line, receipt->rejects[0].reason);
        goto out;
    }
    rc = tsl_store_ingest_end(r.in, receipt, d);
    r.in = NULL;
out:
    if (r.in) tsl_store_ingest_abort(r.in, d && d->msg[0] ? d->msg : tsl_err_str(rc));
    if (created) *created = r.created;
    pending_release(&r.p);
    tsl_csv_close(r.csv);
    return rc;
}
