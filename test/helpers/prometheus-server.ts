/**
 * A real Prometheus server for tests: installed from Debian's `prometheus`
 * package when absent, started on a free loopback port with a temporary data
 * directory, queried over its HTTP API, and always stopped afterwards.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findSystemTool } from './system-tool.js';

/** The prometheus binary; `{ skip }` naming the install command when it is absent. */
export function ensurePrometheus(): { path: string } | { skip: string } {
  return findSystemTool('prometheus', 'prometheus');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface PromSample {
  metric: Record<string, string>;
  value: number;
}

export class PrometheusServer {
  readonly url: string;
  readonly #child: ChildProcess;
  readonly #dir: string;
  readonly #output: string[];
  #exited = false;
  readonly #onExit = () => this.#child.kill('SIGKILL');

  private constructor(url: string, child: ChildProcess, dir: string, output: string[]) {
    this.url = url;
    this.#child = child;
    this.#dir = dir;
    this.#output = output;
    child.once('exit', () => (this.#exited = true));
    // If the test process dies without cleanup, do not leave a server behind.
    process.once('exit', this.#onExit);
  }

  /** Starts prometheus scraping `targets` (host:port) every second under `job`, and waits until it is ready. */
  static async start(binary: string, job: string, targets: string[]): Promise<PrometheusServer> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const dir = mkdtempSync(join(tmpdir(), 'reqprof-prometheus-'));
      const config = join(dir, 'prometheus.yml');
      writeFileSync(config, [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 1s',
        '  evaluation_interval: 1s',
        'scrape_configs:',
        `  - job_name: ${JSON.stringify(job)}`,
        '    static_configs:',
        `      - targets: ${JSON.stringify(targets)}`,
        '',
      ].join('\n'));
      const port = await freePort();
      const output: string[] = [];
      const child = spawn(binary, [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ], { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout!.on('data', (d) => output.push(String(d)));
      child.stderr!.on('data', (d) => output.push(String(d)));
      const server = new PrometheusServer(`http://127.0.0.1:${port}`, child, dir, output);
      try {
        await server.#waitReady();
        return server;
      } catch (err) {
        lastError = err;
        await server.stop();
      }
    }
    throw lastError;
  }

  async #waitReady(): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (this.#exited) throw new Error(`prometheus exited while starting:\n${this.#output.join('')}`);
      try {
        const r = await fetch(`${this.url}/-/ready`);
        if (r.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`prometheus not ready after 30 s:\n${this.#output.join('')}`);
  }

  /** An instant query through the HTTP API (`/api/v1/query`), now or at `time` (epoch seconds); vector results only. */
  async query(promql: string, time?: number): Promise<PromSample[]> {
    const at = time === undefined ? '' : `&time=${time.toFixed(3)}`;
    const r = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(promql)}${at}`);
    const body = (await r.json()) as { status: string; error?: string; data?: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
    if (body.status !== 'success' || body.data?.resultType !== 'vector') {
      throw new Error(`query ${promql} failed: ${JSON.stringify(body).slice(0, 500)}`);
    }
    return body.data.result.map((s) => ({ metric: s.metric, value: Number(s.value[1]) }));
  }

  /** Polls `query` until `done` accepts its result, or throws after `timeoutMs`. */
  async waitFor(promql: string, done: (samples: PromSample[]) => boolean, timeoutMs = 30_000): Promise<PromSample[]> {
    const deadline = Date.now() + timeoutMs;
    let last: PromSample[] = [];
    while (Date.now() < deadline) {
      last = await this.query(promql);
      if (done(last)) return last;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`timed out waiting on ${promql}; last result ${JSON.stringify(last)}\nprometheus output:\n${this.#output.join('').slice(-3000)}`);
  }

  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and removes its data directory. Idempotent. */
  async stop(): Promise<void> {
    process.removeListener('exit', this.#onExit);
    if (!this.#exited) {
      const exited = new Promise<void>((r) => this.#child.once('exit', () => r()));
      this.#child.kill('SIGTERM');
      const timer = setTimeout(() => this.#child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/**
 * Builds the package in place (the examples import it by name). tsc still emits on
 * type errors, so a failing step is reported and the entries are checked instead.
 */
export function buildPackage(entries: string[]): void {
  for (const args of [['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], ['scripts/build-cjs.mjs']]) {
    const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) console.error(`build step ${args.join(' ')} exited ${r.status}:\n${r.stdout}${r.stderr}`);
  }
  for (const f of ['dist/esm/index.js', ...entries]) assert.ok(existsSync(f), `${f} was built`);
}

/** Starts an example server on a free loopback port with 1 s windows at 1 kHz; resolves with its origin. */
export async function startExampleServer(script: string): Promise<{ child: ChildProcess; origin: string; output: string[] }> {
  const output: string[] = [];
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', REQPROF_WINDOW_MS: '1000', REQPROF_SAMPLING_US: '1000', LOAD: '0', DURATION_MS: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr!.on('data', (d) => output.push(String(d)));
  const origin = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`example exited with ${code}:\n${output.join('')}`)));
    child.stdout!.on('data', (d) => {
      output.push(String(d));
      const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(output.join(''));
      if (m) resolve(m[1]!);
    });
  });
  return { child, origin, output };
}

/** A query result as label value -> sample value. */
export function byLabel(samples: PromSample[], label: string): Map<string, number> {
  return new Map(samples.map((s) => [s.metric[label] ?? '', s.value]));
}

/** Prints a query and its result, largest first (the figures the closing notes quote). */
export function printQuery(title: string, promql: string, samples: PromSample[]): void {
  const lines = samples.sort((a, b) => b.value - a.value).map((s) => `  ${JSON.stringify(s.metric)} ${s.value.toPrecision(4)}`);
  console.log(`${title}\n  PromQL: ${promql}\n${lines.join('\n')}`);
}
