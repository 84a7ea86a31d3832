#!/usr/bin/env bash
# How long `herokuops-sandbox` takes, with its own PostgreSQL cluster, from start until it prints
# the lines to point clients at it (the fixtures' databases created and migrated). The first
# start may run initdb; the figures are of the warm starts after it.
#
#   benches/sandbox-start.sh [N]      default 5 warm starts
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
cargo build --release --quiet --bin herokuops-sandbox
bin="${CARGO_TARGET_DIR:-$PWD/target}/release/herokuops-sandbox"
python3 - "$bin" "$runs" <<'PY'
import statistics, subprocess, sys, time
binary, runs = sys.argv[1], int(sys.argv[2])

def start():
    t = time.perf_counter()
    p = subprocess.Popen([binary, "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines = 0
    for line in p.stdout:
        lines += line.startswith("export ")
        if lines == 3:
            break
    elapsed = time.perf_counter() - t
    p.terminate()
    p.wait(timeout=30)
    if lines < 3:
        sys.exit("the sandbox exited before it was ready")
    return elapsed

cold = start()
warm = sorted(start() for _ in range(runs))
print(f"herokuops-sandbox ready (own cluster): first start {cold:.2f} s; "
      f"{runs} warm starts: median {statistics.median(warm):.2f} s, min {warm[0]:.2f} s, max {warm[-1]:.2f} s")
PY
