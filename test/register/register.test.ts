/**
 * How an app starts with reqprof/register, each way a user would start it,
 * and what it must never change: its responses, its exit, its signals.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FIXTURES, byKey, runFixture, runUntilReady, tenantShares, type FixtureRun } from './run-fixture.js';

const TAGGED = { REQPROF_TAG_HEADERS: 'x-tenant:tenant' };

/** The route values of the tagged tag sets ('(none)': tagged, without a route); the untagged group is left out. */
function routesOf(run: FixtureRun): string[] {
  const tagged = [...byKey(run).values()].filter((s) => Object.keys(s.tags).length > 0);
  return [...new Set(tagged.map((s) => s.tags.route ?? '(none)'))].sort();
}

describe('starting an app with reqprof/register', () => {
  it('a CommonJS app started with --require gets its Koa routes tagged', async () => {
    const run = await runFixture({ args: ['--require', 'reqprof/register', FIXTURES + 'koa-app.cjs'], env: { ...TAGGED, FIXTURE_ROUNDS: '5' } });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.windows, 1, 'the window is delivered when the app exits on its own');
    assert.deepEqual(routesOf(run), ['(unmatched)', '/api/orders', '/api/users/:id', '/health']);
  });

  it('the same CommonJS app started with --import', async () => {
    const run = await runFixture({ args: ['--import', 'reqprof/register', FIXTURES + 'koa-app.cjs'], env: { ...TAGGED, FIXTURE_ROUNDS: '5' } });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(routesOf(run), ['(unmatched)', '/api/orders', '/api/users/:id', '/health']);
  });

  it('an ES module app started through NODE_OPTIONS="--import reqprof/register"', async () => {
    const run = await runFixture({ args: [FIXTURES + 'express-app.mjs'], env: { ...TAGGED, FIXTURE_ROUNDS: '5', NODE_OPTIONS: '--import reqprof/register' } });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(routesOf(run), ['(unmatched)', '/api/orders', '/api/users/:id', '/health']);
    const users = [...byKey(run).values()].find((s) => s.tags.route === '/api/users/:id')!;
    assert.deepEqual(users.tags, { method: 'GET', route: '/api/users/:id', tenant: 'acme' });
  });

  it('a TypeScript app run through tsx', async () => {
    const run = await runFixture({ args: ['--import', 'tsx', '--import', 'reqprof/register', FIXTURES + 'ts-app.ts'], env: { FIXTURE_ROUNDS: '5' } });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.truth?.requests['/api/users/:id'], 5);
    assert.ok(routesOf(run).includes('/api/users/:id'), routesOf(run).join(', '));
  });

  it('a plain node:http app gets method and header tags but no route (no template exists), and its worker thread does nothing harmful', async () => {
    const run = await runFixture({ args: ['--require', 'reqprof/register', FIXTURES + 'http-app.cjs'], env: { ...TAGGED, FIXTURE_WORKER: '1', FIXTURE_ROUNDS: '5' } });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.truth?.workerResult, 42, 'the worker (which inherited --require) ran');
    assert.equal(run.windows, 1, 'one profiler: the main thread\'s');
    assert.deepEqual(run.errors, []);
    assert.deepEqual(routesOf(run), ['(none)']);
    const keys = [...byKey(run).keys()].filter((k) => k !== 'type=default').sort();
    assert.deepEqual(keys, ['method=GET|tenant=acme', 'method=POST|tenant=globex']);
  });
});

describe('what reqprof/register never changes', () => {
  it('a bad variable is one log line naming it and what is accepted; the app runs on, unprofiled, with the same responses', async () => {
    const run = await runFixture({ args: ['--import', 'reqprof/register', FIXTURES + 'express-app.mjs'], env: { FIXTURE_ROUNDS: '3', REQPROF_WINDOW_MS: '30s', REQPROF_PROCESSORS: 'log' } });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.errors.length, 1);
    assert.match(String(run.errors[0]!.msg), /REQPROF_WINDOW_MS="30s" is not valid: expected an integer number of milliseconds from 10 to 2147483647/);
    assert.equal(run.windows, 0);
    assert.deepEqual(run.truth?.statuses, { 200: 9, 404: 3 });
  });

  it('REQPROF_ENABLED=false: nothing is logged, nothing is tagged', async () => {
    const run = await runFixture({ args: ['--import', 'reqprof/register', FIXTURES + 'express-app.mjs'], env: { FIXTURE_ROUNDS: '3', REQPROF_ENABLED: 'false' } });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.split('\n').filter((l) => l.startsWith('{')).length, 0);
    assert.deepEqual(run.truth?.statuses, { 200: 9, 404: 3 });
  });

  it('SIGTERM to an app without its own handler: the partial window is delivered, then the process ends by the signal as it would have', async () => {
    const run = await runFixture({
      args: ['--import', 'reqprof/register', FIXTURES + 'signal-app.mjs'],
      onLine: (line, child) => {
        if (line === 'READY') child.kill('SIGTERM');
      },
    });
    assert.equal(run.signal, 'SIGTERM');
    assert.equal(run.windows, 1);
    assert.ok(run.tagSets.some((t) => t.key === 'method=GET'), run.stdout);
  });

  it('SIGINT to an app with its own handler: the app\'s handler runs and its exit status stays; the window is delivered at exit', async () => {
    const run = await runFixture({
      args: ['--import', 'reqprof/register', FIXTURES + 'signal-app.mjs'],
      env: { FIXTURE_OWN_HANDLER: '1' },
      onLine: (line, child) => {
        if (line === 'READY') child.kill('SIGINT');
      },
    });
    assert.match(run.stdout, /APP_HANDLER SIGINT/);
    assert.equal(run.code, 3);
    assert.equal(run.windows, 1);
  });
});

describe('the debug endpoint under reqprof/register (REQPROF_DEBUG_PORT)', () => {
  it('serves /metrics and the windows on loopback, and its own requests are never counted as app traffic', async () => {
    let url: string | undefined;
    let ready = false;
    const answers: Record<string, number> = {};
    let windowsJson: unknown;
    const probe = async (child: { kill(signal: NodeJS.Signals): boolean }): Promise<void> => {
      for (const path of ['/metrics', '/debug/reqprof/windows.json', '/debug/reqprof/', '/debug/reqprof/nothing-here']) {
        const res = await fetch(url + path);
        answers[path] = res.status;
        if (path.endsWith('.json')) windowsJson = await res.json();
        else await res.arrayBuffer();
      }
      child.kill('SIGTERM');
    };
    const run = await runFixture({
      args: ['--import', 'reqprof/register', FIXTURES + 'signal-app.mjs'],
      env: { REQPROF_DEBUG_PORT: '0' },
      onLine: (line, child) => {
        if (line.startsWith('{') && line.includes('debug endpoint on')) url = (JSON.parse(line) as { url: string }).url;
        if (line === 'READY') ready = true;
        if (url !== undefined && ready) {
          ready = false;
          void probe(child);
        }
      },
    });
    assert.match(url ?? '', /^http:\/\/127\.0\.0\.1:\d+$/, 'bound to loopback by default');
    // Before the first window ends (30 s by default) the page answers 404 saying why; a full window is tested in test/debug/.
    assert.deepEqual(answers, { '/metrics': 200, '/debug/reqprof/windows.json': 200, '/debug/reqprof/': 404, '/debug/reqprof/nothing-here': 404 });
    assert.ok(windowsJson !== null && typeof windowsJson === 'object');
    assert.equal(run.signal, 'SIGTERM');
    const get = run.tagSets.find((t) => t.key === 'method=GET');
    // 10 rounds of 3 GETs (drive.cjs): the 4 requests to the debug endpoint are not among them.
    assert.equal(get?.requests, 30, 'the app\'s 30 GETs, none of the debug endpoint\'s');
  });
});

describe('worker threads under reqprof/register', () => {
  it('a piscina pool\'s task CPU is billed to the tenant whose request sent it, with no reqprof code in the app', async () => {
    const { of: { a, b }, detail } = tenantShares(await runUntilReady('piscina-app.mjs', { ...TAGGED, REQPROF_SAMPLING_INTERVAL_US: '1000' }));
    // The rows hold main-thread handling too (about a millisecond per request), the truth only the tasks.
    assert.ok(a!.ms >= 0.9 * a!.truthMs && b!.ms >= 0.9 * b!.truthMs, `workers' task CPU reached the tenants' rows: ${detail}`);
    assert.ok(Math.abs(a!.share - a!.trueShare) <= a!.bound, detail);
  });
});

describe('processors chosen by REQPROF_PROCESSORS', () => {
  it('prometheus: metrics labelled method, route and the header tags, on prom-client\'s default registry (which the app serves); pprof and html write where told', async () => {
    const { mkdtempSync, readdirSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'reqprof-register-'));
    try {
      const run = await runFixture({
        args: ['--import', 'reqprof/register', FIXTURES + 'metrics-app.mjs'],
        env: {
          ...TAGGED, REQPROF_PROCESSORS: 'prometheus,pprof,html', REQPROF_WINDOW_MS: '500', REQPROF_SAMPLING_INTERVAL_US: '1000',
          REQPROF_PPROF_DIR: join(dir, 'pprof'), REQPROF_REPORT_FILE: join(dir, 'report.html'),
        },
      });
      assert.equal(run.code, 0, run.stderr);
      const metrics = run.stdout.split('\n').filter((l) => l.startsWith('METRIC '));
      assert.ok(metrics.some((l) => l.startsWith('METRIC reqprof_cpu_seconds_total{method="GET",route="/api/users/:id",tenant="acme"}')), metrics.join('\n'));
      assert.ok(!metrics.some((l) => /route="\/api\/users\/\d/.test(l)), 'no raw path');
      assert.ok(readdirSync(join(dir, 'pprof')).some((f) => f.endsWith('.pb.gz')));
      assert.ok(readdirSync(dir).includes('report.html'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
