import { AsyncLocalStorage } from 'node:async_hooks';
import { TagSet, mergeTags, type TagsInput } from './tags.js';

/**
 * The process-wide request tag context. It knows nothing about sampling: the
 * engine that is running (if any) registers a bridge and is told whenever the
 * current tag set changes synchronously; asynchronous propagation is the
 * engine's job (CPED or an async_hooks `before` hook).
 */
export const tagStorage = new AsyncLocalStorage<TagSet>();

/** How a running engine keeps the sampler's context in step with `tagStorage`. */
export interface SamplerBridge {
  /** Runs `fn` (already inside `tagStorage.run(tags)`) with the sampler's context set to `tags`. */
  run<R>(tags: TagSet | undefined, previous: TagSet | undefined, fn: () => R): R;
  /** The current context became `tags` synchronously (`enterWith`), right after the storage changed. */
  enter(tags: TagSet | undefined): void;
}

let bridge: SamplerBridge | undefined;

/** @internal the engine installs itself while the sampler runs. */
export function setSamplerBridge(b: SamplerBridge | undefined): void {
  bridge = b;
}

/** The tag set of the current async context, if any. */
export function currentTags(): TagSet | undefined {
  return tagStorage.getStore();
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
  const previous = tagStorage.getStore();
  const next = mergeTags(previous, tags);
  if (fn === undefined) {
    tagStorage.enterWith(next);
    bridge?.enter(next);
    return;
  }
  if (typeof fn !== 'function') {
    throw new TypeError(`reqprof: tag(tags, fn): fn must be a function, got ${typeof fn}`);
  }
  return runWithTags(next, fn);
}

/** Runs `fn` with exactly `tags` (or none) as the context, without merging. */
export function runWithTags<R>(tags: TagSet | undefined, fn: () => R): R {
  const b = bridge;
  if (b === undefined) return tags === undefined ? tagStorage.exit(fn) : tagStorage.run(tags, fn);
  const previous = tagStorage.getStore();
  const inner = (): R => b.run(tags, previous, fn);
  return tags === undefined ? tagStorage.exit(inner) : tagStorage.run(tags, inner);
}

/** Clears the tags of the current async context (what follows runs untagged). */
export function untag(): void {
  if (tagStorage.getStore() === undefined) return;
  tagStorage.enterWith(undefined as unknown as TagSet);
  bridge?.enter(undefined);
}

/** The value of tag `key` in the current context, or `undefined`. */
export function lookup(key: string): string | undefined {
  return tagStorage.getStore()?.get(key);
}

/** All tags of the current context as a plain object (empty outside any context). */
export function currentTagsObject(): Record<string, string> {
  return tagStorage.getStore()?.toObject() ?? Object.create(null);
}
