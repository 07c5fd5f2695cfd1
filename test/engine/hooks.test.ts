// Issue 12 item 21: the hooks engine's holder across a restart (stop(true)).
// The native sample counter starts again from zero at each restart; a holder
// rewritten in place when the counter merely climbs back to its old value
// would re-tag samples already recorded with it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HooksEngine } from '../../src/engine/hooks.js';
import { sampleCountIndex } from '../../src/engine/native.js';
import { tag } from '../../src/context.js';
import { burn } from '../helpers/cpu.js';

describe('HooksEngine across a restart', () => {
  test('samples recorded under a tag set keep it when the sample counter climbs back to the value it had when their holder was made', () => {
    const engine = new HooksEngine(1000);
    engine.start(10_000);
    const state = (engine as unknown as { native: { state: Uint32Array | number[] } }).native.state;
    const k = sampleCountIndex();
    try {
      // Let the counter reach a value worth climbing back to.
      while (state[k]! < 20) burn(1);
      let first: ReturnType<HooksEngine['stop']> | undefined;
      let made = 0;
      let countBefore = -1;
      let countAfterReturn = -1;
      tag({ job: 'kept' }, () => {
        made = state[k]!; // the holder for job=kept was made at this count
        while (state[k]! < made + 10) burn(1); // window 1: samples under job=kept
        first = engine.stop(true);
        // Window 2: the counter restarts from zero; burn under the same holder
        // until it is back at the value the holder was made at.
        while (state[k]! < made) { /* spin */ }
        countBefore = state[k]!;
      });
      // tag() returning switched back to untagged here, with the counter at `made`.
      countAfterReturn = state[k]!;
      const second = engine.stop(false);
      const w1 = first!.finish();
      const w2 = second.finish();
      const kept = (w: typeof w1) => [...w.totals.values()].filter((t) => t.tags?.key === 'job=kept').reduce((s, t) => s + t.samples, 0);
      assert.ok(countBefore === made && countAfterReturn === made, `the switch happened at the old count (made ${made}, before ${countBefore}, after ${countAfterReturn}); rerun if not`);
      assert.ok(kept(w1) >= 5, `window 1: ${kept(w1)} samples still carry job=kept`);
      assert.ok(kept(w2) >= made / 2, `window 2: ${kept(w2)} of about ${made} samples still carry job=kept`);
    } finally {
      engine.abort();
    }
  });
});
