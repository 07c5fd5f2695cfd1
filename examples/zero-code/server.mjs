// An ordinary Express service: nothing here knows about reqprof. Start it with
//
//   REQPROF_TAG_HEADERS=x-tenant:tenant REQPROF_WINDOW_MS=2000 \
//     node --import reqprof/register examples/zero-code/server.mjs
//
// (npm run example:zero-code). It sends itself traffic for a few seconds — two
// tenants, three routes of different cost, some 404s — then closes and exits;
// reqprof logs a window every 2 s and the partial one at exit, per method, route
// template and tenant.
import express from 'express';

function work(ms) {
  const end = performance.now() + ms;
  let x = 0;
  while (performance.now() < end) x = (x * 31 + 7) % 1_000_003;
  return x;
}

const app = express();
app.use(express.json());
const users = express.Router();
users.get('/:id', (req, res) => res.json({ id: req.params.id, score: work(3) }));
users.post('/:id/orders', (req, res) => res.status(201).json({ items: req.body.items?.length ?? 0, total: work(6) }));
app.use('/api/users', users);
app.get('/health', (_req, res) => res.send('ok'));

const server = app.listen(0, '127.0.0.1', async () => {
  const base = `http://127.0.0.1:${server.address().port}`;
  const until = Date.now() + Number(process.env.EXAMPLE_SECONDS ?? 5) * 1000;
  let i = 0;
  while (Date.now() < until) {
    const tenant = i % 3 === 0 ? 'globex' : 'acme';
    const headers = { 'x-tenant': tenant, 'content-type': 'application/json' };
    await Promise.all([
      fetch(`${base}/api/users/${i}`, { headers }),
      fetch(`${base}/api/users/${i}/orders`, { method: 'POST', headers, body: JSON.stringify({ items: [1, 2] }) }),
      fetch(`${base}/health`, { headers }),
      fetch(`${base}/no/such/page/${i}`, { headers }),
    ]);
    i++;
  }
  console.log(`example: sent ${i * 4} requests; closing`);
  server.close();
  server.closeAllConnections?.();
});
