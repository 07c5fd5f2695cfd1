import { runWithTags } from '../context.js';
import { lazyDefaultLogger } from '../logger.js';
import { RateLimitedLog, errorFields } from '../rate-limited-log.js';
import { countFinishedRequest, enableRequestCounting } from '../request-counter.js';
import { TAG_LIMITS, boundAdded, parseTags, type TagSet } from '../tags.js';
import { derivePairs } from '../tag-cache.js';
import { TracerChain, newRPCInfo } from '../tracer/chain.js';
import { splitGrpcMethod } from '../tracer/grpc-status.js';
import type { CallType, MutableRPCInfo } from '../tracer/types.js';
import type { MessageTagging, HookOptions, TaggingResult, TransInfoTagging, TransportInfo } from './options.js';

/**
 * One request as the pipeline sees it, created by `begin()` and handed back to
 * every stage and to `finish()`. `rpc` is what tracers see (the counterpart
 * of Kitex's RPCInfo): integrations fill in status, sizes and times as the
 * request goes.
 */
export interface RequestRecord {
  readonly info: TransportInfo;
  /** Tags after the transport stage: what reading and decoding the body run with. */
  transportTags: TagSet | undefined;
  /** Tags the handler runs with: the transport tags plus the message stage's. */
  tags: TagSet | undefined;
  /** The tracers' record; undefined when the integration has no tracer. */
  readonly rpc: MutableRPCInfo | undefined;
  /** Set by `finish()`: a request ends once, whichever event reports it first. */
  finished: boolean;
}

/** How a request ended, as the integration observed it. */
export interface RequestOutcome {
  /** HTTP status or gRPC code; undefined when none was sent. */
  status: number | undefined;
  error?: unknown;
  aborted?: boolean;
}

/** What an integration knows about a call beyond its transport info. */
export interface CallFacts {
  callType?: CallType;
  /** Where the request was addressed (Host header, gRPC :authority). */
  host?: string | undefined;
  /** HTTP: whether it came over TLS. */
  scheme?: 'http' | 'https';
}

type Stage = 'transport' | 'message';

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return x !== null && (typeof x === 'object' || typeof x === 'function') && typeof (x as PromiseLike<unknown>).then === 'function';
}

/** `next(value)` now when `value` is plain, after it settles when it is a promise: no microtask on the sync path. */
function then<T, R>(value: T | Promise<T>, next: (v: T) => R): R | Promise<Awaited<R>> {
  return isThenable(value) ? (value as Promise<T>).then(next) as Promise<Awaited<R>> : next(value as T);
}

/**
 * The two tagging stages every integration shares (Kitex's server flow):
 *
 * 1. `begin(info)` when the request's head is known;
 * 2. `transportStage(record, next)`: runs the transport tagging functions on
 *    `info`, then `next` (which reads and decodes the body) with those tags;
 * 3. `messageStage(record, message, next)`: runs the message tagging functions
 *    on the decoded message, then `next` (the handler) with transport + message tags.
 *
 * A request always starts from no tags: nothing is inherited from the
 * connection or from an earlier request on it. A tagging function that throws,
 * rejects or returns a malformed list costs its stage its tags (logged,
 * rate-limited), never the request. A value of a wrong type (an object, a
 * symbol) drops only its key, and keys past `TAG_LIMITS.maxKeys` in the
 * merged set are dropped (both logged, rate-limited); `undefined` and `null`
 * values leave their key out silently, as `tag()` does.
 */
export class ServerPipeline {
  readonly #o: HookOptions;
  readonly #faults: RateLimitedLog;
  readonly #tracers: TracerChain | undefined;
  /** Tagging (and request counting) runs only with a profiler, as in Kitex. */
  readonly tagging: boolean;

  constructor(options: HookOptions) {
    this.#o = options;
    const logger = options.logger ?? lazyDefaultLogger();
    this.#faults = new RateLimitedLog(logger);
    this.tagging = options.profiler !== undefined;
    this.#tracers = options.tracers.length === 0 ? undefined : new TracerChain(options.tracers, logger, 'tracer');
    if (this.tagging) enableRequestCounting();
  }

  /** False when there is nothing to do per request (no profiler, no tracer): integrations then pass requests through. */
  get active(): boolean {
    return this.tagging || this.#tracers !== undefined;
  }

  /** Whether the integration has tracers. */
  get tracing(): boolean {
    return this.#tracers !== undefined;
  }

  /**
   * Starts a request's record and its tracers. Starts the profiler if it was
   * never started (as a Kitex server does).
   */
  begin(info: TransportInfo, facts: CallFacts = {}): RequestRecord {
    const p = this.#o.profiler;
    if (p !== undefined && p.state === 'idle') void p.run();
    const tracers = this.#tracers;
    const rpc = tracers === undefined ? undefined : this.#newRPCInfo(info, facts);
    const record: RequestRecord = { info, transportTags: undefined, tags: undefined, rpc, finished: false };
    if (rpc !== undefined) tracers!.start(rpc);
    return record;
  }

  #newRPCInfo(info: TransportInfo, facts: CallFacts): MutableRPCInfo {
    const grpc = info.protocol === 'grpc';
    const service = grpc ? splitGrpcMethod(info.path)[0] : undefined;
    const h = this.#o.callerHeader;
    const callerValue = h === undefined ? undefined : (info.headers as Record<string, string | string[] | undefined>)[h];
    const caller = Array.isArray(callerValue) ? callerValue[0] : callerValue;
    const rpc = newRPCInfo({
      side: 'server',
      protocol: info.protocol,
      integration: info.integration,
      service,
      method: grpc ? info.path : (info.route ?? info.path),
      route: info.route,
      httpMethod: grpc ? 'POST' : info.method,
      path: info.path,
      callType: facts.callType ?? 'unary',
      caller: caller === '' ? undefined : caller,
      callee: this.#o.serviceName ?? service,
      host: facts.host,
      scheme: grpc ? undefined : (facts.scheme ?? 'http'),
    });
    if (!grpc) rpc.messagesReceived = 1;
    return rpc;
  }

  /** The route template became known after `begin` (Express, Koa): tracers see it at `finish`. */
  setRoute(record: RequestRecord, route: string | undefined): void {
    const rpc = record.rpc;
    if (rpc === undefined || route === undefined || route === '') return;
    rpc.route = route;
    rpc.method = route;
  }

  /** A gRPC message went in or out. */
  message(record: RequestRecord, direction: 'sent' | 'received', bytes: number | undefined): void {
    const rpc = record.rpc;
    if (rpc === undefined || record.finished) return;
    if (direction === 'sent') {
      rpc.messagesSent++;
      if (bytes !== undefined) rpc.bytesSent = (rpc.bytesSent ?? 0) + bytes;
    } else {
      rpc.messagesReceived++;
      if (bytes !== undefined) rpc.bytesReceived = (rpc.bytesReceived ?? 0) + bytes;
    }
    if (this.#tracers!.wantsMessages) this.#tracers!.message(rpc, direction);
  }

  /**
   * Ends a request once (later calls are ignored): counts it under the tags it
   * ended with (when profiling), then runs the tracers' `finish`, in reverse
   * order, with the request's tags.
   */
  finish(record: RequestRecord, outcome: RequestOutcome): void {
    if (record.finished) return;
    record.finished = true;
    if (this.tagging) countFinishedRequest(record.tags);
    const rpc = record.rpc;
    if (rpc === undefined) return;
    rpc.endTime = process.hrtime.bigint();
    rpc.status = outcome.status;
    if (outcome.aborted) rpc.aborted = true;
    if (outcome.error !== undefined && rpc.error === undefined) rpc.error = outcome.error;
    rpc.transportTags = record.transportTags;
    rpc.tags = record.tags;
    if (this.tagging) runWithTags(record.tags, () => this.#tracers!.finish(rpc));
    else this.#tracers!.finish(rpc);
  }

  /** Remembers why a request failed (a handler that threw), for the tracers' `finish`. */
  failed(record: RequestRecord, err: unknown): void {
    const rpc = record.rpc;
    if (rpc !== undefined && rpc.error === undefined && !record.finished) rpc.error = err;
  }

  /** Transport stage: tags from `record.info`, then `next()` runs with them (without a profiler: just `next()`). */
  transportStage<R>(record: RequestRecord, next: () => R): R | Promise<Awaited<R>> {
    if (!this.tagging) return next();
    const fns = this.#o.transInfoTagging;
    // The functions run untagged, as the request has no tags yet (whatever the connection's context holds).
    const added = fns.length === 0 ? EMPTY
      : runWithTags(undefined, () => this.#runStage('transport', record.info, fns, (fn) => fn(record.info)));
    return then(added, (all) => {
      const pairs = this.#bounded('transport', record.info, undefined, all);
      const tags = pairs.length === 0 ? undefined : derivePairs(undefined, pairs);
      record.transportTags = tags;
      record.tags = tags;
      return runWithTags(tags, next);
    });
  }

  /**
   * Message stage: tags from the decoded `message` appended to the transport
   * tags, then `next()` runs with them. With `perMessage` (a stream of request
   * messages) the call's own tags stay as they are: only `next` (the delivery
   * of this one message) carries this message's tags.
   */
  messageStage<R>(record: RequestRecord, message: unknown, next: () => R, perMessage = false): R | Promise<Awaited<R>> {
    if (!this.tagging) return next();
    const fns = this.#o.messageTagging;
    // The functions run with the transport tags, as decoding did (Kitex runs them before the message tags apply).
    const added = fns.length === 0 ? EMPTY
      : runWithTags(record.transportTags, () => this.#runStage('message', record.info, fns, (fn) => fn(message, record.info)));
    return then(added, (all) => {
      const base = record.transportTags;
      const pairs = this.#bounded('message', record.info, base, all);
      const tags = pairs.length === 0 ? base : derivePairs(base, pairs);
      if (!perMessage) record.tags = tags;
      return runWithTags(tags, next);
    });
  }

  /** Runs `fn` with the request's tags: for callbacks a framework delivers outside the request's own context. */
  run<R>(record: RequestRecord, fn: () => R, stage: 'transport' | 'handler' = 'handler'): R {
    if (!this.tagging) return fn();
    return runWithTags(stage === 'transport' ? record.transportTags : record.tags, fn);
  }

  /** Logs a failure around a request (a handler that threw, an undecodable message), rate-limited per kind. */
  warn(kind: string, err: unknown, msg: string): void {
    this.#faults.warn(kind, errorFields(err), msg);
  }

  /**
   * Calls every function of a stage, in run order, and concatenates their
   * tags. Any failure (throw, rejection, malformed tags) drops the whole
   * stage's tags, as the one composed function of Kitex would.
   */
  #runStage<F extends TransInfoTagging | MessageTagging>(
    stage: Stage,
    info: TransportInfo,
    fns: readonly F[],
    call: (fn: F) => TaggingResult | Promise<TaggingResult>,
  ): string[] | Promise<string[]> {
    const results: Array<TaggingResult | Promise<TaggingResult>> = [];
    let pending = false;
    try {
      for (const fn of fns) {
        const r = call(fn);
        if (isThenable(r)) pending = true;
        results.push(r);
      }
    } catch (err) {
      for (const r of results) if (isThenable(r)) (r as Promise<unknown>).then(undefined, () => {});
      return this.#failed(stage, info, err, 'threw');
    }
    if (!pending) return this.#flatten(stage, info, results as TaggingResult[]);
    return Promise.all(results).then(
      (settled) => this.#flatten(stage, info, settled),
      (err) => this.#failed(stage, info, err, 'rejected'),
    );
  }

  /** `pairs` cut so that the stage's merged tags stay within the bound (see `boundAdded`); what was dropped is logged. */
  #bounded(stage: Stage, info: TransportInfo, base: TagSet | undefined, pairs: readonly string[]): readonly string[] {
    if (pairs.length === 0) return pairs;
    const b = boundAdded(base?.pairs ?? EMPTY, pairs);
    if (b.dropped.length > 0) {
      this.#faults.warn(`${stage}-tag-bound`, { integration: info.integration, method: info.method, path: info.path, dropped: b.dropped.slice(0, 10), droppedKeys: b.dropped.length },
        `reqprof/${info.integration}: the ${stage}-stage tags would make more than ${TAG_LIMITS.maxKeys} tags in one set; ` +
        `${b.dropped.length} key(s) past the bound were dropped (${b.dropped.slice(0, 3).join(', ')}${b.dropped.length > 3 ? ', ...' : ''}); the request is served`);
    }
    return b.pairs;
  }

  #flatten(stage: Stage, info: TransportInfo, results: readonly TaggingResult[]): string[] {
    let out = EMPTY as string[];
    const option = stage === 'transport' ? 'withProfilerTransInfoTagging' : 'withProfilerMessageTagging';
    const invalid = (key: string, err: Error): void => {
      this.#faults.warn(`${stage}-tag-value`, { ...errorFields(err), integration: info.integration, method: info.method, path: info.path, key },
        `reqprof/${info.integration}: a ${stage}-stage tagging function (${option}) returned an invalid value for tag "${key}"; ` +
        'that tag is left out, the others are kept');
    };
    try {
      for (const r of results) {
        if (r === undefined || r === null) continue;
        const pairs = parseTags(r, invalid);
        out = out.length === 0 ? pairs : out.concat(pairs);
      }
    } catch (err) {
      return this.#failed(stage, info, err, 'returned invalid tags');
    }
    return out;
  }

  #failed(stage: Stage, info: TransportInfo, err: unknown, what: string): string[] {
    const option = stage === 'transport' ? 'withProfilerTransInfoTagging' : 'withProfilerMessageTagging';
    this.#faults.warn(`${stage}-tagging`, { ...errorFields(err), integration: info.integration, method: info.method, path: info.path },
      `reqprof/${info.integration}: a ${stage}-stage tagging function (${option}) ${what}; ` +
      `the request is served without ${stage}-stage tags`);
    return EMPTY as string[];
  }
}

const EMPTY: readonly string[] = Object.freeze([]);

/** Attaches a last-resort handler to a stage's promise (if it is one), so a failure downstream is never an unhandled rejection. */
export function settle(result: unknown, onError: (err: unknown) => void): void {
  if (isThenable(result)) (result as Promise<unknown>).then(undefined, onError);
}
