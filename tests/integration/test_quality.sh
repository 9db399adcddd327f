#!/usr/bin/env bash
# Quality monitors end to end: a project trained and deployed, `tsloop serve` evaluating each
# ingest (the daemon follows the event log); a clean day of data gives datapoints and no event;
# files with a flat-lined item (a dead sensor reading 0 all week) and missing values give the
# per-item and aggregate datapoints (`tsloop metrics`), one `dataset.quality` event per ingest
# (`tsloop events`), the ALARM after 2 bad ingests of 2 (`tsloop alarms`), a notification
# routed on dataset.quality with a readable text, and `tsloop ingest`'s one-line summary; an
# ingest evaluated by both the CLI and the daemon emits its event once.
# usage: test_quality.sh PATH/TO/tsloop   (ctest passes it)
set -uo pipefail
TSLOOP=$(cd "$(dirname "$1")" && pwd -P)/$(basename "$1")
tmp=$(mktemp -d)
tmp=$(cd "$tmp" && pwd -P)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"
P=(--project "$tmp/shop")

make_project "$tmp/shop"
cat >"$tmp/cmd.sh" <<SH
#!/bin/sh
cat >>"$tmp/cmd.jsonl"
echo >>"$tmp/cmd.jsonl"
SH
chmod +x "$tmp/cmd.sh"
cat >>"$tmp/shop/tsloop.yaml" <<YAML
endpoints:
  prod:
    forecaster: daily
    requires_approval: false
monitors:
  prod-quality:
    kind: quality
    endpoint: prod
    quality: {flat_points: 5}
    evaluation_periods: 2
    datapoints_to_alarm: 2
notifications:
  data-team:
    type: command
    argv: [$tmp/cmd.sh]
    events: [dataset.quality]
YAML
expect_exit 0 "config with a quality monitor" "$TSLOOP" config "${P[@]}"
gen "$tmp/hist.csv" 3 60
expect_exit 0 "ingest history" "$TSLOOP" ingest "${P[@]}" "$tmp/hist.csv"
expect_exit 0 "train" "$TSLOOP" train daily "${P[@]}"
expect_exit 0 "deploy" "$TSLOOP" deploy daily/1 --endpoint prod "${P[@]}"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$TSLOOP" serve "${P[@]}" --listen "127.0.0.1:$port" --threads 2 2>"$tmp/serve.log" &
pid=$!
ready=0
for _ in $(seq 100); do
  if curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then ready=1; break; fi
  sleep 0.1
done
check "ready" test "$ready" = 1

# wait_for SECONDS COMMAND...: until the command succeeds.
wait_for() {
  local n=$(($1 * 20)); shift
  for _ in $(seq "$n"); do "$@" && return 0; sleep 0.05; done
  return 1
}
# reported ID: the daemon recorded a quality report of ingest ID.
reported() {
  python3 - "$tmp/shop/.tsloop/store.db" "$1" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
n = db.execute("select count(*) from quality_reports where ingest_id = ?", (int(sys.argv[2]),))
sys.exit(0 if n.fetchone()[0] == 1 else 1)
PY
}
ingest_id() { python3 -c 'import re,sys; print(re.search(r"\(ingest (\d+)", open(sys.argv[1]).read()).group(1))' "$tmp/out"; }
alarm_state() {
  "$TSLOOP" alarms prod-quality "${P[@]}" --json >"$tmp/alarm" 2>/dev/null
  jq_py "$tmp/alarm" "d['state']"
}

# a clean week: the data go on as before
gen "$tmp/clean.csv" 3 7 0 60
expect_exit 0 "ingest a clean week (daemon evaluates)" "$TSLOOP" ingest --no-evaluate "${P[@]}" "$tmp/clean.csv"
clean=$(ingest_id)
check "the daemon evaluated the clean ingest" wait_for 5 reported "$clean"
check "clean: OK" test "$(alarm_state)" = OK

# bad_week FILE START: item000 reads 0 all week (a dead sensor), item001 misses 2 values.
bad_week() {
  python3 - "$tmp/tmp.csv" "$1" "$2" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
with open(sys.argv[2], "w") as f:
    f.write(",".join(rows[0]) + "\n")
    for i, r in enumerate(rows[1:]):
        if r[0] == "item000":
            r[3] = "0"
        if r[0] == "item001" and i % 7 in (2, 4):
            r[3] = ""
        f.write(",".join(r) + "\n")
PY
}
gen "$tmp/tmp.csv" 3 7 0 67
bad_week "$tmp/bad1.csv" 67
expect_exit 0 "ingest a bad week" "$TSLOOP" ingest --no-evaluate "${P[@]}" "$tmp/bad1.csv"
bad1=$(ingest_id)
check "the daemon evaluated the bad ingest" wait_for 5 reported "$bad1"
check "one bad ingest of two: still OK" test "$(alarm_state)" = OK

expect_exit 0 "metrics of every item" "$TSLOOP" metrics "${P[@]}" --monitor prod-quality --item '*' --limit 0 --json
check "datapoints: aggregate and per item, per ingest" python3 - "$tmp/out" "$clean" "$bad1" <<'PY'
import json, sys
pts = json.load(open(sys.argv[1]))["datapoints"]
clean, bad = "ingest:" + sys.argv[2], "ingest:" + sys.argv[3]
def get(win, item, metric):
    m = [p for p in pts if p["window"] == win and p["item"] == item and p["metric"] == metric]
    assert len(m) == 1, (win, item, metric, m)
    return m[0]
assert get(clean, None, "flagged")["value"] == 0
assert not [p for p in pts if p["window"] == clean and p["item"] is not None], pts
assert abs(get(bad, None, "missing")["value"] - 2 / 21) < 1e-9
assert abs(get(bad, "item001", "missing")["value"] - 2 / 7) < 1e-9
assert get(bad, "item001", "missing")["n"] == 2
f = get(bad, "item000", "flatline")
assert f["value"] == 1 and f["n"] == 7, f
assert abs(get(bad, None, "flatline")["value"] - 1 / 3) < 1e-9
assert get(bad, "item000", "out_of_range")["value"] == 1  # 0 is far below its usual range
assert abs(get(bad, None, "flagged")["value"] - 2 / 3) < 1e-9
assert get(bad, None, "stale")["value"] == 0 and get(bad, None, "gaps")["value"] == 0
PY
expect_exit 0 "tsloop metrics prints the ingest windows" "$TSLOOP" metrics "${P[@]}" --monitor prod-quality --metric flagged
check "the table names the window" grep -q "ingest:$bad1 .*prod-quality .*flagged" "$tmp/out"

gen "$tmp/tmp.csv" 3 7 0 74
bad_week "$tmp/bad2.csv" 74
expect_exit 0 "ingest a second bad week" "$TSLOOP" ingest --no-evaluate "${P[@]}" "$tmp/bad2.csv"
bad2=$(ingest_id)
check "the daemon evaluated the second bad ingest" wait_for 5 reported "$bad2"
check "two bad ingests of two: ALARM" test "$(alarm_state)" = ALARM
expect_exit 0 "tsloop alarms" "$TSLOOP" alarms "${P[@]}"
check "the alarm's row" grep -q "prod-quality .*ALARM .*2 of the last 2 datapoints" "$tmp/out"

expect_exit 0 "events" "$TSLOOP" events "${P[@]}" --json --limit 1000
cp "$tmp/out" "$tmp/events"
check "one dataset.quality event per bad ingest, none for the clean one" python3 - "$tmp/events" "$bad1" "$bad2" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
q = [e for e in ev if e["type"] == "dataset.quality"]
assert [e["payload"]["ingest_id"] for e in q] == [int(sys.argv[2]), int(sys.argv[3])], q
p = q[0]["payload"]
assert q[0]["subject"] == "dataset:sales", q[0]
assert (p["dataset"], p["monitor"], p["endpoint"], p["forecaster"], p["version"]) == \
    ("sales", "prod-quality", "prod", "daily", 1), p
assert (p["points"], p["items"], p["worst"]) == (21, 3, "warning"), p
assert abs(p["checks"]["missing"] - 2 / 21) < 1e-9 and "flagged" in p["checks"], p
v = p["violations"]
assert {(x["check"], x["item"]) for x in v} >= {("missing", "item001"), ("flatline", "item000"),
                                              ("out_of_range", "item000")}, v
assert all(x["severity"] == "warning" for x in v) and len(v) <= 20, v
al = [e for e in ev if e["type"] == "alarm.state_changed" and e["subject"] == "monitor:prod-quality"]
assert al[-1]["payload"]["state"] == "ALARM" and al[-1]["payload"]["kind"] == "quality", al
assert al[-1]["payload"]["metric"] == "flagged" and al[-1]["payload"]["window"] == "ingest", al
PY
check "the notification routed on dataset.quality" wait_for 10 sh -c "[ \$(grep -c dataset.quality '$tmp/cmd.jsonl' 2>/dev/null) -ge 2 ]"
check "its text says what was found and where to look" python3 - "$tmp/cmd.jsonl" <<'PY'
import json, sys
msgs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
t = msgs[0]["text"]
assert t.startswith("Data quality of sales: warning in ingest "), t
for part in ("Endpoint: prod (daily/1)", "New points: 21 in 3 items", "[warning] flatline:",
             "item000", "[warning] missing: 2 of 7 new points of item001 are missing",
             "tsloop metrics --monitor prod-quality"):
    assert part in t, (part, t)
PY

# the CLI evaluates too (racing the daemon): one event, and the summary line
gen "$tmp/tmp.csv" 3 7 0 81
bad_week "$tmp/bad3.csv" 81
expect_exit 0 "ingest with the CLI's evaluation" "$TSLOOP" ingest "${P[@]}" "$tmp/bad3.csv"
check "tsloop ingest prints the quality line" grep -q "^quality (prod-quality, ingest [0-9]*): 3 warnings: " "$tmp/out"
check "naming the checks and items" grep -q "missing 9.52% (item001).*flatline 33.3% (item000)" "$tmp/out"
bad3=$(ingest_id)
sleep 0.5 # the daemon's follower has seen the ingest too
expect_exit 0 "events again" "$TSLOOP" events "${P[@]}" --json --limit 1000
check "one event for the ingest both evaluated" test "$(jsonl_py "$tmp/out" \
  "sum(1 for e in d if e['type'] == 'dataset.quality' and e['payload']['ingest_id'] == $bad3)")" = 1

kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
pid=
finish
