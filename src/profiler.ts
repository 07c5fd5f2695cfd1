import { foldWindow, type FoldSettings, type WindowData } from './aggregate.js';
import { lookup, runWithTags, tag, untag } from './context.js';
import { Delivery } from './delivery.js';
import { createEngine, type EngineMode, type SamplerEngine } from './engine/index.js';
import type { CollectWants, PendingWindow } from './engine/types.js';
import { startupSelfCheck } from './engine/self-check.js';
import { createSourceMapper, type SourceMapperLike } from './engine/source-maps.js';
import { optionTypeError } from './errors.js';
import { getDefaultLogger, type Logger } from './logger.js';
import { isProfilerConfig, resolveConfig, resolveOptions, type ProfilerConfig, type ProfilerOptions, type ResolvedOptions } from './options.js';
import { logStart } from './describe.js';
import { logProcessor } from './processors/log.js';
import { RateLimitedLog, errorFields } from './rate-limited-log.js';
import { takeRequestCounts, type RequestCounts } from './request-counter.js';
import { WakeableSleep, within, yieldToEventLoop } from './sleep.js';
import type { TagsInput } from './tags.js';
import type { Processor, WindowEndReason } from './types.js';
// [reqprof/workers seam]
import { workersLoopStarted, workersTakeNow, workersWindowEnded } from './workers/seam.js';
import { mergeWorkerWindow, type WorkerWindow } from './workers/window.js';

/** Where a profiler is in its life. */
export type ProfilerState = 'idle' | 'running' | 'paused' | 'stopped';

/** Longest slice of window-end summing between two turns of the event loop. */
const SLICE_MS = 1;
/** Longest a window's summing may be spread over turns of the event loop (at most a quarter of the window). */
const MAX_SUM_DELAY_MS = 100;

/** A stopped window whose samples are being summed, and what it is delivered with. */
interface SummingWindow {
  pending: PendingWindow;
  reason: WindowEndReason;
  requests: RequestCounts | undefined;
  delivered: boolean;
  /** [reqprof/workers seam] the workers' CPU for this window. */
  workers?: WorkerWindow | undefined;
}

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
 */
export class Profiler {
  readonly #o: ResolvedOptions;
  readonly #deliveries: Delivery[];
  readonly #faults: RateLimitedLog;
  readonly #sleep = new WakeableSleep();
  #state: ProfilerState = 'idle';
  #pauseRequested = false;
  #stopRequested = false;
  #engine: SamplerEngine | undefined;
  #runPromise: Promise<void> | undefined;
  #resumeWaiter: (() => void) | undefined;
  #windowEnded: Array<() => void> = [];
  #exitHandler: (() => void) | undefined;
  #fold!: FoldSettings;
  readonly #wants: CollectWants;
  /** The stopped window whose samples are being summed, if any. */
  #summing: SummingWindow | undefined;
  #sourceMapper: SourceMapperLike | undefined;

  constructor(processor?: Processor | Processor[] | ProfilerConfig, interval?: number, window?: number, options?: ProfilerOptions) {
    this.#o = isProfilerConfig(processor) ? resolveConfig(processor, logProcessor) : resolveOptions(processor, interval, window, options, logProcessor);
    this.#faults = new RateLimitedLog(this.#o.logger ?? lazyLogger());
    this.#deliveries = this.#o.processors.map((p, i) => new Delivery(p, i, this.#faults, this.#o.topFunctions));
    this.#wants = {
      profile: this.#o.processors.some((p) => p.needs?.profile === true),
      functions: this.#o.topFunctions > 0,
    };
  }

  /** `idle`, `running`, `paused` or `stopped`. */
  get state(): ProfilerState {
    return this.#state;
  }

  /** How tags reach the sampler (`cped` or `async-hooks`); undefined until `run()` has chosen. */
  get mode(): EngineMode | undefined {
    return this.#engine?.mode;
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
    if (this.#state === 'stopped') return Promise.resolve();
    // The loop must not inherit the caller's tags: its own CPU is not a request's.
    const p = runWithTags(undefined, () => this.#loop());
    p.catch((err) => {
      this.#faults.error('run', errorFields(err), 'reqprof: the profiler could not run; the service goes on without CPU profiling');
    });
    this.#runPromise = p;
    return p;
  }

  /** Ends the current window (delivering it), and holds sampling until `resume()`. */
  async pause(): Promise<void> {
    if (this.#state === 'stopped' || this.#pauseRequested) return this.#flush();
    this.#pauseRequested = true;
    if (this.#state === 'running') {
      await this.#endWindowEarly();
    }
    await this.#flush();
  }

  /** Starts sampling again after `pause()`. */
  async resume(): Promise<void> {
    if (!this.#pauseRequested) return;
    this.#pauseRequested = false;
    const w = this.#resumeWaiter;
    this.#resumeWaiter = undefined;
    w?.();
  }

  /** Ends the current window, delivers it, and ends the loop. Idempotent. */
  async stop(): Promise<void> {
    if (!this.#stopRequested) {
      this.#stopRequested = true;
      const w = this.#resumeWaiter;
      this.#resumeWaiter = undefined;
      w?.();
      this.#sleep.wake();
    }
    if (this.#runPromise) {
      await this.#runPromise.catch(() => {});
    } else {
      this.#state = 'stopped';
    }
    await this.#flush();
  }

  /** Waits for every processor to finish what it holds, at most `flushTimeoutMs`. */
  async #flush(): Promise<void> {
    const all = Promise.all(this.#deliveries.map((d) => d.idle()));
    const ok = await within(all, this.#o.flushTimeoutMs);
    if (!ok) {
      const busy = this.#deliveries.filter((d) => d.busy).map((d) => d.name);
      this.#faults.warn('flush-timeout', { processors: busy, flushTimeoutMs: this.#o.flushTimeoutMs },
        `reqprof: processor(s) ${busy.join(', ')} still busy after ${this.#o.flushTimeoutMs} ms; not waiting any longer`);
    }
  }

  #endWindowEarly(): Promise<void> {
    return new Promise((resolve) => {
      this.#windowEnded.push(resolve);
      this.#sleep.wake();
    });
  }

  async #loop(): Promise<void> {
    const o = this.#o;
    // Synchronous up to the first window's start (unless source maps must load
    // first): after `void profiler.run()` the sampler is already on.
    try {
      this.#engine = createEngine(o.engine, o.samplingIntervalMicros, o.maxTagSets);
    } catch (err) {
      this.#state = 'stopped';
      throw err;
    }
    if (o.sourceMapDirs.length > 0) {
      try {
        this.#sourceMapper = await createSourceMapper(o.sourceMapDirs);
      } catch (err) {
        this.#faults.warn('source-maps', errorFields(err), 'reqprof: could not load source maps; frames point at the generated files');
      }
    }
    const mapper = this.#sourceMapper;
    this.#fold = {
      ...(mapper ? { mapLocation: (f) => mapper.map(f) } : {}),
      intervalMs: o.intervalMs,
      windowMs: o.windowMs,
      samplingIntervalMicros: o.samplingIntervalMicros,
      maxTagSets: o.maxTagSets,
      mode: this.#engine.mode,
    };
    logStart(o, this.#engine.mode);
    // [reqprof/workers seam] workers sample with the same settings.
    workersLoopStarted({ samplingIntervalMicros: o.samplingIntervalMicros, windowMs: o.windowMs, intervalMs: o.intervalMs, maxTagSets: o.maxTagSets });
    // Buffer for the longest window plus generous scheduling slack.
    const bufferMs = Math.ceil(o.windowMs * 1.5 + 2_000);
    this.#installExitHandler();
    try {
      let firstWindow = true;
      // Back-to-back windows end on a fixed grid (start + k x window), so the
      // time spent collecting never makes windows drift or shrink in number.
      let windowEnd: number | undefined;
      const engine = this.#engine;
      // A stop or pause asked while a window was being summed finds the next
      // window already sampling (restarted without a gap): it is ended and
      // delivered like any other before the loop stops or pauses.
      while (!this.#stopRequested || engine.started) {
        if (this.#pauseRequested && !engine.started) {
          this.#state = 'paused';
          this.#notifyWindowEnded();
          await new Promise<void>((resolve) => (this.#resumeWaiter = resolve));
          firstWindow = true;
          windowEnd = undefined;
          continue;
        }
        this.#state = 'running';
        if (!engine.started) {
          if (o.intervalMs > 0 && !firstWindow) {
            await this.#sleep.sleep(o.intervalMs);
            if (this.#stopRequested || this.#pauseRequested) continue;
          }
          firstWindow = false;
          engine.start(bufferMs, this.#sourceMapper?.native);
          startupSelfCheck(engine, this.#o.logger ?? getDefaultLogger());
        }
        const now = performance.now();
        if (windowEnd === undefined || o.intervalMs > 0 || windowEnd <= now) windowEnd = now + o.windowMs;
        if (!this.#stopRequested && !this.#pauseRequested) await this.#sleep.sleep(windowEnd - now);
        windowEnd += o.windowMs;
        const ending = this.#stopRequested ? 'stop' : this.#pauseRequested ? 'pause' : 'window';
        const restart = ending === 'window' && o.intervalMs === 0;
        let pending: PendingWindow | undefined;
        try {
          pending = engine.stop(restart, this.#wants);
        } catch (err) {
          engine.abort();
          this.#faults.error('collect', errorFields(err), 'reqprof: the sampler failed to stop a window; it is skipped and sampling restarts');
        }
        if (pending) await this.#sumAndDeliver(pending, ending);
        this.#notifyWindowEnded();
      }
    } finally {
      this.#engine.abort();
      this.#removeExitHandler();
      this.#state = 'stopped';
      this.#notifyWindowEnded();
    }
  }

  /**
   * Sums a stopped window's samples in slices of at most `SLICE_MS`, giving
   * the event loop back between them (a 30 s window at 1 kHz is tens of
   * thousands of samples: summed at once, that is tens of ms during which no
   * request is served), then delivers it.
   */
  async #sumAndDeliver(pending: PendingWindow, reason: WindowEndReason): Promise<void> {
    const requests = takeRequestCounts();
    const state: SummingWindow = { pending, reason, requests, delivered: false };
    // [reqprof/workers seam] ask the workers for this window while it is summed.
    const fromWorkers = workersWindowEnded(reason);
    this.#summing = state;
    // A busy event loop gives each slice one turn: past a bound, the rest is
    // summed at once, so a window is never delivered so late that the next
    // one reaches the processors first.
    const latest = performance.now() + Math.min(MAX_SUM_DELAY_MS, this.#o.windowMs / 4);
    try {
      do await yieldToEventLoop();
      while (!state.delivered && performance.now() < latest && !pending.step(performance.now() + SLICE_MS));
      if (fromWorkers !== undefined) state.workers = await fromWorkers; // [reqprof/workers seam]
      if (!state.delivered) this.#finishAndDeliver(state, false);
    } finally {
      this.#summing = undefined;
    }
  }

  #finishAndDeliver(state: SummingWindow, sync: boolean): void {
    state.delivered = true;
    let raw;
    try {
      raw = state.pending.finish();
    } catch (err) {
      this.#faults.error('aggregate', errorFields(err), 'reqprof: could not sum a window; it is skipped');
      return;
    }
    if (state.requests) raw.requests = state.requests;
    // [reqprof/workers seam] workers' CPU joins the window before it is folded.
    mergeWorkerWindow(raw, state.workers ?? (sync ? workersTakeNow() : undefined), (this.#o.intervalMs + this.#o.windowMs) / this.#o.windowMs);
    this.#deliver(raw, state.reason, sync);
  }

  #notifyWindowEnded(): void {
    const waiters = this.#windowEnded;
    this.#windowEnded = [];
    for (const w of waiters) w();
  }

  #deliver(raw: Parameters<typeof foldWindow>[0], reason: WindowEndReason, sync = false): void {
    let data: WindowData;
    try {
      data = foldWindow(raw, this.#fold, reason);
    } catch (err) {
      this.#faults.error('aggregate', errorFields(err), 'reqprof: could not aggregate a window; it is skipped');
      return;
    }
    if (data.info.overflowTagSets > 0) {
      // Once per window that overflowed (at most one line per window by construction).
      (this.#o.logger ?? getDefaultLogger()).warn({ overflowTagSets: data.info.overflowTagSets, maxTagSets: this.#o.maxTagSets },
        `reqprof: more than ${this.#o.maxTagSets} distinct tag sets in one window; the rest were folded into reqprof_overflow=true (is a user id or other unbounded value in a tag?)`);
    }
    for (const d of this.#deliveries) {
      if (sync) d.pushSync(data);
      else d.push(data);
    }
  }

  /**
   * On process exit: deliver the partial window synchronously (what processors
   * do synchronously lands) unless `flushOnExit` is off, and always stop the
   * sampler, so no profiling signal arrives while the runtime shuts down.
   */
  #installExitHandler(): void {
    this.#exitHandler = () => {
      const engine = this.#engine;
      if (engine === undefined) return;
      try {
        // A window still being summed is finished first, then the partial one.
        if (this.#o.flushOnExit && this.#summing && !this.#summing.delivered) this.#finishAndDeliver(this.#summing, true);
        if (this.#o.flushOnExit && engine.started) {
          const pending = engine.stop(false, this.#wants);
          this.#finishAndDeliver({ pending, reason: 'exit', requests: takeRequestCounts(), delivered: false }, true);
        }
      } catch {
        // The process is ending: nothing more to do than stop sampling.
      }
      engine.abort();
    };
    process.prependListener('exit', this.#exitHandler);
  }

  #removeExitHandler(): void {
    if (this.#exitHandler) process.removeListener('exit', this.#exitHandler);
    this.#exitHandler = undefined;
  }
}

function lazyLogger(): Logger {
  return {
    info: (o, m) => getDefaultLogger().info(o, m),
    warn: (o, m) => getDefaultLogger().warn(o, m),
    error: (o, m) => getDefaultLogger().error(o, m),
  };
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
