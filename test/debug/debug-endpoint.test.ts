import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createServer, request } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import express from 'express';
import { chromium } from 'playwright-core';
import { Profile } from 'pprof-format';
import { Registry } from 'prom-client';
import { lookup, newProfiler, tag, type WindowInfo } from '../../src/index.js';
import { createDebugRecorder, debugHandler, startDebugServer, type DebugServer, type RecordedWindow } from '../../src/integrations/http.js';
import { isDebugServer } from '../../src/debug/server.js';
import { ROUTES, runRoutes } from '../helpers/hot-workload.js';
import { findSystemTool, loudSkip } from '../helpers/system-tool.js';

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }

function get(url: string, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Sends raw bytes and returns the raw answer: for requests no HTTP client would build. */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(bytes));
    let out = '';
    socket.on('data', (c) => (out += c.toString('latin1')));
    socket.on('close', () => resolve(out));
    socket.on('error', reject);
  });
}

function labelValues(p: Profile, key: string): Map<string, number> {
  const s = p.stringTable.strings;
  const cpuIndex = p.sampleType.findIndex((t) => s[Number(t.type)] === 'cpu');
  const byValue = new Map<string, number>();
  for (const sample of p.sample) {
    const l = sample.label.find((x) => s[Number(x.key)] === key);
    if (l) byValue.set(s[Number(l.str)]!, (byValue.get(s[Number(l.str)]!) ?? 0) + Number(sample.value[cpuIndex]));
  }
  return byValue;
}

function totalCpu(p: Profile): number {
  const s = p.stringTable.strings;
  const cpuIndex = p.sampleType.findIndex((t) => s[Number(t.type)] === 'cpu');
  return p.sample.reduce((sum, x) => sum + Number(x.value[cpuIndex]), 0);
}

/** The report's embedded model. */
function reportModel(html: string): { latest: { reason: string; rows: Array<{ key: string }> }; history: { windows: unknown[] } } {
  const m = /<script type="application\/json" id="reqprof-data">([\s\S]*?)<\/script>/.exec(html);
  assert.ok(m, 'no embedded data in the page');
  return JSON.parse(m[1]!);
}

describe('the debug endpoint on a real server, fed by a real profiler', () => {
  const recorder = createDebugRecorder();
  const registry = new Registry();
  let server: DebugServer;
  let profiler: ReturnType<typeof newProfiler>;
  let stopWindows: RecordedWindow[] = [];

  before(async () => {
    registry.setDefaultLabels({ service: 'checkout' });
    const { Counter } = await import('prom-client');
    new Counter({ name: 'app_orders_total', help: 'orders', registers: [registry] }).inc(3);
    profiler = newProfiler([recorder], 0, 1000, { samplingIntervalMicros: 1000 });
    void profiler.run();
    // Work until the first full window has been delivered (however long that takes on this machine).
    while (!recorder.windows().some((w) => w.window.reason === 'window')) await runRoutes(200);
    await runRoutes(100);
    await profiler.stop();
    stopWindows = recorder.windows().filter((w) => w.window.reason === 'stop');
    server = await startDebugServer(profiler, { port: 0, registry, recorder });
  });
  after(() => server?.close());

  test('it listens on loopback by default, and register can tell it from the app\'s servers', () => {
    assert.equal((server.server.address() as AddressInfo).address, '127.0.0.1');
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(isDebugServer(server.server), true);
    assert.equal(isDebugServer(createServer()), false);
  });

  test('/metrics serves the given registry as Prometheus text', async () => {
    const r = await get(`${server.url}/metrics`);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], registry.contentType);
    assert.match(r.body.toString(), /^app_orders_total\{service="checkout"\} 3$/m);
  });

  test('/debug/reqprof/ shows the last full window in its table even though a partial stop window came after it', async () => {
    assert.equal(recorder.windows().at(-1)!.window.reason, 'stop', 'the test needs a stop window last');
    assert.equal(stopWindows.length, 1);
    const r = await get(`${server.url}/debug/reqprof/`);
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/html/);
    const model = reportModel(r.body.toString());
    assert.equal(model.latest.reason, 'window');
    assert.ok(model.latest.rows.some((row) => row.key === 'route=/heavy|tenant=acme'), JSON.stringify(model.latest.rows.map((x) => x.key)));
    assert.equal(model.history.windows.length, recorder.windows().length, 'the chart covers every recorded window, the stop window too');
  });

  test('/debug/reqprof/profile is the latest window\'s gzipped pprof, each sample labelled with its tags', async () => {
    const r = await get(`${server.url}/debug/reqprof/profile`);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/octet-stream');
    const p = Profile.decode(gunzipSync(r.body));
    const latest = recorder.windows().at(-1)!;
    // The latest recorded window (the stop window) and nothing else.
    assert.equal(totalCpu(p), latest.pprof!.reduce((s, x) => s + totalCpu(x), 0));
    assert.equal(Number(p.timeNanos), latest.window.start * 1e6);
  });

  test('/debug/reqprof/windows.json holds every recorded window\'s TagsProfile[] and WindowInfo, and the profiler\'s settings', async () => {
    const r = await get(`${server.url}/debug/reqprof/windows.json`);
    assert.equal(r.status, 200);
    const body = JSON.parse(r.body.toString()) as { profiler: Record<string, unknown>; windows: Array<{ window: WindowInfo; profiles: Array<{ key: string; percent: number }> }> };
    assert.deepEqual(body.profiler, { state: 'stopped', mode: profiler.mode, windowMs: 1000, intervalMs: 0, samplingIntervalMicros: 1000 });
    assert.equal(body.windows.length, recorder.windows().length);
    assert.deepEqual(body.windows.map((w) => w.window.reason), recorder.windows().map((w) => w.window.reason));
    const full = body.windows.find((w) => w.window.reason === 'window')!;
    assert.ok(full.profiles.some((p) => p.key === 'route=/heavy|tenant=acme'));
    assert.ok(!('profiles' in full.window), 'the pprof profiles stay out of the JSON');
  });

  test('/debug/pprof/profile?seconds=N merges the windows that ended in the last N seconds', async () => {
    const r = await get(`${server.url}/debug/pprof/profile?seconds=3600`);
    assert.equal(r.status, 200);
    const p = Profile.decode(gunzipSync(r.body));
    const all = recorder.windows().flatMap((w) => w.pprof ?? []);
    assert.equal(totalCpu(p), all.reduce((s, x) => s + totalCpu(x), 0), 'the merge keeps every nanosecond');
    const routes = labelValues(p, 'route');
    for (const route of ROUTES) assert.ok((routes.get(route.tags.route!) ?? 0) > 0, `${route.tags.route} missing: ${[...routes.keys()].join(', ')}`);
    const expected = new Map<string, number>();
    for (const one of all) for (const [k, v] of labelValues(one, 'route')) expected.set(k, (expected.get(k) ?? 0) + v);
    assert.deepEqual(routes, expected, 'each route keeps its CPU through the merge');
  });

  test('malformed requests get a 4xx and the server goes on serving', async () => {
    for (const q of ['seconds=abc', 'seconds=0', 'seconds=-5', 'seconds=1e3', 'seconds=99999999']) {
      const r = await get(`${server.url}/debug/pprof/profile?${q}`);
      assert.equal(r.status, 400, q);
      assert.match(r.body.toString(), /seconds must be an integer/);
    }
    assert.equal((await get(`${server.url}/debug/reqprof/profile`, 'POST')).status, 405);
    assert.equal((await get(`${server.url}/nope`)).status, 404);
    assert.match(await raw(server.port, 'NOT HTTP AT ALL\r\n\r\n'), /^HTTP\/1\.1 400/);
    assert.match(await raw(server.port, 'GET /debug/reqprof/%%zz?seconds=%ff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 404/);
    assert.match(await raw(server.port, 'GET http://[bad HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 4\d\d/);
    assert.equal((await get(`${server.url}/debug/reqprof/windows.json`)).status, 200);
  });

  test('in a real browser the page served over HTTP draws its table and flame graph (its inline script runs under the CSP header)', async (t) => {
    const tool = findSystemTool('chromium', 'chromium');
    if ('skip' in tool) return t.skip(loudSkip('the Chromium check of /debug/reqprof/', tool.skip));
    const path = tool.path;
    const browser = await chromium.launch({ executablePath: path, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
      await page.goto(`${server.url}/debug/reqprof/`);
      await page.waitForSelector('#rows tr');
      const rows = await page.locator('#rows tr').allInnerTexts();
      assert.ok(rows.some((r) => r.includes('/heavy') && r.includes('acme')), rows.join('\n'));
      assert.ok(await page.locator('#flame div').count() > 1, 'no flame graph drawn');
      assert.equal(await page.locator('#flame .empty').count(), 0, 'the flame graph says it has no profile');
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
  });

  test('go tool pprof -tags reads the profile straight from the URL', async (t) => {
    const tool = findSystemTool('go', 'golang-go');
    if ('skip' in tool) return t.skip(loudSkip('go tool pprof on the debug endpoint', tool.skip));
    const go = tool.path;
    const dir = mkdtempSync(join(tmpdir(), 'reqprof-debug-pprof-'));
    try {
      for (const path of ['/debug/reqprof/profile', '/debug/pprof/profile?seconds=3600']) {
        // Asynchronously: the server answering go tool pprof lives in this process.
        const r = await promisify(execFile)(go, ['tool', 'pprof', '-tags', `${server.url}${path}`], { encoding: 'utf8', cwd: dir, timeout: 120_000, env: { ...process.env, PPROF_TMPDIR: dir, HOME: dir } });
        console.log(`$ go tool pprof -tags ${server.url}${path}\n${r.stdout}`);
        assert.match(r.stdout, /route: Total/, r.stdout);
        assert.match(r.stdout, /tenant: Total/, r.stdout);
        if (path.startsWith('/debug/pprof')) for (const v of ['/heavy', '/light', '/checkout']) assert.ok(r.stdout.includes(`: ${v}\n`), `${v} missing:\n${r.stdout}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('/debug/pprof/profile?seconds=N picks windows by when they ended', () => {
  test('old windows are left out, recent ones merged, and no window at all is a valid empty profile', async () => {
    const source = createDebugRecorder();
    const profiler = newProfiler([source], 0, 60_000, { samplingIntervalMicros: 1000 });
    void profiler.run();
    await runRoutes(300);
    await profiler.stop();
    const base = source.windows().at(-1)!;
    assert.ok(base.pprof && totalCpu(base.pprof[0]!) > 0);

    const recorder = createDebugRecorder();
    const now = Date.now();
    const at = (endAgoMs: number): WindowInfo => ({ ...base.window, start: now - endAgoMs - 1000, end: now - endAgoMs, reason: 'window', profiles: base.pprof });
    recorder(base.profiles, at(120_000));
    recorder(base.profiles, at(2_000));
    const server = await startDebugServer(profiler, { port: 0, recorder, registry: false });
    try {
      const one = totalCpu(base.pprof[0]!);
      const recent = Profile.decode(gunzipSync((await get(`${server.url}/debug/pprof/profile?seconds=30`)).body));
      assert.equal(totalCpu(recent), one);
      const both = Profile.decode(gunzipSync((await get(`${server.url}/debug/pprof/profile?seconds=600`)).body));
      assert.equal(totalCpu(both), 2 * one);
      assert.equal(Number(both.timeNanos), (now - 121_000) * 1e6, 'the merged profile starts with its first window');
      const byDefault = Profile.decode(gunzipSync((await get(`${server.url}/debug/pprof/profile`)).body));
      assert.equal(totalCpu(byDefault), one, 'without seconds, the last 30 s as in Go');
      recorder.clear();
      const none = await get(`${server.url}/debug/pprof/profile?seconds=5`);
      assert.equal(none.status, 200);
      const empty = Profile.decode(gunzipSync(none.body));
      assert.equal(empty.sample.length, 0);
      assert.equal(empty.sampleType.length, 3);
      assert.equal((await get(`${server.url}/debug/reqprof/`)).status, 404);
      assert.equal((await get(`${server.url}/debug/reqprof/profile`)).status, 404);
      assert.equal((await get(`${server.url}/metrics`)).status, 404, 'registry: false leaves /metrics to the app');
    } finally {
      await server.close();
    }
  });
});

describe('debugHandler mounted in an app', () => {
  test('in a tagged node:http listener it runs untagged, and unknown paths get a 404', async () => {
    const profiler = newProfiler(createDebugRecorder(), 0, 60_000);
    const seen: Array<string | undefined> = [];
    const registry = { contentType: 'text/plain; version=0.0.4', metrics: () => { seen.push(lookup('route')); return 'x 1\n'; } };
    const handler = debugHandler(profiler, { registry, recorder: createDebugRecorder() });
    const app = createServer((req, res) => tag({ route: 'app-traffic' }, () => handler(req, res)));
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    try {
      assert.equal((await get(`${url}/metrics`)).body.toString(), 'x 1\n');
      assert.deepEqual(seen, [undefined], 'the debug endpoint\'s work carries no request tags');
      assert.equal((await get(`${url}/api/orders`)).status, 404);
    } finally {
      await new Promise((r) => app.close(r));
    }
  });

  test('as Express middleware it serves its paths and hands every other path to the app', async () => {
    const profiler = newProfiler(createDebugRecorder(), 0, 60_000);
    const app = express();
    app.use(debugHandler(profiler, { recorder: createDebugRecorder() }));
    app.get('/hello', (_req, res) => void res.send('hi'));
    const srv = app.listen(0, '127.0.0.1');
    await new Promise((r) => srv.once('listening', r));
    const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
    try {
      assert.equal((await get(`${url}/hello`)).body.toString(), 'hi');
      const metrics = await get(`${url}/metrics`);
      assert.equal(metrics.status, 200, 'prom-client\'s default registry, loaded on the first scrape');
      assert.equal((await get(`${url}/debug/reqprof/windows.json`)).status, 200);
    } finally {
      await new Promise((r) => srv.close(r));
    }
  });
});

describe('debug endpoint options', () => {
  test('a wrong profiler, recorder or registry is a TypeError naming it; a bad port a RangeError; a port in use rejects', async () => {
    const profiler = newProfiler(createDebugRecorder(), 0, 60_000);
    const invalid = (re: RegExp) => (e: Error & { code?: string }) => re.test(e.message) && e.code === 'REQPROF_ERR_INVALID_OPTION';
    assert.throws(() => debugHandler({} as never), invalid(/profiler must be a Profiler/));
    assert.throws(() => debugHandler(profiler, { recorder: (() => {}) as never }), invalid(/"recorder"/));
    assert.throws(() => debugHandler(profiler, { registry: {} as never }), invalid(/"registry"/));
    assert.throws(() => createDebugRecorder({ maxWindows: 0 }), invalid(/"maxWindows" must be an integer between 1 and 10000/));
    assert.throws(() => startDebugServer(profiler, { port: 70_000 }), (e: Error) => e instanceof RangeError && /"port"/.test(e.message));
    assert.throws(() => startDebugServer(profiler, { port: 1.5 }), RangeError);
    const first = await startDebugServer(profiler, { port: 0 });
    try {
      await assert.rejects(startDebugServer(profiler, { port: first.port }), /EADDRINUSE/);
    } finally {
      await first.close();
    }
  });

  test('the recorder keeps maxWindows windows and the pprof of the newest maxProfileWindows only', () => {
    const recorder = createDebugRecorder({ maxWindows: 3, maxProfileWindows: 1 });
    const profile = new Profile();
    for (let i = 0; i < 5; i++) {
      recorder([], { start: i, end: i + 1, durationMs: 1, intervalMs: 0, windowMs: 1, scale: 1, samplingIntervalMicros: 1000, totalCpu: 0, untaggedCpu: 0,
        nonJsThreadsCpu: 0, samples: 0, busySamples: 0, windows: 1, overflowTagSets: 0, reason: 'window', mode: 'async-hooks', profiles: [profile] });
    }
    assert.deepEqual(recorder.windows().map((w) => [w.window.start, w.pprof !== undefined]), [[2, false], [3, false], [4, true]]);
    assert.deepEqual(recorder.needs, { profile: true });
  });
});
