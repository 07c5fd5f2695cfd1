/**
 * A slow pprof processor receives several windows merged into one delivery:
 * each window still becomes its own file, named ({start}, {startMs}) and
 * stamped (the profile's time) with that window's own start, as another
 * processor saw the same windows one by one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Profile } from 'pprof-format';
import { newProfiler, tag, type TagsProfile, type WindowInfo } from '../../src/index.js';
import { pprofProcessor } from '../../src/processors/pprof.js';
import { Recorder, burn } from '../helpers/cpu.js';

test('pprof files of a merged delivery are named and stamped with each window\'s own start, not one window earlier', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'reqprof-pprof-merged-'));
  const recorder = new Recorder();
  const files: Array<{ file: string; window: WindowInfo }> = [];
  const pprof = pprofProcessor({ dir, fileName: 'cpu-{startMs}-{seq}.pb.gz', onFile: (file, window) => files.push({ file, window }) });
  // The first delivery waits until the recorder (delivered to on its own) has seen three windows:
  // by then the second and third are pending for this processor, merged into one delivery.
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const deliveries: WindowInfo[] = [];
  const slow = Object.assign(async (profiles: TagsProfile[], window: WindowInfo) => {
    deliveries.push(window);
    if (deliveries.length === 1) await gate;
    await pprof(profiles, window);
  }, { needs: pprof.needs });
  const profiler = newProfiler([recorder.processor, slow], 0, 150, { samplingIntervalMicros: 1000 });
  const running = profiler.run();
  try {
    // Keep the CPU busy under a tag, in short slices, until three windows have ended.
    while (recorder.windows.length < 3) {
      tag({ job: 'load' }, () => burn(5));
      await new Promise((r) => setImmediate(r));
    }
    open();
    await profiler.stop();
    await running;
  } finally {
    open();
  }
  try {
    const merged = deliveries.find((w) => w.windows >= 2);
    assert.ok(merged, `a merged delivery reached the slow processor: ${deliveries.map((w) => w.windows).join(', ')}`);
    const seen = recorder.windows.map((w) => w.window.start);
    const fromMerged = files.filter((f) => f.window === merged);
    assert.equal(fromMerged.length, merged.windows, 'one file per merged window');
    for (const [i, { file }] of fromMerged.entries()) {
      const startMs = Number(/^cpu-(\d+)-/.exec(basename(file))![1]);
      const profile = Profile.decode(gunzipSync(readFileSync(file)));
      // Epoch ns are past 2^53: divide in bigint (a decoded number is rounded to the ms).
      const t = profile.timeNanos;
      const stampMs = typeof t === 'bigint' ? Number(t / 1_000_000n) : Math.round(Number(t) / 1e6);
      // The merged delivery's windows are consecutive recorder windows, the first of them at merged.start.
      const first = seen.indexOf(merged.start);
      assert.ok(first >= 0, `the merged delivery starts where a window started (${merged.start}; windows: ${seen.join(', ')})`);
      assert.equal(startMs, seen[first + i], `file ${i + 1} of the merged delivery: {startMs} is its window's start`);
      assert.equal(stampMs, seen[first + i], `file ${i + 1} of the merged delivery: the profile's time is its window's start`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
