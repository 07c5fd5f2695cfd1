/**
 * Two installed copies of reqprof in one process (a dependency that brings
 * its own, a linked checkout): the built package is copied into two
 * node_modules folders and both are loaded. A request tagged through one
 * copy (by hand or by its integrations) must be sampled with its tags, and
 * counted, by the other copy's profiler, on every
 * engine path this runtime has; copies of incompatible versions say so
 * loudly at load.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildPackage } from './helpers/prometheus-server.js';
import { childEnv } from './helpers/engines.js';
import { compatibleVersions } from '../src/tag-context-registry.js';
import { VERSION } from '../src/version.js';

const major = Number(process.versions.node.split('.')[0]);
/** The engine paths this runtime offers, with the flags that select them. */
const PATHS: Array<{ flags: string[]; mode: string }> = major >= 24
  ? [{ flags: [], mode: 'cped' }, { flags: ['--no-async-context-frame'], mode: 'async-hooks' }]
  : major === 22
    ? [{ flags: [], mode: 'async-hooks' }, { flags: ['--experimental-async-context-frame'], mode: 'cped' }]
    : [{ flags: [], mode: 'async-hooks' }];

// Under the repository's node_modules, so the copies resolve the dependencies as a hoisted install would.
const root = resolve('node_modules', `.reqprof-copies-${process.pid}`);
const copy = (name: string) => join(root, name, 'node_modules', 'reqprof');

/** A copy of the built package (package.json and dist), as npm installs it; `version` rewrites its version. */
function install(name: string, version?: string): string {
  const dir = copy(name);
  mkdirSync(dir, { recursive: true });
  cpSync('dist', join(dir, 'dist'), { recursive: true });
  const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
  if (version !== undefined) {
    pkg.version = version;
    const file = join(dir, 'dist/esm/version.js');
    if (existsSync(file)) writeFileSync(file, readFileSync(file, 'utf8').replace(/VERSION = '[^']*'/, `VERSION = '${version}'`));
  }
  writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
  return dir;
}

interface Result {
  mode: string;
  busy: string;
  lookups: string[];
  truth: Record<string, number>;
  profiled: Record<string, number>;
  requests: Record<string, number>;
}

function runFixture(flags: string[], a: string, b: string): { result: Result; stderr: string } {
  const r = spawnSync(process.execPath, [...flags, 'test/fixtures/two-copies.mjs', a, b], { encoding: 'utf8', timeout: 120_000, env: childEnv() });
  assert.equal(r.status, 0, `the fixture exited ${r.status}: ${r.stderr}`);
  return { result: JSON.parse(r.stdout.trim().split('\n').pop()!) as Result, stderr: r.stderr };
}

before(() => {
  buildPackage([]);
  install('a');
  install('b');
  install('other-major', `${Number(JSON.parse(readFileSync('package.json', 'utf8')).version.split('.')[0]) + 1}.0.0`);
});
after(() => rmSync(root, { recursive: true, force: true }));

for (const { flags, mode } of PATHS) {
  test(`${mode} path: requests tagged through one installed copy are sampled with their tags by the other copy's profiler`, () => {
    const { result, stderr } = runFixture(flags, copy('a'), copy('b'));
    assert.equal(result.mode, mode);
    for (const [key, ms] of Object.entries(result.truth)) {
      const got = result.profiled[key] ?? 0;
      console.log(`${mode}: ${key}: profiled ${got.toFixed(1)} ms of ${ms.toFixed(1)} ms measured`);
      // About 160 samples per key at 1 kHz: well inside 0.6 to 1.4 of the truth when attributed.
      assert.ok(got > ms * 0.6 && got < ms * 1.4, `${key}: B's profiler attributed ${got.toFixed(1)} ms of the ${ms.toFixed(1)} ms burnt (untagged: ${(result.profiled[''] ?? 0).toFixed(1)} ms)`);
    }
    assert.deepEqual(result.lookups, ['A.lookup in B.tag: /b', 'B.lookup in A.tag: /a'], 'each copy reads the tags the other set');
    assert.equal(result.busy, 'REQPROF_ERR_SAMPLER_BUSY', 'a profiler of the other copy is refused while one runs');
    assert.deepEqual(result.requests, { 'route=/http': 20 }, 'requests served by copy A\'s integration are counted for copy B\'s profiler');
    assert.doesNotMatch(stderr, /ReqprofWarning/, 'compatible copies load quietly');
  });
}

test('copies of incompatible versions warn loudly at load, naming both versions and what is lost', () => {
  const { flags } = PATHS[0]!;
  const r = spawnSync(process.execPath, [...flags, '-e', `import(${JSON.stringify(join(copy('a'), 'dist/esm/index.js'))}).then(() => import(${JSON.stringify(join(copy('other-major'), 'dist/esm/index.js'))}))`], { encoding: 'utf8', timeout: 60_000, env: childEnv() });
  assert.equal(r.status, 0, r.stderr);
  const version = JSON.parse(readFileSync('package.json', 'utf8')).version as string;
  assert.match(r.stderr, /ReqprofWarning/);
  assert.match(r.stderr, new RegExp(`reqprof ${version.replace(/\./g, '\\.')} .*is already loaded.*incompatible`));
  assert.match(r.stderr, /sampled untagged/);
});

test('the version a copy registers is its package.json version; compatible means the same major (0.x: the same minor), pre-releases only themselves', () => {
  assert.equal(VERSION, JSON.parse(readFileSync('package.json', 'utf8')).version);
  assert.ok(compatibleVersions('1.2.3', '1.9.0'));
  assert.ok(!compatibleVersions('1.2.3', '2.0.0'));
  assert.ok(compatibleVersions('0.1.0', '0.1.7'));
  assert.ok(!compatibleVersions('0.1.0', '0.2.0'));
  assert.ok(!compatibleVersions('1.2.0-rc.1', '1.2.0'));
  assert.ok(compatibleVersions('1.2.0-rc.1', '1.2.0-rc.1'));
  assert.ok(!compatibleVersions('1.2', '1.2.0'));
});
