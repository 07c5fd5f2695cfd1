// Load generator for the demo, run as a separate process so its CPU never
// shows up in the server's profile. Sends a fixed mix of routes and tenants
// over keep-alive connections until the parent stops it.
import http from 'node:http';

const [, , port, concurrencyArg] = process.argv;
const concurrency = Number(concurrencyArg ?? 6);
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });

// route weights and tenant weights: the traffic mix
const routes = [['/checkout', 2], ['/search', 5], ['/profile', 3]];
const tenants = [['acme', 5], ['globex', 3], ['initech', 2]];

function pick(weighted) {
  const total = weighted.reduce((s, [, w]) => s + w, 0);
  let r = Math.random() * total;
  for (const [v, w] of weighted) if ((r -= w) < 0) return v;
  return weighted[0][0];
}

let stopped = false;
process.on('message', (m) => { if (m === 'stop') stopped = true; });
process.on('disconnect', () => { stopped = true; });

function one() {
  return new Promise((resolve) => {
    const body = JSON.stringify({ items: Array.from({ length: 1 + Math.floor(Math.random() * 20) }, (_, i) => ({ sku: `sku-${i}`, qty: i % 3 + 1 })) });
    const req = http.request({
      host: '127.0.0.1', port, agent, method: 'POST', path: pick(routes),
      headers: { 'content-type': 'application/json', 'x-tenant': pick(tenants), 'content-length': Buffer.byteLength(body) },
    }, (res) => { res.resume(); res.on('end', resolve); });
    req.on('error', resolve);
    req.end(body);
  });
}

async function worker() {
  while (!stopped) await one();
}
await Promise.all(Array.from({ length: concurrency }, worker));
agent.destroy();
process.exit(0);
