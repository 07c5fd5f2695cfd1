import type { Profile } from 'pprof-format';
import type { EngineMode } from './engine/types.js';
import type { WorkersInfo } from './workers/window.js';

/** One function's self CPU within a tag set (the `topFunctions` option). */
export interface HotFunction {
  /** Function name as V8 reports it (`(anonymous)` when it has none). */
  name: string;
  /** Script URL or path (after source mapping when `sourceMaps` is on); '' for runtime frames. */
  file: string;
  /** 1-based line of the function's start, 0 when unknown. */
  line: number;
  /** Scaled self CPU ns of this function within the tag set. */
  value: number;
  /** `value` over the tag set's value. */
  percent: number;
}

/** CPU of one tag set over one window (or several merged windows). */
export interface TagsProfile {
  /** `k=v` pairs sorted by key and joined by `|`, with `\`, `|`, `=` escaped; `''` for untagged CPU. */
  key: string;
  /** Flat `[k1, v1, k2, v2]`, one entry per key, sorted by key; `[]` for untagged CPU. */
  tags: string[];
  /** CPU nanoseconds, times `WindowInfo.scale` (a full window followed by an interval gap stands for its whole cycle). */
  value: number;
  /** `value` over the total of all tag sets, untagged included: the list sums to 1. */
  percent: number;
  /**
   * Samples that ran this tag set's code. Idle samples whose CPU tail went to
   * this tag set are not counted. The ± of `percent` comes from the window's
   * samples, not these: 95% interval `percent ± 1.96·√(p(1−p)/N)` with
   * `N = WindowInfo.effectiveSamples` (`shareMargin(percent, window.effectiveSamples)`).
   */
  samples: number;
  /** The top functions by self CPU within this tag set, when the profiler's `topFunctions` option is set. */
  topFunctions?: HotFunction[];
  /**
   * Requests that finished with this tag set while the window was open (not in a
   * pause or interval gap), when a server integration counts them: `value / requests`
   * is the CPU per request. A tag set can have requests and no samples (cheap requests).
   */
  requests?: number;
}

/** Why a window ended. */
export type WindowEndReason = 'window' | 'pause' | 'stop' | 'exit';

/** What a processor is told about the window(s) behind a list of profiles. */
export interface WindowInfo {
  /** When the (first) window started and the (last) one ended, in ms since the epoch. */
  start: number;
  end: number;
  /** `end - start` in ms. */
  durationMs: number;
  /** The profiler's configured gap between windows and window length, in ms. */
  intervalMs: number;
  windowMs: number;
  /**
   * The multiplier applied to raw CPU: `(interval + window) / window` for a
   * window that ran its full length and is followed by an interval gap (the
   * sampler off), so that it stands for the whole cycle; 1 for a window ended
   * by `pause`, `stop` or exit (no gap follows) and whenever `interval` is 0.
   * Merged windows are each scaled by their own; this is the last one's.
   */
  scale: number;
  samplingIntervalMicros: number;
  /** Scaled CPU ns of all tag sets, untagged included (the denominator of `percent`). */
  totalCpu: number;
  /** Scaled CPU ns with no tags. */
  untaggedCpu: number;
  /** Scaled CPU ns of threads other than the JS thread (GC helpers, libuv pool); not in `totalCpu`. */
  nonJsThreadsCpu: number;
  /** Samples in the window(s), idle ones included. */
  samples: number;
  /**
   * Samples taken while the JS thread ran code (idle ones left out): the sum of
   * the profiles' `samples`, and the N of every share's 95% interval,
   * `±1.96·√(p(1−p)/N)` (see `shareMargin`) when every sample carries about
   * the same CPU; see `effectiveSamples`.
   */
  busySamples: number;
  /**
   * Kish's effective sample count of the busy samples, `(Σw)²/Σw²` with `w`
   * each sample's CPU: `busySamples` when every sample carries the same CPU,
   * fewer when some carry several sampling periods (a sampler thread starved
   * on a loaded machine). The N of every share's 95% interval:
   * `shareMargin(percent, window.effectiveSamples)`. Always set by reqprof;
   * optional only so that hand-made `WindowInfo` objects (tests) stay valid:
   * fall back to `busySamples`.
   */
  effectiveSamples?: number;
  /** How many sampler windows this delivery holds (> 1 when windows were merged while a processor was busy). */
  windows: number;
  /**
   * How much was folded into the overflow tag set because of `maxTagSets`: tag
   * sets folded at aggregation (the ones with the least CPU in the window; the
   * `maxTagSets` with the most keep their rows), plus, on the CPED path, tagged
   * contexts that were refused a native holder because the window's holder
   * budget was spent (see docs/statistics.md: holders are costly to create and
   * collect, so the CPED engine caps them per window).
   */
  overflowTagSets: number;
  /** Why the (last) window ended. */
  reason: WindowEndReason;
  /** How tags reached the sampler: `cped` (Node >= 24) or `async-hooks`. */
  mode: EngineMode;
  /**
   * The window's full pprof profile(s), one per sampler window in this delivery,
   * each sample labelled with its tags; present only when a processor declared
   * `needs: { profile: true }` (building them costs event-loop time at window end).
   * Sample types: `sample/count`, `wall/nanoseconds`, `cpu/nanoseconds`.
   */
  profiles?: Profile[];
  /**
   * [reqprof/workers seam] Worker threads' part, present in a window where a worker profiled with
   * `reqprof/workers` reported (or was lost): per-thread CPU (main thread first), the workers'
   * sampled and measured CPU, lost windows.
   * Their CPU is already counted in the profiles, `totalCpu` and `samples`.
   */
  workers?: WorkersInfo;
}

/** What a processor needs beyond per-tag totals; the window loop builds only what someone asked for. */
export interface ProcessorNeeds {
  /** A labelled pprof `Profile` per window in `window.profiles`. */
  profile?: boolean;
}

/**
 * Receives every window's profiles. May be async; a busy processor gets later
 * windows merged. A processor function may carry a `needs` property.
 */
export type Processor = ((profiles: TagsProfile[], window: WindowInfo) => void | Promise<void>) & {
  needs?: ProcessorNeeds;
};
