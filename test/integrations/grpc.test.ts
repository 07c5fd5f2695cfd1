import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import {
  currentTagsObject, newProfiler, withLogger, withProfiler, withProfilerMessageTagging, withProfilerTransInfoTagging,
  type TransportInfo,
} from '../../src/index.js';
import { deferDecoding, reqprofInterceptor } from '../../src/integrations/grpc.js';
import { sleep } from '../helpers/cpu.js';
import { GroundTruth, burnFor, captureLogger, cpuTimed, makeJsonBody, profileAndCompare, stoppedProfiler, tenantTag } from './helpers.js';

type Msg = { tenant?: string; n?: number; items?: unknown[]; fail?: boolean };
type Decoder = (b: Buffer) => Msg;

/** A Buffer passes as is: the client sends a big request encoded once, not on every call. */
const encode = (v: unknown) => (Buffer.isBuffer(v) ? v : Buffer.from(JSON.stringify(v)));
let decodeRequest: Decoder = (b) => JSON.parse(b.toString('utf8'));

/** A JSON-coded service with one method of each kind; request decoding goes through `decodeRequest`. */
function method(name: string, requestStream: boolean, responseStream: boolean): grpc.MethodDefinition<Msg, Msg> {
  return {
    path: `/bench.Bench/${name}`,
    requestStream,
    responseStream,
    requestSerialize: encode,
    requestDeserialize: (b: Buffer) => decodeRequest(b),
    responseSerialize: encode,
    responseDeserialize: (b: Buffer) => JSON.parse(b.toString('utf8')),
  };
}
const Bench = {
  work: method('Work', false, false),
  watch: method('Watch', false, true),
  upload: method('Upload', true, false),
  chat: method('Chat', true, true),
} satisfies grpc.ServiceDefinition;
const BenchClient = grpc.makeGenericClientConstructor(Bench, 'Bench');
type Client = grpc.Client & Record<keyof typeof Bench, (...args: unknown[]) => unknown>;

/** Transport stage: the method name and the caller from metadata. */
const methodAndCaller = (info: TransportInfo) => ({ method: info.path.slice(info.path.lastIndexOf('/') + 1), caller: (info.headers as Record<string, string>)['x-caller'] ?? 'unknown' });

async function serve(impl: grpc.UntypedServiceImplementation, ...options: Parameters<typeof reqprofInterceptor>) {
  const server = new grpc.Server({ interceptors: [reqprofInterceptor(...options)], 'grpc.max_receive_message_length': 16 << 20 });
  server.addService(deferDecoding(Bench), impl);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  const client = new BenchClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': 16 << 20 }) as unknown as Client;
  return {
    client,
    close: async () => {
      client.close();
      await new Promise<void>((r) => server.tryShutdown(() => r()));
    },
  };
}

function meta(caller?: string): grpc.Metadata {
  const m = new grpc.Metadata();
  if (caller) m.set('x-caller', caller);
  return m;
}

function unary(client: Client, req: Msg, md = meta('web')): Promise<Msg> {
  return new Promise((resolve, reject) => client.work(req, md, (err: Error | null, res: Msg) => (err ? reject(err) : resolve(res))));
}

function watch(client: Client, req: Msg, md = meta('web')): Promise<Msg[]> {
  return new Promise((resolve, reject) => {
    const call = client.watch(req, md) as grpc.ClientReadableStream<Msg>;
    const out: Msg[] = [];
    call.on('data', (m: Msg) => out.push(m));
    call.on('error', reject);
    call.on('end', () => resolve(out));
  });
}

function upload(client: Client, msgs: Msg[], md = meta('web')): Promise<Msg> {
  return new Promise((resolve, reject) => {
    const call = client.upload(md, (err: Error | null, res: Msg) => (err ? reject(err) : resolve(res))) as grpc.ClientWritableStream<Msg>;
    for (const m of msgs) call.write(m);
    call.end();
  });
}

function chat(client: Client, msgs: Msg[], md = meta('web')): Promise<Msg[]> {
  return new Promise((resolve, reject) => {
    const call = client.chat(md) as grpc.ClientDuplexStream<Msg, Msg>;
    const out: Msg[] = [];
    call.on('data', (m: Msg) => out.push(m));
    call.on('error', reject);
    call.on('end', () => resolve(out));
    for (const m of msgs) call.write(m);
    call.end();
  });
}


test('grpc unary and server-streaming: CPU shares match the timed truth, and deserialization is billed to the transport tags only', async () => {
  const truth = new GroundTruth();
  const big = makeJsonBody(2_000_000, 'acme') as Msg;
  const KEY = {
    decode: 'caller=web|method=Work',
    work: 'caller=web|method=Work|tenant=acme',
    light: 'caller=web|method=Work|tenant=globex',
    watch: 'caller=batch|method=Watch|tenant=initech',
  };
  decodeRequest = (b) => {
    let out: Msg = {};
    const ms = cpuTimed(() => (out = JSON.parse(b.toString('utf8'))));
    if (out.items) truth.add(KEY.decode, ms);
    return out;
  };
  const impl: grpc.UntypedServiceImplementation = {
    work(call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
      const key = call.request.tenant === 'acme' ? KEY.work : KEY.light;
      const ms = call.request.tenant === 'acme' ? 8 : 3;
      burnFor(truth, key, ms / 2);
      setImmediate(() => {
        burnFor(truth, key, ms / 2);
        cb(null, { n: 1 });
      });
    },
    watch(call: grpc.ServerWritableStream<Msg, Msg>) {
      let i = 0;
      const tick = () => {
        if (i++ === call.request.n) {
          call.end();
          return;
        }
        burnFor(truth, KEY.watch, 2);
        call.write({ n: i });
        setTimeout(tick, 0);
      };
      tick();
    },
  };
  const keys = Object.values(KEY);
  try {
    const result = await profileAndCompare('grpc unary+server-stream', truth, keys, async (profiler) => {
      const { client, close } = await serve(impl, withProfiler(profiler), withProfilerTransInfoTagging(methodAndCaller), withProfilerMessageTagging(tenantTag));
      try {
        const end = performance.now() + 3000;
        while (performance.now() < end) {
          await unary(client, big);
          await unary(client, { tenant: 'globex' });
          assert.equal((await watch(client, { tenant: 'initech', n: 3 }, meta('batch'))).length, 3);
        }
      } finally {
        await close();
      }
    });
    assert.ok(result.ok, result.report);
  } finally {
    decodeRequest = (b) => JSON.parse(b.toString('utf8'));
  }
});

test('grpc client-streaming and bidi: each request message is handled with its own message tags, the rest of the call with the transport tags', async () => {
  const truth = new GroundTruth();
  const cost: Record<string, number> = { acme: 3, globex: 1 };
  const impl: grpc.UntypedServiceImplementation = {
    upload(call: grpc.ServerReadableStream<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
      let n = 0;
      call.on('data', (m: Msg) => {
        n++;
        burnFor(truth, `method=Upload|tenant=${m.tenant}`, cost[m.tenant!]!);
      });
      call.on('end', () => {
        burnFor(truth, 'method=Upload', 2);
        cb(null, { n });
      });
    },
    chat(call: grpc.ServerDuplexStream<Msg, Msg>) {
      call.on('data', (m: Msg) => {
        burnFor(truth, `method=Chat|tenant=${m.tenant}`, cost[m.tenant!]!);
        call.write({ n: m.n });
      });
      call.on('end', () => {
        burnFor(truth, 'method=Chat', 2);
        call.end();
      });
    },
  };
  const msgs: Msg[] = Array.from({ length: 6 }, (_, i) => ({ tenant: i % 2 ? 'globex' : 'acme', n: i }));
  const keys = ['method=Upload', 'method=Upload|tenant=acme', 'method=Upload|tenant=globex', 'method=Chat', 'method=Chat|tenant=acme', 'method=Chat|tenant=globex'];
  const result = await profileAndCompare('grpc client-stream+bidi', truth, keys, async (profiler) => {
    const { client, close } = await serve(impl, withProfiler(profiler),
      withProfilerTransInfoTagging((info) => ({ method: methodAndCaller(info).method })),
      withProfilerMessageTagging(tenantTag));
    try {
      const end = performance.now() + 3000;
      while (performance.now() < end) {
        assert.equal((await upload(client, msgs)).n, 6);
        assert.equal((await chat(client, msgs)).length, 6);
      }
    } finally {
      await close();
    }
  });
  assert.ok(result.ok, result.report);
});

test('grpc: every kind of call keeps its tags for its whole life (timers, writes, stream events), and the next call on the connection starts clean', async () => {
  const p = await stoppedProfiler();
  const seen: Array<[string, Record<string, string>]> = [];
  const note = (where: string) => seen.push([where, { ...currentTagsObject() }]);
  const impl: grpc.UntypedServiceImplementation = {
    work(call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
      note(`work:${call.request.tenant ?? 'none'}`);
      setTimeout(() => {
        note(`work-timer:${call.request.tenant ?? 'none'}`);
        cb(null, {});
      }, 1);
    },
    watch(call: grpc.ServerWritableStream<Msg, Msg>) {
      let i = 0;
      const iv = setInterval(() => {
        note('watch-timer');
        if (i++ < 3) call.write({ n: i });
        else {
          clearInterval(iv);
          call.end();
        }
      }, 1);
    },
    upload(call: grpc.ServerReadableStream<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
      note('upload-start');
      call.on('data', () => note('upload-data'));
      call.on('end', () => {
        note('upload-end');
        setTimeout(() => cb(null, {}), 1);
      });
    },
    chat(call: grpc.ServerDuplexStream<Msg, Msg>) {
      note('chat-start');
      call.on('data', (m: Msg) => {
        note(`chat-data:${m.tenant}`);
        setTimeout(() => {
          note(`chat-reply:${m.tenant}`);
          call.write(m);
        }, 1);
      });
      call.on('end', () => setTimeout(() => {
        note('chat-end');
        call.end();
      }, 5));
    },
  };
  const { client, close } = await serve(impl, withProfiler(p), withProfilerTransInfoTagging(async (info) => {
    await sleep(1); // an async tagging function: grpc-js holds the messages until it is done
    return info.path.endsWith('/Work') && (info.headers as Record<string, string>)['x-caller'] === undefined ? undefined : methodAndCaller(info);
  }), withProfilerMessageTagging(tenantTag));
  try {
    await unary(client, { tenant: 'acme' });
    await unary(client, {}, meta()); // same connection, no tags at all
    await watch(client, { tenant: 'initech' });
    await upload(client, [{ tenant: 'a' }, { tenant: 'b' }]);
    await chat(client, [{ tenant: 'a' }, { tenant: 'b' }, { tenant: 'a' }]);
  } finally {
    await close();
  }
  const byWhere = new Map<string, Array<Record<string, string>>>();
  for (const [w, t] of seen) byWhere.set(w, [...(byWhere.get(w) ?? []), t]);
  const web = (method: string, extra: Record<string, string> = {}) => ({ caller: 'web', method, ...extra });
  assert.deepEqual(byWhere.get('work:acme'), [web('Work', { tenant: 'acme' })]);
  assert.deepEqual(byWhere.get('work-timer:acme'), [web('Work', { tenant: 'acme' })]);
  assert.deepEqual(byWhere.get('work:none'), [{}]);
  assert.deepEqual(byWhere.get('work-timer:none'), [{}]);
  assert.deepEqual(new Set(byWhere.get('watch-timer')!.map((t) => JSON.stringify(t))), new Set([JSON.stringify(web('Watch', { tenant: 'initech' }))]));
  assert.deepEqual(byWhere.get('upload-start'), [web('Upload')]);
  assert.deepEqual(byWhere.get('upload-data'), [web('Upload', { tenant: 'a' }), web('Upload', { tenant: 'b' })]);
  assert.deepEqual(byWhere.get('upload-end'), [web('Upload')]);
  assert.deepEqual(byWhere.get('chat-start'), [web('Chat')]);
  assert.deepEqual(byWhere.get('chat-data:a'), [web('Chat', { tenant: 'a' }), web('Chat', { tenant: 'a' })]);
  assert.deepEqual(byWhere.get('chat-data:b'), [web('Chat', { tenant: 'b' })]);
  assert.deepEqual(byWhere.get('chat-reply:b'), [web('Chat', { tenant: 'b' })]);
  assert.deepEqual(byWhere.get('chat-end'), [web('Chat')]);
});

test('grpc: a throwing tagging function leaves the call served and logged; an undecodable request gets INTERNAL', async () => {
  const p = await stoppedProfiler();
  const log = captureLogger();
  const seen: Array<Record<string, string>> = [];
  const impl: grpc.UntypedServiceImplementation = {
    work(_call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
      seen.push({ ...currentTagsObject() });
      cb(null, { n: 7 });
    },
  };
  decodeRequest = (b) => {
    const m = JSON.parse(b.toString('utf8')) as Msg;
    if (m.fail) throw new Error('cannot decode');
    return m;
  };
  const { client, close } = await serve(impl, withProfiler(p), withLogger(log), withProfilerTransInfoTagging(methodAndCaller),
    withProfilerMessageTagging((m) => {
      if ((m as Msg).tenant === 'boom') throw new Error('message boom');
      return tenantTag(m);
    }));
  try {
    assert.deepEqual(await unary(client, { tenant: 'boom' }), { n: 7 });
    await assert.rejects(unary(client, { fail: true }), (err: grpc.ServiceError) => err.code === grpc.status.INTERNAL);
    assert.deepEqual(await unary(client, { tenant: 'ok' }), { n: 7 });
  } finally {
    decodeRequest = (b) => JSON.parse(b.toString('utf8'));
    await close();
  }
  assert.deepEqual(seen, [{ caller: 'web', method: 'Work' }, { caller: 'web', method: 'Work', tenant: 'ok' }]);
  assert.deepEqual(log.records.map((r) => r.obj.kind), ['message-tagging', 'grpc-decode']);
});
