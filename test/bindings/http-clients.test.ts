/**
 * HTTP clients with pooled keep-alive connections (node:http Agent, global
 * fetch over the npm undici, undici Pool) against a real HTTP server on
 * loopback: whose tags the CPU of a response's callback, continuation and
 * parsing carries. This file imports the npm `undici`, whose global Agent
 * Node's `fetch` then uses; fetch over Node's own undici is in
 * builtin-fetch.test.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent as UndiciAgent, Pool as UndiciPool, getGlobalDispatcher, request as undiciRequest, setGlobalDispatcher } from 'undici';
import { bindDrivers, type DriverBindings } from '../../src/bindings/index.js';
import { enginesHere } from '../helpers/engines.js';
import { assertFair, judge, runService, tableRow, type Io } from './workload.js';

let server: http.Server;
let url: string;
const BODY = JSON.stringify(Array.from({ length: 300 }, (_, i) => ({ id: i, name: `item-${i}`, tags: ['a', 'b', 'c'] })));

before(async () => {
  // Started outside any request: its sockets and handlers are untagged.
  server = http.createServer((_req, res) => { res.setHeader('content-type', 'application/json'); res.end(BODY); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/items`;
});
after(async () => { server.closeAllConnections(); await new Promise((r) => server.close(r)); });

interface Case { io: Io; close(): Promise<unknown> }

const styles: Record<string, () => Case> = {
  'http.get(url, { agent: keep-alive Agent of 4 sockets }, callback)': () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    return {
      io: {
        style: 'callback',
        run: (done) => {
          http.get(url, { agent }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => { JSON.parse(Buffer.concat(chunks).toString()); done(); });
          }).on('error', done);
        },
      },
      close: async () => agent.destroy(),
    };
  },
  'await fetch(url) then await res.json() (global fetch over the npm undici\'s default Agent)': () => ({
    io: { style: 'promise', run: async () => (await fetch(url)).json() },
    close: async () => {},
  }),
  'await fetch(url) then await res.json() (global fetch over setGlobalDispatcher(new undici.Agent({ connections: 4 })))': () => {
    const previous = getGlobalDispatcher();
    const agent = new UndiciAgent({ connections: 4 });
    setGlobalDispatcher(agent);
    return {
      io: { style: 'promise', run: async () => (await fetch(url)).json() },
      close: async () => { setGlobalDispatcher(previous); await agent.close(); },
    };
  },
  'await undici.request(url, { dispatcher: Pool of 4 }) then await body.json()': () => {
    const pool = new UndiciPool(new URL(url).origin, { connections: 4 });
    return {
      io: { style: 'promise', run: async () => (await undiciRequest(url, { dispatcher: pool })).body.json() },
      close: () => pool.close(),
    };
  },
};

async function measure(style: string, engine: 'cped' | 'async-hooks') {
  const c = styles[style]!();
  try {
    return judge(await runService(c.io, engine));
  } finally {
    await c.close();
  }
}

const AGENT = 'http.get(url, { agent: keep-alive Agent of 4 sockets }, callback)';
const FETCH = 'await fetch(url) then await res.json() (global fetch over the npm undici\'s default Agent)';

// Before bindDrivers(): the npm package's default Agent (installed as the
// global dispatcher when this file imported undici) made its Clients unbound.
for (const engine of enginesHere()) {
  test(`[${engine}] ${FETCH}, without bindDrivers(): the continuation carries the caller's tags`, async () => {
    const v = await measure(FETCH, engine);
    console.log(`[${engine}] ${FETCH}\n${v.report}\n${tableRow('fetch over npm undici (no bindings)', FETCH, engine, v)}`);
    assert.ok(v.misattributed <= 0.01, v.report);
    assert.ok(v.attributed >= 0.97, v.report);
  });
}

for (const engine of enginesHere()) {
  test(`[${engine}] without bindDrivers(), a keep-alive agent's sockets keep the context of the request that opened them`, async () => {
    const v = await measure(AGENT, engine);
    console.log(`[${engine}] unbound ${AGENT}\n${v.report}\n${tableRow('node:http (no bindings)', AGENT, engine, v)}`);
    // Node runs each response's callbacks as its own request already: only the openers' row is off.
    assert.ok(v.misattributed <= 0.01, v.report);
  });
}

describe('with bindDrivers()', () => {
  let bindings: DriverBindings;
  before(() => { bindings = bindDrivers(); });
  after(() => bindings.unbind());

  for (const engine of enginesHere()) {
    test(`[${engine}] ${AGENT}: every tenant's CPU is billed to that tenant; nothing to the requests that opened the sockets`, async () => {
      const v = await measure(AGENT, engine);
      console.log(`[${engine}] ${AGENT}\n${v.report}\n${tableRow('node:http', AGENT, engine, v)}`);
      assertFair(v, v.samples);
    });
    for (const style of Object.keys(styles).filter((s) => s !== AGENT && s !== FETCH)) {
      test(`[${engine}] ${style}: every tenant's CPU is billed to that tenant; nothing to the requests that opened the sockets`, async () => {
        const v = await measure(style, engine);
        console.log(`[${engine}] ${style}\n${v.report}\n${tableRow('undici', style, engine, v)}`);
        assertFair(v, v.samples);
      });
    }
  }
});
