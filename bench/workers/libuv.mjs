// How much of a crypto- and zlib-heavy service's CPU lands in nonJsThreadsCpu (the libuv pool
// runs async pbkdf2 and gzip off the JS thread, where the V8 sampler cannot see it).
// Usage: node bench/workers/libuv.mjs [requests=400]   (npm run build first)
import { pbkdf2, pbkdf2Sync } from 'node:crypto';
import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { newProfiler, tag } from '../../dist/esm/index.js';

const requests = Number(process.argv[2] ?? 400);
const pbkdf2Async = promisify(pbkdf2);
const gzipAsync = promisify(gzip);
const body = Buffer.from(JSON.stringify(Array.from({ length: 4000 }, (_, i) => ({ i, name: `item-${i}`, tags: ['a', 'b', 'c'] }))));
const cpuUs = () => {
  const u = process.threadCpuUsage ? process.threadCpuUsage() : process.cpuUsage();
  return u.user + u.system;
};

// What one pbkdf2 costs when it runs on the JS thread (timed there).
pbkdf2Sync('pw', 'salt', 20_000, 32, 'sha256');
const s0 = cpuUs();
for (let i = 0; i < 20; i++) pbkdf2Sync('pw', 'salt', 20_000, 32, 'sha256');
const pbkdf2Us = (cpuUs() - s0) / 20;

const windows = [];
const profiler = newProfiler((profiles, window) => void windows.push({ profiles, window }), 0, 120_000, { samplingIntervalMicros: 1000 });
void profiler.run();
const p0 = process.cpuUsage();
let sent = 0;
const client = async () => {
  while (sent < requests) {
    const n = sent++;
    await tag({ tenant: n % 4 === 0 ? 'hashes' : 'zips' }, async () => {
      if (n % 4 === 0) await pbkdf2Async('pw', 'salt', 20_000, 32, 'sha256');
      else await gzipAsync(body);
      JSON.parse(JSON.stringify({ n }));
    });
  }
};
await Promise.all([client(), client(), client(), client()]);
const p1 = process.cpuUsage(p0);
await profiler.stop();
const w = windows[0].window;
const processMs = (p1.user + p1.system) / 1000;
const ms = (ns) => (ns / 1e6).toFixed(1);
console.log(`Node ${process.version}: ${requests} requests (1 in 4 pbkdf2 20k iterations, 3 in 4 gzip of ${(body.length / 1024).toFixed(0)} KiB), 4 in flight, 1 kHz sampling`);
console.log(`process CPU ${processMs.toFixed(1)} ms | JS thread sampled (totalCpu) ${ms(w.totalCpu)} ms | nonJsThreadsCpu ${ms(w.nonJsThreadsCpu)} ms (${(100 * w.nonJsThreadsCpu / 1e6 / processMs).toFixed(1)}% of process CPU)`);
console.log(`pbkdf2 work sent to the pool: ${(requests / 4 * pbkdf2Us / 1000).toFixed(1)} ms at ${pbkdf2Us.toFixed(0)} µs each (timed on the JS thread)`);
for (const p of windows[0].profiles) console.log(`  ${p.key || '(untagged)'}: ${ms(p.value)} ms on the JS thread`);
