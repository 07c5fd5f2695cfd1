import { mkdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { gzip, gzipSync } from 'node:zlib';
import type { Profile } from 'pprof-format';
import type { Processor, WindowInfo } from '../types.js';
import { OptionChecker } from '../util/check-option.js';
import { FilePattern } from './pprof/file-pattern.js';
import { listPatternFiles, listPatternFilesSync, prune, pruneSync, type RetentionLimits } from './pprof/retention.js';
import { writeFileAtomic, writeFileAtomicSync } from '../util/write-atomic.js';

const gzipAsync = promisify(gzip);

export interface PprofProcessorOptions {
  /** Directory the files go to; created when missing. */
  dir: string;
  /**
   * File-name pattern. Placeholders: `{seq}` (6-digit sequence, continuing after
   * the highest one already in `dir`), `{start}` (window start, UTC,
   * `20260122T112157.123Z`), `{startMs}` (window start, ms since the epoch),
   * `{pid}`. Must hold `{seq}`, `{start}` or `{startMs}`.
   * Default `reqprof-{start}-{seq}.pb.gz`.
   */
  fileName?: string;
  /** Keep at most this many files of the pattern in `dir`, deleting the oldest. Default 100; `Infinity` for no limit. */
  maxFiles?: number;
  /** Keep at most this many bytes of such files. Default 100 MiB; `Infinity` for no limit. */
  maxBytes?: number;
  /** Called with each written file's absolute path (for example to upload it). */
  onFile?: (file: string, window: WindowInfo) => void;
}

/** The processor, with where it writes. */
export type PprofProcessor = Processor & { readonly dir: string; readonly fileName: string };

export const DEFAULT_PPROF_FILE_NAME = 'reqprof-{start}-{seq}.pb.gz';

const check = new OptionChecker('pprofProcessor');

/**
 * A processor that writes each window's labelled CPU profile as a gzipped pprof
 * file (`go tool pprof`, speedscope, Pyroscope and Grafana read it): every sample
 * carries its request's tags as pprof labels, so `go tool pprof -tagfocus=route=/x`
 * shows where one tag set's CPU goes. Sample types: `sample/count`,
 * `wall/nanoseconds`, `cpu/nanoseconds`. Merged deliveries write one file per window.
 */
export function pprofProcessor(options: PprofProcessorOptions): PprofProcessor {
  const o = check.object(options, true);
  const dir = resolve(check.string('dir', o.dir));
  const pattern = new FilePattern(check.string('fileName', o.fileName, DEFAULT_PPROF_FILE_NAME));
  const limits: RetentionLimits = {
    maxFiles: check.integer('maxFiles', o.maxFiles, 100, 1, Number.MAX_SAFE_INTEGER, true),
    maxBytes: check.integer('maxBytes', o.maxBytes, 100 * 1024 * 1024, 1, Number.MAX_SAFE_INTEGER, true),
  };
  const onFile = check.fn<(file: string, window: WindowInfo) => void>('onFile', o.onFile);
  const pid = process.pid;
  let nextSeq: number | undefined;

  /** Continues the numbering of files left by an earlier run, so they are not overwritten. */
  const firstSeq = (seqs: Array<number | undefined>): number => seqs.reduce<number>((max, s) => (s !== undefined && s >= max ? s + 1 : max), 0);
  const nameFor = (startMs: number): string => pattern.format({ seq: nextSeq!++, startMs, pid });

  async function write(profiles: Profile[], window: WindowInfo): Promise<string[]> {
    await mkdir(dir, { recursive: true });
    nextSeq ??= firstSeq((await listPatternFiles(dir, pattern)).map((f) => f.seq));
    const names: string[] = [];
    for (const profile of profiles) {
      const startMs = windowStartMs(profile, window);
      const name = nameFor(startMs);
      // encodeAsync yields between sections, and gzip runs on the libuv pool: the event loop stays free.
      await writeFileAtomic(join(dir, name), await gzipAsync(await startingAt(profile, startMs).encodeAsync()));
      names.push(name);
    }
    // The newest file stays even when it alone is over maxBytes; the delivery's earlier ones (merged windows) obey the limits.
    await prune(dir, pattern, limits, new Set(names.slice(-1)));
    return names;
  }

  /** The window delivered while the process exits gets no later turn of the event loop. */
  function writeSync(profiles: Profile[], window: WindowInfo): string[] {
    mkdirSync(dir, { recursive: true });
    nextSeq ??= firstSeq(listPatternFilesSync(dir, pattern).map((f) => f.seq));
    const names: string[] = [];
    for (const profile of profiles) {
      const startMs = windowStartMs(profile, window);
      const name = nameFor(startMs);
      writeFileAtomicSync(join(dir, name), gzipSync(startingAt(profile, startMs).encode()));
      names.push(name);
    }
    pruneSync(dir, pattern, limits, new Set(names.slice(-1)));
    return names;
  }

  const processor = function pprofProcessor(_: unknown, window: WindowInfo): Promise<void> | void {
    const profiles = window.profiles ?? [];
    if (profiles.length === 0) return;
    const done = (names: string[]): void => {
      if (onFile) for (const n of names) onFile(join(dir, n), window);
    };
    if (window.reason === 'exit') return done(writeSync(profiles, window));
    return write(profiles, window).then(done);
  };
  return Object.defineProperties(processor, {
    needs: { value: Object.freeze({ profile: true }), enumerable: true },
    dir: { value: dir, enumerable: true },
    fileName: { value: pattern.pattern, enumerable: true },
  }) as PprofProcessor;
}

/**
 * When the profile's window started, in ms: the sampler stamps each window's
 * profile with its start (src/engine/sampler.ts), so each of a merged
 * delivery's profiles carries its own. A profile without a stamp started with
 * the delivery's (first) window.
 */
function windowStartMs(p: Profile, window: WindowInfo): number {
  const t = p.timeNanos;
  // Epoch ns are past 2^53: divide in bigint (a float division can land a ms short; round a number).
  const start = typeof t === 'bigint' ? Number(t / 1_000_000n) : Math.round(Number(t) / 1e6);
  return Number.isFinite(start) && start > 0 ? start : window.start;
}

/**
 * The profile with `timeNanos` set to the window start, for the file only: a view
 * whose prototype is the shared profile (processors must not change it), so no
 * sample, location or string is copied.
 */
function startingAt(p: Profile, startMs: number): Profile {
  return Object.create(p, { timeNanos: { value: BigInt(startMs) * 1_000_000n, enumerable: true } }) as Profile;
}
