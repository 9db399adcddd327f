#!/usr/bin/env bash
# The management API end to end (docs/api.md): ingest over HTTP (CSV, gzip CSV, NDJSON: the
# receipt of `tsloop ingest`, idempotent re-sends, a corrected value, malformed bodies answered
# 4xx with the line and field and nothing changed, 413 past --max-ingest, the event
# dataset.ingested with "source":"api"), executions (start with a dedupe key, list with
# filters, show, stop, resume), parameters (set, show with versions, list, role admin), the
# event log as a JSON page and as Server-Sent Events (read with curl -N, resumed with
# Last-Event-ID), and SIGTERM with a stream open (exit 0 at once).
# usage: test_mgmt.sh PATH/TO/tsloop   (ctest passes it)
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
P=(--project "$tmp/p")
make_project "$tmp/p"
for r in reader writer approver admin; do
  "$TSLOOP" token create --name "$r" --role "$r" "${P[@]}" >"$tmp/tok_$r" 2>/dev/null
done
auth() { echo "Authorization: Bearer $(cat "$tmp/tok_$1")"; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
U="http://127.0.0.1:$port"
# No pipeline workers: the executions requested below must stay queued to be listed, stopped
# and resumed as such (test_sched.sh covers the daemon running them).
"$TSLOOP" serve "${P[@]}" --listen "127.0.0.1:$port" --threads 2 --max-ingest 20000 \
  --pipeline-workers 0 2>"$tmp/serve.log" &
pid=$!
for _ in $(seq 100); do curl -sf "$U/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

# code METHOD PATH [curl args...]: the status; the body in $tmp/body.
code() {
  local m=$1 path=$2; shift 2
  curl -s -o "$tmp/body" -w '%{http_code}' -X "$m" "$@" "$U$path"
}
W=(-H "$(auth writer)")
CSV=(-H "Content-Type: text/csv")
ND=(-H "Content-Type: application/x-ndjson")
OBS=/v1/datasets/sales/observations
j() { jq_py "$tmp/body" "$1"; }

# ---- ingest ----
printf 'item_id,timestamp,region,target_value\na,2026-01-01,north,1\na,2026-01-02,north,2\nb,2026-01-01,south,3\n' >"$tmp/a.csv"
check "CSV ingest 200" test "$(code POST $OBS "${W[@]}" "${CSV[@]}" --data-binary @"$tmp/a.csv")" = 200
check "receipt: 3 read, 3 inserted, created" test "$(j "d['read'], d['inserted'], d['created'], d['file']")" = "3 3 True body"
check "same re-sent: 3 unchanged" test "$(code POST $OBS "${W[@]}" "${CSV[@]}" --data-binary @"$tmp/a.csv"; j "d['unchanged'], d['inserted']")" = "2003 0"
printf 'item_id,timestamp,region,target_value\na,2026-01-02,north,2.5\n' | gzip >"$tmp/fix.csv.gz"
check "gzip CSV: corrected value counted updated" test "$(code POST $OBS "${W[@]}" "${CSV[@]}" -H 'Content-Encoding: gzip' --data-binary @"$tmp/fix.csv.gz"; j "d['updated']")" = "2001"
cat >"$tmp/a.ndjson" <<'ND'
{"item_id": "c", "timestamp": "2026-01-01", "target_value": 4, "region": "east"}

{"item_id": "c", "timestamp": "2026-01-02", "target_value": null, "region": "east"}
{"item_id": "c", "timestamp": "2026-01-03", "target_value": -1, "region": "east"}
ND
check "NDJSON ingest 200" test "$(code POST $OBS "${W[@]}" "${ND[@]}" --data-binary @"$tmp/a.ndjson")" = 200
check "NDJSON receipt: 3 read, 2 inserted, 1 rejected" test "$(j "d['read'], d['inserted'], d['rejected']")" = "3 2 1"
check "NDJSON rejection names its own line 4" test "$(j "d['rejects'][0]['line'], d['rejects'][0]['reason'].startswith('body:4:')")" = "4 True"
check "NDJSON re-sent: unchanged" test "$(code POST $OBS "${W[@]}" "${ND[@]}" --data-binary @"$tmp/a.ndjson"; j "d['unchanged']")" = "2002"
check "dataset.ingested with source api, file and who" test "$(code GET '/v1/events?type=dataset.ingested' -H "$(auth reader)"; j "d['events'][-1]['payload']['source'], d['events'][-1]['payload']['file']")" = "200api POST /v1/datasets/sales/observations (NDJSON)"
count() { "$TSLOOP" datasets show sales "${P[@]}" --limit 100 --json 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["observations"], d["hash"], len(d["ingests"]))'; }
before=$(count)

printf '{"item_id": "d", "timestamp": "2026-01-01", "target_value": 1, "region": "east"}\n{"item_id": "d", "timestamp": 5, "target_value": 1, "region": "east"}\n' >"$tmp/bad1.ndjson"
check "NDJSON wrong type 400" test "$(code POST $OBS "${W[@]}" "${ND[@]}" --data-binary @"$tmp/bad1.ndjson")" = 400
check "message names line 2 and the field" test "$(j "d['error']['message']")" = "body:2: field 'timestamp': expected a string, got a number"
printf '{"item_id": "d", "timestamp": "2026-01-01", "target_value": 1, "region": "east"}\n{"item_id": "d",\n' >"$tmp/bad2.ndjson"
check "NDJSON broken JSON 400" test "$(code POST $OBS "${W[@]}" "${ND[@]}" --data-binary @"$tmp/bad2.ndjson")" = 400
check "broken JSON: line 2" python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))["error"]["message"]; assert m.startswith("body:2:"), m' "$tmp/body"
printf '{"item_id": "d", "timestamp": "2026-01-01", "target_value": 1, "colour": "red"}\n' >"$tmp/bad3.ndjson"
check "NDJSON unknown field 400" test "$(code POST $OBS "${W[@]}" "${ND[@]}" --data-binary @"$tmp/bad3.ndjson")" = 400
check "unknown field named" python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))["error"]["message"]; assert m.startswith("body:1: field '"'"'colour'"'"' is not a column"), m' "$tmp/body"
printf 'item_id,timestamp,target_value\nd,2026-01-01,1\n' >"$tmp/bad.csv"
check "CSV without the declared dimension 400" test "$(code POST $OBS "${W[@]}" "${CSV[@]}" --data-binary @"$tmp/bad.csv")" = 400
check "message: dimension columns" test "$(j "d['error']['message']")" = "body: dimension columns none, expected region (as tsloop.yaml declares for data set 'sales'), besides the item, timestamp and target columns"
printf '\n{"item_id": "d", "timestamp": "2026-13-01", "target_value": 1, "region": "east"}\n' >"$tmp/bad4.ndjson"
check "NDJSON with no usable record 400" test "$(code POST $OBS "${W[@]}" "${ND[@]}" --data-binary @"$tmp/bad4.ndjson")" = 400
check "no usable record: its own line 2 in message and receipt" python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["error"]; assert e["message"].startswith("body: none of its 1 records could be ingested (the first at line 2: body:2:") and e["receipt"]["rejects"][0]["line"]==2, e' "$tmp/body"
printf 'item_id,timestamp,region,target_value\nd,2026-01-01,east,abc\n' >"$tmp/bad2.csv"
check "CSV with no usable row 400" test "$(code POST $OBS "${W[@]}" "${CSV[@]}" --data-binary @"$tmp/bad2.csv")" = 400
check "no usable row: line 2, column, receipt" python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["error"]; assert "line 2" in e["message"] and "target_value" in e["message"] and e["receipt"]["rejected"]==1, e' "$tmp/body"
python3 -c 'print("item_id,timestamp,region,target_value"); [print("z,2026-01-%02d,east,%d" % (1 + i % 28, i)) for i in range(2000)]' >"$tmp/big.csv"
check "body over --max-ingest 413" test "$(code POST $OBS "${W[@]}" "${CSV[@]}" --data-binary @"$tmp/big.csv")" = 413
check "415 for another content type" test "$(code POST $OBS "${W[@]}" -H 'Content-Type: application/json' -d '{}')" = 415
check "404 for an undeclared data set" test "$(code POST /v1/datasets/nope/observations "${W[@]}" "${CSV[@]}" --data-binary @"$tmp/a.csv")" = 404
check "nothing changed by the refused bodies" test "$(count)" = "$before"
check "no upload left behind" test -z "$(ls "$tmp/p/.tsloop/uploads")"

# ---- executions ----
check "start 202" test "$(code POST /v1/forecasters/daily/executions "${W[@]}" -d '{"dedupe_key":"k1"}')" = 202
ex=$(j "d['execution']")
check "outcome new" test "$(j "d['outcome']")" = new
check "same dedupe key: 200 duplicate, same id" test "$(code POST /v1/forecasters/daily/executions "${W[@]}" -d '{"dedupe_key":"k1"}'; j "d['outcome'], d['execution']")" = "200duplicate $ex"
check "unknown forecaster 404" test "$(code POST /v1/forecasters/nope/executions "${W[@]}")" = 404
check "list" test "$(code GET '/v1/executions?forecaster=daily&status=Queued' -H "$(auth reader)"; j "[e['id'] for e in d['executions']] == [$ex] and d['executions'][0]['trigger']")" = "200api"
check "list by another status is empty" test "$(code GET '/v1/executions?status=Succeeded' -H "$(auth reader)"; j "len(d['executions'])")" = "2000"
check "bad status 400" test "$(code GET '/v1/executions?status=Nope' -H "$(auth reader)")" = 400
check "show" test "$(code GET "/v1/executions/$ex" -H "$(auth reader)"; j "d['status'], d['who']")" = "200Queued token:writer"
check "stop" test "$(code POST "/v1/executions/$ex/stop" "${W[@]}" -d '{"why":"test"}'; j "d['status']")" = "200Stopped"
check "resume of a stopped one 409" test "$(code POST "/v1/executions/$ex/resume" "${W[@]}")" = 409
check "stop again 409" test "$(code POST "/v1/executions/$ex/stop" "${W[@]}")" = 409
check "show missing 404" test "$(code GET /v1/executions/999 -H "$(auth reader)")" = 404
code POST /v1/forecasters/daily/executions "${W[@]}" >/dev/null
ex2=$(j "d['execution']")
check "resume of a queued one 200" test "$(code POST "/v1/executions/$ex2/resume" "${W[@]}"; j "d['status']")" = "200Queued"

# ---- parameters ----
ADM=(-H "$(auth admin)")
check "PUT as writer 403" test "$(code PUT /v1/parameters/retrain.cooldown "${W[@]}" -d '{"value":"1h"}')" = 403
check "PUT 200" test "$(code PUT /v1/parameters/retrain.cooldown "${ADM[@]}" -d '{"value":"1h","why":"first"}'; j "d['version']")" = "2001"
check "PUT a number" test "$(code PUT /v1/parameters/retrain.cooldown "${ADM[@]}" -d '{"value":7200}'; j "d['version'], d['value']")" = "2002 7200"
check "PUT without value 400" test "$(code PUT /v1/parameters/x "${ADM[@]}" -d '{}')" = 400
check "show with versions" test "$(code GET /v1/parameters/retrain.cooldown -H "$(auth reader)"; j "d['value'], d['version'], [v['value'] for v in d['versions']], d['versions'][0]['who']")" = "2007200 2 ['1h', '7200'] token:admin"
check "show version 1" test "$(code GET '/v1/parameters/retrain.cooldown?version=1' -H "$(auth reader)"; j "d['value']")" = "2001h"
check "missing key 404" test "$(code GET /v1/parameters/nope -H "$(auth reader)")" = 404
check "list" test "$(code GET /v1/parameters -H "$(auth reader)"; j "[p['key'] for p in d['parameters']]")" = "200['retrain.cooldown']"
check "the CLI sees it" test "$("$TSLOOP" params get retrain.cooldown "${P[@]}" 2>/dev/null)" = 7200

# ---- events ----
check "events page" test "$(code GET '/v1/events?limit=2' -H "$(auth reader)"; j "len(d['events']), d['next'] == d['events'][-1]['id']")" = "2002 True"
n2=$(j "d['next']")
check "next page starts after the cursor" test "$(code GET "/v1/events?after=$n2&limit=1" -H "$(auth reader)"; j "d['events'][0]['id'] > $n2")" = "200True"
check "type filter" test "$(code GET '/v1/events?type=param.&limit=100' -H "$(auth reader)"; j "sorted(set(e['type'] for e in d['events']))")" = "200['param.set']"
check "bad limit 400" test "$(code GET '/v1/events?limit=0' -H "$(auth reader)")" = 400
# SSE: from the start of the log (Last-Event-ID 0), types param.*: both param.set events.
timeout 3 curl -sN -H "$(auth reader)" -H 'Last-Event-ID: 0' "$U/v1/events/stream?type=param." >"$tmp/sse" 2>/dev/null
check "SSE replays param.set with ids" test "$(grep -c '^event: param.set$' "$tmp/sse")" = 2
check "SSE ids increase" python3 -c 'import sys; ids=[int(l[4:]) for l in open(sys.argv[1]) if l.startswith("id: ")]; assert ids==sorted(ids) and len(ids)==2, ids' "$tmp/sse"
last=$(grep '^id: ' "$tmp/sse" | tail -1 | cut -c5-)
# A live stream from now on sees an event appended while it is open.
(timeout 4 curl -sN -H "$(auth reader)" "$U/v1/events/stream" >"$tmp/sse2" 2>/dev/null) &
sse=$!
sleep 1
code PUT /v1/parameters/live "${ADM[@]}" -d '{"value":"x"}' >/dev/null
wait $sse
check "live stream receives the new event" grep -q '"key":"live"' "$tmp/sse2"
check "live stream starts with the comment" test "$(head -1 "$tmp/sse2")" = ": tsloop event stream"
timeout 2 curl -sN -H "$(auth reader)" -H "Last-Event-ID: $last" "$U/v1/events/stream?type=param." >"$tmp/sse3" 2>/dev/null
check "Last-Event-ID resumes after it" test "$(grep -c '^event: param.set$' "$tmp/sse3")" = 1
check "stream without a token 401" test "$(code GET /v1/events/stream)" = 401

# SIGTERM with a stream open: the stream ends, the daemon exits 0 promptly.
(curl -sN -H "$(auth reader)" "$U/v1/events/stream" >/dev/null 2>&1) &
sleep 0.5
t0=$(date +%s)
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
check "SIGTERM with a stream open: exit 0" test "$rc" = 0
check "... within 3 s" test $(($(date +%s) - t0)) -le 3
finish
