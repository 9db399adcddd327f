/*
 * baseline.c - the data baseline of a model version and the drift statistics against it (see
 * tsloop/baseline.h and docs/baseline.md).
 *
 * What a drift monitor needs from the training data is small and must survive a trip through
 * the store: per series a handful of moments, the deciles, and the seasonal profile. The
 * deciles are exact (R's type 7 quantiles of the sorted values, the index split into whole and
 * fractional parts in integer arithmetic, so p = k/10 is never rounded) and serve three
 * statistics at once:
 *
 * - PSI (Siddiqi, Credit Risk Scorecards, 2006) needs buckets that the baseline filled about
 *   equally: the interior deciles are the edges, right-closed as R's cut(), and the baseline's
 *   own count per bucket is kept, because ties (a series that is zero a third of the time)
 *   leave some buckets empty and others heavy. Empty buckets count as 0.0001, as Evidently
 *   does, so a share appearing where the baseline had none gives a large but finite term.
 * - Kolmogorov-Smirnov needs the baseline's distribution function. The deciles sketch it: F
 *   rises linearly from k/10 to (k+1)/10 between decile k and k+1 and jumps where deciles tie.
 *   Against the empirical distribution function of the new values, the largest gap is found at
 *   the new values' order statistics, on either side (F's left limit matters at its jumps); see
 *   ks_sketch for why no other point can hold it.
 * - The first Wasserstein distance is the area between the two quantile functions,
 *   W1 = integral over u in [0, 1] of |Qnew(u) - Qbase(u)|, where Qnew is a step function
 *   (the order statistics) and Qbase is linear between deciles. Merging the breakpoints j/m and
 *   k/10 (compared exactly as integers) leaves pieces where one side is constant and the other
 *   linear, whose |difference| integrates in closed form. Evidently divides W1 by the reference
 *   data's population standard deviation (floored at 0.001) to make it scale-free; the
 *   baseline keeps the exact sample standard deviation, so that division is exact too.
 *
 * The seasonal profile must compare across series that start at different times and across
 * training and live data, so positions follow the calendar (tsl_baseline_position), not the
 * series' first index. A profile is scale-free: (position mean - mean of position means) / sd.
 *
 * JSON goes through jansson with 17 significant digits, which prints every double so that
 * strtod reads the same bits back; NaN (a statistic that does not exist) is null. The parser
 * trusts nothing: it is fuzzed (tests/fuzz/fuzz_baseline.c).
 */
#include "tsloop/baseline.h"

#include <assert.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jscan.h"
#include "core/text.h"
#include "tsloop/mem.h"

#define NB TSL_BASELINE_BUCKETS
#define ND (TSL_BASELINE_BUCKETS + 1)

/* Monday 1970-01-05 00:00:00 UTC: the origin of season positions for fixed units. */
#define POSITION_ORIGIN 345600

/* ---- small helpers ---- */

/* 1 when f is a frequency the time functions step with. */
static int freq_valid(tsl_freq f) {
    return f.unit >= TSL_FREQ_SECOND && f.unit <= TSL_FREQ_YEAR && f.mult >= 1;
}

/* Seconds of one step of a fixed unit, or months of one step of a calendar unit. */
static int64_t freq_step(tsl_freq f) {
    static const int64_t unit[] = {
        [TSL_FREQ_SECOND] = 1,  [TSL_FREQ_MINUTE] = 60,   [TSL_FREQ_HOUR] = 3600,
        [TSL_FREQ_DAY] = 86400, [TSL_FREQ_WEEK] = 604800, [TSL_FREQ_MONTH] = 1,
        [TSL_FREQ_QUARTER] = 3, [TSL_FREQ_YEAR] = 12};
    assert(freq_valid(f));
    return unit[f.unit] * (int64_t)f.mult;
}

/* Floor division and non-negative remainder, for timestamps before the origin. */
static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
    return q;
}

/* a modulo b in [0, b) for b > 0. */
static int64_t floor_mod(int64_t a, int64_t b) {
    return a - floor_div(a, b) * b;
}

/* See baseline.h: whole steps since the origin, modulo period. */
int tsl_baseline_position(tsl_freq freq, int period, int64_t t) {
    assert(freq_valid(freq) && period >= 1);
    int64_t k;
    if (freq.unit >= TSL_FREQ_MONTH) {
        int y, m, dd, hh, mi, ss;
        tsl_time_civil(t, &y, &m, &dd, &hh, &mi, &ss);
        k = floor_div((int64_t)y * 12 + (m - 1), freq_step(freq));
    } else {
        /* Whole steps; a timestamp off the grid belongs to the step it falls in. */
        k = floor_div(t - POSITION_ORIGIN, freq_step(freq));
    }
    return (int)floor_mod(k, period);
}

/* qsort order of finite doubles, ascending. */
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Number of values in sorted[0..n) that are <= v (the upper bound). */
static size_t count_le(const double *sorted, size_t n, double v) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sorted[mid] <= v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Copies the finite values of y[0..n) into a new array (the caller frees it), sorted; their
 * number in *m. */
static double *sorted_finite(const double *y, size_t n, size_t *m) {
    double *s = tsl_malloc((n ? n : 1) * sizeof *s);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(y[i])) s[k++] = y[i];
    qsort(s, k, sizeof *s, cmp_double);
    *m = k;
    return s;
}

/* Mean of x[0..n) (n > 0), refined by a second pass over the residuals as R's mean() is. */
static double mean_of(const double *x, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    double m = s / (double)n;
    if (!isfinite(m)) return m;
    double r = 0;
    for (size_t i = 0; i < n; i++) r += x[i] - m;
    return m + r / (double)n;
}

/* ---- statistics ---- */

/* Insertion sort of x[lo..hi): the base case of selection, for a handful of values. */
static void insertion_sort(double *x, size_t lo, size_t hi) {
    for (size_t i = lo + 1; i < hi; i++) {
        double v = x[i];
        size_t j = i;
        while (j > lo && x[j - 1] > v) {
            x[j] = x[j - 1];
            j--;
        }
        x[j] = v;
    }
}

/* The median of three values. */
static double median3(double a, double b, double c) {
    if (a > b) {
        double t = a;
        a = b;
        b = t;
    }
    return c < a ? a : c > b ? b : c;
}

/*
 * Rearranges x[lo..hi) so that x[k] holds the value it would hold sorted, for every k in
 * want[0..nw) (ascending, each in [lo, hi)): a multi-target quickselect. Three-way
 * partitioning keeps ties (a series that is zero a third of the time) linear; each round keeps
 * only the sides that still hold wanted positions. Past a depth of 2 log2(n) rounds, which
 * only crafted data reaches, the segment is sorted outright, so the worst case stays
 * O(n log n).
 */
static void multiselect(double *x, size_t lo, size_t hi, const size_t *want, size_t nw, int depth) {
    while (nw > 0) {
        if (hi - lo <= 16 || depth-- <= 0) {
            if (hi - lo <= 16)
                insertion_sort(x, lo, hi);
            else
                qsort(x + lo, hi - lo, sizeof *x, cmp_double);
            return;
        }
        double p = median3(x[lo], x[lo + (hi - lo) / 2], x[hi - 1]);
        /* Dijkstra's partition: [lo, lt) < p, [lt, i) == p, (gt, hi) > p. */
        size_t lt = lo, i = lo, gt = hi;
        while (i < gt) {
            double v = x[i];
            if (v < p) {
                x[i++] = x[lt];
                x[lt++] = v;
            } else if (v > p) {
                x[i] = x[--gt];
                x[gt] = v;
            } else {
                i++;
            }
        }
        /* Wanted positions below lt, in [lt, gt) (done: all equal p), and from gt on. */
        size_t nlow = 0, nhigh_from = 0;
        while (nlow < nw && want[nlow] < lt) nlow++;
        nhigh_from = nlow;
        while (nhigh_from < nw && want[nhigh_from] < gt) nhigh_from++;
        if (nlow) multiselect(x, lo, lt, want, nlow, depth);
        want += nhigh_from;
        nw -= nhigh_from;
        lo = gt;
    }
}

/* Fills the order-based fields of s (min, max, deciles, buckets) from the count values x,
 * which it reorders. */
static void order_stats(double *x, size_t count, tsl_baseline_stats *s) {
    if (count == 0) {
        s->min = s->max = NAN;
        for (int k = 0; k < ND; k++) s->deciles[k] = NAN;
        memset(s->buckets, 0, sizeof s->buckets);
        return;
    }
    /* Type 7: h = (count - 1) k / 10, split exactly into lo + num/10; both neighbours are
     * needed when the fraction is not zero. */
    size_t want[2 * ND], nw = 0, lo[ND], frac[ND];
    for (int k = 0; k < ND; k++) {
        size_t num = (count - 1) * (size_t)k;
        lo[k] = num / 10;
        frac[k] = num % 10;
        if (!nw || want[nw - 1] != lo[k]) want[nw++] = lo[k];
        if (frac[k]) want[nw++] = lo[k] + 1;
    }
    int depth = 8;
    for (size_t m = count; m > 1; m >>= 1) depth += 2;
    multiselect(x, 0, count, want, nw, depth);
    for (int k = 0; k < ND; k++) {
        double q = x[lo[k]];
        if (frac[k]) {
            double h = (double)frac[k] / 10.0;
            q = (1 - h) * x[lo[k]] + h * x[lo[k] + 1];
        }
        s->deciles[k] = q;
    }
    s->min = s->deciles[0];
    s->max = s->deciles[NB];
    memset(s->buckets, 0, sizeof s->buckets);
    const double *e = s->deciles + 1; /* the nine edges */
    for (size_t i = 0; i < count; i++) {
        /* The first edge at or above the value (right-closed buckets), by bisection. */
        double v = x[i];
        int a = 0, b = NB - 1;
        while (a < b) {
            int mid = (a + b) / 2;
            if (v <= e[mid])
                b = mid;
            else
                a = mid + 1;
        }
        s->buckets[a]++;
    }
}

/* Fills mean, sd and the shares of s from the count finite values x (any order), n points and
 * zeros zero values. */
static void moment_stats(const double *x, size_t count, size_t n, size_t zeros,
                         tsl_baseline_stats *s) {
    s->n = n;
    s->count = count;
    s->zeros = zeros;
    s->missing_share = n ? (double)(n - count) / (double)n : NAN;
    s->zero_share = count ? (double)zeros / (double)count : NAN;
    s->mean = count ? mean_of(x, count) : NAN;
    s->sd = NAN;
    if (count >= 2) {
        double ss = 0;
        for (size_t i = 0; i < count; i++) ss += (x[i] - s->mean) * (x[i] - s->mean);
        s->sd = sqrt(ss / (double)(count - 1));
    }
}

/* The profile of y[0..n) from position pos0 over period positions, into s->profile (allocated
 * here); psum and pcnt are scratch of period entries. */
static void profile_stats(const double *y, size_t n, int pos0, int period, double *psum,
                          size_t *pcnt, tsl_baseline_stats *s) {
    s->period = period;
    s->profile = tsl_malloc((size_t)period * sizeof *s->profile);
    for (int k = 0; k < period; k++) psum[k] = 0, pcnt[k] = 0;
    int pos = pos0;
    for (size_t i = 0; i < n; i++) {
        if (isfinite(y[i])) {
            psum[pos] += y[i];
            pcnt[pos]++;
        }
        if (++pos == period) pos = 0;
    }
    double msum = 0;
    size_t mcnt = 0;
    for (int k = 0; k < period; k++) {
        if (!pcnt[k]) continue;
        psum[k] /= (double)pcnt[k];
        msum += psum[k];
        mcnt++;
    }
    double mbar = mcnt ? msum / (double)mcnt : 0;
    int scaled = isfinite(s->sd) && s->sd > 0;
    for (int k = 0; k < period; k++) {
        if (!pcnt[k])
            s->profile[k] = NAN;
        else
            s->profile[k] = scaled ? (psum[k] - mbar) / s->sd : 0.0;
    }
}

/* Statistics of y[0..n) into s; scratch must hold n doubles, psum/pcnt period entries. */
static void series_stats(const double *y, size_t n, int pos0, int period, double *scratch,
                         double *psum, size_t *pcnt, tsl_baseline_stats *s) {
    memset(s, 0, sizeof *s);
    size_t count = 0, zeros = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(y[i])) continue;
        scratch[count++] = y[i];
        zeros += y[i] == 0;
    }
    moment_stats(scratch, count, n, zeros, s);
    order_stats(scratch, count, s);
    if (period >= 2) profile_stats(y, n, pos0, period, psum, pcnt, s);
}

/* Frees the profile and zeroes s; NULL is a no-op. */
void tsl_baseline_stats_release(tsl_baseline_stats *s) {
    if (!s) return;
    tsl_free(s->profile);
    memset(s, 0, sizeof *s);
}

/* Checks a frequency and period given to the public functions. */
static tsl_err check_freq_period(tsl_freq freq, int period, tsl_diag *d) {
    if (!freq_valid(freq))
        return tsl_diag_set(d, TSL_EINVAL,
                            "baseline: the data has no valid frequency (unit %d, multiple %d)",
                            (int)freq.unit, (int)freq.mult);
    if (period < 1 || period > TSL_BASELINE_MAX_PERIOD)
        return tsl_diag_set(d, TSL_EINVAL,
                            "baseline: seasonal period %d out of range: expected 1 to %d", period,
                            TSL_BASELINE_MAX_PERIOD);
    return TSL_OK;
}

/* Statistics of one stretch of values, as tsl_baseline_compute computes each series'. */
tsl_err tsl_baseline_stats_compute(const double *y, size_t n, int64_t start, tsl_freq freq,
                                   int period, tsl_baseline_stats *out, tsl_diag *d) {
    assert(n == 0 || y);
    tsl_err rc = check_freq_period(freq, period, d);
    if (rc) return rc;
    double *scratch = tsl_malloc((n ? n : 1) * sizeof *scratch);
    double *psum = tsl_malloc((size_t)period * sizeof *psum);
    size_t *pcnt = tsl_malloc((size_t)period * sizeof *pcnt);
    int pos0 = tsl_baseline_position(freq, period, start);
    series_stats(y, n, pos0, period, scratch, psum, pcnt, out);
    tsl_free(scratch);
    tsl_free(psum);
    tsl_free(pcnt);
    return TSL_OK;
}

/* The overall statistics: pooled values, and the mean of the series' profiles. */
static void overall_stats(const tsl_dataset *ds, tsl_baseline *b) {
    tsl_baseline_stats *o = &b->overall;
    size_t n = 0, count = 0, zeros = 0;
    for (size_t i = 0; i < ds->nseries; i++) n += ds->series[i].n;
    double *pool = tsl_malloc((n ? n : 1) * sizeof *pool);
    for (size_t i = 0; i < ds->nseries; i++) {
        const tsl_series *s = &ds->series[i];
        for (size_t t = 0; t < s->n; t++) {
            if (!isfinite(s->y[t])) continue;
            pool[count++] = s->y[t];
            zeros += s->y[t] == 0;
        }
    }
    moment_stats(pool, count, n, zeros, o);
    order_stats(pool, count, o);
    tsl_free(pool);
    if (b->period < 2) return;
    o->period = b->period;
    o->profile = tsl_malloc((size_t)b->period * sizeof *o->profile);
    for (int k = 0; k < b->period; k++) {
        double sum = 0;
        size_t cnt = 0;
        for (size_t i = 0; i < b->nseries; i++) {
            double v = b->series[i].stats.profile[k];
            if (isnan(v)) continue;
            sum += v;
            cnt++;
        }
        o->profile[k] = cnt ? sum / (double)cnt : NAN;
    }
}

/* Every series' statistics, then the overall ones (see baseline.h). */
tsl_err tsl_baseline_compute(const tsl_dataset *ds, int period, tsl_baseline **out, tsl_diag *d) {
    assert(ds && out);
    if (period <= 0) period = ds->period < 1 ? 1 : ds->period;
    tsl_err rc = check_freq_period(ds->freq, period, d);
    if (rc) return rc;
    tsl_baseline *b = tsl_calloc(1, sizeof *b);
    b->freq = ds->freq;
    b->period = period;
    b->nseries = ds->nseries;
    b->series = tsl_calloc(ds->nseries ? ds->nseries : 1, sizeof *b->series);
    size_t maxn = 1;
    for (size_t i = 0; i < ds->nseries; i++)
        if (ds->series[i].n > maxn) maxn = ds->series[i].n;
    double *scratch = tsl_malloc(maxn * sizeof *scratch);
    double *psum = tsl_malloc((size_t)period * sizeof *psum);
    size_t *pcnt = tsl_malloc((size_t)period * sizeof *pcnt);
    for (size_t i = 0; i < ds->nseries; i++) {
        const tsl_series *s = &ds->series[i];
        b->series[i].item_id = tsl_strdup(s->item_id);
        int pos0 = tsl_baseline_position(ds->freq, period, s->start);
        series_stats(s->y, s->n, pos0, period, scratch, psum, pcnt, &b->series[i].stats);
    }
    tsl_free(scratch);
    tsl_free(psum);
    tsl_free(pcnt);
    overall_stats(ds, b);
    *out = b;
    return TSL_OK;
}

/* Releases b and everything it owns; NULL is a no-op. */
void tsl_baseline_free(tsl_baseline *b) {
    if (!b) return;
    for (size_t i = 0; i < b->nseries; i++) {
        tsl_free(b->series[i].item_id);
        tsl_baseline_stats_release(&b->series[i].stats);
    }
    tsl_free(b->series);
    tsl_baseline_stats_release(&b->overall);
    tsl_free(b);
}

/* Binary search over the sorted ids. */
long tsl_baseline_find(const tsl_baseline *b, const char *item_id) {
    size_t lo = 0, hi = b->nseries;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(b->series[mid].item_id, item_id);
        if (c == 0) return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* ---- drift statistics ---- */

/* Checks base and x for the drift functions and returns x's finite values sorted (the caller
 * frees them) with their number in *m. */
static tsl_err drift_input(const char *what, const tsl_baseline_stats *base, const double *x,
                           size_t n, double **sorted, size_t *m, tsl_diag *d) {
    assert(base && (n == 0 || x));
    if (base->count == 0)
        return tsl_diag_set(d, TSL_ESHORT, "%s: the baseline has no observed value", what);
    double *s = sorted_finite(x, n, m);
    if (*m == 0) {
        tsl_free(s);
        return tsl_diag_set(d, TSL_ESHORT, "%s: none of the %zu new values is observed", what, n);
    }
    *sorted = s;
    return TSL_OK;
}

/* PSI over the baseline's ten buckets (see the header comment). */
tsl_err tsl_baseline_psi(const tsl_baseline_stats *base, const double *x, size_t n, double *out,
                         tsl_diag *d) {
    double *s = NULL;
    size_t m = 0;
    tsl_err rc = drift_input("PSI", base, x, n, &s, &m, d);
    if (rc) goto out;
    double psi = 0;
    size_t below = 0;
    for (int k = 0; k < NB; k++) {
        size_t le = k < NB - 1 ? count_le(s, m, base->deciles[k + 1]) : m;
        double pn = (double)(le - below) / (double)m;
        double pb = (double)base->buckets[k] / (double)base->count;
        below = le;
        if (pn == 0) pn = TSL_BASELINE_PSI_FLOOR;
        if (pb == 0) pb = TSL_BASELINE_PSI_FLOOR;
        psi += (pn - pb) * log(pn / pb);
    }
    *out = psi;
out:
    tsl_free(s);
    return rc;
}

/* The sketched distribution function at v: right-continuous (left = 0) or its left limit
 * (left = 1). q holds the 11 deciles, non-decreasing. */
static double sketch_cdf(const double *q, double v, int left) {
    if (left ? v <= q[0] : v < q[0]) return 0;
    if (left ? v > q[NB] : v >= q[NB]) return 1;
    /* The last k with q[k] <= v (q[k] < v for the left limit); then q[k + 1] is above v (at
     * least v), so the slope below is finite. */
    int k = NB - 1;
    while (k > 0 && (left ? q[k] >= v : q[k] > v)) k--;
    /* In halves, which is exact for normal numbers and cannot overflow when the deciles span
     * more than the largest double. */
    double w = q[k + 1] / 2 - q[k] / 2;
    assert(w > 0);
    double frac = (v / 2 - q[k] / 2) / w;
    return ((double)k + (frac < 1 ? frac : 1)) / NB;
}

/* KS distance between the new values' empirical function and the decile sketch. */
tsl_err tsl_baseline_ks(const tsl_baseline_stats *base, const double *x, size_t n, double *out,
                        tsl_diag *d) {
    double *s = NULL;
    size_t m = 0;
    tsl_err rc = drift_input("Kolmogorov-Smirnov", base, x, n, &s, &m, d);
    if (rc) goto out;
    /*
     * Between consecutive new values the empirical function is flat and the sketch rises, so
     * on (x_i, x_{i+1}) the gap is largest at an end: i/m - F(x_i) or F(x_{i+1}-) - i/m. Before
     * x_1 and after x_m the same two forms cover it. Hence the maximum over i of both terms,
     * the second with F's left limit so that the sketch's jumps (tied deciles) count.
     */
    double dmax = 0;
    for (size_t i = 0; i < m; i++) {
        double hi = (double)(i + 1) / (double)m - sketch_cdf(base->deciles, s[i], 0);
        double lo = sketch_cdf(base->deciles, s[i], 1) - (double)i / (double)m;
        if (hi > dmax) dmax = hi;
        if (lo > dmax) dmax = lo;
    }
    *out = dmax;
out:
    tsl_free(s);
    return rc;
}

/* Integral over a piece of width w of |c - L(u)|, L linear from a to b across the piece. */
static double piece_area(double w, double c, double a, double b) {
    double da = c - a, db = c - b;
    if ((da >= 0 && db >= 0) || (da <= 0 && db <= 0)) return w * fabs(da + db) / 2;
    /* The line crosses c at fraction |da| / (|da| + |db|): two triangles. */
    return w * (da * da + db * db) / (2 * (fabs(da) + fabs(db)));
}

/* W1 between the new values and the decile sketch, by the quantile-domain integral. */
tsl_err tsl_baseline_wasserstein(const tsl_baseline_stats *base, const double *x, size_t n,
                                 double *dist, double *norm, tsl_diag *d) {
    double *s = NULL;
    size_t m = 0;
    tsl_err rc = drift_input("Wasserstein", base, x, n, &s, &m, d);
    if (rc) goto out;
    const double *q = base->deciles;
    /* Walk the merged breakpoints j/m (new values) and k/10 (deciles), compared as integers:
     * j * 10 against k * m. Piece [u0, u1] lies in order statistic j and decile interval k. */
    size_t j = 1, k = 1;
    double u0 = 0, qb0 = q[0], area = 0;
    while (j <= m && k <= NB) {
        size_t aj = j * NB, bk = k * m;
        double u1 = aj <= bk ? (double)j / (double)m : (double)k / NB;
        /* The sketch's quantile at u1, linear inside decile interval [k-1, k]. */
        double qb1 = q[k];
        if (aj < bk) /* in halves, as in sketch_cdf */
            qb1 = 2 * (q[k - 1] / 2 + (u1 * NB - (double)(k - 1)) * (q[k] / 2 - q[k - 1] / 2));
        area += piece_area(u1 - u0, s[j - 1], qb0, qb1);
        u0 = u1;
        qb0 = qb1;
        if (aj <= bk) j++;
        if (bk <= aj) k++;
    }
    double pop_sd = base->count >= 2 && isfinite(base->sd)
                        ? base->sd * sqrt((double)(base->count - 1) / (double)base->count)
                        : 0.0;
    double floor_sd =
        pop_sd > TSL_BASELINE_WASSERSTEIN_FLOOR ? pop_sd : TSL_BASELINE_WASSERSTEIN_FLOOR;
    if (dist) *dist = area;
    if (norm) *norm = area / floor_sd;
out:
    tsl_free(s);
    return rc;
}

/* ---- JSON ---- */

/* A number, or null for NaN and infinities (JSON has no such values). */
static json_t *num(double v) {
    return isfinite(v) ? json_real(v) : json_null();
}

/* A count as a JSON integer. */
static json_t *uint_json(size_t v) {
    return json_integer((json_int_t)v);
}

/* jansson's dump callback: appends to a tsl_wbuf. */
static int dump_to_wbuf(const char *buf, size_t size, void *data) {
    tsl_wbuf_put((tsl_wbuf *)data, buf, size);
    return 0;
}

/* Appends root as text to out and releases root. */
static tsl_err dump_json(json_t *root, int indent, tsl_wbuf *out, const char *what, tsl_diag *d) {
    if (indent < 0) indent = 0;
    if (indent > 31) indent = 31;
    size_t flags = JSON_REAL_PRECISION(17) | (size_t)JSON_INDENT(indent);
    int rc = json_dump_callback(root, dump_to_wbuf, out, flags);
    json_decref(root);
    if (rc) return tsl_diag_set(d, TSL_EINTERNAL, "%s: rendering the JSON failed", what);
    return TSL_OK;
}

/* The frequency and period of b as the "dataset" object of both documents. */
static json_t *dataset_json(const tsl_baseline *b) {
    char freq[32];
    tsl_freq_format(b->freq, freq, sizeof freq);
    return json_pack("{s:s, s:i, s:i, s:I}", "frequency", freq, "frequency_anchor",
                     (int)b->freq.anchor, "period", b->period, "item_count",
                     (json_int_t)b->nseries);
}

/* The statistics object; item_id, when not NULL, comes first. */
static json_t *stats_json(const tsl_baseline_stats *s, const char *item_id) {
    json_t *o = json_object();
    if (item_id) json_object_set_new(o, "item_id", json_string(item_id));
    json_object_set_new(o, "num_present", uint_json(s->count));
    json_object_set_new(o, "num_missing", uint_json(s->n - s->count));
    json_object_set_new(o, "num_zero", uint_json(s->zeros));
    json_object_set_new(o, "mean", num(s->mean));
    json_object_set_new(o, "std_dev", num(s->sd));
    json_object_set_new(o, "min", num(s->min));
    json_object_set_new(o, "max", num(s->max));
    json_object_set_new(o, "missing_share", num(s->missing_share));
    json_object_set_new(o, "zero_share", num(s->zero_share));
    json_t *dist = json_object(), *dec = json_array(), *cnt = json_array();
    for (int k = 0; k < ND; k++) json_array_append_new(dec, num(s->deciles[k]));
    for (int k = 0; k < NB; k++) json_array_append_new(cnt, uint_json(s->buckets[k]));
    json_object_set_new(dist, "deciles", dec);
    json_object_set_new(dist, "bucket_counts", cnt);
    json_object_set_new(o, "distribution", dist);
    if (s->period >= 2) {
        json_t *p = json_array();
        for (int k = 0; k < s->period; k++) json_array_append_new(p, num(s->profile[k]));
        json_object_set_new(o, "seasonal_profile", p);
    }
    return o;
}

/* JSON strings must be UTF-8: ids read by tsloop always are, a hand-made baseline may not. */
static tsl_err check_ids(const tsl_baseline *b, tsl_diag *d) {
    for (size_t i = 0; i < b->nseries; i++) {
        const char *id = b->series[i].item_id;
        if (!tsl_text_utf8_valid(id, strlen(id))) {
            char q[TSL_TEXT_QUOTE_CAP];
            return tsl_diag_set(d, TSL_EINVAL, "baseline: item id %s is not valid UTF-8",
                                tsl_text_quote(q, sizeof q, id, strlen(id)));
        }
    }
    return TSL_OK;
}

/* The statistics document (docs/baseline.md). */
tsl_err tsl_baseline_to_json(const tsl_baseline *b, int indent, tsl_wbuf *out, tsl_diag *d) {
    tsl_err rc = check_ids(b, d);
    if (rc) return rc;
    json_t *root = json_object();
    json_object_set_new(root, "version", json_integer(TSL_BASELINE_FORMAT));
    json_object_set_new(root, "kind", json_string("tsloop.baseline.statistics"));
    json_object_set_new(root, "dataset", dataset_json(b));
    json_object_set_new(root, "overall", stats_json(&b->overall, NULL));
    json_t *arr = json_array();
    for (size_t i = 0; i < b->nseries; i++)
        json_array_append_new(arr, stats_json(&b->series[i].stats, b->series[i].item_id));
    json_object_set_new(root, "series", arr);
    return dump_json(root, indent, out, "baseline statistics", d);
}

/* One series' (or the overall) constraints: completeness, sign, observed range. */
static json_t *constraint_json(const tsl_baseline_stats *s, const char *item_id) {
    json_t *o = json_object();
    if (item_id) json_object_set_new(o, "item_id", json_string(item_id));
    json_object_set_new(o, "completeness", num(1.0 - s->missing_share));
    json_t *c = json_object();
    json_object_set_new(c, "is_non_negative", s->count ? json_boolean(s->min >= 0) : json_null());
    json_object_set_new(c, "min", num(s->min));
    json_object_set_new(c, "max", num(s->max));
    json_object_set_new(o, "num_constraints", c);
    return o;
}

/* The constraints document (docs/baseline.md). */
tsl_err tsl_baseline_constraints_json(const tsl_baseline *b, int indent, tsl_wbuf *out,
                                      tsl_diag *d) {
    tsl_err rc = check_ids(b, d);
    if (rc) return rc;
    json_t *root = json_object();
    json_object_set_new(root, "version", json_integer(TSL_BASELINE_FORMAT));
    json_object_set_new(root, "kind", json_string("tsloop.baseline.constraints"));
    json_object_set_new(root, "dataset", dataset_json(b));
    json_object_set_new(root, "overall", constraint_json(&b->overall, NULL));
    json_t *arr = json_array();
    for (size_t i = 0; i < b->nseries; i++)
        json_array_append_new(arr, constraint_json(&b->series[i].stats, b->series[i].item_id));
    json_object_set_new(root, "series", arr);
    json_object_set_new(root, "monitoring_config",
                        json_pack("{s:{s:{s:f, s:f}, s:f, s:{s:f, s:f}}}",
                                  "distribution_constraints", "psi", "moderate", 0.1, "large", 0.25,
                                  "wasserstein_norm", 0.1, "ks", "p_value", 0.05,
                                  "critical_coefficient", 1.358));
    return dump_json(root, indent, out, "baseline constraints", d);
}

/* ---- parsing ---- */

/* Where a field sits, for messages: "series[3]" or "overall". */
typedef struct where {
    char at[48];
} where;

/* Fails with TSL_ECORRUPT naming the field. */
static tsl_err corrupt(tsl_diag *d, const where *w, const char *key, const char *expected) {
    return tsl_diag_set(d, TSL_ECORRUPT, "baseline JSON: %s%s%s: expected %s", w->at,
                        key ? "." : "", key ? key : "", expected);
}

/* A non-negative integer member. */
static tsl_err get_count(json_t *o, const where *w, const char *key, size_t *out, tsl_diag *d) {
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return corrupt(d, w, key, "a non-negative integer");
    *out = (size_t)json_integer_value(v);
    return TSL_OK;
}

/* A number or null (NaN) element. */
static tsl_err get_value(json_t *v, const where *w, const char *key, double *out, tsl_diag *d) {
    if (json_is_null(v)) {
        *out = NAN;
        return TSL_OK;
    }
    if (!json_is_number(v)) return corrupt(d, w, key, "a number or null");
    *out = json_number_value(v);
    if (!isfinite(*out)) return corrupt(d, w, key, "a finite number");
    return TSL_OK;
}

/* A number or null member. */
static tsl_err get_num(json_t *o, const where *w, const char *key, double *out, tsl_diag *d) {
    json_t *v = json_object_get(o, key);
    if (!v) return corrupt(d, w, key, "a number or null");
    return get_value(v, w, key, out, d);
}

/* An array member of exactly n numbers or nulls, into out. */
static tsl_err get_values(json_t *o, const where *w, const char *key, size_t n, double *out,
                          tsl_diag *d) {
    json_t *a = json_object_get(o, key);
    if (!json_is_array(a) || json_array_size(a) != n) {
        char what[64];
        snprintf(what, sizeof what, "an array of %zu numbers", n);
        return corrupt(d, w, key, what);
    }
    for (size_t i = 0; i < n; i++) {
        tsl_err rc = get_value(json_array_get(a, i), w, key, &out[i], d);
        if (rc) return rc;
    }
    return TSL_OK;
}

/* 1 when v is NaN or in [0, 1]. */
static int share_ok(double v) {
    return isnan(v) || (v >= 0 && v <= 1);
}

/* Reads one statistics object into s (which owns a profile afterwards, even on failure:
 * release it). */
static tsl_err parse_stats(json_t *o, const where *w, int period, tsl_baseline_stats *s,
                           tsl_diag *d) {
    tsl_err rc;
    size_t missing;
    if (!json_is_object(o)) return corrupt(d, w, NULL, "an object");
    if ((rc = get_count(o, w, "num_present", &s->count, d))) return rc;
    if ((rc = get_count(o, w, "num_missing", &missing, d))) return rc;
    if ((rc = get_count(o, w, "num_zero", &s->zeros, d))) return rc;
    if (missing > SIZE_MAX - s->count) return corrupt(d, w, "num_missing", "a smaller count");
    s->n = s->count + missing;
    if (s->zeros > s->count) return corrupt(d, w, "num_zero", "at most num_present");
    if ((rc = get_num(o, w, "mean", &s->mean, d)) || (rc = get_num(o, w, "std_dev", &s->sd, d)) ||
        (rc = get_num(o, w, "min", &s->min, d)) || (rc = get_num(o, w, "max", &s->max, d)) ||
        (rc = get_num(o, w, "missing_share", &s->missing_share, d)) ||
        (rc = get_num(o, w, "zero_share", &s->zero_share, d)))
        return rc;
    if (!share_ok(s->missing_share) || !share_ok(s->zero_share))
        return corrupt(d, w, "missing_share", "shares between 0 and 1");
    if (!isnan(s->sd) && s->sd < 0) return corrupt(d, w, "std_dev", "a non-negative number");
    json_t *dist = json_object_get(o, "distribution");
    if (!json_is_object(dist)) return corrupt(d, w, "distribution", "an object");
    if ((rc = get_values(dist, w, "deciles", ND, s->deciles, d))) return rc;
    json_t *cnt = json_object_get(dist, "bucket_counts");
    if (!json_is_array(cnt) || json_array_size(cnt) != NB)
        return corrupt(d, w, "bucket_counts", "an array of 10 counts");
    size_t total = 0;
    for (int k = 0; k < NB; k++) {
        json_t *v = json_array_get(cnt, (size_t)k);
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return corrupt(d, w, "bucket_counts", "non-negative integers");
        s->buckets[k] = (size_t)json_integer_value(v);
        if (s->buckets[k] > s->count - total)
            return corrupt(d, w, "bucket_counts", "counts that sum to num_present");
        total += s->buckets[k];
    }
    if (total != s->count) return corrupt(d, w, "bucket_counts", "counts that sum to num_present");
    /* The order statistics must be those of count values: all NaN, or finite and sorted with
     * min and max at the ends. */
    for (int k = 0; k < ND; k++) {
        if (s->count == 0 ? !isnan(s->deciles[k]) : isnan(s->deciles[k]))
            return corrupt(d, w, "deciles", "numbers when num_present > 0, else nulls");
        if (k && s->deciles[k] < s->deciles[k - 1])
            return corrupt(d, w, "deciles", "non-decreasing values");
    }
    if (s->count && (s->deciles[0] != s->min || s->deciles[NB] != s->max))
        return corrupt(d, w, "deciles", "min and max as the first and last decile");
    if (s->count == 0 && (!isnan(s->min) || !isnan(s->max) || !isnan(s->mean)))
        return corrupt(d, w, "min", "null without observed values");
    json_t *prof = json_object_get(o, "seasonal_profile");
    if (period < 2) {
        if (prof) return corrupt(d, w, "seasonal_profile", "no profile when period < 2");
        return TSL_OK;
    }
    s->period = period;
    s->profile = tsl_malloc((size_t)period * sizeof *s->profile);
    return get_values(o, w, "seasonal_profile", (size_t)period, s->profile, d);
}

/* Reads the "dataset" object into b's frequency and period; *nitems gets item_count. */
static tsl_err parse_dataset(json_t *o, tsl_baseline *b, size_t *nitems, tsl_diag *d) {
    where w = {"dataset"};
    if (!json_is_object(o)) return corrupt(d, &w, NULL, "an object");
    json_t *f = json_object_get(o, "frequency");
    if (!json_is_string(f)) return corrupt(d, &w, "frequency", "a frequency such as \"H\"");
    tsl_diag fd = {0};
    if (tsl_freq_parse(json_string_value(f), &b->freq, &fd))
        return corrupt(d, &w, "frequency", "a frequency such as \"H\"");
    json_t *a = json_object_get(o, "frequency_anchor");
    if (!json_is_integer(a) || json_integer_value(a) < TSL_FREQ_MONTH_END ||
        json_integer_value(a) > 31)
        return corrupt(d, &w, "frequency_anchor", "an integer from -1 to 31");
    b->freq.anchor = (int32_t)json_integer_value(a);
    json_t *p = json_object_get(o, "period");
    if (!json_is_integer(p) || json_integer_value(p) < 1 ||
        json_integer_value(p) > TSL_BASELINE_MAX_PERIOD)
        return corrupt(d, &w, "period", "an integer from 1 to 10000");
    b->period = (int)json_integer_value(p);
    return get_count(o, &w, "item_count", nitems, d);
}

/* Parses the JSON value [v, vend) (a scalar too): a new reference, or NULL with the message. */
static json_t *load_part(const char *v, const char *vend, const char *what, tsl_err *rc,
                         tsl_diag *d) {
    json_error_t je;
    json_t *j = json_loadb(v, (size_t)(vend - v), JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (!j)
        *rc = tsl_diag_set(d, TSL_EPARSE, "baseline JSON: %s: column %d: %s", what, je.column,
                           je.text);
    return j;
}

/* Whether item is among want[0..nwant) (sorted bytewise). */
static int wanted(const char *const *want, size_t nwant, const char *item) {
    size_t lo = 0, hi = nwant;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(want[mid], item);
        if (!c) return 1;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* Empty statistics: no point, NaN wherever a value would be. */
static void empty_stats(tsl_baseline_stats *s) {
    memset(s, 0, sizeof *s);
    s->mean = s->sd = s->min = s->max = s->missing_share = s->zero_share = NAN;
    for (int k = 0; k < ND; k++) s->deciles[k] = NAN;
}

/* Reads the top-level members of the statistics document [text, end) into b: version and kind
 * checked, dataset and overall parsed, and the bounds of the series array in *arr, *arr_end. */
static tsl_err read_head(const char *text, const char *end, tsl_baseline *b, size_t *nitems,
                         const char **arr, const char **arr_end, tsl_diag *d) {
    static const char *const names[] = {"version", "kind", "dataset", "overall", "series"};
    const char *at[5] = {0}, *at_end[5] = {0}, *p = text, *key, *v, *vend;
    size_t klen;
    int r;
    tsl_err rc = TSL_OK;
    where top = {"document"};
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) p++;
    if (p >= end || *p != '{') return corrupt(d, &top, NULL, "an object");
    p++;
    while ((r = tsl_jscan_next(&p, end, &key, &klen, &v, &vend)) == 1)
        for (int i = 0; i < 5; i++)
            if (strlen(names[i]) == klen && !memcmp(names[i], key, klen) && !at[i])
                at[i] = v, at_end[i] = vend;
    if (r < 0) return tsl_diag_set(d, TSL_EPARSE, "baseline JSON: a truncated or malformed text");
    json_t *j = NULL;
    if (!at[0] || !(j = load_part(at[0], at_end[0], "version", &rc, d)) || !json_is_integer(j)) {
        json_decref(j);
        return rc ? rc : corrupt(d, &top, "version", "an integer");
    }
    json_int_t version = json_integer_value(j);
    json_decref(j);
    if (version != TSL_BASELINE_FORMAT)
        return tsl_diag_set(d, TSL_EVERSION,
                            "baseline JSON: format version %" JSON_INTEGER_FORMAT
                            " is not known: expected %d",
                            version, TSL_BASELINE_FORMAT);
    j = at[1] ? load_part(at[1], at_end[1], "kind", &rc, d) : NULL;
    int kind_ok = json_is_string(j) && !strcmp(json_string_value(j), "tsloop.baseline.statistics");
    json_decref(j);
    if (rc) return rc;
    if (!kind_ok) return corrupt(d, &top, "kind", "\"tsloop.baseline.statistics\"");
    j = at[2] ? load_part(at[2], at_end[2], "dataset", &rc, d) : NULL;
    if (!rc) rc = parse_dataset(j, b, nitems, d);
    json_decref(j);
    if (rc) return rc;
    where ov = {"overall"};
    j = at[3] ? load_part(at[3], at_end[3], "overall", &rc, d) : NULL;
    if (!rc) rc = parse_stats(j, &ov, b->period, &b->overall, d);
    json_decref(j);
    if (rc) return rc;
    if (!at[4] || *at[4] != '[')
        return corrupt(d, &top, "series", "an array of dataset.item_count objects");
    *arr = at[4] + 1;
    *arr_end = at_end[4];
    return TSL_OK;
}

/* Contract in baseline.h. The text is walked with the scanner of core/jscan.h, and each part
 * kept is parsed and checked by jansson as tsl_baseline_from_json does; only one series' tree
 * exists at a time. */
tsl_err tsl_baseline_from_json_items(const char *text, size_t len, const char *const *want,
                                     size_t nwant, tsl_baseline **out, tsl_diag *d) {
    assert(out && (text || len == 0));
    tsl_baseline *b = tsl_calloc(1, sizeof *b);
    const char *end = (text ? text : "") + len, *p = NULL, *arr_end = NULL, *v, *vend;
    size_t nitems = 0, cap = 0;
    json_t *j = NULL;
    int r;
    tsl_err rc;
    *out = NULL;
    if ((rc = read_head(text ? text : "", end, b, &nitems, &p, &arr_end, d))) goto out;
    while ((r = tsl_jscan_element(&p, arr_end, &v, &vend)) == 1) {
        where w;
        const char *iv, *ivend;
        snprintf(w.at, sizeof w.at, "series[%zu]", b->nseries);
        if (b->nseries == nitems) break; /* too many: refused below */
        if (tsl_jscan_member(v, vend, "item_id", &iv, &ivend) != 1) {
            rc = corrupt(d, &w, "item_id", "a string");
            goto out;
        }
        if (!(j = load_part(iv, ivend, w.at, &rc, d))) goto out;
        if (!json_is_string(j)) {
            rc = corrupt(d, &w, "item_id", "a string");
            goto out;
        }
        const char *id = json_string_value(j);
        if (b->nseries && strcmp(b->series[b->nseries - 1].item_id, id) >= 0) {
            rc = corrupt(d, &w, "item_id", "ids sorted bytewise and distinct");
            goto out;
        }
        if (b->nseries == cap) {
            cap = cap ? 2 * cap : 64;
            if (cap > nitems) cap = nitems;
            b->series = tsl_reallocarray(b->series, cap, sizeof *b->series);
        }
        tsl_baseline_series *x = &b->series[b->nseries++];
        x->item_id = tsl_strdup(id);
        json_decref(j);
        j = NULL;
        empty_stats(&x->stats);
        if (want && !wanted(want, nwant, x->item_id)) continue;
        if (!(j = load_part(v, vend, w.at, &rc, d))) goto out;
        if ((rc = parse_stats(j, &w, b->period, &x->stats, d))) goto out;
        json_decref(j);
        j = NULL;
    }
    if (r < 0 || b->nseries != nitems || (r == 1 && b->nseries == nitems)) {
        where top = {"document"};
        rc = r < 0 ? tsl_diag_set(d, TSL_EPARSE,
                                  "baseline JSON: series: a truncated or "
                                  "malformed array")
                   : corrupt(d, &top, "series", "an array of dataset.item_count objects");
        goto out;
    }
    *out = b;
    b = NULL;
out:
    json_decref(j);
    tsl_baseline_free(b);
    return rc;
}

/* Parses and checks a statistics document; nothing is returned on failure. */
tsl_err tsl_baseline_from_json(const char *text, size_t len, tsl_baseline **out, tsl_diag *d) {
    assert(out && (text || len == 0));
    tsl_baseline *b = NULL;
    tsl_err rc = TSL_OK;
    json_error_t je;
    json_t *root = json_loadb(text ? text : "", len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        rc = tsl_diag_set(d, TSL_EPARSE, "baseline JSON: line %d, column %d: %s", je.line,
                          je.column, je.text);
        goto out;
    }
    where top = {"document"};
    if (!json_is_object(root)) {
        rc = corrupt(d, &top, NULL, "an object");
        goto out;
    }
    json_t *v = json_object_get(root, "version");
    if (!json_is_integer(v)) {
        rc = corrupt(d, &top, "version", "an integer");
        goto out;
    }
    if (json_integer_value(v) != TSL_BASELINE_FORMAT) {
        rc = tsl_diag_set(d, TSL_EVERSION,
                          "baseline JSON: format version %" JSON_INTEGER_FORMAT
                          " is not known: expected %d",
                          json_integer_value(v), TSL_BASELINE_FORMAT);
        goto out;
    }
    json_t *kind = json_object_get(root, "kind");
    if (!json_is_string(kind) || strcmp(json_string_value(kind), "tsloop.baseline.statistics")) {
        rc = corrupt(d, &top, "kind", "\"tsloop.baseline.statistics\"");
        goto out;
    }
    b = tsl_calloc(1, sizeof *b);
    size_t nitems;
    if ((rc = parse_dataset(json_object_get(root, "dataset"), b, &nitems, d))) goto out;
    json_t *arr = json_object_get(root, "series");
    if (!json_is_array(arr) || json_array_size(arr) != nitems) {
        rc = corrupt(d, &top, "series", "an array of dataset.item_count objects");
        goto out;
    }
    where ov = {"overall"};
    if ((rc = parse_stats(json_object_get(root, "overall"), &ov, b->period, &b->overall, d)))
        goto out;
    b->series = tsl_calloc(nitems ? nitems : 1, sizeof *b->series);
    for (size_t i = 0; i < nitems; i++) {
        where w;
        snprintf(w.at, sizeof w.at, "series[%zu]", i);
        json_t *o = json_array_get(arr, i);
        json_t *id = json_object_get(o, "item_id");
        if (!json_is_string(id)) {
            rc = corrupt(d, &w, "item_id", "a string");
            goto out;
        }
        const char *s = json_string_value(id);
        if (i && strcmp(b->series[i - 1].item_id, s) >= 0) {
            rc = corrupt(d, &w, "item_id", "ids sorted bytewise and distinct");
            goto out;
        }
        b->series[i].item_id = tsl_strdup(s);
        b->nseries = i + 1; /* from here on, tsl_baseline_free releases this entry */
        if ((rc = parse_stats(o, &w, b->period, &b->series[i].stats, d))) goto out;
    }
    *out = b;
    b = NULL;
out:
    tsl_baseline_free(b);
    json_decref(root);
    return rc;
}
