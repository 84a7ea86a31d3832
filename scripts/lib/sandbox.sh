# shellcheck shell=bash
# Sourced by the scripts and benchmarks that drive herokuops-sandbox.
#
#   sandbox_start BIN WORK [ARGS...]   starts BIN ARGS with its stdout in WORK/sandbox.env and its
#                                      stderr in WORK/sandbox.log, waits until it has printed its
#                                      three `export` lines and sources them (HEROKU_HOST,
#                                      HEROKU_DATA_HOST, HEROKU_API_KEY); exits the script with its
#                                      log if it stops first. SANDBOX_PID is its process.
#   sandbox_stop                       stops it (for an EXIT trap; safe to call twice)
#   sandbox_control METHOD PATH        the control API (/__sandbox/PATH), JSON on stdout

sandbox_start() {
  local bin="$1" work="$2"
  shift 2
  "$bin" "$@" >"$work/sandbox.env" 2>"$work/sandbox.log" &
  SANDBOX_PID=$!
  for _ in $(seq 1200); do
    [ "$(wc -l <"$work/sandbox.env")" -ge 3 ] && break
    if ! kill -0 "$SANDBOX_PID" 2>/dev/null; then
      cat "$work/sandbox.log" >&2
      echo "the sandbox exited before it was ready" >&2
      exit 1
    fi
    sleep 0.1
  done
  [ "$(wc -l <"$work/sandbox.env")" -ge 3 ] || { echo "the sandbox did not get ready" >&2; exit 1; }
  # shellcheck source=/dev/null
  source "$work/sandbox.env"
}

sandbox_stop() {
  if [ -n "${SANDBOX_PID:-}" ]; then
    kill "$SANDBOX_PID" 2>/dev/null || true
    wait "$SANDBOX_PID" 2>/dev/null || true
    SANDBOX_PID=""
  fi
}

sandbox_control() {
  curl -sf -X "$1" -H "Authorization: Bearer $HEROKU_API_KEY" "$HEROKU_HOST/__sandbox/$2"
}
