import { createHook, type AsyncHook } from 'node:async_hooks';
import { currentTags, type SamplerBridge } from '../context.js';
import type { TagSet } from '../tags.js';
import { sampleCountIndex } from './native.js';
import { SamplerBase, asTagSet } from './sampler.js';

/** The object the sampler records per sample; `ref` is swapped while no sample has seen it. */
interface Holder {
  ref: TagSet | undefined;
}

/**
 * Node 20 and Node 22 without AsyncContextFrame: the sampler reads one
 * process-global context, so an async_hooks `before` hook copies the current
 * AsyncLocalStorage store into it each time an async callback starts.
 *
 * The hook body is kept to a property write: the native context is a mutable
 * holder, replaced by a fresh one (a native call) only once the sampler has
 * taken a sample since the last replacement, since a recorded sample must
 * keep the tag set it saw.
 */
export class HooksEngine extends SamplerBase {
  readonly mode = 'async-hooks' as const;
  #holder: Holder = { ref: undefined };
  #lastCount = -1;
  #state: { [k: number]: number } | undefined;
  #kSampleCount = 0;
  #hook: AsyncHook | undefined;

  protected useCPED(): boolean {
    return false;
  }

  protected onStarted(): void {
    const native = this.native!;
    this.#state = native.state;
    this.#kSampleCount = sampleCountIndex();
    this.#holder = { ref: currentTags() };
    this.#lastCount = this.#state[this.#kSampleCount]!;
    native.context = this.#holder;
    const update = this.#update;
    this.#hook = createHook({ before: () => update(currentTags()) });
    this.#hook.enable();
  }

  /**
   * The addon zeroes the sample counter each time it (re)starts sampling, at
   * every window: a count equal to the one the holder was made at no longer
   * means no sample has seen it. The next change of tags takes a fresh holder.
   */
  protected onWindow(): number {
    this.#lastCount = -1;
    return 0;
  }

  protected onStopping(): void {
    this.#hook?.disable();
    this.#hook = undefined;
  }

  #update = (tags: TagSet | undefined): void => {
    const holder = this.#holder;
    if (holder.ref === tags) return;
    const count = this.#state![this.#kSampleCount]!;
    if (count === this.#lastCount) {
      holder.ref = tags;
      return;
    }
    this.#lastCount = count;
    this.#holder = { ref: tags };
    this.native!.context = this.#holder;
  };

  protected bridge(): SamplerBridge {
    const update = this.#update;
    return {
      kind: 'notify',
      run<R>(tags: TagSet | undefined, previous: TagSet | undefined, fn: () => R): R {
        update(tags);
        try {
          return fn();
        } finally {
          // No async hook fires when a synchronous run() returns.
          update(previous);
        }
      },
      enter: update,
    };
  }

  protected resolve(context: unknown): TagSet | undefined {
    return asTagSet((context as Holder | undefined)?.ref);
  }
}
