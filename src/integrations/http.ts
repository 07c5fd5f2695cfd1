/**
 * reqprof/http: per-request tags for node:http and node:https servers.
 *
 *   http.createServer(reqprofListener(listener, withProfiler(p), withProfilerTransInfoTagging(fn)))
 *   http.createServer(reqprofHandler(async (req, res, body) => {...}, withProfiler(p), ...))
 *
 * `reqprofListener` wraps any request listener and runs the transport stage.
 * `reqprofHandler` also reads and decodes the body (JSON by default) with the
 * transport tags, runs the message stage on the result, then your handler.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { optionRangeError, optionTypeError } from '../errors.js';
import { finishWithResponse } from './http-exchange.js';
import { deliverBodyEventsWithTags, hasBody, httpFacts, httpTransportInfo } from './http-request.js';
import { integrationOption, resolveHookOptions, type ServerOption } from './options.js';
import { ServerPipeline, settle, type RequestRecord } from './pipeline.js';

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => unknown;

/** Your handler in the `reqprofHandler` form: `body` is the decoded body (undefined when the request has none). */
export type BodyHandler = (req: IncomingMessage, res: ServerResponse, body: unknown) => unknown;

/** Turns the raw body into the message the message stage and your handler see. May be async. */
export type BodyDecoder = (body: Buffer, req: IncomingMessage) => unknown;

/** The default body size limit of `reqprofHandler`: 1 MiB. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

const DECODER = 'bodyDecoder';
const LIMIT = 'bodyLimit';

/**
 * How `reqprofHandler` decodes bodies (default: JSON when the content type is
 * JSON or absent, the raw Buffer otherwise). A decoder that throws gets the
 * request a 400.
 */
export function withBodyDecoder(decode: BodyDecoder): ServerOption {
  if (typeof decode !== 'function') {
    throw optionTypeError(`reqprof: withBodyDecoder(decode): decode must be a function (body: Buffer, req) => message, got ${typeof decode}`);
  }
  return integrationOption('http', 'withBodyDecoder', DECODER, decode);
}

/** The largest body `reqprofHandler` reads, in bytes (default 1 MiB); larger ones get a 413. */
export function withBodyLimit(bytes: number): ServerOption {
  if (typeof bytes !== 'number' || !Number.isInteger(bytes) || bytes < 0) {
    throw optionRangeError(`reqprof: withBodyLimit(bytes): bytes must be an integer >= 0, got ${String(bytes)}`);
  }
  return integrationOption('http', 'withBodyLimit', LIMIT, bytes);
}

/**
 * Wraps a node:http(s) request listener: the transport stage tags the request
 * from its method, URL and headers, and the listener (with everything it
 * starts) runs with those tags. The request's events ('data', 'end') carry
 * them too, so a listener that reads the body itself reads it tagged.
 */
export function reqprofListener(listener: RequestListener, ...options: ServerOption[]): RequestListener {
  if (typeof listener !== 'function') {
    throw optionTypeError(`reqprof: reqprofListener(listener, ...options): listener must be a function (req, res), got ${typeof listener}`);
  }
  const pipeline = new ServerPipeline(resolveHookOptions(options, 'http', 'reqprofListener()'));
  if (!pipeline.active) return listener;
  return function reqprofListener(this: unknown, req: IncomingMessage, res: ServerResponse): void {
    const record = pipeline.begin(httpTransportInfo('http', req, req), httpFacts(req));
    deliverBodyEventsWithTags(req, pipeline, record);
    finishWithResponse(res, pipeline, record);
    let result: unknown;
    try {
      result = pipeline.transportStage(record, () => listener.call(this, req, res));
    } catch (err) {
      pipeline.failed(record, err);
      throw err;
    }
    settle(result, (err) => {
      pipeline.failed(record, err);
      pipeline.warn('listener', err, 'reqprof/http: the request listener failed after an async tagging stage');
      fail(res, 500);
    });
  };
}

/**
 * A request listener that reads and decodes the body before calling
 * `handler(req, res, body)`: transport stage, body read and decoded with the
 * transport tags, message stage on the decoded body, handler with both
 * stages' tags. Bodies over the limit get a 413, undecodable ones a 400, and a
 * handler that throws or rejects a 500 (logged).
 */
export function reqprofHandler(handler: BodyHandler, ...options: ServerOption[]): RequestListener {
  if (typeof handler !== 'function') {
    throw optionTypeError(`reqprof: reqprofHandler(handler, ...options): handler must be a function (req, res, body), got ${typeof handler}`);
  }
  const o = resolveHookOptions(options, 'http', 'reqprofHandler()');
  const decode = (o.settings.get(DECODER) as BodyDecoder | undefined) ?? decodeJson;
  const limit = (o.settings.get(LIMIT) as number | undefined) ?? DEFAULT_BODY_LIMIT;
  const pipeline = new ServerPipeline(o);

  const onHandlerError = (res: ServerResponse, record?: RequestRecord) => (err: unknown) => {
    if (record !== undefined) pipeline.failed(record, err);
    pipeline.warn('handler', err, 'reqprof/http: the handler given to reqprofHandler threw or rejected; answered 500');
    fail(res, 500);
  };

  async function serve(req: IncomingMessage, res: ServerResponse, record: RequestRecord | undefined): Promise<void> {
    let body: unknown;
    try {
      body = await readAndDecode(req, limit, decode);
    } catch (err) {
      fail(res, (err as { status?: number }).status ?? 400, (err as Error).message);
      return;
    }
    const run = () => handler(req, res, body);
    await (record === undefined ? run() : pipeline.messageStage(record, body, run));
  }

  return function reqprofHandler(req: IncomingMessage, res: ServerResponse): void {
    if (!pipeline.active) {
      serve(req, res, undefined).catch(onHandlerError(res));
      return;
    }
    const record = pipeline.begin(httpTransportInfo('http', req, req), httpFacts(req));
    deliverBodyEventsWithTags(req, pipeline, record);
    finishWithResponse(res, pipeline, record);
    pipeline.transportStage(record, () => serve(req, res, record)).catch(onHandlerError(res, record));
  };
}

class BodyError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** Reads the whole body (at most `limit` bytes) and decodes it; undefined when the request has no body. */
async function readAndDecode(req: IncomingMessage, limit: number, decode: BodyDecoder): Promise<unknown> {
  if (!hasBody(req)) return undefined;
  const declared = Number(req.headers['content-length']);
  if (declared > limit) throw tooLarge(limit);
  const body = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        done();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      done();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      done();
      reject(new BodyError(400, `could not read the request body: ${err.message}`));
    };
    const onClose = () => {
      done();
      reject(new BodyError(400, 'the request was closed before its body was complete'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
  try {
    return await decode(body, req);
  } catch (err) {
    throw new BodyError(400, `could not decode the request body: ${(err as Error)?.message ?? String(err)}`);
  }
}

function tooLarge(limit: number): BodyError {
  return new BodyError(413, `request body larger than ${limit} bytes`);
}

/** The default decoder: JSON for JSON (or unlabelled) bodies, the Buffer itself otherwise. */
export function decodeJson(body: Buffer, req: IncomingMessage): unknown {
  const type = req.headers['content-type'];
  if (type !== undefined && !/\bjson\b/i.test(type)) return body;
  return body.length === 0 ? undefined : JSON.parse(body.toString('utf8'));
}

function fail(res: ServerResponse, status: number, message?: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // A body we stopped reading must not be parsed as the next request: close the connection.
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
  res.end((message ?? (status === 500 ? 'internal server error' : 'bad request')) + '\n');
}

// The live debug endpoint (Go's net/http/pprof for reqprof): see src/debug/.
export { debugHandler, type DebugHandler, type DebugHandlerOptions, type MetricsRegistry } from '../debug/handler.js';
export { debugProcessor, createDebugRecorder, type DebugRecorder, type DebugRecorderOptions, type RecordedWindow } from '../debug/recorder.js';
export { startDebugServer, type DebugServer, type DebugServerOptions } from '../debug/server.js';
