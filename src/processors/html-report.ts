import { resolve } from 'node:path';
import type { Processor, TagsProfile, WindowInfo } from '../types.js';
import { OptionChecker } from '../util/check-option.js';
import { buildFlameForest, buildFlameForestAsync } from './html-report/flame.js';
import { ReportHistory, flameOptions, flameView, latestWindow, type FlameView, type ModelLimits } from './html-report/model.js';
import { renderReportPage } from './html-report/page.js';
import { writeFileAtomic, writeFileAtomicSync } from '../util/write-atomic.js';

export interface HtmlReportOptions {
  /** Where the report goes (rewritten atomically each window). Default `reqprof-report.html` in the working directory. */
  file?: string;
  /** The page's title. Default `reqprof: CPU per tag set`. */
  title?: string;
  /** Windows the share chart covers. Default 60, range 1..10_000. */
  historyWindows?: number;
  /** Tag sets with a table row and a flame graph (the largest); the rest are summed into one row. Default 20, range 1..1000. */
  maxTagSets?: number;
  /** Tag sets with their own colour in the chart; the rest show as one grey series. Default 10, range 1..50. */
  chartSeries?: number;
  /** Flame-graph nodes kept over all tag sets (the largest by CPU; smaller ones fold into their callers). Default 20_000, range 100..1_000_000. */
  maxFlameNodes?: number;
  /** Called after each write with the report's absolute path, e.g. to print where it is. */
  onWrite?: (file: string, window: WindowInfo) => void;
}

/** The processor, with the report's absolute path. */
export type HtmlReportProcessor = Processor & { readonly file: string };

export const DEFAULT_REPORT_FILE = 'reqprof-report.html';

const check = new OptionChecker('htmlReportProcessor');

/**
 * A processor that keeps one self-contained HTML page up to date (no network
 * fetches: styles, script and data are inline): CPU share per tag set over the
 * last windows, a table of the latest window with samples and 95% intervals, and
 * a flame graph per tag set built from the window's labelled profile. Its size
 * is bounded by `historyWindows`, `maxTagSets` and `maxFlameNodes`.
 */
export function htmlReportProcessor(options: HtmlReportOptions = {}): HtmlReportProcessor {
  const o = check.object(options, false);
  const file = resolve(check.string('file', o.file, DEFAULT_REPORT_FILE));
  const title = check.string('title', o.title, 'reqprof: CPU per tag set');
  const maxTagSets = check.integer('maxTagSets', o.maxTagSets, 20, 1, 1000);
  const limits: ModelLimits = {
    historyWindows: check.integer('historyWindows', o.historyWindows, 60, 1, 10_000),
    maxTagSets,
    chartSeries: check.integer('chartSeries', o.chartSeries, 10, 1, 50),
    maxFlameNodes: check.integer('maxFlameNodes', o.maxFlameNodes, 20_000, 100, 1_000_000),
    hotFunctions: 3,
  };
  const onWrite = check.fn<(file: string, window: WindowInfo) => void>('onWrite', o.onWrite);
  const history = new ReportHistory(limits);

  const render = (profiles: TagsProfile[], window: WindowInfo, flame: FlameView | null): string => renderReportPage({
    title,
    generatedAt: Date.now(),
    mode: window.mode,
    samplingIntervalMicros: window.samplingIntervalMicros,
    windowMs: window.windowMs,
    latest: latestWindow(profiles, window, limits, flame),
    history: history.chart(),
    flame,
  });

  const processor = function htmlReportProcessor(profiles: TagsProfile[], window: WindowInfo): Promise<void> | void {
    history.add(profiles, window);
    const sources = window.profiles ?? [];
    const options = flameOptions(profiles, limits);
    // The window delivered while the process exits gets no later turn of the event loop.
    if (window.reason === 'exit') {
      writeFileAtomicSync(file, render(profiles, window, sources.length > 0 ? flameView(buildFlameForest(sources, options)) : null));
      onWrite?.(file, window);
      return;
    }
    return (async () => {
      // The call trees are built in slices, so a big window does not block the event loop.
      const flame = sources.length > 0 ? flameView(await buildFlameForestAsync(sources, options)) : null;
      await writeFileAtomic(file, render(profiles, window, flame));
      onWrite?.(file, window);
    })();
  };
  return Object.defineProperties(processor, {
    needs: { value: Object.freeze({ profile: true }), enumerable: true },
    file: { value: file, enumerable: true },
  }) as HtmlReportProcessor;
}
