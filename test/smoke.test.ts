import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newProfiler } from 'reqprof';
test('smoke', () => { assert.equal(typeof newProfiler, 'function'); });
