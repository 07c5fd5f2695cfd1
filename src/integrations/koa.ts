/**
 * reqprof/koa: per-request tags for Koa 3 (and 2).
 *
 *   app.use(reqprofMiddleware(withProfiler(p), withProfilerTransInfoTagging(fn),
 *     withProfilerMessageTagging(fn2), withBodyParser(bodyParser())))
 *
 * The middleware runs the transport stage, then the body parser(s) you give it
 * (billed to the transport tags), then the message stage on
 * `ctx.request.body`, then the downstream middleware with both stages' tags.
 * Where the body parser has to stay elsewhere, place `mw.message` after it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { finishWithResponse } from './http-exchange.js';
import { deliverBodyEventsWithTags, httpFacts, httpTransportInfo } from './http-request.js';
import { bodyParserOption, middlewareParts, onceNext, routeTagOption } from './middleware.js';
import type { ServerOption } from './options.js';
import type { RequestRecord, ServerPipeline } from './pipeline.js';

/** The parts of Koa's context that reqprof reads. */
export interface KoaContextLike {
  req: IncomingMessage;
  res: ServerResponse;
  originalUrl: string;
  request: { body?: unknown };
  body?: unknown;
  /** The route template @koa/router (and koa-router) matched, e.g. `/users/:id`. */
  _matchedRoute?: unknown;
}

export type KoaNext = () => Promise<unknown>;
/** Any Koa middleware, whatever context type it declares. */
export type KoaMiddleware = (ctx: never, next: KoaNext) => unknown;

/** The reqprof middleware, with `message` for apps that parse bodies elsewhere. */
export interface ReqprofKoaMiddleware {
  (ctx: KoaContextLike, next: KoaNext): Promise<unknown>;
  /** Runs only the message stage on `ctx.request.body`: place it after a body parser not given to `withBodyParser`. */
  readonly message: (ctx: KoaContextLike, next: KoaNext) => Promise<unknown>;
}

/**
 * Adds the `route` tag: the template @koa/router matched (`ctx._matchedRoute`;
 * `(unmatched)` when none did). The router matches after this middleware, so
 * the tag is late-bound: the CPU of body parsing and middleware before the
 * route is billed to it too. `lookup('route')` does not see it.
 */
export function withRouteTag(): ServerOption {
  return routeTagOption('koa');
}

/**
 * Body parsers (`bodyParser()` from @koa/bodyparser...) that the reqprof
 * middleware runs between the two stages, in order, so their CPU is billed to
 * the transport tags and the message stage sees `ctx.request.body`.
 */
export function withBodyParser(...parsers: KoaMiddleware[]): ServerOption {
  return bodyParserOption('koa', parsers, 'a Koa middleware (ctx, next)');
}

/**
 * Koa pipes a stream body to the response after the middleware chain has
 * returned, from its own context: the stream's reads (where its data is
 * produced) are made to run with the request's tags.
 */
function readResponseStreamWithTags(body: unknown, pipeline: ServerPipeline, record: RequestRecord): void {
  if (!(body instanceof Readable)) return;
  const read = body._read;
  body._read = function readWithRequestTags(this: Readable, size: number): void {
    pipeline.run(record, () => read.call(this, size));
  };
}

/** Creates the Koa middleware; `app.use` it before any body parser and router. */
export function reqprofMiddleware(...options: ServerOption[]): ReqprofKoaMiddleware {
  const { pipeline, parsers, routes } = middlewareParts<KoaMiddleware>(options, 'koa');
  const records = new WeakMap<object, RequestRecord>();

  async function message(ctx: KoaContextLike, next: KoaNext): Promise<unknown> {
    const record = records.get(ctx);
    if (record === undefined) return next();
    return pipeline.messageStage(record, ctx.request.body, routes.wrap(record, next));
  }

  async function runParsers(ctx: KoaContextLike, i: number, next: KoaNext): Promise<unknown> {
    if (i === parsers.length) return message(ctx, next);
    return (parsers[i] as (ctx: KoaContextLike, next: KoaNext) => unknown)(ctx, onceNext(
      () => runParsers(ctx, i + 1, next),
      () => Promise.reject(new Error('reqprof/koa: a body parser called next() more than once')),
    ));
  }

  const middleware = async function reqprofMiddleware(ctx: KoaContextLike, next: KoaNext): Promise<unknown> {
    if (!pipeline.active) return parsers.length === 0 ? next() : runParsers(ctx, 0, next);
    const record = pipeline.begin(httpTransportInfo('koa', ctx.req, ctx, { url: ctx.originalUrl }), httpFacts(ctx.req));
    records.set(ctx, record);
    deliverBodyEventsWithTags(ctx.req, pipeline, record);
    // The router sets the template while the chain runs; the response ends after it returns.
    const route = routes.begin(record);
    finishWithResponse(ctx.res, pipeline, record, () => {
      const template = typeof ctx._matchedRoute === 'string' ? ctx._matchedRoute : undefined;
      route?.settle(record, template);
      return template;
    });
    try {
      await pipeline.transportStage(record, routes.wrap(record, () => (parsers.length === 0 ? next() : runParsers(ctx, 0, next))));
    } catch (err) {
      // Koa answers it (500, or the error's status); the tracers see why.
      pipeline.failed(record, err);
      throw err;
    }
    if (pipeline.tagging) readResponseStreamWithTags(ctx.body, pipeline, record);
  };
  return Object.assign(middleware, { message });
}
