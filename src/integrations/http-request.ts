import type { IncomingMessage } from 'node:http';
import type { TransportInfo } from './options.js';
import type { RequestRecord, ServerPipeline } from './pipeline.js';

/** The transport-stage view of an HTTP request (node:http, Express, Fastify, Koa). */
export function httpTransportInfo(
  integration: TransportInfo['integration'],
  req: IncomingMessage,
  raw: unknown,
  options: { url?: string; route?: string } = {},
): TransportInfo {
  const url = options.url ?? req.url ?? '/';
  const q = url.indexOf('?');
  return {
    protocol: 'http',
    integration,
    method: req.method ?? 'GET',
    path: q === -1 ? url : url.slice(0, q),
    url,
    route: options.route,
    headers: req.headers,
    raw,
  };
}

/** The facts of an HTTP request the tracers see beyond its transport info. */
export function httpFacts(req: IncomingMessage): { host: string | undefined; scheme: 'http' | 'https' } {
  return { host: req.headers.host, scheme: (req.socket as { encrypted?: boolean } | null)?.encrypted ? 'https' : 'http' };
}

/** Whether the request has a body to read (a declared length above 0, or chunked). */
export function hasBody(req: IncomingMessage): boolean {
  const h = req.headers;
  if (h['transfer-encoding'] !== undefined) return true;
  const len = h['content-length'];
  return len !== undefined && len !== '0';
}

const kBound = Symbol('reqprof.boundRequestEvents');

/** Bytes in a stream chunk (a string is counted as UTF-8, what a request stream without setEncoding never emits anyway). */
export function chunkBytes(chunk: unknown, encoding?: unknown): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  return 0;
}

/**
 * Delivers the request stream's events ('data', 'end', 'error', 'close') with
 * the request's tags, and counts the body bytes for the tracers. Node emits
 * them from the connection's socket callbacks, outside any request context,
 * so without this a body parser that decodes in its 'end' listener
 * (Fastify's, or a listener's own `req.on('end')`) would decode untagged.
 * Only this request object is affected; the connection's next request starts
 * clean.
 */
export function deliverBodyEventsWithTags(req: IncomingMessage, pipeline: ServerPipeline, record: RequestRecord): void {
  if (!hasBody(req)) return;
  const rpc = record.rpc;
  if (!pipeline.tagging && rpc === undefined) return;
  const r = req as IncomingMessage & { [kBound]?: true };
  if (r[kBound]) return;
  r[kBound] = true;
  const emit = req.emit;
  req.emit = function emitWithRequestTags(this: IncomingMessage, ...args: Parameters<IncomingMessage['emit']>): boolean {
    if (rpc !== undefined && args[0] === 'data') rpc.bytesReceived = (rpc.bytesReceived ?? 0) + chunkBytes(args[1]);
    return pipeline.run(record, () => emit.apply(this, args));
  } as IncomingMessage['emit'];
}
