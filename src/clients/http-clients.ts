/**
 * The tracer hook for outgoing HTTP calls: `fetch` and undici (Node's bundled
 * undici, or the npm package: both publish the same channels) and node:http(s)
 * clients, read from Node's diagnostics channels. Nothing is patched; calls
 * made before `traceHttpClients()` or after its `stop()` are not seen.
 *
 * undici (Node 20: undici 6; Node 24: undici 7): `undici:request:create`
 * (start; the caller header is added here), `undici:request:headers`
 * (status), `undici:request:trailers` (the body was fully received: finish),
 * `undici:request:error` (finish with the error); on undici 7 also
 * `undici:request:bodyChunkSent` / `bodyChunkReceived` for exact byte counts.
 * node:http: `http.client.request.start`, `http.client.response.finish` (the
 * response head; the call finishes at the response's 'end' or 'close') and
 * `http.client.request.error`.
 */
import dc from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { resolveHookOptions, type ServerOption } from '../integrations/options.js';
import type { MutableRPCInfo } from '../tracer/types.js';
import { ClientTracing } from './client-tracing.js';

/** The parts of undici's request object that are read (stable across undici 6 and 7). */
interface UndiciRequest {
  origin?: string | URL;
  method?: string;
  path?: string;
  /** undici 7 and 6 (fetch): a flat [name, value, ...] list; undici 6 (dispatch): raw header lines. */
  headers?: unknown;
  body?: unknown;
  /** The body length undici computed (fetch bodies are async generators by then). */
  contentLength?: unknown;
  addHeader?(name: string, value: string): unknown;
}

interface UndiciResponse {
  statusCode: number;
  /** Flat [name, value, ...] list of Buffers or strings. */
  headers: unknown[];
}

/** Undone by `stop()`: unsubscribes every channel. */
export interface HttpClientTracing {
  stop(): void;
}

/** Error codes and names that mean the caller gave up (AbortController, timeouts it set). */
function isAbort(err: unknown): boolean {
  const e = err as { name?: unknown; code?: unknown } | null;
  return e !== null && typeof e === 'object' && (e.name === 'AbortError' || e.code === 'UND_ERR_ABORTED' || e.code === 'ABORT_ERR');
}

function withoutQuery(path: string): string {
  const q = path.indexOf('?');
  return q === -1 ? path : path.slice(0, q);
}

/** `http://host:port` → `host:port` (an undici origin is a URL string or a URL). */
function hostOf(origin: string | URL | undefined): string | undefined {
  if (origin === undefined) return undefined;
  if (typeof origin !== 'string') return origin.host;
  const s = origin.indexOf('//');
  const rest = s === -1 ? origin : origin.slice(s + 2);
  const slash = rest.indexOf('/');
  return slash === -1 ? rest : rest.slice(0, slash);
}

/** A header's value from a flat [name, value, ...] list (names compared case-insensitively). */
function flatHeader(list: unknown, name: string): string | undefined {
  if (!Array.isArray(list)) return undefined;
  for (let i = 0; i + 1 < list.length; i += 2) {
    if (String(list[i]).toLowerCase() === name) return String(list[i + 1]);
  }
  return undefined;
}

function contentLength(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  const n = Number(Array.isArray(value) ? value[0] : value);
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}

function bodyBytes(body: unknown): number | undefined {
  if (body === undefined || body === null) return 0;
  if (typeof body === 'string') return Buffer.byteLength(body);
  if (body instanceof Uint8Array) return body.byteLength;
  return undefined;
}

/**
 * Runs the tracers (`withTracer`) around every outgoing `fetch`/undici and
 * node:http(s) call in the process: `start` when the call is issued (in the
 * caller's context, so `info.tags` are the tags of the request making it),
 * `finish` when the response body has been fully received, or the call
 * failed or was aborted. A response whose body is never read never finishes.
 *
 * `info.method` is the path without the query (clients know no route
 * template), `info.callee` and `info.host` the `host:port` called,
 * `info.caller` this service's name (`withServiceName`). With
 * `withCallerHeader(name)` too, every fetch/undici request carries
 * `name: <service name>`, so a reqprof server reads its caller from it
 * (node:http requests are not modified).
 *
 * Bytes: the request's content-length (or its in-memory body); the response
 * body as received on undici 7 (Node 24), else its content-length.
 */
export function traceHttpClients(...options: ServerOption[]): HttpClientTracing {
  const tracing = new ClientTracing(resolveHookOptions(options, 'http-clients', 'traceHttpClients()'), 'http-clients');
  const { serviceName, callerHeader } = tracing;
  const undici = new WeakMap<object, MutableRPCInfo>();
  const subscriptions: Array<[string, (message: unknown) => void]> = [];
  // A subscriber that throws would be rethrown by diagnostics_channel as an uncaught exception: never let one out.
  const on = <M>(channel: string, fn: (message: M) => void) => subscriptions.push([channel, (message: unknown) => {
    try {
      fn(message as M);
    } catch (err) {
      tracing.warn(channel, err, `reqprof/http-clients: handling ${channel} failed; that call may go untraced`);
    }
  }]);

  on<{ request: UndiciRequest }>('undici:request:create', ({ request }) => {
    const path = typeof request.path === 'string' ? request.path : '/';
    const host = hostOf(request.origin);
    const info = tracing.begin({
      protocol: 'http',
      integration: 'fetch',
      service: undefined,
      method: withoutQuery(path),
      route: undefined,
      httpMethod: request.method ?? 'GET',
      path: withoutQuery(path),
      callType: 'unary',
      callee: host,
      host,
      scheme: String(request.origin ?? '').startsWith('https:') ? 'https' : 'http',
    });
    info.bytesSent = contentLength(flatHeader(request.headers, 'content-length')) ?? contentLength(request.contentLength) ?? bodyBytes(request.body);
    info.messagesSent = 1;
    undici.set(request, info);
    if (serviceName !== undefined && callerHeader !== undefined && typeof request.addHeader === 'function') {
      try {
        request.addHeader(callerHeader, serviceName);
      } catch {
        // A request that no longer takes headers: the call goes on without the caller header.
      }
    }
  });
  // undici 7 reports the body chunks: count them rather than trust the declared lengths.
  const countChunk = (seen: WeakSet<MutableRPCInfo>, info: MutableRPCInfo, field: 'bytesSent' | 'bytesReceived', chunk: Uint8Array): void => {
    if (!seen.has(info)) {
      seen.add(info);
      info[field] = 0;
    }
    info[field]! += chunk.byteLength;
  };
  const sentChunks = new WeakSet<MutableRPCInfo>();
  const receivedChunks = new WeakSet<MutableRPCInfo>();
  on<{ request: object; chunk: Uint8Array }>('undici:request:bodyChunkSent', ({ request, chunk }) => {
    const info = undici.get(request);
    if (info === undefined) return;
    countChunk(sentChunks, info, 'bytesSent', chunk);
  });
  on<{ request: object; response: UndiciResponse }>('undici:request:headers', ({ request, response }) => {
    const info = undici.get(request);
    if (info === undefined) return;
    info.status = response.statusCode;
    info.messagesReceived = 1;
    info.bytesReceived = contentLength(flatHeader(response.headers, 'content-length'));
  });
  on<{ request: object; chunk: Uint8Array }>('undici:request:bodyChunkReceived', ({ request, chunk }) => {
    const info = undici.get(request);
    if (info === undefined) return;
    countChunk(receivedChunks, info, 'bytesReceived', chunk);
  });
  on<{ request: object }>('undici:request:trailers', ({ request }) => {
    const info = undici.get(request);
    if (info === undefined) return;
    undici.delete(request);
    tracing.finish(info, { status: info.status });
  });
  on<{ request: object; error: unknown }>('undici:request:error', ({ request, error }) => {
    const info = undici.get(request);
    if (info === undefined) return;
    undici.delete(request);
    tracing.finish(info, { status: info.status, error, aborted: isAbort(error) });
  });

  const node = new WeakMap<object, MutableRPCInfo>();
  on<{ request: ClientRequest }>('http.client.request.start', ({ request }) => {
    // The Host header node:http sets (with the port when it is not the default), else the host name.
    const hostHeader = request.getHeader('host');
    const host = typeof hostHeader === 'string' ? hostHeader : request.host;
    const info = tracing.begin({
      protocol: 'http',
      integration: 'http-client',
      service: undefined,
      method: withoutQuery(request.path),
      route: undefined,
      httpMethod: request.method,
      path: withoutQuery(request.path),
      callType: 'unary',
      callee: host,
      host,
      scheme: request.protocol === 'https:' ? 'https' : 'http',
    });
    info.bytesSent = contentLength(request.getHeader('content-length'));
    info.messagesSent = 1;
    node.set(request, info);
  });
  on<{ request: ClientRequest; response: IncomingMessage }>('http.client.response.finish', ({ request, response }) => {
    // Published when the response head arrives: the call ends with the body.
    const info = node.get(request);
    if (info === undefined) return;
    info.status = response.statusCode;
    info.messagesReceived = 1;
    info.bytesReceived = contentLength(response.headers['content-length']);
    const onEnd = () => {
      response.off('close', onClose);
      node.delete(request);
      tracing.finish(info, { status: info.status });
    };
    const onClose = () => {
      response.off('end', onEnd);
      node.delete(request);
      if (response.complete) tracing.finish(info, { status: info.status });
      else tracing.finish(info, { status: info.status, aborted: true, error: response.errored ?? new Error('the response was cut short') });
    };
    response.once('end', onEnd);
    response.once('close', onClose);
  });
  on<{ request: ClientRequest; error: unknown }>('http.client.request.error', ({ request, error }) => {
    const info = node.get(request);
    if (info === undefined) return;
    node.delete(request);
    tracing.finish(info, { status: info.status, error, aborted: isAbort(error) });
  });

  for (const [channel, fn] of subscriptions) dc.subscribe(channel, fn);
  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      for (const [channel, fn] of subscriptions) dc.unsubscribe(channel, fn);
    },
  };
}
