// A dashboard-ready service: one /metrics with request metrics (throughput,
// errors, latency per method, Kitex style), CPU per route and caller (and
// requests, so CPU per request), and Node runtime metrics, side by side.
//   npm run example:dashboard   (builds, listens on http://127.0.0.1:9465, calls itself for 12 s
//                                through traced fetch, prints a few of its series, exits)
//   LOAD=0 DURATION_MS=0 npm run example:dashboard   serves until Ctrl-C; then:
//   curl -H 'x-caller: web' localhost:9465/api/checkout
//   curl localhost:9465/metrics
// Environment: PORT (0 picks a free port), HOST, REQPROF_WINDOW_MS (default 10000),
// REQPROF_SAMPLING_US (default 10000), DURATION_MS (default 12000; 0: until Ctrl-C),
// LOAD=0 (send nothing; the load calls itself with fetch, which also fills the
// client-side metrics).
import Fastify from 'fastify';
import client from 'prom-client';
import {
  newProfiler, traceHttpClients, withCallerHeader, withProfiler, withProfilerTransInfoTagging, withServiceName, withTracer,
} from 'reqprof';
import { reqprofPlugin } from 'reqprof/fastify';
import { prometheusProcessor, prometheusTracer } from 'reqprof/prometheus';
import { burnCpu } from '../prometheus/routes.mjs';
import { DURATION_MS, LOAD, runUntilDone } from '../shared/kit.mjs';
import { ROUTES } from './routes.mjs';

const port = Number(process.env.PORT ?? 9465);
const host = process.env.HOST ?? '127.0.0.1';
const windowMs = Number(process.env.REQPROF_WINDOW_MS ?? 10_000);
const samplingIntervalMicros = Number(process.env.REQPROF_SAMPLING_US ?? 10_000);

// Runtime metrics: prom-client's own (process CPU and memory, event loop lag, GC, heap spaces).
client.collectDefaultMetrics();

// CPU per route and caller, and requests per route and caller (the server plugin counts them).
const profiler = newProfiler(prometheusProcessor({ labels: ['route', 'caller'], maxValuesPerLabel: 50 }), 0, windowMs, { samplingIntervalMicros });
// Request metrics: kitex_server_throughput and kitex_server_latency_us (and kitex_client_* for fetch calls).
const requests = prometheusTracer({ codeLabel: true, maxValuesPerLabel: 50 });

const app = Fastify({ forceCloseConnections: true });
await app.register(reqprofPlugin(
  withProfiler(profiler),
  // The route template (bounded) and the caller header: the CPU labels.
  withProfilerTransInfoTagging((info) => ({ route: info.route ?? 'unmatched', caller: info.headers['x-caller'] ?? 'unknown' })),
  withTracer(requests),
  withServiceName('dashboard-example'),
  withCallerHeader('x-caller'),
));

for (const [route, { cpuMs, status }] of Object.entries(ROUTES)) {
  const [method, url] = route.split(' ');
  app.route({
    method,
    url,
    handler: async (_request, reply) => {
      burnCpu(cpuMs);
      if (status !== undefined) return reply.code(status).send({ error: 'flaky' });
      return { route: url, cpuMs };
    },
  });
}
app.get('/metrics', async (_request, reply) => reply.type(client.register.contentType).send(await client.register.metrics()));

await app.listen({ port, host });
const { port: actual } = app.server.address();
console.log(`reqprof dashboard example listening on http://${host}:${actual} (metrics at /metrics, window ${windowMs} ms)`);

// Optional self-load through fetch: its calls are traced too (kitex_client_*).
let stopLoad = async () => {};
if (LOAD) {
  const clients = traceHttpClients(withTracer(requests), withServiceName('dashboard-load'), withCallerHeader('x-caller'));
  let stopped = false;
  const paths = ['/api/checkout', '/api/search', '/api/users/1', '/api/users/2', '/api/flaky'];
  const loop = (async () => {
    for (let i = 0; !stopped; i++) {
      await fetch(`http://${host}:${actual}${paths[i % paths.length]}`).then((r) => r.arrayBuffer(), () => {});
    }
  })();
  stopLoad = async () => {
    stopped = true;
    await loop;
    clients.stop();
  };
}

runUntilDone(async () => {
  await stopLoad();
  await profiler.stop();
  if (DURATION_MS > 0) {
    const text = await client.register.metrics();
    const shown = text.split('\n').filter((l) => /^(kitex_server_throughput|reqprof_cpu_seconds_total|reqprof_requests_total)\{/.test(l));
    console.log(`\nsome series on http://${host}:${actual}/metrics after ${DURATION_MS / 1000} s:\n${shown.join('\n')}`);
  }
  await app.close();
});
