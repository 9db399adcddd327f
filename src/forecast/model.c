/*
 * model.c - the common half of every model: argument checks, the missing-value and
 * non-negativity policies, quantile post-processing, calibration, and the serialized envelope.
 *
 * The envelope (all integers little endian):
 *
 *     "TSLM"  u16 envelope version  u16 kind  u16 state version  u16 flags (0)
 *     spec:   u8 count, count x (u8 tag, i32 value) (see spec_save)
 *     i32 period  u64 nobs  u8 nonneg  f64 aicc  str name
 *     u8 calibration mode (0 none, 1 offsets, 2 scales)
 *        [u32 steps  u32 nq  f64 levels[nq]  f64 values[steps*nq]]
 *     u8 has-zero-runs [u64 zeros  u64 observed  u32 run[period]]
 *     u32 state length  state bytes (the model's own save)
 *     u32 CRC-32 of every byte before it
 *
 * Structural zeros. A non-negative seasonal series whose value at some season position has
 * been exactly zero for many cycles in a row (the night hours of solar output, a shop's closed
 * day) will almost surely be zero there again, yet models with additive errors put a band around
 * it. So every model forecasts exactly zero, with all its quantiles, at such positions. How many
 * cycles is "many" depends on how common zeros are: on intermittent demand with 70% zeros, eight
 * zero cycles at one position happen by chance 6% of the time, so the run must be long enough
 * that chance would produce it with probability below 1e-3 given the series' share of zeros z
 * (log(1e-3) / log(z) cycles: 10 for solar's z = 0.5, 20 for z = 0.7), and never fewer than
 * TSL_ZERO_CYCLES. The run lengths and counts are advanced by fit and update, so the rule
 * follows the data: a position that turns positive leaves the mask at once. It costs one
 * counter per season position; it is off for series that were ever negative, for non-seasonal
 * ones, and before TSL_ZERO_CYCLES cycles.
 *
 * A reader refuses a blob whose checksum, magic, envelope version or lengths do not check out
 * before any model code sees it; the model's load then validates its own fields, because a
 * model blob is input like any other file.
 */
#include "model_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arima.h"
#include "ets.h"
#include "tsloop/mem.h"

#define ENVELOPE_VERSION 1
#define MAX_PERIOD       100000
#define MAX_HORIZON      1000000
#define MAX_LEVELS       1000
#define MAX_CALIB_STEPS  100000

static const tsl_model_ops *ops_for(tsl_model_kind kind) {
    switch (kind) {
    case TSL_MODEL_NAIVE:
        return &tsl_naive_ops;
    case TSL_MODEL_SNAIVE:
        return &tsl_snaive_ops;
    case TSL_MODEL_MEAN:
        return &tsl_mean_ops;
    case TSL_MODEL_DRIFT:
        return &tsl_drift_ops;
    case TSL_MODEL_MA:
        return &tsl_ma_ops;
    case TSL_MODEL_ETS:
        return &tsl_ets_ops;
    case TSL_MODEL_THETA:
        return &tsl_theta_ops;
    case TSL_MODEL_OTM:
        return &tsl_otm_ops;
    case TSL_MODEL_DOTM:
        return &tsl_dotm_ops;
    case TSL_MODEL_CROSTON:
        return &tsl_croston_ops;
    case TSL_MODEL_SBA:
        return &tsl_sba_ops;
    case TSL_MODEL_TSB:
        return &tsl_tsb_ops;
    case TSL_MODEL_MSTL:
        return &tsl_mstl_ops;
    case TSL_MODEL_GBM:
        return &tsl_gbm_ops;
    case TSL_MODEL_ARIMA:
        return &tsl_arima_ops;
    case TSL_MODEL_ENSEMBLE:
        return &tsl_ensemble_ops;
    default:
        break;
    }
    return NULL;
}

static const struct {
    tsl_model_kind kind;
    const char *name;
} kind_names[] = {
    {TSL_MODEL_NAIVE, "naive"},       {TSL_MODEL_SNAIVE, "snaive"}, {TSL_MODEL_MEAN, "mean"},
    {TSL_MODEL_DRIFT, "drift"},       {TSL_MODEL_MA, "ma"},         {TSL_MODEL_ETS, "ets"},
    {TSL_MODEL_THETA, "theta"},       {TSL_MODEL_OTM, "otm"},       {TSL_MODEL_DOTM, "dotm"},
    {TSL_MODEL_CROSTON, "croston"},   {TSL_MODEL_SBA, "sba"},       {TSL_MODEL_TSB, "tsb"},
    {TSL_MODEL_MSTL, "mstl"},         {TSL_MODEL_GBM, "gbm"},       {TSL_MODEL_ARIMA, "arima"},
    {TSL_MODEL_ENSEMBLE, "ensemble"},
};

/* The models MSTL may fit to the seasonally adjusted series ("mstl:theta"); ARIMA is named here
 * so that the spec parses and round-trips even in a build without it (fitting then fails with
 * "unknown model kind"). */
static const struct {
    tsl_model_kind kind;
    const char *name;
} mstl_bases[] = {
    {TSL_MODEL_ETS, "ets"},     {TSL_MODEL_THETA, "theta"}, {TSL_MODEL_OTM, "otm"},
    {TSL_MODEL_DOTM, "dotm"},   {TSL_MODEL_ARIMA, "arima"}, {TSL_MODEL_NAIVE, "naive"},
    {TSL_MODEL_DRIFT, "drift"},
};

/* The name of an MSTL base kind, or NULL when the kind cannot be one. */
static const char *mstl_base_name(tsl_model_kind kind) {
    for (size_t i = 0; i < sizeof mstl_bases / sizeof mstl_bases[0]; i++)
        if (mstl_bases[i].kind == kind) return mstl_bases[i].name;
    return NULL;
}

const char *tsl_model_kind_name(tsl_model_kind kind) {
    for (size_t i = 0; i < sizeof kind_names / sizeof kind_names[0]; i++)
        if (kind_names[i].kind == kind) return kind_names[i].name;
    return "unknown";
}

void tsl_model_spec_init(tsl_model_spec *spec, tsl_model_kind kind, int period) {
    memset(spec, 0, sizeof *spec);
    spec->kind = kind;
    spec->period = period < 1 ? 1 : period;
    spec->ets_error = 'Z';
    spec->ets_trend = 'Z';
    spec->ets_season = 'Z';
    spec->ets_damped = -1;
    spec->ets_allow_mult_trend = 0;
    spec->window = 0;
    spec->arima_p = spec->arima_d = spec->arima_q = -1;
    spec->arima_P = spec->arima_D = spec->arima_Q = -1;
    spec->arima_constant = -1;
    spec->arima_stepwise = 1;
    spec->nperiods = 0;
    spec->base = TSL_MODEL_ETS;
}

/*
 * The ARIMA spec grammar (docs/models/arima.md):
 *     arima[:[(p,d,q)[(P,D,Q)]][+const|-const][+exhaustive]]
 * each order a number or '?' (chosen by the search); a missing seasonal group means (0,0,0),
 * no groups at all means every order is chosen. +const includes the constant (a mean when
 * d + D = 0, a drift when d + D = 1; +mean and +drift are accepted as its synonyms), -const
 * leaves it out; without either the search chooses. +exhaustive searches every model instead
 * of stepping (auto.arima(stepwise = FALSE)).
 */
/* Appends one order group "(a,b,c)" with '?' for -1; returns the new length. */
static size_t put_group(char *buf, size_t cap, size_t len, int a, int b, int c) {
    const int v[3] = {a, b, c};
    char part[48];
    size_t k = 0;
    part[k++] = '(';
    for (int i = 0; i < 3; i++) {
        if (i) part[k++] = ',';
        if (v[i] < 0)
            part[k++] = '?';
        else
            k += (size_t)snprintf(part + k, sizeof part - k, "%d", v[i]);
    }
    part[k++] = ')';
    part[k] = '\0';
    int n = snprintf(len < cap ? buf + len : NULL, len < cap ? cap - len : 0, "%s", part);
    return len + (n < 0 ? 0 : (size_t)n);
}

/* The canonical text of an ARIMA spec (see the grammar above); as snprintf. */
static size_t format_arima(const tsl_model_spec *s, char *buf, size_t cap) {
    int any = s->arima_p >= 0 || s->arima_d >= 0 || s->arima_q >= 0 || s->arima_P >= 0 ||
              s->arima_D >= 0 || s->arima_Q >= 0;
    int n = snprintf(buf, cap, "arima");
    size_t len = n < 0 ? 0 : (size_t)n;
    if (!any && s->arima_constant < 0 && s->arima_stepwise) return len;
    len += (size_t)snprintf(len < cap ? buf + len : NULL, len < cap ? cap - len : 0, ":");
    if (any) {
        len = put_group(buf, cap, len, s->arima_p, s->arima_d, s->arima_q);
        if (s->arima_P != 0 || s->arima_D != 0 || s->arima_Q != 0)
            len = put_group(buf, cap, len, s->arima_P, s->arima_D, s->arima_Q);
    }
    const char *flags[2] = {s->arima_constant == 1   ? "+const"
                            : s->arima_constant == 0 ? "-const"
                                                     : "",
                            s->arima_stepwise ? "" : "+exhaustive"};
    for (int i = 0; i < 2; i++) {
        n = snprintf(len < cap ? buf + len : NULL, len < cap ? cap - len : 0, "%s", flags[i]);
        len += n < 0 ? 0 : (size_t)n;
    }
    return len;
}

size_t tsl_model_spec_format(const tsl_model_spec *s, char *buf, size_t cap) {
    const char *base = tsl_model_kind_name(s->kind);
    int n;
    if (s->kind == TSL_MODEL_ETS &&
        (s->ets_error != 'Z' || s->ets_trend != 'Z' || s->ets_season != 'Z' || s->ets_damped == 1))
        n = snprintf(buf, cap, "%s:%c%c%s%c", base, s->ets_error, s->ets_trend,
                     s->ets_damped == 1 ? "d" : "", s->ets_season);
    else if (s->kind == TSL_MODEL_MA && s->window > 0)
        n = snprintf(buf, cap, "%s:%d", base, s->window);
    else if (s->kind == TSL_MODEL_MSTL && s->base != TSL_MODEL_ETS && mstl_base_name(s->base))
        n = snprintf(buf, cap, "%s:%s", base, mstl_base_name(s->base));
    else if (s->kind == TSL_MODEL_ARIMA)
        return format_arima(s, buf, cap);
    else
        n = snprintf(buf, cap, "%s", base);
    return n < 0 ? 0 : (size_t)n;
}

/* Parses the ETS form after "ets:": error, trend, optional 'd', season ("MAdN", "ZZZ"). */
static tsl_err parse_ets_form(const char *form, tsl_model_spec *spec, tsl_diag *d) {
    const char *p = form;
    char e = *p ? *p++ : 0;
    char t = *p ? *p++ : 0;
    int damped = spec->ets_damped;
    if (*p == 'd') {
        damped = 1;
        p++;
    } else if (t == 'A' || t == 'M') {
        damped = 0;
    }
    char s = *p ? *p++ : 0;
    if (*p || !strchr("AMZ", e ? e : '?') || !strchr("NAMZ", t ? t : '?') ||
        !strchr("NAMZ", s ? s : '?'))
        return tsl_diag_set(d, TSL_EINVAL,
                            "bad ETS form '%s': expected error A|M|Z, trend N|A|Ad|M|Md|Z, "
                            "season N|A|M|Z, e.g. 'ets:MAdN'",
                            form);
    spec->ets_error = e;
    spec->ets_trend = t;
    spec->ets_season = s;
    spec->ets_damped = damped;
    if (t == 'M') spec->ets_allow_mult_trend = 1;
    return TSL_OK;
}

/* Reads one order group "(a,b,c)" at *pp into v (-1 for '?'), each at most max[i]; returns 0
 * and advances *pp on success. */
static int read_group(const char **pp, int v[3], const int max[3]) {
    const char *p = *pp;
    if (*p++ != '(') return 1;
    for (int i = 0; i < 3; i++) {
        if (i && *p++ != ',') return 1;
        if (*p == '?') {
            v[i] = -1;
            p++;
            continue;
        }
        char *end = NULL;
        long x = strtol(p, &end, 10);
        if (end == p || *p == '-' || *p == '+' || x > max[i]) return 1;
        v[i] = (int)x;
        p = end;
    }
    if (*p++ != ')') return 1;
    *pp = p;
    return 0;
}

/* Parses the ARIMA form after "arima:" (the grammar above format_arima). */
static tsl_err parse_arima_form(const char *form, int period, tsl_model_spec *spec, tsl_diag *d) {
    const char *p = form;
    static const int nmax[3] = {TSL_ARIMA_MAX_P, TSL_ARIMA_MAX_D, TSL_ARIMA_MAX_P};
    static const int smax[3] = {TSL_ARIMA_MAX_SP, TSL_ARIMA_MAX_D, TSL_ARIMA_MAX_SP};
    int ns[3] = {-1, -1, -1}, ss[3] = {-1, -1, -1};
    int want_dd = -1; /* +mean: d + D must be 0; +drift: 1 */
    if (*p == '(') {
        if (read_group(&p, ns, nmax)) goto bad;
        ss[0] = ss[1] = ss[2] = 0;
        if (*p == '(' && read_group(&p, ss, smax)) goto bad;
    }
    while (*p) {
        static const struct {
            const char *flag;
            int constant, stepwise, dd;
        } flags[] = {{"+const", 1, -1, -1},     {"-const", 0, -1, -1}, {"+mean", 1, -1, 0},
                     {"+drift", 1, -1, 1},      {"-mean", 0, -1, -1},  {"-drift", 0, -1, -1},
                     {"+exhaustive", -1, 0, -1}};
        size_t i = 0, nf = sizeof flags / sizeof flags[0];
        while (i < nf && strncmp(p, flags[i].flag, strlen(flags[i].flag)) != 0) i++;
        if (i == nf) goto bad;
        p += strlen(flags[i].flag);
        if (flags[i].constant >= 0) spec->arima_constant = flags[i].constant;
        if (flags[i].stepwise >= 0) spec->arima_stepwise = flags[i].stepwise;
        if (flags[i].dd >= 0) want_dd = flags[i].dd;
    }
    if (period < 2 && (ss[0] > 0 || ss[1] > 0 || ss[2] > 0))
        return tsl_diag_set(d, TSL_EINVAL,
                            "ARIMA form '%s': a seasonal part needs a seasonal period above 1 "
                            "(--season-length)",
                            form);
    if (period < 2)
        for (int i = 0; i < 3; i++) ss[i] = ss[i] < 0 ? 0 : ss[i];
    if (ns[1] >= 0 && ss[1] >= 0) {
        int dd = ns[1] + ss[1];
        if (spec->arima_constant == 1 && dd > 1)
            return tsl_diag_set(d, TSL_EINVAL,
                                "ARIMA form '%s': a constant (mean or drift) needs d + D <= 1",
                                form);
        if (want_dd >= 0 && dd != want_dd)
            return tsl_diag_set(d, TSL_EINVAL, "ARIMA form '%s': %s needs d + D = %d", form,
                                want_dd ? "a drift" : "a mean", want_dd);
    }
    spec->arima_p = ns[0], spec->arima_d = ns[1], spec->arima_q = ns[2];
    spec->arima_P = ss[0], spec->arima_D = ss[1], spec->arima_Q = ss[2];
    return TSL_OK;
bad:
    return tsl_diag_set(d, TSL_EINVAL,
                        "bad ARIMA form '%s': expected (p,d,q), optionally (P,D,Q), each order a "
                        "number or '?' (p, q <= %d, P, Q <= %d, d, D <= %d), then +const, -const "
                        "or +exhaustive, e.g. 'arima:(0,1,1)(0,1,1)' or 'arima:(?,1,?)+const'",
                        form, TSL_ARIMA_MAX_P, TSL_ARIMA_MAX_SP, TSL_ARIMA_MAX_D);
}

tsl_err tsl_model_spec_parse(const char *name, int period, tsl_model_spec *spec, tsl_diag *d) {
    char base[32];
    const char *colon = strchr(name, ':');
    size_t blen = colon ? (size_t)(colon - name) : strlen(name);
    if (blen == 0 || blen >= sizeof base)
        return tsl_diag_set(d, TSL_EINVAL, "unknown model '%s'", name);
    memcpy(base, name, blen);
    base[blen] = '\0';
    for (size_t i = 0; i < sizeof kind_names / sizeof kind_names[0]; i++) {
        if (strcmp(kind_names[i].name, base) != 0 || kind_names[i].kind == TSL_MODEL_ENSEMBLE)
            continue;
        tsl_model_spec_init(spec, kind_names[i].kind, period);
        if (!colon) return TSL_OK;
        const char *arg = colon + 1;
        if (spec->kind == TSL_MODEL_ETS) return parse_ets_form(arg, spec, d);
        if (spec->kind == TSL_MODEL_ARIMA) return parse_arima_form(arg, period, spec, d);
        if (spec->kind == TSL_MODEL_MA) {
            char *end = NULL;
            long w = strtol(arg, &end, 10);
            if (end == arg || *end || w < 1 || w > MAX_PERIOD)
                return tsl_diag_set(d, TSL_EINVAL,
                                    "bad moving-average window in '%s': expected an integer "
                                    "from 1 to %d",
                                    name, MAX_PERIOD);
            spec->window = (int)w;
            return TSL_OK;
        }
        if (spec->kind == TSL_MODEL_MSTL) {
            for (size_t k = 0; k < sizeof mstl_bases / sizeof mstl_bases[0]; k++)
                if (!strcmp(arg, mstl_bases[k].name)) {
                    spec->base = mstl_bases[k].kind;
                    return TSL_OK;
                }
            return tsl_diag_set(d, TSL_EINVAL,
                                "bad MSTL base model in '%s': expected one of ets, theta, otm, "
                                "dotm, arima, naive, drift",
                                name);
        }
        return tsl_diag_set(d, TSL_EINVAL, "model '%s' takes no argument (got '%s')", base, arg);
    }
    return tsl_diag_set(d, TSL_EINVAL,
                        "unknown model '%s': expected one of naive, snaive, mean, drift, ma, "
                        "ets, theta, otm, dotm, croston, sba, tsb, arima, mstl, gbm",
                        name);
}

/* 1 when every ARIMA field of the spec is in its range (-1 = choose). */
static int arima_spec_ok(const tsl_model_spec *s) {
    return s->arima_p >= -1 && s->arima_p <= TSL_ARIMA_MAX_P && s->arima_q >= -1 &&
           s->arima_q <= TSL_ARIMA_MAX_P && s->arima_d >= -1 && s->arima_d <= TSL_ARIMA_MAX_D &&
           s->arima_P >= -1 && s->arima_P <= TSL_ARIMA_MAX_SP && s->arima_Q >= -1 &&
           s->arima_Q <= TSL_ARIMA_MAX_SP && s->arima_D >= -1 && s->arima_D <= TSL_ARIMA_MAX_D &&
           s->arima_constant >= -1 && s->arima_constant <= 1 && s->arima_stepwise >= 0 &&
           s->arima_stepwise <= 1;
}

static tsl_err check_spec(const tsl_model_spec *spec, tsl_diag *d) {
    if (!spec || !ops_for(spec->kind) || spec->kind == TSL_MODEL_ENSEMBLE)
        return tsl_diag_set(d, TSL_EINVAL, "unknown model kind %d", spec ? (int)spec->kind : -1);
    if (spec->period < 1 || spec->period > MAX_PERIOD)
        return tsl_diag_set(d, TSL_EINVAL, "seasonal period %d out of range 1..%d", spec->period,
                            MAX_PERIOD);
    if (spec->window < 0 || spec->window > MAX_PERIOD)
        return tsl_diag_set(d, TSL_EINVAL, "window %d out of range 0..%d", spec->window,
                            MAX_PERIOD);
    if (spec->kind == TSL_MODEL_ARIMA && !arima_spec_ok(spec))
        return tsl_diag_set(d, TSL_EINVAL,
                            "ARIMA orders out of range: p, q in -1..%d, P, Q in -1..%d, d, D in "
                            "-1..%d (-1 = choose), constant and stepwise -1, 0 or 1",
                            TSL_ARIMA_MAX_P, TSL_ARIMA_MAX_SP, TSL_ARIMA_MAX_D);
    if (spec->kind != TSL_MODEL_MSTL) return TSL_OK;
    if (spec->nperiods < 0 || spec->nperiods > TSL_MAX_PERIODS)
        return tsl_diag_set(d, TSL_EINVAL, "%d seasonal periods; MSTL takes 0..%d", spec->nperiods,
                            TSL_MAX_PERIODS);
    for (int i = 0; i < spec->nperiods; i++)
        if (spec->periods[i] < 2 || spec->periods[i] > MAX_PERIOD ||
            (i && spec->periods[i] <= spec->periods[i - 1]))
            return tsl_diag_set(d, TSL_EINVAL,
                                "MSTL seasonal period %d: expected distinct periods in "
                                "ascending order, each from 2 to %d",
                                spec->periods[i], MAX_PERIOD);
    if (!mstl_base_name(spec->base) || !ops_for(spec->base))
        return tsl_diag_set(d, TSL_EINVAL, "unknown model kind %d for the MSTL base",
                            (int)spec->base);
    return TSL_OK;
}

static tsl_model *model_new(const tsl_model_ops *ops) {
    tsl_model *m = tsl_calloc(1, sizeof *m);
    m->ops = ops;
    m->aicc = NAN;
    return m;
}

static void calib_free(tsl_calib *c) {
    if (!c) return;
    tsl_free(c->levels);
    tsl_free(c->values);
    tsl_free(c);
}

void tsl_model_free(tsl_model *m) {
    if (!m) return;
    if (m->state && m->ops->free_state) m->ops->free_state(m->state);
    calib_free(m->calib);
    tsl_free(m->zero_run);
    tsl_free(m);
}

int tsl_zero_runs(const double *y, size_t n, int period, uint32_t *run, uint64_t *zeros,
                  uint64_t *observed) {
    if (period < 2 || n / (size_t)period < TSL_ZERO_CYCLES) return 0;
    for (size_t i = 0; i < n; i++)
        if (y[i] < 0) return 0;
    memset(run, 0, (size_t)period * sizeof *run);
    *zeros = *observed = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(y[i])) continue;
        size_t p = i % (size_t)period;
        run[p] = y[i] == 0.0 ? run[p] + (run[p] < UINT32_MAX) : 0;
        *zeros += y[i] == 0.0;
        (*observed)++;
    }
    return 1;
}

uint64_t tsl_zero_cycles_needed(uint64_t zeros, uint64_t observed) {
    if (observed == 0 || zeros >= observed) return UINT64_MAX;
    double z = (double)zeros / (double)observed;
    double need = z > 0 ? ceil(log(1e-3) / log(z)) : 0;
    return need > TSL_ZERO_CYCLES ? (uint64_t)need : TSL_ZERO_CYCLES;
}

tsl_err tsl_model_fit(const tsl_model_spec *spec, const double *y, size_t n, tsl_model **out,
                      tsl_diag *d) {
    tsl_model *m = NULL;
    tsl_err rc = check_spec(spec, d);
    *out = NULL;
    if (rc) goto out;
    size_t first = 0;
    while (first < n && isnan(y[first])) first++;
    if (first == n) {
        rc = tsl_diag_set(d, TSL_ESHORT, "the series has no observed value");
        goto out;
    }
    int nonneg = 1;
    for (size_t i = first; i < n; i++) {
        if (isinf(y[i])) {
            rc = tsl_diag_set(d, TSL_EINVAL, "value %zu is infinite", i + 1);
            goto out;
        }
        if (y[i] < 0) nonneg = 0;
    }
    m = model_new(ops_for(spec->kind));
    m->spec = *spec;
    m->period = spec->period;
    m->nonneg = nonneg;
    rc = m->ops->fit(m, y + first, n - first, d);
    if (rc) goto out;
    m->zero_run = tsl_malloc((size_t)m->period * sizeof *m->zero_run);
    if (!tsl_zero_runs(y + first, n - first, m->period, m->zero_run, &m->zero_seen, &m->obs_seen)) {
        tsl_free(m->zero_run);
        m->zero_run = NULL;
    }
    m->nobs = n - first;
    if (!m->name[0]) tsl_strlcpy(m->name, tsl_model_kind_name(spec->kind), sizeof m->name);
    *out = m;
    m = NULL;
out:
    tsl_model_free(m);
    return rc;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void tsl_sort_doubles(double *x, size_t n) {
    qsort(x, n, sizeof *x, cmp_double);
}

/* The calibration's value at `step` for an arbitrary level, interpolated linearly in level.
 * Offsets extrapolate linearly past the outermost levels and grow as sqrt(step) past the last
 * step; scales stay at the outermost level's and the last step's value. */
static double calib_value(const tsl_calib *c, size_t step, double level) {
    int offsets = c->mode == TSL_CALIB_OFFSETS;
    size_t s = step < c->steps ? step : c->steps - 1;
    double growth = offsets && step >= c->steps ? sqrt((double)(step + 1) / (double)c->steps) : 1;
    const double *row = c->values + s * c->nq;
    if (c->nq == 1) return row[0] * growth;
    if (!offsets) {
        if (level <= c->levels[0]) return row[0];
        if (level >= c->levels[c->nq - 1]) return row[c->nq - 1];
    }
    size_t j = 1;
    while (j < c->nq - 1 && c->levels[j] < level) j++;
    double l0 = c->levels[j - 1], l1 = c->levels[j];
    double w = (level - l0) / (l1 - l0);
    return (row[j - 1] + w * (row[j] - row[j - 1])) * growth;
}

tsl_err tsl_quantile_levels_check(const double *levels, size_t nq, size_t max, tsl_diag *d) {
    if (nq > max) return tsl_diag_set(d, TSL_ELIMIT, "%zu quantile levels; at most %zu", nq, max);
    for (size_t j = 0; j < nq; j++) {
        if (!(levels[j] > 0.0 && levels[j] < 1.0))
            return tsl_diag_set(d, TSL_EINVAL, "quantile level %g is not in (0, 1)", levels[j]);
        if (j && !(levels[j] > levels[j - 1]))
            return tsl_diag_set(d, TSL_EINVAL, "quantile levels must be strictly increasing");
    }
    return TSL_OK;
}

static tsl_err check_levels(const double *levels, size_t nq, tsl_diag *d) {
    return tsl_quantile_levels_check(levels, nq, MAX_LEVELS, d);
}

tsl_err tsl_model_forecast(const tsl_model *m, size_t h, const double *levels, size_t nq,
                           double *mean, double *quant, tsl_diag *d) {
    if (h < 1 || h > MAX_HORIZON)
        return tsl_diag_set(d, TSL_EINVAL, "horizon %zu out of range 1..%d", h, MAX_HORIZON);
    tsl_err rc = check_levels(levels, nq, d);
    if (rc) return rc;
    if (nq > 0 && !quant) return tsl_diag_set(d, TSL_EINVAL, "quantile output is missing");
    if (m->calib && m->calib->mode == TSL_CALIB_OFFSETS) {
        rc = m->ops->forecast(m, h, NULL, 0, mean, NULL, d);
        if (rc) return rc;
        for (size_t s = 0; s < h; s++)
            for (size_t j = 0; j < nq; j++)
                quant[s * nq + j] = mean[s] + calib_value(m->calib, s, levels[j]);
    } else if (m->calib) {
        rc = m->ops->forecast(m, h, levels, nq, mean, quant, d);
        if (rc) return rc;
        for (size_t s = 0; s < h; s++)
            for (size_t j = 0; j < nq; j++)
                quant[s * nq + j] =
                    mean[s] + calib_value(m->calib, s, levels[j]) * (quant[s * nq + j] - mean[s]);
    } else {
        rc = m->ops->forecast(m, h, levels, nq, mean, quant, d);
        if (rc) return rc;
    }
    uint64_t zneed = m->zero_run ? tsl_zero_cycles_needed(m->zero_seen, m->obs_seen) : 0;
    for (size_t s = 0; s < h; s++) {
        if (m->zero_run && m->zero_run[(m->nobs + s) % (uint64_t)m->period] >= zneed) {
            mean[s] = 0;
            for (size_t j = 0; j < nq; j++) quant[s * nq + j] = 0;
            continue;
        }
        if (!isfinite(mean[s]))
            return tsl_diag_set(d, TSL_ENUMERIC, "%s produced a non-finite forecast at step %zu",
                                m->name, s + 1);
        if (m->nonneg && mean[s] < 0) mean[s] = 0;
        double *row = quant ? quant + s * nq : NULL;
        for (size_t j = 0; j < nq; j++) {
            if (!isfinite(row[j]))
                return tsl_diag_set(d, TSL_ENUMERIC,
                                    "%s produced a non-finite quantile at step %zu", m->name,
                                    s + 1);
            if (m->nonneg && row[j] < 0) row[j] = 0;
        }
        if (nq > 1) tsl_sort_doubles(row, nq);
    }
    return TSL_OK;
}

tsl_err tsl_model_update(tsl_model *m, const double *y, size_t n, double *err1, tsl_diag *d) {
    for (size_t i = 0; i < n; i++)
        if (isinf(y[i])) return tsl_diag_set(d, TSL_EINVAL, "value %zu is infinite", i + 1);
    if (n == 0) return TSL_OK;
    tsl_err rc = m->ops->update(m, y, n, err1, d);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) {
        if (y[i] < 0) m->nonneg = 0;
        if (!m->zero_run || isnan(y[i])) continue;
        uint32_t *r = &m->zero_run[(m->nobs + i) % (uint64_t)m->period];
        *r = y[i] == 0.0 ? *r + (*r < UINT32_MAX) : 0;
        m->zero_seen += y[i] == 0.0;
        m->obs_seen++;
    }
    if (!m->nonneg) {
        tsl_free(m->zero_run);
        m->zero_run = NULL;
    }
    m->nobs += n;
    return TSL_OK;
}

/* Installs a calibration of the given mode after checking it. */
static tsl_err set_calib(tsl_model *m, int mode, size_t steps, const double *levels, size_t nq,
                         const double *values, tsl_diag *d) {
    if (steps < 1 || steps > MAX_CALIB_STEPS || nq < 1)
        return tsl_diag_set(d, TSL_EINVAL, "calibration needs 1..%d steps and at least 1 level",
                            MAX_CALIB_STEPS);
    tsl_err rc = check_levels(levels, nq, d);
    if (rc) return rc;
    for (size_t i = 0; i < steps * nq; i++) {
        if (!isfinite(values[i]))
            return tsl_diag_set(d, TSL_EINVAL, "calibration value %zu is not finite", i);
        if (mode == TSL_CALIB_SCALES && !(values[i] > 0))
            return tsl_diag_set(d, TSL_EINVAL, "interval scale %zu is not positive", i);
    }
    tsl_calib *c = tsl_calloc(1, sizeof *c);
    c->mode = mode;
    c->steps = steps;
    c->nq = nq;
    c->levels = tsl_malloc(nq * sizeof *c->levels);
    c->values = tsl_reallocarray(NULL, steps * nq, sizeof *c->values);
    memcpy(c->levels, levels, nq * sizeof *levels);
    memcpy(c->values, values, steps * nq * sizeof *values);
    calib_free(m->calib);
    m->calib = c;
    return TSL_OK;
}

tsl_err tsl_model_set_calibration(tsl_model *m, size_t steps, const double *levels, size_t nq,
                                  const double *offsets, tsl_diag *d) {
    return set_calib(m, TSL_CALIB_OFFSETS, steps, levels, nq, offsets, d);
}

tsl_err tsl_model_set_interval_scale(tsl_model *m, size_t steps, const double *levels, size_t nq,
                                     const double *scales, tsl_diag *d) {
    return set_calib(m, TSL_CALIB_SCALES, steps, levels, nq, scales, d);
}

int tsl_model_is_calibrated(const tsl_model *m) {
    return m->calib != NULL;
}

/*
 * The spec travels as a tagged list, so that new fields (a new model's options) extend the
 * format without a new envelope version: u8 count, then count x (u8 tag, i32 value). A reader
 * refuses tags it does not know, since a spec it cannot represent would fit something else.
 */
enum {
    SPEC_PERIOD = 1,
    SPEC_ETS_ERROR,
    SPEC_ETS_TREND,
    SPEC_ETS_SEASON,
    SPEC_ETS_DAMPED,
    SPEC_ETS_MULT_TREND,
    SPEC_WINDOW,
    SPEC_ARIMA_P = 16,
    SPEC_ARIMA_D,
    SPEC_ARIMA_Q,
    SPEC_ARIMA_SP,
    SPEC_ARIMA_SD,
    SPEC_ARIMA_SQ,
    SPEC_ARIMA_CONSTANT,
    SPEC_ARIMA_STEPWISE,
    SPEC_NPERIODS = 32,
    SPEC_PERIOD0, /* SPEC_PERIOD0 + i: periods[i] */
    SPEC_BASE = SPEC_PERIOD0 + TSL_MAX_PERIODS,
    SPEC_TAG_END
};

/* The address of the field a tag stands for (NULL for none). */
static int *spec_field(tsl_model_spec *s, int tag) {
    switch (tag) {
    case SPEC_PERIOD:
        return &s->period;
    case SPEC_ETS_DAMPED:
        return &s->ets_damped;
    case SPEC_ETS_MULT_TREND:
        return &s->ets_allow_mult_trend;
    case SPEC_WINDOW:
        return &s->window;
    case SPEC_ARIMA_P:
        return &s->arima_p;
    case SPEC_ARIMA_D:
        return &s->arima_d;
    case SPEC_ARIMA_Q:
        return &s->arima_q;
    case SPEC_ARIMA_SP:
        return &s->arima_P;
    case SPEC_ARIMA_SD:
        return &s->arima_D;
    case SPEC_ARIMA_SQ:
        return &s->arima_Q;
    case SPEC_ARIMA_CONSTANT:
        return &s->arima_constant;
    case SPEC_ARIMA_STEPWISE:
        return &s->arima_stepwise;
    case SPEC_NPERIODS:
        return &s->nperiods;
    default:
        break;
    }
    if (tag >= SPEC_PERIOD0 && tag < SPEC_PERIOD0 + TSL_MAX_PERIODS)
        return &s->periods[tag - SPEC_PERIOD0];
    return NULL;
}

static void spec_save(const tsl_model_spec *s, tsl_wbuf *w) {
    tsl_model_spec copy = *s;
    uint8_t count = 0;
    for (int tag = 1; tag < SPEC_TAG_END; tag++)
        count += spec_field(&copy, tag) || tag == SPEC_ETS_ERROR || tag == SPEC_ETS_TREND ||
                 tag == SPEC_ETS_SEASON || tag == SPEC_BASE;
    tsl_wbuf_put_u8(w, count);
    for (int tag = 1; tag < SPEC_TAG_END; tag++) {
        int v;
        const int *f = spec_field(&copy, tag);
        if (f)
            v = *f;
        else if (tag == SPEC_ETS_ERROR)
            v = s->ets_error;
        else if (tag == SPEC_ETS_TREND)
            v = s->ets_trend;
        else if (tag == SPEC_ETS_SEASON)
            v = s->ets_season;
        else if (tag == SPEC_BASE)
            v = (int)s->base;
        else
            continue;
        tsl_wbuf_put_u8(w, (uint8_t)tag);
        tsl_wbuf_put_i32(w, v);
    }
}

/* Reads spec_save's list into s (defaults first, for tags an older writer did not know);
 * returns non-zero on an unknown tag or a value out of range. */
static int spec_load(tsl_model_spec *s, tsl_model_kind kind, tsl_rbuf *r) {
    tsl_model_spec_init(s, kind, 1);
    unsigned count = tsl_rbuf_u8(r);
    for (unsigned i = 0; i < count; i++) {
        int tag = tsl_rbuf_u8(r);
        int32_t v = tsl_rbuf_i32(r);
        if (!tsl_rbuf_ok(r)) return 1;
        int *f = spec_field(s, tag);
        if (f)
            *f = v;
        else if (tag == SPEC_ETS_ERROR)
            s->ets_error = (char)v;
        else if (tag == SPEC_ETS_TREND)
            s->ets_trend = (char)v;
        else if (tag == SPEC_ETS_SEASON)
            s->ets_season = (char)v;
        else if (tag == SPEC_BASE)
            s->base = (tsl_model_kind)v;
        else
            return 1;
    }
    if (s->nperiods < 0 || s->nperiods > TSL_MAX_PERIODS) return 1;
    for (int i = 0; i < s->nperiods; i++)
        if (s->periods[i] < 1 || s->periods[i] > MAX_PERIOD) return 1;
    if (!ops_for(s->base) || s->base == TSL_MODEL_ENSEMBLE) return 1;
    return !tsl_rbuf_ok(r);
}

tsl_err tsl_model_save(const tsl_model *m, tsl_wbuf *out, tsl_diag *d) {
    (void)d;
    size_t start = out->len;
    tsl_wbuf_put(out, "TSLM", 4);
    tsl_wbuf_put_u16(out, ENVELOPE_VERSION);
    tsl_wbuf_put_u16(out, (uint16_t)m->ops->kind);
    tsl_wbuf_put_u16(out, m->ops->state_version);
    tsl_wbuf_put_u16(out, 0);
    spec_save(&m->spec, out);
    tsl_wbuf_put_i32(out, m->period);
    tsl_wbuf_put_u64(out, m->nobs);
    tsl_wbuf_put_u8(out, (uint8_t)m->nonneg);
    tsl_wbuf_put_f64(out, m->aicc);
    tsl_wbuf_put_str(out, m->name);
    tsl_wbuf_put_u8(out, m->calib ? (uint8_t)m->calib->mode : 0);
    if (m->calib) {
        tsl_wbuf_put_u32(out, (uint32_t)m->calib->steps);
        tsl_wbuf_put_u32(out, (uint32_t)m->calib->nq);
        tsl_wbuf_put_f64s(out, m->calib->levels, m->calib->nq);
        tsl_wbuf_put_f64s(out, m->calib->values, m->calib->steps * m->calib->nq);
    }
    tsl_wbuf_put_u8(out, m->zero_run ? 1 : 0);
    if (m->zero_run) {
        tsl_wbuf_put_u64(out, m->zero_seen);
        tsl_wbuf_put_u64(out, m->obs_seen);
        for (int p = 0; p < m->period; p++) tsl_wbuf_put_u32(out, m->zero_run[p]);
    }
    size_t len_at = out->len;
    tsl_wbuf_put_u32(out, 0);
    m->ops->save(m, out);
    size_t state_len = out->len - len_at - 4;
    for (int i = 0; i < 4; i++) out->data[len_at + i] = (uint8_t)(state_len >> (8 * i));
    tsl_wbuf_put_u32(out, tsl_crc32(0, out->data + start, out->len - start));
    return TSL_OK;
}

tsl_err tsl_model_load(const void *data, size_t len, tsl_model **out, tsl_diag *d) {
    tsl_model *m = NULL;
    tsl_err rc = TSL_OK;
    tsl_rbuf r;
    *out = NULL;
    if (len < 12 || memcmp(data, "TSLM", 4) != 0) {
        rc = tsl_diag_set(d, TSL_ECORRUPT, "not a tsloop model (bad magic)");
        goto out;
    }
    const uint8_t *bytes = data;
    uint32_t stored = (uint32_t)bytes[len - 4] | (uint32_t)bytes[len - 3] << 8 |
                      (uint32_t)bytes[len - 2] << 16 | (uint32_t)bytes[len - 1] << 24;
    if (tsl_crc32(0, data, len - 4) != stored) {
        rc = tsl_diag_set(d, TSL_ECORRUPT, "model checksum mismatch: the blob is damaged");
        goto out;
    }
    tsl_rbuf_init(&r, bytes + 4, len - 8);
    uint16_t env = tsl_rbuf_u16(&r);
    if (env != ENVELOPE_VERSION) {
        rc = tsl_diag_set(d, TSL_EVERSION, "model envelope version %u; this build reads %d", env,
                          ENVELOPE_VERSION);
        goto out;
    }
    uint16_t kind = tsl_rbuf_u16(&r);
    uint16_t state_version = tsl_rbuf_u16(&r);
    (void)tsl_rbuf_u16(&r);
    const tsl_model_ops *ops = ops_for((tsl_model_kind)kind);
    if (!ops) {
        rc = tsl_diag_set(d, TSL_EVERSION, "unknown model kind %u", kind);
        goto out;
    }
    if (state_version > ops->state_version) {
        rc = tsl_diag_set(d, TSL_EVERSION, "%s state version %u; this build reads up to %u",
                          tsl_model_kind_name(ops->kind), state_version, ops->state_version);
        goto out;
    }
    m = model_new(ops);
    if (spec_load(&m->spec, ops->kind, &r)) {
        rc = tsl_diag_set(d, TSL_ECORRUPT, "model spec is malformed");
        goto out;
    }
    m->period = tsl_rbuf_i32(&r);
    m->nobs = tsl_rbuf_u64(&r);
    m->nonneg = tsl_rbuf_u8(&r) ? 1 : 0;
    m->aicc = tsl_rbuf_f64(&r);
    tsl_rbuf_str(&r, m->name, sizeof m->name);
    uint8_t calib_mode = tsl_rbuf_u8(&r);
    if (calib_mode > TSL_CALIB_SCALES) {
        rc = tsl_diag_set(d, TSL_ECORRUPT, "unknown model calibration mode %u", calib_mode);
        goto out;
    }
    if (calib_mode) {
        uint32_t steps = tsl_rbuf_u32(&r), nq = tsl_rbuf_u32(&r);
        if (!tsl_rbuf_ok(&r) || steps < 1 || steps > MAX_CALIB_STEPS || nq < 1 || nq > MAX_LEVELS ||
            (uint64_t)steps * nq * 8 > tsl_rbuf_left(&r)) {
            rc = tsl_diag_set(d, TSL_ECORRUPT, "model calibration block is malformed");
            goto out;
        }
        double *levels = tsl_malloc(nq * sizeof *levels);
        double *values = tsl_reallocarray(NULL, (size_t)steps * nq, sizeof *values);
        tsl_rbuf_f64s(&r, levels, nq);
        tsl_rbuf_f64s(&r, values, (size_t)steps * nq);
        rc = set_calib(m, calib_mode, steps, levels, nq, values, d);
        tsl_free(levels);
        tsl_free(values);
        if (rc) {
            rc = tsl_diag_set(d, TSL_ECORRUPT, "model calibration is invalid");
            goto out;
        }
    }
    if (tsl_rbuf_u8(&r)) {
        if (m->period < 2 || m->period > MAX_PERIOD || (size_t)m->period > tsl_rbuf_left(&r) / 4) {
            rc = tsl_diag_set(d, TSL_ECORRUPT, "model structural-zero block is malformed");
            goto out;
        }
        m->zero_seen = tsl_rbuf_u64(&r);
        m->obs_seen = tsl_rbuf_u64(&r);
        m->zero_run = tsl_malloc((size_t)m->period * sizeof *m->zero_run);
        for (int p = 0; p < m->period; p++) m->zero_run[p] = tsl_rbuf_u32(&r);
        if (!m->nonneg || m->zero_seen > m->obs_seen) {
            rc = tsl_diag_set(d, TSL_ECORRUPT, "structural zeros on a series with negatives");
            goto out;
        }
    }
    uint32_t state_len = tsl_rbuf_u32(&r);
    if (!tsl_rbuf_ok(&r) || state_len != tsl_rbuf_left(&r) || m->period < 1 ||
        m->period > MAX_PERIOD || m->spec.period != m->period || m->spec.window < 0 ||
        m->spec.window > MAX_PERIOD || memchr(m->name, '\0', sizeof m->name) == NULL) {
        rc = tsl_diag_set(d, TSL_ECORRUPT, "model header is malformed");
        goto out;
    }
    tsl_rbuf sr;
    tsl_rbuf_init(&sr, tsl_rbuf_bytes(&r, state_len), state_len);
    rc = ops->load(m, &sr, state_version, d);
    if (rc) goto out;
    if (!tsl_rbuf_ok(&sr) || tsl_rbuf_left(&sr) != 0) {
        rc = tsl_diag_set(d, TSL_ECORRUPT, "%s state is malformed", tsl_model_kind_name(ops->kind));
        goto out;
    }
    *out = m;
    m = NULL;
out:
    tsl_model_free(m);
    return rc;
}

tsl_err tsl_model_clone(const tsl_model *m, tsl_model **out, tsl_diag *d) {
    tsl_wbuf b;
    tsl_wbuf_init(&b);
    tsl_err rc = tsl_model_save(m, &b, d);
    if (!rc) rc = tsl_model_load(b.data, b.len, out, d);
    tsl_wbuf_release(&b);
    return rc;
}

const char *tsl_model_name(const tsl_model *m) {
    return m->name;
}

tsl_model_kind tsl_model_kind_of(const tsl_model *m) {
    return m->ops->kind;
}

const tsl_model_spec *tsl_model_spec_of(const tsl_model *m) {
    return &m->spec;
}

void tsl_model_chosen_spec(const tsl_model *m, tsl_model_spec *out) {
    if (m->spec.kind == TSL_MODEL_ARIMA && m->state)
        tsl_arima_chosen_spec(m, out);
    else if (m->spec.kind == TSL_MODEL_ETS && m->state)
        tsl_ets_chosen_spec(m, out);
    else
        *out = m->spec;
}

uint64_t tsl_model_nobs(const tsl_model *m) {
    return m->nobs;
}

double tsl_model_aicc(const tsl_model *m) {
    return m->aicc;
}
