import type { TagSet } from '../tags.js';
import type { RawNode, RawTimeProfile } from './native.js';
import type { FunctionTotals, TagSetTotals } from './types.js';

type Context = NonNullable<RawNode['contexts']>[number];

/** How many samples (or tree nodes) are summed between two looks at the clock (~40 ns each). */
const CHECK_EVERY = 32;

/**
 * Timed samples are ordered by one native numeric sort of packed keys
 * (time, an idle bit, the sample's index: one double each), not by a
 * comparator: this code runs once per window, so it is never optimized, and a
 * comparator sort cost 4 ms per 2 800 samples on Node 24. A key holds
 * INDEX_SLOTS indices and times within ±TIME_SPAN µs of the first sample's;
 * a window past either (hours long, a million samples) is ordered with a comparator.
 */
const INDEX_SLOTS = 2 ** 20;
const TIME_SPAN = 2 ** 30;

/**
 * Sums one window's CPU per tag set (and per leaf function) over every sample
 * of the raw V8 profile, in slices: `step(deadline)` works until the deadline
 * and can be called again, so the window loop can hand the event loop back
 * between slices instead of blocking it for the whole window's samples.
 *
 * A sample taken while the thread is idle carries no context but does carry
 * the CPU used since the previous sample: the tail of the work that ran just
 * before the thread went idle. That CPU goes to the tags of the sample before
 * it in time, instead of to the untagged group, where it would be lost to the
 * request that used it (up to half a sampling period per burst of work).
 * Such an idle sample adds its CPU to that tag set but not to its `samples`:
 * `samples` counts the draws that ran the tag set's code, the N behind the
 * share's ± (see share-interval.ts); counted there, a lightly loaded service's
 * error bars would look several times narrower than they are.
 *
 * A busy sample right after a busy sample of other tags (one request ran
 * straight into the next, no idle moment between) also carries CPU of two
 * requests: the tail of the one before and the head of its own, split at an
 * unknown moment of the interval. Billed whole to its own tags, every request
 * that another follows back to back loses its tail to that one (measured at
 * 1 kHz: a 2-3 ms route always followed by another read 8-18% under its own
 * CPU, on both engine paths). Half goes to each: with the switch uniformly
 * placed in the interval, both get what they used, on average.
 */
export class WindowSummer {
  readonly totals = new Map<TagSet | undefined, TagSetTotals>();
  samples = 0;
  /** Busy samples' CPU (ns) and its sum of squares: the effective sample count (see share-interval.ts). */
  readonly busyWeights = { samples: 0, sum: 0, squares: 0 };
  /** Idle samples and the tags their CPU went to, for labelling the pprof profile the same way. */
  readonly idleTags: Map<object, TagSet | undefined> | undefined;
  readonly #resolve: (context: unknown) => TagSet | undefined;
  readonly #functions: boolean;
  // Phase 1, the walk over the tree (resumable).
  readonly #stack: RawNode[] = [];
  #node: RawNode | undefined;
  #index = 0;
  // Timed samples in parallel arrays (plain numbers: this runs per sample, on the event loop):
  // time in µs since the epoch and its packed sort key, and the tags and node of a
  // busy sample or the entry of an idle one.
  readonly #times: number[] = [];
  readonly #keys: number[] = [];
  #firstTime = NaN;
  #packable = true;
  readonly #timeTags: Array<TagSet | undefined> = [];
  readonly #timeNodes: RawNode[] = [];
  readonly #idleEntries: Array<Context | undefined> = [];
  readonly #cpus: number[] = [];
  // Phase 2, the idle tails in time order (resumable).
  #order: ArrayLike<number> | undefined;
  #position = 0;
  #lastBusy = -1;
  #lastWasBusy = false;
  #phase: 'walk' | 'order' | 'assign' | 'done' = 'walk';

  constructor(raw: RawTimeProfile, resolve: (context: unknown) => TagSet | undefined, functions: boolean, labelIdle: boolean) {
    this.#resolve = resolve;
    this.#functions = functions;
    this.idleTags = labelIdle ? new Map() : undefined;
    for (const child of raw.topDownRoot.children) {
      // As the pprof serializer does: (program) samples are dropped (their CPU carries to the next sample).
      if (child.name !== '(program)') this.#stack.push(child);
    }
  }

  /**
   * Sums until done or until `performance.now()` passes `deadline`; true once
   * every sample is summed. Each phase (walk, ordering the idle tails,
   * assigning them) starts in a slice of its own when the deadline has passed.
   */
  step(deadline: number): boolean {
    if (this.#phase === 'walk') {
      if (!this.#walk(deadline)) return false;
      this.#phase = this.#times.length < 2 ? 'done' : 'order';
      if (this.#phase === 'order' && performance.now() >= deadline) return false;
    }
    if (this.#phase === 'order') {
      this.#order = this.#timeOrder();
      this.#phase = 'assign';
      if (performance.now() >= deadline) return false;
    }
    if (this.#phase === 'assign') {
      if (!this.#assignIdle(deadline)) return false;
      this.#phase = 'done';
    }
    return true;
  }

  #walk(deadline: number): boolean {
    let budget = CHECK_EVERY;
    const stack = this.#stack;
    for (;;) {
      let node = this.#node;
      if (node === undefined) {
        node = stack.pop();
        if (node === undefined) return true;
        this.#node = node;
        this.#index = 0;
        const children = node.children;
        for (let i = 0; i < children.length; i++) stack.push(children[i]!);
      }
      const contexts = node.contexts;
      if (contexts !== undefined) {
        const isIdle = node.name === '(idle)';
        while (this.#index < contexts.length) {
          this.#sample(node, contexts[this.#index++]!, isIdle);
          if (--budget === 0) {
            if (performance.now() >= deadline) return false;
            budget = CHECK_EVERY;
          }
        }
      }
      this.#node = undefined;
      if (--budget <= 0) {
        if (performance.now() >= deadline) return false;
        budget = CHECK_EVERY;
      }
    }
  }

  #sample(node: RawNode, c: Context, isIdle: boolean): void {
    this.samples++;
    const idle = isIdle && c.context === undefined;
    let tags: TagSet | undefined;
    if (!idle) {
      tags = this.#resolve(c.context);
      const cpu = c.cpuTime ?? 0;
      this.#add(tags, cpu, node, 1);
      const w = this.busyWeights;
      w.samples++;
      w.sum += cpu;
      w.squares += cpu * cpu;
    }
    if (c.timestamp === undefined) return;
    const t = Number(c.timestamp);
    const i = this.#times.length;
    if (i === 0) this.#firstTime = t;
    const rel = t - this.#firstTime;
    if (rel <= -TIME_SPAN || rel >= TIME_SPAN || i >= INDEX_SLOTS) this.#packable = false;
    this.#times.push(t);
    this.#keys.push((2 * (rel + TIME_SPAN) + (idle ? 1 : 0)) * INDEX_SLOTS + i);
    this.#timeTags.push(tags);
    this.#timeNodes.push(node);
    this.#idleEntries.push(idle ? c : undefined);
    this.#cpus.push(c.cpuTime ?? 0);
  }

  #add(tags: TagSet | undefined, cpu: number, node: RawNode | undefined, samples: 0 | 1): void {
    let t = this.totals.get(tags);
    if (t === undefined) {
      t = { tags, cpuNanos: 0, samples: 0 };
      this.totals.set(tags, t);
    }
    t.cpuNanos += cpu;
    t.samples += samples;
    if (this.#functions && node !== undefined) addFunction(t, node, cpu);
  }

  /** Timed samples in time order, a busy one before an idle one taken in the same microsecond. */
  #timeOrder(): ArrayLike<number> {
    if (this.#packable) {
      const keys = Float64Array.from(this.#keys);
      keys.sort();
      return keys;
    }
    const times = this.#times;
    const idle = this.#idleEntries;
    const order = Array.from({ length: times.length }, (_, i) => i);
    return order.sort((a, b) => times[a]! - times[b]! || (idle[a] === undefined ? 0 : 1) - (idle[b] === undefined ? 0 : 1) || a - b);
  }

  /**
   * Gives the first idle sample after a busy one that busy sample's tags (its
   * tail); later idle samples in a row stay untagged. Half of a busy sample's
   * CPU goes to the tags of the busy sample just before it when those differ
   * (see the class comment).
   */
  #assignIdle(deadline: number): boolean {
    const order = this.#order!;
    const packed = this.#packable;
    const idle = this.#idleEntries;
    const tagsAt = this.#timeTags;
    const nodes = this.#timeNodes;
    let budget = CHECK_EVERY;
    while (this.#position < order.length) {
      const v = order[this.#position++]!;
      const i = packed ? v % INDEX_SLOTS : v;
      const entry = idle[i];
      const last = this.#lastBusy;
      if (entry === undefined) {
        if (this.#lastWasBusy && tagsAt[last] !== tagsAt[i]) {
          const half = this.#cpus[i]! / 2;
          this.#add(tagsAt[i], -half, nodes[i], 0);
          this.#add(tagsAt[last], half, nodes[last], 0);
        }
        this.#lastBusy = i;
        this.#lastWasBusy = true;
      } else {
        const tags = last >= 0 ? tagsAt[last] : undefined;
        this.#add(tags, entry.cpuTime ?? 0, last >= 0 ? nodes[last] : undefined, 0);
        this.idleTags?.set(entry, tags);
        // Only the first idle sample holds the tail; later ones in a row hold the idle thread's own CPU
        // (the sampler's signal handling: ~14 ms/s at 1 kHz on an idle worker).
        this.#lastBusy = -1;
        this.#lastWasBusy = false;
      }
      if (--budget === 0) {
        if (performance.now() >= deadline) return false;
        budget = CHECK_EVERY;
      }
    }
    return true;
  }
}

/** A tree node's function key, made once per node (a node has many samples). */
const functionKeys = new WeakMap<RawNode, string>();

/** Adds a sample's CPU to its leaf function within the tag set. */
function addFunction(t: TagSetTotals, node: RawNode, cpu: number): void {
  let key = functionKeys.get(node);
  if (key === undefined) {
    key = `${node.name ?? ''}\u0000${node.scriptName ?? ''}\u0000${node.lineNumber ?? 0}`;
    functionKeys.set(node, key);
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
