/**
 * One request running straight into the next (no idle moment between them):
 * the first busy sample of the second carries the CPU since the sample
 * before it, part of which the first request used. A user sees each route's
 * CPU as its requests used it, within the sampling bound, whichever route
 * follows which, on every engine path, on a loaded machine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { buildPackage } from '../helpers/prometheus-server.js';
import { WindowSummer } from '../../src/engine/window-summer.js';
import type { RawNode, RawTimeProfile } from '../../src/engine/native.js';
import { createTagSet, type TagSet } from '../../src/tags.js';

const major = Number(process.versions.node.split('.')[0]);
/** The engine paths this runtime offers: flags and the profiler's `engine` option. */
const PATHS: Array<{ flags: string[]; engine: string }> = major >= 24
  ? [{ flags: [], engine: 'cped' }, { flags: [], engine: 'async-hooks' }]
  : major === 22
    ? [{ flags: [], engine: 'async-hooks' }, { flags: ['--experimental-async-context-frame'], engine: 'cped' }]
    : [{ flags: [], engine: 'async-hooks' }];

test('a busy sample after a busy sample of other tags gives half its CPU to those; idle tails are unchanged', () => {
  const a = createTagSet({ route: '/a' });
  const b = createTagSet({ route: '/b' });
  const at = (ms: number, ref: TagSet | undefined, cpuMs: number) => ({ context: { ref }, cpuTime: cpuMs * 1e6, timestamp: BigInt(1_000_000 + ms * 1000) });
  const leaf = (name: string, contexts: RawNode['contexts']): RawNode => ({ name, hitCount: contexts!.length, children: [], contexts });
  const raw: RawTimeProfile = {
    startTime: 0,
    endTime: 0,
    topDownRoot: {
      name: '(root)', hitCount: 0, contexts: [], children: [
        // /a, then /b straight after it, then idle, then /a again after the idle moment.
        leaf('work', [at(1, a, 1), at(2, a, 1), at(3, b, 1), at(4, b, 1), at(6, a, 1)]),
        leaf('(idle)', [{ cpuTime: 0.4e6, timestamp: BigInt(1_005_000) }]),
      ],
    },
  };
  const sum = new WindowSummer(raw, (c) => (c as { ref?: TagSet } | undefined)?.ref, true, true);
  assert.equal(sum.step(Infinity), true);
  const ms = (t: TagSet) => sum.totals.get(t)!.cpuNanos / 1e6;
  // /a: 1 + 1 + half of /b's first sample + 1 (after idle: all its own). /b: half its first + 1 + its idle tail.
  assert.equal(ms(a), 3.5);
  assert.equal(ms(b), 1.9);
  assert.deepEqual([sum.totals.get(a)!.samples, sum.totals.get(b)!.samples], [3, 2], 'samples still count the draws that ran each tag set');
  const fn = (t: TagSet) => [...sum.totals.get(t)!.functions!.values()].reduce((s, f) => s + f.cpuNanos, 0) / 1e6;
  assert.deepEqual([fn(a), fn(b)], [3.5, 1.9], 'per-function CPU moves with it');
});

interface Result {
  mode: string;
  /** Per route, the CPU (process.cpuUsage) from the end of the previous request's burst to the end of its own. */
  span: Record<string, number>;
  profiled: Record<string, number>;
  samples: Record<string, number>;
  /** Busy samples of the windows and their effective count (WindowInfo.effectiveSamples). */
  weights: { busy: number; effective: number };
}

/** A busy loop per core, so the sampler and the service compete for CPU as on a loaded host. */
function loadMachine(): ChildProcess[] {
  return Array.from({ length: availableParallelism() }, () =>
    spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
}

function runFixture(flags: string[], engine: string): Result {
  const r = spawnSync(process.execPath, [...flags, 'test/fixtures/hooks-carryover.mjs', resolve('dist'), engine, '300'],
    { encoding: 'utf8', timeout: 200_000 });
  assert.equal(r.status, 0, `the fixture exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Result;
}

test('routes that run back to back each read their own CPU share within the sampling bound, on every engine path', async (t) => {
  buildPackage([]);
  for (const path of PATHS) {
    await t.test(`engine ${path.engine}${path.flags.length ? ` (${path.flags.join(' ')})` : ''}`, () => {
      const load = loadMachine();
      let result: Result;
      try {
        result = runFixture(path.flags, path.engine);
      } finally {
        for (const child of load) child.kill();
      }
      assert.equal(result.mode, path.engine);
      // The truth of a request: the CPU since the previous request's burst ended, i.e. the event
      // loop waking up for it, its timer or setImmediate, tag() and awaits, then its burst.
      const truth = result.span;
      const keys = Object.keys(truth);
      const truthTotal = keys.reduce((s, k) => s + truth[k]!, 0);
      const profiledTotal = keys.reduce((s, k) => s + (result.profiled[k] ?? 0), 0);
      const n = keys.reduce((s, k) => s + (result.samples[k] ?? 0), 0);
      assert.ok(n > 1000, `${n} samples of the three routes`);
      // The machine is loaded on purpose: samples carry unequal CPU, and the sampling error is that of
      // the effective number of samples (docs/statistics.md), not of their count.
      const nEff = n * Math.min(1, result.weights.effective / Math.max(result.weights.busy, 1));
      const lines: string[] = [];
      let ok = true;
      for (const k of keys) {
        const p = truth[k]! / truthTotal;
        const m = (result.profiled[k] ?? 0) / profiledTotal;
        const sigma = Math.sqrt(p * (1 - p) / nEff);
        // Three routes on each of two paths: the gate is 3 sigma (a 95% bound fails one correct run in
        // five or so here), plus 0.5 pp for the untagged loop between requests that the spans count.
        const bound = 3 * sigma + 0.005;
        if (Math.abs(m - p) > bound) ok = false;
        lines.push(`${k}: measured ${(100 * m).toFixed(1)}%, its CPU ${(100 * p).toFixed(1)}% (error ${(100 * (m - p)).toFixed(1)} pp, ` +
          `95% bound ${(196 * sigma).toFixed(1)} pp, gate ${(100 * bound).toFixed(1)} pp)`);
      }
      const head = `${result.mode}, ${n} samples (effective ${nEff.toFixed(0)})`;
      console.log(`${head}:\n${lines.join('\n')}`);
      assert.ok(ok, `${head}:\n${lines.join('\n')}`);
    });
  }
});
