import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FOLDED_TAG_SET, tagStorage } from '../../src/context.js';
import { lookup, newProfiler, tag } from '../../src/index.js';
import { cpedAvailable } from '../helpers/engines.js';

const QUIET = { info() {}, warn() {}, error() {} };

/** Whether the current context's store is the shared holder of folded tag sets (CPU to reqprof_overflow=true). */
function folded(): boolean {
  const s = tagStorage.getStore() as { 0?: unknown } | undefined;
  return s !== undefined && s[0] === FOLDED_TAG_SET;
}

test('CPED holder budget: past maxTagSets new tag sets, a tag set gets its own holder from its second tag() in the window; one seen once stays folded', { skip: cpedAvailable() ? false : 'needs AsyncContextFrame (run on Node 24+: ~/.cache/reqprof-ci/node-24/bin/node)' }, async () => {
  const profiler = newProfiler({ processors: [() => {}], windowMs: 600_000, maxTagSets: 3, engine: 'cped', logger: QUIET });
  void profiler.run();
  try {
    for (const user of ['1', '2', '3']) tag({ user }, () => assert.equal(folded(), false, `user ${user} within the first-come budget`));
    // The budget is spent: the first sighting is folded (its CPU goes to overflow), lookup still sees its tags.
    tag({ route: '/late' }, () => {
      assert.equal(folded(), true);
      assert.equal(lookup('route'), '/late');
    });
    tag({ user: 'once' }, () => assert.equal(folded(), true));
    // Seen again: its own holder, its CPU its own row.
    tag({ route: '/late' }, () => assert.equal(folded(), false));
    tag({ route: '/late' }, () => assert.equal(folded(), false));
    // The second budget holds maxTagSets more repeated tag sets, then everything new is folded.
    for (const r of ['a', 'b']) {
      tag({ r }, () => {});
      tag({ r }, () => assert.equal(folded(), false, `r=${r} repeated within the second budget`));
    }
    tag({ r: 'c' }, () => {});
    tag({ r: 'c' }, () => assert.equal(folded(), true, 'past both budgets'));
  } finally {
    await profiler.stop();
  }
});
