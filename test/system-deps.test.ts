import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { findSystemTool, INSTALL_SYSTEM_DEPS, postgresBinDirs } from './helpers/system-tool.js';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

test('a missing system tool is reported as a skip that names the command installing it, and nothing is installed', () => {
  const found = findSystemTool('reqprof-no-such-tool', 'reqprof-no-such-package');
  assert.ok('skip' in found);
  assert.match(found.skip, /reqprof-no-such-tool is not installed \(Debian package reqprof-no-such-package\)/);
  assert.ok(found.skip.includes(INSTALL_SYSTEM_DEPS));
  assert.equal(INSTALL_SYSTEM_DEPS, 'bash scripts/install-system-deps.sh');
});

test('a tool off PATH is found in the folders given (Debian keeps initdb under /usr/lib/postgresql/*/bin)', (t) => {
  const dirs = postgresBinDirs();
  if (dirs.length === 0) return t.skip('postgresql is not installed here');
  const initdb = findSystemTool('initdb', 'postgresql', dirs);
  assert.ok('path' in initdb, JSON.stringify(initdb));
  assert.match(initdb.path, /postgresql\/[^/]+\/bin\/initdb$|\/initdb$/);
});

test('no test or test helper runs a package manager: `npm test` never installs system packages', () => {
  const offenders = files('test')
    .filter((f) => /\.(ts|mjs|js|cjs)$/.test(f) && f !== join('test', 'system-deps.test.ts'))
    .filter((f) => /\b(apt-get|apt|dpkg|yum|dnf|apk|brew)\b['"`,\s]+\s*(install|add|-i)\b/.test(readFileSync(f, 'utf8')));
  assert.deepEqual(offenders, []);
});
