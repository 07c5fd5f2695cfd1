import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import {
  currentTagsObject, newProfiler, tag, withLogger, withProfiler, withProfilerMessageTagging, withProfilerTransInfoTagging,
} from '../../src/index.js';
import { reqprofHandler, reqprofListener, withBodyDecoder, withBodyLimit } from '../../src/integrations/http.js';
import {
  GroundTruth, KEYS, ROUTE_COST_MS, burnFor, captureLogger, cpuTimed, makeJsonBody, portOf, profileAndCompare, request, routeTag,
  sendWorkloadThenClose, tenantTag,
  closeHttp as close,
  listenHttp as listen,
  stoppedProfiler,
} from './helpers.js';



/** A profiler that never samples: the functional tests only need the tag context. */

function pathOf(req: IncomingMessage): string {
  return new URL(req.url ?? '/', 'http://x').pathname;
}

test('reqprofHandler: per-route CPU shares match the timed truth, and body decoding is billed to the transport tags only', async () => {
  const truth = new GroundTruth();
  const body = makeJsonBody(2_000_000, 'acme');
  // The decoder is the JSON one, timed: its CPU is the truth for the transport-only key.
  const timedJson = (buf: Buffer) => {
    let out: unknown;
    truth.add(KEYS.ingestDecode, cpuTimed(() => (out = JSON.parse(buf.toString('utf8')))));
    return out;
  };
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const path = pathOf(req) as keyof typeof ROUTE_COST_MS;
    const key = path === '/ingest' ? KEYS.ingestHandler : `route=${path}`;
    burnFor(truth, key, ROUTE_COST_MS[path] / 2);
    setImmediate(() => {
      burnFor(truth, key, ROUTE_COST_MS[path] / 2);
      res.end('ok');
    });
  };
  const keys = [KEYS.light, KEYS.heavy, KEYS.ingestDecode, KEYS.ingestHandler];
  const result = await profileAndCompare('http', truth, keys, async (profiler) => {
    const { server, port } = await listen(reqprofHandler(handler,
      withProfiler(profiler),
      withProfilerTransInfoTagging(routeTag),
      withProfilerMessageTagging(tenantTag),
      withBodyDecoder(timedJson),
      withBodyLimit(8 * 1024 * 1024)));
    await sendWorkloadThenClose(port, body, () => close(server));
  });
  assert.ok(result.ok, result.report);
});

test('reqprofListener: a listener that reads the body with req.on("data"/"end") reads it with the transport tags', async (t) => {
  const p = await stoppedProfiler();
  const seen: Array<Record<string, string>> = [];
  const { server, port } = await listen(reqprofListener((req, res) => {
    req.on('data', () => seen.push({ ...currentTagsObject() }));
    req.on('end', () => {
      seen.push({ ...currentTagsObject() });
      res.end('ok');
    });
  }, withProfiler(p), withProfilerTransInfoTagging((info) => ({ route: info.path, caller: String(info.headers['x-caller']) }))));
  t.after(() => close(server));
  const r = await request(port, { path: '/upload?q=1', body: makeJsonBody(300_000, 'acme'), headers: { 'x-caller': 'web' } });
  assert.equal(r.status, 200);
  assert.ok(seen.length >= 2);
  for (const s of seen) assert.deepEqual(s, { route: '/upload', caller: 'web' });
});

test('the tags reach the timers, event emitters and response stream a handler starts', async (t) => {
  const p = await stoppedProfiler();
  const seen = new Map<string, Array<Record<string, string>>>();
  const note = (where: string) => {
    const l = seen.get(where) ?? [];
    l.push({ ...currentTagsObject() });
    seen.set(where, l);
  };
  const bus = new EventEmitter();
  bus.on('job', () => note('emitter'));
  const { server, port } = await listen(reqprofHandler((_req, res, body) => {
    setTimeout(() => note('timer'), 1);
    bus.emit('job');
    let chunks = 0;
    // 64 KiB chunks: the socket's backpressure makes later reads come from 'drain', not from the handler.
    const stream = new Readable({
      read() {
        note('stream');
        this.push(chunks++ < 64 ? Buffer.alloc(65536, 120) : null);
      },
    });
    stream.pipe(res);
    return body;
  }, withProfiler(p), withProfilerTransInfoTagging(routeTag), withProfilerMessageTagging(tenantTag)));
  t.after(() => close(server));
  const r = await request(port, { path: '/report', body: '{"tenant":"globex"}' });
  assert.equal(r.status, 200);
  assert.equal(r.body.length, 64 * 65536);
  const want = { route: '/report', tenant: 'globex' };
  for (const where of ['timer', 'emitter', 'stream']) {
    assert.ok(seen.get(where)?.length, `${where} ran`);
    for (const s of seen.get(where)!) assert.deepEqual(s, want, where);
  }
  assert.ok(seen.get('stream')!.length > 10);
});

test('the next request on the same keep-alive connection starts with no tags', async (t) => {
  const p = await stoppedProfiler();
  const ambient: Array<Record<string, string>> = [];
  const inHandler: Array<Record<string, string>> = [];
  const { server, port } = await listen(reqprofHandler((_req, res) => {
    inHandler.push({ ...currentTagsObject() });
    // The handler adds its own tag too: it must not outlive the request either.
    tag({ step: 'handler' });
    setTimeout(() => res.end('ok'), 1);
  },
  withProfiler(p),
  withProfilerTransInfoTagging((info) => {
    ambient.push({ ...currentTagsObject() });
    return info.path === '/plain' ? undefined : routeTag(info);
  }),
  withProfilerMessageTagging(tenantTag)));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(async () => {
    agent.destroy();
    await close(server);
  });
  const a = await request(port, { path: '/ingest', body: '{"tenant":"acme"}', agent });
  const b = await request(port, { path: '/probe', agent });
  const c = await request(port, { path: '/plain', agent });
  assert.equal(a.clientPort, b.clientPort, 'same connection');
  assert.equal(b.clientPort, c.clientPort, 'same connection');
  assert.deepEqual(inHandler, [{ route: '/ingest', tenant: 'acme' }, { route: '/probe' }, {}]);
  assert.deepEqual(ambient, [{}, {}, {}]);
});

test('a throwing, rejecting or malformed tagging function leaves the request served, without that stage\'s tags, and logged once', async (t) => {
  const p = await stoppedProfiler();
  const log = captureLogger();
  const inHandler: Array<Record<string, string>> = [];
  const { server, port } = await listen(reqprofHandler((_req, res) => {
    inHandler.push({ ...currentTagsObject() });
    res.end('ok');
  },
  withProfiler(p),
  withLogger(log),
  withProfilerTransInfoTagging((info) => {
    if (info.path === '/throw') throw new Error('transport boom');
    if (info.path === '/odd') return ['route'];
    return routeTag(info);
  }),
  withProfilerMessageTagging(async (body) => {
    if ((body as { reject?: boolean } | undefined)?.reject) throw new Error('message boom');
    return tenantTag(body);
  })));
  t.after(() => close(server));
  for (let i = 0; i < 3; i++) {
    assert.equal((await request(port, { path: '/throw', body: '{"tenant":"acme"}' })).status, 200);
  }
  assert.equal((await request(port, { path: '/odd', body: '{"tenant":"acme"}' })).status, 200);
  assert.equal((await request(port, { path: '/ok', body: '{"tenant":"acme","reject":true}' })).status, 200);
  assert.deepEqual(inHandler, [
    { tenant: 'acme' }, { tenant: 'acme' }, { tenant: 'acme' }, // transport stage failed: message tags only
    { tenant: 'acme' },
    { route: '/ok' }, // message stage failed: transport tags only
  ]);
  const warnings = log.records.filter((r) => r.level === 'warn');
  // One record per kind in the rate-limit period: the three throws and the odd list share 'transport-tagging'.
  assert.deepEqual(warnings.map((w) => w.obj.kind), ['transport-tagging', 'message-tagging']);
  assert.match(warnings[0]!.msg!, /withProfilerTransInfoTagging\) threw; the request is served without transport-stage tags/);
  assert.match(warnings[1]!.msg!, /withProfilerMessageTagging\) rejected/);
  assert.equal((warnings[0]!.obj.err as Error).message, 'transport boom');
});

test('tagging options given twice: all run, the one given last first, and on a duplicate key the one given first wins; message tags win over transport tags', async (t) => {
  const p = await stoppedProfiler();
  const order: string[] = [];
  let inHandler: Record<string, string> = {};
  const { server, port } = await listen(reqprofHandler((_req, res) => {
    inHandler = { ...currentTagsObject() };
    res.end('ok');
  },
  withProfiler(p),
  withProfilerTransInfoTagging(() => (order.push('t1'), { a: 't1', shared: 't1', route: 'from-transport' })),
  withProfilerTransInfoTagging(async () => (order.push('t2'), ['b', 't2', 'shared', 't2'])),
  withProfilerMessageTagging(() => (order.push('m1'), { route: 'from-message' })),
  withProfilerMessageTagging(() => (order.push('m2'), undefined))));
  t.after(() => close(server));
  assert.equal((await request(port, { path: '/x', body: '{}' })).status, 200);
  assert.deepEqual(order, ['t2', 't1', 'm2', 'm1']);
  assert.deepEqual(inHandler, { a: 't1', b: 't2', shared: 't1', route: 'from-message' });
});

test('reqprofHandler: JSON by default, a 400 for an undecodable body, a 413 over the size limit, the raw Buffer for other content types', async (t) => {
  const p = await stoppedProfiler();
  const got: unknown[] = [];
  const { server, port } = await listen(reqprofHandler((_req, res, body) => {
    got.push(Buffer.isBuffer(body) ? `buffer:${body.toString()}` : body);
    res.end('ok');
  }, withProfiler(p), withBodyLimit(1000)));
  t.after(() => close(server));
  assert.equal((await request(port, { path: '/', body: '{"n":1}' })).status, 200);
  assert.equal((await request(port, { path: '/' })).status, 200);
  assert.equal((await request(port, { path: '/', body: 'hello', headers: { 'content-type': 'text/plain' } })).status, 200);
  const bad = await request(port, { path: '/', body: '{nope' });
  assert.equal(bad.status, 400);
  assert.match(bad.body, /could not decode the request body/);
  const big = await request(port, { path: '/', body: JSON.stringify({ s: 'x'.repeat(2000) }) });
  assert.equal(big.status, 413);
  assert.deepEqual(got, [{ n: 1 }, undefined, 'buffer:hello']);
});

test('reqprofHandler: a handler that throws gets a 500 and a logged warning; the server keeps serving', async (t) => {
  const p = await stoppedProfiler();
  const log = captureLogger();
  const { server, port } = await listen(reqprofHandler((req, res) => {
    if (pathOf(req) === '/bad') throw new Error('handler boom');
    res.end('ok');
  }, withProfiler(p), withLogger(log)));
  t.after(() => close(server));
  assert.equal((await request(port, { path: '/bad' })).status, 500);
  assert.equal((await request(port, { path: '/good' })).status, 200);
  assert.equal(log.records.filter((r) => r.obj.kind === 'handler').length, 1);
});

test('withProfiler starts a profiler that was never started when the first request arrives', async (t) => {
  const p = newProfiler(() => {}, 0, 1000);
  t.after(() => p.stop());
  const { server, port } = await listen(reqprofListener((_req, res) => res.end('ok'), withProfiler(p)));
  t.after(() => close(server));
  assert.equal(p.state, 'idle');
  assert.equal((await request(port, { path: '/' })).status, 200);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(p.state, 'running');
});

test('without withProfiler nothing is tagged: reqprofListener returns the listener itself, reqprofHandler still decodes', async (t) => {
  const listener = (_req: IncomingMessage, res: ServerResponse) => res.end('ok');
  assert.equal(reqprofListener(listener, withProfilerTransInfoTagging(routeTag)), listener);
  let seen: unknown;
  const { server, port } = await listen(reqprofHandler((_req, res, body) => {
    seen = { body, tags: { ...currentTagsObject() } };
    res.end('ok');
  }, withProfilerTransInfoTagging(routeTag)));
  t.after(() => close(server));
  assert.equal((await request(port, { path: '/x', body: '{"a":1}' })).status, 200);
  assert.deepEqual(seen, { body: { a: 1 }, tags: {} });
});

test('bad options are rejected with errors that name the option', () => {
  assert.throws(() => withProfiler(null as never), { name: 'TypeError', code: 'REQPROF_ERR_INVALID_OPTION', message: /withProfiler\(profiler\)/ });
  assert.throws(() => withProfilerTransInfoTagging('route' as never), { name: 'TypeError', message: /withProfilerTransInfoTagging\(fn\): fn must be a function/ });
  assert.throws(() => withProfilerMessageTagging({} as never), { name: 'TypeError', message: /withProfilerMessageTagging/ });
  assert.throws(() => withLogger(console.log as never), { name: 'TypeError', message: /withLogger/ });
  assert.throws(() => withBodyLimit(-1), { name: 'RangeError', message: /withBodyLimit\(bytes\): bytes must be an integer >= 0/ });
  assert.throws(() => withBodyDecoder('json' as never), { name: 'TypeError', message: /withBodyDecoder/ });
  assert.throws(() => reqprofListener((() => {}) as never, { profiler: 1 } as never), { name: 'TypeError', message: /argument 1 must be an option made by withProfiler/ });
  assert.throws(() => reqprofHandler(42 as never), { name: 'TypeError', message: /handler must be a function/ });
});
