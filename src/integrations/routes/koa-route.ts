import type { IncomingMessage } from 'node:http';

/** The parts of a Koa context that route templates are read from. */
export interface KoaRoutedContext {
  req: IncomingMessage;
  /** The template @koa/router (and koa-router) matched, e.g. `/users/:id`. */
  _matchedRoute?: unknown;
}

/** The Koa context of each request, recorded by the patched `createContext` (see `instrumentKoa`). */
const contexts = new WeakMap<IncomingMessage, KoaRoutedContext>();
const kInstrumented = Symbol.for('reqprof.koa.instrumented');

/** The template the router matched for `ctx`, or undefined. */
export function koaRoute(ctx: KoaRoutedContext): string | undefined {
  const r = ctx._matchedRoute;
  return typeof r === 'string' && r !== '' ? r : undefined;
}

/** The Koa context that handled `req`, when Koa did. */
export function koaContextOf(req: IncomingMessage): KoaRoutedContext | undefined {
  return contexts.get(req);
}

type KoaApplicationClass = { prototype: { createContext?: (req: IncomingMessage, res: unknown) => KoaRoutedContext } };

/**
 * Makes Koa remember the context it creates for each request, so the route
 * its router matched can be read when the response is done. Patches the
 * class's prototype once (every app, whichever way the module was loaded).
 */
export function instrumentKoa(Application: unknown): void {
  const proto = (Application as KoaApplicationClass | undefined)?.prototype as
    (KoaApplicationClass['prototype'] & { [kInstrumented]?: true }) | undefined;
  if (proto === undefined || typeof proto.createContext !== 'function' || proto[kInstrumented]) return;
  const createContext = proto.createContext;
  proto.createContext = function createContextRemembered(this: unknown, req: IncomingMessage, res: unknown): KoaRoutedContext {
    const ctx = createContext.call(this, req, res);
    if (ctx !== null && typeof ctx === 'object') contexts.set(req, ctx);
    return ctx;
  };
  Object.defineProperty(proto, kInstrumented, { value: true });
}
