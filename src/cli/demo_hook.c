/*
 * demo_hook.c - the webhook receiver `tsloop demo` starts for its notification channel.
 *
 * The demo plays the team that receives tsloop's notifications: an HTTP server on a free
 * loopback port (libmicrohttpd, its own polling thread) that takes every POST, checks the
 * X-Tsloop-Signature header against HMAC-SHA256(secret, body) itself - as any receiver of
 * tsloop's webhooks would, independently of the code that signed it - and keeps the event
 * type, the message text and whether the signature held. The story's thread reads the messages
 * while the daemon keeps sending, hence the mutex. A bad signature is answered 401 (and kept,
 * so the demo can say so); the daemon then retries, which is what a real receiver would cause.
 */
#include "cli/demo.h"

#include <assert.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "tsloop/buf.h"
#include "tsloop/mem.h"

struct demo_hook {
    struct MHD_Daemon *mhd;
    char *secret;
    int port;
    pthread_mutex_t mu;
    demo_hook_msg *msgs; /* guarded by mu */
    size_t n, cap;
};

/* One request's body, accumulated over the upload calls. */
typedef struct hook_req {
    tsl_wbuf body;
} hook_req;

/* Whether SIG is "sha256=" followed by the lower-case hex HMAC-SHA256 of body under secret;
 * compared in constant time. */
static int signature_ok(const char *secret, const char *body, size_t len, const char *sig) {
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char hex[2 * crypto_auth_hmacsha256_BYTES + 1];
    crypto_auth_hmacsha256_state st;
    if (!sig || strncmp(sig, "sha256=", 7) != 0) return 0;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
    if (strlen(sig + 7) != strlen(hex)) return 0;
    return sodium_memcmp(sig + 7, hex, strlen(hex)) == 0;
}

/* Keeps one received message. */
static void record(demo_hook *h, const char *body, size_t len, int ok) {
    demo_hook_msg m = {0};
    m.signature_ok = ok;
    json_t *j = json_loadb(body, len, 0, NULL);
    const char *type = j ? json_string_value(json_object_get(j, "type")) : NULL;
    const char *text = j ? json_string_value(json_object_get(j, "text")) : NULL;
    m.type = tsl_strdup(type ? type : "?");
    m.text = tsl_strdup(text ? text : "");
    json_decref(j);
    pthread_mutex_lock(&h->mu);
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 8;
        h->msgs = tsl_reallocarray(h->msgs, h->cap, sizeof *h->msgs);
    }
    h->msgs[h->n++] = m;
    pthread_mutex_unlock(&h->mu);
}

/* Queues an empty answer with status. */
static enum MHD_Result answer(struct MHD_Connection *c, unsigned status) {
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* libmicrohttpd's access handler: collects the body, then checks and records it. */
static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls) {
    demo_hook *h = cls;
    (void)url;
    (void)version;
    if (strcmp(method, "POST") != 0) return answer(c, MHD_HTTP_METHOD_NOT_ALLOWED);
    hook_req *req = *con_cls;
    if (!req) {
        req = tsl_calloc(1, sizeof *req);
        tsl_wbuf_init(&req->body);
        *con_cls = req;
        return MHD_YES;
    }
    if (*upload_size) {
        tsl_wbuf_put(&req->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    const char *sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Tsloop-Signature");
    const char *body = tsl_wbuf_cstr(&req->body);
    int ok = signature_ok(h->secret, body, strlen(body), sig);
    record(h, body, strlen(body), ok);
    return answer(c, ok ? MHD_HTTP_NO_CONTENT : MHD_HTTP_UNAUTHORIZED);
}

/* Frees a request's body when libmicrohttpd is done with the connection's request. */
static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)c;
    (void)toe;
    hook_req *req = *con_cls;
    if (!req) return;
    tsl_wbuf_release(&req->body);
    tsl_free(req);
    *con_cls = NULL;
}

tsl_err demo_hook_start(const char *secret, demo_hook **out, tsl_diag *d) {
    tsl_err err = TSL_OK;
    demo_hook *h = tsl_calloc(1, sizeof *h);
    h->secret = tsl_strdup(secret);
    pthread_mutex_init(&h->mu, NULL);
    if (sodium_init() < 0) {
        err = tsl_diag_set(d, TSL_EINTERNAL, "libsodium cannot be initialised");
        goto out;
    }
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    h->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                              handle, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                              MHD_OPTION_NOTIFY_COMPLETED, completed, h, MHD_OPTION_END);
    if (!h->mhd) {
        err = tsl_diag_set(d, TSL_EIO, "the webhook receiver cannot listen on 127.0.0.1");
        goto out;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? (int)info->port : 0;
    if (h->port <= 0) {
        err = tsl_diag_set(d, TSL_EIO, "the webhook receiver has no port");
        goto out;
    }
out:
    if (err) {
        demo_hook_stop(h);
        h = NULL;
    }
    *out = h;
    return err;
}

int demo_hook_port(const demo_hook *h) {
    return h->port;
}

size_t demo_hook_count(demo_hook *h) {
    pthread_mutex_lock(&h->mu);
    size_t n = h->n;
    pthread_mutex_unlock(&h->mu);
    return n;
}

void demo_hook_get(demo_hook *h, size_t i, demo_hook_msg *out) {
    pthread_mutex_lock(&h->mu);
    assert(i < h->n);
    out->type = tsl_strdup(h->msgs[i].type);
    out->text = tsl_strdup(h->msgs[i].text);
    out->signature_ok = h->msgs[i].signature_ok;
    pthread_mutex_unlock(&h->mu);
}

void demo_hook_msg_release(demo_hook_msg *m) {
    tsl_free(m->type);
    tsl_free(m->text);
    m->type = m->text = NULL;
}

void demo_hook_stop(demo_hook *h) {
    if (!h) return;
    if (h->mhd) MHD_stop_daemon(h->mhd);
    for (size_t i = 0; i < h->n; i++) demo_hook_msg_release(&h->msgs[i]);
    tsl_free(h->msgs);
    pthread_mutex_destroy(&h->mu);
    tsl_free(h->secret);
    tsl_free(h);
}
