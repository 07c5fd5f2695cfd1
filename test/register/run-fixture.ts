/**
 * Runs a fixture app (test/fixtures/register/, none of which imports reqprof)
 * under reqprof/register in a child process, and reads what it printed: the
 * app's own ground truth and the windows of the log processor.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('../fixtures/register/', import.meta.url));

export interface FixtureTruth {
  cpuMs: Record<string, number>;
  requests: Record<string, number>;
  statuses?: Record<string, number>;
  workerResult?: unknown;
}

export interface TagSetLine {
  key: string;
  cpuMs: number;
  samples: number;
  requests?: number;
}

export interface FixtureRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  truth: FixtureTruth | undefined;
  /** The log processor's records per tag set, over every window. */
  tagSets: TagSetLine[];
  windows: number;
  mode: string | undefined;
  /** Records logged at level error or above. */
  errors: Array<Record<string, unknown>>;
}

export interface RunOptions {
  args: string[];
  env?: Record<string, string | undefined>;
  node?: string;
  /** Called with each stdout line as it comes (e.g. to send a signal). */
  onLine?: (line: string, child: ReturnType<typeof spawn>) => void;
  timeoutMs?: number;
}

export function runFixture(o: RunOptions): Promise<FixtureRun> {
  const env: Record<string, string | undefined> = { ...process.env, NODE_OPTIONS: undefined, ...o.env };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  const child = spawn(o.node ?? process.execPath, o.args, { cwd: ROOT, env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let pending = '';
  child.stdout!.on('data', (c: Buffer) => {
    stdout += c;
    pending += c;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      o.onLine?.(line, child);
    }
  });
  child.stderr!.on('data', (c: Buffer) => {
    stderr += c;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 120_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve(parse(stdout, stderr, code, signal));
    });
  });
}

function parse(stdout: string, stderr: string, code: number | null, signal: NodeJS.Signals | null): FixtureRun {
  const run: FixtureRun = { code, signal, stdout, stderr, truth: undefined, tagSets: [], windows: 0, mode: undefined, errors: [] };
  for (const line of stdout.split('\n')) {
    if (line.startsWith('FIXTURE_TRUTH ')) {
      run.truth = JSON.parse(line.slice('FIXTURE_TRUTH '.length)) as FixtureTruth;
      continue;
    }
    if (!line.startsWith('{')) continue;
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (typeof rec.level === 'number' && rec.level >= 50) run.errors.push(rec);
    if (rec.reqprof === 'window') {
      run.windows++;
      run.mode = rec.mode as string;
    }
    if (rec.reqprof === 'tags') {
      run.tagSets.push({ key: rec.key as string, cpuMs: rec.cpuMs as number, samples: rec.samples as number, requests: rec.requests as number | undefined });
    }
  }
  return run;
}

/** Tag sets summed by key over every window, with the tags parsed from the key. */
export function byKey(run: FixtureRun): Map<string, { tags: Record<string, string>; cpuMs: number; samples: number; requests: number }> {
  const out = new Map<string, { tags: Record<string, string>; cpuMs: number; samples: number; requests: number }>();
  for (const t of run.tagSets) {
    const e = out.get(t.key) ?? { tags: parseLogKey(t.key), cpuMs: 0, samples: 0, requests: 0 };
    e.cpuMs += t.cpuMs;
    e.samples += t.samples;
    e.requests += t.requests ?? 0;
    out.set(t.key, e);
  }
  return out;
}

function parseLogKey(key: string): Record<string, string> {
  const tags: Record<string, string> = {};
  if (key === 'type=default') return tags;
  for (const part of key.split('|')) {
    const eq = part.indexOf('=');
    tags[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return tags;
}

/**
 * Runs a fixture app under reqprof/register (after the node `flags`) until it prints READY once its load is done, then
 * ends it with SIGTERM (no app handler: register delivers the window). With `startSignal`, that signal is sent to the app
 * when register logs that its profiler started (register loads the sampler after the app's first turn, asynchronously):
 * an app that waits for it runs all its load while sampled.
 */
export async function runUntilReady(file: string, env: Record<string, string>, flags: string[] = [], startSignal?: NodeJS.Signals): Promise<FixtureRun> {
  const run = await runFixture({
    args: [...flags, '--import', 'reqprof/register', FIXTURES + file],
    env,
    onLine: (line, child) => {
      if (line === 'READY') child.kill('SIGTERM');
      if (startSignal && line.startsWith('{') && line.includes('"reqprof":"start"')) child.kill(startSignal);
    },
  });
  assert.equal(run.signal, 'SIGTERM', run.stderr);
  return run;
}

export interface TenantShare {
  /** CPU of the row `method=GET|tenant=<tenant>`, ms. */
  ms: number;
  /** CPU the app measured for the tenant, ms. */
  truthMs: number;
  /** The row's share of the tenants' rows, and the share expected from the truth (plus the fitted per-request cost, if asked). */
  share: number;
  trueShare: number;
  /** The share's 95% sampling bound (+3 pp). */
  bound: number;
}

/**
 * Each tenant's profiled CPU (rows `method=GET|tenant=…`) against the CPU the app measured per tenant (FIXTURE_TRUTH),
 * shares over the tenants of the truth. With `perRequestCost`, the expected shares include one cost per request fitted
 * over all rows (as the frameworks test does): the CPU every request spends outside its measured burn (HTTP handling,
 * the driver's call and reply), which would otherwise pull tenants of unequal burns toward equal shares.
 */
export function tenantShares(run: FixtureRun, perRequestCost = false): { of: Record<string, TenantShare>; samples: number; detail: string } {
  const truth = run.truth!;
  const rows = byKey(run);
  const tenants = Object.keys(truth.cpuMs).sort();
  const n = [...rows.values()].reduce((sum, r) => sum + r.samples, 0);
  const ms = (t: string) => rows.get(`method=GET|tenant=${t}`)?.cpuMs ?? 0;
  const requests = (t: string) => (perRequestCost ? truth.requests[t]! : 0);
  const sum = (f: (t: string) => number) => tenants.reduce((total, t) => total + f(t), 0);
  const rowsMs = sum(ms);
  const costMs = perRequestCost ? (rowsMs - sum((t) => truth.cpuMs[t]!)) / sum(requests) : 0;
  const expectedMs = (t: string) => truth.cpuMs[t]! + requests(t) * costMs;
  const of: Record<string, TenantShare> = {};
  for (const t of tenants) {
    const trueShare = expectedMs(t) / sum(expectedMs);
    of[t] = { ms: ms(t), truthMs: truth.cpuMs[t]!, share: ms(t) / rowsMs, trueShare, bound: 1.96 * Math.sqrt(trueShare * (1 - trueShare) / n) + 0.03 };
  }
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const detail = `${n} samples${perRequestCost ? `, fitted cost ${costMs.toFixed(2)} ms/request` : ''}; ` + tenants.map((t) =>
    `${t}: share ${pct(of[t]!.share)} vs ${pct(of[t]!.trueShare)} (bound ±${(100 * of[t]!.bound).toFixed(1)} pp), ${of[t]!.ms.toFixed(1)} ms vs ${of[t]!.truthMs.toFixed(1)} ms`).join('; ');
  return { of, samples: n, detail };
}
