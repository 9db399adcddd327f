/*
 * notify.c - the store's front end for the inbox's record of handled files and for the
 * notification channels' positions in the event log (store.h states the contracts).
 *
 * As in store.c and serving.c, arguments are checked here and the checked call goes to the
 * back end's table. Only the notifier writes notification.sent and notification.failed, through
 * tsl_store_notify_advance, so the type is checked against those two: the event log's other
 * writers use tsl_store_event_append.
 */
#include <jansson.h>
#include <string.h>

#include "store/store_impl.h"
#include "tsloop/mem.h"

/* Longest channel name (a tsloop.yaml name) and error text kept. */
#define CHANNEL_MAX 64
#define ERROR_MAX   4096

/* A SHA-256 as 64 lowercase hex digits. */
static tsl_err check_sha256(tsl_diag *d, const char *h) {
    size_t n = h ? strlen(h) : 0;
    int ok = n == 64;
    for (size_t i = 0; ok && i < n; i++)
        ok = (h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f');
    if (ok) return TSL_OK;
    return tsl_diag_set(d, TSL_EINVAL, "inbox file hash '%s': expected 64 lowercase hex digits",
                        h ? h : "(none)");
}

/* A file name inside an inbox folder: 1-255 bytes, no '/', not "." or "..". */
static tsl_err check_file_name(tsl_diag *d, const char *name) {
    size_t n = name ? strlen(name) : 0;
    if (n >= 1 && n <= 255 && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, ".."))
        return tsl_sto_check_text(d, "inbox file name", name, 255);
    return tsl_diag_set(d, TSL_EINVAL,
                        "inbox file name '%s': expected 1 to 255 bytes without '/', not . or ..",
                        name ? name : "(none)");
}

void tsl_store_inbox_file_release(tsl_store_inbox_file *f) {
    if (!f) return;
    tsl_free(f->dataset);
    tsl_free(f->name);
    tsl_free(f->error);
    memset(f, 0, sizeof *f);
}

tsl_err tsl_store_inbox_find(tsl_store *s, const char *dataset, const char *name, int64_t size,
                             const char *sha256, tsl_store_inbox_file *out, tsl_diag *d) {
    tsl_err err;
    memset(out, 0, sizeof *out);
    if ((err = tsl_sto_ready(s, d)) ||
        (err = tsl_sto_check_name(d, "data set", dataset, TSL_STORE_NAME_MAX, 0)) ||
        (err = check_file_name(d, name)) || (err = check_sha256(d, sha256)))
        return err;
    return s->vt->inbox_find(s, dataset, name, size, sha256, out, d);
}

tsl_err tsl_store_inbox_record(tsl_store *s, const tsl_store_inbox_file *f, tsl_diag *d) {
    tsl_err err;
    if ((err = tsl_sto_ready(s, d)) ||
        (err = tsl_sto_check_name(d, "data set", f->dataset, TSL_STORE_NAME_MAX, 0)) ||
        (err = check_file_name(d, f->name)) || (err = check_sha256(d, f->sha256)) ||
        (err = tsl_sto_check_text(d, "inbox file error", f->error, ERROR_MAX)))
        return err;
    if (f->size < 0 || f->ingest_id < 0)
        return tsl_diag_set(d, TSL_EINVAL, "inbox file '%s': negative size or ingest id", f->name);
    return s->vt->inbox_record(s, f, d);
}

void tsl_store_notify_state_release(tsl_store_notify_state *st) {
    if (!st) return;
    tsl_free(st->error);
    memset(st, 0, sizeof *st);
}

tsl_err tsl_store_notify_get(tsl_store *s, const char *channel, tsl_store_notify_state *out,
                             tsl_diag *d) {
    tsl_err err;
    memset(out, 0, sizeof *out);
    if ((err = tsl_sto_ready(s, d)) ||
        (err = tsl_sto_check_name(d, "channel", channel, CHANNEL_MAX, 0)))
        return err;
    return s->vt->notify_get(s, channel, out, d);
}

tsl_err tsl_store_notify_fail(tsl_store *s, const char *channel, int64_t event_id, int attempts,
                              int64_t next_ms, const char *error, tsl_diag *d) {
    tsl_err err;
    if ((err = tsl_sto_ready(s, d)) ||
        (err = tsl_sto_check_name(d, "channel", channel, CHANNEL_MAX, 0)) ||
        (err = tsl_sto_check_text(d, "notification error", error, ERROR_MAX)))
        return err;
    if (event_id <= 0 || attempts < 1)
        return tsl_diag_set(d, TSL_EINVAL,
                            "channel '%s': failed attempt %d at event %lld, expected an event id "
                            "and attempts >= 1",
                            channel, attempts, (long long)event_id);
    return s->vt->notify_fail(s, channel, event_id, attempts, next_ms, error, d);
}

tsl_err tsl_store_notify_advance(tsl_store *s, const char *channel, int64_t event_id,
                                 const char *type, const char *payload, tsl_diag *d) {
    tsl_err err;
    if ((err = tsl_sto_ready(s, d)) ||
        (err = tsl_sto_check_name(d, "channel", channel, CHANNEL_MAX, 0)))
        return err;
    if (type && strcmp(type, "notification.sent") && strcmp(type, "notification.failed"))
        return tsl_diag_set(d, TSL_EINVAL,
                            "event type '%s': expected notification.sent or notification.failed",
                            type);
    if (payload) {
        json_error_t je;
        json_t *j = json_loads(payload, 0, &je);
        if (!j)
            return tsl_diag_set(d, TSL_EINVAL, "notification payload: not valid JSON (%s)",
                                je.text);
        json_decref(j);
    }
    return s->vt->notify_advance(s, channel, event_id, type, payload, d);
}
