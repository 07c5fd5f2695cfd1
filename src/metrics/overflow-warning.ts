import { lazyDefaultLogger, isLogger, type Logger } from '../logger.js';
import { optionTypeError } from '../errors.js';
import { RateLimitedLog } from '../rate-limited-log.js';
import type { LimitOptionNames } from './limit-options.js';
import type { OverflowEvent } from './cardinality.js';

/**
 * A rate-limited warning for values folded into the overflow value: once per
 * key (and once for the series cap) per minute, so an unbounded tag shows up in
 * the logs without flooding them.
 */
export function overflowWarner(logger: unknown, what: 'label' | 'attribute', overflowValue: string, names: LimitOptionNames): (e: OverflowEvent) => void {
  if (logger !== undefined && !isLogger(logger)) {
    throw optionTypeError('reqprof: option "logger" must be a pino logger (an object with info, warn and error methods)');
  }
  const log = new RateLimitedLog((logger as Logger | undefined) ?? lazyDefaultLogger());
  return (e) => {
    if (e.kind === 'value') {
      log.warn(`overflow:${what}:${e.key}`, { [what]: e.key, limit: e.limit },
        `reqprof: ${what} "${e.key}" has reached ${e.limit} distinct values; further values are reported as "${overflowValue}" (is user input in this tag? raise "${names.maxValuesPerKey}" if the values are bounded)`);
    } else {
      log.warn(`overflow:${what}:series`, { limit: e.limit },
        `reqprof: more than ${e.limit} ${what} combinations; further combinations are reported with every ${what} set to "${overflowValue}" (raise "${names.maxSeries}" if this is expected)`);
    }
  };
}
