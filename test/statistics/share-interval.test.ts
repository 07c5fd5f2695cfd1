import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeSummedWindows, sumAndCapWindow, toProfiles } from '../../src/aggregate.js';
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

/** Every busy sample carries about one sampling period of CPU. */
const evenCpu = (rand: () => number): number => PERIOD_NS * (0.9 + 0.2 * rand());

/**
 * A starved sampler thread (a loaded 2-core machine): one busy sample in five
 * comes 3 to 7 periods late and carries that much CPU. Which tag set it lands
 * in does not depend on how late it is. Kish's Neff/N = (E w)² / E w² ≈ 0.53.
 */
const lumpyCpu = (rand: () => number): number => PERIOD_NS * (rand() < 0.2 ? 3 + 4 * rand() : 0.9 + 0.2 * rand());

/**
 * One synthetic window as the V8 sampler records it on a lightly loaded
 * service: BUSY samples that each ran one request's code (route /a with
 * probability 0.2, /b 0.5, untagged 0.3, each carrying about one sampling
 * period of CPU), each followed by idle samples carrying the CPU tail of that
 * work. The true CPU share of each tag set is its probability.
 */
function syntheticWindow(rand: () => number, busyCpu: (rand: () => number) => number = evenCpu): RawTimeProfile {
  const busy: RawNode = { name: 'handler', scriptName: 'app.js', lineNumber: 1, hitCount: 0, children: [], contexts: [] };
  const idle: RawNode = { name: '(idle)', hitCount: 0, children: [], contexts: [] };
  let t = 1_000_000n;
  for (let i = 0; i < BUSY; i++) {
    const u = rand();
    const tags: TagSet | undefined = u < 0.2 ? ROUTE_A : u < 0.7 ? ROUTE_B : undefined;
    busy.contexts!.push({ context: tags, cpuTime: busyCpu(rand), timestamp: (t += 10_000n) });
    for (let j = 0; j < IDLE_PER_BUSY; j++) idle.contexts!.push({ context: undefined, cpuTime: 200_000 * rand(), timestamp: (t += 10_000n) });
  }
  return { startTime: 0, endTime: 0, topDownRoot: { hitCount: 0, children: [busy, idle] } };
}

function folded(raw: RawTimeProfile) {
  const sum = new WindowSummer(raw, (c) => c as TagSet | undefined, false, false);
  sum.step(Infinity);
  const settings = { intervalMs: 0, windowMs: 1000, samplingIntervalMicros: 10_000, maxTagSets: 100, mode: 'async-hooks' as const };
  return sumAndCapWindow({ start: 0, end: 1000, totals: sum.totals, samples: sum.samples, busyWeights: sum.busyWeights, nonJsThreadsCpuNanos: 0 }, settings, 'window');
}

function summed(raw: RawTimeProfile): { profiles: TagsProfile[]; window: WindowInfo } {
  return toProfiles(folded(raw));
}

/** How often, over many windows, the true share lies within each interval. */
function coverage(interval: (p: TagsProfile, w: WindowInfo, profiles: TagsProfile[]) => number, busyCpu = evenCpu): Map<string, number> {
  const rand = prng(12);
  const hits = new Map<string, number>([...TRUTH.keys()].map((k) => [k, 0]));
  const windows = 3000;
  for (let i = 0; i < windows; i++) {
    const { profiles, window } = summed(syntheticWindow(rand, busyCpu));
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

test('the ± 95% interval of a share, 1.96·√(p(1−p)/N) with N the window\'s effective samples (its busy samples when they carry about equal CPU), covers the true share in about 95% of windows', (t) => {
  assertAbout95(coverage((p, w) => shareMargin(p.percent, w.effectiveSamples!)), 'shareMargin(percent, window.effectiveSamples)', (m) => t.diagnostic(m));
});

test('with lumpy sample weights (a starved sampler: one sample in five carries 3-7 periods of CPU), the ± from WindowInfo.effectiveSamples still covers the true share in about 95% of windows', (t) => {
  assertAbout95(coverage((p, w) => shareMargin(p.percent, w.effectiveSamples!), lumpyCpu), 'lumpy weights, shareMargin(percent, window.effectiveSamples)', (m) => t.diagnostic(m));
});

test('with the same lumpy weights, the ± from the plain busy sample count is too narrow: it covers the true share in well under 95% of windows', (t) => {
  const cov = coverage((p, w) => shareMargin(p.percent, w.busySamples), lumpyCpu);
  t.diagnostic(`lumpy weights, shareMargin(percent, window.busySamples): coverage ${[...cov].map(([k, c]) => `${k || 'untagged'} ${(100 * c).toFixed(1)}%`).join(', ')}`);
  for (const [k, c] of cov) assert.ok(c < 0.9, `"${k || 'untagged'}": ${(100 * c).toFixed(1)}%`);
});

test('WindowInfo.effectiveSamples is (Σw)²/Σw² of the busy samples: the busy count when they carry equal CPU, about half of it with the lumpy weights', () => {
  const even = summed(syntheticWindow(prng(3), () => PERIOD_NS)).window;
  assert.ok(Math.abs(even.effectiveSamples! - even.busySamples) < 1e-6, `${even.effectiveSamples} vs ${even.busySamples}`);
  const lumpy = summed(syntheticWindow(prng(3), lumpyCpu)).window;
  const ratio = lumpy.effectiveSamples! / lumpy.busySamples;
  assert.ok(ratio > 0.4 && ratio < 0.65, `Neff/N ${ratio}`);
});

test('windows merged for a busy processor have the effective count of all their samples, (Σw)²/Σw² over both', () => {
  const even = folded(syntheticWindow(prng(4), () => PERIOD_NS));
  const lumpy = folded(syntheticWindow(prng(5), lumpyCpu));
  const sw = even.weights.sum + lumpy.weights.sum;
  const expected = (sw * sw) / (even.weights.squares + lumpy.weights.squares);
  const merged = toProfiles(mergeSummedWindows(even, lumpy)).window;
  assert.equal(merged.busySamples, 2 * BUSY);
  assert.ok(Math.abs(merged.effectiveSamples! - expected) < 1e-6, `${merged.effectiveSamples} vs ${expected}`);
  assert.ok(merged.effectiveSamples! < merged.busySamples);
});

test('with the lumpy weights, the HTML report\'s ± (from the effective count) covers the true share in about 95% of windows', (t) => {
  const limits = { historyWindows: 1, maxTagSets: 100, chartSeries: 5, maxFlameNodes: 100, hotFunctions: 0 };
  assertAbout95(coverage((p, w, all) => latestWindow(all, w, limits, null).rows.find((r) => r.key === p.key)!.error, lumpyCpu), 'lumpy weights, HTML report ±', (m) => t.diagnostic(m));
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
