/**
 * `deferDecoding` is scoped to the server whose calls reqprof's interceptor
 * actually receives first: three real servers in one process share one
 * deferred service definition; only the one with `reqprofInterceptor` as its
 * first interceptor decodes inside it (with the transport tags). The others'
 * handlers and interceptors get the decoded message, as grpc-js would give it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { currentTagsObject, newProfiler, withLogger, withProfiler, withProfilerTransInfoTagging } from '../../src/index.js';
import { deferDecoding, reqprofInterceptor } from '../../src/integrations/grpc.js';
import { Recorder } from '../helpers/cpu.js';
import { captureLogger } from './helpers.js';

type Msg = { text?: string; n?: number };
/** Where each request was decoded: the tags its decoding ran with. */
const decodedWith: Array<Record<string, string>> = [];
const encode = (v: unknown) => Buffer.from(JSON.stringify(v));
const decode = (b: Buffer): Msg => {
  decodedWith.push({ ...currentTagsObject() });
  return JSON.parse(b.toString('utf8')) as Msg;
};
const method = (name: string, requestStream: boolean): grpc.MethodDefinition<Msg, Msg> => ({
  path: `/demo.Echo/${name}`, requestStream, responseStream: false, requestSerialize: encode, requestDeserialize: decode, responseSerialize: encode, responseDeserialize: (b: Buffer) => JSON.parse(b.toString('utf8')) as Msg,
});
const Echo = { say: method('Say', false), count: method('Count', true) } satisfies grpc.ServiceDefinition;
const EchoClient = grpc.makeGenericClientConstructor(Echo, 'Echo');
type Client = grpc.Client & Record<keyof typeof Echo, (...args: unknown[]) => unknown>;

/** The handlers answer with what they were handed: a message's text, or what it was if not a message. */
const describe = (m: unknown) => (m !== null && typeof m === 'object' && m.constructor === Object ? `text=${(m as Msg).text}` : `not a message: ${String((m as object)?.constructor?.name)}`);
const impl: grpc.UntypedServiceImplementation = {
  say(call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
    cb(null, { text: describe(call.request) });
  },
  count(call: grpc.ServerReadableStream<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
    const seen: string[] = [];
    call.on('data', (m: unknown) => seen.push(describe(m)));
    call.on('end', () => cb(null, { text: seen.join('; ') }));
  },
};

/** A user's own interceptor that reads each request message (say, to validate it). */
function inspecting(seen: string[]): grpc.ServerInterceptor {
  return (_descriptor, call) => new grpc.ServerInterceptingCall(call, {
    start(next) {
      next({ onReceiveMessage(message, nextMessage) {
        seen.push(describe(message));
        nextMessage(message);
      } });
    },
  });
}

async function start(interceptors: grpc.ServerInterceptor[], definition: grpc.ServiceDefinition) {
  const server = new grpc.Server({ interceptors });
  server.addService(definition, impl);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  const client = new EchoClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as Client;
  const md = () => {
    const m = new grpc.Metadata();
    m.set('x-tenant', 'acme');
    return m;
  };
  return {
    say: (text: string) => new Promise<string>((resolve, reject) => client.say({ text }, md(), (e: Error | null, r: Msg) => (e ? reject(e) : resolve(r.text!)))),
    count: (...texts: string[]) => new Promise<string>((resolve, reject) => {
      const call = client.count(md(), (e: Error | null, r: Msg) => (e ? reject(e) : resolve(r.text!))) as grpc.ClientWritableStream<Msg>;
      for (const text of texts) call.write({ text });
      call.end();
    }),
    close: () => {
      client.close();
      server.forceShutdown();
    },
  };
}

test('two servers, one deferred definition: the server without reqprof\'s interceptor hands its handlers the decoded message; the one with it decodes with the transport tags', async () => {
  const profiler = newProfiler(new Recorder().processor, 0, 60_000);
  const tenant = withProfilerTransInfoTagging((info) => ({ tenant: String(info.headers['x-tenant']) }));
  const deferred = deferDecoding(Echo);
  const profiled = await start([reqprofInterceptor(withProfiler(profiler), tenant)], deferred);
  const plain = await start([], deferred);
  try {
    decodedWith.length = 0;
    assert.equal(await plain.say('hello'), 'text=hello', 'a server without reqprof: the handler gets the message');
    assert.equal(await plain.count('a', 'b'), 'text=a; text=b', 'a client stream on that server: each message decoded');
    assert.deepEqual(decodedWith, [{}, {}, {}], 'decoded by grpc-js, untagged');

    decodedWith.length = 0;
    assert.equal(await profiled.say('hello'), 'text=hello');
    assert.equal(await profiled.count('a', 'b'), 'text=a; text=b');
    assert.deepEqual(decodedWith, [{ tenant: 'acme' }, { tenant: 'acme' }, { tenant: 'acme' }], 'decoded inside reqprof\'s interceptor, with the transport tags');

    // And the plain server still works after the profiled one served calls.
    assert.equal(await plain.say('again'), 'text=again');
  } finally {
    profiled.close();
    plain.close();
    await profiler.stop();
  }
});

test('a user\'s interceptor listed before reqprof\'s sees decoded messages; reqprof then does not defer, and says so once', async () => {
  const logger = captureLogger();
  const profiler = newProfiler(new Recorder().processor, 0, 60_000);
  const seen: string[] = [];
  const tenant = withProfilerTransInfoTagging((info) => ({ tenant: String(info.headers['x-tenant']) }));
  const server = await start([inspecting(seen), reqprofInterceptor(withProfiler(profiler), tenant, withLogger(logger))], deferDecoding(Echo));
  try {
    assert.equal(await server.say('one'), 'text=one');
    assert.equal(await server.count('a', 'b'), 'text=a; text=b');
    assert.equal(await server.say('two'), 'text=two');
    assert.deepEqual(seen, ['text=one', 'text=a', 'text=b', 'text=two'], 'the user\'s interceptor gets messages, not reqprof\'s deferred bytes');
  } finally {
    server.close();
    await profiler.stop();
  }
  const warnings = logger.records.filter((r) => r.level === 'warn' && /deferDecoding/.test(r.msg ?? ''));
  assert.equal(warnings.length, 1, `one warning: ${JSON.stringify(logger.records)}`);
  assert.match(warnings[0]!.msg!, /reqprofInterceptor\(\) is not the first of the server's interceptors/);
});
