import { AsyncLocalStorage } from 'node:async_hooks';
import type { SamplerBridge } from '../context.js';
import { OVERFLOW_TAGS } from '../aggregate.js';
import { TagSet } from '../tags.js';
import { SamplerBase, asTagSet } from './sampler.js';

/** Stands for every tag set past the per-window cap; aggregation folds the same ones anyway. */
const OVERFLOW = new TagSet(OVERFLOW_TAGS);

/**
 * Node >= 24 (or 22 with --experimental-async-context-frame): the tag set rides
 * V8's continuation-preserved embedder data. `tag()` runs its function in a fresh
 * AsyncContextFrame; writing the sampler's context into that frame makes every
 * continuation created inside carry it, with no per-await cost.
 */
export class CpedEngine extends SamplerBase {
  readonly mode = 'cped' as const;
  /** The frame key the native sampler reads; one per engine, never reused by another native instance. */
  #key = new AsyncLocalStorage<object | undefined>();
  /**
   * Native context holders by tag key, for the current window. A holder is a
   * native object with a weak handle: making one costs far more than a lookup,
   * and many of them (a user id in a tag: one per request) flood the old
   * generation with garbage only a full GC frees, at a few µs each. So at most
   * `maxTagSets` distinct tag sets get a holder per window, the same cap the
   * aggregation applies; the rest share one overflow holder, which is where
   * their CPU would have been folded anyway. `lookup()` is unaffected: the
   * real tags stay in the tag context.
   */
  #holders = new Map<string, object>();
  #holdersOf: object | undefined;
  #overflowHolder: object | undefined;
  #overflowed = 0;
  readonly #maxTagSets: number;

  constructor(samplingIntervalMicros: number, maxTagSets: number) {
    super(samplingIntervalMicros);
    this.#maxTagSets = maxTagSets;
  }

  protected useCPED(): boolean {
    return true;
  }

  protected cpedKey(): object {
    return this.#key;
  }

  /** The holder the native sampler reads for `tags`, made by the current native instance. */
  #holder(tags: TagSet | undefined): object | undefined {
    const native = this.native;
    if (tags === undefined || native === undefined) return undefined;
    if (this.#holdersOf !== native) {
      // Holders belong to the native instance that made them.
      this.#holders.clear();
      this.#overflowHolder = undefined;
      this.#holdersOf = native;
    }
    const key = tags.key;
    let h = this.#holders.get(key);
    if (h === undefined) {
      if (this.#holders.size >= this.#maxTagSets) {
        this.#overflowed++;
        return (this.#overflowHolder ??= native.createContextHolder(OVERFLOW));
      }
      h = native.createContextHolder(tags);
      this.#holders.set(key, h);
    }
    return h;
  }

  /** A new window: tag sets get holders afresh (in-flight requests keep theirs). */
  protected onWindow(): number {
    this.#holders.clear();
    const overflowed = this.#overflowed;
    this.#overflowed = 0;
    return overflowed;
  }

  protected bridge(): SamplerBridge {
    const key = this.#key;
    return {
      // A second frame entry beside tagStorage's, holding what the sampler reads;
      // leaving run() restores the previous frame and with it the sampler context.
      run: <R>(tags: TagSet | undefined, _previous: TagSet | undefined, fn: () => R): R => key.run(this.#holder(tags), fn),
      enter: (tags: TagSet | undefined) => key.enterWith(this.#holder(tags)),
    };
  }

  protected resolve(context: unknown): TagSet | undefined {
    return asTagSet(context);
  }
}
