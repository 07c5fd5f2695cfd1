/**
 * `reqprof/bindings`: makes database and HTTP client drivers deliver their
 * callbacks and replies in the right request's context. Nothing here runs
 * until `bindDrivers()` is called; importing reqprof changes no driver.
 *
 * Drivers are patched where their classes live, which covers CommonJS and ESM
 * apps alike: these drivers are CommonJS packages, and even when an ES module
 * imports them, their own files load each other with `require`. So a driver
 * already loaded is found in `require.cache`, and one loaded later is caught
 * by a `require` hook (require-in-the-middle).
 */
import { createRequire } from 'node:module';
import { join, sep } from 'node:path';
import { Hook } from 'require-in-the-middle';
import { optionTypeError } from '../errors.js';
import { bindBuiltinFetch } from './builtin-fetch.js';
import { bindGenericPool } from './generic-pool.js';
import { bindHttpAgents } from './http-agent.js';
import { bindIoredis, bindIoredisCluster, bindIoredisReplies } from './ioredis.js';
import { bindMysql2Connection, bindMysql2Pool } from './mysql2.js';
import { bindNodeRedisClient, bindNodeRedisPool } from './node-redis.js';
import { restoreAll } from './patch.js';
import { bindPgClient, bindPgConnection, bindPgPool } from './pg.js';
import { bindUndiciClient } from './undici.js';
import { bindUndiciReplies } from './undici-replies.js';

export { detectSharedConnections, type SharedConnectionFinding, type SharedConnectionOptions } from './shared-connections.js';

/** The drivers `bindDrivers()` knows. */
export type DriverName = 'pg' | 'mysql2' | 'ioredis' | 'redis' | 'generic-pool' | 'http' | 'undici' | 'fetch';

export const DRIVERS: readonly DriverName[] = ['pg', 'mysql2', 'ioredis', 'redis', 'generic-pool', 'http', 'undici', 'fetch'];

interface Target {
  driver: DriverName;
  /** The file that defines the class, as `package/path` under node_modules. */
  file: string;
  /** The package whose main module is this file, when it is one. */
  main?: string;
  bind(exports: unknown, filename: string): boolean;
}

const defaultExport = (e: unknown): unknown => (e as { default?: unknown } | undefined)?.default ?? e;

const TARGETS: Target[] = [
  { driver: 'pg', file: 'pg/lib/client.js', bind: bindPgClient },
  { driver: 'pg', file: 'pg/lib/connection.js', bind: bindPgConnection },
  { driver: 'pg', file: 'pg-pool/index.js', main: 'pg-pool', bind: bindPgPool },
  { driver: 'mysql2', file: 'mysql2/lib/base/connection.js', bind: bindMysql2Connection },
  { driver: 'mysql2', file: 'mysql2/lib/connection.js', bind: bindMysql2Connection },
  { driver: 'mysql2', file: 'mysql2/lib/base/pool.js', bind: bindMysql2Pool },
  { driver: 'mysql2', file: 'mysql2/lib/pool.js', bind: bindMysql2Pool },
  { driver: 'ioredis', file: 'ioredis/built/Redis.js', bind: (e) => bindIoredis(defaultExport(e)) },
  { driver: 'ioredis', file: 'ioredis/built/DataHandler.js', bind: (e) => bindIoredisReplies(defaultExport(e)) },
  { driver: 'ioredis', file: 'ioredis/built/cluster/index.js', bind: (e) => bindIoredisCluster(defaultExport(e)) },
  { driver: 'redis', file: '@redis/client/dist/lib/client/index.js', bind: (e) => bindNodeRedisClient(defaultExport(e)) },
  { driver: 'redis', file: '@redis/client/dist/lib/client/pool.js', bind: (e) => bindNodeRedisPool((e as { RedisClientPool?: unknown } | undefined)?.RedisClientPool) },
  { driver: 'undici', file: 'undici/lib/dispatcher/client.js', bind: bindUndiciClient },
  { driver: 'generic-pool', file: 'generic-pool/lib/Pool.js', bind: bindGenericPool },
];

export interface BindDriversOptions {
  /** Which drivers to bind; all that reqprof knows by default. */
  drivers?: readonly DriverName[];
}

export interface DriverBindings {
  /** The drivers asked for. */
  readonly drivers: readonly DriverName[];
  /** Files patched so far (`pg/lib/client.js`...): drivers loaded later appear when they load. */
  readonly patched: ReadonlySet<string>;
  /** Puts every driver back as it was and stops watching `require`. */
  unbind(): void;
}

let active: { bindings: DriverBindings; hook: Hook } | undefined;

/** `pg` for `pg/lib/client.js`, `@redis/client` for `@redis/client/dist/...`. */
function packageOf(file: string): string {
  const parts = file.split('/');
  return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

function asPosix(p: string): string {
  return sep === '/' ? p : p.split(sep).join('/');
}

/**
 * Binds the drivers' callbacks, replies and pooled connections to the
 * requests they belong to (see docs/drivers.md). Idempotent: a second call
 * returns the bindings already in place.
 */
export function bindDrivers(options: BindDriversOptions = {}): DriverBindings {
  if (options === null || typeof options !== 'object') {
    throw optionTypeError(`reqprof: bindDrivers(options): options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  const drivers = options.drivers ?? DRIVERS;
  if (!Array.isArray(drivers) || drivers.some((d) => !DRIVERS.includes(d))) {
    throw optionTypeError(`reqprof: bindDrivers({ drivers }): drivers must be an array of ${DRIVERS.map((d) => `'${d}'`).join(', ')}, got ${JSON.stringify(drivers)}`);
  }
  if (active) return active.bindings;
  const targets = TARGETS.filter((t) => drivers.includes(t.driver));
  const patched = new Set<string>();
  const apply = (t: Target, exports: unknown, filename: string): void => {
    if (t.bind(exports, filename)) patched.add(t.file);
  };
  // Core modules are always there.
  if (drivers.includes('http') && bindHttpAgents()) patched.add('node:http');
  // Node's built-in fetch (its own undici): through its global dispatcher.
  if (drivers.includes('fetch') && bindBuiltinFetch()) patched.add('globalThis.fetch');
  // Responses of both undici copies, through their diagnostics channels.
  if ((drivers.includes('fetch') || drivers.includes('undici')) && bindUndiciReplies()) patched.add('undici diagnostics channels');
  // Drivers loaded already (an ES module's imports are all loaded before its body runs).
  const cache = createRequire(import.meta.url).cache;
  for (const [filename, mod] of Object.entries(cache)) {
    const path = asPosix(filename);
    for (const t of targets) {
      if (path.endsWith(`/node_modules/${t.file}`) && mod?.loaded) apply(t, mod.exports, filename);
    }
  }
  // Drivers loaded from now on.
  const packages = [...new Set(targets.map((t) => packageOf(t.file)))];
  const hook = new Hook(packages, { internals: true }, (exports, name, basedir) => {
    const file = name.split(sep).join('/');
    for (const t of targets) {
      if (file === t.file || file === t.main) apply(t, exports, join(basedir ?? '', t.file.split('/').slice(packageOf(t.file).split('/').length).join(sep)));
    }
    return exports;
  });
  const bindings: DriverBindings = {
    drivers,
    patched,
    unbind() {
      if (active?.bindings !== bindings) return;
      hook.unhook();
      restoreAll();
      active = undefined;
    },
  };
  active = { bindings, hook };
  return bindings;
}
