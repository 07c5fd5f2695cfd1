// npm run soak: a profiled HTTP service under mixed traffic for SOAK_SECONDS
// (default 600) with faults injected everywhere reqprof touches user code:
// tagging functions that throw, reject, return odd arrays, huge strings,
// thousands of tags or prototype keys; user ids in a tag (100k distinct
// values); processors that throw, are slower than a window, and one that
// hangs forever. Reports requests failed (must be 0), windows delivered vs
// expected (must match), and RSS and heap over time (must be flat after warm-up).
import { fork } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { newProfiler, withProfiler, withProfilerTransInfoTagging, withProfilerMessageTagging, withLogger } from 'reqprof';
import { reqprofHandler } from 'reqprof/http';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const WINDOW_MS = Number(process.env.SOAK_WINDOW_MS ?? 2000);
const WARMUP_S = Math.min(60, SECONDS / 5);

const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
function burn(ms) { const e = cpuMs() + ms; let x = 0; while (cpuMs() < e) for (let i = 0; i < 100; i++) x = (x * 31 + 7) % 1_000_003; return x; }

// reqprof's own warnings, counted by kind (they must stay rate-limited).
const logCounts = new Map();
const logger = {
  info() {},
  warn(obj, msg) { const k = obj?.kind ?? msg; logCounts.set(k, (logCounts.get(k) ?? 0) + 1); },
  error(obj, msg) { const k = obj?.kind ?? msg; logCounts.set(k, (logCounts.get(k) ?? 0) + 1); },
};

let seq = 0;
function faultyTransportTagging(info) {
  const n = seq++;
  switch (n % 20) {
    case 0: throw new Error('tagging bug');
    case 1: return ['route', info.path, 'tenant']; // odd length
    case 2: return { route: info.path, blob: 'x'.repeat(200_000) }; // huge value: bounded
    case 3: return Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`k${i}`, 'v'])); // thousands: rejected
    case 4: return JSON.parse('{"__proto__": {"polluted": "yes"}, "constructor": "x"}'); // objects as values: rejected
    default: return { route: info.path, tenant: String(info.headers?.['x-tenant'] ?? 'none'), user: String(info.headers?.['x-user'] ?? '') };
  }
}
async function faultyMessageTagging(message) {
  if (seq % 13 === 0) throw new Error('async tagging bug');
  return { type: message?.type ?? 'unknown' };
}

// Processors: the one we count with, and the faulty ones.
let windows = 0;
let windowsMerged = 0;
let overflowWindows = 0;
function counting(profiles, window) {
  windows++;
  windowsMerged += window.windows;
  if (window.overflowTagSets > 0) overflowWindows++;
}
let thrown = 0;
function throwing() { if (++thrown % 3 === 0) throw new Error('processor bug'); }
async function slow() { await new Promise((r) => setTimeout(r, WINDOW_MS * 1.5)); }
let hung = false;
function hangsOnce() { if (!hung) { hung = true; return new Promise(() => {}); } }

const profiler = newProfiler([counting, throwing, slow, hangsOnce], 0, WINDOW_MS, { logger, maxTagSets: 500, flushTimeoutMs: 3000 });
const handler = reqprofHandler(async (req, res, body) => {
  const cost = { '/orders': 2, '/search': 0.5, '/profile': 0.2, '/report': 4 }[req.url.split('?')[0]] ?? 0.1;
  burn(cost / 2);
  await new Promise((r) => setImmediate(r));
  burn(cost / 2);
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ ok: true, items: body?.items?.length ?? 0 }));
}, withProfiler(profiler), withProfilerTransInfoTagging(faultyTransportTagging), withProfilerMessageTagging(faultyMessageTagging), withLogger(logger));

const server = http.createServer(handler);
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const started = Date.now();
void profiler.run();
const load = fork(fileURLToPath(new URL('./load.mjs', import.meta.url)), [String(server.address().port), '8']);
let last = { sent: 0, failed: 0 };
load.on('message', (m) => { last = m; });

const mb = (b) => (b / 1048576).toFixed(1);
const rows = [];
function sample() {
  const m = process.memoryUsage();
  const t = Math.round((Date.now() - started) / 1000);
  rows.push({ t, rss: m.rss, heap: m.heapUsed });
  console.log(`t=${String(t).padStart(4)} s  requests ${String(last.sent).padStart(8)}  failed ${last.failed}  windows ${windows}  rss ${mb(m.rss)} MB  heap ${mb(m.heapUsed)} MB`);
}
const timer = setInterval(sample, Math.max(5, Math.min(30, SECONDS / 10)) * 1000);
await new Promise((r) => setTimeout(r, SECONDS * 1000));
clearInterval(timer);
sample();
load.send('stop');
const final = await new Promise((resolve) => load.on('message', (m) => { if (m.done) resolve(m); }));
const elapsed = Date.now() - started;
await profiler.stop();
server.close();
server.closeAllConnections();

const expected = Math.floor(elapsed / WINDOW_MS);
const afterWarmup = rows.filter((r) => r.t >= WARMUP_S);
const growth = (k) => (afterWarmup.length > 1 ? afterWarmup[afterWarmup.length - 1][k] - afterWarmup[0][k] : 0);
console.log('\nsoak result');
console.log(`  node ${process.version}, engine ${profiler.mode}, ${SECONDS} s, windows of ${WINDOW_MS} ms`);
console.log(`  requests sent          ${final.sent}`);
console.log(`  requests failed        ${final.failed}${final.failures && Object.keys(final.failures).length ? ' ' + JSON.stringify(final.failures) : ''}`);
console.log(`  windows delivered      ${windowsMerged} sampler windows in ${windows} deliveries (expected ${expected} full windows + the final partial one)`);
console.log(`  windows overflowing    ${overflowWindows} (maxTagSets 500, user ids in a tag)`);
console.log(`  rss growth after ${WARMUP_S} s warm-up   ${mb(growth('rss'))} MB; heap growth ${mb(growth('heap'))} MB`);
console.log(`  reqprof log records by kind ${JSON.stringify(Object.fromEntries(logCounts))}`);
const windowsOk = windowsMerged === expected || windowsMerged === expected + 1;
const ok = final.failed === 0 && windowsOk && growth('rss') <= 20 * 1048576;
console.log(ok ? '  PASS' : '  FAIL');
process.exit(ok ? 0 : 1);
