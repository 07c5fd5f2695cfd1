// One test per cell of the window loop's table (src/loop/window-loop.ts,
// docs/lifecycle.md): each request asked in each phase, driven through the
// test seam (a manual clock), so no test depends on how long anything takes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { newProfiler, type Profiler } from '../../src/index.js';
import { loopOf } from '../../src/loop/test-seam.js';
import type { LoopPhase } from '../../src/loop/window-loop.js';
import { Recorder } from '../helpers/cpu.js';

type Request = 'run' | 'pause' | 'resume' | 'stop';

interface Outcome {
  /** The loop's phase once the request was answered (for run(): right after the call, the window in summing included). */
  phase: LoopPhase;
  /** Reasons of the windows delivered from the moment the request was asked (summing: the window being summed included). */
  delivered: string[];
  /** For run(): whether it returned the promise of the run already going. */
  sameRun?: boolean;
}

const noMaps = () => mkdtempSync(join(tmpdir(), 'reqprof-no-maps-'));

/** Puts a fresh profiler in `phase`, asks `request`, and reports what the user sees. */
async function cell(phase: LoopPhase, request: Request, intervalMs = 0): Promise<Outcome> {
  const rec = new Recorder();
  const p: Profiler = newProfiler(rec.processor, intervalMs, 1000, {
    samplingIntervalMicros: 1000,
    ...(phase === 'starting' ? { sourceMaps: [noMaps()] } : {}),
  });
  const seam = loopOf(p).useManualClock();
  let askedIn: LoopPhase | undefined;
  const ask = (): Promise<void> => {
    askedIn = seam.phase;
    return request === 'run' ? p.run() : p[request]();
  };
  let running: Promise<void> | undefined;
  let baseline = 0;
  let answer: Promise<void>;
  if (phase === 'idle') {
    answer = ask();
  } else {
    running = p.run();
    if (phase === 'starting') {
      assert.equal(seam.phase, 'starting', 'source maps load before the first window');
      answer = ask();
    } else {
      await seam.reach('sampling');
      if (phase === 'summing') {
        baseline = rec.windows.length;
        let asked: Promise<void> | undefined;
        const off = seam.onPhase((now) => {
          if (now === 'summing') {
            off();
            asked = ask();
          }
        });
        await seam.endWindow();
        answer = asked!;
      } else {
        if (phase === 'gap') await seam.endWindow();
        if (phase === 'paused') await p.pause();
        if (phase === 'stopped') await p.stop();
        assert.equal(seam.phase, phase);
        baseline = rec.windows.length;
        answer = ask();
      }
    }
  }
  assert.equal(askedIn, phase, 'asked in the phase under test');
  const outcome: Outcome = { phase: seam.phase, delivered: [] };
  if (request === 'run') {
    outcome.sameRun = running !== undefined && answer === running;
    if (running === undefined) running = answer;
  } else {
    await answer;
    outcome.phase = seam.phase;
  }
  outcome.delivered = rec.windows.slice(baseline).map((w) => w.window.reason);
  await p.stop();
  await running;
  return outcome;
}

describe('the window loop: each request in each phase', () => {
  // phase, request, expected phase, expected deliveries (and interval, where it matters)
  const table: Array<[LoopPhase, Request, LoopPhase, string[], number?]> = [
    ['idle', 'run', 'sampling', []],
    ['idle', 'pause', 'idle', []],
    ['idle', 'resume', 'idle', []],
    ['idle', 'stop', 'stopped', []],
    ['starting', 'run', 'starting', []],
    ['starting', 'pause', 'paused', []],
    ['starting', 'resume', 'sampling', []],
    ['starting', 'stop', 'stopped', []],
    ['sampling', 'run', 'sampling', []],
    ['sampling', 'pause', 'paused', ['pause']],
    ['sampling', 'resume', 'sampling', []],
    ['sampling', 'stop', 'stopped', ['stop']],
    ['summing', 'run', 'sampling', ['window']],
    ['summing', 'pause', 'paused', ['window', 'pause']],
    ['summing', 'resume', 'sampling', ['window']],
    ['summing', 'stop', 'stopped', ['window', 'stop']],
    ['summing', 'pause', 'paused', ['window'], 500],
    ['summing', 'stop', 'stopped', ['window'], 500],
    ['gap', 'run', 'gap', [], 500],
    ['gap', 'pause', 'paused', [], 500],
    ['gap', 'resume', 'gap', [], 500],
    ['gap', 'stop', 'stopped', [], 500],
    ['paused', 'run', 'paused', []],
    ['paused', 'pause', 'paused', []],
    ['paused', 'resume', 'sampling', []],
    ['paused', 'stop', 'stopped', []],
    ['stopped', 'run', 'stopped', []],
    ['stopped', 'pause', 'stopped', []],
    ['stopped', 'resume', 'stopped', []],
    ['stopped', 'stop', 'stopped', []],
  ];
  for (const [phase, request, phaseAfter, delivered, interval] of table) {
    const what = delivered.length === 0 ? 'nothing delivered' : `delivered: ${delivered.join(', ')}`;
    const gap = interval ? ` (interval ${interval} ms: sampler off while summing)` : '';
    test(`${request}() while ${phase}${gap} -> ${phaseAfter}, ${what}`, async () => {
      const got = await cell(phase, request, interval ?? 0);
      assert.equal(got.phase, phaseAfter);
      assert.deepEqual(got.delivered, delivered);
      if (request === 'run' && phase !== 'idle' && phase !== 'stopped') assert.equal(got.sameRun, true, 'run() returns the promise of the run going on');
    });
  }

  test('pause() then resume() before run(): run() starts sampling', async () => {
    const p = newProfiler(() => {}, 0, 1000, { samplingIntervalMicros: 1000 });
    const seam = loopOf(p).useManualClock();
    await p.pause();
    await p.resume();
    const running = p.run();
    assert.equal(seam.phase, 'sampling');
    await p.stop();
    await running;
  });

  test('pause() before run(): run() starts paused, with the sampler off', async () => {
    const rec = new Recorder();
    const p = newProfiler(rec.processor, 0, 1000, { samplingIntervalMicros: 1000 });
    const seam = loopOf(p).useManualClock();
    await p.pause();
    const running = p.run();
    await seam.reach('paused');
    assert.equal(p.state, 'paused');
    await p.resume();
    assert.equal(seam.phase, 'sampling');
    await p.stop();
    await running;
    assert.deepEqual(rec.windows.map((w) => w.window.reason), ['stop']);
  });

  test('stop() before run(): run() resolves at once and never samples', async () => {
    const rec = new Recorder();
    const p = newProfiler(rec.processor, 0, 1000, { samplingIntervalMicros: 1000 });
    await p.stop();
    await p.run();
    assert.equal(p.state, 'stopped');
    assert.equal(p.mode, undefined, 'the sampler was never set up');
    assert.equal(rec.windows.length, 0);
  });
});

describe('the window loop: process exit in each phase', () => {
  const fixture = fileURLToPath(new URL('../fixtures/exit-in-phase.ts', import.meta.url));
  const table: Array<[LoopPhase, string[]]> = [
    ['idle', []],
    ['starting', []],
    ['sampling', ['exit']],
    ['summing', ['window', 'exit']],
    ['gap', []],
    ['paused', []],
    ['stopped', []],
  ];
  for (const [phase, delivered] of table) {
    test(`process.exit() while ${phase} -> ${delivered.length === 0 ? 'nothing more delivered' : `delivered synchronously: ${delivered.join(', ')}`}`, () => {
      const out = join(mkdtempSync(join(tmpdir(), 'reqprof-exit-phase-')), 'reasons.txt');
      const r = spawnSync(process.execPath, ['--import', 'tsx', fixture, phase, out], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.ok(existsSync(out));
      const lines = readFileSync(out, 'utf8').trim().split('\n');
      const at = lines.indexOf('exit asked');
      assert.ok(at >= 0, lines.join('|'));
      assert.deepEqual(lines.slice(at + 1), delivered);
    });
  }
});
