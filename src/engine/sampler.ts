import { isTagSet, runWithTags, samplerBridge, samplerOwnership, setSamplerBridge, tagStorage, type SamplerBridge, type TagStore } from '../context.js';
import { ErrorCodes, samplerError } from '../errors.js';
import type { TagSet } from '../tags.js';
import { resolveLate } from '../routes/late-route.js';
import type { Profile } from 'pprof-format';
import {
  createNativeTimeProfiler, packageTimeProfilerStarted, sampleCountIndex, serializeProfile,
  type NativeTimeProfiler, type RawTimeProfile,
} from './native.js';
import type { CollectWants, EngineMode, SummingWindow, SampledWindow, SamplerEngine } from './types.js';
import { WindowSummer } from './window-summer.js';

/** The process owns one native sampler per thread: a second reqprof profiler (of any copy of reqprof) must not steal it. */
const ownership = samplerOwnership;

const NO_WANTS: CollectWants = { profile: false, functions: false };

/**
 * A one-shot look at the next window (the start-up self-check): samples
 * recorded under the probe's private tag set are counted, then summed as
 * untagged, so they never reach a processor as a tag set of their own.
 */
export interface WindowProbe {
  readonly tags: TagSet;
  /** The summed window, and how many of its samples carried `tags`. */
  done(window: SampledWindow, probeSamples: number): void;
}

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
  #bridge: SamplerBridge | undefined;
  #windowStart = 0;
  #bufferMillis = 0;
  #sourceMapper: unknown;
  #probe: WindowProbe | undefined;
  readonly #samplingIntervalMicros: number;

  constructor(samplingIntervalMicros: number) {
    this.#samplingIntervalMicros = samplingIntervalMicros;
  }

  get started(): boolean {
    return this.#started;
  }

  get samplingIntervalMicros(): number {
    return this.#samplingIntervalMicros;
  }

  /** Lets `probe` see (and filter) the samples of the window now sampling. */
  probeNextWindow(probe: WindowProbe): void {
    this.#probe = probe;
  }

  /** How many samples the native sampler has taken since it (re)started; undefined when unreadable. */
  sampleCount(): number | undefined {
    const n = this.native?.state[sampleCountIndex()];
    return typeof n === 'number' ? n : undefined;
  }

  /**
   * Runs `fn` with `tags` as the context the sampler records, by the same
   * means as `tag()`, but outside the per-window holder bookkeeping of the
   * CPED path (a private tag set must not take a user's place under `maxTagSets`).
   */
  runAsSampledContext<R>(tags: TagSet, fn: () => R): R {
    const native = this.native;
    if (this.useCPED() && native !== undefined) return tagStorage.run(native.createContextHolder(tags) as TagStore, fn);
    return runWithTags(tags, fn);
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
  /**
   * Whether tagging keeps going through this engine's bridge while sampling is
   * stopped between windows (pause, interval): CPED does, so that requests
   * tagged in a gap carry a holder and are sampled with their tags once
   * sampling resumes.
   */
  protected bridgeWhileStopped(): boolean {
    return false;
  }
  /** Called at each window end; returns how many contexts were folded into the overflow tag set. */
  protected onWindow(): number {
    return 0;
  }

  start(maxWindowMillis: number, sourceMapper?: unknown): void {
    if (this.#started) return;
    if (ownership.owner !== undefined && ownership.owner !== this) {
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
    ownership.owner = this;
    this.#started = true;
    this.#windowStart = Date.now();
    this.onStarted();
    this.#bridge ??= this.bridge();
    setSamplerBridge(this.#bridge);
  }

  stop(restart: boolean, wants: CollectWants = NO_WANTS): SummingWindow {
    const native = this.native;
    if (!this.#started || native === undefined) throw new Error('reqprof: internal error: stop() while the sampler is stopped');
    if (!restart) {
      this.onStopping();
      if (!this.bridgeWhileStopped()) this.#removeBridge();
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
        ownership.owner = undefined;
      }
    }
    this.#windowStart = end;
    const overflowedContexts = this.onWindow();
    const probe = this.#probe;
    this.#probe = undefined;
    let probeSamples = 0;
    const hidden = probe?.tags;
    const count = hidden === undefined ? (c: unknown) => this.resolve(c) : (c: unknown) => {
      const tags = this.resolve(c);
      if (tags !== hidden) return tags;
      probeSamples++;
      return undefined;
    };
    const label = hidden === undefined ? count : (c: unknown) => {
      const tags = this.resolve(c);
      return tags === hidden ? undefined : tags;
    };
    const sum = new WindowSummer(raw, count, wants.functions, wants.profile);
    return {
      step: (deadline) => sum.step(deadline),
      finish: () => {
        sum.step(Infinity);
        const window: SampledWindow = {
          start, end, totals: sum.totals, samples: sum.samples, busyWeights: sum.busyWeights, nonJsThreadsCpuNanos: raw.nonJSThreadsCpuTime ?? 0, overflowedContexts,
        };
        if (wants.profile) window.profile = this.#serialize(raw, start, sum.idleTags!, label);
        probe?.done(window, probeSamples);
        return window;
      },
    };
  }

  #serialize(raw: RawTimeProfile, startMs: number, idleTags: Map<object, TagSet | undefined>,
    resolve: (context: unknown) => TagSet | undefined): Profile {
    const labels = new Map<TagSet, Record<string, string>>();
    const profile = serializeProfile(raw, this.#samplingIntervalMicros, this.#sourceMapper, (entry) => {
      const tags = idleTags.has(entry) ? idleTags.get(entry) : resolve(entry.context);
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
    this.#removeBridge();
    if (this.#started) {
      this.onStopping();
      try {
        this.native?.stop(false);
      } catch {
        // Already stopped (e.g. torn down at exit).
      }
      this.#started = false;
      ownership.owner = undefined;
    }
    this.#disposeNative();
  }

  /** Uninstalls this engine's bridge (not another profiler's, installed since). */
  #removeBridge(): void {
    if (this.#bridge !== undefined && samplerBridge() === this.#bridge) setSamplerBridge(undefined);
    this.#bridge = undefined;
  }

  #disposeNative(): void {
    const n = this.native;
    this.native = undefined;
    this.#bufferMillis = 0;
    if (n !== undefined) this.releaseNative(n);
  }

  /** Frees a native instance this engine no longer uses. */
  protected releaseNative(native: NativeTimeProfiler): void {
    try {
      native.dispose();
    } catch {
      // Nothing to release.
    }
  }
}

const EMPTY_LABELS: Record<string, string> = Object.freeze({}) as Record<string, string>;

export function asTagSet(value: unknown): TagSet | undefined {
  // Another copy of reqprof may have tagged the request (they share one tag context).
  return isTagSet(value) ? resolveLate(value) : undefined;
}
