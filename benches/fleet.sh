#!/usr/bin/env bash
# `herokuops backup capture` of a fleet against a sandbox holding N copies of tmi-server whose
# rate limit is low enough to be hit: wall time, API requests and 429s per run, next to the
# time of one app alone.
#
#   benches/fleet.sh [APPS] [RATE] [JOBS...]   default: 50 50/1s 8 1
#   BACKUP_TIME=1s benches/fleet.sh ...         every backup takes at least 1 s on the sandbox
#
# RATE is the sandbox's bucket (N/PERIOD: N tokens, refilled N per PERIOD). Before each run
# the bucket is left to fill up again, so every run starts from the same budget. Without
# BACKUP_TIME a backup costs what pg_dump costs on this machine, and the sandbox's dumps compete
# with the client for its cores; on Heroku the dump runs on Heroku's side while the client
# waits, which BACKUP_TIME stands for.
set -euo pipefail
cd "$(dirname "$0")/.."
apps="${1:-50}"
rate="${2:-50/1s}"
backup_time="${BACKUP_TIME:-0s}"
shift $(($# > 2 ? 2 : $#))
jobs_list=("$@")
[ ${#jobs_list[@]} -gt 0 ] || jobs_list=(8 1)

cargo build --release --quiet --bins
bin="${CARGO_TARGET_DIR:-$PWD/target}/release"
work="$(mktemp -d)"
token="bench-$RANDOM$RANDOM"
# shellcheck source=scripts/lib/sandbox.sh
source scripts/lib/sandbox.sh
cleanup() {
  sandbox_stop
  rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

start="$(now)"
sandbox_start "$bin/herokuops-sandbox" "$work" --token "$token" --apps "$apps" \
  --rate-limit "$rate" --backup-time "$backup_time" --quiet
ready="$(elapsed "$start")"
export XDG_STATE_HOME="$work/state" HEROKUOPS_KEYRING_FILE="$work/keyring"

control() { sandbox_control "$@"; }
# Requests recorded since the last clear, and how many of them were answered 429.
counts() {
  control GET requests | python3 -c '
import json, sys
r = json.load(sys.stdin)
print(len(r), sum(1 for x in r if x["status"] == 429))'
}
# Waits until the bucket is full again.
refill() {
  for _ in $(seq 600); do
    control GET rate-limit | python3 -c '
import json, sys
b = json.load(sys.stdin)
sys.exit(0 if b["remaining"] >= b["capacity"] - 1 else 1)' && return
    sleep 0.2
  done
}

# The sandbox numbers its copies with at least two digits.
width=$((${#apps} > 2 ? ${#apps} : 2))
for i in $(seq 1 "$apps"); do printf "tmi-server-%0${width}d\n" "$i"; done >"$work/apps.txt"
first="$(head -1 "$work/apps.txt")"

# One app alone, three times; the median.
singles=()
for _ in 1 2 3; do
  refill
  s="$(now)"
  "$bin/herokuops" backup capture "$first" --no-progress >/dev/null 2>>"$work/single.err" \
    || { tail -5 "$work/single.err" >&2; exit 1; }
  singles+=("$(elapsed "$s")")
done
single="$(printf '%s\n' "${singles[@]}" | sort -n | sed -n 2p)"

echo "sandbox: $apps apps, rate limit $rate, backup time at least $backup_time, ready in ${ready}s"
echo "command: herokuops --json backup capture --apps-from FILE -j JOBS"
printf '%5s %5s %9s %6s %9s %12s %8s %6s\n' apps jobs requests 429s "wall (s)" "single (s)" ratio ok
for jobs in "${jobs_list[@]}"; do
  refill
  control DELETE requests >/dev/null
  s="$(now)"
  code=0
  "$bin/herokuops" --json backup capture --apps-from "$work/apps.txt" -j "$jobs" \
    >"$work/fleet.json" 2>"$work/fleet.err" || code=$?
  wall="$(elapsed "$s")"
  read -r requests limited < <(counts)
  ok="$(python3 -c 'import json, sys; print(sum(1 for r in json.load(open(sys.argv[1])) if r["status"] == "ok"))' "$work/fleet.json")"
  ratio="$(awk -v w="$wall" -v s="$single" 'BEGIN { printf "%.1fx", w / s }')"
  printf '%5s %5s %9s %6s %9s %12s %8s %6s\n' "$apps" "$jobs" "$requests" "$limited" "$wall" \
    "$single" "$ratio" "$ok"
  [ "$code" -eq 0 ] || { echo "exit $code" >&2; tail -5 "$work/fleet.err" >&2; exit 1; }
done
