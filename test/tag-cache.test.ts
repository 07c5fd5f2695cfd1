import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deriveTags, derivePairs } from '../src/tag-cache.js';
import { createTagSet, mergeTags } from '../src/tags.js';

test('tagging a request with the same tags again gives the very same tag set, equal to a freshly merged one', () => {
  const a = deriveTags(undefined, { route: '/orders', tenant: 'acme' });
  const b = deriveTags(undefined, { route: '/orders', tenant: 'acme' });
  assert.equal(a, b);
  assert.equal(a.key, mergeTags(undefined, { route: '/orders', tenant: 'acme' }).key);
  assert.notEqual(deriveTags(undefined, { route: '/orders', tenant: 'globex' }), a);
  // Kitex-style arrays and numbers take the same way.
  assert.equal(deriveTags(undefined, ['status', 200]), deriveTags(undefined, ['status', 200]));
  assert.equal(deriveTags(undefined, ['status', 200]).get('status'), '200');
});

test('nested tags derive from their base: same base and input, same set; a repeated key keeps the later value', () => {
  const base = deriveTags(undefined, { caller: 'web' });
  const inner = deriveTags(base, { method: 'GET', caller: 'mobile' });
  assert.equal(deriveTags(base, { method: 'GET', caller: 'mobile' }), inner);
  assert.equal(inner.key, 'caller=mobile|method=GET');
  assert.equal(deriveTags(base, ['caller', 'x', 'caller', 'y']).get('caller'), 'y');
  assert.equal(deriveTags(base, ['caller', 'y', 'caller', 'x']).get('caller'), 'x');
  assert.equal(deriveTags(base, {}), base);
  assert.equal(derivePairs(base, ['method', 'GET', 'caller', 'mobile']).key, inner.key);
});

test('invalid tags still throw the same errors after valid ones were remembered', () => {
  deriveTags(undefined, { route: '/a' });
  assert.throws(() => deriveTags(undefined, { route: {} as never }), TypeError);
  assert.throws(() => deriveTags(undefined, ['route']), TypeError);
  assert.throws(() => deriveTags(undefined, { '': 'x' }), TypeError);
  // A value past the bound is cut, as createTagSet does.
  const long = 'x'.repeat(5000);
  assert.equal(deriveTags(undefined, { v: long }).key, createTagSet({ v: long }).key);
});

test('with more distinct tag values than the memo holds (a user id per request), every result stays right', () => {
  for (let i = 0; i < 40_000; i++) {
    const t = deriveTags(undefined, { route: '/u', user: `u${i}` });
    if (t.get('user') !== `u${i}`) assert.fail(`request ${i} got ${t.key}`);
  }
  assert.equal(deriveTags(undefined, { route: '/u', user: 'u7' }).key, 'route=/u|user=u7');
});

test('a tag left out for an undefined value gives the same tag set as never writing it, remembered or not', () => {
  const plain = deriveTags(undefined, { route: '/m' });
  assert.equal(deriveTags(undefined, { route: '/m', tenant: undefined }), plain);
  assert.equal(deriveTags(undefined, { route: '/m', tenant: undefined }), plain);
  assert.equal(deriveTags(undefined, ['route', '/m', 'tenant', null]), plain);
});
