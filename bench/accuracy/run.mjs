// npm run bench:accuracy — are the per-tag CPU numbers right? Four routes of
// known, different CPU cost, bursts interleaved across awaits, timers, file
// I/O, callbacks and events, at a fixed concurrency from a separate load
// process. For each profiler: coverage (of the CPU sampled inside a route's own
// burst function, the share carrying that route's tag) and the largest error
// of the per-route CPU shares against the measured truth, next to the 95%
// sampling bound for the samples behind it.
//
// Environment: BENCH_ROUNDS (2), BENCH_REQUESTS (800), BENCH_CONNECTIONS (8),
// BENCH_SAMPLING_MICROS (1000 = 1 kHz), BENCH_VARIANTS (comma list of ids).
import { fileURLToPath } from 'node:url';
import {
  Child, bound95, envInt, envList, fmt, interleave, median, nodes, printFooter, printHeader, startLoad, table,
} from '../lib/harness.mjs';

const ROUNDS = envInt('BENCH_ROUNDS', 2);
const REQUESTS = envInt('BENCH_REQUESTS', 800);
const CONNECTIONS = envInt('BENCH_CONNECTIONS', 8);
const SAMPLING_MICROS = envInt('BENCH_SAMPLING_MICROS', 1000);
const SERVER = fileURLToPath(new URL('./server.mjs', import.meta.url));
const ROUTES = ['light', 'medium', 'heavy', 'batch'];

const ALL = [
  { id: 'reqprof-20', node: 20, variant: 'reqprof', label: 'Node 20  reqprof (async-hooks)' },
  { id: 'reqprof-24', node: 24, variant: 'reqprof', label: 'Node 24  reqprof (cped)' },
  { id: 'reqprof-hooks-24', node: 24, variant: 'reqprof', engine: 'async-hooks', label: 'Node 24  reqprof engine:async-hooks' },
  { id: 'pyroscope-20', node: 20, variant: 'pyroscope', label: 'Node 20  pyroscope wrapWithLabels' },
  { id: 'pyroscope-24', node: 24, variant: 'pyroscope', label: 'Node 24  pyroscope wrapWithLabels' },
];
const pick = envList('BENCH_VARIANTS');
const variants = ALL.filter((v) => !pick || pick.includes(v.id));

const startedAt = performance.now();
const bins = nodes();
printHeader('Accuracy: CPU per tag against measured truth, reqprof and pyroscope', {
  command: 'npm run bench:accuracy',
  workload: `4 routes tagged { route }: light 2 ms (setImmediate), medium 4 ms (setTimeout, FileHandle.read), heavy 8 ms (fs.read callback, EventEmitter), batch 12 ms (3 x Promise.all(setTimeout, fs.stat), setImmediate); ${CONNECTIONS} connections, ${REQUESTS} requests per run (equal per route)`,
  truth: 'each burst is a fixed count of pure-JS iterations in its own burst_<route> function; its CPU = iterations x the cost per iteration calibrated at start (best of 40 timed runs; the four functions are the same code), immune to descheduling; the response is written outside the tagged context, so tagged CPU is the route\'s own work',
  sampling: `${1e6 / SAMPLING_MICROS} Hz (samplingIntervalMicros ${SAMPLING_MICROS}) for both; reqprof windows of 2 s (summed), pyroscope one profile per run via its HTTP exporter into an in-process sink`,
  rounds: `${ROUNDS}, variants interleaved, order rotated each round`,
});

const loader = startLoad();
await loader.ready;

function analyse(s) {
  let truthTotal = 0;
  for (const r of ROUTES) truthTotal += s.truth[r];
  let measuredTotal = 0;
  let samples = 0;
  for (const r of ROUTES) { measuredTotal += s.byRoute[r].cpu; samples += s.byRoute[r].samples; }
  let worst = { err: -1 };
  const shares = {};
  for (const r of ROUTES) {
    const p = s.truth[r] / truthTotal;
    const m = measuredTotal > 0 ? s.byRoute[r].cpu / measuredTotal : 0;
    shares[r] = { p, m };
    const err = Math.abs(m - p);
    const bound = bound95(p, samples);
    if (err / bound > (worst.err < 0 ? -1 : worst.err / worst.bound)) worst = { route: r, err, bound, p, m };
  }
  const c = s.coverage;
  return {
    coverage: c.inBursts > 0 ? c.right / c.inBursts : 0,
    mislabelled: c.inBursts > 0 ? c.wrong / c.inBursts : 0,
    burstSamples: c.samples,
    samples,
    worst,
    shares,
    // Sampled CPU against the truth (µs vs ns): how much of the request CPU the tagged totals hold.
    taggedOverTruth: measuredTotal / 1000 / truthTotal,
    untaggedShare: s.all > 0 ? s.untagged / s.all : 0,
  };
}

const results = await interleave(variants, ROUNDS, async (v) => {
  const server = new Child(SERVER, {
    node: bins[v.node].bin,
    args: [v.variant],
    env: { BENCH_SAMPLING_MICROS: String(SAMPLING_MICROS), ...(v.engine ? { BENCH_ENGINE: v.engine } : {}) },
    name: `server ${v.id}`,
  });
  try {
    const { port } = await server.ready;
    const load = { port, connections: CONNECTIONS, method: 'GET', paths: ROUTES.map((r) => `/${r}`) };
    await loader.call('run', { ...load, amount: 200 });
    const { mode } = await server.call('begin');
    const client = await loader.call('run', { ...load, amount: REQUESTS });
    const s = await server.call('end');
    if (client.non2xx || client.errors) throw new Error(`${v.id}: ${client.non2xx} non-2xx, ${client.errors} errors`);
    const a = analyse(s);
    return {
      mode, ...a,
      summary: `${mode.padEnd(11)} coverage ${fmt.pct(a.coverage, 2)}  worst ${a.worst.route} ${fmt.pp(a.worst.err)} (bound ${fmt.pp(a.worst.bound)})  ${a.samples} samples`,
    };
  } finally {
    await server.close();
  }
});
await loader.close();

const rows = variants.map((v, i) => {
  const rs = results[i];
  const cov = median(rs.map((r) => r.coverage));
  const within = rs.filter((r) => r.worst.err <= r.worst.bound).length;
  const worstRound = rs.reduce((a, b) => (b.worst.err / b.worst.bound > a.worst.err / a.worst.bound ? b : a));
  return [
    v.label,
    rs[0].mode,
    fmt.pct(cov, 2),
    fmt.pct(median(rs.map((r) => r.mislabelled)), 2),
    fmt.pp(median(rs.map((r) => r.worst.err))),
    fmt.pp(median(rs.map((r) => r.worst.bound))),
    `${within}/${rs.length}`,
    `${worstRound.worst.route} ${fmt.pct(worstRound.worst.p)} → ${fmt.pct(worstRound.worst.m)}`,
    fmt.num(median(rs.map((r) => r.samples))),
    fmt.pct(median(rs.map((r) => r.untaggedShare))),
    cov >= 0.99 && within === rs.length ? 'met' : 'MISSED',
  ];
});
console.log(`\nmedians over ${ROUNDS} rounds\n`);
console.log(table(
  ['variant', 'engine', 'coverage', 'mislabelled', 'largest share error', '95% bound', 'rounds within bound', 'worst route: truth → measured', 'tagged samples', 'untagged CPU', 'target (cov ≥ 99%, within bound)'],
  rows,
));
console.log('\nper route, truth → measured share among the four routes (medians over rounds):\n');
console.log(table(['variant', ...ROUTES], variants.map((v, i) => [v.label, ...ROUTES.map((r) =>
  `${fmt.pct(median(results[i].map((x) => x.shares[r].p)))} → ${fmt.pct(median(results[i].map((x) => x.shares[r].m)))}`)])));
console.log('\ncoverage: of the CPU sampled inside a route\'s own burst function, the share labelled with that route; mislabelled: the share labelled with another route.');
console.log('share error: |measured − true| share of a route among the four routes (measured from the per-tag totals a processor receives); bound: 1.96·sqrt(p(1−p)/n) for the tagged samples n.');
printFooter(startedAt);
