/**
 * `generic-pool` (3.x). A pool calls `factory.create()` from inside whichever
 * `acquire()` found it short of resources, so the resource (a client and its
 * socket) would keep that request's context for the pool's whole life. The
 * pool's resource creation runs outside any request. Waiters need nothing
 * more: `acquire()` returns a promise, and its continuation runs as its caller.
 */
import { wrapMethod } from './patch.js';
import { outsideRequestsMethod } from './scope.js';

/** Patches `generic-pool/lib/Pool.js`'s Pool class. */
export function bindGenericPool(Pool: unknown): boolean {
  const proto = (Pool as { prototype?: object } | undefined)?.prototype;
  if (!proto) return false;
  return wrapMethod(proto, '_createResource', outsideRequestsMethod);
}
