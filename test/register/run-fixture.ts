/**
 * Runs a fixture app (test/fixtures/register/, none of which imports reqprof)
 * under reqprof/register in a child process, and reads what it printed: the
 * app's own ground truth and the windows of the log processor.
 */
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
