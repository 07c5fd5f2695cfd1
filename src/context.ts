import { argumentTypeError } from './errors.js';
import { LateRouteTags } from './routes/late-route.js';
import { deriveTags } from './tag-cache.js';
import { isTagSet, sharedTagContext as shared } from './tag-context-registry.js';
import type { TagSet, TagsInput } from './tags.js';

/**
 * What the tag context holds for a tagged async context: the tag set itself,
 * or, while the CPED engine runs, the sampler's native holder for it (an
 * object whose element 0 is the tag set). With CPED the sampler reads the
 * holder straight from `tagStorage`'s entry in the AsyncContextFrame, so a
 * `tag()` costs one frame, not one for the tags and one for the sampler.
 */
export type TagStore = TagSet | { readonly 0: TagSet };

/**
 * The process-wide request tag context (`AsyncLocalStorage`), shared by every
 * compatible copy of reqprof loaded in this thread (see tag-context-registry.ts).
 */
export const tagStorage = shared.storage;

/**
 * Tag sets past the engine's per-window cap share one holder standing for
 * this tag set (their CPU is folded there anyway); their real tags, for
 * `lookup()`, ride a second storage.
 */
export const FOLDED_TAG_SET = shared.foldedTagSet;
const foldedTags = shared.folded;

/**
 * How a running engine keeps the sampler's context in step with `tagStorage`:
 * either by choosing what `tagStorage` holds (`wrap`, CPED), or by being told
 * of every synchronous change (`run` / `enter`, the async_hooks engine, whose
 * hook follows the asynchronous ones).
 */
export type SamplerBridge =
  | {
    readonly kind: 'store';
    /** What `tagStorage` holds for `tags`; a holder of `FOLDED_TAG_SET` when past the cap. */
    wrap(tags: TagSet): TagStore;
  }
  | {
    readonly kind: 'notify';
    /** Runs `fn` (already inside `tagStorage.run(tags)`) with the sampler's context set to `tags`. */
    run<R>(tags: TagSet | undefined, previous: TagSet | undefined, fn: () => R): R;
    /** The current context became `tags` synchronously (`enterWith`), right after the storage changed. */
    enter(tags: TagSet | undefined): void;
  };

/** @internal the engine installs itself while the sampler runs (whichever copy of reqprof runs it). */
export function setSamplerBridge(b: SamplerBridge | undefined): void {
  shared.bridge = b;
}

/** @internal the bridge installed now, if any. */
export function samplerBridge(): SamplerBridge | undefined {
  return shared.bridge;
}

/** @internal the engine that owns the thread's native sampler, across copies of reqprof. */
export const samplerOwnership = {
  get owner(): object | undefined {
    return shared.samplerOwner;
  },
  set owner(o: object | undefined) {
    shared.samplerOwner = o;
  },
};

export { isTagSet };

/** Whether `store` is the shared holder of tag sets past the cap (their own tags are in `foldedTags`). */
function isFolded(store: TagStore): boolean {
  return !isTagSet(store) && store[0] === FOLDED_TAG_SET;
}

/** The tag set a `tagStorage` value stands for. */
export function tagsOf(store: TagStore | undefined): TagSet | undefined {
  if (store === undefined || isTagSet(store)) return store;
  return isFolded(store) ? foldedTags.getStore() : store[0];
}

/** The tag set of the current async context, if any. */
export function currentTags(): TagSet | undefined {
  return tagsOf(tagStorage.getStore());
}

/**
 * Runs `fn` with `tags` added to the current context's tags (later values win
 * on a duplicate key); every `await`, timer, callback and emitter started inside
 * carries them. Returns what `fn` returns.
 *
 * Without `fn`, adds `tags` to the current async context itself (like
 * `AsyncLocalStorage.enterWith`): the rest of the current synchronous run and
 * everything it schedules carry them.
 */
export function tag<R>(tags: TagsInput, fn: () => R): R;
export function tag(tags: TagsInput): void;
export function tag<R>(tags: TagsInput, fn?: () => R): R | void {
  const current = currentTags();
  // Inside a request whose route is settled later, the added tags follow that route too.
  const next = current instanceof LateRouteTags ? current.derive(tags) : deriveTags(current, tags);
  if (fn === undefined) {
    enterTags(next);
    return;
  }
  if (typeof fn !== 'function') {
    throw argumentTypeError(`reqprof: tag(tags, fn): fn must be a function, got ${typeof fn}`);
  }
  return runWithTags(next, fn);
}

/** Runs `fn` with exactly `tags` (or none) as the context, without merging. */
export function runWithTags<R>(tags: TagSet | undefined, fn: () => R): R {
  const b = shared.bridge;
  if (b === undefined) return tags === undefined ? tagStorage.exit(fn) : tagStorage.run(tags, fn);
  if (b.kind === 'store') {
    if (tags === undefined) return tagStorage.exit(fn);
    const store = b.wrap(tags);
    return isFolded(store) ? tagStorage.run(store, () => foldedTags.run(tags, fn)) : tagStorage.run(store, fn);
  }
  const previous = currentTags();
  const inner = (): R => b.run(tags, previous, fn);
  return tags === undefined ? tagStorage.exit(inner) : tagStorage.run(tags, inner);
}

/** Makes `tags` (or none) the current async context's tags, like `AsyncLocalStorage.enterWith`. */
export function enterTags(tags: TagSet | undefined): void {
  const b = shared.bridge;
  if (tags === undefined) {
    tagStorage.enterWith(undefined as unknown as TagSet);
    if (b?.kind === 'notify') b.enter(undefined);
    return;
  }
  if (b?.kind === 'store') {
    const store = b.wrap(tags);
    tagStorage.enterWith(store);
    if (isFolded(store)) foldedTags.enterWith(tags);
    return;
  }
  tagStorage.enterWith(tags);
  b?.enter(tags);
}

/** Clears the tags of the current async context (what follows runs untagged). */
export function untag(): void {
  if (tagStorage.getStore() === undefined) return;
  enterTags(undefined);
}

/** The value of tag `key` in the current context, or `undefined`. */
export function lookup(key: string): string | undefined {
  return currentTags()?.get(key);
}

/** All tags of the current context as a plain object (empty outside any context). */
export function currentTagsObject(): Record<string, string> {
  return currentTags()?.toObject() ?? Object.create(null);
}
