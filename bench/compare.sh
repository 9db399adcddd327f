#!/usr/bin/env bash
# Cost of the compare step's champion-against-challenger on recent ground truth
# (docs/retraining.md): a project with ITEMS daily series of DAYS days, the default candidates,
# a version trained and deployed, WINDOWS batch forecasts captured one day apart with each
# day's actuals ingested after it, then `tsloop retrain`: the compare step refits the
# challenger's chosen model of every item at every captured origin (ITEMS x WINDOWS refits).
# Prints the steps' wall times from `tsloop runs show` and the comparison's summary.
#
# usage: bench/compare.sh [TSLOOP [ITEMS [DAYS [WINDOWS]]]]   (default build/tsloop 300 200 7)
# Single-threaded (-j 1) so that the times compare between machines and versions.
set -euo pipefail
cd "$(dirname "$0")/.."
TSLOOP=$(realpath "${1:-build/tsloop}")
ITEMS=${2:-300}
DAYS=${3:-200}
WINDOWS=${4:-7}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
P=(--project "$tmp/p")

# gen FILE FROM TO: days [FROM, TO) of every item: a weekly cycle, a slow trend, noise.
gen() {
  python3 - "$1" "$ITEMS" "$2" "$3" <<'PY'
import datetime, random, sys
path, items, t0, t1 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
d0 = datetime.date(2026, 1, 1)
with open(path, "w") as f:
    f.write("item_id,timestamp,target_value\n")
    for i in range(items):
        rnd = random.Random(1000 * i)  # an item's history does not depend on the range asked
        ys = [50 + 3 * (i % 17) + (8 + i % 5) * (t % 7 >= 5) + 0.03 * (i % 11) * t
              + (2 + i % 3) * rnd.gauss(0, 1) for t in range(t1)]
        for t in range(t0, t1):
            f.write("item%04d,%s,%.3f\n" % (i, (d0 + datetime.timedelta(days=t)).isoformat(), ys[t]))
PY
}

"$TSLOOP" init "$tmp/p" >/dev/null
cat >"$tmp/p/tsloop.yaml" <<YAML
version: 1
name: comparebench
datasets:
  sales: {frequency: D}
forecasters:
  daily:
    dataset: sales
    horizon: 7
    approval: {policy: manual}
    compare: {metric: mase, windows: $WINDOWS}
YAML
gen "$tmp/hist.csv" 0 "$DAYS"
"$TSLOOP" ingest "${P[@]}" "$tmp/hist.csv" >/dev/null
"$TSLOOP" train daily "${P[@]}" --quiet -j 1 >/dev/null
"$TSLOOP" models approve daily/1 "${P[@]}" --why bench >/dev/null
"$TSLOOP" deploy daily/1 --endpoint prod "${P[@]}" >/dev/null
for ((k = 0; k < WINDOWS; k++)); do
  "$TSLOOP" predict --endpoint prod --output "$tmp/f$k.csv" "${P[@]}" >/dev/null 2>&1
  gen "$tmp/day$k.csv" $((DAYS + k)) $((DAYS + k + 1))
  "$TSLOOP" ingest "${P[@]}" "$tmp/day$k.csv" >/dev/null
done
start=$(date +%s.%N)
"$TSLOOP" retrain daily --why bench "${P[@]}" >/dev/null
"$TSLOOP" runs resume daily -j 1 --quiet "${P[@]}" >/dev/null
end=$(date +%s.%N)
id=$("$TSLOOP" runs list daily "${P[@]}" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
echo "compare.sh: $ITEMS items x $DAYS days, $WINDOWS captured origins; retraining $(printf '%.1f' "$(echo "$end - $start" | bc)") s wall"
"$TSLOOP" runs show "$id" "${P[@]}" | sed 's/^/  /'
"$TSLOOP" models show daily/2 "${P[@]}" | grep -i -A4 "recent" | sed 's/^/  /' || true
