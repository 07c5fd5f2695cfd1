// The overhead benchmark's service: a small JSON order API of the usual shape.
// Each request reads a JSON body, then awaits four times (an async auth check,
// a "database" read on the next event-loop turn, two parallel lookups on the
// next turn, a cache write on a microtask), prices 20 items and answers JSON.
// The count of async callbacks per request is measured (bench prints it), so
// the profiler's added CPU can be divided per async boundary.
import { createHash } from 'node:crypto';

const CATALOG = new Map(Array.from({ length: 500 }, (_, i) => [`sku-${i}`, {
  sku: `sku-${i}`,
  name: `Product ${i}`,
  priceCents: 199 + ((i * 7919) % 9000),
  weightGrams: 50 + ((i * 131) % 2000),
  tags: [`cat-${i % 12}`, `brand-${i % 37}`],
}]));

/** A request body: an order of 20 lines. */
export function orderBody(seed = 1) {
  const items = Array.from({ length: 20 }, (_, i) => ({ sku: `sku-${(seed * 31 + i * 17) % 500}`, qty: 1 + ((seed + i) % 4) }));
  return JSON.stringify({ customer: `c-${seed}`, currency: 'EUR', coupon: 'SPRING', items });
}

const nextTurn = (value) => new Promise((resolve) => setImmediate(resolve, value));
const cache = new Map();

async function authenticate(token) {
  // A token check with real work (a hash), resolved at once: one promise hop.
  const digest = createHash('sha256').update(token).digest('hex');
  return { user: digest.slice(0, 12), scopes: ['orders:write'] };
}

function price(order, products, discount, shipping) {
  const lines = [];
  let subtotal = 0;
  let weight = 0;
  for (let i = 0; i < order.items.length; i++) {
    const item = order.items[i];
    const p = products[i];
    if (p === undefined) throw new Error(`unknown sku ${item.sku}`);
    // Some arithmetic per line: tiered price, tax, rounding.
    let unit = p.priceCents;
    for (let tier = 1; tier <= item.qty; tier++) unit = Math.round(unit * (tier > 2 ? 0.98 : 1));
    const net = unit * item.qty;
    const tax = Math.round(net * 0.19);
    subtotal += net + tax;
    weight += p.weightGrams * item.qty;
    lines.push({ sku: p.sku, name: p.name, qty: item.qty, unitCents: unit, netCents: net, taxCents: tax, tags: p.tags });
  }
  const discountCents = Math.round(subtotal * discount);
  return { lines, subtotalCents: subtotal, discountCents, shippingCents: shipping + Math.ceil(weight / 1000) * 50, totalCents: subtotal - discountCents + shipping };
}

/** Handles one request; `done(status)` is told when the response ended (optional). */
export async function handle(req, res) {
  let body = '';
  req.setEncoding('utf8');
  for await (const chunk of req) body += chunk;
  const order = JSON.parse(body);
  const auth = await authenticate(String(req.headers.authorization ?? 'anonymous'));
  const products = await nextTurn(order.items.map((it) => CATALOG.get(it.sku)));
  const [discount, shipping] = await Promise.all([nextTurn(order.coupon ? 0.05 : 0), nextTurn(499)]);
  const receipt = { id: `${auth.user}-${order.customer}`, customer: order.customer, currency: order.currency, ...price(order, products, discount, shipping) };
  await Promise.resolve().then(() => cache.set(order.customer, receipt.totalCents));
  const out = JSON.stringify(receipt);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
  res.end(out);
}
