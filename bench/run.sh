#!/usr/bin/env bash
# Accuracy and speed of tsloop's AutoML and single models on the M1 and M4-weekly sets, side by
# side with R's forecast package (ets(), auto.arima(), thetaf() and their equal-weight mean) on
# the same series in the same run.
#
# usage: bench/run.sh [TSLOOP]   (default build/tsloop; `make bench` builds and runs it)
# env:   TSL_SHARED_DATA  data folder (default ../shared/data)
#        BENCH_SETS       sets to run (default "m1 m4weekly")
#        BENCH_R          0 to skip R even when it is installed
#        BENCH_R_METHODS  R methods (default "ets arima thetaf comb"; comb needs the other three)
#        BENCH_TSLOOP     tsloop methods (default "auto ets arima theta dotm"; any --models name)
#        BENCH_R_FROM     a folder of R forecasts made earlier, DIR/<set>/r-<method>.<period>.csv
#                         with the "seconds=" line of its run in the .rlog beside it: used instead
#                         of running that R method again. R's auto.arima() takes about 8 hours
#                         of one core on M4-weekly, so it is run in shards (bench_arima.R) and
#                         turned into such a file by arima_rows.py.
# Everything runs single-threaded (-j 1, OPENBLAS_NUM_THREADS=1) so the times compare.
# Output: bench/out/<timestamp>/ with every forecast and results.md, also printed.
set -euo pipefail
cd "$(dirname "$0")/.."
TSLOOP=$(realpath "${1:-build/tsloop}")
DATA=${TSL_SHARED_DATA:-../shared/data}
SETS=${BENCH_SETS:-m1 m4weekly}
OUT=bench/out/$(date +%Y%m%d-%H%M%S)
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
if [ ! -d "$DATA" ]; then
  echo "bench: $DATA is absent; skipping the accuracy benchmarks (set TSL_SHARED_DATA)"
  exit 0
fi
have_r=0
if [ "${BENCH_R:-1}" != 0 ] && command -v Rscript >/dev/null &&
   Rscript -e 'suppressMessages(library(forecast))' >/dev/null 2>&1; then
  have_r=1
else
  echo "bench: R's forecast package is not installed; running tsloop alone"
fi
mkdir -p "$OUT"
results=$OUT/results.md
{
  echo "# bench run $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(getconf _NPROCESSORS_ONLN) cores," \
       "$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); $("$TSLOOP" version)"
  echo
  echo "| set | method | series | sMAPE | MASE | p10-p90 coverage | mean wQL | seconds | max RSS MB |"
  echo "|---|---|---|---|---|---|---|---|---|"
} >"$results"

# run_timed LOG CMD... : runs CMD, appends "seconds rss_kb" of it to LOG.
run_timed() {
  local log=$1; shift
  /usr/bin/time -f "%e %M" -o "$log.time" "$@"
  cat "$log.time" >>"$log"
}

for set in $SETS; do
  [ -f "$DATA/${set}_train.csv" ] || { echo "bench: no $set in $DATA, skipped"; continue; }
  work=$OUT/$set
  mkdir -p "$work"
  groups=$(python3 bench/split_m1.py "$DATA" "$set" "$work/split")
  methods="${BENCH_TSLOOP:-auto ets arima theta dotm}"
  if [ $have_r = 1 ]; then
    for m in ${BENCH_R_METHODS:-ets arima thetaf comb}; do methods="$methods r-$m"; done
  fi
  for method in $methods; do
    : >"$work/$method.csv"
    : >"$work/$method.log"
    first=1
    while read -r period h sl count; do
      train=$work/split/${set}_${period}_train.csv
      meta=$work/split/${set}_${period}_meta.csv
      fc=$work/$method.$period.csv
      case $method in
        auto) run_timed "$work/$method.log" "$TSLOOP" forecast -i "$train" -H "$h" -m "$sl" -j 1 \
                --quiet -o "$fc" --report "$work/report.$period.csv" ;;
        r-comb) python3 bench/combine.py "$fc" "$work/r-ets.$period.csv" \
                  "$work/r-arima.$period.csv" "$work/r-thetaf.$period.csv"
                echo "0 0" >>"$work/$method.log" ;;  # time and memory: its members'

        r-*) from=${BENCH_R_FROM:-}/$set/$method.$period
             if [ -n "${BENCH_R_FROM:-}" ] && [ -f "$from.csv" ] && [ -f "$from.rlog" ]; then
               cp "$from.csv" "$fc"
               grep '^seconds=' "$from.rlog" >>"$work/$method.rlog"
               echo "0 0" >>"$work/$method.log"
               echo "bench: $set $method $period: R's forecasts from $from.csv"
             else
               run_timed "$work/$method.log" Rscript bench/r_forecast.R "$train" "$meta" \
                 "${method#r-}" "$fc" >>"$work/$method.rlog"
             fi ;;
        *) run_timed "$work/$method.log" "$TSLOOP" forecast -i "$train" -H "$h" -m "$sl" \
                -j 1 --quiet --models "$method" -o "$fc" ;;
      esac
      if [ $first = 1 ]; then cat "$fc" >"$work/$method.csv"; first=0; else tail -n +2 "$fc" >>"$work/$method.csv"; fi
    done <<<"$groups"
    score=$(python3 bench/score.py "$DATA/${set}_train.csv" "$DATA/${set}_test.csv" \
            "$DATA/${set}_meta.csv" "$work/$method.csv")
    secs=$(awk '{s += $1} END {printf "%.2f", s}' "$work/$method.log")
    if [ -f "$work/$method.rlog" ]; then
      secs=$(sed -n 's/^seconds=//p' "$work/$method.rlog" | awk '{s += $1} END {printf "%.2f", s}')
    fi
    if [ "$method" = r-comb ]; then  # the sum of its three members' times
      secs=$(cat "$work"/r-{ets,arima,thetaf}.rlog | sed -n 's/^seconds=//p' |
             awk '{s += $1} END {printf "%.2f", s}')
    fi
    # 0: not measured here (comb, or R forecasts reused through BENCH_R_FROM)
    rss=$(awk '{if ($2 > m) m = $2} END {if (m > 0) printf "%.0f", m / 1024; else printf "-"}' \
          "$work/$method.log")
    read -r n smape mase cov wql <<<"$(echo "$score" |
      sed -E 's/series=([0-9]+) missing=[0-9]+ smape=([^ ]+) mase=([^ ]+) coverage=([^ ]+) mean_wql=([^ ]+)/\1 \2 \3 \4 \5/')"
    echo "| $set | $method | $n | $smape | $mase | $cov | $wql | $secs | $rss |" >>"$results"
    echo "bench: $set $method: $score seconds=$secs rss_mb=$rss"
  done
done
echo
cat "$results"
echo
echo "bench: R's times are the fit + forecast time measured inside R (startup excluded);"
echo "bench: tsloop's are whole-command wall times (reading and writing included)."
