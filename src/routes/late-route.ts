import { deriveTags } from '../tag-cache.js';
import { TagSet } from '../tags.js';

/** The tag key that carries the route template. */
export const ROUTE_TAG = 'route';

/**
 * The one `route` value of requests a framework handled without matching a
 * route (404s, static files, a middleware that answered): never the raw path,
 * so the number of route values stays bounded whatever the traffic.
 */
export const UNMATCHED_ROUTE = '(unmatched)';

/**
 * A request's tags whose `route` is known only later: Express and Koa match
 * routes after body parsing and middleware, yet that CPU belongs to the route.
 *
 * The request runs with this object as its context from its first byte; the
 * sampler records it with each sample like any tag set. When the route is
 * known, `settle(route)` points it at the request's final tag set (shared
 * with every other request of that route and tenant), and the window sum
 * reads `resolved` for every sample, so samples taken before routing land
 * under the final route. One object per request; its own `pairs` (what
 * `lookup()` sees before routing) are the tags without the route.
 *
 * A request still before its route when its window is summed is billed to
 * its tags without `route` (the window ends in the middle of it).
 */
export class LateRouteTags extends TagSet {
  /** The tag set the window sum reads for samples taken under this request. */
  resolved: TagSet;
  /** The route it settled on, once known. */
  route: string | undefined;

  constructor(readonly base: TagSet) {
    super(base.pairs);
    this.resolved = base;
  }

  /** The route is known: the request's samples, earlier ones included, go to `base` + `route`. Returns that tag set. */
  settle(route: string): TagSet {
    if (this.route !== route) {
      this.route = route;
      this.resolved = deriveTags(this.base, [ROUTE_TAG, route]);
    }
    return this.resolved;
  }
}

/** The tag set a sample recorded under `tags` stands for at window sum: a late route is read now. */
export function resolveLate(tags: TagSet): TagSet {
  return tags instanceof LateRouteTags ? tags.resolved : tags;
}
