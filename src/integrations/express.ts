/**
 * reqprof/express: per-request tags for Express 5 and 4.
 *
 *   app.use(reqprofMiddleware(withProfiler(p), withProfilerTransInfoTagging(fn),
 *     withProfilerMessageTagging(fn2), withBodyParser(express.json())))
 *
 * The middleware runs the transport stage, then the body parser(s) you give it
 * (so parsing is billed to the transport tags), then the message stage on
 * `req.body`, then the rest of your app with both stages' tags. Where the body
 * parser has to stay elsewhere (per route), place `mw.message` after it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { finishWithResponse } from './http-exchange.js';
import { deliverBodyEventsWithTags, httpFacts, httpTransportInfo } from './http-request.js';
import { bodyParserOption, middlewareParts, onceNext, routeTagOption } from './middleware.js';
import type { ServerOption } from './options.js';
import { settle, type RequestRecord } from './pipeline.js';
import { expressRoute, type ExpressRoutedRequest } from './routes/express-route.js';

/** The parts of Express's request that reqprof reads (Express 4 and 5 alike). */
export interface ExpressRequestLike extends ExpressRoutedRequest {
  body?: unknown;
}

export type ExpressNext = (err?: unknown) => void;
/** Any Express (or Connect) middleware, whatever request type it declares. */
export type ExpressMiddleware = (req: never, res: never, next: ExpressNext) => unknown;

/** The reqprof middleware, with `message` for apps that parse bodies elsewhere. */
export interface ReqprofExpressMiddleware {
  (req: ExpressRequestLike, res: ServerResponse, next: ExpressNext): void;
  /** Runs only the message stage on `req.body`: place it after a body parser that is not given to `withBodyParser`. */
  readonly message: (req: ExpressRequestLike, res: ServerResponse, next: ExpressNext) => void;
}

/**
 * Adds the `route` tag: the template of the route that handled the request
 * (`/api/users/:id`, mount paths included; `(unmatched)` when none did).
 * Express matches it after this middleware, so the tag is late-bound: the
 * CPU of body parsing and middleware before the route is billed to it too.
 * `lookup('route')` does not see it (it is settled when the response is done).
 */
export function withRouteTag(): ServerOption {
  return routeTagOption('express');
}

/**
 * Body parsers (`express.json()`, `express.urlencoded()`...) that the reqprof
 * middleware runs between the two stages, in order, so their CPU is billed to
 * the transport tags and the message stage sees the parsed `req.body`.
 */
export function withBodyParser(...parsers: ExpressMiddleware[]): ServerOption {
  return bodyParserOption('express', parsers, 'an Express middleware (req, res, next)');
}

/** Creates the Express middleware; mount it before any body parser and route. */
export function reqprofMiddleware(...options: ServerOption[]): ReqprofExpressMiddleware {
  const { pipeline, parsers, routes } = middlewareParts<ExpressMiddleware>(options, 'express');
  const records = new WeakMap<IncomingMessage, RequestRecord>();

  const failed = (next: ExpressNext) => (err: unknown) => next(err);

  function message(req: ExpressRequestLike, _res: ServerResponse, next: ExpressNext): void {
    const record = records.get(req);
    if (record === undefined) {
      next();
      return;
    }
    settle(pipeline.messageStage(record, req.body, routes.wrap(record, () => next())), failed(next));
  }

  function runParsers(req: ExpressRequestLike, res: ServerResponse, i: number, next: ExpressNext): void {
    if (i === parsers.length) {
      message(req, res, next);
      return;
    }
    try {
      (parsers[i] as (req: ExpressRequestLike, res: ServerResponse, next: ExpressNext) => unknown)(req, res, onceNext((err?: unknown) => {
        if (err !== undefined && err !== null && err !== 'route' && err !== 'router') next(err);
        else runParsers(req, res, i + 1, next);
      }, () => pipeline.warn('parser-next-twice', new Error('a body parser called next() more than once'), 'reqprof/express: a body parser called next() more than once; the later call is ignored')));
    } catch (err) {
      next(err);
    }
  }

  const middleware = function reqprofMiddleware(req: ExpressRequestLike, res: ServerResponse, next: ExpressNext): void {
    if (!pipeline.active) {
      if (parsers.length === 0) next();
      else runParsers(req, res, 0, next);
      return;
    }
    const record = pipeline.begin(httpTransportInfo('express', req, req, { url: req.originalUrl }), httpFacts(req));
    records.set(req, record);
    deliverBodyEventsWithTags(req, pipeline, record);
    const route = routes.begin(record);
    finishWithResponse(res, pipeline, record, () => {
      const template = expressRoute(req);
      route?.settle(record, template);
      return template;
    });
    settle(pipeline.transportStage(record, routes.wrap(record, () => (parsers.length === 0 ? next() : runParsers(req, res, 0, next)))), failed(next));
  };
  return Object.assign(middleware, { message });
}
