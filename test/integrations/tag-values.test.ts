import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { currentTagsObject, lookup, tag, withLogger, withProfiler, withProfilerMessageTagging, withProfilerTransInfoTagging } from '../../src/index.js';
import { reqprofHandler } from '../../src/integrations/http.js';
import { captureLogger, closeHttp, listenHttp, request, stoppedProfiler } from './helpers.js';

test('plain node:http: tag({ route, tenant: req.headers["x-tenant"] }) with the header missing serves the request, tagged with the route', async () => {
  // The server runs in its own process: an uncaught TypeError there would kill it, as it would a user's service.
  const script = `
    import http from 'node:http';
    import { tag, lookup } from ${JSON.stringify(new URL('../../src/index.ts', import.meta.url).href)};
    const server = http.createServer((req, res) => {
      tag({ route: req.url, tenant: req.headers['x-tenant'] }, () => {
        res.end(JSON.stringify({ route: lookup('route') ?? null, tenant: lookup('tenant') ?? null }));
      });
    });
    server.listen(0, '127.0.0.1', () => console.log('port=' + server.address().port));
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  try {
    const [line] = await Promise.race([
      once(child.stdout, 'data') as Promise<[Buffer]>,
      once(child, 'exit').then(() => { throw new Error(`server exited: ${stderr}`); }),
    ]);
    const port = Number(/port=(\d+)/.exec(line.toString())![1]);
    const without = await request(port, { path: '/orders' }).catch((err: Error) => ({ status: 0, body: `${err.message}; server: ${stderr}` }));
    assert.equal(without.status, 200, `request without x-tenant: ${without.body}`);
    assert.deepEqual(JSON.parse(without.body), { route: '/orders', tenant: null });
    const withHeader = await request(port, { path: '/orders', headers: { 'x-tenant': 'acme' } });
    assert.deepEqual(JSON.parse(withHeader.body), { route: '/orders', tenant: 'acme' });
    assert.equal(child.exitCode, null, `the server process died: ${stderr}`);
  } finally {
    child.kill();
  }
});

async function serve(options: Parameters<typeof reqprofHandler>[1][], fn: (port: number) => Promise<void>): Promise<void> {
  const handler = (_req: IncomingMessage, res: ServerResponse) => { res.end(JSON.stringify(currentTagsObject())); };
  const { server, port } = await listenHttp(reqprofHandler(handler, ...options));
  try {
    await fn(port);
  } finally {
    await closeHttp(server);
  }
}

test('through an integration: an undefined value is left out and an invalid one drops only its key, never the stage\'s other tags', async () => {
  const logger = captureLogger();
  const profiler = await stoppedProfiler();
  await serve([
    withProfiler(profiler), withLogger(logger),
    withProfilerTransInfoTagging((info) => ({ route: info.path, tenant: info.headers['x-tenant'] as string | undefined })),
    withProfilerMessageTagging(() => ({ plan: 'gold', payload: { big: true } as never })),
  ], async (port) => {
    const r = await request(port, { path: '/orders' });
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { route: '/orders', plan: 'gold' });
  });
  const warned = logger.records.filter((l) => l.level === 'warn');
  assert.equal(warned.length, 1, JSON.stringify(logger.records));
  assert.match(warned[0]!.msg!, /"payload"/);
});

test('merged tags over 64 keys: the keys past the bound are dropped and warned once (rate-limited), the request is served', async () => {
  const logger = captureLogger();
  const profiler = await stoppedProfiler();
  const keys = (prefix: string) => Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`${prefix}${String(i).padStart(2, '0')}`, 'v']));
  await serve([
    withProfiler(profiler), withLogger(logger),
    withProfilerTransInfoTagging((info) => ({ route: info.path, ...keys('a') })),
    withProfilerMessageTagging(() => keys('m')),
  ], async (port) => {
    for (let i = 0; i < 3; i++) {
      const r = await request(port, { path: '/wide' });
      assert.equal(r.status, 200, r.body);
      const tags = JSON.parse(r.body) as Record<string, string>;
      assert.equal(Object.keys(tags).length, 64);
      assert.equal(tags.route, '/wide');
      assert.equal(tags.a39, 'v');
    }
  });
  const warned = logger.records.filter((l) => l.level === 'warn');
  assert.equal(warned.length, 1, JSON.stringify(logger.records.map((l) => l.msg)));
  assert.match(warned[0]!.msg!, /64/);
});

test('tag() in a plain function keeps working with a value left out', () => {
  tag({ route: '/x', tenant: undefined }, () => {
    assert.equal(lookup('route'), '/x');
    assert.equal(lookup('tenant'), undefined);
  });
});
