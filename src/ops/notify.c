/*
 * notify.c - routing, messages and delivery of notifications (see notify.h,
 * docs/notifications.md).
 *
 * Messages. Each event type the loop produces has a renderer that says in words what happened,
 * from whatever its payload holds: other parts of tsloop emit these payloads and may add or
 * lack fields, so a renderer prints what it finds and skips what it does not, never failing.
 * An approval message ends with the exact commands: the CLI line and the curl call of the API.
 *
 * Delivery is one attempt; retries, backoff and the dead letter are the notifier's (the
 * channel's state is in the store, so they survive restarts).
 *   - webhook: POST of tsl_notify_body, with X-Tsloop-Event (the type), X-Tsloop-Delivery
 *     ("CHANNEL-EVENTID": the same on every retry, so a receiver can drop duplicates of an
 *     at-least-once delivery) and X-Tsloop-Signature: sha256=HMAC-SHA256(secret, body), the
 *     scheme GitHub's webhooks use, so receivers know how to check it; libcurl, a 2xx answer
 *     is success.
 *   - e-mail: a plain-text RFC 5322 message (Date, Message-ID, From, To, Subject, UTF-8 body)
 *     sent with libcurl's SMTP; STARTTLS required when asked (CURLUSESSL_ALL).
 *   - command: posix_spawn of argv (no shell), the body on standard input, stdout and stderr
 *     to /dev/null, an environment of PATH, LANG and TSLOOP_EVENT/TSLOOP_CHANNEL only, killed
 *     (SIGKILL) at its timeout; exit status 0 is success.
 */
#include "tsloop/notify.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tsloop/mem.h"
#include "tsloop/time.h"

/* ---- routing and backoff ---- */

int tsl_notify_pattern_match(const char *pattern, const char *type) {
    size_t n = strlen(pattern);
    if (!strcmp(pattern, "*")) return 1;
    if (n >= 2 && !strcmp(pattern + n - 2, ".*")) return !strncmp(pattern, type, n - 1);
    return !strcmp(pattern, type);
}

int tsl_notify_routes(const tsl_channel *c, const tsl_store_event *e) {
    if (!strncmp(e->type, "notification.", 13)) {
        if (strcmp(e->type, "notification.failed")) return 0;
        json_t *j = json_loads(e->payload ? e->payload : "{}", 0, NULL);
        const char *ch = json_string_value(json_object_get(j, "channel"));
        const char *et = json_string_value(json_object_get(j, "event_type"));
        int loop = (ch && !strcmp(ch, c->name)) || (et && !strncmp(et, "notification.", 13));
        json_decref(j);
        if (loop) return 0;
    }
    for (size_t i = 0; i < c->nevents; i++)
        if (tsl_notify_pattern_match(c->events[i], e->type)) return 1;
    return 0;
}

int64_t tsl_notify_backoff_ms(const tsl_channel *c, int attempt) {
    int64_t w = c->backoff_ms;
    for (int k = 1; k < attempt && w < c->max_backoff_ms; k++) w *= 2;
    return w < c->max_backoff_ms ? w : c->max_backoff_ms;
}

/* ---- messages ---- */

static const char *str(json_t *o, const char *key) {
    return json_string_value(json_object_get(o, key));
}

/* A number field as text ("%.4g"), or NULL when absent. */
static const char *num(json_t *o, const char *key, char *buf, size_t cap) {
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v)) return NULL;
    snprintf(buf, cap, "%.4g", json_number_value(v));
    return buf;
}

/* "ENTRY/V" of a model payload into buf, or NULL. */
static const char *model_ref(json_t *o, char *buf, size_t cap) {
    const char *entry = str(o, "entry");
    if (!entry) entry = str(o, "forecaster");
    json_t *v = json_object_get(o, "version");
    if (!entry || !json_is_integer(v)) return NULL;
    snprintf(buf, cap, "%s/%lld", entry, (long long)json_integer_value(v));
    return buf;
}

/* The commands that approve or reject version ref. */
static void approval_howto(tsl_wbuf *out, const char *ref) {
    tsl_wbuf_printf(out,
                    "\nTo approve it:\n  tsloop models approve %s --why \"...\"\n"
                    "  curl -X POST -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: "
                    "application/json' -d '{\"why\":\"...\"}' "
                    "http://HOST:PORT/v1/models/%s/approve\n"
                    "To reject it:\n  tsloop models reject %s --why \"...\"\n"
                    "  curl -X POST -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: "
                    "application/json' -d '{\"why\":\"...\"}' "
                    "http://HOST:PORT/v1/models/%s/reject\n",
                    ref, ref, ref, ref);
}

static void render_alarm(json_t *o, tsl_wbuf *out) {
    char b1[32], b2[32];
    const char *mon = str(o, "monitor"), *state = str(o, "state"), *prev = str(o, "previous");
    const char *metric = str(o, "metric");
    tsl_wbuf_printf(out, "Alarm %s: %s -> %s\n\n", mon ? mon : "(unnamed monitor)",
                    prev ? prev : "?", state ? state : "?");
    if (str(o, "kind")) tsl_wbuf_printf(out, "Monitor: %s (%s)\n", mon ? mon : "?", str(o, "kind"));
    if (str(o, "forecaster")) tsl_wbuf_printf(out, "Forecaster: %s\n", str(o, "forecaster"));
    if (str(o, "endpoint")) tsl_wbuf_printf(out, "Endpoint: %s\n", str(o, "endpoint"));
    const char *v = num(o, "value", b1, sizeof b1), *t = num(o, "threshold", b2, sizeof b2);
    if (metric || v || t) {
        tsl_wbuf_printf(out, "%s", metric ? metric : "value");
        if (v) tsl_wbuf_printf(out, " = %s", v);
        if (t) {
            const char *cmp = str(o, "comparison");
            tsl_wbuf_printf(out, " against threshold %s%s%s%s", t, cmp ? " (" : "", cmp ? cmp : "",
                            cmp ? ")" : "");
        }
        tsl_wbuf_putc(out, '\n');
    }
    if (str(o, "reason")) tsl_wbuf_printf(out, "Why: %s\n", str(o, "reason"));
    json_t *dp = json_object_get(o, "datapoints");
    if (json_array_size(dp)) {
        tsl_wbuf_printf(out, "Last windows:\n");
        size_t i;
        json_t *x;
        json_array_foreach(dp, i, x) {
            const char *w = str(x, "window_start");
            const char *xv = num(x, "value", b1, sizeof b1);
            tsl_wbuf_printf(out, "  %s  %s%s\n", w ? w : "?", xv ? xv : "missing",
                            xv && t &&
                                    json_number_value(json_object_get(x, "value")) >
                                        json_number_value(json_object_get(o, "threshold"))
                                ? "  (above the threshold)"
                                : "");
        }
    }
    if (str(o, "at")) tsl_wbuf_printf(out, "At: %s\n", str(o, "at"));
}

static void render_compared(json_t *o, tsl_wbuf *out) {
    char ref[160], b1[32], b2[32], b3[32];
    const char *r = model_ref(o, ref, sizeof ref);
    const char *metric = str(o, "metric");
    json_t *better = json_object_get(o, "better");
    tsl_wbuf_printf(out, "Challenger %s %s the champion\n\n", r ? r : "(unknown version)",
                    json_is_true(better)    ? "beats"
                    : json_is_false(better) ? "does not beat"
                                            : "was compared with");
    json_t *cv = json_object_get(o, "champion_version");
    const char *ch = num(o, "champion", b1, sizeof b1), *cl = num(o, "challenger", b2, sizeof b2);
    tsl_wbuf_printf(out, "%s: challenger %s, champion %s (lower is better)\n",
                    metric ? metric : "metric", cl ? cl : "?", ch ? ch : "?");
    if (json_is_integer(cv))
        tsl_wbuf_printf(out, "Champion: version %lld\n", (long long)json_integer_value(cv));
    const char *m = num(o, "margin", b3, sizeof b3);
    if (m) tsl_wbuf_printf(out, "Required margin: %s\n", m);
    json_t *orig = json_object_get(o, "origins"), *pts = json_object_get(o, "points");
    const char *src = str(o, "source");
    if (src && !strcmp(src, "shadow"))
        tsl_wbuf_printf(out,
                        "Scored in shadow on endpoint %s: the same forecasts at %lld origins, "
                        "%lld points\n",
                        str(o, "endpoint") ? str(o, "endpoint") : "?",
                        (long long)json_integer_value(orig), (long long)json_integer_value(pts));
    else if (json_is_integer(orig) || json_is_integer(pts))
        tsl_wbuf_printf(out, "Scored on the same recent data: %lld origins, %lld points\n",
                        (long long)json_integer_value(orig), (long long)json_integer_value(pts));
    if (str(o, "decision")) tsl_wbuf_printf(out, "Decision: %s\n", str(o, "decision"));
    if (r) approval_howto(out, r);
}

static void render_model(const char *type, json_t *o, tsl_wbuf *out) {
    char ref[160];
    const char *r = model_ref(o, ref, sizeof ref);
    const char *what = !strcmp(type, "model.pending")          ? "waits for approval"
                       : !strcmp(type, "model.approved")       ? "was approved"
                       : !strcmp(type, "model.rejected")       ? "was rejected"
                       : !strcmp(type, "model.registered")     ? "was registered"
                       : !strcmp(type, "model.shadow_started") ? "runs in shadow"
                       : !strcmp(type, "model.shadow_ended")   ? "ended its shadow run"
                                                               : type;
    tsl_wbuf_printf(out, "Model %s %s\n\n", r ? r : "(unknown version)", what);
    if (str(o, "status")) tsl_wbuf_printf(out, "Status: %s\n", str(o, "status"));
    if (str(o, "who") && str(o, "who")[0]) tsl_wbuf_printf(out, "By: %s\n", str(o, "who"));
    if (str(o, "why") && str(o, "why")[0]) tsl_wbuf_printf(out, "Why: %s\n", str(o, "why"));
    if (str(o, "dataset")) tsl_wbuf_printf(out, "Trained on data set: %s\n", str(o, "dataset"));
    if (!strncmp(type, "model.shadow_", 13)) {
        json_t *w = json_object_get(o, "windows"), *cv = json_object_get(o, "champion_version");
        if (str(o, "endpoint")) tsl_wbuf_printf(out, "Endpoint: %s\n", str(o, "endpoint"));
        if (json_is_integer(cv))
            tsl_wbuf_printf(out, "Beside: version %lld\n", (long long)json_integer_value(cv));
        if (json_is_integer(w))
            tsl_wbuf_printf(out, "Windows: %lld\n", (long long)json_integer_value(w));
        if (str(o, "outcome")) tsl_wbuf_printf(out, "Outcome: %s\n", str(o, "outcome"));
    }
    if (r && (!strcmp(type, "model.pending") || !strcmp(type, "model.registered")))
        approval_howto(out, r);
}

static void render_retrain(const char *type, json_t *o, tsl_wbuf *out) {
    const char *f = str(o, "forecaster"), *trig = str(o, "trigger"), *why = str(o, "reason");
    int sup = !strcmp(type, "retrain.suppressed");
    tsl_wbuf_printf(out, "Retraining of %s %s%s%s\n\n", f ? f : "(unknown forecaster)",
                    sup ? "suppressed" : "started", trig ? " by " : "", trig ? trig : "");
    if (why) tsl_wbuf_printf(out, "%s: %s\n", sup ? "Why not" : "Why", why);
    json_t *ex = json_object_get(o, "execution_id");
    if (json_is_integer(ex))
        tsl_wbuf_printf(out, "Execution: %lld (tsloop runs show %lld)\n",
                        (long long)json_integer_value(ex), (long long)json_integer_value(ex));
}

static void render_ingested(json_t *o, tsl_wbuf *out) {
    const char *ds = str(o, "dataset"), *file = str(o, "file");
    tsl_wbuf_printf(out, "New data in %s%s%s\n\n", ds ? ds : "?", file ? " from " : "",
                    file ? file : "");
    static const char *const keys[] = {"read",     "inserted",  "updated", "unchanged",
                                       "rejected", "new_items", NULL};
    for (size_t i = 0; keys[i]; i++) {
        json_t *v = json_object_get(o, keys[i]);
        if (json_is_integer(v))
            tsl_wbuf_printf(out, "%s: %lld\n", keys[i], (long long)json_integer_value(v));
    }
    if (str(o, "source")) tsl_wbuf_printf(out, "source: %s\n", str(o, "source"));
}

/* dataset.quality: what the checks found in one ingest, the worst first, and where to look. */
static void render_quality(json_t *o, tsl_wbuf *out) {
    char b[32];
    const char *ds = str(o, "dataset"), *mon = str(o, "monitor"), *worst = str(o, "worst");
    json_t *ingest = json_object_get(o, "ingest_id");
    long long id = json_is_integer(ingest) ? (long long)json_integer_value(ingest) : 0;
    tsl_wbuf_printf(out, "Data quality of %s: %s in ingest %lld\n\n", ds ? ds : "?",
                    worst ? worst : "?", id);
    if (mon) tsl_wbuf_printf(out, "Monitor: %s (quality)\n", mon);
    if (str(o, "endpoint"))
        tsl_wbuf_printf(out, "Endpoint: %s (%s/%s)\n", str(o, "endpoint"),
                        str(o, "forecaster") ? str(o, "forecaster") : "?",
                        num(o, "version", b, sizeof b) ? b : "?");
    json_t *pts = json_object_get(o, "points"), *items = json_object_get(o, "items");
    if (json_is_integer(pts) && json_is_integer(items))
        tsl_wbuf_printf(out, "New points: %lld in %lld items\n", (long long)json_integer_value(pts),
                        (long long)json_integer_value(items));
    json_t *checks = json_object_get(o, "checks");
    if (json_object_size(checks)) {
        tsl_wbuf_printf(out, "Checks (share of the points or items concerned):\n");
        const char *k;
        json_t *v;
        json_object_foreach(checks, k, v) {
            if (json_is_number(v))
                tsl_wbuf_printf(out, "  %-13s %.4g%%\n", k, 100 * json_number_value(v));
        }
    }
    json_t *viol = json_object_get(o, "violations");
    if (json_array_size(viol)) {
        tsl_wbuf_printf(out, "Found (worst first):\n");
        size_t i;
        json_t *x;
        json_array_foreach(viol, i, x) {
            const char *sev = str(x, "severity"), *desc = str(x, "description");
            tsl_wbuf_printf(out, "  [%s] %s: %s\n", sev ? sev : "?",
                            str(x, "check") ? str(x, "check") : "?", desc ? desc : "");
        }
    }
    tsl_wbuf_printf(out,
                    "\nTo look at it:\n  tsloop metrics --monitor %s\n  tsloop datasets show %s\n",
                    mon ? mon : "MONITOR", ds ? ds : "DATASET");
    if (id)
        tsl_wbuf_printf(out, "  tsloop datasets show %s --ingest %lld\n", ds ? ds : "DATASET", id);
}

static void render_failed(json_t *o, tsl_wbuf *out) {
    const char *ch = str(o, "channel"), *et = str(o, "event_type"), *err = str(o, "error");
    json_t *id = json_object_get(o, "event_id"), *att = json_object_get(o, "attempts");
    tsl_wbuf_printf(out, "Notification channel %s gave up\n\n", ch ? ch : "?");
    tsl_wbuf_printf(out, "Event %lld (%s) could not be delivered after %lld attempts.\n",
                    (long long)json_integer_value(id), et ? et : "?",
                    (long long)json_integer_value(att));
    if (err) tsl_wbuf_printf(out, "Last error: %s\n", err);
}

/* Any other event: its type and payload fields, one per line. */
static void render_generic(const tsl_store_event *e, json_t *o, tsl_wbuf *out) {
    tsl_wbuf_printf(out, "%s %s\n\n", e->type, e->subject ? e->subject : "");
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        tsl_wbuf_printf(out, "%s: %s\n", key, t ? t : "?");
        free(t);
    }
}

void tsl_notify_render(const tsl_store_event *e, const char *project, tsl_wbuf *out) {
    json_t *o = json_loads(e->payload ? e->payload : "{}", 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        o = json_object();
    }
    if (!strcmp(e->type, "alarm.state_changed"))
        render_alarm(o, out);
    else if (!strcmp(e->type, "model.compared"))
        render_compared(o, out);
    else if (!strncmp(e->type, "model.", 6))
        render_model(e->type, o, out);
    else if (!strncmp(e->type, "retrain.", 8))
        render_retrain(e->type, o, out);
    else if (!strcmp(e->type, "dataset.ingested"))
        render_ingested(o, out);
    else if (!strcmp(e->type, "dataset.quality"))
        render_quality(o, out);
    else if (!strcmp(e->type, "notification.failed"))
        render_failed(o, out);
    else
        render_generic(e, o, out);
    char when[40];
    tsl_time_format(e->at_ms / 1000, 0, when, sizeof when);
    tsl_wbuf_printf(out, "\n-- tsloop%s%s, event %lld (%s) at %s\n", project ? " project " : "",
                    project ? project : "", (long long)e->id, e->type, when);
    json_decref(o);
}

char *tsl_notify_body(const tsl_store_event *e, const char *project) {
    tsl_wbuf text;
    tsl_wbuf_init(&text);
    tsl_notify_render(e, project, &text);
    json_t *payload = json_loads(e->payload ? e->payload : "{}", JSON_DECODE_ANY, NULL);
    char when[40];
    tsl_time_format(e->at_ms / 1000, 0, when, sizeof when);
    json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:o, s:s, s:s?}", "id", (json_int_t)e->id, "at",
                          when, "type", e->type, "subject", e->subject ? e->subject : "", "payload",
                          payload ? payload : json_object(), "text", tsl_wbuf_cstr(&text),
                          "project", project);
    tsl_wbuf_release(&text);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    char *copy = tsl_strdup(s);
    free(s);
    return copy;
}

void tsl_notify_sign(const char *key, const void *body, size_t len, char out[72]) {
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, strlen(key));
    crypto_auth_hmacsha256_update(&st, body, len);
    crypto_auth_hmacsha256_final(&st, mac);
    memcpy(out, "sha256=", 7);
    sodium_bin2hex(out + 7, 65, mac, sizeof mac);
}

/* ---- delivery ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t discard(char *p, size_t size, size_t n, void *ctx) {
    (void)p;
    (void)ctx;
    return size * n;
}

static tsl_err deliver_webhook(const tsl_channel *c, const tsl_store_event *e, const char *body,
                               tsl_diag *d) {
    char sig[72], hdr[128];
    struct curl_slist *h = NULL;
    tsl_err rc = TSL_OK;
    CURL *k = curl_easy_init();
    if (!k) return tsl_diag_set(d, TSL_EINTERNAL, "libcurl could not start a transfer");
    h = curl_slist_append(h, "Content-Type: application/json");
    snprintf(hdr, sizeof hdr, "X-Tsloop-Event: %s", e->type);
    h = curl_slist_append(h, hdr);
    snprintf(hdr, sizeof hdr, "X-Tsloop-Delivery: %s-%lld", c->name, (long long)e->id);
    h = curl_slist_append(h, hdr);
    if (c->secret) {
        tsl_notify_sign(c->secret, body, strlen(body), sig);
        snprintf(hdr, sizeof hdr, "X-Tsloop-Signature: %s", sig);
        h = curl_slist_append(h, hdr);
    }
    h = curl_slist_append(h, "User-Agent: tsloop/" TSL_VERSION);
    curl_easy_setopt(k, CURLOPT_URL, c->url);
    curl_easy_setopt(k, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(k, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(k, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(k, CURLOPT_TIMEOUT, (long)c->timeout_s);
    curl_easy_setopt(k, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(k, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(k, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode cc = curl_easy_perform(k);
    long status = 0;
    curl_easy_getinfo(k, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK)
        rc = tsl_diag_set(d, TSL_EIO, "webhook %s: %s", c->url, curl_easy_strerror(cc));
    else if (status < 200 || status > 299)
        rc = tsl_diag_set(d, TSL_EIO, "webhook %s: HTTP status %ld, expected 2xx", c->url, status);
    curl_slist_free_all(h);
    curl_easy_cleanup(k);
    return rc;
}

typedef struct reader {
    const char *data;
    size_t len, off;
} reader;

static size_t read_msg(char *buf, size_t size, size_t n, void *ctx) {
    reader *r = ctx;
    size_t k = size * n, left = r->len - r->off;
    if (k > left) k = left;
    memcpy(buf, r->data + r->off, k);
    r->off += k;
    return k;
}

/* The first line of text (the subject), at most cap - 1 bytes. */
static void first_line(const char *text, char *out, size_t cap) {
    size_t n = strcspn(text, "\n");
    if (n >= cap) n = cap - 1;
    memcpy(out, text, n);
    out[n] = '\0';
}

static tsl_err deliver_email(const tsl_channel *c, const tsl_store_event *e, const char *project,
                             tsl_diag *d) {
    tsl_wbuf text, msg;
    tsl_wbuf_init(&text);
    tsl_wbuf_init(&msg);
    tsl_notify_render(e, project, &text);
    char subject[200], date[64], rnd[17];
    first_line(tsl_wbuf_cstr(&text), subject, sizeof subject);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    unsigned char rb[8];
    randombytes_buf(rb, sizeof rb);
    sodium_bin2hex(rnd, sizeof rnd, rb, sizeof rb);
    const char *at = strchr(c->from, '@');
    tsl_wbuf_printf(&msg, "Date: %s\r\nMessage-ID: <tsloop-%lld-%s%s>\r\nFrom: %s\r\nTo: ", date,
                    (long long)e->id, rnd, at ? at : "@localhost", c->from);
    for (size_t i = 0; i < c->nto; i++) tsl_wbuf_printf(&msg, "%s%s", i ? ", " : "", c->to[i]);
    tsl_wbuf_printf(
        &msg,
        "\r\nSubject: [tsloop] %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; "
        "charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\nX-Tsloop-Event: %s\r\n\r\n",
        subject, e->type);
    /* Lines as CRLF; a line starting with '.' is doubled by libcurl itself. */
    for (const char *p = tsl_wbuf_cstr(&text); *p; p++) {
        if (*p == '\n') tsl_wbuf_putc(&msg, '\r');
        tsl_wbuf_putc(&msg, *p);
    }
    struct curl_slist *rcpt = NULL;
    for (size_t i = 0; i < c->nto; i++) rcpt = curl_slist_append(rcpt, c->to[i]);
    reader r = {(const char *)msg.data, msg.len, 0};
    tsl_err rc = TSL_OK;
    CURL *k = curl_easy_init();
    if (!k) {
        rc = tsl_diag_set(d, TSL_EINTERNAL, "libcurl could not start a transfer");
        goto out;
    }
    curl_easy_setopt(k, CURLOPT_URL, c->url);
    curl_easy_setopt(k, CURLOPT_MAIL_FROM, c->from);
    curl_easy_setopt(k, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(k, CURLOPT_READFUNCTION, read_msg);
    curl_easy_setopt(k, CURLOPT_READDATA, &r);
    curl_easy_setopt(k, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(k, CURLOPT_TIMEOUT, (long)c->timeout_s);
    curl_easy_setopt(k, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(k, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    if (c->starttls) curl_easy_setopt(k, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    if (c->username) curl_easy_setopt(k, CURLOPT_USERNAME, c->username);
    if (c->password) curl_easy_setopt(k, CURLOPT_PASSWORD, c->password);
    CURLcode cc = curl_easy_perform(k);
    if (cc != CURLE_OK)
        rc = tsl_diag_set(d, TSL_EIO, "e-mail via %s: %s", c->url, curl_easy_strerror(cc));
    curl_easy_cleanup(k);
out:
    curl_slist_free_all(rcpt);
    tsl_wbuf_release(&text);
    tsl_wbuf_release(&msg);
    return rc;
}

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static tsl_err deliver_command(const tsl_channel *c, const tsl_store_event *e, const char *body,
                               tsl_diag *d) {
    int in[2] = {-1, -1};
    pid_t pid = -1;
    tsl_err rc = TSL_OK;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    char ev[96], ch[96];
    snprintf(ev, sizeof ev, "TSLOOP_EVENT=%s", e->type);
    snprintf(ch, sizeof ch, "TSLOOP_CHANNEL=%s", c->name);
    char *envp[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8", ev, ch, NULL};
    char **argv = tsl_calloc(c->nargv + 1, sizeof *argv);
    for (size_t i = 0; i < c->nargv; i++) argv[i] = c->argv[i];
    if (pipe(in) != 0) {
        rc = tsl_diag_set(d, TSL_EIO, "command %s: cannot make a pipe: %s", c->argv[0],
                          strerror(errno));
        goto out;
    }
    (void)fcntl(in[1], F_SETFD, FD_CLOEXEC);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_addclose(&fa, in[0]);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    /* The child starts with no signal blocked and every signal at its default, whatever the
     * daemon's threads block or ignore. */
    posix_spawnattr_t at;
    sigset_t none, all, pipe_only, old;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_init(&at);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    int err = posix_spawn(&pid, c->argv[0], &fa, &at, argv, envp);
    posix_spawnattr_destroy(&at);
    close(in[0]);
    in[0] = -1;
    if (err) {
        pid = -1;
        rc = tsl_diag_set(d, TSL_EIO, "command %s: cannot run it: %s", c->argv[0], strerror(err));
        goto out;
    }
    /* A child that exits without reading makes the write raise SIGPIPE, which would end the
     * daemon: it is blocked in this thread while writing, and a pending one is consumed. */
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
    /* Write the body without blocking past the deadline (a child that never reads). */
    int64_t deadline = mono_ms() + (int64_t)c->timeout_s * 1000;
    (void)fcntl(in[1], F_SETFL, O_NONBLOCK);
    size_t len = strlen(body), off = 0;
    while (off < len && mono_ms() < deadline) {
        ssize_t k = write(in[1], body + off, len - off);
        if (k > 0) {
            off += (size_t)k;
        } else if (k < 0 && errno == EAGAIN) {
            struct pollfd pf = {in[1], POLLOUT, 0};
            (void)poll(&pf, 1, 50);
        } else if (k < 0 && errno != EINTR) {
            break; /* EPIPE: it exited without reading; its status says the rest */
        }
    }
    close(in[1]);
    in[1] = -1;
    struct timespec zero = {0, 0};
    while (sigtimedwait(&pipe_only, NULL, &zero) == SIGPIPE) {}
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    int status = 0, done = 0;
    while (!done) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            done = 1;
        } else if (w < 0 && errno != EINTR) {
            break;
        } else if (mono_ms() >= deadline) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
            rc = tsl_diag_set(d, TSL_EIO, "command %s: killed after its timeout of %d s",
                              c->argv[0], c->timeout_s);
            goto out;
        } else {
            struct timespec ts = {0, 20 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    if (!done)
        rc = tsl_diag_set(d, TSL_EIO, "command %s: lost track of it: %s", c->argv[0],
                          strerror(errno));
    else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
        rc =
            tsl_diag_set(d, TSL_EIO, "command %s: exit status %d", c->argv[0], WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        rc = tsl_diag_set(d, TSL_EIO, "command %s: killed by signal %d", c->argv[0],
                          WTERMSIG(status));
out:
    if (in[0] >= 0) close(in[0]);
    if (in[1] >= 0) close(in[1]);
    posix_spawn_file_actions_destroy(&fa);
    tsl_free(argv);
    return rc;
}

tsl_err tsl_notify_deliver(const tsl_channel *c, const tsl_store_event *e, const char *project,
                           tsl_diag *d) {
    pthread_once(&curl_once, curl_init_once);
    if (sodium_init() < 0)
        return tsl_diag_set(d, TSL_EINTERNAL, "libsodium could not be initialised");
    if (c->type == TSL_CHANNEL_EMAIL) return deliver_email(c, e, project, d);
    char *body = tsl_notify_body(e, project);
    tsl_err rc = c->type == TSL_CHANNEL_WEBHOOK ? deliver_webhook(c, e, body, d)
                                                : deliver_command(c, e, body, d);
    tsl_free(body);
    return rc;
}
