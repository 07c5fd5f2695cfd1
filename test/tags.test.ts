import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { boundAdded, createTagSet, keyOf, mergeTags, parseKey, parseTags, TAG_LIMITS, TagSet } from '../src/tags.js';
import { ErrorCodes } from '../src/errors.js';

describe('tag keys', () => {
  test('a key is k=v pairs sorted by key and joined by |', () => {
    assert.equal(createTagSet({ b: '2', a: '1' }).key, 'a=1|b=2');
    assert.equal(createTagSet(['b', '2', 'a', '1']).key, 'a=1|b=2');
  });

  test('tags are flat [k1, v1, k2, v2], one entry per key, sorted by key', () => {
    assert.deepEqual(createTagSet(['z', '1', 'a', '2', 'z', '3']).pairs, ['a', '2', 'z', '3']);
  });

  test('the Kitex collision {a: "b|c=d"} vs {a: "b", c: "d"} gives two different keys', () => {
    const one = createTagSet({ a: 'b|c=d' }).key;
    const two = createTagSet({ a: 'b', c: 'd' }).key;
    assert.notEqual(one, two);
    assert.equal(one, 'a=b\\|c\\=d');
    assert.equal(two, 'a=b|c=d');
  });

  test('backslashes are escaped too, so escaping cannot be forged', () => {
    assert.notEqual(createTagSet({ a: 'x\\' , b: 'y' }).key, createTagSet({ a: 'x\\|b=y' }).key);
  });

  test('an empty value is a real value, distinct from the untagged key ""', () => {
    assert.equal(createTagSet({ a: '' }).key, 'a=');
  });

  test('parseKey turns a key back into its tags', () => {
    assert.deepEqual(parseKey('a=b\\|c\\=d|e='), ['a', 'b|c=d', 'e', '']);
    assert.deepEqual(parseKey(''), []);
  });
});

describe('tag input', () => {
  test('numbers, booleans and bigints become strings', () => {
    assert.deepEqual(createTagSet({ n: 42, b: true, big: 10n }).pairs, ['b', 'true', 'big', '10', 'n', '42']);
  });

  test('an odd-length array is a TypeError naming the key without a value', () => {
    assert.throws(() => parseTags(['a', '1', 'b']), (e: any) =>
      e instanceof TypeError && (e as { code?: string }).code === ErrorCodes.INVALID_TAGS && /odd-length/.test(e.message) && /"b"/.test(e.message));
  });

  test('a non-string key is a TypeError naming its index', () => {
    assert.throws(() => parseTags([1, 'a']), (e: any) => e instanceof TypeError && /index 0/.test(e.message));
  });

  test('an empty key is a TypeError', () => {
    assert.throws(() => parseTags(['', 'a']), /empty/);
    assert.throws(() => parseTags({ '': 'a' }), /empty/);
  });

  test('objects, symbols and functions as values are TypeErrors naming the tag, with code REQPROF_ERR_INVALID_TAGS', () => {
    for (const bad of [{}, [], Symbol('x'), () => 1]) {
      assert.throws(() => parseTags({ route: bad as never }),
        (e: any) => e instanceof TypeError && (e as any).code === ErrorCodes.INVALID_TAGS && /"route"/.test(e.message));
    }
  });

  test('a tag whose value is undefined or null is left out (a missing header): the other tags stay', () => {
    const header: string | undefined = undefined;
    assert.equal(createTagSet({ route: '/a', tenant: header }).key, 'route=/a');
    assert.equal(createTagSet({ route: '/a', tenant: null }).key, 'route=/a');
    assert.equal(createTagSet(['route', '/a', 'tenant', undefined, 'caller', null]).key, 'route=/a');
    assert.equal(createTagSet({ tenant: undefined }).key, '');
    // Left out, not removing: an inherited value stays.
    assert.equal(mergeTags(createTagSet({ tenant: 'acme' }), { tenant: undefined, route: '/b' }).key, 'route=/b|tenant=acme');
  });

  test('tags that are neither an array nor an object are a TypeError', () => {
    assert.throws(() => parseTags('route=/x'), TypeError);
    assert.throws(() => parseTags(null), TypeError);
  });

  test('__proto__ and constructor are ordinary tag keys and pollute nothing', () => {
    const t = createTagSet(JSON.parse('{"__proto__": "x", "constructor": "y"}'));
    assert.equal(t.get('__proto__'), 'x');
    assert.equal(t.get('constructor'), 'y');
    assert.equal(({} as any).x, undefined);
    const obj = t.toObject();
    assert.equal(Object.getPrototypeOf(obj), null);
    assert.equal(obj['__proto__'], 'x');
  });
});

describe('bounds', () => {
  test('a huge value is cut to maxValueLength and ends in …, so one careless tag cannot bloat every key', () => {
    const t = createTagSet({ body: 'x'.repeat(1_000_000) });
    assert.equal(t.get('body')!.length, TAG_LIMITS.maxValueLength);
    assert.ok(t.get('body')!.endsWith('…'));
  });

  test('a huge key is cut to maxKeyLength', () => {
    const t = createTagSet({ ['k'.repeat(10_000)]: 'v' });
    assert.equal(t.pairs[0]!.length, TAG_LIMITS.maxKeyLength);
  });

  test('thousands of tags in one set are a TypeError, and so is a merge past the limit', () => {
    const many = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, 'v']));
    assert.throws(() => createTagSet(many), (e: any) => e instanceof TypeError && /at most 64 tags/.test(e.message));
    const half = (from: number) => Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${from + i}`, 'v']));
    assert.throws(() => mergeTags(createTagSet(half(0)), half(100)), /at most 64 tags/);
  });
});

describe('merging (nested tag calls)', () => {
  test('inner tags are appended to the outer ones; on a duplicate key the later value wins', () => {
    const outer = createTagSet({ route: '/a', tenant: 'acme' });
    const inner = mergeTags(outer, ['tenant', 'globex', 'type', 'read']);
    assert.equal(inner.key, 'route=/a|tenant=globex|type=read');
    assert.equal(outer.key, 'route=/a|tenant=acme', 'the outer set is immutable');
  });
});

describe('properties', () => {
  const tagObj = fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 5 });

  test('two different tag sets never share a key; equal sets always do', () => {
    fc.assert(fc.property(tagObj, tagObj, (a, b) => {
      const ka = createTagSet(a).key;
      const kb = createTagSet(b).key;
      const same = JSON.stringify(createTagSet(a).pairs) === JSON.stringify(createTagSet(b).pairs);
      return same === (ka === kb);
    }), { numRuns: 2000 });
  });

  test('escaping round-trips: parseKey(key) gives back the tags', () => {
    fc.assert(fc.property(tagObj, (a) => {
      const t = createTagSet(a);
      assert.deepEqual(parseKey(t.key), [...t.pairs]);
      assert.equal(keyOf(parseKey(t.key)), t.key);
    }), { numRuns: 2000 });
  });

  test('keys are unique per tag set and sorted', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.string({ minLength: 1, maxLength: 4 }), fc.string({ maxLength: 4 })), { maxLength: 10 }), (entries) => {
      const t = createTagSet(entries.flat());
      const keys = t.pairs.filter((_, i) => i % 2 === 0);
      assert.equal(new Set(keys).size, keys.length);
      assert.deepEqual([...keys].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)), keys);
      // later wins
      for (const [k, v] of entries) {
        const last = [...entries].reverse().find(([kk]) => kk === k)!;
        assert.equal(t.get(k), last[1], `key ${k} value ${v}`);
      }
    }), { numRuns: 1000 });
  });
});

describe('the bound on merged tags (integrations)', () => {
  test('boundAdded keeps keys already in the base and new keys up to 64, and names the ones dropped', () => {
    const base = createTagSet(Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`b${i}`, 'v']))).pairs;
    const added = ['b0', 'new', 'x1', '1', 'x2', '2', 'x3', '3', 'x4', '4', 'x5', '5', 'b1', 'changed'];
    const { pairs, dropped } = boundAdded(base, added);
    assert.deepEqual(dropped, ['x5']);
    assert.deepEqual(pairs, ['b0', 'new', 'x1', '1', 'x2', '2', 'x3', '3', 'x4', '4', 'b1', 'changed']);
    assert.equal(mergeTags(new TagSet(base), pairs).size, TAG_LIMITS.maxKeys);
  });

  test('parseTags with an invalid-value handler drops only the bad key', () => {
    const bad: string[] = [];
    assert.deepEqual(parseTags({ route: '/a', body: { x: 1 }, tenant: undefined }, (k) => bad.push(k)), ['route', '/a']);
    assert.deepEqual(bad, ['body']);
  });
});
