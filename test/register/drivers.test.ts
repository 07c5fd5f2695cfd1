/**
 * What a user sees running a service over a pooled client driver with
 * `node --import reqprof/register` and no reqprof code in it
 * (test/fixtures/register/driver-app.mjs, one app, the driver chosen by
 * FIXTURE_DRIVER), over real servers. A pool of 2 connections serves 8 requests
 * in flight; two `opener` requests go first and open the connections, then
 * 20 rounds of tenants a and b (a burns 3 ms after its call, b 1 ms; replies of
 * about 40 KB). Each tenant's row is judged against the CPU the app measured per
 * tenant plus one cost per request fitted over all rows (HTTP handling, the
 * driver's call and, where it is billed to its request, the reply's parsing).
 *
 * With the bindings (REQPROF_BIND_DRIVERS=true, the default) every tenant's
 * share is within its bound and the openers' row is not inflated. Without them
 * (false) the same service bills the openers: for callback drivers (pg, mysql2)
 * the callbacks themselves, for promise drivers the parsing of every later
 * reply. The unbound case is asserted where that damage is large and reliable.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startMariadb, startPostgres, startRedis, type DbServer, type Started } from '../helpers/db-servers.js';
import { cpedAvailable, engineFlags } from '../helpers/engines.js';
import { loudSkip } from '../helpers/system-tool.js';
import { runUntilReady, tenantShares } from './run-fixture.js';

/** The engine path of this runtime's CI step (Node 22 runs both, in two steps), given to the child explicitly. */
const ENGINE = cpedAvailable() ? 'cped' : 'async-hooks';

type ServerKind = 'postgresql' | 'mariadb' | 'redis';
const START: Record<ServerKind, () => Promise<Started>> = { postgresql: startPostgres, mariadb: startMariadb, redis: startRedis };

interface DriverCase {
  /** FIXTURE_DRIVER. */
  driver: string;
  server?: ServerKind;
  /**
   * With REQPROF_BIND_DRIVERS=false, by how much the openers' row is asserted to exceed their true share
   * (undefined: the unbound damage is too small to assert reliably; see the comment on the case).
   */
  unboundExcess?: number;
}

const CASES: DriverCase[] = [
  // Callback drivers: the callback itself runs as the openers (97-98% of all CPU billed to them, measured).
  { driver: 'pg', server: 'postgresql', unboundExcess: 0.5 },
  { driver: 'mysql2', server: 'mariadb', unboundExcess: 0.5 },
  // Promise drivers: the openers are billed the parsing of every later reply (measured: mysql2/promise 11-16 pp
  // above its truth, ioredis 33-47, node-redis 26-41, undici 8-15).
  { driver: 'mysql2/promise', server: 'mariadb', unboundExcess: 0.05 },
  { driver: 'ioredis', server: 'redis', unboundExcess: 0.15 },
  { driver: 'redis', server: 'redis', unboundExcess: 0.15 },
  { driver: 'undici', unboundExcess: 0.05 },
  // Node runs a node:http response's callbacks as its own request already: unbound, the openers' row read
  // 0-2.6 pp above its truth, within its bound, so only the bound case is asserted.
  { driver: 'http' },
];

describe(`client drivers under reqprof/register (the app imports nothing from reqprof), ${ENGINE} engine`, () => {
  const servers = new Map<ServerKind, DbServer>();
  const skips = new Map<ServerKind, string>();
  before(async () => {
    const kinds = [...new Set(CASES.flatMap((c) => (c.server ? [c.server] : [])))];
    await Promise.all(kinds.map(async (kind) => {
      const s = await START[kind]();
      if ('skip' in s) skips.set(kind, loudSkip(`reqprof/register over a real ${kind}`, s.skip));
      else servers.set(kind, s);
    }));
  });
  after(async () => { await Promise.all([...servers.values()].map((s) => s.stop())); });

  const run = async (c: DriverCase, bind: boolean) => {
    const server = c.server ? servers.get(c.server)! : undefined;
    const r = await runUntilReady('driver-app.mjs', {
      REQPROF_TAG_HEADERS: 'x-tenant:tenant', REQPROF_SAMPLING_INTERVAL_US: '1000', REQPROF_BIND_DRIVERS: String(bind),
      FIXTURE_DRIVER: c.driver, FIXTURE_DB_PORT: String(server?.port ?? ''), FIXTURE_DB_USER: server?.user ?? '',
    }, engineFlags(ENGINE)!);
    assert.equal(r.mode, ENGINE);
    assert.deepEqual(Object.keys(r.truth?.statuses ?? {}), ['200'], `every request answered: ${r.stderr}`);
    const shares = tenantShares(r, true);
    console.log(`DRIVER | ${c.driver} | ${bind ? 'bound' : 'unbound'} | node ${process.versions.node} ${ENGINE} | ${shares.detail}`);
    return shares.of;
  };
  const excess = (s: { share: number; trueShare: number }) => `${(100 * (s.share - s.trueShare)).toFixed(1)} pp`;

  for (const c of CASES) {
    it(`${c.driver}: every tenant's CPU share is its own, and the requests that opened the pooled connections are not billed for the others' work`, async (t) => {
      if (c.server && skips.has(c.server)) return t.skip(skips.get(c.server));
      const of = await run(c, true);
      for (const [tenant, s] of Object.entries(of)) {
        assert.ok(Math.abs(s.share - s.trueShare) <= s.bound, `${tenant}'s share is off by ${excess(s)} (bound ${(100 * s.bound).toFixed(1)} pp)`);
      }
    });
    if (c.unboundExcess === undefined) continue;
    it(`${c.driver} with REQPROF_BIND_DRIVERS=false: the openers' row is billed for the others' work (what the bindings prevent)`, async (t) => {
      if (c.server && skips.has(c.server)) return t.skip(skips.get(c.server));
      const { opener } = await run(c, false);
      assert.ok(opener!.share - opener!.trueShare > c.unboundExcess!, `the openers' row exceeds its truth by ${excess(opener!)}`);
    });
  }
});
