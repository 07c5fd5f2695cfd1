/**
 * undici's responses, parsed as the request whose response they are: for the
 * npm package and for Node's own copy behind the built-in `fetch`, learnt
 * only from the diagnostics channels both publish (no internals).
 *
 * Over HTTP/1.1 undici writes a connection's next request only once the
 * previous response has ended (pipelining 1, its default), so while exactly
 * one request is in flight on a socket, every byte read from it belongs to
 * that request's response. The socket's reads (its `readable` and `data`
 * events, where undici runs its parser and the response handler's callbacks)
 * then run as that request. With none in flight (a connection closing), or
 * several (pipelining above 1), they stay untagged; so does HTTP/2, which
 * interleaves its streams on one socket.
 *
 * - `undici:request:create`, published from within `dispatch`: the request's
 *   caller (the built-in fetch runs `dispatch` outside requests, and names
 *   its caller through `dispatchingFor`);
 * - `undici:client:sendHeaders` ({ request, socket }): in flight on that socket;
 * - `undici:request:trailers` / `undici:request:error`: no longer.
 * A response that ends inside a read leaves the rest of the read untagged
 * (undici's `onComplete` for it, and writing the connection's next request);
 * a request whose head is written from inside a read makes the rest of that
 * read its own (its write; the head itself, a few µs, is built before undici
 * says whose it is, and stays untagged).
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { TagSet } from '../tags.js';
import { onRestore } from './patch.js';
import { currentTags, runAs, switchTo } from './scope.js';

type Socket = { emit(event: string | symbol, ...args: unknown[]): boolean };

/** The caller of each request (undici's Request object). */
const callerOf = new WeakMap<object, TagSet>();
/** The socket each request was written to. */
const socketOf = new WeakMap<object, object>();
/** Per socket: the requests written to it whose response has not ended. */
const inFlight = new WeakMap<object, Set<object>>();
const READS = new Set<string | symbol>(['readable', 'data']);
const WRAPPED = Symbol('reqprof.undiciRepliesWrapped');

let active = false;
/** Inside a read run as its request (`runAs`, whose scope ends with the read): the request it now runs as. */
let insideRead = false;
let readingFor: object | undefined;
/** The caller of the `dispatch` under way when it runs outside requests (the built-in fetch). */
let dispatching: TagSet | undefined;

/** Runs `fn` (a `dispatch` run outside requests) naming `tags` as the caller of the requests it creates. */
export function dispatchingFor<R>(tags: TagSet | undefined, fn: () => R): R {
  const outer = dispatching;
  dispatching = tags;
  try {
    return fn();
  } finally {
    dispatching = outer;
  }
}

/** The socket's reads run as the one request in flight on it, if there is exactly one. */
function readAsItsRequest(socket: Socket): void {
  const s = socket as Socket & { [WRAPPED]?: true };
  if (s[WRAPPED]) return;
  const emit = s.emit;
  Object.defineProperty(s, WRAPPED, { value: true });
  s.emit = function emitAsRequest(this: Socket, event: string | symbol, ...args: unknown[]): boolean {
    if (!active || !READS.has(event)) return emit.call(this, event, ...args);
    const requests = inFlight.get(this);
    if (requests?.size !== 1) return emit.call(this, event, ...args);
    const [only] = requests;
    const tags = callerOf.get(only!);
    if (tags === undefined) return emit.call(this, event, ...args);
    const [outerInside, outerFor] = [insideRead, readingFor];
    insideRead = true;
    readingFor = only;
    try {
      return runAs(tags, () => emit.call(this, event, ...args));
    } finally {
      insideRead = outerInside;
      readingFor = outerFor;
    }
  };
}

function onCreate(message: unknown): void {
  const request = (message as { request?: object }).request;
  const tags = dispatching ?? currentTags();
  if (request && tags !== undefined) callerOf.set(request, tags);
}

function onSendHeaders(message: unknown): void {
  const { request, socket } = message as { request?: object; socket?: Socket };
  if (!request || !socket || typeof socket.emit !== 'function') return;
  socketOf.set(request, socket);
  let requests = inFlight.get(socket);
  if (!requests) inFlight.set(socket, (requests = new Set()));
  requests.add(request);
  readAsItsRequest(socket);
  if (insideRead && readingFor !== request) {
    // Written from inside another request's read: the rest of it is this request's.
    readingFor = request;
    switchTo(callerOf.get(request));
  }
}

function onEnded(message: unknown): void {
  const request = (message as { request?: object }).request;
  const socket = request && socketOf.get(request);
  if (socket) inFlight.get(socket)?.delete(request);
  if (insideRead && request !== undefined && request === readingFor) {
    // Its response has ended: nothing after it in this read is its.
    readingFor = undefined;
    switchTo(undefined);
  }
}

const SUBSCRIPTIONS: Array<[string, (message: unknown) => void]> = [
  ['undici:request:create', onCreate],
  ['undici:client:sendHeaders', onSendHeaders],
  ['undici:request:trailers', onEnded],
  ['undici:request:error', onEnded],
];

/** Starts following undici's requests (both copies). */
export function bindUndiciReplies(): boolean {
  if (active) return false;
  for (const [name, fn] of SUBSCRIPTIONS) diagnosticsChannel.subscribe(name, fn);
  active = true;
  onRestore(() => {
    for (const [name, fn] of SUBSCRIPTIONS) diagnosticsChannel.unsubscribe(name, fn);
    active = false;
  });
  return true;
}
