#!/usr/bin/env bash
# Crash safety of training through the real program: `tsloop train` is killed with SIGKILL
# inside a step (TSLOOP_TEST_STEP_DELAY holds it there, docs/pipeline.md), and then
#   - `tsloop runs resume` resumes the execution at that step - the steps before it are not
#     run again - and it succeeds, registering one version;
#   - killed after registering but before the step's end was recorded, `tsloop train` again
#     finishes the old execution without registering twice, then runs its own;
#   - killed in validate, `tsloop runs stop` on the dead execution stops it cleanly;
# and afterwards the store passes SQLite's integrity check and the data set's content is
# intact. Also: a second `tsloop train` while one runs is queued once and runs after it.
# usage: test_crash.sh PATH/TO/tsloop   (ctest passes it)
set -uo pipefail
TSLOOP=$(cd "$(dirname "$1")" && pwd -P)/$(basename "$1")
tmp=$(mktemp -d)
tmp=$(cd "$tmp" && pwd -P)
trap 'kill -9 $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"
P=(--project "$tmp/shop")

make_project "$tmp/shop"
gen "$tmp/sales.csv" 6 120
"$TSLOOP" ingest "${P[@]}" "$tmp/sales.csv" --quiet

# step_state ID STEP: the status of STEP's last attempt in execution ID ("none" before it).
step_state() {
  "$TSLOOP" runs show "$1" "${P[@]}" --json 2>/dev/null | python3 -c "
import json, sys
d = json.load(sys.stdin)
s = [s for s in d['steps'] if s['name'] == sys.argv[1]]
print(s[0]['attempts'][-1]['status'] if s else 'none')" "$2"
}
# kill_in STEP FORECASTER: starts `tsloop train FORECASTER` held inside STEP, kills it with
# SIGKILL once STEP is running; prints the execution id.
kill_in() {
  TSLOOP_TEST_STEP_DELAY="$1:60000" "$TSLOOP" train "$2" "${P[@]}" --quiet >/dev/null 2>&1 &
  local pid=$! id=""
  for _ in $(seq 600); do
    id=$("$TSLOOP" runs list "$2" "${P[@]}" --json 2>/dev/null |
         python3 -c "import json,sys; d=json.load(sys.stdin); print(d[0]['id'] if d else '')")
    [ -n "$id" ] && [ "$(step_state "$id" "$1")" = Running ] && break
    sleep 0.1
  done
  sleep 0.3 # into the hold: the step's work is done, its end not recorded
  kill -9 "$pid"
  wait "$pid" 2>/dev/null
  echo "$id"
}

# 1. Killed in automl; runs resume continues from automl.
id=$(kill_in automl daily)
expect_exit 0 "runs show the dead execution" "$TSLOOP" runs show "$id" "${P[@]}" --json
check "still Executing, its worker gone" test "$(jq_py "$tmp/out" \
  "d['status'], d['owner_dead']")" = "Executing True"
expect_exit 0 "runs resume" "$TSLOOP" runs resume "${P[@]}"
check "resume says it recovered one" grep -q "recovered 1 execution" "$tmp/err"
expect_exit 0 "runs show after resume" "$TSLOOP" runs show "$id" "${P[@]}" --json
check "succeeded after one recovery" test "$(jq_py "$tmp/out" \
  "d['status'], d['recoveries']")" = "Succeeded 1"
check "validate ran once, automl twice (the first died)" test "$(jq_py "$tmp/out" \
  "[len(s['attempts']) for s in d['steps']], d['steps'][1]['attempts'][0]['status']")" = \
  "[1, 2, 1, 1, 1] Failed"
check "the death is explained" grep -q "died during attempt 1 of step 'automl'" "$tmp/out"
expect_exit 0 "models list" "$TSLOOP" models list daily "${P[@]}" --json
check "exactly one version" test "$(jq_py "$tmp/out" "len(d)")" = 1

# 2. Killed in register (after registering); a new train finishes it, then runs its own.
id=$(kill_in register regional)
expect_exit 0 "train regional after the crash" "$TSLOOP" train regional "${P[@]}" --json
check "the new execution succeeded" test "$(jq_py "$tmp/out" "d[0]['status']")" = Succeeded
expect_exit 0 "runs show the crashed one" "$TSLOOP" runs show "$id" "${P[@]}" --json
check "the crashed one succeeded too, register attempted twice" test "$(jq_py "$tmp/out" \
  "d['status'], len(d['steps'][4]['attempts'])")" = "Succeeded 2"
expect_exit 0 "models list regional" "$TSLOOP" models list regional "${P[@]}" --json
check "two versions per group, not three" test "$(jq_py "$tmp/out" \
  "sorted((v['name'], v['version']) for v in d)")" = \
  "[('regional.east', 1), ('regional.east', 2), ('regional.north', 1), ('regional.north', 2), ('regional.south', 1), ('regional.south', 2)]"

# 3. Killed in validate; the dead execution is stopped.
id=$(kill_in validate daily)
expect_exit 0 "stop the dead execution" "$TSLOOP" runs stop "$id" "${P[@]}" --why "crashed"
check "stopped at once (its worker is gone)" grep -q "execution $id: Stopped" "$tmp/out"
expect_exit 0 "resume finds nothing to do" "$TSLOOP" runs resume daily "${P[@]}"

# 4. A second train while one runs: queued once, run after it by the second process. The first
# waits 5 s in automl, room for the second to start on a loaded machine.
TSLOOP_TEST_STEP_DELAY="automl:5000" "$TSLOOP" train daily "${P[@]}" --quiet >"$tmp/a.out" 2>&1 &
first=$!
for _ in $(seq 300); do
  "$TSLOOP" runs list daily "${P[@]}" --json | python3 -c \
    "import json,sys; d=json.load(sys.stdin); sys.exit(0 if d[0]['status']=='Executing' else 1)" &&
    break
  sleep 0.05
done
expect_exit 0 "second train waits for the first, then runs" "$TSLOOP" train daily "${P[@]}" --json
check "queued behind, then succeeded" test "$(jq_py "$tmp/out" \
  "d[0]['request'], d[0]['status']")" = "behind Succeeded"
wait "$first"
check "first train succeeded" test $? = 0

# Nothing is corrupt.
check "store integrity" python3 -c "
import sqlite3, sys
c = sqlite3.connect('$tmp/shop/.tsloop/store.db')
sys.exit(0 if c.execute('PRAGMA integrity_check').fetchone()[0] == 'ok' else 1)"
expect_exit 0 "data set intact" "$TSLOOP" ingest "${P[@]}" "$tmp/sales.csv" --json
check "every row still there, unchanged" test "$(jq_py "$tmp/out" "d[0]['unchanged']")" = 720
finish
