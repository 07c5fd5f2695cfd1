// reqprof/express: an Express app whose CPU is reported per caller, route and tenant.
//   npm run example:express     (builds, serves on a free port, loads itself for 12 s)
import express from 'express';
import { newProfiler, withProfiler, withProfilerMessageTagging, withProfilerTransInfoTagging } from 'reqprof';
import { reqprofMiddleware, withBodyParser } from 'reqprof/express';
import { PORT, WINDOW_MS, burn, httpLoad, printCpuPerTag, runUntilDone, startLoad } from '../shared/kit.mjs';

const profiler = newProfiler(printCpuPerTag, 0, WINDOW_MS, { samplingIntervalMicros: 1000 });
const app = express();

// One middleware, first: transport stage, then express.json() (billed to
// caller+route), then the message stage on req.body (adds tenant).
app.use(reqprofMiddleware(
  withProfiler(profiler),
  withProfilerTransInfoTagging((info) => ({ caller: info.headers['x-caller'] ?? 'unknown', route: info.path })),
  withProfilerMessageTagging((body) => (body?.tenant ? { tenant: body.tenant } : undefined)),
  withBodyParser(express.json({ limit: '4mb' })),
));

app.get('/api/search', (_req, res) => {
  burn(2);
  res.json({ ok: true });
});
app.post('/api/orders', async (req, res) => {
  await new Promise((r) => setTimeout(r, 1)); // the tags follow awaits and timers
  burn(0.2 * req.body.items.length / 1000);
  res.json({ ok: true });
});

const server = app.listen(PORT, '127.0.0.1', () => {
  const { port } = server.address();
  console.log(`reqprof/express example on http://127.0.0.1:${port}`);
  const stopLoad = startLoad(httpLoad(port));
  runUntilDone(async () => {
    await stopLoad();
    server.close();
    server.closeAllConnections();
    await profiler.stop();
  });
});
