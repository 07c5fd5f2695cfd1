/**
 * `node:http` and `node:https` keep-alive agents. An agent opens a socket
 * from inside the request that found no free one, and keeps it for later
 * requests: its handlers would run as that first request for the socket's
 * whole life. Node already runs each response's parser callbacks in its own
 * request's context (an async resource per response), so all that is needed
 * is to open the connection outside any request, and hand the new socket
 * back to the caller in the caller's context.
 */
import http from 'node:http';
import https from 'node:https';
import { wrapMethod } from './patch.js';
import { bindToCaller, outsideRequests } from './scope.js';

function bindAgent(proto: object): boolean {
  return wrapMethod(proto, 'createConnection', (original) => function createConnection(this: unknown, ...args: unknown[]) {
    const last = args.length - 1;
    if (last >= 0 && typeof args[last] === 'function') args[last] = bindToCaller(args[last]);
    return outsideRequests(() => original.apply(this, args));
  });
}

/** Patches `http.Agent` and `https.Agent` (core modules: nothing to wait for). */
export function bindHttpAgents(): boolean {
  const a = bindAgent(http.Agent.prototype);
  const b = bindAgent(https.Agent.prototype);
  return a || b;
}
