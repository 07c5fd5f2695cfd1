/**
 * `redis` (node-redis 4 to 6, `@redis/client`). Commands return promises made
 * when the caller sends them, so their continuations already run as the
 * caller. What is left:
 * - `RedisClient#connect` runs outside any request: a client connected by a
 *   request (a pool growing on demand connects from inside `execute()`)
 *   would otherwise parse every later reply on its socket as that request;
 * - `RedisClientPool#execute` runs its task as the caller: a task that waited
 *   for a busy pool would otherwise be started by the request that returned a
 *   client, and its command sent, and its reply parsed, as that request.
 * Replies are parsed untagged: node-redis pipelines, so a chunk may hold
 * several requests' replies.
 */
import { wrapMethod } from './patch.js';
import { bindToCaller, outsideRequestsMethod } from './scope.js';

/** Patches `@redis/client/dist/lib/client/index.js`'s RedisClient class. */
export function bindNodeRedisClient(RedisClient: unknown): boolean {
  const proto = (RedisClient as { prototype?: object } | undefined)?.prototype;
  if (!proto) return false;
  return wrapMethod(proto, 'connect', outsideRequestsMethod);
}

/** Patches `@redis/client/dist/lib/client/pool.js`'s RedisClientPool class. */
export function bindNodeRedisPool(RedisClientPool: unknown): boolean {
  const proto = (RedisClientPool as { prototype?: object } | undefined)?.prototype;
  if (!proto) return false;
  return wrapMethod(proto, 'execute', (original) => function execute(this: unknown, fn: unknown, ...rest: unknown[]) {
    return original.call(this, bindToCaller(fn), ...rest);
  });
}
