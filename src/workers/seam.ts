/**
 * The one place the window loop talks to worker profiling. Costs nothing
 * unless the app imported `reqprof/workers` (which installs the hub): then the
 * loop tells it when sampling starts and asks it, at each window end, for the
 * workers' CPU of the window just ended.
 */
import type { WindowEndReason } from '../types.js';
import type { WorkerSamplingConfig } from './protocol.js';
import type { WorkerWindow } from './window.js';

/** What the window loop tells the hub when its sampler starts. */
export interface LoopSettings extends WorkerSamplingConfig {
  intervalMs: number;
}

export interface WorkerHubLike {
  started(s: LoopSettings): void;
  collect(reason: WindowEndReason): Promise<WorkerWindow | undefined>;
  /** What has arrived so far, without asking (the synchronous exit flush). */
  takeNow(): WorkerWindow | undefined;
}

let hub: WorkerHubLike | undefined;
let active: LoopSettings | undefined;

/** @internal `reqprof/workers` installs its hub here. */
export function installWorkerHub(h: WorkerHubLike): void {
  hub = h;
  if (active !== undefined) h.started(active);
}

/** The sampling settings of the profiler running in this thread, if one runs. */
export function activeSettings(): LoopSettings | undefined {
  return active;
}

/** @internal set by the worker side: a profiled worker passes sampling on to the workers it starts. */
export function setActiveSettings(s: LoopSettings | undefined): void {
  active = s;
}

/** Window loop: sampling started with these settings. */
export function workersLoopStarted(s: LoopSettings): void {
  active = s;
  hub?.started(s);
}

/** Window loop: a window ended; resolves with the workers' CPU to merge into it (undefined without workers). */
export function workersWindowEnded(reason: WindowEndReason): Promise<WorkerWindow | undefined> | undefined {
  if (reason === 'stop') active = undefined;
  return hub?.collect(reason);
}

/** Window loop, at process exit: what the workers already reported. */
export function workersTakeNow(): WorkerWindow | undefined {
  return hub?.takeNow();
}
