// reqprof/grpc: a @grpc/grpc-js server whose CPU is reported per caller, method and tenant.
//   npm run example:grpc        (builds, serves on a free port, calls itself for 12 s)
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { newProfiler, withProfiler, withProfilerMessageTagging, withProfilerTransInfoTagging } from 'reqprof';
import { deferDecoding, reqprofInterceptor } from 'reqprof/grpc';
import { PORT, WINDOW_MS, burn, makeOrder, printCpuPerTag, runUntilDone, startLoad } from '../shared/kit.mjs';

const proto = protoLoader.loadSync(fileURLToPath(new URL('./orders.proto', import.meta.url)), { keepCase: true });
const { shop } = grpc.loadPackageDefinition(proto);
const profiler = newProfiler(printCpuPerTag, 0, WINDOW_MS, { samplingIntervalMicros: 1000 });

// Transport stage on the method path and metadata, before deserialization;
// message stage on the deserialized request.
const server = new grpc.Server({
  interceptors: [reqprofInterceptor(
    withProfiler(profiler),
    withProfilerTransInfoTagging((info) => ({ caller: info.headers['x-caller'] ?? 'unknown', method: info.path.split('/').pop() })),
    withProfilerMessageTagging((request) => (request?.tenant ? { tenant: request.tenant } : undefined)),
  )],
});
// deferDecoding: protobuf decoding runs inside the interceptor, billed to caller+method.
server.addService(deferDecoding(shop.Orders.service), {
  Place(call, callback) {
    burn(0.2 * call.request.items.length / 1000);
    callback(null, { items: call.request.items.length });
  },
  Watch(call) {
    let seq = 0;
    const timer = setInterval(() => {
      burn(1); // each update's work carries the call's tags
      call.write({ seq: ++seq });
      if (seq === call.request.updates) {
        clearInterval(timer);
        call.end();
      }
    }, 2);
  },
});

const port = await new Promise((resolve, reject) =>
  server.bindAsync(`127.0.0.1:${PORT}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
console.log(`reqprof/grpc example on 127.0.0.1:${port}`);

const client = new shop.Orders(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
const orders = { acme: makeOrder('acme', 20_000), globex: makeOrder('globex', 5_000) };
let i = 0;
const stopLoad = startLoad(async () => {
  i++;
  const md = new grpc.Metadata();
  md.set('x-caller', i % 3 ? 'web' : 'batch');
  await new Promise((resolve, reject) =>
    client.Place(i % 2 ? orders.acme : orders.globex, md, (err) => (err ? reject(err) : resolve())));
  await new Promise((resolve, reject) => {
    const call = client.Watch({ tenant: 'initech', updates: 3 }, md);
    call.on('data', () => {});
    call.on('end', resolve);
    call.on('error', reject);
  });
});

runUntilDone(async () => {
  await stopLoad();
  client.close();
  await new Promise((r) => server.tryShutdown(r));
  await profiler.stop();
});
