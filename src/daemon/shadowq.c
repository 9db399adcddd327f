/*
 * shadowq.c - the shadow queue: a shadow version's forecasts, computed off the request path.
 *
 * When an endpoint has a version in shadow, the forecast route answers from the live version
 * as always, then hands the request's items, horizon, levels and inference id to this queue
 * and returns. One thread takes the requests in order, forecasts them from the shadow version
 * (the reference the request took, so a shadow switched or dropped meanwhile stays alive until
 * its last queued request is done) and queues their captures, flagged shadow, to the capture
 * writer like any other. The client never waits for the shadow and never sees it.
 *
 * Bounded, never blocking: unlike the capture queue, which makes requests wait rather than
 * lose a served forecast's record, a full shadow queue drops the shadow's work for that
 * request and counts it (tsloop_shadow_dropped_total): a shadow that cannot keep up must not
 * slow the live answers down. A dropped request leaves its live captures without shadow
 * twins, which the paired comparison leaves out (src/ops/shadow.c). The capture writer's own
 * back-pressure applies to this thread only.
 *
 * Cost on the request path: one allocation and the copy of the item names (the job), one lock
 * to link it, and a signal when the thread sleeps. Without a shadow, none of it: the route
 * tests one pointer.
 */
#include <string.h>

#include "daemon/daemon_impl.h"
#include "tsloop/mem.h"

/* One request's shadow work, with its strings in the same allocation. */
typedef struct sjob {
    tsl_served *sv; /* a reference, dropped when done */
    size_t nitems, h, nq;
    double levels[TSL_METRICS_MAX_LEVELS];
    const char *inference_id;
    const char **items;
} sjob;

struct tsl_shadowq {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sjob **ring;
    size_t cap, head, count;
    int stopping, waiting;
    pthread_t thread;
    tsl_capq *capq;
    atomic_ullong done, dropped, captured;
};

/* Forecasts job j from its shadow version and queues the captures. */
static void run_job(tsl_shadowq *q, sjob *j) {
    const tsl_served *sv = j->sv;
    double *mean = tsl_malloc(j->nitems * j->h * sizeof *mean);
    double *quant = tsl_malloc((j->nitems * j->h * j->nq + 1) * sizeof *quant);
    int64_t *targets = tsl_malloc(j->nitems * j->h * sizeof *targets);
    tsl_capq_item *ci = tsl_calloc(j->nitems ? j->nitems : 1, sizeof *ci);
    size_t n = 0;
    for (size_t i = 0; i < j->nitems; i++) {
        long at = tsl_bundle_find(sv->bundle, j->items[i]);
        const tsl_model *m = at >= 0 ? sv->models[at] : NULL;
        if (!m) continue;
        double *mu = mean + n * j->h, *qu = quant + n * j->h * j->nq;
        int64_t *tg = targets + n * j->h;
        if (tsl_model_forecast(m, j->h, j->levels, j->nq, mu, qu, NULL)) continue;
        int64_t origin = sv->origin[at];
        for (size_t s = 0; s < j->h; s++) tg[s] = tsl_freq_add(sv->freq, origin, (int64_t)s + 1);
        ci[n] =
            (tsl_capq_item){j->inference_id, sv->endpoint, j->items[i], sv->model_id, origin, j->h,
                            j->nq,           tg,           j->levels,   mu,           qu,     1};
        n++;
    }
    if (n) tsl_capq_push(q->capq, ci, n);
    atomic_fetch_add(&q->captured, n);
    atomic_fetch_add(&q->done, 1);
    tsl_free(ci);
    tsl_free(mean);
    tsl_free(quant);
    tsl_free(targets);
}

/* The thread: runs queued jobs until stopped and empty. */
static void *shadow_main(void *arg) {
    tsl_shadowq *q = arg;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->count && !q->stopping) {
            q->waiting = 1;
            pthread_cond_wait(&q->cv, &q->mu);
            q->waiting = 0;
        }
        if (!q->count) break;
        sjob *j = q->ring[q->head];
        q->head = (q->head + 1) % q->cap;
        q->count--;
        pthread_mutex_unlock(&q->mu);
        run_job(q, j);
        tsl_served_unref(j->sv);
        tsl_free(j);
        pthread_mutex_lock(&q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

tsl_err tsl_shadowq_start(tsl_capq *capq, size_t cap, tsl_shadowq **out, tsl_diag *d) {
    tsl_shadowq *q = tsl_calloc(1, sizeof *q);
    q->cap = cap ? cap : 4096;
    q->ring = tsl_calloc(q->cap, sizeof *q->ring);
    q->capq = capq;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    atomic_init(&q->done, 0);
    atomic_init(&q->dropped, 0);
    atomic_init(&q->captured, 0);
    if (pthread_create(&q->thread, NULL, shadow_main, q)) {
        pthread_mutex_destroy(&q->mu);
        pthread_cond_destroy(&q->cv);
        tsl_free(q->ring);
        tsl_free(q);
        return tsl_diag_set(d, TSL_EINTERNAL, "cannot start the shadow thread");
    }
    *out = q;
    return TSL_OK;
}

int tsl_shadowq_push(tsl_shadowq *q, tsl_served *sv, const char *const *items, size_t nitems,
                     const char *inference_id, size_t h, const double *levels, size_t nq) {
    if (nq > TSL_METRICS_MAX_LEVELS) { /* the request parser allows no more: never here */
        atomic_fetch_add(&q->dropped, 1);
        return 0;
    }
    size_t bytes = sizeof(sjob) + nitems * sizeof(char *) + strlen(inference_id) + 1;
    for (size_t i = 0; i < nitems; i++) bytes += strlen(items[i]) + 1;
    sjob *j = tsl_malloc(bytes);
    j->items = (const char **)(j + 1);
    char *p = (char *)(j->items + nitems);
    for (size_t i = 0; i < nitems; i++) {
        size_t len = strlen(items[i]) + 1;
        memcpy(p, items[i], len);
        j->items[i] = p;
        p += len;
    }
    memcpy(p, inference_id, strlen(inference_id) + 1);
    j->inference_id = p;
    j->nitems = nitems;
    j->h = h;
    j->nq = nq;
    if (nq) memcpy(j->levels, levels, nq * sizeof *levels);
    pthread_mutex_lock(&q->mu);
    if (q->count == q->cap || q->stopping) {
        pthread_mutex_unlock(&q->mu);
        atomic_fetch_add(&q->dropped, 1);
        tsl_free(j);
        return 0;
    }
    tsl_served_ref(sv);
    j->sv = sv;
    q->ring[(q->head + q->count) % q->cap] = j;
    q->count++;
    if (q->waiting) pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    return 1;
}

size_t tsl_shadowq_depth(tsl_shadowq *q) {
    pthread_mutex_lock(&q->mu);
    size_t n = q->count;
    pthread_mutex_unlock(&q->mu);
    return n;
}

uint64_t tsl_shadowq_done(tsl_shadowq *q) {
    return atomic_load(&q->done);
}

uint64_t tsl_shadowq_dropped(tsl_shadowq *q) {
    return atomic_load(&q->dropped);
}

uint64_t tsl_shadowq_captured(tsl_shadowq *q) {
    return atomic_load(&q->captured);
}

void tsl_shadowq_stop(tsl_shadowq *q) {
    if (!q) return;
    pthread_mutex_lock(&q->mu);
    q->stopping = 1;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->thread, NULL);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    tsl_free(q->ring);
    tsl_free(q);
}
