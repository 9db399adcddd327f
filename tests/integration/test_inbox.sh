#!/usr/bin/env bash
# The inbox folders through the real program: `tsloop inbox --once` ingests a CSV, a gzip and
# the seeds' zip holding TTS.csv, moves them to processed/, refuses a bad file to failed/ with
# its reports (file, line, field, reason), ignores dotfiles and temporary names, records every
# file so that the same file dropped again is not ingested twice; the dataset.ingested event
# says source inbox and the file. Then the watcher in `tsloop inbox` (and in `tsloop serve`): a
# file written slowly is not read until it is closed, a file renamed into the folder is taken
# at once, files that arrived while nothing ran are handled at start-up, and a restart does
# not re-ingest. Two daemons on one project: one handles the folders (the inbox lock), the
# other takes over when it stops.
# usage: test_inbox.sh PATH/TO/tsloop   (ctest passes it)
set -uo pipefail
TSLOOP=$(cd "$(dirname "$1")" && pwd -P)/$(basename "$1")
tmp=$(mktemp -d)
tmp=$(cd "$tmp" && pwd -P)
trap 'kill $wpid 2>/dev/null; [ -n "${KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"' EXIT
wpid= bpid=
. "$(dirname "$0")/lib.sh"
P=(--project "$tmp/shop")

make_project "$tmp/shop"
sed -i 's/^    non_negative: true/    non_negative: true\n    inbox: incoming/' "$tmp/shop/tsloop.yaml"
IN="$tmp/shop/incoming"
gen "$tmp/a.csv" 3 20
gen "$tmp/b.csv" 3 20 0 20
gen "$tmp/c.csv" 3 20 0 40
gen "$tmp/d.csv" 3 20 0 60
gen "$tmp/e.csv" 3 20 0 80

# The number of ingests recorded, and the number of dataset.ingested events from the inbox.
ingests() { "$TSLOOP" datasets show sales "${P[@]}" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d["ingests"]))'; }
inbox_events() { # the files of the inbox's dataset.ingested events, with the rows read
  "$TSLOOP" events "${P[@]}" --since 0 --type dataset.ingested --json >"$tmp/ev" 2>/dev/null
  python3 -c '
import json,sys
d=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]
p=[e["payload"] if isinstance(e["payload"],dict) else json.loads(e["payload"]) for e in d]
print(" ".join(x["file"]+":"+str(x["read"]) for x in p if x.get("source")=="inbox"))' "$tmp/ev"
}

mkdir -p "$IN"
cp "$tmp/a.csv" "$IN/a.csv"
gzip -c "$tmp/b.csv" >"$IN/b.csv.gz"
(cd "$tmp" && cp c.csv TTS.csv && zip -q tts.zip TTS.csv && mv tts.zip "$IN/upload.zip")
printf 'item_id,timestamp,region,target_value\nx1,2026-01-01,north,1\nx1,not-a-date,north,2\n' >"$IN/bad.csv"
printf 'item_id,timestamp\n' >"$IN/empty.csv"
cp "$tmp/d.csv" "$IN/.hidden.csv"
cp "$tmp/d.csv" "$IN/upload.csv.part"
cp "$tmp/d.csv" "$IN/x.tmp"
expect_exit 1 "inbox --once: one folder, a file refused" "$TSLOOP" inbox --once "${P[@]}" --json
check "counts: 4 processed (csv, gz, zip, the file with a bad row), 1 failed" \
  test "$(jq_py "$tmp/out" "d[0]['processed'], d[0]['failed']")" = "4 1"
check "processed/ holds them" test -f "$IN/processed/a.csv" -a -f "$IN/processed/b.csv.gz" \
  -a -f "$IN/processed/upload.zip" -a -f "$IN/processed/bad.csv"
check "failed/ holds the empty file and its reports" test -f "$IN/failed/empty.csv" \
  -a -f "$IN/failed/empty.csv.error.txt" -a -f "$IN/failed/empty.csv.error.json"
check "the report names the file and the reason" test "$(jq_py "$IN/failed/empty.csv.error.json" \
  "d['file'], d['dataset'], d['line'], 'target' in d['error']")" = "empty.csv sales 1 True"
check "ignored names stay" test -f "$IN/.hidden.csv" -a -f "$IN/upload.csv.part" -a -f "$IN/x.tmp"
check "four ingests" test "$(ingests)" = 4
check "events say source inbox and the file" test "$(inbox_events)" = "a.csv:60 b.csv.gz:60 bad.csv:2 upload.zip:60"

# A file with a bad header (no target column) names the column in its report.
printf 'item_id,timestamp,region,amount\nx1,2026-01-01,north,1\n' >"$IN/cols.csv"
expect_exit 1 "a file without the target column" "$TSLOOP" inbox --once "${P[@]}"
check "its report says why" grep -q "reason:" "$IN/failed/cols.csv.error.txt"

# The same file again: recorded, so moved without a new ingest; the same name with new
# contents is a new file, moved beside the first under a free name.
cp "$tmp/a.csv" "$IN/a.csv"
expect_exit 0 "the same file again" "$TSLOOP" inbox --once "${P[@]}" --json
check "handled before: moved, not ingested" test "$(jq_py "$tmp/out" "d[0]['processed'], d[0]['moved']")" = "0 1"
check "still four ingests" test "$(ingests)" = 4
check "kept beside the first" test -f "$IN/processed/1-a.csv"
cp "$tmp/e.csv" "$IN/a.csv"
expect_exit 0 "the same name, new contents" "$TSLOOP" inbox --once "${P[@]}" --json
check "a new file: ingested" test "$(jq_py "$tmp/out" "d[0]['processed']")" = 1
check "five ingests" test "$(ingests)" = 5

# A crash between recording and moving: put a handled file back; the record decides.
cp "$IN/processed/b.csv.gz" "$IN/b.csv.gz"
expect_exit 0 "recovered after a crash before the move" "$TSLOOP" inbox --once "${P[@]}" --json
check "moved, not ingested" test "$(jq_py "$tmp/out" "d[0]['moved'], d[0]['processed']")" = "1 0"

# The watcher: a file written slowly (open for writing across several seconds) is not read
# until closed; a renamed file is taken at once.
"$TSLOOP" inbox "${P[@]}" 2>"$tmp/watch.log" &
wpid=$!
sleep 0.5
python3 - "$IN/slow.csv" "$tmp/d.csv" <<'PY' &
import sys, time
lines = open(sys.argv[2]).read().splitlines(True)
with open(sys.argv[1], "w") as f:
    half = len(lines) // 2
    f.writelines(lines[:half]); f.flush()
    time.sleep(6.5)  # longer than the watcher's rescan period
    f.writelines(lines[half:])
PY
writer=$!
for _ in $(seq 100); do [ -s "$IN/slow.csv" ] && break; sleep 0.1; done
sleep 2.5 # the watcher's events and a rescan come and go while the writer holds the file
check "half-written: not read" test -f "$IN/slow.csv" -a ! -f "$IN/processed/slow.csv"
wait $writer
for _ in $(seq 50); do [ -f "$IN/processed/slow.csv" ] && break; sleep 0.1; done
check "closed: ingested" test -f "$IN/processed/slow.csv"
check "all its rows, in one ingest" test "$(inbox_events | tr ' ' '\n' | grep -c '^slow.csv:60$')" = 1
gen "$tmp/f.csv" 3 20 0 100
cp "$tmp/f.csv" "$IN/.f.csv.tmp" && mv "$IN/.f.csv.tmp" "$IN/renamed.csv"
for _ in $(seq 50); do [ -f "$IN/processed/renamed.csv" ] && break; sleep 0.1; done
check "renamed into the folder: ingested" test -f "$IN/processed/renamed.csv"
kill -TERM $wpid; wait $wpid; wpid=
n=$(ingests)

# Files that arrived while nothing ran are handled when the daemon starts; nothing else is
# ingested again.
gen "$tmp/g.csv" 3 20 0 120
cp "$tmp/g.csv" "$IN/g.csv"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$TSLOOP" serve "${P[@]}" --listen "127.0.0.1:$port" --threads 1 2>"$tmp/serve.log" &
wpid=$!
for _ in $(seq 100); do [ -f "$IN/processed/g.csv" ] && break; sleep 0.1; done
check "the daemon handles what arrived meanwhile" test -f "$IN/processed/g.csv"
kill -TERM $wpid; wait $wpid; wpid=
check "exactly one more ingest" test "$(ingests)" = $((n + 1))

# Two daemons on the project: the folders are handled by the one holding the inbox lock; the
# other drops its events (no double ingest, no failed move). When the first stops, the second
# takes the folders over at its next wake-up.
newport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
"$TSLOOP" serve "${P[@]}" --listen "127.0.0.1:$(newport)" --threads 1 --pipeline-workers 0 2>"$tmp/a.log" &
wpid=$!
for _ in $(seq 100); do grep -qs 'inbox folders taken' "$tmp/a.log" && break; sleep 0.1; done
check "the first daemon holds the inbox" grep -q 'inbox folders taken' "$tmp/a.log"
"$TSLOOP" serve "${P[@]}" --listen "127.0.0.1:$(newport)" --threads 1 --pipeline-workers 0 2>"$tmp/b.log" &
bpid=$!
trap 'kill $wpid $bpid 2>/dev/null; [ -n "${KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"' EXIT
for _ in $(seq 100); do grep -qs 'inbox watcher started' "$tmp/b.log" && break; sleep 0.1; done
sleep 0.5
n=$(ingests)
gen "$tmp/h.csv" 3 20 0 140
cp "$tmp/h.csv" "$IN/h.csv"
for _ in $(seq 100); do [ -f "$IN/processed/h.csv" ] && break; sleep 0.1; done
sleep 1
check "two daemons: the file handled" test -f "$IN/processed/h.csv"
check "two daemons: one ingest" test "$(ingests)" = $((n + 1))
check "the second daemon left the inbox alone" test "$(grep -c '"inbox' "$tmp/b.log")" = 1
check "no error in either log" test "$(cat "$tmp/a.log" "$tmp/b.log" | grep -c '"error"')" = 0
kill -TERM $wpid; wait $wpid; wpid=
gen "$tmp/i.csv" 3 20 0 160
cp "$tmp/i.csv" "$IN/i.csv"
for _ in $(seq 100); do [ -f "$IN/processed/i.csv" ] && break; sleep 0.1; done
check "takeover: the second daemon handles the next file" test -f "$IN/processed/i.csv"
check "takeover: logged" grep -q 'inbox folders taken' "$tmp/b.log"
check "takeover: one more ingest" test "$(ingests)" = $((n + 2))
kill -TERM $bpid; wait $bpid; bpid=
finish
