import { currentTags, runWithTags } from '../context.js';
import { lazyDefaultLogger, type Logger } from '../logger.js';
import { RateLimitedLog, errorFields } from '../rate-limited-log.js';
import { TracerChain, newRPCInfo } from '../tracer/chain.js';
import type { MutableRPCInfo, RPCInfo } from '../tracer/types.js';
import type { HookOptions } from '../integrations/options.js';

type ClientFields = Omit<Parameters<typeof newRPCInfo>[0], 'side' | 'caller'>;

/**
 * The tracer side of a client hook: a record per outgoing call, made in the
 * caller's context (so it carries the tags of the request that made the
 * call), and the tracers run at its start and finish.
 */
export class ClientTracing {
  readonly #chain: TracerChain;
  readonly #faults: RateLimitedLog;
  readonly serviceName: string | undefined;
  readonly callerHeader: string | undefined;

  constructor(o: HookOptions, where: string) {
    const logger: Logger = o.logger ?? lazyDefaultLogger();
    this.#chain = new TracerChain(o.tracers, logger, where);
    this.#faults = new RateLimitedLog(logger);
    this.serviceName = o.serviceName;
    this.callerHeader = o.callerHeader;
  }

  /** Logs a fault of the hook itself, rate-limited per kind. */
  warn(kind: string, err: unknown, msg: string): void {
    this.#faults.warn(kind, errorFields(err), msg);
  }

  get wantsMessages(): boolean {
    return this.#chain.wantsMessages;
  }

  /** A new call's record; its tracers' `start` ran. */
  begin(fields: ClientFields): MutableRPCInfo {
    const info = newRPCInfo({ ...fields, side: 'client', caller: this.serviceName });
    const tags = currentTags();
    info.transportTags = tags;
    info.tags = tags;
    this.#chain.start(info);
    return info;
  }

  message(info: MutableRPCInfo, direction: 'sent' | 'received'): void {
    if (direction === 'sent') info.messagesSent++;
    else info.messagesReceived++;
    if (this.#chain.wantsMessages) this.#chain.message(info, direction);
  }

  /** Ends the call once: its tracers' `finish` run, in reverse order, with the caller's tags. */
  finish(info: MutableRPCInfo, outcome: { status: number | undefined; error?: unknown; aborted?: boolean }): void {
    if (info.endTime !== undefined) return;
    info.endTime = process.hrtime.bigint();
    info.status = outcome.status;
    if (outcome.error !== undefined) info.error = outcome.error;
    if (outcome.aborted) info.aborted = true;
    const tags = info.tags;
    if (tags === undefined) this.#chain.finish(info);
    else runWithTags(tags, () => this.#chain.finish(info as RPCInfo));
  }
}
