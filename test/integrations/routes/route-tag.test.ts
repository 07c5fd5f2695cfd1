/**
 * withRouteTag() on the explicit integrations: the route template is a tag,
 * and CPU spent before Express or Koa matched the route (in middleware) is
 * billed to it, as each route burned it (the ground truth measured here).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import Router from '@koa/router';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import { newProfiler, withProfiler, withProfilerTransInfoTagging } from '../../../src/index.js';
import { reqprofMiddleware as expressMiddleware, withRouteTag as expressRouteTag } from '../../../src/integrations/express.js';
import { reqprofPlugin, withRouteTag as fastifyRouteTag } from '../../../src/integrations/fastify.js';
import { reqprofMiddleware as koaMiddleware, withRouteTag as koaRouteTag } from '../../../src/integrations/koa.js';
import { GroundTruth, Recorder, burn, compareShares, timed } from '../../helpers/cpu.js';

const COSTS: Record<string, number> = { '/api/users/:id': 4, '/health': 1 };
const PRE_ROUTE_MS = 1;
const tenant = withProfilerTransInfoTagging((info) => ({ tenant: String(info.headers['x-tenant'] ?? 'none') }));

async function drive(server: http.Server, rounds = 40): Promise<void> {
  const port = (server.address() as AddressInfo).port;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  const get = (path: string) => new Promise<void>((resolve, reject) => {
    http.get({ port, host: '127.0.0.1', path, agent, headers: { 'x-tenant': 'acme' } }, (res) => {
      res.resume();
      res.on('end', resolve);
    }).on('error', reject);
  });
  for (let i = 0; i < rounds; i++) await Promise.all([get(`/api/users/${i}`), get('/health'), get(`/nope/${i}`)]);
  agent.destroy();
}

async function profile(start: (truth: GroundTruth, options: ReturnType<typeof withProfiler>) => Promise<http.Server>): Promise<{ rec: Recorder; truth: GroundTruth }> {
  const rec = new Recorder();
  const p = newProfiler(rec.processor, 0, 60_000, { samplingIntervalMicros: 1000 });
  const running = p.run();
  const truth = new GroundTruth();
  const server = await start(truth, withProfiler(p));
  try {
    await drive(server);
  } finally {
    server.close();
    await p.stop();
    await running;
  }
  return { rec, truth };
}

function check(rec: Recorder, truth: GroundTruth): void {
  const totals = rec.totals();
  const keys = [...totals.keys()].filter((k) => k.startsWith('route=')).sort();
  assert.deepEqual(keys, ['route=(unmatched)|tenant=acme', 'route=/api/users/:id|tenant=acme', 'route=/health|tenant=acme']);
  // The few microseconds between the transport stage and the late route (a sample or two at most) carry no route.
  let tagged = 0;
  let withoutRoute = 0;
  for (const [k, v] of totals) {
    if (k !== '') tagged += v.value;
    if (k !== '' && !k.startsWith('route=')) withoutRoute += v.value;
  }
  assert.ok(withoutRoute < 0.02 * tagged, `tagged CPU without a route: ${(withoutRoute / 1e6).toFixed(2)} ms of ${(tagged / 1e6).toFixed(1)} ms`);
  const byKey = new Map([...truth.shares()].map(([r, s]) => [`route=${r}|tenant=acme`, s]));
  const { shares, samples } = rec.sharesAmong([...byKey.keys()]);
  const r = compareShares(byKey, shares, samples, 0.06);
  console.log(r.report);
  assert.ok(r.ok, r.report);
  const counted = rec.windows.flatMap((w) => w.profiles).filter((p) => p.key === 'route=/health|tenant=acme').reduce((a, p) => a + (p.requests ?? 0), 0);
  assert.equal(counted, 40, 'requests counted under the route');
}

describe('withRouteTag()', () => {
  it('Express 5: nested router templates as tags, middleware CPU billed to the route', async () => {
    const { rec, truth } = await profile(async (truth, profiler) => {
      const app = express();
      app.use(expressMiddleware(profiler, expressRouteTag(), tenant));
      app.use((req, _res, next) => {
        (req as unknown as { pre: number }).pre = timed(() => burn(PRE_ROUTE_MS));
        next();
      });
      const users = express.Router();
      users.get('/users/:id', (req, res) => {
        truth.add('/api/users/:id', (req as unknown as { pre: number }).pre + timed(() => burn(COSTS['/api/users/:id']!)));
        res.send('ok');
      });
      app.use('/api', users);
      app.get('/health', (req, res) => {
        truth.add('/health', (req as unknown as { pre: number }).pre + timed(() => burn(COSTS['/health']!)));
        res.send('ok');
      });
      return new Promise((resolve) => {
        const s = app.listen(0, '127.0.0.1', () => resolve(s));
      });
    });
    check(rec, truth);
  });

  it('Koa + @koa/router: the matched template as a tag, middleware CPU billed to the route', async () => {
    const { rec, truth } = await profile(async (truth, profiler) => {
      const app = new Koa();
      app.use(koaMiddleware(profiler, koaRouteTag(), tenant) as unknown as Koa.Middleware);
      app.use(async (ctx, next) => {
        ctx.state.pre = timed(() => burn(PRE_ROUTE_MS));
        await next();
      });
      const router = new Router();
      for (const route of Object.keys(COSTS)) {
        router.get(route, (ctx) => {
          truth.add(route, ctx.state.pre + timed(() => burn(COSTS[route]!)));
          ctx.body = 'ok';
        });
      }
      app.use(router.routes());
      return new Promise((resolve) => {
        const s = app.listen(0, '127.0.0.1', () => resolve(s));
      });
    });
    check(rec, truth);
  });

  it('Fastify: the template as a transport tag', async () => {
    const { rec, truth } = await profile(async (truth, profiler) => {
      const app = Fastify();
      await app.register(reqprofPlugin(profiler, fastifyRouteTag(), tenant));
      app.addHook('preHandler', async (req) => {
        (req as unknown as { pre: number }).pre = timed(() => burn(PRE_ROUTE_MS));
      });
      for (const route of Object.keys(COSTS)) {
        app.get(route, async (req) => {
          truth.add(route, (req as unknown as { pre: number }).pre + timed(() => burn(COSTS[route]!)));
          return 'ok';
        });
      }
      await app.listen({ port: 0, host: '127.0.0.1' });
      return app.server;
    });
    check(rec, truth);
  });
});
