/**
 * Shared helpers for tests that check CPU shares against ground truth.
 */
import type { TagsProfile, WindowInfo } from '../../src/index.js';

/**
 * CPU time of the calling thread in ms. CPU time, not wall time: on a busy
 * machine a spin measured by the clock includes time the thread was not even
 * running, and the ground truth would be wrong, not the profiler.
 * `process.threadCpuUsage` exists from Node 23.9; before that the process's
 * CPU (`process.cpuUsage`) is close enough around a synchronous burst.
 */
const threadCpu: () => { user: number; system: number } =
  (process as unknown as { threadCpuUsage?: () => { user: number; system: number } }).threadCpuUsage?.bind(process) ??
  process.cpuUsage.bind(process);

export function cpuNowMs(): number {
  const u = threadCpu();
  return (u.user + u.system) / 1000;
}

/** Spins until the thread has used `ms` of CPU time. */
export function burn(ms: number): number {
  const end = cpuNowMs() + ms;
  let x = 0;
  while (cpuNowMs() < end) {
    for (let i = 0; i < 200; i++) x = (x * 31 + 7) % 1_000_003;
  }
  return x;
}

/** The CPU time (ms) a synchronous burst used: the ground truth the tests compare to. */
export function timed(fn: () => void): number {
  const t0 = cpuNowMs();
  fn();
  return cpuNowMs() - t0;
}

/** Ground-truth accumulator: ms of burst per label. */
export class GroundTruth {
  readonly ms = new Map<string, number>();
  add(label: string, ms: number): void {
    this.ms.set(label, (this.ms.get(label) ?? 0) + ms);
  }
  /** Each label's share of the summed bursts. */
  shares(): Map<string, number> {
    let total = 0;
    for (const v of this.ms.values()) total += v;
    const out = new Map<string, number>();
    for (const [k, v] of this.ms) out.set(k, total > 0 ? v / total : 0);
    return out;
  }
}

/**
 * The tolerance for a share `p` measured from `n` samples: `z` standard errors
 * of a binomial proportion, plus `slack` for CPU around the bursts that the
 * ground truth does not time (routing, parsing, scheduling).
 */
export function shareTolerance(p: number, n: number, z = 4, slack = 0.03): number {
  return z * Math.sqrt(Math.max(p * (1 - p), 0.01) / Math.max(n, 1)) + slack;
}

/** Collects what processors receive, for assertions. */
export class Recorder {
  readonly windows: Array<{ profiles: TagsProfile[]; window: WindowInfo }> = [];
  readonly processor = (profiles: TagsProfile[], window: WindowInfo): void => {
    this.windows.push({ profiles, window });
  };

  /** CPU ns and samples summed per key over every window received. */
  totals(): Map<string, { value: number; samples: number }> {
    const m = new Map<string, { value: number; samples: number }>();
    for (const w of this.windows) {
      for (const p of w.profiles) {
        const t = m.get(p.key) ?? { value: 0, samples: 0 };
        t.value += p.value;
        t.samples += p.samples;
        m.set(p.key, t);
      }
    }
    return m;
  }

  /**
   * Shares among the given keys only (untagged CPU and other keys left out),
   * with the samples behind them: comparable to `GroundTruth.shares()`.
   */
  sharesAmong(keys: string[]): { shares: Map<string, number>; samples: number } {
    const t = this.totals();
    let total = 0;
    let samples = 0;
    for (const k of keys) {
      total += t.get(k)?.value ?? 0;
      samples += t.get(k)?.samples ?? 0;
    }
    const shares = new Map<string, number>();
    for (const k of keys) shares.set(k, total > 0 ? (t.get(k)?.value ?? 0) / total : 0);
    return { shares, samples };
  }
}

/** Asserts every measured share is within the sample-count tolerance of the truth; returns the report. */
export function compareShares(truth: Map<string, number>, measured: Map<string, number>, samples: number, slack = 0.03): { ok: boolean; report: string; maxError: number } {
  let ok = true;
  let maxError = 0;
  const lines: string[] = [];
  for (const [k, p] of truth) {
    const m = measured.get(k) ?? 0;
    const tol = shareTolerance(p, samples, 4, slack);
    const err = Math.abs(m - p);
    maxError = Math.max(maxError, err);
    if (err > tol) ok = false;
    lines.push(`${k}: truth ${(p * 100).toFixed(1)}% measured ${(m * 100).toFixed(1)}% (error ${(err * 100).toFixed(1)} pp, tolerance ${(tol * 100).toFixed(1)} pp)`);
  }
  return { ok, report: `${samples} samples\n` + lines.join('\n'), maxError };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
