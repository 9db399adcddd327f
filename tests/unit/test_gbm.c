/*
 * test_gbm.c - the global gradient-boosted model. There is no independent implementation of
 * this model to compare numbers with (R's forecast package has no global tree model), so the
 * suite checks it against synthetic data whose truth is known: series of very different sizes
 * sharing one seasonal and trend shape are learned (forecasts near the truth, better than
 * seasonal naive); the calibrated p10-p90 band covers about 80% of held-out values; and the
 * promises every model keeps: determinism, save -> load -> forecast identical, update uses the
 * new observations (and its one-step errors are the one-step forecasts'), missing values,
 * monotone quantiles, shared boosters outliving their tsl_gbm and forecast from several threads,
 * corrupt blobs refused, and clean errors (too short, bad options, XGBoost's own messages).
 */
#include "testutil.h"

#include <pthread.h>
#include <string.h>

#include "forecast/gbm.h"
#include "tsloop/mem.h"
#include "tsloop/model.h"
#include "tsloop/time.h"

static const double levels[7] = {0.01, 0.05, 0.1, 0.5, 0.9, 0.95, 0.99};

/* A deterministic uniform(-0.5, 0.5) stream. */
static double unif(uint64_t *x) {
    *x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*x >> 11) / 9007199254740992.0 - 0.5;
}

/* A standard normal from the same stream (Box-Muller). */
static double gauss(uint64_t *x) {
    double u1 = unif(x) + 0.5, u2 = unif(x) + 0.5;
    if (u1 < 1e-12) u1 = 1e-12;
    return sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
}

/* The shape every series of the panel shares, at month index t of the calendar (t = 0 is
 * January 2000): a 12-month season tied to the calendar and a steady 0.8% monthly growth. */
static double shape(long t) {
    return (1 + 0.008 * (double)t) * (10 + 3 * sin(2 * M_PI * (double)(t % 12) / 12.0) +
                                      1.5 * cos(4 * M_PI * (double)(t % 12) / 12.0));
}

/* A panel of n monthly series: series i starts at month off[i] of the calendar, has len
 * values (plus h held out), scale 10^(-2 .. 5), and relative noise `noise`. truth gets the
 * noise-free values. */
typedef struct panel {
    size_t n, len, h;
    double *y;     /* n x (len + h) */
    double *truth; /* n x (len + h) */
    tsl_ts *ts;
    long *off;
    double *scale;
} panel;

static void panel_make(panel *p, size_t n, size_t len, size_t h, double noise, uint64_t seed) {
    p->n = n;
    p->len = len;
    p->h = h;
    p->y = tsl_malloc(n * (len + h) * sizeof *p->y);
    p->truth = tsl_malloc(n * (len + h) * sizeof *p->truth);
    p->ts = tsl_calloc(n, sizeof *p->ts);
    p->off = tsl_calloc(n, sizeof *p->off);
    p->scale = tsl_calloc(n, sizeof *p->scale);
    uint64_t x = seed;
    for (size_t i = 0; i < n; i++) {
        p->off[i] = (long)((unif(&x) + 0.5) * 36);
        p->scale[i] = pow(10.0, -2.0 + 7.0 * (double)i / (double)(n - 1));
        double *y = p->y + i * (len + h), *tr = p->truth + i * (len + h);
        for (size_t t = 0; t < len + h; t++) {
            tr[t] = p->scale[i] * shape(p->off[i] + (long)t);
            y[t] = tr[t] * (1 + noise * gauss(&x));
        }
        p->ts[i].y = y;
        p->ts[i].n = len + h;
        p->ts[i].start = tsl_time_from_civil(2000, 1 + (int)p->off[i], 1, 0, 0, 0);
    }
}

static void panel_free(panel *p) {
    tsl_free(p->y);
    tsl_free(p->truth);
    tsl_free(p->ts);
    tsl_free(p->off);
    tsl_free(p->scale);
}

/* Trains on the first p->len values of every series. */
static tsl_gbm *panel_train(const panel *p, const tsl_gbm_opts *o) {
    size_t *lens = tsl_malloc(p->n * sizeof *lens);
    for (size_t i = 0; i < p->n; i++) lens[i] = p->len;
    tsl_gbm *g = NULL;
    tsl_diag d = {0};
    tsl_err rc = tsl_gbm_train(p->ts, p->n, lens, o, &g, &d);
    tsl_free(lens);
    if (rc) fail_msg("gbm training failed: %s", tsl_diag_msg(&d));
    return g;
}

static void monthly_opts(tsl_gbm_opts *o, size_t h) {
    tsl_gbm_opts_init(o, h, 12);
    o->freq.unit = TSL_FREQ_MONTH;
    o->freq.mult = 1;
    o->freq.anchor = 1;
    o->max_rows = 20000; /* quick, and sampling is exercised */
}

static tsl_model *model_of(tsl_gbm *g, size_t i) {
    tsl_model *m = NULL;
    tsl_diag d = {0};
    if (tsl_gbm_model(g, i, &m, &d)) fail_msg("series %zu: %s", i + 1, tsl_diag_msg(&d));
    return m;
}

static void check_monotone(const double *q, size_t h, size_t nq) {
    for (size_t s = 0; s < h; s++)
        for (size_t j = 1; j < nq; j++)
            if (!(q[s * nq + j] >= q[s * nq + j - 1]))
                fail_msg("quantiles not monotone at step %zu level %zu", s + 1, j);
}

static double smape(const double *y, const double *f, size_t h) {
    double s = 0;
    for (size_t k = 0; k < h; k++) s += 200 * fabs(y[k] - f[k]) / (fabs(y[k]) + fabs(f[k]));
    return s / (double)h;
}

/* 80 series spanning seven orders of magnitude, one shape: the shared model forecasts each
 * near its own truth, whatever its size, and better than seasonal naive (which misses a year
 * of growth); quantiles are monotone, scale with the series and contain the truth. */
static void run_shared_shape(tsl_gbm_strategy strategy) {
    enum { NS = 80, LEN = 96, H = 12 };
    panel p;
    panel_make(&p, NS, LEN, H, 0.03, 7);
    tsl_gbm_opts o;
    monthly_opts(&o, H);
    o.strategy = strategy;
    o.max_rounds = 200; /* keeps the suite quick, under the sanitizers too */
    o.eta = 0.2;
    o.max_rows = 20000; /* the direct strategy's ~80,000 rows are sampled */
    tsl_gbm *g = panel_train(&p, &o);
    tsl_gbm_info info;
    tsl_gbm_get_info(g, &info);
    assert_true(info.rounds >= 1 && info.rows > 0 && info.cal_errors > 0);
    assert_true(info.rows <= 21000 && info.rows <= info.rows_available);
    if (strategy == TSL_GBM_DIRECT) assert_true(info.rows_available > 3 * info.rows);
    double gbm_err = 0, sn_err = 0, worst = 0;
    for (size_t i = 0; i < NS; i++) {
        tsl_model *m = model_of(g, i);
        assert_int_equal(tsl_model_kind_of(m), TSL_MODEL_GBM);
        assert_int_equal(tsl_model_nobs(m), LEN);
        double f[H], q[H * 7];
        assert_int_equal(tsl_model_forecast(m, H, levels, 7, f, q, NULL), TSL_OK);
        check_monotone(q, H, 7);
        const double *truth = p.truth + i * (LEN + H) + LEN;
        const double *y = p.y + i * (LEN + H);
        double sn[H];
        for (size_t k = 0; k < H; k++) sn[k] = y[LEN - 12 + k];
        double e = smape(truth, f, H);
        gbm_err += e / NS;
        sn_err += smape(truth, sn, H) / NS;
        if (e > worst) worst = e;
        /* the band is in the series' own units */
        double width = q[(H - 1) * 7 + 4] - q[(H - 1) * 7 + 2];
        assert_true(width > 0.005 * p.scale[i] && width < 5 * p.scale[i]);
        tsl_model_free(m);
    }
    if (!(gbm_err < 3.0 && worst < 8.0 && gbm_err < 0.6 * sn_err))
        fail_msg("strategy %d: sMAPE to the truth %.3f (worst %.3f), seasonal naive %.3f",
                 (int)strategy, gbm_err, worst, sn_err);
    tsl_gbm_free(g);
    panel_free(&p);
}

static void test_shared_shape_recursive(void **state) {
    (void)state;
    run_shared_shape(TSL_GBM_RECURSIVE);
}

static void test_shared_shape_direct(void **state) {
    (void)state;
    run_shared_shape(TSL_GBM_DIRECT);
}

/* Forecasts of every series of g into f (n x h). */
static void forecast_all(tsl_gbm *g, size_t n, size_t h, double *f, double *q) {
    for (size_t i = 0; i < n; i++) {
        tsl_model *m = model_of(g, i);
        assert_int_equal(tsl_model_forecast(m, h, levels, 7, f + i * h, q + i * h * 7, NULL),
                         TSL_OK);
        tsl_model_free(m);
    }
}

/* Same input, options and thread count: the same forecasts to the bit. Across thread counts
 * the forecasts are also compared, and reported; see docs/models/gbm.md. */
static void test_determinism(void **state) {
    (void)state;
    enum { NS = 30, LEN = 72, H = 6 };
    panel p;
    panel_make(&p, NS, LEN, H, 0.05, 11);
    tsl_gbm_opts o;
    monthly_opts(&o, H);
    o.params = "subsample=0.8;colsample_bytree=0.8"; /* XGBoost's own random choices too */
    /* Small trees and few rounds: with two threads, every tree node is an OpenMP parallel
     * region, and on a busy machine libgomp's spinning barriers make each one slow. */
    o.max_rounds = 30;
    o.max_depth = 3;
    o.max_rows = 5000;
    double *f[3], *q[3];
    for (int r = 0; r < 3; r++) {
        o.threads = r < 2 ? 1 : 2;
        tsl_gbm *g = panel_train(&p, &o);
        f[r] = tsl_malloc(NS * H * sizeof *f[r]);
        q[r] = tsl_malloc(NS * H * 7 * sizeof *q[r]);
        forecast_all(g, NS, H, f[r], q[r]);
        tsl_gbm_free(g);
    }
    assert_memory_equal(f[0], f[1], NS * H * sizeof *f[0]);
    assert_memory_equal(q[0], q[1], NS * H * 7 * sizeof *q[0]);
    /* two threads: identical to one on this data (XGBoost 1.7's hist sums each histogram
     * bin in a fixed order); docs/models/gbm.md reports the larger benchmarks */
    assert_memory_equal(f[0], f[2], NS * H * sizeof *f[0]);
    /* another seed changes the subsample, hence the forecasts */
    o.threads = 1;
    o.seed = 99;
    tsl_gbm *g = panel_train(&p, &o);
    double *f3 = tsl_malloc(NS * H * sizeof *f3), *q3 = tsl_malloc(NS * H * 7 * sizeof *q3);
    forecast_all(g, NS, H, f3, q3);
    assert_true(memcmp(f3, f[0], NS * H * sizeof *f3) != 0);
    tsl_gbm_free(g);
    tsl_free(f3);
    tsl_free(q3);
    for (int r = 0; r < 3; r++) {
        tsl_free(f[r]);
        tsl_free(q[r]);
    }
    panel_free(&p);
}

/* A small booster, so that every truncation of its blob can be tried. */
static tsl_gbm *small_gbm(panel *p) {
    panel_make(p, 6, 40, 4, 0.05, 3);
    tsl_gbm_opts o;
    monthly_opts(&o, 4);
    o.max_rounds = 2;
    o.max_depth = 2;
    return panel_train(p, &o);
}

static void test_roundtrip_and_corruption(void **state) {
    (void)state;
    enum { NS = 20, LEN = 60, H = 6 };
    panel p;
    panel_make(&p, NS, LEN, H, 0.05, 5);
    tsl_gbm_opts o;
    monthly_opts(&o, H);
    tsl_gbm *g = panel_train(&p, &o);
    tsl_model *m = model_of(g, 3);
    tu_model_roundtrip(m, 30, levels, 7);
    /* and after an update, on the original and a clone alike */
    tsl_model *c = NULL;
    assert_int_equal(tsl_model_clone(m, &c, NULL), TSL_OK);
    const double *next = p.y + 3 * (LEN + H) + LEN;
    double e1[H], e2[H];
    assert_int_equal(tsl_model_update(m, next, H, e1, NULL), TSL_OK);
    assert_int_equal(tsl_model_update(c, next, H, e2, NULL), TSL_OK);
    assert_memory_equal(e1, e2, sizeof e1);
    tu_model_roundtrip(c, 30, levels, 7);
    tsl_model_free(c);
    tsl_model_free(m);
    tsl_gbm_free(g);
    panel_free(&p);

    g = small_gbm(&p);
    m = model_of(g, 0);
    tu_model_roundtrip(m, 8, levels, 7);
    tu_model_blob_robust(m, 7);
    tsl_model_free(m);
    tsl_gbm_free(g);
    panel_free(&p);
}

/* A blob with a valid checksum around a booster XGBoost cannot read is refused, with
 * XGBoost's message. */
static void test_bad_booster_refused(void **state) {
    (void)state;
    panel p;
    tsl_gbm *g = small_gbm(&p);
    tsl_model *m = model_of(g, 0);
    tsl_wbuf b;
    tsl_wbuf_init(&b);
    assert_int_equal(tsl_model_save(m, &b, NULL), TSL_OK);
    /* The booster is the state's tail, just before the CRC: damage its first bytes (UBJSON's
     * opening '{'), then recompute the CRC so that only XGBoost can tell. */
    tsl_gbm_info info;
    tsl_gbm_get_info(g, &info);
    size_t at = b.len - 4 - info.booster_bytes;
    assert_int_equal(b.data[at], '{');
    memcpy(b.data + at, "garbage!", 8);
    uint32_t crc = tsl_crc32(0, b.data, b.len - 4);
    for (int i = 0; i < 4; i++) b.data[b.len - 4 + (size_t)i] = (uint8_t)(crc >> (8 * i));
    tsl_model *bad = NULL;
    tsl_diag d = {0};
    assert_int_equal(tsl_model_load(b.data, b.len, &bad, &d), TSL_ECORRUPT);
    assert_null(bad);
    assert_non_null(strstr(d.msg, "XGBoost failed in XGBoosterLoadModelFromBuffer"));
    tsl_wbuf_release(&b);
    tsl_model_free(m);
    tsl_gbm_free(g);
    panel_free(&p);
}

/* update appends to the history without retraining: its one-step errors are exactly those of
 * the one-step forecasts, and the forecast follows the new observations. */
static void test_update_uses_new_observations(void **state) {
    (void)state;
    enum { NS = 30, LEN = 72, H = 6 };
    panel p;
    panel_make(&p, NS, LEN, H, 0.02, 13);
    tsl_gbm_opts o;
    monthly_opts(&o, H);
    tsl_gbm *g = panel_train(&p, &o);
    size_t i = 10;
    tsl_model *m = model_of(g, i);
    tsl_gbm_free(g); /* the model keeps the booster alive */
    const double *y = p.y + i * (LEN + H);
    double f1, next[H], err[H], before[H], after[H];
    for (size_t k = 0; k < H; k++) next[k] = y[LEN + k];
    assert_int_equal(tsl_model_forecast(m, 1, NULL, 0, &f1, NULL, NULL), TSL_OK);
    assert_int_equal(tsl_model_forecast(m, H, NULL, 0, before, NULL, NULL), TSL_OK);
    assert_int_equal(tsl_model_update(m, next, 1, err, NULL), TSL_OK);
    assert_true(err[0] == next[0] - f1);
    /* the rest of the window, one step at a time and at once, agree */
    tsl_model *twin = NULL;
    assert_int_equal(tsl_model_clone(m, &twin, NULL), TSL_OK);
    for (size_t k = 1; k < H; k++) {
        double fk, ek;
        assert_int_equal(tsl_model_forecast(twin, 1, NULL, 0, &fk, NULL, NULL), TSL_OK);
        assert_int_equal(tsl_model_update(twin, next + k, 1, &ek, NULL), TSL_OK);
        assert_true(ek == next[k] - fk);
    }
    assert_int_equal(tsl_model_update(m, next + 1, H - 1, err + 1, NULL), TSL_OK);
    assert_int_equal(tsl_model_nobs(m), LEN + H);
    assert_int_equal(tsl_model_forecast(m, H, NULL, 0, after, NULL, NULL), TSL_OK);
    double after2[H];
    assert_int_equal(tsl_model_forecast(twin, H, NULL, 0, after2, NULL, NULL), TSL_OK);
    assert_memory_equal(after, after2, sizeof after);
    assert_true(memcmp(before, after, sizeof before) != 0);
    /* a level that doubles (for four cycles, the longest window) is followed: base, scale and
     * lags all come from the newest values */
    double doubled[48];
    for (size_t k = 0; k < 48; k++)
        doubled[k] = 2 * p.scale[i] * shape(p.off[i] + (long)(LEN + H + k));
    assert_int_equal(tsl_model_update(m, doubled, 48, NULL, NULL), TSL_OK);
    assert_int_equal(tsl_model_forecast(m, H, NULL, 0, after, NULL, NULL), TSL_OK);
    for (size_t k = 0; k < H; k++) {
        double truth = 2 * p.scale[i] * shape(p.off[i] + (long)(LEN + H + 48 + k));
        tu_close(after[k], truth, 0.08, 0, "doubled level, step %zu", k + 1);
    }
    tsl_model_free(twin);
    tsl_model_free(m);
    panel_free(&p);
}

/* Gaps inside and at the end of the history, a series with nothing observed, missing values
 * in updates: training skips what it must, forecasts stay finite and monotone. */
static void test_missing_values(void **state) {
    (void)state;
    enum { NS = 25, LEN = 84, H = 12 };
    panel p;
    panel_make(&p, NS, LEN, H, 0.03, 17);
    uint64_t x = 5;
    for (size_t i = 0; i < NS; i++)
        for (size_t t = 0; t < LEN; t++)
            if (unif(&x) < -0.35) p.y[i * (LEN + H) + t] = NAN;          /* 15% missing */
    for (size_t t = LEN - 5; t < LEN; t++) p.y[2 * (LEN + H) + t] = NAN; /* a gap at the end */
    for (size_t t = 0; t < LEN + H; t++) p.y[4 * (LEN + H) + t] = NAN;   /* nothing observed */
    tsl_gbm_opts o;
    monthly_opts(&o, H);
    tsl_gbm *g = panel_train(&p, &o);
    tsl_model *m = NULL;
    tsl_diag d = {0};
    assert_int_equal(tsl_gbm_model(g, 4, &m, &d), TSL_ESHORT);
    assert_null(m);
    assert_non_null(strstr(d.msg, "series 5"));
    double err = 0;
    for (size_t i = 0; i < NS; i++) {
        if (i == 4) continue;
        m = model_of(g, i);
        double f[H], q[H * 7];
        assert_int_equal(tsl_model_forecast(m, H, levels, 7, f, q, NULL), TSL_OK);
        check_monotone(q, H, 7);
        err += smape(p.truth + i * (LEN + H) + LEN, f, H) / (NS - 1);
        double more[3] = {p.y[i * (LEN + H) + LEN], NAN, p.y[i * (LEN + H) + LEN + 2]}, e[3];
        assert_int_equal(tsl_model_update(m, more, 3, e, NULL), TSL_OK);
        assert_true(isfinite(e[0]) && isnan(e[1]) && isfinite(e[2]));
        assert_int_equal(tsl_model_forecast(m, H, levels, 7, f, q, NULL), TSL_OK);
        for (size_t k = 0; k < H; k++) assert_true(isfinite(f[k]));
        tsl_model_free(m);
    }
    if (!(err < 5)) fail_msg("sMAPE to the truth with 15%% missing: %.3f", err);
    tsl_gbm_free(g);
    panel_free(&p);
}

/* On held-out data drawn like the training data, the calibrated p10-p90 band covers close to
 * 80%, and the p1-p99 band close to 98%. */
static void test_calibrated_coverage(void **state) {
    (void)state;
    enum { NS = 150, LEN = 120, H = 8 };
    /* random walks with a weekly-like season and drift, scales 1 .. 1000 */
    double *y = tsl_malloc(NS * (LEN + H) * sizeof *y);
    tsl_ts *ts = tsl_calloc(NS, sizeof *ts);
    size_t *lens = tsl_malloc(NS * sizeof *lens);
    uint64_t x = 23;
    for (size_t i = 0; i < NS; i++) {
        double scale = pow(10.0, 3.0 * (double)i / NS), level = 100;
        for (size_t t = 0; t < LEN + H; t++) {
            level += 0.2 + 1.5 * gauss(&x);
            y[i * (LEN + H) + t] = scale * (level + 8 * sin(2 * M_PI * (double)(t % 7) / 7.0));
        }
        ts[i] = (tsl_ts){y + i * (LEN + H), LEN + H, 0};
        lens[i] = LEN;
    }
    tsl_gbm_opts o;
    tsl_gbm_opts_init(&o, H, 7);
    o.max_rows = 40000;
    tsl_gbm *g = NULL;
    tsl_diag d = {0};
    if (tsl_gbm_train(ts, NS, lens, &o, &g, &d)) fail_msg("%s", tsl_diag_msg(&d));
    size_t in80 = 0, in98 = 0, total = 0;
    for (size_t i = 0; i < NS; i++) {
        tsl_model *m = model_of(g, i);
        double f[H], q[H * 7];
        assert_int_equal(tsl_model_forecast(m, H, levels, 7, f, q, NULL), TSL_OK);
        check_monotone(q, H, 7);
        for (size_t k = 0; k < H; k++) {
            double v = y[i * (LEN + H) + LEN + k];
            in80 += v >= q[k * 7 + 2] && v <= q[k * 7 + 4];
            in98 += v >= q[k * 7] && v <= q[k * 7 + 6];
            total++;
        }
        tsl_model_free(m);
    }
    double c80 = (double)in80 / (double)total, c98 = (double)in98 / (double)total;
    if (fabs(c80 - 0.8) > 0.07 || fabs(c98 - 0.98) > 0.04)
        fail_msg("coverage of the p10-p90 band %.3f, p1-p99 %.3f", c80, c98);
    tsl_gbm_free(g);
    tsl_free(y);
    tsl_free(ts);
    tsl_free(lens);
}

/* The kind on its own: "gbm" parses, fits one series, keeps every interface promise. */
static void test_standalone(void **state) {
    (void)state;
    enum { N = 150, H = 30 };
    double y[N];
    uint64_t x = 31;
    for (size_t t = 0; t < N; t++)
        y[t] = 50 + 0.3 * (double)t + 10 * sin(2 * M_PI * (double)(t % 12) / 12) + 2 * gauss(&x);
    tsl_model_spec spec;
    assert_int_equal(tsl_model_spec_parse("gbm", 12, &spec, NULL), TSL_OK);
    assert_int_equal(spec.kind, TSL_MODEL_GBM);
    char text[32];
    tsl_model_spec_format(&spec, text, sizeof text);
    assert_string_equal(text, "gbm");
    assert_string_equal(tsl_model_kind_name(TSL_MODEL_GBM), "gbm");
    tsl_model *m = NULL;
    tsl_diag d = {0};
    if (tsl_model_fit(&spec, y, N, &m, &d)) fail_msg("%s", tsl_diag_msg(&d));
    assert_string_equal(tsl_model_name(m), "GBM");
    double f[H], q[H * 7];
    assert_int_equal(tsl_model_forecast(m, H, levels, 7, f, q, NULL), TSL_OK);
    check_monotone(q, H, 7);
    for (size_t k = 0; k < 12; k++) {
        double truth =
            50 + 0.3 * (double)(N + k) + 10 * sin(2 * M_PI * (double)((N + k) % 12) / 12);
        tu_close(f[k], truth, 0.12, 0, "standalone step %zu", k + 1);
    }
    tu_model_roundtrip(m, H, levels, 7);
    tsl_model_free(m);
    /* leading missing values are dropped, as for every model */
    double z[N + 5];
    for (size_t t = 0; t < 5; t++) z[t] = NAN;
    memcpy(z + 5, y, sizeof y);
    assert_int_equal(tsl_model_fit(&spec, z, N + 5, &m, NULL), TSL_OK);
    assert_int_equal(tsl_model_nobs(m), N);
    tsl_model_free(m);
}

/* Many threads forecast at once from models sharing one booster: the same numbers as one. */
typedef struct job {
    tsl_model *m;
    double f[48], q[48 * 7];
    int rc;
} job;

static void *forecast_job(void *arg) {
    job *j = arg;
    j->rc = 0;
    for (int r = 0; r < 20 && !j->rc; r++)
        j->rc = (int)tsl_model_forecast(j->m, 48, levels, 7, j->f, j->q, NULL);
    return NULL;
}

static void test_threads_share_a_booster(void **state) {
    (void)state;
    enum { NS = 8, LEN = 60, H = 6 };
    panel p;
    panel_make(&p, NS, LEN, H, 0.05, 19);
    tsl_gbm_opts o;
    monthly_opts(&o, H);
    tsl_gbm *g = panel_train(&p, &o);
    job jobs[NS];
    pthread_t th[NS];
    double ref[NS][48];
    for (size_t i = 0; i < NS; i++) {
        jobs[i].m = model_of(g, i);
        double q[48 * 7];
        assert_int_equal(tsl_model_forecast(jobs[i].m, 48, levels, 7, ref[i], q, NULL), TSL_OK);
    }
    tsl_gbm_free(g);
    for (size_t i = 0; i < NS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, forecast_job, &jobs[i]), 0);
    for (size_t i = 0; i < NS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(jobs[i].rc, 0);
        assert_memory_equal(jobs[i].f, ref[i], sizeof ref[i]);
        tsl_model_free(jobs[i].m);
    }
    panel_free(&p);
}

/* Clean errors: too little data, bad options and values, XGBoost's own messages. */
static void test_errors(void **state) {
    (void)state;
    tsl_diag d = {0};
    tsl_model *m = NULL;
    tsl_model_spec spec;
    tsl_model_spec_init(&spec, TSL_MODEL_GBM, 12);
    double y[30];
    for (size_t t = 0; t < 30; t++) y[t] = 10 + (double)(t % 12);
    assert_int_equal(tsl_model_fit(&spec, y, 30, &m, &d), TSL_ESHORT);
    assert_null(m);
    assert_non_null(strstr(d.msg, "gbm needs at least"));

    panel p;
    panel_make(&p, 5, 48, 6, 0.05, 29);
    tsl_gbm_opts o;
    monthly_opts(&o, 6);
    tsl_gbm *g = NULL;
    o.max_depth = 0;
    assert_int_equal(tsl_gbm_train(p.ts, p.n, NULL, &o, &g, &d), TSL_EINVAL);
    assert_non_null(strstr(d.msg, "depth"));
    monthly_opts(&o, 0);
    assert_int_equal(tsl_gbm_train(p.ts, p.n, NULL, &o, &g, &d), TSL_EINVAL);
    assert_non_null(strstr(d.msg, "horizon"));
    monthly_opts(&o, 6);
    size_t lens[5] = {48, 48, 48, 48, 1000};
    assert_int_equal(tsl_gbm_train(p.ts, p.n, lens, &o, &g, &d), TSL_EINVAL);
    assert_non_null(strstr(d.msg, "series 5 trains on 1000 values"));
    p.y[2 * 54 + 7] = INFINITY;
    assert_int_equal(tsl_gbm_train(p.ts, p.n, NULL, &o, &g, &d), TSL_EINVAL);
    assert_non_null(strstr(d.msg, "series 3 value 8 is infinite"));
    p.y[2 * 54 + 7] = 1;
    o.params = "max_bin";
    assert_int_equal(tsl_gbm_train(p.ts, p.n, NULL, &o, &g, &d), TSL_EINVAL);
    assert_non_null(strstr(d.msg, "name=value"));
    /* XGBoost refuses a parameter value: its own message comes through */
    o.params = "tree_method=bogus";
    assert_int_equal(tsl_gbm_train(p.ts, p.n, NULL, &o, &g, &d), TSL_ENUMERIC);
    assert_null(g);
    assert_non_null(strstr(d.msg, "XGBoost failed in XGBoosterUpdateOneIter"));
    assert_non_null(strstr(d.msg, "bogus"));
    assert_null(strchr(d.msg, '\n'));
    o.params = NULL;
    size_t none[5] = {0, 0, 0, 0, 0};
    assert_int_equal(tsl_gbm_train(p.ts, p.n, none, &o, &g, &d), TSL_ESHORT);
    size_t tiny[5] = {9, 9, 9, 9, 9};
    assert_int_equal(tsl_gbm_train(p.ts, p.n, tiny, &o, &g, &d), TSL_ESHORT);
    o.patience = 0; /* no early stopping: every round is kept */
    o.max_rounds = 7;
    assert_int_equal(tsl_gbm_train(p.ts, p.n, NULL, &o, &g, &d), TSL_OK);
    tsl_gbm_info info;
    tsl_gbm_get_info(g, &info);
    assert_int_equal(info.rounds, 7);
    assert_int_equal(tsl_gbm_model(g, 5, &m, &d), TSL_EINVAL);
    assert_null(m);
    tsl_gbm_free(g);
    tsl_gbm_free(NULL);
    panel_free(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_shape_recursive),
        cmocka_unit_test(test_shared_shape_direct),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_roundtrip_and_corruption),
        cmocka_unit_test(test_bad_booster_refused),
        cmocka_unit_test(test_update_uses_new_observations),
        cmocka_unit_test(test_missing_values),
        cmocka_unit_test(test_calibrated_coverage),
        cmocka_unit_test(test_standalone),
        cmocka_unit_test(test_threads_share_a_booster),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
