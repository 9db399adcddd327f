/*
 * test_sched_store.c - the store's named leases (the scheduler's lock) and schedules' fire
 * times: one holder at a time, renewal, takeover after the lease, release; a fire time claimed
 * once, by whichever handle comes first, and never again after a later one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

#include "testutil.h"
#include "tsloop/mem.h"
#include "tsloop/store.h"

static int64_t fake_now = 1700000000000;

static int64_t fake_clock(void *ctx) {
    (void)ctx;
    return fake_now;
}

typedef struct fixture {
    char *dir;
    tsl_store *a, *b;
} fixture;

static int setup(void **state) {
    fixture *f = tsl_calloc(1, sizeof *f);
    f->dir = tu_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/store.db", f->dir);
    tsl_store_opts o;
    memset(&o, 0, sizeof o);
    o.clock_ms = fake_clock;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_open(path, &o, &f->a, &d) || tsl_store_open(path, &o, &f->b, &d))
        fail_msg("%s", d.msg);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    tsl_store_close(f->a);
    tsl_store_close(f->b);
    tu_rmtree(f->dir);
    tsl_free(f->dir);
    tsl_free(f);
    return 0;
}

static void test_lock(void **state) {
    fixture *f = *state;
    tsl_diag d = {TSL_OK, {0}};
    int held = -1;
    char holder[300];
    assert_int_equal(
        tsl_store_lock_acquire(f->a, "scheduler", 1000, &held, holder, sizeof holder, &d), TSL_OK);
    assert_int_equal(held, 1);
    assert_non_null(strchr(holder, ':'));
    assert_int_equal(
        tsl_store_lock_acquire(f->b, "scheduler", 1000, &held, holder, sizeof holder, &d), TSL_OK);
    assert_int_equal(held, 0); /* a live holder in this very process */
    fake_now += 900;
    assert_int_equal(tsl_store_lock_acquire(f->a, "scheduler", 1000, &held, NULL, 0, &d), TSL_OK);
    assert_int_equal(held, 1); /* renewed */
    fake_now += 900;
    assert_int_equal(tsl_store_lock_acquire(f->b, "scheduler", 1000, &held, NULL, 0, &d), TSL_OK);
    assert_int_equal(held, 0); /* still within the renewed lease */
    fake_now += 200;
    assert_int_equal(tsl_store_lock_acquire(f->b, "scheduler", 1000, &held, NULL, 0, &d), TSL_OK);
    assert_int_equal(held, 1); /* taken over */
    assert_int_equal(tsl_store_lock_acquire(f->a, "scheduler", 1000, &held, NULL, 0, &d), TSL_OK);
    assert_int_equal(held, 0);
    /* Releasing someone else's lock does nothing; the holder's own release frees it. */
    assert_int_equal(tsl_store_lock_release(f->a, "scheduler", &d), TSL_OK);
    assert_int_equal(tsl_store_lock_acquire(f->a, "scheduler", 1000, &held, NULL, 0, &d), TSL_OK);
    assert_int_equal(held, 0);
    assert_int_equal(tsl_store_lock_release(f->b, "scheduler", &d), TSL_OK);
    assert_int_equal(tsl_store_lock_acquire(f->a, "scheduler", 1000, &held, NULL, 0, &d), TSL_OK);
    assert_int_equal(held, 1);
    assert_int_equal(tsl_store_lock_acquire(f->a, "bad name!", 1000, &held, NULL, 0, &d),
                     TSL_EINVAL);
    assert_int_equal(tsl_store_lock_acquire(f->a, "scheduler", 0, &held, NULL, 0, &d), TSL_EINVAL);
}

static void test_fire_times(void **state) {
    fixture *f = *state;
    tsl_diag d = {TSL_OK, {0}};
    int64_t at = -1;
    int found = -1, first = -1;
    assert_int_equal(tsl_store_schedule_last(f->a, "forecast:solar", &at, &found, &d), TSL_OK);
    assert_int_equal(found, 0);
    assert_int_equal(tsl_store_schedule_claim(f->a, "forecast:solar", 600, &first, &d), TSL_OK);
    assert_int_equal(first, 1);
    assert_int_equal(tsl_store_schedule_claim(f->b, "forecast:solar", 600, &first, &d), TSL_OK);
    assert_int_equal(first, 0); /* the same time: once */
    assert_int_equal(tsl_store_schedule_claim(f->b, "forecast:solar", 540, &first, &d), TSL_OK);
    assert_int_equal(first, 0); /* an earlier one after a later one: never */
    assert_int_equal(tsl_store_schedule_claim(f->b, "forecast:solar", 660, &first, &d), TSL_OK);
    assert_int_equal(first, 1);
    assert_int_equal(tsl_store_schedule_last(f->a, "forecast:solar", &at, &found, &d), TSL_OK);
    assert_int_equal(found, 1);
    assert_int_equal(at, 660);
    /* Keys are independent. */
    assert_int_equal(tsl_store_schedule_claim(f->a, "retrain:solar", 600, &first, &d), TSL_OK);
    assert_int_equal(first, 1);
    assert_int_equal(tsl_store_schedule_claim(f->a, "", 600, &first, &d), TSL_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fire_times, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
