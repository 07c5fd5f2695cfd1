/**
 * What the integration tests share: a workload with known per-route CPU, a
 * large JSON body, a loopback HTTP client, a capturing logger, and the
 * profiled run that compares measured shares with the timed truth.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { newProfiler, type Logger, type Profiler } from '../../src/index.js';
import { GroundTruth, Recorder, burn, compareShares } from '../helpers/cpu.js';

/** Handler CPU per route, in ms of synchronous burn. */
export const ROUTE_COST_MS = { '/light': 3, '/heavy': 12, '/ingest': 8 } as const;

/** The keys the workload produces: transport tag `route`, message tag `tenant`. */
export const KEYS = {
  light: 'route=/light',
  heavy: 'route=/heavy',
  /** Reading and decoding the big body: the transport-stage tags only. */
  ingestDecode: 'route=/ingest',
  /** The handler of /ingest: both stages' tags. */
  ingestHandler: 'route=/ingest|tenant=acme',
};

/** A JSON document of about `bytes` bytes, many small objects (decoding it is CPU-heavy). */
export function makeJsonBody(bytes: number, tenant: string): Buffer {
  const items: unknown[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const it = { id: i, sku: 'sku-' + i, qty: i % 7, price: ((i * 37) % 1000) / 10, tags: ['a', 'b', 'c'] };
    items.push(it);
    size += JSON.stringify(it).length + 1;
  }
  return Buffer.from(JSON.stringify({ tenant, items }));
}

/**
 * A clock for the truth of the JS thread's CPU. CPU rather than wall time: on
 * a busy machine a burst can be descheduled, and the sampler measures CPU.
 * Node >= 23.9 reads the thread's own CPU; Node 20 only has the process's,
 * which also counts GC helper threads working in parallel (while a big body
 * is decoded), so there the smaller of wall and process CPU time is used.
 */
const threadCpu = (process as { threadCpuUsage?: () => NodeJS.CpuUsage }).threadCpuUsage?.bind(process);
export interface CpuMark { cpu: number; wall: number }
export function cpuMark(): CpuMark {
  const u = threadCpu ? threadCpu() : process.cpuUsage();
  return { cpu: (u.user + u.system) / 1000, wall: performance.now() };
}
export function cpuSince(m: CpuMark): number {
  const now = cpuMark();
  const cpu = now.cpu - m.cpu;
  return threadCpu ? cpu : Math.min(cpu, now.wall - m.wall);
}

/** CPU ms spent in `fn`. */
export function cpuTimed(fn: () => void): number {
  const m = cpuMark();
  fn();
  return cpuSince(m);
}

/** Burns `ms` and records the CPU it took as ground truth under `key`. */
export function burnFor(truth: GroundTruth, key: string, ms: number): void {
  truth.add(key, cpuTimed(() => burn(ms)));
}

/**
 * A route's handler work: half its cost now, half after a setImmediate (the
 * tags must follow), recorded as truth under the key the route should produce.
 */
export function serveRoute(truth: GroundTruth, path: string): Promise<void> {
  const cost = ROUTE_COST_MS[path as keyof typeof ROUTE_COST_MS];
  if (cost === undefined) return Promise.reject(new Error(`no such route ${path}`));
  const key = path === '/ingest' ? KEYS.ingestHandler : `route=${path}`;
  burnFor(truth, key, cost / 2);
  return new Promise((resolve) => setImmediate(() => {
    burnFor(truth, key, cost / 2);
    resolve();
  }));
}

export interface CapturedLog {
  level: 'info' | 'warn' | 'error';
  obj: Record<string, unknown>;
  msg: string | undefined;
}

/** A pino-compatible logger that keeps what it is given. */
export function captureLogger(): Logger & { records: CapturedLog[] } {
  const records: CapturedLog[] = [];
  const at = (level: CapturedLog['level']) => (obj: object, msg?: string) => {
    records.push({ level, obj: obj as Record<string, unknown>, msg });
  };
  return { records, info: at('info'), warn: at('warn'), error: at('error') };
}

export interface Reply {
  status: number;
  body: string;
  /** Local port of the client socket: the same value means the same keep-alive connection. */
  clientPort: number;
}

/** One HTTP request over loopback with node:http (a real client). */
export function request(
  port: number,
  opts: { method?: string; path: string; headers?: Record<string, string>; body?: Buffer | string; agent?: http.Agent },
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const body = opts.body === undefined ? undefined : Buffer.from(opts.body);
    const req = http.request({
      host: '127.0.0.1',
      port,
      method: opts.method ?? (body ? 'POST' : 'GET'),
      path: opts.path,
      agent: opts.agent ?? false,
      headers: { ...(body ? { 'content-type': 'application/json', 'content-length': String(body.length) } : {}), ...opts.headers },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({
        status: res.statusCode ?? 0,
        body: Buffer.concat(chunks).toString('utf8'),
        clientPort: (req.socket?.localPort ?? 0),
      }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export function portOf(server: { address(): AddressInfo | string | null }): number {
  return (server.address() as AddressInfo).port;
}

/** The request mix every HTTP integration test sends: light, heavy, then a big POST, one at a time. */
/** One per-framework accuracy test's parts: the timed truth, the decode clock, a 2 MB JSON body and the keys compared. */
export function accuracyCase() {
  return {
    truth: new GroundTruth(),
    clock: new DecodeClock(),
    body: makeJsonBody(2_000_000, 'acme'),
    keys: [KEYS.light, KEYS.heavy, KEYS.ingestDecode, KEYS.ingestHandler],
  };
}

/** Sends the accuracy workload (3 s of rounds) to `port`, then closes the server whatever happened. */
export async function sendWorkloadThenClose(port: number, body: Buffer, close: () => Promise<unknown>): Promise<void> {
  try {
    await sendWorkload(port, body, 3000);
  } finally {
    await close();
  }
}

export async function sendWorkload(port: number, body: Buffer, durationMs: number, agent?: http.Agent): Promise<number> {
  const end = performance.now() + durationMs;
  let rounds = 0;
  while (performance.now() < end) {
    for (const r of [
      await request(port, { path: '/light', agent }),
      await request(port, { path: '/heavy?x=1', agent }),
      await request(port, { path: '/ingest', body, agent }),
    ]) {
      if (r.status !== 200) throw new Error(`workload request failed: ${r.status} ${r.body}`);
    }
    rounds++;
  }
  return rounds;
}

export interface ShareResult {
  ok: boolean;
  report: string;
  maxError: number;
  samples: number;
  recorder: Recorder;
}

/**
 * Runs a profiler (1 ms sampling, 1 s windows) around `workload`, then
 * compares the shares of `keys` with `truth`. Prints the comparison, prefixed
 * with `label`, so runs can be compared across Node versions.
 *
 * The slack (untimed CPU) is 5 pp rather than 3: collecting the garbage of a
 * decoded multi-MB body is CPU the truth cannot time, and V8 runs it at a
 * later allocation, often the handler's (measured on Node 20: about 0.1 s per
 * 3 s run in the gRPC test, billed to the message-stage tags).
 * REQPROF_TEST_TOP=1 also prints each tag set's top functions, to see where a
 * share error comes from.
 */
export async function profileAndCompare(
  label: string,
  truth: GroundTruth,
  keys: string[],
  workload: (profiler: ReturnType<typeof newProfiler>) => Promise<void>,
  slack = 0.05,
): Promise<ShareResult> {
  const recorder = new Recorder();
  const profiler = newProfiler(recorder.processor, 0, 1000, { samplingIntervalMicros: 1000, ...(process.env.REQPROF_TEST_TOP ? { topFunctions: 8 } : {}) });
  const running = profiler.run();
  try {
    await workload(profiler);
  } finally {
    await profiler.stop();
    await running;
  }
  const { shares, samples } = recorder.sharesAmong(keys);
  const cmp = compareShares(truth.shares(), shares, samples, slack);
  const report = `[${label}] node ${process.version} mode ${profiler.mode}: max share error ${(cmp.maxError * 100).toFixed(1)} pp\n${cmp.report}`;
  console.log(report);
  if (process.env.REQPROF_TEST_TOP) {
    const top = new Map<string, Map<string, number>>();
    for (const w of recorder.windows) for (const pr of w.profiles) for (const f of pr.topFunctions ?? []) {
      const m = top.get(pr.key) ?? new Map<string, number>();
      const k = `${f.name} ${f.file.split('/').slice(-2).join('/')}:${f.line}`;
      m.set(k, (m.get(k) ?? 0) + f.value / 1e6);
      top.set(pr.key, m);
    }
    for (const [k, m] of top) console.log(k || '(untagged)', [...m].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([n, v]) => `${n}=${v.toFixed(0)}ms`).join('; '));
  }
  return { ok: cmp.ok, report, maxError: cmp.maxError, samples, recorder };
}

/** The transport-stage tagging every HTTP test uses: the route template when known, else the path. */
export function routeTag(info: { route: string | undefined; path: string }): { route: string } {
  return { route: info.route ?? info.path };
}

/** The message-stage tagging every test uses: the tenant named in the body, if any. */
export function tenantTag(message: unknown): { tenant: string } | undefined {
  const t = (message as { tenant?: unknown } | undefined)?.tenant;
  return typeof t === 'string' ? { tenant: t } : undefined;
}

/**
 * Times body decoding inside a framework whose parser we cannot wrap: from
 * the request body's last byte ('end', listened to before the parser does) to
 * the message stage. Everything in between is reading and decoding, billed to
 * the transport tags; the client sends one request at a time, so nothing else
 * runs meanwhile.
 */
export class DecodeClock {
  readonly #endAt = new WeakMap<object, CpuMark>();

  /** Call before the body parser registers its own listeners. */
  watch(req: http.IncomingMessage): void {
    req.once('end', () => this.#endAt.set(req, cpuMark()));
  }

  /** CPU ms since the body ended, recorded once, under `key`; from the message-stage tagging function. */
  record(truth: GroundTruth, key: string, req: http.IncomingMessage): void {
    const t = this.#endAt.get(req);
    if (t === undefined) return;
    this.#endAt.delete(req);
    truth.add(key, cpuSince(t));
  }
}

export { GroundTruth };

/** Starts a node:http server for `listener` on a free loopback port. */
export async function listenHttp(listener: http.RequestListener): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer(listener);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: portOf(server) };
}

/** Closes a server and every keep-alive connection it still holds. */
export async function closeHttp(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
}

/** A profiler that is already stopped: integrations given it tag requests without sampling. */
export async function stoppedProfiler(): Promise<Profiler> {
  const p = newProfiler(() => {}, 0, 1000);
  await p.stop();
  return p;
}
