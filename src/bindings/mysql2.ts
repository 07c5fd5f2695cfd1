/**
 * `mysql2` (3.x; callback and promise APIs, connections and pools).
 *
 * mysql2 runs one command at a time per connection, in order: the packets
 * that arrive while a command is current are that command's reply. So:
 * - each command (query, execute, ping...) remembers its caller's tags when
 *   it is added, and its result callback runs in its caller's context (the
 *   promise API resolves from that callback);
 * - each packet is handled as the current command's request: row parsing,
 *   the callback, and the start of the next queued command, which then runs
 *   as its own request. Only the socket's framing of bytes into packets stays
 *   untagged;
 * - `Pool#getConnection` runs outside any request (a new pooled connection
 *   connects in its constructor, whoever asked first) and calls back in its
 *   caller's context, also when the caller waited for a busy pool.
 */
import type { TagSet } from '../tags.js';
import { wrapMethod } from './patch.js';
import { bindToCaller, currentTags, outsideRequests, runAs } from './scope.js';

interface Command {
  onResult?: unknown;
}

/** The tags of the request that added each command. */
const commandTags = new WeakMap<object, TagSet>();

/** Patches the connection class (`mysql2/lib/base/connection.js`; `lib/connection.js` before 3.10). */
export function bindMysql2Connection(Connection: unknown): boolean {
  const proto = (Connection as { prototype?: object } | undefined)?.prototype;
  if (!proto) return false;
  const a = wrapMethod(proto, 'addCommand', (original) => function addCommand(this: unknown, cmd: Command) {
    if (cmd !== null && typeof cmd === 'object') {
      const tags = currentTags();
      if (tags !== undefined) commandTags.set(cmd, tags);
      if (typeof cmd.onResult === 'function') cmd.onResult = bindToCaller(cmd.onResult);
    }
    return original.call(this, cmd);
  });
  const b = wrapMethod(proto, 'handlePacket', (original) => function handlePacket(this: { _command?: Command | null }, ...args: unknown[]) {
    const command = this._command;
    const tags = command ? commandTags.get(command) : undefined;
    return runAs(tags, () => original.apply(this, args));
  });
  return a || b;
}

/** Patches the pool class (`mysql2/lib/base/pool.js`; `lib/pool.js` before 3.10). */
export function bindMysql2Pool(Pool: unknown): boolean {
  const proto = (Pool as { prototype?: object } | undefined)?.prototype;
  if (!proto) return false;
  return wrapMethod(proto, 'getConnection', (original) => function getConnection(this: unknown, callback?: unknown) {
    const bound = bindToCaller(callback);
    return outsideRequests(() => original.call(this, bound));
  });
}
