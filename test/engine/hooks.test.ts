// Issue 12 item 21: the hooks engine's holder across a restart (stop(true)).
// The native sample counter starts again from zero at each restart; a holder
// rewritten in place when the counter merely climbs back to its old value
// would re-tag samples already recorded with it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HooksEngine } from '../../src/engine/hooks.js';
import { sampleCountIndex } from '../../src/engine/native.js';
import { tag } from '../../src/context.js';
import type { SampledWindow } from '../../src/engine/types.js';
import { burn } from '../helpers/cpu.js';

interface Attempt {
  /** Whether the switch back to untagged happened exactly at the count the holder was made at. */
  hit: boolean;
  made: number;
  kept1: number;
  kept2: number;
}

const keptSamples = (w: SampledWindow) =>
  [...w.totals.values()].filter((t) => t.tags?.key === 'job=kept').reduce((s, t) => s + t.samples, 0);

function attempt(): Attempt {
  const engine = new HooksEngine(1000);
  engine.start(10_000);
  const state = (engine as unknown as { native: { state: ArrayLike<number> } }).native.state;
  const k = sampleCountIndex();
  try {
    // Let the counter reach a value worth climbing back to.
    while (state[k]! < 20) burn(1);
    let first: ReturnType<HooksEngine['stop']> | undefined;
    let made = 0;
    let before = -1;
    tag({ job: 'kept' }, () => {
      made = state[k]!; // the holder for job=kept was made at this count
      while (state[k]! < made + 10) burn(1); // window 1: samples under job=kept
      first = engine.stop(true);
      // Window 2: the counter restarts from zero; the same holder stays current
      // until the counter is back at the value the holder was made at.
      while (state[k]! < made) { /* spin */ }
      before = state[k]!;
    });
    // Leaving tag() switched back to untagged here.
    const after = state[k]!;
    const second = engine.stop(false);
    return { hit: before === made && after === made, made, kept1: keptSamples(first!.finish()), kept2: keptSamples(second.finish()) };
  } finally {
    engine.abort();
  }
}

describe('HooksEngine across a restart', () => {
  test('samples recorded under a tag set keep it when the sample counter climbs back to the value it had when their holder was made', () => {
    // The switch must land on the old count exactly; a sample arriving in between
    // (a descheduled thread) spoils an attempt, so a few are allowed.
    let a: Attempt | undefined;
    for (let i = 0; i < 10 && !a?.hit; i++) a = attempt();
    assert.ok(a!.hit, 'the switch happened at the old count in one of 10 attempts');
    assert.ok(a!.kept1 >= 5, `window 1: ${a!.kept1} samples still carry job=kept`);
    assert.ok(a!.kept2 >= a!.made / 2, `window 2: ${a!.kept2} of about ${a!.made} samples still carry job=kept`);
  });
});
