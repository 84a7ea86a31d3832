#!/usr/bin/env bash
# Peak memory of `herokuops backup download` for a 200 MiB backup served on loopback, and a
# resume after the first attempt is killed half-way. Prints the figures.
#
#   benches/download-memory.sh [SIZE_MIB]
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib="${1:-200}"
cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-$PWD/target}/release/herokuops"
work="$(mktemp -d)"
trap 'kill "${server_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

head -c "$((size_mib * 1024 * 1024))" /dev/urandom > "$work/backup.dump"
python3 benches/backup_server.py "$work/backup.dump" "$work/port" &
server_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
port="$(cat "$work/port")"
export HEROKU_HOST="http://127.0.0.1:$port" HEROKU_API_KEY="bench-token" CI=true

peak_kib() { grep 'Maximum resident set size' "$1" | awk '{print $NF}'; }

/usr/bin/time -v "$bin" backup download bench -o "$work/full.dump" --no-progress 2> "$work/time-full.txt" >/dev/null
cmp -s "$work/backup.dump" "$work/full.dump" || { echo "FAIL: downloaded bytes differ"; exit 1; }
full_kib="$(peak_kib "$work/time-full.txt")"
wall="$(grep 'Elapsed (wall clock)' "$work/time-full.txt" | awk '{print $NF}')"

# Interrupt a second download once part of it is on disk, then resume it.
"$bin" backup download bench -o "$work/resumed.dump" --no-progress >/dev/null 2>&1 &
dl_pid=$!
for _ in $(seq 200); do
  [ -f "$work/resumed.dump.partial" ] && [ "$(stat -c %s "$work/resumed.dump.partial")" -gt $((size_mib * 1024 * 1024 / 4)) ] && break
  sleep 0.01
done
kill -9 "$dl_pid" 2>/dev/null || true
wait "$dl_pid" 2>/dev/null || true
partial_bytes="$(stat -c %s "$work/resumed.dump.partial" 2>/dev/null || echo 0)"
/usr/bin/time -v "$bin" backup download bench -o "$work/resumed.dump" --no-progress 2> "$work/time-resume.txt" > "$work/resume-out.txt"
cmp -s "$work/backup.dump" "$work/resumed.dump" || { echo "FAIL: resumed bytes differ"; exit 1; }
resume_kib="$(peak_kib "$work/time-resume.txt")"

echo "backup size:               ${size_mib} MiB"
echo "full download:             peak RSS $((full_kib / 1024)) MiB (${full_kib} KiB), wall ${wall}"
echo "interrupted at:            $((partial_bytes / 1024 / 1024)) MiB on disk"
echo "resumed download:          peak RSS $((resume_kib / 1024)) MiB; $(cat "$work/resume-out.txt")"
echo "bytes identical after resume: yes"
