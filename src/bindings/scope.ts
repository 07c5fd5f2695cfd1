/**
 * The two moves every driver binding is made of: run connection set-up
 * outside any request (so the socket's handlers run untagged, never as the
 * request that happened to open it), and run a caller's callback in the
 * caller's own async context.
 */
import { AsyncResource } from 'node:async_hooks';
import { currentTags, enterTags, runWithTags, samplerBridge } from '../context.js';
import type { TagSet } from '../tags.js';

/**
 * An async context outside every request: made once, from an untagged
 * context. Running connection set-up in it leaves the connection none of the
 * opener's context, its tags or any other AsyncLocalStorage store. (Not
 * `AsyncLocalStorage#exit`: on Node 20 that disables and re-enables the
 * storage, and with it possibly the shared async hook, on every call: 1.7 to
 * 2.5 µs per call measured with the profiler on.)
 */
let outside: AsyncResource | undefined;

/** Runs `fn` outside any request: whatever it creates (sockets, timers) stays untagged. */
export function outsideRequests<R>(fn: () => R): R {
  outside ??= runWithTags(undefined, () => new AsyncResource('reqprof.outside-requests'));
  return runRestoringSampler(outside, fn, undefined);
}

/**
 * `resource.runInAsyncScope(fn)`. On the async_hooks engine the sampler
 * follows the `before` hook of each callback, and nothing tells it when a
 * scope entered synchronously (a pool handing a released client to the next
 * waiter from within the releasing request's callback) returns: so its
 * context is put back to the outer one afterwards.
 */
function runRestoringSampler<R>(resource: AsyncResource, fn: (...a: unknown[]) => R, thisArg: unknown, ...args: unknown[]): R {
  const bridge = samplerBridge();
  if (bridge?.kind !== 'notify') return resource.runInAsyncScope(fn, thisArg, ...args);
  const outer = currentTags();
  try {
    return resource.runInAsyncScope(fn, thisArg, ...args);
  } finally {
    bridge.enter(outer);
  }
}

/** A method wrapper (for `wrapMethod`) that runs the method outside any request: connection set-up. */
export function outsideRequestsMethod(original: (this: unknown, ...args: unknown[]) => unknown) {
  return function runOutsideRequests(this: unknown, ...args: unknown[]): unknown {
    return outsideRequests(() => original.apply(this, args));
  };
}

/** On a function `bindToCaller` returned: the function it binds. */
export const UNBOUND = Symbol('reqprof.unbound');

/** `fn` bound to the caller's whole async context (its tags and every other AsyncLocalStorage); other values as they are. */
export function bindToCaller<T>(fn: T): T {
  if (typeof fn !== 'function') return fn;
  const resource = new AsyncResource('reqprof.driver-callback');
  const f = fn as (...a: unknown[]) => unknown;
  const bound = function boundToCaller(this: unknown, ...args: unknown[]): unknown {
    return runRestoringSampler(resource, f, this, ...args);
  };
  Object.defineProperty(bound, UNBOUND, { value: f });
  return bound as T;
}

/** Runs `fn` with exactly `tags` (driver work known to belong to that request). */
export function runAs<R>(tags: TagSet | undefined, fn: () => R): R {
  return tags === undefined ? fn() : runWithTags(tags, fn);
}

/**
 * From here to the end of the current synchronous run, the driver's work is
 * `tags`' (or untagged): for work of the next request that starts inside a
 * callback run as the previous one (`runAs`), which restores the outer
 * context when it returns.
 */
export function switchTo(tags: TagSet | undefined): void {
  if (currentTags() !== tags) enterTags(tags);
}

export { currentTags };
