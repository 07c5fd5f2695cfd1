import type { Logger } from '../logger.js';
import { TagSet } from '../tags.js';
import { asyncContextFrameActive, pprofVersion, TESTED_PPROF_RANGE } from './native.js';
import { SamplerBase } from './sampler.js';
import type { EngineMode, SampledWindow, SamplerEngine } from './types.js';

/**
 * The start-up self-check. reqprof relies on internals of @datadog/pprof that
 * no API promises (the raw profile's shape, the CPED holder, the sample
 * counter) and on AsyncContextFrame really carrying contexts; when either
 * fails, every sample comes back untagged and nothing else says so. So right
 * after the first start, a short burn runs under a private tag set, and the
 * first window must have recorded it. Its samples are summed as untagged (the
 * CPU is reqprof's own), so they never reach a processor as a tag set.
 */

/** The private tag set of the burn: matched by identity (a user's equal tag set is another object), never delivered. */
const SELF_CHECK_TAGS = new TagSet(['reqprof_self_check', 'startup']);

/** Samples the burn waits for: one would do; two survive a sample that straddles the burn's start. */
const SAMPLES_WANTED = 2;
/** The burn stops after this many sampling intervals of CPU (and at least MIN_CAP_MS) even if the sampler took no sample... */
const MAX_INTERVALS = 5;
const MIN_CAP_MS = 10;
/** ...and after this much wall time, whatever the interval (a 1 s sampling interval must not block for 5 s). */
const MAX_BURN_MS = 100;
/**
 * A burn during which the sampler's counter did not move proves something only
 * if the window's own sample rate says this many samples were due in it: on a
 * starved machine the sampler thread itself waits, and takes few samples.
 */
const EXPECTED_SAMPLES_FOR_VERDICT = 5;

/** Paths with a verdict in this thread (the failure modes are per process and path, not per profiler). */
const checked = new Set<EngineMode>();
/** Burns per path without a verdict; past MAX_ATTEMPTS the check gives up silently. */
const attempts = new Map<EngineMode, number>();
const MAX_ATTEMPTS = 3;
let logged22Hint = false;
let simulateLost = false;
let sink = 0;

/** Test seam: the burn runs without its context reaching the sampler, as when contexts are lost. */
export function simulateLostContextsForTests(on: boolean): void {
  simulateLost = on;
}

/** Test seam: forget which paths were checked, so the next start checks again. */
export function resetSelfCheckForTests(): void {
  checked.clear();
  attempts.clear();
  logged22Hint = false;
}

/**
 * Call right after `engine.start()` (every start: it acts on the first one of
 * each path in the thread). Burns about 1.5 sampling intervals of CPU once
 * (~15 ms at 100 Hz) and arranges for the first window to be checked; warns
 * once through `logger` when the burn did not come back attributed. Also logs,
 * once, that Node 22 runs cheaper with --experimental-async-context-frame.
 */
export function startupSelfCheck(engine: SamplerEngine, logger: Logger): void {
  hintNode22Flag(engine, logger);
  if (!(engine instanceof SamplerBase) || !engine.started || checked.has(engine.mode)) return;
  const tries = attempts.get(engine.mode) ?? 0;
  if (tries >= MAX_ATTEMPTS) return;
  attempts.set(engine.mode, tries + 1);
  const burn = burnUntilSampled(engine);
  engine.probeNextWindow({
    tags: SELF_CHECK_TAGS,
    done: (window, probeSamples) => judge(engine.mode, burn, window, probeSamples, logger),
  });
}

interface Burn {
  /** Samples the sampler counted during the burn; undefined when its counter is unreadable. */
  samples: number | undefined;
  cpuMs: number;
  wallMs: number;
}

function burnUntilSampled(engine: SamplerBase): Burn {
  const capCpuMs = Math.max((MAX_INTERVALS * engine.samplingIntervalMicros) / 1000, MIN_CAP_MS);
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const count0 = engine.sampleCount();
  const cpuMs = (): number => {
    const d = process.cpuUsage(cpu0);
    return (d.user + d.system) / 1000;
  };
  const spin = (): void => {
    for (;;) {
      let x = sink;
      for (let i = 0; i < 20_000; i++) x = (x * 31 + i) % 1_000_003;
      sink = x;
      const n = engine.sampleCount();
      if (count0 !== undefined && n !== undefined && n - count0 >= SAMPLES_WANTED) return;
      if (cpuMs() >= capCpuMs || performance.now() - wall0 >= MAX_BURN_MS) return;
    }
  };
  if (simulateLost) spin();
  else engine.runAsSampledContext(SELF_CHECK_TAGS, spin);
  const count1 = engine.sampleCount();
  return { samples: count0 !== undefined && count1 !== undefined ? count1 - count0 : undefined, cpuMs: cpuMs(), wallMs: performance.now() - wall0 };
}

function judge(mode: EngineMode, burn: Burn, window: SampledWindow, probeSamples: number, logger: Logger): void {
  if (probeSamples > 0) {
    checked.add(mode);
    return;
  }
  const dueInBurn = (window.samples / Math.max(window.end - window.start, 1)) * burn.wallMs;
  // No sample was taken during the burn and none was due: no verdict; the next start of this path tries again (up to MAX_ATTEMPTS).
  if (burn.samples === 0 && dueInBurn < EXPECTED_SAMPLES_FOR_VERDICT) return;
  checked.add(mode);
  let cause: string;
  if (mode === 'cped' && !asyncContextFrameActive()) {
    cause = `the CPED path runs but AsyncContextFrame is not active on Node ${process.version} ` +
      '(Node 22 needs --experimental-async-context-frame; Node 24+ must not run with --no-async-context-frame), so every context is lost. ' +
      'Use engine "auto", or start Node with the flag.';
  } else if (burn.samples === 0 || burn.samples === undefined) {
    cause = `the native sample counter ${burn.samples === undefined ? 'could not be read' : `did not move during a ${burn.wallMs.toFixed(0)} ms burn while the window's rate says ${dueInBurn.toFixed(0)} samples were due`}: ` +
      `@datadog/pprof ${pprofVersion()} may have changed internals reqprof reads (tested: ${TESTED_PPROF_RANGE}), or the sampler is not sampling.`;
  } else {
    cause = `the sampler took ${burn.samples} samples during the burn and none carried reqprof's context: ` +
      `@datadog/pprof ${pprofVersion()} may have changed how contexts are recorded (tested: ${TESTED_PPROF_RANGE}), ` +
      'or another tool in this process replaced the sampler\'s context.';
  }
  try {
    logger.warn({
      reqprof: 'self-check', mode, node: process.version, pprof: pprofVersion(), testedPprof: TESTED_PPROF_RANGE,
      burnCpuMs: Number(burn.cpuMs.toFixed(1)), burnWallMs: Number(burn.wallMs.toFixed(1)), burnSamples: burn.samples ?? null, windowSamples: window.samples,
    }, `reqprof: START-UP SELF-CHECK FAILED: CPU burnt under a known tag set came back untagged, so per-tag CPU from this process cannot be trusted. Likely cause: ${cause}`);
  } catch {
    // A logger that throws must not cost the window it is summed with.
  }
}

/**
 * Measured with `node bench/overhead/node22-async.mjs` (2026-12-01, Node 22.23.5,
 * 2 shared cores, 100 Hz, two runs of 5 rounds): tagged requests of 10 awaited
 * hops cost reqprof a median 4.2 µs more CPU per request on the hooks path than
 * on the CPED path (per round -0.5 to 8.8 µs, more in 9 of 10 rounds). On
 * bench:overhead's HTTP service (~120 µs per request) the difference was within
 * that benchmark's noise (docs/ci-and-runtimes.md).
 */
const NODE22_FLAG_SAVING = 'measured at about 0.4 µs more CPU per async callback than the CPED path ' +
  '(4 µs per request of 10 awaits; bench/overhead/node22-async.mjs)';

function hintNode22Flag(engine: SamplerEngine, logger: Logger): void {
  if (logged22Hint || engine.mode !== 'async-hooks' || !process.version.startsWith('v22.') || asyncContextFrameActive()) return;
  logged22Hint = true;
  logger.info({ reqprof: 'runtime', node: process.version, mode: engine.mode },
    `reqprof: Node 22 without --experimental-async-context-frame: tags reach the sampler through an async_hooks hook, ${NODE22_FLAG_SAVING}. ` +
    'Start Node with --experimental-async-context-frame (e.g. NODE_OPTIONS) for the cheaper CPED path.');
}
