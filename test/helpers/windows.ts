import type { TagsProfile, WindowInfo } from '../../src/index.js';

/**
 * Builds a processor's input by hand, for tests of how a processor maps tag sets
 * (its arithmetic, caps and naming), where a real profiler's samples would only
 * add noise. `cpuMs` per tag set; percent is computed over the list as the
 * profiler does (untagged included).
 */
export function windowOf(sets: Array<{ tags: Record<string, string> | null; cpuMs: number; samples?: number }>, windows = 1): { profiles: TagsProfile[]; window: WindowInfo } {
  const total = sets.reduce((s, x) => s + x.cpuMs * 1e6, 0);
  const profiles = sets.map(({ tags, cpuMs, samples }) => {
    const pairs = tags === null ? [] : Object.keys(tags).sort().flatMap((k) => [k, tags[k]!]);
    const key = tags === null ? '' : Object.keys(tags).sort().map((k) => `${k}=${tags[k]}`).join('|');
    return { key, tags: pairs, value: cpuMs * 1e6, percent: total > 0 ? (cpuMs * 1e6) / total : 0, samples: samples ?? Math.round(cpuMs) };
  });
  const now = Date.now();
  const window: WindowInfo = {
    start: now - 1000, end: now, durationMs: 1000, intervalMs: 0, windowMs: 1000, scale: 1,
    samplingIntervalMicros: 1000, totalCpu: total, untaggedCpu: profiles.filter((p) => p.key === '').reduce((s, p) => s + p.value, 0),
    nonJsThreadsCpu: 0, samples: profiles.reduce((s, p) => s + p.samples, 0), busySamples: profiles.reduce((s, p) => s + p.samples, 0), windows, overflowTagSets: 0, reason: 'window', mode: 'async-hooks',
  };
  return { profiles, window };
}
