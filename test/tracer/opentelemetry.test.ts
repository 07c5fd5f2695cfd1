/**
 * otelTracer with a real OpenTelemetry SDK pipeline, a real Fastify server,
 * fetch, and a real gRPC server and client: the semantic-convention
 * histograms, their units, buckets and attributes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, type HistogramMetricData, type MetricData } from '@opentelemetry/sdk-metrics';
import Fastify from 'fastify';
import { traceHttpClients, withTracer } from '../../src/index.js';
import { reqprofPlugin } from '../../src/integrations/fastify.js';
import { reqprofClientInterceptor, reqprofInterceptor } from '../../src/integrations/grpc.js';
import { HTTP_DURATION_BUCKETS_S, otelTracer } from '../../src/processors/opentelemetry.js';
import { RecordingTracer } from '../helpers/tracer.js';
import { portOf } from '../integrations/helpers.js';

function sdk() {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({ readers: [reader] });
  const collect = async (): Promise<Map<string, MetricData>> => {
    exporter.reset();
    await reader.forceFlush();
    const out = new Map<string, MetricData>();
    for (const rm of exporter.getMetrics()) for (const sm of rm.scopeMetrics) for (const m of sm.metrics) out.set(m.descriptor.name, m);
    return out;
  };
  return { meter: provider.getMeter('reqprof-test'), collect, shutdown: () => provider.shutdown() };
}

/** Each data point as `sorted attributes => count`. */
function counts(m: MetricData | undefined): string[] {
  assert.ok(m, 'instrument exported');
  return (m as HistogramMetricData).dataPoints
    .map((d) => `${JSON.stringify(Object.fromEntries(Object.entries(d.attributes).sort(([a], [b]) => (a < b ? -1 : 1))))} => ${d.value.count}`)
    .sort();
}

type Msg = { fail?: boolean };
const json = { serialize: (v: unknown) => Buffer.from(JSON.stringify(v)), deserialize: (b: Buffer) => JSON.parse(b.toString()) as Msg };
const Echo = {
  say: { path: '/demo.v1.Echo/Say', requestStream: false, responseStream: false, requestSerialize: json.serialize, requestDeserialize: json.deserialize, responseSerialize: json.serialize, responseDeserialize: json.deserialize },
} satisfies grpc.ServiceDefinition;

test('HTTP and gRPC durations land on the semantic-convention histograms with their units, advisory buckets and attributes', async () => {
  const { meter, collect, shutdown } = sdk();
  const tracer = otelTracer({ meter });
  const done = new RecordingTracer();

  const app = Fastify();
  await app.register(reqprofPlugin(withTracer(tracer), withTracer(done)));
  app.get('/users/:id', async () => ({ ok: true }));
  app.get('/fail', async () => {
    throw new Error('boom');
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = portOf(app.server);

  const server = new grpc.Server({ interceptors: [reqprofInterceptor(withTracer(tracer), withTracer(done))] });
  server.addService(Echo, {
    say: (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => (call.request.fail ? cb({ code: grpc.status.INVALID_ARGUMENT, details: 'bad' }) : cb(null, {})),
  });
  const gport = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  const EchoClient = grpc.makeGenericClientConstructor(Echo, 'Echo');
  const client = new EchoClient(`127.0.0.1:${gport}`, grpc.credentials.createInsecure(), { interceptors: [reqprofClientInterceptor(withTracer(tracer), withTracer(done))] }) as unknown as grpc.Client & { say: (m: Msg, cb: (e: grpc.ServiceError | null) => void) => void };
  const clients = traceHttpClients(withTracer(tracer), withTracer(done));
  try {
    for (let i = 0; i < 3; i++) await (await fetch(`http://127.0.0.1:${port}/users/${i}`)).text();
    await (await fetch(`http://127.0.0.1:${port}/fail`)).text();
    await (await fetch(`http://127.0.0.1:${port}/nope`)).text();
    for (const fail of [false, false, true]) await new Promise<void>((r) => client.say({ fail }, () => r()));
    await done.waitFor(2 * 5 + 2 * 3);
    const m = await collect();

    const http = m.get('http.server.request.duration') as HistogramMetricData;
    assert.equal(http.descriptor.unit, 's');
    assert.deepEqual(http.dataPoints[0]!.value.buckets.boundaries, [...HTTP_DURATION_BUCKETS_S], 'the conventions\' advisory buckets');
    assert.deepEqual(counts(http), [
      '{"error.type":"500","http.request.method":"GET","http.response.status_code":500,"http.route":"/fail","url.scheme":"http"} => 1',
      '{"http.request.method":"GET","http.response.status_code":200,"http.route":"/users/:id","url.scheme":"http"} => 3',
      // No route matched: no http.route (the path would be unbounded).
      '{"http.request.method":"GET","http.response.status_code":404,"url.scheme":"http"} => 1',
    ]);
    const httpClient = m.get('http.client.request.duration') as HistogramMetricData;
    assert.equal(httpClient.descriptor.unit, 's');
    const server_ = `"server.address":"127.0.0.1","server.port":${port}`;
    assert.deepEqual(counts(httpClient), [
      `{"error.type":"404","http.request.method":"GET","http.response.status_code":404,${server_},"url.scheme":"http"} => 1`,
      `{"error.type":"500","http.request.method":"GET","http.response.status_code":500,${server_},"url.scheme":"http"} => 1`,
      `{"http.request.method":"GET","http.response.status_code":200,${server_},"url.scheme":"http"} => 3`,
    ]);
    for (const side of ['server', 'client'] as const) {
      const rpc = m.get(`rpc.${side}.duration`) as HistogramMetricData;
      assert.equal(rpc.descriptor.unit, 'ms');
      assert.deepEqual(counts(rpc), [
        `{"rpc.grpc.status_code":0,"rpc.method":"Say","rpc.service":"demo.v1.Echo","rpc.system":"grpc"} => 2`,
        `{"rpc.grpc.status_code":3,"rpc.method":"Say","rpc.service":"demo.v1.Echo","rpc.system":"grpc"} => 1`,
      ], `rpc.${side}.duration`);
      for (const d of rpc.dataPoints) assert.ok(d.value.sum! > 0 && d.value.sum! < 10_000, `durations in milliseconds: ${d.value.sum}`);
    }
  } finally {
    clients.stop();
    client.close();
    server.forceShutdown();
    await app.close();
    await shutdown();
  }
});

test('otelTracer needs a meter, and says so', () => {
  assert.throws(() => otelTracer({} as never), { name: 'TypeError', code: 'REQPROF_ERR_INVALID_OPTION', message: /"meter" must be an OpenTelemetry Meter/ });
});
