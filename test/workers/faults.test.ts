/**
 * What a user sees when worker threads start, end, crash or cannot be sampled
 * while the profiler runs: each window still arrives once, with what the
 * workers sampled; what is lost is counted and warned about once.
 * Windows are ended by pause() / stop(), never by the clock.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { newProfiler, tag } from '../../dist/esm/index.js';
import type { Profiler, TagsProfile, WindowInfo } from '../../dist/esm/index.js';
import { instrumentPiscina, postWithTags, profileWorkers, THREAD_TAG } from '../../dist/esm/workers/index.js';
import { MemoryLogger } from '../helpers/logger.js';
import { calibrate, hasThreadCpu } from './fixtures/spin.mjs';
import { fixture } from './tenant-service.js';

interface Reply { id: number; cpuNs: number; keys: string[]; rawWrapped: boolean; sampled: boolean; thread: number; via?: number }
type Windows = Array<{ profiles: TagsProfile[]; window: WindowInfo }>;

const nsPerIteration: number = calibrate();
let running: Profiler | undefined;
// A failed test must not leave its profiler running for the next one.
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

function start(logger?: MemoryLogger, samplingIntervalMicros = 1000): { profiler: Profiler; windows: Windows } {
  const windows: Windows = [];
  const profiler = newProfiler((profiles, window) => void windows.push({ profiles, window }), 0, 120_000, { samplingIntervalMicros });
  profileWorkers({ splitByThread: true, ...(logger ? { logger } : {}) });
  void profiler.run();
  running = profiler;
  return { profiler, windows };
}

function plainWorker(file = 'plain-worker.mjs'): Worker {
  const w = new Worker(fixture(file), { workerData: { nsPerIteration } });
  w.on('error', () => {});
  return w;
}

/** Resolves when the worker has ended (events.once would reject on its 'error'). */
function exited(w: Worker): Promise<void> {
  return new Promise((resolve) => w.once('exit', () => resolve()));
}

let nextId = 0;
/** Posts `msg` (with tags when `tenant` is given) and resolves with the worker's reply. */
function ask(w: Worker, tenant: string | undefined, msg: Record<string, unknown>): Promise<Reply> {
  const id = ++nextId;
  const reply = new Promise<Reply>((resolve) => {
    const on = (r: Reply): void => {
      if (r.id !== id) return;
      w.off('message', on);
      resolve(r);
    };
    w.on('message', on);
  });
  const send = (): void => postWithTags(w, { id, ...msg });
  if (tenant === undefined) send();
  else tag({ tenant }, send);
  return reply;
}

/** Worker CPU ns per tenant (and per thread) in the given windows. */
function workerCpu(windows: Windows, tenant: string, thread?: number): number {
  let v = 0;
  for (const { profiles } of windows) {
    for (const p of profiles) {
      const o: Record<string, string> = {};
      for (let i = 0; i < p.tags.length; i += 2) o[p.tags[i]!] = p.tags[i + 1]!;
      if (o[THREAD_TAG] === undefined || o.tenant !== tenant) continue;
      if (thread !== undefined && o[THREAD_TAG] !== String(thread)) continue;
      v += p.value;
    }
  }
  return v;
}

/**
 * Sampled CPU is compared to the spin's own CPU: within sampling error (2.5 standard errors of a count
 * of about truth / interval samples: 8 ms at 1 kHz is only 8 samples) and the work around the spin.
 * Node 20 cannot time a thread: its truth is iterations x a cost calibrated on optimized code, and a
 * fresh worker on a loaded 2-core machine may still run the loop unoptimized (measured 2-3x that
 * cost); there the check is only that the CPU arrived, with the right tags, not more than 3.5x.
 */
function near(measured: number, truth: number, label: string, intervalNs = 1e6): void {
  const r = measured / truth;
  const sampling = 2.5 / Math.sqrt(Math.max(truth / intervalNs, 1));
  assert.ok(r > 0.85 - sampling && r < (hasThreadCpu ? 1.3 : 3.5) + sampling,
    `${label}: measured ${(measured / 1e6).toFixed(1)} ms for ${(truth / 1e6).toFixed(1)} ms of truth (ratio ${r.toFixed(2)}, sampling allowance ±${sampling.toFixed(2)})`);
}

describe('worker threads under faults', () => {
  it('a message sent before the profiler starts or after it stops arrives exactly as posted, and nothing is sampled', async () => {
    const w = plainWorker();
    const before = await tag({ tenant: 'early' }, () => ask(w, 'early', { iterations: 300 }));
    assert.deepEqual(before.keys, ['id', 'iterations']);
    assert.equal(before.rawWrapped, false, 'nothing is added to the message without a profiler');
    assert.equal(before.sampled, false);
    const { profiler, windows } = start();
    const during = await ask(w, 'during', { iterations: 6000 });
    assert.deepEqual(during.keys, ['id', 'iterations'], 'the listener sees the message as posted');
    assert.equal(during.rawWrapped, true);
    assert.equal(during.sampled, true);
    await profiler.stop();
    const after = await ask(w, 'late', { iterations: 300 });
    assert.deepEqual(after.keys, ['id', 'iterations']);
    assert.equal(after.rawWrapped, false, 'nothing is added after stop');
    assert.equal(after.sampled, false, 'the worker stopped sampling with the profiler');
    await w.terminate();
    assert.equal(windows.length, 1);
    near(workerCpu(windows, 'during'), during.cpuNs, 'during');
    assert.equal(workerCpu(windows, 'early'), 0);
    assert.equal(workerCpu(windows, 'late'), 0);
  });

  it('each window gets the workers CPU of that window (windows ended by pause and stop)', async () => {
    const w = plainWorker();
    const { profiler, windows } = start();
    const first = await ask(w, 'p1', { iterations: 6000 });
    await profiler.pause();
    await profiler.resume();
    const second = await ask(w, 'p2', { iterations: 6000 });
    await profiler.stop();
    await w.terminate();
    assert.equal(windows.length, 2);
    near(workerCpu([windows[0]!], 'p1'), first.cpuNs, 'window 1');
    assert.equal(workerCpu([windows[0]!], 'p2'), 0);
    near(workerCpu([windows[1]!], 'p2'), second.cpuNs, 'window 2');
    assert.equal(workerCpu([windows[1]!], 'p1'), 0);
  });

  it('a worker started and ended within a window contributes what it sampled', async () => {
    const { profiler, windows } = start();
    const w = plainWorker();
    const r = await ask(w, 'short', { iterations: 6000 });
    w.postMessage({ exit: true });
    await exited(w);
    await profiler.stop();
    near(workerCpu(windows, 'short', r.thread), r.cpuNs, 'short-lived worker');
    assert.equal(windows[0]!.window.workers?.lostWindows, 0);
  });

  it('a worker that crashes mid-window still reports its partial window; the profiler goes on', async () => {
    const logger = new MemoryLogger();
    const { profiler, windows } = start(logger);
    const w1 = plainWorker();
    const w2 = plainWorker();
    // Tasks of tens of ms: a task's two edges may each be off by up to half a sampling interval.
    const r1 = await ask(w1, 'crashy', { iterations: 6000 });
    void ask(w1, 'crashy', { crash: true });
    await exited(w1);
    const r2 = await ask(w2, 'steady', { iterations: 6000 });
    await profiler.stop();
    await w2.terminate();
    assert.equal(windows.length, 1);
    near(workerCpu(windows, 'crashy'), r1.cpuNs, 'crashed worker');
    near(workerCpu(windows, 'steady'), r2.cpuNs, 'other worker');
    assert.equal(windows[0]!.window.workers?.lostWindows, 0, 'an uncaught error still runs the worker exit handler');
  });

  it('pool.destroy() mid-window loses only the destroyed workers\' unsent part: counted, warned once', async () => {
    const logger = new MemoryLogger();
    const { profiler, windows } = start(logger);
    const pool = instrumentPiscina(new Piscina({ filename: fixture('piscina-task.mjs').href, minThreads: 2, maxThreads: 2, atomics: 'async' }));
    await tag({ tenant: 'pooled' }, () => Promise.all([1, 2, 3, 4].map(() => pool.run({ iterations: 300, nsPerIteration }))));
    await pool.destroy();
    const w = plainWorker();
    const r = await ask(w, 'survivor', { iterations: 6000 });
    await profiler.stop();
    await w.terminate();
    const info = windows[0]!.window.workers!;
    assert.ok(info.lostWindows >= 1 && info.lostWindows <= 2, `lostWindows ${info.lostWindows}`);
    assert.equal(logger.matching(/ended before it could report/), 1, 'warned once');
    near(workerCpu(windows, 'survivor'), r.cpuNs, 'surviving worker');
  });

  it('a task that posts to a nested worker bills the nested worker\'s CPU to the same tags', async () => {
    const { profiler, windows } = start();
    const w = plainWorker();
    const r = await ask(w, 'nest', { nested: true, iterations: 2000 });
    await profiler.stop();
    await w.terminate();
    assert.notEqual(r.thread, r.via, 'the spin ran in the nested worker');
    near(workerCpu(windows, 'nest', r.thread), r.cpuNs, 'nested worker');
    assert.ok(windows[0]!.window.workers!.threads.some((t) => t.threadId === r.thread));
  });

  it('a worker where the sampler cannot start runs untagged: counted, warned once', async () => {
    const logger = new MemoryLogger();
    const { profiler, windows } = start(logger);
    const w = plainWorker('busy-sampler-worker.mjs');
    await ask(w, 'unsampled', { iterations: 500 });
    await ask(w, 'unsampled', { iterations: 500 });
    await profiler.stop();
    await w.terminate();
    assert.equal(windows[0]!.window.workers?.unavailableWorkers, 1);
    assert.equal(logger.matching(/could not start in worker thread/), 1);
    assert.equal(workerCpu(windows, 'unsampled'), 0);
  });

  it('by default a tag set is not split by thread: its row sums main and worker CPU', async () => {
    const windows: Windows = [];
    const profiler = newProfiler((profiles, window) => void windows.push({ profiles, window }), 0, 120_000, { samplingIntervalMicros: 1000 });
    profileWorkers();
    void profiler.run();
    running = profiler;
    const w = plainWorker();
    const r = await ask(w, 'whole', { iterations: 6000 });
    await profiler.stop();
    await w.terminate();
    const rows = windows[0]!.profiles.filter((p) => p.tags.includes('whole'));
    assert.deepEqual(rows.map((p) => p.key), ['tenant=whole']);
    assert.ok(rows[0]!.value >= 0.85 * r.cpuNs, 'the one row holds the worker CPU');
    assert.ok(!windows[0]!.profiles.some((p) => p.tags.includes(THREAD_TAG)));
    const sum = windows[0]!.profiles.reduce((s, p) => s + p.percent, 0);
    assert.ok(Math.abs(sum - 1) < 1e-9, 'percents over all threads sum to 1');
  });

  it('profileWorkers rejects a bad option with a coded TypeError', () => {
    assert.throws(() => profileWorkers({ splitByThread: 'yes' as unknown as boolean }), (e: Error & { code?: string }) => e instanceof TypeError && e.code === 'REQPROF_ERR_INVALID_OPTION' && /splitByThread/.test(e.message));
  });

  it('64 workers: every one is merged into the one window', async () => {
    // At the default 100 Hz: 64 threads sampled at 1 kHz would keep this 2-core machine busy on their own.
    const workers = Array.from({ length: 64 }, () => plainWorker());
    // The pool is up before the profiler starts (its start-up is no request's CPU).
    await Promise.all(workers.map((w) => ask(w, undefined, { iterations: 1 })));
    const { profiler, windows } = start(undefined, 10_000);
    const replies = await Promise.all(workers.map((w, i) => ask(w, `t${i % 4}`, { iterations: 2000 })));
    await profiler.stop();
    await Promise.all(workers.map((w) => w.terminate()));
    const info = windows[0]!.window.workers!;
    assert.equal(windows.length, 1);
    assert.equal(info.threads.length, 65, 'the main thread and 64 workers');
    assert.equal(info.lostWindows, 0);
    let truth = 0;
    for (const r of replies) truth += r.cpuNs;
    let measured = 0;
    for (let t = 0; t < 4; t++) measured += workerCpu(windows, `t${t}`);
    for (const t of info.threads) assert.ok(t.samples > 0 || t.threadId === 0, `thread ${t.threadId} sampled`);
    // Node 20 has no per-thread CPU clock: its truth is calibrated on an idle process, which 64 threads
    // contending for 2 cores do not match (measured 2.7x there); the magnitude is checked where the thread is timed.
    if (hasThreadCpu) near(measured, truth, '64 workers');
    else console.log(`64 workers on ${process.version}: sampled ${(measured / 1e6).toFixed(1)} ms, calibrated truth ${(truth / 1e6).toFixed(1)} ms`);
  });
});
