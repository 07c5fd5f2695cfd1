// One bench configuration in its own process: node child.mjs <backend> <mode> <tasks> <threads>
//   backend: piscina | worker; mode: off | main (profiler, workers unprofiled) | workers (profiler + workers)
// Prints one JSON line: main-thread and worker CPU per task (µs), and window-end figures.
import { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { newProfiler, tag } from '../../dist/esm/index.js';
import { instrumentPiscina, postWithTags, profileWorkers } from '../../dist/esm/workers/index.js';

const [backend, mode, tasksArg, threadsArg, itArg] = process.argv.slice(2);
const tasks = Number(tasksArg);
const threads = Number(threadsArg);
const iterations = Number(itArg ?? 20);
const cpuNowUs = () => {
  const u = process.threadCpuUsage ? process.threadCpuUsage() : process.cpuUsage();
  return u.user + u.system;
};

let run;
let close;
if (backend === 'piscina') {
  let pool = new Piscina({ filename: new URL('./task.mjs', import.meta.url).href, minThreads: threads, maxThreads: threads, atomics: 'async' });
  if (mode === 'workers') pool = instrumentPiscina(pool);
  run = (t) => pool.run(t);
  close = () => pool.destroy();
} else {
  const ws = Array.from({ length: threads }, () => new Worker(new URL('./plain-worker.mjs', import.meta.url)));
  const waiting = new Map();
  for (const w of ws) w.on('message', (m) => { waiting.get(m.id)(m); waiting.delete(m.id); });
  let id = 0;
  run = (t) => new Promise((resolve) => {
    const i = ++id;
    waiting.set(i, resolve);
    const w = ws[i % ws.length];
    if (mode === 'workers') postWithTags(w, { id: i, ...t });
    else w.postMessage({ id: i, ...t });
  });
  close = () => Promise.all(ws.map((w) => w.terminate()));
}

const windows = [];
let profiler;
if (mode !== 'off') {
  profiler = newProfiler((profiles, window) => void windows.push(window), 0, 60_000);
  if (mode === 'workers') profileWorkers();
  void profiler.run();
}

// Warm-up (JIT, thread start), then the measured loop, 4 tasks in flight.
async function loop(n) {
  const first = new Map();
  const last = new Map();
  let sent = 0;
  const one = async () => {
    while (sent < n) {
      sent++;
      const r = await tag({ tenant: `t${sent % 3}` }, () => run({ iterations }));
      if (!first.has(r.threadId)) first.set(r.threadId, r.cpuUs);
      last.set(r.threadId, r.cpuUs);
    }
  };
  await Promise.all([one(), one(), one(), one()]);
  let workerUs = 0;
  for (const [t, v] of last) workerUs += v - first.get(t);
  return workerUs;
}
await loop(Math.min(500, tasks));
const m0 = cpuNowUs();
const workerUs = await loop(tasks);
const mainUs = cpuNowUs() - m0;

// Window ends with every worker idle: the main thread's CPU and wall time per pause() (which ends and delivers a window).
let windowEnd;
if (profiler) {
  const ends = 5;
  let cpu = 0;
  let wall = 0;
  for (let i = 0; i < ends; i++) {
    await new Promise((r) => setTimeout(r, 200));
    const c0 = cpuNowUs();
    const t0 = performance.now();
    await profiler.pause();
    cpu += cpuNowUs() - c0;
    wall += performance.now() - t0;
    await profiler.resume();
  }
  windowEnd = { mainCpuUs: cpu / ends, wallMs: wall / ends };
  await profiler.stop();
}
const last = windows.at(-1);
await close();
console.log(JSON.stringify({
  backend, mode, threads, tasks, node: process.version,
  mainUsPerTask: mainUs / tasks, workerUsPerTask: workerUs / tasks,
  windowEnd,
  idleWorkerWindow: last?.workers ? last.workers.threads.slice(1).map((t) => t.measuredCpu) : undefined,
}));
