import type { Logger } from './logger.js';

/**
 * Logs a fault the first time each kind happens, then at most once per period
 * with how many were suppressed, so a tagging function that throws on every
 * request cannot flood the log.
 */
export class RateLimitedLog {
  readonly #periodMs: number;
  readonly #kinds = new Map<string, { last: number; suppressed: number }>();
  #logger: Logger;

  constructor(logger: Logger, periodMs = 60_000) {
    this.#logger = logger;
    this.#periodMs = periodMs;
  }

  set logger(l: Logger) {
    this.#logger = l;
  }

  /** Returns true when the record was written, false when suppressed. */
  log(level: 'warn' | 'error', kind: string, obj: Record<string, unknown>, msg: string): boolean {
    const now = Date.now();
    const k = this.#kinds.get(kind);
    if (k !== undefined && now - k.last < this.#periodMs) {
      k.suppressed++;
      return false;
    }
    const suppressed = k?.suppressed ?? 0;
    if (k === undefined) {
      // Bound the table itself: kinds are code paths, but be safe against dynamic ones.
      if (this.#kinds.size >= 1000) this.#kinds.clear();
      this.#kinds.set(kind, { last: now, suppressed: 0 });
    } else {
      k.last = now;
      k.suppressed = 0;
    }
    try {
      this.#logger[level]({ ...obj, kind, ...(suppressed > 0 ? { suppressed } : {}) }, msg);
    } catch {
      // A broken logger must not break the caller either.
    }
    return true;
  }

  warn(kind: string, obj: Record<string, unknown>, msg: string): boolean {
    return this.log('warn', kind, obj, msg);
  }

  error(kind: string, obj: Record<string, unknown>, msg: string): boolean {
    return this.log('error', kind, obj, msg);
  }
}

/** Error fields safe to log (pino's err serializer reads `err`). */
export function errorFields(err: unknown): Record<string, unknown> {
  if (err instanceof Error) return { err };
  return { err: { message: String(err) } };
}
