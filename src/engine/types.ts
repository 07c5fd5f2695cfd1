import type { Profile } from 'pprof-format';
import type { SampleWeights } from '../share-interval.js';
import type { TagSet } from '../tags.js';
import type { RequestCounts } from '../request-counter.js';
import type { WorkersInfo } from '../workers/window.js';

/** How the current tag set reaches the native sampler. */
export type EngineMode = 'cped' | 'async-hooks';

/** Self CPU of one function (leaf frame) within one tag set. */
export interface FunctionTotals {
  name: string;
  file: string;
  line: number;
  column: number;
  cpuNanos: number;
}

/** CPU recorded for one tag set during one window, before scaling. */
export interface TagSetTotals {
  tags: TagSet | undefined;
  cpuNanos: number;
  /** Samples that ran this tag set's code (idle samples whose CPU tail it got are not counted). */
  samples: number;
  /** Per leaf function, only when asked for (`CollectWants.functions`). */
  functions?: Map<string, FunctionTotals>;
}

/** What the window loop needs beyond per-tag CPU; each costs event-loop time at window end. */
export interface CollectWants {
  /** Keep the serialized pprof profile with every sample labelled with its tags. */
  profile: boolean;
  /** Sum self CPU per leaf function per tag set. */
  functions: boolean;
}

/** Stage 2 of a window, sampled: what one stopped sampler window holds, summed per tag set object. */
export interface SampledWindow {
  /** Wall-clock start and end of the window (ms since the epoch). */
  start: number;
  end: number;
  /** Per distinct TagSet object (several objects may share a key: aggregation folds them). */
  totals: Map<TagSet | undefined, TagSetTotals>;
  /** CPU of threads other than the JS thread (GC helpers, libuv pool, compiler) in ns. */
  nonJsThreadsCpuNanos: number;
  /** Samples in the window, idle ones included. */
  samples: number;
  /** The JS thread's busy samples and the sum and sum of squares of their CPU (ns): the effective sample count. */
  busyWeights?: SampleWeights;
  /** The labelled pprof profile, when `CollectWants.profile`. */
  profile?: Profile;
  /** Tagged contexts the engine itself folded into the overflow tag set (past `maxTagSets`). */
  overflowedContexts?: number;
  /** Requests finished per tag set while this window was open, when integrations count them. */
  requests?: RequestCounts;
  /** [reqprof/workers seam] worker threads' part, when worker profiling is on (their CPU is already in `totals`). */
  workers?: WorkersInfo;
}

/** Stage 1 of a window, summing: a stopped window whose samples the engine sums a step at a time. */
export interface SummingWindow {
  /** Sums until done or until `performance.now()` passes `deadline`; true once done. */
  step(deadline: number): boolean;
  /** Sums what is left, serializes the pprof profile if asked, and returns the window. */
  finish(): SampledWindow;
}

export interface SamplerEngine {
  readonly mode: EngineMode;
  readonly started: boolean;
  /** Starts sampling; `maxWindowMillis` sizes the native context buffer. */
  start(maxWindowMillis: number, sourceMapper?: unknown): void;
  /**
   * Stops the current window (with `restart` the next one starts first) and
   * returns its samples, to be summed in slices (`step`) or at once (`finish`, at exit).
   */
  stop(restart: boolean, wants?: CollectWants): SummingWindow;
  /** Stops sampling without collecting (used on failures and exit). */
  abort(): void;
}
