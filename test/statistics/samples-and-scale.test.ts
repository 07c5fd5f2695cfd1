import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { newProfiler, tag } from '../../src/index.js';
import { Recorder, burn, sleep, timed } from '../helpers/cpu.js';
import { enginesHere } from '../helpers/engines.js';

const QUIET = { info() {}, warn() {}, error() {} };

for (const engine of enginesHere()) {
  describe(`samples and scale on the ${engine} path`, () => {
    test('on a lightly loaded service a tag set counts only the samples that ran its code, not the idle samples after it', async (t) => {
      const rec = new Recorder();
      // A window far longer than the test: only stop() ends it.
      const profiler = newProfiler(rec.processor, 0, 600_000, { samplingIntervalMicros: 1000, engine, logger: QUIET });
      void profiler.run();
      let truthMs = 0;
      for (let i = 0; i < 30; i++) {
        await tag({ route: '/light' }, async () => {
          truthMs += timed(() => burn(2));
          await sleep(25);
        });
      }
      await profiler.stop();
      const light = rec.totals().get('route=/light')!;
      const cpuMs = light.value / 1e6;
      t.diagnostic(`${engine}: route=/light ${light.samples} samples for ${cpuMs.toFixed(1)} ms of CPU (truth ${truthMs.toFixed(1)} ms); window ${rec.windows[0]!.window.samples} samples, ${rec.windows[0]!.window.busySamples} busy`);
      // About one sample per ms of CPU at 1 kHz; each request also left ~25 idle samples behind it.
      assert.ok(light.samples <= 1.5 * cpuMs + 10,
        `route=/light: ${light.samples} samples for ${cpuMs.toFixed(1)} ms of CPU (truth ${truthMs.toFixed(1)} ms) at one sample per ms`);
      const w = rec.windows[0]!.window;
      assert.equal(w.busySamples, rec.windows[0]!.profiles.reduce((s, p) => s + p.samples, 0));
      assert.ok(w.samples > w.busySamples, `${w.samples} samples in all, ${w.busySamples} busy`);
    });

    test('a window ended by stop() is not scaled for an interval gap that never follows', async (t) => {
      const rec = new Recorder();
      // interval = window: a full window would be scaled x2 to cover its gap.
      const profiler = newProfiler(rec.processor, 600_000, 600_000, { samplingIntervalMicros: 1000, engine, logger: QUIET });
      void profiler.run();
      let truthMs = 0;
      for (let i = 0; i < 10; i++) {
        tag({ route: '/heavy' }, () => { truthMs += timed(() => burn(15)); });
        await sleep(1);
      }
      await profiler.stop();
      const { profiles, window } = rec.windows[0]!;
      assert.equal(window.reason, 'stop');
      assert.equal(window.scale, 1);
      const heavyMs = profiles.find((p) => p.key === 'route=/heavy')!.value / 1e6;
      t.diagnostic(`${engine}: route=/heavy ${heavyMs.toFixed(1)} ms reported, ${truthMs.toFixed(1)} ms burnt, scale ${window.scale}`);
      // Scaled for the gap, it would read about twice the truth. (Not the sampling bound: on a
      // machine this loaded a starved sampler thread can bill a burst's tail to the next sample.)
      assert.ok(heavyMs > 0.5 * truthMs && heavyMs < 1.5 * truthMs, `route=/heavy: ${heavyMs.toFixed(1)} ms reported, ${truthMs.toFixed(1)} ms burnt`);
    });
  });
}
