#!/usr/bin/env python3
"""Splits a competition data set (../shared/data/NAME_{train,test,meta}.csv) into one input
file per period, since tsloop infers one frequency per data set.

usage: split_m1.py DATA_DIR NAME OUT_DIR  ->  OUT_DIR/NAME_<period>_{train,test,meta}.csv
Prints one line per group: period horizon season_length series."""
import csv
import os
import sys
from collections import defaultdict

data, name, out = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(out, exist_ok=True)
meta = list(csv.DictReader(open(os.path.join(data, f"{name}_meta.csv"))))
group_of = {r["item_id"]: r["period"].lower() for r in meta}
groups = defaultdict(list)
for r in meta:
    groups[r["period"].lower()].append(r)
for part in ("train", "test", "meta"):
    src = os.path.join(data, f"{name}_{part}.csv")
    with open(src, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        writers, files = {}, []
        for g in groups:
            fh = open(os.path.join(out, f"{name}_{g}_{part}.csv"), "w", newline="")
            files.append(fh)
            w = csv.writer(fh)
            w.writerow(header)
            writers[g] = w
        for row in reader:
            writers[group_of[row[0]]].writerow(row)
        for fh in files:
            fh.close()
for g, rows in groups.items():
    print(g, rows[0]["h"], rows[0]["season_length"], len(rows))
