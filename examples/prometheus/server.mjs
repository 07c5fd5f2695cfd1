// An HTTP service that reports per-route CPU to Prometheus with reqprof.
//   npm run example:prometheus          (builds, then listens on http://127.0.0.1:9464)
//   curl -H 'x-caller: web' localhost:9464/api/checkout
//   curl localhost:9464/metrics | grep reqprof_
// Environment: PORT (0 picks a free port), HOST, REQPROF_WINDOW_MS (default 10000),
// REQPROF_SAMPLING_US (default 10000).
import http from 'node:http';
import client from 'prom-client';
import { newProfiler, tag } from 'reqprof';
import { prometheusProcessor } from 'reqprof/prometheus';
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
  console.log(`reqprof prometheus example listening on http://${host}:${actual} (metrics at /metrics, window ${windowMs} ms)`);
});

async function shutdown() {
  server.close();
  server.closeAllConnections?.();
  await profiler.stop();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
