// npm run bench:tagging — what tagging one request costs, per call, on both
// engine paths: one AsyncLocalStorage frame (the floor of any await-safe
// tagging), tag parsing with and without the memo, and tag() with the profiler
// off and on. Each (Node, profiler) variant is its own child; variants
// interleave over rounds; the table gives medians in ns per call.
//
// Environment: BENCH_ROUNDS (5), BENCH_TAGGING_CALLS (300000 per timed run).
import { fileURLToPath } from 'node:url';
import { Child, envInt, fmt, interleave, median, nodes, printFooter, printHeader, table } from '../lib/harness.mjs';

const ROUNDS = envInt('BENCH_ROUNDS', 5);
const CALLS = envInt('BENCH_TAGGING_CALLS', 300_000);
const CHILD = fileURLToPath(new URL('./child.mjs', import.meta.url));
const OPS = ['als.run', 'createTagSet', 'deriveTags', 'tag()', 'tag() nested'];

const variants = [
  { node: 20, profiler: false, label: 'Node 20  profiler off' },
  { node: 20, profiler: true, label: 'Node 20  profiler on (100 Hz)' },
  { node: 24, profiler: false, label: 'Node 24  profiler off' },
  { node: 24, profiler: true, label: 'Node 24  profiler on (100 Hz)' },
];

const startedAt = performance.now();
const bins = nodes();
printHeader('Tagging: cost per call on the request path', {
  command: 'npm run bench:tagging',
  calls: `${CALLS} per timed run, best of 5 runs per round, ${ROUNDS} rounds interleaved; tags { route, tenant } with 5 tenants`,
});
const results = await interleave(variants, ROUNDS, async (v) => {
  const child = new Child(CHILD, { node: bins[v.node].bin, name: `tagging ${v.label}` });
  try {
    await child.ready;
    const r = await child.call('measure', { profiler: v.profiler, n: CALLS });
    r.summary = `${r.mode.padEnd(11)} tag() ${r['tag()'].toFixed(0)} ns`;
    return r;
  } finally {
    await child.close();
  }
});

const rows = variants.map((v, i) => [
  v.label,
  results[i][0].mode,
  ...OPS.map((op) => `${fmt.num(median(results[i].map((r) => r[op])))} ns`),
]);
console.log(`\nmedians over ${ROUNDS} round(s), ns per call\n`);
console.log(table(['variant', 'engine', ...OPS.map((o) => `\`${o}\``)], rows));
console.log(`
als.run: AsyncLocalStorage.run of a fresh store around an empty function: one context frame (Node 24: an AsyncContextFrame, a Map copy), the floor of any tagging that survives await.
createTagSet: parse, sort and key { route, tenant } every call; deriveTags: the memo tag() uses (same base and input: the same TagSet, no parsing).
tag(): tag({ route, tenant }, fn) with an empty fn; nested: tag({ route }, () => tag({ tenant }, fn)). Profiler on: the engine's bridge runs too (CPED: the holder lookup; hooks: the context write).`);
printFooter(startedAt);
