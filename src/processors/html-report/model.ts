import { OVERFLOW_KEY } from '../../tags.js';
import { shareMargin } from '../../share-interval.js';
import type { HotFunction, TagsProfile, WindowInfo } from '../../types.js';
import type { FlameForest, FlameOptions } from './flame.js';

/** Everything the page shows, embedded in it as JSON. */
export interface ReportModel {
  title: string;
  generatedAt: number;
  mode: string;
  samplingIntervalMicros: number;
  windowMs: number;
  latest: LatestWindow;
  history: ChartHistory;
  flame: FlameView | null;
}

export interface Row {
  key: string;
  tags: string[];
  percent: number;
  /** Half-width of the 95% interval of `percent`: `shareMargin(p, N)` = 1.96·√(p(1−p)/N), N = the window's effective samples. */
  error: number;
  cpuMs: number;
  samples: number;
  /** Finished requests with this tag set and CPU ms per request, when an integration counts requests. */
  requests?: number;
  cpuPerRequestMs?: number;
  /** Functions with the most self CPU within the tag set. */
  hot: Array<{ name: string; file: string; line: number; percent: number }>;
}

export interface LatestWindow {
  start: number;
  end: number;
  durationMs: number;
  samples: number;
  /** Samples that ran code. */
  busySamples: number;
  /** Their effective count (Kish, from the samples' CPU): the N of every row's ± (see share-interval.ts). */
  effectiveSamples: number;
  totalCpuMs: number;
  untaggedCpuMs: number;
  nonJsThreadsCpuMs: number;
  windows: number;
  reason: string;
  overflowTagSets: number;
  rows: Row[];
  /** The tag sets beyond `maxTagSets`, summed into one line. */
  more: { tagSets: number; percent: number; cpuMs: number; samples: number } | null;
}

export interface Series {
  key: string;
  tags: string[];
  kind: 'tagged' | 'untagged' | 'other';
}

export interface ChartHistory {
  series: Series[];
  /** One entry per window, oldest first: CPU share (0..1) per series, by index. */
  windows: Array<{ start: number; end: number; samples: number; shares: number[] }>;
}

export interface FlameView extends FlameForest {
  /** The all-CPU tree's key. */
  allKey: string;
}

/** The key of the tree that sums every tag set (no tag-set key can equal it: keys hold `=`). */
export const ALL_KEY = '*';
/** The key of the chart series that sums the tag sets outside the top ones. */
export const OTHER_KEY = '\u0000other';

interface HistoryEntry {
  start: number;
  end: number;
  samples: number;
  /** Share per key: the window's top tag sets only, the rest summed under OTHER_KEY. */
  shares: Map<string, number>;
  /** CPU ns per key, for picking the chart's series. */
  values: Map<string, number>;
}

export interface ModelLimits {
  historyWindows: number;
  maxTagSets: number;
  chartSeries: number;
  maxFlameNodes: number;
  hotFunctions: number;
}

/** The last windows' shares, bounded in windows and in tag sets per window. */
export class ReportHistory {
  readonly #entries: HistoryEntry[] = [];
  readonly #tags = new Map<string, string[]>();

  constructor(readonly limits: ModelLimits) {}

  add(profiles: TagsProfile[], window: WindowInfo): void {
    const shares = new Map<string, number>();
    const values = new Map<string, number>();
    profiles.forEach((p, i) => {
      // profiles come largest first: keep the top ones, sum the rest.
      const k = i < this.limits.maxTagSets || p.key === '' ? p.key : OTHER_KEY;
      shares.set(k, (shares.get(k) ?? 0) + p.percent);
      values.set(k, (values.get(k) ?? 0) + p.value);
      if (k === p.key) this.#tags.set(p.key, p.tags);
    });
    this.#entries.push({ start: window.start, end: window.end, samples: window.samples, shares, values });
    if (this.#entries.length > this.limits.historyWindows) this.#entries.splice(0, this.#entries.length - this.limits.historyWindows);
    this.#forgetUnusedTags();
  }

  #forgetUnusedTags(): void {
    const used = new Set<string>();
    for (const e of this.#entries) for (const k of e.shares.keys()) used.add(k);
    for (const k of this.#tags.keys()) if (!used.has(k)) this.#tags.delete(k);
  }

  /** The chart: the `chartSeries` tag sets with the most CPU over the history, untagged, and the rest as one. */
  chart(): ChartHistory {
    const totals = new Map<string, number>();
    for (const e of this.#entries) for (const [k, v] of e.values) if (k !== '' && k !== OTHER_KEY) totals.set(k, (totals.get(k) ?? 0) + v);
    const top = [...totals].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, this.limits.chartSeries).map(([k]) => k);
    const series: Series[] = top.map((key) => ({ key, tags: this.#tags.get(key) ?? [], kind: 'tagged' }));
    const index = new Map(top.map((k, i) => [k, i]));
    const hasUntagged = this.#entries.some((e) => e.shares.has(''));
    const hasOther = this.#entries.some((e) => [...e.shares.keys()].some((k) => k !== '' && !index.has(k)));
    if (hasOther) series.push({ key: OTHER_KEY, tags: [], kind: 'other' });
    if (hasUntagged) series.push({ key: '', tags: [], kind: 'untagged' });
    const otherIdx = series.findIndex((s) => s.kind === 'other');
    const untaggedIdx = series.findIndex((s) => s.kind === 'untagged');
    const windows = this.#entries.map((e) => {
      const shares = new Array<number>(series.length).fill(0);
      for (const [k, v] of e.shares) {
        const i = k === '' ? untaggedIdx : index.get(k) ?? otherIdx;
        shares[i]! += v;
      }
      return { start: e.start, end: e.end, samples: e.samples, shares: shares.map(round4) };
    });
    return { series, windows };
  }
}

/** The latest window's table: the top `maxTagSets` rows, the rest summed. */
export function latestWindow(profiles: TagsProfile[], window: WindowInfo, limits: ModelLimits, flame: FlameView | null): LatestWindow {
  const hotFromFlame = new Map<string, Row['hot']>();
  if (flame) {
    for (const t of flame.trees) {
      hotFromFlame.set(t.key, t.hot.map(([f, us]) => {
        const [name, file, line] = flame.frames[f]!;
        return { name, file, line, percent: t.totalUs > 0 ? round4(us / t.totalUs) : 0 };
      }));
    }
  }
  const effectiveSamples = window.effectiveSamples ?? window.busySamples;
  const rows: Row[] = profiles.slice(0, limits.maxTagSets).map((p) => ({
    key: p.key,
    tags: p.tags,
    percent: round4(p.percent),
    error: round4(shareMargin(p.percent, effectiveSamples)),
    cpuMs: ms(p.value),
    samples: p.samples,
    ...(p.requests !== undefined ? { requests: p.requests, cpuPerRequestMs: p.requests > 0 ? round4(ms(p.value) / p.requests) : 0 } : {}),
    hot: p.topFunctions ? fromTopFunctions(p.topFunctions, limits.hotFunctions) : hotFromFlame.get(p.key) ?? [],
  }));
  const rest = profiles.slice(limits.maxTagSets);
  const more = rest.length === 0 ? null : {
    tagSets: rest.length,
    percent: round4(rest.reduce((s, p) => s + p.percent, 0)),
    cpuMs: ms(rest.reduce((s, p) => s + p.value, 0)),
    samples: rest.reduce((s, p) => s + p.samples, 0),
  };
  return {
    start: window.start,
    end: window.end,
    durationMs: window.durationMs,
    samples: window.samples,
    busySamples: window.busySamples,
    effectiveSamples: Math.round(effectiveSamples),
    totalCpuMs: ms(window.totalCpu),
    untaggedCpuMs: ms(window.untaggedCpu),
    nonJsThreadsCpuMs: ms(window.nonJsThreadsCpu),
    windows: window.windows,
    reason: window.reason,
    overflowTagSets: window.overflowTagSets,
    rows,
    more,
  };
}

function fromTopFunctions(list: HotFunction[], n: number): Row['hot'] {
  return list.slice(0, n).map((f) => ({ name: f.name, file: f.file, line: f.line, percent: round4(f.percent) }));
}

/**
 * What the flame builder needs: trees for the table's tag sets and for all CPU
 * together, within the node budget. Samples of a tag set that `maxTagSets` folded
 * into the overflow group have labels no row carries: they go to the overflow
 * tree, as their CPU went to its row.
 */
export function flameOptions(profiles: TagsProfile[], limits: ModelLimits): FlameOptions {
  const shown = new Set(profiles.slice(0, limits.maxTagSets).map((p) => p.key));
  const known = new Set(profiles.map((p) => p.key));
  const overflowShown = shown.has(OVERFLOW_KEY);
  // The node budget is shared: a quarter for all CPU, the rest evenly among the tag sets.
  const allNodes = Math.max(1, Math.floor(limits.maxFlameNodes / 4));
  const perTagSet = Math.max(1, Math.floor((limits.maxFlameNodes - allNodes) / Math.max(1, shown.size)));
  return {
    allKey: ALL_KEY,
    maxNodes: (key) => (key === ALL_KEY ? allNodes : perTagSet),
    hotFunctions: limits.hotFunctions,
    treeOf: (key) => (shown.has(key) ? key : overflowShown && !known.has(key) ? OVERFLOW_KEY : undefined),
  };
}

export function flameView(forest: FlameForest): FlameView {
  return { ...forest, allKey: ALL_KEY };
}

function ms(ns: number): number {
  return Math.round(ns / 1e4) / 100;
}

function round4(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}
