// Child of bench/overhead/node22-async.mjs: runs tagged "requests" of a fixed
// shape (HOPS awaited setImmediate hops with a little work after each) and
// prints the process CPU per request, with or without a running profiler.
const [variant, hopsArg, countArg] = process.argv.slice(2);
const HOPS = Number(hopsArg);
const COUNT = Number(countArg);
const CONCURRENCY = 16;
const { newProfiler, tag } = await import('reqprof');

let sink = 0;
function work() {
  let x = sink;
  for (let i = 0; i < 200; i++) x = (x * 31 + i) % 1_000_003;
  sink = x;
}

async function request(i) {
  for (let h = 0; h < HOPS; h++) {
    await new Promise((r) => setImmediate(r));
    work();
  }
  return i;
}

async function drive(n) {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      if (variant === 'off') await request(i);
      else await tag({ route: `/r${i % 8}`, tenant: `t${i % 5}` }, () => request(i));
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

let profiler;
if (variant === 'reqprof') {
  profiler = newProfiler(() => {}, 0, 60_000, { samplingIntervalMicros: 10_000 });
  void profiler.run();
}
await drive(Math.ceil(COUNT / 4)); // warm-up
const t0 = process.cpuUsage();
await drive(COUNT);
const d = process.cpuUsage(t0);
await profiler?.stop();
console.log(JSON.stringify({ variant, mode: profiler?.mode ?? 'off', node: process.version, usPerRequest: (d.user + d.system) / COUNT }));
