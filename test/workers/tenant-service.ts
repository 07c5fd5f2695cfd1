/**
 * An HTTP service whose tenants send CPU work to worker threads: tenants of a
 * skewed mix, each request spinning a known amount on the main thread and
 * sending tasks of known cost to a piscina pool or to plain Workers. Imports
 * the built package (`npm run build` first): worker threads load compiled code.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { Piscina as Piscina4 } from 'piscina4';
import { newProfiler, tag } from '../../dist/esm/index.js';
import type { Profiler, TagsProfile, WindowInfo } from '../../dist/esm/index.js';
import { instrumentPiscina, onTaggedMessage, postWithTags, profileWorkers, THREAD_TAG } from '../../dist/esm/workers/index.js';
import { calibrate, hasThreadCpu, timedSpin, spin } from './fixtures/spin.mjs';

export const fixture = (name: string): URL => new URL(`./fixtures/${name}`, import.meta.url);

/** Main-thread iterations per request and task iterations per request, per tenant (skewed both ways). */
export const TENANTS: Record<string, { weight: number; main: number; tasks: number[] }> = {
  a: { weight: 6, main: 150, tasks: [500, 500] },
  b: { weight: 3, main: 300, tasks: [1500] },
  c: { weight: 1, main: 750, tasks: [1000, 1000, 1000] },
};

export type Backend = 'piscina' | 'piscina4' | 'worker';

/** Something that runs `iterations` of spin in a worker and resolves with the CPU ns it cost there. */
export interface TaskRunner {
  run(iterations: number): Promise<{ cpuNs: number; threadId: number }>;
  threads(): Worker[];
  close(): Promise<void>;
}

export function piscinaRunner(version: 'piscina' | 'piscina4', threads: number, nsPerIteration: number): TaskRunner & { pool: Piscina } {
  const P = (version === 'piscina' ? Piscina : Piscina4) as unknown as typeof Piscina;
  // Idle workers must keep their event loop running to answer a window end (see instrumentPiscina).
  const atomics = version === 'piscina' ? { atomics: 'async' } : { useAtomics: false };
  const pool = instrumentPiscina(new P({ filename: fixture('piscina-task.mjs').href, minThreads: threads, maxThreads: threads, idleTimeout: 60_000, ...atomics } as never));
  return {
    pool,
    run: (iterations) => pool.run({ iterations, nsPerIteration }) as Promise<{ cpuNs: number; threadId: number }>,
    threads: () => [...pool.threads],
    close: () => pool.destroy(),
  };
}

export function workerRunner(threads: number, nsPerIteration: number): TaskRunner {
  const workers = Array.from({ length: threads }, () => new Worker(fixture('plain-worker.mjs'), { workerData: { nsPerIteration } }));
  const replies = new Map<number, (m: { cpuNs: number; thread: number }) => void>();
  for (const w of workers) {
    w.on('message', (m: { id: number; cpuNs: number; thread: number }) => {
      const r = replies.get(m.id);
      replies.delete(m.id);
      r?.(m);
    });
    w.on('error', () => {});
  }
  let next = 0;
  return {
    run: (iterations) => new Promise((resolve) => {
      const id = ++next;
      replies.set(id, (m) => resolve({ cpuNs: m.cpuNs, threadId: m.thread }));
      postWithTags(workers[id % workers.length]!, { id, iterations });
    }),
    threads: () => workers,
    close: async () => {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

export { onTaggedMessage };

/** Ground truth per tenant, ns. */
export class Truth {
  readonly main = new Map<string, number>();
  readonly worker = new Map<string, number>();
  add(m: Map<string, number>, k: string, ns: number): void {
    m.set(k, (m.get(k) ?? 0) + ns);
  }
}

export interface ServiceRun {
  truth: Truth;
  windows: Array<{ profiles: TagsProfile[]; window: WindowInfo }>;
  nsPerIteration: number;
}

/** Collects what processors receive. */
export function recorder(): { windows: ServiceRun['windows']; processor: (p: TagsProfile[], w: WindowInfo) => void } {
  const windows: ServiceRun['windows'] = [];
  return { windows, processor: (profiles, window) => void windows.push({ profiles, window }) };
}

/**
 * Runs the service: warms the workers up before the profiler starts (tasks
 * before start run unprofiled), then sends `requests` requests (tenants in
 * their mix, 3 at a time), then stops the profiler (which ends and delivers
 * the one window: windows are never counted by the clock).
 */
export async function runService(backend: Backend, opts: { threads?: number; requests?: number; splitByThread?: boolean } = {}): Promise<ServiceRun> {
  const threads = opts.threads ?? 3;
  const requests = opts.requests ?? 120;
  const nsPerIteration = calibrate();
  const runner = backend === 'worker' ? workerRunner(threads, nsPerIteration) : piscinaRunner(backend, threads, nsPerIteration);
  // Warm up every worker (JIT) before the profiler runs: these tasks carry no tags and are not profiled.
  await Promise.all(Array.from({ length: threads * 2 }, () => runner.run(2000)));
  spin(2000);

  const truth = new Truth();
  const server = createServer((req, res) => {
    const tenant = new URL(req.url ?? '/', 'http://x').searchParams.get('tenant') ?? '';
    const t = TENANTS[tenant]!;
    tag({ tenant }, async () => {
      truth.add(truth.main, tenant, timedSpin(t.main, nsPerIteration));
      const done = await Promise.all(t.tasks.map((it) => runner.run(it)));
      for (const d of done) truth.add(truth.worker, tenant, d.cpuNs);
      res.end('ok');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;

  const rec = recorder();
  const profiler: Profiler = newProfiler(rec.processor, 0, 120_000, { samplingIntervalMicros: 1000 });
  profileWorkers({ splitByThread: opts.splitByThread ?? true });
  void profiler.run();
  try {
    const mix = Object.entries(TENANTS).flatMap(([k, t]) => Array.from({ length: t.weight }, () => k));
    let sent = 0;
    const client = async (): Promise<void> => {
      while (sent < requests) {
        const tenant = mix[sent++ % mix.length]!;
        const r = await fetch(`http://127.0.0.1:${port}/?tenant=${tenant}`);
        await r.text();
      }
    };
    await Promise.all([client(), client(), client()]);
  } finally {
    await profiler.stop();
    await closeServer(server);
    await runner.close();
  }
  return { truth, windows: rec.windows, nsPerIteration };
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
}

/** Per tenant: main-thread and worker CPU as the profiles say (split by thread), and their samples. */
export function measured(windows: ServiceRun['windows']): { main: Map<string, number>; worker: Map<string, number>; samples: number; workerUntagged: number; workerTotal: number } {
  const main = new Map<string, number>();
  const worker = new Map<string, number>();
  let samples = 0;
  let workerUntagged = 0;
  let workerTotal = 0;
  for (const { profiles } of windows) {
    for (const p of profiles) {
      const o: Record<string, string> = {};
      for (let i = 0; i < p.tags.length; i += 2) o[p.tags[i]!] = p.tags[i + 1]!;
      const onWorker = o[THREAD_TAG] !== undefined;
      if (onWorker) workerTotal += p.value;
      if (o.tenant === undefined) {
        if (onWorker) workerUntagged += p.value;
        continue;
      }
      samples += p.samples;
      const m = onWorker ? worker : main;
      m.set(o.tenant, (m.get(o.tenant) ?? 0) + p.value);
    }
  }
  return { main, worker, samples, workerUntagged, workerTotal };
}

export { hasThreadCpu };
