import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry, register as defaultRegistry } from 'prom-client';
import { prometheusProcessor, prometheusMetricNames } from '../../src/processors/prometheus.js';
import { compareShares } from '../helpers/cpu.js';
import { ROUTE_COSTS_MS, profileRouteWorkload } from '../helpers/route-workload.js';
import { MemoryLogger } from '../helpers/logger.js';
import { windowOf } from '../helpers/windows.js';

/** The exposition's sample lines for one metric, as `{labels} value` strings, sorted. */
async function samplesOf(registry: Registry, name: string): Promise<string[]> {
  const text = await registry.metrics();
  return text.split('\n').filter((l) => l.startsWith(name + '{') || l.startsWith(name + ' ')).sort();
}

async function valuesByLabel(registry: Registry, name: string, label: string): Promise<Map<string, number>> {
  const m = registry.getSingleMetric(name);
  assert.ok(m, `${name} is registered`);
  const out = new Map<string, number>();
  for (const v of (await m.get()).values) {
    const k = String(v.labels[label] ?? '');
    out.set(k, (out.get(k) ?? 0) + v.value);
  }
  return out;
}

test('the exposition has a CPU-seconds counter, a share gauge, a samples counter and a windows counter, with HELP and TYPE lines', async () => {
  const registry = new Registry();
  const proc = prometheusProcessor({ labels: ['route', 'caller'], registry });
  const { profiles, window } = windowOf([
    { tags: { route: '/checkout', caller: 'web' }, cpuMs: 300, samples: 300 },
    { tags: { route: '/search' }, cpuMs: 100, samples: 100 },
    { tags: null, cpuMs: 100, samples: 100 },
  ]);
  await proc(profiles, window);
  const text = await registry.metrics();
  for (const [name, type] of [['reqprof_cpu_seconds_total', 'counter'], ['reqprof_cpu_share_ratio', 'gauge'], ['reqprof_samples_total', 'counter'], ['reqprof_windows_total', 'counter']]) {
    assert.match(text, new RegExp(`^# HELP ${name} \\S.*$`, 'm'), `HELP line for ${name}`);
    assert.match(text, new RegExp(`^# TYPE ${name} ${type}$`, 'm'), `TYPE line for ${name}`);
  }
  assert.deepEqual(await samplesOf(registry, 'reqprof_cpu_seconds_total'), [
    'reqprof_cpu_seconds_total{route="",caller=""} 0.1',
    'reqprof_cpu_seconds_total{route="/checkout",caller="web"} 0.3',
    'reqprof_cpu_seconds_total{route="/search",caller=""} 0.1',
  ]);
  assert.deepEqual(await samplesOf(registry, 'reqprof_cpu_share_ratio'), [
    'reqprof_cpu_share_ratio{route="",caller=""} 0.2',
    'reqprof_cpu_share_ratio{route="/checkout",caller="web"} 0.6',
    'reqprof_cpu_share_ratio{route="/search",caller=""} 0.2',
  ]);
  assert.deepEqual(await samplesOf(registry, 'reqprof_samples_total'), [
    'reqprof_samples_total{route="",caller=""} 100',
    'reqprof_samples_total{route="/checkout",caller="web"} 300',
    'reqprof_samples_total{route="/search",caller=""} 100',
  ]);
  assert.deepEqual(await samplesOf(registry, 'reqprof_windows_total'), ['reqprof_windows_total 1']);
});

test('CPU seconds accumulate over windows while the share gauge shows only the last window and drops tag sets that vanished', async () => {
  const registry = new Registry();
  const proc = prometheusProcessor({ labels: ['route'], registry });
  const w1 = windowOf([{ tags: { route: '/a' }, cpuMs: 500 }, { tags: { route: '/b' }, cpuMs: 500 }]);
  await proc(w1.profiles, w1.window);
  const w2 = windowOf([{ tags: { route: '/a' }, cpuMs: 250 }, { tags: { route: '/c' }, cpuMs: 750 }], 2);
  await proc(w2.profiles, w2.window);
  assert.deepEqual(await samplesOf(registry, 'reqprof_cpu_seconds_total'), [
    'reqprof_cpu_seconds_total{route="/a"} 0.75',
    'reqprof_cpu_seconds_total{route="/b"} 0.5',
    'reqprof_cpu_seconds_total{route="/c"} 0.75',
  ]);
  assert.deepEqual(await samplesOf(registry, 'reqprof_cpu_share_ratio'), [
    'reqprof_cpu_share_ratio{route="/a"} 0.25',
    'reqprof_cpu_share_ratio{route="/c"} 0.75',
  ]);
  // A delivery holding two merged windows counts as two.
  assert.deepEqual(await samplesOf(registry, 'reqprof_windows_total'), ['reqprof_windows_total 3']);
});

test('tag keys outside the declared labels are ignored: tag sets differing only in them are summed into one series', async () => {
  const registry = new Registry();
  const proc = prometheusProcessor({ labels: ['route'], registry });
  const { profiles, window } = windowOf([
    { tags: { route: '/a', tenant: 't1' }, cpuMs: 200, samples: 20 },
    { tags: { route: '/a', tenant: 't2' }, cpuMs: 300, samples: 30 },
    { tags: { tenant: 't3' }, cpuMs: 500, samples: 50 },
  ]);
  await proc(profiles, window);
  assert.deepEqual(await samplesOf(registry, 'reqprof_cpu_seconds_total'), [
    'reqprof_cpu_seconds_total{route=""} 0.5',
    'reqprof_cpu_seconds_total{route="/a"} 0.5',
  ]);
  assert.deepEqual(await samplesOf(registry, 'reqprof_samples_total'), [
    'reqprof_samples_total{route=""} 50',
    'reqprof_samples_total{route="/a"} 50',
  ]);
  assert.deepEqual(await samplesOf(registry, 'reqprof_cpu_share_ratio'), [
    'reqprof_cpu_share_ratio{route=""} 0.5',
    'reqprof_cpu_share_ratio{route="/a"} 0.5',
  ]);
});

test('an object for labels renames a tag key that is not a valid label name', async () => {
  const registry = new Registry();
  const proc = prometheusProcessor({ labels: { route: 'http.route', caller: 'x-caller' }, registry });
  const { profiles, window } = windowOf([{ tags: { 'http.route': '/a', 'x-caller': 'billing' }, cpuMs: 100 }]);
  await proc(profiles, window);
  assert.deepEqual(await samplesOf(registry, 'reqprof_cpu_seconds_total'), ['reqprof_cpu_seconds_total{route="/a",caller="billing"} 0.1']);
});

test('a tag carrying user input is capped at maxValuesPerLabel values; the rest is counted under __overflow__ with no CPU lost, and a warning is logged once', async () => {
  const registry = new Registry();
  const logger = new MemoryLogger();
  const proc = prometheusProcessor({ labels: ['route', 'user'], registry, maxValuesPerLabel: 10, logger });
  for (let w = 0; w < 5; w++) {
    const { profiles, window } = windowOf(Array.from({ length: 200 }, (_, i) => ({ tags: { route: '/me', user: `u${w * 200 + i}` }, cpuMs: 1 })));
    await proc(profiles, window);
  }
  const byUser = await valuesByLabel(registry, 'reqprof_cpu_seconds_total', 'user');
  assert.equal(byUser.size, 11, 'ten user values plus __overflow__');
  assert.ok(Math.abs((byUser.get('__overflow__') ?? 0) - 0.99) < 1e-9, `overflow holds the CPU of the 990 other users, got ${byUser.get('__overflow__')}`);
  const total = [...byUser.values()].reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(total - 1.0) < 1e-9, `no CPU lost: ${total} s`);
  assert.equal(logger.matching(/label "user" has reached 10 distinct values/), 1);
  // Route stayed below the cap and keeps its value.
  assert.deepEqual([...(await valuesByLabel(registry, 'reqprof_cpu_seconds_total', 'route')).keys()], ['/me']);
});

test('maxSeries caps label combinations: later combinations get __overflow__ in every non-empty label', async () => {
  const registry = new Registry();
  const proc = prometheusProcessor({ labels: ['route', 'caller'], registry, maxSeries: 3, logger: new MemoryLogger() });
  const { profiles, window } = windowOf([
    { tags: { route: '/a', caller: 'x' }, cpuMs: 100 },
    { tags: { route: '/a', caller: 'y' }, cpuMs: 100 },
    { tags: { route: '/b', caller: 'x' }, cpuMs: 100 },
    { tags: { route: '/b', caller: 'y' }, cpuMs: 100 },
    { tags: { route: '/c' }, cpuMs: 100 },
    { tags: null, cpuMs: 100 },
  ]);
  await proc(profiles, window);
  assert.deepEqual(await samplesOf(registry, 'reqprof_cpu_seconds_total'), [
    'reqprof_cpu_seconds_total{route="",caller=""} 0.1',
    'reqprof_cpu_seconds_total{route="/a",caller="x"} 0.1',
    'reqprof_cpu_seconds_total{route="/a",caller="y"} 0.1',
    'reqprof_cpu_seconds_total{route="/b",caller="x"} 0.1',
    'reqprof_cpu_seconds_total{route="__overflow__",caller=""} 0.1',
    'reqprof_cpu_seconds_total{route="__overflow__",caller="__overflow__"} 0.1',
  ]);
});

test('the profiler\'s own overflow tag set (maxTagSets) shows every label as __overflow__; long values are cut to maxValueLength', async () => {
  const registry = new Registry();
  const proc = prometheusProcessor({ labels: ['route'], registry, maxValueLength: 8, overflowValue: 'OTHER' });
  const { profiles, window } = windowOf([
    { tags: { reqprof_overflow: 'true' }, cpuMs: 100 },
    { tags: { route: '/a-very-long-route' }, cpuMs: 100 },
  ]);
  await proc(profiles, window);
  assert.deepEqual(await samplesOf(registry, 'reqprof_cpu_seconds_total'), [
    'reqprof_cpu_seconds_total{route="/a-very-"} 0.1',
    'reqprof_cpu_seconds_total{route="OTHER"} 0.1',
  ]);
});

test('invalid options are rejected at construction with an error naming the option', () => {
  const registry = new Registry();
  const cases: Array<[unknown, ErrorConstructor, RegExp]> = [
    [undefined, TypeError, /options must be an object/],
    [{ registry }, TypeError, /option "labels" is required/],
    [{ labels: 'route', registry }, TypeError, /option "labels" must be an array of tag keys or an object/],
    [{ labels: [], registry }, RangeError, /option "labels" must name at least one tag key/],
    [{ labels: ['http.route'], registry }, RangeError, /option "labels": label name "http\.route" must match \[a-zA-Z_\]\[a-zA-Z0-9_\]\*/],
    [{ labels: ['1st'], registry }, RangeError, /option "labels": label name "1st" must match/],
    [{ labels: ['__name__'], registry }, RangeError, /option "labels": label name "__name__" must not start with "__"/],
    [{ labels: ['route', 7], registry }, TypeError, /option "labels\[1\]" must be a tag key/],
    [{ labels: { caller: '' }, registry }, TypeError, /option "labels.caller" must be a non-empty tag key/],
    [{ labels: ['route'], registry, prefix: 'my-app_' }, RangeError, /option "prefix" gives the metric name "my-app_cpu_seconds_total", which must match/],
    [{ labels: ['route'], registry, prefix: 3 }, TypeError, /option "prefix" must be a string/],
    [{ labels: ['route'], registry, maxValuesPerLabel: 0 }, RangeError, /option "maxValuesPerLabel" must be an integer between 1 and 1000000, got 0/],
    [{ labels: ['route'], registry, maxSeries: 1.5 }, RangeError, /option "maxSeries" must be an integer between 1 and/],
    [{ labels: ['route'], registry, maxValueLength: '64' }, TypeError, /option "maxValueLength" must be an integer, got string/],
    [{ labels: ['route'], registry, overflowValue: '' }, TypeError, /option "overflowValue" must be a non-empty string/],
    [{ labels: ['route'], registry: {} }, TypeError, /option "registry" must be a prom-client Registry/],
    [{ labels: ['route'], registry, logger: console.log }, TypeError, /option "logger" must be a pino logger/],
  ];
  for (const [options, type, message] of cases) {
    assert.throws(() => prometheusProcessor(options as never), (err: Error) => {
      assert.ok(err instanceof type, `${JSON.stringify(options)} throws ${type.name}, got ${err.name}: ${err.message}`);
      assert.match(err.message, message);
      assert.equal((err as { code?: string }).code, 'REQPROF_ERR_INVALID_OPTION');
      return true;
    });
  }
  assert.equal(registry.getMetricsAsArray().length, 0, 'a rejected processor registers nothing');
});

test('a second processor with the same prefix on one registry is refused with a clear error; another prefix works', () => {
  const registry = new Registry();
  prometheusProcessor({ labels: ['route'], registry });
  assert.throws(() => prometheusProcessor({ labels: ['route'], registry }), /option "prefix": a metric named "reqprof_cpu_seconds_total" is already registered/);
  prometheusProcessor({ labels: ['route'], registry, prefix: 'batch_reqprof_' });
  assert.ok(registry.getSingleMetric('batch_reqprof_cpu_seconds_total'));
});

test('without a registry option the metrics land on prom-client\'s default registry', async () => {
  const names = prometheusMetricNames('defaultreg_test_');
  try {
    const proc = prometheusProcessor({ labels: ['route'], prefix: 'defaultreg_test_' });
    const { profiles, window } = windowOf([{ tags: { route: '/a' }, cpuMs: 100 }]);
    await proc(profiles, window);
    assert.match(await defaultRegistry.metrics(), /^defaultreg_test_cpu_seconds_total\{route="\/a"\} 0\.1$/m);
  } finally {
    for (const n of Object.values(names)) defaultRegistry.removeSingleMetric(n);
  }
});

test('with the real profiler, the CPU-seconds counter per route matches the timed truth within the sampling bound', async () => {
  const registry = new Registry();
  const truth = await profileRouteWorkload(prometheusProcessor({ labels: ['route'], registry }));
  const costs = ROUTE_COSTS_MS;
  const cpu = await valuesByLabel(registry, 'reqprof_cpu_seconds_total', 'route');
  const samples = await valuesByLabel(registry, 'reqprof_samples_total', 'route');
  const routes = Object.keys(costs);
  const total = routes.reduce((s, r) => s + (cpu.get(r) ?? 0), 0);
  const measured = new Map(routes.map((r) => [r, (cpu.get(r) ?? 0) / total]));
  const n = routes.reduce((s, r) => s + (samples.get(r) ?? 0), 0);
  const cmp = compareShares(truth.shares(), measured, n);
  console.log(cmp.report);
  assert.ok(cmp.ok, cmp.report);
  // The counter is in seconds: the routes' CPU is close to the time spent burning.
  const truthSeconds = [...truth.ms.values()].reduce((a, b) => a + b, 0) / 1000;
  assert.ok(total > truthSeconds * 0.7 && total < truthSeconds * 1.3, `counted ${total.toFixed(3)} s of route CPU for ${truthSeconds.toFixed(3)} s burnt`);
  const windows = (await registry.getSingleMetric('reqprof_windows_total')!.get()).values[0]!.value;
  assert.ok(windows >= 3, `windows counted: ${windows}`);
});
