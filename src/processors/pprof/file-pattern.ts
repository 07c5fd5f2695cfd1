import { optionRangeError } from '../../errors.js';

/** What a file name can be built from. */
export interface FileNameParts {
  seq: number;
  /** Window (profile) start, ms since the epoch. */
  startMs: number;
  pid: number;
}

const TOKENS: Record<string, { format: (p: FileNameParts) => string; match: string }> = {
  // Zero-padded so that names sort in writing order.
  seq: { format: (p) => String(p.seq).padStart(6, '0'), match: '(?<seq>\\d+)' },
  start: { format: (p) => compactUtc(p.startMs), match: '\\d{8}T\\d{6}\\.\\d{3}Z' },
  startMs: { format: (p) => String(p.startMs), match: '\\d+' },
  pid: { format: (p) => String(p.pid), match: '\\d+' },
};

/** A token that tells two windows' files apart (else each window overwrites the last). */
const DISTINGUISHING = ['seq', 'start', 'startMs'];

/** `20260122T112157.123Z`: sortable, and free of `:` (not allowed in Windows file names). */
function compactUtc(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '');
}

/**
 * A file-name pattern such as `reqprof-{start}-{seq}.pb.gz`: builds names, and
 * recognises the files it built (retention deletes only those).
 */
export class FilePattern {
  readonly #parts: Array<string | { token: string }> = [];
  readonly #regex: RegExp;

  constructor(readonly pattern: string, optionName = 'fileName') {
    if (/[/\\]/.test(pattern) || pattern === '.' || pattern === '..') {
      throw optionRangeError(`reqprof: pprofProcessor option "${optionName}" must be a file name without a directory (put the directory in "dir"), got ${JSON.stringify(pattern)}`);
    }
    let regex = '^';
    const re = /\{([^{}]*)\}/g;
    let last = 0;
    let distinguishing = false;
    for (let m = re.exec(pattern); m !== null; m = re.exec(pattern)) {
      const token = m[1]!;
      const t = TOKENS[token];
      if (t === undefined) {
        throw optionRangeError(`reqprof: pprofProcessor option "${optionName}" has an unknown placeholder {${token}}; the placeholders are ${Object.keys(TOKENS).map((k) => `{${k}}`).join(', ')}`);
      }
      if (token === 'seq' && this.#parts.some((p) => typeof p !== 'string' && p.token === 'seq')) {
        throw optionRangeError(`reqprof: pprofProcessor option "${optionName}" may hold {seq} only once, got ${JSON.stringify(pattern)}`);
      }
      const literal = pattern.slice(last, m.index);
      if (literal) this.#parts.push(literal);
      this.#parts.push({ token });
      regex += escapeRegex(literal) + t.match;
      distinguishing ||= DISTINGUISHING.includes(token);
      last = m.index + m[0].length;
    }
    const tail = pattern.slice(last);
    if (tail) this.#parts.push(tail);
    regex += escapeRegex(tail) + '$';
    if (!distinguishing) {
      throw optionRangeError(`reqprof: pprofProcessor option "${optionName}" must contain {seq}, {start} or {startMs} so that each window gets its own file, got ${JSON.stringify(pattern)}`);
    }
    this.#regex = new RegExp(regex);
  }

  format(p: FileNameParts): string {
    let out = '';
    for (const part of this.#parts) out += typeof part === 'string' ? part : TOKENS[part.token]!.format(p);
    return out;
  }

  /** Whether `name` is one of this pattern's files, and its sequence number if the pattern has one. */
  match(name: string): { seq: number | undefined } | undefined {
    const m = this.#regex.exec(name);
    if (m === null) return undefined;
    const seq = m.groups?.seq;
    return { seq: seq === undefined ? undefined : Number(seq) };
  }
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
