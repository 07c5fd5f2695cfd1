import { getDefaultLogger, type Logger } from '../logger.js';
import type { Processor, TagsProfile, WindowInfo } from '../types.js';

/** How the untagged group is shown, as Kitex's LogProcessor does. */
export const DEFAULT_TYPE_KEY = 'type=default';

function record(p: TagsProfile) {
  return {
    key: p.key === '' ? DEFAULT_TYPE_KEY : p.key,
    percent: Math.round(p.percent * 10_000) / 100,
    cpuMs: Math.round(p.value / 1e4) / 100,
    samples: p.samples,
  };
}

/**
 * A processor that writes each window to `logger` as structured records: one
 * summary record, then one record per tag set (key, percent, CPU ms, samples),
 * largest first.
 */
export function createLogProcessor(logger: Logger): Processor {
  if (logger === null || typeof logger !== 'object' || typeof logger.info !== 'function') {
    throw new TypeError('reqprof: createLogProcessor(logger): logger must be a pino logger (an object with an info method)');
  }
  return function logProcessor(profiles: TagsProfile[], window: WindowInfo): void {
    logger.info({
      reqprof: 'window',
      start: new Date(window.start).toISOString(),
      durationMs: window.durationMs,
      tagSets: profiles.length,
      totalCpuMs: Math.round(window.totalCpu / 1e4) / 100,
      untaggedCpuMs: Math.round(window.untaggedCpu / 1e4) / 100,
      samples: window.samples,
      windows: window.windows,
      mode: window.mode,
    }, `reqprof: collected ${profiles.length} tag sets`);
    for (const p of profiles) {
      const r = record(p);
      logger.info({ reqprof: 'tags', ...r }, `reqprof: ${r.key}: ${r.percent.toFixed(2)}% (${r.cpuMs} ms CPU, ${r.samples} samples)`);
    }
  };
}

/** The default processor: `createLogProcessor` with reqprof's own pino logger (created on first window). */
export const logProcessor: Processor = function logProcessor(profiles, window) {
  return createLogProcessor(getDefaultLogger())(profiles, window);
};
