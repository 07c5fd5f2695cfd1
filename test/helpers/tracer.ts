/**
 * What the tracer tests share: a tracer that keeps what it is shown, and
 * readers of a prom-client registry's exposition text (what Prometheus
 * scrapes).
 */
import type { Registry } from 'prom-client';
import type { RPCInfo, Tracer } from '../../src/index.js';

/** What a tracer saw of one call: a snapshot at start, and the record at finish. */
export interface Seen {
  atStart: { method: string; path: string; endTime: bigint | undefined; tags: string | undefined };
  info: RPCInfo;
  finishes: number;
}

/** Keeps every call it sees; `waitFor` resolves once `n` calls have finished. */
export class RecordingTracer implements Tracer {
  readonly calls = new Map<RPCInfo, Seen>();
  readonly events: string[] = [];
  readonly #waiters: Array<{ n: number; resolve: () => void }> = [];
  readonly #starts: Array<{ match: (i: RPCInfo) => boolean; resolve: (i: RPCInfo) => void }> = [];

  constructor(readonly name = 'rec') {}

  start(info: RPCInfo): void {
    this.events.push(`${this.name}.start`);
    this.calls.set(info, { atStart: { method: info.method, path: info.path, endTime: info.endTime, tags: info.tags?.key }, info, finishes: 0 });
    for (const s of this.#starts.splice(0)) {
      if (s.match(info)) s.resolve(info);
      else this.#starts.push(s);
    }
  }

  finish(info: RPCInfo): void {
    this.events.push(`${this.name}.finish`);
    const seen = this.calls.get(info);
    if (seen === undefined) throw new Error(`finish without start: ${info.method}`);
    seen.finishes++;
    const done = this.finished().length;
    for (const w of this.#waiters.splice(0)) {
      if (done >= w.n) w.resolve();
      else this.#waiters.push(w);
    }
  }

  finished(): RPCInfo[] {
    return [...this.calls.values()].filter((s) => s.finishes > 0).map((s) => s.info);
  }

  /** Resolves when `n` calls have finished (or rejects after `ms`). */
  waitFor(n: number, ms = 10_000): Promise<void> {
    if (this.finished().length >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${this.finished().length} of ${n} calls finished: ${this.finished().map((i) => i.path).join(', ')}`)), ms);
      this.#waiters.push({ n, resolve: () => { clearTimeout(timer); resolve(); } });
    });
  }

  /** Resolves with the first call (from now on) that `match` accepts, at its start. */
  started(match: (i: RPCInfo) => boolean): Promise<RPCInfo> {
    return new Promise((resolve) => this.#starts.push({ match, resolve }));
  }

  /** The one finished call matching `match` (throws unless exactly one). */
  one(match: (i: RPCInfo) => boolean): RPCInfo {
    const all = this.finished().filter(match);
    if (all.length !== 1) throw new Error(`expected one call, found ${all.length}`);
    return all[0]!;
  }
}

/**
 * One exposition line in the form Go's client_golang writes it: label pairs
 * sorted by name, `le` last (prom-client writes `le` first; Prometheus reads
 * both alike), so expected lines can be copied from go-grpc-prometheus's docs.
 */
export function canonicalLine(line: string): string {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
  if (m === null) return line;
  const pairs = [...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((p) => [p[1]!, p[2]!] as const);
  pairs.sort((x, y) => (x[0] === 'le' ? 1 : y[0] === 'le' ? -1 : x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  return `${m[1]}${pairs.length ? `{${pairs.map(([k, v]) => `${k}="${v}"`).join(',')}}` : ''} ${m[3]}`;
}

/** The exposition's sample lines of `name` (its `_bucket`/`_sum`/`_count` lines for a histogram), canonical and sorted. */
export async function exposition(registry: Registry, name: string): Promise<string[]> {
  const text = await registry.metrics();
  return text.split('\n').filter((l) => l.startsWith(name + '{') || l.startsWith(name + ' ')).map(canonicalLine).sort();
}

/** One sample's value, by its labels written as a canonical line has them (`a="x",b="y",le="5"`). */
export async function sampleValue(registry: Registry, name: string, labels: string): Promise<number | undefined> {
  const line = (await exposition(registry, name)).find((l) => l.startsWith(`${name}{${labels}} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}
