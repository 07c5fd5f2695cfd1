/**
 * The zero-code piscina path: `instrumentPiscinaClass(Piscina)` (what
 * `reqprof/register` calls when piscina loads) makes every pool carry its
 * caller's tags, with the app's tasks and results unchanged.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Piscina } from 'piscina';
import { newProfiler, tag } from '../../dist/esm/index.js';
import type { TagsProfile, WindowInfo } from '../../dist/esm/index.js';
import { instrumentPiscina, instrumentPiscinaClass, profileWorkers, THREAD_TAG } from '../../dist/esm/workers/index.js';
import { calibrate, spin } from './fixtures/spin.mjs';
import { fixture } from './tenant-service.js';

const nsPerIteration: number = calibrate();

test('with the class instrumented, a pool made with no reqprof code bills its tasks to the caller\'s tags; tasks and results are unchanged', async () => {
  instrumentPiscinaClass(Piscina);
  instrumentPiscinaClass(Piscina); // idempotent
  const pool = new Piscina({ filename: fixture('piscina-task.mjs').href, minThreads: 2, maxThreads: 2, atomics: 'async' });
  await Promise.all([1, 2, 3, 4].map(() => pool.run({ iterations: 2000, nsPerIteration }))); // warm-up, unprofiled
  spin(2000);
  const windows: Array<{ profiles: TagsProfile[]; window: WindowInfo }> = [];
  const profiler = newProfiler((profiles, window) => void windows.push({ profiles, window }), 0, 120_000, { samplingIntervalMicros: 1000 });
  profileWorkers({ splitByThread: true });
  void profiler.run();
  const truth = new Map<string, number>();
  try {
    for (let i = 0; i < 24; i++) {
      const tenant = i % 3 === 0 ? 'y' : 'x';
      const r = await tag({ tenant }, () => pool.run({ iterations: 2000, nsPerIteration })) as { cpuNs: number };
      truth.set(tenant, (truth.get(tenant) ?? 0) + r.cpuNs);
    }
    // The app's handler sees its task as posted, and its result comes back as returned.
    const echoed = await tag({ tenant: 'x' }, () => pool.run({ hello: 'world', n: 1 }, { name: 'echo' }));
    assert.deepEqual(echoed, { hello: 'world', n: 1 });
    // Instrumenting the instance too wraps once.
    instrumentPiscina(pool);
    assert.deepEqual(await tag({ tenant: 'x' }, () => pool.run([1, 2, 3], { name: 'echo' })), [1, 2, 3]);
    // A movable task is transferred, as piscina does it.
    const buf = new ArrayBuffer(8);
    const back = await tag({ tenant: 'x' }, () => pool.run(Piscina.move(buf), { name: 'echo' })) as ArrayBuffer;
    assert.equal(back.byteLength, 8);
    assert.equal(buf.byteLength, 0, 'transferred, not copied');
  } finally {
    await profiler.stop();
    await pool.destroy();
  }
  for (const tenant of ['x', 'y']) {
    let v = 0;
    for (const p of windows[0]!.profiles) if (p.tags.includes(THREAD_TAG) && p.key.includes(`tenant=${tenant}`)) v += p.value;
    const r = v / truth.get(tenant)!;
    console.log(`${tenant}: measured ${(v / 1e6).toFixed(1)} ms for ${(truth.get(tenant)! / 1e6).toFixed(1)} ms`);
    assert.ok(r > 0.85 && r < 1.3, `${tenant}: measured ${(v / 1e6).toFixed(1)} ms for ${(truth.get(tenant)! / 1e6).toFixed(1)} ms`);
  }
});

test('instrumentPiscinaClass rejects what is not the Piscina class', () => {
  assert.throws(() => instrumentPiscinaClass({}), (e: Error & { code?: string }) => e instanceof TypeError && e.code === 'REQPROF_ERR_INVALID_OPTION');
});
