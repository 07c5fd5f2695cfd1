import { readdirSync, statSync, unlinkSync } from 'node:fs';
import { readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { FilePattern } from './file-pattern.js';

/** A file of the pattern found in the directory. */
export interface PatternFile {
  name: string;
  size: number;
  mtimeMs: number;
  seq: number | undefined;
}

export interface RetentionLimits {
  maxFiles: number;
  maxBytes: number;
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ENOENT';
}

/** Oldest first: by modification time, then sequence number, then name. */
function byAge(a: PatternFile, b: PatternFile): number {
  return a.mtimeMs - b.mtimeMs || (a.seq ?? 0) - (b.seq ?? 0) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/** The pattern's files in `dir`, oldest first; files deleted meanwhile (another process pruning) are skipped. */
export async function listPatternFiles(dir: string, pattern: FilePattern): Promise<PatternFile[]> {
  const out: PatternFile[] = [];
  for (const name of await readdir(dir)) {
    const m = pattern.match(name);
    if (m === undefined) continue;
    try {
      const s = await stat(join(dir, name));
      if (s.isFile()) out.push({ name, size: s.size, mtimeMs: s.mtimeMs, seq: m.seq });
    } catch (err) {
      if (!isMissing(err)) throw err;
    }
  }
  return out.sort(byAge);
}

export function listPatternFilesSync(dir: string, pattern: FilePattern): PatternFile[] {
  const out: PatternFile[] = [];
  for (const name of readdirSync(dir)) {
    const m = pattern.match(name);
    if (m === undefined) continue;
    try {
      const s = statSync(join(dir, name));
      if (s.isFile()) out.push({ name, size: s.size, mtimeMs: s.mtimeMs, seq: m.seq });
    } catch (err) {
      if (!isMissing(err)) throw err;
    }
  }
  return out.sort(byAge);
}

/**
 * Which files to delete, oldest first, so that at most `maxFiles` files and
 * `maxBytes` bytes remain; the files in `keep` (just written) always stay, even
 * when one alone is over `maxBytes`.
 */
export function filesToDelete(files: PatternFile[], limits: RetentionLimits, keep: ReadonlySet<string>): string[] {
  let count = files.length;
  let bytes = 0;
  for (const f of files) bytes += f.size;
  const doomed: string[] = [];
  for (const f of files) {
    if (count <= limits.maxFiles && bytes <= limits.maxBytes) break;
    if (keep.has(f.name)) continue;
    doomed.push(f.name);
    count--;
    bytes -= f.size;
  }
  return doomed;
}

export async function prune(dir: string, pattern: FilePattern, limits: RetentionLimits, keep: ReadonlySet<string>): Promise<void> {
  for (const name of filesToDelete(await listPatternFiles(dir, pattern), limits, keep)) {
    await unlink(join(dir, name)).catch((err) => {
      if (!isMissing(err)) throw err;
    });
  }
}

export function pruneSync(dir: string, pattern: FilePattern, limits: RetentionLimits, keep: ReadonlySet<string>): void {
  for (const name of filesToDelete(listPatternFilesSync(dir, pattern), limits, keep)) {
    try {
      unlinkSync(join(dir, name));
    } catch (err) {
      if (!isMissing(err)) throw err;
    }
  }
}
