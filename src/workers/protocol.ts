/**
 * What the threads of one process say to each other about worker profiling.
 * Reports and flush requests travel on one process-wide BroadcastChannel, so
 * a worker started by another worker (nested) reaches the main thread's hub
 * without any port being handed down.
 */

/** The BroadcastChannel every profiled thread of the process joins. */
export const CHANNEL_NAME = 'reqprof:workers:v1';

/** Marks a message wrapped by `postWithTags` / the piscina integration. */
export const ENVELOPE = '__reqprof_envelope_v1';

/** What a worker needs to sample like the main profiler; carried by every envelope. */
export interface WorkerSamplingConfig {
  samplingIntervalMicros: number;
  windowMs: number;
  maxTagSets: number;
}

/** A message (or task) with the sender's tags; the receiver unwraps it before the app sees it. */
export interface Envelope<T = unknown> {
  [ENVELOPE]: 1;
  /** Flat sorted tag pairs of the sender's context, `[]` when untagged. */
  tags: string[];
  config: WorkerSamplingConfig;
  payload: T;
}

/** One tag set's CPU in one worker report: `[pairs, cpuNanos, samples]`. */
export type ReportedTotals = [pairs: string[], cpuNanos: number, samples: number];

export type WorkerMessage =
  /** A worker's sampler started (or could not: `unavailable` says why). */
  | { k: 'hello'; threadId: number; mode?: string; unavailable?: string }
  /** A worker's samples since its previous report, answering flush `seq` (or `final` at exit). */
  | {
    k: 'report'; threadId: number; seq: number; final: boolean;
    totals: ReportedTotals[]; samples: number;
    /** The thread's own CPU since its previous report (`process.threadCpuUsage`), ns; absent where the runtime lacks it. */
    threadCpuNanos?: number;
  }
  /** A thread saw a worker it started end (`exit` event). */
  | { k: 'gone'; threadId: number }
  /** The main profiler's window ended: report now. */
  | { k: 'flush'; seq: number }
  /** The main profiler stopped: stop sampling (and report what is left). */
  | { k: 'stop'; seq: number };

export function isEnvelope(m: unknown): m is Envelope {
  return typeof m === 'object' && m !== null && (m as Record<string, unknown>)[ENVELOPE] === 1;
}
