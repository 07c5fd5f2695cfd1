// node bench/overhead/node22.mjs — what --experimental-async-context-frame saves on Node 22.
// Node 22 carries contexts to the sampler through async_hooks unless started with
// that flag (then the CPED path, as on Node 24+). Same server and load as
// bench:overhead, Node 22 only, four variants interleaved per round: off and
// reqprof, each without and with the flag. The figure reqprof logs on Node 22
// without the flag (src/engine/self-check.ts) comes from this table.
// Then an in-process A/B per flag setting (bench:overhead's ab-reqprof: one server
// alternating profiler-off and profiler-on phases), which resolves the added CPU
// far better than separate processes on a shared machine.
// Environment: BENCH_ROUNDS (3), BENCH_REQUESTS (10000), BENCH_WARMUP (2000),
// BENCH_AB_REQUESTS (30000), BENCH_AB_PHASE (1000), BENCH_AB_ROUNDS (2),
// BENCH_CONNECTIONS (16), BENCH_SAMPLING_MICROS (10000), BENCH_NODE22 (node binary;
// default: the copy scripts/fetch-node.sh 22 keeps). Run `npm run build` first.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Child, REPO, envInt, fmt, interleave, median, printFooter, quantile, startLoad, table } from '../lib/harness.mjs';
import { orderBody } from './service.mjs';

const ROUNDS = envInt('BENCH_ROUNDS', 3);
const REQUESTS = envInt('BENCH_REQUESTS', 10_000);
const WARMUP = envInt('BENCH_WARMUP', 2_000);
const CONNECTIONS = envInt('BENCH_CONNECTIONS', 16);
const SAMPLING_MICROS = envInt('BENCH_SAMPLING_MICROS', 10_000);
const AB_REQUESTS = envInt('BENCH_AB_REQUESTS', 30_000);
const AB_PHASE = envInt('BENCH_AB_PHASE', 1000);
const AB_ROUNDS = envInt('BENCH_AB_ROUNDS', 2);
const SERVER = fileURLToPath(new URL('./server.mjs', import.meta.url));
const FLAG = '--experimental-async-context-frame';
const NODE22 = process.env.BENCH_NODE22 ??
  join(execFileSync('bash', [join(REPO, 'scripts', 'fetch-node.sh'), '22'], { encoding: 'utf8' }).trim(), 'bin', 'node');
const version = execFileSync(NODE22, ['--version'], { encoding: 'utf8' }).trim();

const variants = [
  { id: 'off', variant: 'off', execArgv: [], label: 'off, no flag' },
  { id: 'hooks', variant: 'reqprof', execArgv: [], label: 'reqprof, no flag (async-hooks)' },
  { id: 'off-flag', variant: 'off', execArgv: [FLAG], label: `off, ${FLAG}` },
  { id: 'cped', variant: 'reqprof', execArgv: [FLAG], label: `reqprof, ${FLAG} (cped)` },
];

const TENANTS = ['acme', 'globex', 'initech', 'umbrella', 'hooli'];
const load = {
  connections: CONNECTIONS, method: 'POST', paths: ['/orders'], body: orderBody(7),
  headerSets: TENANTS.map((t) => ({ 'x-tenant': t, authorization: `Bearer token-of-${t}` })),
};

const startedAt = performance.now();
console.log(`# Node 22: async_hooks path vs ${FLAG} (CPED path)`);
console.log(`date: ${new Date().toISOString()}`);
console.log(`node: ${version} (${NODE22}); load generator on ${process.version}`);
console.log(`workload: POST /orders (bench:overhead's service), ${CONNECTIONS} connections, ${WARMUP} warm-up + ${REQUESTS} measured requests per run; ${1e6 / SAMPLING_MICROS} Hz; ${ROUNDS} rounds, order rotated`);
console.log('');

const loader = startLoad();
await loader.ready;
async function measure(v, amount) {
  const server = new Child(SERVER, { node: NODE22, execArgv: v.execArgv, args: [v.variant], env: { BENCH_SAMPLING_MICROS: String(SAMPLING_MICROS), BENCH_AB_PHASE: String(AB_PHASE) }, name: `server ${v.id}` });
  try {
    const { port, mode } = await server.ready;
    await loader.call('run', { ...load, port, amount: WARMUP });
    await server.call('begin');
    const client = await loader.call('run', { ...load, port, amount });
    const s = await server.call('end');
    if (client.non2xx || client.errors || s.failed) throw new Error(`${v.id}: failures`);
    return { mode, client, s };
  } finally {
    await server.close();
  }
}

/** A/B phases: each on phase against the mean of its neighbouring off phases (the first two dropped: cold). */
function addedPerRequest(phases) {
  const us = phases.map((p) => ({ on: p.on, us: p.cpuMicros / p.requests }));
  const out = [];
  for (let i = 2; i < us.length; i++) {
    if (!us[i].on) continue;
    const near = [us[i - 1], us[i + 1]].filter((p) => p && !p.on);
    if (near.length) out.push(us[i].us - near.reduce((a, p) => a + p.us, 0) / near.length);
  }
  return out;
}

const results = await interleave(variants, ROUNDS, async (v) => {
  {
    const { mode, client, s } = await measure(v, REQUESTS);
    if (client.non2xx || client.errors || s.failed) throw new Error(`${v.id}: failures`);
    const cpuPerReqUs = s.cpuMicros / s.requests;
    return { mode, cpuPerReqUs, throughput: client.throughput, summary: `${mode.padEnd(11)} CPU ${cpuPerReqUs.toFixed(1)} µs/req  ${client.throughput.toFixed(0)} req/s` };
  }
});

const abVariants = [
  { id: 'ab-hooks', variant: 'ab-reqprof', execArgv: [], label: 'A/B reqprof, no flag' },
  { id: 'ab-cped', variant: 'ab-reqprof', execArgv: [FLAG], label: `A/B reqprof, ${FLAG}` },
];
console.log(`\nin-process A/B: ${AB_REQUESTS} requests per server, off/on phases of ${AB_PHASE}`);
const ab = await interleave(abVariants, AB_ROUNDS, async (v) => {
  const { mode, s } = await measure(v, AB_REQUESTS);
  const added = addedPerRequest(s.phases);
  return { mode, added, summary: `${mode.replace(/^ab-/, '').padEnd(11)} ${added.length} pairs, added ${median(added).toFixed(1)} µs/req` };
});
await loader.close();

const at = (id) => results[variants.findIndex((v) => v.id === id)];
const rows = variants.map((v, i) => {
  const rs = results[i];
  const off = at(v.execArgv.length ? 'off-flag' : 'off');
  return [v.label, rs[0].mode, fmt.us(median(rs.map((r) => r.cpuPerReqUs))),
    v.variant === 'off' ? '' : fmt.us(median(rs.map((r, k) => r.cpuPerReqUs - off[k].cpuPerReqUs)), 1),
    fmt.num(median(rs.map((r) => r.throughput)))];
});
console.log(`\nmedians over ${ROUNDS} rounds; added = reqprof − off with the same flags, same round\n`);
console.log(table(['variant', 'engine', 'server CPU/req', 'added CPU/req', 'req/s'], rows));
const hooks = at('hooks');
const cped = at('cped');
const saved = median(hooks.map((h, k) => h.cpuPerReqUs - cped[k].cpuPerReqUs));
const ratio = median(hooks.map((h, k) => cped[k].cpuPerReqUs / h.cpuPerReqUs));
console.log(`\nreqprof without the flag vs with it (same round): ${fmt.us(saved, 1)} more CPU per request without (CPU/req with ÷ without: ${fmt.ratio(ratio)}); per round: ${hooks.map((h, k) => fmt.us(h.cpuPerReqUs - cped[k].cpuPerReqUs, 1)).join(', ')}`);
const abRows = abVariants.map((v, i) => {
  const all = ab[i].flatMap((r) => r.added);
  return [v.label, ab[i][0].mode.replace(/^ab-/, ''), String(all.length), fmt.us(median(all), 1), `${fmt.us(quantile(all, 0.25), 1)} – ${fmt.us(quantile(all, 0.75), 1)}`];
});
console.log(`\nin-process A/B (off phase: profiler paused, requests untagged; on: running, tagged), added CPU per request, medians over all pairs of ${AB_ROUNDS} servers each\n`);
console.log(table(['variant', 'engine', 'pairs', 'added CPU/req', 'IQR'], abRows));
const abHooks = median(ab[0].flatMap((r) => r.added));
const abCped = median(ab[1].flatMap((r) => r.added));
console.log(`\nA/B: the hooks path adds ${fmt.us(abHooks - abCped, 1)} more CPU per request than the CPED path (${fmt.us(abHooks, 1)} vs ${fmt.us(abCped, 1)}). Without the flag, AsyncLocalStorage's own promise hooks stay on in the off phases too, so this leaves out what tag() itself costs there (the cross-process table includes it).`);
printFooter(startedAt);
