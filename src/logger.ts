import { pino } from 'pino';

/** The subset of a pino logger reqprof uses; any pino-compatible logger fits. */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

let defaultLogger: Logger | undefined;

/** reqprof's own pino logger, created on first use so importing reqprof writes nothing. */
export function getDefaultLogger(): Logger {
  defaultLogger ??= pino({ name: 'reqprof' });
  return defaultLogger;
}

export function isLogger(x: unknown): x is Logger {
  const l = x as Logger | null;
  return l !== null && typeof l === 'object' &&
    typeof l.info === 'function' && typeof l.warn === 'function' && typeof l.error === 'function';
}
