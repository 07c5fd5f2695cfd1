/**
 * Tag labels of the request-metric tracers, through real servers and
 * clients on loopback: a server tags each request (transport stage from the
 * metadata or headers, message stage from the decoded request) and the
 * exported label values must be those tags, on every series of the call
 * (started, messages, handled), as a user reads them from /metrics (and
 * the OpenTelemetry tracer's attributes, as its SDK exports them).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import {
  newProfiler, tag, traceHttpClients, withProfiler, withProfilerMessageTagging, withProfilerTransInfoTagging, withTracer,
} from '../../src/index.js';
import { deferDecoding, reqprofClientInterceptor, reqprofInterceptor } from '../../src/integrations/grpc.js';
import { reqprofHandler } from '../../src/integrations/http.js';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { otelTracer } from '../../src/processors/opentelemetry.js';
import { prometheusTracer } from '../../src/processors/prometheus.js';
import { Recorder } from '../helpers/cpu.js';
import { RecordingTracer, exposition } from '../helpers/tracer.js';
import { portOf } from './helpers.js';

type Msg = { item?: string; n?: number };
const encode = (v: unknown) => Buffer.from(JSON.stringify(v));
const decode = (b: Buffer) => JSON.parse(b.toString('utf8')) as Msg;
const SERVICE = 'shop.Orders';
const method = (name: string, requestStream: boolean, responseStream: boolean): grpc.MethodDefinition<Msg, Msg> => ({
  path: `/${SERVICE}/${name}`, requestStream, responseStream, requestSerialize: encode, requestDeserialize: decode, responseSerialize: encode, responseDeserialize: decode,
});
const Orders = { place: method('Place', false, false), list: method('List', false, true), upload: method('Upload', true, false) } satisfies grpc.ServiceDefinition;
const OrdersClient = grpc.makeGenericClientConstructor(Orders, 'Orders');
type Client = grpc.Client & Record<keyof typeof Orders, (...args: unknown[]) => unknown>;

const impl: grpc.UntypedServiceImplementation = {
  place(call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
    cb(null, { item: call.request.item });
  },
  list(call: grpc.ServerWritableStream<Msg, Msg>) {
    for (let i = 0; i < call.request.n!; i++) call.write({ n: i });
    call.end();
  },
  upload(call: grpc.ServerReadableStream<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
    let n = 0;
    call.on('data', () => n++);
    call.on('end', () => cb(null, { n }));
  },
};

/** The tenant from the call's metadata (transport stage), the item from its request (message stage). */
const tenantOf = (info: { headers: Record<string, string | string[] | undefined> }) => {
  const t = info.headers['x-tenant'];
  return typeof t === 'string' ? { tenant: t } : undefined;
};
const itemOf = (message: unknown) => {
  const item = (message as Msg).item;
  return item === undefined ? undefined : { item };
};

function withTenant(tenant: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set('x-tenant', tenant);
  return md;
}

test('grpc style tagLabels: a server\'s started, message, handled and handling series carry the tags the call was served with, not ""', async () => {
  const registry = new Registry();
  const metrics = prometheusTracer({ registry, style: 'grpc', handlingTimeHistogram: true, tagLabels: ['tenant', 'item'] });
  const done = new RecordingTracer();
  const profiler = newProfiler(new Recorder().processor, 0, 60_000);
  const server = new grpc.Server({
    interceptors: [reqprofInterceptor(withProfiler(profiler), withProfilerTransInfoTagging(tenantOf), withProfilerMessageTagging(itemOf), withTracer(metrics), withTracer(done))],
  });
  server.addService(deferDecoding(Orders), impl);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  const client = new OrdersClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as Client;
  try {
    await new Promise((resolve, reject) => client.place({ item: 'book' }, withTenant('acme'), (e: Error | null, r: Msg) => (e ? reject(e) : resolve(r))));
    await new Promise((resolve, reject) => client.place({ item: 'pen' }, withTenant('globex'), (e: Error | null, r: Msg) => (e ? reject(e) : resolve(r))));
    await new Promise((resolve, reject) => {
      const call = client.list({ n: 3 }, withTenant('acme')) as grpc.ClientReadableStream<Msg>;
      call.on('data', () => {});
      call.on('error', reject);
      call.on('end', resolve);
    });
    await new Promise((resolve, reject) => {
      const call = client.upload(withTenant('globex'), (e: Error | null, r: Msg) => (e ? reject(e) : resolve(r))) as grpc.ClientWritableStream<Msg>;
      call.write({ item: 'a' });
      call.write({ item: 'b' });
      call.end();
    });
    await done.waitFor(4);
  } finally {
    client.close();
    server.forceShutdown();
    await profiler.stop();
  }
  const L = (m: string, type: string, tenant: string, item: string) => `grpc_method="${m}",grpc_service="${SERVICE}",grpc_type="${type}",item="${item}",tenant="${tenant}"`;
  assert.deepEqual(await exposition(registry, 'grpc_server_started_total'), [
    `grpc_server_started_total{${L('List', 'server_stream', 'acme', '')}} 1`,
    `grpc_server_started_total{${L('Place', 'unary', 'acme', 'book')}} 1`,
    `grpc_server_started_total{${L('Place', 'unary', 'globex', 'pen')}} 1`,
    // A client stream's call keeps its transport tags (each message's own tags ride its delivery only).
    `grpc_server_started_total{${L('Upload', 'client_stream', 'globex', '')}} 1`,
  ]);
  assert.deepEqual(await exposition(registry, 'grpc_server_handled_total'), [
    `grpc_server_handled_total{grpc_code="OK",${L('List', 'server_stream', 'acme', '')}} 1`,
    `grpc_server_handled_total{grpc_code="OK",${L('Place', 'unary', 'acme', 'book')}} 1`,
    `grpc_server_handled_total{grpc_code="OK",${L('Place', 'unary', 'globex', 'pen')}} 1`,
    `grpc_server_handled_total{grpc_code="OK",${L('Upload', 'client_stream', 'globex', '')}} 1`,
  ]);
  assert.deepEqual(await exposition(registry, 'grpc_server_msg_received_total'), [
    `grpc_server_msg_received_total{${L('List', 'server_stream', 'acme', '')}} 1`,
    `grpc_server_msg_received_total{${L('Place', 'unary', 'acme', 'book')}} 1`,
    `grpc_server_msg_received_total{${L('Place', 'unary', 'globex', 'pen')}} 1`,
    `grpc_server_msg_received_total{${L('Upload', 'client_stream', 'globex', '')}} 2`,
  ]);
  assert.deepEqual(await exposition(registry, 'grpc_server_msg_sent_total'), [
    `grpc_server_msg_sent_total{${L('List', 'server_stream', 'acme', '')}} 3`,
    `grpc_server_msg_sent_total{${L('Place', 'unary', 'acme', 'book')}} 1`,
    `grpc_server_msg_sent_total{${L('Place', 'unary', 'globex', 'pen')}} 1`,
    `grpc_server_msg_sent_total{${L('Upload', 'client_stream', 'globex', '')}} 1`,
  ]);
  const counts = (await exposition(registry, 'grpc_server_handling_seconds_count')).map((l) => l.replace(/^grpc_server_handling_seconds_count/, ''));
  assert.deepEqual(counts, [
    `{${L('List', 'server_stream', 'acme', '')}} 1`,
    `{${L('Place', 'unary', 'acme', 'book')}} 1`,
    `{${L('Place', 'unary', 'globex', 'pen')}} 1`,
    `{${L('Upload', 'client_stream', 'globex', '')}} 1`,
  ]);
});

test('grpc style tagLabels on a client: each series of a call carries the tags of the request that made it', async () => {
  const registry = new Registry();
  const metrics = prometheusTracer({ registry, style: 'grpc', tagLabels: ['tenant'] });
  const done = new RecordingTracer();
  const server = new grpc.Server();
  server.addService(Orders, impl);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  const client = new OrdersClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { interceptors: [reqprofClientInterceptor(withTracer(metrics), withTracer(done))] }) as unknown as Client;
  try {
    await tag({ tenant: 'acme' }, () => new Promise((resolve, reject) => client.place({ item: 'book' }, (e: Error | null, r: Msg) => (e ? reject(e) : resolve(r)))));
    await new Promise((resolve, reject) => client.place({ item: 'pen' }, (e: Error | null, r: Msg) => (e ? reject(e) : resolve(r))));
    await done.waitFor(2);
  } finally {
    client.close();
    server.forceShutdown();
  }
  const L = (tenant: string) => `grpc_method="Place",grpc_service="${SERVICE}",grpc_type="unary",tenant="${tenant}"`;
  for (const name of ['grpc_client_started_total', 'grpc_client_msg_sent_total', 'grpc_client_msg_received_total']) {
    assert.deepEqual(await exposition(registry, name), [`${name}{${L('')}} 1`, `${name}{${L('acme')}} 1`], name);
  }
  assert.deepEqual(await exposition(registry, 'grpc_client_handled_total'), [
    `grpc_client_handled_total{grpc_code="OK",${L('')}} 1`,
    `grpc_client_handled_total{grpc_code="OK",${L('acme')}} 1`,
  ]);
});

test('kitex style tagLabels over HTTP: a server\'s and a client\'s series carry the request\'s tags', async () => {
  const registry = new Registry();
  const metrics = prometheusTracer({ registry, tagLabels: ['tenant', 'item'] });
  const done = new RecordingTracer();
  const profiler = newProfiler(new Recorder().processor, 0, 60_000);
  const server = http.createServer(reqprofHandler((_req, res, body) => {
    res.end(JSON.stringify(body));
  }, withProfiler(profiler), withProfilerTransInfoTagging(tenantOf), withProfilerMessageTagging(itemOf), withTracer(metrics), withTracer(done)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const clients = traceHttpClients(withTracer(metrics), withTracer(done));
  const post = (tenant: string, item: string) => fetch(`http://127.0.0.1:${portOf(server)}/orders`, {
    method: 'POST', headers: { 'x-tenant': tenant, 'content-type': 'application/json' }, body: JSON.stringify({ item }),
  }).then((r) => r.text());
  try {
    await tag({ tenant: 'acme' }, () => post('acme', 'book'));
    await post('globex', 'pen');
    await done.waitFor(4);
  } finally {
    clients.stop();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await profiler.stop();
  }
  const S = (tenant: string, item: string) => `callee="unknown",caller="unknown",item="${item}",method="POST /orders",status="succeed",tenant="${tenant}",type="pingpong"`;
  assert.deepEqual(await exposition(registry, 'kitex_server_throughput'), [
    `kitex_server_throughput{${S('acme', 'book')}} 1`,
    `kitex_server_throughput{${S('globex', 'pen')}} 1`,
  ]);
  const clientLines = (await exposition(registry, 'kitex_client_throughput')).map((l) => [/tenant="([^"]*)"/.exec(l)![1], /item="([^"]*)"/.exec(l)![1], l.slice(l.lastIndexOf(' ') + 1)]);
  assert.deepEqual(clientLines.sort(), [['', '', '1'], ['acme', '', '1']], 'the client call carries its caller\'s tags');
});

test('otelTracer tagAttributes: a gRPC server\'s and an HTTP server\'s durations carry the tags each request was served with', async () => {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({ readers: [reader] });
  const tracer = otelTracer({ meter: provider.getMeter('tag-attributes'), tagAttributes: { 'app.tenant': 'tenant', 'app.item': 'item' } });
  const done = new RecordingTracer();
  const profiler = newProfiler(new Recorder().processor, 0, 60_000);
  const options = [withProfiler(profiler), withProfilerTransInfoTagging(tenantOf), withProfilerMessageTagging(itemOf), withTracer(tracer), withTracer(done)];
  const grpcServer = new grpc.Server({ interceptors: [reqprofInterceptor(...options)] });
  grpcServer.addService(deferDecoding(Orders), impl);
  const port = await new Promise<number>((resolve, reject) => grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  const client = new OrdersClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as Client;
  const httpServer = http.createServer(reqprofHandler((_req, res, body) => {
    res.end(JSON.stringify(body));
  }, ...options));
  httpServer.listen(0, '127.0.0.1');
  await once(httpServer, 'listening');
  try {
    await new Promise((resolve, reject) => client.place({ item: 'book' }, withTenant('acme'), (e: Error | null, r: Msg) => (e ? reject(e) : resolve(r))));
    await fetch(`http://127.0.0.1:${portOf(httpServer)}/orders`, { method: 'POST', headers: { 'x-tenant': 'globex', 'content-type': 'application/json' }, body: JSON.stringify({ item: 'pen' }) }).then((r) => r.text());
    await done.waitFor(2);
    exporter.reset();
    await reader.forceFlush();
  } finally {
    client.close();
    grpcServer.forceShutdown();
    httpServer.closeAllConnections();
    await new Promise((r) => httpServer.close(r));
    await profiler.stop();
  }
  const points = new Map<string, Record<string, unknown>[]>();
  for (const rm of exporter.getMetrics()) for (const sm of rm.scopeMetrics) for (const m of sm.metrics) points.set(m.descriptor.name, m.dataPoints.map((d) => d.attributes));
  await provider.shutdown();
  const tagsOf = (name: string) => (points.get(name) ?? []).map((a) => `${a['app.tenant']} ${a['app.item']}`);
  assert.deepEqual(tagsOf('rpc.server.duration'), ['acme book']);
  assert.deepEqual(tagsOf('http.server.request.duration'), ['globex pen']);
});
