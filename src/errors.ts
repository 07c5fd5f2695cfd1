/**
 * Stable error codes. A code is never reused for another meaning once released,
 * so users can match on `err.code`.
 */
export const ErrorCodes = {
  /** An option passed to `newProfiler`, a processor or an integration is invalid, or its name is unknown. */
  INVALID_OPTION: 'REQPROF_ERR_INVALID_OPTION',
  /** An argument of a function is of the wrong kind (`tag(tags, fn)` with `fn` not a function). */
  INVALID_ARGUMENT: 'REQPROF_ERR_INVALID_ARGUMENT',
  /**
   * The `engine` option asks for a path this runtime cannot run (`cped` without
   * AsyncContextFrame: Node 20, Node 22 without --experimental-async-context-frame,
   * Node 24+ with --no-async-context-frame). Thrown by `newProfiler`.
   */
  ENGINE_UNSUPPORTED: 'REQPROF_ERR_ENGINE_UNSUPPORTED',
  /** Tags passed to `tag()` (or returned by a tagging function) are malformed. */
  INVALID_TAGS: 'REQPROF_ERR_INVALID_TAGS',
  /** Another CPU profiler (reqprof or another tool) already owns the process's sampler. */
  SAMPLER_BUSY: 'REQPROF_ERR_SAMPLER_BUSY',
  /** The native sampling addon could not be loaded or started on this runtime. */
  SAMPLER_UNAVAILABLE: 'REQPROF_ERR_SAMPLER_UNAVAILABLE',
  /** Reserved, never thrown: `run()` after `stop()` resolves at once instead. Kept so the code is never reused. */
  STOPPED: 'REQPROF_ERR_STOPPED',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export interface ReqprofError extends Error {
  code: ErrorCode;
}

function withCode<E extends Error>(err: E, code: ErrorCode): E & ReqprofError {
  Object.defineProperty(err, 'code', { value: code, enumerable: true, writable: false });
  return err as E & ReqprofError;
}

export function optionTypeError(message: string): TypeError & ReqprofError {
  return withCode(new TypeError(message), ErrorCodes.INVALID_OPTION);
}

export function optionRangeError(message: string): RangeError & ReqprofError {
  return withCode(new RangeError(message), ErrorCodes.INVALID_OPTION);
}

export function argumentTypeError(message: string): TypeError & ReqprofError {
  return withCode(new TypeError(message), ErrorCodes.INVALID_ARGUMENT);
}

export function engineUnsupportedError(message: string): RangeError & ReqprofError {
  return withCode(new RangeError(message), ErrorCodes.ENGINE_UNSUPPORTED);
}

export function tagsError(message: string): TypeError & ReqprofError {
  return withCode(new TypeError(message), ErrorCodes.INVALID_TAGS);
}

export function samplerError(code: ErrorCode, message: string, cause?: unknown): Error & ReqprofError {
  return withCode(new Error(message, cause === undefined ? undefined : { cause }), code);
}

export function isReqprofError(err: unknown): err is ReqprofError {
  const code = err instanceof Error ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.startsWith('REQPROF_ERR_');
}
