import { setSamplerBridge, type SamplerBridge } from '../context.js';
import { ErrorCodes, samplerError } from '../errors.js';
import { TagSet } from '../tags.js';
import type { Profile } from 'pprof-format';
import {
  createNativeTimeProfiler, packageTimeProfilerStarted, serializeProfile,
  type NativeTimeProfiler, type RawNode, type RawTimeProfile,
} from './native.js';
import type { CollectWants, EngineMode, FunctionTotals, RawWindow, SamplerEngine, TagSetTotals } from './types.js';

/** The process owns one native sampler per thread: a second reqprof profiler must not steal it. */
let owner: object | undefined;

const NO_WANTS: CollectWants = { profile: false, functions: false };

/**
 * What both engine paths share: one native sampler instance for the life of a
 * profiler (stopped and started again across pauses and intervals, so contexts
 * set before a pause stay readable after it), windows restarted without a gap,
 * and each window's CPU summed per tag set straight from the raw V8 profile.
 * A pprof `Profile` is serialized only when a processor asked for one.
 * Subclasses only decide how the current tag set reaches the sampler.
 */
export abstract class SamplerBase implements SamplerEngine {
  abstract readonly mode: EngineMode;
  protected native: NativeTimeProfiler | undefined;
  #started = false;
  #windowStart = 0;
  #bufferMillis = 0;
  #sourceMapper: unknown;
  readonly #samplingIntervalMicros: number;

  constructor(samplingIntervalMicros: number) {
    this.#samplingIntervalMicros = samplingIntervalMicros;
  }

  get started(): boolean {
    return this.#started;
  }

  /** With CPED, the key under which the context sits in each AsyncContextFrame. */
  protected abstract useCPED(): boolean;
  protected cpedKey(): object | undefined {
    return undefined;
  }
  /** The bridge that keeps the sampler's context in step with `tagStorage`. */
  protected abstract bridge(): SamplerBridge;
  /** Turns a recorded sample context back into the tag set it stood for. */
  protected abstract resolve(context: unknown): TagSet | undefined;
  /** Path-specific setup each time sampling starts (hooks, holders). */
  protected onStarted(): void {}
  /** Path-specific teardown each time sampling stops. */
  protected onStopping(): void {}
  /** Called at each window end; returns how many contexts were folded into the overflow tag set. */
  protected onWindow(): number {
    return 0;
  }

  start(maxWindowMillis: number, sourceMapper?: unknown): void {
    if (this.#started) return;
    if (owner !== undefined && owner !== this) {
      throw samplerError(ErrorCodes.SAMPLER_BUSY,
        'reqprof: another reqprof profiler is already running in this process; only one native CPU sampler can run per thread. Stop it first, or share one profiler.');
    }
    if (packageTimeProfilerStarted()) {
      throw samplerError(ErrorCodes.SAMPLER_BUSY,
        'reqprof: another tool already runs the @datadog/pprof time profiler in this process (for example dd-trace); only one native CPU sampler can run per thread.');
    }
    this.#sourceMapper = sourceMapper;
    try {
      if (this.native === undefined || maxWindowMillis > this.#bufferMillis) {
        this.#disposeNative();
        this.native = createNativeTimeProfiler({
          intervalMicros: this.#samplingIntervalMicros,
          // The native context buffer holds about 2 x durationMillis / interval samples:
          // size it past the longest window, or samples are silently dropped.
          durationMillis: maxWindowMillis,
          useCPED: this.useCPED(),
          cpedKey: this.cpedKey(),
        });
        this.#bufferMillis = maxWindowMillis;
      }
      this.native.start();
    } catch (err) {
      this.#disposeNative();
      const msg = (err as Error)?.message ?? String(err);
      const busy = /already (started|active)|another profiler/i.test(msg);
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
    const native = this.native;
    if (!this.#started || native === undefined) throw new Error('reqprof: internal error: collect() while the sampler is stopped');
    if (!restart) {
      this.onStopping();
      setSamplerBridge(undefined);
    }
    const start = this.#windowStart;
    const end = Date.now();
    let raw: RawTimeProfile;
    try {
      raw = native.stop(restart);
      // The addon's guard against a V8 bug that leaves the profiler stuck on empty profiles.
      if (restart && native.v8ProfilerStuckEventLoopDetected() > 0) {
        native.stop(false);
        native.start();
      }
    } finally {
      if (!restart) {
        this.#started = false;
        owner = undefined;
      }
    }
    this.#windowStart = end;
    const overflowedContexts = this.onWindow();
    const idleTags = wants.profile ? new Map<object, TagSet | undefined>() : undefined;
    const window = this.#sum(raw, wants.functions, idleTags);
    window.overflowedContexts = overflowedContexts;
    window.start = start;
    window.end = end;
    if (wants.profile) window.profile = this.#serialize(raw, start, idleTags!);
    return window;
  }

  /**
   * Sums CPU per tag set (and per leaf function) over every sample of the raw profile.
   *
   * A sample taken while the thread is idle carries no context but does carry
   * the CPU used since the previous sample: the tail of the work that ran just
   * before the thread went idle. That CPU goes to the tags of the sample before
   * it in time, instead of to the untagged group, where it would be lost to
   * the request that used it (up to half a sampling period per burst of work).
   */
  #sum(raw: RawTimeProfile, functions: boolean, idleTags: Map<object, TagSet | undefined> | undefined): RawWindow {
    const totals = new Map<TagSet | undefined, TagSetTotals>();
    let samples = 0;
    const add = (tags: TagSet | undefined, cpu: number, node: RawNode | undefined): void => {
      let t = totals.get(tags);
      if (t === undefined) {
        t = { tags, cpuNanos: 0, samples: 0 };
        totals.set(tags, t);
      }
      t.cpuNanos += cpu;
      t.samples++;
      if (functions && node !== undefined) addFunction(t, node, cpu);
    };
    // Timestamps of attributed samples, to hand idle tails to their predecessor.
    // Plain numbers in parallel arrays: this runs per sample at window end, on
    // the event loop (nanosecond timestamps lose only sub-microsecond precision).
    const times: number[] = [];
    const timeTags: Array<TagSet | undefined> = [];
    const timeNodes: RawNode[] = [];
    const idle: Array<{ ts: number; cpu: number; entry: object }> = [];
    const stack: RawNode[] = [];
    for (const child of raw.topDownRoot.children) {
      // As the pprof serializer does: (program) samples are dropped (their CPU carries to the next sample).
      if (child.name !== '(program)') stack.push(child);
    }
    while (stack.length > 0) {
      const node = stack.pop()!;
      const contexts = node.contexts;
      if (contexts !== undefined) {
        const isIdle = node.name === '(idle)';
        for (let i = 0; i < contexts.length; i++) {
          const c = contexts[i]!;
          samples++;
          if (isIdle && c.context === undefined && c.timestamp !== undefined) {
            idle.push({ ts: Number(c.timestamp), cpu: c.cpuTime ?? 0, entry: c });
            continue;
          }
          const tags = this.resolve(c.context);
          add(tags, c.cpuTime ?? 0, node);
          if (c.timestamp !== undefined) {
            times.push(Number(c.timestamp));
            timeTags.push(tags);
            timeNodes.push(node);
          }
        }
      }
      const children = node.children;
      for (let i = 0; i < children.length; i++) stack.push(children[i]!);
    }
    if (idle.length > 0) {
      const order = new Uint32Array(times.length);
      for (let i = 0; i < order.length; i++) order[i] = i;
      order.sort((a, b) => times[a]! - times[b]!);
      idle.sort((a, b) => a.ts - b.ts);
      let j = -1;
      for (const s of idle) {
        while (j + 1 < order.length && times[order[j + 1]!]! <= s.ts) j++;
        const before = j >= 0 ? order[j]! : -1;
        const tags = before >= 0 ? timeTags[before] : undefined;
        add(tags, s.cpu, before >= 0 ? timeNodes[before] : undefined);
        // The pprof profile labels the idle sample the same way, so its totals match.
        idleTags?.set(s.entry, tags);
      }
    }
    return { start: 0, end: 0, totals, nonJsThreadsCpuNanos: raw.nonJSThreadsCpuTime ?? 0, samples };
  }

  #serialize(raw: RawTimeProfile, startMs: number, idleTags: Map<object, TagSet | undefined>): Profile {
    const labels = new Map<TagSet, Record<string, string>>();
    const profile = serializeProfile(raw, this.#samplingIntervalMicros, this.#sourceMapper, (entry) => {
      const tags = idleTags.has(entry) ? idleTags.get(entry) : this.resolve(entry.context);
      if (tags === undefined) return EMPTY_LABELS;
      let l = labels.get(tags);
      if (l === undefined) {
        l = tags.toObject();
        labels.set(tags, l);
      }
      return l;
    }) as Profile;
    // The serializer stamps the time of serialization; a profile's time is when it started.
    profile.timeNanos = BigInt(startMs) * 1_000_000n;
    return profile;
  }

  abort(): void {
    if (this.#started) {
      this.onStopping();
      setSamplerBridge(undefined);
      try {
        this.native?.stop(false);
      } catch {
        // Already stopped (e.g. torn down at exit).
      }
      this.#started = false;
      owner = undefined;
    }
    this.#disposeNative();
  }

  #disposeNative(): void {
    const n = this.native;
    this.native = undefined;
    this.#bufferMillis = 0;
    if (n === undefined) return;
    try {
      n.dispose();
    } catch {
      // Nothing to release.
    }
  }
}

const EMPTY_LABELS: Record<string, string> = Object.freeze({}) as Record<string, string>;

export function asTagSet(value: unknown): TagSet | undefined {
  return value instanceof TagSet ? value : undefined;
}

/** Adds a sample's CPU to its leaf function within the tag set. */
function addFunction(t: TagSetTotals, node: RawNode, cpu: number): void {
  const key = `${node.name ?? ''}\u0000${node.scriptName ?? ''}\u0000${node.lineNumber ?? 0}`;
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
