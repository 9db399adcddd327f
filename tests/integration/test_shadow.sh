#!/usr/bin/env bash
# Shadow deployments end to end: a daemon serving daily/1 on prod, daily/2 started in shadow
# over HTTP; forecasts answer exactly as without the shadow (same body, byte for byte), both
# versions' forecasts are captured (the shadow's flagged, same inference id), as are a batch's
# (`tsloop predict`); the rules (live, other entry) are refused; `tsloop endpoints` shows the
# progress; a restart keeps the shadow; the accuracy monitor's datapoints come from the live
# captures only and the shadow's go to "prod-mape@shadow"; after two windows of actuals the
# comparison is made (model.compared with source shadow), and with approval auto and a margin
# the challenger is Approved and deployed (auto_deploy on_approval); `tsloop models show`
# shows the comparison; --stop ends a shadow; with compare.shadow a retrained version waits
# pending, running in shadow.
# usage: test_shadow.sh PATH/TO/tsloop   (ctest passes it)
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
DB="$tmp/shop/.tsloop/store.db"

# config APPROVAL CANDIDATES AUTO_DEPLOY: writes tsloop.yaml.
config() {
  cat >"$tmp/shop/tsloop.yaml" <<YAML
version: 1
name: shadowtest
datasets:
  sales:
    frequency: D
    columns:
      dimensions: [region]
    non_negative: true
forecasters:
  daily:
    dataset: sales
    horizon: 7
    candidates: [$2]
    backtest_windows: 2
    ensembles: false
    approval: $1
    compare: {metric: mae}
endpoints:
  prod:
    forecaster: daily
    requires_approval: false
    auto_deploy: $3
monitors:
  prod-mape:
    endpoint: prod
    metric: mape
    window: run
    threshold: 1000
YAML
}
# sql QUERY: one value from the store.
sql() {
  python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])" "$DB" "$1"
}
# sql_is QUERY VALUE: waits up to 10 s for QUERY to give VALUE (captures are group-committed).
sql_is() {
  for _ in $(seq 100); do
    [ "$(sql "$1")" = "$2" ] && return 0
    sleep 0.1
  done
  echo "  $1: $(sql "$1"), expected $2"
  return 1
}

"$TSLOOP" init "$tmp/shop" >/dev/null
config manual naive off
gen "$tmp/hist.csv" 3 60
expect_exit 0 "ingest history" "$TSLOOP" ingest "${P[@]}" "$tmp/hist.csv"
expect_exit 0 "train version 1 (naive)" "$TSLOOP" train daily "${P[@]}"
expect_exit 0 "deploy version 1" "$TSLOOP" deploy daily/1 --endpoint prod "${P[@]}"
config manual snaive off
expect_exit 0 "train version 2 (seasonal naive)" "$TSLOOP" train daily "${P[@]}"
check "version 2 pending" test "$(sql "select status from models where forecaster='daily' and version=2")" = PendingManualApproval
expect_exit 1 "the live version cannot run in shadow" "$TSLOOP" deploy daily/1 --endpoint prod --shadow "${P[@]}"
check "says why" grep -q "serves" "$tmp/err"
expect_exit 2 "--stop needs --shadow" "$TSLOOP" deploy --endpoint prod --stop "${P[@]}"
expect_exit 1 "no shadow to stop" "$TSLOOP" deploy --endpoint prod --shadow --stop "${P[@]}"
config '{policy: auto, margin: 0.1}' snaive on_approval

"$TSLOOP" token create --name r --role reader "${P[@]}" >"$tmp/tok_r" 2>/dev/null
"$TSLOOP" token create --name a --role approver "${P[@]}" >"$tmp/tok_a" 2>/dev/null
R=(-H "Authorization: Bearer $(cat "$tmp/tok_r")")
A=(-H "Authorization: Bearer $(cat "$tmp/tok_a")")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
U="http://127.0.0.1:$port"
serve() {
  "$TSLOOP" serve "${P[@]}" --listen "127.0.0.1:$port" --threads 2 2>>"$tmp/serve.log" &
  pid=$!
  for _ in $(seq 100); do
    curl -sf "$U/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}
code() {
  local m=$1 path=$2; shift 2
  curl -s -o "$tmp/body" -D "$tmp/headers" -w '%{http_code}' -X "$m" "$@" "$U$path"
}
# wait_for DESCRIPTION PYTHON-CONDITION-ON-GET /v1/endpoints (d)
wait_endpoints() {
  for _ in $(seq 50); do
    curl -s "${R[@]}" "$U/v1/endpoints" >"$tmp/eps"
    [ "$(jq_py "$tmp/eps" "$1")" = True ] && return 0
    sleep 0.2
  done
  return 1
}
FC='{"items":["item000","item001","item002"],"inference_id":"same"}'
check "daemon ready" serve
check "forecast before the shadow" test "$(code POST /v1/endpoints/prod/forecast "${R[@]}" -d "$FC")" = 200
cp "$tmp/body" "$tmp/before"
grep -v -i '^date:' "$tmp/headers" >"$tmp/headers_before"

check "a reader cannot start a shadow: 403" test "$(code PUT /v1/endpoints/prod/shadow "${R[@]}" -d '{"forecaster":"daily","version":2}')" = 403
check "the live version over HTTP: 409" test "$(code PUT /v1/endpoints/prod/shadow "${A[@]}" -d '{"forecaster":"daily","version":1}')" = 409
check "start the shadow over HTTP" test "$(code PUT /v1/endpoints/prod/shadow "${A[@]}" -d '{"forecaster":"daily","version":2,"windows":2,"why":"try snaive"}')" = 200
check "it answers the shadow" test "$(jq_py "$tmp/body" "(d['version'], d['windows'], d['champion_version'], d['outcome'])")" = "(2, 2, 1, 'running')"
check "GET shows it" test "$(code GET /v1/endpoints/prod/shadow "${R[@]}")" = 200
check "GET: running, no history" test "$(jq_py "$tmp/body" "(d['shadow']['version'], d['history'])")" = "(2, [])"
check "the daemon loads the shadow" wait_endpoints "d['endpoints'][0]['shadow'] is not None and d['endpoints'][0]['shadow']['version'] == 2"

check "forecast with the shadow" test "$(code POST /v1/endpoints/prod/forecast "${R[@]}" -d "$FC")" = 200
check "the same body, byte for byte" cmp -s "$tmp/before" "$tmp/body"
grep -v -i '^date:' "$tmp/headers" >"$tmp/headers_after"
check "the same headers" cmp -s "$tmp/headers_before" "$tmp/headers_after"
check "the live version answers" test "$(jq_py "$tmp/body" "d['model']['version']")" = 1
check "live captures of the request" sql_is "select count(*) from captures c join models m on m.id=c.model_id where inference_id='same' and shadow=0 and m.version=1" 6
check "shadow captures: same id, version 2, flagged" sql_is "select count(*) from captures c join models m on m.id=c.model_id where inference_id='same' and shadow=1 and m.version=2" 3
code GET /metrics >/dev/null
check "metrics count the shadow's requests" grep -q '^tsloop_shadow_requests_total 1$' "$tmp/body"
check "none dropped" grep -q '^tsloop_shadow_dropped_total 0$' "$tmp/body"

expect_exit 0 "endpoints" "$TSLOOP" endpoints "${P[@]}"
check "endpoints shows the shadow and its progress" grep -q "daily/2 (0/2 windows)" "$tmp/out"
expect_exit 0 "batch forecast (tsloop predict)" "$TSLOOP" predict --endpoint prod --output "$tmp/batch.csv" --inference-id batch-1 "${P[@]}" --json
check "the batch's shadow captures" test "$(sql "select count(*) from captures where inference_id='batch-1' and shadow=1")" = 3
check "the batch file holds the live version only" test "$(wc -l <"$tmp/batch.csv")" = 22

# window 1: the actuals of days 60-66 (the forecasts' targets)
gen "$tmp/w1.csv" 3 7 0 60
expect_exit 0 "ingest days 60-66 (the daemon evaluates)" "$TSLOOP" ingest --no-evaluate "${P[@]}" "$tmp/w1.csv"
wait_progress() {
  for _ in $(seq 100); do
    [ "$(sql "select progress from shadows order by id desc limit 1")" = "$1" ] && return 0
    sleep 0.1
  done
  return 1
}
check "one window evaluated" wait_progress 1
check "still running" test "$(sql "select count(*) from shadows where ended_ms is null")" = 1
check "live datapoints of the monitor" test "$(sql "select count(*) from metric_datapoints where monitor='prod-mape' and item='' and step=0 and metric='mape'")" -ge 1
check "the shadow's datapoints apart" test "$(sql "select count(*) from metric_datapoints where monitor='prod-mape@shadow' and item='' and step=0 and metric='mape'")" -ge 1
check "they differ (the monitor scored the live captures)" test "$(sql "select count(*) from metric_datapoints a join metric_datapoints b on a.win=b.win and a.item=b.item and a.step=b.step and a.metric=b.metric where a.monitor='prod-mape' and b.monitor='prod-mape@shadow' and a.metric='mape' and a.item='' and a.step=0 and a.value<>b.value")" -ge 1
expect_exit 0 "the shadow's accuracy by tsloop metrics" "$TSLOOP" metrics --monitor prod-mape@shadow "${P[@]}" --json
check "lists it" python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d['datapoints'] else 1)" "$tmp/out"

# a restart keeps the shadow
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
check "SIGTERM: exit 0 (a sanitizer build: no leak, no error)" test "$rc" = 0
check "daemon restarted" serve
check "the shadow is loaded again" wait_endpoints "d['endpoints'][0]['shadow'] is not None"
for _ in $(seq 100); do
  code POST /v1/endpoints/prod/forecast "${R[@]}" -d '{"items":["item000","item001","item002"],"inference_id":"w2"}' >/dev/null
  [ "$(jq_py "$tmp/body" "d['forecasts'][0]['origin']")" = 2026-03-08T00:00:00Z ] && break
  sleep 0.1
done
check "forecast from day 66" test "$(jq_py "$tmp/body" "d['forecasts'][0]['origin']")" = 2026-03-08T00:00:00Z
check "its shadow twins" sql_is "select count(*) from captures c where inference_id='w2' and shadow=1 and origin=(select max(origin) from captures where inference_id='w2' and shadow=0)" 3

# window 2: days 67-73; the comparison, then the auto policy approves and deploys
gen "$tmp/w2.csv" 3 7 0 67
expect_exit 0 "ingest days 67-73" "$TSLOOP" ingest --no-evaluate "${P[@]}" "$tmp/w2.csv"
wait_done() {
  for _ in $(seq 150); do
    [ "$(sql "select coalesce(outcome,'') || decided from shadows order by id desc limit 1")" = completed1 ] && return 0
    sleep 0.1
  done
  return 1
}
check "the shadow completed and was decided" wait_done
"$TSLOOP" events "${P[@]}" --json --limit 1000 >"$tmp/events"
check "model.compared with source shadow" python3 - "$tmp/events" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
c = [e for e in ev if e["type"] == "model.compared" and e["payload"].get("source") == "shadow"]
assert len(c) == 1, c
p = c[0]["payload"]
assert p["entry"] == "daily" and p["version"] == 2 and p["champion_version"] == 1, p
assert p["endpoint"] == "prod" and p["metric"] == "mae" and p["origins"] == 2, p
assert p["points"] > 0 and p["challenger"] < p["champion"] and p["better"] is True, p
assert p["decision"] == "approved by policy auto", p
ends = [e["payload"] for e in ev if e["type"] == "model.shadow_ended"]
assert [e["outcome"] for e in ends] == ["completed"], ends
starts = [e["payload"] for e in ev if e["type"] == "model.shadow_started"]
assert starts[0]["champion_version"] == 1 and starts[0]["windows"] == 2, starts
print("shadow comparison:", p["metric"], p["challenger"], "against", p["champion"], "on", p["points"], "points")
PY
check "version 2 approved by the policy" test "$(sql "select status from models where forecaster='daily' and version=2")" = Approved
check "and deployed on prod (auto_deploy on_approval)" test "$(sql "select m.version from endpoints e join deployments d on d.id=e.current_id join models m on m.id=d.model_id where e.name='prod'")" = 2
check "the alarm's monitor never saw the shadow" test "$(sql "select count(*) from alarms where monitor like '%@shadow'")" = 0
expect_exit 0 "models show" "$TSLOOP" models show daily/2 "${P[@]}"
check "shows the shadow comparison" grep -q "^shadow .*mae .* at 2 origins" "$tmp/out"
expect_exit 0 "models show --json" "$TSLOOP" models show daily/2 "${P[@]}" --json
check "metrics.shadow has source shadow" test "$(jq_py "$tmp/out" "d['metrics']['shadow']['source']")" = shadow
check "GET /v1/models/daily/2" test "$(code GET /v1/models/daily/2 "${R[@]}")" = 200
check "its metrics carry the shadow comparison" test "$(jq_py "$tmp/body" "(d['metrics']['shadow']['source'], d['metrics']['shadow']['origins'], d['metrics']['shadow']['better'])")" = "('shadow', 2, True)"
expect_exit 0 "models diff" "$TSLOOP" models diff daily/1 daily/2 "${P[@]}"
check "diff shows it" grep -q "shadow comparison of daily/2" "$tmp/out"
check "the daemon dropped the ended shadow" wait_endpoints "d['endpoints'][0]['shadow'] is None and d['endpoints'][0]['version'] == 2"

# --stop
expect_exit 0 "version 1 in shadow of version 2" "$TSLOOP" deploy daily/1 --endpoint prod --shadow "${P[@]}"
check "windows default to compare.windows (7)" grep -q "for 7 windows" "$tmp/out"
expect_exit 0 "stop it" "$TSLOOP" deploy --endpoint prod --shadow --stop --why "enough" "${P[@]}"
check "stopped" test "$(sql "select outcome from shadows order by id desc limit 1")" = stopped
check "DELETE: nothing runs any more: 404" test "$(code DELETE /v1/endpoints/prod/shadow "${A[@]}")" = 404

# compare.shadow: a retrained version with a champion on prod runs there in shadow first
python3 - "$tmp/shop/tsloop.yaml" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read().replace("compare: {metric: mae}", "compare: {metric: mae, shadow: {endpoint: prod, windows: 3}}")
open(p, "w").write(s)
PY
expect_exit 0 "the configuration with compare.shadow" "$TSLOOP" config "${P[@]}"
expect_exit 0 "retrain: version 3" "$TSLOOP" train daily "${P[@]}"
check "version 3 pending despite policy auto" test "$(sql "select status from models where forecaster='daily' and version=3")" = PendingManualApproval
check "its audit says it awaits its shadow" test "$(sql "select count(*) from model_audit a join models m on m.id=a.model_id where m.version=3 and a.why like '%awaiting shadow of 3 windows on endpoint prod against version 2%'")" = 1
check "it runs in shadow on prod" test "$(sql "select m.version || '/' || s.windows || '/' || s.champion_version from shadows s join models m on m.id=s.model_id where s.ended_ms is null")" = 3/3/2
check "the daemon loads it" wait_endpoints "d['endpoints'][0]['shadow'] is not None and d['endpoints'][0]['shadow']['version'] == 3"
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
check "SIGTERM with a shadow loaded: exit 0" test "$rc" = 0
if grep -q "AddressSanitizer\|runtime error" "$tmp/serve.log"; then grep -m5 "AddressSanitizer\|runtime error" "$tmp/serve.log"; fi
check "the daemon's log holds no sanitizer report" sh -c "! grep -q 'AddressSanitizer\|runtime error' '$tmp/serve.log'"
finish
