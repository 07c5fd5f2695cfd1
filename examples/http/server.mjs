// reqprof/http: a node:http server whose CPU is reported per caller, route and tenant.
//   npm run example:http        (builds, serves on a free port, loads itself for 12 s)
//   PORT=8080 LOAD=0 DURATION_MS=0 npm run example:http   then:
//   curl -H 'x-caller: web' -d '{"tenant":"acme","items":[]}' localhost:8080/api/orders
import http from 'node:http';
import { newProfiler, withProfiler, withProfilerMessageTagging, withProfilerTransInfoTagging } from 'reqprof';
import { reqprofHandler, withBodyLimit } from 'reqprof/http';
import { PORT, WINDOW_MS, burn, httpLoad, printCpuPerTag, runUntilDone, startLoad } from '../shared/kit.mjs';

const profiler = newProfiler(printCpuPerTag, 0, WINDOW_MS, { samplingIntervalMicros: 1000 });

// reqprofHandler reads and decodes the JSON body with the transport tags
// (caller, route), runs the message tagging on it (tenant), then this handler.
const server = http.createServer(reqprofHandler((req, res, body) => {
  const path = new URL(req.url, 'http://x').pathname;
  if (path === '/api/search') burn(2);
  else if (path === '/api/orders' && body) burn(0.2 * body.items.length / 1000);
  else return res.writeHead(404).end();
  res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
},
withProfiler(profiler), // started with the first request
withProfilerTransInfoTagging((info) => ({ caller: info.headers['x-caller'] ?? 'unknown', route: info.path })),
withProfilerMessageTagging((body) => (body?.tenant ? { tenant: body.tenant } : undefined)),
withBodyLimit(4 * 1024 * 1024)));

server.listen(PORT, '127.0.0.1', () => {
  const { port } = server.address();
  console.log(`reqprof/http example on http://127.0.0.1:${port}`);
  const stopLoad = startLoad(httpLoad(port));
  runUntilDone(async () => {
    await stopLoad();
    server.close();
    server.closeAllConnections();
    await profiler.stop();
  });
});
