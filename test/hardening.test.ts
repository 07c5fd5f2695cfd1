import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { newProfiler, tag, ErrorCodes, OVERFLOW_KEY } from '../src/index.js';
import { simulateNativeLoadFailureForTests } from '../src/engine/native.js';
import { loopOf } from '../src/loop/test-seam.js';
import { Recorder, burn, sleep } from './helpers/cpu.js';
import { MemoryLogger } from './helpers/logger.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

describe('process end in the middle of a window', () => {
  for (const how of ['exit', 'sigterm', 'drain']) {
    const what = { exit: 'process.exit()', sigterm: 'SIGTERM with a shutdown handler that exits', drain: 'the event loop running dry' }[how];
    test(`${what} still delivers the partial window to the processors`, () => {
      const out = join(mkdtempSync(join(tmpdir(), 'reqprof-exit-')), 'window.json');
      const r = spawnSync(process.execPath, ['--import', 'tsx', fixture('exit-mid-window.ts'), how, out], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.ok(existsSync(out), 'the processor ran');
      const got = JSON.parse(readFileSync(out, 'utf8'));
      assert.equal(got.reason, 'exit');
      const job = got.profiles.find((p: { key: string }) => p.key === 'job=before-exit');
      assert.ok(job && job.samples > 100, `the tagged CPU before exit is there: ${JSON.stringify(got.profiles)}`);
    });
  }
});

describe('runtimes', () => {
  test('without the native addon, importing works and run() fails with REQPROF_ERR_SAMPLER_UNAVAILABLE, so the service starts with profiling off', async () => {
    simulateNativeLoadFailureForTests(new Error('no prebuild for this platform'));
    try {
      const logger = new MemoryLogger();
      const p = newProfiler(() => {}, 0, 1000, { logger });
      // Tagging still works, so the service's own code is unaffected.
      assert.equal(tag({ a: '1' }, () => 'served'), 'served');
      await assert.rejects(p.run(), (e: any) => e.code === ErrorCodes.SAMPLER_UNAVAILABLE && /no prebuild/.test(e.message));
      assert.equal(p.state, 'stopped');
      assert.equal(logger.matching(/could not run/), 1);
    } finally {
      simulateNativeLoadFailureForTests(undefined);
    }
  });

  test('with AsyncContextFrame switched off (--no-async-context-frame on Node >= 24) the hooks path is detected and tags still cross awaits', { skip: Number(process.versions.node.split('.')[0]) < 24 ? 'needs Node >= 24' : false }, () => {
    for (const [flags, mode] of [[[], 'cped'], [['--no-async-context-frame'], 'async-hooks']] as const) {
      const r = spawnSync(process.execPath, [...flags, '--import', 'tsx', fixture('mode-and-attribution.ts')], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      const got = JSON.parse(r.stdout.trim().split('\n').pop()!);
      assert.equal(got.mode, mode, `flags ${flags.join(' ') || '(none)'}`);
      assert.ok(got.share > 0.7, `${mode}: ${(got.share * 100).toFixed(0)}% of CPU carried the tags`);
    }
  });

  test('a worker thread can import reqprof and run its own profiler with its own tags', async () => {
    // Worker refuses a .ts entry before loaders run, so a one-line entry imports it.
    const entry = JSON.stringify(new URL('./fixtures/worker-thread.ts', import.meta.url).href);
    const worker = new Worker(`import('tsx/esm/api').then((tsx) => tsx.register()).then(() => import(${entry}))`, { eval: true });
    const msg = await new Promise<{ mode: string; keys: string[] }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    assert.deepEqual(msg.keys, ['thread=worker']);
    assert.ok(msg.mode === 'cped' || msg.mode === 'async-hooks');
  });
});

describe('cardinality', () => {
  test('100k distinct tag values in one window fold into one overflow tag set, counted and warned about once per window', async () => {
    const logger = new MemoryLogger();
    const rec = new Recorder();
    const p = newProfiler(rec.processor, 0, 60_000, { samplingIntervalMicros: 200, maxTagSets: 100, logger });
    const running = p.run();
    for (let i = 0; i < 100_000; i++) tag({ user: `u${i}` }, () => burn(0.02));
    await p.stop();
    await running;
    const { profiles, window } = rec.windows[0]!;
    assert.ok(profiles.length <= 102, `${profiles.length} tag sets kept`);
    assert.ok(profiles.some((x) => x.key === OVERFLOW_KEY));
    assert.ok(window.overflowTagSets > 0);
    assert.equal(logger.matching(/distinct tag sets in one window/), 1);
  });
});

describe('processors returning garbage', () => {
  test('a processor that returns a number, an object or a never-settling thenable does not stop the loop', async () => {
    const rec = new Recorder();
    const logger = new MemoryLogger();
    let thenableCalls = 0;
    const p = newProfiler([
      function number() { return 42 as never; },
      function object() { return { not: 'a promise' } as never; },
      function neverSettles() { thenableCalls++; return { then() {} } as never; },
      rec.processor,
    ], 0, 100, { samplingIntervalMicros: 1000, logger, flushTimeoutMs: 50 });
    const seam = loopOf(p).useManualClock();
    const running = p.run();
    // Each call to the thenable is given up on after its bound (100 ms); the next window then reaches it.
    for (let i = 1; i <= 3; i++) {
      await seam.endWindow();
      while (thenableCalls < i) await sleep(5);
    }
    await p.stop();
    await running;
    assert.equal(rec.windows.length, 4);
    assert.equal(logger.records.filter((r) => r.level === 'error').length, 0);
    assert.equal(logger.matching(/"neverSettles" did not settle/), 1, 'the never-settling one is named once');
  });
});
