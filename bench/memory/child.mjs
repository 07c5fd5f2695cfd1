// Memory benchmark child (run with --expose-gc). argv: variant seconds
//   reqprof  profiler running (engine from BENCH_ENGINE), requests tagged with 100k distinct user ids
//   tags     the same tagging, no sampler (control: what the workload and tag() alone do to memory)
// Paced requests in-process (BENCH_MEMORY_RPS per second, default 500), each
// tagged { route, user }, user cycling through 100k values. Every 5 s, after a
// full GC, the child reports RSS and heap to the parent.
import { getHeapSpaceStatistics } from 'node:v8';
import { sendEvent, sendReady, serve } from '../lib/harness.mjs';

const variant = process.argv[2] ?? 'reqprof';
const SECONDS = Number(process.argv[3] ?? 600);
const RPS = Number(process.env.BENCH_MEMORY_RPS ?? 500);
const USERS = Number(process.env.BENCH_MEMORY_USERS ?? 100_000);
const WINDOW_MS = Number(process.env.BENCH_MEMORY_WINDOW_MS ?? 10_000);
const MAX_TAG_SETS = Number(process.env.BENCH_MEMORY_MAX_TAG_SETS ?? 250);
const SAMPLING_MICROS = Number(process.env.BENCH_SAMPLING_MICROS ?? 1000);

const { newProfiler, tag } = await import('reqprof');
if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc');

let windows = 0;
let overflowTagSets = 0;
let maxProfiles = 0;
function processor(profiles, window) {
  windows += window.windows;
  overflowTagSets += window.overflowTagSets;
  maxProfiles = Math.max(maxProfiles, profiles.length);
}

// reqprof warns (rate-limited) when the cap folds tag sets: counted, not printed.
const warnings = {};
const logger = {
  info() {},
  warn(_o, msg) { warnings[msg?.slice(0, 60)] = (warnings[msg?.slice(0, 60)] ?? 0) + 1; },
  error(o, msg) { console.error(msg, o); },
};

let profiler;
if (variant === 'reqprof') {
  profiler = newProfiler(processor, 0, WINDOW_MS, {
    logger,
    samplingIntervalMicros: SAMPLING_MICROS,
    maxTagSets: MAX_TAG_SETS,
    engine: process.env.BENCH_ENGINE ?? 'auto',
  });
  void profiler.run();
} else if (variant !== 'tags') {
  throw new Error(`unknown variant ${variant}`);
}

const nextTurn = () => new Promise((r) => setImmediate(r));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A request: JSON work (~0.3 ms of CPU in all), a turn, a timer, more work;
// nothing retained. Enough CPU that a window's samples land in thousands of
// distinct tag sets, so the cap (maxTagSets) really folds some.
function work(i, rounds) {
  let total = 0;
  for (let r = 0; r < rounds; r++) {
    const order = { id: i, r, items: Array.from({ length: 20 }, (_, k) => ({ sku: `sku-${(i + k + r) % 997}`, qty: k + 1, note: 'x'.repeat(k) })) };
    total += JSON.parse(JSON.stringify(order)).items.length;
  }
  return total;
}
async function request(i) {
  let t = work(i, 6);
  await nextTurn();
  t += work(i, 6);
  await sleep(1);
  t += work(i, 6);
  return t;
}

let n = 0;
let failed = 0;
const perTick = Math.max(1, Math.round(RPS / 100));
const pacer = setInterval(() => {
  for (let k = 0; k < perTick; k++) {
    const i = n++;
    tag({ route: `/r${i % 20}`, user: `u${i % USERS}` }, () => request(i)).catch(() => { failed++; });
  }
}, 10);

const t0 = performance.now();
function snapshot() {
  globalThis.gc();
  const m = process.memoryUsage();
  // Committed size per V8 heap space: RSS can grow with the heap's reserved
  // pages (e.g. the young generation growing) while the live heap stays flat.
  const spaces = Object.fromEntries(getHeapSpaceStatistics().map((sp) => [sp.space_name, sp.space_size]));
  sendEvent({ t: (performance.now() - t0) / 1000, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, newSpace: spaces.new_space ?? 0, oldSpace: spaces.old_space ?? 0, requests: n, windows, overflowTagSets });
}
const sampler = setInterval(snapshot, 5000);

serve({
  finish: async () => {
    clearInterval(pacer);
    clearInterval(sampler);
    snapshot();
    await sleep(100);
    await profiler?.stop();
    return { requests: n, failed, windows, overflowTagSets, maxProfiles, warnings, mode: profiler?.mode ?? 'none' };
  },
});
// CPU per request, measured once before the run: the parent prints it.
const c0 = process.cpuUsage();
for (let i = 0; i < 200; i++) work(i, 18);
const c = process.cpuUsage(c0);
sendReady({ node: process.version, seconds: SECONDS, cpuPerRequestUs: (c.user + c.system) / 200 });
