import { AsyncLocalStorage } from 'node:async_hooks';
import type { SamplerBridge } from '../context.js';
import type { TagSet } from '../tags.js';
import { SamplerBase, asTagSet } from './sampler.js';

/**
 * Node >= 24 (or 22 with --experimental-async-context-frame): the tag set rides
 * V8's continuation-preserved embedder data. `tag()` runs its function in a fresh
 * AsyncContextFrame; writing the sampler's context into that frame makes every
 * continuation created inside carry it, with no per-await cost.
 */
export class CpedEngine extends SamplerBase {
  readonly mode = 'cped' as const;
  /** The frame key the native sampler reads; one per native instance, never reused. */
  #key = new AsyncLocalStorage<unknown>();

  protected useCPED(): boolean {
    return true;
  }

  protected cpedKey(): object {
    return this.#key;
  }

  protected bridge(): SamplerBridge {
    return {
      // The frame is the one tagStorage.run/enterWith just created, so this
      // never mutates a frame that other continuations share.
      enter: (tags: TagSet | undefined) => {
        const n = this.native;
        if (n !== undefined) n.context = tags;
      },
      // Leaving run() restores the previous frame, and with it the sampler context.
      exit: () => {},
    };
  }

  protected resolve(context: unknown): TagSet | undefined {
    return asTagSet(context);
  }
}
