import type { EngineMode, FunctionTotals, SampledWindow } from './engine/types.js';
import { effectiveSampleCount, type SampleWeights } from './share-interval.js';
import type { HotFunction, TagsProfile, WindowEndReason, WindowInfo } from './types.js';
import { mergeWorkersInfo } from './workers/window.js'; // [reqprof/workers seam]
import { OVERFLOW_KEY, OVERFLOW_TAGS } from './tags.js';

/** Kept here too: the tag set of the `maxTagSets` cap is the aggregation's to explain. */
export { OVERFLOW_KEY, OVERFLOW_TAGS } from './tags.js';

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

/** Stage 3 of a window, summed: one or more windows summed per tag-set key, scaled and capped, ready to become `TagsProfile[]`. */
export interface SummedWindow {
  groups: Map<string, Group>;
  /** Tag sets other than the untagged one, held to `maxTagSets`. */
  taggedGroups: number;
  /** Whether finished requests were counted (then every profile carries `requests`). */
  countsRequests: boolean;
  maxTagSets: number;
  /** The JS thread's busy samples and their scaled CPU's sum and sum of squares, for `info.effectiveSamples`. */
  weights: SampleWeights;
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

/**
 * The multiplier that makes a window stand for its whole cycle: a full window
 * followed by an `interval` gap with the sampler off is scaled by
 * `(interval + window) / window`; a window ended by `pause`, `stop` or exit is
 * followed by no gap (or by one nobody asked to cover), so it is not scaled.
 */
export function windowScale(s: Pick<FoldSettings, 'intervalMs' | 'windowMs'>, reason: WindowEndReason): number {
  return reason === 'window' && s.intervalMs > 0 ? (s.intervalMs + s.windowMs) / s.windowMs : 1;
}

/** Sums a raw window per key (several TagSet objects share a key), scales, and caps cardinality. */
export function sumAndCapWindow(raw: SampledWindow, s: FoldSettings, reason: WindowEndReason): SummedWindow {
  const scale = windowScale(s, reason);
  const bw = raw.busyWeights;
  // Scaled like the CPU, so that merged windows of different scales weigh right.
  const weights: SampleWeights = bw === undefined ? { samples: 0, sum: 0, squares: 0 } : { samples: bw.samples, sum: bw.sum * scale, squares: bw.squares * scale * scale };
  const data: SummedWindow = { groups: new Map(), taggedGroups: 0, countsRequests: raw.requests !== undefined, maxTagSets: s.maxTagSets, weights, info: undefined! };
  let busySamples = 0;
  // Past the cap, the keys to keep are chosen first, on CPU per key, so that the
  // folded tag sets (possibly tens of thousands) never get a group of their own.
  const kept = raw.totals.size > s.maxTagSets ? keysToKeep(raw, s.maxTagSets) : undefined;
  for (const t of raw.totals.values()) {
    let key = t.tags === undefined ? '' : t.tags.key;
    let tags = t.tags === undefined ? EMPTY : t.tags.pairs;
    if (kept !== undefined && key !== '' && !kept.keys.has(key)) {
      key = OVERFLOW_KEY;
      tags = OVERFLOW_TAGS;
    }
    const g = groupOf(data, key, tags);
    g.value += t.cpuNanos * scale;
    g.samples += t.samples;
    busySamples += t.samples;
    if (t.functions !== undefined) {
      for (const [fk, f] of t.functions) {
        const loc = s.mapLocation ? s.mapLocation(f) : f;
        addFunction(g, fk, loc.name || f.name, loc.file ?? f.file, loc.line ?? f.line, f.cpuNanos * scale);
      }
    }
  }
  let overflowTagSets = kept?.folded ?? 0;
  if (raw.requests !== undefined) {
    for (const [key, r] of raw.requests.byKey) {
      let g = data.groups.get(key);
      if (g === undefined) {
        // A tag set whose CPU was folded has its requests folded with it; one with no CPU takes a free row, if any.
        const wasFolded = kept !== undefined && kept.seen.has(key);
        const fits = !wasFolded && (key === '' || key === OVERFLOW_KEY || data.taggedGroups < data.maxTagSets);
        if (!fits && !wasFolded) overflowTagSets++;
        g = fits ? groupOf(data, key, r.tags) : groupOf(data, OVERFLOW_KEY, OVERFLOW_TAGS);
      }
      g.requests = (g.requests ?? 0) + r.requests;
    }
    if (raw.requests.overflow > 0) {
      const g = groupOf(data, OVERFLOW_KEY, OVERFLOW_TAGS);
      g.requests = (g.requests ?? 0) + raw.requests.overflow;
    }
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
      busySamples,
      effectiveSamples: effectiveSampleCount(busySamples, weights),
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

function addFunction(g: Group, key: string, name: string, file: string, line: number, value: number): void {
  g.functions ??= new Map();
  const f = g.functions.get(key);
  if (f === undefined) g.functions.set(key, { name, file, line, value });
  else f.value += value;
}

/** The group of `key`, created empty if new (uncapped: `capTagSets` applies the cap once all are in). */
function groupOf(d: SummedWindow, key: string, tags: readonly string[]): Group {
  let g = d.groups.get(key);
  if (g === undefined) {
    g = { tags, value: 0, samples: 0 };
    d.groups.set(key, g);
    if (key !== '' && key !== OVERFLOW_KEY) d.taggedGroups++;
  }
  return g;
}

/**
 * Of `count` keys with their CPU, the `max` with the most; among equal CPU at
 * the edge, keys in code-unit order, so the choice never depends on the order
 * tag sets were seen. The edge is found with one native numeric sort of the
 * values (no comparator: this runs once per window, unoptimized, over
 * possibly tens of thousands of tag sets).
 */
function largest(entries: () => Iterable<[string, number]>, count: number, max: number): Set<string> {
  const values = new Float64Array(count);
  let i = 0;
  for (const [, v] of entries()) values[i++] = v;
  values.sort();
  const edge = values[count - max]!;
  let above = 0;
  for (let j = count - max; j < count; j++) if (values[j]! > edge) above++;
  const keep = new Set<string>();
  const ties: string[] = [];
  for (const [k, v] of entries()) {
    if (v > edge) keep.add(k);
    else if (v === edge) ties.push(k);
  }
  ties.sort();
  for (let j = 0; j < max - above && j < ties.length; j++) keep.add(ties[j]!);
  return keep;
}

/** The tagged keys of a raw window that keep their rows under the cap, the keys seen, and how many fold. */
function keysToKeep(raw: SampledWindow, max: number): { keys: Set<string>; seen: Map<string, number>; folded: number } | undefined {
  const seen = new Map<string, number>();
  for (const t of raw.totals.values()) {
    if (t.tags === undefined) continue;
    const k = t.tags.key;
    if (k !== OVERFLOW_KEY) seen.set(k, (seen.get(k) ?? 0) + t.cpuNanos);
  }
  if (seen.size <= max) return undefined;
  return { keys: largest(() => seen, seen.size, max), seen, folded: seen.size - max };
}

/**
 * Holds already summed tagged groups to `maxTagSets` (after a merge): the ones
 * with the most CPU keep their rows, the rest fold into `reqprof_overflow=true`
 * (CPU, samples, requests and functions alike). Returns how many folded.
 */
function capTagSets(d: SummedWindow): number {
  if (d.taggedGroups <= d.maxTagSets) return 0;
  function* tagged(): Iterable<[string, number]> {
    for (const [key, g] of d.groups) if (key !== '' && key !== OVERFLOW_KEY) yield [key, g.value];
  }
  const keep = largest(tagged, d.taggedGroups, d.maxTagSets);
  const overflow = groupOf(d, OVERFLOW_KEY, OVERFLOW_TAGS);
  let folded = 0;
  for (const [key, g] of d.groups) {
    if (key === '' || key === OVERFLOW_KEY || keep.has(key)) continue;
    overflow.value += g.value;
    overflow.samples += g.samples;
    if (g.requests !== undefined) overflow.requests = (overflow.requests ?? 0) + g.requests;
    if (g.functions) for (const [fk, f] of g.functions) addFunction(overflow, fk, f.name, f.file, f.line, f.value);
    d.groups.delete(key);
    folded++;
  }
  d.taggedGroups = d.maxTagSets;
  return folded;
}

/**
 * Adds `later` into `into` (both already folded): values and samples summed,
 * the span widened, and the cap applied again to the sum, so the tag sets
 * with the most CPU over the merged windows keep their rows.
 */
export function mergeSummedWindows(into: SummedWindow, later: SummedWindow): SummedWindow {
  into.countsRequests ||= later.countsRequests;
  for (const [key, g] of later.groups) {
    const r = groupOf(into, key, g.tags);
    r.value += g.value;
    r.samples += g.samples;
    if (g.requests !== undefined) r.requests = (r.requests ?? 0) + g.requests;
    if (g.functions) for (const [fk, f] of g.functions) addFunction(r, fk, f.name, f.file, f.line, f.value);
  }
  const overflowed = capTagSets(into);
  const a = into.info;
  const b = later.info;
  const weights: SampleWeights = {
    samples: into.weights.samples + later.weights.samples,
    sum: into.weights.sum + later.weights.sum,
    squares: into.weights.squares + later.weights.squares,
  };
  into.weights = weights;
  into.info = {
    ...b,
    start: Math.min(a.start, b.start),
    end: Math.max(a.end, b.end),
    nonJsThreadsCpu: a.nonJsThreadsCpu + b.nonJsThreadsCpu,
    samples: a.samples + b.samples,
    busySamples: a.busySamples + b.busySamples,
    effectiveSamples: effectiveSampleCount(a.busySamples + b.busySamples, weights),
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
export function toProfiles(data: SummedWindow, topFunctions = 0): { profiles: TagsProfile[]; window: WindowInfo } {
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
export function cloneSummedWindow(d: SummedWindow): SummedWindow {
  const groups = new Map<string, Group>();
  for (const [k, g] of d.groups) {
    const copy: Group = { tags: g.tags, value: g.value, samples: g.samples };
    if (g.requests !== undefined) copy.requests = g.requests;
    if (g.functions) copy.functions = new Map([...g.functions].map(([fk, f]) => [fk, { ...f }]));
    groups.set(k, copy);
  }
  return { groups, taggedGroups: d.taggedGroups, countsRequests: d.countsRequests, maxTagSets: d.maxTagSets, weights: { ...d.weights }, info: { ...d.info } };
}
