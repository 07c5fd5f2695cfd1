import { optionTypeError } from '../errors.js';
import { checkInteger } from '../util/check-option.js';
import type { Logger } from '../logger.js';
import { DEFAULT_OVERFLOW_VALUE, type CardinalityLimits } from './cardinality.js';

/** The option names a processor exposes for each cap, so errors name what the user wrote. */
export interface LimitOptionNames {
  maxValuesPerKey: string;
  maxSeries: string;
}

/** The cap options of the Prometheus processor and tracer. */
export interface LabelLimitOptions {
  /** Distinct values kept per label; later values become `overflowValue`. Default 100. */
  maxValuesPerLabel?: number;
  /** Distinct label combinations kept; later ones get `overflowValue` in every free-form label. Default 1000. */
  maxSeries?: number;
  /** Longer label values are cut to this many characters. Default 128. */
  maxValueLength?: number;
  /** The label value that stands for everything beyond a cap. Default `__overflow__`. */
  overflowValue?: string;
  /** pino-compatible logger for the (rate-limited) cap warnings. Default: reqprof's logger. */
  logger?: Logger;
}

/** The cap options of the OpenTelemetry processor and tracer. */
export interface AttributeLimitOptions {
  /** Distinct values kept per attribute; later ones become `overflowValue`. Default 100. */
  maxValuesPerAttribute?: number;
  /** Distinct attribute sets kept; later ones get `overflowValue` in every free-form attribute. Default 1000. */
  maxAttributeSets?: number;
  /** Longer attribute values are cut to this many characters. Default 128. */
  maxValueLength?: number;
  /** The value that stands for everything beyond a cap. Default `__overflow__`. */
  overflowValue?: string;
  /** pino-compatible logger for the (rate-limited) cap warnings. Default: reqprof's logger. */
  logger?: Logger;
}

export const LABEL_LIMIT_NAMES: LimitOptionNames = { maxValuesPerKey: 'maxValuesPerLabel', maxSeries: 'maxSeries' };
export const ATTRIBUTE_LIMIT_NAMES: LimitOptionNames = { maxValuesPerKey: 'maxValuesPerAttribute', maxSeries: 'maxAttributeSets' };

export const DEFAULT_MAX_VALUES_PER_KEY = 100;
export const DEFAULT_MAX_SERIES = 1000;
export const DEFAULT_MAX_VALUE_LENGTH = 128;

function integer(option: string, v: unknown, fallback: number, min: number, max: number): number {
  return v === undefined ? fallback : checkInteger(`option "${option}"`, v, min, max);
}

/** Validates the cardinality options shared by the metrics processors. */
export function resolveLimits(o: Record<string, unknown>, names: LimitOptionNames): CardinalityLimits {
  const overflowValue = o['overflowValue'] ?? DEFAULT_OVERFLOW_VALUE;
  if (typeof overflowValue !== 'string' || overflowValue === '') {
    throw optionTypeError(`reqprof: option "overflowValue" must be a non-empty string, got ${typeof overflowValue === 'string' ? 'an empty string' : overflowValue === null ? 'null' : typeof overflowValue}`);
  }
  return {
    maxValuesPerKey: integer(names.maxValuesPerKey, o[names.maxValuesPerKey], DEFAULT_MAX_VALUES_PER_KEY, 1, 1_000_000),
    maxSeries: integer(names.maxSeries, o[names.maxSeries], DEFAULT_MAX_SERIES, 1, 10_000_000),
    maxValueLength: integer('maxValueLength', o['maxValueLength'], DEFAULT_MAX_VALUE_LENGTH, 1, 1_000_000),
    overflowValue,
  };
}
