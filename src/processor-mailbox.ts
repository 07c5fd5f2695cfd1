import { cloneSummedWindow, mergeSummedWindows, toProfiles, type SummedWindow } from './aggregate.js';
import { errorFields, type RateLimitedLog } from './rate-limited-log.js';
import { within } from './util/wait.js';
import type { Processor } from './types.js';

/** The delivery whose processor is running its synchronous part right now, if any. */
let calling: ProcessorMailbox | undefined;

/**
 * Hands windows to one processor. The processor does not run twice at once:
 * windows that arrive while it is busy are merged into one pending delivery
 * (values summed), so a slow processor costs neither CPU accounting nor memory.
 *
 * Each call is bounded: a promise (or any thenable) that has not settled after
 * `boundMs` is logged (once per processor, rate-limited) and no longer waited
 * for, so the next windows are still delivered to that processor (its calls
 * may then overlap the one that never settled), and pause()/stop() do not wait
 * for a processor whose last call did not settle in time.
 */
export class ProcessorMailbox {
  readonly name: string;
  readonly #boundMs: number;
  #hung = false;
  readonly #processor: Processor;
  readonly #faults: RateLimitedLog;
  #pending: SummedWindow | undefined;
  /** Whether #pending is this delivery's own copy (merging into a shared window would change other processors' data). */
  #pendingOwned = false;
  #running: Promise<void> | undefined;
  #idleWaiters: Array<() => void> = [];

  readonly #topFunctions: number;

  constructor(processor: Processor, index: number, faults: RateLimitedLog, topFunctions = 0, boundMs = 5_000) {
    this.#boundMs = boundMs;
    this.#topFunctions = topFunctions;
    this.#processor = processor;
    this.name = processor.name || `processor[${index}]`;
    this.#faults = faults;
  }

  get busy(): boolean {
    return this.#running !== undefined;
  }

  /** Whether the processor's last call did not settle within the bound (and has not since). */
  get hung(): boolean {
    return this.#hung;
  }

  /** The delivery whose processor is in its synchronous part now (a pause() or stop() from inside a processor). */
  static calling(): ProcessorMailbox | undefined {
    return calling;
  }

  /**
   * Queues `data` (merged with anything still pending) and starts delivering if
   * idle. The window is shared with the other processors' deliveries, and only
   * copied when a busy processor makes a merge necessary: most windows are
   * delivered as they are, without a copy at window end.
   */
  push(data: SummedWindow): void {
    this.#pending = this.#merge(data);
    // Deferred to a microtask: #drain may finish synchronously (a processor that
    // throws at once), and must not clear #running before it was even set.
    if (this.#running === undefined) this.#running = Promise.resolve().then(() => this.#drain());
  }

  /** Delivers what is pending synchronously, ignoring any promise the processor returns (process exit). */
  pushSync(data: SummedWindow): void {
    const pending = this.#merge(data);
    this.#pending = undefined;
    const { profiles, window } = toProfiles(pending, this.#topFunctions);
    try {
      const r = this.#call(profiles, window);
      if (isThenable(r)) Promise.resolve(r).then(undefined, () => {});
    } catch (err) {
      this.#fault(err);
    }
  }

  #call(profiles: Parameters<Processor>[0], window: Parameters<Processor>[1]): unknown {
    const outer = calling;
    calling = this;
    try {
      return this.#processor(profiles, window);
    } finally {
      calling = outer;
    }
  }

  #merge(data: SummedWindow): SummedWindow {
    if (this.#pending === undefined) {
      this.#pendingOwned = false;
      return data;
    }
    if (!this.#pendingOwned) {
      this.#pending = cloneSummedWindow(this.#pending);
      this.#pendingOwned = true;
    }
    return mergeSummedWindows(this.#pending, data);
  }

  /** Resolves when nothing is pending or running. */
  idle(): Promise<void> {
    if (this.#running === undefined && this.#pending === undefined) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  async #drain(): Promise<void> {
    while (this.#pending !== undefined) {
      const data = this.#pending;
      this.#pending = undefined;
      const { profiles, window } = toProfiles(data, this.#topFunctions);
      let result: unknown;
      try {
        result = this.#call(profiles, window);
      } catch (err) {
        this.#fault(err);
        this.#hung = false;
        continue;
      }
      if (!isThenable(result)) {
        this.#hung = false;
        continue;
      }
      // Promise.resolve also adopts a thenable whose then() throws (as a rejection).
      const settled = await within(Promise.resolve(result).then(undefined, (err) => this.#fault(err)), this.#boundMs);
      this.#hung = !settled;
      if (!settled) {
        this.#faults.warn(`processor-hung:${this.name}`, { processor: this.name, boundMs: this.#boundMs },
          `reqprof: processor "${this.name}" did not settle within ${this.#boundMs} ms; not waiting for it, later windows are still delivered to it`);
      }
    }
    this.#running = undefined;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }

  #fault(err: unknown): void {
    this.#faults.error(`processor:${this.name}`, { processor: this.name, ...errorFields(err) },
      `reqprof: processor "${this.name}" failed; the profiler goes on and later windows are still delivered`);
  }
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (typeof v === 'object' || typeof v === 'function') && v !== null && typeof (v as { then?: unknown }).then === 'function';
}
