/** What a loop timer waits for: the end of a sampling window or of an `interval` gap. */
export type TimerKind = 'window' | 'gap';

/**
 * The window loop's only source of time. The real one uses timers that never
 * hold the process open; tests swap in a manual one (src/loop/test-seam.ts)
 * so windows end when the test says, not after so many milliseconds.
 */
export interface LoopClock {
  /** Calls `fire` after `ms`; the returned function cancels it. */
  timer(ms: number, kind: TimerKind, fire: () => void): () => void;
}

export const realClock: LoopClock = {
  timer(ms, _kind, fire) {
    const t = setTimeout(fire, ms);
    t.unref();
    return () => clearTimeout(t);
  },
};

/** A clock whose timers fire only when `fire(kind)` is called. */
export class ManualClock implements LoopClock {
  readonly #pending = new Map<TimerKind, () => void>();

  timer(_ms: number, kind: TimerKind, fire: () => void): () => void {
    this.#pending.set(kind, fire);
    return () => {
      if (this.#pending.get(kind) === fire) this.#pending.delete(kind);
    };
  }

  /** Whether a timer of `kind` is waiting. */
  waiting(kind: TimerKind): boolean {
    return this.#pending.has(kind);
  }

  /** Fires the waiting timer of `kind`; false when none waits. */
  fire(kind: TimerKind): boolean {
    const f = this.#pending.get(kind);
    if (f === undefined) return false;
    this.#pending.delete(kind);
    f();
    return true;
  }
}
