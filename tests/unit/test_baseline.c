/*
 * test_baseline.c - the data baseline and the drift statistics: every statistic of a small
 * daily data set (gaps, missing values, a zero-inflated series with tied deciles, a series
 * starting mid-week, an all-missing series) against R (tests/data/r/make_baseline.R), the
 * drift statistics of new samples against R's ks.test(), a brute-force KS and an x-domain
 * Wasserstein integral, hand-computed cases (the arithmetic is in the comments), calendar
 * positions, the JSON round trip to the bit, and the parser's refusals.
 */
#include "testutil.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "tsloop/baseline.h"
#include "tsloop/buf.h"
#include "tsloop/dataset.h"
#include "tsloop/mem.h"

/* ---- helpers ---- */

static tsl_dataset *read_input(void) {
    tsl_dataset *ds = NULL;
    tsl_diag d = {0};
    if (tsl_dataset_read_file(tu_path("baseline/input.csv"), NULL, &ds, &d))
        fail_msg("reading baseline/input.csv: %s", d.msg);
    return ds;
}

static tsl_baseline *compute_input(void) {
    tsl_dataset *ds = read_input();
    tsl_baseline *b = NULL;
    tsl_diag d = {0};
    if (tsl_baseline_compute(ds, 0, &b, &d)) fail_msg("baseline: %s", d.msg);
    tsl_dataset_free(ds);
    return b;
}

/* The statistic called stat of series name in the stats fixture. */
static double want(const tu_table *t, const char *name, const char *stat) {
    for (size_t r = 0; r < t->rows; r++)
        if (!strcmp(tu_str(t, r, "series"), name) && !strcmp(tu_str(t, r, "stat"), stat))
            return tu_num(t, r, "value");
    fail_msg("stats fixture has no %s of %s", stat, name);
    return NAN;
}

/* Both NaN, or bit-identical. */
static int same(double a, double b) {
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

static void assert_stats_identical(const tsl_baseline_stats *a, const tsl_baseline_stats *b,
                                   const char *what) {
    if (a->n != b->n || a->count != b->count || a->zeros != b->zeros)
        fail_msg("%s: counts differ", what);
    if (!same(a->mean, b->mean) || !same(a->sd, b->sd) || !same(a->min, b->min) ||
        !same(a->max, b->max) || !same(a->missing_share, b->missing_share) ||
        !same(a->zero_share, b->zero_share))
        fail_msg("%s: moments differ", what);
    for (int k = 0; k <= TSL_BASELINE_BUCKETS; k++)
        if (!same(a->deciles[k], b->deciles[k])) fail_msg("%s: decile %d differs", what, k);
    if (memcmp(a->buckets, b->buckets, sizeof a->buckets)) fail_msg("%s: buckets differ", what);
    if (a->period != b->period) fail_msg("%s: periods differ", what);
    for (int k = 0; k < a->period; k++)
        if (!same(a->profile[k], b->profile[k])) fail_msg("%s: profile %d differs", what, k);
}

static void assert_baselines_identical(const tsl_baseline *a, const tsl_baseline *b) {
    assert_int_equal(a->freq.unit, b->freq.unit);
    assert_int_equal(a->freq.mult, b->freq.mult);
    assert_int_equal(a->freq.anchor, b->freq.anchor);
    assert_int_equal(a->period, b->period);
    assert_int_equal(a->nseries, b->nseries);
    assert_stats_identical(&a->overall, &b->overall, "overall");
    for (size_t i = 0; i < a->nseries; i++) {
        assert_string_equal(a->series[i].item_id, b->series[i].item_id);
        assert_stats_identical(&a->series[i].stats, &b->series[i].stats, a->series[i].item_id);
    }
}

/* Baseline statistics of values y (daily from a Monday, no profile). */
static void stats_of(const double *y, size_t n, tsl_baseline_stats *s) {
    tsl_freq daily = {TSL_FREQ_DAY, 1, 0};
    assert_int_equal(tsl_baseline_stats_compute(y, n, 1704067200, daily, 1, s, NULL), TSL_OK);
}

/* ---- against R ---- */

static void check_stats(const tu_table *t, const char *name, const tsl_baseline_stats *s) {
    char label[64];
    assert_int_equal(s->n, (size_t)want(t, name, "n"));
    assert_int_equal(s->count, (size_t)want(t, name, "count"));
    assert_int_equal(s->zeros, (size_t)want(t, name, "zeros"));
    tu_close(s->mean, want(t, name, "mean"), 1e-14, 0, "%s mean", name);
    tu_close(s->sd, want(t, name, "sd"), 1e-13, 0, "%s sd", name);
    tu_close(s->min, want(t, name, "min"), 0, 0, "%s min", name);
    tu_close(s->max, want(t, name, "max"), 0, 0, "%s max", name);
    tu_close(s->missing_share, want(t, name, "missing_share"), 1e-15, 0, "%s missing", name);
    tu_close(s->zero_share, want(t, name, "zero_share"), 1e-15, 0, "%s zeros", name);
    for (int k = 0; k <= 10; k++) {
        snprintf(label, sizeof label, "d%d", k);
        tu_close(s->deciles[k], want(t, name, label), 1e-14, 1e-14, "%s %s", name, label);
    }
    for (int k = 0; k < 10; k++) {
        snprintf(label, sizeof label, "b%d", k);
        assert_int_equal(s->buckets[k], (size_t)want(t, name, label));
    }
    assert_int_equal(s->period, 7);
    for (int k = 0; k < 7; k++) {
        snprintf(label, sizeof label, "p%d", k);
        tu_close(s->profile[k], want(t, name, label), 1e-12, 1e-13, "%s %s", name, label);
    }
}

static void test_against_r(void **state) {
    (void)state;
    tsl_baseline *b = compute_input();
    tu_table *t = tu_table_read(tu_path("baseline/stats.csv"));
    assert_int_equal(b->freq.unit, TSL_FREQ_DAY);
    assert_int_equal(b->period, 7);
    assert_int_equal(b->nseries, 4);
    static const char *const names[4] = {"a", "b", "c", "d"};
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(b->series[i].item_id, names[i]);
        check_stats(t, names[i], &b->series[i].stats);
    }
    check_stats(t, "overall", &b->overall);
    /* The all-missing series: nothing but its length. */
    const tsl_baseline_stats *d = &b->series[3].stats;
    assert_int_equal(d->count, 0);
    assert_true(isnan(d->mean) && isnan(d->deciles[5]) && isnan(d->profile[0]));
    assert_int_equal(tsl_baseline_find(b, "c"), 2);
    assert_int_equal(tsl_baseline_find(b, "e"), -1);
    tu_table_free(t);
    tsl_baseline_free(b);
}

static void test_drift_against_r(void **state) {
    (void)state;
    tsl_baseline *b = compute_input();
    tu_table *nw = tu_table_read(tu_path("baseline/new.csv"));
    tu_table *dr = tu_table_read(tu_path("baseline/drift.csv"));
    for (size_t r = 0; r < dr->rows; r++) {
        const char *name = tu_str(dr, r, "series");
        size_t n;
        double *y = tu_series(nw, name, &n, NULL);
        const tsl_baseline_stats *s = &b->series[tsl_baseline_find(b, name)].stats;
        double psi, ks, w, wn;
        assert_int_equal(tsl_baseline_psi(s, y, n, &psi, NULL), TSL_OK);
        assert_int_equal(tsl_baseline_ks(s, y, n, &ks, NULL), TSL_OK);
        assert_int_equal(tsl_baseline_wasserstein(s, y, n, &w, &wn, NULL), TSL_OK);
        tu_close(psi, tu_num(dr, r, "psi"), 1e-12, 0, "%s psi", name);
        /* The brute force probes 1e-9 (relative) left of each point. */
        tu_close(ks, tu_num(dr, r, "ks"), 0, 1e-8, "%s ks (brute force)", name);
        double ks_r = tu_num(dr, r, "ks_r");
        if (!isnan(ks_r)) tu_close(ks, ks_r, 1e-12, 0, "%s ks (R's ks.test)", name);
        tu_close(w, tu_num(dr, r, "wasserstein"), 1e-12, 0, "%s wasserstein", name);
        tu_close(wn, tu_num(dr, r, "wasserstein_norm"), 1e-12, 0, "%s normalised", name);
        tsl_free(y);
    }
    tu_table_free(nw);
    tu_table_free(dr);
    tsl_baseline_free(b);
}

/* ---- hand-computed ---- */

static void test_hand_deciles_and_buckets(void **state) {
    (void)state;
    /* 0..10 in a shuffled order: the deciles are 0, 1, ..., 10 and the buckets (right-closed)
     * hold {0, 1}, then one value each: 2, 1, 1, 1, 1, 1, 1, 1, 1, 1. */
    const double y[13] = {7, 3, NAN, 10, 0, 5, 1, 9, 2, 8, 6, 4, NAN};
    tsl_baseline_stats s;
    stats_of(y, 13, &s);
    assert_int_equal(s.n, 13);
    assert_int_equal(s.count, 11);
    assert_int_equal(s.zeros, 1);
    for (int k = 0; k <= 10; k++) tu_close(s.deciles[k], k, 0, 0, "decile %d", k);
    assert_int_equal(s.buckets[0], 2);
    for (int k = 1; k < 10; k++) assert_int_equal(s.buckets[k], 1);
    tu_close(s.mean, 5, 0, 0, "mean");
    tu_close(s.sd, sqrt(11), 1e-15, 0, "sd: sum of squares 110 over 10");
    tu_close(s.missing_share, 2.0 / 13, 0, 0, "missing share");
    tu_close(s.zero_share, 1.0 / 11, 0, 0, "zero share");
    assert_null(s.profile);

    /* Interpolation: 1, 2, 4, 8 (h = 3k/10): the 0.1 decile is 1 + 0.3 * (2 - 1) = 1.3, the
     * 0.5 one 2 + 0.5 * (4 - 2) = 3, the 0.9 one 4 + 0.7 * (8 - 4) = 6.8. */
    const double z[4] = {8, 4, 2, 1};
    tsl_baseline_stats t;
    stats_of(z, 4, &t);
    tu_close(t.deciles[1], 1.3, 1e-15, 0, "d1");
    tu_close(t.deciles[5], 3, 1e-15, 0, "d5");
    tu_close(t.deciles[9], 6.8, 1e-15, 0, "d9");
    tsl_baseline_stats_release(&s);
    tsl_baseline_stats_release(&t);
}

static void test_hand_psi(void **state) {
    (void)state;
    const double y[11] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    tsl_baseline_stats s;
    stats_of(y, 11, &s);
    /* The baseline itself: every share equal, PSI 0. */
    double psi;
    assert_int_equal(tsl_baseline_psi(&s, y, 11, &psi, NULL), TSL_OK);
    tu_close(psi, 0, 0, 0, "psi of the baseline");
    /* New values 0.5, 0.5, 10.5, 10.5 and a NaN (ignored): half in bucket 0 (base 2/11), half
     * in bucket 9 (base 1/11), the eight others empty and counted as 0.0001:
     * (0.5 - 2/11) ln(0.5 / (2/11)) + (0.5 - 1/11) ln(0.5 / (1/11))
     *   + 8 (0.0001 - 1/11) ln(0.0001 / (1/11)) */
    const double x[5] = {0.5, 0.5, NAN, 10.5, 10.5};
    assert_int_equal(tsl_baseline_psi(&s, x, 5, &psi, NULL), TSL_OK);
    double e = (0.5 - 2.0 / 11) * log(0.5 / (2.0 / 11)) + (0.5 - 1.0 / 11) * log(0.5 / (1.0 / 11)) +
               8 * (1e-4 - 1.0 / 11) * log(1e-4 / (1.0 / 11));
    tu_close(psi, e, 1e-14, 0, "psi by hand");
    assert_true(psi > 0.25); /* a large shift by the usual reading */
    /* A value on an edge goes to the lower bucket: 1 is in bucket 0, 1.5 in bucket 1. */
    const double one[2] = {1, 1.5};
    assert_int_equal(tsl_baseline_psi(&s, one, 2, &psi, NULL), TSL_OK);
    e = (0.5 - 2.0 / 11) * log(0.5 / (2.0 / 11)) + (0.5 - 1.0 / 11) * log(0.5 / (1.0 / 11)) +
        8 * (1e-4 - 1.0 / 11) * log(1e-4 / (1.0 / 11));
    tu_close(psi, e, 1e-14, 0, "psi with a value on an edge");
    tsl_baseline_stats_release(&s);
}

static void test_hand_ks(void **state) {
    (void)state;
    const double y[11] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    tsl_baseline_stats s;
    stats_of(y, 11, &s);
    /* The sketch of 0..10 is uniform on [0, 10]. One new value 5: F(5) = 0.5, so D = 0.5. */
    double ks;
    const double five = 5;
    assert_int_equal(tsl_baseline_ks(&s, &five, 1, &ks, NULL), TSL_OK);
    tu_close(ks, 0.5, 0, 1e-15, "ks of {5}");
    /* The baseline's own values: at x_i = i - 1, i/11 - (i-1)/10 is largest at i = 1 (1/11) and
     * (i-1)/10 - (i-1)/11 at i = 11 (1/11): D = 1/11. */
    assert_int_equal(tsl_baseline_ks(&s, y, 11, &ks, NULL), TSL_OK);
    tu_close(ks, 1.0 / 11, 1e-15, 0, "ks of the baseline's values");
    /* Entirely outside: D = 1. */
    const double far[2] = {20, 30};
    assert_int_equal(tsl_baseline_ks(&s, far, 2, &ks, NULL), TSL_OK);
    tu_close(ks, 1, 0, 0, "ks of values above the range");

    /* Tied deciles: 0 x5, 1..6 gives deciles 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6 (h = k), so the
     * sketch jumps from 0 to 0.4 at 0, then rises linearly to 1 at 6. New values all 0: the
     * empirical function jumps to 1 at 0 where the sketch reaches 0.4: D = 0.6. */
    const double tied[11] = {0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6};
    tsl_baseline_stats t;
    stats_of(tied, 11, &t);
    assert_int_equal(t.buckets[0], 5); /* (-inf, 0] */
    assert_int_equal(t.buckets[1], 0); /* (0, 0] */
    assert_int_equal(t.buckets[4], 1); /* (0, 1] */
    const double zeros[3] = {0, 0, 0};
    assert_int_equal(tsl_baseline_ks(&t, zeros, 3, &ks, NULL), TSL_OK);
    tu_close(ks, 0.6, 1e-15, 0, "ks at a jump");
    /* Above the jump, 0.5: F(0.5) = (4 + 0.5) / 10 = 0.45, so D = max(1 - 0.45, 0.45) = 0.55.
     * Below the sketch, -1: the sample is complete where F is still 0, D = 1. */
    const double half = 0.5;
    assert_int_equal(tsl_baseline_ks(&t, &half, 1, &ks, NULL), TSL_OK);
    tu_close(ks, 0.55, 1e-15, 0, "ks above a jump");
    const double below = -1;
    assert_int_equal(tsl_baseline_ks(&t, &below, 1, &ks, NULL), TSL_OK);
    tu_close(ks, 1, 0, 0, "ks below the sketch");
    tsl_baseline_stats_release(&s);
    tsl_baseline_stats_release(&t);
}

static void test_hand_wasserstein(void **state) {
    (void)state;
    const double y[11] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    tsl_baseline_stats s;
    stats_of(y, 11, &s);
    /* Against the uniform [0, 10] sketch, {5}: integral over u of |5 - 10u| = 2.5. The
     * population sd of 0..10 is sqrt(110 / 11) = sqrt(10). */
    double w, wn;
    const double five = 5;
    assert_int_equal(tsl_baseline_wasserstein(&s, &five, 1, &w, &wn, NULL), TSL_OK);
    tu_close(w, 2.5, 1e-15, 0, "w1 of {5}");
    tu_close(wn, 2.5 / sqrt(10), 1e-15, 0, "normalised");
    /* A sample far above the sketch: every new value 20 gives integral |20 - 10u| = 15. */
    const double twenty[3] = {20, 20, 20};
    assert_int_equal(tsl_baseline_wasserstein(&s, twenty, 3, &w, NULL, NULL), TSL_OK);
    tu_close(w, 15, 1e-15, 0, "w1 of {20}");
    /* Two values 0 and 10 (steps at u = 1/2): 2 * integral over [0, 1/2] of 10u = 2.5. */
    const double ends[2] = {10, 0};
    assert_int_equal(tsl_baseline_wasserstein(&s, ends, 2, &w, NULL, NULL), TSL_OK);
    tu_close(w, 2.5, 1e-15, 0, "w1 of {0, 10}");
    /* A constant baseline (sd 0): the norm is floored at 0.001. */
    const double c[3] = {4, 4, 4};
    tsl_baseline_stats k;
    stats_of(c, 3, &k);
    const double six = 6;
    assert_int_equal(tsl_baseline_wasserstein(&k, &six, 1, &w, &wn, NULL), TSL_OK);
    tu_close(w, 2, 0, 0, "w1 to a constant");
    tu_close(wn, 2000, 1e-12, 0, "floored norm");
    tsl_baseline_stats_release(&s);
    tsl_baseline_stats_release(&k);
}

static void test_drift_errors(void **state) {
    (void)state;
    const double y[3] = {1, 2, 3};
    const double nan3[3] = {NAN, NAN, NAN};
    tsl_baseline_stats s, e;
    stats_of(y, 3, &s);
    stats_of(nan3, 3, &e);
    double v;
    tsl_diag d = {0};
    assert_int_equal(tsl_baseline_psi(&s, nan3, 3, &v, &d), TSL_ESHORT);
    assert_string_equal(d.msg, "PSI: none of the 3 new values is observed");
    assert_int_equal(tsl_baseline_ks(&e, y, 3, &v, &d), TSL_ESHORT);
    assert_string_equal(d.msg, "Kolmogorov-Smirnov: the baseline has no observed value");
    assert_int_equal(tsl_baseline_wasserstein(&s, y, 0, &v, NULL, &d), TSL_ESHORT);
    tsl_freq bad = {TSL_FREQ_NONE, 1, 0}, daily = {TSL_FREQ_DAY, 1, 0};
    tsl_baseline_stats x;
    assert_int_equal(tsl_baseline_stats_compute(y, 3, 0, bad, 1, &x, &d), TSL_EINVAL);
    assert_int_equal(tsl_baseline_stats_compute(y, 3, 0, daily, 0, &x, &d), TSL_EINVAL);
    assert_int_equal(
        tsl_baseline_stats_compute(y, 3, 0, daily, TSL_BASELINE_MAX_PERIOD + 1, &x, &d),
        TSL_EINVAL);
    tsl_baseline_stats_release(&s);
    tsl_baseline_stats_release(&e);
    tsl_baseline_stats_release(NULL);
}

/* ---- positions and profiles ---- */

static int64_t at(const char *text) {
    int64_t t;
    assert_int_equal(tsl_time_parse(text, strlen(text), &t, NULL), TSL_OK);
    return t;
}

static void test_positions(void **state) {
    (void)state;
    tsl_freq hourly = {TSL_FREQ_HOUR, 1, 0}, daily = {TSL_FREQ_DAY, 1, 0};
    tsl_freq monthly = {TSL_FREQ_MONTH, 1, 0}, quarterly = {TSL_FREQ_QUARTER, 1, 0};
    tsl_freq min15 = {TSL_FREQ_MINUTE, 15, 0};
    assert_int_equal(tsl_baseline_position(hourly, 24, at("2024-01-01T05:00:00Z")), 5);
    /* 2024-01-03 is a Wednesday: 2 with Monday 0, and 2 * 24 + 7 in a week of hours. */
    assert_int_equal(tsl_baseline_position(daily, 7, at("2024-01-03")), 2);
    assert_int_equal(tsl_baseline_position(hourly, 168, at("2024-01-03T07:00:00Z")), 55);
    assert_int_equal(tsl_baseline_position(daily, 7, at("1969-12-31")), 2); /* before 1970 */
    assert_int_equal(tsl_baseline_position(monthly, 12, at("2024-03-31")), 2);
    assert_int_equal(tsl_baseline_position(monthly, 12, at("1969-11-01")), 10);
    assert_int_equal(tsl_baseline_position(quarterly, 4, at("2024-07-01")), 2);
    assert_int_equal(tsl_baseline_position(min15, 96, at("2024-05-05T23:45:00Z")), 95);
    assert_int_equal(tsl_baseline_position(daily, 1, at("2024-01-03")), 0);
}

static void test_profile_follows_calendar(void **state) {
    (void)state;
    /* The same weekly shape (Saturday and Sunday high), one series from a Monday and one from
     * a Thursday: their profiles agree position by position. */
    double mon[28], thu[28];
    for (int i = 0; i < 28; i++) {
        mon[i] = i % 7 >= 5 ? 10 : 2;
        thu[i] = (i + 3) % 7 >= 5 ? 10 : 2;
    }
    tsl_freq daily = {TSL_FREQ_DAY, 1, 0};
    tsl_baseline_stats a, b;
    assert_int_equal(tsl_baseline_stats_compute(mon, 28, at("2024-01-01"), daily, 7, &a, NULL),
                     TSL_OK);
    assert_int_equal(tsl_baseline_stats_compute(thu, 28, at("2024-01-04"), daily, 7, &b, NULL),
                     TSL_OK);
    for (int k = 0; k < 7; k++) tu_close(a.profile[k], b.profile[k], 1e-15, 1e-15, "pos %d", k);
    /* Position means 2 (x5) and 10 (x2), mean of means 30/7; sd of the 28 values: mean 120/28
     * = 30/7, 20 values at 2 and 8 at 10, sum of squares 20 (16/7)^2 + 8 (40/7)^2 = 17920/49,
     * over 27. */
    double sd = sqrt(17920.0 / 49 / 27);
    tu_close(a.profile[0], (2 - 30.0 / 7) / sd, 1e-14, 0, "weekday");
    tu_close(a.profile[6], (10 - 30.0 / 7) / sd, 1e-14, 0, "sunday");
    /* A constant series has a flat profile of zeros, not NaN. */
    const double c[14] = {3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3};
    tsl_baseline_stats k;
    assert_int_equal(tsl_baseline_stats_compute(c, 14, 0, daily, 7, &k, NULL), TSL_OK);
    for (int i = 0; i < 7; i++) tu_close(k.profile[i], 0, 0, 0, "flat");
    tsl_baseline_stats_release(&a);
    tsl_baseline_stats_release(&b);
    tsl_baseline_stats_release(&k);
}

/* ---- JSON ---- */

static char *to_json(const tsl_baseline *b, int indent, size_t *len) {
    tsl_wbuf w;
    tsl_wbuf_init(&w);
    tsl_diag d = {0};
    if (tsl_baseline_to_json(b, indent, &w, &d)) fail_msg("to_json: %s", d.msg);
    char *s = tsl_strndup((const char *)w.data, w.len);
    *len = w.len;
    tsl_wbuf_release(&w);
    return s;
}

static void test_json_roundtrip(void **state) {
    (void)state;
    tsl_baseline *b = compute_input();
    for (int indent = 0; indent <= 2; indent += 2) {
        size_t len;
        char *text = to_json(b, indent, &len);
        tsl_baseline *back = NULL;
        tsl_diag d = {0};
        if (tsl_baseline_from_json(text, len, &back, &d)) fail_msg("from_json: %s", d.msg);
        assert_baselines_identical(b, back);
        /* piecewise, every series: the same to the bit */
        tsl_baseline *part = NULL;
        if (tsl_baseline_from_json_items(text, len, NULL, 0, &part, &d))
            fail_msg("from_json_items: %s", d.msg);
        assert_baselines_identical(b, part);
        tsl_baseline_free(part);
        /* only series "b": the others keep their ids, with empty statistics */
        part = NULL;
        const char *want_b[] = {"b"};
        if (tsl_baseline_from_json_items(text, len, want_b, 1, &part, &d))
            fail_msg("from_json_items: %s", d.msg);
        assert_int_equal(part->nseries, b->nseries);
        for (size_t i = 0; i < b->nseries; i++) {
            assert_string_equal(part->series[i].item_id, b->series[i].item_id);
            const tsl_baseline_stats *x = &part->series[i].stats;
            if (!strcmp(b->series[i].item_id, "b")) {
                assert_int_equal(x->count, b->series[i].stats.count);
                assert_memory_equal(x->deciles, b->series[i].stats.deciles, sizeof x->deciles);
                assert_int_equal(x->period, b->series[i].stats.period);
            } else {
                assert_int_equal(x->count, 0);
                assert_int_equal(x->n, 0);
                assert_true(isnan(x->deciles[5]) && isnan(x->mean));
                assert_null(x->profile);
            }
        }
        assert_int_equal(part->overall.count, b->overall.count);
        assert_int_equal(part->period, b->period);
        tsl_baseline_free(part);
        size_t len2;
        char *again = to_json(back, indent, &len2);
        assert_int_equal(len, len2);
        assert_memory_equal(text, again, len);
        tsl_free(again);
        tsl_free(text);
        tsl_baseline_free(back);
    }
    /* The document's shape, as the monitors and people will read it. */
    size_t len;
    char *text = to_json(b, 0, &len);
    json_t *root = json_loadb(text, len, 0, NULL);
    assert_non_null(root);
    assert_int_equal(json_integer_value(json_object_get(root, "version")), 1);
    assert_string_equal(json_string_value(json_object_get(root, "kind")),
                        "tsloop.baseline.statistics");
    json_t *ds = json_object_get(root, "dataset");
    assert_string_equal(json_string_value(json_object_get(ds, "frequency")), "D");
    assert_int_equal(json_integer_value(json_object_get(ds, "period")), 7);
    json_t *a = json_array_get(json_object_get(root, "series"), 0);
    assert_string_equal(json_string_value(json_object_get(a, "item_id")), "a");
    assert_int_equal(json_integer_value(json_object_get(a, "num_present")), 115);
    assert_int_equal(json_integer_value(json_object_get(a, "num_missing")), 5);
    json_t *dist = json_object_get(a, "distribution");
    assert_int_equal(json_array_size(json_object_get(dist, "deciles")), 11);
    assert_int_equal(json_array_size(json_object_get(dist, "bucket_counts")), 10);
    assert_int_equal(json_array_size(json_object_get(a, "seasonal_profile")), 7);
    json_t *dd = json_array_get(json_object_get(root, "series"), 3);
    assert_true(json_is_null(json_object_get(dd, "mean")));
    json_decref(root);
    tsl_free(text);
    tsl_baseline_free(b);
}

static void test_json_without_profile(void **state) {
    (void)state;
    tsl_dataset *ds = read_input();
    tsl_baseline *b = NULL;
    assert_int_equal(tsl_baseline_compute(ds, 1, &b, NULL), TSL_OK);
    assert_null(b->series[0].stats.profile);
    size_t len;
    char *text = to_json(b, 0, &len);
    assert_null(strstr(text, "seasonal_profile"));
    tsl_baseline *back = NULL;
    assert_int_equal(tsl_baseline_from_json(text, len, &back, NULL), TSL_OK);
    assert_baselines_identical(b, back);
    tsl_free(text);
    tsl_baseline_free(back);
    tsl_baseline_free(b);
    /* An out-of-range period is refused. */
    tsl_diag d = {0};
    assert_int_equal(tsl_baseline_compute(ds, TSL_BASELINE_MAX_PERIOD + 1, &b, &d), TSL_EINVAL);
    tsl_dataset_free(ds);
}

/* Parses the document, applies edit to it, and expects from_json, and the piecewise
 * from_json_items reading every series, to fail with code and a message containing part. */
static void expect_refused(const char *text, size_t len, void (*edit)(json_t *root), tsl_err code,
                           const char *part) {
    json_t *root = json_loadb(text, len, 0, NULL);
    assert_non_null(root);
    edit(root);
    char *bad = json_dumps(root, JSON_REAL_PRECISION(17));
    json_decref(root);
    tsl_baseline *b = NULL;
    tsl_diag d = {0};
    tsl_err rc = tsl_baseline_from_json(bad, strlen(bad), &b, &d);
    if (rc != code) fail_msg("expected code %d, got %d (%s)", code, rc, d.msg);
    assert_null(b);
    if (!strstr(d.msg, part)) fail_msg("message '%s' lacks '%s'", d.msg, part);
    rc = tsl_baseline_from_json_items(bad, strlen(bad), NULL, 0, &b, &d);
    free(bad);
    if (rc != code) fail_msg("items: expected code %d, got %d (%s)", code, rc, d.msg);
    assert_null(b);
    if (!strstr(d.msg, part)) fail_msg("items: message '%s' lacks '%s'", d.msg, part);
}

static json_t *first_series(json_t *root) {
    return json_array_get(json_object_get(root, "series"), 0);
}

static void edit_version(json_t *root) {
    json_object_set_new(root, "version", json_integer(2));
}
static void edit_kind(json_t *root) {
    json_object_set_new(root, "kind", json_string("tsloop.baseline.constraints"));
}
static void edit_buckets(json_t *root) {
    json_t *dist = json_object_get(first_series(root), "distribution");
    json_array_set_new(json_object_get(dist, "bucket_counts"), 3, json_integer(99));
}
static void edit_deciles(json_t *root) {
    json_t *dist = json_object_get(first_series(root), "distribution");
    json_array_set_new(json_object_get(dist, "deciles"), 5, json_real(-1e9));
}
static void edit_order(json_t *root) {
    json_object_set_new(first_series(root), "item_id", json_string("z"));
}
static void edit_profile(json_t *root) {
    json_array_remove(json_object_get(first_series(root), "seasonal_profile"), 0);
}
static void edit_count(json_t *root) {
    json_object_set_new(json_object_get(root, "dataset"), "item_count", json_integer(5));
}
static void edit_missing_field(json_t *root) {
    json_object_del(first_series(root), "std_dev");
}
static void edit_share(json_t *root) {
    json_object_set_new(first_series(root), "zero_share", json_real(1.5));
}
static void edit_min(json_t *root) {
    json_object_set_new(first_series(root), "min", json_real(-5));
}
static void edit_freq(json_t *root) {
    json_object_set_new(json_object_get(root, "dataset"), "frequency", json_string("fortnight"));
}
static void edit_period(json_t *root) {
    json_object_set_new(json_object_get(root, "dataset"), "period", json_integer(0));
}

static void test_json_refusals(void **state) {
    (void)state;
    tsl_baseline *b = compute_input();
    size_t len;
    char *text = to_json(b, 0, &len);
    expect_refused(text, len, edit_version, TSL_EVERSION, "format version 2 is not known");
    expect_refused(text, len, edit_kind, TSL_ECORRUPT, "document.kind");
    expect_refused(text, len, edit_buckets, TSL_ECORRUPT, "series[0].bucket_counts");
    expect_refused(text, len, edit_deciles, TSL_ECORRUPT, "series[0].deciles");
    expect_refused(text, len, edit_order, TSL_ECORRUPT, "sorted bytewise and distinct");
    expect_refused(text, len, edit_profile, TSL_ECORRUPT, "series[0].seasonal_profile");
    expect_refused(text, len, edit_count, TSL_ECORRUPT, "document.series");
    expect_refused(text, len, edit_missing_field, TSL_ECORRUPT, "series[0].std_dev");
    expect_refused(text, len, edit_share, TSL_ECORRUPT, "shares between 0 and 1");
    expect_refused(text, len, edit_min, TSL_ECORRUPT, "min and max");
    expect_refused(text, len, edit_freq, TSL_ECORRUPT, "dataset.frequency");
    expect_refused(text, len, edit_period, TSL_ECORRUPT, "dataset.period");
    tsl_baseline *out = NULL;
    tsl_diag d = {0};
    assert_int_equal(tsl_baseline_from_json("{\"version\": 1,", 14, &out, &d), TSL_EPARSE);
    assert_non_null(strstr(d.msg, "baseline JSON: line 1"));
    assert_int_equal(tsl_baseline_from_json("[]", 2, &out, &d), TSL_ECORRUPT);
    assert_int_equal(tsl_baseline_from_json("", 0, &out, &d), TSL_EPARSE);
    assert_int_equal(tsl_baseline_from_json_items("{\"version\": 1,", 14, NULL, 0, &out, &d),
                     TSL_EPARSE);
    assert_int_equal(tsl_baseline_from_json_items("[]", 2, NULL, 0, &out, &d), TSL_ECORRUPT);
    assert_int_equal(tsl_baseline_from_json_items("", 0, NULL, 0, &out, &d), TSL_ECORRUPT);
    /* Truncated anywhere: refused, never crashed on. */
    for (size_t cut = 0; cut < len; cut += 97) {
        assert_int_not_equal(tsl_baseline_from_json(text, cut, &out, NULL), TSL_OK);
        assert_int_not_equal(tsl_baseline_from_json_items(text, cut, NULL, 0, &out, NULL), TSL_OK);
    }
    assert_null(out);
    tsl_free(text);
    tsl_baseline_free(b);
}

static void test_constraints_json(void **state) {
    (void)state;
    tsl_baseline *b = compute_input();
    tsl_wbuf w;
    tsl_wbuf_init(&w);
    assert_int_equal(tsl_baseline_constraints_json(b, 2, &w, NULL), TSL_OK);
    json_t *root = json_loadb((const char *)w.data, w.len, 0, NULL);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(root, "kind")),
                        "tsloop.baseline.constraints");
    json_t *series = json_object_get(root, "series");
    assert_int_equal(json_array_size(series), 4);
    json_t *a = json_array_get(series, 0);
    tu_close(json_real_value(json_object_get(a, "completeness")), 115.0 / 120, 1e-15, 0,
             "completeness");
    json_t *nc = json_object_get(a, "num_constraints");
    assert_true(json_is_true(json_object_get(nc, "is_non_negative")));
    tu_close(json_real_value(json_object_get(nc, "min")), b->series[0].stats.min, 0, 0, "min");
    json_t *d = json_array_get(series, 3);
    assert_true(
        json_is_null(json_object_get(json_object_get(d, "num_constraints"), "is_non_negative")));
    tu_close(json_real_value(json_object_get(d, "completeness")), 0, 0, 0, "empty completeness");
    json_t *mc =
        json_object_get(json_object_get(root, "monitoring_config"), "distribution_constraints");
    tu_close(json_real_value(json_object_get(json_object_get(mc, "psi"), "large")), 0.25, 0, 0,
             "psi threshold");
    tu_close(json_real_value(json_object_get(mc, "wasserstein_norm")), 0.1, 0, 0, "wd threshold");
    json_decref(root);
    tsl_wbuf_release(&w);
    tsl_baseline_free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_r),
        cmocka_unit_test(test_drift_against_r),
        cmocka_unit_test(test_hand_deciles_and_buckets),
        cmocka_unit_test(test_hand_psi),
        cmocka_unit_test(test_hand_ks),
        cmocka_unit_test(test_hand_wasserstein),
        cmocka_unit_test(test_drift_errors),
        cmocka_unit_test(test_positions),
        cmocka_unit_test(test_profile_follows_calendar),
        cmocka_unit_test(test_json_roundtrip),
        cmocka_unit_test(test_json_without_profile),
        cmocka_unit_test(test_json_refusals),
        cmocka_unit_test(test_constraints_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
