#!/usr/bin/env python3
"""Studies model-selection rules offline on bench_select's dump (training data only).

For each series, the last K windows are scored prequentially: the rule chooses for window w using
only windows whose test periods end before w's origin (at most K of them), and is scored on w.
Prints the mean MASE and sMAPE of every rule, pooled over series and the last K windows.

usage: select_rules.py DUMP.csv [DUMP.csv ...] [--k 3]
"""
import csv
import math
import sys
from collections import defaultdict
from statistics import median

args = [a for a in sys.argv[1:] if not a.startswith("--")]
K = 3
for i, a in enumerate(sys.argv):
    if a == "--k":
        K = int(sys.argv[i + 1])


def load(path):
    series = defaultdict(lambda: defaultdict(list))  # item -> window -> rows
    with open(path) as f:
        r = csv.reader(f)
        head = next(r)
        cands = head[6:]
        for row in r:
            item, w, origin, step = row[0], int(row[1]), int(row[2]), int(row[3])
            y, scale = float(row[4]), float(row[5])
            fc = [float(v) if v != "" else math.nan for v in row[6:]]
            series[item][w].append((origin, step, y, scale, fc))
    return cands, series


def metrics(ys, fs, scale):
    ae = sum(abs(y - f) for y, f in zip(ys, fs)) / len(ys)
    sm = sum(200 * abs(y - f) / (abs(y) + abs(f)) if abs(y) + abs(f) > 0 else 0 for y, f in zip(ys, fs)) / len(ys)
    mase = ae / scale if scale > 0 else math.nan
    return mase, sm, ae


def main():
    results = defaultdict(lambda: [0.0, 0.0, 0])
    total_series = 0
    for path in args:
        cands, series = load(path)
        nc = len(cands)
        # columns: singles, then fixed combos over named members, then top-k per series
        name_idx = {c: i for i, c in enumerate(cands)}
        fixed = {
            "comb(ets,theta,dotm)": [name_idx[c] for c in ("ets", "theta", "dotm") if c in name_idx],
            "comb(ets,theta)": [name_idx[c] for c in ("ets", "theta") if c in name_idx],
            "comb(ets,dotm)": [name_idx[c] for c in ("ets", "dotm") if c in name_idx],
            "comb(ets,dotm,drift)": [name_idx[c] for c in ("ets", "dotm", "drift") if c in name_idx],
            "med(ets,theta,dotm)": [name_idx[c] for c in ("ets", "theta", "dotm") if c in name_idx],
        }
        per = []  # per series: list of windows: (origin, h, ys, scale, fc per column)
        for item, wins in series.items():
            ws = []
            for w in sorted(wins):
                rows = sorted(wins[w], key=lambda r: r[1])
                origin = rows[0][0]
                ys = [r[2] for r in rows]
                scale = rows[0][3]
                fcs = [[r[4][c] for r in rows] for c in range(nc)]
                ws.append((origin, len(rows), ys, scale, fcs))
            per.append(ws)
        total_series += len(per)

        fallback = [name_idx[c] for c in ("theta", "naive") if c in name_idx]

        def single(fcs, c):
            """Column c's forecast, or the fallback's when c could not fit (as AutoML does)."""
            for k in [c] + fallback:
                if not any(math.isnan(v) for v in fcs[k]):
                    return fcs[k]
            return fcs[c]

        def col_fc(fcs, kind, members):
            ok = [m for m in members if not any(math.isnan(v) for v in fcs[m])] or members[:1]
            cols = [single(fcs, m) for m in ok]
            if kind == "mean":
                return [sum(c[t] for c in cols) / len(cols) for t in range(len(cols[0]))]
            return [median([c[t] for c in cols]) for t in range(len(cols[0]))]

        def score(ws_list, fc_fn):
            vals = []
            for (origin, h, ys, scale, fcs) in ws_list:
                f = fc_fn(fcs)
                if any(math.isnan(v) for v in f):
                    return math.nan
                m, s, ae = metrics(ys, f, scale)
                vals.append(m if not math.isnan(m) else ae)
            return sum(vals) / len(vals) if vals else math.nan

        # per series and target window: the candidate columns' inner scores and target forecasts
        stages = []  # (series index, target window, inner windows)
        for si, ws in enumerate(per):
            for wi in range(max(0, len(ws) - K), len(ws)):
                origin = ws[wi][0]
                inner = [x for x in ws[:wi] if x[0] + x[1] <= origin][-K:]
                stages.append((si, wi, inner))

        def singles_scores(inner):
            return [score(inner, lambda fcs, c=c: fcs[c]) for c in range(nc)]

        def evaluate(name, choose):
            for si, wi, inner in stages:
                f = choose(si, wi, inner)
                origin, h, ys, scale, fcs = per[si][wi]
                fc = f(fcs)
                m, s, ae = metrics(ys, fc, scale)
                if math.isnan(m):
                    continue
                r = results[name]
                r[0] += m
                r[1] += s
                r[2] += 1

        for c in range(nc):
            evaluate(cands[c], lambda si, wi, inner, c=c: (lambda fcs: single(fcs, c)))
        for fname, mem in fixed.items():
            if len(mem) >= 2:
                kind = "median" if fname.startswith("med") else "mean"
                evaluate(fname, lambda si, wi, inner, mem=mem, kind=kind: (lambda fcs: col_fc(fcs, kind, mem)))

        # Per-series selection among singles + top-k combos (the current AutoML).
        def choose_series(inner, with_combos=True):
            sc = singles_scores(inner)
            order = sorted([c for c in range(nc) if not math.isnan(sc[c])], key=lambda c: sc[c])
            if not order:
                return lambda fcs: single(fcs, fallback[0])
            options = [(sc[c], (lambda fcs, c=c: single(fcs, c))) for c in order]
            if with_combos:
                for k, kind in ((2, "mean"), (3, "mean"), (3, "median")):
                    if len(order) >= k:
                        mem = order[:k]
                        f = lambda fcs, mem=mem, kind=kind: col_fc(fcs, kind, mem)
                        options.append((score(inner, f), f))
            options = [o for o in options if not math.isnan(o[0])]
            return min(options, key=lambda o: o[0])[1]

        evaluate("auto(series,singles)", lambda si, wi, inner: choose_series(inner, False))
        evaluate("auto(series,+combos)", lambda si, wi, inner: choose_series(inner, True))

        # Global selection: the column with the best mean relative score over all series at
        # the same stage (target window position from the end).
        columns = [(cands[c], (lambda fcs, c=c: single(fcs, c))) for c in range(nc)]
        for fname, mem in fixed.items():
            if len(mem) >= 2:
                kind = "median" if fname.startswith("med") else "mean"
                columns.append((fname, (lambda fcs, mem=mem, kind=kind: col_fc(fcs, kind, mem))))
        ncol = len(columns)

        def all_scores(inner):
            return [score(inner, f) for _, f in columns]

        def rel_scores(inner):
            sc = all_scores(inner)
            ok = [v for v in sc if not math.isnan(v)]
            if not ok:
                return None
            base = sum(ok) / len(ok)
            return [v / base if base > 0 else math.nan for v in sc]

        stage_rel = {}
        for idx, (si, wi, inner) in enumerate(stages):
            stage_rel[idx] = rel_scores(inner) if inner else None
        by_pos = defaultdict(list)
        for idx, (si, wi, inner) in enumerate(stages):
            by_pos[len(per[si]) - wi].append(idx)
        glob = {}
        for pos, idxs in by_pos.items():
            sums = [0.0] * ncol
            cnt = [0] * ncol
            for idx in idxs:
                rs = stage_rel[idx]
                if rs is None:
                    continue
                for c in range(ncol):
                    if not math.isnan(rs[c]):
                        sums[c] += rs[c]
                        cnt[c] += 1
            glob[pos] = [sums[c] / cnt[c] if cnt[c] else math.inf for c in range(ncol)]

        def choose_shrunk(idx, weight):
            si, wi, inner = stages[idx]
            g = glob[len(per[si]) - wi]
            rs = stage_rel[idx]
            best, bestv = 0, math.inf
            for c in range(ncol):
                v = g[c] if rs is None or math.isnan(rs[c]) else weight * rs[c] + (1 - weight) * g[c]
                if v < bestv:
                    best, bestv = c, v
            chosen[best] = chosen.get(best, 0) + 1
            return columns[best][1]

        # Empirical Bayes: per-window relative scores r_ijw (window score over the mean of the
        # singles in that window), r_ij their mean; se_j^2 = pooled within-series variance / k;
        # tau_j^2 = max(0, between-series variance - mean se^2); shrink r_ij toward G_j.
        def window_rel(inner):
            out = []
            for win in inner:
                sc = [score([win], f) for _, f in columns]
                ok = [sc[c] for c in range(nc) if not math.isnan(sc[c])]
                if not ok:
                    continue
                ref = sum(ok) / len(ok)
                out.append([v / ref if ref > 0 else math.nan for v in sc])
            return out

        stage_wrel = {idx: (window_rel(inner) if inner else []) for idx, (si, wi, inner) in enumerate(stages)}
        eb = {}
        for pos, idxs in by_pos.items():
            means, wvars = {}, [[] for _ in range(ncol)]
            for idx in idxs:
                wr = stage_wrel[idx]
                if not wr:
                    continue
                m = []
                for c in range(ncol):
                    vals = [w_[c] for w_ in wr if not math.isnan(w_[c])]
                    if len(vals) == len(wr):
                        mu = sum(vals) / len(vals)
                        m.append(mu)
                        if len(vals) > 1:
                            wvars[c].append(sum((v - mu) ** 2 for v in vals) / (len(vals) - 1))
                    else:
                        m.append(math.nan)
                means[idx] = m
            G = glob[pos]
            se2, tau2 = [], []
            for c in range(ncol):
                vbar = sum(wvars[c]) / len(wvars[c]) if wvars[c] else 0.0
                ms = [means[i][c] for i in means if not math.isnan(means[i][c])]
                if len(ms) > 1:
                    mu = sum(ms) / len(ms)
                    between = sum((v - mu) ** 2 for v in ms) / (len(ms) - 1)
                else:
                    between = 0.0
                k = K
                se2.append(vbar / k)
                tau2.append(max(0.0, between - vbar / k))
            for idx in idxs:
                si, wi, inner = stages[idx]
                best, bestv = 0, math.inf
                m = means.get(idx)
                for c in range(ncol):
                    if math.isinf(G[c]):
                        continue
                    if m is None or math.isnan(m[c]):
                        v = G[c]
                    else:
                        b = tau2[c] / (tau2[c] + se2[c]) if tau2[c] + se2[c] > 0 else 0.0
                        v = G[c] + b * (m[c] - G[c])
                    if v < bestv:
                        best, bestv = c, v
                eb[idx] = best
        for idx, (si, wi, inner) in enumerate(stages):
            origin, h, ys, scale, fcs = per[si][wi]
            m_, s_, ae = metrics(ys, columns[eb[idx]][1](fcs), scale)
            if math.isnan(m_):
                continue
            r = results["empirical-bayes"]
            r[0] += m_
            r[1] += s_
            r[2] += 1

        for weight in (0.0, 0.1, 0.25, 0.5, 0.75, 1.0):
            chosen = {}
            name = f"shrink(w={weight})"
            for idx, (si, wi, inner) in enumerate(stages):
                f = choose_shrunk(idx, weight)
                origin, h, ys, scale, fcs = per[si][wi]
                m, s, ae = metrics(ys, f(fcs), scale)
                if math.isnan(m):
                    continue
                r = results[name]
                r[0] += m
                r[1] += s
                r[2] += 1
            if weight == 0.0:
                top = sorted(chosen.items(), key=lambda kv: -kv[1])[:3]
                print(f"  {path}: global choices " + ", ".join(f"{columns[c][0]} x{n}" for c, n in top))

    print(f"{total_series} series, last {K} windows each, prequential")
    for name, (m, s, n) in sorted(results.items(), key=lambda kv: kv[1][0] / kv[1][2]):
        print(f"  {name:28s} mase {m / n:7.4f}  smape {s / n:7.3f}  ({n} windows)")


main()
