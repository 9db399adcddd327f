#!/usr/bin/env bash
# End-to-end checks of the tsloop program: the forecast CSV contract, backtest output, exit
# codes and messages on bad input, atomic output, JSON, and the demo.
# usage: test_cli.sh PATH/TO/tsloop   (ctest passes it)
set -uo pipefail
TSLOOP=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
check() { # check DESCRIPTION COMMAND...: the command must succeed
  if ! "${@:2}"; then echo "FAIL: $1"; fails=$((fails + 1)); else echo "ok: $1"; fi
}
expect_exit() { # expect_exit CODE DESCRIPTION COMMAND...
  local want=$1 desc=$2; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  if [ "$got" != "$want" ]; then
    echo "FAIL: $desc: exit $got, expected $want"; cat "$tmp/err"; fails=$((fails + 1))
  else
    echo "ok: $desc"
  fi
}

# A small weekly data set: two seasonal-ish items, one with a gap and a duplicate.
python3 - "$tmp/sales.csv" <<'PY'
import math, sys, datetime
rows = ["item_id,timestamp,store,target_value"]
start = datetime.date(2024, 1, 1)
for item, base in (("apples", 100.0), ("pears, green", 40.0)):
    for k in range(80):
        if item == "apples" and k == 30:
            continue  # a gap
        d = start + datetime.timedelta(days=k)
        v = base + 10 * math.sin(2 * math.pi * k / 7) + 0.3 * k
        name = '"pears, green"' if "," in item else item
        rows.append(f"{name},{d.isoformat()},north,{v:.3f}")
rows.append("apples,2024-01-05,north,999")  # duplicate: last one wins
open(sys.argv[1], "w").write("\n".join(rows) + "\n")
PY

expect_exit 0 "forecast runs" "$TSLOOP" forecast -i "$tmp/sales.csv" -H 10 -o "$tmp/fc.csv" \
  --report "$tmp/report.csv" -j 2
check "duplicate warned" grep -q "duplicated" "$tmp/err"
check "gap warned" grep -q "missing inside series" "$tmp/err"
check "forecast header" test "$(head -1 "$tmp/fc.csv")" = "item_id,timestamp,mean,p10,p50,p90"
check "one row per item and step" test "$(tail -n +2 "$tmp/fc.csv" | wc -l)" = 20
check "dates for daily data" grep -q '^apples,2024-03-21,' "$tmp/fc.csv"
check "quoted item kept" grep -q '^"pears, green",2024-03-21,' "$tmp/fc.csv"
check "quantiles ordered" python3 - "$tmp/fc.csv" <<'PY'
import csv, sys
for r in csv.DictReader(open(sys.argv[1])):
    p10, p50, p90 = float(r["p10"]), float(r["p50"]), float(r["p90"])
    assert p10 <= p50 <= p90, r
PY
check "report has a reason per item" test "$(tail -n +2 "$tmp/report.csv" | wc -l)" = 2

expect_exit 0 "custom quantiles" "$TSLOOP" forecast -i "$tmp/sales.csv" -H 3 -o "$tmp/fc2.csv" \
  -q 0.025,0.5,0.975 --models naive,snaive,theta --quiet
check "pNN names" test "$(head -1 "$tmp/fc2.csv")" = "item_id,timestamp,mean,p2.5,p50,p97.5"

# ARIMA forms carry commas inside parentheses: --models splits only between names.
expect_exit 0 "arima forms in --models" "$TSLOOP" forecast -i "$tmp/sales.csv" -H 4 \
  -o "$tmp/fc4.csv" --models 'arima,arima:(1,0,1)(0,1,1)+const,naive' --report "$tmp/r4.csv" --quiet
check "arima rows" test "$(tail -n +2 "$tmp/fc4.csv" | wc -l)" = 8
expect_exit 2 "bad arima form" "$TSLOOP" forecast -i "$tmp/sales.csv" -H 2 -o "$tmp/x.csv" \
  --models 'arima:(1,1)'
check "arima form named" grep -q "ARIMA form" "$tmp/err"

expect_exit 0 "json summary" "$TSLOOP" forecast -i "$tmp/sales.csv" -H 5 -o "$tmp/fc3.csv" \
  --json --quiet
check "json parses" python3 -c "import json,sys; d=json.load(open('$tmp/out')); assert d['series']==2 and d['leaderboard']"

expect_exit 0 "backtest runs" "$TSLOOP" backtest -i "$tmp/sales.csv" -H 7 --series "$tmp/bt.csv"
check "leaderboard printed" grep -q "^auto\*" "$tmp/out"
check "per-series csv" test "$(tail -n +2 "$tmp/bt.csv" | wc -l)" = 2
expect_exit 0 "backtest json" "$TSLOOP" backtest -i "$tmp/sales.csv" -H 7 --json --no-auto
check "backtest json parses" python3 -c "import json; d=json.load(open('$tmp/out')); assert len(d['per_series'])==2"

# The AutoML knobs.
expect_exit 0 "fixed series weight" "$TSLOOP" forecast -i "$tmp/sales.csv" -H 5 -o "$tmp/w.csv" \
  --series-weight 1 --json --quiet
check "weight reported" python3 -c "import json; d=json.load(open('$tmp/out')); assert d['series_weight']==1.0 and not d['series_weight_learnt']"
expect_exit 0 "fast preset" "$TSLOOP" forecast -i "$tmp/sales.csv" -H 5 -o "$tmp/f.csv" --fast --quiet
expect_exit 0 "time limit" "$TSLOOP" forecast -i "$tmp/sales.csv" -H 5 -o "$tmp/t.csv" --time-limit 0.000001
check "time limit warned" grep -q "time limit ran out" "$tmp/err"
check "time limit still forecasts" test "$(tail -n +2 "$tmp/t.csv" | wc -l)" = 10
expect_exit 2 "bad series weight" "$TSLOOP" forecast -i "$tmp/sales.csv" -H 5 -o "$tmp/x.csv" --series-weight 2

# Errors: user errors exit 1 with the file and line, usage errors exit 2.
printf 'item_id,timestamp,target\na,2024-01-01,1\na,2024-01-02,oops\n' >"$tmp/bad.csv"
expect_exit 1 "bad value" "$TSLOOP" forecast -i "$tmp/bad.csv" -H 2 -o "$tmp/never.csv"
check "message names file and line" grep -q "bad.csv:3" "$tmp/err"
check "no output written on error" test ! -e "$tmp/never.csv"
check "no temporary left behind" test -z "$(ls "$tmp" | grep tmp-)"
expect_exit 1 "missing file" "$TSLOOP" forecast -i "$tmp/nope.csv" -H 2 -o "$tmp/never.csv"
expect_exit 2 "missing horizon" "$TSLOOP" forecast -i "$tmp/sales.csv" -o "$tmp/never.csv"
expect_exit 2 "bad horizon" "$TSLOOP" forecast -i "$tmp/sales.csv" -H zero -o "$tmp/x.csv"
expect_exit 2 "unknown model" "$TSLOOP" forecast -i "$tmp/sales.csv" -H 2 -o "$tmp/x.csv" --models prophet
check "unknown model named" grep -q "prophet" "$tmp/err"
expect_exit 2 "bad quantile" "$TSLOOP" forecast -i "$tmp/sales.csv" -H 2 -o "$tmp/x.csv" -q 0.5,1.5
expect_exit 2 "unknown command" "$TSLOOP" frobnicate
expect_exit 0 "help" "$TSLOOP" forecast --help
expect_exit 0 "version" "$TSLOOP" version

# A previous forecast survives a failed run.
cp "$tmp/fc.csv" "$tmp/keep.csv"
expect_exit 1 "failed run keeps the old file" "$TSLOOP" forecast -i "$tmp/bad.csv" -H 2 -o "$tmp/keep.csv"
check "old file intact" cmp -s "$tmp/fc.csv" "$tmp/keep.csv"

# gzip and zip inputs as the seeds' users upload them.
gzip -c "$tmp/sales.csv" >"$tmp/sales.csv.gz"
expect_exit 0 "gzip input" "$TSLOOP" forecast -i "$tmp/sales.csv.gz" -H 2 -o "$tmp/gz.csv" --quiet
mkdir -p "$tmp/z/data" && cp "$tmp/sales.csv" "$tmp/z/data/TTS.csv"
(cd "$tmp/z" && python3 -c "import zipfile; z=zipfile.ZipFile('../upload.zip','w',zipfile.ZIP_DEFLATED); z.write('data/TTS.csv'); z.close()")
expect_exit 0 "zip with TTS.csv" "$TSLOOP" forecast -i "$tmp/upload.zip" -H 2 -o "$tmp/zip.csv" --quiet
check "zip gives the same forecast" cmp -s "$tmp/gz.csv" "$tmp/zip.csv"

# The demo, small.
expect_exit 0 "demo --engine" "$TSLOOP" demo --engine --dir "$tmp/demo" --days 30 --sites 2 -j 2
check "demo wrote data" test -s "$tmp/demo/solar.csv"
check "demo forecast rows" test "$(tail -n +2 "$tmp/demo/forecast.csv" | wc -l)" = 48
check "demo leaderboard" grep -q "tomorrow at" "$tmp/out"

echo "$fails failure(s)"
[ "$fails" = 0 ]
