/**
 * A worker thread's side: its own native sampler (engine path detected in
 * this thread), started by the first tagged message or task it receives; runs
 * each task under the sender's tags and, when the main profiler's window ends,
 * reports its CPU per tag set on the process-wide channel.
 */
import { BroadcastChannel, isMainThread, threadId } from 'node:worker_threads';
import { runWithTags } from '../context.js';
import { createEngine, type SamplerEngine } from '../engine/index.js';
import { keyOf, TagSet } from '../tags.js';
import { CHANNEL_NAME, type Envelope, type ReportedTotals, type WorkerMessage, type WorkerSamplingConfig } from './protocol.js';
import { activeSettings, setActiveSettings } from './seam.js';

type ThreadCpuUsage = () => { user: number; system: number };
const threadCpuUsage: ThreadCpuUsage | undefined =
  (process as unknown as { threadCpuUsage?: ThreadCpuUsage }).threadCpuUsage?.bind(process);

function threadCpuNanos(): number | undefined {
  if (threadCpuUsage === undefined) return undefined;
  const u = threadCpuUsage();
  return (u.user + u.system) * 1000;
}

let engine: SamplerEngine | undefined;
let down: BroadcastChannel | undefined;
let lastCpu: number | undefined;
let unavailable = false;
let exitHandler: (() => void) | undefined;

function postUp(m: WorkerMessage): void {
  const c = new BroadcastChannel(CHANNEL_NAME + ':up');
  c.postMessage(m);
  c.close();
}

/**
 * Starts this worker's sampler with the main profiler's settings, unless it
 * runs already. In the main thread it does nothing (the main profiler samples
 * it). Returns whether this thread is sampled. A runtime where the sampler
 * cannot start is reported once to the hub and the worker runs unsampled.
 */
export function startWorkerSide(config: WorkerSamplingConfig): boolean {
  if (isMainThread) return false;
  if (engine !== undefined) return true;
  if (unavailable) return false;
  let e: SamplerEngine;
  try {
    e = createEngine('auto', config.samplingIntervalMicros, config.maxTagSets);
    e.start(Math.ceil(config.windowMs * 1.5 + 2_000));
  } catch (err) {
    unavailable = true;
    postUp({ k: 'hello', threadId, unavailable: (err as Error)?.message ?? String(err) });
    return false;
  }
  engine = e;
  lastCpu = threadCpuNanos();
  setActiveSettings({ ...config, intervalMs: 0 });
  const d = new BroadcastChannel(CHANNEL_NAME + ':down');
  d.onmessage = (ev) => onDown((ev as { data: unknown }).data as WorkerMessage);
  // Never keep the worker alive for the profiler's sake.
  (d as unknown as { unref(): void }).unref();
  down = d;
  // A worker that ends by itself (returns, process.exit, uncaught error) sends what it sampled since its last report.
  exitHandler = () => report(-1, true);
  process.on('exit', exitHandler);
  postUp({ k: 'hello', threadId, mode: e.mode });
  return true;
}

/** Whether this worker's sampler runs. */
export function workerSideRunning(): boolean {
  return engine !== undefined;
}

function onDown(m: WorkerMessage): void {
  if (m.k === 'flush') report(m.seq, false);
  else if (m.k === 'stop') report(m.seq, true);
}

/** Sends the samples since the previous report; `last` stops the sampler (stop or exit). */
function report(seq: number, last: boolean): void {
  const e = engine;
  if (e === undefined) return;
  const totals: ReportedTotals[] = [];
  let samples = 0;
  try {
    const raw = e.stop(!last).finish();
    samples = raw.samples;
    for (const t of raw.totals.values()) totals.push([t.tags === undefined ? [] : t.tags.pairs.slice(), t.cpuNanos, t.samples]);
  } catch {
    // A window that could not be collected is reported empty; the sampler is reset.
    e.abort();
    last = true;
  }
  const now = threadCpuNanos();
  const m: WorkerMessage = { k: 'report', threadId, seq, final: last, totals, samples };
  if (now !== undefined && lastCpu !== undefined) m.threadCpuNanos = now - lastCpu;
  lastCpu = now;
  if (last) shutDown();
  postUp(m);
}

function shutDown(): void {
  engine?.abort();
  engine = undefined;
  down?.close();
  down = undefined;
  if (exitHandler !== undefined) process.removeListener('exit', exitHandler);
  exitHandler = undefined;
  setActiveSettings(undefined);
}

const received = new Map<string, TagSet>();

/** The TagSet for pairs sent by another thread (already validated there). */
function tagSetOf(pairs: readonly string[]): TagSet | undefined {
  if (pairs.length === 0) return undefined;
  const key = keyOf(pairs);
  let t = received.get(key);
  if (t === undefined) {
    t = new TagSet(pairs.slice());
    if (received.size > 50_000) received.clear();
    received.set(key, t);
  }
  return t;
}

/**
 * Runs `fn` under the tags an envelope carries (exactly those: not merged
 * with whatever context the receiving code runs in), starting this worker's
 * sampler first if needed.
 */
export function runInEnvelope<R>(env: Envelope, fn: () => R): R {
  startWorkerSide(env.config);
  return runWithTags(tagSetOf(env.tags), fn);
}

/** @internal the settings a profiled thread passes on (undefined: no profiler runs here). */
export function samplingToPassOn(): WorkerSamplingConfig | undefined {
  const s = activeSettings();
  return s === undefined ? undefined : { samplingIntervalMicros: s.samplingIntervalMicros, windowMs: s.windowMs, maxTagSets: s.maxTagSets };
}
