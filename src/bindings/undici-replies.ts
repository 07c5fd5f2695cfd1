/**
 * undici's responses, parsed as the request whose response they are: for the
 * npm package and for Node's own copy behind the built-in `fetch`, learnt
 * from the diagnostics channels both publish.
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
 * - `undici:request:create`, published where undici creates the request: its
 *   caller is the one named by the dispatch under way (`dispatchingFor`: the
 *   built-in fetch's global dispatcher, whose Agent never queues; npm
 *   undici's Client, told by the handler its caller dispatched, see
 *   `inDispatch`); a request created outside such a dispatch
 *   stays untagged;
 * - `undici:client:sendHeaders` ({ request, socket }): in flight on that socket;
 * - `undici:request:trailers` / `undici:request:error`: no longer.
 * A response that ends inside a read leaves the rest of the read untagged
 * (undici's `onComplete` for it, and writing the connection's next request);
 * a request whose head is written from inside a read makes the rest of that
 * read its own (its write; the head itself, a few µs, is built before undici
 * says whose it is, and stays untagged).
 *
 * What is kept per request and per socket sits on undici's own objects under
 * a private symbol: a WeakMap entry per request cost about 0.5 µs (most of it
 * in the garbage collector's ephemeron work), more than all the rest.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { TagSet } from '../tags.js';
import { onRestore } from './patch.js';
import { currentTags, runAs, switchTo } from './scope.js';

type Emit = (this: unknown, event: string | symbol, ...args: unknown[]) => boolean;

/** On a request: its caller and the socket it was written to. */
interface RequestState { tags: TagSet | undefined; socket: object | undefined }
/** On a socket: the requests written to it whose response has not ended. */
interface SocketState { inFlight: Set<object> }

const REQUEST = Symbol('reqprof.undiciRequest');
const SOCKET = Symbol('reqprof.undiciSocket');
type Tracked<T> = Record<symbol, T | undefined>;

let active = false;
/** Inside a read run as its request (`runAs`, whose scope ends with the read): the request it now runs as. */
let insideRead = false;
let readingFor: object | undefined;
/**
 * The caller of the dispatch under way, for the one request it creates.
 * Never the context the request happens to be created in: a request queued
 * by a busy pool is created later, when a connection frees up, from inside
 * whatever runs then (often another request's read).
 */
let dispatching: { tags: TagSet | undefined; used: boolean } | undefined;
/** npm undici: the caller of each dispatched handler, until the Client creates its request. */
const handlerCaller = new WeakMap<object, TagSet>();

/** Runs `fn`, a dispatch that creates at most one request of its own, naming `tags` as that request's caller. */
export function dispatchingFor<R>(tags: TagSet | undefined, fn: () => R): R {
  const outer = dispatching;
  dispatching = { tags, used: false };
  try {
    return fn();
  } finally {
    dispatching = outer;
  }
}

/** npm undici: the handler of the innermost `dispatch` under way. */
let dispatchHandler: object | undefined;

const isObject = (v: unknown): v is object => v !== null && typeof v === 'object';

/**
 * Runs one `dispatch` (Agent, Pool, Client; each passes its handler down, and
 * a Pool queues it when busy), first noting the caller of a handler seen for
 * the first time. Handlers are made per call; the entry goes when its request
 * is created, so a handler dispatched again (a redirect) is told its caller
 * again.
 */
export function inDispatch<R>(handler: unknown, fn: () => R): R {
  if (isObject(handler) && !handlerCaller.has(handler)) {
    const tags = currentTags();
    if (tags !== undefined) handlerCaller.set(handler, tags);
  }
  const outer = dispatchHandler;
  dispatchHandler = isObject(handler) ? handler : undefined;
  try {
    return fn();
  } finally {
    dispatchHandler = outer;
  }
}

/**
 * Runs a Client's own dispatch (where undici creates the request) naming the
 * caller `handler` was dispatched by; or, for a handler this very `dispatch`
 * call made (undici wraps a handler of its newer API), the caller of the
 * handler that call was given.
 */
export function dispatchingHandler<R>(handler: unknown, fn: () => R): R {
  let tags: TagSet | undefined;
  for (const h of [handler, dispatchHandler]) {
    if (!isObject(h)) continue;
    tags = handlerCaller.get(h);
    if (tags !== undefined) {
      handlerCaller.delete(h);
      break;
    }
  }
  return dispatchingFor(tags, fn);
}

/** The socket's reads run as the one request in flight on it, if there is exactly one with a caller. */
function readAsItsRequest(socket: object): SocketState {
  const s = socket as Tracked<SocketState> & { emit: Emit };
  const existing = s[SOCKET];
  if (existing) return existing;
  const state: SocketState = { inFlight: new Set() };
  Object.defineProperty(s, SOCKET, { value: state, configurable: true });
  const emit = s.emit;
  s.emit = function emitAsRequest(this: unknown, event: string | symbol): boolean {
    if (!active || (event !== 'readable' && event !== 'data') || state.inFlight.size !== 1) {
      // eslint-disable-next-line prefer-rest-params -- no array per event on every socket event
      return emit.apply(this, arguments as unknown as Parameters<Emit>);
    }
    const [only] = state.inFlight;
    const tags = (only as Tracked<RequestState>)[REQUEST]?.tags;
    // eslint-disable-next-line prefer-rest-params
    const args = arguments as unknown as Parameters<Emit>;
    if (tags === undefined) return emit.apply(this, args);
    const [outerInside, outerFor] = [insideRead, readingFor];
    insideRead = true;
    readingFor = only;
    try {
      return runAs(tags, () => emit.apply(this, args));
    } finally {
      insideRead = outerInside;
      readingFor = outerFor;
    }
  };
  return state;
}

function onCreate(message: unknown): void {
  const request = (message as { request?: object }).request;
  const d = dispatching;
  if (!request || d === undefined || d.used) return;
  d.used = true;
  if (d.tags !== undefined) {
    Object.defineProperty(request, REQUEST, { value: { tags: d.tags, socket: undefined }, configurable: true, writable: true });
  }
}

function onSendHeaders(message: unknown): void {
  const { request, socket } = message as { request?: object; socket?: { emit?: unknown } };
  if (!request || !socket || typeof socket.emit !== 'function') return;
  const r = request as Tracked<RequestState>;
  let state = r[REQUEST];
  if (state === undefined) {
    state = { tags: undefined, socket: undefined };
    Object.defineProperty(request, REQUEST, { value: state, configurable: true, writable: true });
  }
  state.socket = socket;
  readAsItsRequest(socket).inFlight.add(request);
  if (insideRead && readingFor !== request) {
    // Written from inside another request's read: the rest of it is this request's.
    readingFor = request;
    switchTo(state.tags);
  }
}

function onEnded(message: unknown): void {
  const request = (message as { request?: object }).request;
  if (!request) return;
  const socket = (request as Tracked<RequestState>)[REQUEST]?.socket;
  if (socket) (socket as Tracked<SocketState>)[SOCKET]?.inFlight.delete(request);
  if (insideRead && request === readingFor) {
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
