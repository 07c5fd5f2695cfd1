import { runWithTags } from '../context.js';
import { getDefaultLogger, type Logger } from '../logger.js';
import { RateLimitedLog, errorFields } from '../rate-limited-log.js';
import { TagSet, mergePairs, parseTags } from '../tags.js';
import type { MessageTagging, ServerOptions, TaggingResult, TransInfoTagging, TransportInfo } from './options.js';

/**
 * One request as the pipeline sees it, created by `begin()` and handed back to
 * every stage. It is the place per-request facts live (the counterpart of
 * Kitex's RPCInfo): a tracer hook can grow it with times, status and sizes
 * without changing how integrations drive the stages.
 */
export interface RequestRecord {
  readonly info: TransportInfo;
  /** Tags after the transport stage: what reading and decoding the body run with. */
  transportTags: TagSet | undefined;
  /** Tags the handler runs with: the transport tags plus the message stage's. */
  tags: TagSet | undefined;
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
 * rejects or returns malformed tags costs its stage its tags (logged,
 * rate-limited), never the request.
 */
export class ServerPipeline {
  readonly #o: ServerOptions;
  readonly #faults: RateLimitedLog;

  constructor(options: ServerOptions) {
    this.#o = options;
    this.#faults = new RateLimitedLog(options.logger ?? lazyDefaultLogger());
  }

  /** False when there is nothing to do per request (no profiler given): integrations then pass requests through. */
  get active(): boolean {
    return this.#o.profiler !== undefined;
  }

  /** Starts a request's record. Starts the profiler if it was never started (as a Kitex server does). */
  begin(info: TransportInfo): RequestRecord {
    const p = this.#o.profiler;
    if (p !== undefined && p.state === 'idle') void p.run();
    return { info, transportTags: undefined, tags: undefined };
  }

  /** Transport stage: tags from `record.info`, then `next()` runs with them. */
  transportStage<R>(record: RequestRecord, next: () => R): R | Promise<Awaited<R>> {
    const fns = this.#o.transInfoTagging;
    // The functions run untagged, as the request has no tags yet (whatever the connection's context holds).
    const added = fns.length === 0 ? EMPTY
      : runWithTags(undefined, () => this.#runStage('transport', record.info, fns, (fn) => fn(record.info)));
    return then(added, (pairs) => {
      const tags = pairs.length === 0 ? undefined : new TagSet(mergePairs(EMPTY, pairs));
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
    const fns = this.#o.messageTagging;
    // The functions run with the transport tags, as decoding did (Kitex runs them before the message tags apply).
    const added = fns.length === 0 ? EMPTY
      : runWithTags(record.transportTags, () => this.#runStage('message', record.info, fns, (fn) => fn(message, record.info)));
    return then(added, (pairs) => {
      const base = record.transportTags;
      const tags = pairs.length === 0 ? base : new TagSet(mergePairs(base ? base.pairs : EMPTY, pairs));
      if (!perMessage) record.tags = tags;
      return runWithTags(tags, next);
    });
  }

  /** Runs `fn` with the request's tags: for callbacks a framework delivers outside the request's own context. */
  run<R>(record: RequestRecord, fn: () => R, stage: 'transport' | 'handler' = 'handler'): R {
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

  #flatten(stage: Stage, info: TransportInfo, results: readonly TaggingResult[]): string[] {
    let out = EMPTY as string[];
    try {
      for (const r of results) {
        if (r === undefined || r === null) continue;
        const pairs = parseTags(r);
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

function lazyDefaultLogger(): Logger {
  return {
    info: (o, m) => getDefaultLogger().info(o, m),
    warn: (o, m) => getDefaultLogger().warn(o, m),
    error: (o, m) => getDefaultLogger().error(o, m),
  };
}

/** Attaches a last-resort handler to a stage's promise (if it is one), so a failure downstream is never an unhandled rejection. */
export function settle(result: unknown, onError: (err: unknown) => void): void {
  if (isThenable(result)) (result as Promise<unknown>).then(undefined, onError);
}
