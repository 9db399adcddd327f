#!/usr/bin/env bash
# The project loop end to end through the real program: init -> migrate (a fresh store lists
# its migrations pending, --apply applies them) -> ingest (twice: the second changes nothing)
# -> train -> models list -> approve (who is the OS user, why is required) -> the version's
# data baseline and validation report -> ingest changed data -> train again -> diff; a split_by
# forecaster registering each group separately with the auto policy; runs, params, events and
# datasets; a data set the data-quality checks refuse; usage errors and unknown names.
# usage: test_project.sh PATH/TO/tsloop   (ctest passes it)
set -uo pipefail
TSLOOP=$(cd "$(dirname "$1")" && pwd -P)/$(basename "$1")
tmp=$(mktemp -d)
tmp=$(cd "$tmp" && pwd -P)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"
P=(--project "$tmp/shop")
me=$(id -un)

make_project "$tmp/shop"
gen "$tmp/sales.csv" 6 120

# Migrations from an empty store.
expect_exit 0 "migrate lists" "$TSLOOP" migrate "${P[@]}" --json
check "fresh store: all pending" test "$(jq_py "$tmp/out" "d['pending'], d['schema_version']")" = "14 0"
expect_exit 0 "migrate --apply" "$TSLOOP" migrate "${P[@]}" --apply
check "says it applied" grep -q "applied the pending migrations" "$tmp/out"
expect_exit 0 "migrate after" "$TSLOOP" migrate "${P[@]}" --json
check "all applied" test "$(jq_py "$tmp/out" "d['pending'], d['schema_version']")" = "0 14"

# Ingest, twice.
expect_exit 0 "ingest" "$TSLOOP" ingest "${P[@]}" "$tmp/sales.csv" --json
check "720 inserted, a data set created" \
  test "$(jq_py "$tmp/out" "d[0]['inserted'], d[0]['read'], d[0]['created']")" = "720 720 True"
hash1=$(jq_py "$tmp/out" "d[0]['hash']")
expect_exit 0 "ingest again (text)" "$TSLOOP" ingest "${P[@]}" "$tmp/sales.csv"
check "receipt: all unchanged" \
  grep -q "720 rows read: 0 inserted, 0 updated, 720 unchanged, 0 rejected" "$tmp/out"
check "same hash" grep -q "content hash $hash1" "$tmp/out"

# Train and look at the registry.
expect_exit 0 "train daily" "$TSLOOP" train daily "${P[@]}"
check "version registered pending" grep -q "registered daily/1: PendingManualApproval" "$tmp/out"
check "steps shown" grep -q "automl    ok" "$tmp/err"
expect_exit 0 "models list" "$TSLOOP" models list "${P[@]}" --json
check "one version, pending, lineage" test "$(jq_py "$tmp/out" \
  "len(d), d[0]['name'], d[0]['status'], d[0]['dataset_hash'] == '$hash1'")" = \
  "1 daily PendingManualApproval True"
expect_exit 2 "approve needs --why" "$TSLOOP" models approve daily/1 "${P[@]}"
expect_exit 2 "approve needs a version" "$TSLOOP" models approve daily "${P[@]}" --why x
expect_exit 1 "approve an unknown version" "$TSLOOP" models approve daily/9 "${P[@]}" --why x
expect_exit 0 "approve" "$TSLOOP" models approve daily/1 "${P[@]}" --why "first model"
check "approved by the OS user" grep -q "daily/1: Approved by $me" "$tmp/out"
expect_exit 0 "models show" "$TSLOOP" models show daily/1 "${P[@]}" --json
check "audit: registration then approval, who and why" test "$(jq_py "$tmp/out" \
  "len(d['audit']), d['audit'][1]['who'], d['audit'][1]['why'], d['champion']")" = \
  "2 $me first model True"
expect_exit 1 "approving twice is refused" "$TSLOOP" models approve daily/1 "${P[@]}" --why again
expect_exit 0 "models show --baseline" "$TSLOOP" models show daily/1 "${P[@]}" --baseline
check "the version's data baseline: statistics and constraints of its 6 series" test "$(jq_py \
  "$tmp/out" "d['statistics']['kind'], len(d['statistics']['series']), \
  d['statistics']['overall']['num_present'], d['constraints']['kind']")" = \
  "tsloop.baseline.statistics 6 720 tsloop.baseline.constraints"
expect_exit 0 "runs show 1 --json" "$TSLOOP" runs show 1 "${P[@]}" --json
check "validate kept the data-quality report" test "$(jq_py "$tmp/out" \
  "[s['output']['summary']['status'] for s in d['steps'] if s['name'] == 'validate']")" = \
  "['passed']"

# Changed data, a second version, the diff.
gen "$tmp/more.csv" 6 30 0 120
expect_exit 0 "ingest newer days" "$TSLOOP" ingest "${P[@]}" "$tmp/more.csv"
expect_exit 0 "train daily again" "$TSLOOP" train daily "${P[@]}" --json
check "second version" test "$(jq_py "$tmp/out" \
  "d[0]['status'], d[0]['versions'][0]['version']")" = "Succeeded 2"
expect_exit 0 "diff against the champion" "$TSLOOP" models diff daily/2 "${P[@]}"
check "diff names both versions" grep -q "daily/1 .*daily/2" "$tmp/out"
check "diff shows the champion comparison" grep -q "^champion.score" "$tmp/out"
check "diff shows the hashes" grep -q "^dataset hash" "$tmp/out"
expect_exit 0 "diff --json" "$TSLOOP" models diff daily/1 daily/2 "${P[@]}" --json --all
check "diff json: 6 series in both, data hashes differ" test "$(jq_py "$tmp/out" \
  "len(d['series']), d['same'] + d['changed'], d['a']['dataset_hash'] != d['b']['dataset_hash']")" \
  = "6 6 True"
expect_exit 0 "show --items" "$TSLOOP" models show daily "${P[@]}" --items
check "latest shown with its series" grep -q "^  item005 " "$tmp/out"
expect_exit 0 "reject" "$TSLOOP" models reject daily/2 "${P[@]}" --why "not now"
check "rejected" grep -q "daily/2: Rejected" "$tmp/out"

# split_by: one registry entry per region; the auto policy approves first versions.
expect_exit 0 "train regional" "$TSLOOP" train regional "${P[@]}" --json
check "three groups registered and approved" test "$(jq_py "$tmp/out" \
  "sorted((v['entry'], v['status']) for v in d[0]['versions'])")" = \
  "[('regional.east', 'Approved'), ('regional.north', 'Approved'), ('regional.south', 'Approved')]"
expect_exit 0 "models list regional" "$TSLOOP" models list regional "${P[@]}"
check "groups listed as entries" grep -q "^regional.north/1 " "$tmp/out"
expect_exit 0 "train regional again" "$TSLOOP" train regional "${P[@]}" --json
check "same data: not 2% better, pending" test "$(jq_py "$tmp/out" \
  "sorted(set(v['status'] for v in d[0]['versions']))")" = "['PendingManualApproval']"
exec2=$(jq_py "$tmp/out" "d[0]['execution']")
expect_exit 0 "approve an execution's versions" "$TSLOOP" models approve --execution "$exec2" \
  "${P[@]}" --why "batch"
check "three approved" test "$(grep -c ': Approved by' "$tmp/out")" = 3

# Runs.
expect_exit 0 "runs list" "$TSLOOP" runs list "${P[@]}" --json
check "four executions, all succeeded" test "$(jq_py "$tmp/out" \
  "len(d), set(e['status'] for e in d)")" = "4 {'Succeeded'}"
expect_exit 0 "runs show" "$TSLOOP" runs show 1 "${P[@]}" --json
check "five steps, one attempt each" test "$(jq_py "$tmp/out" \
  "[(s['name'], len(s['attempts'])) for s in d['steps']]")" = \
  "[('validate', 1), ('automl', 1), ('compare', 1), ('baseline', 1), ('register', 1)]"
expect_exit 1 "runs show unknown" "$TSLOOP" runs show 99 "${P[@]}"
expect_exit 1 "stopping an ended run" "$TSLOOP" runs stop 1 "${P[@]}"
expect_exit 0 "train --detach" "$TSLOOP" train daily "${P[@]}" --detach
id=$(sed -n 's/^daily: execution \([0-9]*\) requested$/\1/p' "$tmp/out")
expect_exit 0 "stop the queued run" "$TSLOOP" runs stop "$id" "${P[@]}" --why "not needed"
check "stopped at once" grep -q "execution $id: Stopped" "$tmp/out"

# Parameters.
expect_exit 0 "params set" "$TSLOOP" params set daily/threshold 1.5 "${P[@]}" --why "start"
expect_exit 0 "params set again" "$TSLOOP" params set daily/threshold 1.3 "${P[@]}"
expect_exit 0 "params get" "$TSLOOP" params get daily/threshold "${P[@]}"
check "latest value" test "$(cat "$tmp/out")" = "1.3"
expect_exit 0 "params get a version" "$TSLOOP" params get daily/threshold --version 1 "${P[@]}"
check "first value" test "$(cat "$tmp/out")" = "1.5"
expect_exit 0 "params history" "$TSLOOP" params history daily/threshold "${P[@]}" --json
check "two versions with who and why" test "$(jq_py "$tmp/out" \
  "len(d), d[0]['who'], d[0]['why']")" = "2 $me start"
expect_exit 1 "params get unknown" "$TSLOOP" params get nothing "${P[@]}"

# Events and data sets.
expect_exit 0 "events --json" "$TSLOOP" events "${P[@]}" --json --since 0
check "the loop's events" python3 -c "
import json, sys
types = {json.loads(l)['type'] for l in open('$tmp/out')}
need = {'dataset.created', 'dataset.ingested', 'dataset.validated', 'execution.status',
        'model.registered', 'model.approved', 'model.rejected', 'param.set'}
sys.exit(0 if need <= types else 'missing: %s' % (need - types))"
expect_exit 0 "events --type --limit" "$TSLOOP" events "${P[@]}" --type model.approved --limit 2
check "the last two approvals" test "$(grep -c model.approved "$tmp/out")" = 2
expect_exit 0 "datasets show" "$TSLOOP" datasets show sales "${P[@]}" --json
check "900 observations, 6 items, 3 ingests" test "$(jq_py "$tmp/out" \
  "d['observations'], d['items'], len(d['ingests'])")" = "900 6 3"

# A data set the data-quality checks refuse: train fails at validate with the reason, registers
# nothing, and the report is in the event log.
make_project "$tmp/holes"
H=(--project "$tmp/holes")
python3 - "$tmp/holes.csv" <<'PY'
import datetime, sys
d0 = datetime.date(2026, 1, 1)
with open(sys.argv[1], "w") as f:
    f.write("item_id,timestamp,region,target_value\n")
    for t in range(100):
        day = (d0 + datetime.timedelta(days=t)).isoformat()
        f.write("full,%s,north,%d\n" % (day, 10 + t % 7))
        if t % 4 == 0:
            f.write("sparse,%s,north,%d\n" % (day, 10 + t % 7))
PY
expect_exit 0 "ingest a sparse series" "$TSLOOP" ingest "${H[@]}" "$tmp/holes.csv"
expect_exit 1 "train refuses it" "$TSLOOP" train daily "${H[@]}"
check "the reason: the quality check, the series" grep -q \
  "data set 'sales': data quality check failed: 1 error.*completeness_check.*\"sparse\"" "$tmp/err"
expect_exit 0 "runs list" "$TSLOOP" runs list "${H[@]}" --json
check "failed at validate, once" test "$(jq_py "$tmp/out" \
  "d[0]['status'], [(s['name'], len(s['attempts'])) for s in d[0]['steps']]")" = \
  "Failed [('validate', 1)]"
expect_exit 0 "nothing registered" "$TSLOOP" models list "${H[@]}" --json
check "no versions" test "$(jq_py "$tmp/out" "len(d)")" = 0
expect_exit 0 "the report in the event log" "$TSLOOP" events "${H[@]}" --json --since 0 \
  --type dataset.validation_failed
check "completeness error of 'sparse'" test "$(jsonl_py "$tmp/out" \
  "[(v['constraint_check_type'], v['item_id'], v['severity']) for v in d[0]['payload']['report']['violations'] if v['severity'] == 'error']")" = \
  "[('completeness_check', 'sparse', 'error')]"

# Usage and names.
expect_exit 2 "models without a subcommand" "$TSLOOP" models "${P[@]}"
expect_exit 2 "models with a bad subcommand" "$TSLOOP" models lst
expect_exit 1 "train an unknown forecaster" "$TSLOOP" train weekly "${P[@]}"
check "names the declared ones" grep -q "no forecaster 'weekly' in .*expected one of: daily, regional" "$tmp/err"
expect_exit 0 "every new command has --help" sh -c "for c in ingest train migrate events; do \"$TSLOOP\" \$c --help >/dev/null || exit 1; done; for c in models runs params datasets; do \"$TSLOOP\" \$c --help >/dev/null || exit 1; done"
finish
