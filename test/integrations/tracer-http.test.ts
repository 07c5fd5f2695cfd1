/**
 * The tracer hook on every HTTP integration (node:http, Express, Fastify,
 * Koa): real servers on loopback, a real node:http client, and what the
 * tracers and the Kitex-style Prometheus metrics report against what was sent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import { Registry } from 'prom-client';
import {
  durationSeconds, newProfiler, withCallerHeader, withLogger, withProfiler, withProfilerMessageTagging,
  withProfilerTransInfoTagging, withServiceName, withTracer, type RPCInfo, type ServerOption, type TransportInfo,
} from '../../src/index.js';
import { bodyParser } from '@koa/bodyparser';
import { reqprofMiddleware as expressMiddleware, withBodyParser as withExpressBodyParser } from '../../src/integrations/express.js';
import { reqprofPlugin } from '../../src/integrations/fastify.js';
import { reqprofHandler } from '../../src/integrations/http.js';
import { reqprofMiddleware as koaMiddleware, withBodyParser as withKoaBodyParser } from '../../src/integrations/koa.js';
import { prometheusTracer } from '../../src/processors/prometheus.js';
import { Recorder } from '../helpers/cpu.js';
import { RecordingTracer, exposition, sampleValue } from '../helpers/tracer.js';
import { captureLogger, portOf } from './helpers.js';

const REPLY = 'y'.repeat(5000);
const SLOW_MS = 60;

interface App {
  port: number;
  close(): Promise<void>;
}

async function listen(server: http.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return portOf(server);
}

async function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
}

/** Waits until the connection goes away (the client aborted), so the handler can return. */
const untilClosed = (res: http.ServerResponse) => new Promise<void>((r) => res.once('close', () => r()));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The same service on each framework: GET /users/:id, POST /echo (reads the
 * body, answers REPLY), GET /fail (the handler throws), GET /slow (answers
 * after SLOW_MS), GET /hang (never answers), anything else 404.
 */
const FRAMEWORKS: Record<string, { routeOf: (path: string) => string; errorVisible: boolean; start: (options: ServerOption[]) => Promise<App> }> = {
  http: {
    // node:http matches no routes: the method is the path.
    routeOf: (path) => path,
    errorVisible: true,
    async start(options) {
      const server = http.createServer(reqprofHandler(async (req, res, body) => {
        const path = new URL(req.url!, 'http://x').pathname;
        if (req.method === 'GET' && path.startsWith('/users/')) res.end(JSON.stringify({ id: path.slice(7) }));
        else if (req.method === 'POST' && path === '/echo') res.end(body === undefined ? '' : REPLY);
        else if (path === '/fail') throw new Error('boom');
        else if (path === '/slow') {
          await sleep(SLOW_MS);
          res.end('slow');
        } else if (path === '/hang') await untilClosed(res);
        else res.writeHead(404).end('not found');
      }, ...options));
      const port = await listen(server);
      return { port, close: () => closeServer(server) };
    },
  },
  express: {
    // Routes live in a router mounted at /api, so the template is baseUrl + route path.
    routeOf: (path) => (path.startsWith('/api/users/') ? '/api/users/:id' : path),
    // Express hands handler errors to its own error handler: reqprof sees the 500 only.
    errorVisible: false,
    async start(options) {
      const app = express();
      app.set('env', 'test');
      app.use(expressMiddleware(...options, withExpressBodyParser(express.json())));
      const api = express.Router();
      api.get('/users/:id', (req, res) => void res.json({ id: req.params.id }));
      api.post('/echo', (_req, res) => void res.type('text').send(REPLY));
      api.get('/fail', () => {
        throw new Error('boom');
      });
      api.get('/slow', async (_req, res) => {
        await sleep(SLOW_MS);
        res.send('slow');
      });
      api.get('/hang', (_req, res) => untilClosed(res));
      app.use('/api', api);
      const server = http.createServer(app);
      const port = await listen(server);
      return { port, close: () => closeServer(server) };
    },
  },
  fastify: {
    routeOf: (path) => (path.startsWith('/users/') ? '/users/:id' : path),
    errorVisible: true,
    async start(options) {
      const app = Fastify();
      await app.register(reqprofPlugin(...options));
      app.get('/users/:id', async (req) => ({ id: (req.params as { id: string }).id }));
      app.post('/echo', async (_req, reply) => reply.type('text/plain').send(REPLY));
      app.get('/fail', async () => {
        throw new Error('boom');
      });
      app.get('/slow', async () => {
        await sleep(SLOW_MS);
        return 'slow';
      });
      app.get('/hang', async (_req, reply) => {
        await untilClosed(reply.raw);
        return '';
      });
      await app.listen({ port: 0, host: '127.0.0.1' });
      return { port: portOf(app.server), close: () => app.close() };
    },
  },
  koa: {
    routeOf: (path) => (path.startsWith('/users/') ? '/users/:id' : path),
    errorVisible: true,
    async start(options) {
      const app = new Koa();
      app.silent = true;
      app.use(koaMiddleware(...options, withKoaBodyParser(bodyParser())));
      // What @koa/router does when a route matches: the template in ctx._matchedRoute.
      app.use(async (ctx, next) => {
        const m = /^\/users\/([^/]+)$/.exec(ctx.path);
        if (m && ctx.method === 'GET') {
          (ctx as unknown as { _matchedRoute: string })._matchedRoute = '/users/:id';
          ctx.body = { id: m[1] };
          return;
        }
        if (ctx.path === '/echo' && ctx.method === 'POST') {
          ctx.type = 'text/plain';
          ctx.body = REPLY;
          return;
        }
        if (ctx.path === '/fail') throw new Error('boom');
        if (ctx.path === '/slow') {
          await sleep(SLOW_MS);
          ctx.body = 'slow';
          return;
        }
        if (ctx.path === '/hang') {
          await untilClosed(ctx.res);
          return;
        }
        await next();
      });
      const server = http.createServer(app.callback());
      const port = await listen(server);
      return { port, close: () => closeServer(server) };
    },
  },
};

function send(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: { ...headers, ...(body ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {}) } }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => resolve({ status: res.statusCode!, bytes }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Starts GET `path` and destroys it once the server's tracer has seen it start. */
async function sendAndAbort(port: number, path: string, tracer: RecordingTracer): Promise<void> {
  const started = tracer.started((i) => i.path.endsWith('/hang'));
  const req = http.request({ host: '127.0.0.1', port, method: 'GET', path });
  req.on('error', () => {});
  req.end();
  await started;
  req.destroy();
}

for (const [name, fw] of Object.entries(FRAMEWORKS)) {
  const prefix = name === 'express' ? '/api' : '';

  test(`${name}: the tracer sees each request once with its route, status, error, caller, sizes and times, and the Kitex-style metrics count them`, async () => {
    const rec = new RecordingTracer();
    const registry = new Registry();
    const app = await fw.start([
      withTracer(rec),
      withTracer(prometheusTracer({ registry, codeLabel: true })),
      withServiceName('shop'),
      withCallerHeader('X-Caller'),
      // The handlers that throw are logged by reqprofHandler: keep them out of the test output.
      withLogger(captureLogger()),
    ]);
    const echoBody = JSON.stringify({ tenant: 'acme', items: [1, 2, 3] });
    try {
      for (const id of ['1', '2', '3']) assert.equal((await send(app.port, 'GET', `${prefix}/users/${id}?q=${id}`, { 'x-caller': 'web' })).status, 200);
      for (let i = 0; i < 2; i++) {
        const r = await send(app.port, 'POST', `${prefix}/echo`, { 'x-caller': 'mobile' }, echoBody);
        assert.deepEqual(r, { status: 200, bytes: REPLY.length });
      }
      assert.equal((await send(app.port, 'GET', `${prefix}/fail`)).status, 500);
      for (let i = 0; i < 2; i++) assert.equal((await send(app.port, 'GET', `${prefix}/slow`)).status, 200);
      assert.equal((await send(app.port, 'GET', `${prefix}/nope`)).status, 404);
      await sendAndAbort(app.port, `${prefix}/hang`, rec);
      await rec.waitFor(10);
    } finally {
      await app.close();
    }

    const calls = rec.finished();
    assert.equal(calls.length, 10, 'ten requests, ten finishes');
    for (const seen of rec.calls.values()) {
      assert.equal(seen.finishes, 1, `${seen.info.path} finished once`);
      assert.equal(seen.atStart.endTime, undefined, 'start sees no end time');
      const i = seen.info;
      assert.ok(i.endTime! > i.startTime, 'end after start (monotonic)');
      assert.equal(i.side, 'server');
      assert.equal(i.protocol, 'http');
      assert.equal(i.integration, name);
      assert.equal(i.callType, 'unary');
      assert.equal(i.callee, 'shop');
      assert.equal(i.scheme, 'http');
      assert.equal(i.tags, undefined, 'no profiler, no tags');
    }

    const users = calls.filter((i) => i.path.startsWith(`${prefix}/users/`));
    for (const u of users) {
      assert.equal(u.method, fw.routeOf(u.path), 'the route template where the framework knows it, else the path');
      assert.equal(u.status, 200);
      assert.equal(u.caller, 'web');
      assert.equal(u.httpMethod, 'GET');
      assert.ok(!u.path.includes('?'), 'the path has no query');
      assert.equal(u.error, undefined);
      assert.equal(u.aborted, false);
      assert.equal(u.bytesReceived, 0);
      assert.equal(u.messagesSent, 1);
    }
    const echoes = calls.filter((i) => i.path === `${prefix}/echo`);
    assert.equal(echoes.length, 2);
    for (const e of echoes) {
      assert.equal(e.caller, 'mobile');
      assert.equal(e.bytesReceived, Buffer.byteLength(echoBody), 'request body bytes');
      assert.equal(e.bytesSent, REPLY.length, 'response body bytes');
    }
    const fail = rec.one((i) => i.path === `${prefix}/fail`);
    assert.equal(fail.status, 500);
    assert.equal(fail.caller, undefined, 'no caller header: unknown');
    if (fw.errorVisible) assert.equal((fail.error as Error)?.message, 'boom', 'the handler error reaches the tracer');
    for (const s of calls.filter((i) => i.path === `${prefix}/slow`)) {
      // Timers may fire up to a millisecond early.
      assert.ok(durationSeconds(s)! >= (SLOW_MS - 2) / 1000, `slow request took ${durationSeconds(s)} s`);
    }
    assert.equal(rec.one((i) => i.path === `${prefix}/nope`).status, 404);
    const hang = rec.one((i) => i.path === `${prefix}/hang`);
    assert.equal(hang.aborted, true, 'the client went away');
    assert.equal(hang.status, undefined, 'no status was sent');
    assert.equal((hang.error as Error).name, 'ResponseAbortedError');

    // The Kitex-style metrics (sorted label names, as Go writes them).
    const M = (method: string, status: string, code: string, caller = 'unknown') =>
      `callee="shop",caller="${caller}",code="${code}",method="${method}",status="${status}",type="pingpong"`;
    const throughput = await exposition(registry, 'kitex_server_throughput');
    const userMethods = new Map<string, number>();
    for (const u of users) userMethods.set(u.method, (userMethods.get(u.method) ?? 0) + 1);
    const expected = [
      ...[...userMethods].map(([m, n]) => `kitex_server_throughput{${M(`GET ${m}`, 'succeed', '200', 'web')}} ${n}`),
      `kitex_server_throughput{${M(`POST ${prefix}/echo`, 'succeed', '200', 'mobile')}} 2`,
      `kitex_server_throughput{${M(`GET ${prefix}/fail`, 'error', '500')}} 1`,
      `kitex_server_throughput{${M(`GET ${prefix}/slow`, 'succeed', '200')}} 2`,
      `kitex_server_throughput{${M(`GET ${prefix}/nope`, 'succeed', '404')}} 1`,
      `kitex_server_throughput{${M(`GET ${prefix}/hang`, 'error', 'unknown')}} 1`,
    ].sort();
    assert.deepEqual(throughput, expected);
    const slow = M(`GET ${prefix}/slow`, 'succeed', '200');
    // Each slow request took at least SLOW_MS: none in the buckets below it, both in +Inf.
    assert.equal(await sampleValue(registry, 'kitex_server_latency_us_bucket', `${slow},le="5000"`), 0);
    assert.equal(await sampleValue(registry, 'kitex_server_latency_us_bucket', `${slow},le="50000"`), 0);
    assert.equal(await sampleValue(registry, 'kitex_server_latency_us_bucket', `${slow},le="+Inf"`), 2);
    assert.equal(await sampleValue(registry, 'kitex_server_latency_us_count', slow), 2);
    assert.ok((await sampleValue(registry, 'kitex_server_latency_us_sum', slow))! >= 2 * (SLOW_MS - 2) * 1000, 'latency sum in microseconds');
    const buckets = (await exposition(registry, 'kitex_server_latency_us_bucket')).filter((l) => l.includes(slow)).map((l) => /le="([^"]+)"/.exec(l)![1]);
    assert.deepEqual(buckets.sort(), ['+Inf', '10000', '100000', '1000000', '25000', '250000', '5000', '50000', '500000'].sort(), "Kitex's default buckets, 5 ms to 1 s in µs");
  });

  test(`${name}: with a profiler, finished requests are counted per tag set and the tracer sees both stages' tags`, async () => {
    const rec = new RecordingTracer();
    const recorder = new Recorder();
    const profiler = newProfiler(recorder.processor, 0, 60_000, { samplingIntervalMicros: 1000 });
    const app = await fw.start([
      withProfiler(profiler),
      withProfilerTransInfoTagging((info: TransportInfo) => ({ route: info.path.replace(/\/\d+$/, '/:id') })),
      withProfilerMessageTagging((message) => ((message as { tenant?: string } | undefined)?.tenant ? { tenant: (message as { tenant: string }).tenant } : undefined)),
      withTracer(rec),
    ]);
    const running = profiler.run();
    const echoBody = JSON.stringify({ tenant: 'acme' });
    try {
      for (let i = 0; i < 5; i++) await send(app.port, 'GET', `${prefix}/users/${i}`);
      for (let i = 0; i < 3; i++) await send(app.port, 'POST', `${prefix}/echo`, {}, echoBody);
      await rec.waitFor(8);
    } finally {
      await app.close();
      await profiler.stop();
      await running;
    }
    const requests = new Map<string, number>();
    for (const w of recorder.windows) for (const p of w.profiles) if (p.requests) requests.set(p.key, (requests.get(p.key) ?? 0) + p.requests);
    const echoKey = `route=${prefix}/echo|tenant=acme`;
    assert.deepEqual(Object.fromEntries(requests), { [`route=${prefix}/users/:id`]: 5, [echoKey]: 3 });
    const echo = rec.finished().find((i) => i.path === `${prefix}/echo`)!;
    assert.equal(echo.transportTags?.key, `route=${prefix}/echo`);
    assert.equal(echo.tags?.key, echoKey);
  });
}

test('tracers compose: start in the order given, finish in reverse; one that throws is logged once and skipped, and the request is served', async () => {
  const logger = captureLogger();
  const a = new RecordingTracer('a');
  const b = new RecordingTracer('b');
  const broken = {
    start(_info: RPCInfo) {
      throw new Error('tracer bug');
    },
    finish(_info: RPCInfo) {
      throw new Error('tracer bug');
    },
  };
  const app = await FRAMEWORKS.http!.start([withTracer(a), withTracer(broken), withTracer(b), withLogger(logger)]);
  try {
    for (let i = 0; i < 3; i++) assert.equal((await send(app.port, 'GET', '/users/1')).status, 200);
    await a.waitFor(3);
  } finally {
    await app.close();
  }
  assert.deepEqual(a.events.slice(0, 2), ['a.start', 'a.finish']);
  assert.deepEqual(b.events.slice(0, 2), ['b.start', 'b.finish']);
  assert.equal(b.finished().length, 3, 'the tracer after the broken one still runs');
  const warnings = logger.records.filter((r) => r.level === 'warn');
  assert.deepEqual(warnings.map((w) => w.obj['kind']).sort(), ['tracer-1-finish', 'tracer-1-start'], 'each failing hook logged once (rate-limited)');
  assert.match(warnings[0]!.msg!, /tracer 2's (start|finish)\(\) threw/);
});

test('start runs in registration order and finish in reverse, per request', async () => {
  const log: string[] = [];
  const t = (n: string) => ({ start: () => void log.push(`${n}.start`), finish: () => void log.push(`${n}.finish`) });
  const app = await FRAMEWORKS.http!.start([withTracer(t('first')), withTracer(t('second')), withTracer(t('third'))]);
  try {
    await send(app.port, 'GET', '/users/7');
    for (let i = 0; i < 100 && log.length < 6; i++) await sleep(10);
  } finally {
    await app.close();
  }
  assert.deepEqual(log, ['first.start', 'second.start', 'third.start', 'third.finish', 'second.finish', 'first.finish']);
});

test('withTracer, withServiceName and withCallerHeader reject bad input with errors that name the option', () => {
  assert.throws(() => withTracer(null as never), { name: 'TypeError', code: 'REQPROF_ERR_INVALID_OPTION', message: /withTracer\(tracer\): tracer must be an object/ });
  assert.throws(() => withTracer({} as never), { name: 'TypeError', message: /must have a start\(info\) or finish\(info\) method/ });
  assert.throws(() => withTracer({ start: 1 } as never), { name: 'TypeError', message: /tracer.start must be a function/ });
  assert.throws(() => withServiceName(''), { name: 'RangeError', message: /withServiceName\(name\): name must not be empty/ });
  assert.throws(() => withCallerHeader('bad header'), { name: 'RangeError', message: /withCallerHeader\(header\)/ });
  assert.throws(() => withCallerHeader('x-caller-bin'), { name: 'RangeError', message: /-bin/ });
});
