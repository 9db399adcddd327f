#!/usr/bin/env bash
# The closed loop as `tsloop demo` tells it (docs/demo.md), checked from the summary it writes
# and from the project it leaves: no alarm before the inverter fails, the failing site's alarm
# within the monitor's M-of-N days after it, exactly one retraining (requested by that alarm,
# one alarm-triggered execution), webhooks received with valid signatures (the alarm and the
# new version), after the demo's approval the endpoint serves the new version, and the failing
# site's daily sMAPE back below the threshold. Prints the demo's wall time.
# usage: test_demo.sh PATH/TO/tsloop   (ctest passes it)
set -uo pipefail
TSLOOP=$(cd "$(dirname "$1")" && pwd -P)/$(basename "$1")
tmp=$(mktemp -d)
tmp=$(cd "$tmp" && pwd -P)
trap '[ -n "${KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"
S="$tmp/summary.json"

expect_exit 0 "tsloop demo" "$TSLOOP" demo --dir "$tmp/demo" --summary "$S"
[ -s "$S" ] || { echo "FAIL: no summary"; cat "$tmp/err"; exit 1; }
echo "measured: the demo took $(jq_py "$S" "round(d['seconds'], 1)") s"
check "the story completed" test "$(jq_py "$S" "d['ok']")" = True
check "the story is told on stdout" grep -q "prod now serves dayahead/2" "$tmp/out"
check "no alarm before the fault" test "$(jq_py "$S" \
  "[a for a in d['alarms'] if a['replay_day'] < d['fault_after']]")" = "[]"
check "exactly one alarm, the failing site's" test "$(jq_py "$S" \
  "[a['monitor'] for a in d['alarms']] == ['site-' + d['fault_site']]")" = True
check "within M of N days after the fault" test "$(jq_py "$S" \
  "d['fault_after'] + d['datapoints_to_alarm'] - 1 <= d['alarms'][0]['replay_day'] < d['fault_after'] + d['evaluation_periods']")" = True
check "no healthy site ever over the threshold" test "$(jq_py "$S" \
  "max(v for day in d['days'] for s, v in day['smape'].items() if s != d['fault_site']) < d['threshold']")" = True
check "exactly one retraining, requested by the alarm" test "$(jq_py "$S" \
  "d['retrain_requested'], d['retrain_by_alarm'], d['retrain_trigger']")" = "1 1 alarm"
check "webhook: the alarm and the new version, every signature valid" test "$(jq_py "$S" \
  "all(m['signature_ok'] for m in d['webhook']) and {'alarm.state_changed', 'model.compared'} <= {m['type'] for m in d['webhook']}")" = True
check "the challenger compared with the champion on recent mornings" test "$(jq_py "$S" \
  "d['comparison']['champion_version'], d['comparison']['better']")" = "1 True"
check "after the approval prod serves the new version" test "$(jq_py "$S" \
  "d['approved_version'], d['served_version'], d['days'][-1]['version']")" = "2 2 2"
check "the failing site's metric recovers below the threshold" test "$(jq_py "$S" \
  "d['days'][-1]['smape'][d['fault_site']] < d['threshold'] and d['days'][-1]['state'][d['fault_site']] == 'OK'")" = True

# The project agrees with the summary.
P=(--project "$tmp/demo/project")
expect_exit 0 "runs" "$TSLOOP" runs list dayahead "${P[@]}" --json
check "two executions: the first training and one triggered by the alarm" test "$(jq_py "$tmp/out" \
  "sorted(r['trigger'] for r in d)")" = "['alarm', 'manual']"
expect_exit 0 "endpoint" "$TSLOOP" endpoints prod "${P[@]}" --json
check "prod serves dayahead/2" test "$(jq_py "$tmp/out" "d[0]['version']")" = 2
check "the inbox took every day" test "$(ls "$tmp/demo/project/inbox/processed" | wc -l)" = 9
finish
