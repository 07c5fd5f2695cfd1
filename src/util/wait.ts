/** Resolves with `true` when `p` settles within `ms`, `false` otherwise; the timer never holds the process. */
export function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    t.unref();
    p.then(
      () => {
        clearTimeout(t);
        resolve(true);
      },
      () => {
        clearTimeout(t);
        resolve(true);
      },
    );
  });
}

/**
 * Resolves on a later turn of the event loop, so other work runs in between.
 * A zero-delay timer, not setImmediate: a loop busy with short timers (work,
 * then `await sleep(1)`) can keep its timers phase going and starve the
 * immediates for seconds; a timer waits its turn among them.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
