/**
 * Tags every request of every node:http(s) server in the process with
 * `method`, `route` (the template, once a framework matched it) and chosen
 * header tags, with no change to the app: what `reqprof/register` installs.
 *
 * - `http.server.request.start` (diagnostics channel, published right before
 *   a server emits 'request') gives the request, its response and its server.
 *   The server's `emit` is wrapped once, so the whole 'request' listener (the
 *   framework and the app) runs inside `runWithTags`. Entering the tags from
 *   the channel alone is not enough: on the CPED engine path that left Fastify
 *   keep-alive traffic billed to other routes.
 * - The request's body events are delivered with its tags (Node emits them
 *   from the connection's callbacks, outside any request).
 * - The route is late-bound (`LateRouteTags`): Fastify settles it in an
 *   `onRequest` hook (added to each instance through `fastify.initialization`),
 *   Express and Koa when the response is done, from what their routers left on
 *   the request; CPU spent before (body parsing, middleware) lands under it.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { runWithTags } from '../../context.js';
import type { Logger } from '../../logger.js';
import { RateLimitedLog, errorFields } from '../../rate-limited-log.js';
import { countFinishedRequest, enableRequestCounting } from '../../request-counter.js';
import { LateRouteTags, UNMATCHED_ROUTE } from '../../routes/late-route.js';
import { deriveTags } from '../../tag-cache.js';
import type { TagSet } from '../../tags.js';
import { hasBody } from '../http-request.js';
import { expressRoute, handledByExpress } from './express-route.js';
import { fastifyRoute, type FastifyRoutedRequest } from './fastify-route.js';
import { koaContextOf, koaRoute } from './koa-route.js';

/** A request header whose value becomes a tag (a request without the header gets no such tag). */
export interface HeaderTag {
  /** Header name, lower case. */
  readonly header: string;
  readonly tag: string;
}

export interface AutoTagOptions {
  readonly headerTags?: readonly HeaderTag[];
  readonly logger: Logger;
}

const REQUEST_START = 'http.server.request.start';
const FASTIFY_INIT = 'fastify.initialization';
const kTags = Symbol('reqprof.requestTags');
const kWrapped = Symbol('reqprof.serverWrapped');
const kIgnored = Symbol('reqprof.serverIgnored');

type TaggedRequest = IncomingMessage & { [kTags]?: LateRouteTags };
type WrappableServer = Server & { [kWrapped]?: true; [kIgnored]?: true };

/**
 * Requests to `server` are never tagged nor counted: for reqprof's own
 * endpoints (the debug server), whose CPU is not the app's traffic.
 */
export function ignoreServer(server: Server): void {
  (server as WrappableServer)[kIgnored] = true;
}

/** The late-bound tags of a request being served, if it is tagged. */
export function requestTagsOf(req: IncomingMessage): LateRouteTags | undefined {
  return (req as TaggedRequest)[kTags];
}

/** The running auto-tagger; `stop()` unsubscribes (servers already wrapped pass requests through). */
export interface AutoTagger {
  stop(): void;
}

let active: RequestAutoTagger | undefined;

/** Starts tagging every HTTP request of the process; one at a time (a second call throws). */
export function autoTagRequests(options: AutoTagOptions): AutoTagger {
  if (active !== undefined) throw new Error('reqprof: request auto-tagging is already running in this process');
  active = new RequestAutoTagger(options);
  return active;
}

class RequestAutoTagger implements AutoTagger {
  readonly #headers: readonly HeaderTag[];
  readonly #faults: RateLimitedLog;
  #stopped = false;

  constructor(o: AutoTagOptions) {
    this.#headers = o.headerTags ?? [];
    this.#faults = new RateLimitedLog(o.logger);
    enableRequestCounting();
    subscribe(REQUEST_START, this.#onRequestStart);
    subscribe(FASTIFY_INIT, this.#onFastify);
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    unsubscribe(REQUEST_START, this.#onRequestStart);
    unsubscribe(FASTIFY_INIT, this.#onFastify);
    if (active === this) active = undefined;
  }

  #onRequestStart = (message: unknown): void => {
    const { request: req, response: res, server } = message as { request: TaggedRequest; response: ServerResponse; server: WrappableServer };
    if (server?.[kIgnored] || req === undefined || res === undefined) return;
    try {
      if (!server[kWrapped]) wrapServerEmit(server);
      const tags = new LateRouteTags(this.#baseTags(req));
      req[kTags] = tags;
      if (hasBody(req)) deliverEventsWith(req, tags);
      res.once('close', () => this.#finish(req, tags));
    } catch (err) {
      this.#faults.warn('auto-tag', errorFields(err), 'reqprof/register: a request could not be tagged; it is served untagged');
    }
  };

  #baseTags(req: IncomingMessage): TagSet {
    const pairs: string[] = ['method', req.method ?? 'GET'];
    for (const h of this.#headers) {
      const v = req.headers[h.header];
      const value = Array.isArray(v) ? v[0] : v;
      if (value !== undefined && value !== '') pairs.push(h.tag, value);
    }
    return deriveTags(undefined, pairs);
  }

  /** The response is done (or the connection closed): settle the route if a framework left one, count the request. */
  #finish(req: IncomingMessage, tags: LateRouteTags): void {
    try {
      if (tags.route === undefined) {
        const route = routeAtFinish(req);
        if (route !== undefined) tags.settle(route);
      }
      countFinishedRequest(tags.resolved);
    } catch (err) {
      this.#faults.warn('route', errorFields(err), 'reqprof/register: the route of a request could not be read; it keeps its other tags');
    }
  }

  #onFastify = (message: unknown): void => {
    const fastify = (message as { fastify?: { addHook?: (name: string, fn: unknown) => unknown } }).fastify;
    if (typeof fastify?.addHook !== 'function') return;
    try {
      fastify.addHook('onRequest', settleFastifyRoute);
    } catch (err) {
      this.#faults.warn('fastify', errorFields(err), 'reqprof/register: could not add the route hook to a Fastify instance; its requests get no route tag');
    }
  };
}

/** Fastify matched the route before its hooks: settle it now, and run the rest of the request with the final tags. */
function settleFastifyRoute(request: FastifyRoutedRequest, _reply: unknown, done: () => void): void {
  const tags = requestTagsOf(request.raw as IncomingMessage);
  if (tags === undefined) {
    done();
    return;
  }
  runWithTags(tags.settle(fastifyRoute(request) ?? UNMATCHED_ROUTE), done);
}

/** The route Express or Koa matched, read when the response is done; `(unmatched)` when the framework matched none. */
function routeAtFinish(req: IncomingMessage): string | undefined {
  const ctx = koaContextOf(req);
  if (ctx !== undefined) return koaRoute(ctx) ?? UNMATCHED_ROUTE;
  if (handledByExpress(req)) return expressRoute(req) ?? UNMATCHED_ROUTE;
  // Plain node:http (or a framework reqprof does not know): no route rather than the raw path.
  return undefined;
}

/** Every 'request' (and 'checkContinue') the server emits runs, listener and all, with that request's tags. */
function wrapServerEmit(server: WrappableServer): void {
  const emit = server.emit as (this: Server, event: string | symbol, ...args: unknown[]) => boolean;
  server.emit = function emitWithRequestTags(this: Server, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'request' || event === 'checkContinue') {
      const tags = (args[0] as TaggedRequest | undefined)?.[kTags];
      if (tags !== undefined) return runWithTags(tags, () => emit.call(this, event, ...args));
    }
    return emit.call(this, event, ...args);
  } as Server['emit'];
  server[kWrapped] = true;
}

/** The request stream's events ('data', 'end'...) are delivered with its tags: body parsing is the request's CPU. */
function deliverEventsWith(req: IncomingMessage, tags: LateRouteTags): void {
  const emit = req.emit;
  req.emit = function emitWithRequestTags(this: IncomingMessage, ...args: Parameters<IncomingMessage['emit']>): boolean {
    // Once the route is known (Fastify, before the body), the shared final tag set: no per-request context.
    return runWithTags(tags.route === undefined ? tags : tags.resolved, () => emit.apply(this, args));
  } as IncomingMessage['emit'];
}
