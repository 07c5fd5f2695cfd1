// node --import tsx bench/bindings/run.mjs — what the driver bindings cost per
// query: CPU µs per query (process.cpuUsage, this process only: the database
// servers are other processes) with the drivers unbound and bound, rounds
// interleaved, the profiler running (its engine's bridge is what the
// bindings talk to). Real PostgreSQL, MariaDB and Redis on loopback.
//
// Environment: BENCH_ROUNDS (5), BENCH_QUERIES (2000 per timed run), BENCH_ONLY (pg,mysql2,ioredis,redis,http,fetch).
import http from 'node:http';
import { newProfiler, tag } from '../../src/index.ts';
import { bindDrivers } from '../../src/bindings/index.ts';
import { bindToCaller, outsideRequests, runAs } from '../../src/bindings/scope.ts';
import { currentTags, tag as tagHere, untag } from '../../src/context.ts';
import { startMariadb, startPostgres, startRedis } from '../../test/helpers/db-servers.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 2000);
const ONLY = process.env.BENCH_ONLY?.split(',');
const CONCURRENCY = 8;

const pg = (await import('pg')).default;
const mysql = (await import('mysql2')).default;
const { Redis } = await import('ioredis');
const { createClient } = await import('redis');

const servers = [];
const cases = [];
const want = (name) => !ONLY || ONLY.includes(name);

if (want('pg')) {
  const s = await startPostgres();
  if ('skip' in s) console.error(`SKIPPED pg: ${s.skip}`);
  else {
    servers.push(s);
    cases.push({
      driver: 'pg', style: 'pool.query(sql, cb), pool of 4',
      open: () => new pg.Pool({ host: s.host, port: s.port, user: s.user, database: 'postgres', max: 4 }),
      query: (pool) => new Promise((ok, ko) => pool.query('SELECT 1 AS n', (e) => (e ? ko(e) : ok()))),
      close: (pool) => pool.end(),
    });
  }
}
if (want('mysql2')) {
  const s = await startMariadb();
  if ('skip' in s) console.error(`SKIPPED mysql2: ${s.skip}`);
  else {
    servers.push(s);
    cases.push({
      driver: 'mysql2', style: 'pool.query(sql, cb), pool of 4',
      open: () => mysql.createPool({ host: s.host, port: s.port, user: s.user, database: 'mysql', connectionLimit: 4 }),
      query: (pool) => new Promise((ok, ko) => pool.query('SELECT 1 AS n', (e) => (e ? ko(e) : ok()))),
      close: (pool) => new Promise((r) => pool.end(r)),
    });
  }
}
if (want('ioredis') || want('redis')) {
  const s = await startRedis();
  if ('skip' in s) console.error(`SKIPPED redis: ${s.skip}`);
  else {
    servers.push(s);
    if (want('ioredis')) {
      cases.push({
        driver: 'ioredis', style: 'await redis.get(key), lazy client',
        open: () => new Redis({ host: s.host, port: s.port, lazyConnect: true }),
        query: (r) => r.get('k'),
        close: (r) => r.quit(),
      });
    }
    if (want('redis')) {
      cases.push({
        driver: 'redis', style: 'await client.get(key)',
        open: () => { const c = createClient({ socket: { host: s.host, port: s.port } }); c.ready = c.connect(); return c; },
        query: async (c) => { await c.ready; return c.get('k'); },
        close: (c) => c.destroy(),
      });
    }
  }
}
let httpServer;
if (want('http')) {
  httpServer = http.createServer((_q, res) => res.end('{"ok":true}'));
  await new Promise((r) => httpServer.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${httpServer.address().port}/`;
  cases.push({
    driver: 'node:http', style: 'http.get, keep-alive agent of 4',
    open: () => new http.Agent({ keepAlive: true, maxSockets: 4 }),
    query: (agent) => new Promise((ok, ko) => http.get(url, { agent }, (res) => { res.resume(); res.on('end', ok); }).on('error', ko)),
    close: (agent) => agent.destroy(),
  });
}
if (want('fetch')) {
  httpServer ??= http.createServer((_q, res) => res.end('{"ok":true}'));
  if (!httpServer.listening) await new Promise((r) => httpServer.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${httpServer.address().port}/fetch`;
  // Node's own undici (nothing here loads the npm package): its global Agent keeps the connections.
  cases.push({
    driver: 'fetch (built-in)', style: 'await (await fetch(url)).json(), global Agent',
    open: () => undefined,
    query: async () => (await fetch(url)).json(),
    close: async () => {},
  });
}

const profiler = newProfiler(() => {}, 0, 10_000, { samplingIntervalMicros: 10_000 });
const running = profiler.run();

/** CPU µs per query for QUERIES queries, CONCURRENCY in flight, each inside a request's tags. */
async function timedRun(c) {
  const client = c.open();
  // Warm: connections open, code optimised.
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => tag({ tenant: `t${i % 3}` }, () => c.query(client))));
  let next = 0;
  const t0 = process.cpuUsage();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < QUERIES) {
      const i = next++;
      await tag({ tenant: `t${i % 3}` }, () => c.query(client));
    }
  }));
  const d = process.cpuUsage(t0);
  await c.close(client);
  return (d.user + d.system) / QUERIES;
}

// The building blocks the bindings add per query, alone: end-to-end figures on
// a shared 2-core machine move by more than these costs from run to run.
const OPS = 200_000;
function perOp(fn) {
  let best = Infinity;
  for (let run = 0; run < 5; run++) {
    const t0 = process.cpuUsage();
    for (let i = 0; i < OPS; i++) fn();
    const d = process.cpuUsage(t0);
    best = Math.min(best, ((d.user + d.system) * 1000) / OPS);
  }
  return best;
}
const noop = () => 0;
const blocks = tag({ tenant: 'bench' }, () => {
  const tags = currentTags();
  return [
    ['bindToCaller(cb) then calling it once (a callback bound to its caller)', perOp(() => bindToCaller(noop)())],
    ['runAs(tags, fn) (a chunk or packet handled as its request)', perOp(() => runAs(tags, noop))],
    ['outsideRequests(fn) (connection set-up; mysql2: every getConnection)', perOp(() => outsideRequests(noop))],
    ['untag() then tag(pairs) (ioredis: the rest of a chunk as the next command\'s request)', perOp(() => { untag(); tagHere(tags.pairs); })],
    ['plain call (reference)', perOp(() => noop())],
  ];
});
console.log(`# Binding building blocks (node ${process.versions.node}, profiler on, inside a tagged request, best of 5 x ${OPS})`);
console.log('| operation | ns per call |');
console.log('| --- | ---: |');
for (const [name, ns] of blocks) console.log(`| ${name} | ${ns.toFixed(0)} |`);
console.log('');

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
console.log(`# Driver bindings: CPU per query (node ${process.versions.node}, ${ROUNDS} rounds interleaved, ${QUERIES} queries per run, ${CONCURRENCY} in flight, profiler on at 100 Hz)`);
console.log('| driver | style | unbound µs/query | bound µs/query | bound - unbound | ratio |');
console.log('| --- | --- | ---: | ---: | ---: | ---: |');
for (const c of cases) {
  const off = [];
  const on = [];
  for (let r = 0; r < ROUNDS; r++) {
    off.push(await timedRun(c));
    const b = bindDrivers();
    try { on.push(await timedRun(c)); } finally { b.unbind(); }
  }
  const u = median(off);
  const b = median(on);
  console.log(`| ${c.driver} | ${c.style} | ${u.toFixed(1)} | ${b.toFixed(1)} | ${(b - u).toFixed(1)} | ${(b / u).toFixed(3)} |`);
}
await profiler.stop();
await running;
if (httpServer) { httpServer.closeAllConnections(); httpServer.close(); }
for (const s of servers) await s.stop();
