// The live debug endpoint: a node:http service tagged per route and tenant, with
// reqprof's debug server beside it on loopback (Go's net/http/pprof, for reqprof).
//   npm run example:debug    (builds, serves, loads itself for 12 s, prints what the
//                             endpoint answers, exits)
//   DURATION_MS=0 DEBUG_PORT=6060 npm run example:debug   serves until Ctrl-C; then open
//   http://127.0.0.1:6060/debug/reqprof/ or run
//   go tool pprof -tags http://127.0.0.1:6060/debug/reqprof/profile
// Environment: PORT, DEBUG_PORT (default 0: free ports), DURATION_MS (default 12000;
// 0: until Ctrl-C), LOAD=0 (send nothing), WINDOW_MS (default 3000).
import http from 'node:http';
import { newProfiler, withProfiler, withProfilerTransInfoTagging } from 'reqprof';
import { debugProcessor, reqprofListener, startDebugServer } from 'reqprof/http';
import { DURATION_MS, PORT, WINDOW_MS, burn, runUntilDone, startLoad } from '../shared/kit.mjs';

// debugProcessor keeps the last windows (and their labelled profiles) for the endpoint.
const profiler = newProfiler(debugProcessor, 0, WINDOW_MS, { samplingIntervalMicros: 1000 });

const ROUTES = { '/api/invoice': 6, '/api/search': 2, '/api/health': 0.2 };

// Tag the route from a fixed table, never the raw URL: unknown paths share one value.
const server = http.createServer(reqprofListener((req, res) => {
  const cost = ROUTES[new URL(req.url, 'http://x').pathname];
  if (cost === undefined) return res.writeHead(404).end();
  burn(cost);
  res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
},
withProfiler(profiler),
withProfilerTransInfoTagging((info) => ({
  route: info.path in ROUTES ? info.path : 'unmatched',
  tenant: info.headers['x-tenant'] ?? 'none',
}))));

server.listen(PORT, '127.0.0.1', async () => {
  const { port } = server.address();
  const debug = await startDebugServer(profiler, { port: Number(process.env.DEBUG_PORT ?? 0) });
  console.log(`service on http://127.0.0.1:${port}`);
  console.log(`debug endpoint on ${debug.url}:`);
  console.log(`  ${debug.url}/debug/reqprof/               the HTML report of the recent windows`);
  console.log(`  go tool pprof -tags ${debug.url}/debug/reqprof/profile`);
  console.log(`  curl ${debug.url}/debug/reqprof/windows.json`);
  console.log(`  ${debug.url}/debug/pprof/profile?seconds=30   what Grafana Alloy or Parca scrape`);
  console.log(`  ${debug.url}/metrics`);

  const tenants = ['acme', 'globex', 'initech'];
  const paths = Object.keys(ROUTES);
  let i = 0;
  const stopLoad = startLoad(async () => {
    i++;
    const res = await fetch(`http://127.0.0.1:${port}${paths[i % paths.length]}`, { headers: { 'x-tenant': tenants[Math.floor(i / paths.length) % tenants.length] } });
    await res.arrayBuffer();
  });

  runUntilDone(async () => {
    await stopLoad();
    await profiler.stop();
    if (DURATION_MS > 0) {
      // What the endpoint answers now: the last full window, per tag set.
      const { windows } = await (await fetch(`${debug.url}/debug/reqprof/windows.json`)).json();
      const full = windows.filter((w) => w.window.reason === 'window').at(-1) ?? windows.at(-1);
      console.log(`\n/debug/reqprof/windows.json: ${windows.length} windows; the last full one:`);
      for (const p of full?.profiles ?? []) console.log(`  ${(p.percent * 100).toFixed(1).padStart(5)}%  ${p.key || '(untagged)'}`);
      const profile = await fetch(`${debug.url}/debug/reqprof/profile`);
      console.log(`/debug/reqprof/profile: HTTP ${profile.status}, ${(await profile.arrayBuffer()).byteLength} bytes of gzipped pprof`);
    }
    await debug.close();
    server.close();
    server.closeAllConnections();
  });
});
