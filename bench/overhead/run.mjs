// npm run bench:overhead — what profiling costs an HTTP JSON service.
// Server and load generator are separate processes; every variant is a fresh
// server child, driven at a fixed concurrency for a fixed request count; the
// variants interleave over several rounds, and every ratio compares a variant
// with "off" on the same Node version in the same round.
//
// Environment: BENCH_ROUNDS (5), BENCH_REQUESTS (15000), BENCH_WARMUP (2000),
// BENCH_CONNECTIONS (16), BENCH_SAMPLING_MICROS (10000 = 100 Hz),
// BENCH_AB_REQUESTS (40000) and BENCH_AB_PHASE (1000) for the in-process A/B part,
// BENCH_VARIANTS (comma list of variant ids, default all but the diagnostics
// tags-20, tags-24, pyroscope-24, hook-20, sampler-20, sampler-late-20, sampler-stopped-20 and the same for 24;
// the off variants always run),
// BENCH_CPU_PROF_DIR (V8 CPU profile of each server's measured requests written there;
// compare with node bench/lib/cpuprofile-top.mjs --diff off.cpuprofile --requests N variant.cpuprofile).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Child, envInt, envList, fmt, interleave, median, nodes, printFooter, printHeader, quantile, startLoad, table,
} from '../lib/harness.mjs';
import { orderBody } from './service.mjs';

const ROUNDS = envInt('BENCH_ROUNDS', 5);
const REQUESTS = envInt('BENCH_REQUESTS', 15_000);
const WARMUP = envInt('BENCH_WARMUP', 2_000);
const CONNECTIONS = envInt('BENCH_CONNECTIONS', 16);
const SAMPLING_MICROS = envInt('BENCH_SAMPLING_MICROS', 10_000);
const CPU_PROF_DIR = process.env.BENCH_CPU_PROF_DIR;
const AB_REQUESTS = envInt('BENCH_AB_REQUESTS', 40_000);
const AB_PHASE = envInt('BENCH_AB_PHASE', 1000);
const SERVER = fileURLToPath(new URL('./server.mjs', import.meta.url));

/** Each variant: which Node, which server variant, which engine; `target` is the issue's bar for throughput. */
const ALL = [
  { id: 'off-20', node: 20, variant: 'off', label: 'Node 20  off' },
  { id: 'reqprof-20', node: 20, variant: 'reqprof', label: 'Node 20  reqprof (async-hooks)', target: 0.95 },
  { id: 'pyroscope-20', node: 20, variant: 'pyroscope', label: 'Node 20  pyroscope wrapWithLabels' },
  { id: 'off-24', node: 24, variant: 'off', label: 'Node 24  off' },
  { id: 'reqprof-24', node: 24, variant: 'reqprof', label: 'Node 24  reqprof (cped)', target: 0.99 },
  { id: 'reqprof-hooks-24', node: 24, variant: 'reqprof', engine: 'async-hooks', label: 'Node 24  reqprof engine:async-hooks', target: 0.95 },
];
// Diagnostics, only when named in BENCH_VARIANTS: where the added CPU goes.
const DIAGNOSTIC = [
  { id: 'tags-20', node: 20, variant: 'tags', label: 'Node 20  tag() only, no sampler' },
  { id: 'tags-24', node: 24, variant: 'tags', label: 'Node 24  tag() only, no sampler' },
  { id: 'pyroscope-24', node: 24, variant: 'pyroscope', label: 'Node 24  pyroscope wrapWithLabels' },
  { id: 'hook-20', node: 20, variant: 'hook', label: 'Node 20  tag() + empty before hook' },
  { id: 'sampler-20', node: 20, variant: 'sampler', label: 'Node 20  sampler on, requests untagged' },
  { id: 'hook-24', node: 24, variant: 'hook', label: 'Node 24  tag() + empty before hook' },
  { id: 'sampler-24', node: 24, variant: 'sampler', label: 'Node 24  sampler on, requests untagged' },
  { id: 'sampler-late-20', node: 20, variant: 'sampler-late', label: 'Node 20  sampler started after warm-up, untagged' },
  { id: 'sampler-late-24', node: 24, variant: 'sampler-late', label: 'Node 24  sampler started after warm-up, untagged' },
  { id: 'sampler-stopped-20', node: 20, variant: 'sampler-stopped', label: 'Node 20  sampler ran 0.2 s at start, then stopped' },
  { id: 'sampler-stopped-24', node: 24, variant: 'sampler-stopped', label: 'Node 24  sampler ran 0.2 s at start, then stopped' },
];
const pick = envList('BENCH_VARIANTS');
const variants = [...ALL, ...DIAGNOSTIC].filter((v) => (!pick ? ALL.includes(v) : pick.includes(v.id) || v.variant === 'off'))
  // off variants only where some picked variant runs on that Node
  .filter((v, _i, all) => v.variant !== 'off' || all.some((o) => o.node === v.node && o.variant !== 'off'));

// In-process A/B: one server alternating off and on phases (see server.mjs).
const AB = [
  { id: 'ab-reqprof-20', node: 20, variant: 'ab-reqprof', label: 'Node 20  reqprof (async-hooks)', target: 0.95 },
  { id: 'ab-reqprof-24', node: 24, variant: 'ab-reqprof', label: 'Node 24  reqprof (cped)', target: 0.99 },
  { id: 'ab-reqprof-hooks-24', node: 24, variant: 'ab-reqprof', engine: 'async-hooks', label: 'Node 24  reqprof engine:async-hooks', target: 0.95 },
  { id: 'ab-pyroscope-20', node: 20, variant: 'ab-pyroscope', label: 'Node 20  pyroscope wrapWithLabels' },
  { id: 'ab-pyroscope-24', node: 24, variant: 'ab-pyroscope', label: 'Node 24  pyroscope wrapWithLabels' },
  // Diagnostics, only when named in BENCH_VARIANTS.
  { id: 'ab-tags-20', node: 20, variant: 'ab-tags', label: 'Node 20  tag() only, no sampler', diagnostic: true },
  { id: 'ab-tags-24', node: 24, variant: 'ab-tags', label: 'Node 24  tag() only, no sampler', diagnostic: true },
  { id: 'ab-sampler-20', node: 20, variant: 'ab-sampler', label: 'Node 20  sampler on, requests untagged', diagnostic: true },
  { id: 'ab-sampler-24', node: 24, variant: 'ab-sampler', label: 'Node 24  sampler on, requests untagged', diagnostic: true },
].filter((v) => (!pick ? !v.diagnostic : pick.includes(v.id)));

const TENANTS = ['acme', 'globex', 'initech', 'umbrella', 'hooli'];
const load = {
  connections: CONNECTIONS,
  method: 'POST',
  paths: ['/orders'],
  body: orderBody(7),
  headerSets: TENANTS.map((t) => ({ 'x-tenant': t, authorization: `Bearer token-of-${t}` })),
};

const startedAt = performance.now();
const bins = nodes();
printHeader('Overhead: HTTP JSON service, profiler off vs on, side by side', {
  command: 'npm run bench:overhead',
  workload: `POST /orders (20-line JSON order, 4 awaits incl. 3 setImmediate hops, ~hash + pricing + JSON), ${CONNECTIONS} connections, ${WARMUP} warm-up + ${REQUESTS} measured requests per run, autocannon in a separate process`,
  sampling: `${1e6 / SAMPLING_MICROS} Hz (samplingIntervalMicros ${SAMPLING_MICROS}) for reqprof and pyroscope (wall profiler with collectCpuTime); reqprof window 30 s, pyroscope flush 60 s (no rollover inside a run: see bench:stall for that cost)`,
  rounds: `${ROUNDS}, variants interleaved, order rotated each round`,
});

const loader = startLoad();
await loader.ready;

async function runServer(v, amount, { variant = v.variant, round = 0 } = {}) {
  const env = { BENCH_SAMPLING_MICROS: String(SAMPLING_MICROS), ...(v.engine ? { BENCH_ENGINE: v.engine } : {}) };
  if (CPU_PROF_DIR && variant !== 'count') {
    mkdirSync(CPU_PROF_DIR, { recursive: true });
    env.BENCH_CPU_PROFILE = join(CPU_PROF_DIR, `${v.id}-r${round + 1}.cpuprofile`);
  }
  if (variant.startsWith('ab-')) env.BENCH_AB_PHASE = String(AB_PHASE);
  const server = new Child(SERVER, {
    node: bins[v.node].bin,
    args: [variant],
    env,
    name: `server ${v.id}`,
  });
  try {
    const { port, mode } = await server.ready;
    await loader.call('run', { ...load, port, amount: WARMUP });
    await server.call('begin');
    const client = await loader.call('run', { ...load, port, amount });
    const s = await server.call('end');
    if (client.non2xx || client.errors || s.failed) throw new Error(`${v.id}: ${client.non2xx} non-2xx, ${client.errors} errors, ${s.failed} failed in the server`);
    return { mode, client, server: s, cpuPerReqUs: s.cpuMicros / s.requests };
  } finally {
    await server.close();
  }
}

// How many async callbacks (async_hooks `before`) one request runs, per Node version.
console.log('calibration: async callbacks per request (async_hooks before-hook count, off variant)');
const boundaries = {};
for (const node of new Set([...variants, ...AB].map((v) => v.node))) {
  const r = await runServer({ id: `count-${node}`, node, label: `Node ${node} count` }, 2_000, { variant: 'count' });
  boundaries[node] = r.server.befores / r.server.requests;
  console.log(`  Node ${node}: ${boundaries[node].toFixed(2)} async callbacks per request`);
}
console.log('');


const results = await interleave(variants, ROUNDS, async (v, round) => {
  const r = await runServer(v, REQUESTS, { round });
  r.summary = `${r.mode.padEnd(11)} ${r.client.throughput.toFixed(0).padStart(6)} req/s  p99 ${r.client.p99.toFixed(2)} ms  CPU ${r.cpuPerReqUs.toFixed(1)} µs/req  server CPU ${(r.server.cpuMicros / 1e4 / r.client.seconds).toFixed(0)}%  load gen CPU ${(r.client.loadCpuShare * 100).toFixed(0)}%`;
  return r;
});

/**
 * In-process A/B: each "on" phase against the mean of the "off" phases on
 * either side of it (the first two phases, with the on path still cold, are
 * dropped). Returns per-pair added µs/request and off/on CPU ratios.
 */
function pairs(phases) {
  const perReq = phases.map((p) => ({ on: p.on, us: p.cpuMicros / p.requests }));
  const out = [];
  for (let i = 2; i < perReq.length; i++) {
    if (!perReq[i].on) continue;
    const near = [perReq[i - 1], perReq[i + 1]].filter((p) => p && !p.on);
    if (near.length === 0) continue;
    const off = near.reduce((a, p) => a + p.us, 0) / near.length;
    out.push({ off, on: perReq[i].us, added: perReq[i].us - off, ratio: off / perReq[i].us });
  }
  return out;
}

let abRows = [];
if (AB.length > 0) {
  console.log(`\nin-process A/B: ${AB_REQUESTS} requests per server, alternating off/on every ${AB_PHASE} requests`);
  const abResults = await interleave(AB, 1, async (v) => {
    const r = await runServer(v, AB_REQUESTS);
    const ps = pairs(r.server.phases);
    r.pairs = ps;
    r.summary = `${r.mode.padEnd(11)} ${ps.length} pairs  off ${median(ps.map((p) => p.off)).toFixed(1)} µs/req  on ${median(ps.map((p) => p.on)).toFixed(1)} µs/req  added ${median(ps.map((p) => p.added)).toFixed(2)} µs/req`;
    return r;
  });
  abRows = AB.map((v, i) => {
    const ps = abResults[i][0].pairs;
    const ratio = median(ps.map((p) => p.ratio));
    const added = median(ps.map((p) => p.added));
    let target = '';
    if (v.target !== undefined) target = `≥ ${v.target}: ${ratio >= v.target ? 'met' : 'MISSED'}`;
    return [
      v.label, abResults[i][0].mode.replace(/^ab-/, ''), String(ps.length),
      fmt.us(median(ps.map((p) => p.off))), fmt.us(median(ps.map((p) => p.on))),
      fmt.us(added, 2), `${fmt.us(quantile(ps.map((p) => p.added), 0.25), 1)} – ${fmt.us(quantile(ps.map((p) => p.added), 0.75), 1)}`,
      fmt.us(added / boundaries[v.node], 3),
      fmt.ratio(ratio), target,
    ];
  });
}
await loader.close();

const rows = [];
const misses = [];
variants.forEach((v, i) => {
  const off = variants.findIndex((o) => o.node === v.node && o.variant === 'off');
  const rs = results[i];
  const base = results[off];
  const thrRatio = rs.map((r, k) => r.client.throughput / base[k].client.throughput);
  const p99Ratio = rs.map((r, k) => r.client.p99 / base[k].client.p99);
  const added = rs.map((r, k) => r.cpuPerReqUs - base[k].cpuPerReqUs);
  // A CPU-bound single-threaded server's throughput is 1 / CPU per request:
  // this ratio is what throughput would be if the server had its core to itself.
  const capacity = rs.map((r, k) => base[k].cpuPerReqUs / r.cpuPerReqUs);
  const thr = median(thrRatio);
  const cap = median(capacity);
  const range = `${Math.min(...thrRatio).toFixed(3)}–${Math.max(...thrRatio).toFixed(3)}`;
  let target = '';
  if (v.target !== undefined) {
    target = `≥ ${v.target}: throughput ${thr >= v.target ? 'met' : 'MISSED'}, capacity ${cap >= v.target ? 'met' : 'MISSED'}`;
    if (thr < v.target) misses.push(`${v.label}: throughput ratio ${thr.toFixed(3)} < ${v.target}`);
    if (cap < v.target) misses.push(`${v.label}: capacity ratio (off CPU/req ÷ this CPU/req) ${cap.toFixed(3)} < ${v.target}`);
  }
  rows.push([
    v.label,
    rs[0].mode,
    fmt.ratio(thr),
    i === off ? '' : range,
    fmt.ratio(median(p99Ratio)),
    fmt.ratio(cap),
    fmt.us(median(rs.map((r) => r.cpuPerReqUs))),
    i === off ? '' : fmt.us(median(added), 2),
    i === off ? '' : fmt.us(median(added) / boundaries[v.node], 3),
    fmt.num(median(rs.map((r) => r.client.throughput))),
    fmt.ms(median(rs.map((r) => r.client.p99)), 2),
    target,
  ]);
});

console.log(`\nmedians over ${ROUNDS} rounds; ratios are variant / off on the same Node in the same round; async callbacks per request: ${Object.entries(boundaries).map(([n, b]) => `Node ${n} ${b.toFixed(1)}`).join(', ')}\n`);
console.log(table(
  ['variant', 'engine', 'throughput / off', 'range', 'p99 / off', 'capacity / off', 'server CPU/req', 'added CPU/req', 'added CPU/async cb', 'req/s', 'p99', 'target'],
  rows,
));
console.log(`
throughput / off and p99 / off: measured by the load generator (closed loop, ${CONNECTIONS} connections); on a shared machine they move with other processes' load (see range).
capacity / off: server CPU per request of off ÷ that of the variant, from process.cpuUsage() in the server over the measured requests: the throughput ratio of a CPU-bound server, and the steady figure here.
added CPU/req: server CPU per request minus off's, same round; per async cb: divided by the async callbacks one request runs (calibration above).`);
if (abRows.length > 0) {
  console.log(`\nin-process A/B (same server process, off and on phases of ${AB_PHASE} requests alternating; medians over pairs of an on phase and its neighbouring off phases)\n`);
  console.log(table(['variant', 'engine', 'pairs', 'CPU/req off', 'CPU/req on', 'added CPU/req', 'IQR of added', 'added CPU/async cb', 'capacity on/off', 'target'], abRows));
  console.log('off phase: profiler paused (reqprof) or stopped (pyroscope), requests untagged; on: profiler running, requests tagged. Node 20: once tag() has run, AsyncLocalStorage keeps its promise hooks enabled, so "off" phases there still pay AsyncLocalStorage itself (see tag() only above).');
}
if (misses.length) console.log(`\ntargets missed:\n${misses.map((m) => `- ${m}`).join('\n')}`);
if (CPU_PROF_DIR) console.log(`\nCPU profiles of every server's measured requests in ${CPU_PROF_DIR} (compare: node bench/lib/cpuprofile-top.mjs --diff ${CPU_PROF_DIR}/off-20-r1.cpuprofile --requests ${REQUESTS} ${CPU_PROF_DIR}/reqprof-20-r1.cpuprofile)`);
printFooter(startedAt);
