import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import { Readable } from 'node:stream';
import express from 'express';
import {
  currentTagsObject, newProfiler, withLogger, withProfiler, withProfilerMessageTagging, withProfilerTransInfoTagging,
} from '../../src/index.js';
import { reqprofMiddleware, withBodyParser } from '../../src/integrations/express.js';
import { withBodyLimit } from '../../src/integrations/http.js';
import {
  KEYS, captureLogger, portOf, profileAndCompare, request, routeTag,
  accuracyCase, sendWorkloadThenClose, serveRoute, tenantTag,
  closeHttp as close,
  listenHttp,
  stoppedProfiler,
} from './helpers.js';




const listen = (app: express.Express) => listenHttp(app);

test('express: per-route CPU shares match the timed truth, and express.json() decoding is billed to the transport tags only', async () => {
  const { truth, clock, body, keys } = accuracyCase();
  const result = await profileAndCompare('express', truth, keys, async (profiler) => {
    const app = express();
    app.use((req, _res, next) => {
      clock.watch(req);
      next();
    });
    app.use(reqprofMiddleware(
      withProfiler(profiler),
      withProfilerTransInfoTagging(routeTag),
      withProfilerMessageTagging((message, info) => {
        clock.record(truth, KEYS.ingestDecode, info.raw as http.IncomingMessage);
        return tenantTag(message);
      }),
      withBodyParser(express.json({ limit: '8mb' })),
    ));
    const handler: express.RequestHandler = (req, res, next) => {
      serveRoute(truth, req.path).then(() => res.send('ok'), next);
    };
    app.get('/light', handler);
    app.get('/heavy', handler);
    app.post('/ingest', handler);
    const { server, port } = await listen(app);
    await sendWorkloadThenClose(port, body, () => close(server));
  });
  assert.ok(result.ok, result.report);
});

test('express: with the body parser mounted on its own, mw.message after it runs the message stage', async (t) => {
  const p = await stoppedProfiler();
  const seen: Array<Record<string, string>> = [];
  const mw = reqprofMiddleware(withProfiler(p), withProfilerTransInfoTagging(routeTag), withProfilerMessageTagging(tenantTag));
  const app = express();
  app.use(mw);
  app.post('/orders', express.json(), mw.message, (req, res) => {
    seen.push({ ...currentTagsObject() });
    res.json(req.body);
  });
  const { server, port } = await listen(app);
  t.after(() => close(server));
  const r = await request(port, { path: '/orders', body: '{"tenant":"initech"}' });
  assert.equal(r.status, 200);
  assert.deepEqual(seen, [{ route: '/orders', tenant: 'initech' }]);
});

test('express: the tags reach timers and the response stream, and the next request on a keep-alive connection starts clean', async (t) => {
  const p = await stoppedProfiler();
  const seen: Array<[string, Record<string, string>]> = [];
  const app = express();
  app.use(reqprofMiddleware(withProfiler(p), withProfilerTransInfoTagging((info) => {
    seen.push(['ambient', { ...currentTagsObject() }]);
    return info.path === '/plain' ? undefined : routeTag(info);
  }), withProfilerMessageTagging(tenantTag), withBodyParser(express.json())));
  app.post('/stream', (_req, res) => {
    setTimeout(() => seen.push(['timer', { ...currentTagsObject() }]), 1);
    let n = 0;
    new Readable({
      read() {
        seen.push(['stream', { ...currentTagsObject() }]);
        this.push(n++ < 32 ? Buffer.alloc(65536, 120) : null);
      },
    }).pipe(res);
  });
  app.get('/plain', (_req, res) => {
    seen.push(['plain', { ...currentTagsObject() }]);
    res.send('ok');
  });
  const { server, port } = await listen(app);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(async () => {
    agent.destroy();
    await close(server);
  });
  const a = await request(port, { path: '/stream', body: '{"tenant":"acme"}', agent });
  const b = await request(port, { path: '/plain', agent });
  assert.equal(a.body.length, 32 * 65536);
  assert.equal(a.clientPort, b.clientPort, 'same connection');
  const want = { route: '/stream', tenant: 'acme' };
  const kinds = new Set(seen.map(([k]) => k));
  assert.deepEqual([...kinds].sort(), ['ambient', 'plain', 'stream', 'timer']);
  for (const [kind, tags] of seen) {
    if (kind === 'timer' || kind === 'stream') assert.deepEqual(tags, want, kind);
    else assert.deepEqual(tags, {}, kind);
  }
});

test('express: a throwing transport tagging function and a malformed message result leave requests served and logged', async (t) => {
  const p = await stoppedProfiler();
  const log = captureLogger();
  const seen: Array<Record<string, string>> = [];
  const app = express();
  app.use(reqprofMiddleware(withProfiler(p), withLogger(log),
    withProfilerTransInfoTagging(() => {
      throw new Error('no route for you');
    }),
    withProfilerMessageTagging((body) => ((body as { odd?: boolean }).odd ? ['tenant'] : tenantTag(body))),
    withBodyParser(express.json())));
  app.post('/x', (_req, res) => {
    seen.push({ ...currentTagsObject() });
    res.send('ok');
  });
  const { server, port } = await listen(app);
  t.after(() => close(server));
  assert.equal((await request(port, { path: '/x', body: '{"tenant":"acme"}' })).status, 200);
  assert.equal((await request(port, { path: '/x', body: '{"odd":true}' })).status, 200);
  assert.deepEqual(seen, [{ tenant: 'acme' }, {}]);
  assert.deepEqual(log.records.map((r) => r.obj.kind), ['transport-tagging', 'message-tagging']);
  assert.match(log.records[1]!.msg!, /returned invalid tags/);
});

test('express: body parser errors still reach the error handler; options of another integration are refused', async (t) => {
  const p = await stoppedProfiler();
  const app = express();
  app.use(reqprofMiddleware(withProfiler(p), withBodyParser(express.json({ limit: 10 }))));
  app.post('/x', (_req, res) => res.send('ok'));
  const { server, port } = await listen(app);
  t.after(() => close(server));
  assert.equal((await request(port, { path: '/x', body: JSON.stringify({ long: 'x'.repeat(100) }) })).status, 413);
  assert.throws(() => reqprofMiddleware(withBodyLimit(10)), { name: 'TypeError', message: /withBodyLimit\(\) is an option of reqprof\/http, not of reqprof\/express/ });
  assert.throws(() => withBodyParser('json' as never), { name: 'TypeError', message: /withBodyParser/ });
});

test('express: a body parser that calls next() twice runs the app once for the request, and the second call is logged', async (t) => {
  const p = await stoppedProfiler();
  const log = captureLogger();
  let handled = 0;
  const app = express();
  const twice = (_req: unknown, _res: unknown, next: () => void): void => {
    next();
    next();
  };
  app.use(reqprofMiddleware(withProfiler(p), withLogger(log), withBodyParser(twice)));
  app.get('/x', (_req, res) => {
    handled++;
    res.send('ok');
  });
  const { server, port } = await listen(app);
  t.after(() => close(server));
  assert.equal((await request(port, { path: '/x', method: 'GET' })).status, 200);
  assert.equal(handled, 1);
  assert.deepEqual(log.records.map((r) => r.obj.kind), ['parser-next-twice']);
});
