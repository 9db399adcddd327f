/*
 * test_request.c - the forecast request body parser: a full request, defaults, and every
 * refusal with its status-deciding code and a message that names the key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"
#include "tsloop/daemon.h"

static const tsl_forecast_limits lim = {3, 48, 16};

/* Parses text; returns the code and leaves the message in msg. */
static tsl_err parse(const char *text, tsl_forecast_request *r, char *msg) {
    tsl_diag d = {TSL_OK, {0}};
    tsl_err e = tsl_forecast_request_parse(text, strlen(text), &lim, r, &d);
    strcpy(msg, d.msg);
    return e;
}

/* text is refused with code, and the message holds want. */
static void refused(const char *text, tsl_err code, const char *want) {
    tsl_forecast_request r;
    char msg[TSL_DIAG_MAX];
    tsl_err e = parse(text, &r, msg);
    tsl_forecast_request_release(&r);
    if (e != code || !strstr(msg, want))
        fail_msg("%s: got code %d '%s', want %d '%s'", text, (int)e, msg, (int)code, want);
}

static void test_full_and_defaults(void **state) {
    (void)state;
    tsl_forecast_request r;
    char msg[TSL_DIAG_MAX];
    assert_int_equal(parse("{\"items\": [\"a\", \"b\\\"c\"], \"horizon\": 24, \"quantiles\": "
                           "[0.05, 0.5, 0.95], \"inference_id\": \"run:2026-01-01_x.1\"}",
                           &r, msg),
                     TSL_OK);
    assert_int_equal(r.nitems, 2);
    assert_string_equal(r.items[1], "b\"c");
    assert_int_equal(r.horizon, 24);
    assert_true(r.has_levels);
    assert_int_equal(r.nq, 3);
    assert_true(r.levels[2] == 0.95);
    assert_string_equal(r.inference_id, "run:2026-01-01_x.1");
    tsl_forecast_request_release(&r);

    assert_int_equal(parse("{\"items\": [\"a\"]}", &r, msg), TSL_OK);
    assert_int_equal(r.horizon, 0);
    assert_false(r.has_levels);
    assert_string_equal(r.inference_id, "");
    tsl_forecast_request_release(&r);
    /* An empty quantile list asks for means only. */
    assert_int_equal(parse("{\"quantiles\": [], \"items\": [\"a\"]}", &r, msg), TSL_OK);
    assert_true(r.has_levels);
    assert_int_equal(r.nq, 0);
    tsl_forecast_request_release(&r);
}

static void test_refusals(void **state) {
    (void)state;
    refused("", TSL_EPARSE, "not JSON");
    refused("{\"items\": [\"a\"", TSL_EPARSE, "not JSON");
    refused("[\"a\"]", TSL_EINVAL, "not a JSON object");
    refused("{}", TSL_EINVAL, "items: missing");
    refused("{\"items\": []}", TSL_EINVAL, "items: empty");
    refused("{\"items\": \"a\"}", TSL_EINVAL, "items: expected an array");
    refused("{\"items\": [\"a\", 2]}", TSL_EINVAL, "items[1]: expected a string");
    refused("{\"items\": [\"\"]}", TSL_EINVAL, "items[0]");
    refused("{\"items\": [\"a\\u0000b\"]}", TSL_EPARSE, "not allowed");
    refused("{\"items\": [\"aaaaaaaaaaaaaaaaa\"]}", TSL_EINVAL, "at most 16 bytes");
    refused("{\"items\": [\"a\", \"b\", \"c\", \"d\"]}", TSL_ELIMIT, "at most 3 per request");
    refused("{\"items\": [\"a\"], \"horizon\": 0}", TSL_EINVAL, "horizon");
    refused("{\"items\": [\"a\"], \"horizon\": 2.5}", TSL_EINVAL, "horizon");
    refused("{\"items\": [\"a\"], \"horizon\": \"7\"}", TSL_EINVAL, "horizon");
    refused("{\"items\": [\"a\"], \"horizon\": 49}", TSL_ELIMIT, "at most 48");
    refused("{\"items\": [\"a\"], \"quantiles\": [0.9, 0.1]}", TSL_EINVAL, "quantiles: ");
    refused("{\"items\": [\"a\"], \"quantiles\": [1]}", TSL_EINVAL, "quantiles: ");
    refused("{\"items\": [\"a\"], \"quantiles\": [\"0.5\"]}", TSL_EINVAL, "quantiles[0]");
    refused("{\"items\": [\"a\"], \"quantiles\": 0.5}", TSL_EINVAL, "quantiles: expected");
    refused("{\"items\": [\"a\"], \"inference_id\": \"a b\"}", TSL_EINVAL, "inference_id");
    refused("{\"items\": [\"a\"], \"inference_id\": \"\"}", TSL_EINVAL, "inference_id");
    refused("{\"items\": [\"a\"], \"inference_id\": 7}", TSL_EINVAL, "inference_id");
    refused("{\"items\": [\"a\"], \"horizn\": 3}", TSL_EINVAL, "unknown key \"horizn\"");
    refused("{\"items\": [\"a\"], \"items\": [\"b\"]}", TSL_EPARSE, "duplicate");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_and_defaults),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
