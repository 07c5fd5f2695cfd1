import type { EngineMode } from '../engine/types.js';
import { getDefaultLogger } from '../logger.js';
import type { ResolvedOptions } from '../options.js';

/** `30 s`, `1.5 s`, `250 ms`. */
function duration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Number((ms / 1000).toPrecision(6))} s`;
}

/**
 * What the profiler will do, in one line a newcomer can check against what
 * they meant: `newProfiler(fn, 5000)` is a 5 s gap with the sampler off, not
 * a 5 s window, and this line says so.
 */
export function describeProfiler(o: ResolvedOptions, mode: EngineMode): string {
  const hz = 1e6 / o.samplingIntervalMicros;
  const rate = `${Number.isInteger(hz) ? hz : hz.toFixed(1)} Hz`;
  const cycle = o.intervalMs === 0
    ? `windows of ${duration(o.windowMs)} back to back`
    : `windows of ${duration(o.windowMs)} every ${duration(o.windowMs + o.intervalMs)} (sampler off ${duration(o.intervalMs)} between)`;
  const to = o.processors.length === 1 ? '1 processor' : `${o.processors.length} processors`;
  return `reqprof: ${cycle} at ${rate}, ${mode} path, to ${to}`;
}

/** Logs `describeProfiler` once, at start, to the profiler's logger (reqprof's pino logger by default). */
export function logStart(o: ResolvedOptions, mode: EngineMode): void {
  try {
    (o.logger ?? getDefaultLogger()).info({
      reqprof: 'start', windowMs: o.windowMs, intervalMs: o.intervalMs, samplingIntervalMicros: o.samplingIntervalMicros, mode, maxTagSets: o.maxTagSets,
    }, describeProfiler(o, mode));
  } catch {
    // A broken logger must not stop the profiler from starting.
  }
}
