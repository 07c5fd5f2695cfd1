/**
 * The late-bound route: what the window sum reads for a request's samples,
 * taken before and after its route was known, and for tags the app adds.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { currentTagsObject, runWithTags, tag } from '../../src/context.js';
import { asTagSet } from '../../src/engine/sampler.js';
import { LateRouteTags, UNMATCHED_ROUTE } from '../../src/routes/late-route.js';
import { createTagSet } from '../../src/tags.js';
import { deriveTags } from '../../src/tag-cache.js';

const obj = (s: { toObject(): Record<string, string> } | undefined) => ({ ...s!.toObject() });
const base = () => deriveTags(undefined, ['method', 'GET', 'tenant', 'acme']);

describe('LateRouteTags', () => {
  it('before the route is known, a sample stands for the tags without route; after, for the shared final tag set (earlier samples too)', () => {
    const t = new LateRouteTags(base());
    assert.deepEqual(obj(asTagSet(t)), { method: 'GET', tenant: 'acme' });
    const final = t.settle('/users/:id');
    assert.equal(asTagSet(t), final, 'the sampler context resolves to the final set');
    assert.deepEqual(obj(final), { method: 'GET', route: '/users/:id', tenant: 'acme' });
    const other = new LateRouteTags(base());
    assert.equal(other.settle('/users/:id'), final, 'requests of one route and tenant share one tag set');
    assert.equal(new LateRouteTags(base()).settle(UNMATCHED_ROUTE).get('route'), '(unmatched)');
  });

  it('tags the app adds inside the request follow the request\'s route, settled later', () => {
    const request = new LateRouteTags(base());
    runWithTags(request, () => {
      tag({ user: 'u1' }, () => {
        assert.deepEqual({ ...currentTagsObject() }, { method: 'GET', tenant: 'acme', user: 'u1' }, 'lookup() sees the tags without route');
      });
    });
    const derived = request.derive({ user: 'u1' });
    assert.deepEqual(obj(asTagSet(derived)), { method: 'GET', tenant: 'acme', user: 'u1' });
    request.settle('/orders');
    assert.deepEqual(obj(asTagSet(derived)), { method: 'GET', route: '/orders', tenant: 'acme', user: 'u1' });
  });

  it('a route the app sets itself wins over the framework\'s template', () => {
    const request = new LateRouteTags(base());
    const own = request.derive({ route: 'checkout' });
    request.settle('/api/checkout/:step');
    assert.equal(asTagSet(own)!.get('route'), 'checkout');
  });

  it('plain tag sets are what they are', () => {
    const s = createTagSet({ a: 1 });
    assert.equal(asTagSet(s), s);
  });
});
