import type { TagSet } from '../tags.js';

/** How the current tag set reaches the native sampler. */
export type EngineMode = 'cped' | 'async-hooks';

/** CPU recorded for one tag set during one window, before scaling. */
export interface TagSetTotals {
  tags: TagSet | undefined;
  cpuNanos: number;
  samples: number;
}

/** What one stopped sampler window holds, summed per tag set object. */
export interface RawWindow {
  /** Wall-clock start and end of the window (ms since the epoch). */
  start: number;
  end: number;
  /** Per distinct TagSet object (several objects may share a key: aggregation folds them). */
  totals: Map<TagSet | undefined, TagSetTotals>;
  /** CPU of threads other than the JS thread (GC helpers, libuv pool, compiler) in ns. */
  nonJsThreadsCpuNanos: number;
  /** Samples V8 reported that the engine could not attribute (no context buffer entry). */
  samples: number;
}

export interface SamplerEngine {
  readonly mode: EngineMode;
  readonly started: boolean;
  /** Starts sampling; `maxWindowMillis` sizes the native context buffer. */
  start(maxWindowMillis: number): void;
  /** Stops the current window and sums its samples; with `restart` the next window starts first. */
  collect(restart: boolean): RawWindow;
  /** Stops sampling without collecting (used on failures and exit). */
  abort(): void;
}
