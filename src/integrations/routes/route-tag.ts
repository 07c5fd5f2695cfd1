/**
 * `withRouteTag()` for the explicit integrations whose router matches after
 * the reqprof middleware (Express, Koa): the request's tags get a late-bound
 * `route` (see `LateRouteTags`), settled when the response is done, so the
 * CPU of body parsing and middleware lands under the route too.
 */
import { runWithTags } from '../../context.js';
import { LateRouteTags, UNMATCHED_ROUTE } from '../../routes/late-route.js';
import { TagSet } from '../../tags.js';
import type { RequestRecord } from '../pipeline.js';

const NO_TAGS = new TagSet([]);

/** One request's late route, for an integration given `withRouteTag()`. */
export class RequestRoute {
  #request: LateRouteTags | undefined;

  /** Runs `next` with the record's tags (as the stage just set them) following the request's route. */
  enter<R>(record: RequestRecord, next: () => R): R {
    const tags = record.tags ?? NO_TAGS;
    const late = this.#request === undefined ? (this.#request = new LateRouteTags(tags)) : new LateRouteTags(tags, this.#request);
    if (record.transportTags === record.tags) record.transportTags = late;
    record.tags = late;
    return runWithTags(late, next);
  }

  /** The response is done: the route the router matched (or the unmatched value); the record ends with the final tags. */
  settle(record: RequestRecord, route: string | undefined): void {
    if (this.#request === undefined) return;
    this.#request.settle(route ?? UNMATCHED_ROUTE);
    if (record.tags instanceof LateRouteTags) record.tags = record.tags.resolved;
  }
}
