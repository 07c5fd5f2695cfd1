import { optionRangeError, optionTypeError } from '../errors.js';

/** How an error message names a value of the wrong type: `null`, `an array`, or its `typeof`. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v;
}

/**
 * An integer in `min..max`, or an error naming it as `label` (`option "maxTagSets"`,
 * `pprofProcessor option "maxFiles"`) and what it accepts.
 */
export function checkInteger(label: string, v: unknown, min: number, max: number, typeWord = 'an integer', rangeNote = ''): number {
  if (typeof v !== 'number') throw optionTypeError(`reqprof: ${label} must be ${typeWord}, got ${describe(v)}`);
  if (!Number.isInteger(v) || v < min || v > max) {
    throw optionRangeError(`reqprof: ${label} must be an integer between ${min} and ${max}${rangeNote}, got ${v}`);
  }
  return v;
}

/**
 * Option checks shared by the file-writing processors and the debug endpoint: each error names the
 * processor, the option and what it accepts.
 */
export class OptionChecker {
  constructor(readonly owner: string) {}

  object(options: unknown, required: boolean): Record<string, unknown> {
    if (options === undefined && !required) return {};
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      throw optionTypeError(`reqprof: ${this.owner}(options): options must be an object, got ${describe(options)}`);
    }
    return options as Record<string, unknown>;
  }

  string(name: string, v: unknown, fallback?: string): string {
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'string') throw optionTypeError(`reqprof: ${this.owner} option "${name}" must be a string, got ${describe(v)}`);
    if (v === '') throw optionRangeError(`reqprof: ${this.owner} option "${name}" must not be empty`);
    return v;
  }

  /** An integer in `min..max`; `Infinity` too when `allowInfinity`. */
  integer(name: string, v: unknown, fallback: number, min: number, max: number, allowInfinity = false): number {
    if (v === undefined) return fallback;
    if (allowInfinity && v === Infinity) return v;
    return checkInteger(`${this.owner} option "${name}"`, v, min, max, 'a number', allowInfinity ? ' (or Infinity for no limit)' : '');
  }

  fn<F extends (...args: never[]) => unknown>(name: string, v: unknown): F | undefined {
    if (v === undefined) return undefined;
    if (typeof v !== 'function') throw optionTypeError(`reqprof: ${this.owner} option "${name}" must be a function, got ${describe(v)}`);
    return v as F;
  }
}
