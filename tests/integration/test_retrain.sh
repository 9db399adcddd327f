#!/usr/bin/env bash
# Retraining and promotion through the real program (docs/retraining.md): a champion is
# trained, auto-approved and deployed, its batch forecast captured, the actuals arrive; an
# alarm.state_changed event (appended straight to the store's event log: the monitor
# evaluator is built elsewhere) leads to exactly one retraining, whose version is compared
# with the champion on the captured origins, approved by the margin on that comparison and
# deployed by auto_deploy; a second alarm within the cooldown is suppressed with the event;
# `tsloop retrain F` is manual (no cooldown); kill -9 of the process running the reactor
# during the retraining, then a restart: the execution completes once, nothing duplicated;
# and the daemon's retrain thread requests a retraining from an alarm by itself.
# usage: test_retrain.sh PATH/TO/tsloop   (ctest passes it)
set -uo pipefail
TSLOOP=$(cd "$(dirname "$1")" && pwd -P)/$(basename "$1")
tmp=$(mktemp -d)
tmp=$(cd "$tmp" && pwd -P)
daemon=
trap '[ -n "$daemon" ] && kill -9 "$daemon" 2>/dev/null; [ -z "${KEEP:-}" ] && rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"
P=(--project "$tmp/p")

# The champion forecasts with the overall mean: poor on weekly data, so a retraining with
# the usual candidates is clearly better on the same origins.
write_config() { # write_config CANDIDATES
  cat >"$tmp/p/tsloop.yaml" <<YAML
version: 1
name: retrain
datasets:
  sales:
    frequency: D
    columns:
      dimensions: [region]
forecasters:
  daily:
    dataset: sales
    horizon: 7
    candidates: $1
    backtest_windows: 2
    approval: {policy: auto, margin: 0.05}
    retrain: {on_alarm: true, cooldown: 6h, max_per_day: 4}
  backup:
    dataset: sales
    horizon: 7
    candidates: [naive, snaive]
    backtest_windows: 2
    retrain: {on_alarm: [acc]}
endpoints:
  prod:
    forecaster: daily
    auto_deploy: on_approval
YAML
}

# alarm MONITOR FORECASTER: appends alarm.state_changed (to ALARM) to the event log.
alarm() {
  python3 - "$tmp/p/.tsloop/store.db" "$1" "$2" <<'PY'
import json, sqlite3, sys, time
db, monitor, forecaster = sys.argv[1:4]
c = sqlite3.connect(db, timeout=30)
payload = {"monitor": monitor, "kind": "accuracy", "forecaster": forecaster, "endpoint": "prod",
           "metric": "mase", "previous": "OK", "state": "ALARM", "value": 2.4,
           "threshold": 1.5, "comparison": "GreaterThanThreshold",
           "reason": "3 of the last 3 datapoints breached the threshold 1.5", "datapoints": []}
with c:
    c.execute("INSERT INTO events(at_ms, type, subject, payload) VALUES (?, ?, ?, ?)",
              (int(time.time() * 1000), "alarm.state_changed", "monitor:" + monitor,
               json.dumps(payload)))
PY
}

"$TSLOOP" init "$tmp/p" >/dev/null
write_config "[mean]"
gen "$tmp/d60.csv" 3 60
expect_exit 0 "ingest 60 days" "$TSLOOP" ingest "${P[@]}" "$tmp/d60.csv"
expect_exit 0 "train the champion" "$TSLOOP" train daily "${P[@]}" --quiet
check "version 1 approved (no champion yet)" grep -q "registered daily/1: Approved" "$tmp/out"
expect_exit 0 "endpoint prod" "$TSLOOP" endpoints prod "${P[@]}" --json
check "prod serves daily/1 (auto_deploy on_approval)" test "$(jq_py "$tmp/out" "d[0]['version']")" = 1
expect_exit 0 "batch forecast, captured" "$TSLOOP" predict --endpoint prod --output "$tmp/f.csv" "${P[@]}"
gen "$tmp/d67.csv" 3 67
expect_exit 0 "the week's actuals arrive" "$TSLOOP" ingest "${P[@]}" "$tmp/d67.csv"

write_config "[naive, snaive, theta]"
# The champion was trained seven hours ago, as far as the cooldown can tell (it counts from
# the forecaster's last execution, the manual one included).
python3 - "$tmp/p/.tsloop/store.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], timeout=30)
with c:
    c.execute("UPDATE executions SET created_ms = created_ms - 7 * 3600000")
PY
alarm acc daily
expect_exit 0 "retrain trigger round, run here" "$TSLOOP" retrain --poll --run --json "${P[@]}"
check "one retraining requested, none suppressed" test "$(jq_py "$tmp/out" \
  "d['requested'], d['suppressed']")" = "1 0"
expect_exit 0 "runs" "$TSLOOP" runs list daily "${P[@]}" --json
check "exactly one more execution, triggered by the alarm, succeeded" test "$(jq_py "$tmp/out" \
  "len(d), d[0]['trigger'], d[0]['status']")" = "2 alarm Succeeded"
expect_exit 0 "show daily/2" "$TSLOOP" models show daily/2 "${P[@]}" --json
check "compared with the deployed champion at the captured origin" test "$(jq_py "$tmp/out" \
  "[d['metrics']['recent'][k] for k in ('endpoint', 'champion_version', 'origins', 'points', 'items')]")" \
  = "['prod', 1, 1, 21, 3]"
check "the challenger beats the champion by the margin" test "$(jq_py "$tmp/out" \
  "d['metrics']['recent']['challenger'] <= 0.95 * d['metrics']['recent']['champion']")" = True
check "approved on the recent comparison" test "$(jq_py "$tmp/out" "d['status']")" = Approved
expect_exit 0 "show text" "$TSLOOP" models show daily/2 "${P[@]}"
check "show prints the recent comparison" grep -q "^recent .* of prod's version 1 .* at 1 origins, 21 points" "$tmp/out"
expect_exit 0 "diff" "$TSLOOP" models diff daily/1 daily/2 "${P[@]}"
check "diff prints it" grep -q "recent comparison of daily/2: mase" "$tmp/out"
expect_exit 0 "endpoint prod again" "$TSLOOP" endpoints prod "${P[@]}" --json
check "prod now serves daily/2" test "$(jq_py "$tmp/out" "d[0]['version']")" = 2
expect_exit 0 "events" "$TSLOOP" events --since 0 --limit 100000 --json "${P[@]}"
check "one retrain.requested, from the alarm" test "$(jsonl_py "$tmp/out" \
  "[(e['payload']['trigger'], e['payload']['outcome']) for e in d if e['type'] == 'retrain.requested']")" \
  = "[('alarm', 'new')]"
check "one model.compared, better" test "$(jsonl_py "$tmp/out" \
  "[(e['subject'], e['payload']['better']) for e in d if e['type'] == 'model.compared']")" \
  = "[('model:daily/2', True)]"

alarm acc daily
expect_exit 0 "second alarm, within the cooldown" "$TSLOOP" retrain --poll --json "${P[@]}"
check "suppressed" test "$(jq_py "$tmp/out" "d['requested'], d['suppressed']")" = "0 1"
expect_exit 0 "events" "$TSLOOP" events --type retrain.suppressed --json "${P[@]}"
check "retrain.suppressed says cooldown" test "$(jsonl_py "$tmp/out" \
  "len(d), 'cooldown of 6h' in d[0]['payload']['reason']")" = "1 True"
expect_exit 0 "runs" "$TSLOOP" runs list daily "${P[@]}" --json
check "no execution for it" test "$(jq_py "$tmp/out" "len(d)")" = 2
expect_exit 0 "manual retraining ignores the cooldown" "$TSLOOP" retrain daily --why "new promo" --json "${P[@]}"
check "requested, trigger manual" test "$(jq_py "$tmp/out" "d['outcome'], d['status']")" = "new Queued"
expect_exit 0 "run it" "$TSLOOP" runs resume daily "${P[@]}" --quiet
expect_exit 2 "usage: a forecaster and --poll" "$TSLOOP" retrain daily --poll "${P[@]}"
expect_exit 1 "unknown forecaster" "$TSLOOP" retrain nope "${P[@]}"

# kill -9 of the process running the reactor's execution, inside automl.
alarm acc backup
TSLOOP_TEST_STEP_DELAY="automl:60000" "$TSLOOP" retrain --poll --run "${P[@]}" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  "$TSLOOP" runs list backup "${P[@]}" --json >"$tmp/runs" 2>/dev/null
  [ "$(jq_py "$tmp/runs" "[s['name'] for s in d[0]['steps']] if d else []" 2>/dev/null)" = "['validate', 'automl']" ] && break
  sleep 0.1
done
kill -9 "$pid"
wait "$pid" 2>/dev/null
expect_exit 0 "after the kill: still one execution, Executing" "$TSLOOP" runs list backup "${P[@]}" --json
check "one execution in automl" test "$(jq_py "$tmp/out" "len(d), d[0]['status']")" = "1 Executing"
expect_exit 0 "restart: the round finds nothing new, runs what was left" "$TSLOOP" retrain --poll --run --json "${P[@]}"
check "nothing requested again" test "$(jq_py "$tmp/out" "d['requested']")" = 0
expect_exit 0 "runs" "$TSLOOP" runs list backup "${P[@]}" --json
check "the same execution completed, recovered once" test "$(jq_py "$tmp/out" \
  "len(d), d[0]['status'], d[0]['recoveries']")" = "1 Succeeded 1" || cat "$tmp/out" | head -40
expect_exit 0 "versions of backup" "$TSLOOP" models list backup "${P[@]}" --json
check "one version" test "$(jq_py "$tmp/out" "len(d)")" = 1
expect_exit 0 "events" "$TSLOOP" events --type retrain.requested --json "${P[@]}"
check "one retrain.requested for backup" test "$(jsonl_py "$tmp/out" \
  "len([e for e in d if e['payload']['forecaster'] == 'backup'])")" = 1

# The daemon's retrain thread acts by itself.
"$TSLOOP" serve "${P[@]}" --listen 127.0.0.1:0 >"$tmp/serve.log" 2>&1 &
daemon=$!
sleep 0.5
alarm acc backup
for _ in $(seq 1 50); do
  "$TSLOOP" events --type retrain.requested --json "${P[@]}" >"$tmp/out" 2>/dev/null
  [ "$(jsonl_py "$tmp/out" "len([e for e in d if e['payload']['forecaster'] == 'backup'])")" = 2 ] && break
  sleep 0.1
done
check "the daemon requested a retraining of backup" test "$(jsonl_py "$tmp/out" \
  "len([e for e in d if e['payload']['forecaster'] == 'backup'])")" = 2
kill -TERM "$daemon"
wait "$daemon" 2>/dev/null
daemon=
finish
