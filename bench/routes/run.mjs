// node bench/routes/run.mjs — what the late-bound route (LateRouteTags, used by
// reqprof/register for Express and Koa, whose routes are matched after body
// parsing and middleware) costs per request over a route known at the start
// (one shared tag set), with the profiler running, on both engine paths.
// Each variant is its own child; variants interleave over rounds; medians.
//
// Environment: BENCH_ROUNDS (5), BENCH_ROUTES_CALLS (200000 per timed run).
import { fileURLToPath } from 'node:url';
import { Child, envInt, fmt, interleave, median, nodes, printFooter, printHeader, table } from '../lib/harness.mjs';

const ROUNDS = envInt('BENCH_ROUNDS', 5);
const CALLS = envInt('BENCH_ROUTES_CALLS', 200_000);
const CHILD = fileURLToPath(new URL('./child.mjs', import.meta.url));
const OPS = ['shared route', 'late route', 'shared route ×4', 'late route ×4'];

const variants = [
  { node: 20, label: 'Node 20  profiler on (100 Hz)' },
  { node: 24, label: 'Node 24  profiler on (100 Hz)' },
];

const startedAt = performance.now();
const bins = nodes();
printHeader('Route templates: CPU per request of the late-bound route', {
  command: 'node bench/routes/run.mjs',
  calls: `${CALLS} per timed run (mean CPU, GC included), ${ROUNDS} rounds interleaved; tags { method, tenant } + route, 5 tenants, 3 routes`,
});
const results = await interleave(variants, ROUNDS, async (v) => {
  const child = new Child(CHILD, { node: bins[v.node].bin, name: `routes ${v.label}` });
  try {
    await child.ready;
    const r = await child.call('measure', { n: CALLS });
    r.summary = `${r.mode.padEnd(11)} late ${r['late route'].toFixed(0)} ns, shared ${r['shared route'].toFixed(0)} ns`;
    return r;
  } finally {
    await child.close();
  }
});

const rows = variants.flatMap((v, i) => [['', ''], [' ×4', ' (a request with a body: 4 entries)']].map(([suffix, note]) => {
  const shared = median(results[i].map((r) => r[`shared route${suffix}`]));
  const late = median(results[i].map((r) => r[`late route${suffix}`]));
  return [v.label + note, results[i][0].mode, `${fmt.num(shared)} ns`, `${fmt.num(late)} ns`, `${fmt.num(late - shared)} ns`, `${(late / shared).toFixed(2)}x`];
}));
console.log(`\nmedians over ${ROUNDS} round(s), CPU ns per request\n`);
console.log(table(['variant', 'engine', 'route known at start', 'late-bound route', 'late − known', 'ratio'], rows));
console.log(`
shared route: runWithTags(the request's final tag set) — the route known at the start (Fastify), the tag set memoized.
late route: new LateRouteTags(base), runWithTags(it), settle(route) at the end — Express and Koa under reqprof/register.
×4: the same tags entered four times per request (the request listener and three body events of a POST).
On the CPED path (Node 24) the late route makes one native context holder per request (shared tag sets reuse theirs);
on the async_hooks path (Node 20) the request's object is what the hook hands the sampler, at no extra native cost.`);
printFooter(startedAt);
