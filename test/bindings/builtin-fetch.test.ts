/**
 * Node's built-in `fetch` over its own copy of undici (this file never loads
 * the npm package, which would install its own global dispatcher), against a
 * real HTTP server on loopback: whom the CPU of undici's response parsing on a
 * kept-alive connection is billed to, and whose tags the continuation carries.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { bindDrivers, type DriverBindings } from '../../src/bindings/index.js';
import { enginesHere } from '../helpers/engines.js';
import { assertFair, judge, runService, tableRow } from './workload.js';

const BODY = JSON.stringify(Array.from({ length: 300 }, (_, i) => ({ id: i, name: `item-${i}`, tags: ['a', 'b', 'c'] })));
const STYLE = 'await fetch(url) then await res.json() (built-in fetch, Node\'s own undici)';

/** The service fetches from a server of its own (a new origin: connections none of the other cases opened). */
async function measure(engine: 'cped' | 'async-hooks') {
  const server = http.createServer((_req, res) => { res.setHeader('content-type', 'application/json'); res.end(BODY); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/items`;
  try {
    return judge(await runService({ style: 'promise', run: async () => (await fetch(url)).json() }, engine));
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
    // The parsing is not: the openers' row read 2.0-6.4% for 0.6-0.8% of their own CPU (bound 0.4).
    assert.ok(v.opener && v.opener.measured > v.opener.truth + v.opener.bound, `the openers' row is inflated without the bindings\n${v.report}`);
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
    test(`[${engine}] ${STYLE}: every tenant's CPU is billed to that tenant; nothing to the requests that opened the connections`, async () => {
      const v = await measure(engine);
      console.log(`[${engine}] ${STYLE}\n${v.report}\n${tableRow('built-in fetch', STYLE, engine, v)}`);
      assertFair(v, v.samples);
    });
  }
});
