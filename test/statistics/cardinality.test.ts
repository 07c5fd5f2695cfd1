import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { OVERFLOW_KEY, newProfiler, tag } from '../../src/index.js';
import { shareMargin } from '../../src/share-interval.js';
import { Recorder, burn, sleep, timed } from '../helpers/cpu.js';
import { enginesHere } from '../helpers/engines.js';

const QUIET = { info() {}, warn() {}, error() {} };

/** A few µs of work without reading the clock (a thread CPU clock can tick in ms). */
function spin(n: number): number {
  let x = 0;
  for (let i = 0; i < n; i++) x = (x * 31 + i) % 1_000_003;
  return x;
}

for (const engine of enginesHere()) {
  describe(`the maxTagSets cap on the ${engine} path`, () => {
    test('100k distinct user ids first, then one heavy route: the heavy route keeps its own row, its CPU within the sampling bound', async (t) => {
      const rec = new Recorder();
      const profiler = newProfiler(rec.processor, 0, 600_000, { samplingIntervalMicros: 1000, engine, maxTagSets: 100, logger: QUIET });
      void profiler.run();
      // The flood: one request per user id, each a little CPU after an await.
      for (let batch = 0; batch < 100; batch++) {
        const all: Array<Promise<void>> = [];
        for (let i = 0; i < 1000; i++) {
          const user = String(batch * 1000 + i);
          all.push(tag({ user }, async () => {
            await null;
            spin(2000);
          }));
        }
        await Promise.all(all);
      }
      // Then the heavy route, request after request.
      let truthMs = 0;
      for (let i = 0; i < 40; i++) {
        await tag({ route: '/report' }, async () => {
          await null;
          truthMs += timed(() => burn(5));
        });
        await sleep(1);
      }
      await profiler.stop();
      const { profiles, window } = rec.windows[0]!;
      const heavy = profiles.find((p) => p.key === 'route=/report');
      const overflow = profiles.find((p) => p.key === OVERFLOW_KEY);
      assert.ok(heavy !== undefined, `route=/report has no row of its own; ${window.overflowTagSets} tag sets folded into overflow (${((overflow?.value ?? 0) / 1e6).toFixed(1)} ms)`);
      const heavyMs = heavy.value / 1e6;
      // The 95% sampling bound of the route's share of the window's CPU, in ms, plus one
      // request's 5 ms (on the CPED path the first request of a tag set seen after the
      // holder budget is spent goes to overflow: see docs/statistics.md).
      const totalMs = window.totalCpu / 1e6;
      const tol = shareMargin(truthMs / totalMs, window.busySamples) * totalMs + 5;
      assert.ok(Math.abs(heavyMs - truthMs) <= tol,
        `route=/report: ${heavyMs.toFixed(1)} ms reported, ${truthMs.toFixed(1)} ms burnt, tolerance ${tol.toFixed(1)} ms (overflow ${((overflow?.value ?? 0) / 1e6).toFixed(1)} ms)`);
      t.diagnostic(`${engine}: route=/report ${heavyMs.toFixed(1)} ms reported of ${truthMs.toFixed(1)} ms burnt (${(100 * (heavyMs - truthMs) / truthMs).toFixed(1)}%, ` +
        `tolerance ±${tol.toFixed(1)} ms); ${window.overflowTagSets} tag sets folded, overflow ${((overflow?.value ?? 0) / 1e6).toFixed(1)} ms of ${(window.totalCpu / 1e6).toFixed(1)} ms`);
      assert.ok(profiles.filter((p) => p.key !== '' && p.key !== OVERFLOW_KEY).length <= 100);
      assert.ok(window.overflowTagSets > 0);
    });
  });
}
