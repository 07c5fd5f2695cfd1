/**
 * Node's built-in `fetch` over its own copy of undici (this file never loads
 * the npm package, which would install its own global dispatcher), against a
 * real HTTP server on loopback: whom the CPU of undici's response parsing on a
 * kept-alive connection is billed to, and whose tags the continuation carries.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { bindDrivers, type DriverBindings } from '../../src/bindings/index.js';
import { lookup, newProfiler, tag } from '../../src/index.js';
import { enginesHere } from '../helpers/engines.js';
import type { Profile } from 'pprof-format';
import { assertFair, judge, runService, tableRow, type Measured } from './workload.js';

const BODY = JSON.stringify(Array.from({ length: 300 }, (_, i) => ({ id: i, name: `item-${i}`, tags: ['a', 'b', 'c'] })));
const STYLE = 'await fetch(url) then await res.json() (built-in fetch, Node\'s own undici)';

/**
 * CPU of undici's socket reads (samples under its `readMore`: the parser and
 * the response callbacks it calls), by the tenant billed ('' untagged).
 */
function undiciCpuByTenant(m: Measured): Map<string, number> {
  const byTenant = new Map<string, number>();
  for (const w of m.windows) {
    for (const p of (w.window.profiles ?? []) as Profile[]) {
      const str = (i: unknown) => p.stringTable.strings[Number(i)] ?? '';
      const cpu = p.sampleType.findIndex((t) => str(t.type) === 'cpu');
      const undiciFns = new Set(p.function.filter((f) => str(f.name) === 'readMore' && str(f.filename).includes('node:internal/deps/undici/')).map((f) => Number(f.id)));
      const undiciLocs = new Set(p.location.filter((l) => l.line.some((ln) => undiciFns.has(Number(ln.functionId)))).map((l) => Number(l.id)));
      for (const sample of p.sample) {
        if (!sample.locationId.some((id) => undiciLocs.has(Number(id)))) continue;
        const label = sample.label.find((l) => str(l.key) === 'tenant');
        const tenant = label ? str(label.str) : '';
        byTenant.set(tenant, (byTenant.get(tenant) ?? 0) + Number(sample.value[cpu]));
      }
    }
  }
  return byTenant;
}

/** The service fetches from a server of its own (a new origin: connections none of the other cases opened). */
async function measure(engine: 'cped' | 'async-hooks') {
  const server = http.createServer((_req, res) => { res.setHeader('content-type', 'application/json'); res.end(BODY); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/items`;
  try {
    const m = await runService({ style: 'promise', run: async () => (await fetch(url)).json() }, engine);
    const undici = undiciCpuByTenant(m);
    let all = 0;
    for (const v of undici.values()) all += v;
    const share = (t: string) => (undici.get(t) ?? 0) / all;
    const v = judge(m);
    const report = `${v.report}\n  undici's socket reads: ${(all / 1e6).toFixed(0)} ms of CPU billed to: ${[...undici].map(([t, c]) => `${t || '(untagged)'} ${((100 * c) / all).toFixed(2)}%`).join(', ')}`;
    return { ...v, report, undiciShare: share };
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

test('this process runs Node\'s own undici (no npm undici loaded, so the global dispatcher is Node\'s)', () => {
  const loaded = Object.keys(createRequire(import.meta.url).cache).filter((f) => /[\\/]node_modules[\\/]undici[\\/]/.test(f));
  assert.deepEqual(loaded, []);
});

for (const engine of enginesHere()) {
  test(`[${engine}] without bindDrivers(), the requests that opened fetch's connections are billed undici's parsing of later responses`, async () => {
    const v = await measure(engine);
    console.log(`[${engine}] unbound ${STYLE}\n${v.report}\n${tableRow('built-in fetch (no bindings)', STYLE, engine, v)}`);
    // Continuations carry the caller's tags (promises do): the burns are right either way.
    assert.ok(v.misattributed <= 0.01, v.report);
    assert.ok(v.attributed >= 0.97, v.report);
    // undici's reads are not: 4 of 504 requests opened connections and are billed far more than 4/504 of them.
    assert.ok(v.undiciShare('opener') > 0.05, `the openers are billed undici's reads on their connections\n${v.report}`);
  });
}

describe('with bindDrivers()', () => {
  let bindings: DriverBindings | undefined;
  const fetchBefore = globalThis.fetch;
  test('bindDrivers() binds the built-in fetch; unbind() puts globalThis.fetch back', () => {
    const b = bindDrivers();
    assert.ok(b.patched.has('globalThis.fetch'), [...b.patched].join(', '));
    assert.notEqual(globalThis.fetch, fetchBefore);
    assert.equal(globalThis.fetch.name, 'fetch');
    b.unbind();
    assert.equal(globalThis.fetch, fetchBefore);
    bindings = bindDrivers();
  });
  after(() => bindings?.unbind());

  for (const engine of enginesHere()) {
    test(`[${engine}] each response is parsed as the request it answers: undici's headers callback sees that request's tags, for every one of 300 responses over a shared keep-alive pool`, async () => {
      const server = http.createServer((req, res) => res.end(JSON.stringify({ path: req.url, pad: 'x'.repeat(2000) })));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const seen: Array<{ path: string; tenant: unknown }> = [];
      // Published by undici from its parser, once a response's head is parsed.
      const onHeaders = (m: unknown) => {
        const { request } = m as { request: { origin?: unknown; path: string } };
        if (String(request.origin).startsWith(origin)) seen.push({ path: request.path, tenant: lookup('tenant') });
      };
      diagnosticsChannel.subscribe('undici:request:headers', onHeaders);
      const profiler = newProfiler(() => {}, 0, 60_000, { engine });
      const running = profiler.run();
      try {
        let next = 0;
        await Promise.all(Array.from({ length: 12 }, async () => {
          while (next < 300) {
            const tenant = ['a', 'b', 'c'][next++ % 3]!;
            await tag({ tenant }, async () => (await fetch(`${origin}/${tenant}`)).json());
          }
        }));
      } finally {
        diagnosticsChannel.unsubscribe('undici:request:headers', onHeaders);
        await profiler.stop();
        await running;
        server.closeAllConnections();
        await new Promise((r) => server.close(r));
      }
      assert.equal(seen.length, 300);
      const wrong = seen.filter((s) => s.path !== `/${String(s.tenant)}`);
      assert.deepEqual(wrong, [], `${wrong.length} of 300 responses parsed as another request (or untagged)`);
    });

    test(`[${engine}] ${STYLE}: every tenant's CPU is billed to that tenant; nothing to the requests that opened the connections`, async () => {
      const v = await measure(engine);
      console.log(`[${engine}] ${STYLE}\n${v.report}\n${tableRow('built-in fetch', STYLE, engine, v)}`);
      assertFair(v, v.samples);
      // Each response is read as its request: the openers get about their 4 of 504, and most reads are billed.
      assert.ok(v.undiciShare('opener') < 0.03, v.report);
      assert.ok(v.undiciShare('') < 0.4, v.report);
    });
  }
});
