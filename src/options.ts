import { assertEngineSupported, type EngineChoice } from './engine/index.js';
import { optionRangeError, optionTypeError } from './errors.js';
import { isLogger, type Logger } from './logger.js';
import type { Processor } from './types.js';
import { checkInteger } from './util/check-option.js';

/** `newProfiler`'s fourth argument (Kitex's positional form). */
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

/**
 * `newProfiler`'s single argument in the options-object form: every number
 * named by its unit, so `windowMs` cannot be mistaken for the interval.
 */
export interface ProfilerConfig extends ProfilerOptions {
  /** One processor or several; default `logProcessor`. */
  processors?: Processor | Processor[];
  /** Length of each sampling window in ms. Default 30_000. Range 10..2_147_483_647. */
  windowMs?: number;
  /** Gap with the sampler off between windows, in ms; 0 (default): windows back to back. */
  intervalMs?: number;
}

/** The names `ProfilerOptions` accepts, for the unknown-name check. */
const OPTION_NAMES: ReadonlyArray<keyof ProfilerOptions> = [
  'samplingIntervalMicros', 'logger', 'engine', 'maxTagSets', 'flushTimeoutMs', 'flushOnExit', 'topFunctions', 'sourceMaps',
];
const CONFIG_NAMES: ReadonlyArray<keyof ProfilerConfig> = ['processors', 'windowMs', 'intervalMs', ...OPTION_NAMES];

/** Whether `newProfiler`'s first argument is the options-object form (not a processor or a list of them). */
export function isProfilerConfig(x: unknown): x is ProfilerConfig {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

/** A typo (`windowMs` among the positional options) is an error naming the known names, never silently ignored. */
function checkNames(o: object, known: readonly string[], hint: string): void {
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) {
      throw optionTypeError(`reqprof: unknown option "${k}"; the known options are ${known.join(', ')}${hint}`);
    }
  }
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
  return checkInteger(`option "${name}"`, v, min, max);
}

export function resolveProcessors(processor: unknown, fallback: Processor, name = 'processor'): Processor[] {
  if (processor === undefined || processor === null) return [fallback];
  const list = Array.isArray(processor) ? processor : [processor];
  if (list.length === 0) throw optionTypeError(`reqprof: option "${name}" must be a function or a non-empty array of functions, got an empty array`);
  list.forEach((p, i) => {
    if (typeof p !== 'function') {
      throw optionTypeError(`reqprof: option "${name}"${Array.isArray(processor) ? `[${i}]` : ''} must be a function (profiles, window) => void, got ${p === null ? 'null' : typeof p}`);
    }
  });
  return list as Processor[];
}

/** The options-object form, `newProfiler({ processors, windowMs, intervalMs, ...options })`. */
export function resolveConfig(config: ProfilerConfig, fallback: Processor): ResolvedOptions {
  checkNames(config, CONFIG_NAMES, '');
  const { processors, windowMs, intervalMs, ...options } = config;
  return resolveOptions(processors, intervalMs, windowMs, options, fallback, { processor: 'processors', interval: 'intervalMs', window: 'windowMs' });
}

/** How the three leading values are named in errors: positional (Kitex) or options-object form. */
interface LeadingNames {
  processor: string;
  interval: string;
  window: string;
}
const POSITIONAL: LeadingNames = { processor: 'processor', interval: 'interval', window: 'window' };

export function resolveOptions(
  processor: unknown, interval: unknown, window: unknown, options: unknown, fallback: Processor, names: LeadingNames = POSITIONAL,
): ResolvedOptions {
  const processors = resolveProcessors(processor, fallback, names.processor);
  const intervalMs = duration(names.interval, interval ?? 0, 0, MAX_TIMER_MS, 'milliseconds');
  const windowMs = duration(names.window, window ?? 30_000, 10, MAX_TIMER_MS, 'milliseconds');
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw optionTypeError(`reqprof: options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  const o = (options ?? {}) as ProfilerOptions;
  if (names === POSITIONAL) {
    checkNames(o, OPTION_NAMES,
      ' (the interval and window are newProfiler\'s 2nd and 3rd arguments; or pass one object: newProfiler({ processors, windowMs, intervalMs, ...options }))');
  }
  const samplingIntervalMicros = integer('samplingIntervalMicros', o.samplingIntervalMicros ?? 10_000, 100, 1_000_000);
  if (samplingIntervalMicros / 1000 > windowMs) {
    throw optionRangeError(`reqprof: option "${names.window}" (${windowMs} ms) must be at least one sampling interval (${samplingIntervalMicros / 1000} ms)`);
  }
  if (o.logger !== undefined && !isLogger(o.logger)) {
    throw optionTypeError('reqprof: option "logger" must be a pino logger (an object with info, warn and error methods)');
  }
  const engine = o.engine ?? 'auto';
  if (engine !== 'auto' && engine !== 'cped' && engine !== 'async-hooks') {
    throw optionRangeError(`reqprof: option "engine" must be "auto", "cped" or "async-hooks", got ${JSON.stringify(engine)}`);
  }
  // At construction, not at run(): a runtime without AsyncContextFrame cannot take the CPED path.
  assertEngineSupported(engine);
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
