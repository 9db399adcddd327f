#!/usr/bin/env bash
# Helpers the project integration tests share (sourced, not a test itself): checks that count
# failures, JSON queries through python3, a data generator and a project with a known
# tsloop.yaml. The sourcing script sets TSLOOP and tmp first.
fails=0
check() { # check DESCRIPTION COMMAND...: the command must succeed
  if ! "${@:2}"; then echo "FAIL: $1"; fails=$((fails + 1)); else echo "ok: $1"; fi
}
expect_exit() { # expect_exit CODE DESCRIPTION COMMAND...: stdout in $tmp/out, stderr in $tmp/err
  local want=$1 desc=$2; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  if [ "$got" != "$want" ]; then
    echo "FAIL: $desc: exit $got, expected $want"; cat "$tmp/err"; fails=$((fails + 1))
  else
    echo "ok: $desc"
  fi
}
# jq_py FILE EXPR: prints the Python expression EXPR evaluated with d = the JSON in FILE.
jq_py() {
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"
}
# jsonl_py FILE EXPR: the same with d = the list of JSON lines in FILE.
jsonl_py() {
  python3 -c "import json,sys; d=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]; print($2)" "$1"
}
# gen FILE ITEMS DAYS [SHIFT] [START_DAY]: daily data, weekly seasonality, items in 3 regions.
gen() {
  python3 - "$@" <<'PY'
import datetime, random, sys
path, items, days = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
shift = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
start = int(sys.argv[5]) if len(sys.argv) > 5 else 0
regions = ["north", "south", "east"]
rnd = random.Random(42)
d0 = datetime.date(2026, 1, 1)
with open(path, "w") as f:
    f.write("item_id,timestamp,region,target_value\n")
    for i in range(items):
        for t in range(start, start + days):
            y = 20 + 2 * i + 6 * (t % 7 >= 5) + 0.05 * t + 2 * rnd.random() + shift
            f.write("item%03d,%s,%s,%.3f\n" % (i, (d0 + datetime.timedelta(days=t)).isoformat(),
                                               regions[i % 3], y))
PY
}
# make_project DIR: a project with data set "sales" (daily, region) and forecasters "daily"
# (manual approval) and "regional" (split_by region, auto approval).
make_project() {
  "$TSLOOP" init "$1" >/dev/null || return 1
  cat >"$1/tsloop.yaml" <<'YAML'
version: 1
name: itest
datasets:
  sales:
    frequency: D
    columns:
      dimensions: [region]
    non_negative: true
forecasters:
  daily:
    dataset: sales
    horizon: 7
    candidates: [naive, snaive, theta]
    backtest_windows: 2
  regional:
    dataset: sales
    horizon: 7
    candidates: [naive, snaive, theta]
    backtest_windows: 2
    split_by: [region]
    approval: {policy: auto, margin: 0.02}
YAML
}
finish() {
  if [ "$fails" -ne 0 ]; then echo "$fails check(s) failed"; exit 1; fi
  echo "all checks passed"
}
