import type { Profile } from 'pprof-format';
import { OptionChecker } from '../util/check-option.js';
import type { Processor, TagsProfile, WindowInfo } from '../types.js';

/** One delivered window as the debug endpoint keeps it. */
export interface RecordedWindow {
  profiles: TagsProfile[];
  /** The window's info, without its pprof profiles (those are in `pprof`). */
  window: Omit<WindowInfo, 'profiles'>;
  /** The window's labelled pprof profiles (one per sampler window), while it is among the newest `maxProfileWindows`. */
  pprof: Profile[] | undefined;
}

export interface DebugRecorderOptions {
  /** Windows kept (their `TagsProfile[]` and `WindowInfo`). Default 30, range 1..10_000. */
  maxWindows?: number;
  /** Of those, how many newest keep their labelled pprof profile (the memory-heavy part). Default 10, range 0..1000. */
  maxProfileWindows?: number;
}

/** A processor that keeps the last windows for the debug endpoint, and what it kept. */
export type DebugRecorder = Processor & {
  /** The kept windows, oldest first. */
  windows(): readonly RecordedWindow[];
  /** Forgets every window. */
  clear(): void;
};

const check = new OptionChecker('createDebugRecorder');

/**
 * A ring of the profiler's recent windows: add it to the profiler's processors
 * and give it to `debugHandler` (which uses `debugProcessor`, the process-wide
 * one, by default). It declares `needs: { profile: true }`, so the profiler
 * builds each window's labelled pprof profile.
 */
export function createDebugRecorder(options: DebugRecorderOptions = {}): DebugRecorder {
  const o = check.object(options, false);
  const maxWindows = check.integer('maxWindows', o.maxWindows, 30, 1, 10_000);
  const maxProfileWindows = check.integer('maxProfileWindows', o.maxProfileWindows, 10, 0, 1000);
  const ring: RecordedWindow[] = [];

  const processor = function debugProcessor(profiles: TagsProfile[], window: WindowInfo): void {
    const { profiles: pprof, ...info } = window;
    ring.push({ profiles, window: info, pprof: pprof && pprof.length > 0 && maxProfileWindows > 0 ? pprof : undefined });
    if (ring.length > maxWindows) ring.splice(0, ring.length - maxWindows);
    // Profiles are the heavy part: only the newest windows keep theirs.
    for (let i = 0; i < ring.length - maxProfileWindows; i++) ring[i]!.pprof = undefined;
  };
  return Object.defineProperties(processor, {
    needs: { value: Object.freeze({ profile: true }), enumerable: true },
    windows: { value: (): readonly RecordedWindow[] => ring.slice() },
    clear: { value: (): void => void ring.splice(0) },
  }) as DebugRecorder;
}

/**
 * The process-wide recorder `debugHandler` reads unless given another: put it
 * among the processors, `newProfiler([logProcessor, debugProcessor])`. One is
 * enough, as only one profiler can sample a thread at a time.
 */
export const debugProcessor: DebugRecorder = createDebugRecorder();
