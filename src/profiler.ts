import { lookup, runWithTags, tag, untag } from './context.js';
import { ProcessorMailbox } from './processor-mailbox.js';
import type { EngineMode } from './engine/index.js';
import { lazyDefaultLogger } from './logger.js';
import { registerLoop } from './loop/test-seam.js';
import { WindowLoop, type LoopPhase } from './loop/window-loop.js';
import { optionTypeError } from './errors.js';
import { isProfilerConfig, resolveConfig, resolveOptions, type ProfilerConfig, type ProfilerOptions, type ResolvedOptions } from './options.js';
import { logProcessor } from './processors/log.js';
import { RateLimitedLog, errorFields } from './rate-limited-log.js';
import { within } from './util/wait.js';
import type { TagsInput } from './tags.js';
import type { Processor } from './types.js';

/** Where a profiler is in its life. */
export type ProfilerState = 'idle' | 'running' | 'paused' | 'stopped';

const STATE_OF_PHASE: Record<LoopPhase, ProfilerState> = {
  idle: 'idle', starting: 'running', sampling: 'running', summing: 'running', gap: 'running', paused: 'paused', stopped: 'stopped',
};

/**
 * Samples the process's CPU in windows and hands each window's CPU per tag set
 * to the processors.
 *
 * - `run()` starts the loop and resolves when the profiler has stopped. Before
 *   `run()`, `pause()` makes the loop start paused, `resume()` undoes that, and
 *   `stop()` makes the profiler stopped for good (`run()` then resolves at once).
 * - `pause()` and `stop()` end the current window early and deliver its partial
 *   data before resolving; both are idempotent and never wait longer than
 *   `flushTimeoutMs` for a processor.
 *
 * What each request does in each phase of the loop: src/loop/window-loop.ts.
 */
export class Profiler {
  readonly #o: ResolvedOptions;
  readonly #deliveries: ProcessorMailbox[];
  readonly #faults: RateLimitedLog;
  readonly #loop: WindowLoop;
  #runPromise: Promise<void> | undefined;

  constructor(processor?: Processor | Processor[] | ProfilerConfig, interval?: number, window?: number, options?: ProfilerOptions) {
    this.#o = isProfilerConfig(processor) ? resolveConfig(processor, logProcessor) : resolveOptions(processor, interval, window, options, logProcessor);
    this.#faults = new RateLimitedLog(this.#o.logger ?? lazyDefaultLogger());
    // A processor may take until the next window is ready, and at least flushTimeoutMs.
    const boundMs = Math.max(this.#o.flushTimeoutMs, this.#o.windowMs + this.#o.intervalMs);
    this.#deliveries = this.#o.processors.map((p, i) => new ProcessorMailbox(p, i, this.#faults, this.#o.topFunctions, boundMs));
    this.#loop = new WindowLoop({
      options: this.#o,
      deliveries: this.#deliveries,
      faults: this.#faults,
      wants: {
        profile: this.#o.processors.some((p) => p.needs?.profile === true),
        functions: this.#o.topFunctions > 0,
      },
    });
    registerLoop(this, this.#loop);
  }

  /** `idle`, `running`, `paused` or `stopped`. */
  get state(): ProfilerState {
    return STATE_OF_PHASE[this.#loop.phase];
  }

  /** How tags reach the sampler (`cped` or `async-hooks`); undefined until `run()` has chosen. */
  get mode(): EngineMode | undefined {
    return this.#loop.engine?.mode;
  }

  get intervalMs(): number {
    return this.#o.intervalMs;
  }

  get windowMs(): number {
    return this.#o.windowMs;
  }

  get samplingIntervalMicros(): number {
    return this.#o.samplingIntervalMicros;
  }

  /** See the module-level `tag`: the context is process-wide. */
  tag<R>(tags: TagsInput, fn: () => R): R;
  tag(tags: TagsInput): void;
  tag<R>(tags: TagsInput, fn?: () => R): R | void {
    return fn === undefined ? tag(tags) : tag(tags, fn);
  }

  untag(): void {
    untag();
  }

  lookup(key: string): string | undefined {
    return lookup(key);
  }

  /**
   * Runs the window loop until `stop()`. Resolves when stopped. Rejects (and
   * logs) when the sampler cannot start, e.g. `REQPROF_ERR_SAMPLER_BUSY`; the
   * returned promise is marked handled, so `void profiler.run()` never crashes
   * the process.
   */
  run(): Promise<void> {
    if (this.#runPromise) return this.#runPromise;
    if (this.#loop.phase === 'stopped') return Promise.resolve();
    // The loop must not inherit the caller's tags: its own CPU is not a request's.
    const p = runWithTags(undefined, () => this.#loop.run());
    p.catch((err) => {
      this.#faults.error('run', errorFields(err), 'reqprof: the profiler could not run; the service goes on without CPU profiling');
    });
    this.#runPromise = p;
    return p;
  }

  /** Ends the current window (delivering it), and holds sampling until `resume()`. */
  async pause(): Promise<void> {
    const caller = ProcessorMailbox.calling();
    await this.#loop.request('pause');
    await this.#flush(caller);
  }

  /** Starts sampling again after `pause()`; resolves once a window samples. */
  async resume(): Promise<void> {
    await this.#loop.request('resume');
  }

  /** Ends the current window, delivers it, and ends the loop. Idempotent. */
  async stop(): Promise<void> {
    const caller = ProcessorMailbox.calling();
    await this.#loop.request('stop');
    if (this.#runPromise) await this.#runPromise.catch(() => {});
    await this.#flush(caller);
  }

  /**
   * Waits for the processors to finish what they hold, at most `flushTimeoutMs`;
   * not for a processor whose last call did not settle in time, nor for the
   * one whose synchronous part is asking (it gets the window once it returns).
   */
  async #flush(caller: ProcessorMailbox | undefined): Promise<void> {
    const waited = this.#deliveries.filter((d) => d !== caller && !d.hung);
    const ok = await within(Promise.all(waited.map((d) => d.idle())), this.#o.flushTimeoutMs);
    if (!ok) {
      const busy = waited.filter((d) => d.busy).map((d) => d.name);
      this.#faults.warn('flush-timeout', { processors: busy, flushTimeoutMs: this.#o.flushTimeoutMs },
        `reqprof: processor(s) ${busy.join(', ')} still busy after ${this.#o.flushTimeoutMs} ms; not waiting any longer`);
    }
  }
}

/**
 * Creates a profiler, in either of two forms:
 *
 * - Kitex's positional form, `newProfiler(processor, interval, window, options)`:
 *   `processor` is one function or an array (none: `logProcessor`);
 *   `interval` (the gap with the sampler off, 0: windows back to back) and
 *   `window` are milliseconds. Note `newProfiler(fn, 5000)` is a 5 s *gap*.
 * - The options-object form, `newProfiler({ processors, windowMs, intervalMs, ...options })`,
 *   where every number says what it is.
 *
 * Unknown option names are an error (REQPROF_ERR_INVALID_OPTION) naming the known ones.
 */
export function newProfiler(config: ProfilerConfig): Profiler;
export function newProfiler(processor?: Processor | Processor[] | null, interval?: number, window?: number, options?: ProfilerOptions): Profiler;
export function newProfiler(
  processor?: Processor | Processor[] | ProfilerConfig | null,
  interval = 0,
  window = 30_000,
  options?: ProfilerOptions,
): Profiler {
  if (isProfilerConfig(processor)) {
    if (arguments.length > 1) {
      throw optionTypeError('reqprof: newProfiler({ processors, windowMs, intervalMs, ...options }) takes one argument; for the positional form pass the processor first');
    }
    return new Profiler(processor);
  }
  return new Profiler(processor ?? undefined, interval, window, options);
}
