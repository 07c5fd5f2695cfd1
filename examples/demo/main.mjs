// npm run demo: a real HTTP server on loopback, profiled by reqprof, under load
// from a separate process. Routes cost known, different amounts of CPU; every
// window prints the CPU per tag set next to the truth the server timed itself.
import { fork } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { createTagSet, currentTagsObject, newProfiler, withProfiler, withProfilerMessageTagging, withProfilerTransInfoTagging } from 'reqprof';
import { htmlReportProcessor } from 'reqprof/html-report';
import { reqprofHandler } from 'reqprof/http';
import { printSummary, printWindow, TruthTable } from './table.mjs';

const WINDOWS = Number(process.env.DEMO_WINDOWS ?? 5);
const WINDOW_MS = Number(process.env.DEMO_WINDOW_MS ?? 2000);

// CPU each route burns per request (ms of synchronous work, split around an await).
const COST_MS = { '/checkout': 6, '/search': 1.5, '/profile': 0.5 };

// CPU time of this process in ms: the truth is what the handlers really used,
// even when the machine is busy and the thread is descheduled mid-burst.
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

function burn(ms) {
  const end = cpuMs() + ms;
  let x = 0;
  while (cpuMs() < end) x = crunch(x);
  return x;
}

/** The work itself (what the flame graph and top functions should show), between clock reads. */
function crunch(x) {
  for (let i = 0; i < 20000; i++) x = (x * 31 + i) % 1_000_003;
  return x;
}

const truth = new TruthTable();

// The handler runs with the transport tags (route, tenant: from the URL and a
// header, before the body is read) and the message tags (order size: from the
// decoded JSON body). Every await, timer and callback inside carries them.
async function handle(req, res, order) {
  const route = req.url ?? '/';
  const key = createTagSet({ route, tenant: String(req.headers['x-tenant'] ?? 'unknown') }).key;
  const cost = COST_MS[route] ?? 0.1;
  let t0 = cpuMs();
  burn(cost / 2);
  let spent = cpuMs() - t0;
  await new Promise((r) => setImmediate(r)); // the tags follow the await
  t0 = cpuMs();
  burn(cost / 2);
  spent += cpuMs() - t0;
  truth.add(key, spent);
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ ok: true, items: order?.items?.length ?? 0, tags: currentTagsObject() }));
}

let windowsSeen = 0;
const history = [];
let finish;
const finished = new Promise((r) => (finish = r));

function tableProcessor(profiles, window) {
  if (windowsSeen >= WINDOWS) return; // the short partial window stop() delivers
  windowsSeen++;
  const truthOfWindow = truth.take();
  history.push({ profiles, window, truth: truthOfWindow });
  printWindow(windowsSeen, profiles, window, truthOfWindow);
  if (windowsSeen >= WINDOWS) finish();
}

// A self-contained HTML page (share chart, table, flame graph per tag set), rewritten every window.
const report = htmlReportProcessor({ file: process.env.DEMO_REPORT ?? 'reqprof-report.html' });
// Only full windows go to the page, not the few idle milliseconds stop() delivers at the end.
const fullWindowsToReport = Object.assign((profiles, window) => (window.reason === 'window' ? report(profiles, window) : undefined), { needs: report.needs });
const profiler = newProfiler([tableProcessor, fullWindowsToReport], 0, WINDOW_MS, { samplingIntervalMicros: 2000, topFunctions: 3 });

const server = http.createServer(reqprofHandler(handle,
  withProfiler(profiler),
  // Transport stage: headers only, so the CPU spent reading and decoding the body lands here.
  withProfilerTransInfoTagging((info) => ({ route: info.path, tenant: String(info.headers['x-tenant'] ?? 'unknown') })),
  // Message stage: the decoded body. Its tags are appended for the handler.
  withProfilerMessageTagging((order) => ({ size: (order?.items?.length ?? 0) > 10 ? 'large' : 'small' }))));

await new Promise((r) => server.listen(0, '127.0.0.1', r));
const { port } = server.address();
console.log(`reqprof demo: server on http://127.0.0.1:${port}, ${WINDOWS} windows of ${WINDOW_MS} ms, sampling at ${1e6 / profiler.samplingIntervalMicros} Hz`);
console.log(`CPU per request: ${Object.entries(COST_MS).map(([r, ms]) => `${r} ${ms} ms`).join(', ')}; traffic: /checkout 20%, /search 50%, /profile 30%; tenants acme 50%, globex 30%, initech 20%\n`);

// withProfiler would start the profiler with the first request; start it now so the first window is whole.
const running = profiler.run();
const load = fork(fileURLToPath(new URL('./load.mjs', import.meta.url)), [String(port), '6'], { stdio: 'inherit' });
// Keep the process alive while the demo runs (reqprof's timers never hold it open).
const keepAlive = setInterval(() => {}, 1000);

await finished;
load.send('stop');
await profiler.stop();
await running;
clearInterval(keepAlive);
server.close();
server.closeAllConnections?.();
console.log(`\nengine path: ${profiler.mode}`);
printSummary(history);
console.log(`HTML report (share chart, table, flame graph per tag set): file://${report.file}`);
