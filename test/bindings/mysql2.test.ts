/**
 * mysql2 against a real MariaDB: whose tags the CPU of a query's callback,
 * continuation and reply parsing carries, with and without `bindDrivers()`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2';
import mysqlPromise from 'mysql2/promise';
import { bindDrivers, type DriverBindings } from '../../src/bindings/index.js';
import { startMariadb, type DbServer } from '../helpers/db-servers.js';
import { enginesHere } from '../helpers/engines.js';
import { loudSkip } from '../helpers/system-tool.js';
import { assertFair, judge, runService, tableRow, type Io } from './workload.js';

let server: DbServer | undefined;
let skip: string | false = false;

before(async () => {
  const s = await startMariadb();
  if ('skip' in s) skip = loudSkip('mysql2 binding tests against MariaDB', s.skip);
  else server = s;
});
after(async () => { await server?.stop(); });

const SQL = 'SELECT ? AS n, REPEAT(\'x\', 200) AS pad FROM seq_1_to_20';
const config = () => ({ host: server!.host, port: server!.port, user: server!.user, database: 'mysql', connectionLimit: 4 });

interface Case { io: Io; close(): Promise<unknown> }

/** The API styles a service uses, each over a fresh pool of 4 for 16 concurrent requests. */
const styles: Record<string, () => Case> = {
  'pool.query(sql, values, callback)': () => {
    const pool = mysql.createPool(config());
    return { io: { style: 'callback', run: (done) => { pool.query(SQL, [1], (err) => done(err ?? undefined)); } }, close: () => new Promise((r) => pool.end(r)) };
  },
  'await pool.query(sql, values) (mysql2/promise)': () => {
    const pool = mysqlPromise.createPool(config());
    return { io: { style: 'promise', run: () => pool.query(SQL, [1]) }, close: () => pool.end() };
  },
  'pool.getConnection(callback) then connection.query(callback)': () => {
    const pool = mysql.createPool(config());
    return {
      io: {
        style: 'callback',
        run: (done) => pool.getConnection((err, conn) => {
          if (err) { done(err); return; }
          conn.query(SQL, [1], (qerr) => { conn.release(); done(qerr ?? undefined); });
        }),
      },
      close: () => new Promise((r) => pool.end(r)),
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
  test(`[${engine}] without bindDrivers(), the callback of pool.query runs as the requests that opened the pool's connections`, async (t) => {
    if (skip) { t.skip(skip); return; }
    const style = 'pool.query(sql, values, callback)';
    const v = await measure(style, engine);
    console.log(`[${engine}] unbound ${style}\n${v.report}\n${tableRow('mysql2 (no bindings)', style, engine, v)}`);
    assert.ok(v.misattributed > 0.1, v.report);
  });
}

describe('with bindDrivers()', () => {
  let bindings: DriverBindings;
  before(() => { bindings = bindDrivers(); });
  after(() => bindings.unbind());

  test('mysql2 is patched although it was imported before bindDrivers() was called', () => {
    assert.ok(bindings.patched.has('mysql2/lib/base/connection.js'), [...bindings.patched].join(', '));
    assert.ok(bindings.patched.has('mysql2/lib/base/pool.js'), [...bindings.patched].join(', '));
  });

  for (const engine of enginesHere()) {
    for (const style of Object.keys(styles)) {
      test(`[${engine}] ${style}: every tenant's CPU, before the query, in its callback or continuation and from a busy pool, is billed to that tenant; nothing to the connection openers`, async (t) => {
        if (skip) { t.skip(skip); return; }
        const v = await measure(style, engine);
        console.log(`[${engine}] ${style}\n${v.report}\n${tableRow('mysql2', style, engine, v)}`);
        assertFair(v, v.samples);
      });
    }
  }
});
