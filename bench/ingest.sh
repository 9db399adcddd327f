#!/usr/bin/env bash
# Ingest throughput through the command line: `tsloop ingest` of a few million rows into a
# project's embedded store (the bar of issue 4: 500,000 rows per second). Generates ROWS rows
# (default 3,000,000: ITEMS hourly items, default 3,000, item-major as exports usually are, with a
# dimension column and some missing values) in a temporary folder, makes a project whose data set
# declares the frequency and the dimension, and times, each as one `tsloop ingest` process:
#   1. fresh      every row new (the data set is created by this ingest)
#   2. unchanged  the same file again
#   3. changed    the file with every tenth value changed (updates and revisions)
#   4. gzip       a fresh data set from the gzipped file
# Prints wall seconds, rows/s, CPU seconds and peak RSS of each, and the store's size.
#   bench/ingest.sh [TSLOOP] [ROWS] [ITEMS]
set -euo pipefail
cd "$(dirname "$0")/.."
TSLOOP=$(realpath "${1:-build/tsloop}")
rows=${2:-3000000}
items=${3:-3000}
[ -x "$TSLOOP" ] || { echo "ingest.sh: $TSLOOP is missing; run make build" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
per=$(( (rows + items - 1) / items ))
echo "generating $rows rows ($items items x $per hours) in $tmp ..." >&2
python3 - "$items" "$per" "$rows" "$tmp/big.csv" "$tmp/changed.csv" <<'PY'
import datetime, random, sys
items, per, rows, path, changed = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
start = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
hours = [(start + datetime.timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ") for h in range(per)]
rnd = random.Random(42)
n = 0
with open(path, "w") as f, open(changed, "w") as g:
    f.write("item_id,timestamp,store,target_value\n")
    g.write("item_id,timestamp,store,target_value\n")
    for i in range(items):
        a, b = [], []
        for k in range(per):
            if n == rows:
                break
            v = "NA" if k % 97 == 13 else "%.*f" % (1 + k % 4, 100 + 50 * rnd.random())
            line = "item_%05d,%s,s%d," % (i, hours[k], i % 50)
            a.append(line + v + "\n")
            b.append(line + ("%.2f" % (200 + k) if n % 10 == 0 else v) + "\n")
            n += 1
        f.write("".join(a))
        g.write("".join(b))
PY
gzip -1 -k "$tmp/big.csv"
"$TSLOOP" init "$tmp/proj" >/dev/null
cat >"$tmp/proj/tsloop.yaml" <<'YAML'
version: 1
name: bench
datasets:
  load:
    frequency: H
    columns: {dimensions: [store]}
  load_gz:
    frequency: H
    columns: {dimensions: [store]}
YAML
echo "tsloop $("$TSLOOP" version | head -1); $(getconf _NPROCESSORS_ONLN) cores; $rows rows" >&2
printf '%-10s %10s %12s %10s %10s\n' phase seconds rows/s cpu_s rss_MB
run() { # run PHASE FILE DATASET
  local t0 t1
  t0=$(date +%s.%N)
  /usr/bin/time -f "%U %S %M" -o "$tmp/time" "$TSLOOP" ingest "$2" --dataset "$3" \
    --project "$tmp/proj" --quiet
  t1=$(date +%s.%N)
  read -r user sys rss <"$tmp/time"
  awk -v p="$1" -v a="$t0" -v b="$t1" -v r="$rows" -v u="$user" -v s="$sys" -v m="$rss" \
    'BEGIN { printf "%-10s %10.2f %12.0f %10.2f %10.0f\n", p, b - a, r / (b - a), u + s, m / 1024 }'
}
run fresh "$tmp/big.csv" load
run unchanged "$tmp/big.csv" load
run changed "$tmp/changed.csv" load
run gzip "$tmp/big.csv.gz" load_gz
ls -l "$tmp/proj/.tsloop/store.db" | awk '{ printf "store: %.0f MB\n", $5 / 1e6 }'
