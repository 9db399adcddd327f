#!/usr/bin/env bash
# The daemon's background work: two daemons on one project (one schedules, /readyz and
# /metrics say which; the other takes over when the first stops), a minute schedule firing
# (the scheduler's clock started three seconds before a minute boundary by TSLOOP_TEST_CLOCK)
# into a captured forecast file in the output folder and a schedule-triggered training
# execution run by the daemon's pipeline workers, the fire time run once across a restart,
# and `tsloop train --detach` run by the daemon.
# usage: test_sched.sh PATH/TO/tsloop   (ctest passes it)
set -uo pipefail
TSLOOP=$(cd "$(dirname "$1")" && pwd -P)/$(basename "$1")
tmp=$(mktemp -d)
tmp=$(cd "$tmp" && pwd -P)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
. "$(dirname "$0")/lib.sh"
P=(--project "$tmp/p")

"$TSLOOP" demo --engine --dir "$tmp/demo" --sites 2 --days 30 >/dev/null 2>&1
"$TSLOOP" init "$tmp/p" >/dev/null
cat >"$tmp/p/tsloop.yaml" <<'YAML'
version: 1
name: sched-test
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
    candidates: [naive, snaive]
    backtest_windows: 2
    ensembles: false
    approval: {policy: auto, margin: 0}
    schedule:
      forecast: "* * * * *"
      retrain: "* * * * *"
endpoints:
  prod:
    forecaster: solar
YAML
expect_exit 0 "ingest" "$TSLOOP" ingest "${P[@]}" "$tmp/demo/solar.csv"
expect_exit 0 "train" "$TSLOOP" train solar "${P[@]}"
expect_exit 0 "deploy" "$TSLOOP" deploy solar/1 --endpoint prod "${P[@]}"
"$TSLOOP" token create --name r --role reader "${P[@]}" >"$tmp/tok_r" 2>/dev/null
"$TSLOOP" token create --name w --role writer "${P[@]}" >"$tmp/tok_w" 2>/dev/null
W=(-H "Authorization: Bearer $(cat "$tmp/tok_w")")

freeport() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# 2026-03-01T09:59:57Z: the 10:00 fire time comes three seconds after a daemon starts.
export TSLOOP_TEST_CLOCK=1772359197
export TSLOOP_SCHED_LEASE_MS=5000
# Jobs held for 1.5 s but taking 3.5 s: only heartbeats keep the other daemon from taking them.
export TSLOOP_JOB_LEASE_MS=1500 TSLOOP_TEST_JOB_DELAY_MS=3500
# start NAME: a daemon on a free port; its URL in $U_NAME, its pid in $PID_NAME.
start() {
  local port
  port=$(freeport)
  "$TSLOOP" serve "${P[@]}" --listen "127.0.0.1:$port" --threads 2 2>"$tmp/$1.log" &
  local p=$!
  pids+=("$p")
  eval "PID_$1=$p; U_$1=http://127.0.0.1:$port"
  for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "daemon $1 did not become ready"; cat "$tmp/$1.log"; return 1
}
leader() { # leader URL: prints True/False from /readyz
  curl -s "$1/readyz" | python3 -c 'import json,sys; print(json.load(sys.stdin)["scheduler"])'
}
start a
sleep 0.5
start b
sleep 0.5
check "daemon a schedules" test "$(leader "$U_a")" = True
check "daemon b serves but does not schedule" test "$(leader "$U_b")" = False
check "b's /readyz names the holder (a's pid)" \
  sh -c "curl -s '$U_b/readyz' | grep -q ':$PID_a\"'"
check "/metrics: a is the leader" sh -c "curl -s '$U_a/metrics' | grep -qx 'tsloop_scheduler_leader 1'"
check "/metrics: b is not" sh -c "curl -s '$U_b/metrics' | grep -qx 'tsloop_scheduler_leader 0'"
check "b forecasts too" test "$(curl -s -o /dev/null -w '%{http_code}' -X POST \
  -H "Authorization: Bearer $(cat "$tmp/tok_r")" -d '{"items":["lisbon"]}' \
  "$U_b/v1/endpoints/prod/forecast")" = 200

out="$tmp/p/.tsloop/outputs/forecast-solar-prod-20260301T1000Z.csv"
for _ in $(seq 300); do [ -s "$out" ] && break; sleep 0.1; done
check "the 10:00 forecast is written to the output folder" test -s "$out"
check "forecast CSV header" test "$(head -1 "$out")" = "item_id,timestamp,mean,p10,p50,p90"
check "24 steps for each of 2 items" test "$(tail -n +2 "$out" | wc -l)" = 48
"$TSLOOP" events "${P[@]}" --type forecast.scheduled --json --since 0 >"$tmp/ev" 2>/dev/null
check "one forecast.scheduled event" test "$(wc -l <"$tmp/ev")" = 1
check "its payload" test "$(jsonl_py "$tmp/ev" "d[0]['subject'], d[0]['payload']['endpoint'], \
d[0]['payload']['forecaster'], d[0]['payload']['items'], d[0]['payload']['inference_id']")" \
  = "endpoint:prod prod solar 2 scheduled:solar:prod:20260301T1000Z"
check "captured under its inference id" sh -c "grep -q 'scheduled forecast written.*\"captured\":2' '$tmp/a.log'"
check "b fired nothing" sh -c "! grep -q 'schedule fired' '$tmp/b.log'"

# The retrain schedule requests an execution the daemon's pipeline workers run.
ok=0
for _ in $(seq 400); do
  "$TSLOOP" runs list "${P[@]}" --json >"$tmp/runs" 2>/dev/null
  if [ "$(jq_py "$tmp/runs" "[r['status'] for r in d if r['trigger'] == 'schedule']")" = "['Succeeded']" ]; then
    ok=1; break
  fi
  sleep 0.1
done
check "a schedule-triggered execution, run by a daemon, succeeded" test "$ok" = 1
check "its dedupe key names the fire time" test "$(jq_py "$tmp/runs" \
  "[r['dedupe_key'] for r in d if r['trigger'] == 'schedule'][0]")" = "schedule:solar:20260301T1000Z"
"$TSLOOP" events "${P[@]}" --type retrain.requested --json --since 0 >"$tmp/rr" 2>/dev/null
check "retrain.requested, trigger schedule" test "$(jsonl_py "$tmp/rr" "d[0]['subject'], d[0]['payload']['trigger'], \
d[0]['payload']['execution_id'] > 0")" = "forecaster:solar schedule True"
check "version 2 registered" sh -c "'$TSLOOP' models list --project '$tmp/p' --json | grep -q '\"version\": 2'"

# Jobs with a CSV body, while both daemons' workers run: heartbeats keep a 3.5 s job held under
# a 1.5 s lease, so it runs once.
code() { # code METHOD URL [curl args...]: the status; the body in $tmp/body
  local m=$1 url=$2; shift 2
  curl -s -o "$tmp/body" -w '%{http_code}' -X "$m" "$@" "$url"
}
CSV=(-H "Content-Type: text/csv" --data-binary)
check "a CSV job: 202" test "$(code POST "$U_a/v1/jobs?endpoint=prod&horizon=3&quantiles=0.25,0.75" \
  "${W[@]}" "${CSV[@]}" $'timestamp,item_id,mean\n2026-01-01,lisbon,1\n2026-01-01,seville,2\n2026-01-02,lisbon,3\n')" = 202
job=$(jq_py "$tmp/body" "d['job']")
ok=0
for _ in $(seq 300); do
  code GET "$U_b/v1/jobs/$job" "${W[@]}" >/dev/null
  [ "$(jq_py "$tmp/body" "d['status']")" = Succeeded ] && { ok=1; break; }
  sleep 0.1
done
check "the CSV job succeeded" test "$ok" = 1
check "  once: one attempt, its lease renewed by heartbeats" test "$(jq_py "$tmp/body" "d['attempts']")" = 1
check "  one worker of the two daemons ran it" test "$(cat "$tmp/a.log" "$tmp/b.log" | grep -c '"msg":"job finished"')" = 1
check "  2 items (the duplicate dropped), 3 steps" test "$(jq_py "$tmp/body" "d['result']['items'], d['result']['rows']")" = "2 6"
check "its result streams as CSV" test "$(code GET "$U_b/v1/jobs/$job/result" "${W[@]}")" = 200
check "  with the requested quantiles" test "$(head -1 "$tmp/body")" = "item_id,timestamp,mean,p25,p75"
check "a CSV job without the item column: 400 naming it" test "$(code POST "$U_a/v1/jobs?endpoint=prod" \
  "${W[@]}" "${CSV[@]}" $'site,x\nlisbon,1\n')" = 400
check "  the message" grep -q 'body.csv:1: the header has no column \\"item_id\\"' "$tmp/body"
check "another item column by ?item=" test "$(code POST "$U_a/v1/jobs?endpoint=prod&item=site" \
  "${W[@]}" "${CSV[@]}" $'site,x\nlisbon,1\n')" = 202
check "a malformed CSV row: 400 naming line and column" test "$(code POST "$U_a/v1/jobs?endpoint=prod" \
  "${W[@]}" "${CSV[@]}" $'item_id,x\nlisbon,1\n"seville,2\n')" = 400
check "  the message" grep -q 'body.csv:3:1: column' "$tmp/body"
check "a row with too many fields: 400" test "$(code POST "$U_a/v1/jobs?endpoint=prod" \
  "${W[@]}" "${CSV[@]}" $'item_id,x\nlisbon,1,2\n')" = 400
check "  the message" grep -q 'body.csv:2: the row has 3 fields' "$tmp/body"
check "a CSV job without ?endpoint: 400" test "$(code POST "$U_a/v1/jobs" "${W[@]}" "${CSV[@]}" $'item_id\na\n')" = 400
check "a CSV job with a bad horizon: 400" test "$(code POST "$U_a/v1/jobs?endpoint=prod&horizon=0" \
  "${W[@]}" "${CSV[@]}" $'item_id\na\n')" = 400
# Output names are confined to the output folder.
for bad in ../x.csv /tmp/x.csv sub/x.csv .hidden.csv ''; do
  check "output '$bad' refused: 400" test "$(code POST "$U_a/v1/jobs" "${W[@]}" \
    -d "{\"endpoint\":\"prod\",\"output\":\"$bad\"}")" = 400
done
check "a CSV job's output name is checked too" test "$(code POST "$U_a/v1/jobs?endpoint=prod&output=../x.csv" \
  "${W[@]}" "${CSV[@]}" $'item_id\nlisbon\n')" = 400
echo outside >"$tmp/outside.csv"
ln -s "$tmp/outside.csv" "$tmp/p/.tsloop/outputs/link.csv"
check "a job writing to a name that is a symbolic link: 202" test "$(code POST "$U_a/v1/jobs" "${W[@]}" \
  -d '{"endpoint":"prod","items":["lisbon"],"output":"link.csv"}')" = 202
job=$(jq_py "$tmp/body" "d['job']")
for _ in $(seq 300); do
  code GET "$U_a/v1/jobs/$job" "${W[@]}" >/dev/null
  [ "$(jq_py "$tmp/body" "d['status']")" = Succeeded ] && break
  sleep 0.1
done
check "  the link is replaced, not followed" test "$(cat "$tmp/outside.csv")" = outside
check "  the result is a file in the folder" test -f "$tmp/p/.tsloop/outputs/link.csv" -a ! -L "$tmp/p/.tsloop/outputs/link.csv"

# a stops: b takes the scheduler over.
kill -TERM "$PID_a"; wait "$PID_a"; rc=$?
check "a exits 0 on SIGTERM" test "$rc" = 0
took=0
for _ in $(seq 100); do
  [ "$(leader "$U_b")" = True ] && { took=1; break; }
  sleep 0.1
done
check "b took the scheduler over" test "$took" = 1
# a again, with the same clock: 10:00 comes again three seconds later, but it ran already.
start a
sleep 4.5
"$TSLOOP" events "${P[@]}" --type forecast.scheduled --json --since 0 >"$tmp/ev" 2>/dev/null
check "the 10:00 fire time ran once across a restart and two daemons" \
  test "$(grep -c 'scheduled:solar:prod:20260301T1000Z' "$tmp/ev")" = 1
check "the restarted a does not schedule" test "$(leader "$U_a")" = False

# A training request from the CLI is run by a daemon.
expect_exit 0 "train --detach" "$TSLOOP" train solar --detach "${P[@]}"
ok=0
for _ in $(seq 400); do
  "$TSLOOP" runs list "${P[@]}" --json >"$tmp/runs" 2>/dev/null
  if [ "$(jq_py "$tmp/runs" "d[0]['trigger'], d[0]['status']")" = "manual Succeeded" ]; then
    ok=1; break
  fi
  sleep 0.1
done
check "the detached request ran in a daemon" test "$ok" = 1
check "a daemon logged its steps" sh -c "cat '$tmp/a.log' '$tmp/b.log' | grep -q '\"msg\":\"pipeline step\".*\"phase\":\"end\".*Succeeded'"

# The server: section (IPv6 listen address, TLS, caps, output folder), flags left unset; the
# request time cap; SIGHUP re-reading the caps.
mkdir -p "$tmp/p/tls"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/p/tls/key.pem" -out "$tmp/p/tls/cert.pem" \
  -days 2 -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" 2>/dev/null
check "a self-signed certificate" test -s "$tmp/p/tls/cert.pem"
tport=$(freeport)
cp "$tmp/p/tsloop.yaml" "$tmp/base.yaml"
server_section() { # server_section MAX_ITEMS
  cp "$tmp/base.yaml" "$tmp/p/tsloop.yaml"
  cat >>"$tmp/p/tsloop.yaml" <<YAML
server:
  listen: "[::1]:$tport"
  request_time: 2
  max_items: $1
  output_dir: forecasts/out
  tls:
    cert: tls/cert.pem
    key: tls/key.pem
YAML
}
server_section 3
"$TSLOOP" serve "${P[@]}" 2>"$tmp/c.log" &
PID_c=$!
pids+=("$PID_c")
US="https://[::1]:$tport"
TLS=(--cacert "$tmp/p/tls/cert.pem")
ready=0
for _ in $(seq 300); do
  curl -sf "${TLS[@]}" "$US/readyz" >/dev/null 2>&1 && { ready=1; break; }
  sleep 0.1
done
check "HTTPS on [::1] from the server: section" test "$ready" = 1
check "  logged: tls and the output folder" grep -q "\"tls\":true,\"outputs\":\"$tmp/p/forecasts/out\"" "$tmp/c.log"
check "  plain HTTP on that port gets no answer" test "$(curl -s -o /dev/null -w '%{http_code}' "http://[::1]:$tport/readyz")" = 000
check "  a certificate not trusted is refused" sh -c "! curl -sf 'https://[::1]:$tport/readyz' >/dev/null 2>&1"
FI='{"items":["lisbon","seville","a","b"]}'
check "max_items 3 from the section: 4 items are 413" \
  test "$(code POST "$US/v1/endpoints/prod/forecast" "${TLS[@]}" -H "Authorization: Bearer $(cat "$tmp/tok_r")" -d "$FI")" = 413
check "a job over HTTPS: 202" test "$(code POST "$US/v1/jobs" "${TLS[@]}" "${W[@]}" \
  -d '{"endpoint":"prod","items":["lisbon"]}')" = 202
job=$(jq_py "$tmp/body" "d['job']")
for _ in $(seq 300); do
  code GET "$US/v1/jobs/$job" "${TLS[@]}" "${W[@]}" >/dev/null
  [ "$(jq_py "$tmp/body" "d['status']")" = Succeeded ] && break
  sleep 0.1
done
# Any daemon's worker may have run it: it is written to the folder of the daemon that ran it.
check "the job's result is in an output folder" sh -c "test -s '$tmp/p/forecasts/out/job-$job.csv' || test -s '$tmp/p/.tsloop/outputs/job-$job.csv'"
check "  and streams over HTTPS" test "$(code GET "$US/v1/jobs/$job/result" "${TLS[@]}" "${W[@]}")" = 200
# A body sent one byte every 0.3 s passes the 2 s request time: the request is cut.
check "a slow upload is cut by the request time cap" python3 - "$tport" "$tmp/p/tls/cert.pem" <<'PY'
import socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection(("::1", int(sys.argv[1]))), server_hostname="localhost")
body = b'{"items":["lisbon","seville"],"horizon":2,"inference_id":"slow"}'
s.sendall(b"POST /v1/endpoints/prod/forecast HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
t0, answer = time.time(), b""
try:
    for ch in body:
        s.sendall(bytes([ch]))
        time.sleep(0.3)
    s.settimeout(5)
    answer = s.recv(200)
except OSError:
    pass
took = time.time() - t0
ok = took < 5 and (answer == b"" or b" 408 " in answer.split(b"\r\n")[0])
print("cut after %.1f s, answer %r" % (took, answer[:40]))
sys.exit(0 if ok else 1)
PY
# SIGHUP: the caps follow the section without a restart.
server_section 5
kill -HUP "$PID_c"
sleep 0.5
check "after SIGHUP, max_items 5: 4 items are 200" \
  test "$(code POST "$US/v1/endpoints/prod/forecast" "${TLS[@]}" -H "Authorization: Bearer $(cat "$tmp/tok_r")" -d "$FI")" = 200
kill -TERM "$PID_c"; wait "$PID_c"; rc=$?
check "the TLS daemon exits 0 on SIGTERM" test "$rc" = 0

# Missed fire times: with every daemon stopped, a daemon whose clock starts 5.5 minutes after
# the last fire time runs only the latest missed one, once, at start-up.
cp "$tmp/base.yaml" "$tmp/p/tsloop.yaml"
for p in "$PID_a" "$PID_b"; do kill -TERM "$p"; wait "$p"; done
last=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select last_fire from schedule_fires where key = ?", ("forecast:solar",)).fetchone()[0])' "$tmp/p/.tsloop/store.db")
"$TSLOOP" events "${P[@]}" --type forecast.scheduled --json --since 0 >"$tmp/ev0" 2>/dev/null
TSLOOP_TEST_CLOCK=$((last + 330)) start d
want=$(python3 -c 'import sys,time; print(time.strftime("%Y%m%dT%H%MZ", time.gmtime(int(sys.argv[1]) + 300)))' "$last")
for _ in $(seq 300); do grep -q '"msg":"scheduled forecast written"' "$tmp/d.log" && break; sleep 0.1; done
sleep 1.5
"$TSLOOP" events "${P[@]}" --type forecast.scheduled --json --since 0 >"$tmp/ev" 2>/dev/null
check "one missed fire time run at start-up" test "$(( $(wc -l <"$tmp/ev") - $(wc -l <"$tmp/ev0") ))" = 1
check "  the latest one ($want), 30 s late" sh -c "grep -q '\"schedule\":\"forecast:solar\",\"fire_time\":\"$want\",\"late_s\":3[0-9]' '$tmp/d.log'"
finish
