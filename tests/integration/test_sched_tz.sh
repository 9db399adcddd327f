#!/usr/bin/env bash
# Schedules in a time zone: `tsloop config` shows a forecaster's schedule and its zone and
# refuses an unknown zone with its position and the zoneinfo folder; a daemon whose clock
# (TSLOOP_TEST_CLOCK) starts three seconds before Berlin's spring-forward change runs
# "30 2 * * *" in Europe/Berlin, a wall-clock time that does not exist that night, at the
# change itself (2026-03-29T01:00Z, 03:00 CEST), into the output folder.
# usage: test_sched_tz.sh PATH/TO/tsloop   (ctest passes it)
set -uo pipefail
TSLOOP=$(cd "$(dirname "$1")" && pwd -P)/$(basename "$1")
tmp=$(mktemp -d)
tmp=$(cd "$tmp" && pwd -P)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
. "$(dirname "$0")/lib.sh"
P=(--project "$tmp/p")

"$TSLOOP" demo --engine --dir "$tmp/demo" --sites 2 --days 30 >/dev/null 2>&1
"$TSLOOP" init "$tmp/p" >/dev/null
write_config() {
  cat >"$tmp/p/tsloop.yaml" <<YAML
version: 1
name: sched-tz-test
datasets:
  solar:
    columns:
      dimensions: [region]
    non_negative: true
forecasters:
  solar:
    dataset: solar
    horizon: 24
    candidates: [naive]
    backtest_windows: 2
    ensembles: false
    approval: {policy: auto, margin: 0}
    schedule:
      forecast: "30 2 * * *"
      timezone: $1
endpoints:
  prod:
    forecaster: solar
YAML
}
write_config Europe/Berln
expect_exit 1 "an unknown zone is refused" "$TSLOOP" config "${P[@]}"
check "the message names the position and the folder" sh -c \
  "'$TSLOOP' config --project '$tmp/p' 2>&1 | grep -q 'tsloop.yaml:18:17: forecasters.solar.schedule.timezone: unknown time zone \"Europe/Berln\": no file Europe/Berln in the zoneinfo folder /usr/share/zoneinfo'"
write_config Europe/Berlin
check "tsloop config shows the schedule and its zone" sh -c \
  "'$TSLOOP' config --project '$tmp/p' | grep -q 'schedule retrain none, forecast 30 2 \* \* \*, time zone Europe/Berlin'"

expect_exit 0 "ingest" "$TSLOOP" ingest "${P[@]}" "$tmp/demo/solar.csv"
expect_exit 0 "train" "$TSLOOP" train solar "${P[@]}"
expect_exit 0 "deploy" "$TSLOOP" deploy solar/1 --endpoint prod "${P[@]}"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# 2026-03-29T00:59:57Z: Berlin's clocks go from 02:00 CET to 03:00 CEST three seconds later.
TSLOOP_TEST_CLOCK=1774745997 "$TSLOOP" serve "${P[@]}" --listen "127.0.0.1:$port" --threads 2 \
  2>"$tmp/d.log" &
pids+=($!)
out="$tmp/p/.tsloop/outputs/forecast-solar-prod-20260329T0100Z.csv"
for _ in $(seq 300); do [ -s "$out" ] && break; sleep 0.1; done
check "02:30 Berlin, skipped by the change, runs at the change (01:00Z)" test -s "$out"
check "24 steps for each of 2 items" test "$(tail -n +2 "$out" 2>/dev/null | wc -l)" = 48
check "it fired once" test "$(grep -c 'schedule fired' "$tmp/d.log")" = 1
finish
