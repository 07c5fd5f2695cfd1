/**
 * detectSharedConnections(): a user learns which library delivers work in the
 * wrong request's context, by name, once.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { tag } from '../../src/index.js';
import { bindDrivers, detectSharedConnections, type SharedConnectionFinding } from '../../src/bindings/index.js';
import { startPostgres, type DbServer } from '../helpers/db-servers.js';
import { loudSkip } from '../helpers/system-tool.js';

let server: DbServer | undefined;
let skip: string | false = false;

before(async () => {
  const s = await startPostgres();
  if ('skip' in s) skip = loudSkip('shared-connection detector tests against PostgreSQL', s.skip);
  else server = s;
});
after(async () => { await server?.stop(); });

/** Ten requests over a pool of 2 whose connections are opened by the first requests; returns the findings. */
async function service(): Promise<SharedConnectionFinding[]> {
  const findings: SharedConnectionFinding[] = [];
  const stop = detectSharedConnections({ onFinding: (f) => findings.push(f) });
  const pool = new pg.Pool({ host: server!.host, port: server!.port, user: server!.user, database: 'postgres', max: 2 });
  try {
    for (let round = 0; round < 5; round++) {
      await Promise.all(['a', 'b'].map((tenant) => tag({ tenant, round }, () => pool.query('SELECT 1'))));
    }
  } finally {
    await pool.end();
    stop();
  }
  return findings;
}

test('a pg pool whose connections were opened by requests is reported once, as pg, with the tag keys and not their values', async (t) => {
  if (skip) { t.skip(skip); return; }
  const findings = await service();
  assert.equal(findings.length, 1, JSON.stringify(findings));
  assert.equal(findings[0]!.library, 'pg');
  assert.deepEqual(findings[0]!.openedUnder, ['round', 'tenant']);
  assert.match(findings[0]!.message, /pg shares a connection between requests/);
  assert.doesNotMatch(findings[0]!.message, /tenant=a/);
});

test('with bindDrivers(), the same service reports nothing: its connections are opened outside requests', async (t) => {
  if (skip) { t.skip(skip); return; }
  const bindings = bindDrivers();
  try {
    assert.deepEqual(await service(), []);
  } finally {
    bindings.unbind();
  }
});

test('a connection used only by the request that opened it (and its nested tags) is not reported', async (t) => {
  if (skip) { t.skip(skip); return; }
  const findings: SharedConnectionFinding[] = [];
  const stop = detectSharedConnections({ onFinding: (f) => findings.push(f) });
  try {
    await tag({ tenant: 'a' }, async () => {
      const client = new pg.Client({ host: server!.host, port: server!.port, user: server!.user, database: 'postgres' });
      await client.connect();
      await client.query('SELECT 1');
      await tag({ step: 'second' }, () => client.query('SELECT 2'));
      await client.end();
    });
  } finally {
    stop();
  }
  assert.deepEqual(findings, []);
});

test('the built-in fetch, whose keep-alive connections were opened by requests, is reported by name; with bindDrivers() it is not', async () => {
  /** Three requests over fresh connections (a server, so an origin, of their own); returns the findings. */
  const service = async (): Promise<SharedConnectionFinding[]> => {
    const server = http.createServer((_req, res) => res.end('ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const findings: SharedConnectionFinding[] = [];
    const stop = detectSharedConnections({ onFinding: (f) => findings.push(f) });
    try {
      for (const tenant of ['opener', 'a', 'b']) await tag({ tenant }, async () => (await fetch(url)).text());
    } finally {
      stop();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
    return findings;
  };
  const unbound = await service();
  assert.deepEqual(unbound.map((f) => f.library), ['fetch (Node\'s built-in undici)'], JSON.stringify(unbound));
  const bindings = bindDrivers();
  try {
    assert.deepEqual(await service(), []);
  } finally {
    bindings.unbind();
  }
});
