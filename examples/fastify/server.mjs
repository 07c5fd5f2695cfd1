// reqprof/fastify: a Fastify app whose CPU is reported per caller, route template and tenant.
//   npm run example:fastify     (builds, serves on a free port, loads itself for 12 s)
import Fastify from 'fastify';
import { newProfiler, withProfiler, withProfilerMessageTagging, withProfilerTransInfoTagging } from 'reqprof';
import { reqprofPlugin } from 'reqprof/fastify';
import { PORT, WINDOW_MS, burn, httpLoad, printCpuPerTag, runUntilDone, startLoad } from '../shared/kit.mjs';

const profiler = newProfiler(printCpuPerTag, 0, WINDOW_MS, { samplingIntervalMicros: 1000 });
const app = Fastify({ bodyLimit: 4 * 1024 * 1024, forceCloseConnections: true });

// Transport stage in onRequest (info.route is the route template), JSON
// parsing and validation billed to it, message stage in preHandler.
await app.register(reqprofPlugin(
  withProfiler(profiler),
  withProfilerTransInfoTagging((info) => ({ caller: info.headers['x-caller'] ?? 'unknown', route: info.route ?? 'unmatched' })),
  withProfilerMessageTagging((body) => (body?.tenant ? { tenant: body.tenant } : undefined)),
));

app.get('/api/search', async () => {
  burn(2);
  return { ok: true };
});
app.post('/api/orders', { schema: { body: { type: 'object', required: ['tenant', 'items'] } } }, async (request) => {
  burn(0.2 * request.body.items.length / 1000);
  return { ok: true };
});

await app.listen({ port: PORT, host: '127.0.0.1' });
const { port } = app.server.address();
console.log(`reqprof/fastify example on http://127.0.0.1:${port}`);
const stopLoad = startLoad(httpLoad(port));
runUntilDone(async () => {
  await stopLoad();
  await app.close();
  await profiler.stop();
});
