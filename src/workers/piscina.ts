/**
 * piscina (v4 and v5): `pool.run(task)` from inside a tagged request runs the
 * task in the worker under the request's tags. The task is wrapped in an
 * envelope and run through a small handler of ours (`piscina-task.js`), which
 * loads the pool's own handler the way piscina does and calls it with the
 * original task: the handler sees the task unchanged, and its return value
 * goes back unchanged.
 */
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { optionTypeError } from '../errors.js';
import { getDefaultLogger, type Logger } from '../logger.js';
import { watchWorker } from './hub.js';
import { wrapWithTags } from './post.js';
import { isEnvelope } from './protocol.js';

/** What is used of a piscina pool. */
export interface PiscinaLike {
  run(task: unknown, options?: Record<string, unknown>): Promise<unknown>;
  readonly options: { filename?: string | null; name?: string | null; atomics?: string; useAtomics?: boolean };
  readonly threads: readonly Worker[];
  on(event: 'workerCreate', listener: (...args: unknown[]) => void): unknown;
}

/** Where our handler is, next to this file (compiled `.js`, or `.ts` when run from source). */
const TASK_FILE = fileURLToPath(new URL('./piscina-task' + (import.meta.url.endsWith('.ts') ? '.ts' : '.js'), import.meta.url));

const instrumented = new WeakSet<object>();
const adopted = new WeakSet<object>();
const patchedClasses = new WeakSet<object>();

/** Watches the pool's threads (their end must be noticed) and warns once about a pool that blocks in Atomics.wait. */
function adopt(pool: PiscinaLike, logger: Logger | undefined): void {
  if (adopted.has(pool)) return;
  adopted.add(pool);
  pool.on('workerCreate', () => {
    for (const w of pool.threads) watchWorker(w);
  });
  if (pool.options.atomics === 'sync' || pool.options.useAtomics === true) {
    // Between tasks such a worker blocks in Atomics.wait: it cannot answer a window end until its next task.
    (logger ?? getDefaultLogger()).warn({ atomics: pool.options.atomics ?? pool.options.useAtomics },
      "reqprof: this piscina pool's idle workers block in Atomics.wait, so they report their CPU only when their next task arrives (and lose what they hold when the pool is destroyed); create the pool with atomics: 'async' (piscina 5) or useAtomics: false (piscina 4)");
  }
}

type Run = (task: unknown, options: Record<string, unknown>) => Promise<unknown>;

/** `run(task, options)` with the task wrapped in an envelope of the caller's tags (when a profiler runs). */
function runTagged(pool: PiscinaLike, run: Run, task: unknown, options: Record<string, unknown>): Promise<unknown> {
  // Already wrapped (a pool instrumented both ways): once is enough.
  if (isEnvelope(task)) return run(task, options);
  const statics = pool.constructor as unknown as { transferableSymbol?: symbol; valueSymbol?: symbol };
  let payload = task;
  let transferList = options.transferList as unknown[] | undefined;
  // piscina unwraps a movable task (Piscina.move) only at the top level: unwrap it here, as it would.
  if (statics.transferableSymbol && statics.valueSymbol && isObject(task) && statics.transferableSymbol in task && statics.valueSymbol in task) {
    const t = task as Record<symbol, unknown>;
    transferList = [...(transferList ?? []), ...([] as unknown[]).concat(t[statics.transferableSymbol])];
    payload = t[statics.valueSymbol];
  }
  const env = wrapWithTags({ task: payload, filename: options.filename ?? pool.options.filename, name: options.name ?? pool.options.name ?? 'default' });
  if (env === undefined) return run(task, options);
  for (const w of pool.threads) watchWorker(w);
  const opts: Record<string, unknown> = { ...options, filename: TASK_FILE, name: 'default' };
  if (transferList !== undefined) opts.transferList = transferList;
  return run(env, opts);
}

/**
 * Makes `pool.run` carry the caller's tags to the worker. Returns the same pool.
 * While no profiler runs in this thread, `run` passes the task straight through.
 */
export function instrumentPiscina<P extends PiscinaLike>(pool: P, options?: { logger?: Logger }): P {
  if (pool === null || typeof pool !== 'object' || typeof pool.run !== 'function') {
    throw optionTypeError('reqprof: instrumentPiscina(pool): pool must be a piscina instance');
  }
  if (instrumented.has(pool)) return pool;
  instrumented.add(pool);
  adopt(pool, options?.logger);
  const run = pool.run.bind(pool) as Run;
  pool.run = (task: unknown, o: Record<string, unknown> = {}) => runTagged(pool, run, task, o);
  return pool;
}

/**
 * Instruments every pool of a piscina class, made before or after (for
 * `reqprof/register`, which sees the module load and no pool): patches
 * `Piscina.prototype.run`. Idempotent; a pool also passed to `instrumentPiscina` is wrapped once.
 */
export function instrumentPiscinaClass(PiscinaClass: unknown, options?: { logger?: Logger }): void {
  const C = PiscinaClass as ((...args: unknown[]) => unknown) & { prototype?: { run?: unknown } };
  if (typeof C !== 'function' || typeof C.prototype?.run !== 'function') {
    throw optionTypeError('reqprof: instrumentPiscinaClass(Piscina): expected the Piscina class (the module\'s Piscina export)');
  }
  if (patchedClasses.has(C)) return;
  patchedClasses.add(C);
  const proto = C.prototype as { run: Run };
  const original = proto.run;
  proto.run = function run(this: PiscinaLike, task: unknown, o: Record<string, unknown> = {}) {
    adopt(this, options?.logger);
    return runTagged(this, (t, oo) => original.call(this, t, oo), task, o);
  };
}

function isObject(v: unknown): v is object {
  return (typeof v === 'object' && v !== null) || typeof v === 'function';
}
