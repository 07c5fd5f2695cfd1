// node bench/overhead/node22-async.mjs — Node 22: the hooks path vs
// --experimental-async-context-frame on requests with many async hops.
// No HTTP and no load generator: each child process runs tagged requests
// (BENCH_HOPS awaited setImmediate hops, a little work after each, 16 in
// flight) and measures its own CPU per request with process.cpuUsage(), so
// the figure moves far less with the machine's load than bench:overhead's.
// Variants off and reqprof (100 Hz), each without and with the flag, interleaved.
// Environment: BENCH_ROUNDS (3), BENCH_REQUESTS (40000), BENCH_HOPS (10),
// BENCH_NODE22 (default: scripts/fetch-node.sh 22). Run `npm run build` first.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO, envInt, fmt, interleave, median, printFooter, table } from '../lib/harness.mjs';

const ROUNDS = envInt('BENCH_ROUNDS', 3);
const REQUESTS = envInt('BENCH_REQUESTS', 40_000);
const HOPS = envInt('BENCH_HOPS', 10);
const CHILD = fileURLToPath(new URL('./node22-async-child.mjs', import.meta.url));
const FLAG = '--experimental-async-context-frame';
const NODE22 = process.env.BENCH_NODE22 ??
  join(execFileSync('bash', [join(REPO, 'scripts', 'fetch-node.sh'), '22'], { encoding: 'utf8' }).trim(), 'bin', 'node');

const variants = [
  { id: 'off', variant: 'off', flags: [], label: 'off, no flag' },
  { id: 'hooks', variant: 'reqprof', flags: [], label: 'reqprof, no flag' },
  { id: 'off-flag', variant: 'off', flags: [FLAG], label: 'off, with the flag' },
  { id: 'cped', variant: 'reqprof', flags: [FLAG], label: 'reqprof, with the flag' },
];

const startedAt = performance.now();
console.log(`# Node 22: async_hooks path vs ${FLAG}, requests with ${HOPS} async hops`);
console.log(`date: ${new Date().toISOString()}`);
console.log(`node: ${execFileSync(NODE22, ['--version'], { encoding: 'utf8' }).trim()} (${NODE22})`);
console.log(`workload: ${REQUESTS} tagged requests per run (+25% warm-up), ${HOPS} awaited setImmediate hops each, 16 in flight; reqprof at 100 Hz; ${ROUNDS} rounds, order rotated\n`);

const results = await interleave(variants, ROUNDS, async (v) => {
  const out = execFileSync(NODE22, [...v.flags, CHILD, v.variant, String(HOPS), String(REQUESTS)], { cwd: REPO, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  const r = JSON.parse(out.trim().split('\n').pop());
  return { ...r, summary: `${r.mode.padEnd(11)} ${r.usPerRequest.toFixed(2)} µs/req` };
});

const at = (id) => results[variants.findIndex((v) => v.id === id)];
const rows = variants.map((v, i) => {
  const off = at(v.flags.length ? 'off-flag' : 'off');
  return [v.label, results[i][0].mode, fmt.us(median(results[i].map((r) => r.usPerRequest)), 2),
    v.variant === 'off' ? '' : fmt.us(median(results[i].map((r, k) => r.usPerRequest - off[k].usPerRequest)), 2)];
});
console.log(`\nmedians over ${ROUNDS} rounds; added = reqprof − off with the same flags, same round\n`);
console.log(table(['variant', 'engine', 'CPU/req', 'added CPU/req'], rows));
const hooks = at('hooks');
const cped = at('cped');
const diffs = hooks.map((h, k) => h.usPerRequest - cped[k].usPerRequest);
console.log(`\nreqprof without the flag vs with it: ${fmt.us(median(diffs), 2)} more CPU per request without (per round: ${diffs.map((d) => d.toFixed(2)).join(', ')} µs; ${fmt.us(median(diffs) / HOPS, 2)} per async hop)`);
printFooter(startedAt);
