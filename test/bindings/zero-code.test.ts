/**
 * The bindings in CommonJS and ES module apps, through the built package
 * (`reqprof/bindings`): pg loaded before bindDrivers() (static imports),
 * after it (require, dynamic import), and not bound at all.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startPostgres, type DbServer } from '../helpers/db-servers.js';
import { loudSkip } from '../helpers/system-tool.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const built = existsSync(new URL('../../dist/esm/bindings/index.js', import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

let server: DbServer | undefined;
let skip: string | false = built ? false : loudSkip('zero-code binding tests', 'the package is not built: run `npm run build` first');

before(async () => {
  if (skip) return;
  const s = await startPostgres();
  if ('skip' in s) skip = loudSkip('zero-code binding tests against PostgreSQL', s.skip);
  else server = s;
});
after(async () => { await server?.stop(); });

function run(file: string, bind: boolean): string {
  const r = spawnSync(process.execPath, [fixture(file)], {
    cwd: root, encoding: 'utf8', timeout: 60_000,
    env: { ...process.env, PGPORT: String(server!.port), BIND: bind ? '1' : '0' },
  });
  assert.equal(r.status, 0, `${file}: ${r.stderr}`);
  return r.stdout.trim();
}

describe('a pool.query callback sees its own request\'s tags, not those of the request that opened the connection', () => {
  for (const [file, how] of [
    ['pg-app.cjs', 'a CommonJS app that requires pg after bindDrivers()'],
    ['pg-app-static.mjs', 'an ES module app whose static import loaded pg before bindDrivers()'],
    ['pg-app-dynamic.mjs', 'an ES module app that imports pg after bindDrivers()'],
  ] as const) {
    test(`${how}`, (t) => {
      if (skip) { t.skip(skip); return; }
      assert.equal(run(file, false), 'first', 'unbound, the callback runs as the opener');
      assert.equal(run(file, true), 'second');
    });
  }
});

test('importing reqprof and reqprof/bindings without calling bindDrivers() changes no driver and no require', (t) => {
  if (!built) { t.skip('not built'); return; }
  const r = spawnSync(process.execPath, [fixture('untouched.mjs')], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'untouched');
});
