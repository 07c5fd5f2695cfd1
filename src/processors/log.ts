import { optionTypeError } from '../errors.js';
import { getDefaultLogger, type Logger } from '../logger.js';
import { shareMargin } from '../share-interval.js';
import type { Processor, TagsProfile, WindowInfo } from '../types.js';

/** How the untagged group is shown, as Kitex's LogProcessor does. */
export const DEFAULT_TYPE_KEY = 'type=default';

function record(p: TagsProfile, samples: number) {
  return {
    key: p.key === '' ? DEFAULT_TYPE_KEY : p.key,
    percent: Math.round(p.percent * 10_000) / 100,
    // Half-width of the 95% interval of `percent`, in percentage points (see share-interval.ts).
    marginPct: Math.round(shareMargin(p.percent, samples) * 10_000) / 100,
    cpuMs: Math.round(p.value / 1e4) / 100,
    samples: p.samples,
    // Only where a server integration counts finished requests: CPU per request.
    ...(p.requests !== undefined ? {
      requests: p.requests,
      ...(p.requests > 0 ? { cpuMsPerRequest: Math.round(p.value / p.requests / 1e4) / 100 } : {}),
    } : {}),
    // Only with the profiler's `topFunctions` option: where the tag set's CPU goes.
    ...(p.topFunctions && p.topFunctions.length > 0 ? {
      topFunctions: p.topFunctions.map((f) => ({ name: f.name, file: f.file, line: f.line, percent: Math.round(f.percent * 10_000) / 100 })),
    } : {}),
  };
}

/** `, 30 requests, 1.25 ms CPU/request` or '' when requests are not counted. */
function requestsSuffix(r: ReturnType<typeof record>): string {
  if (r.requests === undefined) return '';
  return `, ${r.requests} requests${r.cpuMsPerRequest !== undefined ? `, ${r.cpuMsPerRequest} ms CPU/request` : ''}`;
}

/** ` top: renderInvoice (src/invoice.ts:10) 62.1%, ...` or '' when there are no top functions. */
function topSuffix(r: ReturnType<typeof record>): string {
  if (!r.topFunctions) return '';
  return ' top: ' + r.topFunctions.map((f) => `${f.name}${f.file ? ` (${f.file}${f.line ? `:${f.line}` : ''})` : ''} ${f.percent.toFixed(1)}%`).join(', ');
}

/**
 * A processor that writes each window to `logger` as structured records: one
 * summary record, then one record per tag set (key, percent and its 95%
 * margin `marginPct` in percentage points, CPU ms, samples,
 * and requests with the CPU per request where a server integration counts
 * them), largest first.
 */
export function createLogProcessor(logger: Logger): Processor {
  if (logger === null || typeof logger !== 'object' || typeof logger.info !== 'function') {
    throw optionTypeError('reqprof: createLogProcessor(logger): logger must be a pino logger (an object with an info method)');
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
      busySamples: window.busySamples,
      // The N of every record's marginPct: fewer than busySamples when samples carry unequal CPU.
      effectiveSamples: Math.round(window.effectiveSamples ?? window.busySamples),
      windows: window.windows,
      mode: window.mode,
    }, `reqprof: collected ${profiles.length} tag sets`);
    for (const p of profiles) {
      const r = record(p, window.effectiveSamples ?? window.busySamples);
      logger.info({ reqprof: 'tags', ...r }, `reqprof: ${r.key}: ${r.percent.toFixed(2)}% (${r.cpuMs} ms CPU, ${r.samples} samples${requestsSuffix(r)})${topSuffix(r)}`);
    }
  };
}

/** The default processor: `createLogProcessor` with reqprof's own pino logger (created on first window). */
export const logProcessor: Processor = function logProcessor(profiles, window) {
  return createLogProcessor(getDefaultLogger())(profiles, window);
};
