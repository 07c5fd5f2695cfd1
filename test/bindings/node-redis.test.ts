/**
 * node-redis (`redis`) against a real Redis: whose tags the CPU of a
 * command's continuation and reply parsing carries, with and without
 * `bindDrivers()`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient, createClientPool } from 'redis';
import { bindDrivers, type DriverBindings } from '../../src/bindings/index.js';
import { startRedis, type DbServer } from '../helpers/db-servers.js';
import { enginesHere } from '../helpers/engines.js';
import { loudSkip } from '../helpers/system-tool.js';
import { assertFair, judge, runService, tableRow, type Io } from './workload.js';

let server: DbServer | undefined;
let skip: string | false = false;
const KEY = 'reqprof:list';

before(async () => {
  const s = await startRedis();
  if ('skip' in s) { skip = loudSkip('node-redis binding tests against Redis', s.skip); return; }
  server = s;
  const c = await createClient({ socket: { host: s.host, port: s.port } }).connect();
  // A reply worth parsing: 1000 list items.
  await c.rPush(KEY, Array.from({ length: 1000 }, (_, i) => `item-${i}-${'x'.repeat(16)}`));
  c.destroy();
});
after(async () => { await server?.stop(); });

interface Case { io: Io; close(): Promise<unknown> }

const styles: Record<string, () => Case> = {
  'await client.lRange(key, 0, -1), one client connected by the first request': () => {
    const client = createClient({ socket: { host: server!.host, port: server!.port } });
    let connecting: Promise<unknown> | undefined;
    return {
      io: { style: 'promise', run: async () => { await (connecting ??= client.connect()); return client.lRange(KEY, 0, -1); } },
      close: async () => { if (connecting) client.destroy(); },
    };
  },
  'createClientPool (4 clients for 16 requests): await pool.lRange(key, 0, -1)': () => {
    const pool = createClientPool({ socket: { host: server!.host, port: server!.port } }, { minimum: 0, maximum: 4 });
    let connecting: Promise<unknown> | undefined;
    return {
      io: { style: 'promise', run: async () => { await (connecting ??= pool.connect()); return pool.lRange(KEY, 0, -1); } },
      close: async () => { if (connecting) pool.destroy(); },
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
  test(`[${engine}] without bindDrivers(), Redis replies are parsed as the request that connected the client`, async (t) => {
    if (skip) { t.skip(skip); return; }
    // One client connected by the first request: the connector is always an opener.
    const style = 'await client.lRange(key, 0, -1), one client connected by the first request';
    const v = await measure(style, engine);
    console.log(`[${engine}] unbound ${style}\n${v.report}\n${tableRow('redis (no bindings)', style, engine, v)}`);
    assert.ok(v.opener!.measured > v.opener!.truth + 2 * v.opener!.bound, v.report);
  });
}

describe('with bindDrivers()', () => {
  let bindings: DriverBindings;
  before(() => { bindings = bindDrivers(); });
  after(() => bindings.unbind());

  test('node-redis is patched although it was imported before bindDrivers() was called', () => {
    assert.ok(bindings.patched.has('@redis/client/dist/lib/client/index.js'), [...bindings.patched].join(', '));
    assert.ok(bindings.patched.has('@redis/client/dist/lib/client/pool.js'), [...bindings.patched].join(', '));
  });

  for (const engine of enginesHere()) {
    for (const style of Object.keys(styles)) {
      test(`[${engine}] ${style}: every tenant's CPU is billed to that tenant; replies are not billed to whoever connected`, async (t) => {
        if (skip) { t.skip(skip); return; }
        const v = await measure(style, engine);
        console.log(`[${engine}] ${style}\n${v.report}\n${tableRow('redis', style, engine, v)}`);
        assertFair(v, v.samples);
      });
    }
  }
});
