import { sharedTagContext } from './tag-context-registry.js';
import type { TagSet } from './tags.js';

/**
 * Finished requests per tag set, counted by the integrations and taken by the
 * profiler at each window end, so each `TagsProfile` can say how many requests
 * its CPU served (CPU per request by route or caller). Process-wide, like the
 * tag context; bounded like the windows' tag sets.
 */
export interface RequestCounts {
  /** Per tag key: the tags and how many requests finished with them. */
  byKey: Map<string, { tags: readonly string[]; requests: number }>;
  /** Requests whose tag set did not fit under the cap. */
  overflow: number;
}

const MAX_KEYS = 100_000;
/**
 * Shared, like the tag context, by every compatible copy of reqprof in the
 * thread: an integration of one copy counts for the profiler of another.
 */
const state = (sharedTagContext.requestCounting ??= { enabled: false, current: { byKey: new Map(), overflow: 0 } });

/** Integrations call this once: from then on windows report `requests` per tag set. */
export function enableRequestCounting(): void {
  state.enabled = true;
}

export function requestCountingEnabled(): boolean {
  return state.enabled;
}

/** Counts one finished request under the tag set it ended with (undefined: untagged). */
export function countFinishedRequest(tags: TagSet | undefined): void {
  if (!state.enabled) return;
  const current = state.current;
  const key = tags === undefined ? '' : tags.key;
  const c = current.byKey.get(key);
  if (c !== undefined) c.requests++;
  else if (current.byKey.size < MAX_KEYS) current.byKey.set(key, { tags: tags === undefined ? [] : tags.pairs, requests: 1 });
  else current.overflow++;
}

/** Hands over the counts since the last call and starts afresh. */
export function takeRequestCounts(): RequestCounts | undefined {
  if (!state.enabled) return undefined;
  const taken = state.current;
  state.current = { byKey: new Map(), overflow: 0 };
  return taken;
}
