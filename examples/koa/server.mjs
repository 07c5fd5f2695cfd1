// reqprof/koa: a Koa app whose CPU is reported per caller, route and tenant.
//   npm run example:koa         (builds, serves on a free port, loads itself for 12 s)
import Koa from 'koa';
import { bodyParser } from '@koa/bodyparser';
import { newProfiler, withProfiler, withProfilerMessageTagging, withProfilerTransInfoTagging } from 'reqprof';
import { reqprofMiddleware, withBodyParser } from 'reqprof/koa';
import { PORT, WINDOW_MS, burn, httpLoad, printCpuPerTag, runUntilDone, startLoad } from '../shared/kit.mjs';

const profiler = newProfiler(printCpuPerTag, 0, WINDOW_MS, { samplingIntervalMicros: 1000 });
const app = new Koa();

// One middleware, first: transport stage, the body parser (billed to
// caller+route), the message stage on ctx.request.body (adds tenant).
app.use(reqprofMiddleware(
  withProfiler(profiler),
  withProfilerTransInfoTagging((info) => ({ caller: info.headers['x-caller'] ?? 'unknown', route: info.path })),
  withProfilerMessageTagging((body) => (body?.tenant ? { tenant: body.tenant } : undefined)),
  withBodyParser(bodyParser({ jsonLimit: '4mb' })),
));

app.use(async (ctx) => {
  if (ctx.path === '/api/search') burn(2);
  else if (ctx.path === '/api/orders' && ctx.method === 'POST') burn(0.2 * ctx.request.body.items.length / 1000);
  else return;
  ctx.body = { ok: true };
});

const server = app.listen(PORT, '127.0.0.1', () => {
  const { port } = server.address();
  console.log(`reqprof/koa example on http://127.0.0.1:${port}`);
  const stopLoad = startLoad(httpLoad(port));
  runUntilDone(async () => {
    await stopLoad();
    server.close();
    server.closeAllConnections();
    await profiler.stop();
  });
});
