import { optionTypeError } from '../errors.js';
import { integrationOption, resolveHookOptions, type ServerOption, type HookOptions } from './options.js';
import { ServerPipeline, type RequestRecord } from './pipeline.js';
import { RequestRoute } from './routes/route-tag.js';

/**
 * What the Express and Koa middlewares share: the `withBodyParser` and
 * `withRouteTag` options, the late-bound route of each request, and the guard that keeps a body parser from running
 * the rest of the chain twice.
 */

const PARSERS = 'bodyParsers';
const ROUTE_TAG = 'routeTag';

/** `withBodyParser(...parsers)` of `integration`; `shape` names what a parser is, for the error. */
export function bodyParserOption(integration: 'express' | 'koa', parsers: readonly unknown[], shape: string): ServerOption {
  parsers.forEach((p, i) => {
    if (typeof p !== 'function') {
      throw optionTypeError(`reqprof: withBodyParser(...parsers): parser ${i + 1} must be ${shape}, got ${typeof p}`);
    }
  });
  return integrationOption(integration, 'withBodyParser', PARSERS, parsers);
}

/** The body parsers given with `withBodyParser`, in order. */
function bodyParsersOf<P>(o: HookOptions): readonly P[] {
  return (o.settings.get(PARSERS) as P[] | undefined) ?? [];
}

/** `withRouteTag()` of `integration`. */
export function routeTagOption(integration: 'express' | 'koa'): ServerOption {
  return integrationOption(integration, 'withRouteTag', ROUTE_TAG, true);
}

/** Each request's late-bound `route` tag, when the middleware was given `withRouteTag()`. */
export class MiddlewareRoutes {
  readonly #on: boolean;
  readonly #pipeline: ServerPipeline;
  readonly #routes = new WeakMap<RequestRecord, RequestRoute>();

  constructor(o: HookOptions, pipeline: ServerPipeline) {
    this.#on = o.settings.get(ROUTE_TAG) === true;
    this.#pipeline = pipeline;
  }

  /** The request's route, to settle when the response is done; undefined when the route is not a tag. */
  begin(record: RequestRecord): RequestRoute | undefined {
    if (!this.#on || !this.#pipeline.tagging) return undefined;
    const route = new RequestRoute();
    this.#routes.set(record, route);
    return route;
  }

  /** `next` with the stage's tags made late-bound, when the route is a tag. */
  wrap<R>(record: RequestRecord, next: () => R): () => R {
    return () => {
      const r = this.#routes.get(record);
      return r === undefined ? next() : r.enter(record, next);
    };
  }
}

/**
 * The `next` handed to one body parser: its first call goes on, a later call
 * gets `again()` instead, so a parser that calls `next` twice never runs the
 * message stage and the app twice for one request.
 */
export function onceNext<A extends unknown[], R>(next: (...args: A) => R, again: () => R): (...args: A) => R {
  let called = false;
  return (...args: A): R => {
    if (called) return again();
    called = true;
    return next(...args);
  };
}

/** The pipeline, body parsers and routes of a `reqprofMiddleware(...options)` of `integration`. */
export function middlewareParts<P>(options: readonly ServerOption[], integration: 'express' | 'koa') {
  const o = resolveHookOptions(options, integration, 'reqprofMiddleware()');
  const pipeline = new ServerPipeline(o);
  return { pipeline, parsers: bodyParsersOf<P>(o), routes: new MiddlewareRoutes(o, pipeline) };
}
