import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newProfiler } from '../src/index.js';
test('smoke', () => { assert.equal(typeof newProfiler, 'function'); });
