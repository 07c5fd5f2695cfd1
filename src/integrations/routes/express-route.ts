import type { IncomingMessage } from 'node:http';

/** The parts of Express's request that route templates are read from (Express 4 and 5, NestJS on Express). */
export interface ExpressRoutedRequest extends IncomingMessage {
  originalUrl?: string;
  /** Where the matched route's router is mounted (`/api`), set by Express while routing. */
  baseUrl?: string;
  /** The matched route, set by Express when one handled the request. */
  route?: { path?: unknown };
}

/**
 * Whether Express (or a framework on it) handled `req`: its router sets
 * `originalUrl` on every request it sees and, unlike `baseUrl`, leaves it set
 * after the last route passed (a 404).
 */
export function handledByExpress(req: IncomingMessage): boolean {
  return typeof (req as ExpressRoutedRequest).originalUrl === 'string';
}

/**
 * The template of the route that handled `req` (`/api/users/:id`: the mount
 * path of the route's router plus the route's path), read once the response
 * is done, when Express has matched it. Undefined when no route matched (a
 * 404, a static file, a middleware that answered).
 */
export function expressRoute(req: ExpressRoutedRequest): string | undefined {
  const path = req.route?.path;
  if (path === undefined || path === null) return undefined;
  const route = String(path);
  // A router that passed an error (or the request) on has restored baseUrl: take the mount path from the URL.
  const base = req.baseUrl || (typeof path === 'string' ? mountPath(req.originalUrl ?? req.url ?? '', route) : '');
  return base + route;
}

/** The part of the URL path before the segments the route's path matched (`/api/fail` and `/fail` → `/api`). */
function mountPath(url: string, route: string): string {
  if (/[*(?]/.test(route)) return '';
  const q = url.indexOf('?');
  const segments = (q === -1 ? url : url.slice(0, q)).split('/').filter((x) => x !== '');
  const n = route.split('/').filter((x) => x !== '').length;
  return segments.length > n ? '/' + segments.slice(0, segments.length - n).join('/') : '';
}
