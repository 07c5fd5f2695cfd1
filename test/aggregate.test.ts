import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { sumAndCapWindow, mergeSummedWindows, toProfiles, OVERFLOW_KEY, type FoldSettings } from '../src/aggregate.js';
import { createTagSet, type TagSet } from '../src/tags.js';
import type { SampledWindow, TagSetTotals } from '../src/engine/types.js';

const settings = (over: Partial<FoldSettings> = {}): FoldSettings => ({
  intervalMs: 0, windowMs: 1000, samplingIntervalMicros: 10_000, maxTagSets: 100, mode: 'async-hooks', ...over,
});

function raw(entries: Array<[TagSet | undefined, number, number]>): SampledWindow {
  const totals = new Map<TagSet | undefined, TagSetTotals>();
  let samples = 0;
  for (const [tags, cpuNanos, n] of entries) {
    totals.set(tags, { tags, cpuNanos, samples: n });
    samples += n;
  }
  return { start: 1000, end: 2000, totals, nonJsThreadsCpuNanos: 5, samples };
}

describe('aggregation into TagsProfile', () => {
  test('CPU of distinct context objects with the same tags is summed under one key', () => {
    const { profiles } = toProfiles(sumAndCapWindow(raw([
      [createTagSet({ a: '1' }), 100, 1], [createTagSet({ a: '1' }), 300, 3], [undefined, 600, 6],
    ]), settings(), 'window'));
    assert.deepEqual(profiles.map((p) => [p.key, p.value, p.samples]), [['', 600, 6], ['a=1', 400, 4]]);
  });

  test('the untagged group has key "" and tags [], and percents (untagged included) sum to 1', () => {
    const { profiles, window } = toProfiles(sumAndCapWindow(raw([[createTagSet({ a: '1' }), 250, 1], [undefined, 750, 1]]), settings(), 'window'));
    const untagged = profiles.find((p) => p.key === '')!;
    assert.deepEqual(untagged.tags, []);
    assert.equal(untagged.percent, 0.75);
    assert.equal(profiles.reduce((s, p) => s + p.percent, 0), 1);
    assert.equal(window.totalCpu, 1000);
    assert.equal(window.untaggedCpu, 750);
  });

  test('values are scaled by (interval + window) / window in floating point', () => {
    const { profiles, window } = toProfiles(sumAndCapWindow(raw([[createTagSet({ a: '1' }), 1000, 1]]), settings({ intervalMs: 500, windowMs: 3000 }), 'window'));
    assert.equal(window.scale, 3500 / 3000);
    assert.equal(profiles[0]!.value, 1000 * 3500 / 3000);
  });

  test('an empty window gives an empty list, never NaN', () => {
    const { profiles, window } = toProfiles(sumAndCapWindow(raw([]), settings(), 'window'));
    assert.deepEqual(profiles, []);
    assert.equal(window.totalCpu, 0);
  });

  test('the list is sorted by value, largest first (ties by key)', () => {
    const { profiles } = toProfiles(sumAndCapWindow(raw([
      [createTagSet({ a: '2' }), 10, 1], [createTagSet({ a: '1' }), 10, 1], [createTagSet({ a: '3' }), 30, 1],
    ]), settings(), 'window'));
    assert.deepEqual(profiles.map((p) => p.key), ['a=3', 'a=1', 'a=2']);
  });

  test('beyond maxTagSets distinct tag sets, CPU folds into reqprof_overflow=true and nothing is lost', () => {
    const entries: Array<[TagSet | undefined, number, number]> = [];
    for (let i = 0; i < 50; i++) entries.push([createTagSet({ user: String(i) }), 10, 1]);
    entries.push([undefined, 7, 1]);
    const { profiles, window } = toProfiles(sumAndCapWindow(raw(entries), settings({ maxTagSets: 10 }), 'window'));
    assert.equal(profiles.length, 12); // 10 kept + overflow + untagged
    assert.equal(profiles.find((p) => p.key === OVERFLOW_KEY)!.value, 400);
    assert.equal(window.overflowTagSets, 40);
    assert.equal(window.totalCpu, 507);
  });

  test('merging windows sums values and samples, widens the span and counts the windows', () => {
    const a = sumAndCapWindow(raw([[createTagSet({ a: '1' }), 100, 1]]), settings(), 'window');
    const b = sumAndCapWindow({ ...raw([[createTagSet({ a: '1' }), 50, 2], [createTagSet({ b: '1' }), 50, 1]]), start: 2000, end: 3000 }, settings(), 'stop');
    const { profiles, window } = toProfiles(mergeSummedWindows(a, b));
    assert.deepEqual(profiles.map((p) => [p.key, p.value, p.samples]), [['a=1', 150, 3], ['b=1', 50, 1]]);
    assert.equal(window.windows, 2);
    assert.equal(window.start, 1000);
    assert.equal(window.end, 3000);
    assert.equal(window.reason, 'stop');
    assert.equal(window.nonJsThreadsCpu, 10);
  });

  test('property: values are non-negative and percents sum to 1 for any non-empty window', () => {
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.option(fc.constantFrom('a', 'b', 'c', 'd')), fc.integer({ min: 1, max: 1e9 })), { minLength: 1, maxLength: 30 }),
      (entries) => {
        const w = raw(entries.map(([t, cpu]) => [t === null ? undefined : createTagSet({ t }), cpu, 1]));
        const { profiles } = toProfiles(sumAndCapWindow(w, settings(), 'window'));
        const sum = profiles.reduce((s, p) => s + p.percent, 0);
        return profiles.every((p) => p.value >= 0 && p.percent >= 0) && Math.abs(sum - 1) < 1e-9;
      }), { numRuns: 500 });
  });
});

describe('the maxTagSets cap keeps the tag sets with the most CPU', () => {
  test('a heavy tag set seen after a flood of small ones keeps its own row; the smallest fold into overflow', () => {
    const entries: Array<[TagSet | undefined, number, number]> = [];
    for (let i = 0; i < 50; i++) entries.push([createTagSet({ user: String(i) }), 10 + i, 1]);
    entries.push([createTagSet({ route: '/heavy' }), 10_000, 100]);
    const { profiles, window } = toProfiles(sumAndCapWindow(raw(entries), settings({ maxTagSets: 10 }), 'window'));
    assert.equal(profiles[0]!.key, 'route=/heavy');
    assert.equal(profiles[0]!.value, 10_000);
    const kept = profiles.filter((p) => p.key.startsWith('user=')).map((p) => p.key).sort();
    assert.deepEqual(kept, ['user=41', 'user=42', 'user=43', 'user=44', 'user=45', 'user=46', 'user=47', 'user=48', 'user=49']);
    assert.equal(window.overflowTagSets, 41);
    assert.equal(window.totalCpu, 10_000 + 50 * 10 + (49 * 50) / 2);
  });

  test('merging windows keeps the largest tag sets of the merged total, and requests follow their CPU', () => {
    const users: Array<[TagSet | undefined, number, number]> = [];
    for (let i = 0; i < 5; i++) users.push([createTagSet({ user: String(i) }), 10, 1]);
    const a = sumAndCapWindow(raw(users), settings({ maxTagSets: 5 }), 'window');
    const heavy = createTagSet({ route: '/heavy' });
    const b = sumAndCapWindow({ ...raw([[heavy, 1000, 10]]), requests: { byKey: new Map([[heavy.key, { tags: heavy.pairs, requests: 3 }]]), overflow: 0 } } as never,
      settings({ maxTagSets: 5 }), 'window');
    const { profiles, window } = toProfiles(mergeSummedWindows(a, b));
    assert.equal(profiles[0]!.key, 'route=/heavy');
    assert.equal(profiles[0]!.requests, 3);
    assert.equal(window.overflowTagSets, 1);
    assert.equal(profiles.find((p) => p.key === OVERFLOW_KEY)!.value, 10);
  });

  test('a window ended by pause, stop or exit is not scaled; a full window followed by an interval is', () => {
    for (const reason of ['pause', 'stop', 'exit'] as const) {
      const { profiles, window } = toProfiles(sumAndCapWindow(raw([[createTagSet({ a: '1' }), 1000, 1]]), settings({ intervalMs: 500, windowMs: 3000 }), reason));
      assert.equal(window.scale, 1, reason);
      assert.equal(profiles[0]!.value, 1000, reason);
    }
    const { window } = toProfiles(sumAndCapWindow(raw([[createTagSet({ a: '1' }), 1000, 1]]), settings({ intervalMs: 500, windowMs: 3000 }), 'window'));
    assert.equal(window.scale, 3500 / 3000);
  });
});
