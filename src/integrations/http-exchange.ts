import type { ServerResponse } from 'node:http';
import { chunkBytes } from './http-request.js';
import type { RequestRecord, ServerPipeline } from './pipeline.js';

/** What an aborted HTTP exchange reports as its error. */
export class ResponseAbortedError extends Error {
  override readonly name = 'ResponseAbortedError';
  constructor() {
    super('the connection closed before the response was complete');
  }
}

/**
 * Counts the response body bytes as the app writes them. `end()` writes its
 * own chunk without going through `write()`, so nothing is counted twice.
 */
function countBodyBytes(res: ServerResponse, record: RequestRecord): void {
  const rpc = record.rpc!;
  rpc.bytesSent = 0;
  const write = res.write;
  const end = res.end;
  res.write = function writeCounted(this: ServerResponse, chunk: unknown, ...rest: unknown[]): boolean {
    rpc.bytesSent! += chunkBytes(chunk, rest[0]);
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as ServerResponse['write'];
  res.end = function endCounted(this: ServerResponse, chunk?: unknown, ...rest: unknown[]): ServerResponse {
    if (typeof chunk !== 'function') rpc.bytesSent! += chunkBytes(chunk, rest[0]);
    return (end as (...a: unknown[]) => ServerResponse).call(this, chunk, ...rest);
  } as ServerResponse['end'];
}

/**
 * Ends the record when the response is done: fully handed to the connection
 * ('finish': the status it was sent with), or cut short ('close' first: the
 * client went away or the socket failed; aborted, with the status only if the
 * head had been sent). `routeAtFinish` reads the route template a framework
 * matched after reqprof's middleware ran (Express, Koa).
 */
export function finishWithResponse(
  res: ServerResponse,
  pipeline: ServerPipeline,
  record: RequestRecord,
  routeAtFinish?: () => string | undefined,
): void {
  if (record.rpc !== undefined) {
    record.rpc.bytesReceived ??= 0;
    countBodyBytes(res, record);
  }
  const route = () => {
    if (routeAtFinish === undefined) return;
    try {
      pipeline.setRoute(record, routeAtFinish());
    } catch {
      // A framework object in an unexpected shape: keep the path.
    }
  };
  const onFinish = () => {
    res.off('close', onClose);
    route();
    if (record.rpc !== undefined) record.rpc.messagesSent = 1;
    pipeline.finish(record, { status: res.statusCode });
  };
  const onClose = () => {
    res.off('finish', onFinish);
    route();
    pipeline.finish(record, { status: res.headersSent ? res.statusCode : undefined, aborted: true, error: new ResponseAbortedError() });
  };
  res.once('finish', onFinish);
  res.once('close', onClose);
}
