// npm run bench:memory — does memory stay flat over a long run with a huge
// tag cardinality? Requests tagged with 100k distinct user ids (and 20 routes)
// run for BENCH_MEMORY_SECONDS (default 600 = 10 min) at a paced rate, with
// reqprof's cardinality cap (maxTagSets) folding the excess per window. The
// variants run side by side (memory, not CPU, is measured), each in its own
// child; every 5 s each child reports RSS and heap after a full GC.
//
// Environment: BENCH_MEMORY_SECONDS (600), BENCH_MEMORY_RPS (500),
// BENCH_MEMORY_USERS (100000), BENCH_MEMORY_MAX_TAG_SETS (250),
// BENCH_MEMORY_WINDOW_MS (10000), BENCH_SAMPLING_MICROS (1000),
// BENCH_VARIANTS (comma list of ids), BENCH_MEMORY_NODE_FLAGS (extra flags for every
// child, e.g. "--max-semi-space-size=16" to keep V8's young generation from growing).
import { fileURLToPath } from 'node:url';
import { Child, envInt, envList, fmt, nodes, printFooter, printHeader, table } from '../lib/harness.mjs';

const SECONDS = envInt('BENCH_MEMORY_SECONDS', 600);
const WARMUP_S = Math.max(10, Math.round(SECONDS * 0.2));
const CHILD = fileURLToPath(new URL('./child.mjs', import.meta.url));
const env = {
  BENCH_MEMORY_RPS: String(envInt('BENCH_MEMORY_RPS', 500)),
  BENCH_MEMORY_USERS: String(envInt('BENCH_MEMORY_USERS', 100_000)),
  BENCH_MEMORY_MAX_TAG_SETS: String(envInt('BENCH_MEMORY_MAX_TAG_SETS', 250)),
  BENCH_MEMORY_WINDOW_MS: String(envInt('BENCH_MEMORY_WINDOW_MS', 10_000)),
  BENCH_SAMPLING_MICROS: String(envInt('BENCH_SAMPLING_MICROS', 1000)),
};

const ALL = [
  { id: 'reqprof-24', node: 24, variant: 'reqprof', label: 'Node 24  reqprof (cped)' },
  { id: 'reqprof-20', node: 20, variant: 'reqprof', label: 'Node 20  reqprof (async-hooks)' },
  { id: 'tags-24', node: 24, variant: 'tags', label: 'Node 24  tag() only, no sampler (control)' },
];
const pick = envList('BENCH_VARIANTS');
const variants = ALL.filter((v) => !pick || pick.includes(v.id));

const startedAt = performance.now();
const bins = nodes();
printHeader('Memory: RSS and heap over a long run with 100k distinct tag values', {
  command: `BENCH_MEMORY_SECONDS=${SECONDS} npm run bench:memory`,
  workload: `in-process requests at ${env.BENCH_MEMORY_RPS}/s (JSON work in three parts around a setImmediate and a 1 ms timer), tags { route: 20 values, user: ${env.BENCH_MEMORY_USERS} values cycling }`,
  profiler: `sampling ${1e6 / Number(env.BENCH_SAMPLING_MICROS)} Hz, windows of ${Number(env.BENCH_MEMORY_WINDOW_MS) / 1000} s, maxTagSets ${env.BENCH_MEMORY_MAX_TAG_SETS}`,
  duration: `${SECONDS} s; growth measured after a warm-up of ${WARMUP_S} s; memory read every 5 s after global.gc() (--expose-gc); variants run side by side`,
  'node flags': `--expose-gc ${process.env.BENCH_MEMORY_NODE_FLAGS ?? ''}`.trim(),
});

const series = variants.map(() => []);
const children = variants.map((v, i) => {
  const execArgv = ['--expose-gc', ...(process.env.BENCH_MEMORY_NODE_FLAGS ?? '').split(' ').filter(Boolean)];
  const c = new Child(CHILD, { node: bins[v.node].bin, args: [v.variant, String(SECONDS)], execArgv, env, name: `memory ${v.id}` });
  c.onEvent = (e) => series[i].push(e);
  return c;
});
const ready = await Promise.all(children.map((c) => c.ready));
console.log(`CPU per request (measured before the run): ${ready.map((r, i) => `${variants[i].id} ${fmt.us(r.cpuPerRequestUs, 0)}`).join(', ')}\n`);

// Progress: one line per minute (or per tenth of a short run).
const every = Math.min(60, Math.max(5, Math.round(SECONDS / 10)));
console.log(`time     ${variants.map((v) => v.id.padEnd(26)).join(' ')}`);
for (let t = every; t <= SECONDS; t += every) {
  await new Promise((r) => setTimeout(r, Math.max(0, startedAt + t * 1000 - performance.now())));
  console.log(`${String(t).padStart(5)} s  ${series.map((s) => {
    const e = s[s.length - 1];
    return (e ? `rss ${fmt.mb(e.rss)} heap ${fmt.mb(e.heapUsed)}` : '').padEnd(26);
  }).join(' ')}`);
}
const finals = await Promise.all(children.map((c) => c.call('finish')));
await Promise.all(children.map((c) => c.close()));

/** Least-squares slope of y over t (per second). */
function slope(points, key) {
  const n = points.length;
  if (n < 2) return NaN;
  let st = 0; let sy = 0; let stt = 0; let sty = 0;
  for (const p of points) { st += p.t; sy += p[key]; stt += p.t * p.t; sty += p.t * p[key]; }
  return (n * sty - st * sy) / (n * stt - st * st);
}

const misses = [];
const rows = variants.map((v, i) => {
  const s = series[i];
  // A very short run may end before the warm-up does: then only the last sample counts.
  const after = s.filter((e) => e.t >= WARMUP_S).length > 0 ? s.filter((e) => e.t >= WARMUP_S) : s.slice(-1);
  const w = after[0];
  const last = s[s.length - 1];
  const maxRss = Math.max(...after.map((e) => e.rss));
  const growth = maxRss - w.rss;
  const verdict = growth <= 20 * 1048576 ? 'met' : 'MISSED';
  if (v.variant === 'reqprof' && verdict === 'MISSED') misses.push(`${v.label}: RSS grew ${fmt.mb(growth)} after warm-up`);
  return [
    v.label,
    finals[i].mode,
    fmt.mb(w.rss), fmt.mb(last.rss), fmt.mb(growth),
    `${(slope(after, 'rss') * 60 / 1048576).toFixed(2)} MB/min`,
    fmt.mb(w.heapUsed), fmt.mb(last.heapUsed), fmt.mb(Math.max(...after.map((e) => e.heapUsed)) - w.heapUsed),
    `${(slope(after, 'heapUsed') * 60 / 1048576).toFixed(2)} MB/min`,
    `${fmt.mb(w.heapTotal)} → ${fmt.mb(last.heapTotal)}`,
    `${fmt.mb(w.newSpace)} → ${fmt.mb(last.newSpace)}`,
    String(finals[i].requests), String(finals[i].windows), String(finals[i].overflowTagSets), String(finals[i].maxProfiles),
    v.variant === 'reqprof' ? verdict : '',
  ];
});
console.log('');
console.log(table(
  ['variant', 'engine', 'RSS after warm-up', 'RSS end', 'RSS max growth', 'RSS slope', 'heap after warm-up', 'heap end', 'heap max growth', 'heap slope', 'V8 heap committed', 'of which new space', 'requests', 'windows', 'tag sets folded by cap', 'max tag sets / window', 'target (≤ 20 MB)'],
  rows,
));
console.log('\nRSS/heap max growth: the largest value after warm-up minus the first value after warm-up; slope: least squares over the samples after warm-up; heap = live heap after global.gc(); V8 heap committed: after warm-up → end.');
finals.forEach((f, i) => { if (Object.keys(f.warnings ?? {}).length) console.log(`${variants[i].id} warnings logged: ${JSON.stringify(f.warnings)}`); });
if (misses.length) console.log(`\ntargets missed:\n${misses.map((m) => `- ${m}`).join('\n')}`);
printFooter(startedAt);
