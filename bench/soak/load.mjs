// Soak load generator (a separate process): mixed traffic at a fixed
// concurrency over keep-alive connections, until told to stop. Reports how
// many requests it sent and how many failed (network error or non-2xx).
import http from 'node:http';

const port = Number(process.argv[2]);
const concurrency = Number(process.argv[3] ?? 8);
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
const routes = ['/orders', '/search', '/profile', '/report'];
let stopped = false;
let sent = 0;
let failed = 0;
const failures = new Map();
process.on('message', (m) => {
  if (m === 'stop') stopped = true;
});

function one(i) {
  return new Promise((resolve) => {
    const route = routes[i % routes.length];
    // Some bodies are large, so decoding costs real CPU on the transport tags.
    const items = i % 50 === 0 ? 2000 : 5 + (i % 20);
    const body = JSON.stringify({ type: ['read', 'write', 'admin'][i % 3], items: Array.from({ length: items }, (_, k) => ({ sku: `s${k}`, qty: k % 4 })) });
    const req = http.request({
      host: '127.0.0.1', port, agent, method: 'POST', path: `${route}?i=${i}`,
      headers: { 'content-type': 'application/json', 'x-tenant': `t${i % 7}`, 'x-user': `u${(i * 7919) % 100_000}`, 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode < 200 || res.statusCode >= 300) {
          failed++;
          failures.set(res.statusCode, (failures.get(res.statusCode) ?? 0) + 1);
        }
        resolve();
      });
    });
    req.on('error', (err) => {
      failed++;
      failures.set(err.code ?? err.message, (failures.get(err.code ?? err.message) ?? 0) + 1);
      resolve();
    });
    req.end(body);
  });
}

let next = 0;
async function worker() {
  while (!stopped) {
    sent++;
    await one(next++);
  }
}
const report = setInterval(() => process.send({ sent, failed }), 5000);
await Promise.all(Array.from({ length: concurrency }, worker));
clearInterval(report);
agent.destroy();
process.send({ sent, failed, failures: Object.fromEntries(failures), done: true });
process.disconnect();
