#!/usr/bin/env python3
"""Scores forecasts as the M competitions did.

usage: score.py TRAIN.csv TEST.csv META.csv FORECAST.csv
FORECAST has item_id, mean, p10, p90 (p50 optional) columns, rows in time order per item:
tsloop's forecast CSV and r_forecast.R's output both qualify.
Prints: series smape mase coverage(p10-p90) mean_wql(p10,p50/mean,p90)

sMAPE = mean over series of mean over the horizon of 200|y-f|/(|y|+|f|); MASE = MAE scaled by
the in-sample mean absolute seasonal-naive error (season = season_length, 1 when the series is
not longer than it); coverage = share of actuals inside [p10, p90]; wQL as the seeds' Autopilot.
"""
import csv
import sys
from collections import defaultdict


def load_series(path):
    s = defaultdict(list)
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            v = r.get("target", r.get("target_value"))
            s[r["item_id"]].append(float(v) if v not in ("", "NA", "NaN") else float("nan"))
    return s


def main():
    train, test = load_series(sys.argv[1]), load_series(sys.argv[2])
    meta = {r["item_id"]: r for r in csv.DictReader(open(sys.argv[3]))}
    fc = defaultdict(list)
    with open(sys.argv[4], newline="") as f:
        for r in csv.DictReader(f):
            p50 = float(r["p50"]) if "p50" in r and r["p50"] else float(r["mean"])
            fc[r["item_id"]].append((float(r["mean"]), float(r["p10"]), p50, float(r["p90"])))
    smapes, mases = [], []
    cover = npts = 0
    ql = [0.0, 0.0, 0.0]
    absy = 0.0
    missing = 0
    for item, m in meta.items():
        h = int(m["h"])
        y = test[item][:h]
        f = fc.get(item)
        if not f or len(f) < h:
            missing += 1
            continue
        x = [v for v in train[item] if v == v]
        sl = int(m["season_length"])
        lag = sl if len(x) > sl else 1
        scale = sum(abs(x[i] - x[i - lag]) for i in range(lag, len(x))) / max(1, len(x) - lag)
        sm = ae = 0.0
        for t in range(h):
            mean, lo, med, hi = f[t]
            d = abs(y[t]) + abs(mean)
            sm += 200.0 * abs(y[t] - mean) / d if d > 0 else 0.0
            ae += abs(y[t] - mean)
            cover += lo <= y[t] <= hi
            npts += 1
            for j, (tau, q) in enumerate(((0.1, lo), (0.5, med), (0.9, hi))):
                ql[j] += 2 * (tau * max(y[t] - q, 0) + (1 - tau) * max(q - y[t], 0))
            absy += abs(y[t])
        smapes.append(sm / h)
        if scale > 0:
            mases.append(ae / h / scale)
    n = len(smapes)
    print(f"series={n} missing={missing} smape={sum(smapes)/n:.4f} mase={sum(mases)/len(mases):.4f} "
          f"coverage={cover/npts:.4f} mean_wql={sum(ql)/3/absy:.4f}")


main()
