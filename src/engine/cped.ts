import { AsyncLocalStorage } from 'node:async_hooks';
import type { SamplerBridge } from '../context.js';
import type { TagSet } from '../tags.js';
import { SamplerBase, asTagSet } from './sampler.js';

const MAX_CACHED_HOLDERS = 4096;

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
  /** Native context holders by tag key: creating one costs far more than a lookup, and requests repeat tag sets. */
  #holders = new Map<string, object>();
  #holdersOf: object | undefined;

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
      this.#holdersOf = native;
    }
    const key = tags.key;
    let h = this.#holders.get(key);
    if (h === undefined) {
      if (this.#holders.size >= MAX_CACHED_HOLDERS) this.#holders.clear();
      h = native.createContextHolder(tags);
      this.#holders.set(key, h);
    }
    return h;
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
