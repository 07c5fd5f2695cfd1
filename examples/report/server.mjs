// Where the CPU goes: a node:http service profiled per route and tenant, with the
// hottest functions of each tag set printed every window, a labelled pprof file
// per window (profiles/) and a self-contained HTML report (reqprof-report.html).
//   npm run example:report      (builds, serves on a free port, loads itself for 12 s)
//   DURATION_MS=0 npm run example:report   runs until Ctrl-C; open the report and tick "Reload with each window"
import http from 'node:http';
import { newProfiler, tag } from 'reqprof';
import { htmlReportProcessor } from 'reqprof/html-report';
import { pprofProcessor } from 'reqprof/pprof';
import { PORT, WINDOW_MS, callJson, runUntilDone, startLoad } from '../shared/kit.mjs';

// ---- the service's real work: named functions, so that profiles can point at them

function formatMoney(cents) {
  const s = String(Math.abs(cents) % 100).padStart(2, '0');
  return `${cents < 0 ? '-' : ''}${Math.floor(Math.abs(cents) / 100).toLocaleString('en-US')}.${s}`;
}

function renderInvoiceLine(line, i) {
  return `<tr><td>${i + 1}</td><td>${line.sku.toUpperCase()}</td><td>${line.qty}</td><td>${formatMoney(line.price)}</td><td>${formatMoney(line.qty * line.price)}</td></tr>`;
}

function renderInvoice(tenant, lines) {
  const items = Array.from({ length: lines }, (_, i) => ({ sku: `${tenant}-sku-${i}`, qty: 1 + (i % 7), price: (i * 7919) % 100_000 }));
  let total = 0;
  const rows = items.map((l, i) => {
    total += l.qty * l.price;
    return renderInvoiceLine(l, i);
  });
  return `<table>${rows.join('')}</table><p>Total ${formatMoney(total)}</p>`;
}

const CATALOG = Array.from({ length: 20_000 }, (_, i) => ({ id: i, title: `product ${i} ${(i * 2654435761 % 4294967296).toString(36)}`, rank: i % 97 }));

function scoreProduct(p, words) {
  let score = p.rank;
  for (const w of words) if (p.title.includes(w)) score += 10;
  return score;
}

function searchCatalog(q) {
  const words = q.toLowerCase().split(/\s+/);
  return CATALOG.map((p) => ({ p, s: scoreProduct(p, words) })).sort((a, b) => b.s - a.s).slice(0, 10);
}

function listOrders(tenant) {
  const orders = Array.from({ length: 2_000 }, (_, i) => ({ id: `${tenant}-${i}`, status: i % 3 ? 'shipped' : 'open', total: (i * 131) % 10_000 }));
  return JSON.stringify(orders);
}

// ---- reqprof: per-tag totals with top functions, a pprof file and an HTML report per window

/** Prints each window: share per tag set and where its CPU goes. */
function printWhere(profiles, window) {
  console.log(`\n-- window of ${(window.durationMs / 1000).toFixed(1)} s, ${window.samples} samples`);
  for (const p of profiles) {
    const pairs = [];
    for (let i = 0; i < p.tags.length; i += 2) pairs.push(`${p.tags[i]}=${p.tags[i + 1]}`);
    const tags = p.key === '' ? '(untagged)' : pairs.join(' ');
    const top = (p.topFunctions ?? []).slice(0, 2).map((f) => `${f.name} ${(f.percent * 100).toFixed(0)}%`).join(', ');
    console.log(`  ${(p.percent * 100).toFixed(1).padStart(5)}%  ${tags.padEnd(36)} ${top}`);
  }
}

let announced = false;
const report = htmlReportProcessor({
  file: 'reqprof-report.html',
  title: 'reqprof example: where the CPU goes',
  onWrite: (file) => {
    if (!announced) console.log(`HTML report (rewritten every window): file://${file}`);
    announced = true;
  },
});
const pprofFiles = [];
const pprof = pprofProcessor({ dir: 'profiles', maxFiles: 20, onFile: (f) => pprofFiles.push(f) });

const profiler = newProfiler([printWhere, report, pprof], 0, WINDOW_MS, { samplingIntervalMicros: 1000, topFunctions: 3 });
void profiler.run();

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  const tenant = url.searchParams.get('tenant') ?? 'none';
  tag({ route: url.pathname, tenant }, async () => {
    let body;
    if (url.pathname === '/invoice') body = renderInvoice(tenant, tenant === 'acme' ? 3000 : 600);
    else if (url.pathname === '/search') body = JSON.stringify(searchCatalog(url.searchParams.get('q') ?? ''));
    else if (url.pathname === '/orders') body = listOrders(tenant);
    else return res.writeHead(404).end();
    res.writeHead(200).end(body);
  });
});

server.listen(PORT, '127.0.0.1', () => {
  const { port } = server.address();
  console.log(`reqprof report example on http://127.0.0.1:${port}`);
  let i = 0;
  const stopLoad = startLoad(async () => {
    i++;
    const tenant = ['acme', 'globex', 'initech'][i % 3];
    await callJson(port, `/invoice?tenant=${tenant}`);
    await callJson(port, `/search?tenant=${tenant}&q=product+${i % 50}`);
    if (i % 2) await callJson(port, `/orders?tenant=${tenant}`);
  });
  runUntilDone(async () => {
    await stopLoad();
    server.close();
    server.closeAllConnections();
    await profiler.stop();
    console.log(`\nHTML report: file://${report.file}`);
    if (pprofFiles.length > 0) {
      console.log(`pprof files in ${pprof.dir}; for example:\n  go tool pprof -tagfocus=tenant=acme -top ${pprofFiles.at(-1)}`);
    }
  });
});
