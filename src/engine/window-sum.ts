import type { TagSet } from '../tags.js';
import type { RawNode, RawTimeProfile } from './native.js';
import type { FunctionTotals, TagSetTotals } from './types.js';

type Context = NonNullable<RawNode['contexts']>[number];

/** How many samples are summed between two looks at the clock. */
const CHECK_EVERY = 128;

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
  // Timed samples in parallel arrays (plain numbers: this runs per sample, on the event loop).
  readonly #times: number[] = [];
  readonly #timeTags: Array<TagSet | undefined> = [];
  readonly #timeNodes: RawNode[] = [];
  readonly #idle: Array<{ ts: number; cpu: number; entry: object }> = [];

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
      this.#idle.push({ ts: Number(c.timestamp), cpu: c.cpuTime ?? 0, entry: c });
      return;
    }
    const tags = this.#resolve(c.context);
    this.#add(tags, c.cpuTime ?? 0, node);
    if (c.timestamp !== undefined) {
      this.#times.push(Number(c.timestamp));
      this.#timeTags.push(tags);
      this.#timeNodes.push(node);
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

  /** Gives each idle sample's CPU to the tags of the last sample before it. */
  #assignIdle(): void {
    const idle = this.#idle;
    if (idle.length === 0) return;
    const times = this.#times;
    const order = new Uint32Array(times.length);
    for (let i = 0; i < order.length; i++) order[i] = i;
    order.sort((a, b) => times[a]! - times[b]!);
    idle.sort((a, b) => a.ts - b.ts);
    let j = -1;
    for (const s of idle) {
      while (j + 1 < order.length && times[order[j + 1]!]! <= s.ts) j++;
      const before = j >= 0 ? order[j]! : -1;
      const tags = before >= 0 ? this.#timeTags[before] : undefined;
      this.#add(tags, s.cpu, before >= 0 ? this.#timeNodes[before] : undefined);
      this.idleTags?.set(s.entry, tags);
    }
  }
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
