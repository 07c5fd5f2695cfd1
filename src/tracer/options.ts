import { optionRangeError, optionTypeError } from '../errors.js';
import { checkTracer } from './chain.js';
import type { Tracer } from './types.js';
import { describe } from '../util/check-option.js';
import { sharedOption, type ServerOption } from '../integrations/options.js';

/**
 * Calls `tracer.start(info)` when each request or call begins and
 * `tracer.finish(info)` when it ends (Kitex `WithTracer`). Accepted by every
 * server integration and client hook, with or without `withProfiler`. Given
 * more than once, tracers compose: `start` in the order given, `finish` in
 * reverse. A tracer that throws is logged (rate-limited) and never fails the
 * request.
 */
export function withTracer(tracer: Tracer): ServerOption {
  const t = checkTracer(tracer, 'withTracer(tracer)');
  return sharedOption('withTracer', (o) => {
    o.tracers.push(t);
  });
}

/**
 * This service's name, for tracers: `info.callee` on a server (default: the
 * gRPC service of the method; none for HTTP), `info.caller` on a client hook.
 */
export function withServiceName(name: string): ServerOption {
  if (typeof name !== 'string') throw optionTypeError(`reqprof: withServiceName(name): name must be a string, got ${describe(name)}`);
  if (name === '') throw optionRangeError('reqprof: withServiceName(name): name must not be empty');
  return sharedOption('withServiceName', (o) => {
    o.serviceName = name;
  });
}

/** HTTP header names (RFC 9110 tokens), also valid gRPC metadata keys once lower-cased. */
const HEADER = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

/**
 * The request header (gRPC: metadata key) that names the calling service, as
 * Kitex carries the caller in its transport header. A server reads it into
 * `info.caller`; a client hook sends this service's name (`withServiceName`)
 * in it on every outgoing fetch/undici request and gRPC call. Case-insensitive;
 * no default (without it, servers report the caller as unknown).
 */
export function withCallerHeader(header: string): ServerOption {
  if (typeof header !== 'string') throw optionTypeError(`reqprof: withCallerHeader(header): header must be a string, got ${describe(header)}`);
  const h = header.toLowerCase();
  if (!HEADER.test(h) || h.endsWith('-bin')) {
    throw optionRangeError(`reqprof: withCallerHeader(header): header must be an HTTP header name (letters, digits and !#$%&'*+.^_\`|~-) and not a binary gRPC key (-bin), got ${JSON.stringify(header)}`);
  }
  return sharedOption('withCallerHeader', (o) => {
    o.callerHeader = h;
  });
}
