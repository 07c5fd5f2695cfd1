/**
 * prometheusTracer's options, label bounds and registry sharing, driven with
 * call records shaped as the integrations make them (the integration tests
 * drive it with real servers and clients).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Registry } from 'prom-client';
import { createTagSet, type RPCInfo } from '../../src/index.js';
import { KITEX_LATENCY_BUCKETS_US, prometheusTracer } from '../../src/processors/prometheus.js';
import { MemoryLogger } from '../helpers/logger.js';
import { exposition, sampleValue } from '../helpers/tracer.js';

/** A finished call record, `ms` long. */
function call(over: Partial<RPCInfo> & { ms?: number } = {}): RPCInfo {
  const start = 1_000_000_000n;
  const { ms = 3, ...rest } = over;
  return {
    side: 'server', protocol: 'http', integration: 'http', service: undefined, method: '/users/:id', route: '/users/:id', httpMethod: 'GET',
    path: '/users/7', callType: 'unary', caller: 'web', callee: 'shop', host: 'localhost', scheme: 'http',
    startTime: start, endTime: start + BigInt(Math.round(ms * 1e6)), status: 200, error: undefined, aborted: false,
    bytesReceived: 0, bytesSent: 10, messagesReceived: 1, messagesSent: 1, transportTags: undefined, tags: undefined,
    ...rest,
  };
}

function run(tracer: ReturnType<typeof prometheusTracer>, info: RPCInfo): void {
  tracer.start?.(info);
  tracer.finish?.(info);
}

test('kitex style: throughput and latency in whole microseconds with Kitex\'s default buckets; missing caller and callee are "unknown"', async () => {
  const registry = new Registry();
  const t = prometheusTracer({ registry });
  run(t, call({ ms: 7.4 }));
  run(t, call({ ms: 30, caller: undefined, callee: undefined, status: 503 }));
  const text = await registry.metrics();
  assert.match(text, /^# TYPE kitex_server_throughput counter$/m);
  assert.match(text, /^# TYPE kitex_server_latency_us histogram$/m);
  assert.match(text, /^# TYPE kitex_client_latency_us histogram$/m);
  const ok = 'callee="shop",caller="web",method="GET /users/:id",status="succeed",type="pingpong"';
  const err = 'callee="unknown",caller="unknown",method="GET /users/:id",status="error",type="pingpong"';
  assert.deepEqual(await exposition(registry, 'kitex_server_throughput'), [`kitex_server_throughput{${ok}} 1`, `kitex_server_throughput{${err}} 1`]);
  assert.equal(await sampleValue(registry, 'kitex_server_latency_us_sum', ok), 7400);
  assert.equal(await sampleValue(registry, 'kitex_server_latency_us_bucket', `${ok},le="5000"`), 0);
  assert.equal(await sampleValue(registry, 'kitex_server_latency_us_bucket', `${ok},le="10000"`), 1);
  assert.equal(await sampleValue(registry, 'kitex_server_latency_us_bucket', `${err},le="25000"`), 0);
  assert.equal(await sampleValue(registry, 'kitex_server_latency_us_bucket', `${err},le="50000"`), 1);
  const les = (await exposition(registry, 'kitex_server_latency_us_bucket')).filter((l) => l.includes(ok)).map((l) => /le="([^"]+)"/.exec(l)![1]!);
  assert.deepEqual(les.filter((x) => x !== '+Inf').map(Number).sort((a, b) => a - b), [...KITEX_LATENCY_BUCKETS_US]);
});

test('kitex style: an HTTP 4xx is a success, a 5xx, an error or an abort is an error; gRPC: any code but OK is an error', async () => {
  const registry = new Registry();
  const t = prometheusTracer({ registry, codeLabel: true });
  run(t, call({ status: 404 }));
  run(t, call({ status: 200, error: new Error('after the head') }));
  run(t, call({ status: undefined, aborted: true }));
  run(t, call({ protocol: 'grpc', integration: 'grpc', service: 'shop.Orders', method: '/shop.Orders/Place', callType: 'client_stream', status: 5, side: 'client' }));
  const lines = await exposition(registry, 'kitex_server_throughput');
  assert.deepEqual(lines.map((l) => [/code="([^"]*)"/.exec(l)![1], /status="([^"]*)"/.exec(l)![1]]).sort(), [['200', 'error'], ['404', 'succeed'], ['unknown', 'error']]);
  assert.deepEqual(await exposition(registry, 'kitex_client_throughput'), [
    'kitex_client_throughput{callee="shop",caller="web",code="NotFound",method="Place",status="error",type="streaming"} 1',
  ]);
});

test('grpc style records gRPC calls only: HTTP requests leave no grpc_ series', async () => {
  const registry = new Registry();
  const t = prometheusTracer({ style: 'grpc', registry });
  run(t, call());
  for (const n of ['grpc_server_started_total', 'grpc_server_handled_total']) assert.deepEqual(await exposition(registry, n), []);
  assert.doesNotMatch(await registry.metrics(), /grpc_server_handling_seconds/, 'the histogram is opt-in');
});

test('label values from requests are capped: the 4th caller is "__overflow__" with maxValuesPerLabel 3, and a warning names the label', async () => {
  const registry = new Registry();
  const logger = new MemoryLogger();
  const t = prometheusTracer({ registry, maxValuesPerLabel: 3, logger, maxValueLength: 20 });
  for (const c of ['a', 'b', 'c', 'd', 'e']) run(t, call({ caller: c }));
  run(t, call({ caller: 'a'.repeat(50) }));
  const lines = await exposition(registry, 'kitex_server_throughput');
  const callers = lines.map((l) => /caller="([^"]*)"/.exec(l)![1]).sort();
  assert.deepEqual(callers, ['__overflow__', 'a', 'b', 'c']);
  assert.equal(await sampleValue(registry, 'kitex_server_throughput', 'callee="shop",caller="__overflow__",method="GET /users/:id",status="succeed",type="pingpong"'), 3);
  assert.equal(logger.records.filter((r) => r.level === 'warn' && /label "caller" has reached 3 distinct values/.test(r.msg ?? '')).length, 1);
});

test('tagLabels add request tags as labels ("" when a request lacks the tag)', async () => {
  const registry = new Registry();
  const t = prometheusTracer({ registry, style: 'grpc', tagLabels: { tenant: 'x-tenant' } });
  const g = (tags?: Record<string, string>) => call({ protocol: 'grpc', integration: 'grpc', method: '/shop.Orders/Place', tags: tags && createTagSet(tags) });
  run(t, g({ 'x-tenant': 'acme' }));
  run(t, g());
  assert.deepEqual(await exposition(registry, 'grpc_server_started_total'), [
    'grpc_server_started_total{grpc_method="Place",grpc_service="shop.Orders",grpc_type="unary",tenant=""} 1',
    'grpc_server_started_total{grpc_method="Place",grpc_service="shop.Orders",grpc_type="unary",tenant="acme"} 1',
  ]);
});

test('a server tracer and a client tracer share one registry; a clash with other metrics is a RangeError naming the metric', () => {
  const registry = new Registry();
  prometheusTracer({ registry });
  prometheusTracer({ registry });
  assert.throws(() => prometheusTracer({ registry, buckets: [1, 2] }), { name: 'RangeError', message: /"kitex_server_latency_us" is already registered .* by another prometheusTracer with other labels or buckets/ });
  const other = new Registry();
  new Counter({ name: 'grpc_server_started_total', help: 'x', registers: [other] });
  assert.throws(() => prometheusTracer({ registry: other, style: 'grpc' }), { name: 'RangeError', message: /"grpc_server_started_total" is already registered on this registry \(not by reqprof\)/ });
});

test('bad options are TypeErrors or RangeErrors that name the option and what it accepts', () => {
  assert.throws(() => prometheusTracer({ style: 'zipkin' as never }), { name: 'RangeError', code: 'REQPROF_ERR_INVALID_OPTION', message: /"style" must be "kitex" or "grpc"/ });
  assert.throws(() => prometheusTracer({ buckets: [] }), { name: 'TypeError', message: /"buckets" must be a non-empty array/ });
  assert.throws(() => prometheusTracer({ buckets: [1, 1] }), { name: 'RangeError', message: /"buckets" must be increasing/ });
  assert.throws(() => prometheusTracer({ handlingTimeHistogram: 'yes' as never }), { name: 'TypeError', message: /"handlingTimeHistogram" must be a boolean/ });
  assert.throws(() => prometheusTracer({ tagLabels: ['caller'] }), { name: 'RangeError', message: /"tagLabels": label name "caller" is one of the tracer's own labels/ });
  assert.throws(() => prometheusTracer({ tagLabels: ['bad-name'] }), { name: 'RangeError', message: /must match/ });
  assert.throws(() => prometheusTracer({ registry: {} as never }), { name: 'TypeError', message: /"registry" must be a prom-client Registry/ });
  assert.throws(() => prometheusTracer({ maxValuesPerLabel: 0 }), { name: 'RangeError', message: /"maxValuesPerLabel" must be an integer between 1 and/ });
});
