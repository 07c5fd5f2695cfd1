// Turns the `TABLE |` lines the binding tests print into markdown tables:
//   node scripts/test.mjs test/bindings 2>&1 | node bench/bindings/table.mjs [--by-driver]
// --by-driver: one row per driver over its API styles and engine paths
// (largest misattributed, smallest attributed, largest share error relative
// to its 95% weighted bound, with the binomial one beside it).
import { createInterface } from 'node:readline';

const byDriver = process.argv.includes('--by-driver');
const rows = [];
for await (const line of createInterface({ input: process.stdin })) {
  const at = line.indexOf('TABLE | ');
  if (at < 0) continue;
  const [driver, style, runtime, mis, att, worst, neff, opener, untagged] = line.slice(at + 'TABLE | '.length).split(' | ');
  const pct = (s) => Number.parseFloat(s);
  // "0.25% / 2.27% binomial, 3.10% weighted"
  const [, err, bound, weighted] = /([\d.]+)% \/ ([\d.]+)% binomial, ([\d.]+)% weighted/.exec(worst).map(Number);
  const [, openerGot, openerTruth, openerBound] = /opener row ([\d.]+)% vs ([\d.]+)% ± ([\d.]+)%/.exec(opener).map(Number);
  rows.push({ driver, style, runtime, mis: pct(mis), att: pct(att), err, bound, weighted, neff: pct(neff.replace('Neff/N ', '')), openerGot, openerTruth, openerBound, untagged: pct((untagged ?? '').replace('untagged ', '')) });
}
const f = (x) => `${x.toFixed(2)}%`;
if (!byDriver) {
  console.log('| driver | API style | runtime, engine | misattributed | attributed | largest share error / 95% bound (binomial, weighted) | Neff/N | openers\' row vs truth ± bound | untagged CPU |');
  console.log('| --- | --- | --- | ---: | ---: | ---: | ---: | --- | ---: |');
  for (const r of rows) {
    console.log(`| ${r.driver} | ${r.style} | ${r.runtime} | ${f(r.mis)} | ${f(r.att)} | ${f(r.err)} / ${f(r.bound)}, ${f(r.weighted)} | ${r.neff.toFixed(2)} | ${f(r.openerGot)} vs ${f(r.openerTruth)} ± ${f(r.openerBound)} | ${f(r.untagged)} |`);
  }
} else {
  const groups = new Map();
  for (const r of rows) groups.set(r.driver, [...(groups.get(r.driver) ?? []), r]);
  console.log('| driver | runs (styles x engines) | misattributed (max) | attributed (min) | largest share error / its 95% bound: binomial, weighted (Neff/N) | openers\' row: largest excess over truth / its bound | untagged CPU (range) |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const [driver, rs] of groups) {
    const worst = rs.reduce((a, b) => (b.err / b.weighted > a.err / a.weighted ? b : a));
    const opener = rs.reduce((a, b) => ((b.openerGot - b.openerTruth) / b.openerBound > (a.openerGot - a.openerTruth) / a.openerBound ? b : a));
    const u = rs.map((r) => r.untagged);
    console.log(`| ${driver} | ${rs.length} | ${f(Math.max(...rs.map((r) => r.mis)))} | ${f(Math.min(...rs.map((r) => r.att)))} | ${f(worst.err)} / ${f(worst.bound)}, ${f(worst.weighted)} (${worst.neff.toFixed(2)}) | ${f(opener.openerGot - opener.openerTruth)} / ${f(opener.openerBound)} | ${f(Math.min(...u))}-${f(Math.max(...u))} |`);
  }
}
