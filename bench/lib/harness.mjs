// Shared plumbing for the benchmarks: which Node binaries to use, child
// processes driven over IPC, interleaved rounds, small statistics and
// markdown tables. Every benchmark variant runs in its own child process, so
// one variant's JIT state, heap or native sampler never leaks into another.
import { execFileSync, fork } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));

// ---------------------------------------------------------------- Node binaries

function versionOf(bin) {
  return execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
}

function node24Path() {
  if (process.env.BENCH_NODE24) return process.env.BENCH_NODE24;
  const cache = process.env.XDG_CACHE_HOME ?? join(os.homedir(), '.cache');
  const bin = join(cache, 'reqprof-ci', 'node-24', 'bin', 'node');
  if (existsSync(bin)) return bin;
  // Fresh machine or CI: the repository's own script fetches Node 24 once.
  const dir = execFileSync('bash', [join(REPO, 'scripts', 'fetch-node24.sh')], { encoding: 'utf8' }).trim();
  return join(dir, 'bin', 'node');
}

let nodesCache;
/**
 * The two runtimes the benchmarks compare: Node 20 (async_hooks path) is the
 * node running the benchmark unless BENCH_NODE20 says otherwise; Node 24 (CPED
 * path) is BENCH_NODE24 or the copy scripts/fetch-node24.sh keeps.
 */
export function nodes() {
  if (nodesCache) return nodesCache;
  const n20 = process.env.BENCH_NODE20 ?? process.execPath;
  const n24 = node24Path();
  nodesCache = {
    20: { bin: n20, version: versionOf(n20) },
    24: { bin: n24, version: versionOf(n24) },
  };
  for (const [want, n] of Object.entries(nodesCache)) {
    if (!n.version.startsWith(`v${want}.`)) {
      console.warn(`warning: the Node ${want} binary ${n.bin} is ${n.version} (set BENCH_NODE${want})`);
    }
  }
  return nodesCache;
}

// ---------------------------------------------------------------- child processes

/**
 * A benchmark child process with a tiny RPC over the IPC channel: the parent
 * `call`s a command, the child (see `serve`) answers. The child's first
 * message is `{ type: 'ready', ... }`, available as `child.ready`.
 */
export class Child {
  #proc;
  #pending = new Map();
  #nextId = 1;
  #exited;
  ready;

  constructor(script, { node = process.execPath, args = [], env = {}, execArgv = [], name = script } = {}) {
    this.name = name;
    this.#proc = fork(script, args, {
      execPath: node,
      execArgv,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      cwd: REPO,
    });
    let readyResolve;
    let readyReject;
    this.ready = new Promise((res, rej) => { readyResolve = res; readyReject = rej; });
    this.ready.catch(() => {});
    this.#exited = new Promise((resolve) => {
      this.#proc.on('exit', (code, signal) => {
        const err = new Error(`${this.name} exited (code ${code}, signal ${signal})`);
        readyReject(err);
        for (const p of this.#pending.values()) p.reject(err);
        this.#pending.clear();
        resolve({ code, signal });
      });
    });
    // A child that died is reported by the exit handler; a send racing it must not crash the orchestrator.
    this.#proc.on('error', () => {});
    this.#proc.on('message', (m) => {
      if (m?.type === 'ready') readyResolve(m);
      else if (m?.type === 'reply') {
        const p = this.#pending.get(m.id);
        if (!p) return;
        this.#pending.delete(m.id);
        if (m.error) p.reject(new Error(`${this.name}: ${m.error}`));
        else p.resolve(m.result);
      } else if (m?.type === 'event') {
        this.onEvent?.(m.event);
      }
    });
  }

  get pid() {
    return this.#proc.pid;
  }

  call(cmd, arg = {}, timeoutMs = 300_000) {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${this.name}: "${cmd}" timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (v) => { clearTimeout(timer); resolve(v); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      try {
        this.#proc.send({ type: 'call', id, cmd, arg });
      } catch (err) {
        this.#pending.get(id)?.reject(err);
        this.#pending.delete(id);
      }
    });
  }

  /** Asks the child to exit; kills this child (by its own pid) if it does not within `graceMs`. */
  async close(graceMs = 10_000) {
    if (this.#proc.exitCode === null && this.#proc.signalCode === null) {
      try { this.#proc.send({ type: 'call', id: 0, cmd: 'exit', arg: {} }); } catch { /* already gone */ }
      const t = setTimeout(() => this.#proc.kill('SIGKILL'), graceMs);
      await this.#exited;
      clearTimeout(t);
    }
    return this.#exited;
  }
}

/**
 * Child side of `Child`: answers the parent's calls with `handlers[cmd](arg)`.
 * `exit` is built in (runs `handlers.exit` first when given).
 */
export function serve(handlers) {
  process.on('message', async (m) => {
    if (m?.type !== 'call') return;
    if (m.cmd === 'exit') {
      try { await handlers.exit?.(); } catch { /* exiting anyway */ }
      process.disconnect?.();
      process.exit(0);
    }
    try {
      const h = handlers[m.cmd];
      if (!h) throw new Error(`unknown command ${m.cmd}`);
      const result = await h(m.arg);
      process.send({ type: 'reply', id: m.id, result });
    } catch (err) {
      process.send({ type: 'reply', id: m.id, error: err?.stack ?? String(err) });
    }
  });
  // An orphaned child must not linger if the orchestrator dies.
  process.on('disconnect', () => process.exit(0));
}

export function sendReady(info = {}) {
  process.send({ type: 'ready', ...info });
}

export function sendEvent(event) {
  process.send({ type: 'event', event });
}

/** Starts the load-generator child (always on the orchestrator's own Node). */
export function startLoad() {
  return new Child(join(dirname(fileURLToPath(import.meta.url)), 'load.mjs'), { name: 'load' });
}

// ---------------------------------------------------------------- rounds

/**
 * Runs every variant once per round, rotating the order each round so no
 * variant always runs first (warm caches) or last (a busier machine).
 * `runOne(variant, round)` returns a result object; returns results[variantIndex][round].
 */
export async function interleave(variants, rounds, runOne, log = console.log) {
  const results = variants.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < variants.length; k++) {
      const i = (k + r) % variants.length;
      const t0 = performance.now();
      const res = await runOne(variants[i], r);
      results[i][r] = res;
      log(`  round ${r + 1}/${rounds}  ${variants[i].label.padEnd(38)} ${((performance.now() - t0) / 1000).toFixed(1)} s  ${res?.summary ?? ''}`);
    }
  }
  return results;
}

// ---------------------------------------------------------------- statistics

export function sum(xs) {
  let s = 0;
  for (const x of xs) s += x;
  return s;
}

export function mean(xs) {
  return xs.length ? sum(xs) / xs.length : NaN;
}

/** Quantile with linear interpolation between order statistics (q in [0, 1]). */
export function quantile(xs, q) {
  if (xs.length === 0) return NaN;
  const s = Float64Array.from(xs).sort();
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

export const median = (xs) => quantile(xs, 0.5);

/** Half-width of the 95% interval of a proportion p estimated from n samples. */
export function bound95(p, n) {
  return n > 0 ? 1.96 * Math.sqrt((p * (1 - p)) / n) : Infinity;
}

// ---------------------------------------------------------------- output

/** A markdown table with padded columns (readable raw, renders in RESULTS.md). */
export function table(headers, rows) {
  const cells = [headers, ...rows].map((r) => r.map((c) => String(c ?? '')));
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i].length), 3));
  const line = (r) => `| ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  const sep = `|${widths.map((w, i) => (i === 0 ? ':' + '-'.repeat(w + 1) : '-'.repeat(w + 1) + ':')).join('|')}|`;
  return [line(cells[0]), sep, ...cells.slice(1).map(line)].join('\n');
}

export const fmt = {
  ratio: (x) => (Number.isFinite(x) ? x.toFixed(3) : 'n/a'),
  pct: (x, d = 1) => (Number.isFinite(x) ? `${(x * 100).toFixed(d)}%` : 'n/a'),
  pp: (x, d = 2) => (Number.isFinite(x) ? `${(x * 100).toFixed(d)} pp` : 'n/a'),
  ms: (x, d = 1) => (Number.isFinite(x) ? `${x.toFixed(d)} ms` : 'n/a'),
  us: (x, d = 1) => (Number.isFinite(x) ? `${x.toFixed(d)} µs` : 'n/a'),
  mb: (bytes, d = 1) => (Number.isFinite(bytes) ? `${(bytes / 1048576).toFixed(d)} MB` : 'n/a'),
  num: (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a'),
};

/** Which reqprof was measured: the commit, uncommitted source changes, and when dist/ was built. */
function revision() {
  try {
    const git = (...a) => execFileSync('git', a, { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const head = git('rev-parse', '--short', 'HEAD');
    const dirty = git('status', '--porcelain', '--', 'src').split('\n').filter(Boolean).length;
    const built = statSync(join(REPO, 'dist', 'esm', 'index.js')).mtime.toISOString();
    return `commit ${head}${dirty ? ` + ${dirty} uncommitted file(s) in src/` : ''}, dist built ${built}`;
  } catch {
    return 'unknown (no git or no dist/)';
  }
}

function loadavg() {
  return os.loadavg().map((x) => x.toFixed(2)).join(' ');
}

/** The header every benchmark prints: what ran, where, when, and how busy the machine was. */
export function printHeader(title, settings) {
  const n = nodes();
  console.log(`# ${title}`);
  console.log(`date: ${new Date().toISOString()}`);
  console.log(`machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${fmt.mb(os.totalmem(), 0)} RAM, load average ${loadavg()} (1/5/15 min) at start`);
  console.log(`node: ${n[20].version} (${n[20].bin}), ${n[24].version} (${n[24].bin}); orchestrator and load generator on ${process.version}`);
  console.log(`reqprof: ${revision()} (benchmarks import the built package through its self-reference \`reqprof\`)`);
  for (const [k, v] of Object.entries(settings)) console.log(`${k}: ${v}`);
  console.log('');
}

export function printFooter(startedAt) {
  console.log(`\nload average ${loadavg()} at end; total ${((performance.now() - startedAt) / 1000).toFixed(0)} s`);
}

/** Integer from an environment variable, with a default. */
export function envInt(name, dflt) {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new RangeError(`${name} must be a positive number, got ${JSON.stringify(v)}`);
  return n;
}

/** Comma-separated filter from an environment variable (undefined: everything). */
export function envList(name) {
  const v = process.env[name];
  return v ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
}
