/**
 * The main thread's side: asks every profiled worker for its samples when a
 * window of the main profiler ends, waits for the answers a bounded time, and
 * hands the window loop what arrived. A worker that answers late (busy in one
 * long synchronous task) lands in the next window: nothing is dropped.
 */
import { BroadcastChannel, threadId as ownThreadId, type Worker } from 'node:worker_threads';
import { optionTypeError } from '../errors.js';
import { getDefaultLogger, type Logger } from '../logger.js';
import type { WindowEndReason } from '../types.js';
import { CHANNEL_NAME, type WorkerMessage } from './protocol.js';
import { installWorkerHub, type LoopSettings, type WorkerHubLike } from './seam.js';
import { THREAD_TAG, type WorkerTotals, type WorkerWindow } from './window.js';

/** Longest a window end waits for the workers' answers (a quarter of the window at most). */
const WINDOW_WAIT_MS = 100;
/**
 * Longest a stop or pause waits for them: a worker's report costs it a
 * native profile stop (measured 40-90 ms of its CPU on Node 24), so many
 * workers on few cores need longer; capped.
 */
const STOP_WAIT_MS = 2_000;
const STOP_WAIT_PER_WORKER_MS = 150;
const STOP_WAIT_MAX_MS = 20_000;
/** A worker that missed this many flushes in a row is no longer waited for (it is still merged when it answers). */
const MAX_MISSED = 3;

interface Known {
  lastSeq: number;
  missed: number;
  exited: boolean;
}

export interface WorkerProfilingOptions {
  /** Add a `reqprof_thread` tag (the worker's threadId) to worker CPU, so each tag set is split by thread. Default false. */
  splitByThread?: boolean;
  /** Where the one-time warnings go (default: reqprof's default logger). */
  logger?: Logger;
}

export class WorkerHub implements WorkerHubLike {
  #settings: LoopSettings | undefined;
  #up: BroadcastChannel | undefined;
  #seq = 0;
  readonly #known = new Map<number, Known>();
  #window = emptyWindow();
  #hasData = false;
  #wake: (() => void) | undefined;
  #warned = new Set<string>();
  splitByThread = false;
  logger: Logger | undefined;

  /** Down-channel messages are posted with a short-lived instance, so this thread never receives its own. */
  #postDown(m: WorkerMessage): void {
    const c = new BroadcastChannel(CHANNEL_NAME + ':down');
    c.postMessage(m);
    c.close();
  }

  started(s: LoopSettings): void {
    this.#settings = s;
    // Warnings are once per profiler run; what arrived after the last run's stop is not this run's.
    this.#warned.clear();
    this.#window = emptyWindow();
    this.#hasData = false;
    if (this.#up !== undefined) return;
    const up = new BroadcastChannel(CHANNEL_NAME + ':up');
    up.onmessage = (e) => this.#onMessage((e as { data: unknown }).data as WorkerMessage);
    // The channel must never keep the process alive.
    (up as unknown as { unref(): void }).unref();
    this.#up = up;
  }

  /** A Worker object this thread started ended: its final report must arrive, or its partial window is lost. */
  workerExited(threadId: number): void {
    const k = this.#known.get(threadId);
    if (k !== undefined) k.exited = true;
  }

  async collect(reason: WindowEndReason): Promise<WorkerWindow | undefined> {
    if (this.#up === undefined) return undefined;
    const seq = ++this.#seq;
    this.#postDown({ k: reason === 'stop' ? 'stop' : 'flush', seq });
    const windowMs = this.#settings?.windowMs ?? 0;
    const bound = reason === 'window'
      ? Math.min(WINDOW_WAIT_MS, windowMs / 4)
      : Math.min(STOP_WAIT_MAX_MS, STOP_WAIT_MS + STOP_WAIT_PER_WORKER_MS * this.#known.size);
    await this.#waitForAnswers(seq, bound);
    for (const [id, k] of this.#known) {
      if (k.exited) {
        // Ended without its final report (terminated): what it sampled since its last report is lost.
        this.#known.delete(id);
        this.#window.lostWindows++;
        this.#hasData = true;
        this.#warnOnce('lost', { threadId: id },
          'reqprof: a worker thread ended before it could report its last partial window (terminated or killed); that CPU is missing. Counted in WindowInfo.workers.lostWindows.');
      } else if (k.lastSeq < seq) {
        k.missed++;
      } else {
        k.missed = 0;
      }
    }
    if (reason === 'stop') this.#known.clear();
    return this.takeNow();
  }

  takeNow(): WorkerWindow | undefined {
    if (!this.#hasData) return undefined;
    const w = this.#window;
    this.#window = emptyWindow();
    this.#hasData = false;
    return w;
  }

  #waitingFor(seq: number): boolean {
    for (const k of this.#known.values()) {
      if (k.exited) return true;
      if (k.lastSeq < seq && k.missed < MAX_MISSED) return true;
    }
    return false;
  }

  async #waitForAnswers(seq: number, boundMs: number): Promise<void> {
    const deadline = performance.now() + boundMs;
    while (this.#waitingFor(seq)) {
      const left = deadline - performance.now();
      if (left <= 0) return;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  #onMessage(m: WorkerMessage): void {
    switch (m.k) {
      case 'hello': {
        if (m.unavailable !== undefined) {
          this.#window.unavailableWorkers++;
          this.#hasData = true;
          this.#warnOnce('unavailable', { threadId: m.threadId, reason: m.unavailable },
            `reqprof: the CPU sampler could not start in worker thread ${m.threadId} (${m.unavailable}); that worker's CPU is not attributed (counted in WindowInfo.workers.unavailableWorkers).`);
          return;
        }
        // Treated as up to date: its first samples come with the next flush.
        this.#known.set(m.threadId, { lastSeq: this.#seq, missed: 0, exited: false });
        return;
      }
      case 'report': {
        this.#add(m);
        const k = this.#known.get(m.threadId);
        if (m.final) this.#known.delete(m.threadId);
        else if (k !== undefined) k.lastSeq = Math.max(k.lastSeq, m.seq);
        else this.#known.set(m.threadId, { lastSeq: m.seq, missed: 0, exited: false });
        this.#wake?.();
        return;
      }
      case 'gone':
        this.workerExited(m.threadId);
        this.#wake?.();
        return;
      default:
        return;
    }
  }

  #add(m: Extract<WorkerMessage, { k: 'report' }>): void {
    const w = this.#window;
    this.#hasData = true;
    let t = w.threads.get(m.threadId);
    if (t === undefined) {
      t = { cpuNanos: 0, samples: 0, measuredNanos: 0 };
      w.threads.set(m.threadId, t);
    }
    t.samples += m.samples;
    t.measuredNanos = m.threadCpuNanos === undefined || t.measuredNanos === undefined ? undefined : t.measuredNanos + m.threadCpuNanos;
    for (const [pairs, cpuNanos, samples] of m.totals) {
      t.cpuNanos += cpuNanos;
      const e: WorkerTotals = { threadId: m.threadId, pairs: this.splitByThread ? withThread(pairs, m.threadId) : pairs, cpuNanos, samples };
      w.entries.push(e);
    }
  }

  #warnOnce(kind: string, fields: Record<string, unknown>, msg: string): void {
    if (this.#warned.has(kind)) return;
    this.#warned.add(kind);
    (this.logger ?? getDefaultLogger()).warn(fields, msg);
  }
}

function emptyWindow(): WorkerWindow {
  return { entries: [], threads: new Map(), lostWindows: 0, unavailableWorkers: 0 };
}

/** `pairs` with the thread tag inserted at its sorted place. */
function withThread(pairs: readonly string[], threadId: number): string[] {
  const out: string[] = [];
  let placed = false;
  for (let i = 0; i < pairs.length; i += 2) {
    if (!placed && pairs[i]! > THREAD_TAG) {
      out.push(THREAD_TAG, String(threadId));
      placed = true;
    }
    if (pairs[i] === THREAD_TAG) continue;
    out.push(pairs[i]!, pairs[i + 1]!);
  }
  if (!placed) out.push(THREAD_TAG, String(threadId));
  return out;
}

let hub: WorkerHub | undefined;

/**
 * The hub of this process, created on first use. Only the thread that runs the
 * main profiler (the main thread) collects; in a worker this returns undefined.
 */
export function workerHub(): WorkerHub | undefined {
  if (ownThreadId !== 0) return undefined;
  if (hub === undefined) {
    hub = new WorkerHub();
    installWorkerHub(hub);
  }
  return hub;
}

/** Turns worker profiling on (and configures it): the profiler merges its workers' CPU from now on. */
export function profileWorkers(options: WorkerProfilingOptions = {}): void {
  if (options === null || typeof options !== 'object') throw optionTypeError('reqprof: profileWorkers(options): options must be an object');
  if (options.splitByThread !== undefined && typeof options.splitByThread !== 'boolean') {
    throw optionTypeError(`reqprof: option "splitByThread" must be a boolean, got ${typeof options.splitByThread}`);
  }
  const h = workerHub();
  if (h === undefined) return;
  h.splitByThread = options.splitByThread ?? false;
  if (options.logger !== undefined) h.logger = options.logger;
}

/** Watches a Worker this thread started, so its end is noticed (a terminated worker cannot say so itself). */
export function watchWorker(worker: Worker): void {
  if (watched.has(worker)) return;
  watched.add(worker);
  const id = worker.threadId;
  worker.once('exit', () => {
    const h = ownThreadId === 0 ? hub : undefined;
    if (h !== undefined) h.workerExited(id);
    else {
      const c = new BroadcastChannel(CHANNEL_NAME + ':up');
      c.postMessage({ k: 'gone', threadId: id } satisfies WorkerMessage);
      c.close();
    }
  });
}
const watched = new WeakSet<Worker>();
