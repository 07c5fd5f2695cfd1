import { FOLDED_TAG_SET, tagStorage, type SamplerBridge, type TagStore } from '../context.js';
import type { TagSet } from '../tags.js';
import { LateRouteTags } from '../routes/late-route.js';
import type { NativeTimeProfiler } from './native.js';
import { SamplerBase, asTagSet } from './sampler.js';

/**
 * Native instances this thread made with `tagStorage` as their frame key and
 * released. Their holders may still sit in the frames of requests in flight,
 * and a holder points into memory its instance frees when it is destroyed, so
 * an instance is disposed only once no holder of it is alive; the next engine
 * to run reads old holders safely.
 */
const retired = new Set<NativeTimeProfiler>();

function liveHolders(native: NativeTimeProfiler): number {
  const n = native.metrics?.usedAsyncContextCount;
  // Without the count (another @datadog/pprof version), keep the instance: a few hundred KB.
  return typeof n === 'number' ? n : Infinity;
}

function pruneRetired(): void {
  for (const n of retired) {
    if (liveHolders(n) > 0) continue;
    retired.delete(n);
    try {
      n.dispose();
    } catch {
      // Nothing to release.
    }
  }
}

/**
 * Node >= 24 (or 22 with --experimental-async-context-frame): the tag set rides
 * V8's continuation-preserved embedder data. The native sampler reads
 * `tagStorage`'s own entry in the current AsyncContextFrame, where `tag()`
 * stores a native holder of the tag set instead of the bare tag set: one frame
 * per `tag()`, and no cost per `await`.
 */
export class CpedEngine extends SamplerBase {
  readonly mode = 'cped' as const;
  /**
   * Native context holders for the current window, by tag set object and by
   * tag key. A holder is a native object with a weak handle: making one costs
   * far more than a lookup, and many of them (a user id in a tag: one per
   * request) flood the old generation with garbage only a full GC frees, at a
   * few µs each. So holders are budgeted per window: the first `maxTagSets`
   * distinct tag sets get one as they come; past that, a tag set gets one only
   * when it is tagged again (a hot route after a flood of user ids), up to
   * `maxTagSets` more. The rest share one holder of the folded tag set (their
   * CPU goes to `reqprof_overflow=true`) and keep their real tags for
   * `lookup()` (see `FOLDED_TAG_SET`). What this loses, by construction: the
   * CPU of the requests tagged with a late tag set before its second `tag()`
   * (usually one request's), and all CPU of late tag sets seen only once in
   * the window or after both budgets are spent. The aggregation then keeps the
   * `maxTagSets` with the most CPU.
   */
  #bySet = new Map<TagSet, TagStore>();
  #byKey = new Map<string, TagStore>();
  #holdersOf: NativeTimeProfiler | undefined;
  #foldedHolder: TagStore | undefined;
  #overflowed = 0;
  /** Keys refused a holder this window (bounded: cleared when it reaches `maxTagSets`). */
  #refused = new Set<string>();
  /** Holders given past the first-come budget this window, to tag sets refused once before. */
  #promoted = 0;
  readonly #maxTagSets: number;

  constructor(samplingIntervalMicros: number, maxTagSets: number) {
    super(samplingIntervalMicros);
    this.#maxTagSets = maxTagSets;
  }

  protected useCPED(): boolean {
    return true;
  }

  protected cpedKey(): object {
    pruneRetired();
    return tagStorage;
  }

  protected bridgeWhileStopped(): boolean {
    return true;
  }

  protected releaseNative(native: NativeTimeProfiler): void {
    retired.add(native);
    pruneRetired();
  }

  #wrap = (tags: TagSet): TagStore => {
    // A request whose route is settled later needs a holder of its own (uncapped: it resolves to a shared tag set).
    // Not cached on the request: the holder keeps its value alive from a native handle, so a request holding
    // its holder would never be collected; each entry (the listener, each body event) makes one.
    if (tags instanceof LateRouteTags) return (this.native?.createContextHolder(tags) as TagStore | undefined) ?? tags;
    const known = this.#bySet.get(tags);
    if (known !== undefined) return known;
    const h = this.#holder(tags);
    // Tag sets from the tag cache are the same object request after request;
    // others (past the cache's bound) are looked up by key. A refusal is not
    // remembered here: the next tag() of that set must count as a repeat.
    if (h !== this.#foldedHolder && this.#bySet.size < 4 * this.#maxTagSets) this.#bySet.set(tags, h);
    return h;
  };

  /** The holder the native sampler reads for `tags`, made by the current native instance. */
  #holder(tags: TagSet): TagStore {
    const native = this.native;
    if (native === undefined) return tags;
    if (this.#holdersOf !== native) {
      // A new native instance: holders are made afresh by it (old ones stay readable).
      this.#forget();
      this.#foldedHolder = undefined;
      this.#holdersOf = native;
    }
    const key = tags.key;
    let h = this.#byKey.get(key);
    if (h === undefined) {
      if (this.#byKey.size >= this.#maxTagSets && !this.#promote(key)) {
        this.#overflowed++;
        return (this.#foldedHolder ??= native.createContextHolder(FOLDED_TAG_SET) as TagStore);
      }
      h = native.createContextHolder(tags) as TagStore;
      this.#byKey.set(key, h);
    }
    return h;
  }

  /** Past the first-come budget: whether `key`, refused before in this window, gets a holder now. */
  #promote(key: string): boolean {
    if (this.#promoted < this.#maxTagSets && this.#refused.delete(key)) {
      this.#promoted++;
      return true;
    }
    if (this.#refused.size >= this.#maxTagSets) this.#refused.clear();
    this.#refused.add(key);
    return false;
  }

  #forget(): void {
    this.#bySet.clear();
    this.#byKey.clear();
    this.#refused.clear();
    this.#promoted = 0;
  }

  /** A new window: tag sets get holders afresh (in-flight requests keep theirs). */
  protected onWindow(): number {
    this.#forget();
    const overflowed = this.#overflowed;
    this.#overflowed = 0;
    return overflowed;
  }

  protected bridge(): SamplerBridge {
    return { kind: 'store', wrap: this.#wrap };
  }

  protected resolve(context: unknown): TagSet | undefined {
    return asTagSet(context);
  }
}
