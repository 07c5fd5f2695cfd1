// Turns the `TABLE |` lines the binding tests print into markdown tables:
//   node scripts/test.mjs test/bindings 2>&1 | node bench/bindings/table.mjs [--by-driver]
// --by-driver: one row per driver over its API styles and engine paths
// (largest misattributed, smallest attributed, largest share error relative
// to its 95% bound).
import { createInterface } from 'node:readline';

const byDriver = process.argv.includes('--by-driver');
const rows = [];
for await (const line of createInterface({ input: process.stdin })) {
  const at = line.indexOf('TABLE | ');
  if (at < 0) continue;
  const [driver, style, runtime, mis, att, worst, opener, untagged] = line.slice(at + 'TABLE | '.length).split(' | ');
  const pct = (s) => Number.parseFloat(s);
  const [err, bound] = worst.split(' / ').map(pct);
  const [, openerGot, openerTruth, openerBound] = /opener row ([\d.]+)% vs ([\d.]+)% ± ([\d.]+)%/.exec(opener).map(Number);
  rows.push({ driver, style, runtime, mis: pct(mis), att: pct(att), err, bound, openerGot, openerTruth, openerBound, untagged: pct((untagged ?? '').replace('untagged ', '')) });
}
const f = (x) => `${x.toFixed(2)}%`;
if (!byDriver) {
  console.log('| driver | API style | runtime, engine | misattributed | attributed | largest share error / 95% bound | openers\' row vs truth ± bound | untagged CPU |');
  console.log('| --- | --- | --- | ---: | ---: | ---: | --- | ---: |');
  for (const r of rows) {
    console.log(`| ${r.driver} | ${r.style} | ${r.runtime} | ${f(r.mis)} | ${f(r.att)} | ${f(r.err)} / ${f(r.bound)} | ${f(r.openerGot)} vs ${f(r.openerTruth)} ± ${f(r.openerBound)} | ${f(r.untagged)} |`);
  }
} else {
  const groups = new Map();
  for (const r of rows) groups.set(r.driver, [...(groups.get(r.driver) ?? []), r]);
  console.log('| driver | runs (styles x engines) | misattributed (max) | attributed (min) | largest share error / its 95% bound | openers\' row: largest excess over truth / its bound | untagged CPU (range) |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const [driver, rs] of groups) {
    const worst = rs.reduce((a, b) => (b.err / b.bound > a.err / a.bound ? b : a));
    const opener = rs.reduce((a, b) => ((b.openerGot - b.openerTruth) / b.openerBound > (a.openerGot - a.openerTruth) / a.openerBound ? b : a));
    const u = rs.map((r) => r.untagged);
    console.log(`| ${driver} | ${rs.length} | ${f(Math.max(...rs.map((r) => r.mis)))} | ${f(Math.min(...rs.map((r) => r.att)))} | ${f(worst.err)} / ${f(worst.bound)} | ${f(opener.openerGot - opener.openerTruth)} / ${f(opener.openerBound)} | ${f(Math.min(...u))}-${f(Math.max(...u))} |`);
  }
}
