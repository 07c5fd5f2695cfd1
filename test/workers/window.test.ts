/**
 * How the workers' CPU joins a window (pure functions, no threads): what a
 * processor sees in values, samples, percents and WindowInfo.workers.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sumAndCapWindow, mergeSummedWindows, toProfiles } from '../../src/aggregate.js';
import type { SampledWindow } from '../../src/engine/types.js';
import { createTagSet } from '../../src/tags.js';
import { mergeWorkerWindow, type WorkerWindow } from '../../src/workers/window.js';

const settings = { intervalMs: 0, windowMs: 1000, samplingIntervalMicros: 1000, maxTagSets: 100, mode: 'cped' as const };

function raw(): SampledWindow {
  const a = createTagSet({ tenant: 'a' });
  return {
    start: 0, end: 1000, samples: 30, nonJsThreadsCpuNanos: 0,
    totals: new Map([[a, { tags: a, cpuNanos: 20e6, samples: 20 }], [undefined, { tags: undefined, cpuNanos: 10e6, samples: 10 }]]),
  };
}

function workers(): WorkerWindow {
  return {
    entries: [
      { threadId: 3, pairs: ['tenant', 'a'], cpuNanos: 40e6, samples: 40 },
      { threadId: 3, pairs: [], cpuNanos: 5e6, samples: 5 },
      { threadId: 4, pairs: ['tenant', 'b'], cpuNanos: 25e6, samples: 25 },
    ],
    threads: new Map([[3, { cpuNanos: 45e6, samples: 45, measuredNanos: 46e6 }], [4, { cpuNanos: 25e6, samples: 25, measuredNanos: undefined }]]),
    lostWindows: 1,
    unavailableWorkers: 0,
  };
}

test('worker CPU adds into the same tag set rows, and percents count every thread', () => {
  const { profiles, window } = toProfiles(sumAndCapWindow(mergeWorkerWindow(raw(), workers(), 1), settings, 'window'));
  const byKey = new Map(profiles.map((p) => [p.key, p]));
  assert.equal(byKey.get('tenant=a')!.value, 60e6);
  assert.equal(byKey.get('tenant=a')!.samples, 60);
  assert.equal(byKey.get('tenant=b')!.value, 25e6);
  assert.equal(byKey.get('')!.value, 15e6);
  assert.equal(window.totalCpu, 100e6);
  assert.equal(window.samples, 100);
  assert.ok(Math.abs(profiles.reduce((s, p) => s + p.percent, 0) - 1) < 1e-12);
  assert.deepEqual(window.workers!.threads.map((t) => [t.threadId, t.cpu, t.samples]), [[0, 30e6, 30], [3, 45e6, 45], [4, 25e6, 25]]);
  assert.equal(window.workers!.sampledCpu, 70e6);
  assert.equal(window.workers!.measuredCpu, undefined, 'one worker could not measure its thread: no total');
  assert.equal(window.workers!.lostWindows, 1);
});

test('with an interval, worker CPU (sampled over the whole cycle) is not scaled up', () => {
  const s = { ...settings, intervalMs: 1000 };
  const { profiles, window } = toProfiles(sumAndCapWindow(mergeWorkerWindow(raw(), workers(), 2), s, 'window'));
  const b = profiles.find((p) => p.key === 'tenant=b')!;
  assert.ok(Math.abs(b.value - 25e6) < 1, `${b.value}`);
  assert.equal(window.workers!.threads[0]!.cpu, 60e6, 'the main thread is scaled like its profiles');
});

test('merged deliveries sum per thread', () => {
  const one = sumAndCapWindow(mergeWorkerWindow(raw(), workers(), 1), settings, 'window');
  const two = sumAndCapWindow(mergeWorkerWindow(raw(), workers(), 1), settings, 'window');
  const { window } = toProfiles(mergeSummedWindows(one, two));
  assert.equal(window.workers!.sampledCpu, 140e6);
  assert.equal(window.workers!.threads.find((t) => t.threadId === 3)!.cpu, 90e6);
  assert.equal(window.workers!.lostWindows, 2);
});

test('no workers: the window is untouched', () => {
  const { window } = toProfiles(sumAndCapWindow(mergeWorkerWindow(raw(), undefined, 1), settings, 'window'));
  assert.equal(window.workers, undefined);
  assert.equal(window.totalCpu, 30e6);
});
