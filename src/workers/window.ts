/**
 * The workers' CPU of one main-profiler window, and how it joins the main
 * thread's samples before the window is folded: worker tag sets become
 * entries of the raw window like the main thread's own, so values, samples
 * and percents count every profiled thread and processors still get one list.
 */
import type { SampledWindow } from '../engine/types.js';
import { keyOf, TagSet } from '../tags.js';

/** One tag set's CPU on one worker thread, summed over the reports of a window. */
export interface WorkerTotals {
  threadId: number;
  pairs: readonly string[];
  /** CPU ns as sampled (unscaled: the worker samples the whole cycle, gaps included). */
  cpuNanos: number;
  samples: number;
}

/** One thread's CPU in a delivery (`WindowInfo.workers.threads`). */
export interface ThreadCpu {
  /** `worker_threads.threadId`; 0 is the main thread. */
  threadId: number;
  /** CPU ns this thread's samples add up to (the main thread's scaled like `TagsProfile.value`). */
  cpu: number;
  samples: number;
  /** The thread's CPU ns as the runtime measured it over the same reports (`process.threadCpuUsage`); workers only, where the runtime has it. */
  measuredCpu?: number;
}

/** Worker threads' part of a delivery: per-thread totals and what the runtime measured beside them. */
export interface WorkersInfo {
  /** The main thread first, then each worker that reported in the window(s). */
  threads: ThreadCpu[];
  /** CPU ns sampled on worker threads (already included in `totalCpu` and the profiles). */
  sampledCpu: number;
  /**
   * The same workers' CPU ns as the runtime measured it (`process.threadCpuUsage`
   * in each worker, Node >= 22.23 / 24); undefined where any reporting worker's
   * runtime lacks it, so `sampledCpu / measuredCpu` is the coverage.
   */
  measuredCpu?: number;
  /** Worker partial windows lost (a worker terminated before it could report): their CPU is missing. */
  lostWindows: number;
  /** Workers whose sampler could not start: their CPU is not in the profiles. */
  unavailableWorkers: number;
}

/** What the hub hands the window loop at a window end. */
export interface WorkerWindow {
  entries: WorkerTotals[];
  threads: Map<number, { cpuNanos: number; samples: number; measuredNanos: number | undefined }>;
  lostWindows: number;
  unavailableWorkers: number;
}

/** Split-by-thread adds this tag to worker CPU. */
export const THREAD_TAG = 'reqprof_thread';

const tagSets = new Map<string, TagSet>();

function tagSetOf(pairs: readonly string[]): TagSet {
  const key = keyOf(pairs);
  let t = tagSets.get(key);
  if (t === undefined) {
    // Pairs come from another thread's TagSet: already validated and sorted.
    t = new TagSet(pairs);
    if (tagSets.size > 50_000) tagSets.clear();
    tagSets.set(key, t);
  }
  return t;
}

/**
 * Adds the workers' CPU into a raw window before it is folded. `scale` is the
 * fold's `(interval + window) / window`: worker CPU was sampled over the whole
 * cycle, so it enters divided by it and comes out of the fold as sampled.
 */
export function mergeWorkerWindow(raw: SampledWindow, w: WorkerWindow | undefined, scale: number): SampledWindow {
  if (w === undefined) return raw;
  let mainCpu = 0;
  for (const t of raw.totals.values()) mainCpu += t.cpuNanos;
  const threads: ThreadCpu[] = [{ threadId: 0, cpu: mainCpu * scale, samples: raw.samples }];
  let sampledCpu = 0;
  let measuredCpu: number | undefined = 0;
  for (const [threadId, t] of w.threads) {
    const c: ThreadCpu = { threadId, cpu: t.cpuNanos, samples: t.samples };
    if (t.measuredNanos !== undefined) c.measuredCpu = t.measuredNanos;
    threads.push(c);
    sampledCpu += t.cpuNanos;
    raw.samples += t.samples;
    measuredCpu = t.measuredNanos === undefined || measuredCpu === undefined ? undefined : measuredCpu + t.measuredNanos;
  }
  for (const e of w.entries) {
    const tags = e.pairs.length === 0 ? undefined : tagSetOf(e.pairs);
    let t = raw.totals.get(tags);
    if (t === undefined) {
      t = { tags, cpuNanos: 0, samples: 0 };
      raw.totals.set(tags, t);
    }
    t.cpuNanos += e.cpuNanos / scale;
    t.samples += e.samples;
  }
  const info: WorkersInfo = { threads, sampledCpu, lostWindows: w.lostWindows, unavailableWorkers: w.unavailableWorkers };
  if (measuredCpu !== undefined && w.threads.size > 0) info.measuredCpu = measuredCpu;
  raw.workers = info;
  return raw;
}

/** Two deliveries' worker parts summed (windows merged while a processor was busy). */
export function mergeWorkersInfo(a: WorkersInfo | undefined, b: WorkersInfo | undefined): WorkersInfo | undefined {
  if (a === undefined || b === undefined) return a ?? b;
  const byId = new Map<number, ThreadCpu>();
  for (const t of [...a.threads, ...b.threads]) {
    const s = byId.get(t.threadId);
    if (s === undefined) {
      byId.set(t.threadId, { ...t });
      continue;
    }
    s.cpu += t.cpu;
    s.samples += t.samples;
    s.measuredCpu = s.measuredCpu === undefined || t.measuredCpu === undefined ? undefined : s.measuredCpu + t.measuredCpu;
    if (s.measuredCpu === undefined) delete s.measuredCpu;
  }
  const out: WorkersInfo = {
    threads: [...byId.values()],
    sampledCpu: a.sampledCpu + b.sampledCpu,
    lostWindows: a.lostWindows + b.lostWindows,
    unavailableWorkers: a.unavailableWorkers + b.unavailableWorkers,
  };
  // A delivery without worker threads measured nothing to miss.
  const am = a.threads.length > 1 ? a.measuredCpu : 0;
  const bm = b.threads.length > 1 ? b.measuredCpu : 0;
  if (am !== undefined && bm !== undefined && out.threads.length > 1) out.measuredCpu = am + bm;
  return out;
}
