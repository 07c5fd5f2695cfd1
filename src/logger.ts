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

/** A logger that reaches for the default logger only when it writes, so holding one creates nothing. */
export function lazyDefaultLogger(): Logger {
  return {
    info: (o, m) => getDefaultLogger().info(o, m),
    warn: (o, m) => getDefaultLogger().warn(o, m),
    error: (o, m) => getDefaultLogger().error(o, m),
  };
}

export function isLogger(x: unknown): x is Logger {
  const l = x as Logger | null;
  return l !== null && typeof l === 'object' &&
    typeof l.info === 'function' && typeof l.warn === 'function' && typeof l.error === 'function';
}
