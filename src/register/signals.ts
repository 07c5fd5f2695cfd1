/**
 * SIGTERM and SIGINT deliver the partial window without changing how the app
 * ends. A listener disables Node's default action (exit by the signal), so:
 *
 * - when the app has its own listener, reqprof does nothing more: the app
 *   decides, and the profiler's exit flush delivers the window when it exits;
 * - when reqprof's listener is the only one, it stops the profiler (bounded
 *   by `timeoutMs`), removes itself and raises the signal again, so the
 *   process ends exactly as it would have without reqprof (killed by the
 *   signal, the same exit status).
 */
const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

export function deliverOnSignals(stop: () => Promise<void>, timeoutMs: number): () => void {
  const handlers = SIGNALS.map((signal) => {
    const onSignal = (): void => {
      if (process.listenerCount(signal) > 1) return;
      process.removeListener(signal, onSignal);
      let raised = false;
      const raise = () => {
        if (raised) return;
        raised = true;
        process.kill(process.pid, signal);
      };
      setTimeout(raise, timeoutMs).unref();
      stop().then(raise, raise);
    };
    process.on(signal, onSignal);
    return { signal, onSignal };
  });
  return () => {
    for (const h of handlers) process.removeListener(h.signal, h.onSignal);
  };
}
