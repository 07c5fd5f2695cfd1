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
 * known, `settle(route)` makes `resolved` the request's final tag set (shared
 * with every other request of that route and tenant, memoized), and the
 * window sum reads `resolved` for every sample, so samples taken before
 * routing land under the final route. Its own `pairs` (what `lookup()` sees)
 * are the tags without the route.
 *
 * Tags the app adds inside the request (`tag()`) derive a late set of their
 * own that follows the same request's route (`derive`); a `route` the app
 * sets itself wins.
 *
 * A request still before its route when its window is summed is billed to
 * its tags without `route` (the window ends in the middle of it).
 */
export class LateRouteTags extends TagSet {
  readonly #request: LateRouteTags;
  #route: string | undefined;
  #resolvedFor: string | undefined;
  #resolved: TagSet;

  /** `base`: the tags without the route; `request`: the request's own late tags, when these derive from them. */
  constructor(readonly base: TagSet, request?: LateRouteTags) {
    super(base.pairs);
    this.#request = request ?? this;
    this.#resolved = base;
  }

  /** The route the request settled on, once known. */
  get route(): string | undefined {
    return this.#request.#route;
  }

  /** The tag set the window sum reads for samples taken under these tags. */
  get resolved(): TagSet {
    const route = this.#request.#route;
    if (route === undefined || this.base.get(ROUTE_TAG) !== undefined) return this.base;
    if (this.#resolvedFor !== route) {
      this.#resolved = deriveTags(this.base, [ROUTE_TAG, route]);
      this.#resolvedFor = route;
    }
    return this.#resolved;
  }

  /** The route is known: the request's samples, earlier ones included, go to its tags plus `route`. Returns that tag set. */
  settle(route: string): TagSet {
    this.#request.#route = route;
    return this.resolved;
  }

  /** These tags with `input` added (later wins), still following the request's route. */
  derive(input: unknown): LateRouteTags {
    return new LateRouteTags(deriveTags(this.base, input), this.#request);
  }
}

/** The tag set a sample recorded under `tags` stands for at window sum: a late route is read now. */
export function resolveLate(tags: TagSet): TagSet {
  if (tags instanceof LateRouteTags) return tags.resolved;
  // Another copy of reqprof (they share one tag context) may have made the late set.
  const late = (tags as Partial<Pick<LateRouteTags, 'resolved'>>).resolved;
  return late instanceof Object && typeof (late as TagSet).key === 'string' ? late : tags;
}
