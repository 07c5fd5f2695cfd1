import { createRequire } from 'node:module';
import { ErrorCodes, samplerError } from '../errors.js';

// require(), not import(): on Node 20 a dynamic import of a CommonJS package can
// wait seconds behind a busy event loop, and the profiler must start promptly.
const require = createRequire(import.meta.url);

/**
 * Loads `@datadog/pprof` lazily: importing reqprof never loads the native addon,
 * so a runtime without it can still start the service with profiling off; the
 * failure surfaces, with a clear error, when a profiler runs.
 */
export type PprofModule = typeof import('@datadog/pprof');
export type TimeProfiler = PprofModule['time'];

let pprof: PprofModule | undefined;
let simulatedFailure: Error | undefined;
let acfActive: boolean | undefined;

/** Test seam: simulate a runtime where the addon cannot be loaded (undefined restores). */
export function simulateNativeLoadFailureForTests(err: Error | undefined): void {
  simulatedFailure = err;
}

function unavailable(err: unknown): Error {
  return samplerError(ErrorCodes.SAMPLER_UNAVAILABLE,
    `reqprof: the native sampler (@datadog/pprof) cannot be loaded on Node ${process.version} ` +
    `(${process.platform}-${process.arch}): ${(err as Error)?.message ?? String(err)}. ` +
    'The service runs on without CPU profiling.', err);
}

export function loadPprof(): PprofModule {
  if (simulatedFailure) throw unavailable(simulatedFailure);
  if (pprof) return pprof;
  try {
    const loaded = require('@datadog/pprof') as PprofModule;
    // Touch the addon now, so a missing prebuild fails here and not mid-window.
    void loaded.time.isStarted();
    acfActive = probeAsyncContextFrame();
    pprof = loaded;
    return pprof;
  } catch (err) {
    throw unavailable(err);
  }
}

/** The loaded module; only valid after `loadPprof()` resolved. */
export function loadedPprof(): PprofModule {
  if (!pprof) throw new Error('reqprof: internal error: @datadog/pprof used before it was loaded');
  return pprof;
}

/**
 * Whether AsyncLocalStorage is backed by AsyncContextFrame in this process, i.e.
 * whether continuation-preserved embedder data carries contexts. Asked of the
 * addon itself: Node 22 without --experimental-async-context-frame, or Node 24
 * with --no-async-context-frame, starts fine with useCPED and loses every context.
 */
export function asyncContextFrameActive(): boolean {
  return acfActive === true;
}

function probeAsyncContextFrame(): boolean {
  try {
    const acf = require('@datadog/pprof/out/src/async-context-frame.js') as { isAsyncContextFrameActive?: () => boolean };
    return typeof acf.isAsyncContextFrameActive === 'function' ? acf.isAsyncContextFrameActive() : false;
  } catch {
    // An addon version without the probe: assume no frames, the hooks path works everywhere.
    return false;
  }
}
