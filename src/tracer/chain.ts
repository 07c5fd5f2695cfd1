import { optionTypeError } from '../errors.js';
import type { Logger } from '../logger.js';
import { RateLimitedLog, errorFields } from '../rate-limited-log.js';
import type { MutableRPCInfo, RPCInfo, Tracer } from './types.js';

const HOOKS = ['start', 'finish', 'message'] as const;

/** Throws a TypeError naming `where` unless `tracer` has a `start` or `finish` function (and nothing else in their place). */
export function checkTracer(tracer: unknown, where: string): Tracer {
  const t = tracer as Record<string, unknown> | null;
  if (t === null || typeof t !== 'object') {
    throw optionTypeError(`reqprof: ${where}: tracer must be an object with start(info) and/or finish(info) methods, got ${t === null ? 'null' : Array.isArray(t) ? 'an array' : typeof t}`);
  }
  for (const h of HOOKS) {
    if (t[h] !== undefined && typeof t[h] !== 'function') {
      throw optionTypeError(`reqprof: ${where}: tracer.${h} must be a function, got ${t[h] === null ? 'null' : typeof t[h]}`);
    }
  }
  if (typeof t['start'] !== 'function' && typeof t['finish'] !== 'function') {
    throw optionTypeError(`reqprof: ${where}: tracer must have a start(info) or finish(info) method`);
  }
  return tracer as Tracer;
}

/**
 * Several tracers as one (Kitex composes its tracers the same way): `start`
 * in the order given, `finish` in reverse, so the first tracer wraps the
 * others. Each call is isolated: a tracer that throws is logged (rate-limited,
 * per tracer and hook) and the others still run.
 */
export class TracerChain {
  readonly #tracers: readonly Tracer[];
  readonly #faults: RateLimitedLog;
  readonly #where: string;
  /** Whether any tracer counts messages: integrations skip the per-message call otherwise. */
  readonly wantsMessages: boolean;

  constructor(tracers: readonly Tracer[], logger: Logger, where: string) {
    this.#tracers = tracers;
    this.#faults = new RateLimitedLog(logger);
    this.#where = where;
    this.wantsMessages = tracers.some((t) => typeof t.message === 'function');
  }

  get size(): number {
    return this.#tracers.length;
  }

  start(info: RPCInfo): void {
    for (let i = 0; i < this.#tracers.length; i++) this.#call(i, 'start', info);
  }

  /** The tracers' `finish`, in reverse order, as deferred calls unwind. */
  finish(info: RPCInfo): void {
    for (let i = this.#tracers.length - 1; i >= 0; i--) this.#call(i, 'finish', info);
  }

  message(info: RPCInfo, direction: 'sent' | 'received'): void {
    for (let i = 0; i < this.#tracers.length; i++) this.#call(i, 'message', info, direction);
  }

  /** Runs one tracer's hook, if it has one; a throw is logged and the call goes on. */
  #call(i: number, hook: (typeof HOOKS)[number], info: RPCInfo, direction?: 'sent' | 'received'): void {
    const t = this.#tracers[i]!;
    if (t[hook] === undefined) return;
    try {
      if (hook === 'message') t.message!(info, direction!);
      else t[hook]!(info);
    } catch (err) {
      this.#failed(i, hook, info, err);
    }
  }

  #failed(index: number, hook: (typeof HOOKS)[number], info: RPCInfo, err: unknown): void {
    this.#faults.warn(`tracer-${index}-${hook}`, { ...errorFields(err), tracer: index, integration: info.integration, method: info.method },
      `reqprof/${this.#where}: tracer ${index + 1}'s ${hook}() threw; the call goes on without it`);
  }
}

/** A fresh record with nothing measured yet: integrations fill in the rest. */
export function newRPCInfo(fields: Pick<RPCInfo, 'side' | 'protocol' | 'integration' | 'service' | 'method' | 'route' | 'httpMethod' | 'path' | 'callType' | 'caller' | 'callee' | 'host' | 'scheme'>): MutableRPCInfo {
  return {
    ...fields,
    startTime: process.hrtime.bigint(),
    endTime: undefined,
    status: undefined,
    error: undefined,
    aborted: false,
    bytesReceived: undefined,
    bytesSent: undefined,
    messagesReceived: 0,
    messagesSent: 0,
    transportTags: undefined,
    tags: undefined,
  };
}
