#!/usr/bin/env bash
# Memory of a daemon serving a large deployment, end to end (the bar of issue 5: under 500 MB
# with 100,000 series deployed): synthetic daily series (SERIES of them, LENGTH days each, a
# weekly pattern plus noise) ingested into a project, trained with seasonal naive only (cheap:
# what is measured is the daemon, not model selection), deployed, then `tsloop serve` until
# /readyz answers; prints the daemon's resident memory (VmRSS) and peak (VmHWM) after a
# forecast request over 100 items, and how long each stage took.
#   bench/daemon_memory.sh [TSLOOP] [SERIES] [LENGTH] [PROJECT]
# With PROJECT (a directory) the project is made there and kept; when it already holds the
# deployment from an earlier run, only the daemon part runs again.
set -euo pipefail
cd "$(dirname "$0")/.."
TSLOOP=$(realpath "${1:-build/tsloop}")
series=${2:-100000}
length=${3:-28}
tmp=$(mktemp -d)
proj=${4:-$tmp/p}
pid=
trap '[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
now() { date +%s.%N; }
P=(--project "$proj")
t0=$(now)
t1=$t0
if [ -f "$proj/.tsloop/deployed" ]; then
  echo "daemon_memory.sh: reusing the deployment in $proj" >&2
else
python3 - "$tmp/data.csv" "$series" "$length" <<'PY'
import datetime, random, sys
path, n, days = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(1)
d0 = datetime.date(2026, 1, 1)
dates = [(d0 + datetime.timedelta(days=t)).isoformat() for t in range(days)]
with open(path, "w") as f:
    f.write("item_id,timestamp,target_value\n")
    for i in range(n):
        level = 10 + (i % 97)
        f.writelines("s%06d,%s,%.2f\n" % (i, dates[t], level * (1.3 if t % 7 >= 5 else 1.0) + rnd.random())
                     for t in range(days))
PY
"$TSLOOP" init "$proj" >/dev/null
cat >"$proj/tsloop.yaml" <<'YAML'
version: 1
name: bench-memory
datasets:
  sales: {frequency: D}
forecasters:
  sales:
    dataset: sales
    horizon: 7
    candidates: [snaive]
    backtest_windows: 1
    ensembles: false
    approval: {policy: auto, margin: 0}
YAML
t0=$(now)
"$TSLOOP" ingest "${P[@]}" "$tmp/data.csv" --quiet >/dev/null
t1=$(now)
"$TSLOOP" train sales "${P[@]}" >/dev/null 2>&1
t2=$(now)
"$TSLOOP" deploy sales/1 --endpoint prod "${P[@]}" >/dev/null
"$TSLOOP" token create --name bench --role reader "${P[@]}" >"$proj/.tsloop/deployed" 2>/dev/null
fi
t2=${t2:-$(now)}
token=$(cat "$proj/.tsloop/deployed")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$TSLOOP" serve "${P[@]}" --listen "127.0.0.1:$port" --threads 2 2>"$tmp/serve.log" &
pid=$!
until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do
  kill -0 "$pid" 2>/dev/null || { cat "$tmp/serve.log" >&2; exit 1; }
  sleep 0.2
done
t3=$(now)
items=$(python3 -c 'import json; print(json.dumps({"items": ["s%06d" % i for i in range(0, '"$series"', max(1, '"$series"' // 100))]}))')
curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$port/v1/endpoints/prod/forecast" \
  -d "$items" -o "$tmp/answer.json"
rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
loaded=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    d = json.loads(l)
    if d.get("msg") == "loaded": print(d["items"], d["load_s"])' "$tmp/serve.log")
kill -TERM "$pid"
wait "$pid" || true
pid=
printf 'series %d x %d days: ingest %.1f s, train %.1f s, daemon start to ready %.1f s (loaded items, load seconds: %s)\n' \
  "$series" "$length" "$(echo "$t1 - $t0" | bc)" "$(echo "$t2 - $t1" | bc)" "$(echo "$t3 - $t2" | bc)" "$loaded"
printf 'daemon memory: resident %.0f MiB, peak %.0f MiB (bar: 500 MB)\n' "$(echo "$rss / 1024" | bc -l)" "$(echo "$hwm / 1024" | bc -l)"
