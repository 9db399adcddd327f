#!/usr/bin/env bash
# Notification latency and inbox throughput through `tsloop serve`.
#   bench/notify.sh [TSLOOP] [EVENTS] [FILES] [ROWS]
# 1. Latency: a webhook receiver on loopback (tests/integration/notify_receiver.py, checking
#    the signature); EVENTS alarm.state_changed events are appended one at a time, each when
#    the previous one was received, and the time from the append to the receiver getting it
#    is measured (p50, p90, max). The notifier polls the log every 200 ms (an idle channel costs
#    one read transaction per poll), so that bounds the latency, plus the delivery.
# 2. Throughput: EVENTS events appended at once, and the time until the last is received.
# 3. The inbox: FILES files of ROWS rows each (hourly, 10 items) dropped into the inbox at
#    once; the time until all are in processed/, and rows per second.
set -euo pipefail
cd "$(dirname "$0")/.."
TSLOOP=$(realpath "${1:-build/tsloop}")
events=${2:-50}
files=${3:-20}
rows=${4:-50000}
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
python3 tests/integration/notify_receiver.py webhook "$tmp/hook.port" "$tmp/hook.jsonl" k &
pids+=($!)
for _ in $(seq 50); do [ -s "$tmp/hook.port" ] && break; sleep 0.1; done
"$TSLOOP" init "$tmp/p" >/dev/null
cat >"$tmp/p/tsloop.yaml" <<YAML
version: 1
name: bench-notify
datasets:
  load: {frequency: H, inbox: inbox}
notifications:
  hook:
    type: webhook
    url: http://127.0.0.1:$(cat "$tmp/hook.port")/
    secret: k
    events: [alarm.state_changed]
YAML
"$TSLOOP" migrate --project "$tmp/p" --apply >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$TSLOOP" serve --project "$tmp/p" --listen "127.0.0.1:$port" --threads 1 2>"$tmp/serve.log" &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" -o /dev/null && break; sleep 0.1; done

python3 - "$tmp/p/.tsloop/store.db" "$tmp/hook.jsonl" "$events" <<'PY'
import json, os, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=30)
hook, n = sys.argv[2], int(sys.argv[3])
def received():
    return sum(1 for _ in open(hook)) if os.path.exists(hook) else 0
def append(i):
    db.execute("INSERT INTO events(at_ms, type, subject, payload) VALUES (?,?,?,?)",
               (int(time.time() * 1000), "alarm.state_changed", "monitor:m",
                json.dumps({"monitor": "m", "previous": "OK", "state": "ALARM", "value": i})))
    db.commit()
lat = []
for i in range(n):
    have = received(); t0 = time.time(); append(i)
    while received() == have: time.sleep(0.002)
    lat.append(time.time() - t0)
lat.sort()
print("latency, event appended -> webhook received (%d events): p50 %.0f ms, p90 %.0f ms, max %.0f ms"
      % (n, 1000 * lat[n // 2], 1000 * lat[int(n * 0.9)], 1000 * lat[-1]))
have = received(); t0 = time.time()
for i in range(n): append(i)
while received() < have + n: time.sleep(0.005)
dt = time.time() - t0
print("throughput, %d events appended at once: all received in %.2f s (%.0f deliveries/s, one channel)"
      % (n, dt, n / dt))
ok = all(json.loads(l)["signature_ok"] for l in open(hook))
print("every signature valid:", ok)
PY

python3 - "$tmp/files" "$files" "$rows" <<'PY'
import os, sys
d, nf, nr = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(d)
for f in range(nf):
    with open(os.path.join(d, "f%03d.csv" % f), "w") as o:
        o.write("item_id,timestamp,target_value\n")
        per = nr // 10
        for i in range(10):
            for t in range(per):
                s = (f * per + t) * 3600
                o.write("i%d,%d,%.3f\n" % (i, 1700000000 + s, (t % 24) + i))
PY
mkdir -p "$tmp/p/inbox"
t0=$(date +%s.%N)
for f in "$tmp/files"/*.csv; do mv "$f" "$tmp/p/inbox/"; done
while [ "$(ls "$tmp/p/inbox/processed" 2>/dev/null | wc -l)" -lt "$files" ]; do sleep 0.05; done
t1=$(date +%s.%N)
python3 -c "import sys; dt=float(sys.argv[2])-float(sys.argv[1]); n=int(sys.argv[3])*int(sys.argv[4]); print('inbox: %s files of %s rows processed in %.2f s (%.0f rows/s, hashing, ingesting and moving)' % (sys.argv[3], sys.argv[4], dt, n/dt))" "$t0" "$t1" "$files" "$rows"
