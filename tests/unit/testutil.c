/*
 * testutil.c - see testutil.h.
 */
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tsloop/config.h"
#include "tsloop/mem.h"
#include "tsloop/model.h"
#include "tsloop/store.h"

const char *tu_path(const char *rel) {
    static char bufs[4][4096];
    static int slot;
    const char *root = getenv("TSL_TEST_DATA");
    if (!root) root = "tests/data";
    char *b = bufs[slot++ % 4];
    snprintf(b, sizeof bufs[0], "%s/%s", root, rel);
    return b;
}

char *tu_tmpdir(void) {
    const char *root = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/tsloop-test-XXXXXX", root && root[0] ? root : "/tmp");
    if (!mkdtemp(tmpl)) fail_msg("cannot make a scratch directory from %s", tmpl);
    return tsl_strdup(tmpl);
}

void tu_rmtree(const char *dir) {
    DIR *dh = opendir(dir);
    if (!dh) return;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(dh))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(dh);
    rmdir(dir);
}

char *tu_slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open fixture %s", path);
    size_t cap = 1 << 16, n = 0;
    char *buf = tsl_malloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n < 2) buf = tsl_realloc(buf, cap *= 2);
    }
    fclose(f);
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

static size_t split(char *line, char **out, size_t max) {
    size_t n = 0;
    char *p = line;
    for (;;) {
        if (n < max) out[n] = p;
        n++;
        char *c = strchr(p, ',');
        if (!c) break;
        *c = '\0';
        p = c + 1;
    }
    return n;
}

tu_table *tu_table_read(const char *path) {
    char *text = tu_slurp(path, NULL);
    tu_table *t = tsl_calloc(1, sizeof *t);
    char *save = NULL;
    char *line = strtok_r(text, "\r\n", &save);
    if (!line) fail_msg("fixture %s is empty", path);
    char *fields[1024];
    t->cols = split(line, fields, 1024);
    t->names = tsl_malloc(t->cols * sizeof *t->names);
    for (size_t i = 0; i < t->cols; i++) t->names[i] = tsl_strdup(fields[i]);
    size_t cap = 256;
    t->cells = tsl_malloc(cap * t->cols * sizeof *t->cells);
    while ((line = strtok_r(NULL, "\r\n", &save))) {
        size_t n = split(line, fields, 1024);
        if (n != t->cols)
            fail_msg("fixture %s row %zu has %zu fields, expected %zu", path, t->rows + 2, n,
                     t->cols);
        if (t->rows == cap) t->cells = tsl_realloc(t->cells, (cap *= 2) * t->cols * sizeof(char *));
        for (size_t i = 0; i < n; i++) t->cells[t->rows * t->cols + i] = tsl_strdup(fields[i]);
        t->rows++;
    }
    tsl_free(text);
    return t;
}

void tu_table_free(tu_table *t) {
    if (!t) return;
    for (size_t i = 0; i < t->cols; i++) tsl_free(t->names[i]);
    for (size_t i = 0; i < t->rows * t->cols; i++) tsl_free(t->cells[i]);
    tsl_free(t->names);
    tsl_free(t->cells);
    tsl_free(t);
}

int tu_col(const tu_table *t, const char *name) {
    for (size_t i = 0; i < t->cols; i++)
        if (!strcmp(t->names[i], name)) return (int)i;
    fail_msg("fixture has no column '%s'", name);
    return -1;
}

const char *tu_str(const tu_table *t, size_t row, const char *col) {
    return t->cells[row * t->cols + (size_t)tu_col(t, col)];
}

double tu_num(const tu_table *t, size_t row, const char *col) {
    const char *s = tu_str(t, row, col);
    if (!strcmp(s, "NA") || !strcmp(s, "NaN") || !*s) return NAN;
    char *end;
    double v = strtod(s, &end);
    if (*end) fail_msg("fixture cell '%s' (column %s, row %zu) is not a number", s, col, row);
    return v;
}

void tu_close(double a, double e, double rtol, double atol, const char *fmt, ...) {
    if (isnan(a) && isnan(e)) return;
    if (fabs(a - e) <= atol + rtol * fabs(e)) return;
    char label[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(label, sizeof label, fmt, ap);
    va_end(ap);
    fail_msg("%s: got %.12g, expected %.12g (diff %.3g, rtol %g, atol %g)", label, a, e,
             fabs(a - e), rtol, atol);
}

double *tu_series(const tu_table *t, const char *name, size_t *n, int *period) {
    double *y = tsl_malloc((t->rows ? t->rows : 1) * sizeof *y);
    int has_period = 0;
    for (size_t i = 0; i < t->cols; i++) has_period |= !strcmp(t->names[i], "period");
    *n = 0;
    for (size_t r = 0; r < t->rows; r++) {
        if (strcmp(tu_str(t, r, "series"), name)) continue;
        y[(*n)++] = tu_num(t, r, "y");
        if (period && has_period) *period = (int)tu_num(t, r, "period");
    }
    if (*n == 0) fail_msg("fixture has no series '%s'", name);
    return y;
}

void tu_model_roundtrip(const tsl_model *m, size_t h, const double *levels, size_t nq) {
    tsl_wbuf b;
    tsl_wbuf_init(&b);
    tsl_diag d = {0};
    assert_int_equal(tsl_model_save(m, &b, &d), TSL_OK);
    tsl_model *back = NULL;
    if (tsl_model_load(b.data, b.len, &back, &d))
        fail_msg("%s: reload failed: %s", tsl_model_name(m), tsl_diag_msg(&d));
    double *f1 = tsl_malloc(h * sizeof *f1), *f2 = tsl_malloc(h * sizeof *f2);
    double *q1 = tsl_malloc((h * nq + 1) * sizeof *q1), *q2 = tsl_malloc((h * nq + 1) * sizeof *q2);
    assert_int_equal(tsl_model_forecast(m, h, levels, nq, f1, q1, NULL), TSL_OK);
    assert_int_equal(tsl_model_forecast(back, h, levels, nq, f2, q2, NULL), TSL_OK);
    if (memcmp(f1, f2, h * sizeof *f1) || memcmp(q1, q2, h * nq * sizeof *q1))
        fail_msg("%s: forecast differs after save/load", tsl_model_name(m));
    assert_string_equal(tsl_model_name(m), tsl_model_name(back));
    assert_int_equal(tsl_model_nobs(m), tsl_model_nobs(back));
    double a = tsl_model_aicc(m), c = tsl_model_aicc(back);
    assert_true(isnan(a) ? isnan(c) : a == c);
    tsl_free(f1);
    tsl_free(f2);
    tsl_free(q1);
    tsl_free(q2);
    tsl_model_free(back);
    tsl_wbuf_release(&b);
}

void tu_model_blob_robust(const tsl_model *m, size_t stride) {
    tsl_wbuf b;
    tsl_wbuf_init(&b);
    assert_int_equal(tsl_model_save(m, &b, NULL), TSL_OK);
    for (size_t i = 0; i < b.len; i += stride ? stride : 1) {
        b.data[i] ^= 0x5a;
        tsl_model *bad = NULL;
        if (tsl_model_load(b.data, b.len, &bad, NULL) == TSL_OK)
            fail_msg("%s: a blob with byte %zu flipped was accepted", tsl_model_name(m), i);
        assert_null(bad);
        b.data[i] ^= 0x5a;
    }
    for (size_t len = 0; len < b.len; len++) {
        tsl_model *bad = NULL;
        if (tsl_model_load(b.data, len, &bad, NULL) == TSL_OK)
            fail_msg("%s: a blob truncated to %zu bytes was accepted", tsl_model_name(m), len);
    }
    tsl_wbuf_release(&b);
}

static int64_t fx_clock(void *ctx) {
    return ((tu_store_fx *)ctx)->now;
}

int tu_store_fx_setup(void **state) {
    tu_store_fx *f = tsl_calloc(1, sizeof *f);
    char path[4096];
    tsl_diag d = {TSL_OK, {0}};
    tsl_store_opts o = {0};
    f->dir = tu_tmpdir();
    f->now = 1700000000000;
    o.clock_ms = fx_clock;
    o.clock_ctx = f;
    snprintf(path, sizeof path, "%s/store.db", f->dir);
    if (tsl_store_open(path, &o, &f->s, &d)) fail_msg("opening %s: %s", path, d.msg);
    tsl_freq freq;
    if (tsl_freq_parse("D", &freq, &d)) fail_msg("%s", d.msg);
    if (tsl_store_dataset_create(f->s, "sales", freq, NULL, 0, NULL, &d)) fail_msg("%s", d.msg);
    *state = f;
    return 0;
}

int tu_store_fx_teardown(void **state) {
    tu_store_fx *f = *state;
    tsl_store_close(f->s);
    tu_rmtree(f->dir);
    tsl_free(f->dir);
    tsl_free(f);
    return 0;
}

int64_t tu_store_fx_ingest(tu_store_fx *f, const char *const *items, const int *days,
                           const double *v, size_t n) {
    tsl_store_ingest *in = NULL;
    tsl_store_receipt r;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_ingest_begin(f->s, "sales", NULL, 0, NULL, &in, &d)) fail_msg("%s", d.msg);
    for (size_t i = 0; i < n; i++) {
        tsl_csv_row row = {items[i], strlen(items[i]), (int64_t)days[i] * 86400, v[i], NULL, NULL,
                           i + 2};
        if (tsl_store_ingest_add(in, &row, &d)) fail_msg("%s", d.msg);
    }
    if (tsl_store_ingest_end(in, &r, &d)) fail_msg("%s", d.msg);
    int64_t id = r.ingest_id;
    tsl_store_receipt_release(&r);
    return id;
}

int64_t tu_store_register(struct tsl_store *s, const char *fc, int st) {
    tsl_store_model_new m;
    memset(&m, 0, sizeof m);
    m.forecaster = fc;
    m.artifact = "blob";
    m.artifact_len = 4;
    m.status = (tsl_model_status)st;
    m.who = "test";
    m.why = "test";
    int64_t id = 0;
    int version = 0;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_model_register(s, &m, &id, &version, &d)) fail_msg("register: %s", d.msg);
    return id;
}

int tu_alarm_state(struct tsl_store *s, const char *monitor) {
    tsl_store_alarm a = {0};
    int found = 0;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_alarm_get(s, monitor, &a, &found, &d)) fail_msg("alarm %s: %s", monitor, d.msg);
    int v = found ? (int)a.state.value : (int)TSL_ALARM_INSUFFICIENT_DATA;
    tsl_store_alarm_release(&a);
    return v;
}

int tu_config_parse(const char *text, struct tsl_config **cfg, char *msg, size_t cap) {
    tsl_diag d = {TSL_OK, {0}};
    tsl_err err = tsl_config_parse(text, strlen(text), "t.yaml", NULL, cfg, &d);
    snprintf(msg, cap, "%s", d.msg);
    return (int)err;
}

void tu_config_refuses(const tu_config_case *cases, size_t n) {
    char msg[512];
    for (size_t i = 0; i < n; i++) {
        tsl_config *cfg = NULL;
        if (tu_config_parse(cases[i].yaml, &cfg, msg, sizeof msg) == TSL_OK)
            fail_msg("case %zu: accepted, expected '%s'", i, cases[i].want);
        if (!strstr(msg, cases[i].want))
            fail_msg("case %zu: '%s' lacks '%s'", i, msg, cases[i].want);
        tsl_config_free(cfg);
    }
}
