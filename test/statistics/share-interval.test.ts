import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sumAndCapWindow, toProfiles } from '../../src/aggregate.js';
import { WindowSummer } from '../../src/engine/window-summer.js';
import type { RawNode, RawTimeProfile } from '../../src/engine/native.js';
import { latestWindow } from '../../src/processors/html-report/model.js';
import { shareMargin } from '../../src/share-interval.js';
import { createTagSet, type TagSet } from '../../src/tags.js';
import type { TagsProfile, WindowInfo } from '../../src/types.js';

/** mulberry32: a small seeded PRNG, so the simulation gives the same answer on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ROUTE_A = createTagSet({ route: '/a' });
const ROUTE_B = createTagSet({ route: '/b' });
const TRUTH = new Map([[ROUTE_A.key, 0.2], [ROUTE_B.key, 0.5], ['', 0.3]]);
const BUSY = 400;
const IDLE_PER_BUSY = 3;
const PERIOD_NS = 10_000_000;

/**
 * One synthetic window as the V8 sampler records it on a lightly loaded
 * service: BUSY samples that each ran one request's code (route /a with
 * probability 0.2, /b 0.5, untagged 0.3, each carrying about one sampling
 * period of CPU), each followed by idle samples carrying the CPU tail of that
 * work. The true CPU share of each tag set is its probability.
 */
function syntheticWindow(rand: () => number): RawTimeProfile {
  const busy: RawNode = { name: 'handler', scriptName: 'app.js', lineNumber: 1, hitCount: 0, children: [], contexts: [] };
  const idle: RawNode = { name: '(idle)', hitCount: 0, children: [], contexts: [] };
  let t = 1_000_000n;
  for (let i = 0; i < BUSY; i++) {
    const u = rand();
    const tags: TagSet | undefined = u < 0.2 ? ROUTE_A : u < 0.7 ? ROUTE_B : undefined;
    busy.contexts!.push({ context: tags, cpuTime: PERIOD_NS * (0.9 + 0.2 * rand()), timestamp: (t += 10_000n) });
    for (let j = 0; j < IDLE_PER_BUSY; j++) idle.contexts!.push({ context: undefined, cpuTime: 200_000 * rand(), timestamp: (t += 10_000n) });
  }
  return { startTime: 0, endTime: 0, topDownRoot: { hitCount: 0, children: [busy, idle] } };
}

function summed(raw: RawTimeProfile): { profiles: TagsProfile[]; window: WindowInfo } {
  const sum = new WindowSummer(raw, (c) => c as TagSet | undefined, false, false);
  sum.step(Infinity);
  const settings = { intervalMs: 0, windowMs: 1000, samplingIntervalMicros: 10_000, maxTagSets: 100, mode: 'async-hooks' as const };
  return toProfiles(sumAndCapWindow({ start: 0, end: 1000, totals: sum.totals, samples: sum.samples, nonJsThreadsCpuNanos: 0 }, settings, 'window'));
}

/** How often, over many windows, the true share lies within each interval. */
function coverage(interval: (p: TagsProfile, w: WindowInfo, profiles: TagsProfile[]) => number): Map<string, number> {
  const rand = prng(12);
  const hits = new Map<string, number>([...TRUTH.keys()].map((k) => [k, 0]));
  const windows = 3000;
  for (let i = 0; i < windows; i++) {
    const { profiles, window } = summed(syntheticWindow(rand));
    for (const p of profiles) {
      if (Math.abs(p.percent - TRUTH.get(p.key)!) <= interval(p, window, profiles)) hits.set(p.key, hits.get(p.key)! + 1);
    }
  }
  return new Map([...hits].map(([k, h]) => [k, h / windows]));
}

function assertAbout95(cov: Map<string, number>, what: string, diagnostic: (m: string) => void): void {
  diagnostic(`${what}: coverage ${[...cov].map(([k, c]) => `${k || 'untagged'} ${(100 * c).toFixed(1)}%`).join(', ')}`);
  for (const [k, c] of cov) {
    // 3000 windows: the coverage of a true 95% interval is 0.95 ± 0.004 (one standard error).
    assert.ok(c >= 0.93 && c <= 0.97, `${what}: the true share of "${k || 'untagged'}" fell within its 95% interval in ${(100 * c).toFixed(1)}% of windows`);
  }
}

test('the ± 95% interval of a share, 1.96·√(p(1−p)/N) with N the window busy samples, covers the true share in about 95% of windows', (t) => {
  assertAbout95(coverage((p, w) => shareMargin(p.percent, w.busySamples)), 'shareMargin(percent, window.busySamples)', (m) => t.diagnostic(m));
});

test('the HTML report shows that same interval: its ± covers the true share in about 95% of windows', (t) => {
  const limits = { historyWindows: 1, maxTagSets: 100, chartSeries: 5, maxFlameNodes: 100, hotFunctions: 0 };
  assertAbout95(coverage((p, w, all) => latestWindow(all, w, limits, null).rows.find((r) => r.key === p.key)!.error), 'HTML report ±', (m) => t.diagnostic(m));
});

test('the interval once documented, 1.96·√(p(1−p)/n) with n the tag set samples, is far too wide (it covers nearly always)', (t) => {
  const cov = coverage((p) => 1.96 * Math.sqrt(p.percent * (1 - p.percent) / p.samples));
  t.diagnostic(`n = the tag set's samples: coverage ${[...cov].map(([k, c]) => `${k || 'untagged'} ${(100 * c).toFixed(1)}%`).join(', ')}`);
  assert.ok([...cov.values()].some((c) => c > 0.99), [...cov].join(' '));
});

test('shareMargin is 0 without samples and symmetric in p', () => {
  assert.equal(shareMargin(0.3, 0), 0);
  assert.ok(Math.abs(shareMargin(0.3, 100) - shareMargin(0.7, 100)) < 1e-15);
  assert.ok(Math.abs(shareMargin(0.5, 10_000) - 0.0098) < 1e-12);
});
