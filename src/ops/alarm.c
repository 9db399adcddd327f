/*
 * alarm.c - the CloudWatch alarm rule and the threshold policies (see tsloop/alarm.h, whose
 * header comment states the semantics case by case, and docs/monitoring.md).
 *
 * The rule is a pure function of (rule, the evaluation range, the previous state): it reads no
 * clock and keeps no history, so the daemon can re-evaluate after late or corrected data, and
 * a restart resumes from the persisted tsl_alarm_state alone. The subtle part is what the
 * CloudWatch guide says about missing data, implemented here as the header lays it out:
 * enough real datapoints decide alone; otherwise missing ones are filled as few times as
 * possible, by the configured treatment. "ignore" has no table of its own in the guide beyond
 * "the current alarm state is maintained", yet the guide's table shows it moving to OK when a
 * real good datapoint makes ALARM impossible; the reading that fits every cell is "change only
 * when the real datapoints decide whatever the missing ones are", which is what we do.
 *
 * The reason string lists the datapoints that decided, oldest first, with %.6g (enough to
 * recognise a metric value; the exact numbers are in the metric series).
 */
#include "tsloop/alarm.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tsloop/mem.h"

/* ---- names ---- */

static const char *const value_names[] = {"INSUFFICIENT_DATA", "OK", "ALARM"};
static const char *const op_names[] = {">", ">=", "<", "<="};
static const char *const op_cw_names[] = {"GreaterThanThreshold", "GreaterThanOrEqualToThreshold",
                                          "LessThanThreshold", "LessThanOrEqualToThreshold"};
static const char *const missing_names[] = {"missing", "breaching", "notBreaching", "ignore"};
static const char *const kind_names[] = {"fixed", "baseline", "best_approved"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const char *tsl_alarm_value_name(tsl_alarm_value v) {
    return (unsigned)v < COUNT(value_names) ? value_names[v] : "unknown";
}

const char *tsl_alarm_op_name(tsl_alarm_op op) {
    return (unsigned)op < COUNT(op_names) ? op_names[op] : "?";
}

const char *tsl_alarm_missing_name(tsl_alarm_missing m) {
    return (unsigned)m < COUNT(missing_names) ? missing_names[m] : "unknown";
}

const char *tsl_threshold_kind_name(tsl_threshold_kind k) {
    return (unsigned)k < COUNT(kind_names) ? kind_names[k] : "unknown";
}

/* Index of s in names (case-sensitive, or not when nocase), or -1. */
static int find_name(const char *s, const char *const *names, size_t n, int nocase) {
    for (size_t i = 0; i < n; i++)
        if (nocase ? !strcasecmp(s, names[i]) : !strcmp(s, names[i])) return (int)i;
    return -1;
}

tsl_err tsl_alarm_value_parse(const char *s, tsl_alarm_value *out, tsl_diag *d) {
    assert(s && out);
    int i = find_name(s, value_names, COUNT(value_names), 1);
    if (i < 0)
        return tsl_diag_set(d, TSL_EINVAL,
                            "alarm state '%s': expected OK, ALARM or INSUFFICIENT_DATA", s);
    *out = (tsl_alarm_value)i;
    return TSL_OK;
}

tsl_err tsl_alarm_op_parse(const char *s, tsl_alarm_op *out, tsl_diag *d) {
    assert(s && out);
    int i = find_name(s, op_names, COUNT(op_names), 0);
    if (i < 0) i = find_name(s, op_cw_names, COUNT(op_cw_names), 0);
    if (i < 0)
        return tsl_diag_set(d, TSL_EINVAL,
                            "comparison '%s': expected >, >=, <, <= (or GreaterThanThreshold, "
                            "GreaterThanOrEqualToThreshold, LessThanThreshold, "
                            "LessThanOrEqualToThreshold)",
                            s);
    *out = (tsl_alarm_op)i;
    return TSL_OK;
}

tsl_err tsl_alarm_missing_parse(const char *s, tsl_alarm_missing *out, tsl_diag *d) {
    assert(s && out);
    int i = find_name(s, missing_names, COUNT(missing_names), 0);
    if (i < 0)
        return tsl_diag_set(d, TSL_EINVAL,
                            "treat_missing_data '%s': expected missing, breaching, notBreaching "
                            "or ignore",
                            s);
    *out = (tsl_alarm_missing)i;
    return TSL_OK;
}

tsl_err tsl_threshold_kind_parse(const char *s, tsl_threshold_kind *out, tsl_diag *d) {
    assert(s && out);
    int i = find_name(s, kind_names, COUNT(kind_names), 0);
    if (i < 0)
        return tsl_diag_set(d, TSL_EINVAL,
                            "threshold policy '%s': expected fixed, baseline or best_approved", s);
    *out = (tsl_threshold_kind)i;
    return TSL_OK;
}

/* ---- the rule ---- */

void tsl_alarm_rule_init(tsl_alarm_rule *r, double threshold, tsl_alarm_op op, int periods) {
    assert(r);
    memset(r, 0, sizeof *r);
    r->threshold = threshold;
    r->op = op;
    r->periods = periods;
    r->datapoints = periods;
    r->range = 0;
    r->missing = TSL_ALARM_MISSING;
}

tsl_err tsl_alarm_rule_check(const tsl_alarm_rule *r, tsl_diag *d) {
    assert(r);
    if (!isfinite(r->threshold))
        return tsl_diag_set(d, TSL_EINVAL, "alarm: threshold: expected a finite number, got %g",
                            r->threshold);
    if ((unsigned)r->op >= COUNT(op_names))
        return tsl_diag_set(d, TSL_EINVAL, "alarm: comparison: unknown operator %d", (int)r->op);
    if ((unsigned)r->missing >= COUNT(missing_names))
        return tsl_diag_set(d, TSL_EINVAL, "alarm: treat_missing_data: unknown value %d",
                            (int)r->missing);
    if (r->periods < 1 || r->periods > TSL_ALARM_MAX_PERIODS)
        return tsl_diag_set(d, TSL_EINVAL, "alarm: evaluation_periods: expected 1 to %d, got %d",
                            TSL_ALARM_MAX_PERIODS, r->periods);
    if (r->datapoints < 1 || r->datapoints > r->periods)
        return tsl_diag_set(d, TSL_EINVAL,
                            "alarm: datapoints_to_alarm: expected 1 to evaluation_periods (%d), "
                            "got %d",
                            r->periods, r->datapoints);
    if (r->range != 0 && (r->range < r->periods || r->range > TSL_ALARM_MAX_PERIODS))
        return tsl_diag_set(d, TSL_EINVAL,
                            "alarm: evaluation_range: expected 0 (N + 2) or %d to %d, got %d",
                            r->periods, TSL_ALARM_MAX_PERIODS, r->range);
    return TSL_OK;
}

int tsl_alarm_rule_range(const tsl_alarm_rule *r) {
    assert(r);
    if (r->range) return r->range;
    int range = r->periods + 2;
    return range > TSL_ALARM_MAX_PERIODS ? TSL_ALARM_MAX_PERIODS : range;
}

int tsl_alarm_breaches(const tsl_alarm_rule *r, double value) {
    assert(r);
    if (isnan(value)) return 0;
    switch (r->op) {
    case TSL_ALARM_GT:
        return value > r->threshold;
    case TSL_ALARM_GE:
        return value >= r->threshold;
    case TSL_ALARM_LT:
        return value < r->threshold;
    case TSL_ALARM_LE:
        return value <= r->threshold;
    }
    return 0;
}

void tsl_alarm_state_init(tsl_alarm_state *s) {
    assert(s);
    memset(s, 0, sizeof *s);
    s->value = TSL_ALARM_INSUFFICIENT_DATA;
}

/* ---- the reason string ---- */

typedef struct reason {
    char *buf;
    size_t len;
} reason;

/* Appends to the reason, truncating at TSL_ALARM_REASON_MAX - 1 bytes. */
__attribute__((format(printf, 2, 3))) static void say(reason *rs, const char *fmt, ...) {
    if (rs->len >= TSL_ALARM_REASON_MAX - 1) return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(rs->buf + rs->len, TSL_ALARM_REASON_MAX - rs->len, fmt, ap);
    va_end(ap);
    if (w < 0) return;
    rs->len += (size_t)w;
    if (rs->len >= TSL_ALARM_REASON_MAX) rs->len = TSL_ALARM_REASON_MAX - 1;
}

/* "(v1, v2, ..., 2 missing)": the real datapoints at idx[0..k) of p, oldest first, and the
 * number of missing ones filled in. A long list keeps its first and last six. */
static void say_points(reason *rs, const double *p, const int *idx, int k, int filled) {
    enum { SHOWN = 12 };
    say(rs, "(");
    for (int i = 0; i < k; i++) {
        if (k > SHOWN && i == SHOWN / 2) {
            say(rs, ", ...");
            i = k - SHOWN / 2;
        }
        say(rs, "%s%.6g", i ? ", " : "", p[idx[i]]);
    }
    if (filled) say(rs, "%s%d missing", k ? ", " : "", filled);
    say(rs, ")");
}

/* ---- evaluation ---- */

tsl_err tsl_alarm_evaluate(const tsl_alarm_rule *r, const double *points, size_t npoints,
                           int64_t now, tsl_alarm_state *state, tsl_alarm_result *out,
                           tsl_diag *d) {
    assert(r && state && out && (npoints == 0 || points));
    int *idx = NULL;
    tsl_err rc = tsl_alarm_rule_check(r, d);
    if (rc) goto out;
    memset(out, 0, sizeof *out);
    reason rs = {out->reason, 0};
    const int n = r->periods, m = r->datapoints, range = tsl_alarm_rule_range(r);
    /* The range's last L slots are given; the older ones are missing. */
    int L = npoints < (size_t)range ? (int)npoints : range;
    const double *p = points + (npoints - (size_t)L);
    idx = tsl_reallocarray(NULL, (size_t)(L ? L : 1), sizeof *idx);
    int k = 0, breal = 0, good = 0;
    for (int i = 0; i < L; i++)
        if (!isnan(p[i])) idx[k++] = i;
    tsl_alarm_value prev = state->value, next = prev;
    const char *op = tsl_alarm_op_name(r->op);
    const char *treat = tsl_alarm_missing_name(r->missing);
    out->real = k;
    if (k >= n) {
        /* Enough real datapoints: the most recent N decide; missing slots are skipped. */
        const int *last = idx + (k - n);
        for (int i = 0; i < n; i++) breal += tsl_alarm_breaches(r, p[last[i]]);
        next = breal >= m ? TSL_ALARM_ALARM : TSL_ALARM_OK;
        out->breaching = breal;
        out->evaluated = n;
        say(&rs, "%d of the last %d datapoints ", breal, n);
        say_points(&rs, p, last, n, 0);
        say(&rs, " were %s %.6g", op, r->threshold);
        if (next == TSL_ALARM_OK) say(&rs, " (%d needed to alarm)", m);
        goto decided;
    }
    for (int i = 0; i < k; i++) {
        int b = tsl_alarm_breaches(r, p[idx[i]]);
        breal += b;
        good += !b;
    }
    int filled = n - k;
    switch (r->missing) {
    case TSL_ALARM_BREACHING:
    case TSL_ALARM_NOT_BREACHING: {
        int b = breal + (r->missing == TSL_ALARM_BREACHING ? filled : 0);
        next = b >= m ? TSL_ALARM_ALARM : TSL_ALARM_OK;
        out->breaching = b;
        out->evaluated = n;
        say(&rs, "%d of the last %d datapoints ", b, n);
        say_points(&rs, p, idx, k, filled);
        say(&rs, " were %s %.6g, missing data treated as %s", op, r->threshold, treat);
        if (next == TSL_ALARM_OK) say(&rs, " (%d needed to alarm)", m);
        break;
    }
    case TSL_ALARM_IGNORE:
        if (breal >= m) {
            next = TSL_ALARM_ALARM;
            say(&rs, "%d real datapoints ", breal);
        } else if (breal + filled < m) {
            next = TSL_ALARM_OK;
            say(&rs,
                "at most %d of the last %d datapoints can be %s %.6g whatever the "
                "missing ones are: ",
                breal + filled, n, op, r->threshold);
        } else {
            say(&rs, "state kept (missing data ignored): %d real of the last %d datapoints ", k, n);
        }
        out->breaching = breal;
        out->evaluated = k;
        say_points(&rs, p, idx, k, 0);
        if (next == TSL_ALARM_ALARM) say(&rs, " were %s %.6g", op, r->threshold);
        break;
    case TSL_ALARM_MISSING:
        out->breaching = breal;
        out->evaluated = k;
        if (k == 0) {
            next = TSL_ALARM_INSUFFICIENT_DATA;
            say(&rs, "no datapoint in the last %d periods", range);
            break;
        }
        if (breal >= m) {
            next = TSL_ALARM_ALARM;
            say(&rs, "%d of the %d real datapoints ", breal, k);
            say_points(&rs, p, idx, k, 0);
            say(&rs, " were %s %.6g", op, r->threshold);
            break;
        }
        /* The oldest breaching datapoint, then whether only breaches or gaps follow it. */
        int first = -1, clean = 1;
        for (int i = 0; i < k; i++) {
            int b = tsl_alarm_breaches(r, p[idx[i]]);
            if (b && first < 0) first = idx[i];
            if (!b && first >= 0) clean = 0;
        }
        if (first >= 0 && clean && L - first >= m) {
            next = TSL_ALARM_ALARM;
            say(&rs,
                "a datapoint %d periods back (%.6g) was %s %.6g and only breaching or "
                "missing datapoints followed",
                L - first, p[first], op, r->threshold);
        } else if (good) {
            next = TSL_ALARM_OK;
            say(&rs, "%d of the %d real datapoints ", breal, k);
            say_points(&rs, p, idx, k, 0);
            say(&rs, " were %s %.6g (%d needed to alarm)", op, r->threshold, m);
        } else {
            say(&rs, "state kept: only %d real datapoints ", k);
            say_points(&rs, p, idx, k, 0);
            say(&rs, ", all %s %.6g, %d needed to alarm", op, r->threshold, m);
        }
        break;
    }
decided:
    out->previous = prev;
    out->value = next;
    out->changed = next != prev;
    state->evaluated_at = now;
    if (out->changed) {
        state->value = next;
        state->changed_at = now;
        state->changes++;
    }
out:
    tsl_free(idx);
    return rc;
}

/* ---- threshold policies ---- */

tsl_err tsl_threshold_policy_check(const tsl_threshold_policy *p, tsl_diag *d) {
    assert(p);
    switch (p->kind) {
    case TSL_THRESHOLD_FIXED:
        if (!isfinite(p->value))
            return tsl_diag_set(d, TSL_EINVAL,
                                "threshold policy fixed: value: expected a finite number, got %g",
                                p->value);
        return TSL_OK;
    case TSL_THRESHOLD_BASELINE:
    case TSL_THRESHOLD_BEST_APPROVED:
        if (!(isfinite(p->factor) && p->factor > 0))
            return tsl_diag_set(d, TSL_EINVAL,
                                "threshold policy %s: factor: expected a positive number, got %g",
                                tsl_threshold_kind_name(p->kind), p->factor);
        return TSL_OK;
    }
    return tsl_diag_set(d, TSL_EINVAL, "threshold policy: unknown kind %d", (int)p->kind);
}

tsl_err tsl_threshold_init(const tsl_threshold_policy *p, tsl_threshold_state *s, tsl_diag *d) {
    assert(p && s);
    tsl_err rc = tsl_threshold_policy_check(p, d);
    if (rc) return rc;
    s->metric = NAN;
    s->threshold = p->kind == TSL_THRESHOLD_FIXED ? p->value : NAN;
    return TSL_OK;
}

tsl_err tsl_threshold_update(const tsl_threshold_policy *p, tsl_threshold_event ev, double metric,
                             tsl_threshold_state *s, int *changed, tsl_diag *d) {
    assert(p && s);
    if (changed) *changed = 0;
    tsl_err rc = tsl_threshold_policy_check(p, d);
    if (rc) return rc;
    if (!isfinite(metric))
        return tsl_diag_set(d, TSL_EINVAL,
                            "threshold policy %s: the version's metric is not a finite number",
                            tsl_threshold_kind_name(p->kind));
    int follow = 0;
    if (p->kind == TSL_THRESHOLD_BASELINE)
        follow = ev == TSL_THRESHOLD_DEPLOYED;
    else if (p->kind == TSL_THRESHOLD_BEST_APPROVED && ev == TSL_THRESHOLD_APPROVED)
        follow =
            isnan(s->metric) || (p->higher_is_better ? metric > s->metric : metric < s->metric);
    if (!follow) return TSL_OK;
    double t = metric * p->factor;
    if (changed) *changed = !(t == s->threshold);
    s->metric = metric;
    s->threshold = t;
    return TSL_OK;
}
