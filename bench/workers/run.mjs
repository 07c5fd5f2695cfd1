// Added CPU per task (main and worker side) and window-end cost with N workers,
// side by side: no profiler, profiler with workers unprofiled, profiler with workers profiled.
// Each configuration runs in its own process, configurations interleaved over rounds.
// Usage: node bench/workers/run.mjs [tasks=3000] [rounds=2]   (npm run build first)
import { execFileSync } from 'node:child_process';

const tasks = Number(process.argv[2] ?? 3000);
const rounds = Number(process.argv[3] ?? 2);
const child = new URL('./child.mjs', import.meta.url).pathname;
const configs = [];
for (const backend of ['piscina', 'worker']) for (const mode of ['off', 'main', 'workers']) configs.push({ backend, mode, threads: 2 });
for (const n of [8, 32]) configs.push({ backend: 'worker', mode: 'workers', threads: n, windowOnly: true });

const results = new Map();
for (let r = 0; r < rounds; r++) {
  for (const c of configs) {
    const out = execFileSync(process.execPath, [child, c.backend, c.mode, String(c.windowOnly ? 200 : tasks), String(c.threads)], { encoding: 'utf8' });
    const key = `${c.backend} ${c.mode} x${c.threads}`;
    const list = results.get(key) ?? [];
    list.push(JSON.parse(out.trim().split('\n').at(-1)));
    results.set(key, list);
  }
}
const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`Node ${process.version}, ${tasks} tasks of ~${20}k loop steps, 4 in flight, 100 Hz sampling, ${rounds} rounds (median)`);
if (!process.threadCpuUsage) console.log('No process.threadCpuUsage here: "main" is the whole process CPU per task, and the worker column means nothing.');
console.log('config | main µs/task | worker µs/task | window end: main CPU µs | window end: wall ms | idle worker CPU per 200 ms window (µs, each)');
const base = {};
for (const [key, list] of results) {
  const main = median(list.map((x) => x.mainUsPerTask));
  const worker = median(list.map((x) => x.workerUsPerTask));
  const we = list[0].windowEnd ? `${median(list.map((x) => x.windowEnd.mainCpuUs)).toFixed(0)} | ${median(list.map((x) => x.windowEnd.wallMs)).toFixed(1)}` : '- | -';
  const idle = list[0].idleWorkerWindow ? median(list.map((x) => x.idleWorkerWindow.reduce((s, v) => s + (v ?? 0), 0) / x.idleWorkerWindow.length / 1000)).toFixed(0) : '-';
  const b = key.split(' ')[0];
  if (key.includes(' off ')) base[b] = { main, worker };
  const ratio = base[b] && !key.includes(' off ') && !key.includes('x8') && !key.includes('x32') ? ` (+${(main - base[b].main).toFixed(1)} / +${(worker - base[b].worker).toFixed(1)})` : '';
  console.log(`${key} | ${main.toFixed(1)} | ${worker.toFixed(1)}${ratio} | ${we} | ${idle}`);
}
