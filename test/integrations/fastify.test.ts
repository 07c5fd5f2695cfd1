import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Readable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import {
  currentTagsObject, newProfiler, withLogger, withProfiler, withProfilerMessageTagging, withProfilerTransInfoTagging,
} from '../../src/index.js';
import { reqprofPlugin } from '../../src/integrations/fastify.js';
import {
  KEYS, captureLogger, portOf, profileAndCompare, request, routeTag,
  accuracyCase, sendWorkloadThenClose, serveRoute, tenantTag,
  stoppedProfiler,
} from './helpers.js';

async function listen(app: FastifyInstance): Promise<number> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return portOf(app.server);
}


test('fastify: per-route CPU shares match the timed truth, and JSON parsing and validation are billed to the transport tags only', async () => {
  const { truth, clock, body, keys } = accuracyCase();
  const result = await profileAndCompare('fastify', truth, keys, async (profiler) => {
    const app = Fastify({ bodyLimit: 8 * 1024 * 1024, forceCloseConnections: true });
    app.addHook('onRequest', (request, _reply, done) => {
      clock.watch(request.raw);
      done();
    });
    await app.register(reqprofPlugin(
      withProfiler(profiler),
      withProfilerTransInfoTagging(routeTag),
      withProfilerMessageTagging((message, info) => {
        clock.record(truth, KEYS.ingestDecode, (info.raw as { raw: http.IncomingMessage }).raw);
        return tenantTag(message);
      }),
    ));
    const handler = async (request: { routeOptions: { url?: string } }) => {
      await serveRoute(truth, request.routeOptions.url!);
      return 'ok';
    };
    app.get('/light', handler);
    app.get('/heavy', handler);
    // The schema makes Fastify validate the body: validation runs before the message stage too.
    app.post('/ingest', { schema: { body: { type: 'object', required: ['tenant', 'items'], properties: { tenant: { type: 'string' } } } } }, handler);
    const port = await listen(app);
    await sendWorkloadThenClose(port, body, () => app.close());
  });
  assert.ok(result.ok, result.report);
});

test('fastify: the route template is the transport-stage route; the tags reach timers and a response stream', async (t) => {
  const p = await stoppedProfiler();
  const seen: Array<[string, Record<string, string>]> = [];
  const app = Fastify({ forceCloseConnections: true });
  await app.register(reqprofPlugin(withProfiler(p), withProfilerTransInfoTagging(routeTag), withProfilerMessageTagging(tenantTag)));
  app.post('/users/:id/report', async (_request, reply) => {
    setTimeout(() => seen.push(['timer', { ...currentTagsObject() }]), 1);
    let n = 0;
    return reply.send(new Readable({
      read() {
        seen.push(['stream', { ...currentTagsObject() }]);
        this.push(n++ < 32 ? Buffer.alloc(65536, 120) : null);
      },
    }));
  });
  const port = await listen(app);
  t.after(() => app.close());
  const r = await request(port, { path: '/users/42/report', body: '{"tenant":"acme"}' });
  assert.equal(r.status, 200);
  assert.equal(r.body.length, 32 * 65536);
  assert.ok(seen.some(([k]) => k === 'timer') && seen.some(([k]) => k === 'stream'));
  for (const [kind, tags] of seen) assert.deepEqual(tags, { route: '/users/:id/report', tenant: 'acme' }, kind);
});

test('fastify: the next request on the same keep-alive connection starts with no tags', async (t) => {
  const p = await stoppedProfiler();
  const seen: Array<Record<string, string>> = [];
  const ambient: Array<Record<string, string>> = [];
  const app = Fastify({ forceCloseConnections: true });
  await app.register(reqprofPlugin(withProfiler(p), withProfilerTransInfoTagging((info) => {
    ambient.push({ ...currentTagsObject() });
    return info.path === '/plain' ? undefined : routeTag(info);
  }), withProfilerMessageTagging(tenantTag)));
  app.post('/tagged', async () => {
    seen.push({ ...currentTagsObject() });
    return 'ok';
  });
  app.get('/plain', async () => {
    seen.push({ ...currentTagsObject() });
    return 'ok';
  });
  const port = await listen(app);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(async () => {
    agent.destroy();
    await app.close();
  });
  const a = await request(port, { path: '/tagged', body: '{"tenant":"acme"}', agent });
  const b = await request(port, { path: '/plain', agent });
  assert.equal(a.clientPort, b.clientPort, 'same connection');
  assert.deepEqual(seen, [{ route: '/tagged', tenant: 'acme' }, {}]);
  assert.deepEqual(ambient, [{}, {}]);
});

test('fastify: a throwing transport tagging function leaves the request served with its message tags, and logged', async (t) => {
  const p = await stoppedProfiler();
  const log = captureLogger();
  const seen: Array<Record<string, string>> = [];
  const app = Fastify({ forceCloseConnections: true });
  await app.register(reqprofPlugin(withProfiler(p), withLogger(log), withProfilerTransInfoTagging(() => {
    throw new Error('transport boom');
  }), withProfilerMessageTagging(tenantTag)));
  app.post('/x', async () => {
    seen.push({ ...currentTagsObject() });
    return 'ok';
  });
  const port = await listen(app);
  t.after(() => app.close());
  assert.equal((await request(port, { path: '/x', body: '{"tenant":"acme"}' })).status, 200);
  assert.equal((await request(port, { path: '/x', body: '{"tenant":"acme"}' })).status, 200);
  assert.deepEqual(seen, [{ tenant: 'acme' }, { tenant: 'acme' }]);
  assert.equal(log.records.length, 1);
  assert.equal(log.records[0]!.obj.kind, 'transport-tagging');
});
