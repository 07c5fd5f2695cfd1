/**
 * Bounds the label (or attribute) values a metrics backend sees, so a tag that
 * carries user input (a user id, a raw URL) cannot create an unbounded number
 * of series. Shared by the Prometheus and OpenTelemetry processors.
 *
 * Three caps, counted since the limiter was created (metric series live as long
 * as the registry, so the values that made them are never forgotten either):
 * - a value longer than `maxValueLength` is cut to that length;
 * - each key keeps its first `maxValuesPerKey` distinct values; later ones
 *   become `overflowValue`;
 * - at most `maxSeries` distinct combinations; a later combination has every
 *   non-empty value replaced by `overflowValue`.
 * The empty value (a missing tag) is never capped.
 */

/** The value that stands for every value beyond a cap. */
export const DEFAULT_OVERFLOW_VALUE = '__overflow__';

export interface CardinalityLimits {
  maxValuesPerKey: number;
  maxSeries: number;
  maxValueLength: number;
  overflowValue: string;
}

/** What was capped, so the caller can warn about it once in a while. */
export type OverflowEvent = { kind: 'value'; key: string; limit: number } | { kind: 'series'; limit: number };

export class CardinalityLimiter {
  readonly limits: Readonly<CardinalityLimits>;
  readonly #valuesByKey = new Map<string, Set<string>>();
  readonly #series = new Set<string>();
  readonly #onOverflow: ((e: OverflowEvent) => void) | undefined;

  constructor(limits: CardinalityLimits, onOverflow?: (e: OverflowEvent) => void) {
    this.limits = Object.freeze({ ...limits });
    this.#onOverflow = onOverflow;
  }

  /** Distinct series admitted so far (overflow combinations not counted). */
  get seriesCount(): number {
    return this.#series.size;
  }

  /** Returns `values` (aligned with `keys`) with every cap applied; never mutates its input. */
  limit(keys: readonly string[], values: readonly string[]): string[] {
    const { overflowValue } = this.limits;
    const out = new Array<string>(values.length);
    let allBounded = true;
    for (let i = 0; i < values.length; i++) {
      const v = this.#limitValue(keys[i]!, values[i]!);
      out[i] = v;
      if (v !== '' && v !== overflowValue) allBounded = false;
    }
    // Combinations of '' and the overflow value are few (2^keys) and must always fit,
    // or CPU beyond the caps would have nowhere to go.
    if (allBounded) return out;
    const id = seriesId(keys, out);
    if (this.#series.has(id)) return out;
    if (this.#series.size < this.limits.maxSeries) {
      this.#series.add(id);
      return out;
    }
    this.#onOverflow?.({ kind: 'series', limit: this.limits.maxSeries });
    for (let i = 0; i < out.length; i++) if (out[i] !== '') out[i] = overflowValue;
    return out;
  }

  #limitValue(key: string, raw: string): string {
    if (raw === '') return raw;
    const { maxValueLength, maxValuesPerKey, overflowValue } = this.limits;
    const v = raw.length > maxValueLength ? raw.slice(0, maxValueLength) : raw;
    if (v === overflowValue) return v;
    let seen = this.#valuesByKey.get(key);
    if (seen === undefined) {
      seen = new Set();
      this.#valuesByKey.set(key, seen);
    }
    if (seen.has(v)) return v;
    if (seen.size < maxValuesPerKey) {
      seen.add(v);
      return v;
    }
    this.#onOverflow?.({ kind: 'value', key, limit: maxValuesPerKey });
    return overflowValue;
  }
}

/** An unambiguous id for a combination: every part is prefixed with its length. */
function seriesId(keys: readonly string[], values: readonly string[]): string {
  let id = '';
  for (let i = 0; i < keys.length; i++) id += `${keys[i]!.length}:${keys[i]}${values[i]!.length}:${values[i]}`;
  return id;
}
