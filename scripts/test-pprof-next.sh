#!/usr/bin/env bash
# Runs the engine and attribution tests against the newest @datadog/pprof the
# registry offers (or REQPROF_PPROF_VERSION), in a scratch copy of the repo:
# package.json, package-lock.json and node_modules here are left as they are.
# reqprof deep-requires @datadog/pprof internals (src/engine/native.ts), so this
# is where an upgrade that breaks them shows first.
# Usage: bash scripts/test-pprof-next.sh NODE_BIN_DIR...   (each run with its node first on PATH)
# Exit status: 0 when the tests pass on every runtime (or the newest is the locked version).
set -uo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
[ $# -gt 0 ] || set -- "$(dirname "$(command -v node)")"

locked="$(node -p 'require("@datadog/pprof/package.json").version')"
want="${REQPROF_PPROF_VERSION:-$(npm view @datadog/pprof version 2>/dev/null)}"
if [ -z "$want" ]; then
  echo "!!! could not ask the registry for the newest @datadog/pprof" >&2
  exit 1
fi
range="$(node -p 'require("./package.json").dependencies["@datadog/pprof"]')"
echo "@datadog/pprof: installed (package-lock.json) $locked, package.json range $range, testing $want"
if [ "$want" = "$locked" ]; then
  echo "the newest @datadog/pprof is the locked one: the suite steps already ran against it"
  exit 0
fi

scratch="$(mktemp -d "${TMPDIR:-/tmp}/reqprof-pprof-next.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
cp -a package.json package-lock.json tsconfig.json tsconfig.test.json src test scripts "$scratch/"
cp -a node_modules "$scratch/node_modules"
# A separate install of just that version, linked in: the scratch tree's other
# packages stay what package-lock.json says.
mkdir -p "$scratch/next"
if ! (cd "$scratch/next" && echo '{"private":true}' > package.json &&
      npm install --no-audit --no-fund --no-package-lock --silent "@datadog/pprof@$want"); then
  echo "!!! could not install @datadog/pprof@$want" >&2
  exit 1
fi
rm -rf "$scratch/node_modules/@datadog/pprof"
ln -s "$scratch/next/node_modules/@datadog/pprof" "$scratch/node_modules/@datadog/pprof"

rc=0
for dir in "$@"; do
  for flags in "" "--experimental-async-context-frame"; do
    ver="$("$dir/node" --version)"
    # The flag only matters on Node 22 (24 and up have AsyncContextFrame by default).
    [ -n "$flags" ] && [[ "$ver" != v22.* ]] && continue
    label="Node $ver${flags:+ $flags}, @datadog/pprof $(cd "$scratch" && "$dir/node" -p 'require("@datadog/pprof/package.json").version')"
    echo "== engine and attribution tests: $label"
    if ! (cd "$scratch" && PATH="$dir:$PATH" NODE_OPTIONS="$flags" node scripts/test.mjs test/engine/ test/accuracy.test.ts); then
      rc=1
      bar='!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!'
      printf '%s\n!!! @datadog/pprof %s BREAKS reqprof (%s).\n!!! Keep package.json at %s until src/engine/ is adapted.\n%s\n' \
        "$bar" "$want" "$label" "$range" "$bar" >&2
    fi
  done
done
[ $rc -eq 0 ] && echo "@datadog/pprof $want passes reqprof's engine and attribution tests"
exit $rc
