import { optionRangeError, optionTypeError } from '../errors.js';

/**
 * Option checks shared by the file-writing processors: each error names the
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
    if (typeof v !== 'number') throw optionTypeError(`reqprof: ${this.owner} option "${name}" must be a number, got ${describe(v)}`);
    if (allowInfinity && v === Infinity) return v;
    if (!Number.isInteger(v) || v < min || v > max) {
      throw optionRangeError(`reqprof: ${this.owner} option "${name}" must be an integer between ${min} and ${max}${allowInfinity ? ' (or Infinity for no limit)' : ''}, got ${v}`);
    }
    return v;
  }

  fn<F extends (...args: never[]) => unknown>(name: string, v: unknown): F | undefined {
    if (v === undefined) return undefined;
    if (typeof v !== 'function') throw optionTypeError(`reqprof: ${this.owner} option "${name}" must be a function, got ${describe(v)}`);
    return v as F;
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v);
  return typeof v;
}
