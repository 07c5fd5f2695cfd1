import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Attributes } from '@opentelemetry/api';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import { otelProcessor } from '../../src/processors/opentelemetry.js';
import { compareShares } from '../helpers/cpu.js';
import { ROUTE_COSTS_MS, profileRouteWorkload } from '../helpers/route-workload.js';
import { MemoryLogger } from '../helpers/logger.js';
import { windowOf } from '../helpers/windows.js';

/** A real SDK pipeline: MeterProvider -> PeriodicExportingMetricReader -> InMemoryMetricExporter. */
function pipeline(temporality = AggregationTemporality.CUMULATIVE) {
  const exporter = new InMemoryMetricExporter(temporality);
  // A long interval: the test exports explicitly with forceFlush().
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({ readers: [reader] });
  const meter = provider.getMeter('reqprof-test');
  /** Exports now and returns the instruments of that export by name. */
  const collect = async (): Promise<Map<string, MetricData>> => {
    exporter.reset();
    await reader.forceFlush();
    const out = new Map<string, MetricData>();
    for (const rm of exporter.getMetrics()) for (const sm of rm.scopeMetrics) for (const m of sm.metrics) out.set(m.descriptor.name, m);
    return out;
  };
  return { meter, collect, shutdown: () => provider.shutdown() };
}

/** Data points as `attributes-json => value`, sorted, for exact comparison. */
function points(m: MetricData | undefined): string[] {
  assert.ok(m, 'instrument exported');
  return m.dataPoints.map((d) => `${JSON.stringify(sortedAttrs(d.attributes))} => ${round(d.value as number)}`).sort();
}

function sortedAttrs(a: Attributes): Attributes {
  return Object.fromEntries(Object.entries(a).sort(([x], [y]) => (x < y ? -1 : 1)));
}

const round = (v: number) => Math.round(v * 1e9) / 1e9;

test('CPU time is a counter in seconds and the share a gauge, with names and units in OpenTelemetry semantic-convention style, with tags as attributes', async () => {
  const { meter, collect, shutdown } = pipeline();
  try {
    const proc = otelProcessor({ meter });
    const { profiles, window } = windowOf([
      { tags: { route: '/checkout', caller: 'web' }, cpuMs: 300, samples: 30 },
      { tags: { route: '/search' }, cpuMs: 100, samples: 10 },
      { tags: null, cpuMs: 100, samples: 10 },
    ]);
    await proc(profiles, window);
    const m = await collect();
    const cpu = m.get('reqprof.cpu.time');
    assert.equal(cpu?.descriptor.unit, 's');
    assert.equal(instrumentType(cpu), 'COUNTER');
    assert.deepEqual(points(cpu), [
      '{"caller":"web","route":"/checkout"} => 0.3',
      '{"route":"/search"} => 0.1',
      '{} => 0.1',
    ]);
    const share = m.get('reqprof.cpu.share');
    assert.equal(share?.descriptor.unit, '1');
    assert.equal(instrumentType(share), 'OBSERVABLE_GAUGE');
    assert.deepEqual(points(share), [
      '{"caller":"web","route":"/checkout"} => 0.6',
      '{"route":"/search"} => 0.2',
      '{} => 0.2',
    ]);
    assert.equal(m.get('reqprof.cpu.samples')?.descriptor.unit, '{sample}');
    assert.deepEqual(points(m.get('reqprof.cpu.samples')), [
      '{"caller":"web","route":"/checkout"} => 30',
      '{"route":"/search"} => 10',
      '{} => 10',
    ]);
    assert.equal(m.get('reqprof.windows')?.descriptor.unit, '{window}');
    assert.deepEqual(points(m.get('reqprof.windows')), ['{} => 1']);
    for (const d of [cpu, share]) assert.ok((d?.descriptor.description ?? '').length > 20, 'a description');
  } finally {
    await shutdown();
  }
});

test('a tag set that vanished has its share reported as 0 for one window, then is no longer observed', async () => {
  const { meter, collect, shutdown } = pipeline(AggregationTemporality.DELTA);
  try {
    const proc = otelProcessor({ meter });
    const w1 = windowOf([{ tags: { route: '/a' }, cpuMs: 500 }, { tags: { route: '/b' }, cpuMs: 500 }]);
    await proc(w1.profiles, w1.window);
    assert.deepEqual(points((await collect()).get('reqprof.cpu.share')), ['{"route":"/a"} => 0.5', '{"route":"/b"} => 0.5']);
    const w2 = windowOf([{ tags: { route: '/a' }, cpuMs: 1000 }]);
    await proc(w2.profiles, w2.window);
    const m2 = await collect();
    assert.deepEqual(points(m2.get('reqprof.cpu.share')), ['{"route":"/a"} => 1', '{"route":"/b"} => 0']);
    assert.deepEqual(points(m2.get('reqprof.cpu.time')), ['{"route":"/a"} => 1'], 'delta export of the second window');
    const w3 = windowOf([{ tags: { route: '/a' }, cpuMs: 1000 }]);
    await proc(w3.profiles, w3.window);
    assert.deepEqual(points((await collect()).get('reqprof.cpu.share')), ['{"route":"/a"} => 1']);
  } finally {
    await shutdown();
  }
});

test('with an attributes list, only those tags become attributes (renamed where asked), others are summed away and the user-input cap applies', async () => {
  const { meter, collect, shutdown } = pipeline();
  try {
    const logger = new MemoryLogger();
    const proc = otelProcessor({ meter, attributes: { 'http.route': 'route', 'user.id': 'user' }, maxValuesPerAttribute: 5, logger });
    const { profiles, window } = windowOf([
      ...Array.from({ length: 20 }, (_, i) => ({ tags: { route: '/me', user: `u${i}`, tenant: `t${i % 2}` }, cpuMs: 10 })),
      { tags: { reqprof_overflow: 'true' }, cpuMs: 10 },
    ]);
    await proc(profiles, window);
    const m = await collect();
    assert.deepEqual(points(m.get('reqprof.cpu.time')), [
      '{"http.route":"/me","user.id":"__overflow__"} => 0.15',
      '{"http.route":"/me","user.id":"u0"} => 0.01',
      '{"http.route":"/me","user.id":"u1"} => 0.01',
      '{"http.route":"/me","user.id":"u2"} => 0.01',
      '{"http.route":"/me","user.id":"u3"} => 0.01',
      '{"http.route":"/me","user.id":"u4"} => 0.01',
      '{"http.route":"__overflow__","user.id":"__overflow__"} => 0.01',
    ]);
    assert.equal(logger.matching(/attribute "user.id" has reached 5 distinct values/), 1);
  } finally {
    await shutdown();
  }
});

test('invalid options are rejected at construction with an error naming the option', async () => {
  const { meter, shutdown } = pipeline();
  try {
    const cases: Array<[unknown, ErrorConstructor, RegExp]> = [
      [null, TypeError, /options must be an object with a "meter"/],
      [{}, TypeError, /option "meter" must be an OpenTelemetry Meter/],
      [{ meter: {} }, TypeError, /option "meter" must be an OpenTelemetry Meter/],
      [{ meter, attributes: [] }, RangeError, /option "attributes" must name at least one tag key/],
      [{ meter, attributes: [1] }, TypeError, /option "attributes\[0\]" must be a tag key/],
      [{ meter, namespace: 'My-App' }, RangeError, /option "namespace" must be lowercase dot-separated words/],
      [{ meter, maxAttributeSets: 0 }, RangeError, /option "maxAttributeSets" must be an integer between 1 and/],
      [{ meter, maxValuesPerAttribute: -1 }, RangeError, /option "maxValuesPerAttribute" must be an integer between 1 and/],
    ];
    for (const [options, type, message] of cases) {
      assert.throws(() => otelProcessor(options as never), (err: Error) => {
        assert.ok(err instanceof type, `${String(options)} throws ${type.name}, got ${err.name}: ${err.message}`);
        assert.match(err.message, message);
        return true;
      });
    }
  } finally {
    await shutdown();
  }
});

test('with the real profiler and SDK, CPU time per route matches the timed truth within the sampling bound', async () => {
  const { meter, collect, shutdown } = pipeline();
  const truth = await profileRouteWorkload(otelProcessor({ meter, namespace: 'acme.reqprof' }));
  const costs = ROUTE_COSTS_MS;
  try {
    const m = await collect();
    const byRoute = (name: string) => {
      const out = new Map<string, number>();
      for (const d of m.get(name)?.dataPoints ?? []) {
        const r = String(d.attributes['route'] ?? '');
        out.set(r, (out.get(r) ?? 0) + (d.value as number));
      }
      return out;
    };
    const cpu = byRoute('acme.reqprof.cpu.time');
    const samples = byRoute('acme.reqprof.cpu.samples');
    const routes = Object.keys(costs);
    const total = routes.reduce((s, r) => s + (cpu.get(r) ?? 0), 0);
    const n = routes.reduce((s, r) => s + (samples.get(r) ?? 0), 0);
    const cmp = compareShares(truth.shares(), new Map(routes.map((r) => [r, (cpu.get(r) ?? 0) / total])), n);
    console.log(cmp.report);
    assert.ok(cmp.ok, cmp.report);
    const truthSeconds = [...truth.ms.values()].reduce((a, b) => a + b, 0) / 1000;
    assert.ok(total > truthSeconds * 0.7 && total < truthSeconds * 1.3, `recorded ${total.toFixed(3)} s of route CPU for ${truthSeconds.toFixed(3)} s burnt`);
  } finally {
    await shutdown();
  }
});

/** The SDK reports the instrument type on the descriptor at run time, though its type declarations leave it out. */
function instrumentType(m: { descriptor: object } | undefined): unknown {
  return (m?.descriptor as { type?: unknown } | undefined)?.type;
}
