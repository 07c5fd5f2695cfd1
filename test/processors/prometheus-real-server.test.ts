/**
 * The whole path a user runs: the example server (built package, prom-client
 * /metrics beside profiled routes) scraped every second by a real Prometheus,
 * queried over Prometheus's HTTP API with the PromQL the README shows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { compareShares, sleep } from '../helpers/cpu.js';
import { PrometheusServer, buildPackage, byLabel, ensurePrometheus, printQuery, startExampleServer } from '../helpers/prometheus-server.js';
import { loudSkip } from '../helpers/system-tool.js';
// The example's own cost table: the CPU each route burns per request.
import { ROUTE_COST_MS } from '../../examples/prometheus/routes.mjs';

const JOB = 'reqprof-example';
const CALLERS = ['web', 'web', 'mobile'];
/**
 * Requests per route in one cycle of load (route CPU per cycle: 32 + 16 + 24 ms).
 * Requests cost several ms each, so that the CPU Node spends around a handler
 * (parsing, writing the response: a fraction of a ms) stays small beside it.
 */
const PER_CYCLE: Record<string, number> = { '/api/checkout': 1, '/api/search': 1, '/api/profile': 3 };
const CYCLES = 110;

/** Builds the package as `npm run build` does, so the example imports the current code. */const build = () => buildPackage(['dist/esm/processors/prometheus.js']);
const startExample = () => startExampleServer('examples/prometheus/server.mjs');
const show = printQuery;

const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });

function get(origin: string, path: string, caller?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(origin + path, { agent, headers: caller ? { 'x-caller': caller } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${path}: HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
  });
}

test('a real Prometheus scraping the example server reads back the per-route CPU mix of the load within tolerance', async (t) => {
  const found = ensurePrometheus();
  if ('skip' in found) {
    t.skip(loudSkip('the real-Prometheus test', found.skip));
    return;
  }
  build();
  let example: Awaited<ReturnType<typeof startExample>> | undefined;
  let prometheus: PrometheusServer | undefined;
  try {
    example = await startExample();
    const target = example.origin.replace('http://', '');
    prometheus = await PrometheusServer.start(found.path, JOB, [target]);
    const origin = example.origin;
    const sel = `job="${JOB}"`;

    // Warm up every (route, caller) series and wait until Prometheus has scraped each:
    // rate() cannot see the increase before a series' first scrape.
    const routes = Object.keys(PER_CYCLE);
    const callers = [...new Set(CALLERS)];
    // A short request may fall between samples, so repeat for the series still missing.
    const warmups = new Map<string, number>();
    const seen = new Set<string>();
    const warmDeadline = Date.now() + 30_000;
    while (seen.size < routes.length * callers.length) {
      assert.ok(Date.now() < warmDeadline, `warm-up series never all appeared in Prometheus: ${[...seen].join(', ')}`);
      for (const r of routes) {
        for (const c of callers) {
          if (seen.has(`${r} ${c}`)) continue;
          await get(origin, r, c);
          warmups.set(r, (warmups.get(r) ?? 0) + 1);
        }
      }
      await sleep(1000);
      for (const s of await prometheus.query(`reqprof_cpu_seconds_total{${sel},route!=""}`)) seen.add(`${s.metric['route']} ${s.metric['caller']}`);
    }

    // Load: a fixed number of requests per route (and caller), two at a time.
    const expectedMs = new Map<string, number>(routes.map((r) => [r, ROUTE_COST_MS[r as keyof typeof ROUTE_COST_MS] * PER_CYCLE[r]! * CYCLES]));
    const callerMs = new Map<string, number>();
    const queue: Array<[string, string]> = [];
    let i = 0;
    for (let c = 0; c < CYCLES; c++) {
      for (const r of routes) {
        for (let k = 0; k < PER_CYCLE[r]!; k++) {
          const caller = CALLERS[i++ % CALLERS.length]!;
          queue.push([r, caller]);
          callerMs.set(caller, (callerMs.get(caller) ?? 0) + ROUTE_COST_MS[r as keyof typeof ROUTE_COST_MS]);
        }
      }
    }
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) await get(origin, next[0], next[1]);
    };
    const loadStart = Date.now() / 1000;
    await Promise.all([worker(), worker()]);
    const loadEnd = Date.now() / 1000;

    // Wait until Prometheus has scraped a window that ended after the last request.
    const metricsText = await get(origin, '/metrics');
    const windowsNow = Number(/^reqprof_windows_total (\S+)$/m.exec(metricsText)?.[1]);
    assert.ok(windowsNow > 0, 'the example reports windows');
    await prometheus.waitFor(`reqprof_windows_total{${sel}}`, (s) => (s[0]?.value ?? 0) >= windowsNow + 2);

    // Rates over the load: from its start to two windows-and-scrapes after its end
    // (CPU reaches a scrape one window plus one scrape interval after it was spent).
    const at = loadEnd + 2.5;
    const rangeSeconds = Math.ceil(at - loadStart);
    const range = `${rangeSeconds}s`;
    while (Date.now() / 1000 < at + 1) await sleep(250);
    console.log(`load: ${(loadEnd - loadStart).toFixed(1)} s; queries evaluated at load end + 2.5 s over [${range}]`);
    const rateQuery = `sum by (route) (rate(reqprof_cpu_seconds_total{${sel},route!=""}[${range}]))`;
    const rate = await prometheus.query(rateQuery, at);
    show('CPU (cores) by route:', rateQuery, rate);
    const shareQuery = `sum by (route) (rate(reqprof_cpu_seconds_total{${sel}}[${range}])) / scalar(sum(rate(reqprof_cpu_seconds_total{${sel}}[${range}])))`;
    show('CPU share by route (untagged CPU has route=""):', shareQuery, await prometheus.query(shareQuery, at));
    const callersQuery = `topk(5, sum by (caller) (rate(reqprof_cpu_seconds_total{${sel},caller!=""}[${range}])))`;
    const topCallers = await prometheus.query(callersQuery, at);
    show('Top callers by CPU:', callersQuery, topCallers);
    const totalQuery = `sum by (route) (reqprof_cpu_seconds_total{${sel},route!=""})`;
    const totals = await prometheus.query(totalQuery);
    show('CPU seconds by route since start:', totalQuery, totals);
    const samplesQuery = `sum(increase(reqprof_samples_total{${sel},route!=""}[${range}]))`;
    const samples = Math.round((await prometheus.query(samplesQuery, at))[0]?.value ?? 0);

    // The mix: each route's share of the routes' CPU rate against cost x requests.
    const totalExpected = [...expectedMs.values()].reduce((a, b) => a + b, 0);
    const truth = new Map([...expectedMs].map(([r, ms]) => [r, ms / totalExpected]));
    const rates = byLabel(rate, 'route');
    const rateSum = [...rates.values()].reduce((a, b) => a + b, 0);
    const measured = new Map(routes.map((r) => [r, (rates.get(r) ?? 0) / rateSum]));
    const cmp = compareShares(truth, measured, samples);
    console.log(`route mix from Prometheus vs the load's known mix:\n${cmp.report}`);
    assert.ok(cmp.ok, cmp.report);

    // The rate itself: CPU cores per route times the range is the CPU the load's requests cost.
    for (const r of routes) {
      const want = expectedMs.get(r)! / 1000;
      const have = (rates.get(r) ?? 0) * rangeSeconds;
      console.log(`${r}: rate x ${rangeSeconds} s = ${have.toFixed(3)} s of CPU, the load cost ${want.toFixed(3)} s`);
      assert.ok(have > want * 0.75 && have < want * 1.25, `${r}: rate gives ${have.toFixed(3)} s of CPU over the load, it cost ${want.toFixed(3)} s`);
    }

    // Callers: the same check on the caller label.
    const callerTotal = [...callerMs.values()].reduce((a, b) => a + b, 0);
    const callerRates = byLabel(topCallers, 'caller');
    const callerRateSum = [...callerRates.values()].reduce((a, b) => a + b, 0);
    const callerCmp = compareShares(
      new Map([...callerMs].map(([c, ms]) => [c, ms / callerTotal])),
      new Map(callers.map((c) => [c, (callerRates.get(c) ?? 0) / callerRateSum])),
      samples,
    );
    console.log(`caller mix from Prometheus vs the load's known mix:\n${callerCmp.report}`);
    assert.ok(callerCmp.ok, callerCmp.report);

    // Absolute: the counters hold about the CPU seconds the requests cost (warm-up included).
    const got = byLabel(totals, 'route');
    for (const r of routes) {
      const cost = ROUTE_COST_MS[r as keyof typeof ROUTE_COST_MS];
      const want = (expectedMs.get(r)! + cost * (warmups.get(r) ?? 0)) / 1000;
      const have = got.get(r) ?? 0;
      console.log(`${r}: ${have.toFixed(3)} s counted, ${want.toFixed(3)} s spent`);
      assert.ok(have > want * 0.75 && have < want * 1.25, `${r}: counted ${have.toFixed(3)} s of CPU, the requests cost ${want.toFixed(3)} s`);
    }
  } finally {
    agent.destroy();
    await prometheus?.stop();
    if (example && example.child.exitCode === null) {
      const exited = new Promise((r) => example!.child.once('exit', r));
      example.child.kill('SIGTERM');
      await exited;
    }
  }
});
