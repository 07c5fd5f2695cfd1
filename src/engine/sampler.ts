import { setSamplerBridge, type SamplerBridge } from '../context.js';
import { ErrorCodes, samplerError } from '../errors.js';
import { TagSet } from '../tags.js';
import { loadedPprof, type TimeProfiler } from './native.js';
import type { CollectWants, EngineMode, FunctionTotals, RawWindow, SamplerEngine, TagSetTotals } from './types.js';
import type { Profile } from 'pprof-format';

/** One sample as `@datadog/pprof` hands it to `generateLabels`. */
interface SampleContext {
  context?: unknown;
  cpuTime?: number;
}
interface SampleNode {
  name?: string;
  scriptName?: string;
  lineNumber?: number;
  columnNumber?: number;
}

const NO_WANTS: CollectWants = { profile: false, functions: false };

/** The process owns one native sampler: a second reqprof profiler must not steal it. */
let owner: object | undefined;

/**
 * What both engine paths share: starting and restarting `@datadog/pprof`'s time
 * profiler with per-sample CPU and contexts, and summing each window's CPU per
 * tag set. Subclasses only decide how the current tag set reaches the sampler.
 */
export abstract class SamplerBase implements SamplerEngine {
  abstract readonly mode: EngineMode;
  protected time!: TimeProfiler;
  #started = false;
  #windowStart = 0;
  #samplingIntervalMicros: number;
  #nonJsName = 'Non JS threads activity';

  constructor(samplingIntervalMicros: number) {
    this.#samplingIntervalMicros = samplingIntervalMicros;
  }

  get started(): boolean {
    return this.#started;
  }

  /** Options for `time.start` particular to the path. */
  protected abstract startOptions(): Record<string, unknown>;
  /** The bridge that keeps the sampler's context in step with `tagStorage`. */
  protected abstract bridge(): SamplerBridge;
  /** Turns a recorded sample context back into the tag set it stood for. */
  protected abstract resolve(context: unknown): TagSet | undefined;
  /** Path-specific setup after the native sampler started (hooks, holders). */
  protected onStarted(): void {}
  /** Path-specific teardown before the native sampler stops for good. */
  protected onStopping(): void {}

  start(maxWindowMillis: number, sourceMapper?: unknown): void {
    if (this.#started) return;
    if (owner !== undefined && owner !== this) {
      throw samplerError(ErrorCodes.SAMPLER_BUSY,
        'reqprof: another reqprof profiler is already running in this process; only one native CPU sampler can run per thread. Stop it first, or share one profiler.');
    }
    const pprof = loadedPprof();
    this.time = pprof.time;
    this.#nonJsName = pprof.time.constants.NON_JS_THREADS_FUNCTION_NAME ?? this.#nonJsName;
    if (this.time.isStarted()) {
      throw samplerError(ErrorCodes.SAMPLER_BUSY,
        'reqprof: another tool already runs the @datadog/pprof time profiler in this process (for example dd-trace or Pyroscope); only one native CPU sampler can run per thread.');
    }
    try {
      this.time.start({
        intervalMicros: this.#samplingIntervalMicros,
        // The native context buffer holds about 2 x durationMillis / interval samples:
        // size it past the longest window, or samples are silently dropped.
        durationMillis: maxWindowMillis,
        withContexts: true,
        collectCpuTime: true,
        lineNumbers: false,
        ...(sourceMapper ? { sourceMapper } : {}),
        ...this.startOptions(),
      } as Parameters<TimeProfiler['start']>[0]);
    } catch (err) {
      const msg = (err as Error)?.message ?? String(err);
      const busy = /already started|already active|another/i.test(msg);
      throw samplerError(busy ? ErrorCodes.SAMPLER_BUSY : ErrorCodes.SAMPLER_UNAVAILABLE,
        busy
          ? `reqprof: another CPU profiler already runs in this process (${msg}); only one native sampler can run per thread.`
          : `reqprof: the native sampler failed to start on Node ${process.version}: ${msg}`, err);
    }
    owner = this;
    this.#started = true;
    this.#windowStart = Date.now();
    this.onStarted();
    setSamplerBridge(this.bridge());
  }

  collect(restart: boolean, wants: CollectWants = NO_WANTS): RawWindow {
    if (!this.#started) throw new Error('reqprof: internal error: collect() while the sampler is stopped');
    const totals = new Map<TagSet | undefined, TagSetTotals>();
    let nonJs = 0;
    let samples = 0;
    const nonJsName = this.#nonJsName;
    const wantFunctions = wants.functions;
    // Labels are built once per tag set object, and only when a profile is wanted.
    const labelCache = wants.profile ? new Map<TagSet, Record<string, string>>() : undefined;
    const fnKeys = wantFunctions ? new Map<SampleNode, string>() : undefined;
    const generateLabels = ({ node, context }: { node: SampleNode; context?: SampleContext }): Record<string, string> => {
      if (context === undefined) return EMPTY_LABELS;
      const cpu = context.cpuTime ?? 0;
      if (node.name === nonJsName) {
        nonJs += cpu;
        return EMPTY_LABELS;
      }
      const tags = this.resolve(context.context);
      samples++;
      let t = totals.get(tags);
      if (t === undefined) {
        t = { tags, cpuNanos: 0, samples: 0 };
        totals.set(tags, t);
      }
      t.cpuNanos += cpu;
      t.samples++;
      if (fnKeys !== undefined) addFunction(t, node, cpu, fnKeys);
      if (labelCache === undefined || tags === undefined) return EMPTY_LABELS;
      let labels = labelCache.get(tags);
      if (labels === undefined) {
        labels = tags.toObject();
        labelCache.set(tags, labels);
      }
      return labels;
    };
    if (!restart) {
      this.onStopping();
      setSamplerBridge(undefined);
    }
    const start = this.#windowStart;
    const end = Date.now();
    let profile: Profile | undefined;
    try {
      profile = this.time.stop(restart, generateLabels as never) as unknown as Profile;
    } finally {
      if (!restart) {
        this.#started = false;
        owner = undefined;
      }
    }
    this.#windowStart = end;
    return { start, end, totals, nonJsThreadsCpuNanos: nonJs, samples, ...(wants.profile ? { profile } : {}) };
  }

  abort(): void {
    if (!this.#started) return;
    this.onStopping();
    setSamplerBridge(undefined);
    try {
      this.time.stop(false);
    } catch {
      // Already stopped by someone else (e.g. the addon's own exit handler).
    }
    this.#started = false;
    owner = undefined;
  }
}

export function asTagSet(value: unknown): TagSet | undefined {
  return value instanceof TagSet ? value : undefined;
}

const EMPTY_LABELS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** Adds a sample's CPU to its leaf function within the tag set. */
function addFunction(t: TagSetTotals, node: SampleNode, cpu: number, keys: Map<SampleNode, string>): void {
  let key = keys.get(node);
  if (key === undefined) {
    key = `${node.name ?? ''}\u0000${node.scriptName ?? ''}\u0000${node.lineNumber ?? 0}`;
    keys.set(node, key);
  }
  t.functions ??= new Map<string, FunctionTotals>();
  const f = t.functions.get(key);
  if (f === undefined) {
    t.functions.set(key, {
      name: node.name || '(anonymous)',
      file: node.scriptName ?? '',
      line: node.lineNumber ?? 0,
      column: node.columnNumber ?? 0,
      cpuNanos: cpu,
    });
  } else f.cpuNanos += cpu;
}
