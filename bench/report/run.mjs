// What seeing *where* the CPU goes costs at window end: topFunctions, a labelled
// profile (needs.profile), the pprof file writer and the HTML report, each next
// to per-tag totals alone, on bench/stall's synthetic service (50 routes x 10
// middle functions x 6 leaves, 4 tenants: 200 tag sets, ~3000 distinct stacks).
//
//   npm run build && node bench/report/run.mjs
//   BENCH_REPORT_WINDOW_MS (10000), BENCH_REPORT_HZ (100), BENCH_ROUNDS (3),
//   BENCH_REPORT_ITERATIONS (3000: a busy service, ~0.2 ms per leaf call), BENCH_VARIANTS (comma list)
//
// Each variant runs in its own child process (one sampler per process): a warm-up
// session of six 0.4 s windows, then one window measured.
// - "window-end block": from the start of the native stop (then the per-tag
//   sums, top functions, pprof serialization) until the last processor is
//   called; it includes the sync part of the processors before it. The sums run
//   in slices of at most 1 ms with the event loop handed back between them, so
//   this span is several turns of the loop, not one block: `npm run bench:stall`
//   measures the longest single block. "its CPU" is the process CPU time over the same
//   span: what the block costs on a machine where other processes compete.
// - "processor sync": the time inside the measured processor's call alone;
//   "processor total": until its promise settles (file writes and gzip run off the loop).
// - "stall": the longest event-loop delay (monitorEventLoopDelay, 1 ms resolution)
//   from 1 s before the rollover until the processors finished plus 0.3 s, and
//   "floor" the same over 1.5 s mid-window: on a busy machine these are noisy.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const WINDOW_MS = Number(process.env.BENCH_REPORT_WINDOW_MS ?? 10_000);
const HZ = Number(process.env.BENCH_REPORT_HZ ?? 100);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const ITERATIONS = Number(process.env.BENCH_REPORT_ITERATIONS ?? 3000);
const VARIANTS = ['totals', 'top5', 'profile', 'pprof', 'html', 'html+pprof'];

if (process.argv[2] === '--child') {
  await child(process.argv[3]);
} else {
  const pick = process.env.BENCH_VARIANTS?.split(',').map((s) => s.trim()).filter(Boolean);
  const variants = VARIANTS.filter((x) => !pick || pick.includes(x));
  const runs = new Map(variants.map((v) => [v, []]));
  // Rounds interleave the variants, so that a noisy minute hits them all alike.
  for (let round = 0; round < ROUNDS; round++) {
    for (const v of variants) {
      const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', v], { encoding: 'utf8', timeout: WINDOW_MS * 3 + 120_000 });
      if (r.status !== 0) {
        console.error(`variant ${v} failed:\n${r.stderr}`);
        process.exitCode = 1;
        continue;
      }
      runs.get(v).push(JSON.parse(r.stdout.trim().split('\n').at(-1)));
    }
  }
  console.log(`reqprof window-end cost: Node ${process.version}, ${HZ} Hz, ${WINDOW_MS / 1000} s window, bench/stall workload ` +
    `(200 tag sets, ${ITERATIONS} iterations per leaf call), medians of ${ROUNDS} round(s)\n`);
  const head = ['variant', 'window-end block ms', 'its CPU ms', 'processor sync ms', 'processor total ms', 'stall ms', 'floor ms', 'samples', 'distinct stacks', 'output'];
  const med = (xs) => {
    const s = xs.filter((x) => typeof x === 'number').sort((a, b) => a - b);
    return s.length === 0 ? '' : s[Math.floor((s.length - 1) / 2)];
  };
  const body = [...runs].filter(([, rs]) => rs.length > 0).map(([v, rs]) => [v, med(rs.map((r) => r.blockMs)), med(rs.map((r) => r.blockCpuMs)),
    med(rs.map((r) => r.syncMs)), med(rs.map((r) => r.totalMs)), med(rs.map((r) => r.stallMs)), med(rs.map((r) => r.floorMs)),
    med(rs.map((r) => r.samples)), med(rs.map((r) => r.stacks)), rs.at(-1).output ?? ''].map(String));
  const width = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) => cells.map((c, i) => c.padEnd(width[i])).join('  ');
  console.log(line(head));
  console.log(width.map((w) => '-'.repeat(w)).join('  '));
  for (const b of body) console.log(line(b));
}

async function child(variant) {
  // Time the sampler's window end (same module instance as the one reqprof loads).
  const { SamplerBase } = await import('../../dist/esm/engine/sampler.js');
  let collectStart = 0;
  let collectCpu = process.cpuUsage();
  const collect = SamplerBase.prototype.collect;
  SamplerBase.prototype.collect = function timedCollect(...args) {
    collectStart = performance.now();
    collectCpu = process.cpuUsage();
    return collect.apply(this, args);
  };
  const { newProfiler, tag } = await import('reqprof');
  const { htmlReportProcessor } = await import('reqprof/html-report');
  const { pprofProcessor } = await import('reqprof/pprof');
  const { drive } = await import('../stall/workload.mjs');
  const out = mkdtempSync(join(tmpdir(), 'reqprof-bench-report-'));

  let delivered;
  let onDelivered;
  const timings = { sync: 0, total: 0 };
  let seen;
  let windowsSeen = 0;
  /** Times the processor call (sync part) and its promise (total). */
  const timed = (p) => Object.assign((profiles, window) => {
    const t0 = performance.now();
    let r;
    try {
      r = p(profiles, window);
    } finally {
      timings.sync += performance.now() - t0;
    }
    return Promise.resolve(r).then(() => {
      timings.total += performance.now() - t0;
    });
  }, { needs: p.needs });
  const last = Object.assign((profiles, window) => {
    windowsSeen++;
    // Only the session's first window: stop() delivers a short partial one after it.
    if (seen !== undefined) return;
    const blockMs = performance.now() - collectStart;
    const cpu = process.cpuUsage(collectCpu);
    const blockCpuMs = (cpu.user + cpu.system) / 1000;
    const stacks = window.profiles?.[0] ? new Set(window.profiles[0].sample.map((s) => s.locationId.join(','))).size : undefined;
    seen = { blockMs: round(blockMs), blockCpuMs: round(blockCpuMs), samples: window.samples, stacks, tagSets: profiles.length };
    // After the other processors of this window (they run in order, each awaited by its own delivery).
    setTimeout(() => onDelivered(), 0);
  }, { needs: { profile: variant === 'profile' } });

  const htmlFile = join(out, 'report.html');
  const pprofDir = join(out, 'pprof');
  const processors = [];
  if (variant.includes('html')) processors.push(timed(htmlReportProcessor({ file: htmlFile })));
  if (variant.includes('pprof')) processors.push(timed(pprofProcessor({ dir: pprofDir })));
  const options = { samplingIntervalMicros: Math.round(1e6 / HZ), ...(variant === 'top5' ? { topFunctions: 5 } : {}) };

  const load = drive({ iterations: ITERATIONS, wrap: (tags, fn) => tag(tags, fn) });
  const session = async (windowMs, measure) => {
    delivered = new Promise((r) => (onDelivered = r));
    seen = undefined;
    timings.sync = 0;
    timings.total = 0;
    const profiler = newProfiler([...processors, last], 0, windowMs, options);
    const t0 = performance.now();
    void profiler.run();
    let result;
    if (measure) {
      const at = (ms) => new Promise((r) => setTimeout(r, Math.max(0, t0 + ms - performance.now())));
      await at(windowMs / 2);
      const floor = monitorEventLoopDelay({ resolution: 1 });
      floor.enable();
      await at(windowMs / 2 + 1500);
      floor.disable();
      await at(windowMs - 1000);
      const roll = monitorEventLoopDelay({ resolution: 1 });
      roll.enable();
      await delivered;
      // Let async processors (file writes) finish inside the measured span.
      while (timings.total === 0 && processors.length > 0) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 300));
      roll.disable();
      result = { stallMs: round(roll.max / 1e6), floorMs: round(floor.max / 1e6), syncMs: round(timings.sync), totalMs: round(timings.total) };
    } else {
      // Warm-up: enough windows for the processors' code to be optimised, as in a long-running service.
      while (windowsSeen < 6) await new Promise((r) => setTimeout(r, 20));
    }
    await profiler.stop();
    return result;
  };
  await session(400, false);
  await new Promise((r) => setTimeout(r, 300));
  const r = await session(WINDOW_MS, true);
  await load.stop();
  const outputs = [];
  try {
    outputs.push(`html ${kb(statSync(htmlFile).size)}`);
  } catch {}
  try {
    const files = readdirSync(pprofDir);
    outputs.push(`pprof ${kb(statSync(join(pprofDir, files.sort().at(-1))).size)} (gz)`);
  } catch {}
  rmSync(out, { recursive: true, force: true });
  console.log(JSON.stringify({ variant, ...r, ...seen, output: outputs.join(', ') }));
}

function round(x) {
  return Math.round(x * 10) / 10;
}

function kb(n) {
  return `${(n / 1024).toFixed(0)} KiB`;
}
