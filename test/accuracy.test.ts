import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newProfiler, tag } from '../src/index.js';
import { GroundTruth, Recorder, burn, compareShares, sleep, timed } from './helpers/cpu.js';
import { enginesHere } from './helpers/engines.js';

for (const engine of enginesHere()) {
  test(`[${engine}] three tenants of different CPU cost get shares that match the timed truth within the sampling bound`, async () => {
    const rec = new Recorder();
    const truth = new GroundTruth();
    const profiler = newProfiler(rec.processor, 0, 1000, { samplingIntervalMicros: 1000, engine });
    const running = profiler.run();
    const costs: Record<string, number> = { acme: 6, globex: 3, initech: 1 };
    let stop = false;
    const worker = async (tenant: string) => {
      while (!stop) {
        await tag({ tenant }, async () => {
          truth.add(`tenant=${tenant}`, timed(() => burn(costs[tenant]! / 2)));
          await sleep(1);
          truth.add(`tenant=${tenant}`, timed(() => burn(costs[tenant]! / 2)));
        });
      }
    };
    const workers = Object.keys(costs).map(worker);
    await sleep(3500);
    stop = true;
    await Promise.all(workers);
    await profiler.stop();
    await running;
    const keys = Object.keys(costs).map((t) => `tenant=${t}`);
    const { shares, samples } = rec.sharesAmong(keys);
    const cmp = compareShares(truth.shares(), shares, samples, 0.02);
    console.log(cmp.report);
    assert.ok(cmp.ok, cmp.report);
    // Percent is over all CPU, untagged included, and sums to 1 in every window.
    for (const w of rec.windows) {
      const sum = w.profiles.reduce((s, p) => s + p.percent, 0);
      assert.ok(Math.abs(sum - 1) < 1e-9, `percents sum to ${sum}`);
    }
  });
}
