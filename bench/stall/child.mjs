// Window-end stall child. argv: variant hz windowMs
//   raw              @datadog/pprof time.start / time.stop(true) (same start options as reqprof), no labels
//   reqprof          reqprof, one processor that reads the per-tag totals
//   reqprof-profile  reqprof, one processor with needs: { profile: true }
//   reqprof-top5     reqprof with topFunctions: 5
// Measures the longest event-loop delay around the window rollover
// (perf_hooks.monitorEventLoopDelay) next to the same measure mid-window, and
// times the rollover from the native stop to the processor (wall and CPU),
// with the native stop and any pprof serialization inside it.
import { createHook, executionAsyncResource } from 'node:async_hooks';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { createRequire } from 'node:module';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { sendReady, serve } from '../lib/harness.mjs';
import { drive } from './workload.mjs';

const [variant = 'reqprof', hzArg = '100', windowArg = '30000'] = process.argv.slice(2);
const HZ = Number(hzArg);
const WINDOW_MS = Number(windowArg);
const INTERVAL_MICROS = Math.round(1e6 / HZ);

// Instrument the sampler before reqprof loads it (same module instances: both
// resolve node_modules/@datadog/pprof from the repository root). The addon's
// TimeProfiler class is what both the package's `time` API and reqprof's engine
// drive, so wrapping its prototype times the native stop whoever calls it;
// serializeTimeProfile is the JS that turns the V8 profile into a pprof Profile.
const require = createRequire(import.meta.url);
const pprof = require('@datadog/pprof');
const { TimeProfiler } = require('@datadog/pprof/out/src/time-profiler-bindings.js');
const serializer = require('@datadog/pprof/out/src/profile-serializer.js');
const events = { starts: [], stops: [] };
let serializeMs = 0;
const origSerialize = serializer.serializeTimeProfile;
serializer.serializeTimeProfile = function timedSerialize(...args) {
  const t0 = performance.now();
  try {
    return origSerialize.apply(this, args);
  } finally {
    serializeMs += performance.now() - t0;
  }
};
const origStop = TimeProfiler.prototype.stop;
TimeProfiler.prototype.stop = function timedStop(...args) {
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  try {
    return origStop.apply(this, args);
  } finally {
    const nativeMs = performance.now() - t0;
    const c = process.cpuUsage(cpu);
    // Main-thread time of the stop, measured as the task monitor measures tasks.
    const nativeTaskMs = Math.min(nativeMs, (c.user + c.system) / 1000);
    events.stops.push({ at: t0, cpu, nativeMs, nativeCpuMs: (c.user + c.system) / 1000, nativeTaskMs });
    serializeMs = 0;
  }
};
const origStart = TimeProfiler.prototype.start;
TimeProfiler.prototype.start = function timedStart(...args) {
  events.starts.push(performance.now());
  return origStart.apply(this, args);
};

/** When a window's data reached its consumer: wall time and CPU since the native stop began. */
function arrival(stop) {
  const c = process.cpuUsage(stop.cpu);
  return { wallMs: performance.now() - stop.at, cpuMs: (c.user + c.system) / 1000, serializeMs };
}

/** Distinct stacks and samples in a pprof profile. */
function stackStats(profile) {
  const stacks = new Set();
  for (const s of profile.sample) stacks.add(s.locationId.join(','));
  return { distinctStacks: stacks.size, profileSamples: profile.sample.length, locations: profile.location.length };
}

// --------------------------------------------------------------- variants

let wrap = (_t, fn) => fn();
let startSession;
let delivered;
let onDelivered;
const newDelivered = () => { delivered = new Promise((r) => (onDelivered = r)); };
let extra = {};

if (variant === 'raw') {
  let timer;
  startSession = (windowMs) => {
    newDelivered();
    pprof.time.start({
      intervalMicros: INTERVAL_MICROS,
      durationMillis: Math.ceil(windowMs * 1.5 + 2000),
      withContexts: true,
      collectCpuTime: true,
      lineNumbers: false,
    });
    timer = setTimeout(() => {
      const profile = pprof.time.stop(true);
      const a = arrival(events.stops[events.stops.length - 1]);
      extra = stackStats(profile);
      onDelivered(a);
    }, windowMs);
    return async () => {
      clearTimeout(timer);
      if (pprof.time.isStarted()) pprof.time.stop(false);
    };
  };
} else {
  const { newProfiler, tag } = await import('reqprof');
  // The same module instance reqprof's build loads (dist/esm/engine/window-summer.js).
  const { WindowSummer } = await import(new URL('../../dist/esm/engine/window-summer.js', import.meta.url).href);
  const step = WindowSummer.prototype.step;
  WindowSummer.prototype.step = function flaggedStep(deadline) {
    flagTask();
    return step.call(this, deadline);
  };
  wrap = (tags, fn) => tag(tags, fn);
  let processor;
  let options = {};
  if (variant === 'reqprof') {
    processor = (profiles) => { const a = arrival(events.stops[events.stops.length - 1]); extra = { tagSets: profiles.length }; onDelivered(a); };
  } else if (variant === 'reqprof-profile') {
    processor = Object.assign((profiles, window) => {
      const a = arrival(events.stops[events.stops.length - 1]);
      extra = { tagSets: profiles.length, ...stackStats(window.profiles[0]) };
      onDelivered(a);
    }, { needs: { profile: true } });
  } else if (variant === 'reqprof-top5') {
    options = { topFunctions: 5 };
    processor = (profiles) => { const a = arrival(events.stops[events.stops.length - 1]); extra = { tagSets: profiles.length, top: profiles[0]?.topFunctions?.length }; onDelivered(a); };
  } else {
    throw new Error(`unknown variant ${variant}`);
  }
  startSession = (windowMs) => {
    newDelivered();
    const profiler = newProfiler(processor, 0, windowMs, { samplingIntervalMicros: INTERVAL_MICROS, ...options });
    void profiler.run();
    return () => profiler.stop();
  };
}

/**
 * The time each event-loop task (a timer, an immediate, an I/O callback, with
 * the microtasks and ticks that run after it) holds the main thread, while
 * enabled: a mark at the start of every task, time between marks. Measured as
 * the smaller of wall time (inflated when the process is descheduled on a busy
 * machine) and process CPU time (inflated by the process's other threads: the
 * sampler's, GC helpers, compilers). process.threadCpuUsage would be exact but
 * counts in scheduler ticks here (4 ms steps).
 */
function taskMonitor() {
  const tasks = [];
  let last;
  const mark = () => {
    const now = performance.now();
    const cpu = process.cpuUsage();
    if (last) {
      const cpuMs = (cpu.user - last.cpu.user + cpu.system - last.cpu.system) / 1000;
      tasks.push({ start: last.at, end: now, cpuMs: Math.min(cpuMs, now - last.at), summed: last.summed });
    }
    last = { at: now, cpu, summed: false };
  };
  // reqprof sums a window in slices (WindowSummer.step, one or more per task): flag the tasks that ran one.
  flagTask = () => { if (last) last.summed = true; };
  const hook = createHook({
    before() {
      // Promise reactions and nextTick callbacks run inside the task that queued them.
      const r = executionAsyncResource();
      if (r instanceof Promise || r?.constructor === Object) return;
      mark();
    },
  });
  return {
    enable() { hook.enable(); mark(); },
    disable() { mark(); hook.disable(); return tasks; },
  };
}

let flagTask = () => {};

function elu(a) {
  return performance.eventLoopUtilization(a);
}

async function measure() {
  const load = drive({ wrap });
  // Warm-up: the workload, the sampler and the window-end code paths all get compiled once.
  const stopWarm = startSession(1000);
  await delivered;
  await new Promise((r) => setTimeout(r, 500));
  await stopWarm();

  const requests0 = load.requests();
  const elu0 = elu();
  const startsBefore = events.starts.length;
  const stopSession = startSession(WINDOW_MS);
  while (events.starts.length === startsBefore) await new Promise((r) => setTimeout(r, 1));
  const t0 = events.starts[events.starts.length - 1];
  const stopsBefore = events.stops.length;
  const at = (ms) => new Promise((r) => setTimeout(r, Math.max(0, t0 + ms - performance.now())));

  // The same measure mid-window, for the noise floor.
  await at(WINDOW_MS / 2);
  const base = monitorEventLoopDelay({ resolution: 1 });
  base.enable();
  await at(WINDOW_MS / 2 + 1500);
  base.disable();

  await at(WINDOW_MS - 1000);
  const roll = monitorEventLoopDelay({ resolution: 1 });
  roll.enable();
  const monitor = taskMonitor();
  monitor.enable();
  // BENCH_STALL_CPU_PROFILE=<file>: V8's CPU profile (inspector, 50 µs) of the last second before the rollover and the rollover itself.
  const profileFile = process.env.BENCH_STALL_CPU_PROFILE;
  let session;
  const post = (m, p) => new Promise((res, rej) => session.post(m, p, (e, r) => (e ? rej(e) : res(r))));
  if (profileFile) {
    session = new Session();
    session.connect();
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: 50 });
    await post('Profiler.start');
  }
  const arrived = await delivered;
  if (profileFile) {
    const { profile } = await post('Profiler.stop');
    writeFileSync(profileFile, JSON.stringify(profile));
    session.disconnect();
  }
  const seen = extra;
  const deliveredAt = performance.now();
  await new Promise((r) => setTimeout(r, 500));
  roll.disable();
  const tasks = monitor.disable();
  const windowElu = elu(elu0).utilization;
  const requests = load.requests() - requests0;
  const stop = events.stops[stopsBefore];
  if (events.stops.length !== stopsBefore + 1) throw new Error(`expected one native stop at the rollover, saw ${events.stops.length - stopsBefore}`);
  await stopSession();
  await load.stop();
  // The task that ran the native stop, and the longest later task that summed part of the window.
  const stopEnd = stop.at + stop.nativeMs;
  let stopTaskCpuMs = 0;
  let longestOtherCpuMs = 0;
  let sumTasks = 0;
  for (const t of tasks) {
    if (t.end < stop.at || t.start > deliveredAt) continue;
    if (t.start <= stop.at && t.end >= stopEnd) stopTaskCpuMs = Math.max(stopTaskCpuMs, t.cpuMs);
    else if (t.summed) {
      sumTasks++;
      longestOtherCpuMs = Math.max(longestOtherCpuMs, t.cpuMs);
    }
  }
  const midTasks = tasks.filter((t) => t.end < stop.at - 100);
  return {
    stopTaskCpuMs,
    longestOtherCpuMs,
    sumTasks,
    // The workload's own longest task before the rollover (its floor).
    workloadTaskCpuMs: Math.max(0, ...midTasks.map((t) => t.cpuMs)),
    stallMs: roll.max / 1e6,
    baselineMs: base.max / 1e6,
    nativeMs: stop.nativeMs,
    nativeCpuMs: stop.nativeCpuMs,
    nativeTaskMs: stop.nativeTaskMs,
    serializeMs: arrived.serializeMs,
    // From the start of the native stop to the processor being called (raw: time.stop returned).
    rolloverMs: arrived.wallMs,
    rolloverCpuMs: arrived.cpuMs,
    elu: windowElu,
    requestsPerSecond: requests / ((performance.now() - t0) / 1000),
    ...seen,
  };
}

serve({ measure });
sendReady({ node: process.version });
