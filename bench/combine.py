#!/usr/bin/env python3
"""Equal-weight combination of forecast files (item_id,step,mean,p10,p90 from r_forecast.R):
the mean of the members' means and of their p10 and p90, row by row.

usage: combine.py OUT.csv IN1.csv IN2.csv [IN3.csv ...]"""
import csv
import sys

out, ins = sys.argv[1], sys.argv[2:]
tables = [list(csv.DictReader(open(p))) for p in ins]
n = len(tables[0])
assert all(len(t) == n for t in tables), "forecast files differ in length"
with open(out, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["item_id", "step", "mean", "p10", "p90"])
    for i in range(n):
        rows = [t[i] for t in tables]
        assert len({(r["item_id"], r["step"]) for r in rows}) == 1, "forecast files differ"
        w.writerow([rows[0]["item_id"], rows[0]["step"]] +
                   [sum(float(r[c]) for r in rows) / len(rows) for c in ("mean", "p10", "p90")])
