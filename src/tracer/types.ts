import type { TagSet } from '../tags.js';

/** Which end of a call a record describes. */
export type CallSide = 'server' | 'client';

/**
 * The shape of a call, with go-grpc-prometheus's names. HTTP exchanges are
 * `unary` (one request, one response).
 */
export type CallType = 'unary' | 'client_stream' | 'server_stream' | 'bidi_stream';

/** Which integration or client hook made a record. */
export type TracedIntegration = 'http' | 'express' | 'fastify' | 'koa' | 'grpc' | 'fetch' | 'http-client' | 'grpc-client';

/**
 * One request or call as a tracer sees it: the counterpart of Kitex's RPCInfo.
 * The integration fills it in as the call goes; `start` sees what is known
 * when the call begins, `finish` the whole record. The same object is passed
 * to both, so a tracer can keep per-call state in a `WeakMap` keyed by it.
 */
export interface RPCInfo {
  readonly side: CallSide;
  readonly protocol: 'http' | 'grpc';
  readonly integration: TracedIntegration;
  /** gRPC: the service, `package.Service`. HTTP: undefined. */
  readonly service: string | undefined;
  /**
   * gRPC: the full method, `/package.Service/Method`. HTTP: the route template
   * where the framework knows it (`/users/:id`), else the path without the
   * query. On servers that match routes after reqprof runs (Express, Koa), the
   * template is known only at `finish`: `start` sees the path.
   */
  readonly method: string;
  /** The route template when the framework matched one; `method` otherwise falls back to the path. */
  readonly route: string | undefined;
  /** The HTTP request method (`GET`, `POST`...); `POST` for gRPC. */
  readonly httpMethod: string;
  /** HTTP: the URL path without the query; gRPC: the full method. */
  readonly path: string;
  /** unary, client_stream, server_stream or bidi_stream (HTTP: unary). */
  readonly callType: CallType;
  /**
   * Who called. Server: the value of the caller header or metadata key
   * (`withCallerHeader`). Client: this service's name (`withServiceName`).
   * Undefined when not known.
   */
  readonly caller: string | undefined;
  /**
   * Who was called. Server: this service's name (`withServiceName`), else the
   * gRPC service. Client: the gRPC service, or the HTTP `host:port`.
   */
  readonly callee: string | undefined;
  /** HTTP: `http` or `https`; gRPC: undefined. */
  readonly scheme: 'http' | 'https' | undefined;
  /** Client: the `host:port` called (gRPC: the channel target); server: the Host header (gRPC: :authority). */
  readonly host: string | undefined;
  /** When the call began: `process.hrtime.bigint()` nanoseconds (monotonic, for durations only). */
  readonly startTime: bigint;
  /** When it finished (response fully written or received, or failed): same clock. Undefined until then. */
  readonly endTime: bigint | undefined;
  /**
   * HTTP status code, or the gRPC status code (0 OK ... 16 UNAUTHENTICATED).
   * Undefined when the call ended before any status (an HTTP client that
   * failed to connect, a server response aborted before its head was sent).
   */
  readonly status: number | undefined;
  /**
   * Why the call failed, when it did: what the handler threw (where the
   * framework lets reqprof see it), the network error of a client, a gRPC
   * error status (an `Error` with `code` and `details`), or the abort.
   * HTTP responses with a 4xx/5xx status carry no error of their own.
   */
  readonly error: unknown;
  /** The other side went away before the response was complete (client disconnect, gRPC cancellation). */
  readonly aborted: boolean;
  /**
   * Payload bytes received and sent: HTTP body bytes, gRPC message bytes.
   * Undefined where the integration cannot see them (gRPC servers count them
   * with `deferDecoding`; gRPC clients do not; HTTP clients on Node 20 count
   * received bytes from the content-length header).
   */
  readonly bytesReceived: number | undefined;
  readonly bytesSent: number | undefined;
  /** gRPC messages received and sent so far. HTTP: 1 and 1 once the response is complete (0 sent if it was not). */
  readonly messagesReceived: number;
  readonly messagesSent: number;
  /**
   * Server: the tags after the transport stage. Client: the tags of the
   * context the call was made in (the incoming request's, say). Undefined
   * when untagged (servers tag only with `withProfiler`).
   */
  readonly transportTags: TagSet | undefined;
  /** Server: the tags the handler ran with (both stages). Client: same as `transportTags`. */
  readonly tags: TagSet | undefined;
}

/**
 * A hook run at the start and finish of every request or call (Kitex's
 * `Tracer`). Give it to a server integration or client hook with
 * `withTracer(tracer)`. Several compose: `start` in the order given, `finish`
 * in reverse. A hook that throws is logged (rate-limited) and skipped; it
 * never fails the request.
 */
export interface Tracer {
  /** The call began (server: its head arrived; client: it was issued). */
  start?(info: RPCInfo): void;
  /** The call ended: its response was fully written or received, or it failed or was aborted. */
  finish?(info: RPCInfo): void;
  /** One gRPC message went out or came in (live counts for long streams). Not called for HTTP. */
  message?(info: RPCInfo, direction: 'sent' | 'received'): void;
}

/** The fields an integration writes as the call goes (the public view is read-only). */
export type MutableRPCInfo = { -readonly [K in keyof RPCInfo]: RPCInfo[K] };

/** Seconds between `startTime` and `endTime` (undefined before `finish`). */
export function durationSeconds(info: RPCInfo): number | undefined {
  return info.endTime === undefined ? undefined : Number(info.endTime - info.startTime) / 1e9;
}
