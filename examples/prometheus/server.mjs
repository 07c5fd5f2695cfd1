// An HTTP service that reports per-route CPU to Prometheus with reqprof.
//   npm run example:prometheus   (builds, listens on http://127.0.0.1:9464, calls itself for 12 s,
//                                 prints its reqprof_ metrics, exits)
//   LOAD=0 DURATION_MS=0 npm run example:prometheus   serves until Ctrl-C; then:
//   curl -H 'x-caller: web' localhost:9464/api/checkout
//   curl localhost:9464/metrics | grep reqprof_
// Environment: PORT (0 picks a free port), HOST, REQPROF_WINDOW_MS (default 10000),
// REQPROF_SAMPLING_US (default 10000), DURATION_MS (default 12000; 0: until Ctrl-C),
// LOAD=0 (send nothing).
import http from 'node:http';
import client from 'prom-client';
import { newProfiler, tag } from 'reqprof';
import { prometheusProcessor } from 'reqprof/prometheus';
import { DURATION_MS, runUntilDone, startLoad } from '../shared/kit.mjs';
import { ROUTE_COST_MS, burnCpu } from './routes.mjs';

const port = Number(process.env.PORT ?? 9464);
const host = process.env.HOST ?? '127.0.0.1';
const windowMs = Number(process.env.REQPROF_WINDOW_MS ?? 10_000);
const samplingIntervalMicros = Number(process.env.REQPROF_SAMPLING_US ?? 10_000);

// prom-client's usual process metrics, beside reqprof's, on the default registry.
client.collectDefaultMetrics();

// `route` and `caller` tags become labels. `caller` comes from a request header
// (user input): values beyond 50 distinct ones are reported as "__overflow__".
const profiler = newProfiler(
  prometheusProcessor({ labels: ['route', 'caller'], maxValuesPerLabel: 50 }),
  0,
  windowMs,
  { samplingIntervalMicros },
);
void profiler.run();

const server = http.createServer((req, res) => {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (path === '/metrics') {
    // Untagged: serving metrics is not a request we want to bill to a route.
    client.register.metrics().then(
      (text) => res.writeHead(200, { 'content-type': client.register.contentType }).end(text),
      (err) => res.writeHead(500).end(String(err)),
    );
    return;
  }
  const cost = ROUTE_COST_MS[path];
  if (cost === undefined) {
    res.writeHead(404).end('not found\n');
    return;
  }
  const caller = String(req.headers['x-caller'] ?? 'unknown');
  // Everything the handler does, synchronously or after an await, is billed to these tags.
  tag({ route: path, caller }, () => {
    burnCpu(cost);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ route: path, cpuMs: cost }) + '\n');
  });
});

server.listen(port, host, () => {
  const { port: actual } = server.address();
  const origin = `http://${host}:${actual}`;
  console.log(`reqprof prometheus example listening on ${origin} (metrics at /metrics, window ${windowMs} ms)`);
  // Its own load: the three routes in turn, from two callers.
  const paths = Object.keys(ROUTE_COST_MS);
  let i = 0;
  const stopLoad = startLoad(async () => {
    i++;
    const res = await fetch(`${origin}${paths[i % paths.length]}`, { headers: { 'x-caller': i % 4 ? 'web' : 'mobile' } });
    await res.arrayBuffer();
  });
  runUntilDone(async () => {
    await stopLoad();
    // Deliver the partial window, then show what a Prometheus scrape would read.
    await profiler.stop();
    if (DURATION_MS > 0) {
      const text = await client.register.metrics();
      console.log(`\nreqprof_ series on ${origin}/metrics after ${DURATION_MS / 1000} s:`);
      console.log(text.split('\n').filter((l) => l.startsWith('reqprof_cpu_seconds_total') || l.startsWith('reqprof_requests_total')).join('\n'));
    }
    server.close();
    server.closeAllConnections?.();
  });
});
