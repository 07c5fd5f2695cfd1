import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { currentTagsObject, withLogger, withProfiler, withProfilerMessageTagging, withProfilerTransInfoTagging, type TransportInfo } from '../../src/index.js';
import { deferDecoding, reqprofInterceptor } from '../../src/integrations/grpc.js';
import { captureLogger, stoppedProfiler } from './helpers.js';

type Msg = Record<string, unknown>;
const json = (v: unknown) => Buffer.from(JSON.stringify(v));
const parse = (b: Buffer) => JSON.parse(b.toString('utf8')) as Msg;
const Shop = {
  place: { path: '/shop.Orders/Place', requestStream: false, responseStream: false, requestSerialize: json, requestDeserialize: parse, responseSerialize: json, responseDeserialize: parse },
} satisfies grpc.ServiceDefinition;
const ShopClient = grpc.makeGenericClientConstructor(Shop, 'Orders');

/** A real gRPC server whose handler answers with the tags it runs with. */
async function serve(options: Parameters<typeof reqprofInterceptor>, fn: (call: (md: grpc.Metadata) => Promise<Msg>) => Promise<void>): Promise<void> {
  const server = new grpc.Server({ interceptors: [reqprofInterceptor(...options)] });
  server.addService(deferDecoding(Shop), {
    place(_call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
      cb(null, currentTagsObject());
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  const client = new ShopClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & { place: (...a: unknown[]) => void };
  const call = (md: grpc.Metadata) => new Promise<Msg>((resolve, reject) => client.place({ tenant: 'acme' }, md, { deadline: Date.now() + 10_000 }, (err: Error | null, res: Msg) => (err ? reject(err) : resolve(res))));
  try {
    await fn(call);
  } finally {
    client.close();
    await new Promise<void>((r) => server.tryShutdown(() => r()));
  }
}

test('gRPC, the README snippet: with no x-caller metadata the call is served and keeps its method and tenant tags', async () => {
  const logger = captureLogger();
  await serve([
    withProfiler(await stoppedProfiler()), withLogger(logger),
    withProfilerTransInfoTagging((info: TransportInfo) => ({ caller: (info.headers as Record<string, string>)['x-caller'], method: info.path.split('/').pop() })),
    withProfilerMessageTagging((m) => ({ tenant: (m as Msg).tenant as string })),
  ], async (call) => {
    assert.deepEqual(await call(new grpc.Metadata()), { method: 'Place', tenant: 'acme' });
    const md = new grpc.Metadata();
    md.set('x-caller', 'web');
    assert.deepEqual(await call(md), { caller: 'web', method: 'Place', tenant: 'acme' });
  });
  assert.equal(logger.records.filter((r) => r.level !== 'info').length, 0, JSON.stringify(logger.records));
});

test('gRPC: merged tags over 64 keys are cut to 64 with one warning, and every call is served', async () => {
  const logger = captureLogger();
  const keys = (prefix: string) => Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`${prefix}${String(i).padStart(2, '0')}`, 'v']));
  await serve([
    withProfiler(await stoppedProfiler()), withLogger(logger),
    withProfilerTransInfoTagging(() => keys('a')),
    withProfilerMessageTagging(() => keys('m')),
  ], async (call) => {
    for (let i = 0; i < 3; i++) {
      const tags = await call(new grpc.Metadata());
      assert.equal(Object.keys(tags).length, 64);
      assert.equal(tags['a39'], 'v');
    }
  });
  const warned = logger.records.filter((r) => r.level === 'warn');
  assert.equal(warned.length, 1, JSON.stringify(logger.records.map((r) => r.msg)));
  assert.match(warned[0]!.msg!, /more than 64 tags/);
});
