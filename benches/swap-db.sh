#!/usr/bin/env bash
# `herokuops swap-db` next to the runbook's sequence of official Heroku CLI commands
# (addons:create, pg:wait, maintenance:on, pg:promote, maintenance:off, ps:restart), both
# against the same sandbox with no provision delay: wall time and API requests of each.
#
#   benches/swap-db.sh [ROUNDS]      default 3; the sandbox is reset before every run
#
# The official CLI is heroku@11.10.0, installed from npm into ~/.cache/herokuops-ci on first use
# (scripts/lib/heroku-cli.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}"
# shellcheck source=scripts/lib/heroku-cli.sh
source scripts/lib/heroku-cli.sh
heroku_cli_install

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

sandbox_start "$bin/herokuops-sandbox" "$work" --token "$token" --provision-delay 0s --quiet
export XDG_STATE_HOME="$work/state" HEROKUOPS_KEYRING_FILE="$work/keyring"
export HEROKU_CLI_HOME="$work/cli-home"

control() { sandbox_control "$@"; }
requests() { control GET requests | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))'; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
official() { heroku_cli "$@" >>"$work/cli.out" 2>>"$work/cli.err"; }

# The runbook's sequence, with the promotion aimed at the new add-on (the runbook's
# `pg:promote DATABASE_URL` would promote the database already in use). Each command must
# succeed.
official_sequence() {
  local new
  : >"$work/create.out"
  heroku_cli addons:create heroku-postgresql:essential-0 -a tmi-server >"$work/create.out" 2>&1 ||
    return 1
  # "Creating postgresql-x-1 on tmi-server..." whether or not provisioning finished at once.
  new="$(grep -o 'postgresql-[a-z]*-[0-9]*' "$work/create.out" | head -1)"
  [ -n "$new" ] || { cat "$work/create.out" >&2; return 1; }
  official pg:wait -a tmi-server --wait-interval 1 || return 1
  official maintenance:on -a tmi-server || return 1
  official pg:promote "$new" -a tmi-server || return 1
  official maintenance:off -a tmi-server || return 1
  official ps:restart -a tmi-server || return 1
}

herokuops_swap() {  # herokuops_swap [FLAGS...]
  "$bin/herokuops" swap-db tmi-server "$@" --confirm tmi-server --interval 1s --timeout 2m \
    --expect fixtures/schema/tmi/expected.toml --no-progress >>"$work/ops.out" 2>>"$work/ops.err"
}

printf '%-44s %6s %9s %9s\n' "run" "round" "wall (s)" "requests"
for round in $(seq "$rounds"); do
  for who in herokuops no-backup official; do
    control POST reset >/dev/null
    control DELETE requests >/dev/null
    start="$(now)"
    if [ "$who" = herokuops ]; then
      herokuops_swap || { tail -20 "$work/ops.err" >&2; exit 1; }
      label="herokuops swap-db (backup, verify)"
    elif [ "$who" = no-backup ]; then
      herokuops_swap --no-backup || { tail -20 "$work/ops.err" >&2; exit 1; }
      label="herokuops swap-db --no-backup"
    else
      official_sequence || { tail -20 "$work/cli.err" >&2; exit 1; }
      label="official CLI: 6 commands"
    fi
    printf '%-44s %6s %9s %9s\n' "${label:0:44}" "$round" "$(elapsed "$start")" "$(requests)"
    if [ -n "${BENCH_SHOW_REQUESTS:-}" ]; then
      control GET requests | python3 -c 'import json, sys; [print("   ", r["method"], r["path"], r["status"]) for r in json.load(sys.stdin)]'
    fi
  done
done
