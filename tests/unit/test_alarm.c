/*
 * test_alarm.c - the CloudWatch alarm rule and the threshold policies: the CloudWatch guide's
 * missing-data table cell by cell (M = N = 3, evaluation range 5), M of N with breaches apart,
 * datapoints reaching back into the range, each comparison operator at its threshold, the
 * range's truncation, the "premature transition" rule, state changes only on changes (and
 * their bookkeeping), the reason strings, flapping, refusals and parsing; then fixed, baseline
 * and best_approved thresholds across deployments and approvals.
 */
#include "testutil.h"

#include <string.h>

#include "tsloop/alarm.h"

/* Datapoints from a pattern of the guide's table: '0' good (0.1), 'X' breaching (0.5), '-'
 * missing; spaces are skipped. Returns the count. */
static size_t pattern(const char *p, double *out) {
    size_t n = 0;
    for (; *p; p++) {
        if (*p == ' ') continue;
        out[n++] = *p == '0' ? 0.1 : *p == 'X' ? 0.5 : NAN;
    }
    return n;
}

/* Evaluates pattern p under rule r from state `from`; returns the new state. */
static tsl_alarm_value eval_from(const tsl_alarm_rule *r, const char *p, tsl_alarm_value from,
                                 tsl_alarm_result *res) {
    double pts[64];
    size_t n = pattern(p, pts);
    tsl_alarm_state st;
    tsl_alarm_state_init(&st);
    st.value = from;
    tsl_alarm_result local;
    if (!res) res = &local;
    tsl_diag d = {0};
    if (tsl_alarm_evaluate(r, pts, n, 100, &st, res, &d)) fail_msg("evaluate: %s", d.msg);
    assert_int_equal(st.value, res->value);
    assert_int_equal(res->previous, from);
    assert_int_equal(res->changed, res->value != from);
    return res->value;
}

static void rule_3_3(tsl_alarm_rule *r, tsl_alarm_missing m) {
    tsl_alarm_rule_init(r, 0.35, TSL_ALARM_GT, 3);
    r->range = 5;
    r->missing = m;
}

#define KEEP (-1) /* the expected cell "retain the current state" */

/* One row of the guide's table: the states under missing, ignore, breaching, notBreaching. */
static void table_row(const char *p, int missing, int ignore, int breaching, int not_breaching) {
    const tsl_alarm_missing treat[4] = {TSL_ALARM_MISSING, TSL_ALARM_IGNORE, TSL_ALARM_BREACHING,
                                        TSL_ALARM_NOT_BREACHING};
    const int want[4] = {missing, ignore, breaching, not_breaching};
    const tsl_alarm_value from[3] = {TSL_ALARM_INSUFFICIENT_DATA, TSL_ALARM_OK, TSL_ALARM_ALARM};
    for (int t = 0; t < 4; t++) {
        tsl_alarm_rule r;
        rule_3_3(&r, treat[t]);
        for (int f = 0; f < 3; f++) {
            tsl_alarm_value expect = want[t] == KEEP ? from[f] : (tsl_alarm_value)want[t];
            tsl_alarm_value got = eval_from(&r, p, from[f], NULL);
            if (got != expect)
                fail_msg("%s, missing data %s, from %s: got %s, expected %s", p,
                         tsl_alarm_missing_name(treat[t]), tsl_alarm_value_name(from[f]),
                         tsl_alarm_value_name(got), tsl_alarm_value_name(expect));
        }
    }
}

static void test_cloudwatch_table(void **state) {
    (void)state;
    const int OK = TSL_ALARM_OK, AL = TSL_ALARM_ALARM, IN = TSL_ALARM_INSUFFICIENT_DATA;
    /*        datapoints     missing  ignore  breaching  notBreaching */
    table_row("0 - X - X", OK, OK, OK, OK);
    table_row("- - - - 0", OK, OK, OK, OK);
    table_row("- - - - -", IN, KEEP, AL, OK);
    table_row("0 X X - X", AL, AL, AL, AL);
    table_row("- - X - -", AL, KEEP, AL, OK);
}

static void test_more_cases(void **state) {
    (void)state;
    const int OK = TSL_ALARM_OK, AL = TSL_ALARM_ALARM;
    /* Enough real datapoints reach back past gaps: the last three real ones are X, X, 0. */
    table_row("X X - 0 -", OK, OK, OK, OK);
    table_row("X - X - X", AL, AL, AL, AL);
    /* Two real, both breaching, one slot to fill. */
    table_row("- - X X -", AL, KEEP, AL, OK);   /* oldest breach 3 back, then X and a gap */
    table_row("- - - X X", KEEP, KEEP, AL, OK); /* only 2 back: not yet */
    table_row("- - - 0 X", OK, OK, OK, OK);     /* a good one: ALARM impossible */
    table_row("- - X 0 -", OK, OK, OK, OK);
    /* A lone breach ages into ALARM under "missing" (the premature-transition rule). */
    table_row("- - - - X", KEEP, KEEP, AL, OK);
    table_row("- - - X -", KEEP, KEEP, AL, OK);
    table_row("X - - - -", AL, KEEP, AL, OK);
}

static void test_m_of_n(void **state) {
    (void)state;
    tsl_alarm_rule r;
    tsl_alarm_rule_init(&r, 0.35, TSL_ALARM_GT, 4);
    r.datapoints = 2;
    tsl_alarm_result res;
    /* Breaches need not be consecutive. */
    assert_int_equal(eval_from(&r, "X 0 X 0", TSL_ALARM_OK, &res), TSL_ALARM_ALARM);
    assert_int_equal(res.breaching, 2);
    assert_int_equal(res.evaluated, 4);
    assert_int_equal(eval_from(&r, "0 0 X 0", TSL_ALARM_ALARM, &res), TSL_ALARM_OK);
    assert_int_equal(res.breaching, 1);
    /* Older datapoints beyond the range (N + 2 = 6) are not looked at. */
    assert_int_equal(tsl_alarm_rule_range(&r), 6);
    assert_int_equal(eval_from(&r, "X X X X 0 0 0 0 0 0", TSL_ALARM_OK, &res), TSL_ALARM_OK);
    assert_int_equal(eval_from(&r, "X X X X - - - - - -", TSL_ALARM_OK, &res),
                     TSL_ALARM_INSUFFICIENT_DATA);
    /* Fewer datapoints than the range: the older slots are missing. */
    tsl_alarm_rule_init(&r, 0.35, TSL_ALARM_GT, 3);
    assert_int_equal(eval_from(&r, "X X X", TSL_ALARM_INSUFFICIENT_DATA, &res), TSL_ALARM_ALARM);
    assert_int_equal(eval_from(&r, "", TSL_ALARM_OK, &res), TSL_ALARM_INSUFFICIENT_DATA);
    assert_int_equal(res.real, 0);
}

static void test_operators(void **state) {
    (void)state;
    tsl_alarm_rule r;
    tsl_alarm_rule_init(&r, 1.0, TSL_ALARM_GT, 1);
    assert_false(tsl_alarm_breaches(&r, 1.0));
    assert_true(tsl_alarm_breaches(&r, 1.0000001));
    assert_false(tsl_alarm_breaches(&r, NAN));
    r.op = TSL_ALARM_GE;
    assert_true(tsl_alarm_breaches(&r, 1.0));
    assert_false(tsl_alarm_breaches(&r, 0.999));
    r.op = TSL_ALARM_LT;
    assert_false(tsl_alarm_breaches(&r, 1.0));
    assert_true(tsl_alarm_breaches(&r, 0.999));
    assert_true(tsl_alarm_breaches(&r, -INFINITY));
    r.op = TSL_ALARM_LE;
    assert_true(tsl_alarm_breaches(&r, 1.0));
    assert_false(tsl_alarm_breaches(&r, 1.001));
    /* A coverage alarm: below 0.7 for 2 of 3. */
    tsl_alarm_rule_init(&r, 0.7, TSL_ALARM_LT, 3);
    r.datapoints = 2;
    double pts[3] = {0.65, 0.81, 0.6};
    tsl_alarm_state st;
    tsl_alarm_state_init(&st);
    tsl_alarm_result res;
    assert_int_equal(tsl_alarm_evaluate(&r, pts, 3, 1, &st, &res, NULL), TSL_OK);
    assert_int_equal(res.value, TSL_ALARM_ALARM);
    assert_string_equal(res.reason, "2 of the last 3 datapoints (0.65, 0.81, 0.6) were < 0.7");
}

static void test_state_changes(void **state) {
    (void)state;
    tsl_alarm_rule r;
    tsl_alarm_rule_init(&r, 0.35, TSL_ALARM_GT, 3);
    tsl_alarm_state st;
    tsl_alarm_state_init(&st);
    assert_int_equal(st.value, TSL_ALARM_INSUFFICIENT_DATA);
    assert_int_equal(st.changes, 0);
    tsl_alarm_result res;
    double ok[3] = {0.2, 0.3, 0.1}, bad[3] = {0.41, 0.44, 0.39};
    assert_int_equal(tsl_alarm_evaluate(&r, ok, 3, 1000, &st, &res, NULL), TSL_OK);
    assert_true(res.changed);
    assert_int_equal(res.previous, TSL_ALARM_INSUFFICIENT_DATA);
    assert_int_equal(st.value, TSL_ALARM_OK);
    assert_int_equal(st.changed_at, 1000);
    assert_string_equal(res.reason,
                        "0 of the last 3 datapoints (0.2, 0.3, 0.1) were > 0.35 (3 needed to "
                        "alarm)");
    /* Same again: evaluated, not changed. */
    assert_int_equal(tsl_alarm_evaluate(&r, ok, 3, 2000, &st, &res, NULL), TSL_OK);
    assert_false(res.changed);
    assert_int_equal(st.changed_at, 1000);
    assert_int_equal(st.evaluated_at, 2000);
    assert_int_equal(st.changes, 1);
    /* The brief's example. */
    assert_int_equal(tsl_alarm_evaluate(&r, bad, 3, 3000, &st, &res, NULL), TSL_OK);
    assert_true(res.changed);
    assert_int_equal(res.value, TSL_ALARM_ALARM);
    assert_string_equal(res.reason, "3 of the last 3 datapoints (0.41, 0.44, 0.39) were > 0.35");
    assert_int_equal(st.changes, 2);
    assert_int_equal(st.changed_at, 3000);
    /* An invalid rule leaves the state alone. */
    tsl_alarm_state before = st;
    r.datapoints = 4;
    tsl_diag d = {0};
    assert_int_equal(tsl_alarm_evaluate(&r, ok, 3, 4000, &st, &res, &d), TSL_EINVAL);
    assert_memory_equal(&before, &st, sizeof st);
    assert_non_null(strstr(d.msg, "datapoints_to_alarm"));
}

static void test_reasons_with_missing(void **state) {
    (void)state;
    tsl_alarm_rule r;
    tsl_alarm_result res;
    rule_3_3(&r, TSL_ALARM_BREACHING);
    eval_from(&r, "- - 0 - -", TSL_ALARM_OK, &res);
    assert_string_equal(res.reason, "2 of the last 3 datapoints (0.1, 2 missing) were > 0.35, "
                                    "missing data treated as breaching (3 needed to alarm)");
    rule_3_3(&r, TSL_ALARM_MISSING);
    eval_from(&r, "- - - - -", TSL_ALARM_OK, &res);
    assert_string_equal(res.reason, "no datapoint in the last 5 periods");
    eval_from(&r, "- - X - -", TSL_ALARM_OK, &res);
    assert_string_equal(res.reason, "a datapoint 3 periods back (0.5) was > 0.35 and only "
                                    "breaching or missing datapoints followed");
    rule_3_3(&r, TSL_ALARM_IGNORE);
    eval_from(&r, "- - X - -", TSL_ALARM_OK, &res);
    assert_string_equal(res.reason,
                        "state kept (missing data ignored): 1 real of the last 3 datapoints (0.5)");
    /* A long list is cut in the middle. */
    tsl_alarm_rule_init(&r, 0.35, TSL_ALARM_GT, 20);
    double pts[20];
    for (int i = 0; i < 20; i++) pts[i] = i;
    tsl_alarm_state st;
    tsl_alarm_state_init(&st);
    assert_int_equal(tsl_alarm_evaluate(&r, pts, 20, 0, &st, &res, NULL), TSL_OK);
    assert_string_equal(res.reason, "19 of the last 20 datapoints (0, 1, 2, 3, 4, 5, ..., 14, 15, "
                                    "16, 17, 18, 19) were > 0.35 (20 needed to alarm)");
}

/* A metric that hovers around its threshold: with M = N = 3 the alarm changes only on runs. */
static void test_flapping(void **state) {
    (void)state;
    const double series[] = {0.3, 0.4, 0.3, 0.4, 0.4, 0.3, 0.4, 0.4, 0.4, 0.4, 0.3, 0.4, 0.3};
    const size_t n = sizeof series / sizeof series[0];
    tsl_alarm_rule r;
    tsl_alarm_rule_init(&r, 0.35, TSL_ALARM_GT, 3);
    tsl_alarm_state st;
    tsl_alarm_state_init(&st);
    int changes = 0;
    tsl_alarm_value seen[16];
    for (size_t t = 0; t < n; t++) {
        size_t lo = t + 1 > 5 ? t + 1 - 5 : 0;
        tsl_alarm_result res;
        assert_int_equal(
            tsl_alarm_evaluate(&r, series + lo, t + 1 - lo, (int64_t)t, &st, &res, NULL), TSL_OK);
        changes += res.changed;
        seen[t] = res.value;
    }
    /* OK from the first datapoint (fewer than 3 real but a good one, under "missing"), ALARM
     * only at the first run of three breaches (t = 8), OK again at t = 10: three changes for
     * a metric that crossed its threshold eight times. */
    assert_int_equal(seen[0], TSL_ALARM_OK);
    assert_int_equal(seen[7], TSL_ALARM_OK);
    assert_int_equal(seen[8], TSL_ALARM_ALARM);
    assert_int_equal(seen[9], TSL_ALARM_ALARM);
    assert_int_equal(seen[10], TSL_ALARM_OK);
    assert_int_equal(changes, 3);
    assert_int_equal(st.changes, 3);
}

/* docs/monitoring.md's worked example, day by day. */
static void test_worked_example(void **state) {
    (void)state;
    const double mape[7] = {0.21, 0.38, 0.24, 0.41, NAN, 0.30, 0.20};
    const tsl_alarm_value want[7] = {TSL_ALARM_OK,    TSL_ALARM_OK, TSL_ALARM_OK, TSL_ALARM_ALARM,
                                     TSL_ALARM_ALARM, TSL_ALARM_OK, TSL_ALARM_OK};
    const int changed[7] = {1, 0, 0, 1, 0, 1, 0};
    tsl_alarm_rule r;
    tsl_alarm_rule_init(&r, 0.35, TSL_ALARM_GT, 3);
    r.datapoints = 2;
    tsl_alarm_state st;
    tsl_alarm_state_init(&st);
    for (int day = 0; day < 7; day++) {
        int lo = day + 1 > 5 ? day + 1 - 5 : 0;
        tsl_alarm_result res;
        assert_int_equal(
            tsl_alarm_evaluate(&r, mape + lo, (size_t)(day + 1 - lo), day, &st, &res, NULL),
            TSL_OK);
        if (res.value != want[day] || res.changed != changed[day])
            fail_msg("day %d: %s (changed %d): %s", day + 1, tsl_alarm_value_name(res.value),
                     res.changed, res.reason);
        if (day == 3)
            assert_string_equal(res.reason,
                                "2 of the last 3 datapoints (0.38, 0.24, 0.41) were > 0.35");
    }
}

static void test_rule_refusals(void **state) {
    (void)state;
    tsl_alarm_rule r;
    tsl_diag d = {0};
    tsl_alarm_rule_init(&r, 1, TSL_ALARM_GT, 3);
    assert_int_equal(tsl_alarm_rule_check(&r, &d), TSL_OK);
    r.threshold = NAN;
    assert_int_equal(tsl_alarm_rule_check(&r, &d), TSL_EINVAL);
    assert_non_null(strstr(d.msg, "threshold"));
    tsl_alarm_rule_init(&r, 1, TSL_ALARM_GT, 0);
    assert_int_equal(tsl_alarm_rule_check(&r, &d), TSL_EINVAL);
    assert_non_null(strstr(d.msg, "evaluation_periods"));
    tsl_alarm_rule_init(&r, 1, TSL_ALARM_GT, 3);
    r.datapoints = 0;
    assert_int_equal(tsl_alarm_rule_check(&r, &d), TSL_EINVAL);
    tsl_alarm_rule_init(&r, 1, TSL_ALARM_GT, 3);
    r.range = 2;
    assert_int_equal(tsl_alarm_rule_check(&r, &d), TSL_EINVAL);
    assert_non_null(strstr(d.msg, "evaluation_range"));
    r.range = 3;
    assert_int_equal(tsl_alarm_rule_check(&r, &d), TSL_OK);
    r.op = (tsl_alarm_op)9;
    assert_int_equal(tsl_alarm_rule_check(&r, &d), TSL_EINVAL);
    tsl_alarm_rule_init(&r, 1, TSL_ALARM_GT, TSL_ALARM_MAX_PERIODS + 1);
    assert_int_equal(tsl_alarm_rule_check(&r, &d), TSL_EINVAL);
}

static void test_parse_names(void **state) {
    (void)state;
    tsl_alarm_op op;
    tsl_alarm_missing m;
    tsl_alarm_value v;
    tsl_threshold_kind k;
    tsl_diag d = {0};
    const char *ops[] = {">", ">=", "<", "<="};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(tsl_alarm_op_parse(ops[i], &op, NULL), TSL_OK);
        assert_int_equal(op, i);
        assert_string_equal(tsl_alarm_op_name(op), ops[i]);
    }
    assert_int_equal(tsl_alarm_op_parse("LessThanOrEqualToThreshold", &op, NULL), TSL_OK);
    assert_int_equal(op, TSL_ALARM_LE);
    assert_int_equal(tsl_alarm_op_parse("=>", &op, &d), TSL_EINVAL);
    assert_non_null(strstr(d.msg, "=>"));
    const char *ms[] = {"missing", "breaching", "notBreaching", "ignore"};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(tsl_alarm_missing_parse(ms[i], &m, NULL), TSL_OK);
        assert_int_equal(m, i);
        assert_string_equal(tsl_alarm_missing_name(m), ms[i]);
    }
    assert_int_equal(tsl_alarm_missing_parse("notbreaching", &m, &d), TSL_EINVAL);
    assert_int_equal(tsl_alarm_value_parse("alarm", &v, NULL), TSL_OK);
    assert_int_equal(v, TSL_ALARM_ALARM);
    assert_int_equal(tsl_alarm_value_parse("INSUFFICIENT_DATA", &v, NULL), TSL_OK);
    assert_int_equal(v, TSL_ALARM_INSUFFICIENT_DATA);
    assert_string_equal(tsl_alarm_value_name(TSL_ALARM_OK), "OK");
    assert_int_equal(tsl_alarm_value_parse("red", &v, &d), TSL_EINVAL);
    assert_int_equal(tsl_threshold_kind_parse("best_approved", &k, NULL), TSL_OK);
    assert_int_equal(k, TSL_THRESHOLD_BEST_APPROVED);
    assert_string_equal(tsl_threshold_kind_name(TSL_THRESHOLD_BASELINE), "baseline");
    assert_int_equal(tsl_threshold_kind_parse("adaptive", &k, &d), TSL_EINVAL);
}

/* ---- threshold policies ---- */

static void test_threshold_fixed(void **state) {
    (void)state;
    tsl_threshold_policy p = {TSL_THRESHOLD_FIXED, 0.35, 0, 0};
    tsl_threshold_state s;
    int changed = 1;
    assert_int_equal(tsl_threshold_init(&p, &s, NULL), TSL_OK);
    assert_true(s.threshold == 0.35);
    assert_int_equal(tsl_threshold_update(&p, TSL_THRESHOLD_DEPLOYED, 0.1, &s, &changed, NULL),
                     TSL_OK);
    assert_false(changed);
    assert_int_equal(tsl_threshold_update(&p, TSL_THRESHOLD_APPROVED, 0.1, &s, &changed, NULL),
                     TSL_OK);
    assert_false(changed);
    assert_true(s.threshold == 0.35);
    tsl_diag d = {0};
    p.value = INFINITY;
    assert_int_equal(tsl_threshold_init(&p, &s, &d), TSL_EINVAL);
    assert_non_null(strstr(d.msg, "value"));
}

static void test_threshold_baseline(void **state) {
    (void)state;
    tsl_threshold_policy p = {TSL_THRESHOLD_BASELINE, 0, 1.25, 0};
    tsl_threshold_state s;
    int changed = 0;
    assert_int_equal(tsl_threshold_init(&p, &s, NULL), TSL_OK);
    assert_true(isnan(s.threshold));
    /* Approvals do not move it; deployments do, better or worse. */
    assert_int_equal(tsl_threshold_update(&p, TSL_THRESHOLD_APPROVED, 0.2, &s, &changed, NULL),
                     TSL_OK);
    assert_false(changed);
    assert_true(isnan(s.threshold));
    assert_int_equal(tsl_threshold_update(&p, TSL_THRESHOLD_DEPLOYED, 0.2, &s, &changed, NULL),
                     TSL_OK);
    assert_true(changed);
    tu_close(s.threshold, 0.25, 1e-15, 0, "0.2 x 1.25");
    assert_int_equal(tsl_threshold_update(&p, TSL_THRESHOLD_DEPLOYED, 0.3, &s, &changed, NULL),
                     TSL_OK);
    assert_true(changed);
    tu_close(s.threshold, 0.375, 1e-15, 0, "0.3 x 1.25");
    assert_int_equal(tsl_threshold_update(&p, TSL_THRESHOLD_DEPLOYED, 0.3, &s, &changed, NULL),
                     TSL_OK);
    assert_false(changed); /* the same version again */
    tsl_diag d = {0};
    assert_int_equal(tsl_threshold_update(&p, TSL_THRESHOLD_DEPLOYED, NAN, &s, &changed, &d),
                     TSL_EINVAL);
    tu_close(s.threshold, 0.375, 1e-15, 0, "untouched");
    p.factor = 0;
    assert_int_equal(tsl_threshold_init(&p, &s, &d), TSL_EINVAL);
    assert_non_null(strstr(d.msg, "factor"));
}

static void test_threshold_best_approved(void **state) {
    (void)state;
    /* An error metric (lower is better), threshold 1.1 x the best approved. */
    tsl_threshold_policy p = {TSL_THRESHOLD_BEST_APPROVED, 0, 1.1, 0};
    tsl_threshold_state s;
    int changed = 0;
    assert_int_equal(tsl_threshold_init(&p, &s, NULL), TSL_OK);
    assert_int_equal(tsl_threshold_update(&p, TSL_THRESHOLD_APPROVED, 0.5, &s, &changed, NULL),
                     TSL_OK);
    assert_true(changed);
    tu_close(s.threshold, 0.55, 1e-15, 0, "first approval");
    /* A worse approved version does not loosen the threshold. */
    assert_int_equal(tsl_threshold_update(&p, TSL_THRESHOLD_APPROVED, 0.6, &s, &changed, NULL),
                     TSL_OK);
    assert_false(changed);
    tu_close(s.metric, 0.5, 0, 0, "best so far");
    /* Deployments do not move it. */
    assert_int_equal(tsl_threshold_update(&p, TSL_THRESHOLD_DEPLOYED, 0.1, &s, &changed, NULL),
                     TSL_OK);
    assert_false(changed);
    /* A better one tightens it. */
    assert_int_equal(tsl_threshold_update(&p, TSL_THRESHOLD_APPROVED, 0.4, &s, &changed, NULL),
                     TSL_OK);
    assert_true(changed);
    tu_close(s.threshold, 0.44, 1e-15, 0, "tightened");
    /* Higher is better (say, interval coverage watched with <): follows increases only. */
    tsl_threshold_policy q = {TSL_THRESHOLD_BEST_APPROVED, 0, 0.9, 1};
    assert_int_equal(tsl_threshold_init(&q, &s, NULL), TSL_OK);
    tsl_threshold_update(&q, TSL_THRESHOLD_APPROVED, 0.8, &s, &changed, NULL);
    tsl_threshold_update(&q, TSL_THRESHOLD_APPROVED, 0.7, &s, &changed, NULL);
    assert_false(changed);
    tsl_threshold_update(&q, TSL_THRESHOLD_APPROVED, 0.85, &s, &changed, NULL);
    assert_true(changed);
    tu_close(s.threshold, 0.765, 1e-15, 0, "0.85 x 0.9");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cloudwatch_table),
        cmocka_unit_test(test_more_cases),
        cmocka_unit_test(test_m_of_n),
        cmocka_unit_test(test_operators),
        cmocka_unit_test(test_state_changes),
        cmocka_unit_test(test_reasons_with_missing),
        cmocka_unit_test(test_flapping),
        cmocka_unit_test(test_worked_example),
        cmocka_unit_test(test_rule_refusals),
        cmocka_unit_test(test_parse_names),
        cmocka_unit_test(test_threshold_fixed),
        cmocka_unit_test(test_threshold_baseline),
        cmocka_unit_test(test_threshold_best_approved),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
