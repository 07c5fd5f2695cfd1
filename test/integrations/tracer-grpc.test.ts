/**
 * The tracer hook on @grpc/grpc-js servers and clients: a real server and
 * client on loopback, every kind of call, errors, a client cancellation and
 * a deadline; go-grpc-prometheus's names and labels compared line by line
 * with the exposition text.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import {
  newProfiler, tag, withCallerHeader, withProfiler, withProfilerTransInfoTagging, withServiceName, withTracer,
  type RPCInfo, type ServerOption,
} from '../../src/index.js';
import { deferDecoding, reqprofClientInterceptor, reqprofInterceptor } from '../../src/integrations/grpc.js';
import { prometheusTracer } from '../../src/processors/prometheus.js';
import { Recorder } from '../helpers/cpu.js';
import { RecordingTracer, exposition, sampleValue } from '../helpers/tracer.js';

type Msg = { n?: number; text?: string; fail?: boolean };
const encode = (v: unknown) => Buffer.from(JSON.stringify(v));
const decode = (b: Buffer) => JSON.parse(b.toString('utf8')) as Msg;

/** go-grpc-prometheus's test service, so the expected lines read as its README's. */
const SERVICE = 'mwitkow.testproto.TestService';
function method(name: string, requestStream: boolean, responseStream: boolean): grpc.MethodDefinition<Msg, Msg> {
  return { path: `/${SERVICE}/${name}`, requestStream, responseStream, requestSerialize: encode, requestDeserialize: decode, responseSerialize: encode, responseDeserialize: decode };
}
const TestService = {
  ping: method('Ping', false, false),
  pingError: method('PingError', false, false),
  pingList: method('PingList', false, true),
  pingStream: method('PingStream', true, true),
  pingUpload: method('PingUpload', true, false),
  pingSlow: method('PingSlow', false, false),
  pingHang: method('PingHang', false, true),
} satisfies grpc.ServiceDefinition;
const TestClient = grpc.makeGenericClientConstructor(TestService, 'TestService');
type Client = grpc.Client & Record<keyof typeof TestService, (...args: unknown[]) => unknown>;

const impl: grpc.UntypedServiceImplementation = {
  ping(call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
    cb(null, { text: `pong ${call.request.text}` });
  },
  pingError(_call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
    cb({ code: grpc.status.NOT_FOUND, details: 'no such thing' });
  },
  pingList(call: grpc.ServerWritableStream<Msg, Msg>) {
    for (let i = 0; i < call.request.n!; i++) call.write({ n: i });
    call.end();
  },
  pingStream(call: grpc.ServerDuplexStream<Msg, Msg>) {
    call.on('data', (m: Msg) => call.write({ n: m.n }));
    call.on('end', () => call.end());
  },
  pingUpload(call: grpc.ServerReadableStream<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
    let n = 0;
    call.on('data', () => n++);
    call.on('end', () => cb(null, { n }));
  },
  pingSlow(_call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
    setTimeout(() => cb(null, {}), 300);
  },
  pingHang(call: grpc.ServerWritableStream<Msg, Msg>) {
    call.write({ n: 0 });
    // Never ends: the client cancels.
  },
};

async function serve(serverOptions: ServerOption[], clientOptions: ServerOption[]) {
  const server = new grpc.Server({ interceptors: [reqprofInterceptor(...serverOptions)] });
  server.addService(deferDecoding(TestService), impl);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  const client = new TestClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { interceptors: [reqprofClientInterceptor(...clientOptions)] }) as unknown as Client;
  return {
    client,
    close: async () => {
      client.close();
      server.forceShutdown();
    },
  };
}

const unary = (c: Client, name: 'ping' | 'pingError' | 'pingSlow', req: Msg, options: grpc.CallOptions = {}) =>
  new Promise<Msg>((resolve, reject) => c[name](req, new grpc.Metadata(), options, (err: Error | null, res: Msg) => (err ? reject(err) : resolve(res))));

function pingList(c: Client, n: number): Promise<Msg[]> {
  return new Promise((resolve, reject) => {
    const call = c.pingList({ n }) as grpc.ClientReadableStream<Msg>;
    const out: Msg[] = [];
    call.on('data', (m: Msg) => out.push(m));
    call.on('error', reject);
    call.on('end', () => resolve(out));
  });
}

function pingStream(c: Client, n: number): Promise<Msg[]> {
  return new Promise((resolve, reject) => {
    const call = c.pingStream() as grpc.ClientDuplexStream<Msg, Msg>;
    const out: Msg[] = [];
    call.on('data', (m: Msg) => out.push(m));
    call.on('error', reject);
    call.on('end', () => resolve(out));
    for (let i = 0; i < n; i++) call.write({ n: i });
    call.end();
  });
}

function pingUpload(c: Client, n: number): Promise<Msg> {
  return new Promise((resolve, reject) => {
    const call = c.pingUpload((err: Error | null, res: Msg) => (err ? reject(err) : resolve(res))) as grpc.ClientWritableStream<Msg>;
    for (let i = 0; i < n; i++) call.write({ n: i });
    call.end();
  });
}

/** Starts PingHang and cancels it once its first message arrived. */
function pingHangCancelled(c: Client): Promise<grpc.ServiceError> {
  return new Promise((resolve) => {
    const call = c.pingHang({}) as grpc.ClientReadableStream<Msg>;
    call.on('data', () => call.cancel());
    call.on('error', (err: grpc.ServiceError) => resolve(err));
  });
}

/** The traffic every test sends, and what it is: 9 calls. */
async function sendTraffic(client: Client): Promise<void> {
  assert.equal((await pingList(client, 20)).length, 20);
  for (let i = 0; i < 3; i++) assert.deepEqual(await unary(client, 'ping', { text: 'hi' }), { text: 'pong hi' });
  for (let i = 0; i < 2; i++) await assert.rejects(unary(client, 'pingError', {}), { code: grpc.status.NOT_FOUND });
  assert.equal((await pingStream(client, 3)).length, 3);
  assert.deepEqual(await pingUpload(client, 4), { n: 4 });
  assert.equal((await pingHangCancelled(client)).code, grpc.status.CANCELLED);
  await assert.rejects(unary(client, 'pingSlow', {}, { deadline: Date.now() + 50 }), { code: grpc.status.DEADLINE_EXCEEDED });
}
const CALLS = 10;

test('grpc style: the exposition has go-grpc-prometheus\'s names, labels and codes, server side and client side', async () => {
  const registry = new Registry();
  const metrics = prometheusTracer({ style: 'grpc', registry, handlingTimeHistogram: true });
  const server = new RecordingTracer('server');
  const clientRec = new RecordingTracer('client');
  const { client, close } = await serve([withTracer(metrics), withTracer(server)], [withTracer(metrics), withTracer(clientRec)]);
  try {
    await sendTraffic(client);
    await server.waitFor(CALLS);
    await clientRec.waitFor(CALLS);
  } finally {
    await close();
  }
  const L = (m: string, type: string) => `grpc_method="${m}",grpc_service="${SERVICE}",grpc_type="${type}"`;
  const H = (code: string, m: string, type: string) => `grpc_code="${code}",${L(m, type)}`;
  for (const side of ['server', 'client'] as const) {
    assert.deepEqual(await exposition(registry, `grpc_${side}_started_total`), [
      `grpc_${side}_started_total{${L('Ping', 'unary')}} 3`,
      `grpc_${side}_started_total{${L('PingError', 'unary')}} 2`,
      `grpc_${side}_started_total{${L('PingHang', 'server_stream')}} 1`,
      `grpc_${side}_started_total{${L('PingList', 'server_stream')}} 1`,
      `grpc_${side}_started_total{${L('PingSlow', 'unary')}} 1`,
      `grpc_${side}_started_total{${L('PingStream', 'bidi_stream')}} 1`,
      `grpc_${side}_started_total{${L('PingUpload', 'client_stream')}} 1`,
    ], `${side}: started`);
    assert.deepEqual(await exposition(registry, `grpc_${side}_handled_total`), [
      `grpc_${side}_handled_total{${H('Canceled', 'PingHang', 'server_stream')}} 1`,
      `grpc_${side}_handled_total{${H('DeadlineExceeded', 'PingSlow', 'unary')}} 1`,
      `grpc_${side}_handled_total{${H('NotFound', 'PingError', 'unary')}} 2`,
      `grpc_${side}_handled_total{${H('OK', 'Ping', 'unary')}} 3`,
      `grpc_${side}_handled_total{${H('OK', 'PingList', 'server_stream')}} 1`,
      `grpc_${side}_handled_total{${H('OK', 'PingStream', 'bidi_stream')}} 1`,
      `grpc_${side}_handled_total{${H('OK', 'PingUpload', 'client_stream')}} 1`,
    ], `${side}: handled, with grpc-go's code names`);
  }
  // Messages, as go-grpc-prometheus's README walks through PingList (one request, 20 responses).
  const server_ = (kind: 'received' | 'sent', m: string, type: string) => sampleValue(registry, `grpc_server_msg_${kind}_total`, L(m, type));
  assert.equal(await server_('received', 'PingList', 'server_stream'), 1);
  assert.equal(await server_('sent', 'PingList', 'server_stream'), 20);
  assert.equal(await server_('received', 'Ping', 'unary'), 3);
  assert.equal(await server_('sent', 'Ping', 'unary'), 3);
  assert.equal(await server_('sent', 'PingError', 'unary'), undefined, 'an error answer sends no message');
  assert.equal(await server_('received', 'PingStream', 'bidi_stream'), 3);
  assert.equal(await server_('sent', 'PingStream', 'bidi_stream'), 3);
  assert.equal(await server_('received', 'PingUpload', 'client_stream'), 4);
  assert.equal(await server_('sent', 'PingUpload', 'client_stream'), 1);
  const client_ = (kind: 'received' | 'sent', m: string, type: string) => sampleValue(registry, `grpc_client_msg_${kind}_total`, L(m, type));
  assert.equal(await client_('sent', 'PingList', 'server_stream'), 1);
  assert.equal(await client_('received', 'PingList', 'server_stream'), 20);
  assert.equal(await client_('sent', 'PingUpload', 'client_stream'), 4);
  assert.equal(await client_('received', 'PingUpload', 'client_stream'), 1);

  // The handling-time histograms: default Prometheus buckets, labels without grpc_code
  // (go-grpc-prometheus's code registers it with grpc_type, grpc_service, grpc_method only).
  const listLines = (await exposition(registry, 'grpc_server_handling_seconds_bucket')).filter((l) => l.includes(L('PingList', 'server_stream')));
  assert.deepEqual(listLines.map((l) => l.replace(/ \d+$/, '')).sort(),
    ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf'].map((le) => `grpc_server_handling_seconds_bucket{${L('PingList', 'server_stream')},le="${le}"}`).sort());
  assert.equal(await sampleValue(registry, 'grpc_server_handling_seconds_count', L('PingList', 'server_stream')), 1);
  assert.equal(await sampleValue(registry, 'grpc_server_handling_seconds_bucket', `${L('PingList', 'server_stream')},le="+Inf"`), 1);
  // The deadline cut the slow call at 50 ms on both sides: not in the 5 ms bucket, in the 10 s one.
  assert.equal(await sampleValue(registry, 'grpc_client_handling_seconds_bucket', `${L('PingSlow', 'unary')},le="0.005"`), 0);
  assert.equal(await sampleValue(registry, 'grpc_client_handling_seconds_bucket', `${L('PingSlow', 'unary')},le="10"`), 1);
  assert.equal(await sampleValue(registry, 'grpc_server_handling_seconds_bucket', `${L('PingSlow', 'unary')},le="0.025"`), 0);
  const text = await registry.metrics();
  assert.match(text, /^# TYPE grpc_server_handled_total counter$/m);
  assert.match(text, /^# TYPE grpc_client_handling_seconds histogram$/m);
  assert.match(text, /^# HELP grpc_server_started_total Total number of RPCs started on the server\.$/m);
  assert.doesNotMatch(text, /kitex_/, 'one style per tracer');
});

test('grpc: the tracers see each call\'s type, method, code, messages, bytes, caller and the calling request\'s tags, on both sides', async () => {
  const server = new RecordingTracer('server');
  const clientRec = new RecordingTracer('client');
  const { client, close } = await serve(
    [withTracer(server), withCallerHeader('x-caller')],
    [withTracer(clientRec), withServiceName('checkout'), withCallerHeader('x-caller')],
  );
  try {
    // The client call is made while serving a (tagged) request of our own.
    await tag({ route: '/buy' }, () => sendTraffic(client));
    await server.waitFor(CALLS);
    await clientRec.waitFor(CALLS);
  } finally {
    await close();
  }
  for (const rec of [server, clientRec]) {
    for (const seen of rec.calls.values()) assert.equal(seen.finishes, 1, `${rec.name} ${seen.info.method} finished once`);
  }
  const s = (m: string) => server.finished().filter((i) => i.method === `/${SERVICE}/${m}`);
  const c = (m: string) => clientRec.finished().filter((i) => i.method === `/${SERVICE}/${m}`);
  const [list] = s('PingList');
  assert.deepEqual(pick(list!), { side: 'server', protocol: 'grpc', integration: 'grpc', service: SERVICE, callType: 'server_stream', status: 0, aborted: false, messagesReceived: 1, messagesSent: 20, caller: 'checkout', callee: SERVICE });
  assert.equal(list!.bytesReceived, encode({ n: 20 }).length, 'request bytes (deferDecoding)');
  assert.equal(list!.bytesSent, Array.from({ length: 20 }, (_, i) => encode({ n: i }).length).reduce((a, b) => a + b), 'response bytes');
  assert.equal(list!.tags, undefined, 'no profiler on the server: no tags');
  const [clist] = c('PingList');
  assert.deepEqual(pick(clist!), { side: 'client', protocol: 'grpc', integration: 'grpc-client', service: SERVICE, callType: 'server_stream', status: 0, aborted: false, messagesReceived: 20, messagesSent: 1, caller: 'checkout', callee: SERVICE });
  assert.equal(clist!.tags?.key, 'route=/buy', 'the client call carries the tags of the request that made it');
  for (const e of s('PingError')) {
    assert.equal(e.status, grpc.status.NOT_FOUND);
    assert.equal((e.error as { code: number }).code, grpc.status.NOT_FOUND);
    assert.match((e.error as Error).message, /NotFound: no such thing/);
  }
  assert.deepEqual(s('PingStream').map((i) => [i.callType, i.messagesReceived, i.messagesSent]), [['bidi_stream', 3, 3]]);
  assert.deepEqual(s('PingUpload').map((i) => [i.callType, i.messagesReceived, i.messagesSent]), [['client_stream', 4, 1]]);
  const [hang] = s('PingHang');
  assert.deepEqual([hang!.status, hang!.aborted], [grpc.status.CANCELLED, true], 'cancelled by the client: aborted on the server');
  const [chang] = c('PingHang');
  assert.deepEqual([chang!.status, chang!.aborted], [grpc.status.CANCELLED, true], 'cancelled by this client: aborted');
  const [slow] = s('PingSlow');
  assert.deepEqual([slow!.status, slow!.aborted], [grpc.status.DEADLINE_EXCEEDED, true], 'grpc-js ended it at the deadline');
  assert.deepEqual(c('PingSlow').map((i) => i.status), [grpc.status.DEADLINE_EXCEEDED]);
  for (const i of [...server.finished(), ...clientRec.finished()]) assert.ok(i.endTime! > i.startTime);
});

test('grpc: Kitex-style metrics name the method without its service (the callee) and tell pingpong from streaming', async () => {
  const registry = new Registry();
  const metrics = prometheusTracer({ registry });
  const rec = new RecordingTracer();
  const { client, close } = await serve([withTracer(metrics), withTracer(rec), withServiceName('test-server'), withCallerHeader('x-caller')], [withServiceName('test-client'), withCallerHeader('x-caller')]);
  try {
    await sendTraffic(client);
    await rec.waitFor(CALLS);
  } finally {
    await close();
  }
  const K = (m: string, status: string, type: string) => `callee="test-server",caller="test-client",method="${m}",status="${status}",type="${type}"`;
  assert.deepEqual(await exposition(registry, 'kitex_server_throughput'), [
    `kitex_server_throughput{${K('Ping', 'succeed', 'pingpong')}} 3`,
    `kitex_server_throughput{${K('PingError', 'error', 'pingpong')}} 2`,
    `kitex_server_throughput{${K('PingHang', 'error', 'streaming')}} 1`,
    `kitex_server_throughput{${K('PingList', 'succeed', 'streaming')}} 1`,
    `kitex_server_throughput{${K('PingSlow', 'error', 'pingpong')}} 1`,
    `kitex_server_throughput{${K('PingStream', 'succeed', 'streaming')}} 1`,
    `kitex_server_throughput{${K('PingUpload', 'succeed', 'streaming')}} 1`,
  ]);
  assert.equal(await sampleValue(registry, 'kitex_server_latency_us_count', K('Ping', 'succeed', 'pingpong')), 3);
  assert.deepEqual(await exposition(registry, 'kitex_client_throughput'), [], 'no client tracer given: no client series');
});

test('grpc: with a profiler, finished calls are counted per tag set', async () => {
  const recorder = new Recorder();
  const profiler = newProfiler(recorder.processor, 0, 60_000, { samplingIntervalMicros: 1000 });
  const rec = new RecordingTracer();
  const { client, close } = await serve([withProfiler(profiler), withTracer(rec), withProfilerTransInfoTagging((info) => ({ method: info.path.slice(info.path.lastIndexOf('/') + 1) }))], []);
  const running = profiler.run();
  try {
    await sendTraffic(client);
    await rec.waitFor(CALLS);
  } finally {
    await close();
    await profiler.stop();
    await running;
  }
  const requests: Record<string, number> = {};
  for (const w of recorder.windows) for (const p of w.profiles) if (p.requests) requests[p.key] = (requests[p.key] ?? 0) + p.requests;
  assert.deepEqual(requests, {
    'method=Ping': 3, 'method=PingError': 2, 'method=PingList': 1, 'method=PingStream': 1, 'method=PingUpload': 1, 'method=PingHang': 1, 'method=PingSlow': 1,
  });
  assert.equal(rec.finished().find((i) => i.method.endsWith('/Ping'))!.tags?.key, 'method=Ping');
});

function pick(i: RPCInfo) {
  const { side, protocol, integration, service, callType, status, aborted, messagesReceived, messagesSent, caller, callee } = i;
  return { side, protocol, integration, service, callType, status, aborted, messagesReceived, messagesSent, caller, callee };
}
