/*
 * test_decompose.c - classical decomposition, STL, the seasonality test and the strength
 * measures against R (tests/data/r/make_decompose.R: decompose(), stl(), thetaf()'s test), and
 * their edge cases: missing values, short series, bad options.
 */
#include "testutil.h"

#include <string.h>

#include "forecast/decompose.h"
#include "tsloop/mem.h"

/* Loads series `name` from the inputs fixture into a new array. */
static double *load_series(const tu_table *in, const char *name, size_t *n, int *period) {
    return tu_series(in, name, n, period);
}

/* Scale of a series, for absolute tolerances. */
static double scale_of(const double *y, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(y[i])) s = fmax(s, fabs(y[i]));
    return s;
}

static const char *all_series[] = {"air",  "nottem", "co2",    "uk",
                                   "odd7", "short",  "airgap", "airedge"};

static void test_classical_against_r(void **state) {
    (void)state;
    tu_table *in = tu_table_read(tu_path("decompose/inputs.csv"));
    tu_table *ref = tu_table_read(tu_path("decompose/classical.csv"));
    tu_table *fig = tu_table_read(tu_path("decompose/figure.csv"));
    for (size_t si = 0; si < sizeof all_series / sizeof *all_series; si++) {
        size_t n;
        int period;
        double *y = load_series(in, all_series[si], &n, &period);
        double sc = scale_of(y, n);
        for (int type = 0; type < 2; type++) {
            const char *tname = type ? "multiplicative" : "additive";
            tsl_decomp dc = {0};
            tsl_diag d = {0};
            assert_int_equal(tsl_decomp_classical(y, n, period, (tsl_decomp_type)type, &dc, &d),
                             TSL_OK);
            assert_int_equal(dc.n, n);
            assert_null(dc.weights);
            size_t checked = 0;
            for (size_t r = 0; r < ref->rows; r++) {
                if (strcmp(tu_str(ref, r, "series"), all_series[si]) ||
                    strcmp(tu_str(ref, r, "type"), tname))
                    continue;
                size_t t = (size_t)tu_num(ref, r, "t") - 1;
                double et = tu_num(ref, r, "trend"), es = tu_num(ref, r, "seasonal"),
                       er = tu_num(ref, r, "remainder");
                assert_int_equal(isnan(dc.trend[t]), isnan(et));
                assert_int_equal(isnan(dc.remainder[t]), isnan(er));
                tu_close(dc.trend[t], et, 1e-13, 1e-13 * sc, "%s %s trend t=%zu", all_series[si],
                         tname, t + 1);
                tu_close(dc.seasonal[t], es, 1e-12, 1e-12 * (type ? 1 : sc), "%s %s seasonal t=%zu",
                         all_series[si], tname, t + 1);
                tu_close(dc.remainder[t], er, 1e-12, 1e-12 * (type ? 1 : sc),
                         "%s %s remainder t=%zu", all_series[si], tname, t + 1);
                checked++;
            }
            assert_int_equal(checked, n);
            checked = 0;
            for (size_t r = 0; r < fig->rows; r++) {
                if (strcmp(tu_str(fig, r, "series"), all_series[si]) ||
                    strcmp(tu_str(fig, r, "type"), tname))
                    continue;
                size_t j = (size_t)tu_num(fig, r, "j") - 1;
                tu_close(dc.figure[j], tu_num(fig, r, "figure"), 1e-12, 1e-12 * (type ? 1 : sc),
                         "%s %s figure %zu", all_series[si], tname, j + 1);
                checked++;
            }
            assert_int_equal(checked, (size_t)period);
            tsl_decomp_free(&dc);
            assert_null(dc.trend);
        }
        tsl_free(y);
    }
    tu_table_free(in);
    tu_table_free(ref);
    tu_table_free(fig);
}

/* Sets STL options for a variant name of the fixture (see make_decompose.R). */
static void stl_variant(const char *v, tsl_stl_opts *o) {
    tsl_stl_opts_init(o);
    if (!strcmp(v, "periodic")) return;
    if (!strcmp(v, "periodic_robust")) {
        o->robust = 1;
        return;
    }
    o->periodic = 0;
    if (!strcmp(v, "sw7")) {
        o->s_window = 7;
    } else if (!strcmp(v, "sw7_robust")) {
        o->s_window = 7;
        o->robust = 1;
    } else if (!strcmp(v, "sw11_deg1")) {
        o->s_window = 11;
        o->s_degree = 1;
        o->t_window = 15;
        o->l_window = 13;
    } else if (!strcmp(v, "sw9_jump1")) {
        o->s_window = 9;
        o->s_jump = o->t_jump = o->l_jump = 1;
    } else if (!strcmp(v, "sw8_inner3")) {
        o->s_window = 8;
        o->inner = 3;
        o->outer = 2;
        o->t_degree = 0;
    } else {
        fail_msg("unknown STL variant %s", v);
    }
}

static void test_stl_against_r(void **state) {
    (void)state;
    tu_table *in = tu_table_read(tu_path("decompose/inputs.csv"));
    tu_table *ref = tu_table_read(tu_path("decompose/stl.csv"));
    size_t r = 0, fits = 0;
    while (r < ref->rows) {
        /* Rows come in blocks of one (series, variant). */
        char series[32], variant[32];
        snprintf(series, sizeof series, "%s", tu_str(ref, r, "series"));
        snprintf(variant, sizeof variant, "%s", tu_str(ref, r, "variant"));
        size_t n;
        int period;
        double *y = load_series(in, series, &n, &period);
        double sc = scale_of(y, n);
        tsl_stl_opts o;
        stl_variant(variant, &o);
        tsl_decomp dc = {0};
        tsl_diag d = {0};
        assert_int_equal(tsl_decomp_stl(y, n, period, &o, &dc, &d), TSL_OK);
        assert_int_equal(dc.type, TSL_DECOMP_ADDITIVE);
        for (size_t t = 0; t < n; t++, r++) {
            assert_string_equal(tu_str(ref, r, "series"), series);
            assert_string_equal(tu_str(ref, r, "variant"), variant);
            tu_close(dc.seasonal[t], tu_num(ref, r, "seasonal"), 1e-10, 1e-10 * sc,
                     "%s %s seasonal t=%zu", series, variant, t + 1);
            tu_close(dc.trend[t], tu_num(ref, r, "trend"), 1e-10, 1e-10 * sc, "%s %s trend t=%zu",
                     series, variant, t + 1);
            double er = tu_num(ref, r, "remainder");
            assert_int_equal(isnan(dc.remainder[t]), isnan(er));
            tu_close(dc.remainder[t], er, 1e-10, 1e-10 * sc, "%s %s remainder t=%zu", series,
                     variant, t + 1);
            tu_close(dc.weights[t], tu_num(ref, r, "weights"), 1e-9, 1e-9, "%s %s weight t=%zu",
                     series, variant, t + 1);
        }
        /* The figure is the mean seasonal per position. */
        for (int j = 0; j < period; j++) {
            double s = 0;
            size_t c = 0;
            for (size_t t = (size_t)j; t < n; t += (size_t)period, c++) s += dc.seasonal[t];
            tu_close(dc.figure[j], s / (double)c, 1e-12, 1e-12 * sc, "%s %s figure", series,
                     variant);
        }
        tsl_decomp_free(&dc);
        tsl_free(y);
        fits++;
    }
    assert_true(fits >= 40);
    tu_table_free(in);
    tu_table_free(ref);
}

static void test_seasonality_test_against_r(void **state) {
    (void)state;
    tu_table *in = tu_table_read(tu_path("decompose/inputs.csv"));
    tu_table *ref = tu_table_read(tu_path("decompose/seastest.csv"));
    for (size_t r = 0; r < ref->rows; r++) {
        size_t n;
        int period;
        double *y = load_series(in, tu_str(ref, r, "series"), &n, &period);
        int seasonal = -1;
        double stat = 0;
        assert_int_equal(tsl_decomp_seasonal_test(y, n, period, &seasonal, &stat, NULL), TSL_OK);
        assert_int_equal(seasonal, (int)tu_num(ref, r, "seasonal"));
        tu_close(stat, tu_num(ref, r, "stat"), 1e-12, 0, "%s statistic", tu_str(ref, r, "series"));
        tsl_free(y);
    }
    /* Not tested: period 1, n <= 2m, constant series. */
    double y[40];
    for (int i = 0; i < 40; i++) y[i] = 3.0 + (i % 4 == 0 ? 10.0 : 0.0);
    int s = -1;
    double stat = 0;
    assert_int_equal(tsl_decomp_seasonal_test(y, 40, 4, &s, &stat, NULL), TSL_OK);
    assert_int_equal(s, 1);
    assert_int_equal(tsl_decomp_seasonal_test(y, 8, 4, &s, &stat, NULL), TSL_OK);
    assert_int_equal(s, 0);
    assert_true(isnan(stat));
    assert_int_equal(tsl_decomp_seasonal_test(y, 40, 1, &s, NULL, NULL), TSL_OK);
    assert_int_equal(s, 0);
    for (int i = 0; i < 40; i++) y[i] = 7.25;
    assert_int_equal(tsl_decomp_seasonal_test(y, 40, 4, &s, NULL, NULL), TSL_OK);
    assert_int_equal(s, 0);
    y[5] = NAN;
    tsl_diag d = {0};
    assert_int_equal(tsl_decomp_seasonal_test(y, 40, 4, &s, NULL, &d), TSL_EINVAL);
    tu_table_free(in);
    tu_table_free(ref);
}

static void test_strength_against_r(void **state) {
    (void)state;
    tu_table *in = tu_table_read(tu_path("decompose/inputs.csv"));
    tu_table *ref = tu_table_read(tu_path("decompose/strength.csv"));
    for (size_t r = 0; r < ref->rows; r++) {
        const char *name = tu_str(ref, r, "series");
        size_t n;
        int period;
        double *y = load_series(in, name, &n, &period);
        tsl_decomp dc = {0};
        double fs, ft;
        assert_int_equal(tsl_decomp_stl(y, n, period, NULL, &dc, NULL), TSL_OK);
        assert_int_equal(tsl_decomp_strength(&dc, &fs, &ft, NULL), TSL_OK);
        tu_close(fs, tu_num(ref, r, "stl_fs"), 1e-9, 1e-12, "%s STL seasonal strength", name);
        tu_close(ft, tu_num(ref, r, "stl_ft"), 1e-9, 1e-12, "%s STL trend strength", name);
        tsl_decomp_free(&dc);
        assert_int_equal(tsl_decomp_classical(y, n, period, TSL_DECOMP_MULTIPLICATIVE, &dc, NULL),
                         TSL_OK);
        assert_int_equal(tsl_decomp_strength(&dc, &fs, NULL, NULL), TSL_OK);
        tu_close(fs, tu_num(ref, r, "mult_fs"), 1e-9, 1e-12, "%s log seasonal strength", name);
        assert_int_equal(tsl_decomp_strength(&dc, NULL, &ft, NULL), TSL_OK);
        tu_close(ft, tu_num(ref, r, "mult_ft"), 1e-9, 1e-12, "%s log trend strength", name);
        tsl_decomp_free(&dc);
        tsl_free(y);
    }
    tu_table_free(in);
    tu_table_free(ref);
}

static void test_errors_and_edges(void **state) {
    (void)state;
    double y[60];
    for (int i = 0; i < 60; i++) y[i] = 10 + (i % 6) + 0.1 * i;
    tsl_decomp dc = {0};
    tsl_diag d = {0};
    assert_int_equal(tsl_decomp_classical(y, 60, 1, TSL_DECOMP_ADDITIVE, &dc, &d), TSL_EINVAL);
    assert_int_equal(tsl_decomp_classical(y, 11, 6, TSL_DECOMP_ADDITIVE, &dc, &d), TSL_ESHORT);
    assert_int_equal(tsl_decomp_classical(y, 12, 6, TSL_DECOMP_ADDITIVE, &dc, &d), TSL_OK);
    tsl_decomp_free(&dc);
    assert_int_equal(tsl_decomp_stl(y, 12, 6, NULL, &dc, &d), TSL_ESHORT);
    assert_non_null(strstr(d.msg, "more than two seasons"));
    assert_int_equal(tsl_decomp_stl(y, 13, 6, NULL, &dc, &d), TSL_OK);
    tsl_decomp_free(&dc);
    assert_int_equal(tsl_decomp_stl(y, 60, 1, NULL, &dc, &d), TSL_EINVAL);
    tsl_stl_opts o;
    tsl_stl_opts_init(&o);
    o.periodic = 0; /* and no window */
    assert_int_equal(tsl_decomp_stl(y, 60, 6, &o, &dc, &d), TSL_EINVAL);
    o.s_window = 7;
    o.t_degree = 2;
    assert_int_equal(tsl_decomp_stl(y, 60, 6, &o, &dc, &d), TSL_EINVAL);
    tsl_stl_opts_init(&o);
    o.inner = 0;
    assert_int_equal(tsl_decomp_stl(y, 60, 6, &o, &dc, &d), TSL_EINVAL);
    /* STL refuses leading and trailing gaps, fills interior ones. */
    y[0] = NAN;
    assert_int_equal(tsl_decomp_stl(y, 60, 6, NULL, &dc, &d), TSL_EINVAL);
    y[0] = 10;
    y[59] = NAN;
    assert_int_equal(tsl_decomp_stl(y, 60, 6, NULL, &dc, &d), TSL_EINVAL);
    y[59] = 10 + 5 + 5.9;
    y[20] = NAN;
    assert_int_equal(tsl_decomp_stl(y, 60, 6, NULL, &dc, &d), TSL_OK);
    assert_true(isnan(dc.remainder[20]));
    assert_true(isfinite(dc.trend[20]) && isfinite(dc.seasonal[20]));
    tsl_decomp_free(&dc);
    /* A classical decomposition with a whole position missing cannot have a figure. */
    double z[24];
    for (int i = 0; i < 24; i++) z[i] = i % 2 ? 5 : 7;
    z[0] = z[23] = NAN; /* a leading and a trailing gap: no trend there, the figure stands */
    z[12] = NAN;        /* an interior gap, filled by interpolation */
    assert_int_equal(tsl_decomp_classical(z, 24, 2, TSL_DECOMP_ADDITIVE, &dc, &d), TSL_OK);
    assert_true(isnan(dc.trend[1]) && isfinite(dc.trend[2]) && isnan(dc.trend[22]));
    assert_true(isnan(dc.remainder[12]) && isnan(dc.remainder[0]) && isfinite(dc.remainder[11]));
    assert_true(isfinite(dc.figure[0]) && isfinite(dc.figure[1]));
    tsl_decomp_free(&dc);
    for (int i = 0; i < 24; i++) z[i] = i < 21 ? NAN : 1.0; /* 3 observed, 4 needed */
    assert_int_equal(tsl_decomp_classical(z, 24, 2, TSL_DECOMP_ADDITIVE, &dc, &d), TSL_ESHORT);
    /* Strength needs three defined points; log needs positive components. */
    tsl_decomp tiny = {0};
    double tr[2] = {1, 2}, se[2] = {0, 0}, re[2] = {0, 0};
    tiny.n = 2;
    tiny.trend = tr;
    tiny.seasonal = se;
    tiny.remainder = re;
    assert_int_equal(tsl_decomp_strength(&tiny, NULL, NULL, &d), TSL_ESHORT);
    double a[12];
    for (int i = 0; i < 12; i++) a[i] = i % 3 == 0 ? -4.0 : 2.0 + i;
    assert_int_equal(tsl_decomp_classical(a, 12, 3, TSL_DECOMP_MULTIPLICATIVE, &dc, &d), TSL_OK);
    assert_int_equal(tsl_decomp_strength(&dc, NULL, NULL, &d), TSL_ENUMERIC);
    tsl_decomp_free(&dc);
    tsl_decomp_free(NULL);
}

/* A pure seasonal pattern plus a line: the classical decomposition splits it exactly, STL (two
 * inner iterations of smoothers) nearly. */
static void test_exact_components(void **state) {
    (void)state;
    const double pat[5] = {3, -1, 4, -5, -1};
    double y[50];
    for (int i = 0; i < 50; i++) y[i] = 20 + 0.5 * i + pat[i % 5];
    tsl_decomp dc = {0};
    assert_int_equal(tsl_decomp_classical(y, 50, 5, TSL_DECOMP_ADDITIVE, &dc, NULL), TSL_OK);
    for (int j = 0; j < 5; j++) tu_close(dc.figure[j], pat[j], 0, 1e-12, "classical figure");
    for (int i = 2; i < 48; i++) tu_close(dc.trend[i], 20 + 0.5 * i, 0, 1e-12, "classical trend");
    tsl_decomp_free(&dc);
    assert_int_equal(tsl_decomp_stl(y, 50, 5, NULL, &dc, NULL), TSL_OK);
    for (int j = 0; j < 5; j++) tu_close(dc.figure[j], pat[j], 0, 0.1, "STL figure");
    for (int i = 0; i < 50; i++) tu_close(dc.trend[i], 20 + 0.5 * i, 0, 0.5, "STL trend");
    double fs;
    assert_int_equal(tsl_decomp_strength(&dc, &fs, NULL, NULL), TSL_OK);
    assert_true(fs > 0.999);
    tsl_decomp_free(&dc);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classical_against_r),
        cmocka_unit_test(test_stl_against_r),
        cmocka_unit_test(test_seasonality_test_against_r),
        cmocka_unit_test(test_strength_against_r),
        cmocka_unit_test(test_errors_and_edges),
        cmocka_unit_test(test_exact_components),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
