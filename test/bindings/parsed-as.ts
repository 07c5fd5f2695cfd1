/**
 * Whose tags an undici response is parsed under, response by response.
 */
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { lookup, newProfiler, tag } from '../../src/index.js';

/**
 * 300 GETs by tenants a, b, c, 12 at a time, with `get` (an undici-based
 * client) over one origin's keep-alive connections: for each response, whose
 * tags were current while undici parsed its head (the
 * `undici:request:headers` channel, published from the parser). Returns the
 * responses parsed as another request, or untagged.
 */
export async function responsesParsedAsAnother(engine: 'cped' | 'async-hooks', get: (url: string) => Promise<unknown>): Promise<Array<{ path: string; tenant: unknown }>> {
  const server = http.createServer((req, res) => res.end(JSON.stringify({ path: req.url, pad: 'x'.repeat(2000) })));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const seen: Array<{ path: string; tenant: unknown }> = [];
  const onHeaders = (m: unknown) => {
    const { request } = m as { request: { origin?: unknown; path: string } };
    if (String(request.origin).startsWith(origin)) seen.push({ path: request.path, tenant: lookup('tenant') });
  };
  diagnosticsChannel.subscribe('undici:request:headers', onHeaders);
  const profiler = newProfiler(() => {}, 0, 60_000, { engine });
  const running = profiler.run();
  try {
    let next = 0;
    await Promise.all(Array.from({ length: 12 }, async () => {
      while (next < 300) {
        const tenant = ['a', 'b', 'c'][next++ % 3]!;
        await tag({ tenant }, () => get(`${origin}/${tenant}`));
      }
    }));
  } finally {
    diagnosticsChannel.unsubscribe('undici:request:headers', onHeaders);
    await profiler.stop();
    await running;
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
  assert.equal(seen.length, 300);
  return seen.filter((s) => s.path !== `/${String(s.tenant)}`);
}

