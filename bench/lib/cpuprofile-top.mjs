// Summarizes .cpuprofile files (node --cpu-prof): self time by function and by
// origin (reqprof's own code, @datadog/pprof, node internals, the service),
// to see where a profiler's overhead goes.
// Usage: node bench/lib/cpuprofile-top.mjs <file.cpuprofile> [more files...] [--top N]
//        [--diff base.cpuprofile --requests N]: functions whose self time grew most
//        over the base profile (same workload, profiler off), in µs per request.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

const args = process.argv.slice(2);
const topIdx = args.indexOf('--top');
const TOP = topIdx >= 0 ? Number(args.splice(topIdx, 2)[1]) : 25;
const diffIdx = args.indexOf('--diff');
const DIFF = diffIdx >= 0 ? args.splice(diffIdx, 2)[1] : undefined;
const reqIdx = args.indexOf('--requests');
const REQUESTS = reqIdx >= 0 ? Number(args.splice(reqIdx, 2)[1]) : 1;

function origin(url) {
  if (url === '') return '(native/vm)';
  if (url.includes('/dist/esm/') || url.includes('/dist/cjs/') || url.includes('/src/')) return 'reqprof';
  if (url.includes('@datadog/pprof')) return '@datadog/pprof';
  if (url.includes('@pyroscope')) return '@pyroscope';
  if (url.startsWith('node:')) return 'node internals';
  if (url.includes('/bench/')) return 'service (bench)';
  return 'other';
}

/** Self time (µs) per function key and per origin. */
function selfTimes(file) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const dt = new Map();
  // timeDeltas[i] is the time between samples i-1 and i: sample i lasts until
  // sample i+1 (as DevTools counts it); the last one until the profile's end.
  for (let i = 0; i < prof.samples.length; i++) {
    const d = i + 1 < prof.samples.length ? prof.timeDeltas[i + 1] : 0;
    dt.set(prof.samples[i], (dt.get(prof.samples[i]) ?? 0) + Math.max(0, d ?? 0));
  }
  let total = 0;
  const byFn = new Map();
  const byOrigin = new Map();
  for (const [id, us] of dt) {
    const n = byId.get(id);
    const cf = n.callFrame;
    total += us;
    const name = cf.functionName || '(anonymous)';
    if (name === '(idle)') continue;
    const key = `${name} ${cf.url ? `${basename(cf.url)}:${cf.lineNumber + 1}` : ''}`;
    byFn.set(key, (byFn.get(key) ?? 0) + us);
    const o = name === '(garbage collector)' ? '(gc)' : name === '(program)' ? '(program)' : origin(cf.url);
    byOrigin.set(o, (byOrigin.get(o) ?? 0) + us);
  }
  const idle = [...dt].filter(([id]) => byId.get(id).callFrame.functionName === '(idle)').reduce((a, [, us]) => a + us, 0);
  return { total, idle, busy: total - idle, byFn, byOrigin };
}

if (DIFF) {
  const base = selfTimes(DIFF);
  for (const file of args) {
    const p = selfTimes(file);
    const per = (us) => (us / REQUESTS).toFixed(2).padStart(7);
    console.log(`\n${basename(file)} over ${basename(DIFF)}: busy ${per(p.busy)} vs ${per(base.busy)} µs per request (${REQUESTS} requests)`);
    console.log('  by origin, µs per request (this − base):');
    const origins = new Set([...p.byOrigin.keys(), ...base.byOrigin.keys()]);
    for (const o of [...origins].sort((a, b) => ((p.byOrigin.get(b) ?? 0) - (base.byOrigin.get(b) ?? 0)) - ((p.byOrigin.get(a) ?? 0) - (base.byOrigin.get(a) ?? 0)))) {
      console.log(`    ${per((p.byOrigin.get(o) ?? 0) - (base.byOrigin.get(o) ?? 0))}  ${o}`);
    }
    console.log(`  top ${TOP} functions by added self time, µs per request:`);
    const keys = new Set([...p.byFn.keys(), ...base.byFn.keys()]);
    const deltas = [...keys].map((k) => [k, (p.byFn.get(k) ?? 0) - (base.byFn.get(k) ?? 0)]).sort((a, b) => b[1] - a[1]);
    for (const [k, d] of deltas.slice(0, TOP)) console.log(`    ${per(d)}  ${k}`);
  }
  process.exit(0);
}

for (const file of args) {
  const { total, busy, byFn, byOrigin } = selfTimes(file);
  console.log(`\n${basename(file)}: ${(total / 1e6).toFixed(2)} s sampled, ${(busy / 1e6).toFixed(2)} s busy`);
  console.log('  self time by origin (share of busy):');
  for (const [o, us] of [...byOrigin].sort((a, b) => b[1] - a[1])) console.log(`    ${(us / busy * 100).toFixed(1).padStart(5)}%  ${o}`);
  console.log(`  top ${TOP} functions by self time (share of busy):`);
  for (const [k, us] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`    ${(us / busy * 100).toFixed(1).padStart(5)}%  ${k}`);
}
