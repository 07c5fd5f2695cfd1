import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

/** Runs an ES module snippet in a fresh Node with prom-client and @opentelemetry/* made unresolvable. */
function runWithoutPeers(code: string) {
  return spawnSync(process.execPath, ['--import', 'tsx', '--import', './test/helpers/hide-metrics-peers.mjs', '--input-type=module', '-e', code], {
    encoding: 'utf8',
    timeout: 60_000,
  });
}

test('importing reqprof works on a service without prom-client or OpenTelemetry installed', () => {
  const r = runWithoutPeers(`
    const m = await import('./src/index.ts');
    if (typeof m.newProfiler !== 'function') throw new Error('no newProfiler');
    console.log('ok');`);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^ok$/m);
});

test('the hiding works: the Prometheus entry, which needs prom-client, fails to load naming the missing package', () => {
  const r = runWithoutPeers(`await import('./src/processors/prometheus.ts');`);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /Cannot find package 'prom-client'/);
});

test('the OpenTelemetry entry loads without @opentelemetry/api installed: it uses only the meter it is given', () => {
  const r = runWithoutPeers(`
    const { otelProcessor } = await import('./src/processors/opentelemetry.ts');
    const recorded = [];
    const instrument = (name) => ({ add: (v, a) => recorded.push([name, v, a]), addCallback() {} });
    const meter = { createCounter: instrument, createObservableGauge: instrument };
    otelProcessor({ meter })([{ key: 'route=/a', tags: ['route', '/a'], value: 2e9, percent: 1, samples: 200 }], { windows: 1 });
    console.log(JSON.stringify(recorded[0]));`);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /\["reqprof\.cpu\.time",2,\{"route":"\/a"\}\]/);
});
