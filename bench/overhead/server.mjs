// Overhead benchmark server child. argv[2] is the variant:
//   off        no profiler, no tagging
//   tags       reqprof's tag() around each request, no sampler running (the AsyncLocalStorage cost alone)
//   reqprof    reqprof profiler running, tag() around each request (engine from BENCH_ENGINE: auto | async-hooks)
//   pyroscope  @pyroscope/nodejs wall profiler with CPU time, wrapWithLabels around each request
//   count      like off, plus an async_hooks `before` counter: how many async callbacks a request runs
//   hook       like tags, plus an empty async_hooks `before` hook (Node's own cost of dispatching one)
//   sampler    reqprof profiler running, requests not tagged (the sampler's own cost)
//   sampler-late  like sampler, but the profiler starts after the warm-up: the JIT compiled the
//              service while no CPU profiler was active
//   sampler-stopped  the profiler ran for a moment at start and was stopped: what stays behind
//   ab-reqprof, ab-pyroscope
//              in-process A/B: the server alternates every BENCH_AB_PHASE requests between
//              off (profiler paused, requests untagged) and on (profiler running, requests
//              tagged), and reports CPU per request of each phase; phases a fraction of a
//              second long see the same machine load, which separate processes do not
//   ab-tags, ab-sampler  A/B diagnostics: on = tag() only, no sampler; on = sampler running, untagged
// The parent calls begin/end around the measured load and gets the server's CPU time in between.
import { createHook } from 'node:async_hooks';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { Session } from 'node:inspector';
import { sendReady, serve } from '../lib/harness.mjs';
import { handle } from './service.mjs';

const variant = process.argv[2] ?? 'off';
const SAMPLING_MICROS = Number(process.env.BENCH_SAMPLING_MICROS ?? 10_000);
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 30_000);

let befores = 0;
let finished = 0;
let failed = 0;
let profiler;
let stopProfiling = async () => {};
let wrap = (tags, fn) => fn();
// A/B mode: how to switch profiling on and off, and how to tag while on.
let ab;

function onError(res) {
  return (err) => {
    failed++;
    if (failed < 3) console.error(err);
    res.statusCode = 500;
    res.end();
  };
}

let beginHook = async () => {};
if (variant === 'sampler-stopped') {
  const { newProfiler } = await import('reqprof');
  const p = newProfiler(() => {}, 0, WINDOW_MS, { samplingIntervalMicros: SAMPLING_MICROS, engine: process.env.BENCH_ENGINE ?? 'auto' });
  void p.run();
  while (p.state !== 'running') await new Promise((r) => setTimeout(r, 1));
  await new Promise((r) => setTimeout(r, 200));
  await p.stop();
} else if (variant === 'sampler-late') {
  const { newProfiler } = await import('reqprof');
  beginHook = async () => {
    profiler = newProfiler(() => {}, 0, WINDOW_MS, { samplingIntervalMicros: SAMPLING_MICROS, engine: process.env.BENCH_ENGINE ?? 'auto' });
    void profiler.run();
    while (profiler.state !== 'running') await new Promise((r) => setTimeout(r, 1));
    stopProfiling = () => profiler.stop();
  };
} else if (variant === 'tags' || variant === 'reqprof' || variant === 'hook' || variant === 'sampler') {
  const { newProfiler, tag } = await import('reqprof');
  if (variant !== 'sampler') wrap = (tags, fn) => tag(tags, fn);
  if (variant === 'hook') createHook({ before() {} }).enable();
  if (variant === 'reqprof' || variant === 'sampler') {
    let windows = 0;
    const count = (profiles) => { windows += profiles.length > 0 ? 1 : 0; };
    profiler = newProfiler(count, 0, WINDOW_MS, {
      samplingIntervalMicros: SAMPLING_MICROS,
      engine: process.env.BENCH_ENGINE ?? 'auto',
    });
    void profiler.run();
    const deadline = Date.now() + 15_000;
    while (profiler.state !== 'running' || profiler.mode === undefined) {
      if (Date.now() > deadline) throw new Error(`profiler did not start (state ${profiler.state})`);
      await new Promise((r) => setTimeout(r, 10));
    }
    stopProfiling = () => profiler.stop();
  }
} else if (variant === 'pyroscope') {
  const { default: Pyroscope } = await import('@pyroscope/nodejs');
  Pyroscope.init({
    appName: 'reqprof-bench',
    // Nothing listens there: the default 60 s flush never comes within a run.
    serverAddress: 'http://127.0.0.1:9',
    wall: { samplingIntervalMicros: SAMPLING_MICROS, collectCpuTime: true },
  });
  Pyroscope.startWallProfiling();
  wrap = (tags, fn) => Pyroscope.wrapWithLabels(tags, fn);
  stopProfiling = () => Pyroscope.stopWallProfiling().catch(() => {});
} else if (variant === 'ab-reqprof') {
  const { newProfiler, tag } = await import('reqprof');
  profiler = newProfiler(() => {}, 0, WINDOW_MS, { samplingIntervalMicros: SAMPLING_MICROS, engine: process.env.BENCH_ENGINE ?? 'auto' });
  void profiler.run();
  const until = async (state) => {
    while (profiler.state !== state || profiler.mode === undefined) await new Promise((r) => setTimeout(r, 1));
  };
  await until('running');
  await profiler.pause();
  ab = {
    tag: (tags, fn) => tag(tags, fn),
    on: async () => { await profiler.resume(); await until('running'); },
    off: () => profiler.pause(),
  };
  stopProfiling = () => profiler.stop();
} else if (variant === 'ab-tags') {
  const { tag } = await import('reqprof');
  ab = { tag: (tags, fn) => tag(tags, fn), on: async () => {}, off: async () => {} };
} else if (variant === 'ab-sampler') {
  const { newProfiler } = await import('reqprof');
  profiler = newProfiler(() => {}, 0, WINDOW_MS, { samplingIntervalMicros: SAMPLING_MICROS, engine: process.env.BENCH_ENGINE ?? 'auto' });
  void profiler.run();
  while (profiler.state !== 'running' || profiler.mode === undefined) await new Promise((r) => setTimeout(r, 1));
  await profiler.pause();
  ab = {
    tag: (_tags, fn) => fn(),
    on: async () => { await profiler.resume(); while (profiler.state !== 'running') await new Promise((r) => setTimeout(r, 1)); },
    off: () => profiler.pause(),
  };
  stopProfiling = () => profiler.stop();
} else if (variant === 'ab-pyroscope') {
  const { default: Pyroscope } = await import('@pyroscope/nodejs');
  Pyroscope.init({ appName: 'reqprof-bench', serverAddress: 'http://127.0.0.1:9', wall: { samplingIntervalMicros: SAMPLING_MICROS, collectCpuTime: true } });
  let running = false;
  ab = {
    tag: (tags, fn) => Pyroscope.wrapWithLabels(tags, fn),
    on: async () => { Pyroscope.startWallProfiling(); running = true; },
    off: async () => { running = false; await Pyroscope.stopWallProfiling().catch(() => {}); },
  };
  stopProfiling = () => (running ? Pyroscope.stopWallProfiling().catch(() => {}) : undefined);
} else if (variant === 'count') {
  createHook({ before: () => { befores++; } }).enable();
} else if (variant !== 'off') {
  throw new Error(`unknown variant ${variant}`);
}

const AB_PHASE = Number(process.env.BENCH_AB_PHASE ?? 1000);
let abOn = false;
let abSwitching = false;
let abPhase;
let abPhases = [];
function abStartPhase() {
  abPhase = { on: abOn, cpu: process.cpuUsage(), finished };
}
async function abSwitch() {
  const c = process.cpuUsage(abPhase.cpu);
  abPhases.push({ on: abOn, requests: finished - abPhase.finished, cpuMicros: c.user + c.system });
  abSwitching = true;
  // The switch itself (a window delivered on pause, the sampler started on resume) is left out of both phases.
  // Requests stop being tagged before the profiler stops, and start after it started.
  if (abOn) {
    abOn = false;
    await ab.off();
  } else {
    await ab.on();
    abOn = true;
  }
  abSwitching = false;
  abStartPhase();
}
if (ab) wrap = (tags, fn) => (abOn ? ab.tag(tags, fn) : fn());

const server = http.createServer((req, res) => {
  res.on('finish', () => {
    finished++;
    if (ab && abPhase && !abSwitching && finished - abPhase.finished >= AB_PHASE) void abSwitch();
  });
  const tags = { route: '/orders', tenant: String(req.headers['x-tenant'] ?? 'none') };
  wrap(tags, () => { handle(req, res).catch(onError(res)); });
});
server.keepAliveTimeout = 60_000;
await new Promise((r) => server.listen(0, '127.0.0.1', r));

// BENCH_CPU_PROFILE=<file>: V8's own CPU profile (inspector, 100 µs) of the measured requests only.
const CPU_PROFILE = process.env.BENCH_CPU_PROFILE;
let session;
const post = (method, params) => new Promise((resolve, reject) => session.post(method, params, (err, r) => (err ? reject(err) : resolve(r))));

let mark;
serve({
  begin: async () => {
    await beginHook();
    if (CPU_PROFILE) {
      session = new Session();
      session.connect();
      await post('Profiler.enable');
      await post('Profiler.setSamplingInterval', { interval: 100 });
      await post('Profiler.start');
    }
    mark = { cpu: process.cpuUsage(), befores, finished, t: performance.now(), elu: performance.eventLoopUtilization() };
    if (ab) {
      abPhases = [];
      abStartPhase();
    }
    return {};
  },
  end: async () => {
    const cpu = process.cpuUsage(mark.cpu);
    abPhase = undefined;
    if (CPU_PROFILE) {
      const { profile } = await post('Profiler.stop');
      writeFileSync(CPU_PROFILE, JSON.stringify(profile));
      session.disconnect();
    }
    return {
      cpuMicros: cpu.user + cpu.system,
      userMicros: cpu.user,
      systemMicros: cpu.system,
      requests: finished - mark.finished,
      befores: befores - mark.befores,
      failed,
      wallMs: performance.now() - mark.t,
      elu: performance.eventLoopUtilization(mark.elu).utilization,
      ...(ab ? { phases: abPhases } : {}),
    };
  },
  exit: async () => {
    await stopProfiling();
    server.close();
    server.closeAllConnections?.();
  },
});
sendReady({ port: server.address().port, mode: profiler?.mode ?? variant, node: process.version });
