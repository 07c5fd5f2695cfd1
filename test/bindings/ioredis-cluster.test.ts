/**
 * ioredis `Cluster` against a real three-node Redis Cluster: a cluster is a
 * Redis client per node, connected on first use, with its own offline queue
 * and slot refreshes. Whose tags the CPU of a command's continuation and of
 * the reply parsing carries, with and without `bindDrivers()`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from 'ioredis';
import { bindDrivers, type DriverBindings } from '../../src/bindings/index.js';
import { startRedisCluster, type RedisCluster } from '../helpers/db-servers.js';
import { enginesHere } from '../helpers/engines.js';
import { loudSkip } from '../helpers/system-tool.js';
import { assertFair, judge, runService, tableRow } from './workload.js';

let servers: RedisCluster | undefined;
let skip: string | false = false;
/** Lists on several hash slots, so on every node. */
const KEYS = Array.from({ length: 9 }, (_, i) => `reqprof:list:${i}`);
const STYLE = 'await cluster.lrange(key, 0, -1) over 9 keys on 3 nodes, the cluster connected by the first request';

const nodes = () => servers!.ports.map((port) => ({ host: servers!.host, port }));

before(async () => {
  const s = await startRedisCluster(3);
  if ('skip' in s) { skip = loudSkip('ioredis Cluster binding tests against a Redis Cluster', s.skip); return; }
  servers = s;
  const c = new Cluster(nodes());
  // A reply worth parsing: 1000 list items per key.
  for (const key of KEYS) await c.rpush(key, ...Array.from({ length: 1000 }, (_, i) => `item-${i}-${'x'.repeat(16)}`));
  await c.quit();
});
after(async () => { await servers?.stop(); });

async function measure(engine: 'cped' | 'async-hooks') {
  const cluster = new Cluster(nodes(), { lazyConnect: true });
  let i = 0;
  try {
    return judge(await runService({ style: 'promise', run: () => cluster.lrange(KEYS[i++ % KEYS.length]!, 0, -1) }, engine));
  } finally {
    await cluster.quit();
  }
}

for (const engine of enginesHere()) {
  test(`[${engine}] without bindDrivers(), a cluster's replies are parsed as the request that happened to connect it`, async (t) => {
    if (skip) { t.skip(skip); return; }
    const v = await measure(engine);
    console.log(`[${engine}] unbound ${STYLE}\n${v.report}\n${tableRow('ioredis Cluster (no bindings)', STYLE, engine, v)}`);
    assert.ok(v.opener!.measured > v.opener!.truth + 2 * v.opener!.bound, v.report);
  });
}

describe('with bindDrivers()', () => {
  let bindings: DriverBindings;
  before(() => { bindings = bindDrivers(); });
  after(() => bindings.unbind());

  test('the Cluster class is patched although ioredis was imported before bindDrivers() was called', () => {
    assert.ok(bindings.patched.has('ioredis/built/cluster/index.js'), [...bindings.patched].join(', '));
  });

  for (const engine of enginesHere()) {
    test(`[${engine}] ${STYLE}: every tenant's CPU is billed to that tenant; replies are not billed to whoever connected`, async (t) => {
      if (skip) { t.skip(skip); return; }
      const v = await measure(engine);
      console.log(`[${engine}] ${STYLE}\n${v.report}\n${tableRow('ioredis Cluster', STYLE, engine, v)}`);
      assertFair(v, v.samples);
    });
  }
});
