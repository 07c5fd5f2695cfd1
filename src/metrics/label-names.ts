import { optionRangeError, optionTypeError } from '../errors.js';

/**
 * Which tag keys become which label (or attribute) names. Users write either a
 * list of tag keys, each its own label name (`['route', 'caller']`), or an
 * object from label name to tag key (`{ caller: 'x-caller' }`) when a tag key
 * is not a valid label name.
 */
export type LabelsOption = readonly string[] | Readonly<Record<string, string>>;

export interface LabelMapping {
  /** Label names, in the order given. */
  names: string[];
  /** The tag key read for each label name (same order). */
  tagKeys: string[];
}

/** Prometheus label names: `[a-zA-Z_][a-zA-Z0-9_]*`; names starting with `__` are reserved. */
const PROMETHEUS_LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Prometheus metric names also allow `:` (reserved for recording rules, but legal). */
const PROMETHEUS_METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** Why `name` is not a usable Prometheus label name, or undefined when it is. */
export function prometheusLabelNameProblem(name: string): string | undefined {
  if (!PROMETHEUS_LABEL_NAME.test(name)) return 'must match [a-zA-Z_][a-zA-Z0-9_]* (letters, digits and underscores, not starting with a digit)';
  if (name.startsWith('__')) return 'must not start with "__" (reserved for Prometheus internal labels)';
  return undefined;
}

/** Throws a RangeError naming `option` unless `name` is a valid Prometheus metric name. */
export function checkPrometheusMetricName(option: string, name: string): void {
  if (!PROMETHEUS_METRIC_NAME.test(name)) {
    throw optionRangeError(`reqprof: option "${option}" gives the metric name ${JSON.stringify(name)}, which must match [a-zA-Z_:][a-zA-Z0-9_:]*`);
  }
}

/**
 * Validates a `labels`-style option into parallel lists. `nameProblem` says why
 * a label name is unusable in the target system (undefined: usable).
 */
export function resolveLabelMapping(option: string, value: unknown, nameProblem: (name: string) => string | undefined): LabelMapping {
  let entries: Array<[string, unknown]>;
  if (Array.isArray(value)) {
    entries = value.map((k, i) => {
      if (typeof k !== 'string') {
        throw optionTypeError(`reqprof: option "${option}[${i}]" must be a tag key (a string), got ${k === null ? 'null' : typeof k}`);
      }
      return [k, k];
    });
  } else if (value !== null && typeof value === 'object') {
    entries = Object.entries(value);
  } else {
    throw optionTypeError(`reqprof: option "${option}" must be an array of tag keys or an object { labelName: tagKey }, got ${value === null ? 'null' : typeof value}`);
  }
  if (entries.length === 0) {
    throw optionRangeError(`reqprof: option "${option}" must name at least one tag key`);
  }
  const names: string[] = [];
  const tagKeys: string[] = [];
  for (const [name, tagKey] of entries) {
    const problem = nameProblem(name);
    if (problem !== undefined) {
      throw optionRangeError(`reqprof: option "${option}": label name ${JSON.stringify(name)} ${problem}; map it with { validName: ${JSON.stringify(name)} }`);
    }
    if (names.includes(name)) throw optionRangeError(`reqprof: option "${option}" lists label name ${JSON.stringify(name)} twice`);
    if (typeof tagKey !== 'string' || tagKey === '') {
      throw optionTypeError(`reqprof: option "${option}.${name}" must be a non-empty tag key (a string), got ${tagKey === null ? 'null' : typeof tagKey === 'string' ? 'an empty string' : typeof tagKey}`);
    }
    names.push(name);
    tagKeys.push(tagKey);
  }
  return { names, tagKeys };
}
