// Route-mechanism micro-benchmark child: CPU per request of the ways a request
// can carry its route, with the profiler running (this Node's engine path).
// Mean CPU over many calls (process.cpuUsage), so deferred costs such as the
// garbage collection of per-request CPED holders are counted.
import { sendReady, serve } from '../lib/harness.mjs';
import { newProfiler } from 'reqprof';
import { runWithTags } from '../../dist/esm/context.js';
import { deriveTags } from '../../dist/esm/tag-cache.js';
import { LateRouteTags } from '../../dist/esm/routes/late-route.js';

const TENANTS = ['acme', 'globex', 'initech', 'umbrella', 'hooli'];
const ROUTES = ['/api/users/:id', '/api/orders', '/health'];
const noop = () => 0;
const base = (i) => deriveTags(undefined, ['method', 'GET', 'tenant', TENANTS[i % 5]]);

const OPS = {
  // The route known when the request starts (Fastify): one shared tag set, one frame.
  'shared route': (i) => runWithTags(deriveTags(base(i), ['route', ROUTES[i % 3]]), noop),
  // The route known later (Express, Koa): a per-request LateRouteTags, settled at the end.
  'late route': (i) => {
    const t = new LateRouteTags(base(i));
    runWithTags(t, noop);
    t.settle(ROUTES[i % 3]);
  },
  // A request with a body: the request listener and three body events ('data', 'end', 'close') each enter the tags.
  'shared route ×4': (i) => {
    const t = deriveTags(base(i), ['route', ROUTES[i % 3]]);
    for (let k = 0; k < 4; k++) runWithTags(t, noop);
  },
  'late route ×4': (i) => {
    const t = new LateRouteTags(base(i));
    for (let k = 0; k < 4; k++) runWithTags(t, noop);
    t.settle(ROUTES[i % 3]);
  },
};

/** Mean CPU ns per call over `n` calls, after a warm-up. */
function cpuPerCall(fn, n) {
  for (let i = 0; i < n / 4; i++) fn(i);
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) fn(i);
  const c = process.cpuUsage(c0);
  return ((c.user + c.system) * 1000) / n;
}

async function measure({ n }) {
  const p = newProfiler(() => {}, 0, 60_000, { samplingIntervalMicros: 10_000 });
  void p.run();
  while (p.state !== 'running' || p.mode === undefined) await new Promise((r) => setTimeout(r, 5));
  const out = { mode: p.mode };
  for (const [name, fn] of Object.entries(OPS)) out[name] = cpuPerCall(fn, n);
  await p.stop();
  return out;
}

serve({ measure });
sendReady({ node: process.version });
