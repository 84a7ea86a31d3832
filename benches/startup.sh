#!/usr/bin/env bash
# Median wall time of `herokuops --version` (release build) over N runs.
#
#   benches/startup.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-200}"
cargo build --release --quiet
python3 - "${CARGO_TARGET_DIR:-$PWD/target}/release/herokuops" "$runs" <<'PY'
import statistics, subprocess, sys, time
binary, runs = sys.argv[1], int(sys.argv[2])
subprocess.run([binary, "--version"], check=True, capture_output=True)  # warm the page cache
times = []
for _ in range(runs):
    t = time.perf_counter()
    subprocess.run([binary, "--version"], check=True, capture_output=True)
    times.append((time.perf_counter() - t) * 1000)
times.sort()
print(f"herokuops --version, {runs} runs: median {statistics.median(times):.2f} ms, "
      f"p90 {times[int(runs * 0.9) - 1]:.2f} ms, min {times[0]:.2f} ms, max {times[-1]:.2f} ms")
PY
