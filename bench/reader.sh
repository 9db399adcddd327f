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
awk -v items="$items" -v per="$per" -v rows="$rows" 'BEGIN {
    print "item_id,timestamp,target_value,store";
    srand(42); n = 0;
    for (i = 0; i < items && n < rows; i++) {
        t0 = 1704067200 + (i % 24) * 3600;
        for (k = 0; k < per && n < rows; k++, n++) {
            t = t0 + k * 3600;
            v = (k % 97 == 13) ? "NA" : sprintf("%.*f", 1 + (k % 4), 100 + 50 * rand());
            printf "item_%05d,%s,%s,s%d\n", i, strftime("%Y-%m-%dT%H:%M:%SZ", t, 1), v, i % 50;
        }
    }
}' > "$tmp/big.csv"
gzip -1 -k "$tmp/big.csv"
ls -l "$tmp"/big.csv* | awk '{ printf "  %s: %.1f MB\n", $NF, $5 / 1e6 }' >&2

"$bench" "$tmp/big.csv" 3 --rows-only
"$bench" "$tmp/big.csv" 3
"$bench" "$tmp/big.csv.gz" 2
for f in m4weekly_train.csv gefload_train.csv.gz m1_train.csv; do
    [ -f "$data/$f" ] && "$bench" "$data/$f" 10
done
exit 0
