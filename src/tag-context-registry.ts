import { AsyncLocalStorage } from 'node:async_hooks';
import type { SamplerBridge, TagStore } from './context.js';
import type { RequestCounts } from './request-counter.js';
import { OVERFLOW_TAGS, TagSet } from './tags.js';
import { VERSION } from './version.js';

/**
 * The tag context every compatible copy of reqprof in this thread shares.
 * A process can hold two installed copies (a dependency that brings its own,
 * a linked checkout); each would otherwise have its own AsyncLocalStorage,
 * and requests tagged through one copy would be sampled untagged by the
 * other's profiler. So the first copy to load puts this object on
 * `globalThis` under a `Symbol.for` key (as @opentelemetry/api does with its
 * globals) and later copies of a compatible version use it.
 *
 * Its layout is fixed within a major version (0.x: within a minor): add
 * fields only, never change one.
 */
export interface SharedTagContext {
  /** The version of the copy that made it. */
  readonly version: string;
  /** The request tag context (its entry in each AsyncContextFrame is the CPED engine's key). */
  readonly storage: AsyncLocalStorage<TagStore>;
  /** Real tags of contexts past the CPED engine's per-window cap (see `FOLDED_TAG_SET`). */
  readonly folded: AsyncLocalStorage<TagSet>;
  /** The tag set standing for tag sets past the cap. */
  readonly foldedTagSet: TagSet;
  /** How the running engine, whichever copy started it, follows tag changes. */
  bridge: SamplerBridge | undefined;
  /** The engine that owns the thread's native sampler, whichever copy made it. */
  samplerOwner: object | undefined;
  /** Finished requests counted by the integrations of any copy (request-counter.ts); set on first use. */
  requestCounting?: { enabled: boolean; open: boolean; current: RequestCounts };
}

const KEY = Symbol.for('reqprof.tagContext');

/** `major.minor.patch[-pre]`, or undefined when `v` is not a version. */
function parse(v: string): { major: number; minor: number; pre: boolean } | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)(-[^+]*)?(\+.*)?$/.exec(v);
  return m === null ? undefined : { major: Number(m[1]), minor: Number(m[2]), pre: m[4] !== undefined };
}

/**
 * Whether copies of versions `a` and `b` can share one tag context: the same
 * major (below 1.0, the same minor, as semver's caret range), and the exact
 * same version when either is a pre-release.
 */
export function compatibleVersions(a: string, b: string): boolean {
  const x = parse(a);
  const y = parse(b);
  if (x === undefined || y === undefined) return false;
  if (x.pre || y.pre) return a === b;
  return x.major === y.major && (x.major > 0 || x.minor === y.minor);
}

/** A tag set of any compatible copy: its own class, or another copy's with the same shape. */
export function isTagSet(v: unknown): v is TagSet {
  if (v instanceof TagSet) return true;
  const t = v as TagSet | null;
  return t !== null && typeof t === 'object' && Array.isArray(t.pairs) && typeof t.get === 'function' && typeof t.toObject === 'function' && typeof t.key === 'string';
}

function isShared(x: unknown): x is SharedTagContext {
  const s = x as SharedTagContext | null;
  return s !== null && typeof s === 'object' && typeof s.version === 'string' &&
    s.storage instanceof AsyncLocalStorage && s.folded instanceof AsyncLocalStorage && isTagSet(s.foldedTagSet);
}

function create(): SharedTagContext {
  return { version: VERSION, storage: new AsyncLocalStorage(), folded: new AsyncLocalStorage(), foldedTagSet: new TagSet(OVERFLOW_TAGS), bridge: undefined, samplerOwner: undefined };
}

/** This copy's tag context: the shared one when compatible, else its own (said loudly). */
function register(): SharedTagContext {
  const g = globalThis as unknown as Record<symbol, unknown>;
  const existing = g[KEY];
  if (existing === undefined) {
    const own = create();
    Object.defineProperty(g, KEY, { value: own, configurable: true, enumerable: false, writable: false });
    return own;
  }
  if (isShared(existing) && compatibleVersions(existing.version, VERSION)) return existing;
  const theirs = isShared(existing) ? `reqprof ${existing.version}` : 'something that is not reqprof\'s tag context';
  process.emitWarning(
    `${theirs} is already loaded in this process, and this copy (reqprof ${VERSION}) is incompatible with it, so each keeps its own tag context: ` +
    'requests tagged through one copy are sampled untagged by the other copy\'s profiler, and both may try to run a sampler. ' +
    'Install one version of reqprof (npm ls reqprof shows which packages bring which), or versions of the same major.',
    { type: 'ReqprofWarning', code: 'REQPROF_W_INCOMPATIBLE_COPY' },
  );
  return create();
}

export const sharedTagContext: SharedTagContext = register();
