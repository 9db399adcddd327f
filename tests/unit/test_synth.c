/*
 * test_synth.c - the solar generator: determinism, zero at night, the daily cycle, and the
 * degradation the monitoring demo relies on (one site, from one day, nothing else changed).
 */
#include "testutil.h"

#include <math.h>
#include <string.h>

#include "tsloop/mem.h"
#include "tsloop/synth.h"

enum { SITES = 3, DAYS = 20, HOURS = DAYS * 24 };

static double *make(const tsl_solar_opts *o) {
    tsl_solar_site site[SITES];
    double *y = tsl_reallocarray(NULL, SITES * HOURS, sizeof *y);
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_synth_solar(o, site, y, &d) != TSL_OK) fail_msg("synth: %s", d.msg);
    return y;
}

static void base_opts(tsl_solar_opts *o) {
    tsl_solar_opts_init(o);
    o->sites = SITES;
    o->days = DAYS;
}

static void test_healthy(void **state) {
    (void)state;
    tsl_solar_opts o;
    base_opts(&o);
    double *a = make(&o), *b = make(&o);
    size_t zeros = 0, positive = 0;
    for (size_t i = 0; i < SITES * HOURS; i++) {
        assert_true(a[i] == b[i]); /* deterministic */
        assert_true(a[i] >= 0.0);
        if (a[i] == 0.0)
            zeros++;
        else
            positive++;
    }
    /* March and April in Europe: nights of 10-13 hours, days of 11-14. */
    assert_true(zeros > SITES * DAYS * 9 && zeros < SITES * DAYS * 14);
    assert_true(positive > SITES * DAYS * 10);
    /* Lisbon (site 0) at 02:00 UTC is dark, at 13:00 UTC lit. */
    assert_true(a[2] == 0.0);
    assert_true(a[13] > 0.0);
    tsl_free(a);
    tsl_free(b);
}

static double day_sum(const double *y, size_t s, size_t day) {
    double t = 0;
    for (size_t h = 0; h < 24; h++) t += y[s * HOURS + day * 24 + h];
    return t;
}

static void test_inverter_fault(void **state) {
    (void)state;
    tsl_solar_opts o;
    base_opts(&o);
    double *healthy = make(&o);
    o.fault = TSL_SOLAR_FAULT_INVERTER;
    o.fault_site = 1;
    o.fault_day = 12;
    o.fault_factor = 0.6;
    double *broken = make(&o);
    for (size_t s = 0; s < SITES; s++)
        for (size_t t = 0; t < HOURS; t++) {
            double h = healthy[s * HOURS + t], b = broken[s * HOURS + t];
            if (s != 1 || t < 12 * 24)
                assert_true(h == b); /* the weather draws are unchanged */
            else
                assert_true(fabs(b - 0.6 * h) <= 0.0081); /* rounded to 0.01 before and after */
        }
    assert_true(day_sum(broken, 1, 15) < 0.61 * day_sum(healthy, 1, 15));
    tsl_free(healthy);
    tsl_free(broken);
}

static void test_soiling(void **state) {
    (void)state;
    tsl_solar_opts o;
    base_opts(&o);
    double *healthy = make(&o);
    o.fault = TSL_SOLAR_FAULT_SOILING;
    o.fault_site = 0;
    o.fault_day = 5;
    o.fault_factor = 0.95;
    double *soiled = make(&o);
    /* 0.95^k of the healthy output on the k-th day of the fault, never below half. */
    for (size_t day = 0; day < DAYS; day++) {
        double want = day < 5 ? 1.0 : pow(0.95, (double)(day - 4));
        if (want < 0.5) want = 0.5;
        double h = day_sum(healthy, 0, day), s = day_sum(soiled, 0, day);
        assert_true(fabs(s - want * h) <= 0.01 * 24); /* hourly values are rounded to 0.01 */
    }
    assert_true(day_sum(soiled, 0, 19) < 0.51 * day_sum(healthy, 0, 19));
    tsl_free(healthy);
    tsl_free(soiled);
}

static void test_errors(void **state) {
    (void)state;
    tsl_solar_opts o;
    base_opts(&o);
    tsl_solar_site site[SITES];
    double *y = tsl_reallocarray(NULL, SITES * HOURS, sizeof *y);
    tsl_diag d = {TSL_OK, {0}};
    o.fault = TSL_SOLAR_FAULT_INVERTER;
    o.fault_site = SITES;
    assert_int_equal(tsl_synth_solar(&o, site, y, &d), TSL_EINVAL);
    assert_non_null(strstr(d.msg, "degraded site"));
    o.fault_site = 0;
    o.fault_factor = 0.0;
    assert_int_equal(tsl_synth_solar(&o, site, y, &d), TSL_EINVAL);
    assert_non_null(strstr(d.msg, "fault factor"));
    tsl_free(y);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_healthy),
        cmocka_unit_test(test_inverter_fault),
        cmocka_unit_test(test_soiling),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
