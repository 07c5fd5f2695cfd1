import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createNativeTimeProfiler } from '../../src/engine/native.js';
import { WindowSummer } from '../../src/engine/window-summer.js';
import { createTagSet, type TagSet } from '../../src/tags.js';
import { burn, timed } from '../helpers/cpu.js';

/** A real window from the native sampler: three tag sets taking turns, with idle gaps between bursts. */
async function recordWindow() {
  const native = createNativeTimeProfiler({ intervalMicros: 200, durationMillis: 5_000, useCPED: false });
  const sets = ['a', 'b', 'c'].map((r) => createTagSet({ route: r }));
  let burntMs = 0;
  native.start();
  try {
    for (let round = 0; round < 60; round++) {
      const tags = sets[round % 3]!;
      native.context = { ref: tags };
      burntMs += timed(() => burn(2));
      native.context = { ref: undefined };
      await new Promise((r) => setTimeout(r, 1));
    }
    return { raw: native.stop(false), burntMs };
  } finally {
    native.dispose();
  }
}

const resolve = (c: unknown): TagSet | undefined => (c as { ref?: TagSet } | undefined)?.ref;

function byKey(sum: WindowSummer): Map<string, { cpu: number; samples: number }> {
  const out = new Map<string, { cpu: number; samples: number }>();
  for (const t of sum.totals.values()) out.set(t.tags?.key ?? '(untagged)', { cpu: t.cpuNanos, samples: t.samples });
  return out;
}

test('a window summed in many short slices gives exactly the totals of one pass, idle tails included', async () => {
  const { raw, burntMs } = await recordWindow();
  const once = new WindowSummer(raw, resolve, true, true);
  assert.equal(once.step(Infinity), true);
  const sliced = new WindowSummer(raw, resolve, true, true);
  let slices = 1;
  // A deadline already past: every slice stops at its first look at the clock.
  while (!sliced.step(-Infinity)) slices++;
  assert.ok(once.samples > 300, `${once.samples} samples`);
  assert.ok(slices >= Math.floor(once.samples / 32), `${slices} slices for ${once.samples} samples`);
  assert.equal(sliced.samples, once.samples);
  assert.deepEqual(byKey(sliced), byKey(once));
  for (const [tags, t] of once.totals) {
    const other = sliced.totals.get(tags)!;
    assert.deepEqual([...(other.functions?.entries() ?? [])].sort(), [...(t.functions?.entries() ?? [])].sort());
  }
  assert.equal(sliced.idleTags!.size, once.idleTags!.size);
  // A sanity check that the contexts were read: the tagged bursts' CPU carries the routes. How exactly
  // is judged by the attribution tests (test/engine/, test/accuracy.test.ts); here the test runner's own
  // untagged work between bursts, on a loaded machine, takes a varying part of each burst's edges.
  const tagged = [...once.totals.values()].filter((t) => t.tags !== undefined).reduce((s, t) => s + t.cpuNanos, 0);
  assert.ok(tagged / 1e6 > 0.5 * burntMs, `${(tagged / 1e6).toFixed(1)} ms tagged of ${burntMs.toFixed(1)} ms burnt in tagged bursts`);
});
