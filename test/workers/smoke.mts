import { Worker } from 'node:worker_threads';
import { newProfiler, tag } from '../../src/index.js';
import { postWithTags, profileWorkers } from '../../src/workers/index.js';
import { Recorder } from '../helpers/cpu.js';
import { calibrate } from './fixtures/spin.js';

const rec = new Recorder();
const p = newProfiler(rec.processor, 0, 60_000, { samplingIntervalMicros: 1000 });
profileWorkers({ splitByThread: true });
void p.run();
const ns = calibrate();
console.log('ns/iter', ns);
const w = new Worker(new URL('./fixtures/plain-worker.ts', import.meta.url), { workerData: { nsPerIteration: ns }, execArgv: ['--import', 'tsx'] });
const replies = new Map<number, (v: any) => void>();
w.on('message', (m) => replies.get(m.id)?.(m));
let id = 0;
function ask(tenant: string, iterations: number): Promise<any> {
  return tag({ tenant }, () => new Promise((r) => { const i = ++id; replies.set(i, r); postWithTags(w, { id: i, iterations }); }));
}
const truth: Record<string, number> = {};
for (let i = 0; i < 40; i++) {
  const t = i % 4 === 0 ? 'b' : 'a';
  const r = await ask(t, 2000);
  truth[t] = (truth[t] ?? 0) + r.cpuNs;
  if (i === 0) console.log(r.keys);
}
await p.stop();
console.log(truth);
for (const x of rec.windows) { console.log(x.profiles.map((p) => [p.key, (p.value / 1e6).toFixed(1), p.samples])); console.log(JSON.stringify(x.window.workers)); }
await w.terminate();
