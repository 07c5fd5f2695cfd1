/**
 * The dashboard example (built package: request metrics, CPU per route and
 * runtime metrics on one /metrics) scraped every second by a real
 * Prometheus, and queried with the PromQL the README shows: request rate,
 * error ratio, p99 latency (histogram_quantile) and CPU per request by route.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { sleep } from '../helpers/cpu.js';
import { PrometheusServer, buildPackage, byLabel, ensurePrometheus, printQuery, startExampleServer } from '../helpers/prometheus-server.js';
import { loudSkip } from '../helpers/system-tool.js';
// The example's own route table: the CPU each request burns and which ones fail.
import { ROUTES } from '../../examples/dashboard/routes.mjs';

const JOB = 'reqprof-dashboard';
/** Requests per route in one cycle of load, and the paths they go to. */
const LOAD: Array<{ route: keyof typeof ROUTES; paths: string[] }> = [
  { route: 'GET /api/checkout', paths: ['/api/checkout'] },
  { route: 'GET /api/search', paths: ['/api/search', '/api/search'] },
  { route: 'GET /api/users/:id', paths: ['/api/users/1', '/api/users/2', '/api/users/3'] },
  { route: 'GET /api/flaky', paths: ['/api/flaky'] },
];
const CYCLES = 60;
const build = () => buildPackage(['dist/esm/processors/prometheus.js', 'dist/esm/integrations/fastify.js']);
const startExample = () => startExampleServer('examples/dashboard/server.mjs');
const show = printQuery;

const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });

function get(origin: string, path: string, caller: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get(origin + path, { agent, headers: { 'x-caller': caller } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    }).on('error', reject);
  });
}

test('a real Prometheus scraping the dashboard example answers rate, error ratio, histogram_quantile p99 and CPU per request by route as the load was sent', async (t) => {
  const found = ensurePrometheus();
  if ('skip' in found) {
    t.skip(loudSkip('the real-Prometheus dashboard test', found.skip));
    return;
  }
  build();
  let example: Awaited<ReturnType<typeof startExample>> | undefined;
  let prometheus: PrometheusServer | undefined;
  try {
    try {
      example = await startExample();
    } catch (err) {
      // Another build writing dist/ at the same moment can leave a module half-written: build again, once.
      console.error(`the example did not start (${(err as Error).message.split('\n')[0]}); building again`);
      build();
      example = await startExample();
    }
    const { origin } = example;
    prometheus = await PrometheusServer.start(found.path, JOB, [origin.replace('http://', '')]);
    const sel = `job="${JOB}"`;
    const sent = new Map<string, number>();
    const count = (route: string) => sent.set(route, (sent.get(route) ?? 0) + 1);

    // Warm up every route's series, and wait until Prometheus has scraped them all.
    const deadline = Date.now() + 30_000;
    for (;;) {
      for (const { route, paths } of LOAD) {
        await get(origin, paths[0]!, 'web');
        count(route);
      }
      await sleep(1000);
      const seen = await prometheus.query(`reqprof_requests_total{${sel},route!=""}`);
      // Prometheus's own scrapes of /metrics are requests too: look for the load's routes only.
      const routes = new Set(seen.map((s) => s.metric['route']));
      if (LOAD.every(({ route }) => routes.has(route.split(' ')[1]))) break;
      assert.ok(Date.now() < deadline, `warm-up series never all appeared: ${JSON.stringify(seen.map((s) => s.metric))}`);
    }

    // Load: CYCLES cycles, two requests in flight, from two callers.
    const queue: Array<[string, string]> = [];
    for (let c = 0; c < CYCLES; c++) for (const { route, paths } of LOAD) for (const p of paths) queue.push([route, p]);
    const loadStart = Date.now() / 1000;
    const worker = async (caller: string) => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const r = await get(origin, next[1], caller);
        const spec = ROUTES[next[0] as keyof typeof ROUTES];
        assert.equal(r.status, 'status' in spec ? spec.status : 200, `${next[1]}: ${r.body}`);
        count(next[0]);
      }
    };
    await Promise.all([worker('web'), worker('mobile')]);
    const loadEnd = Date.now() / 1000;

    // Wait for a scrape after two more profiling windows: every request is then in both the tracer's and the profiler's counters.
    const windowsNow = (await prometheus.query(`reqprof_windows_total{${sel}}`))[0]?.value ?? 0;
    await prometheus.waitFor(`reqprof_windows_total{${sel}}`, (s) => (s[0]?.value ?? 0) >= windowsNow + 3);
    const at = loadEnd + 2.5;
    while (Date.now() / 1000 < at + 1) await sleep(250);
    const range = `${Math.ceil(at - loadStart)}s`;
    console.log(`load: ${(loadEnd - loadStart).toFixed(1)} s, ${[...sent.values()].reduce((a, b) => a + b)} requests; range queries at load end + 2.5 s over [${range}]`);

    // Request counts: the counters hold exactly what was sent.
    const totalQuery = `sum by (method) (kitex_server_throughput{${sel},method=~"GET /api/.*"})`;
    const totals = await prometheus.query(totalQuery);
    show('Requests by method since start:', totalQuery, totals);
    assert.deepEqual(Object.fromEntries([...byLabel(totals, 'method')].sort()), Object.fromEntries([...sent].sort()));

    // Rate (README): requests per second by method over the load.
    const rateQuery = `sum by (method) (rate(kitex_server_throughput{${sel},method=~"GET /api/.*"}[${range}]))`;
    const rate = await prometheus.query(rateQuery, at);
    show('Request rate (per second) by method:', rateQuery, rate);
    const rangeSeconds = Number(range.slice(0, -1));
    for (const { route, paths } of LOAD) {
      // The range covers the load (and a little before and after it): rate x range is the load's requests,
      // give or take rate()'s extrapolation to the range's ends.
      const have = (byLabel(rate, 'method').get(route) ?? 0) * rangeSeconds;
      const want = paths.length * CYCLES;
      console.log(`${route}: rate x ${rangeSeconds} s = ${have.toFixed(1)} requests, the load sent ${want}`);
      assert.ok(have > want * 0.7 && have < want * 1.4, `${route}: rate x range = ${have.toFixed(1)}, sent ${want}`);
    }

    // Error ratio (README): the flaky route fails every time, the others never.
    const errorQuery = `sum by (method) (rate(kitex_server_throughput{${sel},status="error"}[${range}])) / sum by (method) (rate(kitex_server_throughput{${sel}}[${range}]))`;
    const errors = await prometheus.query(errorQuery, at);
    show('Error ratio by method:', errorQuery, errors);
    assert.deepEqual([...byLabel(errors, 'method')], [['GET /api/flaky', 1]]);
    const codeQuery = `sum by (code) (kitex_server_throughput{${sel},method="GET /api/flaky"})`;
    assert.deepEqual([...byLabel(await prometheus.query(codeQuery), 'code')], [['500', sent.get('GET /api/flaky')]]);

    // p99 latency (README), in ms: histogram_quantile over the Kitex microsecond buckets.
    const p99Query = `histogram_quantile(0.99, sum by (method, le) (rate(kitex_server_latency_us_bucket{${sel},method=~"GET /api/.*"}[${range}]))) / 1000`;
    const p99 = await prometheus.query(p99Query, at);
    show('p99 latency (ms) by method:', p99Query, p99);
    const p99s = byLabel(p99, 'method');
    assert.equal(p99s.size, LOAD.length);
    for (const [m, ms] of p99s) assert.ok(Number.isFinite(ms) && ms > 0 && ms <= 1000, `${m}: p99 ${ms} ms, within Kitex's buckets (5 ms to 1 s)`);
    // The checkout burns the most CPU per request: its p99 is at least the search's.
    assert.ok(p99s.get('GET /api/checkout')! >= p99s.get('GET /api/search')!, 'checkout is the slowest route');

    // CPU per request by route (README), in ms, against the CPU each route burns.
    const cpuQuery = `1000 * sum by (route) (rate(reqprof_cpu_seconds_total{${sel},route!=""}[${range}])) / sum by (route) (rate(reqprof_requests_total{${sel},route!=""}[${range}]))`;
    const cpu = await prometheus.query(cpuQuery, at);
    show('CPU per request (ms) by route:', cpuQuery, cpu);
    const perRoute = byLabel(cpu, 'route');
    for (const [route, { cpuMs }] of Object.entries(ROUTES)) {
      const have = perRoute.get(route.split(' ')[1]!) ?? 0;
      // The handler's burn plus Fastify and reqprof around it (tenths of a ms), within the sampling error.
      assert.ok(have > cpuMs * 0.7 && have < cpuMs * 1.35 + 0.6, `${route}: ${have.toFixed(2)} ms CPU per request, burns ${cpuMs} ms`);
    }

    // Runtime metrics are on the same endpoint.
    for (const name of ['process_cpu_seconds_total', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
      assert.equal((await prometheus.query(`${name}{${sel}}`)).length, 1, `${name} scraped`);
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
