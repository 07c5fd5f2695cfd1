import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Profile } from 'pprof-format';
import { newProfiler, tag, type Processor, type TagsProfile, type WindowInfo } from '../../src/index.js';
import { CpedEngine } from '../../src/engine/cped.js';
import { TESTED_PPROF_RANGE } from '../../src/engine/native.js';
import { resetSelfCheckForTests, simulateLostContextsForTests, startupSelfCheck } from '../../src/engine/self-check.js';
import { burn } from '../helpers/cpu.js';
import { cpedAvailable, enginesHere } from '../helpers/engines.js';
import { MemoryLogger } from '../helpers/logger.js';

const SELF_CHECK_WARNING = /START-UP SELF-CHECK FAILED/;

/** Runs a profiler until its first window is delivered (ended by stop(): no timing involved). */
async function firstWindow(engine: 'cped' | 'async-hooks', logger: MemoryLogger): Promise<{ profiles: TagsProfile[]; window: WindowInfo }> {
  const got: Array<{ profiles: TagsProfile[]; window: WindowInfo }> = [];
  const processor: Processor = (profiles, window) => {
    got.push({ profiles, window });
  };
  processor.needs = { profile: true };
  const profiler = newProfiler(processor, 0, 60_000, { engine, logger, samplingIntervalMicros: 1000 });
  const running = profiler.run();
  await profiler.stop();
  await running;
  assert.equal(got.length, 1);
  return got[0]!;
}

function labelKeys(profile: Profile): Set<string> {
  const keys = new Set<string>();
  for (const s of profile.sample) for (const l of s.label) keys.add(String(profile.stringTable.strings[Number(l.key)]));
  return keys;
}

for (const engine of enginesHere()) {
  describe(`start-up self-check on the ${engine} path`, () => {
    test('on a healthy runtime it passes silently, and its burn shows as no tag set in the TagsProfile or the pprof labels', async () => {
      resetSelfCheckForTests();
      const logger = new MemoryLogger();
      const { profiles, window } = await firstWindow(engine, logger);
      assert.equal(window.mode, engine);
      assert.equal(logger.matching(SELF_CHECK_WARNING), 0, JSON.stringify(logger.records));
      for (const p of profiles) assert.ok(!p.key.includes('reqprof_self_check'), `self-check tag set delivered: ${p.key}`);
      // Its CPU is real and the process's own: counted as untagged.
      assert.ok(window.untaggedCpu > 0);
      for (const prof of window.profiles ?? []) assert.ok(!labelKeys(prof).has('reqprof_self_check'));
      assert.equal((window.profiles ?? []).length, 1);
    });

    test('a user tag set that equals the private one is still delivered: the self-check hides only its own samples', async () => {
      resetSelfCheckForTests();
      const got: TagsProfile[][] = [];
      const profiler = newProfiler((profiles) => { got.push(profiles); }, 0, 60_000, { engine, samplingIntervalMicros: 1000, logger: new MemoryLogger() });
      const running = profiler.run();
      await tag({ reqprof_self_check: 'startup' }, async () => {
        await new Promise((r) => setImmediate(r));
        burn(30);
      });
      await profiler.stop();
      await running;
      const row = got.flat().find((p) => p.key === 'reqprof_self_check=startup');
      assert.ok(row && row.samples > 0, JSON.stringify(got.flat().map((p) => [p.key, p.samples])));
    });

    test('when contexts are lost, the user sees exactly one loud warning naming the likely cause, however many profilers start', async (t) => {
      resetSelfCheckForTests();
      simulateLostContextsForTests(true);
      t.after(() => simulateLostContextsForTests(false));
      const logger = new MemoryLogger();
      // On a starved machine a burn may see no sample due: no verdict, the next start checks again.
      for (let i = 0; i < 3 && logger.matching(SELF_CHECK_WARNING) === 0; i++) await firstWindow(engine, logger);
      await firstWindow(engine, logger);
      await firstWindow(engine, logger);
      const warnings = logger.records.filter((r) => r.level === 'warn' && SELF_CHECK_WARNING.test(r.msg ?? ''));
      assert.equal(warnings.length, 1, JSON.stringify(logger.records));
      assert.match(warnings[0]!.msg!, /none carried reqprof's context: @datadog\/pprof \S+ may have changed how contexts are recorded \(tested: ~/);
      assert.equal(warnings[0]!.obj.mode, engine);
    });
  });
}

describe('start-up self-check on a broken CPED path', () => {
  const node22NoFlag = process.version.startsWith('v22.') && !cpedAvailable();
  test('the CPED path forced on Node 22 without --experimental-async-context-frame loses every context: one warning says so', { skip: node22NoFlag ? false : 'runs on Node 22 without --experimental-async-context-frame only (the .ci/run step "Node 22, async_hooks path")' }, () => {
    resetSelfCheckForTests();
    const logger = new MemoryLogger();
    // createEngine refuses this combination; the engine itself starts and silently loses contexts.
    const engine = new CpedEngine(1000, 100);
    try {
      for (let i = 0; i < 5; i++) {
        engine.start(5_000);
        startupSelfCheck(engine, logger);
        engine.stop(false).finish();
      }
    } finally {
      engine.abort();
    }
    const warnings = logger.records.filter((r) => r.level === 'warn' && SELF_CHECK_WARNING.test(r.msg ?? ''));
    assert.equal(warnings.length, 1, JSON.stringify(logger.records));
    assert.match(warnings[0]!.msg!, /AsyncContextFrame is not active .*--experimental-async-context-frame/);
  });
});

describe('Node 22 without the flag', () => {
  const node22NoFlag = process.version.startsWith('v22.') && !cpedAvailable();
  test('the profiler logs once that --experimental-async-context-frame makes it cheaper, with the measured figure', { skip: node22NoFlag ? false : 'runs on Node 22 without --experimental-async-context-frame only' }, async () => {
    resetSelfCheckForTests();
    const logger = new MemoryLogger();
    await firstWindow('async-hooks', logger);
    await firstWindow('async-hooks', logger);
    const hints = logger.records.filter((r) => /--experimental-async-context-frame/.test(r.msg ?? ''));
    assert.equal(hints.length, 1, JSON.stringify(logger.records));
    assert.equal(hints[0]!.level, 'info');
    assert.match(hints[0]!.msg!, /µs/);
  });

  test('on other runtimes and paths no such line is logged', { skip: node22NoFlag ? 'this is Node 22 without the flag' : false }, async () => {
    resetSelfCheckForTests();
    const logger = new MemoryLogger();
    await firstWindow(enginesHere()[0]!, logger);
    assert.equal(logger.matching(/experimental-async-context-frame/), 0);
  });
});

test('@datadog/pprof is pinned with ~ to the range the self-check names as tested', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> };
  const range = pkg.dependencies['@datadog/pprof']!;
  assert.match(range, /^~\d+\.\d+\.\d+$/);
  assert.equal(TESTED_PPROF_RANGE, range);
});
