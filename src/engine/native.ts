import { createRequire } from 'node:module';
import { isMainThread } from 'node:worker_threads';
import { ErrorCodes, samplerError } from '../errors.js';

// require(), not import(): on Node 20 a dynamic import of a CommonJS package can
// wait seconds behind a busy event loop, and the profiler must start promptly.
const require = createRequire(import.meta.url);

/**
 * The parts of `@datadog/pprof` the engine uses. reqprof drives the addon's
 * `TimeProfiler` directly instead of the package's `time` singleton so that it
 * (1) gets the raw V8 profile and sums CPU per tag set without serializing a
 * pprof profile nobody asked for, and (2) keeps one native instance, and with
 * it the CPED context key, across pauses and intervals.
 */
export type PprofModule = typeof import('@datadog/pprof');

/** The raw profile the addon returns from `stop()`. */
export interface RawTimeProfile {
  startTime: number;
  endTime: number;
  topDownRoot: RawNode;
  hasCpuTime?: boolean;
  nonJSThreadsCpuTime?: number;
}
export interface RawNode {
  name?: string;
  scriptName?: string;
  scriptId?: number;
  lineNumber?: number;
  columnNumber?: number;
  hitCount: number;
  children: RawNode[];
  contexts?: Array<{ context?: unknown; cpuTime?: number; timestamp?: bigint }>;
}

/** One native wall/CPU sampler instance (per thread). */
export interface NativeTimeProfiler {
  start(): void;
  stop(restart: boolean): RawTimeProfile;
  dispose(): void;
  context: unknown;
  readonly state: { [index: number]: number };
  /** With CPED: a holder object for `value` that the sampler can read from an AsyncContextFrame. */
  createContextHolder(value: unknown): object;
  v8ProfilerStuckEventLoopDetected(): number;
  /** How many context holders of this instance are alive (CPED). */
  readonly metrics?: { usedAsyncContextCount?: number };
}

export interface NativeTimeProfilerOptions {
  intervalMicros: number;
  durationMillis: number;
  useCPED: boolean;
  /** With CPED: the object under which the sampler's context is stored in each AsyncContextFrame. */
  cpedKey?: object;
}

type Serialize = (prof: RawTimeProfile, intervalMicros: number, sourceMapper: unknown, recomputeSamplingInterval: boolean,
  generateLabels: (a: { node: RawNode; context?: { context?: unknown } }) => Record<string, string>) => unknown;

interface Addon {
  TimeProfiler: new (options: Record<string, unknown>) => NativeTimeProfiler;
  constants: { kSampleCount: number };
}

/**
 * The @datadog/pprof versions reqprof was tested with: package.json's range
 * (a test keeps the two equal). CI also runs the engine tests against the
 * newest release (scripts/test-pprof-next.sh) before this range is widened.
 */
export const TESTED_PPROF_RANGE = '~5.20.0';

let pprof: PprofModule | undefined;
let version: string | undefined;
let addon: Addon | undefined;
let serialize: Serialize | undefined;
let nonJsThreadsName = 'Non JS threads activity';
let simulatedFailure: Error | undefined;
let acfActive: boolean | undefined;

/** Test seam: simulate a runtime where the addon cannot be loaded (undefined restores). */
export function simulateNativeLoadFailureForTests(err: Error | undefined): void {
  simulatedFailure = err;
}

function unavailable(err: unknown): Error {
  return samplerError(ErrorCodes.SAMPLER_UNAVAILABLE,
    `reqprof: the native sampler (@datadog/pprof) cannot be loaded on Node ${process.version} ` +
    `(${process.platform}-${process.arch}): ${(err as Error)?.message ?? String(err)}. ` +
    'The service runs on without CPU profiling.', err);
}

/** Loads the addon once; throws `REQPROF_ERR_SAMPLER_UNAVAILABLE` where it cannot load. */
export function loadPprof(): PprofModule {
  if (simulatedFailure) throw unavailable(simulatedFailure);
  if (pprof) return pprof;
  try {
    const loaded = require('@datadog/pprof') as PprofModule;
    addon = require('@datadog/pprof/out/src/time-profiler-bindings.js') as Addon;
    const serializer = require('@datadog/pprof/out/src/profile-serializer.js') as { serializeTimeProfile: Serialize; NON_JS_THREADS_FUNCTION_NAME?: string };
    if (typeof addon.TimeProfiler !== 'function' || typeof serializer.serializeTimeProfile !== 'function') {
      throw new Error('this @datadog/pprof version lacks TimeProfiler or serializeTimeProfile');
    }
    serialize = serializer.serializeTimeProfile;
    try {
      version = (require('@datadog/pprof/package.json') as { version?: string }).version;
    } catch {
      // A package whose exports hide package.json: the version is only for messages.
    }
    nonJsThreadsName = serializer.NON_JS_THREADS_FUNCTION_NAME ?? nonJsThreadsName;
    acfActive = probeAsyncContextFrame();
    pprof = loaded;
    return pprof;
  } catch (err) {
    throw unavailable(err);
  }
}

function probeAsyncContextFrame(): boolean {
  try {
    const acf = require('@datadog/pprof/out/src/async-context-frame.js') as { isAsyncContextFrameActive?: () => boolean };
    return typeof acf.isAsyncContextFrameActive === 'function' ? acf.isAsyncContextFrameActive() : false;
  } catch {
    // An addon version without the probe: assume no frames, the hooks path works everywhere.
    return false;
  }
}

/**
 * Whether AsyncLocalStorage is backed by AsyncContextFrame in this process, i.e.
 * whether continuation-preserved embedder data carries contexts. Asked of the
 * addon itself: Node 22 without --experimental-async-context-frame, or Node 24
 * with --no-async-context-frame, starts fine with useCPED and loses every context.
 */
export function asyncContextFrameActive(): boolean {
  return acfActive === true;
}

/** The loaded @datadog/pprof's version, for messages ("unknown" when it does not say). */
export function pprofVersion(): string {
  return version ?? 'unknown';
}

/** Whether the package's own `time` profiler is running (another tool in this process). */
export function packageTimeProfilerStarted(): boolean {
  return loadPprof().time.isStarted();
}

export function createNativeTimeProfiler(o: NativeTimeProfilerOptions): NativeTimeProfiler {
  loadPprof();
  return new addon!.TimeProfiler({
    intervalMicros: o.intervalMicros,
    durationMillis: o.durationMillis,
    lineNumbers: false,
    withContexts: true,
    workaroundV8Bug: true,
    collectCpuTime: true,
    collectAsyncId: false,
    useCPED: o.useCPED,
    ...(o.useCPED ? { CPEDKey: o.cpedKey } : {}),
    isMainThread,
  });
}

export function sampleCountIndex(): number {
  loadPprof();
  return addon!.constants.kSampleCount;
}

export function nonJsThreadsFunctionName(): string {
  return nonJsThreadsName;
}

/** Serializes a raw profile into a pprof-format `Profile`, labels from `labelsOf(sample entry)`. */
export function serializeProfile(prof: RawTimeProfile, intervalMicros: number, sourceMapper: unknown,
  labelsOf: (entry: { context?: unknown }) => Record<string, string>): unknown {
  return serialize!(prof, intervalMicros, sourceMapper, true, ({ context }) => (context === undefined ? {} : labelsOf(context)));
}
