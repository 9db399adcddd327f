/*
 * pool.c - persistent worker threads for tsl_pool_run.
 *
 * One job at a time: tsl_pool_run publishes (fn, ctx, n) under the mutex, bumps a generation
 * counter and wakes the workers; everyone, the caller included, claims indices with an atomic
 * fetch-add until they run out; the last thread to finish signals the caller. Workers sleep on
 * the condition variable between jobs, so an idle pool costs nothing.
 */
#include "tsloop/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "tsloop/mem.h"

#define POOL_MAX 256

struct tsl_pool {
    int size;
    pthread_t *threads; /* size - 1 workers; the caller is worker 0 */
    pthread_mutex_t mu;
    pthread_cond_t wake; /* a new job or shutdown */
    pthread_cond_t done; /* the job's last task finished */
    unsigned long generation;
    int shutdown;
    /* the current job */
    void (*fn)(void *ctx, size_t i, int worker);
    void *ctx;
    size_t n;
    atomic_size_t next;
    int busy; /* threads still working on the current job */
};

typedef struct worker_arg {
    tsl_pool *pool;
    int id;
} worker_arg;

int tsl_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (n > POOL_MAX ? POOL_MAX : (int)n);
}

static void drain(tsl_pool *p, int id) {
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->n) break;
        p->fn(p->ctx, i, id);
    }
}

static void *worker_main(void *arg) {
    worker_arg a = *(worker_arg *)arg;
    tsl_free(arg);
    tsl_pool *p = a.pool;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->shutdown && p->generation == seen) pthread_cond_wait(&p->wake, &p->mu);
        if (p->shutdown) break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        drain(p, a.id);
        pthread_mutex_lock(&p->mu);
        if (--p->busy == 0) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

tsl_pool *tsl_pool_new(int nthreads) {
    tsl_pool *p = tsl_calloc(1, sizeof *p);
    p->size = nthreads <= 0 ? tsl_cpu_count() : (nthreads > POOL_MAX ? POOL_MAX : nthreads);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->next, 0);
    p->threads = tsl_calloc((size_t)p->size, sizeof *p->threads);
    for (int i = 1; i < p->size; i++) {
        worker_arg *a = tsl_malloc(sizeof *a);
        a->pool = p;
        a->id = i;
        if (pthread_create(&p->threads[i], NULL, worker_main, a) != 0) {
            /* Run with the threads we have rather than fail: the pool stays correct. */
            tsl_free(a);
            p->size = i;
            break;
        }
    }
    return p;
}

void tsl_pool_free(tsl_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->shutdown = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->size; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    tsl_free(p->threads);
    tsl_free(p);
}

int tsl_pool_size(const tsl_pool *p) {
    return p->size;
}

void tsl_pool_run(tsl_pool *p, size_t n, void (*fn)(void *ctx, size_t i, int worker), void *ctx) {
    if (n == 0) return;
    if (p->size == 1 || n == 1) {
        for (size_t i = 0; i < n; i++) fn(ctx, i, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    atomic_store(&p->next, 0);
    p->busy = p->size - 1;
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    drain(p, 0);
    pthread_mutex_lock(&p->mu);
    while (p->busy > 0) pthread_cond_wait(&p->done, &p->mu);
    p->fn = NULL;
    pthread_mutex_unlock(&p->mu);
}
