// What the integration examples share: CPU work of known cost, a processor
// that prints CPU per tag set, a small load generator that calls the example
// server itself, and a bounded run that also stops on Ctrl-C.
//
// Environment: PORT (default 0, a free port), DURATION_MS (default 12000;
// 0 runs until Ctrl-C), LOAD=0 (serve only, send nothing: use curl),
// WINDOW_MS (default 3000).
import { parseKey } from 'reqprof';

export const PORT = Number(process.env.PORT ?? 0);
export const DURATION_MS = Number(process.env.DURATION_MS ?? 12_000);
export const WINDOW_MS = Number(process.env.WINDOW_MS ?? 3000);
export const LOAD = process.env.LOAD !== '0';

/** Spins the CPU for `ms` (what a handler's real work would cost). */
export function burn(ms) {
  const end = performance.now() + ms;
  let x = 0;
  while (performance.now() < end) x = (x * 31 + 7) % 1_000_003;
  return x;
}

/** An order with `items` line items: a big JSON body whose decoding costs CPU. */
export function makeOrder(tenant, items) {
  return {
    tenant,
    items: Array.from({ length: items }, (_, i) => ({ sku: `sku-${i}`, qty: 1 + (i % 5), price: (i * 37) % 1000 / 10 })),
  };
}

function label(key) {
  if (key === '') return '(untagged: the load generator, the runtime)';
  const t = parseKey(key);
  const parts = [];
  for (let i = 0; i < t.length; i += 2) parts.push(`${t[i]}=${t[i + 1]}`);
  return parts.join(' ');
}

/** A processor that prints each window as a table of CPU per tag set. */
export function printCpuPerTag(profiles, window) {
  console.log(`\n-- window of ${(window.durationMs / 1000).toFixed(1)} s: ${(window.totalCpu / 1e6).toFixed(0)} ms CPU, ` +
    `${window.samples} samples, tags via ${window.mode}`);
  for (const p of [...profiles].sort((a, b) => b.value - a.value)) {
    // `requests`: counted by the server integrations, so CPU per request is one division.
    const perRequest = p.requests ? `  ${String(p.requests).padStart(5)} req, ${(p.value / 1e6 / p.requests).toFixed(2)} ms/req` : '';
    console.log(`  ${(p.percent * 100).toFixed(1).padStart(5)}%  ${(p.value / 1e6).toFixed(0).padStart(6)} ms  ${label(p.key)}${perRequest}`);
  }
}

/**
 * Calls `step()` in a loop (one request at a time) until `stop` is set.
 * Failures are printed, not fatal: the example keeps serving.
 */
export function startLoad(step) {
  let stopped = !LOAD;
  const done = (async () => {
    while (!stopped) {
      try {
        await step();
      } catch (err) {
        console.error('load request failed:', err?.message ?? err);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  })();
  return async () => {
    stopped = true;
    await done;
  };
}

/** Runs until DURATION_MS has passed or Ctrl-C, then calls `shutdown` (which stops the load, server and profiler). */
export function runUntilDone(shutdown) {
  let closing = false;
  const finish = async () => {
    if (closing) return;
    closing = true;
    await shutdown();
    process.exit(0);
  };
  if (DURATION_MS > 0) setTimeout(finish, DURATION_MS).unref();
  process.on('SIGINT', finish);
  process.on('SIGTERM', finish);
}

/** POSTs or GETs JSON on the example's own server (a real HTTP client over loopback). */
export async function callJson(port, path, { body, caller = 'web' } = {}) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'x-caller': caller, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body,
  });
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
}

/** The HTTP examples' shared load: searches, and big orders from two tenants. */
export function httpLoad(port) {
  const acme = JSON.stringify(makeOrder('acme', 20_000));
  const globex = JSON.stringify(makeOrder('globex', 5_000));
  let i = 0;
  return async () => {
    i++;
    await callJson(port, `/api/search?q=${i}`, { caller: i % 3 ? 'web' : 'mobile' });
    await callJson(port, '/api/orders', { body: i % 2 ? acme : globex, caller: 'web' });
  };
}
