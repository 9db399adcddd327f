#!/usr/bin/env python3
"""Turns bench_arima.R's rows (one per series: orders, seconds, and the point forecasts and 80%
limits as ';'-separated lists) into the forecast CSV that score.py and combine.py read
(item_id,step,mean,p10,p90), in the item order of a reference forecast file so that combine.py
can pair the rows. Several row files (the shards of one run) may be given; a series found twice
keeps its first row. Prints the series written and the sum of R's fit seconds.

usage: arima_rows.py OUT.csv ORDER.csv ROWS.csv [ROWS.csv ...]
ORDER.csv is any forecast CSV of the same series (r-ets.csv, say): its items, in its order."""
import csv
import sys

out, order_path, row_paths = sys.argv[1], sys.argv[2], sys.argv[3:]
rows = {}
for p in row_paths:
    with open(p, newline="") as f:
        for r in csv.DictReader(f):
            rows.setdefault(r["item_id"], r)
order = []
with open(order_path, newline="") as f:
    for r in csv.DictReader(f):
        if not order or order[-1] != r["item_id"]:
            order.append(r["item_id"])
missing = [i for i in order if i not in rows]
if missing:
    sys.exit(f"arima_rows.py: {len(missing)} series have no row yet (first: {missing[0]})")
secs = 0.0
with open(out, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["item_id", "step", "mean", "p10", "p90"])
    for item in order:
        r = rows[item]
        mean, lo, hi = (r[c].split(";") for c in ("mean", "lo80", "hi80"))
        if not (len(mean) == len(lo) == len(hi)):
            sys.exit(f"arima_rows.py: {item}: mean, lo80 and hi80 differ in length")
        for step, (m, a, b) in enumerate(zip(mean, lo, hi), 1):
            w.writerow([item, step, m.strip(), a.strip(), b.strip()])
        secs += float(r["seconds"])
print(f"series={len(order)} seconds={secs:.1f}")
