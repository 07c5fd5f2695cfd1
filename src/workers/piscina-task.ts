/**
 * The handler piscina runs for an instrumented pool's tasks (in the worker):
 * unwraps the envelope, loads the pool's real handler as piscina does, and
 * calls it with the original task under the sender's tags.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { isEnvelope } from './protocol.js';
import { runInEnvelope } from './worker-side.js';

interface TaskEnvelopePayload {
  task: unknown;
  filename: string | null | undefined;
  name: string;
}

type Handler = (task: unknown) => unknown;
const handlers = new Map<string, Handler>();
const require = createRequire(import.meta.url);

async function handlerOf(filename: string, name: string): Promise<Handler> {
  const key = `${filename}\u0000${name}`;
  const cached = handlers.get(key);
  if (cached !== undefined) return cached;
  const path = filename.startsWith('file:') ? new URL(filename).pathname : filename;
  let mod: unknown;
  try {
    mod = require(path);
  } catch {
    mod = await import(pathToFileURL(path).href);
  }
  let h = pick(mod, name);
  if (h === undefined && isRecord(mod)) h = pick(mod.default, name);
  if (h === undefined) throw new Error(`No handler function "${name}" exported from ${filename}`);
  handlers.set(key, h);
  return h;
}

function pick(mod: unknown, name: string): Handler | undefined {
  if (typeof mod === 'function') return mod as Handler;
  if (!isRecord(mod)) return undefined;
  const h = mod[name];
  return typeof h === 'function' ? (h as Handler) : undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

export default async function reqprofPiscinaTask(env: unknown): Promise<unknown> {
  if (!isEnvelope(env)) throw new TypeError('reqprof: piscina task without its envelope');
  const p = env.payload as TaskEnvelopePayload;
  if (typeof p.filename !== 'string') throw new Error('reqprof: the piscina pool has no filename for this task');
  const filename = p.filename;
  // Loading the handler (first task only) is the task's own work too.
  return runInEnvelope(env, async () => (await handlerOf(filename, p.name))(p.task));
}
