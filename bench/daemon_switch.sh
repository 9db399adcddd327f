#!/usr/bin/env bash
# Memory of a daemon during a switch, when two versions are in memory at once (the old one is
# held until its last request ends): on a project made by bench/daemon_memory.sh (its PROJECT
# directory), `tsloop serve` until /readyz answers, then observations of one more day for the
# first 1,000 series are ingested; the daemon's poller loads the version again with them while
# the old one still serves, and switches. Prints the daemon's resident memory (VmRSS) and peak
# (VmHWM) when ready and after the switch, and the log line of the reload.
#   bench/daemon_switch.sh TSLOOP PROJECT [LENGTH]
# LENGTH is the days of the project's series (daemon_memory.sh's, 28 by default): the first run
# adds day LENGTH + 1, each later one the next (recorded in PROJECT/.tsloop/switch_day), so a
# later bench/daemon_memory.sh run on the same project also updates those series when it loads.
set -euo pipefail
cd "$(dirname "$0")/.."
TSLOOP=$(realpath "$1")
proj=$2
[ -f "$proj/.tsloop/deployed" ] || { echo "daemon_switch.sh: run bench/daemon_memory.sh with $proj first" >&2; exit 2; }
day=$(cat "$proj/.tsloop/switch_day" 2>/dev/null || echo "${3:-28}")
echo $((day + 1)) >"$proj/.tsloop/switch_day"
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
token=$(cat "$proj/.tsloop/deployed")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$TSLOOP" serve --project "$proj" --listen "127.0.0.1:$port" --threads 2 2>"$tmp/serve.log" &
pid=$!
until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do
  kill -0 "$pid" 2>/dev/null || { cat "$tmp/serve.log" >&2; exit 1; }
  sleep 0.2
done
mem() { awk '/VmRSS/ {r = $2} /VmHWM/ {h = $2} END {printf "resident %.0f MiB, peak %.0f MiB", r / 1024, h / 1024}' "/proc/$pid/status"; }
echo "ready: $(mem)"
python3 - "$tmp/new.csv" "$day" <<'PY'
import datetime, sys
d = (datetime.date(2026, 1, 1) + datetime.timedelta(days=int(sys.argv[2]))).isoformat()
with open(sys.argv[1], "w") as f:
    f.write("item_id,timestamp,target_value\n")
    f.writelines("s%06d,%s,50.00\n" % (i, d) for i in range(1000))
PY
"$TSLOOP" ingest --project "$proj" "$tmp/new.csv" --quiet >/dev/null
waited=0
until grep -q '"new observations' "$tmp/serve.log"; do
  kill -0 "$pid" 2>/dev/null || { cat "$tmp/serve.log" >&2; exit 1; }
  [ $((waited += 1)) -lt 1500 ] || { echo "daemon_switch.sh: no reload within 5 minutes" >&2; exit 1; }
  sleep 0.2
done
curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$port/v1/endpoints/prod/forecast" \
  -d '{"items": ["s000001", "s099999"]}' -o "$tmp/answer.json"
echo "after the switch: $(mem)"
grep '"new observations' "$tmp/serve.log"
kill -TERM "$pid"
wait "$pid" || true
pid=
