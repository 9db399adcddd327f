/*
 * pool.h - a fixed pool of worker threads running parallel-for loops.
 *
 * The only parallel pattern the engine needs is "do task i for every i in [0, n)": AutoML over
 * series, backtests over candidates. tsl_pool_run hands out indices from an atomic counter, so
 * cheap and expensive tasks balance themselves, and the calling thread works too. Tasks must
 * not call tsl_pool_run on the same pool.
 */
#ifndef TSLOOP_POOL_H
#define TSLOOP_POOL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tsl_pool tsl_pool;

/* The number of online CPUs (at least 1). */
int tsl_cpu_count(void);

/* A pool of nthreads workers in all, the caller included (0 = tsl_cpu_count()). A pool of one
 * runs tasks inline on the caller. Capped at 256. */
tsl_pool *tsl_pool_new(int nthreads);
void tsl_pool_free(tsl_pool *p);
int tsl_pool_size(const tsl_pool *p);

/* Calls fn(ctx, i, worker) for every i in [0, n), worker in [0, size) identifying the thread
 * (for per-thread scratch space); returns when all calls have returned. */
void tsl_pool_run(tsl_pool *p, size_t n, void (*fn)(void *ctx, size_t i, int worker), void *ctx);

#ifdef __cplusplus
}
#endif
#endif
