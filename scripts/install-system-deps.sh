#!/usr/bin/env bash
# Debian packages the test suite uses: a real Prometheus server, Go's pprof tool,
# Chromium for the HTML report. Installed only when absent; a failure here is
# reported, and the tests that need the missing tool say so loudly and skip.
set -uo pipefail
need=()
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v go >/dev/null 2>&1 || need+=(golang-go)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -eq 0 ]; then
  echo "system packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "installing: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || echo "apt-get update failed"
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null || echo "WARNING: could not install ${need[*]}"
exit 0
