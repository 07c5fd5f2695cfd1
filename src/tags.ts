import { tagsError } from './errors.js';

/**
 * Tags as users write them: a flat `['k1', 'v1', 'k2', 'v2']` list (Kitex style)
 * or an object `{ k1: 'v1' }`. Numbers, bigints and booleans are converted with
 * `String()`. A key whose value is `undefined` or `null` is left out, as pino
 * and OpenTelemetry drop such attributes (`tenant: req.headers['x-tenant']`
 * with the header missing); it does not remove a value inherited from an
 * outer `tag()`. Objects, arrays, symbols and functions are rejected.
 */
export type TagValue = string | number | boolean | bigint | null | undefined;
export type TagsInput = readonly TagValue[] | Readonly<Record<string, TagValue>>;

/**
 * An immutable, normalised tag set: one value per key, sorted by key. Contexts
 * share these objects by reference, so a request costs one allocation per tag() call.
 */
export class TagSet {
  /** Flat `[k1, v1, k2, v2]`, sorted by key, one entry per key. */
  readonly pairs: readonly string[];
  #key: string | undefined;

  /** @internal use `createTagSet` / `mergeTags`, which validate. */
  constructor(sortedPairs: readonly string[]) {
    this.pairs = sortedPairs;
  }

  /** The unambiguous key (`a=1|b=2`, with `\`, `|` and `=` escaped), built once on demand. */
  get key(): string {
    if (this.#key === undefined) this.#key = keyOf(this.pairs);
    return this.#key;
  }

  get(key: string): string | undefined {
    const p = this.pairs;
    for (let i = 0; i < p.length; i += 2) if (p[i] === key) return p[i + 1];
    return undefined;
  }

  get size(): number {
    return this.pairs.length / 2;
  }

  toObject(): Record<string, string> {
    const out: Record<string, string> = Object.create(null);
    for (let i = 0; i < this.pairs.length; i += 2) out[this.pairs[i]!] = this.pairs[i + 1]!;
    return out;
  }
}

const NEEDS_ESCAPE = /[\\|=]/;
const ESCAPE_ALL = /[\\|=]/g;

/** Escapes the three characters that structure a key, so that distinct tag sets never share one. */
export function escapeTagPart(s: string): string {
  return NEEDS_ESCAPE.test(s) ? s.replace(ESCAPE_ALL, (c) => '\\' + c) : s;
}

/** Splits a key built by `keyOf` back into flat pairs (the inverse of `keyOf`). */
export function parseKey(key: string): string[] {
  const out: string[] = [];
  if (key === '') return out;
  let cur = '';
  for (let i = 0; i < key.length; i++) {
    const c = key[i]!;
    if (c === '\\' && i + 1 < key.length) {
      cur += key[++i];
    } else if (c === '=' && out.length % 2 === 0) {
      out.push(cur);
      cur = '';
    } else if (c === '|') {
      out.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  out.push(cur);
  return out;
}

export function keyOf(sortedPairs: readonly string[]): string {
  let key = '';
  for (let i = 0; i < sortedPairs.length; i += 2) {
    if (i > 0) key += '|';
    key += escapeTagPart(sortedPairs[i]!) + '=' + escapeTagPart(sortedPairs[i + 1]!);
  }
  return key;
}

/** Bounds that keep one careless tag (a request body, a stack trace) from bloating every key. */
/**
 * The tag set that absorbs tag sets beyond the `maxTagSets` cap (and, with
 * CPED, contexts past the engine's per-window cap): here, below the context
 * and the aggregation that both use it.
 */
export const OVERFLOW_TAGS: readonly string[] = Object.freeze(['reqprof_overflow', 'true']);
export const OVERFLOW_KEY = 'reqprof_overflow=true';

export const TAG_LIMITS = Object.freeze({
  /** Longer keys are cut to this many UTF-16 code units. */
  maxKeyLength: 128,
  /** Longer values are cut to this many UTF-16 code units, ending in `…`. */
  maxValueLength: 1024,
  /** More distinct keys in one tag set is a TypeError. */
  maxKeys: 64,
});

function bound(s: string, max: number): string {
  return s.length <= max ? s : s.slice(0, max - 1) + '…';
}

/** The tag string for `v`; undefined for `undefined` and `null` (the key is left out). */
function toTagString(v: unknown, what: string): string | undefined {
  switch (typeof v) {
    case 'string':
      return bound(v, TAG_LIMITS.maxValueLength);
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(v);
    case 'undefined':
      return undefined;
    default:
      if (v === null) return undefined;
      throw tagsError(`reqprof: ${what} must be a string, number, boolean or bigint (undefined and null leave the tag out), got ${Array.isArray(v) ? 'an array' : typeof v}`);
  }
}

/** What an integration does with one invalid tag value: drop that key and say so, instead of throwing. */
export type InvalidValueHandler = (key: string, err: Error) => void;

/**
 * Validates user tags into an ordered list of `[key, value]` entries, as given
 * (duplicates kept: later wins when merged). Keys with an `undefined` or
 * `null` value are left out. With `onInvalidValue`, a value of a wrong type
 * drops only its key (reported there) and the count is not checked (the
 * caller bounds the merged set, see `boundAdded`); without, it throws.
 */
export function parseTags(input: unknown, onInvalidValue?: InvalidValueHandler): string[] {
  const flat: string[] = [];
  const push = (k: string, v: unknown, what: string): void => {
    let s: string | undefined;
    try {
      s = toTagString(v, what);
    } catch (err) {
      if (onInvalidValue === undefined) throw err;
      onInvalidValue(k, err as Error);
      return;
    }
    if (s !== undefined) flat.push(bound(k, TAG_LIMITS.maxKeyLength), s);
  };
  const done = (): string[] => (onInvalidValue === undefined ? checkCount(flat) : flat);
  if (Array.isArray(input)) {
    if (input.length % 2 !== 0) {
      throw tagsError(`reqprof: tags must be key/value pairs, got an odd-length array (${input.length} entries); the last key "${String(input[input.length - 1])}" has no value`);
    }
    for (let i = 0; i < input.length; i += 2) {
      const k = input[i];
      if (typeof k !== 'string') {
        throw tagsError(`reqprof: tag key at index ${i} must be a string, got ${k === null ? 'null' : typeof k}`);
      }
      if (k === '') throw tagsError(`reqprof: tag key at index ${i} is empty`);
      push(k, input[i + 1], `value of tag "${k}" (index ${i + 1})`);
    }
    return done();
  }
  if (input !== null && typeof input === 'object') {
    for (const k of Object.keys(input)) {
      if (k === '') throw tagsError('reqprof: tag key "" is empty');
      push(k, (input as Record<string, unknown>)[k], `value of tag "${k}"`);
    }
    return done();
  }
  throw tagsError(`reqprof: tags must be an array of key/value pairs or an object, got ${input === null ? 'null' : typeof input}`);
}

function checkCount(flat: string[]): string[] {
  if (flat.length / 2 > TAG_LIMITS.maxKeys) {
    throw tagsError(`reqprof: at most ${TAG_LIMITS.maxKeys} tags per tag set, got ${flat.length / 2}`);
  }
  return flat;
}

/**
 * Appends `added` (flat, in order) to `base` (sorted, one entry per key): on a
 * duplicate key the later value wins. Sorted by key. Linear in the usual case
 * of a handful of tags: this runs once per tag() call, on the request path.
 */
export function mergePairs(base: readonly string[], added: readonly string[]): string[] {
  const sortedAdded = sortUnique(added);
  if (base.length === 0) return sortedAdded;
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < base.length || j < sortedAdded.length) {
    const c = i >= base.length ? 1 : j >= sortedAdded.length ? -1 : compareKeys(base[i]!, sortedAdded[j]!);
    if (c < 0) {
      out.push(base[i]!, base[i + 1]!);
      i += 2;
    } else {
      out.push(sortedAdded[j]!, sortedAdded[j + 1]!);
      if (c === 0) i += 2;
      j += 2;
    }
  }
  if (out.length / 2 > TAG_LIMITS.maxKeys) {
    throw tagsError(`reqprof: at most ${TAG_LIMITS.maxKeys} tags per tag set, merging would make ${out.length / 2}`);
  }
  return out;
}

/**
 * `added` (flat, in order) cut so that `base` merged with it holds at most
 * `maxKeys` keys: a key already in `base` or kept earlier is always kept (it
 * only changes a value); a new key past the bound is dropped and named in
 * `dropped`. What integrations do instead of throwing into a request.
 */
export function boundAdded(base: readonly string[], added: readonly string[]): { pairs: readonly string[]; dropped: string[] } {
  const seen = new Set<string>();
  for (let i = 0; i < base.length; i += 2) seen.add(base[i]!);
  if (seen.size + added.length / 2 <= TAG_LIMITS.maxKeys) return { pairs: added, dropped: [] };
  const pairs: string[] = [];
  const dropped: string[] = [];
  for (let i = 0; i < added.length; i += 2) {
    const k = added[i]!;
    if (!seen.has(k)) {
      if (seen.size >= TAG_LIMITS.maxKeys) {
        dropped.push(k);
        continue;
      }
      seen.add(k);
    }
    pairs.push(k, added[i + 1]!);
  }
  return { pairs, dropped };
}

/** Flat pairs sorted by key (stable), keeping the last value of a repeated key. */
function sortUnique(flat: readonly string[]): string[] {
  const n = flat.length / 2;
  if (n <= 1) return flat.slice();
  // Insertion sort of pair indices: n is small (at most maxKeys).
  const idx: number[] = [];
  for (let a = 0; a < n; a++) {
    let b = idx.length;
    while (b > 0 && compareKeys(flat[2 * idx[b - 1]!]!, flat[2 * a]!) > 0) b--;
    idx.splice(b, 0, a);
  }
  const out: string[] = [];
  for (let k = 0; k < idx.length; k++) {
    const a = idx[k]!;
    // Equal keys are adjacent and in input order: keep only the last of a run.
    if (k + 1 < idx.length && flat[2 * idx[k + 1]!] === flat[2 * a]) continue;
    out.push(flat[2 * a]!, flat[2 * a + 1]!);
  }
  return out;
}

/** Code-unit order, so the key does not depend on the locale. */
export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A new tag set: `base` (if any) with `input` appended, later values winning. */
export function mergeTags(base: TagSet | undefined, input: unknown): TagSet {
  const added = parseTags(input);
  if (added.length === 0 && base !== undefined) return base;
  return new TagSet(mergePairs(base ? base.pairs : [], added));
}

export function createTagSet(input: unknown): TagSet {
  return mergeTags(undefined, input);
}
