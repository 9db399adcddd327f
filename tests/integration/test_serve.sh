#!/usr/bin/env bash
# The daemon end to end: a project on `tsloop demo` data (hourly solar, two sites), trained
# with auto approval and deployed; `tsloop serve` on a free loopback port; forecasts (JSON
# shape, per-item errors, inference ids), the auth matrix over every route and role (401
# without or with a bad token, 403 with too weak a role), caps and malformed bodies (400, 404, 405, 413), captures in the store,
# new observations picked up without a restart, a second version deployed (and rolled back and
# forth) while four request streams run (none fails, each answer whole, both versions served)
# and served within seconds, rollback over HTTP, and
# SIGTERM (exit 0, every capture written).
# usage: test_serve.sh PATH/TO/tsloop   (ctest passes it)
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
P=(--project "$tmp/solar")

"$TSLOOP" demo --engine --dir "$tmp/demo" --sites 2 --days 30 >/dev/null 2>&1
"$TSLOOP" demo --engine --dir "$tmp/demo2" --sites 2 --days 32 --seed 7 >/dev/null 2>&1
"$TSLOOP" init "$tmp/solar" >/dev/null
cat >"$tmp/solar/tsloop.yaml" <<'YAML'
version: 1
name: serve-test
datasets:
  solar:
    frequency: H
    columns:
      dimensions: [region]
    non_negative: true
forecasters:
  solar:
    dataset: solar
    horizon: 24
    candidates: [naive, snaive, theta]
    backtest_windows: 2
    ensembles: false
    approval: {policy: auto, margin: 0}
endpoints:
  prod:
    forecaster: solar
YAML
expect_exit 0 "ingest" "$TSLOOP" ingest "${P[@]}" "$tmp/demo/solar.csv"
expect_exit 0 "train (auto approval)" "$TSLOOP" train solar "${P[@]}"
check "version 1 approved" grep -q "registered solar/1: Approved" "$tmp/out"
expect_exit 0 "deploy" "$TSLOOP" deploy solar/1 --endpoint prod "${P[@]}"
"$TSLOOP" token create --name r --role reader "${P[@]}" >"$tmp/tok_r" 2>/dev/null
"$TSLOOP" token create --name a --role approver "${P[@]}" >"$tmp/tok_a" 2>/dev/null
"$TSLOOP" token create --name w --role writer "${P[@]}" >"$tmp/tok_w" 2>/dev/null
"$TSLOOP" token create --name root --role admin "${P[@]}" >"$tmp/tok_admin" 2>/dev/null
R=(-H "Authorization: Bearer $(cat "$tmp/tok_r")")
A=(-H "Authorization: Bearer $(cat "$tmp/tok_a")")
W=(-H "Authorization: Bearer $(cat "$tmp/tok_w")")

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
U="http://127.0.0.1:$port"
"$TSLOOP" serve "${P[@]}" --listen "127.0.0.1:$port" --threads 2 --max-items 5 \
  --max-body 4096 2>"$tmp/serve.log" &
pid=$!
ready=0
for _ in $(seq 100); do
  if curl -sf "$U/readyz" >/dev/null 2>&1; then ready=1; break; fi
  sleep 0.1
done
check "ready" test "$ready" = 1
check "logs JSON lines" python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$tmp/serve.log"
check "logs the port" grep -q "\"port\":$port" "$tmp/serve.log"

# code METHOD PATH [curl args...]: the status; the body in $tmp/body.
code() {
  local m=$1 path=$2; shift 2
  curl -s -o "$tmp/body" -w '%{http_code}' -X "$m" "$@" "$U$path"
}
check "healthz 200" test "$(code GET /healthz)" = 200
F='{"items":["lisbon","nowhere","seville"],"inference_id":"t-1"}'
check "forecast 200" test "$(code POST /v1/endpoints/prod/forecast "${R[@]}" -d "$F")" = 200
check "forecast JSON" test "$(jq_py "$tmp/body" \
  "d['endpoint'], d['model']['version'], d['inference_id'], d['horizon'], d['quantiles'], len(d['forecasts'])")" = \
  "prod 1 t-1 24 [0.1, 0.5, 0.9] 3"
check "24 steps with p10/p50/p90, hourly after the origin" test "$(jq_py "$tmp/body" \
  "len(d['forecasts'][0]['mean']), sorted(d['forecasts'][0]['quantiles']), d['forecasts'][0]['origin'], d['forecasts'][0]['timestamps'][0]")" = \
  "24 ['p10', 'p50', 'p90'] 2026-03-30T23:00:00Z 2026-03-31T00:00:00Z"
check "quantiles ordered, never negative" python3 -c '
import json,sys; d=json.load(open(sys.argv[1]))
for f in d["forecasts"]:
  if "error" in f: continue
  q=f["quantiles"]
  assert all(0 <= a <= b <= c for a,b,c in zip(q["p10"],q["p50"],q["p90"]))' "$tmp/body"
cp "$tmp/body" "$tmp/t1.json"
check "unknown item: a per-item error" test "$(jq_py "$tmp/body" "d['forecasts'][1]['error']['code']")" = unknown_item
check "generated inference id" test "$(code POST /v1/endpoints/prod/forecast "${R[@]}" \
  -d '{"items":["seville"],"horizon":3,"quantiles":[0.25]}')" = 200
check "32 hex digits, 3 steps, p25" test "$(jq_py "$tmp/body" \
  "len(d['inference_id']), len(d['forecasts'][0]['mean']), list(d['forecasts'][0]['quantiles'])")" = "32 3 ['p25']"

# Auth matrix.
check "no token: 401" test "$(code POST /v1/endpoints/prod/forecast -d "$F")" = 401
check "error JSON" test "$(jq_py "$tmp/body" "d['error']['code']")" = unauthorized
check "bad token: 401" test "$(code POST /v1/endpoints/prod/forecast -H 'Authorization: Bearer tsl_nope' -d "$F")" = 401
check "reader lists endpoints" test "$(code GET /v1/endpoints "${R[@]}")" = 200
check "reader cannot deploy: 403" test "$(code POST /v1/endpoints/prod/deploy "${R[@]}" -d '{"version":"solar/1"}')" = 403
check "reader cannot roll back: 403" test "$(code POST /v1/endpoints/prod/rollback "${R[@]}" -d '{}')" = 403
check "no token on deploy: 401" test "$(code POST /v1/endpoints/prod/deploy -d '{}')" = 401
check "metrics are open" test "$(code GET /metrics)" = 200

# Malformed requests and caps.
check "bad JSON: 400" test "$(code POST /v1/endpoints/prod/forecast "${R[@]}" -d '{"items":')" = 400
check "bad_json code" test "$(jq_py "$tmp/body" "d['error']['code']")" = bad_json
check "unknown key: 400" test "$(code POST /v1/endpoints/prod/forecast "${R[@]}" -d '{"items":["a"],"x":1}')" = 400
check "too many items: 413" test "$(code POST /v1/endpoints/prod/forecast "${R[@]}" -d '{"items":["a","b","c","d","e","f"]}')" = 413
big=$(python3 -c 'print("{\"items\":[\"" + "x"*5000 + "\"]}")')
check "body too large: 413" test "$(code POST /v1/endpoints/prod/forecast "${R[@]}" -d "$big")" = 413
check "no such endpoint: 404" test "$(code POST /v1/endpoints/nope/forecast "${R[@]}" -d "$F")" = 404
check "no such route: 404" test "$(code GET /v2/x)" = 404
check "GET on forecast: 405" test "$(code GET /v1/endpoints/prod/forecast "${R[@]}")" = 405

# Captures reach the store (group-committed within moments).
ncap() { python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from captures where inference_id = ?", (sys.argv[2],)).fetchone()[0])' "$tmp/solar/.tsloop/store.db" "$1"; }
sleep 0.5
check "two captures for t-1 (the unknown item has none)" test "$(ncap t-1)" = 2
check "captured values are the values served (10 significant digits)" python3 -c '
import json, sqlite3, struct, sys
d = json.load(open(sys.argv[2]))
db = sqlite3.connect(sys.argv[1])
for f in d["forecasts"]:
  if "error" in f: continue
  mean, quant, nq, targets = db.execute("select mean, quant, nq, targets from captures where inference_id = ? and item = ?", ("t-1", f["item"])).fetchone()
  m = struct.unpack("<%dd" % (len(mean) // 8), mean)
  q = struct.unpack("<%dd" % (len(quant) // 8), quant)
  assert len(m) == 24 and nq == 3
  for s in range(24):
    assert abs(m[s] - f["mean"][s]) <= 1e-9 * max(1, abs(m[s])), (m[s], f["mean"][s])
    assert abs(q[s * 3 + 2] - f["quantiles"]["p90"][s]) <= 1e-9 * max(1, abs(q[s * 3 + 2]))' \
  "$tmp/solar/.tsloop/store.db" "$tmp/t1.json"

# New observations: the models catch up without a restart.
expect_exit 0 "ingest two more days" "$TSLOOP" ingest "${P[@]}" "$tmp/demo2/solar.csv"
moved=0
for _ in $(seq 30); do
  code POST /v1/endpoints/prod/forecast "${R[@]}" -d '{"items":["seville"],"horizon":1}' >/dev/null
  if [ "$(jq_py "$tmp/body" "d['forecasts'][0]['origin']")" = "2026-04-01T23:00:00Z" ]; then moved=1; break; fi
  sleep 0.1
done
check "forecasts start from the new last observation" test "$moved" = 1

# A second version deployed while requests stream.
expect_exit 0 "train version 2" "$TSLOOP" train solar "${P[@]}"
# The registry over HTTP: list, show, reject and approve (the token's name in the audit log).
check "models list" test "$(code GET '/v1/models?forecaster=solar' "${R[@]}")" = 200
check "two versions, newest first" test "$(jq_py "$tmp/body" "[m['version'] for m in d['models']]")" = "[2, 1]"
check "model show" test "$(code GET /v1/models/solar/1 "${R[@]}")" = 200
check "with metrics and audit" test "$(jq_py "$tmp/body" "d['status'], 'score' in d['metrics'], d['audit'][0]['to']")" = "Approved True Approved"
check "unknown version: 404" test "$(code GET /v1/models/solar/9 "${R[@]}")" = 404
check "reader cannot approve: 403" test "$(code POST /v1/models/solar/2/approve "${R[@]}" -d '{"why":"x"}')" = 403
check "approve needs why: 400" test "$(code POST /v1/models/solar/2/approve "${A[@]}" -d '{}')" = 400
check "GET on approve: 405" test "$(code GET /v1/models/solar/2/approve "${A[@]}")" = 405
check "reject over HTTP" test "$(code POST /v1/models/solar/2/reject "${A[@]}" -d '{"why":"to test"}')" = 200
check "approve over HTTP" test "$(code POST /v1/models/solar/2/approve "${A[@]}" -d '{"why":"integration test"}')" = 200
check "approved by the token" test "$(jq_py "$tmp/body" "d['status'], d['who']")" = "Approved token:a"
expect_exit 0 "audit" "$TSLOOP" models show solar/2 "${P[@]}" --json
check "the audit log names the token" grep -q '"token:a"' "$tmp/out"
# Four concurrent streams, each answer's status and version recorded.
streams=()
for k in 1 2 3 4; do
  (
    for i in $(seq 40); do
      curl -s -X POST "${R[@]}" "$U/v1/endpoints/prod/forecast" \
        -d "{\"items\":[\"lisbon\"],\"inference_id\":\"s-$k-$i\"}" -w ' %{http_code}\n' |
        python3 -c 'import json,sys; b,c=sys.stdin.read().rsplit(" ",1); d=json.loads(b) if c.strip()=="200" else {}; print(c.strip(), d.get("model",{}).get("version"), len(d.get("forecasts",[{}])[0].get("mean",[])))'
    done >"$tmp/stream$k"
  ) &
  streams+=($!)
done
sleep 0.3
check "deploy over HTTP" test "$(code POST /v1/endpoints/prod/deploy "${A[@]}" -d '{"version":"solar/2","why":"test"}')" = 200
served2=0
for _ in $(seq 30); do
  code POST /v1/endpoints/prod/forecast "${R[@]}" -d '{"items":["lisbon"]}' >/dev/null
  if [ "$(jq_py "$tmp/body" "d['model']['version']")" = 2 ]; then served2=1; break; fi
  sleep 0.1
done
check "version 2 served within 3 s" test "$served2" = 1
# Switch back and forth while the streams run.
for _ in 1 2; do
  code POST /v1/endpoints/prod/rollback "${A[@]}" -d '{}' >/dev/null
  sleep 0.2
  code POST /v1/endpoints/prod/deploy "${A[@]}" -d '{"version":"solar/2"}' >/dev/null
  sleep 0.2
done
wait "${streams[@]}"
cat "$tmp"/stream? >"$tmp/stream"
check "no request of the streams failed, each whole" test "$(cut -d' ' -f1,3 "$tmp/stream" | sort -u | tr '\n' ' ')" = "200 24 "
check "both versions were served" test "$(cut -d' ' -f2 "$tmp/stream" | sort -u | tr '\n' ' ')" = "1 2 "
check "the switch is logged" grep -q "switched to a new deployment" "$tmp/serve.log"
check "rollback over HTTP" test "$(code POST /v1/endpoints/prod/rollback "${A[@]}" -d '{"why":"test"}')" = 200
check "back to version 1" test "$(jq_py "$tmp/body" "d['version'], d['action']")" = "1 rollback"
expect_exit 0 "history" "$TSLOOP" endpoints prod "${P[@]}" --json
check "the API's moves are recorded with the token's name" test "$(jq_py "$tmp/out" "d[0]['who'], d[1]['who'], len(d)")" = "token:a token:a 7"

# Batch forecasts from the same version agree to the bit with online ones.
check "online forecast" test "$(code POST /v1/endpoints/prod/forecast "${R[@]}" -d '{"items":["lisbon"],"inference_id":"cmp-online"}')" = 200
expect_exit 0 "predict" "$TSLOOP" predict --endpoint prod --output "$tmp/batch.csv" --inference-id cmp-batch --json "${P[@]}"
check "predict summary" test "$(jq_py "$tmp/out" "d['version'], d['items'], d['rows'], d['captured'], d['unknown']")" = "1 2 48 2 0"
check "forecast CSV header" test "$(head -1 "$tmp/batch.csv")" = "item_id,timestamp,mean,p10,p50,p90"
check "48 rows" test "$(wc -l <"$tmp/batch.csv")" = 49
check "a copy in the output folder, the same bytes" \
  cmp -s "$tmp/batch.csv" "$(ls "$tmp/solar/.tsloop/outputs"/predict-prod-*.csv | head -1)"
sleep 0.5
check "batch and online captures identical" python3 -c '
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
a = db.execute("select mean, quant, origin from captures where inference_id = ? and item = ?", ("cmp-online", "lisbon")).fetchone()
b = db.execute("select mean, quant, origin from captures where inference_id = ? and item = ?", ("cmp-batch", "lisbon")).fetchone()
assert a is not None and a == b' "$tmp/solar/.tsloop/store.db"
printf 'seville\nnowhere\n' >"$tmp/items.txt"
expect_exit 0 "predict listed items" "$TSLOOP" predict --endpoint prod --items "$tmp/items.txt" --output - -H 3 -q 0.5 "${P[@]}"
check "3 rows of seville with p50, one unknown item warned" test "$(grep -c '^seville,' "$tmp/out"),$(head -1 "$tmp/out"),$(grep -c 'have no model' "$tmp/err")" = "3,item_id,timestamp,mean,p50,1"
expect_exit 1 "predict from an endpoint without deployment" "$TSLOOP" predict --endpoint nope --output "$tmp/x.csv" "${P[@]}"
expect_exit 2 "predict without --output" "$TSLOOP" predict --endpoint prod "${P[@]}"

# SIGHUP reloads tsloop.yaml: a broken file changes nothing, a good one applies at once.
check "canary takes solar/1 (undeclared: default rules)" test "$(code POST /v1/endpoints/canary/deploy "${A[@]}" -d '{"version":"solar/1"}')" = 200
cp "$tmp/solar/tsloop.yaml" "$tmp/good.yaml"
echo "  broken: {forecaster: nosuch}" >>"$tmp/solar/tsloop.yaml"
kill -HUP "$pid"
sleep 0.5
check "a broken reload is logged" grep -q '"msg":"SIGHUP: the configuration was not reloaded"' "$tmp/serve.log"
cp "$tmp/good.yaml" "$tmp/solar/tsloop.yaml"
cat >>"$tmp/solar/tsloop.yaml" <<'YAML'
  canary:
    forecaster: solar_b
YAML
sed -i 's/^forecasters:$/forecasters:\n  solar_b: {dataset: solar, horizon: 24}/' "$tmp/solar/tsloop.yaml"
kill -HUP "$pid"
sleep 0.5
check "reloaded" grep -q '"msg":"configuration reloaded"' "$tmp/serve.log"
check "the new rule applies: canary serves solar_b only" test "$(code POST /v1/endpoints/canary/deploy "${A[@]}" -d '{"version":"solar/2"}')" = 409
check "still serving" test "$(code POST /v1/endpoints/prod/forecast "${R[@]}" -d "$F")" = 200

# Asynchronous jobs: 202 and an id, a worker runs the batch forecast, the result is kept.
check "reader cannot queue a job: 403" test "$(code POST /v1/jobs "${R[@]}" -d '{"endpoint":"prod"}')" = 403
check "a job without endpoint: 400" test "$(code POST /v1/jobs "${W[@]}" -d '{"kind":"predict"}')" = 400
check "a job with an unknown key: 400" test "$(code POST /v1/jobs "${W[@]}" -d '{"endpoint":"prod","x":1}')" = 400
check "queue a job: 202" test "$(code POST /v1/jobs "${W[@]}" -d '{"kind":"predict","endpoint":"prod","horizon":6}')" = 202
job=$(jq_py "$tmp/body" "d['job']")
done_=0
for _ in $(seq 50); do
  code GET "/v1/jobs/$job" "${R[@]}" >/dev/null
  if [ "$(jq_py "$tmp/body" "d['status']")" = Succeeded ]; then done_=1; break; fi
  sleep 0.1
done
check "the job succeeded" test "$done_" = 1
check "its result" test "$(jq_py "$tmp/body" "d['result']['items'], d['result']['rows'], d['result']['captured'], d['result']['inference_id']")" = "2 12 2 job-$job"
check "its forecast file in .tsloop/outputs" test "$(wc -l <"$tmp/solar/.tsloop/outputs/job-$job.csv")" = 13
check "unknown job: 404" test "$(code GET /v1/jobs/999 "${R[@]}")" = 404
check "its result streamed: 200" test "$(code GET "/v1/jobs/$job/result" "${R[@]}")" = 200
check "  the whole forecast CSV" cmp -s "$tmp/body" "$tmp/solar/.tsloop/outputs/job-$job.csv"
check "the result of an unknown job: 404" test "$(code GET /v1/jobs/999/result "${R[@]}")" = 404
sleep 0.6
code GET /metrics >/dev/null
check "metrics count jobs and executions by status" \
  test "$(grep -c -E '^tsloop_jobs\{status="Succeeded"\} 1$|^tsloop_executions\{status="Succeeded"\} 2$' "$tmp/body")" = 2

# The auth matrix over every route: no token or a bad one 401, a weaker role 403, a sufficient
# one neither (bodies are invalid on purpose, so nothing changes).
rank() { case $1 in none) echo 0 ;; reader) echo 1 ;; writer) echo 2 ;; approver) echo 3 ;; admin) echo 4 ;; esac; }
matrix_fail=0
while read -r method path need body; do
  for who in none bad reader writer approver admin; do
    case $who in
      none) H=() ;;
      bad) H=(-H "Authorization: Bearer tsl_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") ;;
      reader) H=("${R[@]}") ;;
      writer) H=("${W[@]}") ;;
      approver) H=("${A[@]}") ;;
      admin) H=(-H "Authorization: Bearer $(cat "$tmp/tok_admin")") ;;
    esac
    if [ "$method" != GET ]; then got=$(code "$method" "$path" "${H[@]}" -d "$body"); else got=$(code GET "$path" "${H[@]}" -m 1); fi
    if [ "$need" = none ]; then want=ok
    elif [ "$who" = none ] || [ "$who" = bad ]; then want=401
    elif [ "$(rank "$who")" -lt "$(rank "$need")" ]; then want=403
    else want=ok; fi
    if { [ "$want" = ok ] && { [ "$got" = 401 ] || [ "$got" = 403 ]; }; } ||
       { [ "$want" != ok ] && [ "$got" != "$want" ]; }; then
      echo "auth matrix: $method $path as $who: $got, expected $want"; matrix_fail=1
    fi
  done
done <<'ROUTES'
GET /healthz none -
GET /readyz none -
GET /metrics none -
GET /v1/endpoints reader -
POST /v1/endpoints/prod/forecast reader {}
POST /v1/endpoints/prod/deploy approver {}
POST /v1/endpoints/prod/rollback approver [
GET /v1/models reader -
GET /v1/models/solar/1 reader -
POST /v1/models/solar/1/approve approver {}
POST /v1/models/solar/1/reject approver {}
POST /v1/jobs writer {}
GET /v1/jobs/1 reader -
POST /v1/datasets/solar/observations writer x
POST /v1/forecasters/solar/executions writer [
GET /v1/executions reader -
GET /v1/executions/999999 reader -
POST /v1/executions/999999/stop writer {}
POST /v1/executions/999999/resume writer {}
GET /v1/parameters reader -
GET /v1/parameters/k reader -
PUT /v1/parameters/k admin [
GET /v1/events reader -
GET /v1/events/stream reader -
GET /v1/jobs/1/result reader -
GET /v1/metrics reader -
GET /v1/alarms reader -
GET /v1/alarms/nothing reader -
GET /v1/endpoints/prod/shadow reader -
PUT /v1/endpoints/prod/shadow approver [
DELETE /v1/endpoints/prod/shadow approver [
ROUTES
check "auth matrix over every route and role" test "$matrix_fail" = 0

# SIGTERM: exit 0, every capture written.
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
check "SIGTERM: exit 0" test "$rc" = 0
check "logs the drain" grep -q '"msg":"stopped"' "$tmp/serve.log"
check "every stream capture written" test "$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from captures where inference_id like \"s-%\"").fetchone()[0])' "$tmp/solar/.tsloop/store.db")" = 160

# Jobs survive restarts: one queued while no daemon runs is done by the next one.
pending=$(python3 -c '
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
cur = db.execute("insert into jobs(kind, endpoint, status, request, who, created_ms) values (?, ?, ?, ?, ?, ?)",
                 ("predict", "prod", "Queued", "{\"endpoint\":\"prod\"}", "test", int(time.time() * 1000)))
db.commit(); print(cur.lastrowid)' "$tmp/solar/.tsloop/store.db")
"$TSLOOP" serve "${P[@]}" --listen "127.0.0.1:$port" --threads 1 2>"$tmp/serve2.log" &
pid=$!
done_=0
for _ in $(seq 100); do
  if [ "$(code GET "/v1/jobs/$pending" "${R[@]}" 2>/dev/null)" = 200 ] &&
     [ "$(jq_py "$tmp/body" "d['status']")" = Succeeded ]; then done_=1; break; fi
  sleep 0.1
done
check "the job queued before the restart was done" test "$done_" = 1
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
check "second daemon: exit 0" test "$rc" = 0
finish
