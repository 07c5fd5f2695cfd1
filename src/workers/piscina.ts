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
  const statics = pool.constructor as unknown as { transferableSymbol?: symbol; valueSymbol?: symbol };
  const run = pool.run.bind(pool);
  pool.on('workerCreate', () => {
    for (const w of pool.threads) watchWorker(w);
  });
  if (pool.options.atomics === 'sync' || pool.options.useAtomics === true) {
    // Between tasks such a worker blocks in Atomics.wait: it cannot answer a window end until its next task.
    (options?.logger ?? getDefaultLogger()).warn({ atomics: pool.options.atomics ?? pool.options.useAtomics },
      "reqprof: this piscina pool's idle workers block in Atomics.wait, so they report their CPU only when their next task arrives (and lose what they hold when the pool is destroyed); create the pool with atomics: 'async' (piscina 5) or useAtomics: false (piscina 4)");
  }
  pool.run = (task: unknown, options: Record<string, unknown> = {}) => {
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
  };
  return pool;
}

function isObject(v: unknown): v is object {
  return (typeof v === 'object' && v !== null) || typeof v === 'function';
}
