import type { EngineMode, FunctionTotals, RawWindow } from './engine/types.js';
import type { HotFunction, TagsProfile, WindowEndReason, WindowInfo } from './types.js';
import { mergeWorkersInfo } from './workers/window.js'; // [reqprof/workers seam]

/** The tag set that absorbs tag sets beyond the `maxTagSets` cap. */
export const OVERFLOW_TAGS: readonly string[] = Object.freeze(['reqprof_overflow', 'true']);
export const OVERFLOW_KEY = 'reqprof_overflow=true';

interface Fn {
  name: string;
  file: string;
  line: number;
  value: number;
}

interface Group {
  tags: readonly string[];
  value: number;
  samples: number;
  requests?: number;
  /** Scaled self CPU per function, when top functions are wanted. */
  functions?: Map<string, Fn>;
}

/** Merged deliveries keep at most this many full profiles (the newest). */
export const MAX_PROFILES_PER_DELIVERY = 16;

/** One or more windows summed per tag-set key, scaled, ready to become `TagsProfile[]`. */
export interface WindowData {
  groups: Map<string, Group>;
  /** Tag sets other than the untagged one, held to `maxTagSets`. */
  taggedGroups: number;
  /** Whether finished requests were counted (then every profile carries `requests`). */
  countsRequests: boolean;
  maxTagSets: number;
  info: Omit<WindowInfo, 'totalCpu' | 'untaggedCpu' | 'durationMs'>;
}

export interface FoldSettings {
  intervalMs: number;
  windowMs: number;
  samplingIntervalMicros: number;
  maxTagSets: number;
  mode: EngineMode;
  /** Maps a generated location to its source (source maps), for top functions. */
  mapLocation?: (f: FunctionTotals) => { name?: string; file?: string; line?: number };
}

/** Sums a raw window per key (several TagSet objects share a key), scales, and caps cardinality. */
export function foldWindow(raw: RawWindow, s: FoldSettings, reason: WindowEndReason): WindowData {
  const scale = (s.intervalMs + s.windowMs) / s.windowMs;
  const data: WindowData = { groups: new Map(), taggedGroups: 0, countsRequests: raw.requests !== undefined, maxTagSets: s.maxTagSets, info: undefined! };
  let overflowTagSets = 0;
  for (const t of raw.totals.values()) {
    const key = t.tags === undefined ? '' : t.tags.key;
    const g = addToGroup(data, key, t.tags === undefined ? EMPTY : t.tags.pairs, t.cpuNanos * scale, t.samples);
    if (g.overflowed) overflowTagSets++;
    if (t.functions !== undefined) {
      for (const [fk, f] of t.functions) {
        const loc = s.mapLocation ? s.mapLocation(f) : f;
        addFunction(g.group, fk, loc.name || f.name, loc.file ?? f.file, loc.line ?? f.line, f.cpuNanos * scale);
      }
    }
  }
  if (raw.requests !== undefined) {
    for (const [key, r] of raw.requests.byKey) addRequests(data, key, r.tags, r.requests);
    if (raw.requests.overflow > 0) addRequests(data, OVERFLOW_KEY, OVERFLOW_TAGS, raw.requests.overflow);
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
      overflowTagSets: overflowTagSets + (raw.overflowedContexts ?? 0),
      reason,
      mode: s.mode,
      ...(raw.profile ? { profiles: [raw.profile] } : {}),
      ...(raw.workers ? { workers: raw.workers } : {}), // [reqprof/workers seam]
  };
  return data;
}

const EMPTY: readonly string[] = Object.freeze([]);

function addRequests(d: WindowData, key: string, tags: readonly string[], requests: number): void {
  const { group } = addToGroup(d, key, tags, 0, 0);
  group.requests = (group.requests ?? 0) + requests;
}

function addFunction(g: Group, key: string, name: string, file: string, line: number, value: number): void {
  g.functions ??= new Map();
  const f = g.functions.get(key);
  if (f === undefined) g.functions.set(key, { name, file, line, value });
  else f.value += value;
}

/**
 * Adds CPU to the group of `key`, creating it unless the cap on distinct tag
 * sets is reached, in which case the CPU goes to the overflow group.
 */
function addToGroup(d: WindowData, key: string, tags: readonly string[], value: number, samples: number): { group: Group; overflowed: boolean } {
  let g = d.groups.get(key);
  let overflowed = false;
  if (g === undefined) {
    if (key !== '' && key !== OVERFLOW_KEY && d.taggedGroups >= d.maxTagSets) {
      overflowed = true;
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
  return { group: g, overflowed };
}

/** Adds `later` into `into` (both already folded): values and samples summed, the span widened. */
export function mergeWindowData(into: WindowData, later: WindowData): WindowData {
  let overflowed = 0;
  into.countsRequests ||= later.countsRequests;
  for (const [key, g] of later.groups) {
    const r = addToGroup(into, key, g.tags, g.value, g.samples);
    if (r.overflowed) overflowed++;
    if (g.requests !== undefined) r.group.requests = (r.group.requests ?? 0) + g.requests;
    if (g.functions) for (const [fk, f] of g.functions) addFunction(r.group, fk, f.name, f.file, f.line, f.value);
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
  const workers = mergeWorkersInfo(a.workers, b.workers); // [reqprof/workers seam]
  if (workers !== undefined) into.info.workers = workers;
  const profiles = [...(a.profiles ?? []), ...(b.profiles ?? [])].slice(-MAX_PROFILES_PER_DELIVERY);
  if (profiles.length > 0) into.info.profiles = profiles;
  return into;
}

/** The processor view: one record per tag set, largest CPU first, percents summing to 1. */
export function toProfiles(data: WindowData, topFunctions = 0): { profiles: TagsProfile[]; window: WindowInfo } {
  let total = 0;
  for (const g of data.groups.values()) total += g.value;
  const profiles: TagsProfile[] = [];
  for (const [key, g] of data.groups) {
    if (g.samples === 0 && g.value === 0 && !g.requests) continue;
    const p: TagsProfile = {
      key,
      tags: g.tags.slice(),
      value: g.value,
      percent: total > 0 ? g.value / total : 0,
      samples: g.samples,
    };
    if (topFunctions > 0 && g.functions !== undefined) p.topFunctions = top(g.functions, g.value, topFunctions);
    if (data.countsRequests) p.requests = g.requests ?? 0;
    profiles.push(p);
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

/** The `n` functions with the most self CPU, largest first. */
function top(functions: Map<string, Fn>, groupValue: number, n: number): HotFunction[] {
  const all = [...functions.values()];
  all.sort((a, b) => b.value - a.value);
  return all.slice(0, n).map((f) => ({
    name: f.name,
    file: f.file,
    line: f.line,
    value: f.value,
    percent: groupValue > 0 ? f.value / groupValue : 0,
  }));
}

/** A deep enough copy that merging into it never changes what a processor already holds. */
export function cloneWindowData(d: WindowData): WindowData {
  const groups = new Map<string, Group>();
  for (const [k, g] of d.groups) {
    const copy: Group = { tags: g.tags, value: g.value, samples: g.samples };
    if (g.requests !== undefined) copy.requests = g.requests;
    if (g.functions) copy.functions = new Map([...g.functions].map(([fk, f]) => [fk, { ...f }]));
    groups.set(k, copy);
  }
  return { groups, taggedGroups: d.taggedGroups, countsRequests: d.countsRequests, maxTagSets: d.maxTagSets, info: { ...d.info } };
}
