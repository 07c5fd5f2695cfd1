import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { newProfiler, tag, lookup, untag, ErrorCodes, type TagsProfile, type WindowInfo } from '../src/index.js';
import { countFinishedRequest, enableRequestCounting } from '../src/request-counter.js';
import { currentTags } from '../src/context.js';
import { loopOf } from '../src/loop/test-seam.js';
import { Recorder, burn, sleep } from './helpers/cpu.js';
import { MemoryLogger } from './helpers/logger.js';

/** Windows end when a test says so (the loop's manual clock), never after so many ms. */
const manual = (p: ReturnType<typeof newProfiler>) => loopOf(p).useManualClock();
/** A turn of the event loop, for what happens "soon" (an unhandled rejection is reported after one). */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
/** Some CPU under a tag, enough for tens of samples at 1 kHz. */
const work = (ms = 200, tags = { job: 'load' }) => tag(tags, () => burn(ms));

const fast = { samplingIntervalMicros: 1000 };

describe('options', () => {
  const cases: Array<[string, () => unknown, RegExp, typeof TypeError | typeof RangeError]> = [
    ['negative interval', () => newProfiler(null, -1, 1000), /"interval".*between 0 and/, RangeError],
    ['NaN interval', () => newProfiler(null, NaN, 1000), /"interval"/, RangeError],
    ['zero window', () => newProfiler(null, 0, 0), /"window".*between 10 and/, RangeError],
    ['string window', () => newProfiler(null, 0, '1000' as never), /"window".*number/, TypeError],
    ['non-function processor', () => newProfiler('log' as never), /"processor".*function/, TypeError],
    ['non-function in a processor array', () => newProfiler([() => {}, 3 as never]), /"processor"\[1\]/, TypeError],
    ['empty processor array', () => newProfiler([]), /"processor".*non-empty/, TypeError],
    ['sampling interval too small', () => newProfiler(null, 0, 1000, { samplingIntervalMicros: 10 }), /"samplingIntervalMicros".*between 100 and 1000000/, RangeError],
    ['sampling interval not an integer', () => newProfiler(null, 0, 1000, { samplingIntervalMicros: 1500.5 }), /"samplingIntervalMicros"/, RangeError],
    ['window shorter than one sample', () => newProfiler(null, 0, 10, { samplingIntervalMicros: 20_000 }), /"window"/, RangeError],
    ['logger without methods', () => newProfiler(null, 0, 1000, { logger: {} as never }), /"logger"/, TypeError],
    ['unknown engine', () => newProfiler(null, 0, 1000, { engine: 'fast' as never }), /"engine"/, RangeError],
    ['maxTagSets zero', () => newProfiler(null, 0, 1000, { maxTagSets: 0 }), /"maxTagSets"/, RangeError],
    ['options not an object', () => newProfiler(null, 0, 1000, 5 as never), /options must be an object/, TypeError],
  ];
  for (const [name, make, re, Type] of cases) {
    test(`${name} throws a ${Type.name} naming the option and its range`, () => {
      assert.throws(make, (e: any) => e instanceof Type && re.test(e.message) && (e as { code?: string }).code === ErrorCodes.INVALID_OPTION);
    });
  }

  test('defaults are Kitex\'s: log processor, interval 0, 30 s windows, 100 Hz', () => {
    const p = newProfiler();
    assert.equal(p.intervalMs, 0);
    assert.equal(p.windowMs, 30_000);
    assert.equal(p.samplingIntervalMicros, 10_000);
    assert.equal(p.state, 'idle');
  });
});

describe('context API on the profiler', () => {
  test('lookup sees tags set by tag (the Go version cannot), inside and after awaits; undefined outside', async () => {
    const p = newProfiler();
    assert.equal(p.lookup('tenant'), undefined);
    await p.tag({ tenant: 'acme' }, async () => {
      assert.equal(p.lookup('tenant'), 'acme');
      await sleep(1);
      assert.equal(lookup('tenant'), 'acme');
      p.tag(['route', '/users']);
      assert.equal(p.lookup('route'), '/users');
      p.untag();
      assert.equal(p.lookup('tenant'), undefined);
    });
    assert.equal(p.lookup('tenant'), undefined);
  });

  test('nested tag calls accumulate and the inner value wins on a duplicate key', async () => {
    await tag({ a: '1', b: '1' }, async () => {
      await tag(['b', '2', 'c', '3'], async () => {
        await sleep(1);
        assert.deepEqual([lookup('a'), lookup('b'), lookup('c')], ['1', '2', '3']);
      });
      assert.equal(lookup('b'), '1');
    });
  });

  test('tag returns what the function returns, and rethrows what it throws', () => {
    assert.equal(tag({ a: '1' }, () => 42), 42);
    assert.throws(() => tag({ a: '1' }, () => { throw new Error('boom'); }), /boom/);
    assert.equal(lookup('a'), undefined);
    untag();
  });
});

describe('lifecycle', () => {
  test('stop() ends the current window early and delivers its partial data before resolving', async () => {
    const rec = new Recorder();
    const p = newProfiler(rec.processor, 0, 60_000, fast);
    manual(p);
    const running = p.run();
    work();
    await p.stop();
    assert.equal(rec.windows.length, 1);
    assert.equal(rec.windows[0]!.window.reason, 'stop');
    assert.ok(rec.windows[0]!.profiles.some((x) => x.key === 'job=load' && x.samples > 50));
    await running;
    assert.equal(p.state, 'stopped');
  });

  test('stop() asked while a window is being summed still ends and delivers the window sampled since', async () => {
    const rec = new Recorder();
    let p: ReturnType<typeof newProfiler> | undefined;
    let stopping: Promise<void> | undefined;
    // The first window's processor asks to stop: the next window was already sampling.
    const processor = (profiles: TagsProfile[], window: WindowInfo) => {
      rec.processor(profiles, window);
      stopping ??= p!.stop();
    };
    p = newProfiler(processor, 0, 200, fast);
    const seam = manual(p);
    const running = p.run();
    work();
    await seam.endWindow();
    await running;
    await stopping;
    assert.deepEqual(rec.windows.map((w) => w.window.reason), ['window', 'stop']);
    assert.equal(p.state, 'stopped');
  });

  test('stop() is idempotent, and run() after stop resolves at once without sampling', async () => {
    const rec = new Recorder();
    const p = newProfiler(rec.processor, 0, 1000, fast);
    manual(p);
    const running = p.run();
    await Promise.all([p.stop(), p.stop()]);
    await p.stop();
    await running;
    await p.run();
    assert.equal(rec.windows.length, 1);
  });

  test('run() twice returns the same promise', async () => {
    const p = newProfiler(() => {}, 0, 1000, fast);
    const a = p.run();
    assert.equal(p.run(), a);
    await p.stop();
  });

  test('stop() before run() makes the profiler stopped; run() then resolves without sampling', async () => {
    const rec = new Recorder();
    const p = newProfiler(rec.processor, 0, 100, fast);
    await p.stop();
    assert.equal(p.state, 'stopped');
    await p.run();
    assert.equal(rec.windows.length, 0);
  });

  test('pause() before run() makes run() start paused; resume() starts sampling', async () => {
    const rec = new Recorder();
    const p = newProfiler(rec.processor, 0, 150, fast);
    const seam = manual(p);
    await p.pause();
    const running = p.run();
    await seam.reach('paused');
    assert.equal(p.state, 'paused');
    assert.equal(rec.windows.length, 0);
    await p.resume();
    assert.equal(seam.phase, 'sampling');
    await seam.endWindow();
    assert.deepEqual(rec.windows.map((w) => w.window.reason), ['window']);
    await p.stop();
    await running;
  });

  test('pause() delivers the partial window; resume() continues; stop() while paused resolves (no deadlock)', async () => {
    const rec = new Recorder();
    const p = newProfiler(rec.processor, 0, 60_000, fast);
    manual(p);
    const running = p.run();
    work();
    await p.pause();
    assert.equal(rec.windows.length, 1);
    assert.equal(rec.windows[0]!.window.reason, 'pause');
    assert.ok(rec.windows[0]!.profiles.some((x) => x.key === 'job=load'));
    assert.equal(p.state, 'paused');
    await p.pause(); // idempotent
    await p.resume();
    work();
    await p.pause();
    assert.equal(rec.windows.length, 2);
    await p.stop();
    await running;
    assert.equal(p.state, 'stopped');
  });

  test('interval 0 runs windows back to back: no CPU is lost between windows', async () => {
    const rec = new Recorder();
    const p = newProfiler(rec.processor, 0, 200, fast);
    const seam = manual(p);
    const running = p.run();
    for (let i = 0; i < 4; i++) {
      work(20);
      await seam.endWindow();
    }
    await p.stop();
    await running;
    assert.deepEqual(rec.windows.map((w) => w.window.reason), ['window', 'window', 'window', 'window', 'stop']);
    for (let i = 1; i < rec.windows.length; i++) {
      assert.equal(rec.windows[i]!.window.start, rec.windows[i - 1]!.window.end, 'each window starts where the last ended');
    }
  });

  test('interval > 0 leaves the sampler off between windows and scales values by (interval + window) / window', async () => {
    const rec = new Recorder();
    const p = newProfiler(rec.processor, 300, 200, fast);
    const seam = manual(p);
    const running = p.run();
    work(50);
    await seam.endWindow();
    assert.equal(seam.phase, 'gap');
    // CPU burned in the gap is not sampled: no window holds it.
    const gapStart = Date.now();
    work(100, { job: 'in-gap' });
    const gapEnd = Date.now();
    await seam.endGap();
    work(50);
    await seam.endWindow();
    await p.stop();
    await running;
    const full = rec.windows.filter((w) => w.window.reason === 'window');
    assert.equal(full.length, 2);
    assert.ok(full[1]!.window.start - full[0]!.window.end >= gapEnd - gapStart, 'the gap lies between the windows');
    assert.ok(rec.windows.every((w) => w.profiles.every((x) => x.key !== 'job=in-gap')), 'nothing sampled in the gap');
    assert.ok(full.every((w) => w.profiles.some((x) => x.key === 'job=load')));
    assert.equal(full[0]!.window.scale, 2.5);
  });

  test('a second running profiler gets REQPROF_ERR_SAMPLER_BUSY, the first keeps running, and no crash', async () => {
    const rec = new Recorder();
    const logger = new MemoryLogger();
    const first = newProfiler(rec.processor, 0, 200, fast);
    const second = newProfiler(() => {}, 0, 200, { ...fast, logger });
    const seam = manual(first);
    const running = first.run();
    await assert.rejects(second.run(), (e: any) => e.code === ErrorCodes.SAMPLER_BUSY);
    assert.equal(logger.matching(/could not run/), 1, 'the failure is also logged');
    await seam.endWindow();
    assert.equal(first.state, 'running');
    await first.stop();
    await running;
    assert.ok(rec.windows.length >= 1);
  });

  test('void profiler.run() that fails never becomes an unhandled rejection', async () => {
    const first = newProfiler(() => {}, 0, 200, fast);
    manual(first);
    const running = first.run();
    let unhandled = false;
    const onUnhandled = () => { unhandled = true; };
    process.on('unhandledRejection', onUnhandled);
    void newProfiler(() => {}, 0, 200, { ...fast, logger: new MemoryLogger() }).run();
    await turn();
    await turn();
    process.off('unhandledRejection', onUnhandled);
    await first.stop();
    await running;
    assert.equal(unhandled, false);
  });

  test('another tool already running @datadog/pprof gets REQPROF_ERR_SAMPLER_BUSY', async () => {
    const { time } = await import('@datadog/pprof');
    time.start({ intervalMicros: 10_000, durationMillis: 1000, withContexts: true, collectCpuTime: true });
    try {
      await assert.rejects(newProfiler(() => {}, 0, 200, { ...fast, logger: new MemoryLogger() }).run(), (e: any) => e.code === ErrorCodes.SAMPLER_BUSY);
    } finally {
      time.stop();
    }
  });
});

describe('processor faults', () => {
  test('a processor that throws or rejects is logged, rate-limited, and later windows still arrive', async () => {
    const logger = new MemoryLogger();
    const rec = new Recorder();
    function throwing() { throw new Error('boom'); }
    async function rejecting() { throw new Error('async boom'); }
    const p = newProfiler([throwing, rejecting, rec.processor], 0, 100, { ...fast, logger });
    const seam = manual(p);
    const running = p.run();
    for (let i = 0; i < 4; i++) await seam.endWindow();
    await p.stop();
    await running;
    assert.equal(rec.windows.length, 5, `${rec.windows.length} windows delivered`);
    const errors = logger.records.filter((r) => r.level === 'error');
    assert.deepEqual(errors.map((r) => r.obj.processor).sort(), ['rejecting', 'throwing'], 'each failing processor logged once (rate-limited)');
  });

  test('a slow processor never runs twice at once; windows arriving meanwhile are merged and nothing is lost', async () => {
    const got: Array<{ profiles: TagsProfile[]; window: WindowInfo }> = [];
    let running = 0;
    let maxConcurrent = 0;
    const fastRec = new Recorder();
    // The slow processor finishes a call only when the test opens the gate.
    let openGate = () => {};
    async function slow(profiles: TagsProfile[], window: WindowInfo) {
      running++;
      maxConcurrent = Math.max(maxConcurrent, running);
      got.push({ profiles, window });
      await new Promise<void>((resolve) => { openGate = resolve; });
      running--;
    }
    const p = newProfiler([slow, fastRec.processor], 0, 100, fast);
    const seam = manual(p);
    const run = p.run();
    for (let i = 0; i < 4; i++) {
      work(20);
      await seam.endWindow(); // the first reaches slow at once; the next three wait, merged
    }
    assert.equal(got.length, 1);
    openGate();
    while (got.length < 2) await turn();
    openGate();
    work(20);
    const stopping = p.stop();
    while (got.length < 3) await turn();
    openGate();
    await stopping;
    await run;
    assert.equal(maxConcurrent, 1);
    assert.ok(got.some((g) => g.window.windows > 1), 'some deliveries hold merged windows');
    const windowsSeen = got.reduce((s, g) => s + g.window.windows, 0);
    assert.equal(windowsSeen, fastRec.windows.length, 'every window reached the slow processor too');
    const sum = (list: Array<{ profiles: TagsProfile[] }>) => list.reduce((s, g) => s + g.profiles.reduce((t, x) => t + x.value, 0), 0);
    assert.ok(Math.abs(sum(got) - sum(fastRec.windows)) < 1e-3 * sum(fastRec.windows), 'merged CPU equals the CPU of the windows');
  });

  test('stop() resolves within flushTimeoutMs even when a processor hangs forever', async () => {
    const logger = new MemoryLogger();
    const hang = () => new Promise<void>(() => {});
    // Windows of 60 s: each call is bounded at max(flushTimeoutMs, window), so stop() meets the hang first.
    const p = newProfiler(hang, 0, 60_000, { ...fast, logger, flushTimeoutMs: 300 });
    const seam = manual(p);
    // reqprof's own timers never hold the process open; the test's work does.
    const keepAlive = setInterval(() => {}, 1000);
    const running = p.run();
    await seam.endWindow();
    await p.stop(); // resolves although the processor never does
    await running;
    clearInterval(keepAlive);
    assert.equal(logger.matching(/still busy/), 1, 'the hung processor is named in a warning');
  });
});

describe('requests per tag set', () => {
  test('requests counted by integrations appear as `requests` on each TagsProfile, including cheap tag sets with no samples', async () => {
    enableRequestCounting();
    const rec = new Recorder();
    const p = newProfiler(rec.processor, 0, 60_000, fast);
    const running = p.run();
    for (let i = 0; i < 30; i++) {
      await tag({ route: '/heavy' }, async () => { burn(5); await sleep(0); countFinishedRequest(currentTags()); });
    }
    for (let i = 0; i < 7; i++) tag({ route: '/cheap' }, () => countFinishedRequest(currentTags()));
    await p.stop();
    await running;
    const { profiles } = rec.windows[0]!;
    const heavy = profiles.find((x) => x.key === 'route=/heavy')!;
    const cheap = profiles.find((x) => x.key === 'route=/cheap')!;
    assert.equal(heavy.requests, 30);
    assert.equal(cheap.requests, 7);
    assert.ok(profiles.every((x) => typeof x.requests === 'number'), 'every tag set says how many requests it served');
    const cpuPerRequestMs = heavy.value / heavy.requests! / 1e6;
    assert.ok(cpuPerRequestMs > 2.5, `CPU per /heavy request: ${cpuPerRequestMs.toFixed(2)} ms`);
  });
});
