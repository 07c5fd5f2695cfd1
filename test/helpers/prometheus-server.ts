/**
 * A real Prometheus server for tests: installed from Debian's `prometheus`
 * package when absent, started on a free loopback port with a temporary data
 * directory, queried over its HTTP API, and always stopped afterwards.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDebianTool } from './system-tool.js';

/** The prometheus binary, apt-get installing Debian's package if absent; `{ skip }` only when that is impossible. */
export function ensurePrometheus(): { path: string } | { skip: string } {
  return ensureDebianTool('prometheus', 'prometheus');
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
