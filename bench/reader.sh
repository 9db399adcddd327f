#!/usr/bin/env bash
# Reader throughput and memory: generates a large CSV (5 million rows across 10,000 hourly
# items, by default) in a temporary folder, then runs build/bench/bench_reader on it, on its
# gzip, and on the shared data sets (m4weekly_train.csv, gefload_train.csv.gz) when present.
#   bench/reader.sh [BUILD_DIR] [ROWS] [ITEMS]
# Prints one line per run: rows/s over the passes and the process's peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
rows=${2:-5000000}
items=${3:-10000}
bench="$build/bench/bench_reader"
[ -x "$bench" ] || { echo "reader.sh: $bench is missing; run make build" >&2; exit 1; }
data=${TSL_SHARED_DATA:-../shared/data}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
per=$(( (rows + items - 1) / items ))
echo "generating $rows rows ($items items x $per hours) in $tmp ..." >&2
# Item-major, as exports usually are; values with one to four decimals, some missing.
python3 - "$items" "$per" "$rows" "$tmp/big.csv" <<'PY'
import datetime, random, sys
items, per, rows, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
start = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
hours = [(start + datetime.timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ")
         for h in range(per + 24)]
rnd = random.Random(42)
n = 0
with open(path, "w") as f:
    f.write("item_id,timestamp,target_value,store\n")
    for i in range(items):
        out = []
        for k in range(per):
            if n == rows:
                break
            v = "NA" if k % 97 == 13 else "%.*f" % (1 + k % 4, 100 + 50 * rnd.random())
            out.append("item_%05d,%s,%s,s%d\n" % (i, hours[i % 24 + k], v, i % 50))
            n += 1
        f.write("".join(out))
PY
gzip -1 -k "$tmp/big.csv"
ls -l "$tmp"/big.csv* | awk '{ printf "  %s: %.1f MB\n", $NF, $5 / 1e6 }' >&2

"$bench" "$tmp/big.csv" 3 --rows-only
"$bench" "$tmp/big.csv" 3
"$bench" "$tmp/big.csv.gz" 2
for f in m4weekly_train.csv gefload_train.csv.gz m1_train.csv; do
    [ -f "$data/$f" ] && "$bench" "$data/$f" 10
done
exit 0
