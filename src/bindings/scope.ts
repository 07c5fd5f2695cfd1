/**
 * The two moves every driver binding is made of: run connection set-up
 * outside any request (so the socket's handlers run untagged, never as the
 * request that happened to open it), and run a caller's callback in the
 * caller's own async context.
 */
import { AsyncResource } from 'node:async_hooks';
import { currentTags, runWithTags, samplerBridge } from '../context.js';
import type { TagSet } from '../tags.js';

/** Runs `fn` with no request tags: whatever it creates (sockets, timers) stays untagged. */
export function outsideRequests<R>(fn: () => R): R {
  return currentTags() === undefined ? fn() : runWithTags(undefined, fn);
}

/**
 * `fn` bound to the caller's whole async context (its tags and every other
 * AsyncLocalStorage); other values as they are.
 *
 * On the async_hooks engine the sampler follows the `before` hook of each
 * callback, and nothing tells it when a callback run synchronously inside
 * another one returns (a pool handing a released client to the next waiter
 * from within the releasing request's callback): so the sampler's context is
 * put back to the outer one when the bound function returns.
 */
export function bindToCaller<T>(fn: T): T {
  if (typeof fn !== 'function') return fn;
  const resource = new AsyncResource('reqprof.driver-callback');
  const f = fn as (...a: unknown[]) => unknown;
  return function boundToCaller(this: unknown, ...args: unknown[]): unknown {
    const bridge = samplerBridge();
    if (bridge?.kind !== 'notify') return resource.runInAsyncScope(f, this, ...args);
    const outer = currentTags();
    try {
      return resource.runInAsyncScope(f, this, ...args);
    } finally {
      bridge.enter(outer);
    }
  } as T;
}

/** Runs `fn` with exactly `tags` (driver work known to belong to that request). */
export function runAs<R>(tags: TagSet | undefined, fn: () => R): R {
  return tags === undefined ? fn() : runWithTags(tags, fn);
}

export { currentTags };
