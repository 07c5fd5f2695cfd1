import type { Profile } from 'pprof-format';
import { keyOf } from '../../tags.js';

/** A frame as the page shows it: `[name, file, line]`. */
export type Frame = [name: string, file: string, line: number];

/**
 * One tag set's call tree, flattened for the page: preorder triples
 * `frame index, CPU µs (inclusive), child count`, children largest first.
 */
export interface FlameTree {
  key: string;
  /** CPU µs of the whole tree (the root's value). */
  totalUs: number;
  nodes: number[];
  /** Nodes dropped by the cap; their CPU shows as their parent's self time. */
  droppedNodes: number;
  /** The functions with the most self CPU: `[frame index, µs]`, largest first. */
  hot: Array<[frame: number, us: number]>;
}

export interface FlameForest {
  frames: Frame[];
  trees: FlameTree[];
}

export interface FlameOptions {
  /** The tree a sample's tag-set key goes to (besides the all-CPU one), or undefined for none. */
  treeOf: (key: string) => string | undefined;
  /** Key of the tree that holds every sample; undefined for none. */
  allKey?: string;
  /** Nodes kept in a tree (the largest by CPU). */
  maxNodes: (key: string) => number;
  /** Hot functions kept per tree. */
  hotFunctions: number;
}

/** Frames the sampler adds for time outside JS: not a request's CPU. */
const NOT_REQUEST_CPU = new Set(['(idle)', '(program)', 'Non JS threads activity']);

interface Node {
  frame: number;
  value: number;
  children: Map<number, Node> | undefined;
}

interface Building {
  root: Node;
  self: Map<number, number>;
}

/** Samples handled between two yields of the builder (see `buildFlameForestAsync`). */
const SAMPLES_PER_SLICE = 2000;

/**
 * Builds per-tag-set call trees (CPU ns) from labelled pprof profiles, without
 * touching them (processors share them). Synchronous: for the exit path.
 */
export function buildFlameForest(profiles: readonly Profile[], o: FlameOptions): FlameForest {
  const it = build(profiles, o);
  for (;;) {
    const r = it.next();
    if (r.done) return r.value;
  }
}

/** The same, giving the event loop a turn every few thousand samples and between trees. */
export async function buildFlameForestAsync(profiles: readonly Profile[], o: FlameOptions): Promise<FlameForest> {
  const it = build(profiles, o);
  for (;;) {
    const r = it.next();
    if (r.done) return r.value;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Yields where a caller may let other work run. */
function* build(profiles: readonly Profile[], o: FlameOptions): Generator<void, FlameForest> {
  const frames: Frame[] = [];
  const frameIndex = new Map<string, number>();
  const trees = new Map<string, Building>();
  const ROOT = -1;
  const treeFor = (key: string): Building => {
    let t = trees.get(key);
    if (t === undefined) {
      t = { root: { frame: ROOT, value: 0, children: undefined }, self: new Map() };
      trees.set(key, t);
    }
    return t;
  };
  if (o.allKey !== undefined) treeFor(o.allKey);

  for (const profile of profiles) {
    const strings = profile.stringTable.strings;
    const cpuIndex = valueIndex(profile, strings);
    const functions = new Map<number, { name: string; file: string; line: number }>();
    for (const f of profile.function) {
      functions.set(Number(f.id), { name: strings[Number(f.name)] ?? '', file: strings[Number(f.filename)] ?? '', line: Number(f.startLine) });
    }
    // A location's frames, caller first (pprof lists inlined lines innermost first).
    const locations = new Map<number, number[]>();
    for (const loc of profile.location) {
      const out: number[] = [];
      for (let i = loc.line.length - 1; i >= 0; i--) {
        const l = loc.line[i]!;
        const fn = functions.get(Number(l.functionId));
        const name = fn?.name || '(anonymous)';
        const file = fn?.file ?? '';
        const line = Number(l.line) || fn?.line || 0;
        const fk = `${name}\u0000${file}\u0000${line}`;
        let idx = frameIndex.get(fk);
        if (idx === undefined) {
          idx = frames.length;
          frames.push([name, file, line]);
          frameIndex.set(fk, idx);
        }
        out.push(idx);
      }
      locations.set(Number(loc.id), out);
    }
    // Samples of one call-tree node share their location array: sum CPU per
    // (tree, stack) first, then walk each distinct stack once.
    const perStack = new Map<Building, Map<Profile['sample'][number]['locationId'], number>>();
    const add = (t: Building, stack: Profile['sample'][number]['locationId'], value: number): void => {
      let m = perStack.get(t);
      if (m === undefined) {
        m = new Map();
        perStack.set(t, m);
      }
      m.set(stack, (m.get(stack) ?? 0) + value);
    };
    const keys = new Map<string, string>();
    let n = 0;
    for (const sample of profile.sample) {
      if (++n % SAMPLES_PER_SLICE === 0) yield;
      const value = Number(sample.value[cpuIndex] ?? 0);
      if (!(value > 0)) continue;
      const ids = sample.locationId;
      const leaf = locations.get(Number(ids[0]));
      if (leaf === undefined || NOT_REQUEST_CPU.has(frames[leaf[leaf.length - 1]!]![0])) continue;
      const named = o.treeOf(labelKey(sample.label, strings, keys));
      if (named !== undefined) add(treeFor(named), ids, value);
      if (o.allKey !== undefined && named !== o.allKey) add(treeFor(o.allKey), ids, value);
    }
    for (const [t, stacks] of perStack) {
      for (const [ids, value] of stacks) {
        let node = t.root;
        node.value += value;
        for (let i = ids.length - 1; i >= 0; i--) {
          for (const frame of locations.get(Number(ids[i])) ?? []) node = child(node, frame, value);
        }
        if (node !== t.root) t.self.set(node.frame, (t.self.get(node.frame) ?? 0) + value);
      }
      yield;
    }
  }
  const out: FlameTree[] = [];
  for (const [key, t] of trees) {
    out.push(flatten(key, t, o));
    yield;
  }
  return compactFrames(frames, out);
}

function child(parent: Node, frame: number, value: number): Node {
  parent.children ??= new Map();
  let c = parent.children.get(frame);
  if (c === undefined) {
    c = { frame, value: 0, children: undefined };
    parent.children.set(frame, c);
  }
  c.value += value;
  return c;
}

/** The index of the `cpu` sample type (the last one if there is none). */
function valueIndex(profile: Profile, strings: string[]): number {
  const i = profile.sampleType.findIndex((t) => strings[Number(t.type)] === 'cpu');
  return i >= 0 ? i : profile.sampleType.length - 1;
}

/** The tag-set key (as in `TagsProfile.key`) of a sample's string labels. */
function labelKey(labels: Profile['sample'][number]['label'], strings: string[], cache: Map<string, string>): string {
  if (labels.length === 0) return '';
  let id = '';
  for (const l of labels) id += `${l.key},${l.str};`;
  let key = cache.get(id);
  if (key === undefined) {
    const pairs: Array<[string, string]> = [];
    for (const l of labels) if (Number(l.str) !== 0) pairs.push([strings[Number(l.key)] ?? '', strings[Number(l.str)] ?? '']);
    pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    key = keyOf(pairs.flat());
    cache.set(id, key);
  }
  return key;
}

/**
 * Keeps the `maxNodes` largest nodes: a parent never holds less CPU than its
 * child and sorts first on a tie, so the kept set is a tree.
 */
function flatten(key: string, t: Building, o: FlameOptions): FlameTree {
  const all: Array<{ node: Node; depth: number }> = [];
  const stack: Array<{ node: Node; depth: number }> = [{ node: t.root, depth: 0 }];
  while (stack.length > 0) {
    const e = stack.pop()!;
    all.push(e);
    if (e.node.children) for (const c of e.node.children.values()) stack.push({ node: c, depth: e.depth + 1 });
  }
  let keep: Set<Node> | undefined;
  const max = Math.max(1, o.maxNodes(key));
  if (all.length > max) {
    all.sort((a, b) => b.node.value - a.node.value || a.depth - b.depth);
    keep = new Set(all.slice(0, max).map((e) => e.node));
  }
  const nodes: number[] = [];
  const visit = (n: Node): void => {
    const kids = n.children ? [...n.children.values()].filter((c) => keep === undefined || keep.has(c)) : [];
    kids.sort((a, b) => b.value - a.value);
    nodes.push(n.frame, us(n.value), kids.length);
    for (const c of kids) visit(c);
  };
  visit(t.root);
  const hot = [...t.self].sort((a, b) => b[1] - a[1]).slice(0, o.hotFunctions).map(([f, v]): [number, number] => [f, us(v)]);
  return { key, totalUs: us(t.root.value), nodes, droppedNodes: keep === undefined ? 0 : all.length - keep.size, hot };
}

function us(ns: number): number {
  return Math.round(ns / 1000);
}

/** Drops the frames that only capped-away nodes used, so the page's size follows the caps. */
function compactFrames(frames: Frame[], trees: FlameTree[]): FlameForest {
  const remap = new Map<number, number>();
  const kept: Frame[] = [];
  const map = (f: number): number => {
    if (f < 0) return f;
    let m = remap.get(f);
    if (m === undefined) {
      m = kept.length;
      kept.push(frames[f]!);
      remap.set(f, m);
    }
    return m;
  };
  for (const t of trees) {
    for (let i = 0; i < t.nodes.length; i += 3) t.nodes[i] = map(t.nodes[i]!);
    for (const h of t.hot) h[0] = map(h[0]);
  }
  return { frames: kept, trees };
}
