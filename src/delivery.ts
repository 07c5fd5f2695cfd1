import { cloneWindowData, mergeWindowData, toProfiles, type WindowData } from './aggregate.js';
import { errorFields, type RateLimitedLog } from './rate-limited-log.js';
import type { Processor } from './types.js';

/**
 * Hands windows to one processor. The processor never runs twice at once:
 * windows that arrive while it is busy are merged into one pending delivery
 * (values summed), so a slow processor costs neither CPU accounting nor memory.
 */
export class Delivery {
  readonly name: string;
  readonly #processor: Processor;
  readonly #faults: RateLimitedLog;
  #pending: WindowData | undefined;
  /** Whether #pending is this delivery's own copy (merging into a shared window would change other processors' data). */
  #pendingOwned = false;
  #running: Promise<void> | undefined;
  #idleWaiters: Array<() => void> = [];

  readonly #topFunctions: number;

  constructor(processor: Processor, index: number, faults: RateLimitedLog, topFunctions = 0) {
    this.#topFunctions = topFunctions;
    this.#processor = processor;
    this.name = processor.name || `processor[${index}]`;
    this.#faults = faults;
  }

  get busy(): boolean {
    return this.#running !== undefined;
  }

  /**
   * Queues `data` (merged with anything still pending) and starts delivering if
   * idle. The window is shared with the other processors' deliveries, and only
   * copied when a busy processor makes a merge necessary: most windows are
   * delivered as they are, without a copy at window end.
   */
  push(data: WindowData): void {
    this.#pending = this.#merge(data);
    // Deferred to a microtask: #drain may finish synchronously (a processor that
    // throws at once), and must not clear #running before it was even set.
    if (this.#running === undefined) this.#running = Promise.resolve().then(() => this.#drain());
  }

  /** Delivers what is pending synchronously, ignoring any promise the processor returns (process exit). */
  pushSync(data: WindowData): void {
    const pending = this.#merge(data);
    this.#pending = undefined;
    const { profiles, window } = toProfiles(pending, this.#topFunctions);
    try {
      const r = this.#processor(profiles, window);
      if (r && typeof (r as Promise<void>).then === 'function') (r as Promise<void>).then(undefined, () => {});
    } catch (err) {
      this.#fault(err);
    }
  }

  #merge(data: WindowData): WindowData {
    if (this.#pending === undefined) {
      this.#pendingOwned = false;
      return data;
    }
    if (!this.#pendingOwned) {
      this.#pending = cloneWindowData(this.#pending);
      this.#pendingOwned = true;
    }
    return mergeWindowData(this.#pending, data);
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
      try {
        await this.#processor(profiles, window);
      } catch (err) {
        this.#fault(err);
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
