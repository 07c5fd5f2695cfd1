/**
 * Test seam, not public API (not exported from the package): drives a
 * profiler's window loop without waiting for time to pass. Tests call
 * `loopOf(profiler).useManualClock()` before `run()`; windows and `interval`
 * gaps then end only when the test says so.
 */
import { ManualClock, type TimerKind } from './clock.js';
import type { LoopPhase, WindowLoop } from './window-loop.js';

const loops = new WeakMap<object, WindowLoop>();

/** @internal The Profiler registers its loop here. */
export function registerLoop(owner: object, loop: WindowLoop): void {
  loops.set(owner, loop);
}

export interface LoopSeam {
  readonly phase: LoopPhase;
  /** Windows handed to the processors so far. */
  readonly handoffs: number;
  /** From now on (call before run()) windows and gaps end only through `endWindow()` / `endGap()`. */
  useManualClock(): LoopSeam;
  /** Calls `listener` synchronously at each phase change (to act in a phase as short as `summing`). */
  onPhase(listener: (phase: LoopPhase) => void): () => void;
  /** Resolves once the loop is in `phase` (checked at each turn of the event loop). */
  reach(phase: LoopPhase): Promise<void>;
  /** Ends the sampling window now; resolves once it was handed to the processors and they were called. */
  endWindow(): Promise<void>;
  /** Ends the `interval` gap now; resolves once the next window samples. */
  endGap(): Promise<void>;
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export function loopOf(profiler: object): LoopSeam {
  const loop = loops.get(profiler);
  if (loop === undefined) throw new TypeError('not a reqprof Profiler');
  const manual = (): ManualClock => {
    if (!(loop.clock instanceof ManualClock)) throw new Error('call useManualClock() before run()');
    return loop.clock;
  };
  const waitFor = async (cond: () => boolean): Promise<void> => {
    while (!cond()) await turn();
  };
  const fire = async (kind: TimerKind): Promise<void> => {
    const clock = manual();
    await waitFor(() => clock.waiting(kind));
    clock.fire(kind);
  };
  const seam: LoopSeam = {
    get phase() {
      return loop.phase;
    },
    get handoffs() {
      return loop.handoffs;
    },
    useManualClock() {
      if (loop.phase !== 'idle') throw new Error('useManualClock() must come before run()');
      loop.clock = new ManualClock();
      return seam;
    },
    onPhase: (listener) => loop.onPhase(listener),
    reach: (phase) => waitFor(() => loop.phase === phase),
    async endWindow() {
      const before = loop.handoffs;
      await fire('window');
      await waitFor(() => loop.handoffs > before && loop.phase !== 'summing');
      // Processors are called on a microtask after the handoff.
      await turn();
    },
    async endGap() {
      await fire('gap');
      await waitFor(() => loop.phase === 'sampling');
    },
  };
  return seam;
}
