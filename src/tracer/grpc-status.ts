import type { CallType } from './types.js';

/**
 * gRPC status codes by number, named as grpc-go's `codes.Code.String()` names
 * them: the `grpc_code` label values dashboards built on go-grpc-prometheus
 * expect (`OK`, `Canceled`, `InvalidArgument`...). No @grpc/grpc-js import:
 * the numbers are fixed by the gRPC protocol.
 */
export const GRPC_CODE_NAMES: readonly string[] = Object.freeze([
  'OK',
  'Canceled',
  'Unknown',
  'InvalidArgument',
  'DeadlineExceeded',
  'NotFound',
  'AlreadyExists',
  'PermissionDenied',
  'ResourceExhausted',
  'FailedPrecondition',
  'Aborted',
  'OutOfRange',
  'Unimplemented',
  'Internal',
  'Unavailable',
  'DataLoss',
  'Unauthenticated',
]);

export const GRPC_OK = 0;
export const GRPC_CANCELLED = 1;
export const GRPC_UNKNOWN = 2;
export const GRPC_DEADLINE_EXCEEDED = 4;
export const GRPC_UNAVAILABLE = 14;

/** `OK`, `Canceled`... for a code; grpc-go's `Code(n)` form for numbers outside the protocol's list. */
export function grpcCodeName(code: number | undefined): string {
  if (code === undefined) return 'Unknown';
  return GRPC_CODE_NAMES[code] ?? `Code(${code})`;
}

/**
 * `/package.Service/Method` → `['package.Service', 'Method']`, as
 * go-grpc-prometheus splits it; `['unknown', 'unknown']` when it has no `/`
 * after the leading one.
 */
export function splitGrpcMethod(fullMethod: string): [service: string, method: string] {
  const m = fullMethod.startsWith('/') ? fullMethod.slice(1) : fullMethod;
  const i = m.indexOf('/');
  return i < 0 ? ['unknown', 'unknown'] : [m.slice(0, i), m.slice(i + 1)];
}

/** What `info.error` holds for a gRPC call that ended with a non-OK status. */
export interface GrpcStatusError extends Error {
  /** The gRPC status code. */
  code: number;
  details: string;
}

export function grpcStatusError(code: number, details: string): GrpcStatusError {
  const err = new Error(`${code} ${grpcCodeName(code)}: ${details}`) as GrpcStatusError;
  err.code = code;
  err.details = details;
  return err;
}

/** A gRPC method's call type, from its descriptor's two stream flags. */
export function callTypeOf(requestStream: boolean, responseStream: boolean): CallType {
  if (requestStream) return responseStream ? 'bidi_stream' : 'client_stream';
  return responseStream ? 'server_stream' : 'unary';
}
