/**
 * Node's built-in `fetch`. It runs Node's own copy of undici, which no module
 * hook reaches, and it dispatches through the global dispatcher that undici
 * keeps on `globalThis` under its registry symbols (`undici.globalDispatcher.1`
 * and `.2`: the slot the npm package's `setGlobalDispatcher` writes too). Its
 * Agent opens each connection from inside whichever request found none free,
 * synchronously within `dispatch`, and parses every later response on it as
 * that request.
 *
 * So `dispatch` of the global dispatcher is run outside any request: its
 * connections are opened untagged, while the caller's continuations
 * (`await fetch()`, `await res.json()`) run as the caller, as promises do,
 * and each response is parsed as its request (undici-replies.ts, told the
 * caller here). Besides connecting, `dispatch` only queues the request and
 * writes its head: that small CPU is untagged (a stream body is also read
 * outside the request).
 *
 * Node loads its undici on the first `fetch` (about 40 ms of CPU), so it is
 * not loaded here: `globalThis.fetch` is wrapped to bind the dispatcher in
 * place just before each call, which also catches a dispatcher installed
 * later (`setGlobalDispatcher`).
 */
import { onRestore } from './patch.js';
import { currentTags, outsideRequests } from './scope.js';
import { dispatchingFor } from './undici-replies.js';

/** undici's global dispatcher slots, newest API version last. */
const SLOTS = [Symbol.for('undici.globalDispatcher.1'), Symbol.for('undici.globalDispatcher.2')];
const BOUND = Symbol('reqprof.dispatchOutsideRequests');

type Dispatch = (this: unknown, options: unknown, handler: unknown) => unknown;
type Fetch = (this: unknown, input: unknown, init?: unknown) => Promise<unknown>;

/** Makes one dispatcher's `dispatch` run outside any request (an own property over the inherited method). */
function bindDispatcher(dispatcher: unknown): void {
  if (dispatcher === null || typeof dispatcher !== 'object') return;
  const d = dispatcher as Record<string | symbol, unknown>;
  if (d[BOUND] || typeof d.dispatch !== 'function') return;
  const original = d.dispatch as Dispatch;
  const hadOwn = Object.prototype.hasOwnProperty.call(d, 'dispatch');
  Object.defineProperty(d, 'dispatch', {
    configurable: true,
    writable: true,
    value: function dispatch(this: unknown, options: unknown, handler: unknown) {
      const caller = currentTags();
      return outsideRequests(() => dispatchingFor(caller, () => original.call(this, options, handler)));
    },
  });
  Object.defineProperty(d, BOUND, { value: true, configurable: true });
  onRestore(() => {
    seen.fill(undefined);
    delete d[BOUND];
    if (hadOwn) d.dispatch = original;
    else delete d.dispatch;
  });
}

/** The dispatcher last seen in each slot (checked on every fetch: most of the time it is the same one). */
const seen: unknown[] = SLOTS.map(() => undefined);

function bindGlobalDispatchers(): boolean {
  let found = false;
  for (let i = 0; i < SLOTS.length; i++) {
    const d = (globalThis as Record<symbol, unknown>)[SLOTS[i]!];
    if (d === undefined) continue;
    found = true;
    if (d !== seen[i]) { seen[i] = d; bindDispatcher(d); }
  }
  return found;
}

/** Loads Node's undici the way `fetch` itself would on its first call, so that its dispatcher exists before the first request. */
function loadNodeUndici(): void {
  try {
    void (globalThis as { Headers?: unknown }).Headers;
  } catch {
    // A replaced global: the first request then opens its connection as itself.
  }
}

/** Binds the built-in `fetch`'s dispatcher (see above). Returns false where there is no built-in `fetch`. */
export function bindBuiltinFetch(): boolean {
  const g = globalThis as { fetch?: Fetch };
  const original = g.fetch;
  if (typeof original !== 'function') return false;
  const descriptor = Object.getOwnPropertyDescriptor(globalThis, 'fetch');
  bindGlobalDispatchers();
  if (!descriptor || !descriptor.configurable || !('value' in descriptor)) return false;
  const fetch = function fetch(this: unknown, input: unknown, init?: unknown) {
    if (!bindGlobalDispatchers()) { loadNodeUndici(); bindGlobalDispatchers(); }
    return original.call(this, input, init);
  };
  Object.defineProperty(fetch, 'length', { value: original.length });
  Object.defineProperty(globalThis, 'fetch', { ...descriptor, value: fetch });
  onRestore(() => {
    if (g.fetch === fetch) Object.defineProperty(globalThis, 'fetch', descriptor);
  });
  return true;
}
