/**
 * `undici` (the npm package, 6.x and 7.x): its `Client` (under every `Pool`
 * and `Agent`) connects from inside whichever request found it without a
 * socket, and keeps the socket for later requests; undici's parsing of every
 * later response would run as that first request. The connector a Client is
 * given is wrapped so that it connects outside any request, and each response
 * is then read as its own request (undici-replies.ts); the caller's
 * continuations (`await request()`, `await body.json()`, `await fetch()`) run
 * as the caller, as promises do. Clients made before `bindDrivers()` keep
 * their connector.
 *
 * Node's built-in `fetch` runs its own copy of undici, which no module hook
 * reaches: see builtin-fetch.ts.
 */
import { createRequire } from 'node:module';
import { onRestore, wrapMethod } from './patch.js';
import { outsideRequests } from './scope.js';
import { dispatchingHandler, inDispatch } from './undici-replies.js';

type Connector = (this: unknown, options: unknown, callback: unknown) => unknown;

const WRAPPED = Symbol('reqprof.connectorWrapped');

function outsideConnector(connector: Connector): Connector {
  if ((connector as unknown as Record<symbol, unknown>)[WRAPPED]) return connector;
  const wrapped = function connect(this: unknown, options: unknown, callback: unknown) {
    return outsideRequests(() => connector.call(this, options, callback));
  };
  Object.defineProperty(wrapped, WRAPPED, { value: true });
  return wrapped;
}

/** Patches `undici/lib/dispatcher/client.js`'s Client class (`filename`: where it was loaded from). */
export function bindUndiciClient(Client: unknown, filename: string): boolean {
  const proto = (Client as { prototype?: object } | undefined)?.prototype;
  if (!proto) return false;
  let kConnector: symbol | undefined;
  let kDispatch: symbol | undefined;
  try {
    ({ kConnector, kDispatch } = createRequire(filename)('../core/symbols.js') as { kConnector?: symbol; kDispatch?: symbol });
  } catch {
    return false;
  }
  // Where the Client creates a request (also for one a busy Pool queued): named as its caller's.
  if (typeof kDispatch === 'symbol') {
    wrapMethod(proto, kDispatch, (original) => function dispatch(this: unknown, opts: unknown, handler: unknown) {
      return dispatchingHandler(handler, () => original.call(this, opts, handler));
    });
  }
  if (typeof kConnector !== 'symbol' || Object.prototype.hasOwnProperty.call(proto, kConnector)) return false;
  const key = kConnector;
  // The constructor's `this[kConnector] = connect` meets this setter, which
  // stores the wrapped connector on the instance itself.
  Object.defineProperty(proto, key, {
    configurable: true,
    set(this: object, connector: unknown) {
      const value = typeof connector === 'function' ? outsideConnector(connector as Connector) : connector;
      Object.defineProperty(this, key, { value, writable: true, configurable: true, enumerable: true });
    },
  });
  onRestore(() => { delete (proto as Record<symbol, unknown>)[key]; });
  return true;
}

/**
 * Patches `undici/lib/dispatcher/dispatcher-base.js`: every `dispatch` notes
 * its caller with the handler it is given (a handler is made per call; an
 * options object may be reused by the application for many).
 */
export function bindUndiciDispatcherBase(DispatcherBase: unknown): boolean {
  const proto = (DispatcherBase as { prototype?: object } | undefined)?.prototype;
  if (!proto) return false;
  return wrapMethod(proto, 'dispatch', (original) => function dispatch(this: unknown, opts: unknown, handler: unknown) {
    return inDispatch(handler, () => original.call(this, opts, handler));
  });
}
