import type { EngineChoice } from './engine/index.js';
import { optionRangeError, optionTypeError } from './errors.js';
import { isLogger, type Logger } from './logger.js';
import type { Processor } from './types.js';

/** `newProfiler`'s fourth argument. */
export interface ProfilerOptions {
  /** Sampling period in microseconds. Default 10_000 (100 Hz, as Go and Kitex). Range 100..1_000_000. */
  samplingIntervalMicros?: number;
  /** A pino (or pino-compatible) logger for reqprof's own messages. Default: pino named `reqprof`. */
  logger?: Logger;
  /** `auto` (default) picks CPED where AsyncContextFrame is active, else `async-hooks`. */
  engine?: EngineChoice;
  /** Distinct tag sets kept per window; more fold into `reqprof_overflow=true`. Default 10_000. */
  maxTagSets?: number;
  /** How long `stop()`/`pause()` wait for processors to finish, in ms. Default 5_000. */
  flushTimeoutMs?: number;
  /** Deliver the partial window to processors when the process exits (sync part only). Default true. */
  flushOnExit?: boolean;
  /** Add the top N functions by self CPU to each `TagsProfile` (`topFunctions`). Default 0 (off). Range 0..1000. */
  topFunctions?: number;
  /**
   * Point frames of compiled code (TypeScript, bundles) at their sources, in pprof
   * profiles and top functions: `true` searches the current directory for source
   * maps, or give the directories to search. Default false.
   */
  sourceMaps?: boolean | string[];
}

export interface ResolvedOptions {
  processors: Processor[];
  intervalMs: number;
  windowMs: number;
  samplingIntervalMicros: number;
  logger: Logger | undefined;
  engine: EngineChoice;
  maxTagSets: number;
  flushTimeoutMs: number;
  flushOnExit: boolean;
  topFunctions: number;
  sourceMapDirs: string[];
}

const MAX_TIMER_MS = 2_147_483_647;

function duration(name: string, v: unknown, min: number, max: number, what: string): number {
  if (typeof v !== 'number') throw optionTypeError(`reqprof: option "${name}" must be a number of ${what}, got ${typeof v}`);
  if (!Number.isFinite(v) || v < min || v > max) {
    throw optionRangeError(`reqprof: option "${name}" must be between ${min} and ${max} ${what}, got ${v}`);
  }
  return v;
}

function integer(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number') throw optionTypeError(`reqprof: option "${name}" must be an integer, got ${typeof v}`);
  if (!Number.isInteger(v) || v < min || v > max) {
    throw optionRangeError(`reqprof: option "${name}" must be an integer between ${min} and ${max}, got ${v}`);
  }
  return v;
}

export function resolveProcessors(processor: unknown, fallback: Processor): Processor[] {
  if (processor === undefined || processor === null) return [fallback];
  const list = Array.isArray(processor) ? processor : [processor];
  if (list.length === 0) throw optionTypeError('reqprof: option "processor" must be a function or a non-empty array of functions, got an empty array');
  list.forEach((p, i) => {
    if (typeof p !== 'function') {
      throw optionTypeError(`reqprof: option "processor"${Array.isArray(processor) ? `[${i}]` : ''} must be a function (profiles, window) => void, got ${p === null ? 'null' : typeof p}`);
    }
  });
  return list as Processor[];
}

export function resolveOptions(processor: unknown, interval: unknown, window: unknown, options: unknown, fallback: Processor): ResolvedOptions {
  const processors = resolveProcessors(processor, fallback);
  const intervalMs = duration('interval', interval ?? 0, 0, MAX_TIMER_MS, 'milliseconds');
  const windowMs = duration('window', window ?? 30_000, 10, MAX_TIMER_MS, 'milliseconds');
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw optionTypeError(`reqprof: options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  const o = (options ?? {}) as ProfilerOptions;
  const samplingIntervalMicros = integer('samplingIntervalMicros', o.samplingIntervalMicros ?? 10_000, 100, 1_000_000);
  if (samplingIntervalMicros / 1000 > windowMs) {
    throw optionRangeError(`reqprof: option "window" (${windowMs} ms) must be at least one sampling interval (${samplingIntervalMicros / 1000} ms)`);
  }
  if (o.logger !== undefined && !isLogger(o.logger)) {
    throw optionTypeError('reqprof: option "logger" must be a pino logger (an object with info, warn and error methods)');
  }
  const engine = o.engine ?? 'auto';
  if (engine !== 'auto' && engine !== 'cped' && engine !== 'async-hooks') {
    throw optionRangeError(`reqprof: option "engine" must be "auto", "cped" or "async-hooks", got ${JSON.stringify(engine)}`);
  }
  const maxTagSets = integer('maxTagSets', o.maxTagSets ?? 10_000, 1, 10_000_000);
  const flushTimeoutMs = duration('flushTimeoutMs', o.flushTimeoutMs ?? 5_000, 0, MAX_TIMER_MS, 'milliseconds');
  if (o.flushOnExit !== undefined && typeof o.flushOnExit !== 'boolean') {
    throw optionTypeError(`reqprof: option "flushOnExit" must be a boolean, got ${typeof o.flushOnExit}`);
  }
  const topFunctions = integer('topFunctions', o.topFunctions ?? 0, 0, 1000);
  let sourceMapDirs: string[] = [];
  if (o.sourceMaps === true) sourceMapDirs = [process.cwd()];
  else if (Array.isArray(o.sourceMaps)) {
    o.sourceMaps.forEach((d, i) => {
      if (typeof d !== 'string' || d === '') throw optionTypeError(`reqprof: option "sourceMaps"[${i}] must be a directory path, got ${JSON.stringify(d)}`);
    });
    sourceMapDirs = o.sourceMaps.slice();
  } else if (o.sourceMaps !== undefined && o.sourceMaps !== false) {
    throw optionTypeError(`reqprof: option "sourceMaps" must be a boolean or an array of directories, got ${typeof o.sourceMaps}`);
  }
  return {
    topFunctions,
    sourceMapDirs,
    processors,
    intervalMs,
    windowMs,
    samplingIntervalMicros,
    logger: o.logger,
    engine,
    maxTagSets,
    flushTimeoutMs,
    flushOnExit: o.flushOnExit ?? true,
  };
}
