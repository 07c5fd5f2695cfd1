#!/usr/bin/env bash
# Installs the Debian packages the test suite drives for real, only those missing:
#   prometheus      a real Prometheus server scraping the exporter
#   golang-go       `go tool pprof` reading the pprof files
#   chromium        rendering the HTML report
#   postgresql      initdb, pg_ctl, postgres (/usr/lib/postgresql/*/bin) for the pg driver tests
#   mariadb-server  mariadbd, mariadb-install-db for the mysql driver tests
#   redis-server    redis-server (and redis-cli, from redis-tools, to create a cluster) for the redis driver tests
# Tests never install anything: a test whose tool is missing skips loudly and
# names this script. Exits non-zero when something is still missing afterwards.
# Usage: bash scripts/install-system-deps.sh [--check]   (--check: report only, install nothing)
set -uo pipefail
check_only=false
[ "${1:-}" = "--check" ] && check_only=true

has() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }
has_postgres() { compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null; }

# package name, then the check that says it is present
missing() {
  local need=()
  has prometheus || need+=(prometheus)
  has go || need+=(golang-go)
  has chromium || need+=(chromium)
  has_postgres || need+=(postgresql)
  has mariadbd || need+=(mariadb-server)
  has redis-server || need+=(redis-server)
  has redis-cli || need+=(redis-tools)
  echo "${need[@]}"
}

read -r -a need <<<"$(missing)"
if [ ${#need[@]} -eq 0 ]; then
  echo "system packages present: prometheus golang-go chromium postgresql mariadb-server redis-server redis-tools"
  exit 0
fi
if $check_only; then
  echo "missing system packages: ${need[*]} (install: bash scripts/install-system-deps.sh)"
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "ERROR: missing ${need[*]}, and this user is not root and has no sudo to install them" >&2
    exit 1
  fi
  SUDO="sudo -n"
fi
echo "installing: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
# Another installer may hold the dpkg lock: wait for it rather than fail.
apt_opts=(-o DPkg::Lock::Timeout=600)
$SUDO apt-get "${apt_opts[@]}" update -qq || echo "WARNING: apt-get update failed; trying the install anyway" >&2
if ! $SUDO apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${need[@]}"; then
  echo "ERROR: apt-get install ${need[*]} failed" >&2
fi

read -r -a still <<<"$(missing)"
if [ ${#still[@]} -gt 0 ]; then
  bar='!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!'
  printf '%s\n!!! ERROR: still missing after install: %s\n!!! the tests that need them will skip\n%s\n' "$bar" "${still[*]}" "$bar" >&2
  exit 1
fi
echo "installed: ${need[*]}"
