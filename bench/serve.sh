#!/usr/bin/env bash
# Serving throughput (the bar of issue 5: 20,000 forecast requests per second on 2 cores with
# p99 under 5 ms, captures included): wrk against POST /v1/endpoints/prod/forecast, one item,
# 24 steps, p10/p50/p90, keep-alive, a reader token. Makes a project on `tsloop demo` data
# (hourly solar, SITES sites), trains it with auto approval, deploys, starts `tsloop serve`
# with THREADS HTTP threads on a free loopback port, runs wrk for SECONDS with CONNS
# connections over 2 threads, then checks that every request's capture reached the store
# (after SIGTERM, which writes the queue) and prints the daemon's peak RSS. With SHADOW=1, a
# second version (seasonal naive only) runs in shadow on the endpoint during the run
# (docs/retraining.md): the same route, plus the shadow thread's forecasts and captures; the
# shadow's counters and captures are printed too.
#   [SHADOW=1] bench/serve.sh [TSLOOP] [SECONDS] [CONNS] [THREADS] [SITES]
# Note that wrk and the daemon share the machine's cores: on 2 cores the daemon gets about
# half of them, so this measures a lower bound of what the daemon alone sustains.
set -euo pipefail
cd "$(dirname "$0")/.."
TSLOOP=$(realpath "${1:-build/tsloop}")
secs=${2:-10}
conns=${3:-32}
threads=${4:-2}
sites=${5:-4}
command -v wrk >/dev/null || { echo "serve.sh: wrk is missing (scripts/deps.sh --bench)" >&2; exit 1; }
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
"$TSLOOP" demo --engine --dir "$tmp/demo" --sites "$sites" --days 60 >/dev/null 2>&1
"$TSLOOP" init "$tmp/p" >/dev/null
cat >"$tmp/p/tsloop.yaml" <<'YAML'
version: 1
name: bench-serve
datasets:
  solar: {frequency: H, columns: {dimensions: [region]}, non_negative: true}
forecasters:
  solar:
    dataset: solar
    horizon: 24
    candidates: [snaive, theta, ets]
    approval: {policy: auto, margin: 0}
YAML
P=(--project "$tmp/p")
"$TSLOOP" ingest "${P[@]}" "$tmp/demo/solar.csv" >/dev/null
"$TSLOOP" train solar "${P[@]}" >/dev/null 2>&1
"$TSLOOP" deploy solar/1 --endpoint prod "${P[@]}" >/dev/null
if [ "${SHADOW:-0}" = 1 ]; then
  sed -i 's/candidates: \[snaive, theta, ets\]/candidates: [snaive]/; s/approval: {policy: auto, margin: 0}/approval: manual/' "$tmp/p/tsloop.yaml"
  "$TSLOOP" train solar "${P[@]}" >/dev/null 2>&1
  "$TSLOOP" deploy solar/2 --endpoint prod --shadow --windows 7 "${P[@]}" >/dev/null
fi
token=$("$TSLOOP" token create --name bench --role reader "${P[@]}" 2>/dev/null)
item=$(sed -n 2p "$tmp/demo/solar.csv" | cut -d, -f1)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$TSLOOP" serve "${P[@]}" --listen "127.0.0.1:$port" --threads "$threads" 2>"$tmp/serve.log" &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
if [ "${SHADOW:-0}" = 1 ]; then
  for _ in $(seq 100); do
    curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$port/v1/endpoints" | grep -q '"shadow":{' && break
    sleep 0.1
  done
fi
cat >"$tmp/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"items":["$item"],"horizon":24}'
wrk.headers["Authorization"] = "Bearer $token"
wrk.headers["Content-Type"] = "application/json"
LUA
echo "serve.sh: $secs s, $conns connections, daemon threads $threads, item $item" >&2
wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$tmp/post.lua" \
  "http://127.0.0.1:$port/v1/endpoints/prod/forecast" | tee "$tmp/wrk.out"
curl -s "http://127.0.0.1:$port/metrics" | grep -E '^tsloop_(forecasts_total|capture_queue_depth|captures_written_total|capture_failures_total|shadow_[a-z_]+)'
rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
kill -TERM "$pid"
wait "$pid" || true
pid=
caps=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from captures where shadow = 0").fetchone()[0])' "$tmp/p/.tsloop/store.db")
reqs=$(awk '/requests in/ {print $1}' "$tmp/wrk.out")
echo "captures in the store after SIGTERM: $caps (wrk completed $reqs requests)"
if [ "${SHADOW:-0}" = 1 ]; then
  shadow=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from captures where shadow = 1").fetchone()[0])' "$tmp/p/.tsloop/store.db")
  echo "shadow captures in the store: $shadow"
fi
echo "daemon peak RSS: $((rss / 1024)) MiB"
