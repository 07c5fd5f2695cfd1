import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CardinalityLimiter, type OverflowEvent } from '../../src/metrics/cardinality.js';

const KEYS = ['route', 'user', 'tenant'];

test('whatever values arrive, each key shows at most maxValuesPerKey values plus the overflow value, and series stay bounded', () => {
  fc.assert(fc.property(
    fc.array(fc.tuple(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), fc.constantFrom('', 'a', 'b')), { maxLength: 300 }),
    fc.integer({ min: 1, max: 8 }),
    fc.integer({ min: 1, max: 20 }),
    (rows, maxValuesPerKey, maxSeries) => {
      const limiter = new CardinalityLimiter({ maxValuesPerKey, maxSeries, maxValueLength: 4, overflowValue: '__overflow__' });
      const perKey = KEYS.map(() => new Set<string>());
      const series = new Set<string>();
      for (const row of rows) {
        const out = limiter.limit(KEYS, row);
        // Same input, same output: a series never moves once placed.
        assert.deepEqual(limiter.limit(KEYS, row), out);
        out.forEach((v, i) => {
          assert.ok(v.length <= 4 || v === '__overflow__', `value cut to maxValueLength: ${v}`);
          assert.ok(row[i] === '' ? v === '' : v !== '', 'an empty value stays empty, a non-empty one stays non-empty');
          perKey[i]!.add(v);
        });
        series.add(JSON.stringify(out));
      }
      for (const s of perKey) assert.ok([...s].filter((v) => v !== '' && v !== '__overflow__').length <= maxValuesPerKey);
      // Admitted series, plus the combinations of '' and the overflow value.
      assert.ok(series.size <= maxSeries + 2 ** KEYS.length, `${series.size} series`);
    },
  ), { numRuns: 200 });
});

test('a user-id tag with 10,000 distinct values yields only the cap plus one overflow value, and reports the overflow', () => {
  const events: OverflowEvent[] = [];
  const limiter = new CardinalityLimiter({ maxValuesPerKey: 100, maxSeries: 1000, maxValueLength: 128, overflowValue: '__overflow__' }, (e) => events.push(e));
  const seen = new Set<string>();
  for (let i = 0; i < 10_000; i++) seen.add(limiter.limit(['user'], [`user-${i}`])[0]!);
  assert.equal(seen.size, 101);
  assert.ok(seen.has('__overflow__'));
  assert.equal(limiter.seriesCount, 100);
  assert.deepEqual(events[0], { kind: 'value', key: 'user', limit: 100 });
});
