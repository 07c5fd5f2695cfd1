/**
 * bindDrivers()'s options: what a user sees for a mistake, and calling it twice.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bindDrivers, DRIVERS } from '../../src/bindings/index.js';

test('bindDrivers() with options that are not an object, or an unknown driver, throws a TypeError naming the accepted drivers', () => {
  assert.throws(() => bindDrivers(null as never), (e: Error & { code?: string }) =>
    e instanceof TypeError && e.code === 'REQPROF_ERR_INVALID_OPTION' && /options must be an object, got null/.test(e.message));
  assert.throws(() => bindDrivers({ drivers: ['mongodb' as never] }), (e: Error & { code?: string }) =>
    e instanceof TypeError && e.code === 'REQPROF_ERR_INVALID_OPTION' && e.message.includes(`'pg'`) && e.message.includes('mongodb'));
  assert.throws(() => bindDrivers({ drivers: 'pg' as never }), TypeError);
});

test('bindDrivers() twice returns the bindings in place; unbind() lets a later call bind again', () => {
  const first = bindDrivers({ drivers: ['pg'] });
  try {
    assert.equal(bindDrivers(), first);
    assert.deepEqual(first.drivers, ['pg']);
  } finally {
    first.unbind();
  }
  const again = bindDrivers();
  try {
    assert.notEqual(again, first);
    assert.deepEqual(again.drivers, DRIVERS);
  } finally {
    again.unbind();
  }
});
