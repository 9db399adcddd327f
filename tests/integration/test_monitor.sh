#!/usr/bin/env bash
# The evaluation loop end to end: a project trained and deployed, `tsloop serve` answering a
# forecast over HTTP (captured), ground truth ingested with --no-evaluate so that the daemon's
# evaluator thread (following the event log) is what evaluates it: good actuals give OK,
# breaching ones ALARM within a second of their commit (measured from the two events' times),
# `tsloop alarms` and GET /v1/alarms show it, the alarm.state_changed event carries the shared
# contract's fields; a late correction re-evaluates its day (by the CLI's own evaluation) and
# clears the alarm without counting a point twice; `tsloop metrics` and GET /v1/metrics list
# the datapoints. Prints the measured latency.
# usage: test_monitor.sh PATH/TO/tsloop   (ctest passes it)
set -uo pipefail
TSLOOP=$(cd "$(dirname "$1")" && pwd -P)/$(basename "$1")
tmp=$(mktemp -d)
tmp=$(cd "$tmp" && pwd -P)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
. "$(dirname "$0")/lib.sh"
P=(--project "$tmp/shop")

make_project "$tmp/shop"
cat >>"$tmp/shop/tsloop.yaml" <<'YAML'
endpoints:
  prod:
    forecaster: daily
    requires_approval: false
monitors:
  prod-mape:
    endpoint: prod
    metric: mape
    window: day
    threshold: 10
    evaluation_periods: 1
    actions: [retrain, notify]
  prod-run-mase:
    endpoint: prod
    metric: mase
    window: run
    threshold: {policy: baseline, factor: 3}
  prod-drift:
    kind: drift
    endpoint: prod
    statistic: wasserstein
    threshold: 5
    drift_thresholds: {min_count: 3}
YAML
gen "$tmp/hist.csv" 3 60
expect_exit 0 "ingest history" "$TSLOOP" ingest "${P[@]}" "$tmp/hist.csv"
expect_exit 0 "train" "$TSLOOP" train daily "${P[@]}"
expect_exit 0 "deploy" "$TSLOOP" deploy daily/1 --endpoint prod "${P[@]}"
"$TSLOOP" token create --name r --role reader "${P[@]}" >"$tmp/tok_r" 2>/dev/null
R=(-H "Authorization: Bearer $(cat "$tmp/tok_r")")
expect_exit 0 "alarms before any data" "$TSLOOP" alarms "${P[@]}" --json
check "the monitors, INSUFFICIENT_DATA, never evaluated" test "$(jq_py "$tmp/out" \
  "[(a['monitor'], a['state'], a['evaluated_at']) for a in d['alarms']][:2]")" = \
  "[('prod-mape', 'INSUFFICIENT_DATA', None), ('prod-run-mase', 'INSUFFICIENT_DATA', None)]"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
U="http://127.0.0.1:$port"
"$TSLOOP" serve "${P[@]}" --listen "127.0.0.1:$port" --threads 2 2>"$tmp/serve.log" &
pid=$!
ready=0
for _ in $(seq 100); do
  if curl -sf "$U/readyz" >/dev/null 2>&1; then ready=1; break; fi
  sleep 0.1
done
check "ready" test "$ready" = 1
code() {
  local m=$1 path=$2; shift 2
  curl -s -o "$tmp/body" -w '%{http_code}' -X "$m" "$@" "$U$path"
}
check "forecast over HTTP" test "$(code POST /v1/endpoints/prod/forecast "${R[@]}" \
  -d '{"items":["item000","item001","item002"],"inference_id":"day-60"}')" = 200
sleep 1.2 # captures are group-committed within a second

# wait_state NAME STATE: polls `tsloop alarms NAME --json` for up to 5 s.
wait_state() {
  for _ in $(seq 250); do
    "$TSLOOP" alarms "$1" "${P[@]}" --json >"$tmp/alarm" 2>/dev/null
    [ "$(jq_py "$tmp/alarm" "d['state']")" = "$2" ] && return 0
    sleep 0.02
  done
  return 1
}

gen "$tmp/day60.csv" 3 1 0 60
expect_exit 0 "ingest day 60 (daemon evaluates)" "$TSLOOP" ingest --no-evaluate "${P[@]}" "$tmp/day60.csv"
check "good actuals: OK" wait_state prod-mape OK
gen "$tmp/day61.csv" 3 1 30 61
expect_exit 0 "ingest a breaching day 61" "$TSLOOP" ingest --no-evaluate "${P[@]}" "$tmp/day61.csv"
check "breaching actuals: ALARM" wait_state prod-mape ALARM
"$TSLOOP" events "${P[@]}" --json --limit 1000 >"$tmp/events"
latency=$(python3 - "$tmp/events" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
# `events --json` prints times in seconds: the ids are looked up in the store for milliseconds
ing = [e for e in ev if e["type"] == "dataset.ingested"][-1]
al = [e for e in ev if e["subject"] == "monitor:prod-mape" and e["payload"]["state"] == "ALARM"][-1]
print(ing["id"], al["id"])
PY
)
ids=($latency)
ms=$(python3 - "$tmp/shop/.tsloop/store.db" "${ids[0]}" "${ids[1]}" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
a = db.execute("select at_ms from events where id = ?", (int(sys.argv[2]),)).fetchone()[0]
b = db.execute("select at_ms from events where id = ?", (int(sys.argv[3]),)).fetchone()[0]
print(b - a)
PY
)
echo "measured: alarm.state_changed recorded ${ms} ms after the breaching ingest's commit"
check "alarm within 1 s of the breaching data" test "$ms" -lt 1000
check "the event carries the contract's fields" python3 - "$tmp/events" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
al = [e for e in ev if e["subject"] == "monitor:prod-mape" and e["payload"]["state"] == "ALARM"][-1]
p = al["payload"]
assert al["subject"] == "monitor:prod-mape", al
assert (p["monitor"], p["kind"], p["forecaster"], p["endpoint"], p["metric"]) == \
    ("prod-mape", "accuracy", "daily", "prod", "mape"), p
assert (p["previous"], p["state"], p["threshold"], p["comparison"]) == \
    ("OK", "ALARM", 10.0, "GreaterThanThreshold"), p
assert p["value"] > 10 and p["reason"].startswith("1 of the last 1 datapoints"), p
assert p["datapoints"][-1]["window_start"] == "2026-03-03T00:00:00Z", p
assert p["actions"] == ["retrain", "notify"] and p["at"].endswith("Z"), p
PY
expect_exit 0 "tsloop alarms" "$TSLOOP" alarms "${P[@]}"
check "shows the ALARM" grep -q "^prod-mape  *ALARM" "$tmp/out"
check "GET /v1/alarms/prod-mape" test "$(code GET /v1/alarms/prod-mape "${R[@]}")" = 200
check "ALARM with its history" test "$(jq_py "$tmp/body" \
  "d['state'], [(h['previous'], h['state']) for h in d['history']]")" = \
  "ALARM [('OK', 'ALARM'), ('INSUFFICIENT_DATA', 'OK')]"
check "GET /v1/alarms" test "$(code GET /v1/alarms "${R[@]}")" = 200
check "GET /v1/alarms/nothing: 404" test "$(code GET /v1/alarms/nothing "${R[@]}")" = 404
check "GET /v1/metrics" test "$(code GET "/v1/metrics?monitor=prod-mape&metric=mape" "${R[@]}")" = 200
check "two daily MAPE datapoints, 3 points each" test "$(jq_py "$tmp/body" \
  "[(p['window'], p['n']) for p in d['datapoints']]")" = "[('2026-03-02', 3), ('2026-03-03', 3)]"
check "bad query: 400" test "$(code GET "/v1/metrics?limit=x" "${R[@]}")" = 400
check "the run window too" test "$(code GET "/v1/metrics?monitor=prod-run-mase&metric=mase" "${R[@]}")" = 200
check "run window over both days" test "$(jq_py "$tmp/body" \
  "[(p['window'], p['n']) for p in d['datapoints']]")" = "[('run:day-60', 6)]"

# Drift of each day's data against the deployed version's baseline (pooled over the 3 items:
# min_count 3): day 61, shifted by 30, is many standard deviations away; day 60 is not.
check "drift datapoints" test "$(code GET "/v1/metrics?monitor=prod-drift&metric=wasserstein" "${R[@]}")" = 200
check "day 61's central Wasserstein distance far above day 60's" python3 - "$tmp/body" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["datapoints"]
v = {p["window"]: p["value"] for p in d}
assert v["2026-03-02"] < 1.5 and v["2026-03-03"] > 5, v
PY
check "per item and the share of drifted items stored too" test "$(code GET \
  "/v1/metrics?monitor=prod-drift&item=*&limit=1" "${R[@]}")" = 200
check "3 statistics x (3 items + pooled) + share" test "$(jq_py "$tmp/body" "len(d['datapoints'])")" = 13
expect_exit 0 "drift alarm" "$TSLOOP" alarms prod-drift "${P[@]}" --json
check "drift ALARM on the shifted day" test "$(jq_py "$tmp/out" "d['state'], d['kind'], d['metric']")" = \
  "ALARM drift wasserstein"

# A late correction of day 61 (the CLI evaluates it itself): the day is recomputed, the alarm
# clears, nothing is counted twice.
gen "$tmp/fix61.csv" 3 1 0 61
expect_exit 0 "ingest the corrected day 61" "$TSLOOP" ingest "${P[@]}" "$tmp/fix61.csv"
expect_exit 0 "alarms after the correction" "$TSLOOP" alarms prod-mape --history "${P[@]}" --json
check "OK again, three changes" test "$(jq_py "$tmp/out" "d['state'], d['changes'], len(d['history'])")" = "OK 3 3"
expect_exit 0 "metrics" "$TSLOOP" metrics --monitor prod-mape --metric mape "${P[@]}" --json
check "still 3 points per day, day 61 below the threshold" test "$(jq_py "$tmp/out" \
  "[p['n'] for p in d['datapoints']], d['datapoints'][1]['value'] < 10")" = "[3, 3] True"
expect_exit 0 "metrics as text" "$TSLOOP" metrics --monitor prod-mape --metric mape "${P[@]}"
check "a row per day" test "$(grep -c "prod-mape" "$tmp/out")" = 2
expect_exit 2 "metrics: --monitor and --endpoint" "$TSLOOP" metrics --monitor a --endpoint b "${P[@]}"
expect_exit 1 "alarms: unknown monitor" "$TSLOOP" alarms nothing "${P[@]}"

# A monitor added to tsloop.yaml while the daemon runs is evaluated from the next ingest on:
# the evaluator loads the file again when it changes (monitors is the file's last section).
cat >>"$tmp/shop/tsloop.yaml" <<'YAML'
  added-mae:
    endpoint: prod
    metric: mae
    window: day
    threshold: 0.000001
    evaluation_periods: 1
YAML
sleep 0.5
gen "$tmp/day62.csv" 3 1 0 62
expect_exit 0 "ingest day 62 (daemon evaluates)" "$TSLOOP" ingest --no-evaluate "${P[@]}" "$tmp/day62.csv"
check "the added monitor was evaluated by the running daemon" wait_state added-mae ALARM
check "the daemon said it loaded the configuration again" grep -q '"configuration loaded again","thread":"evaluator"' "$tmp/serve.log"

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
check "SIGTERM: exit 0" test "$rc" = 0
check "the evaluator logged its evaluations" grep -q '"msg":"evaluated"' "$tmp/serve.log"
finish
