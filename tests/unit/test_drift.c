/*
 * test_drift.c - drift verdicts and change detectors: the KS p-value against R's ks.test()
 * (tests/data/r/make_drift.R), properties of the verdicts (a sample against its own baseline
 * is stable, a one-sigma shift drifts on all three statistics, too few values say nothing, an
 * unknown item is reported, the pooled overall result), CUSUM and Page-Hinkley on
 * hand-computed sequences (the arithmetic is in the comments) and their run lengths against
 * R's simulation, and the refusals of invalid parameters.
 */
#include "testutil.h"

#include <string.h>

#include "tsloop/baseline.h"
#include "tsloop/drift.h"
#include "tsloop/mem.h"

/* ---- a small deterministic generator (splitmix64 + Box-Muller) ---- */

typedef struct rng {
    uint64_t s;
    int has;
    double spare;
} rng;

static uint64_t next_u64(rng *r) {
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double unif(rng *r) {
    return ((double)(next_u64(r) >> 11) + 0.5) / 9007199254740992.0;
}

static double gauss(rng *r) {
    if (r->has) {
        r->has = 0;
        return r->spare;
    }
    double u = unif(r), v = unif(r), rad = sqrt(-2 * log(u));
    r->spare = rad * sin(2 * M_PI * v);
    r->has = 1;
    return rad * cos(2 * M_PI * v);
}

static double *normals(rng *r, size_t n, double mean, double sd) {
    double *x = tsl_malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = mean + sd * gauss(r);
    return x;
}

static void stats_of(const double *y, size_t n, tsl_baseline_stats *s) {
    tsl_freq daily = {TSL_FREQ_DAY, 1, 0};
    assert_int_equal(tsl_baseline_stats_compute(y, n, 1704067200, daily, 1, s, NULL), TSL_OK);
}

/* ---- the KS p-value against R ---- */

static void test_ks_pvalue_matches_r(void **state) {
    (void)state;
    tu_table *t = tu_table_read(tu_path("drift/ks_pvalues.csv"));
    assert_true(t->rows >= 10);
    for (size_t r = 0; r < t->rows; r++) {
        double n = tu_num(t, r, "n"), m = tu_num(t, r, "m");
        double p = tsl_drift_ks_pvalue(tu_num(t, r, "d"), (size_t)n, (size_t)m);
        /* R sums its series to an absolute tolerance of 1e-6 (pkstwo's tol); ours to the
         * last bit, so agreement is to R's tolerance. */
        tu_close(p, tu_num(t, r, "p"), 0, 2e-6, "row %zu (%s, n %g, m %g)", r, tu_str(t, r, "kind"),
                 n, m);
    }
    tu_table_free(t);
}

static void test_ks_pvalue_edges(void **state) {
    (void)state;
    assert_true(isnan(tsl_drift_ks_pvalue(0.1, 100, 0)));
    assert_true(isnan(tsl_drift_ks_pvalue(-0.1, 100, 10)));
    assert_true(isnan(tsl_drift_ks_pvalue(1.5, 100, 10)));
    assert_true(isnan(tsl_drift_ks_pvalue(NAN, 100, 10)));
    assert_true(tsl_drift_ks_pvalue(0, 100, 10) == 1.0);
    assert_true(tsl_drift_ks_pvalue(1, 100000, 100000) < 1e-300);
    /* The two series meet at sqrt(ne) D = 1: continuous there (Q(1) = 0.26999967...). */
    double below = tsl_drift_ks_pvalue(1 - 1e-12, 0, 1), above = tsl_drift_ks_pvalue(1, 0, 1);
    tu_close(below, above, 1e-10, 0, "Q continuous at 1");
    tu_close(above, 0.26999967167735456, 1e-12, 0, "Q(1)");
    /* Monotone in the distance. */
    double prev = 1;
    for (int i = 1; i <= 100; i++) {
        double p = tsl_drift_ks_pvalue(i / 100.0, 400, 50);
        assert_true(p <= prev);
        prev = p;
    }
}

/* ---- verdicts ---- */

static void test_own_sample_is_stable(void **state) {
    (void)state;
    rng r = {42, 0, 0};
    double *y = normals(&r, 1000, 50, 10);
    tsl_baseline_stats s;
    stats_of(y, 1000, &s);
    tsl_drift_result res;
    assert_int_equal(tsl_drift_stats(&s, y, 1000, NULL, &res, NULL), TSL_OK);
    /* The same values fill the same buckets: PSI is exactly 0. */
    assert_true(res.psi == 0.0);
    /* The sketch costs a few hundredths of KS distance (its linear tails), no more. */
    assert_true(res.ks > 0 && res.ks < 0.06);
    assert_int_equal(res.ks_level, TSL_DRIFT_STABLE);
    /* The full distance carries the sketch's tail error (about 0.09 sd here); the central one
     * does not. */
    assert_true(res.wasserstein_norm > 0.05 && res.wasserstein_norm < 0.15);
    assert_true(res.wasserstein_central < 0.03);
    assert_int_equal(res.level, TSL_DRIFT_STABLE);
    assert_int_equal(res.count, 1000);
    /* A fresh sample of the same law: stable on every statistic. */
    double *x = normals(&r, 500, 50, 10);
    assert_int_equal(tsl_drift_stats(&s, x, 500, NULL, &res, NULL), TSL_OK);
    assert_true(res.psi < 0.1);
    assert_true(res.ks_p > 0.05);
    assert_true(res.wasserstein_central < 0.1);
    assert_int_equal(res.psi_level, TSL_DRIFT_STABLE);
    assert_int_equal(res.ks_level, TSL_DRIFT_STABLE);
    assert_int_equal(res.wasserstein_level, TSL_DRIFT_STABLE);
    assert_int_equal(res.level, TSL_DRIFT_STABLE);
    tsl_baseline_stats_release(&s);
    tsl_free(x);
    tsl_free(y);
}

static void test_shift_drifts(void **state) {
    (void)state;
    rng r = {7, 0, 0};
    double *y = normals(&r, 2000, 0, 1);
    tsl_baseline_stats s;
    stats_of(y, 2000, &s);
    /* One standard deviation up: about 84% of new values above the old median, so PSI is
     * far past 0.25, KS near 0.38, and the values moved by about one sd. */
    double *x = normals(&r, 200, 1, 1);
    tsl_drift_result res;
    assert_int_equal(tsl_drift_stats(&s, x, 200, NULL, &res, NULL), TSL_OK);
    assert_true(res.psi > 0.25);
    assert_true(res.ks > 0.3 && res.ks < 0.5);
    assert_true(res.ks_p < 1e-6);
    tu_close(res.wasserstein_norm, 1.0, 0.15, 0, "normalised W1 of a 1-sd shift");
    tu_close(res.wasserstein_central, 1.0, 0.15, 0, "central W1 of a 1-sd shift");
    assert_int_equal(res.psi_level, TSL_DRIFT_DRIFT);
    assert_int_equal(res.ks_level, TSL_DRIFT_DRIFT);
    assert_int_equal(res.wasserstein_level, TSL_DRIFT_DRIFT);
    assert_int_equal(res.level, TSL_DRIFT_DRIFT);
    assert_string_equal(tsl_drift_level_name(res.level), "drift");
    /* A small shift (0.25 sd) with custom thresholds lands between moderate and large PSI. */
    for (size_t i = 0; i < 200; i++) x[i] -= 0.75;
    tsl_drift_thresholds th;
    tsl_drift_thresholds_default(&th);
    assert_int_equal(tsl_drift_stats(&s, x, 200, &th, &res, NULL), TSL_OK);
    th.psi_moderate = res.psi / 2;
    th.psi_large = res.psi * 2;
    assert_int_equal(tsl_drift_stats(&s, x, 200, &th, &res, NULL), TSL_OK);
    assert_int_equal(res.psi_level, TSL_DRIFT_MODERATE);
    tsl_baseline_stats_release(&s);
    tsl_free(x);
    tsl_free(y);
}

/* Type-7-free brute force: the central distance by the midpoint rule on a fine grid of u,
 * with Qnew(u) = the ceil(u m)-th smallest value and Qbase linear between the deciles. */
static double brute_central(const tsl_baseline_stats *b, const double *x, size_t m) {
    double *s = tsl_malloc(m * sizeof *s);
    memcpy(s, x, m * sizeof *s);
    for (size_t i = 1; i < m; i++) /* insertion sort: small m */
        for (size_t j = i; j > 0 && s[j - 1] > s[j]; j--) {
            double t = s[j];
            s[j] = s[j - 1];
            s[j - 1] = t;
        }
    const int steps = 800000;
    double sum = 0;
    for (int i = 0; i < steps; i++) {
        double u = 0.1 + 0.8 * (i + 0.5) / steps;
        size_t j = (size_t)ceil(u * (double)m);
        int k = (int)floor(u * 10);
        double qb = b->deciles[k] + (u * 10 - k) * (b->deciles[k + 1] - b->deciles[k]);
        sum += fabs(s[j - 1] - qb);
    }
    tsl_free(s);
    return sum / steps;
}

static void test_central_wasserstein_brute_force(void **state) {
    (void)state;
    rng r = {5, 0, 0};
    double *y = normals(&r, 301, 3, 2);
    tsl_baseline_stats s;
    stats_of(y, 301, &s);
    double pop_sd = s.sd * sqrt(300.0 / 301.0);
    const size_t sizes[] = {1, 7, 10, 33, 120};
    const double shifts[] = {0, 0.3, -1.7, 5};
    for (size_t a = 0; a < 5; a++)
        for (size_t c = 0; c < 4; c++) {
            double *x = normals(&r, sizes[a], 3 + shifts[c], 2.5);
            tsl_drift_result res;
            tsl_drift_thresholds th;
            tsl_drift_thresholds_default(&th);
            assert_int_equal(tsl_drift_stats(&s, x, sizes[a], &th, &res, NULL), TSL_OK);
            tu_close(res.wasserstein_central, brute_central(&s, x, sizes[a]) / pop_sd, 1e-5, 1e-9,
                     "m %zu shift %g", sizes[a], shifts[c]);
            tsl_free(x);
        }
    tsl_baseline_stats_release(&s);
    tsl_free(y);
}

static void test_too_few_values(void **state) {
    (void)state;
    double y[40], x[10];
    for (int i = 0; i < 40; i++) y[i] = i;
    for (int i = 0; i < 10; i++) x[i] = 1000 + i; /* far away, but only 10 */
    tsl_baseline_stats s;
    stats_of(y, 40, &s);
    tsl_drift_result res;
    assert_int_equal(tsl_drift_stats(&s, x, 10, NULL, &res, NULL), TSL_OK);
    assert_true(res.psi > 1);                            /* computed ... */
    assert_int_equal(res.level, TSL_DRIFT_INSUFFICIENT); /* ... but no verdict */
    tsl_drift_thresholds th;
    tsl_drift_thresholds_default(&th);
    th.min_count = 10;
    assert_int_equal(tsl_drift_stats(&s, x, 10, &th, &res, NULL), TSL_OK);
    assert_int_equal(res.level, TSL_DRIFT_DRIFT);
    /* Nothing observed: NaN statistics, no verdict, no error. */
    double none[3] = {NAN, NAN, INFINITY};
    assert_int_equal(tsl_drift_stats(&s, none, 3, NULL, &res, NULL), TSL_OK);
    assert_int_equal(res.count, 0);
    assert_true(isnan(res.psi) && isnan(res.ks) && isnan(res.ks_p) && isnan(res.wasserstein));
    assert_int_equal(res.level, TSL_DRIFT_INSUFFICIENT);
    tsl_baseline_stats_release(&s);
}

static void test_threshold_refusals(void **state) {
    (void)state;
    tsl_drift_thresholds th;
    tsl_diag d = {0};
    tsl_drift_thresholds_default(&th);
    assert_int_equal(tsl_drift_thresholds_check(&th, &d), TSL_OK);
    th.psi_large = 0.05;
    assert_int_equal(tsl_drift_thresholds_check(&th, &d), TSL_EINVAL);
    assert_non_null(strstr(d.msg, "psi_large"));
    tsl_drift_thresholds_default(&th);
    th.ks_alpha = 1;
    assert_int_equal(tsl_drift_thresholds_check(&th, &d), TSL_EINVAL);
    assert_non_null(strstr(d.msg, "ks_alpha"));
    tsl_drift_thresholds_default(&th);
    th.wasserstein = NAN;
    assert_int_equal(tsl_drift_thresholds_check(&th, &d), TSL_EINVAL);
    tsl_drift_thresholds_default(&th);
    th.min_count = 0;
    assert_int_equal(tsl_drift_thresholds_check(&th, &d), TSL_EINVAL);
    tsl_drift_thresholds_default(&th);
    th.psi_moderate = 0;
    double y[3] = {1, 2, 3};
    tsl_baseline_stats s;
    stats_of(y, 3, &s);
    tsl_drift_result res;
    assert_int_equal(tsl_drift_stats(&s, y, 3, &th, &res, &d), TSL_EINVAL);
    assert_non_null(strstr(d.msg, "psi_moderate"));
    tsl_baseline_stats_release(&s);
}

/* A baseline of two series, "a" ~ N(0, 1) and "b" ~ N(100, 5), with the pooled overall. */
static tsl_baseline *two_series(rng *r) {
    tsl_baseline *b = tsl_calloc(1, sizeof *b);
    b->freq = (tsl_freq){TSL_FREQ_DAY, 1, 0};
    b->period = 1;
    b->nseries = 2;
    b->series = tsl_calloc(2, sizeof *b->series);
    double *ya = normals(r, 500, 0, 1), *yb = normals(r, 500, 100, 5);
    double *all = tsl_malloc(1000 * sizeof *all);
    memcpy(all, ya, 500 * sizeof *all);
    memcpy(all + 500, yb, 500 * sizeof *all);
    b->series[0].item_id = tsl_strdup("a");
    b->series[1].item_id = tsl_strdup("b");
    stats_of(ya, 500, &b->series[0].stats);
    stats_of(yb, 500, &b->series[1].stats);
    stats_of(all, 1000, &b->overall);
    tsl_free(ya);
    tsl_free(yb);
    tsl_free(all);
    return b;
}

static void test_report(void **state) {
    (void)state;
    rng r = {11, 0, 0};
    tsl_baseline *b = two_series(&r);
    double *na = normals(&r, 400, 0, 1);   /* a: as trained */
    double *nb = normals(&r, 400, 110, 5); /* b: two sd up */
    double *nz = normals(&r, 120, 0, 1);   /* z: unknown item */
    tsl_drift_window w[3] = {{"b", nb, 400}, {"z", nz, 120}, {"a", na, 400}};
    tsl_drift_report rep;
    assert_int_equal(tsl_drift_compute(b, w, 3, NULL, &rep, NULL), TSL_OK);
    assert_int_equal(rep.nseries, 3);
    assert_string_equal(rep.series[0].item_id, "b");
    assert_int_equal(rep.series[0].baseline_index, 1);
    assert_int_equal(rep.series[0].result.level, TSL_DRIFT_DRIFT);
    assert_int_equal(rep.series[1].baseline_index, -1);
    assert_int_equal(rep.series[1].result.level, TSL_DRIFT_INSUFFICIENT);
    assert_int_equal(rep.series[1].result.count, 120);
    assert_int_equal(rep.series[2].baseline_index, 0);
    assert_int_equal(rep.series[2].result.level, TSL_DRIFT_STABLE);
    assert_int_equal(rep.drifted, 1);
    /* Pooled: 920 values against the overall baseline, the same as a direct call. */
    double *pool = tsl_malloc(920 * sizeof *pool);
    memcpy(pool, nb, 400 * sizeof *pool);
    memcpy(pool + 400, nz, 120 * sizeof *pool);
    memcpy(pool + 520, na, 400 * sizeof *pool);
    tsl_drift_result direct;
    assert_int_equal(tsl_drift_stats(&b->overall, pool, 920, NULL, &direct, NULL), TSL_OK);
    assert_int_equal(rep.overall.count, 920);
    assert_true(rep.overall.psi == direct.psi && rep.overall.ks == direct.ks &&
                rep.overall.wasserstein == direct.wasserstein);
    tsl_drift_report_release(&rep);
    assert_null(rep.series);
    tsl_drift_report_release(NULL);
    /* No windows at all: an empty report, overall insufficient. */
    assert_int_equal(tsl_drift_compute(b, NULL, 0, NULL, &rep, NULL), TSL_OK);
    assert_int_equal(rep.nseries, 0);
    assert_int_equal(rep.overall.level, TSL_DRIFT_INSUFFICIENT);
    tsl_drift_report_release(&rep);
    /* A window without an id is refused. */
    tsl_diag d = {0};
    tsl_drift_window bad = {NULL, na, 400};
    assert_int_equal(tsl_drift_compute(b, &bad, 1, NULL, &rep, &d), TSL_EINVAL);
    assert_non_null(strstr(d.msg, "item_id"));
    tsl_free(pool);
    tsl_free(na);
    tsl_free(nb);
    tsl_free(nz);
    tsl_baseline_free(b);
}

/* ---- CUSUM ---- */

static void test_cusum_by_hand(void **state) {
    (void)state;
    tsl_cusum c;
    /* mean 0, sigma 2, k 0.5, h 2; residuals 2, 4, -2, 6 are z = 1, 2, -1, 3:
     *   hi: 0.5, 2.0, 0.5, 3.0 (> 2: signal up);  lo: 0, 0, 0.5, 0. */
    assert_int_equal(tsl_cusum_init(&c, 0, 2, 0.5, 2, NULL), TSL_OK);
    assert_int_equal(tsl_cusum_update(&c, 2), 0);
    tu_close(c.hi, 0.5, 0, 1e-15, "hi 1");
    assert_int_equal(tsl_cusum_update(&c, 4), 0); /* hi = 2.0 is not above h */
    tu_close(c.hi, 2.0, 0, 1e-15, "hi 2");
    assert_int_equal(tsl_cusum_update(&c, NAN), 0); /* missing: nothing moves */
    assert_int_equal(c.n, 2);
    assert_int_equal(tsl_cusum_update(&c, -2), 0);
    tu_close(c.hi, 0.5, 0, 1e-15, "hi 3");
    tu_close(c.lo, 0.5, 0, 1e-15, "lo 3");
    assert_int_equal(tsl_cusum_update(&c, 6), 1);
    tu_close(c.hi, 3.0, 0, 1e-15, "hi 4");
    assert_true(c.lo == 0);
    assert_int_equal(c.hi_start, 0);                 /* the sum rose from the first residual on */
    assert_int_equal(tsl_cusum_update(&c, -100), 1); /* the signal stays until reset */
    assert_int_equal(c.n, 4);
    tsl_cusum_reset(&c);
    assert_int_equal(c.signal, 0);
    assert_int_equal(c.n, 0);
    assert_true(c.hi == 0 && c.lo == 0 && c.sigma == 2);
    /* Down: z = -3 gives lo = 2.5 > 2 at once. */
    assert_int_equal(tsl_cusum_update(&c, -6), -1);
    /* The change point: in control (hi, lo stay 0 with z = 0), then up from step 5. */
    tsl_cusum_reset(&c);
    for (int i = 0; i < 5; i++) assert_int_equal(tsl_cusum_update(&c, 0), 0);
    int sig = 0;
    while (!sig) sig = tsl_cusum_update(&c, 3);
    assert_int_equal(sig, 1);
    assert_int_equal(c.hi_start, 5);
}

/* Average run length of the default CUSUM on N(shift, 1) residuals over `trials` runs. */
static double cusum_arl(rng *r, double shift, int trials) {
    tsl_cusum c;
    assert_int_equal(tsl_cusum_init(&c, 0, 1, TSL_DRIFT_CUSUM_K, TSL_DRIFT_CUSUM_H, NULL), TSL_OK);
    double total = 0;
    for (int t = 0; t < trials; t++) {
        tsl_cusum_reset(&c);
        while (!tsl_cusum_update(&c, shift + gauss(r))) {}
        total += (double)c.n;
    }
    return total / trials;
}

static void test_cusum_run_lengths(void **state) {
    (void)state;
    tu_table *t = tu_table_read(tu_path("drift/cusum_arl.csv"));
    rng r = {2026, 0, 0};
    for (size_t i = 0; i < t->rows; i++) {
        double shift = tu_num(t, i, "shift"), want = tu_num(t, i, "arl");
        int trials = shift == 0 ? 400 : 2000;
        double got = cusum_arl(&r, shift, trials);
        /* Two Monte Carlo estimates: their standard errors are about 5% (shift 0, 400 runs
         * with a run-length sd near the mean) and 2% (shifted); 20% and 10% leave room. */
        tu_close(got, want, shift == 0 ? 0.2 : 0.1, 0, "ARL at shift %g", shift);
    }
    /* Montgomery's table: 465 in control, 10.4 at one sigma. */
    tu_close(tu_num(t, 0, "arl"), 465, 0.2, 0, "R's ARL0 against the literature");
    tu_close(tu_num(t, 1, "arl"), 10.4, 0.05, 0, "R's ARL1 against the literature");
    tu_table_free(t);
}

static void test_cusum_refusals(void **state) {
    (void)state;
    tsl_cusum c;
    tsl_diag d = {0};
    assert_int_equal(tsl_cusum_init(&c, 0, 0, 0.5, 5, &d), TSL_EINVAL);
    assert_non_null(strstr(d.msg, "sigma"));
    assert_int_equal(tsl_cusum_init(&c, NAN, 1, 0.5, 5, &d), TSL_EINVAL);
    assert_int_equal(tsl_cusum_init(&c, 0, 1, -1, 5, &d), TSL_EINVAL);
    assert_int_equal(tsl_cusum_init(&c, 0, 1, 0.5, 0, &d), TSL_EINVAL);
    assert_non_null(strstr(d.msg, "h:"));
}

/* ---- Page-Hinkley ---- */

static void test_page_hinkley_by_hand(void **state) {
    (void)state;
    tsl_page_hinkley p;
    /* sigma 1, delta 0.5, lambda 2. Values 0, 0, 4:
     *   mean 0, 0, 4/3; up = -0.5, -1, -1 + (4 - 4/3) - 0.5 = 7/6; min -1: 13/6 > 2. */
    assert_int_equal(tsl_page_hinkley_init(&p, 1, 0.5, 2, 0, NULL), TSL_OK);
    assert_int_equal(tsl_page_hinkley_update(&p, 0), 0);
    assert_int_equal(tsl_page_hinkley_update(&p, NAN), 0);
    assert_int_equal(tsl_page_hinkley_update(&p, 0), 0);
    tu_close(p.up, -1, 0, 1e-15, "up 2");
    tu_close(p.down, 1, 0, 1e-15, "down 2");
    assert_int_equal(tsl_page_hinkley_update(&p, 4), 1);
    tu_close(p.up, 7.0 / 6, 0, 1e-14, "up 3");
    tu_close(p.mean, 4.0 / 3, 0, 1e-15, "mean 3");
    /* The same with min_n 4: no signal at the third value, at the fourth
     * (mean 2, up = 7/6 + 2 - 0.5 = 8/3, 11/3 above the minimum). */
    assert_int_equal(tsl_page_hinkley_init(&p, 1, 0.5, 2, 4, NULL), TSL_OK);
    assert_int_equal(tsl_page_hinkley_update(&p, 0), 0);
    assert_int_equal(tsl_page_hinkley_update(&p, 0), 0);
    assert_int_equal(tsl_page_hinkley_update(&p, 4), 0);
    assert_int_equal(tsl_page_hinkley_update(&p, 4), 1);
    tu_close(p.up, 8.0 / 3, 0, 1e-14, "up 4");
    /* Down, scaled: sigma 10, values 0, 0, -40. */
    assert_int_equal(tsl_page_hinkley_init(&p, 10, 0.5, 2, 0, NULL), TSL_OK);
    tsl_page_hinkley_update(&p, 0);
    tsl_page_hinkley_update(&p, 0);
    assert_int_equal(tsl_page_hinkley_update(&p, -40), -1);
    assert_int_equal(tsl_page_hinkley_update(&p, 1000), -1);
    tsl_page_hinkley_reset(&p);
    assert_int_equal(p.signal, 0);
    assert_int_equal(p.n, 0);
    tsl_diag d = {0};
    assert_int_equal(tsl_page_hinkley_init(&p, 1, -0.1, 2, 0, &d), TSL_EINVAL);
    assert_non_null(strstr(d.msg, "delta"));
    assert_int_equal(tsl_page_hinkley_init(&p, 1, 0.5, INFINITY, 0, &d), TSL_EINVAL);
}

static void test_page_hinkley_detects_shift(void **state) {
    (void)state;
    rng r = {99, 0, 0};
    tsl_page_hinkley p;
    assert_int_equal(tsl_page_hinkley_init(&p, 2, TSL_DRIFT_PH_DELTA, TSL_DRIFT_PH_LAMBDA,
                                           TSL_DRIFT_PH_MIN_N, NULL),
                     TSL_OK);
    /* In control (residual sd 2): the defaults give an average run length near CUSUM's (about
     * 500 in our simulations; runs capped at 20000). */
    double total = 0;
    int runs = 100;
    for (int run = 0; run < runs; run++) {
        tsl_page_hinkley_reset(&p);
        while (!tsl_page_hinkley_update(&p, 2 * gauss(&r)) && p.n < 20000) {}
        total += (double)p.n;
    }
    assert_true(total / runs > 250);
    /* 100 in-control residuals, then the mean moves up by 2 sd (4): found in a few steps. */
    int delays = 0, detected = 0;
    for (int run = 0; run < runs; run++) {
        tsl_page_hinkley_reset(&p);
        int sig = 0;
        for (int i = 0; i < 100 && !sig; i++) sig = tsl_page_hinkley_update(&p, 2 * gauss(&r));
        if (sig) continue; /* a false alarm before the shift: not a delay */
        int steps = 0;
        while (!sig) {
            sig = tsl_page_hinkley_update(&p, 4 + 2 * gauss(&r));
            steps++;
        }
        assert_int_equal(sig, 1);
        delays += steps;
        detected++;
    }
    assert_true(detected >= runs / 2);
    double mean_delay = (double)delays / detected;
    assert_true(mean_delay > 1 && mean_delay < 8);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ks_pvalue_matches_r),
        cmocka_unit_test(test_ks_pvalue_edges),
        cmocka_unit_test(test_own_sample_is_stable),
        cmocka_unit_test(test_shift_drifts),
        cmocka_unit_test(test_central_wasserstein_brute_force),
        cmocka_unit_test(test_too_few_values),
        cmocka_unit_test(test_threshold_refusals),
        cmocka_unit_test(test_report),
        cmocka_unit_test(test_cusum_by_hand),
        cmocka_unit_test(test_cusum_run_lengths),
        cmocka_unit_test(test_cusum_refusals),
        cmocka_unit_test(test_page_hinkley_by_hand),
        cmocka_unit_test(test_page_hinkley_detects_shift),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
