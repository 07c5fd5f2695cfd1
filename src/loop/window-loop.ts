import { sumAndCapWindow, windowScale, type FoldSettings, type SummedWindow } from '../aggregate.js';
import { logStart } from './start-line.js';
import type { ProcessorMailbox } from '../processor-mailbox.js';
import { createEngine, type SamplerEngine } from '../engine/index.js';
import { startupSelfCheck } from '../engine/self-check.js';
import type { CollectWants, SummingWindow, SampledWindow } from '../engine/types.js';
import { createSourceMapper, type SourceMapperLike } from '../engine/source-maps.js';
import { getDefaultLogger } from '../logger.js';
import type { ResolvedOptions } from '../options.js';
import { RateLimitedLog, errorFields } from '../rate-limited-log.js';
import { closeRequestCounting, openRequestCounting, takeRequestCounts, type RequestCounts } from '../request-counter.js';
import { yieldToEventLoop } from '../util/wait.js';
import type { WindowEndReason } from '../types.js';
import { realClock, type LoopClock, type TimerKind } from './clock.js';
import { installExitFlush } from './exit-flush.js';
import { setActiveSettings, workersLoopStarted, workersTakeNow, workersWindowEnded } from '../workers/seam.js';
import { mergeWorkerWindow, type WorkerWindow } from '../workers/window.js';

/**
 * Where the window loop is. `summing`: a window has ended and its samples are
 * being summed over a few turns of the event loop (when `interval` is 0 the
 * next window is already sampling meanwhile). Delivering is not a phase: each
 * processor gets the window on its own (src/delivery.ts) while the loop goes on.
 */
export type LoopPhase = 'idle' | 'starting' | 'sampling' | 'summing' | 'gap' | 'paused' | 'stopped';

/** What a user can ask of the loop (process exit is handled apart: it has no later turn). */
export type LoopRequest = 'pause' | 'resume' | 'stop';

/*
 * Every request in every phase has one outcome. Requests are queued and taken
 * in order at the loop's next decision point; pause() and stop() then also
 * wait (at most flushTimeoutMs) for the processors to finish the windows
 * handed to them. docs/lifecycle.md has the same table; test/loop/state-machine.test.ts
 * has one test per cell.
 *
 * phase    | run()          | pause()                         | resume()                 | stop()                          | process exit
 * ---------|----------------|---------------------------------|--------------------------|---------------------------------|----------------------------------
 * idle     | -> starting    | run() will start paused         | undoes a pause before    | -> stopped for good             | nothing to deliver
 *          |                |                                 | run()                    |                                 |
 * starting | same promise   | -> paused, sampler never on     | no-op                    | -> stopped, sampler never on    | nothing to deliver
 * sampling | same promise   | window ends now (reason pause), | no-op                    | window ends now (reason stop),  | window ends now (reason exit),
 *          |                | is delivered, -> paused         |                          | is delivered, -> stopped        | delivered synchronously
 * summing  | same promise   | summed window delivered (reason | no-op                    | as pause, -> stopped            | summed window delivered, then the
 *          |                | window); the next one, sampling |                          |                                 | one sampling (reason exit), both
 *          |                | if interval is 0, ends (pause)  |                          |                                 | synchronously
 *          |                | and is delivered; -> paused     |                          |                                 |
 * gap      | same promise   | -> paused (sampler already off) | no-op                    | -> stopped                      | nothing to deliver
 * paused   | same promise   | no-op                           | a window starts now      | -> stopped                      | nothing to deliver
 *          |                |                                 | (no gap) -> sampling     |                                 |
 * stopped  | resolves now   | resolves now                    | no-op                    | resolves now                    | nothing to deliver
 *
 * A request asked from inside a processor meets the phase the loop is in at
 * that moment; pause()/stop() called during a processor's synchronous part
 * do not wait for that processor (it gets the window once it returns).
 */

/** Longest slice of window-end summing between two turns of the event loop. */
const SLICE_MS = 1;
/** Longest a window's summing may be spread over turns of the event loop (at most a quarter of the window). */
const MAX_SUM_DELAY_MS = 100;

interface Queued {
  request: LoopRequest;
  done: () => void;
}

/** The loop's record of a window that has ended: the engine's `SummingWindow`, why it ended, and what it is delivered with. */
interface EndedWindow {
  pending: SummingWindow;
  reason: WindowEndReason;
  requests: RequestCounts | undefined;
  delivered: boolean;
  /** Worker threads' CPU of this window: asked for at its end, merged before folding. */
  fromWorkers?: Promise<WorkerWindow | undefined>;
  workers?: WorkerWindow | undefined;
}

export interface LoopParts {
  options: ResolvedOptions;
  deliveries: readonly ProcessorMailbox[];
  faults: RateLimitedLog;
  wants: CollectWants;
}

/** The window loop: one phase at a time, requests taken from a queue. */
export class WindowLoop {
  readonly #o: ResolvedOptions;
  readonly #deliveries: readonly ProcessorMailbox[];
  readonly #faults: RateLimitedLog;
  readonly #wants: CollectWants;
  /** Where time comes from; tests swap in a manual clock before run(). */
  clock: LoopClock = realClock;
  #phase: LoopPhase = 'idle';
  #startPaused = false;
  #queue: Queued[] = [];
  /** Requests answered once the loop has entered its next phase. */
  #answerOnNextPhase: Array<() => void> = [];
  #wake: (() => void) | undefined;
  #engine: SamplerEngine | undefined;
  #fold!: FoldSettings;
  #sourceMapper: SourceMapperLike | undefined;
  #summing: EndedWindow | undefined;
  /** Back-to-back windows end on a fixed grid (start + k x window), so summing never makes them drift. */
  #windowEnd: number | undefined;
  #handoffs = 0;
  /** Whether this loop opened request counting (a profiler that failed to start must not close another's). */
  #counting = false;
  readonly #phaseListeners = new Set<(phase: LoopPhase) => void>();

  constructor(parts: LoopParts) {
    this.#o = parts.options;
    this.#deliveries = parts.deliveries;
    this.#faults = parts.faults;
    this.#wants = parts.wants;
  }

  get phase(): LoopPhase {
    return this.#phase;
  }

  get engine(): SamplerEngine | undefined {
    return this.#engine;
  }

  /** Windows handed to the processors so far. */
  get handoffs(): number {
    return this.#handoffs;
  }

  /** Test seam: called synchronously at each phase change. */
  onPhase(listener: (phase: LoopPhase) => void): () => void {
    this.#phaseListeners.add(listener);
    return () => this.#phaseListeners.delete(listener);
  }

  /** Asks the loop for `request`; resolves once the loop has carried it out (see the table above). */
  request(request: LoopRequest): Promise<void> {
    if (this.#phase === 'stopped') return Promise.resolve();
    if (this.#phase === 'idle') {
      if (request === 'stop') this.#setPhase('stopped');
      else this.#startPaused = request === 'pause';
      return Promise.resolve();
    }
    return new Promise((done) => {
      this.#queue.push({ request, done });
      this.#wake?.();
    });
  }

  /** Runs until stopped. Synchronous up to the first window's start unless source maps must load first. */
  async run(): Promise<void> {
    const o = this.#o;
    this.#setPhase('starting');
    try {
      this.#engine = createEngine(o.engine, o.samplingIntervalMicros, o.maxTagSets);
    } catch (err) {
      this.#setPhase('stopped');
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
    // Worker threads (reqprof/workers) sample with the same settings.
    workersLoopStarted({ samplingIntervalMicros: o.samplingIntervalMicros, windowMs: o.windowMs, intervalMs: o.intervalMs, maxTagSets: o.maxTagSets });
    const removeExitFlush = installExitFlush(() => this.#onExit());
    try {
      let next: LoopPhase = this.#startPaused ? 'paused' : 'sampling';
      while (next !== 'stopped') {
        if (next === 'sampling') next = await this.#sampling();
        else if (next === 'gap') next = await this.#gap();
        else next = await this.#paused();
      }
    } finally {
      this.#engine.abort();
      // Also when a window's end failed: messages to workers stop carrying tags.
      setActiveSettings(undefined);
      removeExitFlush();
      this.#closeCounting();
      this.#setPhase('stopped');
    }
  }

  /** Starts a window unless one is already sampling (restarted without a gap), and ends it. */
  async #sampling(): Promise<LoopPhase> {
    const o = this.#o;
    const engine = this.#engine!;
    if (!engine.started) {
      // Requests queued while the sampler was off are carried out before it starts.
      const instead = this.#takeOffRequests();
      if (instead !== undefined) return instead;
      // Buffer for the longest window plus generous scheduling slack.
      engine.start(Math.ceil(o.windowMs * 1.5 + 2_000), this.#sourceMapper?.native);
      startupSelfCheck(engine, o.logger ?? getDefaultLogger());
      openRequestCounting();
      this.#counting = true;
      this.#windowEnd = undefined;
    }
    this.#setPhase('sampling');
    const now = performance.now();
    if (this.#windowEnd === undefined || o.intervalMs > 0 || this.#windowEnd <= now) this.#windowEnd = now + o.windowMs;
    let head: Queued | undefined;
    for (;;) {
      await this.#waitFor(this.#windowEnd - performance.now(), 'window');
      head = this.#queue[0];
      if (head?.request !== 'resume') break;
      this.#queue.shift();
      head.done();
    }
    this.#windowEnd += o.windowMs;
    const reason: WindowEndReason = head === undefined ? 'window' : head.request === 'stop' ? 'stop' : 'pause';
    await this.#endWindow(reason, reason === 'window' && o.intervalMs === 0);
    if (reason === 'window') return engine.started ? 'sampling' : o.intervalMs > 0 ? 'gap' : 'sampling';
    // The request that ended this window is answered once the loop is paused or stopped.
    this.#queue.shift();
    this.#answerOnNextPhase.push(head!.done);
    return reason === 'stop' ? 'stopped' : 'paused';
  }

  async #gap(): Promise<LoopPhase> {
    this.#setPhase('gap');
    const end = performance.now() + this.#o.intervalMs;
    for (;;) {
      await this.#waitFor(end - performance.now(), 'gap');
      const head = this.#queue.shift();
      if (head === undefined) return 'sampling';
      if (head.request === 'resume') {
        head.done();
        continue;
      }
      this.#answerOnNextPhase.push(head.done);
      return head.request === 'stop' ? 'stopped' : 'paused';
    }
  }

  async #paused(): Promise<LoopPhase> {
    this.#setPhase('paused');
    for (;;) {
      await this.#waitFor(undefined, 'gap');
      const head = this.#queue.shift()!;
      if (head.request === 'pause') {
        head.done();
        continue;
      }
      this.#answerOnNextPhase.push(head.done);
      return head.request === 'stop' ? 'stopped' : 'sampling';
    }
  }

  /** With the sampler off: pause and stop in the queue are carried out; resume is a no-op. */
  #takeOffRequests(): LoopPhase | undefined {
    for (let head = this.#queue.shift(); head !== undefined; head = this.#queue.shift()) {
      if (head.request === 'resume') {
        head.done();
        continue;
      }
      this.#answerOnNextPhase.push(head.done);
      return head.request === 'stop' ? 'stopped' : 'paused';
    }
    return undefined;
  }

  /** Resolves when a request is queued or, unless `ms` is undefined, when the clock's timer fires. */
  #waitFor(ms: number | undefined, kind: TimerKind): Promise<void> {
    if (this.#queue.length > 0) return Promise.resolve();
    return new Promise((resolve) => {
      let cancel = (): void => {};
      const done = (): void => {
        cancel();
        this.#wake = undefined;
        resolve();
      };
      this.#wake = done;
      if (ms !== undefined) cancel = this.clock.timer(Math.max(0, ms), kind, done);
    });
  }

  #setPhase(phase: LoopPhase): void {
    this.#phase = phase;
    if (phase === 'stopped') {
      for (const q of this.#queue.splice(0)) this.#answerOnNextPhase.push(q.done);
    }
    const answers = this.#answerOnNextPhase;
    this.#answerOnNextPhase = [];
    for (const a of answers) a();
    for (const l of this.#phaseListeners) l(phase);
  }

  /** Stops the window (restarting the sampler at once when `restart`), then sums and delivers it. */
  async #endWindow(reason: WindowEndReason, restart: boolean): Promise<void> {
    const engine = this.#engine!;
    let pending: SummingWindow | undefined;
    try {
      pending = engine.stop(restart, this.#wants);
    } catch (err) {
      engine.abort();
      this.#faults.error('collect', errorFields(err), 'reqprof: the sampler failed to stop a window; it is skipped and sampling restarts');
    }
    // Taken with the window, so a request is counted in the window it finished in;
    // counting goes on only if the next window is already sampling.
    const requests = takeRequestCounts(engine.started);
    this.#counting = engine.started;
    if (pending === undefined) return;
    const state: EndedWindow = { pending, reason, requests, delivered: false };
    // Worker threads are asked for their part of this window while it is summed.
    const fromWorkers = workersWindowEnded(reason);
    if (fromWorkers !== undefined) state.fromWorkers = fromWorkers;
    // Set before the phase changes, so an exit from then on finds the window to deliver.
    this.#summing = state;
    this.#setPhase('summing');
    await this.#sumAndDeliver(state);
  }

  /**
   * Sums a stopped window's samples in slices of at most `SLICE_MS`, giving
   * the event loop back between them (a 30 s window at 1 kHz is tens of
   * thousands of samples: summed at once, that is tens of ms during which no
   * request is served), then delivers it.
   */
  async #sumAndDeliver(state: EndedWindow): Promise<void> {
    // A busy event loop gives each slice one turn: past a bound, the rest is
    // summed at once, so a window is never delivered so late that the next
    // one reaches the processors first.
    const latest = performance.now() + Math.min(MAX_SUM_DELAY_MS, this.#o.windowMs / 4);
    try {
      do await yieldToEventLoop();
      while (!state.delivered && performance.now() < latest && !state.pending.step(performance.now() + SLICE_MS));
      if (state.fromWorkers !== undefined) state.workers = await state.fromWorkers;
      if (!state.delivered) this.#finishAndDeliver(state, false);
    } finally {
      this.#summing = undefined;
    }
  }

  #finishAndDeliver(state: EndedWindow, sync: boolean): void {
    state.delivered = true;
    let raw: SampledWindow;
    try {
      raw = state.pending.finish();
    } catch (err) {
      this.#faults.error('aggregate', errorFields(err), 'reqprof: could not sum a window; it is skipped');
      return;
    }
    if (state.requests) raw.requests = state.requests;
    // Worker threads' CPU joins the window before it is folded (at exit: what they already sent).
    mergeWorkerWindow(raw, state.workers ?? (sync ? workersTakeNow() : undefined), windowScale(this.#fold, state.reason));
    let data: SummedWindow;
    try {
      data = sumAndCapWindow(raw, this.#fold, state.reason);
    } catch (err) {
      this.#faults.error('aggregate', errorFields(err), 'reqprof: could not aggregate a window; it is skipped');
      return;
    }
    if (data.info.overflowTagSets > 0) {
      // Once per window that overflowed (at most one line per window by construction).
      (this.#o.logger ?? getDefaultLogger()).warn({ overflowTagSets: data.info.overflowTagSets, maxTagSets: this.#o.maxTagSets },
        `reqprof: more than ${this.#o.maxTagSets} distinct tag sets in one window; the rest were folded into reqprof_overflow=true (is a user id or other unbounded value in a tag?)`);
    }
    this.#handoffs++;
    for (const d of this.#deliveries) {
      if (sync) d.pushSync(data);
      else d.push(data);
    }
  }

  /**
   * On process exit: deliver what was sampled synchronously (what processors
   * do synchronously lands) unless `flushOnExit` is off, and always stop the
   * sampler, so no profiling signal arrives while the runtime shuts down.
   */
  #onExit(): void {
    const engine = this.#engine;
    if (engine === undefined) return;
    try {
      // A window still being summed is finished first, then the one sampling.
      if (this.#o.flushOnExit && this.#summing && !this.#summing.delivered) this.#finishAndDeliver(this.#summing, true);
      if (this.#o.flushOnExit && engine.started) {
        const pending = engine.stop(false, this.#wants);
        const requests = takeRequestCounts(false);
        this.#counting = false;
        this.#finishAndDeliver({ pending, reason: 'exit', requests, delivered: false }, true);
      }
    } catch {
      // The process is ending: nothing more to do than stop sampling.
    }
    engine.abort();
    this.#closeCounting();
    this.#setPhase('stopped');
  }

  #closeCounting(): void {
    if (this.#counting) closeRequestCounting();
    this.#counting = false;
  }
}
