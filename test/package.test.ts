import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const built = existsSync(new URL('../dist/esm/index.js', import.meta.url));

function node(args: string[], input?: string) {
  return spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', input, timeout: 60_000 });
}

const PEERS = ['express', 'fastify', 'koa', '@grpc/grpc-js', 'prom-client', '@opentelemetry/api', '@datadog/pprof'];

describe('the published package (built by npm test\'s pretest step)', { skip: built ? false : 'run `npm run build` first' }, () => {
  test('import and require of "reqprof" give the same API, and CommonJS and ESM share one module instance (one tag context)', () => {
    const r = node(['--input-type=module', '-e', `
      import * as esm from 'reqprof';
      import { createRequire } from 'node:module';
      const cjs = createRequire(import.meta.url)('reqprof');
      if (typeof esm.newProfiler !== 'function') throw new Error('no ESM newProfiler');
      if (cjs.newProfiler !== esm.newProfiler) throw new Error('CommonJS and ESM entries are different instances');
      const seen = esm.tag({ a: '1' }, () => cjs.lookup('a'));
      if (seen !== '1') throw new Error('tags set through ESM are not visible through CommonJS');
      console.log('ok');
    `]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'ok');
  });

  test('importing the core loads no framework, metrics library or native addon', () => {
    const r = node(['--input-type=module', '-e', `
      import { createRequire } from 'node:module';
      await import('reqprof');
      const require = createRequire(import.meta.url);
      const loaded = Object.keys(require.cache);
      const peers = ${JSON.stringify(PEERS)};
      const hit = peers.filter((p) => loaded.some((f) => f.includes('/node_modules/' + p + '/')));
      console.log(JSON.stringify(hit));
    `]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), []);
  });

  for (const subpath of Object.keys(pkg.exports).filter((k: string) => k !== './package.json')) {
    const name = subpath === '.' ? 'reqprof' : `reqprof/${subpath.slice(2)}`;
    const target = pkg.exports[subpath];
    const present = existsSync(new URL(`../${target.import.default}`, import.meta.url));
    test(`${name} has ESM, CommonJS and type entry points`, { skip: present ? false : `${name} is not built yet` }, () => {
      for (const file of [target.import.default, target.import.types, target.require.default, target.require.types]) {
        assert.ok(existsSync(new URL(`../${file}`, import.meta.url)), `${file} exists`);
      }
      const r = node(['-e', `const m = require(${JSON.stringify(name)}); if (Object.keys(m).length === 0) throw new Error('empty'); console.log('ok')`]);
      assert.equal(r.status, 0, r.stderr);
    });
  }

  test('reqprof/http holds the debug endpoint in ESM and CommonJS alike, and importing it loads no prom-client', () => {
    const r = node(['--input-type=module', '-e', `
      import * as esm from 'reqprof/http';
      import { createRequire } from 'node:module';
      const require = createRequire(import.meta.url);
      const cjs = require('reqprof/http');
      for (const name of ['debugHandler', 'debugProcessor', 'createDebugRecorder', 'startDebugServer']) {
        if (typeof esm[name] !== 'function') throw new Error('no ESM ' + name);
        if (cjs[name] !== esm[name]) throw new Error(name + ' differs between CommonJS and ESM');
      }
      const loaded = Object.keys(require.cache).filter((f) => f.includes('/node_modules/prom-client/'));
      console.log(JSON.stringify(loaded));
    `]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), []);
  });

  test('npm pack ships the build, the README and the docs it links, and no sources or tests', () => {
    assert.deepEqual(pkg.files, ['dist', 'README.md', 'docs/*.md']);
    assert.equal(pkg.scripts.prepack, 'npm run build', 'a fresh clone packs a built package');
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const files = (JSON.parse(r.stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path);
    assert.ok(files.includes('dist/esm/index.js') && files.includes('dist/cjs/index.cjs') && files.includes('README.md'));
    for (const doc of readFileSync(new URL('../README.md', import.meta.url), 'utf8').match(/\(docs\/[\w-]+\.md/g) ?? []) {
      const path = doc.slice(1);
      if (existsSync(new URL(`../${path}`, import.meta.url))) assert.ok(files.includes(path), `${path} is linked from the README but not packed`);
    }
    assert.deepEqual(files.filter((f) => /^(src|test|bench|examples)\//.test(f)), []);
  });
});
