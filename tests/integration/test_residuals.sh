#!/usr/bin/env bash
# The residual detectors end to end through the CLI: a project trained and deployed, a
# one-step-ahead batch forecast captured each day (`tsloop predict --horizon 1`), that day's
# ground truth ingested (`tsloop ingest` evaluates the monitors); a CUSUM drift monitor stays
# OK while the actuals follow the history and goes to ALARM within a few days once they shift
# up by 3 (several residual standard deviations); the datapoints say which item signalled;
# ingesting the same day again feeds nothing twice.
# usage: test_residuals.sh PATH/TO/tsloop   (ctest passes it)
set -uo pipefail
TSLOOP=$(cd "$(dirname "$1")" && pwd -P)/$(basename "$1")
tmp=$(mktemp -d)
tmp=$(cd "$tmp" && pwd -P)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"
P=(--project "$tmp/shop")

make_project "$tmp/shop"
cat >>"$tmp/shop/tsloop.yaml" <<'YAML'
endpoints:
  prod:
    forecaster: daily
    requires_approval: false
monitors:
  prod-res:
    kind: drift
    endpoint: prod
    statistic: cusum
    evaluation_periods: 1
YAML
gen "$tmp/hist.csv" 3 60
expect_exit 0 "ingest history" "$TSLOOP" ingest "${P[@]}" "$tmp/hist.csv"
expect_exit 0 "train" "$TSLOOP" train daily "${P[@]}"
expect_exit 0 "deploy" "$TSLOOP" deploy daily/1 --endpoint prod "${P[@]}"

state() {
  "$TSLOOP" alarms prod-res "${P[@]}" --json >"$tmp/alarm" 2>/dev/null
  jq_py "$tmp/alarm" "d['state']"
}
first_alarm=
for day in $(seq 60 71); do
  expect_exit 0 "predict day $day" "$TSLOOP" predict --endpoint prod -o "$tmp/fc.csv" \
    --horizon 1 --inference-id "day-$day" "${P[@]}"
  shift=0
  [ "$day" -ge 66 ] && shift=3
  gen "$tmp/day.csv" 3 1 "$shift" "$day"
  expect_exit 0 "ingest day $day" "$TSLOOP" ingest "${P[@]}" "$tmp/day.csv"
  s=$(state)
  if [ "$day" -lt 66 ]; then
    check "day $day, before the shift: OK" test "$s" = OK
  elif [ -z "$first_alarm" ] && [ "$s" = ALARM ]; then
    first_alarm=$day
  fi
done
echo "measured: first ALARM on day ${first_alarm:-none} (shift from day 66)"
check "ALARM within 4 days of the shift" test -n "$first_alarm" -a "${first_alarm:-99}" -le 69
expect_exit 0 "metrics" "$TSLOOP" metrics "${P[@]}" --monitor prod-res --json
# day 66 is 2026-03-08
check "the share of items signalled, daily, above 0 only after the shift" \
  python3 - "$tmp/out" <<'PY'
import json, sys
pts = json.load(open(sys.argv[1]))["datapoints"]
assert len(pts) == 12 and all(p["metric"] == "cusum" and p["n"] == 3 for p in pts), pts
assert all(p["value"] == 0 for p in pts if p["window"] < "2026-03-08"), pts
assert pts[6]["window"] == "2026-03-08" and pts[6]["value"] > 0, pts
PY
expect_exit 0 "metrics of one item" "$TSLOOP" metrics "${P[@]}" --monitor prod-res --item item000 --json
check "per item 0 or 1, one residual a day" python3 - "$tmp/out" <<'PY'
import json, sys
pts = json.load(open(sys.argv[1]))["datapoints"]
assert len(pts) == 12 and all(p["item"] == "item000" and p["n"] == 1 for p in pts), pts
assert all(p["value"] in (0, 1) for p in pts), pts
assert all(p["value"] == 0 for p in pts if p["window"] < "2026-03-08"), pts
PY
python3 - "$tmp/shop/.tsloop/store.db" >"$tmp/fed1" <<'PY'
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("select sum(fed) from detector_states").fetchone()[0])
PY
expect_exit 0 "ingest the last day again" "$TSLOOP" ingest "${P[@]}" "$tmp/day.csv"
python3 - "$tmp/shop/.tsloop/store.db" >"$tmp/fed2" <<'PY'
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("select sum(fed) from detector_states").fetchone()[0])
PY
check "36 residuals fed (3 items x 12 days), none twice" test "$(cat "$tmp/fed1") $(cat "$tmp/fed2")" = "36 36"
finish
