/**
 * `ioredis` (5.x, 6.x). Commands already settle in their caller's context:
 * a command's promise is made, and its callback attached, when the caller
 * sends it. What is left:
 * - the connection: with `lazyConnect`, or after `disconnect()`, the first
 *   command connects, and the socket would keep that request's tags for its
 *   whole life. `Redis#connect` runs outside any request;
 * - the replies: ioredis pipelines, and a chunk can hold several requests'
 *   replies, but replies come back in the order the commands were sent. So
 *   once a reply is handled, the rest of the chunk is parsed as the request
 *   of the next command waiting: each reply that is parsed whole after
 *   another in the same chunk is billed to its own request. The part of a
 *   reply parsed before the first reply of a chunk completes stays untagged
 *   on the CPED engine (Node >= 24) and goes to the waiting command's request
 *   on the async-hooks engine (the socket keeps the last context set on it,
 *   which is always that of the head of the queue). Subscriber and monitor
 *   connections are left untagged.
 * A `Cluster` is a set of Redis clients, one per node: the same holds there.
 */
import { tag, untag } from '../context.js';
import type { TagSet } from '../tags.js';
import { wrapMethod } from './patch.js';
import { currentTags, outsideRequestsMethod } from './scope.js';

interface Queued {
  command?: object;
}

interface DataHandlerLike {
  redis?: {
    commandQueue?: { peekFront?(): Queued | undefined };
    condition?: { subscriber?: unknown } | null;
  };
}

/** The tags of the request that sent each command. */
const commandTags = new WeakMap<object, TagSet>();

/** Patches the Redis class (`ioredis/built/Redis.js`'s default export). */
export function bindIoredis(Redis: unknown): boolean {
  const proto = (Redis as { prototype?: object } | undefined)?.prototype;
  if (!proto) return false;
  return bindClient(proto);
}

/** A client class (Redis, Cluster): it connects outside requests and remembers each command's caller. */
function bindClient(proto: object): boolean {
  const a = wrapMethod(proto, 'connect', outsideRequestsMethod);
  const b = wrapMethod(proto, 'sendCommand', rememberCaller);
  return a || b;
}

/**
 * A `sendCommand` that remembers the caller's tags with the command. The
 * first caller wins: a command sent again (a cluster's redirection, an
 * offline queue flushed, a resend after reconnecting) keeps its request.
 */
function rememberCaller(original: (this: unknown, ...args: unknown[]) => unknown) {
  return function sendCommand(this: unknown, command: unknown, ...rest: unknown[]) {
    if (command !== null && typeof command === 'object' && !commandTags.has(command)) {
      const tags = currentTags();
      if (tags !== undefined) commandTags.set(command, tags);
    }
    return original.call(this, command, ...rest);
  };
}

/**
 * Patches the Cluster class (`ioredis/built/cluster/index.js`'s default
 * export): it connects outside requests (its slot refreshes and timers are
 * then untagged; each node is a Redis, bound above), and remembers a
 * command's caller before it may wait in the cluster's offline queue.
 */
export function bindIoredisCluster(Cluster: unknown): boolean {
  const proto = (Cluster as { prototype?: object } | undefined)?.prototype;
  if (!proto) return false;
  return bindClient(proto);
}

/** After a reply is handled, the rest of the chunk runs as the next waiting command's request. */
function asNextCommand(handler: DataHandlerLike): void {
  const redis = handler.redis;
  if (!redis || redis.condition?.subscriber) return;
  const next = redis.commandQueue?.peekFront?.()?.command;
  const tags = next ? commandTags.get(next) : undefined;
  if (tags === currentTags()) return;
  untag();
  if (tags !== undefined) tag(tags.pairs);
}

/** Patches `ioredis/built/DataHandler.js`'s DataHandler class. */
export function bindIoredisReplies(DataHandler: unknown): boolean {
  const proto = (DataHandler as { prototype?: object } | undefined)?.prototype;
  if (!proto) return false;
  let any = false;
  for (const name of ['returnReply', 'returnError']) {
    any = wrapMethod(proto, name, (original) => function handled(this: DataHandlerLike, ...args: unknown[]) {
      try {
        return original.apply(this, args);
      } finally {
        asNextCommand(this);
      }
    }) || any;
  }
  return any;
}
