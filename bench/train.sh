#!/usr/bin/env bash
# A training run of a split_by forecaster with hundreds of model groups, through the command
# line: GROUPS groups (default 300) of SERIES series each (default 3) of DAYS daily values
# (default 365, weekly seasonality, trend and noise), one `tsloop train` that registers a version
# per group, then a second one on the same data (every group now has a champion to compare with).
# Prints the wall time and peak RSS of each run and its steps' times from `tsloop runs show`.
#   bench/train.sh [TSLOOP] [GROUPS] [SERIES] [DAYS] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
TSLOOP=$(realpath "${1:-build/tsloop}")
groups=${2:-300}
series=${3:-3}
days=${4:-365}
threads=${5:-$(getconf _NPROCESSORS_ONLN)}
[ -x "$TSLOOP" ] || { echo "train.sh: $TSLOOP is missing; run make build" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$groups" "$series" "$days" "$tmp/data.csv" <<'PY'
import datetime, math, random, sys
groups, series, days, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rnd = random.Random(7)
d0 = datetime.date(2025, 1, 1)
dates = [(d0 + datetime.timedelta(days=t)).isoformat() for t in range(days)]
with open(path, "w") as f:
    f.write("item_id,timestamp,store,target_value\n")
    for g in range(groups):
        for s in range(series):
            level, trend, amp = 50 + 30 * rnd.random(), 0.05 * rnd.random(), 10 * rnd.random()
            out = []
            for t in range(days):
                y = level + trend * t + amp * math.sin(2 * math.pi * t / 7) + 3 * rnd.gauss(0, 1)
                out.append("g%03d_s%d,%s,store%03d,%.2f\n" % (g, s, dates[t], g, max(y, 0)))
            f.write("".join(out))
PY
"$TSLOOP" init "$tmp/proj" >/dev/null
cat >"$tmp/proj/tsloop.yaml" <<'YAML'
version: 1
name: bench
datasets:
  sales:
    frequency: D
    columns: {dimensions: [store]}
forecasters:
  by_store:
    dataset: sales
    horizon: 14
    split_by: [store]
YAML
"$TSLOOP" ingest "$tmp/data.csv" --project "$tmp/proj" --quiet
echo "tsloop $("$TSLOOP" version | head -1); $threads threads; $groups groups x $series series x $days days" >&2
for run in 1 2; do
  t0=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$tmp/time" "$TSLOOP" train by_store --project "$tmp/proj" \
    --threads "$threads" --quiet --json >"$tmp/out.json"
  t1=$(date +%s.%N)
  python3 - "$tmp/out.json" "$run" "$t0" "$t1" "$(cat "$tmp/time")" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))[0]
secs = float(sys.argv[4]) - float(sys.argv[3])
st = {}
for v in d["versions"]:
    st[v["status"]] = st.get(v["status"], 0) + 1
print("run %s: execution %s %s in %.1f s, peak RSS %.0f MB, %d versions %s" % (
    sys.argv[2], d["execution"], d["status"], secs, int(sys.argv[5]) / 1024, len(d["versions"]), st))
PY
  id=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[0]['execution'])" "$tmp/out.json")
  "$TSLOOP" runs show "$id" --project "$tmp/proj" --json | python3 -c "
import json, sys
d = json.load(sys.stdin)
print('  steps: ' + ', '.join('%s %.1f s' % (s['name'], s['attempts'][-1]['seconds']) for s in d['steps']))"
done
