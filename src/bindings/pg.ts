/**
 * `pg` (node-postgres 8.x) and `pg-pool`.
 *
 * pg calls a query's callback from its socket's data handler, and a socket
 * keeps the async context it was created in: without this binding the
 * callback, and pg's parsing of every reply, run as whichever request opened
 * the connection. So:
 * - `Client#connect` runs outside any request: the socket, and all the work
 *   done in its handlers that nobody else claims, is untagged;
 * - each query's callback (and `Pool#connect`'s) runs in its caller's context;
 * - a data chunk is parsed as the request whose query is active: pg sends one
 *   query at a time and waits for its ReadyForQuery before the next, so every
 *   byte received while a query is active is that query's reply (pipeline
 *   mode sends several: its chunks stay untagged).
 */
import type { EventEmitter } from 'node:events';
import type { TagSet } from '../tags.js';
import { wrapMethod } from './patch.js';
import { UNBOUND, bindToCaller, currentTags, outsideRequests, runAs } from './scope.js';

interface PgQuery {
  callback?: unknown;
  submit?: unknown;
}

interface PgClient {
  connection?: object;
  pipeline?: boolean;
  _activeQuery?: PgQuery | null;
  _queryQueue?: PgQuery[];
}

/** The tags of the request that sent each query. */
const queryTags = new WeakMap<object, TagSet>();
/** The client that owns each pg `Connection`. */
const clientOf = new WeakMap<object, PgClient>();

/** Patches `pg/lib/client.js`'s Client class. */
export function bindPgClient(Client: unknown): boolean {
  const proto = (Client as { prototype?: object } | undefined)?.prototype;
  if (!proto) return false;
  const a = wrapMethod(proto, 'connect', (original) => function connect(this: PgClient, callback?: unknown) {
    if (this.connection) clientOf.set(this.connection, this);
    const bound = bindToCaller(callback);
    return outsideRequests(() => original.call(this, bound));
  });
  const b = wrapMethod(proto, 'query', (original) => function query(this: PgClient, config: unknown, values?: unknown, callback?: unknown) {
    if (typeof callback === 'function') callback = bindToCaller(callback);
    else if (typeof values === 'function') values = bindToCaller(values);
    else if (config !== null && typeof config === 'object' && typeof (config as PgQuery).callback === 'function') {
      // pg itself stores the callback on the config object; one reused for
      // another query still holds the callback bound for the last caller.
      const cb = (config as PgQuery).callback as { [UNBOUND]?: unknown };
      (config as PgQuery).callback = bindToCaller(cb[UNBOUND] ?? cb);
    }
    const tags = currentTags();
    const queue = this._queryQueue;
    if (tags === undefined || !Array.isArray(queue)) return original.call(this, config, values, callback);
    const queued = queue.length;
    const active = this._activeQuery;
    const result = original.call(this, config, values, callback);
    // The query just made is queued last, or was sent at once and is active.
    const made = queue.length > queued ? queue[queue.length - 1] : this._activeQuery !== active ? this._activeQuery : undefined;
    if (made) queryTags.set(made, tags);
    return result;
  });
  return a || b;
}

/** Patches `pg/lib/connection.js`'s Connection class: its socket's data is parsed as the active query's request. */
export function bindPgConnection(Connection: unknown): boolean {
  const proto = (Connection as { prototype?: object } | undefined)?.prototype;
  if (!proto) return false;
  return wrapMethod(proto, 'attachListeners', (original) => function attachListeners(this: object, stream: EventEmitter) {
    const connection = this;
    const before = stream.listeners('data');
    const result = original.call(this, stream);
    for (const listener of stream.listeners('data')) {
      if (before.includes(listener)) continue;
      stream.removeListener('data', listener as (...a: unknown[]) => void);
      stream.on('data', function parseAsActiveQuery(this: unknown, chunk: unknown) {
        const client = clientOf.get(connection);
        const active = client !== undefined && client.pipeline !== true ? client._activeQuery : undefined;
        const tags = active ? queryTags.get(active) : undefined;
        return runAs(tags, () => (listener as (c: unknown) => unknown).call(this, chunk));
      });
    }
    return result;
  });
}

/** Patches `pg-pool`'s Pool class: a waiter's callback runs as the waiter, not as the request that released a client. */
export function bindPgPool(Pool: unknown): boolean {
  const proto = (Pool as { prototype?: object } | undefined)?.prototype;
  if (!proto) return false;
  return wrapMethod(proto, 'connect', (original) => function connect(this: unknown, callback?: unknown) {
    return original.call(this, bindToCaller(callback));
  });
}
