/**
 * What a user sees starting an app that imports nothing from reqprof with
 * `node --import reqprof/register`, on every framework: route templates (never
 * a raw path), the tenant tag from a header, and CPU per route matching what
 * each route burned (measured by the app itself, before and after routing),
 * plus one per-request cost fitted over all routes, within the sampling bound.
 * Keep-alive clients carry every route over the same two connections.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { shareTolerance } from '../helpers/cpu.js';
import { cpedAvailable, engineFlags } from '../helpers/engines.js';
import { FIXTURES, byKey, runFixture, type FixtureRun } from './run-fixture.js';

const APPS: Array<{ name: string; file: string; env?: Record<string, string> }> = [
  { name: 'Express 5', file: 'express-app.mjs' },
  { name: 'Express 4', file: 'express-app.mjs', env: { FIXTURE_EXPRESS: 'express4' } },
  { name: 'Fastify 5', file: 'fastify-app.mjs' },
  { name: 'Fastify 4', file: 'fastify-app.mjs', env: { FIXTURE_FASTIFY: 'fastify4' } },
  { name: 'Koa + @koa/router', file: 'koa-app.mjs' },
  { name: 'NestJS (Express)', file: 'nest-app.mjs' },
  { name: 'NestJS (Fastify)', file: 'nest-app.mjs', env: { FIXTURE_NEST: 'fastify' } },
];

/** Each route's tenant header, as drive.cjs sends it. */
const TENANT: Record<string, string> = { '/api/users/:id': 'acme', '/api/orders': 'globex', '/health': 'acme', '(unmatched)': 'acme' };

/**
 * Node 24+ runs both engine paths (CPED by default, async_hooks with --no-async-context-frame); Node 22
 * runs the path of the CI step it is in (CPED with --experimental-async-context-frame), flags given explicitly
 * since the fixtures run without NODE_OPTIONS.
 */
const paths: Array<'cped' | 'async-hooks'> = Number(process.versions.node.split('.')[0]) >= 24
  ? ['cped', 'async-hooks']
  : [cpedAvailable() ? 'cped' : 'async-hooks'];
const ENGINES: Array<{ name: string; flags: string[] }> = paths.map((name) => ({ name, flags: engineFlags(name)! }));

export function routeShares(run: FixtureRun, key = 'route'): { ok: boolean; report: string; perRequestMs: number } {
  const truth = run.truth!;
  const measured = new Map<string, { cpuMs: number; samples: number }>();
  for (const s of byKey(run).values()) {
    const route = s.tags[key];
    if (route === undefined || truth.cpuMs[route] === undefined) continue;
    const m = measured.get(route) ?? { cpuMs: 0, samples: 0 };
    m.cpuMs += s.cpuMs;
    m.samples += s.samples;
    measured.set(route, m);
  }
  const routes = Object.keys(truth.cpuMs);
  let sumMeasured = 0;
  let sumTruth = 0;
  let requests = 0;
  let samples = 0;
  for (const r of routes) {
    sumMeasured += measured.get(r)?.cpuMs ?? 0;
    samples += measured.get(r)?.samples ?? 0;
    sumTruth += truth.cpuMs[r]!;
    requests += truth.requests[r]!;
  }
  // The framework's own CPU per request (routing, serializing), the same for every route.
  const perRequestMs = (sumMeasured - sumTruth) / requests;
  let ok = true;
  const lines = [`${samples} samples, fitted framework cost ${perRequestMs.toFixed(3)} ms/request`];
  for (const r of routes) {
    const expected = (truth.cpuMs[r]! + truth.requests[r]! * perRequestMs) / sumMeasured;
    const got = (measured.get(r)?.cpuMs ?? 0) / sumMeasured;
    const tol = shareTolerance(expected, samples);
    if (Math.abs(got - expected) > tol) ok = false;
    lines.push(`  ${r}: known ${truth.cpuMs[r]!.toFixed(1)} ms / ${truth.requests[r]} req, expected share ${(expected * 100).toFixed(1)}%, ` +
      `measured ${(got * 100).toFixed(1)}% (${(measured.get(r)?.cpuMs ?? 0).toFixed(1)} ms), error ${(Math.abs(got - expected) * 100).toFixed(1)} pp, tolerance ${(tol * 100).toFixed(1)} pp`);
  }
  return { ok, report: lines.join('\n'), perRequestMs };
}

describe('reqprof/register on each framework (the app imports nothing from reqprof)', () => {
  for (const engine of ENGINES) {
    for (const app of APPS) {
      it(`${app.name}, ${engine.name} engine: templates, tenant tags, and CPU per route as each route burned it`, async () => {
        const run = await runFixture({
          args: [...engine.flags, '--import', 'reqprof/register', FIXTURES + app.file],
          env: { ...app.env, REQPROF_SAMPLING_INTERVAL_US: '1000', REQPROF_TAG_HEADERS: 'x-tenant:tenant', FIXTURE_ROUNDS: '40' },
        });
        assert.equal(run.code, 0, run.stderr);
        assert.ok(run.truth, 'the app reported its ground truth');
        // NestJS answers a POST with 201.
        const expected = app.name.startsWith('NestJS') ? { 200: 80, 201: 40, 404: 40 } : { 200: 120, 404: 40 };
        assert.deepEqual(run.truth.statuses, expected, 'responses are what the app sends without reqprof');
        assert.equal(run.mode, engine.name);
        const sets = [...byKey(run).values()].filter((s) => Object.keys(s.tags).length > 0);
        const routes = new Set(sets.map((s) => s.tags.route));
        assert.deepEqual([...routes].sort(), ['(unmatched)', '/api/orders', '/api/users/:id', '/health'], 'only templates and the one unmatched value');
        for (const s of sets) {
          assert.equal(s.tags.tenant, TENANT[s.tags.route!], `tenant of ${s.tags.route}`);
          assert.ok(s.tags.method === 'GET' || s.tags.method === 'POST');
        }
        for (const [route, n] of Object.entries(run.truth.requests)) {
          const counted = sets.filter((s) => s.tags.route === route).reduce((a, s) => a + s.requests, 0);
          assert.equal(counted, n, `requests counted under ${route}`);
        }
        const shares = routeShares(run);
        console.log(`${app.name} (${engine.name}, Node ${process.version}): ${shares.report}`);
        assert.ok(shares.ok, shares.report);
      });
    }
  }

  for (const engine of ENGINES) {
    it(`@grpc/grpc-js, ${engine.name} engine: each call tagged with its full method path and the tenant from metadata, CPU per method as burned`, async () => {
      const run = await runFixture({
        args: [...engine.flags, '--import', 'reqprof/register', FIXTURES + 'grpc-app.mjs'],
        env: { REQPROF_SAMPLING_INTERVAL_US: '1000', REQPROF_TAG_HEADERS: 'x-tenant:tenant', FIXTURE_ROUNDS: '60' },
      });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.mode, engine.name);
      const keys = [...byKey(run).keys()].filter((k) => k !== 'type=default').sort();
      assert.deepEqual(keys, ['method=/shop.Shop/GetUser|tenant=acme', 'method=/shop.Shop/PlaceOrder|tenant=globex']);
      const shares = routeShares(run, 'method');
      console.log(`gRPC (${engine.name}, Node ${process.version}): ${shares.report}`);
      assert.ok(shares.ok, shares.report);
    });
  }
});
