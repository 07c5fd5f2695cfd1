import { TAG_LIMITS, TagSet, mergePairs, mergeTags } from './tags.js';

/**
 * Remembers which tag set a (base tag set, added tags) pair produced, so that
 * the request path does not parse, sort, merge and key the same tags again for
 * every request: a service tags each request with one of a few route / tenant
 * combinations, and a hit here is a few Map lookups with no allocation (and
 * the same TagSet object each time, which the engines use to find their
 * sampler context without building its key).
 *
 * The memo is a trie per base tag set: one level per added key, then one per
 * value, in the order given (order only matters for a repeated key, where the
 * later value wins, and the path keeps it). Only plain tags take it: string
 * keys and string, number or boolean values within the length bounds;
 * anything else goes the validating way, which also reports errors.
 *
 * Bounded: past `MAX_NODES` nodes in all (a user id in a tag makes one per
 * request), every trie is dropped at once and filling starts over.
 */
const MAX_NODES = 4_096;

class Node {
  /** key -> value -> next node. */
  readonly next = new Map<string, Map<string, Node>>();
  result: TagSet | undefined;
  constructor(readonly generation: number) {}
}

let generation = 1;
let nodes = 0;
let root = new Node(generation);
/** The trie of tag sets derived from each base tag set. */
const byBase = new WeakMap<TagSet, Node>();

function trieOf(base: TagSet | undefined, create: boolean): Node | undefined {
  if (base === undefined) return root;
  let t = byBase.get(base);
  if (t !== undefined && t.generation === generation) return t;
  if (!create) return undefined;
  t = new Node(generation);
  byBase.set(base, t);
  return t;
}

function step(node: Node, key: string, value: string): Node | undefined {
  return node.next.get(key)?.get(value);
}

function stepOrAdd(node: Node, key: string, value: string): Node {
  let values = node.next.get(key);
  if (values === undefined) {
    values = new Map();
    node.next.set(key, values);
  }
  let n = values.get(value);
  if (n === undefined) {
    n = new Node(generation);
    values.set(value, n);
    nodes++;
  }
  return n;
}

/** The string a plain tag value stands for, or undefined when it needs the validating path. */
function plainValue(v: unknown): string | undefined {
  if (typeof v === 'string') return v.length <= TAG_LIMITS.maxValueLength ? v : undefined;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

function plainKey(k: unknown): k is string {
  return typeof k === 'string' && k.length > 0 && k.length <= TAG_LIMITS.maxKeyLength;
}

/** Walks (or, with `add`, builds) the path for `input`; undefined when it is not plain or not there. */
function walk(start: Node, input: unknown, add: boolean): Node | undefined {
  let node: Node | undefined = start;
  if (Array.isArray(input)) {
    if (input.length % 2 !== 0) return undefined;
    for (let i = 0; i < input.length && node !== undefined; i += 2) node = stepPair(node, input[i], input[i + 1], add);
    return node;
  }
  if (input === null || typeof input !== 'object') return undefined;
  const keys = Object.keys(input);
  for (let i = 0; i < keys.length && node !== undefined; i++) node = stepPair(node, keys[i], (input as Record<string, unknown>)[keys[i]!], add);
  return node;
}

/** One key and value of the walk: the next node, `node` itself for a left-out value, undefined when not plain or not there. */
function stepPair(node: Node, k: unknown, raw: unknown, add: boolean): Node | undefined {
  if (!plainKey(k)) return undefined;
  // undefined and null leave the key out, as the validating path does: the walk skips it.
  if (raw === undefined || raw === null) return node;
  const v = plainValue(raw);
  if (v === undefined) return undefined;
  return add ? stepOrAdd(node, k, v) : step(node, k, v);
}

/** The tag set remembered for `base` and `input`, if any. */
function recall(base: TagSet | undefined, input: unknown): TagSet | undefined {
  const trie = trieOf(base, false);
  return trie === undefined ? undefined : walk(trie, input, false)?.result;
}

function remember(base: TagSet | undefined, input: unknown, result: TagSet): void {
  if (nodes >= MAX_NODES) {
    generation++;
    nodes = 0;
    root = new Node(generation);
  }
  const leaf = walk(trieOf(base, true)!, input, true);
  if (leaf !== undefined) leaf.result = result;
}

/**
 * `mergeTags(base, input)`, remembered: the same base and the same plain
 * input give the same TagSet object. Invalid input throws as `mergeTags` does.
 */
export function deriveTags(base: TagSet | undefined, input: unknown): TagSet {
  const hit = recall(base, input);
  if (hit !== undefined) return hit;
  const result = mergeTags(base, input);
  remember(base, input, result);
  return result;
}

/**
 * `base` with already validated flat pairs appended (later values winning),
 * remembered like `deriveTags`: what the integrations' tagging functions return.
 */
export function derivePairs(base: TagSet | undefined, pairs: readonly string[]): TagSet {
  const hit = recall(base, pairs);
  if (hit !== undefined) return hit;
  const result = pairs.length === 0 && base !== undefined ? base : new TagSet(mergePairs(base ? base.pairs : [], pairs));
  remember(base, pairs, result);
  return result;
}
