#!/usr/bin/env bash
# Ingesting through the real program: concurrent ingests from two processes (different files,
# and the same file twice) lose nothing, count nothing twice and never fail with "database is
# locked"; rejected rows come back with line and reason; and malformed data files and a
# malformed tsloop.yaml each get their clear message (exit 1) and change nothing - no data set,
# no ingest record, no event.
# usage: test_ingest.sh PATH/TO/tsloop   (ctest passes it)
set -uo pipefail
TSLOOP=$(cd "$(dirname "$1")" && pwd -P)/$(basename "$1")
tmp=$(mktemp -d)
tmp=$(cd "$tmp" && pwd -P)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"
P=(--project "$tmp/shop")
make_project "$tmp/shop"

# events_count: how many events the store holds (0 before it exists).
events_count() {
  "$TSLOOP" events "${P[@]}" --since 0 --json | wc -l
}

# Malformed data files first, on an empty store: nothing may appear.
before=$(events_count)
expect_exit 1 "a missing file" "$TSLOOP" ingest "${P[@]}" "$tmp/nowhere.csv"
check "names the file" grep -q "nowhere.csv" "$tmp/err"
printf 'item_id,timestamp,region\nitem000,2026-01-01,north\n' >"$tmp/notarget.csv"
expect_exit 1 "no target column" "$TSLOOP" ingest "${P[@]}" "$tmp/notarget.csv"
check "says which column is missing" grep -qi "target" "$tmp/err"
printf 'item_id,timestamp,target_value\nitem000,2026-01-01,3\n' >"$tmp/nodim.csv"
expect_exit 1 "the declared dimension missing" "$TSLOOP" ingest "${P[@]}" "$tmp/nodim.csv"
check "names the dimension" grep -q "dimension columns none, expected region" "$tmp/err"
printf 'item_id,timestamp,region,target_value\nitem000,yesterday,north,3\nitem001,2026-01-01,north,-2\n' \
  >"$tmp/allbad.csv"
expect_exit 1 "every row bad" "$TSLOOP" ingest "${P[@]}" "$tmp/allbad.csv"
check "says nothing changed, with the first reason" \
  grep -q "none of its 2 rows could be ingested (the first at line 2: .*yesterday" "$tmp/err"
check "lists the second reason" grep -q "rejected line 3: .*-2 is negative" "$tmp/out"
printf '\x00\x01\x02garbage' >"$tmp/binary.csv"
expect_exit 1 "a binary file" "$TSLOOP" ingest "${P[@]}" "$tmp/binary.csv"
check "says it" test -s "$tmp/err"
printf 'item_id,timestamp,region,target_value\n' >"$tmp/header.csv"
expect_exit 1 "only a header" "$TSLOOP" ingest "${P[@]}" "$tmp/header.csv"
check "no data rows" grep -q "no data rows" "$tmp/err"
expect_exit 1 "an undeclared data set" "$TSLOOP" ingest "${P[@]}" "$tmp/header.csv" --dataset stock
check "names the declared ones" grep -q "data set 'stock' is not declared in .*expected one of: sales" "$tmp/err"
expect_exit 0 "datasets list" "$TSLOOP" datasets list "${P[@]}" --json
check "no data set was created" test "$(jq_py "$tmp/out" "[d[0]['name'], d[0]['items']]")" = "['sales', None]"
check "no event was recorded" test "$(events_count)" = "$before"

# A file with some bad rows: the good ones go in, the bad ones are listed.
gen "$tmp/sales.csv" 6 60
python3 - "$tmp/sales.csv" "$tmp/mixed.csv" <<'PY'
import sys
lines = open(sys.argv[1]).read().splitlines()
lines[5] = lines[5].rsplit(",", 1)[0] + ",12,5"   # a field too many
lines[9] = lines[9].rsplit(",", 1)[0] + ",-7"     # negative in a non_negative data set
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
PY
expect_exit 0 "a file with two bad rows" "$TSLOOP" ingest "${P[@]}" "$tmp/mixed.csv"
check "receipt counts" grep -q "360 rows read: 358 inserted, 0 updated, 0 unchanged, 2 rejected" "$tmp/out"
check "line 6 rejected with its reason" grep -q "rejected line 6: " "$tmp/out"
check "line 10 rejected: negative" grep -q "rejected line 10: .*-7 is negative" "$tmp/out"
expect_exit 0 "the rejects are kept" "$TSLOOP" datasets show sales "${P[@]}" --ingest 1 --json
check "two rejects kept with lines" test "$(jq_py "$tmp/out" "[r['line'] for r in d['rejects']]")" = "[6, 10]"

# Concurrent ingests: two processes, disjoint items, then the same file twice.
gen "$tmp/a.csv" 40 200 0 0
python3 - "$tmp/a.csv" "$tmp/b.csv" <<'PY'
import sys
with open(sys.argv[2], "w") as out:
    for n, line in enumerate(open(sys.argv[1])):
        out.write(line if n == 0 else line.replace("item", "other", 1))
PY
"$TSLOOP" ingest "${P[@]}" "$tmp/a.csv" --json >"$tmp/ra.json" 2>"$tmp/ea" &
pa=$!
"$TSLOOP" ingest "${P[@]}" "$tmp/b.csv" --json >"$tmp/rb.json" 2>"$tmp/eb" &
pb=$!
wait $pa; ra=$?
wait $pb; rb=$?
check "both concurrent ingests succeeded" test "$ra$rb" = 00
check "no 'locked' error" sh -c "! grep -qi locked '$tmp/ea' '$tmp/eb'"
check "a: 8000 rows, the first 360 of its points already there" test "$(jq_py "$tmp/ra.json" \
  "d[0]['inserted'] + d[0]['unchanged'] + d[0]['updated'], d[0]['rejected']")" = "8000 0"
check "b: 8000 new" test "$(jq_py "$tmp/rb.json" "d[0]['inserted']")" = 8000
"$TSLOOP" ingest "${P[@]}" "$tmp/a.csv" --json >"$tmp/ra2.json" 2>"$tmp/ea" &
pa=$!
"$TSLOOP" ingest "${P[@]}" "$tmp/a.csv" --json >"$tmp/rb2.json" 2>"$tmp/eb" &
pb=$!
wait $pa; ra=$?
wait $pb; rb=$?
check "the same file twice at once" test "$ra$rb" = 00
check "nothing counted twice" test "$(jq_py "$tmp/ra2.json" "d[0]['unchanged']")$(jq_py "$tmp/rb2.json" "d[0]['unchanged']")" = 80008000
expect_exit 0 "datasets show" "$TSLOOP" datasets show sales "${P[@]}" --json
check "every point once: 80 items, 16000 observations" test "$(jq_py "$tmp/out" \
  "d['items'], d['observations']")" = "80 16000"

# A malformed tsloop.yaml: every command says FILE:LINE:COL and changes nothing.
before=$(events_count)
cp "$tmp/shop/tsloop.yaml" "$tmp/good.yaml"
sed -i 's/^    horizon: 7$/    horizn: 7/' "$tmp/shop/tsloop.yaml"
for cmd in "ingest $tmp/a.csv" "train daily" "models list" "runs list" "events" "migrate --apply"; do
  expect_exit 1 "broken config: $cmd" "$TSLOOP" $cmd "${P[@]}"
  check "broken config: $cmd: FILE:LINE:COL" \
    grep -q "tsloop.yaml:[0-9]*:[0-9]*: forecasters.daily: unknown key \"horizn\" (did you mean 'horizon'?)" "$tmp/err"
done
printf 'name: x\ndatasets:\n\tsales: {}\n' >"$tmp/shop/tsloop.yaml"
expect_exit 1 "a tab in YAML" "$TSLOOP" ingest "${P[@]}" "$tmp/a.csv"
check "not valid YAML, where" grep -q "tsloop.yaml:3:1: not valid YAML" "$tmp/err"
cp "$tmp/good.yaml" "$tmp/shop/tsloop.yaml"
check "nothing recorded meanwhile" test "$(events_count)" = "$before"
finish
