// Issue 12 items 1, 3 and 9 as a user meets them, through the public API only.
// Windows end through the test seam (a manual clock), never after so many ms.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { newProfiler, tag, type TagsProfile, type WindowInfo } from '../../src/index.js';
import { countFinishedRequest, enableRequestCounting } from '../../src/request-counter.js';
import { currentTags } from '../../src/context.js';
import { loopOf } from '../../src/loop/test-seam.js';
import { Recorder, burn, sleep } from '../helpers/cpu.js';
import { MemoryLogger } from '../helpers/logger.js';

const fast = { samplingIntervalMicros: 1000 };

/** Resolves once `cond()` holds (polled); fails after a generous 30 s so a regression fails rather than hangs. */
async function until(cond: () => boolean, what: string): Promise<void> {
  const giveUp = Date.now() + 30_000;
  while (!cond()) {
    if (Date.now() > giveUp) assert.fail(`never happened: ${what}`);
    await sleep(5);
  }
}

describe('issue 12 item 1: pause() during a window sum', () => {
  test('pause() asked by a processor resolves with the profiler paused and the partial window delivered', async () => {
    const rec = new Recorder();
    let pausing: Promise<void> | undefined;
    let p: ReturnType<typeof newProfiler> | undefined;
    const processor = (profiles: TagsProfile[], window: WindowInfo) => {
      rec.processor(profiles, window);
      pausing ??= p!.pause();
    };
    p = newProfiler(processor, 0, 200, fast);
    const seam = loopOf(p).useManualClock();
    const running = p.run();
    await seam.endWindow();
    assert.ok(pausing, 'the processor asked to pause');
    await pausing;
    const state = p.state;
    const reasons = rec.windows.map((w) => w.window.reason);
    await p.stop();
    await running;
    assert.equal(state, 'paused', 'pause() resolved with the profiler paused');
    assert.deepEqual(reasons, ['window', 'pause'], 'the window pause() ended was delivered before it resolved');
  });
});

describe('issue 12 item 1, from inside a processor', () => {
  test('a processor that awaits pause() is not waited for by it (no deadlock, no "still busy"), and gets the partial window once it returns', async () => {
    const logger = new MemoryLogger();
    const reasons: string[] = [];
    let p: ReturnType<typeof newProfiler> | undefined;
    let stateAfterPause: string | undefined;
    const processor = async (_profiles: TagsProfile[], window: WindowInfo) => {
      reasons.push(window.reason);
      if (reasons.length === 1) {
        await p!.pause();
        stateAfterPause = p!.state;
      }
    };
    p = newProfiler(processor, 0, 200, { ...fast, logger, flushTimeoutMs: 60_000 });
    const seam = loopOf(p).useManualClock();
    const running = p.run();
    await seam.endWindow();
    await until(() => stateAfterPause !== undefined, 'pause() resolved inside the processor');
    await until(() => reasons.length === 2, 'the pause window delivered');
    await p.stop();
    await running;
    assert.equal(stateAfterPause, 'paused');
    assert.deepEqual(reasons, ['window', 'pause']);
    assert.equal(logger.matching(/still busy/), 0);
  });
});

describe('issue 12 item 3: a processor whose promise never settles', () => {
  test('is logged once and later windows are still delivered to it; stop() does not wait for it again', async () => {
    const logger = new MemoryLogger();
    const rec = new Recorder();
    let calls = 0;
    const neverSettles = () => { calls++; return { then() {} } as unknown as Promise<void>; };
    // Each call is bounded at max(flushTimeoutMs, window + interval) = 100 ms.
    const p = newProfiler([neverSettles, rec.processor], 0, 100, { ...fast, logger, flushTimeoutMs: 50 });
    const seam = loopOf(p).useManualClock();
    const running = p.run();
    // One window at a time (windows arriving while a call is pending are merged into one delivery).
    for (let i = 1; i <= 3; i++) {
      await seam.endWindow();
      await until(() => calls >= i, `delivery ${i} to the hung processor`);
    }
    // Known to hang: stop() hands it the last window without waiting for it.
    await p.stop();
    await running;
    assert.ok(calls >= 3, `${calls} deliveries reached the hung processor`);
    assert.equal(rec.windows.length, 4, 'the other processor got every window');
    assert.equal(logger.matching(/did not settle/), 1, 'logged once (rate-limited)');
    assert.equal(logger.matching(/still busy/), 0, 'stop() did not wait for a processor already known to hang');
  });
});

describe('issue 12 item 9: requests are counted only while a window is open', () => {
  test('requests finished during a pause are not counted into the next window', async () => {
    enableRequestCounting();
    const rec = new Recorder();
    const p = newProfiler(rec.processor, 0, 60_000, fast);
    const running = p.run();
    await p.pause();
    for (let i = 0; i < 10; i++) tag({ route: '/during-pause' }, () => countFinishedRequest(currentTags()));
    await p.resume();
    for (let i = 0; i < 3; i++) tag({ route: '/open' }, () => { burn(2); countFinishedRequest(currentTags()); });
    await p.stop();
    await running;
    const after = rec.windows[rec.windows.length - 1]!;
    assert.equal(after.window.reason, 'stop');
    assert.equal(after.profiles.find((x) => x.key === 'route=/open')?.requests, 3);
    assert.equal(after.profiles.find((x) => x.key === 'route=/during-pause'), undefined, 'requests finished while paused are not billed to the next window');
  });

  test('a second profiler that cannot start (REQPROF_ERR_SAMPLER_BUSY) leaves the running one counting', async () => {
    enableRequestCounting();
    const rec = new Recorder();
    const p = newProfiler(rec.processor, 0, 60_000, fast);
    const running = p.run();
    await assert.rejects(newProfiler(() => {}, 0, 60_000, { ...fast, logger: new MemoryLogger() }).run());
    for (let i = 0; i < 4; i++) tag({ route: '/served' }, () => countFinishedRequest(currentTags()));
    await p.stop();
    await running;
    assert.equal(rec.windows[0]!.profiles.find((x) => x.key === 'route=/served')?.requests, 4);
  });

  test('counting stops with the profiler: requests after stop() do not show up in a later profiler\'s window', async () => {
    enableRequestCounting();
    const first = newProfiler(() => {}, 0, 60_000, fast);
    const r1 = first.run();
    await first.stop();
    await r1;
    for (let i = 0; i < 5; i++) tag({ route: '/after-stop' }, () => countFinishedRequest(currentTags()));
    const rec = new Recorder();
    const second = newProfiler(rec.processor, 0, 60_000, fast);
    const r2 = second.run();
    await second.stop();
    await r2;
    assert.equal(rec.windows[0]!.profiles.find((x) => x.key === 'route=/after-stop'), undefined);
  });
});
