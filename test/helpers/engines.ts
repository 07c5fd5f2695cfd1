import { createRequire } from 'node:module';

/** Whether AsyncContextFrame is active here (Node >= 24), asked of the addon like the profiler does. */
export function cpedAvailable(): boolean {
  const require = createRequire(import.meta.url);
  const acf = require('@datadog/pprof/out/src/async-context-frame.js') as { isAsyncContextFrameActive(): boolean };
  return acf.isAsyncContextFrameActive();
}

/** The engine paths this runtime can exercise: Node 24 runs both, Node 20 only async-hooks. */
export function enginesHere(): Array<'cped' | 'async-hooks'> {
  return cpedAvailable() ? ['cped', 'async-hooks'] : ['async-hooks'];
}
