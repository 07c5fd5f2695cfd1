/**
 * reqprof/grpc: per-call tags for @grpc/grpc-js servers (>= 1.10).
 *
 *   const server = new grpc.Server({ interceptors: [reqprofInterceptor(withProfiler(p),
 *     withProfilerTransInfoTagging(fn), withProfilerMessageTagging(fn2))] });
 *   server.addService(deferDecoding(EchoService), impl);
 *
 * Transport stage on the method path and metadata, before any message is
 * read. With `deferDecoding`, request messages are deserialized inside the
 * interceptor with the transport tags (without it, grpc-js deserializes them
 * before any interceptor sees them, outside the call's context). Message stage
 * on each deserialized request:
 *
 * - unary and server-streaming: the one request's tags are added to the call;
 *   the handler, its responses and everything it starts carry both stages' tags.
 * - client-streaming and bidi: the handler starts at once with the transport
 *   tags and keeps them; each request message is delivered (its 'data' event
 *   and what that listener starts) with the transport tags plus that
 *   message's own tags. The end of the request stream, and code awaiting the
 *   stream (`for await`), run with the transport tags.
 */
import { ServerInterceptingCall, status, type Metadata, type ServerInterceptor, type ServiceDefinition, type StatusObject } from '@grpc/grpc-js';
import { callTypeOf, grpcStatusError } from '../tracer/grpc-status.js';
import { resolveHookOptions, type ServerOption, type TransportInfo } from './options.js';
import { ServerPipeline, settle, type RequestRecord } from './pipeline.js';

export { reqprofClientInterceptor } from '../clients/grpc-client.js';

/** A request message whose deserialization waits for the interceptor (see `deferDecoding`). */
class DeferredRequest {
  constructor(readonly bytes: Buffer, readonly decode: (bytes: Buffer) => unknown) {}
}

/**
 * The server method handlers (grpc-js's per-server, per-method record, which
 * calls `requestDeserialize` as its method) whose calls reach reqprof's
 * interceptor first: only their requests are deferred. Every other server
 * using the same deferred definition decodes at once, as grpc-js would.
 */
const deferringHandlers = new WeakSet<object>();

/** The deserializers `deferDecoding` made. */
const deferredDeserializers = new WeakSet<object>();

/**
 * The size of the response `deferDecoding`'s serializer produced last. The
 * interceptor reads it right after handing a message down: grpc-js
 * serializes synchronously there, so it is that message's size (-1: some
 * other interceptor deferred the send, size unknown).
 */
let lastSerializedBytes = -1;

/**
 * Returns `definition` with request deserialization moved into the reqprof
 * interceptor, so decoding CPU is billed to the transport-stage tags. Use it
 * on the definition you pass to `server.addService`, on a server whose first
 * interceptor is `reqprofInterceptor`. Anywhere else (a server without it, or
 * with another interceptor first) requests are decoded as usual. Client use
 * of the definition is unchanged.
 */
export function deferDecoding<D extends ServiceDefinition>(definition: D): D {
  const out: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(definition)) {
    const decode = method.requestDeserialize;
    const encode = method.responseSerialize;
    out[name] = {
      ...method,
      requestDeserialize: deferredDeserializer(decode),
      // Lets the tracers count response bytes.
      responseSerialize: (value: unknown) => {
        const bytes = encode(value);
        lastSerializedBytes = bytes.length;
        return bytes;
      },
    };
  }
  return out as D;
}

/**
 * grpc-js calls a request deserializer as `handler.deserialize(bytes)`, so
 * `this` is the server's handler of the method: defer only where reqprof's
 * interceptor armed that handler (called otherwise, decode at once).
 */
function deferredDeserializer(decode: (bytes: Buffer) => unknown): (bytes: Buffer) => unknown {
  const deserialize = function (this: unknown, bytes: Buffer): unknown {
    return this !== null && typeof this === 'object' && deferringHandlers.has(this) ? new DeferredRequest(bytes, decode) : decode(bytes);
  };
  deferredDeserializers.add(deserialize);
  return deserialize;
}

/**
 * Arms deferral for this call's method on this server when reqprof's
 * interceptor is the first of the server's interceptors: `call` is then
 * grpc-js's own call, holding the handler whose deserializer is the
 * descriptor's. Otherwise (another interceptor first would see undecoded
 * requests) nothing is deferred, and the result says why.
 */
function armDeferral(descriptor: { requestDeserialize: unknown }, call: unknown): 'armed' | 'not deferred' | 'misordered' | 'unknown call' {
  if (!deferredDeserializers.has(descriptor.requestDeserialize as object)) return 'not deferred';
  if (call instanceof ServerInterceptingCall) return 'misordered';
  const handler = (call as { handler?: { deserialize?: unknown } }).handler;
  if (handler === null || typeof handler !== 'object' || handler.deserialize !== descriptor.requestDeserialize) return 'unknown call';
  deferringHandlers.add(handler);
  return 'armed';
}

function textEntries(metadata: Metadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata.getMap())) if (typeof v === 'string') out[k] = v;
  return out;
}

function grpcTransportInfo(path: string, metadata: Metadata): TransportInfo {
  let headers: Record<string, string> | undefined;
  return {
    protocol: 'grpc',
    integration: 'grpc',
    method: path,
    path,
    url: path,
    route: path,
    get headers() {
      return (headers ??= textEntries(metadata));
    },
    raw: metadata,
  };
}

function decodeIfDeferred(message: unknown): unknown {
  return message instanceof DeferredRequest ? message.decode(message.bytes) : message;
}

/** grpc-js's deadline as epoch ms (it may be a Date or a number; Infinity: none). */
function deadlineMs(deadline: Date | number): number {
  return deadline instanceof Date ? deadline.getTime() : deadline;
}

/**
 * Whether a call that ended without a status ended at its deadline. The
 * client's deadline timer usually fires a little before the server's (the
 * server counts the timeout from when the call reached it) and resets the
 * stream: a reset within a tenth of the timeout (10 to 100 ms) of the
 * server's deadline is that deadline, not a cancellation.
 */
function atDeadline(deadline: Date | number, startedAt: number): boolean {
  const d = deadlineMs(deadline);
  if (!Number.isFinite(d)) return false;
  const margin = Math.min(100, Math.max(10, (d - startedAt) / 10));
  return Date.now() >= d - margin;
}

/** Creates the server interceptor: `new grpc.Server({ interceptors: [reqprofInterceptor(...options)] })`. */
export function reqprofInterceptor(...options: ServerOption[]): ServerInterceptor {
  const pipeline = new ServerPipeline(resolveHookOptions(options, 'grpc', 'reqprofInterceptor()'));
  const onStageError = (err: unknown) => pipeline.warn('grpc-stage', err, 'reqprof/grpc: a call failed after an async tagging stage');

  /** Whether a deferred method could not be deferred (warned once). */
  let undeferred = false;

  return (descriptor, call) => {
    const arming = armDeferral(descriptor, call);
    if ((arming === 'misordered' || arming === 'unknown call') && !undeferred) {
      undeferred = true;
      pipeline.warn('grpc-defer', new Error(arming === 'misordered' ? 'another server interceptor comes before reqprofInterceptor()' : 'the call under reqprofInterceptor() is not grpc-js\'s own'),
        `reqprof/grpc: deferDecoding has no effect on ${descriptor.path}: ` +
        (arming === 'misordered'
          ? 'reqprofInterceptor() is not the first of the server\'s interceptors, so requests are decoded before it (untagged); list it first in new grpc.Server({ interceptors: [...] })'
          : 'reqprof did not find grpc-js\'s own call under its interceptor (another interceptor first, or a grpc-js version it does not know); requests are decoded before it (untagged)'));
    }
    const perMessage = descriptor.requestStream;
    let record: RequestRecord | undefined;
    /** The status the handler sent, seen on its way out. */
    let sent: Pick<StatusObject, 'code' | 'details'> | undefined;
    let startedAt = 0;
    return new ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, mdNext) {
            if (!pipeline.active) {
              mdNext(metadata);
              return;
            }
            startedAt = Date.now();
            record = pipeline.begin(grpcTransportInfo(descriptor.path, metadata), {
              callType: callTypeOf(descriptor.requestStream, descriptor.responseStream),
              host: typeof call.getHost === 'function' ? call.getHost() : undefined,
            });
            const r = record;
            // For streaming requests the handler starts here, with the transport tags.
            settle(pipeline.transportStage(r, () => mdNext(metadata)), onStageError);
          },
          onReceiveMessage(message, msgNext) {
            if (record !== undefined && record.rpc !== undefined) {
              pipeline.message(record, 'received', message instanceof DeferredRequest ? message.bytes.length : undefined);
            }
            let decoded: unknown;
            try {
              decoded = record === undefined ? decodeIfDeferred(message) : pipeline.run(record, () => decodeIfDeferred(message), 'transport');
            } catch (err) {
              // As grpc-js answers an undecodable request (the details stay on the server).
              pipeline.warn('grpc-decode', err, `reqprof/grpc: could not deserialize a request to ${descriptor.path}`);
              sent ??= { code: status.INTERNAL, details: 'Error deserializing request' };
              call.sendStatus({ ...sent, metadata: null });
              return;
            }
            if (record === undefined) {
              msgNext(decoded);
              return;
            }
            settle(pipeline.messageStage(record, decoded, () => msgNext(decoded), perMessage), onStageError);
          },
          onReceiveHalfClose(hcNext) {
            // Unary and server-streaming handlers start here: with both stages' tags.
            if (record === undefined) hcNext();
            else pipeline.run(record, hcNext);
          },
          onCancel() {
            // grpc-js calls this at the end of every call, after the status went out, or when the
            // client cancelled or the deadline passed first (statuses grpc-js sends itself).
            if (record === undefined) return;
            const code = sent?.code ?? (typeof call.getDeadline === 'function' && atDeadline(call.getDeadline(), startedAt) ? status.DEADLINE_EXCEEDED : status.CANCELLED);
            pipeline.finish(record, {
              status: code,
              aborted: sent === undefined,
              error: code === status.OK ? undefined : grpcStatusError(code, sent?.details ?? (code === status.CANCELLED ? 'Cancelled' : 'Deadline exceeded')),
            });
          },
        });
      },
      sendMessage(message, next) {
        if (record === undefined || record.rpc === undefined) {
          next(message);
          return;
        }
        lastSerializedBytes = -1;
        next(message);
        pipeline.message(record, 'sent', lastSerializedBytes >= 0 ? lastSerializedBytes : undefined);
      },
      sendStatus(st, next) {
        sent ??= st;
        next(st);
      },
    });
  };
}
