#!/usr/bin/env bash
# Packs reqprof as npm would publish it, installs the tarball into a scratch
# project outside the repository and checks that a user's first steps work there:
# the README's code quick start (ESM and CommonJS), the zero-code quick start
# (`node --import reqprof/register`, when the package has that entry), and a
# TypeScript consumer type-checked with module nodenext as ESM and as CommonJS.
# Needs the repository's devDependencies (`npm ci`: prepack builds with tsc) and
# the npm registry (or its cache) for typescript and @types/node in the scratch project.
#   bash scripts/pack-check.sh            (KEEP=1 keeps the scratch directory)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/reqprof-pack-check.XXXXXX")"
cleanup() { if [ "${KEEP:-0}" = 1 ]; then echo "kept $scratch"; else rm -rf "$scratch"; fi; }
trap cleanup EXIT
fail() { echo "pack-check FAILED: $*" >&2; exit 1; }

echo "== npm pack (prepack builds)"
tarball="$(cd "$repo" && npm pack --silent --pack-destination "$scratch" | tail -n 1)"
[ -f "$scratch/$tarball" ] || fail "npm pack produced no tarball"
files="$(tar -tzf "$scratch/$tarball")"
grep -qx 'package/dist/esm/index.js' <<<"$files" || fail "the tarball has no dist/esm/index.js"
if grep -qE '^package/(src|test|bench)/' <<<"$files"; then fail "the tarball ships src/, test/ or bench/"; fi
echo "$tarball: $(wc -l <<<"$files") files, $(du -k "$scratch/$tarball" | cut -f1) KiB"

echo "== install into a scratch project ($scratch/app)"
mkdir "$scratch/app"
cd "$scratch/app"
npm init -y >/dev/null
npm install --no-audit --no-fund --prefer-offline "$scratch/$tarball" typescript@^5 @types/node@^20 >/dev/null
node -e "require.resolve('reqprof')" || fail "require.resolve('reqprof') failed"

# The README's code quick start, as written (between its quickstart markers).
awk '/<!-- quickstart-esm/{f=1;next} f&&/^```js/{c=1;next} c&&/^```/{exit} c' "$repo/README.md" > quickstart.mjs
[ -s quickstart.mjs ] || fail "no quick start found in README.md (a <!-- quickstart-esm ... --> line, then a js block)"
# The same program as CommonJS: only the imports differ.
sed -e "s#^import http from 'node:http';#const http = require('node:http');#" \
    -e "s#^import { \(.*\) } from 'reqprof';#const { \1 } = require('reqprof');#" quickstart.mjs > quickstart.cjs
grep -q '^import' quickstart.cjs && fail "quickstart.cjs still has an import line: update the sed above with the README"

# Starts a server script, sends it requests, SIGTERMs it and checks it delivered a window and exited 0.
run_server() {
  local label="$1"; shift
  local port; port="$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
  PORT="$port" "$@" > "$label.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do
    if node -e "fetch('http://127.0.0.1:$port/checkout').then(r=>process.exit(r.ok||r.status===404?0:1),()=>process.exit(1))" 2>/dev/null; then break; fi
    kill -0 "$pid" 2>/dev/null || { cat "$label.log"; fail "$label exited before serving"; }
    sleep 0.1
  done
  for path in /checkout /search /users/153 /checkout; do
    node -e "fetch('http://127.0.0.1:$port$path',{headers:{'x-tenant':'acme'}}).then(r=>r.arrayBuffer())" || { cat "$label.log"; fail "$label: request $path failed"; }
  done
  kill -TERM "$pid"
  local code=0; wait "$pid" || code=$?
  [ "$code" = 0 ] || { cat "$label.log"; fail "$label exited with $code after SIGTERM"; }
  grep -qE 'reqprof: collected [0-9]+ tag sets' "$label.log" || { cat "$label.log"; fail "$label logged no reqprof window"; }
  echo "$label: served, delivered its last window on SIGTERM, exited 0"
}

echo "== code quick start"
run_server "quickstart ESM" node quickstart.mjs
run_server "quickstart CommonJS" node quickstart.cjs

echo "== zero-code quick start"
if node -e "require.resolve('reqprof/register')" 2>/dev/null; then
  cat > app.mjs <<'JS'
import http from 'node:http';
const server = http.createServer((req, res) => res.end('ok\n')).listen(Number(process.env.PORT));
process.once('SIGTERM', () => server.close());
JS
  cat > app.cjs <<'JS'
const http = require('node:http');
const server = http.createServer((req, res) => res.end('ok\n')).listen(Number(process.env.PORT));
process.once('SIGTERM', () => server.close());
JS
  run_server "register, ESM app" node --import reqprof/register app.mjs
  run_server "register, CommonJS app" node --import reqprof/register app.cjs
  run_server "register, CommonJS app with --require" node --require reqprof/register app.cjs
else
  echo "SKIPPED: this package has no reqprof/register entry yet"
fi

echo "== TypeScript consumer (module nodenext)"
cat > consumer.ts <<'TS'
import { newProfiler, tag, type TagsProfile, type WindowInfo } from 'reqprof';
import { debugHandler } from 'reqprof/http';
import { pprofProcessor } from 'reqprof/pprof';

const print = (profiles: TagsProfile[], window: WindowInfo): void => console.log(window.mode, profiles.length);
const profiler = newProfiler([print, pprofProcessor({ dir: 'profiles' })], 0, 30_000);
const n: number = tag({ route: '/checkout' }, () => 1);
export const handler = debugHandler(profiler);
export { n };
TS
cp consumer.ts consumer.mts
cp consumer.ts consumer.cts
cat > tsconfig.json <<'JSON'
{ "compilerOptions": { "module": "nodenext", "moduleResolution": "nodenext", "target": "es2022", "strict": true, "noEmit": true, "skipLibCheck": false, "types": ["node"] },
  "files": ["consumer.mts", "consumer.cts"] }
JSON
npx tsc -p tsconfig.json || fail "the TypeScript consumer does not type-check"
echo "consumer.mts (ESM) and consumer.cts (CommonJS) type-check"
echo "pack-check: all good"
