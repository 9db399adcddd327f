/*
 * alarm.h - the alarm rule of a monitor, with Amazon CloudWatch's semantics, and the threshold
 * policies that set its threshold.
 *
 * An alarm watches one metric series (a datapoint per evaluation window: a day's MAPE, a
 * week's PSI) and is in one of three states: OK, ALARM, INSUFFICIENT_DATA. Each evaluation
 * looks at the latest datapoints and decides the state; callers act (notify, retrain) only
 * when the state changed, and keep the history.
 *
 * The rule, as the CloudWatch user guide ("Alarm evaluation", "How alarm evaluation handles
 * missing data") documents it, and as tsl_alarm_evaluate implements it:
 *
 * - A datapoint breaches when `value OP threshold` holds (OP one of >, >=, <, <=). The alarm
 *   goes to ALARM when at least M ("datapoints to alarm") of the last N ("evaluation periods")
 *   datapoints breach; the breaching ones need not be consecutive.
 * - Each evaluation retrieves more slots than N: the evaluation range (here rule.range slots,
 *   N + 2 by default, as in the guide's example of 5 slots for N = 3). A slot without a value
 *   is missing.
 * - If the range holds at least N real datapoints, the most recent N real ones decide, and how
 *   missing data is treated does not matter (missing slots are skipped over, reaching back
 *   into the range).
 * - Otherwise, with k < N real datapoints, all k count and the N - k others are filled as the
 *   treatment of missing data says:
 *     notBreaching: filled as good: ALARM when the real breaching ones alone reach M, else OK.
 *     breaching:    filled as bad: ALARM when real breaching + (N - k) reach M, else OK.
 *     ignore:       "the current alarm state is maintained": the state changes only when the
 *                   real datapoints decide it whatever the filled ones would be (ALARM under
 *                   the notBreaching filling, or OK under the breaching filling); otherwise
 *                   the state is kept.
 *     missing:      (the default) missing slots are neither good nor bad. With no real
 *                   datapoint at all, INSUFFICIENT_DATA. ALARM when the real breaching ones
 *                   reach M, and also (the guide's "avoiding premature transitions to alarm
 *                   state") when the oldest breaching datapoint of the range lies at least M
 *                   slots back and every more recent slot is breaching or missing: a lone
 *                   breach followed by silence alarms once it has aged M periods, not at
 *                   once. Otherwise OK if some real datapoint in the range is good, and the
 *                   state is kept if every real one breaches (too little to alarm on, but
 *                   nothing says all is well).
 * - The guide's table (M = N = 3, range 5, oldest first; 0 good, X breaching, - missing):
 *       0 - X - X    OK                 OK         OK      OK
 *       - - - - 0    OK                 OK         OK      OK
 *       - - - - -    INSUFFICIENT_DATA  (kept)     ALARM   OK
 *       0 X X - X    ALARM              ALARM      ALARM   ALARM
 *       - - X - -    ALARM              (kept)     ALARM   OK
 *   in the columns missing, ignore, breaching, notBreaching; tests/unit/test_alarm.c checks
 *   every cell. The premature-transition rule is as AWS's knowledge-center article "Why did
 *   my CloudWatch alarm send me a notification after a single breached data point?" states
 *   it. Two choices are ours, where the guide is silent: the evaluation range (CloudWatch's
 *   depends on the period and is not documented exactly; ours is configurable), and, under
 *   "missing", keeping the state when the few real datapoints all breach but cannot alarm yet.
 * - A new alarm starts in INSUFFICIENT_DATA.
 *
 * The result carries a reason in CloudWatch's spirit: "3 of the last 3 datapoints (0.41, 0.44,
 * 0.39) were > 0.35". The state is a plain struct of numbers so that the store can persist it
 * and a restart resumes it.
 *
 * Threshold policies (tsl_threshold_*) are pure functions of the metric values the registry
 * reports: fixed, baseline (the deployed version's backtest metric times a factor) and
 * best_approved (the best metric among approved versions times a factor, following each newly
 * approved version only when it is better, as the reference systems do).
 *
 * docs/monitoring.md describes all this for users, with a worked example.
 */
#ifndef TSLOOP_ALARM_H
#define TSLOOP_ALARM_H

#include <stddef.h>
#include <stdint.h>

#include "tsloop/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TSL_ALARM_MAX_PERIODS 10000 /* cap on N and on the evaluation range */
#define TSL_ALARM_REASON_MAX  512

typedef enum tsl_alarm_value {
    TSL_ALARM_INSUFFICIENT_DATA = 0,
    TSL_ALARM_OK = 1,
    TSL_ALARM_ALARM = 2
} tsl_alarm_value;

typedef enum tsl_alarm_op {
    TSL_ALARM_GT = 0, /* >  GreaterThanThreshold */
    TSL_ALARM_GE,     /* >= GreaterThanOrEqualToThreshold */
    TSL_ALARM_LT,     /* <  LessThanThreshold */
    TSL_ALARM_LE      /* <= LessThanOrEqualToThreshold */
} tsl_alarm_op;

typedef enum tsl_alarm_missing {
    TSL_ALARM_MISSING = 0,   /* "missing", CloudWatch's default */
    TSL_ALARM_BREACHING,     /* "breaching" */
    TSL_ALARM_NOT_BREACHING, /* "notBreaching" */
    TSL_ALARM_IGNORE         /* "ignore" */
} tsl_alarm_missing;

/* "INSUFFICIENT_DATA", "OK", "ALARM"; ">", ">=", "<", "<="; "missing", "breaching",
 * "notBreaching", "ignore". Never NULL. */
const char *tsl_alarm_value_name(tsl_alarm_value v);
const char *tsl_alarm_op_name(tsl_alarm_op op);
const char *tsl_alarm_missing_name(tsl_alarm_missing m);

/* Parse the names above; the operators also as CloudWatch spells them
 * (GreaterThanThreshold, ...), the states also in lower case. TSL_EINVAL naming the accepted
 * values otherwise. */
tsl_err tsl_alarm_value_parse(const char *s, tsl_alarm_value *out, tsl_diag *d);
tsl_err tsl_alarm_op_parse(const char *s, tsl_alarm_op *out, tsl_diag *d);
tsl_err tsl_alarm_missing_parse(const char *s, tsl_alarm_missing *out, tsl_diag *d);

typedef struct tsl_alarm_rule {
    double threshold;
    tsl_alarm_op op;
    int periods;    /* N, evaluation periods, >= 1 */
    int datapoints; /* M, datapoints to alarm, 1 <= M <= N */
    int range;      /* slots looked at, >= N; 0 = N + 2 */
    tsl_alarm_missing missing;
} tsl_alarm_rule;

/* Fills r: threshold as given, op >, M = N = periods, range 0, missing data "missing". */
void tsl_alarm_rule_init(tsl_alarm_rule *r, double threshold, tsl_alarm_op op, int periods);

/* TSL_EINVAL, naming the field, unless the threshold is finite, 1 <= M <= N <=
 * TSL_ALARM_MAX_PERIODS, range is 0 or in [N, TSL_ALARM_MAX_PERIODS], and op and missing are
 * known values. */
tsl_err tsl_alarm_rule_check(const tsl_alarm_rule *r, tsl_diag *d);

/* The slots an evaluation looks at: range, or N + 2 when range is 0. */
int tsl_alarm_rule_range(const tsl_alarm_rule *r);

/* 1 when value breaches the rule's threshold (value OP threshold), 0 otherwise (NaN: 0). */
int tsl_alarm_breaches(const tsl_alarm_rule *r, double value);

/* An alarm's persistent state: plain numbers, for the store. */
typedef struct tsl_alarm_state {
    tsl_alarm_value value;
    int64_t changed_at;   /* caller's time of the last change (0 = never evaluated) */
    int64_t evaluated_at; /* caller's time of the last evaluation */
    uint64_t changes;     /* state changes so far */
} tsl_alarm_state;

/* A new alarm: INSUFFICIENT_DATA, never evaluated. */
void tsl_alarm_state_init(tsl_alarm_state *s);

typedef struct tsl_alarm_result {
    tsl_alarm_value previous, value;
    int changed;   /* value != previous: act on it */
    int breaching; /* breaching datapoints counted (real, plus filled as breaching) */
    int evaluated; /* datapoints counted, real and filled (N unless kept or INSUFFICIENT) */
    int real;      /* real datapoints in the range */
    char reason[TSL_ALARM_REASON_MAX];
} tsl_alarm_result;

/* Evaluates rule r on the evaluation range `points` (npoints values, oldest first, NaN for a
 * missing slot; only the last tsl_alarm_rule_range(r) are looked at, and fewer than that
 * means the older slots are missing) at the caller's time `now`, moves *state and describes
 * the outcome in *out. Fails with TSL_EINVAL on an invalid rule (state untouched). */
tsl_err tsl_alarm_evaluate(const tsl_alarm_rule *r, const double *points, size_t npoints,
                           int64_t now, tsl_alarm_state *state, tsl_alarm_result *out, tsl_diag *d);

/* ---- threshold policies ---- */

typedef enum tsl_threshold_kind {
    TSL_THRESHOLD_FIXED = 0,    /* "fixed": the configured value */
    TSL_THRESHOLD_BASELINE,     /* "baseline": deployed version's backtest metric x factor */
    TSL_THRESHOLD_BEST_APPROVED /* "best_approved": best approved version's metric x factor */
} tsl_threshold_kind;

/* "fixed", "baseline", "best_approved". Never NULL. */
const char *tsl_threshold_kind_name(tsl_threshold_kind k);
tsl_err tsl_threshold_kind_parse(const char *s, tsl_threshold_kind *out, tsl_diag *d);

typedef struct tsl_threshold_policy {
    tsl_threshold_kind kind;
    double value;         /* fixed: the threshold */
    double factor;        /* baseline, best_approved: multiplies the metric (> 0) */
    int higher_is_better; /* the metric's direction: 0 for errors (RMSE, MAPE, wQL...) */
} tsl_threshold_policy;

/* TSL_EINVAL unless the kind is known, a fixed value finite, a factor finite and > 0. */
tsl_err tsl_threshold_policy_check(const tsl_threshold_policy *p, tsl_diag *d);

/* What a policy remembers between events (persist it with the alarm's state). */
typedef struct tsl_threshold_state {
    double threshold; /* NaN until known */
    double metric;    /* the metric it follows (deployed or best approved); NaN until known */
} tsl_threshold_state;

/* The registry events a policy follows. */
typedef enum tsl_threshold_event {
    TSL_THRESHOLD_DEPLOYED = 0, /* a version was deployed to the monitored endpoint */
    TSL_THRESHOLD_APPROVED      /* a version was approved */
} tsl_threshold_event;

/* The state before any event: a fixed policy's threshold, NaN for the others. Fails with
 * TSL_EINVAL on an invalid policy. */
tsl_err tsl_threshold_init(const tsl_threshold_policy *p, tsl_threshold_state *s, tsl_diag *d);

/* Moves s on event ev for a version whose backtest metric is `metric`, and sets *changed
 * (may be NULL) when the threshold moved. fixed: never moves. baseline: on DEPLOYED, follows
 * the deployed version (better or worse: it is the version being watched). best_approved: on
 * APPROVED, follows the version only when its metric is better than the best so far (or
 * there is none). A non-finite metric is TSL_EINVAL (s untouched). */
tsl_err tsl_threshold_update(const tsl_threshold_policy *p, tsl_threshold_event ev, double metric,
                             tsl_threshold_state *s, int *changed, tsl_diag *d);

#ifdef __cplusplus
}
#endif
#endif
