/*
 * mgmt.c - the management API: ingest over HTTP, pipeline executions, parameters and the
 * event log (as a JSON page and as Server-Sent Events).
 *
 * Every route here is what a CLI command does, through the same library calls: an ingest is
 * tsl_ingest_file on the request body (so the upsert, the rejections and the receipt are those
 * of `tsloop ingest`), executions are tsl_pipeline_request / tsl_store_exec_*, parameters
 * tsl_store_param_*. server.c routes and authorises; the handlers here answer.
 *
 * Bodies. An ingest body is not held in memory: server.c streams it into a file under
 * .tsloop/uploads as it arrives (up to max_ingest_body), and the ingest reads that file - a
 * gzip-compressed CSV as well, since the reader recognises gzip by its magic bytes. An NDJSON
 * body is first translated into a CSV file (ndjson.c) whose line k + 1 is the body's line k;
 * a body with a malformed line is refused whole before the store is touched. Each ingest opens
 * its own store handle, so a long ingest holds no lock the other routes need.
 *
 * Streams. GET /v1/events/stream answers with a callback response. A stream never touches the
 * store from libmicrohttpd's threads: one follower thread, with its own handle, reads the log
 * after each stream's cursor every FOLLOW_MS and appends the matching events (and a heartbeat
 * comment after HEARTBEAT_S of silence) to the stream's buffer. The content reader hands the
 * buffer out; when it is empty it suspends its connection (MHD_suspend_connection, the pattern
 * libmicrohttpd prescribes instead of returning 0 in a loop), and the follower resumes it once
 * there is something to send. The follower calls MHD_resume_connection only under the streams
 * lock, and a stream leaves the list (under the same lock) in the request's completion
 * callback, so a connection is never resumed after it is gone. On shutdown every stream is
 * ended (its reader returns end-of-stream) and the follower stops, before the daemon drains
 * its requests: open streams do not hold SIGTERM up.
 */
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/daemon_impl.h"
#include "tsloop/ingest.h"
#include "tsloop/mem.h"
#include "tsloop/pipeline.h"

#define FOLLOW_MS      100
#define HEARTBEAT_S    15
#define STREAM_BACKLOG ((size_t)256 << 10) /* buffered bytes past which a stream reads no more */
#define EVENT_PAGE     200
#define EVENTS_SCAN    10000 /* raw events one GET /v1/events looks through */
#define NDJSON_LINE    ((size_t)1 << 20)

typedef struct stream {
    struct stream *next;
    struct MHD_Connection *c;
    atomic_int refs; /* the list's and the response's */
    int suspended;   /* its reader suspended the connection and waits for a resume */
    int ended;       /* shutdown: the reader ends the response */
    int64_t cursor;
    char *prefix; /* type filter; NULL: every event */
    tsl_wbuf out;
    size_t sent;
    time_t last_write;
} stream;

struct tsl_mgmt {
    tsl_mgmt_env env;
    char *uploads; /* the folder for request bodies */
    tsl_store *follow_s;
    pthread_t follower;
    int follower_started;
    pthread_mutex_t mu; /* streams, nstreams, stop */
    pthread_cond_t cv;
    stream *streams;
    int nstreams, stop;
};

/* ---- responses ---- */

/* A response holding j (decref'd) as a JSON body. */
static struct MHD_Response *json_resp(json_t *j) {
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    size_t n = strlen(text);
    char *body = tsl_malloc(n + 1);
    memcpy(body, text, n);
    body[n] = '\n';
    free(text);
    struct MHD_Response *r =
        MHD_create_response_from_buffer_with_free_callback(n + 1, body, tsl_free);
    if (!r) {
        tsl_free(body);
        return NULL;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    return r;
}

/* *status = st and a JSON answer. */
static struct MHD_Response *answer(int *status, int st, json_t *j) {
    *status = st;
    return json_resp(j);
}

/* {"error": {"code", "message"}} with status st. */
static struct MHD_Response *fail(int *status, int st, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static struct MHD_Response *fail(int *status, int st, const char *code, const char *fmt, ...) {
    char msg[TSL_DIAG_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return answer(status, st, json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg));
}

/* The status and code for a store error. */
static struct MHD_Response *store_fail(int *status, tsl_err e, const tsl_diag *d) {
    int st = e == TSL_ENOTFOUND   ? MHD_HTTP_NOT_FOUND
             : e == TSL_ECONFLICT ? MHD_HTTP_CONFLICT
             : e == TSL_EINVAL    ? MHD_HTTP_BAD_REQUEST
                                  : MHD_HTTP_SERVICE_UNAVAILABLE;
    const char *code = st == MHD_HTTP_NOT_FOUND     ? "not_found"
                       : st == MHD_HTTP_CONFLICT    ? "conflict"
                       : st == MHD_HTTP_BAD_REQUEST ? "invalid"
                                                    : "store_unavailable";
    return fail(status, st, code, "%s", tsl_diag_msg(d));
}

/* The body as a JSON object: {} when empty; NULL after queuing a 400 in *resp. */
static json_t *body_object(const tsl_mgmt_call *q, int *status, struct MHD_Response **resp) {
    if (!q->len) return json_object();
    json_error_t je;
    json_t *o = json_loadb(q->body, q->len, 0, &je);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        *resp =
            o ? fail(status, MHD_HTTP_BAD_REQUEST, "bad_json", "the body must be a JSON object")
              : fail(status, MHD_HTTP_BAD_REQUEST, "bad_json",
                     "the body is not JSON: line %d, column %d: %s", je.line, je.column, je.text);
        return NULL;
    }
    return o;
}

/* A query argument as a number in [lo, hi]; def when absent; -1 after queuing a 400. */
static long long query_num(const tsl_mgmt_call *q, const char *key, long long def, long long lo,
                           long long hi, int *status, struct MHD_Response **resp) {
    const char *v = MHD_lookup_connection_value(q->c, MHD_GET_ARGUMENT_KIND, key);
    if (!v) return def;
    char *end = NULL;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || errno || x < lo || x > hi) {
        *resp =
            fail(status, MHD_HTTP_BAD_REQUEST, "invalid",
                 "query argument %s: '%.40s' is not an integer in [%lld, %lld]", key, v, lo, hi);
        return -1;
    }
    return x;
}

/* Milliseconds since the epoch as an ISO time string (null for 0). */
static json_t *ms_json(int64_t ms) {
    if (!ms) return json_null();
    char at[48];
    tsl_time_format(ms / 1000, 0, at, sizeof at);
    return json_string(at);
}

/* ---- ingest ---- */

/* The data set declaration, copied under the lock (a reload may free the configuration). */
typedef struct ds_copy {
    tsl_config_dataset ds;
} ds_copy;

static void ds_release(ds_copy *c) {
    tsl_config_dataset *ds = &c->ds;
    tsl_free(ds->name);
    tsl_free(ds->item_col);
    tsl_free(ds->time_col);
    tsl_free(ds->target_col);
    for (size_t i = 0; i < ds->ndims; i++) tsl_free(ds->dims[i]);
    tsl_free(ds->dims);
}

/* Copies the declaration of data set name; TSL_ENOTFOUND naming the declared ones. */
static tsl_err ds_lookup(tsl_mgmt *m, const char *name, ds_copy *out, tsl_diag *d) {
    memset(out, 0, sizeof *out);
    tsl_err err = TSL_OK;
    pthread_mutex_lock(m->env.admin_mu);
    const tsl_config *cfg = *m->env.cfg;
    const tsl_config_dataset *ds = tsl_config_dataset_find(cfg, name);
    if (!ds) {
        tsl_wbuf b;
        tsl_wbuf_init(&b);
        for (size_t i = 0; i < cfg->ndatasets; i++)
            tsl_wbuf_printf(&b, "%s%s", i ? ", " : "", cfg->datasets[i].name);
        err = tsl_diag_set(d, TSL_ENOTFOUND,
                           "data set '%s' is not declared in tsloop.yaml; declared: %s", name,
                           cfg->ndatasets ? tsl_wbuf_cstr(&b) : "none");
        tsl_wbuf_release(&b);
        goto out;
    }
    tsl_config_dataset *c = &out->ds;
    *c = *ds;
    c->name = tsl_strdup(ds->name);
    c->item_col = tsl_strdup(ds->item_col);
    c->time_col = tsl_strdup(ds->time_col);
    c->target_col = ds->target_col ? tsl_strdup(ds->target_col) : NULL;
    c->timezone = NULL;
    c->inbox = NULL;
    c->dims = ds->ndims ? tsl_calloc(ds->ndims, sizeof *c->dims) : NULL;
    for (size_t i = 0; i < ds->ndims; i++) c->dims[i] = tsl_strdup(ds->dims[i]);
out:
    pthread_mutex_unlock(m->env.admin_mu);
    return err;
}

int tsl_mgmt_upload_create(tsl_mgmt *m, char *path, size_t cap) {
    int n = snprintf(path, cap, "%s/body-XXXXXX", m->uploads);
    if (n < 0 || (size_t)n >= cap) return -1;
    return mkstemp(path);
}

/* The receipt as JSON: the fields of `tsloop ingest --json`, file being "body". */
static json_t *receipt_json(const tsl_store_receipt *r, int created, double seconds) {
    json_t *rej = json_array();
    for (size_t i = 0; i < r->nrejects; i++)
        json_array_append_new(rej, json_pack("{s:I, s:s}", "line", (json_int_t)r->rejects[i].line,
                                             "reason", r->rejects[i].reason));
    return json_pack("{s:s, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:b, s:f}", "file",
                     "body", "ingest", r->ingest_id ? json_integer(r->ingest_id) : json_null(),
                     "read", (json_int_t)r->read, "inserted", (json_int_t)r->inserted, "updated",
                     (json_int_t)r->updated, "unchanged", (json_int_t)r->unchanged, "rejected",
                     (json_int_t)r->rejected, "new_items", (json_int_t)r->new_items,
                     "dim_conflicts", (json_int_t)r->dim_conflicts, "rejects", rej, "hash",
                     r->hash[0] ? json_string(r->hash) : json_null(), "created", created, "seconds",
                     seconds);
}

/* Translates the NDJSON file in into a CSV file (its path to csv, cap bytes). TSL_EPARSE
 * naming the line and field; TSL_ELIMIT for a line over NDJSON_LINE. */
static tsl_err ndjson_to_csv(tsl_mgmt *m, tsl_ndjson *j, const char *in, char *csv, size_t cap,
                             tsl_diag *d) {
    tsl_err err = TSL_OK;
    FILE *f = fopen(in, "rb"), *o = NULL;
    char *line = NULL;
    size_t lcap = 0;
    tsl_wbuf b;
    tsl_wbuf_init(&b);
    csv[0] = '\0';
    if (!f) {
        err = tsl_diag_set(d, TSL_EIO, "cannot read the body back: %s", strerror(errno));
        goto out;
    }
    int fd = tsl_mgmt_upload_create(m, csv, cap);
    if (fd < 0 || !(o = fdopen(fd, "wb"))) {
        if (fd >= 0) close(fd);
        err = tsl_diag_set(d, TSL_EIO, "cannot make a file in %s: %s", m->uploads, strerror(errno));
        goto out;
    }
    uint64_t lineno = 0;
    ssize_t n;
    while ((n = getline(&line, &lcap, f)) >= 0) {
        lineno++;
        size_t len = (size_t)n;
        if (len && line[len - 1] == '\n') len--;
        if (len > NDJSON_LINE) {
            err = tsl_diag_set(d, TSL_ELIMIT, "body:%llu: the line is %zu bytes, at most %zu",
                               (unsigned long long)lineno, len, NDJSON_LINE);
            goto out;
        }
        tsl_wbuf_reset(&b);
        if ((err = tsl_ndjson_line(j, line, len, lineno, &b, d))) goto out;
        if (b.len && fwrite(b.data, 1, b.len, o) != b.len) {
            err = tsl_diag_set(d, TSL_EIO, "cannot write %s: %s", csv, strerror(errno));
            goto out;
        }
    }
    if (!tsl_ndjson_records(j))
        err = tsl_diag_set(d, TSL_EPARSE, "body: no records, expected one JSON object per line");
out:
    if (o && fclose(o) && !err)
        err = tsl_diag_set(d, TSL_EIO, "cannot write %s: %s", csv, strerror(errno));
    if (f) fclose(f);
    free(line);
    tsl_wbuf_release(&b);
    return err;
}

/* POST /v1/datasets/NAME/observations. */
static struct MHD_Response *ingest(tsl_mgmt *m, const tsl_mgmt_call *q, int *status) {
    tsl_diag d = {TSL_OK, {0}};
    struct MHD_Response *resp = NULL;
    ds_copy dc;
    tsl_store *s = NULL;
    tsl_ndjson *j = NULL;
    char csv[4096] = "";
    tsl_store_receipt rc;
    memset(&rc, 0, sizeof rc);
    const char *ctype =
        MHD_lookup_connection_value(q->c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    const char *enc =
        MHD_lookup_connection_value(q->c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);
    int ndjson = ctype && (!strncasecmp(ctype, "application/x-ndjson", 20) ||
                           !strncasecmp(ctype, "application/jsonl", 17));
    int is_csv =
        ctype && (!strncasecmp(ctype, "text/csv", 8) || !strncasecmp(ctype, "application/csv", 15));
    if (!ndjson && !is_csv)
        return fail(status, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                    "Content-Type %.80s: expected text/csv or application/x-ndjson",
                    ctype ? ctype : "(none)");
    if (enc && strcasecmp(enc, "identity") && (ndjson || strcasecmp(enc, "gzip")))
        return fail(status, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                    "Content-Encoding %.40s: %s", enc,
                    ndjson ? "NDJSON bodies are taken uncompressed" : "expected gzip or none");
    if (!q->upload)
        return fail(status, MHD_HTTP_BAD_REQUEST, "invalid", "the body is empty: expected %s",
                    ndjson ? "one JSON object per line" : "a CSV header and rows");
    tsl_err err = ds_lookup(m, q->name, &dc, &d);
    if (err) return fail(status, MHD_HTTP_NOT_FOUND, "not_found", "%s", tsl_diag_msg(&d));
    const char *path = q->upload;
    if (ndjson) {
        const tsl_config_dataset *ds = &dc.ds;
        j = tsl_ndjson_new("body", ds->item_col, ds->time_col, ds->target_col,
                           (const char *const *)ds->dims, ds->ndims);
        if ((err = ndjson_to_csv(m, j, q->upload, csv, sizeof csv, &d))) {
            resp = fail(status,
                        err == TSL_ELIMIT ? MHD_HTTP_CONTENT_TOO_LARGE
                        : err == TSL_EIO  ? MHD_HTTP_INTERNAL_SERVER_ERROR
                                          : MHD_HTTP_BAD_REQUEST,
                        err == TSL_EIO ? "io" : "bad_ndjson", "%s", tsl_diag_msg(&d));
            goto out;
        }
        path = csv;
    }
    if ((err = tsl_store_open(m->env.url, NULL, &s, &d))) {
        resp = store_fail(status, err, &d);
        goto out;
    }
    char source[160];
    snprintf(source, sizeof source, "POST /v1/datasets/%s/observations (%s)", q->name,
             ndjson ? "NDJSON" : "CSV");
    tsl_ingest_opts io;
    memset(&io, 0, sizeof io);
    io.who = q->who;
    io.source = source;
    io.name = "body";
    io.origin = "api";
    int created = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    err = tsl_ingest_file(s, &dc.ds, path, &io, &rc, &created, &d);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    if (j) {
        tsl_ndjson_fix_receipt(j, &rc);
        tsl_ndjson_fix_message(j, &d);
        if (err == TSL_EPARSE && rc.nrejects && !rc.ingest_id)
            tsl_diag_set(&d, TSL_EPARSE,
                         "body: none of its %llu records could be ingested (the first at line "
                         "%llu: %s); nothing was changed",
                         (unsigned long long)rc.read, (unsigned long long)rc.rejects[0].line,
                         rc.rejects[0].reason);
    }
    if (!err) {
        resp = answer(status, MHD_HTTP_OK, receipt_json(&rc, created, secs));
    } else if (err == TSL_EPARSE || err == TSL_EINVAL || err == TSL_ELIMIT) {
        json_t *e = json_pack("{s:s, s:s}", "code", ndjson ? "bad_ndjson" : "bad_csv", "message",
                              tsl_diag_msg(&d));
        if (rc.read) json_object_set_new(e, "receipt", receipt_json(&rc, 0, secs));
        resp = answer(status, err == TSL_ELIMIT ? MHD_HTTP_CONTENT_TOO_LARGE : MHD_HTTP_BAD_REQUEST,
                      json_pack("{s:o}", "error", e));
    } else if (err == TSL_EIO) {
        resp = fail(status, MHD_HTTP_BAD_REQUEST, "bad_body", "%s", tsl_diag_msg(&d));
    } else {
        resp = store_fail(status, err, &d);
    }
out:
    tsl_store_receipt_release(&rc);
    tsl_store_close(s);
    tsl_ndjson_free(j);
    if (csv[0]) unlink(csv);
    ds_release(&dc);
    return resp;
}

/* ---- executions ---- */

/* An execution as JSON, with its steps, attempts and their outputs. */
static json_t *exec_json(const tsl_store_exec *e) {
    json_t *steps = json_array();
    for (size_t i = 0; i < e->nsteps; i++) {
        const tsl_store_step *st = &e->steps[i];
        json_t *atts = json_array();
        for (size_t k = 0; k < st->nattempts; k++) {
            const tsl_store_attempt *a = &st->attempts[k];
            json_array_append_new(atts,
                                  json_pack("{s:i, s:s, s:o, s:o, s:s?, s:s?}", "number", a->number,
                                            "status", tsl_step_status_name(a->status), "started",
                                            ms_json(a->started_ms), "ended", ms_json(a->ended_ms),
                                            "error", a->error, "worker", a->worker));
        }
        json_t *out = st->output ? json_loads(st->output, JSON_DECODE_ANY, NULL) : NULL;
        if (out && !strcmp(st->name, "automl") && json_is_array(json_object_get(out, "groups")))
            json_object_set_new(
                out, "groups",
                json_integer((json_int_t)json_array_size(json_object_get(out, "groups"))));
        json_array_append_new(steps, json_pack("{s:s, s:s, s:o, s:o}", "name", st->name, "status",
                                               tsl_step_status_name(st->status), "attempts", atts,
                                               "output", out ? out : json_null()));
    }
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s?, s:o, s:o, s:o, s:s?, s:b, s:i, s:i, "
                     "s:o}",
                     "id", (json_int_t)e->id, "forecaster", e->forecaster, "status",
                     tsl_exec_status_name(e->status), "trigger", e->trigger, "who", e->who,
                     "dedupe_key", e->dedupe_key, "reason", e->reason, "created",
                     ms_json(e->created_ms), "started", ms_json(e->started_ms), "ended",
                     ms_json(e->ended_ms), "owner", e->owner, "owner_dead", e->owner_dead,
                     "requests", e->requests, "recoveries", e->recoveries, "steps", steps);
}

static const char *const outcome_names[] = {"new", "behind", "duplicate", "merged"};

/* POST /v1/forecasters/NAME/executions {"dedupe_key": K}. */
static struct MHD_Response *exec_start(tsl_mgmt *m, const tsl_mgmt_call *q, int *status) {
    struct MHD_Response *resp = NULL;
    json_t *o = body_object(q, status, &resp);
    if (!o) return resp;
    json_t *k = json_object_get(o, "dedupe_key");
    if (k && !json_is_string(k)) {
        json_decref(o);
        return fail(status, MHD_HTTP_BAD_REQUEST, "invalid", "dedupe_key: expected a string");
    }
    tsl_pipeline_opts po;
    memset(&po, 0, sizeof po);
    po.who = q->who;
    int64_t id = 0;
    tsl_exec_outcome how = TSL_EXEC_NEW;
    tsl_diag d = {TSL_OK, {0}};
    pthread_mutex_lock(m->env.admin_mu);
    tsl_err err = tsl_pipeline_request(m->env.admin, *m->env.cfg, q->name, "api",
                                       k ? json_string_value(k) : NULL, &po, &id, &how, &d);
    pthread_mutex_unlock(m->env.admin_mu);
    json_decref(o);
    if (err == TSL_EINVAL) return fail(status, MHD_HTTP_NOT_FOUND, "not_found", "%s", d.msg);
    if (err) return store_fail(status, err, &d);
    char href[48];
    snprintf(href, sizeof href, "/v1/executions/%lld", (long long)id);
    return answer(status, how == TSL_EXEC_DUPLICATE ? MHD_HTTP_OK : MHD_HTTP_ACCEPTED,
                  json_pack("{s:I, s:s, s:s}", "execution", (json_int_t)id, "outcome",
                            outcome_names[how], "href", href));
}

/* GET /v1/executions?forecaster=F&status=S&limit=N. */
static struct MHD_Response *exec_list(tsl_mgmt *m, const tsl_mgmt_call *q, int *status) {
    struct MHD_Response *resp = NULL;
    long long limit = query_num(q, "limit", 20, 1, 1000, status, &resp);
    if (limit < 0) return resp;
    const char *f = MHD_lookup_connection_value(q->c, MHD_GET_ARGUMENT_KIND, "forecaster");
    const char *st = MHD_lookup_connection_value(q->c, MHD_GET_ARGUMENT_KIND, "status");
    int want = -1;
    if (st) {
        for (int k = 0; k <= TSL_EXEC_SUCCEEDED; k++)
            if (!strcasecmp(st, tsl_exec_status_name((tsl_exec_status)k))) want = k;
        if (want < 0)
            return fail(status, MHD_HTTP_BAD_REQUEST, "invalid",
                        "status '%.40s': expected Queued, Executing, Stopping, Stopped, Failed "
                        "or Succeeded",
                        st);
    }
    tsl_store_exec *v = NULL;
    size_t n = 0;
    tsl_diag d = {TSL_OK, {0}};
    pthread_mutex_lock(m->env.admin_mu);
    tsl_err err = tsl_store_exec_list(m->env.admin, f, want < 0 ? (size_t)limit : 0, &v, &n, &d);
    pthread_mutex_unlock(m->env.admin_mu);
    if (err) return store_fail(status, err, &d);
    json_t *arr = json_array();
    for (size_t i = 0; i < n && json_array_size(arr) < (size_t)limit; i++)
        if (want < 0 || (int)v[i].status == want) json_array_append_new(arr, exec_json(&v[i]));
    tsl_store_exec_list_free(v, n);
    return answer(status, MHD_HTTP_OK, json_pack("{s:o}", "executions", arr));
}

/* GET /v1/executions/ID. */
static struct MHD_Response *exec_show(tsl_mgmt *m, const tsl_mgmt_call *q, int *status) {
    tsl_store_exec e;
    tsl_diag d = {TSL_OK, {0}};
    pthread_mutex_lock(m->env.admin_mu);
    tsl_err err = tsl_store_exec_get(m->env.admin, q->id, &e, &d);
    pthread_mutex_unlock(m->env.admin_mu);
    if (err) return store_fail(status, err, &d);
    json_t *o = exec_json(&e);
    tsl_store_exec_release(&e);
    return answer(status, MHD_HTTP_OK, o);
}

/* POST /v1/executions/ID/stop {"why": W}. */
static struct MHD_Response *exec_stop(tsl_mgmt *m, const tsl_mgmt_call *q, int *status) {
    struct MHD_Response *resp = NULL;
    json_t *o = body_object(q, status, &resp);
    if (!o) return resp;
    json_t *why = json_object_get(o, "why");
    if (why && !json_is_string(why)) {
        json_decref(o);
        return fail(status, MHD_HTTP_BAD_REQUEST, "invalid", "why: expected a string");
    }
    tsl_exec_status st = TSL_EXEC_QUEUED;
    tsl_diag d = {TSL_OK, {0}};
    pthread_mutex_lock(m->env.admin_mu);
    tsl_err err =
        tsl_store_exec_stop(m->env.admin, q->id, q->who,
                            why ? json_string_value(why) : "stopped over the API", &st, &d);
    pthread_mutex_unlock(m->env.admin_mu);
    json_decref(o);
    if (err) return store_fail(status, err, &d);
    return answer(status, MHD_HTTP_OK,
                  json_pack("{s:I, s:s}", "execution", (json_int_t)q->id, "status",
                            tsl_exec_status_name(st)));
}

/* POST /v1/executions/ID/resume: takes back executions whose worker died, so that a pipeline
 * worker claims this one again; an ended execution does not resume (409). */
static struct MHD_Response *exec_resume(tsl_mgmt *m, const tsl_mgmt_call *q, int *status) {
    tsl_store_exec e;
    size_t recovered = 0;
    tsl_diag d = {TSL_OK, {0}};
    pthread_mutex_lock(m->env.admin_mu);
    tsl_err err = tsl_store_exec_get(m->env.admin, q->id, &e, &d);
    if (!err) {
        tsl_store_exec_release(&e);
        err = tsl_store_exec_recover(m->env.admin, &recovered, &d);
    }
    if (!err) err = tsl_store_exec_get(m->env.admin, q->id, &e, &d);
    pthread_mutex_unlock(m->env.admin_mu);
    if (err) return store_fail(status, err, &d);
    struct MHD_Response *resp;
    if (tsl_exec_status_terminal(e.status))
        resp = fail(status, MHD_HTTP_CONFLICT, "conflict",
                    "execution %lld ended (%s%s%s); an ended execution does not resume: start a "
                    "new one (POST /v1/forecasters/%s/executions)",
                    (long long)e.id, tsl_exec_status_name(e.status), e.reason ? ": " : "",
                    e.reason ? e.reason : "", e.forecaster);
    else
        resp =
            answer(status, MHD_HTTP_OK,
                   json_pack("{s:I, s:s, s:I}", "execution", (json_int_t)e.id, "status",
                             tsl_exec_status_name(e.status), "recovered", (json_int_t)recovered));
    tsl_store_exec_release(&e);
    return resp;
}

/* ---- parameters ---- */

static json_t *param_json(const tsl_store_param *p) {
    return json_pack("{s:s, s:i, s:s, s:s, s:s, s:o}", "key", p->key, "version", p->version,
                     "value", p->value, "who", p->who ? p->who : "", "why", p->why ? p->why : "",
                     "at", ms_json(p->at_ms));
}

/* GET /v1/parameters. */
static struct MHD_Response *param_list(tsl_mgmt *m, int *status) {
    tsl_store_param *v = NULL;
    size_t n = 0;
    tsl_diag d = {TSL_OK, {0}};
    pthread_mutex_lock(m->env.admin_mu);
    tsl_err err = tsl_store_param_list(m->env.admin, &v, &n, &d);
    pthread_mutex_unlock(m->env.admin_mu);
    if (err) return store_fail(status, err, &d);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, param_json(&v[i]));
    tsl_store_param_list_free(v, n);
    return answer(status, MHD_HTTP_OK, json_pack("{s:o}", "parameters", arr));
}

/* GET /v1/parameters/KEY[?version=N]: the version asked (default the latest) and every
 * version. */
static struct MHD_Response *param_show(tsl_mgmt *m, const tsl_mgmt_call *q, int *status) {
    struct MHD_Response *resp = NULL;
    long long version = query_num(q, "version", 0, 1, 1000000000, status, &resp);
    if (version < 0) return resp;
    tsl_store_param p, *h = NULL;
    size_t n = 0;
    tsl_diag d = {TSL_OK, {0}};
    pthread_mutex_lock(m->env.admin_mu);
    tsl_err err = tsl_store_param_get(m->env.admin, q->name, (int)version, &p, &d);
    if (!err && (err = tsl_store_param_history(m->env.admin, q->name, &h, &n, &d)))
        tsl_store_param_release(&p);
    pthread_mutex_unlock(m->env.admin_mu);
    if (err) return store_fail(status, err, &d);
    json_t *o = param_json(&p), *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, param_json(&h[i]));
    json_object_set_new(o, "versions", arr);
    tsl_store_param_release(&p);
    tsl_store_param_list_free(h, n);
    return answer(status, MHD_HTTP_OK, o);
}

/* PUT /v1/parameters/KEY {"value": V, "why": W}: a string value is stored as is, any other
 * JSON value as its compact text. */
static struct MHD_Response *param_set(tsl_mgmt *m, const tsl_mgmt_call *q, int *status) {
    struct MHD_Response *resp = NULL;
    json_t *o = body_object(q, status, &resp);
    if (!o) return resp;
    json_t *v = json_object_get(o, "value"), *why = json_object_get(o, "why");
    if (!v || (why && !json_is_string(why))) {
        json_decref(o);
        return fail(status, MHD_HTTP_BAD_REQUEST, "invalid",
                    !v ? "value is missing: expected {\"value\": ..., \"why\": \"...\"}"
                       : "why: expected a string");
    }
    char *text = json_is_string(v) ? NULL : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    int version = 0;
    tsl_diag d = {TSL_OK, {0}};
    pthread_mutex_lock(m->env.admin_mu);
    tsl_err err = tsl_store_param_set(m->env.admin, q->name, text ? text : json_string_value(v),
                                      q->who, why ? json_string_value(why) : "", &version, &d);
    pthread_mutex_unlock(m->env.admin_mu);
    json_t *out = err ? NULL
                      : json_pack("{s:s, s:i, s:s}", "key", q->name, "version", version, "value",
                                  text ? text : json_string_value(v));
    free(text);
    json_decref(o);
    if (err) return store_fail(status, err, &d);
    return answer(status, MHD_HTTP_OK, out);
}

/* ---- events ---- */

/* An event as JSON (its payload parsed). */
static json_t *event_json(const tsl_store_event *e) {
    json_t *p = json_loads(e->payload, JSON_DECODE_ANY, NULL);
    return json_pack("{s:I, s:o, s:s, s:s, s:o}", "id", (json_int_t)e->id, "at", ms_json(e->at_ms),
                     "type", e->type, "subject", e->subject, "payload",
                     p ? p : json_string(e->payload));
}

/* 1 when type starts with prefix (NULL: every type). */
static int type_matches(const char *prefix, const char *type) {
    return !prefix || !strncmp(type, prefix, strlen(prefix));
}

/* GET /v1/events?after=ID&limit=N&type=PREFIX: events after the cursor, oldest first; "next"
 * is the cursor for the next page (the last event looked at, matching or not). */
static struct MHD_Response *event_page(tsl_mgmt *m, const tsl_mgmt_call *q, int *status) {
    struct MHD_Response *resp = NULL;
    long long after = query_num(q, "after", 0, 0, INT64_MAX, status, &resp);
    if (after < 0) return resp;
    long long limit = query_num(q, "limit", 100, 1, 1000, status, &resp);
    if (limit < 0) return resp;
    const char *prefix = MHD_lookup_connection_value(q->c, MHD_GET_ARGUMENT_KIND, "type");
    json_t *arr = json_array();
    int64_t cursor = after;
    size_t scanned = 0;
    tsl_diag d = {TSL_OK, {0}};
    tsl_err err = TSL_OK;
    while (json_array_size(arr) < (size_t)limit && scanned < EVENTS_SCAN) {
        tsl_store_event *v = NULL;
        size_t n = 0;
        pthread_mutex_lock(m->env.admin_mu);
        err = tsl_store_event_list(m->env.admin, cursor, EVENT_PAGE, &v, &n, &d);
        pthread_mutex_unlock(m->env.admin_mu);
        if (err) break;
        size_t i = 0;
        for (; i < n && json_array_size(arr) < (size_t)limit; i++) {
            if (type_matches(prefix, v[i].type)) json_array_append_new(arr, event_json(&v[i]));
            cursor = v[i].id;
        }
        scanned += i;
        tsl_store_event_list_free(v, n);
        if (n < EVENT_PAGE) break;
    }
    if (err) {
        json_decref(arr);
        return store_fail(status, err, &d);
    }
    return answer(status, MHD_HTTP_OK,
                  json_pack("{s:o, s:I}", "events", arr, "next", (json_int_t)cursor));
}

/* Drops a reference on st; the last frees it. Atomic, so that libmicrohttpd's free callback
 * takes none of our locks. */
static void stream_unref(stream *st) {
    if (atomic_fetch_sub(&st->refs, 1) != 1) return;
    tsl_wbuf_release(&st->out);
    tsl_free(st->prefix);
    tsl_free(st);
}

typedef struct stream_ref {
    tsl_mgmt *m;
    stream *st;
} stream_ref;

/* The content reader of a stream: what is buffered, else suspend until the follower has
 * more; end-of-stream once the daemon stops. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    stream_ref *sr = cls;
    tsl_mgmt *m = sr->m;
    stream *st = sr->st;
    ssize_t n;
    pthread_mutex_lock(&m->mu);
    st->suspended = 0;
    size_t left = st->out.len - st->sent;
    if (left) {
        n = (ssize_t)(left < max ? left : max);
        memcpy(buf, st->out.data + st->sent, (size_t)n);
        st->sent += (size_t)n;
        if (st->sent == st->out.len) {
            tsl_wbuf_reset(&st->out);
            st->sent = 0;
        }
    } else if (st->ended) {
        n = MHD_CONTENT_READER_END_OF_STREAM;
    } else {
        /* Suspended under the lock: the follower's resume (also under it) comes after. */
        st->suspended = 1;
        MHD_suspend_connection(st->c);
        n = 0;
    }
    pthread_mutex_unlock(&m->mu);
    return n;
}

/* The response's free callback: its reference on the stream. */
static void stream_free(void *cls) {
    stream_ref *sr = cls;
    stream_unref(sr->st);
    tsl_free(sr);
}

void tsl_mgmt_stream_done(tsl_mgmt *m, void *handle) {
    stream *st = handle;
    int listed = 0;
    if (!st) return;
    pthread_mutex_lock(&m->mu);
    for (stream **p = &m->streams; *p; p = &(*p)->next)
        if (*p == st) {
            *p = st->next;
            m->nstreams--;
            listed = 1;
            break;
        }
    pthread_mutex_unlock(&m->mu);
    if (listed) stream_unref(st);
}

/* GET /v1/events/stream[?type=PREFIX&after=ID], Last-Event-ID resuming. */
static struct MHD_Response *event_stream(tsl_mgmt *m, const tsl_mgmt_call *q, int *status,
                                         void **handle) {
    struct MHD_Response *resp = NULL;
    long long after = query_num(q, "after", -1, 0, INT64_MAX, status, &resp);
    if (resp) return resp;
    const char *last = MHD_lookup_connection_value(q->c, MHD_HEADER_KIND, "Last-Event-ID");
    if (last) {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(last, &end, 10);
        if (!*last || *end || errno || v < 0)
            return fail(status, MHD_HTTP_BAD_REQUEST, "invalid",
                        "Last-Event-ID '%.40s': expected an event id", last);
        after = v;
    }
    if (after < 0) {
        /* No cursor: from now on. */
        tsl_diag d = {TSL_OK, {0}};
        tsl_store_event *v = NULL;
        size_t n = 0;
        after = 0;
        pthread_mutex_lock(m->env.admin_mu);
        tsl_err err = TSL_OK;
        do {
            tsl_store_event_list_free(v, n);
            v = NULL;
            if ((err = tsl_store_event_list(m->env.admin, after, 1000, &v, &n, &d))) break;
            if (n) after = v[n - 1].id;
        } while (n == 1000);
        tsl_store_event_list_free(v, err ? 0 : n);
        pthread_mutex_unlock(m->env.admin_mu);
        if (err) return store_fail(status, err, &d);
    }
    const char *prefix = MHD_lookup_connection_value(q->c, MHD_GET_ARGUMENT_KIND, "type");
    pthread_mutex_lock(&m->mu);
    if (m->stop || m->nstreams >= m->env.max_streams) {
        int stopping = m->stop;
        pthread_mutex_unlock(&m->mu);
        return fail(status, MHD_HTTP_SERVICE_UNAVAILABLE, "too_many_streams",
                    stopping ? "the daemon is stopping"
                             : "%d event streams are open, the most this daemon serves",
                    m->env.max_streams);
    }
    stream *st = tsl_calloc(1, sizeof *st);
    st->c = q->c;
    atomic_init(&st->refs, 2);
    st->cursor = after;
    st->prefix = prefix && *prefix ? tsl_strdup(prefix) : NULL;
    tsl_wbuf_init(&st->out);
    tsl_wbuf_puts(&st->out, ": tsloop event stream\nretry: 2000\n\n");
    st->last_write = time(NULL);
    stream_ref *sr = tsl_calloc(1, sizeof *sr);
    sr->m = m;
    sr->st = st;
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, sr, stream_free);
    if (!resp) {
        pthread_mutex_unlock(&m->mu);
        tsl_free(sr);
        atomic_store(&st->refs, 1);
        stream_unref(st);
        return NULL;
    }
    st->next = m->streams;
    m->streams = st;
    m->nstreams++;
    pthread_mutex_unlock(&m->mu);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    *handle = st;
    *status = MHD_HTTP_OK;
    return resp;
}

/* Appends one event to a stream as an SSE message (the data on one line: compact JSON). */
static void stream_put(stream *st, const tsl_store_event *e) {
    json_t *o = event_json(e);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    tsl_wbuf_printf(&st->out, "id: %lld\nevent: %s\ndata: %s\n\n", (long long)e->id, e->type, text);
    free(text);
}

/* One round of the follower: new events into each stream's buffer, heartbeats, resumes. */
static void follow_once(tsl_mgmt *m) {
    time_t now = time(NULL);
    pthread_mutex_lock(&m->mu);
    for (stream *st = m->streams; st; st = st->next) {
        if (st->ended) continue;
        size_t before = st->out.len;
        while (st->out.len - st->sent < STREAM_BACKLOG) {
            tsl_store_event *v = NULL;
            size_t n = 0;
            tsl_diag d = {TSL_OK, {0}};
            if (tsl_store_event_list(m->follow_s, st->cursor, EVENT_PAGE, &v, &n, &d)) break;
            for (size_t i = 0; i < n; i++) {
                if (type_matches(st->prefix, v[i].type)) stream_put(st, &v[i]);
                st->cursor = v[i].id;
            }
            tsl_store_event_list_free(v, n);
            if (n < EVENT_PAGE) break;
        }
        if (st->out.len == before && now - st->last_write >= HEARTBEAT_S)
            tsl_wbuf_puts(&st->out, ": heartbeat\n\n");
        if (st->out.len != before) st->last_write = now;
        if (st->suspended && st->out.len > st->sent) {
            st->suspended = 0;
            MHD_resume_connection(st->c);
        }
    }
    pthread_mutex_unlock(&m->mu);
}

/* The follower thread: follow_once every FOLLOW_MS until stopped. */
static void *follower_main(void *arg) {
    tsl_mgmt *m = arg;
    pthread_mutex_lock(&m->mu);
    while (!m->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += FOLLOW_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&m->cv, &m->mu, &until);
        if (m->stop) break;
        int any = m->streams != NULL;
        pthread_mutex_unlock(&m->mu);
        if (any) follow_once(m);
        pthread_mutex_lock(&m->mu);
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

/* ---- life cycle ---- */

tsl_err tsl_mgmt_new(const tsl_mgmt_env *env, tsl_mgmt **out, tsl_diag *d) {
    tsl_mgmt *m = tsl_calloc(1, sizeof *m);
    tsl_err err = TSL_OK;
    *out = NULL;
    m->env = *env;
    if (m->env.max_streams <= 0) m->env.max_streams = 32;
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    m->uploads = tsl_strdup(env->uploads);
    if (mkdir(m->uploads, 0700) && errno != EEXIST) {
        err = tsl_diag_set(d, TSL_EIO, "cannot make the upload folder %s: %s", m->uploads,
                           strerror(errno));
        goto out;
    }
    if ((err = tsl_store_open(env->url, NULL, &m->follow_s, d))) goto out;
    if (pthread_create(&m->follower, NULL, follower_main, m)) {
        err = tsl_diag_set(d, TSL_EINTERNAL, "cannot start the event stream thread");
        goto out;
    }
    m->follower_started = 1;
    *out = m;
out:
    if (err) tsl_mgmt_free(m);
    return err;
}

void tsl_mgmt_shutdown(tsl_mgmt *m) {
    if (!m) return;
    pthread_mutex_lock(&m->mu);
    m->stop = 1;
    pthread_cond_signal(&m->cv);
    for (stream *st = m->streams; st; st = st->next) {
        st->ended = 1;
        if (st->suspended) {
            st->suspended = 0;
            MHD_resume_connection(st->c);
        }
    }
    pthread_mutex_unlock(&m->mu);
    if (m->follower_started) {
        pthread_join(m->follower, NULL);
        m->follower_started = 0;
    }
}

void tsl_mgmt_free(tsl_mgmt *m) {
    if (!m) return;
    tsl_mgmt_shutdown(m);
    /* Streams still listed lost their connection with the server's stop. */
    while (m->streams) {
        stream *st = m->streams;
        m->streams = st->next;
        stream_unref(st);
    }
    tsl_store_close(m->follow_s);
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    tsl_free(m->uploads);
    tsl_free(m);
}

struct MHD_Response *tsl_mgmt_handle(tsl_mgmt *m, const tsl_mgmt_call *q, int *status,
                                     void **handle) {
    *handle = NULL;
    switch (q->op) {
    case TSL_MGMT_INGEST:
        return ingest(m, q, status);
    case TSL_MGMT_EXEC_START:
        return exec_start(m, q, status);
    case TSL_MGMT_EXEC_LIST:
        return exec_list(m, q, status);
    case TSL_MGMT_EXEC_SHOW:
        return exec_show(m, q, status);
    case TSL_MGMT_EXEC_STOP:
        return exec_stop(m, q, status);
    case TSL_MGMT_EXEC_RESUME:
        return exec_resume(m, q, status);
    case TSL_MGMT_PARAM_LIST:
        return param_list(m, status);
    case TSL_MGMT_PARAM_SHOW:
        return param_show(m, q, status);
    case TSL_MGMT_PARAM_SET:
        return param_set(m, q, status);
    case TSL_MGMT_EVENTS:
        return event_page(m, q, status);
    case TSL_MGMT_EVENT_STREAM:
        return event_stream(m, q, status, handle);
    }
    return NULL;
}
