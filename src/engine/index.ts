import { CpedEngine } from './cped.js';
import { HooksEngine } from './hooks.js';
import { engineUnsupportedError } from '../errors.js';
import { asyncContextFrameActive, loadPprof } from './native.js';
import type { EngineMode, SamplerEngine } from './types.js';

export type { EngineMode, SampledWindow, SamplerEngine, TagSetTotals } from './types.js';

/** Which path will carry tags here. Detected from the runtime, never guessed from the version. */
export type EngineChoice = EngineMode | 'auto';

/**
 * Loads the addon and picks the path: CPED where AsyncContextFrame is really
 * active (asked of the addon), the async_hooks bridge elsewhere.
 */
export function createEngine(choice: EngineChoice, samplingIntervalMicros: number, maxTagSets: number): SamplerEngine {
  loadPprof();
  assertEngineSupported(choice);
  const cped = asyncContextFrameActive();
  if (choice === 'cped' || (choice === 'auto' && cped)) return new CpedEngine(samplingIntervalMicros, maxTagSets);
  return new HooksEngine(samplingIntervalMicros);
}

/**
 * Throws REQPROF_ERR_ENGINE_UNSUPPORTED when `choice` is `cped` and
 * AsyncContextFrame is not active here (asked of the addon, which it loads).
 */
export function assertEngineSupported(choice: EngineChoice): void {
  if (choice !== 'cped') return;
  loadPprof();
  if (asyncContextFrameActive()) return;
  throw engineUnsupportedError(
    `reqprof: option "engine" is "cped" but AsyncContextFrame is not active on Node ${process.version}; ` +
    'use Node >= 24 (without --no-async-context-frame), Node 22 with --experimental-async-context-frame, or engine "auto".');
}
