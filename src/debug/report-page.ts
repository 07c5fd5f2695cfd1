import { buildFlameForestAsync } from '../processors/html-report/flame.js';
import { ReportHistory, flameOptions, flameView, latestWindow, type ModelLimits } from '../processors/html-report/model.js';
import { renderReportPage } from '../processors/html-report/page.js';
import type { WindowInfo } from '../types.js';
import type { RecordedWindow } from './recorder.js';

/** The page's caps: the same defaults as `htmlReportProcessor`. */
const LIMITS: Omit<ModelLimits, 'historyWindows'> = { maxTagSets: 20, chartSeries: 10, maxFlameNodes: 20_000, hotFunctions: 3 };

/**
 * The window the table and flame graph show: the newest full one. A partial
 * window (ended early by `stop()` or `pause()`, or at exit) holds only what ran
 * since the last window ended, often next to nothing, so it must not hide the
 * last full window; it is shown only when no full window exists yet.
 */
export function shownWindow(windows: readonly RecordedWindow[]): RecordedWindow | undefined {
  for (let i = windows.length - 1; i >= 0; i--) if (windows[i]!.window.reason === 'window') return windows[i];
  return windows.at(-1);
}

/** The HTML report of the recorded windows: the chart covers them all, the table and flame graph the shown one. */
export async function renderDebugReport(windows: readonly RecordedWindow[], title: string): Promise<string | undefined> {
  const shown = shownWindow(windows);
  if (!shown) return undefined;
  const limits: ModelLimits = { ...LIMITS, historyWindows: Math.max(1, windows.length) };
  const history = new ReportHistory(limits);
  for (const w of windows) history.add(w.profiles, w.window as WindowInfo);
  const flame = shown.pprof ? flameView(await buildFlameForestAsync(shown.pprof, flameOptions(shown.profiles, limits))) : null;
  return renderReportPage({
    title,
    generatedAt: Date.now(),
    mode: shown.window.mode,
    samplingIntervalMicros: shown.window.samplingIntervalMicros,
    windowMs: shown.window.windowMs,
    latest: latestWindow(shown.profiles, shown.window as WindowInfo, limits, flame),
    history: history.chart(),
    flame,
  });
}
