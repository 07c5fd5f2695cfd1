/**
 * ioredis (and generic-pool) against a real Redis: whose tags the CPU of a
 * command's callback, continuation and reply parsing carries, with and
 * without `bindDrivers()`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPool, type Pool } from 'generic-pool';
import { Redis } from 'ioredis';
import { bindDrivers, type DriverBindings } from '../../src/bindings/index.js';
import { startRedis, type DbServer } from '../helpers/db-servers.js';
import { enginesHere } from '../helpers/engines.js';
import { loudSkip } from '../helpers/system-tool.js';
import { assertFair, judge, runService, tableRow, type Io } from './workload.js';

let server: DbServer | undefined;
let skip: string | false = false;
const KEY = 'reqprof:value';

before(async () => {
  const s = await startRedis();
  if ('skip' in s) { skip = loudSkip('ioredis binding tests against Redis', s.skip); return; }
  server = s;
  const r = new Redis({ host: s.host, port: s.port });
  // A reply worth parsing: 1000 list items.
  await r.rpush(KEY, ...Array.from({ length: 1000 }, (_, i) => `item-${i}-${'x'.repeat(16)}`));
  await r.quit();
});
after(async () => { await server?.stop(); });

/** A client that connects on first use: the first request to send a command opens its socket. */
const lazyClient = () => new Redis({ host: server!.host, port: server!.port, lazyConnect: true });

interface Case { io: Io; close(): Promise<unknown> }

const styles: Record<string, () => Case> = {
  'redis.lrange(key, 0, -1, callback), one client connected by the first request': () => {
    const r = lazyClient();
    return { io: { style: 'callback', run: (done) => { r.lrange(KEY, 0, -1, (err) => done(err ?? undefined)); } }, close: () => r.quit() };
  },
  'await redis.lrange(key, 0, -1), one client connected by the first request': () => {
    const r = lazyClient();
    return { io: { style: 'promise', run: () => r.lrange(KEY, 0, -1) }, close: () => r.quit() };
  },
  'generic-pool of 4 clients for 16 requests: acquire, await lrange, release': () => {
    const pool: Pool<Redis> = createPool({
      create: async () => { const r = new Redis({ host: server!.host, port: server!.port }); await new Promise((ok) => r.once('ready', ok)); return r; },
      destroy: async (r) => { await r.quit(); },
    }, { max: 4 });
    return {
      io: { style: 'promise', run: async () => { const r = await pool.acquire(); try { return await r.lrange(KEY, 0, -1); } finally { await pool.release(r); } } },
      close: async () => { await pool.drain(); await pool.clear(); },
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

for (const engine of enginesHere()) {
  test(`[${engine}] without bindDrivers(), Redis replies are parsed as the request that happened to connect the client`, async (t) => {
    if (skip) { t.skip(skip); return; }
    const style = 'redis.lrange(key, 0, -1, callback), one client connected by the first request';
    const v = await measure(style, engine);
    console.log(`[${engine}] unbound ${style}\n${v.report}\n${tableRow('ioredis (no bindings)', style, engine, v)}`);
    assert.ok(v.opener!.measured > v.opener!.truth + 2 * v.opener!.bound, v.report);
  });
}

describe('with bindDrivers()', () => {
  let bindings: DriverBindings;
  before(() => { bindings = bindDrivers(); });
  after(() => bindings.unbind());

  test('ioredis and generic-pool are patched although they were imported before bindDrivers() was called', () => {
    assert.ok(bindings.patched.has('ioredis/built/Redis.js'), [...bindings.patched].join(', '));
    assert.ok(bindings.patched.has('generic-pool/lib/Pool.js'), [...bindings.patched].join(', '));
  });

  for (const engine of enginesHere()) {
    for (const style of Object.keys(styles)) {
      test(`[${engine}] ${style}: every tenant's CPU is billed to that tenant; replies are not billed to whoever connected`, async (t) => {
        if (skip) { t.skip(skip); return; }
        const v = await measure(style, engine);
        console.log(`[${engine}] ${style}\n${v.report}\n${tableRow(style.startsWith('generic-pool') ? 'ioredis + generic-pool' : 'ioredis', style, engine, v)}`);
        assertFair(v, v.samples);
      });
    }
  }
});
