/*
 * capture.c - the capture queue: a bounded ring of captures and the thread that writes them.
 *
 * Request threads push; one writer thread, with its own store handle, takes everything that
 * is queued and writes it in one transaction (tsl_store_capture_add). The batch grows by
 * itself with the load: while one commit runs, the next requests queue up, and the next
 * commit takes them all - group commit without a timer, so a lone request is written at once
 * and a burst costs one fsync per batch rather than per request.
 *
 * Bounded, so memory is too: when the ring is full, push waits on a condition variable until
 * the writer frees room. The API then slows down to the store's write speed instead of
 * growing without limit or dropping captures. A write that fails is retried (the store's
 * busy timeout already waits for other writers); a batch that still fails is dropped with a
 * log line and counted in capture_failures, never silently.
 *
 * The writer's handle uses synchronous=NORMAL: a commit survives kill -9 (the WAL is written)
 * but the last ones may be lost on power failure, which DESIGN.md allows for captures (at most
 * the last second).
 */
#include <jansson.h>
#include <string.h>
#include <time.h>

#include "daemon/daemon_impl.h"
#include "tsloop/mem.h"

/* Captures per transaction at most. Room in the ring is made a batch at a time, so a full
 * queue makes requests wait for one batch's commit: small batches keep that wait short (a
 * batch of 1024 is a few milliseconds), and beyond a few hundred rows per commit a bigger
 * one saves nothing. */
#define BATCH_MAX 1024
#define RETRIES   3
#define LINGER_NS 1000000 /* 1 ms */

/* One queued capture: the record and its arrays, in one allocation with its strings. */
typedef struct capq_rec {
    tsl_store_capture_new c;
} capq_rec;

struct tsl_capq {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    capq_rec **ring;
    size_t cap, head, count;
    int stopping;
    int waiting; /* the writer sleeps on not_empty: only then does a push need to signal */
    pthread_t thread;
    tsl_store *s;
    atomic_ullong written, failed;
    tsl_err last_err;
    tsl_diag last_diag;
};

/* Copies a capture into one allocation. */
static capq_rec *rec_new(const tsl_capq_item *x) {
    size_t li = strlen(x->inference_id) + 1, le = strlen(x->endpoint) + 1, lt = strlen(x->item) + 1;
    size_t nd = x->nq + x->steps + x->steps * x->nq;
    size_t size =
        sizeof(capq_rec) + x->steps * sizeof(int64_t) + nd * sizeof(double) + li + le + lt;
    capq_rec *r = tsl_malloc(size);
    unsigned char *p = (unsigned char *)(r + 1);
    int64_t *targets = (int64_t *)p;
    memcpy(targets, x->targets, x->steps * sizeof *targets);
    double *levels = (double *)(targets + x->steps);
    if (x->nq) memcpy(levels, x->levels, x->nq * sizeof *levels);
    double *mean = levels + x->nq;
    memcpy(mean, x->mean, x->steps * sizeof *mean);
    double *quant = mean + x->steps;
    if (x->nq) memcpy(quant, x->quant, x->steps * x->nq * sizeof *quant);
    char *str = (char *)(quant + x->steps * x->nq);
    memcpy(str, x->inference_id, li);
    memcpy(str + li, x->endpoint, le);
    memcpy(str + li + le, x->item, lt);
    memset(&r->c, 0, sizeof r->c);
    r->c.inference_id = str;
    r->c.endpoint = str + li;
    r->c.item = str + li + le;
    r->c.model_id = x->model_id;
    r->c.origin = x->origin;
    r->c.steps = x->steps;
    r->c.nq = x->nq;
    r->c.targets = targets;
    r->c.levels = levels;
    r->c.mean = mean;
    r->c.quant = quant;
    r->c.shadow = x->shadow;
    return r;
}

/* Writes a batch, retrying; counts it as written or failed. */
static void write_batch(tsl_capq *q, capq_rec **batch, size_t n, tsl_store_capture_new *flat) {
    for (size_t i = 0; i < n; i++) flat[i] = batch[i]->c;
    tsl_diag d = {TSL_OK, {0}};
    tsl_err err = TSL_OK;
    for (int k = 0; k < RETRIES; k++)
        if (!(err = tsl_store_capture_add(q->s, flat, n, &d))) break;
    if (err) {
        atomic_fetch_add(&q->failed, n);
        tsl_daemon_log(stderr, "error", "captures lost", "{s:I, s:s}", "count", (json_int_t)n,
                       "error", tsl_diag_msg(&d));
        pthread_mutex_lock(&q->mu);
        q->last_err = err;
        q->last_diag = d;
        pthread_mutex_unlock(&q->mu);
    } else {
        atomic_fetch_add(&q->written, n);
    }
    for (size_t i = 0; i < n; i++) tsl_free(batch[i]);
}

/* The writer: takes everything queued, writes it, until stopped and empty. */
static void *writer_main(void *arg) {
    tsl_capq *q = arg;
    capq_rec **batch = tsl_malloc(BATCH_MAX * sizeof *batch);
    tsl_store_capture_new *flat = tsl_malloc(BATCH_MAX * sizeof *flat);
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->count && !q->stopping) {
            q->waiting = 1;
            pthread_cond_wait(&q->not_empty, &q->mu);
            q->waiting = 0;
        }
        if (!q->count && q->stopping) break;
        if (q->count < BATCH_MAX / 4 && !q->stopping) {
            /* Linger a moment so a burst becomes one commit (and one wake-up) rather than
             * many: captures may be a moment late, never lost. */
            pthread_mutex_unlock(&q->mu);
            struct timespec linger = {0, LINGER_NS};
            nanosleep(&linger, NULL);
            pthread_mutex_lock(&q->mu);
        }
        size_t n = q->count < BATCH_MAX ? q->count : BATCH_MAX;
        for (size_t i = 0; i < n; i++) {
            batch[i] = q->ring[q->head];
            q->head = (q->head + 1) % q->cap;
        }
        q->count -= n;
        pthread_cond_broadcast(&q->not_full);
        pthread_mutex_unlock(&q->mu);
        write_batch(q, batch, n, flat);
        pthread_mutex_lock(&q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    tsl_free(batch);
    tsl_free(flat);
    return NULL;
}

tsl_err tsl_capq_start(const char *url, size_t cap, tsl_capq **out, tsl_diag *d) {
    tsl_store_opts so;
    memset(&so, 0, sizeof so);
    so.sync_normal = 1;
    so.no_create = 1;
    tsl_capq *q = tsl_calloc(1, sizeof *q);
    tsl_err err = tsl_store_open(url, &so, &q->s, d);
    if (err) {
        tsl_free(q);
        return err;
    }
    q->cap = cap ? cap : 65536;
    q->ring = tsl_calloc(q->cap, sizeof *q->ring);
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->not_empty, NULL);
    pthread_cond_init(&q->not_full, NULL);
    atomic_init(&q->written, 0);
    atomic_init(&q->failed, 0);
    if (pthread_create(&q->thread, NULL, writer_main, q)) {
        tsl_store_close(q->s);
        tsl_free(q->ring);
        tsl_free(q);
        return tsl_diag_set(d, TSL_EINTERNAL, "cannot start the capture writer thread");
    }
    *out = q;
    return TSL_OK;
}

void tsl_capq_push(tsl_capq *q, const tsl_capq_item *v, size_t n) {
    /* Copies are made outside the lock, so the lock is held only to link them in. */
    capq_rec **recs = tsl_malloc((n ? n : 1) * sizeof *recs);
    for (size_t i = 0; i < n; i++) recs[i] = rec_new(&v[i]);
    pthread_mutex_lock(&q->mu);
    for (size_t i = 0; i < n; i++) {
        while (q->count == q->cap) pthread_cond_wait(&q->not_full, &q->mu);
        q->ring[(q->head + q->count) % q->cap] = recs[i];
        q->count++;
    }
    if (q->waiting) pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
    tsl_free(recs);
}

size_t tsl_capq_depth(tsl_capq *q) {
    pthread_mutex_lock(&q->mu);
    size_t n = q->count;
    pthread_mutex_unlock(&q->mu);
    return n;
}

uint64_t tsl_capq_written(tsl_capq *q) {
    return atomic_load(&q->written);
}

uint64_t tsl_capq_failed(tsl_capq *q) {
    return atomic_load(&q->failed);
}

tsl_err tsl_capq_stop(tsl_capq *q, tsl_diag *d) {
    if (!q) return TSL_OK;
    pthread_mutex_lock(&q->mu);
    q->stopping = 1;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->thread, NULL);
    tsl_err err = q->last_err;
    if (err && d) *d = q->last_diag;
    tsl_store_close(q->s);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    tsl_free(q->ring);
    tsl_free(q);
    return err;
}
