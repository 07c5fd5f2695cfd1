import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

/** The framework packages (all CommonJS) a fresh process has loaded after importing `entry`. */
function frameworksLoadedBy(entry: string): string[] {
  const script = `
    import(${JSON.stringify(entry)}).then(() => {
      const names = new Set();
      for (const k of Object.keys(require.cache)) {
        const m = /node_modules\\/((@[^/]+\\/)?[^/]+)\\//.exec(k);
        if (m && /^(express|fastify|koa|@koa\\/bodyparser|@grpc\\/grpc-js)$/.test(m[1])) names.add(m[1]);
      }
      console.log(JSON.stringify([...names].sort()));
    });`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

test('importing reqprof loads no framework; each integration entry loads at most its own framework', () => {
  assert.deepEqual(frameworksLoadedBy('./src/index.ts'), []);
  for (const entry of ['http', 'express', 'fastify', 'koa']) {
    assert.deepEqual(frameworksLoadedBy(`./src/integrations/${entry}.ts`), [], entry);
  }
  assert.deepEqual(frameworksLoadedBy('./src/integrations/grpc.ts'), ['@grpc/grpc-js']);
});
