// Accuracy benchmark server child. argv[2]: `reqprof` (engine from BENCH_ENGINE)
// or `pyroscope`. Four routes, each tagged { route }, burn known, different
// amounts of CPU in synchronous bursts separated by awaits on timers,
// setImmediate, file I/O (libuv pool), callbacks and an EventEmitter. Every
// burst runs in a function of its own (burst_<route>), so a sample's stack says
// which request's code it caught; the truth is each burst's CPU (calibrated
// iterations, see timedBurst).
import { EventEmitter, once } from 'node:events';
import { openSync, read, stat } from 'node:fs';
import { open } from 'node:fs/promises';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { sendReady, serve } from '../lib/harness.mjs';
import { decodeProfile, forEachSample } from '../lib/pprof-samples.mjs';

const variant = process.argv[2] ?? 'reqprof';
const SAMPLING_MICROS = Number(process.env.BENCH_SAMPLING_MICROS ?? 1000);
const FILE = fileURLToPath(import.meta.url);

/**
 * A distinct spin function per route: its name marks the route's own CPU in
 * stacks. It spins a calibrated number of iterations of pure JS (no native call
 * inside the loop, so every sample taken in it has a walkable JS stack). The
 * dead branch makes its bytecode too large for V8 to inline it into the
 * caller, where its frame would vanish from the stacks.
 */
function makeBurst(route) {
  const padding = Array.from({ length: 120 }, (_, i) => `x = (x ^ ${i * 2654435761 % 1000}) + Math.imul(x, ${i + 3});`).join('\n');
  // eslint-disable-next-line no-new-func
  return new Function('n', `return function burst_${route}(n) {
    let x = 0;
    for (let i = 0; i < n; i++) x = (x * 31 + i) % 1000003;
    if (n < 0) {
      ${padding}
    }
    return x;
  }`)();
}
export const ROUTES = ['light', 'medium', 'heavy', 'batch'];
const bursts = Object.fromEntries(ROUTES.map((r) => [r, makeBurst(r)]));

/**
 * µs of CPU per iteration of each route's spin, measured at start: the best of
 * many short timed runs, so that runs during which this process was
 * descheduled (common on a shared machine) do not count.
 */
function calibrate(fn) {
  fn(2_000_000);
  let best = Infinity;
  for (let k = 0; k < 40; k++) {
    const t0 = performance.now();
    fn(100_000);
    best = Math.min(best, (performance.now() - t0) * 1000 / 100_000);
  }
  return best;
}
// The four spins are the same code under different names: one cost for all
// (the best estimate of each, which differ only by timing noise).
const usPerIteration = Math.min(...ROUTES.map((r) => calibrate(bursts[r])));
const ITERS_PER_MS = 1000 / usPerIteration;

/**
 * The truth: µs of CPU per route, summed over its bursts. Each burst is a fixed
 * number of pure-JS iterations, so its CPU is iterations x the calibrated cost,
 * whatever the scheduler does meanwhile. (Timing each burst with a wall clock
 * counts the time this process spends descheduled, which on a busy 2-core
 * machine inflated short bursts by up to 60%; a CPU clock is a system call,
 * whose return attracts the profiling signal and skews where samples land.)
 */
let truth = Object.fromEntries(ROUTES.map((r) => [r, 0]));
function timedBurst(route, ms) {
  const n = Math.round(ms * ITERS_PER_MS);
  bursts[route](n);
  truth[route] += n * usPerIteration;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const nextTurn = () => new Promise((r) => setImmediate(r));
// Small I/O on the libuv pool, one round trip each: a callback stat, a callback
// read and a promise (FileHandle) read of this file.
const statCb = () => new Promise((r, j) => stat(FILE, (e, s) => (e ? j(e) : r(s))));
const fileHandle = await open(FILE, 'r');
const fd = openSync(FILE, 'r');
const readCb = () => new Promise((r, j) => read(fd, Buffer.alloc(256), 0, 256, 0, (e, n) => (e ? j(e) : r(n))));
const readP = () => fileHandle.read(Buffer.alloc(256), 0, 256, 0);
const bus = new EventEmitter();
bus.setMaxListeners(0);
function event() {
  const p = once(bus, 'tick');
  setImmediate(() => bus.emit('tick'));
  return p;
}

/** Each route: its bursts (ms) and what it awaits between them. */
const handlers = {
  async light() {
    timedBurst('light', 1);
    await nextTurn();
    timedBurst('light', 1);
  },
  async medium() {
    timedBurst('medium', 1.5);
    await sleep(1);
    timedBurst('medium', 1.5);
    await readP();
    timedBurst('medium', 1);
  },
  async heavy() {
    timedBurst('heavy', 3);
    await readCb();
    timedBurst('heavy', 3);
    await event();
    timedBurst('heavy', 2);
  },
  async batch() {
    for (let i = 0; i < 3; i++) {
      timedBurst('batch', 2);
      await Promise.all([sleep(1), statCb()]);
      timedBurst('batch', 2);
      await nextTurn();
    }
  },
};

// --------------------------------------------------------------- profilers

let wrap = (tags, fn) => fn();
let begin;
let end;

if (variant === 'reqprof') {
  const { newProfiler, tag } = await import('reqprof');
  wrap = (tags, fn) => tag(tags, fn);
  let profiler;
  let windows;
  const totals = (profiles, window) => { windows.push({ profiles, window }); };
  const stacks = Object.assign((_p, window) => { for (const p of window.profiles ?? []) windows.profiles.push(p); }, { needs: { profile: true } });
  begin = async () => {
    windows = [];
    windows.profiles = [];
    profiler = newProfiler([totals, stacks], 0, 2000, { samplingIntervalMicros: SAMPLING_MICROS, engine: process.env.BENCH_ENGINE ?? 'auto' });
    void profiler.run();
    while (profiler.state !== 'running') await new Promise((r) => setTimeout(r, 5));
    return profiler.mode;
  };
  end = async () => {
    await profiler.stop();
    const byRoute = Object.fromEntries(ROUTES.map((r) => [r, { cpu: 0, samples: 0 }]));
    let all = 0;
    let untagged = 0;
    for (const w of windows) {
      for (const p of w.profiles) {
        all += p.value;
        if (p.key === '') untagged += p.value;
        const route = p.tags[p.tags.indexOf('route') + 1];
        if (p.tags.indexOf('route') >= 0 && byRoute[route]) {
          byRoute[route].cpu += p.value;
          byRoute[route].samples += p.samples;
        }
      }
    }
    return { byRoute, all, untagged, profiles: windows.profiles, windows: windows.length };
  };
} else if (variant === 'pyroscope') {
  const { default: Pyroscope } = await import('@pyroscope/nodejs');
  // Pyroscope uploads pprof over HTTP: a sink in this process receives it.
  const uploads = [];
  const sink = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => { uploads.push(Buffer.concat(chunks)); res.end('ok'); });
  });
  await new Promise((r) => sink.listen(0, '127.0.0.1', r));
  Pyroscope.init({
    appName: 'reqprof-bench',
    serverAddress: `http://127.0.0.1:${sink.address().port}`,
    flushIntervalMs: 600_000,
    wall: { samplingIntervalMicros: SAMPLING_MICROS, samplingDurationMs: 600_000, collectCpuTime: true },
  });
  // wrapWithLabels throws while the profiler is stopped: the warm-up runs unlabelled.
  let profiling = false;
  wrap = (tags, fn) => {
    if (!profiling) return fn();
    let r;
    Pyroscope.wrapWithLabels(tags, () => { r = fn(); });
    return r;
  };
  begin = async () => {
    uploads.length = 0;
    Pyroscope.startWallProfiling();
    profiling = true;
    return 'pyroscope';
  };
  end = async () => {
    await Pyroscope.stopWallProfiling();
    profiling = false;
    const profiles = uploads.map(decodeProfile);
    const byRoute = Object.fromEntries(ROUTES.map((r) => [r, { cpu: 0, samples: 0 }]));
    let all = 0;
    let untagged = 0;
    for (const p of profiles) {
      forEachSample(p, ({ cpu, labels }) => {
        all += cpu;
        if (labels.route === undefined) untagged += cpu;
        else if (byRoute[labels.route]) {
          byRoute[labels.route].cpu += cpu;
          byRoute[labels.route].samples++;
        }
      });
    }
    sink.close();
    return { byRoute, all, untagged, profiles, windows: uploads.length };
  };
} else {
  throw new Error(`unknown variant ${variant}`);
}

/**
 * Coverage from stacks: of the CPU sampled inside burst_<route>, the share
 * whose labels name that route; the rest is unlabelled or carries another
 * route (mislabelled).
 */
function coverage(profiles) {
  let inBursts = 0;
  let right = 0;
  let wrong = 0;
  let samples = 0;
  // Per label: CPU inside and outside the route's bursts, and the heaviest stacks outside (diagnostics).
  const byLabel = {};
  for (const p of profiles) {
    forEachSample(p, ({ cpu, labels, stack }) => {
      let route;
      for (const name of stack) {
        const m = /burst_(\w+)/.exec(name);
        if (m) { route = m[1]; break; }
      }
      const l = (byLabel[labels.route ?? '(none)'] ??= { inBurst: 0, outside: 0, samplesIn: 0, samplesOut: 0, stacks: {} });
      if (route !== undefined) { l.inBurst += cpu; l.samplesIn++; } else {
        l.outside += cpu;
        l.samplesOut++;
        const k = stack.slice(0, 4).join(' < ');
        l.stacks[k] = (l.stacks[k] ?? 0) + cpu;
      }
      if (route === undefined) return;
      inBursts += cpu;
      samples++;
      if (labels.route === route) right += cpu;
      else if (labels.route !== undefined) wrong += cpu;
    });
  }
  for (const l of Object.values(byLabel)) {
    l.stacks = Object.entries(l.stacks).sort((a, b) => b[1] - a[1]).slice(0, 5).map(([k, v]) => `${(v / 1e6).toFixed(1)} ms ${k}`);
  }
  return { inBursts, right, wrong, samples, byLabel };
}

const server = http.createServer((req, res) => {
  const route = req.url.slice(1);
  const h = handlers[route];
  if (!h) { res.statusCode = 404; res.end(); return; }
  // The response is written outside the tagged context (then() is called out
  // here), so the tagged CPU is the route's own work, which the truth times.
  const done = wrap({ route }, () => h());
  done.then(() => res.end('{"ok":true}'), (err) => { console.error(err); res.statusCode = 500; res.end(); });
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));

let mode;
serve({
  begin: async () => {
    mode = await begin();
    truth = Object.fromEntries(ROUTES.map((r) => [r, 0]));
    return { mode };
  },
  end: async () => {
    const t = truth;
    const m = await end();
    return { truth: t, byRoute: m.byRoute, all: m.all, untagged: m.untagged, coverage: coverage(m.profiles), windows: m.windows };
  },
  exit: () => { server.close(); server.closeAllConnections?.(); },
});
sendReady({ port: server.address().port, usPerIteration });
