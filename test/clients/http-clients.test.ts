/**
 * The tracer hook for outgoing HTTP calls (`traceHttpClients`), read from
 * Node's diagnostics channels: real fetch (Node's bundled undici) and
 * node:http clients against a real server on loopback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { tag, traceHttpClients, withCallerHeader, withProfiler, withServiceName, withTracer, newProfiler } from '../../src/index.js';
import { prometheusTracer } from '../../src/processors/prometheus.js';
import { RecordingTracer, exposition } from '../helpers/tracer.js';

const HELLO = 'hello world';

async function startServer() {
  const callers: Array<string | undefined> = [];
  const server = http.createServer((req, res) => {
    callers.push(req.headers['x-caller'] as string | undefined);
    req.url = req.url!.split('?')[0];
    if (req.url === '/ok') res.end(HELLO);
    else if (req.url === '/echo') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.end(Buffer.concat(chunks)));
    }
    else if (req.url === '/boom') res.writeHead(500).end('boom');
    else if (req.url === '/hang') { /* the client gives up */ }
    else res.writeHead(404).end('not found');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    callers,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** A port nothing listens on: a connection to it is refused. */
async function closedPort(): Promise<number> {
  const s = http.createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

function nodeGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    }).on('error', reject);
  });
}

test('fetch and node:http calls reach the tracers with status, errors, aborts, bytes, callee and the calling request\'s tags; the caller header is sent', async () => {
  const srv = await startServer();
  const refused = await closedPort();
  const rec = new RecordingTracer();
  const registry = new Registry();
  const tracing = traceHttpClients(withTracer(rec), withTracer(prometheusTracer({ registry, codeLabel: true })), withServiceName('checkout'), withCallerHeader('x-caller'));
  const base = `http://127.0.0.1:${srv.port}`;
  const host = `127.0.0.1:${srv.port}`;
  const payload = JSON.stringify({ order: 42, items: ['a', 'b'] });
  try {
    await tag({ route: '/buy' }, async () => {
      for (let i = 0; i < 2; i++) assert.equal(await (await fetch(`${base}/ok?i=${i}`)).text(), HELLO);
    });
    assert.equal(await (await fetch(`${base}/echo`, { method: 'POST', body: payload })).text(), payload);
    assert.equal((await fetch(`${base}/missing`).then(async (r) => (await r.text(), r))).status, 404);
    assert.equal((await fetch(`${base}/boom`).then(async (r) => (await r.text(), r))).status, 500);
    const ac = new AbortController();
    const hung = rec.started((i) => i.path === '/hang');
    const aborted = fetch(`${base}/hang`, { signal: ac.signal });
    await hung;
    // Give the request time to reach the server before giving up on it.
    while (srv.callers.length < 6) await new Promise((r) => setTimeout(r, 5));
    ac.abort();
    await assert.rejects(aborted, { name: 'AbortError' });
    await assert.rejects(fetch(`http://127.0.0.1:${refused}/ok`), TypeError);
    assert.deepEqual(await tag({ route: '/legacy' }, () => nodeGet(`${base}/ok`)), { status: 200, body: HELLO });
    await assert.rejects(nodeGet(`http://127.0.0.1:${refused}/x`), { code: 'ECONNREFUSED' });
    await rec.waitFor(9);
  } finally {
    tracing.stop();
    await srv.close();
  }
  // After stop(), calls are no longer seen.
  const after = await startServer();
  try {
    await (await fetch(`http://127.0.0.1:${after.port}/ok`)).text();
  } finally {
    await after.close();
  }
  assert.equal(rec.calls.size, 9, 'nothing traced after stop()');

  assert.deepEqual(srv.callers.slice(0, 6), Array(6).fill('checkout'), 'fetch requests carry the caller header');
  assert.equal(srv.callers[6], undefined, 'node:http requests are not modified');
  for (const seen of rec.calls.values()) assert.equal(seen.finishes, 1);
  const f = rec.finished();
  const oks = f.filter((i) => i.integration === 'fetch' && i.path === '/ok' && i.host === host);
  assert.equal(oks.length, 2);
  for (const i of oks) {
    assert.deepEqual([i.side, i.protocol, i.httpMethod, i.method, i.status, i.caller, i.callee, i.scheme, i.callType], ['client', 'http', 'GET', '/ok', 200, 'checkout', host, 'http', 'unary']);
    assert.equal(i.tags?.key, 'route=/buy', 'the tags of the context the call was made in');
    assert.equal(i.bytesReceived, HELLO.length);
    assert.equal(i.bytesSent, 0);
    assert.equal(i.error, undefined);
    assert.ok(i.endTime! > i.startTime);
  }
  const echo = rec.one((i) => i.path === '/echo');
  assert.deepEqual([echo.httpMethod, echo.status, echo.bytesSent, echo.bytesReceived, echo.tags], ['POST', 200, Buffer.byteLength(payload), Buffer.byteLength(payload), undefined]);
  assert.equal(rec.one((i) => i.path === '/missing').status, 404);
  assert.equal(rec.one((i) => i.path === '/boom').status, 500);
  const hang = rec.one((i) => i.path === '/hang');
  assert.deepEqual([hang.aborted, hang.status, (hang.error as Error).name], [true, undefined, 'AbortError']);
  const fetchRefused = rec.one((i) => i.integration === 'fetch' && i.host === `127.0.0.1:${refused}`);
  assert.deepEqual([fetchRefused.status, fetchRefused.aborted], [undefined, false]);
  assert.ok(fetchRefused.error !== undefined, 'the connection error');
  const legacy = rec.one((i) => i.integration === 'http-client' && i.status === 200);
  assert.deepEqual([legacy.method, legacy.host, legacy.callee, legacy.tags?.key, legacy.bytesReceived], ['/ok', host, host, 'route=/legacy', HELLO.length]);
  const legacyRefused = rec.one((i) => i.integration === 'http-client' && i.status === undefined);
  assert.equal((legacyRefused.error as { code?: string }).code, 'ECONNREFUSED');

  const K = (callee: string, method: string, status: string, code: string) => `callee="${callee}",caller="checkout",code="${code}",method="${method}",status="${status}",type="pingpong"`;
  assert.deepEqual(await exposition(registry, 'kitex_client_throughput'), [
    `kitex_client_throughput{${K(host, 'GET /boom', 'error', '500')}} 1`,
    `kitex_client_throughput{${K(host, 'GET /hang', 'error', 'unknown')}} 1`,
    `kitex_client_throughput{${K(host, 'GET /missing', 'succeed', '404')}} 1`,
    `kitex_client_throughput{${K(host, 'GET /ok', 'succeed', '200')}} 3`,
    `kitex_client_throughput{${K(host, 'POST /echo', 'succeed', '200')}} 1`,
    `kitex_client_throughput{${K(`127.0.0.1:${refused}`, 'GET /ok', 'error', 'unknown')}} 1`,
    `kitex_client_throughput{${K(`127.0.0.1:${refused}`, 'GET /x', 'error', 'unknown')}} 1`,
  ].sort());
});

test('traceHttpClients rejects server-only options and non-options, naming what it accepts', async () => {
  const p = newProfiler(() => {}, 0, 1000);
  await p.stop();
  assert.throws(() => traceHttpClients(withProfiler(p)), { name: 'TypeError', message: /withProfiler\(\) is a server option; client hooks accept withTracer/ });
  assert.throws(() => traceHttpClients({} as never), { name: 'TypeError', message: /must be an option made by withTracer, withServiceName/ });
});
