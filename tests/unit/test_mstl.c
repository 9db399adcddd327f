/*
 * test_mstl.c - MSTL: the decomposition, its gap filling and the seasonal strengths against R's
 * forecast::mstl() (tests/data/r/make_mstl.R), a series with known daily and weekly cycles
 * decomposed, the errors and edge cases, the candidate periods of a frequency and their
 * confirmation on data.
 */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "forecast/decompose.h"
#include "tsloop/buf.h"
#include "tsloop/mem.h"
#include "tsloop/model.h"
#include "tsloop/time.h"

/* An input of the fixture: values, periods, whether R ran robust STL. */
typedef struct fixture_series {
    double *y;
    size_t n;
    int np, periods[TSL_MAX_PERIODS], robust;
} fixture_series;

/* Parses "48;336" into periods; returns the count. */
static int parse_periods(const char *s, int *periods) {
    int np = 0;
    while (*s && np < TSL_MAX_PERIODS) {
        char *end;
        periods[np++] = (int)strtol(s, &end, 10);
        s = *end == ';' ? end + 1 : end;
    }
    return np;
}

static void load_input(const tu_table *in, const char *name, fixture_series *fs) {
    memset(fs, 0, sizeof *fs);
    fs->y = tu_series(in, name, &fs->n, NULL);
    for (size_t r = 0; r < in->rows; r++) {
        if (strcmp(tu_str(in, r, "series"), name)) continue;
        fs->np = parse_periods(tu_str(in, r, "periods"), fs->periods);
        fs->robust = (int)tu_num(in, r, "robust");
        break;
    }
}

static double scale_of(const double *y, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(y[i])) s = fmax(s, fabs(y[i]));
    return s;
}

static const char *const decomposed[] = {"taylor",    "taylorgap",    "hourly",
                                         "hourlygap", "hourlyrobust", "daily",
                                         "drop",      "single",       "shortgap"};

static void test_mstl_against_r(void **state) {
    (void)state;
    tu_table *in = tu_table_read(tu_path("mstl/inputs.csv"));
    tu_table *ref = tu_table_read(tu_path("mstl/mstl.csv"));
    tu_table *kept = tu_table_read(tu_path("mstl/kept.csv"));
    for (size_t si = 0; si < sizeof decomposed / sizeof *decomposed; si++) {
        const char *name = decomposed[si];
        fixture_series fs;
        load_input(in, name, &fs);
        tsl_mstl_opts o;
        tsl_mstl_opts_init(&o);
        o.robust = fs.robust;
        tsl_mstl m = {0};
        tsl_diag d = {0};
        if (tsl_decomp_mstl(fs.y, fs.n, fs.periods, fs.np, &o, &m, &d))
            fail_msg("%s: %s", name, tsl_diag_msg(&d));
        double sc = scale_of(fs.y, fs.n);
        /* Periods R kept and the strengths of its components. */
        for (size_t r = 0; r < kept->rows; r++) {
            if (strcmp(tu_str(kept, r, "series"), name)) continue;
            int want[TSL_MAX_PERIODS];
            int nwant = parse_periods(tu_str(kept, r, "periods"), want);
            assert_int_equal(m.nperiods, nwant);
            for (int i = 0; i < nwant; i++) assert_int_equal(m.periods[i], want[i]);
            double st[TSL_MAX_PERIODS];
            assert_int_equal(tsl_mstl_strength(&m, st, NULL), TSL_OK);
            const char *p = tu_str(kept, r, "strength");
            for (int i = 0; i < nwant; i++) {
                char *end;
                double e = strtod(p, &end);
                p = *end == ';' ? end + 1 : end;
                tu_close(st[i], e, 1e-9, 1e-12, "%s strength %d", name, m.periods[i]);
            }
        }
        size_t checked = 0;
        for (size_t r = 0; r < ref->rows; r++) {
            if (strcmp(tu_str(ref, r, "series"), name)) continue;
            size_t t = (size_t)tu_num(ref, r, "t") - 1;
            assert_true(t < fs.n);
            double tol = 1e-11 * sc;
            tu_close(m.trend[t], tu_num(ref, r, "trend"), 0, tol, "%s trend t=%zu", name, t + 1);
            tu_close(m.seasonal[0][t], tu_num(ref, r, "s1"), 0, tol, "%s s1 t=%zu", name, t + 1);
            if (m.nperiods > 1)
                tu_close(m.seasonal[1][t], tu_num(ref, r, "s2"), 0, tol, "%s s2 t=%zu", name,
                         t + 1);
            else
                assert_true(isnan(tu_num(ref, r, "s2")));
            double er = tu_num(ref, r, "remainder");
            assert_int_equal(isnan(m.remainder[t]), isnan(er));
            tu_close(m.remainder[t], er, 0, tol, "%s remainder t=%zu", name, t + 1);
            if (!isnan(fs.y[t])) assert_true(m.filled[t] == fs.y[t]);
            checked++;
        }
        assert_int_equal(checked, fs.n);
        tsl_mstl_free(&m);
        assert_null(m.trend);
        tsl_free(fs.y);
    }
    tu_table_free(in);
    tu_table_free(ref);
    tu_table_free(kept);
}

/* ---- a series with known components ---- */

enum { WEEK = 168, DAY = 24 };

/* Standard normal deviates from a fixed linear congruential stream (Box-Muller). */
typedef struct rng {
    uint64_t x;
} rng;

static double rng_unif(rng *r) {
    r->x = r->x * 6364136223846793005ULL + 1442695040888963407ULL;
    return ((double)(r->x >> 11) + 0.5) / 9007199254740992.0;
}

static double rng_norm(rng *r) {
    double u = rng_unif(r), v = rng_unif(r);
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/* The known parts of the hourly series at hour t: a daily profile (amplitude about 70), a
 * weekly one built from harmonics of 168 that are not harmonics of 24 (so it averages to zero at
 * every hour of the day), and a gentle trend. */
static double true_daily(size_t t) {
    double h = (double)(t % DAY);
    return 60.0 * sin(2.0 * M_PI * h / DAY) + 20.0 * cos(4.0 * M_PI * h / DAY);
}
static double true_weekly(size_t t) {
    double w = (double)(t % WEEK);
    return 30.0 * sin(2.0 * M_PI * w / WEEK) + 15.0 * cos(4.0 * M_PI * w / WEEK) +
           8.0 * sin(6.0 * M_PI * w / WEEK);
}
static double true_trend(size_t t) {
    return 500.0 + 0.02 * (double)t;
}

#define NOISE_SD 5.0

/* n hourly values: trend + daily + weekly + N(0, NOISE_SD^2) noise. */
static double *known_series(size_t n, uint64_t seed) {
    double *y = tsl_malloc(n * sizeof *y);
    rng r = {seed};
    for (size_t t = 0; t < n; t++)
        y[t] = true_trend(t) + true_daily(t) + true_weekly(t) + NOISE_SD * rng_norm(&r);
    return y;
}

static const int daily_weekly[2] = {DAY, WEEK};

/* MSTL recovers each component of a ten-week series: root mean square errors within 0.5 noise
 * standard deviations for the seasonal components (of amplitudes near 70 and 40; measured: 0.34
 * and 0.28), within 0.2 for the trend (0.07); the remainder is the noise less what the seasonal
 * smoothers absorb (its standard deviation between 0.75 and 1.05 of the noise's; 0.85). */
static void test_known_components_recovered(void **state) {
    (void)state;
    size_t n = 10 * WEEK;
    double *y = known_series(n, 7);
    tsl_mstl m = {0};
    tsl_diag d = {0};
    assert_int_equal(tsl_decomp_mstl(y, n, daily_weekly, 2, NULL, &m, &d), TSL_OK);
    assert_int_equal(m.nperiods, 2);
    double e_day = 0, e_week = 0, e_trend = 0, r2 = 0;
    for (size_t t = 0; t < n; t++) {
        e_day += pow(m.seasonal[0][t] - true_daily(t), 2);
        e_week += pow(m.seasonal[1][t] - true_weekly(t), 2);
        e_trend += pow(m.trend[t] - true_trend(t), 2);
        r2 += m.remainder[t] * m.remainder[t];
    }
    e_day = sqrt(e_day / (double)n);
    e_week = sqrt(e_week / (double)n);
    e_trend = sqrt(e_trend / (double)n);
    double rsd = sqrt(r2 / (double)n);
    if (e_day > 0.5 * NOISE_SD || e_week > 0.5 * NOISE_SD || e_trend > 0.2 * NOISE_SD ||
        rsd < 0.75 * NOISE_SD || rsd > 1.05 * NOISE_SD)
        fail_msg("rms errors: daily %.3f weekly %.3f trend %.3f; remainder sd %.3f", e_day, e_week,
                 e_trend, rsd);
    double st[2];
    assert_int_equal(tsl_mstl_strength(&m, st, NULL), TSL_OK);
    assert_true(st[0] > TSL_MSTL_STRENGTH_MIN && st[1] > TSL_MSTL_STRENGTH_MIN);
    tsl_mstl_free(&m);
    tsl_free(y);
}

/* The decomposition's own errors and edge cases. */
static void test_decomposition_errors(void **state) {
    (void)state;
    size_t n = 3 * WEEK;
    double *y = known_series(n, 23);
    tsl_mstl m = {0};
    tsl_diag d = {0};
    static const int dup[2] = {24, 24}, one[2] = {1, 24}, desc[2] = {168, 24};
    assert_int_equal(tsl_decomp_mstl(y, n, dup, 2, NULL, &m, &d), TSL_EINVAL);
    assert_int_equal(tsl_decomp_mstl(y, n, one, 2, NULL, &m, &d), TSL_EINVAL);
    assert_int_equal(tsl_decomp_mstl(y, n, desc, 0, NULL, &m, &d), TSL_EINVAL);
    assert_int_equal(tsl_decomp_mstl(y, 40, desc, 2, NULL, &m, &d), TSL_ESHORT);
    assert_non_null(strstr(tsl_diag_msg(&d), "shorter than half"));
    assert_null(m.trend);
    /* Any order in, ascending out; the options' windows follow the ascending order. */
    assert_int_equal(tsl_decomp_mstl(y, n, desc, 2, NULL, &m, &d), TSL_OK);
    assert_int_equal(m.periods[0], 24);
    assert_int_equal(m.periods[1], 168);
    tsl_mstl_free(&m);
    tsl_mstl_opts o;
    tsl_mstl_opts_init(&o);
    o.s_window[0] = -1;
    assert_int_equal(tsl_decomp_mstl(y, n, desc, 2, &o, &m, &d), TSL_EINVAL);
    tsl_mstl_opts_init(&o);
    o.iterate = 3;
    o.s_window[1] = 31;
    assert_int_equal(tsl_decomp_mstl(y, n, desc, 2, &o, &m, &d), TSL_OK);
    tsl_mstl_free(&m);
    y[5] = INFINITY;
    assert_int_equal(tsl_decomp_mstl(y, n, desc, 2, NULL, &m, &d), TSL_EINVAL);
    for (size_t t = 0; t < n; t++) y[t] = NAN;
    assert_int_equal(tsl_decomp_mstl(y, n, desc, 2, NULL, &m, &d), TSL_ESHORT);
    tsl_mstl_free(NULL);
    tsl_free(y);
}

/* Gap filling as na.interp(): nothing to do without gaps; linear with no period or too few
 * observations; the seasonal fill follows the season across a gap of a day where a straight
 * line would not; periods it cannot take are refused. */
static void test_fill_gaps(void **state) {
    (void)state;
    size_t n = 4 * WEEK;
    double *y = known_series(n, 29);
    double *out = tsl_malloc(n * sizeof *out), *g = tsl_malloc(n * sizeof *g);
    tsl_diag d = {0};
    assert_int_equal(tsl_decomp_fill_gaps(y, n, daily_weekly, 2, out, &d), TSL_OK);
    assert_memory_equal(out, y, n * sizeof *y);
    memcpy(g, y, n * sizeof *y);
    for (size_t t = 400; t < 424; t++) g[t] = NAN;
    g[0] = g[n - 1] = NAN;
    assert_int_equal(tsl_decomp_fill_gaps(g, n, NULL, 0, out, &d), TSL_OK);
    assert_true(out[0] == g[1] && out[n - 1] == g[n - 2]);
    tu_close(out[412], g[399] + (g[424] - g[399]) * (13.0 / 25.0), 1e-15, 0, "linear fill");
    assert_int_equal(tsl_decomp_fill_gaps(g, n, daily_weekly, 2, out, &d), TSL_OK);
    double err = 0;
    for (size_t t = 400; t < 424; t++) err += fabs(out[t] - y[t]) / 24.0;
    if (err > 2.0 * NOISE_SD) fail_msg("seasonal fill is off by %.3f on average", err);
    for (size_t t = 0; t < n; t++)
        if (!isnan(g[t])) assert_true(out[t] == g[t]);
    static const int bad[2] = {168, 24};
    assert_int_equal(tsl_decomp_fill_gaps(g, n, bad, 2, out, &d), TSL_EINVAL);
    int too_long = (int)n;
    assert_int_equal(tsl_decomp_fill_gaps(g, n, &too_long, 1, out, &d), TSL_EINVAL);
    for (size_t t = 0; t < n; t++) g[t] = NAN;
    assert_int_equal(tsl_decomp_fill_gaps(g, n, NULL, 0, out, &d), TSL_ESHORT);
    tsl_free(out);
    tsl_free(g);
    tsl_free(y);
}

/* ---- candidate periods ---- */

static void test_freq_seasonal_periods(void **state) {
    (void)state;
    static const struct {
        const char *freq;
        int n, p[2];
    } cases[] = {
        {"H", 2, {24, 168}},      {"30min", 2, {48, 336}}, {"15min", 2, {96, 672}},
        {"5min", 2, {288, 2016}}, {"min", 2, {60, 1440}},  {"2min", 2, {30, 720}},
        {"S", 2, {3600, 86400}},  {"2H", 2, {12, 84}},     {"7H", 1, {24, 0}},
        {"5H", 0, {0, 0}},        {"D", 2, {7, 365}},      {"2D", 0, {0, 0}},
        {"W", 1, {52, 0}},        {"2W", 1, {26, 0}},      {"M", 1, {12, 0}},
        {"3M", 1, {4, 0}},        {"Q", 1, {4, 0}},        {"Y", 0, {0, 0}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        tsl_freq f;
        assert_int_equal(tsl_freq_parse(cases[i].freq, &f, NULL), TSL_OK);
        int out[4] = {0};
        int k = tsl_freq_seasonal_periods(f, out, 4);
        if (k != cases[i].n) fail_msg("%s: %d periods, expected %d", cases[i].freq, k, cases[i].n);
        for (int j = 0; j < k; j++) assert_int_equal(out[j], cases[i].p[j]);
    }
    tsl_freq h;
    assert_int_equal(tsl_freq_parse("H", &h, NULL), TSL_OK);
    int one = 0;
    assert_int_equal(tsl_freq_seasonal_periods(h, &one, 1), 1);
    assert_int_equal(one, 24);
    assert_int_equal(tsl_freq_seasonal_periods(h, &one, 0), 0);
    tsl_freq bad = {TSL_FREQ_NONE, 1, 0};
    assert_int_equal(tsl_freq_seasonal_periods(bad, &one, 1), 0);
}

/* Confirmation: a daily + weekly series keeps both; the same with the weekly cycle removed keeps
 * 24 only; noise keeps none; too short a history drops the weekly candidate unseen; candidates
 * below 2 and repeats are ignored, more than four distinct ones refused. */
static void test_confirm_periods(void **state) {
    (void)state;
    size_t n = 8 * WEEK;
    double *y = known_series(n, 31);
    int out[4], nout = -1;
    static const int cand[4] = {168, 1, 24, 24};
    assert_int_equal(tsl_mstl_confirm_periods(y, n, cand, 4, out, &nout, NULL), TSL_OK);
    assert_int_equal(nout, 2);
    assert_int_equal(out[0], 24);
    assert_int_equal(out[1], 168);
    double *z = tsl_malloc(n * sizeof *z);
    for (size_t t = 0; t < n; t++) z[t] = y[t] - true_weekly(t);
    assert_int_equal(tsl_mstl_confirm_periods(z, n, daily_weekly, 2, out, &nout, NULL), TSL_OK);
    assert_int_equal(nout, 1);
    assert_int_equal(out[0], 24);
    rng r = {37};
    for (size_t t = 0; t < n; t++) z[t] = 100 + NOISE_SD * rng_norm(&r);
    assert_int_equal(tsl_mstl_confirm_periods(z, n, daily_weekly, 2, out, &nout, NULL), TSL_OK);
    assert_int_equal(nout, 0);
    /* 300 observed hours between missing ends: 168 cannot be judged. */
    for (size_t t = 0; t < 320; t++) z[t] = t < 10 || t >= 310 ? NAN : y[t];
    assert_int_equal(tsl_mstl_confirm_periods(z, 320, daily_weekly, 2, out, &nout, NULL), TSL_OK);
    assert_int_equal(nout, 1);
    assert_int_equal(out[0], 24);
    assert_int_equal(tsl_mstl_confirm_periods(z, 40, daily_weekly, 2, out, &nout, NULL), TSL_OK);
    assert_int_equal(nout, 0);
    static const int many[5] = {2, 3, 4, 5, 6};
    assert_int_equal(tsl_mstl_confirm_periods(y, n, many, 5, out, &nout, NULL), TSL_EINVAL);
    tsl_free(z);
    tsl_free(y);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mstl_against_r),
        cmocka_unit_test(test_known_components_recovered),
        cmocka_unit_test(test_decomposition_errors),
        cmocka_unit_test(test_fill_gaps),
        cmocka_unit_test(test_freq_seasonal_periods),
        cmocka_unit_test(test_confirm_periods),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
