/**
 * Finds client connections shared between requests: a socket opened while
 * one request's tags were current, later written to by a different request.
 * Such a socket's own handlers (its data events, and whatever the library
 * does in them) keep running as the request that opened it, so part of the
 * second request's work is billed to the first. The finding is certain (the
 * socket was opened under tags A and is used under tags B that do not extend
 * A); how much CPU it moves depends on the library, which may rebind some of
 * its work per reply (Node's own HTTP client does for its callbacks). Each
 * library is reported once, by the package name found on the writing stack.
 *
 * Opt-in: it puts a check (a property read and a comparison) on every socket
 * write. Sockets opened outside requests, as `bindDrivers()` opens them, are
 * never reported.
 */
import net from 'node:net';
import { Writable } from 'node:stream';
import type { TagSet } from '../tags.js';
import { currentTags } from './scope.js';

export interface SharedConnectionFinding {
  /** The npm package that wrote to the socket (`pg`, `@redis/client`...), or `(unknown)`. */
  library: string;
  /** The tag keys of the request that opened the socket, and of the one that used it (values left out). */
  openedUnder: string[];
  usedUnder: string[];
  message: string;
}

export interface SharedConnectionOptions {
  /** Called once per library; by default a process warning (code `REQPROF_SHARED_CONNECTION`). */
  onFinding?: (finding: SharedConnectionFinding) => void;
}

const OPENED_UNDER = Symbol('reqprof.openedUnder');
type Tracked = net.Socket & { [OPENED_UNDER]?: TagSet | null };

let installed: { restore(): void } | undefined;

/** Whether `tags` is `base` or `base` with more tags (the same request, nested). */
function extendsTags(tags: TagSet, base: TagSet): boolean {
  const p = base.pairs;
  for (let i = 0; i < p.length; i += 2) if (tags.get(p[i]!) !== p[i + 1]) return false;
  return true;
}

/** The package name of the first stack frame under node_modules, outside reqprof (Node's own undici: the built-in fetch). */
function libraryOnStack(): string {
  const stack = new Error().stack ?? '';
  for (const line of stack.split('\n').slice(1)) {
    if (line.includes('node:internal/deps/undici/')) return 'fetch (Node\'s built-in undici)';
    const m = /[\\/]node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)[\\/]/.exec(line.slice(line.lastIndexOf('node_modules') - 1));
    if (m && !m[1]!.startsWith('reqprof')) return m[1]!.replace('\\', '/');
  }
  return '(unknown)';
}

/**
 * Starts watching client sockets for use by more than one request. Returns
 * a function that stops watching. Idempotent.
 */
export function detectSharedConnections(options: SharedConnectionOptions = {}): () => void {
  if (installed) return installed.restore;
  const report = options.onFinding ?? ((f: SharedConnectionFinding) => process.emitWarning(f.message, { code: 'REQPROF_SHARED_CONNECTION' }));
  const reported = new Set<string>();
  const seen = new WeakSet<net.Socket>();
  const proto = net.Socket.prototype as unknown as Record<string, unknown>;
  const connect = proto.connect as (...a: unknown[]) => unknown;
  const hadWrite = Object.prototype.hasOwnProperty.call(proto, 'write');
  const write = (proto.write ?? Writable.prototype.write) as (...a: unknown[]) => boolean;
  proto.connect = function (this: Tracked, ...args: unknown[]) {
    this[OPENED_UNDER] = currentTags() ?? null;
    return connect.apply(this, args);
  };
  proto.write = function (this: Tracked, ...args: unknown[]) {
    const opened = this[OPENED_UNDER];
    if (opened) {
      const now = currentTags();
      if (now !== undefined && now !== opened && !extendsTags(now, opened) && !seen.has(this)) {
        seen.add(this);
        const library = libraryOnStack();
        if (!reported.has(library)) {
          reported.add(library);
          const openedUnder = opened.pairs.filter((_, i) => i % 2 === 0);
          const usedUnder = now.pairs.filter((_, i) => i % 2 === 0);
          report({
            library, openedUnder, usedUnder,
            message: `reqprof: ${library} shares a connection between requests: a socket opened under one request's tags (${openedUnder.join(', ')}) is used by another (${usedUnder.join(', ')}), so work done in the socket's handlers is billed to the request that opened it. Open the connections outside requests (bindDrivers() does it for the drivers it knows; see docs/drivers.md).`,
          });
        }
      }
    }
    return write.apply(this, args);
  };
  installed = {
    restore() {
      proto.connect = connect;
      if (hadWrite) proto.write = write;
      else delete proto.write;
      installed = undefined;
    },
  };
  return installed.restore;
}
