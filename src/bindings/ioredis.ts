/**
 * `ioredis` (4.x to 6.x). Commands already settle in their caller's context:
 * a command's promise is made, and its callback attached, when the caller
 * sends it. What is left is the connection: with `lazyConnect`, or after
 * `disconnect()`, the first command connects, and the socket would keep that
 * request's tags for its whole life, billing every reply parsed on it to that
 * request. `Redis#connect` therefore runs outside any request. Replies are
 * parsed untagged: ioredis pipelines, so one chunk can hold the replies of
 * several requests and there is no sound owner to bill it to.
 */
import { wrapMethod } from './patch.js';
import { outsideRequests } from './scope.js';

/** Patches the Redis class (`require('ioredis')`, or `ioredis/built/Redis.js`'s default export). */
export function bindIoredis(Redis: unknown): boolean {
  const proto = (Redis as { prototype?: object } | undefined)?.prototype;
  if (!proto) return false;
  return wrapMethod(proto, 'connect', (original) => function connect(this: unknown, ...args: unknown[]) {
    return outsideRequests(() => original.apply(this, args));
  });
}
