/*
 * test_capture.c - the daemon's capture queue: every capture pushed is written, with its
 * arrays intact, even through a queue far smaller than the load (push waits for room: the
 * backpressure path), from several threads at once; stopping writes what is queued.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/daemon_impl.h"
#include "testutil.h"
#include "tsloop/mem.h"
#include "tsloop/store.h"

#define PER_THREAD 300
#define THREADS    3

typedef struct pusher {
    tsl_capq *q;
    int64_t model_id;
    int k;
} pusher;

/* Pushes PER_THREAD captures whose values encode (thread, i). */
static void *push_main(void *arg) {
    pusher *p = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        char id[32];
        snprintf(id, sizeof id, "t%d-%d", p->k, i);
        int64_t targets[2] = {3600 * (int64_t)i, 3600 * (int64_t)i + 3600};
        double levels[1] = {0.5};
        double mean[2] = {p->k * 1000.0 + i, -1.0};
        double quant[2] = {mean[0], mean[1]};
        tsl_capq_item it = {id, "prod", "a", p->model_id, 0, 2, 1, targets, levels, mean, quant, 0};
        tsl_capq_push(p->q, &it, 1);
    }
    return NULL;
}

static void test_all_written_through_a_small_queue(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), path[4096];
    snprintf(path, sizeof path, "%s/store.db", dir);
    tsl_diag d = {TSL_OK, {0}};
    tsl_store *s = NULL;
    if (tsl_store_open(path, NULL, &s, &d)) fail_msg("%s", d.msg);
    tsl_store_model_new m;
    memset(&m, 0, sizeof m);
    m.forecaster = "f";
    m.artifact = "x";
    m.artifact_len = 1;
    m.who = "t";
    int64_t mid = 0;
    if (tsl_store_model_register(s, &m, &mid, NULL, &d)) fail_msg("%s", d.msg);

    tsl_capq *q = NULL;
    assert_int_equal(tsl_capq_start(path, 4, &q, &d), TSL_OK);
    pthread_t th[THREADS];
    pusher ps[THREADS];
    for (int k = 0; k < THREADS; k++) {
        ps[k] = (pusher){q, mid, k};
        assert_int_equal(pthread_create(&th[k], NULL, push_main, &ps[k]), 0);
    }
    for (int k = 0; k < THREADS; k++) pthread_join(th[k], NULL);
    assert_true(tsl_capq_depth(q) <= 4);
    assert_int_equal(tsl_capq_stop(q, &d), TSL_OK);

    tsl_store_capture *c = NULL;
    size_t n = 0;
    assert_int_equal(tsl_store_capture_list(s, NULL, NULL, 0, 0, &c, &n, &d), TSL_OK);
    assert_int_equal(n, THREADS * PER_THREAD);
    int seen[THREADS][PER_THREAD];
    memset(seen, 0, sizeof seen);
    for (size_t i = 0; i < n; i++) {
        int k = 0, j = 0;
        assert_int_equal(sscanf(c[i].inference_id, "t%d-%d", &k, &j), 2);
        assert_true(k >= 0 && k < THREADS && j >= 0 && j < PER_THREAD);
        seen[k][j]++;
        assert_true(c[i].mean[0] == k * 1000.0 + j);
        assert_true(c[i].quant[1] == -1.0);
        assert_int_equal(c[i].targets[1], 3600 * (int64_t)j + 3600);
        assert_int_equal(c[i].model_id, mid);
        assert_string_equal(c[i].endpoint, "prod");
    }
    for (int k = 0; k < THREADS; k++)
        for (int j = 0; j < PER_THREAD; j++) assert_int_equal(seen[k][j], 1);
    tsl_store_capture_list_free(c, n);
    tsl_store_close(s);
    tu_rmtree(dir);
    tsl_free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_written_through_a_small_queue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
