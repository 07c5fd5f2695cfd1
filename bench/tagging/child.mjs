// Tagging micro-benchmark child: nanoseconds per synchronous call of each
// operation on the request path, in this process (one Node version, one engine).
// The profiler runs for the "profiler on" rows (100 Hz, the engine this Node
// picks); the others run with no sampler.
import { AsyncLocalStorage } from 'node:async_hooks';
import { sendReady, serve } from '../lib/harness.mjs';
import { newProfiler, tag, createTagSet } from 'reqprof';
import { deriveTags } from '../../dist/esm/tag-cache.js';

const TENANTS = ['acme', 'globex', 'initech', 'umbrella', 'hooli'];
const als = new AsyncLocalStorage();
const noop = () => 0;

/** ns per call of `fn(i)`, after a warm-up, best of a few timed runs (GC pauses excluded that way). */
function perCall(fn, n) {
  for (let i = 0; i < n / 4; i++) fn(i);
  let best = Infinity;
  for (let run = 0; run < 5; run++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn(i);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / n);
  }
  return best;
}

const OPS = {
  // One AsyncLocalStorage frame: what any tag propagation across awaits costs at least.
  'als.run': (i) => als.run(i, noop),
  // Parsing, sorting and keying the tags every time (no memo).
  createTagSet: (i) => createTagSet({ route: '/orders', tenant: TENANTS[i % 5] }),
  // The memo tag() uses: the same base and input give the same TagSet.
  deriveTags: (i) => deriveTags(undefined, { route: '/orders', tenant: TENANTS[i % 5] }),
  'tag()': (i) => tag({ route: '/orders', tenant: TENANTS[i % 5] }, noop),
  'tag() nested': (i) => tag({ route: '/orders' }, () => tag({ tenant: TENANTS[i % 5] }, noop)),
};

async function measure({ profiler, n }) {
  let p;
  if (profiler) {
    p = newProfiler(() => {}, 0, 60_000, { samplingIntervalMicros: 10_000 });
    void p.run();
    while (p.state !== 'running' || p.mode === undefined) await new Promise((r) => setTimeout(r, 5));
  }
  const out = { mode: p?.mode ?? 'off' };
  for (const [name, fn] of Object.entries(OPS)) out[name] = perCall(fn, n);
  await p?.stop();
  return out;
}

serve({ measure });
sendReady({ node: process.version });
