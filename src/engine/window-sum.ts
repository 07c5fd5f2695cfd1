import type { TagSet } from '../tags.js';
import type { RawNode, RawTimeProfile } from './native.js';
import type { FunctionTotals, TagSetTotals } from './types.js';

type Context = NonNullable<RawNode['contexts']>[number];

/** How many samples (or tree nodes) are summed between two looks at the clock (~40 ns each). */
const CHECK_EVERY = 32;

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
 */
export class WindowSum {
  readonly totals = new Map<TagSet | undefined, TagSetTotals>();
  samples = 0;
  /** Idle samples and the tags their CPU went to, for labelling the pprof profile the same way. */
  readonly idleTags: Map<object, TagSet | undefined> | undefined;
  readonly #resolve: (context: unknown) => TagSet | undefined;
  readonly #functions: boolean;
  readonly #stack: RawNode[] = [];
  #node: RawNode | undefined;
  #index = 0;
  #done = false;
  // Timed samples in parallel arrays (plain numbers: this runs per sample, on the event loop):
  // time in µs since the epoch, and the tags and node of a sample, or the entry of an idle one.
  readonly #times: number[] = [];
  readonly #timeTags: Array<TagSet | undefined> = [];
  readonly #timeNodes: RawNode[] = [];
  readonly #idleEntries: Array<Context | undefined> = [];
  #idleCount = 0;

  constructor(raw: RawTimeProfile, resolve: (context: unknown) => TagSet | undefined, functions: boolean, labelIdle: boolean) {
    this.#resolve = resolve;
    this.#functions = functions;
    this.idleTags = labelIdle ? new Map() : undefined;
    for (const child of raw.topDownRoot.children) {
      // As the pprof serializer does: (program) samples are dropped (their CPU carries to the next sample).
      if (child.name !== '(program)') this.#stack.push(child);
    }
  }

  /** Sums until done or until `performance.now()` passes `deadline`; true once every sample is summed. */
  step(deadline: number): boolean {
    if (this.#done) return true;
    let budget = CHECK_EVERY;
    const stack = this.#stack;
    for (;;) {
      let node = this.#node;
      if (node === undefined) {
        node = stack.pop();
        if (node === undefined) break;
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
    this.#assignIdle();
    this.#done = true;
    return true;
  }

  #sample(node: RawNode, c: Context, isIdle: boolean): void {
    this.samples++;
    if (isIdle && c.context === undefined && c.timestamp !== undefined) {
      this.#times.push(Number(c.timestamp));
      this.#timeTags.push(undefined);
      this.#timeNodes.push(node);
      this.#idleEntries.push(c);
      this.#idleCount++;
      return;
    }
    const tags = this.#resolve(c.context);
    this.#add(tags, c.cpuTime ?? 0, node);
    if (c.timestamp !== undefined) {
      this.#times.push(Number(c.timestamp));
      this.#timeTags.push(tags);
      this.#timeNodes.push(node);
      this.#idleEntries.push(undefined);
    }
  }

  #add(tags: TagSet | undefined, cpu: number, node: RawNode | undefined): void {
    let t = this.totals.get(tags);
    if (t === undefined) {
      t = { tags, cpuNanos: 0, samples: 0 };
      this.totals.set(tags, t);
    }
    t.cpuNanos += cpu;
    t.samples++;
    if (this.#functions && node !== undefined) addFunction(t, node, cpu);
  }

  /** Gives each idle sample's CPU to the tags of the last busy sample before it. */
  #assignIdle(): void {
    if (this.#idleCount === 0) return;
    const idle = this.#idleEntries;
    let last = -1;
    for (const i of timeOrder(this.#times, idle)) {
      const entry = idle[i];
      if (entry === undefined) {
        last = i;
        continue;
      }
      const tags = last >= 0 ? this.#timeTags[last] : undefined;
      this.#add(tags, entry.cpuTime ?? 0, last >= 0 ? this.#timeNodes[last] : undefined);
      this.idleTags?.set(entry, tags);
    }
  }
}

/**
 * Sample indices in time order, a busy sample before an idle one taken in the
 * same microsecond. Sorted as packed numbers (time, idle bit, index in one
 * double) by the engine's native numeric sort: a comparator function would
 * run tens of thousands of times in code that runs once per window and is
 * never optimized (4 ms for 2 800 samples on Node 24).
 */
function timeOrder(times: readonly number[], idle: ReadonlyArray<unknown>): Iterable<number> {
  const n = times.length;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const t = times[i]!;
    if (t < min) min = t;
    if (t > max) max = t;
  }
  if ((2 * (max - min) + 2) * n >= Number.MAX_SAFE_INTEGER) {
    // A window too long to pack: order with a comparator instead.
    const order = Array.from({ length: n }, (_, i) => i);
    return order.sort((a, b) => times[a]! - times[b]! || (idle[a] === undefined ? 0 : 1) - (idle[b] === undefined ? 0 : 1) || a - b);
  }
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = (2 * (times[i]! - min) + (idle[i] === undefined ? 0 : 1)) * n + i;
  keys.sort();
  const order = new Uint32Array(n);
  for (let k = 0; k < n; k++) order[k] = keys[k]! % n;
  return order;
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
