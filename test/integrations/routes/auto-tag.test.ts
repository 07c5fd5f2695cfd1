/**
 * Request auto-tagging (what reqprof/register installs), in process: what a
 * handler of a plain node:http server sees with lookup(), and what is left alone.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { currentTagsObject } from '../../../src/context.js';
import { autoTagRequests, ignoreServer, requestTagsOf, type AutoTagger } from '../../../src/integrations/routes/auto-tag.js';
import { MemoryLogger } from '../../helpers/logger.js';

async function serveOnce(server: http.Server, path: string, headers: Record<string, string | string[]> = {}, body?: string): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const port = (server.address() as AddressInfo).port;
    return await new Promise((resolve, reject) => {
      const req = http.request({ port, host: '127.0.0.1', path, method: body === undefined ? 'GET' : 'POST', headers }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      req.end(body);
    });
  } finally {
    server.close();
  }
}

describe('request auto-tagging', () => {
  let tagger: AutoTagger;
  before(() => {
    tagger = autoTagRequests({ headerTags: [{ header: 'x-tenant', tag: 'tenant' }, { header: 'x-caller', tag: 'caller' }], logger: new MemoryLogger() });
  });
  after(() => tagger.stop());

  it('a plain node:http handler runs with method and header tags (a repeated header as Node joins it), no route', async () => {
    const server = http.createServer((_req, res) => res.end(JSON.stringify(currentTagsObject())));
    const seen = JSON.parse(await serveOnce(server, '/users/42?x=1', { 'x-tenant': 'acme', 'x-caller': ['web', 'cli'] }));
    assert.deepEqual(seen, { caller: 'web, cli', method: 'GET', tenant: 'acme' });
  });

  it('a missing header is no tag; the body is read with the request\'s tags', async () => {
    const server = http.createServer((req, res) => {
      let tagsAtEnd: unknown;
      req.on('data', () => {});
      req.on('end', () => {
        tagsAtEnd = currentTagsObject();
        res.end(JSON.stringify(tagsAtEnd));
      });
    });
    const seen = JSON.parse(await serveOnce(server, '/orders', {}, '{"a":1}'));
    assert.deepEqual(seen, { method: 'POST' });
  });

  it('requests to an ignored server (reqprof\'s own endpoints) are not tagged', async () => {
    const server = http.createServer((req, res) => res.end(JSON.stringify({ tags: currentTagsObject(), late: requestTagsOf(req) !== undefined })));
    ignoreServer(server);
    const seen = JSON.parse(await serveOnce(server, '/metrics', { 'x-tenant': 'acme' }));
    assert.deepEqual(seen, { tags: {}, late: false });
  });

  it('one auto-tagger per process', () => {
    assert.throws(() => autoTagRequests({ logger: new MemoryLogger() }), /already running/);
  });
});
