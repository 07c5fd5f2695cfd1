import type { EngineMode, RawWindow } from './engine/types.js';
import type { TagsProfile, WindowEndReason, WindowInfo } from './types.js';

/** The tag set that absorbs tag sets beyond the `maxTagSets` cap. */
export const OVERFLOW_TAGS: readonly string[] = Object.freeze(['reqprof_overflow', 'true']);
export const OVERFLOW_KEY = 'reqprof_overflow=true';

interface Group {
  tags: readonly string[];
  value: number;
  samples: number;
}

/** One or more windows summed per tag-set key, scaled, ready to become `TagsProfile[]`. */
export interface WindowData {
  groups: Map<string, Group>;
  /** Tag sets other than the untagged one, held to `maxTagSets`. */
  taggedGroups: number;
  maxTagSets: number;
  info: Omit<WindowInfo, 'totalCpu' | 'untaggedCpu' | 'durationMs'>;
}

export interface FoldSettings {
  intervalMs: number;
  windowMs: number;
  samplingIntervalMicros: number;
  maxTagSets: number;
  mode: EngineMode;
}

/** Sums a raw window per key (several TagSet objects share a key), scales, and caps cardinality. */
export function foldWindow(raw: RawWindow, s: FoldSettings, reason: WindowEndReason): WindowData {
  const scale = (s.intervalMs + s.windowMs) / s.windowMs;
  const data: WindowData = { groups: new Map(), taggedGroups: 0, maxTagSets: s.maxTagSets, info: undefined! };
  let overflowTagSets = 0;
  for (const t of raw.totals.values()) {
    const key = t.tags === undefined ? '' : t.tags.key;
    if (!addToGroup(data, key, t.tags === undefined ? EMPTY : t.tags.pairs, t.cpuNanos * scale, t.samples)) overflowTagSets++;
  }
  data.info = {
      start: raw.start,
      end: raw.end,
      intervalMs: s.intervalMs,
      windowMs: s.windowMs,
      scale,
      samplingIntervalMicros: s.samplingIntervalMicros,
      nonJsThreadsCpu: raw.nonJsThreadsCpuNanos * scale,
      samples: raw.samples,
      windows: 1,
      overflowTagSets,
      reason,
      mode: s.mode,
  };
  return data;
}

const EMPTY: readonly string[] = Object.freeze([]);

/**
 * Adds CPU to the group of `key`, creating it unless the cap on distinct tag
 * sets is reached, in which case the CPU goes to the overflow group. Returns
 * false when it overflowed.
 */
function addToGroup(d: WindowData, key: string, tags: readonly string[], value: number, samples: number): boolean {
  let g = d.groups.get(key);
  let fits = true;
  if (g === undefined) {
    if (key !== '' && key !== OVERFLOW_KEY && d.taggedGroups >= d.maxTagSets) {
      fits = false;
      g = d.groups.get(OVERFLOW_KEY);
      if (g === undefined) {
        g = { tags: OVERFLOW_TAGS, value: 0, samples: 0 };
        d.groups.set(OVERFLOW_KEY, g);
      }
    } else {
      g = { tags, value: 0, samples: 0 };
      d.groups.set(key, g);
      if (key !== '') d.taggedGroups++;
    }
  }
  g.value += value;
  g.samples += samples;
  return fits;
}

/** Adds `later` into `into` (both already folded): values and samples summed, the span widened. */
export function mergeWindowData(into: WindowData, later: WindowData): WindowData {
  let overflowed = 0;
  for (const [key, g] of later.groups) {
    if (!addToGroup(into, key, g.tags, g.value, g.samples)) overflowed++;
  }
  const a = into.info;
  const b = later.info;
  into.info = {
    ...b,
    start: Math.min(a.start, b.start),
    end: Math.max(a.end, b.end),
    nonJsThreadsCpu: a.nonJsThreadsCpu + b.nonJsThreadsCpu,
    samples: a.samples + b.samples,
    windows: a.windows + b.windows,
    overflowTagSets: a.overflowTagSets + b.overflowTagSets + overflowed,
  };
  return into;
}

/** The processor view: one record per tag set, largest CPU first, percents summing to 1. */
export function toProfiles(data: WindowData): { profiles: TagsProfile[]; window: WindowInfo } {
  let total = 0;
  for (const g of data.groups.values()) total += g.value;
  const profiles: TagsProfile[] = [];
  for (const [key, g] of data.groups) {
    if (g.samples === 0 && g.value === 0) continue;
    profiles.push({
      key,
      tags: g.tags.slice(),
      value: g.value,
      percent: total > 0 ? g.value / total : 0,
      samples: g.samples,
    });
  }
  profiles.sort((x, y) => y.value - x.value || (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
  const untagged = data.groups.get('')?.value ?? 0;
  return {
    profiles,
    window: {
      ...data.info,
      durationMs: data.info.end - data.info.start,
      totalCpu: total,
      untaggedCpu: untagged,
    },
  };
}

/** A deep enough copy that merging into it never changes what a processor already holds. */
export function cloneWindowData(d: WindowData): WindowData {
  const groups = new Map<string, Group>();
  for (const [k, g] of d.groups) groups.set(k, { tags: g.tags, value: g.value, samples: g.samples });
  return { groups, taggedGroups: d.taggedGroups, maxTagSets: d.maxTagSets, info: { ...d.info } };
}
