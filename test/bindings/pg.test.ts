/**
 * pg against a real PostgreSQL: whose tags the CPU of a query's callback,
 * continuation and reply parsing carries, with and without `bindDrivers()`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { lookup, tag } from '../../src/index.js';
import { bindDrivers, type DriverBindings } from '../../src/bindings/index.js';
import { startPostgres, type DbServer } from '../helpers/db-servers.js';
import { enginesHere } from '../helpers/engines.js';
import { loudSkip } from '../helpers/system-tool.js';
import { assertFair, judge, runService, tableRow, type Io } from './workload.js';

let server: DbServer | undefined;
let skip: string | false = false;

before(async () => {
  const s = await startPostgres();
  if ('skip' in s) skip = loudSkip('pg binding tests against PostgreSQL', s.skip);
  else server = s;
});
after(async () => { await server?.stop(); });

function newPool(): pg.Pool {
  return new pg.Pool({ host: server!.host, port: server!.port, user: server!.user, database: 'postgres', max: 4 });
}

const SQL = 'SELECT $1::int AS n, repeat(\'x\', 200) AS pad FROM generate_series(1, 20)';

/** The API styles a service uses, each over a fresh pool of 4 for 16 concurrent requests. */
const styles: Record<string, (pool: pg.Pool, shared: pg.Client) => Io> = {
  'pool.query(sql, values, callback)': (pool) => ({ style: 'callback', run: (done) => pool.query(SQL, [1], (err) => done(err)) }),
  'await pool.query(sql, values)': (pool) => ({ style: 'promise', run: () => pool.query(SQL, [1]) }),
  'pool.connect(callback) then client.query(callback)': (pool) => ({
    style: 'callback',
    run: (done) => pool.connect((err, client, release) => {
      if (err) { done(err); return; }
      client!.query(SQL, [1], (qerr) => { release(); done(qerr); });
    }),
  }),
  'one shared Client, client.query(sql, values, callback)': (_pool, shared) => ({ style: 'callback', run: (done) => shared.query(SQL, [1], (err) => done(err)) }),
};

async function measure(style: string, engine: 'cped' | 'async-hooks') {
  const pool = newPool();
  // A Client connected by the first request, shared by all later ones.
  const shared = new pg.Client({ host: server!.host, port: server!.port, user: server!.user, database: 'postgres' });
  let connected: Promise<unknown> | undefined;
  const io = styles[style]!(pool, shared);
  const first: Io = io.style === 'callback'
    ? { style: 'callback', run: (done) => { (connected ??= shared.connect()).then(() => io.run(done), done); } }
    : io;
  try {
    return judge(await runService(style.startsWith('one shared') ? first : io, engine));
  } finally {
    await pool.end();
    if (connected) await shared.end();
  }
}

for (const engine of enginesHere()) {
  test(`[${engine}] without bindDrivers(), the callback of pool.query runs as the requests that opened the pool's connections`, async (t) => {
    if (skip) { t.skip(skip); return; }
    const v = await measure('pool.query(sql, values, callback)', engine);
    console.log(`[${engine}] unbound pool.query callback\n${v.report}\n${tableRow('pg (no bindings)', 'pool.query callback', engine, v)}`);
    // What a user sees on a driver reqprof does not bind: another tenant's CPU on the openers' row.
    assert.ok(v.misattributed > 0.1, v.report);
    assert.ok(v.opener!.measured > v.opener!.truth + v.opener!.bound, v.report);
  });
}

describe('with bindDrivers()', () => {
  let bindings: DriverBindings;
  before(() => { bindings = bindDrivers(); });
  after(() => bindings.unbind());

  test('pg is patched although it was imported before bindDrivers() was called', () => {
    assert.ok(bindings.patched.has('pg/lib/client.js'), [...bindings.patched].join(', '));
    assert.ok(bindings.patched.has('pg/lib/connection.js'));
    assert.ok(bindings.patched.has('pg-pool/index.js'));
  });

  test('a query config object with a callback, reused by another request, calls back as that other request', async (t) => {
    if (skip) { t.skip(skip); return; }
    const client = new pg.Client({ host: server!.host, port: server!.port, user: server!.user, database: 'postgres' });
    await client.connect();
    try {
      const seen: Array<string | undefined> = [];
      let done: () => void = () => {};
      const config = { text: 'SELECT 1', callback: () => { seen.push(lookup('tenant')); done(); } };
      for (const tenant of ['a', 'b']) {
        await new Promise<void>((resolve) => { done = resolve; tag({ tenant }, () => client.query(config as unknown as string)); });
      }
      assert.deepEqual(seen, ['a', 'b']);
    } finally {
      await client.end();
    }
  });

  for (const engine of enginesHere()) {
    for (const style of Object.keys(styles)) {
      test(`[${engine}] ${style}: every tenant's CPU, before the query, in its callback or continuation and from a busy pool, is billed to that tenant; nothing to the connection openers`, async (t) => {
        if (skip) { t.skip(skip); return; }
        const v = await measure(style, engine);
        console.log(`[${engine}] ${style}\n${v.report}\n${tableRow('pg', style, engine, v)}`);
        assertFair(v, v.samples);
      });
    }
  }
});
