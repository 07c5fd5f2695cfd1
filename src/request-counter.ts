import { sharedTagContext } from './tag-context-registry.js';
import type { TagSet } from './tags.js';

/**
 * Finished requests per tag set, counted by the integrations and taken by the
 * profiler with each window, so each `TagsProfile` can say how many requests
 * its CPU served (CPU per request by route or caller). Process-wide, like the
 * tag context (one profiler samples at a time); bounded like the windows' tag sets.
 *
 * Requests are counted only while a window is open: one finishing during a
 * pause, an `interval` gap or after `stop()` was not sampled either, and
 * counting it into the next window would make that window's CPU per request
 * read low.
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
 * `open`: whether a window is open (the profiler's sampler is on).
 */
const state = (sharedTagContext.requestCounting ??= { enabled: false, open: false, current: { byKey: new Map(), overflow: 0 } });

/** Integrations call this once: from then on windows report `requests` per tag set. */
export function enableRequestCounting(): void {
  state.enabled = true;
}

export function requestCountingEnabled(): boolean {
  return state.enabled;
}

/** Counts one finished request under the tag set it ended with (undefined: untagged), if a window is open. */
export function countFinishedRequest(tags: TagSet | undefined): void {
  if (!state.enabled || !state.open) return;
  const current = state.current;
  const key = tags === undefined ? '' : tags.key;
  const c = current.byKey.get(key);
  if (c !== undefined) c.requests++;
  else if (current.byKey.size < MAX_KEYS) current.byKey.set(key, { tags: tags === undefined ? [] : tags.pairs, requests: 1 });
  else current.overflow++;
}

/** The profiler calls this when a window starts sampling: counting starts from zero. */
export function openRequestCounting(): void {
  state.current = { byKey: new Map(), overflow: 0 };
  state.open = true;
}

/**
 * Hands over the counts of the window that just ended. With `nextWindowOpen`
 * (the next window started without a gap) counting goes on from zero; without,
 * it stops until the next `openRequestCounting()`.
 */
export function takeRequestCounts(nextWindowOpen: boolean): RequestCounts | undefined {
  const taken = state.current;
  state.current = { byKey: new Map(), overflow: 0 };
  state.open = nextWindowOpen;
  return state.enabled ? taken : undefined;
}

/** The profiler calls this when it stops: nothing is counted (or kept) until a window opens again. */
export function closeRequestCounting(): void {
  state.open = false;
  state.current = { byKey: new Map(), overflow: 0 };
}
