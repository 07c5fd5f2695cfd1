import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { runWithTags } from '../context.js';
import { optionTypeError } from '../errors.js';
import { OptionChecker } from '../util/check-option.js';
import { Profiler } from '../profiler.js';
import { mergeProfiles } from './pprof-merge.js';
import { debugProcessor, type DebugRecorder, type RecordedWindow } from './recorder.js';
import { renderDebugReport } from './report-page.js';

const gzipAsync = promisify(gzip);

/** What `/metrics` serves: a prom-client `Registry` or anything with the same two members. */
export interface MetricsRegistry {
  metrics(): Promise<string> | string;
  contentType: string;
}

export interface DebugHandlerOptions {
  /** Where the windows come from: a recorder among the profiler's processors. Default `debugProcessor`. */
  recorder?: DebugRecorder;
  /** What `/metrics` serves; default prom-client's default registry (loaded on the first scrape); `false`: no `/metrics`. */
  registry?: MetricsRegistry | false;
  /** The report page's title. Default `reqprof: CPU per tag set`. */
  title?: string;
}

/** A node:http request listener that is also Express/Connect middleware: unknown paths go to `next` (or get a 404). */
export type DebugHandler = (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void;

/** Go's default for `/debug/pprof/profile` without `seconds`. */
const DEFAULT_SECONDS = 30;
const MAX_SECONDS = 86_400;
/**
 * Pull scrapers (Grafana Alloy, Parca) ask for `seconds` = their scrape interval
 * minus one second and come back every interval: one more second makes each
 * window land in exactly one scrape.
 */
const SCRAPE_SLACK_MS = 1000;

const check = new OptionChecker('debugHandler');

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/**
 * The live debug endpoint, off until you mount it (loopback only, as with Go's
 * net/http/pprof: it shows your request tags and code):
 *
 * - `/metrics`: Prometheus text of prom-client's default registry (or `registry`);
 * - `/debug/reqprof/`: the HTML report of the recorded windows;
 * - `/debug/reqprof/profile`: the latest window's labelled pprof, gzipped
 *   (`go tool pprof -tags http://127.0.0.1:PORT/debug/reqprof/profile`);
 * - `/debug/reqprof/windows.json`: the recorded windows' `TagsProfile[]` and `WindowInfo`;
 * - `/debug/pprof/profile?seconds=N`: the windows that ended in the last N
 *   seconds (default 30), merged into one labelled profile, for pull-based
 *   fleet profilers.
 *
 * Requests to it run untagged, so they never count as the app's traffic.
 */
export function debugHandler(profiler: Profiler, options: DebugHandlerOptions = {}): DebugHandler {
  if (!(profiler instanceof Profiler)) {
    throw optionTypeError(`reqprof: debugHandler(profiler, options): profiler must be a Profiler from newProfiler(), got ${profiler === null ? 'null' : typeof profiler}`);
  }
  const o = check.object(options, false);
  const recorder = (o.recorder === undefined ? debugProcessor : o.recorder) as DebugRecorder;
  if (typeof recorder !== 'function' || typeof recorder.windows !== 'function') {
    throw optionTypeError('reqprof: debugHandler option "recorder" must be a recorder from createDebugRecorder() (or debugProcessor)');
  }
  const registry = o.registry;
  if (registry !== undefined && registry !== false && (registry === null || typeof (registry as MetricsRegistry).metrics !== 'function')) {
    throw optionTypeError('reqprof: debugHandler option "registry" must be a prom-client Registry (with metrics() and contentType) or false');
  }
  const title = check.string('title', o.title, 'reqprof: CPU per tag set');
  const metrics = registry === false ? undefined : lazyRegistry(registry as MetricsRegistry | undefined);

  const routes: Record<string, (url: URL, res: ServerResponse) => Promise<void>> = {
    '/debug/reqprof/': (_, res) => servePage(res, recorder.windows(), title),
    '/debug/reqprof': (_, res) => servePage(res, recorder.windows(), title),
    '/debug/reqprof/profile': (_, res) => serveLatestProfile(res, recorder.windows()),
    '/debug/reqprof/windows.json': async (_, res) => send(res, 200, 'application/json; charset=utf-8', windowsJson(profiler, recorder.windows())),
    '/debug/pprof/profile': (url, res) => serveRecentProfile(res, recorder.windows(), url.searchParams.get('seconds')),
  };
  if (metrics) routes['/metrics'] = (_, res) => serveMetrics(res, metrics);

  return function reqprofDebugHandler(req, res, next) {
    // Untagged: a request to the debug endpoint is never the app's traffic, even mounted behind a tagging middleware.
    runWithTags(undefined, () => {
      let url: URL;
      try {
        url = new URL(req.url ?? '', 'http://debug.invalid');
      } catch {
        return send(res, 400, 'text/plain; charset=utf-8', 'reqprof: malformed request URL\n');
      }
      const route = Object.hasOwn(routes, url.pathname) ? routes[url.pathname] : undefined;
      if (!route) {
        if (typeof next === 'function') return next();
        return send(res, 404, 'text/plain; charset=utf-8', `reqprof: no such debug page; try /debug/reqprof/\n`);
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('Allow', 'GET, HEAD');
        return send(res, 405, 'text/plain; charset=utf-8', 'reqprof: the debug endpoint answers GET and HEAD only\n');
      }
      route(url, res).catch((err: unknown) => {
        if (err instanceof HttpError) return send(res, err.status, 'text/plain; charset=utf-8', `reqprof: ${err.message}\n`);
        if (res.headersSent) return void res.destroy();
        send(res, 500, 'text/plain; charset=utf-8', `reqprof: the debug endpoint failed: ${err instanceof Error ? err.message : String(err)}\n`);
      });
    });
  };
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.writableEnded) return;
  res.writeHead(status, {
    'Content-Type': type,
    'Content-Length': String(Buffer.byteLength(body)),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...headers,
  });
  res.end(body);
}

async function servePage(res: ServerResponse, windows: readonly RecordedWindow[], title: string): Promise<void> {
  const page = await renderDebugReport(windows, title);
  if (page === undefined) {
    throw new HttpError(404, 'no window recorded yet: is debugProcessor (or the recorder given to debugHandler) among the profiler\'s processors, and has a window ended?');
  }
  send(res, 200, 'text/html; charset=utf-8', page, {
    'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:",
  });
}

/** The newest window that has a profile, as the issue's `go tool pprof -tags URL` expects. */
async function serveLatestProfile(res: ServerResponse, windows: readonly RecordedWindow[]): Promise<void> {
  let latest: RecordedWindow | undefined;
  for (let i = windows.length - 1; i >= 0 && !latest; i--) if (windows[i]!.pprof) latest = windows[i];
  if (!latest) throw new HttpError(404, 'no profile recorded yet: no window with a profile has ended');
  await sendProfile(res, [latest]);
}

async function serveRecentProfile(res: ServerResponse, windows: readonly RecordedWindow[], secondsParam: string | null): Promise<void> {
  let seconds = DEFAULT_SECONDS;
  if (secondsParam !== null) {
    seconds = /^\d{1,6}$/.test(secondsParam) ? Number(secondsParam) : NaN;
    if (!(seconds >= 1 && seconds <= MAX_SECONDS)) throw new HttpError(400, `seconds must be an integer from 1 to ${MAX_SECONDS}, got ${JSON.stringify(secondsParam.slice(0, 40))}`);
  }
  const since = Date.now() - seconds * 1000 - SCRAPE_SLACK_MS;
  await sendProfile(res, windows.filter((w) => w.pprof !== undefined && w.window.end > since), since);
}

async function sendProfile(res: ServerResponse, windows: readonly RecordedWindow[], emptyStart = Date.now()): Promise<void> {
  const start = windows.length > 0 ? windows[0]!.window.start : emptyStart;
  const end = windows.length > 0 ? windows.at(-1)!.window.end : Date.now();
  const merged = mergeProfiles(windows.flatMap((w) => w.pprof ?? []), { startMs: start, durationMs: end - start });
  const body = await gzipAsync(await merged.encodeAsync());
  send(res, 200, 'application/octet-stream', body, { 'Content-Disposition': 'attachment; filename="profile.pb.gz"' });
}

function windowsJson(profiler: Profiler, windows: readonly RecordedWindow[]): string {
  return JSON.stringify({
    profiler: {
      state: profiler.state,
      mode: profiler.mode ?? null,
      windowMs: profiler.windowMs,
      intervalMs: profiler.intervalMs,
      samplingIntervalMicros: profiler.samplingIntervalMicros,
    },
    windows: windows.map((w) => ({ window: w.window, profiles: w.profiles })),
  });
}

async function serveMetrics(res: ServerResponse, registry: () => Promise<MetricsRegistry>): Promise<void> {
  const r = await registry();
  send(res, 200, r.contentType, await r.metrics());
}

/** prom-client is an optional peer: loaded when `/metrics` is first asked for, not when reqprof/http is imported. */
function lazyRegistry(given: MetricsRegistry | undefined): () => Promise<MetricsRegistry> {
  let loading: Promise<MetricsRegistry> | undefined;
  return () => {
    if (given) return Promise.resolve(given);
    loading ??= import('prom-client').then(
      (m) => (m as { register: MetricsRegistry }).register ?? (m as unknown as { default: { register: MetricsRegistry } }).default.register,
      () => {
        loading = undefined;
        throw new HttpError(501, 'prom-client is not installed: npm install prom-client (or pass debugHandler a registry)');
      },
    );
    return loading;
  };
}
