import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { ErrorCodes, newProfiler, tag } from '../src/index.js';
import { createLogProcessor } from '../src/processors/log.js';
import { MemoryLogger } from './helpers/logger.js';

const QUIET = { info() {}, warn() {}, error() {} };
const noop = (): void => {};

describe('errors a user can catch carry a REQPROF_ERR_* code', () => {
  test('engine "cped" on a runtime without AsyncContextFrame is rejected by newProfiler itself, with REQPROF_ERR_ENGINE_UNSUPPORTED', () => {
    const major = Number(process.versions.node.split('.')[0]);
    // Node 24+ has AsyncContextFrame on by default: turn it off to be such a runtime.
    const flags = major >= 24 ? ['--no-async-context-frame'] : [];
    const script = `
      import { newProfiler } from ${JSON.stringify(new URL('../src/index.ts', import.meta.url).href)};
      try {
        newProfiler(() => {}, 0, 1000, { engine: 'cped' });
        console.log(JSON.stringify({ threw: false }));
      } catch (e) {
        console.log(JSON.stringify({ threw: true, name: e.name, code: e.code, message: e.message }));
      }`;
    // Node 22 runs the CPED path only with --experimental-async-context-frame: the child goes without it.
    const nodeOptions = (process.env['NODE_OPTIONS'] ?? '').replace(/--experimental-async-context-frame/g, '');
    const r = spawnSync(process.execPath, [...flags, '--import', 'tsx', '--input-type=module', '-e', script],
      { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: nodeOptions } });
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.equal(out.threw, true, 'newProfiler accepted engine "cped" without AsyncContextFrame');
    assert.equal(out.code, 'REQPROF_ERR_ENGINE_UNSUPPORTED');
    assert.equal(out.name, 'RangeError');
    assert.match(out.message, /"engine"/);
    assert.match(out.message, /auto/);
  });

  test('tag(tags, "notfn") is a TypeError with REQPROF_ERR_INVALID_ARGUMENT', () => {
    assert.throws(() => tag({ a: '1' }, 'notfn' as never),
      (e: any) => e instanceof TypeError && (e as any).code === 'REQPROF_ERR_INVALID_ARGUMENT' && /fn must be a function/.test(e.message));
  });

  test('createLogProcessor without a logger is a TypeError with REQPROF_ERR_INVALID_OPTION', () => {
    assert.throws(() => createLogProcessor(undefined as never), (e: any) => e instanceof TypeError && (e as any).code === ErrorCodes.INVALID_OPTION);
  });

  test('an unknown option name (windowMs among the positional options) is an error naming the known options', () => {
    assert.throws(() => newProfiler(noop, 0, 1000, { windowMs: 5000 } as never),
      (e: any) => e instanceof TypeError && (e as any).code === ErrorCodes.INVALID_OPTION &&
        /unknown option "windowMs"/.test(e.message) && /samplingIntervalMicros/.test(e.message) && /maxTagSets/.test(e.message));
  });

  test('an unknown option name in the options-object form is an error too, naming the known ones', () => {
    assert.throws(() => newProfiler({ processors: [noop], window: 5000 } as never),
      (e: any) => e instanceof TypeError && (e as any).code === ErrorCodes.INVALID_OPTION && /unknown option "window"/.test(e.message) && /windowMs/.test(e.message));
  });
});

describe('newProfiler: positional (Kitex) and options-object forms', () => {
  test('newProfiler(fn, 5000) is Kitex\'s form: a 5 s interval gap, windows of the default 30 s', () => {
    const p = newProfiler(noop, 5000, undefined, { logger: QUIET });
    assert.equal(p.intervalMs, 5000);
    assert.equal(p.windowMs, 30_000);
  });

  test('newProfiler({ processors, windowMs, intervalMs, ...options }) names what each number is', () => {
    const p = newProfiler({ processors: [noop], windowMs: 5000, intervalMs: 1000, samplingIntervalMicros: 1000, logger: QUIET });
    assert.equal(p.windowMs, 5000);
    assert.equal(p.intervalMs, 1000);
    assert.equal(p.samplingIntervalMicros, 1000);
    const d = newProfiler({ windowMs: 2000, logger: QUIET });
    assert.equal(d.windowMs, 2000);
    assert.equal(d.intervalMs, 0);
    assert.throws(() => newProfiler({ windowMs: 5 }), (e: any) => e instanceof RangeError && /"windowMs"/.test(e.message));
    assert.throws(() => newProfiler({ processors: 'log' as never }), (e: any) => e instanceof TypeError && /"processors"/.test(e.message));
  });

  test('at start the profiler logs once, in words, what it will do', async () => {
    const logger = new MemoryLogger();
    const p = newProfiler({ processors: [noop], windowMs: 30_000, intervalMs: 0, logger });
    void p.run();
    await p.stop();
    const start = logger.records.filter((r) => /windows of/.test(r.msg ?? ''));
    assert.equal(start.length, 1, JSON.stringify(logger.records));
    assert.match(start[0]!.msg!, /windows of 30 s back to back at 100 Hz, (cped|async-hooks) path/);

    const gap = new MemoryLogger();
    const q = newProfiler(noop, 5000, 10_000, { logger: gap, samplingIntervalMicros: 1000 });
    void q.run();
    await q.stop();
    assert.match(gap.records.find((r) => /windows of/.test(r.msg ?? ''))!.msg!, /windows of 10 s every 15 s \(sampler off 5 s between\) at 1000 Hz/);
  });
});
