#!/usr/bin/env bash
# Notifications through the real daemon, to receivers on loopback started here
# (notify_receiver.py): a webhook whose receiver checks the HMAC-SHA256 signature itself and
# fails its first two requests (retries with backoff, then delivered: notification.sent with
# 3 attempts), a webhook whose target is down (retries, then the dead letter
# notification.failed, while the other channels are served all along), e-mail over SMTP, and
# a command fed the event JSON on stdin. Routing by patterns; events the test appends itself
# (as the monitor and retrain parts will); a restart resumes from the channels' cursors
# without sending anything twice. Also the inbox's dataset.ingested event routed to a channel.
# usage: test_notify.sh PATH/TO/tsloop   (ctest passes it)
set -uo pipefail
TSLOOP=$(cd "$(dirname "$1")" && pwd -P)/$(basename "$1")
tmp=$(mktemp -d)
tmp=$(cd "$tmp" && pwd -P)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; [ -n "${KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd -P)
P=(--project "$tmp/shop")

python3 "$HERE/notify_receiver.py" webhook "$tmp/hook.port" "$tmp/hook.jsonl" s3cret 2 &
pids+=($!)
python3 "$HERE/notify_receiver.py" smtp "$tmp/smtp.port" "$tmp/smtp.jsonl" &
pids+=($!)
for _ in $(seq 50); do [ -s "$tmp/hook.port" ] && [ -s "$tmp/smtp.port" ] && break; sleep 0.1; done
down=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$tmp/cmd.sh" <<SH
#!/bin/sh
cat >>"$tmp/cmd.jsonl"
echo >>"$tmp/cmd.jsonl"
SH
chmod +x "$tmp/cmd.sh"

make_project "$tmp/shop"
sed -i 's/^    non_negative: true/    non_negative: true\n    inbox: incoming/' "$tmp/shop/tsloop.yaml"
cat >>"$tmp/shop/tsloop.yaml" <<YAML
notifications:
  ops-hook:
    type: webhook
    url: http://127.0.0.1:$(cat "$tmp/hook.port")/hook
    secret: \${HOOK_SECRET}
    events: [alarm.state_changed, model.*, retrain.*, dataset.ingested]
    retries: 4
    backoff_ms: 200
    max_backoff_ms: 400
  down-hook:
    type: webhook
    url: http://127.0.0.1:$down/nobody-listens
    events: [alarm.state_changed]
    timeout: 2
    retries: 2
    backoff_ms: 100
  team-mail:
    type: email
    url: smtp://127.0.0.1:$(cat "$tmp/smtp.port")
    from: tsloop@example.com
    to: [ops@example.com, forecasting@example.com]
    events: [model.pending, notification.failed]
  pager:
    type: command
    argv: [$tmp/cmd.sh, --unused]
    events: [alarm.*]
YAML
expect_exit 1 "config refuses an unset secret" "$TSLOOP" config "${P[@]}"
check "names the variable" grep -q "HOOK_SECRET is not set" "$tmp/err"
export HOOK_SECRET=s3cret
expect_exit 0 "config with notifications" "$TSLOOP" config "${P[@]}"
"$TSLOOP" migrate "${P[@]}" --apply >/dev/null 2>&1
"$TSLOOP" params set warmup 1 --why "an event before the daemon" "${P[@]}" >/dev/null 2>&1

# append TYPE SUBJECT PAYLOAD: an event, as the other parts of tsloop record theirs.
append() {
  python3 - "$tmp/shop/.tsloop/store.db" "$@" <<'PY'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=30)
db.execute("INSERT INTO events(at_ms, type, subject, payload) VALUES (?, ?, ?, ?)",
           (int(time.time() * 1000), sys.argv[2], sys.argv[3], sys.argv[4]))
db.commit()
PY
}
lines() { [ -f "$1" ] && grep -c . "$1" || echo 0; }
# wait_for SECONDS COMMAND...: until the command succeeds.
wait_for() {
  local n=$(($1 * 10)); shift
  for _ in $(seq $n); do "$@" && return 0; sleep 0.1; done
  return 1
}
events_of() { # events_of TYPE: the payloads of that type, one per line
  "$TSLOOP" events "${P[@]}" --since 0 --limit 100000 --type "$1" --json 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
    if l.strip():
        e=json.loads(l); p=e["payload"]; print(json.dumps(p if isinstance(p,dict) else json.loads(p)))'
}

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start() {
  "$TSLOOP" serve "${P[@]}" --listen "127.0.0.1:$port" --threads 1 2>>"$tmp/serve.log" &
  dpid=$!
  pids+=($dpid)
  wait_for 10 curl -sf "http://127.0.0.1:$port/readyz" -o /dev/null
}
check "daemon up" start
check "logs the notifier" grep -q '"notifier started","channels":4' "$tmp/serve.log"

ALARM='{"monitor":"solar-mase","kind":"accuracy","forecaster":"daily","endpoint":"prod","metric":"mase","previous":"OK","state":"ALARM","value":1.37,"threshold":1.1,"comparison":"GreaterThanThreshold","reason":"3 of the last 3 datapoints breached the threshold","datapoints":[{"window_start":"2026-05-01T00:00:00Z","value":1.2},{"window_start":"2026-05-02T00:00:00Z","value":1.3},{"window_start":"2026-05-03T00:00:00Z","value":1.37}],"at":"2026-05-04T10:00:00Z"}'
append alarm.state_changed monitor:solar-mase "$ALARM"
append model.pending model:daily/3 '{"forecaster":"daily","version":3,"from":null,"to":"PendingManualApproval","who":"pipeline","why":""}'
append execution.status execution:9 '{"execution":9}'

# The webhook: the first two attempts answered 500, the third delivered, in order.
check "webhook: alarm delivered on the third attempt" wait_for 15 sh -c "[ \$(grep -c '\"answered\": 204' '$tmp/hook.jsonl' 2>/dev/null) -ge 2 ]"
check "every request signed correctly" test "$(grep -c '"signature_ok": true' "$tmp/hook.jsonl")" = "$(lines "$tmp/hook.jsonl")"
check "the alarm was attempted 3 times, then the model.pending once" test \
  "$(jsonl_py "$tmp/hook.jsonl" "' '.join(r['event']+':'+str(r['answered']) for r in d)")" = \
  "alarm.state_changed:500 alarm.state_changed:500 alarm.state_changed:204 model.pending:204"
check "one delivery id across the retries" test "$(jsonl_py "$tmp/hook.jsonl" "len(set(r['delivery'] for r in d[:3]))")" = 1
check "not routed: execution.status, param.set (before the daemon)" test \
  "$(jsonl_py "$tmp/hook.jsonl" "sum(r['event'] in ('execution.status','param.set') for r in d)")" = 0
check "the body: event, payload and the text" test "$(jsonl_py "$tmp/hook.jsonl" \
  "d[2]['body']['type'], d[2]['body']['payload']['monitor'], d[2]['body']['project']")" = "alarm.state_changed solar-mase itest"
check "the text: metric against threshold, windows" test "$(jsonl_py "$tmp/hook.jsonl" \
  "all(s in d[2]['body']['text'] for s in ('Alarm solar-mase: OK -> ALARM', 'mase = 1.37 against threshold 1.1', '2026-05-02T00:00:00Z  1.3  (above the threshold)'))")" = True
check "the approval text: the exact commands" test "$(jsonl_py "$tmp/hook.jsonl" \
  "'tsloop models approve daily/3 --why' in d[3]['body']['text'] and '/v1/models/daily/3/approve' in d[3]['body']['text']")" = True
check "notification.sent after 3 attempts" wait_for 5 sh -c "'$TSLOOP' events --project '$tmp/shop' --since 0 --type notification.sent --json | grep -q '\"attempts\":3'"

# The target that is down: 3 attempts, then the dead letter; e-mail (which routes dead letters)
# and the command were served meanwhile.
check "down-hook dead-lettered" wait_for 20 sh -c "'$TSLOOP' events --project '$tmp/shop' --since 0 --type notification.failed --json | grep -q down-hook"
check "the dead letter: channel, event, attempts, error" test "$(events_of notification.failed | python3 -c \
  'import json,sys; p=json.loads(sys.stdin.readline()); print(p["channel"], p["event_type"], p["attempts"], "127.0.0.1" in p["error"])')" = \
  "down-hook alarm.state_changed 3 True"
check "command: the alarm on stdin" wait_for 5 sh -c "grep -q solar-mase '$tmp/cmd.jsonl'"
check "command: the event JSON" test "$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["type"])' "$tmp/cmd.jsonl")" = alarm.state_changed
check "e-mail: model.pending and the dead letter" wait_for 10 sh -c "[ \$(grep -c . '$tmp/smtp.jsonl' 2>/dev/null) -ge 2 ]"
check "e-mail: recipients, headers, approval commands" test "$(jsonl_py "$tmp/smtp.jsonl" \
  "[m for m in d if 'X-Tsloop-Event: model.pending' in m['message']][0]['to'] == ['ops@example.com','forecasting@example.com'] and all(s in [m for m in d if 'X-Tsloop-Event: model.pending' in m['message']][0]['message'] for s in ('Subject: [tsloop] Model daily/3 waits for approval', 'Message-ID: <tsloop-', 'Date: ', 'tsloop models approve daily/3'))")" = True
check "e-mail: the dead letter says which channel gave up" test "$(jsonl_py "$tmp/smtp.jsonl" \
  "any('Notification channel down-hook gave up' in m['message'] for m in d)")" = True
check "no notification about notification.sent" test "$(jsonl_py "$tmp/hook.jsonl" "sum(r['event'].startswith('notification.') for r in d)")" = 0

# The inbox's events are routed too (source inbox, the file's name).
gen "$tmp/a.csv" 3 20
cp "$tmp/a.csv" "$tmp/shop/incoming/a.csv"
check "dataset.ingested from the inbox reaches the webhook" wait_for 10 sh -c "grep -q '\"file\": \"a.csv\"' '$tmp/hook.jsonl'"

# A restart resumes from the cursors: nothing is sent twice; new events are sent once.
kill -TERM $dpid; wait $dpid
before=$(lines "$tmp/hook.jsonl")
mails=$(lines "$tmp/smtp.jsonl")
append retrain.requested forecaster:daily '{"forecaster":"daily","trigger":"alarm","reason":"alarm solar-mase","execution_id":12}'
check "daemon up again" start
check "the retrain event delivered" wait_for 10 sh -c "grep -q retrain.requested '$tmp/hook.jsonl'"
sleep 1
check "exactly one more webhook request" test "$(lines "$tmp/hook.jsonl")" = $((before + 1))
check "no e-mail again" test "$(lines "$tmp/smtp.jsonl")" = "$mails"

# Two daemons on the project: each channel is sent from one of them only (its lock).
port2=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$TSLOOP" serve "${P[@]}" --listen "127.0.0.1:$port2" --threads 1 --pipeline-workers 0 2>>"$tmp/serve2.log" &
dpid2=$!
pids+=($dpid2)
check "second daemon up" wait_for 10 curl -sf "http://127.0.0.1:$port2/readyz" -o /dev/null
sleep 1.5 # the second daemon's channel threads have tried the locks by now
before=$(lines "$tmp/hook.jsonl")
append retrain.requested forecaster:daily '{"forecaster":"daily","trigger":"alarm","reason":"alarm solar-mase","execution_id":13}'
check "two daemons: delivered" wait_for 10 sh -c "grep -q '\"execution_id\": 13' '$tmp/hook.jsonl'"
sleep 1.5
check "two daemons: exactly once" test "$(lines "$tmp/hook.jsonl")" = $((before + 1))
check "the second daemon did not take the channel" test "$(grep -c 'notifier channel taken' "$tmp/serve2.log")" = 0
# The first one stops and gives its locks up: the second takes the channels over at once.
kill -TERM $dpid; wait $dpid
append retrain.requested forecaster:daily '{"forecaster":"daily","trigger":"alarm","reason":"alarm solar-mase","execution_id":14}'
check "takeover: delivered by the second daemon" wait_for 10 sh -c "grep -q '\"execution_id\": 14' '$tmp/hook.jsonl'"
check "takeover: logged" grep -q 'notifier channel taken' "$tmp/serve2.log"
check "takeover: exactly once" test "$(lines "$tmp/hook.jsonl")" = $((before + 2))
dpid=$dpid2
kill -TERM $dpid; wait $dpid
check "the daemon logged JSON only" python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$tmp/serve.log"
finish
