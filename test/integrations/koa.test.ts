import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import { Readable } from 'node:stream';
import Koa from 'koa';
import { bodyParser } from '@koa/bodyparser';
import {
  currentTagsObject, newProfiler, withLogger, withProfiler, withProfilerMessageTagging, withProfilerTransInfoTagging,
} from '../../src/index.js';
import { reqprofMiddleware, withBodyParser } from '../../src/integrations/koa.js';
import {
  KEYS, captureLogger, portOf, profileAndCompare, request, routeTag,
  accuracyCase, sendWorkloadThenClose, serveRoute, tenantTag,
  closeHttp as close,
  listenHttp,
  stoppedProfiler,
} from './helpers.js';




const listen = (app: Koa) => listenHttp(app.callback());

test('koa: per-route CPU shares match the timed truth, and @koa/bodyparser decoding is billed to the transport tags only', async () => {
  const { truth, clock, body, keys } = accuracyCase();
  const result = await profileAndCompare('koa', truth, keys, async (profiler) => {
    const app = new Koa();
    app.use((ctx, next) => {
      clock.watch(ctx.req);
      return next();
    });
    app.use(reqprofMiddleware(
      withProfiler(profiler),
      withProfilerTransInfoTagging(routeTag),
      withProfilerMessageTagging((message, info) => {
        clock.record(truth, KEYS.ingestDecode, (info.raw as Koa.Context).req);
        return tenantTag(message);
      }),
      withBodyParser(bodyParser({ jsonLimit: '8mb' })),
    ));
    app.use(async (ctx) => {
      await serveRoute(truth, ctx.path);
      ctx.body = 'ok';
    });
    const { server, port } = await listen(app);
    await sendWorkloadThenClose(port, body, () => close(server));
  });
  assert.ok(result.ok, result.report);
});

test('koa: the tags reach timers and a response stream, and the next request on a keep-alive connection starts clean', async (t) => {
  const p = await stoppedProfiler();
  const seen: Array<[string, Record<string, string>]> = [];
  const app = new Koa();
  app.use(reqprofMiddleware(withProfiler(p), withProfilerTransInfoTagging((info) => {
    seen.push(['ambient', { ...currentTagsObject() }]);
    return info.path === '/plain' ? undefined : routeTag(info);
  }), withProfilerMessageTagging(tenantTag), withBodyParser(bodyParser())));
  app.use(async (ctx) => {
    if (ctx.path === '/plain') {
      seen.push(['plain', { ...currentTagsObject() }]);
      ctx.body = 'ok';
      return;
    }
    await new Promise((r) => setTimeout(r, 1));
    seen.push(['after-await', { ...currentTagsObject() }]);
    let n = 0;
    ctx.body = new Readable({
      read() {
        seen.push(['stream', { ...currentTagsObject() }]);
        this.push(n++ < 32 ? Buffer.alloc(65536, 120) : null);
      },
    });
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
  const kinds = new Set(seen.map(([k]) => k));
  assert.deepEqual([...kinds].sort(), ['after-await', 'ambient', 'plain', 'stream']);
  for (const [kind, tags] of seen) {
    if (kind === 'after-await' || kind === 'stream') assert.deepEqual(tags, { route: '/stream', tenant: 'acme' }, kind);
    else assert.deepEqual(tags, {}, kind);
  }
});

test('koa: a rejecting message tagging function leaves the request served with its transport tags, and logged', async (t) => {
  const p = await stoppedProfiler();
  const log = captureLogger();
  const seen: Array<Record<string, string>> = [];
  const mw = reqprofMiddleware(withProfiler(p), withLogger(log), withProfilerTransInfoTagging(routeTag),
    withProfilerMessageTagging(async () => {
      throw new Error('message boom');
    }));
  const app = new Koa();
  // The body parser mounted on its own, with mw.message after it.
  app.use(mw);
  app.use(bodyParser());
  app.use(mw.message);
  app.use((ctx) => {
    seen.push({ ...currentTagsObject() });
    ctx.body = ctx.request.body;
  });
  const { server, port } = await listen(app);
  t.after(() => close(server));
  const r = await request(port, { path: '/x', body: '{"tenant":"acme"}' });
  assert.equal(r.status, 200);
  assert.deepEqual(JSON.parse(r.body), { tenant: 'acme' });
  assert.deepEqual(seen, [{ route: '/x' }]);
  assert.equal(log.records.length, 1);
  assert.equal(log.records[0]!.obj.kind, 'message-tagging');
});
